/* The rx and tx rate limiters on a fake clock: throttled frames are held
 * (never lost), the queue resumes on the limiter's timer event, the TAP is
 * not read while the rx limiter holds a frame, PATCH refills. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>

#include "devices/net/net_mock.h"

#define HDR VIRTIO_NET_HDR_LEN

static uint64_t fake_now;
static struct net_mock nm;
static uint8_t frame[2048];

static uint64_t clock_fake(void)
{
	return fake_now;
}

static void start(const struct net_opts *o)
{
	fake_now = 1000000000ULL;
	cr_assert_eq(net_mock_init(&nm, o, ~0ULL, 0, true), 0);
}

static void teardown(void)
{
	net_mock_destroy(&nm);
}

TestSuite(net_ratelimit, .fini = teardown);

static void send(unsigned int n, uint32_t len)
{
	for (unsigned int i = 0; i < n; i++) {
		memset(frame, (int)i, len);
		net_mock_tx(&nm, NULL, frame, len, 1, false);
	}
	vmock_notify(&nm.m, VIRTIO_NET_TXQ);
}

Test(net_ratelimit, tx_ops_bucket_holds_frames_until_the_timer)
{
	struct net_opts o = { .tx_rate_limiter.ops = { .size = 2, .refill_time_ms = 100 }, .now_ns = clock_fake };
	uint16_t head;
	uint32_t used;

	start(&o);
	cr_assert_eq(net_fake_loop_events(&nm.ev, ratelimit_fd(&nm.dev.tx_rl)), EPOLLIN, "timer watched");
	send(5, 100);
	cr_assert_eq(nm.tap.writes, 2, "a bucket of two frames");
	cr_assert_eq(nm.dev.metrics.tx_throttled, 1);
	cr_assert(ratelimit_blocked(&nm.dev.tx_rl));
	cr_assert_eq(nm.dev.txq->last_avail, 3, "one frame held, two left in the ring");
	/* A notify while throttled sends nothing. */
	vmock_notify(&nm.m, VIRTIO_NET_TXQ);
	cr_assert_eq(nm.tap.writes, 2);
	/* Half the refill time: one token back. */
	fake_now += 50 * 1000000ULL;
	net_event(&nm.dev, NET_EVENT_TX_RATELIMIT, EPOLLIN);
	cr_assert_eq(nm.tap.writes, 3);
	fake_now += 100 * 1000000ULL;
	net_event(&nm.dev, NET_EVENT_TX_RATELIMIT, EPOLLIN);
	cr_assert_eq(nm.tap.writes, 5, "all sent, none lost");
	for (unsigned int i = 0; i < 5; i++) {
		cr_assert_eq(net_mock_tx_used(&nm, &head, &used), 0);
		cr_assert_eq(net_tap_fake_written(&nm.tap, i)->data[HDR], (uint8_t)i, "in order");
	}
	cr_assert_eq(nm.dev.metrics.tx_frames, 5);
}

Test(net_ratelimit, tx_bandwidth_counts_bytes)
{
	struct net_opts o = { .tx_rate_limiter.bandwidth = { .size = 3 * (HDR + 1000), .refill_time_ms = 1000 },
			      .now_ns = clock_fake };

	start(&o);
	send(4, 1000);
	cr_assert_eq(nm.tap.writes, 3);
	fake_now += 1000 * 1000000ULL;
	net_event(&nm.dev, NET_EVENT_TX_RATELIMIT, EPOLLIN);
	cr_assert_eq(nm.tap.writes, 4);
}

Test(net_ratelimit, rx_throttle_holds_the_frame_and_stops_reading)
{
	struct net_opts o = { .rx_rate_limiter.ops = { .size = 1, .refill_time_ms = 10 }, .now_ns = clock_fake };
	uint16_t head;
	uint32_t used;

	start(&o);
	for (unsigned int i = 0; i < 4; i++)
		net_mock_rx_post(&nm, 2048, 1, false);
	vmock_notify(&nm.m, VIRTIO_NET_RXQ);
	for (unsigned int i = 0; i < 3; i++) {
		memset(frame, 0, HDR);
		memset(frame + HDR, (int)i + 1, 100);
		cr_assert_eq(net_tap_fake_inject(&nm.tap, frame, HDR + 100), 0);
	}
	net_mock_poll(&nm, 10);
	cr_assert_eq(nm.dev.metrics.rx_frames, 1);
	cr_assert_eq(nm.dev.metrics.rx_throttled, 1);
	cr_assert_eq(net_fake_loop_events(&nm.ev, nm.tap.fd), 0, "no reading while the limiter holds a frame");
	cr_assert_eq(net_tap_fake_pending(&nm.tap), 1);
	fake_now += 10 * 1000000ULL;
	net_event(&nm.dev, NET_EVENT_RX_RATELIMIT, EPOLLIN);
	cr_assert_eq(nm.dev.metrics.rx_frames, 2);
	fake_now += 10 * 1000000ULL;
	net_event(&nm.dev, NET_EVENT_RX_RATELIMIT, EPOLLIN);
	net_mock_poll(&nm, 10);
	cr_assert_eq(nm.dev.metrics.rx_frames, 3);
	cr_assert_eq(nm.dev.metrics.rx_dropped, 0);
	for (unsigned int i = 0; i < 3; i++) {
		cr_assert_eq(net_mock_rx_used(&nm, &head, &used, frame, sizeof(frame)), 0);
		cr_assert_eq(frame[HDR], i + 1, "in order");
	}
	cr_assert_eq(net_fake_loop_events(&nm.ev, nm.tap.fd), EPOLLIN);
}

Test(net_ratelimit, spurious_timer_event_is_harmless)
{
	struct net_opts o = { .tx_rate_limiter.ops = { .size = 1, .refill_time_ms = 100 }, .now_ns = clock_fake };

	start(&o);
	send(2, 100);
	cr_assert_eq(nm.tap.writes, 1);
	net_event(&nm.dev, NET_EVENT_TX_RATELIMIT, EPOLLIN); /* no time passed */
	cr_assert_eq(nm.tap.writes, 1, "still no token");
	cr_assert(ratelimit_blocked(&nm.dev.tx_rl), "blocked again, timer re-armed");
}

Test(net_ratelimit, patch_refills_and_watches_a_new_timer)
{
	struct net_opts o = { .now_ns = clock_fake };
	struct ratelimit_config tight = { .ops = { .size = 1, .refill_time_ms = 1000 } };
	struct ratelimit_config bad = { .ops = { .size = 1, .refill_time_ms = 0 } };

	start(&o);
	cr_assert_eq(ratelimit_fd(&nm.dev.tx_rl), -1, "unlimited: no timer");
	cr_assert_eq(net_dev_update_ratelimit(&nm.dev, NULL, &bad), -EINVAL);
	cr_assert_eq(net_dev_update_ratelimit(&nm.dev, NULL, &tight), 0);
	cr_assert_eq(net_fake_loop_events(&nm.ev, ratelimit_fd(&nm.dev.tx_rl)), EPOLLIN);
	send(3, 100);
	cr_assert_eq(nm.tap.writes, 1);
	/* A new config: buckets start full, the held frame goes at once. */
	cr_assert_eq(net_dev_update_ratelimit(&nm.dev, NULL, &tight), 0);
	cr_assert_eq(nm.tap.writes, 2);
}
