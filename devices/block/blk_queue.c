/* virtio-blk request processing: pop, parse, rate-limit, execute against
 * the backend (or submit to an asynchronous one), write the status, push,
 * notify.  See blk.h for the error policy. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "devices/block/blk.h"
#include "devices/block/blk_priv.h"
#include "devices/block/blk_request.h"
#include "vmm/log/log.h"

/* handle() could not answer the chain yet: keep it pending. */
#define CHAIN_WAIT 1

bool blk_in_range(const struct blk_dev *b, const struct blk_req *r)
{
	uint64_t n = r->data_len >> VIRTIO_BLK_SECTOR_SHIFT;

	return r->sector <= b->capacity && n <= b->capacity - r->sector;
}

/* Moves a request's data between the chain and the backend. */
static int do_rw(struct blk_dev *b, const struct blk_req *r, bool write)
{
	uint64_t offset = r->sector << VIRTIO_BLK_SECTOR_SHIFT;
	int n;

	if (!r->data_len)
		return 0;
	n = virtq_chain_to_iovec(&b->chain, b->mem, r->data_dir, r->data_off, r->data_len, b->iov,
				 VIRTQ_MAX_SIZE);
	if (n < 0)
		return n;
	return write ? b->be.ops->write(b->be.opaque, offset, b->iov, n)
		     : b->be.ops->read(b->be.opaque, offset, b->iov, n);
}

/* Executes a parsed request; returns the status byte, sets *data_written
 * when the whole writable data part was filled. */
static uint8_t execute(struct blk_dev *b, const struct blk_req *r, bool *data_written)
{
	struct blk_metrics *m = &b->metrics;
	int ret;

	*data_written = false;
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
		if (!blk_in_range(b, r) || do_rw(b, r, false))
			return VIRTIO_BLK_S_IOERR;
		m->read_count++;
		m->read_bytes += r->data_len;
		*data_written = true;
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_OUT:
		if (b->be.read_only || !blk_in_range(b, r) || do_rw(b, r, true))
			return VIRTIO_BLK_S_IOERR;
		m->write_count++;
		m->write_bytes += r->data_len;
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_FLUSH:
		ret = b->be.ops->flush ? b->be.ops->flush(b->be.opaque) : 0;
		if (ret)
			return VIRTIO_BLK_S_IOERR;
		m->flush_count++;
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_GET_ID:
		if (virtq_chain_write(&b->chain, b->mem, 0, b->id, VIRTIO_BLK_ID_BYTES))
			return VIRTIO_BLK_S_IOERR;
		m->get_id_count++;
		*data_written = true;
		return VIRTIO_BLK_S_OK;
	default:
		m->unsupported++;
		return VIRTIO_BLK_S_UNSUPP;
	}
}

/*
 * Answers the chain now: the used length counts bytes written from the start
 * of the writable part, so it covers the data only when all of it was
 * written, and the status byte only when nothing before it was left
 * unwritten (an underestimate is what the spec allows when unsure).
 */
static int push_status(struct blk_dev *b, const struct blk_req *r, uint8_t status, bool data_written)
{
	uint32_t used = 0;

	if (status == VIRTIO_BLK_S_IOERR)
		b->metrics.io_errors++;
	if (!virtq_chain_write(&b->chain, b->mem, r->status_off, &status, 1) &&
	    (data_written || r->status_off == 0))
		used = r->status_off + 1;
	return virtq_push(b->q, b->chain.head, used);
}

static int answer(struct blk_dev *b, const struct blk_req *r, int parse_ret)
{
	bool data_written = false;
	uint8_t status;

	if (parse_ret) {
		b->metrics.invalid++;
		status = VIRTIO_BLK_S_IOERR;
	} else {
		status = execute(b, r, &data_written);
	}
	return push_status(b, r, status, data_written);
}

/* Work for an asynchronous backend: data to move, or a flush. */
static bool needs_backend_io(const struct blk_dev *b, const struct blk_req *r)
{
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
		return r->data_len && blk_in_range(b, r);
	case VIRTIO_BLK_T_OUT:
		return r->data_len && !b->be.read_only && blk_in_range(b, r);
	case VIRTIO_BLK_T_FLUSH:
		return true;
	default:
		return false;
	}
}

/* The chain in b->chain, parsed into r: answered or submitted (0),
 * CHAIN_WAIT (throttled, or the backend is full), or a queue error. */
