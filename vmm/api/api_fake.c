/* The fake VMM for api_dispatch tests; see api_fake.h. */
#include "vmm/api/api_fake.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/config/json_fields.h"

void api_fake_init(struct api_fake *f)
{
	memset(f, 0, sizeof(*f));
	vm_config_init(&f->cfg);
}

void api_fake_free(struct api_fake *f)
{
	vm_config_free(&f->cfg);
}

static int api_fake_copy_config(const struct vm_config *src, struct vm_config *dst)
{
	*dst = *src;
	dst->boot_source.boot_args = NULL;
	if (src->boot_source.boot_args) {
		dst->boot_source.boot_args = strdup(src->boot_source.boot_args);
		if (!dst->boot_source.boot_args)
			return -ENOMEM;
	}
	return 0;
}

static void api_fake_handle(void *opaque, const struct api_request *req, struct api_result *res)
{
	struct api_fake *f = opaque;
	char err[JSON_ERR_MAX];

	f->calls++;
	f->last_op = req->op;
	if (api_op_check_state(req->op, f->state, res))
		return;
	switch (req->op) {
	case API_OP_GET_INSTANCE_INFO:
	case API_OP_GET_VERSION:
		strcpy(res->u.info.id, "fake_vm");
		strcpy(res->u.info.vmm_version, "0.0.0-fake");
		res->u.info.state = f->state;
		break;
	case API_OP_GET_MACHINE_CONFIG:
		res->u.machine = f->cfg.machine;
		break;
	case API_OP_GET_VM_CONFIG:
		if (api_fake_copy_config(&f->cfg, &res->u.vm_config))
			api_result_fail(res, -ENOMEM, "out of memory");
		break;
	case API_OP_PUT_BOOT_SOURCE:
		boot_source_free(&f->cfg.boot_source);
		f->cfg.boot_source = req->u.boot_source;
		f->cfg.boot_source.boot_args =
			req->u.boot_source.boot_args ? strdup(req->u.boot_source.boot_args) : NULL;
		f->cfg.has_boot_source = true;
		break;
	case API_OP_PUT_MACHINE_CONFIG:
		f->cfg.machine = req->u.machine;
		break;
	case API_OP_PATCH_MACHINE_CONFIG:
		if (machine_config_parse(req->u.machine_patch, true, &f->cfg.machine, err))
			api_result_fail(res, -EINVAL, "%s", err);
		break;
	case API_OP_PUT_LOGGER:
		f->last_logger = req->u.logger;
		break;
	case API_OP_PUT_METRICS:
		if (f->metrics_set) {
			api_result_fail(res, -EALREADY, "Metrics error: Reinitialization of metrics not allowed.");
			break;
		}
		f->metrics_set = true;
		f->last_metrics = req->u.metrics;
		break;
	case API_OP_INSTANCE_START:
		if (!f->cfg.has_boot_source) {
			api_result_fail(res, -EINVAL, "Start microvm error: no kernel");
			break;
		}
		if (f->fail_start) {
			api_result_fail(res, f->fail_start, "Start microvm error: fake failure");
			break;
		}
		f->state = API_VM_RUNNING;
		break;
	case API_OP_PUT_DRIVE:
		if (vm_config_drive_put(&f->cfg, &req->u.drive, "drives", err))
			api_result_fail(res, -EINVAL, "Drive config error: %s", err);
		break;
	case API_OP_PATCH_DRIVE: {
		struct drive_config *d = vm_config_drive_find(&f->cfg, req->u.drive_patch.drive_id);

		if (!d)
			api_result_fail(res, -ENOENT, "Drive config error: no drive '%s'",
					req->u.drive_patch.drive_id);
		else if (req->u.drive_patch.path_on_host[0])
			strcpy(d->path_on_host, req->u.drive_patch.path_on_host);
		break;
	}
	case API_OP_PUT_NET:
		if (vm_config_net_put(&f->cfg, &req->u.net, "network-interfaces", err))
			api_result_fail(res, -EINVAL, "Network interface config error: %s", err);
		break;
	case API_OP_PATCH_NET:
		if (!vm_config_net_find(&f->cfg, req->u.net_patch.iface_id))
			api_result_fail(res, -ENOENT, "Network interface update error: no interface '%s'",
					req->u.net_patch.iface_id);
		break;
	case API_OP_PUT_VSOCK:
		f->cfg.vsock = req->u.vsock;
		break;
	case API_OP_PUT_ENTROPY:
		f->cfg.entropy = req->u.entropy;
		break;
	case API_OP_PUT_BALLOON:
		f->cfg.balloon = req->u.balloon;
		break;
	case API_OP_PATCH_BALLOON:
	case API_OP_PATCH_BALLOON_STATS:
		if (!f->cfg.balloon.present)
			api_result_fail(res, -ENODEV, "Balloon update error: not configured");
		else if (req->u.balloon_patch.has_amount)
			f->cfg.balloon.amount_mib = req->u.balloon_patch.amount_mib;
		else
			f->cfg.balloon.stats_polling_interval_s = req->u.balloon_patch.stats_polling_interval_s;
		break;
	case API_OP_GET_BALLOON:
		if (!f->cfg.balloon.present)
			api_result_fail(res, -ENODEV, "Balloon error: not configured");
		else
			res->u.balloon = f->cfg.balloon;
		break;
	case API_OP_GET_BALLOON_STATS:
		if (!f->cfg.balloon.present || f->state == API_VM_NOT_STARTED)
			api_result_fail(res, -ENODEV, "Balloon error: no statistics");
		else
			res->u.balloon_stats.target_pages = f->cfg.balloon.amount_mib * 256;
		break;
	case API_OP_PAUSE:
		f->state = API_VM_PAUSED;
		break;
	case API_OP_RESUME:
		f->state = API_VM_RUNNING;
		break;
	default:
		break;
	}
}

const struct api_backend_ops api_fake_ops = { .handle = api_fake_handle };
