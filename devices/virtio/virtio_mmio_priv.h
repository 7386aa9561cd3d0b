/* Shared by the virtio-mmio files only: register decoding (virtio_mmio.c), the
 * status machine (virtio_mmio_status.c) and snapshots (virtio_mmio_state.c). */
#ifndef KILN_VIRTIO_MMIO_PRIV_H
#define KILN_VIRTIO_MMIO_PRIV_H

#include "devices/virtio/virtio_mmio.h"

#define VMMIO_STATUS_MASK                                                                   \
	(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |    \
	 VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FAILED)

/* Driver status write, with the transport lock held. */
void vmmio_status_write(struct vmmio *t, uint32_t v);

/* Device reset (status 0), with the lock held: resets an active device,
 * then every queue and register. */
void vmmio_reset_locked(struct vmmio *t);

/* Validates the ready queues and activates the device, with the lock held.
 * 0 or -errno; on error nothing is active. */
int vmmio_activate_locked(struct vmmio *t);

/* Raise isr bits and pulse the line (lock not needed). */
void vmmio_signal(struct vmmio *t, uint32_t isr);

/* Log a driver mistake: one warning per transport, then debug lines. */
void vmmio_note(struct vmmio *t, const char *what, uint64_t v);

/* status is written under the lock but read by irq_needs_reset() from the
 * device's thread, so stores and that load are atomic. */
static inline void vmmio_status_set(struct vmmio *t, uint32_t v)
{
	__atomic_store_n(&t->status, v, __ATOMIC_RELAXED);
}

/* Is the driver's status in [need, and none of forbid]? */
static inline bool vmmio_status_in(const struct vmmio *t, uint32_t need, uint32_t forbid)
{
	return (t->status & need) == need && !(t->status & forbid);
}

#endif
