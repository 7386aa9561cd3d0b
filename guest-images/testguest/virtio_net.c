/*
 * net=1: the test guest's virtio-net driver, one receive and one transmit
 * queue, no offloads, no merged buffers (each receive buffer holds a whole
 * frame).  Frames carry EtherType 0x88b5 (IEEE 802 local experimental) and
 * an ASCII tag as payload, so the host test can pick them out on the TAP:
 *
 *   round 1: send "KTG-TX <i>" (i = 0..2, broadcast); print "rx-wait"; the
 *     host injects "KTG-RX <i>" frames to the guest's MAC; each one is
 *     echoed back to its sender as "KTG-ECHO <i>";
 *   burst: the host injects "KTG-B 00".."KTG-B 63" at once (8 receive
 *     buffers: the device must wait for buffers, losing nothing), then the
 *     guest sends "KTG-GB 00".."KTG-GB 63", 8 per notification;
 *   with EVENT_IDX: the device's avail_event after a send, then used_event
 *     = used idx + 2 on the transmit queue: three sends ("KTG-EVT <i>")
 *     must raise InterruptStatus only on the third;
 *   round 2: reset, negotiate again without EVENT_IDX, send "KTG-TX2 0",
 *     receive one "KTG-RX2 0" and echo it as "KTG-ECHO2 0";
 *   netbench=<frames>: then that many full-size frames, for the host to count.
 *
 * Other frames (whatever the host's stack sends) are counted and ignored.
 * Lines: README.md.
 */
#include "devices/net/virtio_net_abi.h"
#include "guest-images/testguest/hw.h"
#include "guest-images/testguest/ktg.h"
#include "guest-images/testguest/virtio_drv.h"

#define NET_F_MTU    VIRTIO_FEATURE(VIRTIO_NET_F_MTU)
#define NET_F_MAC    VIRTIO_FEATURE(VIRTIO_NET_F_MAC)
#define NET_F_STATUS VIRTIO_FEATURE(VIRTIO_NET_F_STATUS)

#define NET_HDR_LEN  VIRTIO_NET_HDR_LEN
#define ETH_HLEN     14
#define ETH_MIN      60   /* without the FCS */
#define ETHERTYPE_KTG 0x88b5
#define RX_BUFS      8
#define RX_BUF_LEN   2048 /* header + a 1514-byte frame, no MRG_RXBUF */
#define TX_BUF_LEN   128
#define FRAMES       3
#define ISR_SETTLE   2000000ULL /* TSC ticks to let a (wrong) interrupt show up */
#define BURST        64   /* frames each way in the burst round */
#define BURST_BATCH  8    /* transmit buffers offered under one notification */
#define BENCH_FRAME  1514 /* netbench frames: a full Ethernet frame without FCS */

static struct {
	struct vdrv_ring rxr, txr;
	uint8_t rx[RX_BUFS][RX_BUF_LEN] __attribute__((aligned(64)));
	uint8_t tx[TX_BUF_LEN] __attribute__((aligned(64)));
	uint8_t txb[BURST_BATCH][TX_BUF_LEN] __attribute__((aligned(64)));
	uint8_t bench[NET_HDR_LEN + BENCH_FRAME] __attribute__((aligned(64)));
	uint8_t rx_slot[VDRV_QSIZE]; /* descriptor id -> rx buffer */
} net __attribute__((aligned(4096)));

struct net_drv {
	struct vdrv_dev d;
	struct vdrv_queue rxq, txq;
	uint8_t mac[6];
	unsigned int ignored; /* frames received that are not ours */
};

static const uint8_t broadcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static void mac_str(char out[18], const uint8_t *m)
{
	char hex[13];

	vdrv_hex(hex, m, 6);
	for (int i = 0; i < 6; i++) {
		out[3 * i] = hex[2 * i];
		out[3 * i + 1] = hex[2 * i + 1];
		out[3 * i + 2] = i == 5 ? '\0' : ':';
	}
}

static const char *net_setup(struct net_drv *n, uint64_t want)
{
	const char *why = vdrv_negotiate(&n->d, "net", want);

	if (!why)
		why = vdrv_queue_init(&n->d, &n->rxq, 0, &net.rxr);
	if (!why)
		why = vdrv_queue_init(&n->d, &n->txq, 1, &net.txr);
	if (!why)
		why = vdrv_driver_ok(&n->d);
	for (unsigned int i = 0; !why && i < RX_BUFS; i++) {
		int id = vdrv_add(&n->rxq, vdrv_phys(net.rx[i]), RX_BUF_LEN, 1);

		if (id < 0)
			why = "rx-add";
		else
			net.rx_slot[id] = (uint8_t)i;
	}
	if (!why)
		vdrv_kick(&n->rxq);
	return why;
}

