/*
 * fuzz_config: vmm/config on untrusted JSON (a --config-file or an API body).
 *
 * The input is the document.  It goes through vm_config_parse; then the same
 * text through json_doc_parse, and every object in the tree's first two
 * levels through the section parsers (boot_source_parse, machine_config_parse
 * as PUT and as PATCH) and the typed getters.  Checked:
 *  - results obey the documented limits and machine_config_validate passes;
 *  - failures leave the output untouched (sections) or at the defaults
 *    (vm_config_parse), and their message is one line of printable ASCII;
 *  - an accepted config printed back as JSON parses to the same config;
 *  - nothing leaks (LeakSanitizer).
 */
#include <errno.h>

#include "fuzz/fuzz_common.h"
#include "vmm/config/json_fields.h"
#include "vmm/config/vm_config.h"

#define FZ_MAX_OBJECTS 32 /* objects per level that get the section parsers */

static void check_err(int rc, const char *err)
{
	FUZZ_CHECK(rc == -EINVAL || rc == -ENOMEM, "error code %d", rc);
	FUZZ_CHECK(err[0] && fz_msg_is_safe(err, CONFIG_ERR_MAX), "error message is not one safe line");
}

static void check_machine(const struct machine_config *mc)
{
	char err[CONFIG_ERR_MAX];

	FUZZ_CHECK(mc->vcpu_count >= 1 && mc->vcpu_count <= CONFIG_MAX_VCPUS, "vcpu_count %u", mc->vcpu_count);
	FUZZ_CHECK(mc->mem_size_mib >= CONFIG_MIN_MEM_MIB && mc->mem_size_mib <= CONFIG_MAX_MEM_MIB,
		   "mem_size_mib %llu", (unsigned long long)mc->mem_size_mib);
	FUZZ_CHECK(mc->huge_pages == HUGE_PAGES_NONE || mc->huge_pages == HUGE_PAGES_2M, "huge_pages");
	FUZZ_CHECK(!mc->smt || mc->vcpu_count == 1 || mc->vcpu_count % 2 == 0, "smt with odd vcpu_count");
	FUZZ_CHECK(machine_config_validate(mc, err) == 0, "accepted config fails validation: %s", err);
}

static void check_boot_source(const struct boot_source_config *bs)
{
	size_t k = strnlen(bs->kernel_image_path, CONFIG_PATH_MAX);

	FUZZ_CHECK(k > 0 && k < CONFIG_PATH_MAX, "kernel_image_path length %zu", k);
	FUZZ_CHECK(strnlen(bs->initrd_path, CONFIG_PATH_MAX) < CONFIG_PATH_MAX, "initrd_path unterminated");
	FUZZ_CHECK(!bs->boot_args || strlen(bs->boot_args) <= CONFIG_BOOT_ARGS_MAX, "boot_args too long");
}

static int machine_eq(const struct machine_config *a, const struct machine_config *b)
{
	return a->vcpu_count == b->vcpu_count && a->mem_size_mib == b->mem_size_mib && a->smt == b->smt &&
	       a->track_dirty_pages == b->track_dirty_pages && a->huge_pages == b->huge_pages;
}

static int boot_source_eq(const struct boot_source_config *a, const struct boot_source_config *b)
{
	return !strcmp(a->kernel_image_path, b->kernel_image_path) &&
	       !strcmp(a->initrd_path, b->initrd_path) && !a->boot_args == !b->boot_args &&
	       (!a->boot_args || !strcmp(a->boot_args, b->boot_args));
}

