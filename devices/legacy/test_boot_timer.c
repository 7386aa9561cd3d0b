/* Unit tests for the boot-time device: the exact log line, what is ignored,
 * the hook, snapshots and odd accesses. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "devices/legacy/boot_timer.h"
#include "vmm/log/log.h"

static struct boot_timer bt;
static int log_rd = -1;

static uint64_t now_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Started 2.5 s (wall) ago and at process CPU time 0, logging into a pipe. */
static void setup(void)
{
	int fds[2];

	cr_assert_eq(pipe2(fds, O_NONBLOCK), 0);
	log_rd = fds[0];
	log_set_fd(fds[1]);
	cr_assert_eq(boot_timer_init(&bt, now_ns(CLOCK_MONOTONIC) - 2500000000ULL, 0), 0);
}

static void teardown(void)
{
	boot_timer_destroy(&bt);
	log_reset();
	close(log_rd);
}

TestSuite(boot_timer, .init = setup, .fini = teardown);

static void wr(uint64_t offset, const void *data, uint32_t len)
{
	boot_timer_bus_ops.write(&bt, offset, data, len);
}

static void signal_boot(void)
{
	uint8_t b = BOOT_TIMER_MAGIC;

	wr(0, &b, 1);
}

static size_t read_log(char *buf, size_t size)
{
	ssize_t n = read(log_rd, buf, size - 1);

	buf[n > 0 ? n : 0] = '\0';
	return n > 0 ? (size_t)n : 0;
}

Test(boot_timer, logs_the_line_and_records_it)
{
	char buf[512], want[256];
	uint64_t us, ms, cpu_us, cpu_ms;
	struct boot_timer_state st;
	const char *msg;

	signal_boot();
	cr_assert_gt(read_log(buf, sizeof(buf)), 0);
	msg = strstr(buf, "] Guest-boot-time = ");
	cr_assert_not_null(msg, "got: %s", buf);
	msg += 2;
	cr_assert_eq(sscanf(msg, "Guest-boot-time = %" SCNu64 " us %" SCNu64 " ms, %" SCNu64 " CPU us %" SCNu64 " CPU ms",
			    &us, &ms, &cpu_us, &cpu_ms), 4, "got: %s", msg);
	snprintf(want, sizeof(want), "Guest-boot-time = %" PRIu64 " us %" PRIu64 " ms, %" PRIu64 " CPU us %" PRIu64 " CPU ms\n",
		 us, ms, cpu_us, cpu_ms);
	cr_assert_str_eq(msg, want, "exactly one line in that format");
	cr_assert_geq(us, 2500000);
	cr_assert_lt(us, 2500000 + 60000000);
	cr_assert_eq(ms, us / 1000);
	cr_assert_gt(cpu_us, 0, "this process has run");
	cr_assert_leq(cpu_us * 1000, now_ns(CLOCK_PROCESS_CPUTIME_ID));
	cr_assert_eq(cpu_ms, cpu_us / 1000);

	boot_timer_get(&bt, &st);
	cr_assert_eq(st.boot_us, us);
	cr_assert_eq(st.boot_cpu_us, cpu_us);
	cr_assert_eq(st.writes, 1);

	signal_boot();
	boot_timer_get(&bt, &st);
	cr_assert_eq(st.writes, 2, "every signal counts and logs");
	cr_assert_geq(st.boot_us, us);
	cr_assert_gt(read_log(buf, sizeof(buf)), 0);
}

Test(boot_timer, ignores_other_writes)
{
	char buf[256];
	struct boot_timer_state st;
	uint8_t b122 = 122, b123 = BOOT_TIMER_MAGIC;
	uint16_t first_zero = 0x7b00;

	wr(0, &b122, 1);
	wr(1, &b123, 1);
	wr(0x800, &b123, 1);
	wr(0xfff, &b123, 1);
	wr(UINT64_MAX, &b123, 1);
	wr(0, &b123, 0);
	wr(0, &first_zero, 2);
	cr_assert_eq(read_log(buf, sizeof(buf)), 0, "logged: %s", buf);
	boot_timer_get(&bt, &st);
	cr_assert_eq(st.writes, 0);
	cr_assert_eq(st.boot_us, 0);
}

Test(boot_timer, any_width_with_first_byte_123)
{
	uint32_t v32 = 0xffffff7b;
	uint64_t v64 = 0x7b;
	struct boot_timer_state st;

	wr(0, &v32, 4);
	wr(0, &v64, 8);
	boot_timer_get(&bt, &st);
	cr_assert_eq(st.writes, 2);
}

Test(boot_timer, reads_return_zero)
{
	static const uint64_t offsets[] = { 0, 1, 0x7fc, 0xff8, 0xfff, UINT64_MAX };
	uint8_t buf[16];

	for (unsigned int o = 0; o < sizeof(offsets) / sizeof(offsets[0]); o++) {
		for (uint32_t len = 0; len <= 8; len++) {
			memset(buf, 0xcc, sizeof(buf));
			boot_timer_bus_ops.read(&bt, offsets[o], buf, len);
			for (unsigned int i = 0; i < sizeof(buf); i++)
				cr_assert_eq(buf[i], i < len ? 0 : 0xcc);
		}
	}
}

static struct boot_timer_state hook_seen;
static unsigned int hook_calls;

static void hook(void *opaque, const struct boot_timer_state *st)
{
	cr_assert_eq(opaque, &hook_calls);
	hook_seen = *st;
	hook_calls++;
	boot_timer_get(&bt, &hook_seen); /* no lock held: must not deadlock */
}

Test(boot_timer, hook_sees_the_event)
{
	boot_timer_set_hook(&bt, hook, &hook_calls);
	signal_boot();
	cr_assert_eq(hook_calls, 1);
	cr_assert_eq(hook_seen.writes, 1);
	cr_assert_geq(hook_seen.boot_us, 2500000);
	boot_timer_set_hook(&bt, NULL, NULL);
	signal_boot();
	cr_assert_eq(hook_calls, 1);
}

Test(boot_timer, start_in_the_future_does_not_wrap)
{
	struct boot_timer t;
	struct boot_timer_state st;
	uint8_t b = BOOT_TIMER_MAGIC;

	cr_assert_eq(boot_timer_init(&t, UINT64_MAX, UINT64_MAX), 0);
	boot_timer_bus_ops.write(&t, 0, &b, 1);
	boot_timer_get(&t, &st);
	cr_assert_eq(st.boot_us, 0);
	cr_assert_eq(st.boot_cpu_us, 0);
	cr_assert_eq(st.writes, 1);
	boot_timer_destroy(&t);
}

Test(boot_timer, save_restore)
{
	struct boot_timer_state st, st2, bad = { .boot_us = 5, .writes = 0 };
	struct boot_timer t;

	signal_boot();
	boot_timer_save(&bt, &st);
	cr_assert_eq(boot_timer_init(&t, 0, 0), 0);
	cr_assert_eq(boot_timer_restore(&t, &st), 0);
	boot_timer_save(&t, &st2);
	cr_assert_eq(memcmp(&st, &st2, sizeof(st)), 0);
	cr_assert_eq(boot_timer_restore(&t, &bad), -EINVAL, "a boot time without a signal");
	bad = (struct boot_timer_state){ .boot_cpu_us = 1 };
	cr_assert_eq(boot_timer_restore(&t, &bad), -EINVAL);
	boot_timer_save(&t, &st2);
	cr_assert_eq(memcmp(&st, &st2, sizeof(st)), 0, "device untouched");
	boot_timer_destroy(&t);
}
