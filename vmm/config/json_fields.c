/* Field checks and typed getters over a cJSON object; see json_fields.h. */
#include "vmm/config/json_fields.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *json_quote(char dst[JSON_QUOTE_MAX], const char *src)
{
	const size_t keep = JSON_QUOTE_MAX - sizeof("...");
	size_t i;

	for (i = 0; src[i] && i < keep; i++) {
		unsigned char c = src[i];
		dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	if (src[i])
		memcpy(dst + i, "...", sizeof("..."));
	else
		dst[i] = '\0';
	return dst;
}

void json_field_err(char err[JSON_ERR_MAX], const char *section, const char *name,
		    const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (section && name)
		n = snprintf(err, JSON_ERR_MAX, "%s.%s: ", section, name);
	else if (section || name)
		n = snprintf(err, JSON_ERR_MAX, "%s: ", section ? section : name);
	else
		err[0] = '\0';
	if (n < 0 || n >= JSON_ERR_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(err + n, JSON_ERR_MAX - n, fmt, ap);
	va_end(ap);
}

const char *json_type_name(const cJSON *item)
{
	if (!item)
		return "nothing";
	switch (item->type & 0xff) {
	case cJSON_False:
	case cJSON_True:
		return "a boolean";
	case cJSON_NULL:
		return "null";
	case cJSON_Number:
		return "a number";
	case cJSON_String:
		return "a string";
	case cJSON_Array:
		return "an array";
	case cJSON_Object:
		return "an object";
	default:
		return "an invalid value";
	}
}

int json_check_fields(const cJSON *obj, const char *const allowed[], const char *section,
		      char err[JSON_ERR_MAX])
{
	char q[JSON_QUOTE_MAX];
	const cJSON *m;
	uint64_t seen = 0;
	unsigned int i;

	if (!cJSON_IsObject(obj)) {
		json_field_err(err, section, NULL, "expected an object, got %s", json_type_name(obj));
		return -EINVAL;
	}
	cJSON_ArrayForEach(m, obj) {
		const char *key = m->string ? m->string : "";

		for (i = 0; allowed[i] && strcmp(allowed[i], key); i++)
			;
		if (!allowed[i]) {
			json_field_err(err, section, NULL, "unknown field '%s'", json_quote(q, key));
			return -EINVAL;
		}
		if (i >= JSON_FIELDS_MAX)
			continue;
		/* cJSON keeps both copies of a repeated key and lookups see the first;
		 * refuse, as serde does, rather than silently pick one. */
		if (seen & (1ULL << i)) {
			json_field_err(err, section, NULL, "duplicate field '%s'", json_quote(q, key));
			return -EINVAL;
		}
		seen |= 1ULL << i;
	}
	return 0;
}

/* 1 with *item set, 0 when absent or null and optional, -EINVAL when required and absent. */
static int json_field_lookup(const cJSON *obj, const char *name, const char *section,
			     bool required, const cJSON **item, char err[JSON_ERR_MAX])
{
	const cJSON *it = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, name) : NULL;

	if (it && (required || !cJSON_IsNull(it))) {
		*item = it;
		return 1;
	}
	if (!required)
		return 0;
	json_field_err(err, section, name, "missing required field");
	return -EINVAL;
}

/* Without libm: every double of magnitude >= 2^53 is a whole number. */
static bool json_is_integral(double v)
{
	return isfinite(v) && (fabs(v) >= 0x1p53 || (double)(int64_t)v == v);
}

int json_get_u64(const cJSON *obj, const char *name, const char *section, bool required,
		 uint64_t min, uint64_t max, uint64_t *out, char err[JSON_ERR_MAX])
{
	const cJSON *it;
	double v;
	int r;

	r = json_field_lookup(obj, name, section, required, &it, err);
	if (r <= 0)
		return r;
	if (max > JSON_INT_MAX)
		max = JSON_INT_MAX;
	if (!cJSON_IsNumber(it)) {
		json_field_err(err, section, name, "expected an integer, got %s", json_type_name(it));
		return -EINVAL;
	}
	v = it->valuedouble;
	if (!json_is_integral(v)) {
		json_field_err(err, section, name, "expected an integer, got %g", v);
		return -EINVAL;
	}
	if (it->type & JSON_NOT_INT_LITERAL) {
		json_field_err(err, section, name,
			       "expected an integer, got a number with a fraction or exponent");
		return -EINVAL;
	}
	if (signbit(v)) {
		json_field_err(err, section, name, "expected a non-negative integer, got %g", v);
		return -EINVAL;
	}
	/* Every bound is at most 2^53 - 1, so the double comparisons are exact. */
	if (v < (double)min || v > (double)max) {
		char got[32];

		/* Above 2^53 the double is not the number that was written; do not
		 * print it as if it were. */
		if (v > (double)JSON_INT_MAX)
			snprintf(got, sizeof(got), "%g", v);
		else
			snprintf(got, sizeof(got), "%" PRIu64, (uint64_t)v);
		json_field_err(err, section, name, "must be between %" PRIu64 " and %" PRIu64 ", got %s",
			       min, max, got);
		return -EINVAL;
	}
	*out = (uint64_t)v;
	return 1;
}

int json_get_bool(const cJSON *obj, const char *name, const char *section, bool required,
		  bool *out, char err[JSON_ERR_MAX])
{
	const cJSON *it;
	int r;

	r = json_field_lookup(obj, name, section, required, &it, err);
	if (r <= 0)
		return r;
	if (!cJSON_IsBool(it)) {
		json_field_err(err, section, name, "expected a boolean, got %s", json_type_name(it));
		return -EINVAL;
	}
	*out = cJSON_IsTrue(it);
	return 1;
}

int json_get_string(const cJSON *obj, const char *name, const char *section, bool required,
		    size_t maxlen, const char **out, char err[JSON_ERR_MAX])
{
	const cJSON *it;
	size_t len;
	int r;

	r = json_field_lookup(obj, name, section, required, &it, err);
	if (r <= 0)
		return r;
	if (!cJSON_IsString(it) || !it->valuestring) {
		json_field_err(err, section, name, "expected a string, got %s", json_type_name(it));
		return -EINVAL;
	}
	len = strlen(it->valuestring);
	if (len > maxlen) {
		json_field_err(err, section, name, "too long (%zu bytes, at most %zu)", len, maxlen);
		return -EINVAL;
	}
	*out = it->valuestring;
	return 1;
}

int json_get_path(const cJSON *obj, const char *name, const char *section, bool required, char *out,
		  size_t size, char err[JSON_ERR_MAX])
{
	const char *s;
	int r = json_get_string(obj, name, section, required, size - 1, &s, err);

	if (r == 1 && !*s) {
		json_field_err(err, section, name, "must not be empty");
		return -EINVAL;
	}
	if (r == 1)
		memcpy(out, s, strlen(s) + 1); /* fits: checked against size - 1 */
	return r;
}

int json_get_enum(const cJSON *obj, const char *name, const char *section, bool required,
		  const char *const names[], unsigned int *out, char err[JSON_ERR_MAX])
{
	char list[128], q[JSON_QUOTE_MAX];
	const char *s;
	size_t off = 0;
	unsigned int i;
	int r;

	r = json_get_string(obj, name, section, required, SIZE_MAX, &s, err);
	if (r <= 0)
		return r;
	for (i = 0; names[i]; i++) {
		if (!strcmp(names[i], s)) {
			*out = i;
			return 1;
		}
	}
	list[0] = '\0';
	for (i = 0; names[i] && off < sizeof(list); i++)
		off += snprintf(list + off, sizeof(list) - off, "%s\"%s\"", i ? ", " : "", names[i]);
	json_field_err(err, section, name, "must be one of %s; got \"%s\"", list, json_quote(q, s));
	return -EINVAL;
}
