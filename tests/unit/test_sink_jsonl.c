/* test_sink_jsonl.c - the JSON-lines target: lines and offsets committed together, cut
 * back at open to what the sidecar records, foreign files refused (sink/sink_jsonl.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "sink/action_log.h"
#include "sink/envelope.h"
#include "sink/sink_int.h"

#define DAY_MS 86400000LL
#define DAY0 19675LL /* 2023-11-14 */

typedef struct fx {
  char dir[64];
  char path[128], dlq[160], side[160];
} fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof(*f));
  snprintf(f->dir, sizeof(f->dir), "/tmp/tarn-sink-jsonl-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  snprintf(f->path, sizeof(f->path), "%s/out.jsonl", f->dir);
  snprintf(f->dlq, sizeof(f->dlq), "%s.dlq", f->path);
  snprintf(f->side, sizeof(f->side), "%s.offsets", f->path);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
  assert_int_equal(system(cmd), 0);
  free(f);
  return 0;
}

/* ---- helpers ---- */

static void open_target(fx *f, sink_target *t) {
  tarn_error err;
  memset(t, 0, sizeof(*t));
  if (tarn__sink_jsonl_open(f->path, t, &err) != 0)
    fail_msg("open: %s", tarn_error_message(&err));
}

/* The whole file (NUL-terminated; *len without it). Caller frees. */
static char *slurp(const char *path, size_t *len) {
  FILE *fp = fopen(path, "rb");
  char *buf;
  long n;
  assert_non_null(fp);
  assert_int_equal(fseek(fp, 0, SEEK_END), 0);
  n = ftell(fp);
  assert_true(n >= 0);
  rewind(fp);
  buf = malloc((size_t)n + 1);
  assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
  buf[n] = '\0';
  fclose(fp);
  if (len != NULL)
    *len = (size_t)n;
  return buf;
}

static void append_bytes(const char *path, const char *bytes) {
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0640);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, bytes, strlen(bytes)), (ssize_t)strlen(bytes));
  close(fd);
}

static void add_event(tarn_sink_rows *r, const char *json) {
  char detail[256];
  tarn_sink_reason reason;
  tarn_error err;
  if (tarn_sink_decode(r, json, strlen(json), &reason, detail, sizeof(detail), &err) != 0)
    fail_msg("decode: %s", detail);
}

static void add_simple(tarn_sink_rows *r, int i) {
  char ev[512];
  snprintf(ev, sizeof(ev),
           "{\"event_id\":\"ev-%d\",\"action_type_id\":\"a\",\"action_name\":\"n\","
           "\"object_type_id\":\"o\",\"tenant\":\"t\",\"actor_sub\":\"s\",\"status\":\"ok\","
           "\"applied_at_ms\":%lld}",
           i, (long long)(DAY0 * DAY_MS + i));
  add_event(r, ev);
}

static void add_dlq(tarn_sink_rows *r, int64_t offset, const void *value, size_t vlen) {
  tarn_sink_cell *c = tarn_sink_rows_add(r, NULL);
  assert_non_null(c);
  assert_int_equal(tarn_sink_cell_bytes(r, &c[TARN_DLQ_TOPIC], "t", 1, NULL), 0);
  tarn_sink_cell_int(&c[TARN_DLQ_PARTITION], 0);
  tarn_sink_cell_int(&c[TARN_DLQ_OFFSET], offset);
  assert_int_equal(tarn_sink_cell_bytes(r, &c[TARN_DLQ_KEY], "k1", 2, NULL), 0);
  if (value != NULL)
    assert_int_equal(tarn_sink_cell_bytes(r, &c[TARN_DLQ_VALUE], value, vlen, NULL), 0);
  assert_int_equal(tarn_sink_cell_bytes(r, &c[TARN_DLQ_REASON], "not_json", 8, NULL), 0);
  assert_int_equal(tarn_sink_cell_bytes(r, &c[TARN_DLQ_DETAIL], "bad \"x\"", 7, NULL), 0);
  tarn_sink_cell_int(&c[TARN_DLQ_SEEN_AT], 1700000000000000LL);
}

