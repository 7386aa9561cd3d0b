/*
 * Guest ABI of the Intel MultiProcessor Specification 1.4: the floating
 * pointer, the configuration table header and the base-table entries kiln
 * writes.  Sizes asserted in mptable.c.
 */
#ifndef KILN_MPSPEC_H
#define KILN_MPSPEC_H

#include <stdint.h>

#define MP_FLOATING_SIGNATURE "_MP_"
#define MP_CONFIG_SIGNATURE   "PCMP"
#define MP_SPEC_REV_1_4       4

enum mp_entry_type {
	MP_ENTRY_PROCESSOR = 0,
	MP_ENTRY_BUS = 1,
	MP_ENTRY_IOAPIC = 2,
	MP_ENTRY_IOINT = 3,
	MP_ENTRY_LINT = 4,
};

/* Interrupt types of I/O and local interrupt entries. */
#define MP_INT_INT    0 /* vectored, from the APIC redirection table */
#define MP_INT_NMI    1
#define MP_INT_SMI    2
#define MP_INT_EXTINT 3 /* vectored by an external 8259A */

#define MP_CPU_ENABLED 0x01
#define MP_CPU_BSP     0x02
#define MP_IOAPIC_ENABLED 0x01

/* Found by the guest scanning [639 KiB, 640 KiB); 16-byte aligned. */
struct mp_floating_pointer {
	char     signature[4];  /* "_MP_" */
	uint32_t physptr;       /* configuration table */
	uint8_t  length;        /* in 16-byte units: 1 */
	uint8_t  spec_rev;      /* 4 */
	uint8_t  checksum;      /* all 16 bytes sum to 0 */
	uint8_t  feature[5];    /* feature[0] = 0: a configuration table is present */
} __attribute__((packed));

struct mp_config_header {
	char     signature[4];  /* "PCMP" */
	uint16_t length;        /* header + base entries */
	uint8_t  spec_rev;
	uint8_t  checksum;      /* the base table sums to 0 */
	char     oem_id[8];
	char     product_id[12];
	uint32_t oem_table;
	uint16_t oem_table_size;
	uint16_t entry_count;
	uint32_t lapic_addr;
	uint16_t ext_length;
	uint8_t  ext_checksum;
	uint8_t  reserved;
} __attribute__((packed));

struct mp_processor_entry {
	uint8_t  type;          /* MP_ENTRY_PROCESSOR */
	uint8_t  apic_id;
	uint8_t  apic_version;
	uint8_t  flags;         /* MP_CPU_ENABLED, MP_CPU_BSP */
	uint32_t signature;     /* CPUID family/model/stepping */
	uint32_t feature_flags; /* CPUID.1:EDX */
	uint32_t reserved[2];
} __attribute__((packed));

struct mp_bus_entry {
	uint8_t  type;          /* MP_ENTRY_BUS */
	uint8_t  bus_id;
	char     bus_type[6];   /* "ISA   " */
} __attribute__((packed));

struct mp_ioapic_entry {
	uint8_t  type;          /* MP_ENTRY_IOAPIC */
	uint8_t  apic_id;
	uint8_t  apic_version;
	uint8_t  flags;         /* MP_IOAPIC_ENABLED */
	uint32_t addr;
} __attribute__((packed));

/* MP_ENTRY_IOINT and MP_ENTRY_LINT share this layout. */
struct mp_irq_entry {
	uint8_t  type;
	uint8_t  irq_type;      /* MP_INT_* */
	uint16_t flags;         /* polarity/trigger; 0 = conforming to the bus */
	uint8_t  src_bus;
	uint8_t  src_irq;
	uint8_t  dst_apic;      /* 0xff on a LINT entry: every local APIC */
	uint8_t  dst_pin;       /* IOAPIC pin, or LINT0/LINT1 */
} __attribute__((packed));

#endif
