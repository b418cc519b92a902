/* test_journal_wal.c - the write-ahead log (journal/wal.c): replay in order across
 * segments and reopenings, torn tails cut at the last whole record, damage elsewhere
 * refused with the segment and offset, group commit that acknowledges nothing before its
 * fsync (checked by recording what each fsync covered, not by timing), a failed fsync
 * that is final, a full disk that fails the sync and leaves the segment whole, release
 * after a table commit. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "journal/wal.h"

#include "support/temp_dir.h"

typedef temp_dir fx;

static int setup(void **state) { return temp_dir_setup(state, "tarn-wal"); }

static int teardown(void **state) { return temp_dir_teardown(state); }

/* ---- helpers ---- */

/* What a replay saw: the records' numbers and payloads, in order. */
typedef struct seen {
  uint64_t seq[4096];
  char text[4096][48];
  size_t n;
} seen;

static int collect(uint64_t seq, const void *p, size_t len, void *ctx, tarn_error *err) {
  seen *s = ctx;
  (void)err;
  assert_true(s->n < 4096);
  assert_true(len < sizeof(s->text[0]));
  s->seq[s->n] = seq;
  memcpy(s->text[s->n], p, len);
  s->text[s->n][len] = '\0';
  s->n++;
  return 0;
}

static tarn_wal *open_wal(const char *dir, uint64_t seg_bytes, uint64_t min_next, seen *s) {
  tarn_wal_options o;
  tarn_wal *w = NULL;
  tarn_error err;
  memset(&o, 0, sizeof(o));
  o.dir = dir;
  o.segment_bytes = seg_bytes;
  o.min_next_seq = min_next;
  if (s != NULL)
    memset(s, 0, sizeof(*s));
  if (tarn_wal_open(&o, s != NULL ? collect : NULL, s, &w, &err) != 0)
    fail_msg("open: %s", tarn_error_message(&err));
  return w;
}

/* Appends "rec-<i>" for i in [from, to) one at a time, each synced. */
static void append_range(tarn_wal *w, int from, int to) {
  int i;
  for (i = from; i < to; i++) {
    char b[32];
    tarn_wal_rec r;
    uint64_t seq;
    tarn_error err;
    r.p = b;
    r.len = (size_t)snprintf(b, sizeof(b), "rec-%d", i);
    if (tarn_wal_append(w, &r, 1, &seq, &err) != 0 || tarn_wal_sync(w, seq, &err) != 0)
      fail_msg("append %d: %s", i, tarn_error_message(&err));
  }
}

static void expect_records(const seen *s, int from, int to, uint64_t first_seq) {
  int i;
  assert_int_equal(s->n, (size_t)(to - from));
  for (i = 0; i < to - from; i++) {
    char b[32];
    snprintf(b, sizeof(b), "rec-%d", from + i);
    assert_int_equal(s->seq[i], first_seq + (uint64_t)i);
    assert_string_equal(s->text[i], b);
  }
}

/* The segment files, oldest first (up to 64). */
static size_t segments(const char *dir, char names[][64]) {
  char cmd[160];
  FILE *p;
  size_t n = 0;
  snprintf(cmd, sizeof(cmd), "ls %s | grep '\\.wal$' | sort", dir);
  p = popen(cmd, "r");
  assert_non_null(p);
  while (n < 64 && fgets(names[n], 64, p) != NULL) {
    names[n][strcspn(names[n], "\n")] = '\0';
    n++;
  }
  pclose(p);
  return n;
}

static off_t file_size(const char *dir, const char *name) {
  char path[160];
  struct stat st;
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  assert_int_equal(stat(path, &st), 0);
  return st.st_size;
}

/* Overwrites bytes at `at` of a segment (or appends them at the end when at < 0). */
static void poke(const char *dir, const char *name, off_t at, const void *p, size_t n) {
  char path[160];
  int fd;
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  fd = open(path, O_WRONLY);
  assert_true(fd >= 0);
  if (at < 0)
    at = lseek(fd, 0, SEEK_END);
  assert_int_equal(pwrite(fd, p, n, at), (ssize_t)n);
  close(fd);
}

static void cut(const char *dir, const char *name, off_t size) {
  char path[160];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  assert_int_equal(truncate(path, size), 0);
}

