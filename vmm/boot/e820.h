/* The guest's memory map, derived from the guest-memory regions. */
#ifndef KILN_E820_H
#define KILN_E820_H

#include <stdint.h>

#include "vmm/compiler.h"
#include "vmm/mem/gmem.h"

#define E820_RAM      1
#define E820_RESERVED 2
#define E820_MAX_ENTRIES 16

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

/*
 * Fills out[] with the map the guest should see: RAM [0, EBDA), RAM from
 * 1 MiB to the end of the first region, and every higher region as RAM.  The
 * EBDA/BIOS hole [EBDA, 1 MiB) is left out (not RAM).  Requires the first region
 * to start at 0 and reach past 1 MiB.  Returns the number of entries, or -EINVAL.
 */
int e820_build(const struct gmem *mem, struct e820_entry *out, unsigned int max) __must_check;

#endif
