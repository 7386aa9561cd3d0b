/* bzImage loader: header checks, where the code lands, what RAM it must have. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "vmm/boot/layout.h"
#include "vmm/boot/loader.h"
#include "vmm/boot/test_util.h"

static struct test_mem tm;
static struct tbz bz;
static struct kernel_load_result res;
static char err[LOADER_ERR_MAX];

static void setup(void)
{
	test_mem_init(&tm, 64 * MiB, 0);
	memset(&res, 0, sizeof(res));
	err[0] = 0;
}

static void teardown(void)
{
	tbz_fini(&bz);
	test_mem_fini(&tm);
}

TestSuite(bzimage, .init = setup, .fini = teardown);

static int load(void)
{
	return bzimage_load(&tm.mem, bz.img, bz.size, &res, err);
}

static void expect_fail(int rc, const char *msg)
{
	cr_expect_eq(load(), rc, "want %d (%s), err: %s", rc, msg, err);
	cr_expect(strstr(err, msg) != NULL, "err \"%s\" lacks \"%s\"", err, msg);
}

Test(bzimage, loads_protected_mode_code_at_16mib)
{
	tbz_init(&bz, 27, 0x10000, 0x400000);
	cr_assert_eq(load(), 0, "%s", err);
	cr_expect_eq(res.format, KERNEL_BZIMAGE);
	cr_expect_eq(res.kind, BOOT_LINUX64);
	cr_expect_eq(res.entry, LAYOUT_KERNEL_LOAD + 0x200);
	cr_expect_eq(res.kernel_end, LAYOUT_KERNEL_LOAD + 0x400000, "init_size dominates");
	cr_expect_arr_eq(tm.low + LAYOUT_KERNEL_LOAD, bz.img + 28 * 512, 0x10000);
	cr_expect_eq(tm.low[LAYOUT_KERNEL_LOAD + 0x10000], 0, "wrote past the image");
	cr_assert(res.have_setup_header);
	cr_expect(res.is_linux);
	cr_expect_arr_eq(&res.setup_header, tbz_hdr(&bz), sizeof(struct setup_header));
}

Test(bzimage, kernel_end_covers_image_when_larger_than_init_size)
{
	tbz_init(&bz, 4, 0x300000, 0x100000);
	cr_assert_eq(load(), 0, "%s", err);
	cr_expect_eq(res.kernel_end, LAYOUT_KERNEL_LOAD + 0x300000);
}

Test(bzimage, setup_sects_zero_means_four)
{
	tbz_init(&bz, 0, 0x1000, 0x100000);
	cr_assert_eq(load(), 0, "%s", err);
	cr_expect_arr_eq(tm.low + LAYOUT_KERNEL_LOAD, bz.img + 5 * 512, 0x1000);
}

Test(bzimage, fixed_kernel_runs_at_pref_address)
{
	tbz_init(&bz, 4, 0x1000, 0x100000);
	tbz_hdr(&bz)->relocatable_kernel = 0;
	tbz_hdr(&bz)->pref_address = 32 * MiB;
	cr_assert_eq(load(), 0, "%s", err);
	cr_expect_eq(res.entry, LAYOUT_KERNEL_LOAD + 0x200, "still entered where loaded");
	cr_expect_eq(res.kernel_end, 32 * MiB + 0x100000);
}

Test(bzimage, relocatable_kernel_aligns_up)
{
	tbz_init(&bz, 4, 0x1000, 0x100000);
	tbz_hdr(&bz)->kernel_alignment = 32 * MiB;
	cr_assert_eq(load(), 0, "%s", err);
	cr_expect_eq(res.kernel_end, 32 * MiB + 0x100000);
}

Test(bzimage, short_header_fields_are_zeroed)
{
	tbz_init(&bz, 4, 0x1000, 0x100000);
	/* A 2.12-era header ends after init_size (0x264); later bytes are code. */
	tbz_hdr(&bz)->version = BOOT_PROTOCOL(2, 12);
	tbz_hdr(&bz)->jump = 0xeb | ((0x264 - 0x202) << 8);
	tbz_hdr(&bz)->handover_offset = 0xdeadbeef;
	tbz_hdr(&bz)->kernel_info_offset = 0xcafef00d;
	cr_assert_eq(load(), 0, "%s", err);
	cr_expect_eq(res.setup_header.init_size, 0x100000);
	cr_expect_eq(res.setup_header.handover_offset, 0);
	cr_expect_eq(res.setup_header.kernel_info_offset, 0);
}

Test(bzimage, header_shorter_than_protocol_needs)
{
	tbz_init(&bz, 4, 0x1000, 0x100000);
	tbz_hdr(&bz)->jump = 0xeb | ((0x250 - 0x202) << 8);
	expect_fail(-EINVAL, "too short");
}

