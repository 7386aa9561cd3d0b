/* Mock virtio driver; see virtio_mock.h. */
#include "devices/virtio/virtio_mock.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void must(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "virtio mock misuse: %s\n", what);
		abort();
	}
}

int vmock_init(struct vmock *m, uint64_t gpa, uint64_t size)
{
	memset(m, 0, sizeof(*m));
	if (!size || gpa + size < gpa)
		return -EINVAL;
	m->ram = calloc(1, size);
	if (!m->ram)
		return -ENOMEM;
	gmem_init(&m->mem);
	if (gmem_add_region(&m->mem, gpa, size, m->ram)) {
		free(m->ram);
		return -EINVAL;
	}
	m->gpa = gpa;
	m->size = size;
	m->brk = gpa;
	return 0;
}

void vmock_destroy(struct vmock *m)
{
	free(m->ram);
	m->ram = NULL;
}

void vmock_clear(struct vmock *m)
{
	memset(m->ram, 0, m->size);
	memset(m->q, 0, sizeof(m->q));
	m->brk = m->gpa;
}

uint64_t vmock_alloc_uninit(struct vmock *m, uint64_t len, uint64_t align)
{
	uint64_t at = (m->brk + align - 1) & ~(align - 1);

	must(align && !(align & (align - 1)), "alignment not a power of two");
	must(at >= m->brk && at <= m->gpa + m->size && len <= m->gpa + m->size - at,
	     "mock guest memory full");
	m->brk = at + len;
	return at;
}

uint64_t vmock_alloc(struct vmock *m, uint64_t len, uint64_t align)
{
	uint64_t at = vmock_alloc_uninit(m, len, align);

	memset(m->ram + (at - m->gpa), 0, len);
	return at;
}

void *vmock_host(struct vmock *m, uint64_t gpa, uint64_t len)
{
	void *p = NULL;

	must(!gmem_slice(&m->mem, gpa, len, &p), "address outside mock RAM");
	return p;
}

void vmock_write(struct vmock *m, uint64_t gpa, const void *src, uint64_t len)
{
	must(!gmem_write(&m->mem, gpa, src, len), "write outside mock RAM");
}

void vmock_read(struct vmock *m, uint64_t gpa, void *dst, uint64_t len)
{
	must(!gmem_read(&m->mem, gpa, dst, len), "read outside mock RAM");
}

static struct vmock_queue *mq(struct vmock *m, unsigned int qi)
{
	must(qi < VIRTIO_MAX_QUEUES && m->q[qi].size, "queue not laid out");
	return &m->q[qi];
}

static void w16(struct vmock *m, uint64_t gpa, uint16_t v)
{
	uint16_t le = htole16(v);

	__atomic_store_n((uint16_t *)vmock_host(m, gpa, 2), le, __ATOMIC_RELEASE);
}

static uint16_t r16(struct vmock *m, uint64_t gpa)
{
	return le16toh(__atomic_load_n((uint16_t *)vmock_host(m, gpa, 2), __ATOMIC_ACQUIRE));
}

void vmock_queue_setup(struct vmock *m, unsigned int qi, uint16_t size)
{
	struct vmock_queue *q;

	must(qi < VIRTIO_MAX_QUEUES && size && !(size & (size - 1)), "bad queue index or size");
	q = &m->q[qi];
	memset(q, 0, sizeof(*q));
	q->size = size;
	q->desc = vmock_alloc(m, VIRTQ_DESC_TABLE_SIZE(size), VIRTQ_DESC_ALIGN);
	q->avail = vmock_alloc(m, VIRTQ_AVAIL_RING_SIZE(size), VIRTQ_AVAIL_ALIGN);
	q->used = vmock_alloc(m, VIRTQ_USED_RING_SIZE(size), VIRTQ_USED_ALIGN);
}

void vmock_queue_config(struct vmock *m, unsigned int qi, struct virtq *vq)
{
	struct vmock_queue *q = mq(m, qi);

	vq->size = q->size;
	vq->desc_gpa = q->desc;
	vq->avail_gpa = q->avail;
	vq->used_gpa = q->used;
	vq->ready = true;
}

void vmock_desc_write(struct vmock *m, unsigned int qi, uint16_t idx, uint64_t addr, uint32_t len,
		      uint16_t flags, uint16_t next)
{
	struct vmock_queue *q = mq(m, qi);
	struct virtq_desc d = {
		.addr = htole64(addr), .len = htole32(len), .flags = htole16(flags), .next = htole16(next),
	};

	must(idx < q->size, "descriptor index beyond the table");
	vmock_write(m, q->desc + VIRTQ_DESC_TABLE_SIZE(idx), &d, sizeof(d));
}

