/* e820_build: the map follows the gmem regions and leaves the EBDA/BIOS hole out. */
#include <criterion/criterion.h>
#include <errno.h>

#include "vmm/boot/e820.h"
#include "vmm/boot/layout.h"
#include "vmm/boot/test_util.h"

static struct test_mem tm;
static struct e820_entry map[E820_MAX_ENTRIES];

static void teardown(void)
{
	test_mem_fini(&tm);
}

TestSuite(e820, .fini = teardown);

static void expect(unsigned int i, uint64_t addr, uint64_t size, uint32_t type)
{
	cr_expect_eq(map[i].addr, addr, "entry %u addr 0x%llx", i, (unsigned long long)map[i].addr);
	cr_expect_eq(map[i].size, size, "entry %u size 0x%llx", i, (unsigned long long)map[i].size);
	cr_expect_eq(map[i].type, type, "entry %u type %u", i, map[i].type);
}

Test(e820, one_region)
{
	test_mem_init(&tm, 64 * MiB, 0);
	cr_assert_eq(e820_build(&tm.mem, map, E820_MAX_ENTRIES), 2);
	expect(0, 0, LAYOUT_EBDA_START, E820_RAM);
	expect(1, LAYOUT_HIMEM_START, 64 * MiB - LAYOUT_HIMEM_START, E820_RAM);
}

Test(e820, two_regions)
{
	test_mem_init(&tm, 64 * MiB, 8 * MiB);
	cr_assert_eq(e820_build(&tm.mem, map, E820_MAX_ENTRIES), 3);
	expect(0, 0, LAYOUT_EBDA_START, E820_RAM);
	expect(1, LAYOUT_HIMEM_START, 64 * MiB - LAYOUT_HIMEM_START, E820_RAM);
	expect(2, TEST_HIGH_GPA, 8 * MiB, E820_RAM);
}

Test(e820, output_too_small)
{
	test_mem_init(&tm, 64 * MiB, 8 * MiB);
	cr_expect_eq(e820_build(&tm.mem, map, 2), -EINVAL);
	cr_expect_eq(e820_build(&tm.mem, map, 0), -EINVAL);
	cr_expect_eq(e820_build(&tm.mem, map, 3), 3);
}

Test(e820, low_region_must_start_at_zero_and_pass_1mib)
{
	static uint8_t buf[2 * 1024 * 1024];
	struct gmem m;

	gmem_init(&m);
	cr_expect_eq(e820_build(&m, map, E820_MAX_ENTRIES), -EINVAL, "no regions");
	cr_assert_eq(gmem_add_region(&m, 0x1000, sizeof(buf), buf), 0);
	cr_expect_eq(e820_build(&m, map, E820_MAX_ENTRIES), -EINVAL, "not at 0");

	gmem_init(&m);
	cr_assert_eq(gmem_add_region(&m, 0, LAYOUT_HIMEM_START, buf), 0);
	cr_expect_eq(e820_build(&m, map, E820_MAX_ENTRIES), -EINVAL, "ends exactly at 1 MiB");

	gmem_init(&m);
	cr_assert_eq(gmem_add_region(&m, 0, LAYOUT_HIMEM_START + 0x1000, buf), 0);
	cr_expect_eq(e820_build(&m, map, E820_MAX_ENTRIES), 2, "just past 1 MiB");
	expect(1, LAYOUT_HIMEM_START, 0x1000, E820_RAM);
}

Test(e820, null_arguments)
{
	test_mem_init(&tm, 64 * MiB, 0);
	cr_expect_eq(e820_build(NULL, map, E820_MAX_ENTRIES), -EINVAL);
	cr_expect_eq(e820_build(&tm.mem, NULL, E820_MAX_ENTRIES), -EINVAL);
}
