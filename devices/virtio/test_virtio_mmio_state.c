/* virtio-mmio snapshots: save/restore round trip into a fresh transport, and
 * restore treating the state as untrusted (bad queues, statuses, features). */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "devices/virtio/virtio_fakes.h"
#include "devices/virtio/virtio_mmio.h"
#include "devices/virtio/virtio_mock.h"

#define V1 VIRTIO_FEATURE(VIRTIO_F_VERSION_1)
#define EVT VIRTIO_FEATURE(VIRTIO_F_RING_EVENT_IDX)
#define ALL_OK                                                                                     \
	(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |            \
	 VIRTIO_STATUS_DRIVER_OK)

static struct vmock m;
static struct vmmio t, t2;
static struct vfake_dev dev, dev2;
static struct vfake_irq irq, irq2;
static struct vmmio_state st;
static uint64_t buf;

static void send(unsigned int qi, unsigned int n)
{
	struct vmock_buf b = { buf, 8, true };
	uint16_t head;

	for (unsigned int i = 0; i < n; i++) {
		vmock_chain_add(&m, qi, &b, 1, &head);
		vmock_avail_push(&m, qi, head);
	}
}

static void setup(void)
{
	struct irq_line l1 = vfake_irq_line(&irq), l2 = vfake_irq_line(&irq2);

	memset(&dev, 0, sizeof(dev));
	memset(&dev2, 0, sizeof(dev2));
	memset(&irq, 0, sizeof(irq));
	memset(&irq2, 0, sizeof(irq2));
	dev.nr_queues = dev2.nr_queues = 2;
	dev.queue_max = dev2.queue_max = 16;
	cr_assert_eq(vmock_init(&m, VMOCK_RAM_GPA, VMOCK_RAM_SIZE), 0);
	cr_assert_eq(vmmio_init(&t, &vfake_ops, &dev, &m.mem, &l1), 0);
	cr_assert_eq(vmmio_init(&t2, &vfake_ops, &dev2, &m.mem, &l2), 0);
	vmock_attach(&m, &t);
	cr_assert_eq(vmock_negotiate(&m, V1 | EVT, 2, 0), 0);
	buf = vmock_alloc(&m, 8, 8);
	send(0, 3);
	vmock_notify(&m, 0); /* the device drains all three */
	vmmio_save(&t, &st);
}

static void teardown(void)
{
	vmmio_destroy(&t2);
	vmmio_destroy(&t);
	vmock_destroy(&m);
}

TestSuite(vmmio_state, .init = setup, .fini = teardown);

Test(vmmio_state, save_captures_the_transport)
{
	cr_assert_eq(st.status, ALL_OK);
	cr_assert_eq(st.driver_features, V1 | EVT);
	cr_assert_eq(st.nr_queues, 2);
	cr_assert_eq(st.isr, VIRTIO_ISR_USED);
	cr_assert_eq(st.queues[0].ready, 1);
	cr_assert_eq(st.queues[0].last_avail, 3);
	cr_assert_eq(st.queues[0].next_used, 3);
	cr_assert_eq(st.queues[0].desc_gpa, m.q[0].desc);
}

Test(vmmio_state, round_trip_into_a_fresh_transport)
{
	struct vmmio_state again;
	uint32_t id, len;

	cr_assert_eq(vmmio_restore(&t2, &st), 0);
	cr_assert_eq(dev2.activations, 1);
	cr_assert_eq(dev2.act.features, V1 | EVT);
	cr_assert_eq(irq2.raises, 1, "pending isr re-driven");
	vmmio_save(&t2, &again);
	cr_assert_eq(memcmp(&st, &again, sizeof(st)), 0);

	/* The restored device carries on where the first one stopped. */
	vmock_attach(&m, &t2);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(vmock_used_next(&m, 0, &id, &len), 0);
	send(0, 2);
	vmock_notify(&m, 0);
	cr_assert_eq(dev2.popped, 2);
	cr_assert_eq(vmock_used_idx(&m, 0), 5);
}

