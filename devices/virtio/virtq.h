/*
 * Split virtqueue, device side (virtio 1.2 section 2.7).
 *
 * A struct virtq holds what the driver configured through a transport (size,
 * ring addresses, ready) and the device's position in the rings.  It knows
 * nothing of transports, KVM, threads or event loops: the transport fills the
 * configuration and calls virtq_activate(); the device pops chains, uses them
 * and pushes them back.
 *
 * Trust: every descriptor is copied once into host memory and validated on the
 * copy (address and length through gmem, len != 0, next < size, readable before
 * writable, total length < 4 GiB); the chain handed to the device is that copy.
 * Every walk has a host-chosen bound: at most size hops in the descriptor
 * table, at most size buffers per chain, one indirect table of at most size
 * entries, no nested indirect tables.  An available index more than size ahead
 * of the device's used index is refused (this covers both avail_idx -
 * last_avail > size and a driver offering more chains than the ring holds
 * while the device still holds some).
 *
 * Error policy: anything malformed returns -errno and marks the queue broken;
 * a broken queue pops nothing more (-EIO) until virtq_reset().  The device
 * reports it to its transport as DEVICE_NEEDS_RESET.  Nothing the driver
 * writes makes the queue read or write outside guest memory or crash.
 *
 * Concurrency: one thread at a time per queue (the device's lock).  The
 * driver runs concurrently on other CPUs; ring indices are read with acquire
 * and published with release semantics, and the notification checks sit
 * behind full barriers, as the spec's memory-ordering rules require.
 *
 * Dirty tracking (gmem.h): every guest write the queue makes is marked: the
 * used ring at each push and each avail_event store, device-writable buffers
 * when virtq_chain_to_iovec maps them or virtq_chain_write copies into them.
 */
#ifndef KILN_VIRTQ_H
#define KILN_VIRTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/virtio/virtio_abi.h"
#include "vmm/compiler.h"
#include "vmm/mem/gmem.h"

/* Largest queue a kiln device offers (QueueNumMax).  Also the bound on the
 * number of buffers in one chain, so a chain fits a fixed host array. */
#define VIRTQ_MAX_SIZE 256

/* One buffer of a chain: the validated copy of a descriptor. */
struct virtq_buf {
	uint64_t addr;   /* guest-physical; [addr, addr + len) is inside one RAM region */
	uint32_t len;    /* > 0 */
	bool writable;   /* device-writable (VIRTQ_DESC_F_WRITE) */
};

/* A popped descriptor chain.  bufs[0 .. nr_readable) are device-readable,
 * bufs[nr_readable .. nr_bufs) device-writable. */
struct virtq_chain {
	uint16_t head;          /* descriptor index to give back to virtq_push() */
	uint16_t nr_bufs;       /* 1 .. queue size */
	uint16_t nr_readable;
	uint32_t readable_len;  /* bytes in the readable buffers */
	uint32_t writable_len;  /* bytes in the writable buffers */
	bool indirect;          /* some buffers came from an indirect table */
	struct virtq_buf bufs[VIRTQ_MAX_SIZE];
};

/* Which part of a chain a helper works on. */
enum virtq_dir {
	VIRTQ_DEV_READ,  /* the device-readable buffers (driver -> device) */
	VIRTQ_DEV_WRITE, /* the device-writable buffers (device -> driver) */
};

struct virtq {
	/* Written by the transport on the driver's behalf before activation. */
	uint16_t max_size;  /* QueueNumMax, a power of two <= VIRTQ_MAX_SIZE; fixed */
	uint16_t size;      /* QueueNum; validated at activation */
	bool ready;         /* QueueReady */
	uint64_t desc_gpa;  /* Descriptor Area */
	uint64_t avail_gpa; /* Driver Area */
	uint64_t used_gpa;  /* Device Area */

	/* Device position, kept across snapshots. */
	uint16_t last_avail;     /* next avail ring entry to pop */
	uint16_t next_used;      /* used idx after the last push */
	uint16_t signalled_used; /* next_used when the device last decided about an interrupt */

	/* Derived at activation; private to virtq.c. */
	bool active;
	bool broken;
	bool event_idx;
	bool indirect;
	const struct gmem *mem;
	uint8_t *desc_host;
	uint8_t *avail_host;
	uint8_t *used_host;
};

/* Plain snapshot of one queue: no pointers, untrusted on restore. */
struct virtq_state {
	uint16_t size;
	uint8_t ready;
	uint8_t pad;
	uint16_t last_avail;
	uint16_t next_used;
	uint16_t signalled_used;
	uint16_t pad2[3];
	uint64_t desc_gpa;
	uint64_t avail_gpa;
	uint64_t used_gpa;
};

