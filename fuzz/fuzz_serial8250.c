/*
 * fuzz_serial8250: the 16550A on a port bus, driven by a list of operations
 * decoded from the input: guest reads and writes of width 1..8 around COM1
 * (so some straddle the device or miss it), host rx_push, save + (possibly
 * corrupted) restore, and direct register-file calls with offsets a bus never
 * gives.  After every op the device state must pass the device's own restore
 * validation, the IRQ line must sit at the level the registers imply, and the
 * lock discipline of the callbacks must hold.
 *
 * Op encoding: opcode byte, then per op: READ/WRITE: port offset byte (from
 * COM1 - 8), width byte (1 + b % 8), WRITE: width value bytes; RX_PUSH: count
 * byte then the bytes; RESTORE: field index byte, value byte (index 0xff:
 * restore the saved state unchanged); RAW_READ/RAW_WRITE: offset byte, width
 * byte (, value bytes).
 */
#include <errno.h>
#include <pthread.h>

#include "devices/legacy/legacy_fakes.h"
#include "devices/legacy/serial8250.h"
#include "fuzz/fuzz_common.h"
#include "vmm/boot/layout.h"
#include "vmm/bus/bus.h"

#define FZ_MAX_OPS 1024
#define COM1 LAYOUT_PIO_COM1

/* Register offsets and bits, as serial8250.c and the 16550A datasheet have them. */
#define LCR_DLAB 0x80
#define MCR_LOOP 0x10
#define IER_RDI 0x01
#define IER_THRI 0x02
#define IER_RLSI 0x04
#define IER_MSI 0x08
#define LSR_DR 0x01

struct fz_serial {
	struct serial8250 dev;
	struct fake_irq irq;
	struct fake_out out;
	unsigned int drained_calls;
	int in_out_cb;
};

static ssize_t fz_out(void *opaque, const uint8_t *buf, size_t len)
{
	struct fz_serial *z = opaque;

	/* Documented: called with the device lock held. */
	FUZZ_CHECK(pthread_mutex_trylock(&z->dev.lock) == EBUSY, "out called without the lock");
	return fake_out_write(&z->out, buf, len);
}

static void fz_rx_drained(void *opaque)
{
	struct fz_serial *z = opaque;

	/* Documented: called without the lock, and may call rx_push. */
	FUZZ_CHECK(pthread_mutex_trylock(&z->dev.lock) == 0, "rx_drained called with the lock held");
	pthread_mutex_unlock(&z->dev.lock);
	z->drained_calls++;
}

/* MSR's line bits for an MCR value: a cable asserting DCD, DSR and CTS, or in
 * loopback RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD (the 16550A datasheet). */
static uint8_t want_msr_lines(uint8_t mcr)
{
	if (!(mcr & MCR_LOOP))
		return 0xb0;
	return (mcr & 0x02 ? 0x10 : 0) | (mcr & 0x01 ? 0x20 : 0) | (mcr & 0x04 ? 0x40 : 0) |
	       (mcr & 0x08 ? 0x80 : 0);
}

/* The IRQ level the saved registers imply (the 16550A's interrupt sources). */
static int want_irq(const struct serial8250_state *st)
{
	return ((st->ier & IER_RLSI) && st->lsr_err) || ((st->ier & IER_RDI) && st->rx_count) ||
	       ((st->ier & IER_THRI) && st->thr_pending) || ((st->ier & IER_MSI) && st->msr_delta);
}

