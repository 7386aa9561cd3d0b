/* virtio-mmio register file and status machine, driven by the mock driver
 * against a fake device: identification, negotiation, illegal transitions,
 * ignored writes, queue selection, activation, interrupts, config space,
 * reset and re-activation. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "devices/virtio/virtio_fakes.h"
#include "devices/virtio/virtio_mmio.h"
#include "devices/virtio/virtio_mock.h"

#define ACK  VIRTIO_STATUS_ACKNOWLEDGE
#define DRV  VIRTIO_STATUS_DRIVER
#define FEAT VIRTIO_STATUS_FEATURES_OK
#define OK   VIRTIO_STATUS_DRIVER_OK
#define V1   VIRTIO_FEATURE(VIRTIO_F_VERSION_1)

static struct vmock m;
static struct vmmio t;
static struct vfake_dev dev;
static struct vfake_irq irq;

static void setup(void)
{
	struct irq_line line = vfake_irq_line(&irq);

	memset(&dev, 0, sizeof(dev));
	memset(&irq, 0, sizeof(irq));
	dev.nr_queues = 2;
	dev.queue_max = 16;
	cr_assert_eq(vmock_init(&m, VMOCK_RAM_GPA, VMOCK_RAM_SIZE), 0);
	cr_assert_eq(vmmio_init(&t, &vfake_ops, &dev, &m.mem, &line), 0);
	vmock_attach(&m, &t);
}

static void teardown(void)
{
	vmmio_destroy(&t);
	vmock_destroy(&m);
}

TestSuite(vmmio, .init = setup, .fini = teardown);

static uint32_t rd(uint64_t off)
{
	return vmock_reg_read(&m, off);
}

static void wr(uint64_t off, uint32_t v)
{
	vmock_reg_write(&m, off, v);
}

static uint32_t status(void)
{
	return rd(VIRTIO_MMIO_STATUS);
}

/* Up to FEATURES_OK with features f. */
static void to_features_ok(uint64_t f)
{
	wr(VIRTIO_MMIO_STATUS, ACK);
	wr(VIRTIO_MMIO_STATUS, ACK | DRV);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
	wr(VIRTIO_MMIO_STATUS, ACK | DRV | FEAT);
	cr_assert_eq(status(), ACK | DRV | FEAT);
}

Test(vmmio, init_refuses_bad_devices)
{
	struct vmmio u;
	struct irq_line line = vfake_irq_line(&irq);
	struct vfake_dev d = { .nr_queues = 0, .queue_max = 16 };

	cr_assert_eq(vmmio_init(&u, &vfake_ops, &d, &m.mem, &line), -EINVAL, "no queues");
	d.nr_queues = VIRTIO_MAX_QUEUES + 1;
	cr_assert_eq(vmmio_init(&u, &vfake_ops, &d, &m.mem, &line), -EINVAL, "too many queues");
	d.nr_queues = 1;
	d.queue_max = 24;
	cr_assert_eq(vmmio_init(&u, &vfake_ops, &d, &m.mem, &line), -EINVAL, "queue size");
	d.queue_max = 512;
	cr_assert_eq(vmmio_init(&u, &vfake_ops, &d, &m.mem, &line), -EINVAL, "queue size");
	d.queue_max = 16;
	cr_assert_eq(vmmio_init(&u, &vfake_ops, &d, &m.mem, NULL), -EINVAL, "no irq");
	cr_assert_eq(vmmio_init(&u, NULL, &d, &m.mem, &line), -EINVAL, "no ops");
}

