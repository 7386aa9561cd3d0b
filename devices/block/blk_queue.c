/* virtio-blk request processing: pop, parse, execute against the backend,
 * write the status, push, notify.  See blk.h for the error policy. */
#include <errno.h>
#include <string.h>

#include "devices/block/blk.h"
#include "devices/block/blk_request.h"
#include "vmm/log/log.h"

/* The request's sectors lie inside the disk (overflow-safe). */
static bool in_range(const struct blk_dev *b, const struct blk_req *r)
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
		if (!in_range(b, r) || do_rw(b, r, false))
			return VIRTIO_BLK_S_IOERR;
		m->read_count++;
		m->read_bytes += r->data_len;
		*data_written = true;
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_OUT:
		if (b->be.read_only || !in_range(b, r) || do_rw(b, r, true))
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
 * One chain: the used length counts bytes written from the start of the
 * writable part, so it covers the data only when all of it was written, and
 * the status byte only when nothing before it was left unwritten (an
 * underestimate is what the spec allows when unsure).
 */
static int handle_chain(struct blk_dev *b)
{
	struct blk_req r;
	bool data_written = false;
	uint32_t used = 0;
	uint8_t status;
	int ret = blk_req_parse(&b->chain, b->mem, &r);

	if (ret == -ENOSPC) {
		b->metrics.dropped++;
		return virtq_push(b->q, b->chain.head, 0);
	}
	if (ret) {
		b->metrics.invalid++;
		status = VIRTIO_BLK_S_IOERR;
	} else {
		status = execute(b, &r, &data_written);
	}
	if (status == VIRTIO_BLK_S_IOERR)
		b->metrics.io_errors++;
	if (!virtq_chain_write(&b->chain, b->mem, r.status_off, &status, 1) &&
	    (data_written || r.status_off == 0))
		used = r.status_off + 1;
	return virtq_push(b->q, b->chain.head, used);
}

static int drain(struct blk_dev *b)
{
	int ret;

	do {
		while ((ret = virtq_pop(b->q, &b->chain)) == 0) {
			ret = handle_chain(b);
			if (ret)
				return ret;
		}
		if (ret != -EAGAIN)
			return ret;
	} while (virtq_notify_enable(b->q));
	return 0;
}

int blk_process_queue(struct blk_dev *b)
{
	int ret = 0;

	pthread_mutex_lock(&b->lock);
	if (!b->active)
		goto out;
	if (b->broken) {
		ret = -EIO;
		goto out;
	}
	ret = drain(b);
	if (ret) {
		LOG_DEBUG("virtio-blk: malformed queue (%s), device needs reset", strerror(-ret));
		b->metrics.queue_errors++;
		b->broken = true;
		virtio_irq_needs_reset(&b->irq);
		ret = -EIO;
	}
	/* Chains completed before a malformed one still get their interrupt. */
	if (virtq_needs_notify(b->q)) {
		b->metrics.interrupts++;
		virtio_irq_signal(&b->irq, VIRTIO_ISR_USED);
	}
out:
	pthread_mutex_unlock(&b->lock);
	return ret;
}
