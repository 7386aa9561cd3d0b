/* Whole-VM snapshot create and load; see snapshot.h. */
#include "vmm/core/snapshot.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/legacy/boot_timer.h"
#include "devices/legacy/i8042.h"
#include "devices/legacy/serial8250.h"
#include "vmm/core/snapshot_mem.h"
#include "vmm/core/vcpu_state.h"
#include "vmm/core/vm_devices.h"
#include "vmm/core/vm_state.h"
#include "vmm/log/log.h"
#include "vmm/snapshot/snap_state.h"

/* ---- create --------------------------------------------------------------- */

/* The next device entry of st: kind type in vdev's slot, its transport saved. */
static struct snap_virtio *snap_gather_device(struct snap_state *st, uint16_t type, struct vm_virtio_dev *vdev)
{
	struct snap_virtio *sd = &st->devices[st->nr_devices++];

	sd->type = type;
	sd->slot = vdev->slot;
	vmmio_save(&vdev->transport, &sd->transport);
	return sd;
}

/* Net, vsock, balloon and rng: the config to rebuild each with, as it is in
 * force now (PATCHed limiters and balloon settings come from the device's
 * own state), and the device's state. */
static void snap_gather_others(struct vm *vm, struct snap_state *st)
{
	for (unsigned int i = 0; i < vm->nr_nets; i++) {
		struct vm_net *n = vm->nets[i];
		struct snap_net *sn = &snap_gather_device(st, SNAP_SEC_VIRTIO_NET, n->vdev)->u.net;

		sn->cfg = n->cfg;
		net_save(&n->dev, &sn->dev);
		sn->cfg.rx_rate_limiter = (struct ratelimit_config){ sn->dev.rx_bw.cfg, sn->dev.rx_ops.cfg };
		sn->cfg.tx_rate_limiter = (struct ratelimit_config){ sn->dev.tx_bw.cfg, sn->dev.tx_ops.cfg };
	}
	if (vm->vsock && vm->vsock->dev_ready) {
		struct snap_vsock *sv = &snap_gather_device(st, SNAP_SEC_VIRTIO_VSOCK, vm->vsock->vdev)->u.vsock;

		sv->cfg = vm->vsock->cfg;
		vsock_save(&vm->vsock->dev, &sv->dev);
	}
	if (vm->balloon && vm->balloon->dev_ready) {
		struct snap_balloon *sb = &snap_gather_device(st, SNAP_SEC_VIRTIO_BALLOON, vm->balloon->vdev)->u.balloon;

		sb->cfg = vm->balloon->cfg;
		balloon_save(&vm->balloon->dev, &sb->dev);
		/* The balloon keeps its target across the restore. */
		sb->cfg.amount_mib = sb->dev.target_pages / BALLOON_PAGES_PER_MIB;
		sb->cfg.stats_polling_interval_s = sb->dev.stats_interval_s;
	}
	if (vm->rng && vm->rng->dev_ready) {
		struct snap_rng *sr = &snap_gather_device(st, SNAP_SEC_VIRTIO_RNG, vm->rng->vdev)->u.rng;

		sr->cfg = vm->rng->cfg;
		rng_save(&vm->rng->dev, &sr->dev);
		sr->cfg.rate_limiter = (struct ratelimit_config){ sr->dev.bw.cfg, sr->dev.ops.cfg };
	}
}

