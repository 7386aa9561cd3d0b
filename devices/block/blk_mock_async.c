/* Test doubles for asynchronous block engines: the fake VMM event loop and
 * the in-memory asynchronous engine.  See blk_mock.h. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/block/blk_mock.h"

static int loop_watch(void *opaque, int fd, uint32_t events, uint32_t token)
{
	struct blk_mock_loop *l = opaque;
	unsigned int i;

	l->watches++;
	for (i = 0; i < l->nr && l->fd[i] != fd; i++)
		;
	if (i == l->nr) {
		if (l->nr == BLK_MOCK_LOOP_FDS)
			return -ENOSPC;
		l->nr++;
	}
	l->fd[i] = fd;
	l->token[i] = token;
	return 0;
}

static void loop_unwatch(void *opaque, int fd)
{
	struct blk_mock_loop *l = opaque;

	l->unwatches++;
	for (unsigned int i = 0; i < l->nr; i++) {
		if (l->fd[i] == fd) {
			l->fd[i] = l->fd[--l->nr];
			l->token[i] = l->token[l->nr];
			return;
		}
	}
}

void blk_mock_loop_init(struct blk_mock_loop *l)
{
	memset(l, 0, sizeof(*l));
	l->loop = (struct dev_event_loop){ .watch = loop_watch, .unwatch = loop_unwatch, .opaque = l };
}

int blk_mock_loop_run(struct blk_mock_loop *l, struct blk_dev *dev, int timeout_ms)
{
	struct pollfd p[BLK_MOCK_LOOP_FDS];
	uint32_t token[BLK_MOCK_LOOP_FDS];
	unsigned int nr = l->nr;
	int n, fired = 0;

	for (unsigned int i = 0; i < nr; i++) {
		p[i] = (struct pollfd){ .fd = l->fd[i], .events = POLLIN };
		token[i] = l->token[i];
	}
	n = poll(p, nr, timeout_ms);
	for (unsigned int i = 0; n > 0 && i < nr; i++) {
		if (p[i].revents & POLLIN) {
			blk_dev_event(dev, token[i], EPOLLIN);
			fired++;
		}
	}
	return fired;
}

/* The asynchronous in-memory engine. */

static void amem_signal(struct blk_amem *a)
{
	uint64_t one = 1;

	if (write(a->event_fd, &one, sizeof(one)) < 0)
		abort(); /* an eventfd write only fails on overflow */
}

static int amem_submit(void *opaque, enum blk_io_op op, uint64_t offset, const struct iovec *iov, int iovcnt,
		       uint32_t tag)
{
	struct blk_amem *a = opaque;
	struct blk_amem_op *o = NULL;

	if (op != BLK_IO_FLUSH && (iovcnt < 1 || iovcnt > BLK_BACKEND_IOV_MAX))
		return -EINVAL;
	if (a->inflight >= a->max)
		return -EBUSY;
	for (uint32_t i = 0; i < a->max && !o; i++)
		if (!a->ops[i].busy)
			o = &a->ops[i];
	o->busy = true;
	o->committed = false;
	o->op = op;
	o->offset = offset;
	o->tag = tag;
	o->seq = a->seq++;
	o->iovcnt = op == BLK_IO_FLUSH ? 0 : iovcnt;
	if (o->iovcnt)
		memcpy(o->iov, iov, (size_t)iovcnt * sizeof(*iov));
	a->inflight++;
	a->submits++;
	return 0;
}

/* The n-th oldest committed operation waiting, or NULL. */
static struct blk_amem_op *amem_nth(struct blk_amem *a, unsigned int n)
{
	struct blk_amem_op *best = NULL;
	uint64_t floor = 0;

	/* By rank: n + 1 times the smallest seq above the previous pick. */
	for (unsigned int k = 0; k <= n; k++) {
		best = NULL;
		for (uint32_t i = 0; i < a->max; i++) {
			struct blk_amem_op *o = &a->ops[i];

			if (o->busy && o->committed && o->seq >= floor && (!best || o->seq < best->seq))
				best = o;
		}
		if (!best)
			return NULL;
		floor = best->seq + 1;
	}
	return best;
}

