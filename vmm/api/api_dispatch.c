/* api_dispatch: route, parse, run on the VMM side, reply; see api.h. */
#include "vmm/api/api_priv.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int api_method_parse(const char *method)
{
	for (int m = 0; m < API_METHOD_NR; m++)
		if (!strcmp(method, api_method_name((enum api_method)m)))
			return m;
	return -1;
}

/* "Invalid request method and/or path: PUT vm." (Firecracker's wording; the
 * path is shown without its leading slashes, and made printable). */
static void api_fault_bad_route(struct api_response *resp, const char *method, const char *path)
{
	char msg[API_FAULT_MAX], qm[JSON_QUOTE_MAX], qp[JSON_QUOTE_MAX];

	while (*path == '/')
		path++;
	snprintf(msg, sizeof(msg), "Invalid request method and/or path: %s %s.",
		 json_quote(qm, method), json_quote(qp, path));
	api_response_fault(resp, msg);
}

static void api_fault_err(struct api_response *resp, const char *err)
{
	api_response_fault(resp, err[0] ? err : "invalid request");
}

static int api_body_parse(const char *body, size_t len, cJSON **doc, char err[JSON_ERR_MAX])
{
	char perr[JSON_ERR_MAX];
	int r = json_doc_parse(body, len, doc, perr);

	if (r)
		snprintf(err, JSON_ERR_MAX, "%s: %s.", API_MSG_BAD_JSON, perr);
	return r;
}

/*
 * A resource this build lacks: the id rules still apply (so a client learns
 * about a bad id first, as with Firecracker), then "not supported".
 */
static void api_serve_unsupported(const struct api_unsupported *u, const struct api_path *path,
				  const char *body, size_t len, struct api_response *resp)
{
	char err[JSON_ERR_MAX];
	cJSON *doc = NULL;

	if (u->id_field && (api_path_id_check(path, err) || api_body_parse(body, len, &doc, err) ||
			    api_body_id_check(doc, path, u->id_field, u->section, err)))
		goto fail;
	json_field_err(err, u->section, NULL, "%s", API_MSG_NOT_SUPPORTED);
fail:
	cJSON_Delete(doc);
	api_fault_err(resp, err);
}

static void api_serve(const struct api_dispatcher *d, const struct api_route *route,
		      const struct api_handler *h, const struct api_path *path, const char *body,
		      size_t len, struct api_response *resp)
{
	struct api_request req = { .op = h->op };
	struct api_result res;
	char err[JSON_ERR_MAX] = "";
	cJSON *doc = NULL;

	if (route->id_field && api_path_id_check(path, err)) {
		api_fault_err(resp, err);
		return;
	}
	if (h->parse) {
		if (api_body_parse(body, len, &doc, err) ||
		    (route->id_field && api_body_id_check(doc, path, route->id_field, route->section, err)) ||
		    h->parse(&doc, &req, err)) {
			cJSON_Delete(doc);
			api_request_free(&req);
			api_fault_err(resp, err);
			return;
		}
		cJSON_Delete(doc);
	}
	memset(&res, 0, sizeof(res));
	res.op = req.op;
	d->ops->handle(d->opaque, &req, &res);
	res.op = req.op; /* whatever handle() did to it */
	api_reply_result(resp, &res);
	api_result_free(&res);
	api_request_free(&req);
}

/* Requests are counted when they arrive (so a FlushMetrics line includes the
 * flush itself, as Firecracker's does) and failures when answered. */
static void api_count_request(const struct api_dispatcher *d, int method, enum api_resource res)
{
	if (!d->counters)
		return;
	if (method < 0)
		atomic_fetch_add_explicit(&d->counters->bad_method, 1, memory_order_relaxed);
	else
		atomic_fetch_add_explicit(&d->counters->count[method][res], 1, memory_order_relaxed);
}

static void api_count_failure(const struct api_dispatcher *d, int method, enum api_resource res)
{
	if (d->counters && method >= 0)
		atomic_fetch_add_explicit(&d->counters->fails[method][res], 1, memory_order_relaxed);
}

void api_dispatch(const struct api_dispatcher *d, const char *method, const char *path,
		  const char *body, size_t len, struct api_response *resp)
{
	const struct api_unsupported *unsup = NULL;
	const struct api_route *route;
	struct api_path p;
	char msg[API_FAULT_MAX];
	int m = api_method_parse(method);

	memset(resp, 0, sizeof(*resp));
	api_path_split(path, &p);
	route = api_route_find(&p);
	if (!route)
		unsup = api_unsupported_find(&p);
	if (m >= 0 && route && (route->h[m].op || route->h[m].parse))
		resp->resource = route->res; /* id routes: api_route_find took at most 2 segments */
	else if (m >= 0 && unsup && (unsup->methods & (1u << m)) && !(unsup->id_field && p.n > 2))
		resp->resource = unsup->res;
	else
		resp->resource = API_RES_OTHER;
	api_count_request(d, m, resp->resource);

	if (len > API_BODY_MAX) {
		api_body_too_large_msg(msg, len);
		api_response_fault(resp, msg);
	} else if (m < 0) {
		api_fault_bad_route(resp, method, path);
	} else if (m == API_METHOD_GET && len) {
		api_response_fault(resp, API_MSG_GET_BODY);
	} else if (m == API_METHOD_PUT && !len) {
		api_response_fault(resp, API_MSG_EMPTY_PUT);
	} else if (m == API_METHOD_PATCH && !len) {
		api_response_fault(resp, API_MSG_EMPTY_PATCH);
	} else if (resp->resource == API_RES_OTHER) {
		api_fault_bad_route(resp, method, path);
	} else if (route) {
		api_serve(d, route, &route->h[m], &p, body, len, resp);
	} else {
		api_serve_unsupported(unsup, &p, body, len, resp);
	}
	if (resp->status >= 400)
		api_count_failure(d, m, resp->resource);
}

int api_counters_take_json(struct api_counters *c, cJSON *obj)
{
	static const char *const keys[API_METHOD_NR] = { "get_api_requests", "put_api_requests",
							  "patch_api_requests" };
	char name[64];

	for (int m = 0; m < API_METHOD_NR; m++) {
		cJSON *group = cJSON_AddObjectToObject(obj, keys[m]);

		if (!group)
			return -ENOMEM;
		for (int r = 0; r < API_RES_NR; r++) {
			uint64_t n = atomic_exchange(&c->count[m][r], 0);
			uint64_t f = atomic_exchange(&c->fails[m][r], 0);

			if (r != API_RES_OTHER && !api_route_has((enum api_method)m, (enum api_resource)r))
				continue;
			snprintf(name, sizeof(name), "%s_count", api_resource_metric_name((enum api_resource)r));
			if (!cJSON_AddNumberToObject(group, name, (double)n))
				return -ENOMEM;
			snprintf(name, sizeof(name), "%s_fails", api_resource_metric_name((enum api_resource)r));
			if (!cJSON_AddNumberToObject(group, name, (double)f))
				return -ENOMEM;
		}
	}
	if (!cJSON_AddNumberToObject(obj, "invalid_method_count",
				     (double)atomic_exchange(&c->bad_method, 0)))
		return -ENOMEM;
	return 0;
}
