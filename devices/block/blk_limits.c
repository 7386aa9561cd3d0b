/* virtio-blk rate limiting (Firecracker's drive rate_limiter) and the fds
 * the device asks the VMM loop to watch.  See blk.h. */
#include <errno.h>
#include <sys/epoll.h>

#include "devices/block/blk_priv.h"

/* Bandwidth tokens: the data a request moves. */
static uint64_t request_bytes(const struct blk_req *r, int parse_ret)
{
	if (parse_ret)
		return 0;
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
	case VIRTIO_BLK_T_GET_ID:
		return r->data_len;
	default:
		return 0;
	}
}

bool blk_limits_admit(struct blk_dev *b, const struct blk_req *r, int parse_ret)
{
	uint64_t bytes = request_bytes(r, parse_ret);

	if (!ratelimit_consume(&b->rl, 1, RL_OPS))
		return false;
	if (bytes && !ratelimit_consume(&b->rl, bytes, RL_BYTES)) {
		ratelimit_replenish(&b->rl, 1, RL_OPS);
		return false;
	}
	return true;
}

void blk_limits_refund(struct blk_dev *b, const struct blk_req *r, int parse_ret)
{
	uint64_t bytes = request_bytes(r, parse_ret);

	ratelimit_replenish(&b->rl, 1, RL_OPS);
	if (bytes)
		ratelimit_replenish(&b->rl, bytes, RL_BYTES);
}

int blk_watch_fds(struct blk_dev *b)
{
	int rl_fd = ratelimit_fd(&b->rl);
	int be_fd = blk_backend_is_async(&b->be) ? b->be.event_fd : -1;
	int ret;

	if ((rl_fd >= 0 && rl_fd != b->watched_rl_fd) || (be_fd >= 0 && be_fd != b->watched_be_fd)) {
		if (!b->has_events)
			return -EINVAL;
	}
	if (rl_fd >= 0 && rl_fd != b->watched_rl_fd) {
		ret = dev_watch(&b->events, rl_fd, EPOLLIN, BLK_EVENT_RATELIMIT);
		if (ret)
			return ret;
		b->watched_rl_fd = rl_fd;
	}
	if (be_fd >= 0 && be_fd != b->watched_be_fd) {
		ret = dev_watch(&b->events, be_fd, EPOLLIN, BLK_EVENT_COMPLETION);
		if (ret)
			return ret;
		b->watched_be_fd = be_fd;
	}
	return 0;
}

void blk_unwatch_fds(struct blk_dev *b)
{
	if (b->watched_rl_fd >= 0)
		dev_unwatch(&b->events, b->watched_rl_fd);
	if (b->watched_be_fd >= 0)
		dev_unwatch(&b->events, b->watched_be_fd);
	b->watched_rl_fd = -1;
	b->watched_be_fd = -1;
}

int blk_ratelimit_fd(struct blk_dev *b)
{
	int fd;

	pthread_mutex_lock(&b->lock);
	fd = ratelimit_fd(&b->rl);
	pthread_mutex_unlock(&b->lock);
	return fd;
}

int blk_completion_fd(struct blk_dev *b)
{
	int fd;

	pthread_mutex_lock(&b->lock);
	fd = blk_backend_is_async(&b->be) ? b->be.event_fd : -1;
	pthread_mutex_unlock(&b->lock);
	return fd;
}

int blk_dev_update_ratelimit(struct blk_dev *b, const struct ratelimit_config *cfg)
{
	int ret = ratelimit_config_check(cfg);

	if (ret)
		return ret;
	pthread_mutex_lock(&b->lock);
	/* A limiter without a timerfd gets one: only with a loop to watch it. */
	if (ratelimit_fd(&b->rl) < 0 && !ratelimit_config_is_unlimited(cfg) && !b->has_events) {
		ret = -EINVAL;
		goto out;
	}
	ret = ratelimit_update(&b->rl, cfg);
	if (ret)
		goto out;
	ret = blk_watch_fds(b);
	if (ret)
		goto out; /* the limiter is updated; its timer is not watched */
	/* A chain throttled under the old limits goes now, under the new. */
	(void)blk_process_locked(b);
out:
	pthread_mutex_unlock(&b->lock);
	return ret;
}
