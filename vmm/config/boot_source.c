/*
 * "boot-source": the config-file section and the PUT /boot-source body.  Only
 * shapes and lengths are checked here; the VMM opens the files.
 */
#include "vmm/config/json_fields.h"
#include "vmm/config/vm_config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define BS_SECTION "boot-source"

static const char *const bs_fields[] = { "kernel_image_path", "boot_args", "initrd_path", NULL };

void boot_source_free(struct boot_source_config *bs)
{
	free(bs->boot_args);
	bs->boot_args = NULL;
}

/* A present path must name something: "" would only fail later, at open. */
static int bs_get_path(const cJSON *obj, const char *name, bool required, const char **out,
		       char err[CONFIG_ERR_MAX])
{
	int r;

	r = json_get_string(obj, name, BS_SECTION, required, CONFIG_PATH_MAX - 1, out, err);
	if (r == 1 && !**out) {
		json_field_err(err, BS_SECTION, name, "must not be empty");
		return -EINVAL;
	}
	return r;
}

int boot_source_parse(const void *json, struct boot_source_config *out, char err[CONFIG_ERR_MAX])
{
	const char *kernel = NULL, *initrd = "", *args = NULL;
	const cJSON *obj = json;
	char *args_copy = NULL;
	int r;

	r = json_check_fields(obj, bs_fields, BS_SECTION, err);
	if (r)
		return r;
	r = bs_get_path(obj, "kernel_image_path", true, &kernel, err);
	if (r < 0)
		return r;
	r = bs_get_path(obj, "initrd_path", false, &initrd, err);
	if (r < 0)
		return r;
	r = json_get_string(obj, "boot_args", BS_SECTION, false, CONFIG_BOOT_ARGS_MAX, &args, err);
	if (r < 0)
		return r;
	if (args) {
		args_copy = strdup(args);
		if (!args_copy) {
			json_field_err(err, BS_SECTION, "boot_args", "out of memory");
			return -ENOMEM;
		}
	}

	/* Nothing can fail from here on, so *out changes only on success.  The
	 * lengths were checked against the buffers above. */
	boot_source_free(out);
	strcpy(out->kernel_image_path, kernel);
	strcpy(out->initrd_path, initrd);
	out->boot_args = args_copy;
	return 0;
}
