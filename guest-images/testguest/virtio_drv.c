/*
 * The test guest's virtio-mmio v2 driver core: see virtio_drv.h.
 */
#include "guest-images/testguest/hw.h"
#include "guest-images/testguest/ktg.h"
#include "guest-images/testguest/virtio_drv.h"

#define DEVICES_MAX 32

uint32_t vdrv_reg(uint64_t base, uint32_t off)
{
	return mmio_read32(base + off);
}

void vdrv_reg_set(uint64_t base, uint32_t off, uint32_t v)
{
	vdrv_barrier();
	mmio_write32(base + off, v);
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

int vdrv_parse_device(const char *s, size_t len, uint64_t *size, uint64_t *addr, uint64_t *irq)
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

int vdrv_find(const char *cmdline, uint32_t device_id, const char *name, uint64_t *base)
{
	const char *pos = cmdline, *val;
	unsigned int count = 0;
	size_t len;

	while (count++ < DEVICES_MAX && cmdline_next(&pos, "virtio_mmio.device", &val, &len)) {
		uint64_t size, addr, irq;

		if (vdrv_parse_device(val, len, &size, &addr, &irq) || size < 0x200 || !phys_ok(addr, size) ||
		    addr < 0x100000000ULL - 0x40000000ULL)
			continue;
		if (vdrv_reg(addr, VIRTIO_MMIO_MAGIC_VALUE) == VIRTIO_MMIO_MAGIC &&
		    vdrv_reg(addr, VIRTIO_MMIO_VERSION) == VIRTIO_MMIO_VERSION_MODERN &&
		    vdrv_reg(addr, VIRTIO_MMIO_DEVICE_ID) == device_id) {
			*base = addr;
			ktg_printf("KTG: %s device 0x%lx irq=%lu\n", name, addr, irq);
			return 0;
		}
	}
	ktg_printf("KTG: %s FAIL no-device\n", name);
	return -1;
}

int vdrv_reset(struct vdrv_dev *d)
{
	vdrv_reg_set(d->base, VIRTIO_MMIO_STATUS, 0);
	return vdrv_reg(d->base, VIRTIO_MMIO_STATUS) == 0 ? 0 : -1;
}

const char *vdrv_negotiate(struct vdrv_dev *d, const char *name, uint64_t want)
{
	uint64_t base = d->base;

	if (vdrv_reset(d))
		return "reset";
	vdrv_reg_set(base, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	vdrv_reg_set(base, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vdrv_reg_set(base, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	d->offered = vdrv_reg(base, VIRTIO_MMIO_DEVICE_FEATURES);
	vdrv_reg_set(base, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	d->offered |= (uint64_t)vdrv_reg(base, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	d->accepted = d->offered & (want | VDRV_F_VERSION_1);
	ktg_printf("KTG: %s features offered=0x%lx accepted=0x%lx\n", name, d->offered, d->accepted);
	if (!(d->accepted & VDRV_F_VERSION_1))
		return "no-version-1";
	vdrv_reg_set(base, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	vdrv_reg_set(base, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)d->accepted);
	vdrv_reg_set(base, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	vdrv_reg_set(base, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(d->accepted >> 32));
	vdrv_reg_set(base, VIRTIO_MMIO_STATUS, VDRV_S_FEATURES_OK);
	if (!(vdrv_reg(base, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK))
		return "features-ok";
	return 0;
}

const char *vdrv_queue_init(struct vdrv_dev *d, struct vdrv_queue *q, uint16_t index, struct vdrv_ring *ring)
{
	uint64_t base = d->base;

	vdrv_reg_set(base, VIRTIO_MMIO_QUEUE_SEL, index);
	if (vdrv_reg(base, VIRTIO_MMIO_QUEUE_NUM_MAX) < VDRV_QSIZE)
		return "queue-num-max";
	memset(ring, 0, sizeof(*ring));
	memset(q, 0, sizeof(*q));
	q->dev = d;
	q->r = ring;
	q->index = index;
	q->event_idx = !!(d->accepted & VDRV_F_EVENT_IDX);
	vdrv_reg_set(base, VIRTIO_MMIO_QUEUE_NUM, VDRV_QSIZE);
	vdrv_reg_set(base, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)vdrv_phys(ring->desc));
	vdrv_reg_set(base, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(vdrv_phys(ring->desc) >> 32));
	vdrv_reg_set(base, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)vdrv_phys(&ring->avail));
	vdrv_reg_set(base, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(vdrv_phys(&ring->avail) >> 32));
	vdrv_reg_set(base, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)vdrv_phys(&ring->used));
	vdrv_reg_set(base, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(vdrv_phys(&ring->used) >> 32));
	vdrv_reg_set(base, VIRTIO_MMIO_QUEUE_READY, 1);
	if (vdrv_reg(base, VIRTIO_MMIO_QUEUE_READY) != 1)
		return "queue-ready";
	return 0;
}

const char *vdrv_driver_ok(struct vdrv_dev *d)
{
	uint32_t st;

	vdrv_reg_set(d->base, VIRTIO_MMIO_STATUS, VDRV_S_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	st = vdrv_reg(d->base, VIRTIO_MMIO_STATUS);
	return (!(st & VIRTIO_STATUS_DRIVER_OK) || (st & VIRTIO_STATUS_DEVICE_NEEDS_RESET)) ? "driver-ok" : 0;
}

int vdrv_add(struct vdrv_queue *q, uint64_t addr, uint32_t len, int writable)
{
	volatile struct vdrv_ring *r = q->r;
	unsigned int id;

	for (id = 0; id < VDRV_QSIZE && (q->busy & (1u << id)); id++)
		;
	if (id == VDRV_QSIZE)
		return -1;
	q->busy |= (uint16_t)(1u << id);
	r->desc[id].addr = addr;
	r->desc[id].len = len;
	r->desc[id].flags = writable ? VIRTQ_DESC_F_WRITE : 0;
	r->desc[id].next = 0;
	r->avail.ring[r->avail.idx % VDRV_QSIZE] = (uint16_t)id;
	vdrv_barrier();
	r->avail.idx++;
	return (int)id;
}

void vdrv_kick(struct vdrv_queue *q)
{
	volatile struct vdrv_ring *r = q->r;
	uint16_t old = q->kicked_idx, now = r->avail.idx, event;

	q->kicked_idx = now;
	__asm__ volatile("mfence" : : : "memory"); /* idx visible before avail_event is read */
	if (q->event_idx) {
		event = r->used.avail_event;
		/* Does [old, now) cross the index the device asked to be told about? */
		if (!virtq_need_event(event, now, old)) {
			q->kicks_skipped++;
			return;
		}
	}
	q->kicks++;
	vdrv_reg_set(q->dev->base, VIRTIO_MMIO_QUEUE_NOTIFY, q->index);
}

void vdrv_used_event_set(struct vdrv_queue *q, uint16_t idx)
{
	((volatile struct vdrv_ring *)q->r)->avail.used_event = idx;
	__asm__ volatile("mfence" : : : "memory");
}

int vdrv_get(struct vdrv_queue *q, uint32_t *id, uint32_t *len)
{
	volatile struct vdrv_ring *r = q->r;
	uint32_t i;

	if (r->used.idx == q->last_used)
		return 0;
	vdrv_barrier();
	i = r->used.ring[q->last_used % VDRV_QSIZE].id;
	*len = r->used.ring[q->last_used % VDRV_QSIZE].len;
	q->last_used++;
	*id = i;
	if (i < VDRV_QSIZE)
		q->busy &= (uint16_t)~(1u << i);
	return 1;
}

int vdrv_wait(struct vdrv_queue *q, uint32_t *id, uint32_t *len, unsigned int mult)
{
	uint64_t start = vdrv_rdtsc();

	while (!vdrv_get(q, id, len)) {
		if (vdrv_rdtsc() - start > VDRV_WAIT_TICKS * mult)
			return 0;
		cpu_pause();
	}
	return 1;
}

uint32_t vdrv_isr_take(struct vdrv_dev *d)
{
	uint32_t isr = vdrv_reg(d->base, VIRTIO_MMIO_INTERRUPT_STATUS);

	if (isr)
		vdrv_reg_set(d->base, VIRTIO_MMIO_INTERRUPT_ACK, isr);
	return isr;
}

void vdrv_verdict(const char *name, const char *why)
{
	if (why)
		ktg_printf("KTG: %s FAIL %s\n", name, why);
	else
		ktg_printf("KTG: %s ok\n", name);
}

void vdrv_hex(char *out, const void *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[2 * n] = '\0';
}
