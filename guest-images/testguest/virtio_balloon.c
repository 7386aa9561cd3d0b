/*
 * balloon=1: the test guest's virtio-balloon driver.  The balloon's pages
 * come from a region the test guest reserves for it and uses for nothing
 * else: BALLOON_REGION_PAGES pages of 4 KiB from BALLOON_REGION (16 MiB), so
 * the guest needs at least 48 MiB of RAM.
 *
 *   1. negotiate (STATS_VQ and DEFLATE_ON_OOM when offered), print the
 *      configuration (num_pages, actual);
 *   2. with STATS_VQ: give the statistics buffer (round 1); the device holds
 *      it and gives it back at its next polling tick; refill (round 2),
 *      again, then leave round 3's buffer with the device;
 *   3. touch every page of the region (writing a marker, so the host backs
 *      them), inflate to num_pages (chains of 256 PFNs), write actual;
 *   4. then follow the target: wait until num_pages changes (the host
 *      PATCHes /balloon), inflate or deflate to it, write actual; twice.
 *      A deflated page must read back as zero (the host dropped it).
 *
 * Lines: README.md.
 */
#include "devices/balloon/virtio_balloon_abi.h"
#include "guest-images/testguest/hw.h"
#include "guest-images/testguest/ktg.h"
#include "guest-images/testguest/virtio_drv.h"

#define BALLOON_F_STATS_VQ       VIRTIO_FEATURE(VIRTIO_BALLOON_F_STATS_VQ)
#define BALLOON_F_DEFLATE_ON_OOM VIRTIO_FEATURE(VIRTIO_BALLOON_F_DEFLATE_ON_OOM)
#define BALLOON_REGION       0x1000000ULL /* 16 MiB */
#define BALLOON_REGION_PAGES 8192u        /* 32 MiB */
#define PAGE                 4096u
#define PFNS_PER_CHAIN       256u
#define TARGET_CHANGES       2
#define STATS_ROUNDS         2
#define PAGE_MARK            0x6b746762616c6c6eULL /* "ktgballn" */

#define NSTATS               4 /* statistics the guest reports */

static struct {
	struct vdrv_ring infr, defr, statr;
	uint32_t pfns[PFNS_PER_CHAIN] __attribute__((aligned(64)));
	struct virtio_balloon_stat stats[NSTATS] __attribute__((aligned(64)));
} bl __attribute__((aligned(4096)));

struct balloon_drv {
	struct vdrv_dev d;
	struct vdrv_queue infq, defq, statq;
	uint32_t held;  /* pages in the balloon: the first `held` pages of the region */
};

static uint32_t num_pages(struct balloon_drv *b)
{
	return vdrv_reg(b->d.base, VIRTIO_MMIO_CONFIG + VIRTIO_BALLOON_CFG_NUM_PAGES);
}

static const char *balloon_setup(struct balloon_drv *b)
{
	const char *why = vdrv_negotiate(&b->d, "balloon", BALLOON_F_STATS_VQ | BALLOON_F_DEFLATE_ON_OOM);

	if (!why)
		why = vdrv_queue_init(&b->d, &b->infq, 0, &bl.infr);
	if (!why)
		why = vdrv_queue_init(&b->d, &b->defq, 1, &bl.defr);
	if (!why && (b->d.accepted & BALLOON_F_STATS_VQ))
		why = vdrv_queue_init(&b->d, &b->statq, 2, &bl.statr);
	if (!why)
		why = vdrv_driver_ok(&b->d);
	return why;
}

static void stats_fill(unsigned int round)
{
	static const uint16_t tags[NSTATS] = { VIRTIO_BALLOON_S_MAJFLT, VIRTIO_BALLOON_S_MEMFREE,
						   VIRTIO_BALLOON_S_MEMTOT, VIRTIO_BALLOON_S_AVAIL };
	const uint64_t vals[NSTATS] = { round, 0x4000000ULL + round * PAGE, 0x8000000ULL, 0x5000000ULL };

	for (unsigned int i = 0; i < NSTATS; i++) {
		bl.stats[i].tag = tags[i];
		bl.stats[i].val = vals[i];
	}
}

/* Round 1 and 2 come back at the device's polling ticks; round 3 stays. */
static const char *balloon_stats(struct balloon_drv *b)
{
	uint32_t id, len;

	for (unsigned int round = 1; round <= STATS_ROUNDS + 1; round++) {
		uint64_t t = vdrv_rdtsc();

		stats_fill(round);
		if (vdrv_add(&b->statq, vdrv_phys(bl.stats), sizeof(bl.stats), 0) < 0)
			return "stats-add";
		vdrv_kick(&b->statq);
		ktg_printf("KTG: balloon stats sent round=%u\n", round);
		if (round > STATS_ROUNDS)
			break;
		if (!vdrv_wait(&b->statq, &id, &len, 2))
			return "stats-not-returned";
		ktg_printf("KTG: balloon stats returned round=%u tsc=%lu\n", round, vdrv_rdtsc() - t);
	}
	return 0;
}

