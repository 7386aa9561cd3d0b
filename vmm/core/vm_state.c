/* VM-wide KVM state for snapshots; see vm_state.h. */
#include "vmm/core/vm_state.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

static int vs_fail(char err[VM_STATE_ERR_MAX], const char *what)
{
	int e = errno;

	snprintf(err, VM_STATE_ERR_MAX, "%s: %s", what, strerror(e));
	return -e;
}

int vm_state_save(int vm_fd, struct snap_vm *s, char err[VM_STATE_ERR_MAX])
{
	struct kvm_irqchip *chips[3] = { &s->pic_master, &s->pic_slave, &s->ioapic };

	memset(s, 0, sizeof(*s));
	for (unsigned int i = 0; i < 3; i++) {
		chips[i]->chip_id = i; /* KVM_IRQCHIP_PIC_MASTER, _PIC_SLAVE, _IOAPIC */
		if (ioctl(vm_fd, KVM_GET_IRQCHIP, chips[i]))
			return vs_fail(err, "KVM_GET_IRQCHIP");
	}
	if (ioctl(vm_fd, KVM_GET_PIT2, &s->pit))
		return vs_fail(err, "KVM_GET_PIT2");
	if (ioctl(vm_fd, KVM_GET_CLOCK, &s->clock))
		return vs_fail(err, "KVM_GET_CLOCK");
	return 0;
}

int vm_state_restore(int vm_fd, const struct snap_vm *s, char err[VM_STATE_ERR_MAX])
{
	struct kvm_irqchip chip;
	struct kvm_clock_data clock = { .clock = s->clock.clock };
	const struct kvm_irqchip *chips[3] = { &s->pic_master, &s->pic_slave, &s->ioapic };

	for (unsigned int i = 0; i < 3; i++) {
		chip = *chips[i];
		chip.chip_id = i;
		if (ioctl(vm_fd, KVM_SET_IRQCHIP, &chip))
			return vs_fail(err, "KVM_SET_IRQCHIP");
	}
	if (ioctl(vm_fd, KVM_SET_PIT2, &s->pit))
		return vs_fail(err, "KVM_SET_PIT2");
	/* flags 0: the saved value as it is, not advanced by the host's time. */
	if (ioctl(vm_fd, KVM_SET_CLOCK, &clock))
		return vs_fail(err, "KVM_SET_CLOCK");
	return 0;
}
