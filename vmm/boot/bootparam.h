/*
 * Guest ABI of the Linux x86 boot protocol (Documentation/arch/x86/boot.rst):
 * struct setup_header (at offset 0x1f1 of a bzImage and of the zero page) and
 * struct boot_params (the "zero page").  Layouts are fixed by the protocol and
 * checked with static asserts in bootparam.c.
 *
 * TO BE FILLED IN by the boot-unit author: the full packed structs with every
 * field named as in the protocol; e820 entries via vmm/boot/e820.h.
 */
#ifndef KILN_BOOTPARAM_H
#define KILN_BOOTPARAM_H

#include <stdint.h>

#include "vmm/boot/e820.h"

#endif
