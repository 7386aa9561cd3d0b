/* virtio-net through the virtio-mmio transport, driven by the mock driver,
 * on the in-memory TAP: negotiation and config space, transmit and receive
 * in every layout, header passthrough, offloads at activation, MRG_RXBUF,
 * back-pressure without receive buffers, a full TAP, malformed chains and
 * frames, read-only receive buffers, notification suppression. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>

#include "devices/net/net_mock.h"

#define F(bit) VIRTIO_FEATURE(bit)
#define ALL (~0ULL)
#define NO_MRG (~F(VIRTIO_NET_F_MRG_RXBUF))
#define HDR VIRTIO_NET_HDR_LEN

static struct net_mock nm;
static uint8_t frame[NET_BUF_MAX], back[NET_BUF_MAX];

static void start(const struct net_opts *o, uint64_t features)
{
	cr_assert_eq(net_mock_init(&nm, o, features, 0, true), 0);
}

static void setup(void)
{
	struct net_opts o = { .has_mac = true, .mac = { 0x06, 0, 0xac, 0x10, 0, 2 }, .mtu = 1500 };

	start(&o, ALL);
}

static void teardown(void)
{
	net_mock_destroy(&nm);
}

TestSuite(net, .init = setup, .fini = teardown);

static void fill(uint8_t *p, uint32_t len, unsigned int seed)
{
	for (uint32_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 31 + i * 7 + i / 251);
}

static uint32_t status(void)
{
	return vmock_reg_read(&nm.m, VIRTIO_MMIO_STATUS);
}

/* A frame as the TAP hands it: header then packet. */
static void inject(const struct virtio_net_hdr_v1 *h, uint32_t len, unsigned int seed)
{
	struct virtio_net_hdr_v1 zero = { 0 };

	memcpy(frame, h ? h : &zero, HDR);
	fill(frame + HDR, len, seed);
	cr_assert_eq(net_tap_fake_inject(&nm.tap, frame, HDR + len), 0);
}

