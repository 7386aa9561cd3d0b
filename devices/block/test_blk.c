/* virtio-blk through the virtio-mmio transport, driven by the mock driver,
 * on the in-memory backend: negotiation and config space, reads and writes
 * in every layout, the end of the disk, read-only, flush, GET_ID, UNSUPP,
 * malformed requests and chains, notification suppression and the kick hook.
 *
 * Built a second time with BLK_TEST_URING (test blk_on_uring): the same
 * tests on the Async engine (io_uring) over a temporary file that disk.data
 * maps (MAP_SHARED), so the checks see what the engine read and wrote;
 * completions come through the fake event loop.  The few tests that need
 * the in-memory backend's counters or fault injection are left out there. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "devices/block/blk_mock.h"

#ifdef BLK_TEST_URING
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#endif

#define DISK (1ULL << 20) /* 2048 sectors */
#define V1 VIRTIO_FEATURE(VIRTIO_F_VERSION_1)
#define ALL (~0ULL)

static struct blk_mem disk;
static struct blk_mock bm;
static struct blk_backend test_be; /* the backend under test */

#ifdef BLK_TEST_URING
static struct blk_uring *uring;
static struct blk_mock_loop loop;
static char path[64];

static void start(bool ro, enum blk_cache_type cache, uint64_t features)
{
	struct blk_opts o = { .drive_id = "kiln-disk-0", .events = &loop.loop };
	int fd, ret;

	if (!blk_uring_supported())
		cr_skip_test("built without liburing");
	strcpy(path, "/tmp/kiln-blk-uring-XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, DISK), 0);
	disk.data = mmap(NULL, DISK, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	cr_assert_neq(disk.data, MAP_FAILED);
	close(fd);
	disk.size = DISK;
	for (uint64_t i = 0; i < DISK; i++)
		disk.data[i] = (uint8_t)(i * 13 + i / 512);
	ret = blk_uring_open(&uring, path, ro, cache, BLK_QUEUE_SIZE);
	if (ret == -ENOSYS || ret == -EPERM)
		cr_skip_test("io_uring not available here");
	cr_assert_eq(ret, 0);
	test_be = *blk_uring_backend(uring);
	blk_mock_loop_init(&loop);
	cr_assert_eq(blk_mock_init(&bm, &test_be, &o, features), 0);
	bm.loop = &loop;
}

static void teardown(void)
{
	blk_mock_destroy(&bm);
	blk_uring_close(uring);
	munmap(disk.data, DISK);
	disk.data = NULL;
	unlink(path);
}
#else
static void start(bool ro, enum blk_cache_type cache, uint64_t features)
{
	struct blk_opts o = { .drive_id = "kiln-disk-0" };

	cr_assert_eq(blk_mem_init(&disk, DISK, ro, cache), 0);
	for (uint64_t i = 0; i < DISK; i++)
		disk.data[i] = (uint8_t)(i * 13 + i / 512);
	test_be = disk.be;
	cr_assert_eq(blk_mock_init(&bm, &disk.be, &o, features), 0);
}

static void teardown(void)
{
	blk_mock_destroy(&bm);
	blk_mem_destroy(&disk);
}
#endif

static void setup(void)
{
	start(false, BLK_CACHE_WRITEBACK, ALL);
}

TestSuite(blk, .init = setup, .fini = teardown);

static uint8_t buf[65536], back[65536];

static uint32_t cfg32(uint64_t off)
{
	return vmock_reg_read(&bm.m, VIRTIO_MMIO_CONFIG + off);
}

Test(blk, init_refuses_bad_backends)
{
	struct blk_dev d;
	struct blk_backend be = test_be;
	struct blk_opts o = { .queue_size = 100 };

	cr_assert_eq(blk_dev_init(&d, &be, &o), -EINVAL, "queue size not a power of two");
	o.queue_size = 2;
	cr_assert_eq(blk_dev_init(&d, &be, &o), -EINVAL, "too small for seg_max");
	be.size = 511;
	cr_assert_eq(blk_dev_init(&d, &be, NULL), -EINVAL, "less than a sector");
	be = test_be;
	be.ops = NULL;
	cr_assert_eq(blk_dev_init(&d, &be, NULL), -EINVAL);
}

Test(blk, identity_features_and_config)
{
	uint64_t f = vmock_device_features(&bm.m);

	cr_assert_eq(vmock_reg_read(&bm.m, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_BLOCK);
	cr_assert(f & V1);
	cr_assert(f & VIRTIO_FEATURE(VIRTIO_F_RING_EVENT_IDX));
	cr_assert(f & VIRTIO_FEATURE(VIRTIO_F_RING_INDIRECT_DESC));
	cr_assert(f & VIRTIO_FEATURE(VIRTIO_BLK_F_SEG_MAX));
	cr_assert(f & VIRTIO_FEATURE(VIRTIO_BLK_F_BLK_SIZE));
	cr_assert(f & VIRTIO_FEATURE(VIRTIO_BLK_F_FLUSH), "Writeback offers FLUSH");
	cr_assert_not(f & VIRTIO_FEATURE(VIRTIO_BLK_F_RO));
	cr_assert_eq(cfg32(0), DISK / 512, "capacity low");
	cr_assert_eq(cfg32(4), 0, "capacity high");
	cr_assert_eq(cfg32(12), 254, "seg_max = queue size - 2");
	cr_assert_eq(cfg32(20), 512, "blk_size");
	cr_assert_eq(cfg32(36), 0, "beyond the config space");
	cr_assert_eq(vmock_reg_read(&bm.m, VIRTIO_MMIO_QUEUE_NUM_MAX), 256);
}

Test(blk, read_returns_disk_contents)
{
	uint32_t used;

	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_IN, 3, buf, 4096, &used), VIRTIO_BLK_S_OK);
	cr_assert_eq(memcmp(buf, disk.data + 3 * 512, 4096), 0);
	cr_assert_eq(used, 4097, "data and status");
}

Test(blk, write_then_read_back)
{
	uint32_t used;

	for (int i = 0; i < 8192; i++)
		buf[i] = (uint8_t)(0xc3 ^ i);
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_OUT, 100, buf, 8192, &used), VIRTIO_BLK_S_OK);
	cr_assert_eq(used, 1, "only the status was written");
	cr_assert_eq(memcmp(disk.data + 100 * 512, buf, 8192), 0);
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_IN, 100, back, 8192, NULL), VIRTIO_BLK_S_OK);
	cr_assert_eq(memcmp(back, buf, 8192), 0);
}

