/*
 * Guest ABI of the Linux x86 boot protocol (Documentation/arch/x86/boot.rst and
 * zero-page.rst): struct setup_header (at offset 0x1f1 of a bzImage and of the
 * zero page) and struct boot_params (the "zero page").  Layouts are fixed by the
 * protocol and checked with static asserts in bootparam.c.
 *
 * Fields kiln never reads or writes (BIOS-era tables: screen, APM, EDD, EDID,
 * EFI) are kept as byte arrays of the protocol's size: only their place matters.
 * All fields are little-endian, as on the x86_64 hosts kiln runs on.
 */
#ifndef KILN_BOOTPARAM_H
#define KILN_BOOTPARAM_H

#include <stdint.h>

#include "vmm/boot/e820.h"

/* Where the setup header sits in a bzImage and in the zero page. */
#define SETUP_HEADER_OFFSET 0x1f1
#define SETUP_HEADER_MAGIC  0x53726448u /* "HdrS" at 0x202 */
#define SETUP_BOOT_FLAG     0xaa55      /* at 0x1fe */

/* loadflags */
#define LOADED_HIGH     (1u << 0) /* protected-mode code loaded at 1 MiB or above */
#define KASLR_FLAG      (1u << 1)
#define QUIET_FLAG      (1u << 5)
#define KEEP_SEGMENTS   (1u << 6)
#define CAN_USE_HEAP    (1u << 7) /* heap_end_ptr is valid */

/* xloadflags (protocol 2.12+) */
#define XLF_KERNEL_64                (1u << 0) /* has the 64-bit entry at load + 0x200 */
#define XLF_CAN_BE_LOADED_ABOVE_4G   (1u << 1) /* kernel, boot_params, cmdline, initrd may live above 4 GiB */
#define XLF_EFI_HANDOVER_32          (1u << 2)
#define XLF_EFI_HANDOVER_64          (1u << 3)
#define XLF_EFI_KEXEC                (1u << 4)
#define XLF_5LEVEL                   (1u << 5)
#define XLF_5LEVEL_ENABLED           (1u << 6)

#define BOOT_LOADER_UNDEFINED 0xff /* type_of_loader: "other" boot loader */

/* The 64-bit entry point is this far into the protected-mode code. */
#define BZIMAGE_ENTRY64_OFFSET 0x200

/* Protocol version as stored in setup_header.version: 2.12 = 0x020c. */
#define BOOT_PROTOCOL(major, minor) (((major) << 8) | (minor))

struct setup_header {
	uint8_t  setup_sects;          /* 0x1f1: real-mode setup size in 512-byte sectors; 0 means 4 */
	uint16_t root_flags;           /* 0x1f2 */
	uint32_t syssize;              /* 0x1f4: protected-mode size in 16-byte paragraphs */
	uint16_t ram_size;             /* 0x1f8: obsolete */
	uint16_t vid_mode;             /* 0x1fa */
	uint16_t root_dev;             /* 0x1fc */
	uint16_t boot_flag;            /* 0x1fe: 0xaa55 */
	uint16_t jump;                 /* 0x200: jmp; high byte + 0x202 = end of header */
	uint32_t header;               /* 0x202: "HdrS" */
	uint16_t version;              /* 0x206 */
	uint32_t realmode_swtch;       /* 0x208 */
	uint16_t start_sys_seg;        /* 0x20c: obsolete */
	uint16_t kernel_version;       /* 0x20e */
	uint8_t  type_of_loader;       /* 0x210 */
	uint8_t  loadflags;            /* 0x211 */
	uint16_t setup_move_size;      /* 0x212 */
	uint32_t code32_start;         /* 0x214 */
	uint32_t ramdisk_image;        /* 0x218: low 32 bits; high in ext_ramdisk_image */
	uint32_t ramdisk_size;         /* 0x21c */
	uint32_t bootsect_kludge;      /* 0x220: obsolete */
	uint16_t heap_end_ptr;         /* 0x224 */
	uint8_t  ext_loader_ver;       /* 0x226 */
	uint8_t  ext_loader_type;      /* 0x227 */
	uint32_t cmd_line_ptr;         /* 0x228: low 32 bits; high in ext_cmd_line_ptr */
	uint32_t initrd_addr_max;      /* 0x22c: highest byte the initrd may occupy */
	uint32_t kernel_alignment;     /* 0x230 */
	uint8_t  relocatable_kernel;   /* 0x234 */
	uint8_t  min_alignment;        /* 0x235: log2 */
	uint16_t xloadflags;           /* 0x236 */
	uint32_t cmdline_size;         /* 0x238: max command line length, without the NUL */
	uint32_t hardware_subarch;     /* 0x23c */
	uint64_t hardware_subarch_data;/* 0x240 */
	uint32_t payload_offset;       /* 0x248 */
	uint32_t payload_length;       /* 0x24c */
	uint64_t setup_data;           /* 0x250: guest address of a struct setup_data list */
	uint64_t pref_address;         /* 0x258: preferred load address */
	uint32_t init_size;            /* 0x260: bytes needed from the load address during boot */
	uint32_t handover_offset;      /* 0x264 */
	uint32_t kernel_info_offset;   /* 0x268: protocol 2.15 */
} __attribute__((packed));

