/*
 * fuzz_vsock: a virtio-vsock device on the virtio-mmio transport, driven by
 * the mock vsock driver on the guest side and by host processes on a
 * socketpair backend (the listener is one end of a socketpair that becomes
 * readable when a host "connects"; accept and connect hand the device one
 * end of a fresh socketpair, the target keeps the other).  The input is a
 * setup (rx buffer size, table size, negotiated features, queue size) and a
 * list of operations: guest packets of every op with any header fields,
 * payload length and descriptor split; rx and event buffer posting; host
 * connects (with a CONNECT line, or raw bytes; accept may fail like
 * EMFILE), writes, reads, half-closes and closes; loop rounds; raw descriptor chains on any queue; byte pokes
 * into guest RAM; register writes; re-negotiation; transport reset; state
 * save + (corrupted) restore; direct vsock_process_queue calls.
 *
 * Invariants: the device never sends a connection more payload than the
 * guest's credit (checked against a model of a well-behaved guest, which
 * keeps buf_alloc fixed and fwd_cnt monotonic, for connections only that
 * guest touched); every packet it sends comes from CID 2 to the guest's CID
 * with type STREAM and a known op, and is a header plus exactly len bytes;
 * no connection buffers more than conn_buf_size; the table never holds more
 * than max_conns; nothing is sent while the device needs a reset; metrics
 * never go backwards; no fd is leaked by the end of a run.
 *
 * Op encoding: setup byte, features u64, then opcode bytes each followed by
 * the fields its case reads; missing bytes read as 0.
 */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices/vsock/vsock_mock.h"
#include "devices/vsock/vsock_priv.h"
#include "fuzz/fuzz_common.h"
#include "vmm/log/log.h"

#define FZ_MAX_OPS 256
#define MAX_HOST 16          /* host ends the target keeps */
#define MAX_PENDING_ACCEPT 8
#define MAX_PAIRS 8          /* guest-side model entries */
#define TX_BUF 8192
#define CONN_BUF 4096
#define MAX_RENEGOTIATE 8

enum { OP_PKT, OP_RX_POST, OP_HOST_CONNECT, OP_HOST_WRITE, OP_HOST_READ, OP_HOST_CLOSE, OP_POLL, OP_RAW_CHAIN,
       OP_POKE, OP_REG, OP_EVENT, OP_NEGOTIATE, OP_STATE, OP_PROCESS, OP_NR };

/* What a well-behaved guest knows of one connection (by ports). */
struct pair {
	bool used, tainted;
	uint32_t guest_port, host_port;
	uint32_t buf_alloc;  /* fixed while the connection lives */
	uint32_t received;   /* RW payload bytes received */
	uint32_t consumed;   /* fwd_cnt the guest advertises (<= received) */
};

struct fz_vsock {
	struct vsock_mock vm;
	struct vsock_backend be;
	int listen_pair[2];               /* [0] the device's "listener", [1] ours */
	int accept_q[MAX_PENDING_ACCEPT]; /* device ends waiting for accept */
	unsigned int nr_accept;
	bool accept_fail;                 /* the next accept fails like EMFILE */
	int host[MAX_HOST];               /* our ends, -1 = none */
	unsigned int next_host;
	struct pair pairs[MAX_PAIRS];
	uint8_t payload[TX_BUF];
	uint8_t rxbuf[VIRTIO_VSOCK_HDR_SIZE + 65536];
	struct vsock_metrics last;
	/* The rings are as the mock laid them out: no raw chain, poke or
	 * register write since the last negotiation.  Otherwise a poke may have
	 * moved a used index over bytes no device wrote, and what the mock then
	 * reads from the used ring says nothing about the device. */
	bool ev_trusted, rx_trusted;
};

static struct fz_vsock *z;

static void host_keep(int fd)
{
	unsigned int i = z->next_host++ % MAX_HOST;

	if (z->host[i] >= 0)
		close(z->host[i]);
	z->host[i] = fd;
}

