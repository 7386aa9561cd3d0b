/*
 * API requests for the devices beyond block: PUT /network-interfaces, /vsock,
 * /entropy, /balloon before boot (stored in the config InstanceStart builds
 * from) and the calls that reach a running device (PATCH /network-interfaces
 * rate limiters, the balloon's target and statistics).
 */
#include "vmm/core/vmm_api_devices.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "vmm/core/vm_devices.h"
#include "vmm/log/log.h"

static void vmm_api_put_net(struct vmm *vmm, const struct net_iface_config *n, struct api_result *res)
{
	char err[VM_ERR_MAX];
	int r = vm_net_check(n, err);

	if (!r)
		r = vm_config_net_put(&vmm->cfg, n, "network-interfaces", err);
	if (r)
		api_result_fail(res, r, "Network interface config error: %s", err);
}

static void vmm_api_patch_net(struct vmm *vmm, const struct net_iface_patch *p, struct api_result *res)
{
	struct net_iface_config *n = vm_config_net_find(&vmm->cfg, p->iface_id);
	char err[VM_ERR_MAX];
	int r;

	if (!n) {
		api_result_fail(res, -ENOENT, "Network interface update error: no network interface '%s' in this VM",
				p->iface_id);
		return;
	}
	r = vm_net_update(&vmm->vm, p, err);
	if (r) {
		api_result_fail(res, r, "Network interface update error: %s", err);
		return;
	}
	if (p->has_rx)
		n->rx_rate_limiter = p->rx_rate_limiter;
	if (p->has_tx)
		n->tx_rate_limiter = p->tx_rate_limiter;
}

/* Firecracker binds uds_path when the device is created and fails if the
 * path exists; the check is done now so the error comes with this request. */
static void vmm_api_put_vsock(struct vmm *vmm, const struct vsock_config *v, struct api_result *res)
{
	struct stat st;

	if (!lstat(v->uds_path, &st)) {
		api_result_fail(res, -EEXIST, "Vsock config error: vsock.uds_path: %s: already exists",
				v->uds_path);
		return;
	}
	vmm->cfg.vsock = *v;
}

static void vmm_api_put_balloon(struct vmm *vmm, const struct balloon_config *b, struct api_result *res)
{
	if (b->amount_mib > vmm->cfg.machine.mem_size_mib) {
		api_result_fail(res, -EINVAL,
				"Balloon config error: amount_mib (%llu) is larger than the VM's memory (%llu MiB)",
				(unsigned long long)b->amount_mib,
				(unsigned long long)vmm->cfg.machine.mem_size_mib);
		return;
	}
	vmm->cfg.balloon = *b;
}

static void vmm_api_patch_balloon(struct vmm *vmm, const struct balloon_patch *p, bool stats,
				  struct api_result *res)
{
	struct balloon_config *b = &vmm->cfg.balloon;
	char err[VM_ERR_MAX];
	int r;

	if (!b->present) {
		api_result_fail(res, -ENODEV, "Balloon update error: the balloon device is not configured");
		return;
	}
	if (p->has_amount && p->amount_mib > vmm->cfg.machine.mem_size_mib) {
		api_result_fail(res, -EINVAL,
				"Balloon update error: amount_mib (%llu) is larger than the VM's memory (%llu MiB)",
				(unsigned long long)p->amount_mib,
				(unsigned long long)vmm->cfg.machine.mem_size_mib);
		return;
	}
	if (vmm->state != API_VM_NOT_STARTED) {
		/* Turning statistics on or off needs the stats queue the guest
		 * negotiated at boot: Firecracker refuses it too. */
		if (stats && (!b->stats_polling_interval_s) != (!p->stats_polling_interval_s)) {
			api_result_fail(res, -EINVAL, "Balloon update error: statistics polling cannot be %s after boot",
					p->stats_polling_interval_s ? "enabled" : "disabled");
			return;
		}
		r = vm_balloon_update(&vmm->vm, p, err);
		if (r) {
			api_result_fail(res, r, "Balloon update error: %s", err);
			return;
		}
	}
	if (p->has_amount)
		b->amount_mib = p->amount_mib;
	if (p->has_stats_interval)
		b->stats_polling_interval_s = p->stats_polling_interval_s;
}

static void vmm_api_balloon_stats(struct vmm *vmm, struct api_result *res)
{
	char err[VM_ERR_MAX];
	int r;

	if (!vmm->cfg.balloon.present) {
		api_result_fail(res, -ENODEV, "Balloon error: the balloon device is not configured");
		return;
	}
	if (!vmm->cfg.balloon.stats_polling_interval_s) {
		api_result_fail(res, -EINVAL, "Balloon error: statistics are not enabled (stats_polling_interval_s is 0)");
		return;
	}
	if (vmm->state == API_VM_NOT_STARTED) {
		api_result_fail(res, -EAGAIN, "%s", API_MSG_POST_BOOT_ONLY);
		return;
	}
	r = vm_balloon_stats(&vmm->vm, &res->u.balloon_stats, err);
	if (r)
		api_result_fail(res, r, "Balloon error: %s", err);
}

bool vmm_api_device_handle(struct vmm *vmm, const struct api_request *req, struct api_result *res)
{
	switch (req->op) {
	case API_OP_PUT_NET:
		vmm_api_put_net(vmm, &req->u.net, res);
		return true;
	case API_OP_PATCH_NET:
		vmm_api_patch_net(vmm, &req->u.net_patch, res);
		return true;
	case API_OP_PUT_VSOCK:
		vmm_api_put_vsock(vmm, &req->u.vsock, res);
		return true;
	case API_OP_PUT_ENTROPY:
		vmm->cfg.entropy = req->u.entropy;
		return true;
	case API_OP_PUT_BALLOON:
		vmm_api_put_balloon(vmm, &req->u.balloon, res);
		return true;
	case API_OP_PATCH_BALLOON:
		vmm_api_patch_balloon(vmm, &req->u.balloon_patch, false, res);
		return true;
	case API_OP_PATCH_BALLOON_STATS:
		vmm_api_patch_balloon(vmm, &req->u.balloon_patch, true, res);
		return true;
	case API_OP_GET_BALLOON:
		if (!vmm->cfg.balloon.present)
			api_result_fail(res, -ENODEV, "Balloon error: the balloon device is not configured");
		else
			res->u.balloon = vmm->cfg.balloon;
		return true;
	case API_OP_GET_BALLOON_STATS:
		vmm_api_balloon_stats(vmm, res);
		return true;
	default:
		return false;
	}
}
