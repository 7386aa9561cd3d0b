/*
 * kiln: a KVM microVM monitor.  This file only turns the command line into the
 * VMM's start-up state, wires the REST API to it, runs the VMM thread's loop,
 * and maps how it ended to an exit code:
 *   0   the guest reset or powered off
 *   1   the VM failed (KVM error, emulation failure, ...)
 *   2   bad command line or configuration (nothing was started)
 *   128+N  stopped by signal N (SIGTERM, SIGINT, SIGHUP)
 *   148 a thread made a system call outside its seccomp filter (logged)
 *
 * Threads: this one becomes the VMM thread (event loop, all backends), the API
 * server has its own, and each vCPU has one.  Each installs its role's seccomp
 * filter (vmm/seccomp/thread_filter.h) before it handles guest or API input.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/api/api_channel.h"
#include "vmm/api/api_server.h"
#include "vmm/config/vm_config.h"
#include "vmm/core/vmm.h"
#include "vmm/log/log.h"
#include "vmm/snapshot/snap_state.h"
#ifdef KILN_HAVE_SECCOMP
#include "vmm/seccomp/thread_filter.h"
#endif

#define KILN_EXIT_OK 0
#define KILN_EXIT_VM_ERROR 1
#define KILN_EXIT_USAGE 2

#define KILN_DEFAULT_API_SOCK "/run/kiln.socket"
#define KILN_DEFAULT_ID "anonymous-instance"

struct cli {
	const char *config_file;
	const char *api_sock;
	const char *id;
	const char *log_path;
	const char *metrics_path;
	const char *kvm_path;
	int level;
	bool show_level, show_origin;
	bool boot_timer;
	bool no_api;
	bool no_seccomp;
	const char *seccomp_filter;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: kiln [--api-sock PATH] [--config-file FILE] [options]\n"
		"       kiln --config-file FILE --no-api [options]\n"
		"  --api-sock PATH      serve the REST API on this Unix socket (default " KILN_DEFAULT_API_SOCK ")\n"
		"  --config-file FILE   boot the VM described by FILE at once (Firecracker's config-file shape)\n"
		"  --no-api             do not serve the REST API (needs --config-file)\n"
		"  --id ID              instance id for GET / (default " KILN_DEFAULT_ID ")\n"
		"  --boot-timer         add the boot-timer device at 0xc0000000\n"
		"  --log-path PATH      log to PATH (file or FIFO) instead of stderr\n"
		"  --level LEVEL        Error, Warning, Info (default), Debug, Trace, Off\n"
		"  --show-level         put the level in each log line\n"
		"  --show-log-origin    put file:line in each log line\n"
		"  --metrics-path PATH  write metrics (one JSON object per line) to PATH (file or FIFO)\n"
		"  --kvm PATH           KVM device (default /dev/kvm)\n"
		"  --seccomp-filter FILE  per-thread seccomp allow-lists from FILE (JSON) instead of kiln's\n"
		"  --no-seccomp         run without seccomp filters\n"
		"  --describe-snapshot FILE  print a snapshot's format version and contents, then exit\n"
		"  --version, --help\n");
}

/* --describe-snapshot: 0 after the summary, KILN_EXIT_USAGE with one line
 * naming what is wrong with the file. */
static int describe_snapshot(const char *path)
{
	struct snap_state *st = snap_state_new();
	char err[SNAP_ERR_MAX];
	int ret;

	if (!st) {
		fprintf(stderr, "kiln: --describe-snapshot: out of memory\n");
		return KILN_EXIT_USAGE;
	}
	ret = snap_read_file(path, st, err);
	if (ret)
		fprintf(stderr, "kiln: --describe-snapshot: %s\n", err);
	else
		snap_describe(st, stdout);
	snap_state_free(st);
	return ret ? KILN_EXIT_USAGE : KILN_EXIT_OK;
}

