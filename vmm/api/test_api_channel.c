/* The API/VMM call channel: calls run on the serving thread, in order; close
 * fails waiting and later calls; the eventfd tells when calls wait. */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/api/api_channel.h"
#include "vmm/api/api_fake.h"

struct caller {
	struct api_channel *ch;
	enum api_op op;
	struct api_result res;
	int ret;
	pthread_t thread;
};

static void *caller_main(void *arg)
{
	struct caller *c = arg;
	struct api_request req = { .op = c->op };

	memset(&c->res, 0, sizeof(c->res));
	c->res.op = c->op;
	c->ret = api_channel_call(c->ch, &req, &c->res);
	return NULL;
}

static bool readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, timeout_ms) == 1;
}

static pthread_t serving_thread;

static void record_thread(void *opaque, const struct api_request *req, struct api_result *res)
{
	serving_thread = pthread_self();
	api_fake_ops.handle(opaque, req, res);
}

Test(api_channel, call_runs_on_the_serving_thread)
{
	struct api_channel *ch;
	struct api_fake fake;
	struct caller c = { .op = API_OP_GET_INSTANCE_INFO };
	unsigned int served = 0;

	api_fake_init(&fake);
	cr_assert_eq(api_channel_create(&ch), 0);
	c.ch = ch;
	cr_expect_not(readable(api_channel_fd(ch), 0));
	cr_assert_eq(pthread_create(&c.thread, NULL, caller_main, &c), 0);
	cr_assert(readable(api_channel_fd(ch), 5000), "no wakeup within 5 s");
	while (!served)
		served = api_channel_serve(ch, record_thread, &fake);
	pthread_join(c.thread, NULL);
	cr_expect_eq(served, 1);
	cr_expect_eq(c.ret, 0);
	cr_expect_eq(c.res.err, 0);
	cr_expect_str_eq(c.res.u.info.id, "fake_vm");
	cr_expect(pthread_equal(serving_thread, pthread_self()));
	cr_expect_eq(fake.calls, 1);
	cr_expect_not(readable(api_channel_fd(ch), 0), "eventfd still readable after serving");
	api_channel_close(ch);
	api_channel_destroy(ch);
	api_fake_free(&fake);
}

Test(api_channel, many_callers_all_served)
{
	struct api_channel *ch;
	struct api_fake fake;
	struct caller c[8];
	unsigned int served = 0;

	api_fake_init(&fake);
	cr_assert_eq(api_channel_create(&ch), 0);
	for (int i = 0; i < 8; i++) {
		c[i] = (struct caller){ .ch = ch, .op = API_OP_GET_MACHINE_CONFIG };
		cr_assert_eq(pthread_create(&c[i].thread, NULL, caller_main, &c[i]), 0);
	}
	for (int tries = 0; served < 8 && tries < 5000; tries++) {
		if (readable(api_channel_fd(ch), 1))
			served += api_channel_serve(ch, api_fake_ops.handle, &fake);
	}
	cr_expect_eq(served, 8);
	for (int i = 0; i < 8; i++) {
		pthread_join(c[i].thread, NULL);
		cr_expect_eq(c[i].ret, 0);
		cr_expect_eq(c[i].res.u.machine.vcpu_count, 1);
	}
	api_channel_close(ch);
	api_channel_destroy(ch);
	api_fake_free(&fake);
}

Test(api_channel, close_fails_waiting_and_later_calls)
{
	struct api_channel *ch;
	struct caller c = { .op = API_OP_GET_INSTANCE_INFO };
	struct api_result res = { 0 };
	struct api_request req = { .op = API_OP_GET_VERSION };

	cr_assert_eq(api_channel_create(&ch), 0);
	c.ch = ch;
	cr_assert_eq(pthread_create(&c.thread, NULL, caller_main, &c), 0);
	cr_assert(readable(api_channel_fd(ch), 5000));
	api_channel_close(ch);
	pthread_join(c.thread, NULL);
	cr_expect_eq(c.ret, -EPIPE);
	cr_expect_str_eq(c.res.fault, API_MSG_SHUTTING_DOWN);

	cr_expect_eq(api_channel_call(ch, &req, &res), -EPIPE);
	cr_expect_eq(res.err, -EPIPE);
	api_channel_destroy(ch);
}

/* Through api_dispatch, as the server uses it. */
static void *dispatch_main(void *arg)
{
	struct api_dispatcher d = { .ops = &api_channel_backend_ops, .opaque = arg };
	struct api_response *resp = malloc(sizeof(*resp));

	api_dispatch(&d, "GET", "/", "", 0, resp);
	return resp;
}

Test(api_channel, backend_ops_for_dispatch)
{
	struct api_channel *ch;
	struct api_fake fake;
	struct api_response *resp;
	pthread_t t;
	unsigned int served = 0;

	api_fake_init(&fake);
	cr_assert_eq(api_channel_create(&ch), 0);
	cr_assert_eq(pthread_create(&t, NULL, dispatch_main, ch), 0);
	for (int tries = 0; !served && tries < 5000; tries++)
		if (readable(api_channel_fd(ch), 1))
			served = api_channel_serve(ch, api_fake_ops.handle, &fake);
	pthread_join(t, (void **)&resp);
	cr_expect_eq(resp->status, 200);
	cr_expect(strstr(resp->body, "\"state\":\"Not started\""), "%s", resp->body);
	api_response_free(resp);
	free(resp);

	/* After close the dispatcher answers 400 with the shutdown message. */
	api_channel_close(ch);
	cr_assert_eq(pthread_create(&t, NULL, dispatch_main, ch), 0);
	pthread_join(t, (void **)&resp);
	cr_expect_eq(resp->status, 400);
	cr_expect(strstr(resp->body, API_MSG_SHUTTING_DOWN), "%s", resp->body);
	api_response_free(resp);
	free(resp);
	api_channel_destroy(ch);
	api_fake_free(&fake);
}
