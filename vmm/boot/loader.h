/*
 * Kernel and initrd loading: parses an image held in host memory (untrusted
 * bytes: a user's file) and copies it into guest memory through gmem.  Pure:
 * no KVM, no files, so unit tests and fuzz targets drive it directly.
 *
 * Supported images:
 *  - ELF64 vmlinux: PT_LOAD segments go to their p_paddr.  If a PT_NOTE segment
 *    carries a Xen PVH note (name "Xen", type XEN_ELFNOTE_PHYS32_ENTRY = 18) the
 *    kernel is entered there in 32-bit protected mode with the hvm_start_info
 *    (BOOT_PVH); otherwise e_entry is the 64-bit entry (BOOT_LINUX64).
 *    Every PT_LOAD must load at or above 1 MiB (below are kiln's boot
 *    structures) and the entry point must lie inside a PT_LOAD below 4 GiB.
 *  - bzImage (setup header magic "HdrS" at 0x202, protocol >= 2.12, which is
 *    when xloadflags appeared, and 64-bit capable: XLF_KERNEL_64, LOADED_HIGH):
 *    the protected-mode part is copied to LAYOUT_KERNEL_LOAD and entered in
 *    64-bit mode at load + 0x200 (BOOT_LINUX64); the setup header is returned so
 *    the zero page can carry it.  The kernel's run address (load aligned up to
 *    kernel_alignment and at least pref_address, or pref_address when not
 *    relocatable) plus init_size must be guest RAM.
 * Every size, offset and count read from the image is checked against the image
 * size and against guest memory before anything is written, so a refused image
 * leaves guest memory untouched.  A malformed image gets -ENOEXEC (not a kernel
 * kiln can run: bad magic, class, machine, old protocol), -EINVAL (inconsistent
 * headers) or -EFAULT (does not fit in guest memory), and a one-line message.
 */
#ifndef KILN_LOADER_H
#define KILN_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/boot/bootparam.h"
#include "vmm/compiler.h"
#include "vmm/mem/gmem.h"

enum boot_kind {
	BOOT_LINUX64, /* 64-bit Linux boot protocol: long mode, rsi = zero page */
	BOOT_PVH,     /* PVH: 32-bit flat protected mode, paging off, ebx = start info */
};

enum kernel_format { KERNEL_ELF, KERNEL_BZIMAGE };

struct kernel_load_result {
	enum kernel_format format;
	enum boot_kind kind;
	uint64_t entry;      /* guest-physical entry point */
	uint64_t kernel_end; /* one past the highest byte loaded; for a bzImage also
			      * past the init_size area it decompresses into */
	int have_setup_header;
	int is_linux; /* a bzImage, or an ELF carrying "Linux" notes */
	struct setup_header setup_header; /* bzImage only: copied into the zero page */
};

#define LOADER_ERR_MAX 160

/*
 * Detects the format (ELF magic, else "HdrS" at 0x202) and loads it; anything
 * else is -ENOEXEC "not an ELF vmlinux or bzImage".  err (may be NULL) receives
 * a one-line reason on failure; *out is written only on success.
 */
int kernel_load(const struct gmem *mem, const uint8_t *image, size_t size,
		struct kernel_load_result *out, char err[LOADER_ERR_MAX]) __must_check;

int elf_load(const struct gmem *mem, const uint8_t *image, size_t size,
	     struct kernel_load_result *out, char err[LOADER_ERR_MAX]) __must_check;

int bzimage_load(const struct gmem *mem, const uint8_t *image, size_t size,
		 struct kernel_load_result *out, char err[LOADER_ERR_MAX]) __must_check;

/*
 * Places an initrd of size bytes at the highest page-aligned address such that
 * it ends at or below max_end (exclusive; e.g. min(end of low RAM,
 * initrd_addr_max + 1)) and starts at or above min_start (end of the kernel).
 * Sets *addr.  -ENOMEM when it does not fit, -EFAULT when the chosen range is
 * not guest RAM (max_end beyond RAM or in a hole), -EINVAL for an empty initrd.
 */
int initrd_load(const struct gmem *mem, const uint8_t *initrd, size_t size, uint64_t min_start,
		uint64_t max_end, uint64_t *addr, char err[LOADER_ERR_MAX]) __must_check;

#endif
