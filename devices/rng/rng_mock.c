/* Mock virtio-rng driver and the rng test doubles; see rng_mock.h. */
#include "devices/rng/rng_mock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

uint64_t rng_mock_now;

uint64_t rng_mock_clock(void)
{
	return rng_mock_now;
}

static int mock_fill(void *opaque, void *buf, size_t len)
{
	struct rng_mock_source *s = opaque;
	uint8_t *p = buf;

	s->calls++;
	for (size_t i = 0; i < len; i++) {
		if (s->fail_armed && !s->fail_after)
			return s->fail_errno ? s->fail_errno : -EIO;
		if (s->fail_armed)
			s->fail_after--;
		p[i] = (uint8_t)(s->seed + s->produced++ * 7);
	}
	return 0;
}

uint8_t rng_mock_stream_byte(const struct rng_mock *rm, uint64_t i)
{
	return (uint8_t)(rm->src.seed + i * 7);
}

static void mock_irq(void *opaque, unsigned int gsi, int level)
{
	struct rng_mock *rm = opaque;

	if (level)
		rm->irq_raises++;
}

int rng_mock_init(struct rng_mock *rm, const struct rng_opts *opts, uint64_t features)
{
	struct irq_line line = { .set_level = mock_irq, .opaque = rm, .gsi = 6 };
	struct rng_opts o = opts ? *opts : (struct rng_opts){ 0 };
	struct dev_event_loop loop;
	int ret;

	memset(rm, 0, sizeof(*rm));
	rng_mock_now = RNG_MOCK_T0;
	rm->loop.fd = -1;
	rm->source = (struct rng_source){ .fill = mock_fill, .opaque = &rm->src };
	o.source = &rm->source;
	o.now_ns = rng_mock_clock;
	loop = vmock_event_loop(&rm->loop);
	ret = vmock_init(&rm->m, VMOCK_RAM_GPA, RNG_MOCK_RAM_SIZE);
	if (ret)
		return ret;
	ret = rng_dev_init(&rm->dev, &o, &loop);
	if (ret)
		goto err_mock;
	ret = vmmio_init(&rm->t, &rng_virtio_ops, &rm->dev, &rm->m.mem, &line);
	if (ret)
		goto err_dev;
	vmock_attach(&rm->m, &rm->t);
	rm->data = vmock_alloc_uninit(&rm->m, RNG_MOCK_DATA_SIZE, 4096); /* fresh: zero */
	ret = vmock_negotiate(&rm->m, features, 1, 0);
	if (ret)
		goto err_mmio;
	return 0;
err_mmio:
	vmmio_destroy(&rm->t);
err_dev:
	rng_dev_destroy(&rm->dev);
err_mock:
	vmock_destroy(&rm->m);
	return ret;
}

void rng_mock_destroy(struct rng_mock *rm)
{
	vmmio_destroy(&rm->t);
	rng_dev_destroy(&rm->dev);
	vmock_destroy(&rm->m);
}

uint16_t rng_mock_queue(struct rng_mock *rm, uint64_t gpa, uint32_t len, unsigned int n, bool indirect)
{
	struct vmock_buf bufs[VIRTQ_MAX_SIZE];
	uint16_t head;

	if (n > VIRTQ_MAX_SIZE || (n && len < n)) {
		fprintf(stderr, "rng mock: %u buffers for %u bytes\n", n, len);
		abort();
	}
	if (!n) {
		bufs[0] = (struct vmock_buf){ gpa, 16, false };
		n = 1;
	} else {
		for (unsigned int i = 0; i < n; i++) {
			uint32_t piece = len / n, off = piece * i;

			if (i == n - 1)
				piece = len - off;
			bufs[i] = (struct vmock_buf){ gpa + off, piece, true };
		}
	}
	if (indirect)
		vmock_chain_add_indirect(&rm->m, 0, bufs, n, &head);
	else
		vmock_chain_add(&rm->m, 0, bufs, n, &head);
	vmock_avail_push(&rm->m, 0, head);
	return head;
}

int rng_mock_complete(struct rng_mock *rm, uint16_t *head, uint32_t *used)
{
	uint32_t id;
	int ret = vmock_used_next(&rm->m, 0, &id, used);

	if (ret)
		return ret;
	*head = (uint16_t)id;
	return 0;
}

int rng_mock_do(struct rng_mock *rm, void *buf, uint32_t len)
{
	uint16_t head;
	uint32_t used;

	if (!len || len > RNG_MOCK_DATA_SIZE) {
		fprintf(stderr, "rng mock: request of %u bytes\n", len);
		abort();
	}
	rng_mock_queue(rm, rm->data, len, 1, false);
	vmock_notify(&rm->m, 0);
	if (rng_mock_complete(rm, &head, &used))
		return -1;
	vmock_read(&rm->m, rm->data, buf, len);
	return (int)used;
}

void rng_mock_timer_fire(struct rng_mock *rm)
{
	rng_event_handler(&rm->dev, rm->loop.token, EPOLLIN);
}
