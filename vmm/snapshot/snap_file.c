/* vmstate files on disk, the heap state, and the human summary. */
#include "vmm/snapshot/snap_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Straight from mmap, not calloc: the state is megabytes of which a restore
 * uses a few pages, and calloc zeroes reused heap memory in full (a
 * millisecond here) where fresh anonymous pages are zero and untouched ones
 * cost nothing. */
struct snap_state *snap_state_new(void)
{
	void *p = mmap(NULL, sizeof(struct snap_state), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

void snap_state_free(struct snap_state *st)
{
	if (st)
		munmap(st, sizeof(*st));
}

int snap_read_file(const char *path, struct snap_state *st, char err[SNAP_ERR_MAX])
{
	struct stat sb;
	uint8_t *buf = NULL;
	size_t got = 0;
	char derr[SNAP_ERR_MAX];
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, SNAP_ERR_MAX, "%s: cannot open: %s", path, strerror(-ret));
		return ret;
	}
	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
		ret = S_ISDIR(sb.st_mode) ? -EISDIR : -EINVAL;
		snprintf(err, SNAP_ERR_MAX, "%s: not a regular file", path);
		goto out;
	}
	if ((uint64_t)sb.st_size > SNAP_FILE_MAX) {
		ret = -EFBIG;
		snprintf(err, SNAP_ERR_MAX, "%s: oversized: %lld bytes (the format allows %u)", path,
			 (long long)sb.st_size, SNAP_FILE_MAX);
		goto out;
	}
	buf = malloc(sb.st_size ? (size_t)sb.st_size : 1);
	if (!buf) {
		ret = -ENOMEM;
		snprintf(err, SNAP_ERR_MAX, "%s: out of memory", path);
		goto out;
	}
	while (got < (size_t)sb.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : -EIO;
			snprintf(err, SNAP_ERR_MAX, "%s: read: %s", path, n < 0 ? strerror(-ret) : "file shrank");
			goto out;
		}
		got += (size_t)n;
	}
	ret = snap_decode(buf, got, st, derr);
	if (ret)
		snprintf(err, SNAP_ERR_MAX, "%s: %s", path, derr);
out:
	free(buf);
	close(fd);
	return ret;
}

int snap_write_file(const char *path, const struct snap_state *st, char err[SNAP_ERR_MAX])
{
	uint8_t *img;
	size_t len, done = 0;
	char eerr[SNAP_ERR_MAX];
	int fd, ret = snap_encode(st, &img, &len, eerr);

	if (ret) {
		snprintf(err, SNAP_ERR_MAX, "%s", eerr);
		return ret;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, SNAP_ERR_MAX, "%s: cannot create: %s", path, strerror(-ret));
		free(img);
		return ret;
	}
	while (done < len) {
		ssize_t n = write(fd, img + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : -EIO;
			break;
		}
		done += (size_t)n;
	}
	if (!ret && fsync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	if (ret)
		snprintf(err, SNAP_ERR_MAX, "%s: write: %s", path, strerror(-ret));
	free(img);
	return ret;
}

static const char *snap_mp_state_name(uint32_t s)
{
	switch (s) {
	case KVM_MP_STATE_RUNNABLE: return "runnable";
	case KVM_MP_STATE_UNINITIALIZED: return "uninitialized";
	case KVM_MP_STATE_INIT_RECEIVED: return "init-received";
	case KVM_MP_STATE_HALTED: return "halted";
	case KVM_MP_STATE_SIPI_RECEIVED: return "sipi-received";
	default: return "other";
	}
}

