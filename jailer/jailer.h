/*
 * kiln-jailer: starts kiln in an empty root with no privileges, in the order
 * Firecracker's jailer does (docs/jailer.md there; SECURITY.md here):
 *
 *   validate id and paths -> close inherited fds -> clear the environment ->
 *   create <base>/<exec_name>/<id>/root (an existing one is refused) -> copy
 *   the binary and the shared libraries it needs -> set rlimits -> join
 *   cgroups (v1 or v2) -> new mount namespace, mounts private, bind the jail
 *   root onto itself, pivot_root into it -> mknod /dev/kvm, /dev/net/tun,
 *   /dev/urandom (and /dev/userfaultfd when the host has it) owned by uid:gid ->
 *   join the network namespace -> daemonize -> new pid namespace (fork: the
 *   child is its pid 1, the parent writes <exec_name>.pid in the jail and
 *   exits) -> drop to gid, then uid, with no supplementary groups -> exec
 *   /<exec_name> --id <id> [kiln args].
 *
 * kiln is linked dynamically, so its shared libraries are copied into the
 * jail at the host paths they resolve to (DT_NEEDED, searched along
 * DT_RUNPATH/DT_RPATH and the system library directories, recursively, plus
 * the ELF interpreter): the jail holds exactly what the binary loads.
 *
 * Every failure is one line on stderr naming the step, and exit code 1 (2 for
 * a bad command line); what was created and could not be removed is named.
 */
#ifndef KILN_JAILER_H
#define KILN_JAILER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "vmm/compiler.h"

#define JAIL_ERR_MAX 512
#define JAIL_ID_MAX 64
#define JAIL_CGROUPS_MAX 16
#define JAIL_RLIMITS_MAX 4
#define JAIL_DEFAULT_BASE "/srv/jailer"
/* Firecracker's default when no --resource-limit no-file is given. */
#define JAIL_DEFAULT_NOFILE 2048

struct jail_cgroup {
	char file[128];     /* "pids.max": controller = the part before the first '.' */
	char value[256];
};

struct jail_rlimit {
	int resource;       /* RLIMIT_NOFILE or RLIMIT_FSIZE */
	unsigned long long value;
};

struct jail_args {
	const char *id;
	const char *exec_file;      /* absolute, a regular file */
	const char *exec_name;      /* its last path component */
	uid_t uid;
	gid_t gid;
	const char *base_dir;       /* absolute; default JAIL_DEFAULT_BASE */
	const char *netns;          /* absolute path of a netns handle, or NULL */
	int cgroup_version;         /* 1 (default) or 2 */
	const char *parent_cgroup;  /* relative; default exec_name */
	struct jail_cgroup cgroups[JAIL_CGROUPS_MAX];
	unsigned int nr_cgroups;
	struct jail_rlimit rlimits[JAIL_RLIMITS_MAX];
	unsigned int nr_rlimits;
	bool daemonize;
	bool new_pid_ns;
	char **kiln_argv;           /* after "--" (NULL-terminated; may be empty) */
	int kiln_argc;
};

/* Parses and validates the command line: id ([A-Za-z0-9-], 1..64), absolute
 * paths, the exec file a regular file, the netns handle present, cgroup
 * FILE=VALUE shapes, rlimit names and values.  0 or -EINVAL with err. */
int jail_args_parse(int argc, char **argv, struct jail_args *args, char err[JAIL_ERR_MAX]) __must_check;

/* 0 when id is 1..64 of [A-Za-z0-9-]. */
int jail_id_check(const char *id) __must_check;

/* Shared objects the ELF at path loads, resolved to host paths: the
 * interpreter and DT_NEEDED entries, recursively.  Calls fn(path, opaque) once
 * per file; 0 or -errno with err. */
int jail_elf_deps(const char *path, int (*fn)(const char *path, void *opaque), void *opaque,
		  char err[JAIL_ERR_MAX]) __must_check;

/* Copies src to dst (created exclusively, mode, owner root).  0 or -errno. */
int jail_copy_file(const char *src, const char *dst, mode_t mode, char err[JAIL_ERR_MAX]) __must_check;

/* cgroups: creates <mount>/<parent>/<id> for each controller named in
 * args->cgroups, writes the values and moves the calling process in.  The
 * directories it made are listed in created (for the failure message).
 * 0 or -errno with err. */
struct jail_created {
	char paths[JAIL_CGROUPS_MAX + 8][256];
	unsigned int n;
};
int jail_cgroups_join(const struct jail_args *args, struct jail_created *created,
		      char err[JAIL_ERR_MAX]) __must_check;

/* Finds where a cgroup v1 controller (or, with controller NULL, the v2
 * hierarchy) is mounted, from a /proc/mounts-format file.  0 or -ENOENT. */
int jail_cgroup_mount(const char *mounts_file, const char *controller, char out[256]) __must_check;

#endif
