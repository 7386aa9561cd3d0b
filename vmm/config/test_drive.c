/* Unit tests for drive objects (config file and PUT/PATCH /drives bodies) and
 * the drive list rules: malformed fields, unsupported features, one root. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmm/config/json_fields.h"
#include "vmm/config/vm_config.h"

static struct vm_config cfg;

static void setup(void)
{
	vm_config_init(&cfg);
}

TestSuite(drive, .init = setup);

static int parse(const char *text, struct drive_config *d, char err[CONFIG_ERR_MAX])
{
	cJSON *doc;
	int r;

	cr_assert_eq(json_doc_parse(text, strlen(text), &doc, err), 0, "%s: %s", text, err);
	r = drive_config_parse(doc, "drives", d, err);
	cJSON_Delete(doc);
	return r;
}

static int patch(const char *text, struct drive_patch *p, char err[CONFIG_ERR_MAX])
{
	cJSON *doc;
	int r;

	cr_assert_eq(json_doc_parse(text, strlen(text), &doc, err), 0, "%s: %s", text, err);
	r = drive_patch_parse(doc, "drives", p, err);
	cJSON_Delete(doc);
	return r;
}

/* Refused with want in the message; *d untouched. */
static void refused(const char *text, const char *want)
{
	struct drive_config d;
	char err[CONFIG_ERR_MAX] = "";

	memset(&d, 0x5a, sizeof(d));
	cr_assert_eq(parse(text, &d, err), -EINVAL, "accepted %s", text);
	cr_assert(strstr(err, want), "'%s': error '%s' lacks '%s'", text, err, want);
	cr_assert_not(strchr(err, '\n'));
	cr_assert_eq(((unsigned char *)&d)[0], 0x5a, "output changed on error");
}

#define D(extra) "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/r.img\", \"is_root_device\": true" extra "}"

Test(drive, minimal_and_defaults)
{
	struct drive_config d;
	char err[CONFIG_ERR_MAX];

	cr_assert_eq(parse(D(""), &d, err), 0, "%s", err);
	cr_assert_str_eq(d.drive_id, "rootfs");
	cr_assert_str_eq(d.path_on_host, "/r.img");
	cr_assert(d.is_root_device);
	cr_assert_not(d.is_read_only);
	cr_assert_str_eq(d.partuuid, "");
	cr_assert_eq(d.cache_type, DRIVE_CACHE_UNSAFE);
}

Test(drive, every_field)
{
	struct drive_config d;
	char err[CONFIG_ERR_MAX];

	cr_assert_eq(parse(D(", \"is_read_only\": true, \"partuuid\": \"6a3f7c1e-53b9-4a8e-9d4c-0123456789ab\","
			     " \"cache_type\": \"Writeback\", \"io_engine\": \"Sync\", \"rate_limiter\": null,"
			     " \"socket\": null"), &d, err), 0, "%s", err);
	cr_assert(d.is_read_only);
	cr_assert_str_eq(d.partuuid, "6a3f7c1e-53b9-4a8e-9d4c-0123456789ab");
	cr_assert_eq(d.cache_type, DRIVE_CACHE_WRITEBACK);
	/* null counts as absent for optional fields */
	cr_assert_eq(parse(D(", \"is_read_only\": null, \"partuuid\": null, \"cache_type\": null"), &d, err), 0,
		     "%s", err);
	cr_assert_not(d.is_read_only);
	cr_assert_str_eq(d.partuuid, "");
}

Test(drive, malformed_fields)
{
	refused("[]", "drives: expected an object, got an array");
	refused("{\"path_on_host\": \"/r\", \"is_root_device\": true}", "drives.drive_id: missing required field");
	refused("{\"drive_id\": \"r\", \"is_root_device\": true}", "drives.path_on_host: missing required field");
	refused("{\"drive_id\": \"r\", \"path_on_host\": \"/r\"}", "drives.is_root_device: missing required field");
	refused("{\"drive_id\": \"\", \"path_on_host\": \"/r\", \"is_root_device\": true}", "drives.drive_id: must be 1 to 64");
	refused("{\"drive_id\": \"a b\", \"path_on_host\": \"/r\", \"is_root_device\": true}", "drives.drive_id");
	refused("{\"drive_id\": \"a.b\", \"path_on_host\": \"/r\", \"is_root_device\": true}", "drives.drive_id");
	refused("{\"drive_id\": \"r\\u00f6\", \"path_on_host\": \"/r\", \"is_root_device\": true}", "drives.drive_id");
	refused("{\"drive_id\": 7, \"path_on_host\": \"/r\", \"is_root_device\": true}",
		"drives.drive_id: expected a string, got a number");
	refused("{\"drive_id\": \"r\", \"path_on_host\": \"\", \"is_root_device\": true}",
		"drives.path_on_host: must not be empty");
	refused("{\"drive_id\": \"r\", \"path_on_host\": null, \"is_root_device\": true}",
		"drives.path_on_host: expected a string, got null");
	refused("{\"drive_id\": \"r\", \"path_on_host\": \"/r\", \"is_root_device\": \"yes\"}",
		"drives.is_root_device: expected a boolean");
	refused(D(", \"is_read_only\": 1"), "drives.is_read_only: expected a boolean");
	refused(D(", \"cache_type\": \"WriteBack\""), "drives.cache_type: must be one of \"Unsafe\", \"Writeback\"");
	refused(D(", \"io_engine\": \"uring\""), "drives.io_engine: must be one of");
	refused(D(", \"rate_limiter\": []"), "drives.rate_limiter: expected an object");
	refused(D(", \"rate_limiter\": {\"bandwidth\": {\"size\": 1}}"),
		"drives.rate_limiter.bandwidth.refill_time: missing required field");
	refused(D(", \"rate_limiter\": {\"bw\": {}}"), "drives.rate_limiter: unknown field 'bw'");
	refused(D(", \"rate_limiter\": {\"ops\": {\"size\": -1, \"refill_time\": 1}}"),
		"drives.rate_limiter.ops.size");
	refused(D(", \"socket\": \"/vhost.sock\""), "drives.socket: not supported by this kiln build yet");
	refused(D(", \"partuuid\": \"\""), "drives.partuuid: must be 1 to 64");
	refused(D(", \"partuuid\": \"abc def\""), "drives.partuuid");
	refused(D(", \"partuuid\": \"x\\\"y\""), "drives.partuuid");
	refused(D(", \"is_ro\": true"), "drives: unknown field 'is_ro'");
	refused(D(", \"drive_id\": \"again\""), "drives: duplicate field 'drive_id'");
}

