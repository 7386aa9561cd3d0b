/* Runs a check in a forked child under a seccomp filter (tests only): the
 * test process itself must stay unfiltered for criterion to report. */
#ifndef KILN_TEST_SECCOMP_UTIL_H
#define KILN_TEST_SECCOMP_UTIL_H

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmm/seccomp/thread_filter.h"

struct child_result {
	int status;      /* from waitpid */
	char err[512];   /* what the child wrote to stderr */
};

/* Forks; the child installs the SIGSYS handler, activates pol, installs
 * role's filter (unless role < 0), runs fn and exits with its return value. */
static inline struct child_result run_filtered(const struct seccomp_policy *pol, int role,
					       int (*fn)(void))
{
	struct child_result r = { .status = -1 };
	int pipefd[2];
	pid_t pid;
	ssize_t n, got = 0;

	if (pipe(pipefd))
		return r;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		int ret;

		dup2(pipefd[1], STDERR_FILENO);
		close(pipefd[0]);
		if (seccomp_trap_install() || seccomp_activate(pol))
			_exit(90);
		if (role >= 0 && seccomp_thread_install((enum seccomp_role)role))
			_exit(91);
		ret = fn();
		_exit(ret);
	}
	close(pipefd[1]);
	while (got < (ssize_t)sizeof(r.err) - 1 &&
	       (n = read(pipefd[0], r.err + got, sizeof(r.err) - 1 - (size_t)got)) > 0)
		got += n;
	r.err[got] = '\0';
	close(pipefd[0]);
	waitpid(pid, &r.status, 0);
	return r;
}

static inline int exit_code(const struct child_result *r)
{
	return WIFEXITED(r->status) ? WEXITSTATUS(r->status) : -1;
}

#endif
