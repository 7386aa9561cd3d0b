/*
 * virtio-net transmit: chains from the transmit queue to the backend.  The
 * header is copied and checked; the frame goes from guest memory straight
 * to the backend (writev).  A frame that has to wait (backend full, limiter)
 * is copied into the device's buffer and its chain kept until it is sent.
 * See net.h for the policy.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "devices/net/net_priv.h"

/* Takes the frame's tokens.  false: throttled, nothing taken. */
static bool charge(struct net_dev *d, uint32_t len)
{
	if (!ratelimit_consume(&d->tx_rl, 1, RL_OPS))
		return false;
	if (!ratelimit_consume(&d->tx_rl, len, RL_BYTES)) {
		ratelimit_replenish(&d->tx_rl, 1, RL_OPS);
		return false;
	}
	return true;
}

/* The backend took (or refused for good) the frame of head. */
static int tx_done(struct net_dev *d, uint16_t head, ssize_t n, uint32_t len)
{
	if (n < 0) {
		d->metrics.tx_errors++; /* e.g. the TAP refused the header: dropped */
	} else {
		d->metrics.tx_frames++;
		d->metrics.tx_bytes += len - VIRTIO_NET_HDR_LEN;
	}
	return virtq_push(d->txq, head, 0);
}

/* Sends the held frame.  0 when it is gone (sent or dropped), -EAGAIN when
 * it still waits, or the push error. */
static int send_pending(struct net_dev *d)
{
	struct iovec iov = { .iov_base = d->tx_frame, .iov_len = d->tx_len };
	ssize_t n;

	if (!d->tx_charged) {
		if (!charge(d, d->tx_len))
			return -EAGAIN; /* the limiter's timer brings us back */
		d->tx_charged = true;
	}
	n = d->be.ops->writev(d->be.opaque, &iov, 1);
	if (n == -EAGAIN) {
		d->metrics.tx_eagain++;
		return -EAGAIN;
	}
	d->tx_pending = false;
	return tx_done(d, d->tx_head, n, d->tx_len);
}

/* Keeps the chain's frame (header already in h) for later. */
static int hold(struct net_dev *d, const struct virtq_chain *c, const struct virtio_net_hdr_v1 *h,
		bool charged)
{
	int ret = virtq_chain_read(c, d->mem, VIRTIO_NET_HDR_LEN, d->tx_frame + VIRTIO_NET_HDR_LEN,
				   c->readable_len - VIRTIO_NET_HDR_LEN);

	if (ret) /* cannot happen on a validated chain; drop rather than send garbage */
		return tx_done(d, c->head, ret, c->readable_len);
	memcpy(d->tx_frame, h, sizeof(*h));
	d->tx_len = c->readable_len;
	d->tx_head = c->head;
	d->tx_charged = charged;
	d->tx_pending = true;
	return 0;
}

/* One popped chain.  0, or a push error. */
static int tx_chain(struct net_dev *d)
{
	struct virtq_chain *c = &d->chain;
	struct virtio_net_hdr_v1 h;
	ssize_t n;
	int nr;

	if (c->readable_len <= VIRTIO_NET_HDR_LEN || c->readable_len > NET_BUF_MAX ||
	    c->nr_bufs != c->nr_readable ||
	    virtq_chain_read(c, d->mem, 0, &h, sizeof(h)) || !net_tx_hdr_ok(&h, d->acked)) {
		d->metrics.tx_dropped++;
		return virtq_push(d->txq, c->head, 0);
	}
	h.num_buffers = 0; /* unused on transmit */
	if (!charge(d, c->readable_len)) {
		d->metrics.tx_throttled++;
		return hold(d, c, &h, false);
	}
	d->iov[0] = (struct iovec){ .iov_base = &h, .iov_len = sizeof(h) };
	nr = virtq_chain_to_iovec(c, d->mem, VIRTQ_DEV_READ, VIRTIO_NET_HDR_LEN,
				  c->readable_len - VIRTIO_NET_HDR_LEN, d->iov + 1, VIRTQ_MAX_SIZE);
	if (nr < 0)
		return tx_done(d, c->head, nr, c->readable_len);
	n = d->be.ops->writev(d->be.opaque, d->iov, nr + 1);
	if (n == -EAGAIN) {
		d->metrics.tx_eagain++;
		return hold(d, c, &h, true);
	}
	return tx_done(d, c->head, n, c->readable_len);
}

int net_tx_run(struct net_dev *d)
{
	int ret = 0;

	if (d->tx_pending) {
		ret = send_pending(d);
		if (ret == -EAGAIN) {
			ret = 0;
			goto out;
		}
		if (ret)
			goto broken;
	}
	do {
		while (!d->tx_pending && (ret = virtq_pop(d->txq, &d->chain)) == 0) {
			ret = tx_chain(d);
			if (ret)
				goto broken;
		}
		if (d->tx_pending)
			goto out;
		if (ret != -EAGAIN)
			goto broken;
		ret = 0;
	} while (virtq_notify_enable(d->txq));
	goto out;
broken:
	net_broken(d, ret);
	ret = -EIO;
out:
	net_signal_used(d, d->txq);
	return ret;
}
