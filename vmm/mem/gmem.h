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
 *
 * Dirty tracking (for Diff snapshots; KVM's dirty log sees only the guest's
 * own writes): after gmem_dirty_enable, every page the VMM may have changed
 * through this door is marked in a per-region bitmap, a bit per 4 KiB page:
 *   - gmem_write, gmem_fill and gmem_discard mark the range they change;
 *   - gmem_slice marks its whole range, because the caller gets a writable
 *     host pointer and this unit cannot know whether it writes through it
 *     (a read-only use takes gmem_slice_ro, which marks nothing);
 *   - a pointer kept after the slice (a virtqueue's used ring, mapped once
 *     at activation) is re-marked with gmem_dirty_mark at each write.
 * So a write cannot be missed as long as nothing writes through a pointer
 * it got before the last gmem_dirty_take: a device that keeps buffers in
 * flight (the block device's io_uring) is quiesced before a snapshot.
 * gmem_read and gmem_slice_ro never mark.  Marks and takes are atomic, so
 * devices on any thread may mark while the VMM takes.
 */
#ifndef KILN_GMEM_H
#define KILN_GMEM_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/compiler.h"

#define GMEM_MAX_REGIONS 8

#define GMEM_DIRTY_PAGE 4096u

struct gmem_region {
	uint64_t gpa;  /* first guest-physical address */
	uint64_t size; /* bytes, > 0 */
	uint8_t *host; /* host address of gpa */
	uint64_t *dirty; /* NULL, or after gmem_dirty_enable a bit per page from gpa (heap) */
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

/* gmem_slice for a caller that only reads through the pointer: marks
 * nothing dirty.  0 or -EFAULT. */
int gmem_slice_ro(const struct gmem *mem, uint64_t gpa, size_t len, const void **host) __must_check;

/*
 * Starts dirty tracking (see above): a zeroed bitmap for every region (the
 * regions must all be added already).  Idempotent.  0 or -ENOMEM (then
 * nothing is tracked).
 */
int gmem_dirty_enable(struct gmem *mem) __must_check;

/* Stops tracking and frees the bitmaps (also safe when never enabled). */
void gmem_dirty_disable(struct gmem *mem);

/* Whether tracking is on. */
int gmem_dirty_enabled(const struct gmem *mem);

/* Marks the pages of [gpa, gpa + len) dirty; a range outside guest memory
 * (or len 0, or tracking off) is ignored. */
void gmem_dirty_mark(const struct gmem *mem, uint64_t gpa, uint64_t len);

/*
 * ORs region's dirty bits into bitmap (a bit per GMEM_DIRTY_PAGE page from
 * the region's gpa, KVM_GET_DIRTY_LOG's layout: (size / page + 63) / 64
 * words) and clears them, word by word atomically: a mark racing with the
 * take lands in this take or the next, never in neither.  0; -ENOENT when
 * region is not an index below nr_regions; -ENODATA when tracking is off.
 */
int gmem_dirty_take(const struct gmem *mem, unsigned int region, uint64_t *bitmap) __must_check;

/*
 * Gives the host pages behind [gpa, gpa + len) back to the kernel
 * (madvise MADV_DONTNEED) and marks them dirty (their contents changed): on private anonymous memory (the VMM's guest RAM)
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
