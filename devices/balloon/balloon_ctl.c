/* virtio-balloon control side: the API-facing setters and getters, the
 * statistics timer event, metrics and snapshot state.  See balloon.h. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "devices/balloon/balloon.h"
#include "devices/balloon/balloon_priv.h"

void balloon_event_handler(void *dev, uint32_t token, uint32_t events)
{
	struct balloon_dev *b = dev;
	uint64_t expirations;

	if (token != BALLOON_EVENT_STATS || b->stats_fd < 0)
		return;
	/* Drains the timerfd (level-triggered); a spurious call still ticks. */
	if (read(b->stats_fd, &expirations, sizeof(expirations)) < 0)
		expirations = 0;
	balloon_stats_tick(b);
}

static bool target_ok(const struct balloon_dev *b, uint32_t amount_mib)
{
	return amount_mib <= BALLOON_MAX_MIB && (!b->mem_mib || amount_mib <= b->mem_mib);
}

int balloon_set_target(struct balloon_dev *b, uint32_t amount_mib)
{
	if (!target_ok(b, amount_mib))
		return -EINVAL;
	pthread_mutex_lock(&b->lock);
	b->target_pages = amount_mib * BALLOON_PAGES_PER_MIB;
	/* An inactive driver reads num_pages when it probes. */
	if (b->active) {
		b->metrics.config_changes++;
		virtio_irq_signal(&b->irq, VIRTIO_ISR_CONFIG);
	}
	pthread_mutex_unlock(&b->lock);
	return 0;
}

int balloon_set_stats_interval(struct balloon_dev *b, uint32_t seconds)
{
	int ret;

	if (!b->stats_enabled || !seconds || seconds > BALLOON_MAX_INTERVAL)
		return -EINVAL;
	pthread_mutex_lock(&b->lock);
	b->stats_interval_s = seconds;
	ret = balloon_timer_arm(b);
	pthread_mutex_unlock(&b->lock);
	return ret;
}

void balloon_settings_get(struct balloon_dev *b, struct balloon_settings *s)
{
	pthread_mutex_lock(&b->lock);
	s->amount_mib = b->target_pages / BALLOON_PAGES_PER_MIB;
	s->deflate_on_oom = b->deflate_on_oom;
	s->stats_polling_interval_s = b->stats_interval_s;
	s->free_page_reporting = b->reporting;
	pthread_mutex_unlock(&b->lock);
}

int balloon_stats_get(struct balloon_dev *b, struct balloon_dev_stats *st)
{
	if (!b->stats_enabled)
		return -ENOTSUP;
	pthread_mutex_lock(&b->lock);
	st->target_pages = b->target_pages;
	st->actual_pages = b->actual_pages;
	st->target_mib = b->target_pages / BALLOON_PAGES_PER_MIB;
	st->actual_mib = b->actual_pages / BALLOON_PAGES_PER_MIB;
	st->present = b->stats_present;
	memcpy(st->val, b->stats, sizeof(st->val));
	pthread_mutex_unlock(&b->lock);
	return 0;
}

const char *balloon_stat_name(unsigned int tag)
{
	static const char *const names[VIRTIO_BALLOON_S_NR] = {
		[VIRTIO_BALLOON_S_SWAP_IN] = "swap_in",
		[VIRTIO_BALLOON_S_SWAP_OUT] = "swap_out",
		[VIRTIO_BALLOON_S_MAJFLT] = "major_faults",
		[VIRTIO_BALLOON_S_MINFLT] = "minor_faults",
		[VIRTIO_BALLOON_S_MEMFREE] = "free_memory",
		[VIRTIO_BALLOON_S_MEMTOT] = "total_memory",
		[VIRTIO_BALLOON_S_AVAIL] = "available_memory",
		[VIRTIO_BALLOON_S_CACHES] = "disk_caches",
		[VIRTIO_BALLOON_S_HTLB_PGALLOC] = "hugetlb_allocations",
		[VIRTIO_BALLOON_S_HTLB_PGFAIL] = "hugetlb_failures",
		[VIRTIO_BALLOON_S_OOM_KILL] = "oom_kill",
		[VIRTIO_BALLOON_S_ALLOC_STALL] = "alloc_stall",
		[VIRTIO_BALLOON_S_ASYNC_SCAN] = "async_scan",
		[VIRTIO_BALLOON_S_DIRECT_SCAN] = "direct_scan",
		[VIRTIO_BALLOON_S_ASYNC_RECLAIM] = "async_reclaim",
		[VIRTIO_BALLOON_S_DIRECT_RECLAIM] = "direct_reclaim",
	};

	return tag < VIRTIO_BALLOON_S_NR ? names[tag] : NULL;
}

void balloon_metrics_get(struct balloon_dev *b, struct balloon_metrics *m)
{
	pthread_mutex_lock(&b->lock);
	*m = b->metrics;
	pthread_mutex_unlock(&b->lock);
}

void balloon_save(struct balloon_dev *b, struct balloon_state *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&b->lock);
	st->target_pages = b->target_pages;
	st->actual_pages = b->actual_pages;
	st->stats_interval_s = b->stats_interval_s;
	st->deflate_on_oom = b->deflate_on_oom;
	st->stats_enabled = b->stats_enabled;
	st->reporting = b->reporting;
	st->stats_held = b->stats_held;
	st->stats_head = b->stats_held ? b->stats_head : 0;
	st->stats_present = b->stats_present;
	memcpy(st->stats, b->stats, sizeof(st->stats));
	pthread_mutex_unlock(&b->lock);
}

/* A held statistics head must name a descriptor of the active statsq while
 * the queue has a chain in flight, or pushing it later would be a lie. */
static bool held_ok(const struct balloon_dev *b, const struct balloon_state *st)
{
	const struct virtq *q = b->q[BALLOON_Q_STATS];

	if (!st->stats_held)
		return st->stats_head == 0;
	return st->stats_held == 1 && b->active && q && st->stats_head < q->size && q->last_avail != q->next_used;
}

int balloon_restore(struct balloon_dev *b, const struct balloon_state *in)
{
	struct balloon_state st = *in; /* one copy of untrusted input, checked */
	int ret = -EINVAL;

	pthread_mutex_lock(&b->lock);
	if (st.deflate_on_oom != b->deflate_on_oom || st.stats_enabled != b->stats_enabled ||
	    st.reporting != b->reporting)
		goto out;
	if (st.target_pages % BALLOON_PAGES_PER_MIB || !target_ok(b, st.target_pages / BALLOON_PAGES_PER_MIB))
		goto out;
	if (b->stats_enabled ? !st.stats_interval_s || st.stats_interval_s > BALLOON_MAX_INTERVAL
			     : st.stats_interval_s != 0)
		goto out;
	if (st.stats_present >> VIRTIO_BALLOON_S_NR || !held_ok(b, &st))
		goto out;
	b->target_pages = st.target_pages;
	b->actual_pages = st.actual_pages;
	b->stats_interval_s = st.stats_interval_s;
	b->stats_held = st.stats_held;
	b->stats_head = st.stats_head;
	b->stats_present = st.stats_present;
	memcpy(b->stats, st.stats, sizeof(b->stats));
	ret = balloon_timer_arm(b);
out:
	pthread_mutex_unlock(&b->lock);
	return ret;
}
