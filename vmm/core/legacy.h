/*
 * The VM's legacy devices, wired: the 8250 console at COM1, the i8042 (reset
 * and Ctrl-Alt-Del), and the boot-timer MMIO device when asked for.
 */
#ifndef KILN_LEGACY_H
#define KILN_LEGACY_H

#include <stdint.h>

#include "vmm/compiler.h"

struct vm;
struct serial8250;
struct i8042;
struct boot_timer;

struct legacy_devices {
	struct serial8250 *serial;
	struct i8042 *i8042;
	struct boot_timer *boot_timer; /* NULL without --boot-timer */
	int serial_rx_evt;             /* eventfd: the guest drained the RX FIFO */
};

int legacy_devices_create(struct vm *vm, char err[512]) __must_check;
void legacy_devices_destroy(struct vm *vm);

/* Moves console input from fd into the UART, as much as its FIFO takes.
 * 0 when all read bytes were taken or none were available, -ENOSPC when the FIFO
 * is full (stop polling fd until serial_rx_evt fires), -EPIPE at end of input. */
int legacy_console_rx(struct vm *vm, int fd);

/* Ctrl-Alt-Del through the i8042 (the guest's orderly reboot).  0 or -errno. */
int legacy_send_ctrl_alt_del(struct vm *vm);

/* The boot-timer figures (0 until the guest wrote the boot-complete byte). */
uint64_t legacy_boot_time_us(const struct legacy_devices *legacy);
uint64_t legacy_boot_cpu_time_us(const struct legacy_devices *legacy);

#endif
