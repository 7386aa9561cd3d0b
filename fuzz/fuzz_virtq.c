/*
 * fuzz_virtq: the split virtqueue against a driver that writes anything.  The
 * input is a queue layout (size, negotiated ring features) and a list of
 * operations: descriptor writes (addresses relative to RAM or raw), avail
 * ring publications and raw avail idx stores, byte pokes anywhere in RAM (to
 * build indirect tables and corrupt rings), pops with their chain helpers,
 * pushes (the device's and bogus ones), the notification checks, reset +
 * re-activation, and save + corrupted restore.
 *
 * Invariants: a popped chain is bounded by the queue size, every buffer lies
 * in guest memory, readable buffers come first and the lengths add up; the
 * iovec and copy helpers stay inside the chain; a failed pop other than
 * "empty" leaves the queue broken; the device never has more chains in flight
 * than the ring holds; the used idx in guest memory is the device's.
 *
 * Op encoding: opcode byte, then per op the fields read in op order (see
 * each case); missing bytes read as 0.
 */
#include <errno.h>

#include "devices/virtio/virtio_mock.h"
#include "devices/virtio/virtq.h"
#include "fuzz/fuzz_common.h"
#include "vmm/log/log.h"

#define FZ_MAX_OPS 512
#define RAM_GPA 0x10000ULL
#define RAM_SIZE 0x10000ULL

enum { OP_DESC, OP_TABLE, OP_PUBLISH, OP_AVAIL_IDX, OP_POKE, OP_POP, OP_PUSH_RAW, OP_NOTIFY, OP_RESET, OP_RESTORE,
       OP_NR };

struct fz_vq {
	struct vmock m;
	struct virtq q;
	struct virtq_chain c;
	uint16_t size;
	uint64_t features;
	int inited;
};

static struct fz_vq z;

/* A descriptor the fuzzer can aim: a mode byte, then the address (inside
 * RAM unless mode bit 0: raw) and the length (below 4 KiB unless bit 1: raw). */
static struct virtq_desc fz_desc(struct fz *f)
{
	uint8_t mode = fz_u8(f);
	struct virtq_desc d;

	d.addr = (mode & 1) ? fz_u64(f) : RAM_GPA + fz_u16(f);
	d.len = (mode & 2) ? fz_u32(f) : fz_u16(f) % 4096;
	d.flags = fz_u8(f) & 7;
	d.next = (mode & 4) ? fz_u16(f) : fz_u8(f) % 16;
	return d;
}

static void layout(void)
{
	vmock_clear(&z.m);
	vmock_queue_setup(&z.m, 0, z.size);
	FUZZ_CHECK(virtq_init(&z.q, 256) == 0, "init");
	vmock_queue_config(&z.m, 0, &z.q);
	FUZZ_CHECK(virtq_activate(&z.q, &z.m.mem, z.features) == 0, "activation of a sound layout");
}

static void check_chain(struct fz *f)
{
	const struct virtq_chain *c = &z.c;
	uint64_t rl = 0, wl = 0, off, len, sum = 0;
	struct iovec iov[8];
	uint8_t tmp[64];
	int n;

	FUZZ_CHECK(c->nr_bufs >= 1 && c->nr_bufs <= z.q.size, "nr_bufs %u size %u", c->nr_bufs, z.q.size);
	FUZZ_CHECK(c->nr_readable <= c->nr_bufs, "nr_readable");
	FUZZ_CHECK(c->head < z.q.size, "head %u", c->head);
	for (unsigned int i = 0; i < c->nr_bufs; i++) {
		const struct virtq_buf *b = &c->bufs[i];

		FUZZ_CHECK(b->len > 0 && gmem_range_ok(&z.m.mem, b->addr, b->len), "buffer %u outside RAM", i);
		FUZZ_CHECK(b->writable == (i >= c->nr_readable), "buffer %u out of order", i);
		if (b->writable)
			wl += b->len;
		else
			rl += b->len;
	}
	FUZZ_CHECK(rl == c->readable_len && wl == c->writable_len, "lengths");
	FUZZ_CHECK(rl + wl <= UINT32_MAX, "chain over 4 GiB");

	off = fz_u32(f);
	len = fz_u16(f);
	n = virtq_chain_to_iovec(c, &z.m.mem, (off & 1) ? VIRTQ_DEV_WRITE : VIRTQ_DEV_READ, off >> 1, len, iov, 8);
	if (n >= 0) {
		for (int i = 0; i < n; i++) {
			FUZZ_CHECK(iov[i].iov_len > 0, "empty iovec");
			FUZZ_CHECK((uint8_t *)iov[i].iov_base >= z.m.ram &&
					   (uint8_t *)iov[i].iov_base + iov[i].iov_len <= z.m.ram + RAM_SIZE,
				   "iovec outside RAM");
			sum += iov[i].iov_len;
		}
		FUZZ_CHECK(sum == len, "iovec covers %llu of %llu", (unsigned long long)sum, (unsigned long long)len);
	} else {
		FUZZ_CHECK(n == -EINVAL || n == -ENOSPC, "to_iovec %d", n);
	}
	len = fz_u8(f) % sizeof(tmp);
	if (virtq_chain_read(c, &z.m.mem, off >> 1, tmp, len) == 0)
		FUZZ_CHECK((off >> 1) + len <= rl, "read beyond the readable part");
	if (virtq_chain_write(c, &z.m.mem, off >> 1, tmp, len) == 0)
		FUZZ_CHECK((off >> 1) + len <= wl, "write beyond the writable part");
}

/* Right after a push the used idx in guest memory is the device's (the
 * driver may scribble on it at other times). */
