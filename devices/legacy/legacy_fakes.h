/*
 * Test doubles for the legacy devices, shared by their unit tests, benchmarks
 * and fuzz targets: an IRQ sink that records every level it is driven to and
 * an output sink that keeps what the guest transmitted.  Not part of any
 * device's API.
 */
#ifndef KILN_LEGACY_FAKES_H
#define KILN_LEGACY_FAKES_H

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "devices/irq_line.h"

#define FAKE_IRQ_HISTORY 256
#define FAKE_OUT_SIZE 4096

struct fake_irq {
	int level;                        /* current level */
	unsigned int gsi;                 /* gsi of the last call */
	unsigned int nr;                  /* calls so far (history keeps the first 256) */
	int history[FAKE_IRQ_HISTORY];
};

static inline void fake_irq_set_level(void *opaque, unsigned int gsi, int level)
{
	struct fake_irq *f = opaque;

	f->gsi = gsi;
	f->level = level;
	if (f->nr < FAKE_IRQ_HISTORY)
		f->history[f->nr] = level;
	f->nr++;
}

static inline struct irq_line fake_irq_line(struct fake_irq *f, unsigned int gsi)
{
	return (struct irq_line){ .set_level = fake_irq_set_level, .opaque = f, .gsi = gsi };
}

/* Rising edges (a 1 after a 0 or at the start) recorded so far. */
static inline unsigned int fake_irq_edges(const struct fake_irq *f)
{
	unsigned int n = 0, end = f->nr < FAKE_IRQ_HISTORY ? f->nr : FAKE_IRQ_HISTORY;

	for (unsigned int i = 0; i < end; i++)
		if (f->history[i] && (i == 0 || !f->history[i - 1]))
			n++;
	return n;
}

struct fake_out {
	uint8_t buf[FAKE_OUT_SIZE];
	size_t len;
	int fail; /* nonzero: refuse every byte with -EIO */
};

static inline ssize_t fake_out_write(void *opaque, const uint8_t *buf, size_t len)
{
	struct fake_out *o = opaque;

	if (o->fail)
		return -EIO;
	if (len > sizeof(o->buf) - o->len)
		len = sizeof(o->buf) - o->len;
	memcpy(o->buf + o->len, buf, len);
	o->len += len;
	return (ssize_t)len;
}

#endif
