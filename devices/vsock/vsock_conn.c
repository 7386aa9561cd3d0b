/* vsock connection table: slots, the (guest port, host port) hash, the list
 * of connections waiting to send the guest something, host-socket watches,
 * and the per-connection buffer towards the host.  See vsock_priv.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "devices/vsock/vsock_priv.h"
#include "vmm/log/log.h"

static unsigned int hash_of(uint32_t guest_port, uint32_t host_port)
{
	uint32_t h = guest_port * 0x9e3779b1u ^ host_port * 0x85ebca6bu;

	return (h ^ (h >> 16)) & (VSOCK_HASH_SIZE - 1);
}

int vsock_conns_alloc(struct vsock_dev *v)
{
	v->conns = calloc(v->max_conns, sizeof(*v->conns));
	v->hash = calloc(VSOCK_HASH_SIZE, sizeof(*v->hash));
	if (!v->conns || !v->hash) {
		vsock_conns_free(v);
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < v->max_conns; i++)
		v->conns[i].fd = -1;
	return 0;
}

void vsock_conns_free(struct vsock_dev *v)
{
	free(v->conns);
	free(v->hash);
	v->conns = NULL;
	v->hash = NULL;
}

struct vsock_conn *vsock_conn_find(struct vsock_dev *v, uint32_t guest_port, uint32_t host_port)
{
	unsigned int hops = 0;

	for (uint16_t i = v->hash[hash_of(guest_port, host_port)]; i && hops < v->max_conns; hops++) {
		struct vsock_conn *c = &v->conns[i - 1];

		if (c->guest_port == guest_port && c->host_port == host_port)
			return c;
		i = c->hash_next;
	}
	return NULL;
}

static void hash_remove(struct vsock_dev *v, struct vsock_conn *c)
{
	uint16_t *link = &v->hash[hash_of(c->guest_port, c->host_port)];
	uint16_t me = (uint16_t)(vsock_conn_index(v, c) + 1);

	while (*link) {
		if (*link == me) {
			*link = c->hash_next;
			c->hash_next = 0;
			return;
		}
		link = &v->conns[*link - 1].hash_next;
	}
}

uint64_t vsock_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The table is full: a host connection the guest never answered is the one
 * slot that can be taken back (no timer needed: it only matters now). */
static void expire_connecting(struct vsock_dev *v)
{
	struct vsock_conn *oldest = NULL;
	uint64_t now = vsock_now_ms();

	for (unsigned int i = 0; i < v->max_conns; i++) {
		struct vsock_conn *c = &v->conns[i];

		if (c->state == CONN_CONNECTING && now - c->connect_ms >= VSOCK_CONNECT_TIMEOUT_MS &&
		    (!oldest || c->connect_ms < oldest->connect_ms))
			oldest = c;
	}
	if (oldest)
		vsock_conn_kill(v, oldest, true);
}

bool vsock_conns_full(struct vsock_dev *v)
{
	if (v->nr_conns >= v->max_conns)
		expire_connecting(v);
	return v->nr_conns >= v->max_conns;
}

struct vsock_conn *vsock_conn_new(struct vsock_dev *v, int fd, enum vsock_conn_state state)
{
	struct vsock_conn *c = NULL;
	uint32_t gen;

	if (vsock_conns_full(v))
		return NULL;
	for (unsigned int i = 0; i < v->max_conns; i++) {
		if (v->conns[i].state == CONN_FREE) {
			c = &v->conns[i];
			break;
		}
	}
	if (!c)
		return NULL;
	gen = c->gen + 1;
	memset(c, 0, sizeof(*c));
	c->gen = gen & ((1u << (32 - VSOCK_TOKEN_INDEX_BITS)) - 1);
	c->fd = fd;
	c->state = state;
	v->nr_conns++;
	v->metrics.conns_added++;
	return c;
}

void vsock_conn_set_ports(struct vsock_dev *v, struct vsock_conn *c, uint32_t guest_port, uint32_t host_port)
{
	unsigned int h = hash_of(guest_port, host_port);

	c->guest_port = guest_port;
	c->host_port = host_port;
	c->hash_next = v->hash[h];
	v->hash[h] = (uint16_t)(vsock_conn_index(v, c) + 1);
}

void vsock_conn_rx_unlink(struct vsock_dev *v, struct vsock_conn *c)
{
	if (!c->in_rx_list)
		return;
	if (c->rx_prev)
		v->conns[c->rx_prev - 1].rx_next = c->rx_next;
	else
		v->rx_head = c->rx_next;
	if (c->rx_next)
		v->conns[c->rx_next - 1].rx_prev = c->rx_prev;
	else
		v->rx_tail = c->rx_prev;
	c->rx_prev = c->rx_next = 0;
	c->in_rx_list = false;
}

void vsock_conn_want_rx(struct vsock_dev *v, struct vsock_conn *c, uint32_t bits)
{
	uint16_t me = (uint16_t)(vsock_conn_index(v, c) + 1);

	c->pending |= bits;
	if (c->in_rx_list)
		return;
	c->in_rx_list = true;
	c->rx_next = 0;
	c->rx_prev = v->rx_tail;
	if (v->rx_tail)
		v->conns[v->rx_tail - 1].rx_next = me;
	else
		v->rx_head = me;
	v->rx_tail = me;
}

