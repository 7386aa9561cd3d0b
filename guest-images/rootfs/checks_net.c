/*
 * The agent's network and vsock checks (see agent.h for the check contract):
 *   ifup:ADDR/PREFIX[@IF]    brings lo and IF (eth0) up with a static IPv4
 *                            address (ioctls; no DHCP); detail: the MAC
 *   ping:ADDR[:N]            N (3) ICMP echoes over a raw socket, all answered
 *   tcpsend:ADDR:PORT:KIB    connects, sends KIB KiB of the stream pattern,
 *                            half-closes and expects the host's "got <bytes>";
 *                            detail: ms= (connect to reply) and connect_ms=
 *   tcprecv:PORT:KIB         says "kiln-init: listening tcp PORT", accepts one
 *                            connection, expects exactly KIB KiB of the
 *                            pattern up to EOF and answers "got <bytes>"
 *   vsockecho:PORT           says "kiln-init: listening vsock PORT", accepts
 *                            one connection (the host's CONNECT PORT) and
 *                            echoes it until EOF
 *   vsockconnect:PORT        connects to the host (CID 2) at PORT, sends one
 *                            line and expects it back unchanged
 * Stream pattern: byte i of a connection is i % 251 (a prime, so it never
 * lines up with page or segment sizes).  Every blocking call has a timeout.
 */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "agent.h"

#define PATTERN_MOD 251
#define IO_CHUNK    (64 * 1024)
#define LINE_MAX_B  128

static void sock_timeouts(int fd, int seconds)
{
	struct timeval tv = { .tv_sec = seconds };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int parse_ipv4(const char *s, struct in_addr *out)
{
	char buf[32];
	size_t n = strcspn(s, ":/@");

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return inet_pton(AF_INET, buf, out) == 1 ? 0 : -1;
}

static void pattern_fill(unsigned char *buf, size_t n, unsigned long long offset)
{
	size_t i;

	for (i = 0; i < n; i++)
		buf[i] = (unsigned char)((offset + i) % PATTERN_MOD);
}

/* Index of the first byte that breaks the pattern, or n. */
static size_t pattern_check(const unsigned char *buf, size_t n, unsigned long long offset)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (buf[i] != (unsigned char)((offset + i) % PATTERN_MOD))
			return i;
	return n;
}

static int write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* --- ifup ------------------------------------------------------------------- */

static int if_flags_up(int fd, const char *ifname)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return -errno;
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	return ioctl(fd, SIOCSIFFLAGS, &ifr) < 0 ? -errno : 0;
}

static int if_set_addr(int fd, const char *ifname, unsigned long req, struct in_addr a)
{
	struct ifreq ifr;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr = a };

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	memcpy(&ifr.ifr_addr, &sin, sizeof(sin));
	return ioctl(fd, req, &ifr) < 0 ? -errno : 0;
}

int check_ifup(const char *arg, char *detail, size_t len)
{
	const char *slash = strchr(arg, '/'), *at = strchr(arg, '@');
	const char *ifname = at ? at + 1 : "eth0";
	struct in_addr addr, mask;
	char path[96], mac[32] = "?";
	long prefix;
	int fd, r;

	if (parse_ipv4(arg, &addr) || !slash || (prefix = strtol(slash + 1, NULL, 10)) < 1 || prefix > 32) {
		snprintf(detail, len, "want ifup:ADDR/PREFIX[@IF], got '%s'", arg);
		return 0;
	}
	mask.s_addr = htonl(prefix == 32 ? 0xffffffffu : ~(0xffffffffu >> prefix));
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(detail, len, "socket: %s", strerror(errno));
		return 0;
	}
	r = if_flags_up(fd, "lo");
	if (!r)
		r = if_set_addr(fd, ifname, SIOCSIFADDR, addr);
	if (!r)
		r = if_set_addr(fd, ifname, SIOCSIFNETMASK, mask);
	if (!r)
		r = if_flags_up(fd, ifname);
	close(fd);
	if (r) {
		snprintf(detail, len, "%s: %s", ifname, strerror(-r));
		return 0;
	}
	snprintf(path, sizeof(path), "/sys/class/net/%s/address", ifname);
	agent_file_read(path, mac, sizeof(mac));
	snprintf(detail, len, "if=%s addr=%s/%ld mac=%s", ifname, inet_ntoa(addr), prefix, mac);
	return 1;
}

