/*
 * One token bucket's arithmetic, private to the rate limiter, its tests and
 * its fuzz target.  Pure functions of the bucket state and a timestamp: no
 * clock, no fd.
 *
 * Integer only.  Tokens earned over elapsed ns are floor(elapsed * size /
 * refill_ns) computed in 128 bits (both factors fit in 64), so there is no
 * rounding drift from a precomputed rate; last_refill_ns then advances by
 * the ceiling of the time those tokens cost, so the bucket never runs faster
 * than size per refill_ns (it can lag by under 1 ns per refill).  A bucket
 * that is full and owes nothing restarts its clock at each refill: time spent
 * full earns nothing.  A clock that goes backwards restarts it too, earning
 * nothing.
 */
#ifndef KILN_RL_BUCKET_H
#define KILN_RL_BUCKET_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/ratelimit/ratelimit.h"

#define RL_NS_PER_MS 1000000ull

enum rl_take_result {
	RL_TAKE_OK,       /* tokens taken (burst first, then budget) */
	RL_TAKE_OVER,     /* more than the whole bucket: allowed, bucket emptied, rest owed */
	RL_TAKE_REFUSED,  /* not enough now (or a debt is outstanding): nothing taken */
};

/* 0 or -EINVAL: a present bucket (size > 0) needs 0 < refill_time_ms <=
 * UINT64_MAX / 1e6 (its refill time in ns must fit in 64 bits). */
int rl_bucket_config_check(const struct rl_bucket_config *cfg);

/* A full bucket (and its whole burst) at now; an absent bucket (size 0) is
 * all zeros, whatever the other fields of cfg said. */
void rl_bucket_reset(struct rl_bucket_state *b, const struct rl_bucket_config *cfg, uint64_t now);

/* Credits the tokens earned since last_refill_ns: debt first, then budget up
 * to size. */
void rl_bucket_refill(struct rl_bucket_state *b, uint64_t now);

/* Refills, then takes tokens (see enum rl_take_result). */
enum rl_take_result rl_bucket_take(struct rl_bucket_state *b, uint64_t tokens, uint64_t now);

/* Gives tokens back in the reverse order a take used them: debt, budget up
 * to size, then burst up to one_time_burst.  The excess is dropped. */
void rl_bucket_give(struct rl_bucket_state *b, uint64_t tokens);

/* After a refill at now: ns until the bucket has paid its debt and holds
 * `tokens` more (0 if it already does), UINT64_MAX when that is beyond
 * 64 bits of ns. */
uint64_t rl_bucket_wait_ns(const struct rl_bucket_state *b, uint64_t tokens, uint64_t now);

/* A restored state is consistent with its config: 0 or -EINVAL. */
int rl_bucket_state_check(const struct rl_bucket_state *b);

#endif