struct boot_params {
	uint8_t  screen_info[0x40];          /* 0x000 */
	uint8_t  apm_bios_info[0x14];        /* 0x040 */
	uint8_t  _pad2[4];                   /* 0x054 */
	uint64_t tboot_addr;                 /* 0x058 */
	uint8_t  ist_info[0x10];             /* 0x060 */
	uint64_t acpi_rsdp_addr;             /* 0x070 */
	uint8_t  _pad3[8];                   /* 0x078 */
	uint8_t  hd0_info[16];               /* 0x080: obsolete */
	uint8_t  hd1_info[16];               /* 0x090: obsolete */
	uint8_t  sys_desc_table[0x10];       /* 0x0a0: obsolete */
	uint8_t  olpc_ofw_header[0x10];      /* 0x0b0 */
	uint32_t ext_ramdisk_image;          /* 0x0c0: ramdisk_image >> 32 */
	uint32_t ext_ramdisk_size;           /* 0x0c4 */
	uint32_t ext_cmd_line_ptr;           /* 0x0c8 */
	uint8_t  _pad4[112];                 /* 0x0cc */
	uint32_t cc_blob_address;            /* 0x13c */
	uint8_t  edid_info[0x80];            /* 0x140 */
	uint8_t  efi_info[0x20];             /* 0x1c0 */
	uint32_t alt_mem_k;                  /* 0x1e0 */
	uint32_t scratch;                    /* 0x1e4 */
	uint8_t  e820_entries;               /* 0x1e8 */
	uint8_t  eddbuf_entries;             /* 0x1e9 */
	uint8_t  edd_mbr_sig_buf_entries;    /* 0x1ea */
	uint8_t  kbd_status;                 /* 0x1eb */
	uint8_t  secure_boot;                /* 0x1ec */
	uint8_t  _pad5[2];                   /* 0x1ed */
	uint8_t  sentinel;                   /* 0x1ef: nonzero means a loader left junk in the header */
	uint8_t  _pad6[1];                   /* 0x1f0 */
	struct setup_header hdr;             /* 0x1f1 */
	uint8_t  _pad7[0x290 - 0x1f1 - sizeof(struct setup_header)]; /* 0x26c */
	uint32_t edd_mbr_sig_buffer[16];     /* 0x290 */
	struct e820_entry e820_table[128];   /* 0x2d0 */
	uint8_t  _pad8[48];                  /* 0xcd0 */
	uint8_t  eddbuf[6 * 82];             /* 0xd00 */
	uint8_t  _pad9[276];                 /* 0xeec */
} __attribute__((packed));

#define BOOT_PARAMS_E820_MAX 128

/*
 * Fills hdr with the minimal setup header kiln gives a kernel that brought none
 * (an ELF vmlinux): the fields a 64-bit Linux reads before it trusts the rest.
 */
void setup_header_minimal(struct setup_header *hdr);

#endif
