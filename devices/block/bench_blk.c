/*
 * bench_blk: requests per second through virtio-blk queue processing, with
 * the mock driver on the virtio-mmio transport and the in-memory disk, so
 * the figure is the device path (pop, validate, parse, iovec, push, notify)
 * and not storage.  The mock driver negotiates EVENT_IDX and, like Linux,
 * asks for an interrupt at the next used entry after each batch.
 *
 * With --engine, the same device over a real file instead, through the Sync
 * engine (preadv on the thread that processes the queue) or the Async engine
 * (io_uring; completions through the eventfd and the fake event loop):
 * 4 KiB random reads (32 per notify) and sequential 64 KiB reads (16 per
 * notify), in IOPS and MB/s.  The file is read through the page cache, so
 * this is the engines' overhead more than the disk's speed; --file names an
 * existing image (else a 64 MiB temporary file is written first).
 *
 * Usage: bench_blk [seconds per case, default 1]
 *        bench_blk --engine sync|async|both [--file PATH] [--seconds S]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "devices/block/blk_mock.h"

#define DISK (64ULL << 20)

struct bench_case {
	const char *name;
	uint32_t type;
	uint32_t len;
	unsigned int batch;
	struct blk_mock_layout layout;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int run_case(const struct bench_case *bc, double seconds)
{
	struct blk_mem disk;
	struct blk_mock bm;
	uint64_t done = 0, sectors = DISK / 512, spread = bc->len / 512 ? bc->len / 512 : 1;
	double start, elapsed;
	uint16_t head;
	uint32_t used;
	uint8_t status;

	if (blk_mem_init(&disk, DISK, false, BLK_CACHE_WRITEBACK) ||
	    blk_mock_init(&bm, &disk.be, NULL, ~0ULL)) {
		fprintf(stderr, "bench_blk: setup failed\n");
		return 1;
	}
	memset(disk.data, 0xa5, DISK); /* fault the disk in before timing */
	start = now();
	do {
		for (unsigned int i = 0; i < bc->batch; i++) {
			uint64_t sector = ((done + i) * spread) % (sectors - spread);

			blk_mock_queue(&bm, bc->type, sector, bm.data + (uint64_t)i * bc->len, bc->len, &bc->layout);
		}
		vmock_notify(&bm.m, 0);
		for (unsigned int i = 0; i < bc->batch; i++) {
			if (blk_mock_complete(&bm, &head, &used, &status) || status != VIRTIO_BLK_S_OK) {
				fprintf(stderr, "bench_blk: %s: request failed\n", bc->name);
				return 1;
			}
		}
		/* As Linux does after reaping: interrupt me at the next entry. */
		vmock_used_event_set(&bm.m, 0, vmock_used_idx(&bm.m, 0));
		done += bc->batch;
		elapsed = now() - start;
	} while (elapsed < seconds);
	printf("%-28s %10.0f req/s %9.1f MiB/s  (%llu requests, %u per notify, %llu interrupts)\n", bc->name,
	       done / elapsed, done * (double)bc->len / elapsed / (1 << 20), (unsigned long long)done, bc->batch,
	       (unsigned long long)bm.dev.metrics.interrupts);
	blk_mock_destroy(&bm);
	blk_mem_destroy(&disk);
	return 0;
}

struct file_case {
	const char *name;
	uint32_t len;
	unsigned int batch;
	bool random;
};

/* xorshift64: reproducible offsets without global state. */
static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int run_file_case(const char *path, bool async, const struct file_case *fc, double seconds)
{
	struct blk_opts opts = { .drive_id = "bench" };
	struct blk_mock_loop loop;
	struct blk_uring *u = NULL;
	struct blk_backend be;
	struct blk_file f;
	struct blk_mock bm;
	uint64_t done = 0, seq = 0, rnd = 0x9e3779b97f4a7c15ull, sectors, step = fc->len / 512;
	double start, elapsed;
	uint16_t head;
	uint32_t used;
	uint8_t status;
	int ret;

	if (async) {
		ret = blk_uring_open(&u, path, true, BLK_CACHE_WRITEBACK, BLK_QUEUE_SIZE);
		if (ret) {
			fprintf(stderr, "bench_blk: Async engine: %s\n", strerror(-ret));
			return 1;
		}
		be = *blk_uring_backend(u);
		blk_mock_loop_init(&loop);
		opts.events = &loop.loop;
	} else {
		ret = blk_file_open(&f, path, true, BLK_CACHE_WRITEBACK);
		if (ret) {
			fprintf(stderr, "bench_blk: %s: %s\n", path, strerror(-ret));
			return 1;
		}
		be = f.be;
	}
	if (blk_mock_init(&bm, &be, &opts, ~0ULL)) {
		fprintf(stderr, "bench_blk: setup failed\n");
		return 1;
	}
	bm.loop = async ? &loop : NULL;
	sectors = be.size / 512;
	start = now();
	do {
		for (unsigned int i = 0; i < fc->batch; i++) {
			uint64_t sector;

			if (fc->random) {
				sector = next_rand(&rnd) % (sectors / step) * step;
			} else {
				sector = seq;
				seq = seq + step + step > sectors ? 0 : seq + step;
			}
			blk_mock_queue(&bm, VIRTIO_BLK_T_IN, sector, bm.data + (uint64_t)i * fc->len, fc->len, NULL);
		}
		vmock_notify(&bm.m, 0);
		for (unsigned int i = 0; i < fc->batch; i++) {
			if (blk_mock_complete(&bm, &head, &used, &status) || status != VIRTIO_BLK_S_OK) {
				fprintf(stderr, "bench_blk: %s: request failed\n", fc->name);
				return 1;
			}
		}
		vmock_used_event_set(&bm.m, 0, vmock_used_idx(&bm.m, 0));
		done += fc->batch;
		elapsed = now() - start;
	} while (elapsed < seconds);
	printf("%-6s %-36s %9.0f IOPS %9.1f MB/s  (%llu requests, most in flight %llu)\n", async ? "async" : "sync",
	       fc->name, done / elapsed, done * (double)fc->len / elapsed / 1e6, (unsigned long long)done,
	       (unsigned long long)bm.dev.metrics.inflight_max);
	blk_mock_destroy(&bm);
	if (async)
		blk_uring_close(u);
	else
		blk_file_close(&f);
	return 0;
}

