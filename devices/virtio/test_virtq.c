/* Split virtqueue, well-formed use: activation checks, direct, indirect and
 * mixed chains, iovec and copy helpers, the used ring, index wrap, reset and
 * snapshots.  The malformed cases are in test_virtq_malformed.c. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "devices/virtio/virtio_mock.h"
#include "devices/virtio/virtq.h"

#define QSIZE 16
#define ALL_RING (VIRTIO_FEATURE(VIRTIO_F_RING_INDIRECT_DESC) | VIRTIO_FEATURE(VIRTIO_F_RING_EVENT_IDX))

static struct vmock m;
static struct virtq q;
static struct virtq_chain c;

static void setup(void)
{
	cr_assert_eq(vmock_init(&m, VMOCK_RAM_GPA, VMOCK_RAM_SIZE), 0);
	vmock_queue_setup(&m, 0, QSIZE);
	cr_assert_eq(virtq_init(&q, 256), 0);
	vmock_queue_config(&m, 0, &q);
	cr_assert_eq(virtq_activate(&q, &m.mem, ALL_RING), 0);
}

static void teardown(void)
{
	vmock_destroy(&m);
}

TestSuite(virtq, .init = setup, .fini = teardown);

Test(virtq, init_refuses_bad_max_size)
{
	struct virtq t;

	cr_assert_eq(virtq_init(&t, 0), -EINVAL);
	cr_assert_eq(virtq_init(&t, 100), -EINVAL);
	cr_assert_eq(virtq_init(&t, 512), -EINVAL);
	cr_assert_eq(virtq_init(&t, 1), 0);
	cr_assert_eq(t.size, 1, "QueueNum defaults to QueueNumMax");
}

Test(virtq, activation_checks_configuration)
{
	struct virtq t;

	cr_assert_eq(virtq_init(&t, 64), 0);
	vmock_queue_config(&m, 0, &t);
	t.ready = false;
	cr_assert_eq(virtq_activate(&t, &m.mem, 0), -EINVAL, "not ready");
	t.ready = true;
	t.size = 0;
	cr_assert_eq(virtq_activate(&t, &m.mem, 0), -EINVAL, "size 0");
	t.size = 12;
	cr_assert_eq(virtq_activate(&t, &m.mem, 0), -EINVAL, "not a power of two");
	t.size = 128;
	cr_assert_eq(virtq_activate(&t, &m.mem, 0), -EINVAL, "above QueueNumMax");
	t.size = QSIZE;
	t.desc_gpa += 8;
	cr_assert_eq(virtq_activate(&t, &m.mem, 0), -EINVAL, "desc not 16-aligned");
	t.desc_gpa -= 8;
	t.avail_gpa += 1;
	cr_assert_eq(virtq_activate(&t, &m.mem, 0), -EINVAL, "avail not 2-aligned");
	t.avail_gpa -= 1;
	t.used_gpa += 2;
	cr_assert_eq(virtq_activate(&t, &m.mem, 0), -EINVAL, "used not 4-aligned");
	t.used_gpa -= 2;
	t.used_gpa = VMOCK_RAM_GPA + VMOCK_RAM_SIZE - 16;
	cr_assert_eq(virtq_activate(&t, &m.mem, 0), -EFAULT, "used ring runs past RAM");
	t.desc_gpa = 0;
	cr_assert_eq(virtq_activate(&t, &m.mem, 0), -EFAULT, "desc table outside RAM");
	cr_assert_not(virtq_is_active(&t));
	cr_assert_eq(virtq_pop(&t, &c), -EIO, "an inactive queue pops nothing");
}

Test(virtq, empty_queue_pops_nothing)
{
	cr_assert_eq(virtq_pop(&q, &c), -EAGAIN);
	cr_assert_not(virtq_is_broken(&q));
}

Test(virtq, direct_chain_readable_then_writable)
{
	uint64_t a = vmock_alloc(&m, 16, 8), b = vmock_alloc(&m, 512, 8), s = vmock_alloc(&m, 1, 1);
	struct vmock_buf bufs[] = { { a, 16, false }, { b, 512, true }, { s, 1, true } };
	uint16_t head;

	vmock_chain_add(&m, 0, bufs, 3, &head);
	vmock_avail_push(&m, 0, head);
	cr_assert_eq(virtq_pop(&q, &c), 0);
	cr_assert_eq(c.head, head);
	cr_assert_eq(c.nr_bufs, 3);
	cr_assert_eq(c.nr_readable, 1);
	cr_assert_eq(c.readable_len, 16);
	cr_assert_eq(c.writable_len, 513);
	cr_assert_not(c.indirect);
	cr_assert_eq(c.bufs[0].addr, a);
	cr_assert(c.bufs[1].writable && c.bufs[2].writable && !c.bufs[0].writable);
	cr_assert_eq(virtq_pop(&q, &c), -EAGAIN, "one chain, popped once");
}

Test(virtq, single_descriptor_chains_of_each_kind)
{
	uint64_t a = vmock_alloc(&m, 64, 8);
	struct vmock_buf r = { a, 64, false }, w = { a, 64, true };
	uint16_t h1, h2;

	vmock_chain_add(&m, 0, &r, 1, &h1);
	vmock_chain_add(&m, 0, &w, 1, &h2);
	vmock_avail_push(&m, 0, h1);
	vmock_avail_push(&m, 0, h2);
	cr_assert_eq(virtq_pop(&q, &c), 0);
	cr_assert_eq(c.nr_readable, 1);
	cr_assert_eq(c.writable_len, 0);
	cr_assert_eq(virtq_pop(&q, &c), 0);
	cr_assert_eq(c.nr_readable, 0);
	cr_assert_eq(c.writable_len, 64);
}

Test(virtq, indirect_chain)
{
	uint64_t a = vmock_alloc(&m, 16, 8), b = vmock_alloc(&m, 4096, 8), s = vmock_alloc(&m, 1, 1);
	struct vmock_buf bufs[] = { { a, 16, false }, { b, 4096, false }, { s, 1, true } };
	uint16_t head;

	vmock_chain_add_indirect(&m, 0, bufs, 3, &head);
	vmock_avail_push(&m, 0, head);
	cr_assert_eq(virtq_pop(&q, &c), 0);
	cr_assert(c.indirect);
	cr_assert_eq(c.nr_bufs, 3);
	cr_assert_eq(c.nr_readable, 2);
	cr_assert_eq(c.readable_len, 4112);
	cr_assert_eq(c.writable_len, 1);
	cr_assert_eq(c.bufs[1].addr, b);
}

Test(virtq, direct_descriptors_then_one_indirect_table)
{
	/* "zero or more normal chained descriptors followed by a single
	 * descriptor with VIRTQ_DESC_F_INDIRECT" is valid (2.7.5.3.2). */
	uint64_t hdr = vmock_alloc(&m, 16, 8), data = vmock_alloc(&m, 512, 8), st = vmock_alloc(&m, 1, 1);
	uint64_t table = vmock_alloc(&m, 32, 16);
	struct virtq_desc t[2] = {
		{ .addr = data, .len = 512, .flags = VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, .next = 1 },
		{ .addr = st, .len = 1, .flags = VIRTQ_DESC_F_WRITE },
	};

	vmock_write(&m, table, t, sizeof(t));
	vmock_desc_write(&m, 0, 5, hdr, 16, VIRTQ_DESC_F_NEXT, 9);
	/* The WRITE flag on the table descriptor itself must be ignored. */
	vmock_desc_write(&m, 0, 9, table, 32, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE, 0);
	vmock_avail_push(&m, 0, 5);
	cr_assert_eq(virtq_pop(&q, &c), 0);
	cr_assert_eq(c.head, 5);
	cr_assert_eq(c.nr_bufs, 3);
	cr_assert_eq(c.nr_readable, 1);
	cr_assert_eq(c.writable_len, 513);
}

