/*
 * Compiling allow-lists into BPF with libseccomp; see thread_filter.h.
 *
 * libseccomp only runs here, in main() before any thread: each list becomes a
 * filter context, is exported as a BPF program into a memfd and read back, so
 * installing it later (seccomp_trap.c) is a single seccomp(2) call that needs
 * no allocation and no syscall the installing thread's inherited filter might
 * not allow.
 */
#include "vmm/seccomp/thread_filter.h"

#include <errno.h>
#include <linux/filter.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/seccomp/seccomp_priv.h"

static const char *const role_names[SECCOMP_ROLE_NR] = {
	[SECCOMP_ROLE_API] = "api", [SECCOMP_ROLE_VMM] = "vmm", [SECCOMP_ROLE_VCPU] = "vcpu",
};

const char *seccomp_role_name(enum seccomp_role role)
{
	return (unsigned int)role < SECCOMP_ROLE_NR ? role_names[role] : "?";
}

int seccomp_role_parse(const char *name)
{
	for (int i = 0; i < SECCOMP_ROLE_NR; i++)
		if (!strcmp(name, role_names[i]))
			return i;
	return -1;
}

/* Every list gets these: the SIGSYS handler's report and exit, and the return
 * from any signal handler (the vCPU kick).  Without them a trap would end in a
 * second trap inside the handler, i.e. a bare SIGSYS death. */
static const struct seccomp_rule always_allowed[] = {
	{ .name = "write" },
	{ .name = "exit_group" },
	{ .name = "rt_sigreturn" },
};

/* Sanitizer builds (ASan/UBSan, for tests only): the runtime's own calls,
 * from any thread: thread-exit clean-up (sigaltstack), error reports
 * (/proc/self/maps, getpid), and LeakSanitizer at exit, which stops the world
 * with a ptrace-ing clone.  Never part of a release build. */
#ifdef KILN_SANITIZER_RUNTIME
static const struct seccomp_rule sanitizer_rules[] = {
	{ .name = "sigaltstack" }, { .name = "prctl" }, { .name = "ptrace" }, { .name = "wait4" },
	{ .name = "waitid" }, { .name = "clone" }, { .name = "getdents" }, { .name = "getdents64" }, { .name = "openat" },
	{ .name = "open" }, { .name = "readlink" }, { .name = "readlinkat" }, { .name = "newfstatat" },
	{ .name = "fstat" }, { .name = "read" }, { .name = "pread64" }, { .name = "close" },
	{ .name = "lseek" }, { .name = "madvise" }, { .name = "mmap" }, { .name = "munmap" },
	{ .name = "mprotect" }, { .name = "sched_getaffinity" }, { .name = "sched_yield" },
	{ .name = "getpid" }, { .name = "gettid" }, { .name = "getppid" }, { .name = "tgkill" },
	{ .name = "kill" }, { .name = "rt_sigaction" }, { .name = "rt_sigprocmask" },
	{ .name = "prlimit64" }, { .name = "getrlimit" }, { .name = "exit" }, { .name = "futex" },
	{ .name = "uname" }, { .name = "nanosleep" }, { .name = "clock_nanosleep" },
	{ .name = "pipe2" }, { .name = "dup" }, { .name = "dup2" }, { .name = "dup3" },
};
#endif

/* The VMM list also lets a thread it creates (a vCPU) stack its own filter:
 * seccomp(SECCOMP_SET_MODE_FILTER, 0, prog) and nothing else seccomp(2) does. */
static const struct seccomp_rule stack_filter_rule = {
	"seccomp", 2,
	{ { .index = 0, .dword = true, .op = SECCOMP_CMP_EQ, .value = 1 /* SECCOMP_SET_MODE_FILTER */ },
	  { .index = 1, .dword = true, .op = SECCOMP_CMP_EQ, .value = 0 } },
};

static uint32_t default_action(enum seccomp_default d)
{
	switch (d) {
	case SECCOMP_DEFAULT_KILL_PROCESS: return SCMP_ACT_KILL_PROCESS;
	case SECCOMP_DEFAULT_LOG: return SCMP_ACT_LOG;
	default: return SCMP_ACT_TRAP;
	}
}

