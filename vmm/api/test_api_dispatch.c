/*
 * api_dispatch against the fake VMM: tables of malformed requests (bad JSON,
 * wrong types, unknown fields, bad ids, oversized bodies, wrong methods,
 * unknown paths, wrong VM state), each checked for status, message and that it
 * never reached the VMM; then the calls that should work, their JSON, and the
 * request counters.
 */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/api/api.h"
#include "vmm/api/api_fake.h"
#include "vmm/api/api_priv.h"
#include "vmm/log/log.h"

struct case_ {
	const char *name;
	const char *method, *path, *body;
	unsigned int status;
	const char *needle; /* must appear in the response body (400s) */
};

static struct api_fake fake;
static struct api_counters counters;
static struct api_dispatcher disp = { .ops = &api_fake_ops, .opaque = &fake, .counters = &counters };

static void setup(void)
{
	log_set_level(LOG_LEVEL_OFF);
	api_fake_init(&fake);
	memset(&counters, 0, sizeof(counters));
}

static void teardown(void)
{
	api_fake_free(&fake);
}

TestSuite(api, .init = setup, .fini = teardown);

static void call(const char *method, const char *path, const char *body, struct api_response *resp)
{
	api_dispatch(&disp, method, path, body ? body : "", body ? strlen(body) : 0, resp);
}

/* Runs one row; returns whether the fake VMM saw it. */
static bool run_case(const struct case_ *c)
{
	struct api_response resp;
	unsigned int before = fake.calls;
	cJSON *doc;

	call(c->method, c->path, c->body, &resp);
	cr_expect_eq(resp.status, c->status, "%s: status %u, want %u (%s)", c->name, resp.status,
		     c->status, resp.body ? resp.body : "no body");
	if (c->status == 400) {
		cr_assert_not_null(resp.body, "%s: a 400 without a body", c->name);
		doc = cJSON_Parse(resp.body);
		cr_expect(cJSON_IsString(cJSON_GetObjectItem(doc, "fault_message")),
			  "%s: no fault_message in %s", c->name, resp.body);
		cr_expect_eq(cJSON_GetArraySize(doc), 1, "%s: extra members in %s", c->name, resp.body);
		cJSON_Delete(doc);
	}
	if (c->needle)
		cr_expect(resp.body && strstr(resp.body, c->needle), "%s: '%s' not in %s", c->name,
			  c->needle, resp.body ? resp.body : "(no body)");
	api_response_free(&resp);
	return fake.calls != before;
}

/* Malformed rows must not reach the VMM. */
static void run_refused(const struct case_ *cases, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cr_expect_not(run_case(&cases[i]), "%s: reached the VMM", cases[i].name);
}

#define MC_OK "{\"vcpu_count\": 2, \"mem_size_mib\": 256}"

Test(api, bad_json)
{
	static const struct case_ cases[] = {
		{ "truncated", "PUT", "/machine-config", "{\"vcpu_count\": 2", 400, "deserializing the json body" },
		{ "trailing comma", "PUT", "/machine-config", "{\"vcpu_count\": 2,}", 400, "deserializing" },
		{ "trailing garbage", "PUT", "/machine-config", MC_OK "x", 400, "deserializing" },
		{ "two documents", "PUT", "/machine-config", MC_OK MC_OK, 400, "deserializing" },
		{ "bare word", "PUT", "/actions", "InstanceStart", 400, "deserializing" },
		{ "raw control char", "PUT", "/boot-source", "{\"kernel_image_path\": \"/a\x01\"}", 400, "deserializing" },
		{ "NUL escape", "PUT", "/boot-source", "{\"kernel_image_path\": \"/a\\u0000/../b\"}", 400, "deserializing" },
		{ "whitespace only", "PATCH", "/vm", "   ", 400, "deserializing" },
		{ "array body", "PUT", "/machine-config", "[1, 2]", 400, "machine-config" },
		{ "string body", "PUT", "/actions", "\"InstanceStart\"", 400, "actions" },
		{ "null body", "PUT", "/logger", "null", 400, "logger" },
		{ "number body", "PATCH", "/machine-config", "42", 400, "machine-config" },
		{ "invalid utf8 is kept out of the message", "PUT", "/actions", "{\"action_type\": \"\xff\xfe\"}", 400, "invalid UTF-8" },
	};
	run_refused(cases, ARRAY_SIZE(cases));
}

Test(api, wrong_types)
{
	static const struct case_ cases[] = {
		{ "vcpu_count string", "PUT", "/machine-config", "{\"vcpu_count\": \"2\", \"mem_size_mib\": 256}", 400, "machine-config.vcpu_count" },
		{ "vcpu_count fraction", "PUT", "/machine-config", "{\"vcpu_count\": 1.0, \"mem_size_mib\": 256}", 400, "vcpu_count" },
		{ "vcpu_count exponent", "PATCH", "/machine-config", "{\"vcpu_count\": 1e0}", 400, "vcpu_count" },
		{ "mem negative", "PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": -128}", 400, "mem_size_mib" },
		{ "mem huge", "PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 1e300}", 400, "mem_size_mib" },
		{ "smt string", "PATCH", "/machine-config", "{\"smt\": \"yes\"}", 400, "smt" },
		{ "huge_pages bool", "PATCH", "/machine-config", "{\"huge_pages\": true}", 400, "huge_pages" },
		{ "kernel path number", "PUT", "/boot-source", "{\"kernel_image_path\": 5}", 400, "kernel_image_path" },
		{ "boot_args number", "PUT", "/boot-source", "{\"kernel_image_path\": \"/k\", \"boot_args\": 5}", 400, "boot_args" },
		{ "action_type number", "PUT", "/actions", "{\"action_type\": 1}", 400, "action_type" },
		{ "vm state bool", "PATCH", "/vm", "{\"state\": true}", 400, "vm.state" },
		{ "logger level number", "PUT", "/logger", "{\"level\": 3}", 400, "logger.level" },
		{ "logger show_level string", "PUT", "/logger", "{\"show_level\": \"true\"}", 400, "show_level" },
		{ "logger path object", "PUT", "/logger", "{\"log_path\": {}}", 400, "log_path" },
		{ "metrics path array", "PUT", "/metrics", "{\"metrics_path\": [\"/m\"]}", 400, "metrics_path" },
	};
	run_refused(cases, ARRAY_SIZE(cases));
}

