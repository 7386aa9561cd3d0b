/* initrd placement: highest page-aligned spot between the kernel and max_end. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "vmm/boot/loader.h"
#include "vmm/boot/test_util.h"

static struct test_mem tm;
static uint8_t *rd;
static char err[LOADER_ERR_MAX];

static void setup(void)
{
	test_mem_init(&tm, 64 * MiB, 8 * MiB);
	rd = malloc(8 * MiB);
	cr_assert(rd);
	for (size_t i = 0; i < 8 * MiB; i++)
		rd[i] = (uint8_t)(i * 5 + 1);
	err[0] = 0;
}

static void teardown(void)
{
	free(rd);
	test_mem_fini(&tm);
}

TestSuite(initrd, .init = setup, .fini = teardown);

Test(initrd, placed_high_and_page_aligned)
{
	uint64_t addr = 0;

	cr_assert_eq(initrd_load(&tm.mem, rd, 0x12345, 17 * MiB, 64 * MiB, &addr, err), 0, "%s", err);
	cr_expect_eq(addr, (64 * MiB - 0x12345) & ~0xfffULL);
	cr_expect_eq(addr % 4096, 0);
	cr_expect_leq(addr + 0x12345, 64 * MiB);
	cr_expect_arr_eq(tm.low + addr, rd, 0x12345);
}

Test(initrd, exact_fit_at_min_start)
{
	uint64_t addr = 0;

	cr_assert_eq(initrd_load(&tm.mem, rd, 2 * MiB, 62 * MiB, 64 * MiB, &addr, err), 0, "%s", err);
	cr_expect_eq(addr, 62 * MiB);
}

Test(initrd, above_4gib)
{
	uint64_t addr = 0;

	cr_assert_eq(initrd_load(&tm.mem, rd, 0x3000, TEST_HIGH_GPA, TEST_HIGH_GPA + 8 * MiB, &addr, err),
		     0, "%s", err);
	cr_expect_eq(addr, TEST_HIGH_GPA + 8 * MiB - 0x3000);
	cr_expect_arr_eq(tm.high + (addr - TEST_HIGH_GPA), rd, 0x3000);
}

Test(initrd, too_big)
{
	uint64_t addr = 0x1234;

	cr_expect_eq(initrd_load(&tm.mem, rd, 8 * MiB, 60 * MiB, 64 * MiB, &addr, err), -ENOMEM);
	cr_expect(strstr(err, "does not fit") != NULL, "%s", err);
	cr_expect_eq(initrd_load(&tm.mem, rd, 8 * MiB, 0, 4 * MiB, &addr, err), -ENOMEM);
	cr_expect(strstr(err, "larger than") != NULL, "%s", err);
	/* Rounding down to a page pushes it below min_start. */
	cr_expect_eq(initrd_load(&tm.mem, rd, 0x1001, 64 * MiB - 0x1001, 64 * MiB, &addr, err), -ENOMEM);
	cr_expect_eq(addr, 0x1234, "addr untouched on failure");
}

Test(initrd, outside_guest_memory)
{
	uint64_t addr = 0;

	cr_expect_eq(initrd_load(&tm.mem, rd, 0x1000, 0, 128 * MiB, &addr, err), -EFAULT);
	cr_expect(strstr(err, "outside guest memory") != NULL, "%s", err);
	cr_expect_eq(initrd_load(&tm.mem, rd, 0x1000, 0, UINT64_MAX, &addr, err), -EFAULT);
}

Test(initrd, empty_or_missing)
{
	uint64_t addr = 0;

	cr_expect_eq(initrd_load(&tm.mem, rd, 0, 0, 64 * MiB, &addr, err), -EINVAL);
	cr_expect(strstr(err, "empty") != NULL, "%s", err);
	cr_expect_eq(initrd_load(&tm.mem, NULL, 16, 0, 64 * MiB, &addr, err), -EINVAL);
	cr_expect_eq(initrd_load(&tm.mem, rd, 16, 0, 64 * MiB, NULL, err), -EINVAL);
}
