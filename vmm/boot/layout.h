/*
 * Where kiln puts things in guest-physical memory on x86_64.  One table, so the
 * loaders, the vCPU setup and the device wiring agree, and so the test guest and
 * the docs can be checked against it.
 */
#ifndef KILN_LAYOUT_H
#define KILN_LAYOUT_H

/* Low memory: boot structures the vCPU setup writes before the first KVM_RUN. */
#define LAYOUT_GDT            0x500ULL   /* up to 8 x 8-byte descriptors */
#define LAYOUT_IDT            0x540ULL   /* empty IDT (limit 0) */
#define LAYOUT_PVH_INFO       0x6000ULL  /* hvm_start_info, modlist, memmap: one page */
#define LAYOUT_ZERO_PAGE      0x7000ULL  /* struct boot_params (Linux boot protocol) */
#define LAYOUT_BOOT_STACK     0x8ff0ULL
#define LAYOUT_PML4           0x9000ULL
#define LAYOUT_PDPT           0xa000ULL
#define LAYOUT_PD             0xb000ULL  /* 4 pages: identity map of the first 4 GiB, 2 MiB pages */
#define LAYOUT_PD_PAGES       4
#define LAYOUT_CMDLINE        0x20000ULL
#define LAYOUT_CMDLINE_MAX    4096ULL    /* bytes including the NUL */
#define LAYOUT_EBDA_START     0x9fc00ULL /* MP table lives here; not RAM in e820 */
#define LAYOUT_MPTABLE        LAYOUT_EBDA_START
#define LAYOUT_HIMEM_START    0x100000ULL
#define LAYOUT_KERNEL_LOAD    0x1000000ULL /* bzImage protected-mode code, 16 MiB */

/* The 32-bit MMIO gap: no RAM in [3 GiB, 4 GiB); RAM beyond 3 GiB moves above 4 GiB. */
#define LAYOUT_MMIO_GAP_START 0xc0000000ULL
#define LAYOUT_MMIO_GAP_END   0x100000000ULL
#define LAYOUT_BOOT_TIMER     0xc0000000ULL /* Firecracker's address: its guest tools poke it */
#define LAYOUT_BOOT_TIMER_LEN 0x1000ULL
#define LAYOUT_VIRTIO_BASE    0xc0001000ULL /* device n at LAYOUT_VIRTIO_BASE + n * 0x1000 */
#define LAYOUT_VIRTIO_STRIDE  0x1000ULL
#define LAYOUT_IOAPIC         0xfec00000ULL
#define LAYOUT_LAPIC          0xfee00000ULL

/* Port I/O. */
#define LAYOUT_PIO_COM1       0x3f8
#define LAYOUT_IRQ_COM1       4
#define LAYOUT_PIO_I8042      0x60 /* 0x60..0x64: data, port B, status/command */
#define LAYOUT_IRQ_I8042      1
#define LAYOUT_IRQ_VIRTIO_FIRST 5
#define LAYOUT_IRQ_VIRTIO_LAST  23

#endif
