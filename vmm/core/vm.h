/*
 * A microVM: the KVM VM, its guest memory, buses, devices and vCPUs.  Each VM
 * owns everything it uses (no globals), so tests can build several.
 *
 * Lifecycle: vm_build() from a validated vm_config (memory, irqchip, devices,
 * kernel, vCPUs), vm_start() (vCPU threads), then the VMM thread's event loop
 * (vmm.h) watches exit_evt until something ends the VM: a guest reset/poweroff
 * (exit code 0), an error (non-zero), or SIGTERM/SIGINT.  vm_destroy() undoes
 * it all, also after a vm_build() that failed half-way.
 */
#ifndef KILN_VM_H
#define KILN_VM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/boot/layout.h"
#include "vmm/bus/bus.h"
#include "vmm/compiler.h"
#include "vmm/config/vm_config.h"
#include "vmm/core/drives.h"
#include "vmm/core/kvm_host.h"
#include "vmm/core/legacy.h"
#include "vmm/core/vcpu.h"
#include "vmm/core/virtio_wiring.h"
#include "vmm/mem/gmem.h"

#define VM_ERR_MAX 512

/* Why the VM ended; the process exit code follows from it. */
enum vm_exit_reason {
	VM_EXIT_NONE = 0,
	VM_EXIT_GUEST_RESET,    /* i8042 reset, triple fault, KVM reset event */
	VM_EXIT_GUEST_POWEROFF, /* KVM shutdown event */
	VM_EXIT_SIGNAL,         /* SIGTERM/SIGINT to kiln */
	VM_EXIT_ERROR,          /* emulation failure, KVM error, internal error */
};

struct vm_options {
	const char *kvm_path;  /* default /dev/kvm */
	bool boot_timer;       /* --boot-timer */
	int serial_out_fd;     /* where the console goes (stdout by default) */
	int serial_in_fd;      /* -1: no console input */
	uint64_t main_start_ns; /* CLOCK_MONOTONIC at main(), for start-up figures */
	/* The VMM loop's epoll set and the tag its events carry: devices' host
	 * fds (TAP, sockets, timers) join it through vm_virtio_events(); -1 when
	 * there is no loop (devices that need one then fail to build). */
	int event_epfd;
	uint32_t event_tag;
};

struct vm {
	struct vm_options opt;
	struct kvm_host host;
	int vm_fd;
	struct gmem mem;
	void *ram[2];
	uint64_t ram_size[2];
	struct bus pio;
	struct bus mmio;
	struct legacy_devices legacy;
	struct vm_virtio_dev *virtio[VM_VIRTIO_MAX]; /* slot n: virtio-mmio device n */
	unsigned int nr_virtio;
	struct vm_drive *drives[CONFIG_MAX_DRIVES];  /* in config order (root first) */
	unsigned int nr_drives;
	struct vm_net *nets[CONFIG_MAX_NET_IFACES];  /* network interfaces, in config order */
	unsigned int nr_nets;
	struct vm_vsock *vsock;                      /* NULL without one */
	struct vm_balloon *balloon;
	struct vm_rng *rng;
	/* What the devices add to the kernel command line (space-separated
	 * tokens, appended after the user's boot_args). */
	char cmdline_extra[LAYOUT_CMDLINE_MAX];
	size_t cmdline_extra_len;
	bool dirty_log;              /* RAM slots log dirty pages (track_dirty_pages) */
	bool ram_from_file;          /* RAM maps a snapshot's memory file (File backend) */
	int mem_uffd;                /* restored with the Uffd backend: the userfaultfd, else -1 */
	int mem_handler_conn;        /* and the socket to its page server, else -1 */
	struct vcpu vcpus[CONFIG_MAX_VCPUS];
	unsigned int nr_vcpus;       /* configured */
	unsigned int vcpus_created;  /* how many vcpus[] hold a KVM vCPU */

	int exit_evt;                 /* eventfd: a vCPU or device asks the VMM to end the VM */
	_Atomic int exit_reason;      /* first reason wins */
	char exit_msg[VM_ERR_MAX];    /* set with VM_EXIT_ERROR before exit_evt */
	int exit_signal;              /* with VM_EXIT_SIGNAL: which one */

	uint64_t build_start_ns;      /* CLOCK_MONOTONIC at vm_build() */
	uint64_t build_start_cpu_ns;  /* process CPU time then */
	uint64_t build_end_ns;
};

int vm_build(struct vm *vm, const struct vm_config *cfg, const struct vm_options *opt,
	     char err[VM_ERR_MAX]) __must_check;
/* Where vm_build_restore takes guest RAM from. */
struct vm_mem_source {
	int fd; /* a snapshot's memory file, mapped MAP_PRIVATE region by region in
		 * file order (pages load lazily; guest writes stay private), or -1:
		 * anonymous memory the caller fills (userfaultfd) */
};

/* vm_build for a snapshot restore: memory from src, irqchip, devices and
 * vCPUs as vm_build makes them, but no kernel loaded and no boot registers:
 * the caller loads the saved state before vm_start (vmm/core/snapshot.h).
 * cfg->boot_source is not used. */
int vm_build_restore(struct vm *vm, const struct vm_config *cfg, const struct vm_options *opt,
		     const struct vm_mem_source *src, char err[VM_ERR_MAX]) __must_check;
int vm_start(struct vm *vm, char err[VM_ERR_MAX]) __must_check;

/* Parks every started vCPU and waits until all are parked, at most timeout_ms.
 * 0; -ECANCELED when the VM is ending meanwhile, -ETIMEDOUT: then the vCPUs
 * are let run again. */
int vm_pause(struct vm *vm, unsigned int timeout_ms) __must_check;

/* Lets every vCPU run again (after vm_pause). */
void vm_resume(struct vm *vm);

/* Stops every vCPU thread (they leave KVM_RUN and end); the VM ends next. */
void vm_stop_vcpus(struct vm *vm);

/* Appends one printf-formatted token to the devices' part of the kernel
 * command line (during vm_build, before boot_setup writes it).  0, or -E2BIG
 * when it does not fit. */
int vm_cmdline_add(struct vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3))) __must_check;

/* Ends the VM for reason (thread-safe, first caller wins; msg may be NULL). */
void vm_request_exit(struct vm *vm, enum vm_exit_reason reason, const char *msg);

/* Pauses every vCPU, logs where each one is (registers, instruction bytes),
 * and resumes them: SIGUSR1 asks for it, for debugging a guest that hangs. */
void vm_dump_vcpus(struct vm *vm);

/* Stops and joins vCPUs, frees everything. */
void vm_destroy(struct vm *vm);

/* One-line JSON with start-up figures and exit counts (logged at exit). */
void vm_log_stats(const struct vm *vm);

uint64_t vm_now_ns(void);
uint64_t vm_cpu_now_ns(void);

#endif
