/*
 * Network backends: where a virtio-net device's frames go and come from.  A
 * frame crosses the backend as the 12-byte virtio_net_hdr_v1 followed by the
 * Ethernet frame, the layout a TAP opened with IFF_VNET_HDR and
 * TUNSETVNETHDRSZ 12 uses, so headers (checksum and GSO offloads) pass
 * through unchanged.
 *
 * Backends never block: a read with nothing waiting and a write the backend
 * cannot take now return -EAGAIN, and the device asks its event loop to watch
 * fd (EPOLLIN, EPOLLOUT) to learn when to retry.
 *
 * Two backends: a real TAP (here) and an in-memory fake for tests,
 * benchmarks and fuzz targets (net_tap_fake.h, in the mock library).
 */
#ifndef KILN_NET_BACKEND_H
#define KILN_NET_BACKEND_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "vmm/compiler.h"

/* Largest frame after the header: 64 KiB of GSO payload with its Ethernet
 * and VLAN headers, as Firecracker sizes it. */
#define NET_FRAME_MAX 65550
/* Header and frame: the most a backend read or write moves. */
#define NET_BUF_MAX (12 + NET_FRAME_MAX)

/* TUNSETOFFLOAD flags (linux/if_tun.h values, so the pure function that
 * computes them is testable without the kernel header). */
#define NET_TUN_F_CSUM    0x01
#define NET_TUN_F_TSO4    0x02
#define NET_TUN_F_TSO6    0x04
#define NET_TUN_F_TSO_ECN 0x08
#define NET_TUN_F_UFO     0x10

struct net_backend_ops {
	/* One frame (header first) into buf: its length (a frame longer than
	 * len is cut to len), -EAGAIN when none is waiting, or -errno.
	 * Required. */
	ssize_t (*read)(void *opaque, void *buf, size_t len);
	/* One frame gathered from iov (iovcnt >= 1): the bytes taken, -EAGAIN
	 * when the backend cannot take it now (nothing was taken), or -errno.
	 * Required. */
	ssize_t (*writev)(void *opaque, const struct iovec *iov, int iovcnt);
	/* The offloads the backend may hand the device (NET_TUN_F_*), from the
	 * features the driver accepted.  0 or -errno.  Required. */
	int (*set_offload)(void *opaque, unsigned int flags);
};

/* A backend as a device sees it; copied by the device at init. */
struct net_backend {
	const struct net_backend_ops *ops;
	void *opaque;
	int fd; /* what the event loop watches for EPOLLIN/EPOLLOUT */
};

/* A TAP device. */
struct net_tap {
	int fd;
	struct net_backend be;
};

/*
 * Attaches to the existing TAP interface host_dev_name (1..15 bytes): opens
 * /dev/net/tun non-blocking and close-on-exec, TUNSETIFF with IFF_TAP |
 * IFF_NO_PI | IFF_VNET_HDR, TUNSETVNETHDRSZ 12, no offloads until the device
 * is activated.  (As with Firecracker, TUNSETIFF creates a TAP of that name
 * when none exists and the caller has CAP_NET_ADMIN; the header is read in
 * host byte order, little-endian on the hosts kiln runs on.)  Fills t->be, whose opaque is t (t must not move while in
 * use).  0, or -EINVAL (bad name) or -errno of the open or ioctl (-EPERM:
 * no CAP_NET_ADMIN and not the TAP's owner; -EBUSY: in use).
 */
int net_tap_open(struct net_tap *t, const char *host_dev_name) __must_check;
/* Wraps an fd that is already a TAP set up as above (tests); takes it. */
void net_tap_from_fd(struct net_tap *t, int fd);
void net_tap_close(struct net_tap *t);

#endif
