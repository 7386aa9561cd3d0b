/* snap_state into a vmstate file image; see snap_state.h for the layout. */
#include "vmm/snapshot/snap_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/snapshot/crc64.h"

struct snap_enc {
	struct snap_wr w;
	size_t sec_start;   /* offset of the open section's header */
	uint32_t nr_sections;
};

static void enc_begin(struct snap_enc *e, uint16_t type)
{
	e->sec_start = e->w.len;
	snap_wr_u16(&e->w, type);
	snap_wr_u16(&e->w, SNAP_SEC_VERSION);
	snap_wr_u32(&e->w, 0); /* body length, patched by enc_end */
}

static void enc_end(struct snap_enc *e)
{
	snap_wr_patch_u32(&e->w, e->sec_start + 4, (uint32_t)(e->w.len - e->sec_start - SNAP_SECTION_HDR_LEN));
	e->nr_sections++;
}

static void enc_machine(struct snap_enc *e, const struct snap_machine *m)
{
	enc_begin(e, SNAP_SEC_MACHINE);
	snap_wr_u32(&e->w, m->vcpu_count);
	snap_wr_u64(&e->w, m->mem_size_mib);
	snap_wr_u8(&e->w, m->smt);
	snap_wr_u8(&e->w, m->track_dirty_pages);
	snap_wr_u32(&e->w, m->huge_pages);
	enc_end(e);
}

static void enc_memory(struct snap_enc *e, const struct snap_memory *m)
{
	enc_begin(e, SNAP_SEC_MEMORY);
	snap_wr_u32(&e->w, m->page_size);
	snap_wr_u32(&e->w, m->nr_regions);
	for (uint32_t i = 0; i < m->nr_regions; i++) {
		snap_wr_u64(&e->w, m->regions[i].gpa);
		snap_wr_u64(&e->w, m->regions[i].size);
		snap_wr_u64(&e->w, m->regions[i].file_offset);
	}
	enc_end(e);
}

static void enc_vcpu(struct snap_enc *e, const struct snap_vcpu *v)
{
	enc_begin(e, SNAP_SEC_VCPU);
	snap_wr_u32(&e->w, v->id);
	snap_wr_u32(&e->w, v->flags);
	snap_wr_u32(&e->w, v->tsc_khz);
	/* KVM's x86 structs are a fixed little-endian ABI: stored as they are. */
	snap_wr_bytes(&e->w, &v->regs, sizeof(v->regs));
	snap_wr_bytes(&e->w, &v->sregs, sizeof(v->sregs));
	snap_wr_bytes(&e->w, &v->fpu, sizeof(v->fpu));
	if (v->flags & SNAP_VCPU_XSAVE)
		snap_wr_bytes(&e->w, &v->xsave, sizeof(v->xsave));
	if (v->flags & SNAP_VCPU_XCRS)
		snap_wr_bytes(&e->w, &v->xcrs, sizeof(v->xcrs));
	snap_wr_bytes(&e->w, &v->lapic, sizeof(v->lapic));
	snap_wr_bytes(&e->w, &v->mp_state, sizeof(v->mp_state));
	snap_wr_bytes(&e->w, &v->events, sizeof(v->events));
	if (v->flags & SNAP_VCPU_DEBUGREGS)
		snap_wr_bytes(&e->w, &v->debugregs, sizeof(v->debugregs));
	snap_wr_u32(&e->w, v->nr_msrs);
	for (uint32_t i = 0; i < v->nr_msrs; i++) {
		snap_wr_u32(&e->w, v->msrs[i].index);
		snap_wr_u64(&e->w, v->msrs[i].data);
	}
	snap_wr_u32(&e->w, v->nr_cpuid);
	snap_wr_bytes(&e->w, v->cpuid, (size_t)v->nr_cpuid * sizeof(v->cpuid[0]));
	enc_end(e);
}

