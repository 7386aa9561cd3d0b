/*
 * virtio-rng (entropy) device: one request queue; each chain's device-writable
 * buffers are filled with bytes from a struct rng_source (getrandom(2) by
 * default), at most RNG_MAX_REQUEST bytes per chain so that no request holds
 * the processing thread for long.  Exposed to the guest by a virtio transport
 * through rng_virtio_ops (the VMM hands rng_virtio_ops and the device to
 * vmmio_init()).  Firecracker's "entropy" device: offers VERSION_1 only, no
 * configuration space, an optional rate limiter (bytes and operations).
 *
 * Guest-error policy: a malformed ring or chain (virtq_pop refuses it) marks
 * the device DEVICE_NEEDS_RESET and it processes nothing more until the
 * driver resets it.  A chain with no writable byte is returned with used
 * length 0 (it still costs one operation token).  When the source fails the
 * chain is returned with the bytes filled before the failure (often 0) and
 * counted in errors.
 *
 * Rate limiting: each chain costs one operation and min(writable bytes,
 * RNG_MAX_REQUEST) bytes.  When the limiter refuses, the chain is put back
 * on the ring (not consumed) and the queue stalls until the limiter's
 * timerfd fires: the device watches that fd (EPOLLIN, token
 * RNG_EVENT_RATELIMIT) through the dev_event_loop given at init, and the VMM
 * loop calls rng_event_handler, which resumes the queue.
 *
 * At activation the device looks at its queue once, as after a kick: the
 * transport drops kicks that come before DRIVER_OK.
 *
 * Threads: the transport calls the ops on a vCPU thread with its lock held;
 * rng_process_queue runs inline there when no kick hook is given, else on the
 * VMM thread the kick wakes.  rng_event_handler, rng_dev_init/destroy and
 * rng_ratelimit_update run on the VMM thread (they may watch fds).  A device
 * mutex serialises everything; the source is called with it held.
 */
#ifndef KILN_RNG_H
#define KILN_RNG_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/dev_events.h"
#include "devices/ratelimit/ratelimit.h"
#include "devices/virtio/virtio_dev.h"
#include "devices/virtio/virtq.h"
#include "vmm/compiler.h"

#define RNG_QUEUE_SIZE 256          /* QueueNumMax, as Firecracker */
#define RNG_MAX_REQUEST (64 * 1024) /* bytes served per chain at most */
#define RNG_EVENT_RATELIMIT 1       /* token of the limiter's timerfd */

/* Where random bytes come from.  fill writes exactly len bytes into buf and
 * returns 0, or returns -errno having written an unspecified prefix. */
struct rng_source {
	int (*fill)(void *opaque, void *buf, size_t len);
	void *opaque;
};

/* getrandom(2) without GRND_RANDOM, retrying short reads and EINTR. */
extern const struct rng_source rng_source_getrandom;

struct rng_opts {
	const struct rng_source *source;   /* NULL: rng_source_getrandom (copied) */
	struct ratelimit_config limit;     /* all zero: unlimited */
	uint64_t (*now_ns)(void);          /* limiter clock; NULL: CLOCK_MONOTONIC */
	uint16_t queue_size;               /* power of two 1 .. 256; 0: RNG_QUEUE_SIZE */
	/* Optional, as blk_opts: a notification only calls kick (vCPU thread,
	 * transport lock held, must not block) and the VMM calls
	 * rng_process_queue() later on its own thread. */
	void (*kick)(void *opaque);
	void *kick_opaque;
};

/* Host-side counters; not guest state, not saved. */
struct rng_metrics {
	uint64_t requests;      /* chains returned */
	uint64_t bytes;         /* random bytes handed to the guest */
	uint64_t empty;         /* chains without a writable byte */
	uint64_t errors;        /* chains the source failed */
	uint64_t throttled;     /* times the queue stalled on the limiter */
	uint64_t queue_errors;  /* malformed rings/chains: DEVICE_NEEDS_RESET */
	uint64_t interrupts;    /* used-buffer notifications sent */
};

/* Device state for snapshots: the limiter's buckets (configs and what is
 * left in them), plain data, untrusted on restore.  The queue itself is
 * saved by the transport. */
struct rng_state {
	struct rl_bucket_state bw, ops;
};

/* Embedded in the VM; fields are private to the rng unit and its tests. */
struct rng_dev {
	pthread_mutex_t lock;
	struct rng_source source;
	struct ratelimit rl;
	struct dev_event_loop loop;
	bool watching;                /* rl's timerfd is in the loop */
	uint16_t queue_size;
	void (*kick)(void *opaque);
	void *kick_opaque;

	bool active;
	bool broken;                  /* needs_reset already reported */
	const struct gmem *mem;
	struct virtq *q;
	struct virtio_irq irq;

	struct virtq_chain chain;     /* scratch, under lock */
	struct iovec iov[VIRTQ_MAX_SIZE];
	struct rng_metrics metrics;
};

/* Transport-facing ops; the device pointer is the struct rng_dev. */
extern const struct virtio_dev_ops rng_virtio_ops;

/* loop (copied) watches the limiter's timerfd when there is one.  0, or
 * -EINVAL (bad queue size, a source without fill, a limiter config
 * ratelimit_init refuses), or -errno (timerfd, watch, mutex). */
int rng_dev_init(struct rng_dev *r, const struct rng_opts *opts, const struct dev_event_loop *loop) __must_check;
/* Unwatches and closes the limiter's fd.  The transport must be gone. */
void rng_dev_destroy(struct rng_dev *r);

/* Serves every available chain the limiter lets through, then interrupts
 * the guest if it asked for it.  0 (also when inactive or throttled); -EIO
 * when the queue is (or was found) malformed and the device needs a reset. */
int rng_process_queue(struct rng_dev *r);

/* dev_event_fn: the VMM loop saw the limiter's timerfd (token
 * RNG_EVENT_RATELIMIT); unblocks the limiter and resumes the queue. */
void rng_event_handler(void *dev, uint32_t token, uint32_t events);

/* New bucket configs (Firecracker has no PATCH /entropy, but a VMM may
 * offer one), full buckets; creates and watches the timerfd if the device
 * had none.  0, or -EINVAL / -errno with the old limiter kept.  VMM thread. */
int rng_ratelimit_update(struct rng_dev *r, const struct ratelimit_config *cfg) __must_check;

void rng_metrics_get(struct rng_dev *r, struct rng_metrics *m);

/* Snapshot (VM paused). */
void rng_save(struct rng_dev *r, struct rng_state *st);
/* Re-validates st through ratelimit_restore (-EINVAL, device unchanged, on
 * bad buckets); the buckets keep their saved budgets and refill from now.
 * Watches the timerfd if one had to be created.  VMM thread. */
int rng_restore(struct rng_dev *r, const struct rng_state *st) __must_check;

#endif
