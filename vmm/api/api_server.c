/* The HTTP side of the API: libmicrohttpd on a Unix socket; see api_server.h. */
#include "vmm/api/api_server.h"

#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vmm/log/log.h"
#ifdef KILN_HAVE_SECCOMP
#include "vmm/seccomp/thread_filter.h"
#endif
#include "vmm/probe.h"

/* One request's state across libmicrohttpd's calls to the handler. */
struct api_conn {
	char *body;          /* API_BODY_MAX + 1 bytes once a body arrives */
	size_t len;          /* bytes kept */
	size_t seen;         /* bytes received (kept or not) */
	size_t declared;     /* Content-Length, when given */
	bool too_large;
	uint64_t start_ns;
};

static uint64_t api_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Printable copy for a log line: at most size - 1 bytes, others as '?'. */
static const char *api_log_clean(char *dst, size_t size, const char *src)
{
	size_t i;

	for (i = 0; src[i] && i + 4 < size; i++) {
		unsigned char c = src[i];
		dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	if (src[i])
		memcpy(dst + i, "...", 4);
	else
		dst[i] = '\0';
	return dst;
}

static void api_log_request(const char *method, const char *url, const struct api_response *resp,
			    uint64_t start_ns)
{
	char m[16], u[160], body[API_FAULT_MAX + 32];
	uint64_t us = (api_now_ns() - start_ns) / 1000;

	/* Before the log line, so the probe's latency leaves out logging. */
	KILN_PROBE(api_request_end, method, url, resp->status);
	api_log_clean(m, sizeof(m), method);
	api_log_clean(u, sizeof(u), url);
	if (resp->status >= 400 && resp->body) {
		LOG_INFO("API %s %s: %u in %" PRIu64 " us: %s", m, u, resp->status, us,
			 api_log_clean(body, sizeof(body), resp->body));
	} else {
		LOG_INFO("API %s %s: %u in %" PRIu64 " us", m, u, resp->status, us);
	}
}

static enum MHD_Result api_send(struct MHD_Connection *conn, const struct api_response *resp)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (resp->body) {
		r = MHD_create_response_from_buffer(resp->len, resp->body, MHD_RESPMEM_MUST_COPY);
		if (r)
			MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	} else {
		r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	}
	if (!r)
		return MHD_NO;
	ret = MHD_queue_response(conn, resp->status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result api_send_too_large(struct MHD_Connection *conn, const char *method,
					  const char *url, struct api_conn *c)
{
	struct api_response resp = { 0 };
	char msg[API_FAULT_MAX];
	enum MHD_Result ret;

	api_body_too_large_msg(msg, c->declared ? c->declared : c->seen);
	api_response_fault(&resp, msg);
	api_log_request(method, url, &resp, c->start_ns);
	ret = api_send(conn, &resp);
	api_response_free(&resp);
	return ret;
}

/* First call: headers only.  Then one call per body chunk, then a last call
 * with no data, where the request is served. */
static enum MHD_Result api_access(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct api_server *srv = cls;
	struct api_conn *c = *con_cls;
	struct api_response resp;
	enum MHD_Result ret;

	if (!c) {
		const char *cl;

		c = calloc(1, sizeof(*c));
		if (!c)
			return MHD_NO;
		c->start_ns = api_now_ns();
		KILN_PROBE(api_request_start, method, url);
		*con_cls = c;
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl) {
			char *end;
			unsigned long long v;

			errno = 0;
			v = strtoull(cl, &end, 10);
			if (!errno && end != cl && v > API_BODY_MAX) {
				/* Refuse before reading it; the connection closes after. */
				c->declared = v > SIZE_MAX ? SIZE_MAX : (size_t)v;
				c->too_large = true;
				return api_send_too_large(conn, method, url, c);
			}
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;

		c->seen += n;
		*upload_data_size = 0;
		/* libmicrohttpd cannot answer before the body ends, so a body of
		 * unknown length is drained for its 400, up to a bound: past that
		 * the connection is dropped, so a body that never ends costs nothing. */
		if (c->too_large)
			return c->seen > API_DRAIN_MAX ? MHD_NO : MHD_YES;
		if (c->len + n > API_BODY_MAX) {
			c->too_large = true;
			free(c->body);
			c->body = NULL;
			return MHD_YES;
		}
		if (!c->body && !(c->body = malloc(API_BODY_MAX + 1)))
			return MHD_NO;
		memcpy(c->body + c->len, upload_data, n);
		c->len += n;
		return MHD_YES;
	}
	if (c->too_large) /* answered already when the length was declared */
		return c->declared ? MHD_YES : api_send_too_large(conn, method, url, c);

	api_dispatch(&srv->disp, method, url, c->body ? c->body : "", c->len, &resp);
	api_log_request(method, url, &resp, c->start_ns);
	ret = api_send(conn, &resp);
	api_response_free(&resp);
	return ret;
}

static void api_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			  enum MHD_RequestTerminationCode toe)
{
	struct api_conn *c = *con_cls;

	if (c) {
		free(c->body);
		free(c);
		*con_cls = NULL;
	}
}

/* Runs in the server thread when a client connects: names it in log lines. */
static void api_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			   enum MHD_ConnectionNotificationCode toe)
{
	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
		log_set_thread_name("api");
}

