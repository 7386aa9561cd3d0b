/*
 * Test doubles for the virtio transport, shared by its unit tests and fuzz
 * target: an IRQ sink that counts pulses, and a fake device that records what
 * the transport asks of it, exposes a small config space and, on notify,
 * drains the queue (pop, push) like the simplest real device.  Not part of
 * any API.
 */
#ifndef KILN_VIRTIO_FAKES_H
#define KILN_VIRTIO_FAKES_H

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "devices/irq_line.h"
#include "devices/virtio/virtio_dev.h"
#include "devices/virtio/virtq.h"

struct vfake_irq {
	int level;
	unsigned int raises; /* rising edges */
};

static inline void vfake_irq_set(void *opaque, unsigned int gsi, int level)
{
	struct vfake_irq *f = opaque;

	if (level && !f->level)
		f->raises++;
	f->level = level;
}

static inline struct irq_line vfake_irq_line(struct vfake_irq *f)
{
	return (struct irq_line){ .set_level = vfake_irq_set, .opaque = f, .gsi = 5 };
}

#define VFAKE_DEVICE_ID 42
#define VFAKE_FEATURES                                                                        \
	(VIRTIO_FEATURE(VIRTIO_F_VERSION_1) | VIRTIO_FEATURE(VIRTIO_F_RING_EVENT_IDX) |     \
	 VIRTIO_FEATURE(VIRTIO_F_RING_INDIRECT_DESC) | VIRTIO_FEATURE(5))
#define VFAKE_CONFIG_SIZE 8

struct vfake_dev {
	unsigned int nr_queues;
	uint16_t queue_max;
	int refuse;                 /* activate returns this when non-zero */
	unsigned int activations;
	unsigned int resets;
	unsigned int notifies[VIRTIO_MAX_QUEUES];
	unsigned int popped, errors;
	int active;
	struct virtio_activation act;
	uint8_t config[VFAKE_CONFIG_SIZE];
	struct virtq_chain chain;
};

static inline void vfake_info(void *dev, struct virtio_dev_info *info)
{
	struct vfake_dev *d = dev;

	info->device_id = VFAKE_DEVICE_ID;
	info->features = VFAKE_FEATURES;
	info->nr_queues = d->nr_queues;
	for (unsigned int i = 0; i < d->nr_queues && i < VIRTIO_MAX_QUEUES; i++)
		info->queue_max[i] = (uint16_t)(d->queue_max >> i);
}

static inline int vfake_activate(void *dev, const struct virtio_activation *act)
{
	struct vfake_dev *d = dev;

	if (d->refuse)
		return d->refuse;
	d->activations++;
	d->act = *act;
	d->active = 1;
	return 0;
}

static inline void vfake_reset(void *dev)
{
	struct vfake_dev *d = dev;

	d->resets++;
	d->active = 0;
}

/* Drains the queue: every chain goes back with len 0; a bad one asks for a
 * reset, as a real device would. */
static inline void vfake_notify(void *dev, unsigned int queue)
{
	struct vfake_dev *d = dev;
	struct virtq *q = &d->act.queues[queue];
	int ret;

	d->notifies[queue]++;
	while ((ret = virtq_pop(q, &d->chain)) == 0) {
		d->popped++;
		if (virtq_push(q, d->chain.head, 0))
			break;
	}
	if (ret != -EAGAIN && ret) {
		d->errors++;
		virtio_irq_needs_reset(&d->act.irq);
	}
	if (virtq_needs_notify(q))
		virtio_irq_signal(&d->act.irq, VIRTIO_ISR_USED);
}

static inline void vfake_config_read(void *dev, uint64_t offset, void *data, uint32_t len)
{
	struct vfake_dev *d = dev;

	for (uint32_t i = 0; i < len && offset + i < VFAKE_CONFIG_SIZE; i++)
		((uint8_t *)data)[i] = d->config[offset + i];
}

static inline void vfake_config_write(void *dev, uint64_t offset, const void *data, uint32_t len)
{
	struct vfake_dev *d = dev;

	for (uint32_t i = 0; i < len && offset + i < VFAKE_CONFIG_SIZE; i++)
		d->config[offset + i] = ((const uint8_t *)data)[i];
}

static const struct virtio_dev_ops vfake_ops = {
	.info = vfake_info,
	.activate = vfake_activate,
	.reset = vfake_reset,
	.notify = vfake_notify,
	.config_read = vfake_config_read,
	.config_write = vfake_config_write,
};

#endif
