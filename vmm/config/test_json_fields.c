/* Unit tests for the strict JSON layer: the parser's extra checks and every getter's refusals. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmm/config/json_fields.h"

static cJSON *doc_parse(const char *s)
{
	char err[JSON_ERR_MAX] = "";
	cJSON *d = NULL;

	cr_assert_eq(json_doc_parse(s, strlen(s), &d, err), 0, "%s: %s", s, err);
	cr_assert_not_null(d);
	return d;
}

static void parse_fails_len(const char *s, size_t len, const char *want)
{
	char err[JSON_ERR_MAX] = "";
	cJSON *d = (cJSON *)&err;

	cr_assert_eq(json_doc_parse(s, len, &d, err), -EINVAL, "accepted '%s'", s);
	cr_assert_null(d);
	cr_assert(strstr(err, want), "error '%s' lacks '%s'", err, want);
	cr_assert(!strchr(err, '\n'), "multi-line error '%s'", err);
}

static void parse_fails(const char *s, const char *want)
{
	parse_fails_len(s, strlen(s), want);
}

Test(json_parse, accepts_valid_documents)
{
	cJSON *d = doc_parse(" {\"a\": [1, 2.5, {\"b\": null}], \"c\": \"x\\\\u0000\"}\r\n\t");
	cr_assert(cJSON_IsObject(d));
	/* An escaped backslash followed by "u0000" is ordinary text. */
	cr_assert_str_eq(cJSON_GetObjectItem(d, "c")->valuestring, "x\\u0000");
	cJSON_Delete(d);
	cJSON_Delete(doc_parse("[]"));
	cJSON_Delete(doc_parse("7"));
}

Test(json_parse, utf8_only)
{
	/* Well-formed multi-byte text is fine: é, €, U+1F600. */
	cJSON_Delete(doc_parse("{\"a\": \"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}"));
	parse_fails("{\"a\": \"\xff\"}", "invalid UTF-8");              /* never valid */
	parse_fails("{\"a\": \"\xc0\xaf\"}", "invalid UTF-8");          /* overlong '/' */
	parse_fails("{\"a\": \"\xed\xa0\x80\"}", "invalid UTF-8");     /* a surrogate */
	parse_fails("{\"a\": \"\xf4\x90\x80\x80\"}", "invalid UTF-8"); /* above U+10FFFF */
	parse_fails("{\"a\": \"\xe2\x82\"}", "invalid UTF-8");          /* truncated */
	parse_fails("{\"\x80\": 1}", "invalid UTF-8");                     /* in a key */
}

Test(json_parse, reads_only_len_bytes)
{
	const char buf[] = { '{', '"', 'a', '"', ':', '1', '}', 'X', 'Y' };
	char err[JSON_ERR_MAX];
	cJSON *d;

	cr_assert_eq(json_doc_parse(buf, 7, &d, err), 0, "%s", err);
	cJSON_Delete(d);
	parse_fails_len(buf, sizeof(buf), "unexpected data after the document");
	parse_fails_len(buf, 6, "invalid JSON");
}

Test(json_parse, rejects_empty_input)
{
	parse_fails("", "empty document");
	parse_fails(" \n\t ", "empty document");
	parse_fails_len(NULL, 0, "empty document");
}

Test(json_parse, rejects_truncated_documents)
{
	parse_fails("{\"a\":", "invalid JSON at line 1");
	parse_fails("{\"a\": 1", "invalid JSON");
	parse_fails("[1, 2", "invalid JSON");
	parse_fails("{\"a\": \"unterminated", "invalid JSON");
	parse_fails("{\"a\": tru", "invalid JSON");
}

Test(json_parse, rejects_trailing_garbage)
{
	parse_fails("{} x", "line 1, column 4: unexpected data after the document");
	parse_fails("{}{}", "unexpected data");
	parse_fails("1 2", "unexpected data");
	parse_fails_len("{}\0", 3, "unexpected data");
}

Test(json_parse, rejects_non_json_syntax)
{
	parse_fails("{\"a\": 1,}", "invalid JSON");
	parse_fails("{'a': 1}", "invalid JSON");
	parse_fails("{\"a\": +1}", "invalid JSON");
	parse_fails("{\"a\": .5}", "invalid JSON");
	parse_fails("{\"a\": 0x10}", "invalid JSON");
	parse_fails("{\"a\": NaN}", "invalid JSON");
	parse_fails("{\"a\" 1}", "invalid JSON");
}

