/* One bucket's arithmetic on explicit timestamps: start full, burst first,
 * refill in proportion, the cap, over-sized requests and their debt, giving
 * back, the exact wait, and the edges (64-bit sizes, huge refill times,
 * clocks going backwards or jumping by years). */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "devices/ratelimit/rl_bucket.h"

#define MS 1000000ull
#define SEC 1000000000ull
#define T0 (1000 * SEC) /* an arbitrary start, far from 0 */

static struct rl_bucket_state make(uint64_t size, uint64_t burst, uint64_t refill_ms)
{
	struct rl_bucket_config c = { .size = size, .one_time_burst = burst, .refill_time_ms = refill_ms };
	struct rl_bucket_state b;

	cr_assert_eq(rl_bucket_config_check(&c), 0);
	rl_bucket_reset(&b, &c, T0);
	return b;
}

Test(rl_bucket, config_check)
{
	struct rl_bucket_config c = { 0 };

	cr_assert_eq(rl_bucket_config_check(&c), 0, "absent bucket");
	c.size = 1;
	cr_assert_eq(rl_bucket_config_check(&c), -EINVAL, "size without refill time");
	c.refill_time_ms = UINT64_MAX / MS;
	cr_assert_eq(rl_bucket_config_check(&c), 0);
	c.refill_time_ms++;
	cr_assert_eq(rl_bucket_config_check(&c), -EINVAL, "refill time in ns overflows");
	c.size = UINT64_MAX;
	c.refill_time_ms = 1;
	c.one_time_burst = UINT64_MAX;
	cr_assert_eq(rl_bucket_config_check(&c), 0);
}

Test(rl_bucket, starts_full_with_its_burst)
{
	struct rl_bucket_state b = make(100, 40, 1000);

	cr_assert_eq(b.budget, 100);
	cr_assert_eq(b.burst_left, 40);
	cr_assert_eq(b.debt, 0);
	cr_assert_eq(b.last_refill_ns, T0);
}

Test(rl_bucket, absent_bucket_is_zero_and_passes_everything)
{
	struct rl_bucket_config c = { .size = 0, .one_time_burst = 5, .refill_time_ms = 7 };
	struct rl_bucket_state b;

	rl_bucket_reset(&b, &c, T0);
	cr_assert_eq(b.cfg.one_time_burst, 0);
	cr_assert_eq(b.budget, 0);
	cr_assert_eq(rl_bucket_take(&b, UINT64_MAX, T0), RL_TAKE_OK);
	cr_assert_eq(rl_bucket_wait_ns(&b, UINT64_MAX, T0), 0);
}

Test(rl_bucket, burst_is_spent_first_and_never_refilled)
{
	struct rl_bucket_state b = make(100, 50, 1000);

	cr_assert_eq(rl_bucket_take(&b, 30, T0), RL_TAKE_OK);
	cr_assert_eq(b.burst_left, 20);
	cr_assert_eq(b.budget, 100);
	cr_assert_eq(rl_bucket_take(&b, 30, T0), RL_TAKE_OK);
	cr_assert_eq(b.burst_left, 0);
	cr_assert_eq(b.budget, 90);
	/* A long time later the budget is full again, the burst is not. */
	cr_assert_eq(rl_bucket_take(&b, 1, T0 + 3600 * SEC), RL_TAKE_OK);
	cr_assert_eq(b.burst_left, 0);
	cr_assert_eq(b.budget, 99);
}

Test(rl_bucket, refused_take_leaves_bucket_unchanged)
{
	struct rl_bucket_state b = make(100, 50, 1000), before;

	cr_assert_eq(rl_bucket_take(&b, 120, T0), RL_TAKE_OK);
	cr_assert_eq(b.budget, 30);
	before = b;
	cr_assert_eq(rl_bucket_take(&b, 31, T0), RL_TAKE_REFUSED);
	cr_assert_eq(memcmp(&b, &before, sizeof(b)), 0);
	/* Exactly the size is not "more than the whole bucket": it waits. */
	b = make(100, 0, 1000);
	cr_assert_eq(rl_bucket_take(&b, 50, T0), RL_TAKE_OK);
	before = b;
	cr_assert_eq(rl_bucket_take(&b, 100, T0), RL_TAKE_REFUSED);
	cr_assert_eq(memcmp(&b, &before, sizeof(b)), 0);
}

