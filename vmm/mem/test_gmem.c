/* Unit tests for the guest-memory accessors: every way an address can be wrong. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "vmm/mem/gmem.h"

static uint8_t low[0x1000], high[0x2000];
static struct gmem mem;

static void setup(void)
{
	gmem_init(&mem);
	memset(low, 0, sizeof(low));
	memset(high, 0, sizeof(high));
	cr_assert_eq(gmem_add_region(&mem, 0x10000, sizeof(high), high), 0);
	cr_assert_eq(gmem_add_region(&mem, 0, sizeof(low), low), 0);
}

TestSuite(gmem, .init = setup);

Test(gmem, regions_sorted_and_sized)
{
	cr_assert_eq(mem.nr_regions, 2);
	cr_assert_eq(mem.regions[0].gpa, 0);
	cr_assert_eq(gmem_end(&mem), 0x12000);
	cr_assert_eq(gmem_total(&mem), 0x3000);
}

Test(gmem, add_refuses_bad_regions)
{
	uint8_t buf[16];
	cr_assert_eq(gmem_add_region(&mem, 0x800, 0x1000, buf), -EINVAL, "overlap");
	cr_assert_eq(gmem_add_region(&mem, 0x20000, 0, buf), -EINVAL, "zero size");
	cr_assert_eq(gmem_add_region(&mem, UINT64_MAX - 4, 16, buf), -EINVAL, "wraps");
	cr_assert_eq(gmem_add_region(&mem, 0x20000, 16, NULL), -EINVAL, "no host");
	for (int i = 0; i < GMEM_MAX_REGIONS - 2; i++)
		cr_assert_eq(gmem_add_region(&mem, 0x100000 + i * 0x100, 16, buf), 0);
	cr_assert_eq(gmem_add_region(&mem, 0x200000, 16, buf), -ENOSPC);
}

Test(gmem, read_write_roundtrip)
{
	uint32_t v = 0;
	cr_assert_eq(gmem_write_le32(&mem, 0x10ffc, 0xdeadbeef), 0);
	cr_assert_eq(gmem_read_le32(&mem, 0x10ffc, &v), 0);
	cr_assert_eq(v, 0xdeadbeef);
	cr_assert_eq(high[0xffc], 0xef);
}

Test(gmem, refuses_out_of_range_and_straddling)
{
	uint8_t buf[32] = { 0 };
	void *p;
	cr_assert_eq(gmem_read(&mem, 0x1000, buf, 1), -EFAULT, "in the hole");
	cr_assert_eq(gmem_read(&mem, 0xff0, buf, 32), -EFAULT, "straddles region end");
	cr_assert_eq(gmem_write(&mem, 0x11ff0, buf, 32), -EFAULT, "straddles last end");
	cr_assert_eq(gmem_write(&mem, 0x12000, buf, 1), -EFAULT, "one past the end");
	cr_assert_eq(gmem_slice(&mem, UINT64_MAX, 2, &p), -EFAULT, "gpa + len wraps");
	cr_assert_eq(gmem_slice(&mem, 0x10000, 0, &p), -EFAULT, "zero-length slice");
	cr_assert_eq(gmem_fill(&mem, 0x10000, 0xaa, 0x2001), -EFAULT, "longer than region");
	cr_assert_eq(high[0], 0, "failed fill touched nothing");
}

Test(gmem, slice_points_into_region)
{
	void *p;
	cr_assert_eq(gmem_slice(&mem, 0x11000, 0x1000, &p), 0);
	cr_assert_eq(p, high + 0x1000);
	cr_assert(gmem_range_ok(&mem, 0x11fff, 1));
	cr_assert_not(gmem_range_ok(&mem, 0x11fff, 2));
}

/* Resident pages of [p, p + len), by mincore(2). */
static unsigned int resident_pages(void *p, size_t len)
{
	unsigned char vec[64];
	unsigned int n = 0;

	cr_assert_leq(len / 4096, sizeof(vec));
	cr_assert_eq(mincore(p, len, vec), 0);
	for (size_t i = 0; i < len / 4096; i++)
		n += vec[i] & 1;
	return n;
}

