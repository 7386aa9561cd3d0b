/*
 * bench_net: frames and bytes per second through virtio-net transmit and
 * receive processing, with the mock driver on the virtio-mmio transport,
 * against the in-memory TAP (the device path: pop, validate, iovec, copy,
 * push, notify; the fake's own copy of each frame is included) and, when
 * the host allows it, a real TAP in a private network namespace (adds the
 * read/writev system calls and the kernel's side).  The mock driver
 * negotiates everything (EVENT_IDX, MRG_RXBUF) and, like Linux, asks for an
 * interrupt at the next used entry after each batch.
 * Usage: bench_net [seconds per case, default 1].
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include "devices/net/net_mock.h"
#include "devices/net/net_tap_ns.h"

#define HDR VIRTIO_NET_HDR_LEN
#define ETHERTYPE 0x88b5

struct bench_case {
	const char *name;
	bool rx;
	uint32_t len;        /* frame bytes after the header */
	unsigned int batch;  /* frames per notify / per loop event */
	uint32_t rx_buf;     /* receive buffer size */
	unsigned int segs;
};

static uint8_t frame[NET_BUF_MAX];

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void eth(uint8_t *p, uint32_t len)
{
	static const uint8_t h[14] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 7, ETHERTYPE >> 8,
				       ETHERTYPE & 0xff };

	memset(p, 0x5a, len);
	memcpy(p, h, len < 14 ? len : 14);
}

static void report(const char *backend, const struct bench_case *bc, uint64_t frames, double elapsed,
		   const struct net_mock *nm)
{
	printf("%-6s %-34s %10.0f frames/s %9.1f MiB/s  (%llu frames, %llu interrupts, %llu dropped)\n", backend,
	       bc->name, frames / elapsed, frames * (double)bc->len / elapsed / (1 << 20), (unsigned long long)frames,
	       (unsigned long long)nm->dev.metrics.interrupts,
	       (unsigned long long)(nm->dev.metrics.rx_dropped + nm->dev.metrics.tx_dropped));
}

/* Takes every used entry of q; returns how many. */
static unsigned int reap(struct net_mock *nm, unsigned int q)
{
	uint32_t id, used;
	unsigned int n = 0;

	while (vmock_used_next(&nm->m, q, &id, &used) == 0)
		n++;
	vmock_used_event_set(&nm->m, q, vmock_used_idx(&nm->m, q));
	return n;
}

static int run_tx(struct net_mock *nm, const struct bench_case *bc, double seconds, uint64_t *frames)
{
	double start = now();
	uint64_t done = 0;

	eth(frame, bc->len);
	do {
		for (unsigned int i = 0; i < bc->batch; i++)
			net_mock_tx(nm, NULL, frame, bc->len, bc->segs, false);
		vmock_notify(&nm->m, VIRTIO_NET_TXQ);
		if (reap(nm, VIRTIO_NET_TXQ) != bc->batch)
			return -1;
		done += bc->batch;
	} while (now() - start < seconds);
	*frames = nm->dev.metrics.tx_frames;
	return done == *frames ? 0 : -1;
}

/* Receive on the fake: the TAP holds batch frames, the guest batch buffers. */
static int run_rx_fake(struct net_mock *nm, const struct bench_case *bc, double seconds, uint64_t *frames)
{
	double start = now();
	unsigned int per = (HDR + bc->len + bc->rx_buf - 1) / bc->rx_buf;

	eth(frame + HDR, bc->len);
	memset(frame, 0, HDR);
	do {
		for (unsigned int i = 0; i < bc->batch * per; i++)
			net_mock_rx_post(nm, bc->rx_buf, bc->segs, false);
		vmock_notify(&nm->m, VIRTIO_NET_RXQ);
		for (unsigned int i = 0; i < bc->batch; i++)
			if (net_tap_fake_inject(&nm->tap, frame, HDR + bc->len))
				return -1;
		net_mock_poll(nm, 4);
		if (reap(nm, VIRTIO_NET_RXQ) != bc->batch * per)
			return -1;
	} while (now() - start < seconds);
	*frames = nm->dev.metrics.rx_frames;
	return 0;
}

/* Receive on the real TAP: a packet socket sends batch frames into the TAP,
 * then the loop's EPOLLIN is played until they are in guest buffers. */
