/*
 * fuzz_bus_gmem: vmm/mem (the one door to guest memory) and vmm/bus (range
 * dispatch) driven by a list of operations and checked against a plain model.
 *
 * Every region is its own malloc of exactly its size, so a bounds bug in gmem
 * is an ASan report, and a shadow copy of each region catches a wrong
 * gpa -> host translation.  Ranges too big to back are only tried when the
 * model says gmem must refuse them.  Each bus range's device checks that every
 * access it receives lies inside it.
 *
 * Input: a sequence of ops, each an opcode byte followed by its arguments (see
 * the decoders); addresses are absolute or relative to an existing region's
 * start or end, so the fuzzer reaches the edges.
 */
#include <errno.h>

#include "fuzz/fuzz_common.h"
#include "vmm/bus/bus.h"
#include "vmm/mem/gmem.h"

#define FZ_REGION_MAX 0x10000ULL /* largest region the target backs */
#define FZ_ACCESS_MAX (2 * FZ_REGION_MAX)
#define FZ_MAX_OPS 512
#define FZ_BUS_MAX_LEN 16 /* vCPUs use 1..8; bus.h allows a fuzz target anything */

typedef unsigned __int128 u128;

struct model_region {
	uint64_t gpa, size;
	uint8_t *host;   /* what gmem was given */
	uint8_t *shadow; /* what the host bytes must be */
};

struct fdev {
	uint64_t base, len;
	int has_read, has_write;
	unsigned int reads, writes;
};

struct fz_state {
	struct gmem mem;
	struct model_region r[GMEM_MAX_REGIONS];
	unsigned int nr;
	struct bus bus;
	struct fdev dev[BUS_MAX_DEVICES];
	unsigned int nr_dev; /* in insertion order; the bus sorts its own copy */
	uint8_t *buf;        /* FZ_ACCESS_MAX bytes of scratch */
	uint8_t *pattern;    /* FZ_ACCESS_MAX bytes of source data */
};

/* ---- model ------------------------------------------------------------- */

/* Index of the region holding all of [gpa, gpa + len) (len 0: gpa), or -1. */
static int model_find(const struct fz_state *s, uint64_t gpa, uint64_t len)
{
	for (unsigned int i = 0; i < s->nr; i++) {
		const struct model_region *r = &s->r[i];

		if (gpa >= r->gpa && (u128)gpa + len <= (u128)r->gpa + r->size &&
		    (len || gpa < r->gpa + r->size))
			return (int)i;
	}
	return -1;
}

/* What gmem_add_region must return. */
static int model_add_rc(const struct fz_state *s, uint64_t gpa, uint64_t size, const void *host)
{
	if (!size || !host || (u128)gpa + size > UINT64_MAX)
		return -EINVAL;
	if (s->nr >= GMEM_MAX_REGIONS)
		return -ENOSPC;
	for (unsigned int i = 0; i < s->nr; i++)
		if (gpa < s->r[i].gpa + s->r[i].size && s->r[i].gpa < gpa + size)
			return -EINVAL;
	return 0;
}

static void check_gmem_table(const struct fz_state *s)
{
	uint64_t total = 0, end = 0;

	FUZZ_CHECK(s->mem.nr_regions == s->nr, "gmem has %u regions, model %u", s->mem.nr_regions, s->nr);
	for (unsigned int i = 0; i < s->mem.nr_regions; i++) {
		const struct gmem_region *g = &s->mem.regions[i];
		int m = model_find(s, g->gpa, g->size);

		FUZZ_CHECK(m >= 0 && s->r[m].gpa == g->gpa && s->r[m].size == g->size &&
			   s->r[m].host == g->host, "gmem region %u not in the model", i);
		FUZZ_CHECK(i == 0 || g[-1].gpa + g[-1].size <= g->gpa, "gmem regions unsorted or overlapping");
		total += g->size;
		if (g->gpa + g->size > end)
			end = g->gpa + g->size;
	}
	FUZZ_CHECK(gmem_total(&s->mem) == total, "gmem_total");
	FUZZ_CHECK(gmem_end(&s->mem) == end, "gmem_end %#llx, want %#llx",
		   (unsigned long long)gmem_end(&s->mem), (unsigned long long)end);
}

