/*
 * bench_balloon: pages per second inflated through virtio-balloon queue
 * processing, each page really given back to the host (MADV_DONTNEED on
 * mmap'd memory the benchmark touched first), with the mock driver on the
 * virtio-mmio transport.  Linux sends up to 256 PFNs per inflate buffer;
 * the cases vary how contiguous they are (the device merges neighbours into
 * one madvise).  Usage: bench_balloon [seconds per case, default 1].
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "devices/balloon/balloon_mock.h"

#define PAGES 16384 /* 64 MiB */
#define PER_CHAIN 256

struct bench_case {
	const char *name;
	unsigned int stride; /* 1: consecutive PFNs; 2: every other page */
	unsigned int batch;  /* chains sent (each with its notify) before reaping */
	bool touch;          /* fault the pages back in before each round */
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int run_case(const struct bench_case *bc, double seconds)
{
	static uint32_t pfns[PER_CHAIN];
	struct balloon_mock bm;
	uint64_t pages = 0, chains = 0;
	double start, elapsed, touching = 0;
	unsigned int per_round = PAGES / bc->stride / PER_CHAIN / bc->batch * bc->batch, next = 0;
	uint16_t head;
	uint32_t len;

	if (balloon_mock_init(&bm, NULL, ~0ULL, (uint64_t)PAGES * 4096)) {
		fprintf(stderr, "bench_balloon: setup failed\n");
		return 1;
	}
	start = now();
	do {
		if (next == 0 && bc->touch) {
			double t = now();

			memset(bm.pages, 0xa5, bm.pages_size);
			touching += now() - t;
		}
		for (unsigned int c = 0; c < bc->batch; c++, next++) {
			for (unsigned int i = 0; i < PER_CHAIN; i++)
				pfns[i] = balloon_mock_pfn((next * PER_CHAIN + i) * bc->stride);
			balloon_mock_pfns(&bm, BALLOON_Q_INFLATE, pfns, PER_CHAIN);
		}
		while (balloon_mock_used(&bm, BALLOON_Q_INFLATE, &head, &len) == 0)
			chains++;
		if (next >= per_round)
			next = 0;
		elapsed = now() - start;
	} while (elapsed < seconds);
	pages = bm.dev.metrics.inflated_pages;
	if (chains != bm.dev.metrics.inflate_count || pages != chains * PER_CHAIN) {
		fprintf(stderr, "bench_balloon: %s: %llu of %llu pages discarded\n", bc->name,
			(unsigned long long)pages, (unsigned long long)chains * PER_CHAIN);
		return 1;
	}
	elapsed -= touching;
	printf("%-36s %11.0f pages/s %8.1f GiB/s  (%llu chains of %u PFNs)\n", bc->name, pages / elapsed,
	       pages * 4096.0 / elapsed / (1 << 30), (unsigned long long)chains, PER_CHAIN);
	balloon_mock_destroy(&bm);
	return 0;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 1.0;
	static const struct bench_case cases[] = {
		{ "contiguous, resident pages", 1, 1, true },
		{ "every other page, resident pages", 2, 1, true },
		{ "contiguous, already discarded", 1, 8, false },
		{ "every other page, already discarded", 2, 8, false },
	};

	if (seconds <= 0)
		seconds = 1.0;
	printf("virtio-balloon inflate (mock driver, 64 MiB of mmap'd guest RAM, %.1f s per case)\n", seconds);
	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (run_case(&cases[i], seconds))
			return 1;
	return 0;
}
