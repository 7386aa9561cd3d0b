/* --seccomp-filter files: the accepted shape, what it does once installed,
 * and one clear message for each kind of mistake. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

#include "vmm/seccomp/seccomp_priv.h"
#include "vmm/seccomp/test_seccomp_util.h"

/* Enough for the test child: futex/exit for libc, getpgid for the check. */
#define ROLE(extra) \
	"{\"default_action\": \"trap\", \"filter_action\": \"allow\", \"filter\": [" \
	"{\"syscall\": \"futex\"}, {\"syscall\": \"exit\"}" extra "]}"

static const char good[] =
	"{\"api\": " ROLE("") ", \"vmm\": " ROLE(", {\"syscall\": \"getpgid\", \"comment\": \"why\"}") ","
	" \"vcpu\": " ROLE(", {\"syscall\": \"ioctl\", \"args\": [{\"index\": 1, \"type\": \"dword\","
	" \"op\": \"eq\", \"val\": 21505, \"comment\": \"TCGETS\"}]}") "}";

static int call_getpgid(void)
{
	return syscall(SYS_getpgid, 0) > 0 ? 0 : 1;
}

static int call_tcgets(void)
{
	struct termios *t = NULL;

	ioctl(0, 0x5401 /* TCGETS */, t);
	return 0;
}

static int call_tiocgwinsz(void)
{
	ioctl(0, 0x5413 /* TIOCGWINSZ */, NULL);
	return 0;
}

Test(seccomp_file, good_file_builds_and_filters)
{
	struct seccomp_policy pol;
	char err[SECCOMP_ERR_MAX] = "";
	struct child_result r;

	cr_assert_eq(seccomp_policy_parse(&pol, good, strlen(good), err), 0, "%s", err);
	r = run_filtered(&pol, SECCOMP_ROLE_VMM, call_getpgid);
	cr_assert_eq(exit_code(&r), 0, "%s", r.err);
	r = run_filtered(&pol, SECCOMP_ROLE_API, call_getpgid);
	cr_assert_eq(exit_code(&r), SECCOMP_EXIT_BAD_SYSCALL, "%s", r.err);
	cr_assert(strstr(r.err, "the api thread made a forbidden system call getpgid"), "%s", r.err);
	r = run_filtered(&pol, SECCOMP_ROLE_VCPU, call_tcgets);
	cr_assert_eq(exit_code(&r), 0, "%s", r.err);
	r = run_filtered(&pol, SECCOMP_ROLE_VCPU, call_tiocgwinsz);
	cr_assert_eq(exit_code(&r), SECCOMP_EXIT_BAD_SYSCALL, "%s", r.err);
	/* vcpu rules are folded into vmm (vCPU threads are born there) */
	r = run_filtered(&pol, SECCOMP_ROLE_VMM, call_tcgets);
	cr_assert_eq(exit_code(&r), 0, "%s", r.err);
	seccomp_policy_free(&pol);
}

Test(seccomp_file, kill_process_default_dies_by_sigsys)
{
	static const char text[] =
		"{\"api\": " ROLE("") ", \"vmm\": " ROLE("") ", \"vcpu\": "
		"{\"default_action\": \"kill_process\", \"filter\": [{\"syscall\": \"exit\"}]}}";
	struct seccomp_policy pol;
	char err[SECCOMP_ERR_MAX] = "";
	struct child_result r;

	cr_assert_eq(seccomp_policy_parse(&pol, text, strlen(text), err), 0, "%s", err);
	r = run_filtered(&pol, SECCOMP_ROLE_VCPU, call_getpgid);
	cr_assert(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGSYS, "status 0x%x", r.status);
	seccomp_policy_free(&pol);
}

struct bad_case {
	const char *text;
	const char *needle;
};

#define R3(api, vmm, vcpu) "{\"api\": " api ", \"vmm\": " vmm ", \"vcpu\": " vcpu "}"
#define ARG1(a) ROLE(", {\"syscall\": \"ioctl\", \"args\": [" a "]}")

