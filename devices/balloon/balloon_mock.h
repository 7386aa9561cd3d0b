/*
 * A mock virtio-balloon driver over the mock virtio driver: a balloon on a
 * virtio-mmio transport, negotiated like Linux does it (queue indexes only
 * for the negotiated queues), with helpers that send PFN arrays, statistics
 * buffers and reported ranges, a fake event loop recording what the device
 * watches, and a second guest RAM region of real, page-aligned anonymous
 * memory (the mock's own RAM is calloc'd and cannot be discarded) so that
 * inflation really gives pages back.  Shared by the balloon tests, the
 * benchmark and the fuzz target; not an API.
 */
#ifndef KILN_BALLOON_MOCK_H
#define KILN_BALLOON_MOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/balloon/balloon.h"
#include "devices/virtio/virtio_mmio.h"
#include "devices/virtio/virtio_mock.h"

#define BALLOON_MOCK_RING_RAM (2ULL << 20)     /* calloc'd: rings and buffers */
#define BALLOON_MOCK_PAGES_GPA 0x40000000ULL   /* the mmap'd region */
#define BALLOON_MOCK_SLOTS 64                  /* buffers in flight per queue */
#define BALLOON_MOCK_SLOT_SIZE (BALLOON_MAX_PFNS * 4 + 64)

struct balloon_mock {
	struct vmock m;
	struct balloon_dev dev;
	struct vmmio t;
	struct vmock_loop loop;
	uint8_t *pages;      /* host address of BALLOON_MOCK_PAGES_GPA */
	uint64_t pages_size;
	uint64_t features;   /* negotiated */
	unsigned int irq_raises;
	uint64_t slots;      /* gpa of BALLOON_Q_NR x BALLOON_MOCK_SLOTS slots */
	unsigned int next_slot[BALLOON_Q_NR];
};

/* Balloon with opts (NULL: defaults) over pages_size bytes (a multiple of
 * 4 KiB, > 0) of mmap'd RAM at BALLOON_MOCK_PAGES_GPA, negotiated with
 * features & offered.  0 or the first error (-EPROTO: negotiation refused). */
int balloon_mock_init(struct balloon_mock *bm, const struct balloon_opts *opts, uint64_t features,
		      uint64_t pages_size);
void balloon_mock_destroy(struct balloon_mock *bm);

/* Re-runs the driver's negotiation with features (queues laid out anew). */
int balloon_mock_negotiate(struct balloon_mock *bm, uint64_t features);

/* Transport queue index of a role under the negotiated features; -1 if absent. */
int balloon_mock_qidx(const struct balloon_mock *bm, enum balloon_queue role);

/* PFN of page i of the mmap'd region. */
static inline uint32_t balloon_mock_pfn(unsigned int i)
{
	return (uint32_t)(BALLOON_MOCK_PAGES_GPA >> VIRTIO_BALLOON_PFN_SHIFT) + i;
}

/* Publishes n le32 PFNs on the inflate or deflate queue (one readable
 * buffer) and notifies; returns the head. */
uint16_t balloon_mock_pfns(struct balloon_mock *bm, enum balloon_queue role, const uint32_t *pfns, unsigned int n);

/* Publishes a statistics buffer of n (tag, value) records and notifies. */
uint16_t balloon_mock_stats(struct balloon_mock *bm, const uint16_t *tags, const uint64_t *vals, unsigned int n);

/* Publishes one reporting chain of n writable ranges and notifies. */
uint16_t balloon_mock_report(struct balloon_mock *bm, const uint64_t *gpas, const uint32_t *lens, unsigned int n);

/* The next completion on a role's queue: 0, or -EAGAIN. */
int balloon_mock_used(struct balloon_mock *bm, enum balloon_queue role, uint16_t *head, uint32_t *len);

/* Resident pages among [first, first + n) of the mmap'd region (mincore). */
unsigned int balloon_mock_resident(struct balloon_mock *bm, unsigned int first, unsigned int n);

#endif
