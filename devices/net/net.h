/*
 * virtio-net device (id 1): one receive and one transmit queue over a struct
 * net_backend (a TAP, or the in-memory fake), exposed to the guest by a
 * virtio transport through net_virtio_ops.
 *
 * Offers VERSION_1, RING_EVENT_IDX, RING_INDIRECT_DESC, CSUM, GUEST_CSUM,
 * GUEST_TSO4/TSO6/UFO, HOST_TSO4/TSO6/UFO, MRG_RXBUF, STATUS (link always
 * up), MAC when a guest MAC is given and MTU when an MTU is given.  No
 * control queue.  The 12-byte virtio_net_hdr_v1 passes through to and from
 * the backend; at activation the backend is told which offloads the driver
 * can take (net_offload_flags()).
 *
 * Transmit: each chain is header + frame in its readable buffers (at most
 * NET_BUF_MAX bytes, at least the header, no writable buffer, a header that
 * uses only negotiated offloads); anything else is dropped, counted and
 * returned with used length 0.  A frame the backend cannot take now
 * (-EAGAIN) or the tx limiter refuses is kept, with its chain, and sent
 * first when the backend is writable (EPOLLOUT) or the limiter's timer
 * fires; nothing else is popped meanwhile.
 *
 * Receive: a frame read from the backend goes into one chain, or with
 * MRG_RXBUF into as many chains as it needs (num_buffers in the first
 * header).  With no receive buffer the device keeps the frame it read,
 * stops watching the backend for EPOLLIN and waits for the driver's next
 * notification of the receive queue: no frame read is lost and the loop does
 * not spin.  After a backend read error or EPOLLERR/EPOLLHUP on its fd the
 * device watches nothing until the driver's next notification of either
 * queue, which retries.  A chain with fewer than 12 writable bytes, or too small for the
 * frame without MRG_RXBUF, costs the frame (dropped, counted) and goes back
 * with used length 0, as do the chains already filled for that frame.
 *
 * Guest-error policy: a malformed ring or chain (virtq_pop refuses it) marks
 * the device DEVICE_NEEDS_RESET; it then touches neither queue until reset.
 *
 * Events: the backend's fd and each limiter's timerfd are watched through
 * the dev_event_loop given at init (tokens NET_EVENT_*); the VMM loop calls
 * net_event() when they fire.  Queue notifications: with a kick hook the
 * transport's notify only kicks and the VMM calls net_process_queue() on its
 * thread; without one, notify processes inline.  Activation and reset come
 * on a vCPU thread, which must not touch the loop: they kick the receive
 * queue, and net_process_queue (on the VMM thread) starts or stops watching
 * the backend.  Without a kick hook everything runs on the caller's thread
 * (tests, fuzzing), and they update the watches inline.
 *
 * Threads: a device mutex serialises the transport ops, net_process_queue,
 * net_event and the accessors.  Backend calls never block.
 */
#ifndef KILN_NET_H
#define KILN_NET_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/dev_events.h"
#include "devices/net/net_backend.h"
#include "devices/net/virtio_net_abi.h"
#include "devices/ratelimit/ratelimit.h"
#include "devices/virtio/virtio_dev.h"
#include "devices/virtio/virtq.h"
#include "vmm/compiler.h"

#define NET_QUEUE_SIZE 256 /* QueueNumMax by default, as Firecracker */
#define NET_NR_QUEUES 2

/* Tokens of the fds the device watches (net_event's token). */
enum net_event_token {
	NET_EVENT_TAP = 1,        /* backend fd: EPOLLIN and/or EPOLLOUT */
	NET_EVENT_RX_RATELIMIT,   /* rx limiter's timerfd */
	NET_EVENT_TX_RATELIMIT,   /* tx limiter's timerfd */
};

