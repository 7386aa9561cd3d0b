/*
 * fuzz_rng: a virtio-rng device on the virtio-mmio transport, driven by the
 * mock rng driver with the deterministic source and the fake clock.  The
 * input is a setup (queue size, limiter buckets, features) and a list of
 * operations: requests of any length split over any number of buffers,
 * chains without writable bytes, raw descriptor chains, byte pokes into
 * guest RAM, raw register writes, re-negotiation, source failures, clock
 * steps with timer events, limiter updates, save + (possibly corrupted)
 * restore and direct rng_process_queue calls.
 *
 * Invariants: the source is only asked to fill guest RAM, at most
 * RNG_MAX_REQUEST bytes per chain; every completion names a head inside the
 * ring and claims no more than RNG_MAX_REQUEST bytes, and for a request the
 * mock built (nothing disturbed since) no more than its length, and exactly
 * min(length, cap) while the source works; the bytes it claims are the
 * source's stream; while the device needs a reset it completes nothing;
 * with an ops bucket, no more requests pass than the bucket allows for the
 * fake time elapsed; the metrics never go backwards and their byte count is
 * what the completions claimed.  (The checks on used entries stop once the
 * input wrote guest RAM the rings may be in, or registers.)
 *
 * Op encoding: a setup byte, a features u64, two limiter bytes, then opcode
 * bytes each followed by the fields read in op order; missing bytes read 0.
 */
#include <errno.h>
#include <stdlib.h>

#include "devices/rng/rng_mock.h"
#include "fuzz/fuzz_common.h"
#include "vmm/log/log.h"

#define FZ_MAX_OPS 256
#define MAX_RENEGOTIATE 16
#define DATA_BUF (72 * 1024) /* above the per-request cap */
#define DATA_BUFS (RNG_MOCK_DATA_SIZE / DATA_BUF)
#define MS 1000000ULL

enum {
	OP_REQ, OP_EMPTY, OP_RAW_CHAIN, OP_POKE, OP_REG, OP_NEGOTIATE, OP_SOURCE,
	OP_CLOCK, OP_LIMIT, OP_SNAPSHOT, OP_PROCESS, OP_NR
};

struct fz_rng {
	struct rng_mock rm;
	struct rng_source inner;     /* the mock's source, behind the shim */
	uint32_t req_len[VIRTQ_MAX_SIZE];
	uint16_t req_descs[VIRTQ_MAX_SIZE];
	uint32_t req_gen[VIRTQ_MAX_SIZE];
	uint8_t known[VIRTQ_MAX_SIZE];
	unsigned int outstanding, nr_known, next_buf;
	uint32_t gen;
	/* The driver wrote (or had the device write) guest RAM outside the
	 * data area, maybe the rings: used entries may be garbage from then
	 * on, so the checks on them stop. */
	bool ring_untrusted;
	bool source_failing;
	uint64_t claimed;            /* sum of used lengths reaped */
	/* ops bucket accounting since the last reset of the limiter */
	struct rl_bucket_config ops;
	uint64_t ops_since, ops_t0;
	struct rng_metrics last;
};

static struct fz_rng *z;

static int shim_fill(void *opaque, void *buf, size_t len)
{
	const uint8_t *p = buf;

	FUZZ_CHECK(len > 0 && len <= RNG_MAX_REQUEST, "fill of %zu bytes", len);
	FUZZ_CHECK(p >= z->rm.m.ram && len <= RNG_MOCK_RAM_SIZE && p + len <= z->rm.m.ram + RNG_MOCK_RAM_SIZE,
		   "fill outside guest RAM");
	return z->inner.fill(z->inner.opaque, buf, len);
}

/* [gpa, gpa + len) reaches guest RAM outside the data area. */
static void taint(uint64_t gpa, uint64_t len)
{
	uint64_t ram = VMOCK_RAM_GPA, data = z->rm.data, data_end = data + RNG_MOCK_DATA_SIZE;
	uint64_t end = gpa + len < gpa ? UINT64_MAX : gpa + len;

	if (end > ram && gpa < ram + RNG_MOCK_RAM_SIZE && (gpa < data || end > data_end))
		z->ring_untrusted = true;
}

