/*
 * The VM's network interfaces: each becomes a virtio-net device on its TAP
 * (host_dev_name), in the next virtio-mmio slot.  The TAP fd and the rate
 * limiters' timers join the VMM loop (virtio_wiring.h); frames move on the
 * VMM thread only.
 */
#ifndef KILN_NET_IFACES_H
#define KILN_NET_IFACES_H

#include "devices/net/net.h"
#include "vmm/compiler.h"
#include "vmm/config/vm_config.h"

struct vm;
struct vm_virtio_dev;

struct vm_net {
	struct net_iface_config cfg;
	struct net_tap tap;           /* be.opaque points here: the struct stays put (heap) */
	bool tap_open;
	struct net_dev dev;
	bool dev_ready;
	struct vm_virtio_dev *vdev;
	struct net_metrics last;      /* what the previous metrics line reported */
};

/* Opens and closes host_dev_name's TAP: PUT /network-interfaces's check. */
int vm_net_check(const struct net_iface_config *n, char err[512]) __must_check;

int vm_nets_create(struct vm *vm, const struct vm_config *cfg, char err[512]) __must_check;
void vm_nets_destroy(struct vm *vm);

/* PATCH /network-interfaces/{id}. */
int vm_net_update(struct vm *vm, const struct net_iface_patch *p, char err[512]) __must_check;

#endif
