/*
 * fuzz_net: a virtio-net device on the virtio-mmio transport over the
 * in-memory TAP, driven by the mock net driver.  The input is a device setup
 * (queue size, limiters, MAC/MTU), negotiated features and a list of
 * operations: transmit chains of any length and layout with valid or raw
 * headers, receive buffers of any size and layout, frames of any size
 * arriving on the TAP, a full TAP (EAGAIN) and read errors, raw descriptor
 * chains, byte pokes into guest RAM, register writes, re-negotiation, loop
 * events (TAP readable/writable/error, limiter timers with a fake clock),
 * limiter PATCHes, and save + (corrupted) restore.
 *
 * Invariants: every frame the TAP gets is header + 1..NET_FRAME_MAX bytes
 * with a header that uses only negotiated offloads; every completion names
 * a head inside its ring, a receive completion of a buffer the mock posted
 * (and nothing disturbed) claims no more than the buffer holds and a
 * transmit completion claims 0; while the device needs a reset it completes
 * nothing; frames read from the TAP are delivered, dropped (counted) or
 * still held: none vanishes; every frame counted sent reached the TAP; an
 * inactive or broken device watches nothing and none reads the TAP while it
 * holds a frame (the loop cannot spin); the metrics never go backwards.
 *
 * Op encoding: setup byte, limiter byte, features u64, then opcode bytes each
 * followed by the fields read in op order (see each case); missing bytes
 * read as 0.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>

#include "devices/net/net_mock.h"
#include "fuzz/fuzz_common.h"
#include "vmm/log/log.h"

#define FZ_MAX_OPS 256
#define MAX_RENEGOTIATE 16
#define MAX_RESTORES 4

enum {
	OP_TX, OP_RX_POST, OP_INJECT, OP_TAP_FULL, OP_READ_FAIL, OP_RAW_CHAIN, OP_POKE, OP_REG,
	OP_NEGOTIATE, OP_POLL, OP_TIMER, OP_EVENT, OP_PATCH, OP_SNAPSHOT, OP_PROCESS, OP_NR
};

struct fz_net {
	struct net_mock nm;
	struct net_backend shim;     /* checks every write, then calls the fake TAP */
	struct net_backend_ops shim_ops;
	struct net_state st, bad;
	uint64_t now;
	/* What the mock built, by queue and head. */
	uint8_t known[2][VIRTQ_MAX_SIZE];
	uint16_t descs[2][VIRTQ_MAX_SIZE];
	uint32_t gen_of[2][VIRTQ_MAX_SIZE];
	unsigned int outstanding[2];
	uint32_t gen;
	uint64_t injected;           /* frames the TAP was given */
	struct net_metrics last;
	uint8_t buf[NET_BUF_MAX + 64];
};

static struct fz_net *z;

static uint64_t fz_clock(void)
{
	return z->now;
}

