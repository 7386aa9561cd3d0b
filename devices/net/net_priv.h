/* Shared by the virtio-net sources (and their tests): the processing steps
 * net.c drives.  All run with the device lock held. */
#ifndef KILN_NET_PRIV_H
#define KILN_NET_PRIV_H

#include "devices/net/net.h"

#define NET_HAS(d, bit) (((d)->acked & VIRTIO_FEATURE(bit)) != 0)

/* Frames read from the backend per call before yielding to the loop (the
 * fd stays readable, so level-triggered epoll calls again). */
#define NET_RX_BUDGET 256

/* Receive: deliver the held frame and read more until the backend is empty,
 * the guest has no buffer, the limiter says stop or the budget is spent.
 * 0, or -EIO when the queue turned out malformed. */
int net_rx_run(struct net_dev *d);
/* Forget the chains held for a frame (the transport reset the queue). */
void net_rx_forget_chains(struct net_dev *d);

/* Transmit: send a held frame, then pop and send until the queue is empty,
 * the backend is full or the limiter says stop.  0 or -EIO. */
int net_tx_run(struct net_dev *d);

/* Makes the loop watch the backend fd for what the device waits for now. */
void net_watch_update(struct net_dev *d);

/* DEVICE_NEEDS_RESET once, counted. */
void net_broken(struct net_dev *d, int err);

/* Used-buffer notification for q if the driver wants one. */
void net_signal_used(struct net_dev *d, struct virtq *q);

#endif
