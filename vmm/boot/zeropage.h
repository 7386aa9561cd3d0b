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
 * Checks args against guest memory before either writer trusts them: the
 * command line (cmdline_addr 0 means none, with cmdline_len 0) lies in guest
 * RAM and has its NUL at cmdline_addr + cmdline_len; initrd_addr and
 * initrd_size are both 0 or both nonzero, and the initrd lies in guest RAM.
 * 0 or -EINVAL.  Both writers below call it.
 */
int boot_info_args_check(const struct gmem *mem, const struct boot_info_args *args) __must_check;

/*
 * True when [addr, addr + len) overlaps the command line (with its NUL) or the
 * initrd of args, already checked by boot_info_args_check.  Both writers refuse
 * (-EINVAL) to put their structure there: it would overwrite what was checked.
 */
int boot_info_args_overlap(const struct boot_info_args *args, uint64_t addr, uint64_t len);

/*
 * Writes a struct boot_params at addr: the bzImage's setup header when given
 * (otherwise a minimal one: boot_flag 0xaa55, header "HdrS", version 2.10,
 * kernel_alignment 16 MiB), type_of_loader 0xff, LOADED_HIGH|CAN_USE_HEAP flags,
 * cmd_line_ptr, ramdisk_image/size (with the ext_ fields for >4 GiB), and the e820
 * map from e820_build.  With a bzImage header it also refuses (-EINVAL) a command
 * line longer than the kernel's cmdline_size, and an initrd above
 * initrd_addr_max or a command line above 4 GiB when the kernel lacks
 * XLF_CAN_BE_LOADED_ABOVE_4G, and a zero page overlapping the command line or
 * the initrd.  0, -EINVAL, or -EFAULT when addr is not RAM.
 */
int zeropage_write(const struct gmem *mem, uint64_t addr, const struct boot_info_args *args) __must_check;

/*
 * Writes a version-1 struct hvm_start_info at addr, followed in the same page by
 * the module list (one entry: the initrd, when present) and the memory map (from
 * e820_build, as hvm_memmap_table_entry).  All must fit in one 4 KiB page.
 * Layouts in vmm/boot/pvh.h.  addr must be 8-byte aligned and the page must end
 * at or below 4 GiB (ebx is 32 bits at the PVH entry), and must not overlap the
 * command line or the initrd: -EINVAL; -EFAULT when the page is not guest RAM.
 */
int pvh_info_write(const struct gmem *mem, uint64_t addr, const struct boot_info_args *args) __must_check;

#endif
