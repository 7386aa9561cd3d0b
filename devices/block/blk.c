/* virtio-blk device: lifecycle, features, configuration space and the
 * transport-facing ops; request processing is in blk_queue.c.  See blk.h. */
#include "devices/block/blk.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <string.h>

#include "devices/block/blk_priv.h"

#include "vmm/log/log.h"

static void blk_info(void *dev, struct virtio_dev_info *info)
{
	struct blk_dev *b = dev;

	memset(info, 0, sizeof(*info));
	info->device_id = VIRTIO_ID_BLOCK;
	info->features = b->features;
	info->nr_queues = 1;
	info->queue_max[0] = b->queue_size;
}

static int blk_activate(void *dev, const struct virtio_activation *act)
{
	struct blk_dev *b = dev;

	if (act->nr_queues < 1 || !virtq_is_active(&act->queues[0]))
		return -EINVAL; /* the request queue was never made ready */
	pthread_mutex_lock(&b->lock);
	b->mem = act->mem;
	b->q = &act->queues[0];
	b->irq = act->irq;
	b->broken = false;
	b->active = true;
	pthread_mutex_unlock(&b->lock);
	return 0;
}

static void blk_reset(void *dev)
{
	struct blk_dev *b = dev;

	/* Waits for a blk_process_queue in progress, and for every request in
	 * flight in an asynchronous backend: after this returns the device
	 * touches neither the queue, nor guest memory, nor the irq. */
	pthread_mutex_lock(&b->lock);
	if (blk_is_async(b))
		blk_async_drop(b);
	b->pending = false;
	b->active = false;
	b->broken = false;
	b->q = NULL;
	b->mem = NULL;
	pthread_mutex_unlock(&b->lock);
}

static void blk_notify(void *dev, unsigned int queue)
{
	struct blk_dev *b = dev;

	if (b->kick)
		b->kick(b->kick_opaque);
	else
		(void)blk_process_queue(b);
}

static void blk_config(const struct blk_dev *b, struct virtio_blk_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->capacity = htole64(b->capacity);
	cfg->seg_max = htole32(b->queue_size - 2); /* header and status take two */
	cfg->blk_size = htole32(VIRTIO_BLK_SECTOR_SIZE);
}

static void blk_config_read(void *dev, uint64_t offset, void *data, uint32_t len)
{
	struct blk_dev *b = dev;
	struct virtio_blk_config cfg;

	if (offset >= sizeof(cfg))
		return;
	if (len > sizeof(cfg) - offset)
		len = sizeof(cfg) - offset;
	pthread_mutex_lock(&b->lock);
	blk_config(b, &cfg);
	pthread_mutex_unlock(&b->lock);
	memcpy(data, (uint8_t *)&cfg + offset, len);
}

static void blk_config_write(void *dev, uint64_t offset, const void *data, uint32_t len)
{
	/* Nothing is writable without VIRTIO_BLK_F_CONFIG_WCE. */
}

const struct virtio_dev_ops blk_virtio_ops = {
	.info = blk_info,
	.activate = blk_activate,
	.reset = blk_reset,
	.notify = blk_notify,
	.config_read = blk_config_read,
	.config_write = blk_config_write,
};

static uint64_t blk_features(const struct blk_backend *be)
{
	uint64_t f = VIRTIO_FEATURE(VIRTIO_F_VERSION_1) | VIRTIO_FEATURE(VIRTIO_F_RING_INDIRECT_DESC) |
		     VIRTIO_FEATURE(VIRTIO_F_RING_EVENT_IDX) | VIRTIO_FEATURE(VIRTIO_BLK_F_SEG_MAX) |
		     VIRTIO_FEATURE(VIRTIO_BLK_F_BLK_SIZE);

	if (be->read_only)
		f |= VIRTIO_FEATURE(VIRTIO_BLK_F_RO);
	if (be->cache == BLK_CACHE_WRITEBACK)
		f |= VIRTIO_FEATURE(VIRTIO_BLK_F_FLUSH);
	return f;
}

/* Sync engines: read, and write unless read-only.  Async engines: all four
 * async ops, an eventfd and room for at least one request. */
static bool backend_ok(const struct blk_backend *be)
{
	const struct blk_backend_ops *o = be ? be->ops : NULL;

	if (!o || be->size < VIRTIO_BLK_SECTOR_SIZE)
		return false;
	if (blk_backend_is_async(be))
		return o->commit && o->reap && o->drain && be->event_fd >= 0 && be->max_inflight >= 1;
	return o->read && (be->read_only || o->write);
}