Test(net, identity_features_and_config)
{
	uint64_t f = vmock_device_features(&nm.m);
	uint8_t cfg[12];

	cr_assert_eq(vmock_reg_read(&nm.m, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_NET);
	cr_assert_eq(vmock_reg_read(&nm.m, VIRTIO_MMIO_QUEUE_NUM_MAX), NET_QUEUE_SIZE);
	for (unsigned int b = 0; b < 64; b++) {
		bool want = b == VIRTIO_F_VERSION_1 || b == VIRTIO_F_RING_EVENT_IDX || b == VIRTIO_F_RING_INDIRECT_DESC ||
			    b == VIRTIO_NET_F_CSUM || b == VIRTIO_NET_F_GUEST_CSUM || b == VIRTIO_NET_F_GUEST_TSO4 ||
			    b == VIRTIO_NET_F_GUEST_TSO6 || b == VIRTIO_NET_F_GUEST_UFO || b == VIRTIO_NET_F_HOST_TSO4 ||
			    b == VIRTIO_NET_F_HOST_TSO6 || b == VIRTIO_NET_F_HOST_UFO || b == VIRTIO_NET_F_MRG_RXBUF ||
			    b == VIRTIO_NET_F_STATUS || b == VIRTIO_NET_F_MAC || b == VIRTIO_NET_F_MTU;

		cr_assert_eq(!!(f & F(b)), want, "feature bit %u", b);
	}
	for (unsigned int i = 0; i < sizeof(cfg); i++)
		cfg[i] = (uint8_t)(vmock_reg_read(&nm.m, VIRTIO_MMIO_CONFIG + (i & ~3u)) >> (8 * (i & 3)));
	cr_assert_arr_eq(cfg, ((uint8_t[]){ 0x06, 0, 0xac, 0x10, 0, 2, 1, 0, 1, 0, 0xdc, 0x05 }), 12,
			 "mac, status LINK_UP, 1 pair, mtu 1500");
	cr_assert_eq(vmock_reg_read(&nm.m, VIRTIO_MMIO_CONFIG + 12), 0, "beyond the config space");
}

Test(net, no_mac_no_mtu_offered_without_them)
{
	uint64_t f;

	net_mock_destroy(&nm);
	start(NULL, ALL);
	f = vmock_device_features(&nm.m);
	cr_assert_not(f & F(VIRTIO_NET_F_MAC));
	cr_assert_not(f & F(VIRTIO_NET_F_MTU));
	cr_assert_eq(vmock_reg_read(&nm.m, VIRTIO_MMIO_CONFIG), 0, "mac zero");
}

Test(net, init_refuses_bad_options)
{
	struct net_dev d;
	struct net_opts o = { .queue_size = 100 };
	struct net_backend be = nm.tap.be;

	cr_assert_eq(net_dev_init(&d, &be, &nm.ev.loop, &o), -EINVAL, "queue size not a power of two");
	o = (struct net_opts){ .mtu = 67 };
	cr_assert_eq(net_dev_init(&d, &be, &nm.ev.loop, &o), -EINVAL, "mtu below 68");
	o = (struct net_opts){ .tx_rate_limiter.bandwidth = { .size = 1000 } };
	cr_assert_eq(net_dev_init(&d, &be, &nm.ev.loop, &o), -EINVAL, "bucket without refill time");
	be.ops = NULL;
	cr_assert_eq(net_dev_init(&d, &be, &nm.ev.loop, NULL), -EINVAL);
}

Test(net, activation_sets_offloads_and_watches_the_tap)
{
	unsigned int want = NET_TUN_F_CSUM | NET_TUN_F_TSO4 | NET_TUN_F_TSO6 | NET_TUN_F_UFO;

	cr_assert_eq(nm.tap.offload_flags, want);
	cr_assert_eq(nm.tap.offload_calls, 1);
	cr_assert_eq(net_fake_loop_events(&nm.ev, nm.tap.fd), EPOLLIN, "reading, nothing to write");
	/* Re-negotiated without offloads: the TAP is told. */
	cr_assert_eq(vmock_negotiate(&nm.m, F(VIRTIO_F_VERSION_1), 2, 0), 0);
	cr_assert_eq(nm.tap.offload_flags, 0);
	cr_assert_eq(nm.tap.offload_calls, 2);
	/* Reset: nothing watched. */
	vmock_reg_write(&nm.m, VIRTIO_MMIO_STATUS, 0);
	cr_assert_eq(net_fake_loop_events(&nm.ev, nm.tap.fd), 0);
}

Test(net, refused_offloads_fail_activation)
{
	nm.tap.offload_fail = -EINVAL;
	cr_assert_eq(vmock_negotiate(&nm.m, ALL, 2, 0), -EPROTO);
	cr_assert(status() & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

Test(net, tx_frames_in_every_layout)
{
	struct { unsigned int segs; bool indirect; uint32_t len; } cases[] = {
		{ 1, false, 60 }, { 2, false, 1514 }, { 7, false, 9000 }, { 1, true, 1514 }, { 40, true, 65550 },
		{ 3, false, 1 },
	};
	struct virtio_net_hdr_v1 h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
				       .hdr_len = 54, .gso_size = 1448, .csum_start = 34, .csum_offset = 16 };
	uint16_t head, got;
	uint32_t used;

	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fill(frame, cases[i].len, i);
		head = net_mock_tx(&nm, &h, frame, cases[i].len, cases[i].segs, cases[i].indirect);
		vmock_notify(&nm.m, VIRTIO_NET_TXQ);
		cr_assert_eq(net_mock_tx_used(&nm, &got, &used), 0, "case %u", i);
		cr_assert_eq(got, head);
		cr_assert_eq(used, 0, "transmit writes nothing");
		cr_assert_eq(nm.tap.writes, i + 1);
		const struct net_fake_frame *w = net_tap_fake_written(&nm.tap, i);
		cr_assert_not_null(w);
		cr_assert_eq(w->len, HDR + cases[i].len, "case %u", i);
		cr_assert_eq(memcmp(w->data, &h, HDR), 0, "header passed through");
		cr_assert_eq(memcmp(w->data + HDR, frame, cases[i].len), 0, "case %u", i);
	}
	cr_assert_eq(nm.dev.metrics.tx_frames, 6);
	cr_assert_eq(nm.dev.metrics.tx_bytes, 60 + 1514 + 9000 + 1514 + 65550 + 1);
	cr_assert_eq(nm.dev.metrics.tx_dropped, 0);
	cr_assert_gt(nm.irq_raises, 0);
}

Test(net, tx_batch_one_notify)
{
	uint16_t head;
	uint32_t used;

	for (unsigned int i = 0; i < 100; i++) {
		fill(frame, 100 + i, i);
		net_mock_tx(&nm, NULL, frame, 100 + i, 1 + i % 3, i & 1);
	}
	vmock_notify(&nm.m, VIRTIO_NET_TXQ);
	for (unsigned int i = 0; i < 100; i++)
		cr_assert_eq(net_mock_tx_used(&nm, &head, &used), 0);
	cr_assert_eq(nm.tap.writes, 100);
	for (unsigned int i = 36; i < 100; i++) {
		fill(frame, 100 + i, i);
		cr_assert_eq(memcmp(net_tap_fake_written(&nm.tap, i)->data + HDR, frame, 100 + i), 0, "frame %u", i);
	}
}

Test(net, tx_bad_frames_dropped_not_sent)
{
	struct virtio_net_hdr_v1 gso = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_type = VIRTIO_NET_HDR_GSO_TCPV4 };
	struct virtio_net_hdr_v1 bad = { .gso_type = 2 };
	struct vmock_buf w[2];
	uint16_t head;
	uint32_t used;

	/* Too long (a byte over header + NET_FRAME_MAX). */
	net_mock_tx(&nm, NULL, frame, NET_FRAME_MAX + 1, 4, false);
	/* Header only, or less. */
	net_mock_tx(&nm, NULL, frame, 0, 1, false);
	/* An undefined GSO type. */
	net_mock_tx(&nm, &bad, frame, 100, 1, false);
	/* A writable buffer after the frame. */
	w[0] = (struct vmock_buf){ nm.tx_area, 100, false };
	w[1] = (struct vmock_buf){ nm.tx_area + 100, 100, true };
	vmock_chain_add(&nm.m, VIRTIO_NET_TXQ, w, 2, &head);
	vmock_avail_push(&nm.m, VIRTIO_NET_TXQ, head);
	vmock_notify(&nm.m, VIRTIO_NET_TXQ);
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(net_mock_tx_used(&nm, &head, &used), 0, "every chain comes back");
		cr_assert_eq(used, 0);
	}
	cr_assert_eq(nm.tap.writes, 0);
	cr_assert_eq(nm.dev.metrics.tx_dropped, 4);
	cr_assert_eq(status() & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0, "a bad frame is not a broken ring");

	/* GSO the driver did not negotiate. */
	cr_assert_eq(vmock_negotiate(&nm.m, ALL & ~F(VIRTIO_NET_F_HOST_TSO4), 2, 0), 0);
	net_mock_tx(&nm, &gso, frame, 1000, 1, false);
	vmock_notify(&nm.m, VIRTIO_NET_TXQ);
	cr_assert_eq(net_mock_tx_used(&nm, &head, &used), 0);
	cr_assert_eq(nm.tap.writes, 0);
	cr_assert_eq(nm.dev.metrics.tx_dropped, 5);
}

