/* Command-line lookup: tokens are separated by spaces or tabs, "key=value". */
#include "guest-images/testguest/ktg.h"

static int cmdline_space(char c)
{
	return c == ' ' || c == '\t';
}

/* 1 when key is present and its value is exactly want. */
int cmdline_is(const char *cmdline, const char *key, const char *want)
{
	const char *val;
	size_t len;

	return cmdline_get(cmdline, key, &val, &len) && len == strlen(want) &&
	       !memcmp(val, want, len);
}

/*
 * Iterates over every token "key=value" in order: starts at *pos (the
 * command line itself the first time), and returns 1 with the value, leaving
 * *pos after the token, or 0 when there are no more.
 */
int cmdline_next(const char **pos, const char *key, const char **val, size_t *len)
{
	size_t klen = strlen(key);
	const char *p = *pos;

	while (*p) {
		const char *tok;
		size_t tlen;

		while (cmdline_space(*p))
			p++;
		tok = p;
		while (*p && !cmdline_space(*p))
			p++;
		tlen = (size_t)(p - tok);
		if (tlen > klen && tok[klen] == '=' && !memcmp(tok, key, klen)) {
			*val = tok + klen + 1;
			*len = tlen - klen - 1;
			*pos = p;
			return 1;
		}
	}
	*pos = p;
	return 0;
}

/*
 * Finds the last token "key=value"; *val and *len receive the value (not
 * NUL-terminated).  Returns 1 when found, 0 otherwise.
 */
int cmdline_get(const char *cmdline, const char *key, const char **val, size_t *len)
{
	const char *pos = cmdline, *v;
	size_t l;
	int found = 0;

	while (cmdline_next(&pos, key, &v, &l)) {
		*val = v;
		*len = l;
		found = 1;
	}
	return found;
}
