/* pvh_info_write: hvm_start_info, module list and memory map in one page. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "vmm/boot/layout.h"
#include "vmm/boot/pvh.h"
#include "vmm/boot/zeropage.h"
#include "vmm/boot/test_util.h"

static const char cmdline[] = "console=ttyS0";
static struct test_mem tm;
static struct boot_info_args args;
static struct hvm_start_info info;

static void setup(void)
{
	test_mem_init(&tm, 64 * MiB, 0);
	memcpy(tm.low + LAYOUT_CMDLINE, cmdline, sizeof(cmdline));
	args = (struct boot_info_args){
		.cmdline_addr = LAYOUT_CMDLINE,
		.cmdline_len = sizeof(cmdline) - 1,
		.initrd_addr = 60 * MiB,
		.initrd_size = 0x200000,
	};
}

static void teardown(void)
{
	test_mem_fini(&tm);
}

TestSuite(pvh, .init = setup, .fini = teardown);

static void write_and_read(void)
{
	memset(tm.low + LAYOUT_PVH_INFO, 0xee, 4096);
	cr_assert_eq(pvh_info_write(&tm.mem, LAYOUT_PVH_INFO, &args), 0);
	memcpy(&info, tm.low + LAYOUT_PVH_INFO, sizeof(info));
}

static struct hvm_memmap_table_entry memmap(unsigned int i)
{
	struct hvm_memmap_table_entry e;

	cr_assert(gmem_read(&tm.mem, info.memmap_paddr + i * sizeof(e), &e, sizeof(e)) == 0);
	return e;
}

Test(pvh, start_info_fields)
{
	write_and_read();
	cr_expect_eq(info.magic, 0x336ec578);
	cr_expect_eq(info.version, 1);
	cr_expect_eq(info.flags, 0);
	cr_expect_eq(info.cmdline_paddr, LAYOUT_CMDLINE);
	cr_expect_eq(info.rsdp_paddr, 0);
	cr_expect_eq(info.reserved, 0);
	/* Everything the kernel follows lies in the same page. */
	cr_expect_geq(info.modlist_paddr, LAYOUT_PVH_INFO + sizeof(info));
	cr_expect_leq(info.memmap_paddr + info.memmap_entries * sizeof(struct hvm_memmap_table_entry),
		      LAYOUT_PVH_INFO + 4096);
	cr_expect_eq(info.modlist_paddr % 8, 0);
	cr_expect_eq(info.memmap_paddr % 8, 0);
}

Test(pvh, initrd_module)
{
	struct hvm_modlist_entry mod;

	write_and_read();
	cr_assert_eq(info.nr_modules, 1);
	cr_assert_eq(gmem_read(&tm.mem, info.modlist_paddr, &mod, sizeof(mod)), 0);
	cr_expect_eq(mod.paddr, 60 * MiB);
	cr_expect_eq(mod.size, 0x200000);
	cr_expect_eq(mod.cmdline_paddr, 0);
	cr_expect_eq(mod.reserved, 0);
}

Test(pvh, no_initrd)
{
	args.initrd_addr = 0;
	args.initrd_size = 0;
	write_and_read();
	cr_expect_eq(info.nr_modules, 0);
	cr_expect_eq(info.modlist_paddr, 0);
}

Test(pvh, memmap_one_region)
{
	write_and_read();
	cr_assert_eq(info.memmap_entries, 2);
	cr_expect_eq(memmap(0).addr, 0);
	cr_expect_eq(memmap(0).size, LAYOUT_EBDA_START);
	cr_expect_eq(memmap(0).type, 1);
	cr_expect_eq(memmap(1).addr, LAYOUT_HIMEM_START);
	cr_expect_eq(memmap(1).size, 63 * MiB);
	cr_expect_eq(memmap(1).type, 1);
	cr_expect_eq(memmap(1).reserved, 0);
}

Test(pvh, memmap_two_regions)
{
	test_mem_fini(&tm);
	test_mem_init(&tm, 64 * MiB, 8 * MiB);
	memcpy(tm.low + LAYOUT_CMDLINE, cmdline, sizeof(cmdline));
	write_and_read();
	cr_assert_eq(info.memmap_entries, 3);
	cr_expect_eq(memmap(2).addr, TEST_HIGH_GPA);
	cr_expect_eq(memmap(2).size, 8 * MiB);
	cr_expect_eq(memmap(2).type, 1);
}

Test(pvh, rest_of_page_zeroed)
{
	size_t used;

	write_and_read();
	used = info.memmap_paddr - LAYOUT_PVH_INFO + info.memmap_entries * 24;
	for (size_t i = used; i < 4096; i++)
		cr_assert_eq(tm.low[LAYOUT_PVH_INFO + i], 0, "byte 0x%zx", i);
}

Test(pvh, bad_placement)
{
	cr_expect_eq(pvh_info_write(&tm.mem, LAYOUT_PVH_INFO + 4, &args), -EINVAL, "misaligned");
	cr_expect_eq(pvh_info_write(&tm.mem, 64 * MiB - 0x800, &args), -EFAULT, "past RAM");
	cr_expect_eq(pvh_info_write(&tm.mem, LAYOUT_MMIO_GAP_END - 0x800, &args), -EINVAL,
		     "crosses 4 GiB");
	cr_expect_eq(pvh_info_write(&tm.mem, TEST_HIGH_GPA, &args), -EINVAL, "above 4 GiB");
}

Test(pvh, bad_args)
{
	args.initrd_size = 0;
	cr_expect_eq(pvh_info_write(&tm.mem, LAYOUT_PVH_INFO, &args), -EINVAL);
	cr_expect_eq(pvh_info_write(&tm.mem, LAYOUT_PVH_INFO, NULL), -EINVAL);
	cr_expect_eq(pvh_info_write(NULL, LAYOUT_PVH_INFO, &args), -EINVAL);
}

/* Found by fuzz_kernel_loader: the start info page must not land on the
 * command line or the initrd it points to (see zeropage.h). */
Test(pvh, refuses_to_overlap_cmdline_or_initrd)
{
	cr_expect_eq(pvh_info_write(&tm.mem, LAYOUT_CMDLINE, &args), -EINVAL, "on the cmdline");
	cr_expect_eq(pvh_info_write(&tm.mem, LAYOUT_CMDLINE - 0x1000 + 8, &args), -EINVAL,
		     "tail on the cmdline");
	cr_expect_eq(tm.low[LAYOUT_CMDLINE + args.cmdline_len], 0, "NUL intact");
	cr_expect_eq(pvh_info_write(&tm.mem, args.initrd_addr + args.initrd_size - 8, &args), -EINVAL,
		     "on the initrd");
	cr_expect_eq(pvh_info_write(&tm.mem, LAYOUT_CMDLINE - 0x1000, &args), 0, "just below the cmdline");
	cr_expect_eq(pvh_info_write(&tm.mem, args.initrd_addr + args.initrd_size, &args), 0,
		     "just past the initrd");
}
