/*
 * Address-range dispatch: maps [base, base + len) ranges of one address space
 * (port I/O or MMIO) to devices.  Each VM owns one bus per address space.
 *
 * Ranges are inserted while the VM is built and the bus is read-only once the
 * vCPUs run, so dispatch takes no lock; each device serialises its own state.
 * Insertion refuses zero-length, wrapping and overlapping ranges and a full table.
 */
#ifndef KILN_BUS_H
#define KILN_BUS_H

#include <stdint.h>

#include "vmm/compiler.h"

#define BUS_MAX_DEVICES 64

/* A device's register file.  offset is relative to the range's base; len is the
 * access width (1, 2, 4 or 8 from a vCPU, anything up to 8 from a fuzz target).
 * A read must fill all len bytes of data. */
struct bus_dev_ops {
	void (*read)(void *opaque, uint64_t offset, void *data, uint32_t len);
	void (*write)(void *opaque, uint64_t offset, const void *data, uint32_t len);
};

struct bus_range {
	uint64_t base;
	uint64_t len;
	const struct bus_dev_ops *ops;
	void *opaque;
	const char *name; /* for logs and metrics */
};

struct bus {
	struct bus_range ranges[BUS_MAX_DEVICES]; /* sorted by base */
	unsigned int nr_ranges;
};

void bus_init(struct bus *bus);

/* 0, -EINVAL (zero length, wrap, overlap, NULL ops) or -ENOSPC. */
int bus_insert(struct bus *bus, uint64_t base, uint64_t len, const struct bus_dev_ops *ops,
	       void *opaque, const char *name) __must_check;

/* The range holding [addr, addr + len), or NULL.  An access that straddles the
 * end of a range belongs to no device. */
const struct bus_range *bus_find(const struct bus *bus, uint64_t addr, uint32_t len);

/* Dispatch an access.  0, or -ENOENT when no device claims it (reads then
 * return all ones, as on real hardware with nothing decoding the address). */
int bus_read(const struct bus *bus, uint64_t addr, void *data, uint32_t len);
int bus_write(const struct bus *bus, uint64_t addr, const void *data, uint32_t len);

#endif
