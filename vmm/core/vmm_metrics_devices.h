/*
 * Metrics groups of the devices beyond block (net, vsock, balloon, rng):
 * one object per device ("net_<iface_id>", "net", "vsock", ...) of counters
 * as deltas since the previous line.  Private to vmm/core.
 */
#ifndef KILN_VMM_METRICS_DEVICES_H
#define KILN_VMM_METRICS_DEVICES_H

#include <stddef.h>
#include <stdint.h>

struct cJSON;
struct vm;

/* A counter of a device's metrics struct (all uint64_t): its name in the
 * metrics line and where it is. */
struct vmm_metric_field {
	const char *name;
	size_t off;
};

/* Adds the device groups of vm to obj.  0 or -ENOMEM. */
int vmm_metrics_devices(struct vm *vm, struct cJSON *obj);

/* Adds name: {field: now - last} for n fields, then last = now (when sum is
 * not NULL, the deltas are also added to sum, a struct of the same shape). */
int vmm_metrics_group(struct cJSON *obj, const char *name, const struct vmm_metric_field *f, size_t n,
		      const void *now, void *last, void *sum);

#endif
