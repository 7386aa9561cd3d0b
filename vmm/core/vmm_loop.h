/* The VMM thread's event sources; private to vmm/core. */
#ifndef KILN_VMM_LOOP_H
#define KILN_VMM_LOOP_H

#include "vmm/compiler.h"
#include "vmm/core/vmm.h"

enum vmm_source {
	VMM_SRC_SIGNAL,
	VMM_SRC_API,
	VMM_SRC_METRICS_TIMER,
	VMM_SRC_VM_EXIT,
	VMM_SRC_CONSOLE,
	VMM_SRC_CONSOLE_DRAINED,
};

int vmm_loop_add(struct vmm *vmm, int fd, enum vmm_source src) __must_check;

/* Adds a started VM's sources (exit requests, console). 0 or -errno with err. */
int vmm_loop_add_vm(struct vmm *vmm, char err[VM_ERR_MAX]) __must_check;

#endif