static uint32_t status_reg(void)
{
	return vmock_reg_read(&z->rm.m, VIRTIO_MMIO_STATUS);
}

static void forget_all(void)
{
	memset(z->known, 0, sizeof(z->known));
	z->outstanding = 0;
	z->nr_known = 0;
}

static void check_ops_budget(void)
{
	uint64_t elapsed_ms, allowed;

	if (!z->ops.size)
		return;
	elapsed_ms = (rng_mock_now - z->ops_t0) / MS;
	allowed = z->ops.size + z->ops.one_time_burst + elapsed_ms * z->ops.size / z->ops.refill_time_ms + 1;
	FUZZ_CHECK(z->ops_since <= allowed, "%llu requests passed, the ops bucket allows %llu",
		   (unsigned long long)z->ops_since, (unsigned long long)allowed);
}

static void reap(void)
{
	uint16_t head;
	uint32_t used;

	if (!z->rm.m.q[0].size)
		return; /* negotiation failed before laying the queue out */
	while (rng_mock_complete(&z->rm, &head, &used) == 0) {
		if (z->ring_untrusted)
			continue;
		FUZZ_CHECK(head < z->rm.m.q[0].size, "head %u", head);
		FUZZ_CHECK(used <= RNG_MAX_REQUEST, "used %u", used);
		z->claimed += used;
		z->ops_since++;
		if (!z->known[head])
			continue;
		z->known[head] = 0;
		z->outstanding -= z->req_descs[head];
		z->nr_known--;
		if (z->req_gen[head] != z->gen)
			continue;
		FUZZ_CHECK(used <= z->req_len[head], "used %u of a %u-byte request", used, z->req_len[head]);
		if (!z->source_failing) {
			uint32_t want = z->req_len[head] < RNG_MAX_REQUEST ? z->req_len[head] : RNG_MAX_REQUEST;

			FUZZ_CHECK(used == want, "used %u, wanted %u", used, want);
		}
	}
	if (!z->ring_untrusted)
		check_ops_budget();
}

static void notify_and_check(void)
{
	uint16_t before = vmock_used_idx(&z->rm.m, 0);
	bool broken = status_reg() & VIRTIO_STATUS_DEVICE_NEEDS_RESET;

	vmock_notify(&z->rm.m, 0);
	if (broken && !z->ring_untrusted)
		FUZZ_CHECK(vmock_used_idx(&z->rm.m, 0) == before, "completed while needing a reset");
	reap();
}

/* A request the mock builds; checks the bytes when it completes at once. */
static void op_req(struct fz *f, bool empty)
{
	uint16_t size = z->rm.m.q[0].size, head, descs;
	uint32_t len = empty ? 0 : fz_u32(f) % (DATA_BUF + 1);
	unsigned int n = empty ? 0 : 1 + fz_u8(f) % 16;
	uint64_t gpa = z->rm.data + (uint64_t)DATA_BUF * (z->next_buf % DATA_BUFS);

	if (!size)
		return;
	if (!empty && !len)
		len = 1;
	if (n > len && !empty)
		n = len;
	if (n > size)
		n = size;
	descs = empty ? 1 : n;
	if (z->outstanding + descs > size || z->nr_known >= DATA_BUFS)
		notify_and_check();
	if (z->outstanding + descs > size || z->nr_known >= DATA_BUFS)
		return;
	z->next_buf++;
	head = rng_mock_queue(&z->rm, gpa, len, n, false);
	z->known[head] = 1;
	z->req_len[head] = len;
	z->req_descs[head] = descs;
	z->req_gen[head] = z->gen;
	z->outstanding += descs;
	z->nr_known++;
	if (fz_u8(f) & 1) {
		uint64_t stream = z->rm.src.produced;
		uint16_t used_before = vmock_used_idx(&z->rm.m, 0);

		notify_and_check();
		/* Served alone and at once: its bytes are the stream's next ones. */
		if (!empty && !z->source_failing && z->nr_known == 0 && vmock_used_idx(&z->rm.m, 0) == used_before + 1) {
			uint32_t want = len < RNG_MAX_REQUEST ? len : RNG_MAX_REQUEST;
			const uint8_t *p = vmock_host(&z->rm.m, gpa, want);

			for (uint32_t i = 0; i < want; i += 97)
				FUZZ_CHECK(p[i] == rng_mock_stream_byte(&z->rm, stream + i), "byte %u not from the source", i);
		}
	}
}