static int open_fails(const char *dir, tarn_error *err) {
  tarn_wal_options o;
  tarn_wal *w = NULL;
  seen *s = calloc(1, sizeof(*s));
  int rc;
  memset(&o, 0, sizeof(o));
  o.dir = dir;
  rc = tarn_wal_open(&o, collect, s, &w, err);
  tarn_wal_close(w);
  free(s);
  return rc;
}

/* ---- tests ---- */

static void test_replay_in_order_across_reopen(void **state) {
  fx *f = *state;
  seen *s = calloc(1, sizeof(*s));
  tarn_wal_stats st;
  tarn_wal *w = open_wal(f->dir, 0, 0, s);
  assert_int_equal(s->n, 0);
  append_range(w, 0, 100);
  tarn_wal_stats_get(w, &st);
  assert_int_equal(st.next_seq, 101);
  assert_int_equal(st.durable_seq, 100);
  assert_int_equal(st.records_appended, 100);
  tarn_wal_close(w);

  w = open_wal(f->dir, 0, 0, s);
  expect_records(s, 0, 100, 1);
  append_range(w, 100, 150); /* numbering goes on: never restarts */
  tarn_wal_close(w);
  w = open_wal(f->dir, 0, 0, s);
  expect_records(s, 0, 150, 1);
  tarn_wal_close(w);
  free(s);
}

static void test_batch_append_is_consecutive(void **state) {
  fx *f = *state;
  seen *s = calloc(1, sizeof(*s));
  tarn_wal *w = open_wal(f->dir, 0, 0, NULL);
  tarn_wal_rec r[3] = {{"rec-0", 5}, {"rec-1", 5}, {"rec-2", 5}};
  uint64_t first = 0;
  tarn_error err;
  assert_int_equal(tarn_wal_append(w, r, 3, &first, &err), 0);
  assert_int_equal(first, 1);
  assert_int_equal(tarn_wal_sync(w, 3, &err), 0);
  assert_int_equal(tarn_wal_sync(w, 4, &err), TARN_EINVAL); /* never appended */
  tarn_wal_close(w);
  w = open_wal(f->dir, 0, 0, s);
  expect_records(s, 0, 3, 1);
  tarn_wal_close(w);
  free(s);
}

static void test_segments_rotate_and_release(void **state) {
  fx *f = *state;
  seen *s = calloc(1, sizeof(*s));
  char names[64][64];
  tarn_wal_stats st;
  tarn_error err;
  size_t n;
  tarn_wal *w = open_wal(f->dir, 256, 0, NULL); /* a few records per segment */
  append_range(w, 0, 60);
  tarn_wal_close(w);
  n = segments(f->dir, names);
  assert_true(n >= 5);
  assert_string_equal(names[0], "00000000000000000001.wal");

  w = open_wal(f->dir, 256, 0, s);
  expect_records(s, 0, 60, 1);
  /* the table now holds records 1..30: segments holding only those go */
  assert_int_equal(tarn_wal_release(w, 30, &err), 0);
  tarn_wal_stats_get(w, &st);
  assert_true(st.segments < n);
  tarn_wal_close(w);
  w = open_wal(f->dir, 256, 31, s); /* the journal opens past what its table holds */
  assert_true(s->n >= 30 && s->n < 60);
  assert_int_equal(s->seq[s->n - 1], 60);
  {
    size_t i;
    for (i = 0; i < s->n; i++)
      assert_true(s->seq[i] >= 31); /* held elsewhere: not replayed */
  }
  /* everything in the table: every segment goes, the current one too */
  assert_int_equal(tarn_wal_release(w, 60, &err), 0);
  tarn_wal_stats_get(w, &st);
  assert_int_equal(st.segments, 0);
  append_range(w, 60, 62); /* a new segment, numbering unbroken */
  tarn_wal_close(w);
  w = open_wal(f->dir, 256, 0, s);
  expect_records(s, 60, 62, 61);
  tarn_wal_close(w);
  free(s);
}

static void test_min_next_seq_starts_past_the_table(void **state) {
  fx *f = *state;
  seen *s = calloc(1, sizeof(*s));
  tarn_wal *w = open_wal(f->dir, 0, 0, NULL);
  append_range(w, 0, 10);
  tarn_wal_close(w);
  /* the table holds up to 500 (this log's segments were lost or released): nothing to
   * replay, the old segments go, numbering continues past the table */
  w = open_wal(f->dir, 0, 501, s);
  assert_int_equal(s->n, 0);
  append_range(w, 10, 12);
  tarn_wal_close(w);
  w = open_wal(f->dir, 0, 0, s);
  expect_records(s, 10, 12, 501);
  tarn_wal_close(w);
  free(s);
}