Test(virtq, longest_chain_is_queue_size)
{
	uint64_t a = vmock_alloc(&m, QSIZE, 1);
	struct vmock_buf bufs[QSIZE];
	uint16_t head;

	for (int i = 0; i < QSIZE; i++)
		bufs[i] = (struct vmock_buf){ a + i, 1, i >= QSIZE / 2 };
	vmock_chain_add(&m, 0, bufs, QSIZE, &head);
	vmock_avail_push(&m, 0, head);
	cr_assert_eq(virtq_pop(&q, &c), 0);
	cr_assert_eq(c.nr_bufs, QSIZE);
	cr_assert_eq(c.nr_readable, QSIZE / 2);
}

Test(virtq, iovec_and_copies_span_buffers)
{
	uint64_t a = vmock_alloc(&m, 10, 1), b = vmock_alloc(&m, 20, 1), w1 = vmock_alloc(&m, 7, 1),
		 w2 = vmock_alloc(&m, 9, 1);
	struct vmock_buf bufs[] = { { a, 10, false }, { b, 20, false }, { w1, 7, true }, { w2, 9, true } };
	uint8_t src[30], dst[30], out[16], back[16];
	struct iovec iov[4];
	uint16_t head;
	int n;

	for (int i = 0; i < 30; i++)
		src[i] = (uint8_t)(i * 7 + 1);
	vmock_write(&m, a, src, 10);
	vmock_write(&m, b, src + 10, 20);
	vmock_chain_add(&m, 0, bufs, 4, &head);
	vmock_avail_push(&m, 0, head);
	cr_assert_eq(virtq_pop(&q, &c), 0);

	cr_assert_eq(virtq_chain_read(&c, &m.mem, 0, dst, 30), 0);
	cr_assert_eq(memcmp(src, dst, 30), 0);
	cr_assert_eq(virtq_chain_read(&c, &m.mem, 8, dst, 5), 0);
	cr_assert_eq(memcmp(src + 8, dst, 5), 0, "a read across the buffer boundary");
	cr_assert_eq(virtq_chain_read(&c, &m.mem, 26, dst, 5), -EINVAL, "past the readable part");
	cr_assert_eq(virtq_chain_read(&c, &m.mem, 31, dst, 0), -EINVAL, "offset past the end");

	n = virtq_chain_to_iovec(&c, &m.mem, VIRTQ_DEV_READ, 5, 20, iov, 4);
	cr_assert_eq(n, 2);
	cr_assert_eq(iov[0].iov_base, vmock_host(&m, a + 5, 5));
	cr_assert_eq(iov[0].iov_len, 5);
	cr_assert_eq(iov[1].iov_len, 15);
	cr_assert_eq(virtq_chain_to_iovec(&c, &m.mem, VIRTQ_DEV_READ, 0, 30, iov, 1), -ENOSPC);
	cr_assert_eq(virtq_chain_to_iovec(&c, &m.mem, VIRTQ_DEV_READ, 0, 0, iov, 4), 0);

	for (int i = 0; i < 16; i++)
		out[i] = (uint8_t)(0xa0 + i);
	cr_assert_eq(virtq_chain_write(&c, &m.mem, 0, out, 16), 0);
	vmock_read(&m, w1, back, 7);
	vmock_read(&m, w2, back + 7, 9);
	cr_assert_eq(memcmp(out, back, 16), 0);
	cr_assert_eq(virtq_chain_write(&c, &m.mem, 15, out, 2), -EINVAL, "past the writable part");
	n = virtq_chain_to_iovec(&c, &m.mem, VIRTQ_DEV_WRITE, 6, 2, iov, 4);
	cr_assert_eq(n, 2);
	cr_assert_eq(iov[0].iov_base, vmock_host(&m, w1 + 6, 1));
	cr_assert_eq(iov[1].iov_base, vmock_host(&m, w2, 1));
}

