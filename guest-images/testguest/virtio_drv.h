/*
 * The test guest's virtio-mmio (version 2) driver core, shared by the block
 * probe (virtio.c) and the net, vsock, balloon and rng drivers: finding a
 * device among the virtio_mmio.device= tokens, feature negotiation, split
 * queues of VDRV_QSIZE entries in the caller's memory, and bounded polling
 * of the used ring (the test guest takes no interrupts).
 *
 * Every buffer is one descriptor (VERSION_1 lets a device take any layout),
 * so a descriptor's index is its buffer's id.  Every wait is bounded by a
 * TSC deadline: a device that never answers shows as a failed check, never
 * as a hang.  Register offsets and ring layouts come from the device
 * model's own ABI headers (devices/virtio/virtio_abi.h, virtio_mmio_regs.h
 * and each device's virtio_*_abi.h).
 */
#ifndef KTG_VIRTIO_DRV_H
#define KTG_VIRTIO_DRV_H

#include <stddef.h>
#include <stdint.h>

#include "devices/virtio/virtio_abi.h"
#include "devices/virtio/virtio_mmio_regs.h"

#define VDRV_F_VERSION_1 VIRTIO_FEATURE(VIRTIO_F_VERSION_1)
#define VDRV_F_EVENT_IDX VIRTIO_FEATURE(VIRTIO_F_RING_EVENT_IDX)
/* The status after a successful negotiation, before DRIVER_OK. */
#define VDRV_S_FEATURES_OK (VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK)

#define VDRV_QSIZE 16
/* Deadline of one wait in TSC ticks: about 10 s at 3 GHz, 30 s at 1 GHz. */
#define VDRV_WAIT_TICKS 30000000000ULL

/* A split queue's three rings (virtio 1.2, 2.7): place it in .bss. */
struct vdrv_ring {
	struct virtq_desc desc[VDRV_QSIZE];
	struct {
		uint16_t flags, idx, ring[VDRV_QSIZE], used_event;
	} avail __attribute__((aligned(16)));
	struct {
		uint16_t flags, idx;
		struct virtq_used_elem ring[VDRV_QSIZE];
		uint16_t avail_event;
	} used __attribute__((aligned(16)));
} __attribute__((aligned(64)));

struct vdrv_dev {
	uint64_t base;
	uint64_t offered, accepted;
};

struct vdrv_queue {
	struct vdrv_dev *dev;
	struct vdrv_ring *r;
	uint16_t index;
	uint16_t last_used;       /* used entries consumed */
	uint16_t kicked_idx;      /* avail idx at the last notification decision */
	uint16_t busy;            /* bit i: descriptor i is with the device */
	int event_idx;
	unsigned int kicks, kicks_skipped;
};

static inline void vdrv_barrier(void)
{
	__asm__ volatile("" : : : "memory");
}

static inline uint64_t vdrv_rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static inline uint64_t vdrv_phys(const volatile void *p)
{
	return (uint64_t)(uintptr_t)p; /* identity-mapped */
}

uint32_t vdrv_reg(uint64_t base, uint32_t off);
void vdrv_reg_set(uint64_t base, uint32_t off, uint32_t v);

/* "<size>[KMG]@<addr>:<irq>[:<id>]", Linux's virtio_mmio.device= syntax. */
int vdrv_parse_device(const char *s, size_t len, uint64_t *size, uint64_t *addr, uint64_t *irq);

/*
 * The first virtio_mmio.device= device with this device id and version 2.
 * 0 with *base set, or -1 (then prints "KTG: <name> FAIL no-device").
 */
int vdrv_find(const char *cmdline, uint32_t device_id, const char *name, uint64_t *base);

/*
 * Reset, ACKNOWLEDGE, DRIVER, read the device features, accept those in
 * want that are offered (VERSION_1 is required), FEATURES_OK and check it
 * stuck.  Prints "KTG: <name> features offered=0x.. accepted=0x..".  NULL, or
 * the step that failed.
 */
const char *vdrv_negotiate(struct vdrv_dev *d, const char *name, uint64_t want);

/* Queue index of the device set up over ring (zeroed here).  NULL or what failed. */
const char *vdrv_queue_init(struct vdrv_dev *d, struct vdrv_queue *q, uint16_t index, struct vdrv_ring *ring);

/* Sets DRIVER_OK; NULL, or "driver-ok" when the device refused it. */
const char *vdrv_driver_ok(struct vdrv_dev *d);

/* Status 0 and check it reads 0.  0 or -1. */
int vdrv_reset(struct vdrv_dev *d);

/* Offers one buffer (device-writable or not); returns its id, or -1 when
 * every descriptor is in flight.  Not visible to the device until published
 * by vdrv_kick (or vdrv_publish). */
int vdrv_add(struct vdrv_queue *q, uint64_t addr, uint32_t len, int writable);

/* Notifies the device unless EVENT_IDX was negotiated and its avail_event
 * says it does not need it (counted in kicks_skipped). */
void vdrv_kick(struct vdrv_queue *q);

/* Sets used_event (with EVENT_IDX): interrupt when entry idx is used. */
void vdrv_used_event_set(struct vdrv_queue *q, uint16_t idx);

/* Takes the next used entry: 1 with *id and *len, 0 when there is none. */
int vdrv_get(struct vdrv_queue *q, uint32_t *id, uint32_t *len);

/* vdrv_get until one arrives or the deadline (VDRV_WAIT_TICKS * mult) passes:
 * 1, or 0 on timeout. */
int vdrv_wait(struct vdrv_queue *q, uint32_t *id, uint32_t *len, unsigned int mult);

/* InterruptStatus, then acknowledges what it read. */
uint32_t vdrv_isr_take(struct vdrv_dev *d);

/* The device ends its run: "KTG: <name> ok" or "KTG: <name> FAIL <why>". */
void vdrv_verdict(const char *name, const char *why);

/* Printable hex of n bytes into out (2n + 1 chars). */
void vdrv_hex(char *out, const void *p, size_t n);

/* The device drivers: each runs when its key is on the command line (net=1,
 * vsock=1, balloon=1, rng=1); the lines are in README.md. */
void net_test(const char *cmdline);
void vsock_test(const char *cmdline);
void balloon_test(const char *cmdline);
void rng_test(const char *cmdline);

#endif