/* A temporary image of size bytes, written (so it is in the page cache and
 * on disk, not sparse). */
static int make_image(char *path, uint64_t size)
{
	static uint8_t block[1 << 16];
	int fd = mkstemp(path);

	if (fd < 0)
		return -errno;
	for (size_t i = 0; i < sizeof(block); i++)
		block[i] = (uint8_t)(i * 7);
	for (uint64_t off = 0; off < size; off += sizeof(block)) {
		if (write(fd, block, sizeof(block)) != (ssize_t)sizeof(block)) {
			close(fd);
			unlink(path);
			return -EIO;
		}
	}
	close(fd);
	return 0;
}

static int engines_main(const char *engine, const char *file, double seconds)
{
	static const struct file_case cases[] = {
		{ "4k random read, 32 per notify", 4096, 32, true },
		{ "64k sequential read, 16 per notify", 65536, 16, false },
	};
	char tmp[] = "/tmp/kiln-bench-blk-XXXXXX";
	bool sync = !strcmp(engine, "sync") || !strcmp(engine, "both");
	bool async = !strcmp(engine, "async") || !strcmp(engine, "both");
	int ret = 0;

	if (!sync && !async) {
		fprintf(stderr, "bench_blk: --engine sync|async|both\n");
		return 2;
	}
	if (async && !blk_uring_supported()) {
		fprintf(stderr, "bench_blk: the Async engine needs liburing (not in this build)\n");
		return 1;
	}
	if (!file) {
		if (make_image(tmp, 64ULL << 20)) {
			fprintf(stderr, "bench_blk: cannot write %s\n", tmp);
			return 1;
		}
		file = tmp;
	}
	printf("virtio-blk engines on %s (mock driver, page cache, %.1f s per case)\n", file, seconds);
	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]) && !ret; i++) {
		if (sync)
			ret = run_file_case(file, false, &cases[i], seconds);
		if (async && !ret)
			ret = run_file_case(file, true, &cases[i], seconds);
	}
	if (file == tmp)
		unlink(tmp);
	return ret;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 1.0;
	const char *engine = NULL, *file = NULL;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--engine") && i + 1 < argc)
			engine = argv[++i];
		else if (!strcmp(argv[i], "--file") && i + 1 < argc)
			file = argv[++i];
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = atof(argv[++i]);
		else if (argv[i][0] == '-') {
			fprintf(stderr, "usage: bench_blk [seconds] | --engine sync|async|both [--file PATH] [--seconds S]\n");
			return 2;
		}
	}
	if (engine || file) {
		if (seconds <= 0)
			seconds = 1.0;
		return engines_main(engine ? engine : "both", file, seconds);
	}
	static const struct bench_case cases[] = {
		{ "read 4k, 1 per notify", VIRTIO_BLK_T_IN, 4096, 1, { .data_segs = 1 } },
		{ "read 4k, 32 per notify", VIRTIO_BLK_T_IN, 4096, 32, { .data_segs = 1 } },
		{ "write 4k, 32 per notify", VIRTIO_BLK_T_OUT, 4096, 32, { .data_segs = 1 } },
		{ "read 64k indirect x16", VIRTIO_BLK_T_IN, 65536, 16, { .data_segs = 16, .indirect = true } },
		{ "read 512, 64 per notify", VIRTIO_BLK_T_IN, 512, 64, { .data_segs = 1 } },
		{ "flush, 64 per notify", VIRTIO_BLK_T_FLUSH, 0, 64, { .data_segs = 0 } },
	};

	if (seconds <= 0)
		seconds = 1.0;
	printf("virtio-blk queue processing (mock driver, in-memory disk, %.1f s per case)\n", seconds);
	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (run_case(&cases[i], seconds))
			return 1;
	return 0;
}
