/* Unit tests for the whole config document and for reading it from a file. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/config/vm_config.h"

#define MINIMAL "{\"boot-source\": {\"kernel_image_path\": \"/vmlinux\"}}"

static struct vm_config cfg;
static char dir[64];

static void vm_setup(void)
{
	vm_config_init(&cfg);
	strcpy(dir, "/tmp/kiln-config-test-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void vm_teardown(void)
{
	char cmd[128];

	vm_config_free(&cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(vm_config, .init = vm_setup, .fini = vm_teardown);

static int vm_parse(const char *text, char *err)
{
	return vm_config_parse(text, strlen(text), &cfg, err);
}

/* Refused with an error containing want; cfg is left with the defaults. */
static void vm_fails(const char *text, const char *want)
{
	char err[CONFIG_ERR_MAX] = "";

	cr_assert_eq(vm_parse(text, err), -EINVAL, "accepted %s", text);
	cr_assert(strstr(err, want), "error '%s' lacks '%s'", err, want);
	cr_assert(!strchr(err, '\n'));
	cr_assert_not(cfg.has_boot_source);
	cr_assert_null(cfg.boot_source.boot_args);
	cr_assert_eq(cfg.machine.vcpu_count, 1);
	cr_assert_eq(cfg.machine.mem_size_mib, 128);
	cr_assert_eq(cfg.nr_drives, 0);
}

Test(vm_config, init_gives_firecracker_defaults)
{
	vm_config_init(&cfg);
	cr_assert_not(cfg.has_boot_source);
	cr_assert_eq(cfg.machine.vcpu_count, 1);
	cr_assert_eq(cfg.machine.mem_size_mib, 128);
	cr_assert_not(cfg.machine.smt);
	cr_assert_not(cfg.machine.track_dirty_pages);
	cr_assert_eq(cfg.machine.huge_pages, HUGE_PAGES_NONE);
}

Test(vm_config, minimal_document)
{
	char err[CONFIG_ERR_MAX];

	cr_assert_eq(vm_parse(MINIMAL, err), 0, "%s", err);
	cr_assert(cfg.has_boot_source);
	cr_assert_str_eq(cfg.boot_source.kernel_image_path, "/vmlinux");
	cr_assert_null(cfg.boot_source.boot_args);
	cr_assert_eq(cfg.machine.vcpu_count, 1);
	cr_assert_eq(cfg.machine.mem_size_mib, 128);
}

/* The shape Firecracker's docs and tools write, with the sections kiln lacks left empty. */
Test(vm_config, full_document)
{
	static const char text[] =
		"{\n"
		"  \"boot-source\": {\n"
		"    \"kernel_image_path\": \"vmlinux.bin\",\n"
		"    \"boot_args\": \"console=ttyS0 reboot=k panic=1 pci=off\",\n"
		"    \"initrd_path\": null\n"
		"  },\n"
		"  \"drives\": [],\n"
		"  \"machine-config\": {\n"
		"    \"vcpu_count\": 2,\n"
		"    \"mem_size_mib\": 1024,\n"
		"    \"smt\": false,\n"
		"    \"track_dirty_pages\": false,\n"
		"    \"huge_pages\": \"None\"\n"
		"  },\n"
		"  \"cpu-config\": null,\n"
		"  \"balloon\": null,\n"
		"  \"network-interfaces\": [],\n"
		"  \"vsock\": null,\n"
		"  \"logger\": null,\n"
		"  \"metrics\": null,\n"
		"  \"mmds-config\": null,\n"
		"  \"entropy\": null\n"
		"}\n";
	char err[CONFIG_ERR_MAX];

	cr_assert_eq(vm_parse(text, err), 0, "%s", err);
	cr_assert_str_eq(cfg.boot_source.kernel_image_path, "vmlinux.bin");
	cr_assert_str_eq(cfg.boot_source.boot_args, "console=ttyS0 reboot=k panic=1 pci=off");
	cr_assert_str_eq(cfg.boot_source.initrd_path, "");
	cr_assert_eq(cfg.machine.vcpu_count, 2);
	cr_assert_eq(cfg.machine.mem_size_mib, 1024);
}

