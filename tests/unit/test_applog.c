/* test_applog.c - the append log: batching, ordering, compaction, faults and crashes (store/applog). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "store/buckets.h"

#define PREFIX "log/events/"

typedef struct fixture {
  char dir[64];
  tarn_store *st;
} fixture;

static int setup(void **state) {
  fixture *fx = calloc(1, sizeof(*fx));
  snprintf(fx->dir, sizeof(fx->dir), "/tmp/tarn_test_applog_XXXXXX");
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
  tarn_store_local_set_step_hook(NULL, NULL);
  tarn_log_set_stream(NULL);
  return 0;
}

static tarn_applog *open_log(tarn_store *st, size_t flush_records, int64_t age_ms, int bg) {
  tarn_applog_options o;
  tarn_applog *log = NULL;
  tarn_error err;
  memset(&o, 0, sizeof(o));
  o.prefix = PREFIX;
  o.flush_records = flush_records;
  o.flush_age_ms = age_ms;
  o.background = bg;
  if (tarn_applog_open(st, &o, &log, &err) != 0)
    fail_msg("tarn_applog_open: %s", err.detail);
  return log;
}

static void append_n(tarn_applog *log, int from, int to) {
  int i;
  for (i = from; i < to; i++) {
    json_t *rec = json_pack("{s:i,s:s}", "n", i, "text", "caf\xc3\xa9 \"quoted\"\nline");
    tarn_error err;
    if (tarn_applog_append(log, rec, NULL, &err) != 0)
      fail_msg("append %d: %s", i, err.detail);
    json_decref(rec);
  }
}

/* Collects the "n" member of each record read. */
typedef struct collected {
  int n[4096];
  size_t count;
} collected;

static int collect(json_t *rec, const char *file, void *ud) {
  collected *c = ud;
  assert_true(c->count < 4096);
  c->n[c->count++] = (int)json_integer_value(json_object_get(rec, "n"));
  assert_string_equal(json_string_value(json_object_get(rec, "text")),
                      "caf\xc3\xa9 \"quoted\"\nline");
  assert_true(json_is_string(json_object_get(rec, "id")));
  return 0;
}

static int collect_n(json_t *rec, const char *file, void *ud) {
  collected *c = ud;
  c->n[c->count++] = (int)json_integer_value(json_object_get(rec, "n"));
  return 0;
}

/* Reads everything and checks the records are exactly 0..want-1, in order. */
static void expect_records(tarn_store *st, int want, tarn_applog_read_stats *stats) {
  collected *c = calloc(1, sizeof(*c));
  tarn_applog_read_stats local;
  tarn_error err;
  int i;
  if (tarn_applog_read(st, PREFIX, collect, c, stats ? stats : &local, &err) != 0)
    fail_msg("read: %s", err.detail);
  if ((int)c->count != want)
    fail_msg("read %zu records, want %d", c->count, want);
  for (i = 0; i < want; i++)
    assert_int_equal(c->n[i], i);
  free(c);
}

/* Keys under PREFIX, newline-separated, in listing order. Caller frees. */
static char *list_keys(tarn_store *st) {
  tarn_store_listing l;
  tarn_buf b;
  size_t i;
  tarn_store_list_init(&l);
  tarn_buf_init(&b, TARN_BUF_UNLIMITED);
  assert_int_equal(tarn_store_list(st, PREFIX, NULL, 0, &l, NULL), 0);
  for (i = 0; i < l.count; i++)
    tarn_buf_appendf(&b, NULL, "%s\n", l.entries[i].key + strlen(PREFIX));
  tarn_store_list_free(&l);
  if (b.data == NULL)
    tarn_buf_append_str(&b, "", NULL);
  return b.data;
}

