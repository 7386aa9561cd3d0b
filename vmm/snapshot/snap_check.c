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

/* A limiter bucket as ratelimit_config_check takes it (this library links
 * no device code): absent, or a size with a refill time whose nanoseconds
 * fit in 64 bits. */
static bool snap_rl_config_ok(const struct rl_bucket_config *c)
{
	return !c->size || (c->refill_time_ms && c->refill_time_ms <= UINT64_MAX / 1000000);
}

static bool snap_limiter_ok(const struct ratelimit_config *c)
{
	return snap_rl_config_ok(&c->bandwidth) && snap_rl_config_ok(&c->ops);
}

static bool snap_bucket_ok(const struct rl_bucket_state *b)
{
	return snap_rl_config_ok(&b->cfg) && b->budget <= b->cfg.size && b->burst_left <= b->cfg.one_time_burst;
}

static int snap_check_net(const struct snap_virtio *d, char err[SNAP_ERR_MAX])
{
	const struct snap_net *n = &d->u.net;
	const struct net_state *s = &n->dev;

	if (!snap_id_ok(n->cfg.iface_id))
		return snap_fail(err, "virtio-net in slot %u: bad iface_id", d->slot);
	if (!n->cfg.host_dev_name[0] || strlen(n->cfg.host_dev_name) > CONFIG_IFNAME_MAX)
		return snap_fail(err, "virtio-net %s: host_dev_name empty or longer than %d", n->cfg.iface_id,
				 CONFIG_IFNAME_MAX);
	if (n->cfg.mtu && (n->cfg.mtu < 68 || n->cfg.mtu > 65535))
		return snap_fail(err, "virtio-net %s: mtu %u", n->cfg.iface_id, n->cfg.mtu);
	if (!snap_limiter_ok(&n->cfg.rx_rate_limiter) || !snap_limiter_ok(&n->cfg.tx_rate_limiter))
		return snap_fail(err, "virtio-net %s: a rate limiter has a size without a usable refill time",
				 n->cfg.iface_id);
	if (s->magic != NET_STATE_MAGIC)
		return snap_fail(err, "virtio-net %s: state magic 0x%x", n->cfg.iface_id, s->magic);
	if (s->has_mac != n->cfg.has_guest_mac || s->mtu != n->cfg.mtu ||
	    (s->has_mac && memcmp(s->mac, n->cfg.guest_mac, sizeof(s->mac))))
		return snap_fail(err, "virtio-net %s: the device's MAC or MTU is not the interface's", n->cfg.iface_id);
	if ((s->rx_have | s->rx_charged | s->tx_pending | s->tx_charged) > 1)
		return snap_fail(err, "virtio-net %s: a flag is not 0 or 1", n->cfg.iface_id);
	if (s->rx_nheld > VIRTQ_MAX_SIZE || s->rx_len > NET_BUF_MAX || s->tx_len > NET_BUF_MAX ||
	    s->rx_done > s->rx_len)
		return snap_fail(err, "virtio-net %s: %u held chains, frames of %u (%u delivered) and %u bytes",
				 n->cfg.iface_id, s->rx_nheld, s->rx_len, s->rx_done, s->tx_len);
	if ((!s->rx_have && (s->rx_len || s->rx_nheld)) || (!s->tx_pending && s->tx_len))
		return snap_fail(err, "virtio-net %s: a frame length or held chain without a frame", n->cfg.iface_id);
	if (!snap_bucket_ok(&s->rx_bw) || !snap_bucket_ok(&s->rx_ops) || !snap_bucket_ok(&s->tx_bw) ||
	    !snap_bucket_ok(&s->tx_ops))
		return snap_fail(err, "virtio-net %s: a rate limiter bucket is inconsistent", n->cfg.iface_id);
	return 0;
}

static int snap_check_vsock(const struct snap_virtio *d, char err[SNAP_ERR_MAX])
{
	const struct snap_vsock *v = &d->u.vsock;

	if (v->cfg.vsock_id[0] && !snap_id_ok(v->cfg.vsock_id))
		return snap_fail(err, "virtio-vsock: bad vsock_id");
	/* 0-2 are the hypervisor, local and host; 2^32 - 1 is VMADDR_CID_ANY. */
	if (v->cfg.guest_cid < 3 || v->cfg.guest_cid == UINT32_MAX || v->dev.guest_cid != v->cfg.guest_cid)
		return snap_fail(err, "virtio-vsock: guest_cid %u (device %llu) is not a guest CID", v->cfg.guest_cid,
				 (unsigned long long)v->dev.guest_cid);
	if (!v->cfg.uds_path[0])
		return snap_fail(err, "virtio-vsock: empty uds_path");
	if (v->dev.reset_pending > 1)
		return snap_fail(err, "virtio-vsock: reset_pending %u", v->dev.reset_pending);
	return 0;
}