Test(json_parse, reports_line_and_column)
{
	parse_fails("{\n  \"a\": 1,\n  \"b\": ]\n}", "invalid JSON at line 3, column ");
}

Test(json_parse, rejects_nul_escapes)
{
	/* cJSON would hand back "/a" here, hiding the rest of the path. */
	parse_fails("{\"p\": \"/a\\u0000/../etc\"}", "\\u0000 in a string is not supported");
	parse_fails("{\"vcpu_count\\u0000x\": 1}", "\\u0000");
}

Test(json_parse, rejects_control_characters)
{
	parse_fails("{\"a\": \"line\nbreak\"}", "control character in a string");
	parse_fails("{\"a\": \"\x1b[31m\"}", "control character in a string");
	parse_fails("\x01{}", "line 1, column 1: control character");
	parse_fails("{\"a\":\x0b 1}", "control character");
}

Test(json_parse, survives_deep_nesting)
{
	char buf[3000];

	memset(buf, '[', sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	parse_fails(buf, "invalid JSON");
}

Test(json_parse, marks_non_integer_literals)
{
	cJSON *d = doc_parse("[1, 1.0, 1e2, -3, 2E0, \"1.0\", 0, {\"k\": [1.5, 9]}, 1E+2]");
	const bool not_int[] = { false, true, true, false, true, false, false, false, true };
	const cJSON *it;
	unsigned int i = 0;

	cJSON_ArrayForEach(it, d) {
		if (cJSON_IsNumber(it))
			cr_assert_eq(!!(it->type & JSON_NOT_INT_LITERAL), not_int[i], "element %u", i);
		i++;
	}
	it = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(d, 7), "k"), 0);
	cr_assert(it->type & JSON_NOT_INT_LITERAL);
	it = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(d, 7), "k"), 1);
	cr_assert_not(it->type & JSON_NOT_INT_LITERAL);
	cr_assert(cJSON_IsNumber(it), "the mark leaves cJSON's type tests working");
	cJSON_Delete(d);
}

static const char *const fields[] = { "a", "b", "c", NULL };

static void check_fields_fails(const char *s, const char *want)
{
	char err[JSON_ERR_MAX] = "";
	cJSON *d = doc_parse(s);

	cr_assert_eq(json_check_fields(d, fields, "sec", err), -EINVAL, "accepted %s", s);
	cr_assert_str_eq(err, want);
	cJSON_Delete(d);
}

Test(json_fields, check_fields)
{
	char err[JSON_ERR_MAX];
	cJSON *d = doc_parse("{\"a\": 1, \"c\": null}");

	cr_assert_eq(json_check_fields(d, fields, "sec", err), 0, "%s", err);
	cJSON_Delete(d);
	d = doc_parse("{}");
	cr_assert_eq(json_check_fields(d, fields, "sec", err), 0, "%s", err);
	cJSON_Delete(d);
	check_fields_fails("{\"a\": 1, \"zz\": 2}", "sec: unknown field 'zz'");
	check_fields_fails("{\"A\": 1}", "sec: unknown field 'A'");
	check_fields_fails("{\"a\": 1, \"b\": 2, \"a\": 3}", "sec: duplicate field 'a'");
	check_fields_fails("[1]", "sec: expected an object, got an array");
	check_fields_fails("\"a\"", "sec: expected an object, got a string");
	cr_assert_eq(json_check_fields(NULL, fields, "sec", err), -EINVAL);
	cr_assert_str_eq(err, "sec: expected an object, got nothing");
}

Test(json_fields, quotes_untrusted_names)
{
	char q[JSON_QUOTE_MAX];

	check_fields_fails("{\"x\\ty\\u001b\": 1}", "sec: unknown field 'x?y?'");
	check_fields_fails("{\"\": 1}", "sec: unknown field ''");
	cr_assert_str_eq(json_quote(q, "caf\xc3\xa9"), "caf??");
	cr_assert_str_eq(json_quote(q, "0123456789012345678901234567890123456789012345678"),
			 "01234567890123456789012345678901234567890123...");
	cr_assert_eq(strlen(q), JSON_QUOTE_MAX - 1);
}

