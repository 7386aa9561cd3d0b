/* Unit tests for machine-config: PUT and PATCH bodies, each refusal, and the whole-config rules. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "vmm/config/json_fields.h"
#include "vmm/config/vm_config.h"

/* A non-default config, so tests can tell "untouched" from "reset". */
static const struct machine_config custom = {
	.vcpu_count = 4, .mem_size_mib = 512, .smt = true, .track_dirty_pages = true,
	.huge_pages = HUGE_PAGES_2M,
};

/* Field by field: memcmp would also compare padding. */
static bool mc_eq(const struct machine_config *a, const struct machine_config *b)
{
	return a->vcpu_count == b->vcpu_count && a->mem_size_mib == b->mem_size_mib &&
	       a->smt == b->smt && a->track_dirty_pages == b->track_dirty_pages &&
	       a->huge_pages == b->huge_pages;
}

static int mc_parse(const char *body, bool patch, struct machine_config *mc, char *err)
{
	char perr[JSON_ERR_MAX];
	cJSON *d;
	int r;

	cr_assert_eq(json_doc_parse(body, strlen(body), &d, perr), 0, "%s: %s", body, perr);
	r = machine_config_parse(d, patch, mc, err);
	cJSON_Delete(d);
	return r;
}

/* The body must be refused with exactly want, leaving the config as it was. */
static void mc_fails(const char *body, bool patch, const char *want)
{
	struct machine_config mc = custom;
	char err[CONFIG_ERR_MAX] = "";

	cr_assert_eq(mc_parse(body, patch, &mc, err), -EINVAL, "accepted %s", body);
	cr_assert_str_eq(err, want, "for %s", body);
	cr_assert(mc_eq(&mc, &custom), "config changed by a refused %s", body);
}

static void put_fails(const char *body, const char *want)
{
	mc_fails(body, false, want);
}

Test(machine_config, put_full)
{
	struct machine_config mc;
	char err[CONFIG_ERR_MAX];

	machine_config_init(&mc);
	cr_assert_eq(mc_parse("{\"vcpu_count\": 2, \"mem_size_mib\": 1024, \"smt\": true,"
			      " \"track_dirty_pages\": true, \"huge_pages\": \"2M\","
			      " \"cpu_template\": \"None\"}", false, &mc, err), 0, "%s", err);
	cr_assert_eq(mc.vcpu_count, 2);
	cr_assert_eq(mc.mem_size_mib, 1024);
	cr_assert(mc.smt);
	cr_assert(mc.track_dirty_pages);
	cr_assert_eq(mc.huge_pages, HUGE_PAGES_2M);
}

Test(machine_config, put_resets_omitted_fields_to_defaults)
{
	struct machine_config mc = custom;
	char err[CONFIG_ERR_MAX];

	cr_assert_eq(mc_parse("{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"smt\": null}", false,
			      &mc, err), 0, "%s", err);
	cr_assert_eq(mc.vcpu_count, 1);
	cr_assert_eq(mc.mem_size_mib, 128);
	cr_assert_not(mc.smt);
	cr_assert_not(mc.track_dirty_pages);
	cr_assert_eq(mc.huge_pages, HUGE_PAGES_NONE);
}

Test(machine_config, put_requires_vcpu_count_and_mem)
{
	put_fails("{\"mem_size_mib\": 128}", "machine-config.vcpu_count: missing required field");
	put_fails("{\"vcpu_count\": 1}", "machine-config.mem_size_mib: missing required field");
	put_fails("{}", "machine-config.vcpu_count: missing required field");
	put_fails("{\"vcpu_count\": null, \"mem_size_mib\": 128}",
		  "machine-config.vcpu_count: expected an integer, got null");
}

Test(machine_config, vcpu_count_refusals)
{
	put_fails("{\"vcpu_count\": 0, \"mem_size_mib\": 128}",
		  "machine-config.vcpu_count: must be between 1 and 32, got 0");
	put_fails("{\"vcpu_count\": 33, \"mem_size_mib\": 128}",
		  "machine-config.vcpu_count: must be between 1 and 32, got 33");
	put_fails("{\"vcpu_count\": 64, \"mem_size_mib\": 128}",
		  "machine-config.vcpu_count: must be between 1 and 32, got 64");
	put_fails("{\"vcpu_count\": -1, \"mem_size_mib\": 128}",
		  "machine-config.vcpu_count: expected a non-negative integer, got -1");
	put_fails("{\"vcpu_count\": 1.5, \"mem_size_mib\": 128}",
		  "machine-config.vcpu_count: expected an integer, got 1.5");
	put_fails("{\"vcpu_count\": 2.0, \"mem_size_mib\": 128}",
		  "machine-config.vcpu_count: expected an integer, got a number with a fraction or exponent");
	put_fails("{\"vcpu_count\": \"2\", \"mem_size_mib\": 128}",
		  "machine-config.vcpu_count: expected an integer, got a string");
	put_fails("{\"vcpu_count\": true, \"mem_size_mib\": 128}",
		  "machine-config.vcpu_count: expected an integer, got a boolean");
	put_fails("{\"vcpu_count\": 4294967297, \"mem_size_mib\": 128}",
		  "machine-config.vcpu_count: must be between 1 and 32, got 4294967297");
}

