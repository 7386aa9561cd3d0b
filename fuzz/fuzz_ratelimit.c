/*
 * fuzz_ratelimit: one rate limiter on a fake clock, driven by a list of
 * consume / replenish / clock moves / timer events / PATCH updates /
 * snapshot restores, checked against an accounting model.
 *
 * Invariants, per bucket: budget <= size and burst_left <= one_time_burst;
 * an absent bucket refuses only while the limiter is blocked; a blocked
 * limiter refuses everything; a refusal leaves the limiter blocked with its
 * timer armed for [RL_TIMER_MIN_MS, RL_TIMER_MAX_MS]; nothing passes faster
 * than the configuration allows:
 *     passed + budget + burst_left - debt
 *         <= size + one_time_burst + forward_ns * size / refill_ns + replenished
 * (forward_ns: the clock's forward moves since the last reset); and a request
 * that was refused passes once the clock has moved on by the wait the bucket
 * computes and the timer has fired.
 *
 * Op encoding: a config (two buckets, see read_config), then opcode bytes
 * each followed by its fields; missing bytes read as 0.
 */
#include <errno.h>
#include <poll.h>
#include <sys/timerfd.h>

#include "devices/ratelimit/ratelimit.h"
#include "devices/ratelimit/rl_bucket.h"
#include "fuzz/fuzz_common.h"

#define FZ_MAX_OPS 256

typedef unsigned __int128 u128;

enum { OP_CONSUME, OP_REPLENISH, OP_CLOCK, OP_TIMER, OP_UPDATE, OP_RESTORE, OP_WAIT_RETRY, OP_NR };

/* Accounting since the bucket's last reset (init, update, restore). */
struct fz_acct {
	u128 start;       /* tokens it held at the reset */
	u128 passed;      /* tokens of consumes that returned true */
	u128 given;       /* tokens offered back by replenish */
	u128 forward_ns;  /* forward clock moves */
};

struct fz_rl {
	struct ratelimit rl;
	struct fz_acct acct[2]; /* RL_BYTES, RL_OPS */
	uint64_t now;
};

/* The fake clock must be reachable from a plain function: one per process,
 * reset at the start of every input. */
static struct fz_rl *cur;

static uint64_t fake_clock(void)
{
	return cur->now;
}

static uint64_t read_value(struct fz *f)
{
	static const uint64_t edges[] = { 0, 1, 2, 511, 512, 4096, 65536, 1000000, UINT64_MAX / 2,
					  UINT64_MAX - 1, UINT64_MAX, UINT64_MAX / 1000000,
					  UINT64_MAX / 1000000 + 1 };
	uint8_t sel = fz_u8(f);

	switch (sel >> 6) {
	case 0:
		return edges[sel % ARRAY_SIZE(edges)];
	case 1:
		return fz_u8(f);
	case 2:
		return fz_u32(f);
	default:
		return fz_u64(f);
	}
}

static void read_config(struct fz *f, struct ratelimit_config *c)
{
	struct rl_bucket_config *b[2] = { &c->bandwidth, &c->ops };

	for (int i = 0; i < 2; i++) {
		b[i]->size = read_value(f);
		b[i]->one_time_burst = read_value(f);
		b[i]->refill_time_ms = read_value(f);
	}
}

static struct rl_bucket_state *bucket(enum rl_token_type t)
{
	return t == RL_OPS ? &cur->rl.ops : &cur->rl.bw;
}

static void acct_reset(void)
{
	for (int t = 0; t < 2; t++) {
		struct rl_bucket_state *b = bucket((enum rl_token_type)t);

		cur->acct[t] = (struct fz_acct){ .start = (u128)b->budget + b->burst_left };
	}
}

static uint64_t timer_left(void)
{
	struct itimerspec its;

	FUZZ_CHECK(timerfd_gettime(cur->rl.timer_fd, &its) == 0, "timerfd_gettime");
	return (uint64_t)its.it_value.tv_sec * 1000000000ull + (uint64_t)its.it_value.tv_nsec;
}

/* Armed, or already fired (a short timer can expire before we look). */
static bool timer_pending(void)
{
	struct pollfd p = { .fd = cur->rl.timer_fd, .events = POLLIN };

	return timer_left() > 0 || poll(&p, 1, 0) == 1;
}

static void check_bucket(enum rl_token_type t)
{
	const struct rl_bucket_state *b = bucket(t);
	const struct fz_acct *a = &cur->acct[t];
	u128 lhs, rhs;

	FUZZ_CHECK(rl_bucket_state_check(b) == 0, "bucket %d state", t);
	if (!b->cfg.size)
		return;
	lhs = a->passed + b->budget + b->burst_left;
	rhs = a->start + a->given + b->debt;
	/* forward_ns * size fits: forward_ns < 2^72 (256 moves), size < 2^64. */
	if (a->forward_ns >> 64 == 0)
		rhs += a->forward_ns * b->cfg.size / ((u128)b->cfg.refill_time_ms * RL_NS_PER_MS) + 1;
	else
		rhs = ~(u128)0;
	FUZZ_CHECK(lhs <= rhs, "bucket %d ran faster than its configuration", t);
}

