/* The balloon device, and the API's calls on it after boot; see vm_devices.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/core/virtio_wiring.h"
#include "vmm/core/vm.h"
#include "vmm/core/vm_devices.h"
#include "vmm/log/log.h"

_Static_assert(CONFIG_BALLOON_MAX_MIB == BALLOON_MAX_MIB &&
	       CONFIG_BALLOON_MAX_INTERVAL_S == BALLOON_MAX_INTERVAL,
	       "the config accepts exactly what the device takes");

static void vm_balloon_process(void *dev, unsigned int queue)
{
	(void)queue; /* every queue is served on each wake-up */
	(void)balloon_process(dev);
}

int vm_balloon_create(struct vm *vm, const struct balloon_config *cfg, uint64_t mem_mib, char err[VM_ERR_MAX])
{
	struct balloon_opts opts = {
		.settings = {
			.amount_mib = (uint32_t)cfg->amount_mib,
			.deflate_on_oom = cfg->deflate_on_oom,
			.stats_polling_interval_s = (uint32_t)cfg->stats_polling_interval_s,
			.free_page_reporting = cfg->free_page_reporting,
		},
		.mem_mib = mem_mib,
		.kick = vm_virtio_kick,
	};
	struct vm_balloon *b = calloc(1, sizeof(*b));
	struct dev_event_loop loop;
	int ret;

	if (!b) {
		snprintf(err, VM_ERR_MAX, "balloon: out of memory");
		return -ENOMEM;
	}
	b->cfg = *cfg;
	vm->balloon = b;
	ret = vm_virtio_reserve(vm, "virtio-balloon", &b->vdev, err);
	if (ret)
		return ret;
	opts.kick_opaque = b->vdev;
	vm_virtio_events(b->vdev, balloon_event_handler, &b->dev, &loop);
	ret = balloon_dev_init(&b->dev, &opts, &loop);
	if (ret) {
		snprintf(err, VM_ERR_MAX, "balloon: %s", strerror(-ret));
		return ret;
	}
	b->dev_ready = true;
	ret = vm_virtio_attach(vm, b->vdev, &balloon_virtio_ops, &b->dev, vm_balloon_process, err);
	if (ret)
		return ret;
	LOG_INFO("balloon: target %llu MiB%s, statistics every %llu s", (unsigned long long)cfg->amount_mib,
		 cfg->deflate_on_oom ? ", deflate on OOM" : "", (unsigned long long)cfg->stats_polling_interval_s);
	return 0;
}

void vm_balloon_destroy(struct vm *vm)
{
	if (!vm->balloon)
		return;
	if (vm->balloon->dev_ready)
		balloon_dev_destroy(&vm->balloon->dev);
	free(vm->balloon);
	vm->balloon = NULL;
}

int vm_balloon_update(struct vm *vm, const struct balloon_patch *p, char err[VM_ERR_MAX])
{
	struct vm_balloon *b = vm->balloon;
	int ret = 0;

	if (!b || !b->dev_ready) {
		snprintf(err, VM_ERR_MAX, "the VM has no balloon device");
		return -ENODEV;
	}
	if (p->has_amount)
		ret = balloon_set_target(&b->dev, (uint32_t)p->amount_mib);
	if (!ret && p->has_stats_interval)
		ret = balloon_set_stats_interval(&b->dev, (uint32_t)p->stats_polling_interval_s);
	if (ret)
		snprintf(err, VM_ERR_MAX, "the balloon refused it: %s", strerror(-ret));
	return ret;
}

int vm_balloon_stats(struct vm *vm, struct api_balloon_stats *st, char err[VM_ERR_MAX])
{
	struct balloon_dev_stats ds;
	int ret;

	_Static_assert(VIRTIO_BALLOON_S_NR <= API_BALLOON_NR_STATS, "every tag has an API name");
	if (!vm->balloon || !vm->balloon->dev_ready) {
		snprintf(err, VM_ERR_MAX, "the VM has no balloon device");
		return -ENODEV;
	}
	ret = balloon_stats_get(&vm->balloon->dev, &ds);
	if (ret) {
		snprintf(err, VM_ERR_MAX, "%s", ret == -ENOTSUP ? "statistics are not enabled" : strerror(-ret));
		return ret;
	}
	memset(st, 0, sizeof(*st));
	st->target_pages = ds.target_pages;
	st->actual_pages = ds.actual_pages;
	st->present = ds.present;
	memcpy(st->stat, ds.val, sizeof(ds.val));
	return 0;
}