Test(net, tx_eagain_keeps_the_frame_and_retries_on_epollout)
{
	uint16_t head;
	uint32_t used;

	nm.tap.full = true;
	for (unsigned int i = 0; i < 3; i++) {
		fill(frame, 500, i);
		net_mock_tx(&nm, NULL, frame, 500, 2, false);
	}
	vmock_notify(&nm.m, VIRTIO_NET_TXQ);
	cr_assert_eq(net_mock_tx_used(&nm, &head, &used), -EAGAIN, "the frame waits with its chain");
	cr_assert_eq(nm.tap.writes, 0);
	cr_assert_eq(nm.dev.metrics.tx_eagain, 1);
	cr_assert(net_fake_loop_events(&nm.ev, nm.tap.fd) & EPOLLOUT);
	/* A notify while full pops nothing more. */
	vmock_notify(&nm.m, VIRTIO_NET_TXQ);
	cr_assert_eq(nm.tap.writes, 0);
	cr_assert_eq(nm.dev.txq->last_avail, 1, "one chain held, the others left in the ring");
	cr_assert_eq(nm.dev.metrics.tx_eagain, 1, "not even retried: the loop says when");
	/* Writable again: the loop reports EPOLLOUT and all three go, in order. */
	nm.tap.full = false;
	cr_assert_gt(net_mock_poll(&nm, 10), 0);
	cr_assert_eq(nm.tap.writes, 3);
	for (unsigned int i = 0; i < 3; i++) {
		fill(frame, 500, i);
		cr_assert_eq(memcmp(net_tap_fake_written(&nm.tap, i)->data + HDR, frame, 500), 0, "frame %u", i);
		cr_assert_eq(net_mock_tx_used(&nm, &head, &used), 0);
	}
	cr_assert_eq(net_fake_loop_events(&nm.ev, nm.tap.fd) & EPOLLOUT, 0, "nothing left to write");
	cr_assert_eq(nm.dev.metrics.tx_frames, 3);
	cr_assert_eq(nm.dev.metrics.tx_dropped + nm.dev.metrics.tx_errors, 0);
}

