/*
 * /sbin/init of the kiln test rootfs: boot-timer poke, basic mounts, then the
 * agent named by kiln.agent= on the kernel command line:
 *   shell   (default) /bin/sh on the console; the VM reboots when it exits
 *   reboot  reboot at once
 *   checks  run the kiln.check= self-checks, print one line each, reboot
 *   serve   read check lists from the console, one line each, and run them;
 *           a line "reboot" reboots.  The suite snapshots a guest waiting
 *           here and restores it for each test (integration/linux_snapshot.py).
 * With reboot=k on the command line every reboot ends the VMM with status 0.
 *
 * Console protocol (one line each, for the host test to match):
 *   kiln-init: ready
 *   KILN-CHECK <name> PASS|FAIL <detail>
 *   KILN-CHECK-DONE pass=<n> fail=<n>
 *   kiln-init: serving            (serve: waiting for the next line)
 * Checks are given as kiln.check=<name>[:<arg>], repeated or comma-separated,
 * and run in that order; see check_table below.  A check that waits for the
 * host first prints "kiln-init: <what> ..." (agent.h).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "agent.h"
#include "boot_timer.h"
#include "console.h"

/* Overridable so the host-side test can feed a command line of its own. */
#ifndef CMDLINE_PATH
#define CMDLINE_PATH "/proc/cmdline"
#endif

#define CMDLINE_MAX 4096
#define DETAIL_MAX  CMDLINE_MAX
#define AGENT_MAX   64
#define CHECKS_MAX  32

static volatile sig_atomic_t reboot_requested;

