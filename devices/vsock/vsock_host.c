/* vsock: events on host sockets (the listener, each connection's socket):
 * accepting host processes, their "CONNECT <port>\n" line, readable and
 * writable connections.  See vsock.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices/vsock/vsock_priv.h"
#include "vmm/log/log.h"

/* Connections taken per listener event; more wait for the next one
 * (level-triggered), so a connect storm cannot hold the VMM thread. */
#define ACCEPT_BUDGET 32

static void host_accept(struct vsock_dev *v)
{
	for (unsigned int i = 0; i < ACCEPT_BUDGET; i++) {
		struct vsock_conn *c;
		int fd = v->be.ops->accept(v->be.opaque, v->listen_fd);

		if (fd == -EINTR || fd == -ECONNABORTED)
			continue;
		if (fd == -EAGAIN || fd == -EWOULDBLOCK)
			return;
		if (fd < 0) {
			/* Out of fds or memory: the connection stays queued and the
			 * listener readable, so a level-triggered loop would spin.
			 * Stop watching it until one of our connections ends. */
			LOG_WARN("virtio-vsock: accept: %s; not accepting until a connection closes", strerror(-fd));
			v->metrics.host_errors++;
			dev_unwatch(&v->loop, v->listen_fd);
			v->listen_paused = true;
			return;
		}
		/* No driver to connect to, or no room: the host sees EOF. */
		c = v->active && !v->broken ? vsock_conn_new(v, fd, CONN_HOST_CMD) : NULL;
		if (!c) {
			v->metrics.conns_refused++;
			close(fd);
			continue;
		}
		vsock_conn_update_watch(v, c);
	}
}

/* "CONNECT <decimal port>\n" -> port.  0 or -EINVAL. */
static int parse_connect(const char *line, size_t len, uint32_t *port)
{
	static const char cmd[] = "CONNECT ";
	uint64_t p = 0;
	size_t i = sizeof(cmd) - 1;

	if (len < i + 2 || memcmp(line, cmd, i) || line[len - 1] != '\n')
		return -EINVAL;
	for (; i < len - 1; i++) {
		if (line[i] < '0' || line[i] > '9')
			return -EINVAL;
		p = p * 10 + (uint64_t)(line[i] - '0');
		if (p > UINT32_MAX)
			return -EINVAL;
	}
	*port = (uint32_t)p;
	return 0;
}

static uint32_t host_port_alloc(struct vsock_dev *v, uint32_t guest_port)
{
	/* At most max_conns ports are taken, so this ends within max_conns + 1
	 * tries. */
	for (;;) {
		uint32_t p = v->next_host_port++;

		if (v->next_host_port < VSOCK_HOST_PORT_FIRST)
			v->next_host_port = VSOCK_HOST_PORT_FIRST;
		if (!vsock_conn_find(v, guest_port, p))
			return p;
	}
}

/* The host process's command line.  Bytes are peeked, then only the
 * command's are consumed (bytes the host sent after the line stay in the
 * socket for the guest); a partial line is consumed into c->cmd, so a level-
 * triggered EPOLLIN does not fire again for it. */
static void host_command(struct vsock_dev *v, struct vsock_conn *c)
{
	size_t room = sizeof(c->cmd) - c->cmd_len;
	char *start = c->cmd + c->cmd_len, *nl;
	uint32_t port;
	ssize_t n, take;

	do
		n = recv(c->fd, start, room, MSG_PEEK | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n <= 0) {
		vsock_conn_kill(v, c, false); /* gone before saying anything useful */
		return;
	}
	nl = memchr(start, '\n', (size_t)n);
	take = nl ? nl - start + 1 : n;
	if (recv(c->fd, start, (size_t)take, MSG_DONTWAIT) != take) {
		v->metrics.host_errors++;
		vsock_conn_kill(v, c, false);
		return;
	}
	c->cmd_len += (uint8_t)take;
	if (!nl) {
		if (c->cmd_len == sizeof(c->cmd)) /* no command is this long */
			vsock_conn_kill(v, c, false);
		return;
	}
	if (parse_connect(c->cmd, c->cmd_len, &port)) {
		v->metrics.host_errors++;
		vsock_conn_kill(v, c, false);
		return;
	}
	vsock_conn_set_ports(v, c, port, host_port_alloc(v, port));
	c->host_initiated = true;
	c->state = CONN_CONNECTING;
	c->connect_ms = vsock_now_ms();
	vsock_conn_want_rx(v, c, PEND_REQUEST);
	vsock_conn_update_watch(v, c);
}

void vsock_host_event(struct vsock_dev *v, uint32_t token, uint32_t events)
{
	unsigned int idx = token & ((1u << VSOCK_TOKEN_INDEX_BITS) - 1);
	struct vsock_conn *c;

	if (token == VSOCK_TOKEN_LISTENER) {
		host_accept(v);
		return;
	}
	if (!idx || idx > v->max_conns)
		return;
	c = &v->conns[idx - 1];
	/* A connection ended since the loop collected the event: not ours. */
	if (c->state == CONN_FREE || c->gen != token >> VSOCK_TOKEN_INDEX_BITS || !c->watched)
		return;
	switch (c->state) {
	case CONN_HOST_CMD:
		host_command(v, c);
		return;
	case CONN_CONNECTING:
		/* The host gave up before the guest answered. */
		if (events & (EPOLLHUP | EPOLLERR))
			vsock_conn_kill(v, c, true);
		return;
	case CONN_ESTABLISHED:
		if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && c->buf_len && !vsock_conn_flush(v, c))
			return;
		if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && (c->watched & EPOLLIN)) {
			/* Read when an rx buffer is there to read into. */
			vsock_conn_want_rx(v, c, PEND_DATA);
			vsock_conn_update_watch(v, c);
		}
		return;
	default:
		return;
	}
}
