/* Kernel format detection: ELF magic, else a bzImage setup header, else refuse. */
#include "vmm/boot/loader.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vmm/boot/loader_priv.h"

void loader_errf(char err[LOADER_ERR_MAX], const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(err, LOADER_ERR_MAX, fmt, ap);
	va_end(ap);
}

static int has_bzimage_magic(const uint8_t *image, size_t size)
{
	uint32_t magic;

	if (!image_range_ok(0x202, sizeof(magic), size))
		return 0;
	memcpy(&magic, image + 0x202, sizeof(magic));
	return magic == SETUP_HEADER_MAGIC;
}

int kernel_load(const struct gmem *mem, const uint8_t *image, size_t size,
		struct kernel_load_result *out, char err[LOADER_ERR_MAX])
{
	static const uint8_t elf_magic[4] = { 0x7f, 'E', 'L', 'F' };

	if (!mem || !out || (!image && size))
		return loader_fail(err, -EINVAL, "no kernel image");
	if (size >= sizeof(elf_magic) && !memcmp(image, elf_magic, sizeof(elf_magic)))
		return elf_load(mem, image, size, out, err);
	if (has_bzimage_magic(image, size))
		return bzimage_load(mem, image, size, out, err);
	return loader_fail(err, -ENOEXEC, "not an ELF vmlinux or bzImage");
}
