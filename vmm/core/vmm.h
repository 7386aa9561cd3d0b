/*
 * The VMM: one object for the process that owns the configuration, the VM
 * (once started), the metrics, and the event loop of the VMM thread.
 *
 * The loop runs before any VM exists: API requests arrive over an api_channel
 * (PUT /boot-source, /machine-config, ...) and InstanceStart builds and starts
 * the VM from the configuration collected so far, exactly as --config-file
 * does at start-up.  The loop then also owns the VM's event sources (exit
 * requests, console input), and returns when the VM ends or a signal stops
 * kiln.  Every request runs on the VMM thread, in arrival order.
 */
#ifndef KILN_VMM_H
#define KILN_VMM_H

#include <stdbool.h>

#include "vmm/api/api.h"
#include "vmm/compiler.h"
#include "vmm/config/vm_config.h"
#include "vmm/core/vm.h"
#include "vmm/core/vmm_metrics.h"

struct api_channel;

/* How long PATCH /vm {"state": "Paused"} waits for the vCPUs to park. */
#define VMM_PAUSE_TIMEOUT_MS 5000
#define VMM_ERR_MAX 512

struct vmm_options {
	const char *id;             /* instance id (--id), checked by vmm_id_check */
	const char *version;        /* vmm_version in GET / */
	struct vm_options vm;       /* KVM path, boot timer, console fds */
	struct api_channel *api;    /* NULL without the API (--no-api) */
	bool log_show_level;        /* the logger's flags as set at start-up */
	bool log_show_origin;
};

struct vmm {
	char id[API_ID_MAX + 1];
	const char *version;
	struct vm_options vm_opt;
	struct api_channel *api;
	bool log_show_level, log_show_origin; /* log.h keeps them write-only */

	struct vm_config cfg;        /* what InstanceStart builds; kept after */
	enum api_vm_state state;
	bool vm_built;               /* vm holds a VM (built, maybe not started) */
	struct vm vm;

	struct vmm_metrics metrics;

	int epfd, sigfd, metrics_timer;
	bool console_polling;
	enum vm_exit_reason exit_reason;
	int exit_signal;
};

/* 0 when id is 1..64 of [A-Za-z0-9-] (Firecracker's rule for --id). */
int vmm_id_check(const char *id) __must_check;

/* Sets up the loop (signals, API channel, metrics timer); no VM yet.  The
 * signals must be blocked in every thread already.  0 or -errno with err. */
int vmm_init(struct vmm *vmm, const struct vmm_options *opt, char err[VMM_ERR_MAX]) __must_check;

/* Builds and starts the VM from vmm->cfg (InstanceStart, or --config-file).
 * On failure nothing is left of the VM and the state stays "Not started". */
int vmm_start_vm(struct vmm *vmm, char err[VM_ERR_MAX]) __must_check;

/* Runs the event loop until the VM ends or a signal stops kiln. */
enum vm_exit_reason vmm_run(struct vmm *vmm);

/* Runs one API request (on the VMM thread: the api_channel calls this). */
void vmm_api_handle(void *opaque, const struct api_request *req, struct api_result *res);

/* Opens a log sink (file or FIFO) and makes it the logger's.  Shared by
 * --log-path and PUT /logger.  0 or -errno with err. */
int vmm_logger_open(const char *path, char err[VMM_ERR_MAX]) __must_check;

/* Applies a logger config (PUT /logger, the config file's "logger"): absent
 * fields keep their setting.  0 or -errno with err. */
int vmm_logger_apply(struct vmm *vmm, const struct logger_config *lc, char err[VMM_ERR_MAX]) __must_check;

/* The config file's "logger" and "metrics" sections, applied at start-up as
 * PUT /logger and PUT /metrics would be.  0 or -errno with err. */
int vmm_config_sinks_apply(struct vmm *vmm, char err[VMM_ERR_MAX]) __must_check;

/* Stops and frees the VM, closes the loop's fds.  The config stays valid. */
void vmm_destroy(struct vmm *vmm);

#endif
