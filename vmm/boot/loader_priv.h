/*
 * Private to the boot unit (its loaders, tests and fuzz targets): error
 * reporting and the image bounds check every loader shares.
 */
#ifndef KILN_LOADER_PRIV_H
#define KILN_LOADER_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/boot/loader.h"

/* Formats a one-line reason into err, when err is not NULL. */
void loader_errf(char err[LOADER_ERR_MAX], const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * `return loader_fail(err, -EINVAL, "...", ...);` records the reason and yields
 * rc.  A macro rather than a function so the compiler sees the constant rc and
 * knows the failure paths never return 0.
 */
#define loader_fail(err, rc, ...) (loader_errf((err), __VA_ARGS__), (rc))

/* True when [off, off + len) lies inside an image of size bytes; never overflows. */
static inline int image_range_ok(uint64_t off, uint64_t len, size_t size)
{
	return off <= size && len <= size - off;
}

#endif
