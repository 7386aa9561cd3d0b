/* Mock virtio-vsock driver and fake event loop; see vsock_mock.h. */
#include "devices/vsock/vsock_mock.h"

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN16(x) (((x) + 15ULL) & ~15ULL)
#define EV_SLOT 64

static int fake_watch(void *opaque, int fd, uint32_t events, uint32_t token)
{
	struct vsock_fake_loop *l = opaque;

	l->watch_calls++;
	if (l->fail)
		return l->fail;
	for (unsigned int i = 0; i < l->n; i++) {
		if (l->w[i].fd == fd) {
			l->w[i].events = events;
			l->w[i].token = token;
			return 0;
		}
	}
	if (l->n == VSOCK_MOCK_MAX_WATCHES)
		return -ENOSPC;
	l->w[l->n].fd = fd;
	l->w[l->n].events = events;
	l->w[l->n].token = token;
	l->n++;
	return 0;
}

static void fake_unwatch(void *opaque, int fd)
{
	struct vsock_fake_loop *l = opaque;

	l->unwatch_calls++;
	for (unsigned int i = 0; i < l->n; i++) {
		if (l->w[i].fd == fd) {
			l->w[i] = l->w[--l->n];
			return;
		}
	}
}

struct dev_event_loop vsock_fake_loop_ops(struct vsock_fake_loop *l)
{
	return (struct dev_event_loop){ .watch = fake_watch, .unwatch = fake_unwatch, .opaque = l };
}

const void *vsock_fake_loop_find(const struct vsock_fake_loop *l, int fd, uint32_t *events, uint32_t *token)
{
	for (unsigned int i = 0; i < l->n; i++) {
		if (l->w[i].fd == fd) {
			if (events)
				*events = l->w[i].events;
			if (token)
				*token = l->w[i].token;
			return &l->w[i];
		}
	}
	return NULL;
}

static void mock_irq(void *opaque, unsigned int gsi, int level)
{
	struct vsock_mock *vm = opaque;

	if (level)
		vm->irq_raises++;
}

int vsock_mock_init(struct vsock_mock *vm, const struct vsock_backend *be, const struct vsock_opts *opts,
		    uint64_t features, uint16_t qsize, uint32_t rx_buf_len, uint32_t tx_buf_len)
{
	struct irq_line line = { .set_level = mock_irq, .opaque = vm, .gsi = 5 };
	struct vsock_opts o = *opts;
	uint16_t qs = qsize ? qsize : (opts->queue_size ? opts->queue_size : VSOCK_QUEUE_SIZE);
	uint64_t ram;
	int ret;

	if (!rx_buf_len)
		abort();
	memset(vm, 0, sizeof(*vm));
	if (!o.guest_cid)
		o.guest_cid = VSOCK_MOCK_GUEST_CID;
	vm->rx_buf_len = rx_buf_len;
	vm->tx_buf_len = tx_buf_len;
	vm->qsize = qs;
	ram = (1ULL << 20) + qs * ALIGN16(rx_buf_len) + VSOCK_MOCK_TX_SLOTS * ALIGN16(VIRTIO_VSOCK_HDR_SIZE + tx_buf_len) +
	      (uint64_t)VIRTQ_MAX_SIZE * EV_SLOT;
	ram = (ram + 0xfffff) & ~0xfffffULL;
	ret = vmock_init(&vm->m, VMOCK_RAM_GPA, ram);
	if (ret)
		return ret;
	vm->loop_ops = vsock_fake_loop_ops(&vm->loop);
	ret = vsock_dev_init(&vm->dev, be, &vm->loop_ops, &o);
	if (ret)
		goto err_mock;
	ret = vmmio_init(&vm->t, &vsock_virtio_ops, &vm->dev, &vm->m.mem, &line);
	if (ret)
		goto err_dev;
	vmock_attach(&vm->m, &vm->t);
	vm->rx_area = vmock_alloc_uninit(&vm->m, qs * ALIGN16(rx_buf_len), 16);
	vm->tx_area = vmock_alloc_uninit(&vm->m, VSOCK_MOCK_TX_SLOTS * ALIGN16(VIRTIO_VSOCK_HDR_SIZE + tx_buf_len), 16);
	vm->ev_area = vmock_alloc(&vm->m, (uint64_t)VIRTQ_MAX_SIZE * EV_SLOT, 16);
	ret = vmock_negotiate(&vm->m, features, VSOCK_NR_QUEUES, qsize);
	if (ret)
		goto err_mmio;
	return 0;
err_mmio:
	vmmio_destroy(&vm->t);
err_dev:
	vsock_dev_destroy(&vm->dev);
err_mock:
	vmock_destroy(&vm->m);
	return ret;
}

