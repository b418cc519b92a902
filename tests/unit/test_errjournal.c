/* test_errjournal.c - the storage error journal: events, ring, queries, reload (store/errjournal). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "store/buckets.h"

typedef struct fixture {
  char dir[64];
  tarn_store *st;
} fixture;

static int setup(void **state) {
  fixture *fx = calloc(1, sizeof(*fx));
  snprintf(fx->dir, sizeof(fx->dir), "/tmp/tarn_test_ej_XXXXXX");
  assert_non_null(mkdtemp(fx->dir));
  assert_int_equal(tarn_store_local_open(fx->dir, &fx->st, NULL), 0);
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fixture *fx = *state;
  char cmd[128];
  tarn_store_destroy(fx->st);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", fx->dir);
  assert_int_equal(system(cmd), 0);
  free(fx);
  tarn_log_set_stream(NULL);
  return 0;
}

static tarn_errjournal *open_ej(tarn_store *st) {
  tarn_errjournal *ej = NULL;
  tarn_error err;
  if (tarn_errjournal_open(st, NULL, &ej, &err) != 0)
    fail_msg("open: %s", err.detail);
  return ej;
}

static void record(tarn_errjournal *ej, int64_t ts, const char *bucket, const char *key, int code,
                   int rescued) {
  tarn_storage_event ev;
  memset(&ev, 0, sizeof(ev));
  ev.ts_us = ts;
  ev.op = "get";
  ev.bucket = bucket;
  ev.key = key;
  ev.code = code;
  ev.http_status = code == TARN_ENETWORK ? 503 : 0;
  ev.sys_errno = code == TARN_EIO ? 5 : 0;
  ev.attempt = 3;
  ev.rescued = rescued;
  ev.message = "it broke";
  tarn_errjournal_record(ej, &ev);
}

#define T0 1795000000000000LL /* 2026-11-18T11:06:40Z */

static void test_event_fields_and_queries(void **state) {
  fixture *fx = *state;
  tarn_errjournal *ej = open_ej(fx->st);
  json_t *arr, *ev, *counts;
  size_t total;
  char *s;
  record(ej, T0, "main", "a/b", TARN_EIO, 0);
  record(ej, T0 + 1000000, "rescue", "x", TARN_ENETWORK, 0);
  record(ej, T0 + 2000000, "main", "a/c", TARN_ENOTFOUND, 1);
  arr = tarn_errjournal_query(ej, NULL, 0, 0);
  assert_int_equal(json_array_size(arr), 3);
  ev = json_array_get(arr, 0);
  s = json_dumps(ev, JSON_COMPACT);
  assert_string_equal(json_string_value(json_object_get(ev, "ts")), "2026-11-18T11:06:40.000000Z");
  assert_string_equal(json_string_value(json_object_get(ev, "op")), "get");
  assert_string_equal(json_string_value(json_object_get(ev, "bucket")), "main");
  assert_string_equal(json_string_value(json_object_get(ev, "key")), "a/b");
  assert_string_equal(json_string_value(json_object_get(ev, "error_class")), "retriable");
  assert_string_equal(json_string_value(json_object_get(ev, "code")), "io_error");
  assert_true(json_is_null(json_object_get(ev, "http_status")));
  assert_int_equal(json_integer_value(json_object_get(ev, "errno")), 5);
  assert_int_equal(json_integer_value(json_object_get(ev, "attempt")), 3);
  assert_true(json_is_false(json_object_get(ev, "rescued")));
  assert_string_equal(json_string_value(json_object_get(ev, "message")), "it broke");
  assert_true(json_is_string(json_object_get(ev, "id")));
  free(s);
  ev = json_array_get(arr, 1);
  assert_int_equal(json_integer_value(json_object_get(ev, "http_status")), 503);
  ev = json_array_get(arr, 2);
  assert_string_equal(json_string_value(json_object_get(ev, "error_class")), "fatal");
  assert_true(json_is_true(json_object_get(ev, "rescued")));
  json_decref(arr);
  /* by bucket, newest last */
  arr = tarn_errjournal_query(ej, "main", 0, 0);
  assert_int_equal(json_array_size(arr), 2);
  assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 1), "key")), "a/c");
  json_decref(arr);
  /* limit keeps the newest */
  arr = tarn_errjournal_query(ej, NULL, 0, 2);
  assert_int_equal(json_array_size(arr), 2);
  assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 0), "bucket")),
                      "rescue");
  json_decref(arr);
  /* since */
  arr = tarn_errjournal_query(ej, NULL, T0 + 1000000, 0);
  assert_int_equal(json_array_size(arr), 2);
  json_decref(arr);
  arr = tarn_errjournal_query(ej, "nope", 0, 0);
  assert_int_equal(json_array_size(arr), 0);
  json_decref(arr);
  counts = tarn_errjournal_counts(ej, T0 + 500000, &total);
  assert_int_equal(total, 2);
  assert_int_equal(json_integer_value(json_object_get(counts, "main")), 1);
  assert_int_equal(json_integer_value(json_object_get(counts, "rescue")), 1);
  json_decref(counts);
  assert_int_equal(tarn_errjournal_close(ej, NULL), 0);
  assert_int_equal(tarn_errjournal_close(NULL, NULL), 0);
}

