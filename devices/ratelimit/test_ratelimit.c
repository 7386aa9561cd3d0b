/* The limiter on a fake clock: unlimited configs, refusal blocks until the
 * timer event, the timer's delay, over-sized requests, giving back between
 * buckets, PATCH (update) and snapshot restore; and once on the real clock,
 * the timerfd really firing. */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "devices/ratelimit/ratelimit.h"

#define MS 1000000ull
#define SEC 1000000000ull

/* The fake clock: file-local, reset by every test through fake_start(). */
static uint64_t fake_now;

static uint64_t fake_clock(void)
{
	return fake_now;
}

static struct ratelimit rl;

static void fake_start(void)
{
	fake_now = 5 * SEC;
	memset(&rl, 0, sizeof(rl));
	rl.timer_fd = -1;
}

static void finish(void)
{
	ratelimit_destroy(&rl);
}

TestSuite(ratelimit, .init = fake_start, .fini = finish);

static struct ratelimit_config bw_only(uint64_t size, uint64_t burst, uint64_t refill_ms)
{
	struct ratelimit_config c = { .bandwidth = { size, burst, refill_ms } };

	return c;
}

/* ns left on the limiter's timer; 0 when disarmed. */
static uint64_t timer_left(void)
{
	struct itimerspec its;

	cr_assert_eq(timerfd_gettime(rl.timer_fd, &its), 0);
	return (uint64_t)its.it_value.tv_sec * SEC + (uint64_t)its.it_value.tv_nsec;
}

Test(ratelimit, unlimited_has_no_timer_and_never_refuses)
{
	struct ratelimit_config zero = { 0 };

	cr_assert(ratelimit_config_is_unlimited(&zero));
	cr_assert(ratelimit_config_is_unlimited(NULL));
	cr_assert_eq(ratelimit_init(&rl, &zero, fake_clock), 0);
	cr_assert_eq(ratelimit_fd(&rl), -1);
	for (int i = 0; i < 1000; i++) {
		cr_assert(ratelimit_consume(&rl, UINT64_MAX, RL_BYTES));
		cr_assert(ratelimit_consume(&rl, UINT64_MAX, RL_OPS));
	}
	cr_assert_not(ratelimit_blocked(&rl));
	ratelimit_destroy(&rl);
	cr_assert_eq(ratelimit_init(&rl, NULL, NULL), 0);
	cr_assert(ratelimit_consume(&rl, 1, RL_OPS));
}

Test(ratelimit, invalid_configs_are_refused)
{
	struct ratelimit_config c = bw_only(100, 0, 0);

	cr_assert_eq(ratelimit_config_check(&c), -EINVAL);
	cr_assert_eq(ratelimit_init(&rl, &c, fake_clock), -EINVAL);
	cr_assert_eq(rl.timer_fd, -1);
	c = bw_only(100, 0, UINT64_MAX);
	cr_assert_eq(ratelimit_init(&rl, &c, fake_clock), -EINVAL);
	c = (struct ratelimit_config){ .ops = { 1, 0, UINT64_MAX / MS + 1 } };
	cr_assert_eq(ratelimit_config_check(&c), -EINVAL);
	c.ops.refill_time_ms--;
	cr_assert_eq(ratelimit_config_check(&c), 0);
	cr_assert_eq(ratelimit_config_check(NULL), 0);
}

Test(ratelimit, refusal_blocks_until_the_timer_event)
{
	struct ratelimit_config c = bw_only(1000, 0, 1000);

	cr_assert_eq(ratelimit_init(&rl, &c, fake_clock), 0);
	cr_assert_geq(ratelimit_fd(&rl), 0);
	cr_assert(ratelimit_consume(&rl, 1000, RL_BYTES));
	cr_assert_not(ratelimit_blocked(&rl));
	cr_assert_not(ratelimit_consume(&rl, 10, RL_BYTES));
	cr_assert(ratelimit_blocked(&rl));
	cr_assert_eq(rl.throttled_count, 1);
	/* 10 bytes at 1000/s: the timer waits exactly 10 ms. */
	uint64_t left = timer_left();
	cr_assert(left > 9 * MS && left <= 10 * MS, "timer %lu ns", (unsigned long)left);
	/* Tokens pile up, but nothing passes (not even the other bucket) until
	 * the timer has fired. */
	fake_now += 10 * SEC;
	cr_assert_not(ratelimit_consume(&rl, 1, RL_BYTES));
	cr_assert_not(ratelimit_consume(&rl, 1, RL_OPS));
	cr_assert_eq(rl.throttled_count, 3);
	ratelimit_timer_event(&rl);
	cr_assert_not(ratelimit_blocked(&rl));
	cr_assert(ratelimit_consume(&rl, 1000, RL_BYTES));
}

