/* vCPU state for snapshots; see vcpu_state.h. */
#include "vmm/core/vcpu_state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm/core/vm.h"
#include "vmm/log/log.h"

#define VS_FAIL(err, what)                                                                   \
	({                                                                                   \
		int e_ = errno;                                                              \
		snprintf(err, VCPU_STATE_ERR_MAX, "vcpu%u: %s: %s", vcpu->id, what, strerror(e_)); \
		-e_;                                                                         \
	})

_Static_assert(sizeof(struct kvm_xsave) == sizeof(((struct snap_vcpu *)0)->xsave),
	       "KVM_GET_XSAVE fills exactly the saved region");

struct vs_msrs {
	struct kvm_msrs hdr;
	struct kvm_msr_entry e[SNAP_MAX_MSRS];
};

/* KVM's list of MSRs to save (at most SNAP_MAX_MSRS are kept). */
static int vs_msr_list(int kvm_fd, uint32_t *idx, uint32_t *n)
{
	struct kvm_msr_list probe = { .nmsrs = 0 };
	struct kvm_msr_list *list;
	int ret = 0;

	if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) && errno != E2BIG)
		return -errno;
	list = calloc(1, sizeof(*list) + probe.nmsrs * sizeof(uint32_t));
	if (!list)
		return -ENOMEM;
	list->nmsrs = probe.nmsrs;
	if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, list))
		ret = -errno;
	*n = 0;
	for (uint32_t i = 0; !ret && i < list->nmsrs && *n < SNAP_MAX_MSRS; i++)
		idx[(*n)++] = list->indices[i];
	free(list);
	return ret;
}

/* Reads every listed MSR KVM lets us read: KVM_GET_MSRS stops at the first
 * one it refuses, which is then dropped and the rest read on. */
static int vs_save_msrs(struct vcpu *vcpu, struct snap_vcpu *v, char err[VCPU_STATE_ERR_MAX])
{
	uint32_t idx[SNAP_MAX_MSRS], n = 0, start = 0, dropped = 0;
	struct vs_msrs *m = calloc(1, sizeof(*m));
	int ret;

	if (!m)
		return -ENOMEM;
	ret = vs_msr_list(vcpu->vm->host.fd, idx, &n);
	if (ret) {
		snprintf(err, VCPU_STATE_ERR_MAX, "KVM_GET_MSR_INDEX_LIST: %s", strerror(-ret));
		free(m);
		return ret;
	}
	v->nr_msrs = 0;
	while (start < n) {
		int got;

		m->hdr.nmsrs = n - start;
		for (uint32_t i = start; i < n; i++)
			m->e[i - start] = (struct kvm_msr_entry){ .index = idx[i] };
		got = ioctl(vcpu->fd, KVM_GET_MSRS, m);
		if (got < 0) {
			ret = VS_FAIL(err, "KVM_GET_MSRS");
			break;
		}
		for (int i = 0; i < got; i++)
			v->msrs[v->nr_msrs++] = m->e[i];
		start += (uint32_t)got;
		if (start < n) {
			start++; /* refused: not part of this vCPU's state here */
			dropped++;
		}
	}
	if (dropped)
		LOG_DEBUG("vcpu%u: saved %u MSRs, %u listed ones unreadable", vcpu->id, v->nr_msrs, dropped);
	free(m);
	return ret;
}

int vcpu_state_save(struct vcpu *vcpu, struct snap_vcpu *v, char err[VCPU_STATE_ERR_MAX])
{
	int vm_fd = vcpu->vm->vm_fd, ret;
	struct kvm_cpuid2 *cpuid;

	memset(v, 0, sizeof(*v));
	v->id = vcpu->id;
	if (ioctl(vcpu->fd, KVM_GET_REGS, &v->regs))
		return VS_FAIL(err, "KVM_GET_REGS");
	if (ioctl(vcpu->fd, KVM_GET_SREGS, &v->sregs))
		return VS_FAIL(err, "KVM_GET_SREGS");
	if (ioctl(vcpu->fd, KVM_GET_FPU, &v->fpu))
		return VS_FAIL(err, "KVM_GET_FPU");
	if (ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE) > 0) {
		if (ioctl(vcpu->fd, KVM_GET_XSAVE, (struct kvm_xsave *)v->xsave))
			return VS_FAIL(err, "KVM_GET_XSAVE");
		v->flags |= SNAP_VCPU_XSAVE;
	}
	if (ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0) {
		if (ioctl(vcpu->fd, KVM_GET_XCRS, &v->xcrs))
			return VS_FAIL(err, "KVM_GET_XCRS");
		v->flags |= SNAP_VCPU_XCRS;
	}
	if (ioctl(vcpu->fd, KVM_GET_LAPIC, &v->lapic))
		return VS_FAIL(err, "KVM_GET_LAPIC");
	if (ioctl(vcpu->fd, KVM_GET_MP_STATE, &v->mp_state))
		return VS_FAIL(err, "KVM_GET_MP_STATE");
	if (ioctl(vcpu->fd, KVM_GET_VCPU_EVENTS, &v->events))
		return VS_FAIL(err, "KVM_GET_VCPU_EVENTS");
	if (ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_DEBUGREGS) > 0) {
		if (ioctl(vcpu->fd, KVM_GET_DEBUGREGS, &v->debugregs))
			return VS_FAIL(err, "KVM_GET_DEBUGREGS");
		v->flags |= SNAP_VCPU_DEBUGREGS;
	}
	ret = ioctl(vcpu->fd, KVM_GET_TSC_KHZ, 0);
	v->tsc_khz = ret > 0 ? (uint32_t)ret : 0;
	cpuid = calloc(1, sizeof(*cpuid) + SNAP_MAX_CPUID * sizeof(cpuid->entries[0]));
	if (!cpuid)
		return -ENOMEM;
	cpuid->nent = SNAP_MAX_CPUID;
	if (!ioctl(vcpu->fd, KVM_GET_CPUID2, cpuid) && cpuid->nent && cpuid->nent <= SNAP_MAX_CPUID) {
		v->nr_cpuid = cpuid->nent;
		memcpy(v->cpuid, cpuid->entries, cpuid->nent * sizeof(cpuid->entries[0]));
		v->flags |= SNAP_VCPU_CPUID;
	}
	free(cpuid);
	return vs_save_msrs(vcpu, v, err);
}

