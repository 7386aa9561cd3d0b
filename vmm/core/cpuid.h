/*
 * The CPUID a vCPU sees: KVM's supported set, with the hypervisor bit, this
 * vCPU's APIC id and a topology of nr_vcpus cores in one socket, no PMU, and,
 * on PVM hosts, the instructions PVM's emulator lacks hidden.
 * Pure: unit tests drive it with a made-up supported table.
 */
#ifndef KILN_CPUID_H
#define KILN_CPUID_H

#include <stdbool.h>
#include <linux/kvm.h>

#include "vmm/compiler.h"

struct cpuid_options {
	unsigned int vcpu_id;   /* = APIC id */
	unsigned int nr_vcpus;  /* 1..32 */
	bool hide_pvm_missing;  /* hide cx16, popcnt, xsave/AVX, rdrand, pcid, ... */
};

/* Allocates *out (free() it) holding the patched copy of supported. 0 or -errno. */
int cpuid_build(const struct kvm_cpuid2 *supported, const struct cpuid_options *opt,
		struct kvm_cpuid2 **out) __must_check;

/* The entry for leaf/subleaf in c, or NULL. */
struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *c, unsigned int leaf, unsigned int subleaf);

#endif
