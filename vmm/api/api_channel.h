/*
 * The hand-over between the API thread and the VMM thread: a queue of calls
 * plus an eventfd the VMM's event loop polls.  The API thread posts a typed
 * request and sleeps until the VMM thread has run it and filled the result;
 * the VMM thread never blocks on the API thread.
 *
 * api_channel_backend_ops (opaque = the channel) plugs the channel into
 * api_dispatch, so the socket layer never sees the VMM.
 */
#ifndef KILN_API_CHANNEL_H
#define KILN_API_CHANNEL_H

#include "vmm/api/api.h"
#include "vmm/compiler.h"

#define API_MSG_SHUTTING_DOWN "The VMM is shutting down."

struct api_channel;

int api_channel_create(struct api_channel **out) __must_check;
/* Call after api_channel_close and after every caller has returned. */
void api_channel_destroy(struct api_channel *ch);

/* Readable when calls wait (EPOLLIN); the VMM polls it. */
int api_channel_fd(const struct api_channel *ch);

/* API side: queues req and waits for res.  -EPIPE (res failed with
 * API_MSG_SHUTTING_DOWN) when the channel is closed. */
int api_channel_call(struct api_channel *ch, const struct api_request *req,
		     struct api_result *res) __must_check;

/* VMM side: runs every queued call through handle(opaque, ...) and wakes its
 * caller.  Returns how many calls ran. */
typedef void (*api_handle_fn)(void *opaque, const struct api_request *req, struct api_result *res);
unsigned int api_channel_serve(struct api_channel *ch, api_handle_fn handle, void *opaque);

/* VMM side, when it stops serving: fails queued and later calls with -EPIPE. */
void api_channel_close(struct api_channel *ch);

extern const struct api_backend_ops api_channel_backend_ops;

#endif
