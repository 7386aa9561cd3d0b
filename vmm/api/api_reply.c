/* Typed results into HTTP responses: JSON bodies, faults, and the state rule. */
#include "vmm/api/api_priv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void api_request_free(struct api_request *req)
{
	switch (req->op) {
	case API_OP_PUT_BOOT_SOURCE:
		boot_source_free(&req->u.boot_source);
		break;
	case API_OP_PATCH_MACHINE_CONFIG:
		cJSON_Delete(req->u.machine_patch);
		req->u.machine_patch = NULL;
		break;
	default:
		break;
	}
	req->op = API_OP_NONE;
}

void api_result_fail(struct api_result *res, int err, const char *fmt, ...)
{
	va_list ap;

	res->err = err ? err : -EINVAL;
	va_start(ap, fmt);
	vsnprintf(res->fault, sizeof(res->fault), fmt, ap);
	va_end(ap);
}

void api_result_free(struct api_result *res)
{
	if (res->op == API_OP_GET_VM_CONFIG && !res->err)
		vm_config_free(&res->u.vm_config);
}

const char *api_vm_state_name(enum api_vm_state state)
{
	switch (state) {
	case API_VM_RUNNING: return "Running";
	case API_VM_PAUSED: return "Paused";
	default: return "Not started";
	}
}

const char *api_method_name(enum api_method method)
{
	static const char *const names[API_METHOD_NR] = { "GET", "PUT", "PATCH" };

	return (unsigned int)method < API_METHOD_NR ? names[method] : "?";
}

int api_op_check_state(enum api_op op, enum api_vm_state state, struct api_result *res)
{
	bool started = state != API_VM_NOT_STARTED;

	switch (op) {
	case API_OP_PUT_BOOT_SOURCE:
	case API_OP_PUT_MACHINE_CONFIG:
	case API_OP_PATCH_MACHINE_CONFIG:
	case API_OP_PUT_LOGGER:
	case API_OP_PUT_METRICS:
	case API_OP_PUT_DRIVE:
	case API_OP_PUT_NET:
	case API_OP_PUT_VSOCK:
	case API_OP_PUT_ENTROPY:
	case API_OP_PUT_BALLOON:
	case API_OP_INSTANCE_START:
		if (started) {
			api_result_fail(res, -EBUSY, "%s", API_MSG_PRE_BOOT_ONLY);
			return -EBUSY;
		}
		return 0;
	case API_OP_SEND_CTRL_ALT_DEL:
	case API_OP_FLUSH_METRICS:
	case API_OP_PAUSE:
	case API_OP_RESUME:
	case API_OP_PATCH_DRIVE:
	case API_OP_PATCH_NET:
		if (!started) {
			api_result_fail(res, -EAGAIN, "%s", API_MSG_POST_BOOT_ONLY);
			return -EAGAIN;
		}
		return 0;
	case API_OP_GET_INSTANCE_INFO:
	case API_OP_GET_VERSION:
	case API_OP_GET_MACHINE_CONFIG:
	case API_OP_GET_VM_CONFIG:
	/* The balloon's calls work in both states; the VMM refuses them when
	 * there is no balloon (and stats when polling is off). */
	/* Snapshots have their own rules (create: paused; load: a fresh VMM),
	 * with Firecracker's messages; the VMM applies them. */
	case API_OP_SNAPSHOT_CREATE:
	case API_OP_SNAPSHOT_LOAD:
	case API_OP_GET_BALLOON:
	case API_OP_GET_BALLOON_STATS:
	case API_OP_PATCH_BALLOON:
	case API_OP_PATCH_BALLOON_STATS:
		return 0;
	default:
		api_result_fail(res, -EINVAL, "unknown request");
		return -EINVAL;
	}
}

void api_response_free(struct api_response *resp)
{
	free(resp->body);
	resp->body = NULL;
	resp->len = 0;
}

/* Takes obj (deletes it); 500 without a body when out of memory. */
static void api_reply_json(struct api_response *resp, unsigned int status, cJSON *obj)
{
	char *text = obj ? cJSON_PrintUnformatted(obj) : NULL;

	cJSON_Delete(obj);
	free(resp->body);
	resp->body = text;
	resp->len = text ? strlen(text) : 0;
	resp->status = text ? status : 500;
}

void api_response_fault(struct api_response *resp, const char *fault)
{
	cJSON *obj = cJSON_CreateObject();

	if (obj && !cJSON_AddStringToObject(obj, "fault_message", fault)) {
		cJSON_Delete(obj);
		obj = NULL;
	}
	api_reply_json(resp, 400, obj);
}

void api_body_too_large_msg(char msg[API_FAULT_MAX], size_t size)
{
	if (size)
		snprintf(msg, API_FAULT_MAX,
			 "Request payload with size %zu is larger than the limit of %d allowed by server.",
			 size, API_BODY_MAX);
	else
		snprintf(msg, API_FAULT_MAX,
			 "Request payload is larger than the limit of %d allowed by server.", API_BODY_MAX);
}