/* Sets the MSRs in order, skipping any KVM refuses (KVM_SET_MSRS stops at it). */
static int vs_restore_msrs(struct vcpu *vcpu, const struct snap_vcpu *v, char err[VCPU_STATE_ERR_MAX])
{
	struct vs_msrs *m = calloc(1, sizeof(*m));
	uint32_t start = 0, refused = 0;

	if (!m)
		return -ENOMEM;
	while (start < v->nr_msrs) {
		int set;

		m->hdr.nmsrs = v->nr_msrs - start;
		memcpy(m->e, &v->msrs[start], m->hdr.nmsrs * sizeof(m->e[0]));
		set = ioctl(vcpu->fd, KVM_SET_MSRS, m);
		if (set < 0) {
			int ret = VS_FAIL(err, "KVM_SET_MSRS");

			free(m);
			return ret;
		}
		start += (uint32_t)set;
		if (start < v->nr_msrs) {
			LOG_DEBUG("vcpu%u: KVM refused MSR 0x%x = 0x%llx", vcpu->id, v->msrs[start].index,
				  (unsigned long long)v->msrs[start].data);
			start++;
			refused++;
		}
	}
	if (refused)
		LOG_WARN("vcpu%u: KVM refused %u of %u saved MSRs", vcpu->id, refused, v->nr_msrs);
	free(m);
	return 0;
}

int vcpu_state_restore(struct vcpu *vcpu, const struct snap_vcpu *v, char err[VCPU_STATE_ERR_MAX])
{
	struct kvm_vcpu_events events = v->events;
	struct kvm_cpuid2 *cpuid;
	int cur, ret;

	cur = ioctl(vcpu->fd, KVM_GET_TSC_KHZ, 0);
	if (v->tsc_khz && cur > 0 && (uint32_t)cur != v->tsc_khz &&
	    ioctl(vcpu->fd, KVM_SET_TSC_KHZ, (unsigned long)v->tsc_khz))
		LOG_WARN("vcpu%u: the snapshot's TSC runs at %u kHz, this host's at %d kHz and KVM cannot "
			 "scale it (%s): guest time may drift", vcpu->id, v->tsc_khz, cur, strerror(errno));
	if (v->flags & SNAP_VCPU_CPUID) {
		cpuid = calloc(1, sizeof(*cpuid) + v->nr_cpuid * sizeof(cpuid->entries[0]));
		if (!cpuid)
			return -ENOMEM;
		cpuid->nent = v->nr_cpuid;
		memcpy(cpuid->entries, v->cpuid, v->nr_cpuid * sizeof(cpuid->entries[0]));
		ret = ioctl(vcpu->fd, KVM_SET_CPUID2, cpuid) ? VS_FAIL(err, "KVM_SET_CPUID2") : 0;
		free(cpuid);
		if (ret)
			return ret;
	}
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &v->sregs))
		return VS_FAIL(err, "KVM_SET_SREGS");
	if (ioctl(vcpu->fd, KVM_SET_REGS, &v->regs))
		return VS_FAIL(err, "KVM_SET_REGS");
	if (v->flags & SNAP_VCPU_XSAVE) {
		if (ioctl(vcpu->fd, KVM_SET_XSAVE, (const struct kvm_xsave *)v->xsave))
			return VS_FAIL(err, "KVM_SET_XSAVE");
	} else if (ioctl(vcpu->fd, KVM_SET_FPU, &v->fpu)) {
		return VS_FAIL(err, "KVM_SET_FPU");
	}
	if ((v->flags & SNAP_VCPU_XCRS) && ioctl(vcpu->fd, KVM_SET_XCRS, &v->xcrs))
		return VS_FAIL(err, "KVM_SET_XCRS");
	if (ioctl(vcpu->fd, KVM_SET_LAPIC, &v->lapic))
		return VS_FAIL(err, "KVM_SET_LAPIC");
	/* After the LAPIC: the TSC deadline MSR is armed against it. */
	ret = vs_restore_msrs(vcpu, v, err);
	if (ret)
		return ret;
	/* The NMI and SIPI fields count only when flagged valid. */
	events.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR;
	events.flags &= KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR |
			KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_SMM;
	if (ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, &events))
		return VS_FAIL(err, "KVM_SET_VCPU_EVENTS");
	if (ioctl(vcpu->fd, KVM_SET_MP_STATE, &v->mp_state))
		return VS_FAIL(err, "KVM_SET_MP_STATE");
	if ((v->flags & SNAP_VCPU_DEBUGREGS) && ioctl(vcpu->fd, KVM_SET_DEBUGREGS, &v->debugregs))
		return VS_FAIL(err, "KVM_SET_DEBUGREGS");
	return 0;
}
