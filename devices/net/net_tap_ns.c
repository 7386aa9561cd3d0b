/* A TAP in a private network namespace; see net_tap_ns.h. */
#include "devices/net/net_tap_ns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/ethernet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int fail(const char **why, const char *what)
{
	int err = errno ? errno : EIO;

	*why = what;
	return -err;
}

/* Creates the persistent TAP and lets go of it, so net_tap_open attaches. */
static int tap_create(const char **why)
{
	struct ifreq ifr = { 0 };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return fail(why, "open /dev/net/tun");
	strcpy(ifr.ifr_name, NET_TAP_NS_NAME);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr))
		ret = fail(why, "TUNSETIFF (CAP_NET_ADMIN)");
	else if (ioctl(fd, TUNSETPERSIST, 1UL))
		ret = fail(why, "TUNSETPERSIST");
	close(fd);
	return ret;
}

static int if_up_with_address(int *ifindex, const char **why)
{
	struct ifreq ifr = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret = 0;

	if (s < 0)
		return fail(why, "socket");
	strcpy(ifr.ifr_name, NET_TAP_NS_NAME);
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, "10.213.0.1", &sin->sin_addr);
	if (ioctl(s, SIOCSIFADDR, &ifr))
		ret = fail(why, "SIOCSIFADDR");
	inet_pton(AF_INET, "255.255.255.0", &sin->sin_addr);
	if (!ret && ioctl(s, SIOCSIFNETMASK, &ifr))
		ret = fail(why, "SIOCSIFNETMASK");
	if (!ret && ioctl(s, SIOCGIFFLAGS, &ifr))
		ret = fail(why, "SIOCGIFFLAGS");
	ifr.ifr_flags |= IFF_UP;
	if (!ret && ioctl(s, SIOCSIFFLAGS, &ifr))
		ret = fail(why, "SIOCSIFFLAGS up");
	if (!ret && ioctl(s, SIOCGIFINDEX, &ifr))
		ret = fail(why, "SIOCGIFINDEX");
	*ifindex = ifr.ifr_ifindex;
	close(s);
	return ret;
}

int net_tap_ns_setup(struct net_tap_ns *ns, const char **why)
{
	struct sockaddr_ll sll = { 0 };
	int ret;

	ns->packet_fd = -1;
	errno = 0;
	if (access("/dev/net/tun", R_OK | W_OK))
		return fail(why, "/dev/net/tun missing or not accessible");
	if (unshare(CLONE_NEWNET))
		return fail(why, "unshare(CLONE_NEWNET) (CAP_SYS_ADMIN)");
	ret = tap_create(why);
	if (ret)
		return ret;
	ret = if_up_with_address(&ns->ifindex, why);
	if (ret)
		return ret;
	ns->packet_fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (ns->packet_fd < 0)
		return fail(why, "AF_PACKET socket (CAP_NET_RAW)");
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = ns->ifindex;
	if (bind(ns->packet_fd, (struct sockaddr *)&sll, sizeof(sll)))
		return fail(why, "bind AF_PACKET");
	return 0;
}

void net_tap_ns_teardown(struct net_tap_ns *ns)
{
	if (ns->packet_fd >= 0)
		close(ns->packet_fd);
	ns->packet_fd = -1;
	/* The namespace, and the TAP in it, go with the process. */
}

ssize_t net_tap_ns_send(struct net_tap_ns *ns, const void *frame, size_t len)
{
	ssize_t n = send(ns->packet_fd, frame, len, 0);

	return n < 0 ? -errno : n;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

ssize_t net_tap_ns_recv(struct net_tap_ns *ns, unsigned int ethertype, void *buf, size_t len, int timeout_ms)
{
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		struct pollfd p = { .fd = ns->packet_fd, .events = POLLIN };
		long left = timeout_ms - ms_since(&t0);
		ssize_t n;

		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		n = recvfrom(ns->packet_fd, buf, len, 0, (struct sockaddr *)&from, &fl);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		/* Only what came in from the TAP fd, of the type asked for. */
		if (from.sll_pkttype == PACKET_OUTGOING || n < 14)
			continue;
		if ((unsigned int)(((const unsigned char *)buf)[12] << 8 | ((const unsigned char *)buf)[13]) == ethertype)
			return n;
	}
}