Test(api, bad_values_and_missing_fields)
{
	static const struct case_ cases[] = {
		{ "vcpu_count 0", "PUT", "/machine-config", "{\"vcpu_count\": 0, \"mem_size_mib\": 256}", 400, "vcpu_count" },
		{ "vcpu_count 33", "PUT", "/machine-config", "{\"vcpu_count\": 33, \"mem_size_mib\": 256}", 400, "vcpu_count" },
		{ "smt with 3 vcpus", "PUT", "/machine-config", "{\"vcpu_count\": 3, \"mem_size_mib\": 256, \"smt\": true}", 400, "smt" },
		{ "odd mem with 2M pages", "PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 129, \"huge_pages\": \"2M\"}", 400, "mem_size_mib" },
		{ "cpu template", "PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"cpu_template\": \"T2\"}", 400, "cpu_template" },
		{ "PUT without vcpu_count", "PUT", "/machine-config", "{\"mem_size_mib\": 256}", 400, "vcpu_count" },
		{ "empty PATCH body", "PATCH", "/machine-config", "{}", 400, "empty PATCH" },
		{ "no kernel path", "PUT", "/boot-source", "{\"boot_args\": \"console=ttyS0\"}", 400, "kernel_image_path" },
		{ "empty kernel path", "PUT", "/boot-source", "{\"kernel_image_path\": \"\"}", 400, "kernel_image_path" },
		{ "unknown action", "PUT", "/actions", "{\"action_type\": \"Reboot\"}", 400, "InstanceStart" },
		{ "no action", "PUT", "/actions", "{}", 400, "action_type" },
		{ "unknown vm state", "PATCH", "/vm", "{\"state\": \"Stopped\"}", 400, "Paused" },
		{ "no vm state", "PATCH", "/vm", "{}", 400, "state" },
		{ "unknown level", "PUT", "/logger", "{\"level\": \"Verbose\"}", 400, "logger.level" },
		{ "logger module", "PUT", "/logger", "{\"module\": \"api_server\"}", 400, "not supported" },
		{ "empty log path", "PUT", "/logger", "{\"log_path\": \"\"}", 400, "log_path" },
		{ "no metrics path", "PUT", "/metrics", "{}", 400, "metrics_path" },
	};
	run_refused(cases, ARRAY_SIZE(cases));
}

Test(api, unknown_fields)
{
	static const struct case_ cases[] = {
		{ "machine", "PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"cpus\": 2}", 400, "cpus" },
		{ "machine patch", "PATCH", "/machine-config", "{\"memory\": 2}", 400, "memory" },
		{ "boot-source", "PUT", "/boot-source", "{\"kernel_image_path\": \"/k\", \"kernel\": \"x\"}", 400, "kernel" },
		{ "actions", "PUT", "/actions", "{\"action_type\": \"InstanceStart\", \"now\": true}", 400, "now" },
		{ "vm", "PATCH", "/vm", "{\"state\": \"Paused\", \"why\": 1}", 400, "why" },
		{ "logger", "PUT", "/logger", "{\"log_file\": \"/tmp/x\"}", 400, "log_file" },
		{ "metrics", "PUT", "/metrics", "{\"metrics_path\": \"/m\", \"period\": 5}", 400, "period" },
		{ "duplicate field", "PUT", "/actions", "{\"action_type\": \"FlushMetrics\", \"action_type\": \"InstanceStart\"}", 400, "duplicate" },
		{ "case matters", "PUT", "/actions", "{\"Action_Type\": \"InstanceStart\"}", 400, "Action_Type" },
	};
	run_refused(cases, ARRAY_SIZE(cases));
}

Test(api, resource_ids)
{
	static const struct case_ cases[] = {
		{ "drive without id", "PUT", "/drives", "{\"drive_id\": \"rootfs\"}", 400, API_MSG_EMPTY_ID },
		{ "drive with trailing slash", "PUT", "/drives/", "{\"drive_id\": \"rootfs\"}", 400, API_MSG_EMPTY_ID },
		{ "drive with empty id", "PUT", "/drives//", "{\"drive_id\": \"\"}", 400, API_MSG_EMPTY_ID },
		{ "dash in id", "PUT", "/drives/root-fs", "{\"drive_id\": \"root-fs\"}", 400, API_MSG_BAD_ID },
		{ "dot in id", "PATCH", "/drives/a.b", "{\"drive_id\": \"a.b\"}", 400, API_MSG_BAD_ID },
		{ "space in id", "PUT", "/network-interfaces/eth 0", "{\"iface_id\": \"eth 0\"}", 400, API_MSG_BAD_ID },
		{ "non-ascii id", "PUT", "/drives/r\xc3\xb6\xc3\xb6t", "{}", 400, API_MSG_BAD_ID },
		{ "body id differs", "PUT", "/drives/rootfs", "{\"drive_id\": \"other\"}", 400, API_MSG_ID_MISMATCH },
		{ "body id prefix", "PUT", "/drives/rootfs", "{\"drive_id\": \"root\"}", 400, API_MSG_ID_MISMATCH },
		{ "body id missing", "PUT", "/drives/rootfs", "{\"path_on_host\": \"/x\"}", 400, "drive_id" },
		{ "body id number", "PUT", "/network-interfaces/eth0", "{\"iface_id\": 0}", 400, "iface_id" },
		{ "body not json", "PUT", "/drives/rootfs", "{", 400, "deserializing" },
		{ "body not object", "PUT", "/drives/rootfs", "[]", 400, "drives" },
		{ "extra segment", "PUT", "/drives/rootfs/x", "{\"drive_id\": \"rootfs\"}", 400, "Invalid request method and/or path" },
		{ "id mismatch checked before the body's fields", "PUT", "/drives/rootfs", "{\"drive_id\": \"other\", \"bogus\": 1}", 400, API_MSG_ID_MISMATCH },
		{ "patch id differs", "PATCH", "/drives/rootfs", "{\"drive_id\": \"other\", \"path_on_host\": \"/x\"}", 400, API_MSG_ID_MISMATCH },
		{ "net id mismatch", "PUT", "/network-interfaces/eth0", "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap0\"}", 400, API_MSG_ID_MISMATCH },
		{ "net bad id", "PUT", "/network-interfaces/eth-0", "{\"iface_id\": \"eth-0\", \"host_dev_name\": \"tap0\"}", 400, API_MSG_BAD_ID },
		{ "vsock cid", "PUT", "/vsock", "{\"guest_cid\": 2, \"uds_path\": \"/v\"}", 400, "vsock.guest_cid" },
		{ "balloon patch unknown", "PATCH", "/balloon", "{\"amount\": 4}", 400, "balloon: unknown field 'amount'" },
		{ "entropy bad", "PUT", "/entropy", "{\"rate_limiter\": {\"bandwidth\": {\"size\": 10}}}", 400, "entropy.rate_limiter.bandwidth.refill_time" },
		{ "mmds", "GET", "/mmds", NULL, 400, "mmds: not supported" },
		{ "GET drives is no route", "GET", "/drives/rootfs", NULL, 400, "Invalid request method and/or path: GET drives/rootfs." },
	};
	run_refused(cases, ARRAY_SIZE(cases));
}

