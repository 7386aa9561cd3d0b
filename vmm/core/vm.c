/* Building, running and tearing down a microVM; see vm.h. */
#include "vmm/core/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "vmm/boot/layout.h"
#include "vmm/core/boot_setup.h"
#include "vmm/core/vm_devices.h"
#include "vmm/log/log.h"
#include "vmm/probe.h"

/* Where KVM (on VMX) keeps its real-mode TSS and identity map: three pages
 * just below the BIOS area, inside the MMIO gap, never RAM. */
#define KVM_TSS_ADDR      0xfffbd000ULL
#define KVM_IDENTITY_ADDR 0xfffbc000ULL

uint64_t vm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t vm_cpu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void vm_request_exit(struct vm *vm, enum vm_exit_reason reason, const char *msg)
{
	int expected = VM_EXIT_NONE;
	uint64_t one = 1;

	if (!atomic_compare_exchange_strong(&vm->exit_reason, &expected, reason))
		return;
	if (msg)
		snprintf(vm->exit_msg, sizeof(vm->exit_msg), "%s", msg);
	if (write(vm->exit_evt, &one, sizeof(one)) < 0)
		LOG_ERR("cannot signal VM exit: %s", strerror(errno));
}

int vm_cmdline_add(struct vm *vm, const char *fmt, ...)
{
	size_t len = vm->cmdline_extra_len, room = sizeof(vm->cmdline_extra) - len;
	va_list ap;
	int n;

	if (len && room > 1) {
		vm->cmdline_extra[len++] = ' ';
		room--;
	}
	va_start(ap, fmt);
	n = vsnprintf(vm->cmdline_extra + len, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room) {
		vm->cmdline_extra[vm->cmdline_extra_len] = '\0';
		return -E2BIG;
	}
	vm->cmdline_extra_len = len + (size_t)n;
	return 0;
}

/* RAM with the 32-bit MMIO gap: [0, 3 GiB) low, the rest at 4 GiB.  Anonymous,
 * or (mem_fd >= 0) a snapshot's memory file mapped MAP_PRIVATE, the regions
 * back to back in the file: pages load on first touch, writes stay private. */
static int vm_setup_memory(struct vm *vm, uint64_t mem_bytes, bool hugepages, int mem_fd)
{
	uint64_t file_off = 0;
	uint64_t low = mem_bytes < LAYOUT_MMIO_GAP_START ? mem_bytes : LAYOUT_MMIO_GAP_START;
	uint64_t sizes[2] = { low, mem_bytes - low };
	uint64_t gpas[2] = { 0, LAYOUT_MMIO_GAP_END };
	int ret;

	gmem_init(&vm->mem);
	for (unsigned int slot = 0; slot < 2; slot++) {
		struct kvm_userspace_memory_region region;

		if (!sizes[slot])
			continue;
		if (mem_fd >= 0)
			vm->ram[slot] = mmap(NULL, sizes[slot], PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE,
					     mem_fd, (off_t)file_off);
		else
			vm->ram[slot] = mmap(NULL, sizes[slot], PROT_READ | PROT_WRITE,
					     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		file_off += sizes[slot];
		vm->ram_from_file = mem_fd >= 0;
		if (vm->ram[slot] == MAP_FAILED) {
			vm->ram[slot] = NULL;
			return -errno;
		}
		vm->ram_size[slot] = sizes[slot];
		if (hugepages)
			madvise(vm->ram[slot], sizes[slot], MADV_HUGEPAGE);
		ret = gmem_add_region(&vm->mem, gpas[slot], sizes[slot], vm->ram[slot]);
		if (ret)
			return ret;
		region = (struct kvm_userspace_memory_region){
			.slot = slot,
			.guest_phys_addr = gpas[slot],
			.memory_size = sizes[slot],
			.userspace_addr = (uintptr_t)vm->ram[slot],
			.flags = vm->dirty_log ? KVM_MEM_LOG_DIRTY_PAGES : 0,
		};
		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region))
			return -errno;
	}
	return 0;
}

