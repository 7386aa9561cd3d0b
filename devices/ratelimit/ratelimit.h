/*
 * Token-bucket rate limiter with Firecracker's semantics, shared by the
 * block, net and rng devices.
 *
 * A limiter has up to two buckets, one counting bytes (bandwidth) and one
 * counting operations (requests, frames).  Each bucket has a size (tokens),
 * a refill_time in ms (how long an empty bucket takes to fill again) and an
 * optional one_time_burst (extra tokens spent first, never refilled).  A
 * bucket starts full.  Consuming more tokens than a bucket holds fails and
 * leaves it unchanged, except that a single request larger than the bucket's
 * whole size is allowed: the bucket is emptied and the rest is a debt repaid
 * by refill before anything else passes.  A failed consume blocks the
 * limiter and arms its timerfd; the device stops taking requests from the
 * throttled queue until the VMM loop sees the timerfd (ratelimit_timer_event)
 * and the device tries again.  A size of 0 means no bucket (unlimited).
 *
 * Refinements of Firecracker's semantics (same names and contract):
 *  - A bucket is all-or-nothing: a refused consume takes nothing, not even
 *    the one_time_burst (Firecracker spends the burst first even on refusal).
 *  - Integer arithmetic, no float: see devices/ratelimit/rl_bucket.h.  An
 *    over-sized request owes the exact excess (debt), repaid by refill before
 *    the budget grows; the timer is armed for the time that takes.
 *  - A plain refusal arms the timer for the time until the refused request
 *    would fit, clamped to [RL_TIMER_MIN_MS, RL_TIMER_MAX_MS] (Firecracker
 *    always waits 100 ms): the device retries sooner when it can, and no
 *    later than Firecracker would.
 *  - Time spent with a full bucket earns nothing (the bucket is full).
 *
 * Time comes from now_ns (CLOCK_MONOTONIC by default) so unit tests drive
 * the arithmetic with a fake clock.  Not thread-safe: the owning device
 * serialises calls (everything runs on the VMM thread).
 */
#ifndef KILN_RATELIMIT_H
#define KILN_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/compiler.h"

struct rl_bucket_config {
	uint64_t size;            /* tokens; 0: this bucket is absent */
	uint64_t one_time_burst;  /* extra tokens spent first, once */
	uint64_t refill_time_ms;  /* time to refill size tokens; > 0 when size > 0 */
};

struct ratelimit_config {
	struct rl_bucket_config bandwidth; /* bytes */
	struct rl_bucket_config ops;       /* operations */
};

enum rl_token_type { RL_BYTES, RL_OPS };

/* Saved and restored with the device (snapshots): plain data. */
struct rl_bucket_state {
	struct rl_bucket_config cfg;
	uint64_t budget;          /* tokens available now, <= cfg.size */
	uint64_t burst_left;      /* one_time_burst not yet spent */
	uint64_t debt;            /* tokens owed after an over-sized request */
	uint64_t last_refill_ns;
};

struct ratelimit {
	struct rl_bucket_state bw, ops;
	bool blocked;             /* a consume failed; waiting for the timer */
	int timer_fd;             /* timerfd (non-blocking, cloexec), -1 when unlimited */
	uint64_t (*now_ns)(void);
	uint64_t throttled_count; /* consumes refused (metrics) */
};

/* Timer bounds for a refused consume (see above). */
#define RL_TIMER_MIN_MS 1
#define RL_TIMER_MAX_MS 100

/* An empty ratelimit_config (or NULL): both buckets absent. */
bool ratelimit_config_is_unlimited(const struct ratelimit_config *cfg);

/* What ratelimit_init/update would refuse, without creating anything (for
 * the API to answer 400 early): 0, or -EINVAL for a bucket with size > 0 and
 * refill_time_ms 0 or above UINT64_MAX / 1000000 (its refill time in ns must
 * fit in 64 bits).  Any size up to UINT64_MAX is fine.  NULL is fine. */
int ratelimit_config_check(const struct ratelimit_config *cfg) __must_check;

/* 0, or -EINVAL (ratelimit_config_check) or -errno from timerfd_create.
 * cfg NULL: unlimited.  now_ns NULL: CLOCK_MONOTONIC.  An unlimited config
 * creates no timerfd.  On error rl is left destroyed (timer_fd -1). */
int ratelimit_init(struct ratelimit *rl, const struct ratelimit_config *cfg, uint64_t (*now_ns)(void))
	__must_check;
void ratelimit_destroy(struct ratelimit *rl);

/* Takes tokens of type from its bucket.  true: go on.  false: throttled,
 * nothing taken, limiter blocked and timer armed.  Always true for an absent
 * bucket; always false while blocked. */
bool ratelimit_consume(struct ratelimit *rl, uint64_t tokens, enum rl_token_type type);

/* Gives back tokens taken by a consume whose request could not go on after
 * all (e.g. the other bucket refused it), in the reverse order consume took
 * them: a debt first, then the budget up to the bucket's size, then the
 * one_time_burst up to its configured value; any excess is dropped. */
void ratelimit_replenish(struct ratelimit *rl, uint64_t tokens, enum rl_token_type type);

static inline bool ratelimit_blocked(const struct ratelimit *rl)
{
	return rl->blocked;
}

/* The fd the VMM loop watches (EPOLLIN), or -1 when unlimited. */
static inline int ratelimit_fd(const struct ratelimit *rl)
{
	return rl->timer_fd;
}

/* The timerfd fired: reads it and unblocks the limiter (the next consume
 * re-arms it if the buckets are still short).  Safe to call spuriously. */
void ratelimit_timer_event(struct ratelimit *rl);

/* PATCH: new bucket configs; each bucket starts full again, as Firecracker
 * does, and the limiter is unblocked (timer disarmed).  Creates the timerfd
 * if the limiter had none (the device must then watch ratelimit_fd() anew);
 * once created the timerfd stays until destroy, even if cfg is unlimited.
 * cfg NULL: unlimited.  0, or -EINVAL / -errno with nothing changed. */
int ratelimit_update(struct ratelimit *rl, const struct ratelimit_config *cfg) __must_check;

/* Snapshot restore: takes the saved bucket states (rl->bw and rl->ops as
 * they were saved; plain data, copy them as they are) after checking them
 * (configs as ratelimit_config_check, budget <= size, burst_left <=
 * one_time_burst, an absent bucket all zero): 0, or -EINVAL / -errno with
 * nothing changed.  last_refill_ns is another host's clock: the buckets
 * restart their refill clock at now (the partial progress since the last
 * refill is lost, never gained).  The limiter comes back unblocked; a debt
 * blocks it again at the next consume.  Creates the timerfd if needed, as
 * ratelimit_update. */
int ratelimit_restore(struct ratelimit *rl, const struct rl_bucket_state *bw,
		      const struct rl_bucket_state *ops) __must_check;

#endif