Test(bzimage, truncated)
{
	tbz_init(&bz, 4, 0x1000, 0x100000);
	bz.size = 0x26b;
	expect_fail(-ENOEXEC, "truncated");
	bz.size = 0;
	expect_fail(-ENOEXEC, "truncated");
}

Test(bzimage, bad_magic)
{
	tbz_init(&bz, 4, 0x1000, 0x100000);
	tbz_hdr(&bz)->header = 0x53726449;
	expect_fail(-ENOEXEC, "HdrS");
}

Test(bzimage, old_protocol)
{
	tbz_init(&bz, 4, 0x1000, 0x100000);
	tbz_hdr(&bz)->version = BOOT_PROTOCOL(2, 5);
	expect_fail(-ENOEXEC, "2.5 is too old");
	/* 2.06..2.11 have no xloadflags, so no way to promise a 64-bit entry. */
	tbz_hdr(&bz)->version = BOOT_PROTOCOL(2, 11);
	expect_fail(-ENOEXEC, "2.11 is too old");
}

Test(bzimage, no_64bit_entry)
{
	tbz_init(&bz, 4, 0x1000, 0x100000);
	tbz_hdr(&bz)->xloadflags = XLF_CAN_BE_LOADED_ABOVE_4G;
	expect_fail(-ENOEXEC, "XLF_KERNEL_64");
}

Test(bzimage, zimage_refused)
{
	tbz_init(&bz, 4, 0x1000, 0x100000);
	tbz_hdr(&bz)->loadflags = 0;
	expect_fail(-ENOEXEC, "zImage");
}

Test(bzimage, setup_sects_past_end)
{
	tbz_init(&bz, 4, 0x1000, 0x100000);
	tbz_hdr(&bz)->setup_sects = 200;
	expect_fail(-EINVAL, "setup_sects 200 points past the end");
	tbz_hdr(&bz)->setup_sects = 255;
	expect_fail(-EINVAL, "points past the end");
	/* Exactly at the end: no protected-mode code at all. */
	tbz_hdr(&bz)->setup_sects = 4;
	bz.size = 5 * 512;
	expect_fail(-EINVAL, "points past the end");
}

Test(bzimage, code_too_small_for_entry)
{
	tbz_init(&bz, 4, 0x200, 0x100000);
	expect_fail(-EINVAL, "before its 64-bit entry");
}

Test(bzimage, init_size_too_big_for_ram)
{
	tbz_init(&bz, 4, 0x1000, 48 * MiB + 1);
	expect_fail(-EFAULT, "guest memory is too small");
}

Test(bzimage, image_too_big_for_ram)
{
	test_mem_fini(&tm);
	test_mem_init(&tm, 17 * MiB, 0);
	tbz_init(&bz, 4, 2 * MiB, 0x100000);
	expect_fail(-EFAULT, "does not fit in guest memory");
}

Test(bzimage, bad_alignment)
{
	tbz_init(&bz, 4, 0x1000, 0x100000);
	tbz_hdr(&bz)->kernel_alignment = 0;
	expect_fail(-EINVAL, "power of two");
	tbz_hdr(&bz)->kernel_alignment = 0x300000;
	expect_fail(-EINVAL, "power of two");
	tbz_hdr(&bz)->kernel_alignment = 64 * MiB; /* runs at 64 MiB: no RAM there */
	expect_fail(-EFAULT, "guest memory is too small");
}

Test(bzimage, pref_address_hostile)
{
	tbz_init(&bz, 4, 0x1000, 0x100000);
	tbz_hdr(&bz)->pref_address = UINT64_MAX - 0x1000; /* run + init_size wraps */
	expect_fail(-EFAULT, "guest memory is too small");
	tbz_hdr(&bz)->relocatable_kernel = 0;
	tbz_hdr(&bz)->pref_address = 0x7000;
	expect_fail(-EINVAL, "below 1 MiB");
}

Test(bzimage, failure_writes_nothing)
{
	tbz_init(&bz, 4, 0x1000, 64 * MiB);
	memset(tm.low + LAYOUT_KERNEL_LOAD, 0xcc, 0x1000);
	cr_assert_eq(load(), -EFAULT);
	for (size_t i = 0; i < 0x1000; i++)
		cr_assert_eq(tm.low[LAYOUT_KERNEL_LOAD + i], 0xcc);
}

/* Found by fuzz_kernel_loader (fuzz/regressions/kernel_loader/bzimage-init-size-0):
 * with init_size 0 the empty init area at pref_address (here the first byte of
 * the high region) passed the RAM check and became kernel_end, a byte that is
 * not RAM below it. */
Test(bzimage, zero_init_size)
{
	test_mem_fini(&tm);
	test_mem_init(&tm, 64 * MiB, 2 * MiB);
	tbz_init(&bz, 4, 0x1000, 0);
	tbz_hdr(&bz)->pref_address = TEST_HIGH_GPA;
	expect_fail(-EINVAL, "init_size is 0");
}