static void check_state(struct fz_serial *z)
{
	struct serial8250_state st, again;
	struct serial8250_metrics m;
	size_t space;

	serial8250_save(&z->dev, &st);
	FUZZ_CHECK(st.rx_count <= SERIAL8250_FIFO_SIZE, "rx_count %u", st.rx_count);
	FUZZ_CHECK(st.rx_head < SERIAL8250_FIFO_SIZE, "rx_head %u", st.rx_head);
	FUZZ_CHECK(z->irq.level == want_irq(&st), "IRQ at %d, registers say %d", z->irq.level,
		   want_irq(&st));
	space = serial8250_rx_space(&z->dev);
	FUZZ_CHECK(space == (size_t)(st.mcr & MCR_LOOP ? 0 : SERIAL8250_FIFO_SIZE - st.rx_count),
		   "rx_space %zu with rx_count %u", space, st.rx_count);
	/* The device's own state must always be a state it accepts back. */
	FUZZ_CHECK(serial8250_restore(&z->dev, &st) == 0, "restore refused the device's own state");
	serial8250_save(&z->dev, &again);
	FUZZ_CHECK(!memcmp(&st, &again, sizeof(st)), "save/restore/save changed the state");
	serial8250_metrics_get(&z->dev, &m);
	FUZZ_CHECK(m.tx_bytes == z->out.len, "tx_bytes %llu, sink got %zu",
		   (unsigned long long)m.tx_bytes, z->out.len);
}

static void op_guest_read(struct fz *f, struct fz_serial *z, struct bus *bus)
{
	uint64_t port = COM1 - 8 + fz_u8(f) % 24;
	uint32_t len = 1 + fz_u8(f) % 8;
	struct serial8250_state st;
	uint8_t v[8];
	int rc;

	serial8250_save(&z->dev, &st);
	rc = bus_read(bus, port, v, len);
	FUZZ_CHECK(rc == (port >= COM1 && port + len <= COM1 + SERIAL8250_NR_PORTS ? 0 : -ENOENT),
		   "bus_read(%#llx, %u) = %d", (unsigned long long)port, len, rc);
	if (rc || len != 1)
		return;
	/* Single-byte reads the saved state predicts. */
	if (port == COM1 && !(st.lcr & LCR_DLAB))
		FUZZ_CHECK(v[0] == (st.rx_count ? st.rx_fifo[st.rx_head] : 0), "RBR read %#x", v[0]);
	if (port == COM1 + 5)
		FUZZ_CHECK((v[0] & LSR_DR) == !!st.rx_count && (v[0] & 0x60) == 0x60, "LSR %#x", v[0]);
	if (port == COM1 + 3)
		FUZZ_CHECK(v[0] == st.lcr, "LCR %#x", v[0]);
	if (port == COM1 + 6)
		FUZZ_CHECK(v[0] == (want_msr_lines(st.mcr) | st.msr_delta), "MSR %#x with MCR %#x", v[0], st.mcr);
}

/* A single-byte MCR write: the delta bits MSR must latch (TERI: RI fell). */
static void check_mcr_write(struct fz_serial *z, const struct serial8250_state *before, uint8_t mcr)
{
	uint8_t old = want_msr_lines(before->mcr), now = want_msr_lines(mcr & 0x1f), d = old ^ now;
	uint8_t want = before->msr_delta | (d & 0x10 ? 0x01 : 0) | (d & 0x20 ? 0x02 : 0) |
		       ((old & 0x40) && !(now & 0x40) ? 0x04 : 0) | (d & 0x80 ? 0x08 : 0);
	struct serial8250_state st;

	serial8250_save(&z->dev, &st);
	FUZZ_CHECK(st.msr_delta == want, "MCR %#x -> %#x: MSR deltas %#x, want %#x", before->mcr, mcr,
		   st.msr_delta, want);
}

static void op_guest_write(struct fz *f, struct fz_serial *z, struct bus *bus)
{
	uint64_t port = COM1 - 8 + fz_u8(f) % 24;
	uint32_t len = 1 + fz_u8(f) % 8;
	struct serial8250_state before;
	uint8_t v[8];
	int rc;

	fz_bytes(f, v, len);
	serial8250_save(&z->dev, &before);
	rc = bus_write(bus, port, v, len);
	FUZZ_CHECK(rc == (port >= COM1 && port + len <= COM1 + SERIAL8250_NR_PORTS ? 0 : -ENOENT),
		   "bus_write(%#llx, %u) = %d", (unsigned long long)port, len, rc);
	if (!rc && len == 1 && port == COM1 + 4)
		check_mcr_write(z, &before, v[0]);
}

