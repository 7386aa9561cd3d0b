/*
 * "logger" and "metrics": the config-file sections and the PUT /logger and
 * PUT /metrics bodies.  Paths are opened by the VMM when it applies them.
 */
#include "vmm/config/json_fields.h"
#include "vmm/config/vm_config.h"

#include <errno.h>
#include <string.h>

#include "vmm/log/log.h"

static int get_tristate(const cJSON *obj, const char *name, const char *section, int *out,
			char err[CONFIG_ERR_MAX])
{
	bool b;
	int r = json_get_bool(obj, name, section, false, &b, err);

	*out = r == 1 ? b : -1;
	return r < 0 ? r : 0;
}

int logger_config_parse(const void *json, const char *section, struct logger_config *out,
			char err[CONFIG_ERR_MAX])
{
	static const char *const fields[] = { "log_path", "level", "show_level", "show_log_origin",
					      "module", NULL };
	const cJSON *obj = json;
	struct logger_config lc;
	char q[JSON_QUOTE_MAX];
	const char *s;
	int r;

	memset(&lc, 0, sizeof(lc));
	lc.level = -1;
	r = json_check_fields(obj, fields, section, err);
	if (r)
		return r;
	r = json_get_path(obj, "log_path", section, false, lc.log_path, sizeof(lc.log_path), err);
	if (r < 0)
		return r;
	r = json_get_string(obj, "level", section, false, 16, &s, err);
	if (r < 0)
		return r;
	if (r == 1) {
		lc.level = log_level_parse(s);
		if (lc.level < 0) {
			json_field_err(err, section, "level",
				       "must be one of Error, Warning, Info, Debug, Trace, Off; got \"%s\"",
				       json_quote(q, s));
			return -EINVAL;
		}
	}
	r = get_tristate(obj, "show_level", section, &lc.show_level, err) ?:
	    get_tristate(obj, "show_log_origin", section, &lc.show_origin, err);
	if (r)
		return r;
	/* Filtering by module needs module names kiln does not have. */
	r = json_get_string(obj, "module", section, false, CONFIG_PATH_MAX, &s, err);
	if (r < 0)
		return r;
	if (r == 1) {
		json_field_err(err, section, "module", "not supported by this kiln build yet");
		return -EINVAL;
	}
	*out = lc;
	return 0;
}

int metrics_config_parse(const void *json, const char *section, struct metrics_config *out,
			 char err[CONFIG_ERR_MAX])
{
	static const char *const fields[] = { "metrics_path", NULL };
	const cJSON *obj = json;
	struct metrics_config mc;
	int r;

	memset(&mc, 0, sizeof(mc));
	r = json_check_fields(obj, fields, section, err);
	if (r)
		return r;
	r = json_get_path(obj, "metrics_path", section, true, mc.metrics_path, sizeof(mc.metrics_path), err);
	if (r < 0)
		return r;
	*out = mc;
	return 0;
}
