/* virtio-blk with a rate limiter, on a fake clock: ops and bandwidth limits
 * hold, throttled chains wait on the device (not lost, order kept) and go
 * when the limiter's timer event comes, guest kicks do not bypass the
 * limiter, PATCH (update) releases a throttled chain, and quiesce gives it
 * back to the ring. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>

#include "devices/block/blk_mock.h"

#define DISK (1ULL << 20)
#define MS 1000000ull
#define SEC 1000000000ull

static uint64_t fake_now;

static uint64_t fake_clock(void)
{
	return fake_now;
}

static struct blk_mem disk;
static struct blk_mock bm;
static struct blk_mock_loop loop;

static void start(const struct ratelimit_config *rl)
{
	struct blk_opts o = { .drive_id = "rl", .rate_limiter = rl, .rl_now_ns = fake_clock,
			      .events = &loop.loop };

	fake_now = 100 * SEC;
	blk_mock_loop_init(&loop);
	cr_assert_eq(blk_mem_init(&disk, DISK, false, BLK_CACHE_WRITEBACK), 0);
	for (uint64_t i = 0; i < DISK; i++)
		disk.data[i] = (uint8_t)(i * 7 + i / 512);
	cr_assert_eq(blk_mock_init(&bm, &disk.be, &o, ~0ULL), 0);
}

static void teardown(void)
{
	blk_mock_destroy(&bm);
	blk_mem_destroy(&disk);
	cr_assert_eq(loop.nr, 0, "every watch removed");
}

TestSuite(blk_rl, .fini = teardown);

/* Queues n reads of len bytes (sector i * 8), each in its own data area. */
static void queue_reads(unsigned int n, uint32_t len, uint16_t *heads)
{
	for (unsigned int i = 0; i < n; i++)
		heads[i] = blk_mock_queue(&bm, VIRTIO_BLK_T_IN, 8 * i, bm.data + (uint64_t)i * len, len, NULL);
}

/* Collects completions in order, checking their heads follow heads[*next]. */
static unsigned int collect(const uint16_t *heads, unsigned int *next)
{
	uint16_t h;
	uint32_t used;
	uint8_t st;
	unsigned int got = 0;

	while (blk_mock_complete(&bm, &h, &used, &st) == 0) {
		cr_assert_eq(st, VIRTIO_BLK_S_OK);
		cr_assert_eq(h, heads[*next], "completion %u out of order", *next);
		(*next)++;
		got++;
	}
	return got;
}

static void timer_fires(void)
{
	blk_dev_event(&bm.dev, BLK_EVENT_RATELIMIT, EPOLLIN);
}

Test(blk_rl, needs_an_event_loop_and_a_valid_config)
{
	struct ratelimit_config c = { .ops = { 10, 0, 1000 } };
	struct blk_opts o = { .rate_limiter = &c };
	struct blk_dev d;

	cr_assert_eq(blk_mem_init(&disk, DISK, false, BLK_CACHE_WRITEBACK), 0);
	cr_assert_eq(blk_dev_init(&d, &disk.be, &o), -EINVAL, "a timerfd and nobody to watch it");
	c.ops.refill_time_ms = 0;
	blk_mock_loop_init(&loop);
	o.events = &loop.loop;
	cr_assert_eq(blk_dev_init(&d, &disk.be, &o), -EINVAL, "size without refill time");
	cr_assert_eq(loop.nr, 0);
	/* Unlimited needs no loop. */
	o = (struct blk_opts){ 0 };
	cr_assert_eq(blk_mock_init(&bm, &disk.be, &o, ~0ULL), 0);
	cr_assert_eq(blk_ratelimit_fd(&bm.dev), -1);
}