static int rule_add(scmp_filter_ctx ctx, const struct seccomp_rule *r, const char *role,
		    char err[SECCOMP_ERR_MAX])
{
	static const enum scmp_compare ops[] = {
		[SECCOMP_CMP_EQ] = SCMP_CMP_EQ, [SECCOMP_CMP_NE] = SCMP_CMP_NE,
		[SECCOMP_CMP_LT] = SCMP_CMP_LT, [SECCOMP_CMP_LE] = SCMP_CMP_LE,
		[SECCOMP_CMP_GT] = SCMP_CMP_GT, [SECCOMP_CMP_GE] = SCMP_CMP_GE,
		[SECCOMP_CMP_MASKED_EQ] = SCMP_CMP_MASKED_EQ,
	};
	struct scmp_arg_cmp cmp[SECCOMP_RULE_ARGS_MAX];
	int nr = seccomp_syscall_resolve_name(r->name);
	int ret;

	if (nr == __NR_SCMP_ERROR) {
		snprintf(err, SECCOMP_ERR_MAX, "%s: unknown system call '%s'", role, r->name);
		return -EINVAL;
	}
	if (r->nargs > SECCOMP_RULE_ARGS_MAX) {
		snprintf(err, SECCOMP_ERR_MAX, "%s: %s: more than %d argument checks", role, r->name,
			 SECCOMP_RULE_ARGS_MAX);
		return -EINVAL;
	}
	for (unsigned int i = 0; i < r->nargs; i++) {
		const struct seccomp_arg *a = &r->args[i];
		uint64_t mask = a->mask, value = a->value;

		if (a->index >= 6 || (unsigned int)a->op >= ARRAY_SIZE(ops)) {
			snprintf(err, SECCOMP_ERR_MAX, "%s: %s: bad argument check %u", role, r->name, i);
			return -EINVAL;
		}
		if (a->dword) {
			/* The low word only: equality as a masked compare (the
			 * kernel may leave junk in the upper half of an int
			 * argument); other ops on the value cut to 32 bits. */
			value = (uint32_t)value;
			if (a->op == SECCOMP_CMP_EQ)
				mask = 0xffffffffu;
			else
				mask = (uint32_t)mask;
		}
		if (a->op == SECCOMP_CMP_MASKED_EQ || (a->dword && a->op == SECCOMP_CMP_EQ))
			cmp[i] = (struct scmp_arg_cmp){ .arg = a->index, .op = SCMP_CMP_MASKED_EQ,
							.datum_a = mask, .datum_b = value };
		else
			cmp[i] = (struct scmp_arg_cmp){ .arg = a->index, .op = ops[a->op],
							.datum_a = value };
	}
	ret = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, r->nargs, cmp);
	/* -EEXIST: the same rule twice (e.g. vcpu rules folded into vmm). */
	if (ret && ret != -EEXIST) {
		snprintf(err, SECCOMP_ERR_MAX, "%s: %s: libseccomp refused the rule: %s", role, r->name,
			 strerror(-ret));
		return ret;
	}
	return 0;
}

static int rules_add(scmp_filter_ctx ctx, const struct seccomp_rule *rules, unsigned int n,
		     const char *role, char err[SECCOMP_ERR_MAX])
{
	for (unsigned int i = 0; i < n; i++) {
		int ret = rule_add(ctx, &rules[i], role, err);

		if (ret)
			return ret;
	}
	return 0;
}

/* Exports ctx as a BPF program into freshly allocated memory. */
static int export_prog(scmp_filter_ctx ctx, struct sock_filter **prog, unsigned short *len,
		       const char *role, char err[SECCOMP_ERR_MAX])
{
	struct stat st;
	ssize_t got;
	int fd, ret;

	fd = memfd_create("kiln-seccomp", MFD_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, SECCOMP_ERR_MAX, "%s: memfd_create: %s", role, strerror(-ret));
		return ret;
	}
	ret = seccomp_export_bpf(ctx, fd);
	if (!ret && fstat(fd, &st))
		ret = -errno;
	if (ret) {
		snprintf(err, SECCOMP_ERR_MAX, "%s: cannot export the filter: %s", role, strerror(-ret));
		goto out;
	}
	if (st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) ||
	    st.st_size / sizeof(struct sock_filter) > BPF_MAXINSNS) {
		snprintf(err, SECCOMP_ERR_MAX, "%s: the filter has %lld bytes of BPF (at most %d instructions)",
			 role, (long long)st.st_size, BPF_MAXINSNS);
		ret = -E2BIG;
		goto out;
	}
	*prog = malloc((size_t)st.st_size);
	if (!*prog) {
		ret = -ENOMEM;
		snprintf(err, SECCOMP_ERR_MAX, "%s: out of memory", role);
		goto out;
	}
	got = pread(fd, *prog, (size_t)st.st_size, 0);
	if (got != st.st_size) {
		ret = got < 0 ? -errno : -EIO;
		snprintf(err, SECCOMP_ERR_MAX, "%s: cannot read the filter back", role);
		free(*prog);
		*prog = NULL;
		goto out;
	}
	*len = (unsigned short)(st.st_size / sizeof(struct sock_filter));