void vsock_mock_destroy(struct vsock_mock *vm)
{
	vmmio_destroy(&vm->t);
	vsock_dev_destroy(&vm->dev);
	vmock_destroy(&vm->m);
}

unsigned int vsock_mock_rx_post(struct vsock_mock *vm, unsigned int n)
{
	uint16_t size = vm->m.q[VSOCK_QUEUE_RX].size;
	unsigned int posted = 0;

	/* No more than the slots laid out at init, whatever the driver's size. */
	if (size > vm->qsize)
		size = vm->qsize;
	for (; posted < n && size && vm->rx_outstanding < size; posted++) {
		uint64_t gpa = vm->rx_area + (vm->rx_next_slot++ % vm->qsize) * ALIGN16(vm->rx_buf_len);
		struct vmock_buf b = { gpa, vm->rx_buf_len, true };
		uint16_t head;

		vmock_chain_add(&vm->m, VSOCK_QUEUE_RX, &b, 1, &head);
		vm->rx_gpa_of[head] = gpa; /* never 0: RAM starts at VMOCK_RAM_GPA */
		vmock_avail_push(&vm->m, VSOCK_QUEUE_RX, head);
		vm->rx_outstanding++;
	}
	if (size)
		vmock_notify(&vm->m, VSOCK_QUEUE_RX);
	return posted;
}

void vsock_mock_event_post(struct vsock_mock *vm, uint32_t len)
{
	uint16_t size = vm->m.q[VSOCK_QUEUE_EVENT].size;
	uint16_t head;
	struct vmock_buf b;

	if (!size || vm->ev_outstanding >= size || len > EV_SLOT || !len)
		return;
	/* The slot is the descriptor index the mock will use next. */
	b = (struct vmock_buf){ vm->ev_area + (uint64_t)vm->m.q[VSOCK_QUEUE_EVENT].next_desc * EV_SLOT, len, true };
	vmock_chain_add(&vm->m, VSOCK_QUEUE_EVENT, &b, 1, &head);
	vmock_avail_push(&vm->m, VSOCK_QUEUE_EVENT, head);
	vm->ev_outstanding++;
	vmock_notify(&vm->m, VSOCK_QUEUE_EVENT);
}

int vsock_mock_event_next(struct vsock_mock *vm, uint32_t *id, uint32_t *used)
{
	uint32_t head, le = 0;
	int ret = vmock_used_next(&vm->m, VSOCK_QUEUE_EVENT, &head, used);

	if (ret)
		return ret;
	if (vm->ev_outstanding)
		vm->ev_outstanding--;
	*id = UINT32_MAX;
	if (head >= VIRTQ_MAX_SIZE)
		return 0; /* not one the mock posted (see vsock_mock_recv) */
	vmock_read(&vm->m, vm->ev_area + (uint64_t)head * EV_SLOT, &le, sizeof(le));
	*id = le32toh(le);
	return 0;
}

struct vsock_mock_pkt vsock_mock_hdr(const struct vsock_mock *vm, uint32_t guest_port, uint32_t host_port,
				     uint16_t op)
{
	return (struct vsock_mock_pkt){
		.src_cid = vm->dev.cid, .dst_cid = VSOCK_CID_HOST, .src_port = guest_port, .dst_port = host_port,
		.type = VIRTIO_VSOCK_TYPE_STREAM, .op = op, .buf_alloc = 256 * 1024,
	};
}

static void pkt_encode(struct virtio_vsock_hdr *h, const struct vsock_mock_pkt *p)
{
	h->src_cid = htole64(p->src_cid);
	h->dst_cid = htole64(p->dst_cid);
	h->src_port = htole32(p->src_port);
	h->dst_port = htole32(p->dst_port);
	h->len = htole32(p->len);
	h->type = htole16(p->type);
	h->op = htole16(p->op);
	h->flags = htole32(p->flags);
	h->buf_alloc = htole32(p->buf_alloc);
	h->fwd_cnt = htole32(p->fwd_cnt);
}

static void pkt_decode(struct vsock_mock_pkt *p, const struct virtio_vsock_hdr *h)
{
	p->src_cid = le64toh(h->src_cid);
	p->dst_cid = le64toh(h->dst_cid);
	p->src_port = le32toh(h->src_port);
	p->dst_port = le32toh(h->dst_port);
	p->len = le32toh(h->len);
	p->type = le16toh(h->type);
	p->op = le16toh(h->op);
	p->flags = le32toh(h->flags);
	p->buf_alloc = le32toh(h->buf_alloc);
	p->fwd_cnt = le32toh(h->fwd_cnt);
}

