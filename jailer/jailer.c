/*
 * kiln-jailer's main: the steps of jailer.h, in order, each failure reported
 * as "kiln-jailer: <step>: <why>" with exit code 1 (2 for the command line).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "jailer/jailer.h"

#define EXIT_FAIL 1
#define EXIT_USAGE 2

/* Device nodes made inside the jail, from the host's numbers. */
static const struct { const char *path; bool optional; } jail_devices[] = {
	{ "/dev/kvm", false },
	{ "/dev/net/tun", false },
	{ "/dev/urandom", false },
	{ "/dev/userfaultfd", true },
};

struct jail {
	struct jail_args args;
	char jail_dir[PATH_MAX];   /* <base>/<exec_name>/<id> */
	char root[PATH_MAX];       /* <jail_dir>/root */
	bool made_jail_dir;        /* ours to remove on failure (until pivot_root) */
	bool pivoted;
	struct jail_created cgroups;
	struct stat devs[ARRAY_SIZE(jail_devices)];
	bool have_dev[ARRAY_SIZE(jail_devices)];
	int netns_fd;
	int devnull_fd;
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* Says what is left behind (and removes what it can), then exits. */
static void __attribute__((noreturn, format(printf, 3, 4)))
jail_fail(struct jail *j, const char *step, const char *fmt, ...)
{
	char msg[JAIL_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "kiln-jailer: %s: %s\n", step, msg);
	if (j->made_jail_dir && !j->pivoted && !nftw(j->jail_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS)) {
		fprintf(stderr, "kiln-jailer: removed %s\n", j->jail_dir);
	} else if (j->made_jail_dir) {
		fprintf(stderr, "kiln-jailer: left behind: %s (jail directory)\n", j->jail_dir);
	}
	/* This process is a member of them: they cannot be removed while it lives. */
	for (unsigned int i = 0; i < j->cgroups.n; i++)
		fprintf(stderr, "kiln-jailer: left behind: %s (cgroup)\n", j->cgroups.paths[i]);
	exit(EXIT_FAIL);
}

static void close_inherited_fds(struct jail *j)
{
	if (!syscall(SYS_close_range, 3U, ~0U, 0U))
		return;
	/* Older kernels: walk /proc/self/fd. */
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	if (!d)
		jail_fail(j, "close inherited fds", "%s", strerror(errno));
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);

		if (fd > 2 && fd != dirfd(d))
			close(fd);
	}
	closedir(d);
}

static void mkdir_p(struct jail *j, const char *path, mode_t mode)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s", path);
	for (char *s = p + 1;; s++) {
		if (*s == '/' || !*s) {
			char c = *s;

			*s = '\0';
			if (mkdir(p, mode) && errno != EEXIST)
				jail_fail(j, "create the jail", "mkdir %s: %s", p, strerror(errno));
			*s = c;
			if (!c)
				break;
		}
	}
}

static void make_jail_dir(struct jail *j)
{
	const struct jail_args *a = &j->args;
	char parent[PATH_MAX];

	if ((size_t)snprintf(j->jail_dir, sizeof(j->jail_dir), "%s/%s/%s", a->base_dir, a->exec_name,
			     a->id) >= sizeof(j->jail_dir) - 64)
		jail_fail(j, "create the jail", "path too long");
	snprintf(j->root, sizeof(j->root), "%s/root", j->jail_dir);
	snprintf(parent, sizeof(parent), "%s/%s", a->base_dir, a->exec_name);
	mkdir_p(j, parent, 0755);
	if (mkdir(j->jail_dir, 0755)) {
		if (errno == EEXIST)
			jail_fail(j, "create the jail", "%s already exists (ids must be unique; remove it to "
				  "reuse the id)", j->jail_dir);
		jail_fail(j, "create the jail", "mkdir %s: %s", j->jail_dir, strerror(errno));
	}
	j->made_jail_dir = true;
	if (mkdir(j->root, 0755))
		jail_fail(j, "create the jail", "mkdir %s: %s", j->root, strerror(errno));
}

static int copy_lib(const char *path, void *opaque)
{
	struct jail *j = opaque;
	char dst[PATH_MAX], dir[PATH_MAX], err[JAIL_ERR_MAX];

	snprintf(dst, sizeof(dst), "%s%s", j->root, path);
	snprintf(dir, sizeof(dir), "%s", dst);
	*strrchr(dir, '/') = '\0';
	mkdir_p(j, dir, 0755);
	if (jail_copy_file(path, dst, 0555, err))
		jail_fail(j, "copy the shared libraries", "%s", err);
	return 0;
}

