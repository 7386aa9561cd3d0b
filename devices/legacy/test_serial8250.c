/* Unit tests for the 16550A: register semantics, interrupts, FIFO limits, the
 * Linux 8250 probe, snapshots and malformed accesses. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "devices/legacy/legacy_fakes.h"
#include "devices/legacy/serial8250.h"

enum { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

static struct serial8250 s;
static struct fake_irq irq;
static struct fake_out out;
static unsigned int drained;

static ssize_t sink(void *opaque, const uint8_t *buf, size_t len)
{
	return fake_out_write(&out, buf, len);
}

static void on_drained(void *opaque)
{
	drained++;
}

static const struct serial8250_ops ops = { .out = sink, .rx_drained = on_drained };

static void setup(void)
{
	struct irq_line line = fake_irq_line(&irq, 4);

	cr_assert_eq(serial8250_init(&s, &ops, NULL, &line), 0);
}

static void teardown(void)
{
	serial8250_destroy(&s);
}

TestSuite(serial8250, .init = setup, .fini = teardown);

static uint8_t in(unsigned int reg)
{
	uint8_t v = 0x5a;

	serial8250_bus_ops.read(&s, reg, &v, 1);
	return v;
}

static void outp(unsigned int reg, uint8_t v)
{
	serial8250_bus_ops.write(&s, reg, &v, 1);
}

static void push(const char *str)
{
	cr_assert_eq(serial8250_rx_push(&s, (const uint8_t *)str, strlen(str)), strlen(str));
}

Test(serial8250, init_refuses_missing_parts)
{
	struct serial8250 t;
	struct serial8250_ops no_out = { .out = NULL };
	struct irq_line line = fake_irq_line(&irq, 4);

	cr_assert_eq(serial8250_init(&t, &no_out, NULL, &line), -EINVAL);
	cr_assert_eq(serial8250_init(&t, NULL, NULL, &line), -EINVAL);
	cr_assert_eq(serial8250_init(&t, &ops, NULL, NULL), -EINVAL);
}

Test(serial8250, power_on_state)
{
	cr_assert_eq(in(LSR), 0x60, "THRE|TEMT");
	cr_assert_eq(in(IIR), 0x01, "no interrupt, FIFOs off");
	cr_assert_eq(in(MSR), 0xb0, "DCD|DSR|CTS, no deltas");
	cr_assert_eq(in(IER), 0);
	cr_assert_eq(in(MCR), 0);
	cr_assert_eq(irq.nr, 0, "line never driven");
}

Test(serial8250, scratch_lcr_and_divisor_latch)
{
	outp(SCR, 0xa5);
	cr_assert_eq(in(SCR), 0xa5);
	outp(SCR, 0x5a);
	cr_assert_eq(in(SCR), 0x5a);

	outp(IER, 0x05);
	outp(LCR, 0x83);
	cr_assert_eq(in(LCR), 0x83);
	cr_assert_eq(in(DLL), 12, "9600 baud at power on");
	outp(DLL, 0x01);
	outp(DLM, 0x02);
	outp(THR, 'x'); /* DLAB set: this is DLL, nothing goes out */
	cr_assert_eq(in(DLL), 'x');
	cr_assert_eq(in(DLM), 0x02);
	cr_assert_eq(out.len, 0);

	outp(LCR, 0x03);
	cr_assert_eq(in(IER), 0x05, "IER visible again, untouched by DLM");
	outp(IER, 0xff);
	cr_assert_eq(in(IER), 0x0f, "upper IER bits read 0");
	outp(LCR, 0x80);
	cr_assert_eq(in(DLM), 0x02);
	cr_assert_eq(in(DLL), 'x');
}

Test(serial8250, transmit_goes_to_sink_and_never_blocks)
{
	struct serial8250_metrics m;

	for (const char *p = "hello\n"; *p; p++) {
		outp(THR, (uint8_t)*p);
		cr_assert_eq(in(LSR) & 0x60, 0x60);
	}
	cr_assert_eq(out.len, 6);
	cr_assert_eq(memcmp(out.buf, "hello\n", 6), 0);

	out.fail = 1;
	outp(THR, '!');
	cr_assert_eq(in(LSR), 0x60, "a failing sink is invisible to the guest");
	serial8250_metrics_get(&s, &m);
	cr_assert_eq(m.tx_bytes, 6);
	cr_assert_eq(m.tx_dropped, 1);
}

