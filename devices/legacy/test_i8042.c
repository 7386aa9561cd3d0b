/* Unit tests for the i8042: controller commands, keyboard replies, IRQ edges,
 * CPU reset, Ctrl+Alt+Del bytes, buffer limits, snapshots, odd accesses. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "devices/legacy/i8042.h"
#include "devices/legacy/legacy_fakes.h"

enum { DATA = 0, PORT61 = 1, STATUS = 4, CMD = 4 };

static struct i8042 dev;
static struct fake_irq irq;
static unsigned int resets;

static void on_reset(void *opaque)
{
	resets++;
}

static const struct i8042_ops ops = { .reset = on_reset };

static void setup(void)
{
	struct irq_line line = fake_irq_line(&irq, 1);

	cr_assert_eq(i8042_init(&dev, &ops, NULL, &line), 0);
}

static void teardown(void)
{
	i8042_destroy(&dev);
}

TestSuite(i8042, .init = setup, .fini = teardown);

static uint8_t in(unsigned int port)
{
	uint8_t v = 0x5a;

	i8042_bus_ops.read(&dev, port, &v, 1);
	return v;
}

static void outp(unsigned int port, uint8_t v)
{
	i8042_bus_ops.write(&dev, port, &v, 1);
}

/* Reads n bytes the way Linux's i8042_wait_read does: OBF, then data. */
static void expect_bytes(const uint8_t *want, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		cr_assert(in(STATUS) & 0x01, "OBF for byte %u", i);
		cr_assert_eq(in(DATA), want[i], "byte %u", i);
	}
	cr_assert_eq(in(STATUS) & 0x01, 0, "nothing more");
}

static uint8_t command(uint8_t cmd)
{
	outp(CMD, cmd);
	cr_assert(in(STATUS) & 0x01, "reply to 0x%02x", cmd);
	return in(DATA);
}

Test(i8042, init_refuses_missing_parts)
{
	struct i8042 t;
	struct i8042_ops none = { .reset = NULL };
	struct irq_line line = fake_irq_line(&irq, 1);

	cr_assert_eq(i8042_init(&t, &none, NULL, &line), -EINVAL);
	cr_assert_eq(i8042_init(&t, NULL, NULL, &line), -EINVAL);
	cr_assert_eq(i8042_init(&t, &ops, NULL, NULL), -EINVAL);
}

Test(i8042, power_on_state)
{
	cr_assert_eq(in(STATUS), 0x14, "SYS, keylock off, buffer empty");
	cr_assert_eq(in(DATA), 0);
	cr_assert_eq(in(PORT61), 0);
	cr_assert_eq(in(2), 0);
	cr_assert_eq(irq.nr, 0);
}

/* i8042_controller_check/selftest/init as Linux runs them with dumbkbd. */
Test(i8042, linux_probe_sequence)
{
	uint8_t ctr[2];

	for (unsigned int i = 0; i < 16 && (in(STATUS) & 0x01); i++)
		in(DATA); /* i8042_flush */
	cr_assert_eq(command(0xaa), 0x55, "controller self test");
	cr_assert(in(STATUS) & 0x04, "system flag");
	ctr[0] = command(0x20);
	ctr[1] = command(0x20);
	cr_assert_eq(ctr[0], ctr[1]);
	cr_assert_eq(ctr[0], 0x45, "BIOS-like: KBDINT|SYS|XLATE");
	outp(CMD, 0x60);
	cr_assert(in(STATUS) & 0x08, "CMD bit after a 0x64 write");
	outp(DATA, (ctr[0] & ~0x01) | 0x10);
	cr_assert_eq(in(STATUS) & 0x08, 0);
	cr_assert_eq(command(0x20), 0x54);
	cr_assert_eq(command(0xab), 0x00, "keyboard interface test");
	cr_assert_eq(command(0xa9), 0x00, "aux interface test");
	outp(CMD, 0xae);
	cr_assert_eq(command(0x20), 0x44, "0xAE enables the keyboard port");
	outp(CMD, 0xad);
	cr_assert_eq(command(0x20), 0x54);
	outp(CMD, 0xa7);
	cr_assert_eq(command(0x20), 0x74);
	outp(CMD, 0xa8);
	cr_assert_eq(command(0x20), 0x54);
	cr_assert_eq(irq.nr, 0, "controller replies are polled, not interrupts");
}

Test(i8042, command_byte_round_trip)
{
	for (unsigned int v = 0; v < 256; v++) {
		outp(CMD, 0x60);
		outp(DATA, (uint8_t)v);
		cr_assert_eq(command(0x20), v);
		cr_assert_eq(in(STATUS) & 0x04, v & 0x04, "status SYS follows CTR");
	}
}