static int snap_gather(struct vm *vm, const struct vm_config *cfg, struct snap_state *st, char err[VM_ERR_MAX])
{
	char e[VCPU_STATE_ERR_MAX];
	int ret;

	st->machine = (struct snap_machine){
		.vcpu_count = vm->nr_vcpus,
		.mem_size_mib = cfg->machine.mem_size_mib,
		.smt = cfg->machine.smt,
		.track_dirty_pages = vm->dirty_log,
		.huge_pages = cfg->machine.huge_pages,
	};
	snapshot_mem_layout(vm, &st->memory);
	st->nr_vcpus = vm->nr_vcpus;
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		ret = vcpu_state_save(&vm->vcpus[i], &st->vcpus[i], e);
		if (ret) {
			snprintf(err, VM_ERR_MAX, "%s", e);
			return ret;
		}
	}
	ret = vm_state_save(vm->vm_fd, &st->vm, e);
	if (ret) {
		snprintf(err, VM_ERR_MAX, "%s", e);
		return ret;
	}
	serial8250_save(vm->legacy.serial, &st->serial);
	i8042_save(vm->legacy.i8042, &st->i8042);
	if (vm->legacy.boot_timer) {
		st->has_boot_timer = true;
		boot_timer_save(vm->legacy.boot_timer, &st->boot_timer);
	}
	for (unsigned int i = 0; i < vm->nr_drives; i++) {
		struct vm_drive *d = vm->drives[i];
		struct snap_virtio *sd = snap_gather_device(st, SNAP_SEC_VIRTIO_BLK, d->vdev);
		struct snap_blk *b = &sd->u.blk;

		snprintf(b->drive_id, sizeof(b->drive_id), "%s", d->cfg.drive_id);
		snprintf(b->path_on_host, sizeof(b->path_on_host), "%s", d->cfg.path_on_host);
		snprintf(b->partuuid, sizeof(b->partuuid), "%s", d->cfg.partuuid);
		b->is_root_device = d->cfg.is_root_device;
		b->is_read_only = d->cfg.is_read_only;
		b->cache_type = d->cfg.cache_type;
		b->io_engine = d->cfg.io_engine;
		b->rate_limiter = d->cfg.rate_limiter;
		/* Requests in flight (Async engine) complete first. */
		blk_dev_quiesce(&d->blk);
		blk_state_save(&d->blk, &b->dev);
	}
	snap_gather_others(vm, st);
	if (st->nr_devices != vm->nr_virtio) {
		snprintf(err, VM_ERR_MAX, "%u of the VM's %u virtio devices are of a kind kiln cannot snapshot",
			 vm->nr_virtio - st->nr_devices, vm->nr_virtio);
		return -EOPNOTSUPP;
	}
	return 0;
}

int snapshot_create(struct vm *vm, const struct vm_config *cfg, const struct snapshot_create_params *p,
		    char err[VM_ERR_MAX])
{
	struct snap_state *st;
	char e[SNAP_ERR_MAX];
	uint64_t t0 = vm_now_ns();
	int ret;

	if (p->type == SNAPSHOT_DIFF && !vm->dirty_log) {
		snprintf(err, VM_ERR_MAX, "Diff snapshots need dirty page tracking: set track_dirty_pages in "
			 "the machine config (or when loading the snapshot)");
		return -EINVAL;
	}
	st = snap_state_new();
	if (!st) {
		snprintf(err, VM_ERR_MAX, "out of memory");
		return -ENOMEM;
	}
	ret = snap_gather(vm, cfg, st, err);
	if (!ret) {
		ret = snap_write_file(p->snapshot_path, st, e);
		if (ret)
			snprintf(err, VM_ERR_MAX, "vmstate: %s", e);
	}
	if (!ret)
		ret = snapshot_mem_write(vm, p, err);
	snap_state_free(st);
	if (!ret)
		LOG_INFO("snapshot: %s written to %s in %" PRIu64 " us", p->type == SNAPSHOT_DIFF ? "Diff" : "Full",
			 p->snapshot_path, (vm_now_ns() - t0) / 1000);
	return ret;
}

/* ---- load ------------------------------------------------------------------ */

/* vm_build puts the devices in slots in this order of kinds: drives, network
 * interfaces, vsock, balloon, rng (vm_devices.h). */
static unsigned int snap_kind_rank(uint16_t type)
{
	return type - SNAP_SEC_VIRTIO_BLK;
}

static void snap_config_drive(const struct snap_blk *b, struct drive_config *d)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->drive_id, sizeof(d->drive_id), "%s", b->drive_id);
	snprintf(d->path_on_host, sizeof(d->path_on_host), "%s", b->path_on_host);
	snprintf(d->partuuid, sizeof(d->partuuid), "%s", b->partuuid);
	d->is_root_device = b->is_root_device;
	d->is_read_only = b->is_read_only;
	d->cache_type = b->cache_type;
	d->io_engine = b->io_engine;
	d->rate_limiter = b->rate_limiter;
	snprintf(d->origin, sizeof(d->origin), "snapshot drive");
}

