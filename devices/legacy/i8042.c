/* i8042 keyboard controller; see i8042.h. */
#include "devices/legacy/i8042.h"

#include <errno.h>
#include <string.h>

#include "vmm/log/log.h"

enum { OFS_DATA = 0, OFS_PORT61 = 1, OFS_STATUS = 4 };

#define STS_OBF      0x01 /* output buffer full */
#define STS_SYS      0x04 /* system flag: self test passed */
#define STS_CMD      0x08 /* last write went to port 0x64 */
#define STS_UNLOCKED 0x10 /* keylock off; Linux warns "Keylock active" without it */
#define STS_LATCHED  (STS_SYS | STS_CMD)

#define CTR_KBDINT 0x01
#define CTR_SYS    0x04
#define CTR_KBDDIS 0x10
#define CTR_AUXDIS 0x20
#define CTR_XLATE  0x40

#define CMD_READ_CTR    0x20
#define CMD_WRITE_CTR   0x60
#define CMD_AUX_DISABLE 0xa7
#define CMD_AUX_ENABLE  0xa8
#define CMD_AUX_TEST    0xa9
#define CMD_SELF_TEST   0xaa
#define CMD_KBD_TEST    0xab
#define CMD_KBD_DISABLE 0xad
#define CMD_KBD_ENABLE  0xae
#define CMD_READ_MODE   0xca
#define CMD_WRITE_MODE  0xcb
#define CMD_READ_OUTP   0xd0
#define CMD_WRITE_OUTP  0xd1
#define CMD_WRITE_KBD_OUT 0xd2
#define CMD_WRITE_AUX_OUT 0xd3
#define CMD_WRITE_AUX   0xd4
#define CMD_RESET_CPU   0xfe

#define KBD_SET_LEDS  0xed
#define KBD_ECHO      0xee
#define KBD_SCANCODE  0xf0
#define KBD_GET_ID    0xf2
#define KBD_SET_RATE  0xf3
#define KBD_RESET     0xff

#define KBD_ACK     0xfa
#define KBD_BAT_OK  0xaa
#define KBD_ID      0xab
#define SELF_TEST_OK 0x55

#define INITIAL_CTR (CTR_KBDINT | CTR_SYS | CTR_XLATE)
#define INITIAL_OUTPORT 0x03 /* reset line inactive, A20 on */

/*
 * Ctrl+Alt+Del.  The keyboard always speaks scan code set 2: left Ctrl is
 * 0x14, left Alt 0x11, Delete the extended 0xe0 0x71.  With CTR_XLATE set the
 * controller translates set 2 to set 1 on the way to the host, so the guest
 * reads 0x1d, 0x38, 0xe0 0x53 (0xe0 passes through, codes below 0x80 map
 * one to one).  Linux sees CTR_XLATE at boot, makes the port SERIO_8042_XL and
 * atkbd (set 2 because dumbkbd gives it no write path) builds its keymap
 * through atkbd_unxlate_table, mapping 0x1d->0x14 KEY_LEFTCTRL, 0x38->0x11
 * KEY_LEFTALT and, after the 0xe0 prefix, 0x53|0x80 -> set2[0xf1] KEY_DELETE.
 * Without translation the guest must get the raw set-2 bytes (Firecracker
 * leaves XLATE off and queues those).  Makes only: the keyboard layer calls
 * ctrl_alt_del() on the Delete press while Ctrl and Alt are down.
 */
static const uint8_t cad_translated[] = { 0x1d, 0x38, 0xe0, 0x53 };
static const uint8_t cad_raw[] = { 0x14, 0x11, 0xe0, 0x71 };

/* The second ID byte: 0x83 raw, 0x41 once translated (set-2 0x83 is F7). */
static uint8_t kbd_id2(const struct i8042_state *st)
{
	return st->ctr & CTR_XLATE ? 0x41 : 0x83;
}

/* A keyboard byte reached the head of the buffer: that is the IRQ 1 edge. */
static void kbd_irq(struct i8042 *dev)
{
	if (dev->st.buf_count && (dev->st.ctr & CTR_KBDINT))
		irq_line_pulse(&dev->irq);
}

/* Appends keyboard bytes, all or none. */
static int kbd_queue(struct i8042 *dev, const uint8_t *bytes, unsigned int n)
{
	struct i8042_state *st = &dev->st;
	int was_empty = !st->buf_count;

	if (n > (unsigned int)(I8042_BUF_SIZE - st->buf_count))
		return -ENOSPC;
	for (unsigned int i = 0; i < n; i++)
		st->buf[(st->buf_head + st->buf_count++) % I8042_BUF_SIZE] = bytes[i];
	if (was_empty)
		kbd_irq(dev);
	return 0;
}