static ssize_t shim_writev(void *opaque, const struct iovec *iov, int iovcnt)
{
	struct virtio_net_hdr_v1 h;
	size_t len = 0, at = 0;

	FUZZ_CHECK(iovcnt >= 1 && iovcnt <= VIRTQ_MAX_SIZE + 1, "iovcnt %d", iovcnt);
	for (int i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;
	FUZZ_CHECK(len > VIRTIO_NET_HDR_LEN && len <= NET_BUF_MAX, "frame of %zu bytes", len);
	for (int i = 0; i < iovcnt && at < sizeof(h); i++) {
		size_t n = iov[i].iov_len < sizeof(h) - at ? iov[i].iov_len : sizeof(h) - at;

		memcpy((uint8_t *)&h + at, iov[i].iov_base, n);
		at += n;
	}
	FUZZ_CHECK(net_tx_hdr_ok(&h, z->nm.dev.acked), "header flags %#x gso %#x with features %#llx", h.flags,
		   h.gso_type, (unsigned long long)z->nm.dev.acked);
	return z->nm.tap.be.ops->writev(z->nm.tap.be.opaque, iov, iovcnt);
}

static ssize_t shim_read(void *opaque, void *buf, size_t len)
{
	return z->nm.tap.be.ops->read(z->nm.tap.be.opaque, buf, len);
}

static int shim_set_offload(void *opaque, unsigned int flags)
{
	FUZZ_CHECK(!(flags & ~(NET_TUN_F_CSUM | NET_TUN_F_TSO4 | NET_TUN_F_TSO6 | NET_TUN_F_UFO | NET_TUN_F_TSO_ECN)),
		   "offload flags %#x", flags);
	FUZZ_CHECK(!(flags & ~NET_TUN_F_CSUM) || (flags & NET_TUN_F_CSUM), "TSO/UFO without CSUM: %#x", flags);
	return z->nm.tap.be.ops->set_offload(z->nm.tap.be.opaque, flags);
}

static uint32_t status_reg(void)
{
	return vmock_reg_read(&z->nm.m, VIRTIO_MMIO_STATUS);
}

static void forget_all(void)
{
	memset(z->known, 0, sizeof(z->known));
	memset(z->outstanding, 0, sizeof(z->outstanding));
}

static void reap(void)
{
	uint16_t head;
	uint32_t used;

	while (net_mock_tx_used(&z->nm, &head, &used) == 0) {
		FUZZ_CHECK(head < z->nm.m.q[VIRTIO_NET_TXQ].size, "tx head %u", head);
		FUZZ_CHECK(used == 0, "tx used length %u", used);
		if (z->known[1][head]) {
			z->known[1][head] = 0;
			z->outstanding[1] -= z->descs[1][head];
		}
	}
	while (net_mock_rx_used(&z->nm, &head, &used, NULL, 0) == 0) {
		FUZZ_CHECK(head < z->nm.m.q[VIRTIO_NET_RXQ].size, "rx head %u", head);
		if (!z->known[0][head])
			continue;
		z->known[0][head] = 0;
		z->outstanding[0] -= z->descs[0][head];
		if (z->gen_of[0][head] == z->gen)
			FUZZ_CHECK(used <= z->nm.rx_cap[head], "rx used %u of a %u-byte buffer", used,
				   z->nm.rx_cap[head]);
	}
}

static bool needs_reset(void)
{
	return status_reg() & VIRTIO_STATUS_DEVICE_NEEDS_RESET;
}

static void notify_and_check(unsigned int q)
{
	uint16_t before[2] = { vmock_used_idx(&z->nm.m, 0), vmock_used_idx(&z->nm.m, 1) };
	bool broken = needs_reset();

	vmock_notify(&z->nm.m, q);
	if (broken)
		FUZZ_CHECK(vmock_used_idx(&z->nm.m, 0) == before[0] && vmock_used_idx(&z->nm.m, 1) == before[1],
			   "completed while needing a reset");
	reap();
}

/* Room for a chain of descs descriptors without reusing held ones. */
static bool room(unsigned int q, unsigned int descs)
{
	uint16_t size = z->nm.m.q[q].size;

	if (!size)
		return false;
	if (z->outstanding[q] + descs > size)
		reap();
	return z->outstanding[q] + descs <= size;
}

static void track(unsigned int q, uint16_t head, unsigned int descs)
{
	if (z->known[q][head]) /* reused by a raw chain meanwhile */
		z->outstanding[q] -= z->descs[q][head];
	z->known[q][head] = 1;
	z->descs[q][head] = (uint16_t)descs;
	z->gen_of[q][head] = z->gen;
	z->outstanding[q] += descs;
}

static void op_tx(struct fz *f)
{
	uint8_t l = fz_u8(f);
	uint32_t len = (l & 0x80) ? fz_u32(f) % (NET_FRAME_MAX + 8) : fz_u16(f) % 2048;
	unsigned int segs = 1 + fz_u8(f) % 16, descs;
	bool indirect = l & 1;
	struct virtio_net_hdr_v1 h = { 0 };

	if (l & 2)
		fz_bytes(f, &h, sizeof(h));
	else if (l & 4)
		h = (struct virtio_net_hdr_v1){ .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
						.gso_type = (uint8_t)(fz_u8(f) % 5), .gso_size = 1448 };
	if (len + VIRTIO_NET_HDR_LEN > NET_MOCK_TX_AREA)
		return;
	if (segs > len + VIRTIO_NET_HDR_LEN)
		segs = len + VIRTIO_NET_HDR_LEN;
	descs = indirect ? 1 : segs;
	if (indirect && segs > z->nm.m.q[1].size)
		segs = z->nm.m.q[1].size ? z->nm.m.q[1].size : 1;
	if (!room(1, descs))
		return;
	for (uint32_t i = 0; i < len && i < sizeof(z->buf); i += 97)
		z->buf[i] = (uint8_t)(i ^ l);
	track(1, net_mock_tx(&z->nm, &h, z->buf, len, segs, indirect), descs);
	if (l & 8)
		notify_and_check(VIRTIO_NET_TXQ);
}

static void op_rx_post(struct fz *f)
{
	uint8_t l = fz_u8(f);
	uint32_t len = 1 + ((l & 0x80) ? fz_u32(f) % (NET_BUF_MAX + 64) : fz_u16(f) % 4096);
	unsigned int segs = 1 + fz_u8(f) % 8, descs;
	bool indirect = l & 1;

	if (segs > len)
		segs = len;
	if (indirect && segs > z->nm.m.q[0].size)
		segs = z->nm.m.q[0].size ? z->nm.m.q[0].size : 1;
	descs = indirect ? 1 : segs;
	if (!room(0, descs))
		return;
	track(0, net_mock_rx_post(&z->nm, len, segs, indirect), descs);
	if (l & 8)
		notify_and_check(VIRTIO_NET_RXQ);
}

static void op_inject(struct fz *f)
{
	uint8_t l = fz_u8(f);
	uint32_t len = (l & 0x80) ? fz_u32(f) % (NET_BUF_MAX + 64) : fz_u16(f) % 3000;

	fz_bytes(f, z->buf, len < 24 ? len : 24); /* header and the start of the frame */
	if (net_tap_fake_inject(&z->nm.tap, z->buf, len) == 0)
		z->injected++;
}

static void op_raw_chain(struct fz *f)
{
	unsigned int q = fz_u8(f) & 1;
	uint16_t size = z->nm.m.q[q].size, head = fz_u16(f) % (size ? size : 1);
	uint8_t n = 1 + fz_u8(f) % 4;

	if (!size)
		return;
	for (uint8_t i = 0; i < n; i++) {
		uint16_t idx = (head + i) & (size - 1);
		uint64_t addr = (fz_u8(f) & 1) ? fz_u64(f) : z->nm.rx_area + fz_u16(f);

		vmock_desc_write(&z->nm.m, q, idx, addr, fz_u16(f), fz_u8(f) & 7,
				 i + 1 < n ? (idx + 1) & (size - 1) : fz_u16(f));
	}
	z->gen++;
	if (z->known[q][head]) {
		z->outstanding[q] -= z->descs[q][head];
		z->known[q][head] = 0;
	}
	vmock_avail_push(&z->nm.m, q, head);
	notify_and_check(q);
}

static void op_snapshot(struct fz *f)
{
	uint8_t k = fz_u8(f) % 8;

	net_save(&z->nm.dev, &z->st);
	z->bad = z->st;
	for (uint8_t i = 0; i < k; i++) {
		uint32_t at = fz_u32(f) % sizeof(z->bad);
		uint8_t v = fz_u8(f);

		((uint8_t *)&z->bad)[at] = v;
	}
	/* Accepted or not, the state saved a moment ago must go back in (and
	 * with it every held frame, so the accounting below still holds). */
	(void)!net_restore(&z->nm.dev, &z->bad);
	FUZZ_CHECK(net_restore(&z->nm.dev, &z->st) == 0, "the device refused its own saved state");
}

static void check(void)
{
	struct net_metrics m;
	uint64_t read;
	uint32_t ev;

	net_metrics_get(&z->nm.dev, &m);
	FUZZ_CHECK(m.rx_frames >= z->last.rx_frames && m.tx_frames >= z->last.tx_frames &&
			   m.rx_dropped >= z->last.rx_dropped && m.tx_dropped >= z->last.tx_dropped &&
			   m.queue_errors >= z->last.queue_errors && m.interrupts >= z->last.interrupts,
		   "metrics went backwards");
	FUZZ_CHECK(m.tx_frames == z->nm.tap.writes, "tx frames %llu, TAP writes %llu", (unsigned long long)m.tx_frames,
		   (unsigned long long)z->nm.tap.writes);
	z->last = m;
	/* The loop never spins: nothing watched by a broken device, no
	 * reading while a frame waits. */
	ev = net_fake_loop_events(&z->nm.ev, z->nm.tap.fd);
	if (z->nm.dev.broken || !z->nm.dev.active)
		FUZZ_CHECK(ev == 0, "an idle or broken device watches %#x", ev);
	if (z->nm.dev.rx_have)
		FUZZ_CHECK(!(ev & EPOLLIN), "reading while a frame waits");
	read = z->injected - net_tap_fake_pending(&z->nm.tap);
	FUZZ_CHECK(m.rx_frames + m.rx_dropped + (z->nm.dev.rx_have ? 1 : 0) == read,
		   "frames read %llu: delivered %llu dropped %llu held %d", (unsigned long long)read,
		   (unsigned long long)m.rx_frames, (unsigned long long)m.rx_dropped, z->nm.dev.rx_have);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_set_level(LOG_LEVEL_ERROR);
	return 0;
}

static struct ratelimit_config limiter(uint8_t b)
{
	struct ratelimit_config c = { 0 };

	if (b & 1)
		c.ops = (struct rl_bucket_config){ .size = 1 + (b >> 4), .refill_time_ms = 10 };
	if (b & 2)
		c.bandwidth = (struct rl_bucket_config){ .size = 1000u << (b >> 5), .refill_time_ms = 100,
							 .one_time_burst = (b & 8) ? 5000 : 0 };
	return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t qsizes[] = { 2, 4, 8, 16, 64, 256 };
	struct fz f = fz_init(data, size);
	uint8_t setup = fz_u8(&f), lim = fz_u8(&f);
	uint64_t features = fz_u64(&f) | VIRTIO_FEATURE(VIRTIO_F_VERSION_1);
	struct net_opts opts = {
		.has_mac = setup & 1,
		.mac = { 2, 0, 0, 0, 0, 9 },
		.mtu = (setup & 2) ? 1500 : 0,
		.queue_size = qsizes[(setup >> 2) % ARRAY_SIZE(qsizes)],
		.rx_rate_limiter = limiter(lim & 0x0f ? lim : 0),
		.tx_rate_limiter = limiter((uint8_t)(lim >> 2)),
		.now_ns = fz_clock,
	};
	unsigned int renegotiations = 0, restores = 0;

	if (!z) {
		z = calloc(1, sizeof(*z));
		FUZZ_CHECK(z != NULL, "alloc");
	}
	forget_all();
	memset(&z->last, 0, sizeof(z->last));
	z->gen = 0;
	z->injected = 0;
	z->now = 1000000000ULL;
	if (net_mock_init(&z->nm, &opts, features, 0, false))
		return 0;
	/* Put the checking shim between the device and the fake TAP. */
	z->shim_ops = (struct net_backend_ops){ .read = shim_read, .writev = shim_writev,
						.set_offload = shim_set_offload };
	z->nm.dev.be.ops = &z->shim_ops;

	for (unsigned int n = 0; n < FZ_MAX_OPS && f.left; n++) {
		switch (fz_u8(&f) % OP_NR) {
		case OP_TX:
			op_tx(&f);
			break;
		case OP_RX_POST:
			op_rx_post(&f);
			break;
		case OP_INJECT:
			op_inject(&f);
			break;
		case OP_TAP_FULL: {
			uint8_t b = fz_u8(&f);

			z->nm.tap.full = b & 1;
			z->nm.tap.eagain_next = b >> 1;
			break;
		}
		case OP_READ_FAIL:
			z->nm.tap.read_fail = (fz_u8(&f) & 1) ? -EIO : 0;
			break;
		case OP_RAW_CHAIN:
			op_raw_chain(&f);
			break;
		case OP_POKE: {
			struct fz_poke p = fz_poke(&f, NET_MOCK_RAM_SIZE);

			vmock_write(&z->nm.m, VMOCK_RAM_GPA + p.off, p.bytes, p.len);
			z->gen++;
			break;
		}
		case OP_REG:
			vmock_reg_write(&z->nm.m, (fz_u8(&f) & 0x3f) * 4, fz_u32(&f));
			z->gen++;
			break;
		case OP_NEGOTIATE:
			if (renegotiations++ < MAX_RENEGOTIATE) {
				static const uint16_t sizes[] = { 0, 2, 4, 16, 256 };

				forget_all();
				(void)vmock_negotiate(&z->nm.m, fz_u64(&f) | VIRTIO_FEATURE(VIRTIO_F_VERSION_1), 2,
						      sizes[fz_u8(&f) % ARRAY_SIZE(sizes)]);
			}
			break;
		case OP_POLL:
			net_mock_poll(&z->nm, 1 + fz_u8(&f) % 8);
			reap();
			break;
		case OP_TIMER: {
			uint8_t b = fz_u8(&f);

			z->now += (uint64_t)fz_u16(&f) * 100000ULL;
			net_event(&z->nm.dev, (b & 1) ? NET_EVENT_TX_RATELIMIT : NET_EVENT_RX_RATELIMIT, EPOLLIN);
			reap();
			break;
		}
		case OP_EVENT: {
			static const uint32_t evs[] = { EPOLLIN, EPOLLOUT, EPOLLIN | EPOLLOUT, EPOLLERR, EPOLLHUP | EPOLLIN };

			net_event(&z->nm.dev, fz_u8(&f) % 5, evs[fz_u8(&f) % ARRAY_SIZE(evs)]);
			reap();
			break;
		}
		case OP_PATCH: {
			struct ratelimit_config rx = limiter(fz_u8(&f)), tx = limiter(fz_u8(&f));

			if (net_dev_update_ratelimit(&z->nm.dev, &rx, &tx))
				break; /* limiter() makes only valid configs */
			reap();
			break;
		}
		case OP_SNAPSHOT:
			if (restores++ < MAX_RESTORES)
				op_snapshot(&f);
			break;
		default: {
			unsigned int q = fz_u8(&f) % 3;

			if (q < 2)
				notify_and_check(q);
			else
				(void)net_process_queue(&z->nm.dev, 7); /* no such queue */
			break;
		}
		}
		check();
	}
	net_mock_destroy(&z->nm);
	return 0;
}
