/* virtio-rng device: lifecycle, the transport-facing ops, the limiter's
 * event wiring, metrics and snapshot state; request processing is in
 * rng_queue.c.  See rng.h. */
#include "devices/rng/rng.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>

static void rng_info(void *dev, struct virtio_dev_info *info)
{
	struct rng_dev *r = dev;

	memset(info, 0, sizeof(*info));
	info->device_id = VIRTIO_ID_RNG;
	/* Firecracker offers VERSION_1 only; indirect tables and event idx
	 * would work too, but the guest driver gains nothing from them. */
	info->features = VIRTIO_FEATURE(VIRTIO_F_VERSION_1);
	info->nr_queues = 1;
	info->queue_max[0] = r->queue_size;
}

static void rng_notify(void *dev, unsigned int queue);

static int rng_activate(void *dev, const struct virtio_activation *act)
{
	struct rng_dev *r = dev;

	if (act->nr_queues < 1 || !virtq_is_active(&act->queues[0]))
		return -EINVAL;
	pthread_mutex_lock(&r->lock);
	r->mem = act->mem;
	r->q = &act->queues[0];
	r->irq = act->irq;
	r->broken = false;
	r->active = true;
	pthread_mutex_unlock(&r->lock);
	/* Buffers the driver offered before DRIVER_OK got no kick through. */
	rng_notify(r, 0);
	return 0;
}

static void rng_reset(void *dev)
{
	struct rng_dev *r = dev;

	pthread_mutex_lock(&r->lock);
	r->active = false;
	r->broken = false;
	r->q = NULL;
	r->mem = NULL;
	pthread_mutex_unlock(&r->lock);
}

static void rng_notify(void *dev, unsigned int queue)
{
	struct rng_dev *r = dev;

	if (r->kick)
		r->kick(r->kick_opaque);
	else
		(void)rng_process_queue(r);
}

/* No configuration space: config_read/config_write stay NULL (reads 0). */
const struct virtio_dev_ops rng_virtio_ops = {
	.info = rng_info,
	.activate = rng_activate,
	.reset = rng_reset,
	.notify = rng_notify,
};

/* Puts the limiter's timerfd in the loop if it has one and is not there. */
static int watch_limiter(struct rng_dev *r)
{
	int fd = ratelimit_fd(&r->rl), ret;

	if (fd < 0 || r->watching)
		return 0;
	ret = dev_watch(&r->loop, fd, EPOLLIN, RNG_EVENT_RATELIMIT);
	if (ret)
		return ret;
	r->watching = true;
	return 0;
}

int rng_dev_init(struct rng_dev *r, const struct rng_opts *opts, const struct dev_event_loop *loop)
{
	static const struct rng_opts defaults;
	uint16_t qs;
	int ret;

	if (!opts)
		opts = &defaults;
	qs = opts->queue_size ? opts->queue_size : RNG_QUEUE_SIZE;
	if (qs > VIRTQ_MAX_SIZE || (qs & (qs - 1)))
		return -EINVAL;
	if (opts->source && !opts->source->fill)
		return -EINVAL;
	if (!loop || !loop->watch || !loop->unwatch)
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	r->source = opts->source ? *opts->source : rng_source_getrandom;
	r->loop = *loop;
	r->queue_size = qs;
	r->kick = opts->kick;
	r->kick_opaque = opts->kick_opaque;
	ret = pthread_mutex_init(&r->lock, NULL);
	if (ret)
		return -ret;
	ret = ratelimit_init(&r->rl, &opts->limit, opts->now_ns);
	if (ret)
		goto err_lock;
	ret = watch_limiter(r);
	if (ret)
		goto err_rl;
	return 0;
err_rl:
	ratelimit_destroy(&r->rl);
err_lock:
	pthread_mutex_destroy(&r->lock);
	return ret;
}

void rng_dev_destroy(struct rng_dev *r)
{
	if (r->watching)
		dev_unwatch(&r->loop, ratelimit_fd(&r->rl));
	r->watching = false;
	ratelimit_destroy(&r->rl);
	pthread_mutex_destroy(&r->lock);
}

void rng_event_handler(void *dev, uint32_t token, uint32_t events)
{
	struct rng_dev *r = dev;

	if (token != RNG_EVENT_RATELIMIT)
		return;
	pthread_mutex_lock(&r->lock);
	ratelimit_timer_event(&r->rl);
	pthread_mutex_unlock(&r->lock);
	(void)rng_process_queue(r);
}

int rng_ratelimit_update(struct rng_dev *r, const struct ratelimit_config *cfg)
{
	int ret;

	pthread_mutex_lock(&r->lock);
	ret = ratelimit_update(&r->rl, cfg); /* nothing changed on error */
	if (!ret)
		ret = watch_limiter(r);
	pthread_mutex_unlock(&r->lock);
	if (!ret)
		(void)rng_process_queue(r); /* chains a stricter old limit held back */
	return ret;
}

void rng_metrics_get(struct rng_dev *r, struct rng_metrics *m)
{
	pthread_mutex_lock(&r->lock);
	*m = r->metrics;
	pthread_mutex_unlock(&r->lock);
}

void rng_save(struct rng_dev *r, struct rng_state *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&r->lock);
	st->bw = r->rl.bw;
	st->ops = r->rl.ops;
	pthread_mutex_unlock(&r->lock);
}

int rng_restore(struct rng_dev *r, const struct rng_state *st)
{
	struct rng_state copy = *st; /* one copy of untrusted input */
	int ret;

	pthread_mutex_lock(&r->lock);
	ret = ratelimit_restore(&r->rl, &copy.bw, &copy.ops); /* checks; nothing changed on error */
	if (!ret)
		ret = watch_limiter(r);
	pthread_mutex_unlock(&r->lock);
	return ret;
}