void vmock_chain_add(struct vmock *m, unsigned int qi, const struct vmock_buf *bufs, unsigned int n,
		     uint16_t *head)
{
	struct vmock_queue *q = mq(m, qi);
	unsigned int i;

	must(n && n <= q->size, "chain length");
	*head = q->next_desc;
	for (i = 0; i < n; i++) {
		uint16_t idx = q->next_desc, next = (idx + 1) & (q->size - 1);
		uint16_t flags = (bufs[i].writable ? VIRTQ_DESC_F_WRITE : 0) | (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0);

		vmock_desc_write(m, qi, idx, bufs[i].gpa, bufs[i].len, flags, i + 1 < n ? next : 0);
		q->next_desc = next;
	}
}

void vmock_chain_add_indirect(struct vmock *m, unsigned int qi, const struct vmock_buf *bufs,
			      unsigned int n, uint16_t *head)
{
	struct vmock_queue *q = mq(m, qi);
	uint16_t at = q->next_desc;
	uint64_t table;
	unsigned int i;

	must(n > 0 && n <= VIRTQ_MAX_SIZE, "indirect table size");
	if (q->table_cap[at] < n) {
		q->table[at] = vmock_alloc(m, n * sizeof(struct virtq_desc), 16);
		q->table_cap[at] = (uint16_t)n;
	}
	table = q->table[at];
	for (i = 0; i < n; i++) {
		struct virtq_desc d = {
			.addr = htole64(bufs[i].gpa),
			.len = htole32(bufs[i].len),
			.flags = htole16((bufs[i].writable ? VIRTQ_DESC_F_WRITE : 0) |
					 (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0)),
			.next = htole16(i + 1 < n ? i + 1 : 0),
		};
		vmock_write(m, table + i * sizeof(d), &d, sizeof(d));
	}
	*head = q->next_desc;
	vmock_desc_write(m, qi, *head, table, n * sizeof(struct virtq_desc), VIRTQ_DESC_F_INDIRECT, 0);
	q->next_desc = (q->next_desc + 1) & (q->size - 1);
}

void vmock_avail_push(struct vmock *m, unsigned int qi, uint16_t head)
{
	struct vmock_queue *q = mq(m, qi);

	w16(m, q->avail + VIRTQ_AVAIL_OFF_RING(q->avail_idx & (q->size - 1)), head);
	q->avail_idx++;
	w16(m, q->avail + VIRTQ_AVAIL_OFF_IDX, q->avail_idx);
}

void vmock_avail_set_idx(struct vmock *m, unsigned int qi, uint16_t idx)
{
	struct vmock_queue *q = mq(m, qi);

	q->avail_idx = idx;
	w16(m, q->avail + VIRTQ_AVAIL_OFF_IDX, idx);
}

void vmock_avail_set_flags(struct vmock *m, unsigned int qi, uint16_t flags)
{
	w16(m, mq(m, qi)->avail + VIRTQ_AVAIL_OFF_FLAGS, flags);
}

void vmock_used_event_set(struct vmock *m, unsigned int qi, uint16_t v)
{
	struct vmock_queue *q = mq(m, qi);

	w16(m, q->avail + VIRTQ_AVAIL_OFF_USED_EVENT(q->size), v);
}

uint16_t vmock_avail_event(struct vmock *m, unsigned int qi)
{
	struct vmock_queue *q = mq(m, qi);

	return r16(m, q->used + VIRTQ_USED_OFF_AVAIL_EVENT(q->size));
}

uint16_t vmock_used_idx(struct vmock *m, unsigned int qi)
{
	return r16(m, mq(m, qi)->used + VIRTQ_USED_OFF_IDX);
}

int vmock_used_next(struct vmock *m, unsigned int qi, uint32_t *id, uint32_t *len)
{
	struct vmock_queue *q = mq(m, qi);
	struct virtq_used_elem e;

	if (vmock_used_idx(m, qi) == q->used_seen)
		return -EAGAIN;
	vmock_read(m, q->used + VIRTQ_USED_OFF_RING(q->used_seen & (q->size - 1)), &e, sizeof(e));
	q->used_seen++;
	*id = le32toh(e.id);
	*len = le32toh(e.len);
	return 0;
}

