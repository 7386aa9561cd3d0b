/*
 * Initrd placement: as high as allowed, page-aligned, so it stays clear of the
 * kernel's decompression area and leaves low RAM below it for the kernel to use.
 */
#include <errno.h>

#include "vmm/boot/loader.h"
#include "vmm/boot/loader_priv.h"

#define PAGE_SIZE 0x1000ULL

int initrd_load(const struct gmem *mem, const uint8_t *initrd, size_t size, uint64_t min_start,
		uint64_t max_end, uint64_t *addr, char err[LOADER_ERR_MAX])
{
	uint64_t at;

	if (!mem || !addr || !initrd)
		return loader_fail(err, -EINVAL, "no initrd");
	if (!size)
		return loader_fail(err, -EINVAL, "initrd is empty");
	if (size > max_end)
		return loader_fail(err, -ENOMEM, "initrd (%zu bytes) is larger than the memory below 0x%llx",
				   size, (unsigned long long)max_end);
	at = (max_end - size) & ~(PAGE_SIZE - 1);
	if (at < min_start)
		return loader_fail(err, -ENOMEM,
				   "initrd (%zu bytes) does not fit between the kernel end 0x%llx and 0x%llx",
				   size, (unsigned long long)min_start, (unsigned long long)max_end);
	if (!gmem_range_ok(mem, at, size))
		return loader_fail(err, -EFAULT, "initrd at 0x%llx lies outside guest memory",
				   (unsigned long long)at);
	if (gmem_write(mem, at, initrd, size))
		return loader_fail(err, -EFAULT, "initrd at 0x%llx lies outside guest memory",
				   (unsigned long long)at);
	*addr = at;
	return 0;
}
