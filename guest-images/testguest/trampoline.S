/*
 * AP start-up.  ktg_trampoline_start..end is copied to KTG_TRAMPOLINE (below
 * 1 MiB) and entered by SIPI in real mode with CS = KTG_TRAMPOLINE >> 4, IP = 0.
 * It loads the shared GDT and jumps straight into the image (absolute
 * addresses), which switches to long mode on the BSP's page tables, takes a
 * stack by ticket and calls ktg_ap_main.
 */
#include "guest-images/testguest/arch.h"
#include "guest-images/testguest/head.h"

	.section .text
	.code16
	.globl ktg_trampoline_start, ktg_trampoline_end
ktg_trampoline_start:
	cli
	cld
	lgdtl %cs:(tramp_gdt_ptr - ktg_trampoline_start)
	movl %cr0, %eax
	orl $CR0_PE, %eax
	movl %eax, %cr0
	ljmpl $KTG_SEL_CODE32, $ap_entry32
	.balign 8
tramp_gdt_ptr:
	.word KTG_GDT_SIZE - 1
	.long ktg_gdt
ktg_trampoline_end:

	.code32
ap_entry32:
	movl $KTG_SEL_DATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	ENABLE_LONG_MODE
	ljmpl $KTG_SEL_CODE64, $ap_entry64

	.code64
ap_entry64:
	LOAD_DATA_SEGMENTS
	movl $1, %eax
	lock xaddl %eax, ktg_ap_ticket(%rip)
	cmpl $KTG_MAX_CPUS, %eax
	jae 1f				/* more APs than stacks: park without one */
	incl %eax
	imull $KTG_AP_STACK_SIZE, %eax, %eax
	leaq ktg_ap_stacks(%rip), %rsp
	addq %rax, %rsp
	call ktg_ap_main
1:	cli
	hlt
	jmp 1b

	.section .bss
	.balign 16
	.globl ktg_ap_ticket
ktg_ap_ticket:
	.skip 4
	.balign 16
ktg_ap_stacks:
	.skip KTG_MAX_CPUS * KTG_AP_STACK_SIZE

	.section .note.GNU-stack, "", @progbits
