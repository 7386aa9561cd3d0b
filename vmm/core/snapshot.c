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
#include "vmm/core/vm_state.h"
#include "vmm/log/log.h"
#include "vmm/snapshot/snap_state.h"

/* ---- create --------------------------------------------------------------- */

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
	if (vm->nr_virtio != vm->nr_drives) {
		snprintf(err, VM_ERR_MAX, "this VM has %u virtio devices besides its drives, and kiln cannot "
			 "snapshot those yet", vm->nr_virtio - vm->nr_drives);
		return -EOPNOTSUPP;
	}
	for (unsigned int i = 0; i < vm->nr_drives; i++) {
		struct vm_drive *d = vm->drives[i];
		struct snap_virtio *sd = &st->devices[st->nr_devices++];
		struct snap_blk *b = &sd->u.blk;

		sd->type = SNAP_SEC_VIRTIO_BLK;
		sd->slot = d->vdev->slot;
		vmmio_save(&d->vdev->transport, &sd->transport);
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

/* The config to rebuild the VM from: machine and drives, in slot order
 * (vm_drives_create puts drive i in slot i). */
static int snap_config(const struct snap_state *st, const struct snapshot_load_params *p, struct vm_config *cfg,
		       char err[VM_ERR_MAX])
{
	cfg->machine.vcpu_count = st->machine.vcpu_count;
	cfg->machine.mem_size_mib = st->machine.mem_size_mib;
	cfg->machine.smt = st->machine.smt;
	cfg->machine.huge_pages = st->machine.huge_pages;
	cfg->machine.track_dirty_pages = p->track_dirty_pages;
	cfg->nr_drives = 0;
	for (uint32_t slot = 0; slot < st->nr_devices; slot++) {
		const struct snap_virtio *sd = NULL;
		struct drive_config *d;

		for (uint32_t i = 0; i < st->nr_devices; i++)
			if (st->devices[i].slot == slot)
				sd = &st->devices[i];
		if (!sd || sd->type != SNAP_SEC_VIRTIO_BLK) {
			snprintf(err, VM_ERR_MAX, "the snapshot's virtio slots are not 0..%u with block devices",
				 st->nr_devices - 1);
			return -EINVAL;
		}
		if (sd->u.blk.is_root_device && slot != 0) {
			snprintf(err, VM_ERR_MAX, "drive %s: a root device must be in slot 0",
				 sd->u.blk.drive_id);
			return -EINVAL;
		}
		d = &cfg->drives[cfg->nr_drives++];
		memset(d, 0, sizeof(*d));
		snprintf(d->drive_id, sizeof(d->drive_id), "%s", sd->u.blk.drive_id);
		snprintf(d->path_on_host, sizeof(d->path_on_host), "%s", sd->u.blk.path_on_host);
		snprintf(d->partuuid, sizeof(d->partuuid), "%s", sd->u.blk.partuuid);
		d->is_root_device = sd->u.blk.is_root_device;
		d->is_read_only = sd->u.blk.is_read_only;
		d->cache_type = sd->u.blk.cache_type;
		d->io_engine = sd->u.blk.io_engine;
		d->rate_limiter = sd->u.blk.rate_limiter;
		snprintf(d->origin, sizeof(d->origin), "snapshot drive");
	}
	return 0;
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
		if (sd->type == SNAP_SEC_VIRTIO_BLK) {
			struct vm_drive *d = sd->slot < vm->nr_drives ? vm->drives[sd->slot] : NULL;

			if (!d || d->vdev != vd) {
				snprintf(err, VM_ERR_MAX, "%s: slot %u holds no drive", vd->name, sd->slot);
				return -EINVAL;
			}
			ret = blk_state_restore(&d->blk, &sd->u.blk.dev);
			if (ret) {
				snprintf(err, VM_ERR_MAX, "%s state: capacity, features or rate limiter state do not fit "
					 "the drive as configured: %s", vd->name, strerror(-ret));
				return ret;
			}
		}
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
	if (!ret && p->backend == SNAPSHOT_BACKEND_UFFD)
		ret = snapshot_mem_uffd(vm, &st->memory, p->backend_path, err);
	if (!ret)
		ret = snap_apply(vm, st, err);
	if (ret)
		vm_destroy(vm);
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