/* Configuration space: MAC, status and (when negotiated) MTU. */
static void net_config_report(struct net_drv *n)
{
	uint64_t cfg = n->d.base + VIRTIO_MMIO_CONFIG;
	char mac[18];
	uint32_t w0 = mmio_read32(cfg), w1 = mmio_read32(cfg + 4), w2 = mmio_read32(cfg + 8);

	for (int i = 0; i < 4; i++)
		n->mac[i] = (uint8_t)(w0 >> (8 * i));
	n->mac[4] = (uint8_t)w1;
	n->mac[5] = (uint8_t)(w1 >> 8);
	mac_str(mac, n->mac);
	if (n->d.accepted & NET_F_MTU)
		ktg_printf("KTG: net config mac=%s status=%u mtu=%u\n", mac, w1 >> 16, w2 >> 16);
	else
		ktg_printf("KTG: net config mac=%s status=%u mtu=none\n", mac, w1 >> 16);
}

/* Header (no checksum, no GSO) and a 60-byte frame to dst with payload tag into buf. */
static void net_frame(struct net_drv *n, uint8_t *buf, const uint8_t *dst, const char *tag)
{
	uint8_t *f = buf + NET_HDR_LEN;

	memset(buf, 0, TX_BUF_LEN);
	memcpy(f, dst, 6);
	memcpy(f + 6, n->mac, 6);
	f[12] = ETHERTYPE_KTG >> 8;
	f[13] = ETHERTYPE_KTG & 0xff;
	memcpy(f + ETH_HLEN, tag, strlen(tag));
}

/* One frame to dst with payload tag; waits for the device to take it.  0 or -1. */
static int net_send(struct net_drv *n, const uint8_t *dst, const char *tag)
{
	uint32_t id, len;

	net_frame(n, net.tx, dst, tag);
	if (vdrv_add(&n->txq, vdrv_phys(net.tx), NET_HDR_LEN + ETH_MIN, 0) < 0)
		return -1;
	vdrv_kick(&n->txq);
	return vdrv_wait(&n->txq, &id, &len, 1) ? 0 : -1;
}

/* Tag of a received KTG frame (NUL-terminated in place), or NULL. */
static const char *net_frame_tag(uint8_t *buf, uint32_t len)
{
	uint8_t *f = buf + NET_HDR_LEN;
	uint32_t i;

	if (len < NET_HDR_LEN + ETH_HLEN + 8 || len > RX_BUF_LEN - 1)
		return 0;
	if (f[12] != (ETHERTYPE_KTG >> 8) || f[13] != (ETHERTYPE_KTG & 0xff))
		return 0;
	buf[len] = 0;
	for (i = ETH_HLEN; i < len - NET_HDR_LEN && f[i] >= 0x20 && f[i] < 0x7f; i++)
		;
	f[i] = 0;
	return (const char *)f + ETH_HLEN;
}

/*
 * Receives count frames tagged "<prefix> <i>" in order and echoes each one
 * to its sender as "<echo> <i>".  0, or what went wrong.
 */
static const char *net_receive(struct net_drv *n, unsigned int round, const char *prefix, const char *echo,
			       unsigned int count)
{
	size_t plen = strlen(prefix), elen = strlen(echo);
	unsigned int got = 0;
	uint32_t id, len;

	ktg_printf("KTG: net rx-wait round=%u count=%u\n", round, count);
	while (got < count) {
		uint8_t *buf, src[6];
		const char *tag;
		char reply[32];
		int slot;

		if (!vdrv_wait(&n->rxq, &id, &len, 2))
			return "rx-timeout";
		if (id >= VDRV_QSIZE)
			return "rx-bad-id";
		slot = net.rx_slot[id];
		buf = net.rx[slot];
		tag = net_frame_tag(buf, len);
		if (!tag || memcmp(tag, prefix, plen) || tag[plen] != ' ') {
			n->ignored++;
		} else {
			size_t tl = strlen(tag);

			ktg_printf("KTG: net rx %s len=%u\n", tag, len - NET_HDR_LEN);
			if (elen + (tl - plen) >= sizeof(reply))
				return "rx-tag";
			memcpy(reply, echo, elen);
			memcpy(reply + elen, tag + plen, tl - plen + 1);
			memcpy(src, buf + NET_HDR_LEN + 6, 6);
			got++;
			if (net_send(n, src, reply))
				return "echo";
		}
		id = (uint32_t)vdrv_add(&n->rxq, vdrv_phys(buf), RX_BUF_LEN, 1);
		if (id >= VDRV_QSIZE)
			return "rx-repost";
		net.rx_slot[id] = (uint8_t)slot;
		vdrv_kick(&n->rxq);
	}
	return 0;
}