Test(api, oversized_bodies)
{
	size_t n = API_BODY_MAX + 1;
	char *big = malloc(n + 1);
	struct api_response resp;
	unsigned int before = fake.calls;

	cr_assert_not_null(big);
	/* A valid document, one byte too long with its padding. */
	memset(big, ' ', n);
	memcpy(big, MC_OK, strlen(MC_OK));
	big[n] = '\0';
	api_dispatch(&disp, "PUT", "/machine-config", big, n, &resp);
	cr_expect_eq(resp.status, 400);
	cr_expect(resp.body && strstr(resp.body, "larger than the limit of 51200"), "%s", resp.body);
	api_response_free(&resp);
	/* Same for a GET (the size rule comes first) and an unknown path. */
	api_dispatch(&disp, "GET", "/", big, n, &resp);
	cr_expect_eq(resp.status, 400);
	cr_expect(strstr(resp.body, "51200"));
	api_response_free(&resp);
	api_dispatch(&disp, "PUT", "/nowhere", big, n, &resp);
	cr_expect(strstr(resp.body, "51200"));
	api_response_free(&resp);
	cr_expect_eq(fake.calls, before);

	/* Exactly at the limit is fine. */
	api_dispatch(&disp, "PUT", "/machine-config", big, API_BODY_MAX, &resp);
	cr_expect_eq(resp.status, 204, "%s", resp.body ? resp.body : "");
	api_response_free(&resp);
	cr_expect_eq(fake.cfg.machine.vcpu_count, 2);
	free(big);
}

Test(api, wrong_methods)
{
	static const struct case_ cases[] = {
		{ "POST", "POST", "/machine-config", MC_OK, 400, "Invalid request method and/or path: POST machine-config." },
		{ "DELETE root", "DELETE", "/", NULL, 400, "Invalid request method and/or path: DELETE ." },
		{ "lowercase get", "get", "/", NULL, 400, "Invalid request method and/or path: get ." },
		{ "HEAD", "HEAD", "/version", NULL, 400, "Invalid request method and/or path" },
		{ "PUT root", "PUT", "/", "{}", 400, "Invalid request method and/or path: PUT ." },
		{ "GET boot-source", "GET", "/boot-source", NULL, 400, "Invalid request method and/or path: GET boot-source." },
		{ "PATCH boot-source", "PATCH", "/boot-source", "{\"kernel_image_path\": \"/k\"}", 400, "PATCH boot-source." },
		{ "PUT vm", "PUT", "/vm", "{\"state\": \"Paused\"}", 400, "Invalid request method and/or path: PUT vm." },
		{ "GET actions", "GET", "/actions", NULL, 400, "GET actions." },
		{ "PATCH logger", "PATCH", "/logger", "{}", 400, "PATCH logger." },
		{ "PUT version", "PUT", "/version", "{}", 400, "PUT version." },
		{ "GET with a body", "GET", "/machine-config", "{}", 400, API_MSG_GET_BODY },
		{ "GET unknown with a body", "GET", "/nowhere", "x", 400, API_MSG_GET_BODY },
		{ "PUT without a body", "PUT", "/actions", NULL, 400, API_MSG_EMPTY_PUT },
		{ "PUT unknown without a body", "PUT", "/nowhere", NULL, 400, API_MSG_EMPTY_PUT },
		{ "PATCH without a body", "PATCH", "/vm", NULL, 400, API_MSG_EMPTY_PATCH },
		{ "empty method", "", "/", NULL, 400, "Invalid request method" },
		{ "control chars in method", "G\x01T", "/", NULL, 400, "G?T" },
	};
	run_refused(cases, ARRAY_SIZE(cases));
}

