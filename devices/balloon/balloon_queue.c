/* virtio-balloon queue processing: inflate (discard pages), deflate (count),
 * statistics (parse and hold the buffer) and free page reporting (discard
 * ranges).  See balloon.h for the policies. */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/balloon/balloon.h"
#include "vmm/log/log.h"

#define PAGE VIRTIO_BALLOON_PAGE_SIZE

/* Copies up to BALLOON_MAX_PFNS PFNs of the chain into b->pfns; returns
 * how many (or -errno, which a validated chain does not give). */
static int read_pfns(struct balloon_dev *b)
{
	uint32_t n = b->chain.readable_len / sizeof(le32);
	int ret;

	if (n > BALLOON_MAX_PFNS) {
		b->metrics.pfns_ignored += n - BALLOON_MAX_PFNS;
		n = BALLOON_MAX_PFNS;
	}
	ret = virtq_chain_read(&b->chain, b->mem, 0, b->pfns, (size_t)n * sizeof(le32));
	if (ret)
		return ret;
	for (uint32_t i = 0; i < n; i++)
		b->pfns[i] = le32toh(b->pfns[i]);
	return (int)n;
}

static int cmp_pfn(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Discards pages [pfn, pfn + count) one by one (after a range failed). */
static void discard_pages(struct balloon_dev *b, uint64_t pfn, uint64_t count)
{
	for (uint64_t i = 0; i < count; i++) {
		int ret = b->discard(b->discard_opaque, b->mem, (pfn + i) * PAGE, PAGE);

		if (!ret)
			b->metrics.inflated_pages++;
		else if (ret == -EFAULT)
			b->metrics.bad_pfns++;
		else
			b->metrics.discard_fails++;
	}
}

/* Sorted, duplicates dropped, runs of consecutive PFNs as one range: one
 * madvise for what Linux usually sends as neighbours. */
static void inflate(struct balloon_dev *b, uint32_t n)
{
	uint32_t i = 0;

	qsort(b->pfns, n, sizeof(b->pfns[0]), cmp_pfn);
	while (i < n) {
		uint64_t start = b->pfns[i], count = 1;

		for (i++; i < n && b->pfns[i] <= start + count; i++)
			count = b->pfns[i] - start + 1;
		if (!b->discard(b->discard_opaque, b->mem, start * PAGE, count * PAGE))
			b->metrics.inflated_pages += count;
		else
			discard_pages(b, start, count); /* find the bad ones */
	}
}

/* A statistics buffer: the latest value of each known tag. */
static void parse_stats(struct balloon_dev *b)
{
	const uint32_t rec = sizeof(struct virtio_balloon_stat);
	uint32_t n = b->chain.readable_len / rec;

	if (b->chain.readable_len % rec || n > BALLOON_MAX_STATS || !n)
		b->metrics.stats_bad++;
	if (n > BALLOON_MAX_STATS)
		n = BALLOON_MAX_STATS;
	if (virtq_chain_read(&b->chain, b->mem, 0, b->records, (size_t)n * rec))
		return;
	for (uint32_t i = 0; i < n; i++) {
		uint16_t tag = le16toh(b->records[i].tag);

		if (tag >= VIRTIO_BALLOON_S_NR)
			continue; /* a newer driver's statistic */
		b->stats[tag] = le64toh(b->records[i].val);
		b->stats_present |= 1u << tag;
	}
	b->metrics.stats_updates++;
}

/* The whole pages of each buffer of a reporting chain, given back. */
static void report(struct balloon_dev *b)
{
	for (unsigned int i = 0; i < b->chain.nr_bufs; i++) {
		const struct virtq_buf *buf = &b->chain.bufs[i];
		uint64_t start = (buf->addr + PAGE - 1) & ~(uint64_t)(PAGE - 1);
		uint64_t end = (buf->addr + buf->len) & ~(uint64_t)(PAGE - 1);

		b->metrics.reported_ranges++;
		if (end <= start)
			continue;
		if (b->discard(b->discard_opaque, b->mem, start, end - start))
			b->metrics.discard_fails++;
		else
			b->metrics.reported_bytes += end - start;
	}
}

/* Serves one popped chain of queue role; 0 or -errno from a push. */
static int serve(struct balloon_dev *b, enum balloon_queue role)
{
	struct virtq *q = b->q[role];
	int n;

	switch (role) {
	case BALLOON_Q_INFLATE:
	case BALLOON_Q_DEFLATE:
		n = read_pfns(b);
		if (n < 0)
			return n;
		if (role == BALLOON_Q_INFLATE) {
			inflate(b, (uint32_t)n);
			b->metrics.inflate_count++;
		} else {
			b->metrics.deflated_pages += (uint32_t)n;
			b->metrics.deflate_count++;
		}
		break;
	case BALLOON_Q_STATS:
		parse_stats(b);
		/* One buffer in the device's hands: a second one sends the
		 * first back rather than leaking it. */
		if (b->stats_held) {
			int ret = virtq_push(q, b->stats_head, 0);

			if (ret)
				return ret;
		}
		b->stats_held = true;
		b->stats_head = b->chain.head;
		return 0;
	case BALLOON_Q_REPORTING:
		report(b);
		break;
	default:
		return -EINVAL;
	}
	return virtq_push(q, b->chain.head, 0);
}

static int drain(struct balloon_dev *b, enum balloon_queue role)
{
	struct virtq *q = b->q[role];
	int ret;

	do {
		while ((ret = virtq_pop(q, &b->chain)) == 0) {
			ret = serve(b, role);
			if (ret)
				return ret;
		}
		if (ret != -EAGAIN)
			return ret;
	} while (virtq_notify_enable(q));
	return 0;
}

/* Interrupts the driver if anything pushed on any queue asks for it. */
static void notify_driver(struct balloon_dev *b)
{
	bool want = false;

	for (unsigned int role = 0; role < BALLOON_Q_NR; role++)
		if (b->q[role] && virtq_needs_notify(b->q[role]))
			want = true;
	if (want) {
		b->metrics.interrupts++;
		virtio_irq_signal(&b->irq, VIRTIO_ISR_USED);
	}
}

int balloon_process(struct balloon_dev *b)
{
	int ret = 0;

	pthread_mutex_lock(&b->lock);
	if (!b->active)
		goto out;
	if (b->broken) {
		ret = -EIO;
		goto out;
	}
	for (unsigned int role = 0; role < BALLOON_Q_NR && !ret; role++)
		if (b->q[role])
			ret = drain(b, role);
	if (ret) {
		LOG_DEBUG("virtio-balloon: malformed queue (%s), device needs reset", strerror(-ret));
		b->metrics.queue_errors++;
		b->broken = true;
		virtio_irq_needs_reset(&b->irq);
		ret = -EIO;
	}
	notify_driver(b);
out:
	pthread_mutex_unlock(&b->lock);
	return ret;
}

void balloon_stats_tick(struct balloon_dev *b)
{
	pthread_mutex_lock(&b->lock);
	if (b->active && !b->broken && b->q[BALLOON_Q_STATS] && b->stats_held) {
		if (virtq_push(b->q[BALLOON_Q_STATS], b->stats_head, 0)) {
			/* Only a restored head the queue disowns gets here. */
			b->metrics.queue_errors++;
			b->broken = true;
			virtio_irq_needs_reset(&b->irq);
		}
		b->stats_held = false;
		notify_driver(b);
	}
	pthread_mutex_unlock(&b->lock);
}
