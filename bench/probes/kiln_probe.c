/*
 * kiln-probe: runs one process (kiln, or any VMM: the KVM tracepoints work
 * for every process) under kiln.bpf.c and writes one JSON report plus a
 * table.  See bench/probes/README.md.
 *
 *   kiln-probe [--json FILE] [--timeout S] [--stop-after-boot S] [--quiet] -- COMMAND ARGS...
 *   kiln-probe [--json FILE] [--timeout S] --pid N
 *   kiln-probe --check          can BPF load and attach here? (exit 0, or 3 with the reason)
 *
 * For a full timeline the probes must be in place before the process runs
 * its first instruction, so the child is forked, waits on a pipe while the
 * programs load (filtered to its pid) and attach (USDT by pid and binary
 * path: the uprobes follow the pid across exec), and only then execs.
 *
 * --stop-after-boot S ends the command S seconds after the guest's boot-timer
 * write (for a VMM that does not exit when its guest reboots).
 *
 * Exit status: the traced command's (128+N for signal N; 0 when ended by
 * --stop-after-boot), 124 when it timed out, 3 when BPF is not available, 2
 * for a bad command line.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/probes/probe_report.h"
#include "kiln.skel.h"

/* Hands every entry of a hash map of __u64 counters keyed by key_type to
 * add(r, &key, count).  A macro so each map keeps its own key type. */
#define MAP_WALK(map_fd, key_type, add, r)                                     \
	do {                                                                   \
		key_type key_, next_, *prev_ = NULL;                           \
		__u64 n_;                                                      \
		while (!bpf_map_get_next_key((map_fd), prev_, &next_)) {       \
			if (!bpf_map_lookup_elem((map_fd), &next_, &n_))       \
				add((r), &next_, n_);                          \
			key_ = next_;                                          \
			prev_ = &key_;                                         \
		}                                                              \
	} while (0)

#define EXIT_TIMEOUT 124
#define EXIT_NO_BPF 3
#define EXIT_USAGE 2

struct probe_opts {
	const char *json_path;
	double timeout_s;               /* 0: none */
	double stop_after_boot_s;       /* < 0: never; else end the child this long after the boot marker */
	int pid;                        /* --pid, else 0 */
	bool check;
	bool quiet;                     /* no table */
	char **argv;                    /* the command after -- */
};

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
	stop_requested = sig;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* libbpf's warnings go to stderr only with KILN_PROBE_VERBOSE: the report
 * carries every attach failure anyway. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG || !getenv("KILN_PROBE_VERBOSE"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: kiln-probe [--json FILE] [--timeout S] [--stop-after-boot S] [--quiet] -- COMMAND ARGS...\n"
		   "       kiln-probe [--json FILE] [--timeout S] [--quiet] --pid N\n"
		   "       kiln-probe --check\n");
}

