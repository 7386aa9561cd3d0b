/*
 * A vmstate file image (untrusted) into a snap_state: header, CRC, then each
 * section through a bounded reader; see snap_state.h.
 */
#include "vmm/snapshot/snap_priv.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/snapshot/crc64.h"

/* Which singleton sections were seen (bit per type). */
#define SEEN(t) (1u << (t))

static int dec_machine(struct snap_rd *r, struct snap_state *st)
{
	struct snap_machine *m = &st->machine;

	m->vcpu_count = snap_rd_u32(r);
	m->mem_size_mib = snap_rd_u64(r);
	m->smt = snap_rd_u8(r);
	m->track_dirty_pages = snap_rd_u8(r);
	m->huge_pages = snap_rd_u32(r);
	return 0;
}

static int dec_memory(struct snap_rd *r, struct snap_state *st, char *what, size_t wsize)
{
	struct snap_memory *m = &st->memory;

	m->page_size = snap_rd_u32(r);
	m->nr_regions = snap_rd_u32(r);
	if (m->nr_regions > SNAP_MAX_REGIONS) {
		snprintf(what, wsize, "%u regions (at most %d)", m->nr_regions, SNAP_MAX_REGIONS);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < m->nr_regions; i++) {
		m->regions[i].gpa = snap_rd_u64(r);
		m->regions[i].size = snap_rd_u64(r);
		m->regions[i].file_offset = snap_rd_u64(r);
	}
	return 0;
}

static int dec_vcpu(struct snap_rd *r, struct snap_state *st, char *what, size_t wsize)
{
	struct snap_vcpu *v;

	if (st->nr_vcpus >= SNAP_MAX_VCPUS) {
		snprintf(what, wsize, "more than %d vcpu sections", SNAP_MAX_VCPUS);
		return -EINVAL;
	}
	v = &st->vcpus[st->nr_vcpus++];
	memset(v, 0, sizeof(*v));
	v->id = snap_rd_u32(r);
	v->flags = snap_rd_u32(r);
	v->tsc_khz = snap_rd_u32(r);
	if (v->flags & ~SNAP_VCPU_FLAGS_ALL) {
		snprintf(what, wsize, "unknown flags 0x%x", v->flags);
		return -EINVAL;
	}
	snap_rd_bytes(r, &v->regs, sizeof(v->regs));
	snap_rd_bytes(r, &v->sregs, sizeof(v->sregs));
	snap_rd_bytes(r, &v->fpu, sizeof(v->fpu));
	if (v->flags & SNAP_VCPU_XSAVE)
		snap_rd_bytes(r, &v->xsave, sizeof(v->xsave));
	if (v->flags & SNAP_VCPU_XCRS)
		snap_rd_bytes(r, &v->xcrs, sizeof(v->xcrs));
	snap_rd_bytes(r, &v->lapic, sizeof(v->lapic));
	snap_rd_bytes(r, &v->mp_state, sizeof(v->mp_state));
	snap_rd_bytes(r, &v->events, sizeof(v->events));
	if (v->flags & SNAP_VCPU_DEBUGREGS)
		snap_rd_bytes(r, &v->debugregs, sizeof(v->debugregs));
	v->nr_msrs = snap_rd_u32(r);
	/* Caps before loops: a count must fit both the array and the bytes left. */
	if (v->nr_msrs > SNAP_MAX_MSRS || (uint64_t)v->nr_msrs * 12 > snap_rd_left(r)) {
		snprintf(what, wsize, "%u MSRs (at most %d, and %zu bytes left)", v->nr_msrs, SNAP_MAX_MSRS,
			 snap_rd_left(r));
		return -EINVAL;
	}
	for (uint32_t i = 0; i < v->nr_msrs; i++) {
		v->msrs[i].index = snap_rd_u32(r);
		v->msrs[i].data = snap_rd_u64(r);
	}
	v->nr_cpuid = snap_rd_u32(r);
	if (v->nr_cpuid > SNAP_MAX_CPUID ||
	    (uint64_t)v->nr_cpuid * sizeof(v->cpuid[0]) > snap_rd_left(r)) {
		snprintf(what, wsize, "%u CPUID entries (at most %d, and %zu bytes left)", v->nr_cpuid,
			 SNAP_MAX_CPUID, snap_rd_left(r));
		return -EINVAL;
	}
	snap_rd_bytes(r, v->cpuid, (size_t)v->nr_cpuid * sizeof(v->cpuid[0]));
	return 0;
}

