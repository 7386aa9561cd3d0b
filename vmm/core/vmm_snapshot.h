/*
 * The VMM side of PUT /snapshot/create and PUT /snapshot/load, on the VMM
 * thread, with Firecracker's rules: create only while the VM is paused; load
 * only into a fresh kiln (no VM yet, nothing boot-specific configured), after
 * which the VM is paused, or running with resume_vm.  Errors are 400s with
 * "Create snapshot error: ..." / "Load snapshot error: ...".
 */
#ifndef KILN_VMM_SNAPSHOT_H
#define KILN_VMM_SNAPSHOT_H

#include "vmm/api/api.h"

struct vmm;

/* Runs API_OP_SNAPSHOT_CREATE or API_OP_SNAPSHOT_LOAD (it applies its own
 * state rule, so it is called instead of api_op_check_state). */
void vmm_api_snapshot(struct vmm *vmm, const struct api_request *req, struct api_result *res);

#endif