Test(rl_bucket, partial_refill_in_proportion)
{
	struct rl_bucket_state b = make(1000, 0, 1000);

	cr_assert_eq(rl_bucket_take(&b, 1000, T0), RL_TAKE_OK);
	cr_assert_eq(rl_bucket_take(&b, 1, T0 + 999999), RL_TAKE_REFUSED, "1 token costs 1 ms");
	cr_assert_eq(rl_bucket_take(&b, 1, T0 + MS), RL_TAKE_OK);
	cr_assert_eq(b.budget, 0);
	rl_bucket_refill(&b, T0 + 500 * MS);
	cr_assert_eq(b.budget, 499);
	cr_assert_eq(b.last_refill_ns, T0 + 500 * MS);
	rl_bucket_refill(&b, T0 + 750 * MS + 1);
	cr_assert_eq(b.budget, 749);
	cr_assert_eq(b.last_refill_ns, T0 + 750 * MS, "only the time the tokens cost is used");
	cr_assert_eq(rl_bucket_take(&b, 750, T0 + 750 * MS + 2), RL_TAKE_REFUSED);
}

Test(rl_bucket, refill_caps_at_size)
{
	struct rl_bucket_state b = make(1000, 0, 1000);

	cr_assert_eq(rl_bucket_take(&b, 600, T0), RL_TAKE_OK);
	rl_bucket_refill(&b, T0 + 10 * SEC);
	cr_assert_eq(b.budget, 1000);
	cr_assert_eq(rl_bucket_take(&b, 1001, T0 + 10 * SEC), RL_TAKE_OVER, "never more than size");
}

Test(rl_bucket, time_spent_full_earns_nothing)
{
	struct rl_bucket_state b = make(100, 0, 1000);

	/* Full for 10 s, then drained: the next token is 10 ms away, not 0. */
	cr_assert_eq(rl_bucket_take(&b, 100, T0 + 10 * SEC), RL_TAKE_OK);
	cr_assert_eq(rl_bucket_take(&b, 1, T0 + 10 * SEC + 9 * MS), RL_TAKE_REFUSED);
	cr_assert_eq(rl_bucket_take(&b, 1, T0 + 10 * SEC + 10 * MS), RL_TAKE_OK);
}

Test(rl_bucket, over_sized_request_owes_the_excess)
{
	struct rl_bucket_state b = make(100, 0, 1000);

	cr_assert_eq(rl_bucket_take(&b, 250, T0), RL_TAKE_OVER);
	cr_assert_eq(b.budget, 0);
	cr_assert_eq(b.debt, 150);
	cr_assert_eq(rl_bucket_wait_ns(&b, 0, T0), 1500 * MS, "150 tokens at 100/s");
	/* The debt is repaid before anything passes, even one token. */
	cr_assert_eq(rl_bucket_take(&b, 1, T0 + SEC), RL_TAKE_REFUSED);
	cr_assert_eq(b.debt, 50);
	cr_assert_eq(rl_bucket_take(&b, 1, T0 + 1500 * MS - 1), RL_TAKE_REFUSED);
	cr_assert_eq(rl_bucket_take(&b, 1, T0 + 1500 * MS), RL_TAKE_REFUSED, "debt paid, budget still 0");
	cr_assert_eq(b.debt, 0);
	cr_assert_eq(rl_bucket_take(&b, 1, T0 + 1510 * MS), RL_TAKE_OK);
	/* Another over-sized request is refused while a debt is outstanding. */
	b = make(100, 0, 1000);
	cr_assert_eq(rl_bucket_take(&b, 101, T0), RL_TAKE_OVER);
	cr_assert_eq(rl_bucket_take(&b, 500, T0), RL_TAKE_REFUSED);
	cr_assert_eq(b.debt, 1);
}

