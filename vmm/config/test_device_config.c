/* Unit tests for the device sections beyond drives (network-interfaces,
 * vsock, balloon, entropy, rate limiters) and the logger/metrics sections, in
 * API bodies and in the config-file document. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmm/config/json_fields.h"
#include "vmm/config/vm_config.h"

typedef int (*parse_fn)(const void *json, const char *section, void *out, char err[CONFIG_ERR_MAX]);

static int run(parse_fn fn, const char *text, void *out, char err[CONFIG_ERR_MAX])
{
	cJSON *doc;
	int r;

	cr_assert_eq(json_doc_parse(text, strlen(text), &doc, err), 0, "%s: %s", text, err);
	r = fn(doc, "sec", out, err);
	cJSON_Delete(doc);
	return r;
}

/* Refused with want in the message, and out untouched. */
static void refused(parse_fn fn, size_t size, const char *text, const char *want)
{
	char err[CONFIG_ERR_MAX] = "";
	unsigned char out[16384];

	cr_assert(size <= sizeof(out));
	memset(out, 0x5a, size);
	cr_assert_eq(run(fn, text, out, err), -EINVAL, "accepted %s", text);
	cr_assert(strstr(err, want), "'%s': error '%s' lacks '%s'", text, err, want);
	for (size_t i = 0; i < size; i++)
		cr_assert_eq(out[i], 0x5a, "%s: output changed on error", text);
}

#define NET ((parse_fn)net_iface_config_parse)
#define NETP ((parse_fn)net_iface_patch_parse)
#define VSOCK ((parse_fn)vsock_config_parse)
#define BALLOON ((parse_fn)balloon_config_parse)
#define ENTROPY ((parse_fn)entropy_config_parse)
#define LOGGER ((parse_fn)logger_config_parse)
#define METRICS ((parse_fn)metrics_config_parse)

Test(net, full_and_minimal)
{
	struct net_iface_config n;
	char err[CONFIG_ERR_MAX];

	cr_assert_eq(run(NET, "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\"}", &n, err), 0, "%s", err);
	cr_assert_str_eq(n.iface_id, "eth0");
	cr_assert_str_eq(n.host_dev_name, "tap0");
	cr_assert_not(n.has_guest_mac);
	cr_assert_eq(n.mtu, 0);
	cr_assert_eq(run(NET, "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"guest_mac\": \"06:00:AC:10:00:02\","
			      " \"mtu\": 9000, \"rx_rate_limiter\": {\"bandwidth\": {\"size\": 100, \"refill_time\": 10}},"
			      " \"tx_rate_limiter\": null}", &n, err), 0, "%s", err);
	cr_assert(n.has_guest_mac);
	cr_assert_eq(n.guest_mac[0], 0x06);
	cr_assert_eq(n.guest_mac[2], 0xac);
	cr_assert_eq(n.guest_mac[5], 0x02);
	cr_assert_eq(n.mtu, 9000);
	cr_assert_eq(n.rx_rate_limiter.bandwidth.size, 100);
	cr_assert_eq(n.tx_rate_limiter.bandwidth.size, 0);
}

