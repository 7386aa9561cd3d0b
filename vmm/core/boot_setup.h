/*
 * Puts the kernel, initrd, command line and boot tables into a built VM's
 * memory, ready for the boot vCPU's registers.
 */
#ifndef KILN_BOOT_SETUP_H
#define KILN_BOOT_SETUP_H

#include <stdint.h>

#include "vmm/compiler.h"
#include "vmm/config/vm_config.h"

struct vm;

struct boot_setup_result {
	int kind;            /* enum boot_kind */
	uint64_t entry;
	uint64_t boot_info;  /* zero page (Linux 64-bit) or hvm_start_info (PVH) */
};

/* Reads the kernel (and initrd) named in bs, loads them, writes the command
 * line (bs->boot_args or the default, plus what the VM's devices add), the zero
 * page or PVH start info, the MP table and the GDT/page tables. */
int boot_setup(struct vm *vm, const struct boot_source_config *bs, struct boot_setup_result *out,
	       char err[512]) __must_check;

#endif