/* libmicrohttpd's own messages (malformed requests it answered itself, ...). */
static void api_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[256];
	size_t n;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	LOG_DEBUG("libmicrohttpd: %s", buf);
}

int api_socket_listen(const char *path, char err[API_SERVER_ERR_MAX])
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, probe, ret;

	if (!path[0] || strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, API_SERVER_ERR_MAX, "API socket '%s': path must be 1 to %zu bytes long",
			 path, sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	if (!lstat(path, &st)) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, API_SERVER_ERR_MAX, "API socket %s: exists and is not a socket", path);
			return -EEXIST;
		}
		/* A socket file: refuse it if someone answers, replace it if not. */
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe < 0) {
			ret = -errno;
			snprintf(err, API_SERVER_ERR_MAX, "API socket %s: %s", path, strerror(-ret));
			return ret;
		}
		ret = connect(probe, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
		close(probe);
		if (ret != -ECONNREFUSED) {
			snprintf(err, API_SERVER_ERR_MAX, "API socket %s: %s", path,
				 ret ? strerror(-ret) : "in use by another process");
			return ret ? ret : -EADDRINUSE;
		}
		if (unlink(path) && errno != ENOENT) {
			ret = -errno;
			snprintf(err, API_SERVER_ERR_MAX, "API socket %s: cannot remove the stale socket: %s",
				 path, strerror(-ret));
			return ret;
		}
		LOG_INFO("removed the stale API socket %s", path);
	} else if (errno != ENOENT) {
		ret = -errno;
		snprintf(err, API_SERVER_ERR_MAX, "API socket %s: %s", path, strerror(-ret));
		return ret;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, API_SERVER_ERR_MAX, "API socket: %s", strerror(-ret));
		return ret;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 64)) {
		ret = -errno;
		snprintf(err, API_SERVER_ERR_MAX, "API socket %s: %s", path, strerror(-ret));
		close(fd);
		return ret;
	}
	return fd;
}

/* Starts libmicrohttpd's thread on srv->listen_fd.  0 or -EIO. */
static int api_mhd_start(void *arg)
{
	struct api_server *srv = arg;

	srv->mhd = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
				    api_access, srv,
				    MHD_OPTION_EXTERNAL_LOGGER, api_mhd_log, NULL,
				    MHD_OPTION_NOTIFY_CONNECTION, api_connection, NULL,
				    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)srv->listen_fd,
				    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)API_CONN_TIMEOUT_S,
				    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)API_CONN_LIMIT,
				    MHD_OPTION_NOTIFY_COMPLETED, api_completed, srv,
				    MHD_OPTION_END);
	return srv->mhd ? 0 : -EIO;
}

int api_server_start(struct api_server *srv, const char *path, const struct api_dispatcher *disp,
		     char err[API_SERVER_ERR_MAX])
{
	struct stat st;
	int fd;

	memset(srv, 0, sizeof(*srv));
	srv->listen_fd = -1;
	srv->disp = *disp;
	fd = api_socket_listen(path, err);
	if (fd < 0)
		return fd;
	if (stat(path, &st)) {
		int ret = -errno;

		snprintf(err, API_SERVER_ERR_MAX, "API socket %s: %s", path, strerror(-ret));
		close(fd);
		return ret;
	}
	srv->listen_fd = fd;
	srv->dev = st.st_dev;
	srv->ino = st.st_ino;
	snprintf(srv->path, sizeof(srv->path), "%s", path);

#ifdef KILN_HAVE_SECCOMP
	/* libmicrohttpd's thread keeps the filter of the thread that starts it:
	 * start it from one under the api filter (the socket is made already). */
	if (seccomp_run_as(SECCOMP_ROLE_API, api_mhd_start, srv) && !srv->mhd) {
#else
	if (api_mhd_start(srv) && !srv->mhd) {
#endif
		snprintf(err, API_SERVER_ERR_MAX, "API socket %s: cannot start the HTTP server", path);
		api_server_stop(srv);
		return -EIO;
	}
	srv->listen_fd = -1; /* the daemon owns it now and closes it when stopped */
	KILN_PROBE(api_socket_ready);
	return 0;
}

void api_server_stop(struct api_server *srv)
{
	struct stat st;

	if (srv->mhd) {
		MHD_stop_daemon(srv->mhd);
		srv->mhd = NULL;
	}
	if (srv->listen_fd >= 0) {
		close(srv->listen_fd);
		srv->listen_fd = -1;
	}
	/* Remove the socket file only if it is still the one we made. */
	if (srv->path[0] && !lstat(srv->path, &st) && st.st_dev == srv->dev && st.st_ino == srv->ino)
		unlink(srv->path);
	srv->path[0] = '\0';
}
