/*
 * virtio-vsock device (id 19) with Firecracker's host side: guest stream
 * connections end in Unix domain sockets on the host, through a struct
 * vsock_backend (vsock_backend.h).
 *
 *   host -> guest: a host process connects to the listening socket
 *     (uds_path) and writes "CONNECT <port>\n"; the device sends the guest a
 *     REQUEST for that port from a fresh host port H (from 2^30 up) and, on
 *     the guest's RESPONSE, writes "OK <H>\n" to the host socket; a RST
 *     instead closes it.  A request the guest leaves unanswered for 2 s is
 *     dropped (RST, host socket closed) when the table needs its slot; there
 *     is no timer, so until then the host process waits.
 *   guest -> host: a REQUEST to CID 2 port P makes the backend connect
 *     ("<uds_path>_P"); the guest gets RESPONSE, or RST when that fails or
 *     the connection table (max_conns) is full.
 *   then bytes flow both ways (RW).  Flow control is the spec's credit
 *   scheme: the device never sends a connection more payload than the guest's
 *   buf_alloc - (bytes sent - guest fwd_cnt), and advertises its own
 *   per-connection buffer (conn_buf_size) as buf_alloc, with fwd_cnt = bytes
 *   the host socket accepted.  Bytes the host socket does not take at once
 *   wait in that buffer (EPOLLOUT resumes); a guest that sends past its
 *   credit gets RST.  Host bytes are read only when the guest has credit and
 *   an rx buffer for them, so a reader that stalls on either side costs at
 *   most conn_buf_size per connection.
 *   SHUTDOWN from the guest: SEND shuts the host socket for writing (after
 *   the buffered bytes), RCV stops reading it, both end the connection with
 *   RST.  End of file on the host socket sends SHUTDOWN(SEND); a host error,
 *   or the host closing before the guest accepted, sends RST.
 *
 * Guest-error policy: a malformed ring or chain (virtq_pop refuses it) marks
 * the device DEVICE_NEEDS_RESET; it processes nothing more until the driver
 * resets it.  A packet with a short header, or a src_cid/dst_cid that is not
 * the guest's/the host's, is dropped; one with a payload length past its
 * buffers or above 64 KiB, an unknown type or operation, or one that breaks
 * the connection protocol (data past credit, RW on no connection, RESPONSE
 * without REQUEST) is answered with RST (and ends its connection).  An rx
 * buffer too small for a header is returned unused (length 0).
 *
 * Host fds are watched through the struct dev_event_loop given at init; the
 * VMM calls vsock_handle_event (a dev_event_fn) with the token.  Queue
 * notifications: without a kick hook the transport's notify processes the
 * queue inline (non-blocking socket I/O only); with one, it only calls
 * kick(opaque, queue) and the VMM thread calls vsock_process_queue() later.
 * A device mutex serialises all of it.
 *
 * Snapshots: struct vsock_state holds the CID and whether a transport reset
 * is due; connections are not saved.  After restoring the transport and the
 * device, the VMM calls vsock_send_transport_reset() so the guest drops its
 * connections (as Firecracker does).
 */
#ifndef KILN_VSOCK_H
#define KILN_VSOCK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/dev_events.h"
#include "devices/virtio/virtio_dev.h"
#include "devices/virtio/virtq.h"
#include "devices/vsock/virtio_vsock_abi.h"
#include "devices/vsock/vsock_backend.h"
#include "vmm/compiler.h"

#define VSOCK_QUEUE_SIZE 256          /* QueueNumMax of each queue, as Firecracker */
#define VSOCK_MAX_CONNS_DEFAULT 1024  /* connection table size */
#define VSOCK_MAX_CONNS_LIMIT 2047    /* largest table (tokens hold 11 bits of index) */
#define VSOCK_CONN_BUF_DEFAULT (64u * 1024) /* per-connection buffer = buf_alloc we advertise */
#define VSOCK_MAX_PKT_PAYLOAD (64u * 1024)   /* largest RW payload either way */
#define VSOCK_RST_BACKLOG 64          /* RSTs for no connection waiting for an rx buffer */
#define VSOCK_HOST_PORT_FIRST (1u << 30) /* first host port of host-initiated connections */

/* Token of the listening socket; connections use (gen << 11) | (index + 1). */
#define VSOCK_TOKEN_LISTENER 0u

struct vsock_opts {
	uint64_t guest_cid;      /* >= 3, < 2^32 - 1 (Linux's VMADDR_CID_ANY) */
	uint16_t queue_size;     /* QueueNumMax: power of two 4 .. 256; 0: VSOCK_QUEUE_SIZE */
	unsigned int max_conns;  /* 1 .. VSOCK_MAX_CONNS_LIMIT; 0: VSOCK_MAX_CONNS_DEFAULT */
	uint32_t conn_buf_size;  /* 4 KiB .. 16 MiB; 0: VSOCK_CONN_BUF_DEFAULT */
	/* Optional, as blk_opts.kick: a guest notification only calls
	 * kick(opaque, queue) (vCPU thread, transport lock held: must not
	 * block) and the VMM calls vsock_process_queue() later. */
	void (*kick)(void *opaque, unsigned int queue);
	void *kick_opaque;
};

