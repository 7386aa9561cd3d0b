/*
 * Exception stubs (one every KTG_EXC_STUB_SIZE bytes, vectors 0..31), the
 * SYSCALL entry, the CPL3 round trip of the syscall selftest, and its user
 * code and stack in their own user-accessible page.
 */
#include "guest-images/testguest/arch.h"

	.section .text
	.code64

	/* Vectors that push an error code: 8, 10-14, 17, 21, 29, 30. */
	.macro exc_stub n
	.balign KTG_EXC_STUB_SIZE
	.if !(\n == 8 || (\n >= 10 && \n <= 14) || \n == 17 || \n == 21 || \n == 29 || \n == 30)
	pushq $0
	.endif
	pushq $\n
	jmp exc_common
	.endm

	.balign KTG_EXC_STUB_SIZE
	.globl ktg_exc_stubs
ktg_exc_stubs:
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	exc_stub \n
	.endr

	/* rsp -> struct exc_frame { vec, err, rip, cs, rflags, rsp, ss }. */
exc_common:
	movq %rsp, %rdi
	andq $-16, %rsp
	call ktg_exception
1:	cli
	hlt
	jmp 1b

	/*
	 * SYSCALL from CPL3: rcx = user rip, r11 = user rflags, rsp still the
	 * user's.  Calls ktg_syscall_dispatch(rax, rdi, rcx) on the kernel stack,
	 * returns its value in rax with SYSRET.
	 */
	.globl ktg_syscall_entry
ktg_syscall_entry:
	movq %rsp, syscall_user_rsp(%rip)
	movq $ktg_kstack_top, %rsp
	pushq %rcx
	pushq %r11
	movq %rdi, %rsi
	movq %rax, %rdi
	movq %rcx, %rdx
	call ktg_syscall_dispatch
	popq %r11
	popq %rcx
	movq syscall_user_rsp(%rip), %rsp
	sysretq

	/*
	 * long ktg_user_run(uint64_t rip, uint64_t rsp): iretq to CPL3 at rip;
	 * comes back when something calls ktg_user_leave(val), which returns val.
	 */
	.globl ktg_user_run
ktg_user_run:
	pushq %rbx
	pushq %rbp
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, user_saved_rsp(%rip)
	pushq $(KTG_SEL_UDATA | 3)
	pushq %rsi
	pushq $0x2			/* rflags: IF off */
	pushq $(KTG_SEL_UCODE64 | 3)
	pushq %rdi
	iretq

	.globl ktg_user_leave
ktg_user_leave:
	movq %rdi, %rax
	movq user_saved_rsp(%rip), %rsp
	movl $KTG_SEL_DATA, %ecx
	movl %ecx, %ds
	movl %ecx, %es
	movl %ecx, %ss
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbp
	popq %rbx
	ret

	/* CPL3: PING with the magic, EXIT with whatever PING returned. */
	.section .user.text, "ax"
	.globl ktg_user_entry, ktg_user_end
ktg_user_entry:
	movl $KTG_SYS_PING, %eax
	movl $KTG_SYS_MAGIC, %edi
	syscall
	movq %rax, %rdi
	movl $KTG_SYS_EXIT, %eax
	syscall
	ud2
ktg_user_end:

	.section .user.bss, "aw", @nobits
	.balign 16
	.skip KTG_USER_STACK_SIZE
	.globl ktg_user_stack_top
ktg_user_stack_top:

	.section .bss
	.balign 16
	.skip KTG_KSTACK_SIZE
	.globl ktg_kstack_top
ktg_kstack_top:
user_saved_rsp:
	.skip 8
syscall_user_rsp:
	.skip 8

	.section .note.GNU-stack, "", @progbits
