/* virtio-net snapshot state: save, and a restore that checks everything
 * against the activation before using it.  See net.h. */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>

#include "devices/net/net_priv.h"

void net_save(struct net_dev *d, struct net_state *st)
{
	pthread_mutex_lock(&d->lock);
	memset(st, 0, sizeof(*st));
	st->magic = NET_STATE_MAGIC;
	st->mtu = d->mtu;
	st->has_mac = d->has_mac;
	memcpy(st->mac, d->mac, sizeof(st->mac));
	st->acked_features = d->active ? d->acked : 0;
	st->offload_flags = d->active ? d->offload_flags : 0;
	st->rx_have = d->rx_have;
	st->rx_charged = d->rx_charged;
	st->rx_len = d->rx_have ? d->rx_len : 0;
	st->rx_done = d->rx_done;
	st->rx_nheld = d->rx_nheld;
	memcpy(st->rx_nb_gpa, d->rx_nb_gpa, sizeof(st->rx_nb_gpa));
	memcpy(st->rx_held, d->rx_held, sizeof(st->rx_held[0]) * d->rx_nheld);
	if (d->rx_have)
		memcpy(st->rx_frame, d->rx_frame, d->rx_len);
	st->tx_pending = d->tx_pending;
	st->tx_charged = d->tx_charged;
	st->tx_head = d->tx_pending ? d->tx_head : 0;
	st->tx_len = d->tx_pending ? d->tx_len : 0;
	if (d->tx_pending)
		memcpy(st->tx_frame, d->tx_frame, d->tx_len);
	st->rx_bw = d->rx_rl.bw;
	st->rx_ops = d->rx_rl.ops;
	st->tx_bw = d->tx_rl.bw;
	st->tx_ops = d->tx_rl.ops;
	pthread_mutex_unlock(&d->lock);
}

static bool rx_ok(const struct net_dev *d, const struct net_state *s)
{
	uint64_t sum = 0;

	if (s->rx_have > 1 || s->rx_charged > 1)
		return false;
	if (!s->rx_have)
		return !s->rx_nheld && !s->rx_done && !s->rx_len;
	if (s->rx_len <= VIRTIO_NET_HDR_LEN || s->rx_len > NET_BUF_MAX)
		return false;
	if (!s->rx_nheld)
		return !s->rx_done;
	/* Chains held in a queue: only with an active queue of that size. */
	if (!d->active || s->rx_nheld > d->rxq->size || s->rx_done >= s->rx_len)
		return false;
	for (unsigned int i = 0; i < s->rx_nheld; i++) {
		if (s->rx_held[i].head >= d->rxq->size || !s->rx_held[i].len)
			return false;
		sum += s->rx_held[i].len;
	}
	return sum == s->rx_done && gmem_range_ok(d->mem, s->rx_nb_gpa[0], 1) &&
	       gmem_range_ok(d->mem, s->rx_nb_gpa[1], 1);
}

static bool tx_ok(const struct net_dev *d, const struct net_state *s)
{
	if (s->tx_pending > 1 || s->tx_charged > 1)
		return false;
	if (!s->tx_pending)
		return !s->tx_len && !s->tx_head;
	return d->active && s->tx_head < d->txq->size && s->tx_len > VIRTIO_NET_HDR_LEN &&
	       s->tx_len <= NET_BUF_MAX &&
	       net_tx_hdr_ok((const struct virtio_net_hdr_v1 *)s->tx_frame, d->acked);
}

static bool state_ok(const struct net_dev *d, const struct net_state *s)
{
	uint64_t acked = d->active ? d->acked : 0;

	if (s->magic != NET_STATE_MAGIC || s->has_mac > 1 || (s->mtu && s->mtu < 68))
		return false;
	/* The device is configured by the VM's config; the snapshot must
	 * describe the same one. */
	if (s->has_mac != d->has_mac || (d->has_mac && memcmp(s->mac, d->mac, 6)) || s->mtu != d->mtu)
		return false;
	if (s->acked_features != acked || s->offload_flags != (d->active ? net_offload_flags(acked) : 0))
		return false;
	return rx_ok(d, s) && tx_ok(d, s);
}

/* Loads the saved buckets (checked by the limiter) and watches a timerfd
 * the limiter had to create.  On error nothing changed. */
static int limiters_restore(struct net_dev *d, const struct net_state *st)
{
	struct rl_bucket_state rx_bw = d->rx_rl.bw, rx_ops = d->rx_rl.ops;
	int rx_fd = ratelimit_fd(&d->rx_rl), tx_fd = ratelimit_fd(&d->tx_rl);
	int ret = ratelimit_restore(&d->rx_rl, &st->rx_bw, &st->rx_ops);

	if (ret)
		return ret;
	ret = ratelimit_restore(&d->tx_rl, &st->tx_bw, &st->tx_ops);
	if (ret) {
		/* The old buckets passed the same checks before. */
		if (ratelimit_restore(&d->rx_rl, &rx_bw, &rx_ops))
			ratelimit_timer_event(&d->rx_rl);
		return ret;
	}
	/* A new timerfd stays until destroy, so watching it late is fine. */
	if (ratelimit_fd(&d->rx_rl) != rx_fd)
		ret = dev_watch(&d->loop, ratelimit_fd(&d->rx_rl), EPOLLIN, NET_EVENT_RX_RATELIMIT);
	if (!ret && ratelimit_fd(&d->tx_rl) != tx_fd)
		ret = dev_watch(&d->loop, ratelimit_fd(&d->tx_rl), EPOLLIN, NET_EVENT_TX_RATELIMIT);
	return ret;
}

int net_restore(struct net_dev *d, const struct net_state *st)
{
	int ret;

	pthread_mutex_lock(&d->lock);
	/* st is checked in place; the caller must not change it meanwhile
	 * (it is a host copy of the snapshot file). */
	ret = state_ok(d, st) ? limiters_restore(d, st) : -EINVAL;
	if (ret) {
		pthread_mutex_unlock(&d->lock);
		return ret;
	}
	d->rx_have = st->rx_have;
	d->rx_charged = st->rx_charged;
	d->rx_len = st->rx_len;
	d->rx_done = st->rx_done;
	d->rx_nheld = st->rx_nheld;
	memcpy(d->rx_nb_gpa, st->rx_nb_gpa, sizeof(d->rx_nb_gpa));
	memcpy(d->rx_held, st->rx_held, sizeof(st->rx_held[0]) * st->rx_nheld);
	if (st->rx_have)
		memcpy(d->rx_frame, st->rx_frame, st->rx_len);
	d->tx_pending = st->tx_pending;
	d->tx_charged = st->tx_charged;
	d->tx_head = st->tx_head;
	d->tx_len = st->tx_len;
	if (st->tx_pending)
		memcpy(d->tx_frame, st->tx_frame, st->tx_len);
	/* Wait for the loop (not a vCPU) to move frames: the watches say
	 * what the device waits for; queue processing resumes at the next
	 * notification or event. */
	d->rx_wait_buffers = false;
	net_watch_update(d);
	pthread_mutex_unlock(&d->lock);
	return 0;
}
