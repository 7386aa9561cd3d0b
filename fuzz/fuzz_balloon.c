/*
 * fuzz_balloon: a virtio-balloon device on the virtio-mmio transport, driven
 * by the mock balloon driver over 64 pages of real mmap'd guest RAM (plus
 * the mock's calloc'd RAM for rings).  The input is a setup (settings,
 * guest RAM bound, features) and a list of operations: inflate and deflate
 * PFN arrays (pages of the region, its edges, anything), statistics buffers
 * of any records, reported ranges, raw descriptor chains on any queue, byte
 * pokes, raw register writes, configuration writes of any width,
 * re-negotiation, polling ticks, target and interval changes, save +
 * (possibly corrupted) restore and direct balloon_process calls.
 *
 * Invariants: every discard the device asks for is page-aligned, non-empty
 * and inside guest RAM, and the pages it discards successfully are what its
 * metrics count; every completion names a head inside its ring and has used
 * length 0, and while the device needs a reset it completes nothing (these
 * two checks stop once the input pokes RAM outside the mock's buffers or
 * writes registers: the used rings may hold garbage then); num_pages
 * always reads the last target set (and actual the last value written);
 * statistics only ever carry known tags; a refused setter or restore
 * changes nothing, an accepted restore loads exactly its state; the metrics
 * never go backwards.
 *
 * Op encoding: a setup byte, a features u64, then opcode bytes each followed
 * by the fields read in op order (see each case); missing bytes read as 0.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>

#include "devices/balloon/balloon_mock.h"
#include "fuzz/fuzz_common.h"
#include "vmm/log/log.h"

#define FZ_MAX_OPS 256
#define MAX_RENEGOTIATE 16
#define PAGES 64
#define MEM_MIB 64

enum {
	OP_PFNS, OP_STATS, OP_REPORT, OP_RAW_CHAIN, OP_POKE, OP_REG, OP_CONFIG, OP_NEGOTIATE,
	OP_TICK, OP_TARGET, OP_INTERVAL, OP_SNAPSHOT, OP_PROCESS, OP_NR
};

struct fz_balloon {
	struct balloon_mock bm;
	uint64_t discarded_pages;   /* pages the shim saw discarded successfully */
	uint32_t target_mib;        /* the model of num_pages */
	/* The input wrote guest RAM outside the mock's buffer slots (maybe the
	 * rings) or registers: used entries may be garbage from then on, so the
	 * checks on them stop. */
	bool ring_untrusted;
	struct balloon_metrics last;
};

static struct fz_balloon *z;

static int shim_discard(void *opaque, const struct gmem *mem, uint64_t gpa, uint64_t len)
{
	int ret;

	FUZZ_CHECK(mem == &z->bm.m.mem, "discard on foreign memory");
	FUZZ_CHECK(len > 0 && !(gpa % 4096) && !(len % 4096), "discard of [%#llx, +%#llx) not page-aligned",
		   (unsigned long long)gpa, (unsigned long long)len);
	ret = gmem_discard(mem, gpa, len);
	if (!ret) {
		FUZZ_CHECK(gpa >= BALLOON_MOCK_PAGES_GPA && gpa + len <= BALLOON_MOCK_PAGES_GPA + PAGES * 4096ULL,
			   "discarded outside the page region");
		z->discarded_pages += len / 4096;
	}
	return ret;
}

static uint32_t status_reg(void)
{
	return vmock_reg_read(&z->bm.m, VIRTIO_MMIO_STATUS);
}

static bool role_ok(enum balloon_queue role)
{
	int qi = balloon_mock_qidx(&z->bm, role);

	return qi >= 0 && z->bm.m.q[qi].size;
}

/* Reaps every queue the driver set up; checks each completion. */
static void reap(void)
{
	for (unsigned int role = 0; role < BALLOON_Q_NR; role++) {
		uint16_t head;
		uint32_t len;

		if (!role_ok(role))
			continue;
		while (balloon_mock_used(&z->bm, role, &head, &len) == 0) {
			if (z->ring_untrusted)
				continue;
			FUZZ_CHECK(head < z->bm.m.q[balloon_mock_qidx(&z->bm, role)].size, "head %u", head);
			FUZZ_CHECK(len == 0, "used length %u on queue role %u", len, role);
		}
	}
}

