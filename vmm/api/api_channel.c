/* Call queue between the API thread and the VMM thread; see api_channel.h. */
#include "vmm/api/api_channel.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* Lives on the caller's stack until done. */
struct api_call {
	const struct api_request *req;
	struct api_result *res;
	bool done;
	bool refused; /* failed by api_channel_close, never run */
	struct api_call *next;
};

struct api_channel {
	pthread_mutex_t lock;
	pthread_cond_t cond;  /* a call is done */
	struct api_call *head, **tail;
	bool closed;
	int evt;
};

int api_channel_create(struct api_channel **out)
{
	struct api_channel *ch = calloc(1, sizeof(*ch));
	int ret;

	if (!ch)
		return -ENOMEM;
	ch->evt = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ch->evt < 0) {
		ret = -errno;
		free(ch);
		return ret;
	}
	pthread_mutex_init(&ch->lock, NULL);
	pthread_cond_init(&ch->cond, NULL);
	ch->tail = &ch->head;
	*out = ch;
	return 0;
}

void api_channel_destroy(struct api_channel *ch)
{
	if (!ch)
		return;
	close(ch->evt);
	pthread_cond_destroy(&ch->cond);
	pthread_mutex_destroy(&ch->lock);
	free(ch);
}

int api_channel_fd(const struct api_channel *ch)
{
	return ch->evt;
}

int api_channel_call(struct api_channel *ch, const struct api_request *req, struct api_result *res)
{
	struct api_call call = { .req = req, .res = res };
	uint64_t one = 1;

	pthread_mutex_lock(&ch->lock);
	if (ch->closed) {
		pthread_mutex_unlock(&ch->lock);
		api_result_fail(res, -EPIPE, "%s", API_MSG_SHUTTING_DOWN);
		return -EPIPE;
	}
	*ch->tail = &call;
	ch->tail = &call.next;
	pthread_mutex_unlock(&ch->lock);

	/* Only fails if the counter would overflow, which a pending read prevents. */
	if (write(ch->evt, &one, sizeof(one)) < 0) {
	}

	pthread_mutex_lock(&ch->lock);
	while (!call.done)
		pthread_cond_wait(&ch->cond, &ch->lock);
	pthread_mutex_unlock(&ch->lock);
	return call.refused ? -EPIPE : 0;
}

static struct api_call *api_channel_pop(struct api_channel *ch)
{
	struct api_call *call = ch->head;

	if (call) {
		ch->head = call->next;
		if (!ch->head)
			ch->tail = &ch->head;
	}
	return call;
}

unsigned int api_channel_serve(struct api_channel *ch, api_handle_fn handle, void *opaque)
{
	unsigned int served = 0;
	uint64_t n;

	if (read(ch->evt, &n, sizeof(n)) < 0) {
		/* EAGAIN: nothing signalled; the queue may still hold calls. */
	}
	for (;;) {
		struct api_call *call;

		pthread_mutex_lock(&ch->lock);
		call = api_channel_pop(ch);
		pthread_mutex_unlock(&ch->lock);
		if (!call)
			break;
		handle(opaque, call->req, call->res);
		pthread_mutex_lock(&ch->lock);
		call->done = true;
		pthread_cond_broadcast(&ch->cond);
		pthread_mutex_unlock(&ch->lock);
		served++;
	}
	return served;
}

void api_channel_close(struct api_channel *ch)
{
	struct api_call *call;

	pthread_mutex_lock(&ch->lock);
	ch->closed = true;
	while ((call = api_channel_pop(ch))) {
		api_result_fail(call->res, -EPIPE, "%s", API_MSG_SHUTTING_DOWN);
		call->refused = true;
		call->done = true;
	}
	pthread_cond_broadcast(&ch->cond);
	pthread_mutex_unlock(&ch->lock);
}

static void api_channel_handle(void *opaque, const struct api_request *req, struct api_result *res)
{
	if (api_channel_call(opaque, req, res)) {
		/* res already carries the shutdown fault */
	}
}

const struct api_backend_ops api_channel_backend_ops = { .handle = api_channel_handle };
