/*
 * kiln's built-in allow-lists, one per thread role; see thread_filter.h.
 *
 * Found by reading the code and by running kiln under `strace -f` through the
 * integration suites (test-guest boot with 1-32 vCPUs, virtio-blk read/write,
 * hostile guest, API calls, pause/resume, Ctrl-Alt-Del, metrics, SIGTERM),
 * plus what the devices being added need (net TAP, vsock over AF_UNIX,
 * balloon, rng, io_uring, rate-limiter timers), each marked as such.
 *
 * Everything a role may do is here; seccomp_policy.c adds write, exit_group
 * and rt_sigreturn to every list (the SIGSYS report) and folds the vcpu list
 * into the vmm list (vCPU threads are created by the VMM thread).  clone3 is
 * answered with ENOSYS in every list (seccomp_policy.c) so glibc falls back to
 * clone(2), whose flags a filter can check: only thread creation passes.
 */
#include <linux/kvm.h>
#include <linux/if_tun.h>
#include <linux/userfaultfd.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <fcntl.h>

#include "vmm/seccomp/seccomp_priv.h"

#define ALLOW(n) { .name = (n) }
/* arg[i] (low 32 bits) == v */
#define ARG_EQ(i, v) { .index = (i), .dword = true, .op = SECCOMP_CMP_EQ, .value = (v) }
/* (arg[i] & m) == v */
#define ARG_MASKED(i, m, v) { .index = (i), .op = SECCOMP_CMP_MASKED_EQ, .mask = (m), .value = (v) }
#define ALLOW_IF(n, ...) { .name = (n), .nargs = 1, .args = { __VA_ARGS__ } }
#define ALLOW_IF2(n, a, b) { .name = (n), .nargs = 2, .args = { a, b } }
#define IOCTL(req) ALLOW_IF("ioctl", ARG_EQ(1, (req)))
#define FCNTL(cmd) ALLOW_IF("fcntl", ARG_EQ(1, (cmd)))

/* What glibc's pthread_create passes to clone(2): a thread sharing
 * everything, never a new process. */
#define THREAD_CLONE_FLAGS                                                                   \
	(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SYSVSEM | CLONE_SIGHAND | CLONE_THREAD |  \
	 CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID)

/* Memory: malloc, thread stacks, guest RAM; never new executable memory. */
#define MEMORY_RULES                                                                         \
	ALLOW_IF("mmap", ARG_MASKED(2, PROT_EXEC, 0)),                                       \
	ALLOW_IF("mprotect", ARG_MASKED(2, PROT_EXEC, 0)),                                   \
	ALLOW("munmap"), ALLOW("brk"), ALLOW("mremap"),                                      \
	/* glibc frees a dead thread's stack and malloc trims with DONTNEED */               \
	ALLOW_IF("madvise", ARG_EQ(2, MADV_DONTNEED))

/* Every thread: locks and condition variables, thread start/exit, clocks
 * (the vDSO falls back to the syscall when the clocksource has no vDSO
 * support, as under PVM). */
#define THREAD_RULES                                                                         \
	ALLOW("futex"), ALLOW("exit"), ALLOW("rt_sigprocmask"),                              \
	ALLOW("set_robust_list"), ALLOW("rseq"),                                             \
	ALLOW("clock_gettime"), ALLOW("gettimeofday"), ALLOW("clock_nanosleep"),             \
	ALLOW("nanosleep"), ALLOW("sched_yield")

/* vCPU threads: KVM_RUN and the exits they handle themselves. */
static struct seccomp_rule vcpu_rules[] = {
	THREAD_RULES,
	/* the vCPU loop */
	IOCTL(KVM_RUN),
	/* a failed vCPU describes where it stopped (vcpu_describe_stop) */
	IOCTL(KVM_GET_REGS), IOCTL(KVM_GET_SREGS), IOCTL(KVM_TRANSLATE),
	/* 8250/i8042 and virtio without irqfd raise their IRQ from the register
	 * write that caused it */
	IOCTL(KVM_IRQ_LINE),
	/* virtio-net activates on the driver's status write (a vCPU MMIO exit)
	 * and sets the TAP's offloads to what was negotiated */
	IOCTL(TUNSETOFFLOAD),
	/* names itself in ps/top (pthread_setname_np) */
	ALLOW_IF("prctl", ARG_EQ(0, PR_SET_NAME)),
	/* console output, eventfd kicks (trapped notify, irqfd, exit request),
	 * log lines: write is in every list */
	ALLOW("writev"),
	/* a device's register handler may allocate (rare: first use of an arena) */
	MEMORY_RULES,
};

/* The VMM thread: event loop, every device backend, building the VM on
 * InstanceStart, pausing, metrics, and the end of the process. */