static void offs1(tarn_sink_offsets *o, const char *topic, int32_t p, int64_t next) {
  tarn_sink_offsets_clear(o);
  if (next >= 0)
    assert_int_equal(tarn_sink_offsets_set(o, topic, p, next, NULL), 0);
}

static int do_commit(sink_target *t, tarn_al_table_kind kind, const tarn_sink_rows *rows,
                     const tarn_sink_offsets *start, const tarn_sink_offsets *end, int *fenced,
                     tarn_error *err) {
  tarn_sink_commit res;
  int rc = t->commit(t->impl, kind, rows, start, end, &res, fenced, err);
  if (rc == 0)
    assert_int_equal(res.committed, 1);
  return rc;
}

static void check_offsets(sink_target *t, int64_t main_next, int64_t dlq_next) {
  tarn_sink_offsets mn = {0}, dn = {0};
  tarn_error err;
  int known = -1;
  assert_int_equal(t->offsets(t->impl, &mn, &dn, &known, &err), 0);
  assert_int_equal(known, 1);
  assert_int_equal(tarn_sink_offsets_get(&mn, "t", 0), main_next);
  assert_int_equal(tarn_sink_offsets_get(&dn, "t", 0), dlq_next);
  assert_int_equal(mn.n, main_next >= 0 ? 1 : 0);
  assert_int_equal(dn.n, dlq_next >= 0 ? 1 : 0);
  tarn_sink_offsets_free(&mn);
  tarn_sink_offsets_free(&dn);
}

/* Every line of the file is a JSON object; returns how many, each passed to `each`. */
static size_t each_line(const char *path, void (*each)(json_t *o, size_t i, void *arg), void *arg) {
  size_t len, n = 0;
  char *text = slurp(path, &len), *p = text;
  assert_true(len == 0 || text[len - 1] == '\n');
  while (*p != '\0') {
    char *nl = strchr(p, '\n');
    json_error_t e;
    json_t *o;
    assert_non_null(nl);
    o = json_loadb(p, (size_t)(nl - p), JSON_REJECT_DUPLICATES, &e);
    if (o == NULL)
      fail_msg("%s line %zu is not JSON: %s (%.*s)", path, n + 1, e.text, (int)(nl - p), p);
    assert_true(json_is_object(o));
    if (each != NULL)
      each(o, n, arg);
    json_decref(o);
    n++;
    p = nl + 1;
  }
  free(text);
  return n;
}

/* ---- tests ---- */

static void check_main_line(json_t *o, size_t i, void *arg) {
  const char *key;
  json_t *v;
  size_t n = 0, k;
  char id[32];
  (void)arg;
  /* exactly the 16 columns, in order */
  json_object_foreach(o, key, v) {
    assert_true(n < TARN_AL_NCOLS);
    assert_string_equal(key, tarn_action_log_names[n]);
    n++;
  }
  assert_int_equal(n, TARN_AL_NCOLS);
  for (k = 0; k < TARN_AL_NCOLS; k++)
    assert_non_null(json_object_get(o, tarn_action_log_names[k]));
  if (i == 0) {
    /* the rich event */
    assert_string_equal(json_string_value(json_object_get(o, "event_id")), "ev-\"q\"\n\xc3\xa9");
    assert_true(json_is_null(json_object_get(o, "object_id")));       /* "" */
    assert_true(json_is_null(json_object_get(o, "organization_id"))); /* absent */
    assert_string_equal(json_string_value(json_object_get(o, "actor_email")), "");
    assert_int_equal(json_integer_value(json_object_get(o, "applied_at_ms")), 1700000000123LL);
    assert_string_equal(json_string_value(json_object_get(o, "applied_at")),
                        "2023-11-14T22:13:20.123Z");
    /* JSON columns are JSON values, not strings holding JSON */
    assert_true(json_is_object(json_object_get(o, "parameters")));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(o, "parameters"), "role")), "a\tb");
    assert_true(json_is_array(json_object_get(o, "previous_state")));
    assert_true(json_is_null(json_object_get(o, "new_state")));
    return;
  }
  snprintf(id, sizeof(id), "ev-%zu", i);
  assert_string_equal(json_string_value(json_object_get(o, "event_id")), id);
  assert_true(json_is_null(json_object_get(o, "parameters")));
  assert_true(json_is_null(json_object_get(o, "actor_email")));
}