static void test_torn_tail_is_cut(void **state) {
  fx *f = *state;
  seen *s = calloc(1, sizeof(*s));
  char names[64][64];
  tarn_wal_stats st;
  off_t whole;
  tarn_wal *w = open_wal(f->dir, 0, 0, NULL);
  append_range(w, 0, 20);
  tarn_wal_close(w);
  assert_int_equal(segments(f->dir, names), 1);
  whole = file_size(f->dir, names[0]);

  /* half of a record's header */
  poke(f->dir, names[0], -1, "\x05\x00\x00", 3);
  w = open_wal(f->dir, 0, 0, s);
  expect_records(s, 0, 20, 1);
  tarn_wal_stats_get(w, &st);
  assert_int_equal(st.truncated_bytes, 3);
  tarn_wal_close(w);
  assert_int_equal(file_size(f->dir, names[0]), whole);

  /* the last record cut short */
  cut(f->dir, names[0], whole - 2);
  w = open_wal(f->dir, 0, 0, s);
  expect_records(s, 0, 19, 1);
  append_range(w, 100, 101); /* takes the cut record's number */
  tarn_wal_close(w);
  w = open_wal(f->dir, 0, 0, s);
  assert_int_equal(s->n, 20);
  assert_int_equal(s->seq[19], 20);
  assert_string_equal(s->text[19], "rec-100");
  tarn_wal_close(w);

  /* zeros after the end (a file extended but never written) */
  {
    char zeros[4096];
    memset(zeros, 0, sizeof(zeros));
    poke(f->dir, names[0], -1, zeros, sizeof(zeros));
  }
  w = open_wal(f->dir, 0, 0, s);
  assert_int_equal(s->n, 20);
  tarn_wal_close(w);
  free(s);
}

static void test_last_record_garbled_is_a_torn_tail(void **state) {
  fx *f = *state;
  seen *s = calloc(1, sizeof(*s));
  char names[64][64];
  off_t whole;
  tarn_wal *w = open_wal(f->dir, 0, 0, NULL);
  append_range(w, 0, 5);
  tarn_wal_close(w);
  segments(f->dir, names);
  whole = file_size(f->dir, names[0]);
  poke(f->dir, names[0], whole - 1, "X", 1); /* the last byte of the last record */
  w = open_wal(f->dir, 0, 0, s);
  expect_records(s, 0, 4, 1);
  tarn_wal_close(w);
  free(s);
}

static void test_corrupt_middle_record_is_refused(void **state) {
  fx *f = *state;
  char names[64][64];
  off_t before, at;
  tarn_error err;
  tarn_wal *w = open_wal(f->dir, 0, 0, NULL);
  append_range(w, 0, 10);
  tarn_wal_close(w);
  segments(f->dir, names);
  before = file_size(f->dir, names[0]);
  /* record 3's payload: the segment header, 2 records of 16 + 5 bytes, then its header */
  at = TARN_WAL_SEGMENT_HEADER + 2 * (TARN_WAL_RECORD_HEADER + 5) + TARN_WAL_RECORD_HEADER;
  poke(f->dir, names[0], at, "X", 1);
  assert_int_equal(open_fails(f->dir, &err), TARN_ECORRUPT);
  assert_non_null(strstr(tarn_error_message(&err), names[0]));
  assert_non_null(strstr(tarn_error_message(&err), "offset 58"));
  assert_non_null(strstr(tarn_error_message(&err), "checksum mismatch"));
  assert_int_equal(file_size(f->dir, names[0]), before); /* nothing changed */
}

static void test_damage_before_the_last_segment_is_refused(void **state) {
  fx *f = *state;
  char names[64][64];
  tarn_error err;
  size_t n;
  tarn_wal *w = open_wal(f->dir, 128, 0, NULL);
  append_range(w, 0, 30);
  tarn_wal_close(w);
  n = segments(f->dir, names);
  assert_true(n >= 3);
  /* the first segment's tail cut: not the log's tail, so not torn */
  cut(f->dir, names[0], file_size(f->dir, names[0]) - 1);
  assert_int_equal(open_fails(f->dir, &err), TARN_ECORRUPT);
  assert_non_null(strstr(tarn_error_message(&err), names[0]));
}

