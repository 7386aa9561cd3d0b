/*
 * Where a vsock device's host-side sockets come from.  The device owns every
 * fd a backend hands it (it reads, writes, shuts down and closes them, and
 * asks the event loop to watch them); a backend only creates them:
 *
 *   listen   the socket host processes connect to (Firecracker's uds_path);
 *   accept   a host process's new connection on it;
 *   connect  a connection for a guest that connects to host port P
 *            (Firecracker: the Unix socket "<uds_path>_P").
 *
 * Every fd returned is non-blocking and close-on-exec, and must support
 * recv(MSG_PEEK) (a stream socket).  The Unix-socket backend is the real one;
 * tests and fuzz targets can supply their own over socketpair(2).
 */
#ifndef KILN_VSOCK_BACKEND_H
#define KILN_VSOCK_BACKEND_H

#include <stdint.h>
#include <sys/un.h>

#include "vmm/compiler.h"

struct vsock_backend_ops {
	/* The listening fd (watched for EPOLLIN), or -errno.  Required. */
	int (*listen)(void *opaque);
	/* The next pending connection on listen_fd, -EAGAIN when none, or
	 * -errno.  Required. */
	int (*accept)(void *opaque, int listen_fd);
	/* A connected stream socket to host port port, or -errno (nobody
	 * listening: the guest gets RST).  Must not block.  Required. */
	int (*connect)(void *opaque, uint32_t port);
	/* Undoes listen (e.g. unlinks the socket path) after the device closed
	 * the fd.  Optional. */
	void (*unlisten)(void *opaque);
};

struct vsock_backend {
	const struct vsock_backend_ops *ops;
	void *opaque;
};

/* The Unix-domain-socket backend: listens on uds_path, connects to
 * "<uds_path>_<port>".  Holds only the path. */
struct vsock_uds {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct vsock_backend be;
};

/* Fills u (u->be.opaque is u: u must not move).  -ENAMETOOLONG when
 * "<path>_4294967295" does not fit a sockaddr_un, -EINVAL for an empty path. */
int vsock_uds_init(struct vsock_uds *u, const char *path) __must_check;

#endif
