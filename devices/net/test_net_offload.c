/* Offload negotiation: the TUNSETOFFLOAD flags the negotiated features give,
 * and which transmit headers the features allow. */
#include <criterion/criterion.h>

#include "devices/net/net.h"

#define F(bit) VIRTIO_FEATURE(bit)

Test(net_offload, nothing_without_guest_csum)
{
	cr_assert_eq(net_offload_flags(0), 0);
	cr_assert_eq(net_offload_flags(F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4)), 0,
		     "host-side offloads are not the TAP's to hand us");
	cr_assert_eq(net_offload_flags(F(VIRTIO_NET_F_GUEST_TSO4) | F(VIRTIO_NET_F_GUEST_TSO6) |
				       F(VIRTIO_NET_F_GUEST_UFO)),
		     0, "TSO/UFO without GUEST_CSUM: the kernel would refuse them");
}

Test(net_offload, guest_features_map_to_tun_flags)
{
	uint64_t csum = F(VIRTIO_NET_F_GUEST_CSUM);

	cr_assert_eq(net_offload_flags(csum), NET_TUN_F_CSUM);
	cr_assert_eq(net_offload_flags(csum | F(VIRTIO_NET_F_GUEST_TSO4)), NET_TUN_F_CSUM | NET_TUN_F_TSO4);
	cr_assert_eq(net_offload_flags(csum | F(VIRTIO_NET_F_GUEST_TSO6)), NET_TUN_F_CSUM | NET_TUN_F_TSO6);
	cr_assert_eq(net_offload_flags(csum | F(VIRTIO_NET_F_GUEST_UFO)), NET_TUN_F_CSUM | NET_TUN_F_UFO);
	cr_assert_eq(net_offload_flags(csum | F(VIRTIO_NET_F_GUEST_TSO4) | F(VIRTIO_NET_F_GUEST_TSO6) |
				       F(VIRTIO_NET_F_GUEST_UFO)),
		     NET_TUN_F_CSUM | NET_TUN_F_TSO4 | NET_TUN_F_TSO6 | NET_TUN_F_UFO);
	cr_assert_eq(net_offload_flags(csum | F(VIRTIO_NET_F_GUEST_ECN)), NET_TUN_F_CSUM, "ECN needs TSO");
	cr_assert_eq(net_offload_flags(csum | F(VIRTIO_NET_F_GUEST_ECN) | F(VIRTIO_NET_F_GUEST_TSO4)),
		     NET_TUN_F_CSUM | NET_TUN_F_TSO4 | NET_TUN_F_TSO_ECN);
}

static struct virtio_net_hdr_v1 hdr(uint8_t flags, uint8_t gso)
{
	return (struct virtio_net_hdr_v1){ .flags = flags, .gso_type = gso, .gso_size = 1448 };
}

Test(net_offload, tx_header_needs_the_negotiated_offload)
{
	uint64_t none = F(VIRTIO_F_VERSION_1);
	uint64_t all = none | F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4) | F(VIRTIO_NET_F_HOST_TSO6) |
		       F(VIRTIO_NET_F_HOST_UFO);
	struct virtio_net_hdr_v1 h;

	h = hdr(0, VIRTIO_NET_HDR_GSO_NONE);
	cr_assert(net_tx_hdr_ok(&h, none));
	h = hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_NONE);
	cr_assert_not(net_tx_hdr_ok(&h, none), "partial checksum without CSUM");
	cr_assert(net_tx_hdr_ok(&h, all));
	h = hdr(VIRTIO_NET_HDR_F_DATA_VALID, VIRTIO_NET_HDR_GSO_NONE);
	cr_assert_not(net_tx_hdr_ok(&h, all), "DATA_VALID is a receive flag");
	h = hdr(0x80, 0);
	cr_assert_not(net_tx_hdr_ok(&h, all), "unknown flag");
	for (uint8_t gso = VIRTIO_NET_HDR_GSO_TCPV4; gso <= VIRTIO_NET_HDR_GSO_TCPV6; gso++) {
		h = hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, gso);
		cr_assert_not(net_tx_hdr_ok(&h, none | F(VIRTIO_NET_F_CSUM)), "gso %u not negotiated", gso);
		cr_assert_eq(net_tx_hdr_ok(&h, all), gso != 2, "gso %u", gso);
	}
	h = hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4);
	cr_assert_not(net_tx_hdr_ok(&h, all & ~F(VIRTIO_NET_F_HOST_TSO4)));
	cr_assert(net_tx_hdr_ok(&h, none | F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4)));
	h = hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN);
	cr_assert_not(net_tx_hdr_ok(&h, all), "ECN without HOST_ECN");
	cr_assert(net_tx_hdr_ok(&h, all | F(VIRTIO_NET_F_HOST_ECN)));
	h = hdr(0, VIRTIO_NET_HDR_GSO_ECN);
	cr_assert_not(net_tx_hdr_ok(&h, all | F(VIRTIO_NET_F_HOST_ECN)), "ECN on a non-GSO frame");
}