static void enc_vm(struct snap_enc *e, const struct snap_vm *vm)
{
	enc_begin(e, SNAP_SEC_VM);
	snap_wr_bytes(&e->w, &vm->pic_master, sizeof(vm->pic_master));
	snap_wr_bytes(&e->w, &vm->pic_slave, sizeof(vm->pic_slave));
	snap_wr_bytes(&e->w, &vm->ioapic, sizeof(vm->ioapic));
	snap_wr_bytes(&e->w, &vm->pit, sizeof(vm->pit));
	snap_wr_bytes(&e->w, &vm->clock, sizeof(vm->clock));
	enc_end(e);
}

static void enc_legacy(struct snap_enc *e, const struct snap_state *st)
{
	/* Both device states are byte arrays: no padding, no byte order. */
	enc_begin(e, SNAP_SEC_SERIAL);
	snap_wr_bytes(&e->w, &st->serial, sizeof(st->serial));
	enc_end(e);
	enc_begin(e, SNAP_SEC_I8042);
	snap_wr_bytes(&e->w, &st->i8042, sizeof(st->i8042));
	enc_end(e);
	if (!st->has_boot_timer)
		return;
	enc_begin(e, SNAP_SEC_BOOT_TIMER);
	snap_wr_u64(&e->w, st->boot_timer.boot_us);
	snap_wr_u64(&e->w, st->boot_timer.boot_cpu_us);
	snap_wr_u64(&e->w, st->boot_timer.writes);
	enc_end(e);
}

static void enc_transport(struct snap_wr *w, const struct vmmio_state *t)
{
	snap_wr_u32(w, t->status);
	snap_wr_u32(w, t->isr);
	snap_wr_u32(w, t->config_generation);
	snap_wr_u32(w, t->device_features_sel);
	snap_wr_u32(w, t->driver_features_sel);
	snap_wr_u32(w, t->queue_sel);
	snap_wr_u64(w, t->driver_features);
	snap_wr_u32(w, t->nr_queues);
	for (uint32_t i = 0; i < t->nr_queues; i++) {
		const struct virtq_state *q = &t->queues[i];

		snap_wr_u16(w, q->size);
		snap_wr_u8(w, q->ready);
		snap_wr_u16(w, q->last_avail);
		snap_wr_u16(w, q->next_used);
		snap_wr_u16(w, q->signalled_used);
		snap_wr_u64(w, q->desc_gpa);
		snap_wr_u64(w, q->avail_gpa);
		snap_wr_u64(w, q->used_gpa);
	}
}

static void enc_rl_config(struct snap_wr *w, const struct rl_bucket_config *c)
{
	snap_wr_u64(w, c->size);
	snap_wr_u64(w, c->one_time_burst);
	snap_wr_u64(w, c->refill_time_ms);
}

static void enc_rl_bucket(struct snap_wr *w, const struct rl_bucket_state *b)
{
	enc_rl_config(w, &b->cfg);
	snap_wr_u64(w, b->budget);
	snap_wr_u64(w, b->burst_left);
	snap_wr_u64(w, b->debt);
	snap_wr_u64(w, b->last_refill_ns);
}

static void enc_rl_limiter(struct snap_wr *w, const struct ratelimit_config *c)
{
	enc_rl_config(w, &c->bandwidth);
	enc_rl_config(w, &c->ops);
}

static void enc_blk(struct snap_wr *w, const struct snap_blk *b)
{
	snap_wr_str(w, b->drive_id, sizeof(b->drive_id) - 1);
	snap_wr_str(w, b->path_on_host, sizeof(b->path_on_host) - 1);
	snap_wr_str(w, b->partuuid, sizeof(b->partuuid) - 1);
	snap_wr_u8(w, b->is_root_device);
	snap_wr_u8(w, b->is_read_only);
	snap_wr_u32(w, b->cache_type);
	snap_wr_u32(w, b->io_engine);
	enc_rl_limiter(w, &b->rate_limiter);
	snap_wr_u64(w, b->dev.capacity);
	snap_wr_u64(w, b->dev.features);
	snap_wr_bytes(w, b->dev.id, sizeof(b->dev.id));
	snap_wr_u8(w, b->dev.broken);
	enc_rl_bucket(w, &b->dev.rl_bw);
	enc_rl_bucket(w, &b->dev.rl_ops);
}