Test(vmmio, identification)
{
	cr_assert_eq(rd(VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	cr_assert_eq(rd(VIRTIO_MMIO_VERSION), 2);
	cr_assert_eq(rd(VIRTIO_MMIO_DEVICE_ID), VFAKE_DEVICE_ID);
	cr_assert_eq(rd(VIRTIO_MMIO_VENDOR_ID), 0);
	cr_assert_eq(vmock_device_features(&m), VFAKE_FEATURES);
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
	cr_assert_eq(rd(VIRTIO_MMIO_DEVICE_FEATURES), 0);
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0xffffffff);
	cr_assert_eq(rd(VIRTIO_MMIO_DEVICE_FEATURES), 0);
	cr_assert_eq(status(), 0);
	cr_assert_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	cr_assert_eq(rd(VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffff, "no shared memory");
	cr_assert_eq(rd(VIRTIO_MMIO_SHM_BASE_HIGH), 0xffffffff);
	cr_assert_eq(rd(VIRTIO_MMIO_QUEUE_RESET), 0);
}

Test(vmmio, only_aligned_32bit_register_accesses)
{
	uint8_t b = 0x5a;
	uint16_t h = 0x5a5a;
	uint64_t q = 0x5a5a5a5a5a5a5a5aULL;
	struct vmmio_metrics mt;

	vmmio_read(&t, VIRTIO_MMIO_MAGIC_VALUE, &b, 1);
	cr_assert_eq(b, 0);
	vmmio_read(&t, VIRTIO_MMIO_MAGIC_VALUE, &h, 2);
	cr_assert_eq(h, 0);
	vmmio_read(&t, VIRTIO_MMIO_MAGIC_VALUE, &q, 8);
	cr_assert_eq(q, 0);
	vmmio_read(&t, VIRTIO_MMIO_MAGIC_VALUE + 1, &q, 4);
	b = ACK;
	vmmio_write(&t, VIRTIO_MMIO_STATUS, &b, 1);
	cr_assert_eq(status(), 0, "a byte write to Status does nothing");
	vmmio_metrics_get(&t, &mt);
	cr_assert_eq(mt.bad_access, 5);
	cr_assert_eq(rd(0x0f0), 0, "unknown register");
	wr(VIRTIO_MMIO_MAGIC_VALUE, 0);
	cr_assert_eq(rd(VIRTIO_MMIO_MAGIC_VALUE), 0x74726976, "read-only register");
}

Test(vmmio, full_negotiation_activates_the_device)
{
	cr_assert_eq(vmock_negotiate(&m, V1 | VIRTIO_FEATURE(VIRTIO_F_RING_EVENT_IDX), 2, 0), 0);
	cr_assert_eq(status(), ACK | DRV | FEAT | OK);
	cr_assert_eq(dev.activations, 1);
	cr_assert_eq(dev.act.nr_queues, 2);
	cr_assert_eq(dev.act.features, V1 | VIRTIO_FEATURE(VIRTIO_F_RING_EVENT_IDX));
	cr_assert_eq(dev.act.mem, &m.mem);
	cr_assert(virtq_is_active(&dev.act.queues[0]));
	cr_assert(virtq_is_active(&dev.act.queues[1]));
	cr_assert_eq(dev.act.queues[0].size, 16);
	cr_assert_eq(dev.act.queues[1].size, 8, "QueueNumMax of queue 1");
	cr_assert(dev.act.queues[0].event_idx);
}

Test(vmmio, illegal_status_transitions_are_ignored)
{
	struct vmmio_metrics mt;

	wr(VIRTIO_MMIO_STATUS, DRV);
	cr_assert_eq(status(), 0, "DRIVER before ACKNOWLEDGE");
	wr(VIRTIO_MMIO_STATUS, ACK | DRV);
	cr_assert_eq(status(), 0, "two bits at once");
	wr(VIRTIO_MMIO_STATUS, ACK);
	wr(VIRTIO_MMIO_STATUS, ACK | FEAT);
	cr_assert_eq(status(), ACK, "FEATURES_OK before DRIVER");
	wr(VIRTIO_MMIO_STATUS, ACK | OK);
	cr_assert_eq(status(), ACK, "DRIVER_OK before DRIVER");
	wr(VIRTIO_MMIO_STATUS, ACK | DRV);
	wr(VIRTIO_MMIO_STATUS, ACK | DRV | OK);
	cr_assert_eq(status(), ACK | DRV, "DRIVER_OK without FEATURES_OK (legacy)");
	wr(VIRTIO_MMIO_STATUS, ACK);
	cr_assert_eq(status(), ACK | DRV, "bits cannot be cleared but by reset");
	wr(VIRTIO_MMIO_STATUS, ACK | DRV | 0x10);
	cr_assert_eq(status(), ACK | DRV, "undefined bit");
	cr_assert_eq(dev.activations, 0);
	vmmio_metrics_get(&t, &mt);
	cr_assert_eq(mt.bad_status, 7);
}

Test(vmmio, failed_is_sticky_until_reset)
{
	wr(VIRTIO_MMIO_STATUS, ACK);
	wr(VIRTIO_MMIO_STATUS, ACK | VIRTIO_STATUS_FAILED);
	cr_assert_eq(status(), ACK | VIRTIO_STATUS_FAILED);
	wr(VIRTIO_MMIO_STATUS, ACK | DRV | VIRTIO_STATUS_FAILED);
	cr_assert_eq(status(), ACK | VIRTIO_STATUS_FAILED);
	wr(VIRTIO_MMIO_STATUS, 0);
	cr_assert_eq(status(), 0);
	wr(VIRTIO_MMIO_STATUS, ACK);
	cr_assert_eq(status(), ACK);
}

Test(vmmio, features_not_offered_refuse_features_ok)
{
	wr(VIRTIO_MMIO_STATUS, ACK);
	wr(VIRTIO_MMIO_STATUS, ACK | DRV);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 1u << 7); /* not offered */
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 1); /* VERSION_1 */
	wr(VIRTIO_MMIO_STATUS, ACK | DRV | FEAT);
	cr_assert_eq(status(), ACK | DRV, "FEATURES_OK must read back clear");

	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 1u << 5);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 0);
	wr(VIRTIO_MMIO_STATUS, ACK | DRV | FEAT);
	cr_assert_eq(status(), ACK | DRV, "VERSION_1 is mandatory");

	wr(VIRTIO_MMIO_DRIVER_FEATURES, 1);
	wr(VIRTIO_MMIO_STATUS, ACK | DRV | FEAT);
	cr_assert_eq(status(), ACK | DRV | FEAT);
}