struct net_opts {
	bool has_mac;
	uint8_t mac[6];           /* guest_mac: offered as VIRTIO_NET_F_MAC */
	uint16_t mtu;             /* 0: none; else 68 .. 65535, offered as VIRTIO_NET_F_MTU */
	uint16_t queue_size;      /* QueueNumMax: power of two 2 .. 256; 0: NET_QUEUE_SIZE */
	struct ratelimit_config rx_rate_limiter; /* zeroed: unlimited */
	struct ratelimit_config tx_rate_limiter;
	uint64_t (*now_ns)(void); /* limiter clock; NULL: CLOCK_MONOTONIC (tests pass a fake) */
	/* Optional: as blk_opts.kick (vCPU thread, transport lock held, must
	 * not block); the VMM then calls net_process_queue() itself. */
	void (*kick)(void *opaque, unsigned int queue);
	void *kick_opaque;
};

/* Host-side counters; not guest state, not saved. */
struct net_metrics {
	uint64_t rx_bytes, rx_frames;      /* delivered to the guest (bytes without header) */
	uint64_t rx_dropped;               /* read but not delivered: bad or small buffers, short read */
	uint64_t rx_errors;                /* backend read errors */
	uint64_t rx_throttled;             /* times the rx limiter held a frame back */
	uint64_t rx_no_buffers;            /* times a frame waited for receive buffers */
	uint64_t rx_merged_buffers;        /* chains used beyond the first (MRG_RXBUF) */
	uint64_t tx_bytes, tx_frames;      /* taken by the backend (bytes without header) */
	uint64_t tx_dropped;               /* malformed frames: too long/short, bad header, writable bufs */
	uint64_t tx_errors;                /* backend write errors (frame dropped) */
	uint64_t tx_throttled;             /* times the tx limiter held a frame back */
	uint64_t tx_eagain;                /* times the backend was full (frame kept, retried) */
	uint64_t interrupts;               /* used-buffer notifications sent */
	uint64_t queue_errors;             /* malformed rings/chains: DEVICE_NEEDS_RESET */
	uint64_t event_errors;             /* EPOLLERR/EPOLLHUP on the backend fd */
};

/* A chain filled for the frame being received, not yet given back. */
struct net_rx_held {
	uint16_t head;
	uint16_t pad;
	uint32_t len;
};

/* The device's own snapshot: plain data, untrusted on restore.  The
 * transport's state (features, queues) is saved by vmmio_save. */
struct net_state {
	uint32_t magic;                    /* NET_STATE_MAGIC */
	uint16_t mtu;
	uint8_t has_mac;
	uint8_t mac[6];
	uint8_t rx_have, rx_charged, tx_pending, tx_charged;
	uint8_t pad[3];
	uint64_t acked_features;           /* negotiated, when active; else 0 */
	uint32_t offload_flags;            /* what the backend was told (derived; checked) */
	uint32_t rx_len, rx_done;          /* frame in rx_frame; bytes already in held chains */
	uint16_t rx_nheld, tx_head;
	uint32_t tx_len;
	uint64_t rx_nb_gpa[2];             /* where num_buffers goes in the first held chain */
	struct net_rx_held rx_held[VIRTQ_MAX_SIZE];
	struct rl_bucket_state rx_bw, rx_ops, tx_bw, tx_ops;
	uint8_t rx_frame[NET_BUF_MAX];
	uint8_t tx_frame[NET_BUF_MAX];
};

#define NET_STATE_MAGIC 0x6e657431u /* "net1" */

/* Embedded in the VM; fields are private to net*.c and its tests. */
struct net_dev {
	pthread_mutex_t lock;
	struct net_backend be;
	struct dev_event_loop loop;
	uint64_t features;                 /* offered */
	bool has_mac;
	uint8_t mac[6];
	uint16_t mtu;
	uint16_t queue_size;
	void (*kick)(void *opaque, unsigned int queue);
	void *kick_opaque;
	struct ratelimit rx_rl, tx_rl;

	bool active;
	bool broken;                       /* needs_reset already reported */
	uint64_t acked;                    /* negotiated features */
	unsigned int offload_flags;
	const struct gmem *mem;
	struct virtq *rxq, *txq;
	struct virtio_irq irq;

