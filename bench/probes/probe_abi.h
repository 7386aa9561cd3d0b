/*
 * What kiln.bpf.c and kiln-probe share: map keys, the ring-buffer sample
 * and the timeline mark indexes.  Included by the BPF program (after
 * vmlinux.h, so only the kernel's __u8/__u16/__u32/__u64) and by user space
 * (after <linux/types.h>).  Changing a layout here changes both sides.
 */
#ifndef KILN_PROBE_ABI_H
#define KILN_PROBE_ABI_H

/* Timeline marks: first-occurrence times (bpf_ktime_get_ns, CLOCK_MONOTONIC). */
enum probe_mark {
	MARK_EXEC,              /* sched_process_exec of the traced process */
	MARK_BUILD_START,       /* USDT vm_build_start */
	MARK_BUILD_END,         /* USDT vm_build_end */
	MARK_FIRST_RUN,         /* USDT vcpu_first_run (any vCPU: the first is vCPU 0) */
	MARK_FIRST_EXIT,        /* first kvm_userspace_exit */
	MARK_FIRST_PIO,         /* first kvm_pio */
	MARK_FIRST_MMIO,        /* first kvm_mmio */
	MARK_BOOT_WRITE,        /* kvm_mmio: the guest wrote 123 to the boot-timer address */
	MARK_BOOT_TIMER,        /* USDT boot_timer (kiln's device saw that write) */
	MARK_API_READY,         /* USDT api_socket_ready */
	MARK_SNAP_CREATE_START, /* USDT snapshot_create_start (the first snapshot) */
	MARK_SNAP_CREATE_END,   /* USDT snapshot_create_end */
	MARK_SNAP_LOAD_START,   /* USDT snapshot_load_start */
	MARK_SNAP_LOAD_END,     /* USDT snapshot_load_end */
	MARK_LAST_EXIT,         /* latest kvm_userspace_exit (updated every time) */
	MARK_MAX,
};

/* Plain event counts for tracepoints that carry nothing we key on. */
enum probe_event {
	EVENT_KVM_EXIT,         /* kvm:kvm_exit: every guest exit (never fires on PVM) */
	EVENT_KVM_ENTRY,        /* kvm:kvm_entry: every guest entry */
	EVENT_EMULATE_INSN,     /* kvm:kvm_emulate_insn: instructions KVM emulated */
	EVENT_MAX,
};

/* Counters are split at the boot-timer write: phase 0 before it ("during
 * boot"), phase 1 after. */
struct exit_key {
	__u32 reason;           /* KVM_EXIT_* */
	__u32 phase;
};

struct pio_key {
	__u16 port;
	__u8 write;             /* 1 = OUT */
	__u8 size;
	__u32 phase;
};

struct mmio_key {
	__u64 gpa;
	__u32 type;             /* 0 unsatisfied read (went to the VMM), 1 read done, 2 write */
	__u32 phase;
};

enum probe_sample_kind {
	SAMPLE_NOTIFY_TO_HANDLED,  /* guest QueueNotify write -> VMM thread handles the queue */
	SAMPLE_HANDLED_TO_DONE,    /* the device's process() for the queue */
	SAMPLE_HANDLED_TO_IRQ,     /* VMM thread handles the queue -> interrupt signalled */
	SAMPLE_NOTIFY_TO_IRQ,      /* guest QueueNotify write -> interrupt signalled */
	SAMPLE_API,                /* API request start -> response logged */
	SAMPLE_KIND_MAX,
};

#define PROBE_TEXT_MAX 64
#define PROBE_MAX_VCPUS 64      /* first-KVM_RUN times kept per vCPU id below this */

struct probe_sample {
	__u64 ns;
	__u32 kind;
	__u32 slot;             /* virtio slot, or the HTTP status for SAMPLE_API */
	__u32 queue;
	__u32 pad;
	char text[PROBE_TEXT_MAX]; /* SAMPLE_API: "METHOD url" */
};

/* Where kiln puts its devices (vmm/boot/layout.h); the BPF program needs
 * them to turn a guest address into a queue notification. */
#define PROBE_BOOT_TIMER_GPA    0xc0000000ULL
#define PROBE_BOOT_TIMER_MAGIC  123
#define PROBE_VIRTIO_BASE       0xc0001000ULL
#define PROBE_VIRTIO_STRIDE     0x1000ULL
#define PROBE_VIRTIO_SLOTS      32
#define PROBE_VIRTIO_NOTIFY     0x50    /* QueueNotify register */
#define PROBE_VIRTIO_STATUS     0x70    /* Status register */

#endif
