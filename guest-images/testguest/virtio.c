/*
 * virtio=1: the virtio-mmio (version 2) probe and block driver: finds the
 * devices the monitor announces on the command line
 * (virtio_mmio.device=<size>@<addr>:<irq>, parsed by virtio_drv.c), prints
 * what each one is, and puts block devices through a fixed sequence of
 * requests on one 8-entry split queue, polling the used ring (the test guest
 * takes no interrupts).  The output lines are in README.md.
 */
#include "guest-images/testguest/hw.h"
#include "guest-images/testguest/ktg.h"
#include "guest-images/testguest/virtio_drv.h"

#define BLK_F_RO   5

#define BLK_T_IN     0
#define BLK_T_OUT    1
#define BLK_T_GET_ID 8
#define BLK_SECTOR   512
#define BLK_ID_BYTES 20

#define QSIZE 8
#define POLL_MAX 2000000 /* used-ring polls per request: seconds when emulated */
#define ISR_POLL_MAX 100000
#define DEVICES_MAX 32

/* One queue and one request's buffers, in the guest's own memory (.bss). */
static struct {
	struct virtq_desc desc[QSIZE];                 /* 16-byte aligned */
	struct {
		uint16_t flags, idx, ring[QSIZE], used_event;
	} avail __attribute__((aligned(16)));
	struct {
		uint16_t flags, idx;
		struct virtq_used_elem ring[QSIZE];
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

/* The v2 init sequence with queue 0 of QSIZE entries.  NULL or what failed. */
static const char *blk_init(uint64_t base)
{
	uint32_t st;

	vdrv_reg_set(base, VIRTIO_MMIO_STATUS, 0);
	if (vdrv_reg(base, VIRTIO_MMIO_STATUS) != 0)
		return "reset";
	vdrv_reg_set(base, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	vdrv_reg_set(base, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vdrv_reg_set(base, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	vdrv_reg_set(base, VIRTIO_MMIO_DRIVER_FEATURES, 0);
	vdrv_reg_set(base, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	vdrv_reg_set(base, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(VDRV_F_VERSION_1 >> 32));
	vdrv_reg_set(base, VIRTIO_MMIO_STATUS, VDRV_S_FEATURES_OK);
	if (!(vdrv_reg(base, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK))
		return "features-ok";
	vdrv_reg_set(base, VIRTIO_MMIO_QUEUE_SEL, 0);
	if (vdrv_reg(base, VIRTIO_MMIO_QUEUE_NUM_MAX) < QSIZE)
		return "queue-num-max";
	memset(&vq, 0, sizeof(vq));
	last_used = 0;
	vdrv_reg_set(base, VIRTIO_MMIO_QUEUE_NUM, QSIZE);
	vdrv_reg_set(base, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)vdrv_phys(vq.desc));
	vdrv_reg_set(base, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(vdrv_phys(vq.desc) >> 32));
	vdrv_reg_set(base, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)vdrv_phys(&vq.avail));
	vdrv_reg_set(base, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(vdrv_phys(&vq.avail) >> 32));
	vdrv_reg_set(base, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)vdrv_phys(&vq.used));
	vdrv_reg_set(base, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(vdrv_phys(&vq.used) >> 32));
	vdrv_reg_set(base, VIRTIO_MMIO_QUEUE_READY, 1);
	vdrv_reg_set(base, VIRTIO_MMIO_STATUS, VDRV_S_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	st = vdrv_reg(base, VIRTIO_MMIO_STATUS);
	if (!(st & VIRTIO_STATUS_DRIVER_OK) || (st & VIRTIO_STATUS_DEVICE_NEEDS_RESET))
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
	vq.desc[d] = (struct virtq_desc){ vdrv_phys(&vq.hdr), sizeof(vq.hdr), VIRTQ_DESC_F_NEXT, (uint16_t)(d + 1) };
	d++;
	if (len) {
		vq.desc[d] = (struct virtq_desc){ vdrv_phys(vq.data), len,
						  (uint16_t)(VIRTQ_DESC_F_NEXT | (dev_writes ? VIRTQ_DESC_F_WRITE : 0)),
						  (uint16_t)(d + 1) };
		d++;
	}
	vq.desc[d] = (struct virtq_desc){ vdrv_phys(&vq.status), 1, VIRTQ_DESC_F_WRITE, 0 };
	vq.avail.ring[vq.avail.idx % QSIZE] = 0;
	vdrv_barrier();
	vq.avail.idx++;
	vdrv_reg_set(base, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	for (i = 0; i < POLL_MAX && *used_idx == last_used; i++)
		cpu_pause();
	if (*used_idx == last_used)
		return -1;
	last_used++;
	vdrv_barrier();
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
		ktg_printf("KTG: blk error init %s status=0x%x\n", why, vdrv_reg(base, VIRTIO_MMIO_STATUS));
		return;
	}
	capacity = vdrv_reg(base, VIRTIO_MMIO_CONFIG) | ((uint64_t)vdrv_reg(base, VIRTIO_MMIO_CONFIG + 4) << 32);
	ktg_printf("KTG: blk capacity=%lu ro=%d\n", capacity, ro);

	st = blk_request(base, BLK_T_IN, 0, BLK_SECTOR, 1);
	if (st != 0) {
		ktg_printf("KTG: blk error read 0 status=%d\n", st);
		return;
	}
	memcpy(first, vq.data, sizeof(first));
	print_hex16("read 0", first);
	/* The device publishes the used entry, then raises the interrupt. */
	for (i = 0; i < ISR_POLL_MAX && !((isr = vdrv_reg(base, VIRTIO_MMIO_INTERRUPT_STATUS)) & 1); i++)
		cpu_pause();
	ktg_printf("KTG: blk irq-status=%u\n", isr & 1);
	vdrv_reg_set(base, VIRTIO_MMIO_INTERRUPT_ACK, isr);

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
	vdrv_reg_set(base, VIRTIO_MMIO_STATUS, 0);
	why = vdrv_reg(base, VIRTIO_MMIO_STATUS) ? "reset" : blk_init(base);
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
		if (vdrv_parse_device(val, len, &size, &base, &irq) || size < 0x200 ||
		    !phys_ok(base, size) || base < 0x100000000ULL - 0x40000000ULL) {
			print_token_error(val, len);
			continue;
		}
		magic = vdrv_reg(base, VIRTIO_MMIO_MAGIC_VALUE);
		if (magic != VIRTIO_MMIO_MAGIC) {
			ktg_printf("KTG: virtio 0x%lx error magic=0x%x\n", base, magic);
			continue;
		}
		version = vdrv_reg(base, VIRTIO_MMIO_VERSION);
		id = vdrv_reg(base, VIRTIO_MMIO_DEVICE_ID);
		vdrv_reg_set(base, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
		features = vdrv_reg(base, VIRTIO_MMIO_DEVICE_FEATURES);
		vdrv_reg_set(base, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
		features |= (uint64_t)vdrv_reg(base, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
		ktg_printf("KTG: virtio 0x%lx id=%u version=%u features=0x%lx irq=%lu\n", base, id, version,
			   features, irq);
		if (id == VIRTIO_ID_BLOCK && version == 2)
			blk_test(base, features, blkwrite);
	}
	ktg_printf("KTG: virtio devices=%u\n", count);
}