static void test_flush_by_count_and_close(void **state) {
  fixture *fx = *state;
  tarn_applog *log = open_log(fx->st, 3, -1, 0);
  char *keys;
  tarn_error err;
  append_n(log, 0, 7);
  /* two batches of three, one record waiting */
  assert_int_equal(tarn_applog_pending(log), 1);
  keys = list_keys(fx->st);
  assert_string_equal(keys, "00000000000000000001.jsonl\n00000000000000000002.jsonl\n");
  free(keys);
  expect_records(fx->st, 6, NULL);
  assert_int_equal(tarn_applog_close(log, &err), 0);
  expect_records(fx->st, 7, NULL);
  /* a reopened log continues the sequence */
  log = open_log(fx->st, 100, -1, 0);
  append_n(log, 7, 9);
  assert_int_equal(tarn_applog_close(log, &err), 0);
  keys = list_keys(fx->st);
  assert_string_equal(keys, "00000000000000000001.jsonl\n00000000000000000002.jsonl\n"
                            "00000000000000000003.jsonl\n00000000000000000004.jsonl\n");
  free(keys);
  expect_records(fx->st, 9, NULL);
}

static void test_batch_file_format(void **state) {
  fixture *fx = *state;
  tarn_applog *log = open_log(fx->st, 100, -1, 0);
  json_t *rec = json_pack("{s:s,s:i}", "id", "fixed-id", "n", 1);
  char id[TARN_UUID_STR_LEN];
  tarn_buf b;
  size_t flushed = 0;
  assert_int_equal(tarn_applog_append(log, rec, id, NULL), 0);
  assert_string_equal(id, "fixed-id"); /* an id given is kept */
  json_decref(rec);
  rec = json_pack("{s:i}", "n", 2);
  assert_int_equal(tarn_applog_append(log, rec, id, NULL), 0);
  assert_string_equal(json_string_value(json_object_get(rec, "id")), id);
  json_decref(rec);
  assert_int_equal(tarn_applog_flush(log, &flushed, NULL), 0);
  assert_int_equal(flushed, 2);
  /* an empty flush writes nothing */
  assert_int_equal(tarn_applog_flush(log, &flushed, NULL), 0);
  assert_int_equal(flushed, 0);
  tarn_buf_init(&b, TARN_BUF_UNLIMITED);
  assert_int_equal(tarn_store_get(fx->st, PREFIX "00000000000000000001.jsonl", &b, NULL), 0);
  /* JSON lines: one compact object per line, each ending in a newline */
  {
    const char *want = "{\"id\":\"fixed-id\",\"n\":1}\n{\"n\":2,\"id\":\"";
    assert_int_equal(strncmp(b.data, want, strlen(want)), 0);
    assert_int_equal(b.data[b.len - 1], '\n');
  }
  tarn_buf_free(&b);
  assert_int_equal(tarn_applog_close(log, NULL), 0);
}

static void test_flush_by_age(void **state) {
  fixture *fx = *state;
  tarn_applog *log = open_log(fx->st, 1000, 100, 1);
  uint64_t t0 = tarn_clock_mono_ns();
  append_n(log, 0, 2);
  while (tarn_applog_pending(log) > 0 && tarn_clock_mono_ns() - t0 < 5000000000ull)
    tarn_sleep_ms(10);
  assert_int_equal(tarn_applog_pending(log), 0);
  assert_true(tarn_clock_mono_ns() - t0 >= 90000000ull); /* not before its age */
  expect_records(fx->st, 2, NULL);
  assert_int_equal(tarn_applog_close(log, NULL), 0);
}

static void test_rejects_bad_input(void **state) {
  fixture *fx = *state;
  tarn_applog_options o;
  tarn_applog *log = NULL;
  tarn_error err;
  json_t *big, *arr = json_array();
  char *s = malloc(70000);
  memset(&o, 0, sizeof(o));
  o.prefix = "no/slash";
  assert_int_equal(tarn_applog_open(fx->st, &o, &log, &err), TARN_EINVAL);
  o.prefix = "../x/";
  assert_int_equal(tarn_applog_open(fx->st, &o, &log, &err), TARN_EBADKEY);
  log = open_log(fx->st, 10, -1, 0);
  assert_int_equal(tarn_applog_append(log, arr, NULL, &err), TARN_EINVAL);
  memset(s, 'x', 69999);
  s[69999] = '\0';
  big = json_pack("{s:s}", "blob", s);
  assert_int_equal(tarn_applog_append(log, big, NULL, &err), TARN_ETOOBIG);
  assert_non_null(strstr(err.detail, "exceeds the limit"));
  assert_int_equal(tarn_applog_pending(log), 0);
  json_decref(big);
  json_decref(arr);
  free(s);
  assert_int_equal(tarn_applog_close(log, NULL), 0);
  assert_int_equal(tarn_applog_close(NULL, NULL), 0);
}