	uint32_t tap_watched;              /* events the loop watches on be.fd */
	bool rx_wait_buffers;              /* no receive buffer: EPOLLIN off until notified */
	bool tap_failed;                   /* read error, EPOLLERR/HUP: nothing watched until a queue notify */

	/* Receive: one frame read from the backend and not yet delivered. */
	bool rx_have, rx_charged;
	uint32_t rx_len, rx_done;
	uint16_t rx_nheld;
	uint64_t rx_nb_gpa[2];
	struct net_rx_held rx_held[VIRTQ_MAX_SIZE];
	uint8_t *rx_frame;                 /* NET_BUF_MAX */

	/* Transmit: a frame held back (backend full or limiter), with its chain. */
	bool tx_pending, tx_charged;
	uint16_t tx_head;
	uint32_t tx_len;
	uint8_t *tx_frame;                 /* NET_BUF_MAX */

	struct virtq_chain chain;          /* scratch, under lock */
	struct iovec iov[VIRTQ_MAX_SIZE + 1];
	struct net_metrics metrics;
};

/* Transport-facing ops; the device pointer is the struct net_dev. */
extern const struct virtio_dev_ops net_virtio_ops;

/*
 * Takes a copy of *be (its opaque must outlive the device) and of *loop, and
 * creates the limiters (watching their timerfds).  0, or -EINVAL (no backend
 * op or fd, bad MTU, queue size or limiter config), -ENOMEM, or the error of
 * pthread_mutex_init, timerfd_create or loop->watch.
 */
int net_dev_init(struct net_dev *d, const struct net_backend *be, const struct dev_event_loop *loop,
		 const struct net_opts *opts) __must_check;
/* Unwatches every fd and frees the limiters; the transport must have reset
 * the device (vmmio_destroy) before. */
void net_dev_destroy(struct net_dev *d);

/* The driver notified queue (VIRTIO_NET_RXQ: new receive buffers;
 * VIRTIO_NET_TXQ: frames to send), or the device kicked itself after an
 * activation or reset.  Brings the watches up to date.  0; -EIO when the
 * device needs a reset; 0 too when it is not active or queue is unknown. */
int net_process_queue(struct net_dev *d, unsigned int queue);

/* The event loop saw events on the fd watched with token (dev_event_fn). */
void net_event(void *dev, uint32_t token, uint32_t events);

void net_metrics_get(struct net_dev *d, struct net_metrics *m);

/* PATCH /network-interfaces: new limiter configs (NULL: keep that one);
 * buckets start full.  0, -EINVAL (a bad config: nothing changed) or -errno
 * of ratelimit_update or the loop's watch (rx is updated before tx: a tx
 * error leaves the new rx config in place). */
int net_dev_update_ratelimit(struct net_dev *d, const struct ratelimit_config *rx,
			     const struct ratelimit_config *tx) __must_check;

/* TUNSETOFFLOAD flags for the negotiated features: what the driver can
 * receive (GUEST_*), with TSO/UFO only alongside GUEST_CSUM as the kernel
 * and the spec require. */
unsigned int net_offload_flags(uint64_t features);

/* Does a transmit header use only offloads the features allow? */
bool net_tx_hdr_ok(const struct virtio_net_hdr_v1 *h, uint64_t features);

/*
 * Snapshot of the device (VM paused).  Restore after vmmio_restore (which
 * re-activates the device with the restored queues): st is checked against
 * the activation (negotiated features, queue sizes, guest memory), the
 * device's MAC and MTU, and the limiters' own checks (ratelimit_restore,
 * which also takes the saved limiter configs); -EINVAL (or -errno) and the
 * device unchanged when it does not fit.  Buckets restart their refill clock.
 */
void net_save(struct net_dev *d, struct net_state *st);
int net_restore(struct net_dev *d, const struct net_state *st) __must_check;

#endif
