/*
 * A mock virtio-net driver over the mock virtio driver: a net device on a
 * virtio-mmio transport in fake guest memory, negotiated like Linux does it,
 * with the in-memory TAP as backend and a fake event loop that records what
 * the device watches.  Helpers build transmit chains (header + frame split
 * over any number of descriptors, direct or indirect), post receive buffers,
 * collect completions, and play the loop (deliver the events the fake TAP
 * would raise).  Shared by the net tests, the benchmark and the fuzz target;
 * not an API.
 */
#ifndef KILN_NET_MOCK_H
#define KILN_NET_MOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/dev_events.h"
#include "devices/net/net.h"
#include "devices/net/net_tap_fake.h"
#include "devices/virtio/virtio_mmio.h"
#include "devices/virtio/virtio_mock.h"

#define NET_MOCK_RAM_SIZE (8ULL << 20)
#define NET_MOCK_TX_AREA (2ULL << 20)
#define NET_MOCK_RX_AREA (4ULL << 20)
#define NET_MOCK_WATCHES 8

struct net_fake_watch {
	int fd;
	uint32_t events;
	uint32_t token;
	bool on;
};

/* A dev_event_loop that records watches; the test plays the loop. */
struct net_fake_loop {
	struct net_fake_watch w[NET_MOCK_WATCHES];
	unsigned int watch_calls, unwatch_calls;
	int fail;                  /* non-zero: watch returns this */
	struct dev_event_loop loop;
};

void net_fake_loop_init(struct net_fake_loop *l);
/* Events watched on fd, 0 when not watched. */
uint32_t net_fake_loop_events(const struct net_fake_loop *l, int fd);
/* How many fds are watched. */
unsigned int net_fake_loop_count(const struct net_fake_loop *l);

struct net_mock {
	struct vmock m;
	struct net_tap_fake tap;
	struct net_fake_loop ev;
	struct net_dev dev;
	struct vmmio t;
	bool dev_ready, t_ready;
	unsigned int irq_raises;
	uint64_t tx_area, rx_area;
	uint64_t tx_next, rx_next;          /* offsets of the next buffer in each area */
	uint64_t rx_gpa[VIRTQ_MAX_SIZE];    /* head -> its receive buffer */
	uint32_t rx_cap[VIRTQ_MAX_SIZE];
};

/* Device with opts over the fake TAP (keep: copies of written frames),
 * transport, negotiation of features & offered with queues of qsize (0:
 * QueueNumMax).  0 or the first error (-EPROTO: negotiation refused). */
int net_mock_init(struct net_mock *nm, const struct net_opts *opts, uint64_t features, uint16_t qsize,
		  bool keep);
/* The same over another backend (a real TAP); the fake TAP stays unused. */
int net_mock_init_backend(struct net_mock *nm, const struct net_backend *be, const struct net_opts *opts,
			  uint64_t features, uint16_t qsize);
void net_mock_destroy(struct net_mock *nm);

/* Writes header (12 bytes, NULL: zeros) + frame (len bytes) into guest
 * memory as one transmit chain of segs descriptors (>= 1; indirect: one
 * table) and publishes it; returns the head.  Does not notify. */
uint16_t net_mock_tx(struct net_mock *nm, const void *hdr, const void *frame, uint32_t len, unsigned int segs,
		     bool indirect);
/* Next transmit completion: 0 with head and used length, or -EAGAIN. */
int net_mock_tx_used(struct net_mock *nm, uint16_t *head, uint32_t *used);

/* Posts a receive buffer of len bytes in segs descriptors; returns the
 * head.  Does not notify. */
uint16_t net_mock_rx_post(struct net_mock *nm, uint32_t len, unsigned int segs, bool indirect);
/* Next receive completion: 0 with head, used length and (out, up to max
 * bytes) what the device wrote; or -EAGAIN. */
int net_mock_rx_used(struct net_mock *nm, uint16_t *head, uint32_t *used, void *out, uint32_t max);

/* Plays the loop: while the fake TAP is readable (frames waiting) and
 * EPOLLIN is watched, or writable (not full) and EPOLLOUT is watched,
 * calls net_event.  Returns the events delivered (at most max_rounds). */
unsigned int net_mock_poll(struct net_mock *nm, unsigned int max_rounds);

#endif
