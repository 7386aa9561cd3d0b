/*
 * fuzz_virtio_mmio: the virtio-mmio register file and status machine with a
 * fake two-queue device that drains its queues on notify.  The input is a
 * list of operations: raw reads and writes of any width and offset in the
 * window, 32-bit writes to the known registers (to reach deep states), the
 * mock driver's whole negotiation, chains offered through the mock driver,
 * byte pokes into guest RAM, device-side signals, and save + corrupted
 * restore.
 *
 * Invariants: the status the driver reads is one the machine can reach;
 * InterruptStatus has only defined bits; the device is active exactly when
 * the transport says so, and was reset once per activation; queues beyond
 * the device's count are never touched; a saved state always restores, and
 * a refused restore leaves the transport as it was.
 *
 * Op encoding: opcode byte, then per op the fields read in op order (see
 * each case); missing bytes read as 0.
 */
#include <errno.h>

#include "devices/virtio/virtio_fakes.h"
#include "devices/virtio/virtio_mmio.h"
#include "devices/virtio/virtio_mock.h"
#include "fuzz/fuzz_common.h"
#include "vmm/log/log.h"

#define FZ_MAX_OPS 512
#define RAM_GPA 0x100000ULL
#define RAM_SIZE 0x40000ULL

enum { OP_READ, OP_WRITE, OP_REG, OP_NEGOTIATE, OP_CHAIN, OP_POKE, OP_SIGNAL, OP_RESTORE, OP_NR };

static const uint16_t regs[] = {
	VIRTIO_MMIO_DEVICE_FEATURES_SEL, VIRTIO_MMIO_DRIVER_FEATURES, VIRTIO_MMIO_DRIVER_FEATURES_SEL,
	VIRTIO_MMIO_QUEUE_SEL,           VIRTIO_MMIO_QUEUE_NUM,       VIRTIO_MMIO_QUEUE_READY,
	VIRTIO_MMIO_QUEUE_NOTIFY,        VIRTIO_MMIO_INTERRUPT_ACK,   VIRTIO_MMIO_STATUS,
	VIRTIO_MMIO_QUEUE_DESC_LOW,      VIRTIO_MMIO_QUEUE_DESC_HIGH, VIRTIO_MMIO_QUEUE_DRIVER_LOW,
	VIRTIO_MMIO_QUEUE_DRIVER_HIGH,   VIRTIO_MMIO_QUEUE_DEVICE_LOW, VIRTIO_MMIO_QUEUE_DEVICE_HIGH,
	VIRTIO_MMIO_CONFIG,
};

struct fz_mmio {
	struct vmock m;
	struct vmmio t;
	struct vfake_dev dev;
	struct vfake_irq irq;
	int inited;
};

static struct fz_mmio z;

static int status_reachable(uint32_t s)
{
	uint32_t base = s & ~(VIRTIO_STATUS_FAILED | VIRTIO_STATUS_DEVICE_NEEDS_RESET);

	return base == 0 || base == 1 || base == 3 || base == 0xb || base == 0xf;
}

static void check(void)
{
	uint32_t s = vmmio_status(&z.t);

	FUZZ_CHECK(status_reachable(s), "status 0x%x", s);
	FUZZ_CHECK(!(atomic_load(&z.t.isr) & ~3u), "isr 0x%x", atomic_load(&z.t.isr));
	FUZZ_CHECK(z.dev.active == z.t.active, "device %d transport %d", z.dev.active, z.t.active);
	FUZZ_CHECK(z.dev.activations - z.dev.resets == (unsigned int)z.dev.active, "activations %u resets %u",
		   z.dev.activations, z.dev.resets);
	FUZZ_CHECK(!z.t.active || (s & VIRTIO_STATUS_DRIVER_OK), "active without DRIVER_OK");
	for (unsigned int i = z.dev.nr_queues; i < VIRTIO_MAX_QUEUES; i++)
		FUZZ_CHECK(!z.t.queues[i].ready && !z.t.queues[i].desc_gpa && !z.t.queues[i].size,
			   "queue %u beyond the device touched", i);
	for (unsigned int i = 0; i < z.dev.nr_queues; i++)
		FUZZ_CHECK(!virtq_is_active(&z.t.queues[i]) || z.t.active, "queue %u active alone", i);
}

static void op_chain(struct fz *f)
{
	struct vmock_buf bufs[8];
	unsigned int qi = fz_u8(f) & 1, n = 1 + fz_u8(f) % 8;
	uint16_t head;

	if (!z.m.q[qi].size)
		return; /* the mock never laid this queue out */
	for (unsigned int i = 0; i < n; i++) {
		uint16_t off = fz_u16(f);
		uint16_t len = fz_u16(f);

		bufs[i] = (struct vmock_buf){ RAM_GPA + off, len, (fz_u8(f) & 1) != 0 };
	}
	if (n > z.m.q[qi].size)
		n = z.m.q[qi].size;
	vmock_chain_add(&z.m, qi, bufs, n, &head);
	vmock_avail_push(&z.m, qi, head);
	vmock_notify(&z.m, qi);
}