static void test_compaction(void **state) {
  fixture *fx = *state;
  tarn_applog *log = open_log(fx->st, 2, -1, 0);
  tarn_applog_compact_result res;
  tarn_applog_read_stats stats;
  char *keys;
  tarn_error err;
  /* nothing to merge with fewer than two files */
  assert_int_equal(tarn_applog_compact(log, 0, &res, &err), 0);
  assert_int_equal(res.files_merged, 0);
  assert_string_equal(res.file, "");
  append_n(log, 0, 10); /* five files */
  assert_int_equal(tarn_applog_compact(log, 0, &res, &err), 0);
  assert_int_equal(res.files_merged, 5);
  assert_int_equal(res.files_deleted, 5);
  assert_int_equal(res.records, 10);
  assert_int_equal(res.first_seq, 1);
  assert_int_equal(res.last_seq, 5);
  assert_string_equal(res.file, PREFIX "00000000000000000001-00000000000000000005.jsonl");
  keys = list_keys(fx->st);
  assert_string_equal(keys, "00000000000000000001-00000000000000000005.jsonl\n");
  free(keys);
  expect_records(fx->st, 10, NULL);
  /* later batches continue after the merged range, and a second compaction folds the
   * compacted file and the new batches into one that again sorts first */
  append_n(log, 10, 14);
  keys = list_keys(fx->st);
  assert_string_equal(keys, "00000000000000000001-00000000000000000005.jsonl\n"
                            "00000000000000000006.jsonl\n00000000000000000007.jsonl\n");
  free(keys);
  assert_int_equal(tarn_applog_compact(log, 0, &res, &err), 0);
  assert_int_equal(res.files_merged, 3);
  assert_string_equal(res.file, PREFIX "00000000000000000001-00000000000000000007.jsonl");
  append_n(log, 14, 16);
  expect_records(fx->st, 16, &stats);
  assert_int_equal(stats.files, 2);
  assert_int_equal(stats.superseded, 0);
  assert_int_equal(stats.duplicates, 0);
  assert_int_equal(tarn_applog_close(log, NULL), 0);
}

static void test_compaction_respects_size_cap(void **state) {
  fixture *fx = *state;
  tarn_applog *log = open_log(fx->st, 1, -1, 0);
  tarn_applog_compact_result res;
  tarn_store_stat st;
  append_n(log, 0, 6); /* six files of one record each, all the same size */
  assert_int_equal(tarn_store_head(fx->st, PREFIX "00000000000000000001.jsonl", &st, NULL), 0);
  /* room for two files: merges 1-2, then 3-4 ... */
  assert_int_equal(tarn_applog_compact(log, (size_t)st.size * 2 + 1, &res, NULL), 0);
  assert_int_equal(res.files_merged, 2);
  assert_int_equal(res.last_seq, 2);
  assert_int_equal(tarn_applog_compact(log, (size_t)st.size * 2 + 1, &res, NULL), 0);
  assert_int_equal(res.first_seq, 3);
  assert_int_equal(res.last_seq, 4);
  expect_records(fx->st, 6, NULL);
  assert_int_equal(tarn_applog_close(log, NULL), 0);
}

/* The state a crash between "compacted file written" and "old files deleted" leaves,
 * made with the faulty backend: the second delete fails. */