Test(net, tx_held_frame_is_a_copy)
{
	uint16_t head;
	uint32_t used;

	nm.tap.eagain_next = 1;
	fill(frame, 800, 9);
	net_mock_tx(&nm, NULL, frame, 800, 1, false);
	vmock_notify(&nm.m, VIRTIO_NET_TXQ);
	/* The guest scribbles over its buffer while the device holds it:
	 * what was checked is what is sent. */
	memset(vmock_host(&nm.m, nm.tx_area, HDR + 800), 0x55, HDR + 800);
	net_mock_poll(&nm, 10);
	cr_assert_eq(nm.tap.writes, 1);
	cr_assert_eq(memcmp(net_tap_fake_written(&nm.tap, 0)->data + HDR, frame, 800), 0);
	cr_assert_eq(net_mock_tx_used(&nm, &head, &used), 0);
}


/* Posts n receive buffers of len bytes and notifies. */
static void post(unsigned int n, uint32_t len, unsigned int segs, bool indirect)
{
	for (unsigned int i = 0; i < n; i++)
		net_mock_rx_post(&nm, len, segs, indirect);
	vmock_notify(&nm.m, VIRTIO_NET_RXQ);
}

static struct virtio_net_hdr_v1 rx_hdr(uint32_t *used)
{
	struct virtio_net_hdr_v1 h;
	uint16_t head;

	cr_assert_eq(net_mock_rx_used(&nm, &head, used, back, sizeof(back)), 0, "a frame arrived");
	memcpy(&h, back, HDR);
	return h;
}

Test(net, rx_frames_into_single_chains)
{
	struct { unsigned int segs; bool indirect; uint32_t len; } cases[] = {
		{ 1, false, 60 }, { 2, false, 1514 }, { 5, true, 1514 }, { 64, false, 9000 },
	};
	struct virtio_net_hdr_v1 in = { .flags = VIRTIO_NET_HDR_F_DATA_VALID, .hdr_len = 14 }, h;
	uint32_t used;

	/* Without MRG_RXBUF: one chain per frame. */
	cr_assert_eq(vmock_negotiate(&nm.m, NO_MRG, 2, 0), 0);
	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		post(1, HDR + 9000, cases[i].segs, cases[i].indirect);
		inject(&in, cases[i].len, i);
		cr_assert_eq(net_mock_poll(&nm, 10), 1, "case %u", i);
		h = rx_hdr(&used);
		cr_assert_eq(used, HDR + cases[i].len, "case %u", i);
		cr_assert_eq(h.flags, VIRTIO_NET_HDR_F_DATA_VALID, "header passed through (GUEST_CSUM)");
		cr_assert_eq(le16toh(h.hdr_len), 14);
		cr_assert_eq(le16toh(h.num_buffers), 1);
		fill(frame, cases[i].len, i);
		cr_assert_eq(memcmp(back + HDR, frame, cases[i].len), 0, "case %u", i);
	}
	cr_assert_eq(nm.dev.metrics.rx_frames, 4);
	cr_assert_eq(nm.dev.metrics.rx_bytes, 60 + 1514 + 1514 + 9000);
}

Test(net, rx_flags_cleared_without_guest_csum)
{
	struct virtio_net_hdr_v1 in = { .flags = VIRTIO_NET_HDR_F_DATA_VALID }, h;
	uint32_t used;

	cr_assert_eq(vmock_negotiate(&nm.m, F(VIRTIO_F_VERSION_1), 2, 0), 0);
	post(1, 2048, 1, false);
	inject(&in, 100, 1);
	net_mock_poll(&nm, 10);
	h = rx_hdr(&used);
	cr_assert_eq(h.flags, 0);
	cr_assert_eq(le16toh(h.num_buffers), 1);
}

