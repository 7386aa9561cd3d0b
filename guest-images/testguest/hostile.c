/*
 * hostile=<iterations> [seed=<n>] [hostile_dev=<index>] [hostile_smp=1]: a
 * fuzzing guest.  An xorshift64 PRNG picks, for each iteration, one
 * adversarial action against the monitor's devices: odd-sized register
 * accesses to the virtio-mmio windows, status and queue register abuse,
 * malformed descriptor chains published on a properly set-up queue, port I/O
 * to the serial port, the i8042 and unclaimed ports, and MMIO to unclaimed
 * addresses and the boot timer.  The guest itself must survive all of it: the
 * device may only write guest RAM through descriptors and rings that point
 * into `scratch` (below), or to addresses that are not RAM the guest uses
 * (>= 4 MiB or outside RAM).  Never: the i8042 reset command, 0xCF9/0x92, the
 * LAPIC/IOAPIC, or the value 123 to the boot timer.
 *
 * hostile_smp=1 (with smp=1, which starts the APs): every AP online when the
 * attack starts runs its own loop at the same time as the BSP's, so the
 * monitor sees the same registers from several vCPU threads at once.  Each
 * CPU has its own PRNG (struct prng, seeded from seed= and the CPU number;
 * the BSP's is seeded as without APs, so it repeats the single-CPU actions
 * until an AP changes what it sees).  APs take only the register-level
 * actions (ap_action()); the chains on `scratch` and the serial port stay
 * the BSP's.  The APs do not count iterations: they attack until the BSP has
 * done its n, which then stops them, waits (bounded) until each has
 * acknowledged, prints their iteration counts and only then resets the
 * devices.  The APs then park.  Output lines are in README.md.
 */
#include "guest-images/testguest/hw.h"
#include "guest-images/testguest/ktg.h"
#include "vmm/boot/layout.h"

#define HOSTILE_DEVICES_MAX 32
#define HOSTILE_QSIZE       8
#define HOSTILE_POLLS       2000   /* used-ring polls after a notify */

/* virtio-mmio registers and bits (virtio 1.2, 4.2.2), as in virtio.c. */
#define R_MAGIC          0x000
#define R_QUEUE_SEL      0x030
#define R_QUEUE_NUM_MAX  0x034
#define R_QUEUE_NUM      0x038
#define R_QUEUE_READY    0x044
#define R_QUEUE_NOTIFY   0x050
#define R_INT_STATUS     0x060
#define R_INT_ACK        0x064
#define R_STATUS         0x070
#define R_QUEUE_DESC_LO  0x080
#define R_QUEUE_DESC_HI  0x084
#define R_QUEUE_DRIVER_LO 0x090
#define R_QUEUE_DRIVER_HI 0x094
#define R_QUEUE_DEVICE_LO 0x0a0
#define R_QUEUE_DEVICE_HI 0x0a4
#define R_DRV_FEAT       0x020
#define R_DRV_FEAT_SEL   0x024
#define R_DEV_FEAT_SEL   0x014
#define R_CONFIG         0x100
#define MAGIC_VALUE      0x74726976
#define DESC_F_NEXT      1
#define DESC_F_WRITE     2
#define DESC_F_INDIRECT  4

struct hdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* Everything the devices may write lives here (the guest never relies on it). */
static struct {
	struct hdesc desc[HOSTILE_QSIZE];
	struct hdesc indirect[64];
	struct {
		uint16_t flags, idx, ring[HOSTILE_QSIZE], used_event;
	} avail __attribute__((aligned(16)));
	struct {
		uint16_t flags, idx;
		struct { uint32_t id, len; } ring[HOSTILE_QSIZE];
		uint16_t avail_event;
	} used __attribute__((aligned(16)));
	uint8_t buf[8192] __attribute__((aligned(16)));
} scratch __attribute__((aligned(4096)));

/* Written by the BSP before it lets the APs go, read-only afterwards. */
static uint64_t dev_base[HOSTILE_DEVICES_MAX], dev_size[HOSTILE_DEVICES_MAX];
static unsigned int ndev;

/* hostile_smp=1: the BSP moves ap_phase from AP_WAIT to AP_ATTACK (after
 * setting ap_expected, the APs that take part, and attack_seed) and later to
 * AP_STOP.  Each AP writes only its own ap_iters slot and counts itself in
 * ap_acked once it has stopped. */