/* ---- input decoding ---------------------------------------------------- */

/* An address: absolute, small, or near an existing region's (or range's) edges. */
static uint64_t fz_addr(struct fz *f, const uint64_t *starts, const uint64_t *ends, unsigned int n)
{
	uint8_t mode = fz_u8(f);
	unsigned int i;
	int64_t off;

	switch (mode & 3) {
	case 0:
		return fz_u64(f);
	case 1:
		return fz_u32(f);
	default:
		i = fz_u8(f);
		off = (int16_t)fz_u16(f);
		if (!n)
			return (uint64_t)off;
		i %= n;
		return ((mode & 3) == 2 ? starts[i] : ends[i]) + (uint64_t)off;
	}
}

static uint64_t fz_gpa(struct fz *f, const struct fz_state *s)
{
	uint64_t starts[GMEM_MAX_REGIONS], ends[GMEM_MAX_REGIONS];

	for (unsigned int i = 0; i < s->nr; i++) {
		starts[i] = s->r[i].gpa;
		ends[i] = s->r[i].gpa + s->r[i].size;
	}
	return fz_addr(f, starts, ends, s->nr);
}

static uint64_t fz_pio(struct fz *f, const struct fz_state *s)
{
	uint64_t starts[BUS_MAX_DEVICES], ends[BUS_MAX_DEVICES];

	for (unsigned int i = 0; i < s->nr_dev; i++) {
		starts[i] = s->dev[i].base;
		ends[i] = s->dev[i].base + s->dev[i].len;
	}
	return fz_addr(f, starts, ends, s->nr_dev);
}

/* A length: mostly what the target can back, sometimes any 64-bit value. */
static uint64_t fz_len(struct fz *f)
{
	uint8_t mode = fz_u8(f);

	if (mode & 0x80)
		return fz_u64(f);
	return fz_u32(f) % (FZ_ACCESS_MAX + 1);
}

/* ---- gmem ops ---------------------------------------------------------- */

static void op_add_region(struct fz *f, struct fz_state *s)
{
	uint64_t gpa = fz_gpa(f, s), size = fz_len(f);
	uint8_t flags = fz_u8(f);
	static uint8_t unbacked; /* for ranges the model says gmem must refuse */
	uint8_t *host = NULL, *shadow = NULL;
	int want, rc;

	if (size && size <= FZ_REGION_MAX && !(flags & 1)) {
		host = malloc(size);
		shadow = malloc(size);
		FUZZ_CHECK(host && shadow, "out of memory");
		memset(host, 0x5a ^ s->nr, size);
		memcpy(shadow, host, size);
	} else if (!(flags & 1)) {
		host = &unbacked;
	}
	want = model_add_rc(s, gpa, size, host);
	if (want == 0 && host == &unbacked)
		return; /* valid but too big to back: nothing to learn */
	rc = gmem_add_region(&s->mem, gpa, size, host);
	FUZZ_CHECK(rc == want, "gmem_add_region(%#llx, %#llx) = %d, model %d",
		   (unsigned long long)gpa, (unsigned long long)size, rc, want);
	if (rc) {
		if (host != &unbacked)
			free(host);
		free(shadow);
		return;
	}
	s->r[s->nr++] = (struct model_region){ .gpa = gpa, .size = size, .host = host, .shadow = shadow };
}

/* The model's answer for an access of len at gpa; len 0 always succeeds for read/write/fill. */
static int model_access(const struct fz_state *s, uint64_t gpa, uint64_t len, int *idx)
{
	*idx = len ? model_find(s, gpa, len) : -1;
	return !len || *idx >= 0;
}

static void check_host_matches_shadow(const struct fz_state *s, int i, uint64_t gpa, uint64_t len)
{
	const struct model_region *r = &s->r[i];

	FUZZ_CHECK(!memcmp(r->host + (gpa - r->gpa), r->shadow + (gpa - r->gpa), len),
		   "guest bytes at %#llx differ from the model", (unsigned long long)gpa);
}

