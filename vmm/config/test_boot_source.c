/* Unit tests for boot-source: shapes, lengths against the fixed buffers, and replace-on-success. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/config/json_fields.h"
#include "vmm/config/vm_config.h"

static struct boot_source_config bs;

static void bs_setup(void)
{
	memset(&bs, 0, sizeof(bs));
}

static void bs_teardown(void)
{
	boot_source_free(&bs);
}

TestSuite(boot_source, .init = bs_setup, .fini = bs_teardown);

static int bs_parse(const char *body, char *err)
{
	char perr[JSON_ERR_MAX];
	cJSON *d;
	int r;

	cr_assert_eq(json_doc_parse(body, strlen(body), &d, perr), 0, "%.80s: %s", body, perr);
	r = boot_source_parse(d, &bs, err);
	cJSON_Delete(d);
	return r;
}

/* Refused with exactly want, and bs (already holding a config) is unchanged. */
static void bs_fails(const char *body, const char *want)
{
	char err[CONFIG_ERR_MAX] = "";
	char *args;

	cr_assert_eq(bs_parse("{\"kernel_image_path\": \"/k\", \"boot_args\": \"console=ttyS0\"}",
			      err), 0, "%s", err);
	args = bs.boot_args;
	cr_assert_eq(bs_parse(body, err), -EINVAL, "accepted %.80s", body);
	cr_assert_str_eq(err, want, "for %.80s", body);
	cr_assert_str_eq(bs.kernel_image_path, "/k");
	cr_assert_str_eq(bs.initrd_path, "");
	cr_assert_eq(bs.boot_args, args, "boot_args replaced by a refused body");
	cr_assert_str_eq(bs.boot_args, "console=ttyS0");
}

/* {"kernel_image_path": "/k", <field>: "<n times 'a'>"} */
static char *bs_body_with_long(const char *field, size_t n)
{
	char *body = malloc(n + 128), *p;

	cr_assert_not_null(body);
	p = body + sprintf(body, "{\"kernel_image_path\": \"/k\", \"%s\": \"", field);
	if (!strcmp(field, "kernel_image_path"))
		p = body + sprintf(body, "{\"%s\": \"", field);
	memset(p, 'a', n);
	strcpy(p + n, "\"}");
	return body;
}

Test(boot_source, minimal)
{
	char err[CONFIG_ERR_MAX];

	cr_assert_eq(bs_parse("{\"kernel_image_path\": \"/vmlinux\"}", err), 0, "%s", err);
	cr_assert_str_eq(bs.kernel_image_path, "/vmlinux");
	cr_assert_str_eq(bs.initrd_path, "");
	cr_assert_null(bs.boot_args, "absent boot_args means the default command line");
}

Test(boot_source, full)
{
	char err[CONFIG_ERR_MAX];

	cr_assert_eq(bs_parse("{\"kernel_image_path\": \"/img/vmlinux\", \"initrd_path\": \"/img/initrd\","
			      " \"boot_args\": \"console=ttyS0 reboot=k\"}", err), 0, "%s", err);
	cr_assert_str_eq(bs.kernel_image_path, "/img/vmlinux");
	cr_assert_str_eq(bs.initrd_path, "/img/initrd");
	cr_assert_str_eq(bs.boot_args, "console=ttyS0 reboot=k");
}

Test(boot_source, null_and_empty_boot_args)
{
	char err[CONFIG_ERR_MAX];

	cr_assert_eq(bs_parse("{\"kernel_image_path\": \"/k\", \"boot_args\": null,"
			      " \"initrd_path\": null}", err), 0, "%s", err);
	cr_assert_null(bs.boot_args);
	cr_assert_str_eq(bs.initrd_path, "");
	cr_assert_eq(bs_parse("{\"kernel_image_path\": \"/k\", \"boot_args\": \"\"}", err), 0);
	cr_assert_str_eq(bs.boot_args, "", "an empty command line is the user's choice");
}

