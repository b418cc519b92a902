/* journal_bench.c - durable journal appends per second with 1, 8 and 32 concurrent
 * writers: tarn's journal (WAL with group commit, tarn_journal_append) against SQLite in
 * WAL mode with synchronous=FULL doing the same batching: writers queue their event and
 * wait; whoever finds no commit running takes everything queued and commits it in one
 * transaction (one fsync), then wakes those it committed. Each writer appends one event
 * at a time and waits for it to be durable, as an API client does. Same disk, same run.
 *
 * usage: journal_bench [seconds per run (default 3)] [runs (default 3)] [dir (default /tmp)]
 * Prints medians and ratios; asserts nothing. */
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "journal/journal.h"

#define MAX_WRITERS 32

static double seconds;
static char base[256];

/* ---- tarn ---- */

/* One writer thread: its target (the journal, or the SQLite queue), its number, the
 * shared stop flag, and the appends it had acknowledged. */
typedef struct writer {
  void *ctx;
  int id;
  atomic_int *stop;
  long done;
} writer;

/* Runs `writers` threads of fn for the run's seconds; acknowledged appends per second. */
static double timed_writers(void *(*fn)(void *), void *ctx, int writers) {
  pthread_t t[MAX_WRITERS];
  writer w[MAX_WRITERS];
  atomic_int stop;
  uint64_t t0, t1;
  long total = 0;
  int i;
  atomic_init(&stop, 0);
  t0 = tarn_clock_mono_ns();
  for (i = 0; i < writers; i++) {
    w[i].ctx = ctx;
    w[i].id = i;
    w[i].stop = &stop;
    w[i].done = 0;
    pthread_create(&t[i], NULL, fn, &w[i]);
  }
  usleep((useconds_t)(seconds * 1e6));
  atomic_store(&stop, 1);
  for (i = 0; i < writers; i++) {
    pthread_join(t[i], NULL);
    total += w[i].done;
  }
  t1 = tarn_clock_mono_ns();
  return (double)total / ((double)(t1 - t0) / 1e9);
}

static void *tarn_writer(void *arg) {
  writer *w = arg;
  tarn_journal *j = w->ctx;
  char entity[32];
  long i = 0;
  snprintf(entity, sizeof(entity), "e-%d", w->id);
  while (!atomic_load(w->stop)) {
    tarn_journal_event e;
    tarn_journal_ack ack;
    tarn_error err;
    char v[32];
    memset(&e, 0, sizeof(e));
    snprintf(v, sizeof(v), "%ld", i++);
    e.ts_us = TARN_JOURNAL_TS_UNSET;
    e.entity_type = "order";
    e.entity_id = entity;
    e.field = "status";
    e.action = TARN_JA_UPDATE;
    e.old_value = "\"open\"";
    e.new_value = v;
    if (tarn_journal_append(j, &e, 1, "bench", TARN_JS_API, &ack, &err) != 0) {
      fprintf(stderr, "tarn append: %s\n", tarn_error_message(&err));
      exit(1);
    }
    w->done++;
  }
  return NULL;
}

static double run_tarn(int writers, int run) {
  char dir[512];
  tarn_journal_options o;
  tarn_journal *j;
  tarn_error err;
  double rate;
  snprintf(dir, sizeof(dir), "%s/tarn-%d-%d", base, writers, run);
  memset(&o, 0, sizeof(o));
  o.wal_dir = dir;
  if (tarn_journal_open(&o, &j, &err) != 0) {
    fprintf(stderr, "open: %s\n", tarn_error_message(&err));
    exit(1);
  }
  rate = timed_writers(tarn_writer, j, writers);
  tarn_journal_close(j);
  return rate;
}

/* ---- SQLite with the same group commit ---- */

typedef struct sq {
  sqlite3 *db;
  sqlite3_stmt *ins;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  long queued;    /* events queued, numbered 1.. */
  long committed; /* every event up to this one is committed */
  int committing;
  char (*vals)[32]; /* queued events' values, by number modulo the ring */
  int *ents;
} sq;

#define RING 4096

static void sq_commit_upto(sq *s, long from, long to) {
  long k;
  char *msg = NULL;
  if (sqlite3_exec(s->db, "BEGIN", NULL, NULL, &msg) != SQLITE_OK) {
    fprintf(stderr, "sqlite: %s\n", msg);
    exit(1);
  }
  for (k = from; k <= to; k++) {
    char entity[32];
    snprintf(entity, sizeof(entity), "e-%d", s->ents[k % RING]);
    sqlite3_bind_int64(s->ins, 1, (sqlite3_int64)tarn_clock_wall_us());
    sqlite3_bind_text(s->ins, 2, entity, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s->ins, 3, s->vals[k % RING], -1, SQLITE_TRANSIENT);
    if (sqlite3_step(s->ins) != SQLITE_DONE) {
      fprintf(stderr, "sqlite insert: %s\n", sqlite3_errmsg(s->db));
      exit(1);
    }
    sqlite3_reset(s->ins);
  }
  if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
    fprintf(stderr, "sqlite: %s\n", msg);
    exit(1);
  }
}