Test(api, unknown_paths)
{
	static const struct case_ cases[] = {
		{ "nowhere", "GET", "/nowhere", NULL, 400, "Invalid request method and/or path: GET nowhere." },
		{ "vm without config", "GET", "/vm", NULL, 400, "GET vm." },
		{ "vm/config extra", "GET", "/vm/config/x", NULL, 400, "GET vm/config/x." },
		{ "vm/other", "GET", "/vm/other", NULL, 400, "GET vm/other." },
		{ "machine-config extra", "GET", "/machine-config/x", NULL, 400, "machine-config/x" },
		{ "actions extra", "PUT", "/actions/start", "{\"action_type\": \"InstanceStart\"}", 400, "actions/start" },
		{ "dot dot", "GET", "/../etc/passwd", NULL, 400, "GET ../etc/passwd." },
		{ "case", "GET", "/Version", NULL, 400, "GET Version." },
		{ "newline in path", "GET", "/version\n", NULL, 400, "GET version?." },
		{ "long path", "GET", "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL, 400, "..." },
		{ "no leading slash", "GET", "version/x", NULL, 400, "version/x" },
	};
	run_refused(cases, ARRAY_SIZE(cases));
}

Test(api, path_forms_firecracker_accepts)
{
	static const struct case_ cases[] = {
		{ "trailing slash", "GET", "/machine-config/", NULL, 200, "vcpu_count" },
		{ "double leading slash", "GET", "//version", NULL, 200, "firecracker_version" },
		{ "root", "GET", "/", NULL, 200, "\"state\":\"Not started\"" },
		{ "empty path is root", "GET", "", NULL, 200, "app_name" },
		{ "vm config with slash", "GET", "/vm/config/", NULL, 200, "machine-config" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		cr_expect(run_case(&cases[i]), "%s: did not reach the VMM", cases[i].name);
}

/* Pre-boot calls after InstanceStart and post-boot calls before it: Firecracker's messages. */
Test(api, wrong_vm_state)
{
	static const struct case_ before_boot[] = {
		{ "pause", "PATCH", "/vm", "{\"state\": \"Paused\"}", 400, API_MSG_POST_BOOT_ONLY },
		{ "resume", "PATCH", "/vm", "{\"state\": \"Resumed\"}", 400, API_MSG_POST_BOOT_ONLY },
		{ "ctrl-alt-del", "PUT", "/actions", "{\"action_type\": \"SendCtrlAltDel\"}", 400, API_MSG_POST_BOOT_ONLY },
		{ "flush metrics", "PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}", 400, API_MSG_POST_BOOT_ONLY },
	};
	static const struct case_ after_boot[] = {
		{ "boot-source", "PUT", "/boot-source", "{\"kernel_image_path\": \"/k\"}", 400, API_MSG_PRE_BOOT_ONLY },
		{ "machine put", "PUT", "/machine-config", MC_OK, 400, API_MSG_PRE_BOOT_ONLY },
		{ "machine patch", "PATCH", "/machine-config", "{\"vcpu_count\": 4}", 400, API_MSG_PRE_BOOT_ONLY },
		{ "logger", "PUT", "/logger", "{\"level\": \"Debug\"}", 400, API_MSG_PRE_BOOT_ONLY },
		{ "metrics", "PUT", "/metrics", "{\"metrics_path\": \"/m\"}", 400, API_MSG_PRE_BOOT_ONLY },
		{ "start again", "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", 400, API_MSG_PRE_BOOT_ONLY },
	};
	static const struct case_ start = { "start", "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", 204, NULL };
	static const struct case_ boot = { "boot", "PUT", "/boot-source", "{\"kernel_image_path\": \"/k\"}", 204, NULL };
	static const struct case_ pause = { "pause", "PATCH", "/vm", "{\"state\": \"Paused\"}", 204, NULL };

	for (size_t i = 0; i < ARRAY_SIZE(before_boot); i++)
		run_case(&before_boot[i]);
	cr_expect_eq(fake.state, API_VM_NOT_STARTED);
	run_case(&boot);
	run_case(&start);
	cr_assert_eq(fake.state, API_VM_RUNNING);
	for (size_t i = 0; i < ARRAY_SIZE(after_boot); i++)
		run_case(&after_boot[i]);
	run_case(&pause);
	cr_assert_eq(fake.state, API_VM_PAUSED);
	for (size_t i = 0; i < ARRAY_SIZE(after_boot); i++)
		run_case(&after_boot[i]);
	cr_expect_eq(fake.cfg.boot_source.kernel_image_path[0], '/');
	cr_expect_str_eq(fake.cfg.boot_source.kernel_image_path, "/k");
}

static cJSON *get_json(const char *path)
{
	struct api_response resp;
	cJSON *doc;

	call("GET", path, NULL, &resp);
	cr_assert_eq(resp.status, 200, "GET %s: %u %s", path, resp.status, resp.body ? resp.body : "");
	doc = cJSON_Parse(resp.body);
	cr_assert_not_null(doc, "GET %s: not JSON: %s", path, resp.body);
	api_response_free(&resp);
	return doc;
}

static void expect_status(const char *method, const char *path, const char *body, unsigned int status)
{
	struct api_response resp;

	call(method, path, body, &resp);
	cr_expect_eq(resp.status, status, "%s %s: %u %s", method, path, resp.status,
		     resp.body ? resp.body : "");
	if (status == 204)
		cr_expect_null(resp.body, "%s %s: a 204 with a body", method, path);
	api_response_free(&resp);
}

Test(api, instance_info_and_version)
{
	cJSON *doc = get_json("/");

	cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "id")), "fake_vm");
	cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "state")), "Not started");
	cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "vmm_version")), "0.0.0-fake");
	cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "app_name")), API_APP_NAME);
	cr_expect_eq(cJSON_GetArraySize(doc), 4);
	cJSON_Delete(doc);
	doc = get_json("/version");
	cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "firecracker_version")), "0.0.0-fake");
	cJSON_Delete(doc);
}

