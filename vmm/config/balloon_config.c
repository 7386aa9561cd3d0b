/* "balloon": the config-file section, PUT /balloon, and the PATCH bodies of
 * /balloon and /balloon/statistics. */
#include "vmm/config/json_fields.h"
#include "vmm/config/vm_config.h"

#include <errno.h>
#include <string.h>

static const char *const balloon_fields[] = {
	"amount_mib", "deflate_on_oom", "stats_polling_interval_s", "free_page_reporting", NULL,
};
static const char *const balloon_patch_fields[] = { "amount_mib", NULL };
static const char *const balloon_stats_fields[] = { "stats_polling_interval_s", NULL };


int balloon_config_parse(const void *json, const char *section, struct balloon_config *out,
			 char err[CONFIG_ERR_MAX])
{
	const cJSON *obj = json;
	struct balloon_config b;
	bool v;
	int r;

	memset(&b, 0, sizeof(b));
	r = json_check_fields(obj, balloon_fields, section, err);
	if (r)
		return r;
	r = json_get_u64(obj, "amount_mib", section, true, 0, CONFIG_BALLOON_MAX_MIB, &b.amount_mib, err);
	if (r < 0)
		return r;
	r = json_get_bool(obj, "deflate_on_oom", section, true, &b.deflate_on_oom, err);
	if (r < 0)
		return r;
	r = json_get_u64(obj, "stats_polling_interval_s", section, false, 0, CONFIG_BALLOON_MAX_INTERVAL_S,
			 &b.stats_polling_interval_s, err);
	if (r < 0)
		return r;
	r = json_get_bool(obj, "free_page_reporting", section, false, &v, err);
	if (r < 0)
		return r;
	b.free_page_reporting = r == 1 && v;
	b.present = true;
	*out = b;
	return 0;
}

int balloon_patch_parse(const void *json, const char *section, bool stats, struct balloon_patch *out,
			char err[CONFIG_ERR_MAX])
{
	const cJSON *obj = json;
	struct balloon_patch p;
	int r;

	memset(&p, 0, sizeof(p));
	r = json_check_fields(obj, stats ? balloon_stats_fields : balloon_patch_fields, section, err);
	if (r)
		return r;
	if (stats) {
		r = json_get_u64(obj, "stats_polling_interval_s", section, true, 0, CONFIG_BALLOON_MAX_INTERVAL_S,
				 &p.stats_polling_interval_s, err);
		p.has_stats_interval = r == 1;
	} else {
		r = json_get_u64(obj, "amount_mib", section, true, 0, CONFIG_BALLOON_MAX_MIB, &p.amount_mib, err);
		p.has_amount = r == 1;
	}
	if (r < 0)
		return r;
	*out = p;
	return 0;
}
