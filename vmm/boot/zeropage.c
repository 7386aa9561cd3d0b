/*
 * The Linux zero page (struct boot_params) for the 64-bit entry.  Built in host
 * memory and written with one gmem_write, so a failure leaves no half page.
 */
#include "vmm/boot/zeropage.h"

#include <errno.h>
#include <string.h>

#include "vmm/boot/e820.h"
#include "vmm/boot/layout.h"

#define FOUR_GIB LAYOUT_MMIO_GAP_END
/* boot.rst: with LOADED_HIGH the setup heap ends at 0xe000, minus 0x200 of stack. */
#define HEAP_END_PTR (0xe000 - 0x200)

int boot_info_args_check(const struct gmem *mem, const struct boot_info_args *args)
{
	uint8_t nul;

	if (!mem || !args)
		return -EINVAL;
	if (args->cmdline_addr) {
		/* Range first: it refuses a wrapping cmdline_addr + cmdline_len. */
		if (!gmem_range_ok(mem, args->cmdline_addr, (uint64_t)args->cmdline_len + 1) ||
		    gmem_read(mem, args->cmdline_addr + args->cmdline_len, &nul, 1) || nul)
			return -EINVAL;
	} else if (args->cmdline_len) {
		return -EINVAL;
	}
	if (!args->initrd_addr != !args->initrd_size)
		return -EINVAL;
	if (args->initrd_size && !gmem_range_ok(mem, args->initrd_addr, args->initrd_size))
		return -EINVAL;
	return 0;
}

int boot_info_args_overlap(const struct boot_info_args *args, uint64_t addr, uint64_t len)
{
	/* Callers checked [addr, addr + len) and the args' ranges: nothing wraps. */
	if (args->cmdline_addr && addr < args->cmdline_addr + args->cmdline_len + 1 &&
	    args->cmdline_addr < addr + len)
		return 1;
	return args->initrd_size && addr < args->initrd_addr + args->initrd_size &&
	       args->initrd_addr < addr + len;
}

/* What the kernel's own header says it accepts (bzImage only). */
static int zeropage_check_kernel(uint64_t addr, const struct boot_info_args *args,
				 const struct setup_header *hdr)
{
	int above_4g_ok = !!(hdr->xloadflags & XLF_CAN_BE_LOADED_ABOVE_4G);

	if (hdr->cmdline_size && args->cmdline_len > hdr->cmdline_size)
		return -EINVAL;
	if (!above_4g_ok) {
		/* Ranges were checked by boot_info_args_check: no wrap. */
		if (args->initrd_size && args->initrd_addr + args->initrd_size - 1 > hdr->initrd_addr_max)
			return -EINVAL;
		if (args->cmdline_addr + args->cmdline_len + 1 > FOUR_GIB ||
		    addr + sizeof(struct boot_params) > FOUR_GIB)
			return -EINVAL;
	}
	return 0;
}

int zeropage_write(const struct gmem *mem, uint64_t addr, const struct boot_info_args *args)
{
	struct boot_params bp;
	int n, rc;

	rc = boot_info_args_check(mem, args);
	if (rc)
		return rc;
	if (!gmem_range_ok(mem, addr, sizeof(bp)))
		return -EFAULT;
	if (boot_info_args_overlap(args, addr, sizeof(bp)))
		return -EINVAL;
	memset(&bp, 0, sizeof(bp));
	if (args->setup_header) {
		rc = zeropage_check_kernel(addr, args, args->setup_header);
		if (rc)
			return rc;
		bp.hdr = *args->setup_header;
	} else {
		setup_header_minimal(&bp.hdr);
	}

	/* Loader-owned fields (boot.rst "write" fields); never trust the image's. */
	bp.hdr.type_of_loader = BOOT_LOADER_UNDEFINED;
	bp.hdr.loadflags |= LOADED_HIGH | CAN_USE_HEAP;
	bp.hdr.heap_end_ptr = HEAP_END_PTR;
	bp.hdr.ext_loader_ver = 0;
	bp.hdr.ext_loader_type = 0;
	bp.hdr.setup_data = 0;
	bp.hdr.cmd_line_ptr = (uint32_t)args->cmdline_addr;
	bp.ext_cmd_line_ptr = (uint32_t)(args->cmdline_addr >> 32);
	bp.hdr.ramdisk_image = (uint32_t)args->initrd_addr;
	bp.ext_ramdisk_image = (uint32_t)(args->initrd_addr >> 32);
	bp.hdr.ramdisk_size = (uint32_t)args->initrd_size;
	bp.ext_ramdisk_size = (uint32_t)(args->initrd_size >> 32);

	n = e820_build(mem, bp.e820_table, BOOT_PARAMS_E820_MAX);
	if (n < 0)
		return n;
	bp.e820_entries = (uint8_t)n;
	return gmem_write(mem, addr, &bp, sizeof(bp)) ? -EFAULT : 0;
}
