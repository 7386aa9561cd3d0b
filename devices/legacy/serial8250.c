/* 16550A UART register file; see serial8250.h. */
#include "devices/legacy/serial8250.h"

#include <errno.h>
#include <string.h>

enum { REG_DATA, REG_IER, REG_IIR_FCR, REG_LCR, REG_MCR, REG_LSR, REG_MSR, REG_SCR };

#define LCR_DLAB 0x80

#define IER_RDI  0x01 /* received data available */
#define IER_THRI 0x02 /* THR empty */
#define IER_RLSI 0x04 /* receiver line status */
#define IER_MSI  0x08 /* modem status */
#define IER_MASK 0x0f /* upper bits read 0 on a 16550A; Linux's IER test relies on it */

#define IIR_MSI     0x00
#define IIR_NO_INT  0x01
#define IIR_THRI    0x02
#define IIR_RDI     0x04
#define IIR_RLSI    0x06
#define IIR_FIFO_ON 0xc0 /* "16550A with working FIFOs"; never bit 5 (that would be a 16750) */

#define FCR_ENABLE   0x01
#define FCR_CLEAR_RX 0x02
#define FCR_KEEP     0xc9 /* enable, DMA mode, RX trigger; bits 1-2 self-clear */

#define MCR_DTR  0x01
#define MCR_RTS  0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR   0x01
#define LSR_OE   0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_CTS  0x10
#define MSR_DSR  0x20
#define MSR_RI   0x40
#define MSR_DCD  0x80
#define MSR_DELTAS 0x0f

#define DEFAULT_DIVISOR 12 /* 9600 baud, what a PC BIOS leaves */

/* Input lines.  Outside loopback the "cable" always asserts carrier, DSR and
 * CTS (Linux wants carrier before it treats the console as up).  In loopback
 * the outputs are wired back: RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD, which is
 * what the 8250 autoconfig LOOP test checks (MCR 0x1a must give MSR 0x90). */
static uint8_t msr_lines(uint8_t mcr)
{
	if (!(mcr & MCR_LOOP))
		return MSR_DCD | MSR_DSR | MSR_CTS;
	return (mcr & MCR_RTS ? MSR_CTS : 0) | (mcr & MCR_DTR ? MSR_DSR : 0) |
	       (mcr & MCR_OUT1 ? MSR_RI : 0) | (mcr & MCR_OUT2 ? MSR_DCD : 0);
}

static uint8_t msr_deltas(uint8_t old, uint8_t now)
{
	uint8_t d = old ^ now;

	return (d & MSR_CTS ? MSR_DCTS : 0) | (d & MSR_DSR ? MSR_DDSR : 0) |
	       ((old & MSR_RI) && !(now & MSR_RI) ? MSR_TERI : 0) | (d & MSR_DCD ? MSR_DDCD : 0);
}

/* The highest-priority enabled interrupt source, as IIR bits 0..3. */
static uint8_t iir_id(const struct serial8250_state *st)
{
	if ((st->ier & IER_RLSI) && st->lsr_err)
		return IIR_RLSI;
	if ((st->ier & IER_RDI) && st->rx_count)
		return IIR_RDI;
	if ((st->ier & IER_THRI) && st->thr_pending)
		return IIR_THRI;
	if ((st->ier & IER_MSI) && st->msr_delta)
		return IIR_MSI;
	return IIR_NO_INT;
}

static void update_irq(struct serial8250 *s)
{
	int level = iir_id(&s->st) != IIR_NO_INT;

	if (level != s->irq_level) {
		s->irq_level = level;
		irq_line_set(&s->irq, level);
	}
}

static int fifo_put(struct serial8250_state *st, uint8_t b)
{
	if (st->rx_count >= SERIAL8250_FIFO_SIZE)
		return -ENOSPC;
	st->rx_fifo[(st->rx_head + st->rx_count) % SERIAL8250_FIFO_SIZE] = b;
	st->rx_count++;
	return 0;
}

/* *drained is set when the guest's action left room it may have refused. */
static void fifo_clear(struct serial8250_state *st, int *drained)
{
	if (st->rx_count)
		*drained = 1;
	st->rx_head = 0;
	st->rx_count = 0;
}

