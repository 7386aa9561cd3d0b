/*
 * The VMM side of the API before any VM exists (no KVM needed): files checked
 * when a request arrives, PATCH against the current config, the logger and
 * metrics sinks, and metrics lines as deltas.
 */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/config/json_fields.h"
#include "vmm/core/vmm.h"
#include "vmm/log/log.h"

static struct vmm vmm;
static char dir[64];

static void setup(void)
{
	struct vmm_options opt = { .id = "unit-test", .version = "9.9.9",
				   .vm = { .serial_out_fd = -1, .serial_in_fd = -1 } };
	char err[VMM_ERR_MAX] = "";
	sigset_t sigs;

	log_set_level(LOG_LEVEL_OFF);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	snprintf(dir, sizeof(dir), "/tmp/kiln-vmm-test-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(vmm_init(&vmm, &opt, err), 0, "%s", err);
}

static void teardown(void)
{
	char cmd[128];

	vmm_destroy(&vmm);
	vm_config_free(&vmm.cfg);
	log_reset();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd)) {
	}
}

TestSuite(vmm, .init = setup, .fini = teardown, .timeout = 30);

static void run(struct api_request *req, struct api_result *res)
{
	memset(res, 0, sizeof(*res));
	res->op = req->op;
	vmm_api_handle(&vmm, req, res);
}

static const char *path_in_dir(const char *name)
{
	static char p[128];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return p;
}

static void touch(const char *name)
{
	int fd = open(path_in_dir(name), O_CREAT | O_WRONLY, 0600);

	cr_assert_geq(fd, 0);
	close(fd);
}

Test(vmm, ids)
{
	cr_expect_eq(vmm_id_check("anonymous-instance"), 0);
	cr_expect_eq(vmm_id_check("A-1"), 0);
	cr_expect_neq(vmm_id_check(""), 0);
	cr_expect_neq(vmm_id_check("under_score"), 0);
	cr_expect_neq(vmm_id_check("a b"), 0);
	cr_expect_neq(vmm_id_check("0123456789012345678901234567890123456789012345678901234567890123x"), 0);
}

Test(vmm, boot_source_files_are_checked_on_arrival)
{
	struct api_request req = { .op = API_OP_PUT_BOOT_SOURCE };
	struct api_result res;

	snprintf(req.u.boot_source.kernel_image_path, CONFIG_PATH_MAX, "%s", path_in_dir("missing"));
	run(&req, &res);
	cr_expect_str_eq(res.fault,
			 "Boot source error: The kernel file cannot be opened: No such file or directory (os error 2)");
	cr_expect_not(vmm.cfg.has_boot_source);

	/* A FIFO would block a reader: refused without opening it blocking. */
	cr_assert_eq(mkfifo(path_in_dir("fifo"), 0600), 0);
	snprintf(req.u.boot_source.kernel_image_path, CONFIG_PATH_MAX, "%s", path_in_dir("fifo"));
	run(&req, &res);
	cr_expect(strstr(res.fault, "kernel file cannot be opened"), "%s", res.fault);

	touch("vmlinux");
	snprintf(req.u.boot_source.kernel_image_path, CONFIG_PATH_MAX, "%s", path_in_dir("vmlinux"));
	snprintf(req.u.boot_source.initrd_path, CONFIG_PATH_MAX, "%s", dir);
	run(&req, &res);
	cr_expect(strstr(res.fault, "The initrd file cannot be opened: Is a directory (os error 21)"), "%s", res.fault);

	req.u.boot_source.initrd_path[0] = '\0';
	req.u.boot_source.boot_args = "console=ttyS0";
	run(&req, &res);
	cr_expect_eq(res.err, 0, "%s", res.fault);
	cr_expect(vmm.cfg.has_boot_source);
	cr_expect_str_eq(vmm.cfg.boot_source.boot_args, "console=ttyS0");
	cr_expect_neq(vmm.cfg.boot_source.boot_args, req.u.boot_source.boot_args, "not copied");
}

Test(vmm, patch_applies_to_the_current_config)
{
	struct api_request req = { .op = API_OP_PUT_MACHINE_CONFIG };
	struct api_result res;
	char err[JSON_ERR_MAX];
	cJSON *patch;

	machine_config_init(&req.u.machine);
	req.u.machine.vcpu_count = 2;
	req.u.machine.smt = true;
	run(&req, &res);
	cr_assert_eq(res.err, 0);

	cr_assert_eq(json_doc_parse("{\"vcpu_count\": 3}", 17, &patch, err), 0);
	req = (struct api_request){ .op = API_OP_PATCH_MACHINE_CONFIG, .u.machine_patch = patch };
	run(&req, &res);
	cr_expect_neq(res.err, 0);
	cr_expect(strstr(res.fault, "smt"), "%s", res.fault);
	cr_expect_eq(vmm.cfg.machine.vcpu_count, 2, "a refused PATCH changed the config");
	cJSON_Delete(patch);

	req = (struct api_request){ .op = API_OP_GET_MACHINE_CONFIG };
	run(&req, &res);
	cr_expect_eq(res.u.machine.vcpu_count, 2);
	cr_expect(res.u.machine.smt);
}

