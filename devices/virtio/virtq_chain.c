/* Views of a popped chain: iovecs and copies across its buffers.  See virtq.h. */
#include <errno.h>
#include <string.h>

#include "devices/virtio/virtq.h"

/* The buffers of one direction: [*first, *first + *nr) and their byte count. */
static void chain_part(const struct virtq_chain *c, enum virtq_dir dir, unsigned int *first,
		       unsigned int *nr, uint64_t *bytes)
{
	if (dir == VIRTQ_DEV_READ) {
		*first = 0;
		*nr = c->nr_readable;
		*bytes = c->readable_len;
	} else {
		*first = c->nr_readable;
		*nr = c->nr_bufs - c->nr_readable;
		*bytes = c->writable_len;
	}
}

/*
 * Calls fn on each guest-memory piece of [offset, offset + len) of one part
 * of the chain, in order.  Stops at the first error.
 */
static int chain_walk_range(const struct virtq_chain *c, enum virtq_dir dir, uint64_t offset,
			    uint64_t len, int (*fn)(void *ctx, uint64_t gpa, size_t n), void *ctx)
{
	unsigned int first, nr, i;
	uint64_t bytes;
	int ret;

	chain_part(c, dir, &first, &nr, &bytes);
	if (offset > bytes || len > bytes - offset)
		return -EINVAL;
	for (i = first; i < first + nr && len; i++) {
		const struct virtq_buf *b = &c->bufs[i];
		uint64_t n;

		if (offset >= b->len) {
			offset -= b->len;
			continue;
		}
		n = b->len - offset;
		if (n > len)
			n = len;
		ret = fn(ctx, b->addr + offset, n);
		if (ret)
			return ret;
		len -= n;
		offset = 0;
	}
	return 0;
}

struct iov_ctx {
	const struct gmem *mem;
	struct iovec *iov;
	unsigned int max;
	unsigned int nr;
	bool writable;
};

/* Device-writable pieces come from gmem_slice, which marks them dirty for
 * snapshots (the device writes them later, through the iovec); readable ones
 * are only read and mark nothing. */
static int iov_piece(void *opaque, uint64_t gpa, size_t n)
{
	struct iov_ctx *x = opaque;
	const void *ro;
	void *host;

	if (x->nr >= x->max)
		return -ENOSPC;
	if (x->writable) {
		if (gmem_slice(x->mem, gpa, n, &host))
			return -EFAULT;
	} else {
		if (gmem_slice_ro(x->mem, gpa, n, &ro))
			return -EFAULT;
		host = (void *)ro; /* struct iovec has no const; the device only reads it */
	}
	x->iov[x->nr++] = (struct iovec){ .iov_base = host, .iov_len = n };
	return 0;
}

int virtq_chain_to_iovec(const struct virtq_chain *c, const struct gmem *mem, enum virtq_dir dir,
			 uint64_t offset, uint64_t len, struct iovec *iov, unsigned int iov_max)
{
	struct iov_ctx x = { .mem = mem, .iov = iov, .max = iov_max, .writable = dir == VIRTQ_DEV_WRITE };
	int ret = chain_walk_range(c, dir, offset, len, iov_piece, &x);

	return ret ? ret : (int)x.nr;
}

struct copy_ctx {
	const struct gmem *mem;
	uint8_t *host; /* the host side, advanced as pieces are copied */
	bool to_guest;
};

static int copy_piece(void *opaque, uint64_t gpa, size_t n)
{
	struct copy_ctx *x = opaque;
	int ret = x->to_guest ? gmem_write(x->mem, gpa, x->host, n) : gmem_read(x->mem, gpa, x->host, n);

	if (ret)
		return -EFAULT;
	x->host += n;
	return 0;
}

int virtq_chain_read(const struct virtq_chain *c, const struct gmem *mem, uint64_t offset, void *dst,
		     size_t len)
{
	struct copy_ctx x = { .mem = mem, .host = dst, .to_guest = false };

	return chain_walk_range(c, VIRTQ_DEV_READ, offset, len, copy_piece, &x);
}

int virtq_chain_write(const struct virtq_chain *c, const struct gmem *mem, uint64_t offset,
		      const void *src, size_t len)
{
	struct copy_ctx x = { .mem = mem, .host = (uint8_t *)src, .to_guest = true };

	return chain_walk_range(c, VIRTQ_DEV_WRITE, offset, len, copy_piece, &x);
}
