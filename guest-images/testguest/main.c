/*
 * The kiln test guest: boots through PVH, reports what the monitor gave it
 * (command line, memory map, MP table), optionally starts the APs and runs a
 * selftest, pokes the boot timer and leaves the way the command line asks.
 * The output lines are a contract: see README.md.
 */
#include "guest-images/testguest/hw.h"
#include "guest-images/testguest/ktg.h"
#include "guest-images/testguest/virtio_drv.h"
#include "vmm/boot/layout.h"

#define I8042_STATUS    0x64
#define I8042_COMMAND   0x64
#define I8042_IBF       0x02
#define I8042_RESET     0xfe
#define I8042_POLL_MAX  10000
#define BOOT_TIMER_MAGIC 123
#define BAD_IO_PORT     0x1234
#define BAD_IO_MMIO     0xd0000000ULL

enum exit_mode { EXIT_RESET, EXIT_HALT, EXIT_TRIPLE, EXIT_BAD_IO };

static char cmdline[KTG_CMDLINE_MAX];
static struct ktg_mp mp;

void ktg_exit_reset(void)
{
	unsigned int i;

	for (i = 0; i < I8042_POLL_MAX && (inb(I8042_STATUS) & I8042_IBF); i++)
		cpu_pause();
	outb(I8042_COMMAND, I8042_RESET);
	cpu_halt_forever();
}

static __attribute__((noreturn)) void exit_triple(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) empty = { 0, 0 };

	/* #UD finds no gate, nor does the #GP, nor the #DF: shutdown. */
	__asm__ volatile("lidt %0; ud2" : : "m"(empty));
	cpu_halt_forever();
}

static void exit_bad_io(void)
{
	uint32_t v;

	outb(BAD_IO_PORT, 0xa5);
	v = mmio_read32(BAD_IO_MMIO);
	ktg_printf("KTG: bad-io survived port=0x%x mmio=0x%lx read=0x%x\n", BAD_IO_PORT,
		   (uint64_t)BAD_IO_MMIO, v);
}

static void print_value_error(const char *key)
{
	const char *val;
	size_t len, i;

	if (!cmdline_get(cmdline, key, &val, &len))
		return;
	console_lock();
	console_printf_locked("KTG: cmdline error %s=", key);
	for (i = 0; i < len; i++)
		console_printf_locked("%c", val[i]);
	console_puts_locked(" unknown\n");
	console_unlock();
}

static enum exit_mode exit_mode_get(void)
{
	const char *val;
	size_t len;

	if (!cmdline_get(cmdline, "exit", &val, &len) || cmdline_is(cmdline, "exit", "reset"))
		return EXIT_RESET;
	if (cmdline_is(cmdline, "exit", "halt"))
		return EXIT_HALT;
	if (cmdline_is(cmdline, "exit", "triple"))
		return EXIT_TRIPLE;
	if (cmdline_is(cmdline, "exit", "bad-io"))
		return EXIT_BAD_IO;
	print_value_error("exit");
	return EXIT_RESET;
}

static int mptable_report(void)
{
	const char *why = "";

	if (mptable_parse(&mp, &why)) {
		ktg_printf("KTG: mptable error %s\n", why);
		return -1;
	}
	if (mp.have_ioapic)
		ktg_printf("KTG: mptable cpus=%u ioapic=0x%x\n", mp.ncpus, mp.ioapic);
	else
		ktg_printf("KTG: mptable cpus=%u ioapic=none\n", mp.ncpus);
	return 0;
}

/* What CPUID says: lets tests check the VMM's CPUID table reaches the guest. */
static void cpuid_report(void)
{
	uint32_t a, b, c, d, a7, b7, c7, d7, ka, kb, kc, kd;

	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
	__asm__ volatile("cpuid" : "=a"(a7), "=b"(b7), "=c"(c7), "=d"(d7) : "a"(7), "c"(0));
	__asm__ volatile("cpuid" : "=a"(ka), "=b"(kb), "=c"(kc), "=d"(kd) : "a"(0x40000001), "c"(0));
	ktg_printf("KTG: cpuid 1 ebx=0x%x ecx=0x%x edx=0x%x 7 ebx=0x%x ecx=0x%x kvm eax=0x%x\n", b, c, d, b7,
		   c7, ka);
}

/* tick.c: tick=1, see README.md. */
void tick_run(const char *cmdline);

void ktg_main(uint32_t start_info)
{
	enum exit_mode exit_mode;
	int have_mp;

	traps_init();
	ktg_printf("KTG: hello\n");
	cpuid_report();
	start_info_report(start_info, cmdline);
	exit_mode = exit_mode_get();

	have_mp = !mptable_report();
	if (cmdline_is(cmdline, "smp", "1")) {
		if (have_mp)
			smp_start(&mp, hostile_smp_wanted(cmdline) ? hostile_ap_main : NULL);
		else
			ktg_printf("KTG: smp error no-mptable\n");
	}

	mmio_write8(LAYOUT_BOOT_TIMER, BOOT_TIMER_MAGIC);
	ktg_printf("KTG: boot-timer poked\n");

	hostile_run(cmdline); /* only with hostile=<iterations> */

	if (cmdline_is(cmdline, "virtio", "1"))
		virtio_report(cmdline);
	/* The device drivers (virtio_drv.h), each only with its key=1. */
	if (cmdline_is(cmdline, "rng", "1"))
		rng_test(cmdline);
	if (cmdline_is(cmdline, "net", "1"))
		net_test(cmdline);
	if (cmdline_is(cmdline, "vsock", "1"))
		vsock_test(cmdline);
	if (cmdline_is(cmdline, "balloon", "1"))
		balloon_test(cmdline);

	tick_run(cmdline); /* only with tick=1 (tick.c) */

	if (cmdline_is(cmdline, "selftest", "syscall"))
		syscall_selftest();
	else
		print_value_error("selftest");

	if (exit_mode == EXIT_BAD_IO)
		exit_bad_io();
	ktg_printf("KTG: done\n");
	switch (exit_mode) {
	case EXIT_HALT:
		cpu_halt_forever();
	case EXIT_TRIPLE:
		exit_triple();
	default:
		ktg_exit_reset();
	}
}