static void copy_binary(struct jail *j)
{
	char dst[PATH_MAX], err[JAIL_ERR_MAX];

	snprintf(dst, sizeof(dst), "%s/%s", j->root, j->args.exec_name);
	/* root-owned and read-only: the jailed process cannot replace itself */
	if (jail_copy_file(j->args.exec_file, dst, 0555, err))
		jail_fail(j, "copy the exec file", "%s", err);
	if (jail_elf_deps(j->args.exec_file, copy_lib, j, err))
		jail_fail(j, "copy the shared libraries", "%s", err);
}

static void set_rlimits(struct jail *j)
{
	const struct jail_args *a = &j->args;
	bool nofile = false;

	for (unsigned int i = 0; i < a->nr_rlimits; i++) {
		struct rlimit rl = { a->rlimits[i].value, a->rlimits[i].value };

		nofile |= a->rlimits[i].resource == RLIMIT_NOFILE;
		if (setrlimit(a->rlimits[i].resource, &rl))
			jail_fail(j, "set resource limits", "%s=%llu: %s",
				  a->rlimits[i].resource == RLIMIT_NOFILE ? "no-file" : "fsize",
				  a->rlimits[i].value, strerror(errno));
	}
	if (!nofile) {
		struct rlimit rl = { JAIL_DEFAULT_NOFILE, JAIL_DEFAULT_NOFILE };

		if (setrlimit(RLIMIT_NOFILE, &rl))
			jail_fail(j, "set resource limits", "no-file=%d: %s", JAIL_DEFAULT_NOFILE,
				  strerror(errno));
	}
}

static void join_cgroups(struct jail *j)
{
	char err[JAIL_ERR_MAX];

	if (jail_cgroups_join(&j->args, &j->cgroups, err))
		jail_fail(j, "join the cgroups", "%s", err);
}

/* Host facts the jail needs once the host's / is gone. */
static void open_host_handles(struct jail *j)
{
	for (size_t i = 0; i < ARRAY_SIZE(jail_devices); i++) {
		if (!stat(jail_devices[i].path, &j->devs[i]) && S_ISCHR(j->devs[i].st_mode))
			j->have_dev[i] = true;
		else if (!jail_devices[i].optional)
			jail_fail(j, "find the host devices", "%s: %s", jail_devices[i].path,
				  errno ? strerror(errno) : "not a character device");
	}
	j->netns_fd = -1;
	if (j->args.netns) {
		j->netns_fd = open(j->args.netns, O_RDONLY | O_CLOEXEC);
		if (j->netns_fd < 0)
			jail_fail(j, "open the network namespace", "%s: %s", j->args.netns, strerror(errno));
	}
	j->devnull_fd = -1;
	if (j->args.daemonize) {
		j->devnull_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (j->devnull_fd < 0)
			jail_fail(j, "daemonize", "/dev/null: %s", strerror(errno));
	}
}

static void pivot_into_jail(struct jail *j)
{
	if (unshare(CLONE_NEWNS))
		jail_fail(j, "unshare the mount namespace", "%s", strerror(errno));
	/* Nothing mounted or unmounted here may reach the host's namespace. */
	if (mount(NULL, "/", NULL, MS_PRIVATE | MS_REC, NULL))
		jail_fail(j, "make mounts private", "%s", strerror(errno));
	/* pivot_root needs the new root to be a mount point. */
	if (mount(j->root, j->root, NULL, MS_BIND | MS_REC, NULL))
		jail_fail(j, "bind-mount the jail root", "%s: %s", j->root, strerror(errno));
	if (chdir(j->root) || mkdir("old_root", 0700))
		jail_fail(j, "pivot_root", "%s/old_root: %s", j->root, strerror(errno));
	if (syscall(SYS_pivot_root, ".", "old_root"))
		jail_fail(j, "pivot_root", "%s", strerror(errno));
	j->pivoted = true;
	if (umount2("old_root", MNT_DETACH) || rmdir("old_root") || chdir("/") || chroot("."))
		jail_fail(j, "drop the old root", "%s", strerror(errno));
}

static void make_devices(struct jail *j)
{
	const struct jail_args *a = &j->args;

	if (mkdir("/dev", 0755) || mkdir("/dev/net", 0755))
		jail_fail(j, "create /dev", "%s", strerror(errno));
	for (size_t i = 0; i < ARRAY_SIZE(jail_devices); i++) {
		const char *path = jail_devices[i].path;

		if (!j->have_dev[i])
			continue;
		if (mknod(path, S_IFCHR | S_IRUSR | S_IWUSR, j->devs[i].st_rdev) ||
		    chown(path, a->uid, a->gid))
			jail_fail(j, "create the device nodes", "%s (%u:%u): %s", path,
				  major(j->devs[i].st_rdev), minor(j->devs[i].st_rdev), strerror(errno));
	}
	/* kiln creates its API socket (and anything else it writes) in the root. */
	if (chown("/", a->uid, a->gid))
		jail_fail(j, "chown the jail root", "%s", strerror(errno));
}