static void test_ring_keeps_newest(void **state) {
  fixture *fx = *state;
  tarn_errjournal *ej = open_ej(fx->st);
  json_t *arr;
  char key[32];
  int i;
  for (i = 0; i < TARN_ERRJOURNAL_RING + 150; i++) {
    snprintf(key, sizeof(key), "k%d", i);
    record(ej, T0 + i, "b", key, TARN_EIO, 0);
  }
  arr = tarn_errjournal_query(ej, NULL, 0, 0);
  assert_int_equal(json_array_size(arr), TARN_ERRJOURNAL_RING);
  assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 0), "key")), "k150");
  json_decref(arr);
  assert_int_equal(tarn_errjournal_close(ej, NULL), 0);
  /* reopened: the newest RING events, loaded from the batch files */
  ej = open_ej(fx->st);
  arr = tarn_errjournal_query(ej, NULL, 0, 0);
  assert_int_equal(json_array_size(arr), TARN_ERRJOURNAL_RING);
  assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 0), "key")), "k150");
  snprintf(key, sizeof(key), "k%d", TARN_ERRJOURNAL_RING + 149);
  assert_string_equal(
      json_string_value(json_object_get(json_array_get(arr, TARN_ERRJOURNAL_RING - 1), "key")),
      key);
  json_decref(arr);
  assert_int_equal(tarn_errjournal_close(ej, NULL), 0);
}

static void test_reload_flush_compact(void **state) {
  fixture *fx = *state;
  tarn_errjournal *ej = open_ej(fx->st);
  tarn_applog_compact_result res;
  size_t flushed = 0, loaded, malformed;
  json_t *before, *after;
  record(ej, T0, "main", "k1", TARN_EIO, 0);
  record(ej, T0 + 1, "main", "k2", TARN_EIO, 1);
  assert_int_equal(tarn_errjournal_flush(ej, &flushed, NULL), 0);
  assert_int_equal(flushed, 2);
  record(ej, T0 + 2, "other", "k3", TARN_ETIMEDOUT, 0);
  assert_int_equal(tarn_errjournal_flush(ej, &flushed, NULL), 0);
  assert_int_equal(tarn_errjournal_compact(ej, &res, NULL), 0);
  assert_int_equal(res.files_merged, 2);
  assert_int_equal(res.records, 3);
  assert_string_equal(res.file,
                      TARN_ERRJOURNAL_PREFIX "00000000000000000001-00000000000000000002.jsonl");
  record(ej, T0 + 3, "other", "k4", TARN_EIO, 0); /* flushed by close */
  before = tarn_errjournal_query(ej, NULL, 0, 0);
  assert_int_equal(tarn_errjournal_close(ej, NULL), 0);
  ej = open_ej(fx->st);
  tarn_errjournal_load_stats(ej, &loaded, &malformed);
  assert_int_equal(loaded, 4);
  assert_int_equal(malformed, 0);
  after = tarn_errjournal_query(ej, NULL, 0, 0);
  assert_true(json_equal(before, after));
  json_decref(before);
  json_decref(after);
  assert_int_equal(tarn_errjournal_close(ej, NULL), 0);
}

static void test_malformed_lines_warned(void **state) {
  fixture *fx = *state;
  tarn_errjournal *ej;
  char *logbuf = NULL;
  size_t loglen = 0, loaded, malformed;
  FILE *lf;
  json_t *arr;
  const char *text =
      "{\"id\":\"1\",\"ts\":\"2026-11-18T11:06:40.000000Z\",\"bucket\":\"b\",\"op\":\"put\"}\n"
      "{\"id\":\"2\",\"ts\":\"2026-11-18T11:06:41Z\",\"bucket\":\"b\"\n"
      "garbage\n"
      "{\"id\":\"3\",\"ts\":\"2026-11-18T11:06:42Z\",\"bucket\":\"b\",\"op\":\"get\"}\n";
  assert_int_equal(tarn_store_put(fx->st, TARN_ERRJOURNAL_PREFIX "00000000000000000007.jsonl", text,
                                  strlen(text), 0, NULL),
                   0);
  lf = open_memstream(&logbuf, &loglen);
  tarn_log_set_stream(lf);
  ej = open_ej(fx->st);
  fclose(lf);
  tarn_log_set_stream(NULL);
  assert_non_null(
      strstr(logbuf, "file=" TARN_ERRJOURNAL_PREFIX "00000000000000000007.jsonl line=2"));
  assert_non_null(
      strstr(logbuf, "file=" TARN_ERRJOURNAL_PREFIX "00000000000000000007.jsonl line=3"));
  tarn_errjournal_load_stats(ej, &loaded, &malformed);
  assert_int_equal(loaded, 2);
  assert_int_equal(malformed, 2);
  arr = tarn_errjournal_query(ej, "b", 0, 0);
  assert_int_equal(json_array_size(arr), 2);
  json_decref(arr);
  /* new events continue after the existing batch */
  record(ej, 0, "b", "k", TARN_EIO, 0);
  assert_int_equal(tarn_errjournal_flush(ej, NULL, NULL), 0);
  {
    tarn_store_stat st;
    assert_int_equal(
        tarn_store_head(fx->st, TARN_ERRJOURNAL_PREFIX "00000000000000000008.jsonl", &st, NULL), 0);
  }
  assert_int_equal(tarn_errjournal_close(ej, NULL), 0);
  free(logbuf);
}

