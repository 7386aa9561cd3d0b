/* virtio-net device: lifecycle, features, configuration space, the
 * transport-facing ops and the event wiring; receive and transmit are in
 * net_rx.c and net_tx.c.  See net.h. */
#include "devices/net/net.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "devices/net/net_priv.h"
#include "vmm/log/log.h"

static void net_info(void *dev, struct virtio_dev_info *info)
{
	struct net_dev *d = dev;

	memset(info, 0, sizeof(*info));
	info->device_id = VIRTIO_ID_NET;
	info->features = d->features;
	info->nr_queues = NET_NR_QUEUES;
	info->queue_max[VIRTIO_NET_RXQ] = d->queue_size;
	info->queue_max[VIRTIO_NET_TXQ] = d->queue_size;
}

void net_broken(struct net_dev *d, int err)
{
	if (d->broken)
		return;
	LOG_DEBUG("virtio-net: malformed queue (%s), device needs reset", strerror(-err));
	d->metrics.queue_errors++;
	d->broken = true;
	virtio_irq_needs_reset(&d->irq);
}

void net_signal_used(struct net_dev *d, struct virtq *q)
{
	if (virtq_needs_notify(q)) {
		d->metrics.interrupts++;
		virtio_irq_signal(&d->irq, VIRTIO_ISR_USED);
	}
}

void net_watch_update(struct net_dev *d)
{
	uint32_t want = 0;

	if (d->active && !d->broken && !d->tap_failed) {
		if (!d->rx_have && !d->rx_wait_buffers && !ratelimit_blocked(&d->rx_rl))
			want |= EPOLLIN;
		if (d->tx_pending && d->tx_charged)
			want |= EPOLLOUT; /* waiting for the backend, not the limiter */
	}
	if (want == d->tap_watched)
		return;
	if (!want) {
		dev_unwatch(&d->loop, d->be.fd);
	} else if (dev_watch(&d->loop, d->be.fd, want, NET_EVENT_TAP)) {
		/* Keep the old mask recorded: the next update tries again. */
		LOG_WARN("virtio-net: cannot watch the backend fd");
		return;
	}
	d->tap_watched = want;
}

/* Has the VMM thread bring the watches up to date: through the kick hook
 * (queue processing updates them, active or not), or inline when there is
 * no hook (everything then runs on the caller's thread). */
static void net_wake(struct net_dev *d)
{
	if (d->kick) {
		d->kick(d->kick_opaque, VIRTIO_NET_RXQ);
		return;
	}
	pthread_mutex_lock(&d->lock);
	net_watch_update(d);
	pthread_mutex_unlock(&d->lock);
}

static int net_activate(void *dev, const struct virtio_activation *act)
{
	struct net_dev *d = dev;
	unsigned int flags = net_offload_flags(act->features);
	int ret;

	if (act->nr_queues < NET_NR_QUEUES || !virtq_is_active(&act->queues[VIRTIO_NET_RXQ]) ||
	    !virtq_is_active(&act->queues[VIRTIO_NET_TXQ]))
		return -EINVAL; /* both queues are needed */
	pthread_mutex_lock(&d->lock);
	/* An ioctl on the TAP: quick, never blocks. */
	ret = d->be.ops->set_offload(d->be.opaque, flags);
	if (ret) {
		pthread_mutex_unlock(&d->lock);
		LOG_WARN("virtio-net: backend refused offloads 0x%x: %s", flags, strerror(-ret));
		return ret;
	}
	d->offload_flags = flags;
	d->acked = act->features;
	d->mem = act->mem;
	d->rxq = &act->queues[VIRTIO_NET_RXQ];
	d->txq = &act->queues[VIRTIO_NET_TXQ];
	d->irq = act->irq;
	d->broken = false;
	d->rx_wait_buffers = false;
	d->tap_failed = false;
	d->active = true;
	pthread_mutex_unlock(&d->lock);
	/* Watching the TAP is the VMM thread's business (we may be on a
	 * vCPU): have it process the receive queue, which starts reading. */
	net_wake(d);
	return 0;
}

static void net_reset(void *dev)
{
	struct net_dev *d = dev;

	pthread_mutex_lock(&d->lock);
	net_rx_forget_chains(d);
	if (d->tx_pending) {
		/* Its chain belongs to the queue the driver just reset. */
		d->tx_pending = false;
		d->metrics.tx_dropped++;
	}
	d->active = false;
	d->broken = false;
	d->rxq = d->txq = NULL;
	d->mem = NULL;
	d->acked = 0;
	pthread_mutex_unlock(&d->lock);
	/* The VMM thread stops watching the TAP (also, failing that, at the
	 * next event the loop reports for it). */
	net_wake(d);
}

static void net_notify(void *dev, unsigned int queue)
{
	struct net_dev *d = dev;

	if (d->kick)
		d->kick(d->kick_opaque, queue);
	else
		(void)net_process_queue(d, queue);
}