static void check_used_idx(void)
{
	if (z.q.used_gpa == z.m.q[0].used)
		FUZZ_CHECK(vmock_used_idx(&z.m, 0) == z.q.next_used, "used idx %u, device %u",
			   vmock_used_idx(&z.m, 0), z.q.next_used);
}

static void op_pop(struct fz *f)
{
	uint8_t push = fz_u8(f);
	int ret = virtq_pop(&z.q, &z.c);

	if (ret == 0) {
		check_chain(f);
		if (push & 1) {
			FUZZ_CHECK(virtq_push(&z.q, z.c.head, fz_u32(f) % (z.c.writable_len + 1)) == 0, "push");
			check_used_idx();
		}
		return;
	}
	FUZZ_CHECK(ret == -EAGAIN || ret == -EIO || virtq_is_broken(&z.q), "pop %d left the queue sound", ret);
	if (ret != -EAGAIN && virtq_is_active(&z.q))
		FUZZ_CHECK(virtq_is_broken(&z.q), "pop %d", ret);
}

static void op_restore(struct fz *f)
{
	struct virtq_state st;
	uint8_t *raw = (uint8_t *)&st;
	uint8_t at = fz_u8(f), v = fz_u8(f);
	struct virtq r;

	virtq_save(&z.q, &st);
	if (at < sizeof(st))
		raw[at] = v;
	FUZZ_CHECK(virtq_init(&r, 256) == 0, "init");
	if (virtq_restore(&r, &st))
		return;
	if (virtq_activate(&r, &z.m.mem, z.features))
		return;
	/* A restored queue passed every check: use it from now on. */
	FUZZ_CHECK((uint16_t)(r.last_avail - r.next_used) <= r.size, "restore let too many in flight");
	z.q = r;
}

/* Driver mistakes are the point here: keep their warnings out of the way. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_set_level(LOG_LEVEL_ERROR);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = fz_init(data, size);
	uint8_t hdr = fz_u8(&f);

	if (!z.inited) {
		FUZZ_CHECK(vmock_init(&z.m, RAM_GPA, RAM_SIZE) == 0, "mock RAM");
		z.inited = 1;
	}
	z.size = (uint16_t)(1u << (hdr % 9));
	z.features = ((hdr & 0x10) ? VIRTIO_FEATURE(VIRTIO_F_RING_EVENT_IDX) : 0) |
		     ((hdr & 0x20) ? VIRTIO_FEATURE(VIRTIO_F_RING_INDIRECT_DESC) : 0);
	layout();

	for (unsigned int n = 0; n < FZ_MAX_OPS && f.left; n++) {
		uint8_t op = fz_u8(&f) % OP_NR;
		uint16_t idx, v16;

		switch (op) {
		case OP_DESC: {
			struct virtq_desc d;

			idx = fz_u16(&f) & (z.size - 1);
			d = fz_desc(&f);
			vmock_desc_write(&z.m, 0, idx, d.addr, d.len, d.flags, d.next);
			break;
		}
		case OP_TABLE: {
			/* An indirect table of n entries at a 16-byte aligned
			 * offset, for a descriptor to point at. */
			uint16_t off = fz_u16(&f) & ~15u;
			uint8_t entries = 1 + fz_u8(&f) % 8;

			for (uint8_t i = 0; i < entries && off + 16u * (i + 1) <= RAM_SIZE; i++) {
				struct virtq_desc d = fz_desc(&f);

				vmock_write(&z.m, RAM_GPA + off + 16u * i, &d, sizeof(d));
			}
			break;
		}
		case OP_PUBLISH:
			vmock_avail_push(&z.m, 0, fz_u16(&f));
			break;
		case OP_AVAIL_IDX:
			vmock_avail_set_idx(&z.m, 0, fz_u16(&f));
			break;
		case OP_POKE: {
			uint16_t off = fz_u16(&f);
			uint8_t len = fz_u8(&f) % 17, bytes[16];

			fz_bytes(&f, bytes, sizeof(bytes));
			if (len > RAM_SIZE - off)
				len = (uint8_t)(RAM_SIZE - off);
			vmock_write(&z.m, RAM_GPA + off, bytes, len);
			break;
		}
		case OP_POP:
			op_pop(&f);
			break;
		case OP_PUSH_RAW: {
			uint16_t in_flight = z.q.last_avail - z.q.next_used;
			int ret;

			v16 = fz_u16(&f);
			ret = virtq_push(&z.q, v16, fz_u32(&f));
			FUZZ_CHECK(ret == 0 ? (v16 < z.q.size && in_flight) : ret == -EINVAL || ret == -EIO,
				   "push %d", ret);
			if (!ret)
				check_used_idx();
			break;
		}
		case OP_NOTIFY:
			vmock_used_event_set(&z.m, 0, fz_u16(&f));
			vmock_avail_set_flags(&z.m, 0, fz_u8(&f) & 1);
			(void)virtq_needs_notify(&z.q);
			(void)virtq_notify_enable(&z.q);
			break;
		case OP_RESET:
			virtq_reset(&z.q);
			vmock_queue_config(&z.m, 0, &z.q);
			FUZZ_CHECK(virtq_activate(&z.q, &z.m.mem, z.features) == 0, "re-activation");
			break;
		default:
			op_restore(&f);
			break;
		}
		if (virtq_is_active(&z.q))
			FUZZ_CHECK((uint16_t)(z.q.last_avail - z.q.next_used) <= z.q.size, "in flight %u",
				   (uint16_t)(z.q.last_avail - z.q.next_used));
	}
	return 0;
}