Test(seccomp_file, bad_files_are_refused)
{
	struct bad_case cases[] = {
		{ "", "not valid JSON" },
		{ "[1]", "must be an object" },
		{ "{\"api\": " ROLE("") ", \"vmm\": " ROLE("") "}", "vcpu: missing" },
		{ R3(ROLE(""), ROLE(""), ROLE("")) , NULL }, /* placeholder: replaced below */
		{ "{\"api\": " ROLE("") ", \"vmm\": " ROLE("") ", \"vcpu\": " ROLE("") ", \"gpu\": {}}",
		  "unknown key 'gpu'" },
		{ R3(ROLE(", {\"syscall\": \"no_such_call\"}"), ROLE(""), ROLE("")),
		  "api: unknown system call 'no_such_call'" },
		{ R3(ROLE(""), "{\"filter\": [], \"default_action\": \"errno\"}", ROLE("")),
		  "vmm.default_action" },
		{ R3(ROLE(""), "{\"filter\": [], \"filter_action\": \"log\"}", ROLE("")),
		  "vmm.filter_action" },
		{ R3(ROLE(""), "{\"default_action\": \"trap\"}", ROLE("")), "vmm.filter: must be an array" },
		{ R3(ROLE(""), ROLE(", {\"syscall\": 7}"), ROLE("")), "vmm.filter[2].syscall" },
		{ R3(ROLE(""), ROLE(", {\"syscall\": \"read\", \"flags\": 1}"), ROLE("")),
		  "vmm.filter[2]: unknown key 'flags'" },
		{ R3(ROLE(""), ROLE(""), ARG1("{\"index\": 6, \"type\": \"dword\", \"op\": \"eq\", \"val\": 1}")),
		  "vcpu.filter[2].args[0].index" },
		{ R3(ROLE(""), ROLE(""), ARG1("{\"index\": 1, \"type\": \"word\", \"op\": \"eq\", \"val\": 1}")),
		  "vcpu.filter[2].args[0].type" },
		{ R3(ROLE(""), ROLE(""), ARG1("{\"index\": 1, \"type\": \"dword\", \"op\": \"in\", \"val\": 1}")),
		  "vcpu.filter[2].args[0].op" },
		{ R3(ROLE(""), ROLE(""), ARG1("{\"index\": 1, \"type\": \"dword\", \"op\": \"eq\", \"val\": 4294967296}")),
		  "vcpu.filter[2].args[0].val" },
		{ R3(ROLE(""), ROLE(""), ARG1("{\"index\": 1, \"type\": \"qword\", \"op\": \"eq\", \"val\": -1}")),
		  "vcpu.filter[2].args[0].val" },
		{ R3(ROLE(""), ROLE(""), ARG1("{\"index\": 1, \"type\": \"qword\", \"op\": \"eq\", \"val\": 1.5}")),
		  "vcpu.filter[2].args[0].val" },
		{ R3(ROLE(""), ROLE(""), ARG1("{\"index\": 1, \"type\": \"qword\", \"op\": \"eq\"}")),
		  "needs index, type, op and val" },
		{ R3(ROLE(""), ROLE(""), ARG1("{\"index\": 1, \"type\": \"qword\", \"op\": {\"masked_eq\": \"x\"}, \"val\": 1}")),
		  "vcpu.filter[2].args[0].op.masked_eq" },
	};
	/* an extra top-level key is the unknown-key case above; this one is a
	 * role that is not an object */
	cases[3].text = R3("[]", ROLE(""), ROLE(""));
	cases[3].needle = "api: must be an object";
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bad_case *c = &cases[i];
		struct seccomp_policy pol;
		char err[SECCOMP_ERR_MAX] = "";

		cr_assert_neq(seccomp_policy_parse(&pol, c->text, strlen(c->text), err), 0,
			      "accepted: %s", c->text);
		cr_assert(strstr(err, c->needle), "message '%s' lacks '%s'", err, c->needle);
		for (int r = 0; r < SECCOMP_ROLE_NR; r++)
			cr_assert_null(pol.prog[r]);
	}
}

Test(seccomp_file, masked_eq_accepted)
{
	static const char text[] =
		R3(ROLE(""), ROLE(""), ARG1("{\"index\": 1, \"type\": \"qword\", \"op\": {\"masked_eq\": 255}, \"val\": 1}"));
	struct seccomp_policy pol;
	char err[SECCOMP_ERR_MAX] = "";

	cr_assert_eq(seccomp_policy_parse(&pol, text, strlen(text), err), 0, "%s", err);
	seccomp_policy_free(&pol);
}

Test(seccomp_file, file_errors_name_the_path)
{
	struct seccomp_policy pol;
	char err[SECCOMP_ERR_MAX] = "";
	char path[] = "/tmp/kiln-seccomp-test-XXXXXX";
	int fd;

	cr_assert_eq(seccomp_policy_load_file(&pol, "/nonexistent/filter.json", err), -ENOENT);
	cr_assert(strstr(err, "/nonexistent/filter.json: No such file"), "%s", err);
	cr_assert_eq(seccomp_policy_load_file(&pol, "/tmp", err), -EINVAL);
	cr_assert(strstr(err, "must be a regular file"), "%s", err);
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, good, strlen(good) - 1), (ssize_t)strlen(good) - 1); /* no closing brace */
	close(fd);
	cr_assert_eq(seccomp_policy_load_file(&pol, path, err), -EINVAL);
	cr_assert(strstr(err, path) && strstr(err, "not valid JSON"), "%s", err);
	fd = open(path, O_WRONLY | O_TRUNC);
	cr_assert_eq(write(fd, good, strlen(good)), (ssize_t)strlen(good));
	close(fd);
	cr_assert_eq(seccomp_policy_load_file(&pol, path, err), 0, "%s", err);
	seccomp_policy_free(&pol);
	unlink(path);
}
