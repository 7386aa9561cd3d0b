/*
 * json_doc_parse: cJSON plus the checks cJSON leaves out (see json_fields.h).
 *
 * cJSON does the grammar; afterwards two linear passes over the accepted text
 * refuse what cJSON lets through, and tell integer literals from "1.0" / "1e2"
 * (cJSON keeps only the double).  Both passes run only on text cJSON accepted,
 * so strings are known to be terminated and numbers to be at most 63 bytes.
 */
#include "vmm/config/json_fields.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static bool json_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The characters cJSON's parse_number consumes. */
static bool json_is_number_char(char c)
{
	return (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.' || c == 'e' || c == 'E';
}

static int json_pos_err(const char *text, size_t off, const char *why, char err[JSON_ERR_MAX])
{
	size_t i, line = 1, col = 1;

	for (i = 0; i < off; i++) {
		if (text[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	snprintf(err, JSON_ERR_MAX, "invalid JSON at line %zu, column %zu%s%s", line, col,
		 why ? ": " : "", why ? why : "");
	return -EINVAL;
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong forms,
 * no surrogates, nothing above U+10FFFF), or 0 when it is not one. */
static size_t json_utf8_seq(const unsigned char *p, size_t left)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (left < n || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/*
 * JSON text is UTF-8 (RFC 8259); anything else would come back out of GET
 * /vm/config as invalid JSON.  Raw control characters are not JSON (cJSON skips them as blanks and keeps
 * them in strings), and "\u0000" would make cJSON cut the C string short.
 */
static int json_text_check(const char *text, size_t len, char err[JSON_ERR_MAX])
{
	bool in_str = false;
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = text[i];

		if (c >= 0x80) {
			size_t n = json_utf8_seq((const unsigned char *)text + i, len - i);

			if (!n)
				return json_pos_err(text, i, "invalid UTF-8", err);
			i += n - 1;
			continue;
		}
		if (!in_str) {
			if (c == '"')
				in_str = true;
			else if (c < 0x20 && !json_is_space(c))
				return json_pos_err(text, i, "control character", err);
		} else if (c == '"') {
			in_str = false;
		} else if (c < 0x20) {
			return json_pos_err(text, i, "control character in a string", err);
		} else if (c == '\\') {
			if (len - i > 5 && !memcmp(text + i + 1, "u0000", 5))
				return json_pos_err(text, i, "\\u0000 in a string is not supported", err);
			i++; /* the escaped character cannot end the string */
		}
	}
	return 0;
}

/* A cursor over the accepted text that yields number literals in document order. */
struct json_scan {
	const char *text;
	size_t len, pos;
};

static bool json_scan_number(struct json_scan *s, bool *is_int)
{
	while (s->pos < s->len) {
		char c = s->text[s->pos];

		if (c == '"') {
			for (s->pos++; s->pos < s->len && s->text[s->pos] != '"'; s->pos++)
				if (s->text[s->pos] == '\\')
					s->pos++;
			s->pos++;
		} else if (c == '-' || (c >= '0' && c <= '9')) {
			*is_int = true;
			for (; s->pos < s->len && json_is_number_char(s->text[s->pos]); s->pos++)
				if (strchr("+.eE", s->text[s->pos]))
					*is_int = false;
			return true;
		} else {
			s->pos++;
		}
	}
	return false;
}

/* cJSON keeps children in document order, so a depth-first walk meets the
 * numbers in the order the scan finds them.  Depth is bounded by cJSON's
 * nesting limit (CJSON_NESTING_LIMIT). */
static int json_mark_numbers(cJSON *item, struct json_scan *s)
{
	bool is_int;

	for (; item; item = item->next) {
		if (cJSON_IsNumber(item)) {
			if (!json_scan_number(s, &is_int))
				return -EINVAL;
			if (!is_int)
				item->type |= JSON_NOT_INT_LITERAL;
		} else if (item->child && json_mark_numbers(item->child, s)) {
			return -EINVAL;
		}
	}
	return 0;
}

int json_doc_parse(const char *text, size_t len, cJSON **root, char err[JSON_ERR_MAX])
{
	struct json_scan scan = { .text = text, .len = len };
	const char *end = NULL;
	size_t i, used;
	cJSON *doc;
	bool is_int;
	int r;

	*root = NULL;
	for (i = 0; i < len && json_is_space(text[i]); i++)
		;
	if (i == len) {
		snprintf(err, JSON_ERR_MAX, "invalid JSON: empty document");
		return -EINVAL;
	}
	/* Never require a NUL: cJSON 1.7.15 then fails every length-bounded buffer
	 * that does not include one.  Trailing bytes are checked below instead. */
	doc = cJSON_ParseWithLengthOpts(text, len, &end, false);
	if (!doc)
		return json_pos_err(text, end ? (size_t)(end - text) : 0, NULL, err);

	used = (size_t)(end - text);
	for (i = used; i < len && json_is_space(text[i]); i++)
		;
	if (i < len) {
		r = json_pos_err(text, i, "unexpected data after the document", err);
		goto err_delete;
	}
	r = json_text_check(text, used, err);
	if (r)
		goto err_delete;
	scan.len = used;
	if (json_mark_numbers(doc, &scan) || json_scan_number(&scan, &is_int)) {
		/* Only if the scan and cJSON disagree about what a number is. */
		snprintf(err, JSON_ERR_MAX, "invalid JSON: unrecognised number syntax");
		r = -EINVAL;
		goto err_delete;
	}
	*root = doc;
	return 0;

err_delete:
	cJSON_Delete(doc);
	return r;
}