Test(boot_source, success_replaces_and_frees_the_old_config)
{
	char err[CONFIG_ERR_MAX];

	cr_assert_eq(bs_parse("{\"kernel_image_path\": \"/a\", \"initrd_path\": \"/i\","
			      " \"boot_args\": \"x\"}", err), 0, "%s", err);
	cr_assert_eq(bs_parse("{\"kernel_image_path\": \"/b\", \"boot_args\": \"y\"}", err), 0);
	cr_assert_str_eq(bs.kernel_image_path, "/b");
	cr_assert_str_eq(bs.initrd_path, "", "PUT replaces the whole section");
	cr_assert_str_eq(bs.boot_args, "y");
	cr_assert_eq(bs_parse("{\"kernel_image_path\": \"/c\"}", err), 0);
	cr_assert_null(bs.boot_args);
}

Test(boot_source, missing_kernel)
{
	bs_fails("{}", "boot-source.kernel_image_path: missing required field");
	bs_fails("{\"boot_args\": \"x\"}", "boot-source.kernel_image_path: missing required field");
	bs_fails("{\"kernel_image_path\": \"\"}", "boot-source.kernel_image_path: must not be empty");
}

Test(boot_source, wrong_types)
{
	bs_fails("{\"kernel_image_path\": 1}", "boot-source.kernel_image_path: expected a string, got a number");
	bs_fails("{\"kernel_image_path\": null}", "boot-source.kernel_image_path: expected a string, got null");
	bs_fails("{\"kernel_image_path\": [\"/k\"]}",
		 "boot-source.kernel_image_path: expected a string, got an array");
	bs_fails("{\"kernel_image_path\": \"/k\", \"boot_args\": {}}",
		 "boot-source.boot_args: expected a string, got an object");
	bs_fails("{\"kernel_image_path\": \"/k\", \"boot_args\": [\"a\", \"b\"]}",
		 "boot-source.boot_args: expected a string, got an array");
	bs_fails("{\"kernel_image_path\": \"/k\", \"initrd_path\": false}",
		 "boot-source.initrd_path: expected a string, got a boolean");
	bs_fails("{\"kernel_image_path\": \"/k\", \"initrd_path\": \"\"}",
		 "boot-source.initrd_path: must not be empty");
	bs_fails("[]", "boot-source: expected an object, got an array");
	bs_fails("\"/k\"", "boot-source: expected an object, got a string");
}

Test(boot_source, unknown_fields)
{
	bs_fails("{\"kernel_image_path\": \"/k\", \"kernel_path\": \"/k\"}",
		 "boot-source: unknown field 'kernel_path'");
	bs_fails("{\"kernel_image_path\": \"/k\", \"initrd\": \"/i\"}", "boot-source: unknown field 'initrd'");
	bs_fails("{\"kernel_image_path\": \"/k\", \"kernel_image_path\": \"/j\"}",
		 "boot-source: duplicate field 'kernel_image_path'");
}

Test(boot_source, lengths_fit_the_buffers)
{
	static const struct {
		const char *field;
		size_t max;
	} cases[] = {
		{ "kernel_image_path", CONFIG_PATH_MAX - 1 },
		{ "initrd_path", CONFIG_PATH_MAX - 1 },
		{ "boot_args", CONFIG_BOOT_ARGS_MAX },
	};
	char err[CONFIG_ERR_MAX], want[CONFIG_ERR_MAX];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		char *ok = bs_body_with_long(cases[i].field, cases[i].max);
		char *bad = bs_body_with_long(cases[i].field, cases[i].max + 1);

		cr_assert_eq(bs_parse(ok, err), 0, "%s: %s", cases[i].field, err);
		snprintf(want, sizeof(want), "boot-source.%s: too long (%zu bytes, at most %zu)",
			 cases[i].field, cases[i].max + 1, cases[i].max);
		bs_fails(bad, want);
		free(ok);
		free(bad);
	}
	cr_assert_eq(strlen(bs.kernel_image_path), 2);
}
