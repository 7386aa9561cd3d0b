/* The jailer's command line: what it accepts, and one clear message for each
 * thing it refuses (before anything is created). */
#include <criterion/criterion.h>
#include <sys/resource.h>

#include "jailer/jailer.h"

static int parse(struct jail_args *a, char err[JAIL_ERR_MAX], ...)
{
	static char *argv[64] = { "kiln-jailer" }; /* kiln_argv points into it */
	int argc = 1;
	va_list ap;
	char *s;

	va_start(ap, err);
	while ((s = va_arg(ap, char *)) && argc < 63)
		argv[argc++] = s;
	va_end(ap);
	argv[argc] = NULL;
	err[0] = '\0';
	return jail_args_parse(argc, argv, a, err);
}

#define BASE "--id", "vm-1", "--exec-file", "/bin/true", "--uid", "10000", "--gid", "10001"

Test(jail_args, minimal_line_gets_defaults)
{
	struct jail_args a;
	char err[JAIL_ERR_MAX];

	cr_assert_eq(parse(&a, err, BASE, NULL), 0, "%s", err);
	cr_assert_str_eq(a.id, "vm-1");
	cr_assert_str_eq(a.exec_name, "true");
	cr_assert_eq(a.uid, 10000);
	cr_assert_eq(a.gid, 10001);
	cr_assert_str_eq(a.base_dir, JAIL_DEFAULT_BASE);
	cr_assert_str_eq(a.parent_cgroup, "true");
	cr_assert_eq(a.cgroup_version, 1);
	cr_assert_eq(a.kiln_argc, 0);
	cr_assert(!a.daemonize && !a.new_pid_ns && !a.netns);
}

Test(jail_args, full_line)
{
	struct jail_args a;
	char err[JAIL_ERR_MAX];

	cr_assert_eq(parse(&a, err, BASE, "--chroot-base-dir", "/tmp/j", "--cgroup", "pids.max=10",
			   "--cgroup", "cpu.shares=512", "--cgroup-version", "2", "--parent-cgroup", "a/b",
			   "--resource-limit", "no-file=100", "--resource-limit", "fsize=4096",
			   "--resource-limit", "no-file=200", "--daemonize", "--new-pid-ns",
			   "--netns", "/proc/self/ns/net", "--", "--api-sock", "/api.sock", NULL), 0, "%s", err);
	cr_assert_str_eq(a.base_dir, "/tmp/j");
	cr_assert_eq(a.nr_cgroups, 2);
	cr_assert_str_eq(a.cgroups[0].file, "pids.max");
	cr_assert_str_eq(a.cgroups[0].value, "10");
	cr_assert_str_eq(a.cgroups[1].file, "cpu.shares");
	cr_assert_eq(a.cgroup_version, 2);
	cr_assert_str_eq(a.parent_cgroup, "a/b");
	cr_assert_eq(a.nr_rlimits, 2);
	cr_assert_eq(a.rlimits[0].resource, RLIMIT_NOFILE);
	cr_assert_eq(a.rlimits[0].value, 200); /* the last one wins */
	cr_assert_eq(a.rlimits[1].resource, RLIMIT_FSIZE);
	cr_assert(a.daemonize && a.new_pid_ns);
	cr_assert_str_eq(a.netns, "/proc/self/ns/net");
	cr_assert_eq(a.kiln_argc, 2);
	cr_assert_str_eq(a.kiln_argv[0], "--api-sock");
	cr_assert_str_eq(a.kiln_argv[1], "/api.sock");
}

struct bad {
	const char *args[8];
	const char *needle;
};

Test(jail_args, refusals_name_the_problem)
{
	static const struct bad cases[] = {
		{ { "--id", "a_b" }, "--id: 'a_b' must be 1 to 64" },
		{ { "--id", "" }, "--id: '' must be" },
		{ { "--id", "x12345678901234567890123456789012345678901234567890123456789012345" }, "--id:" },
		{ { "--exec-file", "bin/true" }, "--exec-file: 'bin/true' must be an absolute path" },
		{ { "--exec-file", "/nonexistent/kiln" }, "--exec-file: /nonexistent/kiln: No such file" },
		{ { "--exec-file", "/tmp" }, "is not a regular file" },
		{ { "--exec-file", "/usr/../bin/true" }, "must not contain '..'" },
		{ { "--chroot-base-dir", "srv" }, "--chroot-base-dir: 'srv' must be an absolute path" },
		{ { "--netns", "/nonexistent/ns" }, "--netns: /nonexistent/ns: No such file" },
		{ { "--netns", "ns" }, "--netns: 'ns' must be an absolute path" },
		{ { "--uid", "-1" }, "--uid: '-1' is not a uid" },
		{ { "--gid", "x" }, "--gid: 'x' is not a gid" },
		{ { "--cgroup", "pids.max" }, "must be FILE=VALUE" },
		{ { "--cgroup", "pidsmax=1" }, "<controller>.<file>=VALUE" },
		{ { "--cgroup", "x/y.z=1" }, "bad file name" },
		{ { "--cgroup-version", "3" }, "--cgroup-version: must be 1 or 2" },
		{ { "--parent-cgroup", "/abs" }, "--parent-cgroup" },
		{ { "--parent-cgroup", "a/../b" }, "--parent-cgroup" },
		{ { "--resource-limit", "cores=1" }, "unknown resource" },
		{ { "--resource-limit", "no-file=x" }, "is not a number" },
		{ { "--bogus" }, "unknown or incomplete option '--bogus'" },
		{ { "extra" }, "unexpected argument 'extra'" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *argv[32] = { "kiln-jailer", "--id", "vm-1", "--exec-file", "/bin/true", "--uid", "1",
				   "--gid", "1" };
		int argc = 9;
		struct jail_args a;
		char err[JAIL_ERR_MAX] = "";

		for (int k = 0; k < 8 && cases[i].args[k]; k++)
			argv[argc++] = (char *)cases[i].args[k];
		cr_assert_neq(jail_args_parse(argc, argv, &a, err), 0, "case %zu accepted", i);
		cr_assert(strstr(err, cases[i].needle), "case %zu: '%s' lacks '%s'", i, err, cases[i].needle);
	}
}

Test(jail_args, required_options)
{
	struct jail_args a;
	char err[JAIL_ERR_MAX];

	cr_assert_neq(parse(&a, err, "--id", "x", "--exec-file", "/bin/true", "--uid", "1", NULL), 0);
	cr_assert(strstr(err, "are required"), "%s", err);
}

Test(jail_args, id_rule)
{
	cr_assert_eq(jail_id_check("551e7604-e35c-42b3-b825-416853441234"), 0);
	cr_assert_neq(jail_id_check("a.b"), 0);
	cr_assert_neq(jail_id_check("a/b"), 0);
	cr_assert_neq(jail_id_check(""), 0);
}
