/*
 * kiln: a KVM microVM monitor.  This file only turns the command line into a
 * VM configuration, runs the VM, and maps how it ended to an exit code:
 *   0   the guest reset or powered off
 *   1   the VM failed (KVM error, emulation failure, ...)
 *   2   bad command line or configuration (nothing was started)
 *   128+N  stopped by signal N (SIGTERM, SIGINT, SIGHUP)
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/config/vm_config.h"
#include "vmm/core/console.h"
#include "vmm/core/vm.h"
#include "vmm/log/log.h"

#define KILN_EXIT_OK 0
#define KILN_EXIT_VM_ERROR 1
#define KILN_EXIT_USAGE 2

struct cli {
	const char *config_file;
	const char *log_path;
	const char *kvm_path;
	int level;
	bool show_level, show_origin;
	bool boot_timer;
	bool no_api;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: kiln --config-file FILE [--no-api] [options]\n"
		"  --config-file FILE   boot the VM described by FILE (Firecracker's config-file shape)\n"
		"  --no-api             do not serve the REST API (the only mode in this build)\n"
		"  --boot-timer         add the boot-timer device at 0xc0000000\n"
		"  --log-path PATH      log to PATH (file or FIFO) instead of stderr\n"
		"  --level LEVEL        Error, Warning, Info (default), Debug, Trace, Off\n"
		"  --show-level         put the level in each log line\n"
		"  --show-log-origin    put file:line in each log line\n"
		"  --kvm PATH           KVM device (default /dev/kvm)\n"
		"  --version, --help\n");
}

static int parse_cli(int argc, char **argv, struct cli *cli)
{
	enum { OPT_CONFIG = 256, OPT_NO_API, OPT_BOOT_TIMER, OPT_LOG_PATH, OPT_LEVEL, OPT_SHOW_LEVEL,
	       OPT_SHOW_ORIGIN, OPT_KVM, OPT_VERSION, OPT_HELP };
	static const struct option opts[] = {
		{ "config-file", required_argument, NULL, OPT_CONFIG },
		{ "no-api", no_argument, NULL, OPT_NO_API },
		{ "boot-timer", no_argument, NULL, OPT_BOOT_TIMER },
		{ "log-path", required_argument, NULL, OPT_LOG_PATH },
		{ "level", required_argument, NULL, OPT_LEVEL },
		{ "show-level", no_argument, NULL, OPT_SHOW_LEVEL },
		{ "show-log-origin", no_argument, NULL, OPT_SHOW_ORIGIN },
		{ "kvm", required_argument, NULL, OPT_KVM },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "help", no_argument, NULL, OPT_HELP },
		{ 0 },
	};
	int c;

	cli->level = LOG_LEVEL_INFO;
	while ((c = getopt_long_only(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case OPT_CONFIG: cli->config_file = optarg; break;
		case OPT_NO_API: cli->no_api = true; break;
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
		case OPT_KVM: cli->kvm_path = optarg; break;
		case OPT_VERSION: printf("kiln %s\n", KILN_VERSION); exit(KILN_EXIT_OK);
		case OPT_HELP: usage(stdout); exit(KILN_EXIT_OK);
		default: usage(stderr); return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kiln: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (!cli->config_file) {
		fprintf(stderr, "kiln: --config-file is required (the REST API is not in this build yet)\n");
		return -EINVAL;
	}
	return 0;
}

static int setup_logging(const struct cli *cli)
{
	log_set_level((enum log_level)cli->level);
	log_set_show(cli->show_level, cli->show_origin);
	if (cli->log_path) {
		/* O_NONBLOCK so opening a FIFO with no reader yet does not hang; a
		 * FIFO then refuses with ENXIO, which is reported. */
		int fd = open(cli->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0600);
		if (fd < 0) {
			fprintf(stderr, "kiln: --log-path %s: %s\n", cli->log_path, strerror(errno));
			return -errno;
		}
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
		log_set_fd(fd);
	}
	return 0;
}

/* Files named in the config are checked before anything is built, so the
 * error names the field. */
static int check_boot_files(const struct vm_config *cfg)
{
	const struct { const char *field, *path; } files[] = {
		{ "boot-source.kernel_image_path", cfg->boot_source.kernel_image_path },
		{ "boot-source.initrd_path", cfg->boot_source.initrd_path },
	};
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		if (files[i].path[0] && access(files[i].path, R_OK)) {
			fprintf(stderr, "kiln: %s: %s: %s\n", files[i].field, files[i].path, strerror(errno));
			return -errno;
		}
	}
	return 0;
}

static int exit_code_for(enum vm_exit_reason reason, const struct vm *vm)
{
	switch (reason) {
	case VM_EXIT_GUEST_RESET:
		LOG_INFO("guest reset: VM ended");
		return KILN_EXIT_OK;
	case VM_EXIT_GUEST_POWEROFF:
		LOG_INFO("guest powered off: VM ended");
		return KILN_EXIT_OK;
	case VM_EXIT_SIGNAL:
		return 128 + vm->exit_signal;
	default:
		LOG_ERR("VM failed: %s", vm->exit_msg[0] ? vm->exit_msg : "unknown error");
		return KILN_EXIT_VM_ERROR;
	}
}

int main(int argc, char **argv)
{
	struct vm_options opt = { .serial_out_fd = STDOUT_FILENO, .serial_in_fd = STDIN_FILENO };
	struct cli cli = { 0 };
	struct vm_config cfg;
	char err[VM_ERR_MAX] = "";
	static struct vm vm; /* large (vCPU table); lives for the whole process */
	enum vm_exit_reason reason;
	sigset_t sigs;
	int ret;

	opt.main_start_ns = vm_now_ns();
	log_set_thread_name("main");
	if (parse_cli(argc, argv, &cli) || setup_logging(&cli))
		return KILN_EXIT_USAGE;

	vm_config_init(&cfg);
	if (vm_config_load_file(cli.config_file, &cfg, err) || check_boot_files(&cfg)) {
		if (err[0])
			fprintf(stderr, "kiln: %s\n", err);
		vm_config_free(&cfg);
		return KILN_EXIT_USAGE;
	}
	opt.kvm_path = cli.kvm_path;
	opt.boot_timer = cli.boot_timer;

	/* Every thread inherits these blocked; the VMM loop takes them by signalfd. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	err[0] = '\0';
	ret = vm_build(&vm, &cfg, &opt, err);
	if (!ret) {
		console_raw_enter(STDIN_FILENO);
		ret = vm_start(&vm, err);
	}
	if (ret) {
		LOG_ERR("cannot start the VM: %s", err);
		vm_destroy(&vm);
		vm_config_free(&cfg);
		console_restore();
		return KILN_EXIT_VM_ERROR;
	}
	reason = vm_run_loop(&vm);
	vm_log_stats(&vm);
	vm_destroy(&vm);
	console_restore();
	ret = exit_code_for(reason, &vm);
	vm_config_free(&cfg);
	return ret;
}
