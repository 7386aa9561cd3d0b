/* Unit tests for the guest-memory accessors: every way an address can be wrong. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "vmm/mem/gmem.h"

static uint8_t low[0x1000], high[0x2000];
static struct gmem mem;

static void setup(void)
{
	gmem_init(&mem);
	memset(low, 0, sizeof(low));
	memset(high, 0, sizeof(high));
	cr_assert_eq(gmem_add_region(&mem, 0x10000, sizeof(high), high), 0);
	cr_assert_eq(gmem_add_region(&mem, 0, sizeof(low), low), 0);
}

TestSuite(gmem, .init = setup);

Test(gmem, regions_sorted_and_sized)
{
	cr_assert_eq(mem.nr_regions, 2);
	cr_assert_eq(mem.regions[0].gpa, 0);
	cr_assert_eq(gmem_end(&mem), 0x12000);
	cr_assert_eq(gmem_total(&mem), 0x3000);
}

Test(gmem, add_refuses_bad_regions)
{
	uint8_t buf[16];
	cr_assert_eq(gmem_add_region(&mem, 0x800, 0x1000, buf), -EINVAL, "overlap");
	cr_assert_eq(gmem_add_region(&mem, 0x20000, 0, buf), -EINVAL, "zero size");
	cr_assert_eq(gmem_add_region(&mem, UINT64_MAX - 4, 16, buf), -EINVAL, "wraps");
	cr_assert_eq(gmem_add_region(&mem, 0x20000, 16, NULL), -EINVAL, "no host");
	for (int i = 0; i < GMEM_MAX_REGIONS - 2; i++)
		cr_assert_eq(gmem_add_region(&mem, 0x100000 + i * 0x100, 16, buf), 0);
	cr_assert_eq(gmem_add_region(&mem, 0x200000, 16, buf), -ENOSPC);
}

Test(gmem, read_write_roundtrip)
{
	uint32_t v = 0;
	cr_assert_eq(gmem_write_le32(&mem, 0x10ffc, 0xdeadbeef), 0);
	cr_assert_eq(gmem_read_le32(&mem, 0x10ffc, &v), 0);
	cr_assert_eq(v, 0xdeadbeef);
	cr_assert_eq(high[0xffc], 0xef);
}

Test(gmem, refuses_out_of_range_and_straddling)
{
	uint8_t buf[32] = { 0 };
	void *p;
	cr_assert_eq(gmem_read(&mem, 0x1000, buf, 1), -EFAULT, "in the hole");
	cr_assert_eq(gmem_read(&mem, 0xff0, buf, 32), -EFAULT, "straddles region end");
	cr_assert_eq(gmem_write(&mem, 0x11ff0, buf, 32), -EFAULT, "straddles last end");
	cr_assert_eq(gmem_write(&mem, 0x12000, buf, 1), -EFAULT, "one past the end");
	cr_assert_eq(gmem_slice(&mem, UINT64_MAX, 2, &p), -EFAULT, "gpa + len wraps");
	cr_assert_eq(gmem_slice(&mem, 0x10000, 0, &p), -EFAULT, "zero-length slice");
	cr_assert_eq(gmem_fill(&mem, 0x10000, 0xaa, 0x2001), -EFAULT, "longer than region");
	cr_assert_eq(high[0], 0, "failed fill touched nothing");
}

Test(gmem, slice_points_into_region)
{
	void *p;
	cr_assert_eq(gmem_slice(&mem, 0x11000, 0x1000, &p), 0);
	cr_assert_eq(p, high + 0x1000);
	cr_assert(gmem_range_ok(&mem, 0x11fff, 1));
	cr_assert_not(gmem_range_ok(&mem, 0x11fff, 2));
}
