/*
 * The VMM thread's event loop: one epoll set for everything the VMM thread
 * owns (VM-exit requests, signals, console input; device backends join it as
 * they land).  vCPU threads never block on any of these.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "vmm/core/vm.h"
#include "vmm/log/log.h"

enum loop_source { SRC_EXIT, SRC_SIGNAL, SRC_CONSOLE, SRC_CONSOLE_DRAINED };

static int loop_add(int epfd, int fd, enum loop_source src)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = src };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

static int loop_signalfd(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static void loop_console(struct vm *vm, int epfd, bool *polling)
{
	int ret = legacy_console_rx(vm, vm->opt.serial_in_fd);

	if (ret == -ENOSPC || ret == -EPIPE) {
		/* Full FIFO: wait for the guest to drain it.  EOF: stop for good
		 * (stdin was /dev/null or a closed pipe). */
		epoll_ctl(epfd, EPOLL_CTL_DEL, vm->opt.serial_in_fd, NULL);
		*polling = false;
		if (ret == -EPIPE)
			vm->opt.serial_in_fd = -1;
	}
}

enum vm_exit_reason vm_run_loop(struct vm *vm)
{
	int epfd = -1, sigfd = -1;
	bool console_polling = false;

	epfd = epoll_create1(EPOLL_CLOEXEC);
	sigfd = loop_signalfd();
	if (epfd < 0 || sigfd < 0 || loop_add(epfd, vm->exit_evt, SRC_EXIT) ||
	    loop_add(epfd, sigfd, SRC_SIGNAL) ||
	    loop_add(epfd, vm->legacy.serial_rx_evt, SRC_CONSOLE_DRAINED)) {
		vm_request_exit(vm, VM_EXIT_ERROR, "cannot set up the event loop");
		goto out;
	}
	if (vm->opt.serial_in_fd >= 0 && !loop_add(epfd, vm->opt.serial_in_fd, SRC_CONSOLE))
		console_polling = true;

	while (atomic_load(&vm->exit_reason) == VM_EXIT_NONE) {
		struct epoll_event evs[8];
		int n = epoll_wait(epfd, evs, 8, -1);

		if (n < 0 && errno != EINTR) {
			vm_request_exit(vm, VM_EXIT_ERROR, "epoll_wait failed");
			break;
		}
		for (int i = 0; i < n; i++) {
			switch ((enum loop_source)evs[i].data.u32) {
			case SRC_EXIT:
				break; /* the while condition sees it */
			case SRC_SIGNAL: {
				struct signalfd_siginfo si;

				if (read(sigfd, &si, sizeof(si)) != sizeof(si))
					break;
				if (si.ssi_signo == SIGUSR1) {
					vm_dump_vcpus(vm);
				} else {
					LOG_INFO("received %s, stopping the VM", strsignal((int)si.ssi_signo));
					vm->exit_signal = (int)si.ssi_signo;
					vm_request_exit(vm, VM_EXIT_SIGNAL, NULL);
				}
				break;
			}
			case SRC_CONSOLE:
				loop_console(vm, epfd, &console_polling);
				break;
			case SRC_CONSOLE_DRAINED: {
				uint64_t v;

				if (read(vm->legacy.serial_rx_evt, &v, sizeof(v)) < 0) {
					/* spurious wakeup of a non-blocking eventfd */
				}
				if (!console_polling && vm->opt.serial_in_fd >= 0 &&
				    !loop_add(epfd, vm->opt.serial_in_fd, SRC_CONSOLE))
					console_polling = true;
				break;
			}
			}
		}
	}
out:
	for (unsigned int i = 0; i < vm->vcpus_created; i++)
		vcpu_request(&vm->vcpus[i], VCPU_STOP);
	if (sigfd >= 0)
		close(sigfd);
	if (epfd >= 0)
		close(epfd);
	return (enum vm_exit_reason)atomic_load(&vm->exit_reason);
}