static void test_compaction_interrupted_by_failed_delete(void **state) {
  fixture *fx = *state;
  tarn_store *inner = NULL, *fs = NULL;
  tarn_applog *log;
  tarn_applog_compact_result res;
  tarn_applog_read_stats stats;
  tarn_error err;
  char *keys;
  assert_int_equal(tarn_store_local_open(fx->dir, &inner, NULL), 0);
  assert_int_equal(tarn_store_faulty_wrap(inner, &fs, NULL), 0);
  log = open_log(fs, 2, -1, 0);
  append_n(log, 0, 8); /* four files */
  assert_int_equal(
      tarn_store_faulty_add(fs, TARN_FAULT_DELETE, TARN_FAULT_ERROR, TARN_EIO, NULL, 2, 1, NULL),
      0);
  assert_int_equal(tarn_applog_compact(log, 0, &res, &err), TARN_EIO);
  assert_non_null(strstr(err.detail, "deleting them failed"));
  assert_int_equal(res.files_merged, 4);
  assert_int_equal(res.files_deleted, 3);
  keys = list_keys(fs);
  assert_string_equal(keys, "00000000000000000001-00000000000000000004.jsonl\n"
                            "00000000000000000002.jsonl\n");
  free(keys);
  /* readers see each record once, in order: the leftover is covered */
  expect_records(fs, 8, &stats);
  assert_int_equal(stats.superseded, 1);
  /* appends go on; the next compaction also removes the leftover */
  append_n(log, 8, 10);
  assert_int_equal(tarn_applog_compact(log, 0, &res, &err), 0);
  assert_string_equal(res.file, PREFIX "00000000000000000001-00000000000000000005.jsonl");
  keys = list_keys(fs);
  assert_string_equal(keys, "00000000000000000001-00000000000000000005.jsonl\n");
  free(keys);
  expect_records(fs, 10, NULL);
  assert_int_equal(tarn_applog_close(log, NULL), 0);
  tarn_store_destroy(fs);
}

static void put_text(tarn_store *st, const char *name, const char *text) {
  char key[256];
  snprintf(key, sizeof(key), PREFIX "%s", name);
  assert_int_equal(tarn_store_put(st, key, text, strlen(text), 0, NULL), 0);
}

#define REC(id, n)                                                                                 \
  "{\"id\":\"" id "\",\"n\":" #n ",\"text\":\"caf\\u00e9 \\\"quoted\\\"\\nline\"}\n"

static void test_reader_supersedes_dedupes_and_skips_malformed(void **state) {
  fixture *fx = *state;
  tarn_applog_read_stats stats;
  char *logbuf = NULL;
  size_t loglen = 0;
  FILE *lf = open_memstream(&logbuf, &loglen);
  tarn_applog *log;
  tarn_log_set_stream(lf);
  put_text(fx->st, "00000000000000000001.jsonl", REC("a", 0) REC("b", 1));
  put_text(fx->st, "00000000000000000002.jsonl", REC("c", 2));
  put_text(fx->st, "00000000000000000001-00000000000000000002.jsonl",
           REC("a", 0) REC("b", 1) REC("c", 2));
  /* a duplicate id (a flush whose success was not reported, then retried) */
  put_text(fx->st, "00000000000000000003.jsonl", REC("c", 2) REC("d", 3) "\n");
  put_text(fx->st, "00000000000000000004.jsonl",
           REC("e", 4) "{not json\n"
                       "[1,2]\n" REC("f", 5));
  put_text(fx->st, "README.txt", "not a batch file");
  put_text(fx->st, "00000000000000000005.json", "not a batch file either");
  expect_records(fx->st, 6, &stats);
  fclose(lf);
  tarn_log_set_stream(NULL);
  assert_int_equal(stats.files, 3);
  assert_int_equal(stats.superseded, 2);
  assert_int_equal(stats.duplicates, 1);
  assert_int_equal(stats.malformed, 2);
  assert_non_null(strstr(logbuf, "msg=\"append log: malformed record skipped\" file=" PREFIX
                                 "00000000000000000004.jsonl line=2"));
  assert_non_null(strstr(logbuf, "file=" PREFIX "00000000000000000004.jsonl line=3 "
                                 "error=\"not a JSON object\""));
  free(logbuf);
  /* a writer continues after the highest number it finds */
  log = open_log(fx->st, 1, -1, 0);
  append_n(log, 6, 7);
  assert_int_equal(tarn_applog_close(log, NULL), 0);
  {
    tarn_store_stat st;
    assert_int_equal(tarn_store_head(fx->st, PREFIX "00000000000000000005.jsonl", &st, NULL), 0);
  }
  lf = open_memstream(&logbuf, &loglen);
  tarn_log_set_stream(lf);
  expect_records(fx->st, 7, NULL);
  fclose(lf);
  tarn_log_set_stream(NULL);
  free(logbuf);
}

