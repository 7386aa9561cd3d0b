/* vsock: packets towards the guest (rx queue) and transport-reset events
 * (event queue).  A popped rx buffer that found nothing to carry is held for
 * the next packet instead of being returned empty.  See vsock.h. */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices/vsock/vsock_priv.h"
#include "vmm/log/log.h"

void vsock_queue_broken(struct vsock_dev *v, int ret)
{
	if (v->broken)
		return;
	LOG_DEBUG("virtio-vsock: malformed queue (%s), device needs reset", strerror(-ret));
	v->metrics.queue_errors++;
	v->broken = true;
	virtio_irq_needs_reset(&v->irq);
}

void vsock_signal(struct vsock_dev *v)
{
	bool any = false;

	for (unsigned int i = 0; i < VSOCK_NR_QUEUES; i++)
		if (v->q[i] && virtq_needs_notify(v->q[i]))
			any = true;
	if (any) {
		v->metrics.interrupts++;
		virtio_irq_signal(&v->irq, VIRTIO_ISR_USED);
	}
}

/* An rx buffer with room for a header in v->rx_chain: 0, -EAGAIN (none), or
 * -EIO (queue malformed, reported). */
static int rx_buffer(struct vsock_dev *v)
{
	int ret;

	while (!v->rx_held) {
		ret = virtq_pop(v->q[VSOCK_QUEUE_RX], &v->rx_chain);
		if (ret == -EAGAIN && virtq_notify_enable(v->q[VSOCK_QUEUE_RX]))
			continue;
		if (ret == -EAGAIN)
			return ret;
		if (ret) {
			vsock_queue_broken(v, ret);
			return -EIO;
		}
		if (v->rx_chain.writable_len < VIRTIO_VSOCK_HDR_SIZE) {
			v->metrics.rx_bad_buffers++;
			if (virtq_push(v->q[VSOCK_QUEUE_RX], v->rx_chain.head, 0)) {
				vsock_queue_broken(v, -EINVAL);
				return -EIO;
			}
			continue;
		}
		v->rx_held = true;
	}
	return 0;
}

/* Sends the held rx buffer with hdr and payload bytes already written after
 * it. */
static int rx_send(struct vsock_dev *v, struct virtio_vsock_hdr *hdr, uint32_t payload)
{
	if (virtq_chain_write(&v->rx_chain, v->mem, 0, hdr, sizeof(*hdr)) ||
	    virtq_push(v->q[VSOCK_QUEUE_RX], v->rx_chain.head, VIRTIO_VSOCK_HDR_SIZE + payload)) {
		vsock_queue_broken(v, -EFAULT);
		return -EIO;
	}
	v->rx_held = false;
	v->metrics.rx_packets++;
	v->metrics.rx_bytes += payload;
	if (le16toh(hdr->op) == VIRTIO_VSOCK_OP_RST)
		v->metrics.rst_sent++;
	return 0;
}

static void hdr_fill(const struct vsock_dev *v, struct virtio_vsock_hdr *h, uint32_t guest_port,
		     uint32_t host_port, uint16_t op)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = htole64(VSOCK_CID_HOST);
	h->dst_cid = htole64(v->cid);
	h->src_port = htole32(host_port);
	h->dst_port = htole32(guest_port);
	h->type = htole16(VIRTIO_VSOCK_TYPE_STREAM);
	h->op = htole16(op);
}

/* The next control packet c owes the guest, or 0. */
static uint16_t conn_next_control(struct vsock_conn *c, uint32_t *flags)
{
	*flags = 0;
	if (c->pending & PEND_REQUEST) {
		c->pending &= ~PEND_REQUEST;
		return VIRTIO_VSOCK_OP_REQUEST;
	}
	if (c->pending & PEND_RESPONSE) {
		c->pending &= ~PEND_RESPONSE;
		return VIRTIO_VSOCK_OP_RESPONSE;
	}
	if (c->pending & PEND_CREDIT_REQUEST) {
		c->pending &= ~PEND_CREDIT_REQUEST;
		return VIRTIO_VSOCK_OP_CREDIT_REQUEST;
	}
	if (c->pending & PEND_CREDIT_UPDATE) {
		c->pending &= ~PEND_CREDIT_UPDATE;
		return VIRTIO_VSOCK_OP_CREDIT_UPDATE;
	}
	return 0;
}

/* Reads host bytes into the held rx buffer for c.  1 when a packet went
 * out, 0 when nothing could be sent (c settled), -EIO on a broken queue. */
