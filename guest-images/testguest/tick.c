/*
 * tick=1: a guest that keeps time and keeps using its disk, so a snapshot
 * restored any number of times shows it carries on where it stopped.
 *
 * The TSC is calibrated once against PIT channel 2 (gate through port 0x61,
 * 10 ms in mode 0); then every tick_ms (default 100) milliseconds of TSC
 * time it prints "KTG: tick N tsc T ms M" (N counts from 1, T is the TSC, M
 * the milliseconds since calibration; after a pause or a restore that left
 * the TSC far ahead, the next tick comes tick_ms after the first late one,
 * with no burst of catch-up lines).  With virtio=1, every 5th tick also
 * reads sector 0 of the first block device through its own queue and prints
 * "KTG: tick N blk ok" when the bytes match what the first read returned
 * ("KTG: tick N blk fail ..." otherwise).  tick_count=<n> stops after n
 * ticks and the guest then exits as exit= says; without it, it ticks forever.
 */
#include <stdint.h>

#include "devices/virtio/virtio_abi.h"
#include "devices/virtio/virtio_mmio_regs.h"
#include "guest-images/testguest/hw.h"
#include "guest-images/testguest/ktg.h"

#define PIT_HZ 1193182u
#define CALIB_MS 10u
#define CALIB_SPINS (1u << 24)
#define TICK_BLK_EVERY 5
#define TQ 4                 /* queue size: one request of three descriptors */
#define TQ_POLLS 4000000u
#define SECTOR 512

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* TSC cycles per millisecond, or 0 when the PIT never counted down. */
static uint64_t tsc_per_ms(void)
{
	uint32_t latch = PIT_HZ / (1000 / CALIB_MS), i;
	uint64_t t0, t1;

	outb(0x61, (uint8_t)((inb(0x61) & ~0x02) | 0x01)); /* gate on, speaker off */
	outb(0x43, 0xb0);                                   /* channel 2, lo/hi, mode 0 */
	outb(0x42, (uint8_t)latch);
	outb(0x42, (uint8_t)(latch >> 8));
	t0 = rdtsc();
	for (i = 0; i < CALIB_SPINS && !(inb(0x61) & 0x20); i++)
		;
	t1 = rdtsc();
	return i < CALIB_SPINS ? (t1 - t0) / CALIB_MS : 0;
}

/* Our own queue: tick.c does not share virtio.c's, so it can run after it. */
static struct {
	struct virtq_desc desc[TQ];
	struct {
		uint16_t flags, idx, ring[TQ], used_event;
	} avail __attribute__((aligned(16)));
	struct {
		uint16_t flags, idx;
		struct { uint32_t id, len; } ring[TQ];
		uint16_t avail_event;
	} used __attribute__((aligned(16)));
	struct {
		uint32_t type, reserved;
		uint64_t sector;
	} hdr __attribute__((aligned(16)));
	uint8_t data[SECTOR] __attribute__((aligned(16)));
	uint8_t status;
} tq __attribute__((aligned(4096)));

static uint16_t tq_last_used;

static void tq_reg(uint64_t base, uint32_t off, uint32_t v)
{
	__asm__ volatile("" : : : "memory");
	mmio_write32(base + off, v);
}

/* The first virtio_mmio.device= token's base ("<size>@0x<hex>:<irq>"). */
static uint64_t first_device(const char *cmdline)
{
	const char *pos = cmdline, *val;
	uint64_t base = 0;
	size_t len, i = 0;

	if (!cmdline_next(&pos, "virtio_mmio.device", &val, &len))
		return 0;
	while (i < len && val[i] != '@')
		i++;
	if (i + 3 >= len || val[i + 1] != '0' || val[i + 2] != 'x')
		return 0;
	for (i += 3; i < len && val[i] != ':'; i++) {
		char c = val[i];

		base = base * 16 + (uint64_t)(c >= 'a' ? c - 'a' + 10 : c >= 'A' ? c - 'A' + 10 : c - '0');
	}
	return phys_ok(base, VIRTIO_MMIO_WINDOW) ? base : 0;
}

