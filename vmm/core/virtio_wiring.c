/* virtio-mmio devices in a VM: slots, irqfd, ioeventfd, bus, command line;
 * see virtio_wiring.h. */
#include "vmm/core/virtio_wiring.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmm/core/vm.h"
#include "vmm/log/log.h"
#include "vmm/probe.h"

static void vm_virtio_irq_set(void *opaque, unsigned int gsi, int level)
{
	struct vm_virtio_dev *vd = opaque;
	struct kvm_irq_level irq = { .irq = gsi, .level = (uint32_t)level };
	uint64_t one = 1;

	if (level)
		KILN_PROBE(virtio_irq, vd->slot, gsi);
	if (vd->irq_fd >= 0) {
		/* An irqfd is an edge: raise-and-lower in one write. */
		if (level && write(vd->irq_fd, &one, sizeof(one)) < 0)
			LOG_WARN("%s: irqfd write: %s", vd->name, strerror(errno));
		return;
	}
	if (ioctl(vd->vm->vm_fd, KVM_IRQ_LINE, &irq))
		LOG_WARN("%s: KVM_IRQ_LINE %u=%d: %s", vd->name, gsi, level, strerror(errno));
}

void vm_virtio_kick(void *opaque)
{
	vm_virtio_kick_queue(opaque, 0);
}

static int vm_virtio_irqfd(struct vm_virtio_dev *vd, bool assign)
{
	struct kvm_irqfd req = {
		.fd = (uint32_t)vd->irq_fd,
		.gsi = vd->gsi,
		.flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN,
	};

	return ioctl(vd->vm->vm_fd, KVM_IRQFD, &req) ? -errno : 0;
}

static int vm_virtio_ioeventfd(struct vm_virtio_dev *vd, unsigned int queue, bool assign)
{
	struct kvm_ioeventfd req = {
		.datamatch = queue,
		.addr = vd->base + VIRTIO_MMIO_QUEUE_NOTIFY,
		.len = 4,
		.fd = vd->notify_fd[queue],
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH | (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
	};

	return ioctl(vd->vm->vm_fd, KVM_IOEVENTFD, &req) ? -errno : 0;
}

int vm_virtio_reserve(struct vm *vm, const char *name, struct vm_virtio_dev **out, char err[VM_ERR_MAX])
{
	struct vm_virtio_dev *vd;
	int ret;

	if (vm->nr_virtio >= VM_VIRTIO_MAX) {
		snprintf(err, VM_ERR_MAX, "%s: no virtio-mmio slot left (at most %d devices)", name,
			 VM_VIRTIO_MAX);
		return -ENOSPC;
	}
	vd = calloc(1, sizeof(*vd));
	if (!vd) {
		snprintf(err, VM_ERR_MAX, "%s: out of memory", name);
		return -ENOMEM;
	}
	vd->vm = vm;
	vd->slot = vm->nr_virtio;
	vd->base = LAYOUT_VIRTIO_BASE + vd->slot * LAYOUT_VIRTIO_STRIDE;
	vd->gsi = LAYOUT_IRQ_VIRTIO_FIRST + vd->slot;
	snprintf(vd->name, sizeof(vd->name), "%s", name);
	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		vd->notify_fd[q] = -1;
	/* Recorded before anything can fail, so vm_virtio_destroy_all frees it. */
	vm->virtio[vm->nr_virtio++] = vd;

	vd->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vd->irq_fd < 0) {
		ret = -errno;
		snprintf(err, VM_ERR_MAX, "%s: eventfd: %s", name, strerror(-ret));
		return ret;
	}
	ret = vm_virtio_irqfd(vd, true);
	if (ret) {
		LOG_WARN("%s: KVM_IRQFD on GSI %u: %s; interrupts go through KVM_IRQ_LINE", name, vd->gsi,
			 strerror(-ret));
		close(vd->irq_fd);
		vd->irq_fd = -1;
	}
	*out = vd;
	return 0;
}

int vm_virtio_attach(struct vm *vm, struct vm_virtio_dev *vd, const struct virtio_dev_ops *ops,
		     void *dev, vm_virtio_process_fn process, char err[VM_ERR_MAX])
{
	struct irq_line line = { .set_level = vm_virtio_irq_set, .opaque = vd, .gsi = vd->gsi };
	unsigned int q;
	int ret;

	ret = vmmio_init(&vd->transport, ops, dev, &vm->mem, &line);
	if (ret) {
		snprintf(err, VM_ERR_MAX, "%s: virtio-mmio transport: %s", vd->name, strerror(-ret));
		return ret;
	}
	vd->transport_ready = true;
	vd->dev = dev;
	vd->process = process;
	vd->nr_queues = vd->transport.info.nr_queues;
	for (q = 0; q < vd->nr_queues; q++) {
		vd->notify_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vd->notify_fd[q] < 0) {
			ret = -errno;
			snprintf(err, VM_ERR_MAX, "%s: eventfd: %s", vd->name, strerror(-ret));
			return ret;
		}
		ret = vm_virtio_ioeventfd(vd, q, true);
		if (ret)
			LOG_WARN("%s: KVM_IOEVENTFD for queue %u: %s; notifications exit to kiln", vd->name, q,
				 strerror(-ret));
		else
			vd->ioeventfd[q] = true;
	}
	ret = bus_insert(&vm->mmio, vd->base, VIRTIO_MMIO_WINDOW, &vmmio_bus_ops, &vd->transport, vd->name);
	if (ret) {
		snprintf(err, VM_ERR_MAX, "%s at 0x%llx: %s", vd->name, (unsigned long long)vd->base,
			 strerror(-ret));
		return ret;
	}
	/* Linux's virtio_mmio.device=<size>@<base>:<irq>, as Firecracker writes it. */
	ret = vm_cmdline_add(vm, "virtio_mmio.device=%lluK@0x%llx:%u",
			     (unsigned long long)(VIRTIO_MMIO_WINDOW >> 10), (unsigned long long)vd->base,
			     vd->gsi);
	if (ret) {
		snprintf(err, VM_ERR_MAX, "%s: kernel command line full", vd->name);
		return ret;
	}
	LOG_INFO("%s: virtio-mmio at 0x%llx, IRQ %u (%s, %s)", vd->name, (unsigned long long)vd->base,
		 vd->gsi, vd->irq_fd >= 0 ? "irqfd" : "KVM_IRQ_LINE",
		 vd->ioeventfd[0] ? "ioeventfd" : "trapped notify");
	return 0;
}

