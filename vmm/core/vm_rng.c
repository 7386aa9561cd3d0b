/* The virtio-rng device (Firecracker's "entropy"); see vm_devices.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/core/virtio_wiring.h"
#include "vmm/core/vm.h"
#include "vmm/core/vm_devices.h"
#include "vmm/log/log.h"

static void vm_rng_process(void *dev, unsigned int queue)
{
	(void)queue;
	(void)rng_process_queue(dev);
}

int vm_rng_create(struct vm *vm, const struct entropy_config *cfg, char err[VM_ERR_MAX])
{
	struct rng_opts opts = { .limit = cfg->rate_limiter, .kick = vm_virtio_kick };
	struct vm_rng *r = calloc(1, sizeof(*r));
	struct dev_event_loop loop;
	int ret;

	if (!r) {
		snprintf(err, VM_ERR_MAX, "entropy: out of memory");
		return -ENOMEM;
	}
	r->cfg = *cfg;
	vm->rng = r;
	ret = vm_virtio_reserve(vm, "virtio-rng", &r->vdev, err);
	if (ret)
		return ret;
	opts.kick_opaque = r->vdev;
	vm_virtio_events(r->vdev, rng_event_handler, &r->dev, &loop);
	ret = rng_dev_init(&r->dev, &opts, &loop);
	if (ret) {
		snprintf(err, VM_ERR_MAX, "entropy: %s", strerror(-ret));
		return ret;
	}
	r->dev_ready = true;
	ret = vm_virtio_attach(vm, r->vdev, &rng_virtio_ops, &r->dev, vm_rng_process, err);
	if (ret)
		return ret;
	LOG_INFO("entropy: virtio-rng from getrandom%s",
		 cfg->rate_limiter.bandwidth.size || cfg->rate_limiter.ops.size ? ", rate limited" : "");
	return 0;
}

void vm_rng_destroy(struct vm *vm)
{
	if (!vm->rng)
		return;
	if (vm->rng->dev_ready)
		rng_dev_destroy(&vm->rng->dev);
	free(vm->rng);
	vm->rng = NULL;
}
