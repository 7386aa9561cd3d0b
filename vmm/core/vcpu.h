/*
 * vCPU threads.  Each vCPU runs KVM_RUN in its own thread and only emulates
 * device registers through the VM's buses; it never blocks on I/O.  The VMM
 * thread controls it through vcpu_request(): the request is stored, then the
 * vCPU is kicked out of KVM_RUN with immediate_exit plus a signal.
 */
#ifndef KILN_VCPU_H
#define KILN_VCPU_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "vmm/compiler.h"

struct vm;

/* Exits to userspace, counted by kind (for metrics, benchmarks, budgets). */
enum vcpu_exit_kind {
	VCPU_EXIT_IO_IN,
	VCPU_EXIT_IO_OUT,
	VCPU_EXIT_MMIO_READ,
	VCPU_EXIT_MMIO_WRITE,
	VCPU_EXIT_HLT,
	VCPU_EXIT_SHUTDOWN,
	VCPU_EXIT_SYSTEM_EVENT,
	VCPU_EXIT_INTR, /* KVM_RUN returned EINTR: a kick or a signal */
	VCPU_EXIT_OTHER,
	VCPU_EXIT_NR
};

extern const char *const vcpu_exit_kind_names[VCPU_EXIT_NR];

enum vcpu_request {
	VCPU_RUN = 0, /* no request: keep running */
	VCPU_PAUSE,
	VCPU_STOP,
};

struct vcpu {
	struct vm *vm;
	unsigned int id;
	int fd;
	struct kvm_run *run; /* mmap of fd */
	pthread_t thread;
	bool thread_started;

	pthread_mutex_t lock;    /* protects request/paused with cond */
	pthread_cond_t cond;
	_Atomic int request;     /* enum vcpu_request */
	bool paused;             /* the thread is parked in a pause */

	uint64_t first_run_ns;   /* CLOCK_MONOTONIC at the first KVM_RUN */
	_Atomic uint64_t exits[VCPU_EXIT_NR];
};

/* Creates the KVM vCPU, maps its kvm_run, sets CPUID, MSRs, FPU and LAPIC LINTs.
 * Boot registers are set separately (vcpu_set_boot_state) on the boot CPU only:
 * APs wait for INIT/SIPI as on real hardware. */
int vcpu_create(struct vcpu *vcpu, struct vm *vm, unsigned int id) __must_check;

/* Sets registers for the entry protocol (boot CPU). */
int vcpu_set_boot_state(struct vcpu *vcpu, int boot_kind, uint64_t entry, uint64_t boot_info) __must_check;

/* Starts the thread; it runs until a STOP request or a VM-ending exit. */
int vcpu_start(struct vcpu *vcpu) __must_check;

/* Stores a request and kicks the vCPU out of KVM_RUN. */
void vcpu_request(struct vcpu *vcpu, enum vcpu_request req);

/* Waits until a PAUSE request took effect (the thread is parked). */
void vcpu_wait_paused(struct vcpu *vcpu);

/* Pauses the vCPU, logs its registers and the bytes at RIP, resumes it. */
void vcpu_dump(struct vcpu *vcpu);

/* STOP + join + close. Safe on a vCPU that was never started. */
void vcpu_destroy(struct vcpu *vcpu);

/* Installs the kick signal handler; call once per process before vcpu_start. */
int vcpu_signals_init(void) __must_check;

#endif
