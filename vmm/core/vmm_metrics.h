/*
 * The VMM's metrics: one JSON object per line to the metrics file or FIFO
 * (PUT /metrics or --metrics-path), written by the VMM thread every 60 s, on
 * FlushMetrics and at exit.  Counters are deltas since the previous line:
 *
 *   {"utc_timestamp_ms": ..., "api_server": {"process_startup_time_us": ...,
 *    "process_startup_time_cpu_us": ...}, "get_api_requests": {"<res>_count": n,
 *    "<res>_fails": n, ...}, "put_api_requests": {...}, "patch_api_requests":
 *    {...}, "invalid_method_count": n, "vcpu": {"exit_io_in": n, ...},
 *    "uart": {"write_count": n, "missed_write_count": n, "read_count": n,
 *    "missed_read_count": n, "overrun_count": n}, "block_<drive_id>": {
 *    "activate_fails": n, "event_fails": n, "execute_fails": n,
 *    "invalid_reqs_count": n, "flush_count": n, "queue_event_count": n,
 *    "update_count": n, "update_fails": n, "read_bytes": n, "write_bytes": n,
 *    "read_count": n, "write_count": n} per drive, "block": {their sum},
 *    "metrics": {"lines_dropped": n}}
 *
 * The struct lives in the VMM object; the API thread only bumps api (atomics).
 * The sink is non-blocking: a FIFO nobody reads drops lines (counted), it never
 * stalls the VMM thread.
 */
#ifndef KILN_VMM_METRICS_H
#define KILN_VMM_METRICS_H

#include <stdint.h>

#include "devices/legacy/serial8250.h"
#include "vmm/api/api.h"
#include "vmm/compiler.h"
#include "vmm/core/vcpu.h"

#define VMM_METRICS_PERIOD_S 60
#define VMM_METRICS_ERR_MAX 512

struct vm;

struct vmm_metrics {
	struct api_counters api;
	int fd;                          /* -1 until configured */
	uint64_t startup_us, startup_cpu_us; /* process start to API socket ready */
	uint64_t last_exits[VCPU_EXIT_NR];
	struct serial8250_metrics last_serial;
	uint64_t lines_dropped;          /* since the last line that got out */
};

void vmm_metrics_init(struct vmm_metrics *m);
void vmm_metrics_close(struct vmm_metrics *m);

/* Opens the sink (file or FIFO; a FIFO needs a reader already).  -EALREADY when
 * one is set (Firecracker allows one), else 0 or -errno, with a message. */
int vmm_metrics_open(struct vmm_metrics *m, const char *path, char err[VMM_METRICS_ERR_MAX]) __must_check;

/* Writes one line (vm: the running VM, or NULL before boot).  0 when written or
 * no sink is set; -EAGAIN/-errno when the line was dropped. */
int vmm_metrics_flush(struct vmm_metrics *m, struct vm *vm) __must_check;

#endif
