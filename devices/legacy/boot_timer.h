/*
 * Firecracker-compatible boot-time device: the guest's init writes the byte
 * 123 at offset 0 of an MMIO page (0xC0000000) when boot is done, and the VMM
 * logs how long that took since it started building the VM:
 *
 *   Guest-boot-time = <us> us <ms> ms, <cpu us> CPU us <cpu ms> CPU ms
 *
 * (wall time from CLOCK_MONOTONIC, VMM process CPU time from
 * CLOCK_PROCESS_CPUTIME_ID; ms = us / 1000).  Every write whose first byte is
 * 123 at offset 0 signals, whatever its width; other writes are ignored and
 * reads return 0.
 */
#ifndef KILN_BOOT_TIMER_H
#define KILN_BOOT_TIMER_H

#include <pthread.h>
#include <stdint.h>

#include "vmm/bus/bus.h"
#include "vmm/compiler.h"

#define BOOT_TIMER_MMIO_BASE 0xc0000000ULL
#define BOOT_TIMER_MMIO_LEN 0x1000
#define BOOT_TIMER_MAGIC 123

/* What the guest has reported; plain values for snapshots and metrics. */
struct boot_timer_state {
	uint64_t boot_us;     /* wall time of the last signal, 0 before the first */
	uint64_t boot_cpu_us; /* VMM process CPU time at the last signal */
	uint64_t writes;      /* boot-complete signals (writes of 123) seen */
};

/* Called from the vCPU thread after each signal, without the lock held, with a
 * copy of the state; it may call boot_timer_get(). */
typedef void (*boot_timer_hook_fn)(void *opaque, const struct boot_timer_state *st);

/* Embedded in the VM; fields are private to boot_timer.c and its tests. */
struct boot_timer {
	pthread_mutex_t lock;
	struct boot_timer_state st;
	uint64_t start_mono_ns;
	uint64_t start_cpu_ns;
	boot_timer_hook_fn hook;
	void *hook_opaque;
};

/* Register file for bus_insert(mmio_bus, BOOT_TIMER_MMIO_BASE, BOOT_TIMER_MMIO_LEN, ...). */
extern const struct bus_dev_ops boot_timer_bus_ops;

/* start_*_ns: the instant the VMM began building the VM, read from
 * CLOCK_MONOTONIC and CLOCK_PROCESS_CPUTIME_ID.  0 or pthread_mutex_init's error. */
int boot_timer_init(struct boot_timer *bt, uint64_t start_mono_ns, uint64_t start_cpu_ns) __must_check;
void boot_timer_destroy(struct boot_timer *bt);

/* Optional; set before the vCPUs run.  hook NULL removes it. */
void boot_timer_set_hook(struct boot_timer *bt, boot_timer_hook_fn hook, void *opaque);

/* The current state, for metrics and benchmarks (same as a save). */
void boot_timer_get(struct boot_timer *bt, struct boot_timer_state *st);

void boot_timer_save(struct boot_timer *bt, struct boot_timer_state *st);
/* -EINVAL (device untouched) when st reports a boot time without a signal. */
int boot_timer_restore(struct boot_timer *bt, const struct boot_timer_state *st) __must_check;

#endif
