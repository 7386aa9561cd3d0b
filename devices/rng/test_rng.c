/* virtio-rng through the virtio-mmio transport, driven by the mock driver
 * with the deterministic source: identity, filling every layout, the
 * per-request cap, empty chains, source failures, malformed chains, the rate
 * limiter's stall and resume through the event loop, updates, snapshots and
 * the getrandom source itself. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>

#include "devices/rng/rng_mock.h"

#define V1 VIRTIO_FEATURE(VIRTIO_F_VERSION_1)
#define MS 1000000ULL

static struct rng_mock rm;
static uint8_t buf[RNG_MAX_REQUEST * 2];

static void setup(void)
{
	cr_assert_eq(rng_mock_init(&rm, NULL, ~0ULL), 0);
}

static void teardown(void)
{
	rng_mock_destroy(&rm);
}

TestSuite(rng, .init = setup, .fini = teardown);

/* Bytes [at, at + len) of the data area hold stream bytes [from, from + len). */
static void assert_stream(uint64_t at, uint32_t len, uint64_t from)
{
	const uint8_t *p = vmock_host(&rm.m, rm.data + at, len);

	for (uint32_t i = 0; i < len; i++)
		cr_assert_eq(p[i], rng_mock_stream_byte(&rm, from + i), "byte %u", i);
}

static struct rng_metrics metrics(void)
{
	struct rng_metrics m;

	rng_metrics_get(&rm.dev, &m);
	return m;
}