static void join_netns(struct jail *j)
{
	if (j->netns_fd < 0)
		return;
	if (setns(j->netns_fd, CLONE_NEWNET))
		jail_fail(j, "join the network namespace", "%s: %s", j->args.netns, strerror(errno));
	close(j->netns_fd);
	j->netns_fd = -1;
}

static void daemonize(struct jail *j)
{
	if (!j->args.daemonize)
		return;
	if (setsid() < 0)
		jail_fail(j, "daemonize", "setsid: %s (is the jailer a process group leader?)", strerror(errno));
	if (dup2(j->devnull_fd, 0) < 0 || dup2(j->devnull_fd, 1) < 0 || dup2(j->devnull_fd, 2) < 0)
		exit(EXIT_FAIL); /* stderr may be gone already: nothing to say it on */
	close(j->devnull_fd);
}

/* The child goes on as pid 1 of a new pid namespace; the parent records its
 * pid in /<exec_name>.pid (in the jail) and exits. */
static void new_pid_ns(struct jail *j)
{
	char path[PATH_MAX], pid_text[32];
	pid_t pid;
	int fd, n;

	if (!j->args.new_pid_ns)
		return;
	if (unshare(CLONE_NEWPID))
		jail_fail(j, "new pid namespace", "%s", strerror(errno));
	pid = fork();
	if (pid < 0)
		jail_fail(j, "new pid namespace", "fork: %s", strerror(errno));
	if (pid == 0)
		return;
	snprintf(path, sizeof(path), "/%s.pid", j->args.exec_name);
	n = snprintf(pid_text, sizeof(pid_text), "%d\n", (int)pid);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, pid_text, (size_t)n) != n) {
		fprintf(stderr, "kiln-jailer: new pid namespace: %s: %s (kiln runs as pid %d)\n", path,
			strerror(errno), (int)pid);
		_exit(EXIT_FAIL);
	}
	close(fd);
	_exit(0);
}

static void drop_privileges(struct jail *j)
{
	const struct jail_args *a = &j->args;

	if (setgroups(0, NULL) || setresgid(a->gid, a->gid, a->gid) || setresuid(a->uid, a->uid, a->uid))
		jail_fail(j, "drop privileges", "uid %u gid %u: %s", (unsigned int)a->uid,
			  (unsigned int)a->gid, strerror(errno));
}

static void exec_kiln(struct jail *j)
{
	const struct jail_args *a = &j->args;
	char **argv = calloc((size_t)a->kiln_argc + 4, sizeof(*argv));
	char path[PATH_MAX];
	char *envp[] = { NULL };

	if (!argv)
		jail_fail(j, "exec", "out of memory");
	snprintf(path, sizeof(path), "/%s", a->exec_name);
	argv[0] = (char *)a->exec_name;
	argv[1] = "--id";
	argv[2] = (char *)a->id;
	for (int i = 0; i < a->kiln_argc; i++)
		argv[3 + i] = a->kiln_argv[i];
	execve(path, argv, envp);
	jail_fail(j, "exec", "%s: %s", path, strerror(errno));
}

int main(int argc, char **argv)
{
	static struct jail j;
	char err[JAIL_ERR_MAX];

	if (jail_args_parse(argc, argv, &j.args, err)) {
		fprintf(stderr, "kiln-jailer: %s\n"
			"usage: kiln-jailer --id ID --exec-file PATH --uid U --gid G [--chroot-base-dir DIR]\n"
			"       [--netns PATH] [--cgroup FILE=VALUE]... [--cgroup-version 1|2] [--parent-cgroup P]\n"
			"       [--resource-limit no-file=N|fsize=N]... [--daemonize] [--new-pid-ns] [-- kiln args]\n",
			err);
		return EXIT_USAGE;
	}
	close_inherited_fds(&j);
	if (clearenv())
		jail_fail(&j, "clear the environment", "clearenv failed");
	make_jail_dir(&j);
	copy_binary(&j);
	set_rlimits(&j);
	join_cgroups(&j);
	open_host_handles(&j);
	pivot_into_jail(&j);
	make_devices(&j);
	join_netns(&j);
	daemonize(&j);
	new_pid_ns(&j);
	drop_privileges(&j);
	exec_kiln(&j);
	return EXIT_FAIL;
}
