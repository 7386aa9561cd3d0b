/*
 * A minimal virtio-mmio (version 2) driver: finds the devices the monitor
 * announces on the command line (virtio_mmio.device=<size>@<addr>:<irq>),
 * prints what each one is, and puts block devices through a fixed sequence of
 * requests on one 8-entry split queue, polling the used ring (the test guest
 * takes no interrupts).  The output lines are in README.md.
 */
#include "guest-images/testguest/hw.h"
#include "guest-images/testguest/ktg.h"

/* virtio-mmio registers (virtio 1.2, 4.2.2). */
#define VIO_MAGIC            0x000
#define VIO_VERSION          0x004
#define VIO_DEVICE_ID        0x008
#define VIO_DEVICE_FEATURES  0x010
#define VIO_DEVICE_FEAT_SEL  0x014
#define VIO_DRIVER_FEATURES  0x020
#define VIO_DRIVER_FEAT_SEL  0x024
#define VIO_QUEUE_SEL        0x030
#define VIO_QUEUE_NUM_MAX    0x034
#define VIO_QUEUE_NUM        0x038
#define VIO_QUEUE_READY      0x044
#define VIO_QUEUE_NOTIFY     0x050
#define VIO_INTERRUPT_STATUS 0x060
#define VIO_INTERRUPT_ACK    0x064
#define VIO_STATUS           0x070
#define VIO_QUEUE_DESC_LO    0x080
#define VIO_QUEUE_DESC_HI    0x084
#define VIO_QUEUE_DRIVER_LO  0x090
#define VIO_QUEUE_DRIVER_HI  0x094
#define VIO_QUEUE_DEVICE_LO  0x0a0
#define VIO_QUEUE_DEVICE_HI  0x0a4
#define VIO_CONFIG           0x100

#define VIO_MAGIC_VALUE 0x74726976 /* "virt" */
#define S_ACK      1
#define S_DRIVER   2
#define S_DRIVER_OK 4
#define S_FEAT_OK  8
#define S_NEEDS_RESET 0x40
#define F_VERSION_1_HI 1 /* bit 32: bit 0 of the high word */
#define BLK_F_RO   5
#define VIRTIO_ID_BLOCK 2

#define BLK_T_IN     0
#define BLK_T_OUT    1
#define BLK_T_GET_ID 8
#define BLK_SECTOR   512
#define BLK_ID_BYTES 20

#define DESC_F_NEXT  1
#define DESC_F_WRITE 2

#define QSIZE 8
#define POLL_MAX 2000000 /* used-ring polls per request: seconds when emulated */
#define ISR_POLL_MAX 100000
#define DEVICES_MAX 32

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vring_used_elem {
	uint32_t id;
	uint32_t len;
};

/* One queue and one request's buffers, in the guest's own memory (.bss). */
static struct {
	struct vring_desc desc[QSIZE];                 /* 16-byte aligned */
	struct {
		uint16_t flags, idx, ring[QSIZE], used_event;
	} avail __attribute__((aligned(16)));
	struct {
		uint16_t flags, idx;
		struct vring_used_elem ring[QSIZE];
		uint16_t avail_event;
	} used __attribute__((aligned(16)));
	struct {
		uint32_t type, reserved;
		uint64_t sector;
	} hdr __attribute__((aligned(16)));
	uint8_t data[BLK_SECTOR] __attribute__((aligned(16)));
	uint8_t status;
} vq __attribute__((aligned(4096)));

static uint16_t last_used;

static inline void barrier(void)
{
	__asm__ volatile("" : : : "memory");
}

static uint32_t reg(uint64_t base, uint32_t off)
{
	return mmio_read32(base + off);
}

static void reg_set(uint64_t base, uint32_t off, uint32_t v)
{
	barrier();
	mmio_write32(base + off, v);
}

static uint64_t phys_of(const volatile void *p)
{
	return (uint64_t)(uintptr_t)p; /* identity-mapped */
}

