/*
 * fuzz_block: a virtio-blk device on the virtio-mmio transport over a small
 * in-memory disk, driven by the mock block driver.  The input is a device
 * setup (read-only, cache type, negotiated features, queue size) and a list
 * of operations: requests of any type, sector and length in any descriptor
 * layout, raw descriptor chains, byte pokes into guest RAM (headers, rings,
 * tables), raw register writes, re-negotiation, backend faults and direct
 * blk_process_queue calls.
 *
 * Invariants: the device never asks the backend for bytes outside the disk,
 * never writes a read-only disk, and hands it only iovecs inside guest RAM;
 * every completion names a head inside the ring; a request the mock built
 * and nothing disturbed since reports OK, IOERR or UNSUPP, and OK only when
 * its sectors lie on the disk; while the device needs a reset it completes
 * nothing; the metrics never go backwards; a read-only disk never changes.
 *
 * Engines and limits: bit 63 of the features u64 puts the device on the
 * asynchronous in-memory engine (ENGINE_MAX_INFLIGHT in flight, completed by
 * the input), bit 62 gives it a rate limiter (ops bucket 1 + bits 48-51
 * requests, bandwidth bucket 512 << bits 52-54 bytes, both per 100 ms, on a
 * fake clock); bits 48-63 are not offered to the device.  Then OP_PROCESS
 * also completes the oldest operation in flight and runs the event loop,
 * and moves the fake clock 10 ms on and fires the limiter's timer; OP_FAULT's
 * bit 1 completes the ((byte >> 2) & 7)-th oldest instead (out of order) and
 * bit 5 runs the event loop.  Extra invariants: the engine never holds more
 * than its maximum, a reset leaves nothing in flight (in the device or the
 * engine), and the chains answered never exceed what the ops bucket allows.
 *
 * Op encoding: a setup byte, a features u64, then opcode bytes each followed
 * by the fields read in op order (see each case); missing bytes read as 0.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>

#include "devices/block/blk_mock.h"
#include "fuzz/fuzz_common.h"
#include "vmm/log/log.h"

#define FZ_MAX_OPS 256
#define DISK_SIZE (64 * 1024) /* 128 sectors */
#define MAX_RENEGOTIATE 16
#define DATA_BUF 8448 /* 8 KiB of data and a merged status byte, rounded */
#define DATA_BUFS (BLK_MOCK_DATA_SIZE / DATA_BUF)
#define ENGINE_MAX_INFLIGHT 8
#define F_ASYNC (1ULL << 63)
#define F_LIMITED (1ULL << 62)
#define F_FUZZ_BITS (0xffffULL << 48)
#define RL_REFILL_MS 100
#define CLOCK_STEP_NS (10 * 1000000ULL)

enum { OP_REQ, OP_RAW_CHAIN, OP_POKE, OP_REG, OP_NEGOTIATE, OP_FAULT, OP_PROCESS, OP_NR };

struct fz_blk {
	struct blk_mem disk;
	struct blk_backend shim;   /* checks every backend call, then calls disk */
	struct blk_mock bm;
	uint8_t image[DISK_SIZE];
	/* What the mock built, by head; checked at completion unless something
	 * since (a poke, a raw chain, a register write) may have changed it. */
	uint32_t req_len[VIRTQ_MAX_SIZE];
	uint64_t req_sector[VIRTQ_MAX_SIZE];
	uint32_t req_type[VIRTQ_MAX_SIZE];
	uint32_t req_gen[VIRTQ_MAX_SIZE];
	uint16_t req_descs[VIRTQ_MAX_SIZE];
	uint8_t known[VIRTQ_MAX_SIZE];
	unsigned int outstanding;  /* descriptors held by known requests */
	unsigned int nr_known;
	unsigned int next_buf;     /* data buffers are not shared by requests in flight */
	/* Which head last used each status slot and data buffer (head + 1, 0:
	 * none): a request the device still holds (in flight in the engine, or
	 * throttled) keeps its slot and buffer even once the harness forgot it. */
	uint16_t slot_owner[BLK_MOCK_SLOTS];
	uint16_t buf_owner[DATA_BUFS];
	uint32_t gen;
	struct blk_metrics last;

