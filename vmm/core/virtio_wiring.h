/*
 * virtio-mmio devices wired into a VM: slot n of the layout (guest address
 * LAYOUT_VIRTIO_BASE + n * LAYOUT_VIRTIO_STRIDE, GSI LAYOUT_IRQ_VIRTIO_FIRST
 * + n), the transport on the VM's MMIO bus, the kernel command-line token
 * (virtio_mmio.device=4K@0x<addr>:<irq>), and the event plumbing:
 *
 *   interrupts  an eventfd bound to the GSI with KVM_IRQFD; the transport's
 *               irq line writes it (any thread, no ioctl per interrupt).
 *               Without irqfd, KVM_IRQ_LINE pulses the line instead.
 *   queues      an eventfd per queue bound to the QueueNotify register with
 *               KVM_IOEVENTFD (datamatch = queue index): the guest's write
 *               completes inside KVM, and the VMM thread's event loop sees
 *               the eventfd and calls the device's process().  A notify that
 *               does reach the transport (no ioeventfd) only writes the same
 *               eventfd through the device's kick hook, so the vCPU thread
 *               never does device I/O either way.
 *
 * A device is added in two steps, because the device needs the kick hook
 * before the transport can ask it what it offers: vm_virtio_reserve() takes
 * a slot and sets up the interrupt, the caller initialises its device with
 * vm_virtio_kick as kick hook, then vm_virtio_attach() starts the transport
 * and binds the queues.  Everything is undone by vm_virtio_destroy_all(),
 * also after a failure half-way.
 */
#ifndef KILN_VIRTIO_WIRING_H
#define KILN_VIRTIO_WIRING_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/dev_events.h"
#include "devices/virtio/virtio_mmio.h"
#include "vmm/boot/layout.h"
#include "vmm/compiler.h"

struct vm;

#define VM_VIRTIO_MAX (LAYOUT_IRQ_VIRTIO_LAST - LAYOUT_IRQ_VIRTIO_FIRST + 1)
#define VM_VIRTIO_NAME_MAX 48

/* Runs on the VMM thread when queue's eventfd fired; dev is the device the
 * transport was attached with. */
typedef void (*vm_virtio_process_fn)(void *dev, unsigned int queue);

struct vm_virtio_dev {
	struct vm *vm;
	struct vmmio transport;
	bool transport_ready;           /* vmmio_init succeeded: destroy it */
	unsigned int slot;
	uint64_t base;
	unsigned int gsi;
	int irq_fd;                     /* KVM_IRQFD-bound eventfd, or -1 (KVM_IRQ_LINE) */
	unsigned int nr_queues;
	int notify_fd[VIRTIO_MAX_QUEUES];
	bool ioeventfd[VIRTIO_MAX_QUEUES]; /* KVM_IOEVENTFD bound for the queue */
	vm_virtio_process_fn process;
	void *dev;
	dev_event_fn event;             /* the device's host-fd handler, or NULL */
	void *event_dev;
	char name[VM_VIRTIO_NAME_MAX];
	uint64_t queue_events;          /* eventfd wake-ups handled (VMM thread only) */
};

/*
 * Takes the next free slot for a device called name, with its interrupt
 * eventfd (bound with KVM_IRQFD when the host allows).  0 with *out, or
 * -ENOSPC (no slot or IRQ left) / -errno, with err.
 */
int vm_virtio_reserve(struct vm *vm, const char *name, struct vm_virtio_dev **out, char err[512])
	__must_check;

/* Kick hook for single-queue devices (blk_opts.kick): wakes the VMM thread
 * for queue 0.  Never blocks; callable from a vCPU thread. */
void vm_virtio_kick(void *vdev);

/*
 * Starts the transport for (ops, dev) in the reserved slot, creates and binds
 * a notify eventfd per queue, inserts the transport on the MMIO bus and adds
 * the command-line token.  process is called on the VMM thread for each
 * queue wake-up.  0 or -errno with err.
 */
int vm_virtio_attach(struct vm *vm, struct vm_virtio_dev *vd, const struct virtio_dev_ops *ops,
		     void *dev, vm_virtio_process_fn process, char err[512]) __must_check;

/*
 * The event loop a device in slot vd watches its host fds with (TAP, sockets,
 * rate-limiter timers): fds join the VMM loop's epoll set and their events
 * come back to fn(dev, token, events) on the VMM thread.  Call before the
 * device's init (it may watch fds there).
 */
void vm_virtio_events(struct vm_virtio_dev *vd, dev_event_fn fn, void *dev, struct dev_event_loop *out);

/* Kick hook for a queue of a multi-queue device: wakes the VMM thread for
 * that queue.  Never blocks; callable from a vCPU thread. */
void vm_virtio_kick_queue(void *vdev, unsigned int queue);

/* The VMM loop saw events on a device's host fd (epoll data from
 * vm_virtio_events' watch): hands them to the device. */
void vm_virtio_event(struct vm *vm, uint64_t data, uint32_t events);

/* The VMM loop saw queue's eventfd of slot: consume it and process. */
void vm_virtio_handle(struct vm *vm, unsigned int slot, unsigned int queue);

/* Resets the transports: the devices stop using guest memory and the queues.
 * Call after the vCPUs stopped and before the devices are destroyed (which
 * still unwatch their fds through their slot). */
void vm_virtio_reset_all(struct vm *vm);

/* Resets what is left of the transports, unbinds and closes the eventfds and
 * frees the slots.  Call after the devices were destroyed. */
void vm_virtio_destroy_all(struct vm *vm);

#endif
