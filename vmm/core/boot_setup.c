/* Kernel, initrd and boot tables into guest memory; see boot_setup.h. */
#include "vmm/core/boot_setup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/boot/layout.h"
#include "vmm/boot/loader.h"
#include "vmm/boot/mptable.h"
#include "vmm/boot/zeropage.h"
#include "vmm/core/vm.h"
#include "vmm/core/x86_boot.h"
#include "vmm/log/log.h"

/* Linux's default initrd_addr_max for images that predate the field. */
#define INITRD_ADDR_MAX_DEFAULT 0x37ffffffULL

struct mapped_file {
	const uint8_t *data;
	size_t size;
};

static int map_file(const char *what, const char *path, struct mapped_file *f, char err[VM_ERR_MAX])
{
	struct stat st;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, VM_ERR_MAX, "%s %s: %s", what, path, strerror(errno));
		return -errno;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size == 0) {
		snprintf(err, VM_ERR_MAX, "%s %s: not a non-empty regular file", what, path);
		ret = -EINVAL;
		goto out;
	}
	f->size = (size_t)st.st_size;
	f->data = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (f->data == MAP_FAILED) {
		snprintf(err, VM_ERR_MAX, "%s %s: mmap: %s", what, path, strerror(errno));
		f->data = NULL;
		ret = -errno;
	}
out:
	close(fd);
	return ret;
}

static void unmap_file(struct mapped_file *f)
{
	if (f->data)
		munmap((void *)f->data, f->size);
	f->data = NULL;
}

/*
 * On PVM the guest's feature CPUID leaves come from the host whatever
 * KVM_SET_CPUID2 says, so a Linux guest would use instructions PVM's CPL0
 * emulator cannot run (xrstor first).  Linux's own switches hide them.
 */
#define PVM_LINUX_ARGS "noxsave clearcpuid=cx16,popcnt,rdrand,pcid,invpcid,fsgsbase,smap,rdpid,rdtscp,clflushopt,clwb"

/* Appends " <tok>" (no space when cmdline is empty) within max_len bytes with
 * the NUL; false when it does not fit. */
static bool cmdline_append(char *cmdline, size_t *len, size_t max_len, const char *tok)
{
	size_t tl = strlen(tok), sep = *len && tl ? 1 : 0;

	if (!tl)
		return true;
	if (*len + sep + tl + 1 > max_len)
		return false;
	if (sep)
		cmdline[(*len)++] = ' ';
	memcpy(cmdline + *len, tok, tl + 1);
	*len += tl;
	return true;
}

/*
 * The command line: the user's (or the default), then what kiln must add:
 * the PVM switches for a Linux guest on a PVM host, then the devices' tokens
 * (root=..., virtio_mmio.device=...), as Firecracker appends them.
 */
static int write_cmdline(struct vm *vm, const struct boot_source_config *bs, bool is_linux,
			 uint32_t max_len, uint32_t *len_out, char err[VM_ERR_MAX])
{
	char cmdline[LAYOUT_CMDLINE_MAX];
	const char *user = bs->boot_args ? bs->boot_args : CONFIG_DEFAULT_BOOT_ARGS;
	size_t len = 0;

	if (max_len > sizeof(cmdline))
		max_len = sizeof(cmdline);
	cmdline[0] = '\0';
	if (!cmdline_append(cmdline, &len, max_len, user)) {
		snprintf(err, VM_ERR_MAX, "boot-source.boot_args: longer than the kernel's limit of %u bytes",
			 max_len - 1);
		return -E2BIG;
	}
	if (vm->host.pvm && is_linux) {
		LOG_INFO("PVM host: adding '%s' for the Linux guest", PVM_LINUX_ARGS);
		if (!cmdline_append(cmdline, &len, max_len, PVM_LINUX_ARGS))
			goto too_long;
	}
	if (!cmdline_append(cmdline, &len, max_len, vm->cmdline_extra))
		goto too_long;
	if (gmem_write(&vm->mem, LAYOUT_CMDLINE, cmdline, len + 1)) {
		snprintf(err, VM_ERR_MAX, "command line does not fit in guest memory");
		return -EFAULT;
	}
	*len_out = (uint32_t)len;
	LOG_INFO("kernel command line: %s", cmdline);
	return 0;
too_long:
	snprintf(err, VM_ERR_MAX,
		 "boot-source.boot_args: with what kiln adds for this VM (%zu bytes: PVM switches, devices) "
		 "longer than the kernel's limit of %u bytes", strlen(vm->cmdline_extra), max_len - 1);
	return -E2BIG;
}