static uint8_t read_rbr(struct serial8250 *s, int *drained)
{
	struct serial8250_state *st = &s->st;
	uint8_t b;

	if (!st->rx_count) {
		s->metrics.missed_reads++;
		return 0;
	}
	b = st->rx_fifo[st->rx_head];
	st->rx_head = (st->rx_head + 1) % SERIAL8250_FIFO_SIZE;
	if (--st->rx_count == 0)
		*drained = 1;
	return b;
}

static void write_thr(struct serial8250 *s, uint8_t b)
{
	struct serial8250_state *st = &s->st;

	if (st->mcr & MCR_LOOP) {
		/* The transmitter feeds the receiver; a full FIFO is an overrun. */
		if (fifo_put(st, b)) {
			st->lsr_err |= LSR_OE;
			s->metrics.rx_overruns++;
		}
	} else if (s->ops.out(s->opaque, &b, 1) == 1) {
		s->metrics.tx_bytes++;
	} else {
		s->metrics.tx_dropped++;
	}
	/* The byte left at once, so THR is empty again and interrupts anew. */
	st->thr_pending = !!(st->ier & IER_THRI);
}

static uint8_t reg_read(struct serial8250 *s, unsigned int reg, int *drained)
{
	struct serial8250_state *st = &s->st;
	int dlab = st->lcr & LCR_DLAB;
	uint8_t v;

	switch (reg) {
	case REG_DATA:
		return dlab ? st->dll : read_rbr(s, drained);
	case REG_IER:
		return dlab ? st->dlm : st->ier;
	case REG_IIR_FCR:
		v = iir_id(st);
		/* Reading IIR acknowledges a THR-empty interrupt it reports. */
		if (v == IIR_THRI)
			st->thr_pending = 0;
		return v | (st->fcr & FCR_ENABLE ? IIR_FIFO_ON : 0);
	case REG_LCR:
		return st->lcr;
	case REG_MCR:
		return st->mcr;
	case REG_LSR:
		v = (st->rx_count ? LSR_DR : 0) | st->lsr_err | LSR_THRE | LSR_TEMT;
		st->lsr_err = 0;
		return v;
	case REG_MSR:
		v = msr_lines(st->mcr) | st->msr_delta;
		st->msr_delta = 0;
		return v;
	default:
		return st->scr;
	}
}

static void reg_write(struct serial8250 *s, unsigned int reg, uint8_t v, int *drained)
{
	struct serial8250_state *st = &s->st;
	int dlab = st->lcr & LCR_DLAB;
	uint8_t old;

	switch (reg) {
	case REG_DATA:
		if (dlab)
			st->dll = v;
		else
			write_thr(s, v);
		break;
	case REG_IER:
		if (dlab) {
			st->dlm = v;
			break;
		}
		old = st->ier;
		st->ier = v & IER_MASK;
		/* Enabling THRI while THR is empty interrupts, even if an earlier
		 * one was acknowledged (Linux's startup THRE test checks this). */
		if (!(st->ier & IER_THRI))
			st->thr_pending = 0;
		else if (!(old & IER_THRI))
			st->thr_pending = 1;
		break;
	case REG_IIR_FCR:
		/* Switching FIFO mode on or off clears the FIFOs, as on a 16550A. */
		if (((v ^ st->fcr) & FCR_ENABLE) || (v & FCR_CLEAR_RX))
			fifo_clear(st, drained);
		st->fcr = v & FCR_ENABLE ? v & FCR_KEEP : 0;
		break;
	case REG_LCR:
		st->lcr = v;
		break;
	case REG_MCR:
		old = st->mcr;
		st->mcr = v & MCR_MASK;
		st->msr_delta |= msr_deltas(msr_lines(old), msr_lines(st->mcr));
		if ((old & MCR_LOOP) && !(st->mcr & MCR_LOOP))
			*drained = 1; /* the outside receiver is connected again */
		break;
	case REG_SCR:
		st->scr = v;
		break;
	default:
		break; /* LSR and MSR writes are factory-test only */
	}
}

