/* The path table: which method on which path becomes which request. */
#include "vmm/api/api_priv.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define GET API_METHOD_GET
#define PUT API_METHOD_PUT
#define PATCH API_METHOD_PATCH
#define M(m) (1u << (m))

static const struct api_route api_routes[] = {
	{ .seg = "", .res = API_RES_INSTANCE_INFO, .h = { [GET] = { .op = API_OP_GET_INSTANCE_INFO } } },
	{ .seg = "version", .res = API_RES_VERSION, .h = { [GET] = { .op = API_OP_GET_VERSION } } },
	{ .seg = "machine-config", .res = API_RES_MACHINE_CONFIG, .h = {
		[GET] = { .op = API_OP_GET_MACHINE_CONFIG },
		[PUT] = { .parse = api_parse_machine_put },
		[PATCH] = { .parse = api_parse_machine_patch },
	} },
	{ .seg = "boot-source", .res = API_RES_BOOT_SOURCE, .h = { [PUT] = { .parse = api_parse_boot_source } } },
	{ .seg = "actions", .res = API_RES_ACTIONS, .h = { [PUT] = { .parse = api_parse_actions } } },
	{ .seg = "vm", .res = API_RES_VM, .h = { [PATCH] = { .parse = api_parse_vm_state } } },
	{ .seg = "vm", .sub = "config", .res = API_RES_VM_CONFIG, .h = { [GET] = { .op = API_OP_GET_VM_CONFIG } } },
	{ .seg = "snapshot", .sub = "create", .res = API_RES_SNAPSHOT,
	  .h = { [PUT] = { .parse = api_parse_snapshot_create } } },
	{ .seg = "snapshot", .sub = "load", .res = API_RES_SNAPSHOT,
	  .h = { [PUT] = { .parse = api_parse_snapshot_load } } },
	{ .seg = "logger", .res = API_RES_LOGGER, .h = { [PUT] = { .parse = api_parse_logger } } },
	{ .seg = "metrics", .res = API_RES_METRICS, .h = { [PUT] = { .parse = api_parse_metrics } } },
	{ .seg = "drives", .res = API_RES_DRIVES, .h = {
		[PUT] = { .parse = api_parse_drive_put },
		[PATCH] = { .parse = api_parse_drive_patch },
	}, .id_field = "drive_id", .section = "drives" },
	{ .seg = "network-interfaces", .res = API_RES_NETWORK_INTERFACES, .h = {
		[PUT] = { .parse = api_parse_net_put },
		[PATCH] = { .parse = api_parse_net_patch },
	}, .id_field = "iface_id", .section = "network-interfaces" },
	{ .seg = "vsock", .res = API_RES_VSOCK, .h = { [PUT] = { .parse = api_parse_vsock } } },
	{ .seg = "entropy", .res = API_RES_ENTROPY, .h = { [PUT] = { .parse = api_parse_entropy } } },
	{ .seg = "balloon", .res = API_RES_BALLOON, .h = {
		[GET] = { .op = API_OP_GET_BALLOON },
		[PUT] = { .parse = api_parse_balloon_put },
		[PATCH] = { .parse = api_parse_balloon_patch },
	} },
	{ .seg = "balloon", .sub = "statistics", .res = API_RES_BALLOON, .h = {
		[GET] = { .op = API_OP_GET_BALLOON_STATS },
		[PATCH] = { .parse = api_parse_balloon_stats_patch },
	} },
};

/* Firecracker's other resources, with the methods its API routes for them. */
static const struct api_unsupported api_unsupported[] = {
	{ "pmem", "pmem", API_RES_PMEM, M(PUT) | M(PATCH), "id" },
	{ "mmds", "mmds", API_RES_MMDS, M(GET) | M(PUT) | M(PATCH), NULL },
	{ "cpu-config", "cpu-config", API_RES_CPU_CONFIG, M(PUT), NULL },
	{ "serial", "serial", API_RES_SERIAL, M(PUT), NULL },
	{ "hotplug", "hotplug", API_RES_HOTPLUG, M(GET) | M(PUT) | M(PATCH), NULL },
};