Test(api, machine_config_put_patch_get)
{
	cJSON *doc;

	expect_status("PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 1024, \"smt\": true}", 204);
	cr_expect_eq(fake.last_op, API_OP_PUT_MACHINE_CONFIG);
	/* 3 vCPUs pass the syntax check but break the SMT rule on this config. */
	expect_status("PATCH", "/machine-config", "{\"vcpu_count\": 3}", 400);
	expect_status("PATCH", "/machine-config", "{\"vcpu_count\": 4, \"huge_pages\": \"2M\"}", 204);
	doc = get_json("/machine-config");
	cr_expect_eq(cJSON_GetNumberValue(cJSON_GetObjectItem(doc, "vcpu_count")), 4);
	cr_expect_eq(cJSON_GetNumberValue(cJSON_GetObjectItem(doc, "mem_size_mib")), 1024);
	cr_expect(cJSON_IsTrue(cJSON_GetObjectItem(doc, "smt")));
	cr_expect(cJSON_IsFalse(cJSON_GetObjectItem(doc, "track_dirty_pages")));
	cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "huge_pages")), "2M");
	cJSON_Delete(doc);
	/* A PUT resets what it does not name. */
	expect_status("PUT", "/machine-config", MC_OK, 204);
	cr_expect_not(fake.cfg.machine.smt);
	cr_expect_eq(fake.cfg.machine.huge_pages, HUGE_PAGES_NONE);
}

#define DRIVE(id, extra) "{\"drive_id\": \"" id "\", \"path_on_host\": \"/img/" id "\", \"is_root_device\": " extra "}"

Test(api, drive_bodies_refused)
{
	static const struct case_ cases[] = {
		{ "missing path", "PUT", "/drives/d", "{\"drive_id\": \"d\", \"is_root_device\": false}", 400, "drives.path_on_host: missing required field" },
		{ "missing root flag", "PUT", "/drives/d", "{\"drive_id\": \"d\", \"path_on_host\": \"/d\"}", 400, "drives.is_root_device" },
		{ "unknown field", "PUT", "/drives/d", DRIVE("d", "false, \"readonly\": true"), 400, "drives: unknown field 'readonly'" },
		{ "bad engine", "PUT", "/drives/d", DRIVE("d", "false, \"io_engine\": \"uring\""), 400, "drives.io_engine: must be one of" },
		{ "rate limiter without refill", "PUT", "/drives/d", DRIVE("d", "false, \"rate_limiter\": {\"ops\": {\"size\": 1}}"), 400, "drives.rate_limiter.ops.refill_time: missing required field" },
		{ "bad cache type", "PUT", "/drives/d", DRIVE("d", "false, \"cache_type\": \"None\""), 400, "drives.cache_type" },
		{ "partuuid with a space", "PUT", "/drives/d", DRIVE("d", "true, \"partuuid\": \"a b\""), 400, "drives.partuuid" },
		{ "read-only not bool", "PUT", "/drives/d", DRIVE("d", "false, \"is_read_only\": \"no\""), 400, "drives.is_read_only" },
		{ "patch without change", "PATCH", "/drives/d", "{\"drive_id\": \"d\"}", 400, "empty PATCH" },
		{ "patch read-only flag", "PATCH", "/drives/d", "{\"drive_id\": \"d\", \"is_read_only\": true}", 400, "unknown field 'is_read_only'" },
		{ "patch rate limiter", "PATCH", "/drives/d", "{\"drive_id\": \"d\", \"rate_limiter\": {\"ops\": 1}}", 400, "drives.rate_limiter.ops: expected an object" },
	};
	run_refused(cases, ARRAY_SIZE(cases));
}

Test(api, drives_put_replace_root_rules_and_patch)
{
	cJSON *doc, *drives;

	expect_status("PUT", "/drives/data", DRIVE("data", "false"), 204);
	cr_expect_eq(fake.last_op, API_OP_PUT_DRIVE);
	expect_status("PUT", "/drives/rootfs", DRIVE("rootfs", "true, \"is_read_only\": true, \"cache_type\": \"Writeback\""), 204);
	expect_status("PUT", "/drives/other_root", DRIVE("other_root", "true"), 400);
	expect_status("PUT", "/drives/data", "{\"drive_id\": \"data\", \"path_on_host\": \"/img/data2\", \"is_root_device\": false}", 204);
	cr_assert_eq(fake.cfg.nr_drives, 2);
	cr_expect_str_eq(fake.cfg.drives[0].drive_id, "rootfs", "root first");
	cr_expect_str_eq(fake.cfg.drives[1].path_on_host, "/img/data2", "replaced in place");

	doc = get_json("/vm/config");
	drives = cJSON_GetObjectItem(doc, "drives");
	cr_assert_eq(cJSON_GetArraySize(drives), 2);
	cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(drives, 0), "drive_id")), "rootfs");
	cr_expect(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(drives, 0), "is_read_only")));
	cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(drives, 0), "cache_type")), "Writeback");
	cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(drives, 0), "io_engine")), "Sync");
	cr_expect(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(drives, 0), "partuuid")));
	cJSON_Delete(doc);

	expect_status("PATCH", "/drives/data", "{\"drive_id\": \"data\", \"path_on_host\": \"/img/new\"}", 400); /* pre-boot */
	expect_status("PUT", "/boot-source", "{\"kernel_image_path\": \"/k\"}", 204);
	expect_status("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", 204);
	expect_status("PUT", "/drives/late", DRIVE("late", "false"), 400); /* post-boot */
	expect_status("PATCH", "/drives/data", "{\"drive_id\": \"data\", \"path_on_host\": \"/img/new\"}", 204);
	cr_expect_eq(fake.last_op, API_OP_PATCH_DRIVE);
	cr_expect_str_eq(fake.cfg.drives[1].path_on_host, "/img/new");
	expect_status("PATCH", "/drives/nope", "{\"drive_id\": \"nope\", \"rate_limiter\": null}", 400);
}

