/* Opening /dev/kvm and checking what it offers; see kvm_host.h. */
#include "vmm/core/kvm_host.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmm/compiler.h"

static const struct {
	int cap;
	const char *name;
} required_caps[] = {
	{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
	{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
	{ KVM_CAP_PIT2, "KVM_CAP_PIT2" },
	{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD" },
	{ KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD" },
	{ KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE" },
};

/* KVM_GET_SUPPORTED_CPUID fails with E2BIG until the buffer is large enough. */
static int read_supported_cpuid(struct kvm_host *host)
{
	for (unsigned int nent = 64; nent <= 4096; nent *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));

		if (!c)
			return -ENOMEM;
		c->nent = nent;
		if (ioctl(host->fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			host->cpuid = c;
			return 0;
		}
		free(c);
		if (errno != E2BIG)
			return -errno;
	}
	return -E2BIG;
}

int kvm_host_open(struct kvm_host *host, const char *path, char err[KVM_HOST_ERR_MAX])
{
	int ret;

	memset(host, 0, sizeof(*host));
	host->fd = open(path, O_RDWR | O_CLOEXEC);
	if (host->fd < 0) {
		ret = -errno;
		snprintf(err, KVM_HOST_ERR_MAX, "cannot open %s: %s", path, strerror(errno));
		return ret;
	}
	ret = ioctl(host->fd, KVM_GET_API_VERSION, 0);
	if (ret != KVM_API_VERSION) {
		snprintf(err, KVM_HOST_ERR_MAX, "%s: KVM API version %d, kiln needs %d", path, ret, KVM_API_VERSION);
		ret = -ENOTSUP;
		goto err_close;
	}
	for (size_t i = 0; i < ARRAY_SIZE(required_caps); i++) {
		if (ioctl(host->fd, KVM_CHECK_EXTENSION, required_caps[i].cap) <= 0) {
			snprintf(err, KVM_HOST_ERR_MAX, "%s lacks %s", path, required_caps[i].name);
			ret = -ENOTSUP;
			goto err_close;
		}
	}
	host->run_mmap_size = ioctl(host->fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (host->run_mmap_size < (int)sizeof(struct kvm_run)) {
		snprintf(err, KVM_HOST_ERR_MAX, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
		ret = -ENOTSUP;
		goto err_close;
	}
	ret = read_supported_cpuid(host);
	if (ret) {
		snprintf(err, KVM_HOST_ERR_MAX, "KVM_GET_SUPPORTED_CPUID: %s", strerror(-ret));
		goto err_close;
	}
	/* The PVM module is the only way to tell PVM from hardware KVM. */
	host->pvm = access("/sys/module/kvm_pvm", F_OK) == 0;
	return 0;

err_close:
	close(host->fd);
	host->fd = -1;
	return ret;
}

void kvm_host_close(struct kvm_host *host)
{
	free(host->cpuid);
	host->cpuid = NULL;
	if (host->fd >= 0)
		close(host->fd);
	host->fd = -1;
}