static int run_rx_tap(struct net_mock *nm, struct net_tap_ns *ns, int tap_fd, const struct bench_case *bc,
		      double seconds, uint64_t *frames)
{
	double start = now();
	unsigned int per = (HDR + bc->len + bc->rx_buf - 1) / bc->rx_buf;

	eth(frame, bc->len);
	do {
		uint64_t want = nm->dev.metrics.rx_frames + bc->batch;

		for (unsigned int i = 0; i < bc->batch * per; i++)
			net_mock_rx_post(nm, bc->rx_buf, bc->segs, false);
		vmock_notify(&nm->m, VIRTIO_NET_RXQ);
		for (unsigned int i = 0; i < bc->batch; i++)
			if (net_tap_ns_send(ns, frame, bc->len) != (ssize_t)bc->len)
				return -1;
		for (int spins = 0; nm->dev.metrics.rx_frames < want && spins < 1000; spins++) {
			struct pollfd p = { .fd = tap_fd, .events = POLLIN };

			if (poll(&p, 1, 10) == 1)
				net_event(&nm->dev, NET_EVENT_TAP, EPOLLIN);
		}
		if (nm->dev.metrics.rx_frames < want)
			return -1;
		reap(nm, VIRTIO_NET_RXQ);
	} while (now() - start < seconds);
	*frames = nm->dev.metrics.rx_frames;
	return 0;
}

static const struct bench_case cases[] = {
	{ "tx 64 B, 32 per notify", false, 64, 32, 0, 1 },
	{ "tx 1514 B, 32 per notify", false, 1514, 32, 0, 2 },
	{ "tx 64 KiB (GSO-sized), 8 per notify", false, 65536, 8, 0, 17 },
	{ "rx 64 B, 32 per event", true, 64, 32, 1536, 1 },
	{ "rx 1514 B into 1536 B buffers, 32", true, 1514, 32, 1536, 1 },
	{ "rx 64 KiB MRG into 4 KiB buffers, 4", true, 65536, 4, 4096, 1 },
};

static int fake_cases(double seconds)
{
	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct net_mock nm;
		uint64_t frames = 0;
		double start;
		int ret;

		if (net_mock_init(&nm, NULL, ~0ULL, 0, false)) {
			fprintf(stderr, "bench_net: setup failed\n");
			return 1;
		}
		start = now();
		ret = cases[i].rx ? run_rx_fake(&nm, &cases[i], seconds, &frames)
				  : run_tx(&nm, &cases[i], seconds, &frames);
		if (ret) {
			fprintf(stderr, "bench_net: %s failed\n", cases[i].name);
			return 1;
		}
		report("fake", &cases[i], frames, now() - start, &nm);
		net_mock_destroy(&nm);
	}
	return 0;
}

static int tap_cases(double seconds)
{
	struct net_tap_ns ns;
	const char *why = "";
	int ret = net_tap_ns_setup(&ns, &why);

	if (ret) {
		printf("real TAP: SKIPPED (%s: %s)\n", why, strerror(-ret));
		net_tap_ns_teardown(&ns);
		return 0;
	}
	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct net_tap tap;
		struct net_mock nm;
		uint64_t frames = 0;
		double start;

		/* A TAP frame read is at most NET_BUF_MAX: skip the 64 KiB
		 * receive case (the kernel would have to build it by GSO). */
		if (cases[i].rx && cases[i].len > 9000)
			continue;
		if (net_tap_open(&tap, NET_TAP_NS_NAME) || net_mock_init_backend(&nm, &tap.be, NULL, ~0ULL, 0)) {
			fprintf(stderr, "bench_net: TAP setup failed\n");
			return 1;
		}
		start = now();
		ret = cases[i].rx ? run_rx_tap(&nm, &ns, tap.fd, &cases[i], seconds, &frames)
				  : run_tx(&nm, &cases[i], seconds, &frames);
		if (ret) {
			fprintf(stderr, "bench_net: TAP %s failed (tx errors %llu)\n", cases[i].name,
				(unsigned long long)nm.dev.metrics.tx_errors);
			return 1;
		}
		report("tap", &cases[i], frames, now() - start, &nm);
		net_mock_destroy(&nm);
		net_tap_close(&tap);
	}
	net_tap_ns_teardown(&ns);
	return 0;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 1.0;

	if (seconds <= 0)
		seconds = 1.0;
	printf("virtio-net queue processing (mock driver, %.1f s per case)\n", seconds);
	return fake_cases(seconds) || tap_cases(seconds);
}
