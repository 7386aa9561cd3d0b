/*
 * Host-side event sources of a device: a TAP fd, vsock's Unix sockets, a
 * rate limiter's timerfd.  The VMM's event loop (one epoll set on the VMM
 * thread) implements this interface and hands it to the device at init; the
 * device asks it to watch fds and the loop later calls the device's event
 * handler (a function the VMM wiring was given with the device, of type
 * dev_event_fn) with the token the device chose.  Tests and fuzz targets pass
 * a fake that records the watches and calls the handler themselves.
 *
 * Everything runs on the VMM thread: watch/unwatch are called from device
 * code running there (init, queue processing, the handler itself), never from
 * a vCPU thread.
 */
#ifndef KILN_DEV_EVENTS_H
#define KILN_DEV_EVENTS_H

#include <stdint.h>

struct dev_event_loop {
	/* Watch fd for events (EPOLLIN, EPOLLOUT, ...; level-triggered); watching
	 * an fd already watched replaces its events and token.  0 or -errno. */
	int (*watch)(void *opaque, int fd, uint32_t events, uint32_t token);
	/* Stop watching fd (before closing it).  Unknown fds are ignored. */
	void (*unwatch)(void *opaque, int fd);
	void *opaque;
};

/* The loop saw events (EPOLL* bits) on the fd watched with token. */
typedef void (*dev_event_fn)(void *dev, uint32_t token, uint32_t events);

static inline int dev_watch(const struct dev_event_loop *l, int fd, uint32_t events, uint32_t token)
{
	return l->watch(l->opaque, fd, events, token);
}

static inline void dev_unwatch(const struct dev_event_loop *l, int fd)
{
	l->unwatch(l->opaque, fd);
}

#endif