/* --- ping ------------------------------------------------------------------- */

static unsigned short inet_csum(const void *data, size_t n)
{
	const unsigned char *p = data;
	unsigned long sum = 0;

	for (; n > 1; n -= 2, p += 2)
		sum += (unsigned long)(p[0] << 8 | p[1]);
	if (n)
		sum += (unsigned long)p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((unsigned short)~sum);
}

/* Waits for the echo reply with this id and sequence; 0, or -ETIMEDOUT. */
static int ping_wait_reply(int fd, unsigned short id, unsigned short seq, long long deadline)
{
	unsigned char buf[1500];

	while (agent_now_ms() < deadline) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		const struct icmphdr *icmp;
		size_t ihl;
		ssize_t n;

		if (poll(&p, 1, (int)(deadline - agent_now_ms())) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < (ssize_t)sizeof(struct iphdr))
			continue;
		ihl = (size_t)(buf[0] & 0x0f) * 4; /* raw ICMP sockets see the IP header */
		if ((size_t)n < ihl + sizeof(*icmp))
			continue;
		icmp = (const struct icmphdr *)(buf + ihl);
		if (icmp->type == ICMP_ECHOREPLY && icmp->un.echo.id == htons(id) &&
		    icmp->un.echo.sequence == htons(seq))
			return 0;
	}
	return -ETIMEDOUT;
}

int check_ping(const char *arg, char *detail, size_t len)
{
	const char *colon = strchr(arg, ':');
	int count = colon ? atoi(colon + 1) : 3, got = 0, i, fd;
	unsigned short id = (unsigned short)getpid();
	struct sockaddr_in dst = { .sin_family = AF_INET };
	long long worst = 0;

	if (parse_ipv4(arg, &dst.sin_addr) || count < 1 || count > 100) {
		snprintf(detail, len, "want ping:ADDR[:COUNT], got '%s'", arg);
		return 0;
	}
	fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
	if (fd < 0) {
		snprintf(detail, len, "raw socket: %s", strerror(errno));
		return 0;
	}
	for (i = 1; i <= count; i++) {
		unsigned char pkt[sizeof(struct icmphdr) + 32];
		struct icmphdr *icmp = (struct icmphdr *)pkt;
		long long start = agent_now_ms();

		memset(pkt, 0, sizeof(pkt));
		icmp->type = ICMP_ECHO;
		icmp->un.echo.id = htons(id);
		icmp->un.echo.sequence = htons((unsigned short)i);
		memcpy(pkt + sizeof(*icmp), "kiln-agent-ping-payload-32bytes!", 32);
		icmp->checksum = inet_csum(pkt, sizeof(pkt));
		if (sendto(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&dst, sizeof(dst)) < 0)
			continue;
		/* The first echo also waits for ARP: give every one 10 s. */
		if (ping_wait_reply(fd, id, (unsigned short)i, start + 10000) == 0) {
			got++;
			if (agent_now_ms() - start > worst)
				worst = agent_now_ms() - start;
		}
	}
	close(fd);
	snprintf(detail, len, "to=%s sent=%d received=%d max_ms=%lld", inet_ntoa(dst.sin_addr), count, got,
		 worst);
	return got == count;
}

/* --- TCP -------------------------------------------------------------------- */