/* Prints cfg the way a user would write it and parses that again. */
static void check_round_trip(const struct vm_config *cfg)
{
	cJSON *doc = cJSON_CreateObject(), *bs, *mc;
	struct vm_config again;
	char err[CONFIG_ERR_MAX];
	char *text;
	int rc;

	FUZZ_CHECK(doc, "out of memory");
	bs = cJSON_AddObjectToObject(doc, "boot-source");
	mc = cJSON_AddObjectToObject(doc, "machine-config");
	FUZZ_CHECK(bs && mc, "out of memory");
	FUZZ_CHECK(cJSON_AddStringToObject(bs, "kernel_image_path", cfg->boot_source.kernel_image_path),
		   "out of memory");
	if (cfg->boot_source.initrd_path[0])
		FUZZ_CHECK(cJSON_AddStringToObject(bs, "initrd_path", cfg->boot_source.initrd_path),
			   "out of memory");
	if (cfg->boot_source.boot_args)
		FUZZ_CHECK(cJSON_AddStringToObject(bs, "boot_args", cfg->boot_source.boot_args),
			   "out of memory");
	FUZZ_CHECK(cJSON_AddNumberToObject(mc, "vcpu_count", cfg->machine.vcpu_count) &&
			   cJSON_AddNumberToObject(mc, "mem_size_mib", (double)cfg->machine.mem_size_mib) &&
			   cJSON_AddBoolToObject(mc, "smt", cfg->machine.smt) &&
			   cJSON_AddBoolToObject(mc, "track_dirty_pages", cfg->machine.track_dirty_pages) &&
			   cJSON_AddStringToObject(mc, "huge_pages",
						   cfg->machine.huge_pages == HUGE_PAGES_2M ? "2M" : "None"),
		   "out of memory");
	text = cJSON_PrintUnformatted(doc);
	FUZZ_CHECK(text, "out of memory");
	rc = vm_config_parse(text, strlen(text), &again, err);
	FUZZ_CHECK(rc == 0, "printed config does not parse again: %s", err);
	FUZZ_CHECK(again.has_boot_source && boot_source_eq(&cfg->boot_source, &again.boot_source) &&
			   machine_eq(&cfg->machine, &again.machine),
		   "printed config parses to a different config");
	vm_config_free(&again);
	cJSON_free(text);
	cJSON_Delete(doc);
}

static void fz_vm_config(const uint8_t *data, size_t size, int *accepted)
{
	struct vm_config cfg, defaults;
	char err[CONFIG_ERR_MAX];
	int rc;

	memset(&cfg, 0xa5, sizeof(cfg)); /* "need not be initialised" */
	rc = vm_config_parse((const char *)data, size, &cfg, err);
	*accepted = rc == 0;
	if (rc == 0) {
		FUZZ_CHECK(cfg.has_boot_source, "accepted without boot-source");
		check_boot_source(&cfg.boot_source);
		check_machine(&cfg.machine);
		check_round_trip(&cfg);
	} else {
		check_err(rc, err);
		vm_config_init(&defaults);
		FUZZ_CHECK(!cfg.has_boot_source && !cfg.boot_source.boot_args &&
				   !cfg.boot_source.kernel_image_path[0] && machine_eq(&cfg.machine, &defaults.machine),
			   "a refused document left a non-default config");
	}
	vm_config_free(&cfg);
}

static void fz_boot_source(const cJSON *obj)
{
	struct boot_source_config bs, before;
	char err[CONFIG_ERR_MAX];
	int rc;

	memset(&bs, 0, sizeof(bs));
	strcpy(bs.kernel_image_path, "/old/vmlinux");
	bs.boot_args = strdup("old args");
	FUZZ_CHECK(bs.boot_args, "out of memory");
	before = bs;
	rc = boot_source_parse(obj, &bs, err);
	if (rc == 0) {
		check_boot_source(&bs);
	} else {
		check_err(rc, err);
		FUZZ_CHECK(!memcmp(&bs, &before, sizeof(bs)), "a refused boot-source changed the config");
	}
	boot_source_free(&bs);
}

static void fz_machine_config(const cJSON *obj, bool patch, const struct machine_config *start)
{
	struct machine_config mc = *start;
	char err[CONFIG_ERR_MAX];
	int rc;

	rc = machine_config_parse(obj, patch, &mc, err);
	if (rc == 0) {
		check_machine(&mc);
	} else {
		check_err(rc, err);
		FUZZ_CHECK(machine_eq(&mc, start), "a refused machine-config changed the config");
	}
}