enum { AP_WAIT, AP_ATTACK, AP_STOP };
static uint32_t ap_phase, ap_expected, ap_acked;
static uint64_t attack_seed;
static uint64_t ap_iters[KTG_MAX_CPUS];

/* One per CPU, on its own stack: CPUs never share PRNG state. */
struct prng {
	uint64_t s;
};

/* CPU 0 (the BSP) keeps the single-CPU seeding, so a seed repeats what it
 * did before there were APs; an AP's state goes through splitmix64's
 * finalizer, so streams of neighbouring CPUs or seeds look unrelated. */
static void prng_seed(struct prng *r, uint64_t seed, unsigned int cpu)
{
	uint64_t x = seed ^ 0x9e3779b97f4a7c15ULL;

	if (cpu) {
		x += cpu * 0x9e3779b97f4a7c15ULL;
		x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
		x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
		x ^= x >> 31;
	}
	r->s = x ? x : 1; /* 0 would stick xorshift at 0 */
}

static uint64_t rnd(struct prng *r)
{
	r->s ^= r->s << 13;
	r->s ^= r->s >> 7;
	r->s ^= r->s << 17;
	return r->s;
}

static uint32_t below(struct prng *r, uint32_t n)
{
	return n ? (uint32_t)(rnd(r) % n) : 0;
}

static inline void barrier(void)
{
	__asm__ volatile("" : : : "memory");
}

static uint64_t mmio_rd(uint64_t addr, unsigned int width)
{
	void *p = phys(addr);

	switch (width) {
	case 1: return *(volatile uint8_t *)p;
	case 2: return *(volatile uint16_t *)p;
	case 4: return *(volatile uint32_t *)p;
	default: return *(volatile uint64_t *)p;
	}
}

static void mmio_wr(uint64_t addr, unsigned int width, uint64_t v)
{
	void *p = phys(addr);

	barrier();
	switch (width) {
	case 1: *(volatile uint8_t *)p = (uint8_t)v; break;
	case 2: *(volatile uint16_t *)p = (uint16_t)v; break;
	case 4: *(volatile uint32_t *)p = (uint32_t)v; break;
	default: *(volatile uint64_t *)p = v; break;
	}
}

static void out_w(uint16_t port, unsigned int width, uint32_t v)
{
	if (width == 1)
		__asm__ volatile("outb %b0, %w1" : : "a"(v), "Nd"(port));
	else if (width == 2)
		__asm__ volatile("outw %w0, %w1" : : "a"(v), "Nd"(port));
	else
		__asm__ volatile("outl %0, %w1" : : "a"(v), "Nd"(port));
}

