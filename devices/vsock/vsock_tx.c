/* vsock: packets from the guest (tx queue).  Header copied out of the chain
 * once and validated on the copy; payload moved from guest memory straight
 * to the host socket, the rest into the connection's buffer.  See vsock.h
 * for what is dropped, what gets RST and what needs a reset. */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices/vsock/vsock_priv.h"
#include "vmm/log/log.h"

/* A guest packet, converted to host order. */
struct tx_pkt {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len, flags, buf_alloc, fwd_cnt;
	uint16_t type, op;
};

static void pkt_from_hdr(struct tx_pkt *p, const struct virtio_vsock_hdr *h)
{
	p->src_cid = le64toh(h->src_cid);
	p->dst_cid = le64toh(h->dst_cid);
	p->src_port = le32toh(h->src_port);
	p->dst_port = le32toh(h->dst_port);
	p->len = le32toh(h->len);
	p->type = le16toh(h->type);
	p->op = le16toh(h->op);
	p->flags = le32toh(h->flags);
	p->buf_alloc = le32toh(h->buf_alloc);
	p->fwd_cnt = le32toh(h->fwd_cnt);
}

/* Appends payload bytes [from, len) of the chain to c's buffer. */
static int buf_append(struct vsock_dev *v, struct vsock_conn *c, uint32_t from, uint32_t len)
{
	uint32_t size = v->conn_buf_size;

	if (!c->buf && !(c->buf = malloc(size)))
		return -ENOMEM;
	while (len) {
		uint32_t at = (c->buf_start + c->buf_len) % size, piece = size - at;

		if (piece > len)
			piece = len;
		if (virtq_chain_read(&v->tx_chain, v->mem, VIRTIO_VSOCK_HDR_SIZE + (uint64_t)from, c->buf + at, piece))
			return -EFAULT;
		c->buf_len += piece;
		from += piece;
		len -= piece;
	}
	return 0;
}

/* RW payload to the host.  false when c was killed. */
static bool conn_rw(struct vsock_dev *v, struct vsock_conn *c, uint32_t len)
{
	uint32_t sent = 0;
	int iovcnt;

	if (c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_SEND) {
		v->metrics.tx_invalid++;
		vsock_conn_kill(v, c, true);
		return false;
	}
	/* Everything unconsumed is in our buffer: that is what the guest's
	 * credit covers. */
	if (len > v->conn_buf_size - c->buf_len) {
		v->metrics.credit_violations++;
		vsock_conn_kill(v, c, true);
		return false;
	}
	if (!len)
		return true;
	v->metrics.tx_bytes += len;
	if (!c->buf_len) {
		struct msghdr msg = { .msg_iov = v->iov };
		ssize_t n;

		iovcnt = virtq_chain_to_iovec(&v->tx_chain, v->mem, VIRTQ_DEV_READ, VIRTIO_VSOCK_HDR_SIZE, len, v->iov,
					      VIRTQ_MAX_SIZE);
		if (iovcnt < 0)
			goto fail;
		msg.msg_iovlen = (size_t)iovcnt;
		do
			n = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		while (n < 0 && errno == EINTR);
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			goto fail;
		if (n > 0) {
			sent = (uint32_t)n;
			c->fwd_cnt += sent;
		}
	}
	if (sent < len && buf_append(v, c, sent, len - sent))
		goto fail;
	vsock_conn_credit_check(v, c);
	vsock_conn_update_watch(v, c);
	return true;
fail:
	v->metrics.host_errors++;
	vsock_conn_kill(v, c, true);
	return false;
}

/* "OK <host port>\n" to a host process whose connection the guest
 * accepted.  Nothing has been written to the fresh socket yet, so its send
 * buffer takes the line at once; if it does not, the host is gone. */
static bool conn_established(struct vsock_dev *v, struct vsock_conn *c)
{
	char line[24];
	int len = snprintf(line, sizeof(line), "OK %u\n", c->host_port);
	ssize_t n;

	do
		n = send(c->fd, line, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n != len) {
		v->metrics.host_errors++;
		vsock_conn_kill(v, c, true);
		return false;
	}
	c->state = CONN_ESTABLISHED;
	return true;
}

static void guest_request(struct vsock_dev *v, const struct tx_pkt *p)
{
	struct vsock_conn *c;
	int fd;

	/* No room: refuse before the host side sees a connection. */
	if (vsock_conns_full(v)) {
		v->metrics.conns_refused++;
		vsock_rst_queue(v, p->src_port, p->dst_port);
		return;
	}
	fd = v->be.ops->connect(v->be.opaque, p->dst_port);
	if (fd < 0) {
		LOG_DEBUG("virtio-vsock: guest connection to host port %u refused (%s)", p->dst_port,
			  strerror(-fd));
		v->metrics.conns_refused++;
		vsock_rst_queue(v, p->src_port, p->dst_port);
		return;
	}
	c = vsock_conn_new(v, fd, CONN_ESTABLISHED);
	if (!c) { /* (a slot was free just above) */
		close(fd);
		v->metrics.conns_refused++;
		vsock_rst_queue(v, p->src_port, p->dst_port);
		return;
	}
	vsock_conn_set_ports(v, c, p->src_port, p->dst_port);
	c->peer_buf_alloc = p->buf_alloc;
	c->peer_fwd_cnt = p->fwd_cnt;
	vsock_conn_want_rx(v, c, PEND_RESPONSE);
	vsock_conn_update_watch(v, c);
}