/* Power-on state: size = max_size, nothing ready, addresses 0.  -EINVAL when
 * max_size is not a power of two in 1 .. VIRTQ_MAX_SIZE. */
int virtq_init(struct virtq *q, uint16_t max_size) __must_check;

/* Back to the power-on configuration; forgets the position and a broken mark. */
void virtq_reset(struct virtq *q);

/*
 * Validates the driver's configuration and starts using the rings: size a
 * power of two in 1 .. max_size, desc 16-, avail 2-, used 4-byte aligned, each
 * ring inside one RAM region.  features are the negotiated ones (EVENT_IDX and
 * INDIRECT_DESC matter here).  Keeps last_avail/next_used (0 after reset, the
 * saved values after virtq_restore), which may not leave more than size
 * chains in flight.  0, -EINVAL (bad size, alignment, positions, not ready)
 * or -EFAULT (a ring outside guest memory); the queue stays inactive on error.
 */
int virtq_activate(struct virtq *q, const struct gmem *mem, uint64_t features) __must_check;

bool virtq_is_active(const struct virtq *q);
bool virtq_is_broken(const struct virtq *q);

/*
 * Takes the next available chain into *c (a host copy, validated).  0 with a
 * chain; -EAGAIN when the driver has made nothing new available; -EIO when
 * the queue is broken or inactive; on a malformed ring or chain -EINVAL (bad
 * index, flags, ordering, avail idx jump > size, nested or misused indirect),
 * -EFAULT (a buffer or table outside guest memory), -ELOOP (hop budget spent:
 * a loop) or -E2BIG (more buffers or bytes than allowed), and the queue is
 * broken from then on.
 */
int virtq_pop(struct virtq *q, struct virtq_chain *c) __must_check;

/*
 * Returns chain head to the driver with len bytes written into its writable
 * buffers (the device's claim; it must not exceed what it wrote).  Publishes
 * the used idx with release semantics.  0, or -EINVAL when head >= size or
 * nothing is in flight (a device bug), -EIO when inactive.
 */
int virtq_push(struct virtq *q, uint16_t head, uint32_t len) __must_check;

/*
 * After pushing: does the driver want a used-buffer notification for what was
 * pushed since the last call?  With EVENT_IDX, used_event decides; without,
 * VIRTQ_AVAIL_F_NO_INTERRUPT.  False when nothing was pushed since.
 */
bool virtq_needs_notify(struct virtq *q);

/*
 * Before going idle: asks the driver to notify for the next available buffer
 * (with EVENT_IDX, writes avail_event = last_avail), then re-reads the
 * available index behind a full barrier.  True when more chains arrived in
 * the meantime, so the caller keeps popping instead of sleeping.
 */
bool virtq_notify_enable(struct virtq *q);

/*
 * An iovec over bytes [offset, offset + len) of the chain's readable or
 * writable buffers, through gmem_slice (writable: the pages are marked dirty
 * for snapshots, gmem.h) or gmem_slice_ro (readable: the device must only
 * read them).  Writes at most iov_max entries and
 * returns their number (0 when len is 0), or -EINVAL when the range is not
 * inside that part of the chain, -ENOSPC when iov_max is too small, -EFAULT
 * if guest memory refuses a slice.  The iovecs point into guest memory,
 * which the guest may change at any time: copy anything you validate.
 */
int virtq_chain_to_iovec(const struct virtq_chain *c, const struct gmem *mem, enum virtq_dir dir,
			 uint64_t offset, uint64_t len, struct iovec *iov, unsigned int iov_max) __must_check;

/* Copies len bytes at offset of the readable part into dst (a host copy).
 * 0, -EINVAL (range outside the readable part) or -EFAULT. */
int virtq_chain_read(const struct virtq_chain *c, const struct gmem *mem, uint64_t offset, void *dst,
		     size_t len) __must_check;

/* Copies len bytes from src to offset of the writable part.
 * 0, -EINVAL (range outside the writable part) or -EFAULT. */
int virtq_chain_write(const struct virtq_chain *c, const struct gmem *mem, uint64_t offset,
		      const void *src, size_t len) __must_check;

/* Snapshot.  The queue must be quiescent (device paused). */
void virtq_save(const struct virtq *q, struct virtq_state *st);

/*
 * Loads configuration and position from st (untrusted) into q, which becomes
 * inactive.  Only ready is checked here (-EINVAL, q untouched, unless 0 or
 * 1): size, addresses and positions may hold whatever a driver could have
 * written before activation, and virtq_activate() checks them all before the
 * queue is used.
 */
int virtq_restore(struct virtq *q, const struct virtq_state *st) __must_check;

#endif
