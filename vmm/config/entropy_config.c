/* "entropy": the config-file section and the PUT /entropy body. */
#include "vmm/config/json_fields.h"
#include "vmm/config/vm_config.h"

#include <string.h>

static const char *const entropy_fields[] = { "rate_limiter", NULL };

int entropy_config_parse(const void *json, const char *section, struct entropy_config *out,
			 char err[CONFIG_ERR_MAX])
{
	const cJSON *obj = json;
	struct entropy_config e;
	int r;

	memset(&e, 0, sizeof(e));
	r = json_check_fields(obj, entropy_fields, section, err);
	if (r)
		return r;
	r = rate_limiter_parse(cJSON_GetObjectItemCaseSensitive(obj, "rate_limiter"), section,
			       "rate_limiter", &e.rate_limiter, err);
	if (r)
		return r;
	e.present = true;
	*out = e;
	return 0;
}
