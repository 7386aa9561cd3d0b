/*
 * The VMM thread's event loop: one epoll set for everything the VMM thread
 * owns (signals, API calls, the metrics period and, once a VM runs, its exit
 * requests, console input and the virtio queue notifications, whose device
 * work runs here).  vCPU threads never block on any of these.
 */
#include "vmm/core/vmm_loop.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "vmm/api/api_channel.h"
#include "vmm/log/log.h"

static int vmm_loop_add_tag(struct vmm *vmm, int fd, uint32_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };

	return epoll_ctl(vmm->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

int vmm_loop_add(struct vmm *vmm, int fd, enum vmm_source src)
{
	return vmm_loop_add_tag(vmm, fd, VMM_SRC_TAG(src, 0, 0));
}

/* Every virtio queue's notify eventfd: device requests run on this thread. */
static int vmm_loop_add_virtio(struct vmm *vmm)
{
	struct vm *vm = &vmm->vm;

	_Static_assert(VM_VIRTIO_MAX <= 0xff && VIRTIO_MAX_QUEUES <= 0xff, "slot and queue fit the tag");
	for (unsigned int i = 0; i < vm->nr_virtio; i++) {
		struct vm_virtio_dev *vd = vm->virtio[i];

		for (unsigned int q = 0; q < vd->nr_queues; q++) {
			int ret = vmm_loop_add_tag(vmm, vd->notify_fd[q], VMM_SRC_TAG(VMM_SRC_VIRTIO_QUEUE, i, q));

			if (ret)
				return ret;
		}
	}
	return 0;
}

static void vmm_loop_del(struct vmm *vmm, int fd)
{
	epoll_ctl(vmm->epfd, EPOLL_CTL_DEL, fd, NULL);
}

int vmm_loop_add_vm(struct vmm *vmm, char err[VM_ERR_MAX])
{
	struct vm *vm = &vmm->vm;
	int ret = vmm_loop_add(vmm, vm->exit_evt, VMM_SRC_VM_EXIT) ?:
		  vmm_loop_add(vmm, vm->legacy.serial_rx_evt, VMM_SRC_CONSOLE_DRAINED) ?:
		  vmm_loop_add_virtio(vmm);

	if (ret) {
		snprintf(err, VM_ERR_MAX, "event loop: %s", strerror(-ret));
		vmm_loop_del(vmm, vm->exit_evt);
		return ret;
	}
	vmm->console_polling = false;
	if (vm->opt.serial_in_fd >= 0 && !vmm_loop_add(vmm, vm->opt.serial_in_fd, VMM_SRC_CONSOLE))
		vmm->console_polling = true;
	return 0;
}

static void vmm_loop_console(struct vmm *vmm)
{
	struct vm *vm = &vmm->vm;
	int ret = legacy_console_rx(vm, vm->opt.serial_in_fd);

	if (ret == -ENOSPC || ret == -EPIPE) {
		/* Full FIFO: wait for the guest to drain it.  EOF: stop for good
		 * (stdin was /dev/null or a closed pipe). */
		vmm_loop_del(vmm, vm->opt.serial_in_fd);
		vmm->console_polling = false;
		if (ret == -EPIPE)
			vm->opt.serial_in_fd = -1;
	}
}

static void vmm_loop_console_drained(struct vmm *vmm)
{
	struct vm *vm = &vmm->vm;
	uint64_t v;

	if (read(vm->legacy.serial_rx_evt, &v, sizeof(v)) < 0) {
		/* spurious wakeup of a non-blocking eventfd */
	}
	if (!vmm->console_polling && vm->opt.serial_in_fd >= 0 &&
	    !vmm_loop_add(vmm, vm->opt.serial_in_fd, VMM_SRC_CONSOLE))
		vmm->console_polling = true;
}

static void vmm_loop_signal(struct vmm *vmm)
{
	struct signalfd_siginfo si;

	if (read(vmm->sigfd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGUSR1) {
		if (!vmm->vm_built)
			return;
		/* vcpu_dump pauses and resumes each vCPU; keep a paused VM paused. */
		vm_dump_vcpus(&vmm->vm);
		if (vmm->state == API_VM_PAUSED && vm_pause(&vmm->vm, VMM_PAUSE_TIMEOUT_MS))
			LOG_WARN("could not pause the vCPUs again after the dump");
		return;
	}
	LOG_INFO("received %s, stopping %s", strsignal((int)si.ssi_signo),
		 vmm->vm_built ? "the VM" : "kiln");
	vmm->exit_signal = (int)si.ssi_signo;
	vmm->exit_reason = VM_EXIT_SIGNAL;
	if (vmm->vm_built)
		vm_request_exit(&vmm->vm, VM_EXIT_SIGNAL, NULL);
}

static void vmm_loop_metrics_timer(struct vmm *vmm)
{
	uint64_t expirations;

	if (read(vmm->metrics_timer, &expirations, sizeof(expirations)) < 0)
		return;
	if (vmm_metrics_flush(&vmm->metrics, vmm->vm_built ? &vmm->vm : NULL)) {
		/* dropped and counted; the next line reports it */
	}
}

/* The VM asked to end (guest reset/poweroff, error): its reason wins unless a
 * signal came first. */
static void vmm_loop_vm_exit(struct vmm *vmm)
{
	uint64_t v;

	if (read(vmm->vm.exit_evt, &v, sizeof(v)) < 0) {
		/* the reason is in vm.exit_reason either way */
	}
	if (vmm->exit_reason == VM_EXIT_NONE)
		vmm->exit_reason = (enum vm_exit_reason)atomic_load(&vmm->vm.exit_reason);
}

enum vm_exit_reason vmm_run(struct vmm *vmm)
{
	while (vmm->exit_reason == VM_EXIT_NONE) {
		struct epoll_event evs[8];
		int n = epoll_wait(vmm->epfd, evs, 8, -1);

		if (n < 0 && errno != EINTR) {
			if (vmm->vm_built)
				vm_request_exit(&vmm->vm, VM_EXIT_ERROR, "epoll_wait failed");
			vmm->exit_reason = VM_EXIT_ERROR;
			break;
		}
		for (int i = 0; i < n && vmm->exit_reason == VM_EXIT_NONE; i++) {
			uint32_t tag = evs[i].data.u32;

			switch (VMM_SRC_OF(tag)) {
			case VMM_SRC_SIGNAL:
				vmm_loop_signal(vmm);
				break;
			case VMM_SRC_API:
				api_channel_serve(vmm->api, vmm_api_handle, vmm);
				break;
			case VMM_SRC_METRICS_TIMER:
				vmm_loop_metrics_timer(vmm);
				break;
			case VMM_SRC_VM_EXIT:
				vmm_loop_vm_exit(vmm);
				break;
			case VMM_SRC_CONSOLE:
				vmm_loop_console(vmm);
				break;
			case VMM_SRC_CONSOLE_DRAINED:
				vmm_loop_console_drained(vmm);
				break;
			case VMM_SRC_VIRTIO_QUEUE:
				vm_virtio_handle(&vmm->vm, VMM_SRC_ARG1(tag), VMM_SRC_ARG2(tag));
				break;
			case VMM_SRC_DEV_EVENT:
				vm_virtio_event(&vmm->vm, evs[i].data.u64, evs[i].events);
				break;
			}
		}
	}
	if (vmm->vm_built)
		vm_stop_vcpus(&vmm->vm);
	return vmm->exit_reason;
}
