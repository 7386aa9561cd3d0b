/* The VM's devices beyond block, built in a fixed order; see vm_devices.h. */
#include "vmm/core/vm_devices.h"

#include "vmm/core/vm.h"

int vm_devices_create(struct vm *vm, const struct vm_config *cfg, char err[512])
{
	int ret = vm_nets_create(vm, cfg, err);

	if (!ret && cfg->vsock.present)
		ret = vm_vsock_create(vm, &cfg->vsock, err);
	if (!ret && cfg->balloon.present)
		ret = vm_balloon_create(vm, &cfg->balloon, cfg->machine.mem_size_mib, err);
	if (!ret && cfg->entropy.present)
		ret = vm_rng_create(vm, &cfg->entropy, err);
	return ret;
}

void vm_devices_destroy(struct vm *vm)
{
	vm_rng_destroy(vm);
	vm_balloon_destroy(vm);
	vm_vsock_destroy(vm);
	vm_nets_destroy(vm);
}
