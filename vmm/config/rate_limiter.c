/*
 * "rate_limiter" objects (drives, network interfaces, entropy): Firecracker's
 * RateLimiter {bandwidth, ops} of TokenBucket {size, one_time_burst,
 * refill_time}.  A bucket with size 0 or refill_time 0 does nothing in
 * Firecracker, so it is stored as absent (size 0).
 */
#include "vmm/config/json_fields.h"
#include "vmm/config/vm_config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const limiter_fields[] = { "bandwidth", "ops", NULL };
static const char *const bucket_fields[] = { "size", "one_time_burst", "refill_time", NULL };

static int bucket_parse(const cJSON *obj, const char *section, struct rl_bucket_config *out,
			char err[CONFIG_ERR_MAX])
{
	struct rl_bucket_config b = { 0 };
	int r;

	if (!obj || cJSON_IsNull(obj)) {
		*out = b;
		return 0;
	}
	r = json_check_fields(obj, bucket_fields, section, err);
	if (r)
		return r;
	r = json_get_u64(obj, "size", section, true, 0, JSON_INT_MAX, &b.size, err);
	if (r < 0)
		return r;
	r = json_get_u64(obj, "one_time_burst", section, false, 0, JSON_INT_MAX, &b.one_time_burst, err);
	if (r < 0)
		return r;
	r = json_get_u64(obj, "refill_time", section, true, 0, JSON_INT_MAX, &b.refill_time_ms, err);
	if (r < 0)
		return r;
	if (!b.size || !b.refill_time_ms)
		memset(&b, 0, sizeof(b));
	*out = b;
	return 0;
}

int rate_limiter_parse(const void *json, const char *section, const char *name,
		       struct ratelimit_config *out, char err[CONFIG_ERR_MAX])
{
	const cJSON *obj = json;
	struct ratelimit_config rl;
	char sec[96];
	int r;

	memset(&rl, 0, sizeof(rl));
	if (!obj || cJSON_IsNull(obj)) {
		*out = rl;
		return 0;
	}
	snprintf(sec, sizeof(sec), "%s.%s", section, name);
	r = json_check_fields(obj, limiter_fields, sec, err);
	if (r)
		return r;
	snprintf(sec, sizeof(sec), "%s.%s.bandwidth", section, name);
	r = bucket_parse(cJSON_GetObjectItemCaseSensitive(obj, "bandwidth"), sec, &rl.bandwidth, err);
	if (r)
		return r;
	snprintf(sec, sizeof(sec), "%s.%s.ops", section, name);
	r = bucket_parse(cJSON_GetObjectItemCaseSensitive(obj, "ops"), sec, &rl.ops, err);
	if (r)
		return r;
	*out = rl;
	return 0;
}
