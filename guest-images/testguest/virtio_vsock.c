/*
 * vsock=1: the test guest's virtio-vsock driver (stream sockets only),
 * against kiln's Firecracker-style host side (Unix sockets):
 *
 *   guest -> host: REQUEST from guest port 1024 to host port 5000 (the host
 *     test listens on <uds_path>_5000), RESPONSE, RW "hello from guest", the
 *     host echoes what it read prefixed with "echo:", CREDIT_REQUEST must be
 *     answered by CREDIT_UPDATE counting the 16 bytes the host took, then
 *     SHUTDOWN (both directions) must end in RST;
 *   host -> guest: the guest listens on port 6000 ("listen" line); the host
 *     connects to uds_path and writes "CONNECT 6000\n"; the guest answers
 *     the REQUEST with RESPONSE advertising a 64-byte receive buffer; the
 *     host writes 200 bytes ("0123456789" repeated), which must come within
 *     the guest's credit (CREDIT_UPDATE each time half of it is consumed);
 *     the guest answers "got 200", then SHUTDOWN must end in RST;
 *   multi: four connections to host port 5000 open at once, each echoed
 *     like the first, told apart by port, each closed with SHUTDOWN/RST;
 *   vsockbench=<KiB>: then that many KiB to host port 5001, within credit.
 *
 * Lines: README.md.
 */
#include "devices/vsock/virtio_vsock_abi.h"
#include "guest-images/testguest/hw.h"
#include "guest-images/testguest/ktg.h"
#include "guest-images/testguest/virtio_drv.h"

#define VSOCK_HDR      VIRTIO_VSOCK_HDR_SIZE
#define SHUTDOWN_BOTH  (VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND)

#define G2H_LOCAL_PORT 1024
#define G2H_HOST_PORT  5000
#define H2G_PORT       6000
#define G2H_BUF_ALLOC  4096
#define H2G_BUF_ALLOC  64
#define H2G_BYTES      200
#define RX_BUFS        4
#define RX_BUF_LEN     (VSOCK_HDR + 512)
#define PKT_TRIES      32   /* packets looked at while waiting for one */
#define MULTI_CONNS    4    /* connections open at once in the multi round */
#define MULTI_PORT0    1100 /* their guest ports: 1100.. */
#define BENCH_LOCAL_PORT 1025
#define BENCH_HOST_PORT  5001
#define BENCH_PKT      4096 /* payload of each vsockbench= packet */

static struct {
	struct vdrv_ring rxr, txr, evr;
	uint8_t rx[RX_BUFS][RX_BUF_LEN] __attribute__((aligned(64)));
	uint8_t tx[RX_BUF_LEN] __attribute__((aligned(64)));
	uint8_t bench[VSOCK_HDR + BENCH_PKT] __attribute__((aligned(64)));
	uint8_t ev[4][8];
	uint8_t rx_slot[VDRV_QSIZE];
} vs __attribute__((aligned(4096)));

struct vsock_conn {
	uint32_t lport, pport;
	uint32_t buf_alloc, fwd_cnt, rx_cnt;    /* ours */
	uint32_t peer_buf, peer_fwd, tx_cnt;    /* the device's */
};

struct vsock_drv {
	struct vdrv_dev d;
	struct vdrv_queue rxq, txq, evq;
	uint64_t cid;
	struct virtio_vsock_hdr h;                     /* last packet received */
	uint8_t payload[RX_BUF_LEN];
};

static const char *vsock_setup(struct vsock_drv *v)
{
	const char *why = vdrv_negotiate(&v->d, "vsock", VDRV_F_VERSION_1);

	if (!why)
		why = vdrv_queue_init(&v->d, &v->rxq, 0, &vs.rxr);
	if (!why)
		why = vdrv_queue_init(&v->d, &v->txq, 1, &vs.txr);
	if (!why)
		why = vdrv_queue_init(&v->d, &v->evq, 2, &vs.evr);
	if (!why)
		why = vdrv_driver_ok(&v->d);
	for (unsigned int i = 0; !why && i < RX_BUFS; i++) {
		int id = vdrv_add(&v->rxq, vdrv_phys(vs.rx[i]), RX_BUF_LEN, 1);

		if (id < 0)
			why = "rx-add";
		else
			vs.rx_slot[id] = (uint8_t)i;
	}
	for (unsigned int i = 0; !why && i < 4; i++)
		if (vdrv_add(&v->evq, vdrv_phys(vs.ev[i]), sizeof(vs.ev[i]), 1) < 0)
			why = "event-add";
	if (!why) {
		vdrv_kick(&v->rxq);
		vdrv_kick(&v->evq);
	}
	return why;
}

