/*
 * virtio-blk device: one request queue over a struct blk_backend, exposed to
 * the guest by a virtio transport through blk_virtio_ops (the VMM hands
 * blk_virtio_ops and the device to vmmio_init()).
 *
 * Offers VERSION_1, RING_INDIRECT_DESC, RING_EVENT_IDX, SEG_MAX (queue size
 * - 2), BLK_SIZE (512), RO for a read-only backend and FLUSH with the
 * Writeback cache type.  Handles IN, OUT, FLUSH and GET_ID; anything else is
 * UNSUPP.
 *
 * Guest-error policy: a malformed ring or chain (virtq_pop refuses it) marks
 * the device DEVICE_NEEDS_RESET and it processes nothing more until the
 * driver resets it; a malformed request in a sound chain fails with IOERR
 * (bad framing, a range past the end of the disk, a write to a read-only
 * disk), or is returned with used length 0 and no status when the chain has
 * no writable byte to put one in.  Backend errors are IOERR.
 *
 * Rate limiting (opts.rate_limiter, Firecracker's drive rate_limiter): every
 * chain costs one op token, and IN/OUT/GET_ID their data bytes in bandwidth
 * tokens.  A throttled chain stays with the device (popped, parsed, not
 * answered) and is the first one tried when the queue is processed again,
 * so order is kept and nothing is lost; processing resumes when the
 * limiter's timerfd fires (the device watches it through opts.events and
 * blk_dev_event) or the limiter is updated.
 *
 * Asynchronous backends (the Async engine): IN, OUT and FLUSH are submitted
 * and the chain stays in flight (a table indexed by head, bounded by the
 * queue size) until the backend completes it; the device watches the
 * backend's eventfd through opts.events and blk_dev_event writes the status,
 * returns the chain and interrupts the guest.  A head popped again while in
 * flight is a malformed queue (NEEDS_RESET).  Reset waits for (or cancels)
 * everything in flight before it returns, and drops the results: no guest
 * memory is written after a reset.
 *
 * Threads: the transport calls the ops on a vCPU thread with its lock held;
 * blk_process_queue runs wherever the notification is handled (inline on
 * that vCPU when no kick hook is given, else on the VMM thread that the kick
 * wakes); blk_dev_event runs on the VMM thread.  A device mutex serialises
 * them; the backend and the rate limiter are called with it held.
 */
#ifndef KILN_BLK_H
#define KILN_BLK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/block/blk_backend.h"
#include "devices/block/blk_request.h" /* struct blk_req, for the pending chain */
#include "devices/block/virtio_blk_abi.h"
#include "devices/dev_events.h"
#include "devices/ratelimit/ratelimit.h"
#include "devices/virtio/virtio_dev.h"
#include "devices/virtio/virtq.h"
#include "vmm/compiler.h"

#define BLK_QUEUE_SIZE 256 /* QueueNumMax by default, as Firecracker */

struct blk_opts {
	const char *drive_id;   /* GET_ID answer, at most 20 bytes used; NULL: empty */
	uint16_t queue_size;    /* QueueNumMax: power of two 4 .. 256; 0: BLK_QUEUE_SIZE */
	/* Optional.  When set, a guest notification only calls kick (on the
	 * vCPU thread, with the transport lock held: it must not block, e.g.
	 * write an eventfd) and the VMM calls blk_process_queue() later. */
	void (*kick)(void *opaque);
	void *kick_opaque;
	/* Optional: the drive's rate limiter (NULL or all zero: unlimited);
	 * copied.  rl_now_ns: the limiter's clock (NULL: CLOCK_MONOTONIC; tests
	 * pass a fake one). */
	const struct ratelimit_config *rate_limiter;
	uint64_t (*rl_now_ns)(void);
	/* The VMM loop, for the fds the device needs watched (the limiter's
	 * timerfd, an asynchronous backend's eventfd); the loop then calls
	 * blk_dev_event(dev, token, events).  Required when there is such an
	 * fd (else blk_dev_init is -EINVAL); may be NULL otherwise.  Copied;
	 * its opaque must outlive the device. */
	const struct dev_event_loop *events;
};

/* Tokens the device watches its fds with (blk_dev_event's token). */
enum blk_event_token {
	BLK_EVENT_RATELIMIT = 1,  /* the rate limiter's timerfd */
	BLK_EVENT_COMPLETION = 2, /* the asynchronous backend's eventfd */
};

/* One chain handed to an asynchronous backend, by head. */
struct blk_inflight {
	bool busy;
	uint32_t type;           /* VIRTIO_BLK_T_IN, _OUT or _FLUSH */
	uint32_t data_len;
	uint32_t status_off;     /* in the writable part */
	uint64_t status_gpa;     /* where the status byte goes */
};

/* Host-side counters; not guest state, not saved. */
struct blk_metrics {
	uint64_t read_count, write_count, flush_count, get_id_count;
	uint64_t read_bytes, write_bytes;
	uint64_t io_errors;      /* requests answered IOERR (backend or range or framing) */
	uint64_t unsupported;    /* requests answered UNSUPP */
	uint64_t invalid;        /* malformed requests among io_errors */
	uint64_t dropped;        /* chains without a status byte */
	uint64_t queue_errors;   /* malformed rings/chains: DEVICE_NEEDS_RESET */
	uint64_t interrupts;     /* used-buffer notifications sent */
	uint64_t rate_limited;   /* times a chain was held back by the rate limiter */
	uint64_t inflight_max;   /* most asynchronous requests in flight at once */
};

