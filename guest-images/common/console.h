/*
 * Console fds for the guest inits: the kernel gives init /dev/console as fds
 * 0-2 when it can open it; when it could not (no node yet), open it ourselves.
 * Header-only: each init is one static binary.
 */
#ifndef KILN_GUEST_CONSOLE_H
#define KILN_GUEST_CONSOLE_H

#include <fcntl.h>
#include <unistd.h>

static inline void console_attach(void)
{
	int fd;

	if (fcntl(1, F_GETFD) >= 0)
		return;
	fd = open("/dev/console", O_RDWR | O_NOCTTY);
	if (fd < 0)
		return;
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
}

#endif