/* Sends one packet on c; the device must take it.  0 or -1. */
static int vsock_send(struct vsock_drv *v, struct vsock_conn *c, uint16_t op, uint32_t flags,
		      const void *data, uint32_t len)
{
	struct virtio_vsock_hdr h = {
		.src_cid = v->cid, .dst_cid = VSOCK_CID_HOST, .src_port = c->lport, .dst_port = c->pport,
		.len = len, .type = VIRTIO_VSOCK_TYPE_STREAM, .op = op, .flags = flags,
		.buf_alloc = c->buf_alloc, .fwd_cnt = c->fwd_cnt,
	};
	uint32_t id, used;

	if (len > sizeof(vs.tx) - VSOCK_HDR)
		return -1;
	memcpy(vs.tx, &h, VSOCK_HDR);
	memcpy(vs.tx + VSOCK_HDR, data, len);
	if (vdrv_add(&v->txq, vdrv_phys(vs.tx), VSOCK_HDR + len, 0) < 0)
		return -1;
	vdrv_kick(&v->txq);
	if (!vdrv_wait(&v->txq, &id, &used, 1))
		return -1;
	c->tx_cnt += len;
	return 0;
}

/* The next packet into v->h and v->payload (buffer given back).  0 or -1. */
static int vsock_recv(struct vsock_drv *v, unsigned int mult)
{
	uint32_t id, len;
	uint8_t *buf;
	int slot;

	if (!vdrv_wait(&v->rxq, &id, &len, mult) || id >= VDRV_QSIZE)
		return -1;
	slot = vs.rx_slot[id];
	buf = vs.rx[slot];
	if (len < VSOCK_HDR || len > RX_BUF_LEN) {
		memset(&v->h, 0, sizeof(v->h));
	} else {
		memcpy(&v->h, buf, VSOCK_HDR);
		if (v->h.len > len - VSOCK_HDR)
			v->h.len = len - VSOCK_HDR;
		memcpy(v->payload, buf + VSOCK_HDR, v->h.len);
	}
	id = (uint32_t)vdrv_add(&v->rxq, vdrv_phys(buf), RX_BUF_LEN, 1);
	if (id >= VDRV_QSIZE)
		return -1;
	vs.rx_slot[id] = (uint8_t)slot;
	vdrv_kick(&v->rxq);
	return 0;
}

/*
 * Waits for a packet of op on c (CREDIT_UPDATEs on the way are taken in).
 * 0, or -1 (timeout, RST or too many other packets).
 */
static int vsock_expect(struct vsock_drv *v, struct vsock_conn *c, uint16_t op, unsigned int mult)
{
	for (unsigned int i = 0; i < PKT_TRIES; i++) {
		if (vsock_recv(v, mult))
			return -1;
		if (v->h.dst_port != c->lport || v->h.src_port != c->pport)
			continue;
		c->peer_buf = v->h.buf_alloc;
		c->peer_fwd = v->h.fwd_cnt;
		if (v->h.op == op)
			return 0;
		if (v->h.op == VIRTIO_VSOCK_OP_RST)
			return -1;
	}
	return -1;
}

/* SHUTDOWN both ways; the device must close the connection with RST. */
static const char *vsock_close(struct vsock_drv *v, struct vsock_conn *c, const char *name)
{
	int rst = !vsock_send(v, c, VIRTIO_VSOCK_OP_SHUTDOWN, SHUTDOWN_BOTH, 0, 0) &&
		  !vsock_expect(v, c, VIRTIO_VSOCK_OP_RST, 1);

	ktg_printf("KTG: vsock %s shutdown rst=%d\n", name, rst);
	return rst ? 0 : "shutdown";
}

