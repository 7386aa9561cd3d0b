/*
 * A 16550A UART as the guest's console (COM1: port 0x3f8, 8 ports, IRQ 4).
 *
 * Transmit never blocks the guest's view: a THR write goes straight to the
 * output sink and LSR reports THRE|TEMT again at once.  Receive is a 64-byte
 * FIFO that the VMM thread fills with serial8250_rx_push(); bytes that do not
 * fit are refused, never overwritten, so the VMM keeps them until the guest has
 * drained the FIFO (rx_drained).
 *
 * Threads: vCPU threads call the bus ops, the VMM thread calls rx_push and the
 * metrics/snapshot functions; every entry point takes the device mutex.
 */
#ifndef KILN_SERIAL8250_H
#define KILN_SERIAL8250_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "devices/irq_line.h"
#include "vmm/bus/bus.h"
#include "vmm/compiler.h"

#define SERIAL8250_NR_PORTS 8
#define SERIAL8250_FIFO_SIZE 64

struct serial8250_ops {
	/* Receives each byte the guest transmits (outside loopback).  Returns the
	 * bytes taken or -errno; what it does not take is dropped and counted, the
	 * guest is never stalled.  Called from a vCPU thread with the device lock
	 * held (so bytes from several vCPUs stay ordered): it must not block for
	 * long and must not call back into this device.  Required. */
	ssize_t (*out)(void *opaque, const uint8_t *buf, size_t len);
	/* Optional.  The device can take input again after it may have refused
	 * some: the guest read the FIFO empty, cleared it through FCR, or left
	 * loopback mode.  Called from a vCPU thread without the lock held, so it
	 * may call serial8250_rx_push(); typically it kicks the VMM's eventfd. */
	void (*rx_drained)(void *opaque);
};

/* Guest-visible state for snapshots: plain values, no pointers.  Bits that are
 * derived (LSR.DR/THRE/TEMT, the MSR lines, IIR) are recomputed, not stored. */
struct serial8250_state {
	uint8_t dll, dlm;     /* divisor latch */
	uint8_t ier;          /* low 4 bits only, as on a 16550A */
	uint8_t lcr;
	uint8_t mcr;          /* low 5 bits: DTR RTS OUT1 OUT2 LOOP */
	uint8_t fcr;          /* FIFO enable, DMA mode and trigger bits (0xc9) */
	uint8_t scr;
	uint8_t lsr_err;      /* latched LSR.OE, cleared by reading LSR */
	uint8_t msr_delta;    /* MSR bits 0..3, cleared by reading MSR */
	uint8_t thr_pending;  /* THR-empty interrupt latched (0/1) */
	uint8_t rx_head;      /* index of the oldest byte, < 64 */
	uint8_t rx_count;     /* bytes in the FIFO, <= 64 */
	uint8_t rx_fifo[SERIAL8250_FIFO_SIZE];
};

/* Host-side counters; not guest state, not saved. */
struct serial8250_metrics {
	uint64_t tx_bytes;     /* bytes the output sink took */
	uint64_t tx_dropped;   /* bytes the sink refused or failed on */
	uint64_t rx_bytes;     /* bytes accepted by rx_push */
	uint64_t missed_reads; /* guest RBR reads that found the FIFO empty */
	uint64_t rx_overruns;  /* loopback bytes lost to a full FIFO (LSR.OE) */
};

/* Embedded in the VM; fields are private to serial8250.c and its tests. */
struct serial8250 {
	pthread_mutex_t lock;
	struct serial8250_state st;
	struct serial8250_metrics metrics;
	struct serial8250_ops ops;
	void *opaque;
	struct irq_line irq;
	int irq_level; /* level last driven on irq */
};

/* Register file for bus_insert(bus, 0x3f8, SERIAL8250_NR_PORTS, ...) with the
 * device as opaque.  A wider access is split into byte accesses at
 * offset, offset + 1, ... as an ISA bus does; bytes past port 7 read 0xff. */
extern const struct bus_dev_ops serial8250_bus_ops;

/* Power-on state (LSR THRE|TEMT, MSR DCD|DSR|CTS, IRQ low).  irq is copied.
 * 0, or -EINVAL (no out sink, no irq) or the error of pthread_mutex_init. */
int serial8250_init(struct serial8250 *s, const struct serial8250_ops *ops, void *opaque,
		    const struct irq_line *irq) __must_check;
void serial8250_destroy(struct serial8250 *s);

/* Queues up to len input bytes; returns how many fit (0 in loopback mode,
 * where the receiver is disconnected from the outside). */
size_t serial8250_rx_push(struct serial8250 *s, const uint8_t *buf, size_t len);
/* Bytes rx_push would accept now. */
size_t serial8250_rx_space(struct serial8250 *s);

void serial8250_metrics_get(struct serial8250 *s, struct serial8250_metrics *m);

void serial8250_save(struct serial8250 *s, struct serial8250_state *st);
/* Validates st first (it is untrusted input) and leaves the device untouched
 * on -EINVAL; on success drives the IRQ line to the restored level. */
int serial8250_restore(struct serial8250 *s, const struct serial8250_state *st) __must_check;

#endif
