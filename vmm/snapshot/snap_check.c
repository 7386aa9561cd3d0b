/* Self-consistency of a snap_state, shared by the encoder and the decoder. */
#include "vmm/snapshot/snap_priv.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

int snap_fail(char err[SNAP_ERR_MAX], const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, SNAP_ERR_MAX, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool snap_id_ok(const char *id)
{
	size_t n = strlen(id);

	if (n < 1 || n > CONFIG_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

static int snap_check_memory(const struct snap_state *st, char err[SNAP_ERR_MAX])
{
	const struct snap_memory *m = &st->memory;
	uint64_t total = 0, prev_end = 0;

	if (m->page_size != SNAP_PAGE_SIZE)
		return snap_fail(err, "memory: page size %u (kiln uses %u)", m->page_size, SNAP_PAGE_SIZE);
	if (m->nr_regions < 1 || m->nr_regions > SNAP_MAX_REGIONS)
		return snap_fail(err, "memory: %u regions (1 to %d allowed)", m->nr_regions, SNAP_MAX_REGIONS);
	for (uint32_t i = 0; i < m->nr_regions; i++) {
		const struct snap_region *r = &m->regions[i];

		if (!r->size || (r->size | r->gpa) % SNAP_PAGE_SIZE)
			return snap_fail(err, "memory: region %u (gpa 0x%llx, size 0x%llx) is empty or not page-aligned",
					 i, (unsigned long long)r->gpa, (unsigned long long)r->size);
		if (r->gpa + r->size < r->gpa || (i && r->gpa < prev_end))
			return snap_fail(err, "memory: region %u (gpa 0x%llx) overlaps or wraps", i,
					 (unsigned long long)r->gpa);
		if (r->file_offset != total)
			return snap_fail(err, "memory: region %u at file offset 0x%llx, expected 0x%llx", i,
					 (unsigned long long)r->file_offset, (unsigned long long)total);
		prev_end = r->gpa + r->size;
		total += r->size;
	}
	if (total != st->machine.mem_size_mib << 20)
		return snap_fail(err, "memory: regions hold %llu bytes but mem_size_mib is %llu",
				 (unsigned long long)total, (unsigned long long)st->machine.mem_size_mib);
	return 0;
}

static int snap_check_vcpus(const struct snap_state *st, char err[SNAP_ERR_MAX])
{
	uint64_t seen = 0;

	if (st->nr_vcpus != st->machine.vcpu_count)
		return snap_fail(err, "%u vcpu sections for vcpu_count %u", st->nr_vcpus, st->machine.vcpu_count);
	for (uint32_t i = 0; i < st->nr_vcpus; i++) {
		const struct snap_vcpu *v = &st->vcpus[i];

		if (v->id >= st->machine.vcpu_count || (seen & (1ULL << v->id)))
			return snap_fail(err, "vcpu: id %u repeated or not below vcpu_count %u", v->id,
					 st->machine.vcpu_count);
		seen |= 1ULL << v->id;
		if (v->flags & ~SNAP_VCPU_FLAGS_ALL)
			return snap_fail(err, "vcpu %u: unknown flags 0x%x", v->id, v->flags);
		if (v->nr_msrs > SNAP_MAX_MSRS)
			return snap_fail(err, "vcpu %u: %u MSRs (at most %d)", v->id, v->nr_msrs, SNAP_MAX_MSRS);
		if (v->nr_cpuid > SNAP_MAX_CPUID)
			return snap_fail(err, "vcpu %u: %u CPUID entries (at most %d)", v->id, v->nr_cpuid,
					 SNAP_MAX_CPUID);
		if (!(v->flags & SNAP_VCPU_CPUID) != !v->nr_cpuid)
			return snap_fail(err, "vcpu %u: CPUID flag and %u entries disagree", v->id, v->nr_cpuid);
	}
	return 0;
}

static int snap_check_device(const struct snap_virtio *d, char err[SNAP_ERR_MAX])
{
	if (d->slot >= SNAP_MAX_DEVICES)
		return snap_fail(err, "%s: slot %u out of range", snap_section_name(d->type), d->slot);
	if (d->transport.nr_queues > VIRTIO_MAX_QUEUES)
		return snap_fail(err, "%s in slot %u: %u queues (at most %d)", snap_section_name(d->type), d->slot,
				 d->transport.nr_queues, VIRTIO_MAX_QUEUES);
	switch (d->type) {
	case SNAP_SEC_VIRTIO_BLK:
		if (!snap_id_ok(d->u.blk.drive_id))
			return snap_fail(err, "virtio-blk in slot %u: bad drive_id", d->slot);
		if (!d->u.blk.path_on_host[0])
			return snap_fail(err, "virtio-blk %s: empty path_on_host", d->u.blk.drive_id);
		if (d->u.blk.dev.broken > 1)
			return snap_fail(err, "virtio-blk %s: broken flag %u", d->u.blk.drive_id, d->u.blk.dev.broken);
		if (d->u.blk.cache_type > DRIVE_CACHE_WRITEBACK || d->u.blk.io_engine > DRIVE_IO_ASYNC)
			return snap_fail(err, "virtio-blk %s: unknown cache_type %u or io_engine %u",
					 d->u.blk.drive_id, d->u.blk.cache_type, d->u.blk.io_engine);
		return 0;
	default:
		return snap_fail(err, "device section type %u is not a device kind", d->type);
	}
}

int snap_state_check(const struct snap_state *st, char err[SNAP_ERR_MAX])
{
	const struct snap_machine *m = &st->machine;
	uint64_t slots = 0;
	unsigned int roots = 0;
	int ret;

	if (m->vcpu_count < 1 || m->vcpu_count > SNAP_MAX_VCPUS)
		return snap_fail(err, "machine: vcpu_count %u out of range 1..%d", m->vcpu_count, SNAP_MAX_VCPUS);
	if (m->mem_size_mib < CONFIG_MIN_MEM_MIB || m->mem_size_mib > CONFIG_MAX_MEM_MIB)
		return snap_fail(err, "machine: mem_size_mib %llu out of range", (unsigned long long)m->mem_size_mib);
	if (m->huge_pages > HUGE_PAGES_2M)
		return snap_fail(err, "machine: unknown huge_pages %u", m->huge_pages);
	ret = snap_check_memory(st, err);
	if (ret)
		return ret;
	ret = snap_check_vcpus(st, err);
	if (ret)
		return ret;
	if (st->nr_devices > SNAP_MAX_DEVICES)
		return snap_fail(err, "%u devices (at most %d)", st->nr_devices, SNAP_MAX_DEVICES);
	for (uint32_t i = 0; i < st->nr_devices; i++) {
		const struct snap_virtio *d = &st->devices[i];

		ret = snap_check_device(d, err);
		if (ret)
			return ret;
		if (slots & (1ULL << d->slot))
			return snap_fail(err, "two devices in virtio slot %u", d->slot);
		slots |= 1ULL << d->slot;
		roots += d->type == SNAP_SEC_VIRTIO_BLK && d->u.blk.is_root_device;
	}
	if (roots > 1)
		return snap_fail(err, "%u root block devices", roots);
	return 0;
}

const char *snap_section_name(unsigned int type)
{
	switch (type) {
	case SNAP_SEC_MACHINE: return "machine";
	case SNAP_SEC_MEMORY: return "memory";
	case SNAP_SEC_VCPU: return "vcpu";
	case SNAP_SEC_VM: return "vm";
	case SNAP_SEC_SERIAL: return "serial";
	case SNAP_SEC_I8042: return "i8042";
	case SNAP_SEC_BOOT_TIMER: return "boot-timer";
	case SNAP_SEC_VIRTIO_BLK: return "virtio-blk";
	default: return "unknown";
	}
}
