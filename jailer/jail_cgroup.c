/*
 * Joining cgroups, v1 or v2; see jailer.h.
 *
 * v1: each controller has its own hierarchy; for every controller named in a
 * --cgroup FILE, <its mount>/<parent>/<id> is created, the values written and
 * the pid written to its tasks file.  cpuset needs cpuset.cpus and .mems set
 * before a task may join, so empty ones are copied down from the parent.
 * v2: one hierarchy; the controllers are enabled in the subtree_control of
 * every level above the new group, then values, then cgroup.procs.
 * Mount points come from /proc/mounts, as Firecracker's jailer finds them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jailer/jailer.h"

int jail_cgroup_mount(const char *mounts_file, const char *controller, char out[256])
{
	FILE *f = fopen(mounts_file, "re");
	char dev[256], dir[256], type[64], opts[512];
	int ret = -ENOENT;

	if (!f)
		return -errno;
	while (fscanf(f, "%255s %255s %63s %511s %*d %*d\n", dev, dir, type, opts) == 4) {
		if (!controller) {
			if (!strcmp(type, "cgroup2")) {
				snprintf(out, 256, "%s", dir);
				ret = 0;
				break;
			}
			continue;
		}
		if (strcmp(type, "cgroup"))
			continue;
		for (char *save, *o = strtok_r(opts, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
			if (!strcmp(o, controller)) {
				snprintf(out, 256, "%s", dir);
				ret = 0;
				break;
			}
		}
		if (!ret)
			break;
	}
	fclose(f);
	return ret;
}

static int write_file(const char *dir, const char *name, const char *value, char err[JAIL_ERR_MAX])
{
	char path[512];
	size_t len = strlen(value);
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, value, len) != (ssize_t)len)
		ret = -errno;
	if (fd >= 0)
		close(fd);
	if (ret)
		snprintf(err, JAIL_ERR_MAX, "writing '%s' to %s: %s", value, path, strerror(-ret));
	return ret;
}

static int read_file(const char *dir, const char *name, char *buf, size_t size)
{
	char path[512];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* mkdir -p of base/rel, recording the directories it made. */
static int mkdirs(const char *base, const char *rel, struct jail_created *created, char out[256],
		  char err[JAIL_ERR_MAX])
{
	char path[256];
	size_t n;

	n = (size_t)snprintf(path, sizeof(path), "%s/%s", base, rel);
	if (n >= sizeof(path)) {
		snprintf(err, JAIL_ERR_MAX, "cgroup path %s/%s too long", base, rel);
		return -ENAMETOOLONG;
	}
	for (char *p = path + strlen(base) + 1;; p++) {
		if (*p == '/' || !*p) {
			char c = *p;

			*p = '\0';
			if (!mkdir(path, 0755)) {
				if (created->n < ARRAY_SIZE(created->paths))
					snprintf(created->paths[created->n++], 256, "%s", path);
			} else if (errno != EEXIST) {
				int ret = -errno;

				snprintf(err, JAIL_ERR_MAX, "mkdir %s: %s", path, strerror(-ret));
				return ret;
			}
			*p = c;
			if (!c)
				break;
		}
	}
	snprintf(out, 256, "%s", path);
	return 0;
}

/* cpuset: a group with empty cpus or mems refuses tasks; inherit the parent's. */
static int cpuset_inherit(const char *dir, char err[JAIL_ERR_MAX])
{
	static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
	char parent[256], val[256];

	snprintf(parent, sizeof(parent), "%s", dir);
	*strrchr(parent, '/') = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		int ret;

		if (read_file(dir, files[i], val, sizeof(val)) || val[0])
			continue;
		if (read_file(parent, files[i], val, sizeof(val)))
			continue;
		if (!val[0] && (ret = cpuset_inherit(parent, err)))
			return ret;
		if (!val[0] && read_file(parent, files[i], val, sizeof(val)))
			continue;
		if ((ret = write_file(dir, files[i], val, err)))
			return ret;
	}
	return 0;
}

