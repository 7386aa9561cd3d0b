/* virtio-mmio snapshots: save, and a restore that treats the state as
 * untrusted input.  See virtio_mmio.h. */
#include <errno.h>
#include <string.h>

#include "devices/virtio/virtio_mmio_priv.h"

#define S_ACK  VIRTIO_STATUS_ACKNOWLEDGE
#define S_DRV  VIRTIO_STATUS_DRIVER
#define S_FEAT VIRTIO_STATUS_FEATURES_OK
#define S_OK   VIRTIO_STATUS_DRIVER_OK

void vmmio_save(struct vmmio *t, struct vmmio_state *st)
{
	unsigned int i;

	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&t->lock);
	st->status = vmmio_status(t);
	st->isr = atomic_load(&t->isr);
	st->config_generation = atomic_load(&t->config_generation);
	st->device_features_sel = t->device_features_sel;
	st->driver_features_sel = t->driver_features_sel;
	st->queue_sel = t->queue_sel;
	st->driver_features = t->driver_features;
	st->nr_queues = t->info.nr_queues;
	for (i = 0; i < t->info.nr_queues; i++)
		virtq_save(&t->queues[i], &st->queues[i]);
	pthread_mutex_unlock(&t->lock);
}

/* A status the machine in virtio_mmio_status.c can reach. */
static bool status_reachable(uint32_t status)
{
	uint32_t base = status & ~(VIRTIO_STATUS_FAILED | VIRTIO_STATUS_DEVICE_NEEDS_RESET);

	/* DEVICE_NEEDS_RESET may come with any status: a device can report an
	 * error state whenever it enters one. */
	if (status & ~(VMMIO_STATUS_MASK | VIRTIO_STATUS_DEVICE_NEEDS_RESET))
		return false;
	return base == 0 || base == S_ACK || base == (S_ACK | S_DRV) || base == (S_ACK | S_DRV | S_FEAT) ||
	       base == (S_ACK | S_DRV | S_FEAT | S_OK);
}

static bool wants_activation(uint32_t status)
{
	return (status & S_OK) && !(status & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

/* Everything but the device's own acceptance, on copies. */
static int state_check(struct vmmio *t, const struct vmmio_state *st)
{
	unsigned int i;

	if (st->nr_queues != t->info.nr_queues || !status_reachable(st->status) ||
	    (st->isr & ~(VIRTIO_ISR_USED | VIRTIO_ISR_CONFIG)))
		return -EINVAL;
	/* Before FEATURES_OK the driver may have written any bits. */
	if ((st->status & S_FEAT) && ((st->driver_features & ~t->info.features) ||
				      !(st->driver_features & VIRTIO_FEATURE(VIRTIO_F_VERSION_1))))
		return -EINVAL;
	for (i = 0; i < t->info.nr_queues; i++) {
		struct virtq q = t->queues[i];

		if (virtq_restore(&q, &st->queues[i]))
			return -EINVAL;
		if (wants_activation(st->status) && q.ready && virtq_activate(&q, t->mem, st->driver_features))
			return -EINVAL;
	}
	return 0;
}

int vmmio_restore(struct vmmio *t, const struct vmmio_state *st)
{
	struct vmmio_state s = *st; /* validate the copy we use */
	unsigned int i;
	int ret;

	pthread_mutex_lock(&t->lock);
	ret = state_check(t, &s);
	if (ret)
		goto out;
	vmmio_reset_locked(t);
	for (i = 0; i < t->info.nr_queues; i++)
		if (virtq_restore(&t->queues[i], &s.queues[i]))
			ret = -EINVAL; /* cannot happen: checked above */
	t->device_features_sel = s.device_features_sel;
	t->driver_features_sel = s.driver_features_sel;
	t->queue_sel = s.queue_sel;
	t->driver_features = s.driver_features;
	atomic_store(&t->config_generation, s.config_generation);
	vmmio_status_set(t, s.status & VMMIO_STATUS_MASK);
	atomic_store(&t->needs_reset, !!(s.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET));
	if (!ret && wants_activation(s.status))
		ret = vmmio_activate_locked(t);
	if (ret) {
		vmmio_reset_locked(t);
		goto out;
	}
	atomic_store(&t->isr, s.isr);
	if (s.isr)
		irq_line_pulse(&t->irq);
out:
	pthread_mutex_unlock(&t->lock);
	return ret;
}
