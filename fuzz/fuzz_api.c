/*
 * fuzz_api: vmm/api's api_dispatch on untrusted requests, against api_fake.
 *
 * The input is a sequence of requests (at most FZ_MAX_REQUESTS), one per line
 * ('\n' ends a request; the last one needs none), all served by one fake VMM,
 * so state carries over (an InstanceStart switches to the post-boot rules):
 *
 *   byte 0   method: 'G' GET, 'P' PUT, 'A' PATCH, 'D' DELETE, 'O' POST,
 *            'g' "get", 'H' HEAD, 'E' "" ; any other byte picks one of
 *            these by value
 *   byte 1   path: 'a'.. one of fz_paths[] below (an entry ending in '/'
 *            takes the id: the bytes up to the next ' '); '~' a raw path
 *            (the bytes up to the next ' ', so it may hold '/', odd bytes,
 *            a NUL that cuts it short); any other byte picks by value
 *   ' '      (optional) then the body: the rest of the line, passed with its
 *            exact length and no terminating NUL (an empty body is len 0).
 *            "!big" sends API_BODY_MAX + 1 bytes; "!max<json>" sends <json>
 *            padded with spaces to exactly API_BODY_MAX bytes.
 *
 * e.g. "Pc {\"kernel_image_path\":\"/k\"}\n" is PUT /boot-source.
 *
 * Checked after every call:
 *  - the status is 200, 204 or 400 (500 means out of memory, which does not
 *    happen here); 204 has no body; 200 and 400 have a NUL-terminated body of
 *    len bytes, one line (of printable ASCII for a 400) that parses with cJSON;
 *  - a 400 is exactly {"fault_message": "<one safe line>"};
 *  - a 200 answers a GET, and GET / reports the fake's state;
 *  - refused requests (bad method, bad path, oversized, GET with a body, empty
 *    PUT/PATCH) never reach the VMM; a request that does obeys the pre/post
 *    boot rule: wrong state means 400 with Firecracker's message and no change;
 *  - the counters count every request once, and every 4xx as a failure;
 *  - at the end, GET /vm/config of a config with a boot source parses again as
 *    --config-file into the same machine config and drive list;
 *  - nothing leaks (LeakSanitizer).
 */
#include <errno.h>

#include <cjson/cJSON.h>

#include "fuzz/fuzz_common.h"
#include "vmm/api/api.h"
#include "vmm/api/api_fake.h"
#include "vmm/config/json_fields.h"

#define FZ_MAX_REQUESTS 64
#define FZ_PATH_MAX 512

/* Firecracker's paths; an entry ending in '/' takes an id from the input. */
static const char *const fz_paths[] = {
	"/",                      /* a */
	"/version",               /* b */
	"/boot-source",           /* c */
	"/machine-config",        /* d */
	"/actions",               /* e */
	"/vm",                    /* f */
	"/vm/config",             /* g */
	"/logger",                /* h */
	"/metrics",               /* i */
	"/drives/",               /* j */
	"/network-interfaces/",   /* k */
	"/vsock",                 /* l */
	"/balloon",               /* m */
	"/balloon/statistics",    /* n */
	"/entropy",               /* o */
	"/snapshot/create",       /* p */
	"/snapshot/load",         /* q */
	"/mmds",                  /* r */
	"/mmds/config",           /* s */
	"/cpu-config",            /* t */
	"/serial",                /* u */
	"/pmem/",                 /* v */
	"/hotplug/memory",        /* w */
	"/balloon/statistics/",   /* x */
};
#define FZ_NPATHS (sizeof(fz_paths) / sizeof(fz_paths[0]))

static const struct {
	char key;
	const char *name;
	int m; /* enum api_method, or -1 */
} fz_methods[] = {
	{ 'G', "GET", API_METHOD_GET },   { 'P', "PUT", API_METHOD_PUT },
	{ 'A', "PATCH", API_METHOD_PATCH }, { 'D', "DELETE", -1 },
	{ 'O', "POST", -1 },               { 'g', "get", -1 },
	{ 'H', "HEAD", -1 },               { 'E', "", -1 },
};
#define FZ_NMETHODS (sizeof(fz_methods) / sizeof(fz_methods[0]))

