/* kiln-probe's report: aggregation, JSON and table; see probe_report.h. */
#include "bench/probes/probe_report.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char *const sample_kind_names[SAMPLE_KIND_MAX] = {
	[SAMPLE_NOTIFY_TO_HANDLED] = "notify_to_handled",
	[SAMPLE_HANDLED_TO_DONE] = "process",
	[SAMPLE_HANDLED_TO_IRQ] = "handled_to_irq",
	[SAMPLE_NOTIFY_TO_IRQ] = "notify_to_irq",
	[SAMPLE_API] = "api",
};

/* Timeline points in the order they happen, with the probe each needs. */
static const struct {
	enum probe_mark mark;
	const char *name;
	const char *probe;
} timeline[] = {
	{ MARK_BUILD_START, "vm_build_start", "usdt:vm_build_start" },
	{ MARK_BUILD_END, "vm_build_end", "usdt:vm_build_end" },
	{ MARK_API_READY, "api_socket_ready", "usdt:api_socket_ready" },
	{ MARK_FIRST_RUN, "first_kvm_run", "usdt:vcpu_first_run" },
	{ MARK_FIRST_EXIT, "first_userspace_exit", "kvm_userspace_exit" },
	{ MARK_FIRST_PIO, "first_pio", "kvm_pio" },
	{ MARK_FIRST_MMIO, "first_mmio", "kvm_mmio" },
	{ MARK_BOOT_WRITE, "boot_timer_write", "kvm_mmio" },
	{ MARK_BOOT_TIMER, "boot_timer_device", "usdt:boot_timer" },
	{ MARK_SNAP_CREATE_START, "snapshot_create_start", "usdt:snapshot_create_start" },
	{ MARK_SNAP_CREATE_END, "snapshot_create_end", "usdt:snapshot_create_end" },
	{ MARK_SNAP_LOAD_START, "snapshot_load_start", "usdt:snapshot_load_start" },
	{ MARK_SNAP_LOAD_END, "snapshot_load_end", "usdt:snapshot_load_end" },
	{ MARK_LAST_EXIT, "last_userspace_exit", "kvm_userspace_exit" },
};

void probe_report_init(struct probe_report *r)
{
	memset(r, 0, sizeof(*r));
	r->exit_code = -1;
}

void probe_report_free(struct probe_report *r)
{
	for (size_t i = 0; i < r->nr_series; i++)
		free(r->series[i].ns);
	free(r->series);
	free(r->exits);
	free(r->pio);
	free(r->mmio);
	probe_report_init(r);
}

void probe_report_attach(struct probe_report *r, const char *name, bool ok, const char *err)
{
	struct probe_attach *a;

	if (r->nr_attach >= PROBE_MAX_ATTACH)
		return;
	a = &r->attach[r->nr_attach++];
	snprintf(a->name, sizeof(a->name), "%s", name);
	a->ok = ok;
	snprintf(a->err, sizeof(a->err), "%s", ok || !err ? "" : err);
}

bool probe_report_attached(const struct probe_report *r, const char *name)
{
	for (unsigned int i = 0; i < r->nr_attach; i++)
		if (!strcmp(r->attach[i].name, name))
			return r->attach[i].ok;
	return false;
}

/* Appends one element of size sz to *arr (with *nr elements). */
static int grow(void **arr, size_t *nr, size_t sz, const void *elem)
{
	void *p = realloc(*arr, (*nr + 1) * sz);

	if (!p)
		return -ENOMEM;
	memcpy((char *)p + *nr * sz, elem, sz);
	*arr = p;
	(*nr)++;
	return 0;
}

int probe_report_add_exit(struct probe_report *r, const struct exit_key *k, uint64_t n)
{
	struct probe_count_exit e = { *k, n };

	return grow((void **)&r->exits, &r->nr_exits, sizeof(e), &e);
}

int probe_report_add_pio(struct probe_report *r, const struct pio_key *k, uint64_t n)
{
	struct probe_count_pio e = { *k, n };

	return grow((void **)&r->pio, &r->nr_pio, sizeof(e), &e);
}

