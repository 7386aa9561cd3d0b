/*
 * Serial output: poll LSR.THRE, write THR.  All CPUs share one spinlock so a
 * line is never interleaved with another CPU's.
 */
#include "guest-images/testguest/hw.h"
#include "guest-images/testguest/ktg.h"
#include "vmm/boot/layout.h"

#define UART_THR 0
#define UART_LSR 5
#define UART_LSR_THRE 0x20
#define UART_POLL_MAX 100000 /* then write anyway: a stuck LSR must not hang us */

static uint32_t console_lock_word;

void console_lock(void)
{
	while (__atomic_exchange_n(&console_lock_word, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&console_lock_word, __ATOMIC_RELAXED))
			cpu_pause();
}

void console_unlock(void)
{
	__atomic_store_n(&console_lock_word, 0, __ATOMIC_RELEASE);
}

void console_lock_break(void)
{
	__atomic_store_n(&console_lock_word, 1, __ATOMIC_SEQ_CST);
}

static void console_putc(char c)
{
	unsigned int i;

	for (i = 0; i < UART_POLL_MAX && !(inb(LAYOUT_PIO_COM1 + UART_LSR) & UART_LSR_THRE); i++)
		cpu_pause();
	outb(LAYOUT_PIO_COM1 + UART_THR, (uint8_t)c);
}

void console_puts_locked(const char *s)
{
	while (*s)
		console_putc(*s++);
}

static void console_put_u64(uint64_t v, unsigned int base)
{
	char buf[20];
	int n = 0;

	do {
		buf[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (n)
		console_putc(buf[--n]);
}

/* %s %c %d %u %x, with an optional l for 64-bit; nothing else. */
static void console_vprintf_locked(const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		int wide = 0;
		int64_t sv;

		if (*fmt != '%') {
			console_putc(*fmt);
			continue;
		}
		if (*++fmt == 'l') {
			wide = 1;
			fmt++;
		}
		switch (*fmt) {
		case 's':
			console_puts_locked(va_arg(ap, const char *));
			break;
		case 'c':
			console_putc((char)va_arg(ap, int));
			break;
		case 'd':
			sv = wide ? va_arg(ap, int64_t) : va_arg(ap, int);
			if (sv < 0) {
				console_putc('-');
				console_put_u64(-(uint64_t)sv, 10);
			} else {
				console_put_u64((uint64_t)sv, 10);
			}
			break;
		case 'u':
			console_put_u64(wide ? va_arg(ap, uint64_t) : va_arg(ap, unsigned int), 10);
			break;
		case 'x':
			console_put_u64(wide ? va_arg(ap, uint64_t) : va_arg(ap, unsigned int), 16);
			break;
		case '\0':
			return;
		default:
			console_putc(*fmt);
			break;
		}
	}
}

void console_printf_locked(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	console_vprintf_locked(fmt, ap);
	va_end(ap);
}

void ktg_printf(const char *fmt, ...)
{
	va_list ap;

	console_lock();
	va_start(ap, fmt);
	console_vprintf_locked(fmt, ap);
	va_end(ap);
	console_unlock();
}
