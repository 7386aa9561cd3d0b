/*
 * The host terminal behind the serial console: raw mode while the VM runs, so
 * keys reach the guest as typed, and the saved mode put back on every way out
 * (normal exit, error, fatal signal).
 */
#ifndef KILN_CONSOLE_H
#define KILN_CONSOLE_H

/* Puts fd in raw mode if it is a terminal (no-op otherwise) and arranges for
 * console_restore() at exit and on fatal signals.  0 or -errno. */
int console_raw_enter(int fd);

/* Restores the saved mode; idempotent, async-signal-safe. */
void console_restore(void);

#endif