static void notify_drained(struct serial8250 *s, int drained)
{
	if (drained && s->ops.rx_drained)
		s->ops.rx_drained(s->opaque);
}

static void serial8250_bus_read(void *opaque, uint64_t offset, void *data, uint32_t len)
{
	struct serial8250 *s = opaque;
	uint8_t *out = data;
	int drained = 0;

	pthread_mutex_lock(&s->lock);
	for (uint32_t i = 0; i < len; i++)
		out[i] = offset < SERIAL8250_NR_PORTS && i < SERIAL8250_NR_PORTS - offset ?
				 reg_read(s, offset + i, &drained) : 0xff;
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	notify_drained(s, drained);
}

static void serial8250_bus_write(void *opaque, uint64_t offset, const void *data, uint32_t len)
{
	struct serial8250 *s = opaque;
	const uint8_t *in = data;
	int drained = 0;

	pthread_mutex_lock(&s->lock);
	for (uint32_t i = 0; i < len && offset < SERIAL8250_NR_PORTS && i < SERIAL8250_NR_PORTS - offset; i++)
		reg_write(s, offset + i, in[i], &drained);
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	notify_drained(s, drained);
}

const struct bus_dev_ops serial8250_bus_ops = {
	.read = serial8250_bus_read,
	.write = serial8250_bus_write,
};

int serial8250_init(struct serial8250 *s, const struct serial8250_ops *ops, void *opaque,
		    const struct irq_line *irq)
{
	int ret;

	if (!ops || !ops->out || !irq)
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	ret = pthread_mutex_init(&s->lock, NULL);
	if (ret)
		return -ret;
	s->ops = *ops;
	s->opaque = opaque;
	s->irq = *irq;
	s->st.dll = DEFAULT_DIVISOR;
	return 0;
}

void serial8250_destroy(struct serial8250 *s)
{
	pthread_mutex_destroy(&s->lock);
}

size_t serial8250_rx_push(struct serial8250 *s, const uint8_t *buf, size_t len)
{
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	if (!(s->st.mcr & MCR_LOOP)) {
		while (n < len && !fifo_put(&s->st, buf[n]))
			n++;
		s->metrics.rx_bytes += n;
		update_irq(s);
	}
	pthread_mutex_unlock(&s->lock);
	return n;
}

size_t serial8250_rx_space(struct serial8250 *s)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = s->st.mcr & MCR_LOOP ? 0 : SERIAL8250_FIFO_SIZE - s->st.rx_count;
	pthread_mutex_unlock(&s->lock);
	return n;
}

void serial8250_metrics_get(struct serial8250 *s, struct serial8250_metrics *m)
{
	pthread_mutex_lock(&s->lock);
	*m = s->metrics;
	pthread_mutex_unlock(&s->lock);
}

void serial8250_save(struct serial8250 *s, struct serial8250_state *st)
{
	pthread_mutex_lock(&s->lock);
	*st = s->st;
	pthread_mutex_unlock(&s->lock);
}

static int state_valid(const struct serial8250_state *st)
{
	return st->rx_count <= SERIAL8250_FIFO_SIZE && st->rx_head < SERIAL8250_FIFO_SIZE &&
	       !(st->ier & ~IER_MASK) && !(st->mcr & ~MCR_MASK) && !(st->fcr & ~FCR_KEEP) &&
	       (st->fcr & FCR_ENABLE || !st->fcr) && !(st->lsr_err & ~LSR_OE) &&
	       !(st->msr_delta & ~MSR_DELTAS) &&
	       (st->thr_pending == 0 || (st->thr_pending == 1 && (st->ier & IER_THRI)));
}

int serial8250_restore(struct serial8250 *s, const struct serial8250_state *st)
{
	struct serial8250_state copy = *st; /* validate the copy we will use */

	if (!state_valid(&copy))
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	s->st = copy;
	/* Drive the line unconditionally: the sink may not know our old level. */
	s->irq_level = iir_id(&s->st) != IIR_NO_INT;
	irq_line_set(&s->irq, s->irq_level);
	pthread_mutex_unlock(&s->lock);
	return 0;
}
