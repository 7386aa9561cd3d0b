/* Line logger; see log.h. */
#include "vmm/log/log.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

struct log_config {
	int fd;
	enum log_level level;
	int show_level;
	int show_origin;
};

static const struct log_config log_defaults = { .fd = 2, .level = LOG_LEVEL_INFO };
static struct log_config log_cfg = { .fd = 2, .level = LOG_LEVEL_INFO };
static __thread char log_thread[16] = "main";

static void log_close_fd(void)
{
	if (log_cfg.fd > 2)
		close(log_cfg.fd);
}

void log_reset(void)
{
	log_close_fd();
	log_cfg = log_defaults;
}

void log_set_fd(int fd)
{
	log_close_fd();
	log_cfg.fd = fd;
}

void log_set_level(enum log_level level)
{
	log_cfg.level = level;
}

enum log_level log_get_level(void)
{
	return log_cfg.level;
}

void log_set_show(int show_level, int show_origin)
{
	log_cfg.show_level = show_level;
	log_cfg.show_origin = show_origin;
}

int log_level_parse(const char *name)
{
	static const struct { const char *name; enum log_level level; } names[] = {
		{ "off", LOG_LEVEL_OFF },   { "error", LOG_LEVEL_ERROR }, { "warning", LOG_LEVEL_WARN },
		{ "warn", LOG_LEVEL_WARN }, { "info", LOG_LEVEL_INFO },   { "debug", LOG_LEVEL_DEBUG },
		{ "trace", LOG_LEVEL_TRACE },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcasecmp(name, names[i].name))
			return names[i].level;
	return -1;
}

void log_set_thread_name(const char *name)
{
	snprintf(log_thread, sizeof(log_thread), "%s", name);
}

static const char *level_name(enum log_level level)
{
	switch (level) {
	case LOG_LEVEL_ERROR: return "ERROR";
	case LOG_LEVEL_WARN: return "WARN";
	case LOG_LEVEL_INFO: return "INFO";
	case LOG_LEVEL_DEBUG: return "DEBUG";
	default: return "TRACE";
	}
}

void log_msg(enum log_level level, const char *file, int line, const char *fmt, ...)
{
	char buf[1024];
	struct timespec ts;
	struct tm tm;
	size_t n;
	va_list ap;

	if (level == LOG_LEVEL_OFF || level > log_cfg.level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	n += snprintf(buf + n, sizeof(buf) - n, ".%09ld [kiln:%s]", ts.tv_nsec, log_thread);
	if (log_cfg.show_level && n < sizeof(buf))
		n += snprintf(buf + n, sizeof(buf) - n, " [%s]", level_name(level));
	if (log_cfg.show_origin && n < sizeof(buf)) {
		const char *base = strrchr(file, '/');
		n += snprintf(buf + n, sizeof(buf) - n, " [%s:%d]", base ? base + 1 : file, line);
	}
	if (n < sizeof(buf) - 1) {
		buf[n++] = ' ';
		va_start(ap, fmt);
		n += vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
		va_end(ap);
	}
	if (n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(log_cfg.fd, buf, n) < 0) {
		/* Nowhere left to report a failing log sink. */
	}
}
