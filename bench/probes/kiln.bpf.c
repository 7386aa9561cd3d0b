// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
/*
 * kiln-probe's BPF side: KVM tracepoints (raw_tp: no tracefs needed) and
 * kiln's USDT markers (vmm/probe.h), filtered to one process, folded into
 * counters (hash maps), first-occurrence times (an array) and latency
 * samples (a ring buffer).  User space (kiln_probe.c) sets target_tgid
 * before loading.
 *
 * Tracepoints are system-wide: every program returns at once unless the
 * current thread belongs to target_tgid (the KVM tracepoints fire in the
 * vCPU thread inside KVM_RUN, so "current" is the VMM).
 */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

#include "probe_abi.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile __u32 target_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MARK_MAX);
	__type(key, __u32);
	__type(value, __u64);
} marks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct exit_key);
	__type(value, __u64);
} exits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct pio_key);
	__type(value, __u64);
} pio SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, struct mmio_key);
	__type(value, __u64);
} mmio SEC(".maps");

/* First DRIVER_OK write to each virtio slot's Status register. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PROBE_VIRTIO_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} activated SEC(".maps");

/* First KVM_RUN of each vCPU (USDT vcpu_first_run). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PROBE_MAX_VCPUS);
	__type(key, __u32);
	__type(value, __u64);
} vcpu_first_run SEC(".maps");

/* Oldest QueueNotify not yet handled, per (slot << 16 | queue). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} notify_pending SEC(".maps");

/* The queue a slot's VMM-thread handling is on, for the interrupt that follows. */
struct slot_state {
	__u64 notify_ns;        /* 0: the wake-up had no traced notify (e.g. attached late) */
	__u64 handled_ns;
	__u32 queue;
	__u32 irq_seen;         /* the interrupt for this handling was counted already */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PROBE_VIRTIO_SLOTS);
	__type(key, __u32);
	__type(value, struct slot_state);
} slots SEC(".maps");

/* API request start time per server thread. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} api_start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} samples SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EVENT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} events SEC(".maps");

/* Samples the ring buffer had no room for: the report says so. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} dropped SEC(".maps");

static __always_inline bool traced(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

static __always_inline void mark_first(__u32 idx, __u64 now)
{
	__u64 *v = bpf_map_lookup_elem(&marks, &idx);

	if (v && !*v)
		__sync_val_compare_and_swap(v, 0, now);
}

static __always_inline __u64 mark_get(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&marks, &idx);

	return v ? *v : 0;
}

static __always_inline __u32 phase(void)
{
	return mark_get(MARK_BOOT_WRITE) ? 1 : 0;
}

static __always_inline void count(void *map, const void *key)
{
	__u64 one = 1, *v = bpf_map_lookup_elem(map, key);

	if (v) {
		__sync_fetch_and_add(v, 1);
		return;
	}
	if (!bpf_map_update_elem(map, key, &one, BPF_NOEXIST))
		return;
	/* Another CPU created the entry between the lookup and the insert. */
	v = bpf_map_lookup_elem(map, key);
	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline void emit(__u32 kind, __u32 slot, __u32 queue, __u64 ns)
{
	struct probe_sample *s = bpf_ringbuf_reserve(&samples, sizeof(*s), 0);

	if (!s) {
		__u32 zero = 0;
		__u64 *d = bpf_map_lookup_elem(&dropped, &zero);

		if (d)
			__sync_fetch_and_add(d, 1);
		return;
	}
	s->ns = ns;
	s->kind = kind;
	s->slot = slot;
	s->queue = queue;
	s->pad = 0;
	s->text[0] = '\0';
	bpf_ringbuf_submit(s, 0);
}

/* exec of the traced pid: the process-start mark.  The task's tgid comes from
 * the kernel's task_struct through CO-RE, so the program follows the kernel's
 * layout wherever it loads. */
SEC("raw_tp/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	if ((__u32)BPF_CORE_READ(p, tgid) != target_tgid)
		return 0;
	/* The last exec wins: the tool's own exec of the target comes first. */
	__u32 idx = MARK_EXEC;
	__u64 now = bpf_ktime_get_ns();

	bpf_map_update_elem(&marks, &idx, &now, BPF_ANY);
	return 0;
}

static __always_inline void count_event(__u32 ev)
{
	__u64 *v;

	if (!traced())
		return;
	v = bpf_map_lookup_elem(&events, &ev);
	if (v)
		(*v)++;
}