/* Runs json_get_u64 on {"n": <value>} with the given bounds. */
static int get_u64(const char *value, uint64_t min, uint64_t max, uint64_t *out, char *err)
{
	char text[128];
	cJSON *d;
	int r;

	snprintf(text, sizeof(text), "{\"n\": %s}", value);
	d = doc_parse(text);
	r = json_get_u64(d, "n", "sec", true, min, max, out, err);
	cJSON_Delete(d);
	return r;
}

static void u64_fails(const char *value, const char *want)
{
	char err[JSON_ERR_MAX] = "";
	uint64_t out = 77;

	cr_assert_eq(get_u64(value, 1, 32, &out, err), -EINVAL, "accepted %s", value);
	cr_assert_str_eq(err, want, "for %s", value);
	cr_assert_eq(out, 77, "out written on error");
}

Test(json_fields, u64_accepts_exact_integers)
{
	char err[JSON_ERR_MAX];
	uint64_t out;

	cr_assert_eq(get_u64("1", 1, 32, &out, err), 1, "%s", err);
	cr_assert_eq(out, 1);
	cr_assert_eq(get_u64("32", 1, 32, &out, err), 1, "%s", err);
	cr_assert_eq(out, 32);
	cr_assert_eq(get_u64("9007199254740991", 0, UINT64_MAX, &out, err), 1, "%s", err);
	cr_assert_eq(out, JSON_INT_MAX);
	cr_assert_eq(get_u64("0", 0, 0, &out, err), 1, "%s", err);
	cr_assert_eq(out, 0);
}

Test(json_fields, u64_rejects_everything_else)
{
	u64_fails("0", "sec.n: must be between 1 and 32, got 0");
	u64_fails("33", "sec.n: must be between 1 and 32, got 33");
	u64_fails("64", "sec.n: must be between 1 and 32, got 64");
	u64_fails("-1", "sec.n: expected a non-negative integer, got -1");
	u64_fails("-0", "sec.n: expected a non-negative integer, got -0");
	u64_fails("1.5", "sec.n: expected an integer, got 1.5");
	u64_fails("-2.5", "sec.n: expected an integer, got -2.5");
	u64_fails("1.0", "sec.n: expected an integer, got a number with a fraction or exponent");
	u64_fails("1e1", "sec.n: expected an integer, got a number with a fraction or exponent");
	u64_fails("1e400", "sec.n: expected an integer, got inf");
	u64_fails("\"2\"", "sec.n: expected an integer, got a string");
	u64_fails("true", "sec.n: expected an integer, got a boolean");
	u64_fails("null", "sec.n: expected an integer, got null");
	u64_fails("[2]", "sec.n: expected an integer, got an array");
	u64_fails("{}", "sec.n: expected an integer, got an object");
}

Test(json_fields, u64_caps_at_2_pow_53)
{
	char err[JSON_ERR_MAX];
	uint64_t out = 5;

	cr_assert_eq(get_u64("9007199254740992", 0, UINT64_MAX, &out, err), -EINVAL);
	cr_assert_str_eq(err, "sec.n: must be between 0 and 9007199254740991, got 9.0072e+15");
	/* 2^53 + 1 rounds to 2^53 as a double; it must not come back as 2^53. */
	cr_assert_eq(get_u64("9007199254740993", 0, UINT64_MAX, &out, err), -EINVAL);
	cr_assert_eq(get_u64("18446744073709551616", 0, UINT64_MAX, &out, err), -EINVAL);
	cr_assert_eq(out, 5);
}

Test(json_fields, absent_null_and_required)
{
	char err[JSON_ERR_MAX] = "";
	cJSON *d = doc_parse("{\"n\": null}");
	const char *s = "keep";
	uint64_t u = 9;
	bool b = true;

	cr_assert_eq(json_get_u64(d, "n", "sec", false, 0, 10, &u, err), 0);
	cr_assert_eq(json_get_u64(d, "m", "sec", false, 0, 10, &u, err), 0);
	cr_assert_eq(json_get_bool(d, "m", "sec", false, &b, err), 0);
	cr_assert_eq(json_get_string(d, "n", "sec", false, 10, &s, err), 0);
	cr_assert_eq(u, 9);
	cr_assert(b);
	cr_assert_str_eq(s, "keep");
	cr_assert_eq(json_get_u64(d, "m", "sec", true, 0, 10, &u, err), -EINVAL);
	cr_assert_str_eq(err, "sec.m: missing required field");
	cr_assert_eq(json_get_string(d, "n", "sec", true, 10, &s, err), -EINVAL);
	cr_assert_str_eq(err, "sec.n: expected a string, got null");
	cJSON_Delete(d);
}