Test(rl_bucket, over_sized_request_uses_burst_then_budget)
{
	struct rl_bucket_state b = make(100, 30, 1000);

	cr_assert_eq(rl_bucket_take(&b, 50, T0), RL_TAKE_OK); /* burst 0, budget 80 */
	cr_assert_eq(rl_bucket_take(&b, 180, T0), RL_TAKE_OVER);
	cr_assert_eq(b.debt, 100);
	cr_assert_eq(b.burst_left, 0);
	b = make(100, 30, 1000);
	cr_assert_eq(rl_bucket_take(&b, 131, T0), RL_TAKE_OVER);
	cr_assert_eq(b.debt, 1);
}

Test(rl_bucket, give_back_reverses_a_take)
{
	struct rl_bucket_state b = make(100, 30, 1000), before = b;

	cr_assert_eq(rl_bucket_take(&b, 50, T0), RL_TAKE_OK);
	rl_bucket_give(&b, 50);
	cr_assert_eq(memcmp(&b, &before, sizeof(b)), 0);
	rl_bucket_give(&b, 1000);
	cr_assert_eq(b.budget, 100, "never above size");
	cr_assert_eq(b.burst_left, 30, "never above one_time_burst");
	/* A debt is repaid first. */
	cr_assert_eq(rl_bucket_take(&b, 300, T0), RL_TAKE_OVER);
	cr_assert_eq(b.debt, 170);
	rl_bucket_give(&b, 200);
	cr_assert_eq(b.debt, 0);
	cr_assert_eq(b.budget, 30);
}

Test(rl_bucket, wait_is_exact)
{
	struct rl_bucket_state b = make(3, 0, 1000);

	cr_assert_eq(rl_bucket_take(&b, 3, T0), RL_TAKE_OK);
	cr_assert_eq(rl_bucket_wait_ns(&b, 1, T0), 333333334);
	cr_assert_eq(rl_bucket_wait_ns(&b, 3, T0), SEC);
	cr_assert_eq(rl_bucket_wait_ns(&b, 1, T0 + 333333333), 1);
	cr_assert_eq(rl_bucket_take(&b, 1, T0 + 333333333), RL_TAKE_REFUSED);
	cr_assert_eq(rl_bucket_take(&b, 1, T0 + 333333334), RL_TAKE_OK);
	cr_assert_eq(rl_bucket_wait_ns(&b, 0, T0), 0, "nothing owed, nothing asked");
	/* More than the whole bucket only waits for the debt. */
	cr_assert_eq(rl_bucket_wait_ns(&b, 1000, T0 + 333333334), 0);
}

/* Whatever the request pattern, what passes over a period is at most the
 * full bucket plus size per refill time, and a steady client gets close to
 * that. */
Test(rl_bucket, long_run_rate_is_bounded_and_reached)
{
	struct rl_bucket_state b = make(7, 0, 1000);
	uint64_t now = T0, taken = 0, seed = 12345;

	while (now < T0 + 100 * SEC) {
		uint64_t want = 1 + (seed >> 33) % 3;

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		if (rl_bucket_take(&b, want, now) == RL_TAKE_OK)
			taken += want;
		now += 1 + (seed >> 40) % (3 * MS);
	}
	cr_assert_leq(taken, 7 + 700);
	cr_assert_geq(taken, 700 - 3);
}

