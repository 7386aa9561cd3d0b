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
 * Threads: the transport calls the ops on a vCPU thread with its lock held;
 * blk_process_queue runs wherever the notification is handled (inline on
 * that vCPU when no kick hook is given, else on the VMM thread that the kick
 * wakes).  A device mutex serialises them; the backend is called with it held.
 */
#ifndef KILN_BLK_H
#define KILN_BLK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/block/blk_backend.h"
#include "devices/block/virtio_blk_abi.h"
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

	struct virtq_chain chain;              /* scratch, under lock */
	struct iovec iov[VIRTQ_MAX_SIZE];      /* scratch, under lock */
	struct blk_metrics metrics;
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

#endif
