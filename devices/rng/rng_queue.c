/* virtio-rng request processing: pop, charge the limiter, fill, push,
 * notify.  See rng.h for the policies. */
#include <errno.h>
#include <string.h>

#include "devices/rng/rng.h"
#include "vmm/log/log.h"

/*
 * Gives the chain just popped back to the ring so the next pop returns it
 * again (re-read and re-validated then).  Sound because a pop only advances
 * last_avail, and the driver may not touch an available entry the device has
 * not used.  (A virtq_unpop() in the virtq API would say this better.)
 */
static void unpop(struct virtq *q)
{
	q->last_avail--;
}

/* Takes the tokens for one chain of len bytes, or false with nothing taken. */
static bool charge(struct rng_dev *r, uint32_t len)
{
	if (!ratelimit_consume(&r->rl, 1, RL_OPS))
		return false;
	if (len && !ratelimit_consume(&r->rl, len, RL_BYTES)) {
		ratelimit_replenish(&r->rl, 1, RL_OPS);
		return false;
	}
	return true;
}

/* Fills the first len writable bytes from the source; returns the bytes
 * filled before the first failure (all of them on success). */
static uint32_t fill(struct rng_dev *r, uint32_t len)
{
	uint32_t done = 0;
	int n = virtq_chain_to_iovec(&r->chain, r->mem, VIRTQ_DEV_WRITE, 0, len, r->iov, VIRTQ_MAX_SIZE);

	if (n < 0)
		return 0; /* cannot happen for a validated chain; counted as an error */
	for (int i = 0; i < n; i++) {
		/* Straight into guest memory: random bytes need no validation. */
		if (r->source.fill(r->source.opaque, r->iov[i].iov_base, r->iov[i].iov_len))
			break;
		done += r->iov[i].iov_len;
	}
	return done;
}

/* 1: chain served; 0: throttled (chain back on the ring); -errno: push failed. */
static int serve_chain(struct rng_dev *r)
{
	uint32_t want = r->chain.writable_len < RNG_MAX_REQUEST ? r->chain.writable_len : RNG_MAX_REQUEST;
	uint32_t done = 0;
	int ret;

	if (!charge(r, want)) {
		unpop(r->q);
		r->metrics.throttled++;
		return 0;
	}
	if (want) {
		done = fill(r, want);
		if (done < want)
			r->metrics.errors++;
	} else {
		r->metrics.empty++;
	}
	ret = virtq_push(r->q, r->chain.head, done);
	if (ret)
		return ret;
	r->metrics.requests++;
	r->metrics.bytes += done;
	return 1;
}

static int drain(struct rng_dev *r)
{
	int ret;

	do {
		for (;;) {
			/* Blocked: leave the ring alone until the timer event. */
			if (ratelimit_blocked(&r->rl))
				return 0;
			ret = virtq_pop(r->q, &r->chain);
			if (ret)
				break;
			ret = serve_chain(r);
			if (ret <= 0)
				return ret; /* throttled (0): the timer event resumes */
		}
		if (ret != -EAGAIN)
			return ret;
	} while (virtq_notify_enable(r->q));
	return 0;
}

int rng_process_queue(struct rng_dev *r)
{
	int ret = 0;

	pthread_mutex_lock(&r->lock);
	if (!r->active)
		goto out;
	if (r->broken) {
		ret = -EIO;
		goto out;
	}
	ret = drain(r);
	if (ret) {
		LOG_DEBUG("virtio-rng: malformed queue (%s), device needs reset", strerror(-ret));
		r->metrics.queue_errors++;
		r->broken = true;
		virtio_irq_needs_reset(&r->irq);
		ret = -EIO;
	}
	if (virtq_needs_notify(r->q)) {
		r->metrics.interrupts++;
		virtio_irq_signal(&r->irq, VIRTIO_ISR_USED);
	}
out:
	pthread_mutex_unlock(&r->lock);
	return ret;
}
