/* Building policies: the built-in lists compile, names resolve, bad rules are
 * refused with the role and syscall named, the report line's text, and the
 * test hook. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/syscall.h>

#include "vmm/seccomp/seccomp_priv.h"
#include "vmm/seccomp/test_seccomp_util.h"

Test(seccomp_policy, builtin_has_a_program_per_role)
{
	struct seccomp_policy pol;
	char err[SECCOMP_ERR_MAX] = "";

	cr_assert_eq(seccomp_policy_builtin(&pol, err), 0, "%s", err);
	for (int r = 0; r < SECCOMP_ROLE_NR; r++) {
		cr_assert_not_null(pol.prog[r]);
		cr_assert_gt(pol.prog_len[r], 10, "%s", seccomp_role_name(r));
	}
	/* vmm carries the vcpu rules too: it is the longer program */
	cr_assert_gt(pol.prog_len[SECCOMP_ROLE_VMM], pol.prog_len[SECCOMP_ROLE_VCPU]);
	cr_assert_str_eq(pol.names[SYS_read], "read");
	cr_assert_str_eq(pol.names[SYS_getpgid], "getpgid");
	seccomp_policy_free(&pol);
	cr_assert_null(pol.prog[0]);
}

Test(seccomp_policy, role_names_round_trip)
{
	for (int r = 0; r < SECCOMP_ROLE_NR; r++)
		cr_assert_eq(seccomp_role_parse(seccomp_role_name(r)), r);
	cr_assert_eq(seccomp_role_parse("vcpu0"), -1);
	cr_assert_str_eq(seccomp_role_name(SECCOMP_ROLE_NR), "?");
}

Test(seccomp_policy, unknown_syscall_is_named)
{
	struct seccomp_rule bad[] = { { .name = "read" }, { .name = "no_such_call" } };
	struct seccomp_rule ok[] = { { .name = "read" } };
	struct seccomp_list lists[SECCOMP_ROLE_NR] = {
		[SECCOMP_ROLE_API] = { .rules = ok, .nr_rules = 1 },
		[SECCOMP_ROLE_VMM] = { .rules = ok, .nr_rules = 1 },
		[SECCOMP_ROLE_VCPU] = { .rules = bad, .nr_rules = 2 },
	};
	struct seccomp_policy pol;
	char err[SECCOMP_ERR_MAX] = "";

	cr_assert_eq(seccomp_policy_build(&pol, lists, err), -EINVAL);
	cr_assert(strstr(err, "no_such_call"), "%s", err);
	cr_assert(strstr(err, "vcpu") || strstr(err, "vmm"), "%s", err);
	cr_assert_null(pol.prog[0]);
}

Test(seccomp_policy, bad_argument_index_is_refused)
{
	struct seccomp_rule bad[] = { { "ioctl", 1, { { .index = 6, .op = SECCOMP_CMP_EQ } } } };
	struct seccomp_list lists[SECCOMP_ROLE_NR] = {
		[SECCOMP_ROLE_API] = { .rules = bad, .nr_rules = 1 },
	};
	struct seccomp_policy pol;
	char err[SECCOMP_ERR_MAX] = "";

	cr_assert_eq(seccomp_policy_build(&pol, lists, err), -EINVAL);
	cr_assert(strstr(err, "api: ioctl"), "%s", err);
}

Test(seccomp_policy, report_line_names_role_call_and_code)
{
	char buf[160];
	size_t n = seccomp_trap_format(buf, sizeof(buf), "vcpu", 121, "getpgid");

	cr_assert_str_eq(buf, "kiln: seccomp: the vcpu thread made a forbidden system call getpgid (121); "
			      "exiting with code 148\n");
	cr_assert_eq(n, strlen(buf));
	/* cut, never overrun */
	n = seccomp_trap_format(buf, 10, "vcpu", 121, "getpgid");
	cr_assert_eq(n, 9);
	cr_assert_eq(buf[9], '\0');
}

static int nothing(void)
{
	return 0;
}

Test(seccomp_policy, test_hook_makes_the_named_role_violate)
{
	struct seccomp_policy pol;
	char err[SECCOMP_ERR_MAX] = "";
	struct child_result r;

	setenv("KILN_TEST_SECCOMP_VIOLATE", "vcpu", 1);
	cr_assert_eq(seccomp_policy_builtin(&pol, err), 0, "%s", err);
	unsetenv("KILN_TEST_SECCOMP_VIOLATE");
	cr_assert_eq(pol.test_violate, SECCOMP_ROLE_VCPU);
	r = run_filtered(&pol, SECCOMP_ROLE_API, nothing);
	cr_assert_eq(exit_code(&r), 0, "%s", r.err);
	r = run_filtered(&pol, SECCOMP_ROLE_VCPU, nothing);
	cr_assert_eq(exit_code(&r), SECCOMP_EXIT_BAD_SYSCALL, "%s", r.err);
	cr_assert(strstr(r.err, "the vcpu thread made a forbidden system call getpgid"), "%s", r.err);
	seccomp_policy_free(&pol);
}
