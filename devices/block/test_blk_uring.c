/* The Async engine (io_uring) on a temporary file: the engine alone (reads,
 * writes, flush, short transfers at the end of the file, many in flight,
 * drain), then the device on top of it through the fake event loop. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/block/blk_mock.h"

#define IMAGE (1 << 20)

static char path[64];
static struct blk_uring *u;
static const struct blk_backend *be;

static uint8_t expected(uint64_t off)
{
	return (uint8_t)(off * 7 + off / 4096);
}

static void setup(void)
{
	static uint8_t block[4096];
	int fd;

	strcpy(path, "/tmp/kiln-uring-test-XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	for (size_t off = 0; off < IMAGE; off += sizeof(block)) {
		for (size_t i = 0; i < sizeof(block); i++)
			block[i] = expected(off + i);
		cr_assert_eq(write(fd, block, sizeof(block)), (ssize_t)sizeof(block));
	}
	close(fd);
	u = NULL;
	if (!blk_uring_supported())
		cr_skip_test("built without liburing");
}

static void teardown(void)
{
	blk_uring_close(u);
	unlink(path);
}

TestSuite(blk_uring, .init = setup, .fini = teardown);

static void open_engine(bool ro, enum blk_cache_type cache, uint32_t depth)
{
	int ret = blk_uring_open(&u, path, ro, cache, depth);

	if (ret == -ENOSYS || ret == -EPERM)
		cr_skip_test("io_uring not available here (%s)", strerror(-ret));
	cr_assert_eq(ret, 0, "blk_uring_open: %s", strerror(-ret));
	be = blk_uring_backend(u);
}

/* Reaps one completion, waiting. */
static void reap_one(uint32_t *tag, int *res)
{
	cr_assert_eq(be->ops->reap(be->opaque, true, tag, res), 1);
}

Test(blk_uring, open_checks)
{
	cr_assert_eq(blk_uring_open(&u, path, false, BLK_CACHE_UNSAFE, 0), -EINVAL);
	cr_assert_eq(blk_uring_open(&u, path, false, BLK_CACHE_UNSAFE, 5000), -EINVAL);
	cr_assert_eq(blk_uring_open(&u, "/nonexistent/kiln.img", false, BLK_CACHE_UNSAFE, 8), -ENOENT);
	cr_assert_eq(blk_uring_open(&u, "/dev/null", true, BLK_CACHE_UNSAFE, 8), -EINVAL);
	cr_assert_null(u);
	open_engine(true, BLK_CACHE_UNSAFE, 8);
	cr_assert_eq(be->size, IMAGE);
	cr_assert(be->read_only);
	cr_assert(blk_backend_is_async(be));
	cr_assert_geq(be->event_fd, 0);
	cr_assert_eq(be->max_inflight, 8);
}

Test(blk_uring, scattered_read_and_write)
{
	uint8_t a[100], b[412], c[512];
	struct iovec iov[3] = { { a, sizeof(a) }, { b, sizeof(b) }, { c, sizeof(c) } };
	uint32_t tag;
	int res;

	open_engine(false, BLK_CACHE_WRITEBACK, 8);
	cr_assert_eq(be->ops->submit(be->opaque, BLK_IO_READ, 4608, iov, 3, 77), 0);
	cr_assert_eq(be->ops->reap(be->opaque, false, &tag, &res), 0, "not committed: nothing yet");
	cr_assert_eq(be->ops->commit(be->opaque), 0);
	reap_one(&tag, &res);
	cr_assert_eq(tag, 77);
	cr_assert_eq(res, 0);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(a[i], expected(4608 + i));
	for (int i = 0; i < 512; i++)
		cr_assert_eq(c[i], expected(4608 + 512 + i));
	memset(a, 1, sizeof(a));
	memset(b, 2, sizeof(b));
	memset(c, 3, sizeof(c));
	cr_assert_eq(be->ops->submit(be->opaque, BLK_IO_WRITE, 0, iov, 3, 5), 0);
	cr_assert_eq(be->ops->submit(be->opaque, BLK_IO_FLUSH, 0, NULL, 0, 6), 0);
	cr_assert_eq(be->ops->commit(be->opaque), 0);
	uint32_t seen = 0;
	for (int i = 0; i < 2; i++) {
		reap_one(&tag, &res);
		cr_assert_eq(res, 0);
		seen |= 1u << tag;
	}
	cr_assert_eq(seen, (1u << 5) | (1u << 6));
	int fd = open(path, O_RDONLY);
	uint8_t check[1024];
	cr_assert_eq(pread(fd, check, sizeof(check), 0), (ssize_t)sizeof(check));
	close(fd);
	cr_assert_eq(check[0], 1);
	cr_assert_eq(check[100], 2);
	cr_assert_eq(check[1023], 3);
	cr_assert_eq(be->ops->reap(be->opaque, true, &tag, &res), 0, "nothing in flight: no wait");
}

