/*
 * The PVH start info page: hvm_start_info, then the module list, then the
 * memory map, all in one page so the kernel's early code, which runs before it
 * maps anything, can read them from one place.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "vmm/boot/e820.h"
#include "vmm/boot/layout.h"
#include "vmm/boot/pvh.h"
#include "vmm/boot/zeropage.h"

_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info size");
_Static_assert(offsetof(struct hvm_start_info, modlist_paddr) == 16, "modlist_paddr");
_Static_assert(offsetof(struct hvm_start_info, cmdline_paddr) == 24, "cmdline_paddr");
_Static_assert(offsetof(struct hvm_start_info, rsdp_paddr) == 32, "rsdp_paddr");
_Static_assert(offsetof(struct hvm_start_info, memmap_paddr) == 40, "memmap_paddr");
_Static_assert(offsetof(struct hvm_start_info, memmap_entries) == 48, "memmap_entries");
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "hvm_modlist_entry size");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "hvm_memmap_table_entry size");
_Static_assert(offsetof(struct hvm_memmap_table_entry, type) == 16, "memmap type");

#define PVH_PAGE       0x1000u
#define PVH_MODLIST_AT sizeof(struct hvm_start_info)
#define PVH_MEMMAP_AT  (PVH_MODLIST_AT + sizeof(struct hvm_modlist_entry))
_Static_assert(PVH_MODLIST_AT % 8 == 0 && PVH_MEMMAP_AT % 8 == 0, "PVH arrays 8-byte aligned");
_Static_assert(PVH_MEMMAP_AT + E820_MAX_ENTRIES * sizeof(struct hvm_memmap_table_entry) <= PVH_PAGE,
	       "PVH start info, module list and memory map fit in one page");

int pvh_info_write(const struct gmem *mem, uint64_t addr, const struct boot_info_args *args)
{
	struct e820_entry map[E820_MAX_ENTRIES];
	struct hvm_start_info info = {
		.magic = HVM_START_MAGIC_VALUE,
		.version = HVM_START_VERSION,
	};
	uint8_t page[PVH_PAGE];
	int i, n, rc;

	if (!mem || !args)
		return -EINVAL;
	/* ebx is 32 bits wide at the PVH entry; the fields are 8-byte aligned. */
	if (addr % 8 || addr > LAYOUT_MMIO_GAP_END - PVH_PAGE)
		return -EINVAL;
	if (!gmem_range_ok(mem, addr, PVH_PAGE))
		return -EFAULT;
	rc = boot_info_args_check(mem, args);
	if (rc)
		return rc;
	if (boot_info_args_overlap(args, addr, PVH_PAGE))
		return -EINVAL;
	n = e820_build(mem, map, E820_MAX_ENTRIES);
	if (n < 0)
		return n;

	memset(page, 0, sizeof(page));
	info.cmdline_paddr = args->cmdline_addr;
	info.memmap_paddr = addr + PVH_MEMMAP_AT;
	info.memmap_entries = (uint32_t)n;
	if (args->initrd_size) {
		struct hvm_modlist_entry mod = { .paddr = args->initrd_addr, .size = args->initrd_size };

		info.nr_modules = 1;
		info.modlist_paddr = addr + PVH_MODLIST_AT;
		memcpy(page + PVH_MODLIST_AT, &mod, sizeof(mod));
	}
	for (i = 0; i < n; i++) {
		struct hvm_memmap_table_entry e = { .addr = map[i].addr, .size = map[i].size,
						    .type = map[i].type };

		memcpy(page + PVH_MEMMAP_AT + i * sizeof(e), &e, sizeof(e));
	}
	memcpy(page, &info, sizeof(info));
	return gmem_write(mem, addr, page, sizeof(page)) ? -EFAULT : 0;
}