static void enc_net(struct snap_wr *w, const struct snap_net *n)
{
	const struct net_state *d = &n->dev;

	snap_wr_str(w, n->cfg.iface_id, sizeof(n->cfg.iface_id) - 1);
	snap_wr_str(w, n->cfg.host_dev_name, sizeof(n->cfg.host_dev_name) - 1);
	snap_wr_u8(w, n->cfg.has_guest_mac);
	snap_wr_bytes(w, n->cfg.guest_mac, sizeof(n->cfg.guest_mac));
	snap_wr_u32(w, n->cfg.mtu);
	enc_rl_limiter(w, &n->cfg.rx_rate_limiter);
	enc_rl_limiter(w, &n->cfg.tx_rate_limiter);

	snap_wr_u32(w, d->magic);
	snap_wr_u16(w, d->mtu);
	snap_wr_u8(w, d->has_mac);
	snap_wr_bytes(w, d->mac, sizeof(d->mac));
	snap_wr_u8(w, d->rx_have);
	snap_wr_u8(w, d->rx_charged);
	snap_wr_u8(w, d->tx_pending);
	snap_wr_u8(w, d->tx_charged);
	snap_wr_u64(w, d->acked_features);
	snap_wr_u32(w, d->offload_flags);
	snap_wr_u32(w, d->rx_len);
	snap_wr_u32(w, d->rx_done);
	snap_wr_u16(w, d->rx_nheld);
	snap_wr_u16(w, d->tx_head);
	snap_wr_u32(w, d->tx_len);
	snap_wr_u64(w, d->rx_nb_gpa[0]);
	snap_wr_u64(w, d->rx_nb_gpa[1]);
	/* snap_state_check bounded the counts and lengths. */
	for (uint32_t i = 0; i < d->rx_nheld; i++) {
		snap_wr_u16(w, d->rx_held[i].head);
		snap_wr_u32(w, d->rx_held[i].len);
	}
	enc_rl_bucket(w, &d->rx_bw);
	enc_rl_bucket(w, &d->rx_ops);
	enc_rl_bucket(w, &d->tx_bw);
	enc_rl_bucket(w, &d->tx_ops);
	snap_wr_bytes(w, d->rx_frame, d->rx_len);
	snap_wr_bytes(w, d->tx_frame, d->tx_len);
}

static void enc_vsock(struct snap_wr *w, const struct snap_vsock *v)
{
	snap_wr_str(w, v->cfg.vsock_id, sizeof(v->cfg.vsock_id) - 1);
	snap_wr_u32(w, v->cfg.guest_cid);
	snap_wr_str(w, v->cfg.uds_path, sizeof(v->cfg.uds_path) - 1);
	snap_wr_u64(w, v->dev.guest_cid);
	snap_wr_u8(w, v->dev.reset_pending);
}

static void enc_balloon(struct snap_wr *w, const struct snap_balloon *b)
{
	snap_wr_u64(w, b->cfg.amount_mib);
	snap_wr_u8(w, b->cfg.deflate_on_oom);
	snap_wr_u64(w, b->cfg.stats_polling_interval_s);
	snap_wr_u8(w, b->cfg.free_page_reporting);
	snap_wr_u32(w, b->dev.target_pages);
	snap_wr_u32(w, b->dev.actual_pages);
	snap_wr_u32(w, b->dev.stats_interval_s);
	snap_wr_u8(w, b->dev.deflate_on_oom);
	snap_wr_u8(w, b->dev.stats_enabled);
	snap_wr_u8(w, b->dev.reporting);
	snap_wr_u8(w, b->dev.stats_held);
	snap_wr_u16(w, b->dev.stats_head);
	snap_wr_u32(w, b->dev.stats_present);
	for (unsigned int i = 0; i < VIRTIO_BALLOON_S_NR; i++)
		snap_wr_u64(w, b->dev.stats[i]);
}

