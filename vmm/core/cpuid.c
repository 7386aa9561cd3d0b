/* CPUID patching; see cpuid.h. */
#include "vmm/core/cpuid.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Leaf 1 */
#define L1_ECX_PCID       (1u << 17)
#define L1_ECX_CX16       (1u << 13)
#define L1_ECX_FMA        (1u << 12)
#define L1_ECX_POPCNT     (1u << 23)
#define L1_ECX_XSAVE      (1u << 26)
#define L1_ECX_OSXSAVE    (1u << 27)
#define L1_ECX_AVX        (1u << 28)
#define L1_ECX_F16C       (1u << 29)
#define L1_ECX_RDRAND     (1u << 30)
#define L1_ECX_HYPERVISOR (1u << 31)
#define L1_EDX_HTT        (1u << 28)
/* Leaf 7.0 */
#define L7_EBX_FSGSBASE   (1u << 0)
#define L7_EBX_AVX2       (1u << 5)
#define L7_EBX_INVPCID    (1u << 10)
#define L7_EBX_AVX512_ALL ((1u << 16) | (1u << 17) | (1u << 21) | (1u << 26) | (1u << 27) | (1u << 28) | (1u << 30) | (1u << 31))
#define L7_EBX_RDSEED     (1u << 18)
#define L7_EBX_SMAP       (1u << 20)
#define L7_EBX_CLFLUSHOPT (1u << 23)
#define L7_EBX_CLWB       (1u << 24)
#define L7_ECX_RDPID      (1u << 22)
/* Leaf 0x40000001: KVM paravirtual features */
#define KVM_PV_UNHALT     (1u << 7)
#define KVM_PV_SEND_IPI   (1u << 11)
#define KVM_PV_SCHED_YIELD (1u << 13)
/* Leaf 0x80000001 */
#define LX1_EDX_RDTSCP    (1u << 27)

struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *c, unsigned int leaf, unsigned int subleaf)
{
	for (unsigned int i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		if (e->function != leaf)
			continue;
		if ((e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) && e->index != subleaf)
			continue;
		return e;
	}
	return NULL;
}

static unsigned int order_base2(unsigned int n)
{
	unsigned int shift = 0;

	while ((1u << shift) < n)
		shift++;
	return shift;
}

/*
 * What PVM's CPL0 emulator cannot execute, seen booting Linux here: cmpxchg16b,
 * xrstor (so all of XSAVE and the AVX state it carries), popcnt, and the
 * instructions behind rdrand/pcid/invpcid/fsgsbase/smap/rdpid/rdtscp/clflushopt/
 * clwb.  Hiding them in CPUID makes the guest take its fallbacks.
 */
static void hide_pvm_missing(struct kvm_cpuid2 *c)
{
	for (unsigned int i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		switch (e->function) {
		case 1:
			e->ecx &= ~(L1_ECX_PCID | L1_ECX_CX16 | L1_ECX_FMA | L1_ECX_POPCNT | L1_ECX_XSAVE |
				    L1_ECX_OSXSAVE | L1_ECX_AVX | L1_ECX_F16C | L1_ECX_RDRAND);
			break;
		case 7:
			if (e->index == 0) {
				e->ebx &= ~(L7_EBX_FSGSBASE | L7_EBX_AVX2 | L7_EBX_INVPCID | L7_EBX_AVX512_ALL |
					    L7_EBX_RDSEED | L7_EBX_SMAP | L7_EBX_CLFLUSHOPT | L7_EBX_CLWB);
				e->ecx &= ~L7_ECX_RDPID;
			}
			break;
		case 0xd: /* XSAVE state enumeration: nothing without XSAVE */
			e->eax = e->ebx = e->ecx = e->edx = 0;
			break;
		case 0x80000001:
			e->edx &= ~LX1_EDX_RDTSCP;
			break;
		case 0x40000001:
			/* Hypercalls that PVM does not complete for its guests: a
			 * vCPU sending a PV IPI spins in vmcall while the other
			 * waits for it (seen as an SMP boot hang). */
			e->eax &= ~(KVM_PV_UNHALT | KVM_PV_SEND_IPI | KVM_PV_SCHED_YIELD);
			break;
		}
	}
}

int cpuid_build(const struct kvm_cpuid2 *supported, const struct cpuid_options *opt,
		struct kvm_cpuid2 **out)
{
	size_t size = sizeof(*supported) + supported->nent * sizeof(supported->entries[0]);
	unsigned int core_shift = order_base2(opt->nr_vcpus);
	struct kvm_cpuid2 *c;

	if (!opt->nr_vcpus || opt->vcpu_id >= opt->nr_vcpus || opt->nr_vcpus > 255)
		return -EINVAL;
	c = malloc(size);
	if (!c)
		return -ENOMEM;
	memcpy(c, supported, size);

	for (unsigned int i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		switch (e->function) {
		case 1:
			/* EBX: APIC id [31:24], logical processors per package [23:16],
			 * CLFLUSH line size in 8-byte units [15:8]. */
			e->ebx = (opt->vcpu_id << 24) | ((opt->nr_vcpus & 0xff) << 16) | (8u << 8);
			e->ecx |= L1_ECX_HYPERVISOR;
			/* OSXSAVE mirrors the guest's CR4; KVM fills it in at run time. */
			e->ecx &= ~L1_ECX_OSXSAVE;
			if (opt->nr_vcpus > 1)
				e->edx |= L1_EDX_HTT;
			else
				e->edx &= ~L1_EDX_HTT;
			break;
		case 4:
			/* Deterministic cache parameters: all vCPUs are cores of one
			 * package; L1/L2 private, L3 (level 3) shared by all. */
			if (e->eax & 0x1f) {
				unsigned int level = (e->eax >> 5) & 7;
				unsigned int sharing = level >= 3 ? opt->nr_vcpus - 1 : 0;
				e->eax &= 0x3fff;
				e->eax |= ((opt->nr_vcpus - 1) & 0x3f) << 26;
				e->eax |= (sharing & 0xfff) << 14;
			}
			break;
		case 6:
			/* No thermal/power management MSRs to back these. */
			e->eax = e->ebx = e->ecx = e->edx = 0;
			break;
		case 0xa:
			/* No virtual PMU: a guest probing perf MSRs would fault. */
			e->eax = e->ebx = e->ecx = e->edx = 0;
			break;
		case 0xb:
		case 0x1f:
			/* Extended topology: level 0 = SMT (1 thread per core), level 1 =
			 * cores (nr_vcpus per package), then the invalid terminator. */
			e->edx = opt->vcpu_id;
			if (e->index == 0) {
				e->eax = 0;
				e->ebx = 1;
				e->ecx = (1u << 8) | 0;
			} else if (e->index == 1) {
				e->eax = core_shift;
				e->ebx = opt->nr_vcpus;
				e->ecx = (2u << 8) | 1;
			} else {
				e->eax = e->ebx = 0;
				e->ecx = e->index & 0xff;
			}
			break;
		}
	}
	if (opt->hide_pvm_missing)
		hide_pvm_missing(c);
	*out = c;
	return 0;
}