static const char *vsock_g2h(struct vsock_drv *v)
{
	struct vsock_conn c = { .lport = G2H_LOCAL_PORT, .pport = G2H_HOST_PORT, .buf_alloc = G2H_BUF_ALLOC };
	static const char hello[] = "hello from guest";
	static const char want[] = "echo:hello from guest";
	uint32_t hl = sizeof(hello) - 1, wl = sizeof(want) - 1, got = 0;
	char echo[sizeof(want)];

	if (vsock_send(v, &c, VIRTIO_VSOCK_OP_REQUEST, 0, 0, 0) || vsock_expect(v, &c, VIRTIO_VSOCK_OP_RESPONSE, 1))
		return "g2h-connect";
	ktg_printf("KTG: vsock g2h connected port=%u peer-buf=%u\n", c.pport, c.peer_buf);
	if (c.peer_buf < hl || vsock_send(v, &c, VIRTIO_VSOCK_OP_RW, 0, hello, hl))
		return "g2h-send";
	/* The echo may come in pieces. */
	while (got < wl) {
		if (vsock_expect(v, &c, VIRTIO_VSOCK_OP_RW, 2) || v->h.len > wl - got)
			return "g2h-echo";
		memcpy(echo + got, v->payload, v->h.len);
		got += v->h.len;
		c.rx_cnt += v->h.len;
		c.fwd_cnt += v->h.len;
	}
	echo[got] = 0;
	ktg_printf("KTG: vsock g2h echo %s\n", echo);
	if (memcmp(echo, want, wl))
		return "g2h-echo-data";
	if (vsock_send(v, &c, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0, 0, 0) ||
	    vsock_expect(v, &c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 1))
		return "g2h-credit";
	ktg_printf("KTG: vsock g2h credit buf=%u fwd=%u\n", c.peer_buf, c.peer_fwd);
	if (c.peer_fwd != hl)
		return "g2h-fwd-cnt";
	return vsock_close(v, &c, "g2h");
}

/* The multi round's connection a packet belongs to, or -1. */
static int multi_conn(const struct vsock_drv *v)
{
	uint32_t i = v->h.dst_port - MULTI_PORT0;

	return (i < MULTI_CONNS && v->h.src_port == G2H_HOST_PORT) ? (int)i : -1;
}

/*
 * MULTI_CONNS connections to host port 5000 at once: all requested before
 * any answer is read, then "hello from conn<i>" on each, the echoes (which
 * may interleave and come in pieces) told apart by port, then SHUTDOWN on
 * each and their RSTs.
 */
static const char *vsock_multi(struct vsock_drv *v)
{
	struct vsock_conn c[MULTI_CONNS];
	static const char want[] = "echo:hello from conn0";
	uint32_t wl = sizeof(want) - 1, got[MULTI_CONNS] = { 0 };
	unsigned int up = 0, echoed = 0, closed = 0, tries, i;
	char msg[] = "hello from conn0";
	int k;

	for (i = 0; i < MULTI_CONNS; i++) {
		c[i] = (struct vsock_conn){ .lport = MULTI_PORT0 + i, .pport = G2H_HOST_PORT, .buf_alloc = G2H_BUF_ALLOC };
		if (vsock_send(v, &c[i], VIRTIO_VSOCK_OP_REQUEST, 0, 0, 0))
			return "multi-request";
	}
	for (tries = 0; up < MULTI_CONNS && tries < 4 * PKT_TRIES && !vsock_recv(v, 1); tries++) {
		k = multi_conn(v);
		if (k >= 0 && v->h.op == VIRTIO_VSOCK_OP_RESPONSE)
			up++;
		else if (k >= 0 && v->h.op == VIRTIO_VSOCK_OP_RST)
			return "multi-refused";
	}
	for (i = 0; up == MULTI_CONNS && i < MULTI_CONNS; i++) {
		msg[sizeof(msg) - 2] = (char)('0' + i);
		if (vsock_send(v, &c[i], VIRTIO_VSOCK_OP_RW, 0, msg, sizeof(msg) - 1))
			return "multi-send";
	}
	for (tries = 0; up == MULTI_CONNS && echoed < MULTI_CONNS && tries < 8 * PKT_TRIES && !vsock_recv(v, 2);
	     tries++) {
		k = multi_conn(v);
		if (k < 0 || v->h.op != VIRTIO_VSOCK_OP_RW)
			continue;
		for (i = 0; i < v->h.len; i++, got[k]++)
			if (got[k] >= wl ||
			    v->payload[i] != (uint8_t)(got[k] == wl - 1 ? '0' + k : want[got[k]]))
				return "multi-echo-data";
		c[k].rx_cnt += v->h.len;
		c[k].fwd_cnt += v->h.len;
		echoed += got[k] == wl;
	}
	for (i = 0; echoed == MULTI_CONNS && i < MULTI_CONNS; i++)
		if (vsock_send(v, &c[i], VIRTIO_VSOCK_OP_SHUTDOWN, SHUTDOWN_BOTH, 0, 0))
			return "multi-shutdown";
	for (tries = 0; echoed == MULTI_CONNS && closed < MULTI_CONNS && tries < 4 * PKT_TRIES && !vsock_recv(v, 1);
	     tries++)
		closed += multi_conn(v) >= 0 && v->h.op == VIRTIO_VSOCK_OP_RST;
	ktg_printf("KTG: vsock multi conns=%u connected=%u echoed=%u closed=%u\n", MULTI_CONNS, up, echoed, closed);
	return closed == MULTI_CONNS ? 0 : "multi";
}

