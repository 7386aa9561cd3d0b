/*
 * The memory side of snapshots: the memory file (Full: every page that is not
 * all zeros; Diff: the dirty pages), and for a restore the layout check, the
 * memory file's size check and the Uffd backend's handshake.  See snapshot.h.
 */
#include "vmm/core/snapshot_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm/boot/layout.h"
#include "vmm/log/log.h"

#define PAGE SNAP_PAGE_SIZE
/* Full snapshots skip all-zero runs of this size (they stay holes). */
#define ZERO_CHUNK (64u << 10)

/* The guest RAM regions in file order, as the vmstate records them. */
void snapshot_mem_layout(const struct vm *vm, struct snap_memory *m)
{
	static const uint64_t gpas[2] = { 0, LAYOUT_MMIO_GAP_END };
	uint64_t off = 0;

	memset(m, 0, sizeof(*m));
	m->page_size = PAGE;
	for (unsigned int slot = 0; slot < 2; slot++) {
		if (!vm->ram[slot])
			continue;
		m->regions[m->nr_regions++] = (struct snap_region){ gpas[slot], vm->ram_size[slot], off };
		off += vm->ram_size[slot];
	}
}

static int pwrite_all(int fd, const uint8_t *p, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static bool all_zero(const uint8_t *p, size_t len)
{
	const uint64_t *w = (const uint64_t *)p;

	for (size_t i = 0; i < len / 8; i++)
		if (w[i])
			return false;
	return true;
}

/* One dirty bitmap per region, a bit per page. */
struct snap_dirty {
	uint64_t *bits[2];
	uint64_t pages[2];
};

static void snap_dirty_free(struct snap_dirty *d)
{
	free(d->bits[0]);
	free(d->bits[1]);
}

/* The gmem region of RAM slot s (the regions are sorted by gpa, the slots
 * are not necessarily both there): its index, or -1. */
static int snap_gmem_region(const struct vm *vm, unsigned int s)
{
	for (unsigned int i = 0; i < vm->mem.nr_regions; i++)
		if (vm->mem.regions[i].host == vm->ram[s])
			return (int)i;
	return -1;
}

/*
 * The pages written since the last snapshot: KVM_GET_DIRTY_LOG for each slot
 * (the guest's own writes; the ioctl also clears KVM's log) ORed with gmem's
 * dirty bitmap (the VMM's and its devices' writes: used rings, receive
 * buffers, block reads, discarded balloon pages; gmem.h says why none is
 * missed), which the take clears too.  With d == NULL both are only cleared.
 */
static int snap_dirty_fetch(struct vm *vm, struct snap_dirty *d)
{
	for (unsigned int s = 0; s < 2; s++) {
		uint64_t pages = vm->ram_size[s] / PAGE, words = (pages + 63) / 64;
		struct kvm_dirty_log log = { .slot = s };
		int region = snap_gmem_region(vm, s);
		uint64_t *bits;

		if (!vm->ram[s])
			continue;
		bits = calloc(words ? words : 1, 8);
		if (!bits)
			return -ENOMEM;
		log.dirty_bitmap = bits;
		if (ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &log)) {
			int ret = -errno;

			free(bits);
			return ret;
		}
		if (region >= 0 && gmem_dirty_enabled(&vm->mem)) {
			int ret = gmem_dirty_take(&vm->mem, (unsigned int)region, bits);

			if (ret) {
				free(bits);
				return ret;
			}
		}
		if (d) {
			d->bits[s] = bits;
			d->pages[s] = pages;
		} else {
			free(bits);
		}
	}
	return 0;
}

int snapshot_mem_track(struct vm *vm, char err[VM_ERR_MAX])
{
	int ret;

	if (!vm->dirty_log || gmem_dirty_enabled(&vm->mem))
		return 0;
	ret = gmem_dirty_enable(&vm->mem);
	if (ret)
		snprintf(err, VM_ERR_MAX, "dirty page tracking: %s", strerror(-ret));
	return ret;
}

/* Whether any page of [p, p + len) of anonymous RAM was ever touched (or is
 * swapped out), from /proc/self/pagemap; true when pagemap is unreadable.
 * Untouched anonymous pages read as zeros, and reading them is what makes a
 * Full snapshot of a large, mostly idle guest slow (each read faults). */
static bool snap_touched(int pagemap, const uint8_t *p, size_t len)
{
	uint64_t ent[ZERO_CHUNK / PAGE];
	size_t n = len / PAGE;

	if (pagemap < 0 || n > ARRAY_SIZE(ent) ||
	    pread(pagemap, ent, n * 8, (off_t)((uintptr_t)p / PAGE * 8)) != (ssize_t)(n * 8))
		return true;
	for (size_t i = 0; i < n; i++)
		if (ent[i] & (3ULL << 62)) /* present or swapped */
			return true;
	return false;
}