/* The v2 init sequence with queue 0 of QSIZE entries.  NULL or what failed. */
static const char *blk_init(uint64_t base)
{
	uint32_t st;

	reg_set(base, VIO_STATUS, 0);
	if (reg(base, VIO_STATUS) != 0)
		return "reset";
	reg_set(base, VIO_STATUS, S_ACK);
	reg_set(base, VIO_STATUS, S_ACK | S_DRIVER);
	reg_set(base, VIO_DRIVER_FEAT_SEL, 0);
	reg_set(base, VIO_DRIVER_FEATURES, 0);
	reg_set(base, VIO_DRIVER_FEAT_SEL, 1);
	reg_set(base, VIO_DRIVER_FEATURES, F_VERSION_1_HI);
	reg_set(base, VIO_STATUS, S_ACK | S_DRIVER | S_FEAT_OK);
	if (!(reg(base, VIO_STATUS) & S_FEAT_OK))
		return "features-ok";
	reg_set(base, VIO_QUEUE_SEL, 0);
	if (reg(base, VIO_QUEUE_NUM_MAX) < QSIZE)
		return "queue-num-max";
	memset(&vq, 0, sizeof(vq));
	last_used = 0;
	reg_set(base, VIO_QUEUE_NUM, QSIZE);
	reg_set(base, VIO_QUEUE_DESC_LO, (uint32_t)phys_of(vq.desc));
	reg_set(base, VIO_QUEUE_DESC_HI, (uint32_t)(phys_of(vq.desc) >> 32));
	reg_set(base, VIO_QUEUE_DRIVER_LO, (uint32_t)phys_of(&vq.avail));
	reg_set(base, VIO_QUEUE_DRIVER_HI, (uint32_t)(phys_of(&vq.avail) >> 32));
	reg_set(base, VIO_QUEUE_DEVICE_LO, (uint32_t)phys_of(&vq.used));
	reg_set(base, VIO_QUEUE_DEVICE_HI, (uint32_t)(phys_of(&vq.used) >> 32));
	reg_set(base, VIO_QUEUE_READY, 1);
	reg_set(base, VIO_STATUS, S_ACK | S_DRIVER | S_FEAT_OK | S_DRIVER_OK);
	st = reg(base, VIO_STATUS);
	if (!(st & S_DRIVER_OK) || (st & S_NEEDS_RESET))
		return "driver-ok";
	return 0;
}

/*
 * One request: header, len bytes of vq.data (device-writable when
 * dev_writes), status.  Returns the status byte, or -1 when the device did
 * not complete it in time.
 */
static int blk_request(uint64_t base, uint32_t type, uint64_t sector, uint32_t len, int dev_writes)
{
	volatile uint16_t *used_idx = &vq.used.idx;
	unsigned int d = 0, i;

	vq.hdr.type = type;
	vq.hdr.reserved = 0;
	vq.hdr.sector = sector;
	vq.status = 0xff;
	vq.desc[d] = (struct vring_desc){ phys_of(&vq.hdr), sizeof(vq.hdr), DESC_F_NEXT, (uint16_t)(d + 1) };
	d++;
	if (len) {
		vq.desc[d] = (struct vring_desc){ phys_of(vq.data), len,
						  (uint16_t)(DESC_F_NEXT | (dev_writes ? DESC_F_WRITE : 0)),
						  (uint16_t)(d + 1) };
		d++;
	}
	vq.desc[d] = (struct vring_desc){ phys_of(&vq.status), 1, DESC_F_WRITE, 0 };
	vq.avail.ring[vq.avail.idx % QSIZE] = 0;
	barrier();
	vq.avail.idx++;
	reg_set(base, VIO_QUEUE_NOTIFY, 0);
	for (i = 0; i < POLL_MAX && *used_idx == last_used; i++)
		cpu_pause();
	if (*used_idx == last_used)
		return -1;
	last_used++;
	barrier();
	return *(volatile uint8_t *)&vq.status;
}

static void print_hex16(const char *what, const uint8_t *b)
{
	static const char hex[] = "0123456789abcdef";
	char line[33];

	for (int i = 0; i < 16; i++) {
		line[2 * i] = hex[b[i] >> 4];
		line[2 * i + 1] = hex[b[i] & 15];
	}
	line[32] = '\0';
	ktg_printf("KTG: blk %s %s\n", what, line);
}