static char fz_big[API_BODY_MAX + 1];

struct fz_ctx {
	struct api_fake fake;
	struct api_counters counters;
	struct api_dispatcher d;
	unsigned long requests, bad_methods, fails;
};

/* The pieces of one line. */
struct fz_req {
	int mi;                    /* index into fz_methods */
	char path[FZ_PATH_MAX];
	const char *body;
	size_t len;
	bool oversized;
};

/* One line: no control bytes below 0x20; ascii: printable ASCII only.  A 200
 * body may echo the client's own (valid UTF-8) string bytes raw, as cJSON
 * prints them; fz_check_response() checks it is strict JSON. */
/* Well-formed UTF-8 (RFC 3629), decoded the long way round so this check does
 * not share code with the parser it checks. */
static int fz_utf8_ok(const unsigned char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		unsigned int c = s[i], cp, n;

		if (c < 0x80) {
			i++;
			continue;
		}
		n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
		if (!n || n > len - i)
			return 0;
		cp = c & (0x7f >> n);
		for (unsigned int k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n;
	}
	return 1;
}

static int fz_is_one_line(const char *s, size_t len, bool ascii)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (ascii && (unsigned char)s[i] > 0x7e))
			return 0;
	return 1;
}

/* Bytes up to the next ' ' (not included); advances past it. */
static size_t fz_word(const uint8_t **p, const uint8_t *end, char *out, size_t max)
{
	size_t n = 0;

	while (*p < end && **p != ' ') {
		if (n + 1 < max)
			out[n++] = (char)**p;
		(*p)++;
	}
	out[n] = '\0';
	if (*p < end)
		(*p)++; /* the ' ' */
	return n;
}

static void fz_decode(const uint8_t *line, size_t n, struct fz_req *r)
{
	const uint8_t *p = line, *end = line + n;
	unsigned int mk = p < end ? *p++ : 'G';
	unsigned int pk = p < end ? *p++ : 'a';
	char word[FZ_PATH_MAX];

	memset(r, 0, sizeof(*r));
	r->mi = (int)(mk % FZ_NMETHODS);
	for (size_t i = 0; i < FZ_NMETHODS; i++)
		if (fz_methods[i].key == (char)mk)
			r->mi = (int)i;

	if (pk == '~') {
		fz_word(&p, end, r->path, sizeof(r->path));
	} else {
		const char *base = fz_paths[pk >= 'a' && pk < 'a' + FZ_NPATHS ? pk - 'a' : pk % FZ_NPATHS];
		size_t bl = strlen(base);

		if (base[bl - 1] == '/' && bl > 1) {
			fz_word(&p, end, word, sizeof(word) - bl);
			snprintf(r->path, sizeof(r->path), "%s%s", base, word);
		} else {
			snprintf(r->path, sizeof(r->path), "%s", base);
			if (p < end && *p == ' ')
				p++;
		}
	}

	r->body = (const char *)p;
	r->len = (size_t)(end - p);
	if (r->len == 4 && !memcmp(p, "!big", 4)) {
		memset(fz_big, ' ', sizeof(fz_big));
		fz_big[0] = '{';
		fz_big[sizeof(fz_big) - 1] = '}';
		r->body = fz_big;
		r->len = sizeof(fz_big);
		r->oversized = true;
	} else if (r->len >= 4 && !memcmp(p, "!max", 4)) {
		memset(fz_big, ' ', sizeof(fz_big));
		memcpy(fz_big, p + 4, r->len - 4 < API_BODY_MAX ? r->len - 4 : API_BODY_MAX);
		r->body = fz_big;
		r->len = API_BODY_MAX;
	}
}

