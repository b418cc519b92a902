/* clock.c - monotonic and wall clocks, and ISO 8601 formatting. */
#define _POSIX_C_SOURCE 200809L
#include "clock.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

uint64_t tarn_clock_mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int64_t tarn_clock_wall_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

char *tarn_time_iso8601(int64_t epoch_us, int frac_digits, char *dst, size_t dstlen) {
  int64_t secs = epoch_us / 1000000;
  int64_t frac = epoch_us % 1000000;
  time_t t;
  struct tm tm;
  char base[32];
  if (frac < 0) { /* floor division for instants before 1970 */
    frac += 1000000;
    secs -= 1;
  }
  t = (time_t)secs;
  gmtime_r(&t, &tm);
  strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
  if (frac_digits == 3)
    snprintf(dst, dstlen, "%s.%03dZ", base, (int)(frac / 1000));
  else if (frac_digits == 6)
    snprintf(dst, dstlen, "%s.%06dZ", base, (int)frac);
  else
    snprintf(dst, dstlen, "%sZ", base);
  return dst;
}

void tarn_sleep_ms(uint64_t ms) {
  struct timespec req, rem;
  req.tv_sec = (time_t)(ms / 1000);
  req.tv_nsec = (long)(ms % 1000) * 1000000L;
  while (nanosleep(&req, &rem) != 0 && errno == EINTR)
    req = rem;
}