static int pair_new(int *dev_end)
{
	int sv[2], small = 4096;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv))
		return -errno;
	/* Small socket buffers reach the EAGAIN paths quickly. */
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	*dev_end = sv[0];
	host_keep(sv[1]);
	return 0;
}

static int be_listen(void *opaque)
{
	return z->listen_pair[0];
}

static int be_accept(void *opaque, int listen_fd)
{
	char c;

	FUZZ_CHECK(listen_fd == z->listen_pair[0], "accept on fd %d", listen_fd);
	if (z->accept_fail) {
		z->accept_fail = false;
		return -EMFILE; /* the connection stays pending */
	}
	if (read(listen_fd, &c, 1) != 1 || !z->nr_accept)
		return -EAGAIN;
	return z->accept_q[--z->nr_accept];
}

static int be_connect(void *opaque, uint32_t port)
{
	int fd, ret;

	if (port % 4 == 3)
		return -ECONNREFUSED; /* nobody listens there */
	ret = pair_new(&fd);
	return ret ? ret : fd;
}

static const struct vsock_backend_ops be_ops = { .listen = be_listen, .accept = be_accept, .connect = be_connect };

static struct pair *pair_find(uint32_t guest_port, uint32_t host_port, bool create)
{
	struct pair *free_slot = NULL;

	for (unsigned int i = 0; i < MAX_PAIRS; i++) {
		struct pair *p = &z->pairs[i];

		if (p->used && p->guest_port == guest_port && p->host_port == host_port)
			return p;
		if (!p->used && !free_slot)
			free_slot = p;
	}
	if (!create)
		return NULL;
	if (!free_slot)
		free_slot = &z->pairs[guest_port % MAX_PAIRS];
	memset(free_slot, 0, sizeof(*free_slot));
	free_slot->used = true;
	free_slot->guest_port = guest_port;
	free_slot->host_port = host_port;
	free_slot->buf_alloc = 1024;
	return free_slot;
}

static void pairs_forget(void)
{
	memset(z->pairs, 0, sizeof(z->pairs));
}

/* Raw descriptors, pokes and register writes may point the rx buffers the
 * mock posted anywhere: what comes back in them is not checked. */
static void rx_forget(void)
{
	memset(z->vm.rx_gpa_of, 0, sizeof(z->vm.rx_gpa_of));
	z->ev_trusted = false;
	z->rx_trusted = false;
	pairs_forget();
}

/* Takes every packet the device sent and checks it. */
static void reap(void)
{
	struct vsock_mock_pkt p;
	uint32_t used;
	int ret;

	while ((ret = vsock_mock_recv(&z->vm, &p, NULL, 0, &used)) >= 0) {
		if (ret == 1 || !z->rx_trusted)
			continue; /* one of our raw chains, or a used ring a poke may have moved */
		if (used < VIRTIO_VSOCK_HDR_SIZE) {
			FUZZ_CHECK(used == 0, "rx used length %u", used);
			continue;
		}
		FUZZ_CHECK(p.src_cid == VSOCK_CID_HOST && p.dst_cid == z->vm.dev.cid, "cids %llu -> %llu",
			   (unsigned long long)p.src_cid, (unsigned long long)p.dst_cid);
		FUZZ_CHECK(p.type == VIRTIO_VSOCK_TYPE_STREAM, "type %u", p.type);
		FUZZ_CHECK(p.op >= VIRTIO_VSOCK_OP_REQUEST && p.op <= VIRTIO_VSOCK_OP_CREDIT_REQUEST, "op %u", p.op);
		FUZZ_CHECK(used == VIRTIO_VSOCK_HDR_SIZE + p.len, "used %u for len %u", used, p.len);
		FUZZ_CHECK(p.op == VIRTIO_VSOCK_OP_RW || p.len == 0, "op %u with %u bytes", p.op, p.len);
		FUZZ_CHECK(p.buf_alloc == CONN_BUF || p.op == VIRTIO_VSOCK_OP_RST, "buf_alloc %u", p.buf_alloc);
		struct pair *m = pair_find(p.dst_port, p.src_port, p.op == VIRTIO_VSOCK_OP_REQUEST);

		if (!m)
			continue;
		if (p.op == VIRTIO_VSOCK_OP_RST) {
			m->used = false;
			continue;
		}
		if (p.op == VIRTIO_VSOCK_OP_REQUEST) {
			memset(m, 0, sizeof(*m));
			m->used = true;
			m->guest_port = p.dst_port;
			m->host_port = p.src_port;
			m->buf_alloc = 1024;
			m->tainted = true; /* until the guest's RESPONSE sets its credit */
			continue;
		}
		if (p.op == VIRTIO_VSOCK_OP_RW) {
			m->received += p.len;
			if (!m->tainted)
				FUZZ_CHECK(m->received - m->consumed <= m->buf_alloc,
					   "port %u: %u bytes in flight for a %u-byte buffer", p.dst_port,
					   m->received - m->consumed, m->buf_alloc);
		}
	}
}

