/* vCPU creation, boot state and the KVM_RUN loop; see vcpu.h. */
#include "vmm/core/vcpu.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/boot/layout.h"
#include "vmm/core/cpuid.h"
#include "vmm/core/vm.h"
#include "vmm/core/x86_boot.h"
#include "vmm/log/log.h"
#ifdef KILN_HAVE_SECCOMP
#include "vmm/seccomp/thread_filter.h"
#endif
#include "vmm/probe.h"

/* The signal that kicks a vCPU thread out of KVM_RUN.  Its handler does
 * nothing: the point is that KVM_RUN returns EINTR. */
#define VCPU_KICK_SIGNAL (SIGRTMIN + 1)

const char *const vcpu_exit_kind_names[VCPU_EXIT_NR] = {
	[VCPU_EXIT_IO_IN] = "io_in",         [VCPU_EXIT_IO_OUT] = "io_out",
	[VCPU_EXIT_MMIO_READ] = "mmio_read", [VCPU_EXIT_MMIO_WRITE] = "mmio_write",
	[VCPU_EXIT_HLT] = "hlt",             [VCPU_EXIT_SHUTDOWN] = "shutdown",
	[VCPU_EXIT_SYSTEM_EVENT] = "system_event", [VCPU_EXIT_INTR] = "intr",
	[VCPU_EXIT_OTHER] = "other",
};

static void kick_handler(int sig)
{
	(void)sig;
}

int vcpu_signals_init(void)
{
	struct sigaction sa = { .sa_handler = kick_handler };

	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: KVM_RUN must return EINTR. */
	return sigaction(VCPU_KICK_SIGNAL, &sa, NULL) ? -errno : 0;
}

/* Points LINT0 at ExtINT and LINT1 at NMI, as a PC's BIOS leaves them. */
static int vcpu_setup_lapic(struct vcpu *vcpu)
{
	struct kvm_lapic_state lapic;
	uint32_t v;

	if (ioctl(vcpu->fd, KVM_GET_LAPIC, &lapic))
		return -errno;
	memcpy(&v, &lapic.regs[0x350], 4);
	v = (v & ~0x700u) | (7u << 8); /* ExtINT */
	memcpy(&lapic.regs[0x350], &v, 4);
	memcpy(&v, &lapic.regs[0x360], 4);
	v = (v & ~0x700u) | (4u << 8); /* NMI */
	memcpy(&lapic.regs[0x360], &v, 4);
	return ioctl(vcpu->fd, KVM_SET_LAPIC, &lapic) ? -errno : 0;
}

static int vcpu_setup_cpuid_msrs(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;
	struct cpuid_options opt = {
		.vcpu_id = vcpu->id,
		.nr_vcpus = vm->nr_vcpus,
		.hide_pvm_missing = vm->host.pvm,
	};
	struct kvm_cpuid2 *cpuid;
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry entries[16];
	} msrs = { 0 };
	struct kvm_fpu fpu;
	int ret;

	ret = cpuid_build(vm->host.cpuid, &opt, &cpuid);
	if (ret)
		return ret;
	ret = ioctl(vcpu->fd, KVM_SET_CPUID2, cpuid) ? -errno : 0;
	free(cpuid);
	if (ret)
		return ret;
	msrs.hdr.nmsrs = x86_boot_msrs(msrs.entries, ARRAY_SIZE(msrs.entries));
	ret = ioctl(vcpu->fd, KVM_SET_MSRS, &msrs);
	if (ret < 0)
		return -errno;
	if ((unsigned int)ret != msrs.hdr.nmsrs) {
		LOG_WARN("vcpu%u: KVM accepted %d of %u boot MSRs (MSR 0x%x refused)", vcpu->id, ret,
			 msrs.hdr.nmsrs, msrs.entries[ret].index);
	}
	x86_boot_fpu(&fpu);
	if (ioctl(vcpu->fd, KVM_SET_FPU, &fpu))
		return -errno;
	return vcpu_setup_lapic(vcpu);
}