/* A controller reply goes to the front: the guest polls for it right after the
 * command, and keyboard bytes already waiting stay behind it.  A full buffer
 * loses its newest byte. */
static void ctl_reply(struct i8042 *dev, uint8_t b)
{
	struct i8042_state *st = &dev->st;

	if (st->buf_count == I8042_BUF_SIZE)
		st->buf_count--;
	st->buf_head = (st->buf_head + I8042_BUF_SIZE - 1) % I8042_BUF_SIZE;
	st->buf[st->buf_head] = b;
	st->buf_count++;
}

static uint8_t read_data(struct i8042 *dev)
{
	struct i8042_state *st = &dev->st;
	uint8_t b;

	if (!st->buf_count)
		return 0;
	b = st->buf[st->buf_head];
	st->buf_head = (st->buf_head + 1) % I8042_BUF_SIZE;
	st->buf_count--;
	kbd_irq(dev); /* the next byte, if any, is now in the output buffer */
	return b;
}

/* A byte for the keyboard itself.  Replies that do not fit are lost, as a
 * keyboard whose host never reads would lose them; Linux drains first. */
static void kbd_write(struct i8042 *dev, uint8_t v)
{
	struct i8042_state *st = &dev->st;
	uint8_t reply[3] = { KBD_ACK };
	unsigned int n = 1;

	if (st->kbd_cmd) {
		/* Argument byte; "F0 00" asks for the current set, always 2. */
		if (st->kbd_cmd == KBD_SCANCODE && v == 0)
			reply[n++] = st->ctr & CTR_XLATE ? 0x41 : 0x02;
		st->kbd_cmd = 0;
	} else {
		switch (v) {
		case KBD_SET_LEDS:
		case KBD_SCANCODE:
		case KBD_SET_RATE:
			st->kbd_cmd = v;
			break;
		case KBD_ECHO:
			reply[0] = KBD_ECHO;
			break;
		case KBD_GET_ID:
			reply[n++] = KBD_ID;
			reply[n++] = kbd_id2(st);
			break;
		case KBD_RESET:
			reply[n++] = KBD_BAT_OK;
			break;
		default:
			break; /* F4/F5/F6 and the rest: ACK only */
		}
	}
	if (kbd_queue(dev, reply, n))
		LOG_DEBUG("i8042: output buffer full, keyboard reply to 0x%02x dropped", v);
}

static void write_data(struct i8042 *dev, uint8_t v)
{
	struct i8042_state *st = &dev->st;
	uint8_t cmd = st->ctl_cmd;
	int was_enabled;

	st->status &= ~STS_CMD;
	st->ctl_cmd = 0;
	switch (cmd) {
	case CMD_WRITE_CTR:
		was_enabled = st->ctr & CTR_KBDINT;
		st->ctr = v;
		st->status = (st->status & ~STS_SYS) | (v & CTR_SYS);
		if (!was_enabled)
			kbd_irq(dev); /* a byte already waiting interrupts now */
		break;
	case CMD_WRITE_OUTP:
		st->outport = v; /* the reset line here is not modelled; 0xFE is */
		break;
	case CMD_WRITE_KBD_OUT:
		if (kbd_queue(dev, &v, 1))
			LOG_DEBUG("i8042: output buffer full, 0xd2 byte dropped");
		break;
	case CMD_WRITE_MODE:
		st->mode = v;
		break;
	case CMD_WRITE_AUX_OUT:
	case CMD_WRITE_AUX:
		break; /* no aux device (i8042.noaux) */
	default:
		kbd_write(dev, v);
		break;
	}
}

static void write_command(struct i8042 *dev, uint8_t v, int *reset)
{
	struct i8042_state *st = &dev->st;

	st->status |= STS_CMD;
	st->ctl_cmd = 0;
	switch (v) {
	case CMD_READ_CTR: ctl_reply(dev, st->ctr); break;
	case CMD_SELF_TEST:
		st->status |= STS_SYS;
		ctl_reply(dev, SELF_TEST_OK);
		break;
	case CMD_KBD_TEST:
	case CMD_AUX_TEST: ctl_reply(dev, 0x00); break;
	case CMD_READ_MODE: ctl_reply(dev, st->mode); break;
	case CMD_READ_OUTP: ctl_reply(dev, st->outport); break;
	case CMD_KBD_DISABLE: st->ctr |= CTR_KBDDIS; break;
	case CMD_KBD_ENABLE: st->ctr &= ~CTR_KBDDIS; break;
	case CMD_AUX_DISABLE: st->ctr |= CTR_AUXDIS; break;
	case CMD_AUX_ENABLE: st->ctr &= ~CTR_AUXDIS; break;
	case CMD_WRITE_CTR:
	case CMD_WRITE_OUTP:
	case CMD_WRITE_KBD_OUT:
	case CMD_WRITE_AUX_OUT:
	case CMD_WRITE_AUX:
	case CMD_WRITE_MODE: st->ctl_cmd = v; break;
	case CMD_RESET_CPU: *reset = 1; break;
	default:
		LOG_DEBUG("i8042: ignoring controller command 0x%02x", v);
		break;
	}
}