	bool async, limited;
	struct blk_amem amem;
	struct blk_mock_loop loop;
	struct ratelimit_config rl;
	uint64_t now;            /* the limiter's fake clock */
	uint64_t answered;       /* completions reaped */
};

static struct fz_blk *z;

static uint64_t fake_clock(void)
{
	return z->now;
}

static void check_io(uint64_t offset, const struct iovec *iov, int iovcnt)
{
	uint64_t len = 0;

	FUZZ_CHECK(iovcnt >= 1 && iovcnt <= BLK_BACKEND_IOV_MAX, "iovcnt %d", iovcnt);
	for (int i = 0; i < iovcnt; i++) {
		const uint8_t *b = iov[i].iov_base;

		FUZZ_CHECK(b >= z->bm.m.ram && iov[i].iov_len <= BLK_MOCK_RAM_SIZE &&
				   b + iov[i].iov_len <= z->bm.m.ram + BLK_MOCK_RAM_SIZE,
			   "iovec %d outside guest RAM", i);
		len += iov[i].iov_len;
	}
	FUZZ_CHECK(offset <= DISK_SIZE && len <= DISK_SIZE - offset, "I/O at %llu of %llu bytes",
		   (unsigned long long)offset, (unsigned long long)len);
}

static int shim_read(void *opaque, uint64_t offset, const struct iovec *iov, int iovcnt)
{
	check_io(offset, iov, iovcnt);
	return z->disk.be.ops->read(z->disk.be.opaque, offset, iov, iovcnt);
}

static int shim_write(void *opaque, uint64_t offset, const struct iovec *iov, int iovcnt)
{
	check_io(offset, iov, iovcnt);
	FUZZ_CHECK(!z->disk.be.read_only, "write to a read-only disk");
	return z->disk.be.ops->write(z->disk.be.opaque, offset, iov, iovcnt);
}

static int shim_flush(void *opaque)
{
	return z->disk.be.ops->flush(z->disk.be.opaque);
}

static const struct blk_backend_ops shim_ops = { .read = shim_read, .write = shim_write, .flush = shim_flush };

static uint32_t status_reg(void)
{
	return vmock_reg_read(&z->bm.m, VIRTIO_MMIO_STATUS);
}

static void forget_all(void)
{
	memset(z->known, 0, sizeof(z->known));
	z->outstanding = 0;
	z->nr_known = 0;
}

/* Collects every completion and checks it. */
static void reap(void)
{
	uint16_t head;
	uint32_t used;
	uint8_t status;

	while (blk_mock_complete(&z->bm, &head, &used, &status) == 0) {
		FUZZ_CHECK(head < z->bm.m.q[0].size, "head %u", head);
		z->answered++;
		if (!z->known[head])
			continue;
		z->known[head] = 0;
		z->outstanding -= z->req_descs[head];
		z->nr_known--;
		if (z->req_gen[head] != z->gen)
			continue;
		FUZZ_CHECK(status <= VIRTIO_BLK_S_UNSUPP, "status %u", status);
		if (status == VIRTIO_BLK_S_OK &&
		    (z->req_type[head] == VIRTIO_BLK_T_IN || z->req_type[head] == VIRTIO_BLK_T_OUT))
			FUZZ_CHECK(z->req_sector[head] <= DISK_SIZE / 512 &&
					   z->req_len[head] / 512 <= DISK_SIZE / 512 - z->req_sector[head],
				   "OK for sector %llu len %u", (unsigned long long)z->req_sector[head],
				   z->req_len[head]);
	}
}

static void notify_and_check(void)
{
	uint16_t before = vmock_used_idx(&z->bm.m, 0);
	int broken = !!(status_reg() & VIRTIO_STATUS_DEVICE_NEEDS_RESET);

	vmock_notify(&z->bm.m, 0);
	if (broken)
		FUZZ_CHECK(vmock_used_idx(&z->bm.m, 0) == before, "completed while needing a reset");
	reap();
}

