/*
 * "drives": the config-file array elements, the PUT and PATCH /drives/{id}
 * bodies, and the list rules (one root device, first; replace by id).  Only
 * shapes are checked here; the VMM opens the files.
 */
#include "vmm/config/json_fields.h"
#include "vmm/config/vm_config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const drive_fields[] = {
	"drive_id", "path_on_host", "is_root_device", "is_read_only", "partuuid",
	"cache_type", "io_engine", "rate_limiter", "socket", NULL,
};

static const char *const drive_patch_fields[] = { "drive_id", "path_on_host", "rate_limiter", NULL };

static const char *const drive_cache_names[] = {
	[DRIVE_CACHE_UNSAFE] = "Unsafe",
	[DRIVE_CACHE_WRITEBACK] = "Writeback",
	NULL,
};

static const char *const drive_io_engines[] = { [DRIVE_IO_SYNC] = "Sync", [DRIVE_IO_ASYNC] = "Async", NULL };

int config_id_check(const char *id, size_t len)
{
	if (len < 1 || len > CONFIG_ID_MAX)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		char c = id[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return -EINVAL;
	}
	return 0;
}

static int drive_get_id(const cJSON *obj, const char *section, char out[CONFIG_ID_MAX + 1],
			char err[CONFIG_ERR_MAX])
{
	char q[JSON_QUOTE_MAX];
	const char *s;
	int r = json_get_string(obj, "drive_id", section, true, CONFIG_ID_MAX, &s, err);

	if (r < 0)
		return r;
	if (config_id_check(s, strlen(s))) {
		json_field_err(err, section, "drive_id",
			       "must be 1 to %d of A-Z, a-z, 0-9 and '_'; got \"%s\"", CONFIG_ID_MAX,
			       json_quote(q, s));
		return -EINVAL;
	}
	strcpy(out, s); /* length checked above */
	return 0;
}

/* Features this build lacks: null (or absent) is fine, anything else is refused. */
static int drive_refuse_present(const cJSON *obj, const char *name, const char *section,
				char err[CONFIG_ERR_MAX])
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);

	if (it && !cJSON_IsNull(it)) {
		json_field_err(err, section, name, "not supported by this kiln build yet");
		return -EINVAL;
	}
	return 0;
}

/* The partuuid lands on the kernel command line: no spaces, quotes or
 * controls.  Linux takes a UUID, an MBR "SSSSSSSS-PP", and a "/PARTNROFF=N"
 * suffix, all within [0-9A-Za-z-/=]. */
static int drive_get_partuuid(const cJSON *obj, const char *section,
			      char out[CONFIG_PARTUUID_MAX + 1], char err[CONFIG_ERR_MAX])
{
	char q[JSON_QUOTE_MAX];
	const char *s;
	int r = json_get_string(obj, "partuuid", section, false, CONFIG_PARTUUID_MAX, &s, err);

	if (r <= 0) {
		out[0] = '\0';
		return r;
	}
	for (size_t i = 0; s[i]; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '/' || c == '='))
			goto bad;
	}
	if (!*s)
		goto bad;
	strcpy(out, s);
	return 1;
bad:
	json_field_err(err, section, "partuuid", "must be 1 to %d of A-Z, a-z, 0-9, '-', '/' and '='; got \"%s\"",
		       CONFIG_PARTUUID_MAX, json_quote(q, s));
	return -EINVAL;
}