int vcpu_create(struct vcpu *vcpu, struct vm *vm, unsigned int id)
{
	int ret;

	memset(vcpu, 0, sizeof(*vcpu));
	vcpu->vm = vm;
	vcpu->id = id;
	vcpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (vcpu->fd < 0) {
		vcpu->fd = -1;
		return -errno;
	}
	vcpu->run = mmap(NULL, vm->host.run_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		ret = -errno;
		goto err_close;
	}
	ret = vcpu_setup_cpuid_msrs(vcpu);
	if (ret)
		goto err_unmap;
	pthread_mutex_init(&vcpu->lock, NULL);
	pthread_cond_init(&vcpu->cond, NULL);
	return 0;

err_unmap:
	munmap(vcpu->run, vm->host.run_mmap_size);
	vcpu->run = NULL;
err_close:
	close(vcpu->fd);
	vcpu->fd = -1;
	return ret;
}

int vcpu_set_boot_state(struct vcpu *vcpu, int boot_kind, uint64_t entry, uint64_t boot_info)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (ioctl(vcpu->fd, KVM_GET_SREGS, &sregs))
		return -errno;
	x86_boot_sregs(&sregs, boot_kind);
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &sregs))
		return -errno;
	x86_boot_regs(&regs, boot_kind, entry, boot_info);
	return ioctl(vcpu->fd, KVM_SET_REGS, &regs) ? -errno : 0;
}

static void vcpu_count(struct vcpu *vcpu, enum vcpu_exit_kind kind)
{
	atomic_fetch_add_explicit(&vcpu->exits[kind], 1, memory_order_relaxed);
}

static int vcpu_handle_io(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint64_t bytes = (uint64_t)run->io.size * run->io.count;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;

	/* KVM owns these fields, but a wrong one would have us scribble past the
	 * mapping, so check them as any other input. */
	if (run->io.data_offset >= (uint64_t)vcpu->vm->host.run_mmap_size ||
	    bytes > (uint64_t)vcpu->vm->host.run_mmap_size - run->io.data_offset || run->io.size > 8)
		return -EINVAL;
	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size) {
		if (run->io.direction == KVM_EXIT_IO_OUT)
			bus_write(&vcpu->vm->pio, run->io.port, data, run->io.size);
		else
			bus_read(&vcpu->vm->pio, run->io.port, data, run->io.size);
	}
	vcpu_count(vcpu, run->io.direction == KVM_EXIT_IO_OUT ? VCPU_EXIT_IO_OUT : VCPU_EXIT_IO_IN);
	return 0;
}

static int vcpu_handle_mmio(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint32_t len = run->mmio.len;

	if (len == 0 || len > sizeof(run->mmio.data))
		return -EINVAL;
	if (run->mmio.is_write) {
		bus_write(&vcpu->vm->mmio, run->mmio.phys_addr, run->mmio.data, len);
		vcpu_count(vcpu, VCPU_EXIT_MMIO_WRITE);
	} else {
		bus_read(&vcpu->vm->mmio, run->mmio.phys_addr, run->mmio.data, len);
		vcpu_count(vcpu, VCPU_EXIT_MMIO_READ);
	}
	return 0;
}

/* A description of where the guest stopped: RIP and the bytes there. */
static void vcpu_describe_stop(struct vcpu *vcpu, char *buf, size_t size)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_translation tr = { 0 };
	uint8_t insn[15];
	size_t n;

	if (ioctl(vcpu->fd, KVM_GET_REGS, &regs) || ioctl(vcpu->fd, KVM_GET_SREGS, &sregs)) {
		snprintf(buf, size, "registers unavailable");
		return;
	}
	n = (size_t)snprintf(buf, size, "rip=0x%llx cs=0x%x cr0=0x%llx cr3=0x%llx efer=0x%llx rflags=0x%llx",
			     regs.rip, sregs.cs.selector, sregs.cr0, sregs.cr3, sregs.efer, regs.rflags);
	tr.linear_address = sregs.cs.base + regs.rip;
	if (n >= size || ioctl(vcpu->fd, KVM_TRANSLATE, &tr) || !tr.valid ||
	    gmem_read(&vcpu->vm->mem, tr.physical_address, insn, sizeof(insn)))
		return;
	n += (size_t)snprintf(buf + n, size - n, " bytes@rip=");
	for (size_t i = 0; i < sizeof(insn) && n < size; i++)
		n += (size_t)snprintf(buf + n, size - n, "%02x", insn[i]);
}