/* Firecracker's network_overrides and vsock_override: each must name a
 * device the snapshot has. */
static int snap_overrides(const struct snapshot_load_params *p, struct vm_config *cfg, char err[VM_ERR_MAX])
{
	for (unsigned int i = 0; i < p->nr_net_overrides; i++) {
		const struct snapshot_net_override *o = &p->net_overrides[i];
		struct net_iface_config *n = NULL;

		for (unsigned int k = 0; k < cfg->nr_net; k++)
			if (!strcmp(cfg->net[k].iface_id, o->iface_id))
				n = &cfg->net[k];
		if (!n) {
			snprintf(err, VM_ERR_MAX, "network_overrides: the snapshot has no network interface '%s'",
				 o->iface_id);
			return -EINVAL;
		}
		if (!o->host_dev_name[0] || strlen(o->host_dev_name) > CONFIG_IFNAME_MAX) {
			snprintf(err, VM_ERR_MAX, "network_overrides: host_dev_name '%s' of %s must be 1 to %d bytes",
				 o->host_dev_name, o->iface_id, CONFIG_IFNAME_MAX);
			return -EINVAL;
		}
		snprintf(n->host_dev_name, sizeof(n->host_dev_name), "%s", o->host_dev_name);
	}
	for (unsigned int a = 0; a < cfg->nr_net; a++)
		for (unsigned int b = a + 1; b < cfg->nr_net; b++)
			if (!strcmp(cfg->net[a].host_dev_name, cfg->net[b].host_dev_name)) {
				snprintf(err, VM_ERR_MAX, "network_overrides: interfaces %s and %s would share TAP %s",
					 cfg->net[a].iface_id, cfg->net[b].iface_id, cfg->net[a].host_dev_name);
				return -EINVAL;
			}
	if (p->vsock_uds_path) {
		if (!cfg->vsock.present) {
			snprintf(err, VM_ERR_MAX, "vsock_override: the snapshot has no vsock device");
			return -EINVAL;
		}
		if (!p->vsock_uds_path[0] || strlen(p->vsock_uds_path) >= sizeof(cfg->vsock.uds_path)) {
			snprintf(err, VM_ERR_MAX, "vsock_override: uds_path empty or too long");
			return -EINVAL;
		}
		snprintf(cfg->vsock.uds_path, sizeof(cfg->vsock.uds_path), "%s", p->vsock_uds_path);
	}
	return 0;
}

/* The config to rebuild the VM from: machine and devices, which must sit in
 * the slots vm_build will give them (kinds in snap_kind_rank order, the root
 * drive first), then the overrides. */
static int snap_config(const struct snap_state *st, const struct snapshot_load_params *p, struct vm_config *cfg,
		       char err[VM_ERR_MAX])
{
	unsigned int rank = 0;

	cfg->machine.vcpu_count = st->machine.vcpu_count;
	cfg->machine.mem_size_mib = st->machine.mem_size_mib;
	cfg->machine.smt = st->machine.smt;
	cfg->machine.huge_pages = st->machine.huge_pages;
	cfg->machine.track_dirty_pages = p->track_dirty_pages;
	cfg->nr_drives = 0;
	cfg->nr_net = 0;
	for (uint32_t slot = 0; slot < st->nr_devices; slot++) {
		const struct snap_virtio *sd = NULL;

		for (uint32_t i = 0; i < st->nr_devices; i++)
			if (st->devices[i].slot == slot)
				sd = &st->devices[i];
		if (!sd || snap_kind_rank(sd->type) < rank) {
			snprintf(err, VM_ERR_MAX, "the snapshot's virtio slots are not 0..%u with drives, network "
				 "interfaces, vsock, balloon and rng in that order", st->nr_devices - 1);
			return -EINVAL;
		}
		rank = snap_kind_rank(sd->type);
		switch (sd->type) {
		case SNAP_SEC_VIRTIO_BLK:
			if (sd->u.blk.is_root_device && slot != 0) {
				snprintf(err, VM_ERR_MAX, "drive %s: a root device must be in slot 0",
					 sd->u.blk.drive_id);
				return -EINVAL;
			}
			snap_config_drive(&sd->u.blk, &cfg->drives[cfg->nr_drives++]);
			break;
		case SNAP_SEC_VIRTIO_NET:
			cfg->net[cfg->nr_net++] = sd->u.net.cfg;
			break;
		case SNAP_SEC_VIRTIO_VSOCK:
			cfg->vsock = sd->u.vsock.cfg;
			cfg->vsock.present = true;
			break;
		case SNAP_SEC_VIRTIO_BALLOON:
			cfg->balloon = sd->u.balloon.cfg;
			cfg->balloon.present = true;
			break;
		case SNAP_SEC_VIRTIO_RNG:
			cfg->entropy = sd->u.rng.cfg;
			cfg->entropy.present = true;
			break;
		}
	}
	return snap_overrides(p, cfg, err);
}

