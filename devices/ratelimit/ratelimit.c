/* The rate limiter: two buckets, the blocked flag and its timerfd.  The
 * arithmetic is in rl_bucket.c. */
#include "devices/ratelimit/ratelimit.h"

#include <errno.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "devices/ratelimit/rl_bucket.h"

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

bool ratelimit_config_is_unlimited(const struct ratelimit_config *cfg)
{
	return !cfg || (!cfg->bandwidth.size && !cfg->ops.size);
}

int ratelimit_config_check(const struct ratelimit_config *cfg)
{
	if (!cfg)
		return 0;
	if (rl_bucket_config_check(&cfg->bandwidth) || rl_bucket_config_check(&cfg->ops))
		return -EINVAL;
	return 0;
}

static int timer_create_once(struct ratelimit *rl)
{
	if (rl->timer_fd >= 0)
		return 0;
	rl->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	return rl->timer_fd < 0 ? -errno : 0;
}

/* One-shot, relative; 0 disarms. */
static int timer_set(struct ratelimit *rl, uint64_t ns)
{
	struct itimerspec its = { 0 };

	if (rl->timer_fd < 0)
		return -EBADF;
	its.it_value.tv_sec = (time_t)(ns / 1000000000ull);
	its.it_value.tv_nsec = (long)(ns % 1000000000ull);
	return timerfd_settime(rl->timer_fd, 0, &its, NULL) ? -errno : 0;
}

static void buckets_reset(struct ratelimit *rl, const struct ratelimit_config *cfg)
{
	static const struct ratelimit_config unlimited;
	uint64_t now = rl->now_ns();

	if (!cfg)
		cfg = &unlimited;
	rl_bucket_reset(&rl->bw, &cfg->bandwidth, now);
	rl_bucket_reset(&rl->ops, &cfg->ops, now);
}

int ratelimit_init(struct ratelimit *rl, const struct ratelimit_config *cfg, uint64_t (*now_ns)(void))
{
	int r;

	memset(rl, 0, sizeof(*rl));
	rl->timer_fd = -1;
	rl->now_ns = now_ns ? now_ns : monotonic_ns;
	r = ratelimit_config_check(cfg);
	if (r)
		return r;
	if (!ratelimit_config_is_unlimited(cfg)) {
		r = timer_create_once(rl);
		if (r)
			return r;
	}
	buckets_reset(rl, cfg);
	return 0;
}

void ratelimit_destroy(struct ratelimit *rl)
{
	if (rl->timer_fd >= 0)
		close(rl->timer_fd);
	rl->timer_fd = -1;
	rl->blocked = false;
}

static struct rl_bucket_state *bucket_of(struct ratelimit *rl, enum rl_token_type type)
{
	return type == RL_OPS ? &rl->ops : &rl->bw;
}

/* Blocks the limiter until the timer fires in ns (at least RL_TIMER_MIN_MS).
 * If the timer cannot be armed the limiter stays unblocked: better an
 * unthrottled request than a queue that never resumes. */
static void block_for(struct ratelimit *rl, uint64_t ns)
{
	if (ns < RL_TIMER_MIN_MS * RL_NS_PER_MS)
		ns = RL_TIMER_MIN_MS * RL_NS_PER_MS;
	rl->blocked = timer_set(rl, ns) == 0;
}

bool ratelimit_consume(struct ratelimit *rl, uint64_t tokens, enum rl_token_type type)
{
	struct rl_bucket_state *b = bucket_of(rl, type);
	uint64_t now, wait;

	if (rl->blocked) {
		rl->throttled_count++;
		return false;
	}
	if (!b->cfg.size)
		return true;
	now = rl->now_ns();
	switch (rl_bucket_take(b, tokens, now)) {
	case RL_TAKE_OK:
		return true;
	case RL_TAKE_OVER:
		block_for(rl, rl_bucket_wait_ns(b, 0, now));
		return true;
	case RL_TAKE_REFUSED:
		break;
	}
	wait = rl_bucket_wait_ns(b, tokens, now);
	if (wait > RL_TIMER_MAX_MS * RL_NS_PER_MS)
		wait = RL_TIMER_MAX_MS * RL_NS_PER_MS;
	block_for(rl, wait);
	rl->throttled_count++;
	return false;
}

void ratelimit_replenish(struct ratelimit *rl, uint64_t tokens, enum rl_token_type type)
{
	rl_bucket_give(bucket_of(rl, type), tokens);
}

void ratelimit_timer_event(struct ratelimit *rl)
{
	uint64_t expirations;

	/* EAGAIN (not expired: a spurious call) is fine: unblocked anyway, the
	 * next consume re-arms the timer if the buckets are still short. */
	if (rl->timer_fd >= 0 && read(rl->timer_fd, &expirations, sizeof(expirations)) < 0)
		expirations = 0;
	rl->blocked = false;
}

static int unblock_with_timer(struct ratelimit *rl, bool need_timer)
{
	int r = 0;

	if (need_timer)
		r = timer_create_once(rl);
	if (!r && rl->timer_fd >= 0)
		r = timer_set(rl, 0);
	return r;
}

int ratelimit_update(struct ratelimit *rl, const struct ratelimit_config *cfg)
{
	int r = ratelimit_config_check(cfg);

	if (r)
		return r;
	r = unblock_with_timer(rl, !ratelimit_config_is_unlimited(cfg));
	if (r)
		return r;
	buckets_reset(rl, cfg);
	rl->blocked = false;
	return 0;
}

int ratelimit_restore(struct ratelimit *rl, const struct rl_bucket_state *bw,
		      const struct rl_bucket_state *ops)
{
	uint64_t now;
	int r;

	if (rl_bucket_state_check(bw) || rl_bucket_state_check(ops))
		return -EINVAL;
	r = unblock_with_timer(rl, bw->cfg.size || ops->cfg.size);
	if (r)
		return r;
	now = rl->now_ns();
	rl->bw = *bw;
	rl->ops = *ops;
	if (rl->bw.cfg.size)
		rl->bw.last_refill_ns = now;
	if (rl->ops.cfg.size)
		rl->ops.last_refill_ns = now;
	rl->blocked = false;
	return 0;
}
