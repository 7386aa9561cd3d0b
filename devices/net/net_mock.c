/* Mock virtio-net driver, fake event loop; see net_mock.h. */
#include "devices/net/net_mock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

static void must(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "net mock misuse: %s\n", what);
		abort();
	}
}

static struct net_fake_watch *find(struct net_fake_loop *l, int fd)
{
	for (unsigned int i = 0; i < NET_MOCK_WATCHES; i++)
		if (l->w[i].on && l->w[i].fd == fd)
			return &l->w[i];
	return NULL;
}

static int fake_watch(void *opaque, int fd, uint32_t events, uint32_t token)
{
	struct net_fake_loop *l = opaque;
	struct net_fake_watch *w = find(l, fd);

	l->watch_calls++;
	if (l->fail)
		return l->fail;
	if (fd < 0)
		return -EBADF;
	for (unsigned int i = 0; !w && i < NET_MOCK_WATCHES; i++)
		if (!l->w[i].on)
			w = &l->w[i];
	if (!w)
		return -ENOSPC;
	*w = (struct net_fake_watch){ .fd = fd, .events = events, .token = token, .on = true };
	return 0;
}

static void fake_unwatch(void *opaque, int fd)
{
	struct net_fake_loop *l = opaque;
	struct net_fake_watch *w = find(l, fd);

	l->unwatch_calls++;
	if (w)
		w->on = false;
}

void net_fake_loop_init(struct net_fake_loop *l)
{
	memset(l, 0, sizeof(*l));
	l->loop = (struct dev_event_loop){ .watch = fake_watch, .unwatch = fake_unwatch, .opaque = l };
}

uint32_t net_fake_loop_events(const struct net_fake_loop *l, int fd)
{
	for (unsigned int i = 0; i < NET_MOCK_WATCHES; i++)
		if (l->w[i].on && l->w[i].fd == fd)
			return l->w[i].events;
	return 0;
}

unsigned int net_fake_loop_count(const struct net_fake_loop *l)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < NET_MOCK_WATCHES; i++)
		n += l->w[i].on;
	return n;
}

static void mock_irq(void *opaque, unsigned int gsi, int level)
{
	struct net_mock *nm = opaque;

	if (level)
		nm->irq_raises++;
}

static int mock_init(struct net_mock *nm, const struct net_backend *be, const struct net_opts *opts,
		     uint64_t features, uint16_t qsize, bool keep)
{
	struct irq_line line = { .set_level = mock_irq, .opaque = nm, .gsi = 5 };
	int ret;

	memset(nm, 0, sizeof(*nm));
	nm->tap.fd = -1;
	ret = vmock_init(&nm->m, VMOCK_RAM_GPA, NET_MOCK_RAM_SIZE);
	if (ret)
		return ret;
	ret = net_tap_fake_init(&nm->tap);
	if (ret)
		goto err;
	nm->tap.keep = keep;
	net_fake_loop_init(&nm->ev);
	ret = net_dev_init(&nm->dev, be ? be : &nm->tap.be, &nm->ev.loop, opts);
	if (ret)
		goto err;
	nm->dev_ready = true;
	ret = vmmio_init(&nm->t, &net_virtio_ops, &nm->dev, &nm->m.mem, &line);
	if (ret)
		goto err;
	nm->t_ready = true;
	vmock_attach(&nm->m, &nm->t);
	nm->tx_area = vmock_alloc_uninit(&nm->m, NET_MOCK_TX_AREA, 4096);
	nm->rx_area = vmock_alloc_uninit(&nm->m, NET_MOCK_RX_AREA, 4096);
	ret = vmock_negotiate(&nm->m, features, NET_NR_QUEUES, qsize);
	if (ret)
		goto err;
	return 0;
err:
	net_mock_destroy(nm);
	return ret;
}

int net_mock_init(struct net_mock *nm, const struct net_opts *opts, uint64_t features, uint16_t qsize,
		  bool keep)
{
	return mock_init(nm, NULL, opts, features, qsize, keep);
}

int net_mock_init_backend(struct net_mock *nm, const struct net_backend *be, const struct net_opts *opts,
			  uint64_t features, uint16_t qsize)
{
	return mock_init(nm, be, opts, features, qsize, false);
}

void net_mock_destroy(struct net_mock *nm)
{
	if (nm->t_ready)
		vmmio_destroy(&nm->t);
	if (nm->dev_ready)
		net_dev_destroy(&nm->dev);
	net_tap_fake_destroy(&nm->tap);
	vmock_destroy(&nm->m);
	nm->t_ready = nm->dev_ready = false;
}