out:
	close(fd);
	return ret;
}

static int build_role(struct seccomp_policy *pol, enum seccomp_role role,
		      const struct seccomp_list lists[SECCOMP_ROLE_NR], char err[SECCOMP_ERR_MAX])
{
	const char *name = seccomp_role_name(role);
	const struct seccomp_list *l = &lists[role];
	scmp_filter_ctx ctx = seccomp_init(default_action(l->on_violation));
	int ret;

	if (!ctx) {
		snprintf(err, SECCOMP_ERR_MAX, "%s: seccomp_init failed", name);
		return -ENOMEM;
	}
	/* no_new_privs is set once for the process (seccomp_activate), not by
	 * each load, and stacking needs no prctl. */
	ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (ret)
		snprintf(err, SECCOMP_ERR_MAX, "%s: seccomp_attr_set: %s", name, strerror(-ret));
	/* clone3 takes its flags in memory, out of a filter's sight: answer
	 * ENOSYS so glibc falls back to clone(2), whose flags the lists check.
	 * (A trap would not do: glibc blocks every signal around the call, and a
	 * blocked SIGSYS kills silently.) */
	if (!ret && (ret = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0)))
		snprintf(err, SECCOMP_ERR_MAX, "%s: cannot add the clone3 rule: %s", name, strerror(-ret));
	if (!ret)
		ret = rules_add(ctx, l->rules, l->nr_rules, name, err) ?:
		      rules_add(ctx, always_allowed, ARRAY_SIZE(always_allowed), name, err);
#ifdef KILN_SANITIZER_RUNTIME
	if (!ret)
		ret = rules_add(ctx, sanitizer_rules, ARRAY_SIZE(sanitizer_rules), name, err);
#endif
	if (!ret && role == SECCOMP_ROLE_VMM) {
		/* vCPU threads are born under this filter: let them do their work
		 * and stack theirs. */
		ret = rules_add(ctx, lists[SECCOMP_ROLE_VCPU].rules, lists[SECCOMP_ROLE_VCPU].nr_rules,
				name, err) ?:
		      rule_add(ctx, &stack_filter_rule, name, err);
	}
	if (!ret)
		ret = export_prog(ctx, &pol->prog[role], &pol->prog_len[role], name, err);
	seccomp_release(ctx);
	return ret;
}

int seccomp_policy_build(struct seccomp_policy *pol, const struct seccomp_list lists[SECCOMP_ROLE_NR],
			 char err[SECCOMP_ERR_MAX])
{
	int ret = 0;

	memset(pol, 0, sizeof(*pol));
	pol->test_violate = -1;
	for (int r = 0; r < SECCOMP_ROLE_NR && !ret; r++)
		ret = build_role(pol, (enum seccomp_role)r, lists, err);
	if (ret) {
		seccomp_policy_free(pol);
		return ret;
	}
	for (int nr = 0; nr < SECCOMP_NAMES_MAX; nr++) {
		char *s = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

		snprintf(pol->names[nr], sizeof(pol->names[nr]), "%s", s ? s : "?");
		free(s);
	}
#ifdef KILN_SECCOMP_TEST_HOOKS
	{
		const char *v = getenv("KILN_TEST_SECCOMP_VIOLATE");

		if (v)
			pol->test_violate = seccomp_role_parse(v);
	}
#endif
	return 0;
}

void seccomp_policy_free(struct seccomp_policy *pol)
{
	for (int r = 0; r < SECCOMP_ROLE_NR; r++) {
		free(pol->prog[r]);
		pol->prog[r] = NULL;
		pol->prog_len[r] = 0;
	}
}