Test(virtq, push_publishes_used_elements_in_order)
{
	uint64_t a = vmock_alloc(&m, 8, 8);
	struct vmock_buf b = { a, 8, true };
	uint16_t h[3];
	uint32_t id, len;

	for (int i = 0; i < 3; i++) {
		vmock_chain_add(&m, 0, &b, 1, &h[i]);
		vmock_avail_push(&m, 0, h[i]);
	}
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(virtq_pop(&q, &c), 0);
		cr_assert_eq(virtq_push(&q, c.head, 8 - i), 0);
	}
	cr_assert_eq(vmock_used_idx(&m, 0), 3);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(vmock_used_next(&m, 0, &id, &len), 0);
		cr_assert_eq(id, h[i]);
		cr_assert_eq(len, (uint32_t)(8 - i));
	}
	cr_assert_eq(virtq_push(&q, 0, 0), -EINVAL, "nothing in flight");
	cr_assert_eq(virtq_push(&q, QSIZE, 0), -EINVAL, "head beyond the table");
}

Test(virtq, indices_wrap_at_65536)
{
	uint64_t a = vmock_alloc(&m, 8, 8);
	struct vmock_buf b = { a, 8, false };
	uint16_t head;
	uint32_t id, len;

	vmock_chain_add(&m, 0, &b, 1, &head);
	/* Start both sides just below the wrap. */
	q.last_avail = q.next_used = q.signalled_used = 65534;
	m.q[0].used_seen = 65534;
	vmock_avail_set_idx(&m, 0, 65534);
	for (int i = 0; i < 4; i++) {
		vmock_avail_push(&m, 0, head);
		cr_assert_eq(virtq_pop(&q, &c), 0, "round %d", i);
		cr_assert_eq(virtq_push(&q, c.head, 0), 0);
		cr_assert_eq(vmock_used_next(&m, 0, &id, &len), 0);
		cr_assert_eq(id, head);
	}
	cr_assert_eq(q.last_avail, 2);
	cr_assert_eq(vmock_used_idx(&m, 0), 2);
}

