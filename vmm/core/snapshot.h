/*
 * Snapshots of a whole VM: PUT /snapshot/create and PUT /snapshot/load with
 * Firecracker's semantics.
 *
 * create (the VM paused): the vmstate file (vmm/snapshot/snap_state.h:
 * machine config, memory layout, every vCPU, irqchip/PIT/kvmclock, serial,
 * i8042, boot timer, every virtio device's transport, config and state:
 * block, net, vsock, balloon, rng) and the memory file, which holds the RAM
 * regions back to back:
 *   Full  every page that is not all zeros (the file is sparse: holes read
 *         as zeros, which is what those pages hold);
 *   Diff  only pages written since the last snapshot (or the restore):
 *         the KVM dirty log (the guest's writes; needs track_dirty_pages)
 *         ORed with gmem's dirty bitmap (every write kiln and its devices
 *         made: used rings, receive buffers, block reads, discarded balloon
 *         pages; vmm/mem/gmem.h), into a sparse file of the full size;
 *         kiln-snapshot-merge writes it onto its base.
 * Afterwards both logs start again from empty.
 *
 * load (a fresh VMM): reads and checks the vmstate (CRC first), rebuilds the
 * VM from its machine config and devices (with network_overrides' TAPs and
 * vsock_override's socket path) with guest RAM from the memory backend,
 * loads the VM, vCPU and device state (re-validated: KVM judges registers,
 * vmmio_restore checks every queue against guest memory, each device's
 * restore judges its own state), tells the guest's vsock driver its
 * connections are gone (transport reset), and leaves the vCPUs ready to
 * start.  The balloon keeps its target, net devices any frame they held.
 *   File  the memory file mapped MAP_PRIVATE: pages load on first touch;
 *   Uffd  anonymous memory registered with a userfaultfd, handed with the
 *         region layout to the page-server process listening on
 *         backend_path (vmm/snapshot/uffd_handler.c is an example).
 */
#ifndef KILN_SNAPSHOT_H
#define KILN_SNAPSHOT_H

#include <stdbool.h>

#include "vmm/compiler.h"
#include "vmm/config/vm_config.h"
#include "vmm/core/vm.h"

enum snapshot_type { SNAPSHOT_FULL = 0, SNAPSHOT_DIFF };
enum snapshot_backend { SNAPSHOT_BACKEND_FILE = 0, SNAPSHOT_BACKEND_UFFD };

struct snapshot_create_params {
	enum snapshot_type type;
	const char *snapshot_path;
	const char *mem_file_path;
};

#define SNAPSHOT_MAX_NET_OVERRIDES CONFIG_MAX_NET_IFACES

/* network_overrides: the interface iface_id gets the TAP host_dev_name. */
struct snapshot_net_override {
	const char *iface_id;
	const char *host_dev_name;
};

struct snapshot_load_params {
	const char *snapshot_path;
	enum snapshot_backend backend;
	const char *backend_path;   /* memory file (File) or the handler's socket (Uffd) */
	bool track_dirty_pages;
	unsigned int nr_net_overrides;
	struct snapshot_net_override net_overrides[SNAPSHOT_MAX_NET_OVERRIDES];
	const char *vsock_uds_path; /* vsock_override's uds_path, or NULL */
};

/* Writes the snapshot of vm (paused; cfg is what it was built from).
 * 0 or -errno with err. */
int snapshot_create(struct vm *vm, const struct vm_config *cfg, const struct snapshot_create_params *p,
		    char err[VM_ERR_MAX]) __must_check;

/*
 * Builds vm from a snapshot (see above); cfg is filled with the snapshot's
 * machine config and devices, overrides applied (it must be initialised;
 * vm_config_free'd first).  An override naming a device the snapshot lacks
 * is refused (-EINVAL).
 * The vCPUs are created and loaded but not started (vm_start).  On failure
 * the VM is destroyed again and -errno returned with err.
 */
int snapshot_load(struct vm *vm, struct vm_config *cfg, const struct vm_options *opt,
		  const struct snapshot_load_params *p, char err[VM_ERR_MAX]) __must_check;

/* After vm_start of a loaded VM: wakes every virtio queue once, so requests
 * the guest made before the snapshot and the VMM had not served are served. */
void snapshot_kick_queues(struct vm *vm);

#endif