static uint32_t in_w(uint16_t port, unsigned int width)
{
	uint32_t v = 0;

	if (width == 1)
		__asm__ volatile("inb %w1, %b0" : "+a"(v) : "Nd"(port));
	else if (width == 2)
		__asm__ volatile("inw %w1, %w0" : "+a"(v) : "Nd"(port));
	else
		__asm__ volatile("inl %w1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static unsigned int rnd_width(struct prng *r)
{
	return 1u << below(r, 4);
}

/* Values that tend to hit edge cases, or random ones. */
static uint64_t rnd_value(struct prng *r)
{
	static const uint64_t special[] = {
		0, 1, 2, 3, 4, 7, 8, 0xf, 0x40, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff,
		0x10000, 0x7fffffff, 0x80000000, 0xffffffff, 0x100000000ULL, ~0ULL, 123 + 1,
	};

	switch (below(r, 3)) {
	case 0: return special[below(r, sizeof(special) / sizeof(special[0]))];
	case 1: return below(r, 0x100);
	default: return rnd(r);
	}
}

/* A guest-physical address the device must refuse or that is harmless RAM. */
static uint64_t bad_addr(struct prng *r)
{
	static const uint64_t bad[] = {
		0x8000000ULL - 8,    /* spans the end of 128 MiB of RAM */
		0x8000000ULL,        /* just past it */
		0x10000000ULL - 4,   /* spans the end of 256 MiB */
		0xbffffff8ULL,       /* spans into the MMIO gap */
		0xc0000000ULL,       /* boot timer window */
		0xc0001000ULL,       /* a device's own registers */
		0xd0000000ULL,       /* unclaimed MMIO */
		0xfee00000ULL,       /* LAPIC */
		0xfffffff0ULL,       /* spans 4 GiB */
		0x100000000ULL,      /* above 4 GiB: no RAM there with small guests */
		0x10000000000ULL,    /* 1 TiB */
		0xfffffffffffff000ULL,
		0xfffffffffffffff8ULL, /* wraps past 2^64 */
		~0ULL,
	};

	switch (below(r, 4)) {
	case 0: return bad[below(r, sizeof(bad) / sizeof(bad[0]))] + below(r, 8);
	case 1: return 0x400000ULL + (rnd(r) & 0x3ffffffULL); /* RAM the guest never uses (or past the end) */
	case 2: return rnd(r);
	default: return bad[below(r, sizeof(bad) / sizeof(bad[0]))];
	}
}

/* A buffer address: usually inside scratch.buf (possibly running off it), sometimes bad. */
static uint64_t buf_addr(struct prng *r, uint32_t *len)
{
	uint64_t base = (uint64_t)(uintptr_t)scratch.buf;
	static const uint32_t lens[] = { 0, 1, 15, 16, 512, 513, 4096, 0x10000, 0x7fffffff, 0xffffffff };

	*len = below(r, 2) ? lens[below(r, sizeof(lens) / sizeof(lens[0]))] : below(r, 1024);
	if (below(r, 4) == 0)
		return bad_addr(r);
	/* Inside scratch: clamp the length so the device cannot write past it. */
	{
		uint32_t off = below(r, sizeof(scratch.buf));

		if (*len > sizeof(scratch.buf) - off)
			*len = (uint32_t)(sizeof(scratch.buf) - off);
		return base + off;
	}
}

static uint64_t pick_dev(struct prng *r)
{
	return dev_base[below(r, ndev)];
}

/* 1. Any access of any width to any offset of a window. */
static void act_reg_random(struct prng *r)
{
	unsigned int d = below(r, ndev), w = rnd_width(r);
	uint64_t off = below(r, 4) ? below(r, 0x200) : below(r, (uint32_t)dev_size[d]);

	if (off + w > dev_size[d])
		off = dev_size[d] - w; /* stay inside the window (it may be a victim's neighbour) */
	if (below(r, 2))
		mmio_rd(dev_base[d] + off, w);
	else
		mmio_wr(dev_base[d] + off, w, rnd_value(r));
}

/* 2. Status bytes in random order, then a read back. */
static void act_status(struct prng *r)
{
	static const uint8_t st[] = { 0, 1, 2, 3, 4, 8, 0xb, 0xf, 0x40, 0x80, 0xff, 0x7, 0x4f };
	uint64_t b = pick_dev(r);
	unsigned int n = 1 + below(r, 6);

	while (n--)
		mmio_wr(b + R_STATUS, 4, below(r, 3) ? st[below(r, sizeof(st))] : (uint32_t)rnd(r));
	mmio_rd(b + R_STATUS, 4);
}

/* 3. Queue registers with bad selectors, sizes and addresses. */
static void act_queue_regs(struct prng *r)
{
	static const uint32_t nums[] = { 0, 1, 3, 7, 8, 9, 255, 256, 1024, 32768, 65535, 65536, 0xffffffff };
	static const uint32_t sels[] = { 0, 1, 2, 0xff, 0xffff, 0x10000, 0xffffffff };
	uint64_t b = pick_dev(r);
	unsigned int n = 1 + below(r, 8);

	while (n--) {
		switch (below(r, 8)) {
		case 0: mmio_wr(b + R_QUEUE_SEL, 4, below(r, 2) ? sels[below(r, 7)] : (uint32_t)rnd(r)); break;
		case 1: mmio_wr(b + R_QUEUE_NUM, 4, nums[below(r, sizeof(nums) / 4)]); break;
		case 2: {
			uint64_t a = bad_addr(r);
			uint32_t reg = below(r, 3) * 0x10 + R_QUEUE_DESC_LO;

			mmio_wr(b + reg, 4, (uint32_t)a);
			mmio_wr(b + reg + 4, 4, (uint32_t)(a >> 32));
			break;
		}
		case 3: mmio_wr(b + R_QUEUE_READY, 4, below(r, 3) ? below(r, 2) : (uint32_t)rnd(r)); break;
		case 4: mmio_wr(b + R_QUEUE_NOTIFY, 4, below(r, 2) ? below(r, 4) : (uint32_t)rnd(r)); break;
		case 5:
			mmio_wr(b + (below(r, 2) ? R_DRV_FEAT_SEL : R_DEV_FEAT_SEL), 4,
				below(r, 2) ? below(r, 4) : (uint32_t)rnd(r));
			mmio_wr(b + R_DRV_FEAT, 4, (uint32_t)rnd(r));
			break;
		case 6: mmio_wr(b + R_INT_ACK, 4, (uint32_t)rnd_value(r)); break;
		default: mmio_wr(b + R_STATUS, 4, below(r, 2) ? 0xf : 0x4); break;
		}
	}
	mmio_rd(b + R_QUEUE_NUM_MAX, 4);
	mmio_rd(b + R_QUEUE_READY, 4);
}

/* 4. Configuration space, including past its end. */
static void act_config(struct prng *r)
{
	uint64_t b = pick_dev(r);
	unsigned int w = rnd_width(r);
	uint64_t off = R_CONFIG + below(r, 0x100);

	if (below(r, 2))
		mmio_rd(b + off, w);
	else
		mmio_wr(b + off, w, rnd_value(r));
}

/* Proper init of queue 0 over scratch: 0 on success. */
static int queue_setup(struct prng *r, uint64_t b)
{
	uint64_t d = (uint64_t)(uintptr_t)scratch.desc, a = (uint64_t)(uintptr_t)&scratch.avail;
	uint64_t u = (uint64_t)(uintptr_t)&scratch.used;

	if (mmio_rd(b + R_MAGIC, 4) != MAGIC_VALUE)
		return -1;
	mmio_wr(b + R_STATUS, 4, 0);
	mmio_wr(b + R_STATUS, 4, 1);
	mmio_wr(b + R_STATUS, 4, 3);
	mmio_wr(b + R_DRV_FEAT_SEL, 4, 0);
	mmio_wr(b + R_DRV_FEAT, 4, below(r, 4) ? 0 : (uint32_t)rnd(r));
	mmio_wr(b + R_DRV_FEAT_SEL, 4, 1);
	mmio_wr(b + R_DRV_FEAT, 4, 1);
	mmio_wr(b + R_STATUS, 4, 0xb);
	memset(&scratch, 0, sizeof(scratch) - sizeof(scratch.buf));
	mmio_wr(b + R_QUEUE_SEL, 4, 0);
	mmio_wr(b + R_QUEUE_NUM, 4, HOSTILE_QSIZE);
	mmio_wr(b + R_QUEUE_DESC_LO, 4, (uint32_t)d);
	mmio_wr(b + R_QUEUE_DESC_HI, 4, (uint32_t)(d >> 32));
	mmio_wr(b + R_QUEUE_DRIVER_LO, 4, (uint32_t)a);
	mmio_wr(b + R_QUEUE_DRIVER_HI, 4, (uint32_t)(a >> 32));
	mmio_wr(b + R_QUEUE_DEVICE_LO, 4, (uint32_t)u);
	mmio_wr(b + R_QUEUE_DEVICE_HI, 4, (uint32_t)(u >> 32));
	mmio_wr(b + R_QUEUE_READY, 4, 1);
	mmio_wr(b + R_STATUS, 4, 0xf);
	return (mmio_rd(b + R_STATUS, 4) & 4) ? 0 : -1;
}

static void rnd_desc(struct prng *r, struct hdesc *dsc, unsigned int nmax, int allow_indirect)
{
	static const uint32_t types[] = { 0, 1, 4, 8, 11, 13, 0xffffffff };
	uint32_t len;

	dsc->addr = buf_addr(r, &len);
	dsc->len = len;
	dsc->flags = (uint16_t)(below(r, 3) ? (DESC_F_NEXT | (below(r, 2) ? DESC_F_WRITE : 0)) : (rnd(r) & 0xff));
	if (!allow_indirect && (dsc->flags & DESC_F_INDIRECT) && below(r, 2))
		dsc->flags &= (uint16_t)~DESC_F_INDIRECT;
	/* An indirect descriptor's own table is only read: it may point anywhere. */
	if (dsc->flags & DESC_F_INDIRECT) {
		dsc->addr = below(r, 3) ? (uint64_t)(uintptr_t)scratch.indirect : bad_addr(r);
		dsc->len = below(r, 2) ? 16 * (1 + below(r, 64)) : (uint32_t)rnd_value(r);
		dsc->flags &= (uint16_t)~DESC_F_WRITE;
		if (dsc->addr == (uint64_t)(uintptr_t)scratch.indirect && dsc->len > sizeof(scratch.indirect) &&
		    below(r, 2))
			dsc->len = sizeof(scratch.indirect);
	}
	/* Loops, forward and backward links, out-of-range next. */
	dsc->next = (uint16_t)(below(r, 4) ? below(r, nmax) : rnd(r));
	if (dsc->addr == (uint64_t)(uintptr_t)scratch.buf + 0 && below(r, 2)) {
		/* Looks like a request header: a real type and a sector. */
		*(volatile uint32_t *)scratch.buf = types[below(r, sizeof(types) / 4)];
	}
	/* A write-only "header": the device must not accept it as a request. */
	if (below(r, 8) == 0)
		dsc->flags |= DESC_F_WRITE;
}

/* 5. A set-up queue, then malformed chains. */
static void act_chains(struct prng *r)
{
	uint64_t b = pick_dev(r);
	unsigned int i, n, head;
	volatile uint16_t *used_idx = &scratch.used.idx;

	if (queue_setup(r, b))
		return;
	/* A sensible header at the start of buf, most of the time. */
	((volatile uint32_t *)scratch.buf)[0] = below(r, 3) ? below(r, 2) : (uint32_t)rnd(r);
	((volatile uint32_t *)scratch.buf)[1] = 0;
	*(volatile uint64_t *)(scratch.buf + 8) = below(r, 2) ? below(r, 64) : rnd(r);
	for (i = 0; i < HOSTILE_QSIZE; i++)
		rnd_desc(r, &scratch.desc[i], HOSTILE_QSIZE, 1);
	for (i = 0; i < 64; i++)
		rnd_desc(r, &scratch.indirect[i], 64, 0);
	/* Sometimes a well-formed prefix: header, data, status. */
	if (below(r, 3) == 0) {
		head = below(r, HOSTILE_QSIZE - 3);
		scratch.desc[head] = (struct hdesc){ (uint64_t)(uintptr_t)scratch.buf, 16, DESC_F_NEXT,
						     (uint16_t)(head + 1) };
		scratch.desc[head + 1] = (struct hdesc){ (uint64_t)(uintptr_t)scratch.buf + 512, 512,
							 DESC_F_NEXT | DESC_F_WRITE, (uint16_t)(head + 2) };
		/* The status byte: sometimes a loop back to the head instead of an end. */
		scratch.desc[head + 2] = (struct hdesc){ (uint64_t)(uintptr_t)scratch.buf + 2048, 1,
							 (uint16_t)(DESC_F_WRITE | (below(r, 2) ? DESC_F_NEXT : 0)),
							 (uint16_t)head };
	}
	n = 1 + below(r, HOSTILE_QSIZE);
	for (i = 0; i < n; i++)
		scratch.avail.ring[i] = (uint16_t)(below(r, 4) ? below(r, HOSTILE_QSIZE) : rnd(r));
	scratch.avail.flags = (uint16_t)(below(r, 4) ? 0 : rnd(r));
	barrier();
	switch (below(r, 4)) {
	case 0: scratch.avail.idx = (uint16_t)rnd(r); break;          /* far ahead */
	case 1: scratch.avail.idx = (uint16_t)(HOSTILE_QSIZE + 1 + below(r, 8)); break;
	default: scratch.avail.idx = (uint16_t)n; break;
	}
	barrier();
	mmio_wr(b + R_QUEUE_NOTIFY, 4, below(r, 4) ? 0 : (uint32_t)rnd_value(r));
	for (i = 0; i < HOSTILE_POLLS && *used_idx == 0; i++)
		cpu_pause();
	mmio_rd(b + R_INT_STATUS, 4);
	mmio_wr(b + R_INT_ACK, 4, 3);
	/* Sometimes more garbage on the live queue, sometimes a reset under the device. */
	if (below(r, 2)) {
		scratch.avail.idx = (uint16_t)(scratch.avail.idx + below(r, 3));
		mmio_wr(b + R_QUEUE_NOTIFY, 4, 0);
	}
	if (below(r, 2))
		mmio_wr(b + R_STATUS, 4, 0);
}

/* 6. The serial port: any register, then put it back the way the console needs it. */
static void act_serial(struct prng *r)
{
	uint16_t port = (uint16_t)(LAYOUT_PIO_COM1 + below(r, 8));
	unsigned int w = below(r, 4) ? 1 : rnd_width(r) & 7;

	if (!w)
		w = 1;
	if (below(r, 2)) {
		in_w(port, w);
	} else {
		uint32_t v = (uint32_t)rnd_value(r);

		if (port == LAYOUT_PIO_COM1 && w == 1)
			v = '#'; /* data to the console: visible, but no control characters */
		out_w(port, w, v);
		if (port == LAYOUT_PIO_COM1)
			out_w(LAYOUT_PIO_COM1, 1, '\n');
	}
	out_w(LAYOUT_PIO_COM1 + 3, 1, 0x03); /* LCR: 8N1, DLAB off */
	out_w(LAYOUT_PIO_COM1 + 1, 1, 0x00); /* IER */
	out_w(LAYOUT_PIO_COM1 + 4, 1, 0x03); /* MCR: DTR RTS, no loopback */
}

/* 7. The i8042: anything but the reset command. */
static void act_i8042(struct prng *r)
{
	uint16_t port = below(r, 2) ? 0x60 : 0x64;
	uint8_t v = (uint8_t)rnd(r);

	if (below(r, 2)) {
		in_w(port, 1);
		return;
	}
	if (port == 0x64 && v == 0xfe)
		v = 0xd1; /* write output port instead */
	out_w(port, 1, v);
}

/* 8. Unclaimed ports and MMIO, the boot timer window. */
static void act_unclaimed(struct prng *r)
{
	static const uint16_t ports[] = { 0x1234, 0x80, 0xcf8, 0xcfc, 0x70, 0x71, 0x20, 0x21, 0x40, 0x43,
					  0x2f8, 0x3f0, 0x402, 0x510, 0x61, 0x63, 0x65, 0xffff };
	static const uint64_t mmio[] = { 0xd0000000ULL, 0xfe000000ULL, 0xfed00000ULL, 0xffff0000ULL,
					 0xfffffff8ULL, 0xc0100000ULL };
	unsigned int w = rnd_width(r);

	switch (below(r, 4)) {
	case 0: {
		uint16_t p = below(r, 2) ? ports[below(r, sizeof(ports) / 2)] : (uint16_t)rnd(r);

		/* Reset controls, the console and the i8042 (reset command) stay out. */
		if (p == 0xcf9 || p == 0x92 || (p >= 0x3f8 && p <= 0x3ff) || (p >= 0x60 && p <= 0x64))
			p = 0x1234;
		if (w == 8)
			w = 4;
		if (below(r, 2))
			in_w(p, w);
		else
			out_w(p, w, (uint32_t)rnd(r));
		break;
	}
	case 1: {
		uint64_t a = mmio[below(r, sizeof(mmio) / 8)];

		if (a == 0xfffffff8ULL && w == 8)
			w = 4;
		if (below(r, 2))
			mmio_rd(a, w);
		else
			mmio_wr(a, w, rnd(r));
		break;
	}
	case 2: {
		/* Past the announced devices, inside the virtio area (no victim there). */
		uint64_t a = LAYOUT_VIRTIO_BASE + (uint64_t)(ndev + below(r, 16)) * LAYOUT_VIRTIO_STRIDE +
			     below(r, 0x1000 - 8);

		if (below(r, 2))
			mmio_rd(a, w);
		else
			mmio_wr(a, w, rnd_value(r));
		break;
	}
	default: {
		/* The boot timer window: anything but the magic value. */
		uint64_t a = LAYOUT_BOOT_TIMER + below(r, LAYOUT_BOOT_TIMER_LEN - 8);
		uint64_t v = rnd_value(r);

		if ((v & 0xff) == 123)
			v ^= 1;
		if (below(r, 2))
			mmio_rd(a, w);
		else
			mmio_wr(a, w, v);
		break;
	}
	}
}

/* "<size>[KMG]@<addr>:<irq>[:<id>]" (sizes and addresses decimal or 0x hex). */
static int parse_num(const char **s, const char *end, uint64_t *out)
{
	int hex = end - *s > 2 && (*s)[0] == '0' && ((*s)[1] == 'x' || (*s)[1] == 'X');
	const char *p = *s + (hex ? 2 : 0), *start = p;
	uint64_t v = 0;

	for (; p < end; p++) {
		unsigned int d;

		if (*p >= '0' && *p <= '9')
			d = (unsigned int)(*p - '0');
		else if (hex && *p >= 'a' && *p <= 'f')
			d = (unsigned int)(*p - 'a' + 10);
		else if (hex && *p >= 'A' && *p <= 'F')
			d = (unsigned int)(*p - 'A' + 10);
		else
			break;
		if (v > (~0ULL >> 4))
			return -1;
		v = v * (hex ? 16 : 10) + d;
	}
	if (p == start)
		return -1;
	*s = p;
	*out = v;
	return 0;
}

static int parse_device(const char *s, size_t len, uint64_t *size, uint64_t *addr)
{
	const char *end = s + len;
	uint64_t irq;

	if (parse_num(&s, end, size))
		return -1;
	if (s < end && (*s == 'K' || *s == 'k'))
		*size <<= 10, s++;
	else if (s < end && (*s == 'M' || *s == 'm'))
		*size <<= 20, s++;
	if (s >= end || *s++ != '@' || parse_num(&s, end, addr) || s >= end || *s++ != ':')
		return -1;
	return parse_num(&s, end, &irq);
}

static uint64_t parse_dec(const char *s, size_t len, int *ok)
{
	uint64_t v = 0;
	size_t i;

	*ok = len > 0;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9' || v > 1000000000000ULL) {
			*ok = 0;
			return 0;
		}
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	return v;
}

/*
 * seed= and hostile_dev= (hostile='s value is val, len), and the attacked
 * devices into dev_base/dev_size/ndev; -1 after the error line when a value
 * is not a decimal number.
 */
static int parse_args(const char *cmdline, const char *val, size_t len, uint64_t *iters, uint64_t *seed)
{
	const char *pos = cmdline;
	uint64_t only = ~0ULL;
	unsigned int index = 0;
	int ok;

	*iters = parse_dec(val, len, &ok);
	if (!ok) {
		ktg_printf("KTG: hostile error iterations\n");
		return -1;
	}
	*seed = 1;
	if (cmdline_get(cmdline, "seed", &val, &len)) {
		*seed = parse_dec(val, len, &ok);
		if (!ok) {
			ktg_printf("KTG: hostile error seed\n");
			return -1;
		}
	}
	if (cmdline_get(cmdline, "hostile_dev", &val, &len)) {
		only = parse_dec(val, len, &ok);
		if (!ok) {
			ktg_printf("KTG: hostile error hostile_dev\n");
			return -1;
		}
	}
	while (ndev < HOSTILE_DEVICES_MAX && cmdline_next(&pos, "virtio_mmio.device", &val, &len)) {
		uint64_t size, base;

		if (!parse_device(val, len, &size, &base) && size >= 0x200 && size <= 0x100000 &&
		    phys_ok(base, size) && base >= LAYOUT_MMIO_GAP_START && (only == ~0ULL || only == index)) {
			dev_base[ndev] = base;
			dev_size[ndev] = size;
			ndev++;
		}
		index++;
	}
	return 0;
}

/*
 * An AP's iteration: the register-level actions only.  The chains action
 * owns `scratch` and the serial action the console's line settings, both the
 * BSP's; an i8042 command byte and its data byte from different CPUs would
 * make a sequence nobody chose, so APs only read the i8042.
 */
static void ap_action(struct prng *r)
{
	unsigned int a = below(r, ndev ? 12 : 3);

	if (ndev == 0)
		a += 9; /* port and unclaimed actions only */
	switch (a) {
	case 0: case 1: case 2: case 3: act_reg_random(r); break;
	case 4: case 5: act_status(r); break;
	case 6: case 7: act_queue_regs(r); break;
	case 8: act_config(r); break;
	case 9: in_w(below(r, 2) ? 0x60 : 0x64, 1); break;
	default: act_unclaimed(r); break;
	}
}

int hostile_smp_wanted(const char *cmdline)
{
	const char *val;
	size_t len;

	return cmdline_get(cmdline, "hostile", &val, &len) && cmdline_is(cmdline, "hostile_smp", "1");
}

void hostile_ap_main(unsigned int cpu)
{
	struct prng r;
	uint64_t n = 0;

	/* Not bounded: with hostile_smp_wanted(), hostile_run() always moves
	 * the phase on, right after the SMP bring-up. */
	while (__atomic_load_n(&ap_phase, __ATOMIC_ACQUIRE) == AP_WAIT)
		cpu_pause();
	/* An AP that came online after the BSP counted them (or any AP, when
	 * the attack never started) is not waited for: it must not touch the
	 * devices.  One that is waited for acknowledges even if it sees AP_STOP
	 * at once. */
	if (cpu > ap_expected)
		return;
	prng_seed(&r, attack_seed, cpu);
	while (__atomic_load_n(&ap_phase, __ATOMIC_RELAXED) == AP_ATTACK) {
		ap_action(&r);
		__atomic_store_n(&ap_iters[cpu - 1], ++n, __ATOMIC_RELAXED);
	}
	__atomic_add_fetch(&ap_acked, 1, __ATOMIC_RELEASE);
}

/* Lets every AP online so far attack; returns how many. */
static unsigned int aps_go(uint64_t seed)
{
	ap_expected = smp_aps_online();
	attack_seed = seed;
	__atomic_store_n(&ap_phase, AP_ATTACK, __ATOMIC_RELEASE);
	return ap_expected;
}

/* Stops the APs and waits (bounded) until each has finished its last action,
 * so that nothing races the device resets that follow; prints their counts. */
static void aps_stop(unsigned int aps)
{
	unsigned long spins;
	unsigned int i;
	uint32_t acked = 0;

	__atomic_store_n(&ap_phase, AP_STOP, __ATOMIC_RELEASE);
	for (spins = 0; spins < KTG_AP_WAIT_SPINS; spins++) {
		acked = __atomic_load_n(&ap_acked, __ATOMIC_ACQUIRE);
		if (acked >= aps)
			break;
		cpu_pause();
	}
	console_lock();
	if (acked < aps)
		console_printf_locked("KTG: hostile error ap-stop acked=%u/%u\n", acked, aps);
	console_printf_locked("KTG: hostile cpus=%u ap_iterations=%s", aps + 1, aps ? "" : "none");
	for (i = 0; i < aps; i++)
		console_printf_locked(i ? ",%lu" : "%lu", __atomic_load_n(&ap_iters[i], __ATOMIC_RELAXED));
	console_puts_locked("\n");
	console_unlock();
}

void hostile_run(const char *cmdline)
{
	const char *val;
	size_t len;
	uint64_t iters, seed, every, it;
	unsigned int aps = 0;
	int smp = hostile_smp_wanted(cmdline);
	struct prng r;

	if (!cmdline_get(cmdline, "hostile", &val, &len))
		return;
	if (parse_args(cmdline, val, len, &iters, &seed)) {
		__atomic_store_n(&ap_phase, AP_STOP, __ATOMIC_RELEASE); /* waiting APs park */
		return;
	}
	prng_seed(&r, seed, 0);
	ktg_printf("KTG: hostile start iterations=%lu seed=%lu devices=%u\n", iters, seed, ndev);
	if (smp)
		aps = aps_go(seed);
	every = iters / 8 ? iters / 8 : 1;
	for (it = 0; it < iters; it++) {
		unsigned int a = below(&r, ndev ? 16 : 4);

		if (ndev == 0)
			a += 12; /* port and unclaimed actions only */
		switch (a) {
		case 0: case 1: case 2: case 3: act_reg_random(&r); break;
		case 4: case 5: act_status(&r); break;
		case 6: case 7: act_queue_regs(&r); break;
		case 8: act_config(&r); break;
		case 9: case 10: case 11: act_chains(&r); break;
		case 12: act_serial(&r); break;
		case 13: act_i8042(&r); break;
		default: act_unclaimed(&r); break;
		}
		if ((it + 1) % every == 0 && it + 1 < iters)
			ktg_printf("KTG: hostile progress %lu/%lu\n", it + 1, iters);
	}
	if (smp)
		aps_stop(aps);
	/* Leave every attacked device reset, so the normal driver starts clean. */
	for (unsigned int d = 0; d < ndev; d++)
		mmio_wr(dev_base[d] + R_STATUS, 4, 0);
	act_serial(&r);
	ktg_printf("KTG: hostile done iterations=%lu\n", iters);
}