static void test_missing_segment_is_refused(void **state) {
  fx *f = *state;
  char names[64][64], path[160];
  tarn_error err;
  tarn_wal *w = open_wal(f->dir, 128, 0, NULL);
  append_range(w, 0, 30);
  tarn_wal_close(w);
  assert_true(segments(f->dir, names) >= 3);
  snprintf(path, sizeof(path), "%s/%s", f->dir, names[1]);
  assert_int_equal(unlink(path), 0);
  assert_int_equal(open_fails(f->dir, &err), TARN_ECORRUPT);
  assert_non_null(strstr(tarn_error_message(&err), "a segment is missing"));
}

static void test_half_created_segment_goes(void **state) {
  fx *f = *state;
  seen *s = calloc(1, sizeof(*s));
  char names[64][64];
  tarn_wal *w = open_wal(f->dir, 0, 0, NULL);
  int fd;
  char path[160];
  append_range(w, 0, 3);
  tarn_wal_close(w);
  /* a crash while creating the next segment: its header never made it */
  snprintf(path, sizeof(path), "%s/00000000000000000004.wal", f->dir);
  fd = open(path, O_WRONLY | O_CREAT, 0644);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "TARN", 4), 4);
  close(fd);
  w = open_wal(f->dir, 0, 0, s);
  expect_records(s, 0, 3, 1);
  append_range(w, 3, 4);
  tarn_wal_close(w);
  w = open_wal(f->dir, 0, 0, s);
  expect_records(s, 0, 4, 1);
  tarn_wal_close(w);
  assert_int_equal(segments(f->dir, names), 1);
  free(s);
}

/* ---- group commit, checked by what each fsync covered ---- */

typedef struct syncs {
  pthread_mutex_t mu;
  int calls;
  int fail_from; /* the fsync call (1-based) from which fsync fails; 0: never */
  int enospc_writes;
} syncs;

static int counting_fsync(int fd, void *ctx) {
  syncs *s = ctx;
  int fail;
  (void)fd;
  pthread_mutex_lock(&s->mu);
  s->calls++;
  fail = s->fail_from > 0 && s->calls >= s->fail_from;
  pthread_mutex_unlock(&s->mu);
  if (fail) {
    errno = EIO;
    return -1;
  }
  usleep(2000); /* a disk: appenders pile up behind a running fsync */
  return fsync(fd);
}

static ssize_t full_disk_pwrite(int fd, const void *p, size_t n, off_t at, void *ctx) {
  syncs *s = ctx;
  if (s->enospc_writes > 0) {
    s->enospc_writes--;
    /* a part of the bytes lands, then the disk is full */
    if (n > 7 && pwrite(fd, p, 7, at) != 7)
      return -1;
    errno = ENOSPC;
    return -1;
  }
  return pwrite(fd, p, n, at);
}

/* A WAL in dir whose fsync or pwrite (whichever is not NULL) is the test's, counting in
 * sc (initialised here; destroy sc.mu after). */
static tarn_wal *open_hooked(const char *dir, syncs *sc, tarn_wal_io *io,
                             int (*fsync_fn)(int, void *),
                             ssize_t (*pwrite_fn)(int, const void *, size_t, off_t, void *)) {
  tarn_wal_options o;
  tarn_wal *w = NULL;
  tarn_error err;
  memset(sc, 0, sizeof(*sc));
  pthread_mutex_init(&sc->mu, NULL);
  memset(io, 0, sizeof(*io));
  io->fsync = fsync_fn;
  io->pwrite = pwrite_fn;
  io->ctx = sc;
  memset(&o, 0, sizeof(o));
  o.dir = dir;
  o.io = io;
  if (tarn_wal_open(&o, NULL, NULL, &w, &err) != 0)
    fail_msg("open: %s", tarn_error_message(&err));
  return w;
}

typedef struct writer {
  tarn_wal *w;
  int id, n;
  uint64_t *acked; /* per record: the sequence number, once sync returned */
} writer;