Test(rng, identity_and_features)
{
	cr_assert_eq(vmock_reg_read(&rm.m, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_RNG);
	cr_assert_eq(vmock_device_features(&rm.m), V1, "VERSION_1 only, as Firecracker");
	cr_assert_eq(vmock_reg_read(&rm.m, VIRTIO_MMIO_QUEUE_NUM_MAX), RNG_QUEUE_SIZE);
	cr_assert_eq(vmock_reg_read(&rm.m, VIRTIO_MMIO_CONFIG), 0, "no configuration space");
	cr_assert_eq(rm.loop.fd, -1, "unlimited: nothing to watch");
}

Test(rng, init_refuses_bad_options)
{
	struct vmock_loop l = { .fd = -1 };
	struct dev_event_loop loop = vmock_event_loop(&l);
	struct rng_source nofill = { 0 };
	struct rng_opts o = { .queue_size = 100 };
	struct rng_dev d;

	cr_assert_eq(rng_dev_init(&d, &o, &loop), -EINVAL, "queue size not a power of two");
	o.queue_size = 512;
	cr_assert_eq(rng_dev_init(&d, &o, &loop), -EINVAL, "queue too large");
	o = (struct rng_opts){ .source = &nofill };
	cr_assert_eq(rng_dev_init(&d, &o, &loop), -EINVAL, "source without fill");
	cr_assert_eq(rng_dev_init(&d, NULL, NULL), -EINVAL, "no event loop");
	o = (struct rng_opts){ .limit.ops = { .size = 10, .refill_time_ms = 0 } };
	cr_assert_eq(rng_dev_init(&d, &o, &loop), -EINVAL, "a bucket that never refills");
	l.fail_watch = -ENOMEM;
	o = (struct rng_opts){ .limit.ops = { .size = 10, .refill_time_ms = 100 } };
	cr_assert_eq(rng_dev_init(&d, &o, &loop), -ENOMEM, "the loop refused the timerfd");
	cr_assert_eq(rng_dev_init(&d, &o, &loop), 0);
	cr_assert_eq(d.source.fill, rng_source_getrandom.fill, "no source given: getrandom");
	cr_assert_geq(l.fd, 0);
	cr_assert_eq(l.token, RNG_EVENT_RATELIMIT);
	cr_assert_eq(l.events, EPOLLIN);
	rng_dev_destroy(&d);
	cr_assert_eq(l.fd, -1, "destroy unwatches");
}

Test(rng, fills_one_buffer_from_the_source)
{
	cr_assert_eq(rng_mock_do(&rm, buf, 4096), 4096);
	assert_stream(0, 4096, 0);
	cr_assert_eq(rng_mock_do(&rm, buf, 100), 100);
	assert_stream(0, 100, 4096);
	cr_assert_eq(metrics().requests, 2);
	cr_assert_eq(metrics().bytes, 4196);
	cr_assert_geq(rm.irq_raises, 2);
}

Test(rng, fills_scattered_chains_in_order)
{
	uint16_t head, h;
	uint32_t used;

	head = rng_mock_queue(&rm, rm.data, 10000, 7, false);
	vmock_notify(&rm.m, 0);
	cr_assert_eq(rng_mock_complete(&rm, &h, &used), 0);
	cr_assert_eq(h, head);
	cr_assert_eq(used, 10000);
	assert_stream(0, 10000, 0);

	head = rng_mock_queue(&rm, rm.data + 16384, 3000, 30, false);
	vmock_notify(&rm.m, 0);
	cr_assert_eq(rng_mock_complete(&rm, &h, &used), 0);
	cr_assert_eq(h, head);
	cr_assert_eq(used, 3000);
	assert_stream(16384, 3000, 10000);
}

Test(rng, indirect_tables_are_not_offered)
{
	uint16_t h;
	uint32_t used;

	rng_mock_queue(&rm, rm.data, 64, 2, true);
	vmock_notify(&rm.m, 0);
	cr_assert(vmock_reg_read(&rm.m, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	cr_assert_eq(rng_mock_complete(&rm, &h, &used), -EAGAIN);
}

Test(rng, a_request_is_capped)
{
	uint8_t *p = vmock_host(&rm.m, rm.data, sizeof(buf));

	cr_assert_eq(rng_mock_do(&rm, buf, sizeof(buf)), RNG_MAX_REQUEST);
	assert_stream(0, RNG_MAX_REQUEST, 0);
	for (uint32_t i = RNG_MAX_REQUEST; i < sizeof(buf); i++)
		cr_assert_eq(p[i], 0, "byte %u beyond the cap was written", i);
}

Test(rng, a_chain_without_writable_bytes_comes_back_empty)
{
	uint16_t h;
	uint32_t used = 99;

	rng_mock_queue(&rm, rm.data, 0, 0, false);
	vmock_notify(&rm.m, 0);
	cr_assert_eq(rng_mock_complete(&rm, &h, &used), 0);
	cr_assert_eq(used, 0);
	cr_assert_eq(metrics().empty, 1);
	cr_assert_eq(rm.src.calls, 0, "the source was not asked");
}

Test(rng, source_failure_returns_what_was_filled)
{
	uint16_t h;
	uint32_t used;

	rm.src.fail_armed = true;
	rm.src.fail_after = 3000;
	rng_mock_queue(&rm, rm.data, 4096, 2, false); /* 2048 + 2048 */
	vmock_notify(&rm.m, 0);
	cr_assert_eq(rng_mock_complete(&rm, &h, &used), 0);
	cr_assert_eq(used, 2048, "only the buffer filled whole counts");
	assert_stream(0, 2048, 0);
	cr_assert_eq(metrics().errors, 1);
	cr_assert_eq(rng_mock_do(&rm, buf, 64), 0, "a dead source gives nothing");
	cr_assert_eq(metrics().errors, 2);
	rm.src.fail_armed = false;
	cr_assert_eq(rng_mock_do(&rm, buf, 64), 64, "and the device recovers with it");
}

Test(rng, malformed_chain_needs_reset_then_renegotiation_recovers)
{
	uint16_t h;
	uint32_t used;

	vmock_desc_write(&rm.m, 0, 0, rm.data, 64, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 0); /* loop */
	vmock_avail_push(&rm.m, 0, 0);
	vmock_notify(&rm.m, 0);
	cr_assert(vmock_reg_read(&rm.m, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	cr_assert_eq(metrics().queue_errors, 1);
	cr_assert_eq(rng_mock_complete(&rm, &h, &used), -EAGAIN);
	cr_assert_eq(rng_process_queue(&rm.dev), -EIO);
	vmock_clear(&rm.m);
	rm.data = vmock_alloc_uninit(&rm.m, RNG_MOCK_DATA_SIZE, 4096);
	cr_assert_eq(vmock_negotiate(&rm.m, V1, 1, 0), 0);
	cr_assert_eq(rng_mock_do(&rm, buf, 32), 32);
}

Test(rng, ops_limit_stalls_the_queue_until_the_timer)
{
	struct rng_opts o = { .limit.ops = { .size = 2, .refill_time_ms = 1000 } };
	uint16_t h;
	uint32_t used;

	rng_mock_destroy(&rm);
	cr_assert_eq(rng_mock_init(&rm, &o, ~0ULL), 0);
	cr_assert_geq(rm.loop.fd, 0, "the limiter's timerfd is watched");
	cr_assert_eq(rm.loop.token, RNG_EVENT_RATELIMIT);
	for (int i = 0; i < 3; i++)
		rng_mock_queue(&rm, rm.data + 4096 * i, 16, 1, false);
	vmock_notify(&rm.m, 0);
	cr_assert_eq(rng_mock_complete(&rm, &h, &used), 0);
	cr_assert_eq(rng_mock_complete(&rm, &h, &used), 0);
	cr_assert_eq(rng_mock_complete(&rm, &h, &used), -EAGAIN, "the third waits");
	cr_assert_eq(metrics().throttled, 1);
	vmock_notify(&rm.m, 0); /* a kick while throttled does nothing */
	cr_assert_eq(rng_mock_complete(&rm, &h, &used), -EAGAIN);
	rng_mock_now += 600 * MS;
	rng_mock_timer_fire(&rm);
	cr_assert_eq(rng_mock_complete(&rm, &h, &used), 0, "one op refilled after 600 ms");
	cr_assert_eq(used, 16);
	assert_stream(8192, 16, 32);
	cr_assert_eq(metrics().requests, 3);
}

Test(rng, bytes_limit_counts_served_bytes)
{
	struct rng_opts o = { .limit.bandwidth = { .size = 8192, .refill_time_ms = 1000 } };
	uint16_t h;
	uint32_t used;

	rng_mock_destroy(&rm);
	cr_assert_eq(rng_mock_init(&rm, &o, ~0ULL), 0);
	for (int i = 0; i < 3; i++)
		rng_mock_queue(&rm, rm.data + 4096 * i, 4096, 1, false);
	vmock_notify(&rm.m, 0);
	cr_assert_eq(rng_mock_complete(&rm, &h, &used), 0);
	cr_assert_eq(rng_mock_complete(&rm, &h, &used), 0);
	cr_assert_eq(rng_mock_complete(&rm, &h, &used), -EAGAIN);
	rng_mock_now += 100 * MS;
	rng_mock_timer_fire(&rm);
	cr_assert_eq(rng_mock_complete(&rm, &h, &used), -EAGAIN, "819 bytes refilled, 4096 needed");
	rng_mock_now += 500 * MS;
	rng_mock_timer_fire(&rm);
	cr_assert_eq(rng_mock_complete(&rm, &h, &used), 0);
	cr_assert_eq(used, 4096);
	cr_assert_eq(metrics().bytes, 3 * 4096);
}

Test(rng, update_adds_a_limiter_and_watches_it)
{
	struct ratelimit_config bad = { .ops = { .size = 1 } };
	struct ratelimit_config cfg = { .ops = { .size = 1, .refill_time_ms = 1000 } };
	uint16_t h;
	uint32_t used;

	cr_assert_eq(rng_ratelimit_update(&rm.dev, &bad), -EINVAL);
	cr_assert_eq(rm.loop.fd, -1);
	cr_assert_eq(rng_ratelimit_update(&rm.dev, &cfg), 0);
	cr_assert_geq(rm.loop.fd, 0);
	rng_mock_queue(&rm, rm.data, 8, 1, false);
	rng_mock_queue(&rm, rm.data + 64, 8, 1, false);
	vmock_notify(&rm.m, 0);
	cr_assert_eq(rng_mock_complete(&rm, &h, &used), 0);
	cr_assert_eq(rng_mock_complete(&rm, &h, &used), -EAGAIN);
	cr_assert_eq(rng_ratelimit_update(&rm.dev, &(struct ratelimit_config){ 0 }), 0, "back to unlimited");
	cr_assert_eq(rng_mock_complete(&rm, &h, &used), 0, "the update resumed the queue");
}

Test(rng, snapshot_keeps_the_buckets_and_is_checked)
{
	struct ratelimit_config cfg = { .bandwidth = { .size = 1000, .one_time_burst = 50, .refill_time_ms = 1000 } };
	struct rng_state st, bad, now;
	uint16_t h;
	uint32_t used;

	cr_assert_eq(rng_ratelimit_update(&rm.dev, &cfg), 0);
	cr_assert_eq(rng_mock_do(&rm, buf, 850), 850); /* burst 50 first, then 800 of 1000 */
	rng_save(&rm.dev, &st);
	cr_assert_eq(st.bw.cfg.size, 1000);
	cr_assert_eq(st.bw.budget, 200);
	cr_assert_eq(st.bw.burst_left, 0);
	cr_assert_eq(st.ops.cfg.size, 0, "no ops bucket");

	bad = st;
	bad.ops.cfg.size = 5; /* refill_time_ms 0 */
	cr_assert_eq(rng_restore(&rm.dev, &bad), -EINVAL);
	bad = st;
	bad.bw.budget = 5000; /* more than the bucket holds */
	cr_assert_eq(rng_restore(&rm.dev, &bad), -EINVAL);
	rng_save(&rm.dev, &now);
	cr_assert_eq(memcmp(&now, &st, sizeof(st)), 0, "a refused restore changed nothing");

	cr_assert_eq(rng_ratelimit_update(&rm.dev, &cfg), 0); /* full again */
	cr_assert_eq(rng_restore(&rm.dev, &st), 0);
	rng_save(&rm.dev, &now);
	cr_assert_eq(now.bw.budget, 200, "the restored budget, not a full bucket");
	rng_mock_queue(&rm, rm.data, 300, 1, false);
	vmock_notify(&rm.m, 0);
	cr_assert_eq(rng_mock_complete(&rm, &h, &used), -EAGAIN, "300 > 200 left");
	rng_mock_now += 100 * 1000000ULL;
	rng_mock_timer_fire(&rm);
	cr_assert_eq(rng_mock_complete(&rm, &h, &used), 0, "refilled from the restore on");
	cr_assert_eq(used, 300);
}

Test(rng, requests_offered_before_driver_ok_are_served_at_activation)
{
	struct vmmio_state ts;
	uint16_t head, h;
	uint32_t used;

	head = rng_mock_queue(&rm, rm.data, 48, 1, false); /* no kick */
	vmmio_save(&rm.t, &ts);
	vmock_reg_write(&rm.m, VIRTIO_MMIO_STATUS, 0);
	cr_assert_eq(rng_mock_complete(&rm, &h, &used), -EAGAIN);
	cr_assert_eq(vmmio_restore(&rm.t, &ts), 0);
	cr_assert_eq(rng_mock_complete(&rm, &h, &used), 0, "served when the device went live");
	cr_assert_eq(h, head);
	cr_assert_eq(used, 48);
}

static unsigned int kicks;

static void count_kick(void *opaque)
{
	kicks++;
}

Test(rng, kick_defers_processing)
{
	struct rng_opts o = { .kick = count_kick };
	uint16_t h;
	uint32_t used;

	rng_mock_destroy(&rm);
	cr_assert_eq(rng_mock_init(&rm, &o, ~0ULL), 0);
	kicks = 0;
	rng_mock_queue(&rm, rm.data, 32, 1, false);
	vmock_notify(&rm.m, 0);
	cr_assert_eq(kicks, 1);
	cr_assert_eq(rng_mock_complete(&rm, &h, &used), -EAGAIN);
	cr_assert_eq(rng_process_queue(&rm.dev), 0);
	cr_assert_eq(rng_mock_complete(&rm, &h, &used), 0);
	cr_assert_eq(used, 32);
}

Test(rng, default_source_through_the_queue)
{
	unsigned int zeros = 0;

	rm.dev.source = rng_source_getrandom; /* what rng_dev_init installs without opts->source */
	cr_assert_eq(rng_mock_do(&rm, buf, 8192), 8192);
	for (unsigned int i = 0; i < 8192; i++)
		zeros += !buf[i];
	cr_assert_lt(zeros, 128, "8192 random bytes hold about 32 zeros");
	cr_assert_eq(rm.src.calls, 0, "the mock source was not used");
}

Test(rng, getrandom_source_fills)
{
	static uint8_t a[4096], b[4096];
	unsigned int zeros = 0;

	cr_assert_eq(rng_source_getrandom.fill(NULL, a, sizeof(a)), 0);
	cr_assert_eq(rng_source_getrandom.fill(NULL, b, sizeof(b)), 0);
	cr_assert_neq(memcmp(a, b, sizeof(a)), 0);
	for (unsigned int i = 0; i < sizeof(a); i++)
		zeros += !a[i];
	cr_assert_lt(zeros, 64, "4096 random bytes hold about 16 zeros");
}
