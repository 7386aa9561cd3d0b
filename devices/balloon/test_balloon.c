/* virtio-balloon through the virtio-mmio transport, driven by the mock
 * driver: identity and queue numbering per feature set, configuration space
 * and target changes, inflation that really gives host pages back (mincore),
 * bad and excess PFNs, deflation, statistics held and returned on the timer,
 * free page reporting, malformed chains, the API rules and snapshots. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>

#include "devices/balloon/balloon_mock.h"

#define V1 VIRTIO_FEATURE(VIRTIO_F_VERSION_1)
#define F(bit) VIRTIO_FEATURE(VIRTIO_BALLOON_F_##bit)
#define PAGES 256 /* 1 MiB of mmap'd guest RAM */
#define ALL (~0ULL)

static struct balloon_mock bm;
static const struct balloon_opts full = {
	.settings = { .amount_mib = 0, .deflate_on_oom = true, .stats_polling_interval_s = 1,
		      .free_page_reporting = true },
	.mem_mib = 64,
};

static void start(const struct balloon_opts *o, uint64_t features)
{
	cr_assert_eq(balloon_mock_init(&bm, o, features, PAGES * 4096ULL), 0);
}

static void setup(void)
{
	start(&full, ALL);
}

static void teardown(void)
{
	balloon_mock_destroy(&bm);
}

TestSuite(balloon, .init = setup, .fini = teardown);

static struct balloon_metrics metrics(void)
{
	struct balloon_metrics m;

	balloon_metrics_get(&bm.dev, &m);
	return m;
}

static uint32_t cfg32(uint64_t off)
{
	return vmock_reg_read(&bm.m, VIRTIO_MMIO_CONFIG + off);
}