Test(net, refused)
{
	size_t z = sizeof(struct net_iface_config);

	refused(NET, z, "{\"host_dev_name\": \"tap0\"}", "sec.iface_id: missing required field");
	refused(NET, z, "{\"iface_id\": \"eth-0\", \"host_dev_name\": \"tap0\"}", "sec.iface_id: must be 1 to 64");
	refused(NET, z, "{\"iface_id\": \"e\"}", "sec.host_dev_name: missing required field");
	refused(NET, z, "{\"iface_id\": \"e\", \"host_dev_name\": \"\"}", "sec.host_dev_name: must be a network interface name");
	refused(NET, z, "{\"iface_id\": \"e\", \"host_dev_name\": \"a/b\"}", "sec.host_dev_name");
	refused(NET, z, "{\"iface_id\": \"e\", \"host_dev_name\": \"tap 0\"}", "sec.host_dev_name");
	refused(NET, z, "{\"iface_id\": \"e\", \"host_dev_name\": \"..\"}", "sec.host_dev_name");
	refused(NET, z, "{\"iface_id\": \"e\", \"host_dev_name\": \"0123456789abcdef\"}", "sec.host_dev_name");
	refused(NET, z, "{\"iface_id\": \"e\", \"host_dev_name\": \"t\", \"guest_mac\": \"06:00:ac:10:00\"}", "sec.guest_mac: must be a MAC");
	refused(NET, z, "{\"iface_id\": \"e\", \"host_dev_name\": \"t\", \"guest_mac\": \"06:00:ac:10:00:0g\"}", "sec.guest_mac");
	refused(NET, z, "{\"iface_id\": \"e\", \"host_dev_name\": \"t\", \"guest_mac\": \"06-00-ac-10-00-02\"}", "sec.guest_mac");
	refused(NET, z, "{\"iface_id\": \"e\", \"host_dev_name\": \"t\", \"guest_mac\": \"01:00:5e:00:00:01\"}", "sec.guest_mac: must be a unicast");
	refused(NET, z, "{\"iface_id\": \"e\", \"host_dev_name\": \"t\", \"mtu\": 67}", "sec.mtu");
	refused(NET, z, "{\"iface_id\": \"e\", \"host_dev_name\": \"t\", \"mtu\": 65536}", "sec.mtu");
	refused(NET, z, "{\"iface_id\": \"e\", \"host_dev_name\": \"t\", \"rx_rate_limiter\": 5}", "sec.rx_rate_limiter: expected an object");
	refused(NET, z, "{\"iface_id\": \"e\", \"host_dev_name\": \"t\", \"allow_mmds_requests\": true}", "sec: unknown field");
}

Test(net, patch)
{
	struct net_iface_patch p;
	char err[CONFIG_ERR_MAX];

	cr_assert_eq(run(NETP, "{\"iface_id\": \"e\", \"tx_rate_limiter\": {\"ops\": {\"size\": 9, \"refill_time\": 1}}}",
			 &p, err), 0, "%s", err);
	cr_assert_not(p.has_rx);
	cr_assert(p.has_tx);
	cr_assert_eq(p.tx_rate_limiter.ops.size, 9);
	refused(NETP, sizeof(p), "{\"iface_id\": \"e\", \"host_dev_name\": \"t\"}", "sec: unknown field 'host_dev_name'");
}

Test(net, list_rules)
{
	struct vm_config cfg;
	struct net_iface_config a = { .iface_id = "a", .host_dev_name = "tap0", .has_guest_mac = true,
				      .guest_mac = { 6, 0, 0, 0, 0, 1 } };
	struct net_iface_config b = { .iface_id = "b", .host_dev_name = "tap1" };
	char err[CONFIG_ERR_MAX];

	vm_config_init(&cfg);
	cr_assert_eq(vm_config_net_put(&cfg, &a, "n", err), 0, "%s", err);
	cr_assert_eq(vm_config_net_put(&cfg, &b, "n", err), 0, "%s", err);
	b.host_dev_name[3] = '0';
	cr_assert_eq(vm_config_net_put(&cfg, &b, "n", err), -EINVAL);
	cr_assert(strstr(err, "already used by network interface \"a\""), "%s", err);
	strcpy(b.host_dev_name, "tap2");
	b.has_guest_mac = true;
	memcpy(b.guest_mac, a.guest_mac, 6);
	cr_assert_eq(vm_config_net_put(&cfg, &b, "n", err), -EINVAL);
	cr_assert(strstr(err, "guest_mac"), "%s", err);
	/* Replacing an interface by id may keep its own name and MAC. */
	strcpy(a.host_dev_name, "tap0");
	cr_assert_eq(vm_config_net_put(&cfg, &a, "n", err), 0, "%s", err);
	cr_assert_eq(cfg.nr_net, 2);
	cr_assert_not_null(vm_config_net_find(&cfg, "b"));
	cr_assert_null(vm_config_net_find(&cfg, "c"));
	for (unsigned int i = 2; i < CONFIG_MAX_NET_IFACES; i++) {
		struct net_iface_config n = { 0 };

		snprintf(n.iface_id, sizeof(n.iface_id), "i%u", i);
		snprintf(n.host_dev_name, sizeof(n.host_dev_name), "t%u", i);
		cr_assert_eq(vm_config_net_put(&cfg, &n, "n", err), 0, "%s", err);
	}
	strcpy(b.iface_id, "over");
	strcpy(b.host_dev_name, "over");
	b.has_guest_mac = false;
	cr_assert_eq(vm_config_net_put(&cfg, &b, "n", err), -EINVAL);
	cr_assert(strstr(err, "too many network interfaces"), "%s", err);
}