static void net_config(const struct net_dev *d, struct virtio_net_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	if (d->has_mac)
		memcpy(cfg->mac, d->mac, sizeof(cfg->mac));
	cfg->status = htole16(VIRTIO_NET_S_LINK_UP);
	cfg->max_virtqueue_pairs = htole16(1);
	cfg->mtu = htole16(d->mtu);
}

static void net_config_read(void *dev, uint64_t offset, void *data, uint32_t len)
{
	struct net_dev *d = dev;
	struct virtio_net_config cfg;

	if (offset >= sizeof(cfg))
		return;
	if (len > sizeof(cfg) - offset)
		len = sizeof(cfg) - offset;
	pthread_mutex_lock(&d->lock);
	net_config(d, &cfg);
	pthread_mutex_unlock(&d->lock);
	memcpy(data, (uint8_t *)&cfg + offset, len);
}

static void net_config_write(void *dev, uint64_t offset, const void *data, uint32_t len)
{
	/* The MAC is read-only in virtio 1.x (writable only for legacy
	 * drivers without CTRL_MAC_ADDR); nothing else is writable. */
}

const struct virtio_dev_ops net_virtio_ops = {
	.info = net_info,
	.activate = net_activate,
	.reset = net_reset,
	.notify = net_notify,
	.config_read = net_config_read,
	.config_write = net_config_write,
};

int net_process_queue(struct net_dev *d, unsigned int queue)
{
	int ret = 0;

	pthread_mutex_lock(&d->lock);
	if (!d->active)
		goto out; /* (after a reset: the watches go) */
	if (d->broken) {
		ret = -EIO;
		goto out;
	}
	if (queue == VIRTIO_NET_RXQ) {
		/* New buffers, perhaps: try again, also after a backend error. */
		d->rx_wait_buffers = false;
		d->tap_failed = false;
		ret = net_rx_run(d);
	} else if (queue == VIRTIO_NET_TXQ && (d->tap_failed || !(d->tx_pending && d->tx_charged))) {
		/* A frame waiting for EPOLLOUT: the loop says when to retry,
		 * unless the backend failed and nothing is watched. */
		d->tap_failed = false;
		ret = net_tx_run(d);
	}
out:
	net_watch_update(d);
	pthread_mutex_unlock(&d->lock);
	return ret;
}

void net_event(void *dev, uint32_t token, uint32_t events)
{
	struct net_dev *d = dev;

	pthread_mutex_lock(&d->lock);
	switch (token) {
	case NET_EVENT_RX_RATELIMIT:
		ratelimit_timer_event(&d->rx_rl);
		if (d->active && !d->broken)
			(void)net_rx_run(d);
		break;
	case NET_EVENT_TX_RATELIMIT:
		ratelimit_timer_event(&d->tx_rl);
		if (d->active && !d->broken)
			(void)net_tx_run(d);
		break;
	case NET_EVENT_TAP:
		if (!d->active || d->broken)
			break;
		if (events & (EPOLLERR | EPOLLHUP)) {
			/* The interface went away or broke: epoll would report
			 * it on every wait, so watch nothing until the driver
			 * notifies a queue again, rather than spin. */
			d->metrics.event_errors++;
			d->tap_failed = true;
		}
		if ((events & EPOLLOUT) && !d->tap_failed)
			(void)net_tx_run(d);
		if ((events & EPOLLIN) && !d->tap_failed)
			(void)net_rx_run(d);
		break;
	default:
		break;
	}
	net_watch_update(d);
	pthread_mutex_unlock(&d->lock);
}

static uint64_t net_features(const struct net_opts *o)
{
	uint64_t f = VIRTIO_FEATURE(VIRTIO_F_VERSION_1) | VIRTIO_FEATURE(VIRTIO_F_RING_EVENT_IDX) |
		     VIRTIO_FEATURE(VIRTIO_F_RING_INDIRECT_DESC) | VIRTIO_FEATURE(VIRTIO_NET_F_CSUM) |
		     VIRTIO_FEATURE(VIRTIO_NET_F_GUEST_CSUM) | VIRTIO_FEATURE(VIRTIO_NET_F_GUEST_TSO4) |
		     VIRTIO_FEATURE(VIRTIO_NET_F_GUEST_TSO6) | VIRTIO_FEATURE(VIRTIO_NET_F_GUEST_UFO) |
		     VIRTIO_FEATURE(VIRTIO_NET_F_HOST_TSO4) | VIRTIO_FEATURE(VIRTIO_NET_F_HOST_TSO6) |
		     VIRTIO_FEATURE(VIRTIO_NET_F_HOST_UFO) | VIRTIO_FEATURE(VIRTIO_NET_F_MRG_RXBUF) |
		     VIRTIO_FEATURE(VIRTIO_NET_F_STATUS);

	if (o->has_mac)
		f |= VIRTIO_FEATURE(VIRTIO_NET_F_MAC);
	if (o->mtu)
		f |= VIRTIO_FEATURE(VIRTIO_NET_F_MTU);
	return f;
}

static int watch_limiter(struct net_dev *d, struct ratelimit *rl, uint32_t token)
{
	return ratelimit_fd(rl) >= 0 ? dev_watch(&d->loop, ratelimit_fd(rl), EPOLLIN, token) : 0;
}