Test(machine_config, vcpu_count_limits_accepted)
{
	struct machine_config mc;
	char err[CONFIG_ERR_MAX];

	cr_assert_eq(mc_parse("{\"vcpu_count\": 32, \"mem_size_mib\": 128}", false, &mc, err), 0,
		     "%s", err);
	cr_assert_eq(mc.vcpu_count, 32);
}

Test(machine_config, mem_size_refusals)
{
	put_fails("{\"vcpu_count\": 1, \"mem_size_mib\": 0}",
		  "machine-config.mem_size_mib: must be between 16 and 1048576, got 0");
	put_fails("{\"vcpu_count\": 1, \"mem_size_mib\": 15}",
		  "machine-config.mem_size_mib: must be between 16 and 1048576, got 15");
	put_fails("{\"vcpu_count\": 1, \"mem_size_mib\": 1048577}",
		  "machine-config.mem_size_mib: must be between 16 and 1048576, got 1048577");
	put_fails("{\"vcpu_count\": 1, \"mem_size_mib\": 17592186044416}",
		  "machine-config.mem_size_mib: must be between 16 and 1048576, got 17592186044416");
	put_fails("{\"vcpu_count\": 1, \"mem_size_mib\": 1e30}",
		  "machine-config.mem_size_mib: expected an integer, got a number with a fraction or exponent");
	put_fails("{\"vcpu_count\": 1, \"mem_size_mib\": \"128\"}",
		  "machine-config.mem_size_mib: expected an integer, got a string");
}

Test(machine_config, mem_size_limits_accepted)
{
	struct machine_config mc;
	char err[CONFIG_ERR_MAX];

	cr_assert_eq(mc_parse("{\"vcpu_count\": 1, \"mem_size_mib\": 16}", false, &mc, err), 0);
	cr_assert_eq(mc.mem_size_mib, 16);
	cr_assert_eq(mc_parse("{\"vcpu_count\": 1, \"mem_size_mib\": 1048576}", false, &mc, err), 0);
	cr_assert_eq(mc.mem_size_mib, CONFIG_MAX_MEM_MIB);
}

Test(machine_config, smt_needs_one_or_even_vcpus)
{
	struct machine_config mc;
	char err[CONFIG_ERR_MAX];

	put_fails("{\"vcpu_count\": 3, \"mem_size_mib\": 128, \"smt\": true}",
		  "machine-config.vcpu_count: must be 1 or an even number when smt is enabled, got 3");
	put_fails("{\"vcpu_count\": 31, \"mem_size_mib\": 128, \"smt\": true}",
		  "machine-config.vcpu_count: must be 1 or an even number when smt is enabled, got 31");
	cr_assert_eq(mc_parse("{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"smt\": true}", false,
			      &mc, err), 0, "%s", err);
	cr_assert_eq(mc_parse("{\"vcpu_count\": 2, \"mem_size_mib\": 128, \"smt\": true}", false,
			      &mc, err), 0, "%s", err);
	cr_assert_eq(mc_parse("{\"vcpu_count\": 3, \"mem_size_mib\": 128, \"smt\": false}", false,
			      &mc, err), 0, "%s", err);
}

Test(machine_config, bool_and_enum_type_refusals)
{
	put_fails("{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"smt\": \"yes\"}",
		  "machine-config.smt: expected a boolean, got a string");
	put_fails("{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"smt\": 1}",
		  "machine-config.smt: expected a boolean, got a number");
	put_fails("{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"track_dirty_pages\": 0}",
		  "machine-config.track_dirty_pages: expected a boolean, got a number");
	put_fails("{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"huge_pages\": \"4M\"}",
		  "machine-config.huge_pages: must be one of \"None\", \"2M\"; got \"4M\"");
	put_fails("{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"huge_pages\": 2}",
		  "machine-config.huge_pages: expected a string, got a number");
	put_fails("{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"cpu_template\": []}",
		  "machine-config.cpu_template: expected a string, got an array");
}

Test(machine_config, huge_pages_need_even_mem)
{
	struct machine_config mc;
	char err[CONFIG_ERR_MAX];

	put_fails("{\"vcpu_count\": 1, \"mem_size_mib\": 129, \"huge_pages\": \"2M\"}",
		  "machine-config.mem_size_mib: must be a multiple of 2 with 2M huge pages, got 129");
	cr_assert_eq(mc_parse("{\"vcpu_count\": 1, \"mem_size_mib\": 129, \"huge_pages\": \"None\"}",
			      false, &mc, err), 0, "%s", err);
	cr_assert_eq(mc.huge_pages, HUGE_PAGES_NONE);
}

