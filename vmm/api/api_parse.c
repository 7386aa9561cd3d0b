/*
 * Request bodies into typed requests.  boot-source and machine-config use the
 * config layer's parsers, so the API and --config-file accept the same
 * documents with the same messages.
 */
#include "vmm/api/api_priv.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmm/log/log.h"

int api_parse_boot_source(cJSON **doc, struct api_request *req, char err[JSON_ERR_MAX])
{
	req->op = API_OP_PUT_BOOT_SOURCE;
	memset(&req->u.boot_source, 0, sizeof(req->u.boot_source));
	return boot_source_parse(*doc, &req->u.boot_source, err);
}

int api_parse_machine_put(cJSON **doc, struct api_request *req, char err[JSON_ERR_MAX])
{
	req->op = API_OP_PUT_MACHINE_CONFIG;
	machine_config_init(&req->u.machine);
	return machine_config_parse(*doc, false, &req->u.machine, err);
}

/*
 * The patch is checked here against the default config, which satisfies every
 * cross-field rule whatever subset a patch sets (1 vCPU, no SMT, 128 MiB, no
 * huge pages), so this refuses only bodies that are bad on any base.  The VMM
 * applies the tree to its current config, which checks the result as a whole.
 */
int api_parse_machine_patch(cJSON **doc, struct api_request *req, char err[JSON_ERR_MAX])
{
	struct machine_config scratch;
	int r;

	machine_config_init(&scratch);
	r = machine_config_parse(*doc, true, &scratch, err);
	if (r)
		return r;
	req->op = API_OP_PATCH_MACHINE_CONFIG;
	req->u.machine_patch = *doc;
	*doc = NULL;
	return 0;
}

int api_parse_actions(cJSON **doc, struct api_request *req, char err[JSON_ERR_MAX])
{
	static const char *const fields[] = { "action_type", NULL };
	static const char *const types[] = { "FlushMetrics", "InstanceStart", "SendCtrlAltDel", NULL };
	static const enum api_op ops[] = { API_OP_FLUSH_METRICS, API_OP_INSTANCE_START,
					   API_OP_SEND_CTRL_ALT_DEL };
	unsigned int t;
	int r;

	r = json_check_fields(*doc, fields, "actions", err);
	if (r)
		return r;
	r = json_get_enum(*doc, "action_type", "actions", true, types, &t, err);
	if (r < 0)
		return r;
	req->op = ops[t];
	return 0;
}

int api_parse_vm_state(cJSON **doc, struct api_request *req, char err[JSON_ERR_MAX])
{
	static const char *const fields[] = { "state", NULL };
	static const char *const states[] = { "Paused", "Resumed", NULL };
	unsigned int s;
	int r;

	r = json_check_fields(*doc, fields, "vm", err);
	if (r)
		return r;
	r = json_get_enum(*doc, "state", "vm", true, states, &s, err);
	if (r < 0)
		return r;
	req->op = s == 0 ? API_OP_PAUSE : API_OP_RESUME;
	return 0;
}

int api_parse_logger(cJSON **doc, struct api_request *req, char err[JSON_ERR_MAX])
{
	int r = logger_config_parse(*doc, "logger", &req->u.logger, err);

	if (!r)
		req->op = API_OP_PUT_LOGGER;
	return r;
}

int api_parse_metrics(cJSON **doc, struct api_request *req, char err[JSON_ERR_MAX])
{
	int r = metrics_config_parse(*doc, "metrics", &req->u.metrics, err);

	if (!r)
		req->op = API_OP_PUT_METRICS;
	return r;
}

/* PUT /drives/{id}: the config file's drive object; the path id was checked
 * against the body's drive_id already.  The VMM opens the file. */
int api_parse_drive_put(cJSON **doc, struct api_request *req, char err[JSON_ERR_MAX])
{
	int r = drive_config_parse(*doc, "drives", &req->u.drive, err);

	if (!r)
		req->op = API_OP_PUT_DRIVE;
	return r;
}

int api_parse_drive_patch(cJSON **doc, struct api_request *req, char err[JSON_ERR_MAX])
{
	int r = drive_patch_parse(*doc, "drives", &req->u.drive_patch, err);

	if (!r)
		req->op = API_OP_PATCH_DRIVE;
	return r;
}

/* PUT /network-interfaces/{id}; the path id was checked against iface_id. */
int api_parse_net_put(cJSON **doc, struct api_request *req, char err[JSON_ERR_MAX])
{
	int r = net_iface_config_parse(*doc, "network-interfaces", &req->u.net, err);

	if (!r)
		req->op = API_OP_PUT_NET;
	return r;
}

