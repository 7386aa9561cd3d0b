/*
 * Block backends: where a virtio-blk device's bytes live.  A backend moves
 * bytes between guest iovecs and byte offsets of a disk image; the device has
 * already checked every range against the disk size, the read-only flag and
 * the chain, so a backend only reports what its storage did.
 *
 * Synchronous engines implement read/write/flush (the call returns when the
 * I/O is done): the "Sync" file engine (preadv/pwritev, fdatasync on flush
 * with the Writeback cache type) and an in-memory disk for tests, benchmarks
 * and fuzz targets.  Asynchronous engines implement submit/commit/reap/drain
 * instead: the "Async" engine (io_uring, blk_backend_uring.c) and a
 * controllable in-memory one for tests (blk_async_mem, blk_mock.h).
 */
#ifndef KILN_BLK_BACKEND_H
#define KILN_BLK_BACKEND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vmm/compiler.h"

/* Firecracker's drive cache_type. */
enum blk_cache_type {
	BLK_CACHE_UNSAFE,    /* flush is a no-op; VIRTIO_BLK_F_FLUSH not offered */
	BLK_CACHE_WRITEBACK, /* the guest flushes; flush reaches the storage */
};

/* What an asynchronous engine is asked to do. */
enum blk_io_op { BLK_IO_READ, BLK_IO_WRITE, BLK_IO_FLUSH };

struct blk_backend_ops {
	/* Fills the iovecs (iovcnt >= 1) with the bytes at offset.  0, or
	 * -errno (a short transfer is -EIO).  Required. */
	int (*read)(void *opaque, uint64_t offset, const struct iovec *iov, int iovcnt);
	/* Stores the iovecs' bytes at offset.  0 or -errno.  Required unless
	 * the backend is read-only. */
	int (*write)(void *opaque, uint64_t offset, const struct iovec *iov, int iovcnt);
	/* Makes completed writes durable.  0 or -errno.  Optional. */
	int (*flush)(void *opaque);

	/*
	 * Asynchronous engines: all four, and read/write/flush NULL.  Everything
	 * runs on the device's thread, under its lock.
	 *
	 * submit queues one operation tagged with the device's cookie: the
	 * iovecs are copied, the memory they point at must stay valid until the
	 * operation is reaped or drained.  FLUSH ignores offset and iov and is a
	 * no-op completion unless the cache type is Writeback.  0; -EBUSY when
	 * max_inflight operations are already in flight (retry after a reap);
	 * -errno otherwise (nothing queued).  Nothing starts before commit.
	 */
	int (*submit)(void *opaque, enum blk_io_op op, uint64_t offset, const struct iovec *iov, int iovcnt,
		      uint32_t tag);
	/* Starts every queued operation.  0 or -errno. */
	int (*commit)(void *opaque);
	/* The next finished operation: 1 with its tag and result (0, or -errno;
	 * a transfer cut short by the end of the file is -EIO, as in the Sync
	 * engine), 0 when none.  With wait, blocks while operations are in
	 * flight but none has finished; 0 only once nothing is in flight. */
	int (*reap)(void *opaque, bool wait, uint32_t *tag, int *result);
	/* Cancels what it can and waits for everything in flight, dropping the
	 * results: once it returns the engine touches no memory of earlier
	 * submits.  For a device reset. */
	void (*drain)(void *opaque);
};

/* A backend as a device sees it; copied by the device at init. */
struct blk_backend {
	const struct blk_backend_ops *ops;
	void *opaque;
	uint64_t size; /* bytes; the guest sees size / 512 sectors */
	bool read_only;
	enum blk_cache_type cache;
	/* Asynchronous engines only (ops->submit set): an eventfd that becomes
	 * readable when reap has something; the device reads it (clearing it)
	 * before reaping.  And how many operations it takes at once (>= 1). */
	int event_fd;
	uint32_t max_inflight;
};

static inline bool blk_backend_is_async(const struct blk_backend *be)
{
	return be->ops && be->ops->submit;
}

/* Largest iovcnt a device passes (one chain's buffers). */
#define BLK_BACKEND_IOV_MAX 256

/* The Sync engine over a regular file or block device. */
struct blk_file {
	int fd;
	struct blk_backend be;
};

/* Opens path (O_RDONLY when read_only, else O_RDWR; O_CLOEXEC; never blocks
 * in open) and fills f->be, whose opaque is f (so f must not move while in
 * use).  0, or -errno from open/fstat/lseek, -EINVAL for anything but a
 * regular file or block device, or an empty image. */
int blk_file_open(struct blk_file *f, const char *path, bool read_only, enum blk_cache_type cache)
	__must_check;
void blk_file_close(struct blk_file *f);

/*
 * The "Async" engine: io_uring (liburing) over a regular file or block
 * device, opened as blk_file_open does.  Completions are signalled through an
 * eventfd registered with the ring (be.event_fd); FLUSH is IORING_OP_FSYNC
 * (datasync) with the Writeback cache type.  Short transfers are resubmitted
 * for the rest; a transfer of 0 bytes (end of file) is -EIO.  depth: the
 * most operations in flight (the device's queue size), 1 .. 4096.
 * Built only with liburing: blk_uring_supported() says so, and without it
 * blk_uring_open() is -EOPNOTSUPP.
 */
struct blk_uring;

bool blk_uring_supported(void);
/* 0 with *out (heap), or -errno (as blk_file_open; -EINVAL for a bad depth;
 * io_uring setup errors such as -ENOSYS or -EPERM; -EOPNOTSUPP without
 * liburing). */
int blk_uring_open(struct blk_uring **out, const char *path, bool read_only, enum blk_cache_type cache,
		   uint32_t depth) __must_check;
/* Its backend (opaque: u); valid until close. */
const struct blk_backend *blk_uring_backend(const struct blk_uring *u);
/* Drains what is in flight, then frees. */
void blk_uring_close(struct blk_uring *u);

/* An in-memory disk (zeroed), with counters and fault injection. */
struct blk_mem {
	uint8_t *data;
	uint64_t size;
	unsigned int reads, writes, flushes;
	int fail;        /* non-zero: every operation returns this (-errno) */
	struct blk_backend be;
};

/* f->be.opaque is m (m must not move).  0, -EINVAL (size 0) or -ENOMEM. */
int blk_mem_init(struct blk_mem *m, uint64_t size, bool read_only, enum blk_cache_type cache) __must_check;
void blk_mem_destroy(struct blk_mem *m);

#endif