/* The device may still write into what head's request pointed at. */
static bool held_by_device(uint16_t head)
{
	const struct blk_dev *d = &z->bm.dev;

	return z->known[head] || (d->inflight && head < d->queue_size && d->inflight[head].busy) ||
	       (d->pending && d->chain.head == head);
}

/* From *next on, the first entry whose owner the device no longer holds;
 * -1 if there is none. */
static int pick_free(uint16_t *owner, unsigned int n, unsigned int *next)
{
	for (unsigned int i = 0; i < n; i++) {
		unsigned int k = (*next + i) % n;

		if (!owner[k] || !held_by_device(owner[k] - 1)) {
			*next = k + 1;
			return (int)k;
		}
	}
	return -1;
}

static void op_req(struct fz *f)
{
	static const uint32_t types[] = { VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_FLUSH,
					  VIRTIO_BLK_T_GET_ID, 11, 0xffffffff };
	uint8_t t = fz_u8(f), l = fz_u8(f);
	uint32_t type = t < 0xf0 ? types[t % ARRAY_SIZE(types)] : fz_u32(f);
	uint64_t sector = (l & 0x80) ? fz_u64(f) : fz_u8(f);
	uint32_t len = (l & 0x40) ? fz_u16(f) % 8192 : 512u * (fz_u8(f) % 17); /* <= 8 KiB: one DATA_BUF */
	struct blk_mock_layout layout = {
		.data_segs = 1 + fz_u8(f) % 40,
		.indirect = l & 1,
		.merge_status = (l >> 1) & 1,
	};
	uint16_t head, descs;
	int slot, buf;

	if (type == VIRTIO_BLK_T_GET_ID && !(l & 0x20))
		len = VIRTIO_BLK_ID_BYTES; /* the one valid length, usually */
	if (!z->bm.m.q[0].size)
		return;
	/* Three descriptors at least, a table of up to 42 entries: keep the
	 * chain inside the ring the driver chose. */
	if (layout.data_segs + 2 > z->bm.m.q[0].size)
		layout.data_segs = z->bm.m.q[0].size > 2 ? z->bm.m.q[0].size - 2 : 1;
	if (z->bm.m.q[0].size < 3 && len)
		return;
	descs = layout.indirect ? 1 : (len ? (layout.data_segs < len ? layout.data_segs : len) : 0) + 2;
	/* Like a driver, never reuse descriptors or buffers the device still
	 * holds. */
	if (z->outstanding + descs > z->bm.m.q[0].size || z->nr_known >= DATA_BUFS)
		notify_and_check();
	if (z->outstanding + descs > z->bm.m.q[0].size || z->nr_known >= DATA_BUFS)
		return;
	/* Out-of-order completion (asynchronous engine) and chains the harness
	 * forgot (raw chains) can leave the device holding the head the mock
	 * would take next: a driver would not reuse it. */
	if (held_by_device(z->bm.m.q[0].next_desc & (z->bm.m.q[0].size - 1)))
		notify_and_check();
	if (held_by_device(z->bm.m.q[0].next_desc & (z->bm.m.q[0].size - 1)))
		return;
	slot = pick_free(z->slot_owner, BLK_MOCK_SLOTS, &z->bm.next_slot);
	buf = pick_free(z->buf_owner, DATA_BUFS, &z->next_buf);
	if (slot < 0 || buf < 0)
		return;
	z->bm.next_slot = (unsigned int)slot;
	head = blk_mock_queue(&z->bm, type, sector, z->bm.data + DATA_BUF * (unsigned int)buf, len, &layout);
	z->slot_owner[slot] = head + 1;
	z->buf_owner[buf] = head + 1;
	z->nr_known++;
	z->known[head] = 1;
	z->req_type[head] = type;
	z->req_sector[head] = sector;
	z->req_len[head] = len;
	z->req_gen[head] = z->gen;
	z->req_descs[head] = descs;
	z->outstanding += descs;
	if (fz_u8(f) & 1)
		notify_and_check();
}