/* Queues one request with layout l and returns its status. */
static uint8_t run(uint32_t type, uint64_t sector, uint32_t len, const struct blk_mock_layout *l, uint32_t *used)
{
	uint16_t head, h;
	uint8_t status;

	head = blk_mock_queue(&bm, type, sector, bm.data, len, l);
	vmock_notify(&bm.m, 0);
	cr_assert_eq(blk_mock_complete(&bm, &h, used, &status), 0);
	cr_assert_eq(h, head);
	return status;
}

Test(blk, scattered_and_indirect_layouts)
{
	struct blk_mock_layout layouts[] = {
		{ .data_segs = 8 },
		{ .data_segs = 3, .merge_status = true },
		{ .data_segs = 1, .indirect = true },
		{ .data_segs = 16, .indirect = true, .merge_status = true },
		{ .data_segs = 254 },
	};
	uint32_t used;

	for (unsigned int i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
		for (int j = 0; j < 16384; j++)
			buf[j] = (uint8_t)(i * 31 + j);
		vmock_write(&bm.m, bm.data, buf, 16384);
		cr_assert_eq(run(VIRTIO_BLK_T_OUT, 8 * i, 16384, &layouts[i], &used), VIRTIO_BLK_S_OK, "layout %u", i);
		cr_assert_eq(memcmp(disk.data + 8 * i * 512, buf, 16384), 0, "layout %u", i);
		memset(vmock_host(&bm.m, bm.data, 16384), 0, 16384);
		cr_assert_eq(run(VIRTIO_BLK_T_IN, 8 * i, 16384, &layouts[i], &used), VIRTIO_BLK_S_OK, "layout %u", i);
		cr_assert_eq(used, 16385);
		cr_assert_eq(memcmp(vmock_host(&bm.m, bm.data, 16384), buf, 16384), 0, "layout %u", i);
	}
}