static const char *vsock_h2g(struct vsock_drv *v)
{
	struct vsock_conn c = { .lport = H2G_PORT, .buf_alloc = H2G_BUF_ALLOC };
	uint32_t max_pkt = 0, max_out = 0, updates = 0;
	int credit_ok = 1, data_ok = 1;
	unsigned int i;

	ktg_printf("KTG: vsock listen port=%u\n", H2G_PORT);
	/* The host test connects when it sees the line: allow it a while. */
	for (i = 0; i < PKT_TRIES; i++) {
		if (vsock_recv(v, 3))
			return "h2g-no-request";
		if (v->h.op == VIRTIO_VSOCK_OP_REQUEST && v->h.dst_port == H2G_PORT && v->h.src_cid == VSOCK_CID_HOST)
			break;
	}
	if (i == PKT_TRIES)
		return "h2g-no-request";
	c.pport = v->h.src_port;
	c.peer_buf = v->h.buf_alloc;
	c.peer_fwd = v->h.fwd_cnt;
	if (vsock_send(v, &c, VIRTIO_VSOCK_OP_RESPONSE, 0, 0, 0))
		return "h2g-response";
	ktg_printf("KTG: vsock h2g accepted port=%u from=%u\n", H2G_PORT, c.pport);
	while (c.rx_cnt < H2G_BYTES) {
		uint32_t out;

		if (vsock_expect(v, &c, VIRTIO_VSOCK_OP_RW, 2))
			return "h2g-data";
		for (i = 0; i < v->h.len; i++)
			if (c.rx_cnt + i >= H2G_BYTES || v->payload[i] != '0' + (c.rx_cnt + i) % 10)
				data_ok = 0;
		c.rx_cnt += v->h.len;
		out = c.rx_cnt - c.fwd_cnt;
		max_pkt = v->h.len > max_pkt ? v->h.len : max_pkt;
		max_out = out > max_out ? out : max_out;
		if (out > c.buf_alloc)
			credit_ok = 0;
		/* Consume it, and tell the device once half the buffer is free again. */
		if (out >= c.buf_alloc / 2) {
			c.fwd_cnt = c.rx_cnt;
			updates++;
			if (vsock_send(v, &c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, 0, 0))
				return "h2g-credit-update";
		}
	}
	ktg_printf("KTG: vsock h2g received=%u data-ok=%d max-pkt=%u max-outstanding=%u credit-ok=%d updates=%u\n",
		   c.rx_cnt, data_ok, max_pkt, max_out, credit_ok, updates);
	if (!data_ok || c.rx_cnt != H2G_BYTES)
		return "h2g-data";
	if (!credit_ok)
		return "h2g-credit";
	c.fwd_cnt = c.rx_cnt;
	if (vsock_send(v, &c, VIRTIO_VSOCK_OP_RW, 0, "got 200", 7))
		return "h2g-reply";
	return vsock_close(v, &c, "h2g");
}