void agent_say(const char *fmt, ...)
{
	va_list ap;

	fputs("kiln-init: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

int agent_file_read(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n < 0)
		return (int)n;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

long long agent_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

ssize_t agent_read_line(int fd, char *buf, size_t size)
{
	size_t used = 0;

	while (used + 1 < size) {
		ssize_t n = read(fd, buf + used, 1);

		if (n < 0)
			return -errno;
		if (n == 0 || buf[used] == '\n')
			break;
		used++;
	}
	buf[used] = '\0';
	return (ssize_t)used;
}

/* --- boot ------------------------------------------------------------------ */

static void fs_mount(const char *src, const char *dir, const char *type, unsigned long flags,
		     const char *opts)
{
	mkdir(dir, 0755);
	if (mount(src, dir, type, flags, opts) < 0 && errno != EBUSY)
		agent_say("mount %s on %s: %s", type, dir, strerror(errno));
}

static void fs_mount_all(void)
{
	const unsigned long nodev = MS_NOSUID | MS_NODEV | MS_NOEXEC;

	fs_mount("proc", "/proc", "proc", nodev, NULL);
	fs_mount("sysfs", "/sys", "sysfs", nodev, NULL);
	/* EBUSY: CONFIG_DEVTMPFS_MOUNT already put it there. */
	fs_mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
	fs_mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
	fs_mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
}

static void on_reboot_signal(int sig)
{
	(void)sig;
	reboot_requested = 1;
}

/* busybox reboot/halt/poweroff signal PID 1: SIGTERM/SIGUSR1/SIGUSR2. */
static void signals_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_reboot_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
}

static void __attribute__((noreturn)) vm_reboot(void)
{
	sync();
	reboot(RB_AUTOBOOT);
	agent_say("reboot failed: %s", strerror(errno));
	for (;;)
		pause();
}

/* --- kernel command line ---------------------------------------------------- */

/* Calls fn for the value of every "key=value" word; returns how many matched. */
static int cmdline_each(char *cmdline, const char *key, void (*fn)(const char *value, void *ctx),
			void *ctx)
{
	size_t klen = strlen(key);
	int found = 0;
	char *save = NULL, *word;
	char copy[CMDLINE_MAX];

	snprintf(copy, sizeof(copy), "%s", cmdline);
	for (word = strtok_r(copy, " \t\n", &save); word; word = strtok_r(NULL, " \t\n", &save)) {
		if (strncmp(word, key, klen) == 0 && word[klen] == '=') {
			fn(word + klen + 1, ctx);
			found++;
		}
	}
	return found;
}

/* ctx: char[AGENT_MAX].  The last value wins, as for the kernel's own parameters. */
static void agent_copy(const char *value, void *ctx)
{
	snprintf(ctx, AGENT_MAX, "%s", value);
}

/* --- checks ----------------------------------------------------------------- */

struct check {
	const char *name;
	/* Returns 1 for PASS, 0 for FAIL; arg is "" when none was given. */
	int (*run)(const char *arg, char *detail, size_t len);
};

static int cpus_online(void)
{
	char buf[256], *p = buf;
	int count = 0;

	if (agent_file_read("/sys/devices/system/cpu/online", buf, sizeof(buf)) < 0)
		return -1;
	while (*p) { /* "0-3,5,7-8" */
		long lo = strtol(p, &p, 10), hi = lo;

		if (*p == '-')
			hi = strtol(p + 1, &p, 10);
		if (hi < lo)
			return -1;
		count += (int)(hi - lo + 1);
		if (*p == ',')
			p++;
		else if (*p)
			return -1;
	}
	return count;
}

static int check_cpus(const char *arg, char *detail, size_t len)
{
	int n = cpus_online();

	if (n < 0) {
		snprintf(detail, len, "cannot read /sys/devices/system/cpu/online");
		return 0;
	}
	snprintf(detail, len, "%d", n);
	return !*arg || n == atoi(arg);
}

static int check_mem(const char *arg, char *detail, size_t len)
{
	char buf[4096], *p;
	long kb;

	if (agent_file_read("/proc/meminfo", buf, sizeof(buf)) < 0 || !(p = strstr(buf, "MemTotal:"))) {
		snprintf(detail, len, "no MemTotal in /proc/meminfo");
		return 0;
	}
	kb = strtol(p + strlen("MemTotal:"), NULL, 10);
	snprintf(detail, len, "%ld kB", kb);
	return kb > 0 && (!*arg || kb >= atol(arg) * 1024); /* arg: at least this many MiB */
}

static int check_cmdline(const char *arg, char *detail, size_t len)
{
	char buf[CMDLINE_MAX];

	if (agent_file_read(CMDLINE_PATH, buf, sizeof(buf)) < 0) {
		snprintf(detail, len, "cannot read " CMDLINE_PATH);
		return 0;
	}
	snprintf(detail, len, "%s", buf);
	return !*arg || strstr(buf, arg) != NULL;
}

/* Persistence across reboots: writefile:PATH leaves a marker on the root
 * filesystem (synced), readfile:PATH finds it on the next boot. */
#define MARKER_TEXT "kiln-marker 1"
#define MARKER MARKER_TEXT "\n"

static int check_writefile(const char *arg, char *detail, size_t len)
{
	int fd = open(*arg ? arg : "/kiln-marker", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int ok = fd >= 0 && write(fd, MARKER, strlen(MARKER)) == (ssize_t)strlen(MARKER) && fsync(fd) == 0;

	if (fd >= 0)
		close(fd);
	snprintf(detail, len, "%s", ok ? "written" : strerror(errno));
	return ok;
}

static int check_readfile(const char *arg, char *detail, size_t len)
{
	char buf[64];

	if (agent_file_read(*arg ? arg : "/kiln-marker", buf, sizeof(buf)) < 0) {
		snprintf(detail, len, "cannot read: %s", strerror(errno));
		return 0;
	}
	/* file_read drops the trailing newline */
	snprintf(detail, len, "%s", strcmp(buf, MARKER_TEXT) ? "wrong content" : "marker found");
	return !strcmp(buf, MARKER_TEXT);
}

static int check_blk(const char *arg, char *detail, size_t len)
{
	char path[128], buf[64];

	snprintf(path, sizeof(path), "/sys/block/%s/size", *arg ? arg : "vda");
	if (agent_file_read(path, buf, sizeof(buf)) < 0) {
		snprintf(detail, len, "no %s", path);
		return 0;
	}
	snprintf(detail, len, "%s sectors", buf);
	return 1;
}

static int check_net(const char *arg, char *detail, size_t len)
{
	char path[128], buf[64];

	snprintf(path, sizeof(path), "/sys/class/net/%s/address", *arg ? arg : "eth0");
	if (agent_file_read(path, buf, sizeof(buf)) < 0) {
		snprintf(detail, len, "no %s", path);
		return 0;
	}
	snprintf(detail, len, "%s", buf);
	return 1;
}

static int check_vsock(const char *arg, char *detail, size_t len)
{
	unsigned int cid = 0;
	int fd, ok;

	fd = open("/dev/vsock", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(detail, len, "/dev/vsock: %s", strerror(errno));
		return 0;
	}
	ok = ioctl(fd, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid) == 0;
	close(fd);
	if (!ok || cid == VMADDR_CID_ANY) {
		snprintf(detail, len, "no transport gives a local CID");
		return 0;
	}
	snprintf(detail, len, "cid %u", cid);
	return !*arg || cid == strtoul(arg, NULL, 10);
}

static int check_rng(const char *arg, char *detail, size_t len)
{
	unsigned char b[16];
	char name[64] = "?";
	ssize_t n;
	int fd;

	(void)arg;
	agent_file_read("/sys/class/misc/hw_random/rng_current", name, sizeof(name));
	fd = open("/dev/hwrng", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(detail, len, "/dev/hwrng: %s", strerror(errno));
		return 0;
	}
	n = read(fd, b, sizeof(b));
	close(fd);
	snprintf(detail, len, "%s: read %zd bytes", name, n);
	return n > 0;
}

/* CLOCK_MONOTONIC, for the host to compare across a snapshot and restore. */
static int check_clock(const char *arg, char *detail, size_t len)
{
	(void)arg;
	snprintf(detail, len, "mono_ms=%lld", agent_now_ms());
	return 1;
}

/* Lists the virtio device IDs the kernel found; arg: the expected count. */
static int check_virtio(const char *arg, char *detail, size_t len)
{
	static const char dir[] = "/sys/bus/virtio/devices";
	char path[128], id[16];
	size_t used = 0;
	int count = 0, i;

	detail[0] = '\0';
	for (i = 0; i < 64; i++) { /* virtio0 .. virtio63: names are dense */
		snprintf(path, sizeof(path), "%s/virtio%d/device", dir, i);
		if (agent_file_read(path, id, sizeof(id)) < 0)
			break;
		count++;
		if (used < len)
			used += snprintf(detail + used, len - used, "%svirtio%d=%ld", count > 1 ? " " : "",
					 i, strtol(id, NULL, 16));
	}
	if (!count)
		snprintf(detail, len, "no devices in %s", dir);
	return *arg ? count == atoi(arg) : count > 0;
}

static const struct check check_table[] = {
	{ "cpus", check_cpus },       /* online CPUs; arg: expected count */
	{ "mem", check_mem },         /* MemTotal; arg: minimum MiB */
	{ "cmdline", check_cmdline }, /* /proc/cmdline; arg: a substring it must hold */
	{ "blk", check_blk },         /* /sys/block/<arg|vda> size */
	{ "writefile", check_writefile }, /* arg: path; writes a marker and fsyncs */
	{ "readfile", check_readfile },   /* arg: path; the marker must be there */
	{ "net", check_net },         /* /sys/class/net/<arg|eth0> MAC address */
	{ "vsock", check_vsock },     /* local CID; arg: expected CID */
	{ "rng", check_rng },         /* reads /dev/hwrng */
	{ "virtio", check_virtio },   /* virtio device IDs; arg: expected count */
	{ "clock", check_clock },     /* CLOCK_MONOTONIC in ms */
	/* Devices end to end (checks_net.c, checks_dev.c: arguments documented there). */
	{ "ifup", check_ifup },       /* ADDR/PREFIX[@IF]: static IPv4 address, link up */
	{ "ping", check_ping },       /* ADDR[:N]: ICMP echoes answered */
	{ "tcpsend", check_tcpsend }, /* ADDR:PORT:KIB: stream to the host */
	{ "tcprecv", check_tcprecv }, /* PORT:KIB: stream from the host */
	{ "vsockecho", check_vsockecho },       /* PORT: echo the host's CONNECT */
	{ "vsockconnect", check_vsockconnect }, /* PORT: one line to the host and back */
	{ "hwrng", check_hwrng },     /* N: bytes from /dev/hwrng */
	{ "blkrate", check_blkrate }, /* DEV:MIB: timed O_DIRECT read */
	{ "blkwrite", check_blkwrite },   /* DEV:KIB:SEED: sector records */
	{ "blkverify", check_blkverify }, /* DEV:KIB:SEED: the records are there */
	{ "blkro", check_blkro },     /* DEV: read-only disk refuses writes */
	{ "touchmem", check_touchmem }, /* MIB: back that much guest memory */
	{ "balloon", check_balloon }, /* MIB: MemTotal drops by that much */
	/* Throughput for bench/guest_io.py (checks_dev.c). */
	{ "blkseq", check_blkseq },   /* DEV:SECONDS: O_DIRECT sequential read rate */
	{ "blkrand", check_blkrand }, /* DEV:SECONDS: O_DIRECT 4 KiB random read IOPS */
	{ "vsocksend", check_vsocksend }, /* PORT:KIB: stream to the host */
	{ "vsockrecv", check_vsockrecv }, /* PORT:KIB: stream from the host */
};

struct check_list {
	char spec[CHECKS_MAX][64];
	int count;
};

static void check_list_add(const char *value, void *ctx)
{
	struct check_list *list = ctx;
	char buf[CMDLINE_MAX], *save = NULL, *item;

	snprintf(buf, sizeof(buf), "%s", value);
	for (item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		if (list->count == CHECKS_MAX)
			return;
		snprintf(list->spec[list->count++], sizeof(list->spec[0]), "%s", item);
	}
}

/* Runs one "name[:arg]" check and prints its line; returns 1 on PASS. */
static int check_run(const char *spec)
{
	char name[64], detail[DETAIL_MAX], *p;
	const char *arg = "";
	size_t i;
	int pass;

	snprintf(name, sizeof(name), "%s", spec);
	p = strchr(name, ':');
	if (p) {
		*p = '\0';
		arg = p + 1;
	}
	for (i = 0; i < sizeof(check_table) / sizeof(check_table[0]); i++) {
		if (strcmp(check_table[i].name, name) == 0)
			break;
	}
	if (i == sizeof(check_table) / sizeof(check_table[0])) {
		pass = 0;
		snprintf(detail, sizeof(detail), "unknown check");
	} else {
		pass = check_table[i].run(arg, detail, sizeof(detail));
	}
	for (p = detail; *p; p++) /* keep it one line */
		if (!isprint((unsigned char)*p))
			*p = ' ';
	printf("KILN-CHECK %s %s %s\n", name, pass ? "PASS" : "FAIL", detail);
	fflush(stdout);
	return pass;
}

static void check_list_run(const struct check_list *list)
{
	int i, pass = 0;

	for (i = 0; i < list->count; i++)
		pass += check_run(list->spec[i]);
	printf("KILN-CHECK-DONE pass=%d fail=%d\n", pass, list->count - pass);
	fflush(stdout);
}

static void agent_checks(char *cmdline)
{
	struct check_list list = { .count = 0 };

	if (!cmdline_each(cmdline, "kiln.check", check_list_add, &list))
		check_list_add("cpus,mem,cmdline", &list);
	check_list_run(&list);
}

/*
 * Serve: one console line is one comma-separated check list, answered like
 * kiln.check= lines.  Echo goes off first so the host reads only answers.
 * The read has no timeout on purpose: a snapshot of the guest is taken while
 * it waits here, and each restored copy waits for its own host; the host's
 * waits carry the timeouts.
 */
static void agent_serve(void)
{
	char line[CMDLINE_MAX];
	struct termios tio;

	if (tcgetattr(0, &tio) == 0) {
		tio.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		tio.c_lflag |= ICANON;
		tio.c_iflag |= ICRNL;
		tcsetattr(0, TCSANOW, &tio);
	}
	for (;;) {
		struct check_list list = { .count = 0 };

		agent_say("serving");
		if (!fgets(line, sizeof(line), stdin)) {
			if (reboot_requested)
				return;
			if (ferror(stdin) && errno == EINTR) {
				clearerr(stdin);
				continue;
			}
			agent_say("console %s; rebooting", feof(stdin) ? "closed" : strerror(errno));
			return;
		}
		line[strcspn(line, "\r\n")] = '\0';
		if (reboot_requested || strcmp(line, "reboot") == 0)
			return;
		if (!line[0])
			continue;
		check_list_add(line, &list);
		check_list_run(&list);
	}
}

/* --- shell ---------------------------------------------------------------- */

static void agent_shell(void)
{
	static char *const argv[] = { "-sh", NULL };
	static char *const envp[] = { "PATH=/sbin:/bin:/usr/sbin:/usr/bin", "HOME=/root",
				      "TERM=linux", "SHELL=/bin/sh", NULL };
	pid_t pid, got;

	pid = fork();
	if (pid < 0) {
		agent_say("fork: %s; exec'ing the shell as PID 1", strerror(errno));
		execve("/bin/sh", argv, envp);
		agent_say("exec /bin/sh: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		int fd;

		setsid();
		/*
		 * The kernel opened init's fds on the initial rootfs's /dev/console,
		 * now hidden under the real root: reopen it so ttyname() works.
		 */
		fd = isatty(0) && !ttyname(0) ? open("/dev/console", O_RDWR) : -1;
		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
			if (fd > 2)
				close(fd);
		}
		ioctl(0, TIOCSCTTY, 1); /* job control on the console */
		execve("/bin/sh", argv, envp);
		agent_say("exec /bin/sh: %s", strerror(errno));
		_exit(127);
	}
	/* PID 1 reaps every orphan until the shell is gone or a reboot is asked for. */
	while (!reboot_requested) {
		got = wait(NULL);
		if (got == pid)
			break;
		if (got < 0 && errno == ECHILD)
			break;
	}
	if (reboot_requested)
		kill(-pid, SIGHUP);
	agent_say("shell ended");
}

int main(void)
{
	char cmdline[CMDLINE_MAX] = "", agent[AGENT_MAX] = "shell";
	int timer = boot_timer_poke(); /* first: the VMM measures boot up to here */

	console_attach();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (timer)
		agent_say("boot timer not written (/dev/mem: %s); carrying on", strerror(-timer));
	signals_install();
	fs_mount_all();
	console_attach(); /* now that devtmpfs is there, if the kernel had no console for us */
	agent_say("ready");

	if (agent_file_read(CMDLINE_PATH, cmdline, sizeof(cmdline)) < 0)
		agent_say("cannot read " CMDLINE_PATH "; agent defaults to shell");
	cmdline_each(cmdline, "kiln.agent", agent_copy, agent);

	if (strcmp(agent, "reboot") == 0) {
		agent_say("rebooting");
	} else if (strcmp(agent, "checks") == 0) {
		agent_checks(cmdline);
	} else if (strcmp(agent, "serve") == 0) {
		agent_serve();
	} else {
		if (strcmp(agent, "shell") != 0)
			agent_say("unknown kiln.agent=%s; starting the shell", agent);
		agent_shell();
	}
	vm_reboot();
}
