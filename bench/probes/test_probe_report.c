/* kiln-probe's report: percentiles, device and exit names, phases, and
 * "not attached" never turning into zeros. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bench/probes/probe_report.h"

static cJSON *report_json(struct probe_report *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cJSON *root;

	cr_assert(f);
	cr_assert_eq(probe_report_write_json(r, f), 0);
	fclose(f);
	root = cJSON_Parse(buf);
	cr_assert(root, "not JSON: %s", buf);
	free(buf);
	return root;
}

static cJSON *path(cJSON *o, const char *a, const char *b)
{
	cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);

	return b && x ? cJSON_GetObjectItemCaseSensitive(x, b) : x;
}

Test(probe_report, percentile_nearest_rank)
{
	uint64_t v[100];

	for (int i = 0; i < 100; i++)
		v[i] = (uint64_t)(100 - i); /* 100..1, unsorted on purpose */
	cr_assert_eq(probe_percentile(v, 100, 50), 50);
	cr_assert_eq(probe_percentile(v, 100, 90), 90);
	cr_assert_eq(probe_percentile(v, 100, 99), 99);
	cr_assert_eq(probe_percentile(v, 100, 100), 100);
	cr_assert_eq(probe_percentile(v, 0, 50), 0);

	uint64_t one[1] = { 7 };

	cr_assert_eq(probe_percentile(one, 1, 99), 7);

	uint64_t three[3] = { 30, 10, 20 };

	cr_assert_eq(probe_percentile(three, 3, 50), 20);
	cr_assert_eq(probe_percentile(three, 3, 90), 30);
}

Test(probe_report, device_names)
{
	char buf[32];

	cr_assert_str_eq(probe_pio_device(0x3f8), "serial0");
	cr_assert_str_eq(probe_pio_device(0x3fd), "serial0");
	cr_assert_str_eq(probe_pio_device(0x64), "i8042");
	cr_assert_str_eq(probe_pio_device(0x1234), "other");
	probe_mmio_device(0xc0000000ULL, buf, sizeof(buf));
	cr_assert_str_eq(buf, "boot-timer");
	probe_mmio_device(0xc0001050ULL, buf, sizeof(buf));
	cr_assert_str_eq(buf, "virtio@slot0");
	probe_mmio_device(0xc0003070ULL, buf, sizeof(buf));
	cr_assert_str_eq(buf, "virtio@slot2");
	probe_mmio_device(0xd0000000ULL, buf, sizeof(buf));
	cr_assert_str_eq(buf, "other");
	cr_assert_str_eq(probe_exit_name(2, buf, sizeof(buf)), "io");
	cr_assert_str_eq(probe_exit_name(6, buf, sizeof(buf)), "mmio");
	cr_assert_str_eq(probe_exit_name(999, buf, sizeof(buf)), "reason-999");
}

Test(probe_report, unattached_probes_are_null_not_zero)
{
	struct probe_report r;
	cJSON *j;

	probe_report_init(&r);
	probe_report_attach(&r, "kvm_userspace_exit", true, NULL);
	probe_report_attach(&r, "kvm_pio", false, "raw tracepoint kvm_pio: No such file");
	probe_report_attach(&r, "usdt:vm_build_start", false, "no marker");
	r.marks[MARK_EXEC] = 1000000;
	r.marks[MARK_BUILD_START] = 2000000; /* seen, but its probe is reported unattached */
	j = report_json(&r);
	cr_assert(cJSON_IsNull(path(j, "pio", NULL)));
	cr_assert(cJSON_IsNull(path(j, "timeline_us", "vm_build_start")));
	cr_assert(cJSON_IsFalse(path(path(j, "probes", "kvm_pio"), "attached", NULL)));
	cr_assert_str_eq(cJSON_GetStringValue(path(path(j, "probes", "kvm_pio"), "error", NULL)),
			 "raw tracepoint kvm_pio: No such file");
	/* An attached probe whose event never came: null, with a note. */
	cr_assert(cJSON_IsNull(path(j, "timeline_us", "first_userspace_exit")));
	cr_assert_str_eq(cJSON_GetStringValue(path(j, "timeline_notes", "first_userspace_exit")), "not seen");
	cr_assert(cJSON_IsNull(path(j, "process", "user_cpu_us")));
	cJSON_Delete(j);
	probe_report_free(&r);
}