void vsock_rst_queue(struct vsock_dev *v, uint32_t guest_port, uint32_t host_port)
{
	unsigned int at;

	if (v->rst_count == VSOCK_RST_BACKLOG) {
		v->metrics.rst_dropped++;
		return;
	}
	at = (v->rst_first + v->rst_count++) % VSOCK_RST_BACKLOG;
	v->rst[at].guest_port = guest_port;
	v->rst[at].host_port = host_port;
}

static void conn_close(struct vsock_dev *v, struct vsock_conn *c)
{
	if (c->watched)
		dev_unwatch(&v->loop, c->fd);
	if (c->fd >= 0)
		close(c->fd);
	if (c->state != CONN_HOST_CMD)
		hash_remove(v, c);
	vsock_conn_rx_unlink(v, c);
	free(c->buf);
	c->buf = NULL;
	c->fd = -1;
	c->watched = 0;
	c->state = CONN_FREE;
	v->nr_conns--;
	v->metrics.conns_killed++;
	if (v->listen_paused && !dev_watch(&v->loop, v->listen_fd, EPOLLIN, VSOCK_TOKEN_LISTENER))
		v->listen_paused = false; /* an fd came free: try accepting again */
}

void vsock_conn_kill(struct vsock_dev *v, struct vsock_conn *c, bool rst)
{
	/* A host connection still typing its CONNECT line has no guest side. */
	if (rst && c->state != CONN_HOST_CMD)
		vsock_rst_queue(v, c->guest_port, c->host_port);
	conn_close(v, c);
}

void vsock_conns_drop_all(struct vsock_dev *v)
{
	for (unsigned int i = 0; i < v->max_conns; i++)
		if (v->conns[i].state != CONN_FREE)
			conn_close(v, &v->conns[i]);
	v->rst_count = 0;
	v->rst_first = 0;
}

static uint32_t conn_events(const struct vsock_dev *v, const struct vsock_conn *c)
{
	uint32_t ev = 0;

	switch (c->state) {
	case CONN_HOST_CMD:
		return EPOLLIN;
	case CONN_CONNECTING:
		/* Only to notice a host that gives up (closes) before the guest
		 * answers; a half-close (its request and data sent, then
		 * shutdown(SHUT_WR), as socat does) is not giving up. */
		return EPOLLHUP;
	case CONN_ESTABLISHED:
		if (!c->host_eof && !(c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_RCV) && !(c->pending & PEND_DATA) &&
		    vsock_conn_peer_credit(c) > 0)
			ev |= EPOLLIN;
		if (c->buf_len)
			ev |= EPOLLOUT;
		return ev;
	default:
		return 0;
	}
}

void vsock_conn_update_watch(struct vsock_dev *v, struct vsock_conn *c)
{
	uint32_t want = conn_events(v, c);
	uint32_t token = (c->gen << VSOCK_TOKEN_INDEX_BITS) | (vsock_conn_index(v, c) + 1);

	if (want == c->watched)
		return;
	if (!want) {
		dev_unwatch(&v->loop, c->fd);
		c->watched = 0;
		return;
	}
	if (dev_watch(&v->loop, c->fd, want, token)) {
		/* Left as it was; the next update tries again. */
		v->metrics.host_errors++;
		return;
	}
	c->watched = want;
}

void vsock_conn_credit_check(struct vsock_dev *v, struct vsock_conn *c)
{
	/* The guest may send while it believes buf_alloc - (sent - fwd_cnt_sent)
	 * is free; announcing every quarter buffer keeps it from stalling. */
	if (c->fwd_cnt - c->fwd_cnt_sent >= v->conn_buf_size / 4)
		vsock_conn_want_rx(v, c, PEND_CREDIT_UPDATE);
}

bool vsock_conn_flush(struct vsock_dev *v, struct vsock_conn *c)
{
	while (c->buf_len) {
		uint32_t first = v->conn_buf_size - c->buf_start;
		struct iovec iov[2];
		struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 1 };
		ssize_t n;

		if (first > c->buf_len)
			first = c->buf_len;
		iov[0] = (struct iovec){ c->buf + c->buf_start, first };
		if (first < c->buf_len) {
			iov[1] = (struct iovec){ c->buf, c->buf_len - first };
			msg.msg_iovlen = 2;
		}
		n = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			v->metrics.host_errors++;
			vsock_conn_kill(v, c, true);
			return false;
		}
		c->buf_start = (uint32_t)((c->buf_start + n) % v->conn_buf_size);
		c->buf_len -= (uint32_t)n;
		c->fwd_cnt += (uint32_t)n;
	}
	if (!c->buf_len) {
		free(c->buf);
		c->buf = NULL;
		c->buf_start = 0;
		if (c->guest_shut == (VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND)) {
			vsock_conn_kill(v, c, true);
			return false;
		}
		if ((c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_SEND) && !c->host_wr_shut) {
			shutdown(c->fd, SHUT_WR);
			c->host_wr_shut = true;
		}
	}
	vsock_conn_credit_check(v, c);
	vsock_conn_update_watch(v, c);
	return true;
}
