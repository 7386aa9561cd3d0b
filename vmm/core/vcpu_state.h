/*
 * A vCPU's KVM state to and from a snapshot (struct snap_vcpu): general and
 * segment registers, FPU or XSAVE, XCRs, the MSRs KVM lists
 * (KVM_GET_MSR_INDEX_LIST, keeping those KVM lets us read back), LAPIC, MP
 * state, pending events, debug registers, CPUID and TSC frequency.
 *
 * Both need the vCPU out of KVM_RUN (the VM paused, or not started yet): the
 * calling thread issues the vCPU ioctls.
 */
#ifndef KILN_VCPU_STATE_H
#define KILN_VCPU_STATE_H

#include "vmm/compiler.h"
#include "vmm/core/vcpu.h"
#include "vmm/snapshot/snap_state.h"

#define VCPU_STATE_ERR_MAX 512

/* 0 or -errno with err naming the ioctl. */
int vcpu_state_save(struct vcpu *vcpu, struct snap_vcpu *v, char err[VCPU_STATE_ERR_MAX]) __must_check;

/*
 * Loads v into a vCPU made by vcpu_create that has not run: TSC frequency
 * (when it differs and the host can scale), CPUID, registers, FPU/XSAVE,
 * XCRs, LAPIC, MSRs, events, MP state, debug registers.  KVM judges every
 * value (the file is untrusted); an MSR KVM refuses is skipped and counted
 * in the log.  0 or -errno with err.
 */
int vcpu_state_restore(struct vcpu *vcpu, const struct snap_vcpu *v, char err[VCPU_STATE_ERR_MAX])
	__must_check;

#endif