static void op_raw_chain(struct fz *f)
{
	uint16_t size = z->rm.m.q[0].size, head = fz_u16(f) % (size ? size : 1);
	uint8_t n = 1 + fz_u8(f) % 4;

	if (!size)
		return;
	for (uint8_t i = 0; i < n; i++) {
		uint16_t idx = (head + i) & (size - 1);
		uint64_t addr = (fz_u8(f) & 1) ? fz_u64(f) : z->rm.data + fz_u32(f) % RNG_MOCK_DATA_SIZE;
		uint32_t len = fz_u32(f) % (2 * RNG_MAX_REQUEST);
		uint16_t flags = fz_u8(f) & 7;
		uint16_t next = i + 1 < n ? (idx + 1) & (size - 1) : fz_u16(f);

		if (flags & VIRTQ_DESC_F_WRITE)
			taint(addr, len);
		vmock_desc_write(&z->rm.m, 0, idx, addr, len, flags, next);
	}
	z->gen++;
	if (z->known[head]) {
		z->outstanding -= z->req_descs[head];
		z->nr_known--;
	}
	z->known[head] = 0;
	vmock_avail_push(&z->rm.m, 0, head);
	notify_and_check();
}

static void limiter_reset_accounting(const struct ratelimit_config *cfg)
{
	z->ops = cfg->ops;
	z->ops_since = 0;
	z->ops_t0 = rng_mock_now;
}

/* A small limiter config from two bytes (0: that bucket absent). */
static struct ratelimit_config limit_from(uint8_t ops, uint8_t bw)
{
	struct ratelimit_config c = { 0 };

	if (ops & 0x80)
		c.ops = (struct rl_bucket_config){ .size = 1 + (ops & 7), .one_time_burst = (ops >> 3) & 3,
						   .refill_time_ms = 10 + 10 * ((ops >> 5) & 3) };
	if (bw & 0x80)
		c.bandwidth = (struct rl_bucket_config){ .size = 512u << (bw & 7), .one_time_burst = 0,
							 .refill_time_ms = 10 + 10 * ((bw >> 3) & 7) };
	return c;
}

static void op_snapshot(struct fz *f)
{
	struct rng_state st, after, before;
	uint8_t mode = fz_u8(f);

	reap();
	rng_save(&z->rm.dev, &st);
	if (mode & 1) {
		/* Corrupt one byte of the saved state. */
		size_t at = fz_u8(f) % sizeof(st);

		((uint8_t *)&st)[at] ^= (uint8_t)(1 + fz_u8(f));
	}
	rng_save(&z->rm.dev, &before);
	if (rng_restore(&z->rm.dev, &st) == 0) {
		rng_save(&z->rm.dev, &after);
		FUZZ_CHECK(!memcmp(&after.bw.cfg, &st.bw.cfg, sizeof(st.bw.cfg)) &&
				   !memcmp(&after.ops.cfg, &st.ops.cfg, sizeof(st.ops.cfg)) &&
				   after.bw.budget == st.bw.budget && after.ops.budget == st.ops.budget,
			   "restore did not load the state");
		limiter_reset_accounting(&(struct ratelimit_config){ .bandwidth = st.bw.cfg, .ops = st.ops.cfg });
	} else {
		rng_save(&z->rm.dev, &after);
		FUZZ_CHECK(!memcmp(&after, &before, sizeof(after)), "a refused restore changed the device");
	}
}

