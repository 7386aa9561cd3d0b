/* Split virtqueue: configuration, activation, used ring and notification
 * suppression; chain walking is in virtq_pop.c.  See virtq.h. */
#include "devices/virtio/virtq.h"

#include <errno.h>
#include <string.h>

#include "devices/virtio/virtq_priv.h"

static bool is_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

int virtq_init(struct virtq *q, uint16_t max_size)
{
	if (!is_pow2(max_size) || max_size > VIRTQ_MAX_SIZE)
		return -EINVAL;
	memset(q, 0, sizeof(*q));
	q->max_size = max_size;
	q->size = max_size;
	return 0;
}

void virtq_reset(struct virtq *q)
{
	uint16_t max_size = q->max_size;

	memset(q, 0, sizeof(*q));
	q->max_size = max_size;
	q->size = max_size;
}

/* Host address of a whole ring, which must sit in one region with the
 * host-side alignment the atomic accessors need.  Only the used ring is
 * written by the device (writable): the others are mapped without marking
 * them dirty (gmem.h). */
static int ring_map(const struct gmem *mem, uint64_t gpa, uint64_t len, uint64_t align, bool writable,
		    uint8_t **host)
{
	const void *p;
	void *w;

	if (gpa & (align - 1))
		return -EINVAL;
	if (writable ? gmem_slice(mem, gpa, len, &w) : gmem_slice_ro(mem, gpa, len, &p))
		return -EFAULT;
	if (writable)
		p = w;
	if ((uintptr_t)p & (align - 1))
		return -EINVAL;
	*host = (uint8_t *)p; /* read-only rings are only read: virtq_priv.h */
	return 0;
}

/* The used ring is written through the pointer mapped at activation, so each
 * write marks it dirty again for snapshots (gmem.h); it spans at most two
 * pages. */
static void used_ring_mark(const struct virtq *q)
{
	gmem_dirty_mark(q->mem, q->used_gpa, VIRTQ_USED_RING_SIZE(q->size));
}

int virtq_activate(struct virtq *q, const struct gmem *mem, uint64_t features)
{
	uint8_t *desc, *avail, *used;
	int ret;

	q->active = false;
	if (!q->ready || !is_pow2(q->size) || q->size > q->max_size ||
	    (uint16_t)(q->last_avail - q->next_used) > q->size)
		return -EINVAL;
	ret = ring_map(mem, q->desc_gpa, VIRTQ_DESC_TABLE_SIZE(q->size), VIRTQ_DESC_ALIGN, false, &desc);
	if (!ret)
		ret = ring_map(mem, q->avail_gpa, VIRTQ_AVAIL_RING_SIZE(q->size), VIRTQ_AVAIL_ALIGN, false, &avail);
	if (!ret)
		ret = ring_map(mem, q->used_gpa, VIRTQ_USED_RING_SIZE(q->size), VIRTQ_USED_ALIGN, true, &used);
	if (ret)
		return ret;
	q->mem = mem;
	q->desc_host = desc;
	q->avail_host = avail;
	q->used_host = used;
	q->event_idx = !!(features & VIRTIO_FEATURE(VIRTIO_F_RING_EVENT_IDX));
	q->indirect = !!(features & VIRTIO_FEATURE(VIRTIO_F_RING_INDIRECT_DESC));
	q->broken = false;
	q->active = true;
	return 0;
}

bool virtq_is_active(const struct virtq *q)
{
	return q->active;
}

bool virtq_is_broken(const struct virtq *q)
{
	return q->broken;
}

int virtq_push(struct virtq *q, uint16_t head, uint32_t len)
{
	struct virtq_used_elem elem = { .id = htole32(head), .len = htole32(len) };
	uint16_t slot;

	if (!q->active)
		return -EIO;
	if (head >= q->size || q->last_avail == q->next_used)
		return -EINVAL;
	slot = q->next_used & (q->size - 1);
	memcpy(q->used_host + VIRTQ_USED_OFF_RING(slot), &elem, sizeof(elem));
	q->next_used++;
	virtq_used_idx_store(q, q->next_used);
	used_ring_mark(q);
	return 0;
}

bool virtq_needs_notify(struct virtq *q)
{
	uint16_t old = q->signalled_used, now = q->next_used;

	if (!q->active || old == now)
		return false;
	q->signalled_used = now;
	/* The used idx we stored must be visible before we read what the
	 * driver asked for, or both sides could miss each other's update. */
	virtq_mb();
	if (q->event_idx)
		return virtq_need_event(virtq_used_event_load(q), now, old);
	return !(virtq_avail_flags_load(q) & VIRTQ_AVAIL_F_NO_INTERRUPT);
}

bool virtq_notify_enable(struct virtq *q)
{
	if (!q->active || q->broken)
		return false;
	/* Without EVENT_IDX we never set VIRTQ_USED_F_NO_NOTIFY, so the
	 * driver always notifies; only the re-check is needed. */
	if (q->event_idx) {
		virtq_avail_event_store(q, q->last_avail);
		used_ring_mark(q);
	}
	virtq_mb();
	return virtq_avail_idx_load(q) != q->last_avail;
}

void virtq_save(const struct virtq *q, struct virtq_state *st)
{
	memset(st, 0, sizeof(*st));
	st->size = q->size;
	st->ready = q->ready;
	st->last_avail = q->last_avail;
	st->next_used = q->next_used;
	st->signalled_used = q->signalled_used;
	st->desc_gpa = q->desc_gpa;
	st->avail_gpa = q->avail_gpa;
	st->used_gpa = q->used_gpa;
}

int virtq_restore(struct virtq *q, const struct virtq_state *st)
{
	struct virtq_state s = *st; /* check the copy we use */

	/* Anything else the driver could have written; virtq_activate()
	 * checks what matters before the queue is used. */
	if (s.ready > 1)
		return -EINVAL;
	virtq_reset(q);
	q->size = s.size;
	q->ready = s.ready;
	q->last_avail = s.last_avail;
	q->next_used = s.next_used;
	q->signalled_used = s.signalled_used;
	q->desc_gpa = s.desc_gpa;
	q->avail_gpa = s.avail_gpa;
	q->used_gpa = s.used_gpa;
	return 0;
}
