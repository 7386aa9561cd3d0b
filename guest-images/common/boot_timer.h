/*
 * The boot-timer poke shared by the guest inits: one byte, 123, written to the
 * page kiln (like Firecracker) decodes at guest-physical 0xc0000000
 * (LAYOUT_BOOT_TIMER in vmm/boot/layout.h).  The VMM logs the time from
 * KVM_RUN to this write.  Header-only: each init is one static binary.
 */
#ifndef KILN_GUEST_BOOT_TIMER_H
#define KILN_GUEST_BOOT_TIMER_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#define BOOT_TIMER_ADDR  0xc0000000UL
#define BOOT_TIMER_VALUE 123

/* Returns 0, or -errno when /dev/mem cannot be opened or mapped. */
static inline int boot_timer_poke(void)
{
	volatile uint8_t *p;
	void *map;
	int fd, err;

	fd = open("/dev/mem", O_RDWR | O_SYNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, BOOT_TIMER_ADDR);
	err = errno;
	close(fd);
	if (map == MAP_FAILED)
		return -err;
	p = map;
	*p = BOOT_TIMER_VALUE;
	munmap(map, 4096);
	return 0;
}

#endif