Test(rl_bucket, sizes_near_uint64_max)
{
	struct rl_bucket_state b = make(UINT64_MAX, UINT64_MAX, 1);

	cr_assert_eq(rl_bucket_take(&b, UINT64_MAX, T0), RL_TAKE_OK);
	cr_assert_eq(b.burst_left, 0);
	cr_assert_eq(b.budget, UINT64_MAX);
	cr_assert_eq(rl_bucket_take(&b, UINT64_MAX, T0), RL_TAKE_OK);
	cr_assert_eq(b.budget, 0);
	cr_assert_eq(rl_bucket_take(&b, 1, T0), RL_TAKE_REFUSED);
	cr_assert_eq(rl_bucket_wait_ns(&b, UINT64_MAX, T0), MS);
	rl_bucket_refill(&b, T0 + 1);
	cr_assert_eq(b.budget, UINT64_MAX / MS, "1 ns earns size / 1e6");
	/* The earned tokens' cost rounds up (never faster than the rate): the
	 * bucket is full 1 ns after the exact millisecond. */
	rl_bucket_refill(&b, T0 + MS);
	cr_assert_eq(b.budget, UINT64_MAX - 1);
	rl_bucket_refill(&b, T0 + MS + 1);
	cr_assert_eq(b.budget, UINT64_MAX);
	/* The largest debt: a size-1 bucket taking UINT64_MAX. */
	b = make(1, 0, UINT64_MAX / MS);
	cr_assert_eq(rl_bucket_take(&b, UINT64_MAX, T0), RL_TAKE_OVER);
	cr_assert_eq(b.debt, UINT64_MAX - 1);
	cr_assert_eq(rl_bucket_wait_ns(&b, 0, T0), UINT64_MAX, "beyond 64 bits of ns saturates");
	cr_assert_eq(rl_bucket_wait_ns(&b, 1, T0), UINT64_MAX);
	rl_bucket_refill(&b, UINT64_MAX);
	cr_assert_eq(b.debt, UINT64_MAX - 1, "not even one token earned yet");
}

Test(rl_bucket, huge_refill_time)
{
	uint64_t r = UINT64_MAX / MS; /* ~584 years */
	struct rl_bucket_state b = make(1000, 0, r);

	cr_assert_eq(rl_bucket_take(&b, 1000, T0), RL_TAKE_OK);
	rl_bucket_refill(&b, T0 + 3600 * SEC);
	cr_assert_eq(b.budget, 0);
	rl_bucket_refill(&b, UINT64_MAX);
	cr_assert_eq(b.budget, (uint64_t)((unsigned __int128)(UINT64_MAX - T0) * 1000 / (r * MS)));
}

Test(rl_bucket, clock_going_backwards_earns_nothing)
{
	struct rl_bucket_state b = make(1000, 0, 1000);

	cr_assert_eq(rl_bucket_take(&b, 1000, T0 + 10 * SEC), RL_TAKE_OK);
	rl_bucket_refill(&b, T0 + 5 * SEC);
	cr_assert_eq(b.budget, 0);
	cr_assert_eq(b.last_refill_ns, T0 + 5 * SEC, "the clock restarts from the new now");
	cr_assert_eq(rl_bucket_take(&b, 1, 0), RL_TAKE_REFUSED);
	cr_assert_eq(rl_bucket_take(&b, 100, 100 * MS), RL_TAKE_OK);
}

Test(rl_bucket, clock_jumping_by_years_fills_once)
{
	struct rl_bucket_state b = make(1000, 0, 1000);

	cr_assert_eq(rl_bucket_take(&b, 1000, T0), RL_TAKE_OK);
	cr_assert_eq(rl_bucket_take(&b, 1000, T0 + 200ull * 365 * 24 * 3600 * SEC), RL_TAKE_OK);
	cr_assert_eq(b.budget, 0);
	cr_assert_eq(rl_bucket_take(&b, 1, UINT64_MAX), RL_TAKE_OK);
	cr_assert_eq(b.budget, 999);
}

Test(rl_bucket, state_check)
{
	struct rl_bucket_state b = make(100, 10, 1000), bad;

	cr_assert_eq(rl_bucket_state_check(&b), 0);
	bad = b;
	bad.budget = 101;
	cr_assert_eq(rl_bucket_state_check(&bad), -EINVAL);
	bad = b;
	bad.burst_left = 11;
	cr_assert_eq(rl_bucket_state_check(&bad), -EINVAL);
	bad = b;
	bad.cfg.refill_time_ms = 0;
	cr_assert_eq(rl_bucket_state_check(&bad), -EINVAL);
	bad = b;
	bad.debt = UINT64_MAX;
	cr_assert_eq(rl_bucket_state_check(&bad), 0, "any debt is arithmetic we can do");
	memset(&bad, 0, sizeof(bad));
	cr_assert_eq(rl_bucket_state_check(&bad), 0, "absent");
	bad.budget = 1;
	cr_assert_eq(rl_bucket_state_check(&bad), -EINVAL, "absent bucket holding tokens");
}
