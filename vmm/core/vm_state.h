/*
 * The VM-wide KVM state for snapshots (struct snap_vm): the in-kernel PIC
 * pair and IOAPIC, the PIT and the kvmclock.  Needs the vCPUs out of KVM_RUN.
 */
#ifndef KILN_VM_STATE_H
#define KILN_VM_STATE_H

#include "vmm/compiler.h"
#include "vmm/snapshot/snap_state.h"

#define VM_STATE_ERR_MAX 512

/* 0 or -errno with err naming the ioctl. */
int vm_state_save(int vm_fd, struct snap_vm *s, char err[VM_STATE_ERR_MAX]) __must_check;

/*
 * Loads s into a VM with an irqchip and PIT (vm_build made them) whose vCPUs
 * have not run.  The chips' ids are forced to their slots; the kvmclock is
 * set to the saved value, so the guest does not see the time it spent in the
 * snapshot.  KVM judges the rest.  0 or -errno with err.
 */
int vm_state_restore(int vm_fd, const struct snap_vm *s, char err[VM_STATE_ERR_MAX]) __must_check;

#endif