Test(machine_config, cpu_template_only_none)
{
	struct machine_config mc;
	char err[CONFIG_ERR_MAX];

	cr_assert_eq(mc_parse("{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"cpu_template\": null}",
			      false, &mc, err), 0, "%s", err);
	put_fails("{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"cpu_template\": \"T2\"}",
		  "machine-config.cpu_template: \"T2\" is not supported by this kiln build (only \"None\")");
	put_fails("{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"cpu_template\": \"X9\"}",
		  "machine-config.cpu_template: must be one of \"None\", \"C3\", \"T2\", \"T2S\","
		  " \"T2CL\", \"T2A\", \"V1N1\"; got \"X9\"");
}

Test(machine_config, unknown_and_duplicate_fields)
{
	put_fails("{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"vcpus\": 2}",
		  "machine-config: unknown field 'vcpus'");
	put_fails("{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"Smt\": true}",
		  "machine-config: unknown field 'Smt'");
	put_fails("{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"vcpu_count\": 2}",
		  "machine-config: duplicate field 'vcpu_count'");
	put_fails("[]", "machine-config: expected an object, got an array");
	mc_fails("\"x\"", true, "machine-config: expected an object, got a string");
}

Test(machine_config, patch_changes_only_present_fields)
{
	struct machine_config mc = custom, want = custom;
	char err[CONFIG_ERR_MAX];

	cr_assert_eq(mc_parse("{\"mem_size_mib\": 2048}", true, &mc, err), 0, "%s", err);
	want.mem_size_mib = 2048;
	cr_assert(mc_eq(&mc, &want));

	cr_assert_eq(mc_parse("{\"vcpu_count\": 8, \"track_dirty_pages\": false, \"smt\": null}",
			      true, &mc, err), 0, "%s", err);
	want.vcpu_count = 8;
	want.track_dirty_pages = false;
	cr_assert(mc_eq(&mc, &want));

	cr_assert_eq(mc_parse("{\"huge_pages\": \"None\"}", true, &mc, err), 0, "%s", err);
	want.huge_pages = HUGE_PAGES_NONE;
	cr_assert(mc_eq(&mc, &want));
}

Test(machine_config, invalid_patch_leaves_config_untouched)
{
	/* Each is refused; mc_fails also checks nothing changed, including fields
	 * that were valid and parsed before the bad one. */
	mc_fails("{\"vcpu_count\": 3}", true,
		 "machine-config.vcpu_count: must be 1 or an even number when smt is enabled, got 3");
	mc_fails("{\"vcpu_count\": 8, \"mem_size_mib\": 0}", true,
		 "machine-config.mem_size_mib: must be between 16 and 1048576, got 0");
	mc_fails("{\"vcpu_count\": 8, \"bogus\": 1}", true, "machine-config: unknown field 'bogus'");
	mc_fails("{\"mem_size_mib\": 513}", true,
		 "machine-config.mem_size_mib: must be a multiple of 2 with 2M huge pages, got 513");
	mc_fails("{\"vcpu_count\": 2, \"smt\": \"no\"}", true,
		 "machine-config.smt: expected a boolean, got a string");
}

Test(machine_config, patch_checks_the_merged_config)
{
	struct machine_config mc;
	char err[CONFIG_ERR_MAX];

	machine_config_init(&mc);
	mc.vcpu_count = 3;
	cr_assert_eq(mc_parse("{\"smt\": true}", true, &mc, err), -EINVAL);
	cr_assert_str_eq(err, "machine-config.vcpu_count: must be 1 or an even number when smt is enabled, got 3");
	cr_assert_not(mc.smt);
}

Test(machine_config, empty_patch_refused)
{
	mc_fails("{}", true, "machine-config: empty PATCH request");
	mc_fails("{\"smt\": null, \"cpu_template\": null}", true, "machine-config: empty PATCH request");
}

Test(machine_config, validate_checks_structs_built_in_code)
{
	struct machine_config mc;
	char err[CONFIG_ERR_MAX];

	machine_config_init(&mc);
	cr_assert_eq(machine_config_validate(&mc, err), 0, "%s", err);
	cr_assert_eq(mc.vcpu_count, 1);
	cr_assert_eq(mc.mem_size_mib, 128);
	mc.vcpu_count = 0;
	cr_assert_eq(machine_config_validate(&mc, err), -EINVAL);
	cr_assert_str_eq(err, "machine-config.vcpu_count: must be between 1 and 32, got 0");
	machine_config_init(&mc);
	mc.mem_size_mib = 8;
	cr_assert_eq(machine_config_validate(&mc, err), -EINVAL);
	cr_assert_str_eq(err, "machine-config.mem_size_mib: must be between 16 and 1048576, got 8");
	machine_config_init(&mc);
	mc.huge_pages = (enum huge_pages)7;
	cr_assert_eq(machine_config_validate(&mc, err), -EINVAL);
	cr_assert_str_eq(err, "machine-config.huge_pages: invalid value 7");
}