void vcpu_dump(struct vcpu *vcpu)
{
	char where[256];

	if (!vcpu->thread_started)
		return;
	vcpu_request(vcpu, VCPU_PAUSE);
	vcpu_wait_paused(vcpu);
	vcpu_describe_stop(vcpu, where, sizeof(where));
	LOG_INFO("vcpu%u: %s", vcpu->id, where);
	vcpu_request(vcpu, VCPU_RUN);
}

static void vcpu_fail(struct vcpu *vcpu, const char *what)
{
	char where[256], msg[VM_ERR_MAX];

	vcpu_describe_stop(vcpu, where, sizeof(where));
	snprintf(msg, sizeof(msg), "vcpu%u: %s; %s", vcpu->id, what, where);
	vm_request_exit(vcpu->vm, VM_EXIT_ERROR, msg);
}

static void vcpu_internal_error(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	char what[200];
	size_t n;

	n = (size_t)snprintf(what, sizeof(what), "KVM internal error suberror=%u (%s) data=",
			     run->internal.suberror,
			     run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ? "emulation failure" :
			     run->internal.suberror == KVM_INTERNAL_ERROR_SIMUL_EX ? "simultaneous exceptions" :
			     run->internal.suberror == KVM_INTERNAL_ERROR_DELIVERY_EV ? "event delivery" : "other");
	for (uint32_t i = 0; i < run->internal.ndata && i < 4 && n < sizeof(what); i++)
		n += (size_t)snprintf(what + n, sizeof(what) - n, "%s0x%llx", i ? "," : "",
				      (unsigned long long)run->internal.data[i]);
	vcpu_fail(vcpu, what);
}

/* Returns 1 to keep running, 0 when the vCPU should stop. */
static int vcpu_handle_exit(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	char what[128];

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		if (vcpu_handle_io(vcpu)) {
			vcpu_fail(vcpu, "malformed KVM_EXIT_IO");
			return 0;
		}
		return 1;
	case KVM_EXIT_MMIO:
		if (vcpu_handle_mmio(vcpu)) {
			vcpu_fail(vcpu, "malformed KVM_EXIT_MMIO");
			return 0;
		}
		return 1;
	case KVM_EXIT_HLT:
		/* The in-kernel LAPIC handles HLT; an exit here just resumes. */
		vcpu_count(vcpu, VCPU_EXIT_HLT);
		return 1;
	case KVM_EXIT_SHUTDOWN:
		vcpu_count(vcpu, VCPU_EXIT_SHUTDOWN);
		LOG_INFO("vcpu%u: triple fault (KVM_EXIT_SHUTDOWN): guest reset", vcpu->id);
		vm_request_exit(vcpu->vm, VM_EXIT_GUEST_RESET, NULL);
		return 0;
	case KVM_EXIT_SYSTEM_EVENT:
		vcpu_count(vcpu, VCPU_EXIT_SYSTEM_EVENT);
		switch (run->system_event.type) {
		case KVM_SYSTEM_EVENT_SHUTDOWN:
			vm_request_exit(vcpu->vm, VM_EXIT_GUEST_POWEROFF, NULL);
			return 0;
		case KVM_SYSTEM_EVENT_RESET:
			vm_request_exit(vcpu->vm, VM_EXIT_GUEST_RESET, NULL);
			return 0;
		default:
			snprintf(what, sizeof(what), "system event %u", run->system_event.type);
			vcpu_fail(vcpu, what);
			return 0;
		}
	case KVM_EXIT_INTERNAL_ERROR:
		vcpu_internal_error(vcpu);
		return 0;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(what, sizeof(what), "VM entry failed, hardware reason 0x%llx",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		vcpu_fail(vcpu, what);
		return 0;
	default:
		vcpu_count(vcpu, VCPU_EXIT_OTHER);
		snprintf(what, sizeof(what), "unexpected exit reason %u", run->exit_reason);
		vcpu_fail(vcpu, what);
		return 0;
	}
}