/*
 * vsockbench=<KiB>: a third connection, to host port 5001, carries that
 * many KiB in 4 KiB packets, within the credit the device grants (waiting
 * for its CREDIT_UPDATEs), then SHUTDOWN.  The host counts the bytes.
 */
static const char *vsock_bench(struct vsock_drv *v, const char *cmdline)
{
	struct vsock_conn c = { .lport = BENCH_LOCAL_PORT, .pport = BENCH_HOST_PORT, .buf_alloc = G2H_BUF_ALLOC };
	struct virtio_vsock_hdr h;
	uint64_t want = 0, t0;
	uint32_t id, used;
	const char *val;
	size_t n, i;

	if (!cmdline_get(cmdline, "vsockbench", &val, &n))
		return 0;
	for (i = 0; i < n && val[i] >= '0' && val[i] <= '9' && want <= (1u << 20); i++)
		want = want * 10 + (uint64_t)(val[i] - '0');
	if (i != n || !want || want > (1u << 20))
		return "vsockbench-value";
	want *= 1024;
	if (vsock_send(v, &c, VIRTIO_VSOCK_OP_REQUEST, 0, 0, 0) || vsock_expect(v, &c, VIRTIO_VSOCK_OP_RESPONSE, 1))
		return "bench-connect";
	for (i = 0; i < BENCH_PKT; i++)
		vs.bench[VSOCK_HDR + i] = (uint8_t)('a' + i % 26);
	ktg_printf("KTG: vsock bench start bytes=%lu\n", want);
	t0 = vdrv_rdtsc();
	while (c.tx_cnt < want) {
		if (c.peer_buf - (c.tx_cnt - c.peer_fwd) < BENCH_PKT) {
			if (vsock_expect(v, &c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 1))
				return "bench-credit";
			continue;
		}
		h = (struct virtio_vsock_hdr){
			.src_cid = v->cid, .dst_cid = VSOCK_CID_HOST, .src_port = c.lport, .dst_port = c.pport,
			.len = BENCH_PKT, .type = VIRTIO_VSOCK_TYPE_STREAM, .op = VIRTIO_VSOCK_OP_RW, .buf_alloc = c.buf_alloc,
			.fwd_cnt = c.fwd_cnt,
		};
		memcpy(vs.bench, &h, VSOCK_HDR);
		if (vdrv_add(&v->txq, vdrv_phys(vs.bench), VSOCK_HDR + BENCH_PKT, 0) < 0)
			return "bench-add";
		vdrv_kick(&v->txq);
		if (!vdrv_wait(&v->txq, &id, &used, 1))
			return "bench-tx";
		c.tx_cnt += BENCH_PKT;
	}
	ktg_printf("KTG: vsock bench done bytes=%u tsc=%lu\n", c.tx_cnt, vdrv_rdtsc() - t0);
	return vsock_close(v, &c, "bench");
}

void vsock_test(const char *cmdline)
{
	struct vsock_drv v;
	const char *why;

	memset(&v, 0, sizeof(v));
	if (vdrv_find(cmdline, VIRTIO_ID_VSOCK, "vsock", &v.d.base))
		return;
	why = vsock_setup(&v);
	if (why) {
		ktg_printf("KTG: vsock FAIL init %s status=0x%x\n", why, vdrv_reg(v.d.base, VIRTIO_MMIO_STATUS));
		return;
	}
	v.cid = vdrv_reg(v.d.base, VIRTIO_MMIO_CONFIG) |
		((uint64_t)vdrv_reg(v.d.base, VIRTIO_MMIO_CONFIG + 4) << 32); /* le64 guest_cid */
	ktg_printf("KTG: vsock cid=%lu\n", v.cid);
	why = vsock_g2h(&v);
	if (!why)
		why = vsock_h2g(&v);
	if (!why)
		why = vsock_multi(&v);
	if (!why)
		why = vsock_bench(&v, cmdline);
	vdrv_reset(&v.d);
	vdrv_verdict("vsock", why);
}