Test(vsock, parse)
{
	struct vsock_config v;
	char err[CONFIG_ERR_MAX];
	size_t z = sizeof(v);

	cr_assert_eq(run(VSOCK, "{\"guest_cid\": 3, \"uds_path\": \"/tmp/v.sock\"}", &v, err), 0, "%s", err);
	cr_assert(v.present);
	cr_assert_eq(v.guest_cid, 3);
	cr_assert_str_eq(v.uds_path, "/tmp/v.sock");
	cr_assert_eq(run(VSOCK, "{\"vsock_id\": \"v1\", \"guest_cid\": 4294967295, \"uds_path\": \"v\"}", &v, err), 0, "%s", err);
	cr_assert_eq(v.guest_cid, UINT32_MAX);
	refused(VSOCK, z, "{\"guest_cid\": 2, \"uds_path\": \"/v\"}", "sec.guest_cid: must be between 3 and");
	refused(VSOCK, z, "{\"guest_cid\": 4294967296, \"uds_path\": \"/v\"}", "sec.guest_cid");
	refused(VSOCK, z, "{\"guest_cid\": 3}", "sec.uds_path: missing required field");
	refused(VSOCK, z, "{\"guest_cid\": 3, \"uds_path\": \"\"}", "sec.uds_path: must not be empty");
	refused(VSOCK, z, "{\"guest_cid\": 3, \"uds_path\": \"/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
		"sec.uds_path");
	refused(VSOCK, z, "{\"guest_cid\": 3, \"uds_path\": \"/v\", \"vsock_id\": \"a-b\"}", "sec.vsock_id");
}

Test(balloon, parse_and_patch)
{
	struct balloon_config b;
	struct balloon_patch p;
	char err[CONFIG_ERR_MAX];

	cr_assert_eq(run(BALLOON, "{\"amount_mib\": 64, \"deflate_on_oom\": true, \"stats_polling_interval_s\": 1}", &b, err),
		     0, "%s", err);
	cr_assert(b.present && b.deflate_on_oom);
	cr_assert_eq(b.amount_mib, 64);
	cr_assert_eq(b.stats_polling_interval_s, 1);
	refused(BALLOON, sizeof(b), "{\"amount_mib\": 64}", "sec.deflate_on_oom: missing required field");
	refused(BALLOON, sizeof(b), "{\"deflate_on_oom\": false}", "sec.amount_mib: missing required field");
	refused(BALLOON, sizeof(b), "{\"amount_mib\": 16777216, \"deflate_on_oom\": false}", "sec.amount_mib");
	refused(BALLOON, sizeof(b), "{\"amount_mib\": 1, \"deflate_on_oom\": false, \"x\": 1}", "sec: unknown field");

	{
		cJSON *doc;

		cr_assert_eq(json_doc_parse("{\"amount_mib\": 8}", 17, &doc, err), 0);
		cr_assert_eq(balloon_patch_parse(doc, "balloon", false, &p, err), 0, "%s", err);
		cr_assert(p.has_amount && !p.has_stats_interval);
		cr_assert_eq(p.amount_mib, 8);
		cr_assert_eq(balloon_patch_parse(doc, "balloon", true, &p, err), -EINVAL);
		cr_assert(strstr(err, "unknown field 'amount_mib'"), "%s", err);
		cJSON_Delete(doc);
	}
}

