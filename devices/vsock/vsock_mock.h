/*
 * A mock virtio-vsock driver over the mock virtio driver: a vsock device on a
 * virtio-mmio transport in fake guest memory, negotiated like Linux does it,
 * an event loop that records the device's watches and dispatches them with
 * poll(2), and helpers that post rx buffers, send guest packets (header and
 * payload over any number of descriptors) and collect what the device sent.
 * Shared by the vsock tests, the benchmark and the fuzz target; not an API.
 */
#ifndef KILN_VSOCK_MOCK_H
#define KILN_VSOCK_MOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/dev_events.h"
#include "devices/virtio/virtio_mmio.h"
#include "devices/virtio/virtio_mock.h"
#include "devices/vsock/vsock.h"

#define VSOCK_MOCK_TX_SLOTS 16
#define VSOCK_MOCK_MAX_WATCHES 4096
#define VSOCK_MOCK_GUEST_CID 3

/* The fake loop: the fds the device watches. */
struct vsock_fake_loop {
	struct { int fd; uint32_t events; uint32_t token; } w[VSOCK_MOCK_MAX_WATCHES];
	unsigned int n;
	unsigned int watch_calls, unwatch_calls;
	int fail;            /* non-zero: watch returns this */
};

/* A guest packet, host byte order. */
struct vsock_mock_pkt {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len, flags, buf_alloc, fwd_cnt;
	uint16_t type, op;
};

struct vsock_mock {
	struct vmock m;
	struct vsock_dev dev;
	struct vmmio t;
	struct vsock_fake_loop loop;
	struct dev_event_loop loop_ops;
	unsigned int irq_raises;
	uint32_t rx_buf_len, tx_buf_len;
	uint16_t qsize;
	uint64_t rx_area, tx_area, ev_area;
	unsigned int rx_next_slot, rx_outstanding;
	uint64_t rx_gpa_of[VIRTQ_MAX_SIZE];  /* head -> its buffer */
	unsigned int tx_next_slot;
	unsigned int ev_outstanding;
};

/* The loop's ops over l (for devices made outside a vsock_mock). */
struct dev_event_loop vsock_fake_loop_ops(struct vsock_fake_loop *l);
/* The watch entry for fd, or NULL. */
const void *vsock_fake_loop_find(const struct vsock_fake_loop *l, int fd, uint32_t *events, uint32_t *token);

/*
 * Device over be with opts (guest_cid 0: VSOCK_MOCK_GUEST_CID), transport,
 * negotiation of features & offered with all three queues of qsize entries
 * (0: QueueNumMax).  rx buffers are rx_buf_len bytes (>= 1), tx slots hold a
 * header and tx_buf_len payload bytes.  0 or the first error (-EPROTO when
 * the device refused negotiation).
 */
int vsock_mock_init(struct vsock_mock *vm, const struct vsock_backend *be, const struct vsock_opts *opts,
		    uint64_t features, uint16_t qsize, uint32_t rx_buf_len, uint32_t tx_buf_len);
void vsock_mock_destroy(struct vsock_mock *vm);

/* Posts up to n rx buffers (as many as the ring has room for) and notifies
 * the rx queue; returns how many were posted. */
unsigned int vsock_mock_rx_post(struct vsock_mock *vm, unsigned int n);
/* Posts one event buffer of len bytes and notifies the event queue. */
void vsock_mock_event_post(struct vsock_mock *vm, uint32_t len);
/* The next event the device wrote: 0 with its id and used length, or -EAGAIN. */
int vsock_mock_event_next(struct vsock_mock *vm, uint32_t *id, uint32_t *used);

/* A header from the guest (src_cid = the guest's CID, dst_cid = 2, STREAM). */
struct vsock_mock_pkt vsock_mock_hdr(const struct vsock_mock *vm, uint32_t guest_port, uint32_t host_port,
				     uint16_t op);

/*
 * Sends p (fields as given, len as given even if it disagrees with the
 * payload) with payload_len bytes of payload split over segs descriptors
 * (0: header and payload in one descriptor), notifies the tx queue and
 * collects the completion.  0, or -EAGAIN when the device did not complete
 * the chain (needs reset, inactive).  payload_len <= tx_buf_len.
 */
int vsock_mock_send(struct vsock_mock *vm, const struct vsock_mock_pkt *p, const void *payload,
		    uint32_t payload_len, unsigned int segs);

/* The next packet the device put in an rx buffer: 0 with the header, the
 * payload (up to max bytes copied) and the used length (the header is zero
 * when the used length is below one); 1 with only the used length for a
 * chain the mock did not post (rx_gpa_of[head] cleared by the caller after
 * writing its own); -EAGAIN when there is none. */
int vsock_mock_recv(struct vsock_mock *vm, struct vsock_mock_pkt *p, void *payload, uint32_t max, uint32_t *used);

/* One round of the loop: polls the watched fds for up to timeout_ms and
 * hands each ready one to vsock_handle_event.  Returns the events handled. */
int vsock_mock_poll(struct vsock_mock *vm, int timeout_ms);

#endif