/* GET /vm/config is a valid --config-file document describing the same VM. */
Test(api, vm_config_round_trips)
{
	struct vm_config back;
	char err[CONFIG_ERR_MAX] = "";
	struct api_response resp;
	cJSON *doc;

	doc = get_json("/vm/config");
	cr_expect(cJSON_IsNull(cJSON_GetObjectItem(doc, "boot-source")));
	cr_expect(cJSON_IsArray(cJSON_GetObjectItem(doc, "drives")));
	cJSON_Delete(doc);

	expect_status("PUT", "/boot-source",
		      "{\"kernel_image_path\": \"/img/vmlinux \\\"q\\\"\", \"initrd_path\": \"/img/initrd\","
		      " \"boot_args\": \"console=ttyS0 reboot=k panic=1\"}", 204);
	expect_status("PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 256, \"track_dirty_pages\": true}", 204);
	expect_status("PUT", "/drives/rootfs", DRIVE("rootfs", "true, \"partuuid\": \"0eaa91a0-01\", \"is_read_only\": true"), 204);
	expect_status("PUT", "/drives/data", DRIVE("data", "false, \"cache_type\": \"Writeback\""), 204);
	call("GET", "/vm/config", NULL, &resp);
	cr_assert_eq(resp.status, 200);
	cr_assert_eq(vm_config_parse(resp.body, resp.len, &back, err), 0, "%s: %s", resp.body, err);
	cr_expect_str_eq(back.boot_source.kernel_image_path, "/img/vmlinux \"q\"");
	cr_expect_str_eq(back.boot_source.initrd_path, "/img/initrd");
	cr_expect_str_eq(back.boot_source.boot_args, "console=ttyS0 reboot=k panic=1");
	cr_expect_eq(back.machine.vcpu_count, 2);
	cr_expect_eq(back.machine.mem_size_mib, 256);
	cr_expect(back.machine.track_dirty_pages);
	cr_assert_eq(back.nr_drives, 2);
	cr_expect_str_eq(back.drives[0].drive_id, "rootfs");
	cr_expect_str_eq(back.drives[0].path_on_host, "/img/rootfs");
	cr_expect_str_eq(back.drives[0].partuuid, "0eaa91a0-01");
	cr_expect(back.drives[0].is_root_device && back.drives[0].is_read_only);
	cr_expect_str_eq(back.drives[1].drive_id, "data");
	cr_expect_eq(back.drives[1].cache_type, DRIVE_CACHE_WRITEBACK);
	cr_expect_not(back.drives[1].is_read_only);
	vm_config_free(&back);
	api_response_free(&resp);
}

Test(api, actions_and_vm_state)
{
	cJSON *doc;

	expect_status("PUT", "/boot-source", "{\"kernel_image_path\": \"/k\"}", 204);
	expect_status("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", 204);
	cr_expect_eq(fake.last_op, API_OP_INSTANCE_START);
	expect_status("PUT", "/actions", "{\"action_type\": \"SendCtrlAltDel\"}", 204);
	cr_expect_eq(fake.last_op, API_OP_SEND_CTRL_ALT_DEL);
	expect_status("PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}", 204);
	cr_expect_eq(fake.last_op, API_OP_FLUSH_METRICS);
	expect_status("PATCH", "/vm", "{\"state\": \"Paused\"}", 204);
	doc = get_json("/");
	cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "state")), "Paused");
	cJSON_Delete(doc);
	expect_status("PATCH", "/vm", "{\"state\": \"Resumed\"}", 204);
	doc = get_json("/");
	cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "state")), "Running");
	cJSON_Delete(doc);
}

Test(api, start_failure_is_a_400_and_state_stays)
{
	fake.fail_start = -ENOMEM;
	expect_status("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", 400); /* no kernel */
	expect_status("PUT", "/boot-source", "{\"kernel_image_path\": \"/k\"}", 204);
	expect_status("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", 400);
	cr_expect_eq(fake.state, API_VM_NOT_STARTED);
	fake.fail_start = 0;
	expect_status("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", 204);
}

Test(api, logger_and_metrics_bodies)
{
	expect_status("PUT", "/logger",
		      "{\"log_path\": \"/tmp/fc.log\", \"level\": \"debug\", \"show_level\": true,"
		      " \"show_log_origin\": false}", 204);
	cr_expect_str_eq(fake.last_logger.log_path, "/tmp/fc.log");
	cr_expect_eq(fake.last_logger.level, LOG_LEVEL_DEBUG);
	cr_expect_eq(fake.last_logger.show_level, 1);
	cr_expect_eq(fake.last_logger.show_origin, 0);
	/* Absent fields are "unchanged". */
	expect_status("PUT", "/logger", "{\"level\": \"Warning\"}", 204);
	cr_expect_str_eq(fake.last_logger.log_path, "");
	cr_expect_eq(fake.last_logger.show_level, -1);
	cr_expect_eq(fake.last_logger.show_origin, -1);
	expect_status("PUT", "/logger", "{}", 204);
	cr_expect_eq(fake.last_logger.level, -1);

	expect_status("PUT", "/metrics", "{\"metrics_path\": \"/tmp/m.fifo\"}", 204);
	cr_expect_str_eq(fake.last_metrics.metrics_path, "/tmp/m.fifo");
	expect_status("PUT", "/metrics", "{\"metrics_path\": \"/tmp/other\"}", 400);
}

