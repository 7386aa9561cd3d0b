/* MP tables: found the way Linux finds them, checksummed, one entry per thing. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "vmm/boot/layout.h"
#include "vmm/boot/mpspec.h"
#include "vmm/boot/mptable.h"
#include "vmm/boot/test_util.h"

static struct test_mem tm;

static void setup(void)
{
	test_mem_init(&tm, 64 * MiB, 0);
}

static void teardown(void)
{
	test_mem_fini(&tm);
}

TestSuite(mptable, .init = setup, .fini = teardown);

static uint8_t sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s += *p++;
	return s;
}

/* Scans [639 KiB, 640 KiB) on 16-byte boundaries, as Linux's smp_scan_config does. */
static const struct mp_floating_pointer *find_mpf(void)
{
	for (uint64_t a = 0x9fc00; a < 0xa0000; a += 16)
		if (!memcmp(tm.low + a, "_MP_", 4))
			return (const struct mp_floating_pointer *)(tm.low + a);
	return NULL;
}

static const struct mp_config_header *check_tables(unsigned int ncpus)
{
	const struct mp_floating_pointer *fp = find_mpf();
	const struct mp_config_header *h;

	cr_assert(fp, "no floating pointer");
	cr_expect_eq(sum((const uint8_t *)fp, 16), 0, "floating pointer checksum");
	cr_expect_eq(fp->length, 1);
	cr_expect_eq(fp->spec_rev, 4);
	cr_expect_eq(fp->feature[0], 0, "config table present, no default config");
	cr_assert_lt(fp->physptr, tm.low_size);
	h = (const struct mp_config_header *)(tm.low + fp->physptr);
	cr_expect_arr_eq(h->signature, "PCMP", 4);
	cr_expect_eq(h->spec_rev, 4);
	cr_expect_arr_eq(h->oem_id, "KILN    ", 8);
	cr_expect_eq(h->lapic_addr, 0xfee00000);
	cr_expect_eq(h->length, 44 + 20 * ncpus + 8 * 28);
	cr_expect_eq(sum((const uint8_t *)h, h->length), 0, "config table checksum");
	cr_expect_eq(h->entry_count, ncpus + 28);
	cr_expect_eq(h->ext_length, 0);
	return h;
}

/* Walks the entries by type and length, as a guest would, checking each. */
static void check_entries(const struct mp_config_header *h, unsigned int ncpus)
{
	const uint8_t *p = (const uint8_t *)(h + 1), *end = (const uint8_t *)h + h->length;
	unsigned int cpus = 0, buses = 0, ioapics = 0, ioints = 0, lints = 0;

	for (unsigned int n = 0; n < h->entry_count; n++) {
		cr_assert_lt(p, end, "entry %u past the table", n);
		if (p[0] == MP_ENTRY_PROCESSOR) {
			const struct mp_processor_entry *c = (const void *)p;

			cr_expect_eq(c->apic_id, cpus);
			cr_expect_eq(c->apic_version, 0x14);
			cr_expect_eq(c->flags, cpus == 0 ? 3 : 1, "cpu %u flags", cpus);
			cr_expect_eq(c->signature, 0x600);
			cr_expect_eq(c->feature_flags, 0x201);
			cpus++;
			p += sizeof(*c);
		} else if (p[0] == MP_ENTRY_BUS) {
			const struct mp_bus_entry *b = (const void *)p;

			cr_expect_eq(b->bus_id, 0);
			cr_expect_arr_eq(b->bus_type, "ISA   ", 6);
			buses++;
			p += sizeof(*b);
		} else if (p[0] == MP_ENTRY_IOAPIC) {
			const struct mp_ioapic_entry *io = (const void *)p;

			cr_expect_eq(io->apic_id, ncpus);
			cr_expect_eq(io->apic_version, 0x11);
			cr_expect_eq(io->flags, 1);
			cr_expect_eq(io->addr, 0xfec00000);
			ioapics++;
			p += sizeof(*io);
		} else if (p[0] == MP_ENTRY_IOINT) {
			const struct mp_irq_entry *i = (const void *)p;

			cr_expect_eq(i->irq_type, MP_INT_INT);
			cr_expect_eq(i->flags, 0);
			cr_expect_eq(i->src_bus, 0);
			cr_expect_eq(i->src_irq, ioints);
			cr_expect_eq(i->dst_apic, ncpus);
			cr_expect_eq(i->dst_pin, ioints);
			ioints++;
			p += sizeof(*i);
		} else if (p[0] == MP_ENTRY_LINT) {
			const struct mp_irq_entry *l = (const void *)p;

			cr_expect_eq(l->irq_type, lints == 0 ? MP_INT_EXTINT : MP_INT_NMI);
			cr_expect_eq(l->dst_apic, 0xff);
			cr_expect_eq(l->dst_pin, lints);
			lints++;
			p += sizeof(*l);
		} else {
			cr_assert_fail("unknown entry type %u", p[0]);
		}
	}
	cr_expect_eq(p, end, "entries fill the table exactly");
	cr_expect_eq(cpus, ncpus);
	cr_expect_eq(buses, 1);
	cr_expect_eq(ioapics, 1);
	cr_expect_eq(ioints, 24);
	cr_expect_eq(lints, 2);
}

