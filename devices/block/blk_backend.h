/*
 * Block backends: where a virtio-blk device's bytes live.  A backend moves
 * bytes between guest iovecs and byte offsets of a disk image; the device has
 * already checked every range against the disk size, the read-only flag and
 * the chain, so a backend only reports what its storage did.
 *
 * Two engines here, both synchronous (the call returns when the I/O is done):
 * the "Sync" file engine (preadv/pwritev, fdatasync on flush with the
 * Writeback cache type) and an in-memory disk for tests, benchmarks and fuzz
 * targets.  An asynchronous engine (io_uring) will add a submit/complete
 * interface next to these ops rather than change them.
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

struct blk_backend_ops {
	/* Fills the iovecs (iovcnt >= 1) with the bytes at offset.  0, or
	 * -errno (a short transfer is -EIO).  Required. */
	int (*read)(void *opaque, uint64_t offset, const struct iovec *iov, int iovcnt);
	/* Stores the iovecs' bytes at offset.  0 or -errno.  Required unless
	 * the backend is read-only. */
	int (*write)(void *opaque, uint64_t offset, const struct iovec *iov, int iovcnt);
	/* Makes completed writes durable.  0 or -errno.  Optional. */
	int (*flush)(void *opaque);
};

/* A backend as a device sees it; copied by the device at init. */
struct blk_backend {
	const struct blk_backend_ops *ops;
	void *opaque;
	uint64_t size; /* bytes; the guest sees size / 512 sectors */
	bool read_only;
	enum blk_cache_type cache;
};

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