static uint8_t reg_read(struct i8042 *dev, uint64_t offset)
{
	const struct i8042_state *st = &dev->st;

	switch (offset) {
	case OFS_DATA:
		return read_data(dev);
	case OFS_STATUS:
		return (st->buf_count ? STS_OBF : 0) | st->status | STS_UNLOCKED;
	default:
		return 0; /* 0x61 (speaker/PIT gate is elsewhere), 0x62, 0x63 */
	}
}

static void i8042_bus_read(void *opaque, uint64_t offset, void *data, uint32_t len)
{
	struct i8042 *dev = opaque;
	uint8_t *out = data;

	pthread_mutex_lock(&dev->lock);
	for (uint32_t i = 0; i < len; i++)
		out[i] = offset < I8042_NR_PORTS && i < I8042_NR_PORTS - offset ? reg_read(dev, offset + i) : 0xff;
	pthread_mutex_unlock(&dev->lock);
}

static void i8042_bus_write(void *opaque, uint64_t offset, const void *data, uint32_t len)
{
	struct i8042 *dev = opaque;
	const uint8_t *in = data;
	int reset = 0;

	pthread_mutex_lock(&dev->lock);
	for (uint32_t i = 0; i < len && offset < I8042_NR_PORTS && i < I8042_NR_PORTS - offset; i++) {
		if (offset + i == OFS_DATA)
			write_data(dev, in[i]);
		else if (offset + i == OFS_STATUS)
			write_command(dev, in[i], &reset);
	}
	pthread_mutex_unlock(&dev->lock);
	/* Outside the lock: the VMM may tear the VM (and this device) down. */
	if (reset) {
		LOG_DEBUG("i8042: guest pulsed the CPU reset line");
		dev->ops.reset(dev->opaque);
	}
}

const struct bus_dev_ops i8042_bus_ops = {
	.read = i8042_bus_read,
	.write = i8042_bus_write,
};

int i8042_init(struct i8042 *dev, const struct i8042_ops *ops, void *opaque, const struct irq_line *irq)
{
	int ret;

	if (!ops || !ops->reset || !irq)
		return -EINVAL;
	memset(dev, 0, sizeof(*dev));
	ret = pthread_mutex_init(&dev->lock, NULL);
	if (ret)
		return -ret;
	dev->ops = *ops;
	dev->opaque = opaque;
	dev->irq = *irq;
	dev->st.ctr = INITIAL_CTR;
	dev->st.status = STS_SYS;
	dev->st.outport = INITIAL_OUTPORT;
	return 0;
}

void i8042_destroy(struct i8042 *dev)
{
	pthread_mutex_destroy(&dev->lock);
}

int i8042_send_ctrl_alt_del(struct i8042 *dev)
{
	int ret;

	pthread_mutex_lock(&dev->lock);
	ret = kbd_queue(dev, dev->st.ctr & CTR_XLATE ? cad_translated : cad_raw, sizeof(cad_raw));
	pthread_mutex_unlock(&dev->lock);
	return ret;
}

void i8042_save(struct i8042 *dev, struct i8042_state *st)
{
	pthread_mutex_lock(&dev->lock);
	*st = dev->st;
	pthread_mutex_unlock(&dev->lock);
}

static int cmd_valid(uint8_t ctl_cmd, uint8_t kbd_cmd)
{
	switch (ctl_cmd) {
	case 0: case CMD_WRITE_CTR: case CMD_WRITE_OUTP: case CMD_WRITE_KBD_OUT:
	case CMD_WRITE_AUX_OUT: case CMD_WRITE_AUX: case CMD_WRITE_MODE:
		break;
	default:
		return 0;
	}
	return kbd_cmd == 0 || kbd_cmd == KBD_SET_LEDS || kbd_cmd == KBD_SCANCODE || kbd_cmd == KBD_SET_RATE;
}

int i8042_restore(struct i8042 *dev, const struct i8042_state *st)
{
	struct i8042_state copy = *st; /* validate the copy we will use */

	if (copy.buf_head >= I8042_BUF_SIZE || copy.buf_count > I8042_BUF_SIZE ||
	    (copy.status & ~STS_LATCHED) || !cmd_valid(copy.ctl_cmd, copy.kbd_cmd))
		return -EINVAL;
	pthread_mutex_lock(&dev->lock);
	dev->st = copy;
	kbd_irq(dev);
	pthread_mutex_unlock(&dev->lock);
	return 0;
}
