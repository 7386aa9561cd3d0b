/*
 * kiln-probe's report: what the BPF maps and ring buffer held for one traced
 * process, plus what user space measured of it (CPU time, RSS, wall time),
 * turned into one JSON document and a human-readable table.
 *
 * Knows nothing of libbpf: kiln_probe.c copies the maps in, so the
 * aggregation (device names, percentiles, phases) is unit-tested without BPF.
 *
 * Missing data is never printed as zero: a probe that did not attach is
 * listed with its error, and every figure that depends on it is null in the
 * JSON and "n/a" in the table; an event that simply did not happen (the guest
 * never wrote the boot timer) is null with a note saying "not seen".
 */
#ifndef KILN_PROBE_REPORT_H
#define KILN_PROBE_REPORT_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bench/probes/probe_abi.h"

#define PROBE_MAX_ATTACH 32
#define PROBE_ERR_MAX 160

struct probe_attach {
	char name[48];          /* "kvm_pio", "usdt:vm_build_start" */
	bool ok;
	char err[PROBE_ERR_MAX];
};

/* One latency series: (kind, slot, queue) for virtio, (kind, text) for the API. */
struct probe_series {
	uint32_t kind;
	uint32_t slot;
	uint32_t queue;
	char text[PROBE_TEXT_MAX];
	uint64_t *ns;
	size_t n, cap;
};

struct probe_count_exit { struct exit_key k; uint64_t n; };
struct probe_count_pio { struct pio_key k; uint64_t n; };
struct probe_count_mmio { struct mmio_key k; uint64_t n; };

struct probe_report {
	char command[512];              /* the traced command line, or "pid N" */
	int pid;
	bool launched;                  /* kiln-probe started the process (else --pid) */
	int exit_code;                  /* -1: unknown (attached to a process) */
	bool timed_out;
	bool stopped_after_boot;        /* ended by kiln-probe --stop-after-boot */

	struct probe_attach attach[PROBE_MAX_ATTACH];
	unsigned int nr_attach;

	uint64_t marks[MARK_MAX];       /* CLOCK_MONOTONIC ns; 0: not seen */
	uint64_t launch_ns;             /* kiln-probe released the child (fallback start) */
	uint64_t end_ns;                /* the process ended or tracing stopped */
	uint64_t activated[PROBE_VIRTIO_SLOTS];
	uint64_t vcpu_first_run[PROBE_MAX_VCPUS];

	struct probe_count_exit *exits;
	size_t nr_exits;
	struct probe_count_pio *pio;
	size_t nr_pio;
	struct probe_count_mmio *mmio;
	size_t nr_mmio;

	struct probe_series *series;
	size_t nr_series;
	uint64_t samples_dropped;
	uint64_t events[EVENT_MAX];     /* summed over CPUs */

	bool have_cpu;
	uint64_t user_cpu_us, sys_cpu_us;
	uint64_t max_rss_kib;           /* peak (rusage or VmHWM) */
	uint64_t rss_after_boot_kib;    /* VmRSS at the first poll after the boot-timer write; 0 unknown */
};

void probe_report_init(struct probe_report *r);
void probe_report_free(struct probe_report *r);

/* Records whether probe name attached; err is ignored when ok. */
void probe_report_attach(struct probe_report *r, const char *name, bool ok, const char *err);
/* Whether the probe called name attached (false when not listed). */
bool probe_report_attached(const struct probe_report *r, const char *name);

/* Copies of the BPF counters; 0 or -ENOMEM. */
int probe_report_add_exit(struct probe_report *r, const struct exit_key *k, uint64_t n);
int probe_report_add_pio(struct probe_report *r, const struct pio_key *k, uint64_t n);
int probe_report_add_mmio(struct probe_report *r, const struct mmio_key *k, uint64_t n);
/* One ring-buffer sample into its series; 0 or -ENOMEM / -EINVAL (bad kind). */
int probe_report_add_sample(struct probe_report *r, const struct probe_sample *s);

/* The p-th percentile (0 < p <= 100, nearest rank) of n values, sorting ns
 * in place; 0 when n is 0. */
uint64_t probe_percentile(uint64_t *ns, size_t n, double p);

/* The device a port or guest address belongs to in kiln's layout (and the
 * PC devices KVM emulates in the kernel), e.g. "serial0", "virtio@slot1". */
const char *probe_pio_device(uint16_t port);
void probe_mmio_device(uint64_t gpa, char *buf, size_t size);
/* KVM_EXIT_* as a lower-case name ("io", "mmio", "hlt"), or "reason-N" in buf. */
const char *probe_exit_name(uint32_t reason, char *buf, size_t size);

/* The JSON report (one object, then a newline) and the table; 0 or -errno. */
int probe_report_write_json(struct probe_report *r, FILE *out);
void probe_report_write_table(struct probe_report *r, FILE *out);

#endif