/* "<prefix> <i>" into tag (16 bytes), i in 1 digit (i < 10) or 2 (i < 100). */
static void tag_num(char *tag, const char *prefix, unsigned int i, unsigned int digits)
{
	size_t pl = strlen(prefix);

	memcpy(tag, prefix, pl);
	tag[pl++] = ' ';
	if (digits == 2)
		tag[pl++] = (char)('0' + i / 10 % 10);
	tag[pl++] = (char)('0' + i % 10);
	tag[pl] = 0;
}

/* Sends count (< 10) frames "<prefix> <i>"; 0 or what failed. */
static const char *net_send_round(struct net_drv *n, const char *prefix, unsigned int count)
{
	char tag[16];

	for (unsigned int i = 0; i < count; i++) {
		tag_num(tag, prefix, i, 1);
		if (net_send(n, broadcast, tag))
			return "tx-timeout";
	}
	ktg_printf("KTG: net tx %s %u/%u\n", prefix, count, count);
	return 0;
}

/*
 * Both directions under load: the host sends BURST frames at once, eight
 * times more than the guest has receive buffers, so the device must hold
 * frames until buffers come back, losing none; then the guest sends BURST
 * frames, BURST_BATCH per notification.
 */
static const char *net_burst(struct net_drv *n)
{
	unsigned int got = 0, in_order = 1, sent = 0, i;
	uint32_t id, len;
	char want[16];

	ktg_printf("KTG: net rx-wait round=burst count=%u\n", BURST);
	while (got < BURST) {
		const char *tag;
		int slot;

		if (!vdrv_wait(&n->rxq, &id, &len, 2) || id >= VDRV_QSIZE)
			break;
		slot = net.rx_slot[id];
		tag = net_frame_tag(net.rx[slot], len);
		tag_num(want, "KTG-B", got, 2);
		if (tag && !memcmp(tag, "KTG-B ", 6)) {
			in_order &= !memcmp(tag, want, strlen(want) + 1);
			got++;
		} else {
			n->ignored++;
		}
		id = (uint32_t)vdrv_add(&n->rxq, vdrv_phys(net.rx[slot]), RX_BUF_LEN, 1);
		if (id >= VDRV_QSIZE)
			return "rx-repost";
		net.rx_slot[id] = (uint8_t)slot;
		vdrv_kick(&n->rxq);
	}
	while (sent < BURST) {
		for (i = 0; i < BURST_BATCH; i++) {
			tag_num(want, "KTG-GB", sent + i, 2);
			net_frame(n, net.txb[i], broadcast, want);
			if (vdrv_add(&n->txq, vdrv_phys(net.txb[i]), NET_HDR_LEN + ETH_MIN, 0) < 0)
				return "tx-add";
		}
		vdrv_kick(&n->txq);
		for (i = 0; i < BURST_BATCH && vdrv_wait(&n->txq, &id, &len, 1); i++)
			;
		if (i < BURST_BATCH)
			break;
		sent += BURST_BATCH;
	}
	ktg_printf("KTG: net burst rx=%u/%u in-order=%u tx=%u/%u\n", got, BURST, in_order, sent, BURST);
	return (got == BURST && in_order && sent == BURST) ? 0 : "burst";
}

/* InterruptStatus bit 0 a moment after the used entry appeared (then acked). */
static uint32_t net_isr_settled(struct net_drv *n)
{
	uint64_t t = vdrv_rdtsc();

	while (vdrv_rdtsc() - t < ISR_SETTLE)
		cpu_pause();
	return vdrv_isr_take(&n->d) & 1;
}

/*
 * EVENT_IDX both ways: the device asks for kicks through avail_event (it
 * must point at the next entry once it has consumed the ring), and it must
 * hold the used-buffer interrupt until the entry used_event names is used.
 */
