/* virtio-blk on an asynchronous engine (the in-memory one, completed by the
 * test in any order): chains in flight, out-of-order completion, a full
 * backend, reset with requests in flight, a head reused while in flight,
 * requests answered without the backend, switching engines and quiescing. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>

#include "devices/block/blk_mock.h"

#define DISK (1ULL << 20)

static struct blk_mem disk;
static struct blk_amem amem;
static struct blk_mock bm;
static struct blk_mock_loop loop;
static uint8_t buf[65536];

static void start(uint32_t max_inflight, bool ro)
{
	struct blk_opts o = { .drive_id = "async", .events = &loop.loop };

	blk_mock_loop_init(&loop);
	cr_assert_eq(blk_mem_init(&disk, DISK, ro, BLK_CACHE_WRITEBACK), 0);
	for (uint64_t i = 0; i < DISK; i++)
		disk.data[i] = (uint8_t)(i * 11 + i / 512);
	cr_assert_eq(blk_amem_init(&amem, &disk.be, max_inflight), 0);
	cr_assert_eq(blk_mock_init(&bm, &amem.be, &o, ~0ULL), 0);
	bm.loop = &loop;
}

static void setup(void)
{
	start(256, false);
}

static void teardown(void)
{
	blk_mock_destroy(&bm);
	blk_amem_destroy(&amem);
	blk_mem_destroy(&disk);
	cr_assert_eq(loop.nr, 0, "every watch removed");
}

TestSuite(blk_async, .init = setup, .fini = teardown);

/* Runs the fake loop once, without waiting. */
static void events(void)
{
	blk_mock_loop_run(&loop, &bm.dev, 0);
}


Test(blk_async, watches_the_completion_eventfd)
{
	cr_assert_eq(loop.nr, 1);
	cr_assert_eq(loop.token[0], BLK_EVENT_COMPLETION);
	cr_assert_eq(loop.fd[0], amem.event_fd);
	cr_assert_eq(blk_completion_fd(&bm.dev), amem.event_fd);
}

Test(blk_async, requests_complete_through_the_loop)
{
	uint32_t used;

	amem.auto_complete = true;
	for (int i = 0; i < 8192; i++)
		buf[i] = (uint8_t)(0x5a ^ i);
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_OUT, 100, buf, 8192, &used), VIRTIO_BLK_S_OK);
	cr_assert_eq(used, 1);
	cr_assert_eq(memcmp(disk.data + 100 * 512, buf, 8192), 0);
	memset(buf, 0, 8192);
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_IN, 100, buf, 8192, &used), VIRTIO_BLK_S_OK);
	cr_assert_eq(used, 8193);
	cr_assert_eq(memcmp(disk.data + 100 * 512, buf, 8192), 0);
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, &used), VIRTIO_BLK_S_OK);
	cr_assert_eq(disk.flushes, 1, "FLUSH reaches the engine");
	cr_assert_eq(amem.submits, 3);
	cr_assert_eq(bm.dev.metrics.read_count, 1);
	cr_assert_eq(bm.dev.metrics.write_count, 1);
	cr_assert_eq(bm.dev.metrics.flush_count, 1);
}

Test(blk_async, nothing_is_answered_before_the_engine_completes)
{
	uint16_t h;
	uint32_t used;
	uint8_t st;

	blk_mock_queue(&bm, VIRTIO_BLK_T_IN, 0, bm.data, 512, NULL);
	vmock_notify(&bm.m, 0);
	cr_assert_eq(bm.dev.nr_inflight, 1);
	cr_assert_eq(blk_amem_waiting(&amem), 1, "committed");
	cr_assert_eq(vmock_used_idx(&bm.m, 0), 0);
	events();
	cr_assert_eq(vmock_used_idx(&bm.m, 0), 0, "no completion, no answer");
	cr_assert_eq(blk_amem_complete(&amem, 0), 0);
	cr_assert_eq(bm.irq_raises, 0, "not before the loop runs");
	cr_assert_eq(blk_mock_complete(&bm, &h, &used, &st), 0);
	cr_assert_eq(st, VIRTIO_BLK_S_OK);
	cr_assert_eq(used, 513);
	cr_assert_eq(bm.irq_raises, 1);
	cr_assert_eq(bm.dev.nr_inflight, 0);
}

