/* test_base_log.c - logfmt lines: shape, quoting, conversions, levels (base/log). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"

/* Capture: each test logs into a fresh memstream. */
static FILE *cap_f;
static char *cap_buf;
static size_t cap_len;

static int cap_setup(void **state) {
  (void)state;
  cap_f = open_memstream(&cap_buf, &cap_len);
  if (cap_f == NULL)
    return -1;
  tarn_log_set_stream(cap_f);
  tarn_log_set_level(TARN_LOG_INFO);
  return 0;
}

static int cap_teardown(void **state) {
  (void)state;
  tarn_log_set_stream(NULL);
  tarn_log_set_level(TARN_LOG_INFO);
  if (cap_f != NULL)
    fclose(cap_f);
  free(cap_buf);
  cap_f = NULL;
  cap_buf = NULL;
  cap_len = 0;
  return 0;
}

/* Everything logged so far, and empties the capture. Caller frees. */
static char *take(void) {
  char *s;
  fflush(cap_f);
  s = strndup(cap_buf ? cap_buf : "", cap_len);
  assert_non_null(s);
  fclose(cap_f);
  free(cap_buf);
  cap_buf = NULL;
  cap_len = 0;
  cap_f = open_memstream(&cap_buf, &cap_len);
  assert_non_null(cap_f);
  tarn_log_set_stream(cap_f);
  return s;
}

/* The part after "ts=... level=L " of a single captured line, without the newline;
 * checks the line shape on the way. */
static char *take_tail(const char *level) {
  char *all = take(), *tail;
  const char *p;
  size_t n = strlen(all);
  assert_true(n > 0);
  assert_int_equal(all[n - 1], '\n');
  assert_null(memchr(all, '\n', n - 1)); /* exactly one line */
  assert_memory_equal(all, "ts=", 3);
  p = strchr(all, ' ');
  assert_non_null(p);
  assert_int_equal(p - all, 3 + 24); /* "2023-11-14T22:13:20.123Z" */
  p++;
  assert_memory_equal(p, "level=", 6);
  p += 6;
  assert_memory_equal(p, level, strlen(level));
  p += strlen(level);
  assert_int_equal(*p, ' ');
  tail = strndup(p + 1, n - 1 - (size_t)(p + 1 - all));
  free(all);
  return tail;
}

/* tarn_log_format_fields through a variadic front end. */
static char fmt_out[4096];
static const char *fmt(const char *fields, ...) __attribute__((format(printf, 1, 2)));
static const char *fmt(const char *fields, ...) {
  va_list ap;
  size_t n;
  va_start(ap, fields);
  n = tarn_log_format_fields(fmt_out, sizeof(fmt_out), fields, ap);
  va_end(ap);
  assert_int_equal(n, strlen(fmt_out));
  return fmt_out;
}

static void test_line_shape(void **state) {
  char before[TARN_TIME_ISO_MAX], after[TARN_TIME_ISO_MAX], ts[TARN_TIME_ISO_MAX];
  char *line;
  regex_t re;
  regmatch_t m[2];
  (void)state;
  tarn_time_iso8601(tarn_clock_wall_us(), 3, before, sizeof(before));
  tarn_log(TARN_LOG_INFO, "hello", "k=%s", "v");
  tarn_time_iso8601(tarn_clock_wall_us(), 3, after, sizeof(after));
  line = take();
  assert_int_equal(regcomp(&re,
                           "^ts=([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
                           "\\.[0-9]{3}Z) level=info msg=hello k=v\n$",
                           REG_EXTENDED),
                   0);
  assert_int_equal(regexec(&re, line, 2, m, 0), 0);
  regfree(&re);
  /* The timestamp is now, in UTC (ISO 8601 strings of equal shape sort by time). */
  assert_int_equal(m[1].rm_eo - m[1].rm_so, 24);
  memcpy(ts, line + m[1].rm_so, 24);
  ts[24] = '\0';
  assert_true(strcmp(before, ts) <= 0);
  assert_true(strcmp(ts, after) <= 0);
  free(line);
}

static void test_no_fields(void **state) {
  char *t;
  (void)state;
  tarn_log(TARN_LOG_INFO, "started", NULL);
  t = take_tail("info");
  assert_string_equal(t, "msg=started");
  free(t);
  tarn_log(TARN_LOG_WARN, "started", "%s", "");
  t = take_tail("warn");
  /* A bare empty value is still visible: quoted. */
  assert_string_equal(t, "msg=started \"\"");
  free(t);
}

