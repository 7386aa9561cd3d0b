/* zeropage_write: what a 64-bit Linux reads from struct boot_params. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "vmm/boot/layout.h"
#include "vmm/boot/zeropage.h"
#include "vmm/boot/test_util.h"

static const char cmdline[] = "console=ttyS0 reboot=k panic=1";
static struct test_mem tm;
static struct boot_info_args args;
static struct boot_params bp;

static void setup(void)
{
	test_mem_init(&tm, 64 * MiB, 8 * MiB);
	memcpy(tm.low + LAYOUT_CMDLINE, cmdline, sizeof(cmdline));
	args = (struct boot_info_args){
		.cmdline_addr = LAYOUT_CMDLINE,
		.cmdline_len = sizeof(cmdline) - 1,
		.initrd_addr = 60 * MiB,
		.initrd_size = 0x123456,
	};
}

static void teardown(void)
{
	test_mem_fini(&tm);
}

TestSuite(zeropage, .init = setup, .fini = teardown);

static void write_and_read(void)
{
	memset(tm.low + LAYOUT_ZERO_PAGE, 0xee, 4096);
	cr_assert_eq(zeropage_write(&tm.mem, LAYOUT_ZERO_PAGE, &args), 0);
	memcpy(&bp, tm.low + LAYOUT_ZERO_PAGE, sizeof(bp));
}

Test(zeropage, minimal_header_for_elf)
{
	write_and_read();
	cr_expect_eq(bp.hdr.boot_flag, 0xaa55);
	cr_expect_eq(bp.hdr.header, 0x53726448);
	cr_expect_eq(bp.hdr.version, 0x020a);
	cr_expect_eq(bp.hdr.kernel_alignment, 16 * MiB);
	cr_expect_eq(bp.hdr.type_of_loader, 0xff);
	cr_expect_eq(bp.hdr.loadflags & (LOADED_HIGH | CAN_USE_HEAP), LOADED_HIGH | CAN_USE_HEAP);
	cr_expect_eq(bp.hdr.heap_end_ptr, 0xde00);
	cr_expect_eq(bp.sentinel, 0);
	cr_expect_eq(bp.acpi_rsdp_addr, 0);
}

Test(zeropage, cmdline_and_initrd)
{
	write_and_read();
	cr_expect_eq(bp.hdr.cmd_line_ptr, LAYOUT_CMDLINE);
	cr_expect_eq(bp.ext_cmd_line_ptr, 0);
	cr_expect_eq(bp.hdr.ramdisk_image, 60 * MiB);
	cr_expect_eq(bp.hdr.ramdisk_size, 0x123456);
	cr_expect_eq(bp.ext_ramdisk_image, 0);
	cr_expect_eq(bp.ext_ramdisk_size, 0);
}

Test(zeropage, no_initrd)
{
	args.initrd_addr = 0;
	args.initrd_size = 0;
	write_and_read();
	cr_expect_eq(bp.hdr.ramdisk_image, 0);
	cr_expect_eq(bp.hdr.ramdisk_size, 0);
}

Test(zeropage, e820_map)
{
	write_and_read();
	cr_assert_eq(bp.e820_entries, 3);
	cr_expect_eq(bp.e820_table[0].addr, 0);
	cr_expect_eq(bp.e820_table[0].size, LAYOUT_EBDA_START);
	cr_expect_eq(bp.e820_table[0].type, E820_RAM);
	cr_expect_eq(bp.e820_table[1].addr, LAYOUT_HIMEM_START);
	cr_expect_eq(bp.e820_table[1].size, 63 * MiB);
	cr_expect_eq(bp.e820_table[2].addr, TEST_HIGH_GPA);
	cr_expect_eq(bp.e820_table[2].size, 8 * MiB);
	cr_expect_eq(bp.e820_table[3].size, 0, "unused entries zeroed");
}

Test(zeropage, bzimage_header_copied_loader_fields_overwritten)
{
	struct tbz bz;
	struct setup_header h;

	tbz_init(&bz, 4, 0x1000, 0x100000);
	h = *tbz_hdr(&bz);
	h.setup_data = 0x123456789;  /* junk from the image: must not reach the guest */
	h.type_of_loader = 0x21;
	h.ramdisk_image = 0x1111;
	args.setup_header = &h;
	write_and_read();
	cr_expect_eq(bp.hdr.version, 0x020f);
	cr_expect_eq(bp.hdr.xloadflags, XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G);
	cr_expect_eq(bp.hdr.init_size, 0x100000);
	cr_expect_eq(bp.hdr.kernel_alignment, 0x200000);
	cr_expect_eq(bp.hdr.cmdline_size, 2047);
	cr_expect_eq(bp.hdr.setup_data, 0);
	cr_expect_eq(bp.hdr.type_of_loader, 0xff);
	cr_expect_eq(bp.hdr.ramdisk_image, 60 * MiB);
	cr_expect_eq(bp.hdr.cmd_line_ptr, LAYOUT_CMDLINE);
	tbz_fini(&bz);
}

Test(zeropage, above_4gib_uses_ext_fields)
{
	memcpy(tm.high + 0x1000, cmdline, sizeof(cmdline));
	args.cmdline_addr = TEST_HIGH_GPA + 0x1000;
	args.initrd_addr = TEST_HIGH_GPA + 0x100000;
	args.initrd_size = 0x10000;
	write_and_read();
	cr_expect_eq(bp.hdr.cmd_line_ptr, 0x1000);
	cr_expect_eq(bp.ext_cmd_line_ptr, 1);
	cr_expect_eq(bp.hdr.ramdisk_image, 0x100000);
	cr_expect_eq(bp.ext_ramdisk_image, 1);
	cr_expect_eq(bp.hdr.ramdisk_size, 0x10000);
}