static bool consume_checked(enum rl_token_type t, uint64_t tokens)
{
	bool was_blocked = ratelimit_blocked(&cur->rl), absent = !bucket(t)->cfg.size, ok;
	uint64_t throttled = cur->rl.throttled_count;

	ok = ratelimit_consume(&cur->rl, tokens, t);
	if (was_blocked)
		FUZZ_CHECK(!ok, "consume passed while blocked");
	if (absent && !was_blocked)
		FUZZ_CHECK(ok, "absent bucket refused");
	if (ok) {
		cur->acct[t].passed += tokens;
		FUZZ_CHECK(cur->rl.throttled_count == throttled, "throttled count on a pass");
	} else {
		uint64_t left;

		FUZZ_CHECK(cur->rl.throttled_count == throttled + 1, "throttled count on a refusal");
		FUZZ_CHECK(ratelimit_blocked(&cur->rl), "refused but not blocked");
		if (!was_blocked) {
			left = timer_left();
			FUZZ_CHECK(left <= RL_TIMER_MAX_MS * RL_NS_PER_MS, "timer %llu ns",
				   (unsigned long long)left);
		}
	}
	if (ratelimit_blocked(&cur->rl) && !was_blocked)
		FUZZ_CHECK(timer_pending(), "blocked without a timer");
	return ok;
}

static void clock_move(uint64_t delta, bool backwards)
{
	if (backwards) {
		cur->now = delta > cur->now ? 0 : cur->now - delta;
		return;
	}
	if (delta > UINT64_MAX - cur->now)
		delta = UINT64_MAX - cur->now;
	cur->now += delta;
	for (int t = 0; t < 2; t++)
		cur->acct[t].forward_ns += delta;
}

/* Refused, then the clock moves on by exactly the computed wait and the
 * timer fires: the same request must pass now. */
static void wait_retry(enum rl_token_type t, uint64_t tokens)
{
	uint64_t wait;

	if (consume_checked(t, tokens))
		return;
	ratelimit_timer_event(&cur->rl);
	if (consume_checked(t, tokens))
		return;
	wait = rl_bucket_wait_ns(bucket(t), tokens, cur->now);
	FUZZ_CHECK(wait > 0, "refused with nothing to wait for");
	if (wait >= UINT64_MAX - cur->now)
		return; /* beyond the end of time (UINT64_MAX: saturated) */
	clock_move(wait, false);
	ratelimit_timer_event(&cur->rl);
	FUZZ_CHECK(consume_checked(t, tokens), "refused after the computed wait");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = fz_init(data, size);
	struct fz_rl z = { .now = fz_u64(&f) >> 1 };
	struct ratelimit_config cfg;

	cur = &z;
	read_config(&f, &cfg);
	if (ratelimit_init(&z.rl, &cfg, fake_clock)) {
		FUZZ_CHECK(ratelimit_config_check(&cfg) == -EINVAL, "init refused a valid config");
		FUZZ_CHECK(z.rl.timer_fd == -1, "fd left open");
		return 0;
	}
	FUZZ_CHECK((ratelimit_fd(&z.rl) < 0) == ratelimit_config_is_unlimited(&cfg), "timerfd iff limited");
	acct_reset();

	for (unsigned int n = 0; n < FZ_MAX_OPS && f.left; n++) {
		uint8_t op = fz_u8(&f);
		enum rl_token_type t = (op & 0x80) ? RL_OPS : RL_BYTES;

		switch ((op & 0x7f) % OP_NR) {
		case OP_CONSUME:
			(void)consume_checked(t, read_value(&f));
			break;
		case OP_REPLENISH: {
			uint64_t v = read_value(&f);

			ratelimit_replenish(&z.rl, v, t);
			z.acct[t].given += v;
			break;
		}
		case OP_CLOCK:
			clock_move(read_value(&f), op & 0x80);
			break;
		case OP_TIMER:
			ratelimit_timer_event(&z.rl);
			FUZZ_CHECK(!ratelimit_blocked(&z.rl), "still blocked after the timer");
			break;
		case OP_UPDATE: {
			struct rl_bucket_state before_bw = z.rl.bw, before_ops = z.rl.ops;
			int fd = ratelimit_fd(&z.rl);

			read_config(&f, &cfg);
			if (ratelimit_update(&z.rl, &cfg)) {
				FUZZ_CHECK(ratelimit_config_check(&cfg) == -EINVAL, "update refused a valid config");
				FUZZ_CHECK(!memcmp(&before_bw, &z.rl.bw, sizeof(before_bw)) &&
						   !memcmp(&before_ops, &z.rl.ops, sizeof(before_ops)),
					   "a refused update changed the buckets");
				break;
			}
			FUZZ_CHECK(fd < 0 || ratelimit_fd(&z.rl) == fd, "the timerfd changed");
			FUZZ_CHECK(!ratelimit_blocked(&z.rl), "blocked after an update");
			FUZZ_CHECK(z.rl.bw.budget == z.rl.bw.cfg.size && z.rl.ops.budget == z.rl.ops.cfg.size,
				   "an update starts full");
			acct_reset();
			break;
		}
		case OP_RESTORE: {
			struct rl_bucket_state bw = z.rl.bw, ops = z.rl.ops;
			struct rl_bucket_state *victim = (op & 0x80) ? &ops : &bw;
			uint64_t *field = (uint64_t *)victim + fz_u8(&f) % (sizeof(*victim) / 8);
			uint8_t how = fz_u8(&f);

			if (how & 1)
				*field = read_value(&f);
			if (ratelimit_restore(&z.rl, &bw, &ops)) {
				FUZZ_CHECK(how & 1, "restore refused its own state");
				break;
			}
			FUZZ_CHECK(!ratelimit_blocked(&z.rl), "blocked after a restore");
			acct_reset();
			break;
		}
		default:
			wait_retry(t, read_value(&f));
			break;
		}
		check_bucket(RL_BYTES);
		check_bucket(RL_OPS);
	}
	ratelimit_destroy(&z.rl);
	cur = NULL;
	return 0;
}
