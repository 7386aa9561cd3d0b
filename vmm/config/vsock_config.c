/* "vsock": the config-file section and the PUT /vsock body.  The VMM binds
 * uds_path when it builds the device. */
#include "vmm/config/json_fields.h"
#include "vmm/config/vm_config.h"

#include <errno.h>
#include <string.h>
#include <sys/un.h>

static const char *const vsock_fields[] = { "vsock_id", "guest_cid", "uds_path", NULL };

int vsock_config_parse(const void *json, const char *section, struct vsock_config *out,
		       char err[CONFIG_ERR_MAX])
{
	const cJSON *obj = json;
	struct vsock_config v;
	/* uds_path and uds_path_<port> must fit sun_path with its NUL. */
	const size_t uds_max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1 - 11;
	char q[JSON_QUOTE_MAX];
	const char *s;
	uint64_t cid;
	int r;

	memset(&v, 0, sizeof(v));
	r = json_check_fields(obj, vsock_fields, section, err);
	if (r)
		return r;
	r = json_get_string(obj, "vsock_id", section, false, CONFIG_ID_MAX, &s, err);
	if (r < 0)
		return r;
	if (r == 1) {
		if (config_id_check(s, strlen(s))) {
			json_field_err(err, section, "vsock_id",
				       "must be 1 to %d of A-Z, a-z, 0-9 and '_'; got \"%s\"",
				       CONFIG_ID_MAX, json_quote(q, s));
			return -EINVAL;
		}
		strcpy(v.vsock_id, s);
	}
	r = json_get_u64(obj, "guest_cid", section, true, CONFIG_VSOCK_MIN_CID, UINT32_MAX, &cid, err);
	if (r < 0)
		return r;
	v.guest_cid = (uint32_t)cid;
	r = json_get_string(obj, "uds_path", section, true, uds_max, &s, err);
	if (r < 0)
		return r;
	if (!*s) {
		json_field_err(err, section, "uds_path", "must not be empty");
		return -EINVAL;
	}
	strcpy(v.uds_path, s);
	v.present = true;
	*out = v;
	return 0;
}
