/*
 * Guest ABI of the PVH boot protocol (Xen's arch/x86/hvm/start_info.h, as
 * Linux, FreeBSD and unikernels read it): at the 32-bit entry, ebx holds the
 * guest-physical address of a struct hvm_start_info.  Version 1 adds the
 * memory map.  Sizes and offsets are asserted in pvh.c.
 */
#ifndef KILN_PVH_H
#define KILN_PVH_H

#include <stdint.h>

#define HVM_START_MAGIC_VALUE 0x336ec578u
#define HVM_START_VERSION     1

struct hvm_start_info {
	uint32_t magic;          /* HVM_START_MAGIC_VALUE */
	uint32_t version;        /* 1: memmap fields are valid */
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;  /* array of nr_modules struct hvm_modlist_entry */
	uint64_t cmdline_paddr;  /* NUL-terminated, or 0 */
	uint64_t rsdp_paddr;     /* ACPI RSDP, or 0 */
	uint64_t memmap_paddr;   /* array of memmap_entries struct hvm_memmap_table_entry */
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;          /* the module (for Linux: the initrd) */
	uint64_t size;
	uint64_t cmdline_paddr;  /* per-module command line, or 0 */
	uint64_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;           /* e820 types: E820_RAM, E820_RESERVED, ... */
	uint32_t reserved;
};

#endif