static void check_device(void)
{
	struct vsock_metrics m;
	unsigned int live = 0;

	for (unsigned int i = 0; i < z->vm.dev.max_conns; i++) {
		const struct vsock_conn *c = &z->vm.dev.conns[i];

		if (c->state == CONN_FREE)
			continue;
		live++;
		FUZZ_CHECK(c->buf_len <= CONN_BUF, "conn %u buffers %u bytes", i, c->buf_len);
		FUZZ_CHECK(c->fd >= 0, "conn %u without fd", i);
	}
	FUZZ_CHECK(live == z->vm.dev.nr_conns && live <= z->vm.dev.max_conns, "%u live, %u counted", live,
		   z->vm.dev.nr_conns);
	FUZZ_CHECK(z->vm.dev.rst_count <= VSOCK_RST_BACKLOG, "rst backlog %u", z->vm.dev.rst_count);
	vsock_metrics_get(&z->vm.dev, &m);
	FUZZ_CHECK(m.conns_added >= z->last.conns_added && m.rx_packets >= z->last.rx_packets &&
			   m.tx_packets >= z->last.tx_packets && m.queue_errors >= z->last.queue_errors,
		   "metrics went backwards");
	FUZZ_CHECK(m.conns_added - m.conns_killed == z->vm.dev.nr_conns, "added %llu killed %llu live %u",
		   (unsigned long long)m.conns_added, (unsigned long long)m.conns_killed, z->vm.dev.nr_conns);
	z->last = m;
}

static uint32_t pick_port(struct fz *f, bool host)
{
	static const uint32_t ports[] = { 5, 6, 7, 1024, VSOCK_HOST_PORT_FIRST, VSOCK_HOST_PORT_FIRST + 1,
					  VSOCK_HOST_PORT_FIRST + 2, 0xffffffff };
	uint8_t b = fz_u8(f);

	if (b >= 0xf0)
		return fz_u32(f);
	return host ? ports[b % ARRAY_SIZE(ports)] : 1000u + b % 8;
}

