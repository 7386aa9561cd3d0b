/*
 * AP start-up: copy the real-mode trampoline below 1 MiB, INIT + SIPI + SIPI
 * each AP of the MP table through the xAPIC ICR, wait (bounded) until each has
 * reported in.  APs then run the work smp_start() was given, if any, and park
 * in cli;hlt.
 */
#include "guest-images/testguest/hw.h"
#include "guest-images/testguest/ktg.h"
#include "vmm/boot/layout.h"

#define LAPIC_ID      0x20
#define LAPIC_SVR     0xf0
#define LAPIC_ICR_LO  0x300
#define LAPIC_ICR_HI  0x310
#define SVR_ENABLE    0x100
#define SVR_VECTOR    0xff
#define ICR_INIT      0x00004500 /* INIT, level assert, physical destination */
#define ICR_STARTUP   0x00004600 /* SIPI; the vector is the trampoline page */
#define ICR_BUSY      0x00001000 /* delivery status: send pending */
#define ICR_POLL_MAX  100000

static uint32_t ap_online;
static ktg_ap_work_fn ap_work; /* set before the first SIPI */

static uint32_t lapic_read(uint32_t reg)
{
	return mmio_read32(LAYOUT_LAPIC + reg);
}

static void lapic_write(uint32_t reg, uint32_t v)
{
	mmio_write32(LAYOUT_LAPIC + reg, v);
}

static uint32_t lapic_id(void)
{
	return lapic_read(LAPIC_ID) >> 24;
}

/* Returns 0 once the ICR has accepted the IPI, -1 if it stays busy. */
static int lapic_ipi(uint8_t apic_id, uint32_t icr)
{
	unsigned int i;

	lapic_write(LAPIC_ICR_HI, (uint32_t)apic_id << 24);
	lapic_write(LAPIC_ICR_LO, icr);
	for (i = 0; i < ICR_POLL_MAX; i++) {
		if (!(lapic_read(LAPIC_ICR_LO) & ICR_BUSY))
			return 0;
		cpu_pause();
	}
	return -1;
}

void ktg_ap_main(void)
{
	traps_load();
	console_lock();
	uint32_t a, b, c, d, xa, xb, xc, x2id, cpu;

	/* The ids CPUID gives must match the LAPIC's: Linux builds its topology
	 * from them. */
	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
	__asm__ volatile("cpuid" : "=a"(xa), "=b"(xb), "=c"(xc), "=d"(x2id) : "a"(0xb), "c"(0));
	console_printf_locked("KTG: cpu %u online cpuid_apic=%u x2apic=%u\n", lapic_id(), b >> 24, x2id);
	/* Counted under the lock: once the BSP sees the count, the line is out.
	 * The count also numbers the APs from 1 (the BSP is CPU 0). */
	cpu = __atomic_add_fetch(&ap_online, 1, __ATOMIC_RELEASE);
	console_unlock();
	if (ap_work)
		ap_work(cpu);
	cpu_halt_forever();
}

uint32_t smp_aps_online(void)
{
	return __atomic_load_n(&ap_online, __ATOMIC_ACQUIRE);
}

void smp_start(const struct ktg_mp *mp, ktg_ap_work_fn work)
{
	uint32_t self, sent = 0, online = 0, i;
	uint32_t sipi = ICR_STARTUP | (KTG_TRAMPOLINE >> 12);
	unsigned long spins;

	memcpy(phys(KTG_TRAMPOLINE), ktg_trampoline_start,
	       (size_t)(ktg_trampoline_end - ktg_trampoline_start));
	ap_work = work;
	lapic_write(LAPIC_SVR, SVR_ENABLE | SVR_VECTOR);
	self = lapic_id();
	for (i = 0; i < mp->nids; i++) {
		uint8_t id = mp->apic_id[i];

		if (id == self)
			continue;
		if (lapic_ipi(id, ICR_INIT) || lapic_ipi(id, sipi) || lapic_ipi(id, sipi)) {
			ktg_printf("KTG: smp error ipi-stuck apic=%u\n", id);
			continue;
		}
		sent++;
	}
	for (spins = 0; spins < KTG_AP_WAIT_SPINS; spins++) {
		online = __atomic_load_n(&ap_online, __ATOMIC_ACQUIRE);
		if (online >= sent)
			break;
		cpu_pause();
	}
	/* Counts include the BSP, so they compare with "mptable cpus=". */
	if (online < sent)
		ktg_printf("KTG: smp timeout online=%u/%u\n", online + 1, mp->ncpus);
	else
		ktg_printf("KTG: smp online=%u\n", online + 1);
}