/* The getters with our own names (theirs would print unquoted in messages). */
static void fz_getters(const cJSON *obj)
{
	static const char *const names[] = { "vcpu_count", "mem_size_mib", "smt", "boot_args",
					     "huge_pages", "kernel_image_path", "", NULL };
	static const char *const choices[] = { "None", "2M", "", NULL };
	char err[JSON_ERR_MAX], q[JSON_QUOTE_MAX];
	const char *str;
	unsigned int e;
	uint64_t u;
	bool b;
	int rc;

	rc = json_check_fields(obj, names, "fz", err);
	FUZZ_CHECK(rc == 0 || (rc == -EINVAL && fz_msg_is_safe(err, JSON_ERR_MAX)), "json_check_fields");
	for (unsigned int i = 0; names[i]; i++) {
		for (int required = 0; required < 2; required++) {
			rc = json_get_u64(obj, names[i], "fz", required, 3, 1000, &u, err);
			FUZZ_CHECK(rc == 1 ? u >= 3 && u <= 1000 : rc == 0 ? !required :
				   rc == -EINVAL && fz_msg_is_safe(err, JSON_ERR_MAX), "json_get_u64 = %d", rc);
			rc = json_get_u64(obj, names[i], NULL, required, 0, UINT64_MAX, &u, err);
			FUZZ_CHECK(rc == 1 ? u <= JSON_INT_MAX : rc == 0 ? !required :
				   rc == -EINVAL && fz_msg_is_safe(err, JSON_ERR_MAX), "json_get_u64 = %d", rc);
			rc = json_get_bool(obj, names[i], "fz", required, &b, err);
			FUZZ_CHECK(rc == 1 || (rc == 0 && !required) ||
				   (rc == -EINVAL && fz_msg_is_safe(err, JSON_ERR_MAX)), "json_get_bool = %d", rc);
			rc = json_get_string(obj, names[i], "fz", required, 8, &str, err);
			FUZZ_CHECK(rc == 1 ? strlen(str) <= 8 : rc == 0 ? !required :
				   rc == -EINVAL && fz_msg_is_safe(err, JSON_ERR_MAX), "json_get_string = %d", rc);
			if (rc == 1)
				FUZZ_CHECK(strlen(json_quote(q, str)) < JSON_QUOTE_MAX, "json_quote");
			rc = json_get_enum(obj, names[i], "fz", required, choices, &e, err);
			FUZZ_CHECK(rc == 1 ? e < 3 : rc == 0 ? !required :
				   rc == -EINVAL && fz_msg_is_safe(err, JSON_ERR_MAX), "json_get_enum = %d", rc);
		}
	}
}

/* Every string value's quote is one safe line, whatever the bytes. */
static void fz_quote_strings(const cJSON *item, unsigned int depth)
{
	char q[JSON_QUOTE_MAX];

	for (; item && depth < 4; item = item->next) {
		if (cJSON_IsString(item) && item->valuestring)
			FUZZ_CHECK(fz_msg_is_safe(json_quote(q, item->valuestring), JSON_QUOTE_MAX), "json_quote");
		if (item->string)
			FUZZ_CHECK(fz_msg_is_safe(json_quote(q, item->string), JSON_QUOTE_MAX), "json_quote");
		fz_quote_strings(item->child, depth + 1);
	}
}

static void fz_sections(const cJSON *obj)
{
	struct machine_config dflt, other;

	machine_config_init(&dflt);
	other = (struct machine_config){ .vcpu_count = 2, .mem_size_mib = 256, .smt = true,
					 .track_dirty_pages = true, .huge_pages = HUGE_PAGES_2M };
	fz_boot_source(obj);
	fz_machine_config(obj, false, &dflt);
	fz_machine_config(obj, true, &dflt);
	fz_machine_config(obj, true, &other);
	fz_getters(obj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[JSON_ERR_MAX];
	const cJSON *item, *sub;
	unsigned int n = 0, m;
	int accepted, rc;
	cJSON *root;

	fz_vm_config(data, size, &accepted);

	rc = json_doc_parse((const char *)data, size, &root, err);
	if (rc) {
		FUZZ_CHECK(!accepted, "vm_config_parse accepted what json_doc_parse refuses");
		FUZZ_CHECK(root == NULL, "json_doc_parse left a tree on failure");
		check_err(rc, err);
		return 0;
	}
	fz_quote_strings(root, 0);
	fz_sections(root);
	cJSON_ArrayForEach(item, root) {
		if (n++ >= FZ_MAX_OBJECTS)
			break;
		fz_sections(item);
		m = 0;
		cJSON_ArrayForEach(sub, item) {
			if (m++ >= FZ_MAX_OBJECTS)
				break;
			if (cJSON_IsObject(sub))
				fz_sections(sub);
		}
	}
	cJSON_Delete(root);
	return 0;
}