Test(vm_config, cfg_need_not_be_initialised)
{
	struct vm_config raw;
	char err[CONFIG_ERR_MAX];

	memset(&raw, 0xa5, sizeof(raw));
	cr_assert_eq(vm_config_parse(MINIMAL, strlen(MINIMAL), &raw, err), 0, "%s", err);
	cr_assert_null(raw.boot_source.boot_args);
	vm_config_free(&raw);
	memset(&raw, 0xa5, sizeof(raw));
	cr_assert_eq(vm_config_parse("{}", 2, &raw, err), -EINVAL);
	cr_assert_null(raw.boot_source.boot_args, "a failed parse leaves a freeable config");
	vm_config_free(&raw);
}

Test(vm_config, text_need_not_be_nul_terminated)
{
	char err[CONFIG_ERR_MAX], *buf = malloc(strlen(MINIMAL));

	memcpy(buf, MINIMAL, strlen(MINIMAL));
	cr_assert_eq(vm_config_parse(buf, strlen(MINIMAL), &cfg, err), 0, "%s", err);
	free(buf);
}

Test(vm_config, malformed_json)
{
	vm_fails("", "invalid JSON: empty document");
	vm_fails("{\"boot-source\": {\"kernel_image_path\": \"/k\"}", "invalid JSON at line 1");
	vm_fails(MINIMAL " trailing", "unexpected data after the document");
	vm_fails("{\n\"boot-source\": {\n\"kernel_image_path\": /k\n}}", "invalid JSON at line 3");
}

Test(vm_config, top_level_must_be_an_object)
{
	vm_fails("[]", "expected a JSON object at the top level, got an array");
	vm_fails("1", "expected a JSON object at the top level, got a number");
	vm_fails("\"boot-source\"", "expected a JSON object at the top level, got a string");
	vm_fails("null", "expected a JSON object at the top level, got null");
}

Test(vm_config, boot_source_required)
{
	vm_fails("{}", "boot-source: missing required section");
	vm_fails("{\"boot-source\": null}", "boot-source: missing required section");
	vm_fails("{\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 128}}",
		 "boot-source: missing required section");
}

Test(vm_config, unknown_top_level_fields)
{
	vm_fails("{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"boot_source\": {}}",
		 "unknown field 'boot_source'");
	vm_fails("{\"Boot-source\": {\"kernel_image_path\": \"/k\"}}", "unknown field 'Boot-source'");
	vm_fails("{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"pmem\": []}",
		 "unknown field 'pmem'");
	vm_fails("{\"boot-source\": {\"kernel_image_path\": \"/k\"},"
		 " \"boot-source\": {\"kernel_image_path\": \"/j\"}}", "duplicate field 'boot-source'");
}

Test(vm_config, unsupported_sections_only_when_empty)
{
	static const char *const sections[] = {
		"mmds-config", "cpu-config",
	};
	static const char *const values[] = { "[{}]", "{}", "\"x\"", "0", "false", "[null]" };
	char text[256], want[128];
	unsigned int i, j;

	for (i = 0; i < ARRAY_SIZE(sections); i++) {
		char err[CONFIG_ERR_MAX];

		snprintf(text, sizeof(text), "{\"%s\": [], \"boot-source\": {\"kernel_image_path\": \"/k\"}}",
			 sections[i]);
		cr_assert_eq(vm_parse(text, err), 0, "%s: %s", sections[i], err);
		vm_config_free(&cfg);
		snprintf(want, sizeof(want), "%s: not supported by this kiln build yet", sections[i]);
		for (j = 0; j < ARRAY_SIZE(values); j++) {
			snprintf(text, sizeof(text),
				 "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"%s\": %s}",
				 sections[i], values[j]);
			vm_fails(text, want);
		}
	}
}