/* Host-side counters; not guest state, not saved. */
struct vsock_metrics {
	uint64_t conns_added;     /* connections opened (either direction) */
	uint64_t conns_killed;    /* connections ended (any reason) */
	uint64_t conns_refused;   /* table full / backend connect failed / device inactive */
	uint64_t rx_packets, rx_bytes; /* device -> guest packets and payload bytes */
	uint64_t tx_packets, tx_bytes; /* guest -> device packets and payload bytes */
	uint64_t rst_sent;
	uint64_t rst_dropped;     /* RST backlog full */
	uint64_t tx_dropped;      /* packets dropped: short header, wrong CID */
	uint64_t tx_invalid;      /* packets answered RST: bad length/type/op/protocol */
	uint64_t credit_violations; /* guest sent past its credit */
	uint64_t rx_bad_buffers;  /* rx chains too small, returned unused */
	uint64_t host_errors;     /* socket/epoll errors */
	uint64_t queue_errors;    /* malformed rings/chains: DEVICE_NEEDS_RESET */
	uint64_t events_sent;     /* transport resets delivered */
	uint64_t interrupts;
};

/* Guest-visible device state for snapshots: plain values. */
struct vsock_state {
	uint64_t guest_cid;
	uint8_t reset_pending;    /* a transport reset waits for an event buffer */
	uint8_t pad[7];
};

struct vsock_conn;

/* Embedded in the VM; fields are private to the vsock unit and its tests. */
struct vsock_dev {
	pthread_mutex_t lock;
	uint64_t cid;
	uint64_t features;        /* offered */
	uint16_t queue_size;
	unsigned int max_conns;
	uint32_t conn_buf_size;
	struct vsock_backend be;
	struct dev_event_loop loop;
	void (*kick)(void *opaque, unsigned int queue);
	void *kick_opaque;
	int listen_fd;
	bool listen_paused;       /* accept failed for lack of fds/memory: unwatched until a connection ends */

	bool active;
	bool broken;              /* needs_reset already reported */
	bool reset_pending;
	const struct gmem *mem;
	struct virtq *q[VSOCK_NR_QUEUES];
	struct virtio_irq irq;

	/* Connections: a table, a hash on (guest port, host port) and the
	 * list of connections with something to send the guest. */
	struct vsock_conn *conns;
	unsigned int nr_conns;
	uint16_t *hash;           /* VSOCK_HASH_SIZE heads: index + 1, 0 = empty */
	uint16_t rx_head, rx_tail; /* index + 1, 0 = empty */
	uint32_t next_host_port;
	struct { uint32_t guest_port, host_port; } rst[VSOCK_RST_BACKLOG];
	unsigned int rst_first, rst_count;

	struct virtq_chain tx_chain;  /* scratch */
	struct virtq_chain rx_chain;  /* popped rx buffer not yet used when rx_held */
	bool rx_held;
	struct iovec iov[VIRTQ_MAX_SIZE];
	struct vsock_metrics metrics;
};

/* Transport-facing ops; the device pointer is the struct vsock_dev. */
extern const struct virtio_dev_ops vsock_virtio_ops;

/*
 * Takes copies of *be, *loop and *opts (required: it carries the CID; the
 * opaques must outlive the device), listens through the backend and watches
 * the listener with token VSOCK_TOKEN_LISTENER.  0, or -EINVAL (bad
 * CID, queue size, table or buffer size, missing backend op), -ENOMEM, or
 * the backend's / loop's error.
 */
int vsock_dev_init(struct vsock_dev *v, const struct vsock_backend *be, const struct dev_event_loop *loop,
		   const struct vsock_opts *opts) __must_check;
/* Closes every connection and the listener (unwatching them first). */
void vsock_dev_destroy(struct vsock_dev *v);

/* The event handler to register with the loop (a dev_event_fn; dev is the
 * struct vsock_dev). */
void vsock_handle_event(void *dev, uint32_t token, uint32_t events);

/* Processes queue (VSOCK_QUEUE_RX/TX/EVENT) and everything waiting to be
 * sent, then interrupts the guest if it asked.  0; -EIO when a queue is (or
 * was found) malformed and the device needs a reset; 0 when inactive. */
int vsock_process_queue(struct vsock_dev *v, unsigned int queue);

/*
 * Drops every connection (closing the host sockets) and sends the guest
 * VIRTIO_VSOCK_EVENT_TRANSPORT_RESET, now or, when the event queue has no
 * buffer, as soon as the driver adds one.  0, or -ENODEV when the device is
 * not active (there is no driver to tell).
 */
int vsock_send_transport_reset(struct vsock_dev *v);

void vsock_metrics_get(struct vsock_dev *v, struct vsock_metrics *m);
/* Connections in the table now. */
unsigned int vsock_conn_count(struct vsock_dev *v);

/* Snapshot: call with the VM paused. */
void vsock_save(struct vsock_dev *v, struct vsock_state *st);
/*
 * Loads st (untrusted): -EINVAL, device untouched, unless the CID is one a
 * guest may have and reset_pending is 0 or 1.  Drops every connection.  Call
 * after vmmio_restore, then vsock_send_transport_reset().
 */
int vsock_restore(struct vsock_dev *v, const struct vsock_state *st) __must_check;

#endif
