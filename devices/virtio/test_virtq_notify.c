/* Notification suppression both ways: used_event / VIRTQ_AVAIL_F_NO_INTERRUPT
 * for used-buffer interrupts, avail_event for the driver's kicks. */
#include <criterion/criterion.h>
#include <errno.h>

#include "devices/virtio/virtio_mock.h"
#include "devices/virtio/virtq.h"

#define QSIZE 16

static struct vmock m;
static struct virtq q;
static struct virtq_chain c;
static uint16_t head;

static void start(uint64_t features)
{
	uint64_t a;
	struct vmock_buf b;

	cr_assert_eq(vmock_init(&m, VMOCK_RAM_GPA, VMOCK_RAM_SIZE), 0);
	vmock_queue_setup(&m, 0, QSIZE);
	cr_assert_eq(virtq_init(&q, QSIZE), 0);
	vmock_queue_config(&m, 0, &q);
	cr_assert_eq(virtq_activate(&q, &m.mem, features), 0);
	a = vmock_alloc(&m, 8, 8);
	b = (struct vmock_buf){ a, 8, true };
	vmock_chain_add(&m, 0, &b, 1, &head);
}

static void start_event_idx(void)
{
	start(VIRTIO_FEATURE(VIRTIO_F_RING_EVENT_IDX));
}

static void start_plain(void)
{
	start(0);
}

static void teardown(void)
{
	vmock_destroy(&m);
}

/* The driver offers one chain; the device pops and pushes it. */
static void one_round_trip(void)
{
	vmock_avail_push(&m, 0, head);
	cr_assert_eq(virtq_pop(&q, &c), 0);
	cr_assert_eq(virtq_push(&q, c.head, 1), 0);
}

TestSuite(event_idx, .init = start_event_idx, .fini = teardown);
TestSuite(no_event_idx, .init = start_plain, .fini = teardown);

Test(event_idx, nothing_pushed_no_interrupt)
{
	cr_assert_not(virtq_needs_notify(&q));
}

Test(event_idx, used_event_zero_interrupts_after_the_first_buffer_only)
{
	/* used_event 0: "notify when used idx passes 0" (spec note 2.7.7.2). */
	vmock_used_event_set(&m, 0, 0);
	one_round_trip();
	cr_assert(virtq_needs_notify(&q));
	one_round_trip();
	cr_assert_not(virtq_needs_notify(&q), "used_event already passed");
	one_round_trip();
	cr_assert_not(virtq_needs_notify(&q));
}

Test(event_idx, used_event_ahead_suppresses_until_reached)
{
	vmock_used_event_set(&m, 0, 2); /* interrupt when entry 2 is used (idx 3) */
	one_round_trip();
	cr_assert_not(virtq_needs_notify(&q));
	one_round_trip();
	cr_assert_not(virtq_needs_notify(&q));
	one_round_trip();
	cr_assert(virtq_needs_notify(&q));
	one_round_trip();
	cr_assert_not(virtq_needs_notify(&q));
}

Test(event_idx, batch_crossing_used_event_interrupts_once)
{
	vmock_used_event_set(&m, 0, 1);
	for (int i = 0; i < 4; i++)
		one_round_trip();
	cr_assert(virtq_needs_notify(&q), "entry 1 is inside the batch 0..3");
	cr_assert_not(virtq_needs_notify(&q), "nothing new since");
}

Test(event_idx, no_interrupt_flag_is_ignored)
{
	vmock_avail_set_flags(&m, 0, VIRTQ_AVAIL_F_NO_INTERRUPT);
	vmock_used_event_set(&m, 0, 0);
	one_round_trip();
	cr_assert(virtq_needs_notify(&q), "with EVENT_IDX only used_event counts");
}

Test(event_idx, used_event_across_the_wrap)
{
	q.last_avail = q.next_used = q.signalled_used = 65535;
	m.q[0].used_seen = 65535;
	vmock_avail_set_idx(&m, 0, 65535);
	vmock_used_event_set(&m, 0, 0); /* entry 0 after the wrap: idx 65535 -> 0 -> 1 */
	one_round_trip();
	cr_assert_not(virtq_needs_notify(&q), "entry 65535 is not entry 0");
	one_round_trip();
	cr_assert(virtq_needs_notify(&q));
}

Test(event_idx, notify_enable_publishes_avail_event)
{
	one_round_trip();
	one_round_trip();
	cr_assert_not(virtq_notify_enable(&q), "nothing new");
	cr_assert_eq(vmock_avail_event(&m, 0), 2, "kick me when entry 2 is offered");
}

Test(event_idx, notify_enable_sees_late_buffers)
{
	one_round_trip();
	vmock_avail_push(&m, 0, head); /* arrives while the device was busy */
	cr_assert(virtq_notify_enable(&q), "caller must keep popping");
	cr_assert_eq(virtq_pop(&q, &c), 0);
}

Test(no_event_idx, interrupts_unless_driver_says_no)
{
	one_round_trip();
	cr_assert(virtq_needs_notify(&q));
	cr_assert_not(virtq_needs_notify(&q), "nothing pushed since the last decision");
	vmock_avail_set_flags(&m, 0, VIRTQ_AVAIL_F_NO_INTERRUPT);
	one_round_trip();
	cr_assert_not(virtq_needs_notify(&q));
	vmock_avail_set_flags(&m, 0, 0);
	one_round_trip();
	cr_assert(virtq_needs_notify(&q));
}

Test(no_event_idx, used_event_is_ignored)
{
	vmock_used_event_set(&m, 0, 100);
	one_round_trip();
	cr_assert(virtq_needs_notify(&q));
}

Test(no_event_idx, notify_enable_leaves_the_used_ring_alone)
{
	one_round_trip();
	cr_assert_not(virtq_notify_enable(&q));
	cr_assert_eq(vmock_avail_event(&m, 0), 0, "avail_event only with EVENT_IDX");
	vmock_avail_push(&m, 0, head);
	cr_assert(virtq_notify_enable(&q));
}
