/*
 * An interrupt line as a device sees it: the device raises or lowers its
 * level; the VMM decides how that reaches the guest (KVM_IRQ_LINE, an irqfd, or
 * a recording fake in tests).  Devices never call KVM.
 */
#ifndef KILN_IRQ_LINE_H
#define KILN_IRQ_LINE_H

struct irq_line {
	void (*set_level)(void *opaque, unsigned int gsi, int level);
	void *opaque;
	unsigned int gsi;
};

static inline void irq_line_set(const struct irq_line *irq, int level)
{
	if (irq && irq->set_level)
		irq->set_level(irq->opaque, irq->gsi, level);
}

/* An edge: raise then lower (for edge-triggered lines). */
static inline void irq_line_pulse(const struct irq_line *irq)
{
	irq_line_set(irq, 1);
	irq_line_set(irq, 0);
}

#endif
