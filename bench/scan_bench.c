/* scan_bench.c - the read path over table_bench's 10,000-file layout, with real data files:
 * plan + scan (tarn_table_scan) with selective predicates, against DuckDB reading the same
 * Parquet files with the same WHERE at one thread (bench/scan_bench.mjs, node).
 *
 * usage: scan_bench [files (default 10000)] [node_modules dir (default tests/node_modules)]
 * Layout as table_bench's planning table: file i holds ids [i*1000, i*1000 + 999], its
 * timestamps on day 20000 + i/100 (partition day(ts)), one manifest of every file; here
 * each file is a real 1,000-row Parquet file (zstd, statistics, page index, a bloom filter
 * on id). Not part of the test suite: prints figures (medians of 5 runs), asserts only
 * that tarn and DuckDB count the same rows. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "catalog/catalog.h"
#include "store/store.h"
#include "table/scan.h"
#include "table/table.h"

#include "bench_table.h"

#define ROWS 1000
#define RUNS 5

static void die(const char *what, tarn_error *err) {
  fprintf(stderr, "scan_bench: %s: %s\n", what, err ? tarn_error_message(err) : "failed");
  exit(1);
}

/* Writes the files, one commit; the list of their paths goes to list_path for DuckDB. */
static tarn_table *build(tarn_catalog *cat, const tarn_table_io *io, const char *dir, int nfiles,
                         const char *list_path) {
  tarn_ice_schema s;
  tarn_ice_field f[3];
  tarn_ice_partition_field pf = {2, 0, "ts_day", {TARN_ICE_DAY, 0}};
  tarn_ice_spec spec = {0, &pf, 1};
  tarn_pq_column_options co = {1, 0, 1, 0, 0};
  tarn_pq_writer_options o;
  tarn_ice_data_file *all = tarn_calloc((size_t)nfiles, sizeof(*all));
  int64_t ids[ROWS], ts[ROWS], offs[ROWS + 1];
  char data[ROWS * 16];
  tarn_pq_array cols[3];
  tarn_pq_batch b = {ROWS, 3, cols};
  tarn_table *t = NULL;
  tarn_error err;
  FILE *list = fopen(list_path, "w");
  int i, r;
  size_t root = strlen(io->root_uri);
  if (all == NULL || list == NULL)
    die("setup", NULL);
  bench_make_schema(&s, f);
  if (tarn_table_create(cat, io, "bench", "scan", &s, &spec, NULL, NULL, 0, NULL, &t, &err) != 0)
    die("create", &err);
  memset(&o, 0, sizeof(o));
  o.codec = TARN_PQ_ZSTD;
  o.columns = &co; /* a bloom filter on id, PLAIN (no dictionary): unique values */
  o.ncolumns = 1;
  memset(cols, 0, sizeof(cols));
  for (i = 0; i < nfiles; i++) {
    tarn_table_writer *w;
    tarn_ice_data_file *out;
    size_t nout, off = 0;
    for (r = 0; r < ROWS; r++) {
      int n;
      ids[r] = (int64_t)i * 1000 + r;
      ts[r] = (20000 + i / 100) * BENCH_DAY_US + (int64_t)(i % 100) * 1000 + r;
      offs[r] = (int64_t)off;
      n = snprintf(data + off, sizeof(data) - off, "name-%d", (int)(ids[r] % 1000));
      off += (size_t)n;
    }
    offs[ROWS] = (int64_t)off;
    cols[0].length = cols[1].length = cols[2].length = ROWS;
    cols[0].values = ids;
    cols[1].values = ts;
    cols[2].offsets = offs;
    cols[2].data = (uint8_t *)data;
    cols[2].data_len = (int64_t)off;
    if (tarn_table_writer_open(t, &o, &w, &err) != 0 || tarn_table_writer_write(w, &b, &err) != 0 ||
        tarn_table_writer_close(w, &out, &nout, &err) != 0 || nout != 1)
      die("write", &err);
    all[i] = out[0];
    tarn_free(out);
    fprintf(list, "%s/%s\n", dir, all[i].file_path + root);
    if ((i + 1) % 1000 == 0)
      fprintf(stderr, "scan_bench: %d files written\n", i + 1);
  }
  fclose(list);
  if (tarn_table_append(t, all, (size_t)nfiles, NULL, 0, NULL, &err) != 0)
    die("append", &err);
  tarn_ice_data_files_free(all, (size_t)nfiles);
  return t;
}

/* Median seconds of RUNS scans (open, which plans, to the last batch); rows and stats of
 * the last run. */
static double tarn_scan(tarn_table *t, const char *where, double *open_s, int64_t *rows,
                        tarn_table_scan_stats *st) {
  double v[RUNS], o[RUNS];
  int k;
  for (k = 0; k < RUNS; k++) {
    tarn_expr *e = NULL;
    tarn_table_scan_spec spec;
    tarn_table_scan *sc;
    const tarn_table_batch *b;
    tarn_error err;
    double t0 = bench_now_s();
    if (tarn_expr_parse(tarn_table_schema(t), where, &e, &err) != 0)
      die(where, &err);
    memset(&spec, 0, sizeof(spec));
    spec.snapshot_id = -1;
    spec.as_of_ms = -1;
    spec.filter = e;
    if (tarn_table_scan_open(t, &spec, &sc, &err) != 0)
      die("scan", &err);
    o[k] = bench_now_s() - t0;
    *rows = 0;
    while (tarn_table_scan_next(sc, &b, &err) == 0 && b != NULL)
      *rows += b->nrows;
    *st = *tarn_table_scan_stats_get(sc);
    tarn_table_scan_close(sc);
    tarn_expr_free(e);
    v[k] = bench_now_s() - t0;
  }
  *open_s = bench_median(o, RUNS);
  return bench_median(v, RUNS);
}

