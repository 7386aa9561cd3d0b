/*
 * Intel MultiProcessor Specification 1.4: find the floating pointer, check both
 * checksums (and the extended table's), collect the enabled processors' APIC
 * ids and the first IOAPIC.  Every walk is bounded by the table's own length.
 */
#include "guest-images/testguest/hw.h"
#include "guest-images/testguest/ktg.h"
#include "vmm/boot/layout.h"

#define MP_BDA_EBDA_SEG 0x40e /* BIOS data area: EBDA segment */
#define MP_BIOS_ROM     0xf0000
#define MP_BIOS_ROM_LEN 0x10000

#define MP_ENTRY_CPU    0
#define MP_ENTRY_BUS    1
#define MP_ENTRY_IOAPIC 2
#define MP_ENTRY_IOINT  3
#define MP_ENTRY_LINT   4
#define MP_CPU_ENABLED  0x01

struct mp_floating {
	char signature[4]; /* "_MP_" */
	uint32_t physptr;
	uint8_t length; /* in 16-byte units */
	uint8_t spec_rev;
	uint8_t checksum;
	uint8_t feature1; /* nonzero: a default configuration, no table */
	uint8_t feature2;
	uint8_t feature3[3];
} __attribute__((packed));

struct mp_config {
	char signature[4]; /* "PCMP" */
	uint16_t length;   /* base table, header included */
	uint8_t spec_rev;
	uint8_t checksum;
	char oem[8];
	char product[12];
	uint32_t oem_ptr;
	uint16_t oem_size;
	uint16_t entry_count;
	uint32_t lapic;
	uint16_t ext_length;
	uint8_t ext_checksum;
	uint8_t reserved;
} __attribute__((packed));

static uint8_t mp_sum(const uint8_t *p, uint64_t len)
{
	uint8_t s = 0;

	while (len--)
		s += *p++;
	return s;
}

/* A floating pointer with a good signature, length and checksum in [base, base+len). */
static const struct mp_floating *mp_scan(uint64_t base, uint64_t len)
{
	uint64_t off;

	if (!base || !phys_ok(base, len))
		return NULL;
	for (off = 0; off + sizeof(struct mp_floating) <= len; off += 16) {
		const struct mp_floating *f = phys(base + off);

		if (!memcmp(f->signature, "_MP_", 4) && f->length == 1 &&
		    !mp_sum((const uint8_t *)f, 16))
			return f;
	}
	return NULL;
}

static const struct mp_floating *mp_find(void)
{
	const struct mp_floating *f;
	uint64_t ebda;

	/* kiln's place, which is also the last KiB of 640 KiB base memory. */
	f = mp_scan(LAYOUT_MPTABLE, 1024);
	if (f)
		return f;
	ebda = (uint64_t)*(const volatile uint16_t *)phys(MP_BDA_EBDA_SEG) << 4;
	if (ebda != LAYOUT_MPTABLE) {
		f = mp_scan(ebda, 1024);
		if (f)
			return f;
	}
	return mp_scan(MP_BIOS_ROM, MP_BIOS_ROM_LEN);
}

/* Walks the base-table entries of cfg, whose checked header copy is hdr. */
static int mp_entries(const struct mp_config *cfg, const struct mp_config *hdr, struct ktg_mp *mp,
		      const char **why)
{
	const uint8_t *p = (const uint8_t *)cfg + sizeof(*hdr);
	const uint8_t *end = (const uint8_t *)cfg + hdr->length;
	unsigned int i;

	for (i = 0; i < hdr->entry_count; i++) {
		uint64_t size;

		if (p >= end) {
			*why = "entries-overrun-table";
			return -1;
		}
		switch (p[0]) {
		case MP_ENTRY_CPU:
			size = 20;
			break;
		case MP_ENTRY_BUS:
		case MP_ENTRY_IOAPIC:
		case MP_ENTRY_IOINT:
		case MP_ENTRY_LINT:
			size = 8;
			break;
		default:
			*why = "bad-entry-type";
			return -1;
		}
		if (size > (uint64_t)(end - p)) {
			*why = "entries-overrun-table";
			return -1;
		}
		if (p[0] == MP_ENTRY_CPU && (p[3] & MP_CPU_ENABLED)) {
			if (mp->nids < KTG_MAX_CPUS)
				mp->apic_id[mp->nids++] = p[1];
			mp->ncpus++;
		} else if (p[0] == MP_ENTRY_IOAPIC && (p[3] & 1) && !mp->have_ioapic) {
			memcpy(&mp->ioapic, p + 4, 4);
			mp->have_ioapic = 1;
		}
		p += size;
	}
	if (!mp->ncpus) {
		*why = "no-cpus";
		return -1;
	}
	return 0;
}

int mptable_parse(struct ktg_mp *mp, const char **why)
{
	const struct mp_floating *f;
	const struct mp_config *cfg;
	struct mp_config hdr;

	memset(mp, 0, sizeof(*mp));
	f = mp_find();
	if (!f) {
		*why = "no-floating-pointer";
		return -1;
	}
	if (f->feature1) {
		*why = "default-config-unsupported";
		return -1;
	}
	if (!f->physptr || !phys_ok(f->physptr, sizeof(hdr))) {
		*why = "bad-config-pointer";
		return -1;
	}
	cfg = phys(f->physptr);
	memcpy(&hdr, cfg, sizeof(hdr));
	if (memcmp(hdr.signature, "PCMP", 4)) {
		*why = "bad-config-signature";
		return -1;
	}
	if (hdr.length < sizeof(hdr) || !phys_ok(f->physptr, (uint64_t)hdr.length + hdr.ext_length)) {
		*why = "bad-config-length";
		return -1;
	}
	if (mp_sum((const uint8_t *)cfg, hdr.length)) {
		*why = "bad-config-checksum";
		return -1;
	}
	if (hdr.ext_length &&
	    (uint8_t)(mp_sum((const uint8_t *)cfg + hdr.length, hdr.ext_length) + hdr.ext_checksum)) {
		*why = "bad-ext-checksum";
		return -1;
	}
	return mp_entries(cfg, &hdr, mp, why);
}
