/*
 * The agent's block, rng and memory checks (see agent.h for the contract):
 *   hwrng:N                  reads N (16) bytes from /dev/hwrng; for N >= 1024
 *                            at least 200 distinct byte values must show
 *   blkrate:DEV:MIB          reads MIB MiB from /dev/DEV with O_DIRECT in
 *                            128 KiB requests and reports the time taken
 *                            (the host compares it with the rate limiter)
 *   blkwrite:DEV:KIB:SEED    writes KIB KiB of sector records (O_DIRECT, then
 *                            fsync); blkverify:DEV:KIB:SEED reads them back.
 *                            Sector k holds "kiln-blk seed=SEED sector=k\n"
 *                            padded with '.' to 511 bytes and a final '\n'.
 *   blkro:DEV                /sys/block/DEV/ro is 1 and opening the disk for
 *                            writing (or writing it) fails
 *   touchmem:MIB             maps MIB MiB, writes every page, unmaps it (so
 *                            the host has backed those pages)
 *   balloon:MIB              says "kiln-init: balloon waiting ...", then waits
 *                            (AGENT_WAIT_S at most) until MemTotal dropped by
 *                            MIB MiB: the host's new balloon target inflated
 *                            (without DEFLATE_ON_OOM Linux takes balloon pages
 *                            out of MemTotal)
 * Throughput (bench/guest_io.py; times are the guest's own clock):
 *   blkseq:DEV:SECONDS       O_DIRECT sequential 128 KiB reads for SECONDS,
 *                            wrapping at the end of the disk; detail bytes=
 *                            ops= ms= kib_s=
 *   blkrand:DEV:SECONDS      O_DIRECT 4 KiB reads at pseudo-random aligned
 *                            offsets for SECONDS; detail bytes= ops= ms= iops=
 *   vsocksend:PORT:KIB       connects to the host (CID 2) at PORT, sends KIB
 *                            KiB, half-closes and expects "got <bytes>"
 *   vsockrecv:PORT:KIB       says "kiln-init: listening vsock PORT", accepts
 *                            one connection, reads to EOF (exactly KIB KiB
 *                            expected) and answers "got <bytes>"; ms= is
 *                            first byte to EOF
 */
#define _GNU_SOURCE /* O_DIRECT */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "agent.h"

#define SECTOR        512
#define BLK_REQ_BYTES (128 * 1024)
#define PAGE_BYTES    4096

/* "DEV:..." -> "/dev/DEV"; returns the rest after the colon (or ""). */
static const char *dev_path(const char *arg, char *path, size_t size)
{
	size_t n = strcspn(arg, ":");

	snprintf(path, size, "/dev/%.*s", (int)n, arg);
	return arg[n] ? arg + n + 1 : "";
}

/* --- rng -------------------------------------------------------------------- */

static void on_alarm(int sig)
{
	(void)sig; /* only there to interrupt a blocking read with EINTR */
}

int check_hwrng(const char *arg, char *detail, size_t len)
{
	long want = *arg ? atol(arg) : 16, got = 0;
	unsigned char *buf;
	int seen[256] = { 0 }, distinct = 0, fd, i;
	char name[64] = "?";
	struct sigaction sa = { .sa_handler = on_alarm }, old;
	long long start;

	if (want < 1 || want > 1 << 20) {
		snprintf(detail, len, "want hwrng:BYTES (1..1048576), got '%s'", arg);
		return 0;
	}
	agent_file_read("/sys/class/misc/hw_random/rng_current", name, sizeof(name));
	fd = open("/dev/hwrng", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(detail, len, "/dev/hwrng: %s", strerror(errno));
		return 0;
	}
	buf = malloc((size_t)want);
	sigaction(SIGALRM, &sa, &old); /* no SA_RESTART: the alarm ends a stuck read */
	alarm(AGENT_WAIT_S);
	start = agent_now_ms();
	while (buf && got < want) {
		ssize_t n = read(fd, buf + got, (size_t)(want - got));

		if (n <= 0)
			break;
		got += n;
	}
	alarm(0);
	sigaction(SIGALRM, &old, NULL);
	close(fd);
	for (i = 0; buf && i < got; i++)
		if (!seen[buf[i]]++)
			distinct++;
	free(buf);
	snprintf(detail, len, "rng=%s bytes=%ld ms=%lld distinct=%d", name, got, agent_now_ms() - start,
		 distinct);
	return got == want && (want < 1024 ? (want < 2 || distinct > 1) : distinct >= 200);
}

/* --- block ------------------------------------------------------------------ */