Test(net, rx_mrg_rxbuf_splits_across_chains)
{
	struct virtio_net_hdr_v1 h;
	uint8_t all[NET_BUF_MAX];
	uint32_t used, total = 0;
	uint16_t head;

	/* Linux-style mergeable buffers: 1536 bytes each. */
	post(8, 1536, 1, false);
	inject(NULL, 4000, 3);
	net_mock_poll(&nm, 10);
	for (unsigned int i = 0; i < 3; i++) {
		cr_assert_eq(net_mock_rx_used(&nm, &head, &used, back, sizeof(back)), 0, "buffer %u", i);
		cr_assert_eq(used, i < 2 ? 1536 : HDR + 4000 - 2 * 1536, "buffer %u", i);
		memcpy(all + total, back, used);
		total += used;
	}
	cr_assert_eq(net_mock_rx_used(&nm, &head, &used, NULL, 0), -EAGAIN, "three buffers, no more");
	memcpy(&h, all, HDR);
	cr_assert_eq(le16toh(h.num_buffers), 3);
	fill(frame, 4000, 3);
	cr_assert_eq(memcmp(all + HDR, frame, 4000), 0);
	cr_assert_eq(nm.dev.metrics.rx_merged_buffers, 2);
	/* A small frame takes one buffer and says so. */
	inject(NULL, 60, 4);
	net_mock_poll(&nm, 10);
	h = rx_hdr(&used);
	cr_assert_eq(used, HDR + 60);
	cr_assert_eq(le16toh(h.num_buffers), 1);
}

Test(net, rx_mrg_waits_for_more_buffers_mid_frame)
{
	struct virtio_net_hdr_v1 h;
	uint32_t used;
	uint16_t head;

	post(2, 1536, 1, false);
	inject(NULL, 5000, 5); /* needs 4 buffers */
	net_mock_poll(&nm, 10);
	cr_assert_eq(net_mock_rx_used(&nm, &head, &used, NULL, 0), -EAGAIN, "nothing half-delivered");
	cr_assert_eq(net_fake_loop_events(&nm.ev, nm.tap.fd) & EPOLLIN, 0, "not reading while waiting");
	cr_assert_eq(nm.dev.metrics.rx_no_buffers, 1);
	post(2, 1536, 2, true);
	h = rx_hdr(&used);
	cr_assert_eq(le16toh(h.num_buffers), 4);
	cr_assert_eq(used, 1536);
	for (unsigned int i = 1; i < 4; i++)
		cr_assert_eq(net_mock_rx_used(&nm, &head, &used, NULL, 0), 0);
	cr_assert_eq(used, HDR + 5000 - 3 * 1536);
	cr_assert_eq(net_fake_loop_events(&nm.ev, nm.tap.fd), EPOLLIN, "reading again");
}

Test(net, rx_no_buffers_back_pressure_loses_nothing)
{
	uint32_t used;
	uint16_t head;

	/* Frames arrive before the guest posted anything. */
	for (unsigned int i = 0; i < 10; i++)
		inject(NULL, 200 + i, i);
	cr_assert_eq(net_mock_poll(&nm, 100), 1, "one read, then the device stops watching");
	cr_assert_eq(net_fake_loop_events(&nm.ev, nm.tap.fd), 0, "no EPOLLIN without buffers: no spin");
	cr_assert_eq(net_tap_fake_pending(&nm.tap), 9, "one frame read and kept");
	for (unsigned int i = 0; i < 10; i++) {
		post(1, 2048, 1, false);
		net_mock_poll(&nm, 100);
		cr_assert_eq(net_mock_rx_used(&nm, &head, &used, back, sizeof(back)), 0, "frame %u", i);
		cr_assert_eq(used, HDR + 200 + i);
		fill(frame, 200 + i, i);
		cr_assert_eq(memcmp(back + HDR, frame, 200 + i), 0, "frame %u in order", i);
	}
	cr_assert_eq(nm.dev.metrics.rx_frames, 10);
	cr_assert_eq(nm.dev.metrics.rx_dropped, 0);
	cr_assert_eq(net_fake_loop_events(&nm.ev, nm.tap.fd), EPOLLIN);
}