static void *sqlite_writer(void *arg) {
  writer *w = arg;
  sq *s = w->ctx;
  long i = 0;
  while (!atomic_load(w->stop)) {
    long mine;
    pthread_mutex_lock(&s->mu);
    while (s->queued - s->committed >= RING) /* the ring is full: wait for a commit */
      pthread_cond_wait(&s->cv, &s->mu);
    mine = ++s->queued;
    snprintf(s->vals[mine % RING], 32, "%ld", i++);
    s->ents[mine % RING] = w->id;
    while (s->committed < mine) {
      if (s->committing) {
        pthread_cond_wait(&s->cv, &s->mu);
        continue;
      }
      { /* lead: commit everything queued so far in one transaction */
        long from = s->committed + 1, to = s->queued;
        s->committing = 1;
        pthread_mutex_unlock(&s->mu);
        sq_commit_upto(s, from, to);
        pthread_mutex_lock(&s->mu);
        s->committing = 0;
        s->committed = to;
        pthread_cond_broadcast(&s->cv);
      }
    }
    pthread_mutex_unlock(&s->mu);
    w->done++;
  }
  return NULL;
}

static double run_sqlite(int writers, int run) {
  char path[512];
  sq s;
  double rate;
  memset(&s, 0, sizeof(s));
  snprintf(path, sizeof(path), "%s/sqlite-%d-%d.db", base, writers, run);
  if (sqlite3_open(path, &s.db) != SQLITE_OK ||
      sqlite3_exec(s.db,
                   "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                   "CREATE TABLE journal (seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, "
                   "entity_type TEXT, entity_id TEXT NOT NULL, field TEXT, action TEXT, "
                   "old_value TEXT, new_value TEXT, actor TEXT, source TEXT);"
                   "CREATE INDEX journal_entity ON journal (entity_id, ts);",
                   NULL, NULL, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(s.db,
                         "INSERT INTO journal (ts, entity_type, entity_id, field, action, "
                         "old_value, new_value, actor, source) VALUES (?1, 'order', ?2, "
                         "'status', 'update', '\"open\"', ?3, 'bench', 'api')",
                         -1, &s.ins, NULL) != SQLITE_OK) {
    fprintf(stderr, "sqlite: %s\n", sqlite3_errmsg(s.db));
    exit(1);
  }
  pthread_mutex_init(&s.mu, NULL);
  pthread_cond_init(&s.cv, NULL);
  s.vals = calloc(RING, 32);
  s.ents = calloc(RING, sizeof(int));
  rate = timed_writers(sqlite_writer, &s, writers);
  sqlite3_finalize(s.ins);
  sqlite3_close(s.db);
  free(s.vals);
  free(s.ents);
  return rate;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  static const int conc[] = {1, 8, 32};
  double tm[3], sm[3];
  int runs, c, r;
  seconds = argc > 1 ? strtod(argv[1], NULL) : 3;
  runs = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 3;
  snprintf(base, sizeof(base), "%s/tarn-journal-bench-XXXXXX", argc > 3 ? argv[3] : "/tmp");
  if (seconds <= 0 || runs < 1 || runs > 15 || mkdtemp(base) == NULL) {
    fprintf(stderr, "usage: journal_bench [seconds (3)] [runs (3, at most 15)] [dir (/tmp)]\n");
    return 2;
  }
  tarn_log_set_level(TARN_LOG_WARN);
  for (c = 0; c < 3; c++) {
    double t[15], s[15];
    for (r = 0; r < runs; r++) { /* interleaved, so drift hits both alike */
      t[r] = run_tarn(conc[c], r);
      s[r] = getenv("JOURNAL_BENCH_TARN_ONLY") ? 1 : run_sqlite(conc[c], r); /* for profiling */
      fprintf(stderr, "writers=%d run %d: tarn %.0f/s sqlite %.0f/s\n", conc[c], r + 1, t[r], s[r]);
    }
    qsort(t, (size_t)runs, sizeof(double), cmp_d);
    qsort(s, (size_t)runs, sizeof(double), cmp_d);
    tm[c] = t[runs / 2];
    sm[c] = s[runs / 2];
  }
  printf("durable appends/s (medians of %d runs of %.1f s; one event per append, each "
         "waiting for its fsync)\n",
         runs, seconds);
  printf("%-8s %14s %14s %10s\n", "writers", "tarn journal", "SQLite WAL", "tarn/SQLite");
  for (c = 0; c < 3; c++)
    printf("%-8d %14.0f %14.0f %10.2f\n", conc[c], tm[c], sm[c], tm[c] / sm[c]);
  printf("tarn at 32 writers / tarn at 1 writer: %.1fx (SQLite: %.1fx)\n", tm[2] / tm[0],
         sm[2] / sm[0]);
  {
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
    if (system(cmd) != 0)
      fprintf(stderr, "could not remove %s\n", base);
  }
  return 0;
}
