/*
 * virtio-mmio transport, version 2 (modern only): the register file and the
 * device status machine, with no KVM, thread or event-loop knowledge.  The VMM
 * inserts it on the MMIO bus (vmmio_bus_ops, window VIRTIO_MMIO_WINDOW), gives
 * it an irq_line (edge: each notification is a pulse, from whichever thread
 * the device signals on, so the line must be thread-safe: KVM_IRQ_LINE or an
 * irqfd) and, later, may bind an ioeventfd to QueueNotify instead of trapping
 * it (the VMM then calls the device's processing function itself).
 *
 * Status machine (2.1, Firecracker's table): each write may add exactly one
 * bit, in the order ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK; FAILED may be
 * added at any time; 0 resets the device; anything else is ignored and counted.
 * FEATURES_OK is refused (the bit stays clear) when the driver accepted a
 * feature the device did not offer or did not accept VIRTIO_F_VERSION_1.
 * DriverFeatures writes count only between DRIVER and FEATURES_OK; queue
 * registers only between FEATURES_OK and DRIVER_OK (and QueueNum/addresses
 * only while the selected queue is not ready); a QueueSel beyond the device's
 * queues selects nothing (reads 0, writes ignored).  At DRIVER_OK every ready
 * queue is validated (virtq_activate) and the device activated; if either
 * fails, DEVICE_NEEDS_RESET is set and a config change signalled.
 *
 * Accesses: registers below 0x100 only as aligned 32-bit accesses (others
 * read 0 and are ignored); the configuration space from 0x100 with any width,
 * once the driver has set DRIVER.
 *
 * Threads: vCPU threads call the bus ops; the device may call the virtio_irq
 * it got at activation from any thread.  Register accesses take the transport
 * lock; interrupt status and DEVICE_NEEDS_RESET are atomics, so signalling
 * never takes it.  Save and restore need a paused VM.
 */
#ifndef KILN_VIRTIO_MMIO_H
#define KILN_VIRTIO_MMIO_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/irq_line.h"
#include "devices/virtio/virtio_dev.h"
#include "devices/virtio/virtio_mmio_regs.h"
#include "devices/virtio/virtq.h"
#include "vmm/bus/bus.h"
#include "vmm/compiler.h"
#include "vmm/mem/gmem.h"

/* Guest-visible transport state for snapshots: plain values, no pointers. */
struct vmmio_state {
	uint32_t status;              /* including DEVICE_NEEDS_RESET */
	uint32_t isr;                 /* InterruptStatus */
	uint32_t config_generation;
	uint32_t device_features_sel;
	uint32_t driver_features_sel;
	uint32_t queue_sel;
	uint64_t driver_features;
	uint32_t nr_queues;
	uint32_t pad;
	struct virtq_state queues[VIRTIO_MAX_QUEUES];
};

/* Host-side counters of what the driver got wrong; not saved. */
struct vmmio_metrics {
	uint64_t bad_access;       /* wrong width/alignment, unknown or read-only register */
	uint64_t ignored;          /* register accessed in a status that forbids it */
	uint64_t bad_status;       /* illegal status transition */
	uint64_t features_refused; /* FEATURES_OK refused */
	uint64_t activations;      /* DRIVER_OK accepted: the device went live */
	uint64_t activate_failed;  /* DRIVER_OK with a bad queue or device refusal */
	uint64_t needs_reset;      /* DEVICE_NEEDS_RESET set by the device */
	uint64_t notify_ignored;   /* QueueNotify for no queue or an inactive device */
	uint64_t interrupts;       /* pulses on the irq line */
};

/* Embedded in the VM; fields are private to virtio_mmio*.c and its tests. */
struct vmmio {
	pthread_mutex_t lock;
	const struct virtio_dev_ops *ops;
	void *dev;
	const struct gmem *mem;
	struct irq_line irq;
	struct virtio_dev_info info;

	uint32_t status;              /* without DEVICE_NEEDS_RESET */
	uint32_t device_features_sel;
	uint32_t driver_features_sel;
	uint32_t queue_sel;
	uint64_t driver_features;
	bool active;                  /* the device accepted activate() */
	_Atomic uint32_t isr;
	_Atomic uint32_t config_generation;
	_Atomic bool needs_reset;
	_Atomic bool warned;          /* one warning per transport, then debug */
	struct virtq queues[VIRTIO_MAX_QUEUES];
	struct vmmio_metrics metrics;
};

/* Register file for bus_insert(mmio, base, VIRTIO_MMIO_WINDOW, ...) with the
 * transport as opaque. */
extern const struct bus_dev_ops vmmio_bus_ops;

/*
 * Power-on state for dev (ops, dev) on guest memory mem; irq is copied.
 * 0, or -EINVAL (missing op, no irq, device id 0, VERSION_1 not offered, queue
 * count or sizes out of range) or the error of pthread_mutex_init.
 */
int vmmio_init(struct vmmio *t, const struct virtio_dev_ops *ops, void *dev, const struct gmem *mem,
	       const struct irq_line *irq) __must_check;
/* Resets an active device, then frees the lock. */
void vmmio_destroy(struct vmmio *t);

/* The bus ops, callable directly (tests, fuzz targets). */
void vmmio_read(struct vmmio *t, uint64_t offset, void *data, uint32_t len);
void vmmio_write(struct vmmio *t, uint64_t offset, const void *data, uint32_t len);

/* Current status as the driver reads it (with DEVICE_NEEDS_RESET). */
uint32_t vmmio_status(struct vmmio *t);

/* The virtio_irq the transport hands the device at activation; also for
 * devices that signal a config change outside an activation (capacity). */
struct virtio_irq vmmio_irq(struct vmmio *t);

void vmmio_metrics_get(struct vmmio *t, struct vmmio_metrics *m);

void vmmio_save(struct vmmio *t, struct vmmio_state *st);

/*
 * Loads st (untrusted) after validating it: a reachable status, driver
 * features within the offered ones with VERSION_1 once FEATURES_OK, known isr
 * bits, the device's queue count, each queue (virtq_restore) and, when the
 * status is DRIVER_OK without NEEDS_RESET or FAILED, every ready queue's rings
 * in guest memory.  -EINVAL with the transport untouched on a bad state.  The
 * device is reset, then re-activated with the restored queues when the status
 * says so; if it refuses (-errno returned), the transport is left reset.
 * Re-drives the irq line when isr is non-zero.
 */
int vmmio_restore(struct vmmio *t, const struct vmmio_state *st) __must_check;

#endif
