/* Network interfaces into virtio-net devices on TAPs; see net_ifaces.h. */
#include "vmm/core/net_ifaces.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/core/virtio_wiring.h"
#include "vmm/core/vm.h"
#include "vmm/log/log.h"

static int net_tap_open_err(struct net_tap *t, const char *name, char err[VM_ERR_MAX])
{
	int ret = net_tap_open(t, name);

	if (ret)
		snprintf(err, VM_ERR_MAX, "host_dev_name %s: cannot open the TAP: %s (os error %d)%s", name,
			 strerror(-ret), -ret,
			 ret == -EPERM ? " (needs CAP_NET_ADMIN or to own the TAP)" :
			 ret == -EBUSY ? " (in use by another process)" : "");
	return ret;
}

int vm_net_check(const struct net_iface_config *n, char err[VM_ERR_MAX])
{
	struct net_tap t;
	int ret = net_tap_open_err(&t, n->host_dev_name, err);

	if (!ret)
		net_tap_close(&t);
	return ret;
}

static void net_iface_process(void *dev, unsigned int queue)
{
	/* -EIO: the driver broke a queue; the device already asked for a reset. */
	(void)net_process_queue(dev, queue);
}

static int net_iface_create(struct vm *vm, const struct net_iface_config *cfg, char err[VM_ERR_MAX])
{
	struct net_opts opts = {
		.has_mac = cfg->has_guest_mac,
		.mtu = (uint16_t)cfg->mtu,
		.rx_rate_limiter = cfg->rx_rate_limiter,
		.tx_rate_limiter = cfg->tx_rate_limiter,
		.kick = vm_virtio_kick_queue,
	};
	struct vm_net *n = calloc(1, sizeof(*n));
	char name[VM_VIRTIO_NAME_MAX];
	struct dev_event_loop loop;
	int ret;

	if (!n) {
		snprintf(err, VM_ERR_MAX, "network interface %s: out of memory", cfg->iface_id);
		return -ENOMEM;
	}
	n->cfg = *cfg;
	vm->nets[vm->nr_nets++] = n; /* vm_nets_destroy frees it from here on */
	memcpy(opts.mac, cfg->guest_mac, sizeof(opts.mac));

	ret = net_tap_open_err(&n->tap, cfg->host_dev_name, err);
	if (ret)
		return ret;
	n->tap_open = true;
	snprintf(name, sizeof(name), "virtio-net %s", cfg->iface_id);
	ret = vm_virtio_reserve(vm, name, &n->vdev, err);
	if (ret)
		return ret;
	opts.kick_opaque = n->vdev;
	vm_virtio_events(n->vdev, net_event, &n->dev, &loop);
	ret = net_dev_init(&n->dev, &n->tap.be, &loop, &opts);
	if (ret) {
		snprintf(err, VM_ERR_MAX, "network interface %s: %s", cfg->iface_id, strerror(-ret));
		return ret;
	}
	n->dev_ready = true;
	ret = vm_virtio_attach(vm, n->vdev, &net_virtio_ops, &n->dev, net_iface_process, err);
	if (ret)
		return ret;
	LOG_INFO("network interface %s: TAP %s%s%s", cfg->iface_id, cfg->host_dev_name,
		 cfg->has_guest_mac ? ", guest MAC set" : "", cfg->mtu ? ", MTU set" : "");
	return 0;
}

int vm_nets_create(struct vm *vm, const struct vm_config *cfg, char err[VM_ERR_MAX])
{
	for (unsigned int i = 0; i < cfg->nr_net; i++) {
		int ret = net_iface_create(vm, &cfg->net[i], err);

		if (ret)
			return ret;
	}
	return 0;
}

void vm_nets_destroy(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->nr_nets; i++) {
		struct vm_net *n = vm->nets[i];

		if (n->dev_ready)
			net_dev_destroy(&n->dev);
		if (n->tap_open)
			net_tap_close(&n->tap);
		free(n);
		vm->nets[i] = NULL;
	}
	vm->nr_nets = 0;
}

int vm_net_update(struct vm *vm, const struct net_iface_patch *p, char err[VM_ERR_MAX])
{
	for (unsigned int i = 0; i < vm->nr_nets; i++) {
		struct vm_net *n = vm->nets[i];
		int ret;

		if (strcmp(n->cfg.iface_id, p->iface_id))
			continue;
		ret = net_dev_update_ratelimit(&n->dev, p->has_rx ? &p->rx_rate_limiter : NULL,
					       p->has_tx ? &p->tx_rate_limiter : NULL);
		if (ret)
			snprintf(err, VM_ERR_MAX, "%s: rate limiter: %s", p->iface_id, strerror(-ret));
		return ret;
	}
	snprintf(err, VM_ERR_MAX, "no network interface '%s' in this VM", p->iface_id);
	return -ENOENT;
}
