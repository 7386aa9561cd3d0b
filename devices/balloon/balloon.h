/*
 * virtio-balloon device with Firecracker's semantics, exposed to the guest by
 * a virtio transport through balloon_virtio_ops.
 *
 * Settings (PUT /balloon): amount_mib is the target (configuration field
 * num_pages = amount_mib * 256 pages of 4 KiB); deflate_on_oom offers
 * DEFLATE_ON_OOM; stats_polling_interval_s > 0 offers STATS_VQ and polls the
 * guest's statistics that often; free_page_reporting offers REPORTING.
 * After boot only the target (PATCH /balloon) and the polling interval (PATCH
 * /balloon/statistics) change, and statistics can be neither enabled nor
 * disabled then (Firecracker's rule).
 *
 * Queues, in this order when negotiated (Linux numbers only the queues it
 * uses): inflateq, deflateq, statsq (STATS_VQ), reporting_vq (REPORTING).
 *  - inflateq: each chain's readable bytes are le32 PFNs (4 KiB pages), at
 *    most BALLOON_MAX_PFNS per chain (the rest is ignored and counted).  Each
 *    page is given back to the host (gmem_discard: MADV_DONTNEED); PFNs
 *    outside guest RAM are skipped and counted.  Returned with length 0.
 *  - deflateq: counted only; without MUST_TELL_HOST (not offered) the guest
 *    may reuse pages anyway, and a discarded page comes back zeroed on touch.
 *  - statsq: the device keeps the one buffer the driver gives it, parses its
 *    tag/value records (at most BALLOON_MAX_STATS, unknown tags ignored) and
 *    returns it at the next polling tick so the driver refills it.
 *  - reporting_vq: each buffer is a free range; its whole pages are
 *    discarded.  Returned with length 0.
 * The configuration space holds num_pages (read-only) and actual (written by
 * the driver); a new target signals a configuration change.
 *
 * At activation the device looks at its queues once, as after a kick: Linux
 * queues its first statistics buffer before DRIVER_OK, when the transport
 * drops kicks.
 *
 * Guest-error policy: a malformed ring or chain marks the device
 * DEVICE_NEEDS_RESET and it processes nothing more until the driver resets
 * it.  Bad PFNs, ranges and statistics records are skipped and counted; the
 * chain is still returned.  Host memory outside guest RAM is never touched.
 *
 * Threads: the transport calls the ops on a vCPU thread with its lock held;
 * balloon_process runs inline there unless a kick hook is given (then the VMM
 * calls it on its own thread).  balloon_dev_init/destroy, the event handler
 * and the API-facing setters run on the VMM thread.  A device mutex
 * serialises everything.
 */
#ifndef KILN_BALLOON_H
#define KILN_BALLOON_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/balloon/virtio_balloon_abi.h"
#include "devices/dev_events.h"
#include "devices/virtio/virtio_dev.h"
#include "devices/virtio/virtq.h"
#include "vmm/compiler.h"
#include "vmm/mem/gmem.h"

#define BALLOON_QUEUE_SIZE 256      /* QueueNumMax of every queue, as Firecracker */
#define BALLOON_MAX_PFNS 1024       /* PFNs taken from one inflate/deflate chain (Linux sends <= 256) */
#define BALLOON_MAX_STATS 64        /* records parsed from one statistics buffer */
#define BALLOON_PAGES_PER_MIB 256
#define BALLOON_MAX_MIB (UINT32_MAX / BALLOON_PAGES_PER_MIB) /* num_pages is 32 bits */
#define BALLOON_EVENT_STATS 1       /* token of the statistics timerfd */
#define BALLOON_MAX_INTERVAL 65535  /* seconds; Firecracker keeps the interval in 16 bits */

/* The queues a driver may use, by role. */
enum balloon_queue {
	BALLOON_Q_INFLATE,
	BALLOON_Q_DEFLATE,
	BALLOON_Q_STATS,
	BALLOON_Q_REPORTING,
	BALLOON_Q_NR,
};

/* Firecracker's balloon settings (GET/PUT /balloon). */
struct balloon_settings {
	uint32_t amount_mib;
	bool deflate_on_oom;
	uint32_t stats_polling_interval_s; /* 0: no statistics */
	bool free_page_reporting;
};

struct balloon_opts {
	struct balloon_settings settings;
	uint64_t mem_mib;  /* guest RAM: amount_mib may not exceed it; 0: no bound */
	/* Gives guest pages back to the host; NULL: gmem_discard.  A seam for
	 * fuzz targets that check every range. */
	int (*discard)(void *opaque, const struct gmem *mem, uint64_t gpa, uint64_t len);
	void *discard_opaque;
	/* Optional, as blk_opts: a notification only calls kick and the VMM
	 * calls balloon_process() later on its own thread. */
	void (*kick)(void *opaque);
	void *kick_opaque;
};

/* GET /balloon/statistics. */
struct balloon_dev_stats {
	uint32_t target_pages, actual_pages;
	uint32_t target_mib, actual_mib;
	uint32_t present;                  /* bit t: tag t reported at least once */
	uint64_t val[VIRTIO_BALLOON_S_NR]; /* latest value of each tag */
};

