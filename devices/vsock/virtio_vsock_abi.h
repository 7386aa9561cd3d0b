/*
 * virtio-vsock guest ABI (virtio 1.2 section 5.10): the packet header every
 * rx/tx buffer starts with, its operations, the configuration space and the
 * event-queue event.  All fields are little-endian in guest memory; the
 * device copies a header out of the chain and converts it before looking at
 * it.
 */
#ifndef KILN_VIRTIO_VSOCK_ABI_H
#define KILN_VIRTIO_VSOCK_ABI_H

#include <stdint.h>

/* Queue indices. */
#define VSOCK_QUEUE_RX    0 /* device -> driver packets */
#define VSOCK_QUEUE_TX    1 /* driver -> device packets */
#define VSOCK_QUEUE_EVENT 2 /* device -> driver events */
#define VSOCK_NR_QUEUES   3

/* Well-known CIDs. */
#define VSOCK_CID_HOST 2ULL
/* The lowest CID a guest may have (0-2 are reserved). */
#define VSOCK_CID_MIN_GUEST 3ULL

#define VIRTIO_VSOCK_TYPE_STREAM 1

enum virtio_vsock_op {
	VIRTIO_VSOCK_OP_INVALID = 0,
	VIRTIO_VSOCK_OP_REQUEST = 1,
	VIRTIO_VSOCK_OP_RESPONSE = 2,
	VIRTIO_VSOCK_OP_RST = 3,
	VIRTIO_VSOCK_OP_SHUTDOWN = 4,
	VIRTIO_VSOCK_OP_RW = 5,
	VIRTIO_VSOCK_OP_CREDIT_UPDATE = 6,
	VIRTIO_VSOCK_OP_CREDIT_REQUEST = 7,
};

/* SHUTDOWN flags: the sender will receive / send no more. */
#define VIRTIO_VSOCK_SHUTDOWN_RCV  1
#define VIRTIO_VSOCK_SHUTDOWN_SEND 2

struct virtio_vsock_hdr {
	uint64_t src_cid;  /* le64 */
	uint64_t dst_cid;  /* le64 */
	uint32_t src_port; /* le32 */
	uint32_t dst_port; /* le32 */
	uint32_t len;      /* le32: payload bytes after the header */
	uint16_t type;     /* le16: VIRTIO_VSOCK_TYPE_* */
	uint16_t op;       /* le16: VIRTIO_VSOCK_OP_* */
	uint32_t flags;    /* le32 */
	uint32_t buf_alloc; /* le32: sender's receive buffer size */
	uint32_t fwd_cnt;  /* le32: bytes the sender has consumed from that buffer */
} __attribute__((packed));

_Static_assert(sizeof(struct virtio_vsock_hdr) == 44, "virtio_vsock_hdr is 44 bytes");

#define VIRTIO_VSOCK_HDR_SIZE 44u

struct virtio_vsock_config {
	uint64_t guest_cid; /* le64 */
} __attribute__((packed));

#define VIRTIO_VSOCK_EVENT_TRANSPORT_RESET 0

struct virtio_vsock_event {
	uint32_t id; /* le32 */
} __attribute__((packed));

#endif