static void *writer_main(void *arg) {
  writer *wr = arg;
  int i;
  for (i = 0; i < wr->n; i++) {
    char b[32];
    tarn_wal_rec r;
    uint64_t seq;
    tarn_wal_stats st;
    tarn_error err;
    r.p = b;
    r.len = (size_t)snprintf(b, sizeof(b), "w%d-%d", wr->id, i);
    if (tarn_wal_append(wr->w, &r, 1, &seq, &err) != 0 || tarn_wal_sync(wr->w, seq, &err) != 0)
      fail_msg("writer %d: %s", wr->id, tarn_error_message(&err));
    /* acknowledged: an fsync that began after the append finished has covered it */
    tarn_wal_stats_get(wr->w, &st);
    assert_true(st.durable_seq >= seq);
    wr->acked[i] = seq;
  }
  return NULL;
}

static void test_group_commit_shares_fsyncs(void **state) {
  fx *f = *state;
  enum { WRITERS = 16, EACH = 40 };
  syncs sc;
  tarn_wal_io io;
  tarn_wal *w = open_hooked(f->dir, &sc, &io, counting_fsync, NULL);
  tarn_wal_stats st;
  pthread_t t[WRITERS];
  writer wr[WRITERS];
  seen *s = calloc(1, sizeof(*s));
  int i, j, calls_before = sc.calls;
  for (i = 0; i < WRITERS; i++) {
    wr[i].w = w;
    wr[i].id = i;
    wr[i].n = EACH;
    wr[i].acked = calloc(EACH, sizeof(uint64_t));
    assert_int_equal(pthread_create(&t[i], NULL, writer_main, &wr[i]), 0);
  }
  for (i = 0; i < WRITERS; i++)
    pthread_join(t[i], NULL);
  tarn_wal_stats_get(w, &st);
  assert_int_equal(st.records_appended, WRITERS * EACH);
  /* fewer fsyncs than acknowledged appends: they were shared (the segment's creation
   * took one of its own) */
  print_message("%d appends, %d fsyncs\n", WRITERS * EACH, sc.calls - calls_before);
  assert_true(sc.calls - calls_before < WRITERS * EACH);
  tarn_wal_close(w);

  /* every acknowledged record is there once, each writer's in its order */
  w = open_wal(f->dir, 0, 0, s);
  assert_int_equal(s->n, WRITERS * EACH);
  for (i = 0; i < WRITERS; i++) {
    for (j = 0; j < EACH; j++) {
      char b[32];
      uint64_t q = wr[i].acked[j];
      snprintf(b, sizeof(b), "w%d-%d", i, j);
      assert_true(q >= 1 && q <= (uint64_t)s->n);
      assert_string_equal(s->text[q - 1], b);
      if (j > 0)
        assert_true(q > wr[i].acked[j - 1]);
    }
    free(wr[i].acked);
  }
  tarn_wal_close(w);
  pthread_mutex_destroy(&sc.mu);
  free(s);
}

static void test_failed_fsync_is_final(void **state) {
  fx *f = *state;
  syncs sc;
  tarn_wal_io io;
  tarn_wal *w = open_hooked(f->dir, &sc, &io, counting_fsync, NULL);
  tarn_wal_stats st;
  tarn_error err;
  tarn_wal_rec r = {"x", 1};
  uint64_t seq;
  int calls;
  assert_int_equal(tarn_wal_append(w, &r, 1, &seq, &err), 0);
  assert_int_equal(tarn_wal_sync(w, seq, &err), 0);
  sc.fail_from = sc.calls + 1;
  assert_int_equal(tarn_wal_append(w, &r, 1, &seq, &err), 0);
  assert_int_equal(tarn_wal_sync(w, seq, &err), TARN_EFSYNC);
  calls = sc.calls;
  /* not retried, and nothing more accepted */
  assert_int_equal(tarn_wal_sync(w, seq, &err), TARN_EFSYNC);
  assert_int_equal(tarn_wal_append(w, &r, 1, &seq, &err), TARN_EFSYNC);
  assert_non_null(strstr(tarn_error_message(&err), "fsync failed earlier"));
  assert_int_equal(sc.calls, calls);
  tarn_wal_stats_get(w, &st);
  assert_int_equal(st.failed, 1);
  assert_int_equal(st.durable_seq, 1);
  tarn_wal_close(w);
  pthread_mutex_destroy(&sc.mu);
}

