/* The vsock device on its Unix-socket backend; see vm_devices.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/core/virtio_wiring.h"
#include "vmm/core/vm.h"
#include "vmm/core/vm_devices.h"
#include "vmm/log/log.h"

static void vm_vsock_process(void *dev, unsigned int queue)
{
	/* -EIO: the driver broke a queue; the device already asked for a reset. */
	(void)vsock_process_queue(dev, queue);
}

int vm_vsock_create(struct vm *vm, const struct vsock_config *cfg, char err[VM_ERR_MAX])
{
	struct vsock_opts opts = { .guest_cid = cfg->guest_cid, .kick = vm_virtio_kick_queue };
	struct vm_vsock *v = calloc(1, sizeof(*v));
	struct dev_event_loop loop;
	int ret;

	if (!v) {
		snprintf(err, VM_ERR_MAX, "vsock: out of memory");
		return -ENOMEM;
	}
	v->cfg = *cfg;
	vm->vsock = v; /* vm_vsock_destroy frees it from here on */
	ret = vsock_uds_init(&v->uds, cfg->uds_path);
	if (ret) {
		snprintf(err, VM_ERR_MAX, "vsock.uds_path: %s: %s", cfg->uds_path,
			 ret == -ENAMETOOLONG ? "too long for a Unix socket path" : strerror(-ret));
		return ret;
	}
	ret = vm_virtio_reserve(vm, "virtio-vsock", &v->vdev, err);
	if (ret)
		return ret;
	opts.kick_opaque = v->vdev;
	vm_virtio_events(v->vdev, vsock_handle_event, &v->dev, &loop);
	ret = vsock_dev_init(&v->dev, &v->uds.be, &loop, &opts);
	if (ret) {
		snprintf(err, VM_ERR_MAX, "vsock: %s: %s", cfg->uds_path, strerror(-ret));
		return ret;
	}
	v->dev_ready = true;
	ret = vm_virtio_attach(vm, v->vdev, &vsock_virtio_ops, &v->dev, vm_vsock_process, err);
	if (ret)
		return ret;
	LOG_INFO("vsock: guest CID %u, host socket %s", cfg->guest_cid, cfg->uds_path);
	return 0;
}

void vm_vsock_destroy(struct vm *vm)
{
	if (!vm->vsock)
		return;
	if (vm->vsock->dev_ready)
		vsock_dev_destroy(&vm->vsock->dev);
	free(vm->vsock);
	vm->vsock = NULL;
}
