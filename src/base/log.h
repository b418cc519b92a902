/* log.h - one line per event, logfmt: ts=... level=... msg=... key=value. */
#ifndef TARN_BASE_LOG_H
#define TARN_BASE_LOG_H

#include <stdarg.h>
#include <stdio.h>

typedef enum tarn_log_level {
  TARN_LOG_DEBUG = 0,
  TARN_LOG_INFO = 1,
  TARN_LOG_WARN = 2,
  TARN_LOG_ERROR = 3,
} tarn_log_level;

/* Parses "debug", "info", "warn", "error"; -1 when unknown. */
int tarn_log_level_parse(const char *s);
const char *tarn_log_level_name(int level);

void tarn_log_set_level(int level);
int tarn_log_get_level(void);
/* Where lines go (default stderr). Tests point this at a memstream. Not thread-safe
 * against concurrent logging: set it before starting threads. */
void tarn_log_set_stream(FILE *f);

/*
 * Logs one line: `ts=<ISO 8601 UTC> level=<level> msg=<msg> <fields>`.
 * `fields` is a printf-like format of space-separated key=value pairs, e.g.
 * "listen=%s port=%d". Every %s value is written logfmt-quoted when it needs to be
 * (spaces, quotes, '=', control characters, empty), so values never break a line
 * apart. Supported conversions: %s %d %i %u %x %ld %lu %lld %llu %zu %zd %f %g %e %c
 * %p %%, with flags, width and precision (including %.*s). fields may be NULL.
 * Thread-safe: each line is written with one locked call.
 */
void tarn_log(int level, const char *msg, const char *fields, ...)
    __attribute__((format(printf, 3, 4)));
void tarn_vlog(int level, const char *msg, const char *fields, va_list ap);

#define tarn_log_debug(...) tarn_log(TARN_LOG_DEBUG, __VA_ARGS__)
#define tarn_log_info(...) tarn_log(TARN_LOG_INFO, __VA_ARGS__)
#define tarn_log_warn(...) tarn_log(TARN_LOG_WARN, __VA_ARGS__)
#define tarn_log_error(...) tarn_log(TARN_LOG_ERROR, __VA_ARGS__)

/* Formats like tarn_log's fields (with logfmt quoting of %s) into dst; for tests and
 * for callers that build a line themselves. Returns the length written (truncated to
 * dstlen - 1). */
size_t tarn_log_format_fields(char *dst, size_t dstlen, const char *fields, va_list ap);

#endif
