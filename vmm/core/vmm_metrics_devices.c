/* Device metrics groups; see vmm_metrics_devices.h. */
#include "vmm/core/vmm_metrics_devices.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmm/core/vm.h"
#include "vmm/core/vm_devices.h"

#define F(type, field, name) { name, offsetof(type, field) }

/* Firecracker's names where it has the counter, ours where it does not. */
static const struct vmm_metric_field net_fields[] = {
	F(struct net_metrics, rx_bytes, "rx_bytes_count"),
	F(struct net_metrics, rx_frames, "rx_packets_count"),
	F(struct net_metrics, rx_dropped, "rx_dropped_count"),
	F(struct net_metrics, rx_errors, "rx_fails"),
	F(struct net_metrics, rx_throttled, "rx_rate_limiter_throttled"),
	F(struct net_metrics, rx_no_buffers, "no_rx_avail_buffer"),
	F(struct net_metrics, rx_merged_buffers, "rx_merged_buffers"),
	F(struct net_metrics, tx_bytes, "tx_bytes_count"),
	F(struct net_metrics, tx_frames, "tx_packets_count"),
	F(struct net_metrics, tx_dropped, "tx_malformed_frames"),
	F(struct net_metrics, tx_errors, "tx_fails"),
	F(struct net_metrics, tx_throttled, "tx_rate_limiter_throttled"),
	F(struct net_metrics, tx_eagain, "tx_backend_full"),
	F(struct net_metrics, interrupts, "interrupts"),
	F(struct net_metrics, queue_errors, "event_fails"),
	F(struct net_metrics, event_errors, "tap_event_fails"),
};

static const struct vmm_metric_field vsock_fields[] = {
	F(struct vsock_metrics, conns_added, "conns_added"),
	F(struct vsock_metrics, conns_killed, "conns_killed"),
	F(struct vsock_metrics, conns_refused, "conns_refused"),
	F(struct vsock_metrics, rx_packets, "rx_packets_count"),
	F(struct vsock_metrics, rx_bytes, "rx_bytes_count"),
	F(struct vsock_metrics, tx_packets, "tx_packets_count"),
	F(struct vsock_metrics, tx_bytes, "tx_bytes_count"),
	F(struct vsock_metrics, rst_sent, "rst_sent"),
	F(struct vsock_metrics, rst_dropped, "rst_dropped"),
	F(struct vsock_metrics, tx_dropped, "tx_dropped"),
	F(struct vsock_metrics, tx_invalid, "tx_invalid"),
	F(struct vsock_metrics, credit_violations, "credit_violations"),
	F(struct vsock_metrics, rx_bad_buffers, "rx_bad_buffers"),
	F(struct vsock_metrics, host_errors, "host_errors"),
	F(struct vsock_metrics, queue_errors, "queue_errors"),
	F(struct vsock_metrics, events_sent, "transport_resets"),
	F(struct vsock_metrics, interrupts, "interrupts"),
};

static const struct vmm_metric_field balloon_fields[] = {
	F(struct balloon_metrics, inflate_count, "inflate_count"),
	F(struct balloon_metrics, inflated_pages, "inflated_pages"),
	F(struct balloon_metrics, deflate_count, "deflate_count"),
	F(struct balloon_metrics, deflated_pages, "deflated_pages"),
	F(struct balloon_metrics, bad_pfns, "bad_pfns"),
	F(struct balloon_metrics, pfns_ignored, "pfns_ignored"),
	F(struct balloon_metrics, discard_fails, "discard_fails"),
	F(struct balloon_metrics, stats_updates, "stats_updates_count"),
	F(struct balloon_metrics, stats_bad, "stats_update_fails"),
	F(struct balloon_metrics, reported_ranges, "free_page_report_count"),
	F(struct balloon_metrics, reported_bytes, "free_page_report_bytes"),
	F(struct balloon_metrics, queue_errors, "event_fails"),
	F(struct balloon_metrics, interrupts, "interrupts"),
	F(struct balloon_metrics, config_changes, "config_changes"),
};

static const struct vmm_metric_field rng_fields[] = {
	F(struct rng_metrics, requests, "entropy_event_count"),
	F(struct rng_metrics, bytes, "entropy_bytes"),
	F(struct rng_metrics, empty, "empty_requests"),
	F(struct rng_metrics, errors, "host_rng_fails"),
	F(struct rng_metrics, throttled, "entropy_rate_limiter_throttled"),
	F(struct rng_metrics, queue_errors, "event_fails"),
	F(struct rng_metrics, interrupts, "interrupts"),
};

static uint64_t *field(void *base, size_t off)
{
	return (uint64_t *)((char *)base + off);
}

int vmm_metrics_group(cJSON *obj, const char *name, const struct vmm_metric_field *f, size_t n,
		      const void *now, void *last, void *sum)
{
	cJSON *o = cJSON_AddObjectToObject(obj, name);

	if (!o)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		uint64_t v = *field((void *)now, f[i].off), d = v - *field(last, f[i].off);

		*field(last, f[i].off) = v;
		if (sum)
			*field(sum, f[i].off) += d;
		if (!cJSON_AddNumberToObject(o, f[i].name, (double)d))
			return -ENOMEM;
	}
	return 0;
}

static int vmm_metrics_nets(struct vm *vm, cJSON *obj)
{
	struct net_metrics sum = { 0 }, zero = { 0 }, now;
	char name[8 + CONFIG_ID_MAX];
	int r;

	for (unsigned int i = 0; i < vm->nr_nets; i++) {
		struct vm_net *n = vm->nets[i];

		if (!n->dev_ready)
			continue;
		net_metrics_get(&n->dev, &now);
		snprintf(name, sizeof(name), "net_%s", n->cfg.iface_id);
		r = vmm_metrics_group(obj, name, net_fields, ARRAY_SIZE(net_fields), &now, &n->last, &sum);
		if (r)
			return r;
	}
	return vmm_metrics_group(obj, "net", net_fields, ARRAY_SIZE(net_fields), &sum, &zero, NULL);
}

/* The single devices: a group only when the VM has one. */
static int vmm_metrics_singles(struct vm *vm, cJSON *obj)
{
	int r = 0;

	if (vm->vsock && vm->vsock->dev_ready) {
		struct vsock_metrics now;

		vsock_metrics_get(&vm->vsock->dev, &now);
		r = vmm_metrics_group(obj, "vsock", vsock_fields, ARRAY_SIZE(vsock_fields), &now,
				      &vm->vsock->last, NULL);
	}
	if (!r && vm->balloon && vm->balloon->dev_ready) {
		struct balloon_metrics now;

		balloon_metrics_get(&vm->balloon->dev, &now);
		r = vmm_metrics_group(obj, "balloon", balloon_fields, ARRAY_SIZE(balloon_fields), &now,
				      &vm->balloon->last, NULL);
	}
	if (!r && vm->rng && vm->rng->dev_ready) {
		struct rng_metrics now;

		rng_metrics_get(&vm->rng->dev, &now);
		r = vmm_metrics_group(obj, "entropy", rng_fields, ARRAY_SIZE(rng_fields), &now,
				      &vm->rng->last, NULL);
	}
	return r;
}

int vmm_metrics_devices(struct vm *vm, cJSON *obj)
{
	if (!vm)
		return vmm_metrics_group(obj, "net", net_fields, 0, NULL, NULL, NULL);
	return vmm_metrics_nets(vm, obj) ?: vmm_metrics_singles(vm, obj);
}
