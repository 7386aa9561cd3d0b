/*
 * What a dynamically linked binary loads, so the jail can hold exactly that;
 * see jailer.h.  A small ELF64 reader: the interpreter (PT_INTERP) and the
 * DT_NEEDED names, found along DT_RUNPATH/DT_RPATH ($ORIGIN expanded) and the
 * system library directories, as the loader does for a binary without
 * LD_LIBRARY_PATH (the jailer clears the environment).  Every offset read
 * from a file is bounds-checked before use.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jailer/jailer.h"

#define JAIL_LIBS_MAX 64

static const char *const system_dirs[] = {
	"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64",
	"/lib", "/usr/lib", "/usr/local/lib",
};

struct elf_file {
	const uint8_t *data;
	size_t size;
	const Elf64_Ehdr *eh;
};

struct walk {
	char seen[JAIL_LIBS_MAX][PATH_MAX];
	unsigned int n;
	int (*fn)(const char *path, void *opaque);
	void *opaque;
	char *err;
};

static bool in_file(const struct elf_file *f, uint64_t off, uint64_t len)
{
	return off <= f->size && len <= f->size - off;
}

static int elf_open(const char *path, struct elf_file *f, char err[JAIL_ERR_MAX])
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	memset(f, 0, sizeof(*f));
	if (fd < 0 || fstat(fd, &st)) {
		int ret = -errno;

		snprintf(err, JAIL_ERR_MAX, "%s: %s", path, strerror(-ret));
		if (fd >= 0)
			close(fd);
		return ret;
	}
	if (!S_ISREG(st.st_mode) || st.st_size < (off_t)sizeof(Elf64_Ehdr)) {
		close(fd);
		snprintf(err, JAIL_ERR_MAX, "%s: not an ELF file", path);
		return -ENOEXEC;
	}
	f->size = (size_t)st.st_size;
	f->data = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (f->data == MAP_FAILED) {
		f->data = NULL;
		snprintf(err, JAIL_ERR_MAX, "%s: mmap: %s", path, strerror(errno));
		return -errno;
	}
	f->eh = (const Elf64_Ehdr *)f->data;
	if (memcmp(f->eh->e_ident, ELFMAG, SELFMAG) || f->eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    f->eh->e_ident[EI_DATA] != ELFDATA2LSB || f->eh->e_machine != EM_X86_64 ||
	    f->eh->e_phentsize != sizeof(Elf64_Phdr) ||
	    !in_file(f, f->eh->e_phoff, (uint64_t)f->eh->e_phnum * sizeof(Elf64_Phdr))) {
		munmap((void *)f->data, f->size);
		f->data = NULL;
		snprintf(err, JAIL_ERR_MAX, "%s: not an x86-64 ELF64 file", path);
		return -ENOEXEC;
	}
	return 0;
}

static void elf_close(struct elf_file *f)
{
	if (f->data)
		munmap((void *)f->data, f->size);
	f->data = NULL;
}

static const Elf64_Phdr *elf_phdr(const struct elf_file *f, unsigned int i)
{
	return (const Elf64_Phdr *)(f->data + f->eh->e_phoff) + i;
}

/* File offset of a virtual address, through the PT_LOAD that maps it. */
static int elf_vaddr_off(const struct elf_file *f, uint64_t vaddr, uint64_t *off)
{
	for (unsigned int i = 0; i < f->eh->e_phnum; i++) {
		const Elf64_Phdr *p = elf_phdr(f, i);

		if (p->p_type == PT_LOAD && vaddr >= p->p_vaddr && vaddr - p->p_vaddr < p->p_filesz) {
			*off = p->p_offset + (vaddr - p->p_vaddr);
			return 0;
		}
	}
	return -ENOEXEC;
}

/* A NUL-terminated string at off inside [start, start + len) of the file. */
static const char *elf_str(const struct elf_file *f, uint64_t start, uint64_t len, uint64_t off)
{
	if (!in_file(f, start, len) || off >= len)
		return NULL;
	if (!memchr(f->data + start + off, '\0', len - off))
		return NULL;
	return (const char *)f->data + start + off;
}

static int walk_file(struct walk *w, const char *path);

