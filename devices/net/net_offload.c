/* Which offloads cross the backend, from the negotiated features.  See net.h. */
#include "devices/net/net.h"

#include <endian.h>

static bool has(uint64_t features, unsigned int bit)
{
	return features & VIRTIO_FEATURE(bit);
}

unsigned int net_offload_flags(uint64_t f)
{
	unsigned int flags = 0;

	/* Without GUEST_CSUM the driver takes only complete checksums, and
	 * the kernel refuses TSO/UFO flags without TUN_F_CSUM. */
	if (!has(f, VIRTIO_NET_F_GUEST_CSUM))
		return 0;
	flags |= NET_TUN_F_CSUM;
	if (has(f, VIRTIO_NET_F_GUEST_TSO4))
		flags |= NET_TUN_F_TSO4;
	if (has(f, VIRTIO_NET_F_GUEST_TSO6))
		flags |= NET_TUN_F_TSO6;
	if (has(f, VIRTIO_NET_F_GUEST_ECN) && (flags & (NET_TUN_F_TSO4 | NET_TUN_F_TSO6)))
		flags |= NET_TUN_F_TSO_ECN;
	if (has(f, VIRTIO_NET_F_GUEST_UFO))
		flags |= NET_TUN_F_UFO;
	return flags;
}

bool net_tx_hdr_ok(const struct virtio_net_hdr_v1 *h, uint64_t f)
{
	uint8_t gso = h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;

	if (h->flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return false;
	if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !has(f, VIRTIO_NET_F_CSUM))
		return false;
	if ((h->gso_type & VIRTIO_NET_HDR_GSO_ECN) && !has(f, VIRTIO_NET_F_HOST_ECN))
		return false;
	switch (gso) {
	case VIRTIO_NET_HDR_GSO_NONE:
		return !(h->gso_type & VIRTIO_NET_HDR_GSO_ECN);
	case VIRTIO_NET_HDR_GSO_TCPV4:
		return has(f, VIRTIO_NET_F_HOST_TSO4);
	case VIRTIO_NET_HDR_GSO_TCPV6:
		return has(f, VIRTIO_NET_F_HOST_TSO6);
	case VIRTIO_NET_HDR_GSO_UDP:
		return has(f, VIRTIO_NET_F_HOST_UFO);
	default:
		return false;
	}
}
