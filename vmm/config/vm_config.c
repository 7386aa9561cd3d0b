/*
 * The --config-file document: Firecracker's top-level keys.  "mmds-config" and
 * "cpu-config" are accepted only when empty, so a config that needs what kiln
 * does not have fails loudly instead of booting without it.
 */
#include "vmm/config/json_fields.h"
#include "vmm/config/vm_config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

_Static_assert(CONFIG_ERR_MAX == JSON_ERR_MAX, "config and JSON errors share buffers");

/* Sections kiln has no support for; null or [] only. */
#define VM_UNSUPPORTED_SECTIONS "mmds-config", "cpu-config"

static const char *const vm_fields[] = {
	"boot-source", "machine-config", "drives", "network-interfaces", "vsock", "balloon",
	"entropy", "logger", "metrics", VM_UNSUPPORTED_SECTIONS, NULL,
};
static const char *const vm_unsupported_sections[] = { VM_UNSUPPORTED_SECTIONS, NULL };

void vm_config_init(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	machine_config_init(&cfg->machine);
}

void vm_config_free(struct vm_config *cfg)
{
	boot_source_free(&cfg->boot_source);
	vm_config_init(cfg);
}

static bool vm_section_is_empty(const cJSON *item)
{
	return !item || cJSON_IsNull(item) || (cJSON_IsArray(item) && !item->child);
}

/* "drives": an array of drive objects, added in order as PUT /drives would. */
static int vm_config_parse_drives(const cJSON *arr, struct vm_config *cfg, char err[CONFIG_ERR_MAX])
{
	struct drive_config d;
	const cJSON *item;
	char section[32];
	unsigned int i = 0;
	int r;

	if (!arr || cJSON_IsNull(arr))
		return 0;
	if (!cJSON_IsArray(arr)) {
		json_field_err(err, "drives", NULL, "expected an array, got %s", json_type_name(arr));
		return -EINVAL;
	}
	cJSON_ArrayForEach(item, arr) {
		snprintf(section, sizeof(section), "drives[%u]", i++);
		r = drive_config_parse(item, section, &d, err);
		if (r)
			return r;
		r = vm_config_drive_put(cfg, &d, section, err);
		if (r)
			return r;
	}
	return 0;
}

/* "network-interfaces": an array, added in order as PUT would. */
static int vm_config_parse_net(const cJSON *arr, struct vm_config *cfg, char err[CONFIG_ERR_MAX])
{
	struct net_iface_config n;
	const cJSON *item;
	char section[40];
	unsigned int i = 0;
	int r;

	if (!arr || cJSON_IsNull(arr))
		return 0;
	if (!cJSON_IsArray(arr)) {
		json_field_err(err, "network-interfaces", NULL, "expected an array, got %s",
			       json_type_name(arr));
		return -EINVAL;
	}
	cJSON_ArrayForEach(item, arr) {
		snprintf(section, sizeof(section), "network-interfaces[%u]", i++);
		r = net_iface_config_parse(item, section, &n, err) ?:
		    vm_config_net_put(cfg, &n, section, err);
		if (r)
			return r;
	}
	return 0;
}

/* The single-object sections; null means absent. */
static int vm_config_parse_objects(const cJSON *doc, struct vm_config *cfg, char err[CONFIG_ERR_MAX])
{
	const cJSON *it;
	int r = 0;

	if ((it = cJSON_GetObjectItemCaseSensitive(doc, "vsock")) && !cJSON_IsNull(it))
		r = vsock_config_parse(it, "vsock", &cfg->vsock, err);
	if (!r && (it = cJSON_GetObjectItemCaseSensitive(doc, "balloon")) && !cJSON_IsNull(it))
		r = balloon_config_parse(it, "balloon", &cfg->balloon, err);
	if (!r && (it = cJSON_GetObjectItemCaseSensitive(doc, "entropy")) && !cJSON_IsNull(it))
		r = entropy_config_parse(it, "entropy", &cfg->entropy, err);
	if (!r && (it = cJSON_GetObjectItemCaseSensitive(doc, "logger")) && !cJSON_IsNull(it)) {
		r = logger_config_parse(it, "logger", &cfg->logger, err);
		cfg->has_logger = !r;
	}
	if (!r && (it = cJSON_GetObjectItemCaseSensitive(doc, "metrics")) && !cJSON_IsNull(it)) {
		r = metrics_config_parse(it, "metrics", &cfg->metrics, err);
		cfg->has_metrics = !r;
	}
	return r;
}

static int vm_config_parse_doc(const cJSON *doc, struct vm_config *cfg, char err[CONFIG_ERR_MAX])
{
	const cJSON *item;
	unsigned int i;
	int r;

	if (!cJSON_IsObject(doc)) {
		json_field_err(err, NULL, NULL, "expected a JSON object at the top level, got %s",
			       json_type_name(doc));
		return -EINVAL;
	}
	r = json_check_fields(doc, vm_fields, NULL, err);
	if (r)
		return r;
	for (i = 0; vm_unsupported_sections[i]; i++) {
		item = cJSON_GetObjectItemCaseSensitive(doc, vm_unsupported_sections[i]);
		if (!vm_section_is_empty(item)) {
			json_field_err(err, vm_unsupported_sections[i], NULL,
				       "not supported by this kiln build yet");
			return -EINVAL;
		}
	}

	item = cJSON_GetObjectItemCaseSensitive(doc, "boot-source");
	if (!item || cJSON_IsNull(item)) {
		json_field_err(err, "boot-source", NULL, "missing required section");
		return -EINVAL;
	}
	r = boot_source_parse(item, &cfg->boot_source, err);
	if (r)
		return r;
	cfg->has_boot_source = true;

	r = vm_config_parse_drives(cJSON_GetObjectItemCaseSensitive(doc, "drives"), cfg, err) ?:
	    vm_config_parse_net(cJSON_GetObjectItemCaseSensitive(doc, "network-interfaces"), cfg, err) ?:
	    vm_config_parse_objects(doc, cfg, err);
	if (r)
		return r;

	/* Absent means Firecracker's defaults; present means a full PUT. */
	item = cJSON_GetObjectItemCaseSensitive(doc, "machine-config");
	if (item && !cJSON_IsNull(item))
		return machine_config_parse(item, false, &cfg->machine, err);
	return 0;
}

int vm_config_parse(const char *text, size_t len, struct vm_config *cfg, char err[CONFIG_ERR_MAX])
{
	cJSON *doc;
	int r;

	vm_config_init(cfg);
	r = json_doc_parse(text, len, &doc, err);
	if (r)
		return r;
	r = vm_config_parse_doc(doc, cfg, err);
	cJSON_Delete(doc);
	if (r)
		vm_config_free(cfg);
	return r;
}
