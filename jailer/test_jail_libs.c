/* Finding what a binary loads, copying files, and finding cgroup mounts. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jailer/jailer.h"

struct found {
	char paths[64][256];
	int n;
};

static int collect(const char *path, void *opaque)
{
	struct found *f = opaque;

	if (f->n < 64)
		snprintf(f->paths[f->n++], 256, "%s", path);
	return 0;
}

static bool has_suffix(const struct found *f, const char *suffix)
{
	for (int i = 0; i < f->n; i++) {
		size_t a = strlen(f->paths[i]), b = strlen(suffix);

		if (a >= b && !strcmp(f->paths[i] + a - b, suffix))
			return true;
	}
	return false;
}

Test(jail_libs, dynamic_binary_needs_libc_and_the_loader)
{
	struct found f = { 0 };
	char err[JAIL_ERR_MAX] = "";

	cr_assert_eq(jail_elf_deps("/bin/true", collect, &f, err), 0, "%s", err);
	cr_assert(has_suffix(&f, "/libc.so.6"), "no libc among %d", f.n);
	cr_assert(has_suffix(&f, "/ld-linux-x86-64.so.2"), "no loader among %d", f.n);
	for (int i = 0; i < f.n; i++) {
		cr_assert_eq(f.paths[i][0], '/');
		for (int k = 0; k < i; k++)
			cr_assert_str_neq(f.paths[i], f.paths[k], "reported twice");
	}
}

Test(jail_libs, recursive_needs_are_followed)
{
	/* curl -> libcurl -> (libssl, libz, ...): more than its direct needs */
	struct found f = { 0 };
	char err[JAIL_ERR_MAX] = "";

	cr_assert_eq(jail_elf_deps("/usr/bin/curl", collect, &f, err), 0, "%s", err);
	cr_assert(has_suffix(&f, "/libcurl.so.4"));
	cr_assert(has_suffix(&f, "/libz.so.1"), "libz comes through libcurl");
}

Test(jail_libs, static_binary_needs_nothing)
{
	struct found f = { 0 };
	char err[JAIL_ERR_MAX] = "";

	cr_assert_eq(jail_elf_deps("/bin/busybox", collect, &f, err), 0, "%s", err);
	cr_assert_eq(f.n, 0);
}

Test(jail_libs, not_elf_is_refused)
{
	struct found f = { 0 };
	char err[JAIL_ERR_MAX] = "";
	char path[] = "/tmp/kiln-jail-test-XXXXXX";
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "#!/bin/sh\necho hi\n" "................................................"
			       "................", 66), 66);
	close(fd);
	cr_assert_eq(jail_elf_deps(path, collect, &f, err), -ENOEXEC);
	cr_assert(strstr(err, "not an ELF file") || strstr(err, "not an x86-64 ELF64"), "%s", err);
	cr_assert_eq(jail_elf_deps("/nonexistent", collect, &f, err), -ENOENT);
	unlink(path);
}

Test(jail_libs, truncated_elf_is_refused)
{
	char path[] = "/tmp/kiln-jail-test-XXXXXX";
	int in = open("/bin/true", O_RDONLY), out = mkstemp(path);
	char buf[200];
	struct found f = { 0 };
	char err[JAIL_ERR_MAX] = "";

	cr_assert_eq(read(in, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	cr_assert_eq(write(out, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	close(in);
	close(out);
	cr_assert_neq(jail_elf_deps(path, collect, &f, err), 0);
	unlink(path);
}

Test(jail_libs, copy_file_is_exclusive_and_exact)
{
	char dir[] = "/tmp/kiln-jail-copy-XXXXXX", dst[300], err[JAIL_ERR_MAX];
	struct stat a, b;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(dst, sizeof(dst), "%s/true", dir);
	cr_assert_eq(jail_copy_file("/bin/true", dst, 0555, err), 0, "%s", err);
	cr_assert_eq(stat("/bin/true", &a), 0);
	cr_assert_eq(stat(dst, &b), 0);
	cr_assert_eq(a.st_size, b.st_size);
	cr_assert_eq(b.st_mode & 07777, 0555);
	{
		FILE *fa = fopen("/bin/true", "rb"), *fb = fopen(dst, "rb");
		int ca, cb;

		cr_assert(fa && fb);
		do {
			ca = fgetc(fa);
			cb = fgetc(fb);
			cr_assert_eq(ca, cb, "the copy differs");
		} while (ca != EOF);
		fclose(fa);
		fclose(fb);
	}
	cr_assert_eq(jail_copy_file("/bin/true", dst, 0555, err), -EEXIST);
	cr_assert(strstr(err, dst), "%s", err);
	unlink(dst);
	rmdir(dir);
}

Test(jail_libs, cgroup_mounts_are_found_by_controller)
{
	char path[] = "/tmp/kiln-jail-mounts-XXXXXX", out[256];
	int fd = mkstemp(path);
	const char text[] =
		"proc /proc proc rw 0 0\n"
		"cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,relatime,cpu,cpuacct 0 0\n"
		"cgroup /sys/fs/cgroup/pids cgroup rw,relatime,pids 0 0\n"
		"cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0\n";

	cr_assert_eq(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
	close(fd);
	cr_assert_eq(jail_cgroup_mount(path, "pids", out), 0);
	cr_assert_str_eq(out, "/sys/fs/cgroup/pids");
	cr_assert_eq(jail_cgroup_mount(path, "cpuacct", out), 0);
	cr_assert_str_eq(out, "/sys/fs/cgroup/cpu,cpuacct");
	cr_assert_eq(jail_cgroup_mount(path, "memory", out), -ENOENT);
	cr_assert_eq(jail_cgroup_mount(path, NULL, out), 0);
	cr_assert_str_eq(out, "/sys/fs/cgroup/unified");
	unlink(path);
}