static void check_dlq_line(json_t *o, size_t i, void *arg) {
  static const char *const keys[] = {"topic",     "partition", "offset", "key",
                                     "value",     "reason",    "detail", "kafka_timestamp_us",
                                     "seen_at_us"};
  size_t k;
  (void)arg;
  for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
    if (json_object_get(o, keys[k]) == NULL)
      fail_msg("dlq line %zu lacks \"%s\"", i, keys[k]);
  assert_string_equal(json_string_value(json_object_get(o, "topic")), "t");
  assert_int_equal(json_integer_value(json_object_get(o, "offset")), (json_int_t)i);
  assert_string_equal(json_string_value(json_object_get(o, "reason")), "not_json");
  assert_string_equal(json_string_value(json_object_get(o, "detail")), "bad \"x\"");
  assert_true(json_is_null(json_object_get(o, "kafka_timestamp_us")));
  assert_int_equal(json_integer_value(json_object_get(o, "seen_at_us")), 1700000000000000LL);
}

static void test_commit_and_reopen(void **state) {
  fx *f = *state;
  sink_target t;
  tarn_sink_rows rows, dlq;
  tarn_sink_offsets start = {0}, end = {0};
  tarn_error err;
  int fenced = -1, i;
  open_target(f, &t);
  check_offsets(&t, -1, -1);
  tarn_sink_rows_init(&rows, TARN_AL_NCOLS);
  tarn_sink_rows_init(&dlq, TARN_DLQ_NCOLS);
  add_event(&rows, "{\"event_id\":\"ev-\\\"q\\\"\\n\\u00e9\",\"action_type_id\":\"a\","
                   "\"action_name\":\"n\",\"object_type_id\":\"o\",\"object_id\":\"\","
                   "\"tenant\":\"t\",\"actor_sub\":\"s\",\"actor_email\":\"\","
                   "\"status\":\"ok\",\"applied_at_ms\":1700000000123,"
                   "\"parameters\":{\"role\":\"a\\tb\"},\"previous_state\":[1,{\"x\":null}],"
                   "\"new_state\":null}");
  for (i = 1; i < 3; i++)
    add_simple(&rows, i);
  add_dlq(&dlq, 0, "{oops", 5);
  add_dlq(&dlq, 1, NULL, 0);
  offs1(&end, "t", 0, 3);
  assert_int_equal(do_commit(&t, TARN_AL_DLQ, &dlq, &start, &end, &fenced, &err), 0);
  assert_int_equal(fenced, 0);
  assert_int_equal(do_commit(&t, TARN_AL_MAIN, &rows, &start, &end, &fenced, &err), 0);
  check_offsets(&t, 3, 3);
  /* a second batch on top */
  tarn_sink_rows_reset(&rows);
  for (i = 3; i < 5; i++)
    add_simple(&rows, i);
  offs1(&start, "t", 0, 3);
  offs1(&end, "t", 0, 5);
  assert_int_equal(do_commit(&t, TARN_AL_MAIN, &rows, &start, &end, &fenced, &err), 0);
  check_offsets(&t, 5, 3);
  t.close(t.impl);

  open_target(f, &t);
  check_offsets(&t, 5, 3);
  assert_string_equal(t.name(t.impl, TARN_AL_MAIN), f->path);
  assert_string_equal(t.name(t.impl, TARN_AL_DLQ), f->dlq);
  t.close(t.impl);
  assert_int_equal(each_line(f->path, check_main_line, NULL), 5);
  assert_int_equal(each_line(f->dlq, check_dlq_line, NULL), 2);
  tarn_sink_rows_free(&rows);
  tarn_sink_rows_free(&dlq);
  tarn_sink_offsets_free(&start);
  tarn_sink_offsets_free(&end);
}