Test(net, rx_read_only_buffers_drop_frames)
{
	struct vmock_buf ro = { nm.rx_area, 2048, false };
	uint32_t used;
	uint16_t head;

	vmock_chain_add(&nm.m, VIRTIO_NET_RXQ, &ro, 1, &head);
	vmock_avail_push(&nm.m, VIRTIO_NET_RXQ, head);
	vmock_notify(&nm.m, VIRTIO_NET_RXQ);
	inject(NULL, 100, 1);
	net_mock_poll(&nm, 10);
	cr_assert_eq(net_mock_rx_used(&nm, &head, &used, NULL, 0), 0, "the chain comes back");
	cr_assert_eq(used, 0);
	cr_assert_eq(nm.dev.metrics.rx_dropped, 1);
	cr_assert_eq(nm.dev.metrics.rx_frames, 0);
	cr_assert_eq(status() & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
	/* The next frame into a proper buffer gets through. */
	post(1, 2048, 1, false);
	inject(NULL, 100, 2);
	net_mock_poll(&nm, 10);
	cr_assert_eq(net_mock_rx_used(&nm, &head, &used, NULL, 0), 0);
	cr_assert_eq(used, HDR + 100);
}

Test(net, rx_too_small_without_mrg_drops)
{
	uint32_t used;
	uint16_t head;

	cr_assert_eq(vmock_negotiate(&nm.m, NO_MRG, 2, 0), 0);
	post(1, 1000, 1, false);
	inject(NULL, 1500, 1);
	net_mock_poll(&nm, 10);
	cr_assert_eq(net_mock_rx_used(&nm, &head, &used, NULL, 0), 0);
	cr_assert_eq(used, 0);
	cr_assert_eq(nm.dev.metrics.rx_dropped, 1);
}

Test(net, rx_mrg_frame_larger_than_all_buffers_drops)
{
	uint32_t used;
	uint16_t head;

	net_mock_destroy(&nm);
	cr_assert_eq(net_mock_init(&nm, NULL, ALL, 4, false), 0);
	post(4, 64, 1, false); /* 4 x 64 bytes: the whole ring */
	inject(NULL, 1000, 1);
	net_mock_poll(&nm, 10);
	for (unsigned int i = 0; i < 4; i++) {
		cr_assert_eq(net_mock_rx_used(&nm, &head, &used, NULL, 0), 0, "buffer %u back", i);
		cr_assert_eq(used, 0);
	}
	cr_assert_eq(nm.dev.metrics.rx_dropped, 1);
	cr_assert_eq(status() & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
}

Test(net, rx_short_tap_reads_and_read_errors)
{
	uint8_t tiny[HDR] = { 0 };

	post(2, 2048, 1, false);
	cr_assert_eq(net_tap_fake_inject(&nm.tap, tiny, HDR), 0);
	net_mock_poll(&nm, 10);
	cr_assert_eq(nm.dev.metrics.rx_dropped, 1, "a header without a frame");
	nm.tap.read_fail = -EIO;
	net_mock_poll(&nm, 10);
	cr_assert_eq(nm.dev.metrics.rx_errors, 1);
	cr_assert_eq(net_fake_loop_events(&nm.ev, nm.tap.fd), 0, "stops reading rather than spin");
	nm.tap.read_fail = 0;
	inject(NULL, 100, 1);
	vmock_notify(&nm.m, VIRTIO_NET_RXQ); /* the driver's next notify retries */
	cr_assert_eq(nm.dev.metrics.rx_frames, 1);
}

Test(net, tap_error_event_stops_all_watching_until_a_notify)
{
	uint16_t head;
	uint32_t used;

	nm.tap.full = true;
	net_mock_tx(&nm, NULL, frame, 100, 1, false);
	vmock_notify(&nm.m, VIRTIO_NET_TXQ);
	cr_assert_eq(net_fake_loop_events(&nm.ev, nm.tap.fd), EPOLLIN | EPOLLOUT);
	net_event(&nm.dev, NET_EVENT_TAP, EPOLLERR | EPOLLOUT);
	cr_assert_eq(nm.dev.metrics.event_errors, 1);
	cr_assert_eq(net_fake_loop_events(&nm.ev, nm.tap.fd), 0, "EPOLLERR would fire forever: nothing watched");
	nm.tap.full = false;
	vmock_notify(&nm.m, VIRTIO_NET_TXQ);
	cr_assert_eq(nm.tap.writes, 1, "the held frame went with the next notify");
	cr_assert_eq(net_mock_tx_used(&nm, &head, &used), 0);
	cr_assert_eq(net_fake_loop_events(&nm.ev, nm.tap.fd), EPOLLIN);
}

Test(net, oversized_tap_frame_is_cut_not_overflowed)
{
	uint32_t used;
	uint16_t head;
	static uint8_t big[NET_BUF_MAX + 100];

	post(64, 2048, 1, false);
	cr_assert_eq(net_tap_fake_inject(&nm.tap, big, sizeof(big)), 0);
	net_mock_poll(&nm, 10);
	cr_assert_eq(net_mock_rx_used(&nm, &head, &used, NULL, 0), 0);
	cr_assert_eq(nm.dev.metrics.rx_bytes, NET_FRAME_MAX);
}

Test(net, malformed_chain_needs_reset)
{
	uint16_t head;
	uint32_t used;

	/* A descriptor outside guest memory. */
	vmock_desc_write(&nm.m, VIRTIO_NET_TXQ, 0, 0x1000, 100, 0, 0);
	vmock_avail_push(&nm.m, VIRTIO_NET_TXQ, 0);
	vmock_notify(&nm.m, VIRTIO_NET_TXQ);
	cr_assert(status() & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	cr_assert_eq(nm.dev.metrics.queue_errors, 1);
	cr_assert_eq(net_mock_tx_used(&nm, &head, &used), -EAGAIN);
	cr_assert_eq(net_fake_loop_events(&nm.ev, nm.tap.fd), 0, "a broken device watches nothing");
	cr_assert_eq(net_process_queue(&nm.dev, VIRTIO_NET_RXQ), -EIO);
	/* A reset and a new negotiation bring it back. */
	cr_assert_eq(vmock_negotiate(&nm.m, ALL, 2, 0), 0);
	fill(frame, 100, 1);
	net_mock_tx(&nm, NULL, frame, 100, 1, false);
	vmock_notify(&nm.m, VIRTIO_NET_TXQ);
	cr_assert_eq(nm.tap.writes, 1);
}

Test(net, malformed_rx_ring_needs_reset)
{
	/* An avail idx far ahead of the ring. */
	vmock_avail_set_idx(&nm.m, VIRTIO_NET_RXQ, 1000);
	inject(NULL, 100, 1);
	net_mock_poll(&nm, 10);
	cr_assert(status() & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	cr_assert_eq(nm.dev.metrics.queue_errors, 1);
}

Test(net, used_notification_suppressed_by_event_idx)
{
	uint16_t head;
	uint32_t used;
	unsigned int irqs;

	/* The driver asks for an interrupt only at used index 5. */
	vmock_used_event_set(&nm.m, VIRTIO_NET_TXQ, 4);
	irqs = nm.irq_raises;
	for (unsigned int i = 0; i < 3; i++) {
		net_mock_tx(&nm, NULL, frame, 100, 1, false);
		vmock_notify(&nm.m, VIRTIO_NET_TXQ);
	}
	cr_assert_eq(nm.irq_raises, irqs, "no interrupt before used index 5");
	for (unsigned int i = 0; i < 2; i++) {
		net_mock_tx(&nm, NULL, frame, 100, 1, false);
		vmock_notify(&nm.m, VIRTIO_NET_TXQ);
	}
	cr_assert_eq(nm.irq_raises, irqs + 1);
	while (!net_mock_tx_used(&nm, &head, &used))
		;
}

static unsigned int kicks[2];

static void kick(void *opaque, unsigned int queue)
{
	kicks[queue & 1]++;
}

Test(net, kick_hook_defers_processing)
{
	struct net_opts o = { .kick = kick };
	uint16_t head;
	uint32_t used;

	net_mock_destroy(&nm);
	start(&o, ALL);
	/* Activation (a vCPU thread) left the loop alone and kicked. */
	cr_assert_eq(kicks[0], 1, "activation kicks the receive queue");
	cr_assert_eq(net_fake_loop_events(&nm.ev, nm.tap.fd), 0, "no watch from the vCPU thread");
	cr_assert_eq(net_process_queue(&nm.dev, VIRTIO_NET_RXQ), 0);
	cr_assert_eq(net_fake_loop_events(&nm.ev, nm.tap.fd), EPOLLIN, "the VMM thread watches");
	net_mock_tx(&nm, NULL, frame, 100, 1, false);
	vmock_notify(&nm.m, VIRTIO_NET_TXQ);
	cr_assert_eq(kicks[1], 1);
	cr_assert_eq(nm.tap.writes, 0, "nothing on the vCPU thread");
	cr_assert_eq(net_process_queue(&nm.dev, VIRTIO_NET_TXQ), 0);
	cr_assert_eq(nm.tap.writes, 1);
	cr_assert_eq(net_mock_tx_used(&nm, &head, &used), 0);
	vmock_notify(&nm.m, VIRTIO_NET_RXQ);
	cr_assert_eq(kicks[0], 2);
	/* Reset: kicked again; the VMM thread's processing unwatches. */
	vmock_reg_write(&nm.m, VIRTIO_MMIO_STATUS, 0);
	cr_assert_eq(kicks[0], 3);
	cr_assert_eq(net_fake_loop_events(&nm.ev, nm.tap.fd), EPOLLIN, "still, until the VMM thread runs");
	cr_assert_eq(net_process_queue(&nm.dev, VIRTIO_NET_RXQ), 0);
	cr_assert_eq(net_fake_loop_events(&nm.ev, nm.tap.fd), 0);
}

Test(net, event_after_reset_unwatches_instead_of_spinning)
{
	struct net_opts o = { .kick = kick };

	net_mock_destroy(&nm);
	start(&o, ALL);
	net_event(&nm.dev, NET_EVENT_TAP, EPOLLOUT); /* any event: watches updated */
	cr_assert_eq(net_fake_loop_events(&nm.ev, nm.tap.fd), EPOLLIN);
	vmock_reg_write(&nm.m, VIRTIO_MMIO_STATUS, 0);
	inject(NULL, 100, 1);
	net_event(&nm.dev, NET_EVENT_TAP, EPOLLIN); /* the loop saw the TAP before the kick */
	cr_assert_eq(net_tap_fake_pending(&nm.tap), 1, "an inactive device reads nothing");
	cr_assert_eq(net_fake_loop_events(&nm.ev, nm.tap.fd), 0, "and stops watching");
}

Test(net, destroy_unwatches_everything)
{
	struct net_opts o = { .rx_rate_limiter.ops = { .size = 10, .refill_time_ms = 100 } };

	net_mock_destroy(&nm);
	start(&o, ALL);
	cr_assert_eq(net_fake_loop_count(&nm.ev), 2, "the TAP and the rx limiter's timer");
	vmmio_destroy(&nm.t);
	nm.t_ready = false;
	net_dev_destroy(&nm.dev);
	nm.dev_ready = false;
	cr_assert_eq(net_fake_loop_count(&nm.ev), 0);
}

Test(net, frame_kept_across_reset_gets_the_new_features)
{
	struct virtio_net_hdr_v1 in = { .flags = VIRTIO_NET_HDR_F_DATA_VALID }, h;
	uint32_t used;

	inject(&in, 300, 7); /* read with GUEST_CSUM, no buffer yet */
	net_mock_poll(&nm, 10);
	cr_assert(nm.dev.rx_have);
	cr_assert_eq(vmock_negotiate(&nm.m, F(VIRTIO_F_VERSION_1), 2, 0), 0);
	post(1, 2048, 1, false);
	h = rx_hdr(&used);
	cr_assert_eq(used, HDR + 300, "the frame survived the reset");
	cr_assert_eq(h.flags, 0, "DATA_VALID is not for a driver without GUEST_CSUM");
}

Test(net, reset_drops_a_held_tx_frame_counted)
{
	nm.tap.full = true;
	net_mock_tx(&nm, NULL, frame, 100, 1, false);
	vmock_notify(&nm.m, VIRTIO_NET_TXQ);
	cr_assert(nm.dev.tx_pending);
	vmock_reg_write(&nm.m, VIRTIO_MMIO_STATUS, 0);
	cr_assert_not(nm.dev.tx_pending);
	cr_assert_eq(nm.dev.metrics.tx_dropped, 1);
	nm.tap.full = false;
	net_mock_poll(&nm, 10);
	cr_assert_eq(nm.tap.writes, 0, "its chain belonged to the old queue");
}