static int vm_setup_irqchip(struct vm *vm, char err[VM_ERR_MAX])
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };

	/* Only VMX needs these; other KVMs (SVM, PVM) may refuse them. */
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR))
		LOG_DEBUG("KVM_SET_TSS_ADDR: %s (not needed on this host)", strerror(errno));
	if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &(uint64_t){ KVM_IDENTITY_ADDR }))
		LOG_DEBUG("KVM_SET_IDENTITY_MAP_ADDR: %s (not needed on this host)", strerror(errno));
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0)) {
		snprintf(err, VM_ERR_MAX, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
		return -errno;
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit)) {
		snprintf(err, VM_ERR_MAX, "KVM_CREATE_PIT2: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

/* Debug-level timeline of the build, to see where start-up time goes. */
static void vm_build_phase(const struct vm *vm, const char *phase)
{
	LOG_DEBUG("build: %s at +%llu us", phase, (unsigned long long)((vm_now_ns() - vm->build_start_ns) / 1000));
}

/* The restore path's last step: vCPUs as vcpu_create leaves them; the
 * snapshot's state is loaded into them next (vmm/core/snapshot.c). */
static int vm_build_restore_vcpus(struct vm *vm, char err[VM_ERR_MAX])
{
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		int ret = vcpu_create(&vm->vcpus[i], vm, i);

		if (ret) {
			snprintf(err, VM_ERR_MAX, "vcpu%u: %s", i, strerror(-ret));
			return ret;
		}
		vm->vcpus_created++;
	}
	vm->build_end_ns = vm_now_ns();
	return 0;
}

/* vm_build, or with src (a snapshot restore) the same VM with RAM from src
 * and neither kernel nor boot registers. */
static int vm_build_from(struct vm *vm, const struct vm_config *cfg, const struct vm_options *opt,
			 const struct vm_mem_source *src, char err[VM_ERR_MAX])
{
	char kerr[KVM_HOST_ERR_MAX];
	struct boot_setup_result boot;
	int ret;

	memset(vm, 0, sizeof(*vm));
	vm->vm_fd = vm->exit_evt = -1;
	vm->mem_uffd = vm->mem_handler_conn = -1;
	vm->host.fd = -1;
	vm->opt = *opt;
	vm->build_start_ns = vm_now_ns();
	vm->build_start_cpu_ns = vm_cpu_now_ns();
	KILN_PROBE(vm_build_start);
	bus_init(&vm->pio);
	bus_init(&vm->mmio);
	vm->dirty_log = cfg->machine.track_dirty_pages;

	if (cfg->machine.vcpu_count < 1 || cfg->machine.vcpu_count > CONFIG_MAX_VCPUS) {
		snprintf(err, VM_ERR_MAX, "vcpu_count %u out of range", cfg->machine.vcpu_count);
		return -EINVAL;
	}
	vm->nr_vcpus = cfg->machine.vcpu_count;
	ret = kvm_host_open(&vm->host, opt->kvm_path ? opt->kvm_path : "/dev/kvm", kerr);
	if (ret) {
		snprintf(err, VM_ERR_MAX, "%s", kerr);
		return ret;
	}
	vm_build_phase(vm, "KVM opened");
	if (vm->host.pvm)
		LOG_INFO("PVM host: hiding the KVM PV features PVM does not serve (PV IPI, unhalt, "
			 "sched yield) and the instructions its emulator lacks from the guest's CPUID");
	vm->exit_evt = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->exit_evt < 0) {
		snprintf(err, VM_ERR_MAX, "eventfd: %s", strerror(errno));
		return -errno;
	}
	vm->vm_fd = ioctl(vm->host.fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		snprintf(err, VM_ERR_MAX, "KVM_CREATE_VM: %s", strerror(errno));
		return -errno;
	}
	ret = vm_setup_irqchip(vm, err);
	if (ret)
		return ret;
	vm_build_phase(vm, "VM and irqchip created");
	ret = vm_setup_memory(vm, cfg->machine.mem_size_mib << 20,
			      cfg->machine.huge_pages == HUGE_PAGES_2M, src ? src->fd : -1);
	if (ret) {
		snprintf(err, VM_ERR_MAX, "guest memory (%" PRIu64 " MiB): %s", cfg->machine.mem_size_mib,
			 strerror(-ret));
		return ret;
	}
	/* Pages kiln's own devices write are tracked here; KVM's dirty log only
	 * sees the guest's writes.  Diff snapshots need both. */
	if (vm->dirty_log && (ret = gmem_dirty_enable(&vm->mem))) {
		snprintf(err, VM_ERR_MAX, "dirty page tracking: %s", strerror(-ret));
		return ret;
	}
	vm_build_phase(vm, "guest memory registered");
	ret = legacy_devices_create(vm, err);
	if (ret)
		return ret;
	ret = vm_drives_create(vm, cfg, err) ?: vm_devices_create(vm, cfg, err);
	if (ret)
		return ret;
	vm_build_phase(vm, "devices created");
	if (src)
		return vm_build_restore_vcpus(vm, err);
	ret = boot_setup(vm, &cfg->boot_source, &boot, err);
	if (ret)
		return ret;
	vm_build_phase(vm, "kernel and boot tables loaded");
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		ret = vcpu_create(&vm->vcpus[i], vm, i);
		if (ret) {
			snprintf(err, VM_ERR_MAX, "vcpu%u: %s", i, strerror(-ret));
			return ret;
		}
		vm->vcpus_created++;
	}
	vm_build_phase(vm, "vCPUs created");
	ret = vcpu_set_boot_state(&vm->vcpus[0], boot.kind, boot.entry, boot.boot_info);
	if (ret) {
		snprintf(err, VM_ERR_MAX, "vcpu0 boot registers: %s", strerror(-ret));
		return ret;
	}
	vm->build_end_ns = vm_now_ns();
	KILN_PROBE(vm_build_end);
	return 0;
}