Test(virtq, full_ring_of_chains)
{
	uint64_t a = vmock_alloc(&m, 8, 8);
	struct vmock_buf b = { a, 8, false };
	uint16_t head;

	for (int i = 0; i < QSIZE; i++) {
		vmock_chain_add(&m, 0, &b, 1, &head);
		vmock_avail_push(&m, 0, head);
	}
	for (int i = 0; i < QSIZE; i++)
		cr_assert_eq(virtq_pop(&q, &c), 0);
	cr_assert_eq(virtq_pop(&q, &c), -EAGAIN);
}

Test(virtq, reset_then_reactivate)
{
	uint64_t a = vmock_alloc(&m, 8, 8);
	struct vmock_buf b = { a, 8, false };
	uint16_t head;

	vmock_chain_add(&m, 0, &b, 1, &head);
	vmock_avail_push(&m, 0, head);
	cr_assert_eq(virtq_pop(&q, &c), 0);
	virtq_reset(&q);
	cr_assert_not(virtq_is_active(&q));
	cr_assert_eq(q.size, 256);
	cr_assert_eq(q.last_avail, 0);
	cr_assert_eq(virtq_pop(&q, &c), -EIO);

	/* The driver lays the queue out again from scratch. */
	vmock_queue_setup(&m, 0, 8);
	vmock_queue_config(&m, 0, &q);
	cr_assert_eq(virtq_activate(&q, &m.mem, 0), 0);
	vmock_chain_add(&m, 0, &b, 1, &head);
	vmock_avail_push(&m, 0, head);
	cr_assert_eq(virtq_pop(&q, &c), 0);
	cr_assert_eq(virtq_push(&q, c.head, 0), 0);
}

Test(virtq, save_restore_round_trip)
{
	uint64_t a = vmock_alloc(&m, 8, 8);
	struct vmock_buf b = { a, 8, false };
	struct virtq_state st;
	struct virtq r;
	uint16_t head;

	for (int i = 0; i < 3; i++) {
		vmock_chain_add(&m, 0, &b, 1, &head);
		vmock_avail_push(&m, 0, head);
	}
	cr_assert_eq(virtq_pop(&q, &c), 0);
	cr_assert_eq(virtq_push(&q, c.head, 0), 0);
	cr_assert_eq(virtq_pop(&q, &c), 0);
	virtq_save(&q, &st);

	cr_assert_eq(virtq_init(&r, 256), 0);
	cr_assert_eq(virtq_restore(&r, &st), 0);
	cr_assert_eq(virtq_activate(&r, &m.mem, ALL_RING), 0);
	cr_assert_eq(r.last_avail, 2);
	cr_assert_eq(r.next_used, 1);
	cr_assert_eq(virtq_push(&r, c.head, 0), 0, "the chain in flight at save completes");
	cr_assert_eq(virtq_pop(&r, &c), 0, "the third chain is still there");
	cr_assert_eq(virtq_pop(&r, &c), -EAGAIN);
}