/* The vCPU's exit reason lives in the arch code's private state, so these
 * count events only; where they fire at all (not kvm_exit on PVM). */
SEC("raw_tp/kvm_exit")
int BPF_PROG(on_kvm_exit, struct kvm_vcpu *vcpu, __u32 isa)
{
	count_event(EVENT_KVM_EXIT);
	return 0;
}

SEC("raw_tp/kvm_entry")
int BPF_PROG(on_kvm_entry, struct kvm_vcpu *vcpu, bool immediate_exit)
{
	count_event(EVENT_KVM_ENTRY);
	return 0;
}

SEC("raw_tp/kvm_emulate_insn")
int BPF_PROG(on_emulate_insn, struct kvm_vcpu *vcpu, __u8 failed)
{
	count_event(EVENT_EMULATE_INSN);
	return 0;
}

SEC("raw_tp/kvm_userspace_exit")
int BPF_PROG(on_userspace_exit, __u32 reason, int err)
{
	struct exit_key key = {};
	__u32 last = MARK_LAST_EXIT;
	__u64 now;

	if (!traced())
		return 0;
	now = bpf_ktime_get_ns();
	mark_first(MARK_FIRST_EXIT, now);
	bpf_map_update_elem(&marks, &last, &now, BPF_ANY);
	key.reason = reason;
	key.phase = phase();
	count(&exits, &key);
	return 0;
}

SEC("raw_tp/kvm_pio")
int BPF_PROG(on_pio, unsigned int rw, unsigned int port, unsigned int size, unsigned int cnt,
	     const void *data)
{
	struct pio_key key = {};

	if (!traced())
		return 0;
	mark_first(MARK_FIRST_PIO, bpf_ktime_get_ns());
	key.port = (__u16)port;
	key.write = rw ? 1 : 0;
	key.size = (__u8)size;
	key.phase = phase();
	count(&pio, &key);
	return 0;
}

SEC("raw_tp/kvm_mmio")
int BPF_PROG(on_mmio, int type, int len, __u64 gpa, void *val)
{
	struct mmio_key key = {};
	__u64 now, v = 0;

	if (!traced())
		return 0;
	now = bpf_ktime_get_ns();
	mark_first(MARK_FIRST_MMIO, now);
	key.gpa = gpa;
	key.type = (__u32)type;
	key.phase = phase();
	count(&mmio, &key);

	if (type != 2 /* KVM_TRACE_MMIO_WRITE */ || !val)
		return 0;
	/* val points at the access's data (at least 8 bytes of kernel buffer);
	 * keep the len bytes the guest wrote. */
	if (bpf_probe_read_kernel(&v, sizeof(v), val))
		return 0;
	if (len > 0 && len < 8)
		v &= (1ULL << (len * 8)) - 1;
	if (gpa == PROBE_BOOT_TIMER_GPA && (v & 0xff) == PROBE_BOOT_TIMER_MAGIC) {
		mark_first(MARK_BOOT_WRITE, now);
		return 0;
	}
	if (gpa < PROBE_VIRTIO_BASE || gpa >= PROBE_VIRTIO_BASE + PROBE_VIRTIO_SLOTS * PROBE_VIRTIO_STRIDE)
		return 0;
	__u32 slot = (__u32)((gpa - PROBE_VIRTIO_BASE) / PROBE_VIRTIO_STRIDE);
	__u64 off = (gpa - PROBE_VIRTIO_BASE) % PROBE_VIRTIO_STRIDE;

	if (off == PROBE_VIRTIO_NOTIFY) {
		__u32 key2 = slot << 16 | ((__u32)v & 0xffff);

		bpf_map_update_elem(&notify_pending, &key2, &now, BPF_NOEXIST);
	} else if (off == PROBE_VIRTIO_STATUS && (v & 4 /* DRIVER_OK */)) {
		__u64 *a = bpf_map_lookup_elem(&activated, &slot);

		if (a && !*a)
			*a = now;
	}
	return 0;
}

SEC("usdt")
int BPF_USDT(on_build_start)
{
	mark_first(MARK_BUILD_START, bpf_ktime_get_ns());
	return 0;
}

SEC("usdt")
int BPF_USDT(on_build_end)
{
	mark_first(MARK_BUILD_END, bpf_ktime_get_ns());
	return 0;
}

