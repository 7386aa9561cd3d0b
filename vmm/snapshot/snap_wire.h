/*
 * Little-endian byte encoding for the vmstate file: a growing writer and a
 * bounded reader.  The reader never reads past its end: a get that does not
 * fit sets a sticky error and yields zeros, so a decoder checks once at the
 * end of a section (snap_rd_ok) instead of after every field.
 */
#ifndef KILN_SNAP_WIRE_H
#define KILN_SNAP_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/compiler.h"

struct snap_wr {
	uint8_t *buf;   /* heap, owned; NULL until the first put */
	size_t len;
	size_t cap;
	size_t limit;   /* the writer refuses to grow past this */
	int err;        /* sticky: -ENOMEM or -E2BIG */
};

void snap_wr_init(struct snap_wr *w, size_t limit);
void snap_wr_free(struct snap_wr *w);
void snap_wr_bytes(struct snap_wr *w, const void *p, size_t n);
void snap_wr_u8(struct snap_wr *w, uint8_t v);
void snap_wr_u16(struct snap_wr *w, uint16_t v);
void snap_wr_u32(struct snap_wr *w, uint32_t v);
void snap_wr_u64(struct snap_wr *w, uint64_t v);
/* A string as le16 length + bytes (no NUL); max is the longest allowed. */
void snap_wr_str(struct snap_wr *w, const char *s, size_t max);
/* Overwrites 4 bytes at off (a length written before its contents). */
void snap_wr_patch_u32(struct snap_wr *w, size_t off, uint32_t v);

struct snap_rd {
	const uint8_t *p;
	size_t len;
	size_t off;
	bool overrun; /* some get asked for more than was left */
};

static inline struct snap_rd snap_rd_init(const void *p, size_t len)
{
	return (struct snap_rd){ .p = p, .len = len };
}

static inline size_t snap_rd_left(const struct snap_rd *r)
{
	return r->len - r->off;
}

/* Every get so far fit, and (when whole) nothing is left over. */
static inline bool snap_rd_ok(const struct snap_rd *r, bool whole)
{
	return !r->overrun && (!whole || r->off == r->len);
}

void snap_rd_bytes(struct snap_rd *r, void *out, size_t n);
uint8_t snap_rd_u8(struct snap_rd *r);
uint16_t snap_rd_u16(struct snap_rd *r);
uint32_t snap_rd_u32(struct snap_rd *r);
uint64_t snap_rd_u64(struct snap_rd *r);
/* Reads a snap_wr_str string into out[size]; -EINVAL when longer than
 * size - 1, holding a NUL byte, or past the end (out is then ""). */
int snap_rd_str(struct snap_rd *r, char *out, size_t size) __must_check;

#endif
