/*
 * Test-guest constants shared by the assembly and the C code (no C syntax here:
 * head.S, trampoline.S and traps.S include it too).
 */
#ifndef KTG_ARCH_H
#define KTG_ARCH_H

/* GDT selectors (ktg_gdt in head.S): Linux's numbers, so a hypervisor tuned
 * for Linux sees familiar values.  SYSCALL: CS = STAR[47:32] = KTG_SEL_CODE64,
 * SS = CS + 8.  SYSRET: STAR[63:48] = KTG_SEL_USER_BASE, SS = base + 8,
 * 64-bit CS = base + 16. */
#define KTG_SEL_CODE32    0x08
#define KTG_SEL_CODE64    0x10
#define KTG_SEL_DATA      0x18
#define KTG_SEL_USER_BASE 0x20 /* 32-bit user code: only there for SYSRET's layout */
#define KTG_SEL_UDATA     0x28
#define KTG_SEL_UCODE64   0x30
#define KTG_SEL_TSS       0x40 /* 16 bytes: 0x40 and 0x48 */
#define KTG_GDT_SIZE      0x50

/* Where the APs' real-mode trampoline is copied (SIPI vector = this >> 12).
 * Clear of kiln's boot structures (0x500, 0x6000-0xc000) and of the command
 * line (0x20000-0x21000). */
#define KTG_TRAMPOLINE    0x10000

#define KTG_BSP_STACK_SIZE 0x4000
#define KTG_AP_STACK_SIZE  0x800
#define KTG_MAX_CPUS       256 /* MP-table APIC ids are 8-bit */
#define KTG_KSTACK_SIZE    0x1000 /* syscall / CPL3-exception stack (TSS.RSP0) */

/* The CPL3 part of the syscall selftest lives in its own 2 MiB page, the only
 * one marked user-accessible; the kernel image must end below it. */
#define KTG_USER_BASE     0x200000
#define KTG_USER_STACK_SIZE 0x1000

/* Exception stubs are KTG_EXC_STUB_SIZE bytes apart, one per vector 0..31. */
#define KTG_EXC_VECTORS   32
#define KTG_EXC_STUB_SIZE 16

/* System calls of the selftest (rax), made from CPL3. */
#define KTG_SYS_PING  1 /* rdi = KTG_SYS_MAGIC; returns rdi ^ KTG_SYS_REPLY */
#define KTG_SYS_EXIT  2 /* rdi = value handed back to the kernel; does not return */
#define KTG_SYS_MAGIC 0x4b5447 /* "KTG" */
#define KTG_SYS_REPLY 0x5a5a00

#endif
