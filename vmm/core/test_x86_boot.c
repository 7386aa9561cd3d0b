/* Boot CPU state: GDT, page tables and registers for each entry protocol. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>

#include "vmm/boot/layout.h"
#include "vmm/core/x86_boot.h"

static struct gmem mem;
static uint8_t *ram;

static void setup(void)
{
	ram = calloc(1, 1 << 20);
	gmem_init(&mem);
	cr_assert_eq(gmem_add_region(&mem, 0, 1 << 20, ram), 0);
}

static void teardown(void)
{
	free(ram);
}

TestSuite(x86_boot, .init = setup, .fini = teardown);

Test(x86_boot, linux64_page_tables_identity_map_4g)
{
	uint64_t pml4, pdpt3, pde;

	cr_assert_eq(x86_boot_write_tables(&mem, BOOT_LINUX64), 0);
	cr_assert_eq(gmem_read_le64(&mem, LAYOUT_PML4, &pml4), 0);
	cr_assert_eq(pml4 & ~0xfffULL, LAYOUT_PDPT);
	cr_assert_eq(gmem_read_le64(&mem, LAYOUT_PDPT + 3 * 8, &pdpt3), 0);
	cr_assert_eq(pdpt3 & ~0xfffULL, LAYOUT_PD + 3 * 4096);
	/* The last 2 MiB page of the 4th GiB maps to itself. */
	cr_assert_eq(gmem_read_le64(&mem, LAYOUT_PD + 3 * 4096 + 511 * 8, &pde), 0);
	cr_assert_eq(pde & ~0xfffULL, 0xffe00000ULL);
	cr_assert_eq(pde & 0x83, 0x83, "present, writable, 2 MiB");
}

Test(x86_boot, linux64_sregs_follow_boot_protocol)
{
	struct kvm_sregs s = { 0 };

	x86_boot_sregs(&s, BOOT_LINUX64);
	cr_assert_eq(s.cs.selector, 0x10, "__BOOT_CS");
	cr_assert_eq(s.ds.selector, 0x18, "__BOOT_DS");
	cr_assert(s.cs.l && !s.cs.db, "64-bit code");
	cr_assert_eq(s.cs.limit, 0xffffffff);
	cr_assert(s.efer & (1 << 10), "LMA");
	cr_assert(s.cr0 & 0x80000001ULL);
	cr_assert_eq(s.cr3, LAYOUT_PML4);
	cr_assert_eq(s.tr.type, 0xb, "busy TSS");
}

Test(x86_boot, pvh_is_32bit_flat_without_paging)
{
	struct kvm_sregs s = { 0 };
	struct kvm_regs r;

	x86_boot_sregs(&s, BOOT_PVH);
	cr_assert(!s.cs.l && s.cs.db, "32-bit code");
	cr_assert_eq(s.cr0 & 0x80000000ULL, 0, "paging off");
	cr_assert_eq(s.efer, 0);
	cr_assert_eq(s.cr4, 0);
	x86_boot_regs(&r, BOOT_PVH, 0x100000, LAYOUT_PVH_INFO);
	cr_assert_eq(r.rbx, LAYOUT_PVH_INFO);
	cr_assert_eq(r.rip, 0x100000);
	cr_assert_eq(r.rflags, 2, "interrupts off");
}

Test(x86_boot, gdt_matches_segments)
{
	uint64_t cs;
	struct kvm_sregs s = { 0 };

	cr_assert_eq(x86_boot_write_tables(&mem, BOOT_PVH), 0);
	cr_assert_eq(gmem_read_le64(&mem, LAYOUT_GDT + X86_BOOT_CS32, &cs), 0);
	x86_boot_sregs(&s, BOOT_PVH);
	cr_assert_eq((cs >> 40) & 0xf, s.cs.type);
	cr_assert_eq(s.gdt.base, LAYOUT_GDT);
	cr_assert_geq(s.gdt.limit, X86_BOOT_CS32 + 7);
}

Test(x86_boot, tables_refuse_missing_memory)
{
	struct gmem tiny;
	uint8_t page[4096];

	gmem_init(&tiny);
	cr_assert_eq(gmem_add_region(&tiny, 0, sizeof(page), page), 0);
	cr_assert_eq(x86_boot_write_tables(&tiny, BOOT_LINUX64), -EFAULT);
}