static void check_metrics(void)
{
	struct rng_metrics m;

	rng_metrics_get(&z->rm.dev, &m);
	FUZZ_CHECK(m.requests >= z->last.requests && m.bytes >= z->last.bytes && m.errors >= z->last.errors &&
			   m.throttled >= z->last.throttled && m.queue_errors >= z->last.queue_errors,
		   "metrics went backwards");
	z->last = m;
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
	uint8_t l1 = fz_u8(&f), l2 = fz_u8(&f);
	struct rng_opts opts = { .queue_size = (uint16_t)(1u << (setup % 9)), .limit = limit_from(l1, l2) };
	unsigned int renegotiations = 0;

	if (!z) {
		z = calloc(1, sizeof(*z));
		FUZZ_CHECK(z != NULL, "alloc");
	}
	memset(z, 0, sizeof(*z));
	if (rng_mock_init(&z->rm, &opts, features))
		return 0;
	z->inner = z->rm.dev.source;
	z->rm.dev.source = (struct rng_source){ .fill = shim_fill };
	z->rm.src.seed = setup;
	limiter_reset_accounting(&opts.limit);

	for (unsigned int n = 0; n < FZ_MAX_OPS && f.left; n++) {
		switch (fz_u8(&f) % OP_NR) {
		case OP_REQ:
			op_req(&f, false);
			break;
		case OP_EMPTY:
			op_req(&f, true);
			break;
		case OP_RAW_CHAIN:
			op_raw_chain(&f);
			break;
		case OP_POKE: {
			struct fz_poke p = fz_poke(&f, RNG_MOCK_RAM_SIZE);

			vmock_write(&z->rm.m, VMOCK_RAM_GPA + p.off, p.bytes, p.len);
			taint(VMOCK_RAM_GPA + p.off, p.len);
			z->gen++;
			break;
		}
		case OP_REG: {
			uint64_t reg = (fz_u8(&f) & 0x3f) * 4;

			vmock_reg_write(&z->rm.m, reg, fz_u32(&f));
			z->gen++;
			z->ring_untrusted = true; /* e.g. a reset the mock does not see */
			break;
		}
		case OP_NEGOTIATE:
			if (renegotiations++ < MAX_RENEGOTIATE) {
				static const uint16_t sizes[] = { 0, 1, 2, 16, 256 };

				reap();
				forget_all();
				vmock_clear(&z->rm.m);
				z->rm.data = vmock_alloc_uninit(&z->rm.m, RNG_MOCK_DATA_SIZE, 4096);
				uint64_t feat = fz_u64(&f) | VIRTIO_FEATURE(VIRTIO_F_VERSION_1);

				(void)vmock_negotiate(&z->rm.m, feat, 1, sizes[fz_u8(&f) % ARRAY_SIZE(sizes)]);
			}
			break;
		case OP_SOURCE: {
			uint8_t v = fz_u8(&f);

			z->rm.src.fail_armed = v & 1;
			z->rm.src.fail_after = fz_u16(&f);
			z->rm.src.fail_errno = (v & 2) ? -EAGAIN : -EIO;
			/* Once armed, completions may be short until the end. */
			z->source_failing |= z->rm.src.fail_armed;
			break;
		}
		case OP_CLOCK:
			rng_mock_now += (uint64_t)fz_u16(&f) * MS / 8;
			rng_mock_timer_fire(&z->rm);
			reap();
			break;
		case OP_LIMIT: {
			uint8_t ops = fz_u8(&f);
			struct ratelimit_config c = limit_from(ops, fz_u8(&f));

			reap(); /* what passed under the old limiter */
			if (rng_ratelimit_update(&z->rm.dev, &c) == 0)
				limiter_reset_accounting(&c);
			reap();
			break;
		}
		case OP_SNAPSHOT:
			op_snapshot(&f);
			break;
		default:
			if (z->rm.m.q[0].size) {
				(void)rng_process_queue(&z->rm.dev);
				reap();
			}
			break;
		}
		check_metrics();
	}
	reap();
	if (!z->ring_untrusted)
		FUZZ_CHECK(z->last.bytes == z->claimed, "metrics say %llu bytes, completions %llu",
			   (unsigned long long)z->last.bytes, (unsigned long long)z->claimed);
	rng_mock_destroy(&z->rm);
	return 0;
}
