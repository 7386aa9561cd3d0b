/*
 * Guest memory: the one door through which kiln touches guest RAM.
 *
 * A struct gmem is a small table of non-overlapping regions, each a range of
 * guest-physical addresses backed by host memory the caller owns (an anonymous
 * mapping in the VMM, a malloc'd buffer in tests and fuzz targets).  Every
 * accessor checks the start address, that gpa + len does not overflow, and that
 * the whole range lies inside a single region; on failure it returns -EFAULT and
 * touches nothing.  Nothing else in kiln turns a guest address into a pointer.
 *
 * The table is written only while the VM is built (gmem_add_region) and is
 * read-only afterwards, so lookups need no lock.
 */
#ifndef KILN_GMEM_H
#define KILN_GMEM_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/compiler.h"

#define GMEM_MAX_REGIONS 8

struct gmem_region {
	uint64_t gpa;  /* first guest-physical address */
	uint64_t size; /* bytes, > 0 */
	uint8_t *host; /* host address of gpa */
};

struct gmem {
	struct gmem_region regions[GMEM_MAX_REGIONS];
	unsigned int nr_regions; /* sorted by gpa */
};

/* Empties the table.  Does not free host memory (the caller owns it). */
void gmem_init(struct gmem *mem);

/*
 * Adds [gpa, gpa + size) backed by host.  Refuses (-EINVAL) a zero size, a range
 * that overflows 64 bits, a NULL host pointer, or an overlap with another region;
 * -ENOSPC when the table is full.
 */
int gmem_add_region(struct gmem *mem, uint64_t gpa, uint64_t size, void *host) __must_check;

/* Copies len bytes at gpa into dst.  0 or -EFAULT. */
int gmem_read(const struct gmem *mem, uint64_t gpa, void *dst, size_t len) __must_check;

/* Copies len bytes from src to gpa.  0 or -EFAULT. */
int gmem_write(const struct gmem *mem, uint64_t gpa, const void *src, size_t len) __must_check;

/* Fills len bytes at gpa with byte c.  0 or -EFAULT. */
int gmem_fill(const struct gmem *mem, uint64_t gpa, int c, size_t len) __must_check;

/*
 * Sets *host to the host address of [gpa, gpa + len), which must lie within one
 * region; len 0 is refused.  The pointer stays valid as long as the region does.
 * Use for zero-copy I/O (iovecs); the guest can change the bytes behind it at any
 * time, so copy anything you validate.  0 or -EFAULT.
 */
int gmem_slice(const struct gmem *mem, uint64_t gpa, size_t len, void **host) __must_check;

/*
 * Gives the host pages behind [gpa, gpa + len) back to the kernel
 * (madvise MADV_DONTNEED): on private anonymous memory (the VMM's guest RAM)
 * the next guest access reads zeros from a fresh page; a shared or file
 * mapping would keep its contents and free nothing.  For the balloon's
 * inflated and reported pages.  gpa and len must be multiples of the host
 * page size, len > 0, and the region's host address of gpa page-aligned too
 * (a malloc'd test region usually is not): else -EINVAL.  The range must lie
 * inside one region: else -EFAULT.  Nothing is touched on those refusals.
 * Then 0, or -errno from madvise (e.g. -EINVAL on hugetlbfs or mlocked
 * memory).
 */
int gmem_discard(const struct gmem *mem, uint64_t gpa, uint64_t len) __must_check;

/* True when [gpa, gpa + len) lies inside one region (len 0: gpa inside one). */
int gmem_range_ok(const struct gmem *mem, uint64_t gpa, uint64_t len);

/* One past the highest guest-physical address backed by RAM; 0 when empty. */
uint64_t gmem_end(const struct gmem *mem);

/* Sum of region sizes. */
uint64_t gmem_total(const struct gmem *mem);

/* Little-endian helpers for guest-ABI fields (kiln runs on x86_64 hosts only,
 * but the conversions say what the field is). */
static inline int gmem_read_le16(const struct gmem *m, uint64_t gpa, uint16_t *v) { return gmem_read(m, gpa, v, 2); }
static inline int gmem_read_le32(const struct gmem *m, uint64_t gpa, uint32_t *v) { return gmem_read(m, gpa, v, 4); }
static inline int gmem_read_le64(const struct gmem *m, uint64_t gpa, uint64_t *v) { return gmem_read(m, gpa, v, 8); }
static inline int gmem_write_le16(const struct gmem *m, uint64_t gpa, uint16_t v) { return gmem_write(m, gpa, &v, 2); }
static inline int gmem_write_le32(const struct gmem *m, uint64_t gpa, uint32_t v) { return gmem_write(m, gpa, &v, 4); }
static inline int gmem_write_le64(const struct gmem *m, uint64_t gpa, uint64_t v) { return gmem_write(m, gpa, &v, 8); }

#endif