int api_parse_net_patch(cJSON **doc, struct api_request *req, char err[JSON_ERR_MAX])
{
	int r = net_iface_patch_parse(*doc, "network-interfaces", &req->u.net_patch, err);

	if (!r)
		req->op = API_OP_PATCH_NET;
	return r;
}

int api_parse_vsock(cJSON **doc, struct api_request *req, char err[JSON_ERR_MAX])
{
	int r = vsock_config_parse(*doc, "vsock", &req->u.vsock, err);

	if (!r)
		req->op = API_OP_PUT_VSOCK;
	return r;
}

int api_parse_entropy(cJSON **doc, struct api_request *req, char err[JSON_ERR_MAX])
{
	int r = entropy_config_parse(*doc, "entropy", &req->u.entropy, err);

	if (!r)
		req->op = API_OP_PUT_ENTROPY;
	return r;
}

int api_parse_balloon_put(cJSON **doc, struct api_request *req, char err[JSON_ERR_MAX])
{
	int r = balloon_config_parse(*doc, "balloon", &req->u.balloon, err);

	if (!r)
		req->op = API_OP_PUT_BALLOON;
	return r;
}

int api_parse_balloon_patch(cJSON **doc, struct api_request *req, char err[JSON_ERR_MAX])
{
	int r = balloon_patch_parse(*doc, "balloon", false, &req->u.balloon_patch, err);

	if (!r)
		req->op = API_OP_PATCH_BALLOON;
	return r;
}

int api_parse_balloon_stats_patch(cJSON **doc, struct api_request *req, char err[JSON_ERR_MAX])
{
	int r = balloon_patch_parse(*doc, "balloon", true, &req->u.balloon_patch, err);

	if (!r)
		req->op = API_OP_PATCH_BALLOON_STATS;
	return r;
}

/* PUT /snapshot/create: snapshot_type ("Full" default, "Diff"), snapshot_path,
 * mem_file_path (both required).  Firecracker's "version" is refused: kiln
 * writes one format version. */
int api_parse_snapshot_create(cJSON **doc, struct api_request *req, char err[JSON_ERR_MAX])
{
	static const char *const fields[] = { "snapshot_type", "snapshot_path", "mem_file_path", NULL };
	static const char *const types[] = { "Full", "Diff", NULL };
	struct api_snapshot_create *c = &req->u.snapshot_create;
	unsigned int t = 0;
	int r;

	r = json_check_fields(*doc, fields, "snapshot-create", err);
	if (r)
		return r;
	memset(c, 0, sizeof(*c));
	r = json_get_enum(*doc, "snapshot_type", "snapshot-create", false, types, &t, err);
	if (r < 0)
		return r;
	c->type = t ? API_SNAPSHOT_DIFF : API_SNAPSHOT_FULL;
	r = json_get_path(*doc, "snapshot_path", "snapshot-create", true, c->snapshot_path, sizeof(c->snapshot_path), err);
	if (r < 0)
		return r;
	r = json_get_path(*doc, "mem_file_path", "snapshot-create", true, c->mem_file_path, sizeof(c->mem_file_path), err);
	if (r < 0)
		return r;
	req->op = API_OP_SNAPSHOT_CREATE;
	return 0;
}

static int api_parse_mem_backend(const cJSON *obj, struct api_snapshot_load *l, char err[JSON_ERR_MAX])
{
	static const char *const fields[] = { "backend_type", "backend_path", NULL };
	static const char *const types[] = { "File", "Uffd", NULL };
	unsigned int t;
	int r;

	if (!cJSON_IsObject(obj)) {
		json_field_err(err, "snapshot-load", "mem_backend", "expected an object, got %s", json_type_name(obj));
		return -EINVAL;
	}
	r = json_check_fields(obj, fields, "snapshot-load.mem_backend", err);
	if (r)
		return r;
	r = json_get_enum(obj, "backend_type", "snapshot-load.mem_backend", true, types, &t, err);
	if (r < 0)
		return r;
	l->backend = t ? API_MEM_BACKEND_UFFD : API_MEM_BACKEND_FILE;
	r = json_get_path(obj, "backend_path", "snapshot-load.mem_backend", true, l->backend_path, sizeof(l->backend_path), err);
	return r < 0 ? r : 0;
}