static void test_parse_time(void **state) {
  int64_t us = 0;
  assert_int_equal(tarn_errjournal_parse_time("2026-11-18T11:06:40Z", &us), 0);
  assert_int_equal(us, T0);
  assert_int_equal(tarn_errjournal_parse_time("2026-11-18T11:06:40.25Z", &us), 0);
  assert_int_equal(us, T0 + 250000);
  assert_int_equal(tarn_errjournal_parse_time("2026-11-18T11:06:40.1234567Z", &us), 0);
  assert_int_equal(us, T0 + 123456);
  assert_int_equal(tarn_errjournal_parse_time("2026-11-18T11:06Z", &us), 0);
  assert_int_equal(us, T0 - 40000000);
  assert_int_equal(tarn_errjournal_parse_time("2026-11-18", &us), 0);
  assert_int_equal(tarn_errjournal_parse_time("1795000000", &us), 0);
  assert_int_equal(us, T0);
  assert_int_equal(tarn_errjournal_parse_time("2026-11-18T11:06:40+01:00", &us), TARN_EINVAL);
  assert_int_equal(tarn_errjournal_parse_time("2026-13-18", &us), TARN_EINVAL);
  assert_int_equal(tarn_errjournal_parse_time("yesterday", &us), TARN_EINVAL);
  assert_int_equal(tarn_errjournal_parse_time("", &us), TARN_EINVAL);
  assert_int_equal(tarn_errjournal_parse_time("2026-11-18T11:06:40.Z", &us), TARN_EINVAL);
}

/* Every allocation failing in turn: open, record, query, flush, reopen. */
static void ej_session(tarn_store *st) {
  tarn_errjournal *ej = NULL;
  json_t *arr;
  size_t total;
  if (tarn_errjournal_open(st, NULL, &ej, NULL) != 0)
    return;
  record(ej, T0, "a", "k1", TARN_EIO, 0);
  record(ej, T0 + 1, "b", "k2", TARN_ENETWORK, 1);
  arr = tarn_errjournal_query(ej, "a", 0, 0);
  json_decref(arr);
  arr = tarn_errjournal_counts(ej, 0, &total);
  json_decref(arr);
  tarn_errjournal_flush(ej, NULL, NULL);
  tarn_errjournal_close(ej, NULL);
}

static void test_allocation_failures(void **state) {
  fixture *fx = *state;
  FILE *devnull = fopen("/dev/null", "w");
  long total, i;
  tarn_log_set_stream(devnull);
  json_set_alloc_funcs(tarn_malloc, tarn_free);
  tarn_alloc_fail_reset();
  ej_session(fx->st);
  total = tarn_alloc_count();
  for (i = 0; i < total; i++) {
    tarn_alloc_fail_after(i);
    ej_session(fx->st);
    tarn_alloc_fail_reset();
  }
  /* what was persisted loads cleanly */
  {
    tarn_errjournal *ej = open_ej(fx->st);
    size_t loaded, malformed;
    tarn_errjournal_load_stats(ej, &loaded, &malformed);
    assert_int_equal(malformed, 0);
    assert_true(loaded >= 2);
    assert_int_equal(tarn_errjournal_close(ej, NULL), 0);
  }
  json_set_alloc_funcs(malloc, free);
  tarn_log_set_stream(NULL);
  fclose(devnull);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_event_fields_and_queries, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ring_keeps_newest, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reload_flush_compact, setup, teardown),
      cmocka_unit_test_setup_teardown(test_malformed_lines_warned, setup, teardown),
      cmocka_unit_test(test_parse_time),
      cmocka_unit_test_setup_teardown(test_allocation_failures, setup, teardown),
  };
  tarn_log_set_level(TARN_LOG_WARN);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
