/*
 * kiln's REST API, without sockets: Firecracker's paths, methods, bodies,
 * status codes and fault messages, turned into typed requests for the VMM and
 * typed results back into HTTP responses.
 *
 *   api_dispatch(d, method, path, body, len, &resp)
 *     1. routes method + path (unknown: 400 "Invalid request method and/or path"),
 *     2. parses and validates the body into a struct api_request (field-named
 *        400s; the same parsers as --config-file),
 *     3. hands the request to the VMM side through d->ops (the real server sends
 *        it over an api_channel to the VMM thread; tests use api_fake),
 *     4. turns the typed result into the response: 204 for a mutation, 200 and
 *        JSON for a GET, 400 and {"fault_message": "..."} for every error.
 * It touches no socket, file or global state, so unit tests and fuzz targets
 * can drive it directly.
 *
 * Which calls are legal before and after InstanceStart is a pure rule
 * (api_op_check_state) that the VMM side applies under its own state, since
 * only it knows the state at the moment the request runs.
 */
#ifndef KILN_API_H
#define KILN_API_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/compiler.h"
#include "vmm/config/vm_config.h"

struct cJSON;

/* Firecracker's default --http-api-max-payload-size. */
#define API_BODY_MAX 51200
#define API_FAULT_MAX 512
/* Instance ids (--id): Firecracker's rule, 1..64 of [A-Za-z0-9-]. */
#define API_ID_MAX 64
#define API_VERSION_MAX 32
#define API_APP_NAME "kiln"

enum api_method { API_METHOD_GET, API_METHOD_PUT, API_METHOD_PATCH, API_METHOD_NR };

/* What a request addressed, for metrics and logs. */
enum api_resource {
	API_RES_INSTANCE_INFO, /* GET / */
	API_RES_VERSION,
	API_RES_ACTIONS,
	API_RES_BOOT_SOURCE,
	API_RES_MACHINE_CONFIG,
	API_RES_VM,            /* PATCH /vm */
	API_RES_VM_CONFIG,     /* GET /vm/config */
	API_RES_LOGGER,
	API_RES_METRICS,
	API_RES_DRIVES,        /* PUT (pre-boot), PATCH (post-boot) /drives/{id} */
	/* Firecracker resources this build answers with "not supported". */
	API_RES_NETWORK_INTERFACES,
	API_RES_VSOCK,
	API_RES_BALLOON,
	API_RES_ENTROPY,
	API_RES_MMDS,
	API_RES_SNAPSHOT,
	API_RES_CPU_CONFIG,
	API_RES_SERIAL,
	API_RES_PMEM,
	API_RES_HOTPLUG,
	API_RES_OTHER,         /* no such path or method */
	API_RES_NR
};

/* What the VMM is asked to do. */
enum api_op {
	API_OP_NONE = 0,
	API_OP_GET_INSTANCE_INFO,
	API_OP_GET_VERSION,
	API_OP_GET_MACHINE_CONFIG,
	API_OP_GET_VM_CONFIG,
	API_OP_PUT_BOOT_SOURCE,
	API_OP_PUT_MACHINE_CONFIG,
	API_OP_PATCH_MACHINE_CONFIG,
	API_OP_PUT_LOGGER,
	API_OP_PUT_METRICS,
	API_OP_INSTANCE_START,
	API_OP_SEND_CTRL_ALT_DEL,
	API_OP_FLUSH_METRICS,
	API_OP_PAUSE,
	API_OP_RESUME,
	API_OP_PUT_DRIVE,
	API_OP_PATCH_DRIVE,
	API_OP_PUT_NET,
	API_OP_PATCH_NET,
	API_OP_PUT_VSOCK,
	API_OP_PUT_ENTROPY,
	API_OP_PUT_BALLOON,
	API_OP_PATCH_BALLOON,
	API_OP_PATCH_BALLOON_STATS,
	API_OP_GET_BALLOON,
	API_OP_GET_BALLOON_STATS,
	API_OP_SNAPSHOT_CREATE,
	API_OP_SNAPSHOT_LOAD,
	API_OP_NR
};

/* GET /'s "state". */
enum api_vm_state { API_VM_NOT_STARTED, API_VM_RUNNING, API_VM_PAUSED };

/* PUT /snapshot/create. */
enum api_snapshot_type { API_SNAPSHOT_FULL = 0, API_SNAPSHOT_DIFF };
struct api_snapshot_create {
	enum api_snapshot_type type;          /* snapshot_type, default Full */
	char snapshot_path[CONFIG_PATH_MAX];  /* the vmstate file */
	char mem_file_path[CONFIG_PATH_MAX];
};

/* PUT /snapshot/load.  mem_backend {backend_type, backend_path}, or the
 * deprecated mem_file_path (= a File backend); exactly one of them. */
enum api_mem_backend { API_MEM_BACKEND_FILE = 0, API_MEM_BACKEND_UFFD };
#define API_SNAPSHOT_MAX_NET_OVERRIDES 8
struct api_snapshot_load {
	char snapshot_path[CONFIG_PATH_MAX];
	enum api_mem_backend backend;
	char backend_path[CONFIG_PATH_MAX];
	bool track_dirty_pages;               /* or the deprecated enable_diff_snapshots */
	bool resume_vm;
	/* network_overrides [{iface_id, host_dev_name}] and vsock_override
	 * {uds_path}: checked against the snapshot's devices by the VMM. */
	unsigned int nr_net_overrides;
	struct {
		char iface_id[CONFIG_ID_MAX + 1];
		char host_dev_name[CONFIG_ID_MAX + 1];
	} net_overrides[API_SNAPSHOT_MAX_NET_OVERRIDES];
	bool has_vsock_override;
	char vsock_uds_path[CONFIG_PATH_MAX];
};

