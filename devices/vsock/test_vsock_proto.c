/* virtio-vsock against a misbehaving driver or host process: malformed
 * headers, wrong CIDs, types, ops and lengths, protocol violations, broken
 * chains and rings, tiny rx/event buffers, bad CONNECT lines, loop errors. */
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

TestSuite(vsock_proto, .init = setup, .fini = teardown, .timeout = 30);

static struct vsock_metrics metrics(void)
{
	struct vsock_metrics m;

	vsock_metrics_get(&T.vm.dev, &m);
	return m;
}

static bool needs_reset(void)
{
	return vmock_reg_read(&T.vm.m, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET;
}

Test(vsock_proto, short_header_is_dropped)
{
	uint64_t gpa = vmock_alloc(&T.vm.m, 64, 16);
	struct vmock_buf b = { gpa, 20, false };
	uint16_t head;
	uint32_t id, len;

	vmock_chain_add(&T.vm.m, VSOCK_QUEUE_TX, &b, 1, &head);
	vmock_avail_push(&T.vm.m, VSOCK_QUEUE_TX, head);
	vmock_notify(&T.vm.m, VSOCK_QUEUE_TX);
	cr_assert_eq(vmock_used_next(&T.vm.m, VSOCK_QUEUE_TX, &id, &len), 0);
	cr_assert_eq(id, head);
	cr_assert_eq(len, 0);
	cr_assert_eq(metrics().tx_dropped, 1);
	cr_assert(vt_guest_quiet(&T));
	cr_assert_not(needs_reset());
}

Test(vsock_proto, header_split_over_descriptors_is_fine)
{
	int l = vt_unix_listen(&T, 5);
	struct vsock_mock_pkt p = vsock_mock_hdr(&T.vm, 10, 5, VIRTIO_VSOCK_OP_REQUEST), r;
	struct virtio_vsock_hdr h = { .src_cid = htole64(p.src_cid), .dst_cid = htole64(2), .src_port = htole32(10),
				      .dst_port = htole32(5), .type = htole16(1), .op = htole16(1),
				      .buf_alloc = htole32(4096) };
	uint64_t gpa = vmock_alloc(&T.vm.m, 64, 16);
	struct vmock_buf b[3] = { { gpa, 7, false }, { gpa + 7, 30, false }, { gpa + 37, 7, false } };
	uint16_t head;

	vmock_write(&T.vm.m, gpa, &h, sizeof(h));
	vmock_chain_add(&T.vm.m, VSOCK_QUEUE_TX, b, 3, &head);
	vmock_avail_push(&T.vm.m, VSOCK_QUEUE_TX, head);
	vmock_notify(&T.vm.m, VSOCK_QUEUE_TX);
	cr_assert(vt_guest_recv(&T, &r, NULL, 0));
	cr_assert_eq(r.op, VIRTIO_VSOCK_OP_RESPONSE);
	close(l);
}

Test(vsock_proto, wrong_cids_are_dropped_silently)
{
	int l = vt_unix_listen(&T, 5);
	struct vsock_mock_pkt p = vsock_mock_hdr(&T.vm, 10, 5, VIRTIO_VSOCK_OP_REQUEST);

	p.src_cid = 99;
	cr_assert_eq(vsock_mock_send(&T.vm, &p, NULL, 0, 0), 0);
	p.src_cid = T.vm.dev.cid;
	p.dst_cid = 7;
	cr_assert_eq(vsock_mock_send(&T.vm, &p, NULL, 0, 0), 0);
	cr_assert(vt_guest_quiet(&T));
	cr_assert_eq(metrics().tx_dropped, 2);
	cr_assert_eq(vsock_conn_count(&T.vm.dev), 0);
	close(l);
}

Test(vsock_proto, unknown_type_op_and_orphan_packets_get_rst)
{
	static const uint16_t ops[] = { VIRTIO_VSOCK_OP_RW, VIRTIO_VSOCK_OP_RESPONSE, VIRTIO_VSOCK_OP_SHUTDOWN,
					VIRTIO_VSOCK_OP_CREDIT_UPDATE, VIRTIO_VSOCK_OP_CREDIT_REQUEST,
					VIRTIO_VSOCK_OP_INVALID, 99 };
	struct vsock_mock_pkt p = vsock_mock_hdr(&T.vm, 10, 5, VIRTIO_VSOCK_OP_REQUEST), r;

	p.type = 2; /* SEQPACKET: not offered */
	cr_assert_eq(vsock_mock_send(&T.vm, &p, NULL, 0, 0), 0);
	cr_assert(vt_guest_recv(&T, &r, NULL, 0));
	cr_assert_eq(r.op, VIRTIO_VSOCK_OP_RST);
	cr_assert_eq(r.dst_port, 10);
	cr_assert_eq(r.src_port, 5);
	for (unsigned int i = 0; i < ARRAY_SIZE(ops); i++) {
		p = vsock_mock_hdr(&T.vm, 10, 5, ops[i]);
		cr_assert_eq(vsock_mock_send(&T.vm, &p, NULL, 0, 0), 0);
		cr_assert(vt_guest_recv(&T, &r, NULL, 0), "op %u", ops[i]);
		cr_assert_eq(r.op, VIRTIO_VSOCK_OP_RST, "op %u", ops[i]);
	}
	/* An orphan RST gets nothing back. */
	p = vsock_mock_hdr(&T.vm, 10, 5, VIRTIO_VSOCK_OP_RST);
	cr_assert_eq(vsock_mock_send(&T.vm, &p, NULL, 0, 0), 0);
	cr_assert(vt_guest_quiet(&T));
	cr_assert_eq(vsock_conn_count(&T.vm.dev), 0);
}

Test(vsock_proto, bad_lengths_get_rst_and_end_the_connection)
{
	uint32_t hp;
	int fd = vt_host_open(&T, 7, &hp);
	struct vsock_mock_pkt p = vsock_mock_hdr(&T.vm, 7, hp, VIRTIO_VSOCK_OP_RW), r;
	char data[16] = "0123456789abcdef";

	p.len = 100; /* only 16 bytes follow */
	cr_assert_eq(vsock_mock_send(&T.vm, &p, data, 16, 1), 0);
	cr_assert(vt_guest_recv(&T, &r, NULL, 0));
	cr_assert_eq(r.op, VIRTIO_VSOCK_OP_RST);
	cr_assert_eq(vsock_conn_count(&T.vm.dev), 0);
	cr_assert(vt_host_eof(&T, fd));
	close(fd);
	/* A payload on a control op. */
	fd = vt_host_open(&T, 8, &hp);
	p = vsock_mock_hdr(&T.vm, 8, hp, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	p.len = 4;
	cr_assert_eq(vsock_mock_send(&T.vm, &p, data, 4, 1), 0);
	cr_assert(vt_guest_recv(&T, &r, NULL, 0));
	cr_assert_eq(r.op, VIRTIO_VSOCK_OP_RST);
	/* Above 64 KiB. */
	fd = vt_host_open(&T, 9, &hp);
	static char big[VSOCK_MAX_PKT_PAYLOAD + 1];
	p = vsock_mock_hdr(&T.vm, 9, hp, VIRTIO_VSOCK_OP_RW);
	p.len = sizeof(big);
	cr_assert_eq(vsock_mock_send(&T.vm, &p, big, sizeof(big), 3), 0);
	cr_assert(vt_guest_recv(&T, &r, NULL, 0));
	cr_assert_eq(r.op, VIRTIO_VSOCK_OP_RST);
	cr_assert_eq(metrics().tx_invalid, 3);
	close(fd);
}

Test(vsock_proto, response_without_request_and_double_request)
{
	int l = vt_unix_listen(&T, 5);
	struct vsock_mock_pkt p = vsock_mock_hdr(&T.vm, 10, 5, VIRTIO_VSOCK_OP_REQUEST), r;

	cr_assert_eq(vsock_mock_send(&T.vm, &p, NULL, 0, 0), 0);
	cr_assert(vt_guest_recv(&T, &r, NULL, 0));
	cr_assert_eq(r.op, VIRTIO_VSOCK_OP_RESPONSE);
	/* RESPONSE on an established guest-initiated connection. */
	p.op = VIRTIO_VSOCK_OP_RESPONSE;
	cr_assert_eq(vsock_mock_send(&T.vm, &p, NULL, 0, 0), 0);
	cr_assert(vt_guest_recv(&T, &r, NULL, 0));
	cr_assert_eq(r.op, VIRTIO_VSOCK_OP_RST);
	cr_assert_eq(vsock_conn_count(&T.vm.dev), 0);
	/* REQUEST twice on the same ports. */
	p.op = VIRTIO_VSOCK_OP_REQUEST;
	cr_assert_eq(vsock_mock_send(&T.vm, &p, NULL, 0, 0), 0);
	cr_assert(vt_guest_recv(&T, &r, NULL, 0));
	cr_assert_eq(r.op, VIRTIO_VSOCK_OP_RESPONSE);
	cr_assert_eq(vsock_mock_send(&T.vm, &p, NULL, 0, 0), 0);
	cr_assert(vt_guest_recv(&T, &r, NULL, 0));
	cr_assert_eq(r.op, VIRTIO_VSOCK_OP_RST);
	cr_assert_eq(vsock_conn_count(&T.vm.dev), 0);
	close(l);
}

Test(vsock_proto, malformed_tx_chain_needs_reset)
{
	struct vsock_mock_pkt p = vsock_mock_hdr(&T.vm, 10, 5, VIRTIO_VSOCK_OP_REQUEST);

	/* A descriptor far outside guest RAM. */
	vmock_desc_write(&T.vm.m, VSOCK_QUEUE_TX, 0, 0x7fff00000000ULL, 44, 0, 0);
	vmock_avail_push(&T.vm.m, VSOCK_QUEUE_TX, 0);
	vmock_notify(&T.vm.m, VSOCK_QUEUE_TX);
	cr_assert(needs_reset());
	cr_assert_eq(metrics().queue_errors, 1);
	/* Nothing more is processed. */
	cr_assert_eq(vsock_mock_send(&T.vm, &p, NULL, 0, 0), -EAGAIN);
	cr_assert_eq(vsock_process_queue(&T.vm.dev, VSOCK_QUEUE_TX), -EIO);
	/* A driver reset and renegotiation bring it back. */
	cr_assert_eq(vmock_negotiate(&T.vm.m, ~0ULL, VSOCK_NR_QUEUES, 0), 0);
	T.vm.rx_outstanding = 0;
	cr_assert_not(needs_reset());
	cr_assert_eq(vsock_mock_send(&T.vm, &p, NULL, 0, 0), 0);
	struct vsock_mock_pkt r;
	cr_assert(vt_guest_recv(&T, &r, NULL, 0));
	cr_assert_eq(r.op, VIRTIO_VSOCK_OP_RST); /* nobody listens on 5 */
}

Test(vsock_proto, malformed_rx_ring_needs_reset)
{
	struct vsock_mock_pkt p = vsock_mock_hdr(&T.vm, 10, 5, VIRTIO_VSOCK_OP_REQUEST);

	/* The rx avail idx jumps past the ring. */
	vmock_avail_set_idx(&T.vm.m, VSOCK_QUEUE_RX, 1000);
	cr_assert_eq(vsock_mock_send(&T.vm, &p, NULL, 0, 0), 0); /* RST owed: needs an rx buffer */
	cr_assert(needs_reset());
	cr_assert_eq(vsock_process_queue(&T.vm.dev, VSOCK_QUEUE_RX), -EIO);
}

Test(vsock_proto, readonly_rx_buffer_needs_reset)
{
	struct vsock_mock_pkt p = vsock_mock_hdr(&T.vm, 10, 5, VIRTIO_VSOCK_OP_REQUEST);
	uint64_t gpa = vmock_alloc(&T.vm.m, 64, 16);
	struct vmock_buf b = { gpa, 64, false };
	uint16_t head;
	uint32_t id, len;

	/* No writable byte: a header-sized check fails first, so it comes back
	 * unused and the device stays sound. */
	vmock_chain_add(&T.vm.m, VSOCK_QUEUE_RX, &b, 1, &head);
	vmock_avail_push(&T.vm.m, VSOCK_QUEUE_RX, head);
	cr_assert_eq(vsock_mock_send(&T.vm, &p, NULL, 0, 0), 0);
	cr_assert_eq(vmock_used_next(&T.vm.m, VSOCK_QUEUE_RX, &id, &len), 0);
	cr_assert_eq(id, head);
	cr_assert_eq(len, 0);
	cr_assert_eq(metrics().rx_bad_buffers, 1);
	cr_assert_not(needs_reset());
}

Test(vsock_proto, tiny_rx_buffers_are_returned_unused)
{
	struct vsock_mock_pkt p = vsock_mock_hdr(&T.vm, 10, 5, VIRTIO_VSOCK_OP_REQUEST), r;
	uint32_t used;

	vt_down(&T);
	vt_up(&T, NULL, 20); /* 20-byte rx buffers: no room for a header */
	cr_assert_eq(vsock_mock_send(&T.vm, &p, NULL, 0, 0), 0);
	vsock_mock_rx_post(&T.vm, 3);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(vsock_mock_recv(&T.vm, &r, NULL, 0, &used), 0);
		cr_assert_eq(used, 0);
	}
	cr_assert_eq(metrics().rx_bad_buffers, 3);
	cr_assert_eq(T.vm.dev.rst_count, 1, "the RST still waits for a real buffer");
	cr_assert_not(needs_reset());
}

Test(vsock_proto, header_only_rx_buffers_carry_control_not_data)
{
	struct vsock_mock_pkt r;
	uint32_t hp, used;
	int fd;

	vt_down(&T);
	vt_up(&T, NULL, VIRTIO_VSOCK_HDR_SIZE);
	fd = vt_host_open(&T, 7, &hp); /* REQUEST fits */
	vt_write_all(fd, "x", 1);
	for (int i = 0; i < 5; i++)
		vsock_mock_poll(&T.vm, 2);
	vsock_mock_rx_post(&T.vm, 2);
	cr_assert_eq(vsock_mock_recv(&T.vm, &r, NULL, 0, &used), 0);
	cr_assert_eq(used, 0);
	cr_assert_geq(metrics().rx_bad_buffers, 1);
	close(fd);
}

Test(vsock_proto, small_event_buffer_is_returned_unused)
{
	uint32_t id, used;

	cr_assert_eq(vsock_send_transport_reset(&T.vm.dev), 0);
	vsock_mock_event_post(&T.vm, 2);
	cr_assert_eq(vsock_mock_event_next(&T.vm, &id, &used), 0);
	cr_assert_eq(used, 0);
	vsock_mock_event_post(&T.vm, 8);
	cr_assert_eq(vsock_mock_event_next(&T.vm, &id, &used), 0);
	cr_assert_eq(used, 4);
	cr_assert_eq(id, VIRTIO_VSOCK_EVENT_TRANSPORT_RESET);
}

static void bad_command(const char *cmd, size_t len)
{
	int fd = vt_unix_connect(T.path);

	vt_write_all(fd, cmd, len);
	cr_assert(vt_host_eof(&T, fd), "'%.*s' not refused", (int)len, cmd);
	cr_assert(vt_guest_quiet(&T));
	cr_assert_eq(vsock_conn_count(&T.vm.dev), 0);
	close(fd);
}

Test(vsock_proto, bad_connect_lines_close_the_host_socket)
{
	char longline[64];

	bad_command("CONNECT\n", 8);
	bad_command("CONNECT abc\n", 12);
	bad_command("CONNECT 4294967296\n", 19);
	bad_command("connect 5\n", 10);
	bad_command("CONNECT -1\n", 11);
	bad_command("CONNECT 5 \n", 11);
	memset(longline, '1', sizeof(longline));
	memcpy(longline, "CONNECT ", 8);
	bad_command(longline, sizeof(longline));
}

Test(vsock_proto, partial_connect_line_then_host_gives_up)
{
	int fd = vt_unix_connect(T.path);

	vt_write_all(fd, "CONN", 4);
	for (int i = 0; i < 5; i++)
		vsock_mock_poll(&T.vm, 2);
	cr_assert_eq(vsock_conn_count(&T.vm.dev), 1);
	/* The partial line was consumed: the socket is not readable again, so
	 * a level-triggered loop does not spin on it. */
	cr_assert_eq(vsock_mock_poll(&T.vm, 0), 0);
	/* The rest of the line completes it. */
	vt_write_all(fd, "ECT 5\n", 6);
	struct vsock_mock_pkt p;
	cr_assert(vt_guest_recv(&T, &p, NULL, 0));
	cr_assert_eq(p.op, VIRTIO_VSOCK_OP_REQUEST);
	cr_assert_eq(p.dst_port, 5);
	close(fd);
	for (int i = 0; i < 5; i++)
		vsock_mock_poll(&T.vm, 2);
	cr_assert_eq(vsock_conn_count(&T.vm.dev), 0);
	cr_assert(vt_guest_recv(&T, &p, NULL, 0)); /* the guest hears the host gave up */
	cr_assert_eq(p.op, VIRTIO_VSOCK_OP_RST);
}

Test(vsock_proto, stale_tokens_are_ignored)
{
	uint32_t hp, token, ev;
	int fd = vt_host_open(&T, 7, &hp);

	vt_write_all(fd, "a", 1);
	cr_assert_not_null(vsock_fake_loop_find(&T.vm.loop, T.vm.dev.conns[0].fd, &ev, &token));
	cr_assert_eq(vt_guest_send(&T, 7, hp, VIRTIO_VSOCK_OP_RST, 0, NULL, 0), 0);
	/* The slot is free: its old token, and nonsense tokens, do nothing. */
	vsock_handle_event(&T.vm.dev, token, EPOLLIN);
	vsock_handle_event(&T.vm.dev, 0xffffffffu, EPOLLIN | EPOLLOUT);
	vsock_handle_event(&T.vm.dev, 5000, EPOLLIN);
	cr_assert_eq(vsock_conn_count(&T.vm.dev), 0);
	close(fd);
}

Test(vsock_proto, init_refuses_bad_options)
{
	struct vsock_dev d;
	struct vsock_fake_loop l = { 0 };
	struct dev_event_loop lo = vsock_fake_loop_ops(&l);
	struct vsock_opts o = { .guest_cid = 2 };

	cr_assert_eq(vsock_dev_init(&d, &T.uds.be, &lo, &o), -EINVAL);
	o.guest_cid = UINT32_MAX;
	cr_assert_eq(vsock_dev_init(&d, &T.uds.be, &lo, &o), -EINVAL);
	o.guest_cid = 3;
	o.queue_size = 3;
	cr_assert_eq(vsock_dev_init(&d, &T.uds.be, &lo, &o), -EINVAL);
	o.queue_size = 0;
	o.max_conns = VSOCK_MAX_CONNS_LIMIT + 1;
	cr_assert_eq(vsock_dev_init(&d, &T.uds.be, &lo, &o), -EINVAL);
	o.max_conns = 0;
	/* The path is taken (by T's device). */
	cr_assert_eq(vsock_dev_init(&d, &T.uds.be, &lo, &o), -EADDRINUSE);
	struct vsock_uds u;
	cr_assert_eq(vsock_uds_init(&u, ""), -EINVAL);
	char lp[200];
	memset(lp, 'a', sizeof(lp) - 1);
	lp[sizeof(lp) - 1] = 0;
	cr_assert_eq(vsock_uds_init(&u, lp), -ENAMETOOLONG);
}

Test(vsock_proto, watch_failure_is_counted_not_fatal)
{
	uint32_t hp;
	int fd = vt_host_open(&T, 7, &hp);

	T.vm.loop.fail = -ENOSPC;
	cr_assert_eq(vt_guest_send(&T, 7, hp, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0), 0);
	vt_write_all(fd, "z", 1);
	for (int i = 0; i < 3; i++)
		vsock_mock_poll(&T.vm, 2);
	T.vm.loop.fail = 0;
	cr_assert_eq(vsock_conn_count(&T.vm.dev), 1);
	close(fd);
}

/* A Unix-socket backend whose accept can be made to fail like EMFILE. */
static int accept_fail;

static int flaky_listen(void *opaque)
{
	return T.uds.be.ops->listen(T.uds.be.opaque);
}

static int flaky_accept(void *opaque, int listen_fd)
{
	return accept_fail ? accept_fail : T.uds.be.ops->accept(T.uds.be.opaque, listen_fd);
}

static int flaky_connect(void *opaque, uint32_t port)
{
	return T.uds.be.ops->connect(T.uds.be.opaque, port);
}

static void flaky_unlisten(void *opaque)
{
	T.uds.be.ops->unlisten(T.uds.be.opaque);
}

static const struct vsock_backend_ops flaky_ops = {
	.listen = flaky_listen, .accept = flaky_accept, .connect = flaky_connect, .unlisten = flaky_unlisten,
};

Test(vsock_proto, accept_out_of_fds_pauses_the_listener_until_a_connection_ends)
{
	struct vsock_backend flaky = { .ops = &flaky_ops };
	struct vsock_opts o = { 0 };
	uint32_t hp;
	int fd1, fd2;

	vsock_mock_destroy(&T.vm);
	cr_assert_eq(vsock_mock_init(&T.vm, &flaky, &o, ~0ULL, 0, T_RX_BUF, 4096), 0);
	fd1 = vt_host_open(&T, 7, &hp);
	accept_fail = -EMFILE;
	fd2 = vt_unix_connect(T.path);
	cr_assert_eq(vsock_mock_poll(&T.vm, 20), 1);
	cr_assert_eq(metrics().host_errors, 1);
	/* Unwatched: the pending connection does not make the loop spin. */
	cr_assert_null(vsock_fake_loop_find(&T.vm.loop, T.vm.dev.listen_fd, NULL, NULL));
	cr_assert_eq(vsock_mock_poll(&T.vm, 0), 0);
	/* A connection ends: the listener is back and the waiting host gets in. */
	accept_fail = 0;
	cr_assert_eq(vt_guest_send(&T, 7, hp, VIRTIO_VSOCK_OP_RST, 0, NULL, 0), 0);
	cr_assert_not_null(vsock_fake_loop_find(&T.vm.loop, T.vm.dev.listen_fd, NULL, NULL));
	vt_write_all(fd2, "CONNECT 8\n", 10);
	struct vsock_mock_pkt p;
	cr_assert(vt_guest_recv(&T, &p, NULL, 0));
	cr_assert_eq(p.op, VIRTIO_VSOCK_OP_REQUEST);
	cr_assert_eq(p.dst_port, 8);
	close(fd1);
	close(fd2);
}