/* Faults on the way to the store: the records stay buffered, in order, nothing partial
 * is visible, and the next flush writes them all. */
static void fault_case(fixture *fx, tarn_store_fault_op op, tarn_store_fault_kind kind) {
  tarn_store *inner = NULL, *fs = NULL;
  tarn_applog *log;
  tarn_error err;
  size_t flushed = 99;
  char *keys;
  char *logbuf = NULL;
  size_t loglen = 0;
  FILE *lf = open_memstream(&logbuf, &loglen);
  tarn_log_set_stream(lf);
  assert_int_equal(tarn_store_local_open(fx->dir, &inner, NULL), 0);
  assert_int_equal(tarn_store_faulty_wrap(inner, &fs, NULL), 0);
  log = open_log(fs, 1000, -1, 0);
  append_n(log, 0, 3);
  assert_int_equal(tarn_applog_flush(log, NULL, &err), 0);
  append_n(log, 3, 6);
  assert_int_equal(tarn_store_faulty_add(fs, op, kind, 0, PREFIX, 0, 1, NULL), 0);
  assert_int_not_equal(tarn_applog_flush(log, &flushed, &err), 0);
  assert_int_equal(flushed, 0);
  assert_non_null(strstr(err.detail, "flush of 3 records"));
  assert_int_equal(tarn_applog_pending(log), 3);
  keys = list_keys(fs);
  assert_string_equal(keys, "00000000000000000001.jsonl\n");
  free(keys);
  expect_records(fs, 3, NULL);
  /* appends go on meanwhile, after the retained records */
  append_n(log, 6, 7);
  assert_int_equal(tarn_applog_flush(log, &flushed, &err), 0);
  assert_int_equal(flushed, 4);
  expect_records(fs, 7, NULL);
  assert_int_equal(tarn_applog_close(log, NULL), 0);
  tarn_store_destroy(fs);
  fclose(lf);
  tarn_log_set_stream(NULL);
  assert_non_null(strstr(logbuf, "flush failed; records stay buffered"));
  free(logbuf);
}

static void test_fault_open(void **state) { fault_case(*state, TARN_FAULT_OPEN, TARN_FAULT_ERROR); }
static void test_fault_short_write(void **state) {
  fault_case(*state, TARN_FAULT_WRITE, TARN_FAULT_SHORT);
}
static void test_fault_fsync(void **state) {
  fault_case(*state, TARN_FAULT_COMMIT, TARN_FAULT_FSYNC);
}

static void test_close_reports_lost_records(void **state) {
  fixture *fx = *state;
  tarn_store *inner = NULL, *fs = NULL;
  tarn_applog *log;
  tarn_error err;
  char *logbuf = NULL;
  size_t loglen = 0;
  FILE *lf = open_memstream(&logbuf, &loglen);
  tarn_log_set_stream(lf);
  assert_int_equal(tarn_store_local_open(fx->dir, &inner, NULL), 0);
  assert_int_equal(tarn_store_faulty_wrap(inner, &fs, NULL), 0);
  log = open_log(fs, 1000, -1, 0);
  append_n(log, 0, 2);
  assert_int_equal(
      tarn_store_faulty_add(fs, TARN_FAULT_OPEN, TARN_FAULT_ERROR, 0, NULL, 0, 0, NULL), 0);
  assert_int_equal(tarn_applog_close(log, &err), TARN_EIO);
  tarn_store_destroy(fs);
  fclose(lf);
  tarn_log_set_stream(NULL);
  assert_non_null(strstr(logbuf, "records lost at close"));
  assert_non_null(strstr(logbuf, "records=2"));
  free(logbuf);
}