Test(i8042, mode_and_output_port)
{
	cr_assert_eq(command(0xca), 0);
	outp(CMD, 0xcb);
	outp(DATA, 0x01);
	cr_assert_eq(command(0xca), 0x01);
	cr_assert_eq(command(0xd0), 0x03);
	outp(CMD, 0xd1);
	outp(DATA, 0xdf);
	cr_assert_eq(command(0xd0), 0xdf);
	cr_assert_eq(resets, 0, "output port writes do not reset");
}

Test(i8042, reset_only_on_fe)
{
	for (unsigned int c = 0; c < 256; c++) {
		if (c == 0xfe)
			continue;
		outp(CMD, (uint8_t)c);
		outp(DATA, 0xfe); /* argument, or a keyboard "resend" */
	}
	cr_assert_eq(resets, 0);
	outp(CMD, 0xfe);
	cr_assert_eq(resets, 1);
	outp(DATA, 0xfe);
	cr_assert_eq(resets, 1, "0xFE on the data port is for the keyboard");
}

Test(i8042, aux_writes_are_swallowed)
{
	outp(CMD, 0xd4);
	outp(DATA, 0xff);
	outp(CMD, 0xd3);
	outp(DATA, 0x5a);
	cr_assert_eq(in(STATUS) & 0x01, 0, "no mouse: no reply, no ACK");
}

Test(i8042, keyboard_reset_acks_and_interrupts)
{
	static const uint8_t want[] = { 0xfa, 0xaa };

	outp(DATA, 0xff);
	cr_assert_eq(fake_irq_edges(&irq), 1, "ACK loaded");
	cr_assert_eq(irq.level, 0, "edges: the line is pulsed");
	cr_assert_eq(in(DATA), want[0]);
	cr_assert_eq(fake_irq_edges(&irq), 2, "BAT loaded after the ACK was read");
	cr_assert_eq(in(DATA), want[1]);
	cr_assert_eq(fake_irq_edges(&irq), 2, "nothing left, no edge");
	cr_assert_eq(irq.gsi, 1);
}

Test(i8042, keyboard_commands)
{
	static const uint8_t id_xl[] = { 0xfa, 0xab, 0x41 };
	static const uint8_t id_raw[] = { 0xfa, 0xab, 0x83 };
	static const uint8_t ack[] = { 0xfa };
	static const uint8_t ack_ack[] = { 0xfa, 0xfa };
	static const uint8_t set_xl[] = { 0xfa, 0xfa, 0x41 };
	static const uint8_t echo[] = { 0xee };

	outp(DATA, 0xf2);
	expect_bytes(id_xl, 3);
	outp(DATA, 0xed);
	expect_bytes(ack, 1);
	outp(DATA, 0x07); /* LED argument, not a command */
	expect_bytes(ack, 1);
	outp(DATA, 0xf3);
	outp(DATA, 0x00);
	expect_bytes(ack_ack, 2);
	outp(DATA, 0xf0);
	outp(DATA, 0x00);
	expect_bytes(set_xl, 3);
	outp(DATA, 0xf4);
	expect_bytes(ack, 1);
	outp(DATA, 0xf5);
	expect_bytes(ack, 1);
	outp(DATA, 0xee);
	expect_bytes(echo, 1);

	outp(CMD, 0x60);
	outp(DATA, 0x05); /* translation off */
	outp(DATA, 0xf2);
	expect_bytes(id_raw, 3);
}

Test(i8042, no_interrupt_while_disabled)
{
	outp(CMD, 0x60);
	outp(DATA, 0x44);
	outp(DATA, 0xff);
	cr_assert_eq(irq.nr, 0);
	outp(CMD, 0x60);
	outp(DATA, 0x45);
	cr_assert_eq(fake_irq_edges(&irq), 1, "enabling with a byte waiting interrupts");
	cr_assert(in(STATUS) & 0x01, "keyboard bytes survive a CTR write");
}

Test(i8042, ctrl_alt_del_translated)
{
	static const uint8_t want[] = { 0x1d, 0x38, 0xe0, 0x53 };

	cr_assert_eq(i8042_send_ctrl_alt_del(&dev), 0);
	cr_assert_eq(fake_irq_edges(&irq), 1);
	expect_bytes(want, 4);
	cr_assert_eq(fake_irq_edges(&irq), 4, "one edge per byte");
}

Test(i8042, ctrl_alt_del_raw_set2)
{
	static const uint8_t want[] = { 0x14, 0x11, 0xe0, 0x71 };

	outp(CMD, 0x60);
	outp(DATA, 0x05);
	cr_assert_eq(i8042_send_ctrl_alt_del(&dev), 0);
	expect_bytes(want, 4);
}