Test(vmm, post_boot_calls_before_boot)
{
	static const enum api_op ops[] = { API_OP_PAUSE, API_OP_RESUME, API_OP_SEND_CTRL_ALT_DEL,
					   API_OP_FLUSH_METRICS };
	struct api_result res;

	for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
		struct api_request req = { .op = ops[i] };

		run(&req, &res);
		cr_expect_str_eq(res.fault, API_MSG_POST_BOOT_ONLY);
	}
	struct api_request start = { .op = API_OP_INSTANCE_START };
	run(&start, &res);
	cr_expect(strstr(res.fault, "kernel was not configured"), "%s", res.fault);
	cr_expect_eq(vmm.state, API_VM_NOT_STARTED);
}

Test(vmm, instance_info)
{
	struct api_request req = { .op = API_OP_GET_INSTANCE_INFO };
	struct api_result res;

	run(&req, &res);
	cr_expect_str_eq(res.u.info.id, "unit-test");
	cr_expect_str_eq(res.u.info.vmm_version, "9.9.9");
	cr_expect_eq(res.u.info.state, API_VM_NOT_STARTED);
}

Test(vmm, logger_sink)
{
	struct api_request req = { .op = API_OP_PUT_LOGGER };
	struct api_result res;
	char buf[4096] = "";
	ssize_t n;
	int fd;

	req.u.logger = (struct logger_config){ .level = LOG_LEVEL_INFO, .show_level = 1,
						   .show_origin = -1 };
	snprintf(req.u.logger.log_path, CONFIG_PATH_MAX, "%s", path_in_dir("no/such/dir/log"));
	run(&req, &res);
	cr_expect(!strncmp(res.fault, "Logger error: cannot open", 25), "%s", res.fault);

	snprintf(req.u.logger.log_path, CONFIG_PATH_MAX, "%s", path_in_dir("kiln.log"));
	run(&req, &res);
	cr_assert_eq(res.err, 0, "%s", res.fault);
	LOG_INFO("hello from the test");
	fd = open(path_in_dir("kiln.log"), O_RDONLY);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	cr_assert_gt(n, 0);
	cr_expect(strstr(buf, "[INFO] hello from the test"), "%s", buf);
	cr_expect_not(strstr(buf, "test_vmm.c"), "origin shown though never asked for: %s", buf);
}

Test(vmm, metrics_lines_are_deltas)
{
	struct api_request req = { .op = API_OP_PUT_METRICS };
	struct api_result res;
	char *text;
	FILE *f;
	size_t cap = 0;
	cJSON *line;
	int lines = 0;

	snprintf(req.u.metrics.metrics_path, CONFIG_PATH_MAX, "%s", path_in_dir("metrics"));
	run(&req, &res);
	cr_assert_eq(res.err, 0, "%s", res.fault);
	run(&req, &res);
	cr_expect_str_eq(res.fault, "Metrics error: Reinitialization of metrics not allowed.");

	vmm.metrics.api.count[API_METHOD_PUT][API_RES_BOOT_SOURCE] = 3;
	vmm.metrics.api.fails[API_METHOD_PUT][API_RES_BOOT_SOURCE] = 1;
	cr_assert_eq(vmm_metrics_flush(&vmm.metrics, NULL), 0);
	cr_assert_eq(vmm_metrics_flush(&vmm.metrics, NULL), 0);

	f = fopen(path_in_dir("metrics"), "r");
	cr_assert_not_null(f);
	text = NULL;
	while (getline(&text, &cap, f) > 0) {
		cJSON *put;

		line = cJSON_Parse(text);
		cr_assert_not_null(line, "not JSON: %s", text);
		put = cJSON_GetObjectItem(line, "put_api_requests");
		cr_expect_eq(cJSON_GetNumberValue(cJSON_GetObjectItem(put, "boot_source_count")), lines ? 0 : 3);
		cr_expect_eq(cJSON_GetNumberValue(cJSON_GetObjectItem(put, "boot_source_fails")), lines ? 0 : 1);
		cr_expect(cJSON_IsObject(cJSON_GetObjectItem(line, "vcpu")));
		cr_expect(cJSON_IsObject(cJSON_GetObjectItem(line, "uart")));
		cr_expect(cJSON_IsNumber(cJSON_GetObjectItem(line, "utc_timestamp_ms")));
		cJSON_Delete(line);
		lines++;
	}
	free(text);
	fclose(f);
	cr_expect_eq(lines, 2);
}

Test(vmm, metrics_fifo_without_reader)
{
	struct vmm_metrics m;
	char err[VMM_METRICS_ERR_MAX];
	int rd;

	vmm_metrics_init(&m);
	cr_assert_eq(mkfifo(path_in_dir("m.fifo"), 0600), 0);
	cr_expect_eq(vmm_metrics_open(&m, path_in_dir("m.fifo"), err), -ENXIO, "%s", err);
	rd = open(path_in_dir("m.fifo"), O_RDONLY | O_NONBLOCK);
	cr_assert_eq(vmm_metrics_open(&m, path_in_dir("m.fifo"), err), 0, "%s", err);
	/* Nobody reads: once the pipe is full, lines are dropped, never waited on. */
	for (int i = 0; i < 200; i++)
		if (vmm_metrics_flush(&m, NULL))
			break;
	cr_expect_gt(m.lines_dropped, 0);
	close(rd);
	vmm_metrics_close(&m);
}