static int dec_vm(struct snap_rd *r, struct snap_state *st)
{
	struct snap_vm *vm = &st->vm;

	snap_rd_bytes(r, &vm->pic_master, sizeof(vm->pic_master));
	snap_rd_bytes(r, &vm->pic_slave, sizeof(vm->pic_slave));
	snap_rd_bytes(r, &vm->ioapic, sizeof(vm->ioapic));
	snap_rd_bytes(r, &vm->pit, sizeof(vm->pit));
	snap_rd_bytes(r, &vm->clock, sizeof(vm->clock));
	return 0;
}

static int dec_transport(struct snap_rd *r, struct vmmio_state *t, char *what, size_t wsize)
{
	memset(t, 0, sizeof(*t));
	t->status = snap_rd_u32(r);
	t->isr = snap_rd_u32(r);
	t->config_generation = snap_rd_u32(r);
	t->device_features_sel = snap_rd_u32(r);
	t->driver_features_sel = snap_rd_u32(r);
	t->queue_sel = snap_rd_u32(r);
	t->driver_features = snap_rd_u64(r);
	t->nr_queues = snap_rd_u32(r);
	if (t->nr_queues > VIRTIO_MAX_QUEUES) {
		snprintf(what, wsize, "%u queues (at most %d)", t->nr_queues, VIRTIO_MAX_QUEUES);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < t->nr_queues; i++) {
		struct virtq_state *q = &t->queues[i];

		q->size = snap_rd_u16(r);
		q->ready = snap_rd_u8(r);
		q->last_avail = snap_rd_u16(r);
		q->next_used = snap_rd_u16(r);
		q->signalled_used = snap_rd_u16(r);
		q->desc_gpa = snap_rd_u64(r);
		q->avail_gpa = snap_rd_u64(r);
		q->used_gpa = snap_rd_u64(r);
	}
	return 0;
}

static void dec_rl_config(struct snap_rd *r, struct rl_bucket_config *c)
{
	c->size = snap_rd_u64(r);
	c->one_time_burst = snap_rd_u64(r);
	c->refill_time_ms = snap_rd_u64(r);
}

static void dec_rl_bucket(struct snap_rd *r, struct rl_bucket_state *b)
{
	dec_rl_config(r, &b->cfg);
	b->budget = snap_rd_u64(r);
	b->burst_left = snap_rd_u64(r);
	b->debt = snap_rd_u64(r);
	b->last_refill_ns = snap_rd_u64(r);
}

static void dec_rl_limiter(struct snap_rd *r, struct ratelimit_config *c)
{
	dec_rl_config(r, &c->bandwidth);
	dec_rl_config(r, &c->ops);
}

static int dec_blk(struct snap_rd *r, struct snap_blk *b, char *what, size_t wsize)
{
	if (snap_rd_str(r, b->drive_id, sizeof(b->drive_id)) ||
	    snap_rd_str(r, b->path_on_host, sizeof(b->path_on_host)) ||
	    snap_rd_str(r, b->partuuid, sizeof(b->partuuid))) {
		snprintf(what, wsize, "a drive string is too long, truncated or holds a NUL");
		return -EINVAL;
	}
	b->is_root_device = snap_rd_u8(r);
	b->is_read_only = snap_rd_u8(r);
	b->cache_type = snap_rd_u32(r);
	b->io_engine = snap_rd_u32(r);
	dec_rl_limiter(r, &b->rate_limiter);
	b->dev.capacity = snap_rd_u64(r);
	b->dev.features = snap_rd_u64(r);
	snap_rd_bytes(r, b->dev.id, sizeof(b->dev.id));
	b->dev.broken = snap_rd_u8(r);
	dec_rl_bucket(r, &b->dev.rl_bw);
	dec_rl_bucket(r, &b->dev.rl_ops);
	return 0;
}

