/*
 * Ring accessors shared by virtq.c and virtq_pop.c; private to the queue.
 *
 * The ring pointers come from gmem_slice() at activation, which checked that
 * each whole ring lies in one RAM region, so every offset below size is in
 * bounds.  Indices the driver publishes are loaded with acquire semantics
 * (the ring entries and descriptors it wrote before are visible after), the
 * used idx is stored with release semantics (the used elements are visible
 * before it).
 */
#ifndef KILN_VIRTQ_PRIV_H
#define KILN_VIRTQ_PRIV_H

#include <endian.h>
#include <string.h>

#include "devices/virtio/virtq.h"

static inline uint16_t virtq_avail_idx_load(const struct virtq *q)
{
	return le16toh(__atomic_load_n((uint16_t *)(q->avail_host + VIRTQ_AVAIL_OFF_IDX), __ATOMIC_ACQUIRE));
}

static inline uint16_t virtq_avail_flags_load(const struct virtq *q)
{
	return le16toh(__atomic_load_n((uint16_t *)(q->avail_host + VIRTQ_AVAIL_OFF_FLAGS), __ATOMIC_RELAXED));
}

static inline uint16_t virtq_avail_ring_load(const struct virtq *q, uint16_t slot)
{
	return le16toh(__atomic_load_n((uint16_t *)(q->avail_host + VIRTQ_AVAIL_OFF_RING(slot)), __ATOMIC_RELAXED));
}

static inline uint16_t virtq_used_event_load(const struct virtq *q)
{
	return le16toh(__atomic_load_n((uint16_t *)(q->avail_host + VIRTQ_AVAIL_OFF_USED_EVENT(q->size)),
				       __ATOMIC_RELAXED));
}

static inline void virtq_avail_event_store(const struct virtq *q, uint16_t v)
{
	__atomic_store_n((uint16_t *)(q->used_host + VIRTQ_USED_OFF_AVAIL_EVENT(q->size)), htole16(v),
			 __ATOMIC_RELAXED);
}

static inline void virtq_used_idx_store(const struct virtq *q, uint16_t v)
{
	__atomic_store_n((uint16_t *)(q->used_host + VIRTQ_USED_OFF_IDX), htole16(v), __ATOMIC_RELEASE);
}

/* Copies descriptor i of the table (i < size) once into *d. */
static inline void virtq_desc_copy(const struct virtq *q, uint16_t i, struct virtq_desc *d)
{
	memcpy(d, q->desc_host + VIRTQ_DESC_TABLE_SIZE(i), sizeof(*d));
}

/* Full barrier: orders a store we published before a load of the driver's
 * suppression fields (and vice versa), as the spec requires on both sides. */
static inline void virtq_mb(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

#endif