Test(serial8250, thri_raise_and_lower)
{
	outp(IER, 0x02);
	cr_assert_eq(irq.level, 1, "enabling THRI with THR empty interrupts");
	cr_assert_eq(in(IIR), 0x02);
	cr_assert_eq(irq.level, 0, "reading IIR acknowledged it");
	cr_assert_eq(in(IIR), 0x01);

	outp(THR, 'a');
	cr_assert_eq(irq.level, 1, "each write empties THR again");
	outp(IER, 0x00);
	cr_assert_eq(irq.level, 0, "disabling drops the line");
	cr_assert_eq(in(IIR), 0x01);
	outp(IER, 0x02);
	cr_assert_eq(irq.level, 1, "re-enabling re-asserts");
	outp(IER, 0x03);
	cr_assert_eq(in(IIR), 0x02, "no RX data, still THRI");
	outp(IER, 0x03);
	cr_assert_eq(in(IIR), 0x01, "rewriting IER without a THRI edge does not re-arm");

	int expect[] = { 1, 0, 1, 0, 1, 0 };
	cr_assert_eq(irq.nr, 6);
	for (unsigned int i = 0; i < 6; i++)
		cr_assert_eq(irq.history[i], expect[i], "change %u", i);
}

/* serial8250_do_startup: a UART that does not re-assert THRE after IER is
 * toggled gets UART_BUG_THRE and a polling timer. */
Test(serial8250, linux_startup_thre_and_txen_tests)
{
	uint8_t iir1, iir2, lsr;

	outp(IER, 0x02);
	iir1 = in(IIR);
	outp(IER, 0);
	outp(IER, 0x02);
	iir2 = in(IIR);
	outp(IER, 0);
	cr_assert(!(iir1 & 0x01) && !(iir2 & 0x01), "THRE re-asserted: no UART_BUG_THRE");

	outp(IER, 0x02);
	lsr = in(LSR);
	iir2 = in(IIR);
	outp(IER, 0);
	cr_assert(!((lsr & 0x40) && (iir2 & 0x01)), "no UART_BUG_TXEN");
	cr_assert_eq(in(LSR) == 0xff, 0, "LSR safety check");
}

Test(serial8250, receive_interrupt_and_drain_callback)
{
	struct serial8250_metrics m;

	push("abc");
	cr_assert_eq(irq.nr, 0, "RX interrupt not enabled yet");
	cr_assert_eq(in(LSR), 0x61);
	outp(IER, 0x01);
	cr_assert_eq(irq.level, 1);
	cr_assert_eq(in(IIR), 0x04);
	cr_assert_eq(in(RBR), 'a');
	cr_assert_eq(in(RBR), 'b');
	cr_assert_eq(drained, 0);
	cr_assert_eq(irq.level, 1);
	cr_assert_eq(in(RBR), 'c');
	cr_assert_eq(irq.level, 0, "FIFO empty: line drops");
	cr_assert_eq(drained, 1, "read empty: the VMM may resume input");
	cr_assert_eq(in(LSR), 0x60);
	cr_assert_eq(in(RBR), 0, "empty read");
	cr_assert_eq(drained, 1, "an empty read does not notify again");
	serial8250_metrics_get(&s, &m);
	cr_assert_eq(m.rx_bytes, 3);
	cr_assert_eq(m.missed_reads, 1);
}

Test(serial8250, fifo_overflow_refuses_bytes)
{
	uint8_t buf[100];

	for (unsigned int i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)i;
	cr_assert_eq(serial8250_rx_space(&s), 64);
	cr_assert_eq(serial8250_rx_push(&s, buf, sizeof(buf)), 64);
	cr_assert_eq(serial8250_rx_space(&s), 0);
	cr_assert_eq(serial8250_rx_push(&s, buf + 64, 36), 0, "full FIFO takes nothing");
	for (unsigned int i = 0; i < 64; i++)
		cr_assert_eq(in(RBR), i, "byte %u kept, not overwritten", i);
	cr_assert_eq(in(LSR) & 0x03, 0, "no data, no overrun: refused bytes are the VMM's");
	cr_assert_eq(drained, 1);
	cr_assert_eq(serial8250_rx_space(&s), 64);
}

Test(serial8250, fifo_control)
{
	outp(FCR, 0x07);
	cr_assert_eq(in(IIR), 0xc1, "FIFO-enabled bits");
	outp(FCR, 0xc9);
	cr_assert_eq(in(IIR) & 0xf0, 0xc0, "never the 16750 64-byte bit");
	push("xyz");
	outp(FCR, 0x03);
	cr_assert_eq(in(LSR) & 0x01, 0, "CLEAR_RCVR empties the FIFO");
	cr_assert_eq(drained, 1);
	push("q");
	outp(FCR, 0x00);
	cr_assert_eq(in(IIR), 0x01, "FIFOs off");
	cr_assert_eq(in(LSR) & 0x01, 0, "leaving FIFO mode clears the FIFO");
	cr_assert_eq(drained, 2);
}

