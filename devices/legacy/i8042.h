/*
 * Just enough of the PC keyboard controller (i8042) for a Linux guest booted
 * with "i8042.noaux i8042.nomux i8042.dumbkbd": the controller self test and
 * command byte, keyboard command ACKs, the CPU reset line (command 0xFE, how
 * "reboot=k" restarts) and Ctrl+Alt+Del injection (how the VMM asks the guest
 * to shut down).  No mouse, no typematic keys.
 *
 * One bus range of I8042_NR_PORTS bytes at port 0x60: offset 0 is the data
 * port 0x60, offset 1 is port 0x61 (reads 0, writes ignored), offset 4 is the
 * status/command port 0x64; offsets 2 and 3 read 0.
 *
 * Interrupts are edges on IRQ 1: a pulse each time a keyboard byte reaches the
 * head of the output buffer while the command byte enables the keyboard
 * interrupt.  Replies to controller commands (0x20, 0xAA, ...) raise none:
 * Linux polls for those.
 */
#ifndef KILN_I8042_H
#define KILN_I8042_H

#include <pthread.h>
#include <stdint.h>

#include "devices/irq_line.h"
#include "vmm/bus/bus.h"
#include "vmm/compiler.h"

#define I8042_NR_PORTS 5
#define I8042_BUF_SIZE 16

struct i8042_ops {
	/* The guest pulsed the CPU reset line (controller command 0xFE).  Called
	 * from a vCPU thread without the device lock held; the VMM ends or resets
	 * the VM.  Required. */
	void (*reset)(void *opaque);
};

/* Guest-visible state for snapshots; OBF and the keylock bit are derived. */
struct i8042_state {
	uint8_t ctr;       /* controller command byte (0x20 / 0x60) */
	uint8_t status;    /* latched status bits: SYS (0x04) and CMD (0x08) only */
	uint8_t ctl_cmd;   /* controller command waiting for its data byte, or 0 */
	uint8_t kbd_cmd;   /* keyboard command waiting for its argument, or 0 */
	uint8_t outport;   /* output port (0xD0 / 0xD1) */
	uint8_t mode;      /* controller mode (0xCA / 0xCB) */
	uint8_t buf_head;  /* < I8042_BUF_SIZE */
	uint8_t buf_count; /* <= I8042_BUF_SIZE */
	uint8_t buf[I8042_BUF_SIZE];
};

/* Embedded in the VM; fields are private to i8042.c and its tests. */
struct i8042 {
	pthread_mutex_t lock;
	struct i8042_state st;
	struct i8042_ops ops;
	void *opaque;
	struct irq_line irq;
};

/* Register file for bus_insert(bus, 0x60, I8042_NR_PORTS, ...).  Wider
 * accesses are split into byte accesses; bytes past offset 4 read 0xff. */
extern const struct bus_dev_ops i8042_bus_ops;

/* State a PC BIOS leaves: command byte 0x45 (keyboard interrupt, system flag,
 * set-2-to-set-1 translation on), self test passed, buffer empty.  irq is
 * copied.  0, -EINVAL (no reset callback, no irq) or pthread_mutex_init's error. */
int i8042_init(struct i8042 *dev, const struct i8042_ops *ops, void *opaque,
	       const struct irq_line *irq) __must_check;
void i8042_destroy(struct i8042 *dev);

/* Queues a Ctrl+Alt+Del press as the guest would read it, so Linux's atkbd
 * calls ctrl_alt_del(): 0x1d 0x38 0xe0 0x53 with translation on, the raw set-2
 * codes 0x14 0x11 0xe0 0x71 with it off (see i8042.c).  All or nothing:
 * 0, or -ENOSPC when the buffer lacks room for the four bytes. */
int i8042_send_ctrl_alt_del(struct i8042 *dev) __must_check;

void i8042_save(struct i8042 *dev, struct i8042_state *st);
/* Validates st first (untrusted input); -EINVAL leaves the device untouched.
 * On success pulses IRQ 1 if a keyboard byte is waiting, so a guest that
 * missed the edge still drains the buffer. */
int i8042_restore(struct i8042 *dev, const struct i8042_state *st) __must_check;

#endif
