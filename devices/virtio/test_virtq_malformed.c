/* Split virtqueue against a malicious driver: every malformed ring or chain is
 * refused with its error, breaks the queue until reset, and never reaches
 * outside guest memory. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "devices/virtio/virtio_mock.h"
#include "devices/virtio/virtq.h"

#define QSIZE 16
#define INDIRECT VIRTIO_FEATURE(VIRTIO_F_RING_INDIRECT_DESC)

static struct vmock m;
static struct virtq q;
static struct virtq_chain c;
static uint64_t buf;

static void setup(void)
{
	cr_assert_eq(vmock_init(&m, VMOCK_RAM_GPA, VMOCK_RAM_SIZE), 0);
	vmock_queue_setup(&m, 0, QSIZE);
	cr_assert_eq(virtq_init(&q, QSIZE), 0);
	vmock_queue_config(&m, 0, &q);
	cr_assert_eq(virtq_activate(&q, &m.mem, INDIRECT), 0);
	buf = vmock_alloc(&m, 4096, 16);
}

static void teardown(void)
{
	vmock_destroy(&m);
}

TestSuite(virtq_malformed, .init = setup, .fini = teardown);

/* Publishes head and expects pop to fail with err and break the queue. */
static void expect_broken(uint16_t head, int err)
{
	vmock_avail_push(&m, 0, head);
	cr_assert_eq(virtq_pop(&q, &c), err);
	cr_assert(virtq_is_broken(&q));
	cr_assert_eq(virtq_pop(&q, &c), -EIO, "a broken queue stays broken");
	cr_assert_eq(q.last_avail, 0, "the bad chain is not consumed");
}

static void desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	vmock_desc_write(&m, 0, i, addr, len, flags, next);
}

static uint64_t table(const struct virtq_desc *t, unsigned int n)
{
	uint64_t gpa = vmock_alloc(&m, n * sizeof(*t), 16);

	vmock_write(&m, gpa, t, n * sizeof(*t));
	return gpa;
}

Test(virtq_malformed, address_outside_guest_memory)
{
	desc(0, 0x1000, 16, 0, 0);
	expect_broken(0, -EFAULT);
}

Test(virtq_malformed, address_plus_length_wraps)
{
	desc(0, 0xfffffffffffffff0ULL, 0x20, 0, 0);
	expect_broken(0, -EFAULT);
}

Test(virtq_malformed, buffer_runs_past_the_end_of_ram)
{
	desc(0, VMOCK_RAM_GPA + VMOCK_RAM_SIZE - 8, 16, 0, 0);
	expect_broken(0, -EFAULT);
}

