/* virtio-net guest ABI (virtio 1.2 section 5.1).  Little-endian fields. */
#ifndef KILN_VIRTIO_NET_ABI_H
#define KILN_VIRTIO_NET_ABI_H

#include <stdint.h>

#include "devices/virtio/virtio_abi.h"

/* Feature bits (5.1.3). */
#define VIRTIO_NET_F_CSUM       0  /* device takes frames with a partial checksum */
#define VIRTIO_NET_F_GUEST_CSUM 1  /* driver takes frames with a partial checksum */
#define VIRTIO_NET_F_MTU        3
#define VIRTIO_NET_F_MAC        5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_GUEST_ECN  9
#define VIRTIO_NET_F_GUEST_UFO  10
#define VIRTIO_NET_F_HOST_TSO4  11
#define VIRTIO_NET_F_HOST_TSO6  12
#define VIRTIO_NET_F_HOST_ECN   13
#define VIRTIO_NET_F_HOST_UFO   14
#define VIRTIO_NET_F_MRG_RXBUF  15
#define VIRTIO_NET_F_STATUS     16
#define VIRTIO_NET_F_CTRL_VQ    17

#define VIRTIO_NET_S_LINK_UP 1

/* Queue indices: one receive/transmit pair, no control queue. */
#define VIRTIO_NET_RXQ 0
#define VIRTIO_NET_TXQ 1

/* Configuration space (5.1.4); mtu is valid with VIRTIO_NET_F_MTU. */
struct virtio_net_config {
	uint8_t mac[6];
	le16 status;
	le16 max_virtqueue_pairs;
	le16 mtu;
} __attribute__((packed));

/* Header before every frame in both directions (5.1.6); with VERSION_1 it
 * always has num_buffers, so it is 12 bytes. */
struct virtio_net_hdr_v1 {
	uint8_t flags;
	uint8_t gso_type;
	le16 hdr_len;
	le16 gso_size;
	le16 csum_start;
	le16 csum_offset;
	le16 num_buffers;
} __attribute__((packed));

#define VIRTIO_NET_HDR_LEN 12
#define VIRTIO_NET_HDR_OFF_NUM_BUFFERS 10

#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2

#define VIRTIO_NET_HDR_GSO_NONE  0
#define VIRTIO_NET_HDR_GSO_TCPV4 1
#define VIRTIO_NET_HDR_GSO_UDP   3
#define VIRTIO_NET_HDR_GSO_TCPV6 4
#define VIRTIO_NET_HDR_GSO_ECN   0x80

#endif