static int handle(struct blk_dev *b, const struct blk_req *r, int parse_ret)
{
	int ret;

	if (parse_ret == -ENOSPC) {
		b->metrics.dropped++;
		return virtq_push(b->q, b->chain.head, 0);
	}
	if (!b->pending_charged) {
		if (!blk_limits_admit(b, r, parse_ret)) {
			b->metrics.rate_limited++;
			return CHAIN_WAIT;
		}
		b->pending_charged = true;
	}
	if (!parse_ret && blk_is_async(b) && needs_backend_io(b, r)) {
		ret = blk_async_submit(b, r);
		if (ret == -EBUSY)
			return CHAIN_WAIT;
		if (ret == -EEXIST)
			return -EINVAL; /* a head already in flight: malformed queue */
		if (!ret)
			return 0;
		return push_status(b, r, VIRTIO_BLK_S_IOERR, false); /* the backend refused it */
	}
	return answer(b, r, parse_ret);
}

/* The pending chain first, then every available one, until the ring is
 * empty or a chain has to wait. */
static int drain(struct blk_dev *b)
{
	int ret;

	if (b->pending) {
		ret = handle(b, &b->pending_req, b->pending_parse);
		if (ret == CHAIN_WAIT)
			return 0;
		b->pending = false;
		if (ret)
			return ret;
	}
	do {
		while ((ret = virtq_pop(b->q, &b->chain)) == 0) {
			/* The driver offered a chain whose head is still in flight:
			 * answering it would return that head twice. */
			if (blk_is_async(b) && b->inflight[b->chain.head & (b->queue_size - 1)].busy)
				return -EINVAL;
			b->pending_parse = blk_req_parse(&b->chain, b->mem, &b->pending_req);
			b->pending_charged = false;
			ret = handle(b, &b->pending_req, b->pending_parse);
			if (ret == CHAIN_WAIT) {
				b->pending = true;
				return 0;
			}
			if (ret)
				return ret;
		}
		if (ret != -EAGAIN)
			return ret;
	} while (virtq_notify_enable(b->q));
	return 0;
}

void blk_signal_used(struct blk_dev *b)
{
	if (b->active && virtq_needs_notify(b->q)) {
		b->metrics.interrupts++;
		virtio_irq_signal(&b->irq, VIRTIO_ISR_USED);
	}
}

int blk_process_locked(struct blk_dev *b)
{
	int ret;

	if (!b->active)
		return 0;
	if (b->broken)
		return -EIO;
	ret = drain(b);
	/* Start what was submitted, also ahead of a malformed chain.  A
	 * failed commit leaves the entries queued: the next one retries. */
	if (blk_is_async(b) && b->be.ops->commit(b->be.opaque))
		LOG_DEBUG("virtio-blk: io_uring submit failed; retried at the next request");
	if (ret) {
		LOG_DEBUG("virtio-blk: malformed queue (%s), device needs reset", strerror(-ret));
		b->metrics.queue_errors++;
		b->broken = true;
		virtio_irq_needs_reset(&b->irq);
		ret = -EIO;
	}
	/* Chains completed before a malformed one still get their interrupt. */
	blk_signal_used(b);
	return ret;
}

int blk_process_queue(struct blk_dev *b)
{
	int ret;

	pthread_mutex_lock(&b->lock);
	ret = blk_process_locked(b);
	pthread_mutex_unlock(&b->lock);
	return ret;
}

void blk_dev_event(void *dev, uint32_t token, uint32_t events)
{
	struct blk_dev *b = dev;
	uint64_t count;

	pthread_mutex_lock(&b->lock);
	switch (token) {
	case BLK_EVENT_RATELIMIT:
		ratelimit_timer_event(&b->rl);
		break;
	case BLK_EVENT_COMPLETION:
		if (!blk_is_async(b))
			goto out;
		/* Clear first: a completion after this read sets it again. */
		if (read(b->be.event_fd, &count, sizeof(count)) < 0)
			count = 0;
		if (b->active && blk_async_reap(b, false) < 0) {
			b->metrics.queue_errors++;
			b->broken = true;
			virtio_irq_needs_reset(&b->irq);
		}
		break;
	default:
		goto out;
	}
	/* A chain waiting for the timer or for room in the backend goes now. */
	(void)blk_process_locked(b);
	blk_signal_used(b);
out:
	pthread_mutex_unlock(&b->lock);
}