/* len bytes at the next offset of an area (wrapping); the caller keeps
 * buffers in flight fewer than the area holds. */
static uint64_t area_take(uint64_t base, uint64_t size, uint64_t *next, uint64_t len)
{
	uint64_t at;

	must(len <= size, "buffer larger than its area");
	if (*next + len > size)
		*next = 0;
	at = base + *next;
	*next += (len + 63) & ~63ULL;
	return at;
}

/* segs descriptors over [gpa, gpa + len) (direct or one indirect table). */
static uint16_t add_chain(struct net_mock *nm, unsigned int qi, uint64_t gpa, uint32_t len, unsigned int segs,
			  bool writable, bool indirect)
{
	struct vmock_buf bufs[VIRTQ_MAX_SIZE];
	uint16_t head;

	must(segs >= 1 && segs <= VIRTQ_MAX_SIZE, "segments");
	if (segs > len)
		segs = len;
	for (unsigned int i = 0; i < segs; i++) {
		uint32_t piece = len / segs, off = piece * i;

		if (i == segs - 1)
			piece = len - off;
		bufs[i] = (struct vmock_buf){ gpa + off, piece, writable };
	}
	if (indirect)
		vmock_chain_add_indirect(&nm->m, qi, bufs, segs, &head);
	else
		vmock_chain_add(&nm->m, qi, bufs, segs, &head);
	vmock_avail_push(&nm->m, qi, head);
	return head;
}

uint16_t net_mock_tx(struct net_mock *nm, const void *hdr, const void *frame, uint32_t len, unsigned int segs,
		     bool indirect)
{
	static const uint8_t zero[VIRTIO_NET_HDR_LEN];
	uint64_t gpa = area_take(nm->tx_area, NET_MOCK_TX_AREA, &nm->tx_next, VIRTIO_NET_HDR_LEN + (uint64_t)len);

	vmock_write(&nm->m, gpa, hdr ? hdr : zero, VIRTIO_NET_HDR_LEN);
	if (len)
		vmock_write(&nm->m, gpa + VIRTIO_NET_HDR_LEN, frame, len);
	return add_chain(nm, VIRTIO_NET_TXQ, gpa, VIRTIO_NET_HDR_LEN + len, segs, false, indirect);
}

int net_mock_tx_used(struct net_mock *nm, uint16_t *head, uint32_t *used)
{
	uint32_t id;
	int ret = vmock_used_next(&nm->m, VIRTIO_NET_TXQ, &id, used);

	if (!ret)
		*head = (uint16_t)id;
	return ret;
}

uint16_t net_mock_rx_post(struct net_mock *nm, uint32_t len, unsigned int segs, bool indirect)
{
	uint64_t gpa = area_take(nm->rx_area, NET_MOCK_RX_AREA, &nm->rx_next, len);
	uint16_t head;

	memset(vmock_host(&nm->m, gpa, len), 0xee, len); /* so a test sees what was written */
	head = add_chain(nm, VIRTIO_NET_RXQ, gpa, len, segs, true, indirect);
	nm->rx_gpa[head] = gpa;
	nm->rx_cap[head] = len;
	return head;
}

int net_mock_rx_used(struct net_mock *nm, uint16_t *head, uint32_t *used, void *out, uint32_t max)
{
	uint32_t id, n;
	int ret = vmock_used_next(&nm->m, VIRTIO_NET_RXQ, &id, used);

	if (ret)
		return ret;
	must(id < VIRTQ_MAX_SIZE, "device returned a head beyond the ring");
	*head = (uint16_t)id;
	n = *used < max ? *used : max;
	if (n > nm->rx_cap[id])
		n = nm->rx_cap[id];
	if (out && n)
		vmock_read(&nm->m, nm->rx_gpa[id], out, n);
	return 0;
}

unsigned int net_mock_poll(struct net_mock *nm, unsigned int max_rounds)
{
	unsigned int n = 0;

	while (n < max_rounds) {
		uint32_t ev = net_fake_loop_events(&nm->ev, nm->tap.fd), fire = 0;

		if ((ev & EPOLLIN) && (net_tap_fake_pending(&nm->tap) || nm->tap.read_fail))
			fire |= EPOLLIN;
		if ((ev & EPOLLOUT) && !nm->tap.full && !nm->tap.eagain_next)
			fire |= EPOLLOUT;
		if (!fire)
			break;
		net_event(&nm->dev, NET_EVENT_TAP, fire);
		n++;
	}
	return n;
}