/* Every source pending at once is reported highest first:
 * line status > received data > THR empty > modem status. */
Test(serial8250, iir_priorities)
{
	outp(FCR, 0x01);
	outp(MCR, 0x10); /* loopback, all outputs low: CTS/DSR/DCD fall */
	for (unsigned int i = 0; i < 65; i++)
		outp(THR, (uint8_t)i); /* the 65th overruns */
	outp(IER, 0x0f);
	cr_assert_eq(irq.level, 1);
	cr_assert_eq(in(IIR), 0xc6, "line status first");
	cr_assert_eq(in(IIR), 0xc6, "IIR read does not clear it");
	cr_assert_eq(in(LSR), 0x63, "DR|OE|THRE|TEMT");
	cr_assert_eq(in(LSR), 0x61, "OE cleared by the read");
	cr_assert_eq(in(IIR), 0xc4, "then received data");
	for (unsigned int i = 0; i < 64; i++)
		cr_assert_eq(in(RBR), i);
	cr_assert_eq(in(IIR), 0xc2, "then THR empty, acknowledged by this read");
	cr_assert_eq(in(IIR), 0xc0, "then modem status");
	cr_assert_eq(irq.level, 1);
	cr_assert_eq(in(MSR), 0x0b, "lines low, DCTS|DDSR|DDCD");
	cr_assert_eq(in(IIR), 0xc1);
	cr_assert_eq(irq.level, 0);

	struct serial8250_metrics m;
	serial8250_metrics_get(&s, &m);
	cr_assert_eq(m.rx_overruns, 1);
	cr_assert_eq(out.len, 0, "loopback transmits nothing outside");
}

Test(serial8250, loopback)
{
	outp(MCR, 0x1a);
	cr_assert_eq(in(MSR) & 0xf0, 0x90, "RTS->CTS, OUT2->DCD");
	outp(MCR, 0x1f);
	cr_assert_eq(in(MSR), 0xf2, "DSR rose: DDSR; a rising RI is not TERI");
	outp(MCR, 0x1b);
	cr_assert_eq(in(MSR), 0xb4, "RI fell: TERI");
	cr_assert_eq(serial8250_rx_push(&s, (const uint8_t *)"no", 2), 0, "outside input refused in loopback");
	cr_assert_eq(serial8250_rx_space(&s), 0);
	outp(THR, 'L');
	cr_assert_eq(in(LSR), 0x61);
	cr_assert_eq(in(RBR), 'L');
	cr_assert_eq(out.len, 0);
	drained = 0;
	outp(MCR, 0x0b);
	cr_assert_eq(drained, 1, "receiver reconnected: input may resume");
	cr_assert_eq(in(MSR), 0xb0, "back to the cable's lines, no change vs loop 0x1b");
	cr_assert_eq(serial8250_rx_space(&s), 64);
}

/* Linux's size_fifo(): loopback, 256 writes, count what comes back. */
static unsigned int linux_size_fifo(void)
{
	uint8_t old_lcr, old_fcr, old_mcr, dll, dlm;
	unsigned int count;

	old_lcr = in(LCR);
	outp(LCR, 0);
	old_fcr = in(FCR);
	old_mcr = in(MCR);
	outp(FCR, 0x07);
	outp(MCR, 0x10);
	outp(LCR, 0x80);
	dll = in(DLL);
	dlm = in(DLM);
	outp(DLL, 1);
	outp(DLM, 0);
	outp(LCR, 0x03);
	for (count = 0; count < 256; count++)
		outp(THR, (uint8_t)count);
	for (count = 0; (in(LSR) & 0x01) && count < 256; count++)
		in(RBR);
	outp(FCR, old_fcr);
	outp(MCR, old_mcr);
	outp(LCR, 0x80);
	outp(DLL, dll);
	outp(DLM, dlm);
	outp(LCR, old_lcr);
	return count;
}

/* drivers/tty/serial/8250/8250_port.c autoconfig() and autoconfig_16550a(),
 * step by step, without UPF_SKIP_TEST. */