int check_blkrate(const char *arg, char *detail, size_t len)
{
	char path[64];
	long mib = atol(dev_path(arg, path, sizeof(path)));
	long long total, done = 0, start, ms;
	void *buf = NULL;
	int fd;

	if (mib < 1 || mib > 4096) {
		snprintf(detail, len, "want blkrate:DEV:MIB, got '%s'", arg);
		return 0;
	}
	total = (long long)mib << 20;
	fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0 || posix_memalign(&buf, PAGE_BYTES, BLK_REQ_BYTES)) {
		snprintf(detail, len, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 0;
	}
	start = agent_now_ms();
	while (done < total) {
		ssize_t n = pread(fd, buf, BLK_REQ_BYTES, done);

		if (n <= 0)
			break;
		done += n;
	}
	ms = agent_now_ms() - start;
	close(fd);
	free(buf);
	snprintf(detail, len, "dev=%s bytes=%lld ms=%lld kib_s=%lld", path, done, ms,
		 ms > 0 ? done * 1000 / 1024 / ms : 0);
	return done == total;
}

static void sector_record(char *sec, unsigned long seed, long k)
{
	int n = snprintf(sec, SECTOR, "kiln-blk seed=%lu sector=%ld\n", seed, k);

	memset(sec + n, '.', SECTOR - 1 - (size_t)n);
	sec[SECTOR - 1] = '\n';
}

/* blkwrite and blkverify: "DEV:KIB:SEED"; writes or compares the records. */
static int blk_records(const char *arg, int write_them, char *detail, size_t len)
{
	char path[64], *end;
	const char *rest = dev_path(arg, path, sizeof(path));
	long kib = strtol(rest, &end, 10), sectors, k, bad = -1;
	unsigned long seed = *end == ':' ? strtoul(end + 1, NULL, 10) : 0;
	char want[SECTOR];
	char *buf = NULL;
	int fd, ok = 1;

	if (kib < 1 || kib > 64 * 1024 || *end != ':') {
		snprintf(detail, len, "want %s:DEV:KIB:SEED, got '%s'", write_them ? "blkwrite" : "blkverify", arg);
		return 0;
	}
	sectors = kib * 1024 / SECTOR;
	fd = open(path, (write_them ? O_WRONLY : O_RDONLY) | O_DIRECT | O_CLOEXEC);
	if (fd < 0 || posix_memalign((void **)&buf, PAGE_BYTES, (size_t)kib * 1024)) {
		snprintf(detail, len, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 0;
	}
	if (write_them) {
		for (k = 0; k < sectors; k++)
			sector_record(buf + k * SECTOR, seed, k);
		ok = pwrite(fd, buf, (size_t)kib * 1024, 0) == kib * 1024 && fsync(fd) == 0;
	} else {
		ok = pread(fd, buf, (size_t)kib * 1024, 0) == kib * 1024;
		for (k = 0; ok && k < sectors && bad < 0; k++) {
			sector_record(want, seed, k);
			if (memcmp(buf + k * SECTOR, want, SECTOR))
				bad = k;
		}
	}
	if (!ok)
		snprintf(detail, len, "%s %s: %s", write_them ? "write" : "read", path, strerror(errno));
	else if (bad >= 0)
		snprintf(detail, len, "dev=%s sector %ld differs: '%.40s'", path, bad, buf + bad * SECTOR);
	else
		snprintf(detail, len, "dev=%s sectors=%ld seed=%lu", path, sectors, seed);
	close(fd);
	free(buf);
	return ok && bad < 0;
}

int check_blkwrite(const char *arg, char *detail, size_t len)
{
	return blk_records(arg, 1, detail, len);
}

int check_blkverify(const char *arg, char *detail, size_t len)
{
	return blk_records(arg, 0, detail, len);
}

int check_blkro(const char *arg, char *detail, size_t len)
{
	char path[64], sys[96], ro[8] = "?", sec[SECTOR];
	int fd, err = 0;

	dev_path(arg, path, sizeof(path));
	snprintf(sys, sizeof(sys), "/sys/block/%s/ro", path + strlen("/dev/"));
	agent_file_read(sys, ro, sizeof(ro));
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
	} else {
		/* Opened anyway: the write itself must fail. */
		memset(sec, 'x', sizeof(sec));
		if (pwrite(fd, sec, sizeof(sec), 0) < 0 || fsync(fd) < 0)
			err = errno;
		close(fd);
	}
	snprintf(detail, len, "dev=%s ro=%s write=%s", path, ro, err ? strerror(err) : "accepted");
	return strcmp(ro, "1") == 0 && err != 0;
}

/* --- memory and balloon ------------------------------------------------------ */