Test(i8042, buffer_full)
{
	for (unsigned int i = 0; i < 4; i++)
		cr_assert_eq(i8042_send_ctrl_alt_del(&dev), 0);
	cr_assert_eq(i8042_send_ctrl_alt_del(&dev), -ENOSPC);
	in(DATA);
	in(DATA);
	in(DATA);
	cr_assert_eq(i8042_send_ctrl_alt_del(&dev), -ENOSPC, "3 free: all or nothing");
	in(DATA);
	cr_assert_eq(i8042_send_ctrl_alt_del(&dev), 0);

	struct i8042_state st;
	i8042_save(&dev, &st);
	cr_assert_eq(st.buf_count, 16);
	outp(DATA, 0xff);
	i8042_save(&dev, &st);
	cr_assert_eq(st.buf_count, 16, "keyboard reply dropped, buffer intact");
	cr_assert_eq(command(0x20), 0x45, "a controller reply still gets through");
}

Test(i8042, controller_reply_jumps_the_queue)
{
	static const uint8_t want[] = { 0x45, 0x1d, 0x38, 0xe0, 0x53 };

	cr_assert_eq(i8042_send_ctrl_alt_del(&dev), 0);
	outp(CMD, 0x20);
	expect_bytes(want, 5);
}

Test(i8042, save_restore_roundtrip)
{
	struct i8042_state st, st2;
	struct i8042 t;
	struct fake_irq irq2 = { 0 };
	struct irq_line line2 = fake_irq_line(&irq2, 1);
	uint8_t a;

	for (unsigned int i = 0; i < 3; i++) {
		cr_assert_eq(i8042_send_ctrl_alt_del(&dev), 0);
		for (unsigned int j = 0; j < 4; j++)
			in(DATA); /* move the ring head */
	}
	cr_assert_eq(i8042_send_ctrl_alt_del(&dev), 0);
	cr_assert_eq(i8042_send_ctrl_alt_del(&dev), 0);
	outp(DATA, 0xed); /* keyboard waits for the LED argument */
	i8042_save(&dev, &st);

	cr_assert_eq(i8042_init(&t, &ops, NULL, &line2), 0);
	cr_assert_eq(i8042_restore(&t, &st), 0);
	cr_assert_eq(fake_irq_edges(&irq2), 1, "pending data re-signalled");
	i8042_save(&t, &st2);
	cr_assert_eq(memcmp(&st, &st2, sizeof(st)), 0);
	for (unsigned int i = 0; i < 9; i++) {
		i8042_bus_ops.read(&t, DATA, &a, 1);
		cr_assert_eq(a, in(DATA), "byte %u", i);
	}
	a = 0x02;
	i8042_bus_ops.write(&t, DATA, &a, 1);
	i8042_bus_ops.read(&t, DATA, &a, 1);
	cr_assert_eq(a, 0xfa, "the LED argument was still expected");
	i8042_destroy(&t);
}

Test(i8042, restore_refuses_invalid_state)
{
	struct i8042_state good, bad;

	cr_assert_eq(i8042_send_ctrl_alt_del(&dev), 0);
	i8042_save(&dev, &good);

#define REFUSE(field, value)                                                   \
	do {                                                                   \
		bad = good;                                                    \
		bad.field = (value);                                           \
		cr_assert_eq(i8042_restore(&dev, &bad), -EINVAL, #field);      \
	} while (0)
	REFUSE(buf_count, 17);
	REFUSE(buf_head, 16);
	REFUSE(status, 0x01);
	REFUSE(ctl_cmd, 0x20);
	REFUSE(ctl_cmd, 0xfe);
	REFUSE(kbd_cmd, 0xff);
#undef REFUSE
	cr_assert_eq(in(DATA), 0x1d, "device untouched");
}

Test(i8042, odd_access_widths)
{
	static const uint64_t offsets[] = { 0, 1, 2, 3, 4, 5, 6, 100, UINT64_MAX - 1, UINT64_MAX };
	static const uint32_t lens[] = { 0, 1, 2, 4, 8 };
	uint8_t buf[16];

	for (unsigned int o = 0; o < sizeof(offsets) / sizeof(offsets[0]); o++) {
		for (unsigned int l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
			memset(buf, 0xcc, sizeof(buf));
			i8042_bus_ops.read(&dev, offsets[o], buf, lens[l]);
			for (unsigned int i = lens[l]; i < sizeof(buf); i++)
				cr_assert_eq(buf[i], 0xcc);
			for (unsigned int i = 0; i < lens[l]; i++)
				if (offsets[o] >= 5 || i >= 5 - offsets[o])
					cr_assert_eq(buf[i], 0xff);
			memset(buf, 0x00, sizeof(buf)); /* 0x00 is harmless on both ports */
			i8042_bus_ops.write(&dev, offsets[o], buf, lens[l]);
		}
	}
	cr_assert_eq(resets, 0);

	uint8_t w[8] = { 0xfe, 0xfe, 0xfe, 0xfe, 0xfe, 0xfe, 0xfe, 0xfe };
	i8042_bus_ops.write(&dev, 1, w, 8);
	cr_assert_eq(resets, 1, "only the byte landing on 0x64 is a command");
	uint32_t v;
	i8042_bus_ops.read(&dev, 1, &v, 4);
	cr_assert_eq(v & 0x00ffffff, 0, "0x61..0x63 read 0");
}
