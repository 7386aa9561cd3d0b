/*
 * PVH entry: kiln (or QEMU) enters here in 32-bit flat protected mode, paging
 * off, interrupts off, ebx = guest-physical address of the hvm_start_info.
 * We build identity page tables for the low 4 GiB (2 MiB pages), load our own
 * GDT, switch to long mode and call ktg_main(start_info).
 *
 * .bss is zeroed by the ELF loader (p_memsz > p_filesz): kiln's and QEMU's do.
 */
#include "guest-images/testguest/arch.h"
#include "guest-images/testguest/head.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18

	/* Name "Xen", 8-byte descriptor like Linux's, 4-byte aligned notes. */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4
	.long 8
	.long XEN_ELFNOTE_PHYS32_ENTRY
	.asciz "Xen"
	.balign 4
	.quad pvh_entry

	.section .text.head, "ax"
	.code32
	.globl pvh_entry
pvh_entry:
	cli
	cld
	movl %ebx, ktg_start_info
	lgdtl ktg_gdt_ptr
	ljmpl $KTG_SEL_CODE32, $1f
1:	movl $KTG_SEL_DATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl %eax, %fs
	movl %eax, %gs

	/* PML4[0] -> PDPT, PDPT[0..3] -> PD pages 0..3. */
	movl $(ktg_pdpt + PTE_P_RW), ktg_pml4
	movl $(ktg_pd + 0x0000 + PTE_P_RW), ktg_pdpt + 0
	movl $(ktg_pd + 0x1000 + PTE_P_RW), ktg_pdpt + 8
	movl $(ktg_pd + 0x2000 + PTE_P_RW), ktg_pdpt + 16
	movl $(ktg_pd + 0x3000 + PTE_P_RW), ktg_pdpt + 24

	/* 2048 2 MiB pages: [0, 3 GiB) write-back, the MMIO GiB uncached. */
	movl $ktg_pd, %edi
	movl $(PTE_P_RW | PTE_PS), %eax
	movl $(3 * 512), %ecx
2:	movl %eax, (%edi)
	addl $0x200000, %eax
	addl $8, %edi
	decl %ecx
	jnz 2b
	orl $PTE_PCD_PWT, %eax
	movl $512, %ecx
3:	movl %eax, (%edi)
	addl $0x200000, %eax
	addl $8, %edi
	decl %ecx
	jnz 3b

	ENABLE_LONG_MODE
	ljmpl $KTG_SEL_CODE64, $bsp_long

	.code64
bsp_long:
	LOAD_DATA_SEGMENTS
	movq $(ktg_bsp_stack + KTG_BSP_STACK_SIZE), %rsp
	movl ktg_start_info(%rip), %edi
	call ktg_main
4:	cli
	hlt
	jmp 4b

	/*
	 * The GDT, used in all modes by every CPU.  Accessed bits are preset so
	 * the CPU has no reason to write it.  The TSS slot is filled by the syscall
	 * selftest.  The pointer works for lgdtl (6 bytes) and lgdt (10 bytes).
	 */
	.section .data
	.balign 16
	.globl ktg_gdt, ktg_gdt_ptr
ktg_gdt:
	.quad 0
	.quad 0x00cf9b000000ffff	/* 0x08 code, 32-bit flat, DPL 0 */
	.quad 0x00af9b000000ffff	/* 0x10 code, 64-bit, DPL 0 */
	.quad 0x00cf93000000ffff	/* 0x18 data, flat, DPL 0 */
	.quad 0x00cffb000000ffff	/* 0x20 code, 32-bit flat, DPL 3 (SYSRET layout) */
	.quad 0x00cff3000000ffff	/* 0x28 data, flat, DPL 3 */
	.quad 0x00affb000000ffff	/* 0x30 code, 64-bit, DPL 3 */
	.quad 0				/* 0x38 unused */
	.quad 0, 0			/* 0x40 TSS */
ktg_gdt_end:
	.if ktg_gdt_end - ktg_gdt != KTG_GDT_SIZE
	.error "KTG_GDT_SIZE does not match ktg_gdt"
	.endif
	.balign 8
ktg_gdt_ptr:
	.word KTG_GDT_SIZE - 1
	.quad ktg_gdt

	.section .bss
	.balign 4096
	.globl ktg_pml4, ktg_pdpt, ktg_pd
ktg_pml4:
	.skip 4096
ktg_pdpt:
	.skip 4096
ktg_pd:
	.skip 4 * 4096
	.balign 16
	.globl ktg_bsp_stack, ktg_start_info
ktg_bsp_stack:
	.skip KTG_BSP_STACK_SIZE
ktg_start_info:
	.skip 4

	.section .note.GNU-stack, "", @progbits
