/*
 * The guest's e820 map.  Derived only from the gmem region table, so the map
 * can never claim RAM that kiln does not back.
 */
#include "vmm/boot/e820.h"

#include <errno.h>

#include "vmm/boot/layout.h"

int e820_build(const struct gmem *mem, struct e820_entry *out, unsigned int max)
{
	const struct gmem_region *low;
	unsigned int i, n = 0;

	if (!mem || !out || !mem->nr_regions)
		return -EINVAL;
	low = &mem->regions[0];
	/* Low memory must hold the boot structures and the EBDA, and the kernel
	 * must find RAM at 1 MiB. */
	if (low->gpa != 0 || low->size <= LAYOUT_HIMEM_START)
		return -EINVAL;
	if (max < mem->nr_regions + 1)
		return -EINVAL;

	out[n++] = (struct e820_entry){ .addr = 0, .size = LAYOUT_EBDA_START, .type = E820_RAM };
	out[n++] = (struct e820_entry){ .addr = LAYOUT_HIMEM_START,
					.size = low->size - LAYOUT_HIMEM_START,
					.type = E820_RAM };
	for (i = 1; i < mem->nr_regions; i++)
		out[n++] = (struct e820_entry){ .addr = mem->regions[i].gpa,
						.size = mem->regions[i].size,
						.type = E820_RAM };
	return (int)n;
}