int vsock_mock_send(struct vsock_mock *vm, const struct vsock_mock_pkt *p, const void *payload,
		    uint32_t payload_len, unsigned int segs)
{
	uint64_t slot = vm->tx_area + (vm->tx_next_slot++ % VSOCK_MOCK_TX_SLOTS) *
					      ALIGN16(VIRTIO_VSOCK_HDR_SIZE + vm->tx_buf_len);
	struct vmock_buf bufs[VIRTQ_MAX_SIZE];
	struct virtio_vsock_hdr h;
	unsigned int n = 0;
	uint32_t id, used;
	uint16_t head;
	bool done = false;

	if (payload_len > vm->tx_buf_len || segs > VIRTQ_MAX_SIZE - 1 || !vm->m.q[VSOCK_QUEUE_TX].size) {
		fprintf(stderr, "vsock mock: bad send (%u bytes, %u segments)\n", payload_len, segs);
		abort();
	}
	pkt_encode(&h, p);
	vmock_write(&vm->m, slot, &h, sizeof(h));
	if (payload_len)
		vmock_write(&vm->m, slot + VIRTIO_VSOCK_HDR_SIZE, payload, payload_len);
	if (!segs || !payload_len) {
		bufs[n++] = (struct vmock_buf){ slot, VIRTIO_VSOCK_HDR_SIZE + (segs ? 0 : payload_len), false };
	} else {
		if (segs > payload_len)
			segs = payload_len;
		bufs[n++] = (struct vmock_buf){ slot, VIRTIO_VSOCK_HDR_SIZE, false };
		for (unsigned int i = 0; i < segs; i++) {
			uint32_t piece = payload_len / segs, off = piece * i;

			if (i == segs - 1)
				piece = payload_len - off;
			bufs[n++] = (struct vmock_buf){ slot + VIRTIO_VSOCK_HDR_SIZE + off, piece, false };
		}
	}
	if (n > vm->m.q[VSOCK_QUEUE_TX].size) {
		fprintf(stderr, "vsock mock: %u descriptors do not fit the ring\n", n);
		abort();
	}
	vmock_chain_add(&vm->m, VSOCK_QUEUE_TX, bufs, n, &head);
	vmock_avail_push(&vm->m, VSOCK_QUEUE_TX, head);
	vmock_notify(&vm->m, VSOCK_QUEUE_TX);
	while (vmock_used_next(&vm->m, VSOCK_QUEUE_TX, &id, &used) == 0)
		if (id == head)
			done = true;
	return done ? 0 : -EAGAIN;
}

int vsock_mock_recv(struct vsock_mock *vm, struct vsock_mock_pkt *p, void *payload, uint32_t max, uint32_t *used)
{
	struct virtio_vsock_hdr h;
	uint32_t id, len;
	int ret = vmock_used_next(&vm->m, VSOCK_QUEUE_RX, &id, &len);

	if (ret)
		return ret;
	if (vm->rx_outstanding)
		vm->rx_outstanding--;
	if (used)
		*used = len;
	/* A head the mock never posted: the used ring was written by someone
	 * else (a test poking guest memory). */
	if (id >= VIRTQ_MAX_SIZE)
		return 1;
	memset(p, 0, sizeof(*p));
	if (!vm->rx_gpa_of[id])
		return 1; /* a chain the mock did not build */
	if (len < VIRTIO_VSOCK_HDR_SIZE || len > vm->rx_buf_len)
		return 0;
	vmock_read(&vm->m, vm->rx_gpa_of[id], &h, sizeof(h));
	pkt_decode(p, &h);
	len -= VIRTIO_VSOCK_HDR_SIZE;
	if (payload && max)
		vmock_read(&vm->m, vm->rx_gpa_of[id] + VIRTIO_VSOCK_HDR_SIZE, payload, len < max ? len : max);
	return 0;
}

int vsock_mock_poll(struct vsock_mock *vm, int timeout_ms)
{
	struct pollfd pfd[VSOCK_MOCK_MAX_WATCHES];
	uint32_t token[VSOCK_MOCK_MAX_WATCHES];
	unsigned int n = vm->loop.n;
	int ready, handled = 0;

	for (unsigned int i = 0; i < n; i++) {
		/* EPOLLIN/OUT/RDHUP/HUP/ERR have the poll(2) bits' values. */
		pfd[i] = (struct pollfd){ .fd = vm->loop.w[i].fd, .events = (short)vm->loop.w[i].events };
		token[i] = vm->loop.w[i].token;
	}
	ready = poll(pfd, n, timeout_ms);
	for (unsigned int i = 0; ready > 0 && i < n; i++) {
		if (!pfd[i].revents)
			continue;
		vsock_handle_event(&vm->dev, token[i], (uint16_t)pfd[i].revents);
		handled++;
	}
	return handled;
}
