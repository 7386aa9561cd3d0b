/*
 * API requests on the VMM thread: the state rule, then the request against
 * the configuration or the running VM.  Fault messages follow Firecracker's
 * ("Boot source error: The kernel file cannot be opened: ...").
 */
#include "vmm/core/vmm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/config/json_fields.h"
#include "vmm/core/vmm_snapshot.h"
#include "vmm/core/vmm_api_devices.h"
#include "vmm/log/log.h"

/* Opens path as Firecracker does when the request arrives; non-blocking so a
 * FIFO cannot hang the VMM thread, and only regular files pass. */
static int vmm_check_file(const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st))
		ret = -errno;
	else if (S_ISDIR(st.st_mode))
		ret = -EISDIR;
	else if (!S_ISREG(st.st_mode))
		ret = -EINVAL;
	close(fd);
	return ret;
}

static void vmm_api_boot_source(struct vmm *vmm, const struct boot_source_config *bs,
				struct api_result *res)
{
	int r = vmm_check_file(bs->kernel_image_path);
	char *args = NULL;

	if (r) {
		api_result_fail(res, r, "Boot source error: The kernel file cannot be opened: %s (os error %d)",
				strerror(-r), -r);
		return;
	}
	if (bs->initrd_path[0] && (r = vmm_check_file(bs->initrd_path))) {
		api_result_fail(res, r, "Boot source error: The initrd file cannot be opened: %s (os error %d)",
				strerror(-r), -r);
		return;
	}
	if (bs->boot_args && !(args = strdup(bs->boot_args))) {
		api_result_fail(res, -ENOMEM, "Boot source error: out of memory");
		return;
	}
	boot_source_free(&vmm->cfg.boot_source);
	vmm->cfg.boot_source = *bs;
	vmm->cfg.boot_source.boot_args = args;
	vmm->cfg.has_boot_source = true;
}

/*
 * The logger is process-wide and log.h's setters are not atomic.  That is safe
 * here: PUT /logger is pre-boot only (no vCPU threads), and the API thread is
 * blocked waiting for this very request, so only this thread logs meanwhile.
 */
int vmm_logger_apply(struct vmm *vmm, const struct logger_config *lc, char err[VMM_ERR_MAX])
{
	int r;

	if (lc->log_path[0]) {
		r = vmm_logger_open(lc->log_path, err);
		if (r)
			return r;
	}
	if (lc->level >= 0)
		log_set_level((enum log_level)lc->level);
	if (lc->show_level >= 0)
		vmm->log_show_level = lc->show_level;
	if (lc->show_origin >= 0)
		vmm->log_show_origin = lc->show_origin;
	log_set_show(vmm->log_show_level, vmm->log_show_origin);
	return 0;
}

int vmm_config_sinks_apply(struct vmm *vmm, char err[VMM_ERR_MAX])
{
	char merr[VMM_METRICS_ERR_MAX];
	int r;

	if (vmm->cfg.has_logger && (r = vmm_logger_apply(vmm, &vmm->cfg.logger, err)))
		return r;
	if (vmm->cfg.has_metrics && (r = vmm_metrics_open(&vmm->metrics, vmm->cfg.metrics.metrics_path, merr))) {
		snprintf(err, VMM_ERR_MAX, "metrics: %s", merr);
		return r;
	}
	return 0;
}

static void vmm_api_logger(struct vmm *vmm, const struct logger_config *lc, struct api_result *res)
{
	char err[VMM_ERR_MAX];
	int r = vmm_logger_apply(vmm, lc, err);

	if (r)
		api_result_fail(res, r, "Logger error: %s", err);
}

static void vmm_api_metrics(struct vmm *vmm, const struct metrics_config *mc,
			    struct api_result *res)
{
	char err[VMM_METRICS_ERR_MAX];
	int r = vmm_metrics_open(&vmm->metrics, mc->metrics_path, err);

	if (r)
		api_result_fail(res, r, "Metrics error: %s", err);
}

/* PUT /drives/{id}: the file is opened now, as the device will open it, so a
 * missing or unwritable image fails this request rather than InstanceStart. */
static void vmm_api_put_drive(struct vmm *vmm, const struct drive_config *d, struct api_result *res)
{
	char err[VM_ERR_MAX];
	int r = vm_drive_check(d, "drives", err);

	if (!r)
		r = vm_config_drive_put(&vmm->cfg, d, "drives", err);
	if (r)
		api_result_fail(res, r, "Drive config error: %s", err);
}

/* PATCH /drives/{id}: a new backing file for the running drive. */
static void vmm_api_patch_drive(struct vmm *vmm, const struct drive_patch *p, struct api_result *res)
{
	struct drive_config *d = vm_config_drive_find(&vmm->cfg, p->drive_id);
	char err[VM_ERR_MAX];
	int r;

	if (!d) {
		api_result_fail(res, -ENOENT, "Drive config error: drives: no drive '%s' in this VM", p->drive_id);
		return;
	}
	if (p->has_rate_limiter) {
		r = vm_drive_update_ratelimit(&vmm->vm, p->drive_id, &p->rate_limiter, err);
		if (r) {
			api_result_fail(res, r, "Drive update error: %s", err);
			return;
		}
		d->rate_limiter = p->rate_limiter;
	}
	if (!p->path_on_host[0])
		return;
	r = vm_drive_update(&vmm->vm, p->drive_id, p->path_on_host, err);
	if (r) {
		api_result_fail(res, r, "Drive update error: %s", err);
		return;
	}
	snprintf(d->path_on_host, sizeof(d->path_on_host), "%s", p->path_on_host);
}

