/*
 * virtio-net receive: frames from the backend into the receive queue.  One
 * frame at a time is read into the device's buffer and then copied into as
 * many chains as it needs (one without MRG_RXBUF); chains are given back
 * only when the whole frame is in, with num_buffers in the first header.
 * See net.h for the policy.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "devices/net/net_priv.h"

/* Guest address of byte off of c's writable part; 0 when outside. */
static uint64_t writable_gpa(const struct virtq_chain *c, uint32_t off)
{
	for (unsigned int i = c->nr_readable; i < c->nr_bufs; i++) {
		if (off < c->bufs[i].len)
			return c->bufs[i].addr + off;
		off -= c->bufs[i].len;
	}
	return 0;
}

/* Gives every held chain back with length 0: the frame is not coming. */
static int give_back_held(struct net_dev *d)
{
	int ret = 0;

	for (unsigned int i = 0; i < d->rx_nheld && !ret; i++)
		ret = virtq_push(d->rxq, d->rx_held[i].head, 0);
	d->rx_nheld = 0;
	d->rx_done = 0;
	return ret;
}

void net_rx_forget_chains(struct net_dev *d)
{
	/* The queue is gone; the frame stays for the next activation. */
	d->rx_nheld = 0;
	d->rx_done = 0;
}

static int drop_frame(struct net_dev *d)
{
	d->metrics.rx_dropped++;
	d->rx_have = false;
	return give_back_held(d);
}

/* All of the frame is in the held chains: num_buffers, then push them. */
static int complete_frame(struct net_dev *d)
{
	le16 nb = htole16(d->rx_nheld);
	int ret = 0;

	if (gmem_write(d->mem, d->rx_nb_gpa[0], &nb, 1) || gmem_write(d->mem, d->rx_nb_gpa[1], (uint8_t *)&nb + 1, 1))
		ret = -EFAULT; /* checked at pop; only a restored state can get here */
	for (unsigned int i = 0; i < d->rx_nheld && !ret; i++)
		ret = virtq_push(d->rxq, d->rx_held[i].head, d->rx_held[i].len);
	if (ret)
		return ret;
	d->metrics.rx_frames++;
	d->metrics.rx_bytes += d->rx_len - VIRTIO_NET_HDR_LEN;
	if (d->rx_nheld > 1)
		d->metrics.rx_merged_buffers += d->rx_nheld - 1;
	d->rx_nheld = 0;
	d->rx_done = 0;
	d->rx_have = false;
	return 0;
}

/* The driver sees only the offloads it negotiated. */
static void sanitize_hdr(struct net_dev *d)
{
	struct virtio_net_hdr_v1 *h = (struct virtio_net_hdr_v1 *)d->rx_frame;

	if (!NET_HAS(d, VIRTIO_NET_F_GUEST_CSUM))
		h->flags = 0;
	h->num_buffers = htole16(1);
}

/*
 * Puts the held frame into chains.  0 when it is delivered or dropped;
 * -EAGAIN when the guest has no buffer now (the chains filled so far stay
 * held); -EIO and friends when the ring is malformed.
 */
static int deliver(struct net_dev *d)
{
	struct virtq_chain *c = &d->chain;
	bool mrg = NET_HAS(d, VIRTIO_NET_F_MRG_RXBUF);
	int ret;

	while (d->rx_done < d->rx_len) {
		uint32_t n;

		if (d->rx_nheld >= d->rxq->size)
			return drop_frame(d); /* every buffer is held: the frame cannot fit */
		ret = virtq_pop(d->rxq, c);
		if (ret == -EAGAIN) {
			if (virtq_notify_enable(d->rxq))
				continue;
			return -EAGAIN;
		}
		if (ret)
			return ret;
		if (c->writable_len < VIRTIO_NET_HDR_LEN || (!mrg && c->writable_len < d->rx_len)) {
			/* Read-only or too small: the frame is lost, say so. */
			ret = virtq_push(d->rxq, c->head, 0);
			return ret ? ret : drop_frame(d);
		}
		n = d->rx_len - d->rx_done;
		if (n > c->writable_len)
			n = c->writable_len;
		if (!d->rx_nheld) {
			sanitize_hdr(d); /* for the features of this activation */
			d->rx_nb_gpa[0] = writable_gpa(c, VIRTIO_NET_HDR_OFF_NUM_BUFFERS);
			d->rx_nb_gpa[1] = writable_gpa(c, VIRTIO_NET_HDR_OFF_NUM_BUFFERS + 1);
		}
		if (virtq_chain_write(c, d->mem, 0, d->rx_frame + d->rx_done, n)) {
			ret = virtq_push(d->rxq, c->head, 0);
			return ret ? ret : drop_frame(d);
		}
		d->rx_held[d->rx_nheld++] = (struct net_rx_held){ .head = c->head, .len = n };
		d->rx_done += n;
	}
	return complete_frame(d);
}

/* Reads the next frame from the backend.  0 with one held, -EAGAIN when
 * none is waiting, -EIO after a backend error (reading stops). */
static int read_frame(struct net_dev *d)
{
	for (;;) {
		ssize_t n = d->be.ops->read(d->be.opaque, d->rx_frame, NET_BUF_MAX);

		if (n == -EAGAIN)
			return -EAGAIN;
		if (n < 0) {
			d->metrics.rx_errors++;
			d->tap_failed = true;
			return -EIO;
		}
		if (n <= VIRTIO_NET_HDR_LEN || n > NET_BUF_MAX) {
			d->metrics.rx_dropped++; /* no frame after the header */
			continue;
		}
		d->rx_len = (uint32_t)n;
		d->rx_done = 0;
		d->rx_have = true;
		d->rx_charged = false;
		return 0;
	}
}

/* Takes the frame's tokens once.  false: the limiter holds it back. */
static bool charge(struct net_dev *d)
{
	if (d->rx_charged)
		return true;
	if (!ratelimit_consume(&d->rx_rl, 1, RL_OPS)) {
		d->metrics.rx_throttled++;
		return false;
	}
	if (!ratelimit_consume(&d->rx_rl, d->rx_len, RL_BYTES)) {
		ratelimit_replenish(&d->rx_rl, 1, RL_OPS);
		d->metrics.rx_throttled++;
		return false;
	}
	d->rx_charged = true;
	return true;
}

int net_rx_run(struct net_dev *d)
{
	int ret = 0;

	for (unsigned int budget = NET_RX_BUDGET; budget; budget--) {
		if (!d->rx_have && read_frame(d))
			break;
		if (!charge(d))
			break;
		ret = deliver(d);
		if (ret == -EAGAIN) {
			d->metrics.rx_no_buffers++;
			d->rx_wait_buffers = true;
			ret = 0;
			break;
		}
		if (ret) {
			net_broken(d, ret);
			ret = -EIO;
			break;
		}
	}
	net_signal_used(d, d->rxq);
	return ret;
}