Test(zeropage, kernel_limits_enforced)
{
	struct tbz bz;
	struct setup_header h;

	tbz_init(&bz, 4, 0x1000, 0x100000);
	h = *tbz_hdr(&bz);
	args.setup_header = &h;

	h.cmdline_size = sizeof(cmdline) - 2;
	cr_expect_eq(zeropage_write(&tm.mem, LAYOUT_ZERO_PAGE, &args), -EINVAL, "cmdline too long");
	h.cmdline_size = sizeof(cmdline) - 1;
	cr_expect_eq(zeropage_write(&tm.mem, LAYOUT_ZERO_PAGE, &args), 0, "exactly cmdline_size");

	h.initrd_addr_max = 60 * MiB + 0x123456 - 2;
	h.xloadflags = XLF_KERNEL_64;
	cr_expect_eq(zeropage_write(&tm.mem, LAYOUT_ZERO_PAGE, &args), -EINVAL, "initrd above max");
	h.xloadflags |= XLF_CAN_BE_LOADED_ABOVE_4G;
	cr_expect_eq(zeropage_write(&tm.mem, LAYOUT_ZERO_PAGE, &args), 0, "allowed above max");

	h.xloadflags = XLF_KERNEL_64;
	h.initrd_addr_max = 0x7fffffff;
	memcpy(tm.high, cmdline, sizeof(cmdline));
	args.cmdline_addr = TEST_HIGH_GPA;
	cr_expect_eq(zeropage_write(&tm.mem, LAYOUT_ZERO_PAGE, &args), -EINVAL, "cmdline above 4 GiB");
	tbz_fini(&bz);
}

Test(zeropage, bad_args)
{
	struct boot_info_args a;

	a = args;
	tm.low[LAYOUT_CMDLINE + args.cmdline_len] = 'x';
	cr_expect_eq(zeropage_write(&tm.mem, LAYOUT_ZERO_PAGE, &a), -EINVAL, "no NUL");
	tm.low[LAYOUT_CMDLINE + args.cmdline_len] = 0;

	a = args;
	a.cmdline_addr = 64 * MiB - 4;
	cr_expect_eq(zeropage_write(&tm.mem, LAYOUT_ZERO_PAGE, &a), -EINVAL, "cmdline past RAM");
	a.cmdline_addr = UINT64_MAX - 2;
	cr_expect_eq(zeropage_write(&tm.mem, LAYOUT_ZERO_PAGE, &a), -EINVAL, "cmdline wraps");
	a.cmdline_addr = 0;
	cr_expect_eq(zeropage_write(&tm.mem, LAYOUT_ZERO_PAGE, &a), -EINVAL, "len without cmdline");
	a.cmdline_len = 0;
	cr_expect_eq(zeropage_write(&tm.mem, LAYOUT_ZERO_PAGE, &a), 0, "no cmdline at all");

	a = args;
	a.initrd_size = 0;
	cr_expect_eq(zeropage_write(&tm.mem, LAYOUT_ZERO_PAGE, &a), -EINVAL, "initrd addr, no size");
	a = args;
	a.initrd_addr = 0;
	cr_expect_eq(zeropage_write(&tm.mem, LAYOUT_ZERO_PAGE, &a), -EINVAL, "initrd size, no addr");
	a = args;
	a.initrd_size = 8 * MiB;
	cr_expect_eq(zeropage_write(&tm.mem, LAYOUT_ZERO_PAGE, &a), -EINVAL, "initrd past RAM");

	cr_expect_eq(zeropage_write(&tm.mem, LAYOUT_ZERO_PAGE, NULL), -EINVAL);
	cr_expect_eq(zeropage_write(NULL, LAYOUT_ZERO_PAGE, &args), -EINVAL);
}

Test(zeropage, page_outside_ram)
{
	cr_expect_eq(zeropage_write(&tm.mem, 64 * MiB - 0x800, &args), -EFAULT);
	cr_expect_eq(zeropage_write(&tm.mem, 1 * GiB, &args), -EFAULT);
}

/* Found by fuzz_kernel_loader (fuzz/regressions/kernel_loader/zeropage-over-cmdline):
 * a zero page written over the command line destroyed the NUL that
 * boot_info_args_check had just verified.  Touching ranges are still fine. */
Test(zeropage, refuses_to_overlap_cmdline_or_initrd)
{
	const uint64_t zp = sizeof(struct boot_params);

	cr_expect_eq(zeropage_write(&tm.mem, LAYOUT_CMDLINE, &args), -EINVAL, "on the cmdline");
	cr_expect_eq(zeropage_write(&tm.mem, LAYOUT_CMDLINE + args.cmdline_len, &args), -EINVAL,
		     "on the cmdline's NUL");
	cr_expect_eq(zeropage_write(&tm.mem, LAYOUT_CMDLINE - zp + 1, &args), -EINVAL,
		     "last byte on the cmdline");
	cr_expect_eq(tm.low[LAYOUT_CMDLINE + args.cmdline_len], 0, "NUL intact");
	cr_expect_eq(zeropage_write(&tm.mem, args.initrd_addr + args.initrd_size - 1, &args), -EINVAL,
		     "on the initrd's last byte");
	cr_expect_eq(zeropage_write(&tm.mem, args.initrd_addr - zp + 1, &args), -EINVAL,
		     "on the initrd's first byte");
	cr_expect_eq(zeropage_write(&tm.mem, LAYOUT_CMDLINE - zp, &args), 0, "just below the cmdline");
	cr_expect_eq(zeropage_write(&tm.mem, LAYOUT_CMDLINE + args.cmdline_len + 1, &args), 0,
		     "just past the NUL");
	cr_expect_eq(zeropage_write(&tm.mem, args.initrd_addr - zp, &args), 0, "just below the initrd");
}