/* ---- crashes ---- */

static const char *const steps[] = {"open", "write", "fsync", "rename", "dirsync"};

static void exit_at_step(const char *step, void *arg) {
  if (strcmp(step, (const char *)arg) == 0)
    _exit(0);
}

/* Child: a second flush of three records dies at `step`. */
static void child_flush(const char *dir, const char *step) {
  tarn_store *st = NULL;
  tarn_applog *log;
  if (tarn_store_local_open(dir, &st, NULL) != 0)
    _exit(3);
  log = open_log(st, 1000, -1, 0);
  append_n(log, 3, 6);
  tarn_store_local_set_step_hook(exit_at_step, (void *)step);
  tarn_applog_flush(log, NULL, NULL);
  _exit(2);
}

static void test_crash_mid_flush(void **state) {
  fixture *fx = *state;
  size_t i;
  for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
    tarn_applog *log;
    pid_t pid;
    int status = 0, want = strcmp(steps[i], "dirsync") == 0 ? 6 : 3;
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf %s/log", fx->dir);
    assert_int_equal(system(cmd), 0);
    log = open_log(fx->st, 1000, -1, 0);
    append_n(log, 0, 3);
    assert_int_equal(tarn_applog_close(log, NULL), 0);
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
      child_flush(fx->dir, steps[i]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      fail_msg("child did not die at step %s (status 0x%x)", steps[i], status);
    /* the old set (3 records) or the new one (6), never a partial batch */
    expect_records(fx->st, want, NULL);
    /* and a new writer carries on after it */
    log = open_log(fx->st, 1000, -1, 0);
    append_n(log, want, want + 1);
    assert_int_equal(tarn_applog_close(log, NULL), 0);
    expect_records(fx->st, want + 1, NULL);
  }
}

/* Child: compacts (four files) and dies at `step` of writing the merged file, or by
 * SIGKILL once it is written and before the old files are deleted. */
static void child_compact(const char *dir, const char *step) {
  tarn_store *st = NULL;
  tarn_applog *log;
  tarn_applog_compact_result res;
  if (tarn_store_local_open(dir, &st, NULL) != 0)
    _exit(3);
  log = open_log(st, 1000, -1, 0);
  tarn_store_local_set_step_hook(exit_at_step, (void *)step);
  tarn_applog_compact(log, 0, &res, NULL);
  _exit(2);
}

static void test_crash_mid_compaction(void **state) {
  fixture *fx = *state;
  size_t i;
  for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
    tarn_applog *log;
    tarn_applog_compact_result res;
    tarn_applog_read_stats stats;
    pid_t pid;
    int status = 0, written = strcmp(steps[i], "dirsync") == 0;
    char cmd[160], *keys;
    snprintf(cmd, sizeof(cmd), "rm -rf %s/log", fx->dir);
    assert_int_equal(system(cmd), 0);
    log = open_log(fx->st, 2, -1, 0);
    append_n(log, 0, 8); /* four files */
    assert_int_equal(tarn_applog_close(log, NULL), 0);
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
      child_compact(fx->dir, steps[i]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      fail_msg("child did not die at step %s (status 0x%x)", steps[i], status);
    keys = list_keys(fx->st);
    if (written) /* merged file in place, nothing deleted: duplicates readers drop */
      assert_string_equal(keys, "00000000000000000001-00000000000000000004.jsonl\n"
                                "00000000000000000001.jsonl\n00000000000000000002.jsonl\n"
                                "00000000000000000003.jsonl\n00000000000000000004.jsonl\n");
    else
      assert_string_equal(keys, "00000000000000000001.jsonl\n00000000000000000002.jsonl\n"
                                "00000000000000000003.jsonl\n00000000000000000004.jsonl\n");
    free(keys);
    expect_records(fx->st, 8, &stats);
    assert_int_equal(stats.superseded, written ? 4 : 0);
    /* recovery: the next compaction (after more appends) leaves one file */
    log = open_log(fx->st, 2, -1, 0);
    append_n(log, 8, 10);
    assert_int_equal(tarn_applog_compact(log, 0, &res, NULL), 0);
    assert_int_equal(tarn_applog_close(log, NULL), 0);
    keys = list_keys(fx->st);
    assert_string_equal(keys, "00000000000000000001-00000000000000000005.jsonl\n");
    free(keys);
    expect_records(fx->st, 10, NULL);
  }
}

