/*
 * "machine-config": the config-file section and the PUT/PATCH /machine-config
 * bodies.  Parsing works on a copy and validates the result as a whole, so a bad
 * request leaves the current config untouched.
 */
#include "vmm/config/json_fields.h"
#include "vmm/config/vm_config.h"

#include <errno.h>
#include <inttypes.h>

#define MC_SECTION "machine-config"

static const char *const mc_fields[] = {
	"vcpu_count", "mem_size_mib", "smt", "track_dirty_pages", "huge_pages", "cpu_template", NULL,
};

static const char *const mc_huge_pages_names[] = {
	[HUGE_PAGES_NONE] = "None",
	[HUGE_PAGES_2M] = "2M",
	NULL,
};

/* Firecracker's static templates are listed so that a config written for
 * Firecracker gets "not supported" rather than "must be one of". */
static const char *const mc_cpu_templates[] = { "None", "C3", "T2", "T2S", "T2CL", "T2A", "V1N1", NULL };

void machine_config_init(struct machine_config *mc)
{
	*mc = (struct machine_config){
		.vcpu_count = 1,
		.mem_size_mib = 128,
		.huge_pages = HUGE_PAGES_NONE,
	};
}

int machine_config_validate(const struct machine_config *mc, char err[CONFIG_ERR_MAX])
{
	if (mc->vcpu_count < 1 || mc->vcpu_count > CONFIG_MAX_VCPUS) {
		json_field_err(err, MC_SECTION, "vcpu_count", "must be between 1 and %d, got %u",
			       CONFIG_MAX_VCPUS, mc->vcpu_count);
		return -EINVAL;
	}
	if (mc->mem_size_mib < CONFIG_MIN_MEM_MIB || mc->mem_size_mib > CONFIG_MAX_MEM_MIB) {
		json_field_err(err, MC_SECTION, "mem_size_mib",
			       "must be between %d and %llu, got %" PRIu64, CONFIG_MIN_MEM_MIB,
			       CONFIG_MAX_MEM_MIB, mc->mem_size_mib);
		return -EINVAL;
	}
	/* Firecracker: "The number of vCPUs must be 1 or an even number when SMT is enabled". */
	if (mc->smt && mc->vcpu_count > 1 && mc->vcpu_count % 2) {
		json_field_err(err, MC_SECTION, "vcpu_count",
			       "must be 1 or an even number when smt is enabled, got %u",
			       mc->vcpu_count);
		return -EINVAL;
	}
	if (mc->huge_pages != HUGE_PAGES_NONE && mc->huge_pages != HUGE_PAGES_2M) {
		json_field_err(err, MC_SECTION, "huge_pages", "invalid value %d", (int)mc->huge_pages);
		return -EINVAL;
	}
	/* Guest memory is mapped in whole huge pages. */
	if (mc->huge_pages == HUGE_PAGES_2M && mc->mem_size_mib % 2) {
		json_field_err(err, MC_SECTION, "mem_size_mib",
			       "must be a multiple of 2 with 2M huge pages, got %" PRIu64,
			       mc->mem_size_mib);
		return -EINVAL;
	}
	return 0;
}

int machine_config_parse(const void *json, bool patch, struct machine_config *out,
			 char err[CONFIG_ERR_MAX])
{
	const cJSON *obj = json;
	struct machine_config mc;
	unsigned int e;
	int r, present = 0;
	uint64_t u;
	bool b;

	if (patch)
		mc = *out;
	else
		machine_config_init(&mc);
	r = json_check_fields(obj, mc_fields, MC_SECTION, err);
	if (r)
		return r;

	r = json_get_u64(obj, "vcpu_count", MC_SECTION, !patch, 1, CONFIG_MAX_VCPUS, &u, err);
	if (r < 0)
		return r;
	if (r)
		mc.vcpu_count = (unsigned int)u;
	present += r;

	r = json_get_u64(obj, "mem_size_mib", MC_SECTION, !patch, CONFIG_MIN_MEM_MIB,
			 CONFIG_MAX_MEM_MIB, &u, err);
	if (r < 0)
		return r;
	if (r)
		mc.mem_size_mib = u;
	present += r;

	r = json_get_bool(obj, "smt", MC_SECTION, false, &b, err);
	if (r < 0)
		return r;
	if (r)
		mc.smt = b;
	present += r;

	r = json_get_bool(obj, "track_dirty_pages", MC_SECTION, false, &b, err);
	if (r < 0)
		return r;
	if (r)
		mc.track_dirty_pages = b;
	present += r;

	r = json_get_enum(obj, "huge_pages", MC_SECTION, false, mc_huge_pages_names, &e, err);
	if (r < 0)
		return r;
	if (r)
		mc.huge_pages = (enum huge_pages)e;
	present += r;

	r = json_get_enum(obj, "cpu_template", MC_SECTION, false, mc_cpu_templates, &e, err);
	if (r < 0)
		return r;
	if (r && e != 0) {
		json_field_err(err, MC_SECTION, "cpu_template",
			       "\"%s\" is not supported by this kiln build (only \"None\")",
			       mc_cpu_templates[e]);
		return -EINVAL;
	}
	present += r;

	if (patch && !present) {
		json_field_err(err, MC_SECTION, NULL, "empty PATCH request");
		return -EINVAL;
	}
	r = machine_config_validate(&mc, err);
	if (r)
		return r;
	*out = mc;
	return 0;
}