Test(blk_rl, ops_limit_holds_and_nothing_is_lost)
{
	struct ratelimit_config c = { .ops = { 4, 0, 1000 } }; /* 4 requests per second */
	uint16_t heads[10];
	unsigned int next = 0;

	start(&c);
	cr_assert_eq(loop.nr, 1, "the timerfd is watched");
	cr_assert_eq(loop.token[0], BLK_EVENT_RATELIMIT);
	cr_assert_eq(loop.fd[0], blk_ratelimit_fd(&bm.dev));
	queue_reads(10, 512, heads);
	vmock_notify(&bm.m, 0);
	cr_assert_eq(collect(heads, &next), 4, "the bucket's 4");
	cr_assert(bm.dev.pending, "the 5th waits on the device");
	cr_assert_eq(bm.dev.metrics.rate_limited, 1);

	/* Kicks do not bypass the limiter, even with time passed. */
	fake_now += SEC;
	vmock_notify(&bm.m, 0);
	cr_assert_eq(collect(heads, &next), 0);
	/* The timer: 1 s earned 4 more. */
	timer_fires();
	cr_assert_eq(collect(heads, &next), 4);
	fake_now += 250 * MS;
	timer_fires();
	cr_assert_eq(collect(heads, &next), 1);
	fake_now += 10 * SEC;
	timer_fires();
	cr_assert_eq(collect(heads, &next), 1, "the last one");
	cr_assert_not(bm.dev.pending);
	for (unsigned int i = 0; i < 10; i++)
		cr_assert_eq(memcmp(vmock_host(&bm.m, bm.data + 512 * i, 512), disk.data + 8 * i * 512, 512), 0);
	cr_assert_eq(bm.dev.metrics.read_count, 10);
}

/* Whatever the timing, bytes served stay within the bucket plus its refill. */
Test(blk_rl, bandwidth_is_bounded)
{
	struct ratelimit_config c = { .bandwidth = { 8192, 0, 100 } }; /* 80 KiB/s */
	uint16_t heads[64];
	unsigned int next = 0, done = 0;

	start(&c);
	queue_reads(64, 4096, heads);
	vmock_notify(&bm.m, 0);
	done += collect(heads, &next);
	cr_assert_eq(done, 2, "the bucket's 8 KiB");
	for (int step = 0; step < 100; step++) { /* 1 s in 10 ms steps */
		fake_now += 10 * MS;
		timer_fires();
		done += collect(heads, &next);
		cr_assert_leq(done * 4096ull, 8192 + 8192ull * (step + 1) / 10, "step %d: %u requests", step, done);
	}
	cr_assert_geq(done, 2 + 19, "and the rate is reached: %u", done);
}

Test(blk_rl, both_buckets_and_refund)
{
	/* Plenty of ops, bytes for one 4 KiB read: the second read's op is
	 * given back when its bytes are refused. */
	struct ratelimit_config c = { .bandwidth = { 4096, 0, 1000 }, .ops = { 100, 0, 1000 } };
	uint16_t heads[2];
	unsigned int next = 0;

	start(&c);
	queue_reads(2, 4096, heads);
	vmock_notify(&bm.m, 0);
	cr_assert_eq(collect(heads, &next), 1);
	cr_assert_eq(bm.dev.rl.ops.budget, 99, "the refused one's op was given back");
	fake_now += SEC;
	timer_fires();
	cr_assert_eq(collect(heads, &next), 1);
	cr_assert_eq(bm.dev.rl.ops.budget, 99, "refilled in the second, then one taken");
}

Test(blk_rl, oversized_request_passes_then_blocks)
{
	struct ratelimit_config c = { .bandwidth = { 4096, 0, 100 } };
	uint16_t heads[2];
	unsigned int next = 0;

	start(&c);
	queue_reads(2, 65536, heads);
	vmock_notify(&bm.m, 0);
	cr_assert_eq(collect(heads, &next), 1, "64 KiB through a 4 KiB bucket: allowed once");
	cr_assert_eq(bm.dev.rl.bw.debt, 65536 - 4096);
	/* The debt takes 1.5 s to repay, then 64 KiB is over-sized again. */
	fake_now += 1400 * MS;
	timer_fires();
	cr_assert_eq(collect(heads, &next), 0);
	fake_now += 100 * MS;
	timer_fires();
	cr_assert_eq(collect(heads, &next), 1);
}

Test(blk_rl, every_chain_costs_an_op)
{
	struct ratelimit_config c = { .ops = { 2, 0, 1000 } };
	static uint8_t buf[512];
	uint16_t h;
	uint32_t used;
	uint8_t st;

	start(&c);
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL), VIRTIO_BLK_S_OK);
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_IN, 0, buf, 100, NULL), VIRTIO_BLK_S_IOERR,
		     "a malformed request costs its op too");
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_GET_ID, 0, buf, 20, NULL), -1, "throttled");
	fake_now += SEC;
	timer_fires();
	cr_assert_eq(blk_mock_complete(&bm, &h, &used, &st), 0);
	cr_assert_eq(st, VIRTIO_BLK_S_OK);
}