static void test_msg_quoted(void **state) {
  char *t;
  (void)state;
  tarn_log_info("server listening", "port=%d", 8080);
  t = take_tail("info");
  assert_string_equal(t, "msg=\"server listening\" port=8080");
  free(t);
  tarn_log_error("bad\nthing", NULL);
  t = take_tail("error");
  assert_string_equal(t, "msg=\"bad\\nthing\"");
  free(t);
  tarn_log_error("", NULL);
  t = take_tail("error");
  assert_string_equal(t, "msg=\"\"");
  free(t);
}

static void test_value_quoting(void **state) {
  (void)state;
  assert_string_equal(fmt("k=%s", "plain"), "k=plain");
  assert_string_equal(fmt("k=%s", "a b"), "k=\"a b\"");
  assert_string_equal(fmt("k=%s", "say \"hi\""), "k=\"say \\\"hi\\\"\"");
  assert_string_equal(fmt("k=%s", "a=b"), "k=\"a=b\"");
  assert_string_equal(fmt("k=%s", "l1\nl2"), "k=\"l1\\nl2\"");
  assert_string_equal(fmt("k=%s", "cr\rtab\t"), "k=\"cr\\rtab\\t\"");
  assert_string_equal(fmt("k=%s", ""), "k=\"\"");
  assert_string_equal(fmt("k=%s", "back\\slash"), "k=\"back\\\\slash\"");
  assert_string_equal(fmt("k=%s", "bell\a"), "k=\"bell\\x07\"");
  assert_string_equal(fmt("k=%s", "del\x7f"), "k=\"del\\x7f\"");
  assert_string_equal(fmt("k=%s", "h\xc3\xa9llo"), "k=h\xc3\xa9llo"); /* UTF-8 is fine bare */
  assert_string_equal(fmt("k=%s", "/a/b.parquet"), "k=/a/b.parquet");
  assert_string_equal(fmt("k=%s", (const char *)NULL), "k=(null)");
  assert_string_equal(fmt("a=%s b=%s", "x y", "z"), "a=\"x y\" b=z");
  assert_string_equal(fmt("c=%c d=%c", 'x', ' '), "c=x d=\" \"");
}

static void test_conversions(void **state) {
  (void)state;
  assert_string_equal(fmt("n=%d", -42), "n=-42");
  assert_string_equal(fmt("n=%i", 7), "n=7");
  assert_string_equal(fmt("n=%u", 4000000000u), "n=4000000000");
  assert_string_equal(fmt("n=%x", 255), "n=ff");
  assert_string_equal(fmt("n=%ld", -5L), "n=-5");
  assert_string_equal(fmt("n=%lu", 5UL), "n=5");
  assert_string_equal(fmt("n=%lld", LLONG_MIN), "n=-9223372036854775808");
  assert_string_equal(fmt("n=%llu", ULLONG_MAX), "n=18446744073709551615");
  assert_string_equal(fmt("n=%zu", (size_t)SIZE_MAX), "n=18446744073709551615");
  assert_string_equal(fmt("n=%zd", (ssize_t)-3), "n=-3");
  assert_string_equal(fmt("x=%.3f", 3.14159), "x=3.142");
  assert_string_equal(fmt("x=%.3f", -0.0005), "x=-0.001");
  assert_string_equal(fmt("x=%g", 0.5), "x=0.5");
  assert_string_equal(fmt("x=%5d|", 42), "x=   42|");
  assert_string_equal(fmt("x=%-4d|", 42), "x=42  |");
  assert_string_equal(fmt("x=%03d", 7), "x=007");
  assert_string_equal(fmt("x=%.*d", 4, 7), "x=0007");
  /* A '*' width takes its argument, so later arguments stay in their slots. */
  assert_string_equal(fmt("w=%*d s=%s", 5, 42, "ok"), "w=   42 s=ok");
  assert_string_equal(fmt("w=%*d|", -4, 7), "w=7   |");
  assert_string_equal(fmt("w=%*.*f s=%s", 8, 2, 3.14159, "ok"), "w=    3.14 s=ok");
  assert_string_equal(fmt("w=%*lld s=%s", 3, 5LL, "ok"), "w=  5 s=ok");
  /* Values are never padded (padding would only force quotes), but stay aligned. */
  assert_string_equal(fmt("w=%*s s=%s", 10, "ab", "cd"), "w=ab s=cd");
  assert_string_equal(fmt("w=%*.*s s=%s", 10, 1, "ab", "cd"), "w=a s=cd");
  assert_string_equal(fmt("pct=%d%%", 50), "pct=50%");
  assert_string_equal(fmt("%%"), "%");
  /* Mixed: every argument lands in its own slot. */
  assert_string_equal(
      fmt("a=%d b=%lld c=%zu d=%.3f e=%.*s f=%s g=%%", 1, 2LL, (size_t)3, 4.0, 2, "five", "six"),
      "a=1 b=2 c=3 d=4.000 e=fi f=six g=%");
}

