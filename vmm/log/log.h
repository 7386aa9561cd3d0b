/*
 * kiln's logger: one line per event, "<timestamp> [kiln:<thread>] [<LEVEL>] [<file:line>] msg".
 *
 * The sink and filters are process-wide (a log file is a process property, as
 * in Firecracker), kept in one struct that log_reset() puts back to defaults so
 * tests and fuzz targets start clean.  Lines are written with one write(2) each,
 * so threads do not interleave within a line.
 */
#ifndef KILN_LOG_H
#define KILN_LOG_H

#include <stdarg.h>

enum log_level { LOG_LEVEL_OFF = 0, LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG, LOG_LEVEL_TRACE };

/* Defaults: stderr, level Info (kiln's default, like Firecracker's), show level
 * and origin off. */
void log_reset(void);

/* Sends lines to fd (the logger takes ownership and closes it on the next
 * log_set_fd or log_reset, unless fd is 1 or 2). */
void log_set_fd(int fd);
void log_set_level(enum log_level level);
void log_set_show(int show_level, int show_origin);
enum log_level log_get_level(void);

/* Parses "Error", "Warning", "Info", "Debug", "Trace", "Off" (case-insensitive,
 * also "warn").  -1 when unknown. */
int log_level_parse(const char *name);

/* Names the calling thread in log lines ("vmm", "api", "vcpu0", ...). */
void log_set_thread_name(const char *name);

void log_msg(enum log_level level, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define LOG_ERR(...)   log_msg(LOG_LEVEL_ERROR, __FILE__, __LINE__, __VA_ARGS__)
#define LOG_WARN(...)  log_msg(LOG_LEVEL_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define LOG_INFO(...)  log_msg(LOG_LEVEL_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define LOG_DEBUG(...) log_msg(LOG_LEVEL_DEBUG, __FILE__, __LINE__, __VA_ARGS__)

#endif