Test(ratelimit, refusal_timer_is_clamped)
{
	struct ratelimit_config c = bw_only(1000, 0, 10000);

	cr_assert_eq(ratelimit_init(&rl, &c, fake_clock), 0);
	cr_assert(ratelimit_consume(&rl, 1000, RL_BYTES));
	/* 500 bytes need 5 s; the device retries after 100 ms anyway. */
	cr_assert_not(ratelimit_consume(&rl, 500, RL_BYTES));
	uint64_t left = timer_left();
	cr_assert(left > 90 * MS && left <= RL_TIMER_MAX_MS * MS, "timer %lu ns", (unsigned long)left);
	ratelimit_timer_event(&rl);
	/* 1 ns short of one token: at least 1 ms, never a busy loop. */
	fake_now += 10 * MS - 1;
	cr_assert_not(ratelimit_consume(&rl, 1, RL_BYTES));
	left = timer_left();
	cr_assert(left > 0 && left <= RL_TIMER_MIN_MS * MS && left > RL_TIMER_MIN_MS * MS / 2);
}

Test(ratelimit, over_sized_request_passes_and_blocks_for_its_debt)
{
	struct ratelimit_config c = bw_only(100, 0, 1000);

	cr_assert_eq(ratelimit_init(&rl, &c, fake_clock), 0);
	cr_assert(ratelimit_consume(&rl, 250, RL_BYTES));
	cr_assert(ratelimit_blocked(&rl));
	cr_assert_eq(rl.throttled_count, 0, "passed, not throttled");
	uint64_t left = timer_left();
	cr_assert(left > 1400 * MS && left <= 1500 * MS, "timer %lu ns", (unsigned long)left);
	/* A timer event before the debt is paid: still refused, re-armed for
	 * what is left of the debt plus the request. */
	fake_now += SEC;
	ratelimit_timer_event(&rl);
	cr_assert_not(ratelimit_consume(&rl, 10, RL_BYTES));
	left = timer_left();
	cr_assert(left > 90 * MS && left <= RL_TIMER_MAX_MS * MS, "clamped: %lu", (unsigned long)left);
	fake_now += 600 * MS;
	ratelimit_timer_event(&rl);
	cr_assert(ratelimit_consume(&rl, 10, RL_BYTES));
}

Test(ratelimit, replenish_gives_back_a_half_done_consume)
{
	struct ratelimit_config c = { .bandwidth = { 4096, 0, 1000 }, .ops = { 10, 0, 1000 } };

	cr_assert_eq(ratelimit_init(&rl, &c, fake_clock), 0);
	cr_assert(ratelimit_consume(&rl, 4096, RL_BYTES));
	/* A device takes the op first; the bytes are refused: it gives the op back. */
	cr_assert(ratelimit_consume(&rl, 1, RL_OPS));
	cr_assert_eq(rl.ops.budget, 9);
	cr_assert_not(ratelimit_consume(&rl, 512, RL_BYTES));
	ratelimit_replenish(&rl, 1, RL_OPS);
	cr_assert_eq(rl.ops.budget, 10);
	ratelimit_replenish(&rl, 100, RL_OPS);
	cr_assert_eq(rl.ops.budget, 10, "never above size");
	ratelimit_replenish(&rl, 512, RL_BYTES);
	cr_assert_eq(rl.bw.budget, 512);
}

Test(ratelimit, ops_bucket_counts_requests)
{
	struct ratelimit_config c = { .ops = { 3, 2, 1000 } };
	int passed = 0;

	cr_assert_eq(ratelimit_init(&rl, &c, fake_clock), 0);
	while (ratelimit_consume(&rl, 1, RL_OPS))
		passed++;
	cr_assert_eq(passed, 5, "burst 2 then size 3");
	cr_assert(ratelimit_consume(&rl, 1 << 30, RL_OPS) == false);
	ratelimit_timer_event(&rl);
	cr_assert(ratelimit_consume(&rl, UINT64_MAX, RL_BYTES), "no bandwidth bucket");
}