static int conn_send_data(struct vsock_dev *v, struct vsock_conn *c)
{
	struct virtio_vsock_hdr h;
	uint32_t room = v->rx_chain.writable_len - VIRTIO_VSOCK_HDR_SIZE;
	uint32_t max = vsock_conn_peer_credit(c);
	ssize_t n;
	int iovcnt;

	if (c->host_eof || (c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_RCV) || !max) {
		c->pending &= ~PEND_DATA;
		return 0;
	}
	if (!room) {
		/* A header-only buffer cannot carry data: give it back. */
		v->metrics.rx_bad_buffers++;
		v->rx_held = false;
		if (virtq_push(v->q[VSOCK_QUEUE_RX], v->rx_chain.head, 0)) {
			vsock_queue_broken(v, -EINVAL);
			return -EIO;
		}
		return 1; /* try again with the next buffer */
	}
	if (max > room)
		max = room;
	if (max > VSOCK_MAX_PKT_PAYLOAD)
		max = VSOCK_MAX_PKT_PAYLOAD;
	iovcnt = virtq_chain_to_iovec(&v->rx_chain, v->mem, VIRTQ_DEV_WRITE, VIRTIO_VSOCK_HDR_SIZE, max, v->iov,
				      VIRTQ_MAX_SIZE);
	if (iovcnt < 0) {
		vsock_queue_broken(v, iovcnt);
		return -EIO;
	}
	do
		n = readv(c->fd, v->iov, iovcnt);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		c->pending &= ~PEND_DATA;
		return 0;
	}
	if (n < 0) {
		v->metrics.host_errors++;
		vsock_conn_kill(v, c, true);
		return 1;
	}
	if (n == 0) {
		/* The host sends no more: tell the guest with this buffer. */
		c->host_eof = true;
		c->pending &= ~PEND_DATA;
		c->shut_send |= VIRTIO_VSOCK_SHUTDOWN_SEND;
		c->pending |= PEND_SHUTDOWN;
		return 1;
	}
	hdr_fill(v, &h, c->guest_port, c->host_port, VIRTIO_VSOCK_OP_RW);
	h.len = htole32((uint32_t)n);
	h.buf_alloc = htole32(v->conn_buf_size);
	h.fwd_cnt = htole32(c->fwd_cnt);
	if (rx_send(v, &h, (uint32_t)n))
		return -EIO;
	c->rx_cnt += (uint32_t)n;
	c->fwd_cnt_sent = c->fwd_cnt;
	c->pending &= ~PEND_CREDIT_UPDATE;
	/* More may be waiting: read again on the next buffer. */
	return 1;
}

/* One packet for c into the held buffer.  1 sent (or c changed), 0 nothing
 * left to send for c, -EIO broken queue. */
static int conn_send_one(struct vsock_dev *v, struct vsock_conn *c)
{
	struct virtio_vsock_hdr h;
	uint32_t flags;
	uint16_t op = conn_next_control(c, &flags);

	if (!op && (c->pending & PEND_SHUTDOWN)) {
		c->pending &= ~PEND_SHUTDOWN;
		op = VIRTIO_VSOCK_OP_SHUTDOWN;
		flags = c->shut_send;
	}
	if (op) {
		hdr_fill(v, &h, c->guest_port, c->host_port, op);
		h.flags = htole32(flags);
		h.buf_alloc = htole32(v->conn_buf_size);
		h.fwd_cnt = htole32(c->fwd_cnt);
		if (rx_send(v, &h, 0))
			return -EIO;
		c->fwd_cnt_sent = c->fwd_cnt;
		if (op != VIRTIO_VSOCK_OP_CREDIT_UPDATE)
			c->pending &= ~PEND_CREDIT_UPDATE;
		return 1;
	}
	if ((c->pending & PEND_DATA) && c->state == CONN_ESTABLISHED)
		return conn_send_data(v, c);
	c->pending &= ~PEND_DATA;
	return 0;
}

void vsock_rx_process(struct vsock_dev *v)
{
	/* Bounded by what there is to send: each pass sends a packet, drops a
	 * pending bit or a connection; data stops at the guest's credit. */
	while (v->active && !v->broken && (v->rst_count || v->rx_head)) {
		if (rx_buffer(v))
			return;
		if (v->rst_count) {
			struct virtio_vsock_hdr h;

			hdr_fill(v, &h, v->rst[v->rst_first].guest_port, v->rst[v->rst_first].host_port,
				 VIRTIO_VSOCK_OP_RST);
			if (rx_send(v, &h, 0))
				return;
			v->rst_first = (v->rst_first + 1) % VSOCK_RST_BACKLOG;
			v->rst_count--;
			continue;
		}
		struct vsock_conn *c = &v->conns[v->rx_head - 1];
		int ret = conn_send_one(v, c);

		if (ret < 0)
			return;
		if (c->state == CONN_FREE)
			continue; /* killed (and unlinked) on the way */
		/* Round robin: a connection with more to send goes to the back. */
		vsock_conn_rx_unlink(v, c);
		if (c->pending)
			vsock_conn_want_rx(v, c, 0);
		vsock_conn_update_watch(v, c);
	}
}

void vsock_event_process(struct vsock_dev *v)
{
	struct virtio_vsock_event ev = { .id = htole32(VIRTIO_VSOCK_EVENT_TRANSPORT_RESET) };
	struct virtq *q = v->q[VSOCK_QUEUE_EVENT];
	int ret;

	if (!v->active || v->broken || !v->reset_pending)
		return;
	for (;;) {
		ret = virtq_pop(q, &v->tx_chain);
		if (ret == -EAGAIN && virtq_notify_enable(q))
			continue;
		if (ret == -EAGAIN)
			return;
		if (ret) {
			vsock_queue_broken(v, ret);
			return;
		}
		if (v->tx_chain.writable_len < sizeof(ev)) {
			/* Too small for the event: returned unused. */
			v->metrics.rx_bad_buffers++;
			if (virtq_push(q, v->tx_chain.head, 0)) {
				vsock_queue_broken(v, -EINVAL);
				return;
			}
			continue;
		}
		if (virtq_chain_write(&v->tx_chain, v->mem, 0, &ev, sizeof(ev)) ||
		    virtq_push(q, v->tx_chain.head, sizeof(ev))) {
			vsock_queue_broken(v, -EFAULT);
			return;
		}
		v->reset_pending = false;
		v->metrics.events_sent++;
		return;
	}
}
