/*
 * Exceptions 0..31 print one panic line and reset, instead of the silent triple
 * fault an empty IDT gives.  During the syscall selftest they go back to it.
 */
#include "guest-images/testguest/hw.h"
#include "guest-images/testguest/ktg.h"

struct idt_gate {
	uint16_t off_lo;
	uint16_t sel;
	uint8_t ist;
	uint8_t type;
	uint16_t off_mid;
	uint32_t off_hi;
	uint32_t zero;
} __attribute__((packed));

struct idt_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

#define IDT_INTERRUPT_GATE 0x8e /* present, DPL 0, 64-bit interrupt gate */

static struct idt_gate idt[KTG_EXC_VECTORS] __attribute__((aligned(16)));

void traps_init(void)
{
	unsigned int i;

	for (i = 0; i < KTG_EXC_VECTORS; i++) {
		uint64_t off = (uint64_t)(uintptr_t)ktg_exc_stubs + (uint64_t)i * KTG_EXC_STUB_SIZE;

		idt[i] = (struct idt_gate){
			.off_lo = (uint16_t)off,
			.sel = KTG_SEL_CODE64,
			.type = IDT_INTERRUPT_GATE,
			.off_mid = (uint16_t)(off >> 16),
			.off_hi = (uint32_t)(off >> 32),
		};
	}
	traps_load();
}

void traps_load(void)
{
	struct idt_ptr p = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };

	__asm__ volatile("lidt %0" : : "m"(p));
}

void ktg_exception(struct exc_frame *f)
{
	if (ktg_user_active)
		syscall_user_fault(f);
	console_lock_break();
	console_printf_locked("KTG: panic exception vec=%lu err=0x%lx rip=0x%lx cs=0x%lx cr2=0x%lx\n",
			      f->vec, f->err, f->rip, f->cs, read_cr2());
	ktg_exit_reset();
}