Test(vmmio, driver_features_only_between_driver_and_features_ok)
{
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 1);
	wr(VIRTIO_MMIO_STATUS, ACK);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 1);
	wr(VIRTIO_MMIO_STATUS, ACK | DRV);
	wr(VIRTIO_MMIO_STATUS, ACK | DRV | FEAT);
	cr_assert_eq(status(), ACK | DRV, "earlier writes did not count");
	to_features_ok(V1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 1u << 5);
	cr_assert_eq(t.driver_features, V1, "no change after FEATURES_OK");
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 2);
	cr_assert_eq(t.driver_features, V1);
}

Test(vmmio, queue_select_out_of_range)
{
	to_features_ok(V1);
	wr(VIRTIO_MMIO_QUEUE_SEL, 2);
	cr_assert_eq(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), 0, "no such queue");
	cr_assert_eq(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	wr(VIRTIO_MMIO_QUEUE_NUM, 4);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	wr(VIRTIO_MMIO_QUEUE_SEL, 0xffffffff);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	wr(VIRTIO_MMIO_QUEUE_SEL, 0x80000000);
	wr(VIRTIO_MMIO_QUEUE_NUM, 4);
	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		cr_assert_not(t.queues[i].ready, "queue %u", i);
		cr_assert_eq(t.queues[i].desc_gpa, 0);
	}
	cr_assert_eq(t.queues[0].size, 16);
	cr_assert_eq(t.queues[1].size, 8);
	wr(VIRTIO_MMIO_QUEUE_SEL, 1);
	cr_assert_eq(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), 8);
}

Test(vmmio, queue_writes_need_features_ok)
{
	wr(VIRTIO_MMIO_STATUS, ACK);
	wr(VIRTIO_MMIO_STATUS, ACK | DRV);
	wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(VIRTIO_MMIO_QUEUE_NUM, 4);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	cr_assert_eq(t.queues[0].size, 16);
	cr_assert_eq(t.queues[0].desc_gpa, 0);
	cr_assert_not(t.queues[0].ready);
}

Test(vmmio, queue_writes_after_driver_ok_are_ignored)
{
	struct virtq before;

	cr_assert_eq(vmock_negotiate(&m, V1, 2, 0), 0);
	before = t.queues[0];
	wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(VIRTIO_MMIO_QUEUE_READY, 0);
	wr(VIRTIO_MMIO_QUEUE_NUM, 2);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, 0);
	wr(VIRTIO_MMIO_QUEUE_DRIVER_HIGH, 0xdead);
	wr(VIRTIO_MMIO_QUEUE_DEVICE_LOW, 4);
	cr_assert_eq(memcmp(&before, &t.queues[0], sizeof(before)), 0);
	cr_assert_eq(rd(VIRTIO_MMIO_QUEUE_READY), 1);
}

Test(vmmio, queue_config_frozen_while_ready)
{
	to_features_ok(V1);
	wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(VIRTIO_MMIO_QUEUE_NUM, 8);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, 0x2000);
	wr(VIRTIO_MMIO_QUEUE_DESC_HIGH, 0x1);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	wr(VIRTIO_MMIO_QUEUE_NUM, 4);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, 0x3000);
	cr_assert_eq(t.queues[0].size, 8);
	cr_assert_eq(t.queues[0].desc_gpa, 0x100002000ULL);
	wr(VIRTIO_MMIO_QUEUE_READY, 0);
	wr(VIRTIO_MMIO_QUEUE_NUM, 4);
	cr_assert_eq(t.queues[0].size, 4, "writable again once not ready");
}

