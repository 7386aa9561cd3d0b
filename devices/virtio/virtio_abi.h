/*
 * virtio 1.x guest ABI shared by every transport and device: device status
 * bits, transport feature bits, interrupt status bits and the split-ring
 * layout (virtio 1.2, "Basic Facilities of a Virtio Device" and "Split
 * Virtqueues").  All multi-byte fields are little-endian in guest memory.
 */
#ifndef KILN_VIRTIO_ABI_H
#define KILN_VIRTIO_ABI_H

#include <stdint.h>

typedef uint16_t le16;
typedef uint32_t le32;
typedef uint64_t le64;

/* Device status (2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE        0x01
#define VIRTIO_STATUS_DRIVER             0x02
#define VIRTIO_STATUS_DRIVER_OK          0x04
#define VIRTIO_STATUS_FEATURES_OK        0x08
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED             0x80

/* Reserved feature bits (6). */
#define VIRTIO_F_RING_INDIRECT_DESC 28
#define VIRTIO_F_RING_EVENT_IDX     29
#define VIRTIO_F_VERSION_1          32
#define VIRTIO_F_ACCESS_PLATFORM    33
#define VIRTIO_F_RING_PACKED        34
#define VIRTIO_F_IN_ORDER           35
#define VIRTIO_F_NOTIFICATION_DATA  38
#define VIRTIO_F_RING_RESET         40

#define VIRTIO_FEATURE(bit) (1ULL << (bit))

/* Interrupt status bits (InterruptStatus on MMIO, ISR on PCI). */
#define VIRTIO_ISR_USED   0x1 /* used buffer notification */
#define VIRTIO_ISR_CONFIG 0x2 /* configuration change notification */

/* Device IDs (5). */
#define VIRTIO_ID_NET   1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_RNG   4
#define VIRTIO_ID_VSOCK 19

/* Split virtqueue (2.7). */
#define VIRTQ_DESC_F_NEXT     1
#define VIRTQ_DESC_F_WRITE    2
#define VIRTQ_DESC_F_INDIRECT 4

#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY     1

struct virtq_desc {
	le64 addr;
	le32 len;
	le16 flags;
	le16 next;
};

struct virtq_used_elem {
	le32 id;
	le32 len;
};

/* Ring geometry: the avail ring is flags, idx, ring[size], used_event; the
 * used ring is flags, idx, ring[size] of used elems, avail_event. */
#define VIRTQ_DESC_ALIGN  16
#define VIRTQ_AVAIL_ALIGN 2
#define VIRTQ_USED_ALIGN  4

#define VIRTQ_DESC_TABLE_SIZE(n) (16ULL * (n))
#define VIRTQ_AVAIL_RING_SIZE(n) (6ULL + 2ULL * (n))
#define VIRTQ_USED_RING_SIZE(n)  (6ULL + 8ULL * (n))

#define VIRTQ_AVAIL_OFF_FLAGS       0
#define VIRTQ_AVAIL_OFF_IDX         2
#define VIRTQ_AVAIL_OFF_RING(i)     (4ULL + 2ULL * (i))
#define VIRTQ_AVAIL_OFF_USED_EVENT(n) VIRTQ_AVAIL_OFF_RING(n)

#define VIRTQ_USED_OFF_FLAGS        0
#define VIRTQ_USED_OFF_IDX          2
#define VIRTQ_USED_OFF_RING(i)      (4ULL + 8ULL * (i))
#define VIRTQ_USED_OFF_AVAIL_EVENT(n) VIRTQ_USED_OFF_RING(n)

/* "Having incremented an index from old to new_idx, is event_idx (set by the
 * other side) among the indices just passed?"  Wrap-safe in 16 bits. */
static inline int virtq_need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event_idx - 1) < (uint16_t)(new_idx - old);
}

#endif
