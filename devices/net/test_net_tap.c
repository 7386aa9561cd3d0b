/* On a real TAP in a private network namespace: net_tap_open attaches to
 * it, every offload combination the device can negotiate is accepted by
 * the kernel, and frames cross both ways between the device (mock driver)
 * and a packet socket on the TAP.  Skipped, loudly, where the host cannot
 * make a TAP (no /dev/net/tun, no CAP_NET_ADMIN/CAP_SYS_ADMIN). */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>

#include "devices/net/net_mock.h"
#include "devices/net/net_tap_ns.h"

#define HDR VIRTIO_NET_HDR_LEN
#define ETHERTYPE 0x88b5 /* IEEE local experimental: nothing else sends it */

static struct net_tap_ns ns;
static struct net_tap tap;
static struct net_mock nm;
static bool mock_up;

static void setup(void)
{
	const char *why = "";
	int ret = net_tap_ns_setup(&ns, &why);

	tap.fd = -1;
	if (ret) {
		fprintf(stderr, "SKIPPED: real TAP test: %s: %s\n", why, strerror(-ret));
		cr_skip_test("no TAP here: %s: %s", why, strerror(-ret));
	}
	cr_assert_eq(net_tap_open(&tap, NET_TAP_NS_NAME), 0, "attach to the existing TAP");
}

static void teardown(void)
{
	if (mock_up)
		net_mock_destroy(&nm);
	net_tap_close(&tap);
	net_tap_ns_teardown(&ns);
}

TestSuite(net_tap, .init = setup, .fini = teardown);

static void start(uint64_t features)
{
	cr_assert_eq(net_mock_init_backend(&nm, &tap.be, NULL, features, 0), 0);
	mock_up = true;
}

/* One Ethernet frame: broadcast, from a local MAC, our EtherType. */
static size_t eth_frame(uint8_t *p, size_t payload, uint8_t seed)
{
	static const uint8_t head[14] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 7,
					  ETHERTYPE >> 8, ETHERTYPE & 0xff };

	memcpy(p, head, sizeof(head));
	for (size_t i = 0; i < payload; i++)
		p[14 + i] = (uint8_t)(seed + i * 3);
	return 14 + payload;
}

Test(net_tap, open_refuses_bad_names)
{
	struct net_tap t;

	cr_assert_eq(net_tap_open(&t, ""), -EINVAL);
	cr_assert_eq(net_tap_open(&t, "a-name-longer-than-15"), -EINVAL);
}

Test(net_tap, kernel_accepts_every_offload_set)
{
	static const uint64_t sets[] = {
		0,
		VIRTIO_FEATURE(VIRTIO_NET_F_GUEST_CSUM),
		VIRTIO_FEATURE(VIRTIO_NET_F_GUEST_CSUM) | VIRTIO_FEATURE(VIRTIO_NET_F_GUEST_TSO4),
		VIRTIO_FEATURE(VIRTIO_NET_F_GUEST_CSUM) | VIRTIO_FEATURE(VIRTIO_NET_F_GUEST_TSO6) |
			VIRTIO_FEATURE(VIRTIO_NET_F_GUEST_UFO),
		VIRTIO_FEATURE(VIRTIO_NET_F_GUEST_TSO4) | VIRTIO_FEATURE(VIRTIO_NET_F_GUEST_UFO), /* no CSUM */
		~0ULL,
	};

	start(~0ULL);
	for (unsigned int i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
		cr_assert_eq(vmock_negotiate(&nm.m, VIRTIO_FEATURE(VIRTIO_F_VERSION_1) | sets[i], 2, 0), 0,
			     "set %u: activation (TUNSETOFFLOAD 0x%x)", i, net_offload_flags(sets[i]));
}

Test(net_tap, guest_to_host)
{
	uint8_t f[1600], got[2048];
	size_t len = eth_frame(f, 1000, 5);
	uint16_t head;
	uint32_t used;
	ssize_t n;

	start(~0ULL);
	net_mock_tx(&nm, NULL, f, (uint32_t)len, 3, false);
	vmock_notify(&nm.m, VIRTIO_NET_TXQ);
	cr_assert_eq(net_mock_tx_used(&nm, &head, &used), 0);
	cr_assert_eq(nm.dev.metrics.tx_frames, 1, "the TAP took it (errors %llu)",
		     (unsigned long long)nm.dev.metrics.tx_errors);
	n = net_tap_ns_recv(&ns, ETHERTYPE, got, sizeof(got), 2000);
	cr_assert_eq(n, (ssize_t)len, "the kernel got the frame: %zd", n);
	cr_assert_eq(memcmp(got, f, len), 0);
}

Test(net_tap, host_to_guest)
{
	uint8_t f[1600], got[2048];
	size_t len = eth_frame(f, 1200, 9);
	uint16_t head;
	uint32_t used;
	struct pollfd p = { .fd = tap.fd, .events = POLLIN };
	bool found = false;

	start(~0ULL);
	for (unsigned int i = 0; i < 16; i++)
		net_mock_rx_post(&nm, 2048, 1, false);
	vmock_notify(&nm.m, VIRTIO_NET_RXQ);
	cr_assert_eq(net_fake_loop_events(&nm.ev, tap.fd), EPOLLIN);
	/* Play the loop on the real fd; skip whatever else the kernel sends
	 * (IPv6 router solicitations and the like).  The frame is sent again
	 * every half second: until the kernel's link watch has activated the
	 * TAP's queueing discipline (up to a second after the device opened
	 * it, longer on a loaded host) frames sent to it are dropped. */
	for (int round = 0; round < 50 && !found; round++) {
		if (round % 5 == 0)
			cr_assert_eq(net_tap_ns_send(&ns, f, len), (ssize_t)len);
		if (poll(&p, 1, 100) == 1)
			net_event(&nm.dev, NET_EVENT_TAP, EPOLLIN);
		while (!found && net_mock_rx_used(&nm, &head, &used, got, sizeof(got)) == 0)
			found = used == HDR + len && !memcmp(got + HDR, f, len);
	}
	cr_assert(found, "the frame reached a guest buffer (%llu frames)",
		  (unsigned long long)nm.dev.metrics.rx_frames);
	cr_assert_eq(((struct virtio_net_hdr_v1 *)got)->num_buffers, htole16(1));
}
