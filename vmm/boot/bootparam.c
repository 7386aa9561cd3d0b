/*
 * The boot-protocol structs are guest ABI: a field one byte off is a kernel
 * that reads garbage.  Every offset the protocol documents is asserted here, so
 * a layout mistake fails the build rather than a boot.
 */
#include "vmm/boot/bootparam.h"

#include <stddef.h>
#include <string.h>

#include "vmm/boot/layout.h"

#define HDR_AT(field, off) \
	_Static_assert(SETUP_HEADER_OFFSET + offsetof(struct setup_header, field) == (off), \
		       "setup_header." #field " not at " #off)
#define BP_AT(field, off) \
	_Static_assert(offsetof(struct boot_params, field) == (off), \
		       "boot_params." #field " not at " #off)

HDR_AT(setup_sects, 0x1f1);
HDR_AT(root_flags, 0x1f2);
HDR_AT(syssize, 0x1f4);
HDR_AT(vid_mode, 0x1fa);
HDR_AT(boot_flag, 0x1fe);
HDR_AT(jump, 0x200);
HDR_AT(header, 0x202);
HDR_AT(version, 0x206);
HDR_AT(type_of_loader, 0x210);
HDR_AT(loadflags, 0x211);
HDR_AT(code32_start, 0x214);
HDR_AT(ramdisk_image, 0x218);
HDR_AT(ramdisk_size, 0x21c);
HDR_AT(heap_end_ptr, 0x224);
HDR_AT(cmd_line_ptr, 0x228);
HDR_AT(initrd_addr_max, 0x22c);
HDR_AT(kernel_alignment, 0x230);
HDR_AT(relocatable_kernel, 0x234);
HDR_AT(xloadflags, 0x236);
HDR_AT(cmdline_size, 0x238);
HDR_AT(hardware_subarch_data, 0x240);
HDR_AT(setup_data, 0x250);
HDR_AT(pref_address, 0x258);
HDR_AT(init_size, 0x260);
HDR_AT(handover_offset, 0x264);
HDR_AT(kernel_info_offset, 0x268);
_Static_assert(sizeof(struct setup_header) == 0x26c - 0x1f1, "setup_header size");

BP_AT(apm_bios_info, 0x040);
BP_AT(tboot_addr, 0x058);
BP_AT(ist_info, 0x060);
BP_AT(acpi_rsdp_addr, 0x070);
BP_AT(hd0_info, 0x080);
BP_AT(sys_desc_table, 0x0a0);
BP_AT(olpc_ofw_header, 0x0b0);
BP_AT(ext_ramdisk_image, 0x0c0);
BP_AT(ext_ramdisk_size, 0x0c4);
BP_AT(ext_cmd_line_ptr, 0x0c8);
BP_AT(cc_blob_address, 0x13c);
BP_AT(edid_info, 0x140);
BP_AT(efi_info, 0x1c0);
BP_AT(alt_mem_k, 0x1e0);
BP_AT(e820_entries, 0x1e8);
BP_AT(eddbuf_entries, 0x1e9);
BP_AT(sentinel, 0x1ef);
BP_AT(hdr, 0x1f1);
BP_AT(edd_mbr_sig_buffer, 0x290);
BP_AT(e820_table, 0x2d0);
BP_AT(eddbuf, 0xd00);
_Static_assert(sizeof(struct e820_entry) == 20, "e820_entry size");
_Static_assert(sizeof(((struct boot_params *)0)->e820_table) / sizeof(struct e820_entry) ==
	       BOOT_PARAMS_E820_MAX, "e820_table entries");
_Static_assert(sizeof(struct boot_params) == 4096, "boot_params is one page");

void setup_header_minimal(struct setup_header *hdr)
{
	memset(hdr, 0, sizeof(*hdr));
	hdr->boot_flag = SETUP_BOOT_FLAG;
	hdr->header = SETUP_HEADER_MAGIC;
	/* 2.10: the first version with every field a 64-bit kernel consults
	 * before its own setup code would have run (init_size, pref_address). */
	hdr->version = BOOT_PROTOCOL(2, 10);
	hdr->kernel_alignment = 0x1000000;
	hdr->cmdline_size = LAYOUT_CMDLINE_MAX - 1;
}
