/* In-memory block backend for tests, benchmarks and fuzz targets.  See
 * blk_backend.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/block/blk_backend.h"

/* The device promises ranges inside the disk; check anyway, it is a test
 * double and a wrong range is the bug it exists to catch. */
static int mem_range(struct blk_mem *m, uint64_t offset, const struct iovec *iov, int iovcnt)
{
	uint64_t len = 0;

	if (iovcnt < 1 || iovcnt > BLK_BACKEND_IOV_MAX)
		return -EINVAL;
	for (int i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;
	return offset <= m->size && len <= m->size - offset ? 0 : -EINVAL;
}

static int mem_read(void *opaque, uint64_t offset, const struct iovec *iov, int iovcnt)
{
	struct blk_mem *m = opaque;
	int ret = m->fail ? m->fail : mem_range(m, offset, iov, iovcnt);

	if (ret)
		return ret;
	m->reads++;
	for (int i = 0; i < iovcnt; i++) {
		memcpy(iov[i].iov_base, m->data + offset, iov[i].iov_len);
		offset += iov[i].iov_len;
	}
	return 0;
}

static int mem_write(void *opaque, uint64_t offset, const struct iovec *iov, int iovcnt)
{
	struct blk_mem *m = opaque;
	int ret = m->fail ? m->fail : mem_range(m, offset, iov, iovcnt);

	if (ret)
		return ret;
	if (m->be.read_only)
		return -EROFS;
	m->writes++;
	for (int i = 0; i < iovcnt; i++) {
		memcpy(m->data + offset, iov[i].iov_base, iov[i].iov_len);
		offset += iov[i].iov_len;
	}
	return 0;
}

static int mem_flush(void *opaque)
{
	struct blk_mem *m = opaque;

	if (m->fail)
		return m->fail;
	m->flushes++;
	return 0;
}

static const struct blk_backend_ops mem_ops = {
	.read = mem_read,
	.write = mem_write,
	.flush = mem_flush,
};

int blk_mem_init(struct blk_mem *m, uint64_t size, bool read_only, enum blk_cache_type cache)
{
	memset(m, 0, sizeof(*m));
	if (!size)
		return -EINVAL;
	m->data = calloc(1, size);
	if (!m->data)
		return -ENOMEM;
	m->size = size;
	m->be = (struct blk_backend){
		.ops = &mem_ops, .opaque = m, .size = size, .read_only = read_only, .cache = cache,
		.event_fd = -1,
	};
	return 0;
}

void blk_mem_destroy(struct blk_mem *m)
{
	free(m->data);
	m->data = NULL;
}
