/*
 * Popping a chain: read the available ring once, walk the descriptors, copy
 * each one into host memory and validate the copy.  See virtq.h for the rules
 * and the error policy.
 */
#include <errno.h>
#include <string.h>

#include "devices/virtio/virtq.h"
#include "devices/virtio/virtq_priv.h"

/* Appends the validated copy d to the chain. */
static int chain_add(const struct virtq *q, struct virtq_chain *c, const struct virtq_desc *d)
{
	uint64_t addr = le64toh(d->addr);
	uint32_t len = le32toh(d->len);
	bool writable = le16toh(d->flags) & VIRTQ_DESC_F_WRITE;
	uint64_t total = (uint64_t)c->readable_len + c->writable_len + len;

	if (!len)
		return -EINVAL;
	if (!writable && c->nr_bufs > c->nr_readable)
		return -EINVAL; /* readable after writable */
	if (c->nr_bufs >= q->size || total > UINT32_MAX)
		return -E2BIG;
	if (!gmem_range_ok(q->mem, addr, len))
		return -EFAULT;
	c->bufs[c->nr_bufs++] = (struct virtq_buf){ .addr = addr, .len = len, .writable = writable };
	if (writable) {
		c->writable_len += len;
	} else {
		c->nr_readable++;
		c->readable_len += len;
	}
	return 0;
}

/*
 * The table d refers to: copied whole into host memory (at most size
 * entries), then walked from entry 0 on the copy with a hop budget of its
 * entry count.  It ends the chain.
 */
static int walk_indirect(const struct virtq *q, struct virtq_chain *c, const struct virtq_desc *d)
{
	struct virtq_desc table[VIRTQ_MAX_SIZE];
	uint64_t addr = le64toh(d->addr);
	uint32_t len = le32toh(d->len);
	uint16_t n, i = 0, hops = 0;
	int ret;

	if (!len || len % sizeof(struct virtq_desc))
		return -EINVAL;
	if (len / sizeof(struct virtq_desc) > q->size)
		return -E2BIG;
	n = len / sizeof(struct virtq_desc);
	if (gmem_read(q->mem, addr, table, len))
		return -EFAULT;
	c->indirect = true;
	for (;;) {
		const struct virtq_desc *e = &table[i];
		uint16_t flags = le16toh(e->flags);

		if (hops++ >= n)
			return -ELOOP;
		if (flags & VIRTQ_DESC_F_INDIRECT)
			return -EINVAL; /* nested table */
		ret = chain_add(q, c, e);
		if (ret)
			return ret;
		if (!(flags & VIRTQ_DESC_F_NEXT))
			return 0;
		i = le16toh(e->next);
		if (i >= n)
			return -EINVAL;
	}
}

/* Walks the chain starting at head in the descriptor table. */
static int walk_chain(const struct virtq *q, uint16_t head, struct virtq_chain *c)
{
	struct virtq_desc d;
	uint16_t i = head, hops = 0;
	int ret;

	c->head = head;
	c->nr_bufs = 0;
	c->nr_readable = 0;
	c->readable_len = 0;
	c->writable_len = 0;
	c->indirect = false;
	if (head >= q->size)
		return -EINVAL;
	for (;;) {
		uint16_t flags;

		if (hops++ >= q->size)
			return -ELOOP;
		virtq_desc_copy(q, i, &d);
		flags = le16toh(d.flags);
		if (flags & VIRTQ_DESC_F_INDIRECT) {
			/* Zero or more direct descriptors, then one table. */
			if (!q->indirect || (flags & VIRTQ_DESC_F_NEXT))
				return -EINVAL;
			return walk_indirect(q, c, &d);
		}
		ret = chain_add(q, c, &d);
		if (ret)
			return ret;
		if (!(flags & VIRTQ_DESC_F_NEXT))
			return 0;
		i = le16toh(d.next);
		if (i >= q->size)
			return -EINVAL;
	}
}

static int queue_break(struct virtq *q, int err)
{
	q->broken = true;
	return err;
}

int virtq_pop(struct virtq *q, struct virtq_chain *c)
{
	uint16_t avail_idx, head;
	int ret;

	if (!q->active || q->broken)
		return -EIO;
	avail_idx = virtq_avail_idx_load(q);
	if (avail_idx == q->last_avail)
		return -EAGAIN;
	/* A jump (or a step back) of more than size is malformed; and an
	 * honest driver cannot offer more than size chains beyond those the
	 * device returned (each holds a descriptor until used), which bounds
	 * the chains in flight. */
	if ((uint16_t)(avail_idx - q->last_avail) > q->size ||
	    (uint16_t)(avail_idx - q->next_used) > q->size)
		return queue_break(q, -EINVAL);
	head = virtq_avail_ring_load(q, q->last_avail & (q->size - 1));
	ret = walk_chain(q, head, c);
	if (ret)
		return queue_break(q, ret);
	q->last_avail++;
	return 0;
}