Test(api, counters_count_and_reset)
{
	cJSON *obj = cJSON_CreateObject(), *put, *get, *patch;

	expect_status("PUT", "/machine-config", MC_OK, 204);
	expect_status("PUT", "/machine-config", "{", 400);
	expect_status("GET", "/", NULL, 200);
	expect_status("PATCH", "/vm", "{\"state\": \"Paused\"}", 400);
	expect_status("PUT", "/drives/rootfs", "{\"drive_id\": \"rootfs\"}", 400);
	expect_status("GET", "/nowhere", NULL, 400);
	expect_status("BREW", "/", NULL, 400);

	cr_assert_eq(api_counters_take_json(&counters, obj), 0);
	put = cJSON_GetObjectItem(obj, "put_api_requests");
	get = cJSON_GetObjectItem(obj, "get_api_requests");
	patch = cJSON_GetObjectItem(obj, "patch_api_requests");
	cr_expect_eq(cJSON_GetNumberValue(cJSON_GetObjectItem(put, "machine_cfg_count")), 2);
	cr_expect_eq(cJSON_GetNumberValue(cJSON_GetObjectItem(put, "machine_cfg_fails")), 1);
	cr_expect_eq(cJSON_GetNumberValue(cJSON_GetObjectItem(get, "instance_info_count")), 1);
	cr_expect_eq(cJSON_GetNumberValue(cJSON_GetObjectItem(get, "instance_info_fails")), 0);
	cr_expect_eq(cJSON_GetNumberValue(cJSON_GetObjectItem(patch, "vm_fails")), 1);
	cr_expect_eq(cJSON_GetNumberValue(cJSON_GetObjectItem(put, "drive_fails")), 1);
	cr_expect_eq(cJSON_GetNumberValue(cJSON_GetObjectItem(get, "invalid_path_count")), 1);
	cr_expect_eq(cJSON_GetNumberValue(cJSON_GetObjectItem(obj, "invalid_method_count")), 1);
	/* Only routes that exist are listed. */
	cr_expect_null(cJSON_GetObjectItem(get, "boot_source_count"));
	cr_expect_null(cJSON_GetObjectItem(patch, "logger_count"));
	cJSON_Delete(obj);

	/* Deltas: a second take after no requests reads zero. */
	obj = cJSON_CreateObject();
	cr_assert_eq(api_counters_take_json(&counters, obj), 0);
	put = cJSON_GetObjectItem(obj, "put_api_requests");
	cr_expect_eq(cJSON_GetNumberValue(cJSON_GetObjectItem(put, "machine_cfg_count")), 0);
	cJSON_Delete(obj);
}

/* Random requests: always a well-formed 200/204/400, never a crash or leak. */
Test(api, random_requests)
{
	static const char *const methods[] = { "GET", "PUT", "PATCH", "POST", "" };
	static const char *const paths[] = { "/", "/version", "/machine-config", "/boot-source",
					     "/actions", "/vm", "/vm/config", "/logger", "/metrics",
					     "/drives/x", "/zz", "/vm/config/x" };
	static const char *const frags[] = { "{", "}", "\"vcpu_count\"", ":", "1", ",", "\"state\"",
					     "\"Paused\"", "\"action_type\"", "\"InstanceStart\"", "[",
					     "]", "null", "true", "\"mem_size_mib\"", "1e9", "-1", "\"\\u0000\"",
					     "\"kernel_image_path\"", "\"/k\"", " " };
	unsigned int seed = 12345;
	char body[512];

	for (int i = 0; i < 20000; i++) {
		struct api_response resp;
		size_t len = 0;
		int parts = rand_r(&seed) % 12;

		for (int k = 0; k < parts; k++) {
			const char *f = frags[rand_r(&seed) % ARRAY_SIZE(frags)];
			size_t fl = strlen(f);

			if (len + fl >= sizeof(body))
				break;
			memcpy(body + len, f, fl);
			len += fl;
		}
		body[len] = '\0';
		api_dispatch(&disp, methods[rand_r(&seed) % ARRAY_SIZE(methods)],
			     paths[rand_r(&seed) % ARRAY_SIZE(paths)], body, len, &resp);
		cr_assert(resp.status == 200 || resp.status == 204 || resp.status == 400,
			  "status %u for %s", resp.status, body);
		cr_assert(resp.status == 204 || resp.body, "no body with %u", resp.status);
		api_response_free(&resp);
	}
}