static int tq_init(uint64_t base)
{
	if (mmio_read32(base + VIRTIO_MMIO_MAGIC_VALUE) != VIRTIO_MMIO_MAGIC ||
	    mmio_read32(base + VIRTIO_MMIO_DEVICE_ID) != 2)
		return -1;
	tq_reg(base, VIRTIO_MMIO_STATUS, 0);
	tq_reg(base, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	tq_reg(base, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	tq_reg(base, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	tq_reg(base, VIRTIO_MMIO_DRIVER_FEATURES, 1); /* VERSION_1 */
	tq_reg(base, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
					 VIRTIO_STATUS_FEATURES_OK);
	tq_reg(base, VIRTIO_MMIO_QUEUE_SEL, 0);
	memset(&tq, 0, sizeof(tq));
	tq_last_used = 0;
	tq_reg(base, VIRTIO_MMIO_QUEUE_NUM, TQ);
	tq_reg(base, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)(uintptr_t)tq.desc);
	tq_reg(base, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
	tq_reg(base, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)(uintptr_t)&tq.avail);
	tq_reg(base, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, 0);
	tq_reg(base, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)(uintptr_t)&tq.used);
	tq_reg(base, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 0);
	tq_reg(base, VIRTIO_MMIO_QUEUE_READY, 1);
	tq_reg(base, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
					 VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	return (mmio_read32(base + VIRTIO_MMIO_STATUS) & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_DEVICE_NEEDS_RESET)) ==
		       VIRTIO_STATUS_DRIVER_OK ? 0 : -1;
}

/* Reads sector 0 into tq.data: the status byte, or -1 on a timeout. */
static int tq_read0(uint64_t base)
{
	volatile uint16_t *used_idx = &tq.used.idx;
	uint32_t i;

	tq.hdr.type = 0; /* VIRTIO_BLK_T_IN */
	tq.hdr.sector = 0;
	tq.status = 0xff;
	tq.desc[0] = (struct virtq_desc){ (uintptr_t)&tq.hdr, sizeof(tq.hdr), VIRTQ_DESC_F_NEXT, 1 };
	tq.desc[1] = (struct virtq_desc){ (uintptr_t)tq.data, SECTOR, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2 };
	tq.desc[2] = (struct virtq_desc){ (uintptr_t)&tq.status, 1, VIRTQ_DESC_F_WRITE, 0 };
	tq.avail.ring[tq.avail.idx % TQ] = 0;
	__asm__ volatile("" : : : "memory");
	tq.avail.idx++;
	tq_reg(base, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	for (i = 0; i < TQ_POLLS && *used_idx == tq_last_used; i++)
		cpu_pause();
	if (*used_idx == tq_last_used)
		return -1;
	tq_last_used++;
	/* Acknowledge the interrupt so the line does not stay raised. */
	tq_reg(base, VIRTIO_MMIO_INTERRUPT_ACK, mmio_read32(base + VIRTIO_MMIO_INTERRUPT_STATUS));
	return *(volatile uint8_t *)&tq.status;
}

static uint64_t cmdline_num(const char *cmdline, const char *key, uint64_t dflt)
{
	const char *val;
	size_t len;
	uint64_t n = 0;

	if (!cmdline_get(cmdline, key, &val, &len) || !len)
		return dflt;
	for (size_t i = 0; i < len; i++) {
		if (val[i] < '0' || val[i] > '9')
			return dflt;
		n = n * 10 + (uint64_t)(val[i] - '0');
	}
	return n;
}

void tick_run(const char *cmdline)
{
	uint64_t per_ms, tick_ms = cmdline_num(cmdline, "tick_ms", 100);
	uint64_t count = cmdline_num(cmdline, "tick_count", 0), start, next, n;
	uint64_t base = cmdline_is(cmdline, "virtio", "1") ? first_device(cmdline) : 0;
	uint8_t first[16];
	int have_blk = 0;

	if (!cmdline_is(cmdline, "tick", "1"))
		return;
	per_ms = tsc_per_ms();
	if (!per_ms) {
		ktg_printf("KTG: tick calib error pit\n");
		per_ms = 1000000; /* assume 1 GHz: ticks still come, at a guessed pace */
	}
	ktg_printf("KTG: tick calib tsc_khz=%lu\n", per_ms);
	if (base && !tq_init(base) && tq_read0(base) == 0) {
		memcpy(first, tq.data, sizeof(first));
		have_blk = 1;
	} else if (base) {
		ktg_printf("KTG: tick blk error init\n");
	}
	if (!tick_ms)
		tick_ms = 1;
	start = rdtsc();
	next = start + tick_ms * per_ms;
	for (n = 1; !count || n <= count; n++) {
		uint64_t now;

		while ((now = rdtsc()) < next)
			cpu_pause();
		/* Far behind (the VM was paused or restored from a snapshot while
		 * the TSC ran on): go on from now instead of printing a burst. */
		next = now - next > tick_ms * per_ms ? now + tick_ms * per_ms : next + tick_ms * per_ms;
		ktg_printf("KTG: tick %lu tsc %lu ms %lu\n", n, now, (now - start) / per_ms);
		if (have_blk && n % TICK_BLK_EVERY == 0) {
			int st;

			memset(tq.data, 0, sizeof(first));
			st = tq_read0(base);
			if (st == 0 && !memcmp(tq.data, first, sizeof(first)))
				ktg_printf("KTG: tick %lu blk ok\n", n);
			else
				ktg_printf("KTG: tick %lu blk fail status=%d\n", n, st);
		}
	}
}
