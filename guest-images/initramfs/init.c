/*
 * /init of the kiln test initramfs: the shortest path from kernel to a clean
 * VMM exit.  Pokes the boot timer, says so on the console, and reboots
 * (with reboot=k the VMM sees the i8042 reset and exits 0).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <unistd.h>

#include "boot_timer.h"

#define TAG "kiln-initramfs: "

/* The kernel gives init /dev/console as fds 0-2 when the archive has the node. */
static void console_ensure(void)
{
	int fd;

	if (fcntl(1, F_GETFD) >= 0)
		return;
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	fd = open("/dev/console", O_RDWR | O_NOCTTY);
	if (fd < 0)
		return;
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
}

int main(void)
{
	int err = boot_timer_poke();

	console_ensure();
	if (err)
		printf(TAG "boot timer not written: %s\n", strerror(-err));
	printf(TAG "init running\n");
	fflush(stdout);

	sync();
	reboot(RB_AUTOBOOT);
	printf(TAG "reboot failed: %s\n", strerror(errno));
	fflush(stdout);
	for (;;)
		pause();
}