static void test_full_disk_fails_the_sync_and_leaves_the_segment_whole(void **state) {
  fx *f = *state;
  seen *s = calloc(1, sizeof(*s));
  syncs sc;
  tarn_wal_io io;
  tarn_wal *w = open_hooked(f->dir, &sc, &io, NULL, full_disk_pwrite);
  tarn_wal_stats st;
  tarn_error err;
  tarn_wal_rec r = {"rec-1", 5};
  uint64_t seq;
  append_range(w, 0, 1);
  sc.enospc_writes = 1;
  /* the append is buffered; the sync that writes it finds the disk full (7 bytes land,
   * then ENOSPC): not acknowledged, and the log takes nothing more */
  assert_int_equal(tarn_wal_append(w, &r, 1, &seq, &err), 0);
  assert_int_equal(tarn_wal_sync(w, seq, &err), TARN_ENOSPC);
  assert_int_equal(tarn_wal_append(w, &r, 1, &seq, &err), TARN_ENOSPC);
  assert_non_null(strstr(tarn_error_message(&err), "a write failed earlier"));
  tarn_wal_stats_get(w, &st);
  assert_int_equal(st.durable_seq, 1);
  tarn_wal_close(w);
  /* reopened (space again): whole, the unwritten record's number given again */
  w = open_wal(f->dir, 0, 0, s);
  expect_records(s, 0, 1, 1);
  append_range(w, 1, 3);
  tarn_wal_close(w);
  w = open_wal(f->dir, 0, 0, s);
  expect_records(s, 0, 3, 1);
  tarn_wal_close(w);
  pthread_mutex_destroy(&sc.mu);
  free(s);
}

static void test_oversized_record_is_refused(void **state) {
  fx *f = *state;
  tarn_wal_options o;
  tarn_wal *w = NULL;
  tarn_error err;
  char big[200];
  tarn_wal_rec r = {big, sizeof(big)};
  uint64_t seq;
  memset(big, 'x', sizeof(big));
  memset(&o, 0, sizeof(o));
  o.dir = f->dir;
  o.max_record = 100;
  assert_int_equal(tarn_wal_open(&o, NULL, NULL, &w, &err), 0);
  assert_int_equal(tarn_wal_append(w, &r, 1, &seq, &err), TARN_ETOOBIG);
  tarn_wal_close(w);
}

static void test_one_process_per_log(void **state) {
  fx *f = *state;
  tarn_wal_options o;
  tarn_wal *a = NULL, *b = NULL;
  tarn_error err;
  pid_t pid;
  int status;
  memset(&o, 0, sizeof(o));
  o.dir = f->dir;
  assert_int_equal(tarn_wal_open(&o, NULL, NULL, &a, &err), 0);
  /* another process is refused while this one holds the log */
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int rc = tarn_wal_open(&o, NULL, NULL, &b, &err);
    _exit(rc == TARN_EBUSY && strstr(tarn_error_message(&err), "in use by another process") ? 0
                                                                                            : 1);
  }
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  tarn_wal_close(a);
  /* and welcome once it is closed (or killed: the kernel drops the lock) */
  assert_int_equal(tarn_wal_open(&o, NULL, NULL, &b, &err), 0);
  tarn_wal_close(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_replay_in_order_across_reopen, setup, teardown),
      cmocka_unit_test_setup_teardown(test_batch_append_is_consecutive, setup, teardown),
      cmocka_unit_test_setup_teardown(test_segments_rotate_and_release, setup, teardown),
      cmocka_unit_test_setup_teardown(test_min_next_seq_starts_past_the_table, setup, teardown),
      cmocka_unit_test_setup_teardown(test_torn_tail_is_cut, setup, teardown),
      cmocka_unit_test_setup_teardown(test_last_record_garbled_is_a_torn_tail, setup, teardown),
      cmocka_unit_test_setup_teardown(test_corrupt_middle_record_is_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_damage_before_the_last_segment_is_refused, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_missing_segment_is_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_half_created_segment_goes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_group_commit_shares_fsyncs, setup, teardown),
      cmocka_unit_test_setup_teardown(test_failed_fsync_is_final, setup, teardown),
      cmocka_unit_test_setup_teardown(test_full_disk_fails_the_sync_and_leaves_the_segment_whole,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_oversized_record_is_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_one_process_per_log, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
