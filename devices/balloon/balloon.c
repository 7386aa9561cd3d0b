/* virtio-balloon device: lifecycle, features, queue roles, configuration
 * space and the transport-facing ops; queue processing is in
 * balloon_queue.c, the API-facing settings, statistics timer and snapshot
 * state in balloon_ctl.c.  See balloon.h. */
#include "devices/balloon/balloon.h"

#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "devices/balloon/balloon_priv.h"

static unsigned int offered_queues(const struct balloon_dev *b)
{
	return 2 + b->stats_enabled + b->reporting;
}

static void balloon_info(void *dev, struct virtio_dev_info *info)
{
	struct balloon_dev *b = dev;

	memset(info, 0, sizeof(*info));
	info->device_id = VIRTIO_ID_BALLOON;
	info->features = b->features;
	info->nr_queues = offered_queues(b);
	for (unsigned int i = 0; i < info->nr_queues; i++)
		info->queue_max[i] = BALLOON_QUEUE_SIZE;
}

/*
 * Queue roles from the negotiated features: Linux gives transport indexes
 * only to the queues it uses, so statsq is 2 when STATS_VQ was negotiated and
 * reporting_vq comes right after the last queue before it.  Every queue the
 * features call for must be ready.
 */
static int map_queues(struct balloon_dev *b, const struct virtio_activation *act,
		      struct virtq *q[BALLOON_Q_NR])
{
	unsigned int next = 0;

	memset(q, 0, sizeof(q[0]) * BALLOON_Q_NR);
	for (unsigned int role = 0; role < BALLOON_Q_NR; role++) {
		if (role == BALLOON_Q_STATS && !(act->features & VIRTIO_FEATURE(VIRTIO_BALLOON_F_STATS_VQ)))
			continue;
		if (role == BALLOON_Q_REPORTING && !(act->features & VIRTIO_FEATURE(VIRTIO_BALLOON_F_REPORTING)))
			continue;
		if (next >= act->nr_queues || !virtq_is_active(&act->queues[next]))
			return -EINVAL;
		q[role] = &act->queues[next++];
	}
	return 0;
}

static void balloon_notify(void *dev, unsigned int queue);

static int balloon_activate(void *dev, const struct virtio_activation *act)
{
	struct balloon_dev *b = dev;
	struct virtq *q[BALLOON_Q_NR];
	int ret = map_queues(b, act, q);

	if (ret)
		return ret;
	pthread_mutex_lock(&b->lock);
	b->mem = act->mem;
	memcpy(b->q, q, sizeof(q));
	b->irq = act->irq;
	b->broken = false;
	b->stats_held = false; /* a new driver gives its buffer again */
	b->active = true;
	pthread_mutex_unlock(&b->lock);
	/* Linux queues its first statistics buffer and kicks before DRIVER_OK,
	 * when the transport drops the kick: look at every queue now. */
	balloon_notify(b, 0);
	return 0;
}

static void balloon_reset(void *dev)
{
	struct balloon_dev *b = dev;

	pthread_mutex_lock(&b->lock);
	b->active = false;
	b->broken = false;
	b->stats_held = false;
	memset(b->q, 0, sizeof(b->q));
	b->mem = NULL;
	pthread_mutex_unlock(&b->lock);
}

static void balloon_notify(void *dev, unsigned int queue)
{
	struct balloon_dev *b = dev;

	if (b->kick)
		b->kick(b->kick_opaque);
	else
		(void)balloon_process(b);
}

static void balloon_config_read(void *dev, uint64_t offset, void *data, uint32_t len)
{
	struct balloon_dev *b = dev;
	struct virtio_balloon_config cfg = { 0 };

	if (offset >= sizeof(cfg))
		return;
	if (len > sizeof(cfg) - offset)
		len = sizeof(cfg) - offset;
	pthread_mutex_lock(&b->lock);
	cfg.num_pages = htole32(b->target_pages);
	cfg.actual = htole32(b->actual_pages);
	pthread_mutex_unlock(&b->lock);
	memcpy(data, (uint8_t *)&cfg + offset, len);
}

/* Only actual is writable; a write covering part of it changes those bytes,
 * bytes outside it are ignored. */