static void op_raw_chain(struct fz *f)
{
	uint16_t size = z->bm.m.q[0].size, head = fz_u16(f) % (size ? size : 1);
	uint8_t n = 1 + fz_u8(f) % 4;

	if (!size)
		return;
	for (uint8_t i = 0; i < n; i++) {
		uint16_t idx = (head + i) & (size - 1);
		uint64_t addr = (fz_u8(f) & 1) ? fz_u64(f) : z->bm.slots + fz_u16(f);

		vmock_desc_write(&z->bm.m, 0, idx, addr, fz_u16(f), fz_u8(f) & 7,
				 i + 1 < n ? (idx + 1) & (size - 1) : fz_u16(f));
	}
	z->gen++; /* may overwrite descriptors of requests in flight */
	if (z->known[head]) {
		z->outstanding -= z->req_descs[head];
		z->nr_known--;
	}
	z->known[head] = 0;
	z->bm.status_of[head] = z->bm.slots;
	vmock_avail_push(&z->bm.m, 0, head);
	notify_and_check();
}

static void check_metrics(void)
{
	struct blk_metrics m;

	blk_metrics_get(&z->bm.dev, &m);
	FUZZ_CHECK(m.read_count >= z->last.read_count && m.write_count >= z->last.write_count &&
			   m.io_errors >= z->last.io_errors && m.queue_errors >= z->last.queue_errors,
		   "metrics went backwards");
	if (z->disk.be.read_only)
		FUZZ_CHECK(m.write_count == 0 && z->disk.writes == 0, "a read-only disk was written");
	z->last = m;
}

/* Driver mistakes are the point here: keep their warnings out of the way. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_set_level(LOG_LEVEL_ERROR);
	return 0;
}

/* The asynchronous engine's completions and the limiter's timer, as the
 * VMM loop would deliver them. */
static void run_events(void)
{
	blk_dev_event(&z->bm.dev, BLK_EVENT_COMPLETION, EPOLLIN);
	reap();
}

static void clock_tick(void)
{
	z->now += CLOCK_STEP_NS;
	blk_dev_event(&z->bm.dev, BLK_EVENT_RATELIMIT, EPOLLIN);
	reap();
}