static void op_pkt(struct fz *f)
{
	uint8_t mode = fz_u8(f);
	uint32_t guest_port = pick_port(f, false), host_port = pick_port(f, true);
	uint16_t op = (mode & 0x80) ? fz_u16(f) : 1 + fz_u8(f) % 7;
	struct vsock_mock_pkt p = vsock_mock_hdr(&z->vm, guest_port, host_port, op);
	uint32_t plen = fz_u16(f) % TX_BUF;
	unsigned int segs = fz_u8(f) % 5;
	struct pair *m;
	bool raw = mode & 0x40;

	if (op != VIRTIO_VSOCK_OP_RW && !(mode & 0x20))
		plen = 0;
	p.len = plen;
	p.flags = fz_u8(f) & 3;
	if (raw) {
		/* Anything at all in the header. */
		if (mode & 1)
			p.src_cid = fz_u64(f);
		if (mode & 2)
			p.dst_cid = fz_u64(f);
		if (mode & 4)
			p.type = fz_u16(f);
		if (mode & 8)
			p.len = fz_u32(f);
		p.flags = fz_u32(f);
		p.buf_alloc = fz_u32(f);
		p.fwd_cnt = fz_u32(f);
	}
	if (!z->vm.m.q[VSOCK_QUEUE_TX].size || (segs + 1) > z->vm.m.q[VSOCK_QUEUE_TX].size)
		return;
	/* The model guest: fixed buf_alloc, fwd_cnt = what it consumed. */
	m = pair_find(guest_port, host_port, op == VIRTIO_VSOCK_OP_REQUEST);
	if (m) {
		if (op == VIRTIO_VSOCK_OP_REQUEST) {
			memset(m, 0, sizeof(*m));
			m->used = true;
			m->guest_port = guest_port;
			m->host_port = host_port;
			m->buf_alloc = 64u << (fz_u8(f) % 8);
		} else if (op == VIRTIO_VSOCK_OP_RESPONSE && m->tainted && !raw) {
			m->tainted = false;
			m->buf_alloc = 64u << (fz_u8(f) % 8);
		}
		if (raw) {
			m->tainted = true;
		} else {
			uint32_t eat = fz_u16(f);

			if (eat > m->received - m->consumed)
				eat = m->received - m->consumed;
			m->consumed += eat;
			p.buf_alloc = m->buf_alloc;
			p.fwd_cnt = m->consumed;
		}
		if (op == VIRTIO_VSOCK_OP_RST)
			m->used = false;
	}
	for (uint32_t i = 0; i < plen; i++)
		z->payload[i] = (uint8_t)(i + plen);
	(void)vsock_mock_send(&z->vm, &p, z->payload, plen, segs);
}

static void op_host_connect(struct fz *f)
{
	uint8_t mode = fz_u8(f);
	char line[40];
	int fd, n;

	if (mode & 4)
		z->accept_fail = true;
	if (z->nr_accept == MAX_PENDING_ACCEPT || pair_new(&fd))
		return;
	z->accept_q[z->nr_accept++] = fd;
	if (send(z->listen_pair[1], "c", 1, MSG_NOSIGNAL) != 1)
		return;
	int ours = z->host[(z->next_host - 1) % MAX_HOST];

	if (mode & 1) {
		n = snprintf(line, sizeof(line), "CONNECT %u\n", pick_port(f, false));
	} else {
		n = fz_u8(f) % sizeof(line);
		fz_bytes(f, line, (size_t)n);
	}
	if (mode & 2)
		n = n > 3 ? n - 3 : n; /* a partial line */
	(void)!send(ours, line, (size_t)n, MSG_NOSIGNAL);
}

static void op_raw_chain(struct fz *f)
{
	unsigned int qi = fz_u8(f) % VSOCK_NR_QUEUES;
	uint16_t size = z->vm.m.q[qi].size, head = fz_u16(f) % (size ? size : 1);
	uint8_t n = 1 + fz_u8(f) % 4;

	if (!size)
		return;
	for (uint8_t i = 0; i < n; i++) {
		uint16_t idx = (head + i) & (size - 1);
		uint64_t addr = (fz_u8(f) & 1) ? fz_u64(f) : z->vm.tx_area + fz_u16(f);

		vmock_desc_write(&z->vm.m, qi, idx, addr, fz_u16(f), fz_u8(f) & 7,
				 i + 1 < n ? (idx + 1) & (size - 1) : fz_u16(f));
	}
	rx_forget();
	vmock_avail_push(&z->vm.m, qi, head);
	if (qi == VSOCK_QUEUE_RX)
		z->vm.rx_outstanding++; /* the mock counts what it may get back */
	if (qi == VSOCK_QUEUE_EVENT)
		z->vm.ev_outstanding++;
	vmock_notify(&z->vm.m, qi);
	rx_forget(); /* the guest side is no longer well-behaved */
}

