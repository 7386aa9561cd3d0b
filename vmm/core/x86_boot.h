/*
 * The boot CPU's initial state for each entry protocol, as KVM structs, plus
 * the GDT and identity page tables it relies on (written into guest memory).
 * Pure: no ioctls, so unit tests check every register.
 *
 * GDT (at LAYOUT_GDT): 0 null, 1 null, 2 = 0x10 64-bit code (__BOOT_CS of the
 * Linux boot protocol), 3 = 0x18 flat data (__BOOT_DS), 4 = 0x20 TSS, 5 = 0x28
 * 32-bit flat code (PVH entry).
 */
#ifndef KILN_X86_BOOT_H
#define KILN_X86_BOOT_H

#include <stdint.h>
#include <linux/kvm.h>

#include "vmm/boot/loader.h"
#include "vmm/compiler.h"
#include "vmm/mem/gmem.h"

#define X86_BOOT_CS64 0x10
#define X86_BOOT_DS   0x18
#define X86_BOOT_TSS  0x20
#define X86_BOOT_CS32 0x28

/* Writes the GDT, an empty IDT and (for BOOT_LINUX64) page tables identity-
 * mapping the first 4 GiB with 2 MiB pages.  0 or -EFAULT. */
int x86_boot_write_tables(const struct gmem *mem, enum boot_kind kind) __must_check;

/* Fills sregs (starting from the vCPU's current ones, so KVM-owned fields such
 * as the APIC base survive) for the entry protocol. */
void x86_boot_sregs(struct kvm_sregs *sregs, enum boot_kind kind);

/* rip = entry; rsi = zero page (LINUX64) or rbx = start info (PVH). */
void x86_boot_regs(struct kvm_regs *regs, enum boot_kind kind, uint64_t entry, uint64_t boot_info);

/* x87 control word and MXCSR at their reset values. */
void x86_boot_fpu(struct kvm_fpu *fpu);

/* The MSRs every vCPU starts with (SYSENTER/SYSCALL zeroed, fast strings on,
 * MTRRs default write-back).  Returns the number of entries written (<= max). */
unsigned int x86_boot_msrs(struct kvm_msr_entry *entries, unsigned int max);

#endif