static bool needs_reset(void)
{
	return vmock_reg_read(&bm.m, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET;
}

/* Sends pfns on role's queue and checks the chain came back with length 0. */
static void send(enum balloon_queue role, const uint32_t *pfns, unsigned int n)
{
	uint16_t head = balloon_mock_pfns(&bm, role, pfns, n), h;
	uint32_t len = 99;

	cr_assert_eq(balloon_mock_used(&bm, role, &h, &len), 0, "chain not returned");
	cr_assert_eq(h, head);
	cr_assert_eq(len, 0);
}

Test(balloon, identity_features_and_queues)
{
	cr_assert_eq(vmock_reg_read(&bm.m, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_BALLOON);
	cr_assert_eq(vmock_device_features(&bm.m), V1 | F(DEFLATE_ON_OOM) | F(STATS_VQ) | F(REPORTING));
	for (uint32_t q = 0; q < 4; q++) {
		vmock_reg_write(&bm.m, VIRTIO_MMIO_QUEUE_SEL, q);
		cr_assert_eq(vmock_reg_read(&bm.m, VIRTIO_MMIO_QUEUE_NUM_MAX), BALLOON_QUEUE_SIZE);
	}
	vmock_reg_write(&bm.m, VIRTIO_MMIO_QUEUE_SEL, 4);
	cr_assert_eq(vmock_reg_read(&bm.m, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	balloon_mock_destroy(&bm);
	start(NULL, ALL);
	cr_assert_eq(vmock_device_features(&bm.m), V1, "defaults offer nothing optional");
	vmock_reg_write(&bm.m, VIRTIO_MMIO_QUEUE_SEL, 2);
	cr_assert_eq(vmock_reg_read(&bm.m, VIRTIO_MMIO_QUEUE_NUM_MAX), 0, "two queues only");
	cr_assert_eq(bm.loop.fd, -1, "no statistics: no timer");
}

Test(balloon, init_refuses_bad_settings)
{
	struct vmock_loop l = { .fd = -1 };
	struct dev_event_loop loop = vmock_event_loop(&l);
	struct balloon_opts o = { .settings.amount_mib = 65, .mem_mib = 64 };
	struct balloon_dev d;

	cr_assert_eq(balloon_dev_init(&d, &o, &loop), -EINVAL, "more than guest RAM");
	o = (struct balloon_opts){ .settings.amount_mib = BALLOON_MAX_MIB + 1 };
	cr_assert_eq(balloon_dev_init(&d, &o, &loop), -EINVAL, "num_pages overflows");
	o = (struct balloon_opts){ .settings.stats_polling_interval_s = BALLOON_MAX_INTERVAL + 1 };
	cr_assert_eq(balloon_dev_init(&d, &o, &loop), -EINVAL);
	o = (struct balloon_opts){ 0 };
	cr_assert_eq(balloon_dev_init(&d, &o, NULL), -EINVAL, "no loop");
	o.settings.stats_polling_interval_s = 3;
	l.fail_watch = -ENOSPC;
	cr_assert_eq(balloon_dev_init(&d, &o, &loop), -ENOSPC);
	cr_assert_eq(balloon_dev_init(&d, &o, &loop), 0);
	cr_assert_geq(l.fd, 0);
	cr_assert_eq(l.token, BALLOON_EVENT_STATS);
	cr_assert_eq(l.events, EPOLLIN);
	balloon_dev_destroy(&d);
	cr_assert_eq(l.fd, -1);
}

Test(balloon, config_space_target_and_actual)
{
	uint32_t v = 0xffffffff;
	uint8_t b = 0x12;

	cr_assert_eq(cfg32(0), 0);
	cr_assert_eq(balloon_set_target(&bm.dev, 10), 0);
	cr_assert_eq(cfg32(VIRTIO_BALLOON_CFG_NUM_PAGES), 2560);
	vmock_reg_write(&bm.m, VIRTIO_MMIO_CONFIG + VIRTIO_BALLOON_CFG_NUM_PAGES, 7);
	cr_assert_eq(cfg32(0), 2560, "num_pages is the device's");
	vmock_reg_write(&bm.m, VIRTIO_MMIO_CONFIG + VIRTIO_BALLOON_CFG_ACTUAL, 1234);
	cr_assert_eq(cfg32(VIRTIO_BALLOON_CFG_ACTUAL), 1234);
	vmmio_write(&bm.t, VIRTIO_MMIO_CONFIG + 7, &b, 1); /* the top byte alone */
	cr_assert_eq(cfg32(4), 0x120004d2);
	vmmio_write(&bm.t, VIRTIO_MMIO_CONFIG + 6, &v, 4); /* straddles the end */
	cr_assert_eq(cfg32(4), 0xffff04d2);
	cr_assert_eq(cfg32(0), 2560);
	cr_assert_eq(cfg32(8), 0, "hint and poison fields read 0");
	cr_assert_eq(cfg32(16), 0, "beyond the space");
}

Test(balloon, new_target_signals_a_config_change)
{
	unsigned int before = bm.irq_raises;
	struct balloon_settings s;

	cr_assert_eq(balloon_set_target(&bm.dev, 32), 0);
	cr_assert_eq(bm.irq_raises, before + 1);
	cr_assert(vmock_reg_read(&bm.m, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_ISR_CONFIG);
	cr_assert_eq(metrics().config_changes, 1);
	cr_assert_eq(balloon_set_target(&bm.dev, 65), -EINVAL, "more than guest RAM");
	cr_assert_eq(cfg32(0), 32 * 256);
	balloon_settings_get(&bm.dev, &s);
	cr_assert_eq(s.amount_mib, 32);
	cr_assert(s.deflate_on_oom);
	cr_assert_eq(s.stats_polling_interval_s, 1);
	cr_assert(s.free_page_reporting);
	vmock_reg_write(&bm.m, VIRTIO_MMIO_STATUS, 0); /* driver gone */
	cr_assert_eq(balloon_set_target(&bm.dev, 1), 0);
	cr_assert_eq(metrics().config_changes, 1, "nobody to tell");
	balloon_settings_get(&bm.dev, &s);
	cr_assert_eq(s.amount_mib, 1, "the driver reads it when it comes");
}

Test(balloon, inflate_gives_pages_back_to_the_host)
{
	uint32_t pfns[48];
	unsigned int n = 0;

	memset(bm.pages, 0x5a, 64 * 4096);
	cr_assert_eq(balloon_mock_resident(&bm, 0, 64), 64);
	for (unsigned int i = 0; i < 16; i++) /* a contiguous run, given backwards */
		pfns[n++] = balloon_mock_pfn(31 - i);
	for (unsigned int i = 0; i < 16; i++) /* scattered */
		pfns[n++] = balloon_mock_pfn(32 + 2 * i);
	pfns[n++] = balloon_mock_pfn(16); /* a duplicate */
	send(BALLOON_Q_INFLATE, pfns, n);
	cr_assert_eq(balloon_mock_resident(&bm, 0, 64), 32, "32 pages released");
	cr_assert_eq(balloon_mock_resident(&bm, 16, 16), 0);
	cr_assert_eq(balloon_mock_resident(&bm, 0, 16), 16, "neighbours untouched");
	for (unsigned int i = 32; i < 64; i++)
		cr_assert_eq(balloon_mock_resident(&bm, i, 1), i % 2, "page %u", i);
	cr_assert_eq(bm.pages[16 * 4096], 0, "a released page reads zero");
	cr_assert_eq(bm.pages[15 * 4096 + 4095], 0x5a);
	cr_assert_eq(metrics().inflate_count, 1);
	cr_assert_eq(metrics().inflated_pages, 32);
	cr_assert_eq(metrics().bad_pfns, 0);
}

Test(balloon, bad_pfns_are_skipped_and_counted)
{
	uint32_t pfns[] = {
		balloon_mock_pfn(PAGES),        /* one past the region */
		balloon_mock_pfn(3),
		0xffffffff,                     /* far outside */
		0,                              /* below all RAM */
		balloon_mock_pfn(PAGES - 1),    /* last page: fine */
		(uint32_t)(VMOCK_RAM_GPA >> 12), /* the calloc'd rings: refused, not corrupted */
	};

	memset(bm.pages, 0x77, bm.pages_size);
	send(BALLOON_Q_INFLATE, pfns, 6);
	cr_assert_eq(metrics().inflated_pages, 2);
	cr_assert_eq(metrics().bad_pfns, 3);
	cr_assert_eq(metrics().discard_fails, 1);
	cr_assert_eq(balloon_mock_resident(&bm, 0, PAGES), PAGES - 2);
	cr_assert_not(needs_reset());
	send(BALLOON_Q_INFLATE, pfns + 1, 1); /* the device still works */
}

Test(balloon, excess_pfns_in_one_chain_are_ignored)
{
	const unsigned int n = BALLOON_MAX_PFNS + 500;
	uint64_t at = vmock_alloc(&bm.m, n * 4ULL, 4);
	struct vmock_buf buf = { at, n * 4, false };
	uint16_t head, h;
	uint32_t len;

	for (unsigned int i = 0; i < n; i++) {
		uint32_t pfn = balloon_mock_pfn(i % PAGES);

		vmock_write(&bm.m, at + 4ULL * i, &pfn, 4);
	}
	vmock_chain_add(&bm.m, 0, &buf, 1, &head);
	vmock_avail_push(&bm.m, 0, head);
	vmock_notify(&bm.m, 0);
	cr_assert_eq(balloon_mock_used(&bm, BALLOON_Q_INFLATE, &h, &len), 0);
	cr_assert_eq(metrics().pfns_ignored, 500);
	cr_assert_eq(metrics().inflated_pages, PAGES, "1024 PFNs over 256 pages: each once");
}

Test(balloon, deflate_counts_and_keeps_pages)
{
	uint32_t pfns[8];

	memset(bm.pages, 1, 8 * 4096);
	for (unsigned int i = 0; i < 8; i++)
		pfns[i] = balloon_mock_pfn(i);
	send(BALLOON_Q_DEFLATE, pfns, 8);
	cr_assert_eq(metrics().deflate_count, 1);
	cr_assert_eq(metrics().deflated_pages, 8);
	cr_assert_eq(balloon_mock_resident(&bm, 0, 8), 8);
	cr_assert_eq(bm.pages[0], 1);
}

Test(balloon, statistics_are_held_parsed_and_returned_on_the_tick)
{
	uint16_t tags[] = { VIRTIO_BALLOON_S_MEMFREE, VIRTIO_BALLOON_S_MEMTOT, 99, VIRTIO_BALLOON_S_DIRECT_RECLAIM };
	uint64_t vals[] = { 1000, 5000, 7, 42 };
	struct balloon_dev_stats st;
	uint16_t head, h;
	uint32_t len;

	cr_assert_geq(bm.loop.fd, 0, "the polling timer is watched");
	cr_assert_eq(bm.loop.token, BALLOON_EVENT_STATS);
	head = balloon_mock_stats(&bm, tags, vals, 4);
	cr_assert_eq(balloon_mock_used(&bm, BALLOON_Q_STATS, &h, &len), -EAGAIN, "held until the tick");
	cr_assert_eq(balloon_stats_get(&bm.dev, &st), 0);
	cr_assert_eq(st.present, (1u << VIRTIO_BALLOON_S_MEMFREE) | (1u << VIRTIO_BALLOON_S_MEMTOT) |
				       (1u << VIRTIO_BALLOON_S_DIRECT_RECLAIM), "unknown tag 99 ignored");
	cr_assert_eq(st.val[VIRTIO_BALLOON_S_MEMFREE], 1000);
	cr_assert_eq(st.val[VIRTIO_BALLOON_S_MEMTOT], 5000);
	cr_assert_eq(st.val[VIRTIO_BALLOON_S_DIRECT_RECLAIM], 42);

	balloon_event_handler(&bm.dev, bm.loop.token, EPOLLIN);
	cr_assert_eq(balloon_mock_used(&bm, BALLOON_Q_STATS, &h, &len), 0, "returned on the tick");
	cr_assert_eq(h, head);
	cr_assert_eq(len, 0);
	balloon_stats_tick(&bm.dev);
	cr_assert_eq(balloon_mock_used(&bm, BALLOON_Q_STATS, &h, &len), -EAGAIN, "nothing held, nothing sent");

	vals[0] = 2000;
	balloon_mock_stats(&bm, tags, vals, 1); /* a refill may carry fewer tags */
	cr_assert_eq(balloon_stats_get(&bm.dev, &st), 0);
	cr_assert_eq(st.val[VIRTIO_BALLOON_S_MEMFREE], 2000);
	cr_assert_eq(st.val[VIRTIO_BALLOON_S_MEMTOT], 5000, "missing tags keep their value");
	cr_assert_eq(metrics().stats_updates, 2);
}

Test(balloon, statistics_report_sizes_in_pages_and_mib)
{
	struct balloon_dev_stats st;

	cr_assert_eq(balloon_set_target(&bm.dev, 3), 0);
	vmock_reg_write(&bm.m, VIRTIO_MMIO_CONFIG + VIRTIO_BALLOON_CFG_ACTUAL, 600);
	cr_assert_eq(balloon_stats_get(&bm.dev, &st), 0);
	cr_assert_eq(st.target_pages, 768);
	cr_assert_eq(st.target_mib, 3);
	cr_assert_eq(st.actual_pages, 600);
	cr_assert_eq(st.actual_mib, 2);
	cr_assert_eq(st.present, 0);
}

Test(balloon, statistics_names_are_firecrackers)
{
	cr_assert_str_eq(balloon_stat_name(VIRTIO_BALLOON_S_SWAP_IN), "swap_in");
	cr_assert_str_eq(balloon_stat_name(VIRTIO_BALLOON_S_MEMFREE), "free_memory");
	cr_assert_str_eq(balloon_stat_name(VIRTIO_BALLOON_S_HTLB_PGFAIL), "hugetlb_failures");
	cr_assert_str_eq(balloon_stat_name(VIRTIO_BALLOON_S_DIRECT_RECLAIM), "direct_reclaim");
	for (unsigned int t = 0; t < VIRTIO_BALLOON_S_NR; t++)
		cr_assert_not_null(balloon_stat_name(t), "tag %u", t);
	cr_assert_null(balloon_stat_name(VIRTIO_BALLOON_S_NR));
}

Test(balloon, a_second_stats_buffer_returns_the_first)
{
	uint16_t tags[] = { 1 };
	uint64_t vals[] = { 9 };
	uint16_t first, h;
	uint32_t len;
	struct balloon_dev_stats st;
	struct vmock_buf odd;

	first = balloon_mock_stats(&bm, tags, vals, 1);
	balloon_mock_stats(&bm, tags, vals, 1);
	cr_assert_eq(balloon_mock_used(&bm, BALLOON_Q_STATS, &h, &len), 0);
	cr_assert_eq(h, first);
	cr_assert_eq(balloon_mock_used(&bm, BALLOON_Q_STATS, &h, &len), -EAGAIN);
	/* 15 bytes: one record and half of another */
	odd = (struct vmock_buf){ vmock_alloc(&bm.m, 16, 2), 15, false };
	vmock_write(&bm.m, odd.gpa, &(struct virtio_balloon_stat){ .tag = 4, .val = 77 }, 10);
	vmock_chain_add(&bm.m, 2, &odd, 1, &h);
	vmock_avail_push(&bm.m, 2, h);
	vmock_notify(&bm.m, 2);
	cr_assert_eq(metrics().stats_bad, 1);
	cr_assert_eq(balloon_stats_get(&bm.dev, &st), 0);
	cr_assert_eq(st.val[4], 77, "whole records still count");
}

Test(balloon, stats_interval_rules)
{
	struct itimerspec its;

	cr_assert_eq(balloon_set_stats_interval(&bm.dev, 0), -EINVAL, "cannot disable after boot");
	cr_assert_eq(balloon_set_stats_interval(&bm.dev, BALLOON_MAX_INTERVAL + 1), -EINVAL);
	cr_assert_eq(balloon_set_stats_interval(&bm.dev, 5), 0);
	cr_assert_eq(timerfd_gettime(bm.loop.fd, &its), 0);
	cr_assert_eq(its.it_interval.tv_sec, 5, "re-armed with the new period");
	balloon_mock_destroy(&bm);
	start(NULL, ALL);
	cr_assert_eq(balloon_set_stats_interval(&bm.dev, 5), -EINVAL, "cannot enable after boot");
	cr_assert_eq(balloon_stats_get(&bm.dev, &(struct balloon_dev_stats){ 0 }), -ENOTSUP);
}

Test(balloon, reporting_discards_whole_pages_of_each_range)
{
	uint64_t base = BALLOON_MOCK_PAGES_GPA;
	uint64_t gpas[] = { base, base + 10 * 4096 + 100, base + 30 * 4096 };
	uint32_t lens[] = { 4 * 4096, 3 * 4096, 100 };
	uint16_t head, h;
	uint32_t len;

	memset(bm.pages, 3, 40 * 4096);
	head = balloon_mock_report(&bm, gpas, lens, 3);
	cr_assert_eq(balloon_mock_used(&bm, BALLOON_Q_REPORTING, &h, &len), 0);
	cr_assert_eq(h, head);
	cr_assert_eq(balloon_mock_resident(&bm, 0, 4), 0);
	cr_assert_eq(balloon_mock_resident(&bm, 10, 4), 2, "the partial first and last pages stay");
	cr_assert_eq(balloon_mock_resident(&bm, 11, 2), 0);
	cr_assert_eq(balloon_mock_resident(&bm, 30, 1), 1, "less than a page: nothing");
	cr_assert_eq(metrics().reported_ranges, 3);
	cr_assert_eq(metrics().reported_bytes, 6 * 4096);
}

Test(balloon, reporting_queue_follows_inflate_and_deflate_without_stats)
{
	uint64_t gpa = BALLOON_MOCK_PAGES_GPA;
	uint32_t lens = 4096;
	uint16_t h;
	uint32_t len;

	cr_assert_eq(balloon_mock_negotiate(&bm, V1 | F(REPORTING)), 0);
	cr_assert_eq(balloon_mock_qidx(&bm, BALLOON_Q_REPORTING), 2);
	bm.pages[0] = 1;
	balloon_mock_report(&bm, &gpa, &lens, 1);
	cr_assert_eq(balloon_mock_used(&bm, BALLOON_Q_REPORTING, &h, &len), 0);
	cr_assert_eq(balloon_mock_resident(&bm, 0, 1), 0);
}

Test(balloon, a_queue_the_features_call_for_must_be_ready)
{
	/* STATS_VQ negotiated but only two queues set up: refused at DRIVER_OK. */
	vmock_clear(&bm.m);
	cr_assert_eq(vmock_negotiate(&bm.m, V1 | F(STATS_VQ), 2, 0), -EPROTO);
	cr_assert(needs_reset());
}

Test(balloon, malformed_chain_needs_reset_until_renegotiation)
{
	uint32_t pfn = balloon_mock_pfn(0);
	uint16_t h;
	uint32_t len;

	vmock_desc_write(&bm.m, 0, 0, VMOCK_RAM_GPA, 4, VIRTQ_DESC_F_NEXT, 0); /* a loop */
	vmock_avail_push(&bm.m, 0, 0);
	vmock_notify(&bm.m, 0);
	cr_assert(needs_reset());
	cr_assert_eq(metrics().queue_errors, 1);
	balloon_mock_pfns(&bm, BALLOON_Q_DEFLATE, &pfn, 1);
	cr_assert_eq(balloon_mock_used(&bm, BALLOON_Q_DEFLATE, &h, &len), -EAGAIN, "nothing served while broken");
	cr_assert_eq(balloon_process(&bm.dev), -EIO);
	cr_assert_eq(balloon_mock_negotiate(&bm, ALL), 0);
	send(BALLOON_Q_DEFLATE, &pfn, 1);
}

Test(balloon, snapshot_round_trip_keeps_the_held_stats_buffer)
{
	uint16_t tags[] = { VIRTIO_BALLOON_S_SWAP_IN };
	uint64_t vals[] = { 321 };
	struct balloon_state st, bad;
	struct vmmio_state ts;
	struct balloon_dev_stats s;
	uint16_t head, h;
	uint32_t len;

	cr_assert_eq(balloon_set_target(&bm.dev, 8), 0);
	vmock_reg_write(&bm.m, VIRTIO_MMIO_CONFIG + VIRTIO_BALLOON_CFG_ACTUAL, 100);
	head = balloon_mock_stats(&bm, tags, vals, 1);
	balloon_save(&bm.dev, &st);
	vmmio_save(&bm.t, &ts);
	cr_assert_eq(st.stats_held, 1);
	cr_assert_eq(st.stats_head, head);
	cr_assert_eq(st.target_pages, 2048);

	/* The VM goes on and forgets; then the snapshot comes back. */
	cr_assert_eq(balloon_set_target(&bm.dev, 1), 0);
	vmock_reg_write(&bm.m, VIRTIO_MMIO_STATUS, 0);
	cr_assert_eq(vmmio_restore(&bm.t, &ts), 0);

	bad = st;
	bad.deflate_on_oom = 0;
	cr_assert_eq(balloon_restore(&bm.dev, &bad), -EINVAL, "settings differ");
	bad = st;
	bad.stats_present |= 1u << 20;
	cr_assert_eq(balloon_restore(&bm.dev, &bad), -EINVAL, "unknown statistic");
	bad = st;
	bad.stats_head = BALLOON_QUEUE_SIZE;
	cr_assert_eq(balloon_restore(&bm.dev, &bad), -EINVAL, "head outside the queue");
	bad = st;
	bad.stats_interval_s = 0;
	cr_assert_eq(balloon_restore(&bm.dev, &bad), -EINVAL, "statistics on without an interval");
	bad = st;
	bad.target_pages = 65 * 256;
	cr_assert_eq(balloon_restore(&bm.dev, &bad), -EINVAL, "target above guest RAM");
	bad = st;
	bad.stats_held = 2;
	cr_assert_eq(balloon_restore(&bm.dev, &bad), -EINVAL);
	cr_assert_eq(cfg32(0), 256, "refused restores changed nothing");

	cr_assert_eq(balloon_restore(&bm.dev, &st), 0);
	cr_assert_eq(cfg32(0), 2048);
	cr_assert_eq(cfg32(4), 100);
	cr_assert_eq(balloon_stats_get(&bm.dev, &s), 0);
	cr_assert_eq(s.val[VIRTIO_BALLOON_S_SWAP_IN], 321);
	balloon_stats_tick(&bm.dev);
	cr_assert_eq(balloon_mock_used(&bm, BALLOON_Q_STATS, &h, &len), 0, "the held buffer goes back");
	cr_assert_eq(h, head);
}

Test(balloon, restore_refuses_a_held_buffer_without_a_driver)
{
	struct balloon_state st;

	balloon_mock_stats(&bm, (uint16_t[]){ 0 }, (uint64_t[]){ 1 }, 1);
	balloon_save(&bm.dev, &st);
	vmock_reg_write(&bm.m, VIRTIO_MMIO_STATUS, 0);
	cr_assert_eq(balloon_restore(&bm.dev, &st), -EINVAL);
	st.stats_held = 0;
	st.stats_head = 0;
	cr_assert_eq(balloon_restore(&bm.dev, &st), 0);
}

Test(balloon, buffers_offered_before_driver_ok_are_taken_at_activation)
{
	struct virtio_balloon_stat rec = { .tag = VIRTIO_BALLOON_S_MEMTOT, .val = 4096 };
	struct vmock_buf buf = { vmock_alloc(&bm.m, sizeof(rec), 8), sizeof(rec), false };
	struct balloon_dev_stats st;
	struct vmmio_state ts;
	uint16_t head;

	/* As Linux's probe: the buffer is queued (its kick would be dropped)
	 * while the device is not live; here through a reset and a restore. */
	vmock_write(&bm.m, buf.gpa, &rec, sizeof(rec));
	vmock_chain_add(&bm.m, 2, &buf, 1, &head);
	vmock_avail_push(&bm.m, 2, head);
	vmmio_save(&bm.t, &ts);
	vmock_reg_write(&bm.m, VIRTIO_MMIO_STATUS, 0);
	cr_assert_eq(balloon_stats_get(&bm.dev, &st), 0);
	cr_assert_eq(st.present, 0);
	cr_assert_eq(vmmio_restore(&bm.t, &ts), 0);
	cr_assert_eq(balloon_stats_get(&bm.dev, &st), 0);
	cr_assert_eq(st.val[VIRTIO_BALLOON_S_MEMTOT], 4096, "taken when the device went live");
	cr_assert(bm.dev.stats_held);
	cr_assert_eq(bm.dev.stats_head, head);
}

static unsigned int kicks;

static void count_kick(void *opaque)
{
	kicks++;
}

Test(balloon, kick_defers_processing)
{
	struct balloon_opts o = full;
	uint32_t pfn = balloon_mock_pfn(0);
	uint16_t h;
	uint32_t len;

	o.kick = count_kick;
	balloon_mock_destroy(&bm);
	start(&o, ALL);
	kicks = 0;
	balloon_mock_pfns(&bm, BALLOON_Q_INFLATE, &pfn, 1);
	cr_assert_eq(kicks, 1);
	cr_assert_eq(balloon_mock_used(&bm, BALLOON_Q_INFLATE, &h, &len), -EAGAIN);
	cr_assert_eq(balloon_process(&bm.dev), 0);
	cr_assert_eq(balloon_mock_used(&bm, BALLOON_Q_INFLATE, &h, &len), 0);
}
