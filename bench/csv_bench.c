/* csv_bench.c - throughput of the CSV reader and type inference on ingest-like data, with
 * DuckDB (single thread, via the node bindings in tests/node_modules) as the named peer.
 *
 * usage: csv_bench [MB (default 256)] [node_modules dir (default tests/node_modules)]
 * Not part of the test suite. Prints MB/s for parse only, parse + infer (pass 1) and
 * parse + convert (pass 2), best of 3 runs over a file in the page cache. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "csv/csv.h"

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint64_t next_rand(void) { /* xorshift64* */
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return rng * 2685821657736338717ULL;
}

/* ids, ISO timestamps with Z, doubles, short categories, 8-char codes, booleans,
 * 10%-null ints, dates, quoted notes with commas (some with doubled quotes). */
static int generate(const char *path, size_t target) {
  static const char *const cats[] = {"red", "green", "blue", "amber", "violet", "teal"};
  static const char *const words[] = {"alpha",  "beta",     "gamma", "delta",    "late",
                                      "refund", "priority", "note",  "customer", "said"};
  FILE *f = fopen(path, "w");
  size_t written = 0;
  uint64_t id = 1;
  char line[512];
  if (f == NULL)
    return -1;
  written += (size_t)fprintf(f, "id,created_at,amount,category,code,active,qty,day,note\n");
  while (written < target) {
    int64_t t = 1700000000 + (int64_t)(id * 37);
    time_t tt = (time_t)t;
    struct tm tm;
    char code[9], note[128];
    size_t i, nw;
    int n, o = 0;
    gmtime_r(&tt, &tm);
    for (i = 0; i < 8; i++)
      code[i] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"[next_rand() % 32];
    code[8] = '\0';
    nw = 2 + next_rand() % 5;
    for (i = 0; i < nw; i++)
      o += snprintf(note + o, sizeof(note) - (size_t)o, "%s%s", i ? (i == 2 ? ", " : " ") : "",
                    words[next_rand() % 10]);
    if (next_rand() % 20 == 0)
      o += snprintf(note + o, sizeof(note) - (size_t)o, " \"\"quoted\"\"");
    n = snprintf(line, sizeof(line), "%llu,%04d-%02d-%02dT%02d:%02d:%02d.%03dZ,%.2f,%s,%s,%s,",
                 (unsigned long long)id, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, (int)(next_rand() % 1000),
                 (double)(next_rand() % 10000000) / 100.0, cats[next_rand() % 6], code,
                 next_rand() % 2 ? "true" : "false");
    if (next_rand() % 10 != 0)
      n += snprintf(line + n, sizeof(line) - (size_t)n, "%d", (int)(next_rand() % 5000));
    n += snprintf(line + n, sizeof(line) - (size_t)n, ",%04d-%02d-%02d,\"%s\"\n", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, note);
    fwrite(line, 1, (size_t)n, f);
    written += (size_t)n;
    id++;
  }
  if (fclose(f) != 0)
    return -1;
  return 0;
}

enum { PARSE, INFER, CONVERT };

/* One pass; returns seconds or -1. For CONVERT, types come from a previous INFER. */
static double pass(const char *path, int mode, tarn_csv_type *types, uint64_t *rows) {
  tarn_csv_reader *rd = NULL;
  tarn_csv_infer *inf = NULL;
  const tarn_csv_record *rec;
  tarn_error err;
  uint64_t t0 = tarn_clock_mono_ns(), nulls = 0;
  int fd = open(path, O_RDONLY);
  size_t i, n;
  int rc;
  if (fd < 0 || tarn_csv_reader_create_fd(&rd, fd, NULL, &err) != 0) {
    fprintf(stderr, "open: %s\n", fd < 0 ? "open failed" : tarn_error_message(&err));
    return -1;
  }
  n = tarn_csv_reader_ncols(rd);
  if (mode == INFER && tarn_csv_infer_create(&inf, n, &err) != 0)
    return -1;
  *rows = 0;
  while ((rc = tarn_csv_next(rd, &rec, &err)) == 0 && rec != NULL) {
    (*rows)++;
    if (mode == INFER) {
      tarn_csv_infer_record(inf, rec);
    } else if (mode == CONVERT) {
      for (i = 0; i < n; i++) {
        tarn_csv_value v;
        if (tarn_csv_convert(types[i], rec->fields[i].ptr, rec->fields[i].len, &v) != 0) {
          fprintf(stderr, "convert failed\n");
          return -1;
        }
        nulls += (uint64_t)v.is_null;
      }
    }
  }
  if (rc != 0) {
    fprintf(stderr, "parse: %s\n", err.detail);
    return -1;
  }
  if (mode == INFER) {
    for (i = 0; i < n; i++) {
      tarn_csv_column col;
      tarn_csv_infer_column(inf, i, &col);
      types[i] = col.type;
      if (*rows > 0 && types[0] == TARN_CSV_INT64 && i < 16 && getenv("CSV_BENCH_QUIET") == NULL)
        printf("  %-12s %-12s %s\n", tarn_csv_reader_names(rd)[i], tarn_csv_type_name(col.type),
               col.reason);
    }
  }
  tarn_csv_infer_destroy(inf);
  tarn_csv_reader_destroy(rd);
  close(fd);
  (void)nulls;
  return (double)(tarn_clock_mono_ns() - t0) / 1e9;
}

