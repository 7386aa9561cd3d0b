/*
 * A user's filter file (--seccomp-filter FILE): a subset of Firecracker's
 * JSON filter shape, one object per thread role, all three required:
 *
 *   { "vmm":  { "default_action": "trap", "filter_action": "allow",
 *               "filter": [ { "syscall": "read" },
 *                           { "syscall": "ioctl", "comment": "KVM_RUN",
 *                             "args": [ { "index": 1, "type": "dword", "op": "eq",
 *                                         "val": 44672 } ] } ] },
 *     "api":  { ... }, "vcpu": { ... } }
 *
 * default_action: "trap" (report and exit 148), "kill_process" or "log";
 * filter_action: "allow" (the only one: these are allow-lists).  An argument
 * check: index 0..5, type "dword" (low 32 bits) or "qword", op one of "eq",
 * "ne", "lt", "le", "gt", "ge" or {"masked_eq": MASK}, val a non-negative
 * integer.  "comment" is allowed anywhere a rule or check is.  Any other key,
 * a wrong type, an unknown role or syscall name is refused with a message
 * naming the place ("vcpu.filter[3].args[0].op: ...").
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/seccomp/seccomp_priv.h"

/* A filter file is a few KiB; refuse anything absurd before reading it. */
#define SECCOMP_FILE_MAX (1024 * 1024)
#define SECCOMP_FILE_RULES_MAX 4096

