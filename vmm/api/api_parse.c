/*
 * Request bodies into typed requests.  boot-source and machine-config use the
 * config layer's parsers, so the API and --config-file accept the same
 * documents with the same messages.
 */
#include "vmm/api/api_priv.h"

#include <errno.h>
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

/* A path field: present means non-empty and fits a path buffer. */
static int api_get_path(const cJSON *obj, const char *name, const char *section, bool required,
			char out[CONFIG_PATH_MAX], char err[JSON_ERR_MAX])
{
	const char *s;
	int r;

	r = json_get_string(obj, name, section, required, CONFIG_PATH_MAX - 1, &s, err);
	if (r == 1 && !*s) {
		json_field_err(err, section, name, "must not be empty");
		return -EINVAL;
	}
	if (r == 1)
		strcpy(out, s); /* length checked by json_get_string */
	return r;
}

static int api_get_tristate(const cJSON *obj, const char *name, int *out, char err[JSON_ERR_MAX])
{
	bool b;
	int r = json_get_bool(obj, name, "logger", false, &b, err);

	if (r == 1)
		*out = b;
	return r < 0 ? r : 0;
}

int api_parse_logger(cJSON **doc, struct api_request *req, char err[JSON_ERR_MAX])
{
	static const char *const fields[] = { "log_path", "level", "show_level", "show_log_origin",
					      "module", NULL };
	struct api_logger_config *lc = &req->u.logger;
	const char *s;
	char q[JSON_QUOTE_MAX];
	int r;

	r = json_check_fields(*doc, fields, "logger", err);
	if (r)
		return r;
	memset(lc, 0, sizeof(*lc));
	lc->level = lc->show_level = lc->show_origin = -1;
	r = api_get_path(*doc, "log_path", "logger", false, lc->log_path, err);
	if (r < 0)
		return r;
	r = json_get_string(*doc, "level", "logger", false, 16, &s, err);
	if (r < 0)
		return r;
	if (r == 1) {
		lc->level = log_level_parse(s);
		if (lc->level < 0) {
			json_field_err(err, "logger", "level",
				       "must be one of Error, Warning, Info, Debug, Trace, Off; got \"%s\"",
				       json_quote(q, s));
			return -EINVAL;
		}
	}
	r = api_get_tristate(*doc, "show_level", &lc->show_level, err);
	if (r)
		return r;
	r = api_get_tristate(*doc, "show_log_origin", &lc->show_origin, err);
	if (r)
		return r;
	/* Filtering by module needs module names kiln does not have. */
	r = json_get_string(*doc, "module", "logger", false, CONFIG_PATH_MAX, &s, err);
	if (r < 0)
		return r;
	if (r == 1) {
		json_field_err(err, "logger", "module", "%s", API_MSG_NOT_SUPPORTED);
		return -EINVAL;
	}
	req->op = API_OP_PUT_LOGGER;
	return 0;
}

int api_parse_metrics(cJSON **doc, struct api_request *req, char err[JSON_ERR_MAX])
{
	static const char *const fields[] = { "metrics_path", NULL };
	int r;

	r = json_check_fields(*doc, fields, "metrics", err);
	if (r)
		return r;
	memset(&req->u.metrics, 0, sizeof(req->u.metrics));
	r = api_get_path(*doc, "metrics_path", "metrics", true, req->u.metrics.metrics_path, err);
	if (r < 0)
		return r;
	req->op = API_OP_PUT_METRICS;
	return 0;
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