static void put_drive(const char *id, const char *file, bool root, bool ro, struct api_result *res)
{
	struct api_request req = { .op = API_OP_PUT_DRIVE };

	snprintf(req.u.drive.drive_id, sizeof(req.u.drive.drive_id), "%s", id);
	snprintf(req.u.drive.path_on_host, CONFIG_PATH_MAX, "%s", path_in_dir(file));
	req.u.drive.is_root_device = root;
	req.u.drive.is_read_only = ro;
	run(&req, res);
}

static void write_file(const char *name, size_t size)
{
	int fd = open(path_in_dir(name), O_CREAT | O_WRONLY | O_TRUNC, 0600);

	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)size), 0);
	close(fd);
}

/* PUT /drives opens the image as the device will, when the request arrives. */
Test(vmm, drive_files_are_checked_on_arrival)
{
	struct api_result res;

	put_drive("rootfs", "missing.img", true, false, &res);
	cr_expect(!strncmp(res.fault, "Drive config error: drives.path_on_host: ", 41), "%s", res.fault);
	cr_expect(strstr(res.fault, "missing.img: No such file or directory (os error 2)"), "%s", res.fault);
	put_drive("rootfs", "", true, true, &res); /* the directory itself */
	cr_expect(strstr(res.fault, "not a regular file or block device"), "%s", res.fault);
	cr_assert_eq(mkfifo(path_in_dir("fifo"), 0600), 0);
	put_drive("rootfs", "fifo", true, true, &res);
	cr_expect(strstr(res.fault, "not a regular file or block device"), "%s", res.fault);
	write_file("empty.img", 0);
	put_drive("rootfs", "empty.img", true, false, &res);
	cr_expect(strstr(res.fault, "drives.path_on_host"), "%s", res.fault);
	write_file("tiny.img", 100);
	put_drive("rootfs", "tiny.img", true, false, &res);
	cr_expect(strstr(res.fault, "smaller than one sector"), "%s", res.fault);
	cr_expect_eq(vmm.cfg.nr_drives, 0, "refused drives were kept");

	write_file("root.img", 1 << 20);
	write_file("data.img", 4096);
	put_drive("rootfs", "root.img", true, true, &res);
	cr_expect_eq(res.err, 0, "%s", res.fault);
	put_drive("data", "data.img", false, false, &res);
	cr_expect_eq(res.err, 0, "%s", res.fault);
	put_drive("root2", "data.img", true, false, &res);
	cr_expect(strstr(res.fault, "Drive config error: drives.is_root_device: a root block device already exists"),
		  "%s", res.fault);
	cr_assert_eq(vmm.cfg.nr_drives, 2);
	cr_expect_str_eq(vmm.cfg.drives[0].drive_id, "rootfs");
	cr_expect(vmm.cfg.drives[0].is_read_only);

	struct api_request req = { .op = API_OP_PATCH_DRIVE };

	snprintf(req.u.drive_patch.drive_id, sizeof(req.u.drive_patch.drive_id), "data");
	snprintf(req.u.drive_patch.path_on_host, CONFIG_PATH_MAX, "%s", path_in_dir("root.img"));
	run(&req, &res);
	cr_expect_str_eq(res.fault, API_MSG_POST_BOOT_ONLY);
	cr_expect(strstr(vmm.cfg.drives[1].path_on_host, "data.img"), "a refused PATCH changed the config");
}

/* The devices' part of the kernel command line: space-separated, bounded. */
Test(vmm, cmdline_tokens_from_devices)
{
	static struct vm vm;
	char big[LAYOUT_CMDLINE_MAX];

	memset(&vm, 0, sizeof(vm));
	cr_assert_eq(vm_cmdline_add(&vm, "root=/dev/vda"), 0);
	cr_assert_eq(vm_cmdline_add(&vm, "%s", "rw"), 0);
	cr_assert_eq(vm_cmdline_add(&vm, "virtio_mmio.device=4K@0x%llx:%u", 0xc0001000ULL, 5), 0);
	cr_assert_str_eq(vm.cmdline_extra, "root=/dev/vda rw virtio_mmio.device=4K@0xc0001000:5");
	memset(big, 'x', sizeof(big) - 20);
	big[sizeof(big) - 20] = '\0';
	cr_assert_eq(vm_cmdline_add(&vm, "%s", big), -E2BIG);
	cr_assert_str_eq(vm.cmdline_extra, "root=/dev/vda rw virtio_mmio.device=4K@0xc0001000:5",
			 "a token that does not fit leaves the line as it was");
	cr_assert_eq(vm.cmdline_extra_len, strlen(vm.cmdline_extra));
}
