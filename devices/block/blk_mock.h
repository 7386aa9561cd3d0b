/*
 * A mock virtio-blk driver over the mock virtio driver: a block device on a
 * virtio-mmio transport in fake guest memory, negotiated like Linux does it,
 * and helpers that build requests (header, data split over any number of
 * descriptors, direct or indirect, status) and collect completions.  Shared
 * by the block tests, the benchmark and the fuzz target; not an API.
 */
#ifndef KILN_BLK_MOCK_H
#define KILN_BLK_MOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/block/blk.h"
#include "devices/virtio/virtio_mmio.h"
#include "devices/virtio/virtio_mock.h"

#define BLK_MOCK_RAM_SIZE (4ULL << 20)
#define BLK_MOCK_SLOTS 256 /* request headers/status bytes in flight */
#define BLK_MOCK_DATA_SIZE (1ULL << 20)

/* A fake VMM event loop: records the device's watches and, when run, polls
 * them and calls blk_dev_event for the readable ones. */
#define BLK_MOCK_LOOP_FDS 4
struct blk_mock_loop {
	struct dev_event_loop loop;  /* hand &loop to blk_opts.events */
	int fd[BLK_MOCK_LOOP_FDS];
	uint32_t token[BLK_MOCK_LOOP_FDS];
	unsigned int nr;
	unsigned int watches, unwatches;
};

void blk_mock_loop_init(struct blk_mock_loop *l);
/* Waits up to timeout_ms for a watched fd to be readable, then calls
 * blk_dev_event(dev, ...) for each readable one.  Returns how many. */
int blk_mock_loop_run(struct blk_mock_loop *l, struct blk_dev *dev, int timeout_ms);

/*
 * An asynchronous engine over a synchronous backend that does the I/O (the
 * in-memory disk, with its fault injection): submitted operations wait,
 * committed, until the test completes them in any order
 * (blk_amem_complete) or, with auto_complete, until commit.  Completion does
 * the I/O and signals the eventfd; reap returns completions in the order
 * they happened; drain drops what is in flight without doing it.
 */
struct blk_amem_op {
	bool busy, committed;
	enum blk_io_op op;
	uint64_t offset;
	uint32_t tag;
	uint64_t seq;          /* submission order */
	int iovcnt;
	struct iovec *iov;     /* BLK_BACKEND_IOV_MAX entries */
};

struct blk_amem {
	struct blk_backend inner; /* does the I/O at completion */
	uint32_t max;          /* max_inflight */
	struct blk_amem_op *ops;
	uint32_t *done_tag;    /* completions not reaped yet, a FIFO of max entries */
	int *done_res;
	uint32_t done_head, done_count;
	uint32_t inflight;     /* submitted and not reaped */
	uint64_t seq;
	int event_fd;
	bool auto_complete;
	unsigned int submits, commits, drains, dropped;
	struct blk_backend be;
};

/* 0 or -errno; a.be is the backend (opaque: a), with inner's size,
 * read-only flag and cache type. */
int blk_amem_init(struct blk_amem *a, const struct blk_backend *inner, uint32_t max_inflight);
void blk_amem_destroy(struct blk_amem *a);
/* Committed operations not completed yet. */
unsigned int blk_amem_waiting(const struct blk_amem *a);
/* Completes the n-th oldest committed operation waiting: 0, or -ENOENT. */
int blk_amem_complete(struct blk_amem *a, unsigned int n);

struct blk_mock {
	struct vmock m;
	struct blk_dev dev;
	struct vmmio t;
	unsigned int irq_raises;
	uint64_t slots;          /* gpa of BLK_MOCK_SLOTS x (16-byte header, status) */
	unsigned int next_slot;
	uint64_t status_of[VIRTQ_MAX_SIZE]; /* head -> gpa of its status byte */
	uint64_t data;           /* gpa of a BLK_MOCK_DATA_SIZE scratch area for blk_mock_do */
	/* Optional: a fake loop that blk_mock_complete runs (up to 5 s) while
	 * the device has requests in flight and nothing was completed yet. */
	struct blk_mock_loop *loop;
};

/* How a request's buffers are laid out. */
struct blk_mock_layout {
	unsigned int data_segs;  /* descriptors the data is split into (>= 1) */
	bool indirect;           /* everything in one indirect table */
	bool merge_status;       /* IN/GET_ID: the status byte at data_gpa + len, in the
				  * same descriptor as the last data bytes */
};

/* Device over be, transport, negotiation of features & offered.  0 or the
 * first error (-EPROTO when the device refused negotiation). */
int blk_mock_init(struct blk_mock *bm, const struct blk_backend *be, const struct blk_opts *opts,
		  uint64_t features);
void blk_mock_destroy(struct blk_mock *bm);

/* Writes a request (header type/sector, data at data_gpa of len bytes,
 * device-writable for IN and GET_ID, status byte) and publishes it; returns
 * its head.  Does not notify. */
uint16_t blk_mock_queue(struct blk_mock *bm, uint32_t type, uint64_t sector, uint64_t data_gpa, uint32_t len,
			const struct blk_mock_layout *layout);

/* The next completion: 0 with head, used length and the status byte the
 * device wrote for that head, or -EAGAIN. */
int blk_mock_complete(struct blk_mock *bm, uint16_t *head, uint32_t *used, uint8_t *status);

/* One request start to end through QueueNotify: buf (len bytes, host) is
 * copied into guest memory for OUT and back for IN/GET_ID.  Returns the
 * status byte, or -1 when nothing completed; *used gets the used length. */
int blk_mock_do(struct blk_mock *bm, uint32_t type, uint64_t sector, void *buf, uint32_t len, uint32_t *used);

#endif
