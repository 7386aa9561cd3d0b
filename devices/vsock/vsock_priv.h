/*
 * Private to the vsock unit (and its tests): the connection record, the
 * connection table (vsock_conn.c), packet sending towards the guest
 * (vsock_rx.c), guest packet handling (vsock_tx.c) and host socket events
 * (vsock_host.c).  Every function here runs with the device lock held.
 */
#ifndef KILN_VSOCK_PRIV_H
#define KILN_VSOCK_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/vsock/vsock.h"

#define VSOCK_HASH_SIZE 4096u
#define VSOCK_TOKEN_INDEX_BITS 11
/* A guest that has not answered a host connection's REQUEST within this
 * long loses it (RST) when its slot is needed (Firecracker: 2 s). */
#define VSOCK_CONNECT_TIMEOUT_MS 2000
/* The host's "CONNECT <port>\n" line: at most this many bytes. */
#define VSOCK_CMD_MAX 32

enum vsock_conn_state {
	CONN_FREE = 0,
	CONN_HOST_CMD,     /* host socket accepted, waiting for its CONNECT line */
	CONN_CONNECTING,   /* REQUEST queued/sent to the guest, waiting for RESPONSE */
	CONN_ESTABLISHED,
};

/* What a connection still has to send the guest (bits). */
enum {
	PEND_REQUEST = 1,
	PEND_RESPONSE = 2,
	PEND_SHUTDOWN = 4,     /* shut_send flags */
	PEND_CREDIT_UPDATE = 8,
	PEND_CREDIT_REQUEST = 16,
	PEND_DATA = 32,        /* the host socket is readable */
};

struct vsock_conn {
	enum vsock_conn_state state;
	int fd;
	uint32_t gen;           /* bumps at every reuse of the slot: stale tokens miss */
	uint32_t guest_port, host_port;
	uint32_t pending;       /* PEND_* */
	uint32_t shut_send;     /* SHUTDOWN flags to send the guest */
	uint32_t watched;       /* events registered with the loop; 0: not watched */
	bool host_initiated;
	uint64_t connect_ms;    /* CONN_CONNECTING since (CLOCK_MONOTONIC ms) */
	bool host_eof;          /* read 0 from the host socket */
	bool host_wr_shut;      /* shutdown(SHUT_WR) done */
	uint32_t guest_shut;    /* SHUTDOWN flags the guest sent */
	uint8_t cmd_len;        /* CONN_HOST_CMD: bytes of the line read so far */
	char cmd[VSOCK_CMD_MAX];

	/* device -> guest credit */
	uint32_t peer_buf_alloc, peer_fwd_cnt;
	uint32_t rx_cnt;        /* payload bytes sent to the guest */
	/* guest -> device: bytes waiting for the host socket */
	uint32_t fwd_cnt;       /* bytes the host socket took */
	uint32_t fwd_cnt_sent;  /* fwd_cnt as last told to the guest */
	uint8_t *buf;           /* conn_buf_size ring, allocated while non-empty */
	uint32_t buf_start, buf_len;

	uint16_t hash_next;     /* index + 1 */
	uint16_t rx_prev, rx_next; /* index + 1 in the device's rx list */
	bool in_rx_list;
};

static inline unsigned int vsock_conn_index(const struct vsock_dev *v, const struct vsock_conn *c)
{
	return (unsigned int)(c - v->conns);
}

/* Credit the guest gives this connection now (0 when it shrank below what
 * is in flight). */
static inline uint32_t vsock_conn_peer_credit(const struct vsock_conn *c)
{
	uint32_t in_flight = c->rx_cnt - c->peer_fwd_cnt;

	return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

/* vsock_conn.c: the table. */
int vsock_conns_alloc(struct vsock_dev *v) __must_check;
void vsock_conns_free(struct vsock_dev *v);
uint64_t vsock_now_ms(void);
/* No free slot, even after taking back an expired host connection (see
 * vsock_conn_new). */
bool vsock_conns_full(struct vsock_dev *v);
struct vsock_conn *vsock_conn_find(struct vsock_dev *v, uint32_t guest_port, uint32_t host_port);
/* A free slot set up for fd in state, or NULL when the table is full (after
 * taking back the slot of the oldest host connection the guest left
 * unanswered past VSOCK_CONNECT_TIMEOUT_MS, if any).  Not hashed until
 * vsock_conn_set_ports. */
struct vsock_conn *vsock_conn_new(struct vsock_dev *v, int fd, enum vsock_conn_state state);
void vsock_conn_set_ports(struct vsock_dev *v, struct vsock_conn *c, uint32_t guest_port, uint32_t host_port);
/* Ends c: unwatches and closes its fd, frees its slot; with rst (and ports
 * set) the guest gets a RST for it. */
void vsock_conn_kill(struct vsock_dev *v, struct vsock_conn *c, bool rst);
/* Every connection, no RST (device reset, transport reset). */
void vsock_conns_drop_all(struct vsock_dev *v);
/* Registers the events c needs now with the loop (or unwatches). */
void vsock_conn_update_watch(struct vsock_dev *v, struct vsock_conn *c);
/* Marks bits pending and puts c on the rx list. */
void vsock_conn_want_rx(struct vsock_dev *v, struct vsock_conn *c, uint32_t bits);
/* Takes c off the rx list. */
void vsock_conn_rx_unlink(struct vsock_dev *v, struct vsock_conn *c);
/* Queues a RST for a (guest port, host port) pair without a connection. */
void vsock_rst_queue(struct vsock_dev *v, uint32_t guest_port, uint32_t host_port);
/* Writes buffered guest bytes to the host socket; then applies a pending
 * SHUT_WR / end of connection.  May kill c (returns false then). */
bool vsock_conn_flush(struct vsock_dev *v, struct vsock_conn *c);
/* fwd_cnt moved: asks for a CREDIT_UPDATE once enough is unannounced. */
void vsock_conn_credit_check(struct vsock_dev *v, struct vsock_conn *c);

/* vsock_rx.c: towards the guest. */
void vsock_rx_process(struct vsock_dev *v);
void vsock_event_process(struct vsock_dev *v);
/* Interrupts for every queue that asked. */
void vsock_signal(struct vsock_dev *v);
/* A malformed queue (ret from virtq_pop): DEVICE_NEEDS_RESET once. */
void vsock_queue_broken(struct vsock_dev *v, int ret);

/* vsock_tx.c: from the guest. */
void vsock_tx_process(struct vsock_dev *v);

/* vsock_host.c: host socket events. */
void vsock_host_event(struct vsock_dev *v, uint32_t token, uint32_t events);

#endif