/* Byte i of the sector blkwrite=1 writes to sector 1. */
static uint8_t write_pattern(unsigned int i)
{
	return (uint8_t)(i ^ 0xa5);
}

static void blk_write_test(uint64_t base)
{
	unsigned int i;
	int st;

	for (i = 0; i < BLK_SECTOR; i++)
		vq.data[i] = write_pattern(i);
	st = blk_request(base, BLK_T_OUT, 1, BLK_SECTOR, 0);
	if (st != 0) {
		ktg_printf("KTG: blk write fail status=%d\n", st);
		return;
	}
	memset(vq.data, 0, BLK_SECTOR);
	st = blk_request(base, BLK_T_IN, 1, BLK_SECTOR, 1);
	for (i = 0; st == 0 && i < BLK_SECTOR; i++)
		if (vq.data[i] != write_pattern(i))
			break;
	if (st != 0 || i < BLK_SECTOR)
		ktg_printf("KTG: blk write fail readback status=%d at=%u\n", st, i);
	else
		ktg_printf("KTG: blk write ok\n");
}

static void blk_id_report(uint64_t base)
{
	char id[BLK_ID_BYTES + 1];
	int st, i;

	memset(vq.data, 0, BLK_ID_BYTES);
	st = blk_request(base, BLK_T_GET_ID, 0, BLK_ID_BYTES, 1);
	if (st != 0) {
		ktg_printf("KTG: blk id error status=%d\n", st);
		return;
	}
	for (i = 0; i < BLK_ID_BYTES && vq.data[i]; i++)
		id[i] = (vq.data[i] < 0x20 || vq.data[i] >= 0x7f) ? '?' : (char)vq.data[i];
	id[i] = '\0';
	ktg_printf("KTG: blk id=%s\n", id);
}

static void blk_test(uint64_t base, uint64_t features, int blkwrite)
{
	uint8_t first[16];
	uint64_t capacity;
	const char *why;
	uint32_t isr = 0;
	int ro = (features >> BLK_F_RO) & 1;
	int st, i;

	why = blk_init(base);
	if (why) {
		ktg_printf("KTG: blk error init %s status=0x%x\n", why, reg(base, VIO_STATUS));
		return;
	}
	capacity = reg(base, VIO_CONFIG) | ((uint64_t)reg(base, VIO_CONFIG + 4) << 32);
	ktg_printf("KTG: blk capacity=%lu ro=%d\n", capacity, ro);

	st = blk_request(base, BLK_T_IN, 0, BLK_SECTOR, 1);
	if (st != 0) {
		ktg_printf("KTG: blk error read 0 status=%d\n", st);
		return;
	}
	memcpy(first, vq.data, sizeof(first));
	print_hex16("read 0", first);
	/* The device publishes the used entry, then raises the interrupt. */
	for (i = 0; i < ISR_POLL_MAX && !((isr = reg(base, VIO_INTERRUPT_STATUS)) & 1); i++)
		cpu_pause();
	ktg_printf("KTG: blk irq-status=%u\n", isr & 1);
	reg_set(base, VIO_INTERRUPT_ACK, isr);

	if (ro) {
		for (i = 0; i < BLK_SECTOR; i++)
			vq.data[i] = write_pattern((unsigned int)i);
		ktg_printf("KTG: blk ro-write status=%d\n", blk_request(base, BLK_T_OUT, 1, BLK_SECTOR, 0));
	} else if (blkwrite) {
		blk_write_test(base);
	}
	ktg_printf("KTG: blk past-end status=%d\n", blk_request(base, BLK_T_IN, capacity, BLK_SECTOR, 1));
	blk_id_report(base);

	/* Reset, then the whole init again: the device must start from scratch. */
	reg_set(base, VIO_STATUS, 0);
	why = reg(base, VIO_STATUS) ? "reset" : blk_init(base);
	if (!why) {
		memset(vq.data, 0, BLK_SECTOR);
		st = blk_request(base, BLK_T_IN, 0, BLK_SECTOR, 1);
		why = st != 0 ? "read" : memcmp(vq.data, first, sizeof(first)) ? "data" : 0;
	}
	if (why)
		ktg_printf("KTG: blk reinit fail %s\n", why);
	else
		ktg_printf("KTG: blk reinit ok\n");
}