static int parse_cli(int argc, char **argv, struct cli *cli)
{
	enum { OPT_CONFIG = 256, OPT_API_SOCK, OPT_NO_API, OPT_ID, OPT_BOOT_TIMER, OPT_LOG_PATH,
	       OPT_LEVEL, OPT_SHOW_LEVEL, OPT_SHOW_ORIGIN, OPT_METRICS_PATH, OPT_KVM, OPT_VERSION,
	       OPT_HELP, OPT_NO_SECCOMP, OPT_SECCOMP_FILTER, OPT_DESCRIBE_SNAPSHOT };
	static const struct option opts[] = {
		{ "config-file", required_argument, NULL, OPT_CONFIG },
		{ "api-sock", required_argument, NULL, OPT_API_SOCK },
		{ "no-api", no_argument, NULL, OPT_NO_API },
		{ "id", required_argument, NULL, OPT_ID },
		{ "boot-timer", no_argument, NULL, OPT_BOOT_TIMER },
		{ "log-path", required_argument, NULL, OPT_LOG_PATH },
		{ "level", required_argument, NULL, OPT_LEVEL },
		{ "show-level", no_argument, NULL, OPT_SHOW_LEVEL },
		{ "show-log-origin", no_argument, NULL, OPT_SHOW_ORIGIN },
		{ "metrics-path", required_argument, NULL, OPT_METRICS_PATH },
		{ "kvm", required_argument, NULL, OPT_KVM },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "no-seccomp", no_argument, NULL, OPT_NO_SECCOMP },
		{ "seccomp-filter", required_argument, NULL, OPT_SECCOMP_FILTER },
		{ "describe-snapshot", required_argument, NULL, OPT_DESCRIBE_SNAPSHOT },
		{ 0 },
	};
	int c;

	cli->level = LOG_LEVEL_INFO;
	cli->api_sock = KILN_DEFAULT_API_SOCK;
	cli->id = KILN_DEFAULT_ID;
	while ((c = getopt_long_only(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case OPT_CONFIG: cli->config_file = optarg; break;
		case OPT_API_SOCK: cli->api_sock = optarg; break;
		case OPT_NO_API: cli->no_api = true; break;
		case OPT_ID: cli->id = optarg; break;
		case OPT_BOOT_TIMER: cli->boot_timer = true; break;
		case OPT_LOG_PATH: cli->log_path = optarg; break;
		case OPT_LEVEL:
			cli->level = log_level_parse(optarg);
			if (cli->level < 0) {
				fprintf(stderr, "kiln: --level: unknown level '%s'\n", optarg);
				return -EINVAL;
			}
			break;
		case OPT_SHOW_LEVEL: cli->show_level = true; break;
		case OPT_SHOW_ORIGIN: cli->show_origin = true; break;
		case OPT_METRICS_PATH: cli->metrics_path = optarg; break;
		case OPT_KVM: cli->kvm_path = optarg; break;
		case OPT_NO_SECCOMP: cli->no_seccomp = true; break;
		case OPT_SECCOMP_FILTER: cli->seccomp_filter = optarg; break;
		case OPT_VERSION: printf("kiln %s\n", KILN_VERSION); exit(KILN_EXIT_OK);
		case OPT_HELP: usage(stdout); exit(KILN_EXIT_OK);
		case OPT_DESCRIBE_SNAPSHOT: exit(describe_snapshot(optarg));
		default: usage(stderr); return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kiln: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (cli->no_api && !cli->config_file) {
		fprintf(stderr, "kiln: --no-api needs --config-file (there would be no way to start a VM)\n");
		return -EINVAL;
	}
	if (cli->no_seccomp && cli->seccomp_filter) {
		fprintf(stderr, "kiln: --no-seccomp and --seccomp-filter contradict each other\n");
		return -EINVAL;
	}
	if (vmm_id_check(cli->id)) {
		fprintf(stderr, "kiln: --id: '%s' must be 1 to %d of A-Z, a-z, 0-9 and '-'\n", cli->id,
			API_ID_MAX);
		return -EINVAL;
	}
	return 0;
}

static int setup_logging(const struct cli *cli)
{
	char err[VMM_ERR_MAX];
	int ret;

	log_set_level((enum log_level)cli->level);
	log_set_show(cli->show_level, cli->show_origin);
	if (!cli->log_path)
		return 0;
	ret = vmm_logger_open(cli->log_path, err);
	if (ret)
		fprintf(stderr, "kiln: --log-path: %s\n", err);
	return ret;
}

/* Files named in the config are checked before anything is built, so the
 * error names the field. */
static int check_boot_files(const struct vm_config *cfg)
{
	const struct { const char *field, *path; } files[] = {
		{ "boot-source.kernel_image_path", cfg->boot_source.kernel_image_path },
		{ "boot-source.initrd_path", cfg->boot_source.initrd_path },
	};
	char err[VM_ERR_MAX];

	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		if (files[i].path[0] && access(files[i].path, R_OK)) {
			fprintf(stderr, "kiln: %s: %s: %s\n", files[i].field, files[i].path, strerror(errno));
			return -errno;
		}
	}
	/* Drive images are opened as the device will open them (read-write
	 * unless is_read_only), as PUT /drives does. */
	for (unsigned int i = 0; i < cfg->nr_drives; i++) {
		int ret = vm_drive_check(&cfg->drives[i], cfg->drives[i].origin, err);

		if (ret) {
			fprintf(stderr, "kiln: %s\n", err);
			return ret;
		}
	}
	return 0;
}

static int load_config(const char *path, struct vm_config *cfg)
{
	char err[CONFIG_ERR_MAX] = "";

	if (vm_config_load_file(path, cfg, err)) {
		fprintf(stderr, "kiln: %s\n", err);
		return -EINVAL;
	}
	return check_boot_files(cfg);
}

static int exit_code_for(enum vm_exit_reason reason, const struct vmm *vmm)
{
	switch (reason) {
	case VM_EXIT_GUEST_RESET:
		LOG_INFO("guest reset: VM ended");
		return KILN_EXIT_OK;
	case VM_EXIT_GUEST_POWEROFF:
		LOG_INFO("guest powered off: VM ended");
		return KILN_EXIT_OK;
	case VM_EXIT_SIGNAL:
		return 128 + vmm->exit_signal;
	default:
		LOG_ERR("VM failed: %s", vmm->vm.exit_msg[0] ? vmm->vm.exit_msg : "unknown error");
		return KILN_EXIT_VM_ERROR;
	}
}

#ifdef KILN_HAVE_SECCOMP
/* Builds the filters (before any thread exists) and arms the SIGSYS report. */
static int setup_seccomp(const struct cli *cli, struct seccomp_policy *pol)
{
	char err[SECCOMP_ERR_MAX] = "";
	int ret;

	if (cli->no_seccomp) {
		LOG_WARN("seccomp filters are off (--no-seccomp)");
		return 0;
	}
	ret = cli->seccomp_filter ? seccomp_policy_load_file(pol, cli->seccomp_filter, err) :
				    seccomp_policy_builtin(pol, err);
	if (ret) {
		fprintf(stderr, "kiln: %s%s\n", cli->seccomp_filter ? "--seccomp-filter: " : "seccomp: ", err);
		return ret;
	}
	ret = seccomp_trap_install() ?: seccomp_activate(pol);
	if (ret)
		fprintf(stderr, "kiln: seccomp: %s\n", strerror(-ret));
	return ret;
}
#endif

static void block_signals(void)
{
	sigset_t sigs;

	/* Every thread inherits these blocked; the VMM loop takes them by signalfd. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int main(int argc, char **argv)
{
	static struct vmm vmm; /* large (vCPU table); lives for the whole process */
#ifdef KILN_HAVE_SECCOMP
	static struct seccomp_policy seccomp; /* read by every thread until exit */
#endif
	struct vmm_options opt = {
		.version = KILN_VERSION,
		.vm = { .serial_out_fd = STDOUT_FILENO, .serial_in_fd = STDIN_FILENO },
	};
	struct api_server srv = { .listen_fd = -1 };
	struct api_channel *ch = NULL;
	struct cli cli = { 0 };
	struct vm_config cfg;
	char err[VMM_ERR_MAX] = "";
	enum vm_exit_reason reason;
	int ret = KILN_EXIT_USAGE;

	opt.vm.main_start_ns = vm_now_ns();
	log_set_thread_name("main");
	if (parse_cli(argc, argv, &cli) || setup_logging(&cli))
		return KILN_EXIT_USAGE;
	block_signals();

	vm_config_init(&cfg);
	if (cli.config_file && load_config(cli.config_file, &cfg)) {
		vm_config_free(&cfg);
		return KILN_EXIT_USAGE;
	}
	/* The filters are built before the first thread starts. */
#ifdef KILN_HAVE_SECCOMP
	if (setup_seccomp(&cli, &seccomp)) {
#else
	if (cli.seccomp_filter) {
		fprintf(stderr, "kiln: --seccomp-filter: this kiln was built without seccomp\n");
#endif
		vm_config_free(&cfg);
		return KILN_EXIT_USAGE;
	}
	if (!cli.no_api && api_channel_create(&ch)) {
		fprintf(stderr, "kiln: cannot create the API channel\n");
		vm_config_free(&cfg);
		return KILN_EXIT_USAGE;
	}
	opt.id = cli.id;
	opt.api = ch;
	opt.vm.kvm_path = cli.kvm_path;
	opt.vm.boot_timer = cli.boot_timer;
	opt.log_show_level = cli.show_level;
	opt.log_show_origin = cli.show_origin;
	if (vmm_init(&vmm, &opt, err)) {
		fprintf(stderr, "kiln: %s\n", err);
		vm_config_free(&cfg);
		goto out;
	}
	vmm.cfg = cfg; /* the VMM owns it from here */
	if (cli.metrics_path && vmm_metrics_open(&vmm.metrics, cli.metrics_path, err)) {
		fprintf(stderr, "kiln: --metrics-path: %s\n", err);
		goto out;
	}
	if (vmm_config_sinks_apply(&vmm, err)) {
		fprintf(stderr, "kiln: --config-file: %s\n", err);
		goto out;
	}
	if (ch) {
		struct api_dispatcher disp = {
			.ops = &api_channel_backend_ops, .opaque = ch, .counters = &vmm.metrics.api,
		};

		if (api_server_start(&srv, cli.api_sock, &disp, err)) {
			fprintf(stderr, "kiln: %s\n", err);
			goto out;
		}
		vmm.metrics.startup_us = (vm_now_ns() - opt.vm.main_start_ns) / 1000;
		vmm.metrics.startup_cpu_us = vm_cpu_now_ns() / 1000;
		LOG_INFO("API server listening on %s (%llu us, %llu CPU us after start)", cli.api_sock,
			 (unsigned long long)vmm.metrics.startup_us,
			 (unsigned long long)vmm.metrics.startup_cpu_us);
	}
	log_set_thread_name("vmm");
	if (cli.config_file) {
		char verr[VM_ERR_MAX] = "";

		if (vmm_start_vm(&vmm, verr)) {
			LOG_ERR("cannot start the VM: %s", verr);
			ret = KILN_EXIT_VM_ERROR;
			goto out;
		}
	}
#ifdef KILN_HAVE_SECCOMP
	/* From here on this thread handles guest and API input. */
	if (seccomp_thread_install(SECCOMP_ROLE_VMM)) {
		LOG_ERR("cannot install the VMM thread's seccomp filter");
		ret = KILN_EXIT_VM_ERROR;
		goto out;
	}
#endif
	reason = vmm_run(&vmm);
	if (vmm.vm_built)
		vm_log_stats(&vmm.vm);
	ret = exit_code_for(reason, &vmm);
out:
	/* A last metrics line; then no API call can reach the VMM any more. */
	if (vmm_metrics_flush(&vmm.metrics, vmm.vm_built ? &vmm.vm : NULL))
		LOG_WARN("the last metrics line was dropped");
	if (ch)
		api_channel_close(ch);
	api_server_stop(&srv);
	vmm_destroy(&vmm);
	api_channel_destroy(ch);
	vm_config_free(&vmm.cfg);
	return ret;
}