Test(vmmio, invalid_queue_at_driver_ok_needs_reset)
{
	to_features_ok(V1);
	wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(VIRTIO_MMIO_QUEUE_NUM, 16);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)VMOCK_RAM_GPA + 8); /* not 16-aligned */
	wr(VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)VMOCK_RAM_GPA + 0x1000);
	wr(VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)VMOCK_RAM_GPA + 0x2000);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	wr(VIRTIO_MMIO_STATUS, ACK | DRV | FEAT | OK);
	cr_assert_eq(status(), ACK | DRV | FEAT | OK | VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	cr_assert_eq(dev.activations, 0);
	cr_assert_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_ISR_CONFIG);
	cr_assert_eq(irq.raises, 1);
	cr_assert_not(virtq_is_active(&t.queues[0]));
	vmock_notify(&m, 0);
	cr_assert_eq(dev.notifies[0], 0, "no notify to an inactive device");
}

Test(vmmio, queue_size_checked_at_driver_ok)
{
	to_features_ok(V1);
	vmock_queue_setup(&m, 0, 16);
	wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(VIRTIO_MMIO_QUEUE_NUM, 0x10010); /* beyond 16 bits */
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)m.q[0].desc);
	wr(VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)m.q[0].avail);
	wr(VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)m.q[0].used);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	wr(VIRTIO_MMIO_STATUS, ACK | DRV | FEAT | OK);
	cr_assert(status() & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

Test(vmmio, device_refusing_activation_needs_reset)
{
	dev.refuse = -EINVAL;
	cr_assert_eq(vmock_negotiate(&m, V1, 2, 0), -EPROTO);
	cr_assert(status() & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	cr_assert_eq(dev.resets, 0, "never activated, never reset");
}

Test(vmmio, notify_reaches_the_device_and_interrupts)
{
	uint64_t a = vmock_alloc(&m, 8, 8);
	struct vmock_buf b = { a, 8, true };
	uint16_t head;
	uint32_t id, len;

	cr_assert_eq(vmock_negotiate(&m, V1, 2, 0), 0);
	vmock_chain_add(&m, 1, &b, 1, &head);
	vmock_avail_push(&m, 1, head);
	vmock_notify(&m, 1);
	cr_assert_eq(dev.notifies[1], 1);
	cr_assert_eq(dev.popped, 1);
	cr_assert_eq(vmock_used_next(&m, 1, &id, &len), 0);
	cr_assert_eq(id, head);
	cr_assert_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_ISR_USED);
	cr_assert_eq(irq.raises, 1);
	cr_assert_eq(irq.level, 0, "edge: raised then lowered");
	wr(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_ISR_USED);
	cr_assert_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);

	vmock_notify(&m, 2);
	vmock_notify(&m, 0xffff);
	cr_assert_eq(dev.notifies[0] + dev.notifies[1], 1, "no such queue: ignored");
}

Test(vmmio, notify_before_driver_ok_is_ignored)
{
	to_features_ok(V1);
	vmock_notify(&m, 0);
	cr_assert_eq(dev.notifies[0], 0);
}

Test(vmmio, notify_for_a_queue_left_unready_is_ignored)
{
	to_features_ok(V1);
	vmock_queue_setup(&m, 0, 16);
	wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)m.q[0].desc);
	wr(VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)m.q[0].avail);
	wr(VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)m.q[0].used);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	wr(VIRTIO_MMIO_STATUS, ACK | DRV | FEAT | OK);
	cr_assert_eq(dev.activations, 1, "queue 1 may stay unused");
	vmock_notify(&m, 1);
	cr_assert_eq(dev.notifies[1], 0);
	vmock_notify(&m, 0);
	cr_assert_eq(dev.notifies[0], 1);
}