/* The device state of sd into the device built in vd's slot (its transport
 * restored already). */
static int snap_apply_device(struct vm *vm, const struct snap_virtio *sd, struct vm_virtio_dev *vd,
			     char err[VM_ERR_MAX])
{
	const char *what = "";
	int ret = -EINVAL;

	switch (sd->type) {
	case SNAP_SEC_VIRTIO_BLK: {
		struct vm_drive *d = sd->slot < vm->nr_drives ? vm->drives[sd->slot] : NULL;

		what = "capacity, features or rate limiter state do not fit the drive as configured";
		if (d && d->vdev == vd)
			ret = blk_state_restore(&d->blk, &sd->u.blk.dev);
		break;
	}
	case SNAP_SEC_VIRTIO_NET: {
		unsigned int i = sd->slot - vm->nr_drives;

		what = "the features, held frames and chains or rate limiter buckets do not fit the interface";
		if (sd->slot >= vm->nr_drives && i < vm->nr_nets && vm->nets[i]->vdev == vd)
			ret = net_restore(&vm->nets[i]->dev, &sd->u.net.dev);
		break;
	}
	case SNAP_SEC_VIRTIO_VSOCK:
		what = "the CID or pending reset is invalid";
		if (vm->vsock && vm->vsock->vdev == vd) {
			ret = vsock_restore(&vm->vsock->dev, &sd->u.vsock.dev);
			/* The host side of every connection is gone: the guest
			 * hears so (now, or when it gives an event buffer). */
			if (!ret && vsock_send_transport_reset(&vm->vsock->dev) == 0)
				LOG_DEBUG("vsock: transport reset sent to the restored guest");
		}
		break;
	case SNAP_SEC_VIRTIO_BALLOON:
		what = "the settings, target, statistics or held statistics buffer do not fit the balloon";
		if (vm->balloon && vm->balloon->vdev == vd)
			ret = balloon_restore(&vm->balloon->dev, &sd->u.balloon.dev);
		break;
	case SNAP_SEC_VIRTIO_RNG:
		what = "the rate limiter buckets are invalid";
		if (vm->rng && vm->rng->vdev == vd)
			ret = rng_restore(&vm->rng->dev, &sd->u.rng.dev);
		break;
	}
	if (ret)
		snprintf(err, VM_ERR_MAX, "%s state: %s: %s", vd->name, what, strerror(-ret));
	return ret;
}