int drive_config_parse(const void *json, const char *section, struct drive_config *out,
		       char err[CONFIG_ERR_MAX])
{
	const cJSON *obj = json;
	struct drive_config d;
	unsigned int e;
	bool b;
	int r;

	memset(&d, 0, sizeof(d));
	snprintf(d.origin, sizeof(d.origin), "%s", section);
	r = json_check_fields(obj, drive_fields, section, err);
	if (r)
		return r;
	r = drive_get_id(obj, section, d.drive_id, err);
	if (r)
		return r;
	r = json_get_path(obj, "path_on_host", section, true, d.path_on_host, sizeof(d.path_on_host), err);
	if (r < 0)
		return r;
	r = json_get_bool(obj, "is_root_device", section, true, &d.is_root_device, err);
	if (r < 0)
		return r;
	r = json_get_bool(obj, "is_read_only", section, false, &b, err);
	if (r < 0)
		return r;
	d.is_read_only = r == 1 && b;
	r = drive_get_partuuid(obj, section, d.partuuid, err);
	if (r < 0)
		return r;
	r = json_get_enum(obj, "cache_type", section, false, drive_cache_names, &e, err);
	if (r < 0)
		return r;
	d.cache_type = r == 1 ? (enum drive_cache_type)e : DRIVE_CACHE_UNSAFE;
	r = json_get_enum(obj, "io_engine", section, false, drive_io_engines, &e, err);
	if (r < 0)
		return r;
	d.io_engine = r == 1 ? (enum drive_io_engine)e : DRIVE_IO_SYNC;
	r = rate_limiter_parse(cJSON_GetObjectItemCaseSensitive(obj, "rate_limiter"), section,
			       "rate_limiter", &d.rate_limiter, err) ?:
	    drive_refuse_present(obj, "socket", section, err);
	if (r)
		return r;
	*out = d;
	return 0;
}

int drive_patch_parse(const void *json, const char *section, struct drive_patch *out,
		      char err[CONFIG_ERR_MAX])
{
	const cJSON *obj = json, *item;
	struct drive_patch p;
	int r;

	memset(&p, 0, sizeof(p));
	r = json_check_fields(obj, drive_patch_fields, section, err);
	if (r)
		return r;
	r = drive_get_id(obj, section, p.drive_id, err);
	if (r)
		return r;
	r = json_get_path(obj, "path_on_host", section, false, p.path_on_host, sizeof(p.path_on_host), err);
	if (r < 0)
		return r;
	item = cJSON_GetObjectItemCaseSensitive(obj, "rate_limiter");
	r = rate_limiter_parse(item, section, "rate_limiter", &p.rate_limiter, err);
	if (r)
		return r;
	p.has_rate_limiter = item != NULL;
	/* Firecracker refuses a PATCH that changes nothing. */
	if (!p.path_on_host[0] && !cJSON_GetObjectItemCaseSensitive(obj, "rate_limiter")) {
		json_field_err(err, section, NULL, "empty PATCH request: give path_on_host or rate_limiter");
		return -EINVAL;
	}
	*out = p;
	return 0;
}

struct drive_config *vm_config_drive_find(struct vm_config *cfg, const char *drive_id)
{
	for (unsigned int i = 0; i < cfg->nr_drives; i++)
		if (!strcmp(cfg->drives[i].drive_id, drive_id))
			return &cfg->drives[i];
	return NULL;
}

int vm_config_drive_put(struct vm_config *cfg, const struct drive_config *d, const char *section,
			char err[CONFIG_ERR_MAX])
{
	struct drive_config *same = vm_config_drive_find(cfg, d->drive_id);
	bool has_root = cfg->nr_drives && cfg->drives[0].is_root_device;
	unsigned int at;

	if (d->is_root_device && has_root && same != &cfg->drives[0]) {
		json_field_err(err, section, "is_root_device",
			       "a root block device already exists (drive '%s')", cfg->drives[0].drive_id);
		return -EINVAL;
	}
	if (same) {
		at = (unsigned int)(same - cfg->drives);
		*same = *d;
		if (at && d->is_root_device) { /* Firecracker swaps the new root to the front */
			struct drive_config tmp = cfg->drives[0];

			cfg->drives[0] = cfg->drives[at];
			cfg->drives[at] = tmp;
		}
		return 0;
	}
	if (cfg->nr_drives >= CONFIG_MAX_DRIVES) {
		json_field_err(err, section, NULL, "too many drives (at most %d)", CONFIG_MAX_DRIVES);
		return -EINVAL;
	}
	if (d->is_root_device) {
		memmove(&cfg->drives[1], &cfg->drives[0], cfg->nr_drives * sizeof(cfg->drives[0]));
		cfg->drives[0] = *d;
	} else {
		cfg->drives[cfg->nr_drives] = *d;
	}
	cfg->nr_drives++;
	return 0;
}