/* A validated request.  Paths named in it are not opened yet: the VMM does
 * that when it runs the request, so the error comes back with this request. */
struct api_request {
	enum api_op op;
	union {
		struct boot_source_config boot_source; /* PUT /boot-source; owns boot_args */
		struct machine_config machine;         /* PUT /machine-config, validated */
		/* PATCH /machine-config: the body object, checked against the default
		 * config; the VMM applies it to the current one with
		 * machine_config_parse(patch=true), which checks it as a whole. */
		struct cJSON *machine_patch;
		struct logger_config logger;           /* PUT /logger: absent fields keep the setting */
		struct metrics_config metrics;
		struct drive_config drive;             /* PUT /drives/{id}: id checked against the path */
		struct drive_patch drive_patch;        /* PATCH /drives/{id} */
		struct api_snapshot_create snapshot_create; /* PUT /snapshot/create */
		struct api_snapshot_load snapshot_load;     /* PUT /snapshot/load */
		struct net_iface_config net;           /* PUT /network-interfaces/{id} */
		struct net_iface_patch net_patch;      /* PATCH /network-interfaces/{id} */
		struct vsock_config vsock;             /* PUT /vsock */
		struct entropy_config entropy;         /* PUT /entropy */
		struct balloon_config balloon;         /* PUT /balloon */
		struct balloon_patch balloon_patch;    /* PATCH /balloon, /balloon/statistics */
	} u;
};

void api_request_free(struct api_request *req);

struct api_instance_info {
	char id[API_ID_MAX + 1];
	enum api_vm_state state;
	char vmm_version[API_VERSION_MAX];
};

/* The balloon's statistics tags (virtio 1.2, 5.5.6.3), in Firecracker's
 * GET /balloon/statistics names (api_reply.c). */
#define API_BALLOON_NR_STATS 16

/* GET /balloon/statistics: the targets and what the guest last reported. */
struct api_balloon_stats {
	uint64_t target_pages, actual_pages;
	uint32_t present;                  /* bit i: stat[i] was reported */
	uint64_t stat[API_BALLOON_NR_STATS];
};

/* The VMM's answer; err != 0 means a 400 with fault as the message. */
struct api_result {
	enum api_op op;   /* set by the caller before handle() */
	int err;          /* 0 or -errno */
	char fault[API_FAULT_MAX];
	union {
		struct api_instance_info info; /* GET / and GET /version */
		struct machine_config machine; /* GET /machine-config */
		struct vm_config vm_config;    /* GET /vm/config: a copy the result owns */
		struct balloon_config balloon; /* GET /balloon */
		struct api_balloon_stats balloon_stats; /* GET /balloon/statistics */
	} u;
};

/* Sets err and a printf-style fault message. */
void api_result_fail(struct api_result *res, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void api_result_free(struct api_result *res);

/* Firecracker's messages for calls made in the wrong VM state. */
#define API_MSG_PRE_BOOT_ONLY "The requested operation is not supported after starting the microVM."
#define API_MSG_POST_BOOT_ONLY "The requested operation is not supported before starting the microVM."

/* 0 when op may run in state; otherwise fails res with Firecracker's message. */
int api_op_check_state(enum api_op op, enum api_vm_state state, struct api_result *res) __must_check;

const char *api_vm_state_name(enum api_vm_state state);
const char *api_method_name(enum api_method method);

/* Request counters per method and resource, bumped by api_dispatch on the API
 * thread and read (and reset) by the VMM's metrics flush. */
struct api_counters {
	_Atomic uint64_t count[API_METHOD_NR][API_RES_NR];
	_Atomic uint64_t fails[API_METHOD_NR][API_RES_NR];
	_Atomic uint64_t bad_method; /* methods other than GET, PUT, PATCH */
};

/* Adds {"get_api_requests": {...}, "put_api_requests": {...},
 * "patch_api_requests": {...}} to obj, as deltas: the counters are reset.
 * Only method/resource pairs that have a route are listed.  0 or -ENOMEM. */
int api_counters_take_json(struct api_counters *c, struct cJSON *obj) __must_check;

/* The VMM side.  handle() runs req and fills res (res->op is set, the rest
 * zeroed); it runs on the API thread's behalf and may block until done. */
struct api_backend_ops {
	void (*handle)(void *opaque, const struct api_request *req, struct api_result *res);
};

struct api_dispatcher {
	const struct api_backend_ops *ops;
	void *opaque;
	struct api_counters *counters; /* NULL: not counted */
};

struct api_response {
	unsigned int status;            /* 200, 204 or 400 (500 only when out of memory) */
	char *body;                     /* NUL-terminated JSON, or NULL (204) */
	size_t len;
	enum api_resource resource;
};

/*
 * Serves one request.  method is the HTTP method as received, path the URL path
 * (no query), body/len the request body (len 0: no body; body need not be
 * NUL-terminated).  Always fills resp; free it with api_response_free.
 */
void api_dispatch(const struct api_dispatcher *d, const char *method, const char *path,
		  const char *body, size_t len, struct api_response *resp);
void api_response_free(struct api_response *resp);

/* A 400 response with fault as the message (used by the server for requests
 * that never reach api_dispatch, such as oversized bodies). */
void api_response_fault(struct api_response *resp, const char *fault);

/* The 400 message for a body over API_BODY_MAX; size 0 when unknown. */
void api_body_too_large_msg(char msg[API_FAULT_MAX], size_t size);

#endif