/* A number in decimal or 0x hex; returns the characters used (0: none). */
static size_t parse_num(const char *s, size_t len, uint64_t *out)
{
	size_t i = 0;
	uint64_t v = 0;
	int hex = len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');

	if (hex)
		i = 2;
	for (; i < len; i++) {
		char c = s[i];
		unsigned int dgt;

		if (c >= '0' && c <= '9')
			dgt = (unsigned int)(c - '0');
		else if (hex && c >= 'a' && c <= 'f')
			dgt = (unsigned int)(c - 'a' + 10);
		else if (hex && c >= 'A' && c <= 'F')
			dgt = (unsigned int)(c - 'A' + 10);
		else
			break;
		if (v > (~0ULL >> 4))
			return 0; /* would overflow */
		v = v * (hex ? 16 : 10) + dgt;
	}
	*out = v;
	return (hex && i == 2) ? 0 : i;
}

/* "<size>[KMG]@<addr>:<irq>[:<id>]", Linux's virtio_mmio.device= syntax. */
static int parse_device(const char *s, size_t len, uint64_t *size, uint64_t *addr, uint64_t *irq)
{
	size_t n = parse_num(s, len, size), p;

	if (!n)
		return -1;
	p = n;
	if (p < len && (s[p] == 'K' || s[p] == 'k' || s[p] == 'M' || s[p] == 'm' || s[p] == 'G' || s[p] == 'g')) {
		*size <<= (s[p] == 'K' || s[p] == 'k') ? 10 : (s[p] == 'M' || s[p] == 'm') ? 20 : 30;
		p++;
	}
	if (p >= len || s[p++] != '@')
		return -1;
	n = parse_num(s + p, len - p, addr);
	if (!n)
		return -1;
	p += n;
	if (p >= len || s[p++] != ':')
		return -1;
	n = parse_num(s + p, len - p, irq);
	if (!n)
		return -1;
	p += n;
	return (p == len || s[p] == ':') ? 0 : -1;
}

static void print_token_error(const char *val, size_t len)
{
	size_t i;

	console_lock();
	console_puts_locked("KTG: virtio error bad-token ");
	for (i = 0; i < len && i < 64; i++)
		console_printf_locked("%c", val[i]);
	console_puts_locked("\n");
	console_unlock();
}

void virtio_report(const char *cmdline)
{
	const char *pos = cmdline, *val;
	int blkwrite = cmdline_is(cmdline, "blkwrite", "1");
	unsigned int count = 0;
	size_t len;

	while (count < DEVICES_MAX && cmdline_next(&pos, "virtio_mmio.device", &val, &len)) {
		uint64_t size, base, irq, features;
		uint32_t magic, version, id;

		count++;
		if (parse_device(val, len, &size, &base, &irq) || size < 0x200 ||
		    !phys_ok(base, size) || base < 0x100000000ULL - 0x40000000ULL) {
			print_token_error(val, len);
			continue;
		}
		magic = reg(base, VIO_MAGIC);
		if (magic != VIO_MAGIC_VALUE) {
			ktg_printf("KTG: virtio 0x%lx error magic=0x%x\n", base, magic);
			continue;
		}
		version = reg(base, VIO_VERSION);
		id = reg(base, VIO_DEVICE_ID);
		reg_set(base, VIO_DEVICE_FEAT_SEL, 0);
		features = reg(base, VIO_DEVICE_FEATURES);
		reg_set(base, VIO_DEVICE_FEAT_SEL, 1);
		features |= (uint64_t)reg(base, VIO_DEVICE_FEATURES) << 32;
		ktg_printf("KTG: virtio 0x%lx id=%u version=%u features=0x%lx irq=%lu\n", base, id, version,
			   features, irq);
		if (id == VIRTIO_ID_BLOCK && version == 2)
			blk_test(base, features, blkwrite);
	}
	ktg_printf("KTG: virtio devices=%u\n", count);
}