Test(serial8250, linux_autoconfig_sees_16550a)
{
	uint8_t scratch, scratch2, scratch3, save_mcr, save_lcr, status1, status2;

	/* IER existence test. */
	scratch = in(IER);
	outp(IER, 0);
	scratch2 = in(IER) & 0x0f;
	outp(IER, 0x0f);
	scratch3 = in(IER) & 0x0f;
	outp(IER, scratch);
	cr_assert(scratch2 == 0 && scratch3 == 0x0f, "IER test");

	save_mcr = in(MCR);
	save_lcr = in(LCR);
	/* LOOP test. */
	outp(MCR, 0x10 | 0x08 | 0x02);
	status1 = in(MSR) & 0xf0;
	outp(MCR, save_mcr);
	cr_assert_eq(status1, 0x90, "LOOP test");

	outp(LCR, 0xbf);
	outp(2, 0); /* EFR on chips that have one; FCR here */
	outp(LCR, 0);
	outp(FCR, 0x01);
	cr_assert_eq(in(IIR) >> 6, 3, "UART_IIR_FIFO_ENABLED_16550A");

	/* autoconfig_16550a with CONFIG_SERIAL_8250_16550A_VARIANTS. */
	outp(LCR, 0x80);
	cr_assert_neq(in(2), 0, "no EFR behind LCR 0x80 (not a 16650)");
	outp(LCR, 0xbf);
	cr_assert_neq(in(2), 0, "no EFR behind LCR 0xbf (not a 16850/16950)");
	outp(LCR, 0);
	status1 = in(MCR);
	outp(LCR, 0xe0);
	status2 = in(2);
	if (!((status2 ^ status1) & 0x10)) {
		outp(LCR, 0);
		outp(MCR, status1 ^ 0x10);
		outp(LCR, 0xe0);
		status2 = in(2);
		outp(LCR, 0);
		outp(MCR, status1);
		cr_assert_eq((status2 ^ status1) & 0x10, 0, "not a NatSemi NS16550A");
	}
	outp(LCR, 0);
	outp(FCR, 0x01 | 0x20);
	status1 = in(IIR) & 0xe0;
	outp(FCR, 0x01);
	outp(LCR, 0x80);
	outp(FCR, 0x01 | 0x20);
	status2 = in(IIR) & 0xe0;
	outp(FCR, 0x01);
	outp(LCR, 0);
	cr_assert(!(status1 == 0xc0 && status2 == 0xe0), "not a 16750");
	scratch = in(IER);
	outp(IER, scratch & ~0x40);
	cr_assert_eq(in(IER) & 0x40, 0);
	outp(IER, scratch | 0x40);
	cr_assert_eq(in(IER) & 0x40, 0, "not an XScale");
	outp(IER, scratch);
	/* A 64-byte FIFO makes Linux call it "U6_16550A" (a 16550A with a
	 * 64-byte FIFO), as it does on Firecracker; without the variants
	 * option it stops at "16550A". */
	cr_assert_eq(linux_size_fifo(), 64);

	outp(LCR, save_lcr);
	outp(MCR, save_mcr);
	outp(FCR, 0x01);
	outp(FCR, 0x07);
	outp(FCR, 0);
	in(RBR);
	outp(IER, 0);
	cr_assert_eq(out.len, 0, "the probe printed nothing on the console");
	cr_assert_eq(irq.level, 0);
	cr_assert_eq(in(LSR), 0x60);
}

Test(serial8250, save_restore_roundtrip)
{
	struct serial8250_state st, st2;
	struct serial8250 t;
	struct fake_irq irq2 = { 0 };
	struct irq_line line2 = fake_irq_line(&irq2, 4);

	outp(LCR, 0x80);
	outp(DLL, 0x03);
	outp(DLM, 0x00);
	outp(LCR, 0x03);
	outp(FCR, 0xc7);
	outp(MCR, 0x0b);
	outp(SCR, 0x42);
	outp(IER, 0x01);
	uint8_t data[64] = { 0 };
	cr_assert_eq(serial8250_rx_push(&s, data, 40), 40);
	for (unsigned int i = 0; i < 40; i++)
		in(RBR); /* move the ring head so the restored ring wraps */
	for (unsigned int i = 0; i < 64; i++)
		data[i] = (uint8_t)('A' + i);
	cr_assert_eq(serial8250_rx_push(&s, data, 64), 64);
	in(RBR);
	serial8250_save(&s, &st);
	cr_assert_eq(st.rx_count, 63);

	cr_assert_eq(serial8250_init(&t, &ops, NULL, &line2), 0);
	cr_assert_eq(serial8250_restore(&t, &st), 0);
	cr_assert_eq(irq2.nr, 1);
	cr_assert_eq(irq2.level, 1, "RX pending: restore drives the line high");
	serial8250_save(&t, &st2);
	cr_assert_eq(memcmp(&st, &st2, sizeof(st)), 0);

	uint8_t a, b;
	for (unsigned int i = 0; i < 63; i++) {
		serial8250_bus_ops.read(&t, RBR, &a, 1);
		b = in(RBR);
		cr_assert_eq(a, b, "byte %u", i);
	}
	serial8250_bus_ops.read(&t, SCR, &a, 1);
	cr_assert_eq(a, 0x42);
	serial8250_destroy(&t);
}

