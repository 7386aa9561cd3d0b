/* Assembly helpers shared by the BSP entry (head.S) and the AP entry (trampoline.S). */
#ifndef KTG_HEAD_H
#define KTG_HEAD_H

#define PTE_P_RW    0x003
#define PTE_PCD_PWT 0x018
#define PTE_PS      0x080
#define CR0_PE      0x00000001
#define CR0_PG      0x80000000
#define CR0_CD_NW   0x60000000
#define CR4_PAE     0x00000020
#define MSR_EFER    0xc0000080
#define EFER_LME    0x00000100

/* 32-bit code, flat segments: PAE, our page tables, EFER.LME, then paging. */
#define ENABLE_LONG_MODE                 \
	movl %cr4, %eax;                 \
	orl $CR4_PAE, %eax;              \
	movl %eax, %cr4;                 \
	movl $ktg_pml4, %eax;            \
	movl %eax, %cr3;                 \
	movl $MSR_EFER, %ecx;            \
	rdmsr;                           \
	orl $EFER_LME, %eax;             \
	wrmsr;                           \
	movl %cr0, %eax;                 \
	andl $~CR0_CD_NW, %eax;          \
	orl $(CR0_PG | CR0_PE), %eax;    \
	movl %eax, %cr0

#define LOAD_DATA_SEGMENTS               \
	movl $KTG_SEL_DATA, %eax;        \
	movl %eax, %ds;                  \
	movl %eax, %es;                  \
	movl %eax, %ss;                  \
	movl %eax, %fs;                  \
	movl %eax, %gs

#endif