static void balloon_config_write(void *dev, uint64_t offset, const void *data, uint32_t len)
{
	struct balloon_dev *b = dev;
	const uint64_t lo = VIRTIO_BALLOON_CFG_ACTUAL, hi = lo + 4;
	uint64_t from, to;
	le32 actual;

	if (offset >= hi || len == 0 || offset + len <= lo)
		return;
	from = offset > lo ? offset : lo;
	to = offset + len < hi ? offset + len : hi;
	pthread_mutex_lock(&b->lock);
	actual = htole32(b->actual_pages);
	memcpy((uint8_t *)&actual + (from - lo), (const uint8_t *)data + (from - offset), to - from);
	b->actual_pages = le32toh(actual);
	pthread_mutex_unlock(&b->lock);
}

const struct virtio_dev_ops balloon_virtio_ops = {
	.info = balloon_info,
	.activate = balloon_activate,
	.reset = balloon_reset,
	.notify = balloon_notify,
	.config_read = balloon_config_read,
	.config_write = balloon_config_write,
};

static int default_discard(void *opaque, const struct gmem *mem, uint64_t gpa, uint64_t len)
{
	return gmem_discard(mem, gpa, len);
}

int balloon_dev_init(struct balloon_dev *b, const struct balloon_opts *opts, const struct dev_event_loop *loop)
{
	const struct balloon_settings *s = &opts->settings;
	int ret;

	if (!loop || !loop->watch || !loop->unwatch || s->amount_mib > BALLOON_MAX_MIB ||
	    (opts->mem_mib && s->amount_mib > opts->mem_mib) || s->stats_polling_interval_s > BALLOON_MAX_INTERVAL)
		return -EINVAL;
	memset(b, 0, sizeof(*b));
	b->stats_fd = -1;
	b->loop = *loop;
	b->deflate_on_oom = s->deflate_on_oom;
	b->stats_enabled = s->stats_polling_interval_s > 0;
	b->reporting = s->free_page_reporting;
	b->mem_mib = opts->mem_mib;
	b->features = VIRTIO_FEATURE(VIRTIO_F_VERSION_1);
	if (b->deflate_on_oom)
		b->features |= VIRTIO_FEATURE(VIRTIO_BALLOON_F_DEFLATE_ON_OOM);
	if (b->stats_enabled)
		b->features |= VIRTIO_FEATURE(VIRTIO_BALLOON_F_STATS_VQ);
	if (b->reporting)
		b->features |= VIRTIO_FEATURE(VIRTIO_BALLOON_F_REPORTING);
	b->discard = opts->discard ? opts->discard : default_discard;
	b->discard_opaque = opts->discard_opaque;
	b->kick = opts->kick;
	b->kick_opaque = opts->kick_opaque;
	b->target_pages = s->amount_mib * BALLOON_PAGES_PER_MIB;
	b->stats_interval_s = s->stats_polling_interval_s;
	ret = pthread_mutex_init(&b->lock, NULL);
	if (ret)
		return -ret;
	if (!b->stats_enabled)
		return 0;
	b->stats_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (b->stats_fd < 0) {
		ret = -errno;
		goto err_lock;
	}
	ret = balloon_timer_arm(b);
	if (ret)
		goto err_fd;
	ret = dev_watch(&b->loop, b->stats_fd, EPOLLIN, BALLOON_EVENT_STATS);
	if (ret)
		goto err_fd;
	return 0;
err_fd:
	close(b->stats_fd);
	b->stats_fd = -1;
err_lock:
	pthread_mutex_destroy(&b->lock);
	return ret;
}

void balloon_dev_destroy(struct balloon_dev *b)
{
	if (b->stats_fd >= 0) {
		dev_unwatch(&b->loop, b->stats_fd);
		close(b->stats_fd);
		b->stats_fd = -1;
	}
	pthread_mutex_destroy(&b->lock);
}

int balloon_timer_arm(struct balloon_dev *b)
{
	struct itimerspec its = {
		.it_interval = { .tv_sec = b->stats_interval_s },
		.it_value = { .tv_sec = b->stats_interval_s },
	};

	if (b->stats_fd < 0)
		return 0;
	return timerfd_settime(b->stats_fd, 0, &its, NULL) ? -errno : 0;
}