static const char *net_event_idx(struct net_drv *n)
{
	volatile struct vdrv_ring *r = &net.txr;
	uint32_t isr[FRAMES];
	char tag[16];
	uint16_t ae = r->used.avail_event, ai = r->avail.idx;

	ktg_printf("KTG: net avail-event=%u avail-idx=%u\n", ae, ai);
	/* Keep the receive queue quiet too, then start from a clear ISR. */
	vdrv_used_event_set(&n->rxq, (uint16_t)(n->rxq.last_used + 0x7fff));
	vdrv_used_event_set(&n->txq, (uint16_t)(n->txq.last_used + FRAMES - 1));
	net_isr_settled(n);
	for (unsigned int i = 0; i < FRAMES; i++) {
		tag_num(tag, "KTG-EVT", i, 1);
		if (net_send(n, broadcast, tag))
			return "evt-tx-timeout";
		isr[i] = net_isr_settled(n);
	}
	ktg_printf("KTG: net event-idx isr=%u,%u,%u kicks=%u skipped=%u\n", isr[0], isr[1], isr[2],
		   n->txq.kicks + n->rxq.kicks, n->txq.kicks_skipped + n->rxq.kicks_skipped);
	if (ae != ai)
		return "avail-event";
	return (isr[0] == 0 && isr[1] == 0 && isr[2] == 1) ? 0 : "used-event";
}

/*
 * netbench=<frames>: that many full-size frames ("KTG-NB" and zeroes), the
 * same buffer BURST_BATCH times per notification, for the host to count.
 */
static const char *net_bench(struct net_drv *n, const char *cmdline)
{
	uint64_t want = 0, sent = 0, t0;
	const char *val;
	uint32_t id, len;
	size_t vlen, i;

	if (!cmdline_get(cmdline, "netbench", &val, &vlen))
		return 0;
	for (i = 0; i < vlen && val[i] >= '0' && val[i] <= '9' && want <= 10000000; i++)
		want = want * 10 + (uint64_t)(val[i] - '0');
	if (i != vlen || !want || want > 10000000)
		return "netbench-value";
	want = (want + BURST_BATCH - 1) / BURST_BATCH * BURST_BATCH;
	net_frame(n, net.bench, broadcast, "KTG-NB");
	ktg_printf("KTG: net bench start frames=%lu bytes=%u\n", want, BENCH_FRAME);
	t0 = vdrv_rdtsc();
	while (sent < want) {
		for (i = 0; i < BURST_BATCH; i++)
			if (vdrv_add(&n->txq, vdrv_phys(net.bench), NET_HDR_LEN + BENCH_FRAME, 0) < 0)
				return "bench-add";
		vdrv_kick(&n->txq);
		for (i = 0; i < BURST_BATCH && vdrv_wait(&n->txq, &id, &len, 1); i++)
			;
		if (i < BURST_BATCH)
			break;
		sent += BURST_BATCH;
	}
	ktg_printf("KTG: net bench done frames=%lu tsc=%lu\n", sent, vdrv_rdtsc() - t0);
	return sent == want ? 0 : "bench";
}

void net_test(const char *cmdline)
{
	struct net_drv n = { 0 };
	const uint64_t want = VDRV_F_VERSION_1 | NET_F_MAC | NET_F_STATUS | NET_F_MTU;
	const char *why, *fail = 0;

	if (vdrv_find(cmdline, VIRTIO_ID_NET, "net", &n.d.base))
		return;
	why = net_setup(&n, want | VDRV_F_EVENT_IDX);
	if (why) {
		ktg_printf("KTG: net FAIL init %s status=0x%x\n", why, vdrv_reg(n.d.base, VIRTIO_MMIO_STATUS));
		return;
	}
	net_config_report(&n);
	if (!(n.d.accepted & NET_F_MAC))
		fail = "no-mac";
	why = fail ? fail : net_send_round(&n, "KTG-TX", FRAMES);
	why = why ? why : net_receive(&n, 1, "KTG-RX", "KTG-ECHO", FRAMES);
	why = why ? why : net_burst(&n);
	if (!why && (n.d.accepted & VDRV_F_EVENT_IDX))
		why = net_event_idx(&n);
	fail = why;

	/* Reset, negotiate again (without EVENT_IDX this time), traffic again. */
	if (!fail) {
		why = vdrv_reset(&n.d) ? "reset" : net_setup(&n, want);
		why = why ? why : net_send_round(&n, "KTG-TX2", 1);
		why = why ? why : net_receive(&n, 2, "KTG-RX2", "KTG-ECHO2", 1);
		ktg_printf("KTG: net reinit %s\n", why ? why : "ok");
		fail = why ? why : net_bench(&n, cmdline);
	}
	ktg_printf("KTG: net ignored=%u\n", n.ignored);
	vdrv_reset(&n.d);
	vdrv_verdict("net", fail);
}