Test(drive, id_and_partuuid_limits)
{
	char text[512], id[CONFIG_ID_MAX + 2];
	struct drive_config d;
	char err[CONFIG_ERR_MAX];

	memset(id, 'a', sizeof(id));
	id[CONFIG_ID_MAX] = '\0';
	snprintf(text, sizeof(text), "{\"drive_id\": \"%s\", \"path_on_host\": \"/r\", \"is_root_device\": false}", id);
	cr_assert_eq(parse(text, &d, err), 0, "%s", err);
	cr_assert_eq(strlen(d.drive_id), CONFIG_ID_MAX);
	id[CONFIG_ID_MAX] = 'a';
	id[CONFIG_ID_MAX + 1] = '\0';
	snprintf(text, sizeof(text), "{\"drive_id\": \"%s\", \"path_on_host\": \"/r\", \"is_root_device\": false}", id);
	refused(text, "drives.drive_id: too long");
	cr_assert_eq(parse(D(", \"partuuid\": \"0eaa91a0-01/PARTNROFF=1\""), &d, err), 0, "%s", err);
}

Test(drive, patch_bodies)
{
	struct drive_patch p;
	char err[CONFIG_ERR_MAX];

	cr_assert_eq(patch("{\"drive_id\": \"d\", \"path_on_host\": \"/new.img\"}", &p, err), 0, "%s", err);
	cr_assert_str_eq(p.drive_id, "d");
	cr_assert_str_eq(p.path_on_host, "/new.img");
	cr_assert_eq(patch("{\"drive_id\": \"d\", \"rate_limiter\": null}", &p, err), 0, "%s", err);
	cr_assert_str_eq(p.path_on_host, "", "no new path");
	cr_assert_eq(patch("{\"drive_id\": \"d\"}", &p, err), -EINVAL);
	cr_assert(strstr(err, "drives: empty PATCH request"), "%s", err);
	cr_assert_eq(patch("{\"drive_id\": \"d\", \"path_on_host\": \"/x\", \"is_read_only\": true}", &p, err), -EINVAL);
	cr_assert(strstr(err, "unknown field 'is_read_only'"), "%s", err);
	cr_assert_eq(patch("{\"drive_id\": \"d\", \"rate_limiter\": {\"ops\": 1}}", &p, err), -EINVAL);
	cr_assert(strstr(err, "drives.rate_limiter.ops: expected an object"), "%s", err);
	cr_assert_eq(patch("{\"path_on_host\": \"/x\"}", &p, err), -EINVAL);
	cr_assert(strstr(err, "drives.drive_id: missing required field"), "%s", err);
}

static struct drive_config mk(const char *id, bool root)
{
	struct drive_config d;

	memset(&d, 0, sizeof(d));
	snprintf(d.drive_id, sizeof(d.drive_id), "%s", id);
	snprintf(d.path_on_host, sizeof(d.path_on_host), "/%s.img", id);
	d.is_root_device = root;
	return d;
}

static void put_ok(const char *id, bool root)
{
	struct drive_config d = mk(id, root);
	char err[CONFIG_ERR_MAX];

	cr_assert_eq(vm_config_drive_put(&cfg, &d, "drives", err), 0, "%s: %s", id, err);
}

static void order(const char *want)
{
	char got[256] = "";

	for (unsigned int i = 0; i < cfg.nr_drives; i++) {
		strcat(got, i ? " " : "");
		strcat(got, cfg.drives[i].drive_id);
		if (cfg.drives[i].is_root_device)
			strcat(got, "*");
	}
	cr_assert_str_eq(got, want);
}