static bool is_elf64(const char *path)
{
	char err[JAIL_ERR_MAX];
	struct elf_file f;

	if (elf_open(path, &f, err))
		return false;
	elf_close(&f);
	return true;
}

/* Tries dir/name; on success writes the path to out. */
static bool try_dir(const char *dir, size_t dirlen, const char *name, char out[PATH_MAX])
{
	struct stat st;

	if (snprintf(out, PATH_MAX, "%.*s/%s", (int)dirlen, dir, name) >= PATH_MAX)
		return false;
	return !stat(out, &st) && S_ISREG(st.st_mode) && is_elf64(out);
}

/* Searches a colon-separated path list ($ORIGIN = origin). */
static bool try_list(const char *list, const char *origin, const char *name, char out[PATH_MAX])
{
	const char *p = list;

	while (*p) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char dir[PATH_MAX];

		if (len >= 7 && !strncmp(p, "$ORIGIN", 7))
			snprintf(dir, sizeof(dir), "%s%.*s", origin, (int)(len - 7), p + 7);
		else
			snprintf(dir, sizeof(dir), "%.*s", (int)len, p);
		if (len && try_dir(dir, strlen(dir), name, out))
			return true;
		p += len + (end ? 1 : 0);
	}
	return false;
}

static int resolve(const char *name, const char *runpath, const char *origin, char out[PATH_MAX])
{
	if (strchr(name, '/')) {
		snprintf(out, PATH_MAX, "%s", name);
		return is_elf64(out) ? 0 : -ENOENT;
	}
	if (runpath && try_list(runpath, origin, name, out))
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(system_dirs); i++)
		if (try_dir(system_dirs[i], strlen(system_dirs[i]), name, out))
			return 0;
	return -ENOENT;
}

static int walk_needed(struct walk *w, const struct elf_file *f, const char *path)
{
	const Elf64_Phdr *dyn = NULL;
	const Elf64_Dyn *d;
	uint64_t ndyn, strtab = 0, strsz = 0, stroff;
	const char *runpath = NULL;
	char origin[PATH_MAX];
	char *slash;
	bool have_strtab = false;

	for (unsigned int i = 0; i < f->eh->e_phnum; i++)
		if (elf_phdr(f, i)->p_type == PT_DYNAMIC)
			dyn = elf_phdr(f, i);
	if (!dyn)
		return 0; /* static: needs nothing */
	if (!in_file(f, dyn->p_offset, dyn->p_filesz)) {
		snprintf(w->err, JAIL_ERR_MAX, "%s: PT_DYNAMIC outside the file", path);
		return -ENOEXEC;
	}
	d = (const Elf64_Dyn *)(f->data + dyn->p_offset);
	ndyn = dyn->p_filesz / sizeof(Elf64_Dyn);
	for (uint64_t i = 0; i < ndyn && d[i].d_tag != DT_NULL; i++) {
		if (d[i].d_tag == DT_STRTAB) {
			strtab = d[i].d_un.d_ptr;
			have_strtab = true;
		} else if (d[i].d_tag == DT_STRSZ) {
			strsz = d[i].d_un.d_val;
		}
	}
	if (!have_strtab || elf_vaddr_off(f, strtab, &stroff) || !in_file(f, stroff, strsz)) {
		snprintf(w->err, JAIL_ERR_MAX, "%s: no usable DT_STRTAB", path);
		return -ENOEXEC;
	}
	for (uint64_t i = 0; i < ndyn && d[i].d_tag != DT_NULL; i++)
		if (d[i].d_tag == DT_RUNPATH || (d[i].d_tag == DT_RPATH && !runpath))
			runpath = elf_str(f, stroff, strsz, d[i].d_un.d_val);
	snprintf(origin, sizeof(origin), "%s", path);
	slash = strrchr(origin, '/');
	if (slash)
		*slash = '\0';
	for (uint64_t i = 0; i < ndyn && d[i].d_tag != DT_NULL; i++) {
		const char *name;
		char found[PATH_MAX];
		int ret;

		if (d[i].d_tag != DT_NEEDED)
			continue;
		name = elf_str(f, stroff, strsz, d[i].d_un.d_val);
		if (!name) {
			snprintf(w->err, JAIL_ERR_MAX, "%s: DT_NEEDED outside its string table", path);
			return -ENOEXEC;
		}
		if (resolve(name, runpath, origin, found)) {
			snprintf(w->err, JAIL_ERR_MAX, "%s needs %s, which is nowhere on the library path",
				 path, name);
			return -ENOENT;
		}
		if ((ret = walk_file(w, found)))
			return ret;
	}
	return 0;
}

