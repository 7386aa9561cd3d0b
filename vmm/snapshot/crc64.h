/*
 * CRC-64/XZ (also called CRC-64/GO-ECMA): the ECMA-182 polynomial, reflected,
 * initial value and final xor all ones.  Check value: crc64("123456789") =
 * 0x995dc9bbdf1939fa.  Used for the vmstate payload (snap_format.h).
 */
#ifndef KILN_SNAP_CRC64_H
#define KILN_SNAP_CRC64_H

#include <stddef.h>
#include <stdint.h>

/* CRC of len bytes, continuing from crc (start with 0). */
uint64_t crc64_update(uint64_t crc, const void *data, size_t len);

static inline uint64_t crc64(const void *data, size_t len)
{
	return crc64_update(0, data, len);
}

#endif