Test(vmmio, malformed_chain_sets_needs_reset_and_signals_config)
{
	uint32_t gen;

	cr_assert_eq(vmock_negotiate(&m, V1, 2, 0), 0);
	gen = rd(VIRTIO_MMIO_CONFIG_GENERATION);
	vmock_desc_write(&m, 0, 0, 0, 16, 0, 0); /* address 0: outside RAM */
	vmock_avail_push(&m, 0, 0);
	vmock_notify(&m, 0);
	cr_assert_eq(dev.errors, 1);
	cr_assert(status() & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	cr_assert(rd(VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_ISR_CONFIG);
	cr_assert_neq(rd(VIRTIO_MMIO_CONFIG_GENERATION), gen);
	wr(VIRTIO_MMIO_STATUS, 0);
	cr_assert_eq(status(), 0, "reset clears DEVICE_NEEDS_RESET");
	cr_assert_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
}

Test(vmmio, driver_cannot_set_needs_reset)
{
	wr(VIRTIO_MMIO_STATUS, ACK | VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	cr_assert_eq(status(), ACK);
}

Test(vmmio, config_space)
{
	uint32_t v = 0xffffffff;
	uint8_t b;

	memcpy(dev.config, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	vmmio_read(&t, VIRTIO_MMIO_CONFIG, &v, 4);
	cr_assert_eq(v, 0, "not before DRIVER");
	wr(VIRTIO_MMIO_STATUS, ACK);
	wr(VIRTIO_MMIO_STATUS, ACK | DRV);
	vmmio_read(&t, VIRTIO_MMIO_CONFIG + 2, &v, 4);
	cr_assert_eq(v, 0x06050403);
	vmmio_read(&t, VIRTIO_MMIO_CONFIG + 6, &v, 4);
	cr_assert_eq(v, 0x00000807, "zero beyond the space");
	vmmio_read(&t, VIRTIO_MMIO_WINDOW - 1, &b, 1);
	cr_assert_eq(b, 0);
	b = 0xee;
	vmmio_write(&t, VIRTIO_MMIO_CONFIG + 7, &b, 1);
	cr_assert_eq(dev.config[7], 0xee);
	wr(VIRTIO_MMIO_STATUS, ACK | DRV | VIRTIO_STATUS_FAILED);
	vmmio_read(&t, VIRTIO_MMIO_CONFIG, &v, 4);
	cr_assert_eq(v, 0, "not after FAILED");
}

Test(vmmio, config_change_bumps_generation)
{
	struct virtio_irq vi = vmmio_irq(&t);
	uint32_t gen = rd(VIRTIO_MMIO_CONFIG_GENERATION);

	virtio_irq_signal(&vi, VIRTIO_ISR_CONFIG);
	cr_assert_eq(rd(VIRTIO_MMIO_CONFIG_GENERATION), gen + 1);
	cr_assert_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_ISR_CONFIG);
	virtio_irq_signal(&vi, VIRTIO_ISR_USED | 0x80);
	cr_assert_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_ISR_CONFIG | VIRTIO_ISR_USED, "undefined bits dropped");
	wr(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_ISR_CONFIG);
	cr_assert_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_ISR_USED);
	cr_assert_eq(irq.raises, 2);
}

Test(vmmio, reset_and_reactivation)
{
	uint64_t a = vmock_alloc(&m, 8, 8);
	struct vmock_buf b = { a, 8, true };
	uint16_t head;

	cr_assert_eq(vmock_negotiate(&m, V1, 2, 0), 0);
	wr(VIRTIO_MMIO_STATUS, 0);
	cr_assert_eq(dev.resets, 1);
	cr_assert_eq(status(), 0);
	for (unsigned int i = 0; i < 2; i++) {
		cr_assert_not(t.queues[i].ready);
		cr_assert_not(virtq_is_active(&t.queues[i]));
		cr_assert_eq(t.queues[i].desc_gpa, 0);
	}
	wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	cr_assert_eq(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	wr(VIRTIO_MMIO_STATUS, 0);
	cr_assert_eq(dev.resets, 1, "an inactive device is not reset again");

	cr_assert_eq(vmock_negotiate(&m, V1, 2, 4), 0);
	cr_assert_eq(dev.activations, 2);
	cr_assert_eq(dev.act.queues[0].size, 4);
	vmock_chain_add(&m, 0, &b, 1, &head);
	vmock_avail_push(&m, 0, head);
	vmock_notify(&m, 0);
	cr_assert_eq(dev.popped, 1, "the new rings are used from index 0");
}

Test(vmmio, destroy_resets_an_active_device)
{
	struct vmmio u;
	struct vfake_dev d = { .nr_queues = 1, .queue_max = 16 };
	struct irq_line line = vfake_irq_line(&irq);
	struct vmmio *saved = m.mmio;

	cr_assert_eq(vmmio_init(&u, &vfake_ops, &d, &m.mem, &line), 0);
	vmock_attach(&m, &u);
	cr_assert_eq(vmock_negotiate(&m, V1, 1, 0), 0);
	vmmio_destroy(&u);
	cr_assert_eq(d.resets, 1);
	vmock_attach(&m, saved);
}
