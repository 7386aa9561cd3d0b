/*
 * Configuration of the devices beyond block, and of the logger and metrics
 * sinks, as typed structs: the shapes of Firecracker's API bodies (swagger
 * firecracker.yaml), shared by --config-file and the API.  The parsers are in
 * vm_config.h with the others; this header only holds the types.
 *
 *   rate_limiter:        {bandwidth?: TokenBucket, ops?: TokenBucket};
 *                        TokenBucket {size, refill_time (ms), one_time_burst?}.
 *                        A bucket with size 0 or refill_time 0 is absent
 *                        (Firecracker's rule), so {} or null is unlimited.
 *   network-interfaces[]: iface_id, host_dev_name (required), guest_mac
 *                        ("xx:xx:xx:xx:xx:xx", unicast), rx_rate_limiter,
 *                        tx_rate_limiter; kiln also takes mtu (68..65535).
 *   vsock:               guest_cid (>= 3, u32), uds_path (required),
 *                        vsock_id (optional, deprecated by Firecracker).
 *   balloon:             amount_mib, deflate_on_oom (required),
 *                        stats_polling_interval_s (default 0: no stats),
 *                        free_page_reporting (default false).
 *   entropy:             rate_limiter.
 *   logger:              log_path, level, show_level, show_log_origin
 *                        (absent fields keep the current setting).
 *   metrics:             metrics_path (required).
 */
#ifndef KILN_DEVICE_CONFIG_H
#define KILN_DEVICE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/ratelimit/ratelimit.h"

#define CONFIG_PATH_MAX 4096
#define CONFIG_ID_MAX 64
#define CONFIG_MAX_NET_IFACES 8
#define CONFIG_IFNAME_MAX 15   /* IFNAMSIZ - 1 */
#define CONFIG_VSOCK_MIN_CID 3 /* 0-2 are reserved (hypervisor, local, host) */
#define CONFIG_NET_MTU_MIN 68
#define CONFIG_NET_MTU_MAX 65535
/* The balloon's target is a u32 count of 4 KiB pages in its config space;
 * Firecracker keeps the statistics interval in 16 bits. */
#define CONFIG_BALLOON_MAX_MIB ((UINT64_C(1) << 32) / 256 - 1)
#define CONFIG_BALLOON_MAX_INTERVAL_S 65535

struct net_iface_config {
	char iface_id[CONFIG_ID_MAX + 1];
	char host_dev_name[CONFIG_IFNAME_MAX + 1];
	bool has_guest_mac;
	uint8_t guest_mac[6];
	unsigned int mtu;                        /* 0 when absent */
	struct ratelimit_config rx_rate_limiter; /* zeroed: unlimited */
	struct ratelimit_config tx_rate_limiter;
};

/* PATCH /network-interfaces/{id}: the limiters given replace the old ones. */
struct net_iface_patch {
	char iface_id[CONFIG_ID_MAX + 1];
	bool has_rx, has_tx;
	struct ratelimit_config rx_rate_limiter, tx_rate_limiter;
};

struct vsock_config {
	bool present;
	char vsock_id[CONFIG_ID_MAX + 1]; /* "" when absent */
	uint32_t guest_cid;
	char uds_path[CONFIG_PATH_MAX];
};

struct balloon_config {
	bool present;
	uint64_t amount_mib;
	bool deflate_on_oom;
	uint64_t stats_polling_interval_s;
	bool free_page_reporting;
};

/* PATCH /balloon and PATCH /balloon/statistics. */
struct balloon_patch {
	bool has_amount, has_stats_interval;
	uint64_t amount_mib;
	uint64_t stats_polling_interval_s;
};

struct entropy_config {
	bool present;
	struct ratelimit_config rate_limiter;
};

/* Absent fields: "" / -1, meaning "keep the current setting". */
struct logger_config {
	char log_path[CONFIG_PATH_MAX];
	int level;       /* enum log_level, or -1 */
	int show_level;  /* 0, 1, or -1 */
	int show_origin; /* 0, 1, or -1 */
};

struct metrics_config {
	char metrics_path[CONFIG_PATH_MAX];
};

#endif