/* The device resources beyond drives, in order: each row reaches the VMM. */
Test(api, device_resources)
{
	static const struct case_ cases[] = {
		{ "good net", "PUT", "/network-interfaces/eth_0", "{\"iface_id\": \"eth_0\", \"host_dev_name\": \"tap0\"}", 204, NULL },
		{ "net patch before boot", "PATCH", "/network-interfaces/eth_0", "{\"iface_id\": \"eth_0\"}", 400, API_MSG_POST_BOOT_ONLY },
		{ "vsock", "PUT", "/vsock", "{\"guest_cid\": 3, \"uds_path\": \"/v\"}", 204, NULL },
		{ "balloon get before put", "GET", "/balloon", NULL, 400, "not configured" },
		{ "balloon", "PUT", "/balloon", "{\"amount_mib\": 0, \"deflate_on_oom\": true}", 204, NULL },
		{ "balloon get", "GET", "/balloon", NULL, 200, "\"deflate_on_oom\":true" },
		{ "balloon patch", "PATCH", "/balloon", "{\"amount_mib\": 4}", 204, NULL },
		{ "balloon stats patch", "PATCH", "/balloon/statistics", "{\"stats_polling_interval_s\": 2}", 204, NULL },
		{ "entropy", "PUT", "/entropy", "{\"rate_limiter\": {\"bandwidth\": {\"size\": 10, \"refill_time\": 100}}}", 204, NULL },
		{ "vm config shows them", "GET", "/vm/config", NULL, 200, "\"network-interfaces\":[{\"iface_id\":\"eth_0\",\"host_dev_name\":\"tap0\",\"guest_mac\":null,\"rx_rate_limiter\":null,\"tx_rate_limiter\":null}]" },
		{ "balloon amount in vm config", "GET", "/vm/config", NULL, 200, "\"balloon\":{\"amount_mib\":4,\"deflate_on_oom\":true,\"stats_polling_interval_s\":2" },
		{ "entropy limiter in vm config", "GET", "/vm/config", NULL, 200, "\"entropy\":{\"rate_limiter\":{\"bandwidth\":{\"size\":10,\"one_time_burst\":0,\"refill_time\":100},\"ops\":null}}" },
		{ "vsock in vm config", "GET", "/vm/config", NULL, 200, "\"vsock\":{\"guest_cid\":3,\"uds_path\":\"/v\"}" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		cr_expect(run_case(&cases[i]), "%s: did not reach the VMM", cases[i].name);
}

/* PUT /snapshot/create and /snapshot/load: shapes refused before the VMM. */
Test(api, snapshot_bodies_refused)
{
	static const struct case_ cases[] = {
		{ "create no paths", "PUT", "/snapshot/create", "{\"snapshot_type\": \"Full\"}", 400, "snapshot_path" },
		{ "create bad type", "PUT", "/snapshot/create",
		  "{\"snapshot_type\": \"Half\", \"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\"}", 400, "snapshot_type" },
		{ "create empty path", "PUT", "/snapshot/create",
		  "{\"snapshot_path\": \"\", \"mem_file_path\": \"/m\"}", 400, "must not be empty" },
		{ "create unknown field", "PUT", "/snapshot/create",
		  "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\", \"version\": \"1.0\"}", 400, "version" },
		{ "create GET", "GET", "/snapshot/create", NULL, 400, NULL },
		{ "load no memory", "PUT", "/snapshot/load", "{\"snapshot_path\": \"/s\"}", 400,
		  "exactly one of mem_backend and mem_file_path" },
		{ "load both memories", "PUT", "/snapshot/load",
		  "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\", \"mem_backend\": "
		  "{\"backend_type\": \"File\", \"backend_path\": \"/m\"}}", 400, "exactly one" },
		{ "load bad backend", "PUT", "/snapshot/load",
		  "{\"snapshot_path\": \"/s\", \"mem_backend\": {\"backend_type\": \"Disk\", \"backend_path\": \"/m\"}}",
		  400, "backend_type" },
		{ "load backend not object", "PUT", "/snapshot/load",
		  "{\"snapshot_path\": \"/s\", \"mem_backend\": \"/m\"}", 400, "mem_backend" },
		{ "load backend no path", "PUT", "/snapshot/load",
		  "{\"snapshot_path\": \"/s\", \"mem_backend\": {\"backend_type\": \"Uffd\"}}", 400, "backend_path" },
		{ "load resume not bool", "PUT", "/snapshot/load",
		  "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\", \"resume_vm\": 1}", 400, "resume_vm" },
		{ "load overrides not array", "PUT", "/snapshot/load",
		  "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\", \"network_overrides\": {}}", 400,
		  "network_overrides" },
		{ "load override unknown field", "PUT", "/snapshot/load",
		  "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\", \"network_overrides\": "
		  "[{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"mac\": 1}]}", 400, "mac" },
		{ "load vsock override no path", "PUT", "/snapshot/load",
		  "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\", \"vsock_override\": {}}", 400, "uds_path" },
		{ "load unknown field", "PUT", "/snapshot/load",
		  "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\", \"resume\": true}", 400, "resume" },
	};

	run_refused(cases, ARRAY_SIZE(cases));
}


/* Well-formed snapshot bodies reach the VMM, typed as Firecracker means them. */
Test(api, snapshot_bodies_parsed)
{
	static const struct case_ cases[] = {
		{ "create", "PUT", "/snapshot/create", "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\"}", 0, NULL },
		{ "load", "PUT", "/snapshot/load", "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\"}", 0, NULL },
	};
	struct api_request req;
	char err[JSON_ERR_MAX];
	cJSON *doc;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct api_response resp;
		unsigned int before = fake.calls;

		call(cases[i].method, cases[i].path, cases[i].body, &resp);
		cr_expect_eq(fake.calls, before + 1, "%s did not reach the VMM: %s", cases[i].name,
			     resp.body ? resp.body : "");
		api_response_free(&resp);
	}
	doc = cJSON_Parse("{\"snapshot_type\": \"Diff\", \"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\"}");
	cr_assert_eq(api_parse_snapshot_create(&doc, &req, err), 0, "%s", err);
	cr_expect_eq(req.op, API_OP_SNAPSHOT_CREATE);
	cr_expect_eq(req.u.snapshot_create.type, API_SNAPSHOT_DIFF);
	cr_expect_str_eq(req.u.snapshot_create.mem_file_path, "/m");
	cJSON_Delete(doc);

	doc = cJSON_Parse("{\"snapshot_path\": \"/s\", \"mem_backend\": {\"backend_type\": \"Uffd\", "
			  "\"backend_path\": \"/u.sock\"}, \"enable_diff_snapshots\": true, \"resume_vm\": true, "
			  "\"network_overrides\": [{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap1\"}], "
			  "\"vsock_override\": {\"uds_path\": \"/v.sock\"}}");
	cr_assert_eq(api_parse_snapshot_load(&doc, &req, err), 0, "%s", err);
	cr_expect_eq(req.op, API_OP_SNAPSHOT_LOAD);
	cr_expect_eq(req.u.snapshot_load.backend, API_MEM_BACKEND_UFFD);
	cr_expect_str_eq(req.u.snapshot_load.backend_path, "/u.sock");
	cr_expect(req.u.snapshot_load.track_dirty_pages, "enable_diff_snapshots is track_dirty_pages");
	cr_expect(req.u.snapshot_load.resume_vm);
	cr_expect_eq(req.u.snapshot_load.nr_net_overrides, 1);
	cr_expect_str_eq(req.u.snapshot_load.net_overrides[0].host_dev_name, "tap1");
	cr_expect(req.u.snapshot_load.has_vsock_override);
	cr_expect_str_eq(req.u.snapshot_load.vsock_uds_path, "/v.sock");
	cJSON_Delete(doc);

	doc = cJSON_Parse("{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\"}");
	cr_assert_eq(api_parse_snapshot_load(&doc, &req, err), 0, "%s", err);
	cr_expect_eq(req.u.snapshot_load.backend, API_MEM_BACKEND_FILE, "mem_file_path is a File backend");
	cr_expect_str_eq(req.u.snapshot_load.backend_path, "/m");
	cr_expect_not(req.u.snapshot_load.resume_vm, "resume_vm defaults to false");
	cJSON_Delete(doc);
}