Test(blk_async, out_of_order_completion)
{
	uint16_t heads[4], h;
	uint32_t used;
	uint8_t st;

	for (int i = 0; i < 4; i++)
		heads[i] = blk_mock_queue(&bm, VIRTIO_BLK_T_IN, 16 * i, bm.data + 8192 * i, 8192, NULL);
	vmock_notify(&bm.m, 0);
	cr_assert_eq(blk_amem_waiting(&amem), 4);
	cr_assert_eq(bm.dev.metrics.inflight_max, 4);
	cr_assert_eq(blk_amem_complete(&amem, 3), 0); /* the 4th */
	cr_assert_eq(blk_amem_complete(&amem, 1), 0); /* the 2nd */
	events();
	cr_assert_eq(blk_mock_complete(&bm, &h, &used, &st), 0);
	cr_assert_eq(h, heads[3]);
	cr_assert_eq(blk_mock_complete(&bm, &h, &used, &st), 0);
	cr_assert_eq(h, heads[1]);
	cr_assert_eq(vmock_used_next(&bm.m, 0, &(uint32_t){ 0 }, &used), -EAGAIN);
	cr_assert_eq(blk_amem_complete(&amem, 1), 0); /* the 3rd */
	cr_assert_eq(blk_amem_complete(&amem, 0), 0); /* the 1st */
	cr_assert_eq(blk_mock_complete(&bm, &h, &used, &st), 0);
	cr_assert_eq(h, heads[2]);
	cr_assert_eq(blk_mock_complete(&bm, &h, &used, &st), 0);
	cr_assert_eq(h, heads[0]);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(memcmp(vmock_host(&bm.m, bm.data + 8192 * i, 8192), disk.data + 16 * i * 512, 8192), 0);
}

Test(blk_async, engine_errors_are_ioerr)
{
	amem.auto_complete = true;
	disk.fail = -EIO;
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_IN, 0, buf, 512, NULL), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_OUT, 0, buf, 512, NULL), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(bm.dev.metrics.io_errors, 3);
	disk.fail = 0;
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_IN, 0, buf, 512, NULL), VIRTIO_BLK_S_OK);
}

Test(blk_async, answered_without_the_engine)
{
	uint64_t last = DISK / 512 - 1;
	uint32_t used;
	char id[20];

	amem.auto_complete = true;
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_IN, last, buf, 1024, &used), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(used, 0);
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_GET_ID, 0, id, 20, &used), VIRTIO_BLK_S_OK);
	cr_assert_eq(memcmp(id, "async", 5), 0);
	cr_assert_eq(blk_mock_do(&bm, 11, 0, NULL, 0, NULL), VIRTIO_BLK_S_UNSUPP);
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_IN, 0, buf, 100, NULL), VIRTIO_BLK_S_IOERR, "malformed");
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_IN, 0, buf, 0, NULL), VIRTIO_BLK_S_OK, "no data");
	cr_assert_eq(amem.submits, 0, "none of these reached the engine");
}

Test(blk_async, full_engine_keeps_the_chain_and_order)
{
	uint16_t heads[6], h;
	uint32_t used;
	uint8_t st;

	teardown();
	start(2, false);
	for (int i = 0; i < 6; i++)
		heads[i] = blk_mock_queue(&bm, VIRTIO_BLK_T_IN, i, bm.data + 512 * i, 512, NULL);
	vmock_notify(&bm.m, 0);
	cr_assert_eq(bm.dev.nr_inflight, 2);
	cr_assert(bm.dev.pending, "the 3rd waits for room");
	vmock_notify(&bm.m, 0);
	cr_assert_eq(bm.dev.nr_inflight, 2, "a kick does not overfill the engine");
	for (int i = 0; i < 6; i++) {
		cr_assert_eq(blk_amem_complete(&amem, 0), 0);
		cr_assert_eq(blk_mock_complete(&bm, &h, &used, &st), 0);
		cr_assert_eq(h, heads[i], "completion %d", i);
		cr_assert_eq(st, VIRTIO_BLK_S_OK);
	}
	cr_assert_not(bm.dev.pending);
	cr_assert_eq(bm.dev.metrics.inflight_max, 2);
}

