/*
 * A thin, strict layer over cJSON shared by the config file and the REST API
 * handlers, so both accept the same documents and give the same one-line,
 * field-named errors ("machine-config.vcpu_count: must be between 1 and 32, got 64").
 *
 * json_doc_parse is stricter than cJSON alone: it refuses trailing bytes, raw
 * control characters, "\u0000" in strings (cJSON would silently cut the string
 * there, so "/a\u0000/../b" would become "/a"), and it marks number literals
 * written with a fraction or exponent, so json_get_u64 can refuse 1.0 and 1e2
 * like Firecracker's serde does.  Trees built any other way lack that mark and
 * only get the value checks (1.5, negative, too large).
 *
 * Getters return 1 when the field is present and *out was written, 0 when it is
 * absent (a JSON null counts as absent, like serde's Option) and not required,
 * and -EINVAL with a message in err otherwise; *out is only written on 1.
 * Any text copied from the document into a message is truncated and has
 * non-printable bytes replaced, so a message is always one safe line.
 */
#ifndef KILN_JSON_FIELDS_H
#define KILN_JSON_FIELDS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/compiler.h"

#define JSON_ERR_MAX 256
/* Largest integer a JSON number holds exactly (a double has 53 bits of mantissa). */
#define JSON_INT_MAX ((1ULL << 53) - 1)
/* json_check_fields finds duplicates among the first 64 allowed names (a bit mask). */
#define JSON_FIELDS_MAX 64
/*
 * json_doc_parse sets this bit in the type of a number written with a fraction
 * or exponent.  cJSON tests types through the 0xff mask and only knows the
 * reference (256) and const-string (512) flags, so it ignores the bit.
 */
#define JSON_NOT_INT_LITERAL (1 << 12)

/* Parses len bytes of text (NUL not needed) into *root; the caller cJSON_Deletes it.
 * -EINVAL with "invalid JSON at line L, column C" (or "empty document"), -ENOMEM. */
int json_doc_parse(const char *text, size_t len, cJSON **root, char err[JSON_ERR_MAX]) __must_check;

/* Refuses a non-object, and any member not in allowed (NULL-terminated) or given twice. */
int json_check_fields(const cJSON *obj, const char *const allowed[], const char *section,
		      char err[JSON_ERR_MAX]) __must_check;

/* An exact non-negative integer in [min, max] (max is capped at JSON_INT_MAX). */
int json_get_u64(const cJSON *obj, const char *name, const char *section, bool required,
		 uint64_t min, uint64_t max, uint64_t *out, char err[JSON_ERR_MAX]) __must_check;

int json_get_bool(const cJSON *obj, const char *name, const char *section, bool required,
		  bool *out, char err[JSON_ERR_MAX]) __must_check;

/* A string of at most maxlen bytes (without the NUL); *out points into the tree. */
int json_get_string(const cJSON *obj, const char *name, const char *section, bool required,
		    size_t maxlen, const char **out, char err[JSON_ERR_MAX]) __must_check;

/* A file path: a non-empty string of at most size - 1 bytes, copied to out
 * (left alone when absent).  1 present, 0 absent, or -EINVAL. */
int json_get_path(const cJSON *obj, const char *name, const char *section, bool required, char *out,
		  size_t size, char err[JSON_ERR_MAX]) __must_check;

/* A string equal to one of names (NULL-terminated); *out is its index. */
int json_get_enum(const cJSON *obj, const char *name, const char *section, bool required,
		  const char *const names[], unsigned int *out, char err[JSON_ERR_MAX]) __must_check;

/* "a string", "an object", ...: for "expected X, got Y" messages. */
const char *json_type_name(const cJSON *item);

/* Writes "<section>.<name>: <message>" (either part may be NULL) to err. */
void json_field_err(char err[JSON_ERR_MAX], const char *section, const char *name,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Copies untrusted text into dst for a message: at most 40 bytes, non-printable
 * bytes as '?', "..." when cut.  Returns dst. */
#define JSON_QUOTE_MAX 48
const char *json_quote(char dst[JSON_QUOTE_MAX], const char *src);

#endif