/* "ADDR:PORT:KIB" or "PORT:KIB" (addr == NULL). */
static int parse_endpoint(const char *arg, struct in_addr *addr, unsigned int *port, unsigned long *kib)
{
	const char *p = arg;
	char *end;

	if (addr) {
		if (parse_ipv4(arg, addr) || !(p = strchr(arg, ':')))
			return -1;
		p++;
	}
	*port = (unsigned int)strtoul(p, &end, 10);
	if (*end != ':' || *port == 0 || *port > 65535)
		return -1;
	*kib = strtoul(end + 1, &end, 10);
	return *end || *kib == 0 || *kib > 1024 * 1024 ? -1 : 0;
}

int check_tcpsend(const char *arg, char *detail, size_t len)
{
	struct sockaddr_in dst = { .sin_family = AF_INET };
	unsigned long long total, sent = 0;
	static unsigned char buf[IO_CHUNK];
	char reply[LINE_MAX_B], want[LINE_MAX_B];
	unsigned int port;
	unsigned long kib;
	long long start, connected, ms;
	int fd, r = 0;

	if (parse_endpoint(arg, &dst.sin_addr, &port, &kib)) {
		snprintf(detail, len, "want tcpsend:ADDR:PORT:KIB, got '%s'", arg);
		return 0;
	}
	dst.sin_port = htons((unsigned short)port);
	total = (unsigned long long)kib * 1024;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(detail, len, "socket: %s", strerror(errno));
		return 0;
	}
	sock_timeouts(fd, AGENT_WAIT_S);
	start = agent_now_ms();
	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
		snprintf(detail, len, "connect %s:%u: %s", inet_ntoa(dst.sin_addr), port, strerror(errno));
		close(fd);
		return 0;
	}
	connected = agent_now_ms();
	while (!r && sent < total) {
		size_t n = total - sent < sizeof(buf) ? (size_t)(total - sent) : sizeof(buf);

		pattern_fill(buf, n, sent);
		r = write_all(fd, buf, n);
		if (!r)
			sent += n;
	}
	shutdown(fd, SHUT_WR);
	reply[0] = '\0';
	if (!r) {
		ssize_t got = agent_read_line(fd, reply, sizeof(reply));

		if (got < 0)
			r = (int)got;
	}
	ms = agent_now_ms() - start;
	close(fd);
	if (r) {
		snprintf(detail, len, "sent=%llu of %llu: %s", sent, total, strerror(-r));
		return 0;
	}
	snprintf(want, sizeof(want), "got %llu", total);
	snprintf(detail, len, "bytes=%llu ms=%lld connect_ms=%lld reply='%s'", sent, ms, connected - start, reply);
	return strcmp(reply, want) == 0;
}

/* Listens on the port, says so, and accepts one connection within AGENT_WAIT_S. */
static int listen_accept(int domain, const struct sockaddr *addr, socklen_t alen, const char *what,
			 unsigned int port, char *detail, size_t len)
{
	struct pollfd p;
	int one = 1, lfd, fd = -1;

	lfd = socket(domain, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0) {
		snprintf(detail, len, "%s socket: %s", what, strerror(errno));
		return -1;
	}
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, addr, alen) < 0 || listen(lfd, 1) < 0) {
		snprintf(detail, len, "%s bind/listen port %u: %s", what, port, strerror(errno));
		close(lfd);
		return -1;
	}
	agent_say("listening %s %u", what, port);
	p = (struct pollfd){ .fd = lfd, .events = POLLIN };
	if (poll(&p, 1, AGENT_WAIT_S * 1000) == 1)
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		snprintf(detail, len, "%s port %u: no connection within %d s", what, port, AGENT_WAIT_S);
	else
		sock_timeouts(fd, AGENT_WAIT_S);
	close(lfd);
	return fd;
}

