/* journal_history_bench.c - an entity's history among millions of journal events: tarn's
 * tarn_journal_history (the path GET /journal/history takes) against DuckDB querying the
 * same Parquet files with WHERE entity_id = ? (bench/journal_history.mjs, node), same
 * disk, same run.
 *
 * Builds system.journal the way a daemon does: flushes of 100,000 events (entities drawn
 * uniformly, timestamps rising), then compaction until no small files are left. Then
 * asks both for the history of the same random entities and prints p50/p99 latency, the
 * rows each returned (they must agree) and the ratio.
 *
 * usage: journal_history_bench [events (10000000)] [entities (100000)] [queries (300)]
 *                              [node_modules dir (tests/node_modules)]
 * BENCH_KEEP=1 keeps the lake (its directory is printed); BENCH_REUSE=DIR runs the queries
 * on such a kept lake without building it again.
 * Prints medians and ratios; asserts nothing. */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "catalog/catalog.h"
#include "journal/journal.h"
#include "store/store.h"
#include "table/lake.h"
#include "table/table.h"

#define FLUSH 100000

static void die(const char *what, const tarn_error *err) {
  fprintf(stderr, "journal_history_bench: %s: %s\n", what, err ? tarn_error_message(err) : "");
  exit(1);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void) { /* xorshift64* */
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return rng * 2685821657736338717ull;
}

static double now_s(void) { return (double)tarn_clock_mono_ns() / 1e9; }

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static const char *const fields[] = {"status", "qty", "price", "owner", "note"};

/* One flush's worth of events, seq from first. Strings live in arena (reused). */
static void make_batch(tarn_journal_event *ev, size_t n, uint64_t first, long entities, int64_t *ts,
                       char *arena) {
  size_t i;
  for (i = 0; i < n; i++) {
    char *p = arena + i * 160;
    long e = (long)(next_rand() % (uint64_t)entities);
    int f = (int)(next_rand() % 7);
    memset(&ev[i], 0, sizeof(ev[i]));
    snprintf(p, 40, "%016" PRIx64 "-%" PRIu64, next_rand(), first + i);
    ev[i].event_id = p;
    snprintf(p + 40, 24, "ent-%07ld", e);
    ev[i].entity_id = p + 40;
    ev[i].entity_type = "order";
    *ts += 1 + (int64_t)(next_rand() % 1000);
    ev[i].ts_us = *ts;
    if (f < 5) {
      ev[i].action = TARN_JA_UPDATE;
      ev[i].field = (char *)fields[f];
      snprintf(p + 64, 24, "%" PRIu64, next_rand() % 100000);
      snprintf(p + 88, 24, "%" PRIu64, next_rand() % 100000);
      ev[i].old_value = p + 64;
      ev[i].new_value = p + 88;
    } else {
      ev[i].action = f == 5 ? TARN_JA_INSERT : TARN_JA_DELETE;
      ev[i].field = "*";
    }
    ev[i].actor = (next_rand() & 1) ? "svc-billing" : "ana@example.com";
    ev[i].source = TARN_JS_API;
    ev[i].has_source = 1;
    ev[i].seq = first + i;
  }
}