static int snap_write_full(struct vm *vm, int fd, uint64_t *written)
{
	/* Only fresh anonymous RAM reads as zeros where untouched: a restored
	 * VM's holds the memory file's bytes there (File backend: the page
	 * cache; Uffd: the page server fills them on first touch). */
	bool anon = !vm->ram_from_file && vm->mem_uffd < 0;
	int pagemap = anon ? open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC) : -1;
	uint64_t off = 0;
	int ret = 0;

	for (unsigned int s = 0; s < 2; s++) {
		const uint8_t *ram = vm->ram[s];

		if (!ram)
			continue;
		for (uint64_t o = 0; o < vm->ram_size[s]; o += ZERO_CHUNK) {
			size_t n = vm->ram_size[s] - o < ZERO_CHUNK ? (size_t)(vm->ram_size[s] - o) : ZERO_CHUNK;

			if ((anon && !snap_touched(pagemap, ram + o, n)) || all_zero(ram + o, n))
				continue;
			ret = pwrite_all(fd, ram + o, n, off + o);
			if (ret)
				goto out;
			*written += n;
		}
		off += vm->ram_size[s];
	}
out:
	if (pagemap >= 0)
		close(pagemap);
	return ret;
}

static int snap_write_diff(struct vm *vm, int fd, const struct snap_dirty *d, uint64_t *written)
{
	uint64_t off = 0;

	for (unsigned int s = 0; s < 2; s++) {
		if (!vm->ram[s])
			continue;
		for (uint64_t p = 0; p < d->pages[s]; p++) {
			uint64_t run = 0;
			int ret;

			while (p + run < d->pages[s] && (d->bits[s][(p + run) / 64] >> ((p + run) % 64) & 1))
				run++;
			if (!run)
				continue;
			ret = pwrite_all(fd, (const uint8_t *)vm->ram[s] + p * PAGE, run * PAGE, off + p * PAGE);
			if (ret)
				return ret;
			*written += run * PAGE;
			p += run;
		}
		off += vm->ram_size[s];
	}
	return 0;
}

int snapshot_mem_write(struct vm *vm, const struct snapshot_create_params *p, char err[VM_ERR_MAX])
{
	struct snap_dirty d = { 0 };
	uint64_t total = vm->ram_size[0] + vm->ram_size[1], written = 0;
	char tmp[CONFIG_PATH_MAX + 16];
	int fd, ret;

	/* Without gmem's tracking since the last snapshot (a VM built before
	 * anything enabled it), the devices' writes are unknown: the Diff then
	 * holds every page a Full would, which is correct, only larger. */
	bool exact = gmem_dirty_enabled(&vm->mem);

	if (p->type == SNAPSHOT_DIFF) {
		ret = snap_dirty_fetch(vm, &d);
		if (ret) {
			snap_dirty_free(&d);
			snprintf(err, VM_ERR_MAX, "KVM_GET_DIRTY_LOG: %s", strerror(-ret));
			return ret;
		}
		if (!exact)
			LOG_WARN("snapshot: device writes were not tracked since the VM was built: the Diff "
				 "holds every non-zero page");
	}
	/* Written beside the target and renamed over it when complete: a VM
	 * restored from that very file keeps its mapping of the old one, and a
	 * failed snapshot leaves the old file as it was. */
	snprintf(tmp, sizeof(tmp), "%s.kiln-tmp", p->mem_file_path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0) {
		ret = -errno;
		snap_dirty_free(&d);
		snprintf(err, VM_ERR_MAX, "memory file %s: %s", tmp, strerror(-ret));
		return ret;
	}
	ret = ftruncate(fd, (off_t)total) ? -errno : 0;
	if (!ret)
		ret = p->type == SNAPSHOT_DIFF && exact ? snap_write_diff(vm, fd, &d, &written)
							: snap_write_full(vm, fd, &written);
	if (!ret && fsync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, p->mem_file_path))
		ret = -errno;
	if (ret)
		unlink(tmp);
	snap_dirty_free(&d);
	if (ret) {
		snprintf(err, VM_ERR_MAX, "memory file %s: %s", p->mem_file_path, strerror(-ret));
		return ret;
	}
	/* A Full snapshot is the new base for the next Diff. */
	if (p->type == SNAPSHOT_FULL && vm->dirty_log && (ret = snap_dirty_fetch(vm, NULL))) {
		snprintf(err, VM_ERR_MAX, "KVM_GET_DIRTY_LOG: %s", strerror(-ret));
		return ret;
	}
	/* From now on the next Diff knows every write (a no-op once on). */
	ret = snapshot_mem_track(vm, err);
	if (ret)
		return ret;
	LOG_INFO("snapshot: %s memory file %s: %" PRIu64 " KiB of %" PRIu64 " MiB written",
		 p->type == SNAPSHOT_DIFF ? "Diff" : "Full", p->mem_file_path, written >> 10, total >> 20);
	return 0;
}