cJSON *api_machine_config_json(const struct machine_config *mc)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddNumberToObject(o, "vcpu_count", mc->vcpu_count) ||
	    !cJSON_AddNumberToObject(o, "mem_size_mib", (double)mc->mem_size_mib) ||
	    !cJSON_AddBoolToObject(o, "smt", mc->smt) ||
	    !cJSON_AddBoolToObject(o, "track_dirty_pages", mc->track_dirty_pages) ||
	    !cJSON_AddStringToObject(o, "huge_pages", mc->huge_pages == HUGE_PAGES_2M ? "2M" : "None")) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static cJSON *api_boot_source_json(const struct boot_source_config *bs)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddStringToObject(o, "kernel_image_path", bs->kernel_image_path) ||
	    (bs->initrd_path[0] && !cJSON_AddStringToObject(o, "initrd_path", bs->initrd_path)) ||
	    (bs->boot_args && !cJSON_AddStringToObject(o, "boot_args", bs->boot_args))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* One drive in the config-file shape (and Firecracker's GET /vm/config one). */
cJSON *api_drive_json(const struct drive_config *d)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddStringToObject(o, "drive_id", d->drive_id) ||
	    !(d->partuuid[0] ? cJSON_AddStringToObject(o, "partuuid", d->partuuid)
			     : cJSON_AddNullToObject(o, "partuuid")) ||
	    !cJSON_AddBoolToObject(o, "is_root_device", d->is_root_device) ||
	    !cJSON_AddStringToObject(o, "cache_type",
				     d->cache_type == DRIVE_CACHE_WRITEBACK ? "Writeback" : "Unsafe") ||
	    !cJSON_AddBoolToObject(o, "is_read_only", d->is_read_only) ||
	    !cJSON_AddStringToObject(o, "path_on_host", d->path_on_host) ||
	    !api_add_rate_limiter(o, "rate_limiter", &d->rate_limiter) ||
	    !cJSON_AddStringToObject(o, "io_engine", d->io_engine == DRIVE_IO_ASYNC ? "Async" : "Sync") ||
	    !cJSON_AddNullToObject(o, "socket")) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static cJSON *api_drives_json(const struct vm_config *cfg)
{
	cJSON *arr = cJSON_CreateArray();

	for (unsigned int i = 0; arr && i < cfg->nr_drives; i++) {
		cJSON *d = api_drive_json(&cfg->drives[i]);

		if (!d || !cJSON_AddItemToArray(arr, d)) {
			cJSON_Delete(d);
			cJSON_Delete(arr);
			return NULL;
		}
	}
	return arr;
}

/* Adds name: item (taken), or returns false (item freed) when item is NULL. */
static bool api_add_item(cJSON *o, const char *name, cJSON *item)
{
	if (!item)
		return false;
	cJSON_AddItemToObject(o, name, item);
	return true;
}

static cJSON *api_nets_json(const struct vm_config *cfg)
{
	cJSON *arr = cJSON_CreateArray();

	for (unsigned int i = 0; arr && i < cfg->nr_net; i++) {
		cJSON *n = api_net_json(&cfg->net[i]);

		if (!n) {
			cJSON_Delete(arr);
			return NULL;
		}
		cJSON_AddItemToArray(arr, n);
	}
	return arr;
}

/*
 * The config-file shape, so the answer boots as --config-file.  Absent
 * devices are null; logger and metrics are null too, as Firecracker does not
 * report them here either.
 */
cJSON *api_vm_config_json(const struct vm_config *cfg)
{
	static const char *const nulls[] = { "logger", "metrics", "mmds-config", "cpu-config" };
	cJSON *o = cJSON_CreateObject();
	bool ok = o &&
		  api_add_item(o, "boot-source", cfg->has_boot_source ? api_boot_source_json(&cfg->boot_source)
								      : cJSON_CreateNull()) &&
		  api_add_item(o, "machine-config", api_machine_config_json(&cfg->machine)) &&
		  api_add_item(o, "drives", api_drives_json(cfg)) &&
		  api_add_item(o, "network-interfaces", api_nets_json(cfg)) &&
		  api_add_item(o, "vsock", api_vsock_json(&cfg->vsock)) &&
		  api_add_item(o, "balloon", api_balloon_json(&cfg->balloon)) &&
		  api_add_item(o, "entropy", api_entropy_json(&cfg->entropy));

	for (size_t i = 0; ok && i < ARRAY_SIZE(nulls); i++)
		ok = cJSON_AddNullToObject(o, nulls[i]) != NULL;
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static cJSON *api_instance_info_json(const struct api_instance_info *info)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddStringToObject(o, "id", info->id) ||
	    !cJSON_AddStringToObject(o, "state", api_vm_state_name(info->state)) ||
	    !cJSON_AddStringToObject(o, "vmm_version", info->vmm_version) ||
	    !cJSON_AddStringToObject(o, "app_name", API_APP_NAME)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static cJSON *api_version_json(const struct api_instance_info *info)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddStringToObject(o, "firecracker_version", info->vmm_version)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

void api_reply_result(struct api_response *resp, const struct api_result *res)
{
	if (res->err) {
		api_response_fault(resp, res->fault[0] ? res->fault : "internal error");
		return;
	}
	switch (res->op) {
	case API_OP_GET_INSTANCE_INFO:
		api_reply_json(resp, 200, api_instance_info_json(&res->u.info));
		return;
	case API_OP_GET_VERSION:
		api_reply_json(resp, 200, api_version_json(&res->u.info));
		return;
	case API_OP_GET_MACHINE_CONFIG:
		api_reply_json(resp, 200, api_machine_config_json(&res->u.machine));
		return;
	case API_OP_GET_VM_CONFIG:
		api_reply_json(resp, 200, api_vm_config_json(&res->u.vm_config));
		return;
	case API_OP_GET_BALLOON:
		api_reply_json(resp, 200, api_balloon_json(&res->u.balloon));
		return;
	case API_OP_GET_BALLOON_STATS:
		api_reply_json(resp, 200, api_balloon_stats_json(&res->u.balloon_stats));
		return;
	default:
		resp->status = 204;
		return;
	}
}