static struct seccomp_rule vmm_rules[] = {
	THREAD_RULES,
	MEMORY_RULES,
	/* vCPU threads (pthread_create); clone3 gets ENOSYS so this is used */
	ALLOW_IF("clone", ARG_EQ(0, THREAD_CLONE_FLAGS)),
	/* kick a vCPU out of KVM_RUN (pthread_kill = tgkill(getpid(), tid)) */
	ALLOW("tgkill"), ALLOW("getpid"), ALLOW("gettid"),
	/* vcpu_signals_init on InstanceStart */
	ALLOW("rt_sigaction"),
	/* the event loop */
	ALLOW("epoll_wait"), ALLOW("epoll_pwait"), ALLOW("epoll_ctl"), ALLOW("epoll_create1"),
	/* eventfds, signalfd, timerfds, console input, TAP rx, vsock sockets */
	ALLOW("read"), ALLOW("readv"), ALLOW("writev"),
	/* virtio-blk Sync engine */
	ALLOW("pread64"), ALLOW("pwrite64"), ALLOW("preadv"), ALLOW("pwritev"),
	ALLOW("preadv2"), ALLOW("pwritev2"), ALLOW("fsync"), ALLOW("fdatasync"),
	/* virtio-blk discard and write-zeroes */
	ALLOW("fallocate"),
	/* snapshots: the memory file is sized, the state file written under a
	 * temporary name and renamed into place */
	ALLOW("ftruncate"), ALLOW("rename"),
	/* snapshot load with the Uffd backend: the userfaultfd kiln registers its
	 * guest RAM with and hands (SCM_RIGHTS over AF_UNIX) to the page server */
	ALLOW("userfaultfd"), IOCTL(UFFDIO_API), IOCTL(UFFDIO_REGISTER),
	/* balloon statistics (host memory figures) */
	ALLOW("sysinfo"),
	/* machine-config huge_pages: guest RAM asks for transparent huge pages */
	ALLOW_IF("madvise", ARG_EQ(2, MADV_HUGEPAGE)),
	/* kernel, initrd and drive images (InstanceStart, PATCH /drives), log
	 * and metrics sinks (PUT /logger, /metrics): opened, sized, closed */
	ALLOW("openat"), ALLOW("close"), ALLOW("lseek"), ALLOW("newfstatat"), ALLOW("fstat"),
	ALLOW("statx"), ALLOW("access"),
	/* the API socket is removed at exit (api_server_stop) */
	ALLOW("unlink"),
	FCNTL(F_GETFL), FCNTL(F_SETFL), FCNTL(F_GETFD), FCNTL(F_SETFD),
	/* building the VM: exit request, IRQ and notify eventfds */
	ALLOW("eventfd2"),
	/* rate limiters: timerfds armed and read here */
	ALLOW("timerfd_create"), ALLOW("timerfd_settime"), ALLOW("timerfd_gettime"),
	/* virtio-rng */
	ALLOW("getrandom"),
	/* virtio-vsock: AF_UNIX sockets only (host side of each port) */
	ALLOW_IF("socket", ARG_EQ(0, AF_UNIX)),
	ALLOW("connect"), ALLOW("accept4"), ALLOW("bind"), ALLOW("listen"),
	ALLOW("recvfrom"), ALLOW("recvmsg"), ALLOW("sendto"), ALLOW("sendmsg"),
	ALLOW("shutdown"), ALLOW("getsockopt"),
	/* io_uring engine for virtio-blk (Async): set up on InstanceStart */
	ALLOW("io_uring_setup"), ALLOW("io_uring_enter"), ALLOW("io_uring_register"),
	/* balloon: madvise(MADV_DONTNEED) on freed pages is in MEMORY_RULES;
	 * MADV_REMOVE too for shared-memory backing */
	ALLOW_IF("madvise", ARG_EQ(2, MADV_REMOVE)),
	/* KVM: the system fd (InstanceStart) */
	IOCTL(KVM_GET_API_VERSION), IOCTL(KVM_CREATE_VM), IOCTL(KVM_CHECK_EXTENSION),
	IOCTL(KVM_GET_VCPU_MMAP_SIZE), IOCTL(KVM_GET_SUPPORTED_CPUID), IOCTL(KVM_GET_MSR_INDEX_LIST),
	/* KVM: the VM fd */
	IOCTL(KVM_CREATE_VCPU), IOCTL(KVM_SET_USER_MEMORY_REGION), IOCTL(KVM_SET_TSS_ADDR),
	IOCTL(KVM_SET_IDENTITY_MAP_ADDR), IOCTL(KVM_CREATE_IRQCHIP), IOCTL(KVM_CREATE_PIT2),
	IOCTL(KVM_IRQFD), IOCTL(KVM_IOEVENTFD), IOCTL(KVM_IRQ_LINE), IOCTL(KVM_SET_GSI_ROUTING),
	IOCTL(KVM_SIGNAL_MSI),
	/* snapshots (vmm/snapshot): VM-wide state */
	IOCTL(KVM_GET_CLOCK), IOCTL(KVM_SET_CLOCK), IOCTL(KVM_GET_IRQCHIP), IOCTL(KVM_SET_IRQCHIP),
	IOCTL(KVM_GET_PIT2), IOCTL(KVM_SET_PIT2), IOCTL(KVM_GET_DIRTY_LOG),
	/* KVM: vCPU set-up (InstanceStart), the SIGUSR1 dump and snapshots */
	IOCTL(KVM_SET_CPUID2), IOCTL(KVM_GET_CPUID2), IOCTL(KVM_SET_MSRS), IOCTL(KVM_GET_MSRS),
	IOCTL(KVM_GET_FPU), IOCTL(KVM_SET_FPU), IOCTL(KVM_GET_LAPIC), IOCTL(KVM_SET_LAPIC),
	IOCTL(KVM_GET_REGS), IOCTL(KVM_SET_REGS), IOCTL(KVM_GET_SREGS), IOCTL(KVM_SET_SREGS),
	IOCTL(KVM_TRANSLATE), IOCTL(KVM_GET_XSAVE), IOCTL(KVM_SET_XSAVE), IOCTL(KVM_GET_XCRS),
	IOCTL(KVM_SET_XCRS), IOCTL(KVM_GET_VCPU_EVENTS), IOCTL(KVM_SET_VCPU_EVENTS),
	IOCTL(KVM_GET_MP_STATE), IOCTL(KVM_SET_MP_STATE), IOCTL(KVM_GET_DEBUGREGS),
	IOCTL(KVM_SET_DEBUGREGS), IOCTL(KVM_KVMCLOCK_CTRL), IOCTL(KVM_GET_TSC_KHZ),
	IOCTL(KVM_SET_TSC_KHZ),
	/* the console: raw mode while the VM runs, restored at the end */
	IOCTL(TCGETS), IOCTL(TCSETS), IOCTL(TCSETSW), IOCTL(TCSETSF), IOCTL(TIOCGWINSZ),
	/* virtio-net: the TAP opened on PUT /network-interfaces or InstanceStart */
	IOCTL(TUNSETIFF), IOCTL(TUNGETIFF), IOCTL(TUNSETVNETHDRSZ), IOCTL(TUNSETOFFLOAD),
	IOCTL(TUNGETFEATURES),
};