int probe_report_add_mmio(struct probe_report *r, const struct mmio_key *k, uint64_t n)
{
	struct probe_count_mmio e = { *k, n };

	return grow((void **)&r->mmio, &r->nr_mmio, sizeof(e), &e);
}

static struct probe_series *series_find(struct probe_report *r, const struct probe_sample *s,
					 const char *text)
{
	struct probe_series blank = { .kind = s->kind };
	size_t i;

	for (i = 0; i < r->nr_series; i++) {
		struct probe_series *x = &r->series[i];

		if (x->kind != s->kind)
			continue;
		if (s->kind == SAMPLE_API ? !strcmp(x->text, text)
					  : (x->slot == s->slot && x->queue == s->queue))
			return x;
	}
	if (s->kind == SAMPLE_API)
		snprintf(blank.text, sizeof(blank.text), "%s", text);
	else {
		blank.slot = s->slot;
		blank.queue = s->queue;
	}
	if (grow((void **)&r->series, &r->nr_series, sizeof(blank), &blank))
		return NULL;
	return &r->series[r->nr_series - 1];
}

int probe_report_add_sample(struct probe_report *r, const struct probe_sample *s)
{
	char text[PROBE_TEXT_MAX];
	struct probe_series *x;

	if (s->kind >= SAMPLE_KIND_MAX)
		return -EINVAL;
	/* The text comes from the traced process: bound it, and keep the
	 * request path without its query string so requests group. */
	memcpy(text, s->text, sizeof(text));
	text[sizeof(text) - 1] = '\0';
	text[strcspn(text, "?")] = '\0';
	x = series_find(r, s, text);
	if (!x)
		return -ENOMEM;
	if (x->n == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 64;
		uint64_t *p = realloc(x->ns, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		x->ns = p;
		x->cap = cap;
	}
	x->ns[x->n++] = s->ns;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

uint64_t probe_percentile(uint64_t *ns, size_t n, double p)
{
	size_t rank;

	if (!n)
		return 0;
	qsort(ns, n, sizeof(*ns), cmp_u64);
	if (p <= 0)
		return ns[0];
	/* Nearest rank: the smallest value with at least p% of values <= it. */
	rank = (size_t)((p / 100.0) * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return ns[rank - 1];
}

const char *probe_pio_device(uint16_t port)
{
	if (port >= 0x3f8 && port <= 0x3ff)
		return "serial0";
	if (port >= 0x2f8 && port <= 0x2ff)
		return "serial1";
	if (port >= 0x3e8 && port <= 0x3ef)
		return "serial2";
	if (port >= 0x2e8 && port <= 0x2ef)
		return "serial3";
	if (port == 0x60 || port == 0x64)
		return "i8042";
	if (port == 0x61)
		return "port-b";
	if (port == 0x20 || port == 0x21 || port == 0xa0 || port == 0xa1 || port == 0x4d0 || port == 0x4d1)
		return "pic";
	if (port >= 0x40 && port <= 0x43)
		return "pit";
	if (port == 0x70 || port == 0x71)
		return "rtc";
	if (port == 0x80)
		return "post";
	if (port >= 0xcf8 && port <= 0xcff)
		return "pci-config";
	if (port >= 0x600 && port <= 0x63f)
		return "acpi-pm";
	return "other";
}

void probe_mmio_device(uint64_t gpa, char *buf, size_t size)
{
	if (gpa >= PROBE_BOOT_TIMER_GPA && gpa < PROBE_VIRTIO_BASE)
		snprintf(buf, size, "boot-timer");
	else if (gpa >= PROBE_VIRTIO_BASE && gpa < PROBE_VIRTIO_BASE + PROBE_VIRTIO_SLOTS * PROBE_VIRTIO_STRIDE)
		snprintf(buf, size, "virtio@slot%u",
			 (unsigned int)((gpa - PROBE_VIRTIO_BASE) / PROBE_VIRTIO_STRIDE));
	else if (gpa >= 0xfec00000ULL && gpa < 0xfec01000ULL)
		snprintf(buf, size, "ioapic");
	else if (gpa >= 0xfee00000ULL && gpa < 0xfee01000ULL)
		snprintf(buf, size, "lapic");
	else
		snprintf(buf, size, "other");
}

const char *probe_exit_name(uint32_t reason, char *buf, size_t size)
{
	/* KVM_EXIT_* from <linux/kvm.h>. */
	static const char *const names[] = {
		[0] = "unknown", [1] = "exception", [2] = "io", [3] = "hypercall", [4] = "debug",
		[5] = "hlt", [6] = "mmio", [7] = "irq_window_open", [8] = "shutdown",
		[9] = "fail_entry", [10] = "intr", [11] = "set_tpr", [12] = "tpr_access",
		[17] = "internal_error", [23] = "watchdog", [24] = "system_event",
		[26] = "ioapic_eoi", [27] = "hyperv", [29] = "x86_rdmsr", [30] = "x86_wrmsr",
		[31] = "dirty_ring_full", [35] = "notify", [36] = "loongarch_iocsr",
		[37] = "memory_fault",
	};

	if (reason < sizeof(names) / sizeof(names[0]) && names[reason])
		return names[reason];
	snprintf(buf, size, "reason-%u", reason);
	return buf;
}

static int cmp_exit(const void *a, const void *b)
{
	const struct probe_count_exit *x = a, *y = b;

	if (x->k.reason != y->k.reason)
		return x->k.reason < y->k.reason ? -1 : 1;
	return (int)x->k.phase - (int)y->k.phase;
}

static int cmp_pio(const void *a, const void *b)
{
	const struct probe_count_pio *x = a, *y = b;

	if (x->k.port != y->k.port)
		return x->k.port < y->k.port ? -1 : 1;
	if (x->k.write != y->k.write)
		return x->k.write - y->k.write;
	if (x->k.size != y->k.size)
		return x->k.size - y->k.size;
	return (int)x->k.phase - (int)y->k.phase;
}

static int cmp_mmio(const void *a, const void *b)
{
	const struct probe_count_mmio *x = a, *y = b;

	if (x->k.gpa != y->k.gpa)
		return x->k.gpa < y->k.gpa ? -1 : 1;
	if (x->k.type != y->k.type)
		return x->k.type < y->k.type ? -1 : 1;
	return (int)x->k.phase - (int)y->k.phase;
}

/* Hash-map order is arbitrary: reports list counters by reason/port/address. */
static void sort_counts(struct probe_report *r)
{
	if (r->nr_exits)
		qsort(r->exits, r->nr_exits, sizeof(*r->exits), cmp_exit);
	if (r->nr_pio)
		qsort(r->pio, r->nr_pio, sizeof(*r->pio), cmp_pio);
	if (r->nr_mmio)
		qsort(r->mmio, r->nr_mmio, sizeof(*r->mmio), cmp_mmio);
}

/* Microseconds from the process start to mark m, or -1 when unknown. */
static double since_start_us(const struct probe_report *r, uint64_t t)
{
	uint64_t start = r->marks[MARK_EXEC] ? r->marks[MARK_EXEC] : r->launch_ns;

	if (!t || !start || t < start)
		return -1;
	return (double)(t - start) / 1000.0;
}

static const char *start_source(const struct probe_report *r)
{
	if (r->marks[MARK_EXEC])
		return "sched_process_exec";
	if (r->launch_ns)
		return "kiln-probe released the child (exec not traced)";
	return NULL;
}

/* The earlier of the first PIO and first MMIO exit, and which it was. */
static uint64_t first_guest_io(const struct probe_report *r, const char **src)
{
	uint64_t p = r->marks[MARK_FIRST_PIO], m = r->marks[MARK_FIRST_MMIO];

	if (p && (!m || p <= m)) {
		*src = "kvm_pio";
		return p;
	}
	*src = m ? "kvm_mmio" : NULL;
	return m;
}

static void add_us(cJSON *o, const char *name, double us)
{
	if (us < 0)
		cJSON_AddNullToObject(o, name);
	else
		cJSON_AddNumberToObject(o, name, (double)(int64_t)(us * 10 + 0.5) / 10.0);
}

static void add_u64(cJSON *o, const char *name, uint64_t v)
{
	cJSON_AddNumberToObject(o, name, (double)v);
}

/* Adds n to the number obj[name], creating it. */
static void bump(cJSON *obj, const char *name, uint64_t n)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	if (v)
		cJSON_SetNumberValue(v, v->valuedouble + (double)n);
	else
		cJSON_AddNumberToObject(obj, name, (double)n);
}

/* Adds n to obj[name][sub], creating both. */
static void bump_sub(cJSON *obj, const char *name, const char *sub, uint64_t n)
{
	cJSON *d = cJSON_GetObjectItemCaseSensitive(obj, name);

	if (!d)
		d = cJSON_AddObjectToObject(obj, name);
	bump(d, sub, n);
}

static void json_timeline(struct probe_report *r, cJSON *root)
{
	cJSON *t = cJSON_AddObjectToObject(root, "timeline_us");
	cJSON *notes = cJSON_AddObjectToObject(root, "timeline_notes");
	const char *src = start_source(r), *io_src;
	uint64_t io;

	add_us(t, "process_start", src ? 0 : -1);
	cJSON_AddStringToObject(notes, "process_start",
				src ? src : "unknown: attached to a running process");
	for (size_t i = 0; i < sizeof(timeline) / sizeof(timeline[0]); i++) {
		bool ok = probe_report_attached(r, timeline[i].probe);

		add_us(t, timeline[i].name, ok ? since_start_us(r, r->marks[timeline[i].mark]) : -1);
		if (!ok) {
			char note[96];

			snprintf(note, sizeof(note), "probe %s not attached", timeline[i].probe);
			cJSON_AddStringToObject(notes, timeline[i].name, note);
		} else if (!r->marks[timeline[i].mark]) {
			cJSON_AddStringToObject(notes, timeline[i].name, "not seen");
		}
	}
	/* Entry into the guest kernel is not an event KVM reports on every host
	 * (kvm_exit never fires on PVM); the first PIO/MMIO exit stands in. */
	io = first_guest_io(r, &io_src);
	add_us(t, "kernel_entry", -1);
	cJSON_AddStringToObject(notes, "kernel_entry",
				"not markable from the host (kvm:kvm_exit does not fire on PVM); "
				"see first_guest_io");
	add_us(t, "first_guest_io", since_start_us(r, io));
	if (io_src)
		cJSON_AddStringToObject(notes, "first_guest_io", io_src);
	add_us(t, "process_end", since_start_us(r, r->end_ns));
	if (probe_report_attached(r, "usdt:vcpu_first_run")) {
		cJSON *v = cJSON_AddObjectToObject(root, "vcpu_first_run_us");

		for (unsigned int i = 0; i < PROBE_MAX_VCPUS; i++) {
			char name[16];

			if (!r->vcpu_first_run[i])
				continue;
			snprintf(name, sizeof(name), "%u", i);
			add_us(v, name, since_start_us(r, r->vcpu_first_run[i]));
		}
	} else {
		cJSON_AddNullToObject(root, "vcpu_first_run_us");
	}
}

static void json_exits(struct probe_report *r, cJSON *root)
{
	cJSON *e, *boot, *all;
	uint64_t nb = 0, na = 0;
	char buf[24];

	if (!probe_report_attached(r, "kvm_userspace_exit")) {
		cJSON_AddNullToObject(root, "exits");
		return;
	}
	e = cJSON_AddObjectToObject(root, "exits");
	boot = cJSON_AddObjectToObject(e, "during_boot");
	all = cJSON_AddObjectToObject(e, "total");
	for (size_t i = 0; i < r->nr_exits; i++) {
		const char *name = probe_exit_name(r->exits[i].k.reason, buf, sizeof(buf));

		if (r->exits[i].k.phase == 0) {
			bump(boot, name, r->exits[i].n);
			nb += r->exits[i].n;
		}
		bump(all, name, r->exits[i].n);
		na += r->exits[i].n;
	}
	add_u64(e, "during_boot_count", nb);
	add_u64(e, "total_count", na);
	cJSON_AddBoolToObject(e, "boot_marker_seen", r->marks[MARK_BOOT_WRITE] != 0);
}

static void json_pio(struct probe_report *r, cJSON *root)
{
	cJSON *p, *boot, *all, *list;

	if (!probe_report_attached(r, "kvm_pio")) {
		cJSON_AddNullToObject(root, "pio");
		return;
	}
	p = cJSON_AddObjectToObject(root, "pio");
	boot = cJSON_AddObjectToObject(p, "during_boot");
	all = cJSON_AddObjectToObject(p, "total");
	list = cJSON_AddArrayToObject(p, "by_port");
	for (size_t i = 0; i < r->nr_pio; i++) {
		const struct probe_count_pio *c = &r->pio[i];
		const char *dev = probe_pio_device(c->k.port), *dir = c->k.write ? "out" : "in";
		cJSON *o = cJSON_CreateObject();
		char port[8];

		if (c->k.phase == 0)
			bump_sub(boot, dev, dir, c->n);
		bump_sub(all, dev, dir, c->n);
		snprintf(port, sizeof(port), "0x%x", c->k.port);
		cJSON_AddStringToObject(o, "port", port);
		cJSON_AddStringToObject(o, "device", dev);
		cJSON_AddStringToObject(o, "dir", dir);
		add_u64(o, "size", c->k.size);
		cJSON_AddStringToObject(o, "phase", c->k.phase ? "after_boot" : "during_boot");
		add_u64(o, "count", c->n);
		cJSON_AddItemToArray(list, o);
	}
}

static void json_mmio(struct probe_report *r, cJSON *root)
{
	static const char *const types[] = { "read_to_vmm", "read", "write" };
	cJSON *m, *boot, *all, *list, *act;

	if (!probe_report_attached(r, "kvm_mmio")) {
		cJSON_AddNullToObject(root, "mmio");
		return;
	}
	m = cJSON_AddObjectToObject(root, "mmio");
	cJSON_AddStringToObject(m, "note",
				"kvm:kvm_mmio per access: read_to_vmm = reads that exited to the VMM, "
				"read = reads completed (in KVM or after the VMM), write = writes "
				"(to the VMM or an in-kernel ioeventfd)");
	boot = cJSON_AddObjectToObject(m, "during_boot");
	all = cJSON_AddObjectToObject(m, "total");
	list = cJSON_AddArrayToObject(m, "by_address");
	for (size_t i = 0; i < r->nr_mmio; i++) {
		const struct probe_count_mmio *c = &r->mmio[i];
		const char *type = c->k.type < 3 ? types[c->k.type] : "other";
		cJSON *o = cJSON_CreateObject();
		char dev[32], addr[24];

		probe_mmio_device(c->k.gpa, dev, sizeof(dev));
		if (c->k.phase == 0)
			bump_sub(boot, dev, type, c->n);
		bump_sub(all, dev, type, c->n);
		snprintf(addr, sizeof(addr), "0x%" PRIx64, (uint64_t)c->k.gpa);
		cJSON_AddStringToObject(o, "addr", addr);
		cJSON_AddStringToObject(o, "device", dev);
		cJSON_AddStringToObject(o, "type", type);
		cJSON_AddStringToObject(o, "phase", c->k.phase ? "after_boot" : "during_boot");
		add_u64(o, "count", c->n);
		cJSON_AddItemToArray(list, o);
	}
	act = cJSON_AddObjectToObject(m, "virtio_driver_ok_us");
	for (unsigned int s = 0; s < PROBE_VIRTIO_SLOTS; s++) {
		char name[16];

		if (!r->activated[s])
			continue;
		snprintf(name, sizeof(name), "slot%u", s);
		add_us(act, name, since_start_us(r, r->activated[s]));
	}
}

static void json_latency(struct probe_report *r, cJSON *root)
{
	bool virtio_ok = probe_report_attached(r, "usdt:virtio_notify_handled");
	bool api_ok = probe_report_attached(r, "usdt:api_request_end");
	cJSON *v = virtio_ok ? cJSON_AddArrayToObject(root, "virtio_latency")
			     : cJSON_AddNullToObject(root, "virtio_latency");
	cJSON *a = api_ok ? cJSON_AddArrayToObject(root, "api_latency")
			  : cJSON_AddNullToObject(root, "api_latency");

	for (size_t i = 0; i < r->nr_series; i++) {
		struct probe_series *x = &r->series[i];
		cJSON *o;

		if (x->kind == SAMPLE_API ? !api_ok : !virtio_ok)
			continue;
		o = cJSON_CreateObject();
		if (x->kind == SAMPLE_API) {
			cJSON_AddStringToObject(o, "request", x->text);
		} else {
			char addr[24];

			add_u64(o, "slot", x->slot);
			snprintf(addr, sizeof(addr), "0x%llx",
				 PROBE_VIRTIO_BASE + x->slot * PROBE_VIRTIO_STRIDE);
			cJSON_AddStringToObject(o, "addr", addr);
			add_u64(o, "queue", x->queue);
		}
		cJSON_AddStringToObject(o, "kind", sample_kind_names[x->kind]);
		add_u64(o, "count", x->n);
		add_us(o, "p50_us", probe_percentile(x->ns, x->n, 50) / 1000.0);
		add_us(o, "p90_us", probe_percentile(x->ns, x->n, 90) / 1000.0);
		add_us(o, "p99_us", probe_percentile(x->ns, x->n, 99) / 1000.0);
		add_us(o, "max_us", probe_percentile(x->ns, x->n, 100) / 1000.0);
		cJSON_AddItemToArray(x->kind == SAMPLE_API ? a : v, o);
	}
}

/* Event counts, null where the tracepoint did not attach.  A count of 0 from
 * an attached tracepoint is real (kvm_exit on PVM), and the note says why. */
static void json_events(struct probe_report *r, cJSON *root)
{
	static const char *const names[EVENT_MAX] = {
		[EVENT_KVM_EXIT] = "kvm_exit",
		[EVENT_KVM_ENTRY] = "kvm_entry",
		[EVENT_EMULATE_INSN] = "kvm_emulate_insn",
	};
	cJSON *e = cJSON_AddObjectToObject(root, "kvm_events");

	for (unsigned int i = 0; i < EVENT_MAX; i++) {
		if (probe_report_attached(r, names[i]))
			add_u64(e, names[i], r->events[i]);
		else
			cJSON_AddNullToObject(e, names[i]);
	}
	if (probe_report_attached(r, "kvm_exit") && !r->events[EVENT_KVM_EXIT])
		cJSON_AddStringToObject(e, "note", "kvm_exit attached but did not fire: this host's KVM "
					"(e.g. PVM) does not emit it, so exits are counted from kvm_userspace_exit");
}

int probe_report_write_json(struct probe_report *r, FILE *out)
{
	cJSON *root = cJSON_CreateObject(), *probes, *proc;
	char *text;
	int ret = 0;

	if (!root)
		return -ENOMEM;
	sort_counts(r);
	cJSON_AddStringToObject(root, "tool", "kiln-probe");
	cJSON_AddStringToObject(root, "command", r->command);
	add_u64(root, "pid", (uint64_t)r->pid);
	if (r->exit_code >= 0)
		cJSON_AddNumberToObject(root, "exit_code", r->exit_code);
	else
		cJSON_AddNullToObject(root, "exit_code");
	cJSON_AddBoolToObject(root, "timed_out", r->timed_out);
	cJSON_AddBoolToObject(root, "stopped_after_boot", r->stopped_after_boot);

	probes = cJSON_AddObjectToObject(root, "probes");
	for (unsigned int i = 0; i < r->nr_attach; i++) {
		cJSON *p = cJSON_AddObjectToObject(probes, r->attach[i].name);

		cJSON_AddBoolToObject(p, "attached", r->attach[i].ok);
		if (!r->attach[i].ok)
			cJSON_AddStringToObject(p, "error", r->attach[i].err);
	}
	json_timeline(r, root);
	json_exits(r, root);
	json_pio(r, root);
	json_mmio(r, root);
	json_latency(r, root);
	add_u64(root, "samples_dropped", r->samples_dropped);
	json_events(r, root);

	proc = cJSON_AddObjectToObject(root, "process");
	if (r->have_cpu) {
		add_u64(proc, "user_cpu_us", r->user_cpu_us);
		add_u64(proc, "sys_cpu_us", r->sys_cpu_us);
	} else {
		cJSON_AddNullToObject(proc, "user_cpu_us");
		cJSON_AddNullToObject(proc, "sys_cpu_us");
	}
	if (r->max_rss_kib)
		add_u64(proc, "max_rss_kib", r->max_rss_kib);
	else
		cJSON_AddNullToObject(proc, "max_rss_kib");
	if (r->rss_after_boot_kib)
		add_u64(proc, "rss_after_boot_kib", r->rss_after_boot_kib);
	else
		cJSON_AddNullToObject(proc, "rss_after_boot_kib");
	add_us(proc, "wall_us", since_start_us(r, r->end_ns));

	text = cJSON_PrintUnformatted(root);
	if (!text || fprintf(out, "%s\n", text) < 0)
		ret = text ? -EIO : -ENOMEM;
	free(text);
	cJSON_Delete(root);
	return ret;
}

static void table_us(FILE *out, const char *what, double us, const char *note)
{
	if (us < 0)
		fprintf(out, "  %-24s %12s  %s\n", what, "n/a", note ? note : "");
	else
		fprintf(out, "  %-24s %12.1f  %s\n", what, us, note ? note : "");
}

void probe_report_write_table(struct probe_report *r, FILE *out)
{
	const char *io_src;
	uint64_t io;
	char buf[24];

	sort_counts(r);
	io = first_guest_io(r, &io_src);
	fprintf(out, "kiln-probe: %s (pid %d)%s\n", r->command, r->pid, r->timed_out ? " TIMED OUT" : "");
	for (unsigned int i = 0; i < r->nr_attach; i++)
		if (!r->attach[i].ok)
			fprintf(out, "  NOT ATTACHED %-28s %s\n", r->attach[i].name, r->attach[i].err);
	fprintf(out, "timeline (us from process start)\n");
	for (size_t i = 0; i < sizeof(timeline) / sizeof(timeline[0]); i++) {
		bool ok = probe_report_attached(r, timeline[i].probe);

		table_us(out, timeline[i].name, ok ? since_start_us(r, r->marks[timeline[i].mark]) : -1,
			 !ok ? "probe not attached" : !r->marks[timeline[i].mark] ? "not seen" : NULL);
	}
	table_us(out, "first_guest_io", since_start_us(r, io), io_src);
	table_us(out, "process_end", since_start_us(r, r->end_ns), NULL);

	if (probe_report_attached(r, "kvm_userspace_exit")) {
		fprintf(out, "exits to user space by reason (during boot / total)\n");
		for (size_t i = 0; i < r->nr_exits; i++) {
			uint64_t boot = 0, all = 0;
			bool first = true;

			/* One line per reason: sum its phases; skip repeats. */
			for (size_t j = 0; j < i; j++)
				if (r->exits[j].k.reason == r->exits[i].k.reason)
					first = false;
			if (!first)
				continue;
			for (size_t j = i; j < r->nr_exits; j++) {
				if (r->exits[j].k.reason != r->exits[i].k.reason)
					continue;
				all += r->exits[j].n;
				if (!r->exits[j].k.phase)
					boot += r->exits[j].n;
			}
			fprintf(out, "  %-24s %12" PRIu64 " / %" PRIu64 "\n",
				probe_exit_name(r->exits[i].k.reason, buf, sizeof(buf)), boot, all);
		}
	}
	fprintf(out, "kvm events:");
	for (unsigned int i = 0; i < EVENT_MAX; i++) {
		static const char *const names[EVENT_MAX] = { "kvm_exit", "kvm_entry", "kvm_emulate_insn" };

		if (probe_report_attached(r, names[i]))
			fprintf(out, " %s %" PRIu64, names[i], r->events[i]);
		else
			fprintf(out, " %s n/a", names[i]);
	}
	fprintf(out, "%s\n", probe_report_attached(r, "kvm_exit") && !r->events[EVENT_KVM_EXIT]
			      ? " (kvm_exit does not fire on this host)" : "");
	if (probe_report_attached(r, "kvm_pio")) {
		fprintf(out, "PIO by port (during boot / total; JSON has sizes)\n");
		for (size_t i = 0; i < r->nr_pio;) {
			const struct probe_count_pio *c = &r->pio[i];
			uint64_t boot = 0, all = 0;
			size_t j = i;

			for (; j < r->nr_pio && r->pio[j].k.port == c->k.port && r->pio[j].k.write == c->k.write; j++) {
				all += r->pio[j].n;
				if (!r->pio[j].k.phase)
					boot += r->pio[j].n;
			}
			fprintf(out, "  0x%-6x %-10s %-5s %10" PRIu64 " / %" PRIu64 "\n", c->k.port,
				probe_pio_device(c->k.port), c->k.write ? "out" : "in", boot, all);
			i = j;
		}
	}
	if (probe_report_attached(r, "kvm_mmio")) {
		static const char *const types[] = { "read>vmm", "read", "write" };

		fprintf(out, "MMIO by device (during boot / total; JSON has every address)\n");
		for (unsigned int t = 0; t < 3; t++) {
			/* Devices in address order: sum consecutive entries of one device. */
			for (size_t i = 0; i < r->nr_mmio;) {
				char dev[32], next[32];
				uint64_t boot = 0, all = 0;
				size_t j = i;

				probe_mmio_device(r->mmio[i].k.gpa, dev, sizeof(dev));
				for (; j < r->nr_mmio; j++) {
					probe_mmio_device(r->mmio[j].k.gpa, next, sizeof(next));
					if (strcmp(dev, next))
						break;
					if (r->mmio[j].k.type != t)
						continue;
					all += r->mmio[j].n;
					if (!r->mmio[j].k.phase)
						boot += r->mmio[j].n;
				}
				if (all)
					fprintf(out, "  %-14s %-9s %10" PRIu64 " / %" PRIu64 "\n", dev, types[t],
						boot, all);
				i = j;
			}
		}
	}
	if (r->nr_series) {
		fprintf(out, "latency (us)                          count      p50      p90      p99      max\n");
		for (size_t i = 0; i < r->nr_series; i++) {
			struct probe_series *x = &r->series[i];
			char what[80];

			if (x->kind == SAMPLE_API)
				snprintf(what, sizeof(what), "api %s", x->text);
			else
				snprintf(what, sizeof(what), "virtio slot%u q%u %s", x->slot, x->queue,
					 sample_kind_names[x->kind]);
			fprintf(out, "  %-34.34s %8zu %8.1f %8.1f %8.1f %8.1f\n", what, x->n,
				probe_percentile(x->ns, x->n, 50) / 1000.0,
				probe_percentile(x->ns, x->n, 90) / 1000.0,
				probe_percentile(x->ns, x->n, 99) / 1000.0,
				probe_percentile(x->ns, x->n, 100) / 1000.0);
		}
	}
	if (r->samples_dropped)
		fprintf(out, "  %" PRIu64 " latency samples DROPPED (ring buffer full)\n", r->samples_dropped);
	if (r->have_cpu)
		fprintf(out, "process: user %.1f ms, sys %.1f ms", r->user_cpu_us / 1000.0,
			r->sys_cpu_us / 1000.0);
	else
		fprintf(out, "process: CPU time n/a");
	fprintf(out, ", max RSS %" PRIu64 " KiB, RSS after boot ", r->max_rss_kib);
	if (r->rss_after_boot_kib)
		fprintf(out, "%" PRIu64 " KiB\n", r->rss_after_boot_kib);
	else
		fprintf(out, "n/a\n");
}