Test(vm_config, section_errors_name_the_field)
{
	vm_fails("{\"boot-source\": {\"kernel_image_path\": \"/k\"},"
		 " \"machine-config\": {\"vcpu_count\": 64, \"mem_size_mib\": 128}}",
		 "machine-config.vcpu_count: must be between 1 and 32, got 64");
	vm_fails("{\"boot-source\": {\"kernel_image_path\": \"/k\"},"
		 " \"machine-config\": {\"vcpu_count\": 2}}",
		 "machine-config.mem_size_mib: missing required field");
	vm_fails("{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"machine-config\": []}",
		 "machine-config: expected an object, got an array");
	vm_fails("{\"boot-source\": {\"kernel_image_path\": 7}}",
		 "boot-source.kernel_image_path: expected a string, got a number");
	vm_fails("{\"boot-source\": {\"kernel_image_path\": \"/k\", \"x\": 1}}",
		 "boot-source: unknown field 'x'");
}

Test(vm_config, error_after_boot_source_frees_it)
{
	/* boot_args is allocated before machine-config fails; vm_fails checks it
	 * was released, and valgrind checks it was freed. */
	vm_fails("{\"boot-source\": {\"kernel_image_path\": \"/k\", \"boot_args\": \"quiet\"},"
		 " \"machine-config\": {\"vcpu_count\": 3, \"mem_size_mib\": 128, \"smt\": true}}",
		 "machine-config.vcpu_count: must be 1 or an even number when smt is enabled, got 3");
}

Test(vm_config, free_resets_to_defaults)
{
	char err[CONFIG_ERR_MAX];

	cr_assert_eq(vm_parse("{\"boot-source\": {\"kernel_image_path\": \"/k\", \"boot_args\": \"a\"},"
			      " \"machine-config\": {\"vcpu_count\": 4, \"mem_size_mib\": 256}}", err),
		     0, "%s", err);
	vm_config_free(&cfg);
	cr_assert_not(cfg.has_boot_source);
	cr_assert_null(cfg.boot_source.boot_args);
	cr_assert_eq(cfg.machine.vcpu_count, 1);
	vm_config_free(&cfg);
}

static void write_file(const char *path, const char *text, off_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	if (size)
		cr_assert_eq(ftruncate(fd, size), 0);
	close(fd);
}

Test(vm_config, load_file_valid)
{
	char path[128], err[CONFIG_ERR_MAX];

	snprintf(path, sizeof(path), "%s/vm.json", dir);
	write_file(path, "{\"boot-source\": {\"kernel_image_path\": \"/k\", \"boot_args\": \"ro\"},"
		   " \"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 64}}", 0);
	cr_assert_eq(vm_config_load_file(path, &cfg, err), 0, "%s", err);
	cr_assert_str_eq(cfg.boot_source.boot_args, "ro");
	cr_assert_eq(cfg.machine.vcpu_count, 2);
}

Test(vm_config, load_file_missing)
{
	char err[CONFIG_ERR_MAX];

	cr_assert_eq(vm_config_load_file("vm-does-not-exist.json", &cfg, err), -ENOENT);
	cr_assert_str_eq(err, "vm-does-not-exist.json: cannot read: No such file or directory");
	cr_assert_not(cfg.has_boot_source);
}

Test(vm_config, load_file_refuses_directories_and_devices)
{
	char err[CONFIG_ERR_MAX], want[CONFIG_ERR_MAX], fifo[128];

	cr_assert_eq(vm_config_load_file(dir, &cfg, err), -EISDIR);
	snprintf(want, sizeof(want), "%s: cannot read: Is a directory", dir);
	cr_assert_str_eq(err, want);
	cr_assert_eq(vm_config_load_file("/dev/null", &cfg, err), -EINVAL);
	cr_assert_str_eq(err, "/dev/null: cannot read: not a regular file");
	/* A FIFO with no writer must be refused, not waited on. */
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	cr_assert_eq(vm_config_load_file(fifo, &cfg, err), -EINVAL);
	cr_assert(strstr(err, "not a regular file"), "%s", err);
}