int net_dev_init(struct net_dev *d, const struct net_backend *be, const struct dev_event_loop *loop,
		 const struct net_opts *opts)
{
	static const struct net_opts none;
	const struct net_opts *o = opts ? opts : &none;
	uint16_t qs = o->queue_size ? o->queue_size : NET_QUEUE_SIZE;
	int ret;

	if (!be || !be->ops || !be->ops->read || !be->ops->writev || !be->ops->set_offload || be->fd < 0 ||
	    !loop || !loop->watch || !loop->unwatch)
		return -EINVAL;
	if ((o->mtu && o->mtu < 68) || qs < 2 || qs > VIRTQ_MAX_SIZE || (qs & (qs - 1)))
		return -EINVAL;
	memset(d, 0, sizeof(*d));
	d->rx_frame = malloc(NET_BUF_MAX);
	d->tx_frame = malloc(NET_BUF_MAX);
	if (!d->rx_frame || !d->tx_frame) {
		ret = -ENOMEM;
		goto err_free;
	}
	ret = pthread_mutex_init(&d->lock, NULL);
	if (ret) {
		ret = -ret;
		goto err_free;
	}
	d->be = *be;
	d->loop = *loop;
	d->has_mac = o->has_mac;
	memcpy(d->mac, o->mac, sizeof(d->mac));
	d->mtu = o->mtu;
	d->queue_size = qs;
	d->features = net_features(o);
	d->kick = o->kick;
	d->kick_opaque = o->kick_opaque;
	ret = ratelimit_init(&d->rx_rl, &o->rx_rate_limiter, o->now_ns);
	if (ret)
		goto err_lock;
	ret = ratelimit_init(&d->tx_rl, &o->tx_rate_limiter, o->now_ns);
	if (ret)
		goto err_rx_rl;
	ret = watch_limiter(d, &d->rx_rl, NET_EVENT_RX_RATELIMIT);
	if (ret)
		goto err_tx_rl;
	ret = watch_limiter(d, &d->tx_rl, NET_EVENT_TX_RATELIMIT);
	if (ret)
		goto err_unwatch;
	return 0;
err_unwatch:
	if (ratelimit_fd(&d->rx_rl) >= 0)
		dev_unwatch(&d->loop, ratelimit_fd(&d->rx_rl));
err_tx_rl:
	ratelimit_destroy(&d->tx_rl);
err_rx_rl:
	ratelimit_destroy(&d->rx_rl);
err_lock:
	pthread_mutex_destroy(&d->lock);
err_free:
	free(d->rx_frame);
	free(d->tx_frame);
	d->rx_frame = d->tx_frame = NULL;
	return ret;
}

void net_dev_destroy(struct net_dev *d)
{
	if (d->tap_watched)
		dev_unwatch(&d->loop, d->be.fd);
	d->tap_watched = 0;
	if (ratelimit_fd(&d->rx_rl) >= 0)
		dev_unwatch(&d->loop, ratelimit_fd(&d->rx_rl));
	if (ratelimit_fd(&d->tx_rl) >= 0)
		dev_unwatch(&d->loop, ratelimit_fd(&d->tx_rl));
	ratelimit_destroy(&d->rx_rl);
	ratelimit_destroy(&d->tx_rl);
	pthread_mutex_destroy(&d->lock);
	free(d->rx_frame);
	free(d->tx_frame);
	d->rx_frame = d->tx_frame = NULL;
}

int net_dev_update_ratelimit(struct net_dev *d, const struct ratelimit_config *rx,
			     const struct ratelimit_config *tx)
{
	int rx_fd, tx_fd, ret = 0;

	if ((rx && ratelimit_config_check(rx)) || (tx && ratelimit_config_check(tx)))
		return -EINVAL;
	pthread_mutex_lock(&d->lock);
	rx_fd = ratelimit_fd(&d->rx_rl);
	tx_fd = ratelimit_fd(&d->tx_rl);
	if (rx)
		ret = ratelimit_update(&d->rx_rl, rx);
	if (!ret && tx)
		ret = ratelimit_update(&d->tx_rl, tx);
	/* A limiter that was unlimited has a timerfd now. */
	if (!ret && ratelimit_fd(&d->rx_rl) != rx_fd)
		ret = watch_limiter(d, &d->rx_rl, NET_EVENT_RX_RATELIMIT);
	if (!ret && ratelimit_fd(&d->tx_rl) != tx_fd)
		ret = watch_limiter(d, &d->tx_rl, NET_EVENT_TX_RATELIMIT);
	/* Buckets start full: whatever waited on a limiter may go on. */
	if (!ret && d->active && !d->broken) {
		(void)net_tx_run(d);
		(void)net_rx_run(d);
	}
	net_watch_update(d);
	pthread_mutex_unlock(&d->lock);
	return ret;
}

void net_metrics_get(struct net_dev *d, struct net_metrics *m)
{
	pthread_mutex_lock(&d->lock);
	*m = d->metrics;
	pthread_mutex_unlock(&d->lock);
}