/* A bool stored as a byte: anything but 0 and 1 is refused by the checks,
 * so it is kept as read (into a uint8_t) rather than folded to true. */
static int dec_net(struct snap_rd *r, struct snap_net *n, char *what, size_t wsize)
{
	struct net_state *d = &n->dev;
	uint8_t has_mac;

	if (snap_rd_str(r, n->cfg.iface_id, sizeof(n->cfg.iface_id)) ||
	    snap_rd_str(r, n->cfg.host_dev_name, sizeof(n->cfg.host_dev_name))) {
		snprintf(what, wsize, "iface_id or host_dev_name too long, truncated or holding a NUL");
		return -EINVAL;
	}
	has_mac = snap_rd_u8(r);
	if (has_mac > 1) {
		snprintf(what, wsize, "has_guest_mac %u", has_mac);
		return -EINVAL;
	}
	n->cfg.has_guest_mac = has_mac;
	snap_rd_bytes(r, n->cfg.guest_mac, sizeof(n->cfg.guest_mac));
	n->cfg.mtu = snap_rd_u32(r);
	dec_rl_limiter(r, &n->cfg.rx_rate_limiter);
	dec_rl_limiter(r, &n->cfg.tx_rate_limiter);

	d->magic = snap_rd_u32(r);
	d->mtu = snap_rd_u16(r);
	d->has_mac = snap_rd_u8(r);
	snap_rd_bytes(r, d->mac, sizeof(d->mac));
	d->rx_have = snap_rd_u8(r);
	d->rx_charged = snap_rd_u8(r);
	d->tx_pending = snap_rd_u8(r);
	d->tx_charged = snap_rd_u8(r);
	d->acked_features = snap_rd_u64(r);
	d->offload_flags = snap_rd_u32(r);
	d->rx_len = snap_rd_u32(r);
	d->rx_done = snap_rd_u32(r);
	d->rx_nheld = snap_rd_u16(r);
	d->tx_head = snap_rd_u16(r);
	d->tx_len = snap_rd_u32(r);
	d->rx_nb_gpa[0] = snap_rd_u64(r);
	d->rx_nb_gpa[1] = snap_rd_u64(r);
	/* Caps before loops and copies. */
	if (d->rx_nheld > VIRTQ_MAX_SIZE || d->rx_len > NET_BUF_MAX || d->tx_len > NET_BUF_MAX) {
		snprintf(what, wsize, "%u held receive chains (at most %d), frames of %u and %u bytes (at most %d)",
			 d->rx_nheld, VIRTQ_MAX_SIZE, d->rx_len, d->tx_len, NET_BUF_MAX);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < d->rx_nheld; i++) {
		d->rx_held[i].head = snap_rd_u16(r);
		d->rx_held[i].len = snap_rd_u32(r);
	}
	dec_rl_bucket(r, &d->rx_bw);
	dec_rl_bucket(r, &d->rx_ops);
	dec_rl_bucket(r, &d->tx_bw);
	dec_rl_bucket(r, &d->tx_ops);
	snap_rd_bytes(r, d->rx_frame, d->rx_len);
	snap_rd_bytes(r, d->tx_frame, d->tx_len);
	return 0;
}

static int dec_vsock(struct snap_rd *r, struct snap_vsock *v, char *what, size_t wsize)
{
	if (snap_rd_str(r, v->cfg.vsock_id, sizeof(v->cfg.vsock_id))) {
		snprintf(what, wsize, "vsock_id too long, truncated or holding a NUL");
		return -EINVAL;
	}
	v->cfg.guest_cid = snap_rd_u32(r);
	if (snap_rd_str(r, v->cfg.uds_path, sizeof(v->cfg.uds_path))) {
		snprintf(what, wsize, "uds_path too long, truncated or holding a NUL");
		return -EINVAL;
	}
	v->cfg.present = true;
	v->dev.guest_cid = snap_rd_u64(r);
	v->dev.reset_pending = snap_rd_u8(r);
	return 0;
}