/* Host-side counters; not guest state, not saved. */
struct balloon_metrics {
	uint64_t inflate_count, inflated_pages;  /* chains; pages discarded */
	uint64_t deflate_count, deflated_pages;
	uint64_t bad_pfns;          /* PFNs outside guest RAM, skipped */
	uint64_t pfns_ignored;      /* PFNs beyond BALLOON_MAX_PFNS in a chain */
	uint64_t discard_fails;     /* pages the host refused to release */
	uint64_t stats_updates;     /* statistics buffers parsed */
	uint64_t stats_bad;         /* statistics buffers with a partial or excess record */
	uint64_t reported_ranges, reported_bytes;
	uint64_t queue_errors;      /* malformed rings/chains: DEVICE_NEEDS_RESET */
	uint64_t interrupts;        /* used-buffer notifications sent */
	uint64_t config_changes;    /* target changes signalled */
};

/* Guest-visible state for snapshots: plain data, untrusted on restore.  The
 * queues are saved by the transport. */
struct balloon_state {
	uint32_t target_pages;
	uint32_t actual_pages;
	uint32_t stats_interval_s;
	uint8_t deflate_on_oom, stats_enabled, reporting;
	uint8_t stats_held;         /* the device holds the statistics buffer */
	uint16_t stats_head;        /* its head, when held */
	uint16_t pad[3];
	uint32_t stats_present;
	uint32_t pad2;
	uint64_t stats[VIRTIO_BALLOON_S_NR];
};

/* Embedded in the VM; fields are private to the balloon unit and its tests. */
struct balloon_dev {
	pthread_mutex_t lock;
	bool deflate_on_oom, stats_enabled, reporting;
	uint64_t mem_mib;
	uint64_t features;          /* offered */
	int (*discard)(void *opaque, const struct gmem *mem, uint64_t gpa, uint64_t len);
	void *discard_opaque;
	void (*kick)(void *opaque);
	void *kick_opaque;
	struct dev_event_loop loop;
	int stats_fd;               /* timerfd, -1 without statistics */

	uint32_t target_pages, actual_pages;
	uint32_t stats_interval_s;
	bool stats_held;
	uint16_t stats_head;
	uint32_t stats_present;
	uint64_t stats[VIRTIO_BALLOON_S_NR];

	bool active;
	bool broken;                /* needs_reset already reported */
	const struct gmem *mem;
	struct virtq *q[BALLOON_Q_NR]; /* NULL: not negotiated */
	struct virtio_irq irq;

	struct virtq_chain chain;   /* scratch, under lock */
	uint32_t pfns[BALLOON_MAX_PFNS];
	struct virtio_balloon_stat records[BALLOON_MAX_STATS];
	struct balloon_metrics metrics;
};

/* Transport-facing ops; the device pointer is the struct balloon_dev. */
extern const struct virtio_dev_ops balloon_virtio_ops;

/* With statistics, creates the polling timerfd, arms it and watches it
 * (EPOLLIN, token BALLOON_EVENT_STATS) through loop (copied).  0, or -EINVAL
 * (amount_mib above mem_mib or BALLOON_MAX_MIB, an interval above BALLOON_MAX_INTERVAL,
 * no loop), or -errno (timerfd, watch, mutex). */
int balloon_dev_init(struct balloon_dev *b, const struct balloon_opts *opts, const struct dev_event_loop *loop)
	__must_check;
/* Unwatches and closes the timerfd.  The transport must be gone. */
void balloon_dev_destroy(struct balloon_dev *b);

/* Serves every available chain of every queue, then interrupts the guest if
 * it asked for it.  0 (also when inactive); -EIO when a queue is (or was
 * found) malformed and the device needs a reset. */
int balloon_process(struct balloon_dev *b);

/* dev_event_fn: the statistics timerfd fired (token BALLOON_EVENT_STATS). */
void balloon_event_handler(void *dev, uint32_t token, uint32_t events);

/* One polling tick: returns the held statistics buffer to the driver (which
 * refills it).  Nothing when no buffer is held or the device is inactive. */
void balloon_stats_tick(struct balloon_dev *b);

/* PATCH /balloon amount_mib: -EINVAL above mem_mib or BALLOON_MAX_MIB;
 * else the new num_pages, signalled to an active driver as a config change. */
int balloon_set_target(struct balloon_dev *b, uint32_t amount_mib) __must_check;

/* PATCH /balloon/statistics: a new polling interval, re-armed from now.
 * -EINVAL when statistics were not enabled at init, for 0 when they were
 * (they can be neither enabled nor disabled after boot), or above BALLOON_MAX_INTERVAL. */
int balloon_set_stats_interval(struct balloon_dev *b, uint32_t seconds) __must_check;

/* GET /balloon. */
void balloon_settings_get(struct balloon_dev *b, struct balloon_settings *s);

/* GET /balloon/statistics: -ENOTSUP when statistics are not enabled. */
int balloon_stats_get(struct balloon_dev *b, struct balloon_dev_stats *st) __must_check;

/* Firecracker's JSON name of statistics tag (swap_in, ..., direct_reclaim);
 * NULL for a tag >= VIRTIO_BALLOON_S_NR. */
const char *balloon_stat_name(unsigned int tag);

void balloon_metrics_get(struct balloon_dev *b, struct balloon_metrics *m);

/* Snapshot (VM paused). */
void balloon_save(struct balloon_dev *b, struct balloon_state *st);
/*
 * Loads st (untrusted) after vmmio_restore() has re-activated the device (a
 * held statistics buffer belongs to the restored statsq).  -EINVAL, device
 * unchanged, when the settings differ from the device's (the offered
 * features depend on them), the target is out of bounds, the interval does
 * not match statistics being enabled, unknown statistics bits are set, or a
 * held buffer's head is not inside an active statsq with a chain in flight.
 * Re-arms the polling timer.
 */
int balloon_restore(struct balloon_dev *b, const struct balloon_state *st) __must_check;

#endif
