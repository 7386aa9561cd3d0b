/*
 * The VM's block devices: each configured drive becomes a virtio-blk device
 * on the Sync file engine or, with io_engine "Async", the io_uring engine
 * (completions through the VMM loop), with its rate_limiter, in the next
 * virtio-mmio slot (the root device, which
 * the config keeps first, in slot 0 so the guest sees it as /dev/vda).  The
 * kernel command line gets root=/dev/vda (or root=PARTUUID=<partuuid>) and ro
 * or rw for the root device, as Firecracker does.  Requests are processed on
 * the VMM thread only (virtio_wiring.h).
 */
#ifndef KILN_DRIVES_H
#define KILN_DRIVES_H

#include <stdint.h>

#include "devices/block/blk.h"
#include "vmm/compiler.h"
#include "vmm/config/vm_config.h"

struct vm;
struct vm_virtio_dev;

struct vm_drive {
	struct drive_config cfg;      /* as configured; path_on_host follows PATCH */
	struct blk_file *file;        /* Sync: heap (its be.opaque points at it); swapped by PATCH */
	struct blk_uring *uring;      /* Async: the engine instead of file; swapped by PATCH */
	struct blk_dev blk;
	bool blk_ready;               /* blk_dev_init succeeded: destroy it */
	struct vm_virtio_dev *vdev;
	uint64_t update_count, update_fails;
	/* What the previous metrics line reported (counters are deltas). */
	struct blk_metrics last;
	uint64_t last_queue_events, last_activate_fails, last_updates, last_update_fails;
};

/* Opens path_on_host the way the device will (read-only or read-write, a
 * regular file or block device of at least one sector) and closes it again:
 * what PUT /drives and --config-file check when the drive is given.  0 or
 * -errno with "<section>.path_on_host: <path>: <reason>" in err. */
int vm_drive_check(const struct drive_config *d, const char *section, char err[512]) __must_check;

/* Builds every drive of cfg into vm (before the command line is written).
 * 0 or -errno with err; what was built is freed by vm_drives_destroy. */
int vm_drives_create(struct vm *vm, const struct vm_config *cfg, char err[512]) __must_check;

/* Frees the drives; call after vm_virtio_reset_all, before vm_virtio_destroy_all. */
void vm_drives_destroy(struct vm *vm);

/* PATCH /drives/{id} path_on_host: the drive reads and writes path from now on
 * and the guest gets a configuration-change interrupt (the capacity may have
 * changed).  On the VMM thread.  0, -ENOENT (no such drive) or -errno with err;
 * on error the drive keeps its image. */
int vm_drive_update(struct vm *vm, const char *drive_id, const char *path, char err[512]) __must_check;

/* PATCH /drives/{id} rate_limiter: the buckets start full with cfg.  On the
 * VMM thread.  0, -ENOENT or -EINVAL with err; on error nothing changes. */
int vm_drive_update_ratelimit(struct vm *vm, const char *drive_id, const struct ratelimit_config *cfg,
			      char err[512]) __must_check;

#endif