Test(blk, last_sector_and_past_the_end)
{
	uint64_t last = DISK / 512 - 1;
	uint32_t used;

	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_IN, last, buf, 512, NULL), VIRTIO_BLK_S_OK);
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_IN, last, buf, 1024, &used), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(used, 0, "nothing claimed written");
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_IN, last + 1, buf, 512, NULL), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_IN, ~0ULL, buf, 512, NULL), VIRTIO_BLK_S_IOERR, "sector overflow");
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_IN, 1ULL << 55, buf, 512, NULL), VIRTIO_BLK_S_IOERR,
		     "byte offset overflow");
	memset(buf, 0xee, 1024);
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_OUT, last, buf, 1024, NULL), VIRTIO_BLK_S_IOERR);
	cr_assert_neq(disk.data[last * 512], 0xee, "a failed write writes nothing");
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_IN, DISK / 512, buf, 0, NULL), VIRTIO_BLK_S_OK,
		     "zero sectors at the end");
	cr_assert_eq(bm.dev.metrics.io_errors, 5);
}

#ifndef BLK_TEST_URING /* the in-memory backend's counters, fault injection or a second device */
Test(blk, flush_reaches_the_backend)
{
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL), VIRTIO_BLK_S_OK);
	cr_assert_eq(disk.flushes, 1);
}
#endif

Test(blk, get_id)
{
	char id[20];
	uint32_t used;

	memset(id, 0x55, sizeof(id));
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_GET_ID, 0, id, 20, &used), VIRTIO_BLK_S_OK);
	cr_assert_eq(used, 21);
	cr_assert_eq(memcmp(id, "kiln-disk-0\0\0\0\0\0\0\0\0\0", 20), 0, "NUL-padded");
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_GET_ID, 0, id, 16, NULL), VIRTIO_BLK_S_IOERR,
		     "the id buffer must be 20 bytes");
}

#ifndef BLK_TEST_URING /* the in-memory backend's counters, fault injection or a second device */
Test(blk, get_id_of_exactly_20_bytes_has_no_nul)
{
	struct blk_mock b2;
	struct blk_opts o = { .drive_id = "0123456789abcdefghijKLMN" };
	char id[20];

	cr_assert_eq(blk_mock_init(&b2, &disk.be, &o, ALL), 0);
	cr_assert_eq(blk_mock_do(&b2, VIRTIO_BLK_T_GET_ID, 0, id, 20, NULL), VIRTIO_BLK_S_OK);
	cr_assert_eq(memcmp(id, "0123456789abcdefghij", 20), 0);
	blk_mock_destroy(&b2);
}
#endif

Test(blk, unsupported_types)
{
	uint32_t used;

	cr_assert_eq(blk_mock_do(&bm, 11 /* DISCARD */, 0, NULL, 0, &used), VIRTIO_BLK_S_UNSUPP);
	cr_assert_eq(used, 1);
	cr_assert_eq(blk_mock_do(&bm, 0x80000000u, 0, NULL, 0, NULL), VIRTIO_BLK_S_UNSUPP);
	cr_assert_eq(bm.dev.metrics.unsupported, 2);
}

#ifndef BLK_TEST_URING /* the in-memory backend's counters, fault injection or a second device */
Test(blk, backend_errors_are_ioerr)
{
	disk.fail = -EIO;
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_IN, 0, buf, 512, NULL), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_OUT, 0, buf, 512, NULL), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL), VIRTIO_BLK_S_IOERR);
	disk.fail = 0;
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_IN, 0, buf, 512, NULL), VIRTIO_BLK_S_OK, "not sticky");
}
#endif

