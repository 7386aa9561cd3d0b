/* Snapshot state: a device holding a transmit frame (TAP full) and half a
 * received frame (MRG_RXBUF, waiting for buffers) is saved with its
 * transport, restored into a new device over a copy of guest memory, and
 * finishes both; a corrupted state is refused and changes nothing. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "devices/net/net_mock.h"

#define HDR VIRTIO_NET_HDR_LEN

static struct net_mock a, b;
static struct net_state st, bad;
static struct vmmio_state ts;
static uint8_t frame[8192];

static void fill(uint8_t *p, uint32_t len, unsigned int seed)
{
	for (uint32_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 13);
}

/* a: one transmit frame held, 5000 bytes received into 2 of 4 buffers. */
static void setup(void)
{
	struct net_opts o = { .has_mac = true, .mac = { 2, 0, 0, 0, 0, 1 },
			      .rx_rate_limiter.bandwidth = { .size = 1 << 20, .refill_time_ms = 1000 } };

	cr_assert_eq(net_mock_init(&a, &o, ~0ULL, 0, true), 0);
	cr_assert_eq(net_mock_init(&b, &o, ~0ULL, 0, true), 0);
	a.tap.full = true;
	fill(frame, 700, 1);
	net_mock_tx(&a, NULL, frame, 700, 2, false);
	vmock_notify(&a.m, VIRTIO_NET_TXQ);
	cr_assert(a.dev.tx_pending);
	net_mock_rx_post(&a, 1536, 1, false);
	net_mock_rx_post(&a, 1536, 1, false);
	vmock_notify(&a.m, VIRTIO_NET_RXQ);
	memset(frame, 0, HDR);
	fill(frame + HDR, 5000, 2);
	cr_assert_eq(net_tap_fake_inject(&a.tap, frame, HDR + 5000), 0);
	net_mock_poll(&a, 10);
	cr_assert_eq(a.dev.rx_nheld, 2);
	vmmio_save(&a.t, &ts);
	net_save(&a.dev, &st);
}

static void teardown(void)
{
	net_mock_destroy(&a);
	net_mock_destroy(&b);
}

TestSuite(net_state, .init = setup, .fini = teardown);

/* b becomes a's guest: same RAM, same driver-side view, a's transport. */
static void move_guest(void)
{
	memcpy(b.m.ram, a.m.ram, NET_MOCK_RAM_SIZE);
	memcpy(b.m.q, a.m.q, sizeof(a.m.q));
	b.tx_next = a.tx_next;
	b.rx_next = a.rx_next;
	memcpy(b.rx_gpa, a.rx_gpa, sizeof(a.rx_gpa));
	memcpy(b.rx_cap, a.rx_cap, sizeof(a.rx_cap));
	cr_assert_eq(vmmio_restore(&b.t, &ts), 0);
}

Test(net_state, restore_finishes_held_frames)
{
	uint8_t all[8192];
	uint32_t used, total = 0;
	uint16_t head;

	move_guest();
	cr_assert_eq(net_restore(&b.dev, &st), 0);
	cr_assert_eq(net_fake_loop_events(&b.ev, b.tap.fd), EPOLLOUT, "waiting to write, not reading");
	net_mock_poll(&b, 10);
	cr_assert_eq(b.tap.writes, 1, "the held frame went out after restore");
	fill(frame, 700, 1);
	cr_assert_eq(memcmp(net_tap_fake_written(&b.tap, 0)->data + HDR, frame, 700), 0);
	cr_assert_eq(net_mock_tx_used(&b, &head, &used), 0);
	/* Two more buffers finish the received frame. */
	net_mock_rx_post(&b, 1536, 1, false);
	net_mock_rx_post(&b, 1536, 1, false);
	vmock_notify(&b.m, VIRTIO_NET_RXQ);
	for (unsigned int i = 0; i < 4; i++) {
		cr_assert_eq(net_mock_rx_used(&b, &head, &used, all + total, sizeof(all) - total), 0, "buffer %u", i);
		total += used;
	}
	cr_assert_eq(total, HDR + 5000);
	cr_assert_eq(le16toh(((struct virtio_net_hdr_v1 *)all)->num_buffers), 4);
	fill(frame, 5000, 2);
	cr_assert_eq(memcmp(all + HDR, frame, 5000), 0);
	cr_assert_eq(b.dev.rx_rl.bw.budget, st.rx_bw.budget, "limiter budget restored");
}

/* Each corruption is refused and b keeps what it had. */
static void refused(const char *what)
{
	cr_assert_eq(net_restore(&b.dev, &bad), -EINVAL, "%s", what);
	cr_assert_eq(b.dev.rx_nheld, 0, "%s: unchanged", what);
	cr_assert_not(b.dev.tx_pending, "%s: unchanged", what);
	bad = st;
}

Test(net_state, corrupted_states_refused)
{
	move_guest();
	bad = st;
	bad.magic ^= 1;
	refused("magic");
	bad.acked_features &= ~VIRTIO_FEATURE(VIRTIO_NET_F_MRG_RXBUF);
	refused("features other than negotiated");
	bad.offload_flags = 0;
	refused("offloads");
	bad.mac[0] ^= 1;
	refused("another MAC");
	bad.rx_held[1].head = 256;
	refused("held head beyond the ring");
	bad.rx_nheld = 300;
	refused("more held than the ring");
	bad.rx_done += 1;
	refused("held lengths do not add up");
	bad.rx_len = NET_BUF_MAX + 1;
	refused("frame too long");
	bad.rx_nb_gpa[1] = 0x10;
	refused("num_buffers outside guest memory");
	bad.rx_have = 2;
	refused("flag not 0/1");
	bad.tx_len = NET_BUF_MAX + 1;
	refused("tx frame too long");
	bad.tx_head = 1024;
	refused("tx head beyond the ring");
	bad.tx_frame[1] = 77;
	refused("tx header with an unknown GSO type");
	bad.rx_bw.budget = bad.rx_bw.cfg.size + 1;
	refused("bucket over its size");
	cr_assert_eq(net_restore(&b.dev, &st), 0, "the original still fits");
}

Test(net_state, inactive_device_takes_no_held_chains)
{
	struct net_state idle;

	vmock_reg_write(&b.m, VIRTIO_MMIO_STATUS, 0); /* b reset: not active */
	bad = st;
	bad.acked_features = 0;
	bad.offload_flags = 0;
	refused("held chains without queues");
	net_save(&b.dev, &idle);
	cr_assert_eq(net_restore(&b.dev, &idle), 0, "an idle state fits an idle device");
}
