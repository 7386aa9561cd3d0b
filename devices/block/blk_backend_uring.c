/* The "Async" block engine: io_uring through liburing.  See blk_backend.h.
 *
 * Each operation owns a slot (its iovec copy, offset, progress) for its
 * whole life; the SQE's user_data is the slot index.  A short read or write
 * is resubmitted for the rest from reap, so the device sees one completion
 * per operation, as with the Sync engine's loop. */
#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/block/blk_backend.h"

#define CANCEL_TAG UINT64_MAX /* user_data of the drain's cancel request */

struct uring_slot {
	bool busy;
	enum blk_io_op op;
	uint32_t tag;
	uint64_t offset;   /* of v[first] */
	int first, iovcnt;
	struct iovec v[BLK_BACKEND_IOV_MAX];
};

struct blk_uring {
	struct blk_file file;
	struct io_uring ring;
	bool ring_ready;
	int event_fd;
	uint32_t depth, inflight;
	uint32_t *free_slots, nr_free;
	struct uring_slot *slots;
	struct blk_backend be;
};

bool blk_uring_supported(void)
{
	return true;
}

/* An SQE, submitting what is queued if the SQ is full. */
static struct io_uring_sqe *get_sqe(struct blk_uring *u)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (!sqe && io_uring_submit(&u->ring) >= 0)
		sqe = io_uring_get_sqe(&u->ring);
	return sqe;
}

static int prep(struct blk_uring *u, uint32_t idx)
{
	struct uring_slot *s = &u->slots[idx];
	struct io_uring_sqe *sqe = get_sqe(u);

	if (!sqe)
		return -EBUSY;
	switch (s->op) {
	case BLK_IO_READ:
		io_uring_prep_readv(sqe, u->file.fd, s->v + s->first, s->iovcnt - s->first, s->offset);
		break;
	case BLK_IO_WRITE:
		io_uring_prep_writev(sqe, u->file.fd, s->v + s->first, s->iovcnt - s->first, s->offset);
		break;
	case BLK_IO_FLUSH:
		if (u->be.cache == BLK_CACHE_WRITEBACK)
			io_uring_prep_fsync(sqe, u->file.fd, IORING_FSYNC_DATASYNC);
		else
			io_uring_prep_nop(sqe);
		break;
	}
	io_uring_sqe_set_data64(sqe, idx);
	return 0;
}

static int uring_submit(void *opaque, enum blk_io_op op, uint64_t offset, const struct iovec *iov, int iovcnt,
			uint32_t tag)
{
	struct blk_uring *u = opaque;
	struct uring_slot *s;
	uint32_t idx;
	int ret;

	if (op != BLK_IO_FLUSH && (iovcnt < 1 || iovcnt > BLK_BACKEND_IOV_MAX || offset > INT64_MAX))
		return -EINVAL;
	if (op > BLK_IO_FLUSH)
		return -EINVAL;
	if (!u->nr_free)
		return -EBUSY;
	idx = u->free_slots[u->nr_free - 1];
	s = &u->slots[idx];
	s->op = op;
	s->tag = tag;
	s->offset = offset;
	s->first = 0;
	s->iovcnt = op == BLK_IO_FLUSH ? 0 : iovcnt;
	if (s->iovcnt)
		memcpy(s->v, iov, (size_t)iovcnt * sizeof(*iov));
	ret = prep(u, idx);
	if (ret)
		return ret;
	s->busy = true;
	u->nr_free--;
	u->inflight++;
	return 0;
}

static int uring_commit(void *opaque)
{
	struct blk_uring *u = opaque;
	int ret = io_uring_submit(&u->ring);

	return ret < 0 ? ret : 0;
}

static void slot_free(struct blk_uring *u, uint32_t idx)
{
	u->slots[idx].busy = false;
	u->free_slots[u->nr_free++] = idx;
	u->inflight--;
}

/* Accounts res bytes of a read/write; true when the slot is finished
 * (*result set), false when the rest was resubmitted. */
static bool slot_progress(struct blk_uring *u, uint32_t idx, int res, int *result)
{
	struct uring_slot *s = &u->slots[idx];
	size_t n;

	if (res == -EINTR || res == -EAGAIN)
		goto again; /* the same range once more */
	if (res < 0) {
		*result = res;
		return true;
	}
	if (s->op == BLK_IO_FLUSH) {
		*result = 0;
		return true;
	}
	if (res == 0) {
		*result = -EIO; /* end of file */
		return true;
	}
	n = (size_t)res;
	s->offset += n;
	while (s->first < s->iovcnt && n >= s->v[s->first].iov_len)
		n -= s->v[s->first++].iov_len;
	if (s->first == s->iovcnt) {
		*result = 0;
		return true;
	}
	s->v[s->first].iov_base = (uint8_t *)s->v[s->first].iov_base + n;
	s->v[s->first].iov_len -= n;
again:
	if (prep(u, idx) || io_uring_submit(&u->ring) < 0) {
		*result = -EIO;
		return true;
	}
	return false;
}