static void test_sigkill_mid_appends(void **state) {
  fixture *fx = *state;
  pid_t pid;
  int status = 0;
  collected *c = calloc(1, sizeof(*c));
  size_t i;
  fflush(NULL);
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    tarn_store *st = NULL;
    tarn_applog *log;
    int n;
    if (tarn_store_local_open(fx->dir, &st, NULL) != 0)
      _exit(3);
    log = open_log(st, 7, -1, 0);
    for (n = 0;; n++) {
      append_n(log, n, n + 1);
      if (n == 500)
        raise(SIGKILL);
    }
  }
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFSIGNALED(status));
  /* every flushed batch is whole: a multiple of 7 records, in order */
  assert_int_equal(tarn_applog_read(fx->st, PREFIX, collect, c, NULL, NULL), 0);
  assert_int_equal(c->count % 7, 0);
  assert_true(c->count >= 490);
  for (i = 0; i < c->count; i++)
    assert_int_equal(c->n[i], (int)i);
  free(c);
}

static void test_concurrent_appends(void **state);

/* Every allocation of a session (open, appends, flush, compaction, read, close) failing in
 * turn: an error or success, never a crash, a leak or a partial batch. */
static int count_records(json_t *rec, const char *file, void *ud) {
  (*(size_t *)ud)++;
  return 0;
}

static int session(tarn_store *st) {
  tarn_applog_options o;
  tarn_applog *log = NULL;
  tarn_applog_compact_result res;
  size_t n = 0;
  int rc, i;
  memset(&o, 0, sizeof(o));
  o.prefix = PREFIX;
  o.flush_records = 2;
  o.flush_age_ms = -1;
  rc = tarn_applog_open(st, &o, &log, NULL);
  if (rc != 0)
    return rc;
  for (i = 0; i < 5 && rc == 0; i++) {
    json_t *rec = json_pack("{s:i}", "n", i);
    rc = rec == NULL ? TARN_ENOMEM : tarn_applog_append(log, rec, NULL, NULL);
    json_decref(rec);
  }
  if (rc == 0)
    rc = tarn_applog_flush(log, NULL, NULL);
  if (rc == 0)
    rc = tarn_applog_compact(log, 0, &res, NULL);
  if (rc == 0)
    rc = tarn_applog_read(st, PREFIX, count_records, &n, NULL, NULL);
  tarn_applog_close(log, NULL);
  return rc;
}

