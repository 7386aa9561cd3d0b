/* virtio-blk on an asynchronous backend: the table of chains in flight,
 * indexed by head, from submit to the answer.  See blk.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/block/blk_priv.h"
#include "vmm/log/log.h"

int blk_async_alloc(struct blk_dev *b)
{
	b->inflight = calloc(b->queue_size, sizeof(*b->inflight));
	return b->inflight ? 0 : -ENOMEM;
}

/* The guest address of byte off of the chain's writable part. */
static int writable_gpa(const struct virtq_chain *c, uint32_t off, uint64_t *gpa)
{
	for (uint16_t i = c->nr_readable; i < c->nr_bufs; i++) {
		if (off < c->bufs[i].len) {
			*gpa = c->bufs[i].addr + off;
			return 0;
		}
		off -= c->bufs[i].len;
	}
	return -EINVAL;
}

int blk_async_submit(struct blk_dev *b, const struct blk_req *r)
{
	uint16_t head = b->chain.head;
	struct blk_inflight *e;
	enum blk_io_op op;
	uint64_t status_gpa;
	int n = 0, ret;

	if (head >= b->queue_size)
		return -EINVAL; /* virtq_pop never gives one: answered IOERR */
	e = &b->inflight[head];
	if (e->busy)
		return -EEXIST;
	if (b->nr_inflight >= b->be.max_inflight)
		return -EBUSY;
	ret = writable_gpa(&b->chain, r->status_off, &status_gpa);
	if (ret)
		return ret;
	if (r->type == VIRTIO_BLK_T_FLUSH) {
		op = BLK_IO_FLUSH;
	} else {
		op = r->type == VIRTIO_BLK_T_IN ? BLK_IO_READ : BLK_IO_WRITE;
		n = virtq_chain_to_iovec(&b->chain, b->mem, r->data_dir, r->data_off, r->data_len, b->iov,
					 VIRTQ_MAX_SIZE);
		if (n < 0)
			return n;
	}
	ret = b->be.ops->submit(b->be.opaque, op, r->sector << VIRTIO_BLK_SECTOR_SHIFT, b->iov, n, head);
	if (ret)
		return ret;
	*e = (struct blk_inflight){
		.busy = true, .type = r->type, .data_len = r->data_len, .status_off = r->status_off,
		.status_gpa = status_gpa,
	};
	if (++b->nr_inflight > b->metrics.inflight_max)
		b->metrics.inflight_max = b->nr_inflight;
	return 0;
}

/* Counts a finished request and returns its status byte. */
static uint8_t account(struct blk_dev *b, const struct blk_inflight *e, int result)
{
	struct blk_metrics *m = &b->metrics;

	if (result) {
		m->io_errors++;
		return VIRTIO_BLK_S_IOERR;
	}
	switch (e->type) {
	case VIRTIO_BLK_T_IN:
		m->read_count++;
		m->read_bytes += e->data_len;
		break;
	case VIRTIO_BLK_T_OUT:
		m->write_count++;
		m->write_bytes += e->data_len;
		break;
	default:
		m->flush_count++;
		break;
	}
	return VIRTIO_BLK_S_OK;
}

int blk_async_reap(struct blk_dev *b, bool wait)
{
	uint32_t tag;
	int result, answered = 0, ret = 0;

	while (b->be.ops->reap(b->be.opaque, wait, &tag, &result) == 1) {
		struct blk_inflight *e = tag < b->queue_size ? &b->inflight[tag] : NULL;
		uint8_t status;
		uint32_t used = 0;

		if (!e || !e->busy) {
			LOG_WARN("virtio-blk: completion for unknown request %u", tag);
			continue;
		}
		e->busy = false;
		b->nr_inflight--;
		/* Submitted before the device broke: answered, as the Sync path
		 * answers the chains ahead of a malformed one.  (An inactive
		 * device has nothing in flight: reset drained it.) */
		if (!b->active)
			continue;
		status = account(b, e, result);
		/* As the Sync path: the used length covers the data only when all
		 * of it was written, and the status only when it is the first
		 * writable byte or follows that data. */
		if (!gmem_write(b->mem, e->status_gpa, &status, 1) &&
		    ((status == VIRTIO_BLK_S_OK && e->type == VIRTIO_BLK_T_IN) || e->status_off == 0))
			used = e->status_off + 1;
		if (virtq_push(b->q, (uint16_t)tag, used))
			ret = -EIO;
		answered++;
	}
	return ret ? ret : answered;
}

void blk_async_drop(struct blk_dev *b)
{
	if (b->nr_inflight)
		b->be.ops->drain(b->be.opaque);
	memset(b->inflight, 0, b->queue_size * sizeof(*b->inflight));
	b->nr_inflight = 0;
}