/* Parks the thread while a PAUSE request stands; returns the request after. */
static int vcpu_honour_request(struct vcpu *vcpu)
{
	int req = atomic_load(&vcpu->request);

	if (req != VCPU_PAUSE)
		return req;
	pthread_mutex_lock(&vcpu->lock);
	vcpu->paused = true;
	pthread_cond_broadcast(&vcpu->cond);
	while ((req = atomic_load(&vcpu->request)) == VCPU_PAUSE)
		pthread_cond_wait(&vcpu->cond, &vcpu->lock);
	vcpu->paused = false;
	pthread_mutex_unlock(&vcpu->lock);
	return req;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	char name[16];
	sigset_t set;

	snprintf(name, sizeof(name), "vcpu%u", vcpu->id);
	log_set_thread_name(name);
	pthread_setname_np(pthread_self(), name);
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
#ifdef KILN_HAVE_SECCOMP
	/* Before the first KVM_RUN: from here the guest drives this thread. */
	if (seccomp_thread_install(SECCOMP_ROLE_VCPU)) {
		vcpu_fail(vcpu, "cannot install the vCPU seccomp filter");
		return NULL;
	}
#endif

	for (;;) {
		if (vcpu_honour_request(vcpu) == VCPU_STOP)
			break;
		if (!vcpu->first_run_ns) {
			vcpu->first_run_ns = vm_now_ns();
			KILN_PROBE(vcpu_first_run, vcpu->id);
		}
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				/* Atomic: the VMM thread sets it concurrently (vcpu_request). */
				__atomic_store_n(&vcpu->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
				vcpu_count(vcpu, VCPU_EXIT_INTR);
				continue;
			}
			char what[64];

			snprintf(what, sizeof(what), "KVM_RUN failed: %s", strerror(errno));
			vcpu_fail(vcpu, what);
			break;
		}
		if (!vcpu_handle_exit(vcpu))
			break;
	}
	return NULL;
}

int vcpu_start(struct vcpu *vcpu)
{
	sigset_t set, old;
	int ret;

	/* The new thread inherits a blocked kick signal and unblocks it itself,
	 * so a kick never hits it before its handler matters. */
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	ret = -pthread_create(&vcpu->thread, NULL, vcpu_thread, vcpu);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!ret)
		vcpu->thread_started = true;
	return ret;
}

void vcpu_request(struct vcpu *vcpu, enum vcpu_request req)
{
	pthread_mutex_lock(&vcpu->lock);
	atomic_store(&vcpu->request, req);
	pthread_cond_broadcast(&vcpu->cond);
	pthread_mutex_unlock(&vcpu->lock);
	if (req != VCPU_RUN && vcpu->run) {
		/* Atomic, and after the request is published under the lock:
		 * a vCPU clears the flag only before it takes the lock, so it
		 * either finds the request there or runs into this store (TSan
		 * saw the plain stores race). */
		__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		if (vcpu->thread_started)
			pthread_kill(vcpu->thread, VCPU_KICK_SIGNAL);
	}
}

void vcpu_wait_paused(struct vcpu *vcpu)
{
	pthread_mutex_lock(&vcpu->lock);
	while (!vcpu->paused && atomic_load(&vcpu->request) == VCPU_PAUSE)
		pthread_cond_wait(&vcpu->cond, &vcpu->lock);
	pthread_mutex_unlock(&vcpu->lock);
}

void vcpu_destroy(struct vcpu *vcpu)
{
	if (vcpu->thread_started) {
		vcpu_request(vcpu, VCPU_STOP);
		pthread_join(vcpu->thread, NULL);
		vcpu->thread_started = false;
	}
	if (vcpu->run)
		munmap(vcpu->run, vcpu->vm->host.run_mmap_size);
	vcpu->run = NULL;
	if (vcpu->fd >= 0)
		close(vcpu->fd);
	vcpu->fd = -1;
	pthread_cond_destroy(&vcpu->cond);
	pthread_mutex_destroy(&vcpu->lock);
}