static int parse_args(int argc, char **argv, struct probe_opts *o)
{
	static const struct option longopts[] = {
		{ "json", required_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "stop-after-boot", required_argument, NULL, 's' },
		{ "pid", required_argument, NULL, 'p' },
		{ "check", no_argument, NULL, 'c' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char *end;
	int c;

	memset(o, 0, sizeof(*o));
	o->stop_after_boot_s = -1;
	while ((c = getopt_long(argc, argv, "+j:t:s:p:cqh", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			o->json_path = optarg;
			break;
		case 't':
			o->timeout_s = strtod(optarg, &end);
			if (*end || o->timeout_s < 0) {
				fprintf(stderr, "kiln-probe: --timeout: not a number of seconds: %s\n", optarg);
				return -EINVAL;
			}
			break;
		case 's':
			o->stop_after_boot_s = strtod(optarg, &end);
			if (*end || o->stop_after_boot_s < 0) {
				fprintf(stderr, "kiln-probe: --stop-after-boot: not a number of seconds: %s\n",
					optarg);
				return -EINVAL;
			}
			break;
		case 'p': {
			long v = strtol(optarg, &end, 10);

			if (*end || v <= 0 || v > INT_MAX) {
				fprintf(stderr, "kiln-probe: --pid: not a pid: %s\n", optarg);
				return -EINVAL;
			}
			o->pid = (int)v;
			break;
		}
		case 'c':
			o->check = true;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc)
		o->argv = &argv[optind];
	if (!o->check && !!o->pid == !!o->argv) {
		fprintf(stderr, "kiln-probe: give either -- COMMAND or --pid N\n");
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

/* The executable execvp would run for name, as an absolute path. */
static int resolve_command(const char *name, char out[PATH_MAX])
{
	const char *path = getenv("PATH");
	char cand[PATH_MAX];

	if (strchr(name, '/'))
		return realpath(name, out) ? 0 : -errno;
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		snprintf(cand, sizeof(cand), "%.*s/%s", (int)n, n ? path : ".", name);
		if (!access(cand, X_OK) && realpath(cand, out))
			return 0;
		path += n + (path[n] == ':');
	}
	return -ENOENT;
}

/* Forks the child that execs argv once a byte arrives on *go_fd. */
static int spawn_held(char **argv, int *go_fd)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		int ret = -errno;

		close(p[0]);
		close(p[1]);
		return ret;
	}
	if (pid == 0) {
		char go;

		close(p[1]);
		/* EOF without the byte: kiln-probe died before attaching. */
		if (read(p[0], &go, 1) != 1)
			_exit(127);
		close(p[0]);
		execvp(argv[0], argv);
		fprintf(stderr, "kiln-probe: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(p[0]);
	*go_fd = p[1];
	return pid;
}

static void attach_tp(struct probe_report *r, struct bpf_program *prog, const char *name,
		      struct bpf_link **link)
{
	char err[PROBE_ERR_MAX];

	*link = bpf_program__attach(prog);
	if (!*link) {
		snprintf(err, sizeof(err), "raw tracepoint %s: %s", name, strerror(errno));
		probe_report_attach(r, name, false, err);
		return;
	}
	probe_report_attach(r, name, true, NULL);
}

static void attach_usdt(struct probe_report *r, struct bpf_program *prog, int pid,
			const char *binary, const char *marker, struct bpf_link **link)
{
	char name[48], err[PROBE_ERR_MAX];

	snprintf(name, sizeof(name), "usdt:%s", marker);
	*link = bpf_program__attach_usdt(prog, pid, binary, "kiln", marker, NULL);
	if (!*link) {
		int e = errno;

		snprintf(err, sizeof(err), "%s in %s: %s%s", marker, binary, strerror(e),
			 e == ENOENT ? " (no such kiln USDT marker in the binary)" : "");
		probe_report_attach(r, name, false, err);
		return;
	}
	probe_report_attach(r, name, true, NULL);
}

#define NR_LINKS 24

struct probe_session {
	struct kiln_bpf *skel;
	struct bpf_link *links[NR_LINKS];
	struct ring_buffer *rb;
	struct probe_report *report;
};

static int on_sample(void *ctx, void *data, size_t size)
{
	struct probe_session *s = ctx;

	if (size >= sizeof(struct probe_sample))
		probe_report_add_sample(s->report, data);
	return 0;
}

/* Loads the programs for pid and attaches them; 0 or -errno (BPF unusable). */
static int session_open(struct probe_session *s, struct probe_report *r, int pid, const char *binary)
{
	struct kiln_bpf *k;
	struct bpf_link **l = s->links;
	int ret;

	memset(s, 0, sizeof(*s));
	s->report = r;
	k = kiln_bpf__open();
	if (!k)
		return -errno ? -errno : -EINVAL;
	k->rodata->target_tgid = (__u32)pid;
	ret = kiln_bpf__load(k);
	if (ret) {
		kiln_bpf__destroy(k);
		return ret < 0 ? ret : -EINVAL;
	}
	s->skel = k;
	attach_tp(r, k->progs.on_exec, "sched_process_exec", l++);
	attach_tp(r, k->progs.on_userspace_exit, "kvm_userspace_exit", l++);
	attach_tp(r, k->progs.on_pio, "kvm_pio", l++);
	attach_tp(r, k->progs.on_mmio, "kvm_mmio", l++);
	attach_tp(r, k->progs.on_kvm_exit, "kvm_exit", l++);
	attach_tp(r, k->progs.on_kvm_entry, "kvm_entry", l++);
	attach_tp(r, k->progs.on_emulate_insn, "kvm_emulate_insn", l++);
	attach_usdt(r, k->progs.on_build_start, pid, binary, "vm_build_start", l++);
	attach_usdt(r, k->progs.on_build_end, pid, binary, "vm_build_end", l++);
	attach_usdt(r, k->progs.on_first_run, pid, binary, "vcpu_first_run", l++);
	attach_usdt(r, k->progs.on_boot_timer, pid, binary, "boot_timer", l++);
	attach_usdt(r, k->progs.on_api_ready, pid, binary, "api_socket_ready", l++);
	attach_usdt(r, k->progs.on_notify_handled, pid, binary, "virtio_notify_handled", l++);
	attach_usdt(r, k->progs.on_process_done, pid, binary, "virtio_process_done", l++);
	attach_usdt(r, k->progs.on_irq, pid, binary, "virtio_irq", l++);
	attach_usdt(r, k->progs.on_api_start, pid, binary, "api_request_start", l++);
	attach_usdt(r, k->progs.on_api_end, pid, binary, "api_request_end", l++);
	attach_usdt(r, k->progs.on_snap_create_start, pid, binary, "snapshot_create_start", l++);
	attach_usdt(r, k->progs.on_snap_create_end, pid, binary, "snapshot_create_end", l++);
	attach_usdt(r, k->progs.on_snap_load_start, pid, binary, "snapshot_load_start", l++);
	attach_usdt(r, k->progs.on_snap_load_end, pid, binary, "snapshot_load_end", l++);
	s->rb = ring_buffer__new(bpf_map__fd(k->maps.samples), on_sample, s, NULL);
	if (!s->rb)
		return -errno ? -errno : -ENOMEM;
	return 0;
}

static void session_close(struct probe_session *s)
{
	ring_buffer__free(s->rb);
	for (unsigned int i = 0; i < NR_LINKS; i++)
		bpf_link__destroy(s->links[i]);
	kiln_bpf__destroy(s->skel);
	memset(s, 0, sizeof(*s));
}

/* Copies the counters and marks out of the maps into the report. */
static void session_collect(struct probe_session *s)
{
	struct probe_report *r = s->report;
	struct kiln_bpf *k = s->skel;
	__u32 zero = 0;
	int fd;

	ring_buffer__consume(s->rb);
	fd = bpf_map__fd(k->maps.marks);
	for (__u32 i = 0; i < MARK_MAX; i++)
		bpf_map_lookup_elem(fd, &i, &r->marks[i]);
	fd = bpf_map__fd(k->maps.activated);
	for (__u32 i = 0; i < PROBE_VIRTIO_SLOTS; i++)
		bpf_map_lookup_elem(fd, &i, &r->activated[i]);
	fd = bpf_map__fd(k->maps.vcpu_first_run);
	for (__u32 i = 0; i < PROBE_MAX_VCPUS; i++)
		bpf_map_lookup_elem(fd, &i, &r->vcpu_first_run[i]);
	bpf_map_lookup_elem(bpf_map__fd(k->maps.dropped), &zero, &r->samples_dropped);
	{
		int ncpu = libbpf_num_possible_cpus();
		__u64 *per = ncpu > 0 ? calloc((size_t)ncpu, sizeof(*per)) : NULL;

		fd = bpf_map__fd(k->maps.events);
		for (__u32 i = 0; per && i < EVENT_MAX; i++) {
			if (bpf_map_lookup_elem(fd, &i, per))
				continue;
			for (int c = 0; c < ncpu; c++)
				r->events[i] += per[c];
		}
		free(per);
	}

	MAP_WALK(bpf_map__fd(k->maps.exits), struct exit_key, probe_report_add_exit, r);
	MAP_WALK(bpf_map__fd(k->maps.pio), struct pio_key, probe_report_add_pio, r);
	MAP_WALK(bpf_map__fd(k->maps.mmio), struct mmio_key, probe_report_add_mmio, r);
}

/* VmRSS or VmHWM of pid in KiB from /proc, 0 when unreadable. */
static uint64_t proc_status_kib(int pid, const char *field)
{
	char path[64], line[256];
	size_t flen = strlen(field);
	uint64_t v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, flen) && line[flen] == ':') {
			v = strtoull(line + flen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* utime and stime of pid from /proc/<pid>/stat, in us; false when gone. */
static bool proc_cpu_us(int pid, uint64_t *user, uint64_t *sys)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	long hz = sysconf(_SC_CLK_TCK);
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	/* Fields after the command name (which may hold spaces and parens). */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return false;
	*user = ut * 1000000ULL / (unsigned long long)hz;
	*sys = st * 1000000ULL / (unsigned long long)hz;
	return true;
}

/* Polls the ring buffer and the process until it ends, the timeout passes or
 * a signal asks to stop.  Returns the wait status (launched), or -1. */
static int session_run(struct probe_session *s, const struct probe_opts *o, int pid)
{
	struct probe_report *r = s->report;
	uint64_t deadline = o->timeout_s > 0 ? now_ns() + (uint64_t)(o->timeout_s * 1e9) : 0;
	__u32 boot_mark = MARK_BOOT_WRITE;
	int marks_fd = bpf_map__fd(s->skel->maps.marks);
	struct rusage ru;
	int status = -1;

	for (;;) {
		__u64 booted = 0;
		pid_t w;

		ring_buffer__poll(s->rb, 50);
		if (bpf_map_lookup_elem(marks_fd, &boot_mark, &booted))
			booted = 0;
		if (!r->rss_after_boot_kib && booted)
			r->rss_after_boot_kib = proc_status_kib(pid, "VmRSS");
		if (booted && o->stop_after_boot_s >= 0 && r->launched &&
		    now_ns() > booted + (uint64_t)(o->stop_after_boot_s * 1e9))
			r->stopped_after_boot = true;
		if (r->launched) {
			w = wait4(pid, &status, WNOHANG, &ru);
			if (w == pid) {
				r->end_ns = now_ns();
				r->have_cpu = true;
				r->user_cpu_us = (uint64_t)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec;
				r->sys_cpu_us = (uint64_t)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec;
				r->max_rss_kib = (uint64_t)ru.ru_maxrss;
				return status;
			}
		} else {
			uint64_t hwm = proc_status_kib(pid, "VmHWM");

			if (!proc_cpu_us(pid, &r->user_cpu_us, &r->sys_cpu_us) || kill(pid, 0)) {
				r->end_ns = now_ns();
				return -1;
			}
			r->have_cpu = true;
			if (hwm)
				r->max_rss_kib = hwm;
		}
		if (stop_requested || r->stopped_after_boot || (deadline && now_ns() > deadline)) {
			r->timed_out = !stop_requested && !r->stopped_after_boot;
			if (!r->launched) {
				r->end_ns = now_ns();
				return -1;
			}
			/* Our own child, by its pid: TERM first, KILL if it lingers. */
			kill(pid, SIGTERM);
			for (int i = 0; i < 40 && wait4(pid, &status, WNOHANG, &ru) == 0; i++)
				usleep(50000);
			if (wait4(pid, &status, WNOHANG, &ru) == 0) {
				kill(pid, SIGKILL);
				wait4(pid, &status, 0, &ru);
			}
			r->end_ns = now_ns();
			r->have_cpu = true;
			r->user_cpu_us = (uint64_t)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec;
			r->sys_cpu_us = (uint64_t)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec;
			r->max_rss_kib = (uint64_t)ru.ru_maxrss;
			return status;
		}
	}
}

static int write_outputs(struct probe_report *r, const struct probe_opts *o)
{
	int ret = 0;

	if (o->json_path) {
		FILE *f = fopen(o->json_path, "we");

		if (!f) {
			fprintf(stderr, "kiln-probe: %s: %s\n", o->json_path, strerror(errno));
			return -errno;
		}
		ret = probe_report_write_json(r, f);
		if (fclose(f) && !ret)
			ret = -EIO;
		if (ret)
			fprintf(stderr, "kiln-probe: writing %s: %s\n", o->json_path, strerror(-ret));
	}
	if (!o->quiet)
		probe_report_write_table(r, stderr);
	return ret;
}

/* --check: load and attach against our own pid, report what works. */
static int run_check(void)
{
	struct probe_report r;
	struct probe_session s;
	char self[PATH_MAX];
	int ret, bad = 0;

	probe_report_init(&r);
	if (!realpath("/proc/self/exe", self))
		snprintf(self, sizeof(self), "/proc/self/exe");
	ret = session_open(&s, &r, getpid(), self);
	if (ret) {
		printf("BPF not available: %s%s\n", strerror(-ret),
		       ret == -EPERM ? " (needs root or CAP_BPF+CAP_PERFMON)" : "");
		session_close(&s);
		probe_report_free(&r);
		return EXIT_NO_BPF;
	}
	for (unsigned int i = 0; i < r.nr_attach; i++) {
		/* Our own binary has no kiln markers: only the tracepoints count. */
		if (!strncmp(r.attach[i].name, "usdt:", 5))
			continue;
		printf("%-24s %s\n", r.attach[i].name, r.attach[i].ok ? "ok" : r.attach[i].err);
		/* The rest only add figures; these four carry the report. */
		if (!strcmp(r.attach[i].name, "sched_process_exec") ||
		    !strcmp(r.attach[i].name, "kvm_userspace_exit") || !strcmp(r.attach[i].name, "kvm_pio") ||
		    !strcmp(r.attach[i].name, "kvm_mmio"))
			bad += !r.attach[i].ok;
	}
	session_close(&s);
	probe_report_free(&r);
	return bad ? EXIT_NO_BPF : 0;
}

int main(int argc, char **argv)
{
	struct probe_opts o;
	struct probe_report r;
	struct probe_session s;
	struct sigaction sa = { .sa_handler = on_stop_signal };
	char binary[PATH_MAX];
	int ret, go_fd = -1, pid, status, code;

	if (parse_args(argc, argv, &o))
		return EXIT_USAGE;
	libbpf_set_print(libbpf_print);
	if (o.check)
		return run_check();

	probe_report_init(&r);
	if (o.pid) {
		char exe[64];

		pid = o.pid;
		snprintf(exe, sizeof(exe), "/proc/%d/exe", pid);
		if (!realpath(exe, binary)) {
			fprintf(stderr, "kiln-probe: pid %d: %s\n", pid, strerror(errno));
			return EXIT_USAGE;
		}
		snprintf(r.command, sizeof(r.command), "pid %d (%.400s)", pid, binary);
	} else {
		size_t n = 0;

		ret = resolve_command(o.argv[0], binary);
		if (ret) {
			fprintf(stderr, "kiln-probe: %s: %s\n", o.argv[0], strerror(-ret));
			return EXIT_USAGE;
		}
		for (char **a = o.argv; *a && n < sizeof(r.command) - 1; a++)
			n += (size_t)snprintf(r.command + n, sizeof(r.command) - n, "%s%s",
					      a == o.argv ? "" : " ", *a);
		pid = spawn_held(o.argv, &go_fd);
		if (pid < 0) {
			fprintf(stderr, "kiln-probe: fork: %s\n", strerror(-pid));
			return EXIT_USAGE;
		}
		r.launched = true;
	}
	r.pid = pid;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	ret = session_open(&s, &r, pid, binary);
	if (ret) {
		fprintf(stderr, "kiln-probe: BPF not available: %s%s\n", strerror(-ret),
			ret == -EPERM ? " (needs root or CAP_BPF+CAP_PERFMON)" : "");
		if (go_fd >= 0) {
			close(go_fd); /* the child exits 127 without running */
			waitpid(pid, NULL, 0);
		}
		session_close(&s);
		probe_report_free(&r);
		return EXIT_NO_BPF;
	}
	/* Scripts wait for this line before they poke a process attached by pid. */
	fprintf(stderr, "kiln-probe: attached to pid %d\n", pid);
	if (go_fd >= 0) {
		r.launch_ns = now_ns();
		if (write(go_fd, "g", 1) != 1)
			fprintf(stderr, "kiln-probe: releasing the child: %s\n", strerror(errno));
		close(go_fd);
	}
	status = session_run(&s, &o, pid);
	session_collect(&s);
	session_close(&s);

	if (status < 0)
		code = 0;
	else if (WIFEXITED(status))
		code = WEXITSTATUS(status);
	else
		code = 128 + WTERMSIG(status);
	r.exit_code = status < 0 ? -1 : code;
	ret = write_outputs(&r, &o);
	if (r.timed_out)
		code = EXIT_TIMEOUT;
	else if (r.stopped_after_boot)
		code = 0; /* as asked: the signal we sent is not the command's failure */
	probe_report_free(&r);
	return ret ? EXIT_USAGE : code;
}