static int file_err(char err[SECCOMP_ERR_MAX], const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int file_err(char err[SECCOMP_ERR_MAX], const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, SECCOMP_ERR_MAX, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Refuses members of obj not in allowed (NULL-terminated). */
static int only_keys(const cJSON *obj, const char *const allowed[], const char *where,
		     char err[SECCOMP_ERR_MAX])
{
	const cJSON *m;

	cJSON_ArrayForEach(m, obj) {
		bool ok = false;

		for (unsigned int i = 0; allowed[i] && !ok; i++)
			ok = !strcmp(m->string, allowed[i]);
		if (!ok)
			return file_err(err, "%s: unknown key '%.40s'", where, m->string);
	}
	return 0;
}

/* A non-negative integer a double holds exactly. */
static int get_uint(const cJSON *item, uint64_t max, const char *where, uint64_t *out,
		    char err[SECCOMP_ERR_MAX])
{
	double v;

	if (!cJSON_IsNumber(item))
		return file_err(err, "%s: must be a number", where);
	v = item->valuedouble;
	if (!(v >= 0) || v != floor(v) || v > 9007199254740991.0 || (uint64_t)v > max)
		return file_err(err, "%s: must be an integer from 0 to %llu", where,
				(unsigned long long)max);
	*out = (uint64_t)v;
	return 0;
}

static int parse_arg(const cJSON *a, const char *where, struct seccomp_arg *out,
		     char err[SECCOMP_ERR_MAX])
{
	static const char *const keys[] = { "index", "type", "op", "val", "comment", NULL };
	static const char *const ops[] = { "eq", "ne", "lt", "le", "gt", "ge", NULL };
	const cJSON *idx = cJSON_GetObjectItemCaseSensitive(a, "index");
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(a, "type");
	const cJSON *op = cJSON_GetObjectItemCaseSensitive(a, "op");
	const cJSON *val = cJSON_GetObjectItemCaseSensitive(a, "val");
	char sub[128];
	uint64_t v;
	int ret;

	if (!cJSON_IsObject(a))
		return file_err(err, "%s: must be an object", where);
	ret = only_keys(a, keys, where, err);
	if (ret)
		return ret;
	if (!idx || !type || !op || !val)
		return file_err(err, "%s: needs index, type, op and val", where);
	snprintf(sub, sizeof(sub), "%s.index", where);
	if ((ret = get_uint(idx, 5, sub, &v, err)))
		return ret;
	out->index = (uint8_t)v;
	if (!cJSON_IsString(type) ||
	    (strcmp(type->valuestring, "dword") && strcmp(type->valuestring, "qword")))
		return file_err(err, "%s.type: must be \"dword\" or \"qword\"", where);
	out->dword = !strcmp(type->valuestring, "dword");
	snprintf(sub, sizeof(sub), "%s.val", where);
	if ((ret = get_uint(val, out->dword ? 0xffffffffu : UINT64_MAX, sub, &out->value, err)))
		return ret;
	if (cJSON_IsString(op)) {
		for (unsigned int i = 0; ops[i]; i++) {
			if (!strcmp(op->valuestring, ops[i])) {
				out->op = (enum seccomp_cmp_op)i;
				return 0;
			}
		}
	} else if (cJSON_IsObject(op) && cJSON_GetArraySize(op) == 1 &&
		   cJSON_GetObjectItemCaseSensitive(op, "masked_eq")) {
		out->op = SECCOMP_CMP_MASKED_EQ;
		snprintf(sub, sizeof(sub), "%s.op.masked_eq", where);
		return get_uint(cJSON_GetObjectItemCaseSensitive(op, "masked_eq"),
				out->dword ? 0xffffffffu : UINT64_MAX, sub, &out->mask, err);
	}
	return file_err(err, "%s.op: must be \"eq\", \"ne\", \"lt\", \"le\", \"gt\", \"ge\" or "
			"{\"masked_eq\": MASK}", where);
}

static int parse_rule(const cJSON *r, const char *where, struct seccomp_rule *out,
		      char err[SECCOMP_ERR_MAX])
{
	static const char *const keys[] = { "syscall", "args", "comment", NULL };
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(r, "syscall");
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(r, "args");
	const cJSON *a;
	int ret;

	if (!cJSON_IsObject(r))
		return file_err(err, "%s: must be an object", where);
	if ((ret = only_keys(r, keys, where, err)))
		return ret;
	if (!cJSON_IsString(name) || !name->valuestring[0] || strlen(name->valuestring) > 64)
		return file_err(err, "%s.syscall: must be a system call name", where);
	out->name = name->valuestring; /* points into the tree, alive while building */
	out->nargs = 0;
	if (!args)
		return 0;
	if (!cJSON_IsArray(args) || cJSON_GetArraySize(args) > SECCOMP_RULE_ARGS_MAX)
		return file_err(err, "%s.args: must be an array of at most %d checks", where,
				SECCOMP_RULE_ARGS_MAX);
	cJSON_ArrayForEach(a, args) {
		char sub[128];

		snprintf(sub, sizeof(sub), "%s.args[%u]", where, out->nargs);
		if ((ret = parse_arg(a, sub, &out->args[out->nargs], err)))
			return ret;
		out->nargs++;
	}
	return 0;
}

static int parse_role(const cJSON *obj, const char *role, struct seccomp_list *out,
		      char err[SECCOMP_ERR_MAX])
{
	static const char *const keys[] = { "default_action", "filter_action", "filter", "comment", NULL };
	static const char *const defaults[] = { "trap", "kill_process", "log", NULL };
	const cJSON *def = cJSON_GetObjectItemCaseSensitive(obj, "default_action");
	const cJSON *fa = cJSON_GetObjectItemCaseSensitive(obj, "filter_action");
	const cJSON *filter = cJSON_GetObjectItemCaseSensitive(obj, "filter");
	struct seccomp_rule *rules;
	const cJSON *r;
	unsigned int n = 0;
	int ret;

	if (!cJSON_IsObject(obj))
		return file_err(err, "%s: must be an object", role);
	if ((ret = only_keys(obj, keys, role, err)))
		return ret;
	out->on_violation = SECCOMP_DEFAULT_TRAP;
	if (def) {
		bool ok = false;

		for (unsigned int i = 0; cJSON_IsString(def) && defaults[i] && !ok; i++) {
			if (!strcmp(def->valuestring, defaults[i])) {
				out->on_violation = (enum seccomp_default)i;
				ok = true;
			}
		}
		if (!ok)
			return file_err(err, "%s.default_action: must be \"trap\", \"kill_process\" or \"log\"",
					role);
	}
	if (fa && (!cJSON_IsString(fa) || strcmp(fa->valuestring, "allow")))
		return file_err(err, "%s.filter_action: must be \"allow\" (the lists are allow-lists)", role);
	if (!cJSON_IsArray(filter))
		return file_err(err, "%s.filter: must be an array of rules", role);
	if (cJSON_GetArraySize(filter) > SECCOMP_FILE_RULES_MAX)
		return file_err(err, "%s.filter: more than %d rules", role, SECCOMP_FILE_RULES_MAX);
	rules = calloc((size_t)cJSON_GetArraySize(filter) + 1, sizeof(*rules));
	if (!rules)
		return -ENOMEM;
	cJSON_ArrayForEach(r, filter) {
		char where[64];

		snprintf(where, sizeof(where), "%s.filter[%u]", role, n);
		if ((ret = parse_rule(r, where, &rules[n], err))) {
			free(rules);
			return ret;
		}
		n++;
	}
	out->rules = rules;
	out->nr_rules = n;
	return 0;
}

int seccomp_policy_parse(struct seccomp_policy *pol, const char *json, size_t len,
			 char err[SECCOMP_ERR_MAX])
{
	static const char *const roles[] = { "api", "vmm", "vcpu", NULL };
	struct seccomp_list lists[SECCOMP_ROLE_NR] = { 0 };
	cJSON *root = cJSON_ParseWithLength(json, len);
	int ret = 0;

	memset(pol, 0, sizeof(*pol));
	if (!root)
		return file_err(err, "not valid JSON");
	if (!cJSON_IsObject(root)) {
		ret = file_err(err, "must be an object with \"api\", \"vmm\" and \"vcpu\"");
		goto out;
	}
	if ((ret = only_keys(root, roles, "filter file", err)))
		goto out;
	for (int r = 0; r < SECCOMP_ROLE_NR && !ret; r++) {
		const char *name = seccomp_role_name((enum seccomp_role)r);
		const cJSON *obj = cJSON_GetObjectItemCaseSensitive(root, name);

		if (!obj)
			ret = file_err(err, "%s: missing (every thread role needs its list)", name);
		else
			ret = parse_role(obj, name, &lists[r], err);
	}
	if (!ret)
		ret = seccomp_policy_build(pol, lists, err);
out:
	for (int r = 0; r < SECCOMP_ROLE_NR; r++)
		free((void *)lists[r].rules);
	cJSON_Delete(root);
	return ret;
}

int seccomp_policy_load_file(struct seccomp_policy *pol, const char *path, char err[SECCOMP_ERR_MAX])
{
	char inner[SECCOMP_ERR_MAX];
	struct stat st;
	char *text = NULL;
	ssize_t got;
	int fd, ret;

	memset(pol, 0, sizeof(*pol));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		ret = -errno;
		snprintf(err, SECCOMP_ERR_MAX, "%s: %s", path, strerror(-ret));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > SECCOMP_FILE_MAX) {
		snprintf(err, SECCOMP_ERR_MAX, "%s: must be a regular file of at most %d bytes", path,
			 SECCOMP_FILE_MAX);
		ret = -EINVAL;
		goto out;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		ret = -ENOMEM;
		snprintf(err, SECCOMP_ERR_MAX, "%s: out of memory", path);
		goto out;
	}
	got = read(fd, text, (size_t)st.st_size);
	if (got != st.st_size) {
		ret = got < 0 ? -errno : -EIO;
		snprintf(err, SECCOMP_ERR_MAX, "%s: short read", path);
		goto out;
	}
	ret = seccomp_policy_parse(pol, text, (size_t)got, inner);
	if (ret)
		snprintf(err, SECCOMP_ERR_MAX, "%s: %s", path, inner);
out:
	free(text);
	if (fd >= 0)
		close(fd);
	return ret;
}