static void run_op(struct fz *f, unsigned int *renegotiations)
{
	switch (fz_u8(f) % OP_NR) {
	case OP_PKT:
		op_pkt(f);
		break;
	case OP_RX_POST:
		vsock_mock_rx_post(&z->vm, 1 + fz_u8(f) % 16);
		break;
	case OP_HOST_CONNECT:
		op_host_connect(f);
		break;
	case OP_HOST_WRITE: {
		int fd = z->host[fz_u8(f) % MAX_HOST];
		uint32_t len = fz_u16(f) % sizeof(z->payload);

		if (fd >= 0)
			(void)!send(fd, z->payload, len, MSG_NOSIGNAL);
		break;
	}
	case OP_HOST_READ: {
		int fd = z->host[fz_u8(f) % MAX_HOST];

		if (fd >= 0)
			(void)!read(fd, z->payload, 1 + fz_u16(f) % sizeof(z->payload));
		break;
	}
	case OP_HOST_CLOSE: {
		unsigned int i = fz_u8(f) % MAX_HOST;

		if (z->host[i] < 0)
			break;
		if (fz_u8(f) & 1) {
			shutdown(z->host[i], SHUT_WR);
		} else {
			close(z->host[i]);
			z->host[i] = -1;
		}
		break;
	}
	case OP_POLL:
		vsock_mock_poll(&z->vm, 0);
		break;
	case OP_RAW_CHAIN:
		op_raw_chain(f);
		break;
	case OP_POKE: {
		uint64_t at = fz_u32(f) % z->vm.m.size;
		uint8_t k = fz_u8(f) % 17, bytes[16];

		fz_bytes(f, bytes, sizeof(bytes));
		if (k > z->vm.m.size - at)
			k = (uint8_t)(z->vm.m.size - at);
		rx_forget();
		vmock_write(&z->vm.m, VMOCK_RAM_GPA + at, bytes, k);
		break;
	}
	case OP_REG: {
		uint8_t r = fz_u8(f);

		if (r & 0x80) {
			/* The configuration space: guest_cid, and nothing past it. */
			uint64_t v = 0;
			uint32_t off = (r >> 3) & 0xf, len = 1u << (r & 3);

			vmmio_read(&z->vm.t, VIRTIO_MMIO_CONFIG + off, &v, len);
			if (off >= 8)
				FUZZ_CHECK(v == 0, "config byte %u past guest_cid", off);
			else if (off == 0 && len == 8 && (vmock_reg_read(&z->vm.m, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DRIVER))
				FUZZ_CHECK(le64toh(v) == z->vm.dev.cid, "guest_cid %llu", (unsigned long long)v);
			vmmio_write(&z->vm.t, VIRTIO_MMIO_CONFIG + off, &v, len);
			break;
		}
		rx_forget();
		vmock_reg_write(&z->vm.m, (r & 0x3f) * 4, fz_u32(f));
		break;
	}
	case OP_EVENT:
		if (fz_u8(f) & 1) {
			(void)vsock_send_transport_reset(&z->vm.dev);
			pairs_forget();
		} else {
			uint32_t id, used;

			/* Only while the rings are as the mock laid them out (since
			 * the last negotiation, no poke, raw chain or register
			 * write): a poke can move the used index over bytes no
			 * device wrote, and then nothing there says anything. */
			vsock_mock_event_post(&z->vm, 1 + fz_u8(f) % 8);
			while (vsock_mock_event_next(&z->vm, &id, &used) == 0)
				FUZZ_CHECK(!z->ev_trusted || used == 0 ||
					   (used == 4 && id == VIRTIO_VSOCK_EVENT_TRANSPORT_RESET),
					   "event %u of %u bytes", id, used);
		}
		break;
	case OP_NEGOTIATE:
		if ((*renegotiations)++ < MAX_RENEGOTIATE) {
			static const uint16_t sizes[] = { 0, 4, 8, 16, 256 };

			(void)vmock_negotiate(&z->vm.m, fz_u64(f) | VIRTIO_FEATURE(VIRTIO_F_VERSION_1), VSOCK_NR_QUEUES,
					      sizes[fz_u8(f) % ARRAY_SIZE(sizes)]);
			z->vm.rx_outstanding = 0;
			z->vm.ev_outstanding = 0;
			z->ev_trusted = true;
			z->rx_trusted = true;
			pairs_forget();
		}
		break;
	case OP_STATE: {
		struct vsock_state st;

		vsock_save(&z->vm.dev, &st);
		if (fz_u8(f) & 1)
			st.guest_cid = fz_u64(f);
		if (fz_u8(f) & 1)
			st.reset_pending = fz_u8(f);
		if (vsock_restore(&z->vm.dev, &st) == 0)
			FUZZ_CHECK(z->vm.dev.nr_conns == 0 && z->vm.dev.cid == st.guest_cid, "restore");
		pairs_forget();
		break;
	}
	default:
		(void)vsock_process_queue(&z->vm.dev, fz_u8(f) % 4);
		break;
	}
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Driver and host mistakes are the point here: keep their warnings out of the way. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_set_level(LOG_LEVEL_ERROR);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t rx_lens[] = { 4096, 44, 64, 20, 300, 65580, 4096, 1024 };
	struct fz f = fz_init(data, size);
	uint8_t setup = fz_u8(&f);
	uint64_t features = fz_u64(&f) | VIRTIO_FEATURE(VIRTIO_F_VERSION_1);
	struct vsock_opts opts = {
		.max_conns = 1 + ((setup >> 3) & 7),
		.conn_buf_size = CONN_BUF,
		.queue_size = (uint16_t)(4u << ((setup >> 6) % 3)),
	};
	unsigned int renegotiations = 0;
	int fds_before = count_fds();

	if (!z) {
		z = calloc(1, sizeof(*z));
		FUZZ_CHECK(z != NULL, "alloc");
	}
	memset(z->pairs, 0, sizeof(z->pairs));
	memset(&z->last, 0, sizeof(z->last));
	z->ev_trusted = true;
	z->rx_trusted = true;
	for (unsigned int i = 0; i < MAX_HOST; i++)
		z->host[i] = -1;
	z->next_host = 0;
	z->nr_accept = 0;
	z->accept_fail = false;
	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, z->listen_pair) == 0, "pair");
	z->be = (struct vsock_backend){ .ops = &be_ops, .opaque = z };
	if (vsock_mock_init(&z->vm, &z->be, &opts, features, 0, rx_lens[setup & 7], TX_BUF)) {
		/* The device closes the listener it got, unless it failed before
		 * asking for it. */
		if (fcntl(z->listen_pair[0], F_GETFD) >= 0)
			close(z->listen_pair[0]);
		close(z->listen_pair[1]);
		FUZZ_CHECK(count_fds() == fds_before, "fd leak after a failed init");
		return 0;
	}
	for (unsigned int n = 0; n < FZ_MAX_OPS && f.left; n++) {
		bool broken = z->vm.dev.broken;
		struct vsock_metrics before = z->last, after;

		run_op(&f, &renegotiations);
		vsock_metrics_get(&z->vm.dev, &after);
		/* (Counted, not read from the used ring: a poke may change that.) */
		if (broken && z->vm.dev.broken)
			FUZZ_CHECK(after.rx_packets == before.rx_packets && after.events_sent == before.events_sent &&
					   after.tx_packets == before.tx_packets,
				   "used a queue while needing a reset");
		reap();
		check_device();
	}
	vsock_mock_destroy(&z->vm);
	for (unsigned int i = 0; i < z->nr_accept; i++)
		close(z->accept_q[i]);
	for (unsigned int i = 0; i < MAX_HOST; i++)
		if (z->host[i] >= 0)
			close(z->host[i]);
	close(z->listen_pair[1]);
	FUZZ_CHECK(count_fds() == fds_before, "fd leak: %d open, %d before", count_fds(), fds_before);
	return 0;
}