static void test_string_precision(void **state) {
  char *raw;
  (void)state;
  assert_string_equal(fmt("k=%.*s", 3, "abcdef"), "k=abc");
  assert_string_equal(fmt("k=%.*s", 10, "abc"), "k=abc");
  assert_string_equal(fmt("k=%.*s", 0, "abc"), "k=\"\"");
  assert_string_equal(fmt("k=%.*s", -1, "abc"), "k=abc"); /* negative: as if omitted */
  assert_string_equal(fmt("k=%.*s", 3, "a b c"), "k=\"a b\"");
  assert_string_equal(fmt("k=%.3s", "abcdef"), "k=abc");
  assert_string_equal(fmt("k=%.0s|", "abc"), "k=\"\"|");
  /* %.*s on bytes with no terminator (a slice of a request buffer) must read only
   * the bytes it is given; ASan catches an over-read of this heap block. */
  raw = malloc(4);
  assert_non_null(raw);
  memcpy(raw, "GETx", 4);
  assert_string_equal(fmt("method=%.*s", 3, raw), "method=GET");
  assert_string_equal(fmt("method=%.*s", 4, raw), "method=GETx");
  assert_string_equal(fmt("method=%.4s", raw), "method=GETx");
  free(raw);
}

static size_t fmtn(char *dst, size_t n, const char *fields, ...)
    __attribute__((format(printf, 3, 4)));
static size_t fmtn(char *dst, size_t n, const char *fields, ...) {
  va_list ap;
  size_t r;
  va_start(ap, fields);
  r = tarn_log_format_fields(dst, n, fields, ap);
  va_end(ap);
  return r;
}

static void test_format_fields_truncates(void **state) {
  char small[8];
  (void)state;
  memset(small, '#', sizeof(small));
  assert_int_equal(fmtn(small, sizeof(small), "k=%s", "abcdefghij"), 7);
  assert_string_equal(small, "k=abcde");
  assert_int_equal(fmtn(small, sizeof(small), "k=%s x", "a b c d e"), 7);
  assert_string_equal(small, "k=\"a b ");
  assert_int_equal(fmtn(small, sizeof(small), "n=%lld", 1234567890123LL), 7);
  assert_string_equal(small, "n=12345");
  assert_int_equal(fmtn(small, 1, "k=%d", 1), 0);
  assert_string_equal(small, "");
  small[0] = '#';
  assert_int_equal(fmtn(small, 0, "k=%d", 1), 0);
  assert_int_equal(small[0], '#'); /* nothing written */
  assert_int_equal(fmtn(small, sizeof(small), NULL), 0);
  assert_string_equal(small, "");
}

static void test_level_filtering(void **state) {
  char *all;
  (void)state;
  assert_int_equal(tarn_log_get_level(), TARN_LOG_INFO);
  tarn_log_debug("d", NULL);
  all = take();
  assert_string_equal(all, "");
  free(all);

  tarn_log_set_level(TARN_LOG_WARN);
  assert_int_equal(tarn_log_get_level(), TARN_LOG_WARN);
  tarn_log_debug("d", NULL);
  tarn_log_info("i", NULL);
  tarn_log_warn("w", NULL);
  tarn_log_error("e", NULL);
  all = take();
  assert_null(strstr(all, "level=debug"));
  assert_null(strstr(all, "level=info"));
  assert_non_null(strstr(all, "level=warn msg=w\n"));
  assert_non_null(strstr(all, "level=error msg=e\n"));
  free(all);

  tarn_log_set_level(TARN_LOG_DEBUG);
  tarn_log_debug("d", "k=%d", 1);
  all = take_tail("debug");
  assert_string_equal(all, "msg=d k=1");
  free(all);

  tarn_log_set_level(TARN_LOG_ERROR);
  tarn_log_warn("w", NULL);
  all = take();
  assert_string_equal(all, "");
  free(all);
}