SEC("usdt")
int BPF_USDT(on_first_run, unsigned int vcpu)
{
	__u64 now = bpf_ktime_get_ns(), *v;

	mark_first(MARK_FIRST_RUN, now);
	v = bpf_map_lookup_elem(&vcpu_first_run, &vcpu);
	if (v && !*v)
		*v = now;
	return 0;
}

SEC("usdt")
int BPF_USDT(on_boot_timer, __u64 boot_us)
{
	mark_first(MARK_BOOT_TIMER, bpf_ktime_get_ns());
	return 0;
}

SEC("usdt")
int BPF_USDT(on_api_ready)
{
	mark_first(MARK_API_READY, bpf_ktime_get_ns());
	return 0;
}

SEC("usdt")
int BPF_USDT(on_snap_create_start)
{
	mark_first(MARK_SNAP_CREATE_START, bpf_ktime_get_ns());
	return 0;
}

SEC("usdt")
int BPF_USDT(on_snap_create_end)
{
	mark_first(MARK_SNAP_CREATE_END, bpf_ktime_get_ns());
	return 0;
}

SEC("usdt")
int BPF_USDT(on_snap_load_start)
{
	mark_first(MARK_SNAP_LOAD_START, bpf_ktime_get_ns());
	return 0;
}

SEC("usdt")
int BPF_USDT(on_snap_load_end)
{
	mark_first(MARK_SNAP_LOAD_END, bpf_ktime_get_ns());
	return 0;
}

SEC("usdt")
int BPF_USDT(on_notify_handled, unsigned int slot, unsigned int queue)
{
	__u64 now = bpf_ktime_get_ns(), *n;
	__u32 key = slot << 16 | (queue & 0xffff);
	struct slot_state st = { .handled_ns = now, .queue = queue };

	n = bpf_map_lookup_elem(&notify_pending, &key);
	if (n) {
		st.notify_ns = *n;
		bpf_map_delete_elem(&notify_pending, &key);
		emit(SAMPLE_NOTIFY_TO_HANDLED, slot, queue, now - st.notify_ns);
	}
	bpf_map_update_elem(&slots, &slot, &st, BPF_ANY);
	return 0;
}

SEC("usdt")
int BPF_USDT(on_process_done, unsigned int slot, unsigned int queue)
{
	struct slot_state *st = bpf_map_lookup_elem(&slots, &slot);
	__u64 now = bpf_ktime_get_ns();

	if (st && st->queue == queue)
		emit(SAMPLE_HANDLED_TO_DONE, slot, queue, now - st->handled_ns);
	return 0;
}

SEC("usdt")
int BPF_USDT(on_irq, unsigned int slot, unsigned int gsi)
{
	struct slot_state *st = bpf_map_lookup_elem(&slots, &slot);
	__u64 now = bpf_ktime_get_ns();

	/* Only the first interrupt after a handling counts: a device that
	 * signals twice for one wake-up does not get two samples. */
	if (!st || st->irq_seen)
		return 0;
	st->irq_seen = 1;
	emit(SAMPLE_HANDLED_TO_IRQ, slot, st->queue, now - st->handled_ns);
	if (st->notify_ns)
		emit(SAMPLE_NOTIFY_TO_IRQ, slot, st->queue, now - st->notify_ns);
	return 0;
}

SEC("usdt")
int BPF_USDT(on_api_start, const char *method, const char *url)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 now = bpf_ktime_get_ns();

	bpf_map_update_elem(&api_start, &tid, &now, BPF_ANY);
	return 0;
}

SEC("usdt")
int BPF_USDT(on_api_end, const char *method, const char *url, unsigned int status)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 now = bpf_ktime_get_ns(), *t;
	struct probe_sample *s;
	long n;

	t = bpf_map_lookup_elem(&api_start, &tid);
	if (!t)
		return 0;
	s = bpf_ringbuf_reserve(&samples, sizeof(*s), 0);
	if (!s) {
		bpf_map_delete_elem(&api_start, &tid);
		return 0;
	}
	s->ns = now - *t;
	s->kind = SAMPLE_API;
	s->slot = status;
	s->queue = 0;
	s->pad = 0;
	n = bpf_probe_read_user_str(s->text, 16, method);
	if (n < 1)
		n = 1;
	s->text[(n - 1) & 15] = ' ';
	bpf_probe_read_user_str(s->text + ((n) & 15), PROBE_TEXT_MAX - 16, url);
	bpf_ringbuf_submit(s, 0);
	bpf_map_delete_elem(&api_start, &tid);
	return 0;
}