static void test_fenced(void **state) {
  fx *f = *state;
  sink_target t;
  tarn_sink_rows rows;
  tarn_sink_offsets start = {0}, end = {0};
  tarn_error err;
  int fenced = -1;
  size_t len0, len1;
  char *before;
  open_target(f, &t);
  tarn_sink_rows_init(&rows, TARN_AL_NCOLS);
  add_simple(&rows, 1);
  offs1(&end, "t", 0, 10);
  assert_int_equal(do_commit(&t, TARN_AL_MAIN, &rows, &start, &end, &fenced, &err), 0);
  before = slurp(f->path, &len0);
  /* read from 5, but the file holds 10 */
  offs1(&start, "t", 0, 5);
  offs1(&end, "t", 0, 12);
  assert_int_equal(do_commit(&t, TARN_AL_MAIN, &rows, &start, &end, &fenced, &err), TARN_ECONFLICT);
  assert_int_equal(fenced, 1);
  /* the same batch again (start {} while the file holds 10) */
  offs1(&start, "t", 0, -1);
  offs1(&end, "t", 0, 10);
  assert_int_equal(do_commit(&t, TARN_AL_MAIN, &rows, &start, &end, &fenced, &err), TARN_ECONFLICT);
  assert_int_equal(fenced, 1);
  check_offsets(&t, 10, -1);
  t.close(t.impl);
  free(slurp(f->path, &len1));
  assert_int_equal(len1, len0);
  free(before);
  tarn_sink_rows_free(&rows);
  tarn_sink_offsets_free(&start);
  tarn_sink_offsets_free(&end);
}

/* A crash after the lines were written but before the sidecar was replaced: the next
 * open cuts both files back, and the next batch follows the last committed line. */
static void test_crash_before_sidecar(void **state) {
  fx *f = *state;
  sink_target t;
  tarn_sink_rows rows, dlq;
  tarn_sink_offsets start = {0}, end = {0};
  tarn_error err;
  int fenced;
  size_t len_rows, len_dlq, len;
  char *good_rows, *good_dlq, *now;
  open_target(f, &t);
  tarn_sink_rows_init(&rows, TARN_AL_NCOLS);
  tarn_sink_rows_init(&dlq, TARN_DLQ_NCOLS);
  add_simple(&rows, 1);
  add_dlq(&dlq, 0, "x", 1);
  offs1(&end, "t", 0, 2);
  assert_int_equal(do_commit(&t, TARN_AL_DLQ, &dlq, &start, &end, &fenced, &err), 0);
  assert_int_equal(do_commit(&t, TARN_AL_MAIN, &rows, &start, &end, &fenced, &err), 0);
  t.close(t.impl);
  good_rows = slurp(f->path, &len_rows);
  good_dlq = slurp(f->dlq, &len_dlq);
  /* the lines of an uncommitted batch, one of them torn */
  append_bytes(f->path, "{\"event_id\":\"ev-2\",\"tenant\":\"t\"}\n{\"event_id\":\"ev-3\",\"te");
  append_bytes(f->dlq, "{\"topic\":\"t\",\"offset\":7}\n");
  open_target(f, &t);
  check_offsets(&t, 2, 2);
  now = slurp(f->path, &len);
  assert_int_equal(len, len_rows);
  assert_memory_equal(now, good_rows, len);
  free(now);
  now = slurp(f->dlq, &len);
  assert_int_equal(len, len_dlq);
  assert_memory_equal(now, good_dlq, len);
  free(now);
  /* the next batch, read from the committed offsets, lands right after */
  tarn_sink_rows_reset(&rows);
  add_simple(&rows, 2);
  add_simple(&rows, 3);
  offs1(&start, "t", 0, 2);
  offs1(&end, "t", 0, 4);
  assert_int_equal(do_commit(&t, TARN_AL_MAIN, &rows, &start, &end, &fenced, &err), 0);
  t.close(t.impl);
  assert_int_equal(each_line(f->path, NULL, NULL), 3);
  now = slurp(f->path, &len);
  assert_memory_equal(now, good_rows, len_rows);
  assert_null(strstr(now, "\"te{"));
  free(now);
  free(good_rows);
  free(good_dlq);
  tarn_sink_rows_free(&rows);
  tarn_sink_rows_free(&dlq);
  tarn_sink_offsets_free(&start);
  tarn_sink_offsets_free(&end);
}