Test(blk, request_without_status_byte_is_returned_empty)
{
	uint16_t head, h;
	uint32_t used;
	uint8_t st;
	struct vmock_buf b[2] = { { bm.slots, 16, false }, { bm.data, 512, false } };

	vmock_chain_add(&bm.m, 0, b, 2, &head);
	vmock_avail_push(&bm.m, 0, head);
	bm.status_of[head] = bm.data; /* no status anywhere; read something */
	vmock_notify(&bm.m, 0);
	cr_assert_eq(blk_mock_complete(&bm, &h, &used, &st), 0);
	cr_assert_eq(h, head);
	cr_assert_eq(used, 0);
	cr_assert_eq(bm.dev.metrics.dropped, 1);
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_IN, 0, buf, 512, NULL), VIRTIO_BLK_S_OK, "device still works");
}

Test(blk, header_in_a_writable_buffer_is_ioerr)
{
	uint16_t head, h;
	uint32_t used;
	uint8_t st;
	struct vmock_buf b[2] = { { bm.slots, 16, true }, { bm.slots + 16, 1, true } };

	blk_mock_queue(&bm, VIRTIO_BLK_T_IN, 0, bm.data, 512, NULL); /* writes a valid header */
	cr_assert_eq(blk_mock_complete(&bm, &h, &used, &st), -EAGAIN);
	vmock_notify(&bm.m, 0);
	cr_assert_eq(blk_mock_complete(&bm, &h, &used, &st), 0);
	vmock_chain_add(&bm.m, 0, b, 2, &head);
	vmock_avail_push(&bm.m, 0, head);
	bm.status_of[head] = bm.slots + 16;
	vmock_notify(&bm.m, 0);
	cr_assert_eq(blk_mock_complete(&bm, &h, &used, &st), 0);
	cr_assert_eq(st, VIRTIO_BLK_S_IOERR);
	cr_assert_eq(bm.dev.metrics.invalid, 1);
}

Test(blk, malformed_chain_needs_reset_then_recovers)
{
	uint32_t used;
	uint16_t h;
	uint8_t st;

	/* A good request, then a chain pointing outside RAM, in one batch. */
	blk_mock_queue(&bm, VIRTIO_BLK_T_IN, 0, bm.data, 512, NULL);
	vmock_desc_write(&bm.m, 0, 200, 0x10, 16, 0, 0);
	vmock_avail_push(&bm.m, 0, 200);
	vmock_notify(&bm.m, 0);
	cr_assert(vmock_reg_read(&bm.m, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	cr_assert_eq(blk_mock_complete(&bm, &h, &used, &st), 0, "the good one completed");
	cr_assert_eq(st, VIRTIO_BLK_S_OK);
	cr_assert_eq(bm.dev.metrics.queue_errors, 1);
	cr_assert(vmock_reg_read(&bm.m, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_ISR_CONFIG);
	cr_assert(vmock_reg_read(&bm.m, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_ISR_USED);

	blk_mock_queue(&bm, VIRTIO_BLK_T_IN, 0, bm.data, 512, NULL);
	vmock_notify(&bm.m, 0);
	cr_assert_eq(blk_process_queue(&bm.dev), -EIO);
	cr_assert_eq(blk_mock_complete(&bm, &h, &used, &st), -EAGAIN, "nothing processed while broken");
	cr_assert_eq(bm.dev.metrics.queue_errors, 1, "reported once");

	cr_assert_eq(vmock_negotiate(&bm.m, ALL, 1, 0), 0, "the driver resets and starts over");
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_IN, 1, buf, 512, NULL), VIRTIO_BLK_S_OK);
	cr_assert_eq(memcmp(buf, disk.data + 512, 512), 0);
}

Test(blk, batch_gets_one_interrupt)
{
	uint16_t h;
	uint32_t used;
	uint8_t st;
	unsigned int before = bm.irq_raises;

	for (int i = 0; i < 32; i++)
		blk_mock_queue(&bm, VIRTIO_BLK_T_IN, i, bm.data + 512 * i, 512, NULL);
	vmock_notify(&bm.m, 0);
	for (int i = 0; i < 32; i++) {
		cr_assert_eq(blk_mock_complete(&bm, &h, &used, &st), 0);
		cr_assert_eq(st, VIRTIO_BLK_S_OK);
	}
#ifdef BLK_TEST_URING
	cr_assert_geq(bm.irq_raises - before, 1, "completions may come in more than one batch");
	cr_assert_leq(bm.irq_raises - before, 32);
#else
	cr_assert_eq(bm.irq_raises - before, 1);
#endif
	cr_assert_eq(memcmp(vmock_host(&bm.m, bm.data, 32 * 512), disk.data, 32 * 512), 0);
}

Test(blk, event_idx_suppresses_interrupts)
{
	unsigned int before;

	/* Linux with EVENT_IDX: used_event = the used idx it wants to hear of. */
	vmock_used_event_set(&bm.m, 0, 3);
	before = bm.irq_raises;
	for (int i = 0; i < 3; i++)
		cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL), VIRTIO_BLK_S_OK);
	cr_assert_eq(bm.irq_raises, before, "entries 0..2 are before used_event");
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL), VIRTIO_BLK_S_OK);
	cr_assert_eq(bm.irq_raises, before + 1, "entry 3 is used_event");
	cr_assert_eq(vmock_avail_event(&bm.m, 0), 4, "the device asks for the next kick");
}