static void op_read(struct fz *f, struct fz_state *s)
{
	uint64_t gpa = fz_gpa(f, s), len = fz_len(f);
	int i, want = model_access(s, gpa, len, &i), rc;

	/* A wrong success on a huge len overruns s->buf: ASan reports it. */
	rc = gmem_read(&s->mem, gpa, s->buf, len);
	FUZZ_CHECK((rc == 0) == want && (rc == 0 || rc == -EFAULT),
		   "gmem_read(%#llx, %#llx) = %d, model %d", (unsigned long long)gpa,
		   (unsigned long long)len, rc, want);
	if (!rc && len)
		FUZZ_CHECK(!memcmp(s->buf, s->r[i].shadow + (gpa - s->r[i].gpa), len),
			   "gmem_read returned the wrong bytes at %#llx", (unsigned long long)gpa);
}

static void op_write(struct fz *f, struct fz_state *s, int fill)
{
	uint64_t gpa = fz_gpa(f, s), len = fz_len(f);
	uint8_t c = fz_u8(f);
	int i, want = model_access(s, gpa, len, &i), rc;
	const uint8_t *src = s->pattern + c; /* pattern has FZ_ACCESS_MAX + 256 bytes */

	rc = fill ? gmem_fill(&s->mem, gpa, c, len) : gmem_write(&s->mem, gpa, src, len);
	FUZZ_CHECK((rc == 0) == want && (rc == 0 || rc == -EFAULT),
		   "gmem_%s(%#llx, %#llx) = %d, model %d", fill ? "fill" : "write",
		   (unsigned long long)gpa, (unsigned long long)len, rc, want);
	if (rc || !len)
		return;
	if (fill)
		memset(s->r[i].shadow + (gpa - s->r[i].gpa), c, len);
	else
		memcpy(s->r[i].shadow + (gpa - s->r[i].gpa), src, len);
	check_host_matches_shadow(s, i, gpa, len);
}

static void op_slice(struct fz *f, struct fz_state *s)
{
	uint64_t gpa = fz_gpa(f, s), len = fz_len(f);
	int i = len ? model_find(s, gpa, len) : -1, rc;
	void *host = NULL;

	rc = gmem_slice(&s->mem, gpa, len, &host);
	FUZZ_CHECK((rc == 0) == (i >= 0) && (rc == 0 || rc == -EFAULT),
		   "gmem_slice(%#llx, %#llx) = %d, model region %d", (unsigned long long)gpa,
		   (unsigned long long)len, rc, i);
	if (rc)
		return;
	FUZZ_CHECK(host == s->r[i].host + (gpa - s->r[i].gpa), "gmem_slice pointer is wrong");
	/* Touch both ends: ASan checks the slice really is host memory. */
	((volatile uint8_t *)host)[0] = s->r[i].shadow[gpa - s->r[i].gpa];
	((volatile uint8_t *)host)[len - 1] = s->r[i].shadow[gpa - s->r[i].gpa + len - 1];
}

static void op_range_ok(struct fz *f, struct fz_state *s)
{
	uint64_t gpa = fz_gpa(f, s), len = fz_len(f);
	int ok = gmem_range_ok(&s->mem, gpa, len);

	FUZZ_CHECK(!!ok == (model_find(s, gpa, len) >= 0), "gmem_range_ok(%#llx, %#llx) = %d",
		   (unsigned long long)gpa, (unsigned long long)len, ok);
}

static void op_le(struct fz *f, struct fz_state *s)
{
	uint64_t gpa = fz_gpa(f, s), v = fz_u64(f), got = 0;
	static const unsigned int widths[] = { 2, 4, 8 };
	unsigned int w = widths[fz_u8(f) % 3];
	int i = model_find(s, gpa, w), rc;

	rc = w == 2 ? gmem_write_le16(&s->mem, gpa, (uint16_t)v) :
	     w == 4 ? gmem_write_le32(&s->mem, gpa, (uint32_t)v) : gmem_write_le64(&s->mem, gpa, v);
	FUZZ_CHECK((rc == 0) == (i >= 0), "gmem_write_le%u = %d", w * 8, rc);
	if (rc)
		return;
	memcpy(s->r[i].shadow + (gpa - s->r[i].gpa), &v, w);
	if (w == 2) {
		uint16_t x;
		rc = gmem_read_le16(&s->mem, gpa, &x);
		got = x;
	} else if (w == 4) {
		uint32_t x;
		rc = gmem_read_le32(&s->mem, gpa, &x);
		got = x;
	} else {
		rc = gmem_read_le64(&s->mem, gpa, &got);
	}
	FUZZ_CHECK(rc == 0 && got == (w == 8 ? v : v & ((1ULL << (8 * w)) - 1)), "le%u round trip", w * 8);
}