int check_tcprecv(const char *arg, char *detail, size_t len)
{
	struct sockaddr_in any = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY) };
	unsigned long long total, got = 0, bad_at = ~0ULL;
	static unsigned char buf[IO_CHUNK];
	char reply[LINE_MAX_B];
	unsigned int port;
	unsigned long kib;
	long long start = 0, ms;
	ssize_t n;
	int fd;

	if (parse_endpoint(arg, NULL, &port, &kib)) {
		snprintf(detail, len, "want tcprecv:PORT:KIB, got '%s'", arg);
		return 0;
	}
	total = (unsigned long long)kib * 1024;
	any.sin_port = htons((unsigned short)port);
	fd = listen_accept(AF_INET, (struct sockaddr *)&any, sizeof(any), "tcp", port, detail, len);
	if (fd < 0)
		return 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		size_t ok;

		if (!got)
			start = agent_now_ms();
		ok = pattern_check(buf, (size_t)n, got);
		if (ok < (size_t)n && bad_at == ~0ULL)
			bad_at = got + ok;
		got += (unsigned long long)n;
	}
	ms = start ? agent_now_ms() - start : 0;
	if (n < 0) {
		snprintf(detail, len, "received=%llu then: %s", got, strerror(errno));
		close(fd);
		return 0;
	}
	snprintf(reply, sizeof(reply), "got %llu\n", got);
	write_all(fd, reply, strlen(reply));
	close(fd);
	if (bad_at != ~0ULL)
		snprintf(detail, len, "bytes=%llu ms=%lld pattern broken at %llu", got, ms, bad_at);
	else
		snprintf(detail, len, "bytes=%llu ms=%lld", got, ms);
	return got == total && bad_at == ~0ULL;
}

/* --- vsock ------------------------------------------------------------------ */

static int parse_port(const char *arg, unsigned int *port)
{
	char *end;

	*port = (unsigned int)strtoul(arg, &end, 10);
	return *end || !*arg ? -1 : 0;
}

int check_vsockecho(const char *arg, char *detail, size_t len)
{
	struct sockaddr_vm any = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY };
	unsigned long long echoed = 0;
	static unsigned char buf[IO_CHUNK];
	unsigned int port;
	ssize_t n = 0;
	int fd, r = 0;

	if (parse_port(arg, &port)) {
		snprintf(detail, len, "want vsockecho:PORT, got '%s'", arg);
		return 0;
	}
	any.svm_port = port;
	fd = listen_accept(AF_VSOCK, (struct sockaddr *)&any, sizeof(any), "vsock", port, detail, len);
	if (fd < 0)
		return 0;
	while (!r && (n = read(fd, buf, sizeof(buf))) > 0) {
		r = write_all(fd, buf, (size_t)n);
		if (!r)
			echoed += (unsigned long long)n;
	}
	close(fd);
	if (n < 0 || r) {
		snprintf(detail, len, "echoed=%llu then: %s", echoed, strerror(r ? -r : errno));
		return 0;
	}
	snprintf(detail, len, "port=%u echoed=%llu", port, echoed);
	return echoed > 0;
}

int check_vsockconnect(const char *arg, char *detail, size_t len)
{
	struct sockaddr_vm host = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_HOST };
	char line[LINE_MAX_B], reply[LINE_MAX_B];
	unsigned int port;
	ssize_t n;
	int fd, r;

	if (parse_port(arg, &port)) {
		snprintf(detail, len, "want vsockconnect:PORT, got '%s'", arg);
		return 0;
	}
	host.svm_port = port;
	fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(detail, len, "socket: %s", strerror(errno));
		return 0;
	}
	sock_timeouts(fd, AGENT_WAIT_S);
	if (connect(fd, (struct sockaddr *)&host, sizeof(host)) < 0) {
		snprintf(detail, len, "connect cid 2 port %u: %s", port, strerror(errno));
		close(fd);
		return 0;
	}
	snprintf(line, sizeof(line), "kiln-agent vsock port %u pid %d\n", port, (int)getpid());
	r = write_all(fd, line, strlen(line));
	n = r ? r : agent_read_line(fd, reply, sizeof(reply));
	close(fd);
	if (n < 0) {
		snprintf(detail, len, "port=%u: %s", port, strerror((int)-n));
		return 0;
	}
	line[strlen(line) - 1] = '\0';
	snprintf(detail, len, "port=%u reply='%s'", port, reply);
	return strcmp(line, reply) == 0;
}
