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
	VMM_SRC_VIRTIO_QUEUE, /* with the device's slot and queue index */
	VMM_SRC_DEV_EVENT,    /* a device's host fd: slot, and its token in the high word */
};

/* epoll data: the source in bits 0-7, then two 8-bit arguments. */
#define VMM_SRC_TAG(src, a, b) ((uint32_t)(src) | ((uint32_t)(a) << 8) | ((uint32_t)(b) << 16))
#define VMM_SRC_OF(tag)        ((enum vmm_source)((tag) & 0xff))
#define VMM_SRC_ARG1(tag)      (((tag) >> 8) & 0xff)
#define VMM_SRC_ARG2(tag)      (((tag) >> 16) & 0xff)

int vmm_loop_add(struct vmm *vmm, int fd, enum vmm_source src) __must_check;

/* Adds a started VM's sources (exit requests, console). 0 or -errno with err. */
int vmm_loop_add_vm(struct vmm *vmm, char err[VM_ERR_MAX]) __must_check;

#endif