/* ---- bus ops ----------------------------------------------------------- */

static void fdev_read(void *opaque, uint64_t offset, void *data, uint32_t len)
{
	struct fdev *d = opaque;

	FUZZ_CHECK(d->has_read, "read op of a device without one");
	FUZZ_CHECK(len && offset < d->len && len <= d->len - offset,
		   "bus read [%#llx + %u) outside a device of %#llx bytes", (unsigned long long)offset,
		   len, (unsigned long long)d->len);
	for (uint32_t i = 0; i < len; i++)
		((uint8_t *)data)[i] = (uint8_t)(d->base + offset + i);
	d->reads++;
}

static void fdev_write(void *opaque, uint64_t offset, const void *data, uint32_t len)
{
	struct fdev *d = opaque;
	volatile uint8_t sink = 0;

	FUZZ_CHECK(d->has_write, "write op of a device without one");
	FUZZ_CHECK(len && offset < d->len && len <= d->len - offset,
		   "bus write [%#llx + %u) outside a device of %#llx bytes", (unsigned long long)offset,
		   len, (unsigned long long)d->len);
	for (uint32_t i = 0; i < len; i++)
		sink ^= ((const uint8_t *)data)[i]; /* ASan: the buffer holds len bytes */
	(void)sink;
	d->writes++;
}

static const struct bus_dev_ops fdev_ops_rw = { .read = fdev_read, .write = fdev_write };
static const struct bus_dev_ops fdev_ops_ro = { .read = fdev_read };
static const struct bus_dev_ops fdev_ops_wo = { .write = fdev_write };

/* Index (insertion order) of the device holding all of [addr, addr + len), or -1. */
static int model_dev(const struct fz_state *s, uint64_t addr, uint64_t len)
{
	if (!len)
		return -1;
	for (unsigned int i = 0; i < s->nr_dev; i++) {
		const struct fdev *d = &s->dev[i];

		if (addr >= d->base && (u128)addr + len <= (u128)d->base + d->len)
			return (int)i;
	}
	return -1;
}

static void op_bus_insert(struct fz *f, struct fz_state *s)
{
	uint64_t base = fz_pio(f, s), len = fz_len(f);
	uint8_t kind = fz_u8(f) % 4;
	const struct bus_dev_ops *ops = kind == 0 ? NULL : kind == 1 ? &fdev_ops_rw :
					kind == 2 ? &fdev_ops_ro : &fdev_ops_wo;
	struct fdev *d = &s->dev[s->nr_dev < BUS_MAX_DEVICES ? s->nr_dev : 0];
	int want = 0, rc;

	if (!len || !ops || (u128)base + len > UINT64_MAX)
		want = -EINVAL;
	else if (s->nr_dev >= BUS_MAX_DEVICES)
		want = -ENOSPC;
	for (unsigned int i = 0; !want && i < s->nr_dev; i++)
		if (base < s->dev[i].base + s->dev[i].len && s->dev[i].base < base + len)
			want = -EINVAL;
	rc = bus_insert(&s->bus, base, len, ops, want ? NULL : d, (kind & 1) ? "fz" : NULL);
	FUZZ_CHECK(rc == want, "bus_insert(%#llx, %#llx) = %d, model %d", (unsigned long long)base,
		   (unsigned long long)len, rc, want);
	if (rc)
		return;
	*d = (struct fdev){ .base = base, .len = len, .has_read = ops->read != NULL,
			    .has_write = ops->write != NULL };
	s->nr_dev++;
}

static void check_bus_table(const struct fz_state *s)
{
	FUZZ_CHECK(s->bus.nr_ranges == s->nr_dev, "bus has %u ranges, model %u", s->bus.nr_ranges, s->nr_dev);
	for (unsigned int i = 0; i < s->bus.nr_ranges; i++) {
		const struct bus_range *r = &s->bus.ranges[i];
		const struct fdev *d = r->opaque;

		FUZZ_CHECK(d >= s->dev && d < s->dev + s->nr_dev && d->base == r->base && d->len == r->len,
			   "bus range %u not in the model", i);
		FUZZ_CHECK(r->name != NULL, "bus range without a name");
		FUZZ_CHECK(i == 0 || r[-1].base + r[-1].len <= r->base, "bus ranges unsorted or overlapping");
	}
}