Test(vm_config, load_file_size_limit)
{
	char path[128], err[CONFIG_ERR_MAX], want[CONFIG_ERR_MAX];

	/* Exactly the limit: valid JSON padded with trailing blanks. */
	snprintf(path, sizeof(path), "%s/max.json", dir);
	write_file(path, MINIMAL, 0);
	{
		int fd = open(path, O_WRONLY | O_APPEND);
		static char pad[CONFIG_FILE_MAX];
		size_t n = CONFIG_FILE_MAX - strlen(MINIMAL);

		memset(pad, ' ', n);
		cr_assert_eq(write(fd, pad, n), (ssize_t)n);
		close(fd);
	}
	cr_assert_eq(vm_config_load_file(path, &cfg, err), 0, "%s", err);

	snprintf(path, sizeof(path), "%s/big.json", dir);
	write_file(path, MINIMAL, CONFIG_FILE_MAX + 1);
	cr_assert_eq(vm_config_load_file(path, &cfg, err), -EFBIG);
	snprintf(want, sizeof(want), "%s: too large (1048577 bytes, at most 1048576)", path);
	cr_assert_str_eq(err, want);
	cr_assert_not(cfg.has_boot_source);
}

Test(vm_config, load_file_content_errors_name_the_path)
{
	char path[128], err[CONFIG_ERR_MAX], want[CONFIG_ERR_MAX];

	snprintf(path, sizeof(path), "%s/bad.json", dir);
	write_file(path, "{\"boot-source\": {\"kernel_image_path\": \"/k\"},\n"
		   " \"machine-config\": {\"vcpu_count\": 1.5, \"mem_size_mib\": 128}}", 0);
	cr_assert_eq(vm_config_load_file(path, &cfg, err), -EINVAL);
	snprintf(want, sizeof(want), "%s: machine-config.vcpu_count: expected an integer, got 1.5", path);
	cr_assert_str_eq(err, want);

	write_file(path, "{\n\"boot-source\": {\n", 0);
	cr_assert_eq(vm_config_load_file(path, &cfg, err), -EINVAL);
	snprintf(want, sizeof(want), "%s: invalid JSON at line ", path);
	cr_assert_eq(strncmp(err, want, strlen(want)), 0, "%s", err);

	write_file(path, "", 0);
	cr_assert_eq(vm_config_load_file(path, &cfg, err), -EINVAL);
	snprintf(want, sizeof(want), "%s: invalid JSON: empty document", path);
	cr_assert_str_eq(err, want);
}

Test(vm_config, load_file_long_path_keeps_the_end)
{
	char path[CONFIG_PATH_MAX], err[CONFIG_ERR_MAX];
	size_t n;

	n = (size_t)snprintf(path, sizeof(path), "%s/", dir);
	memset(path + n, 'd', 200);
	strcpy(path + n + 200, "/vm.json");
	cr_assert_eq(vm_config_load_file(path, &cfg, err), -ENOENT);
	cr_assert_eq(strncmp(err, "...", 3), 0, "%s", err);
	cr_assert(strstr(err, "dd/vm.json: cannot read: No such file or directory"), "%s", err);
	cr_assert_lt(strlen(err), CONFIG_ERR_MAX);
}

#define BOOT "\"boot-source\": {\"kernel_image_path\": \"/k\"}"

