/* Boot-time device; see boot_timer.h. */
#include "devices/legacy/boot_timer.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "vmm/log/log.h"
#include "vmm/probe.h"

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Elapsed microseconds; a clock that reads before the start gives 0, not a
 * wrapped huge number. */
static uint64_t since_us(uint64_t now_ns, uint64_t start_ns)
{
	return now_ns > start_ns ? (now_ns - start_ns) / 1000 : 0;
}

static void boot_timer_bus_read(void *opaque, uint64_t offset, void *data, uint32_t len)
{
	memset(data, 0, len);
}

static void boot_timer_bus_write(void *opaque, uint64_t offset, const void *data, uint32_t len)
{
	struct boot_timer *bt = opaque;
	struct boot_timer_state st;
	boot_timer_hook_fn hook;
	void *hook_opaque;
	uint64_t mono, cpu;

	if (offset != 0 || len < 1 || *(const uint8_t *)data != BOOT_TIMER_MAGIC)
		return;
	/* Read the clocks first so the lock and the log do not count. */
	mono = clock_ns(CLOCK_MONOTONIC);
	cpu = clock_ns(CLOCK_PROCESS_CPUTIME_ID);

	pthread_mutex_lock(&bt->lock);
	bt->st.boot_us = since_us(mono, bt->start_mono_ns);
	bt->st.boot_cpu_us = since_us(cpu, bt->start_cpu_ns);
	bt->st.writes++;
	st = bt->st;
	hook = bt->hook;
	hook_opaque = bt->hook_opaque;
	pthread_mutex_unlock(&bt->lock);
	KILN_PROBE(boot_timer, st.boot_us);

	LOG_INFO("Guest-boot-time = %" PRIu64 " us %" PRIu64 " ms, %" PRIu64 " CPU us %" PRIu64 " CPU ms",
		 st.boot_us, st.boot_us / 1000, st.boot_cpu_us, st.boot_cpu_us / 1000);
	if (hook)
		hook(hook_opaque, &st);
}

const struct bus_dev_ops boot_timer_bus_ops = {
	.read = boot_timer_bus_read,
	.write = boot_timer_bus_write,
};

int boot_timer_init(struct boot_timer *bt, uint64_t start_mono_ns, uint64_t start_cpu_ns)
{
	int ret;

	memset(bt, 0, sizeof(*bt));
	ret = pthread_mutex_init(&bt->lock, NULL);
	if (ret)
		return -ret;
	bt->start_mono_ns = start_mono_ns;
	bt->start_cpu_ns = start_cpu_ns;
	return 0;
}

void boot_timer_destroy(struct boot_timer *bt)
{
	pthread_mutex_destroy(&bt->lock);
}

void boot_timer_set_hook(struct boot_timer *bt, boot_timer_hook_fn hook, void *opaque)
{
	pthread_mutex_lock(&bt->lock);
	bt->hook = hook;
	bt->hook_opaque = opaque;
	pthread_mutex_unlock(&bt->lock);
}

void boot_timer_get(struct boot_timer *bt, struct boot_timer_state *st)
{
	pthread_mutex_lock(&bt->lock);
	*st = bt->st;
	pthread_mutex_unlock(&bt->lock);
}

void boot_timer_save(struct boot_timer *bt, struct boot_timer_state *st)
{
	boot_timer_get(bt, st);
}

int boot_timer_restore(struct boot_timer *bt, const struct boot_timer_state *st)
{
	struct boot_timer_state copy = *st;

	if (!copy.writes && (copy.boot_us || copy.boot_cpu_us))
		return -EINVAL;
	pthread_mutex_lock(&bt->lock);
	bt->st = copy;
	pthread_mutex_unlock(&bt->lock);
	return 0;
}
