/*
 * A mock virtio-rng driver over the mock virtio driver: an rng device on a
 * virtio-mmio transport in fake guest memory, negotiated like Linux does it,
 * with the test doubles the device needs: a deterministic source that can be
 * told to fail, a fake clock for the limiter and a fake event loop that
 * records what the device watches.  Shared by the rng tests, the benchmark
 * and the fuzz target; not an API.
 */
#ifndef KILN_RNG_MOCK_H
#define KILN_RNG_MOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/rng/rng.h"
#include "devices/virtio/virtio_mmio.h"
#include "devices/virtio/virtio_mock.h"

#define RNG_MOCK_RAM_SIZE (4ULL << 20)
#define RNG_MOCK_DATA_SIZE (2ULL << 20) /* scratch area for request buffers */

/* Deterministic source: byte i of the stream is (seed + i * 7) & 0xff; after
 * fail_after more bytes (if armed) every fill fails with fail_errno. */
struct rng_mock_source {
	uint64_t produced;
	uint8_t seed;
	bool fail_armed;
	uint64_t fail_after;
	int fail_errno;
	uint64_t calls;
};

struct rng_mock {
	struct vmock m;
	struct rng_dev dev;
	struct vmmio t;
	struct rng_mock_source src;
	struct rng_source source;
	struct vmock_loop loop;
	unsigned int irq_raises;
	uint64_t data;      /* gpa of RNG_MOCK_DATA_SIZE bytes */
};

/* The fake clock (ns) every rng mock's limiter reads; tests move it.  The
 * limiter's clock hook takes no argument, so this one value is global;
 * rng_mock_init resets it to RNG_MOCK_T0. */
#define RNG_MOCK_T0 1000000000ULL
extern uint64_t rng_mock_now;
uint64_t rng_mock_clock(void);

/* Device over the mock source (opts->source ignored) with opts' limiter,
 * on the fake clock, transport, negotiation of features.  0 or the first
 * error (-EPROTO when the device refused negotiation). */
int rng_mock_init(struct rng_mock *rm, const struct rng_opts *opts, uint64_t features);
void rng_mock_destroy(struct rng_mock *rm);

/* The byte the mock source produced at stream position i. */
uint8_t rng_mock_stream_byte(const struct rng_mock *rm, uint64_t i);

/* Publishes one request: n writable buffers splitting len bytes at gpa
 * (n = 0: one readable 16-byte buffer only, a chain with no writable
 * byte); returns its head.  Does not notify. */
uint16_t rng_mock_queue(struct rng_mock *rm, uint64_t gpa, uint32_t len, unsigned int n, bool indirect);

/* The next completion: 0 with head and used length, or -EAGAIN. */
int rng_mock_complete(struct rng_mock *rm, uint16_t *head, uint32_t *used);

/* One request of len bytes in one buffer at the data area through
 * QueueNotify; copies what came back to buf (len bytes).  Returns the used
 * length, or -1 when nothing completed. */
int rng_mock_do(struct rng_mock *rm, void *buf, uint32_t len);

/* The limiter's timerfd fired, as the VMM loop would report it. */
void rng_mock_timer_fire(struct rng_mock *rm);

#endif