/* The register file called directly, with offsets past the device. */
static void op_raw(struct fz *f, struct fz_serial *z, int write)
{
	uint64_t offset = fz_u8(f) % 16;
	uint32_t len = 1 + fz_u8(f) % 8;
	uint8_t v[8];

	if (write) {
		fz_bytes(f, v, len);
		serial8250_bus_ops.write(&z->dev, offset, v, len);
		return;
	}
	serial8250_bus_ops.read(&z->dev, offset, v, len);
	for (uint32_t i = 0; i < len; i++)
		if (offset + i >= SERIAL8250_NR_PORTS)
			FUZZ_CHECK(v[i] == 0xff, "byte past port 7 reads %#x", v[i]);
}

static void op_rx_push(struct fz *f, struct fz_serial *z)
{
	uint8_t buf[SERIAL8250_FIFO_SIZE + 16];
	size_t len = fz_u8(f) % sizeof(buf), space, n;

	fz_bytes(f, buf, len);
	space = serial8250_rx_space(&z->dev);
	n = serial8250_rx_push(&z->dev, buf, len);
	FUZZ_CHECK(n == (len < space ? len : space), "rx_push took %zu of %zu with %zu free", n, len, space);
}

static void op_restore(struct fz *f, struct fz_serial *z)
{
	struct serial8250_state st, before, after;
	uint8_t idx = fz_u8(f), val = fz_u8(f);
	int rc;

	serial8250_save(&z->dev, &before);
	st = before;
	if (idx != 0xff)
		((uint8_t *)&st)[idx % sizeof(st)] = val;
	rc = serial8250_restore(&z->dev, &st);
	serial8250_save(&z->dev, &after);
	if (idx == 0xff)
		FUZZ_CHECK(rc == 0, "restore of a saved state failed");
	FUZZ_CHECK(rc == 0 || rc == -EINVAL, "restore = %d", rc);
	FUZZ_CHECK(!memcmp(&after, rc ? &before : &st, sizeof(st)),
		   rc ? "a refused restore changed the device" : "restore did not load the state");
}

enum { OP_READ, OP_WRITE, OP_RX_PUSH, OP_RESTORE, OP_RAW_READ, OP_RAW_WRITE, OP_SINK_FAIL, OP_COUNT };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = fz_init(data, size);
	struct fz_serial *z = calloc(1, sizeof(*z));
	static const struct serial8250_ops ops = { .out = fz_out, .rx_drained = fz_rx_drained };
	struct irq_line irq;
	struct bus bus;

	FUZZ_CHECK(z, "out of memory");
	irq = fake_irq_line(&z->irq, LAYOUT_IRQ_COM1);
	FUZZ_CHECK(serial8250_init(&z->dev, &ops, z, &irq) == 0, "init");
	bus_init(&bus);
	FUZZ_CHECK(bus_insert(&bus, COM1, SERIAL8250_NR_PORTS, &serial8250_bus_ops, &z->dev, "com1") == 0,
		   "bus_insert");

	for (unsigned int n = 0; f.left && n < FZ_MAX_OPS; n++) {
		switch (fz_u8(&f) % OP_COUNT) {
		case OP_READ: op_guest_read(&f, z, &bus); break;
		case OP_WRITE: op_guest_write(&f, z, &bus); break;
		case OP_RX_PUSH: op_rx_push(&f, z); break;
		case OP_RESTORE: op_restore(&f, z); break;
		case OP_RAW_READ: op_raw(&f, z, 0); break;
		case OP_RAW_WRITE: op_raw(&f, z, 1); break;
		case OP_SINK_FAIL:
			/* The sink refuses (or takes again); a full sink also refuses. */
			z->out.fail = !z->out.fail;
			break;
		}
		check_state(z);
		FUZZ_CHECK(z->irq.gsi == LAYOUT_IRQ_COM1 || z->irq.nr == 0, "IRQ on gsi %u", z->irq.gsi);
	}
	serial8250_destroy(&z->dev);
	free(z);
	return 0;
}