/* Names in the metrics file, after Firecracker's where it has one. */
static const char *const api_metric_names[API_RES_NR] = {
	[API_RES_INSTANCE_INFO] = "instance_info",
	[API_RES_VERSION] = "vmm_version",
	[API_RES_ACTIONS] = "actions",
	[API_RES_BOOT_SOURCE] = "boot_source",
	[API_RES_MACHINE_CONFIG] = "machine_cfg",
	[API_RES_VM] = "vm",
	[API_RES_VM_CONFIG] = "vm_config",
	[API_RES_LOGGER] = "logger",
	[API_RES_METRICS] = "metrics",
	[API_RES_DRIVES] = "drive",
	[API_RES_NETWORK_INTERFACES] = "network",
	[API_RES_VSOCK] = "vsock",
	[API_RES_BALLOON] = "balloon",
	[API_RES_ENTROPY] = "entropy",
	[API_RES_MMDS] = "mmds",
	[API_RES_SNAPSHOT] = "snapshot",
	[API_RES_CPU_CONFIG] = "cpu_cfg",
	[API_RES_SERIAL] = "serial",
	[API_RES_PMEM] = "pmem",
	[API_RES_HOTPLUG] = "hotplug",
	[API_RES_OTHER] = "invalid_path",
};

void api_path_split(const char *path, struct api_path *out)
{
	const char *p = path;

	memset(out, 0, sizeof(*out));
	while (*p == '/')
		p++;
	while (*p) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (out->n < API_PATH_SEGS) {
			out->seg[out->n].p = p;
			out->seg[out->n].len = len;
		}
		out->n++;
		if (!end)
			break;
		p = end + 1; /* "a/" ends here: the trailing empty segment is dropped */
	}
}

bool api_seg_is(const struct api_path *path, unsigned int i, const char *s)
{
	size_t len = strlen(s);

	if (i >= path->n || i >= API_PATH_SEGS)
		return false;
	return path->seg[i].len == len && !memcmp(path->seg[i].p, s, len);
}

const struct api_route *api_route_find(const struct api_path *path)
{
	/* "/" has no segment at all; every other route has one or two.  An id
	 * route also takes the path without its id, which then fails with
	 * Firecracker's "The ID cannot be empty." */
	for (size_t i = 0; i < ARRAY_SIZE(api_routes); i++) {
		const struct api_route *r = &api_routes[i];
		unsigned int want = r->seg[0] ? (r->sub ? 2 : 1) : 0;

		if (r->id_field) {
			if ((path->n == 1 || path->n == 2) && api_seg_is(path, 0, r->seg))
				return r;
			continue;
		}
		if (path->n != want)
			continue;
		if (want >= 1 && !api_seg_is(path, 0, r->seg))
			continue;
		if (want == 2 && !api_seg_is(path, 1, r->sub))
			continue;
		return r;
	}
	return NULL;
}

const struct api_unsupported *api_unsupported_find(const struct api_path *path)
{
	for (size_t i = 0; i < ARRAY_SIZE(api_unsupported); i++)
		if (api_seg_is(path, 0, api_unsupported[i].seg))
			return &api_unsupported[i];
	return NULL;
}

bool api_route_has(enum api_method method, enum api_resource res)
{
	for (size_t i = 0; i < ARRAY_SIZE(api_routes); i++)
		if (api_routes[i].res == res &&
		    (api_routes[i].h[method].op || api_routes[i].h[method].parse))
			return true;
	for (size_t i = 0; i < ARRAY_SIZE(api_unsupported); i++)
		if (api_unsupported[i].res == res && (api_unsupported[i].methods & M(method)))
			return true;
	return false;
}

const char *api_resource_metric_name(enum api_resource res)
{
	return (unsigned int)res < API_RES_NR ? api_metric_names[res] : "invalid_path";
}

int api_id_check(const char *id, size_t len, char err[JSON_ERR_MAX])
{
	if (!len) {
		snprintf(err, JSON_ERR_MAX, "%s", API_MSG_EMPTY_ID);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		char c = id[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_')) {
			snprintf(err, JSON_ERR_MAX, "%s", API_MSG_BAD_ID);
			return -EINVAL;
		}
	}
	return 0;
}

int api_path_id_check(const struct api_path *path, char err[JSON_ERR_MAX])
{
	if (path->n < 2) {
		snprintf(err, JSON_ERR_MAX, "%s", API_MSG_EMPTY_ID);
		return -EINVAL;
	}
	return api_id_check(path->seg[1].p, path->seg[1].len, err);
}

int api_body_id_check(const cJSON *doc, const struct api_path *path, const char *id_field,
		      const char *section, char err[JSON_ERR_MAX])
{
	const char *id;

	if (!cJSON_IsObject(doc)) {
		json_field_err(err, section, NULL, "expected a JSON object, got %s", json_type_name(doc));
		return -EINVAL;
	}
	if (json_get_string(doc, id_field, section, true, CONFIG_PATH_MAX, &id, err) < 0)
		return -EINVAL;
	if (strlen(id) != path->seg[1].len || memcmp(id, path->seg[1].p, path->seg[1].len)) {
		snprintf(err, JSON_ERR_MAX, "%s", API_MSG_ID_MISMATCH);
		return -EINVAL;
	}
	return 0;
}
