/*
 * Installing filters on threads, and reporting a forbidden system call; see
 * thread_filter.h.
 *
 * The SIGSYS handler runs in whatever thread trapped, under that thread's
 * filter, so it only calls write(2) and _exit(2) (exit_group), which every
 * list allows.  It reads the active policy (set before any filter exists and
 * never changed while filters run) and the thread's role (thread-local, set
 * when the thread installed its filter).
 */
#include "vmm/seccomp/thread_filter.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vmm/seccomp/seccomp_priv.h"

/* Process-wide, like the log sink: the filters a thread installs. */
static const struct seccomp_policy *_Atomic seccomp_active;
/* The role whose filter the calling thread installed last, for the report. */
static __thread const char *seccomp_thread_role = "unfiltered";

static size_t put_str(char *buf, size_t size, size_t n, const char *s)
{
	while (*s && n + 1 < size)
		buf[n++] = *s++;
	return n;
}

static size_t put_uint(char *buf, size_t size, size_t n, unsigned long v)
{
	char digits[24];
	int i = 0;

	do {
		digits[i++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (i && n + 1 < size)
		buf[n++] = digits[--i];
	return n;
}

size_t seccomp_trap_format(char *buf, size_t size, const char *role, int nr, const char *name)
{
	size_t n = 0;

	if (!size)
		return 0;
	n = put_str(buf, size, n, "kiln: seccomp: the ");
	n = put_str(buf, size, n, role);
	n = put_str(buf, size, n, " thread made a forbidden system call ");
	n = put_str(buf, size, n, name);
	n = put_str(buf, size, n, " (");
	n = put_uint(buf, size, n, nr < 0 ? 0 : (unsigned long)nr);
	n = put_str(buf, size, n, "); exiting with code ");
	n = put_uint(buf, size, n, SECCOMP_EXIT_BAD_SYSCALL);
	n = put_str(buf, size, n, "\n");
	buf[n] = '\0';
	return n;
}

const char *seccomp_syscall_name(int nr)
{
	const struct seccomp_policy *pol = atomic_load(&seccomp_active);

	if (!pol || nr < 0 || nr >= SECCOMP_NAMES_MAX)
		return "?";
	return pol->names[nr];
}

static void seccomp_sigsys(int sig, siginfo_t *si, void *uc)
{
	char line[160];
	size_t n;

	(void)sig;
	(void)uc;
	n = seccomp_trap_format(line, sizeof(line), seccomp_thread_role, si->si_syscall,
				seccomp_syscall_name(si->si_syscall));
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nowhere else to say it */
	}
	_exit(SECCOMP_EXIT_BAD_SYSCALL);
}

int seccomp_trap_install(void)
{
	struct sigaction sa = { .sa_sigaction = seccomp_sigsys, .sa_flags = SA_SIGINFO };

	sigemptyset(&sa.sa_mask);
	return sigaction(SIGSYS, &sa, NULL) ? -errno : 0;
}

int seccomp_activate(const struct seccomp_policy *pol)
{
	/* Installing a filter without CAP_SYS_ADMIN needs no_new_privs; kiln
	 * never execs, so it costs nothing. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	atomic_store(&seccomp_active, pol);
	return 0;
}

void seccomp_deactivate(void)
{
	atomic_store(&seccomp_active, NULL);
	seccomp_thread_role = "unfiltered";
}

int seccomp_thread_install(enum seccomp_role role)
{
	const struct seccomp_policy *pol = atomic_load(&seccomp_active);
	struct sock_fprog prog;

	if (!pol)
		return 0;
	if ((unsigned int)role >= SECCOMP_ROLE_NR || !pol->prog[role])
		return -EINVAL;
	prog = (struct sock_fprog){ .len = pol->prog_len[role], .filter = pol->prog[role] };
	/* Set before the filter so a trap right after names the role. */
	seccomp_thread_role = seccomp_role_name(role);
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog))
		return -errno;
#ifdef KILN_SECCOMP_TEST_HOOKS
	if (pol->test_violate == (int)role)
		syscall(SYS_getpgid, 0);
#endif
	return 0;
}

struct run_as {
	enum seccomp_role role;
	int (*fn)(void *);
	void *arg;
	int ret;
};

static void *run_as_thread(void *p)
{
	struct run_as *ra = p;

	ra->ret = seccomp_thread_install(ra->role);
	if (!ra->ret)
		ra->ret = ra->fn(ra->arg);
	return NULL;
}

int seccomp_run_as(enum seccomp_role role, int (*fn)(void *), void *arg)
{
	struct run_as ra = { .role = role, .fn = fn, .arg = arg };
	pthread_t t;
	int ret;

	ret = pthread_create(&t, NULL, run_as_thread, &ra);
	if (ret)
		return -ret;
	pthread_join(t, NULL);
	return ra.ret;
}
