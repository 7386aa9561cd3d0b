/*
 * The API's HTTP/1.1 server on a Unix socket (libmicrohttpd, in its own
 * thread).  It reads each request, caps its body at API_BODY_MAX, hands method,
 * path and body to api_dispatch and writes the response back; it logs every
 * request with its status and duration.  Slow or half-open clients cost a
 * connection slot until their timeout, never the VMM thread's time.
 *
 * Requests that are not HTTP enough to reach the handler (no request line,
 * headers over libmicrohttpd's 32 KiB pool, a bad Content-Length, an unknown
 * HTTP version) get libmicrohttpd's own 400/431/505 reply with an HTML body
 * and a closed connection; they are logged at Debug level.
 *
 * The socket: a path that exists and is a socket nobody serves (left by a
 * process that died) is replaced; a live socket or any other kind of file is
 * refused.  api_server_stop() removes the socket it created.
 */
#ifndef KILN_API_SERVER_H
#define KILN_API_SERVER_H

#include <sys/types.h>

#include "vmm/api/api.h"
#include "vmm/compiler.h"

#define API_SERVER_ERR_MAX 512
/* Idle or stalled connections are closed after this long. */
#define API_CONN_TIMEOUT_S 60
#define API_CONN_LIMIT 32
/* A body of undeclared length (chunked) over API_BODY_MAX is read to its end
 * for the 400, up to this much; a longer one gets the connection closed. */
#define API_DRAIN_MAX (1024 * 1024)

struct MHD_Daemon;

struct api_server {
	struct MHD_Daemon *mhd;
	int listen_fd;
	char path[108];      /* sizeof(sun_path) */
	dev_t dev;           /* the socket file we made, so stop unlinks only ours */
	ino_t ino;
	struct api_dispatcher disp;
};

/* Creates the socket at path and starts serving requests through *disp (copied).
 * 0, or -errno with a message naming the path in err. */
int api_server_start(struct api_server *srv, const char *path, const struct api_dispatcher *disp,
		     char err[API_SERVER_ERR_MAX]) __must_check;

/* Stops the thread (waiting for the request in flight), closes and removes the
 * socket.  Safe on a server that never started. */
void api_server_stop(struct api_server *srv);

/* Creates, binds and listens on a Unix socket at path with the rules above;
 * exposed for tests.  Returns the fd or -errno. */
int api_socket_listen(const char *path, char err[API_SERVER_ERR_MAX]);

#endif
