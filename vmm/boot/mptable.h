/*
 * Intel MultiProcessor Specification 1.4 tables, so the guest finds its CPUs,
 * the IOAPIC and the ISA interrupt routing without ACPI.
 */
#ifndef KILN_MPTABLE_H
#define KILN_MPTABLE_H

#include <stdint.h>

#include "vmm/compiler.h"
#include "vmm/mem/gmem.h"

#define MPTABLE_MAX_CPUS 254

/*
 * Writes at addr (LAYOUT_MPTABLE) an MP floating pointer followed by a
 * configuration table: one processor entry per vCPU (APIC ids 0..ncpus-1, the
 * first marked BSP), one ISA bus, one IOAPIC (id ncpus, version 0x11, at
 * LAYOUT_IOAPIC), I/O interrupt entries for IRQ 0..23 (ISA 0..15 as ISA, edge,
 * active high; 16..23 level, active low is NOT used: kiln's virtio IRQs are
 * edge-triggered, so all 24 are routed 1:1 as ISA-compatible), and local
 * interrupt entries for ExtINT (LINT0) and NMI (LINT1).  Checksums filled in.
 * Returns 0, -EINVAL for ncpus 0 or above MPTABLE_MAX_CPUS (APIC ids 0..253, the
 * IOAPIC takes ncpus, 0xff is broadcast), for an addr not 16-byte aligned or a
 * table that would end above 4 GiB (the pointers are 32 bits), -EFAULT when it
 * does not fit in guest memory.  *size_out (may be NULL) receives the bytes
 * written: 16 + 44 + 20 * ncpus + 8 * 28.  For more than 37 CPUs the table runs
 * past 0xa0000 into the legacy hole, which the e820 map does not report as RAM.
 */
int mptable_write(const struct gmem *mem, uint64_t addr, unsigned int ncpus, uint64_t *size_out) __must_check;

#endif
