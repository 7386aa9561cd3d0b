/*
 * The VM's devices beyond block: virtio-net (one per network interface,
 * net_ifaces.h), vsock, balloon and rng, built from the config into the next
 * virtio-mmio slots after the drives, and the calls the API makes on them
 * after boot.  Their host fds (TAP, sockets, timers) are watched by the VMM
 * loop through virtio_wiring's event loop; everything here runs on the VMM
 * thread.
 */
#ifndef KILN_VM_DEVICES_H
#define KILN_VM_DEVICES_H

#include "devices/balloon/balloon.h"
#include "devices/rng/rng.h"
#include "devices/vsock/vsock.h"
#include "vmm/api/api.h"
#include "vmm/compiler.h"
#include "vmm/config/vm_config.h"
#include "vmm/core/net_ifaces.h"

struct vm;
struct vm_virtio_dev;

struct vm_vsock {
	struct vsock_config cfg;
	struct vsock_uds uds;        /* be.opaque points here: heap, stays put */
	struct vsock_dev dev;
	bool dev_ready;
	struct vm_virtio_dev *vdev;
	struct vsock_metrics last;
};

struct vm_balloon {
	struct balloon_config cfg;
	struct balloon_dev dev;
	bool dev_ready;
	struct vm_virtio_dev *vdev;
	struct balloon_metrics last;
};

struct vm_rng {
	struct entropy_config cfg;
	struct rng_dev dev;
	bool dev_ready;
	struct vm_virtio_dev *vdev;
	struct rng_metrics last;
};

/* Builds every net, vsock, balloon and rng device of cfg into vm. 0 or -errno
 * with err; what was built is freed by vm_devices_destroy. */
int vm_devices_create(struct vm *vm, const struct vm_config *cfg, char err[512]) __must_check;

/* Frees them; after vm_virtio_reset_all, before vm_virtio_destroy_all. */
void vm_devices_destroy(struct vm *vm);

/* Each kind on its own (vm_devices_create calls them in this order). */
int vm_vsock_create(struct vm *vm, const struct vsock_config *cfg, char err[512]) __must_check;
void vm_vsock_destroy(struct vm *vm);
int vm_balloon_create(struct vm *vm, const struct balloon_config *cfg, uint64_t mem_mib, char err[512])
	__must_check;
void vm_balloon_destroy(struct vm *vm);
int vm_rng_create(struct vm *vm, const struct entropy_config *cfg, char err[512]) __must_check;
void vm_rng_destroy(struct vm *vm);

/* PATCH /balloon or /balloon/statistics on a running VM. */
int vm_balloon_update(struct vm *vm, const struct balloon_patch *p, char err[512]) __must_check;

/* GET /balloon/statistics on a running VM. */
int vm_balloon_stats(struct vm *vm, struct api_balloon_stats *st, char err[512]) __must_check;

#endif
