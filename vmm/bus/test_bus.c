/* Unit tests for address-range dispatch. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "vmm/bus/bus.h"

struct fake_dev {
	uint64_t last_off;
	uint32_t last_len;
	uint8_t last_val;
	int reads, writes;
};

static void fake_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct fake_dev *d = opaque;
	d->reads++;
	d->last_off = off;
	d->last_len = len;
	memset(data, 0x5a, len);
}

static void fake_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct fake_dev *d = opaque;
	d->writes++;
	d->last_off = off;
	d->last_len = len;
	d->last_val = *(const uint8_t *)data;
}

static const struct bus_dev_ops fake_ops = { .read = fake_read, .write = fake_write };

Test(bus, dispatch_by_offset)
{
	struct bus bus;
	struct fake_dev a = { 0 }, b = { 0 };
	uint8_t v = 7;
	uint32_t r = 0;

	bus_init(&bus);
	cr_assert_eq(bus_insert(&bus, 0x3f8, 8, &fake_ops, &a, "a"), 0);
	cr_assert_eq(bus_insert(&bus, 0x60, 5, &fake_ops, &b, "b"), 0);
	cr_assert_eq(bus_write(&bus, 0x3fb, &v, 1), 0);
	cr_assert_eq(a.writes, 1);
	cr_assert_eq(a.last_off, 3);
	cr_assert_eq(a.last_val, 7);
	cr_assert_eq(bus_read(&bus, 0x64, &r, 1), 0);
	cr_assert_eq(b.last_off, 4);
	cr_assert_eq(r & 0xff, 0x5a);
}

Test(bus, unclaimed_reads_all_ones)
{
	struct bus bus;
	struct fake_dev a = { 0 };
	uint32_t r = 0;

	bus_init(&bus);
	cr_assert_eq(bus_insert(&bus, 0x1000, 0x10, &fake_ops, &a, "a"), 0);
	cr_assert_eq(bus_read(&bus, 0x2000, &r, 4), -ENOENT);
	cr_assert_eq(r, 0xffffffff);
	cr_assert_eq(bus_read(&bus, 0x100e, &r, 4), -ENOENT, "straddles the end");
	cr_assert_eq(a.reads, 0);
	cr_assert_eq(bus_write(&bus, 0xfff, &r, 2), -ENOENT, "straddles the start");
	cr_assert_eq(a.writes, 0);
}

Test(bus, insert_refuses_bad_ranges)
{
	struct bus bus;
	struct fake_dev a = { 0 };

	bus_init(&bus);
	cr_assert_eq(bus_insert(&bus, 0x1000, 0x100, &fake_ops, &a, "a"), 0);
	cr_assert_eq(bus_insert(&bus, 0x10ff, 1, &fake_ops, &a, "overlap end"), -EINVAL);
	cr_assert_eq(bus_insert(&bus, 0xf00, 0x101, &fake_ops, &a, "overlap start"), -EINVAL);
	cr_assert_eq(bus_insert(&bus, 0x2000, 0, &fake_ops, &a, "empty"), -EINVAL);
	cr_assert_eq(bus_insert(&bus, UINT64_MAX, 2, &fake_ops, &a, "wraps"), -EINVAL);
	cr_assert_eq(bus_insert(&bus, 0x3000, 1, NULL, &a, "no ops"), -EINVAL);
	for (unsigned int i = 1; i < BUS_MAX_DEVICES; i++)
		cr_assert_eq(bus_insert(&bus, 0x10000 + i * 16, 16, &fake_ops, &a, "x"), 0);
	cr_assert_eq(bus_insert(&bus, 0x90000, 16, &fake_ops, &a, "full"), -ENOSPC);
	/* Binary search finds every one of a full table. */
	for (unsigned int i = 1; i < BUS_MAX_DEVICES; i++)
		cr_assert_not_null(bus_find(&bus, 0x10000 + i * 16 + 15, 1));
}