/* The API thread(s): libmicrohttpd serving the Unix socket, and handing each
 * request to the VMM thread over the api_channel. */
static struct seccomp_rule api_rules[] = {
	THREAD_RULES,
	MEMORY_RULES,
	/* libmicrohttpd's own thread, started by MHD_start_daemon */
	ALLOW_IF("clone", ARG_EQ(0, THREAD_CLONE_FLAGS)),
	/* its poll loop and inter-thread wake-up */
	ALLOW("epoll_create1"), ALLOW("epoll_ctl"), ALLOW("epoll_wait"), ALLOW("epoll_pwait"),
	ALLOW("poll"), ALLOW("eventfd2"), ALLOW("pipe2"),
	/* clients: accept, read requests, write responses, close */
	ALLOW("accept4"), ALLOW("recvfrom"), ALLOW("recvmsg"), ALLOW("read"), ALLOW("sendto"),
	ALLOW("sendmsg"), ALLOW("writev"), ALLOW("shutdown"), ALLOW("close"),
	ALLOW("getsockname"), ALLOW("getsockopt"), ALLOW("setsockopt"),
	FCNTL(F_GETFL), FCNTL(F_SETFL), FCNTL(F_GETFD), FCNTL(F_SETFD),
	/* libmicrohttpd names its thread */
	ALLOW_IF("prctl", ARG_EQ(0, PR_SET_NAME)),
};

void seccomp_rules_builtin(struct seccomp_list lists[SECCOMP_ROLE_NR])
{
	lists[SECCOMP_ROLE_API] = (struct seccomp_list){ .rules = api_rules,
							 .nr_rules = ARRAY_SIZE(api_rules) };
	lists[SECCOMP_ROLE_VMM] = (struct seccomp_list){ .rules = vmm_rules,
							 .nr_rules = ARRAY_SIZE(vmm_rules) };
	lists[SECCOMP_ROLE_VCPU] = (struct seccomp_list){ .rules = vcpu_rules,
							  .nr_rules = ARRAY_SIZE(vcpu_rules) };
}

int seccomp_policy_builtin(struct seccomp_policy *pol, char err[SECCOMP_ERR_MAX])
{
	struct seccomp_list lists[SECCOMP_ROLE_NR];

	seccomp_rules_builtin(lists);
	return seccomp_policy_build(pol, lists, err);
}