/* Embedded in the VM; fields are private to blk.c and its tests. */
struct blk_dev {
	pthread_mutex_t lock;
	struct blk_backend be;
	uint64_t capacity;       /* sectors */
	uint64_t features;       /* offered */
	uint16_t queue_size;
	char id[VIRTIO_BLK_ID_BYTES];
	void (*kick)(void *opaque);
	void *kick_opaque;

	bool active;
	bool broken;             /* needs_reset already reported */
	const struct gmem *mem;
	struct virtq *q;
	struct virtio_irq irq;

	struct virtq_chain chain;              /* scratch, under lock; the pending chain */
	struct iovec iov[VIRTQ_MAX_SIZE];      /* scratch, under lock */
	struct blk_metrics metrics;

	/* A chain popped but not yet answered (throttled, or the backend was
	 * full): chain holds it, pending_req/pending_parse its parse. */
	bool pending;
	bool pending_charged;    /* its rate-limit tokens are already taken */
	int pending_parse;
	struct blk_req pending_req;

	struct ratelimit rl;
	struct dev_event_loop events; /* a copy of opts.events */
	bool has_events;
	int watched_rl_fd;       /* -1: not watched */
	int watched_be_fd;       /* -1: not watched */

	/* Asynchronous backends: heap, queue_size entries; NULL for sync. */
	struct blk_inflight *inflight;
	uint32_t nr_inflight;
};

/*
 * Snapshot of the device's guest-visible state: plain data.  Save it while
 * the device is quiescent (blk_dev_quiesce, VM paused); restore checks it
 * against the device built from the same configuration.
 */
struct blk_state {
	uint64_t capacity;       /* sectors the guest sees */
	uint64_t features;       /* offered */
	uint8_t id[VIRTIO_BLK_ID_BYTES];
	uint8_t broken;          /* 0 or 1: needs_reset reported */
	uint8_t pad[3];
	struct rl_bucket_state rl_bw, rl_ops;
};

/* Transport-facing ops; the device pointer is the struct blk_dev. */
extern const struct virtio_dev_ops blk_virtio_ops;

/* Takes a copy of *be (its opaque must outlive the device).  0, or -EINVAL
 * (no read op, no write op on a writable backend, size below one sector,
 * bad queue size) or the error of pthread_mutex_init. */
int blk_dev_init(struct blk_dev *b, const struct blk_backend *be, const struct blk_opts *opts) __must_check;
void blk_dev_destroy(struct blk_dev *b);

/* Processes every available request, then interrupts the guest if it asked
 * for it.  0; -EIO when the queue is (or was found) malformed and the device
 * needs a reset; 0 too when the device is not active. */
int blk_process_queue(struct blk_dev *b);

void blk_metrics_get(struct blk_dev *b, struct blk_metrics *m);

/*
 * Replaces the backend (a new disk image behind the same device, Firecracker's
 * PATCH /drives), waiting for a blk_process_queue in progress; the old
 * backend is not used once this returns.  The new one must keep the read-only
 * flag and cache type (the offered features depend on them) and hold at least
 * one sector: else -EINVAL and nothing changes.  The capacity follows the new
 * size; the caller then signals a configuration change through the transport.
 */
int blk_dev_set_backend(struct blk_dev *b, const struct blk_backend *be) __must_check;

/* Capacity in sectors, as the configuration space shows it. */
uint64_t blk_dev_capacity(struct blk_dev *b);

/* The VMM loop saw events on an fd the device watches (a dev_event_fn):
 * BLK_EVENT_COMPLETION reaps the backend, answers the finished chains and
 * interrupts the guest; BLK_EVENT_RATELIMIT unblocks the limiter; both then
 * process the queue.  Unknown tokens are ignored. */
void blk_dev_event(void *dev, uint32_t token, uint32_t events);

/* The fds blk_dev_event serves, for a VMM that polls them itself: the
 * limiter's timerfd and the asynchronous backend's eventfd, -1 if none. */
int blk_ratelimit_fd(struct blk_dev *b);
int blk_completion_fd(struct blk_dev *b);

/* PATCH /drives rate_limiter: the buckets start full with cfg (NULL:
 * unlimited) and a throttled chain is retried at once.  0, or -EINVAL (a
 * config ratelimit_config_check refuses, or a timerfd is needed and the
 * device has no event loop) or -errno, with nothing changed. */
int blk_dev_update_ratelimit(struct blk_dev *b, const struct ratelimit_config *cfg) __must_check;

/*
 * Before saving: waits for every asynchronous request and answers it, and
 * gives a throttled chain back to the available ring (its avail entry is
 * taken again after restore), so the queue's saved position covers exactly
 * the chains answered.  The device stays usable: if the VM resumes without
 * a restore, call blk_process_queue once (the guest does not announce the
 * given-back chain again).
 */
void blk_dev_quiesce(struct blk_dev *b);

void blk_state_save(struct blk_dev *b, struct blk_state *st);
/* Loads st (untrusted) into a device built from the same configuration:
 * -EINVAL, with nothing changed, unless the features are the ones the device
 * offers, the capacity fits its backend, broken is 0 or 1 and the rate
 * limiter state is valid (ratelimit_restore).  Call after the transport's
 * restore (which may activate the device), then blk_process_queue once. */
int blk_state_restore(struct blk_dev *b, const struct blk_state *st) __must_check;

#endif