void vmock_attach(struct vmock *m, struct vmmio *t)
{
	m->mmio = t;
}

uint32_t vmock_reg_read(struct vmock *m, uint64_t off)
{
	uint32_t v;

	must(m->mmio != NULL, "no transport attached");
	vmmio_read(m->mmio, off, &v, 4);
	return v;
}

void vmock_reg_write(struct vmock *m, uint64_t off, uint32_t v)
{
	must(m->mmio != NULL, "no transport attached");
	vmmio_write(m->mmio, off, &v, 4);
}

uint64_t vmock_device_features(struct vmock *m)
{
	uint64_t f;

	vmock_reg_write(m, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	f = (uint64_t)vmock_reg_read(m, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	vmock_reg_write(m, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	return f | vmock_reg_read(m, VIRTIO_MMIO_DEVICE_FEATURES);
}

static int add_status(struct vmock *m, uint32_t bit)
{
	uint32_t s = vmock_reg_read(m, VIRTIO_MMIO_STATUS);

	vmock_reg_write(m, VIRTIO_MMIO_STATUS, s | bit);
	s = vmock_reg_read(m, VIRTIO_MMIO_STATUS);
	return (s & bit) && !(s & VIRTIO_STATUS_DEVICE_NEEDS_RESET) ? 0 : -EPROTO;
}

static void queue_program(struct vmock *m, unsigned int qi, uint16_t qsize)
{
	struct vmock_queue *q;
	uint16_t max;

	vmock_reg_write(m, VIRTIO_MMIO_QUEUE_SEL, qi);
	max = vmock_reg_read(m, VIRTIO_MMIO_QUEUE_NUM_MAX);
	vmock_queue_setup(m, qi, qsize ? qsize : max);
	q = &m->q[qi];
	vmock_reg_write(m, VIRTIO_MMIO_QUEUE_NUM, q->size);
	vmock_reg_write(m, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)q->desc);
	vmock_reg_write(m, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(q->desc >> 32));
	vmock_reg_write(m, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)q->avail);
	vmock_reg_write(m, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(q->avail >> 32));
	vmock_reg_write(m, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)q->used);
	vmock_reg_write(m, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(q->used >> 32));
	vmock_reg_write(m, VIRTIO_MMIO_QUEUE_READY, 1);
}

int vmock_negotiate(struct vmock *m, uint64_t features, unsigned int nr_queues, uint16_t qsize)
{
	unsigned int i;

	if (vmock_reg_read(m, VIRTIO_MMIO_MAGIC_VALUE) != VIRTIO_MMIO_MAGIC ||
	    vmock_reg_read(m, VIRTIO_MMIO_VERSION) != VIRTIO_MMIO_VERSION_MODERN)
		return -EPROTO;
	vmock_reg_write(m, VIRTIO_MMIO_STATUS, 0);
	if (add_status(m, VIRTIO_STATUS_ACKNOWLEDGE) || add_status(m, VIRTIO_STATUS_DRIVER))
		return -EPROTO;
	features &= vmock_device_features(m);
	vmock_reg_write(m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	vmock_reg_write(m, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
	vmock_reg_write(m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	vmock_reg_write(m, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
	if (add_status(m, VIRTIO_STATUS_FEATURES_OK))
		return -EPROTO;
	for (i = 0; i < nr_queues; i++)
		queue_program(m, i, qsize);
	return add_status(m, VIRTIO_STATUS_DRIVER_OK);
}

void vmock_notify(struct vmock *m, unsigned int qi)
{
	vmock_reg_write(m, VIRTIO_MMIO_QUEUE_NOTIFY, qi);
}

static int vmock_loop_watch(void *opaque, int fd, uint32_t events, uint32_t token)
{
	struct vmock_loop *l = opaque;
	int ret = l->fail_watch;

	l->fail_watch = 0;
	if (ret)
		return ret;
	l->fd = fd;
	l->events = events;
	l->token = token;
	l->watches++;
	return 0;
}

static void vmock_loop_unwatch(void *opaque, int fd)
{
	struct vmock_loop *l = opaque;

	if (fd == l->fd) {
		l->fd = -1;
		l->unwatches++;
	}
}

struct dev_event_loop vmock_event_loop(struct vmock_loop *l)
{
	return (struct dev_event_loop){ .watch = vmock_loop_watch, .unwatch = vmock_loop_unwatch, .opaque = l };
}
