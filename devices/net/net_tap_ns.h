/*
 * A TAP in a private network namespace, for the real-TAP test and the
 * benchmark: the calling process (a criterion test runs in its own) leaves
 * the host's network with unshare(CLONE_NEWNET), creates a persistent TAP,
 * gives it an address and brings it up, and opens a packet socket bound to
 * it.  Nothing can reach the host's interfaces from there.  Not an API.
 */
#ifndef KILN_NET_TAP_NS_H
#define KILN_NET_TAP_NS_H

#include <stddef.h>
#include <sys/types.h>

#define NET_TAP_NS_NAME "kilntap0"

struct net_tap_ns {
	int ifindex;
	int packet_fd; /* AF_PACKET, bound to the TAP, non-blocking */
};

/* 0, or -errno with why (a static string) telling which step failed:
 * the caller skips when the host cannot do this (no /dev/net/tun, no
 * CAP_NET_ADMIN or CAP_SYS_ADMIN). */
int net_tap_ns_setup(struct net_tap_ns *ns, const char **why);
void net_tap_ns_teardown(struct net_tap_ns *ns);

/* Sends frame (an Ethernet frame, no vnet header) out of the kernel side
 * of the TAP, so the TAP fd reads it.  Bytes sent or -errno. */
ssize_t net_tap_ns_send(struct net_tap_ns *ns, const void *frame, size_t len);
/* The next frame the kernel got from the TAP fd whose EtherType is
 * ethertype, waiting up to timeout_ms.  Its length or -errno (-ETIMEDOUT). */
ssize_t net_tap_ns_recv(struct net_tap_ns *ns, unsigned int ethertype, void *buf, size_t len, int timeout_ms);

#endif