Test(serial8250, restore_refuses_invalid_state)
{
	struct serial8250_state good, bad;

	push("keep");
	serial8250_save(&s, &good);

#define REFUSE(field, value)                                                   \
	do {                                                                   \
		bad = good;                                                    \
		bad.field = (value);                                           \
		cr_assert_eq(serial8250_restore(&s, &bad), -EINVAL, #field);   \
	} while (0)
	REFUSE(rx_count, 65);
	REFUSE(rx_count, 255);
	REFUSE(rx_head, 64);
	REFUSE(ier, 0x10);
	REFUSE(mcr, 0x20);
	REFUSE(fcr, 0x02);
	REFUSE(fcr, 0xc0); /* trigger bits without FIFO enable */
	REFUSE(lsr_err, 0x01);
	REFUSE(msr_delta, 0x10);
	REFUSE(thr_pending, 2);
	REFUSE(thr_pending, 1); /* latched with THRI disabled */
#undef REFUSE
	cr_assert_eq(in(RBR), 'k', "device untouched");
	cr_assert_eq(serial8250_rx_space(&s), 61);
}

/* Any width at any offset: only bytes that land on ports 0..7 act, reads fill
 * exactly len bytes, and nothing past len is touched. */
Test(serial8250, odd_access_widths)
{
	static const uint64_t offsets[] = { 0, 1, 3, 5, 6, 7, 8, 9, 100, UINT64_MAX - 3, UINT64_MAX };
	static const uint32_t lens[] = { 0, 1, 2, 3, 4, 8 };
	uint8_t buf[16];

	for (unsigned int o = 0; o < sizeof(offsets) / sizeof(offsets[0]); o++) {
		for (unsigned int l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
			memset(buf, 0xcc, sizeof(buf));
			serial8250_bus_ops.read(&s, offsets[o], buf, lens[l]);
			for (unsigned int i = lens[l]; i < sizeof(buf); i++)
				cr_assert_eq(buf[i], 0xcc, "read past len at %lu/%u", (unsigned long)offsets[o], lens[l]);
			for (unsigned int i = 0; i < lens[l]; i++)
				if (offsets[o] >= 8 || i >= 8 - offsets[o])
					cr_assert_eq(buf[i], 0xff, "byte off the device reads 0xff");
			memset(buf, 0, sizeof(buf));
			serial8250_bus_ops.write(&s, offsets[o], buf, lens[l]);
		}
	}
	cr_assert_eq(out.len, 5, "only the writes covering offset 0 transmitted");

	uint8_t w[8] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88 };
	serial8250_bus_ops.write(&s, 7, w, 8);
	cr_assert_eq(in(SCR), 0x11, "an 8-byte write at 7 sets SCR only");
	serial8250_bus_ops.write(&s, 6, w, 2);
	cr_assert_eq(in(SCR), 0x22, "MSR byte ignored, SCR byte written");
	uint16_t v;
	serial8250_bus_ops.read(&s, 5, &v, 2);
	cr_assert_eq(v, 0xb060, "LSR then MSR");
}

/* The VMM thread pushes while a vCPU thread drains: nothing lost, nothing
 * reordered. */
static void *pusher(void *arg)
{
	uint8_t b[7];
	unsigned int sent = 0;

	while (sent < 20000) {
		size_t n = 0;
		for (unsigned int i = 0; i < sizeof(b); i++)
			b[i] = (uint8_t)(sent + i);
		n = serial8250_rx_push(&s, b, sent + sizeof(b) <= 20000 ? sizeof(b) : 20000 - sent);
		sent += n;
	}
	return NULL;
}

Test(serial8250, concurrent_push_and_read, .timeout = 30)
{
	pthread_t t;
	unsigned int got = 0;

	cr_assert_eq(pthread_create(&t, NULL, pusher, NULL), 0);
	while (got < 20000) {
		if (in(LSR) & 0x01) {
			cr_assert_eq(in(RBR), (uint8_t)got);
			got++;
		}
	}
	pthread_join(t, NULL);
	cr_assert_eq(in(LSR) & 0x01, 0);
}