/* Which ops the fake refuses in which state (api.h's rule, restated). */
static bool fz_pre_boot_only(enum api_op op)
{
	return op == API_OP_PUT_BOOT_SOURCE || op == API_OP_PUT_MACHINE_CONFIG ||
	       op == API_OP_PATCH_MACHINE_CONFIG || op == API_OP_PUT_LOGGER || op == API_OP_PUT_METRICS ||
	       op == API_OP_PUT_DRIVE || op == API_OP_INSTANCE_START;
}

static bool fz_post_boot_only(enum api_op op)
{
	return op == API_OP_SEND_CTRL_ALT_DEL || op == API_OP_FLUSH_METRICS || op == API_OP_PAUSE ||
	       op == API_OP_RESUME || op == API_OP_PATCH_DRIVE;
}

static bool fz_machine_eq(const struct machine_config *a, const struct machine_config *b)
{
	return a->vcpu_count == b->vcpu_count && a->mem_size_mib == b->mem_size_mib && a->smt == b->smt &&
	       a->track_dirty_pages == b->track_dirty_pages && a->huge_pages == b->huge_pages;
}

static bool fz_drives_eq(const struct vm_config *a, const struct vm_config *b)
{
	if (a->nr_drives != b->nr_drives)
		return false;
	for (unsigned int i = 0; i < a->nr_drives; i++) {
		const struct drive_config *x = &a->drives[i], *y = &b->drives[i];

		if (strcmp(x->drive_id, y->drive_id) || strcmp(x->path_on_host, y->path_on_host) ||
		    strcmp(x->partuuid, y->partuuid) || x->is_root_device != y->is_root_device ||
		    x->is_read_only != y->is_read_only || x->cache_type != y->cache_type)
			return false;
	}
	return true;
}

/* The body's shape for its status; returns the parsed tree (caller deletes). */
static cJSON *fz_check_body(const struct api_response *resp)
{
	const cJSON *msg;
	cJSON *doc;

	if (resp->status == 204) {
		FUZZ_CHECK(!resp->body && !resp->len, "204 with a body");
		return NULL;
	}
	FUZZ_CHECK(resp->status == 200 || resp->status == 400, "status %u", resp->status);
	FUZZ_CHECK(resp->body, "%u without a body", resp->status);
	FUZZ_CHECK(strlen(resp->body) == resp->len, "len %zu, strlen %zu", resp->len, strlen(resp->body));
	FUZZ_CHECK(fz_is_one_line(resp->body, resp->len, resp->status == 400),
		   "body is not one printable line: %s", resp->body);
	doc = cJSON_ParseWithLength(resp->body, resp->len);
	FUZZ_CHECK(doc && cJSON_IsObject(doc), "body is not a JSON object: %s", resp->body);
	{
		/* Strict JSON too (UTF-8, no raw controls): a client must be able
		 * to feed any answer back, e.g. GET /vm/config as a config file. */
		char jerr[JSON_ERR_MAX];
		cJSON *strict = NULL;

		FUZZ_CHECK(fz_utf8_ok((const unsigned char *)resp->body, resp->len),
			   "body is not UTF-8: %s", resp->body);
		FUZZ_CHECK(json_doc_parse(resp->body, resp->len, &strict, jerr) == 0,
			   "body is not strict JSON (%s): %s", jerr, resp->body);
		cJSON_Delete(strict);
	}
	if (resp->status == 400) {
		msg = cJSON_GetObjectItemCaseSensitive(doc, "fault_message");
		FUZZ_CHECK(cJSON_IsString(msg) && msg->valuestring, "400 without fault_message: %s", resp->body);
		FUZZ_CHECK(cJSON_GetArraySize(doc) == 1, "400 with more than fault_message: %s", resp->body);
		FUZZ_CHECK(msg->valuestring[0] && fz_msg_is_safe(msg->valuestring, API_FAULT_MAX),
			   "fault_message is not one safe line: %s", resp->body);
	}
	return doc;
}