int check_touchmem(const char *arg, char *detail, size_t len)
{
	long mib = atol(arg), off;
	long long start = agent_now_ms();
	size_t bytes;
	char *p;

	if (mib < 1 || mib > 64 * 1024) {
		snprintf(detail, len, "want touchmem:MIB, got '%s'", arg);
		return 0;
	}
	bytes = (size_t)mib << 20;
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		snprintf(detail, len, "mmap %ld MiB: %s", mib, strerror(errno));
		return 0;
	}
	/* Under PVM each first touch costs ~1 ms of emulated page allocation and
	 * zeroing (MAP_POPULATE is no faster): keep MIB small there. */
	for (off = 0; off < (long)bytes; off += PAGE_BYTES)
		p[off] = (char)(off / PAGE_BYTES | 1); /* nonzero: a real page, not the zero page */
	munmap(p, bytes);
	snprintf(detail, len, "touched=%ld MiB ms=%lld", mib, agent_now_ms() - start);
	return 1;
}

/* MemTotal and MemFree in kB; -1 when unreadable. */
static int meminfo_read(long *total_kb, long *free_kb)
{
	char buf[4096], *t, *f;

	if (agent_file_read("/proc/meminfo", buf, sizeof(buf)) < 0)
		return -1;
	t = strstr(buf, "MemTotal:");
	f = strstr(buf, "MemFree:");
	if (!t || !f)
		return -1;
	*total_kb = strtol(t + strlen("MemTotal:"), NULL, 10);
	*free_kb = strtol(f + strlen("MemFree:"), NULL, 10);
	return 0;
}

int check_balloon(const char *arg, char *detail, size_t len)
{
	long mib = atol(arg), total0, free0, total = 0, freekb = 0;
	long long deadline;

	if (mib < 1 || meminfo_read(&total0, &free0)) {
		snprintf(detail, len, "want balloon:MIB and a readable /proc/meminfo, got '%s'", arg);
		return 0;
	}
	agent_say("balloon waiting memtotal_kb=%ld memfree_kb=%ld", total0, free0);
	deadline = agent_now_ms() + AGENT_WAIT_S * 1000LL;
	while (agent_now_ms() < deadline) {
		if (!meminfo_read(&total, &freekb) && total <= total0 - mib * 1024)
			break;
		usleep(250 * 1000);
	}
	snprintf(detail, len, "memtotal_kb=%ld->%ld memfree_kb=%ld->%ld", total0, total, free0, freekb);
	return total <= total0 - mib * 1024;
}

/* --- throughput ------------------------------------------------------------- */

#define RAND_BLOCK   4096
#define STREAM_CHUNK (64 * 1024)
#define REPLY_MAX    64

/* Reads /dev/DEV with O_DIRECT for SECONDS: sequential BLK_REQ_BYTES
 * requests, or RAND_BLOCK requests at xorshift-chosen aligned offsets. */
static int blk_timed_read(const char *arg, int random, char *detail, size_t len)
{
	char path[64], *end;
	const char *rest = dev_path(arg, path, sizeof(path));
	long seconds = strtol(rest, &end, 10);
	size_t req = random ? RAND_BLOCK : BLK_REQ_BYTES;
	long long size, blocks, off = 0, bytes = 0, ops = 0, start, ms;
	unsigned long long x = 0x9e3779b97f4a7c15ULL;
	void *buf = NULL;
	int fd, err = 0;

	if (end == rest || *end || seconds < 1 || seconds > 600) {
		snprintf(detail, len, "want %s:DEV:SECONDS (1..600), got '%s'", random ? "blkrand" : "blkseq", arg);
		return 0;
	}
	fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0 || posix_memalign(&buf, PAGE_BYTES, req)) {
		snprintf(detail, len, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 0;
	}
	size = lseek(fd, 0, SEEK_END);
	blocks = size > 0 ? size / (long long)req : 0;
	if (blocks < 1) {
		snprintf(detail, len, "%s: size %lld is below one %zu-byte request", path, size, req);
		close(fd);
		free(buf);
		return 0;
	}
	start = agent_now_ms();
	do {
		ssize_t n;

		if (random) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			off = (long long)(x % (unsigned long long)blocks) * (long long)req;
		}
		n = pread(fd, buf, req, off);
		if (n != (ssize_t)req) {
			err = n < 0 ? errno : EIO;
			break;
		}
		bytes += n;
		ops++;
		if (!random)
			off = ops % blocks * (long long)req;
		ms = agent_now_ms() - start;
	} while (ms < seconds * 1000);
	ms = agent_now_ms() - start;
	close(fd);
	free(buf);
	if (err) {
		snprintf(detail, len, "dev=%s ops=%lld then at %lld: %s", path, ops, off, strerror(err));
		return 0;
	}
	snprintf(detail, len, "dev=%s bytes=%lld ops=%lld ms=%lld kib_s=%lld iops=%lld", path, bytes, ops, ms,
		 ms > 0 ? bytes * 1000 / 1024 / ms : 0, ms > 0 ? ops * 1000 / ms : 0);
	return ops > 0;
}

int check_blkseq(const char *arg, char *detail, size_t len)
{
	return blk_timed_read(arg, 0, detail, len);
}

