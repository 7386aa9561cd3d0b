/* The VMM object: set-up, starting the VM, teardown; see vmm.h. */
#include "vmm/core/vmm.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "vmm/api/api_channel.h"
#include "vmm/core/console.h"
#include "vmm/core/vmm_loop.h"
#include "vmm/log/log.h"

int vmm_id_check(const char *id)
{
	size_t n = strlen(id);

	if (n < 1 || n > API_ID_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return -EINVAL;
	}
	return 0;
}

int vmm_logger_open(const char *path, char err[VMM_ERR_MAX])
{
	/* O_NONBLOCK so opening a FIFO with no reader yet does not hang; a FIFO
	 * then refuses with ENXIO, which is reported.  Lines are then written
	 * blocking, so none is lost to a slow reader. */
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0600);

	if (fd < 0) {
		int ret = -errno;

		snprintf(err, VMM_ERR_MAX, "cannot open %s: %s", path, strerror(-ret));
		return ret;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	log_set_fd(fd);
	return 0;
}

static int vmm_signalfd(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

int vmm_init(struct vmm *vmm, const struct vmm_options *opt, char err[VMM_ERR_MAX])
{
	struct itimerspec period = {
		.it_value = { .tv_sec = VMM_METRICS_PERIOD_S },
		.it_interval = { .tv_sec = VMM_METRICS_PERIOD_S },
	};
	int ret;

	memset(vmm, 0, sizeof(*vmm));
	vmm->epfd = vmm->sigfd = vmm->metrics_timer = -1;
	vmm->vm.vm_fd = vmm->vm.exit_evt = -1;
	vm_config_init(&vmm->cfg);
	vmm_metrics_init(&vmm->metrics);
	if (vmm_id_check(opt->id)) {
		snprintf(err, VMM_ERR_MAX, "invalid instance id '%.80s': 1 to %d of A-Z, a-z, 0-9 and '-'",
			 opt->id, API_ID_MAX);
		return -EINVAL;
	}
	snprintf(vmm->id, sizeof(vmm->id), "%s", opt->id);
	vmm->version = opt->version;
	vmm->vm_opt = opt->vm;
	vmm->api = opt->api;
	vmm->log_show_level = opt->log_show_level;
	vmm->log_show_origin = opt->log_show_origin;
	vmm->state = API_VM_NOT_STARTED;

	vmm->epfd = epoll_create1(EPOLL_CLOEXEC);
	vmm->sigfd = vmm_signalfd();
	vmm->metrics_timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (vmm->epfd < 0 || vmm->sigfd < 0 || vmm->metrics_timer < 0 ||
	    timerfd_settime(vmm->metrics_timer, 0, &period, NULL)) {
		ret = -errno;
		snprintf(err, VMM_ERR_MAX, "event loop: %s", strerror(-ret));
		return ret;
	}
	vmm->vm_opt.event_epfd = vmm->epfd;
	vmm->vm_opt.event_tag = VMM_SRC_TAG(VMM_SRC_DEV_EVENT, 0, 0);
	ret = vmm_loop_add(vmm, vmm->sigfd, VMM_SRC_SIGNAL) ?:
	      vmm_loop_add(vmm, vmm->metrics_timer, VMM_SRC_METRICS_TIMER);
	if (!ret && vmm->api)
		ret = vmm_loop_add(vmm, api_channel_fd(vmm->api), VMM_SRC_API);
	if (ret) {
		snprintf(err, VMM_ERR_MAX, "event loop: %s", strerror(-ret));
		return ret;
	}
	return 0;
}

int vmm_start_vm(struct vmm *vmm, char err[VM_ERR_MAX])
{
	int ret;

	if (!vmm->cfg.has_boot_source) {
		snprintf(err, VM_ERR_MAX, "Cannot start the VM because the kernel was not configured.");
		return -EINVAL;
	}
	ret = vm_build(&vmm->vm, &vmm->cfg, &vmm->vm_opt, err);
	vmm->vm_built = true;
	if (!ret) {
		console_raw_enter(vmm->vm_opt.serial_in_fd);
		ret = vm_start(&vmm->vm, err);
	}
	if (!ret)
		ret = vmm_loop_add_vm(vmm, err);
	if (ret) {
		vm_destroy(&vmm->vm);
		vmm->vm_built = false;
		console_restore();
		return ret;
	}
	vmm->state = API_VM_RUNNING;
	LOG_INFO("VM started: %u vCPU(s), %llu MiB", vmm->cfg.machine.vcpu_count,
		 (unsigned long long)vmm->cfg.machine.mem_size_mib);
	return 0;
}

void vmm_destroy(struct vmm *vmm)
{
	if (vmm->vm_built) {
		vm_destroy(&vmm->vm);
		vmm->vm_built = false;
		console_restore();
	}
	vmm_metrics_close(&vmm->metrics);
	if (vmm->metrics_timer >= 0)
		close(vmm->metrics_timer);
	if (vmm->sigfd >= 0)
		close(vmm->sigfd);
	if (vmm->epfd >= 0)
		close(vmm->epfd);
	vmm->epfd = vmm->sigfd = vmm->metrics_timer = -1;
	vmm->state = API_VM_NOT_STARTED;
}