int vm_build(struct vm *vm, const struct vm_config *cfg, const struct vm_options *opt,
	     char err[VM_ERR_MAX])
{
	return vm_build_from(vm, cfg, opt, NULL, err);
}

int vm_build_restore(struct vm *vm, const struct vm_config *cfg, const struct vm_options *opt,
		     const struct vm_mem_source *src, char err[VM_ERR_MAX])
{
	return vm_build_from(vm, cfg, opt, src, err);
}

int vm_start(struct vm *vm, char err[VM_ERR_MAX])
{
	int ret = vcpu_signals_init();

	if (ret) {
		snprintf(err, VM_ERR_MAX, "vCPU kick signal: %s", strerror(-ret));
		return ret;
	}
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		ret = vcpu_start(&vm->vcpus[i]);
		if (ret) {
			snprintf(err, VM_ERR_MAX, "vcpu%u thread: %s", i, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/*
 * vcpu_wait_paused() has no deadline, and a vCPU thread that ended (the guest
 * reset while we asked) never parks, so wait here in slices and give up when
 * the VM is ending or the deadline passes.
 */
static int vm_wait_parked(struct vm *vm, struct vcpu *vcpu, uint64_t deadline_ns)
{
	int ret = 0;

	pthread_mutex_lock(&vcpu->lock);
	while (!vcpu->paused) {
		struct timespec ts;
		uint64_t now = vm_now_ns();

		if (atomic_load(&vm->exit_reason) != VM_EXIT_NONE) {
			ret = -ECANCELED;
			break;
		}
		if (now >= deadline_ns) {
			ret = -ETIMEDOUT;
			break;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 10 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&vcpu->cond, &vcpu->lock, &ts);
	}
	pthread_mutex_unlock(&vcpu->lock);
	return ret;
}

int vm_pause(struct vm *vm, unsigned int timeout_ms)
{
	uint64_t deadline = vm_now_ns() + (uint64_t)timeout_ms * 1000000ULL;
	int ret = 0;

	for (unsigned int i = 0; i < vm->vcpus_created; i++)
		if (vm->vcpus[i].thread_started)
			vcpu_request(&vm->vcpus[i], VCPU_PAUSE);
	for (unsigned int i = 0; i < vm->vcpus_created && !ret; i++)
		if (vm->vcpus[i].thread_started)
			ret = vm_wait_parked(vm, &vm->vcpus[i], deadline);
	if (ret)
		vm_resume(vm);
	return ret;
}

void vm_resume(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->vcpus_created; i++)
		if (vm->vcpus[i].thread_started)
			vcpu_request(&vm->vcpus[i], VCPU_RUN);
}

void vm_stop_vcpus(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->vcpus_created; i++)
		vcpu_request(&vm->vcpus[i], VCPU_STOP);
}

void vm_dump_vcpus(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->vcpus_created; i++)
		vcpu_dump(&vm->vcpus[i]);
}