int check_blkrand(const char *arg, char *detail, size_t len)
{
	return blk_timed_read(arg, 1, detail, len);
}

/* "PORT:KIB" -> 0, or -1 when malformed. */
static int parse_port_kib(const char *arg, unsigned int *port, unsigned long *kib)
{
	char *end;

	*port = (unsigned int)strtoul(arg, &end, 10);
	if (end == arg || *end != ':')
		return -1;
	*kib = strtoul(end + 1, &end, 10);
	return *end || *kib == 0 || *kib > 1024 * 1024 ? -1 : 0;
}

static void stream_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = AGENT_WAIT_S };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int check_vsocksend(const char *arg, char *detail, size_t len)
{
	struct sockaddr_vm host = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_HOST };
	static unsigned char buf[STREAM_CHUNK];
	char reply[REPLY_MAX] = "", want[REPLY_MAX];
	unsigned long long total, sent = 0;
	unsigned long kib;
	unsigned int port;
	long long start, ms;
	int fd, err = 0;
	size_t i;

	if (parse_port_kib(arg, &port, &kib)) {
		snprintf(detail, len, "want vsocksend:PORT:KIB, got '%s'", arg);
		return 0;
	}
	total = (unsigned long long)kib * 1024;
	host.svm_port = port;
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i % 251);
	fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(detail, len, "socket: %s", strerror(errno));
		return 0;
	}
	stream_timeouts(fd);
	start = agent_now_ms();
	if (connect(fd, (struct sockaddr *)&host, sizeof(host)) < 0) {
		snprintf(detail, len, "connect cid 2 port %u: %s", port, strerror(errno));
		close(fd);
		return 0;
	}
	while (!err && sent < total) {
		size_t n = total - sent < sizeof(buf) ? (size_t)(total - sent) : sizeof(buf);
		ssize_t w = write(fd, buf, n);

		if (w <= 0)
			err = w < 0 ? errno : EIO;
		else
			sent += (unsigned long long)w;
	}
	shutdown(fd, SHUT_WR);
	if (!err) {
		ssize_t r = agent_read_line(fd, reply, sizeof(reply));

		err = r < 0 ? (int)-r : 0;
	}
	ms = agent_now_ms() - start;
	close(fd);
	if (err) {
		snprintf(detail, len, "sent=%llu of %llu: %s", sent, total, strerror(err));
		return 0;
	}
	snprintf(want, sizeof(want), "got %llu", total);
	snprintf(detail, len, "port=%u bytes=%llu ms=%lld kib_s=%lld reply='%s'", port, sent, ms,
		 ms > 0 ? (long long)(sent * 1000 / 1024) / ms : 0, reply);
	return strcmp(reply, want) == 0;
}

int check_vsockrecv(const char *arg, char *detail, size_t len)
{
	struct sockaddr_vm any = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY };
	static unsigned char buf[STREAM_CHUNK];
	char reply[REPLY_MAX];
	unsigned long long total, got = 0;
	unsigned long kib;
	unsigned int port;
	long long start = 0, ms;
	struct pollfd p;
	ssize_t n = 0;
	int lfd, fd = -1;

	if (parse_port_kib(arg, &port, &kib)) {
		snprintf(detail, len, "want vsockrecv:PORT:KIB, got '%s'", arg);
		return 0;
	}
	total = (unsigned long long)kib * 1024;
	any.svm_port = port;
	lfd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&any, sizeof(any)) < 0 || listen(lfd, 1) < 0) {
		snprintf(detail, len, "vsock listen port %u: %s", port, strerror(errno));
		if (lfd >= 0)
			close(lfd);
		return 0;
	}
	agent_say("listening vsock %u", port);
	p = (struct pollfd){ .fd = lfd, .events = POLLIN };
	if (poll(&p, 1, AGENT_WAIT_S * 1000) == 1)
		fd = accept(lfd, NULL, NULL);
	close(lfd);
	if (fd < 0) {
		snprintf(detail, len, "vsock port %u: no connection within %d s", port, AGENT_WAIT_S);
		return 0;
	}
	stream_timeouts(fd);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (!got)
			start = agent_now_ms();
		got += (unsigned long long)n;
	}
	ms = start ? agent_now_ms() - start : 0;
	if (n < 0) {
		snprintf(detail, len, "received=%llu then: %s", got, strerror(errno));
		close(fd);
		return 0;
	}
	snprintf(reply, sizeof(reply), "got %llu\n", got);
	if (write(fd, reply, strlen(reply)) < 0)
		n = -1;
	close(fd);
	snprintf(detail, len, "port=%u bytes=%llu ms=%lld kib_s=%lld", port, got, ms,
		 ms > 0 ? (long long)(got * 1000 / 1024) / ms : 0);
	return got == total && n == 0;
}