Test(blk_uring, eventfd_signals_completions)
{
	uint8_t a[4096];
	struct iovec iov = { a, sizeof(a) };
	struct pollfd p;
	uint64_t n;
	uint32_t tag;
	int res;

	open_engine(true, BLK_CACHE_UNSAFE, 4);
	p = (struct pollfd){ .fd = be->event_fd, .events = POLLIN };
	cr_assert_eq(poll(&p, 1, 0), 0);
	cr_assert_eq(be->ops->submit(be->opaque, BLK_IO_READ, 8192, &iov, 1, 1), 0);
	cr_assert_eq(be->ops->commit(be->opaque), 0);
	cr_assert_eq(poll(&p, 1, 5000), 1, "the eventfd fired");
	cr_assert_eq(read(be->event_fd, &n, sizeof(n)), (ssize_t)sizeof(n));
	cr_assert_eq(be->ops->reap(be->opaque, false, &tag, &res), 1);
	cr_assert_eq(res, 0);
	cr_assert_eq(a[0], expected(8192));
}

Test(blk_uring, depth_bounds_what_is_in_flight)
{
	static uint8_t a[4][512];
	struct iovec iov[4];
	uint32_t tag, seen = 0;
	int res;

	open_engine(true, BLK_CACHE_UNSAFE, 3);
	for (int i = 0; i < 4; i++)
		iov[i] = (struct iovec){ a[i], 512 };
	for (int i = 0; i < 3; i++)
		cr_assert_eq(be->ops->submit(be->opaque, BLK_IO_READ, 512 * i, &iov[i], 1, i), 0);
	cr_assert_eq(be->ops->submit(be->opaque, BLK_IO_READ, 0, &iov[3], 1, 3), -EBUSY);
	cr_assert_eq(be->ops->commit(be->opaque), 0);
	reap_one(&tag, &res);
	seen |= 1u << tag;
	cr_assert_eq(be->ops->submit(be->opaque, BLK_IO_READ, 1536, &iov[3], 1, 3), 0, "room again");
	for (int i = 0; i < 3; i++) {
		reap_one(&tag, &res);
		cr_assert_eq(res, 0);
		seen |= 1u << tag;
	}
	cr_assert_eq(seen, 0xf);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(a[i][0], expected(512 * i), "buffer %d", i);
}

/* The file shrank under the engine: what is past its end is -EIO, also when
 * the transfer starts inside the file (short, then 0 bytes). */
Test(blk_uring, short_reads_at_the_end_of_the_file)
{
	uint8_t a[1024];
	struct iovec iov = { a, sizeof(a) };
	uint32_t tag;
	int res;

	open_engine(false, BLK_CACHE_UNSAFE, 4);
	cr_assert_eq(truncate(path, IMAGE - 512), 0);
	cr_assert_eq(be->ops->submit(be->opaque, BLK_IO_READ, IMAGE - 1024, &iov, 1, 1), 0);
	cr_assert_eq(be->ops->commit(be->opaque), 0);
	reap_one(&tag, &res);
	cr_assert_eq(res, -EIO);
	cr_assert_eq(a[0], expected(IMAGE - 1024), "the part inside the file was read");
	cr_assert_eq(be->ops->submit(be->opaque, BLK_IO_READ, IMAGE, &iov, 1, 2), 0);
	cr_assert_eq(be->ops->commit(be->opaque), 0);
	reap_one(&tag, &res);
	cr_assert_eq(res, -EIO, "entirely past the end");
	/* A read-only engine's write fails with the kernel's error. */
}

Test(blk_uring, write_to_a_read_only_file_fails)
{
	uint8_t a[512] = { 0 };
	struct iovec iov = { a, sizeof(a) };
	uint32_t tag;
	int res;

	open_engine(true, BLK_CACHE_UNSAFE, 4);
	cr_assert_eq(be->ops->submit(be->opaque, BLK_IO_WRITE, 0, &iov, 1, 9), 0);
	cr_assert_eq(be->ops->commit(be->opaque), 0);
	reap_one(&tag, &res);
	cr_assert_eq(res, -EBADF);
}

Test(blk_uring, drain_waits_and_drops)
{
	static uint8_t a[64][4096];
	uint32_t tag;
	int res;

	open_engine(true, BLK_CACHE_UNSAFE, 64);
	for (int i = 0; i < 64; i++) {
		struct iovec iov = { a[i], 4096 };

		cr_assert_eq(be->ops->submit(be->opaque, BLK_IO_READ, 4096ull * i, &iov, 1, i), 0);
	}
	cr_assert_eq(be->ops->commit(be->opaque), 0);
	be->ops->drain(be->opaque);
	cr_assert_eq(be->ops->reap(be->opaque, false, &tag, &res), 0, "dropped");
	cr_assert_eq(be->ops->reap(be->opaque, true, &tag, &res), 0, "nothing left to wait for");
	/* And the engine still works. */
	struct iovec iov = { a[0], 4096 };
	cr_assert_eq(be->ops->submit(be->opaque, BLK_IO_READ, 0, &iov, 1, 1), 0);
	cr_assert_eq(be->ops->commit(be->opaque), 0);
	reap_one(&tag, &res);
	cr_assert_eq(tag, 1);
	cr_assert_eq(res, 0);
}

/* The device on the Async engine. */
static struct blk_mock bm;
static struct blk_mock_loop loop;