/* Used entries published on every queue the driver set up (mod 2^16). */
static uint16_t used_sum(void)
{
	uint16_t sum = 0;

	for (unsigned int role = 0; role < BALLOON_Q_NR; role++)
		if (role_ok(role))
			sum += vmock_used_idx(&z->bm.m, (unsigned int)balloon_mock_qidx(&z->bm, role));
	return sum;
}

/* Runs call, checks a broken device completed nothing, reaps. */
#define SEND(call)                                                                              \
	do {                                                                                    \
		bool broken_ = status_reg() & VIRTIO_STATUS_DEVICE_NEEDS_RESET;                 \
		uint16_t before_ = used_sum();                                                  \
		(void)(call);                                                                   \
		if (broken_ && !z->ring_untrusted)                                              \
			FUZZ_CHECK(used_sum() == before_, "completed while needing a reset");   \
		reap();                                                                         \
	} while (0)

static uint32_t fuzz_pfn(struct fz *f)
{
	uint8_t k = fz_u8(f);

	switch (k & 3) {
	case 0:
	case 1:
		return balloon_mock_pfn(fz_u8(f) % (PAGES + 4)); /* the region and just past it */
	case 2:
		return (uint32_t)(VMOCK_RAM_GPA >> 12) + fz_u8(f); /* the rings' RAM */
	default:
		return fz_u32(f);
	}
}

static void op_pfns(struct fz *f)
{
	enum balloon_queue role = (fz_u8(f) & 1) ? BALLOON_Q_DEFLATE : BALLOON_Q_INFLATE;
	unsigned int n = 1 + fz_u8(f) % 64;
	uint32_t pfns[64];

	for (unsigned int i = 0; i < n; i++)
		pfns[i] = fuzz_pfn(f);
	if (role_ok(role))
		SEND(balloon_mock_pfns(&z->bm, role, pfns, n));
}

static void op_stats(struct fz *f)
{
	unsigned int n = 1 + fz_u8(f) % 24;
	uint16_t tags[24];
	uint64_t vals[24];

	for (unsigned int i = 0; i < n; i++) {
		tags[i] = fz_u8(f) & 0x80 ? fz_u16(f) : fz_u8(f) % (VIRTIO_BALLOON_S_NR + 2);
		vals[i] = fz_u64(f);
	}
	if (role_ok(BALLOON_Q_STATS))
		SEND(balloon_mock_stats(&z->bm, tags, vals, n));
}

static void op_report(struct fz *f)
{
	unsigned int n = 1 + fz_u8(f) % 8;
	uint64_t gpas[8];
	uint32_t lens[8];

	for (unsigned int i = 0; i < n; i++) {
		uint8_t k = fz_u8(f);

		gpas[i] = (k & 1) ? fz_u64(f) : BALLOON_MOCK_PAGES_GPA + fz_u32(f) % ((PAGES + 2) * 4096);
		lens[i] = 1 + (k & 2 ? fz_u32(f) : fz_u16(f)) % (PAGES * 4096);
		if (!(k & 1) && !(k & 4)) { /* mostly inside guest RAM, or the chain is refused */
			uint64_t end = BALLOON_MOCK_PAGES_GPA + PAGES * 4096ULL;

			if (gpas[i] >= end)
				gpas[i] = end - 4096;
			if (lens[i] > end - gpas[i])
				lens[i] = (uint32_t)(end - gpas[i]);
		}
	}
	if (role_ok(BALLOON_Q_REPORTING))
		SEND(balloon_mock_report(&z->bm, gpas, lens, n));
}

static void op_raw_chain(struct fz *f)
{
	unsigned int qi = fz_u8(f) % 4;
	uint16_t size = z->bm.m.q[qi].size, head = fz_u16(f) % (size ? size : 1);
	uint8_t n = 1 + fz_u8(f) % 4;

	if (!size)
		return;
	for (uint8_t i = 0; i < n; i++) {
		uint16_t idx = (head + i) & (size - 1);
		uint64_t addr = (fz_u8(f) & 1) ? fz_u64(f) : z->bm.slots + fz_u16(f);
		uint32_t len = fz_u16(f);
		uint16_t flags = fz_u8(f) & 7;
		uint16_t next = i + 1 < n ? (idx + 1) & (size - 1) : fz_u16(f);

		vmock_desc_write(&z->bm.m, qi, idx, addr, len, flags, next);
	}
	vmock_avail_push(&z->bm.m, qi, head);
	SEND(vmock_notify(&z->bm.m, qi));
}

