/* CPUID patching: topology, hypervisor bit, PVM hiding. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>

#include "vmm/core/cpuid.h"

/* A made-up "supported" table with the leaves kiln patches. */
static struct kvm_cpuid2 *fake_supported(void)
{
	static const struct kvm_cpuid_entry2 entries[] = {
		{ .function = 0, .eax = 0xd },
		{ .function = 1, .eax = 0x806f8, .ebx = 0xff0800, .ecx = 0xffffffff & ~(1u << 31), .edx = 0xffffffff },
		{ .function = 4, .index = 0, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 0x121 },
		{ .function = 4, .index = 3, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 0x163 },
		{ .function = 7, .index = 0, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .ebx = 0xffffffff, .ecx = 0xffffffff },
		{ .function = 0xa, .eax = 0x7300403 },
		{ .function = 0xb, .index = 0, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX },
		{ .function = 0xb, .index = 1, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX },
		{ .function = 0xb, .index = 2, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 9 },
		{ .function = 0xd, .index = 0, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 7 },
		{ .function = 0x80000001, .edx = 0xffffffff },
	};
	size_t n = sizeof(entries) / sizeof(entries[0]);
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(entries[0]));
	c->nent = n;
	memcpy(c->entries, entries, sizeof(entries));
	return c;
}

Test(cpuid, topology_and_hypervisor_bit)
{
	struct kvm_cpuid2 *sup = fake_supported(), *c;
	struct cpuid_options opt = { .vcpu_id = 3, .nr_vcpus = 4 };

	cr_assert_eq(cpuid_build(sup, &opt, &c), 0);
	struct kvm_cpuid_entry2 *l1 = cpuid_find(c, 1, 0);
	cr_assert_eq(l1->ebx >> 24, 3, "APIC id");
	cr_assert_eq((l1->ebx >> 16) & 0xff, 4, "logical count");
	cr_assert(l1->ecx & (1u << 31), "hypervisor bit");
	cr_assert(l1->edx & (1u << 28), "HTT with several vCPUs");
	cr_assert_eq(l1->ecx & (1u << 27), 0, "OSXSAVE left to KVM");
	struct kvm_cpuid_entry2 *b1 = cpuid_find(c, 0xb, 1);
	cr_assert_eq(b1->ebx, 4);
	cr_assert_eq(b1->eax, 2, "shift for 4 cores");
	cr_assert_eq(b1->edx, 3);
	cr_assert_eq(cpuid_find(c, 0xb, 2)->eax, 0, "terminator level");
	cr_assert_eq(cpuid_find(c, 0xa, 0)->eax, 0, "no PMU");
	cr_assert_eq(cpuid_find(c, 4, 3)->eax >> 26, 3, "cores per package - 1");
	cr_assert_eq((cpuid_find(c, 4, 3)->eax >> 14) & 0xfff, 3, "L3 shared by all");
	cr_assert_eq((cpuid_find(c, 4, 0)->eax >> 14) & 0xfff, 0, "L1 private");
	/* Without PVM hiding, the features stay. */
	cr_assert(l1->ecx & (1u << 23), "popcnt kept");
	free(c);
	free(sup);
}

Test(cpuid, pvm_hides_missing_instructions)
{
	struct kvm_cpuid2 *sup = fake_supported(), *c;
	struct cpuid_options opt = { .vcpu_id = 0, .nr_vcpus = 1, .hide_pvm_missing = true };

	cr_assert_eq(cpuid_build(sup, &opt, &c), 0);
	struct kvm_cpuid_entry2 *l1 = cpuid_find(c, 1, 0);
	cr_assert_eq(l1->ecx & ((1u << 13) | (1u << 23) | (1u << 26) | (1u << 30) | (1u << 17)), 0);
	cr_assert_eq(l1->edx & (1u << 28), 0, "no HTT with one vCPU");
	struct kvm_cpuid_entry2 *l7 = cpuid_find(c, 7, 0);
	cr_assert_eq(l7->ebx & ((1u << 0) | (1u << 10) | (1u << 20) | (1u << 23) | (1u << 24)), 0);
	cr_assert_eq(l7->ecx & (1u << 22), 0, "rdpid");
	cr_assert_eq(cpuid_find(c, 0x80000001, 0)->edx & (1u << 27), 0, "rdtscp");
	cr_assert_eq(cpuid_find(c, 0xd, 0)->eax, 0, "no XSAVE state");
	free(c);
	free(sup);
}

Test(cpuid, refuses_bad_options)
{
	struct kvm_cpuid2 *sup = fake_supported(), *c = NULL;
	struct cpuid_options opt = { .vcpu_id = 4, .nr_vcpus = 4 };

	cr_assert_eq(cpuid_build(sup, &opt, &c), -EINVAL);
	opt.nr_vcpus = 0;
	opt.vcpu_id = 0;
	cr_assert_eq(cpuid_build(sup, &opt, &c), -EINVAL);
	free(sup);
}
