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
#include "console.h"

#define TAG "kiln-initramfs: "

/* Without a /dev/console node in the archive, devtmpfs provides one. */
static void console_ensure(void)
{
	if (fcntl(1, F_GETFD) < 0)
		mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	console_attach();
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
