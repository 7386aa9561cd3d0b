/*
 * An in-memory TAP for tests, benchmarks and fuzz targets: frames the test
 * injects come out of read() in order; frames the device writes are counted
 * and the last NET_FAKE_KEEP kept for inspection; writes can be made to
 * return -EAGAIN (a full TAP) and reads to fail.  Its fd is an eventfd, only
 * so that the device has a real, distinct fd to hand its event loop.  Not
 * part of any API.
 */
#ifndef KILN_NET_TAP_FAKE_H
#define KILN_NET_TAP_FAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/net/net_backend.h"

#define NET_FAKE_QUEUE 64 /* injected frames waiting */
#define NET_FAKE_KEEP 64  /* written frames kept */

struct net_fake_frame {
	uint8_t *data;
	uint32_t len;
};

struct net_tap_fake {
	int fd;
	struct net_backend be;
	/* host -> device */
	struct net_fake_frame in[NET_FAKE_QUEUE];
	unsigned int in_head, in_count;
	int read_fail;              /* non-zero: reads return this (-errno) */
	/* device -> host */
	struct net_fake_frame out[NET_FAKE_KEEP];
	uint64_t writes;            /* frames taken */
	uint64_t write_bytes;       /* their bytes, headers included */
	unsigned int eagain_next;   /* the next n writes return -EAGAIN */
	bool full;                  /* every write returns -EAGAIN while set */
	uint64_t eagains;
	bool keep;                  /* keep copies of written frames (tests) */
	/* offloads */
	unsigned int offload_flags;
	unsigned int offload_calls;
	int offload_fail;           /* non-zero: set_offload returns this */
};

/* 0, or -errno of eventfd. */
int net_tap_fake_init(struct net_tap_fake *f) __must_check;
void net_tap_fake_destroy(struct net_tap_fake *f);

/* Queues a frame (header + packet, len bytes, any length) for the device
 * to read.  0, or -ENOSPC when NET_FAKE_QUEUE are waiting, -ENOMEM. */
int net_tap_fake_inject(struct net_tap_fake *f, const void *frame, size_t len);
unsigned int net_tap_fake_pending(const struct net_tap_fake *f);

/* The i-th written frame (0 = first), if still kept; NULL otherwise. */
const struct net_fake_frame *net_tap_fake_written(const struct net_tap_fake *f, uint64_t i);

#endif
