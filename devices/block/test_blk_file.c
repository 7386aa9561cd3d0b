/* The Sync file engine on temporary files: opening, sizes, scattered reads
 * and writes, flush, read-only, and the whole device on top of it. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/block/blk_mock.h"

static char path[64];
static struct blk_file f;

static void make_image(size_t size)
{
	uint8_t block[4096];
	int fd;

	strcpy(path, "/tmp/kiln-blk-test-XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	for (size_t off = 0; off < size; off += sizeof(block)) {
		size_t n = size - off < sizeof(block) ? size - off : sizeof(block);

		for (size_t i = 0; i < n; i++)
			block[i] = (uint8_t)((off + i) * 7 + (off + i) / 4096);
		cr_assert_eq(write(fd, block, n), (ssize_t)n);
	}
	close(fd);
}

static void setup(void)
{
	make_image(1 << 20);
}

static void teardown(void)
{
	blk_file_close(&f);
	unlink(path);
}

TestSuite(blk_file, .init = setup, .fini = teardown);

static uint8_t expected(uint64_t off)
{
	return (uint8_t)(off * 7 + off / 4096);
}

Test(blk_file, open_reports_size_and_mode)
{
	cr_assert_eq(blk_file_open(&f, path, false, BLK_CACHE_WRITEBACK), 0);
	cr_assert_eq(f.be.size, 1 << 20);
	cr_assert_not(f.be.read_only);
	cr_assert_eq(f.be.cache, BLK_CACHE_WRITEBACK);
	cr_assert_eq(fcntl(f.fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
}

Test(blk_file, open_errors)
{
	struct blk_file g;
	char empty[64] = "/tmp/kiln-blk-empty-XXXXXX";
	int fd = mkstemp(empty);

	cr_assert_eq(blk_file_open(&g, "/nonexistent/kiln.img", false, BLK_CACHE_UNSAFE), -ENOENT);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(blk_file_open(&g, empty, false, BLK_CACHE_UNSAFE), -EINVAL, "empty image");
	unlink(empty);
	f.fd = -1;
}

/* Only regular files and block devices; a FIFO must not block the opener. */
Test(blk_file, open_refuses_other_file_types)
{
	struct blk_file g;
	char fifo[64] = "/tmp/kiln-blk-fifo-XXXXXX";
	int fd = mkstemp(fifo);

	cr_assert_geq(fd, 0);
	close(fd);
	unlink(fifo);
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	cr_assert_eq(blk_file_open(&g, fifo, true, BLK_CACHE_UNSAFE), -EINVAL, "FIFO, read-only");
	unlink(fifo);
	cr_assert_eq(blk_file_open(&g, "/tmp", true, BLK_CACHE_UNSAFE), -EINVAL, "directory");
	cr_assert_eq(blk_file_open(&g, "/tmp", false, BLK_CACHE_UNSAFE), -EISDIR, "directory, writable");
	cr_assert_eq(blk_file_open(&g, "/dev/null", true, BLK_CACHE_UNSAFE), -EINVAL, "character device");
	cr_assert_eq(blk_file_open(&f, path, true, BLK_CACHE_UNSAFE), 0);
	cr_assert_eq(fcntl(f.fd, F_GETFL) & O_NONBLOCK, 0, "O_NONBLOCK dropped");
}

Test(blk_file, scattered_read_and_write)
{
	uint8_t a[100], b[412], c[512];
	struct iovec iov[3] = { { a, sizeof(a) }, { b, sizeof(b) }, { c, sizeof(c) } };

	cr_assert_eq(blk_file_open(&f, path, false, BLK_CACHE_UNSAFE), 0);
	cr_assert_eq(f.be.ops->read(f.be.opaque, 4096 + 512, iov, 3), 0);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(a[i], expected(4608 + i));
	for (int i = 0; i < 512; i++)
		cr_assert_eq(c[i], expected(4608 + 512 + i));
	memset(a, 1, sizeof(a));
	memset(b, 2, sizeof(b));
	memset(c, 3, sizeof(c));
	cr_assert_eq(f.be.ops->write(f.be.opaque, 0, iov, 3), 0);
	cr_assert_eq(f.be.ops->flush(f.be.opaque), 0, "Unsafe: a no-op");
	memset(c, 0, sizeof(c));
	iov[0] = (struct iovec){ c, sizeof(c) };
	cr_assert_eq(f.be.ops->read(f.be.opaque, 100 + 412, iov, 1), 0);
	cr_assert_eq(c[0], 3);
	cr_assert_eq(c[511], 3);
}

Test(blk_file, read_past_the_end_of_the_file_is_eio)
{
	uint8_t a[1024];
	struct iovec iov = { a, sizeof(a) };

	cr_assert_eq(blk_file_open(&f, path, false, BLK_CACHE_UNSAFE), 0);
	cr_assert_eq(f.be.ops->read(f.be.opaque, (1 << 20) - 512, &iov, 1), -EIO);
}

Test(blk_file, read_only_file_refuses_writes)
{
	uint8_t a[512] = { 0 };
	struct iovec iov = { a, sizeof(a) };

	cr_assert_eq(blk_file_open(&f, path, true, BLK_CACHE_UNSAFE), 0);
	cr_assert(f.be.read_only);
	cr_assert_eq(f.be.ops->write(f.be.opaque, 0, &iov, 1), -EBADF, "opened O_RDONLY");
}

Test(blk_file, device_on_a_file)
{
	struct blk_mock bm;
	struct blk_opts o = { .drive_id = "file" };
	static uint8_t buf[65536];
	uint8_t check[4096];

	cr_assert_eq(blk_file_open(&f, path, false, BLK_CACHE_WRITEBACK), 0);
	cr_assert_eq(blk_mock_init(&bm, &f.be, &o, ~0ULL), 0);
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_IN, 10, buf, 65536, NULL), VIRTIO_BLK_S_OK);
	for (int i = 0; i < 65536; i++)
		cr_assert_eq(buf[i], expected(5120 + i), "byte %d", i);
	memset(buf, 0xab, 4096);
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_OUT, 2047 - 7, buf, 4096, NULL), VIRTIO_BLK_S_OK);
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL), VIRTIO_BLK_S_OK);
	cr_assert_eq(pread(f.fd, check, 4096, (2047 - 7) * 512), 4096);
	cr_assert_eq(memcmp(check, buf, 4096), 0);
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_OUT, 2047, buf, 1024, NULL), VIRTIO_BLK_S_IOERR,
		     "past the end of the file");
	blk_mock_destroy(&bm);
}

Test(blk_file, partial_last_sector_is_invisible)
{
	struct blk_mock bm;
	static uint8_t buf[512];

	teardown();
	make_image(4096 + 100);
	cr_assert_eq(blk_file_open(&f, path, true, BLK_CACHE_UNSAFE), 0);
	cr_assert_eq(blk_mock_init(&bm, &f.be, NULL, ~0ULL), 0);
	cr_assert_eq(vmock_reg_read(&bm.m, VIRTIO_MMIO_CONFIG), 8, "capacity rounds down");
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_IN, 7, buf, 512, NULL), VIRTIO_BLK_S_OK);
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_IN, 8, buf, 512, NULL), VIRTIO_BLK_S_IOERR);
	blk_mock_destroy(&bm);
}
