/* Bounds-checked guest-memory accessors; see gmem.h for the contract. */
#include "vmm/mem/gmem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void gmem_init(struct gmem *mem)
{
	memset(mem, 0, sizeof(*mem));
}

int gmem_add_region(struct gmem *mem, uint64_t gpa, uint64_t size, void *host)
{
	unsigned int i, pos;

	if (!size || !host || gpa + size < gpa)
		return -EINVAL;
	if (mem->nr_regions >= GMEM_MAX_REGIONS)
		return -ENOSPC;
	for (i = 0; i < mem->nr_regions; i++) {
		const struct gmem_region *r = &mem->regions[i];
		/* Both ranges are non-empty and non-wrapping, so this is exact. */
		if (gpa < r->gpa + r->size && r->gpa < gpa + size)
			return -EINVAL;
	}
	for (pos = 0; pos < mem->nr_regions && mem->regions[pos].gpa < gpa; pos++)
		;
	memmove(&mem->regions[pos + 1], &mem->regions[pos],
		(mem->nr_regions - pos) * sizeof(mem->regions[0]));
	mem->regions[pos] = (struct gmem_region){ .gpa = gpa, .size = size, .host = host };
	mem->nr_regions++;
	return 0;
}

/* The region holding all of [gpa, gpa + len), or NULL.  len may be 0. */
static const struct gmem_region *find_region(const struct gmem *mem, uint64_t gpa, uint64_t len)
{
	unsigned int i;

	if (gpa + len < gpa)
		return NULL;
	for (i = 0; i < mem->nr_regions; i++) {
		const struct gmem_region *r = &mem->regions[i];
		/* gpa - r->gpa cannot underflow once gpa >= r->gpa, and the
		 * remaining-size comparison cannot overflow. */
		if (gpa >= r->gpa && gpa - r->gpa < r->size && len <= r->size - (gpa - r->gpa))
			return r;
	}
	return NULL;
}

int gmem_range_ok(const struct gmem *mem, uint64_t gpa, uint64_t len)
{
	return find_region(mem, gpa, len) != NULL;
}

/* Pages of a region's dirty bitmap, and its length in 64-bit words. */
static uint64_t region_pages(const struct gmem_region *r)
{
	return (r->size + GMEM_DIRTY_PAGE - 1) / GMEM_DIRTY_PAGE;
}

/* Marks [gpa, gpa + len) (len > 0, inside r) in r's bitmap, if any. */
static void region_mark(const struct gmem_region *r, uint64_t gpa, uint64_t len)
{
	uint64_t first, last;

	if (!r->dirty)
		return;
	first = (gpa - r->gpa) / GMEM_DIRTY_PAGE;
	last = (gpa - r->gpa + len - 1) / GMEM_DIRTY_PAGE;
	for (uint64_t p = first; p <= last; p++) {
		uint64_t bit = 1ULL << (p % 64), *w = &r->dirty[p / 64];

		/* A plain load first: the common case is a page marked already,
		 * and an atomic RMW on a shared line costs more than the test. */
		if (!(__atomic_load_n(w, __ATOMIC_RELAXED) & bit))
			__atomic_fetch_or(w, bit, __ATOMIC_RELAXED);
	}
}

int gmem_slice_ro(const struct gmem *mem, uint64_t gpa, size_t len, const void **host)
{
	const struct gmem_region *r;

	if (!len)
		return -EFAULT;
	r = find_region(mem, gpa, len);
	if (!r)
		return -EFAULT;
	*host = r->host + (gpa - r->gpa);
	return 0;
}

int gmem_slice(const struct gmem *mem, uint64_t gpa, size_t len, void **host)
{
	const struct gmem_region *r;

	if (!len)
		return -EFAULT;
	r = find_region(mem, gpa, len);
	if (!r)
		return -EFAULT;
	region_mark(r, gpa, len);
	*host = r->host + (gpa - r->gpa);
	return 0;
}

int gmem_read(const struct gmem *mem, uint64_t gpa, void *dst, size_t len)
{
	const void *src;

	if (!len)
		return 0;
	if (gmem_slice_ro(mem, gpa, len, &src))
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

int gmem_write(const struct gmem *mem, uint64_t gpa, const void *src, size_t len)
{
	void *dst;

	if (!len)
		return 0;
	if (gmem_slice(mem, gpa, len, &dst))
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

int gmem_fill(const struct gmem *mem, uint64_t gpa, int c, size_t len)
{
	void *dst;

	if (!len)
		return 0;
	if (gmem_slice(mem, gpa, len, &dst))
		return -EFAULT;
	memset(dst, c, len);
	return 0;
}

int gmem_discard(const struct gmem *mem, uint64_t gpa, uint64_t len)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	const struct gmem_region *r;
	uint8_t *host;

	if (!len || (gpa | len) & (page - 1))
		return -EINVAL;
	r = find_region(mem, gpa, len);
	if (!r)
		return -EFAULT;
	host = r->host + (gpa - r->gpa);
	if ((uintptr_t)host & (page - 1))
		return -EINVAL;
	/* Marked before: should madvise drop some pages and then fail, they
	 * changed all the same. */
	region_mark(r, gpa, len);
	if (madvise(host, len, MADV_DONTNEED))
		return -errno;
	return 0;
}

int gmem_dirty_enable(struct gmem *mem)
{
	for (unsigned int i = 0; i < mem->nr_regions; i++) {
		struct gmem_region *r = &mem->regions[i];

		if (r->dirty)
			continue;
		r->dirty = calloc((region_pages(r) + 63) / 64, sizeof(uint64_t));
		if (!r->dirty) {
			gmem_dirty_disable(mem);
			return -ENOMEM;
		}
	}
	return 0;
}

void gmem_dirty_disable(struct gmem *mem)
{
	for (unsigned int i = 0; i < mem->nr_regions; i++) {
		free(mem->regions[i].dirty);
		mem->regions[i].dirty = NULL;
	}
}

int gmem_dirty_enabled(const struct gmem *mem)
{
	return mem->nr_regions && mem->regions[0].dirty != NULL;
}

void gmem_dirty_mark(const struct gmem *mem, uint64_t gpa, uint64_t len)
{
	const struct gmem_region *r;

	if (!len)
		return;
	r = find_region(mem, gpa, len);
	if (r)
		region_mark(r, gpa, len);
}

int gmem_dirty_take(const struct gmem *mem, unsigned int region, uint64_t *bitmap)
{
	const struct gmem_region *r;
	uint64_t words;

	if (region >= mem->nr_regions)
		return -ENOENT;
	r = &mem->regions[region];
	if (!r->dirty)
		return -ENODATA;
	words = (region_pages(r) + 63) / 64;
	for (uint64_t i = 0; i < words; i++)
		bitmap[i] |= __atomic_exchange_n(&r->dirty[i], 0, __ATOMIC_RELAXED);
	return 0;
}

uint64_t gmem_end(const struct gmem *mem)
{
	const struct gmem_region *r;

	if (!mem->nr_regions)
		return 0;
	r = &mem->regions[mem->nr_regions - 1];
	return r->gpa + r->size;
}

uint64_t gmem_total(const struct gmem *mem)
{
	uint64_t total = 0;
	unsigned int i;

	for (i = 0; i < mem->nr_regions; i++)
		total += mem->regions[i].size;
	return total;
}