static void op_restore(struct fz *f)
{
	struct vmmio_state st, before, after;
	uint8_t *raw = (uint8_t *)&st;
	uint16_t at = fz_u16(f);
	uint8_t v = fz_u8(f);
	int ret;

	vmmio_save(&z.t, &st);
	if (!(at & 0x8000)) {
		/* Unchanged: must round-trip (the device never refuses here). */
		ret = vmmio_restore(&z.t, &st);
		FUZZ_CHECK(ret == 0, "restore of a saved state: %d", ret);
		vmmio_save(&z.t, &after);
		FUZZ_CHECK(!memcmp(&st, &after, sizeof(st)), "round trip changed the state");
		return;
	}
	at &= 0x7fff;
	if (at < sizeof(st))
		raw[at] = v;
	vmmio_save(&z.t, &before);
	ret = vmmio_restore(&z.t, &st);
	if (ret) {
		FUZZ_CHECK(ret == -EINVAL, "restore %d", ret);
		vmmio_save(&z.t, &after);
		FUZZ_CHECK(!memcmp(&before, &after, sizeof(before)), "refused restore changed the state");
	}
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
	struct irq_line line;

	if (!z.inited) {
		FUZZ_CHECK(vmock_init(&z.m, RAM_GPA, RAM_SIZE) == 0, "mock RAM");
		z.inited = 1;
	}
	vmock_clear(&z.m);
	memset(&z.dev, 0, sizeof(z.dev));
	memset(&z.irq, 0, sizeof(z.irq));
	z.dev.nr_queues = 2;
	z.dev.queue_max = 16;
	line = vfake_irq_line(&z.irq);
	FUZZ_CHECK(vmmio_init(&z.t, &vfake_ops, &z.dev, &z.m.mem, &line) == 0, "vmmio_init");
	vmock_attach(&z.m, &z.t);

	for (unsigned int n = 0; n < FZ_MAX_OPS && f.left; n++) {
		uint8_t op = fz_u8(&f) % OP_NR;
		uint8_t buf[8];
		uint16_t off;
		uint32_t len;

		switch (op) {
		case OP_READ:
			off = fz_u16(&f) % (VIRTIO_MMIO_WINDOW + 16);
			len = 1 + fz_u8(&f) % 8;
			vmmio_read(&z.t, off, buf, len);
			break;
		case OP_WRITE:
			off = fz_u16(&f) % (VIRTIO_MMIO_WINDOW + 16);
			len = 1 + fz_u8(&f) % 8;
			fz_bytes(&f, buf, sizeof(buf));
			vmmio_write(&z.t, off, buf, len);
			break;
		case OP_REG:
			off = regs[fz_u8(&f) % ARRAY_SIZE(regs)];
			vmock_reg_write(&z.m, off, fz_u32(&f));
			break;
		case OP_NEGOTIATE: {
			static const uint16_t sizes[] = { 0, 1, 2, 4, 8, 16 };
			uint64_t feat = fz_u64(&f);
			uint8_t q = fz_u8(&f);

			/* Fresh RAM for the new rings; the device is reset first. */
			vmock_reg_write(&z.m, VIRTIO_MMIO_STATUS, 0);
			vmock_clear(&z.m);
			(void)vmock_negotiate(&z.m, feat, 1 + (q & 1), sizes[(q >> 1) % ARRAY_SIZE(sizes)]);
			break;
		}
		case OP_CHAIN:
			op_chain(&f);
			break;
		case OP_POKE: {
			uint32_t at = fz_u32(&f) % RAM_SIZE;
			uint8_t k = fz_u8(&f) % 9;

			fz_bytes(&f, buf, sizeof(buf));
			if (k > RAM_SIZE - at)
				k = (uint8_t)(RAM_SIZE - at);
			vmock_write(&z.m, RAM_GPA + at, buf, k);
			break;
		}
		case OP_SIGNAL: {
			struct virtio_irq vi = vmmio_irq(&z.t);
			uint8_t what = fz_u8(&f);

			if (what & 0x80)
				virtio_irq_needs_reset(&vi);
			else
				virtio_irq_signal(&vi, what);
			break;
		}
		default:
			op_restore(&f);
			break;
		}
		check();
	}
	vmmio_destroy(&z.t);
	FUZZ_CHECK(!z.dev.active, "destroy left the device active");
	return 0;
}