static int snap_apply(struct vm *vm, const struct snap_state *st, char err[VM_ERR_MAX])
{
	char e[VCPU_STATE_ERR_MAX];
	int ret;

	ret = vm_state_restore(vm->vm_fd, &st->vm, e);
	if (ret) {
		snprintf(err, VM_ERR_MAX, "VM state: %s", e);
		return ret;
	}
	for (uint32_t i = 0; i < st->nr_vcpus; i++) {
		const struct snap_vcpu *v = &st->vcpus[i];

		ret = vcpu_state_restore(&vm->vcpus[v->id], v, e);
		if (ret) {
			snprintf(err, VM_ERR_MAX, "vCPU state: %s", e);
			return ret;
		}
	}
	if (serial8250_restore(vm->legacy.serial, &st->serial)) {
		snprintf(err, VM_ERR_MAX, "serial state: invalid (FIFO indices or registers out of range)");
		return -EINVAL;
	}
	if (i8042_restore(vm->legacy.i8042, &st->i8042)) {
		snprintf(err, VM_ERR_MAX, "i8042 state: invalid");
		return -EINVAL;
	}
	if (st->has_boot_timer && vm->legacy.boot_timer &&
	    boot_timer_restore(vm->legacy.boot_timer, &st->boot_timer)) {
		snprintf(err, VM_ERR_MAX, "boot timer state: invalid");
		return -EINVAL;
	}
	for (uint32_t i = 0; i < st->nr_devices; i++) {
		const struct snap_virtio *sd = &st->devices[i];
		struct vm_virtio_dev *vd = sd->slot < vm->nr_virtio ? vm->virtio[sd->slot] : NULL;

		if (!vd) {
			snprintf(err, VM_ERR_MAX, "%s in slot %u: no such device was built", snap_section_name(sd->type),
				 sd->slot);
			return -EINVAL;
		}
		ret = vmmio_restore(&vd->transport, &sd->transport);
		if (ret) {
			snprintf(err, VM_ERR_MAX, "%s state: the transport or queue state is invalid (status 0x%x; "
				 "queue addresses must lie in guest memory): %s", vd->name, sd->transport.status,
				 strerror(-ret));
			return ret;
		}
		ret = snap_apply_device(vm, sd, vd, err);
		if (ret)
			return ret;
	}
	return 0;
}

int snapshot_load(struct vm *vm, struct vm_config *cfg, const struct vm_options *opt,
		  const struct snapshot_load_params *p, char err[VM_ERR_MAX])
{
	struct vm_options o = *opt;
	struct vm_mem_source src = { .fd = -1 };
	struct snap_state *st = snap_state_new();
	char e[SNAP_ERR_MAX];
	int ret;

	if (!st) {
		snprintf(err, VM_ERR_MAX, "out of memory");
		return -ENOMEM;
	}
	ret = snap_read_file(p->snapshot_path, st, e);
	if (ret) {
		snprintf(err, VM_ERR_MAX, "%s", e);
		goto out;
	}
	ret = snap_config(st, p, cfg, err);
	if (ret)
		goto out;
	if (p->backend == SNAPSHOT_BACKEND_FILE) {
		src.fd = snapshot_mem_open(p->backend_path, st->machine.mem_size_mib << 20, err);
		if (src.fd < 0) {
			ret = src.fd;
			goto out;
		}
	}
	o.boot_timer = st->has_boot_timer;
	ret = vm_build_restore(vm, cfg, &o, &src, err);
	if (!ret)
		ret = snapshot_mem_check_layout(vm, &st->memory, err);
	if (!ret)
		ret = snapshot_mem_track(vm, err);
	if (!ret && p->backend == SNAPSHOT_BACKEND_UFFD)
		ret = snapshot_mem_uffd(vm, &st->memory, p->backend_path, err);
	if (!ret)
		ret = snap_apply(vm, st, err);
	if (ret) {
		gmem_dirty_disable(&vm->mem); /* vm_destroy does not know of it */
		vm_destroy(vm);
	}
out:
	/* The mappings keep the file open themselves. */
	if (src.fd >= 0)
		close(src.fd);
	snap_state_free(st);
	return ret;
}

void snapshot_kick_queues(struct vm *vm)
{
	uint64_t one = 1;

	for (unsigned int i = 0; i < vm->nr_virtio; i++)
		for (unsigned int q = 0; q < vm->virtio[i]->nr_queues; q++)
			if (vm->virtio[i]->notify_fd[q] >= 0 &&
			    write(vm->virtio[i]->notify_fd[q], &one, sizeof(one)) < 0)
				LOG_DEBUG("%s: queue %u kick: %s", vm->virtio[i]->name, q, strerror(errno));
}