Test(ratelimit, update_resets_buckets_and_unblocks)
{
	struct ratelimit_config c = bw_only(100, 50, 1000), d = bw_only(10, 0, 100);

	cr_assert_eq(ratelimit_init(&rl, &c, fake_clock), 0);
	int fd = ratelimit_fd(&rl);
	cr_assert(ratelimit_consume(&rl, 150, RL_BYTES));
	cr_assert_not(ratelimit_consume(&rl, 1, RL_BYTES));
	cr_assert(ratelimit_blocked(&rl));
	cr_assert_eq(ratelimit_update(&rl, &d), 0);
	cr_assert_not(ratelimit_blocked(&rl));
	cr_assert_eq(timer_left(), 0, "disarmed");
	cr_assert_eq(ratelimit_fd(&rl), fd, "same fd");
	cr_assert_eq(rl.bw.budget, 10);
	cr_assert_eq(rl.bw.cfg.refill_time_ms, 100);
	cr_assert_eq(rl.throttled_count, 1, "metrics survive");
	/* A refused update changes nothing. */
	struct ratelimit_config bad = bw_only(1, 0, 0);
	cr_assert(ratelimit_consume(&rl, 4, RL_BYTES));
	cr_assert_eq(ratelimit_update(&rl, &bad), -EINVAL);
	cr_assert_eq(rl.bw.budget, 6);
	/* Unlimited: everything passes, the fd stays (the device watches it). */
	cr_assert_eq(ratelimit_update(&rl, NULL), 0);
	cr_assert_eq(ratelimit_fd(&rl), fd);
	cr_assert(ratelimit_consume(&rl, UINT64_MAX, RL_BYTES));
}

Test(ratelimit, update_from_unlimited_creates_the_timer)
{
	struct ratelimit_config c = { .ops = { 1, 0, 1000 } };

	cr_assert_eq(ratelimit_init(&rl, NULL, fake_clock), 0);
	cr_assert_eq(ratelimit_fd(&rl), -1);
	cr_assert_eq(ratelimit_update(&rl, &c), 0);
	cr_assert_geq(ratelimit_fd(&rl), 0);
	cr_assert(ratelimit_consume(&rl, 1, RL_OPS));
	cr_assert_not(ratelimit_consume(&rl, 1, RL_OPS));
	cr_assert_gt(timer_left(), 0);
}

Test(ratelimit, restore_checks_and_restarts_the_refill_clock)
{
	struct ratelimit_config c = { .bandwidth = { 1000, 100, 1000 }, .ops = { 10, 0, 1000 } };
	struct rl_bucket_state bw, ops, bad;

	cr_assert_eq(ratelimit_init(&rl, &c, fake_clock), 0);
	cr_assert(ratelimit_consume(&rl, 600, RL_BYTES));
	cr_assert(ratelimit_consume(&rl, 4, RL_OPS));
	bw = rl.bw;
	ops = rl.ops;
	ratelimit_destroy(&rl);

	/* Another process, another clock. */
	fake_now = 77 * SEC;
	cr_assert_eq(ratelimit_init(&rl, NULL, fake_clock), 0);
	bad = bw;
	bad.budget = 1001;
	cr_assert_eq(ratelimit_restore(&rl, &bad, &ops), -EINVAL);
	cr_assert_eq(ratelimit_fd(&rl), -1, "nothing changed");
	bad = ops;
	bad.cfg.refill_time_ms = 0;
	cr_assert_eq(ratelimit_restore(&rl, &bw, &bad), -EINVAL);
	cr_assert_eq(ratelimit_restore(&rl, &bw, &ops), 0);
	cr_assert_geq(ratelimit_fd(&rl), 0);
	cr_assert_eq(rl.bw.budget, 500);
	cr_assert_eq(rl.bw.burst_left, 0);
	cr_assert_eq(rl.ops.budget, 6);
	cr_assert_eq(rl.bw.last_refill_ns, 77 * SEC);
	cr_assert_not(ratelimit_consume(&rl, 501, RL_BYTES));
	ratelimit_timer_event(&rl);
	cr_assert(ratelimit_consume(&rl, 500, RL_BYTES));
}

static uint64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

/* The real clock: the timerfd becomes readable, and after it the tokens are
 * there. */
Test(ratelimit, timerfd_really_fires)
{
	struct ratelimit_config c = bw_only(10, 0, 50); /* 10 tokens per 50 ms */
	struct pollfd p;
	uint64_t t0;

	cr_assert_eq(ratelimit_init(&rl, &c, NULL), 0);
	cr_assert(ratelimit_consume(&rl, 10, RL_BYTES));
	t0 = real_ns();
	cr_assert_not(ratelimit_consume(&rl, 5, RL_BYTES));
	p = (struct pollfd){ .fd = ratelimit_fd(&rl), .events = POLLIN };
	cr_assert_eq(poll(&p, 1, 2000), 1, "timer fired");
	cr_assert_geq(real_ns() - t0, 20 * MS, "not before 5 tokens could be earned");
	ratelimit_timer_event(&rl);
	cr_assert_eq(poll(&p, 1, 0), 0, "event consumed");
	cr_assert(ratelimit_consume(&rl, 5, RL_BYTES));
	/* A spurious call is harmless. */
	ratelimit_timer_event(&rl);
	cr_assert_not(ratelimit_blocked(&rl));
}