static int walk_file(struct walk *w, const char *path)
{
	struct elf_file f;
	int ret;

	for (unsigned int i = 0; i < w->n; i++)
		if (!strcmp(w->seen[i], path))
			return 0;
	if (w->n == JAIL_LIBS_MAX) {
		snprintf(w->err, JAIL_ERR_MAX, "more than %d shared libraries", JAIL_LIBS_MAX);
		return -E2BIG;
	}
	snprintf(w->seen[w->n++], PATH_MAX, "%s", path);
	if ((ret = elf_open(path, &f, w->err)))
		return ret;
	ret = walk_needed(w, &f, path);
	elf_close(&f);
	if (!ret)
		ret = w->fn(path, w->opaque);
	return ret;
}

int jail_elf_deps(const char *path, int (*fn)(const char *path, void *opaque), void *opaque,
		  char err[JAIL_ERR_MAX])
{
	struct walk *w = calloc(1, sizeof(*w));
	struct elf_file f;
	const char *interp = NULL;
	int ret;

	if (!w)
		return -ENOMEM;
	w->fn = fn;
	w->opaque = opaque;
	w->err = err;
	/* The binary itself is copied by the caller: mark it seen, walk its needs. */
	snprintf(w->seen[w->n++], PATH_MAX, "%s", path);
	ret = elf_open(path, &f, err);
	if (ret)
		goto out;
	for (unsigned int i = 0; i < f.eh->e_phnum; i++) {
		const Elf64_Phdr *p = elf_phdr(&f, i);

		if (p->p_type == PT_INTERP) {
			interp = elf_str(&f, p->p_offset, p->p_filesz, 0);
			if (!interp) {
				snprintf(err, JAIL_ERR_MAX, "%s: bad PT_INTERP", path);
				ret = -ENOEXEC;
			}
		}
	}
	if (!ret && interp)
		ret = walk_file(w, interp);
	if (!ret)
		ret = walk_needed(w, &f, path);
	elf_close(&f);
out:
	free(w);
	return ret;
}

int jail_copy_file(const char *src, const char *dst, mode_t mode, char err[JAIL_ERR_MAX])
{
	char buf[65536];
	int in, out, ret = 0;
	ssize_t n;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		ret = -errno;
		snprintf(err, JAIL_ERR_MAX, "%s: %s", src, strerror(-ret));
		return ret;
	}
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (out < 0) {
		ret = -errno;
		snprintf(err, JAIL_ERR_MAX, "%s: %s", dst, strerror(-ret));
		close(in);
		return ret;
	}
	/* In-kernel copy first (no round trip through this buffer); plain
	 * read/write where the file systems cannot do that. */
	while ((n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0)) > 0)
		;
	if (n < 0 && errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP) {
		ret = -errno;
		goto out;
	}
	if (n < 0)
		n = read(in, buf, sizeof(buf)); /* offsets are past what was copied */
	for (; n > 0; n = read(in, buf, sizeof(buf))) {
		for (ssize_t done = 0; done < n;) {
			ssize_t w = write(out, buf + done, (size_t)(n - done));

			if (w < 0) {
				ret = -errno;
				goto out;
			}
			done += w;
		}
	}
	if (n < 0)
		ret = -errno;
	if (!ret && fchmod(out, mode))
		ret = -errno;
out:
	if (ret)
		snprintf(err, JAIL_ERR_MAX, "copying %s to %s: %s", src, dst, strerror(-ret));
	close(in);
	if (close(out) && !ret) {
		ret = -errno;
		snprintf(err, JAIL_ERR_MAX, "%s: %s", dst, strerror(-ret));
	}
	return ret;
}