void vm_log_stats(const struct vm *vm)
{
	char buf[1024];
	uint64_t totals[VCPU_EXIT_NR] = { 0 };
	uint64_t first_run = 0;
	size_t n;

	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		for (int k = 0; k < VCPU_EXIT_NR; k++)
			totals[k] += atomic_load(&vm->vcpus[i].exits[k]);
	}
	if (vm->nr_vcpus && vm->vcpus[0].first_run_ns)
		first_run = vm->vcpus[0].first_run_ns;
	n = (size_t)snprintf(buf, sizeof(buf),
			     "{\"main_to_build_us\":%" PRIu64 ",\"build_us\":%" PRIu64
			     ",\"main_to_first_run_us\":%" PRIu64 ",\"boot_timer_us\":%" PRIu64
			     ",\"boot_timer_cpu_us\":%" PRIu64 ",\"cpu_us\":%" PRIu64 ",\"exits\":{",
			     (vm->build_start_ns - vm->opt.main_start_ns) / 1000,
			     (vm->build_end_ns - vm->build_start_ns) / 1000,
			     first_run ? (first_run - vm->opt.main_start_ns) / 1000 : 0,
			     legacy_boot_time_us(&vm->legacy), legacy_boot_cpu_time_us(&vm->legacy),
			     vm_cpu_now_ns() / 1000);
	for (int k = 0; k < VCPU_EXIT_NR && n < sizeof(buf); k++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s\"%s\":%" PRIu64, k ? "," : "",
				      vcpu_exit_kind_names[k], totals[k]);
	if (n < sizeof(buf))
		snprintf(buf + n, sizeof(buf) - n, "}}");
	LOG_INFO("kiln-stats %s", buf);
}

void vm_destroy(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->vcpus_created; i++)
		vcpu_destroy(&vm->vcpus[i]);
	vm->vcpus_created = 0;
	vm_virtio_reset_all(vm);
	vm_devices_destroy(vm);
	gmem_dirty_disable(&vm->mem);
	vm_drives_destroy(vm);
	vm_virtio_destroy_all(vm);
	legacy_devices_destroy(vm);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	for (unsigned int slot = 0; slot < 2; slot++)
		if (vm->ram[slot])
			munmap(vm->ram[slot], vm->ram_size[slot]);
	if (vm->exit_evt >= 0)
		close(vm->exit_evt);
	/* After the RAM is unmapped: the page server sees the connection end. */
	if (vm->mem_uffd >= 0)
		close(vm->mem_uffd);
	if (vm->mem_handler_conn >= 0)
		close(vm->mem_handler_conn);
	vm->mem_uffd = vm->mem_handler_conn = -1;
	kvm_host_close(&vm->host);
	vm->vm_fd = vm->exit_evt = -1;
}