int blk_dev_init(struct blk_dev *b, const struct blk_backend *be, const struct blk_opts *opts)
{
	uint16_t qs = opts && opts->queue_size ? opts->queue_size : BLK_QUEUE_SIZE;
	int ret;

	if (!backend_ok(be))
		return -EINVAL;
	if (qs < 4 || qs > VIRTQ_MAX_SIZE || (qs & (qs - 1)))
		return -EINVAL;
	memset(b, 0, sizeof(*b));
	b->watched_rl_fd = -1;
	b->watched_be_fd = -1;
	ret = ratelimit_init(&b->rl, opts ? opts->rate_limiter : NULL, opts ? opts->rl_now_ns : NULL);
	if (ret)
		return ret;
	ret = pthread_mutex_init(&b->lock, NULL);
	if (ret) {
		ratelimit_destroy(&b->rl);
		return -ret;
	}
	b->be = *be;
	b->queue_size = qs;
	if (blk_backend_is_async(be)) {
		ret = blk_async_alloc(b);
		if (ret)
			goto err;
	}
	if (opts && opts->events) {
		b->events = *opts->events;
		b->has_events = true;
	}
	ret = blk_watch_fds(b);
	if (ret)
		goto err;
	b->capacity = be->size >> VIRTIO_BLK_SECTOR_SHIFT;
	if (be->size & (VIRTIO_BLK_SECTOR_SIZE - 1))
		LOG_WARN("block image of %llu bytes is not a whole number of sectors; the last %llu bytes are not visible",
			 (unsigned long long)be->size, (unsigned long long)(be->size & (VIRTIO_BLK_SECTOR_SIZE - 1)));
	b->features = blk_features(be);
	if (opts && opts->drive_id) /* NUL-padded (by the memset), no NUL at 20 */
		memcpy(b->id, opts->drive_id, strnlen(opts->drive_id, sizeof(b->id)));
	if (opts) {
		b->kick = opts->kick;
		b->kick_opaque = opts->kick_opaque;
	}
	return 0;
err:
	blk_unwatch_fds(b);
	free(b->inflight);
	b->inflight = NULL;
	ratelimit_destroy(&b->rl);
	pthread_mutex_destroy(&b->lock);
	return ret;
}

/* After blk_reset (or before any activation): nothing is in flight. */
void blk_dev_destroy(struct blk_dev *b)
{
	if (blk_is_async(b) && b->nr_inflight)
		blk_async_drop(b);
	blk_unwatch_fds(b);
	free(b->inflight);
	b->inflight = NULL;
	ratelimit_destroy(&b->rl);
	pthread_mutex_destroy(&b->lock);
}

int blk_dev_set_backend(struct blk_dev *b, const struct blk_backend *be)
{
	struct blk_inflight *table = NULL;
	bool to_async = blk_backend_is_async(be);
	int ret;

	if (!backend_ok(be))
		return -EINVAL;
	pthread_mutex_lock(&b->lock);
	if (be->read_only != b->be.read_only || be->cache != b->be.cache || (to_async && !b->has_events)) {
		ret = -EINVAL;
		goto out;
	}
	if (to_async && !blk_is_async(b)) {
		table = calloc(b->queue_size, sizeof(*table));
		if (!table) {
			ret = -ENOMEM;
			goto out;
		}
	}
	if (to_async && be->event_fd != b->watched_be_fd) {
		ret = dev_watch(&b->events, be->event_fd, EPOLLIN, BLK_EVENT_COMPLETION);
		if (ret) {
			free(table);
			goto out;
		}
	}
	/* Nothing can fail from here.  The old backend answers what it has in
	 * flight before it goes. */
	if (blk_is_async(b)) {
		(void)blk_async_reap(b, true);
		blk_signal_used(b);
	}
	if (b->watched_be_fd >= 0 && b->watched_be_fd != (to_async ? be->event_fd : -1))
		dev_unwatch(&b->events, b->watched_be_fd);
	b->watched_be_fd = to_async ? be->event_fd : -1;
	if (!to_async) {
		free(b->inflight);
		b->inflight = NULL;
	} else if (table) {
		b->inflight = table;
	}
	b->be = *be;
	b->capacity = be->size >> VIRTIO_BLK_SECTOR_SHIFT;
	/* A chain that waited for room in the old engine goes to the new one
	 * now: the guest will not kick again for it. */
	if (b->pending)
		(void)blk_process_locked(b);
	ret = 0;
out:
	pthread_mutex_unlock(&b->lock);
	return ret;
}

uint64_t blk_dev_capacity(struct blk_dev *b)
{
	uint64_t c;

	pthread_mutex_lock(&b->lock);
	c = b->capacity;
	pthread_mutex_unlock(&b->lock);
	return c;
}

void blk_metrics_get(struct blk_dev *b, struct blk_metrics *m)
{
	pthread_mutex_lock(&b->lock);
	*m = b->metrics;
	pthread_mutex_unlock(&b->lock);
}
