/*
 * virtio-mmio device status machine: legal transitions, feature check at
 * FEATURES_OK, activation at DRIVER_OK, reset at 0, and the virtio_irq the
 * device signals through.  See virtio_mmio.h.
 */
#include <errno.h>
#include <string.h>

#include "devices/virtio/virtio_mmio_priv.h"
#include "vmm/log/log.h"

#define S_ACK  VIRTIO_STATUS_ACKNOWLEDGE
#define S_DRV  VIRTIO_STATUS_DRIVER
#define S_FEAT VIRTIO_STATUS_FEATURES_OK
#define S_OK   VIRTIO_STATUS_DRIVER_OK

void vmmio_note(struct vmmio *t, const char *what, uint64_t v)
{
	if (!atomic_exchange(&t->warned, true))
		LOG_WARN("virtio-mmio (device %u): %s 0x%llx (further driver errors at debug level)",
			 t->info.device_id, what, (unsigned long long)v);
	else
		LOG_DEBUG("virtio-mmio (device %u): %s 0x%llx", t->info.device_id, what, (unsigned long long)v);
}

void vmmio_signal(struct vmmio *t, uint32_t isr)
{
	if (isr & VIRTIO_ISR_CONFIG)
		atomic_fetch_add(&t->config_generation, 1);
	atomic_fetch_or(&t->isr, isr);
	__atomic_fetch_add(&t->metrics.interrupts, 1, __ATOMIC_RELAXED);
	irq_line_pulse(&t->irq);
}

static void irq_signal(void *opaque, uint32_t isr)
{
	isr &= VIRTIO_ISR_USED | VIRTIO_ISR_CONFIG;
	if (isr)
		vmmio_signal(opaque, isr);
}

static void irq_needs_reset(void *opaque)
{
	struct vmmio *t = opaque;
	/* Called without the transport lock: status is only read, atomically;
	 * a DRIVER_OK seen late just means the driver learns of the reset from
	 * the status register rather than from an interrupt. */
	uint32_t status = __atomic_load_n(&t->status, __ATOMIC_RELAXED);

	if (atomic_exchange(&t->needs_reset, true))
		return;
	__atomic_fetch_add(&t->metrics.needs_reset, 1, __ATOMIC_RELAXED);
	vmmio_note(t, "device needs reset, status", status);
	if (status & S_OK)
		vmmio_signal(t, VIRTIO_ISR_CONFIG);
}

struct virtio_irq vmmio_irq(struct vmmio *t)
{
	return (struct virtio_irq){ .signal = irq_signal, .needs_reset = irq_needs_reset, .opaque = t };
}

void vmmio_reset_locked(struct vmmio *t)
{
	unsigned int i;

	if (t->active)
		t->ops->reset(t->dev);
	t->active = false;
	for (i = 0; i < t->info.nr_queues; i++)
		virtq_reset(&t->queues[i]);
	vmmio_status_set(t, 0);
	t->device_features_sel = 0;
	t->driver_features_sel = 0;
	t->driver_features = 0;
	t->queue_sel = 0;
	atomic_store(&t->isr, 0);
	atomic_store(&t->needs_reset, false);
}

int vmmio_activate_locked(struct vmmio *t)
{
	struct virtio_activation act = {
		.mem = t->mem,
		.queues = t->queues,
		.nr_queues = t->info.nr_queues,
		.features = t->driver_features,
		.irq = vmmio_irq(t),
	};
	unsigned int i;
	int ret;

	for (i = 0; i < t->info.nr_queues; i++) {
		struct virtq *q = &t->queues[i];

		if (!q->ready)
			continue;
		ret = virtq_activate(q, t->mem, t->driver_features);
		if (ret) {
			vmmio_note(t, "invalid queue at DRIVER_OK, queue", i);
			goto err;
		}
	}
	ret = t->ops->activate(t->dev, &act);
	if (ret) {
		vmmio_note(t, "device refused activation, error", (uint64_t)-ret);
		goto err;
	}
	t->active = true;
	return 0;
err:
	for (i = 0; i < t->info.nr_queues; i++)
		t->queues[i].active = false;
	return ret;
}

/* FEATURES_OK: only offered features, and the modern interface. */
static bool features_acceptable(const struct vmmio *t)
{
	return !(t->driver_features & ~t->info.features) &&
	       (t->driver_features & VIRTIO_FEATURE(VIRTIO_F_VERSION_1));
}

static void driver_ok(struct vmmio *t)
{
	vmmio_status_set(t, t->status | S_OK);
	if (vmmio_activate_locked(t)) {
		t->metrics.activate_failed++;
		atomic_store(&t->needs_reset, true);
		vmmio_signal(t, VIRTIO_ISR_CONFIG);
		return;
	}
	/* The first activation says which features the driver took (what a
	 * test asks of a guest kernel that prints nothing); re-activations after
	 * resets only at debug level, so a hostile driver cannot flood the log. */
	if (!t->metrics.activations++)
		LOG_INFO("virtio-mmio (device %u): driver ready, features 0x%llx", t->info.device_id,
			 (unsigned long long)t->driver_features);
	else
		LOG_DEBUG("virtio-mmio (device %u): driver ready again, features 0x%llx", t->info.device_id,
			  (unsigned long long)t->driver_features);
}

void vmmio_status_write(struct vmmio *t, uint32_t v)
{
	uint32_t cur = t->status;

	v &= ~VIRTIO_STATUS_DEVICE_NEEDS_RESET; /* the device's bit, not the driver's */
	if (v == 0) {
		vmmio_reset_locked(t);
		return;
	}
	if (v == cur)
		return;
	if (v == (cur | VIRTIO_STATUS_FAILED)) {
		vmmio_status_set(t, v);
		return;
	}
	if (cur & VIRTIO_STATUS_FAILED)
		goto bad;
	if (cur == 0 && v == S_ACK) {
		vmmio_status_set(t, v);
	} else if (cur == S_ACK && v == (S_ACK | S_DRV)) {
		vmmio_status_set(t, v);
	} else if (cur == (S_ACK | S_DRV) && v == (S_ACK | S_DRV | S_FEAT)) {
		if (!features_acceptable(t)) {
			t->metrics.features_refused++;
			vmmio_note(t, "FEATURES_OK refused, driver features", t->driver_features);
			return;
		}
		vmmio_status_set(t, v);
	} else if (cur == (S_ACK | S_DRV | S_FEAT) && v == (S_ACK | S_DRV | S_FEAT | S_OK)) {
		driver_ok(t);
	} else {
		goto bad;
	}
	return;
bad:
	t->metrics.bad_status++;
	vmmio_note(t, "illegal status transition to", v);
}
