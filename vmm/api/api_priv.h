/*
 * Inside api_dispatch: the route table, the body parsers and the reply
 * builders.  Seen only by vmm/api and its tests.
 */
#ifndef KILN_API_PRIV_H
#define KILN_API_PRIV_H

#include <cjson/cJSON.h>

#include "vmm/api/api.h"
#include "vmm/config/json_fields.h"

/* Firecracker's fault messages for requests refused before any parsing. */
#define API_MSG_GET_BODY "GET request cannot have a body."
#define API_MSG_EMPTY_PUT "Empty PUT request."
#define API_MSG_EMPTY_PATCH "Empty PATCH request."
#define API_MSG_EMPTY_ID "The ID cannot be empty."
#define API_MSG_BAD_ID "API Resource IDs can only contain alphanumeric characters and underscores."
#define API_MSG_ID_MISMATCH "The id from the path does not match the id from the body!"
#define API_MSG_BAD_JSON "An error occurred when deserializing the json body of a request"
#define API_MSG_NOT_SUPPORTED "not supported by this kiln build yet"

/* Turns a parsed body into a request.  *doc may be taken (set to NULL) when the
 * request keeps the tree.  0, or -EINVAL/-ENOMEM with a message in err. */
typedef int (*api_parse_fn)(cJSON **doc, struct api_request *req, char err[JSON_ERR_MAX]);

/* One method on one route: a fixed op (no body), or a parser. */
struct api_handler {
	enum api_op op;
	api_parse_fn parse;
};

/* A path kiln serves: "/<seg>", "/<seg>/<sub>", or "/<seg>/<id>" when id_field
 * is set (the id must be a valid resource id and equal the body's id_field,
 * both checked before the parser runs). */
struct api_route {
	const char *seg;
	const char *sub;      /* NULL: no fixed second segment */
	enum api_resource res;
	struct api_handler h[API_METHOD_NR];
	const char *id_field; /* "/<seg>/<id>" routes: the body field that repeats the id */
	const char *section;  /* with id_field: the name in messages ("drives") */
};

/* A Firecracker path this build refuses: "<section>: not supported ...". */
struct api_unsupported {
	const char *seg;
	const char *section;  /* name in the message (Firecracker's config-file key) */
	enum api_resource res;
	unsigned int methods; /* bit per enum api_method */
	const char *id_field; /* "/<seg>/<id>" routes: the body field that repeats the id */
};

/* A path split on '/', as Firecracker does: leading slashes dropped, a
 * trailing empty segment dropped.  At most API_PATH_SEGS are kept; n counts all. */
#define API_PATH_SEGS 3
struct api_path {
	struct { const char *p; size_t len; } seg[API_PATH_SEGS];
	unsigned int n;
};

void api_path_split(const char *path, struct api_path *out);
bool api_seg_is(const struct api_path *path, unsigned int i, const char *s);

/* The route for path, or NULL; ignores the method. */
const struct api_route *api_route_find(const struct api_path *path);
const struct api_unsupported *api_unsupported_find(const struct api_path *path);
/* Whether any route takes method on res (for the metrics listing). */
bool api_route_has(enum api_method method, enum api_resource res);
/* The metric name of a resource ("boot_source", "machine_cfg", ...). */
const char *api_resource_metric_name(enum api_resource res);

/* Resource ids: 1+ of [A-Za-z0-9_].  0, or fails with Firecracker's message. */
int api_id_check(const char *id, size_t len, char err[JSON_ERR_MAX]) __must_check;

/* The id segment of a "/<seg>/<id>" path, before the body is parsed: present
 * and valid.  0, or -EINVAL with Firecracker's message in err. */
int api_path_id_check(const struct api_path *path, char err[JSON_ERR_MAX]) __must_check;

/* After parsing: doc is an object whose id_field equals the path's id. */
int api_body_id_check(const cJSON *doc, const struct api_path *path, const char *id_field,
		      const char *section, char err[JSON_ERR_MAX]) __must_check;

/* Body parsers (api_parse.c). */
int api_parse_boot_source(cJSON **doc, struct api_request *req, char err[JSON_ERR_MAX]);
int api_parse_machine_put(cJSON **doc, struct api_request *req, char err[JSON_ERR_MAX]);
int api_parse_machine_patch(cJSON **doc, struct api_request *req, char err[JSON_ERR_MAX]);
int api_parse_actions(cJSON **doc, struct api_request *req, char err[JSON_ERR_MAX]);
int api_parse_vm_state(cJSON **doc, struct api_request *req, char err[JSON_ERR_MAX]);
int api_parse_logger(cJSON **doc, struct api_request *req, char err[JSON_ERR_MAX]);
int api_parse_metrics(cJSON **doc, struct api_request *req, char err[JSON_ERR_MAX]);
int api_parse_drive_put(cJSON **doc, struct api_request *req, char err[JSON_ERR_MAX]);
int api_parse_drive_patch(cJSON **doc, struct api_request *req, char err[JSON_ERR_MAX]);
int api_parse_net_put(cJSON **doc, struct api_request *req, char err[JSON_ERR_MAX]);
int api_parse_net_patch(cJSON **doc, struct api_request *req, char err[JSON_ERR_MAX]);
int api_parse_vsock(cJSON **doc, struct api_request *req, char err[JSON_ERR_MAX]);
int api_parse_entropy(cJSON **doc, struct api_request *req, char err[JSON_ERR_MAX]);
int api_parse_balloon_put(cJSON **doc, struct api_request *req, char err[JSON_ERR_MAX]);
int api_parse_balloon_patch(cJSON **doc, struct api_request *req, char err[JSON_ERR_MAX]);
int api_parse_balloon_stats_patch(cJSON **doc, struct api_request *req, char err[JSON_ERR_MAX]);
int api_parse_snapshot_create(cJSON **doc, struct api_request *req, char err[JSON_ERR_MAX]);
int api_parse_snapshot_load(cJSON **doc, struct api_request *req, char err[JSON_ERR_MAX]);

/* Replies (api_reply.c). */
void api_reply_result(struct api_response *resp, const struct api_result *res);
cJSON *api_machine_config_json(const struct machine_config *mc);
cJSON *api_vm_config_json(const struct vm_config *cfg);
cJSON *api_drive_json(const struct drive_config *d);
/* api_device_json.c */
bool api_add_rate_limiter(cJSON *obj, const char *name, const struct ratelimit_config *rl);
cJSON *api_net_json(const struct net_iface_config *n);
cJSON *api_vsock_json(const struct vsock_config *v);
cJSON *api_balloon_json(const struct balloon_config *b);
cJSON *api_entropy_json(const struct entropy_config *e);
cJSON *api_balloon_stats_json(const struct api_balloon_stats *st);

#endif
