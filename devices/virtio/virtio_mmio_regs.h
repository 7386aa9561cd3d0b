/* virtio-mmio register layout, version 2 (virtio 1.2 section 4.2.2). */
#ifndef KILN_VIRTIO_MMIO_REGS_H
#define KILN_VIRTIO_MMIO_REGS_H

#define VIRTIO_MMIO_MAGIC_VALUE        0x000 /* R  0x74726976 "virt" */
#define VIRTIO_MMIO_VERSION            0x004 /* R  2 */
#define VIRTIO_MMIO_DEVICE_ID          0x008 /* R */
#define VIRTIO_MMIO_VENDOR_ID          0x00c /* R */
#define VIRTIO_MMIO_DEVICE_FEATURES    0x010 /* R */
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014 /* W */
#define VIRTIO_MMIO_DRIVER_FEATURES    0x020 /* W */
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024 /* W */
#define VIRTIO_MMIO_QUEUE_SEL          0x030 /* W */
#define VIRTIO_MMIO_QUEUE_NUM_MAX      0x034 /* R */
#define VIRTIO_MMIO_QUEUE_NUM          0x038 /* W */
#define VIRTIO_MMIO_QUEUE_READY        0x044 /* RW */
#define VIRTIO_MMIO_QUEUE_NOTIFY       0x050 /* W */
#define VIRTIO_MMIO_INTERRUPT_STATUS   0x060 /* R */
#define VIRTIO_MMIO_INTERRUPT_ACK      0x064 /* W */
#define VIRTIO_MMIO_STATUS             0x070 /* RW */
#define VIRTIO_MMIO_QUEUE_DESC_LOW     0x080 /* W */
#define VIRTIO_MMIO_QUEUE_DESC_HIGH    0x084 /* W */
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW   0x090 /* W */
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH  0x094 /* W */
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW   0x0a0 /* W */
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH  0x0a4 /* W */
#define VIRTIO_MMIO_SHM_SEL            0x0ac /* W */
#define VIRTIO_MMIO_SHM_LEN_LOW        0x0b0 /* R  all ones: no region */
#define VIRTIO_MMIO_SHM_LEN_HIGH       0x0b4 /* R */
#define VIRTIO_MMIO_SHM_BASE_LOW       0x0b8 /* R  all ones: no region */
#define VIRTIO_MMIO_SHM_BASE_HIGH      0x0bc /* R */
#define VIRTIO_MMIO_QUEUE_RESET        0x0c0 /* RW only with VIRTIO_F_RING_RESET */
#define VIRTIO_MMIO_CONFIG_GENERATION  0x0fc /* R */
#define VIRTIO_MMIO_CONFIG             0x100 /* device configuration space */

#define VIRTIO_MMIO_MAGIC 0x74726976u
#define VIRTIO_MMIO_VERSION_MODERN 2

/* The window a device occupies on the MMIO bus (Firecracker's size). */
#define VIRTIO_MMIO_WINDOW 0x1000

#endif
