/*
 * selftest=syscall: does the hypervisor carry a CPL3 SYSCALL to LSTAR at CPL0,
 * and SYSRET back, for a guest that is not Linux?  The user code (traps.S,
 * .user.text at KTG_USER_BASE) makes a PING syscall, checks nothing itself,
 * passes the reply to an EXIT syscall, and the kernel compares.  Whatever
 * happens ends in exactly one "KTG: syscall ..." result line, unless the
 * hypervisor never comes back at all ("KTG: syscall start" is then the last).
 */
#include "guest-images/testguest/hw.h"
#include "guest-images/testguest/ktg.h"

#define PTE_USER 0x4
#define PD_INDEX(addr) ((addr) >> 21)
#define USER_FAULTED (-1L)
#define SFMASK_BITS 0x4700 /* clear TF, IF, DF, NT on entry */

struct tss64 {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));

volatile int ktg_user_active;
static struct tss64 tss __attribute__((aligned(16)));
static struct exc_frame user_fault;
static uint64_t ping_rip, ping_arg;
static int pings;

uint64_t ktg_syscall_dispatch(uint64_t nr, uint64_t arg, uint64_t user_rip);

/* Called by ktg_syscall_entry (traps_entry.S) on the kernel stack. */
uint64_t ktg_syscall_dispatch(uint64_t nr, uint64_t arg, uint64_t user_rip)
{
	switch (nr) {
	case KTG_SYS_PING:
		pings++;
		ping_rip = user_rip;
		ping_arg = arg;
		return arg ^ KTG_SYS_REPLY;
	case KTG_SYS_EXIT:
		ktg_user_leave((long)arg);
	default:
		return (uint64_t)-1;
	}
}

void syscall_user_fault(const struct exc_frame *f)
{
	user_fault = *f;
	ktg_user_leave(USER_FAULTED);
}

static void syscall_tss_load(void)
{
	uint64_t base = (uint64_t)(uintptr_t)&tss, limit = sizeof(tss) - 1;

	tss.rsp[0] = (uint64_t)(uintptr_t)ktg_kstack_top;
	tss.iomap_base = sizeof(tss);
	ktg_gdt[KTG_SEL_TSS / 8] = (limit & 0xffff) | ((base & 0xffffff) << 16) |
				   (0x89ULL << 40) /* present, 64-bit TSS available */ |
				   (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
	ktg_gdt[KTG_SEL_TSS / 8 + 1] = base >> 32;
	__asm__ volatile("ltr %w0" : : "r"(KTG_SEL_TSS));
}

/* Opens the 2 MiB page at KTG_USER_BASE (and the tables above it) to CPL3. */
static void syscall_user_map(void)
{
	ktg_pml4[0] |= PTE_USER;
	ktg_pdpt[0] |= PTE_USER;
	ktg_pd[PD_INDEX(KTG_USER_BASE)] |= PTE_USER;
	write_cr3(read_cr3());
}

/* Where the round trip faulted, for the failure line. */
static const char *syscall_fault_where(const struct exc_frame *f)
{
	if ((f->cs & 3) != 3)
		return "cpl0";
	/* SYSCALL jumped to LSTAR but the CPU stayed at CPL3: the supervisor
	 * page then faults on the first fetch. */
	if (f->rip == (uint64_t)(uintptr_t)ktg_syscall_entry)
		return "lstar-cpl3";
	return "cpl3";
}

void syscall_selftest(void)
{
	uint64_t expect = KTG_SYS_MAGIC ^ KTG_SYS_REPLY;
	uint64_t urip = (uint64_t)(uintptr_t)ktg_user_entry;
	uint64_t uend = (uint64_t)(uintptr_t)ktg_user_end;
	long r;

	syscall_tss_load();
	syscall_user_map();
	wrmsr(MSR_STAR, ((uint64_t)KTG_SEL_USER_BASE << 48) | ((uint64_t)KTG_SEL_CODE64 << 32));
	wrmsr(MSR_LSTAR, (uint64_t)(uintptr_t)ktg_syscall_entry);
	wrmsr(MSR_SFMASK, SFMASK_BITS);
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);

	ktg_printf("KTG: syscall start\n");
	ktg_user_active = 1;
	r = ktg_user_run(urip, (uint64_t)(uintptr_t)ktg_user_stack_top);
	ktg_user_active = 0;

	if (r == USER_FAULTED)
		ktg_printf("KTG: syscall fail exception vec=%lu err=0x%lx rip=0x%lx cs=0x%lx pings=%d where=%s\n",
			   user_fault.vec, user_fault.err, user_fault.rip, user_fault.cs, pings,
			   syscall_fault_where(&user_fault));
	else if (pings != 1 || ping_arg != KTG_SYS_MAGIC)
		ktg_printf("KTG: syscall fail pings=%d arg=0x%lx\n", pings, ping_arg);
	else if (ping_rip < urip || ping_rip >= uend)
		ktg_printf("KTG: syscall fail rcx=0x%lx not in user code\n", ping_rip);
	else if ((uint64_t)r != expect)
		ktg_printf("KTG: syscall fail sysret reply=0x%lx want 0x%lx\n", (uint64_t)r, expect);
	else
		ktg_printf("KTG: syscall ok\n");
}