static int api_parse_net_overrides(const cJSON *arr, struct api_snapshot_load *l, char err[JSON_ERR_MAX])
{
	static const char *const fields[] = { "iface_id", "host_dev_name", NULL };
	const cJSON *o;

	if (!cJSON_IsArray(arr)) {
		json_field_err(err, "snapshot-load", "network_overrides", "expected an array, got %s",
			       json_type_name(arr));
		return -EINVAL;
	}
	cJSON_ArrayForEach(o, arr) {
		const char *id, *dev;
		int r;

		if (l->nr_net_overrides >= API_SNAPSHOT_MAX_NET_OVERRIDES) {
			json_field_err(err, "snapshot-load", "network_overrides", "at most %d entries",
				       API_SNAPSHOT_MAX_NET_OVERRIDES);
			return -EINVAL;
		}
		r = json_check_fields(o, fields, "snapshot-load.network_overrides[]", err);
		if (r)
			return r;
		if (json_get_string(o, "iface_id", "snapshot-load.network_overrides[]", true, CONFIG_ID_MAX, &id,
				    err) < 0 ||
		    json_get_string(o, "host_dev_name", "snapshot-load.network_overrides[]", true, CONFIG_ID_MAX,
				    &dev, err) < 0)
			return -EINVAL;
		snprintf(l->net_overrides[l->nr_net_overrides].iface_id, CONFIG_ID_MAX + 1, "%s", id);
		snprintf(l->net_overrides[l->nr_net_overrides].host_dev_name, CONFIG_ID_MAX + 1, "%s", dev);
		l->nr_net_overrides++;
	}
	return 0;
}

/* PUT /snapshot/load: snapshot_path, mem_backend {backend_type File|Uffd,
 * backend_path} or the deprecated mem_file_path (one of the two),
 * track_dirty_pages (or the deprecated enable_diff_snapshots), resume_vm,
 * network_overrides, vsock_override {uds_path}. */
int api_parse_snapshot_load(cJSON **doc, struct api_request *req, char err[JSON_ERR_MAX])
{
	static const char *const fields[] = { "snapshot_path", "mem_backend", "mem_file_path",
					      "track_dirty_pages", "enable_diff_snapshots", "resume_vm",
					      "network_overrides", "vsock_override", NULL };
	static const char *const vsock_fields[] = { "uds_path", NULL };
	struct api_snapshot_load *l = &req->u.snapshot_load;
	const cJSON *backend, *net, *vsock;
	bool diff = false;
	int r, has_file;

	r = json_check_fields(*doc, fields, "snapshot-load", err);
	if (r)
		return r;
	memset(l, 0, sizeof(*l));
	r = json_get_path(*doc, "snapshot_path", "snapshot-load", true, l->snapshot_path, sizeof(l->snapshot_path), err);
	if (r < 0)
		return r;
	backend = cJSON_GetObjectItemCaseSensitive(*doc, "mem_backend");
	if (cJSON_IsNull(backend))
		backend = NULL;
	has_file = json_get_path(*doc, "mem_file_path", "snapshot-load", false, l->backend_path, sizeof(l->backend_path), err);
	if (has_file < 0)
		return has_file;
	if (!!backend == (has_file == 1)) {
		json_field_err(err, "snapshot-load", NULL, "exactly one of mem_backend and mem_file_path is required");
		return -EINVAL;
	}
	if (backend) {
		r = api_parse_mem_backend(backend, l, err);
		if (r)
			return r;
	}
	r = json_get_bool(*doc, "track_dirty_pages", "snapshot-load", false, &l->track_dirty_pages, err);
	if (r < 0)
		return r;
	r = json_get_bool(*doc, "enable_diff_snapshots", "snapshot-load", false, &diff, err);
	if (r < 0)
		return r;
	l->track_dirty_pages |= diff;
	r = json_get_bool(*doc, "resume_vm", "snapshot-load", false, &l->resume_vm, err);
	if (r < 0)
		return r;
	net = cJSON_GetObjectItemCaseSensitive(*doc, "network_overrides");
	if (net && !cJSON_IsNull(net) && (r = api_parse_net_overrides(net, l, err)))
		return r;
	vsock = cJSON_GetObjectItemCaseSensitive(*doc, "vsock_override");
	if (vsock && !cJSON_IsNull(vsock)) {
		r = json_check_fields(vsock, vsock_fields, "snapshot-load.vsock_override", err);
		if (r)
			return r;
		r = json_get_path(vsock, "uds_path", "snapshot-load.vsock_override", true, l->vsock_uds_path, sizeof(l->vsock_uds_path), err);
		if (r < 0)
			return r;
		l->has_vsock_override = true;
	}
	req->op = API_OP_SNAPSHOT_LOAD;
	return 0;
}
