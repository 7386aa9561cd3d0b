/*
 * The contract between a virtio device (block, net, vsock, ...) and the
 * transport that exposes it to the guest (virtio-mmio today).  A device never
 * sees registers or KVM: the transport negotiates with the driver, validates
 * the queues and hands them over at activation together with a struct
 * virtio_irq through which the device signals the driver.
 *
 * Locking: the transport calls every op with its own lock held and never
 * while the device calls back into it; the device serialises its own state
 * against its worker (VMM thread) with its own lock, taken after the
 * transport's.  The virtio_irq callbacks take no transport lock, so a device
 * may call them from any thread, with its own lock held.
 */
#ifndef KILN_VIRTIO_DEV_H
#define KILN_VIRTIO_DEV_H

#include <stdint.h>

#include "devices/virtio/virtq.h"

/* Queues per device a transport handles (net uses 2-3, vsock 3, block 1). */
#define VIRTIO_MAX_QUEUES 8

/* How the device reaches the driver; implemented by the transport. */
struct virtio_irq {
	/* Sets isr bits (VIRTIO_ISR_USED and/or VIRTIO_ISR_CONFIG) and
	 * interrupts the guest.  A config change also bumps ConfigGeneration. */
	void (*signal)(void *opaque, uint32_t isr);
	/* The driver broke the device (malformed queue): sets
	 * DEVICE_NEEDS_RESET and, once DRIVER_OK, signals a config change. */
	void (*needs_reset)(void *opaque);
	void *opaque;
};

static inline void virtio_irq_signal(const struct virtio_irq *irq, uint32_t isr)
{
	irq->signal(irq->opaque, isr);
}

static inline void virtio_irq_needs_reset(const struct virtio_irq *irq)
{
	irq->needs_reset(irq->opaque);
}

/* What the device offers; asked once when the transport is created. */
struct virtio_dev_info {
	uint32_t device_id;                    /* VIRTIO_ID_*, non-zero */
	uint64_t features;                     /* offered; must include VIRTIO_F_VERSION_1 */
	unsigned int nr_queues;                /* 1 .. VIRTIO_MAX_QUEUES */
	uint16_t queue_max[VIRTIO_MAX_QUEUES]; /* QueueNumMax: power of two <= VIRTQ_MAX_SIZE */
};

/* Handed to activate(): valid until the device's reset() returns. */
struct virtio_activation {
	const struct gmem *mem;
	struct virtq *queues;    /* nr_queues entries; the ready ones are active */
	unsigned int nr_queues;
	uint64_t features;       /* negotiated */
	struct virtio_irq irq;
};

struct virtio_dev_ops {
	/* Fills info.  Required. */
	void (*info)(void *dev, struct virtio_dev_info *info);
	/* The driver set DRIVER_OK and every ready queue validated.  0, or
	 * -errno (e.g. a queue the device needs is not ready): the transport
	 * then sets DEVICE_NEEDS_RESET.  Required. */
	int (*activate)(void *dev, const struct virtio_activation *act);
	/* Stop using the queues and forget the activation; after it returns the
	 * device calls no virtio_irq.  Called only after a successful activate.
	 * Required. */
	void (*reset)(void *dev);
	/* The driver notified queue (< nr_queues) while the device is active.
	 * Must not block on I/O (it runs on a vCPU thread): process inline only
	 * if that is cheap, else hand off to the device's worker.  Required. */
	void (*notify)(void *dev, unsigned int queue);
	/* Device configuration space, offset relative to its start.  data is
	 * zeroed before config_read; bytes beyond the space stay 0 and writes
	 * there are ignored.  Optional. */
	void (*config_read)(void *dev, uint64_t offset, void *data, uint32_t len);
	void (*config_write)(void *dev, uint64_t offset, const void *data, uint32_t len);
};

#endif