Test(blk, idle_device_and_spurious_notifies)
{
	cr_assert_eq(blk_process_queue(&bm.dev), 0);
	vmock_notify(&bm.m, 0);
	cr_assert_eq(bm.irq_raises, 0);
}

Test(blk, processing_an_inactive_device_is_a_no_op)
{
	vmock_reg_write(&bm.m, VIRTIO_MMIO_STATUS, 0);
	cr_assert_eq(blk_process_queue(&bm.dev), 0);
}

Test(blk, needs_the_request_queue)
{
	/* DRIVER_OK with queue 0 never made ready: the device refuses. */
	vmock_reg_write(&bm.m, VIRTIO_MMIO_STATUS, 0);
	vmock_reg_write(&bm.m, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	vmock_reg_write(&bm.m, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vmock_reg_write(&bm.m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	vmock_reg_write(&bm.m, VIRTIO_MMIO_DRIVER_FEATURES, 1);
	vmock_reg_write(&bm.m, VIRTIO_MMIO_STATUS,
			VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	vmock_reg_write(&bm.m, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
							   VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	cr_assert(vmock_reg_read(&bm.m, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

/* Read-only disk. */
static void setup_ro(void)
{
	start(true, BLK_CACHE_UNSAFE, ALL);
}

TestSuite(blk_ro, .init = setup_ro, .fini = teardown);

Test(blk_ro, offers_ro_and_no_flush)
{
	uint64_t f = vmock_device_features(&bm.m);

	cr_assert(f & VIRTIO_FEATURE(VIRTIO_BLK_F_RO));
	cr_assert_not(f & VIRTIO_FEATURE(VIRTIO_BLK_F_FLUSH), "Unsafe cache: no FLUSH");
}

Test(blk_ro, writes_fail_and_change_nothing)
{
	uint8_t before[512];

	memcpy(before, disk.data, 512);
	memset(buf, 0, 512);
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_OUT, 0, buf, 512, NULL), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(memcmp(disk.data, before, 512), 0);
#ifndef BLK_TEST_URING
	cr_assert_eq(disk.writes, 0, "the backend never saw it");
#endif
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_IN, 0, buf, 512, NULL), VIRTIO_BLK_S_OK);
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL), VIRTIO_BLK_S_OK);
}

/* Driver without EVENT_IDX or INDIRECT_DESC: plain interrupts, and an
 * indirect descriptor is a malformed chain. */
static void setup_plain(void)
{
	start(false, BLK_CACHE_WRITEBACK, V1);
}

TestSuite(blk_plain, .init = setup_plain, .fini = teardown);

Test(blk_plain, every_completion_interrupts)
{
	for (int i = 0; i < 3; i++)
		cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL), VIRTIO_BLK_S_OK);
	cr_assert_eq(bm.irq_raises, 3);
}

Test(blk_plain, indirect_not_negotiated)
{
	struct blk_mock_layout l = { .data_segs = 1, .indirect = true };

	blk_mock_queue(&bm, VIRTIO_BLK_T_IN, 0, bm.data, 512, &l);
	vmock_notify(&bm.m, 0);
	cr_assert(vmock_reg_read(&bm.m, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

#ifndef BLK_TEST_URING /* the kick hook, on the in-memory backend */
/* Notifications handed to the VMM thread. */
static unsigned int kicks;

static void kick(void *opaque)
{
	kicks++;
}

Test(blk_kick, notify_only_kicks)
{
	struct blk_opts o = { .kick = kick };
	uint16_t h;
	uint32_t used;
	uint8_t st;

	kicks = 0;
	cr_assert_eq(blk_mem_init(&disk, DISK, false, BLK_CACHE_UNSAFE), 0);
	cr_assert_eq(blk_mock_init(&bm, &disk.be, &o, ALL), 0);
	blk_mock_queue(&bm, VIRTIO_BLK_T_IN, 0, bm.data, 512, NULL);
	vmock_notify(&bm.m, 0);
	cr_assert_eq(kicks, 1);
	cr_assert_eq(blk_mock_complete(&bm, &h, &used, &st), -EAGAIN, "not processed on the vCPU");
	cr_assert_eq(blk_process_queue(&bm.dev), 0);
	cr_assert_eq(blk_mock_complete(&bm, &h, &used, &st), 0);
	cr_assert_eq(st, VIRTIO_BLK_S_OK);
	teardown();
}

#endif

/* PATCH /drives: a new image behind the running device. */
Test(blk, set_backend_swaps_image_and_capacity)
{
	struct blk_mem other, ro;
	uint32_t used;

	cr_assert_eq(blk_mem_init(&other, 8192, false, BLK_CACHE_WRITEBACK), 0);
	memset(other.data, 0x77, other.size);
	cr_assert_eq(blk_dev_set_backend(&bm.dev, &other.be), 0);
	cr_assert_eq(blk_dev_capacity(&bm.dev), 16);
	cr_assert_eq(cfg32(0), 16, "config space shows the new capacity");
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_IN, 15, buf, 512, &used), VIRTIO_BLK_S_OK);
	cr_assert_eq(buf[0], 0x77, "reads come from the new image");
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_IN, 16, buf, 512, &used), VIRTIO_BLK_S_IOERR,
		     "the end of the new image");

	cr_assert_eq(blk_mem_init(&ro, 8192, true, BLK_CACHE_WRITEBACK), 0);
	cr_assert_eq(blk_dev_set_backend(&bm.dev, &ro.be), -EINVAL, "read-only flag must not change");
	other.be.cache = BLK_CACHE_UNSAFE;
	cr_assert_eq(blk_dev_set_backend(&bm.dev, &other.be), -EINVAL, "cache type must not change");
	other.be.cache = BLK_CACHE_WRITEBACK;
	other.be.size = 100;
	cr_assert_eq(blk_dev_set_backend(&bm.dev, &other.be), -EINVAL, "less than a sector");
	cr_assert_eq(blk_dev_capacity(&bm.dev), 16, "refusals change nothing");
	cr_assert_eq(blk_dev_set_backend(&bm.dev, &test_be), 0);
	cr_assert_eq(blk_mock_do(&bm, VIRTIO_BLK_T_IN, 2047, buf, 512, &used), VIRTIO_BLK_S_OK, "back");
	blk_mem_destroy(&ro);
	blk_mem_destroy(&other);
}
