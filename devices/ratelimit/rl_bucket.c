/* Token bucket arithmetic: see rl_bucket.h. */
#include "devices/ratelimit/rl_bucket.h"

#include <errno.h>
#include <string.h>

typedef unsigned __int128 u128;

int rl_bucket_config_check(const struct rl_bucket_config *cfg)
{
	if (!cfg->size)
		return 0;
	if (!cfg->refill_time_ms || cfg->refill_time_ms > UINT64_MAX / RL_NS_PER_MS)
		return -EINVAL;
	return 0;
}

static uint64_t refill_ns(const struct rl_bucket_state *b)
{
	return b->cfg.refill_time_ms * RL_NS_PER_MS;
}

void rl_bucket_reset(struct rl_bucket_state *b, const struct rl_bucket_config *cfg, uint64_t now)
{
	memset(b, 0, sizeof(*b));
	if (!cfg->size)
		return;
	b->cfg = *cfg;
	b->budget = cfg->size;
	b->burst_left = cfg->one_time_burst;
	b->last_refill_ns = now;
}

void rl_bucket_refill(struct rl_bucket_state *b, uint64_t now)
{
	u128 missing, earned;
	uint64_t elapsed, r, t;

	if (!b->cfg.size)
		return;
	missing = (u128)b->debt + (b->cfg.size - b->budget);
	if (!missing || now < b->last_refill_ns) {
		b->last_refill_ns = now;
		return;
	}
	elapsed = now - b->last_refill_ns;
	r = refill_ns(b);
	earned = (u128)elapsed * b->cfg.size / r;
	if (earned >= missing) {
		b->debt = 0;
		b->budget = b->cfg.size;
		b->last_refill_ns = now;
		return;
	}
	if (!earned)
		return;
	/* The time the earned tokens cost, rounded up: never faster than the
	 * configured rate.  earned * r / size <= elapsed, so this cannot pass now. */
	b->last_refill_ns += (uint64_t)((earned * r + b->cfg.size - 1) / b->cfg.size);
	if (earned <= b->debt) {
		b->debt -= (uint64_t)earned;
		return;
	}
	/* earned < missing: what is left after the debt fits below size. */
	t = (uint64_t)(earned - b->debt);
	b->debt = 0;
	b->budget += t;
}

enum rl_take_result rl_bucket_take(struct rl_bucket_state *b, uint64_t tokens, uint64_t now)
{
	u128 avail;

	if (!b->cfg.size)
		return RL_TAKE_OK;
	rl_bucket_refill(b, now);
	if (b->debt)
		return RL_TAKE_REFUSED;
	avail = (u128)b->burst_left + b->budget;
	if (tokens <= avail) {
		if (tokens <= b->burst_left) {
			b->burst_left -= tokens;
		} else {
			b->budget -= tokens - b->burst_left;
			b->burst_left = 0;
		}
		return RL_TAKE_OK;
	}
	if ((u128)tokens > (u128)b->burst_left + b->cfg.size) {
		b->debt = (uint64_t)(tokens - avail);
		b->burst_left = 0;
		b->budget = 0;
		return RL_TAKE_OVER;
	}
	return RL_TAKE_REFUSED;
}

void rl_bucket_give(struct rl_bucket_state *b, uint64_t tokens)
{
	uint64_t n;

	if (!b->cfg.size)
		return;
	n = tokens < b->debt ? tokens : b->debt;
	b->debt -= n;
	tokens -= n;
	n = b->cfg.size - b->budget;
	n = tokens < n ? tokens : n;
	b->budget += n;
	tokens -= n;
	n = b->cfg.one_time_burst - b->burst_left;
	n = tokens < n ? tokens : n;
	b->burst_left += n;
}

uint64_t rl_bucket_wait_ns(const struct rl_bucket_state *b, uint64_t tokens, uint64_t now)
{
	const u128 max = ~(u128)0;
	u128 need, have, q, t;
	uint64_t r, s = b->cfg.size, elapsed;

	if (!s)
		return 0;
	have = (u128)b->burst_left + b->budget;
	need = b->debt;
	/* More than the whole bucket passes once the debt is paid. */
	if ((u128)tokens <= (u128)b->burst_left + s && tokens > have)
		need += tokens - have;
	if (!need)
		return 0;
	r = refill_ns(b);
	/* Smallest t with floor(t * s / r) >= need, i.e. ceil(need * r / s),
	 * split so the product cannot overflow 128 bits. */
	q = need / s;
	if (q && r > max / q)
		return UINT64_MAX;
	t = q * r + ((need % s) * r + s - 1) / s;
	elapsed = now > b->last_refill_ns ? now - b->last_refill_ns : 0;
	if (t <= elapsed)
		return 0;
	t -= elapsed;
	return t > UINT64_MAX ? UINT64_MAX : (uint64_t)t;
}

int rl_bucket_state_check(const struct rl_bucket_state *b)
{
	if (rl_bucket_config_check(&b->cfg))
		return -EINVAL;
	if (!b->cfg.size) {
		static const struct rl_bucket_state absent;

		return memcmp(b, &absent, sizeof(*b)) ? -EINVAL : 0;
	}
	if (b->budget > b->cfg.size || b->burst_left > b->cfg.one_time_burst)
		return -EINVAL;
	return 0;
}