Test(virtq_malformed, second_buffer_bad)
{
	desc(0, buf, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(1, VMOCK_RAM_GPA + VMOCK_RAM_SIZE, 1, VIRTQ_DESC_F_WRITE, 0);
	expect_broken(0, -EFAULT);
}

Test(virtq_malformed, zero_length)
{
	desc(0, buf, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(1, buf, 0, VIRTQ_DESC_F_WRITE, 0);
	expect_broken(0, -EINVAL);
}

Test(virtq_malformed, readable_after_writable)
{
	desc(0, buf, 16, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	desc(1, buf, 16, 0, 0);
	expect_broken(0, -EINVAL);
}

Test(virtq_malformed, self_loop)
{
	desc(3, buf, 16, VIRTQ_DESC_F_NEXT, 3);
	expect_broken(3, -ELOOP);
}

Test(virtq_malformed, loop_through_the_table)
{
	desc(0, buf, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(1, buf, 16, VIRTQ_DESC_F_NEXT, 2);
	desc(2, buf, 16, VIRTQ_DESC_F_NEXT, 0);
	expect_broken(0, -ELOOP);
}

Test(virtq_malformed, loop_of_writable_descriptors)
{
	/* Nothing else fails first: only the hop budget stops it. */
	desc(0, buf, 1, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	desc(1, buf, 1, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 0);
	expect_broken(0, -ELOOP);
}

Test(virtq_malformed, next_beyond_the_table)
{
	desc(0, buf, 16, VIRTQ_DESC_F_NEXT, QSIZE);
	expect_broken(0, -EINVAL);
}

Test(virtq_malformed, head_beyond_the_table)
{
	expect_broken(QSIZE + 3, -EINVAL);
}

Test(virtq_malformed, avail_idx_jumps_more_than_size)
{
	desc(0, buf, 16, 0, 0);
	vmock_avail_set_idx(&m, 0, QSIZE + 1);
	cr_assert_eq(virtq_pop(&q, &c), -EINVAL);
	cr_assert(virtq_is_broken(&q));
}

Test(virtq_malformed, avail_idx_jump_of_exactly_size_is_fine)
{
	for (int i = 0; i < QSIZE; i++)
		desc(i, buf, 16, 0, 0);
	vmock_avail_set_idx(&m, 0, QSIZE);
	for (int i = 0; i < QSIZE; i++)
		cr_assert_eq(virtq_pop(&q, &c), 0);
	cr_assert_eq(virtq_pop(&q, &c), -EAGAIN);
}

Test(virtq_malformed, more_chains_offered_than_the_ring_holds)
{
	/* The device holds all QSIZE chains (none pushed back yet); one more
	 * is impossible for an honest driver. */
	for (int i = 0; i < QSIZE; i++) {
		desc(i, buf, 16, 0, 0);
		vmock_avail_push(&m, 0, i);
		cr_assert_eq(virtq_pop(&q, &c), 0);
	}
	vmock_avail_push(&m, 0, 0);
	cr_assert_eq(virtq_pop(&q, &c), -EINVAL);
	cr_assert(virtq_is_broken(&q));
}

Test(virtq_malformed, ring_reused_after_push_is_fine)
{
	for (int i = 0; i < 3 * QSIZE; i++) {
		desc(i % QSIZE, buf, 16, 0, 0);
		vmock_avail_push(&m, 0, i % QSIZE);
		cr_assert_eq(virtq_pop(&q, &c), 0);
		cr_assert_eq(virtq_push(&q, c.head, 0), 0);
	}
}

Test(virtq_malformed, avail_idx_going_backwards)
{
	/* idx moving back looks like a jump of almost 65536. */
	desc(0, buf, 16, 0, 0);
	vmock_avail_push(&m, 0, 0);
	cr_assert_eq(virtq_pop(&q, &c), 0);
	vmock_avail_set_idx(&m, 0, 0);
	cr_assert_eq(virtq_pop(&q, &c), -EINVAL);
}

Test(virtq_malformed, too_many_bytes)
{
	/* Two descriptors of 3 GiB exceed the 4 GiB chain limit.  The region is
	 * never dereferenced by pop, only range-checked. */
	cr_assert_eq(gmem_add_region(&m.mem, 0x100000000ULL, 0xc0000000ULL, m.ram), 0);
	desc(0, 0x100000000ULL, 0xc0000000u, VIRTQ_DESC_F_NEXT, 1);
	desc(1, 0x100000000ULL, 0xc0000000u, 0, 0);
	expect_broken(0, -E2BIG);
}

Test(virtq_malformed, indirect_without_the_feature)
{
	struct virtq_desc t[1] = { { .addr = buf, .len = 16 } };

	cr_assert_eq(virtq_activate(&q, &m.mem, 0), 0);
	desc(0, table(t, 1), 16, VIRTQ_DESC_F_INDIRECT, 0);
	expect_broken(0, -EINVAL);
}

Test(virtq_malformed, indirect_with_next)
{
	struct virtq_desc t[1] = { { .addr = buf, .len = 16 } };

	desc(0, table(t, 1), 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	desc(1, buf, 16, VIRTQ_DESC_F_WRITE, 0);
	expect_broken(0, -EINVAL);
}

Test(virtq_malformed, indirect_inside_indirect)
{
	struct virtq_desc inner[1] = { { .addr = buf, .len = 16 } };
	struct virtq_desc outer[2] = {
		{ .addr = buf, .len = 16, .flags = VIRTQ_DESC_F_NEXT, .next = 1 },
		{ .addr = 0, .len = 16, .flags = VIRTQ_DESC_F_INDIRECT },
	};

	outer[1].addr = table(inner, 1);
	desc(0, table(outer, 2), sizeof(outer), VIRTQ_DESC_F_INDIRECT, 0);
	expect_broken(0, -EINVAL);
}

Test(virtq_malformed, indirect_length_not_a_multiple_of_16)
{
	struct virtq_desc t[2] = { { .addr = buf, .len = 16 }, { 0 } };

	desc(0, table(t, 2), 24, VIRTQ_DESC_F_INDIRECT, 0);
	expect_broken(0, -EINVAL);
}

Test(virtq_malformed, indirect_length_zero)
{
	desc(0, buf, 0, VIRTQ_DESC_F_INDIRECT, 0);
	expect_broken(0, -EINVAL);
}

Test(virtq_malformed, indirect_table_larger_than_the_queue)
{
	desc(0, buf, (QSIZE + 1) * 16, VIRTQ_DESC_F_INDIRECT, 0);
	expect_broken(0, -E2BIG);
}

Test(virtq_malformed, indirect_table_outside_memory)
{
	desc(0, VMOCK_RAM_GPA + VMOCK_RAM_SIZE - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
	expect_broken(0, -EFAULT);
}

Test(virtq_malformed, indirect_loop)
{
	struct virtq_desc t[2] = {
		{ .addr = buf, .len = 16, .flags = VIRTQ_DESC_F_NEXT, .next = 1 },
		{ .addr = buf, .len = 16, .flags = VIRTQ_DESC_F_NEXT, .next = 0 },
	};

	desc(0, table(t, 2), sizeof(t), VIRTQ_DESC_F_INDIRECT, 0);
	expect_broken(0, -ELOOP);
}

Test(virtq_malformed, indirect_next_beyond_the_table)
{
	struct virtq_desc t[2] = {
		{ .addr = buf, .len = 16, .flags = VIRTQ_DESC_F_NEXT, .next = 2 },
		{ .addr = buf, .len = 16 },
	};

	desc(0, table(t, 2), sizeof(t), VIRTQ_DESC_F_INDIRECT, 0);
	expect_broken(0, -EINVAL);
}

Test(virtq_malformed, indirect_entry_bad_address)
{
	struct virtq_desc t[1] = { { .addr = 0x10, .len = 16 } };

	desc(0, table(t, 1), sizeof(t), VIRTQ_DESC_F_INDIRECT, 0);
	expect_broken(0, -EFAULT);
}

Test(virtq_malformed, direct_plus_indirect_longer_than_the_queue)
{
	struct virtq_desc t[QSIZE];

	for (int i = 0; i < QSIZE; i++)
		t[i] = (struct virtq_desc){ .addr = buf, .len = 1, .flags = i + 1 < QSIZE ? VIRTQ_DESC_F_NEXT : 0,
					    .next = i + 1 };
	desc(0, buf, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(1, table(t, QSIZE), sizeof(t), VIRTQ_DESC_F_INDIRECT, 0);
	expect_broken(0, -E2BIG);
}

Test(virtq_malformed, chain_is_a_copy)
{
	desc(0, buf, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(1, buf + 16, 1, VIRTQ_DESC_F_WRITE, 0);
	vmock_avail_push(&m, 0, 0);
	cr_assert_eq(virtq_pop(&q, &c), 0);
	/* The driver rewrites the descriptors after the device took them. */
	desc(0, 0, 0xffffffff, VIRTQ_DESC_F_NEXT, 0);
	desc(1, 0, 0, 0, 0);
	cr_assert_eq(c.bufs[0].addr, buf);
	cr_assert_eq(c.bufs[0].len, 16);
	cr_assert_eq(c.bufs[1].addr, buf + 16);
	cr_assert(c.bufs[1].writable);
}

Test(virtq_malformed, reset_recovers_a_broken_queue)
{
	struct virtq_desc good = { .addr = buf, .len = 16 };

	desc(0, 0, 16, 0, 0);
	expect_broken(0, -EFAULT);
	virtq_reset(&q);
	vmock_queue_setup(&m, 0, QSIZE);
	vmock_queue_config(&m, 0, &q);
	cr_assert_eq(virtq_activate(&q, &m.mem, INDIRECT), 0);
	cr_assert_not(virtq_is_broken(&q));
	desc(0, good.addr, good.len, 0, 0);
	vmock_avail_push(&m, 0, 0);
	cr_assert_eq(virtq_pop(&q, &c), 0);
}