static void check_engine_and_limits(uint64_t elapsed_ns)
{
	struct blk_dev *d = &z->bm.dev;

	if (z->async) {
		FUZZ_CHECK(d->nr_inflight <= ENGINE_MAX_INFLIGHT && z->amem.inflight <= ENGINE_MAX_INFLIGHT,
			   "%u in flight", d->nr_inflight);
		FUZZ_CHECK(d->nr_inflight == z->amem.inflight, "device %u, engine %u in flight", d->nr_inflight,
			   z->amem.inflight);
		if (!d->active)
			FUZZ_CHECK(d->nr_inflight == 0 && blk_amem_waiting(&z->amem) == 0,
				   "in flight after a reset");
	}
	if (z->limited) {
		/* Every answered chain but a dropped one took an op token. */
		uint64_t size = z->rl.ops.size;
		unsigned __int128 allowed = size + (unsigned __int128)elapsed_ns * size / (RL_REFILL_MS * 1000000ULL);

		FUZZ_CHECK(z->answered <= allowed + d->metrics.dropped, "%llu chains answered, %llu allowed",
			   (unsigned long long)z->answered, (unsigned long long)allowed);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = fz_init(data, size);
	uint8_t setup = fz_u8(&f);
	uint64_t features = fz_u64(&f) | VIRTIO_FEATURE(VIRTIO_F_VERSION_1);
	bool ro = setup & 1;
	struct blk_opts opts = { .drive_id = "fuzz-drive", .queue_size = (uint16_t)(4u << ((setup >> 2) % 7)) };
	unsigned int renegotiations = 0;
	const struct blk_backend *be;
	uint64_t start_ns;

	if (!z) {
		z = calloc(1, sizeof(*z));
		FUZZ_CHECK(z != NULL, "alloc");
		for (unsigned int i = 0; i < DISK_SIZE; i++)
			z->image[i] = (uint8_t)(i * 131 + i / 512);
	}
	forget_all();
	memset(&z->last, 0, sizeof(z->last));
	memset(z->slot_owner, 0, sizeof(z->slot_owner));
	memset(z->buf_owner, 0, sizeof(z->buf_owner));
	z->next_buf = 0;
	z->async = features & F_ASYNC;
	z->limited = features & F_LIMITED;
	z->rl = (struct ratelimit_config){
		.ops = { 1 + ((features >> 48) & 15), 0, RL_REFILL_MS },
		.bandwidth = { 512ULL << ((features >> 52) & 7), 0, RL_REFILL_MS },
	};
	z->now = start_ns = 1000000000ULL;
	z->answered = 0;
	features &= ~F_FUZZ_BITS;
	FUZZ_CHECK(blk_mem_init(&z->disk, DISK_SIZE, ro, (setup & 2) ? BLK_CACHE_WRITEBACK : BLK_CACHE_UNSAFE) == 0,
		   "disk");
	memcpy(z->disk.data, z->image, DISK_SIZE);
	z->shim = z->disk.be;
	z->shim.ops = &shim_ops;
	be = &z->shim;
	if (z->async) {
		FUZZ_CHECK(blk_amem_init(&z->amem, &z->shim, ENGINE_MAX_INFLIGHT) == 0, "engine");
		be = &z->amem.be;
	}
	blk_mock_loop_init(&z->loop);
	opts.events = &z->loop.loop;
	opts.rate_limiter = z->limited ? &z->rl : NULL;
	opts.rl_now_ns = fake_clock;
	if (blk_mock_init(&z->bm, be, &opts, features)) {
		if (z->async)
			blk_amem_destroy(&z->amem);
		blk_mem_destroy(&z->disk);
		return 0;
	}

	for (unsigned int n = 0; n < FZ_MAX_OPS && f.left; n++) {
		switch (fz_u8(&f) % OP_NR) {
		case OP_REQ:
			op_req(&f);
			break;
		case OP_RAW_CHAIN:
			op_raw_chain(&f);
			break;
		case OP_POKE: {
			struct fz_poke p = fz_poke(&f, BLK_MOCK_RAM_SIZE);

			vmock_write(&z->bm.m, VMOCK_RAM_GPA + p.off, p.bytes, p.len);
			z->gen++;
			break;
		}
		case OP_REG:
			vmock_reg_write(&z->bm.m, (fz_u8(&f) & 0x3f) * 4, fz_u32(&f));
			z->gen++;
			break;
		case OP_NEGOTIATE:
			if (renegotiations++ < MAX_RENEGOTIATE) {
				static const uint16_t sizes[] = { 0, 4, 8, 16, 256 };

				forget_all();
				(void)vmock_negotiate(&z->bm.m, fz_u64(&f) | VIRTIO_FEATURE(VIRTIO_F_VERSION_1), 1,
						      sizes[fz_u8(&f) % ARRAY_SIZE(sizes)]);
			}
			break;
		case OP_FAULT: {
			uint8_t v = fz_u8(&f);

			z->disk.fail = (v & 1) ? -EIO : 0;
			if (z->async && (v & 2))
				(void)blk_amem_complete(&z->amem, (v >> 2) & 7);
			if (z->async && (v & 0x20))
				run_events();
			break;
		}
		default:
			if (z->bm.m.q[0].size) {
				(void)blk_process_queue(&z->bm.dev);
				reap();
			}
			if (z->async) {
				(void)blk_amem_complete(&z->amem, 0);
				run_events();
			}
			if (z->limited)
				clock_tick();
			break;
		}
		check_metrics();
		check_engine_and_limits(z->now - start_ns);
	}
	if (ro)
		FUZZ_CHECK(!memcmp(z->disk.data, z->image, DISK_SIZE), "read-only disk changed");
	blk_mock_destroy(&z->bm);
	FUZZ_CHECK(z->loop.nr == 0, "a watch left behind");
	if (z->async)
		blk_amem_destroy(&z->amem);
	blk_mem_destroy(&z->disk);
	return 0;
}
