/*
 * bzImage loader (Linux x86 boot protocol, 64-bit entry).  kiln skips the
 * real-mode setup code: it copies the protected-mode part to LAYOUT_KERNEL_LOAD,
 * hands the setup header back for the zero page, and the vCPU enters in long
 * mode at load + 0x200.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "vmm/boot/layout.h"
#include "vmm/boot/loader.h"
#include "vmm/boot/loader_priv.h"

#define SECTOR 512
#define SETUP_SECTS_DEFAULT 4 /* setup_sects 0 means 4, for very old images */
/* The header reaches init_size from 2.10 on; kiln reads up to there. */
#define HDR_END_MIN (SETUP_HEADER_OFFSET + offsetof(struct setup_header, init_size) + 4)

/*
 * Copies the setup header out of the image and keeps only the bytes the image
 * says are header (0x202 + the byte at 0x201); the rest of the struct is zeroed,
 * since in older images those offsets hold setup code, not fields.
 */
static int bzimage_header(const uint8_t *image, size_t size, struct setup_header *hdr, char *err)
{
	size_t end;

	if (!image_range_ok(SETUP_HEADER_OFFSET, sizeof(*hdr), size))
		return loader_fail(err, -ENOEXEC, "bzImage setup header is truncated (%zu bytes)", size);
	memcpy(hdr, image + SETUP_HEADER_OFFSET, sizeof(*hdr));
	if (hdr->header != SETUP_HEADER_MAGIC)
		return loader_fail(err, -ENOEXEC, "bzImage has no HdrS setup header");
	/* xloadflags, and with it XLF_KERNEL_64, exists only from protocol 2.12. */
	if (hdr->version < BOOT_PROTOCOL(2, 12))
		return loader_fail(err, -ENOEXEC, "bzImage boot protocol %u.%u is too old (need 2.12)",
				   hdr->version >> 8, hdr->version & 0xff);
	end = 0x202 + (hdr->jump >> 8);
	if (end < HDR_END_MIN)
		return loader_fail(err, -EINVAL, "bzImage setup header is too short for protocol 2.12");
	if (end < SETUP_HEADER_OFFSET + sizeof(*hdr))
		memset((uint8_t *)hdr + (end - SETUP_HEADER_OFFSET), 0,
		       SETUP_HEADER_OFFSET + sizeof(*hdr) - end);
	if (!(hdr->loadflags & LOADED_HIGH))
		return loader_fail(err, -ENOEXEC, "zImage (not loaded high) is not supported");
	if (!(hdr->xloadflags & XLF_KERNEL_64))
		return loader_fail(err, -ENOEXEC, "bzImage has no 64-bit entry point (XLF_KERNEL_64)");
	return 0;
}

/*
 * Where the kernel will run and need init_size bytes: a relocatable kernel
 * aligns its load address up to kernel_alignment but never goes below
 * pref_address; a fixed one moves itself to pref_address.  0 or -EINVAL.
 */
static int bzimage_runtime(const struct setup_header *hdr, uint64_t load, uint64_t *start, char *err)
{
	uint64_t align = hdr->kernel_alignment, at = load;

	if (hdr->relocatable_kernel) {
		if (!align || (align & (align - 1)))
			return loader_fail(err, -EINVAL, "bzImage kernel_alignment 0x%llx is not a power of two",
					   (unsigned long long)align);
		at = (load + align - 1) & ~(align - 1); /* align <= 2^31: no overflow */
		if (hdr->pref_address > at)
			at = hdr->pref_address;
	} else if (hdr->pref_address) {
		at = hdr->pref_address;
	}
	if (at < LAYOUT_HIMEM_START)
		return loader_fail(err, -EINVAL, "bzImage wants to run at 0x%llx, below 1 MiB",
				   (unsigned long long)at);
	*start = at;
	return 0;
}

int bzimage_load(const struct gmem *mem, const uint8_t *image, size_t size,
		 struct kernel_load_result *out, char err[LOADER_ERR_MAX])
{
	const uint64_t load = LAYOUT_KERNEL_LOAD;
	uint64_t pm_off, pm_size, run, end;
	struct setup_header hdr;
	unsigned int sects;
	int rc;

	if (!mem || !out || (!image && size))
		return loader_fail(err, -EINVAL, "no kernel image");
	rc = bzimage_header(image, size, &hdr, err);
	if (rc)
		return rc;

	sects = hdr.setup_sects ? hdr.setup_sects : SETUP_SECTS_DEFAULT;
	pm_off = (uint64_t)(sects + 1) * SECTOR;
	if (pm_off >= size)
		return loader_fail(err, -EINVAL, "bzImage setup_sects %u points past the end of the image",
				   hdr.setup_sects);
	pm_size = size - pm_off;
	if (pm_size <= BZIMAGE_ENTRY64_OFFSET)
		return loader_fail(err, -EINVAL, "bzImage protected-mode code ends before its 64-bit entry");

	/* Every 2.10+ kernel needs room to decompress; 0 would make kernel_end point
	 * at an empty area wherever pref_address says, e.g. past the end of RAM. */
	if (!hdr.init_size)
		return loader_fail(err, -EINVAL, "bzImage init_size is 0");
	rc = bzimage_runtime(&hdr, load, &run, err);
	if (rc)
		return rc;
	if (run + hdr.init_size < run || !gmem_range_ok(mem, run, hdr.init_size))
		return loader_fail(err, -EFAULT,
				   "bzImage needs 0x%x bytes of RAM at 0x%llx; guest memory is too small",
				   hdr.init_size, (unsigned long long)run);
	if (!gmem_range_ok(mem, load, pm_size))
		return loader_fail(err, -EFAULT, "bzImage (%llu bytes) does not fit in guest memory at 0x%llx",
				   (unsigned long long)pm_size, (unsigned long long)load);

	if (gmem_write(mem, load, image + pm_off, pm_size))
		return loader_fail(err, -EFAULT, "bzImage does not fit in guest memory");

	end = load + pm_size;
	if (run + hdr.init_size > end)
		end = run + hdr.init_size;
	memset(out, 0, sizeof(*out));
	out->format = KERNEL_BZIMAGE;
	out->kind = BOOT_LINUX64;
	out->entry = load + BZIMAGE_ENTRY64_OFFSET;
	out->kernel_end = end;
	out->have_setup_header = 1;
	out->setup_header = hdr;
	out->is_linux = 1; /* the Linux boot protocol is only Linux's */
	return 0;
}
