/* virtio-vsock over real Unix sockets: host- and guest-initiated
 * connections, data both ways, credit, shutdown and RST from either side,
 * many connections, a host that stops reading, transport reset, state. */
#include "devices/vsock/vsock_test_util.h"

static struct vt T;

static void setup(void)
{
	vt_up(&T, NULL, 0);
}

static void teardown(void)
{
	vt_down(&T);
}

TestSuite(vsock, .init = setup, .fini = teardown, .timeout = 30);

Test(vsock, config_space_and_features)
{
	uint64_t cid = 0;

	vmmio_read(&T.vm.t, VIRTIO_MMIO_CONFIG, &cid, 8);
	cr_assert_eq(le64toh(cid), VSOCK_MOCK_GUEST_CID);
	cr_assert_eq(vmock_reg_read(&T.vm.m, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_VSOCK);
	cr_assert(vmock_device_features(&T.vm.m) & VIRTIO_FEATURE(VIRTIO_F_VERSION_1));
	cr_assert(vmock_device_features(&T.vm.m) & VIRTIO_FEATURE(VIRTIO_F_RING_EVENT_IDX));
	cr_assert_eq(vmock_reg_read(&T.vm.m, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DRIVER_OK, VIRTIO_STATUS_DRIVER_OK);
}

Test(vsock, host_connect_ok_and_echo)
{
	struct vsock_mock_pkt p;
	uint32_t hp;
	char buf[64] = { 0 };
	int fd = vt_host_open(&T, 52, &hp);

	cr_assert_eq(hp, VSOCK_HOST_PORT_FIRST);
	vt_write_all(fd, "hello guest", 11);
	cr_assert(vt_guest_recv(&T, &p, buf, sizeof(buf)));
	cr_assert_eq(p.op, VIRTIO_VSOCK_OP_RW);
	cr_assert_eq(p.len, 11);
	cr_assert_eq(p.src_port, hp);
	cr_assert_eq(p.dst_port, 52);
	cr_assert_eq(p.buf_alloc, VSOCK_CONN_BUF_DEFAULT);
	cr_assert_str_eq(buf, "hello guest");
	cr_assert_eq(vt_guest_send(&T, 52, hp, VIRTIO_VSOCK_OP_RW, 0, "hello host", 10), 0);
	memset(buf, 0, sizeof(buf));
	vt_read_exact(&T, fd, buf, 10);
	cr_assert_str_eq(buf, "hello host");
	/* A second host connection gets the next port. */
	int fd2 = vt_host_open(&T, 52, &hp);
	cr_assert_eq(hp, VSOCK_HOST_PORT_FIRST + 1);
	cr_assert_eq(vsock_conn_count(&T.vm.dev), 2);
	close(fd);
	close(fd2);
}

Test(vsock, host_bytes_after_connect_line_reach_the_guest)
{
	struct vsock_mock_pkt p;
	char buf[16] = { 0 }, ok[32];
	int fd = vt_unix_connect(T.path);

	/* The command and data in one write: the data must not be eaten. */
	vt_write_all(fd, "CONNECT 9\nearly", 15);
	cr_assert(vt_guest_recv(&T, &p, NULL, 0));
	cr_assert_eq(p.op, VIRTIO_VSOCK_OP_REQUEST);
	cr_assert_eq(vt_guest_send(&T, 9, p.src_port, VIRTIO_VSOCK_OP_RESPONSE, 0, NULL, 0), 0);
	vt_read_exact(&T, fd, ok, 14); /* "OK 1073741824\n" */
	cr_assert(vt_guest_recv(&T, &p, buf, sizeof(buf)));
	cr_assert_eq(p.op, VIRTIO_VSOCK_OP_RW);
	cr_assert_str_eq(buf, "early");
	close(fd);
}

Test(vsock, host_half_close_before_accept_still_delivers)
{
	struct vsock_mock_pkt p;
	char buf[16] = { 0 }, ok[32];
	int fd = vt_unix_connect(T.path);

	/* socat-style: everything, then shutdown(SHUT_WR), before the guest
	 * has even answered. */
	vt_write_all(fd, "CONNECT 9\nquery", 15);
	shutdown(fd, SHUT_WR);
	cr_assert(vt_guest_recv(&T, &p, NULL, 0));
	cr_assert_eq(p.op, VIRTIO_VSOCK_OP_REQUEST);
	cr_assert_eq(vt_guest_send(&T, 9, p.src_port, VIRTIO_VSOCK_OP_RESPONSE, 0, NULL, 0), 0);
	vt_read_exact(&T, fd, ok, 14);
	cr_assert(vt_guest_recv(&T, &p, buf, sizeof(buf)));
	cr_assert_eq(p.op, VIRTIO_VSOCK_OP_RW);
	cr_assert_str_eq(buf, "query");
	cr_assert(vt_guest_recv(&T, &p, NULL, 0));
	cr_assert_eq(p.op, VIRTIO_VSOCK_OP_SHUTDOWN);
	/* The guest answers and closes; the host reads the answer. */
	cr_assert_eq(vt_guest_send(&T, 9, p.src_port, VIRTIO_VSOCK_OP_RW, 0, "answer", 6), 0);
	memset(buf, 0, sizeof(buf));
	vt_read_exact(&T, fd, buf, 6);
	cr_assert_str_eq(buf, "answer");
	close(fd);
}

Test(vsock, guest_refuses_host_connection)
{
	struct vsock_mock_pkt p;
	int fd = vt_unix_connect(T.path);

	vt_write_all(fd, "CONNECT 80\n", 11);
	cr_assert(vt_guest_recv(&T, &p, NULL, 0));
	cr_assert_eq(p.op, VIRTIO_VSOCK_OP_REQUEST);
	cr_assert_eq(vt_guest_send(&T, 80, p.src_port, VIRTIO_VSOCK_OP_RST, 0, NULL, 0), 0);
	cr_assert(vt_host_eof(&T, fd));
	cr_assert_eq(vsock_conn_count(&T.vm.dev), 0);
	close(fd);
}

Test(vsock, host_gives_up_before_the_guest_answers)
{
	struct vsock_mock_pkt p;
	int fd = vt_unix_connect(T.path);

	vt_write_all(fd, "CONNECT 80\n", 11);
	cr_assert(vt_guest_recv(&T, &p, NULL, 0));
	cr_assert_eq(p.op, VIRTIO_VSOCK_OP_REQUEST);
	close(fd);
	cr_assert(vt_guest_recv(&T, &p, NULL, 0));
	cr_assert_eq(p.op, VIRTIO_VSOCK_OP_RST);
	cr_assert_eq(vsock_conn_count(&T.vm.dev), 0);
}

Test(vsock, guest_connects_to_host_port)
{
	struct vsock_mock_pkt p;
	char buf[32] = { 0 };
	int l = vt_unix_listen(&T, 1234), fd;

	cr_assert_eq(vt_guest_send(&T, 5000, 1234, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0), 0);
	cr_assert(vt_guest_recv(&T, &p, NULL, 0));
	cr_assert_eq(p.op, VIRTIO_VSOCK_OP_RESPONSE);
	cr_assert_eq(p.src_port, 1234);
	cr_assert_eq(p.dst_port, 5000);
	fd = accept(l, NULL, NULL);
	cr_assert_geq(fd, 0);
	cr_assert_eq(vt_guest_send(&T, 5000, 1234, VIRTIO_VSOCK_OP_RW, 0, "ping", 4), 0);
	vt_read_exact(&T, fd, buf, 4);
	cr_assert_str_eq(buf, "ping");
	vt_write_all(fd, "pong", 4);
	memset(buf, 0, sizeof(buf));
	cr_assert(vt_guest_recv(&T, &p, buf, sizeof(buf)));
	cr_assert_eq(p.op, VIRTIO_VSOCK_OP_RW);
	cr_assert_str_eq(buf, "pong");
	close(fd);
	close(l);
}

Test(vsock, guest_connect_without_listener_gets_rst)
{
	struct vsock_mock_pkt p;
	struct vsock_metrics m;

	cr_assert_eq(vt_guest_send(&T, 5000, 4321, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0), 0);
	cr_assert(vt_guest_recv(&T, &p, NULL, 0));
	cr_assert_eq(p.op, VIRTIO_VSOCK_OP_RST);
	cr_assert_eq(p.src_port, 4321);
	cr_assert_eq(p.dst_port, 5000);
	vsock_metrics_get(&T.vm.dev, &m);
	cr_assert_eq(m.conns_refused, 1);
	cr_assert_eq(m.rst_sent, 1);
	cr_assert_eq(vsock_conn_count(&T.vm.dev), 0);
}

/* The guest's buffer holds 100 bytes: the device never sends past it. */
Test(vsock, never_more_than_guest_credit)
{
	struct vsock_mock_pkt p, q;
	char data[300], buf[300];
	uint32_t hp, got = 0;
	int fd = vt_host_open(&T, 7, &hp);

	for (unsigned int i = 0; i < sizeof(data); i++)
		data[i] = (char)i;
	q = vsock_mock_hdr(&T.vm, 7, hp, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	q.buf_alloc = 100;
	cr_assert_eq(vsock_mock_send(&T.vm, &q, NULL, 0, 0), 0);
	vt_write_all(fd, data, sizeof(data));
	while (got < 100 && vt_guest_recv(&T, &p, buf + got, sizeof(buf) - got)) {
		cr_assert_eq(p.op, VIRTIO_VSOCK_OP_RW);
		got += p.len;
	}
	cr_assert_eq(got, 100);
	cr_assert(vt_guest_quiet(&T), "sent past the guest's credit");
	/* The guest consumed 100: 100 more. */
	q.fwd_cnt = 100;
	cr_assert_eq(vsock_mock_send(&T.vm, &q, NULL, 0, 0), 0);
	while (got < 200 && vt_guest_recv(&T, &p, buf + got, sizeof(buf) - got))
		got += p.len;
	cr_assert_eq(got, 200);
	cr_assert(vt_guest_quiet(&T));
	cr_assert_eq(memcmp(buf, data, 200), 0);
	close(fd);
}

Test(vsock, credit_request_gets_credit_update)
{
	struct vsock_mock_pkt p;
	uint32_t hp;
	char buf[4096];
	int fd = vt_host_open(&T, 7, &hp);

	memset(buf, 'x', sizeof(buf));
	cr_assert_eq(vt_guest_send(&T, 7, hp, VIRTIO_VSOCK_OP_RW, 0, buf, 1000), 0);
	vt_read_exact(&T, fd, buf, 1000);
	cr_assert_eq(vt_guest_send(&T, 7, hp, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0, NULL, 0), 0);
	cr_assert(vt_guest_recv(&T, &p, NULL, 0));
	cr_assert_eq(p.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	cr_assert_eq(p.fwd_cnt, 1000);
	cr_assert_eq(p.buf_alloc, VSOCK_CONN_BUF_DEFAULT);
	close(fd);
}

/*
 * The host stops reading: the device fills the socket, then its own buffer
 * up to buf_alloc, and no further: the guest's credit runs out (it learns
 * fwd_cnt from credit updates), and a byte past it is a RST.  Then the host
 * reads everything, in order.
 */
Test(vsock, host_that_stops_reading_is_bounded)
{
	static char chunk[16384], rd[16384];
	struct vsock_mock_pkt p;
	struct vsock_metrics m;
	uint32_t hp, tx = 0, fwd = 0;
	int l = vt_unix_listen(&T, 99), fd;
	unsigned int rounds = 0;

	cr_assert_eq(vt_guest_send(&T, 6000, 99, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0), 0);
	cr_assert(vt_guest_recv(&T, &p, NULL, 0));
	cr_assert_eq(p.op, VIRTIO_VSOCK_OP_RESPONSE);
	fd = accept(l, NULL, NULL);
	hp = 99;
	for (;;) {
		uint32_t credit = VSOCK_CONN_BUF_DEFAULT - (tx - fwd), n = credit < sizeof(chunk) ? credit : sizeof(chunk);

		if (!n) {
			/* Out of credit: any update the device had to give? */
			if (!vt_guest_recv(&T, &p, NULL, 0))
				break;
			fwd = p.fwd_cnt;
			continue;
		}
		for (uint32_t i = 0; i < n; i++)
			chunk[i] = (char)(tx + i);
		cr_assert_eq(vt_guest_send(&T, 6000, hp, VIRTIO_VSOCK_OP_RW, 0, chunk, n), 0);
		tx += n;
		cr_assert_leq(T.vm.dev.conns[0].buf_len, VSOCK_CONN_BUF_DEFAULT);
		while (vsock_mock_recv(&T.vm, &p, NULL, 0, NULL) == 0)
			fwd = p.fwd_cnt;
		cr_assert_lt(++rounds, 10000);
	}
	cr_assert_eq(T.vm.dev.conns[0].buf_len, VSOCK_CONN_BUF_DEFAULT, "buffer not full: %u",
		     T.vm.dev.conns[0].buf_len);
	cr_assert_gt(tx, VSOCK_CONN_BUF_DEFAULT); /* the socket took some too */
	/* The host drains everything, in order. */
	for (uint32_t got = 0; got < tx;) {
		uint32_t n = tx - got < sizeof(rd) ? tx - got : sizeof(rd);

		vt_read_exact(&T, fd, rd, n);
		for (uint32_t i = 0; i < n; i++)
			cr_assert_eq(rd[i], (char)(got + i), "byte %u", got + i);
		got += n;
	}
	vsock_metrics_get(&T.vm.dev, &m);
	cr_assert_eq(m.credit_violations, 0);
	/* Drained: the guest has been told it may send a whole buffer again. */
	cr_assert_eq(T.vm.dev.conns[0].buf_len, 0);
	cr_assert_eq(vt_guest_send(&T, 6000, hp, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0, NULL, 0), 0);
	cr_assert(vt_guest_recv(&T, &p, NULL, 0));
	cr_assert_eq(p.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	cr_assert_eq(p.fwd_cnt, tx);
	close(fd);
	close(l);
}

Test(vsock, data_past_credit_is_rst)
{
	static char big[VSOCK_CONN_BUF_DEFAULT];
	struct vsock_mock_pkt p;
	struct vsock_metrics m;
	uint32_t hp;
	int fd = vt_host_open(&T, 7, &hp);

	/* Nobody reads the host socket; fill it, then the device buffer. */
	for (int i = 0; i < 64; i++) {
		if (vt_guest_send(&T, 7, hp, VIRTIO_VSOCK_OP_RW, 0, big, sizeof(big)))
			break;
		vsock_metrics_get(&T.vm.dev, &m);
		if (m.credit_violations)
			break;
	}
	vsock_metrics_get(&T.vm.dev, &m);
	cr_assert_eq(m.credit_violations, 1);
	cr_assert_eq(vsock_conn_count(&T.vm.dev), 0);
	bool rst = false;
	while (vt_guest_recv(&T, &p, NULL, 0))
		if (p.op == VIRTIO_VSOCK_OP_RST)
			rst = true;
	cr_assert(rst);
	close(fd);
}

Test(vsock, guest_shutdown_send_then_both)
{
	struct vsock_mock_pkt p;
	uint32_t hp;
	char buf[8] = { 0 };
	int fd = vt_host_open(&T, 7, &hp);

	cr_assert_eq(vt_guest_send(&T, 7, hp, VIRTIO_VSOCK_OP_RW, 0, "bye", 3), 0);
	cr_assert_eq(vt_guest_send(&T, 7, hp, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND, NULL, 0), 0);
	vt_read_exact(&T, fd, buf, 3);
	cr_assert_str_eq(buf, "bye");
	cr_assert(vt_host_eof(&T, fd));
	/* Half-closed: the host can still send. */
	vt_write_all(fd, "more", 4);
	cr_assert(vt_guest_recv(&T, &p, buf, sizeof(buf)));
	cr_assert_eq(p.op, VIRTIO_VSOCK_OP_RW);
	cr_assert_eq(p.len, 4);
	/* Data after SHUTDOWN(SEND) is a protocol error. */
	cr_assert_eq(vt_guest_send(&T, 7, hp, VIRTIO_VSOCK_OP_SHUTDOWN,
				   VIRTIO_VSOCK_SHUTDOWN_SEND | VIRTIO_VSOCK_SHUTDOWN_RCV, NULL, 0), 0);
	cr_assert(vt_guest_recv(&T, &p, NULL, 0));
	cr_assert_eq(p.op, VIRTIO_VSOCK_OP_RST);
	cr_assert_eq(vsock_conn_count(&T.vm.dev), 0);
	close(fd);
}

Test(vsock, guest_rst_closes_host_socket)
{
	uint32_t hp;
	int fd = vt_host_open(&T, 7, &hp);

	cr_assert_eq(vt_guest_send(&T, 7, hp, VIRTIO_VSOCK_OP_RST, 0, NULL, 0), 0);
	cr_assert_eq(vsock_conn_count(&T.vm.dev), 0);
	cr_assert(vt_host_eof(&T, fd));
	cr_assert(vt_guest_quiet(&T)); /* no RST answers a RST */
	close(fd);
}

Test(vsock, host_close_sends_shutdown_then_guest_rst_ends_it)
{
	struct vsock_mock_pkt p;
	uint32_t hp;
	int fd = vt_host_open(&T, 7, &hp);

	vt_write_all(fd, "last", 4);
	close(fd);
	cr_assert(vt_guest_recv(&T, &p, NULL, 0));
	cr_assert_eq(p.op, VIRTIO_VSOCK_OP_RW);
	cr_assert(vt_guest_recv(&T, &p, NULL, 0));
	cr_assert_eq(p.op, VIRTIO_VSOCK_OP_SHUTDOWN);
	cr_assert_eq(p.flags & VIRTIO_VSOCK_SHUTDOWN_SEND, VIRTIO_VSOCK_SHUTDOWN_SEND);
	cr_assert_eq(vsock_conn_count(&T.vm.dev), 1);
	/* The closed socket is no longer watched: nothing to spin on. */
	cr_assert_eq(vsock_mock_poll(&T.vm, 0), 0);
	cr_assert_eq(vt_guest_send(&T, 7, hp, VIRTIO_VSOCK_OP_RST, 0, NULL, 0), 0);
	cr_assert_eq(vsock_conn_count(&T.vm.dev), 0);
}

Test(vsock, many_connections_both_ways)
{
	enum { N = 200 };
	static int hfd[N], gfd[N];
	static uint32_t hp[N];
	struct vsock_mock_pkt p;
	int l = vt_unix_listen(&T, 77);

	for (int i = 0; i < N; i++)
		hfd[i] = vt_host_open(&T, 1000 + i, &hp[i]);
	for (int i = 0; i < N; i++) {
		cr_assert_eq(vt_guest_send(&T, 20000 + i, 77, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0), 0);
		cr_assert(vt_guest_recv(&T, &p, NULL, 0));
		cr_assert_eq(p.op, VIRTIO_VSOCK_OP_RESPONSE);
		gfd[i] = accept(l, NULL, NULL);
		cr_assert_geq(gfd[i], 0);
	}
	cr_assert_eq(vsock_conn_count(&T.vm.dev), 2 * N);
	/* Each host connection says its index; each arrives on its port. */
	for (int i = 0; i < N; i++) {
		char msg[16];
		int n = snprintf(msg, sizeof(msg), "%d", i);

		vt_write_all(hfd[i], msg, (size_t)n);
	}
	for (int seen = 0; seen < N; seen++) {
		char buf[16] = { 0 };

		cr_assert(vt_guest_recv(&T, &p, buf, sizeof(buf) - 1));
		cr_assert_eq(p.op, VIRTIO_VSOCK_OP_RW);
		cr_assert_eq(atoi(buf), (int)p.dst_port - 1000);
		cr_assert_eq(p.src_port, hp[p.dst_port - 1000]);
	}
	for (int i = 0; i < N; i++) {
		char buf[16] = { 0 }, msg[16];
		int n = snprintf(msg, sizeof(msg), "g%d", i);

		cr_assert_eq(vt_guest_send(&T, 20000 + i, 77, VIRTIO_VSOCK_OP_RW, 0, msg, (uint32_t)n), 0);
		vt_read_exact(&T, gfd[i], buf, (size_t)n);
		cr_assert_str_eq(buf, msg);
	}
	for (int i = 0; i < N; i++) {
		close(hfd[i]);
		close(gfd[i]);
	}
	close(l);
}

Test(vsock, table_full_refuses_with_rst)
{
	struct vsock_opts o = { .max_conns = 4 };
	struct vsock_mock_pkt p;
	struct vsock_metrics m;
	int l, fd;

	vt_down(&T);
	vt_up(&T, &o, 0);
	l = vt_unix_listen(&T, 77);
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(vt_guest_send(&T, 100 + i, 77, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0), 0);
		cr_assert(vt_guest_recv(&T, &p, NULL, 0));
		cr_assert_eq(p.op, VIRTIO_VSOCK_OP_RESPONSE);
	}
	cr_assert_eq(vt_guest_send(&T, 200, 77, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0), 0);
	cr_assert(vt_guest_recv(&T, &p, NULL, 0));
	cr_assert_eq(p.op, VIRTIO_VSOCK_OP_RST);
	cr_assert_eq(p.dst_port, 200);
	/* The host listener saw the four, not the refused fifth. */
	for (int i = 0; i < 4; i++) {
		int a = accept(l, NULL, NULL);

		cr_assert_geq(a, 0);
		close(a);
	}
	cr_assert_eq(fcntl(l, F_SETFL, O_NONBLOCK), 0);
	cr_assert_eq(accept(l, NULL, NULL), -1);
	cr_assert_eq(errno, EAGAIN);
	/* A host connection is refused too: it sees EOF. */
	fd = vt_unix_connect(T.path);
	cr_assert(vt_host_eof(&T, fd));
	vsock_metrics_get(&T.vm.dev, &m);
	cr_assert_eq(m.conns_refused, 2);
	cr_assert_eq(vsock_conn_count(&T.vm.dev), 4);
	close(fd);
	close(l);
}

Test(vsock, transport_reset_event_drops_connections)
{
	uint32_t hp, id, used;
	int fd = vt_host_open(&T, 7, &hp);

	cr_assert_eq(vsock_send_transport_reset(&T.vm.dev), 0);
	cr_assert_eq(vsock_conn_count(&T.vm.dev), 0);
	cr_assert(vt_host_eof(&T, fd));
	/* No event buffer yet: delivered when the driver adds one. */
	cr_assert_eq(vsock_mock_event_next(&T.vm, &id, &used), -EAGAIN);
	vsock_mock_event_post(&T.vm, 4);
	cr_assert_eq(vsock_mock_event_next(&T.vm, &id, &used), 0);
	cr_assert_eq(id, VIRTIO_VSOCK_EVENT_TRANSPORT_RESET);
	cr_assert_eq(used, 4);
	/* Once only. */
	vsock_mock_event_post(&T.vm, 4);
	cr_assert_eq(vsock_mock_event_next(&T.vm, &id, &used), -EAGAIN);
	/* With a buffer already there it goes at once. */
	cr_assert_eq(vsock_send_transport_reset(&T.vm.dev), 0);
	cr_assert_eq(vsock_mock_event_next(&T.vm, &id, &used), 0);
	close(fd);
}

Test(vsock, state_save_restore_validates)
{
	struct vsock_state st, bad;
	uint32_t hp;
	int fd = vt_host_open(&T, 7, &hp);

	vsock_save(&T.vm.dev, &st);
	cr_assert_eq(st.guest_cid, VSOCK_MOCK_GUEST_CID);
	cr_assert_eq(st.reset_pending, 0);
	bad = st;
	bad.guest_cid = 2;
	cr_assert_eq(vsock_restore(&T.vm.dev, &bad), -EINVAL);
	bad.guest_cid = UINT32_MAX;
	cr_assert_eq(vsock_restore(&T.vm.dev, &bad), -EINVAL);
	bad = st;
	bad.reset_pending = 7;
	cr_assert_eq(vsock_restore(&T.vm.dev, &bad), -EINVAL);
	cr_assert_eq(vsock_conn_count(&T.vm.dev), 1, "a refused restore changed the device");
	st.guest_cid = 42;
	cr_assert_eq(vsock_restore(&T.vm.dev, &st), 0);
	cr_assert_eq(T.vm.dev.cid, 42);
	cr_assert_eq(vsock_conn_count(&T.vm.dev), 0);
	cr_assert(vt_host_eof(&T, fd));
	close(fd);
}

Test(vsock, driver_reset_drops_connections_and_refuses_hosts)
{
	uint32_t hp;
	int fd = vt_host_open(&T, 7, &hp), fd2;

	vmock_reg_write(&T.vm.m, VIRTIO_MMIO_STATUS, 0);
	cr_assert_eq(vsock_conn_count(&T.vm.dev), 0);
	cr_assert(vt_host_eof(&T, fd));
	fd2 = vt_unix_connect(T.path);
	cr_assert(vt_host_eof(&T, fd2));
	cr_assert_eq(vsock_send_transport_reset(&T.vm.dev), -ENODEV);
	close(fd);
	close(fd2);
}

/* A guest that never answers host connections does not keep the table:
 * past the timeout, a new connection takes back the oldest slot. */
Test(vsock, unanswered_host_connections_expire_when_the_slot_is_needed, .timeout = 30)
{
	struct vsock_opts o = { .max_conns = 2 };
	struct vsock_mock_pkt p;
	uint32_t first_port;
	int fd[3];

	vt_down(&T);
	vt_up(&T, &o, 0);
	for (int i = 0; i < 2; i++) {
		fd[i] = vt_unix_connect(T.path);
		vt_write_all(fd[i], "CONNECT 9\n", 10);
		cr_assert(vt_guest_recv(&T, &p, NULL, 0));
		cr_assert_eq(p.op, VIRTIO_VSOCK_OP_REQUEST);
		if (i == 0)
			first_port = p.src_port;
	}
	/* Within the timeout a third is refused. */
	fd[2] = vt_unix_connect(T.path);
	cr_assert(vt_host_eof(&T, fd[2]));
	close(fd[2]);
	usleep((VSOCK_CONNECT_TIMEOUT_MS + 100) * 1000);
	fd[2] = vt_unix_connect(T.path);
	vt_write_all(fd[2], "CONNECT 10\n", 11);
	cr_assert(vt_guest_recv(&T, &p, NULL, 0));
	cr_assert_eq(p.op, VIRTIO_VSOCK_OP_RST);
	cr_assert_eq(p.src_port, first_port);
	cr_assert(vt_guest_recv(&T, &p, NULL, 0));
	cr_assert_eq(p.op, VIRTIO_VSOCK_OP_REQUEST);
	cr_assert_eq(p.dst_port, 10);
	cr_assert(vt_host_eof(&T, fd[0]));
	for (int i = 0; i < 3; i++)
		close(fd[i]);
}
