/*
 * A mock virtio driver: the test double that unit tests, benchmarks and fuzz
 * targets share (rust-vmm's MockSplitQueue, in C).  It owns a fake guest
 * memory (a calloc'd buffer registered with its own gmem), lays out split
 * rings in it, writes descriptor chains the way a driver does (direct or
 * through an indirect table) or any raw bytes a malicious driver would, and
 * walks a device through negotiation over the virtio-mmio registers.
 *
 * It is a driver, so it writes guest memory directly (through its gmem).  Its
 * helpers abort() on misuse (a test bug), never on what the device does.
 * Not part of any device's API; link kiln-virtio-mock only into tests,
 * benchmarks and fuzz targets.
 */
#ifndef KILN_VIRTIO_MOCK_H
#define KILN_VIRTIO_MOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/dev_events.h"
#include "devices/virtio/virtio_dev.h"
#include "devices/virtio/virtio_mmio.h"
#include "devices/virtio/virtq.h"
#include "vmm/mem/gmem.h"

#define VMOCK_RAM_GPA  0x100000ULL
#define VMOCK_RAM_SIZE 0x100000ULL /* 1 MiB */

struct vmock_queue {
	uint16_t size;      /* 0: not laid out */
	uint64_t desc;      /* gpa of the descriptor table */
	uint64_t avail;     /* gpa of the avail ring */
	uint64_t used;      /* gpa of the used ring */
	uint16_t avail_idx; /* the driver's avail idx (published value) */
	uint16_t used_seen; /* used entries taken by vmock_used_next */
	uint16_t next_desc; /* next descriptor vmock_chain_add writes (wraps) */
	uint64_t table[VIRTQ_MAX_SIZE];     /* indirect table last used by head i */
	uint16_t table_cap[VIRTQ_MAX_SIZE]; /* its entries */
};

struct vmock {
	struct gmem mem;
	uint8_t *ram;
	uint64_t gpa;
	uint64_t size;
	uint64_t brk;       /* next free gpa of the bump allocator */
	struct vmmio *mmio; /* transport driven by the reg/negotiate helpers */
	struct vmock_queue q[VIRTIO_MAX_QUEUES];
};

/* One buffer of a chain the mock builds. */
struct vmock_buf {
	uint64_t gpa;
	uint32_t len;
	bool writable;
};

/* A fake dev_event_loop for devices that watch one fd at a time (a rate
 * limiter's or a statistics timer): it records the watch instead of polling;
 * the test calls the device's handler itself. */
struct vmock_loop {
	int fd;              /* -1: none */
	uint32_t events, token;
	unsigned int watches, unwatches;
	int fail_watch;      /* -errno returned by the next watch, then cleared */
};

/* l as a struct dev_event_loop (l must outlive its use; start with fd -1). */
struct dev_event_loop vmock_event_loop(struct vmock_loop *l);

/* size bytes of zeroed guest RAM at gpa.  0 or -ENOMEM/-EINVAL. */
int vmock_init(struct vmock *m, uint64_t gpa, uint64_t size);
void vmock_destroy(struct vmock *m);

/* Forgets all queues and allocations (RAM is zeroed again). */
void vmock_clear(struct vmock *m);

/* len zeroed bytes aligned to align (a power of two); aborts when full. */
uint64_t vmock_alloc(struct vmock *m, uint64_t len, uint64_t align);
/* The same without zeroing (zero only in RAM fresh from vmock_init): for
 * large data areas whose pages should not all be touched up front. */
uint64_t vmock_alloc_uninit(struct vmock *m, uint64_t len, uint64_t align);
/* The host address of gpa (for checks in tests); aborts outside RAM. */
void *vmock_host(struct vmock *m, uint64_t gpa, uint64_t len);
void vmock_write(struct vmock *m, uint64_t gpa, const void *src, uint64_t len);
void vmock_read(struct vmock *m, uint64_t gpa, void *dst, uint64_t len);

/* Lays out queue qi with size entries: desc/avail/used rings, zeroed. */
void vmock_queue_setup(struct vmock *m, unsigned int qi, uint16_t size);
/* Copies the layout into q's driver-written fields (size, addresses, ready),
 * as a transport would; for tests of the queue on its own. */
void vmock_queue_config(struct vmock *m, unsigned int qi, struct virtq *q);

/* Raw descriptor idx of queue qi (a malicious driver writes anything). */
void vmock_desc_write(struct vmock *m, unsigned int qi, uint16_t idx, uint64_t addr, uint32_t len,
		      uint16_t flags, uint16_t next);
/* Writes n descriptors chained with NEXT from the next free slots; *head is
 * the first.  Does not publish. */
void vmock_chain_add(struct vmock *m, unsigned int qi, const struct vmock_buf *bufs, unsigned int n,
		     uint16_t *head);
/* Writes the n buffers into an indirect table and one descriptor with
 * VIRTQ_DESC_F_INDIRECT referring to it.  The table belongs to that head
 * descriptor and is reused with it (a driver frees both on completion). */
void vmock_chain_add_indirect(struct vmock *m, unsigned int qi, const struct vmock_buf *bufs,
			      unsigned int n, uint16_t *head);
/* Puts head in the next avail ring slot and publishes avail idx + 1. */
void vmock_avail_push(struct vmock *m, unsigned int qi, uint16_t head);
/* Raw avail idx / flags / used_event stores. */
void vmock_avail_set_idx(struct vmock *m, unsigned int qi, uint16_t idx);
void vmock_avail_set_flags(struct vmock *m, unsigned int qi, uint16_t flags);
void vmock_used_event_set(struct vmock *m, unsigned int qi, uint16_t v);
/* What the device published. */
uint16_t vmock_avail_event(struct vmock *m, unsigned int qi);
uint16_t vmock_used_idx(struct vmock *m, unsigned int qi);
/* The next used element: 0, or -EAGAIN when the device has published none. */
int vmock_used_next(struct vmock *m, unsigned int qi, uint32_t *id, uint32_t *len);

/* Transport helpers: 32-bit register accesses on t. */
void vmock_attach(struct vmock *m, struct vmmio *t);
uint32_t vmock_reg_read(struct vmock *m, uint64_t off);
void vmock_reg_write(struct vmock *m, uint64_t off, uint32_t v);
uint64_t vmock_device_features(struct vmock *m);

/*
 * The Linux driver's sequence: reset, ACKNOWLEDGE, DRIVER, features
 * (features & offered), FEATURES_OK (checked), queues 0 .. nr_queues - 1 laid
 * out with qsize entries (or QueueNumMax when qsize is 0) and made ready,
 * DRIVER_OK.  0, or -EPROTO when the device refused a step or set
 * DEVICE_NEEDS_RESET.
 */
int vmock_negotiate(struct vmock *m, uint64_t features, unsigned int nr_queues, uint16_t qsize);
void vmock_notify(struct vmock *m, unsigned int qi);

#endif