static int dec_balloon(struct snap_rd *r, struct snap_balloon *b, char *what, size_t wsize)
{
	uint8_t deflate, reporting;

	b->cfg.present = true;
	b->cfg.amount_mib = snap_rd_u64(r);
	deflate = snap_rd_u8(r);
	b->cfg.stats_polling_interval_s = snap_rd_u64(r);
	reporting = snap_rd_u8(r);
	if (deflate > 1 || reporting > 1) {
		snprintf(what, wsize, "deflate_on_oom %u or free_page_reporting %u is not a bool", deflate, reporting);
		return -EINVAL;
	}
	b->cfg.deflate_on_oom = deflate;
	b->cfg.free_page_reporting = reporting;
	b->dev.target_pages = snap_rd_u32(r);
	b->dev.actual_pages = snap_rd_u32(r);
	b->dev.stats_interval_s = snap_rd_u32(r);
	b->dev.deflate_on_oom = snap_rd_u8(r);
	b->dev.stats_enabled = snap_rd_u8(r);
	b->dev.reporting = snap_rd_u8(r);
	b->dev.stats_held = snap_rd_u8(r);
	b->dev.stats_head = snap_rd_u16(r);
	b->dev.stats_present = snap_rd_u32(r);
	for (unsigned int i = 0; i < VIRTIO_BALLOON_S_NR; i++)
		b->dev.stats[i] = snap_rd_u64(r);
	return 0;
}

static int dec_rng(struct snap_rd *r, struct snap_rng *g)
{
	g->cfg.present = true;
	dec_rl_limiter(r, &g->cfg.rate_limiter);
	dec_rl_bucket(r, &g->dev.bw);
	dec_rl_bucket(r, &g->dev.ops);
	return 0;
}

/* Bytes of snap_virtio's union that device kind type uses. */
static size_t snap_device_size(unsigned int type)
{
	const struct snap_virtio *d = NULL;

	switch (type) {
	case SNAP_SEC_VIRTIO_BLK: return sizeof(d->u.blk);
	case SNAP_SEC_VIRTIO_NET: return sizeof(d->u.net);
	case SNAP_SEC_VIRTIO_VSOCK: return sizeof(d->u.vsock);
	case SNAP_SEC_VIRTIO_BALLOON: return sizeof(d->u.balloon);
	default: return sizeof(d->u.rng);
	}
}

/* A device section of kind type: slot, transport, then the kind's body. */
static int dec_device(unsigned int type, struct snap_rd *r, struct snap_state *st, char *what, size_t wsize)
{
	struct snap_virtio *d;
	int ret;

	if (st->nr_devices >= SNAP_MAX_DEVICES) {
		snprintf(what, wsize, "more than %d device sections", SNAP_MAX_DEVICES);
		return -EINVAL;
	}
	d = &st->devices[st->nr_devices++];
	/* Only the part of the union this kind uses: a net device's is large. */
	memset(d, 0, offsetof(struct snap_virtio, u) + snap_device_size(type));
	d->type = (uint16_t)type;
	d->slot = snap_rd_u32(r);
	ret = dec_transport(r, &d->transport, what, wsize);
	if (ret)
		return ret;
	switch (type) {
	case SNAP_SEC_VIRTIO_BLK:
		return dec_blk(r, &d->u.blk, what, wsize);
	case SNAP_SEC_VIRTIO_NET:
		return dec_net(r, &d->u.net, what, wsize);
	case SNAP_SEC_VIRTIO_VSOCK:
		return dec_vsock(r, &d->u.vsock, what, wsize);
	case SNAP_SEC_VIRTIO_BALLOON:
		return dec_balloon(r, &d->u.balloon, what, wsize);
	default:
		return dec_rng(r, &d->u.rng);
	}
}

