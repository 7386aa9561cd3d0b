/*
 * The device sections in JSON, in the config-file shape (what GET /vm/config
 * answers and --config-file takes back), plus GET /balloon and
 * GET /balloon/statistics.
 */
#include "vmm/api/api_priv.h"

#include <stdio.h>

/* Firecracker's names for the virtio balloon statistics tags 0..15. */
static const char *const api_balloon_stat_names[API_BALLOON_NR_STATS] = {
	"swap_in", "swap_out", "major_faults", "minor_faults", "free_memory", "total_memory",
	"available_memory", "disk_caches", "hugetlb_allocations", "hugetlb_failures", "oom_kill",
	"alloc_stall", "async_scan", "direct_scan", "async_reclaim", "direct_reclaim",
};

static cJSON *api_bucket_json(const struct rl_bucket_config *b)
{
	cJSON *o;

	if (!b->size)
		return cJSON_CreateNull();
	o = cJSON_CreateObject();
	if (!o || !cJSON_AddNumberToObject(o, "size", (double)b->size) ||
	    !cJSON_AddNumberToObject(o, "one_time_burst", (double)b->one_time_burst) ||
	    !cJSON_AddNumberToObject(o, "refill_time", (double)b->refill_time_ms)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* Adds name: null for an unlimited limiter, else {bandwidth, ops}.  false when
 * out of memory. */
bool api_add_rate_limiter(cJSON *obj, const char *name, const struct ratelimit_config *rl)
{
	cJSON *o, *bw, *ops;

	if (!rl->bandwidth.size && !rl->ops.size)
		return cJSON_AddNullToObject(obj, name) != NULL;
	o = cJSON_CreateObject();
	bw = api_bucket_json(&rl->bandwidth);
	ops = api_bucket_json(&rl->ops);
	if (!o || !bw || !ops) {
		cJSON_Delete(o);
		cJSON_Delete(bw);
		cJSON_Delete(ops);
		return false;
	}
	cJSON_AddItemToObject(o, "bandwidth", bw);
	cJSON_AddItemToObject(o, "ops", ops);
	cJSON_AddItemToObject(obj, name, o);
	return true;
}

cJSON *api_net_json(const struct net_iface_config *n)
{
	cJSON *o = cJSON_CreateObject();
	char mac[18];

	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", n->guest_mac[0], n->guest_mac[1],
		 n->guest_mac[2], n->guest_mac[3], n->guest_mac[4], n->guest_mac[5]);
	if (!o || !cJSON_AddStringToObject(o, "iface_id", n->iface_id) ||
	    !cJSON_AddStringToObject(o, "host_dev_name", n->host_dev_name) ||
	    !(n->has_guest_mac ? cJSON_AddStringToObject(o, "guest_mac", mac)
			       : cJSON_AddNullToObject(o, "guest_mac")) ||
	    (n->mtu && !cJSON_AddNumberToObject(o, "mtu", n->mtu)) ||
	    !api_add_rate_limiter(o, "rx_rate_limiter", &n->rx_rate_limiter) ||
	    !api_add_rate_limiter(o, "tx_rate_limiter", &n->tx_rate_limiter)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

cJSON *api_vsock_json(const struct vsock_config *v)
{
	cJSON *o;

	if (!v->present)
		return cJSON_CreateNull();
	o = cJSON_CreateObject();
	if (!o || (v->vsock_id[0] && !cJSON_AddStringToObject(o, "vsock_id", v->vsock_id)) ||
	    !cJSON_AddNumberToObject(o, "guest_cid", v->guest_cid) ||
	    !cJSON_AddStringToObject(o, "uds_path", v->uds_path)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

cJSON *api_balloon_json(const struct balloon_config *b)
{
	cJSON *o;

	if (!b->present)
		return cJSON_CreateNull();
	o = cJSON_CreateObject();
	if (!o || !cJSON_AddNumberToObject(o, "amount_mib", (double)b->amount_mib) ||
	    !cJSON_AddBoolToObject(o, "deflate_on_oom", b->deflate_on_oom) ||
	    !cJSON_AddNumberToObject(o, "stats_polling_interval_s", (double)b->stats_polling_interval_s) ||
	    !cJSON_AddBoolToObject(o, "free_page_reporting", b->free_page_reporting)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

cJSON *api_entropy_json(const struct entropy_config *e)
{
	cJSON *o;

	if (!e->present)
		return cJSON_CreateNull();
	o = cJSON_CreateObject();
	if (!o || !api_add_rate_limiter(o, "rate_limiter", &e->rate_limiter)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* Pages are 4 KiB: 256 to the MiB. */
cJSON *api_balloon_stats_json(const struct api_balloon_stats *st)
{
	cJSON *o = cJSON_CreateObject();
	bool ok = o && cJSON_AddNumberToObject(o, "target_pages", (double)st->target_pages) &&
		  cJSON_AddNumberToObject(o, "actual_pages", (double)st->actual_pages) &&
		  cJSON_AddNumberToObject(o, "target_mib", (double)(st->target_pages / 256)) &&
		  cJSON_AddNumberToObject(o, "actual_mib", (double)(st->actual_pages / 256));

	for (unsigned int i = 0; ok && i < API_BALLOON_NR_STATS; i++)
		if (st->present & (1u << i))
			ok = cJSON_AddNumberToObject(o, api_balloon_stat_names[i], (double)st->stat[i]) != NULL;
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}