Test(virtq, restored_state_is_checked_before_use)
{
	struct virtq_state st, bad;
	struct virtq r;

	virtq_save(&q, &st);
	cr_assert_eq(virtq_init(&r, 256), 0);
	bad = st;
	bad.ready = 7;
	cr_assert_eq(virtq_restore(&r, &bad), -EINVAL);
	cr_assert_eq(r.size, 256, "refused restore leaves the queue untouched");

	bad = st;
	bad.size = 24;
	cr_assert_eq(virtq_restore(&r, &bad), 0, "a driver may have written this");
	cr_assert_eq(virtq_activate(&r, &m.mem, 0), -EINVAL, "not a power of two");
	bad.size = 512;
	cr_assert_eq(virtq_restore(&r, &bad), 0);
	cr_assert_eq(virtq_activate(&r, &m.mem, 0), -EINVAL, "above max");
	bad = st;
	bad.last_avail = 40;
	bad.next_used = 3;
	cr_assert_eq(virtq_restore(&r, &bad), 0);
	cr_assert_eq(virtq_activate(&r, &m.mem, 0), -EINVAL, "more in flight than the ring holds");
	bad = st;
	bad.used_gpa = 2;
	cr_assert_eq(virtq_restore(&r, &bad), 0);
	cr_assert_eq(virtq_activate(&r, &m.mem, 0), -EINVAL, "misaligned used ring");
	cr_assert_not(virtq_is_active(&r));
	cr_assert_eq(virtq_restore(&r, &st), 0);
	cr_assert_eq(virtq_activate(&r, &m.mem, 0), 0);
}

/* Dirty tracking (gmem.h): which guest pages does the queue say it wrote? */
static bool page_dirty(const uint64_t *bits, uint64_t gpa)
{
	uint64_t p = (gpa - VMOCK_RAM_GPA) / GMEM_DIRTY_PAGE;

	return bits[p / 64] >> (p % 64) & 1;
}

Test(virtq, marks_every_page_it_writes_dirty)
{
	uint64_t rd = vmock_alloc(&m, 4096, 4096), wr = vmock_alloc(&m, 8192, 4096), wr2 = vmock_alloc(&m, 4096, 4096);
	struct vmock_buf bufs[] = { { rd, 100, false }, { wr + 4000, 200, true } };
	struct vmock_buf bufs2[] = { { wr2 + 16, 8, true } };
	uint64_t bits[VMOCK_RAM_SIZE / GMEM_DIRTY_PAGE / 64] = { 0 };
	struct iovec iov[4];
	uint16_t head;

	cr_assert_eq(gmem_dirty_enable(&m.mem), 0);
	vmock_chain_add(&m, 0, bufs, 2, &head);
	vmock_avail_push(&m, 0, head);
	cr_assert_eq(gmem_dirty_take(&m.mem, 0, bits), 0); /* the mock driver's own writes */
	memset(bits, 0, sizeof(bits));
	cr_assert_eq(virtq_pop(&q, &c), 0);
	cr_assert_eq(gmem_dirty_take(&m.mem, 0, bits), 0);
	for (unsigned int i = 0; i < ARRAY_SIZE(bits); i++)
		cr_assert_eq(bits[i], 0, "popping only reads");

	cr_assert_eq(virtq_chain_to_iovec(&c, &m.mem, VIRTQ_DEV_READ, 0, 100, iov, 4), 1);
	cr_assert_eq(gmem_dirty_take(&m.mem, 0, bits), 0);
	cr_assert_not(page_dirty(bits, rd), "a readable buffer is not marked");
	cr_assert_eq(virtq_chain_to_iovec(&c, &m.mem, VIRTQ_DEV_WRITE, 0, 200, iov, 4), 1);
	cr_assert_eq(gmem_dirty_take(&m.mem, 0, bits), 0);
	cr_assert(page_dirty(bits, wr) && page_dirty(bits, wr + 4096), "a writable buffer across two pages");
	cr_assert_not(page_dirty(bits, q.used_gpa), "nothing pushed yet");

	memset(bits, 0, sizeof(bits));
	cr_assert_eq(virtq_push(&q, c.head, 200), 0);
	cr_assert_eq(gmem_dirty_take(&m.mem, 0, bits), 0);
	cr_assert(page_dirty(bits, q.used_gpa), "the used ring, written through the activation's pointer");
	cr_assert_not(page_dirty(bits, wr));

	vmock_chain_add(&m, 0, bufs2, 1, &head);
	vmock_avail_push(&m, 0, head);
	cr_assert_eq(gmem_dirty_take(&m.mem, 0, bits), 0);
	memset(bits, 0, sizeof(bits));
	cr_assert_eq(virtq_pop(&q, &c), 0);
	cr_assert_eq(virtq_chain_write(&c, &m.mem, 0, "12345678", 8), 0);
	virtq_notify_enable(&q);
	cr_assert_eq(gmem_dirty_take(&m.mem, 0, bits), 0);
	cr_assert(page_dirty(bits, wr2), "virtq_chain_write");
	cr_assert(page_dirty(bits, q.used_gpa), "the avail_event store (EVENT_IDX)");
	gmem_dirty_disable(&m.mem);
}