Test(mptable, one_cpu)
{
	uint64_t size = 0;

	cr_assert_eq(mptable_write(&tm.mem, LAYOUT_MPTABLE, 1, &size), 0);
	cr_expect_eq(size, 16 + 44 + 20 + 224);
	check_entries(check_tables(1), 1);
	cr_expect_eq(find_mpf()->physptr, LAYOUT_MPTABLE + 16);
}

Test(mptable, thirty_two_cpus)
{
	uint64_t size = 0;

	cr_assert_eq(mptable_write(&tm.mem, LAYOUT_MPTABLE, 32, &size), 0);
	cr_expect_eq(size, 16 + 44 + 32 * 20 + 224);
	cr_expect_leq(LAYOUT_MPTABLE + size, 0xa0000, "fits in the EBDA's kilobyte");
	check_entries(check_tables(32), 32);
}

Test(mptable, max_cpus)
{
	uint64_t size = 0;

	cr_assert_eq(mptable_write(&tm.mem, LAYOUT_MPTABLE, MPTABLE_MAX_CPUS, &size), 0);
	cr_expect_leq(LAYOUT_MPTABLE + size, LAYOUT_HIMEM_START);
	check_entries(check_tables(MPTABLE_MAX_CPUS), MPTABLE_MAX_CPUS);
}

Test(mptable, bad_cpu_counts)
{
	uint64_t size = 77;

	cr_expect_eq(mptable_write(&tm.mem, LAYOUT_MPTABLE, 0, &size), -EINVAL);
	cr_expect_eq(mptable_write(&tm.mem, LAYOUT_MPTABLE, 255, &size), -EINVAL);
	cr_expect_eq(mptable_write(&tm.mem, LAYOUT_MPTABLE, UINT32_MAX, &size), -EINVAL);
	cr_expect_eq(size, 77, "size untouched on failure");
	cr_expect_null(find_mpf(), "nothing written");
}

Test(mptable, bad_placement)
{
	static uint8_t small[512 * 1024];
	struct gmem m;

	cr_expect_eq(mptable_write(&tm.mem, LAYOUT_MPTABLE + 8, 1, NULL), -EINVAL, "misaligned");
	cr_expect_eq(mptable_write(&tm.mem, LAYOUT_MMIO_GAP_END - 0x100, 1, NULL), -EINVAL,
		     "crosses 4 GiB");
	cr_expect_eq(mptable_write(&tm.mem, 64 * MiB - 0x100, 1, NULL), -EFAULT, "past RAM");
	gmem_init(&m);
	cr_assert_eq(gmem_add_region(&m, 0, sizeof(small), small), 0);
	cr_expect_eq(mptable_write(&m, LAYOUT_MPTABLE, 1, NULL), -EFAULT, "no RAM at the EBDA");
	cr_expect_eq(mptable_write(NULL, LAYOUT_MPTABLE, 1, NULL), -EINVAL);
}