static const char *fz_fault(const cJSON *doc)
{
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(doc, "fault_message");

	return cJSON_IsString(msg) ? msg->valuestring : "";
}

static void fz_check_get(const struct fz_ctx *c, const struct fz_req *r, const cJSON *doc)
{
	const cJSON *state;

	FUZZ_CHECK(fz_methods[r->mi].m == API_METHOD_GET, "200 for a %s", fz_methods[r->mi].name);
	if (c->fake.last_op == API_OP_GET_INSTANCE_INFO) {
		state = cJSON_GetObjectItemCaseSensitive(doc, "state");
		FUZZ_CHECK(cJSON_IsString(state) && !strcmp(state->valuestring, api_vm_state_name(c->fake.state)),
			   "GET / state does not match the VMM's");
	}
}

static void fz_one(struct fz_ctx *c, const struct fz_req *r)
{
	struct api_response resp;
	struct vm_config before_cfg = c->fake.cfg; /* shallow: for comparison only */
	enum api_vm_state before_state = c->fake.state;
	unsigned int before_calls = c->fake.calls;
	int m = fz_methods[r->mi].m;
	bool reached;
	cJSON *doc;

	char *body = NULL;

	/* Exactly len bytes, no NUL: ASan sees any read past the body's end. */
	if (r->len) {
		body = malloc(r->len);
		FUZZ_CHECK(body, "out of memory");
		memcpy(body, r->body, r->len);
	}
	memset(&resp, 0xa5, sizeof(resp));
	api_dispatch(&c->d, fz_methods[r->mi].name, r->path, body, r->len, &resp);
	free(body);
	c->requests++;
	if (m < 0)
		c->bad_methods++;
	else if (resp.status >= 400)
		c->fails++;

	FUZZ_CHECK((unsigned int)resp.resource < API_RES_NR, "resource %d", (int)resp.resource);
	doc = fz_check_body(&resp);
	reached = c->fake.calls != before_calls;
	FUZZ_CHECK(c->fake.calls - before_calls <= 1, "one request, %u VMM calls", c->fake.calls - before_calls);

	if (resp.status != 400)
		FUZZ_CHECK(reached && resp.resource != API_RES_OTHER, "%u without reaching the VMM", resp.status);
	if (r->oversized || m < 0 || (m == API_METHOD_GET && r->len) || (m != API_METHOD_GET && !r->len) ||
	    resp.resource == API_RES_OTHER)
		FUZZ_CHECK(!reached && resp.status == 400, "a refused request reached the VMM");
	if (r->oversized) {
		char msg[API_FAULT_MAX];

		api_body_too_large_msg(msg, r->len);
		FUZZ_CHECK(!strcmp(fz_fault(doc), msg), "oversized body: %s", fz_fault(doc));
	}
	if (resp.status == 200)
		fz_check_get(c, r, doc);

	if (reached) {
		enum api_op op = c->fake.last_op;

		if (before_state != API_VM_NOT_STARTED && fz_pre_boot_only(op)) {
			FUZZ_CHECK(resp.status == 400 && !strcmp(fz_fault(doc), API_MSG_PRE_BOOT_ONLY),
				   "pre-boot op %d after boot: %u", (int)op, resp.status);
		} else if (before_state == API_VM_NOT_STARTED && fz_post_boot_only(op)) {
			FUZZ_CHECK(resp.status == 400 && !strcmp(fz_fault(doc), API_MSG_POST_BOOT_ONLY),
				   "post-boot op %d before boot: %u", (int)op, resp.status);
		}
		if (resp.status == 400) {
			FUZZ_CHECK(c->fake.state == before_state, "a refused request changed the VM state");
			FUZZ_CHECK(fz_machine_eq(&c->fake.cfg.machine, &before_cfg.machine) &&
					   c->fake.cfg.has_boot_source == before_cfg.has_boot_source &&
					   fz_drives_eq(&c->fake.cfg, &before_cfg),
				   "a refused request changed the config");
		}
		if (op == API_OP_INSTANCE_START && resp.status == 204)
			FUZZ_CHECK(before_state == API_VM_NOT_STARTED && c->fake.state == API_VM_RUNNING,
				   "InstanceStart did not start");
	} else {
		FUZZ_CHECK(c->fake.state == before_state && fz_machine_eq(&c->fake.cfg.machine, &before_cfg.machine) &&
				   fz_drives_eq(&c->fake.cfg, &before_cfg),
			   "a request that never reached the VMM changed it");
	}
	cJSON_Delete(doc);
	api_response_free(&resp);
	FUZZ_CHECK(!resp.body && !resp.len, "api_response_free left a body");
}

