/* The TAP backend: /dev/net/tun with a 12-byte vnet header.  See net_backend.h. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "devices/net/net_backend.h"
#include "devices/net/virtio_net_abi.h"

_Static_assert(NET_TUN_F_CSUM == TUN_F_CSUM && NET_TUN_F_TSO4 == TUN_F_TSO4 &&
		       NET_TUN_F_TSO6 == TUN_F_TSO6 && NET_TUN_F_TSO_ECN == TUN_F_TSO_ECN &&
		       NET_TUN_F_UFO == TUN_F_UFO,
	       "TUNSETOFFLOAD flags");

static ssize_t tap_read(void *opaque, void *buf, size_t len)
{
	struct net_tap *t = opaque;
	ssize_t n;

	do
		n = read(t->fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return n;
}

static ssize_t tap_writev(void *opaque, const struct iovec *iov, int iovcnt)
{
	struct net_tap *t = opaque;
	ssize_t n;

	do
		n = writev(t->fd, iov, iovcnt);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return n;
}

static int tap_set_offload(void *opaque, unsigned int flags)
{
	struct net_tap *t = opaque;

	return ioctl(t->fd, TUNSETOFFLOAD, (unsigned long)flags) ? -errno : 0;
}

static const struct net_backend_ops tap_ops = {
	.read = tap_read,
	.writev = tap_writev,
	.set_offload = tap_set_offload,
};

void net_tap_from_fd(struct net_tap *t, int fd)
{
	t->fd = fd;
	t->be = (struct net_backend){ .ops = &tap_ops, .opaque = t, .fd = fd };
}

int net_tap_open(struct net_tap *t, const char *host_dev_name)
{
	struct ifreq ifr;
	int hdr = VIRTIO_NET_HDR_LEN, fd, ret;
	size_t n = host_dev_name ? strlen(host_dev_name) : 0;

	t->fd = -1;
	if (n < 1 || n >= IFNAMSIZ)
		return -EINVAL;
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, host_dev_name, n);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) || ioctl(fd, TUNSETVNETHDRSZ, &hdr) ||
	    ioctl(fd, TUNSETOFFLOAD, 0UL)) {
		ret = -errno;
		close(fd);
		return ret;
	}
	net_tap_from_fd(t, fd);
	return 0;
}

void net_tap_close(struct net_tap *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
}