static void controller_of(const char *file, char out[64])
{
	size_t n = strcspn(file, ".");

	snprintf(out, 64, "%.*s", (int)(n < 63 ? n : 63), file);
}

static int join_v1(const struct jail_args *a, struct jail_created *created, char err[JAIL_ERR_MAX])
{
	char rel[256], pid[32];
	int ret;

	snprintf(rel, sizeof(rel), "%s/%s", a->parent_cgroup, a->id);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	for (unsigned int i = 0; i < a->nr_cgroups; i++) {
		char ctrl[64], mnt[256], dir[256];
		bool done = false;

		controller_of(a->cgroups[i].file, ctrl);
		/* Each controller once: values for all its files, then the pid. */
		for (unsigned int j = 0; j < i && !done; j++) {
			char other[64];

			controller_of(a->cgroups[j].file, other);
			done = !strcmp(other, ctrl);
		}
		if (done)
			continue;
		if (jail_cgroup_mount("/proc/mounts", ctrl, mnt)) {
			snprintf(err, JAIL_ERR_MAX, "no cgroup v1 hierarchy has the '%s' controller", ctrl);
			return -ENOENT;
		}
		if ((ret = mkdirs(mnt, rel, created, dir, err)))
			return ret;
		if (!strcmp(ctrl, "cpuset") && (ret = cpuset_inherit(dir, err)))
			return ret;
		for (unsigned int j = i; j < a->nr_cgroups; j++) {
			char other[64];

			controller_of(a->cgroups[j].file, other);
			if (!strcmp(other, ctrl) &&
			    (ret = write_file(dir, a->cgroups[j].file, a->cgroups[j].value, err)))
				return ret;
		}
		if ((ret = write_file(dir, "tasks", pid, err)))
			return ret;
	}
	return 0;
}

static int join_v2(const struct jail_args *a, struct jail_created *created, char err[JAIL_ERR_MAX])
{
	char mnt[256], rel[256], dir[256], pid[32], level[256];
	int ret;

	if (!a->nr_cgroups)
		return 0;
	if (jail_cgroup_mount("/proc/mounts", NULL, mnt)) {
		snprintf(err, JAIL_ERR_MAX, "no cgroup v2 hierarchy is mounted");
		return -ENOENT;
	}
	snprintf(rel, sizeof(rel), "%s/%s", a->parent_cgroup, a->id);
	if ((ret = mkdirs(mnt, rel, created, dir, err)))
		return ret;
	/* Enable each controller from the root down to the new group's parent. */
	for (unsigned int i = 0; i < a->nr_cgroups; i++) {
		char ctrl[64], plus[80];

		controller_of(a->cgroups[i].file, ctrl);
		if (!strcmp(ctrl, "cgroup"))
			continue; /* the core interface (cgroup.max.depth, ...) needs no controller */
		snprintf(plus, sizeof(plus), "+%s", ctrl);
		snprintf(level, sizeof(level), "%s", mnt);
		for (const char *p = rel;;) {
			const char *slash = strchr(p, '/');

			if ((ret = write_file(level, "cgroup.subtree_control", plus, err))) {
				snprintf(err, JAIL_ERR_MAX, "cgroup v2: cannot enable the '%s' controller in %s "
					 "(is it available in cgroup.controllers?)", ctrl, level);
				return ret;
			}
			if (!slash)
				break;
			snprintf(level + strlen(level), sizeof(level) - strlen(level), "/%.*s",
				 (int)(slash - p), p);
			p = slash + 1;
		}
	}
	for (unsigned int i = 0; i < a->nr_cgroups; i++)
		if ((ret = write_file(dir, a->cgroups[i].file, a->cgroups[i].value, err)))
			return ret;
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	return write_file(dir, "cgroup.procs", pid, err);
}

int jail_cgroups_join(const struct jail_args *args, struct jail_created *created, char err[JAIL_ERR_MAX])
{
	return args->cgroup_version == 2 ? join_v2(args, created, err) : join_v1(args, created, err);
}
