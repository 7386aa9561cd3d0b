/* virtio-blk guest ABI (virtio 1.2 section 5.2).  Little-endian fields. */
#ifndef KILN_VIRTIO_BLK_ABI_H
#define KILN_VIRTIO_BLK_ABI_H

#include <stddef.h>
#include <stdint.h>

#include "devices/virtio/virtio_abi.h"

/* Feature bits. */
#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX  2
#define VIRTIO_BLK_F_GEOMETRY 4
#define VIRTIO_BLK_F_RO       5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH    9

/* Request types. */
#define VIRTIO_BLK_T_IN     0
#define VIRTIO_BLK_T_OUT    1
#define VIRTIO_BLK_T_FLUSH  4
#define VIRTIO_BLK_T_GET_ID 8

/* Status byte. */
#define VIRTIO_BLK_S_OK     0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_SECTOR_SIZE 512
#define VIRTIO_BLK_SECTOR_SHIFT 9
#define VIRTIO_BLK_ID_BYTES 20

/* The request header: the first 16 device-readable bytes of a chain.  Data
 * follows (readable for OUT, writable for IN and GET_ID), then one writable
 * status byte, whatever the descriptor boundaries. */
struct virtio_blk_outhdr {
	le32 type;
	le32 reserved; /* ioprio in legacy drivers */
	le64 sector;
};

/* The configuration space up to num_queues; fields whose feature is not
 * offered read as 0. */
struct virtio_blk_config {
	le64 capacity; /* 512-byte sectors, always present */
	le32 size_max;
	le32 seg_max;
	struct {
		le16 cylinders;
		uint8_t heads;
		uint8_t sectors;
	} geometry;
	le32 blk_size;
	struct {
		uint8_t physical_block_exp;
		uint8_t alignment_offset;
		le16 min_io_size;
		le32 opt_io_size;
	} topology;
	uint8_t writeback;
	uint8_t unused0;
	le16 num_queues;
} __attribute__((packed)); /* 36 bytes: no tail padding in the guest's view */

_Static_assert(sizeof(struct virtio_blk_outhdr) == 16, "virtio_blk_outhdr layout");
_Static_assert(offsetof(struct virtio_blk_config, blk_size) == 20, "virtio_blk_config layout");
_Static_assert(offsetof(struct virtio_blk_config, writeback) == 32, "virtio_blk_config layout");
_Static_assert(sizeof(struct virtio_blk_config) == 36, "virtio_blk_config layout");

#endif
