/* virtio-blk device: lifecycle, features, configuration space and the
 * transport-facing ops; request processing is in blk_queue.c.  See blk.h. */
#include "devices/block/blk.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

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

	/* Waits for a blk_process_queue in progress: after this returns the
	 * device touches neither the queue nor the irq. */
	pthread_mutex_lock(&b->lock);
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

int blk_dev_init(struct blk_dev *b, const struct blk_backend *be, const struct blk_opts *opts)
{
	uint16_t qs = opts && opts->queue_size ? opts->queue_size : BLK_QUEUE_SIZE;
	int ret;

	if (!be || !be->ops || !be->ops->read || (!be->read_only && !be->ops->write) ||
	    be->size < VIRTIO_BLK_SECTOR_SIZE)
		return -EINVAL;
	if (qs < 4 || qs > VIRTQ_MAX_SIZE || (qs & (qs - 1)))
		return -EINVAL;
	memset(b, 0, sizeof(*b));
	ret = pthread_mutex_init(&b->lock, NULL);
	if (ret)
		return -ret;
	b->be = *be;
	b->capacity = be->size >> VIRTIO_BLK_SECTOR_SHIFT;
	if (be->size & (VIRTIO_BLK_SECTOR_SIZE - 1))
		LOG_WARN("block image of %llu bytes is not a whole number of sectors; the last %llu bytes are not visible",
			 (unsigned long long)be->size, (unsigned long long)(be->size & (VIRTIO_BLK_SECTOR_SIZE - 1)));
	b->features = blk_features(be);
	b->queue_size = qs;
	if (opts && opts->drive_id) /* NUL-padded (by the memset), no NUL at 20 */
		memcpy(b->id, opts->drive_id, strnlen(opts->drive_id, sizeof(b->id)));
	if (opts) {
		b->kick = opts->kick;
		b->kick_opaque = opts->kick_opaque;
	}
	return 0;
}

void blk_dev_destroy(struct blk_dev *b)
{
	pthread_mutex_destroy(&b->lock);
}

int blk_dev_set_backend(struct blk_dev *b, const struct blk_backend *be)
{
	if (!be || !be->ops || !be->ops->read || (!be->read_only && !be->ops->write) ||
	    be->size < VIRTIO_BLK_SECTOR_SIZE)
		return -EINVAL;
	pthread_mutex_lock(&b->lock);
	if (be->read_only != b->be.read_only || be->cache != b->be.cache) {
		pthread_mutex_unlock(&b->lock);
		return -EINVAL;
	}
	b->be = *be;
	b->capacity = be->size >> VIRTIO_BLK_SECTOR_SHIFT;
	pthread_mutex_unlock(&b->lock);
	return 0;
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
