/* Initial vCPU state for the Linux 64-bit and PVH entry protocols; see x86_boot.h. */
#include "vmm/core/x86_boot.h"

#include <errno.h>
#include <string.h>

#include "vmm/boot/layout.h"

#define CR0_PE (1ULL << 0)
#define CR0_ET (1ULL << 4)
#define CR0_PG (1ULL << 31)
#define CR4_PAE (1ULL << 5)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)

#define PTE_PRESENT (1ULL << 0)
#define PTE_RW      (1ULL << 1)
#define PTE_PS      (1ULL << 7)

#define MSR_IA32_SYSENTER_CS  0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_STAR              0xc0000081
#define MSR_LSTAR             0xc0000082
#define MSR_CSTAR             0xc0000083
#define MSR_SYSCALL_MASK      0xc0000084
#define MSR_KERNEL_GS_BASE    0xc0000102
#define MSR_IA32_MISC_ENABLE  0x1a0
#define MSR_MTRR_DEF_TYPE     0x2ff
#define MISC_ENABLE_FAST_STRING 1ULL
#define MTRR_ENABLE           (1ULL << 11)
#define MTRR_TYPE_WB          6ULL

/* The boot GDT; descriptors as (flags << 40 | limit/base bits), see x86_boot.h. */
static const uint64_t boot_gdt[6] = {
	[2] = 0x00af9b000000ffffULL, /* 64-bit code, present, accessed, 4 GiB */
	[3] = 0x00cf93000000ffffULL, /* 32-bit flat read/write data, accessed */
	[4] = 0x00008b0000000067ULL, /* busy 64-bit TSS: KVM needs a usable TR */
	[5] = 0x00cf9b000000ffffULL, /* 32-bit flat code for the PVH entry */
};

/* kvm_segment matching a GDT descriptor, as the CPU would load it. */
static struct kvm_segment segment_from_gdt(uint64_t desc, uint16_t selector)
{
	struct kvm_segment s = {
		.base = ((desc >> 16) & 0xffffff) | (((desc >> 56) & 0xff) << 24),
		.limit = (uint32_t)((desc & 0xffff) | (((desc >> 48) & 0xf) << 16)),
		.selector = selector,
		.type = (desc >> 40) & 0xf,
		.present = (desc >> 47) & 1,
		.dpl = (desc >> 45) & 3,
		.db = (desc >> 54) & 1,
		.s = (desc >> 44) & 1,
		.l = (desc >> 53) & 1,
		.g = (desc >> 55) & 1,
		.avl = (desc >> 52) & 1,
	};
	if (s.g)
		s.limit = (s.limit << 12) | 0xfff;
	return s;
}

int x86_boot_write_tables(const struct gmem *mem, enum boot_kind kind)
{
	if (gmem_write(mem, LAYOUT_GDT, boot_gdt, sizeof(boot_gdt)) ||
	    gmem_fill(mem, LAYOUT_IDT, 0, 8))
		return -EFAULT;
	if (kind != BOOT_LINUX64)
		return 0;
	/* PML4[0] -> PDPT; PDPT[0..3] -> PD pages; each PD maps 1 GiB in 2 MiB pages. */
	if (gmem_fill(mem, LAYOUT_PML4, 0, 4096) || gmem_fill(mem, LAYOUT_PDPT, 0, 4096) ||
	    gmem_write_le64(mem, LAYOUT_PML4, LAYOUT_PDPT | PTE_PRESENT | PTE_RW))
		return -EFAULT;
	for (uint64_t g = 0; g < LAYOUT_PD_PAGES; g++) {
		uint64_t pd = LAYOUT_PD + g * 4096;
		uint64_t entries[512];

		for (uint64_t i = 0; i < 512; i++)
			entries[i] = ((g << 30) | (i << 21)) | PTE_PRESENT | PTE_RW | PTE_PS;
		if (gmem_write_le64(mem, LAYOUT_PDPT + g * 8, pd | PTE_PRESENT | PTE_RW) ||
		    gmem_write(mem, pd, entries, sizeof(entries)))
			return -EFAULT;
	}
	return 0;
}

void x86_boot_sregs(struct kvm_sregs *sregs, enum boot_kind kind)
{
	const uint64_t *gdt = boot_gdt;
	struct kvm_segment data = segment_from_gdt(gdt[3], X86_BOOT_DS);
	struct kvm_segment code = kind == BOOT_LINUX64 ? segment_from_gdt(gdt[2], X86_BOOT_CS64)
						       : segment_from_gdt(gdt[5], X86_BOOT_CS32);

	sregs->gdt.base = LAYOUT_GDT;
	sregs->gdt.limit = sizeof(boot_gdt) - 1;
	sregs->idt.base = LAYOUT_IDT;
	sregs->idt.limit = 0;
	sregs->cs = code;
	sregs->ds = sregs->es = sregs->fs = sregs->gs = sregs->ss = data;
	sregs->tr = segment_from_gdt(gdt[4], X86_BOOT_TSS);
	sregs->ldt = (struct kvm_segment){ .type = 2, .present = 1, .limit = 0xffff };

	if (kind == BOOT_LINUX64) {
		sregs->cr3 = LAYOUT_PML4;
		sregs->cr4 = CR4_PAE;
		sregs->cr0 = CR0_PE | CR0_ET | CR0_PG;
		sregs->efer = EFER_LME | EFER_LMA;
	} else {
		/* PVH: 32-bit protected mode, paging off, CR4 clear. */
		sregs->cr3 = 0;
		sregs->cr4 = 0;
		sregs->cr0 = CR0_PE | CR0_ET;
		sregs->efer = 0;
	}
}

void x86_boot_regs(struct kvm_regs *regs, enum boot_kind kind, uint64_t entry, uint64_t boot_info)
{
	memset(regs, 0, sizeof(*regs));
	regs->rflags = 0x2; /* bit 1 is always set; IF clear */
	regs->rip = entry;
	if (kind == BOOT_LINUX64) {
		regs->rsi = boot_info;
		regs->rsp = regs->rbp = LAYOUT_BOOT_STACK;
	} else {
		regs->rbx = boot_info;
	}
}

void x86_boot_fpu(struct kvm_fpu *fpu)
{
	memset(fpu, 0, sizeof(*fpu));
	fpu->fcw = 0x37f;
	fpu->mxcsr = 0x1f80;
}

unsigned int x86_boot_msrs(struct kvm_msr_entry *entries, unsigned int max)
{
	static const struct kvm_msr_entry boot_msrs[] = {
		{ .index = MSR_IA32_SYSENTER_CS },
		{ .index = MSR_IA32_SYSENTER_ESP },
		{ .index = MSR_IA32_SYSENTER_EIP },
		{ .index = MSR_STAR },
		{ .index = MSR_LSTAR },
		{ .index = MSR_CSTAR },
		{ .index = MSR_SYSCALL_MASK },
		{ .index = MSR_KERNEL_GS_BASE },
		{ .index = MSR_IA32_MISC_ENABLE, .data = MISC_ENABLE_FAST_STRING },
		{ .index = MSR_MTRR_DEF_TYPE, .data = MTRR_ENABLE | MTRR_TYPE_WB },
	};
	unsigned int n = ARRAY_SIZE(boot_msrs) < max ? ARRAY_SIZE(boot_msrs) : max;

	memcpy(entries, boot_msrs, n * sizeof(entries[0]));
	return n;
}
