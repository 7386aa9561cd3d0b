/* The jailer's command line; see jailer.h. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "jailer/jailer.h"

static int arg_err(char err[JAIL_ERR_MAX], const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int arg_err(char err[JAIL_ERR_MAX], const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, JAIL_ERR_MAX, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int jail_id_check(const char *id)
{
	size_t n = strlen(id);

	if (n < 1 || n > JAIL_ID_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
			return -EINVAL;
	}
	return 0;
}

static int parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
	char *end;

	if (!s[0] || s[0] == '-' || s[0] == '+')
		return -EINVAL;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || *end || *out > max ? -EINVAL : 0;
}

/* An absolute path with no ".." component (the jail layout is built from it). */
static int check_path(const char *opt, const char *path, char err[JAIL_ERR_MAX])
{
	if (path[0] != '/')
		return arg_err(err, "%s: '%s' must be an absolute path", opt, path);
	if (strlen(path) >= PATH_MAX - 128)
		return arg_err(err, "%s: path too long", opt);
	if (!strcmp(path, "/..") || strstr(path, "/../") ||
	    (strlen(path) >= 3 && !strcmp(path + strlen(path) - 3, "/..")))
		return arg_err(err, "%s: '%s' must not contain '..'", opt, path);
	return 0;
}

static int parse_cgroup(struct jail_args *a, const char *s, char err[JAIL_ERR_MAX])
{
	const char *eq = strchr(s, '=');
	const char *dot;
	size_t flen;
	struct jail_cgroup *c;

	if (a->nr_cgroups == JAIL_CGROUPS_MAX)
		return arg_err(err, "--cgroup: at most %d", JAIL_CGROUPS_MAX);
	if (!eq)
		return arg_err(err, "--cgroup: '%s' must be FILE=VALUE (e.g. pids.max=100)", s);
	flen = (size_t)(eq - s);
	dot = memchr(s, '.', flen);
	if (!flen || !dot || dot == s || flen >= sizeof(c->file) || strlen(eq + 1) >= sizeof(c->value) ||
	    !eq[1])
		return arg_err(err, "--cgroup: '%s' must be <controller>.<file>=VALUE", s);
	for (const char *p = s; p < eq; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '_'))
			return arg_err(err, "--cgroup: bad file name in '%s'", s);
	}
	if (strchr(eq + 1, '\n'))
		return arg_err(err, "--cgroup: the value must be one line");
	c = &a->cgroups[a->nr_cgroups++];
	memcpy(c->file, s, flen);
	c->file[flen] = '\0';
	snprintf(c->value, sizeof(c->value), "%s", eq + 1);
	return 0;
}

static int parse_rlimit(struct jail_args *a, const char *s, char err[JAIL_ERR_MAX])
{
	static const struct { const char *name; int resource; } names[] = {
		{ "no-file", RLIMIT_NOFILE }, { "fsize", RLIMIT_FSIZE },
	};
	const char *eq = strchr(s, '=');
	unsigned long long v;

	if (!eq)
		return arg_err(err, "--resource-limit: '%s' must be no-file=N or fsize=N", s);
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (strlen(names[i].name) != (size_t)(eq - s) || strncmp(s, names[i].name, (size_t)(eq - s)))
			continue;
		if (parse_uint(eq + 1, ULLONG_MAX - 1, &v))
			return arg_err(err, "--resource-limit: %s: '%s' is not a number", names[i].name, eq + 1);
		for (unsigned int j = 0; j < a->nr_rlimits; j++) {
			if (a->rlimits[j].resource == names[i].resource) {
				a->rlimits[j].value = v;
				return 0;
			}
		}
		a->rlimits[a->nr_rlimits++] = (struct jail_rlimit){ names[i].resource, v };
		return 0;
	}
	return arg_err(err, "--resource-limit: unknown resource in '%s' (no-file, fsize)", s);
}

