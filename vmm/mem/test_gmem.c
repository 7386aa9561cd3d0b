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
