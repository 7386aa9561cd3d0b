/* virtio-blk snapshot state and quiescing before a save.  See blk.h. */
#include <errno.h>
#include <string.h>

#include "devices/block/blk_priv.h"

void blk_dev_quiesce(struct blk_dev *b)
{
	pthread_mutex_lock(&b->lock);
	if (b->active && blk_is_async(b)) {
		if (blk_async_reap(b, true) < 0 && !b->broken) {
			b->metrics.queue_errors++;
			b->broken = true;
			virtio_irq_needs_reset(&b->irq);
		}
		blk_signal_used(b);
	}
	if (b->active && b->pending) {
		/* The pending chain is the last one popped (nothing is popped
		 * past it): stepping the queue back one entry makes its avail
		 * entry the next to pop, as if it had never been taken. */
		if (b->pending_charged)
			blk_limits_refund(b, &b->pending_req, b->pending_parse);
		b->q->last_avail--;
		b->pending = false;
	}
	pthread_mutex_unlock(&b->lock);
}

void blk_state_save(struct blk_dev *b, struct blk_state *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&b->lock);
	st->capacity = b->capacity;
	st->features = b->features;
	memcpy(st->id, b->id, sizeof(st->id));
	st->broken = b->broken;
	st->rl_bw = b->rl.bw;
	st->rl_ops = b->rl.ops;
	pthread_mutex_unlock(&b->lock);
}

int blk_state_restore(struct blk_dev *b, const struct blk_state *st)
{
	int ret = -EINVAL;

	pthread_mutex_lock(&b->lock);
	if (st->features != b->features || st->broken > 1 ||
	    st->capacity > (b->be.size >> VIRTIO_BLK_SECTOR_SHIFT))
		goto out;
	if (ratelimit_fd(&b->rl) < 0 && (st->rl_bw.cfg.size || st->rl_ops.cfg.size) && !b->has_events)
		goto out; /* a limiter whose timer nobody would watch */
	ret = ratelimit_restore(&b->rl, &st->rl_bw, &st->rl_ops);
	if (ret)
		goto out;
	ret = blk_watch_fds(b);
	if (ret)
		goto out;
	b->capacity = st->capacity;
	memcpy(b->id, st->id, sizeof(b->id));
	b->broken = st->broken;
out:
	pthread_mutex_unlock(&b->lock);
	return ret;
}