static void test_allocation_failures(void **state) {
  fixture *fx = *state;
  long total, i;
  char cmd[160];
  FILE *devnull = fopen("/dev/null", "w");
  tarn_log_set_stream(devnull); /* every failure is logged; that is expected here */
  json_set_alloc_funcs(tarn_malloc, tarn_free);
  tarn_alloc_fail_reset();
  assert_int_equal(session(fx->st), 0);
  total = tarn_alloc_count();
  assert_true(total > 20);
  for (i = 0; i < total; i++) {
    snprintf(cmd, sizeof(cmd), "rm -rf %s/log", fx->dir);
    assert_int_equal(system(cmd), 0);
    tarn_alloc_fail_after(i);
    session(fx->st);
    tarn_alloc_fail_reset();
    /* whatever was written is whole and in order */
    {
      collected *c = calloc(1, sizeof(*c));
      tarn_applog_read_stats stats;
      size_t k;
      assert_int_equal(tarn_applog_read(fx->st, PREFIX, collect_n, c, &stats, NULL), 0);
      assert_int_equal(stats.malformed, 0);
      for (k = 0; k < c->count; k++)
        assert_int_equal(c->n[k], (int)k);
      free(c);
    }
  }
  json_set_alloc_funcs(malloc, free);
  tarn_log_set_stream(NULL);
  fclose(devnull);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_flush_by_count_and_close, setup, teardown),
      cmocka_unit_test_setup_teardown(test_batch_file_format, setup, teardown),
      cmocka_unit_test_setup_teardown(test_flush_by_age, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rejects_bad_input, setup, teardown),
      cmocka_unit_test_setup_teardown(test_compaction, setup, teardown),
      cmocka_unit_test_setup_teardown(test_compaction_respects_size_cap, setup, teardown),
      cmocka_unit_test_setup_teardown(test_compaction_interrupted_by_failed_delete, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_reader_supersedes_dedupes_and_skips_malformed, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_fault_open, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fault_short_write, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fault_fsync, setup, teardown),
      cmocka_unit_test_setup_teardown(test_close_reports_lost_records, setup, teardown),
      cmocka_unit_test_setup_teardown(test_crash_mid_flush, setup, teardown),
      cmocka_unit_test_setup_teardown(test_crash_mid_compaction, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sigkill_mid_appends, setup, teardown),
      cmocka_unit_test_setup_teardown(test_concurrent_appends, setup, teardown),
      cmocka_unit_test_setup_teardown(test_allocation_failures, setup, teardown),
  };
  tarn_log_set_level(TARN_LOG_WARN);
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* ---- threads ---- */

typedef struct appender {
  tarn_applog *log;
  int tid;
} appender;

static void *append_thread(void *arg) {
  appender *a = arg;
  int i;
  for (i = 0; i < 200; i++) {
    json_t *rec = json_pack("{s:i,s:i}", "t", a->tid, "i", i);
    tarn_applog_append(a->log, rec, NULL, NULL);
    json_decref(rec);
  }
  return NULL;
}

typedef struct per_thread {
  int last[4];
  size_t count;
  int ordered;
} per_thread;

static int check_thread_order(json_t *rec, const char *file, void *ud) {
  per_thread *p = ud;
  int t = (int)json_integer_value(json_object_get(rec, "t"));
  int i = (int)json_integer_value(json_object_get(rec, "i"));
  if (i != p->last[t] + 1)
    p->ordered = 0;
  p->last[t] = i;
  p->count++;
  return 0;
}

#include <pthread.h>

/* Four threads append while the background thread flushes by age and the record
 * threshold flushes inline: every record lands once, each thread's in its order. */
static void test_concurrent_appends(void **state) {
  fixture *fx = *state;
  tarn_applog *log = open_log(fx->st, 37, 5, 1);
  pthread_t t[4];
  appender a[4];
  per_thread p;
  tarn_applog_compact_result res;
  int i;
  for (i = 0; i < 4; i++) {
    a[i].log = log;
    a[i].tid = i;
    assert_int_equal(pthread_create(&t[i], NULL, append_thread, &a[i]), 0);
  }
  for (i = 0; i < 4; i++)
    pthread_join(t[i], NULL);
  assert_int_equal(tarn_applog_compact(log, 0, &res, NULL), 0);
  assert_int_equal(tarn_applog_close(log, NULL), 0);
  memset(&p, 0, sizeof(p));
  for (i = 0; i < 4; i++)
    p.last[i] = -1;
  p.ordered = 1;
  assert_int_equal(tarn_applog_read(fx->st, PREFIX, check_thread_order, &p, NULL, NULL), 0);
  assert_int_equal(p.count, 800);
  assert_true(p.ordered);
}
