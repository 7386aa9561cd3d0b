/*
 * bench_rng: random bytes per second through virtio-rng queue processing,
 * with the mock driver on the virtio-mmio transport and the real getrandom
 * source (the figure includes the host CSPRNG), for a few request sizes and
 * batches.  Usage: bench_rng [seconds per case, default 1].
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "devices/rng/rng_mock.h"

struct bench_case {
	const char *name;
	uint32_t len;
	unsigned int segs;
	unsigned int batch;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int run_case(const struct bench_case *bc, double seconds)
{
	struct rng_mock rm;
	uint64_t done = 0, bytes = 0;
	double start, elapsed;
	uint16_t head;
	uint32_t used;

	if (rng_mock_init(&rm, NULL, ~0ULL)) {
		fprintf(stderr, "bench_rng: setup failed\n");
		return 1;
	}
	rm.dev.source = rng_source_getrandom; /* the real source, not the mock's */
	start = now();
	do {
		for (unsigned int i = 0; i < bc->batch; i++)
			rng_mock_queue(&rm, rm.data + (uint64_t)i * bc->len, bc->len, bc->segs, false);
		vmock_notify(&rm.m, 0);
		for (unsigned int i = 0; i < bc->batch; i++) {
			if (rng_mock_complete(&rm, &head, &used) || used != bc->len) {
				fprintf(stderr, "bench_rng: %s: request failed\n", bc->name);
				return 1;
			}
			bytes += used;
		}
		done += bc->batch;
		elapsed = now() - start;
	} while (elapsed < seconds);
	printf("%-28s %10.0f req/s %9.1f MiB/s  (%llu requests)\n", bc->name, done / elapsed,
	       bytes / elapsed / (1 << 20), (unsigned long long)done);
	rng_mock_destroy(&rm);
	return 0;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 1.0;
	static const struct bench_case cases[] = {
		{ "64 B (Linux hwrng), 1/notify", 64, 1, 1 },
		{ "64 B, 32 per notify", 64, 1, 32 },
		{ "4 KiB, 16 per notify", 4096, 1, 16 },
		{ "64 KiB in 16 buffers, x16", 65536, 16, 16 },
	};

	if (seconds <= 0)
		seconds = 1.0;
	printf("virtio-rng queue processing (mock driver, getrandom source, %.1f s per case)\n", seconds);
	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (run_case(&cases[i], seconds))
			return 1;
	return 0;
}