static uint32_t cfg(uint64_t off)
{
	uint32_t v = 0;

	balloon_virtio_ops.config_read(&z->bm.dev, off, &v, 4);
	return v;
}

static void op_snapshot(struct fz *f)
{
	struct balloon_state st, before, after;
	uint8_t mode = fz_u8(f);

	balloon_save(&z->bm.dev, &st);
	if (mode & 1) {
		size_t at = fz_u8(f) % sizeof(st);

		((uint8_t *)&st)[at] ^= (uint8_t)(1 + fz_u8(f));
	}
	if (mode & 2)
		vmock_reg_write(&z->bm.m, VIRTIO_MMIO_STATUS, 0); /* the driver went away meanwhile */
	balloon_save(&z->bm.dev, &before);
	if (balloon_restore(&z->bm.dev, &st) == 0) {
		balloon_save(&z->bm.dev, &after);
		memset(st.pad, 0, sizeof(st.pad)); /* padding is not state */
		st.pad2 = 0;
		FUZZ_CHECK(!memcmp(&after, &st, sizeof(st)), "restore did not load the state");
		FUZZ_CHECK(st.target_pages % BALLOON_PAGES_PER_MIB == 0, "target %u", st.target_pages);
		z->target_mib = st.target_pages / BALLOON_PAGES_PER_MIB;
	} else {
		balloon_save(&z->bm.dev, &after);
		FUZZ_CHECK(!memcmp(&after, &before, sizeof(after)), "a refused restore changed the device");
	}
}

