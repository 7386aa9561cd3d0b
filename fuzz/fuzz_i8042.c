/*
 * fuzz_i8042: the keyboard controller on a port bus, driven by a list of
 * operations decoded from the input: guest reads and writes of width 1..8
 * around port 0x60, Ctrl+Alt+Del injection from the VMM side, save + (possibly
 * corrupted) restore, and direct register-file calls.  After every op the
 * state must pass the device's own restore validation, IRQ 1 must be low (it
 * only ever pulses), and the reset callback must have run exactly once per
 * guest write that put 0xFE on the command port, without the lock held.
 *
 * Op encoding: opcode byte, then: READ/WRITE: port offset byte (from 0x60 - 8),
 * width byte (1 + b % 8), WRITE: the value bytes; CAD: nothing; RESTORE: field
 * index byte, value byte (0xff: restore unchanged); RAW_READ/RAW_WRITE: offset
 * byte, width byte (, value bytes).
 */
#include <errno.h>
#include <pthread.h>

#include "devices/legacy/i8042.h"
#include "devices/legacy/legacy_fakes.h"
#include "fuzz/fuzz_common.h"
#include "vmm/boot/layout.h"
#include "vmm/bus/bus.h"

#define FZ_MAX_OPS 1024
#define PORT LAYOUT_PIO_I8042
#define OFS_STATUS 4
#define CMD_RESET_CPU 0xfe
#define CTR_KBDINT 0x01
#define CTR_XLATE 0x40

struct fz_kbd {
	struct i8042 dev;
	struct fake_irq irq;
	unsigned int resets, want_resets;
};

static void fz_reset(void *opaque)
{
	struct fz_kbd *z = opaque;

	FUZZ_CHECK(pthread_mutex_trylock(&z->dev.lock) == 0, "reset called with the lock held");
	pthread_mutex_unlock(&z->dev.lock);
	z->resets++;
}

static void check_state(struct fz_kbd *z)
{
	struct i8042_state st, again;

	i8042_save(&z->dev, &st);
	FUZZ_CHECK(st.buf_count <= I8042_BUF_SIZE && st.buf_head < I8042_BUF_SIZE,
		   "buffer head %u count %u", st.buf_head, st.buf_count);
	FUZZ_CHECK(!(st.status & ~0x0c), "status %#x", st.status);
	FUZZ_CHECK(z->irq.level == 0 && z->irq.nr % 2 == 0, "IRQ 1 left high");
	FUZZ_CHECK(z->resets == z->want_resets, "%u resets, want %u", z->resets, z->want_resets);
	FUZZ_CHECK(i8042_restore(&z->dev, &st) == 0, "restore refused the device's own state");
	i8042_save(&z->dev, &again);
	FUZZ_CHECK(!memcmp(&st, &again, sizeof(st)), "save/restore/save changed the state");
}

static int port_hit(uint64_t port, uint32_t len)
{
	return port >= PORT && port + len <= PORT + I8042_NR_PORTS;
}

static void op_guest_read(struct fz *f, struct fz_kbd *z, struct bus *bus)
{
	uint64_t port = PORT - 8 + fz_u8(f) % 24;
	uint32_t len = 1 + fz_u8(f) % 8;
	struct i8042_state st;
	uint8_t v[8];
	int rc;

	i8042_save(&z->dev, &st);
	rc = bus_read(bus, port, v, len);
	FUZZ_CHECK(rc == (port_hit(port, len) ? 0 : -ENOENT), "bus_read(%#llx, %u) = %d",
		   (unsigned long long)port, len, rc);
	if (rc || len != 1)
		return;
	if (port == PORT)
		FUZZ_CHECK(v[0] == (st.buf_count ? st.buf[st.buf_head] : 0), "data read %#x", v[0]);
	if (port == PORT + OFS_STATUS)
		FUZZ_CHECK(v[0] == ((st.buf_count ? 0x01 : 0) | st.status | 0x10), "status read %#x", v[0]);
}

static void op_guest_write(struct fz *f, struct fz_kbd *z, struct bus *bus)
{
	uint64_t port = PORT - 8 + fz_u8(f) % 24;
	uint32_t len = 1 + fz_u8(f) % 8;
	uint8_t v[8];
	int rc;

	fz_bytes(f, v, len);
	if (port_hit(port, len) && port <= PORT + OFS_STATUS && PORT + OFS_STATUS < port + len &&
	    v[PORT + OFS_STATUS - port] == CMD_RESET_CPU)
		z->want_resets++;
	rc = bus_write(bus, port, v, len);
	FUZZ_CHECK(rc == (port_hit(port, len) ? 0 : -ENOENT), "bus_write(%#llx, %u) = %d",
		   (unsigned long long)port, len, rc);
}

