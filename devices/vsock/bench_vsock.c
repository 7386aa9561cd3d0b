/*
 * bench_vsock: payload bytes per second through the vsock device's queue
 * processing, mock driver on one side and a real Unix socket on the other,
 * one thread doing both ends (so the figure is the device's cost plus the
 * socket's, with no scheduling in between).
 *
 *   guest -> host: RW packets of the given size (respecting the device's
 *                  credit), the host reads the socket dry after each;
 *   host -> guest: the host writes the socket, the loop dispatches EPOLLIN,
 *                  the device reads into rx buffers of the given size, the
 *                  guest consumes and returns credit.
 *
 * Usage: bench_vsock [MiB per direction (default 256)]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "devices/vsock/vsock_mock.h"
#include "vmm/log/log.h"

#define GUEST_BUF (256u * 1024) /* the guest's buf_alloc */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_vsock: %s\n", what);
	exit(1);
}

static int listen_port(const char *path, uint32_t port)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", path, port);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 4))
		die("listen");
	return fd;
}

static void guest_to_host(struct vsock_mock *vm, const char *path, uint64_t total, uint32_t pkt)
{
	static char data[VSOCK_MAX_PKT_PAYLOAD], sink[1 << 18];
	struct vsock_mock_pkt p, r;
	uint64_t sent = 0, got = 0;
	uint32_t tx = 0, fwd = 0;
	int l = listen_port(path, 500), fd;
	double t0;

	memset(data, 'g', sizeof(data));
	p = vsock_mock_hdr(vm, 7000, 500, VIRTIO_VSOCK_OP_REQUEST);
	if (vsock_mock_send(vm, &p, NULL, 0, 0))
		die("request");
	vsock_mock_rx_post(vm, 64);
	if (vsock_mock_recv(vm, &r, NULL, 0, NULL) || r.op != VIRTIO_VSOCK_OP_RESPONSE)
		die("no response");
	fd = accept(l, NULL, NULL);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	p.op = VIRTIO_VSOCK_OP_RW;
	t0 = now();
	while (got < total) {
		uint32_t credit = VSOCK_CONN_BUF_DEFAULT - (tx - fwd), n = pkt < credit ? pkt : credit;
		ssize_t k;

		if (n && sent < total) {
			p.len = n;
			if (vsock_mock_send(vm, &p, data, n, 1))
				die("send");
			tx += n;
			sent += n;
		}
		while ((k = read(fd, sink, sizeof(sink))) > 0)
			got += (uint64_t)k;
		vsock_mock_poll(vm, 0);
		while (vsock_mock_recv(vm, &r, NULL, 0, NULL) == 0)
			if (r.op == VIRTIO_VSOCK_OP_CREDIT_UPDATE || r.op == VIRTIO_VSOCK_OP_RW)
				fwd = r.fwd_cnt;
		if (vm->rx_outstanding < 32)
			vsock_mock_rx_post(vm, 32);
	}
	double dt = now() - t0;
	printf("guest->host  packet %6u B: %8.1f MiB/s  (%llu MiB in %.2f s)\n", pkt, total / dt / (1 << 20),
	       (unsigned long long)(total >> 20), dt);
	p.op = VIRTIO_VSOCK_OP_RST;
	(void)vsock_mock_send(vm, &p, NULL, 0, 0);
	close(fd);
	close(l);
}

static void host_to_guest(struct vsock_mock *vm, const char *path, uint64_t total)
{
	static char data[1 << 17];
	struct vsock_mock_pkt p, r;
	uint64_t written = 0, got = 0;
	uint32_t consumed = 0, announced = 0;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char line[32];
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	double t0;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		die("connect");
	if (write(fd, "CONNECT 600\n", 12) != 12)
		die("write");
	r.op = 0;
	for (int i = 0; i < 100 && r.op != VIRTIO_VSOCK_OP_REQUEST; i++) {
		vsock_mock_poll(vm, 10);
		vsock_mock_rx_post(vm, 8);
		while (vsock_mock_recv(vm, &r, NULL, 0, NULL) == 0 && r.op != VIRTIO_VSOCK_OP_REQUEST)
			;
	}
	if (r.op != VIRTIO_VSOCK_OP_REQUEST)
		die("no request");
	p = vsock_mock_hdr(vm, 600, r.src_port, VIRTIO_VSOCK_OP_RESPONSE);
	p.buf_alloc = GUEST_BUF;
	if (vsock_mock_send(vm, &p, NULL, 0, 0))
		die("response");
	if (read(fd, line, sizeof(line)) <= 0)
		die("no OK");
	fcntl(fd, F_SETFL, O_NONBLOCK);
	memset(data, 'h', sizeof(data));
	p.op = VIRTIO_VSOCK_OP_CREDIT_UPDATE;
	t0 = now();
	while (got < total) {
		ssize_t k;

		if (written < total) {
			k = write(fd, data, total - written < sizeof(data) ? total - written : sizeof(data));
			if (k > 0)
				written += (uint64_t)k;
		}
		if (vm->rx_outstanding < vm->qsize)
			vsock_mock_rx_post(vm, vm->qsize);
		vsock_mock_poll(vm, 0);
		while (vsock_mock_recv(vm, &r, NULL, 0, NULL) == 0) {
			if (r.op != VIRTIO_VSOCK_OP_RW)
				continue;
			got += r.len;
			consumed += r.len; /* the guest application reads it at once */
		}
		/* Like Linux: credit back once a good part of the buffer was read. */
		if (consumed - announced >= GUEST_BUF / 4) {
			p.fwd_cnt = consumed;
			announced = consumed;
			if (vsock_mock_send(vm, &p, NULL, 0, 0))
				die("credit update");
		}
	}
	double dt = now() - t0;
	printf("host->guest  rx buf %6u B: %8.1f MiB/s  (%llu MiB in %.2f s)\n", vm->rx_buf_len, total / dt / (1 << 20),
	       (unsigned long long)(total >> 20), dt);
	close(fd);
}

int main(int argc, char **argv)
{
	static struct vsock_mock vm;
	static const uint32_t pkts[] = { 4096, 65536 };
	static const uint32_t rxbufs[] = { 4096, VIRTIO_VSOCK_HDR_SIZE + 65536 };
	uint64_t total = (argc > 1 ? strtoull(argv[1], NULL, 0) : 256) << 20;
	char dir[] = "/tmp/kiln-bench-vsock-XXXXXX", path[128], cmd[160];
	struct vsock_uds uds;
	struct vsock_opts o = { 0 };

	log_set_level(LOG_LEVEL_ERROR);
	if (!mkdtemp(dir))
		die("mkdtemp");
	for (unsigned int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/v%u.sock", dir, i);
		if (vsock_uds_init(&uds, path) || vsock_mock_init(&vm, &uds.be, &o, ~0ULL, 0, rxbufs[i], 65536))
			die("init");
		guest_to_host(&vm, path, total, pkts[i]);
		host_to_guest(&vm, path, total);
		vsock_mock_destroy(&vm);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) ? 1 : 0;
}