Test(vmmio_state, restore_over_an_active_device_resets_it_first)
{
	cr_assert_eq(vmmio_restore(&t, &st), 0);
	cr_assert_eq(dev.resets, 1);
	cr_assert_eq(dev.activations, 2);
}

Test(vmmio_state, restore_before_driver_ok_does_not_activate)
{
	st.status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;
	st.queues[0].desc_gpa = 3; /* checked only at DRIVER_OK */
	st.queues[1].size = 16;    /* above QueueNumMax, as a driver may write */
	cr_assert_eq(vmmio_restore(&t2, &st), 0);
	cr_assert_eq(dev2.activations, 0);
	cr_assert_eq(vmmio_status(&t2), st.status);
}

Test(vmmio_state, restore_of_a_broken_device_stays_inert)
{
	st.status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
	st.queues[0].used_gpa = 0; /* whatever broke it */
	cr_assert_eq(vmmio_restore(&t2, &st), 0);
	cr_assert_eq(dev2.activations, 0);
	cr_assert_eq(vmmio_status(&t2), st.status);
}

/* A bad state is refused and leaves the target as it was. */
static void refused(void)
{
	struct vmmio_state before, after;

	vmmio_save(&t, &before);
	cr_assert_eq(vmmio_restore(&t, &st), -EINVAL);
	vmmio_save(&t, &after);
	cr_assert_eq(memcmp(&before, &after, sizeof(before)), 0);
	cr_assert_eq(dev.resets, 0);
	cr_assert_eq(dev.activations, 1);
}

Test(vmmio_state, refuses_ring_outside_memory)
{
	st.queues[0].used_gpa = VMOCK_RAM_GPA + VMOCK_RAM_SIZE - 8;
	refused();
}

Test(vmmio_state, refuses_misaligned_ring)
{
	st.queues[1].desc_gpa += 4;
	refused();
}

Test(vmmio_state, refuses_bad_queue_size)
{
	st.queues[0].size = 12;
	refused();
}

Test(vmmio_state, refuses_queue_above_max)
{
	st.queues[1].size = 16; /* queue 1's QueueNumMax is 8 */
	refused();
}

Test(vmmio_state, refuses_too_many_in_flight)
{
	st.queues[0].last_avail = st.queues[0].next_used + 17;
	refused();
}

Test(vmmio_state, refuses_unreachable_status)
{
	st.status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER_OK;
	refused();
}

Test(vmmio_state, refuses_undefined_status_bits)
{
	st.status |= 0x20;
	refused();
}

Test(vmmio_state, keeps_needs_reset_before_driver_ok)
{
	st.status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DEVICE_NEEDS_RESET;
	cr_assert_eq(vmmio_restore(&t2, &st), 0);
	cr_assert_eq(vmmio_status(&t2), st.status);
	cr_assert_eq(dev2.activations, 0);
}

Test(vmmio_state, refuses_features_not_offered)
{
	st.driver_features |= VIRTIO_FEATURE(7);
	refused();
}

Test(vmmio_state, any_driver_features_before_features_ok)
{
	st.status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
	st.driver_features = ~0ULL; /* written, then FEATURES_OK refused */
	cr_assert_eq(vmmio_restore(&t2, &st), 0);
}

Test(vmmio_state, refuses_features_ok_without_version_1)
{
	st.driver_features &= ~V1;
	refused();
}

Test(vmmio_state, refuses_undefined_isr_bits)
{
	st.isr = 4;
	refused();
}

Test(vmmio_state, refuses_other_queue_count)
{
	st.nr_queues = 3;
	refused();
}

Test(vmmio_state, device_refusing_leaves_the_transport_reset)
{
	dev2.refuse = -ENODEV;
	cr_assert_eq(vmmio_restore(&t2, &st), -ENODEV);
	cr_assert_eq(vmmio_status(&t2), 0);
	cr_assert_not(t2.queues[0].ready);
}