static void check_state(void)
{
	struct balloon_metrics m;
	struct balloon_dev_stats st;

	balloon_metrics_get(&z->bm.dev, &m);
	FUZZ_CHECK(m.inflate_count >= z->last.inflate_count && m.inflated_pages >= z->last.inflated_pages &&
			   m.deflate_count >= z->last.deflate_count && m.bad_pfns >= z->last.bad_pfns &&
			   m.queue_errors >= z->last.queue_errors && m.stats_updates >= z->last.stats_updates &&
			   m.reported_bytes >= z->last.reported_bytes,
		   "metrics went backwards");
	FUZZ_CHECK(m.inflated_pages + m.reported_bytes / 4096 == z->discarded_pages,
		   "metrics count %llu + %llu pages, %llu were discarded", (unsigned long long)m.inflated_pages,
		   (unsigned long long)(m.reported_bytes / 4096), (unsigned long long)z->discarded_pages);
	z->last = m;
	FUZZ_CHECK(cfg(VIRTIO_BALLOON_CFG_NUM_PAGES) == z->target_mib * BALLOON_PAGES_PER_MIB, "num_pages %u",
		   cfg(VIRTIO_BALLOON_CFG_NUM_PAGES));
	if (balloon_stats_get(&z->bm.dev, &st) == 0)
		FUZZ_CHECK(!(st.present >> VIRTIO_BALLOON_S_NR), "unknown statistics %#x", st.present);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_set_level(LOG_LEVEL_ERROR);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = fz_init(data, size);
	uint8_t setup = fz_u8(&f);
	uint64_t features = fz_u64(&f) | VIRTIO_FEATURE(VIRTIO_F_VERSION_1);
	static const uint32_t intervals[] = { 0, 1, 5, BALLOON_MAX_INTERVAL };
	struct balloon_opts opts = {
		.settings = {
			.amount_mib = (setup >> 4) * 4,
			.deflate_on_oom = setup & 1,
			.stats_polling_interval_s = intervals[(setup >> 1) & 3],
			.free_page_reporting = setup & 8,
		},
		.mem_mib = MEM_MIB,
		.discard = shim_discard,
	};
	unsigned int renegotiations = 0;

	if (!z) {
		z = calloc(1, sizeof(*z));
		FUZZ_CHECK(z != NULL, "alloc");
	}
	memset(z, 0, sizeof(*z));
	if (balloon_mock_init(&z->bm, &opts, features, PAGES * 4096ULL))
		return 0;
	z->target_mib = opts.settings.amount_mib;
	memset(z->bm.pages, 0xa5, PAGES * 4096);

	for (unsigned int n = 0; n < FZ_MAX_OPS && f.left; n++) {
		switch (fz_u8(&f) % OP_NR) {
		case OP_PFNS:
			op_pfns(&f);
			break;
		case OP_STATS:
			op_stats(&f);
			break;
		case OP_REPORT:
			op_report(&f);
			break;
		case OP_RAW_CHAIN:
			op_raw_chain(&f);
			break;
		case OP_POKE: {
			struct fz_poke p = fz_poke(&f, BALLOON_MOCK_RING_RAM);

			vmock_write(&z->bm.m, VMOCK_RAM_GPA + p.off, p.bytes, p.len);
			if (VMOCK_RAM_GPA + p.off < z->bm.slots ||
			    VMOCK_RAM_GPA + p.off + p.len > z->bm.slots + BALLOON_Q_NR * BALLOON_MOCK_SLOTS * BALLOON_MOCK_SLOT_SIZE)
				z->ring_untrusted = true;
			break;
		}
		case OP_REG: {
			uint64_t reg = (fz_u8(&f) & 0x3f) * 4;

			vmock_reg_write(&z->bm.m, reg, fz_u32(&f));
			z->ring_untrusted = true;
			break;
		}
		case OP_CONFIG: {
			uint8_t w = fz_u8(&f);
			uint32_t v = fz_u32(&f), actual = cfg(VIRTIO_BALLOON_CFG_ACTUAL);
			uint32_t off = fz_u8(&f) % 20, len = 1u << (w % 3);
			bool touches = off < VIRTIO_BALLOON_CFG_ACTUAL + 4 && off + len > VIRTIO_BALLOON_CFG_ACTUAL;

			vmmio_write(&z->bm.t, VIRTIO_MMIO_CONFIG + off, &v, len);
			if (!touches)
				FUZZ_CHECK(cfg(VIRTIO_BALLOON_CFG_ACTUAL) == actual, "actual changed by a write beside it");
			break;
		}
		case OP_NEGOTIATE:
			if (renegotiations++ < MAX_RENEGOTIATE) {
				reap();
				(void)balloon_mock_negotiate(&z->bm, fz_u64(&f) | VIRTIO_FEATURE(VIRTIO_F_VERSION_1));
			}
			break;
		case OP_TICK:
			SEND(balloon_event_handler(&z->bm.dev, (fz_u8(&f) & 1) ? BALLOON_EVENT_STATS : 77, EPOLLIN));
			break;
		case OP_TARGET: {
			uint32_t mib = (fz_u8(&f) & 1) ? fz_u32(&f) : fz_u8(&f);

			if (balloon_set_target(&z->bm.dev, mib) == 0)
				z->target_mib = mib;
			else
				FUZZ_CHECK(mib > MEM_MIB, "target %u MiB refused", mib);
			break;
		}
		case OP_INTERVAL: {
			uint32_t s = fz_u16(&f);
			struct balloon_settings before, after;

			balloon_settings_get(&z->bm.dev, &before);
			if (balloon_set_stats_interval(&z->bm.dev, s)) {
				balloon_settings_get(&z->bm.dev, &after);
				FUZZ_CHECK(before.stats_polling_interval_s == after.stats_polling_interval_s,
					   "a refused interval changed it");
			} else {
				balloon_settings_get(&z->bm.dev, &after);
				FUZZ_CHECK(s && before.stats_polling_interval_s && after.stats_polling_interval_s == s,
					   "interval %u accepted as %u", s, after.stats_polling_interval_s);
			}
			break;
		}
		case OP_SNAPSHOT:
			op_snapshot(&f);
			break;
		default:
			SEND(balloon_process(&z->bm.dev));
			break;
		}
		check_state();
	}
	balloon_mock_destroy(&z->bm);
	return 0;
}