/* Firecracker's handshake: the region layout as JSON, the userfaultfd as
 * SCM_RIGHTS, one message on a stream socket to backend_path. */
static int snap_uffd_send(struct vm *vm, const struct snap_memory *m, const char *path, int uffd,
			  char err[VM_ERR_MAX])
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char msg[1024], ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = msg };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	struct cmsghdr *c;
	size_t n = 0;
	int fd;

	n += (size_t)snprintf(msg + n, sizeof(msg) - n, "[");
	for (uint32_t i = 0, s = 0; i < m->nr_regions && n < sizeof(msg); i++, s++) {
		while (!vm->ram[s])
			s++;
		n += (size_t)snprintf(msg + n, sizeof(msg) - n,
				      "%s{\"base_host_virt_addr\":%" PRIu64 ",\"size\":%" PRIu64 ",\"offset\":%" PRIu64
				      ",\"page_size\":%u,\"page_size_kib\":%u}", i ? "," : "",
				      (uint64_t)(uintptr_t)vm->ram[s], m->regions[i].size, m->regions[i].file_offset,
				      PAGE, PAGE >> 10);
	}
	if (n >= sizeof(msg) - 2 || strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, VM_ERR_MAX, "Uffd backend: socket path or layout too long");
		return -ENAMETOOLONG;
	}
	n += (size_t)snprintf(msg + n, sizeof(msg) - n, "]");
	iov.iov_len = n;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int ret = -errno;

		if (fd >= 0)
			close(fd);
		snprintf(err, VM_ERR_MAX, "Uffd backend: cannot connect to %s: %s", path, strerror(-ret));
		return ret;
	}
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &uffd, sizeof(int));
	if (sendmsg(fd, &mh, MSG_NOSIGNAL) != (ssize_t)n) {
		int ret = -errno;

		close(fd);
		snprintf(err, VM_ERR_MAX, "Uffd backend: sending to %s: %s", path, strerror(ret ? -ret : EIO));
		return ret ? ret : -EIO;
	}
	vm->mem_handler_conn = fd; /* the handler sees kiln exit when it closes */
	return 0;
}

int snapshot_mem_uffd(struct vm *vm, const struct snap_memory *m, const char *path, char err[VM_ERR_MAX])
{
	struct uffdio_api api = { .api = UFFD_API };
	int uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK), ret;

	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api)) {
		ret = -errno;
		if (uffd >= 0)
			close(uffd);
		snprintf(err, VM_ERR_MAX, "Uffd backend: userfaultfd: %s", strerror(-ret));
		return ret;
	}
	for (unsigned int s = 0; s < 2; s++) {
		struct uffdio_register reg = {
			.range = { .start = (uintptr_t)vm->ram[s], .len = vm->ram_size[s] },
			.mode = UFFDIO_REGISTER_MODE_MISSING,
		};

		if (vm->ram[s] && ioctl(uffd, UFFDIO_REGISTER, &reg)) {
			ret = -errno;
			close(uffd);
			snprintf(err, VM_ERR_MAX, "Uffd backend: UFFDIO_REGISTER: %s", strerror(-ret));
			return ret;
		}
	}
	vm->mem_uffd = uffd;
	return snap_uffd_send(vm, m, path, uffd, err);
}

/* The snapshot's regions must be the ones kiln lays out for its memory size
 * (the memory file was mapped by that layout): a crafted file could claim
 * others. */
int snapshot_mem_check_layout(const struct vm *vm, const struct snap_memory *saved, char err[VM_ERR_MAX])
{
	struct snap_memory built;

	snapshot_mem_layout(vm, &built);
	if (built.nr_regions != saved->nr_regions ||
	    memcmp(built.regions, saved->regions, built.nr_regions * sizeof(built.regions[0]))) {
		snprintf(err, VM_ERR_MAX, "memory: the snapshot's %u region(s) are not the layout of a %llu MiB "
			 "kiln VM", saved->nr_regions, (unsigned long long)((vm->ram_size[0] + vm->ram_size[1]) >> 20));
		return -EINVAL;
	}
	return 0;
}

/* The memory file must hold every region: a shorter one would fault the
 * guest (SIGBUS on kiln's own accesses) past its end. */
int snapshot_mem_open(const char *path, uint64_t need, char err[VM_ERR_MAX])
{
	struct stat sb;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0) {
		int ret = -errno;

		snprintf(err, VM_ERR_MAX, "memory file %s: %s", path, strerror(-ret));
		return ret;
	}
	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode) || (uint64_t)sb.st_size < need) {
		snprintf(err, VM_ERR_MAX, "memory file %s: %lld bytes, the snapshot's memory needs %" PRIu64
			 " (a regular file of the guest's memory size)", path, (long long)sb.st_size, need);
		close(fd);
		return -EINVAL;
	}
	return fd;
}