Test(entropy_logger_metrics, parse)
{
	struct entropy_config e;
	struct logger_config l;
	struct metrics_config m;
	char err[CONFIG_ERR_MAX];

	cr_assert_eq(run(ENTROPY, "{}", &e, err), 0, "%s", err);
	cr_assert(e.present);
	cr_assert_eq(e.rate_limiter.bandwidth.size, 0);
	cr_assert_eq(run(ENTROPY, "{\"rate_limiter\": {\"bandwidth\": {\"size\": 1000, \"refill_time\": 100}}}", &e, err), 0);
	cr_assert_eq(e.rate_limiter.bandwidth.refill_time_ms, 100);
	refused(ENTROPY, sizeof(e), "{\"rate\": {}}", "sec: unknown field 'rate'");

	cr_assert_eq(run(LOGGER, "{\"log_path\": \"/tmp/l\", \"level\": \"Debug\", \"show_level\": true}", &l, err), 0, "%s", err);
	cr_assert_str_eq(l.log_path, "/tmp/l");
	cr_assert_geq(l.level, 0);
	cr_assert_eq(l.show_level, 1);
	cr_assert_eq(l.show_origin, -1);
	refused(LOGGER, sizeof(l), "{\"level\": \"Loud\"}", "sec.level: must be one of");
	refused(LOGGER, sizeof(l), "{\"module\": \"api\"}", "sec.module: not supported");
	cr_assert_eq(run(METRICS, "{\"metrics_path\": \"/tmp/m\"}", &m, err), 0, "%s", err);
	cr_assert_str_eq(m.metrics_path, "/tmp/m");
	refused(METRICS, sizeof(m), "{}", "sec.metrics_path: missing required field");
}

Test(config_file, device_sections)
{
	static const char doc[] =
		"{\"boot-source\": {\"kernel_image_path\": \"/k\"},"
		" \"network-interfaces\": [{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\"},"
		"                          {\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\"}],"
		" \"vsock\": {\"guest_cid\": 3, \"uds_path\": \"/tmp/v\"},"
		" \"balloon\": {\"amount_mib\": 0, \"deflate_on_oom\": false},"
		" \"entropy\": {},"
		" \"logger\": {\"log_path\": \"/tmp/log\", \"level\": \"Info\"},"
		" \"metrics\": {\"metrics_path\": \"/tmp/met\"}}";
	struct vm_config cfg;
	char err[CONFIG_ERR_MAX];

	cr_assert_eq(vm_config_parse(doc, strlen(doc), &cfg, err), 0, "%s", err);
	cr_assert_eq(cfg.nr_net, 2);
	cr_assert_str_eq(cfg.net[1].host_dev_name, "tap1");
	cr_assert(cfg.vsock.present && cfg.balloon.present && cfg.entropy.present);
	cr_assert(cfg.has_logger && cfg.has_metrics);
	cr_assert_str_eq(cfg.metrics.metrics_path, "/tmp/met");
	vm_config_free(&cfg);

	static const char dup[] =
		"{\"boot-source\": {\"kernel_image_path\": \"/k\"},"
		" \"network-interfaces\": [{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\"},"
		"                          {\"iface_id\": \"eth1\", \"host_dev_name\": \"tap0\"}]}";
	cr_assert_eq(vm_config_parse(dup, strlen(dup), &cfg, err), -EINVAL);
	cr_assert(strstr(err, "network-interfaces[1].host_dev_name"), "%s", err);
	vm_config_free(&cfg);
}