static int uring_reap(void *opaque, bool wait, uint32_t *tag, int *result)
{
	struct blk_uring *u = opaque;
	struct io_uring_cqe *cqe;

	/* Waiting on entries never handed to the kernel would never end. */
	if (wait && u->inflight)
		(void)io_uring_submit(&u->ring);
	for (;;) {
		uint64_t idx;
		int res, ret;

		if (!u->inflight)
			return 0;
		ret = wait ? io_uring_wait_cqe(&u->ring, &cqe) : io_uring_peek_cqe(&u->ring, &cqe);
		if (ret == -EINTR)
			continue;
		if (ret)
			return 0; /* -EAGAIN: nothing finished yet */
		idx = io_uring_cqe_get_data64(cqe);
		res = cqe->res;
		io_uring_cqe_seen(&u->ring, cqe);
		if (idx >= u->depth || !u->slots[idx].busy)
			continue; /* the drain's cancel request */
		if (slot_progress(u, (uint32_t)idx, res, result)) {
			*tag = u->slots[idx].tag;
			slot_free(u, (uint32_t)idx);
			return 1;
		}
	}
}

static void uring_drain(void *opaque)
{
	struct blk_uring *u = opaque;
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;

	if (!u->inflight)
		return;
	/* Queued-but-uncommitted entries go in with the cancel; file I/O that
	 * already started cannot be cancelled and is waited for. */
	sqe = get_sqe(u);
	if (sqe) {
		io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
		io_uring_sqe_set_data64(sqe, CANCEL_TAG);
	}
	(void)io_uring_submit(&u->ring);
	while (u->inflight) {
		uint64_t idx;

		if (io_uring_wait_cqe(&u->ring, &cqe))
			continue;
		idx = io_uring_cqe_get_data64(cqe);
		io_uring_cqe_seen(&u->ring, cqe);
		if (idx < u->depth && u->slots[idx].busy)
			slot_free(u, (uint32_t)idx);
	}
	/* The cancel's own completion may still arrive: reap skips it. */
}

static const struct blk_backend_ops uring_ops = {
	.submit = uring_submit,
	.commit = uring_commit,
	.reap = uring_reap,
	.drain = uring_drain,
};

int blk_uring_open(struct blk_uring **out, const char *path, bool read_only, enum blk_cache_type cache,
		   uint32_t depth)
{
	struct blk_uring *u;
	int ret;

	*out = NULL;
	if (depth < 1 || depth > 4096)
		return -EINVAL;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->event_fd = -1;
	u->depth = depth;
	ret = blk_file_open(&u->file, path, read_only, cache);
	if (ret)
		goto err_free;
	u->slots = calloc(depth, sizeof(*u->slots));
	u->free_slots = calloc(depth, sizeof(*u->free_slots));
	if (!u->slots || !u->free_slots) {
		ret = -ENOMEM;
		goto err_file;
	}
	for (uint32_t i = 0; i < depth; i++)
		u->free_slots[u->nr_free++] = depth - 1 - i;
	/* One SQE per slot plus the drain's cancel; completions for all. */
	ret = io_uring_queue_init(depth + 1, &u->ring, 0);
	if (ret)
		goto err_file;
	u->ring_ready = true;
	u->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (u->event_fd < 0) {
		ret = -errno;
		goto err_ring;
	}
	ret = io_uring_register_eventfd(&u->ring, u->event_fd);
	if (ret)
		goto err_efd;
	u->be = u->file.be;
	u->be.ops = &uring_ops;
	u->be.opaque = u;
	u->be.event_fd = u->event_fd;
	u->be.max_inflight = depth;
	*out = u;
	return 0;
err_efd:
	close(u->event_fd);
err_ring:
	io_uring_queue_exit(&u->ring);
err_file:
	free(u->slots);
	free(u->free_slots);
	blk_file_close(&u->file);
err_free:
	free(u);
	return ret;
}

const struct blk_backend *blk_uring_backend(const struct blk_uring *u)
{
	return &u->be;
}

void blk_uring_close(struct blk_uring *u)
{
	if (!u)
		return;
	uring_drain(u);
	io_uring_queue_exit(&u->ring);
	close(u->event_fd);
	free(u->slots);
	free(u->free_slots);
	blk_file_close(&u->file);
	free(u);
}
