/*
 * Between the block unit's files (blk.c, blk_queue.c, blk_async.c,
 * blk_limits.c, blk_state.c), its tests and fuzz target; everything here runs
 * with the device lock held.
 */
#ifndef KILN_BLK_PRIV_H
#define KILN_BLK_PRIV_H

#include "devices/block/blk.h"

/* The backend's operations go through the engine's submit/reap. */
static inline bool blk_is_async(const struct blk_dev *b)
{
	return b->inflight != NULL;
}

/* The request's sectors lie inside the disk (overflow-safe). */
bool blk_in_range(const struct blk_dev *b, const struct blk_req *r);

/* Pops, answers (or submits) chains until the ring is empty or a chain has
 * to wait; commits what was submitted; interrupts the guest if it asked.
 * 0, or -EIO when the queue is malformed (the device is then broken). */
int blk_process_locked(struct blk_dev *b);

/* Interrupts the guest if what was pushed since the last call asks for it. */
void blk_signal_used(struct blk_dev *b);

/* Hands r (in b->chain) to the asynchronous backend.  0 submitted; -EBUSY:
 * the backend is full, retry after a completion; -EEXIST: that head is
 * already in flight (a malformed queue); other -errno: answer it IOERR. */
int blk_async_submit(struct blk_dev *b, const struct blk_req *r);
/* Answers the chains the backend has finished (with wait: all of them,
 * blocking).  The number answered, or -EIO if a push failed. */
int blk_async_reap(struct blk_dev *b, bool wait);
/* Reset: waits for everything in flight and forgets it, writing nothing. */
void blk_async_drop(struct blk_dev *b);
/* The table for an asynchronous backend: 0 or -ENOMEM. */
int blk_async_alloc(struct blk_dev *b);

/* Takes r's tokens (one op; its data bytes): false when throttled. */
bool blk_limits_admit(struct blk_dev *b, const struct blk_req *r, int parse_ret);
/* Gives back what blk_limits_admit took. */
void blk_limits_refund(struct blk_dev *b, const struct blk_req *r, int parse_ret);
/* (Re)watches the limiter's and the backend's fds with b->events.  0 or
 * -errno (-EINVAL: an fd to watch and no event loop). */
int blk_watch_fds(struct blk_dev *b);
void blk_unwatch_fds(struct blk_dev *b);

#endif