static void op_bus_access(struct fz *f, struct fz_state *s, int write)
{
	uint64_t addr = fz_pio(f, s);
	uint32_t len = fz_u8(f) % (FZ_BUS_MAX_LEN + 1);
	const struct bus_range *r = bus_find(&s->bus, addr, len);
	int i = model_dev(s, addr, len), rc;
	uint8_t *data = malloc(len ? len : 1);
	struct fdev *d;
	unsigned int before;

	FUZZ_CHECK(data, "out of memory");
	FUZZ_CHECK((r != NULL) == (i >= 0) && (!r || r->opaque == &s->dev[i]),
		   "bus_find(%#llx, %u) disagrees with the model (%d)", (unsigned long long)addr, len, i);
	d = i >= 0 ? &s->dev[i] : NULL;
	if (write) {
		fz_bytes(f, data, len);
		before = d ? d->writes : 0;
		rc = bus_write(&s->bus, addr, data, len);
		FUZZ_CHECK(rc == (d && d->has_write ? 0 : -ENOENT), "bus_write = %d", rc);
		FUZZ_CHECK(!d || d->writes == before + !rc, "bus_write dispatch count");
	} else {
		before = d ? d->reads : 0;
		rc = bus_read(&s->bus, addr, data, len);
		FUZZ_CHECK(rc == (d && d->has_read ? 0 : -ENOENT), "bus_read = %d", rc);
		FUZZ_CHECK(!d || d->reads == before + !rc, "bus_read dispatch count");
		for (uint32_t k = 0; k < len; k++)
			FUZZ_CHECK(data[k] == (rc ? 0xff : (uint8_t)(addr + k)), "bus_read data byte %u", k);
	}
	free(data);
}

/* ---- driver ------------------------------------------------------------ */

enum { OP_ADD, OP_READ, OP_WRITE, OP_FILL, OP_SLICE, OP_RANGE_OK, OP_LE, OP_BUS_INSERT,
       OP_BUS_READ, OP_BUS_WRITE, OP_COUNT };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *scratch, *pattern;
	struct fz f = fz_init(data, size);
	struct fz_state *s;

	if (!scratch) {
		/* Allocated once, kept for the process: not a leak. */
		scratch = malloc(FZ_ACCESS_MAX);
		pattern = malloc(FZ_ACCESS_MAX + 256);
		FUZZ_CHECK(scratch && pattern, "out of memory");
		for (size_t i = 0; i < FZ_ACCESS_MAX + 256; i++)
			pattern[i] = (uint8_t)(i * 31 + 7);
	}
	s = calloc(1, sizeof(*s));
	FUZZ_CHECK(s, "out of memory");
	s->buf = scratch;
	s->pattern = pattern;
	gmem_init(&s->mem);
	bus_init(&s->bus);

	for (unsigned int n = 0; f.left && n < FZ_MAX_OPS; n++) {
		switch (fz_u8(&f) % OP_COUNT) {
		case OP_ADD: op_add_region(&f, s); break;
		case OP_READ: op_read(&f, s); break;
		case OP_WRITE: op_write(&f, s, 0); break;
		case OP_FILL: op_write(&f, s, 1); break;
		case OP_SLICE: op_slice(&f, s); break;
		case OP_RANGE_OK: op_range_ok(&f, s); break;
		case OP_LE: op_le(&f, s); break;
		case OP_BUS_INSERT: op_bus_insert(&f, s); break;
		case OP_BUS_READ: op_bus_access(&f, s, 0); break;
		case OP_BUS_WRITE: op_bus_access(&f, s, 1); break;
		}
		check_gmem_table(s);
		check_bus_table(s);
	}
	for (unsigned int i = 0; i < s->nr; i++) {
		check_host_matches_shadow(s, (int)i, s->r[i].gpa, s->r[i].size);
		free(s->r[i].host);
		free(s->r[i].shadow);
	}
	free(s);
	return 0;
}
