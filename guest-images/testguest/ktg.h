/*
 * The kiln test guest: declarations shared by its files.  Every output line
 * starts with "KTG: " and is part of the contract in README.md.
 */
#ifndef KTG_H
#define KTG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "guest-images/testguest/arch.h"

#define KTG_CMDLINE_MAX 4096 /* kiln's LAYOUT_CMDLINE_MAX */

/* lib.c: gcc may emit calls to these, so they keep their standard names. */
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* console.c: the 8250 at 0x3f8, one lock for all CPUs, one line per call. */
void console_lock(void);
void console_unlock(void);
void console_lock_break(void); /* panic path: the lock holder may be us */
void console_puts_locked(const char *s);
void console_printf_locked(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ktg_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* cmdline.c: space-separated key=value tokens; the last occurrence wins. */
int cmdline_get(const char *cmdline, const char *key, const char **val, size_t *len);
int cmdline_is(const char *cmdline, const char *key, const char *want);
int cmdline_next(const char **pos, const char *key, const char **val, size_t *len);

/* startinfo.c: copies the command line out and prints the start-info lines. */
void start_info_report(uint32_t paddr, char cmdline[KTG_CMDLINE_MAX]);

/* mptable.c */
struct ktg_mp {
	unsigned int ncpus;                /* enabled processor entries */
	unsigned int nids;                 /* ids stored (min(ncpus, KTG_MAX_CPUS)) */
	uint8_t apic_id[KTG_MAX_CPUS];
	int have_ioapic;
	uint32_t ioapic;
};
int mptable_parse(struct ktg_mp *mp, const char **why);

/* smp.c: each AP runs work(cpu), cpu = 1, 2, ... in the order they came
 * online, unless work is NULL, then parks.  smp_aps_online() counts the APs
 * that have reported in so far (each will run work). */
typedef void (*ktg_ap_work_fn)(unsigned int cpu);
void smp_start(const struct ktg_mp *mp, ktg_ap_work_fn work);
uint32_t smp_aps_online(void);
void ktg_ap_main(void) __attribute__((noreturn)); /* head.S calls it on each AP */
/* Pause iterations the BSP waits for all APs (to come online, to stop).
 * Generous: on a host that emulates guest kernel code at ~1 M instructions/s
 * this is several seconds. */
#define KTG_AP_WAIT_SPINS 4000000

/* traps.c */
struct exc_frame {
	uint64_t vec, err, rip, cs, rflags, rsp, ss;
};
void traps_init(void);
void traps_load(void);
void ktg_exception(struct exc_frame *f) __attribute__((noreturn)); /* from traps.S */

/* syscall.c */
void syscall_selftest(void);
extern volatile int ktg_user_active; /* exceptions go back to the selftest */
void syscall_user_fault(const struct exc_frame *f) __attribute__((noreturn));

/* virtio.c: probes the virtio_mmio.device= devices, drives block devices. */
void virtio_report(const char *cmdline);

/* hostile.c: hostile=<iterations> seed=<n> hostile_dev=<index> hostile_smp=1,
 * see README.md.  With hostile_smp_wanted(), smp_start() is given
 * hostile_ap_main, which waits for hostile_run(). */
void hostile_run(const char *cmdline);
int hostile_smp_wanted(const char *cmdline);
void hostile_ap_main(unsigned int cpu);

/* main.c */
void ktg_main(uint32_t start_info) __attribute__((noreturn)); /* from head.S */
void ktg_exit_reset(void) __attribute__((noreturn));

/* Assembly symbols (head.S, trampoline.S, traps.S). */
extern uint64_t ktg_pml4[512], ktg_pdpt[512], ktg_pd[4 * 512];
extern uint64_t ktg_gdt[];
extern const uint8_t ktg_trampoline_start[], ktg_trampoline_end[];
extern const uint8_t ktg_exc_stubs[];
extern const uint8_t ktg_user_entry[], ktg_user_end[];
extern uint8_t ktg_user_stack_top[];
extern uint8_t ktg_kstack_top[];
void ktg_syscall_entry(void);
long ktg_user_run(uint64_t rip, uint64_t rsp);
void ktg_user_leave(long val) __attribute__((noreturn));
extern uint32_t ktg_ap_ticket;

#endif