/* epoll data of a device fd: the loop's tag and the slot in the low word (as
 * the loop's other sources), the device's token in the high word. */
static uint64_t vm_virtio_event_data(const struct vm_virtio_dev *vd, uint32_t token)
{
	return (uint64_t)(vd->vm->opt.event_tag | vd->slot << 8) | (uint64_t)token << 32;
}

static int vm_virtio_watch(void *opaque, int fd, uint32_t events, uint32_t token)
{
	struct vm_virtio_dev *vd = opaque;
	struct epoll_event ev = { .events = events, .data.u64 = vm_virtio_event_data(vd, token) };
	int epfd = vd->vm->opt.event_epfd;

	if (epfd < 0)
		return -ENOSYS;
	if (!epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev))
		return 0;
	if (errno != ENOENT)
		return -errno;
	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

static void vm_virtio_unwatch(void *opaque, int fd)
{
	struct vm_virtio_dev *vd = opaque;

	if (vd->vm->opt.event_epfd >= 0)
		epoll_ctl(vd->vm->opt.event_epfd, EPOLL_CTL_DEL, fd, NULL);
}

void vm_virtio_events(struct vm_virtio_dev *vd, dev_event_fn fn, void *dev, struct dev_event_loop *out)
{
	vd->event = fn;
	vd->event_dev = dev;
	*out = (struct dev_event_loop){ .watch = vm_virtio_watch, .unwatch = vm_virtio_unwatch, .opaque = vd };
}

void vm_virtio_event(struct vm *vm, uint64_t data, uint32_t events)
{
	unsigned int slot = (data >> 8) & 0xff;
	struct vm_virtio_dev *vd;

	if (slot >= vm->nr_virtio || !(vd = vm->virtio[slot]) || !vd->event)
		return;
	vd->event(vd->event_dev, (uint32_t)(data >> 32), events);
}

void vm_virtio_kick_queue(void *vdev, unsigned int queue)
{
	struct vm_virtio_dev *vd = vdev;
	uint64_t one = 1;

	/* A full counter (2^64 - 2 kicks unread) only means one is pending. */
	if (queue < VIRTIO_MAX_QUEUES && vd->notify_fd[queue] >= 0 &&
	    write(vd->notify_fd[queue], &one, sizeof(one)) < 0 && errno != EAGAIN)
		LOG_WARN("%s: queue %u kick: %s", vd->name, queue, strerror(errno));
}

void vm_virtio_handle(struct vm *vm, unsigned int slot, unsigned int queue)
{
	struct vm_virtio_dev *vd;
	uint64_t n;

	if (slot >= vm->nr_virtio || !(vd = vm->virtio[slot]) || queue >= vd->nr_queues)
		return;
	/* Read first: a notify arriving while process() runs wakes us again. */
	if (read(vd->notify_fd[queue], &n, sizeof(n)) < 0 && errno != EAGAIN)
		LOG_DEBUG("%s: queue %u eventfd: %s", vd->name, queue, strerror(errno));
	vd->queue_events++;
	KILN_PROBE(virtio_notify_handled, slot, queue);
	if (vd->process)
		vd->process(vd->dev, queue);
	KILN_PROBE(virtio_process_done, slot, queue);
}

void vm_virtio_reset_all(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->nr_virtio; i++) {
		struct vm_virtio_dev *vd = vm->virtio[i];

		if (vd && vd->transport_ready) {
			vmmio_destroy(&vd->transport);
			vd->transport_ready = false;
		}
	}
}

void vm_virtio_destroy_all(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->nr_virtio; i++) {
		struct vm_virtio_dev *vd = vm->virtio[i];

		if (!vd)
			continue;
		if (vd->transport_ready)
			vmmio_destroy(&vd->transport);
		for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++) {
			if (vd->ioeventfd[q] && vm_virtio_ioeventfd(vd, q, false))
				LOG_DEBUG("%s: KVM_IOEVENTFD deassign: %s", vd->name, strerror(errno));
			if (vd->notify_fd[q] >= 0)
				close(vd->notify_fd[q]);
		}
		if (vd->irq_fd >= 0) {
			if (vm_virtio_irqfd(vd, false))
				LOG_DEBUG("%s: KVM_IRQFD deassign: %s", vd->name, strerror(errno));
			close(vd->irq_fd);
		}
		free(vd);
		vm->virtio[i] = NULL;
	}
	vm->nr_virtio = 0;
}
