/*
 * rng=1: the test guest's virtio-rng (entropy) driver.  Reads buffers of a
 * few sizes and checks the used lengths and that the bytes look random (not
 * all zero, two reads differ), offers a buffer the device may not write
 * (it must come back with length 0), a batch of buffers under one
 * notification, optionally a throughput run (rngbench=<KiB>), then resets
 * the device and reads again.  Lines: README.md.
 */
#include "guest-images/testguest/hw.h"
#include "guest-images/testguest/ktg.h"
#include "guest-images/testguest/virtio_drv.h"

#define RNG_BUF 4096
#define RNG_BATCH 4

static struct {
	struct vdrv_ring ring;
	uint8_t buf[RNG_BATCH][RNG_BUF] __attribute__((aligned(64)));
} rng __attribute__((aligned(4096)));

static int all_zero(const uint8_t *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static const char *rng_setup(struct vdrv_dev *d, struct vdrv_queue *q)
{
	const char *why = vdrv_negotiate(d, "rng", VDRV_F_VERSION_1);

	if (!why)
		why = vdrv_queue_init(d, q, 0, &rng.ring);
	if (!why)
		why = vdrv_driver_ok(d);
	return why;
}

/* One buffer of n bytes (device-writable or not) into rng.buf[slot]: the used length, or -1. */
static int64_t rng_read(struct vdrv_queue *q, unsigned int slot, uint32_t n, int writable)
{
	uint32_t id, len;

	memset(rng.buf[slot], 0, RNG_BUF);
	if (vdrv_add(q, vdrv_phys(rng.buf[slot]), n, writable) < 0)
		return -1;
	vdrv_kick(q);
	if (!vdrv_wait(q, &id, &len, 1))
		return -1;
	return len;
}

static const char *rng_sizes(struct vdrv_queue *q)
{
	static const uint32_t sizes[] = { 1, 16, 64, 512, RNG_BUF };
	const char *why = 0;

	for (unsigned int i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		int64_t len = rng_read(q, 0, sizes[i], 1);
		/* One byte is zero once in 256 reads: judge only the longer ones. */
		int nonzero = len > 0 && !all_zero(rng.buf[0], (uint32_t)len);

		ktg_printf("KTG: rng read size=%u len=%ld nonzero=%d\n", sizes[i], len, nonzero);
		if (len != sizes[i])
			why = "length";
		else if (sizes[i] >= 16 && !nonzero)
			why = "zero-bytes";
	}
	return why;
}

static const char *rng_distinct(struct vdrv_queue *q)
{
	int64_t a = rng_read(q, 0, 64, 1), b = rng_read(q, 1, 64, 1);
	int distinct = a == 64 && b == 64 && memcmp(rng.buf[0], rng.buf[1], 64) != 0;

	ktg_printf("KTG: rng distinct=%d\n", distinct);
	return distinct ? 0 : "same-bytes";
}

static const char *rng_readonly(struct vdrv_queue *q)
{
	int64_t len = rng_read(q, 0, 64, 0);
	int untouched = all_zero(rng.buf[0], RNG_BUF);

	ktg_printf("KTG: rng readonly len=%ld untouched=%d\n", len, untouched);
	return (len == 0 && untouched) ? 0 : "readonly-chain";
}

/* RNG_BATCH buffers offered at once, one notification: all come back full. */
static const char *rng_batch(struct vdrv_queue *q)
{
	unsigned int got = 0, good = 0, i;
	uint32_t id, len;

	for (i = 0; i < RNG_BATCH; i++) {
		memset(rng.buf[i], 0, 256);
		if (vdrv_add(q, vdrv_phys(rng.buf[i]), 256, 1) < 0)
			return "batch-add";
	}
	vdrv_kick(q);
	while (got < RNG_BATCH && vdrv_wait(q, &id, &len, 1)) {
		got++;
		good += len == 256;
	}
	ktg_printf("KTG: rng batch %u/%u full=%u\n", got, RNG_BATCH, good);
	return (got == RNG_BATCH && good == RNG_BATCH) ? 0 : "batch";
}

/* rngbench=<KiB>: that many KiB (at most 1 GiB) through RNG_BATCH 4 KiB buffers kept in flight. */
static const char *rng_bench(struct vdrv_queue *q, const char *cmdline)
{
	uint64_t want = 0, posted = 0, got = 0, t0;
	const char *val;
	uint32_t id, len;
	size_t n, i;

	if (!cmdline_get(cmdline, "rngbench", &val, &n))
		return 0;
	for (i = 0; i < n && val[i] >= '0' && val[i] <= '9' && want <= (1u << 20); i++)
		want = want * 10 + (uint64_t)(val[i] - '0');
	if (i != n || !want || want > (1u << 20))
		return "rngbench-value";
	want *= 1024;
	ktg_printf("KTG: rng bench start bytes=%lu\n", want);
	t0 = vdrv_rdtsc();
	for (i = 0; i < RNG_BATCH && posted < want; i++, posted += RNG_BUF)
		if (vdrv_add(q, vdrv_phys(rng.buf[i]), RNG_BUF, 1) < 0)
			return "bench-add";
	vdrv_kick(q);
	while (got < posted) {
		if (!vdrv_wait(q, &id, &len, 1))
			break;
		got += len;
		if (posted < want) {
			if (vdrv_add(q, vdrv_phys(rng.buf[id % RNG_BATCH]), RNG_BUF, 1) < 0)
				return "bench-add";
			posted += RNG_BUF;
			vdrv_kick(q);
		}
	}
	ktg_printf("KTG: rng bench done bytes=%lu tsc=%lu\n", got, vdrv_rdtsc() - t0);
	return got == want ? 0 : "bench";
}

void rng_test(const char *cmdline)
{
	struct vdrv_dev d = { 0 };
	struct vdrv_queue q;
	const char *why, *fail = 0;
	int64_t len;

	if (vdrv_find(cmdline, VIRTIO_ID_RNG, "rng", &d.base))
		return;
	why = rng_setup(&d, &q);
	if (why) {
		ktg_printf("KTG: rng FAIL init %s status=0x%x\n", why, vdrv_reg(d.base, VIRTIO_MMIO_STATUS));
		return;
	}
	why = rng_sizes(&q);
	fail = fail ? fail : why;
	why = rng_distinct(&q);
	fail = fail ? fail : why;
	why = rng_readonly(&q);
	fail = fail ? fail : why;
	why = rng_batch(&q);
	fail = fail ? fail : why;
	why = rng_bench(&q, cmdline);
	fail = fail ? fail : why;

	/* Reset, then the whole init again: the device starts from scratch. */
	why = vdrv_reset(&d) ? "reset" : rng_setup(&d, &q);
	if (!why) {
		len = rng_read(&q, 0, 128, 1);
		why = (len == 128 && !all_zero(rng.buf[0], 128)) ? 0 : "read";
	}
	ktg_printf("KTG: rng reinit %s\n", why ? why : "ok");
	fail = fail ? fail : (why ? "reinit" : 0);
	vdrv_reset(&d);
	vdrv_verdict("rng", fail);
}