Test(blk_async, reset_with_requests_in_flight_writes_nothing)
{
	uint8_t poison[3 * 4096];

	memset(poison, 0xee, sizeof(poison));
	vmock_write(&bm.m, bm.data, poison, sizeof(poison));
	for (int i = 0; i < 3; i++)
		blk_mock_queue(&bm, VIRTIO_BLK_T_IN, 8 * i, bm.data + 4096 * i, 4096, NULL);
	vmock_notify(&bm.m, 0);
	cr_assert_eq(bm.dev.nr_inflight, 3);
	vmock_reg_write(&bm.m, VIRTIO_MMIO_STATUS, 0); /* the driver resets the device */
	cr_assert_eq(amem.drains, 1);
	cr_assert_eq(amem.dropped, 3);
	cr_assert_eq(bm.dev.nr_inflight, 0);
	events();
	cr_assert_eq(vmock_used_idx(&bm.m, 0), 0, "nothing answered");
	cr_assert_eq(memcmp(vmock_host(&bm.m, bm.data, sizeof(poison)), poison, sizeof(poison)), 0,
		     "no data written");
	cr_assert_eq(vmock_negotiate(&bm.m, ~0ULL, 1, 0), 0);
	amem.auto_complete = true;
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_IN, 1, buf, 512, NULL), VIRTIO_BLK_S_OK);
	cr_assert_eq(memcmp(buf, disk.data + 512, 512), 0);
}

Test(blk_async, head_reused_while_in_flight_needs_reset)
{
	uint16_t head, h;
	uint32_t used;
	uint8_t st;

	head = blk_mock_queue(&bm, VIRTIO_BLK_T_IN, 0, bm.data, 512, NULL);
	vmock_notify(&bm.m, 0);
	vmock_avail_push(&bm.m, 0, head); /* the same chain again, still in flight */
	vmock_notify(&bm.m, 0);
	cr_assert(vmock_reg_read(&bm.m, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	cr_assert_eq(bm.dev.nr_inflight, 1);
	cr_assert_eq(bm.dev.metrics.queue_errors, 1);
	/* The first one, submitted before the break, is still answered once. */
	cr_assert_eq(blk_amem_complete(&amem, 0), 0);
	cr_assert_eq(blk_mock_complete(&bm, &h, &used, &st), 0);
	cr_assert_eq(h, head);
	cr_assert_eq(st, VIRTIO_BLK_S_OK);
	cr_assert_eq(vmock_used_next(&bm.m, 0, &(uint32_t){ 0 }, &used), -EAGAIN);
}

Test(blk_async, read_only_disk_never_submits_writes)
{
	teardown();
	start(256, true);
	amem.auto_complete = true;
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_OUT, 0, buf, 512, NULL), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(amem.submits, 0);
	cr_assert_eq(disk.writes, 0);
}

Test(blk_async, quiesce_answers_what_is_in_flight)
{
	uint16_t h;
	uint32_t used;
	uint8_t st;

	for (int i = 0; i < 5; i++)
		blk_mock_queue(&bm, VIRTIO_BLK_T_IN, i, bm.data + 512 * i, 512, NULL);
	vmock_notify(&bm.m, 0);
	cr_assert_eq(bm.dev.nr_inflight, 5);
	blk_dev_quiesce(&bm.dev);
	cr_assert_eq(bm.dev.nr_inflight, 0);
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(vmock_used_next(&bm.m, 0, &(uint32_t){ 0 }, &used), 0);
	}
	cr_assert_eq(blk_mock_complete(&bm, &h, &used, &st), -EAGAIN);
	cr_assert_eq(memcmp(vmock_host(&bm.m, bm.data, 5 * 512), disk.data, 5 * 512), 0);
}

Test(blk_async, switch_to_a_sync_backend_answers_in_flight_first)
{
	struct blk_mem other;
	uint16_t h;
	uint32_t used;
	uint8_t st;

	cr_assert_eq(blk_mem_init(&other, DISK, false, BLK_CACHE_WRITEBACK), 0);
	memset(other.data, 0x42, DISK);
	blk_mock_queue(&bm, VIRTIO_BLK_T_IN, 0, bm.data, 512, NULL);
	vmock_notify(&bm.m, 0);
	cr_assert_eq(blk_dev_set_backend(&bm.dev, &other.be), 0);
	cr_assert_eq(loop.nr, 0, "the eventfd is no longer watched");
	cr_assert_eq(vmock_used_next(&bm.m, 0, &(uint32_t){ 0 }, &used), 0, "answered by the old engine");
	cr_assert_eq(memcmp(vmock_host(&bm.m, bm.data, 512), disk.data, 512), 0);
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_IN, 0, buf, 512, NULL), VIRTIO_BLK_S_OK);
	cr_assert_eq(buf[0], 0x42, "the new one serves reads");
	cr_assert_eq(blk_dev_set_backend(&bm.dev, &amem.be), 0, "and back");
	cr_assert_eq(loop.nr, 1);
	amem.auto_complete = true;
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_IN, 0, buf, 512, &used), VIRTIO_BLK_S_OK);
	cr_assert_eq(memcmp(buf, disk.data, 512), 0);
	(void)h;
	(void)st;
	blk_mem_destroy(&other);
}

