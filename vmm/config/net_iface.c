/*
 * "network-interfaces": the config-file array elements, PUT and PATCH
 * /network-interfaces/{id}, and the list rules (replace by id; host device
 * names and MACs unique).  Shapes only: the VMM opens the TAP.
 */
#include "vmm/config/json_fields.h"
#include "vmm/config/vm_config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const net_fields[] = {
	"iface_id", "host_dev_name", "guest_mac", "rx_rate_limiter", "tx_rate_limiter", "mtu", NULL,
};
static const char *const net_patch_fields[] = { "iface_id", "rx_rate_limiter", "tx_rate_limiter", NULL };

static int net_get_id(const cJSON *obj, const char *section, char out[CONFIG_ID_MAX + 1],
		      char err[CONFIG_ERR_MAX])
{
	char q[JSON_QUOTE_MAX];
	const char *s;
	int r = json_get_string(obj, "iface_id", section, true, CONFIG_ID_MAX, &s, err);

	if (r < 0)
		return r;
	if (config_id_check(s, strlen(s))) {
		json_field_err(err, section, "iface_id",
			       "must be 1 to %d of A-Z, a-z, 0-9 and '_'; got \"%s\"", CONFIG_ID_MAX,
			       json_quote(q, s));
		return -EINVAL;
	}
	strcpy(out, s);
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "xx:xx:xx:xx:xx:xx", exactly. */
static int mac_parse(const char *s, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++) {
		int hi = hexval(s[3 * i]), lo = hi < 0 ? -1 : hexval(s[3 * i + 1]);

		if (lo < 0 || s[3 * i + 2] != (i == 5 ? '\0' : ':'))
			return -EINVAL;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* A TAP name goes to TUNSETIFF: 1..15 bytes, no '/', whitespace or ':'
 * (what the kernel's dev_valid_name refuses), and not "." or "..". */
static int ifname_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > CONFIG_IFNAME_MAX || !strcmp(s, ".") || !strcmp(s, ".."))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '/' || s[i] == ':' || s[i] <= ' ' || s[i] == 0x7f)
			return 0;
	return 1;
}

int net_iface_config_parse(const void *json, const char *section, struct net_iface_config *out,
			   char err[CONFIG_ERR_MAX])
{
	const cJSON *obj = json;
	struct net_iface_config n;
	char q[JSON_QUOTE_MAX];
	const char *s;
	uint64_t v;
	int r;

	memset(&n, 0, sizeof(n));
	r = json_check_fields(obj, net_fields, section, err);
	if (r)
		return r;
	r = net_get_id(obj, section, n.iface_id, err);
	if (r)
		return r;
	r = json_get_string(obj, "host_dev_name", section, true, 255, &s, err);
	if (r < 0)
		return r;
	if (!ifname_ok(s)) {
		json_field_err(err, section, "host_dev_name",
			       "must be a network interface name (1 to %d bytes, no '/', ':' or spaces); got \"%s\"",
			       CONFIG_IFNAME_MAX, json_quote(q, s));
		return -EINVAL;
	}
	strcpy(n.host_dev_name, s);
	r = json_get_string(obj, "guest_mac", section, false, 17, &s, err);
	if (r < 0)
		return r;
	if (r == 1) {
		if (mac_parse(s, n.guest_mac)) {
			json_field_err(err, section, "guest_mac",
				       "must be a MAC address like \"06:00:ac:10:00:02\"; got \"%s\"",
				       json_quote(q, s));
			return -EINVAL;
		}
		if (n.guest_mac[0] & 1) {
			json_field_err(err, section, "guest_mac", "must be a unicast address; got \"%s\"",
				       json_quote(q, s));
			return -EINVAL;
		}
		n.has_guest_mac = true;
	}
	r = json_get_u64(obj, "mtu", section, false, CONFIG_NET_MTU_MIN, CONFIG_NET_MTU_MAX, &v, err);
	if (r < 0)
		return r;
	n.mtu = r == 1 ? (unsigned int)v : 0;
	r = rate_limiter_parse(cJSON_GetObjectItemCaseSensitive(obj, "rx_rate_limiter"), section,
			       "rx_rate_limiter", &n.rx_rate_limiter, err) ?:
	    rate_limiter_parse(cJSON_GetObjectItemCaseSensitive(obj, "tx_rate_limiter"), section,
			       "tx_rate_limiter", &n.tx_rate_limiter, err);
	if (r)
		return r;
	*out = n;
	return 0;
}

int net_iface_patch_parse(const void *json, const char *section, struct net_iface_patch *out,
			  char err[CONFIG_ERR_MAX])
{
	const cJSON *obj = json, *rx, *tx;
	struct net_iface_patch p;
	int r;

	memset(&p, 0, sizeof(p));
	r = json_check_fields(obj, net_patch_fields, section, err);
	if (r)
		return r;
	r = net_get_id(obj, section, p.iface_id, err);
	if (r)
		return r;
	rx = cJSON_GetObjectItemCaseSensitive(obj, "rx_rate_limiter");
	tx = cJSON_GetObjectItemCaseSensitive(obj, "tx_rate_limiter");
	r = rate_limiter_parse(rx, section, "rx_rate_limiter", &p.rx_rate_limiter, err) ?:
	    rate_limiter_parse(tx, section, "tx_rate_limiter", &p.tx_rate_limiter, err);
	if (r)
		return r;
	p.has_rx = rx != NULL;
	p.has_tx = tx != NULL;
	*out = p;
	return 0;
}

struct net_iface_config *vm_config_net_find(struct vm_config *cfg, const char *iface_id)
{
	for (unsigned int i = 0; i < cfg->nr_net; i++)
		if (!strcmp(cfg->net[i].iface_id, iface_id))
			return &cfg->net[i];
	return NULL;
}

int vm_config_net_put(struct vm_config *cfg, const struct net_iface_config *n, const char *section,
		      char err[CONFIG_ERR_MAX])
{
	struct net_iface_config *slot = vm_config_net_find(cfg, n->iface_id);

	for (unsigned int i = 0; i < cfg->nr_net; i++) {
		const struct net_iface_config *o = &cfg->net[i];

		if (o == slot)
			continue;
		if (!strcmp(o->host_dev_name, n->host_dev_name)) {
			json_field_err(err, section, "host_dev_name",
				       "\"%s\" is already used by network interface \"%s\"",
				       n->host_dev_name, o->iface_id);
			return -EINVAL;
		}
		if (n->has_guest_mac && o->has_guest_mac && !memcmp(o->guest_mac, n->guest_mac, 6)) {
			json_field_err(err, section, "guest_mac",
				       "is already used by network interface \"%s\"", o->iface_id);
			return -EINVAL;
		}
	}
	if (!slot) {
		if (cfg->nr_net >= CONFIG_MAX_NET_IFACES) {
			json_field_err(err, section, NULL, "too many network interfaces (at most %d)",
				       CONFIG_MAX_NET_IFACES);
			return -EINVAL;
		}
		slot = &cfg->net[cfg->nr_net++];
	}
	*slot = *n;
	return 0;
}