static int vmm_copy_config(const struct vm_config *src, struct vm_config *dst)
{
	*dst = *src;
	dst->boot_source.boot_args = NULL;
	if (src->boot_source.boot_args &&
	    !(dst->boot_source.boot_args = strdup(src->boot_source.boot_args)))
		return -ENOMEM;
	return 0;
}

static void vmm_api_start(struct vmm *vmm, struct api_result *res)
{
	char err[VM_ERR_MAX] = "";
	int r = vmm_start_vm(vmm, err);

	if (r) {
		LOG_ERR("cannot start the VM: %s", err);
		api_result_fail(res, r, "Start microvm error: %s", err);
	}
}

static void vmm_api_pause(struct vmm *vmm, struct api_result *res)
{
	int r = vm_pause(&vmm->vm, VMM_PAUSE_TIMEOUT_MS);

	if (r) {
		api_result_fail(res, r, "Internal VMM error: cannot pause the vCPUs: %s",
				r == -ECANCELED ? "the VM is ending" : strerror(-r));
		return;
	}
	vmm->state = API_VM_PAUSED;
	LOG_INFO("VM paused");
}

void vmm_api_handle(void *opaque, const struct api_request *req, struct api_result *res)
{
	struct vmm *vmm = opaque;
	char err[JSON_ERR_MAX];
	int r;

	/* The snapshot calls have their own state rules (paused; a fresh kiln). */
	if (req->op == API_OP_SNAPSHOT_CREATE || req->op == API_OP_SNAPSHOT_LOAD) {
		vmm_api_snapshot(vmm, req, res);
		return;
	}
	if (api_op_check_state(req->op, vmm->state, res))
		return;
	switch (req->op) {
	case API_OP_GET_INSTANCE_INFO:
	case API_OP_GET_VERSION:
		snprintf(res->u.info.id, sizeof(res->u.info.id), "%s", vmm->id);
		snprintf(res->u.info.vmm_version, sizeof(res->u.info.vmm_version), "%s", vmm->version);
		res->u.info.state = vmm->state;
		break;
	case API_OP_GET_MACHINE_CONFIG:
		res->u.machine = vmm->cfg.machine;
		break;
	case API_OP_GET_VM_CONFIG:
		if (vmm_copy_config(&vmm->cfg, &res->u.vm_config))
			api_result_fail(res, -ENOMEM, "Internal VMM error: out of memory");
		break;
	case API_OP_PUT_BOOT_SOURCE:
		vmm_api_boot_source(vmm, &req->u.boot_source, res);
		break;
	case API_OP_PUT_MACHINE_CONFIG:
		vmm->cfg.machine = req->u.machine;
		break;
	case API_OP_PATCH_MACHINE_CONFIG:
		/* Applied to the current config; the result is checked as a whole. */
		r = machine_config_parse(req->u.machine_patch, true, &vmm->cfg.machine, err);
		if (r)
			api_result_fail(res, r, "Machine config error: %s", err);
		break;
	case API_OP_PUT_LOGGER:
		vmm_api_logger(vmm, &req->u.logger, res);
		break;
	case API_OP_PUT_METRICS:
		vmm_api_metrics(vmm, &req->u.metrics, res);
		break;
	case API_OP_INSTANCE_START:
		vmm_api_start(vmm, res);
		break;
	case API_OP_SEND_CTRL_ALT_DEL:
		r = legacy_send_ctrl_alt_del(&vmm->vm);
		if (r)
			api_result_fail(res, r, "Internal VMM error: cannot send Ctrl-Alt-Del: %s", strerror(-r));
		break;
	case API_OP_FLUSH_METRICS:
		r = vmm_metrics_flush(&vmm->metrics, &vmm->vm);
		if (r)
			api_result_fail(res, r, "Metrics error: cannot write the metrics: %s", strerror(-r));
		break;
	case API_OP_PUT_DRIVE:
		vmm_api_put_drive(vmm, &req->u.drive, res);
		break;
	case API_OP_PATCH_DRIVE:
		vmm_api_patch_drive(vmm, &req->u.drive_patch, res);
		break;
	case API_OP_PAUSE:
		vmm_api_pause(vmm, res);
		break;
	case API_OP_RESUME:
		vm_resume(&vmm->vm);
		vmm->state = API_VM_RUNNING;
		LOG_INFO("VM resumed");
		break;
	default:
		if (!vmm_api_device_handle(vmm, req, res))
			api_result_fail(res, -EINVAL, "unknown request");
		break;
	}
}