/* Pages [from, to) of the region through queue q (inflate or deflate). */
static const char *balloon_move(struct balloon_drv *b, struct vdrv_queue *q, uint32_t from, uint32_t to)
{
	uint32_t id, len;

	while (from < to) {
		uint32_t n = to - from < PFNS_PER_CHAIN ? to - from : PFNS_PER_CHAIN;

		for (uint32_t i = 0; i < n; i++)
			bl.pfns[i] = (uint32_t)((BALLOON_REGION >> 12) + from + i);
		if (vdrv_add(q, vdrv_phys(bl.pfns), n * 4, 0) < 0)
			return "pfn-add";
		vdrv_kick(q);
		if (!vdrv_wait(q, &id, &len, 1))
			return "pfn-timeout";
		from += n;
	}
	return 0;
}

/* Inflates or deflates to target pages (capped at the region), writes actual. */
static const char *balloon_follow(struct balloon_drv *b, uint32_t target)
{
	const char *why = 0;
	uint32_t want = target < BALLOON_REGION_PAGES ? target : BALLOON_REGION_PAGES;
	unsigned int zeroed = 0, i;

	if (want > b->held) {
		why = balloon_move(b, &b->infq, b->held, want);
		if (!why)
			ktg_printf("KTG: balloon inflated pages=%u target=%u\n", want - b->held, target);
	} else if (want < b->held) {
		why = balloon_move(b, &b->defq, want, b->held);
		/* The host dropped these pages: they come back as zeroes. */
		for (i = want; !why && i < b->held; i++)
			zeroed += *(volatile uint64_t *)phys(BALLOON_REGION + (uint64_t)i * PAGE) == 0;
		if (!why)
			ktg_printf("KTG: balloon deflated pages=%u target=%u zeroed=%u\n", b->held - want, target,
				   zeroed);
		if (!why && zeroed != b->held - want)
			why = "deflated-not-zero";
	}
	if (why)
		return why;
	b->held = want;
	vdrv_reg_set(b->d.base, VIRTIO_MMIO_CONFIG + VIRTIO_BALLOON_CFG_ACTUAL, want);
	ktg_printf("KTG: balloon actual=%u\n", vdrv_reg(b->d.base, VIRTIO_MMIO_CONFIG + VIRTIO_BALLOON_CFG_ACTUAL));
	return 0;
}

/*
 * Waits for num_pages to differ from old (the host has 3 deadlines' time),
 * then for the configuration-change notice that goes with it: a new
 * ConfigGeneration and InterruptStatus bit 1.
 */
static int balloon_wait_target(struct balloon_drv *b, uint32_t old, uint32_t *now)
{
	uint32_t gen = vdrv_reg(b->d.base, VIRTIO_MMIO_CONFIG_GENERATION), isr = 0;
	uint64_t t = vdrv_rdtsc();
	int gen_changed = 0;

	vdrv_isr_take(&b->d);
	ktg_printf("KTG: balloon wait-target num-pages=%u\n", old);
	while ((*now = num_pages(b)) == old) {
		if (vdrv_rdtsc() - t > 3 * VDRV_WAIT_TICKS)
			return -1;
		for (unsigned int i = 0; i < 1000; i++)
			cpu_pause();
	}
	/* The device may publish the value a moment before it signals. */
	for (t = vdrv_rdtsc(); vdrv_rdtsc() - t < VDRV_WAIT_TICKS / 100;) {
		gen_changed = vdrv_reg(b->d.base, VIRTIO_MMIO_CONFIG_GENERATION) != gen;
		isr |= vdrv_isr_take(&b->d);
		if (gen_changed && (isr & 2))
			break;
	}
	ktg_printf("KTG: balloon target num-pages=%u generation-changed=%d config-irq=%u\n", *now, gen_changed,
		   (isr >> 1) & 1);
	return 0;
}

void balloon_test(const char *cmdline)
{
	struct balloon_drv b;
	const char *why = 0;
	uint32_t target, i;

	memset(&b, 0, sizeof(b));
	if (vdrv_find(cmdline, VIRTIO_ID_BALLOON, "balloon", &b.d.base))
		return;
	why = balloon_setup(&b);
	if (why) {
		ktg_printf("KTG: balloon FAIL init %s status=0x%x\n", why, vdrv_reg(b.d.base, VIRTIO_MMIO_STATUS));
		return;
	}
	target = num_pages(&b);
	ktg_printf("KTG: balloon config num-pages=%u actual=%u\n", target,
		   vdrv_reg(b.d.base, VIRTIO_MMIO_CONFIG + VIRTIO_BALLOON_CFG_ACTUAL));
	if (b.d.accepted & BALLOON_F_STATS_VQ)
		why = balloon_stats(&b);

	for (i = 0; !why && i < BALLOON_REGION_PAGES; i++)
		*(volatile uint64_t *)phys(BALLOON_REGION + (uint64_t)i * PAGE) = PAGE_MARK;
	if (!why)
		ktg_printf("KTG: balloon touched pages=%u at=0x%lx\n", BALLOON_REGION_PAGES, (uint64_t)BALLOON_REGION);
	if (!why)
		why = balloon_follow(&b, target);
	for (i = 0; !why && i < TARGET_CHANGES; i++) {
		if (balloon_wait_target(&b, target, &target))
			why = "target-unchanged";
		else
			why = balloon_follow(&b, target);
	}
	vdrv_reset(&b.d);
	vdrv_verdict("balloon", why);
}