Test(drive, list_root_first_and_replace)
{
	struct drive_config d;
	char err[CONFIG_ERR_MAX];

	put_ok("a", false);
	put_ok("b", false);
	put_ok("r", true);
	order("r* a b");
	d = mk("s", true);
	cr_assert_eq(vm_config_drive_put(&cfg, &d, "drives", err), -EINVAL, "second root device");
	cr_assert(strstr(err, "drives.is_root_device: a root block device already exists (drive 'r')"), "%s", err);
	order("r* a b");
	d = mk("b", true);
	cr_assert_eq(vm_config_drive_put(&cfg, &d, "drives", err), -EINVAL, "an existing drive cannot become a second root");
	put_ok("r", true); /* replacing the root device with a root device */
	order("r* a b");
	put_ok("r", false); /* the root device replaced by a plain one stays in place */
	order("r a b");
	put_ok("b", true); /* now b may become root: swapped to the front */
	order("b* a r");
	d = mk("a", false);
	strcpy(d.path_on_host, "/other.img");
	cr_assert_eq(vm_config_drive_put(&cfg, &d, "drives", err), 0);
	cr_assert_str_eq(vm_config_drive_find(&cfg, "a")->path_on_host, "/other.img");
	cr_assert_null(vm_config_drive_find(&cfg, "zz"));
	order("b* a r");
}

Test(drive, list_is_bounded)
{
	struct drive_config d;
	char err[CONFIG_ERR_MAX], id[16];

	for (int i = 0; i < CONFIG_MAX_DRIVES; i++) {
		snprintf(id, sizeof(id), "d%d", i);
		put_ok(id, false);
	}
	d = mk("one_more", false);
	cr_assert_eq(vm_config_drive_put(&cfg, &d, "drives", err), -EINVAL);
	cr_assert(strstr(err, "too many drives"), "%s", err);
	cr_assert_eq(cfg.nr_drives, CONFIG_MAX_DRIVES);
	put_ok("d3", false); /* replacing still works when full */
}

Test(drive, id_check)
{
	cr_assert_eq(config_id_check("a_Z9", 4), 0);
	cr_assert_eq(config_id_check("", 0), -EINVAL);
	cr_assert_eq(config_id_check("a-b", 3), -EINVAL);
	cr_assert_eq(config_id_check("a/b", 3), -EINVAL);
}

/* Messages about a drive later (its file) name where it was given. */
Test(drive, origin_names_the_element)
{
	struct vm_config c;
	char err[CONFIG_ERR_MAX];
	static const char text[] =
		"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": ["
		"{\"drive_id\": \"a\", \"path_on_host\": \"/a\", \"is_root_device\": false},"
		"{\"drive_id\": \"r\", \"path_on_host\": \"/r\", \"is_root_device\": true}]}";

	cr_assert_eq(vm_config_parse(text, strlen(text), &c, err), 0, "%s", err);
	cr_assert_str_eq(c.drives[0].drive_id, "r");
	cr_assert_str_eq(c.drives[0].origin, "drives[1]", "the root moved first but keeps its origin");
	cr_assert_str_eq(c.drives[1].origin, "drives[0]");
	vm_config_free(&c);
}

Test(drive, engine_and_rate_limiter)
{
	struct drive_config d;
	char err[CONFIG_ERR_MAX];

	cr_assert_eq(parse(D(", \"io_engine\": \"Async\", \"rate_limiter\": {\"bandwidth\":"
			     " {\"size\": 1048576, \"refill_time\": 100, \"one_time_burst\": 7},"
			     " \"ops\": {\"size\": 0, \"refill_time\": 10}}"), &d, err), 0, "%s", err);
	cr_assert_eq(d.io_engine, DRIVE_IO_ASYNC);
	cr_assert_eq(d.rate_limiter.bandwidth.size, 1048576);
	cr_assert_eq(d.rate_limiter.bandwidth.refill_time_ms, 100);
	cr_assert_eq(d.rate_limiter.bandwidth.one_time_burst, 7);
	/* A zero size disables the bucket, as in Firecracker. */
	cr_assert_eq(d.rate_limiter.ops.size, 0);
	cr_assert_eq(d.rate_limiter.ops.refill_time_ms, 0);
	cr_assert_eq(parse(D(""), &d, err), 0, "%s", err);
	cr_assert_eq(d.io_engine, DRIVE_IO_SYNC);
	cr_assert_eq(d.rate_limiter.bandwidth.size, 0);
	cr_assert_eq(d.rate_limiter.ops.size, 0);
}

Test(drive, patch_rate_limiter)
{
	struct drive_patch p;
	char err[CONFIG_ERR_MAX];

	cr_assert_eq(patch("{\"drive_id\": \"r\", \"rate_limiter\": {\"ops\": {\"size\": 5, \"refill_time\": 1000}}}",
			   &p, err), 0, "%s", err);
	cr_assert(p.has_rate_limiter);
	cr_assert_eq(p.rate_limiter.ops.size, 5);
	cr_assert_eq(p.path_on_host[0], 0);
}