Test(blk_rl, update_releases_the_throttled_chain)
{
	struct ratelimit_config c = { .ops = { 1, 0, 100000 } }, faster = { .ops = { 100, 0, 1000 } };
	uint16_t heads[5];
	unsigned int next = 0;

	start(&c);
	queue_reads(5, 512, heads);
	vmock_notify(&bm.m, 0);
	cr_assert_eq(collect(heads, &next), 1);
	struct ratelimit_config bad = { .ops = { 1, 0, 0 } };
	cr_assert_eq(blk_dev_update_ratelimit(&bm.dev, &bad), -EINVAL);
	cr_assert_eq(collect(heads, &next), 0, "a refused update changes nothing");
	cr_assert_eq(blk_dev_update_ratelimit(&bm.dev, &faster), 0);
	cr_assert_eq(collect(heads, &next), 4, "processed at once, in order");
	cr_assert_eq(blk_dev_update_ratelimit(&bm.dev, NULL), 0);
	cr_assert_eq(loop.nr, 1, "the timerfd stays watched");
}

Test(blk_rl, update_from_unlimited_watches_the_new_timer)
{
	struct ratelimit_config c = { .ops = { 1, 0, 1000 } };
	uint16_t heads[2];
	unsigned int next = 0;

	start(NULL);
	cr_assert_eq(loop.nr, 0);
	cr_assert_eq(blk_dev_update_ratelimit(&bm.dev, &c), 0);
	cr_assert_eq(loop.nr, 1);
	cr_assert_eq(loop.fd[0], blk_ratelimit_fd(&bm.dev));
	queue_reads(2, 512, heads);
	vmock_notify(&bm.m, 0);
	cr_assert_eq(collect(heads, &next), 1);
	/* The real timerfd fires within its 100 ms clamp (the fake clock only
	 * says whether tokens are there). */
	fake_now += SEC;
	cr_assert_eq(blk_mock_loop_run(&loop, &bm.dev, 2000), 1);
	cr_assert_eq(collect(heads, &next), 1);
}

Test(blk_rl, reset_forgets_the_throttled_chain)
{
	struct ratelimit_config c = { .ops = { 1, 0, 1000 } };
	uint16_t heads[3];
	unsigned int next = 0;

	start(&c);
	queue_reads(3, 512, heads);
	vmock_notify(&bm.m, 0);
	cr_assert_eq(collect(heads, &next), 1);
	cr_assert(bm.dev.pending);
	cr_assert_eq(vmock_negotiate(&bm.m, ~0ULL, 1, 0), 0, "the driver resets and starts over");
	cr_assert_not(bm.dev.pending);
	fake_now += 10 * SEC;
	timer_fires();
	static uint8_t buf[512];

	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_IN, 0, buf, 512, NULL), VIRTIO_BLK_S_OK);
}

Test(blk_rl, quiesce_puts_the_throttled_chain_back)
{
	struct ratelimit_config c = { .ops = { 2, 0, 1000 } };
	uint16_t heads[4];
	unsigned int next = 0;

	start(&c);
	queue_reads(4, 512, heads);
	vmock_notify(&bm.m, 0);
	cr_assert_eq(collect(heads, &next), 2);
	cr_assert_eq(bm.m.q[0].size ? bm.dev.q->last_avail : 0, 3, "the third was popped");
	blk_dev_quiesce(&bm.dev);
	cr_assert_not(bm.dev.pending);
	cr_assert_eq(bm.dev.q->last_avail, 2, "and given back");
	fake_now += SEC;
	timer_fires();
	cr_assert_eq(collect(heads, &next), 2, "popped again, in order");
}

Test(blk_rl, update_needs_a_loop_for_a_new_timer)
{
	struct ratelimit_config c = { .ops = { 1, 0, 1000 } };
	struct blk_mock plain;

	start(NULL);
	cr_assert_eq(blk_mock_init(&plain, &disk.be, NULL, ~0ULL), 0);
	cr_assert_eq(blk_dev_update_ratelimit(&plain.dev, &c), -EINVAL);
	cr_assert_eq(blk_ratelimit_fd(&plain.dev), -1, "nothing changed");
	cr_assert_eq(blk_dev_update_ratelimit(&plain.dev, NULL), 0, "unlimited needs no loop");
	blk_mock_destroy(&plain);
}
