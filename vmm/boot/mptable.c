/*
 * MP tables: the guest's view of CPUs, the IOAPIC and IRQ routing when it has
 * no ACPI.  Built in a host buffer (checksums need the finished bytes) and
 * written with one gmem_write.
 */
#include "vmm/boot/mptable.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "vmm/boot/layout.h"
#include "vmm/boot/mpspec.h"

_Static_assert(sizeof(struct mp_floating_pointer) == 16, "MP floating pointer size");
_Static_assert(sizeof(struct mp_config_header) == 44, "MP config header size");
_Static_assert(sizeof(struct mp_processor_entry) == 20, "MP processor entry size");
_Static_assert(sizeof(struct mp_bus_entry) == 8, "MP bus entry size");
_Static_assert(sizeof(struct mp_ioapic_entry) == 8, "MP IOAPIC entry size");
_Static_assert(sizeof(struct mp_irq_entry) == 8, "MP interrupt entry size");

#define MP_IRQS        24    /* IOAPIC pins, all routed 1:1 */
#define MP_ISA_BUS     0
#define APIC_VERSION   0x14  /* integrated xAPIC */
#define IOAPIC_VERSION 0x11
#define CPU_SIGNATURE  0x600 /* family 6 */
#define CPU_FEATURES   0x201 /* CPUID.1:EDX FPU | APIC */
#define MP_ALL_APICS   0xff

#define MP_CONFIG_SIZE(ncpus)                                                   \
	(sizeof(struct mp_config_header) +                                      \
	 (ncpus) * sizeof(struct mp_processor_entry) + sizeof(struct mp_bus_entry) + \
	 sizeof(struct mp_ioapic_entry) + (MP_IRQS + 2) * sizeof(struct mp_irq_entry))
#define MP_MAX_SIZE (sizeof(struct mp_floating_pointer) + MP_CONFIG_SIZE(MPTABLE_MAX_CPUS))
_Static_assert(MP_CONFIG_SIZE(MPTABLE_MAX_CPUS) <= UINT16_MAX, "config length fits 16 bits");
/* The table may run past 0xa0000 for many CPUs; it must stay in the legacy hole,
 * which e820 does not report as RAM, so the guest never reuses it. */
_Static_assert(LAYOUT_MPTABLE + MP_MAX_SIZE <= LAYOUT_HIMEM_START, "MP table stays below 1 MiB");

static uint8_t mp_checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	while (len--)
		sum += *p++;
	return (uint8_t)-sum;
}

struct mp_buf {
	uint8_t bytes[MP_MAX_SIZE];
	size_t len;
};

/* Callers never exceed MP_MAX_SIZE: ncpus is checked before anything is added. */
static void mp_put(struct mp_buf *b, const void *entry, size_t len)
{
	memcpy(b->bytes + b->len, entry, len);
	b->len += len;
}

static void mp_put_cpus(struct mp_buf *b, unsigned int ncpus)
{
	unsigned int i;

	for (i = 0; i < ncpus; i++) {
		struct mp_processor_entry cpu = {
			.type = MP_ENTRY_PROCESSOR,
			.apic_id = (uint8_t)i,
			.apic_version = APIC_VERSION,
			.flags = MP_CPU_ENABLED | (i == 0 ? MP_CPU_BSP : 0),
			.signature = CPU_SIGNATURE,
			.feature_flags = CPU_FEATURES,
		};
		mp_put(b, &cpu, sizeof(cpu));
	}
}

static void mp_put_bus_ioapic(struct mp_buf *b, uint8_t ioapic_id)
{
	struct mp_bus_entry bus = { .type = MP_ENTRY_BUS, .bus_id = MP_ISA_BUS };
	struct mp_ioapic_entry ioapic = {
		.type = MP_ENTRY_IOAPIC,
		.apic_id = ioapic_id,
		.apic_version = IOAPIC_VERSION,
		.flags = MP_IOAPIC_ENABLED,
		.addr = (uint32_t)LAYOUT_IOAPIC,
	};

	memcpy(bus.bus_type, "ISA   ", sizeof(bus.bus_type));
	mp_put(b, &bus, sizeof(bus));
	mp_put(b, &ioapic, sizeof(ioapic));
}