static void op_raw(struct fz *f, struct fz_kbd *z, int write)
{
	uint64_t offset = fz_u8(f) % 16;
	uint32_t len = 1 + fz_u8(f) % 8;
	uint8_t v[8];

	if (write) {
		fz_bytes(f, v, len);
		if (offset <= OFS_STATUS && OFS_STATUS < offset + len && v[OFS_STATUS - offset] == CMD_RESET_CPU)
			z->want_resets++;
		i8042_bus_ops.write(&z->dev, offset, v, len);
		return;
	}
	i8042_bus_ops.read(&z->dev, offset, v, len);
	for (uint32_t i = 0; i < len; i++)
		if (offset + i >= I8042_NR_PORTS)
			FUZZ_CHECK(v[i] == 0xff, "byte past offset 4 reads %#x", v[i]);
}

static void op_cad(struct fz_kbd *z)
{
	static const uint8_t translated[] = { 0x1d, 0x38, 0xe0, 0x53 }, raw[] = { 0x14, 0x11, 0xe0, 0x71 };
	struct i8042_state before, after;
	unsigned int edges = z->irq.nr;
	int rc;

	i8042_save(&z->dev, &before);
	rc = i8042_send_ctrl_alt_del(&z->dev);
	i8042_save(&z->dev, &after);
	if (before.buf_count + 4 > I8042_BUF_SIZE) {
		FUZZ_CHECK(rc == -ENOSPC && !memcmp(&before, &after, sizeof(before)),
			   "Ctrl+Alt+Del into a full buffer = %d", rc);
		return;
	}
	FUZZ_CHECK(rc == 0 && after.buf_count == before.buf_count + 4, "Ctrl+Alt+Del = %d", rc);
	for (unsigned int i = 0; i < 4; i++)
		FUZZ_CHECK(after.buf[(after.buf_head + before.buf_count + i) % I8042_BUF_SIZE] ==
				   (before.ctr & CTR_XLATE ? translated : raw)[i],
			   "Ctrl+Alt+Del byte %u", i);
	FUZZ_CHECK(z->irq.nr - edges == (!before.buf_count && (before.ctr & CTR_KBDINT) ? 2u : 0u),
		   "Ctrl+Alt+Del pulsed IRQ 1 %u times", (z->irq.nr - edges) / 2);
}

static void op_restore(struct fz *f, struct fz_kbd *z)
{
	struct i8042_state st, before, after;
	uint8_t idx = fz_u8(f), val = fz_u8(f);
	int rc;

	i8042_save(&z->dev, &before);
	st = before;
	if (idx != 0xff)
		((uint8_t *)&st)[idx % sizeof(st)] = val;
	rc = i8042_restore(&z->dev, &st);
	i8042_save(&z->dev, &after);
	if (idx == 0xff)
		FUZZ_CHECK(rc == 0, "restore of a saved state failed");
	FUZZ_CHECK(rc == 0 || rc == -EINVAL, "restore = %d", rc);
	FUZZ_CHECK(!memcmp(&after, rc ? &before : &st, sizeof(st)),
		   rc ? "a refused restore changed the device" : "restore did not load the state");
}

enum { OP_READ, OP_WRITE, OP_CAD, OP_RESTORE, OP_RAW_READ, OP_RAW_WRITE, OP_COUNT };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct i8042_ops ops = { .reset = fz_reset };
	struct fz f = fz_init(data, size);
	struct fz_kbd *z = calloc(1, sizeof(*z));
	struct irq_line irq;
	struct bus bus;

	FUZZ_CHECK(z, "out of memory");
	irq = fake_irq_line(&z->irq, LAYOUT_IRQ_I8042);
	FUZZ_CHECK(i8042_init(&z->dev, &ops, z, &irq) == 0, "init");
	bus_init(&bus);
	FUZZ_CHECK(bus_insert(&bus, PORT, I8042_NR_PORTS, &i8042_bus_ops, &z->dev, "i8042") == 0,
		   "bus_insert");

	for (unsigned int n = 0; f.left && n < FZ_MAX_OPS; n++) {
		switch (fz_u8(&f) % OP_COUNT) {
		case OP_READ: op_guest_read(&f, z, &bus); break;
		case OP_WRITE: op_guest_write(&f, z, &bus); break;
		case OP_CAD: op_cad(z); break;
		case OP_RESTORE: op_restore(&f, z); break;
		case OP_RAW_READ: op_raw(&f, z, 0); break;
		case OP_RAW_WRITE: op_raw(&f, z, 1); break;
		}
		check_state(z);
	}
	i8042_destroy(&z->dev);
	free(z);
	return 0;
}
