/* The Unix-domain-socket vsock backend; see vsock_backend.h. */
#include "devices/vsock/vsock_backend.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Longest suffix a port adds: "_4294967295". */
#define PORT_SUFFIX_MAX 11

static int uds_addr(struct sockaddr_un *sa, const char *path, const char *suffix)
{
	int n;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s%s", path, suffix);
	return n < 0 || (size_t)n >= sizeof(sa->sun_path) ? -ENAMETOOLONG : 0;
}

static int uds_listen(void *opaque)
{
	struct vsock_uds *u = opaque;
	struct sockaddr_un sa;
	int fd, ret = uds_addr(&sa, u->path, "");

	if (ret)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Firecracker refuses an existing path; so do we (bind says EADDRINUSE). */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 128)) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

static int uds_accept(void *opaque, int listen_fd)
{
	int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static int uds_connect(void *opaque, uint32_t port)
{
	struct vsock_uds *u = opaque;
	struct sockaddr_un sa;
	char suffix[PORT_SUFFIX_MAX + 1];
	int fd, ret;

	snprintf(suffix, sizeof(suffix), "_%u", port);
	ret = uds_addr(&sa, u->path, suffix);
	if (ret)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A Unix connect completes at once or fails (EAGAIN: backlog full,
	 * ECONNREFUSED/ENOENT: nobody listening); it never stays in progress. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

static void uds_unlisten(void *opaque)
{
	struct vsock_uds *u = opaque;

	unlink(u->path);
}

static const struct vsock_backend_ops uds_ops = {
	.listen = uds_listen,
	.accept = uds_accept,
	.connect = uds_connect,
	.unlisten = uds_unlisten,
};

int vsock_uds_init(struct vsock_uds *u, const char *path)
{
	if (!path || !*path)
		return -EINVAL;
	if (strlen(path) + PORT_SUFFIX_MAX >= sizeof(u->path))
		return -ENAMETOOLONG;
	memset(u, 0, sizeof(*u));
	strcpy(u->path, path);
	u->be.ops = &uds_ops;
	u->be.opaque = u;
	return 0;
}