static void test_foreign_files_refused(void **state) {
  fx *f = *state;
  sink_target t;
  tarn_error err;
  char *text;
  size_t len;
  memset(&t, 0, sizeof(t));
  append_bytes(f->path, "someone's data\n");
  assert_int_equal(tarn__sink_jsonl_open(f->path, &t, &err), TARN_EEXIST);
  assert_non_null(strstr(err.detail, f->path));
  assert_non_null(strstr(err.detail, "offsets"));
  text = slurp(f->path, &len); /* not cut, not touched */
  assert_string_equal(text, "someone's data\n");
  free(text);
  assert_int_equal(access(f->side, F_OK), -1);
  /* the same for a foreign PATH.dlq next to an empty PATH */
  unlink(f->path);
  append_bytes(f->dlq, "x");
  assert_int_equal(tarn__sink_jsonl_open(f->path, &t, &err), TARN_EEXIST);
  assert_non_null(strstr(err.detail, f->dlq));
  text = slurp(f->dlq, &len);
  assert_string_equal(text, "x");
  free(text);
  /* empty files are fine: adopted */
  unlink(f->dlq);
  append_bytes(f->path, "");
  open_target(f, &t);
  check_offsets(&t, -1, -1);
  t.close(t.impl);
}

static void test_bad_sidecar(void **state) {
  fx *f = *state;
  sink_target t;
  tarn_sink_rows rows;
  tarn_sink_offsets start = {0}, end = {0};
  tarn_error err;
  int fenced;
  FILE *fp;
  open_target(f, &t);
  tarn_sink_rows_init(&rows, TARN_AL_NCOLS);
  add_simple(&rows, 1);
  offs1(&end, "t", 0, 1);
  assert_int_equal(do_commit(&t, TARN_AL_MAIN, &rows, &start, &end, &fenced, &err), 0);
  t.close(t.impl);
  /* the data file shorter than the sidecar says: refused, not extended */
  assert_int_equal(truncate(f->path, 3), 0);
  memset(&t, 0, sizeof(t));
  assert_int_equal(tarn__sink_jsonl_open(f->path, &t, &err), TARN_ECORRUPT);
  assert_non_null(strstr(err.detail, "shorter"));
  /* a sidecar that is not one */
  static const char *const bad[] = {
      "not json",
      "{\"rows\":-1,\"dlq\":0,\"main_offsets\":{},\"dlq_offsets\":{}}",
      "{\"rows\":0,\"dlq\":0,\"main_offsets\":{\"t\":{\"0\":-5}},\"dlq_offsets\":{}}",
      "{\"rows\":0,\"dlq\":0,\"dlq_offsets\":{}}",
      "{\"rows\":\"0\",\"dlq\":0,\"main_offsets\":{},\"dlq_offsets\":{}}",
  };
  size_t i;
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int rc;
    fp = fopen(f->side, "w");
    assert_non_null(fp);
    fputs(bad[i], fp);
    fclose(fp);
    rc = tarn__sink_jsonl_open(f->path, &t, &err);
    if (rc != TARN_ECORRUPT)
      fail_msg("sidecar %s: rc %s", bad[i], tarn_err_name(rc));
    assert_non_null(strstr(err.detail, "offsets"));
  }
  tarn_sink_rows_free(&rows);
  tarn_sink_offsets_free(&start);
  tarn_sink_offsets_free(&end);
}