/* DuckDB's median seconds for the same WHERE (-1 when node or DuckDB is missing). */
static double duck_scan(const char *nm, const char *list, const char *where, long *rows) {
  char cmd[8192];
  FILE *p;
  double s = -1;
  int n =
      snprintf(cmd, sizeof(cmd), "BENCH_NODE_MODULES='%s' node bench/scan_bench.mjs '%s' \"%s\"",
               nm, list, where);
  if (n < 0 || (size_t)n >= sizeof(cmd))
    return -1;
  p = popen(cmd, "r");
  if (p == NULL)
    return -1;
  if (fscanf(p, "secs=%lf rows=%ld", &s, rows) != 2)
    s = -1;
  if (pclose(p) != 0)
    s = -1;
  return s;
}

int main(int argc, char **argv) {
  static const char *const wheres[][2] = {
      /* tarn's --where, DuckDB's WHERE */
      {"id = 4242424", "id = 4242424"}, /* one row of one file */
      {"id >= 4242000 and id < 4244000", "id >= 4242000 and id < 4244000"},  /* two files */
      {"id in (777, 4242424, 9999999)", "id in (777, 4242424, 9999999)"},    /* three rows */
      {"ts >= 2024-11-15T00:00:00Z and ts < 2024-11-16 and name = 'name-7'", /* one day */
       "ts >= TIMESTAMPTZ '2024-11-15 00:00:00+00' and ts < TIMESTAMPTZ '2024-11-16 00:00:00+00'"
       " and name = 'name-7'"},
  };
  long nfiles = argc > 1 ? strtol(argv[1], NULL, 10) : 10000;
  const char *nm = argc > 2 ? argv[2] : "tests/node_modules";
  char dir[64], real[PATH_MAX], root_uri[PATH_MAX + 16], db[128], list[128], cmd[128];
  tarn_store *st;
  tarn_catalog *cat;
  tarn_table_io io;
  tarn_table *t;
  tarn_error err;
  size_t k;
  double t0;
  if (nfiles <= 0 || nfiles > 1000000)
    nfiles = 10000;
  tarn_log_set_level(TARN_LOG_WARN);
  snprintf(dir, sizeof(dir), "/tmp/tarn-scan-bench-XXXXXX");
  if (mkdtemp(dir) == NULL || realpath(dir, real) == NULL)
    die("temp dir", NULL);
  snprintf(root_uri, sizeof(root_uri), "file://%s/", real);
  snprintf(db, sizeof(db), "%s/catalog.db", dir);
  snprintf(list, sizeof(list), "%s/files.txt", dir);
  if (tarn_store_local_open(dir, &st, &err) != 0 ||
      tarn_catalog_sqlite_open(db, NULL, &cat, &err) != 0 ||
      tarn_catalog_create_namespace(cat, "bench", NULL, 0, &err) != 0)
    die("setup", &err);
  io.store = st;
  io.root_uri = root_uri;
  t0 = bench_now_s();
  t = build(cat, &io, real, (int)nfiles, list);
  printf("scan_bench: %ld data files of %d rows (day(ts) partitions of 100 files, one manifest),"
         " written in %.1f s\n",
         nfiles, ROWS, bench_now_s() - t0);
  printf("  tarn: plan + scan (tarn_table_scan), DuckDB: read_parquet([%ld files]) WHERE ..., "
         "threads=1; medians of %d runs\n",
         nfiles, RUNS);
  for (k = 0; k < sizeof(wheres) / sizeof(wheres[0]); k++) {
    tarn_table_scan_stats s;
    int64_t rows;
    long drows = -1;
    double open_s, total = tarn_scan(t, wheres[k][0], &open_s, &rows, &s);
    double duck = duck_scan(nm, list, wheres[k][1], &drows);
    printf("  WHERE %s\n", wheres[k][0]);
    printf("    tarn   %9.2f ms (plan %.2f ms): %lld rows; files %lld of %lld read, row groups "
           "%lld (%lld pruned by statistics, %lld by bloom filters), pages %lld (%lld pruned)\n",
           total * 1e3, open_s * 1e3, (long long)rows, (long long)s.files_read,
           (long long)s.files_total, (long long)s.row_groups_total,
           (long long)s.row_groups_pruned_stats, (long long)s.row_groups_pruned_bloom,
           (long long)s.pages_total, (long long)s.pages_pruned);
    if (duck > 0)
      printf("    DuckDB %9.2f ms: %ld rows%s; DuckDB / tarn = %.1fx\n", duck * 1e3, drows,
             drows == rows ? "" : " (DIFFERENT COUNT)", duck / total);
    else
      printf("    DuckDB: not available (node + @duckdb/node-api under %s)\n", nm);
  }
  tarn_table_close(t);
  tarn_catalog_destroy(cat);
  tarn_store_destroy(st);
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  if (system(cmd) != 0)
    fprintf(stderr, "scan_bench: could not remove %s\n", dir);
  return 0;
}
