/*
 * The host's KVM: /dev/kvm, its capabilities, and facts about it that change
 * how kiln sets up a VM (the CPUID KVM supports, whether KVM is PVM).
 */
#ifndef KILN_KVM_HOST_H
#define KILN_KVM_HOST_H

#include <stdbool.h>
#include <linux/kvm.h>

#include "vmm/compiler.h"

#define KVM_HOST_ERR_MAX 256

struct kvm_host {
	int fd;                         /* /dev/kvm */
	int run_mmap_size;              /* KVM_GET_VCPU_MMAP_SIZE */
	struct kvm_cpuid2 *cpuid;       /* KVM_GET_SUPPORTED_CPUID, heap */
	/* PVM (a software nested hypervisor) emulates guest CPL0 code and lacks
	 * some instructions; kiln hides them from the guest's CPUID there. */
	bool pvm;
};

/* Opens path (normally /dev/kvm), checks the API version and the capabilities
 * kiln needs, and reads the supported CPUID.  0 or -errno with a message. */
int kvm_host_open(struct kvm_host *host, const char *path, char err[KVM_HOST_ERR_MAX]) __must_check;
void kvm_host_close(struct kvm_host *host);

#endif
