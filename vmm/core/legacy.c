/* Wiring of the 8250, i8042 and boot timer into a VM; see legacy.h. */
#include "vmm/core/legacy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "devices/legacy/boot_timer.h"
#include "devices/legacy/i8042.h"
#include "devices/legacy/serial8250.h"
#include "vmm/boot/layout.h"
#include "vmm/core/vm.h"
#include "vmm/log/log.h"

/* ISA lines go through KVM_IRQ_LINE: the in-kernel PIC and IOAPIC see the
 * level the device drives, like a wire. */
static void legacy_irq_set(void *opaque, unsigned int gsi, int level)
{
	struct vm *vm = opaque;
	struct kvm_irq_level irq = { .irq = gsi, .level = (uint32_t)level };

	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq))
		LOG_WARN("KVM_IRQ_LINE %u=%d: %s", gsi, level, strerror(errno));
}

static ssize_t legacy_serial_out(void *opaque, const uint8_t *buf, size_t len)
{
	struct vm *vm = opaque;
	ssize_t n = write(vm->opt.serial_out_fd, buf, len);

	return n < 0 ? -errno : n;
}

static void legacy_serial_drained(void *opaque)
{
	struct vm *vm = opaque;
	uint64_t one = 1;

	if (write(vm->legacy.serial_rx_evt, &one, sizeof(one)) < 0) {
		/* The counter only saturates if the VMM thread is gone. */
	}
}

static void legacy_i8042_reset(void *opaque)
{
	struct vm *vm = opaque;

	/* Linux pulses the reset line up to ten times; say it once. */
	if (atomic_load(&vm->exit_reason) == VM_EXIT_NONE)
		LOG_INFO("guest reset through the i8042");
	vm_request_exit(vm, VM_EXIT_GUEST_RESET, NULL);
}

static const struct serial8250_ops serial_ops = {
	.out = legacy_serial_out,
	.rx_drained = legacy_serial_drained,
};

static const struct i8042_ops i8042_ops = { .reset = legacy_i8042_reset };

static int legacy_insert(struct bus *bus, uint64_t base, uint64_t len, const struct bus_dev_ops *ops,
			 void *dev, const char *name, char err[VM_ERR_MAX])
{
	int ret = bus_insert(bus, base, len, ops, dev, name);

	if (ret)
		snprintf(err, VM_ERR_MAX, "%s at 0x%llx: %s", name, (unsigned long long)base, strerror(-ret));
	return ret;
}

int legacy_devices_create(struct vm *vm, char err[VM_ERR_MAX])
{
	struct legacy_devices *l = &vm->legacy;
	struct irq_line com1 = { .set_level = legacy_irq_set, .opaque = vm, .gsi = LAYOUT_IRQ_COM1 };
	struct irq_line kbd = { .set_level = legacy_irq_set, .opaque = vm, .gsi = LAYOUT_IRQ_I8042 };
	int ret;

	l->serial_rx_evt = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	l->serial = calloc(1, sizeof(*l->serial));
	l->i8042 = calloc(1, sizeof(*l->i8042));
	if (l->serial_rx_evt < 0 || !l->serial || !l->i8042) {
		snprintf(err, VM_ERR_MAX, "legacy devices: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	ret = serial8250_init(l->serial, &serial_ops, vm, &com1);
	if (ret) {
		free(l->serial);
		l->serial = NULL;
		snprintf(err, VM_ERR_MAX, "serial: %s", strerror(-ret));
		return ret;
	}
	ret = i8042_init(l->i8042, &i8042_ops, vm, &kbd);
	if (ret) {
		free(l->i8042);
		l->i8042 = NULL;
		snprintf(err, VM_ERR_MAX, "i8042: %s", strerror(-ret));
		return ret;
	}
	ret = legacy_insert(&vm->pio, LAYOUT_PIO_COM1, SERIAL8250_NR_PORTS, &serial8250_bus_ops, l->serial,
			    "serial", err) ?:
	      legacy_insert(&vm->pio, LAYOUT_PIO_I8042, I8042_NR_PORTS, &i8042_bus_ops, l->i8042, "i8042", err);
	if (ret || !vm->opt.boot_timer)
		return ret;
	l->boot_timer = calloc(1, sizeof(*l->boot_timer));
	if (!l->boot_timer)
		return -ENOMEM;
	ret = boot_timer_init(l->boot_timer, vm->build_start_ns, vm->build_start_cpu_ns);
	if (ret) {
		free(l->boot_timer);
		l->boot_timer = NULL;
		snprintf(err, VM_ERR_MAX, "boot timer: %s", strerror(-ret));
		return ret;
	}
	return legacy_insert(&vm->mmio, LAYOUT_BOOT_TIMER, LAYOUT_BOOT_TIMER_LEN, &boot_timer_bus_ops,
			     l->boot_timer, "boot-timer", err);
}

void legacy_devices_destroy(struct vm *vm)
{
	struct legacy_devices *l = &vm->legacy;

	if (l->boot_timer) {
		boot_timer_destroy(l->boot_timer);
		free(l->boot_timer);
	}
	if (l->i8042) {
		i8042_destroy(l->i8042);
		free(l->i8042);
	}
	if (l->serial) {
		serial8250_destroy(l->serial);
		free(l->serial);
	}
	if (l->serial_rx_evt > 0)
		close(l->serial_rx_evt);
	memset(l, 0, sizeof(*l));
	l->serial_rx_evt = -1;
}

int legacy_console_rx(struct vm *vm, int fd)
{
	uint8_t buf[SERIAL8250_FIFO_SIZE];
	size_t space = serial8250_rx_space(vm->legacy.serial);
	ssize_t n;

	if (!space)
		return -ENOSPC;
	/* Read no more than fits, so no byte is ever dropped. */
	n = read(fd, buf, space < sizeof(buf) ? space : sizeof(buf));
	if (n == 0)
		return -EPIPE;
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -EPIPE;
	serial8250_rx_push(vm->legacy.serial, buf, (size_t)n);
	return serial8250_rx_space(vm->legacy.serial) ? 0 : -ENOSPC;
}

int legacy_send_ctrl_alt_del(struct vm *vm)
{
	return vm->legacy.i8042 ? i8042_send_ctrl_alt_del(vm->legacy.i8042) : -ENODEV;
}

uint64_t legacy_boot_time_us(const struct legacy_devices *l)
{
	struct boot_timer_state st = { 0 };

	if (l->boot_timer)
		boot_timer_get(l->boot_timer, &st);
	return st.boot_us;
}

uint64_t legacy_boot_cpu_time_us(const struct legacy_devices *l)
{
	struct boot_timer_state st = { 0 };

	if (l->boot_timer)
		boot_timer_get(l->boot_timer, &st);
	return st.boot_cpu_us;
}
