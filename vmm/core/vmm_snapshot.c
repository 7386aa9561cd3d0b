/* PUT /snapshot/create and /snapshot/load on the VMM thread; see vmm_snapshot.h. */
#include "vmm/core/vmm_snapshot.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmm/core/console.h"
#include "vmm/core/snapshot.h"
#include "vmm/core/vmm.h"
#include "vmm/core/vmm_loop.h"
#include "vmm/log/log.h"
#include "vmm/probe.h"

static void vmm_snapshot_create(struct vmm *vmm, const struct api_snapshot_create *c, struct api_result *res)
{
	struct snapshot_create_params p = {
		.type = c->type == API_SNAPSHOT_DIFF ? SNAPSHOT_DIFF : SNAPSHOT_FULL,
		.snapshot_path = c->snapshot_path,
		.mem_file_path = c->mem_file_path,
	};
	char err[VM_ERR_MAX] = "";
	int r;

	if (vmm->state != API_VM_PAUSED) {
		api_result_fail(res, -EPERM, "Create snapshot error: the microVM must be paused first "
				"(PATCH /vm {\"state\": \"Paused\"}); it is %s", api_vm_state_name(vmm->state));
		return;
	}
	r = snapshot_create(&vmm->vm, &vmm->cfg, &p, err);
	if (r)
		api_result_fail(res, r, "Create snapshot error: %s", err);
}

/* Firecracker refuses a load once anything boot-specific was configured. */
static bool vmm_is_fresh(const struct vmm *vmm)
{
	return vmm->state == API_VM_NOT_STARTED && !vmm->vm_built && !vmm->cfg.has_boot_source &&
	       !vmm->cfg.nr_drives && !vmm->cfg.nr_net && !vmm->cfg.vsock.present && !vmm->cfg.balloon.present &&
	       !vmm->cfg.entropy.present;
}

static void vmm_snapshot_load(struct vmm *vmm, const struct api_snapshot_load *l, struct api_result *res)
{
	struct snapshot_load_params p = {
		.snapshot_path = l->snapshot_path,
		.backend = l->backend == API_MEM_BACKEND_UFFD ? SNAPSHOT_BACKEND_UFFD : SNAPSHOT_BACKEND_FILE,
		.backend_path = l->backend_path,
		.track_dirty_pages = l->track_dirty_pages,
	};
	char err[VM_ERR_MAX] = "";
	uint64_t t0 = vm_now_ns();
	int r;

	if (!vmm_is_fresh(vmm)) {
		api_result_fail(res, -EPERM, "Loading a microVM snapshot not allowed after configuring "
				"boot-specific resources.");
		return;
	}
	/* The overrides are checked against the snapshot's devices by
	 * snapshot_load. */
	if (l->nr_net_overrides > SNAPSHOT_MAX_NET_OVERRIDES) {
		api_result_fail(res, -EINVAL, "Load snapshot error: network_overrides: %u entries, a VM has at "
				"most %d network interfaces", l->nr_net_overrides, SNAPSHOT_MAX_NET_OVERRIDES);
		return;
	}
	p.nr_net_overrides = l->nr_net_overrides;
	for (unsigned int i = 0; i < l->nr_net_overrides; i++)
		p.net_overrides[i] = (struct snapshot_net_override){ l->net_overrides[i].iface_id,
								     l->net_overrides[i].host_dev_name };
	if (l->has_vsock_override)
		p.vsock_uds_path = l->vsock_uds_path;
	vm_config_free(&vmm->cfg);
	vm_config_init(&vmm->cfg);
	r = snapshot_load(&vmm->vm, &vmm->cfg, &vmm->vm_opt, &p, err);
	if (r) {
		vm_config_free(&vmm->cfg);
		vm_config_init(&vmm->cfg);
		LOG_ERR("cannot load the snapshot: %s", err);
		api_result_fail(res, r, "Load snapshot error: %s", err);
		return;
	}
	vmm->vm_built = true;
	/* Parked before they first run unless asked to resume: the VM is then
	 * Paused, as Firecracker leaves it. */
	if (!l->resume_vm)
		for (unsigned int i = 0; i < vmm->vm.vcpus_created; i++)
			vcpu_request(&vmm->vm.vcpus[i], VCPU_PAUSE);
	console_raw_enter(vmm->vm_opt.serial_in_fd);
	r = vm_start(&vmm->vm, err);
	if (!r)
		r = vmm_loop_add_vm(vmm, err);
	if (r) {
		gmem_dirty_disable(&vmm->vm.mem); /* vm_destroy does not know of it */
		vm_destroy(&vmm->vm);
		vmm->vm_built = false;
		console_restore();
		vm_config_free(&vmm->cfg);
		vm_config_init(&vmm->cfg);
		api_result_fail(res, r, "Load snapshot error: %s", err);
		return;
	}
	snapshot_kick_queues(&vmm->vm);
	vmm->state = l->resume_vm ? API_VM_RUNNING : API_VM_PAUSED;
	LOG_INFO("snapshot %s loaded (%s backend) in %llu us: %u vCPU(s), %llu MiB, %s", l->snapshot_path,
		 p.backend == SNAPSHOT_BACKEND_UFFD ? "Uffd" : "File",
		 (unsigned long long)((vm_now_ns() - t0) / 1000), vmm->cfg.machine.vcpu_count,
		 (unsigned long long)vmm->cfg.machine.mem_size_mib, l->resume_vm ? "running" : "paused");
}

void vmm_api_snapshot(struct vmm *vmm, const struct api_request *req, struct api_result *res)
{
	if (req->op == API_OP_SNAPSHOT_CREATE) {
		KILN_PROBE(snapshot_create_start);
		vmm_snapshot_create(vmm, &req->u.snapshot_create, res);
		KILN_PROBE(snapshot_create_end, res->err);
	} else {
		KILN_PROBE(snapshot_load_start);
		vmm_snapshot_load(vmm, &req->u.snapshot_load, res);
		KILN_PROBE(snapshot_load_end, res->err);
	}
}