/* The sidecar cannot be replaced (its temp name is taken by a directory): the commit
 * fails, and nothing of it stays: not the lines, not the offsets. The same batch then
 * commits once the way is clear, without being taken for fenced. */
static void test_sidecar_write_fails(void **state) {
  fx *f = *state;
  sink_target t;
  tarn_sink_rows rows;
  tarn_sink_offsets start = {0}, end = {0};
  tarn_error err;
  int fenced = -1, rc;
  size_t len0, len1;
  char tmp[200];
  open_target(f, &t);
  tarn_sink_rows_init(&rows, TARN_AL_NCOLS);
  add_simple(&rows, 1);
  offs1(&end, "t", 0, 1);
  assert_int_equal(do_commit(&t, TARN_AL_MAIN, &rows, &start, &end, &fenced, &err), 0);
  free(slurp(f->path, &len0));
  snprintf(tmp, sizeof(tmp), "%s.tmp", f->side);
  assert_int_equal(mkdir(tmp, 0700), 0);
  tarn_sink_rows_reset(&rows);
  add_simple(&rows, 2);
  offs1(&start, "t", 0, 1);
  offs1(&end, "t", 0, 2);
  rc = do_commit(&t, TARN_AL_MAIN, &rows, &start, &end, &fenced, &err);
  assert_int_not_equal(rc, 0);
  assert_int_equal(fenced, 0);
  free(slurp(f->path, &len1));
  if (len1 != len0)
    fail_msg("a failed commit left %zu bytes in the file", len1 - len0);
  check_offsets(&t, 1, -1);
  /* retried once the way is clear: lands, not fenced */
  assert_int_equal(rmdir(tmp), 0);
  rc = do_commit(&t, TARN_AL_MAIN, &rows, &start, &end, &fenced, &err);
  if (rc != 0)
    fail_msg("retry: %s (fenced %d)", tarn_error_message(&err), fenced);
  check_offsets(&t, 2, -1);
  t.close(t.impl);
  assert_int_equal(each_line(f->path, NULL, NULL), 2);
  open_target(f, &t);
  check_offsets(&t, 2, -1);
  t.close(t.impl);
  tarn_sink_rows_free(&rows);
  tarn_sink_offsets_free(&start);
  tarn_sink_offsets_free(&end);
}

/* A poison value that is not UTF-8 still gives a valid JSON line. */
static void test_dlq_binary_value(void **state) {
  fx *f = *state;
  sink_target t;
  tarn_sink_rows dlq;
  tarn_sink_offsets start = {0}, end = {0};
  tarn_error err;
  int fenced;
  open_target(f, &t);
  tarn_sink_rows_init(&dlq, TARN_DLQ_NCOLS);
  add_dlq(&dlq, 0, "\xff\xfe\x00{", 4);
  offs1(&end, "t", 0, 1);
  assert_int_equal(do_commit(&t, TARN_AL_DLQ, &dlq, &start, &end, &fenced, &err), 0);
  t.close(t.impl);
  assert_int_equal(each_line(f->dlq, NULL, NULL), 1);
  tarn_sink_rows_free(&dlq);
  tarn_sink_offsets_free(&start);
  tarn_sink_offsets_free(&end);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_commit_and_reopen),     T(test_fenced),      T(test_crash_before_sidecar),
      T(test_foreign_files_refused), T(test_bad_sidecar), T(test_sidecar_write_fails),
      T(test_dlq_binary_value),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
