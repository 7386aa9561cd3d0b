/*
 * bench_blk: requests per second through virtio-blk queue processing, with
 * the mock driver on the virtio-mmio transport and the in-memory disk, so
 * the figure is the device path (pop, validate, parse, iovec, push, notify)
 * and not storage.  The mock driver negotiates EVENT_IDX and, like Linux,
 * asks for an interrupt at the next used entry after each batch.
 * Usage: bench_blk [seconds per case, default 1].
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 1.0;
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