static uint64_t low_ram_end(const struct vm *vm)
{
	return vm->mem.regions[0].gpa + vm->mem.regions[0].size;
}

int boot_setup(struct vm *vm, const struct boot_source_config *bs, struct boot_setup_result *out,
	       char err[VM_ERR_MAX])
{
	struct mapped_file kernel = { 0 }, initrd = { 0 };
	struct kernel_load_result k;
	struct boot_info_args info = { .cmdline_addr = LAYOUT_CMDLINE };
	char lerr[LOADER_ERR_MAX];
	uint32_t cmdline_max = LAYOUT_CMDLINE_MAX;
	int ret;

	ret = map_file("kernel", bs->kernel_image_path, &kernel, err);
	if (ret)
		return ret;
	ret = kernel_load(&vm->mem, kernel.data, kernel.size, &k, lerr);
	if (ret) {
		snprintf(err, VM_ERR_MAX, "kernel %s: %s", bs->kernel_image_path, lerr);
		goto out;
	}
	if (k.have_setup_header) {
		info.setup_header = &k.setup_header;
		if (k.setup_header.cmdline_size && k.setup_header.cmdline_size < cmdline_max)
			cmdline_max = k.setup_header.cmdline_size + 1;
	}
	if (bs->initrd_path[0]) {
		uint64_t max_end = INITRD_ADDR_MAX_DEFAULT + 1;

		if (k.have_setup_header && k.setup_header.initrd_addr_max)
			max_end = (uint64_t)k.setup_header.initrd_addr_max + 1;
		if (max_end > low_ram_end(vm))
			max_end = low_ram_end(vm);
		ret = map_file("initrd", bs->initrd_path, &initrd, err);
		if (ret)
			goto out;
		ret = initrd_load(&vm->mem, initrd.data, initrd.size, k.kernel_end, max_end,
				  &info.initrd_addr, lerr);
		if (ret) {
			snprintf(err, VM_ERR_MAX, "initrd %s: %s", bs->initrd_path, lerr);
			goto out;
		}
		info.initrd_size = initrd.size;
	}
	ret = write_cmdline(vm, bs, k.is_linux, cmdline_max, &info.cmdline_len, err);
	if (ret)
		goto out;
	ret = mptable_write(&vm->mem, LAYOUT_MPTABLE, vm->nr_vcpus, NULL);
	if (ret) {
		snprintf(err, VM_ERR_MAX, "MP table: %s", strerror(-ret));
		goto out;
	}
	ret = x86_boot_write_tables(&vm->mem, k.kind);
	if (!ret) {
		out->boot_info = k.kind == BOOT_PVH ? LAYOUT_PVH_INFO : LAYOUT_ZERO_PAGE;
		ret = k.kind == BOOT_PVH ? pvh_info_write(&vm->mem, LAYOUT_PVH_INFO, &info)
					 : zeropage_write(&vm->mem, LAYOUT_ZERO_PAGE, &info);
	}
	if (ret) {
		snprintf(err, VM_ERR_MAX, "boot tables: %s", strerror(-ret));
		goto out;
	}
	out->kind = k.kind;
	out->entry = k.entry;
	LOG_INFO("kernel %s: %s, %s entry at 0x%llx%s", bs->kernel_image_path,
		 k.format == KERNEL_ELF ? "ELF" : "bzImage", k.kind == BOOT_PVH ? "PVH" : "64-bit",
		 (unsigned long long)k.entry, info.initrd_size ? ", with initrd" : "");
out:
	unmap_file(&initrd);
	unmap_file(&kernel);
	return ret;
}