Test(probe_report, exits_split_at_boot_and_timeline_relative)
{
	struct probe_report r;
	struct exit_key io0 = { 2, 0 }, io1 = { 2, 1 }, mmio0 = { 6, 0 };
	struct pio_key com = { .port = 0x3f8, .write = 1, .size = 1, .phase = 0 };
	cJSON *j;

	probe_report_init(&r);
	probe_report_attach(&r, "kvm_userspace_exit", true, NULL);
	probe_report_attach(&r, "kvm_pio", true, NULL);
	probe_report_attach(&r, "usdt:vm_build_start", true, NULL);
	probe_report_attach(&r, "usdt:vcpu_first_run", true, NULL);
	cr_assert_eq(probe_report_add_exit(&r, &io0, 10), 0);
	cr_assert_eq(probe_report_add_exit(&r, &io1, 5), 0);
	cr_assert_eq(probe_report_add_exit(&r, &mmio0, 3), 0);
	cr_assert_eq(probe_report_add_pio(&r, &com, 42), 0);
	r.marks[MARK_EXEC] = 5000000;
	r.marks[MARK_BUILD_START] = 5250000;
	r.marks[MARK_FIRST_RUN] = 7000000;
	j = report_json(&r);
	cr_assert_eq(path(path(j, "exits", "during_boot"), "io", NULL)->valuedouble, 10);
	cr_assert_eq(path(path(j, "exits", "total"), "io", NULL)->valuedouble, 15);
	cr_assert_eq(path(j, "exits", "during_boot_count")->valuedouble, 13);
	cr_assert_eq(path(j, "exits", "total_count")->valuedouble, 18);
	cr_assert_eq(path(path(j, "pio", "during_boot"), "serial0", NULL)->child->valuedouble, 42);
	cr_assert_eq(path(j, "timeline_us", "process_start")->valuedouble, 0);
	cr_assert_eq(path(j, "timeline_us", "vm_build_start")->valuedouble, 250);
	cr_assert_eq(path(j, "timeline_us", "first_kvm_run")->valuedouble, 2000);
	cJSON_Delete(j);
	probe_report_free(&r);
}

Test(probe_report, samples_group_by_queue_and_request)
{
	struct probe_report r;
	struct probe_sample s = { .kind = SAMPLE_NOTIFY_TO_IRQ, .slot = 0, .queue = 0 };
	cJSON *j, *lat, *api;

	probe_report_init(&r);
	probe_report_attach(&r, "usdt:virtio_notify_handled", true, NULL);
	probe_report_attach(&r, "usdt:api_request_end", true, NULL);
	for (int i = 1; i <= 10; i++) {
		s.ns = (uint64_t)i * 1000;
		cr_assert_eq(probe_report_add_sample(&r, &s), 0);
	}
	s.queue = 1;
	s.ns = 99000;
	cr_assert_eq(probe_report_add_sample(&r, &s), 0);
	s.kind = SAMPLE_API;
	s.slot = 204;
	strcpy(s.text, "PUT /drives/rootfs?x=1");
	cr_assert_eq(probe_report_add_sample(&r, &s), 0);
	strcpy(s.text, "PUT /drives/rootfs");
	cr_assert_eq(probe_report_add_sample(&r, &s), 0);
	s.kind = SAMPLE_KIND_MAX;
	cr_assert_eq(probe_report_add_sample(&r, &s), -EINVAL);
	cr_assert_eq(r.nr_series, 3);

	j = report_json(&r);
	lat = cJSON_GetObjectItemCaseSensitive(j, "virtio_latency");
	cr_assert_eq(cJSON_GetArraySize(lat), 2);
	cr_assert_eq(path(cJSON_GetArrayItem(lat, 0), "count", NULL)->valuedouble, 10);
	cr_assert_eq(path(cJSON_GetArrayItem(lat, 0), "p50_us", NULL)->valuedouble, 5);
	cr_assert_eq(path(cJSON_GetArrayItem(lat, 0), "max_us", NULL)->valuedouble, 10);
	cr_assert_str_eq(cJSON_GetStringValue(path(cJSON_GetArrayItem(lat, 0), "addr", NULL)), "0xc0001000");
	api = cJSON_GetObjectItemCaseSensitive(j, "api_latency");
	cr_assert_eq(cJSON_GetArraySize(api), 1);
	cr_assert_eq(path(cJSON_GetArrayItem(api, 0), "count", NULL)->valuedouble, 2);
	cJSON_Delete(j);
	probe_report_free(&r);
}

Test(probe_report, kvm_events_null_when_unattached_and_explained_when_silent)
{
	struct probe_report r;
	cJSON *j;

	probe_report_init(&r);
	probe_report_attach(&r, "kvm_exit", true, NULL);
	probe_report_attach(&r, "kvm_emulate_insn", true, NULL);
	r.events[EVENT_EMULATE_INSN] = 1234;
	j = report_json(&r);
	cr_assert_eq(path(j, "kvm_events", "kvm_exit")->valuedouble, 0);
	cr_assert(cJSON_GetStringValue(path(j, "kvm_events", "note")), "a silent kvm_exit is explained");
	cr_assert_eq(path(j, "kvm_events", "kvm_emulate_insn")->valuedouble, 1234);
	cr_assert(cJSON_IsNull(path(j, "kvm_events", "kvm_entry")));
	cJSON_Delete(j);
	probe_report_free(&r);
}