static void amem_finish(struct blk_amem *a, struct blk_amem_op *o)
{
	const struct blk_backend *d = &a->inner;
	uint32_t slot;
	int res;

	switch (o->op) {
	case BLK_IO_READ:
		res = d->ops->read(d->opaque, o->offset, o->iov, o->iovcnt);
		break;
	case BLK_IO_WRITE:
		res = d->ops->write(d->opaque, o->offset, o->iov, o->iovcnt);
		break;
	default:
		res = d->ops->flush ? d->ops->flush(d->opaque) : 0;
		break;
	}
	o->busy = false;
	slot = (a->done_head + a->done_count++) % a->max;
	a->done_tag[slot] = o->tag;
	a->done_res[slot] = res;
	amem_signal(a);
}

int blk_amem_complete(struct blk_amem *a, unsigned int n)
{
	struct blk_amem_op *o = amem_nth(a, n);

	if (!o)
		return -ENOENT;
	amem_finish(a, o);
	return 0;
}

unsigned int blk_amem_waiting(const struct blk_amem *a)
{
	unsigned int n = 0;

	for (uint32_t i = 0; i < a->max; i++)
		n += a->ops[i].busy && a->ops[i].committed;
	return n;
}

static int amem_commit(void *opaque)
{
	struct blk_amem *a = opaque;

	a->commits++;
	for (uint32_t i = 0; i < a->max; i++)
		if (a->ops[i].busy)
			a->ops[i].committed = true;
	while (a->auto_complete && blk_amem_complete(a, 0) == 0)
		;
	return 0;
}

static int amem_reap(void *opaque, bool wait, uint32_t *tag, int *result)
{
	struct blk_amem *a = opaque;

	if (!a->done_count && wait && a->inflight) {
		amem_commit(a);
		(void)blk_amem_complete(a, 0); /* "blocks" until the oldest is done */
	}
	if (!a->done_count)
		return 0;
	*tag = a->done_tag[a->done_head];
	*result = a->done_res[a->done_head];
	a->done_head = (a->done_head + 1) % a->max;
	a->done_count--;
	a->inflight--;
	return 1;
}

static void amem_drain(void *opaque)
{
	struct blk_amem *a = opaque;

	a->drains++;
	for (uint32_t i = 0; i < a->max; i++) {
		if (a->ops[i].busy)
			a->dropped++;
		a->ops[i].busy = false;
	}
	a->done_count = 0;
	a->inflight = 0;
}

static const struct blk_backend_ops amem_ops = {
	.submit = amem_submit,
	.commit = amem_commit,
	.reap = amem_reap,
	.drain = amem_drain,
};

int blk_amem_init(struct blk_amem *a, const struct blk_backend *inner, uint32_t max_inflight)
{
	memset(a, 0, sizeof(*a));
	a->event_fd = -1;
	if (!max_inflight || !inner->ops || !inner->ops->read)
		return -EINVAL;
	a->inner = *inner;
	a->max = max_inflight;
	a->ops = calloc(max_inflight, sizeof(*a->ops));
	a->done_tag = calloc(max_inflight, sizeof(*a->done_tag));
	a->done_res = calloc(max_inflight, sizeof(*a->done_res));
	a->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!a->ops || !a->done_tag || !a->done_res || a->event_fd < 0)
		goto err;
	for (uint32_t i = 0; i < max_inflight; i++) {
		a->ops[i].iov = calloc(BLK_BACKEND_IOV_MAX, sizeof(struct iovec));
		if (!a->ops[i].iov)
			goto err;
	}
	a->be = *inner;
	a->be.ops = &amem_ops;
	a->be.opaque = a;
	a->be.event_fd = a->event_fd;
	a->be.max_inflight = max_inflight;
	return 0;
err:
	blk_amem_destroy(a);
	return -ENOMEM;
}

void blk_amem_destroy(struct blk_amem *a)
{
	for (uint32_t i = 0; a->ops && i < a->max; i++)
		free(a->ops[i].iov);
	free(a->ops);
	free(a->done_tag);
	free(a->done_res);
	if (a->event_fd >= 0)
		close(a->event_fd);
	memset(a, 0, sizeof(*a));
	a->event_fd = -1;
}