void snap_describe(const struct snap_state *st, FILE *f)
{
	fprintf(f, "kiln snapshot, format version %d\n", SNAP_FORMAT_VERSION);
	fprintf(f, "machine: %u vCPU(s), %" PRIu64 " MiB, smt %s, track_dirty_pages %s, huge_pages %s\n",
		st->machine.vcpu_count, st->machine.mem_size_mib, st->machine.smt ? "on" : "off",
		st->machine.track_dirty_pages ? "on" : "off", st->machine.huge_pages ? "2M" : "None");
	for (uint32_t i = 0; i < st->memory.nr_regions; i++) {
		const struct snap_region *r = &st->memory.regions[i];

		fprintf(f, "memory region %u: gpa 0x%" PRIx64 "-0x%" PRIx64 " at file offset 0x%" PRIx64 "\n", i,
			r->gpa, r->gpa + r->size, r->file_offset);
	}
	for (uint32_t i = 0; i < st->nr_vcpus; i++) {
		const struct snap_vcpu *v = &st->vcpus[i];

		fprintf(f, "vcpu %u: rip 0x%llx cr0 0x%llx cr3 0x%llx efer 0x%llx %s, %u MSRs, %u CPUID entries, "
			"TSC %u kHz%s\n", v->id, v->regs.rip, v->sregs.cr0, v->sregs.cr3, v->sregs.efer,
			snap_mp_state_name(v->mp_state.mp_state), v->nr_msrs, v->nr_cpuid, v->tsc_khz,
			v->flags & SNAP_VCPU_XSAVE ? ", xsave" : ", fpu only");
	}
	fprintf(f, "kvmclock: %llu ns\n", (unsigned long long)st->vm.clock.clock);
	fprintf(f, "serial: lcr 0x%02x ier 0x%02x, %u byte(s) of input pending\n", st->serial.lcr, st->serial.ier,
		st->serial.rx_count);
	fprintf(f, "i8042: command byte 0x%02x\n", st->i8042.ctr);
	if (st->has_boot_timer)
		fprintf(f, "boot timer: %" PRIu64 " signal(s), boot at %" PRIu64 " us\n", st->boot_timer.writes,
			st->boot_timer.boot_us);
	for (uint32_t i = 0; i < st->nr_devices; i++) {
		const struct snap_virtio *d = &st->devices[i];

		fprintf(f, "device slot %u: %s, status 0x%x, %u queue(s)", d->slot, snap_section_name(d->type),
			d->transport.status, d->transport.nr_queues);
		if (d->type == SNAP_SEC_VIRTIO_BLK)
			fprintf(f, ", drive %s: %s (%s%s), %" PRIu64 " sectors%s", d->u.blk.drive_id,
				d->u.blk.path_on_host, d->u.blk.is_read_only ? "read-only" : "read-write",
				d->u.blk.is_root_device ? ", root" : "", d->u.blk.dev.capacity,
				d->u.blk.rate_limiter.bandwidth.size || d->u.blk.rate_limiter.ops.size ?
				", rate-limited" : "");
		else if (d->type == SNAP_SEC_VIRTIO_NET)
			fprintf(f, ", interface %s on TAP %s, %s%s", d->u.net.cfg.iface_id, d->u.net.cfg.host_dev_name,
				d->u.net.dev.rx_have ? "a received frame pending" : "no received frame pending",
				d->u.net.dev.tx_pending ? ", a frame to send pending" : "");
		else if (d->type == SNAP_SEC_VIRTIO_VSOCK)
			fprintf(f, ", guest CID %u, host socket %s", d->u.vsock.cfg.guest_cid, d->u.vsock.cfg.uds_path);
		else if (d->type == SNAP_SEC_VIRTIO_BALLOON)
			fprintf(f, ", target %u pages, %u inflated%s", d->u.balloon.dev.target_pages,
				d->u.balloon.dev.actual_pages, d->u.balloon.dev.stats_enabled ? ", statistics on" : "");
		else if (d->type == SNAP_SEC_VIRTIO_RNG)
			fprintf(f, "%s", d->u.rng.cfg.rate_limiter.bandwidth.size || d->u.rng.cfg.rate_limiter.ops.size ?
				", rate-limited" : "");
		fputc('\n', f);
	}
}