Test(blk_async, needs_an_event_loop)
{
	struct blk_dev d;

	cr_assert_eq(blk_dev_init(&d, &amem.be, NULL), -EINVAL);
}

/* A chain waiting for room in a full engine has taken its rate-limit
 * tokens; quiesce gives them back with the chain. */
Test(blk_async, quiesce_gives_back_a_chain_waiting_for_room)
{
	uint16_t heads[3], h;
	uint32_t used;
	uint8_t st;

	teardown();
	start(1, false);
	for (int i = 0; i < 3; i++)
		heads[i] = blk_mock_queue(&bm, VIRTIO_BLK_T_IN, i, bm.data + 512 * i, 512, NULL);
	vmock_notify(&bm.m, 0);
	cr_assert_eq(bm.dev.nr_inflight, 1);
	cr_assert(bm.dev.pending);
	cr_assert_eq(bm.dev.q->last_avail, 2);
	blk_dev_quiesce(&bm.dev);
	cr_assert_not(bm.dev.pending);
	cr_assert_eq(bm.dev.nr_inflight, 0, "the one in flight was answered");
	cr_assert_eq(bm.dev.q->last_avail, 1, "the waiting one is back on the ring");
	cr_assert_eq(blk_mock_complete(&bm, &h, &used, &st), 0);
	cr_assert_eq(h, heads[0]);
	amem.auto_complete = true;
	blk_process_queue(&bm.dev);
	for (int i = 1; i < 3; i++) {
		cr_assert_eq(blk_mock_complete(&bm, &h, &used, &st), 0);
		cr_assert_eq(h, heads[i], "in order after the quiesce");
		cr_assert_eq(st, VIRTIO_BLK_S_OK);
	}
}

Test(blk_async, unknown_event_tokens_are_ignored)
{
	blk_mock_queue(&bm, VIRTIO_BLK_T_IN, 0, bm.data, 512, NULL);
	vmock_notify(&bm.m, 0);
	cr_assert_eq(blk_amem_complete(&amem, 0), 0);
	blk_dev_event(&bm.dev, 77, EPOLLIN);
	cr_assert_eq(vmock_used_idx(&bm.m, 0), 0);
	blk_dev_event(&bm.dev, BLK_EVENT_COMPLETION, EPOLLIN);
	cr_assert_eq(vmock_used_idx(&bm.m, 0), 1);
}

Test(blk_async, a_device_without_loop_cannot_switch_to_async)
{
	struct blk_mock plain;

	cr_assert_eq(blk_mock_init(&plain, &disk.be, NULL, ~0ULL), 0);
	cr_assert_eq(blk_dev_set_backend(&plain.dev, &amem.be), -EINVAL);
	cr_assert_eq(blk_completion_fd(&plain.dev), -1);
	blk_mock_destroy(&plain);
}

/* A chain waiting for room in the old engine is not left behind. */
Test(blk_async, switching_backends_serves_a_waiting_chain)
{
	struct blk_mem other;
	uint16_t heads[2], h;
	uint32_t used;
	uint8_t st;

	teardown();
	start(1, false);
	cr_assert_eq(blk_mem_init(&other, DISK, false, BLK_CACHE_WRITEBACK), 0);
	memset(other.data, 0x42, DISK);
	for (int i = 0; i < 2; i++)
		heads[i] = blk_mock_queue(&bm, VIRTIO_BLK_T_IN, i, bm.data + 512 * i, 512, NULL);
	vmock_notify(&bm.m, 0);
	cr_assert(bm.dev.pending);
	cr_assert_eq(blk_dev_set_backend(&bm.dev, &other.be), 0);
	cr_assert_not(bm.dev.pending);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(blk_mock_complete(&bm, &h, &used, &st), 0);
		cr_assert_eq(h, heads[i]);
		cr_assert_eq(st, VIRTIO_BLK_S_OK);
	}
	cr_assert_eq(*(uint8_t *)vmock_host(&bm.m, bm.data, 1), disk.data[0], "the first from the old engine");
	cr_assert_eq(*(uint8_t *)vmock_host(&bm.m, bm.data + 512, 1), 0x42, "the second from the new one");
	blk_mem_destroy(&other);
}