Test(vm_config, drives_in_order_root_first)
{
	static const char text[] =
		"{" BOOT ", \"drives\": ["
		"{\"drive_id\": \"data\", \"path_on_host\": \"/d.img\", \"is_root_device\": false},"
		"{\"drive_id\": \"rootfs\", \"path_on_host\": \"/r.img\", \"is_root_device\": true,"
		" \"is_read_only\": true, \"partuuid\": \"0eaa91a0-01\", \"cache_type\": \"Writeback\","
		" \"io_engine\": \"Sync\", \"rate_limiter\": null},"
		"{\"drive_id\": \"scratch\", \"path_on_host\": \"/s.img\", \"is_root_device\": false}]}";
	char err[CONFIG_ERR_MAX];

	cr_assert_eq(vm_parse(text, err), 0, "%s", err);
	cr_assert_eq(cfg.nr_drives, 3);
	cr_assert_str_eq(cfg.drives[0].drive_id, "rootfs", "the root device goes first");
	cr_assert(cfg.drives[0].is_root_device);
	cr_assert(cfg.drives[0].is_read_only);
	cr_assert_str_eq(cfg.drives[0].partuuid, "0eaa91a0-01");
	cr_assert_eq(cfg.drives[0].cache_type, DRIVE_CACHE_WRITEBACK);
	cr_assert_str_eq(cfg.drives[1].drive_id, "data");
	cr_assert_str_eq(cfg.drives[1].path_on_host, "/d.img");
	cr_assert_not(cfg.drives[1].is_read_only, "is_read_only defaults to false");
	cr_assert_eq(cfg.drives[1].cache_type, DRIVE_CACHE_UNSAFE, "cache_type defaults to Unsafe");
	cr_assert_str_eq(cfg.drives[2].drive_id, "scratch");
}

Test(vm_config, drives_errors_name_the_element_and_field)
{
	vm_fails("{" BOOT ", \"drives\": {}}", "drives: expected an array, got an object");
	vm_fails("{" BOOT ", \"drives\": [1]}", "drives[0]: expected an object, got a number");
	vm_fails("{" BOOT ", \"drives\": [{\"drive_id\": \"a\", \"is_root_device\": false}]}",
		 "drives[0].path_on_host: missing required field");
	vm_fails("{" BOOT ", \"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"/a\", \"is_root_device\": false},"
		 " {\"drive_id\": \"b-c\", \"path_on_host\": \"/b\", \"is_root_device\": false}]}",
		 "drives[1].drive_id: must be 1 to 64 of A-Z, a-z, 0-9 and '_'; got \"b-c\"");
	vm_fails("{" BOOT ", \"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"/a\", \"is_root_device\": true},"
		 " {\"drive_id\": \"b\", \"path_on_host\": \"/b\", \"is_root_device\": true}]}",
		 "drives[1].is_root_device: a root block device already exists (drive 'a')");
	vm_fails("{" BOOT ", \"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"/a\", \"is_root_device\": false,"
		 " \"bogus\": 1}]}", "drives[0]: unknown field 'bogus'");
	vm_fails("{" BOOT ", \"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"/a\", \"is_root_device\": false,"
		 " \"io_engine\": \"async\"}]}",
		 "drives[0].io_engine: must be one of");
	vm_fails("{" BOOT ", \"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"/a\", \"is_root_device\": false,"
		 " \"rate_limiter\": {\"ops\": {\"size\": 1}}}]}",
		 "drives[0].rate_limiter.ops.refill_time: missing required field");
}

Test(vm_config, drives_same_id_replaces)
{
	static const char text[] =
		"{" BOOT ", \"drives\": ["
		"{\"drive_id\": \"a\", \"path_on_host\": \"/a1\", \"is_root_device\": false},"
		"{\"drive_id\": \"a\", \"path_on_host\": \"/a2\", \"is_root_device\": false}]}";
	char err[CONFIG_ERR_MAX];

	cr_assert_eq(vm_parse(text, err), 0, "%s", err);
	cr_assert_eq(cfg.nr_drives, 1);
	cr_assert_str_eq(cfg.drives[0].path_on_host, "/a2");
}

Test(vm_config, drives_null_or_empty)
{
	char err[CONFIG_ERR_MAX];

	cr_assert_eq(vm_parse("{" BOOT ", \"drives\": null}", err), 0, "%s", err);
	cr_assert_eq(cfg.nr_drives, 0);
	vm_config_free(&cfg);
	cr_assert_eq(vm_parse("{" BOOT ", \"drives\": []}", err), 0, "%s", err);
	cr_assert_eq(cfg.nr_drives, 0);
}