static void device(bool ro, enum blk_cache_type cache)
{
	struct blk_opts o = { .drive_id = "uring", .events = &loop.loop };

	open_engine(ro, cache, BLK_QUEUE_SIZE);
	blk_mock_loop_init(&loop);
	cr_assert_eq(blk_mock_init(&bm, be, &o, ~0ULL), 0);
	bm.loop = &loop;
}

static void device_done(void)
{
	blk_mock_destroy(&bm);
	cr_assert_eq(loop.nr, 0);
}

Test(blk_uring, device_reads_writes_and_flushes)
{
	static uint8_t buf[65536];
	uint8_t check[4096];
	uint32_t used;
	int fd;

	device(false, BLK_CACHE_WRITEBACK);
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_IN, 10, buf, 65536, &used), VIRTIO_BLK_S_OK);
	cr_assert_eq(used, 65537);
	for (int i = 0; i < 65536; i++)
		cr_assert_eq(buf[i], expected(5120 + i), "byte %d", i);
	memset(buf, 0xab, 4096);
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_OUT, 2040, buf, 4096, &used), VIRTIO_BLK_S_OK);
	cr_assert_eq(used, 1);
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL), VIRTIO_BLK_S_OK);
	fd = open(path, O_RDONLY);
	cr_assert_eq(pread(fd, check, 4096, 2040 * 512), 4096);
	close(fd);
	cr_assert_eq(memcmp(check, buf, 4096), 0);
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_OUT, 2047, buf, 1024, NULL), VIRTIO_BLK_S_IOERR,
		     "past the end of the disk");
	cr_assert_eq(bm.dev.metrics.flush_count, 1);
	device_done();
}

Test(blk_uring, device_many_in_flight)
{
	uint16_t h;
	uint32_t used;
	uint8_t st;
	unsigned int done = 0;

	device(true, BLK_CACHE_UNSAFE);
	for (int i = 0; i < 64; i++) {
		struct blk_mock_layout l = { .data_segs = 1 + i % 4, .indirect = i & 1 };

		blk_mock_queue(&bm, VIRTIO_BLK_T_IN, 31 * i, bm.data + 4096ull * i, 4096, &l);
	}
	vmock_notify(&bm.m, 0);
	cr_assert_gt(bm.dev.metrics.inflight_max, 1, "submitted together");
	while (done < 64 && blk_mock_complete(&bm, &h, &used, &st) == 0) {
		cr_assert_eq(st, VIRTIO_BLK_S_OK);
		cr_assert_eq(used, 4097);
		done++;
	}
	cr_assert_eq(done, 64);
	for (int i = 0; i < 64; i++) {
		const uint8_t *p = vmock_host(&bm.m, bm.data + 4096ull * i, 4096);

		for (int k = 0; k < 4096; k += 511)
			cr_assert_eq(p[k], expected(31 * i * 512ull + k), "request %d byte %d", i, k);
	}
	device_done();
}

Test(blk_uring, device_short_read_at_end_of_file_is_ioerr)
{
	static uint8_t buf[1024];
	uint32_t used;

	device(false, BLK_CACHE_UNSAFE);
	cr_assert_eq(truncate(path, IMAGE - 512), 0); /* the guest still sees 2048 sectors */
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_IN, 2046, buf, 1024, &used), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(used, 0, "nothing claimed");
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_IN, 2045, buf, 1024, NULL), VIRTIO_BLK_S_OK);
	device_done();
}

Test(blk_uring, device_reset_with_requests_in_flight)
{
	uint8_t poison[4096];

	device(true, BLK_CACHE_UNSAFE);
	memset(poison, 0xee, sizeof(poison));
	for (int i = 0; i < 80; i++) { /* 3 descriptors each: 240 of the 256 */
		vmock_write(&bm.m, bm.data + 4096ull * i, poison, sizeof(poison));
		blk_mock_queue(&bm, VIRTIO_BLK_T_IN, 8 * i, bm.data + 4096ull * i, 4096, NULL);
	}
	vmock_notify(&bm.m, 0);
	vmock_reg_write(&bm.m, VIRTIO_MMIO_STATUS, 0);
	cr_assert_eq(bm.dev.nr_inflight, 0);
	/* Whatever the kernel finished before the reset returned may be in the
	 * buffers; from now on nothing changes and nothing is answered. */
	uint8_t *snap = malloc(80 * 4096);
	memcpy(snap, vmock_host(&bm.m, bm.data, 80 * 4096), 80 * 4096);
	usleep(50000);
	blk_mock_loop_run(&loop, &bm.dev, 0);
	cr_assert_eq(vmock_used_idx(&bm.m, 0), 0);
	cr_assert_eq(memcmp(snap, vmock_host(&bm.m, bm.data, 80 * 4096), 80 * 4096), 0);
	free(snap);
	cr_assert_eq(vmock_negotiate(&bm.m, ~0ULL, 1, 0), 0);
	static uint8_t buf[512];
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_IN, 1, buf, 512, NULL), VIRTIO_BLK_S_OK);
	cr_assert_eq(buf[0], expected(512));
	device_done();
}