static void enc_rng(struct snap_wr *w, const struct snap_rng *r)
{
	enc_rl_limiter(w, &r->cfg.rate_limiter);
	enc_rl_bucket(w, &r->dev.bw);
	enc_rl_bucket(w, &r->dev.ops);
}

static void enc_device(struct snap_enc *e, const struct snap_virtio *d)
{
	enc_begin(e, d->type);
	snap_wr_u32(&e->w, d->slot);
	enc_transport(&e->w, &d->transport);
	/* snap_state_check allowed only known kinds. */
	switch (d->type) {
	case SNAP_SEC_VIRTIO_BLK:
		enc_blk(&e->w, &d->u.blk);
		break;
	case SNAP_SEC_VIRTIO_NET:
		enc_net(&e->w, &d->u.net);
		break;
	case SNAP_SEC_VIRTIO_VSOCK:
		enc_vsock(&e->w, &d->u.vsock);
		break;
	case SNAP_SEC_VIRTIO_BALLOON:
		enc_balloon(&e->w, &d->u.balloon);
		break;
	case SNAP_SEC_VIRTIO_RNG:
		enc_rng(&e->w, &d->u.rng);
		break;
	}
	enc_end(e);
}

int snap_encode(const struct snap_state *st, uint8_t **out, size_t *len, char err[SNAP_ERR_MAX])
{
	struct snap_enc e = { 0 };
	uint8_t hdr[SNAP_HEADER_LEN];
	struct snap_wr h;
	int ret = snap_state_check(st, err);

	*out = NULL;
	*len = 0;
	if (ret)
		return ret;
	snap_wr_init(&e.w, SNAP_FILE_MAX);
	/* The header goes first; its sizes and CRC are filled in at the end. */
	snap_wr_bytes(&e.w, hdr, sizeof(hdr));
	enc_machine(&e, &st->machine);
	enc_memory(&e, &st->memory);
	for (uint32_t i = 0; i < st->nr_vcpus; i++)
		enc_vcpu(&e, &st->vcpus[i]);
	enc_vm(&e, &st->vm);
	enc_legacy(&e, st);
	for (uint32_t i = 0; i < st->nr_devices; i++)
		enc_device(&e, &st->devices[i]);
	if (e.w.err) {
		ret = e.w.err;
		snprintf(err, SNAP_ERR_MAX, "encoding the snapshot: %s",
			 ret == -E2BIG ? "larger than the format allows" : "out of memory");
		snap_wr_free(&e.w);
		return ret;
	}
	snap_wr_init(&h, SNAP_HEADER_LEN);
	snap_wr_bytes(&h, SNAP_MAGIC, SNAP_MAGIC_LEN);
	snap_wr_u32(&h, SNAP_FORMAT_VERSION);
	snap_wr_u32(&h, e.nr_sections);
	snap_wr_u64(&h, e.w.len - SNAP_HEADER_LEN);
	snap_wr_u64(&h, crc64(e.w.buf + SNAP_HEADER_LEN, e.w.len - SNAP_HEADER_LEN));
	if (h.err) {
		snap_wr_free(&h);
		snap_wr_free(&e.w);
		snprintf(err, SNAP_ERR_MAX, "encoding the snapshot: out of memory");
		return -ENOMEM;
	}
	memcpy(e.w.buf, h.buf, SNAP_HEADER_LEN);
	snap_wr_free(&h);
	*out = e.w.buf;
	*len = e.w.len;
	return 0;
}