int jail_args_parse(int argc, char **argv, struct jail_args *a, char err[JAIL_ERR_MAX])
{
	enum { O_ID = 256, O_EXEC, O_UID, O_GID, O_BASE, O_NETNS, O_CGROUP, O_CGVER, O_PARENT,
	       O_RLIMIT, O_DAEMON, O_PIDNS };
	static const struct option opts[] = {
		{ "id", required_argument, NULL, O_ID },
		{ "exec-file", required_argument, NULL, O_EXEC },
		{ "uid", required_argument, NULL, O_UID },
		{ "gid", required_argument, NULL, O_GID },
		{ "chroot-base-dir", required_argument, NULL, O_BASE },
		{ "netns", required_argument, NULL, O_NETNS },
		{ "cgroup", required_argument, NULL, O_CGROUP },
		{ "cgroup-version", required_argument, NULL, O_CGVER },
		{ "parent-cgroup", required_argument, NULL, O_PARENT },
		{ "resource-limit", required_argument, NULL, O_RLIMIT },
		{ "daemonize", no_argument, NULL, O_DAEMON },
		{ "new-pid-ns", no_argument, NULL, O_PIDNS },
		{ 0 },
	};
	const char *uid = NULL, *gid = NULL;
	unsigned long long v;
	struct stat st;
	int c, ret;

	memset(a, 0, sizeof(*a));
	a->base_dir = JAIL_DEFAULT_BASE;
	a->cgroup_version = 1;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case O_ID: a->id = optarg; break;
		case O_EXEC: a->exec_file = optarg; break;
		case O_UID: uid = optarg; break;
		case O_GID: gid = optarg; break;
		case O_BASE: a->base_dir = optarg; break;
		case O_NETNS: a->netns = optarg; break;
		case O_CGROUP:
			if ((ret = parse_cgroup(a, optarg, err)))
				return ret;
			break;
		case O_CGVER:
			if (strcmp(optarg, "1") && strcmp(optarg, "2"))
				return arg_err(err, "--cgroup-version: must be 1 or 2, got '%s'", optarg);
			a->cgroup_version = optarg[0] - '0';
			break;
		case O_PARENT: a->parent_cgroup = optarg; break;
		case O_RLIMIT:
			if ((ret = parse_rlimit(a, optarg, err)))
				return ret;
			break;
		case O_DAEMON: a->daemonize = true; break;
		case O_PIDNS: a->new_pid_ns = true; break;
		default:
			return arg_err(err, "unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc && strcmp(argv[optind - 1], "--"))
		return arg_err(err, "unexpected argument '%s' (kiln's arguments go after --)", argv[optind]);
	a->kiln_argv = argv + optind;
	a->kiln_argc = argc - optind;

	if (!a->id || !a->exec_file || !uid || !gid)
		return arg_err(err, "--id, --exec-file, --uid and --gid are required");
	if (jail_id_check(a->id))
		return arg_err(err, "--id: '%.80s' must be 1 to %d of A-Z, a-z, 0-9 and '-'", a->id, JAIL_ID_MAX);
	if (parse_uint(uid, 0xfffffffeu, &v))
		return arg_err(err, "--uid: '%s' is not a uid", uid);
	a->uid = (uid_t)v;
	if (parse_uint(gid, 0xfffffffeu, &v))
		return arg_err(err, "--gid: '%s' is not a gid", gid);
	a->gid = (gid_t)v;
	if ((ret = check_path("--exec-file", a->exec_file, err)) ||
	    (ret = check_path("--chroot-base-dir", a->base_dir, err)) ||
	    (a->netns && (ret = check_path("--netns", a->netns, err))))
		return ret;
	if (stat(a->exec_file, &st))
		return arg_err(err, "--exec-file: %s: %s", a->exec_file, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return arg_err(err, "--exec-file: %s is not a regular file", a->exec_file);
	a->exec_name = strrchr(a->exec_file, '/') + 1;
	if (!a->exec_name[0] || !strcmp(a->exec_name, ".") || !strcmp(a->exec_name, ".."))
		return arg_err(err, "--exec-file: %s has no file name", a->exec_file);
	if (a->netns && stat(a->netns, &st))
		return arg_err(err, "--netns: %s: %s", a->netns, strerror(errno));
	if (!a->parent_cgroup)
		a->parent_cgroup = a->exec_name;
	if (!a->parent_cgroup[0] || a->parent_cgroup[0] == '/' || strstr(a->parent_cgroup, "..") ||
	    strlen(a->parent_cgroup) > 128)
		return arg_err(err, "--parent-cgroup: '%s' must be a relative path without '..'",
			       a->parent_cgroup);
	return 0;
}