static void guest_shutdown(struct vsock_dev *v, struct vsock_conn *c, uint32_t flags)
{
	c->guest_shut |= flags & (VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	if (c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_RCV) {
		c->pending &= ~PEND_DATA;
		if (c->host_eof || c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_SEND) {
			/* Nothing more either way once the buffer is out. */
			c->guest_shut = VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND;
		}
	}
	(void)vsock_conn_flush(v, c);
}

/* One packet of a sound chain. */
static void handle_pkt(struct vsock_dev *v, const struct tx_pkt *p)
{
	struct vsock_conn *c;

	if (p->src_cid != v->cid || p->dst_cid != VSOCK_CID_HOST) {
		v->metrics.tx_dropped++;
		return;
	}
	c = vsock_conn_find(v, p->src_port, p->dst_port);
	if (p->type != VIRTIO_VSOCK_TYPE_STREAM) {
		v->metrics.tx_invalid++;
		if (p->op != VIRTIO_VSOCK_OP_RST) {
			if (c)
				vsock_conn_kill(v, c, true);
			else
				vsock_rst_queue(v, p->src_port, p->dst_port);
		}
		return;
	}
	if (!c) {
		if (p->op == VIRTIO_VSOCK_OP_REQUEST)
			guest_request(v, p);
		else if (p->op != VIRTIO_VSOCK_OP_RST) {
			v->metrics.tx_invalid++;
			vsock_rst_queue(v, p->src_port, p->dst_port);
		}
		return;
	}
	c->peer_buf_alloc = p->buf_alloc;
	c->peer_fwd_cnt = p->fwd_cnt;
	switch (p->op) {
	case VIRTIO_VSOCK_OP_RST:
		vsock_conn_kill(v, c, false);
		return;
	case VIRTIO_VSOCK_OP_RESPONSE:
		if (c->state != CONN_CONNECTING) {
			v->metrics.tx_invalid++;
			vsock_conn_kill(v, c, true);
			return;
		}
		if (!conn_established(v, c))
			return;
		break;
	case VIRTIO_VSOCK_OP_RW:
		if (c->state != CONN_ESTABLISHED) {
			v->metrics.tx_invalid++;
			vsock_conn_kill(v, c, true);
			return;
		}
		if (!conn_rw(v, c, p->len))
			return;
		break;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		if (c->state != CONN_ESTABLISHED) {
			vsock_conn_kill(v, c, true);
			return;
		}
		guest_shutdown(v, c, p->flags);
		return; /* c may be gone */
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		break;
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		vsock_conn_want_rx(v, c, PEND_CREDIT_UPDATE);
		break;
	default: /* REQUEST on a live connection, INVALID, unknown ops */
		v->metrics.tx_invalid++;
		vsock_conn_kill(v, c, true);
		return;
	}
	/* New (or less) credit starts (or stops) reading the host socket. */
	vsock_conn_update_watch(v, c);
}

/* One chain: 0, or -errno when it cannot be returned (a device bug). */
static int handle_chain(struct vsock_dev *v)
{
	struct virtio_vsock_hdr h;
	struct tx_pkt p;

	if (v->tx_chain.readable_len < VIRTIO_VSOCK_HDR_SIZE ||
	    virtq_chain_read(&v->tx_chain, v->mem, 0, &h, sizeof(h))) {
		v->metrics.tx_dropped++;
		return virtq_push(v->q[VSOCK_QUEUE_TX], v->tx_chain.head, 0);
	}
	pkt_from_hdr(&p, &h);
	v->metrics.tx_packets++;
	if (p.len > v->tx_chain.readable_len - VIRTIO_VSOCK_HDR_SIZE || p.len > VSOCK_MAX_PKT_PAYLOAD ||
	    (p.len && p.op != VIRTIO_VSOCK_OP_RW)) {
		struct vsock_conn *c;

		v->metrics.tx_invalid++;
		if (p.src_cid == v->cid && p.dst_cid == VSOCK_CID_HOST && p.op != VIRTIO_VSOCK_OP_RST) {
			c = vsock_conn_find(v, p.src_port, p.dst_port);
			if (c)
				vsock_conn_kill(v, c, true);
			else
				vsock_rst_queue(v, p.src_port, p.dst_port);
		}
	} else {
		handle_pkt(v, &p);
	}
	return virtq_push(v->q[VSOCK_QUEUE_TX], v->tx_chain.head, 0);
}

void vsock_tx_process(struct vsock_dev *v)
{
	struct virtq *q = v->q[VSOCK_QUEUE_TX];
	int ret;

	if (!v->active || v->broken)
		return;
	do {
		while ((ret = virtq_pop(q, &v->tx_chain)) == 0) {
			ret = handle_chain(v);
			if (ret) {
				vsock_queue_broken(v, ret);
				return;
			}
		}
		if (ret != -EAGAIN) {
			vsock_queue_broken(v, ret);
			return;
		}
	} while (virtq_notify_enable(q));
}