static void test_level_names(void **state) {
  (void)state;
  assert_int_equal(tarn_log_level_parse("debug"), TARN_LOG_DEBUG);
  assert_int_equal(tarn_log_level_parse("info"), TARN_LOG_INFO);
  assert_int_equal(tarn_log_level_parse("warn"), TARN_LOG_WARN);
  assert_int_equal(tarn_log_level_parse("warning"), TARN_LOG_WARN);
  assert_int_equal(tarn_log_level_parse("error"), TARN_LOG_ERROR);
  assert_int_equal(tarn_log_level_parse("verbose"), -1);
  assert_int_equal(tarn_log_level_parse(""), -1);
  assert_string_equal(tarn_log_level_name(TARN_LOG_DEBUG), "debug");
  assert_string_equal(tarn_log_level_name(TARN_LOG_ERROR), "error");
  assert_string_equal(tarn_log_level_name(9), "unknown");
  assert_string_equal(tarn_log_level_name(-1), "unknown");
}

static size_t count_char(const char *s, char c) {
  size_t n = 0;
  for (; *s; s++)
    n += *s == c;
  return n;
}

static void test_one_line_per_call(void **state) {
  char *all, *huge;
  size_t n;
  (void)state;
  tarn_log_info("multi\nline\nmsg", "a=%s b=%s c=%.*s", "x\ny", "\n\n\r\n", 3, "1\n2\n3");
  tarn_log_warn("second", "sql=%s", "SELECT 1;\nDROP TABLE t;");
  tarn_log_error("third", "c=%c", '\n');
  all = take();
  assert_int_equal(count_char(all, '\n'), 3);
  assert_non_null(strstr(all, "level=info msg=\"multi\\nline\\nmsg\" a=\"x\\ny\" "
                              "b=\"\\n\\n\\r\\n\" c=\"1\\n2\"\n"));
  assert_non_null(strstr(all, "level=warn msg=second sql=\"SELECT 1;\\nDROP TABLE t;\"\n"));
  assert_non_null(strstr(all, "level=error msg=third c=\"\\n\"\n"));
  free(all);

  /* A value far longer than a line is cut, but it is still one line. */
  n = 100000;
  huge = malloc(n + 1);
  assert_non_null(huge);
  memset(huge, '\n', n);
  huge[n] = '\0';
  tarn_log_info("big", "v=%s", huge);
  tarn_log_info("after", NULL);
  all = take();
  assert_int_equal(count_char(all, '\n'), 2);
  assert_int_equal(all[strlen(all) - 1], '\n');
  assert_non_null(strstr(all, "level=info msg=after\n"));
  assert_true(strchr(all, '\n') - all < 4096);
  free(all);
  free(huge);
}

static void *log_thread(void *arg) {
  int i, id = *(int *)arg;
  for (i = 0; i < 200; i++)
    tarn_log_info("tick", "thread=%d i=%d pad=%s", id, i, "some value with spaces");
  return NULL;
}

static void test_threads_whole_lines(void **state) {
  pthread_t th[4];
  int ids[4] = {0, 1, 2, 3}, i;
  char *all, *line, *save = NULL;
  size_t lines = 0;
  (void)state;
  for (i = 0; i < 4; i++)
    assert_int_equal(pthread_create(&th[i], NULL, log_thread, &ids[i]), 0);
  for (i = 0; i < 4; i++)
    pthread_join(th[i], NULL);
  all = take();
  for (line = strtok_r(all, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
    assert_memory_equal(line, "ts=", 3);
    assert_non_null(strstr(line, " level=info msg=tick thread="));
    assert_non_null(strstr(line, " pad=\"some value with spaces\""));
    lines++;
  }
  assert_int_equal(lines, 800);
  free(all);
}

#define T(f) cmocka_unit_test_setup_teardown(f, cap_setup, cap_teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_line_shape),
      T(test_no_fields),
      T(test_msg_quoted),
      T(test_value_quoting),
      T(test_conversions),
      T(test_string_precision),
      T(test_format_fields_truncates),
      T(test_level_filtering),
      T(test_level_names),
      T(test_one_line_per_call),
      T(test_threads_whole_lines),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