static int dec_section(unsigned int type, struct snap_rd *r, struct snap_state *st, char *what,
		       size_t wsize)
{
	switch (type) {
	case SNAP_SEC_MACHINE:
		return dec_machine(r, st);
	case SNAP_SEC_MEMORY:
		return dec_memory(r, st, what, wsize);
	case SNAP_SEC_VCPU:
		return dec_vcpu(r, st, what, wsize);
	case SNAP_SEC_VM:
		return dec_vm(r, st);
	case SNAP_SEC_SERIAL:
		snap_rd_bytes(r, &st->serial, sizeof(st->serial));
		return 0;
	case SNAP_SEC_I8042:
		snap_rd_bytes(r, &st->i8042, sizeof(st->i8042));
		return 0;
	case SNAP_SEC_BOOT_TIMER:
		st->has_boot_timer = true;
		st->boot_timer.boot_us = snap_rd_u64(r);
		st->boot_timer.boot_cpu_us = snap_rd_u64(r);
		st->boot_timer.writes = snap_rd_u64(r);
		return 0;
	case SNAP_SEC_VIRTIO_BLK:
	case SNAP_SEC_VIRTIO_NET:
	case SNAP_SEC_VIRTIO_VSOCK:
	case SNAP_SEC_VIRTIO_BALLOON:
	case SNAP_SEC_VIRTIO_RNG:
		return dec_device(type, r, st, what, wsize);
	default:
		snprintf(what, wsize, "unknown section type (a newer kiln's device?)");
		return -EINVAL;
	}
}

/* Empties st without touching its large arrays (snap_state.h): the decoders
 * clear each entry they fill. */
static void snap_state_reset(struct snap_state *st)
{
	memset(&st->machine, 0, sizeof(st->machine));
	memset(&st->memory, 0, sizeof(st->memory));
	st->nr_vcpus = 0;
	memset(&st->vm, 0, sizeof(st->vm));
	memset(&st->serial, 0, sizeof(st->serial));
	memset(&st->i8042, 0, sizeof(st->i8042));
	st->has_boot_timer = false;
	memset(&st->boot_timer, 0, sizeof(st->boot_timer));
	st->nr_devices = 0;
}

uint32_t snap_peek_version(const uint8_t *data, size_t len)
{
	struct snap_rd r = snap_rd_init(data, len);
	char magic[SNAP_MAGIC_LEN];

	snap_rd_bytes(&r, magic, sizeof(magic));
	if (r.overrun || memcmp(magic, SNAP_MAGIC, SNAP_MAGIC_LEN))
		return 0;
	return snap_rd_u32(&r);
}

static int dec_header(const uint8_t *data, size_t len, uint32_t *nr_sections, char err[SNAP_ERR_MAX])
{
	struct snap_rd r = snap_rd_init(data, len);
	char magic[SNAP_MAGIC_LEN];
	uint32_t version;
	uint64_t payload_len, crc, actual;

	if (len < SNAP_HEADER_LEN)
		return snap_fail(err, "truncated: %zu bytes, shorter than the %d-byte header", len, SNAP_HEADER_LEN);
	snap_rd_bytes(&r, magic, sizeof(magic));
	if (memcmp(magic, SNAP_MAGIC, SNAP_MAGIC_LEN))
		return snap_fail(err, "bad magic: not a kiln snapshot file");
	version = snap_rd_u32(&r);
	if (version != SNAP_FORMAT_VERSION)
		return snap_fail(err, "format version %u (this kiln reads version %d)", version, SNAP_FORMAT_VERSION);
	*nr_sections = snap_rd_u32(&r);
	payload_len = snap_rd_u64(&r);
	crc = snap_rd_u64(&r);
	if (len > SNAP_FILE_MAX || payload_len > SNAP_FILE_MAX - SNAP_HEADER_LEN)
		return snap_fail(err, "oversized: %llu payload bytes (the format allows %u)",
				 (unsigned long long)(payload_len > len ? payload_len : len), SNAP_FILE_MAX);
	if (payload_len > len - SNAP_HEADER_LEN)
		return snap_fail(err, "truncated: the header promises %llu payload bytes, the file has %zu",
				 (unsigned long long)payload_len, len - SNAP_HEADER_LEN);
	if (payload_len < len - SNAP_HEADER_LEN)
		return snap_fail(err, "%zu bytes of trailing garbage after the payload",
				 len - SNAP_HEADER_LEN - (size_t)payload_len);
	if (*nr_sections > SNAP_MAX_SECTIONS)
		return snap_fail(err, "%u sections (at most %d)", *nr_sections, SNAP_MAX_SECTIONS);
	actual = crc64(data + SNAP_HEADER_LEN, (size_t)payload_len);
	if (actual != crc)
		return snap_fail(err, "CRC mismatch: the header says 0x%016llx, the payload has 0x%016llx "
				 "(corrupted file)", (unsigned long long)crc, (unsigned long long)actual);
	return 0;
}

