/* Little-endian writer and bounded reader; see snap_wire.h. */
#include "vmm/snapshot/snap_wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void snap_wr_init(struct snap_wr *w, size_t limit)
{
	memset(w, 0, sizeof(*w));
	w->limit = limit;
}

void snap_wr_free(struct snap_wr *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

static bool snap_wr_reserve(struct snap_wr *w, size_t n)
{
	size_t cap;
	uint8_t *nb;

	if (w->err)
		return false;
	if (n > w->limit || w->len > w->limit - n) {
		w->err = -E2BIG;
		return false;
	}
	if (w->len + n <= w->cap)
		return true;
	cap = w->cap ? w->cap : 4096;
	while (cap < w->len + n)
		cap *= 2;
	nb = realloc(w->buf, cap);
	if (!nb) {
		w->err = -ENOMEM;
		return false;
	}
	w->buf = nb;
	w->cap = cap;
	return true;
}

void snap_wr_bytes(struct snap_wr *w, const void *p, size_t n)
{
	if (!n || !snap_wr_reserve(w, n))
		return;
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

static void snap_wr_le(struct snap_wr *w, uint64_t v, unsigned int n)
{
	uint8_t b[8];

	for (unsigned int i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	snap_wr_bytes(w, b, n);
}

void snap_wr_u8(struct snap_wr *w, uint8_t v) { snap_wr_le(w, v, 1); }
void snap_wr_u16(struct snap_wr *w, uint16_t v) { snap_wr_le(w, v, 2); }
void snap_wr_u32(struct snap_wr *w, uint32_t v) { snap_wr_le(w, v, 4); }
void snap_wr_u64(struct snap_wr *w, uint64_t v) { snap_wr_le(w, v, 8); }

void snap_wr_str(struct snap_wr *w, const char *s, size_t max)
{
	size_t n = strnlen(s, max);

	snap_wr_u16(w, (uint16_t)n);
	snap_wr_bytes(w, s, n);
}

void snap_wr_patch_u32(struct snap_wr *w, size_t off, uint32_t v)
{
	if (w->err || off > w->len || w->len - off < 4)
		return;
	for (unsigned int i = 0; i < 4; i++)
		w->buf[off + i] = (uint8_t)(v >> (8 * i));
}

void snap_rd_bytes(struct snap_rd *r, void *out, size_t n)
{
	if (r->overrun || n > snap_rd_left(r)) {
		r->overrun = true;
		memset(out, 0, n);
		return;
	}
	memcpy(out, r->p + r->off, n);
	r->off += n;
}

static uint64_t snap_rd_le(struct snap_rd *r, unsigned int n)
{
	uint8_t b[8];
	uint64_t v = 0;

	snap_rd_bytes(r, b, n);
	for (unsigned int i = 0; i < n; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

uint8_t snap_rd_u8(struct snap_rd *r) { return (uint8_t)snap_rd_le(r, 1); }
uint16_t snap_rd_u16(struct snap_rd *r) { return (uint16_t)snap_rd_le(r, 2); }
uint32_t snap_rd_u32(struct snap_rd *r) { return (uint32_t)snap_rd_le(r, 4); }
uint64_t snap_rd_u64(struct snap_rd *r) { return snap_rd_le(r, 8); }

int snap_rd_str(struct snap_rd *r, char *out, size_t size)
{
	size_t n = snap_rd_u16(r);

	out[0] = '\0';
	if (r->overrun || n >= size || n > snap_rd_left(r)) {
		r->overrun = r->overrun || n > snap_rd_left(r);
		return -EINVAL;
	}
	snap_rd_bytes(r, out, n);
	out[n] = '\0';
	return strlen(out) == n ? 0 : -EINVAL;
}
