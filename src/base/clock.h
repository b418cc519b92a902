/* clock.h - monotonic and wall clocks, and ISO 8601 formatting. */
#ifndef TARN_BASE_CLOCK_H
#define TARN_BASE_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Nanoseconds from an arbitrary fixed point; never goes backwards. For durations. */
uint64_t tarn_clock_mono_ns(void);
/* Microseconds since the Unix epoch (UTC). For timestamps users read. */
int64_t tarn_clock_wall_us(void);

/* Needs TARN_TIME_ISO_MAX bytes: "2026-11-21T15:22:51.123456Z". */
#define TARN_TIME_ISO_MAX 40
/* Formats epoch microseconds as UTC ISO 8601 with `frac_digits` (0, 3 or 6) fraction
 * digits. Returns dst. */
char *tarn_time_iso8601(int64_t epoch_us, int frac_digits, char *dst, size_t dstlen);

/* Sleeps for ms milliseconds (restarts after signals). */
void tarn_sleep_ms(uint64_t ms);

#endif