int snap_decode(const uint8_t *data, size_t len, struct snap_state *st, char err[SNAP_ERR_MAX])
{
	const uint32_t required = SEEN(SNAP_SEC_MACHINE) | SEEN(SNAP_SEC_MEMORY) | SEEN(SNAP_SEC_VM) |
				  SEEN(SNAP_SEC_SERIAL) | SEEN(SNAP_SEC_I8042);
	const uint32_t singletons = required | SEEN(SNAP_SEC_BOOT_TIMER);
	struct snap_rd r;
	uint32_t nr_sections = 0, seen = 0, n = 0;
	int ret;

	snap_state_reset(st);
	ret = dec_header(data, len, &nr_sections, err);
	if (ret)
		return ret;
	r = snap_rd_init(data + SNAP_HEADER_LEN, len - SNAP_HEADER_LEN);
	while (snap_rd_left(&r)) {
		size_t off = SNAP_HEADER_LEN + r.off;
		unsigned int type, version;
		uint32_t body_len;
		struct snap_rd body;
		char what[256] = "";

		if (++n > nr_sections)
			return snap_fail(err, "more sections than the %u the header counts", nr_sections);
		if (snap_rd_left(&r) < SNAP_SECTION_HDR_LEN)
			return snap_fail(err, "truncated section header at offset %zu", off);
		type = snap_rd_u16(&r);
		version = snap_rd_u16(&r);
		body_len = snap_rd_u32(&r);
		if (body_len > snap_rd_left(&r))
			return snap_fail(err, "section %u (%s) at offset %zu: length %u exceeds the %zu bytes left",
					 type, snap_section_name(type), off, body_len, snap_rd_left(&r));
		if (version != SNAP_SEC_VERSION)
			return snap_fail(err, "section %u (%s) at offset %zu: version %u (this kiln reads %d)", type,
					 snap_section_name(type), off, version, SNAP_SEC_VERSION);
		if (type < 32 && (singletons & SEEN(type)) && (seen & SEEN(type)))
			return snap_fail(err, "section %u (%s) at offset %zu: repeated", type,
					 snap_section_name(type), off);
		if (type < 32)
			seen |= SEEN(type);
		body = snap_rd_init(r.p + r.off, body_len);
		r.off += body_len;
		ret = dec_section(type, &body, st, what, sizeof(what));
		if (!ret && !snap_rd_ok(&body, true)) {
			snprintf(what, sizeof(what), "%s", body.overrun ? "body too short for its contents"
									: "bytes left over after its contents");
			ret = -EINVAL;
		}
		if (ret)
			return snap_fail(err, "section %u (%s) at offset %zu, %u bytes: %s", type,
					 snap_section_name(type), off, body_len, what);
	}
	if (n != nr_sections)
		return snap_fail(err, "the header counts %u sections, the payload holds %u", nr_sections, n);
	if ((seen & required) != required) {
		for (unsigned int t = 1; t < 32; t++)
			if ((required & SEEN(t)) && !(seen & SEEN(t)))
				return snap_fail(err, "no %s section", snap_section_name(t));
	}
	ret = snap_state_check(st, err);
	return ret;
}