/* DuckDB, one thread, CSV -> in-memory table with its own type detection. */
static double duckdb_seconds(const char *path, const char *node_modules) {
  char cmd[2048];
  FILE *p;
  double s = -1;
  snprintf(cmd, sizeof(cmd),
           "cd '%s/..' && timeout 600 node -e \"const {DuckDBInstance}=require('@duckdb/node-api');"
           "(async()=>{const i=await DuckDBInstance.create(':memory:');const c=await i.connect();"
           "await c.run('SET threads=1');let best=1e9;for(let k=0;k<2;k++){const "
           "t=process.hrtime.bigint();"
           "await c.run(\\\"CREATE OR REPLACE TABLE t AS SELECT * FROM read_csv('%s')\\\");"
           "const d=Number(process.hrtime.bigint()-t)/1e9;if(d<best)best=d;}console.log(best);})()"
           ".catch(e=>{console.error(e.message);process.exit(1)})\" 2>/dev/null",
           node_modules, path);
  p = popen(cmd, "r");
  if (p == NULL)
    return -1;
  if (fscanf(p, "%lf", &s) != 1)
    s = -1;
  if (pclose(p) != 0)
    s = -1;
  return s;
}

int main(int argc, char **argv) {
  size_t mb = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 256;
  const char *nm = argc > 2 ? argv[2] : "tests/node_modules";
  const char *path = "/tmp/tarn-csv-bench.csv";
  tarn_csv_type types[16];
  double best[3] = {1e9, 1e9, 1e9}, mbytes, dd;
  struct stat sb;
  uint64_t rows = 0;
  int mode, run;
  if (mb == 0)
    mb = 256;
  if (generate(path, mb << 20) != 0 || stat(path, &sb) != 0) {
    fprintf(stderr, "cannot write %s\n", path);
    return 1;
  }
  mbytes = (double)sb.st_size / (1 << 20);
  printf("csv_bench: %.0f MiB, 9 columns\n", mbytes);
  for (run = 0; run < 3; run++) {
    for (mode = PARSE; mode <= CONVERT; mode++) {
      double s;
      if (run > 0 || mode != INFER)
        setenv("CSV_BENCH_QUIET", "1", 1);
      else
        unsetenv("CSV_BENCH_QUIET");
      s = pass(path, mode, types, &rows);
      if (s < 0)
        return 1;
      if (s < best[mode])
        best[mode] = s;
    }
  }
  printf("rows: %llu\n", (unsigned long long)rows);
  printf("parse only:              %7.1f MB/s\n", mbytes / best[PARSE]);
  printf("parse + infer (pass 1):  %7.1f MB/s\n", mbytes / best[INFER]);
  printf("parse + convert (pass 2):%7.1f MB/s\n", mbytes / best[CONVERT]);
  dd = duckdb_seconds(path, nm);
  if (dd > 0)
    printf("duckdb 1 thread read_csv -> table: %7.1f MB/s; tarn pass 1 is %.2fx, pass 2 %.2fx\n",
           mbytes / dd, dd / best[INFER], dd / best[CONVERT]);
  else
    printf("duckdb: not available (node + @duckdb/node-api under %s)\n", nm);
  unlink(path);
  return 0;
}