static void fz_check_counters(struct fz_ctx *c)
{
	unsigned long count = 0, fails = 0;
	cJSON *obj;
	char *text;

	for (int m = 0; m < API_METHOD_NR; m++)
		for (int r = 0; r < API_RES_NR; r++) {
			count += (unsigned long)atomic_load(&c->counters.count[m][r]);
			fails += (unsigned long)atomic_load(&c->counters.fails[m][r]);
		}
	FUZZ_CHECK(count + atomic_load(&c->counters.bad_method) == c->requests &&
			   atomic_load(&c->counters.bad_method) == c->bad_methods,
		   "counted %lu + %lu requests, sent %lu", count,
		   (unsigned long)atomic_load(&c->counters.bad_method), c->requests);
	FUZZ_CHECK(fails == c->fails, "counted %lu failures, saw %lu", fails, c->fails);

	obj = cJSON_CreateObject();
	FUZZ_CHECK(obj, "out of memory");
	FUZZ_CHECK(api_counters_take_json(&c->counters, obj) == 0, "api_counters_take_json");
	text = cJSON_PrintUnformatted(obj);
	FUZZ_CHECK(text && fz_is_one_line(text, strlen(text), true), "counters JSON");
	cJSON_free(text);
	cJSON_Delete(obj);
	for (int m = 0; m < API_METHOD_NR; m++)
		for (int r = 0; r < API_RES_NR; r++)
			FUZZ_CHECK(!atomic_load(&c->counters.count[m][r]) && !atomic_load(&c->counters.fails[m][r]),
				   "counters not reset");
}

/* GET /vm/config promises the config-file shape: it must load as one. */
static void fz_check_vm_config(struct fz_ctx *c)
{
	struct api_response resp;
	struct vm_config again;
	char err[CONFIG_ERR_MAX];
	int rc;

	api_dispatch(&c->d, "GET", "/vm/config", NULL, 0, &resp);
	FUZZ_CHECK(resp.status == 200 && resp.body, "GET /vm/config: %u", resp.status);
	cJSON_Delete(fz_check_body(&resp));
	if (c->fake.cfg.has_boot_source) {
		rc = vm_config_parse(resp.body, resp.len, &again, err);
		FUZZ_CHECK(rc == 0, "GET /vm/config does not load as a config file: %s: %s", err, resp.body);
		FUZZ_CHECK(fz_machine_eq(&again.machine, &c->fake.cfg.machine) && fz_drives_eq(&again, &c->fake.cfg),
			   "GET /vm/config loads as a different config: %s", resp.body);
		vm_config_free(&again);
	}
	api_response_free(&resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_ctx *c = calloc(1, sizeof(*c));
	const uint8_t *p = data, *end = data + size;
	struct fz_req r;

	FUZZ_CHECK(c, "out of memory");
	api_fake_init(&c->fake);
	c->d = (struct api_dispatcher){ .ops = &api_fake_ops, .opaque = &c->fake, .counters = &c->counters };

	for (unsigned int i = 0; i < FZ_MAX_REQUESTS && p < end; i++) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		fz_decode(p, n, &r);
		fz_one(c, &r);
		p += n + (nl ? 1 : 0);
	}
	fz_check_counters(c);
	fz_check_vm_config(c);
	api_fake_free(&c->fake);
	free(c);
	return 0;
}