static int snap_check_balloon(const struct snap_virtio *d, char err[SNAP_ERR_MAX])
{
	const struct snap_balloon *b = &d->u.balloon;
	const struct balloon_state *s = &b->dev;

	if (b->cfg.amount_mib > CONFIG_BALLOON_MAX_MIB ||
	    b->cfg.stats_polling_interval_s > CONFIG_BALLOON_MAX_INTERVAL_S)
		return snap_fail(err, "virtio-balloon: amount_mib %llu or stats_polling_interval_s %llu out of range",
				 (unsigned long long)b->cfg.amount_mib,
				 (unsigned long long)b->cfg.stats_polling_interval_s);
	/* The config rebuilds the device: it must say what the state says. */
	if (s->target_pages != b->cfg.amount_mib * BALLOON_PAGES_PER_MIB)
		return snap_fail(err, "virtio-balloon: target %u pages, but amount_mib %llu", s->target_pages,
				 (unsigned long long)b->cfg.amount_mib);
	if ((s->deflate_on_oom | s->stats_enabled | s->reporting | s->stats_held) > 1)
		return snap_fail(err, "virtio-balloon: a flag is not 0 or 1");
	if (s->deflate_on_oom != b->cfg.deflate_on_oom || s->reporting != b->cfg.free_page_reporting ||
	    s->stats_enabled != (b->cfg.stats_polling_interval_s != 0) ||
	    s->stats_interval_s != b->cfg.stats_polling_interval_s)
		return snap_fail(err, "virtio-balloon: the device's settings are not the config's");
	if (s->stats_present >> VIRTIO_BALLOON_S_NR)
		return snap_fail(err, "virtio-balloon: unknown statistics 0x%x", s->stats_present);
	return 0;
}

static int snap_check_rng(const struct snap_virtio *d, char err[SNAP_ERR_MAX])
{
	const struct snap_rng *r = &d->u.rng;

	if (!snap_limiter_ok(&r->cfg.rate_limiter) || !snap_bucket_ok(&r->dev.bw) || !snap_bucket_ok(&r->dev.ops))
		return snap_fail(err, "virtio-rng: the rate limiter config or buckets are inconsistent");
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
	case SNAP_SEC_VIRTIO_NET:
		return snap_check_net(d, err);
	case SNAP_SEC_VIRTIO_VSOCK:
		return snap_check_vsock(d, err);
	case SNAP_SEC_VIRTIO_BALLOON:
		return snap_check_balloon(d, err);
	case SNAP_SEC_VIRTIO_RNG:
		return snap_check_rng(d, err);
	default:
		return snap_fail(err, "device section type %u is not a device kind", d->type);
	}
}

int snap_state_check(const struct snap_state *st, char err[SNAP_ERR_MAX])
{
	const struct snap_machine *m = &st->machine;
	uint64_t slots = 0;
	unsigned int roots = 0, count[SNAP_SEC_VIRTIO_RNG + 1] = { 0 };
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
		count[d->type]++; /* snap_check_device allowed only known kinds */
		for (uint32_t j = 0; j < i && d->type == SNAP_SEC_VIRTIO_NET; j++)
			if (st->devices[j].type == SNAP_SEC_VIRTIO_NET &&
			    (!strcmp(st->devices[j].u.net.cfg.iface_id, d->u.net.cfg.iface_id) ||
			     !strcmp(st->devices[j].u.net.cfg.host_dev_name, d->u.net.cfg.host_dev_name)))
				return snap_fail(err, "two network interfaces with iface_id %s or host_dev_name %s",
						 d->u.net.cfg.iface_id, d->u.net.cfg.host_dev_name);
	}
	if (roots > 1)
		return snap_fail(err, "%u root block devices", roots);
	if (count[SNAP_SEC_VIRTIO_BLK] > CONFIG_MAX_DRIVES || count[SNAP_SEC_VIRTIO_NET] > CONFIG_MAX_NET_IFACES ||
	    count[SNAP_SEC_VIRTIO_VSOCK] > 1 || count[SNAP_SEC_VIRTIO_BALLOON] > 1 || count[SNAP_SEC_VIRTIO_RNG] > 1)
		return snap_fail(err, "%u drives, %u network interfaces, %u vsock, %u balloon, %u rng devices "
				 "(at most %d, %d, 1, 1, 1)", count[SNAP_SEC_VIRTIO_BLK], count[SNAP_SEC_VIRTIO_NET],
				 count[SNAP_SEC_VIRTIO_VSOCK], count[SNAP_SEC_VIRTIO_BALLOON], count[SNAP_SEC_VIRTIO_RNG],
				 CONFIG_MAX_DRIVES, CONFIG_MAX_NET_IFACES);
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
	case SNAP_SEC_VIRTIO_NET: return "virtio-net";
	case SNAP_SEC_VIRTIO_VSOCK: return "virtio-vsock";
	case SNAP_SEC_VIRTIO_BALLOON: return "virtio-balloon";
	case SNAP_SEC_VIRTIO_RNG: return "virtio-rng";
	default: return "unknown";
	}
}