Test(gmem, discard_releases_whole_pages)
{
	struct gmem m;
	uint8_t *ram = mmap(NULL, 16 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	cr_assert_neq(ram, MAP_FAILED);
	gmem_init(&m);
	cr_assert_eq(gmem_add_region(&m, 0x100000, 8 * 4096, ram), 0);
	cr_assert_eq(gmem_add_region(&m, 0x200000, 8 * 4096, ram + 8 * 4096), 0);
	memset(ram, 0x5a, 16 * 4096);
	cr_assert_eq(resident_pages(ram, 16 * 4096), 16);

	cr_assert_eq(gmem_discard(&m, 0x102000, 3 * 4096), 0);
	cr_assert_eq(resident_pages(ram, 16 * 4096), 13, "three pages released");
	cr_assert_eq(ram[2 * 4096], 0, "a discarded page reads zero");
	cr_assert_eq(ram[5 * 4096 - 1], 0);
	cr_assert_eq(ram[2 * 4096 - 1], 0x5a, "its neighbours keep their bytes");
	cr_assert_eq(ram[5 * 4096], 0x5a);
	cr_assert_eq(resident_pages(ram, 16 * 4096), 15, "reading faults zero pages back in");

	cr_assert_eq(gmem_discard(&m, 0x100800, 4096), -EINVAL, "unaligned gpa");
	cr_assert_eq(gmem_discard(&m, 0x100000, 100), -EINVAL, "unaligned length");
	cr_assert_eq(gmem_discard(&m, 0x100000, 0), -EINVAL, "empty");
	cr_assert_eq(gmem_discard(&m, 0x106000, 3 * 4096), -EFAULT, "past the region end");
	cr_assert_eq(gmem_discard(&m, 0x1ff000, 2 * 4096), -EFAULT, "in the hole");
	cr_assert_eq(gmem_discard(&m, UINT64_MAX & ~4095ULL, 4096 * 2), -EFAULT, "wraps");
	cr_assert_eq(ram[0x6000], 0x5a, "refused discards touched nothing");
	cr_assert_eq(ram[8 * 4096], 0x5a, "the second region is untouched");
	munmap(ram, 16 * 4096);
}

Test(gmem, discard_refuses_unaligned_host_memory)
{
	struct gmem m;

	gmem_init(&m);
	cr_assert_eq(gmem_add_region(&m, 0, 0x1000, high + 1), 0); /* off a page boundary whatever high is */
	cr_assert_eq(gmem_discard(&m, 0, 0x1000), -EINVAL);
}

/* ---- dirty tracking --------------------------------------------------------- */

/* The dirty bits of region i as one word (the test regions have <= 64 pages). */
static uint64_t take_word(const struct gmem *m, unsigned int i)
{
	uint64_t bits = 0;

	cr_assert_eq(gmem_dirty_take(m, i, &bits), 0);
	return bits;
}

static struct gmem dm;
static uint8_t *dram;

static void dirty_setup(void)
{
	dram = mmap(NULL, 24 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(dram, MAP_FAILED);
	gmem_init(&dm);
	cr_assert_eq(gmem_add_region(&dm, 0x100000, 16 * 4096, dram), 0);
	cr_assert_eq(gmem_add_region(&dm, 0x400000, 8 * 4096 - 100, dram + 16 * 4096), 0); /* partial last page */
	cr_assert_eq(gmem_dirty_enable(&dm), 0);
}

static void dirty_teardown(void)
{
	gmem_dirty_disable(&dm);
	munmap(dram, 24 * 4096);
}

TestSuite(gmem_dirty, .init = dirty_setup, .fini = dirty_teardown);

Test(gmem_dirty, off_until_enabled_and_after_disable)
{
	struct gmem m;
	uint64_t bits = 0;

	gmem_init(&m);
	cr_assert_eq(gmem_add_region(&m, 0, sizeof(low), low), 0);
	cr_assert_not(gmem_dirty_enabled(&m));
	cr_assert_eq(gmem_write_le32(&m, 0, 1), 0, "writes work untracked");
	cr_assert_eq(gmem_dirty_take(&m, 0, &bits), -ENODATA);
	cr_assert_eq(gmem_dirty_take(&m, 1, &bits), -ENOENT);
	cr_assert_eq(gmem_dirty_enable(&m), 0);
	cr_assert_eq(gmem_dirty_enable(&m), 0, "idempotent");
	cr_assert(gmem_dirty_enabled(&m));
	cr_assert_eq(gmem_write_le32(&m, 0, 1), 0);
	cr_assert_eq(take_word(&m, 0), 1);
	gmem_dirty_disable(&m);
	cr_assert_not(gmem_dirty_enabled(&m));
	cr_assert_eq(gmem_dirty_take(&m, 0, &bits), -ENODATA);
}

Test(gmem_dirty, write_and_fill_mark_exactly_their_pages)
{
	uint8_t buf[4097] = { 1 };

	cr_assert_eq(take_word(&dm, 0), 0, "nothing dirty at first");
	cr_assert_eq(gmem_write(&dm, 0x100000 + 3 * 4096 + 4095, buf, 2), 0); /* straddles pages 3 and 4 */
	cr_assert_eq(gmem_fill(&dm, 0x100000 + 9 * 4096, 0xaa, 4096), 0);      /* exactly page 9 */
	cr_assert_eq(gmem_write(&dm, 0x400000 + 7 * 4096, buf, 10), 0);         /* the partial page */
	cr_assert_eq(take_word(&dm, 0), (1u << 3) | (1u << 4) | (1u << 9));
	cr_assert_eq(take_word(&dm, 0), 0, "take clears");
	cr_assert_eq(take_word(&dm, 1), 1u << 7);
	cr_assert_eq(gmem_write(&dm, 0x100000 + 15 * 4096, buf, sizeof(buf)), -EFAULT, "past the end");
	cr_assert_eq(gmem_write(&dm, 0x100000, buf, 0), 0);
	cr_assert_eq(take_word(&dm, 0), 0, "refused and empty writes mark nothing");
}

Test(gmem_dirty, reads_do_not_mark_slices_do)
{
	uint8_t buf[64];
	const void *ro;
	void *rw;

	cr_assert_eq(gmem_read(&dm, 0x100000 + 5 * 4096, buf, sizeof(buf)), 0);
	cr_assert_eq(gmem_slice_ro(&dm, 0x100000 + 6 * 4096, 4096, &ro), 0);
	cr_assert_eq(ro, dram + 6 * 4096);
	cr_assert_eq(take_word(&dm, 0), 0, "reads mark nothing");
	/* A writable slice may be written any time after: it marks its range. */
	cr_assert_eq(gmem_slice(&dm, 0x100000 + 10 * 4096 + 8, 2 * 4096, &rw), 0);
	cr_assert_eq(take_word(&dm, 0), (1u << 10) | (1u << 11) | (1u << 12));
	cr_assert_eq(gmem_slice_ro(&dm, 0x100000 + 15 * 4096, 8192, &ro), -EFAULT);
}

Test(gmem_dirty, explicit_mark_and_discard)
{
	gmem_dirty_mark(&dm, 0x100000 + 2 * 4096, 1);
	gmem_dirty_mark(&dm, 0x100000 + 15 * 4096, 2 * 4096); /* leaves the region: ignored */
	gmem_dirty_mark(&dm, 0x200000, 8);                     /* the hole: ignored */
	gmem_dirty_mark(&dm, 0x100000, 0);
	cr_assert_eq(take_word(&dm, 0), 1u << 2);
	/* The balloon's discard turns pages into zeros: that is a change. */
	cr_assert_eq(gmem_discard(&dm, 0x100000 + 12 * 4096, 2 * 4096), 0);
	cr_assert_eq(take_word(&dm, 0), (1u << 12) | (1u << 13));
	cr_assert_eq(gmem_discard(&dm, 0x100000 + 15 * 4096, 2 * 4096), -EFAULT);
	cr_assert_eq(take_word(&dm, 0), 0);
}

Test(gmem_dirty, take_ors_into_the_callers_bitmap)
{
	uint64_t bits = 1u << 0; /* what KVM's log said */

	cr_assert_eq(gmem_write_le16(&dm, 0x100000 + 1 * 4096, 7), 0);
	cr_assert_eq(gmem_dirty_take(&dm, 0, &bits), 0);
	cr_assert_eq(bits, 3u, "merged, KVM's bit kept");
}
