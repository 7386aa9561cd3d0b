/* virtio-blk snapshot state: the round trip into a device built from the
 * same configuration, and restores that must be refused (changing nothing). */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "devices/block/blk_mock.h"

#define DISK (1ULL << 20)
#define SEC 1000000000ull

static uint64_t fake_now = 50 * SEC;

static uint64_t fake_clock(void)
{
	return fake_now;
}

static struct blk_mem disk;
static struct blk_mock a, b;
static struct blk_mock_loop loop;
static const struct ratelimit_config rl = { .bandwidth = { 1 << 20, 4096, 1000 }, .ops = { 100, 0, 1000 } };

static void setup(void)
{
	struct blk_opts o = { .drive_id = "snap", .rate_limiter = &rl, .rl_now_ns = fake_clock,
			      .events = &loop.loop };

	blk_mock_loop_init(&loop);
	cr_assert_eq(blk_mem_init(&disk, DISK, false, BLK_CACHE_WRITEBACK), 0);
	cr_assert_eq(blk_mock_init(&a, &disk.be, &o, ~0ULL), 0);
	o.drive_id = "other";
	cr_assert_eq(blk_mock_init(&b, &disk.be, &o, ~0ULL), 0);
}

static void teardown(void)
{
	blk_mock_destroy(&a);
	blk_mock_destroy(&b);
	blk_mem_destroy(&disk);
}

TestSuite(blk_state, .init = setup, .fini = teardown);

Test(blk_state, round_trip)
{
	static uint8_t buf[65536];
	struct blk_state st, st2;

	cr_assert_eq(blk_mock_do(&a, VIRTIO_BLK_T_IN, 0, buf, 65536, NULL), VIRTIO_BLK_S_OK);
	blk_dev_quiesce(&a.dev);
	blk_state_save(&a.dev, &st);
	cr_assert_eq(st.capacity, DISK / 512);
	cr_assert_eq(st.features, a.dev.features);
	cr_assert_eq(memcmp(st.id, "snap\0", 5), 0);
	cr_assert_eq(st.broken, 0);
	cr_assert_eq(st.rl_bw.budget, (1 << 20) - (65536 - 4096), "burst spent first");
	cr_assert_eq(st.rl_bw.burst_left, 0);
	cr_assert_eq(st.rl_ops.budget, 99);

	fake_now += 1000 * SEC; /* another process, later */
	cr_assert_eq(blk_state_restore(&b.dev, &st), 0);
	blk_state_save(&b.dev, &st2);
	cr_assert_eq(st2.rl_bw.last_refill_ns, fake_now, "the refill clock restarts");
	st2.rl_bw.last_refill_ns = st.rl_bw.last_refill_ns;
	st2.rl_ops.last_refill_ns = st.rl_ops.last_refill_ns;
	cr_assert_eq(memcmp(&st, &st2, sizeof(st)), 0);
	char id[20];
	cr_assert_eq(blk_mock_do(&b, VIRTIO_BLK_T_GET_ID, 0, id, 20, NULL), VIRTIO_BLK_S_OK);
	cr_assert_eq(memcmp(id, "snap", 5), 0, "the restored id is served");
}

Test(blk_state, broken_flag_survives)
{
	struct blk_state st;

	blk_state_save(&a.dev, &st);
	st.broken = 1;
	cr_assert_eq(blk_state_restore(&b.dev, &st), 0);
	cr_assert_eq(blk_process_queue(&b.dev), -EIO, "processes nothing until reset");
}

Test(blk_state, smaller_capacity_is_fine)
{
	struct blk_state st;

	blk_state_save(&a.dev, &st);
	st.capacity = 16;
	cr_assert_eq(blk_state_restore(&b.dev, &st), 0);
	cr_assert_eq(blk_dev_capacity(&b.dev), 16);
}

Test(blk_state, invalid_states_change_nothing)
{
	struct blk_state good, bad, after;

	blk_state_save(&a.dev, &good);
	blk_state_save(&b.dev, &after);

	bad = good;
	bad.capacity = DISK / 512 + 1;
	cr_assert_eq(blk_state_restore(&b.dev, &bad), -EINVAL, "more sectors than the image");
	bad = good;
	bad.features ^= VIRTIO_FEATURE(VIRTIO_BLK_F_RO);
	cr_assert_eq(blk_state_restore(&b.dev, &bad), -EINVAL, "other features");
	bad = good;
	bad.broken = 2;
	cr_assert_eq(blk_state_restore(&b.dev, &bad), -EINVAL);
	bad = good;
	bad.rl_bw.budget = bad.rl_bw.cfg.size + 1;
	cr_assert_eq(blk_state_restore(&b.dev, &bad), -EINVAL, "budget above size");
	bad = good;
	bad.rl_ops.cfg.refill_time_ms = 0;
	cr_assert_eq(blk_state_restore(&b.dev, &bad), -EINVAL, "bucket without refill time");

	struct blk_state now;
	blk_state_save(&b.dev, &now);
	cr_assert_eq(memcmp(&now, &after, sizeof(now)), 0);
}

Test(blk_state, limiter_needs_a_loop_to_restore)
{
	struct blk_mock c;
	struct blk_state st;

	cr_assert_eq(blk_mock_init(&c, &disk.be, NULL, ~0ULL), 0);
	blk_state_save(&a.dev, &st);
	cr_assert_eq(blk_state_restore(&c.dev, &st), -EINVAL, "a timerfd nobody watches");
	memset(&st.rl_bw, 0, sizeof(st.rl_bw));
	memset(&st.rl_ops, 0, sizeof(st.rl_ops));
	cr_assert_eq(blk_state_restore(&c.dev, &st), 0, "unlimited is fine");
	blk_mock_destroy(&c);
}