Test(json_fields, bool_getter)
{
	char err[JSON_ERR_MAX];
	cJSON *d = doc_parse("{\"t\": true, \"f\": false, \"s\": \"true\", \"i\": 1}");
	bool b = false;

	cr_assert_eq(json_get_bool(d, "t", "sec", true, &b, err), 1);
	cr_assert(b);
	cr_assert_eq(json_get_bool(d, "f", "sec", true, &b, err), 1);
	cr_assert_not(b);
	cr_assert_eq(json_get_bool(d, "s", "sec", true, &b, err), -EINVAL);
	cr_assert_str_eq(err, "sec.s: expected a boolean, got a string");
	cr_assert_eq(json_get_bool(d, "i", "sec", true, &b, err), -EINVAL);
	cr_assert_str_eq(err, "sec.i: expected a boolean, got a number");
	cJSON_Delete(d);
}

Test(json_fields, string_getter_checks_length)
{
	char err[JSON_ERR_MAX];
	cJSON *d = doc_parse("{\"s\": \"abcd\", \"e\": \"\", \"n\": 4}");
	const char *s = NULL;

	cr_assert_eq(json_get_string(d, "s", "sec", true, 4, &s, err), 1);
	cr_assert_str_eq(s, "abcd");
	cr_assert_eq(json_get_string(d, "s", "sec", true, 3, &s, err), -EINVAL);
	cr_assert_str_eq(err, "sec.s: too long (4 bytes, at most 3)");
	cr_assert_eq(json_get_string(d, "e", "sec", true, 0, &s, err), 1);
	cr_assert_str_eq(s, "");
	cr_assert_eq(json_get_string(d, "n", "sec", true, 4, &s, err), -EINVAL);
	cr_assert_str_eq(err, "sec.n: expected a string, got a number");
	cJSON_Delete(d);
}

Test(json_fields, enum_getter)
{
	static const char *const names[] = { "None", "2M", NULL };
	char err[JSON_ERR_MAX];
	cJSON *d = doc_parse("{\"a\": \"2M\", \"b\": \"none\", \"c\": 2, \"d\": \"\\u0007bad\"}");
	unsigned int e = 9;

	cr_assert_eq(json_get_enum(d, "a", "sec", true, names, &e, err), 1);
	cr_assert_eq(e, 1);
	cr_assert_eq(json_get_enum(d, "b", "sec", true, names, &e, err), -EINVAL);
	cr_assert_str_eq(err, "sec.b: must be one of \"None\", \"2M\"; got \"none\"");
	cr_assert_eq(json_get_enum(d, "c", "sec", true, names, &e, err), -EINVAL);
	cr_assert_str_eq(err, "sec.c: expected a string, got a number");
	cr_assert_eq(json_get_enum(d, "d", "sec", true, names, &e, err), -EINVAL);
	cr_assert_str_eq(err, "sec.d: must be one of \"None\", \"2M\"; got \"?bad\"");
	cr_assert_eq(e, 1);
	cJSON_Delete(d);
}

Test(json_fields, field_err_prefixes)
{
	char err[JSON_ERR_MAX];

	json_field_err(err, "s", "f", "x %d", 1);
	cr_assert_str_eq(err, "s.f: x 1");
	json_field_err(err, "s", NULL, "x");
	cr_assert_str_eq(err, "s: x");
	json_field_err(err, NULL, NULL, "x");
	cr_assert_str_eq(err, "x");
}

Test(json_fields, trees_built_in_code_get_value_checks_only)
{
	char err[JSON_ERR_MAX];
	cJSON *d = cJSON_CreateObject();
	uint64_t u = 0;

	cJSON_AddNumberToObject(d, "n", 3.0);
	cJSON_AddNumberToObject(d, "f", 3.5);
	cr_assert_eq(json_get_u64(d, "n", "sec", true, 0, 10, &u, err), 1, "%s", err);
	cr_assert_eq(u, 3);
	cr_assert_eq(json_get_u64(d, "f", "sec", true, 0, 10, &u, err), -EINVAL);
	cJSON_Delete(d);
}
