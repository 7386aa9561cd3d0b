/* vm_config_load_file: bounded, non-blocking read of the --config-file path. */
#include "vmm/config/vm_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Keep the end of a long path: that is the part that tells files apart. */
#define VM_PATH_SHOWN 120

/* %m rather than strerror: thread-safe, and in both glibc and musl. */
static int vm_file_errno(int e, const char *what, char msg[CONFIG_ERR_MAX])
{
	errno = e;
	snprintf(msg, CONFIG_ERR_MAX, "%s: %m", what);
	return -e;
}

/* Reads all of path into a malloc'd buffer. */
static int vm_file_read(const char *path, char **buf, size_t *len, char msg[CONFIG_ERR_MAX])
{
	struct stat st;
	size_t have = 0;
	ssize_t n;
	char *data;
	int fd, r;

	/* O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return vm_file_errno(errno, "cannot read", msg);
	if (fstat(fd, &st)) {
		r = vm_file_errno(errno, "cannot read", msg);
		goto err_close;
	}
	if (S_ISDIR(st.st_mode)) {
		r = vm_file_errno(EISDIR, "cannot read", msg);
		goto err_close;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(msg, CONFIG_ERR_MAX, "cannot read: not a regular file");
		r = -EINVAL;
		goto err_close;
	}
	if (st.st_size > CONFIG_FILE_MAX) {
		snprintf(msg, CONFIG_ERR_MAX, "too large (%lld bytes, at most %d)",
			 (long long)st.st_size, CONFIG_FILE_MAX);
		r = -EFBIG;
		goto err_close;
	}
	/* The size can change after fstat, so read against the limit, not st_size. */
	data = malloc(CONFIG_FILE_MAX + 1);
	if (!data) {
		r = vm_file_errno(ENOMEM, "cannot read", msg);
		goto err_close;
	}
	while (have <= CONFIG_FILE_MAX) {
		n = read(fd, data + have, CONFIG_FILE_MAX + 1 - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = vm_file_errno(errno, "cannot read", msg);
			goto err_free;
		}
		if (n == 0)
			break;
		have += (size_t)n;
	}
	if (have > CONFIG_FILE_MAX) {
		snprintf(msg, CONFIG_ERR_MAX, "too large (grew past %d bytes while read)",
			 CONFIG_FILE_MAX);
		r = -EFBIG;
		goto err_free;
	}
	close(fd);
	*buf = data;
	*len = have;
	return 0;

err_free:
	free(data);
err_close:
	close(fd);
	return r;
}

int vm_config_load_file(const char *path, struct vm_config *cfg, char err[CONFIG_ERR_MAX])
{
	char msg[CONFIG_ERR_MAX];
	size_t len = 0, plen = strlen(path);
	char *buf = NULL;
	int r;

	vm_config_init(cfg);
	r = vm_file_read(path, &buf, &len, msg);
	if (!r) {
		r = vm_config_parse(buf, len, cfg, msg);
		free(buf);
	}
	if (r && snprintf(err, CONFIG_ERR_MAX, "%s%s: %s", plen > VM_PATH_SHOWN ? "..." : "",
			  plen > VM_PATH_SHOWN ? path + plen - VM_PATH_SHOWN : path,
			  msg) >= CONFIG_ERR_MAX)
		memcpy(err + CONFIG_ERR_MAX - 4, "...", 4); /* show that the message was cut */
	return r;
}
