/* Builds the Linux zero page (struct boot_params) and the PVH start info. */
#ifndef KILN_ZEROPAGE_H
#define KILN_ZEROPAGE_H

#include <stdint.h>

#include "vmm/boot/bootparam.h"
#include "vmm/compiler.h"
#include "vmm/mem/gmem.h"

struct boot_info_args {
	uint64_t cmdline_addr;  /* guest address of the NUL-terminated command line */
	uint32_t cmdline_len;   /* bytes, excluding the NUL */
	uint64_t initrd_addr;   /* 0 when there is no initrd */
	uint64_t initrd_size;
	const struct setup_header *setup_header; /* from a bzImage, or NULL (ELF) */
};

/*
 * Writes a struct boot_params at addr: the bzImage's setup header when given
 * (otherwise a minimal one: boot_flag 0xaa55, header "HdrS", version 2.10,
 * kernel_alignment 16 MiB), type_of_loader 0xff, LOADED_HIGH|CAN_USE_HEAP flags,
 * cmd_line_ptr, ramdisk_image/size (with the ext_ fields for >4 GiB), and the e820
 * map from e820_build.  0 or -errno.
 */
int zeropage_write(const struct gmem *mem, uint64_t addr, const struct boot_info_args *args) __must_check;

/*
 * Writes a version-1 struct hvm_start_info at addr, followed in the same page by
 * the module list (one entry: the initrd, when present) and the memory map (from
 * e820_build, as hvm_memmap_table_entry).  All must fit in one 4 KiB page.
 */
int pvh_info_write(const struct gmem *mem, uint64_t addr, const struct boot_info_args *args) __must_check;

#endif
