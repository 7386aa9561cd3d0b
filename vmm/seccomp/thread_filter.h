/*
 * Per-thread seccomp filters for kiln's three thread roles.
 *
 * A policy holds one compiled BPF allow-list per role (API thread, VMM
 * event-loop thread, vCPU threads), built once in main() before any thread
 * exists, from kiln's built-in lists (seccomp_rules.c) or from a user's file
 * (seccomp_file.c).  Building needs libseccomp; installing does not: each
 * thread installs its program with one seccomp(2) call, so a thread that is
 * already filtered can stack its own list on the one it inherited.
 *
 * Inheritance decides the shape of the lists: a thread keeps the filters of
 * the thread that created it.  vCPU threads are created by the VMM thread
 * (InstanceStart arrives while the VMM thread is filtered), so they run under
 * vmm AND vcpu: the vcpu rules are added to the vmm list (and seccomp(2)
 * itself, for the stacking), and a vCPU thread's effective list is the
 * intersection, i.e. the vcpu list.  The API thread is created from an
 * unfiltered thread and runs under the api list alone.
 *
 * A forbidden call does not kill the process outright: the default action is
 * SECCOMP_RET_TRAP, whose SIGSYS handler (seccomp_trap_install) writes one line
 * naming the thread role and the system call to stderr, with async-signal-safe
 * writes only, and ends the process with exit code SECCOMP_EXIT_BAD_SYSCALL
 * (148, Firecracker's).  A plain SECCOMP_RET_KILL_PROCESS would end it by
 * SIGSYS (exit 159 in a shell) with no word of which call it was.  The handler
 * only calls write(2) and exit_group(2); every list allows both (and
 * rt_sigreturn), so the report itself can never trap.
 *
 * Process-wide state, as for the logger: one active policy (read by every
 * thread that installs a filter, and by the SIGSYS handler).  It is set once
 * before threads start and cleared by seccomp_deactivate() for tests.
 *
 * Test hook: when built with KILN_SECCOMP_TEST_HOOKS (the build's tests are
 * enabled), KILN_TEST_SECCOMP_VIOLATE=api|vmm|vcpu in kiln's environment at
 * start-up makes that thread call getpgid(2), which no list allows, right
 * after it installed its filter.  It gives nothing to a guest or API client:
 * only whoever starts kiln sets its environment (the jailer clears it).
 */
#ifndef KILN_SECCOMP_THREAD_FILTER_H
#define KILN_SECCOMP_THREAD_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/compiler.h"

enum seccomp_role {
	SECCOMP_ROLE_API = 0,
	SECCOMP_ROLE_VMM,
	SECCOMP_ROLE_VCPU,
	SECCOMP_ROLE_NR,
};

/* Exit code of a process that made a forbidden system call (Firecracker's). */
#define SECCOMP_EXIT_BAD_SYSCALL 148
#define SECCOMP_ERR_MAX 256
/* Syscall numbers the SIGSYS handler can name (x86-64 has ~460). */
#define SECCOMP_NAMES_MAX 512

/* One argument check: (arg[index] & mask) <op> value, on 32 or 64 bits. */
enum seccomp_cmp_op {
	SECCOMP_CMP_EQ = 0, SECCOMP_CMP_NE, SECCOMP_CMP_LT, SECCOMP_CMP_LE,
	SECCOMP_CMP_GT, SECCOMP_CMP_GE, SECCOMP_CMP_MASKED_EQ,
};

struct seccomp_arg {
	uint8_t index;          /* 0..5 */
	bool dword;             /* compare the low 32 bits only */
	enum seccomp_cmp_op op;
	uint64_t value;
	uint64_t mask;          /* SECCOMP_CMP_MASKED_EQ only */
};

#define SECCOMP_RULE_ARGS_MAX 6

/* Allow syscall `name` when every argument check holds (none: always). */
struct seccomp_rule {
	const char *name;
	unsigned int nargs;
	struct seccomp_arg args[SECCOMP_RULE_ARGS_MAX];
};

/* What a role's filter does with a call outside its list. */
enum seccomp_default {
	SECCOMP_DEFAULT_TRAP = 0,      /* SIGSYS: logged, exit 148 (kiln's default) */
	SECCOMP_DEFAULT_KILL_PROCESS,  /* killed by SIGSYS, nothing logged */
	SECCOMP_DEFAULT_LOG,           /* allowed and logged by the kernel (audit) */
};

/* A role's list before compilation (what the built-in tables and a user's
 * file both produce). */
struct seccomp_list {
	enum seccomp_default on_violation;
	const struct seccomp_rule *rules;
	unsigned int nr_rules;
};

struct sock_filter;

struct seccomp_policy {
	struct sock_filter *prog[SECCOMP_ROLE_NR];
	unsigned short prog_len[SECCOMP_ROLE_NR];
	/* Syscall names for the SIGSYS handler, resolved at build time. */
	char names[SECCOMP_NAMES_MAX][24];
	/* Test hook (see above): the role that calls getpgid(0), or -1. */
	int test_violate;
};

const char *seccomp_role_name(enum seccomp_role role);

/* Builds the policy from kiln's built-in lists.  0 or -errno with err. */
int seccomp_policy_builtin(struct seccomp_policy *pol, char err[SECCOMP_ERR_MAX]) __must_check;

/* Builds the policy from three lists (api, vmm, vcpu) as described above: the
 * vcpu rules join the vmm list, and every list gets write, exit_group and
 * rt_sigreturn for the SIGSYS report.  Unknown syscall names fail with a
 * message naming them.  0 or -errno with err. */
int seccomp_policy_build(struct seccomp_policy *pol, const struct seccomp_list lists[SECCOMP_ROLE_NR],
			 char err[SECCOMP_ERR_MAX]) __must_check;

/* Builds the policy from a JSON filter file (format in seccomp_file.c and
 * SECURITY.md).  0 or -errno with a message naming the file, the role
 * and the field in err. */
int seccomp_policy_load_file(struct seccomp_policy *pol, const char *path,
			     char err[SECCOMP_ERR_MAX]) __must_check;

/* The same from JSON text already in memory (tests, fuzzing). */
int seccomp_policy_parse(struct seccomp_policy *pol, const char *json, size_t len,
			 char err[SECCOMP_ERR_MAX]) __must_check;

/* Frees the programs. */
void seccomp_policy_free(struct seccomp_policy *pol);

/* Installs the SIGSYS handler (before any filter).  0 or -errno. */
int seccomp_trap_install(void) __must_check;

/* Makes pol the process's policy and sets no_new_privs (needed to install a
 * filter without CAP_SYS_ADMIN; inherited by threads created afterwards).
 * pol must outlive every thread.  0 or -errno. */
int seccomp_activate(const struct seccomp_policy *pol) __must_check;

/* Forgets the active policy (filters already installed stay: tests fork). */
void seccomp_deactivate(void);

/* Installs the active policy's filter for role on the calling thread, then
 * runs the test hook.  0 when no policy is active (--no-seccomp), or -errno. */
int seccomp_thread_install(enum seccomp_role role) __must_check;

/* Runs fn(arg) on a new thread that first installed role's filter, waits for
 * it and returns its result (or -errno when the filter did not install).
 * Threads fn creates inherit the filter: this is how the API server's
 * libmicrohttpd thread gets the api list. */
int seccomp_run_as(enum seccomp_role role, int (*fn)(void *), void *arg) __must_check;

/* Names a syscall number with the active policy's table ("?" if unknown). */
const char *seccomp_syscall_name(int nr);

#endif
