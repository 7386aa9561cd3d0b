/*
 * Helpers shared by the vsock unit tests: a device over the real Unix-socket
 * backend in a fresh temp dir, host-side socket helpers, and a guest side
 * that runs the loop until a packet arrives.  Not an API.
 */
#ifndef KILN_VSOCK_TEST_UTIL_H
#define KILN_VSOCK_TEST_UTIL_H

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/vsock/vsock_mock.h"
#include "devices/vsock/vsock_priv.h"
#include "vmm/log/log.h"

#define T_RX_BUF 4096

struct vt {
	char dir[64];
	char path[128];
	struct vsock_uds uds;
	struct vsock_mock vm;
	bool up;
};

static inline void vt_up(struct vt *t, const struct vsock_opts *opts, uint32_t rx_buf)
{
	struct vsock_opts o = { 0 };

	log_set_level(LOG_LEVEL_ERROR);
	if (opts)
		o = *opts;
	strcpy(t->dir, "/tmp/kiln-vsock-XXXXXX");
	cr_assert(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/v.sock", t->dir);
	cr_assert_eq(vsock_uds_init(&t->uds, t->path), 0);
	cr_assert_eq(vsock_mock_init(&t->vm, &t->uds.be, &o, ~0ULL, 0, rx_buf ? rx_buf : T_RX_BUF, 128 * 1024), 0);
	t->up = true;
}

static inline void vt_down(struct vt *t)
{
	char cmd[160];

	if (t->up)
		vsock_mock_destroy(&t->vm);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", t->dir);
	(void)system(cmd);
}

static inline int vt_unix_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	strcpy(sa.sun_path, path);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "connect %s: %s", path, strerror(errno));
	return fd;
}

static inline int vt_unix_listen(struct vt *t, uint32_t port)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", t->path, port);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(fd, 512), 0);
	return fd;
}

static inline void vt_write_all(int fd, const void *buf, size_t len)
{
	cr_assert_eq(write(fd, buf, len), (ssize_t)len);
}

/* Reads exactly len bytes from a host socket, running the device loop (and
 * so its EPOLLOUT flushes) while waiting. */
static inline void vt_read_exact(struct vt *t, int fd, void *buf, size_t len)
{
	size_t got = 0;

	for (int tries = 0; got < len && tries < 2000; tries++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 5) == 1) {
			n = read(fd, (char *)buf + got, len - got);
			cr_assert_gt(n, 0, "host read: %zd (%s) after %zu of %zu", n, strerror(errno), got, len);
			got += (size_t)n;
		}
		vsock_mock_poll(&t->vm, 0);
	}
	cr_assert_eq(got, len, "host got %zu of %zu bytes", got, len);
}

/* True when the host socket is at end of file (within ~1 s). */
static inline bool vt_host_eof(struct vt *t, int fd)
{
	char c;

	for (int tries = 0; tries < 200; tries++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		vsock_mock_poll(&t->vm, 0);
		if (poll(&p, 1, 5) == 1) {
			ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);

			if (n == 0 || (n < 0 && errno == ECONNRESET))
				return true;
			if (n > 0)
				return false;
		}
	}
	return false;
}

/* The next packet for the guest, running the loop for up to ~1 s; false
 * when none came.  Keeps rx buffers posted. */
static inline bool vt_guest_recv(struct vt *t, struct vsock_mock_pkt *p, void *payload, uint32_t max)
{
	for (int tries = 0; tries < 200; tries++) {
		uint32_t used;

		if (t->vm.rx_outstanding < 8)
			vsock_mock_rx_post(&t->vm, 8);
		if (vsock_mock_recv(&t->vm, p, payload, max, &used) == 0)
			return true;
		vsock_mock_poll(&t->vm, 5);
	}
	return false;
}

/* No packet for the guest now (after running the loop a little). */
static inline bool vt_guest_quiet(struct vt *t)
{
	struct vsock_mock_pkt p;
	uint32_t used;

	for (int i = 0; i < 5; i++)
		vsock_mock_poll(&t->vm, 2);
	return vsock_mock_recv(&t->vm, &p, NULL, 0, &used) == -EAGAIN;
}

static inline int vt_guest_send(struct vt *t, uint32_t guest_port, uint32_t host_port, uint16_t op,
				uint32_t flags, const void *data, uint32_t len)
{
	struct vsock_mock_pkt p = vsock_mock_hdr(&t->vm, guest_port, host_port, op);

	p.flags = flags;
	p.len = len;
	return vsock_mock_send(&t->vm, &p, data, len, len ? 1 : 0);
}

/*
 * Host process connects with CONNECT port; the guest accepts (RESPONSE from
 * guest port); returns the host fd with "OK <host port>\n" consumed and the
 * host port in *host_port.
 */
static inline int vt_host_open(struct vt *t, uint32_t port, uint32_t *host_port)
{
	struct vsock_mock_pkt p;
	char line[32], want[32];
	int fd = vt_unix_connect(t->path);
	int n;

	n = snprintf(line, sizeof(line), "CONNECT %u\n", port);
	vt_write_all(fd, line, (size_t)n);
	cr_assert(vt_guest_recv(t, &p, NULL, 0), "no REQUEST for the guest");
	cr_assert_eq(p.op, VIRTIO_VSOCK_OP_REQUEST);
	cr_assert_eq(p.dst_port, port);
	cr_assert_eq(p.src_cid, VSOCK_CID_HOST);
	cr_assert_eq(p.dst_cid, t->vm.dev.cid);
	cr_assert_eq(vt_guest_send(t, port, p.src_port, VIRTIO_VSOCK_OP_RESPONSE, 0, NULL, 0), 0);
	n = snprintf(want, sizeof(want), "OK %u\n", p.src_port);
	memset(line, 0, sizeof(line));
	vt_read_exact(t, fd, line, (size_t)n);
	cr_assert_str_eq(line, want);
	*host_port = p.src_port;
	return fd;
}

#endif
