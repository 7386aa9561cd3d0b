/*
 * USDT probe points: named moments in kiln that an outside tracer (bpftrace,
 * bench/probes/kiln-probe, perf, systemtap) can attach to by binary path and
 * name, provider "kiln":
 *
 *   KILN_PROBE(vm_build_start);
 *   KILN_PROBE(vcpu_first_run, vcpu->id);
 *
 * A marker compiles to one `nop` plus a note in the ELF's .note.stapsdt
 * section that tells the tracer where the nop is and where each argument
 * lives (register or stack slot).  Nothing is called and nothing is tested at
 * run time, so a marker costs nothing measurable while no tracer is attached;
 * the arguments must therefore be cheap expressions that are computed anyway
 * (integers or pointers already in hand), at most 6 of them, never function
 * calls with side effects.  A tracer that attaches turns the nop into a
 * breakpoint (a uprobe): a few microseconds per hit, so markers go on
 * per-request and per-phase paths, not per-instruction ones.
 *
 * Without <sys/sdt.h> (Debian: systemtap-sdt-dev) the markers compile to
 * nothing and kiln-probe reports the USDT probes as missing.
 *
 * The markers kiln has (name: arguments), which bench/probes/kiln.bpf.c and
 * the probe list in bench/probes/README.md must follow:
 *   vm_build_start:         -
 *   vm_build_end:           -
 *   vcpu_first_run:         vcpu id
 *   boot_timer:             guest boot time in us as kiln measured it
 *   virtio_notify_handled:  slot, queue        (VMM thread woke for a queue)
 *   virtio_process_done:    slot, queue        (the device's process() returned)
 *   virtio_irq:             slot, gsi          (interrupt signalled to the guest)
 *   api_socket_ready:       -                  (the API socket accepts requests)
 *   api_request_start:      method, url        (C strings)
 *   api_request_end:        method, url, HTTP status
 */
#ifndef KILN_PROBE_H
#define KILN_PROBE_H

#if defined(__has_include)
#if __has_include(<sys/sdt.h>) && !defined(KILN_NO_PROBES)
#define KILN_HAVE_SDT 1
#endif
#endif

#ifdef KILN_HAVE_SDT
#ifndef SDT_USE_VARIADIC
#define SDT_USE_VARIADIC 1
#endif
#include <sys/sdt.h>
/* STAP_PROBEV picks the arity from the argument count (0 to 12). */
#define KILN_PROBE(name, ...) STAP_PROBEV(kiln, name, ##__VA_ARGS__)
#else
#define KILN_PROBE(name, ...) do { } while (0)
#endif

#endif