static void mp_put_irqs(struct mp_buf *b, uint8_t ioapic_id)
{
	struct mp_irq_entry irq = { .type = MP_ENTRY_IOINT, .irq_type = MP_INT_INT,
				    .src_bus = MP_ISA_BUS, .dst_apic = ioapic_id };
	struct mp_irq_entry lint = { .type = MP_ENTRY_LINT, .src_bus = MP_ISA_BUS,
				     .dst_apic = MP_ALL_APICS };
	unsigned int i;

	/* Flags 0 (conforming: edge, active high on ISA) for all 24 pins: kiln's
	 * interrupts are all edge-triggered; Linux fixes up the PIT's pin itself. */
	for (i = 0; i < MP_IRQS; i++) {
		irq.src_irq = (uint8_t)i;
		irq.dst_pin = (uint8_t)i;
		mp_put(b, &irq, sizeof(irq));
	}
	/* The 8259A's output reaches the CPUs on LINT0, NMI on LINT1 (virtual wire). */
	lint.irq_type = MP_INT_EXTINT;
	lint.dst_pin = 0;
	mp_put(b, &lint, sizeof(lint));
	lint.irq_type = MP_INT_NMI;
	lint.dst_pin = 1;
	mp_put(b, &lint, sizeof(lint));
}

/* Config table at b->bytes[at]: header, then entries; length and checksum last. */
static void mp_put_config(struct mp_buf *b, size_t at, unsigned int ncpus)
{
	struct mp_config_header hdr = {
		.spec_rev = MP_SPEC_REV_1_4,
		.lapic_addr = (uint32_t)LAYOUT_LAPIC,
		.entry_count = (uint16_t)(ncpus + 1 + 1 + MP_IRQS + 2),
	};

	memcpy(hdr.signature, MP_CONFIG_SIGNATURE, sizeof(hdr.signature));
	memcpy(hdr.oem_id, "KILN    ", sizeof(hdr.oem_id));
	memcpy(hdr.product_id, "MICROVM     ", sizeof(hdr.product_id));
	b->len = at + sizeof(hdr);
	mp_put_cpus(b, ncpus);
	/* IOAPIC id follows the CPUs' APIC ids so they never collide. */
	mp_put_bus_ioapic(b, (uint8_t)ncpus);
	mp_put_irqs(b, (uint8_t)ncpus);
	hdr.length = (uint16_t)(b->len - at);
	memcpy(b->bytes + at, &hdr, sizeof(hdr));
	b->bytes[at + offsetof(struct mp_config_header, checksum)] = mp_checksum(b->bytes + at, hdr.length);
}

int mptable_write(const struct gmem *mem, uint64_t addr, unsigned int ncpus, uint64_t *size_out)
{
	struct mp_floating_pointer fp = { .length = 1, .spec_rev = MP_SPEC_REV_1_4 };
	struct mp_buf b;
	size_t total;

	if (!mem || ncpus == 0 || ncpus > MPTABLE_MAX_CPUS)
		return -EINVAL;
	total = sizeof(fp) + MP_CONFIG_SIZE(ncpus);
	/* The floating pointer must be 16-byte aligned, and physptr is 32 bits. */
	if (addr % 16 || addr > LAYOUT_MMIO_GAP_END - total)
		return -EINVAL;
	if (!gmem_range_ok(mem, addr, total))
		return -EFAULT;

	memset(&b, 0, sizeof(b));
	mp_put_config(&b, sizeof(fp), ncpus);
	memcpy(fp.signature, MP_FLOATING_SIGNATURE, sizeof(fp.signature));
	fp.physptr = (uint32_t)(addr + sizeof(fp));
	memcpy(b.bytes, &fp, sizeof(fp));
	b.bytes[offsetof(struct mp_floating_pointer, checksum)] = mp_checksum(b.bytes, sizeof(fp));

	if (gmem_write(mem, addr, b.bytes, b.len))
		return -EFAULT;
	if (size_out)
		*size_out = b.len;
	return 0;
}
