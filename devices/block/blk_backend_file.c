/* The Sync block engine: preadv/pwritev on a file, fdatasync on flush with
 * the Writeback cache type.  See blk_backend.h. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/block/blk_backend.h"

/* Runs preadv/pwritev until all iovecs moved, across short transfers and
 * EINTR.  A transfer of 0 bytes (end of file) is -EIO. */
static int file_rw(int fd, bool write, uint64_t offset, const struct iovec *iov, int iovcnt)
{
	struct iovec v[BLK_BACKEND_IOV_MAX];
	int first = 0;

	if (iovcnt < 1 || iovcnt > BLK_BACKEND_IOV_MAX || offset > INT64_MAX)
		return -EINVAL;
	memcpy(v, iov, iovcnt * sizeof(*v));
	while (first < iovcnt) {
		ssize_t n = write ? pwritev(fd, v + first, iovcnt - first, (off_t)offset)
				  : preadv(fd, v + first, iovcnt - first, (off_t)offset);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		offset += n;
		while (first < iovcnt && (size_t)n >= v[first].iov_len)
			n -= v[first++].iov_len;
		if (first < iovcnt) {
			v[first].iov_base = (uint8_t *)v[first].iov_base + n;
			v[first].iov_len -= n;
		}
	}
	return 0;
}

static int file_read(void *opaque, uint64_t offset, const struct iovec *iov, int iovcnt)
{
	struct blk_file *f = opaque;

	return file_rw(f->fd, false, offset, iov, iovcnt);
}

static int file_write(void *opaque, uint64_t offset, const struct iovec *iov, int iovcnt)
{
	struct blk_file *f = opaque;

	return file_rw(f->fd, true, offset, iov, iovcnt);
}

static int file_flush(void *opaque)
{
	struct blk_file *f = opaque;

	if (f->be.cache != BLK_CACHE_WRITEBACK)
		return 0;
	return fdatasync(f->fd) ? -errno : 0;
}

static const struct blk_backend_ops file_ops = {
	.read = file_read,
	.write = file_write,
	.flush = file_flush,
};

int blk_file_open(struct blk_file *f, const char *path, bool read_only, enum blk_cache_type cache)
{
	off_t end;
	int ret;

	struct stat st;

	memset(f, 0, sizeof(*f));
	/* O_NONBLOCK so a FIFO cannot hang the caller in open(); it is refused
	 * below, and the flag is dropped for the files that stay. */
	f->fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (f->fd < 0)
		return -errno;
	if (fstat(f->fd, &st)) {
		ret = -errno;
		goto err_close;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		ret = -EINVAL;
		goto err_close;
	}
	if (fcntl(f->fd, F_SETFL, fcntl(f->fd, F_GETFL) & ~O_NONBLOCK)) {
		ret = -errno;
		goto err_close;
	}
	/* lseek gives the size of regular files and block devices alike. */
	end = lseek(f->fd, 0, SEEK_END);
	if (end < 0) {
		ret = -errno;
		goto err_close;
	}
	if (end == 0) {
		ret = -EINVAL;
		goto err_close;
	}
	f->be = (struct blk_backend){
		.ops = &file_ops, .opaque = f, .size = (uint64_t)end, .read_only = read_only, .cache = cache,
		.event_fd = -1,
	};
	return 0;
err_close:
	close(f->fd);
	f->fd = -1;
	return ret;
}

void blk_file_close(struct blk_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}