int main(int argc, char **argv) {
  long events = argc > 1 ? strtol(argv[1], NULL, 10) : 10000000;
  long entities = argc > 2 ? strtol(argv[2], NULL, 10) : 100000;
  int queries = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 300;
  const char *nm = argc > 4 ? argv[4] : "tests/node_modules";
  char dir[64], real[PATH_MAX], db[128], list[128], ents[128], wal[128], cmd[8192];
  tarn_lake lake;
  tarn_journal_table *jt;
  tarn_journal_options o;
  tarn_journal *j;
  tarn_journal_event *ev;
  tarn_error err;
  tarn_ice_data_file *files;
  size_t nfiles, i;
  char *arena;
  const char *reuse;
  int64_t ts = INT64_C(1735689600000000); /* 2025-01-01 */
  long done;
  double t0, *lat, duck_p50 = -1, duck_p99 = -1;
  long long rows_tarn = 0, rows_duck = -1;
  int rounds = 0, q;
  FILE *fp;
  if (events < FLUSH || entities < 1 || queries < 10)
    die("usage: journal_history_bench [events >= 100000] [entities] [queries >= 10]", NULL);
  tarn_log_set_level(TARN_LOG_WARN);
  reuse = getenv("BENCH_REUSE"); /* a directory BENCH_KEEP kept: queries only */
  snprintf(dir, sizeof(dir), "%s", reuse != NULL ? reuse : "/tmp/tarn-history-bench-XXXXXX");
  if ((reuse == NULL && mkdtemp(dir) == NULL) || realpath(dir, real) == NULL)
    die("temp dir", NULL);
  memset(&lake, 0, sizeof(lake));
  snprintf(lake.root_uri, sizeof(lake.root_uri), "file://%s/", real);
  snprintf(lake.path, sizeof(lake.path), "%s", real);
  snprintf(db, sizeof(db), "%s/catalog.db", dir);
  snprintf(list, sizeof(list), "%s/files.txt", dir);
  snprintf(ents, sizeof(ents), "%s/entities.txt", dir);
  snprintf(wal, sizeof(wal), "%s/wal", dir);
  if (tarn_store_local_open(dir, &lake.store, &err) != 0 ||
      tarn_catalog_sqlite_open(db, NULL, &lake.cat, &err) != 0)
    die("setup", &err);
  lake.io.store = lake.store;
  lake.io.root_uri = lake.root_uri;
  if (tarn_journal_table_open(&lake, &jt, &err) != 0)
    die("system.journal", &err);

  if (reuse != NULL)
    goto queries;
  /* the flushes */
  ev = calloc(FLUSH, sizeof(*ev));
  arena = malloc((size_t)FLUSH * 160);
  t0 = now_s();
  for (done = 0; done < events; done += FLUSH) {
    tarn_journal_table_commit res;
    make_batch(ev, FLUSH, (uint64_t)done + 1, entities, &ts, arena);
    if (tarn_journal_table_append(jt, ev, FLUSH, &res, &err) != 0)
      die("flush", &err);
    if (isatty(2))
      fprintf(stderr, "\r  flushed %ld of %ld events", done + FLUSH, events);
  }
  if (isatty(2))
    fprintf(stderr, "\n");
  printf("journal_history_bench: %ld events, %ld entities (about %ld events each), %ld flushes "
         "in %.1f s\n",
         events, entities, events / entities, events / FLUSH, now_s() - t0);
  free(ev);
  free(arena);

  /* compaction, as the daemon's thread does it: rounds until no small files are left */
  t0 = now_s();
  for (;;) {
    tarn_journal_compact_options co;
    tarn_journal_compact_result cr;
    memset(&co, 0, sizeof(co));
    if (tarn_journal_table_compact(jt, &co, &cr, &err) != 0)
      die("compact", &err);
    if (cr.files_in == 0)
      break;
    rounds++;
  }
  {
    tarn_table *t;
    int64_t bytes = 0;
    if (tarn_table_load(lake.cat, &lake.io, "system", "journal", &t, &err) != 0 ||
        tarn_table_plan(t, NULL, &files, &nfiles, NULL, NULL, &err) != 0)
      die("plan", &err);
    fp = fopen(list, "w");
    for (i = 0; i < nfiles; i++) {
      bytes += files[i].file_size;
      fprintf(fp, "%s\n", files[i].file_path + strlen("file://"));
    }
    fclose(fp);
    printf("  compaction: %d rounds in %.1f s -> %zu data files, %.1f MB\n", rounds, now_s() - t0,
           nfiles, (double)bytes / 1e6);
    tarn_ice_data_files_free(files, nfiles);
    tarn_table_close(t);
  }

queries:
  /* the queries: tarn */
  memset(&o, 0, sizeof(o));
  o.wal_dir = wal;
  o.table = jt;
  o.manual = 1;
  if (tarn_journal_open(&o, &j, &err) != 0)
    die("journal", &err);
  lat = calloc((size_t)queries, sizeof(*lat));
  fp = fopen(ents, "w");
  for (q = 0; q < queries; q++)
    fprintf(fp, "ent-%07ld\n", (long)(next_rand() % (uint64_t)entities));
  fclose(fp);
  fp = fopen(ents, "r");
  for (q = 0; q < queries; q++) {
    char e[32];
    tarn_journal_query jq;
    tarn_journal_event *out;
    size_t n;
    double s;
    if (fscanf(fp, "%31s", e) != 1)
      die("entities file", NULL);
    memset(&jq, 0, sizeof(jq));
    jq.entity_id = e;
    jq.since_us = INT64_MIN;
    jq.until_us = INT64_MAX;
    jq.limit = 100000;
    s = now_s();
    if (tarn_journal_history(j, &jq, &out, &n, &err) != 0)
      die("history", &err);
    lat[q] = now_s() - s;
    rows_tarn += (long long)n;
    tarn_journal_events_free(out, n);
  }
  fclose(fp);
  tarn_journal_close(j);
  qsort(lat, (size_t)queries, sizeof(*lat), cmp_d);
  printf("  tarn   history of one entity: p50 %7.3f ms  p99 %7.3f ms  (%d queries, %lld rows)\n",
         lat[queries / 2] * 1e3, lat[queries * 99 / 100] * 1e3, queries, rows_tarn);

  /* DuckDB */
  snprintf(cmd, sizeof(cmd), "BENCH_NODE_MODULES='%s' node bench/journal_history.mjs '%s' '%s'", nm,
           list, ents);
  fp = popen(cmd, "r");
  if (fp == NULL || fscanf(fp, "p50=%lf p99=%lf rows=%lld", &duck_p50, &duck_p99, &rows_duck) != 3)
    duck_p50 = -1;
  if (fp != NULL && pclose(fp) != 0)
    duck_p50 = -1;
  if (duck_p50 > 0) {
    printf(
        "  DuckDB history of one entity: p50 %7.3f ms  p99 %7.3f ms  (%d queries, %lld rows%s)\n",
        duck_p50 * 1e3, duck_p99 * 1e3, queries, rows_duck,
        rows_duck == rows_tarn ? "" : ", A DIFFERENT COUNT");
    printf("  DuckDB / tarn: p50 %.1fx, p99 %.1fx\n", duck_p50 / lat[queries / 2],
           duck_p99 / lat[queries * 99 / 100]);
  } else {
    printf("  DuckDB: not available (node + @duckdb/node-api under %s)\n", nm);
  }
  free(lat);
  tarn_catalog_destroy(lake.cat);
  tarn_store_destroy(lake.store);
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  if (getenv("BENCH_KEEP") != NULL || reuse != NULL)
    printf("  kept %s (BENCH_KEEP)\n", dir);
  else if (system(cmd) != 0)
    fprintf(stderr, "journal_history_bench: could not remove %s\n", dir);
  return 0;
}
