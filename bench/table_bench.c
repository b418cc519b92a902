/* table_bench.c - Iceberg table costs: commits per second for small appends, scan planning
 * over 10,000 data files (with and without selective predicates), and manifest read
 * throughput, with avsc (node, tests/node_modules) decoding the same manifest as the peer.
 *
 * usage: table_bench [appends (default 200)] [node_modules dir (default tests/node_modules)]
 * Not part of the test suite: prints figures, asserts nothing. Local store and SQLite
 * catalog in a temp directory (fsync on every put and commit, as in production). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "catalog/catalog.h"
#include "store/store.h"
#include "table/table.h"

#include "bench_table.h"

#define NFILES 10000

typedef struct env {
  char dir[64];
  char root_uri[PATH_MAX + 16];
  tarn_store *st;
  tarn_catalog *cat;
  tarn_table_io io;
} env;

static int env_open(env *e) {
  char real[PATH_MAX], db[128];
  tarn_error err;
  memset(e, 0, sizeof(*e));
  snprintf(e->dir, sizeof(e->dir), "/tmp/tarn-table-bench-XXXXXX");
  if (mkdtemp(e->dir) == NULL || realpath(e->dir, real) == NULL)
    return -1;
  snprintf(e->root_uri, sizeof(e->root_uri), "file://%s/", real);
  snprintf(db, sizeof(db), "%s/catalog.db", e->dir);
  if (tarn_store_local_open(e->dir, &e->st, &err) != 0 ||
      tarn_catalog_sqlite_open(db, NULL, &e->cat, &err) != 0 ||
      tarn_catalog_create_namespace(e->cat, "bench", NULL, 0, &err) != 0) {
    fprintf(stderr, "table_bench: %s\n", tarn_error_message(&err));
    return -1;
  }
  e->io.store = e->st;
  e->io.root_uri = e->root_uri;
  return 0;
}

static void env_close(env *e) {
  char cmd[128];
  tarn_catalog_destroy(e->cat);
  tarn_store_destroy(e->st);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", e->dir);
  if (system(cmd) != 0)
    fprintf(stderr, "table_bench: could not remove %s\n", e->dir);
}

/* Schema: id long required, ts timestamptz required, name string. */

/* ---- 1. small appends ---- */

/* n appends of 10 rows (write a Parquet file, commit); returns the seconds of the commits
 * alone in *commit_s and of everything in the return value. */
static double small_appends(int n, double *commit_s, int *merged) {
  env e;
  tarn_ice_schema s;
  tarn_ice_field f[3];
  tarn_table *t = NULL;
  tarn_error err;
  double t0, total = -1, in_commit = 0;
  int i;
  *merged = 0;
  if (env_open(&e) != 0)
    return -1;
  bench_make_schema(&s, f);
  if (tarn_table_create(e.cat, &e.io, "bench", "small", &s, NULL, NULL, NULL, 0, NULL, &t, &err)) {
    fprintf(stderr, "table_bench: %s\n", tarn_error_message(&err));
    goto out;
  }
  t0 = bench_now_s();
  for (i = 0; i < n; i++) {
    int64_t ids[10], ts[10], offs[11];
    char data[10 * 16];
    tarn_pq_array cols[3];
    tarn_pq_batch b;
    tarn_table_writer *w;
    tarn_ice_data_file *files = NULL;
    tarn_table_commit_result res;
    size_t nf = 0;
    double c0;
    int k;
    memset(cols, 0, sizeof(cols));
    offs[0] = 0;
    for (k = 0; k < 10; k++) {
      ids[k] = (int64_t)i * 10 + k;
      ts[k] = 20000 * BENCH_DAY_US + ids[k];
      offs[k + 1] = offs[k] + snprintf(data + offs[k], 24, "n%lld", (long long)ids[k]);
    }
    cols[0].length = cols[1].length = cols[2].length = 10;
    cols[0].values = ids;
    cols[1].values = ts;
    cols[2].offsets = offs;
    cols[2].data = (uint8_t *)data;
    cols[2].data_len = offs[10];
    b.nrows = 10;
    b.ncols = 3;
    b.cols = cols;
    if (tarn_table_writer_open(t, NULL, &w, &err) != 0 ||
        tarn_table_writer_write(w, &b, &err) != 0 ||
        tarn_table_writer_close(w, &files, &nf, &err) != 0) {
      fprintf(stderr, "table_bench: write: %s\n", tarn_error_message(&err));
      goto out;
    }
    c0 = bench_now_s();
    if (tarn_table_append(t, files, nf, NULL, 0, &res, &err) != 0) {
      fprintf(stderr, "table_bench: append: %s\n", tarn_error_message(&err));
      tarn_ice_data_files_free(files, nf);
      goto out;
    }
    in_commit += bench_now_s() - c0;
    *merged += res.manifests_merged > 0;
    tarn_ice_data_files_free(files, nf);
  }
  total = bench_now_s() - t0;
  *commit_s = in_commit;
out:
  tarn_table_close(t);
  env_close(&e);
  return total;
}

/* ---- 2. planning over 10,000 data files ---- */

static int put_bound(tarn_buf *b, int64_t v) {
  tarn_ice_type t = {TARN_ICE_LONG, 0, 0, 0, NULL, 0};
  tarn_ice_value x;
  memset(&x, 0, sizeof(x));
  x.i64 = v;
  return tarn_ice_value_serialize(&t, &x, b, NULL);
}

/* Data-file entry i: ids [i*1000, i*1000 + 999], day 20000 + i/100, no real file. */
static int make_entry(const env *e, const char *table, int i, tarn_ice_data_file *f) {
  char path[PATH_MAX + 128];
  int k;
  memset(f, 0, sizeof(*f));
  snprintf(path, sizeof(path), "%swarehouse/bench/%s/data/ts_day=x/f-%05d.parquet", e->root_uri,
           table, i);
  f->content = TARN_ICE_CONTENT_DATA;
  f->file_path = tarn_strdup(path);
  f->file_format = tarn_strdup("PARQUET");
  f->record_count = 1000;
  f->file_size = 1 << 20;
  f->sort_order_id = -1;
  f->partition = tarn_calloc(1, sizeof(*f->partition));
  f->npartition = 1;
  f->partition[0].i64 = 20000 + i / 100;
  tarn_buf_init(&f->partition_buf, 16);
  f->stats = tarn_calloc(2, sizeof(*f->stats));
  if (f->file_path == NULL || f->file_format == NULL || f->partition == NULL || f->stats == NULL)
    return -1;
  f->nstats = 2;
  for (k = 0; k < 2; k++) {
    tarn_ice_column_stats *cs = &f->stats[k];
    int64_t lo = k == 0 ? (int64_t)i * 1000 : (20000 + i / 100) * BENCH_DAY_US + (i % 100) * 1000;
    int64_t hi = k == 0 ? lo + 999 : lo + 999;
    cs->field_id = k + 1;
    cs->column_size = 4000;
    cs->value_count = 1000;
    cs->null_count = 0;
    cs->nan_count = -1;
    cs->has_lower = cs->has_upper = 1;
    tarn_buf_init(&cs->lower, 16);
    tarn_buf_init(&cs->upper, 16);
    if (put_bound(&cs->lower, lo) != 0 || put_bound(&cs->upper, hi) != 0)
      return -1;
  }
  return 0;
}

static tarn_table *planning_table(env *e, const char *name, int commits) {
  tarn_ice_schema s;
  tarn_ice_field f[3];
  tarn_ice_partition_field pf = {2, 0, "ts_day", {TARN_ICE_DAY, 0}};
  tarn_ice_spec spec = {0, &pf, 1};
  tarn_ice_kv props[] = {{"commit.manifest-merge.enabled", "false"}};
  tarn_ice_data_file *files;
  tarn_table *t = NULL;
  tarn_error err;
  int per = NFILES / commits, c, i;
  bench_make_schema(&s, f);
  if (tarn_table_create(e->cat, &e->io, "bench", name, &s, &spec, NULL, props, 1, NULL, &t, &err)) {
    fprintf(stderr, "table_bench: %s\n", tarn_error_message(&err));
    return NULL;
  }
  files = tarn_calloc((size_t)per, sizeof(*files));
  for (c = 0; files != NULL && c < commits; c++) {
    for (i = 0; i < per; i++)
      if (make_entry(e, name, c * per + i, &files[i]) != 0) {
        fprintf(stderr, "table_bench: out of memory\n");
        exit(1);
      }
    if (tarn_table_append(t, files, (size_t)per, NULL, 0, NULL, &err) != 0) {
      fprintf(stderr, "table_bench: append: %s\n", tarn_error_message(&err));
      exit(1);
    }
    for (i = 0; i < per; i++)
      tarn_ice_data_file_free(&files[i]);
  }
  tarn_free(files);
  return t;
}

/* Median seconds of 7 plans; *nfiles gets what the plan kept. */
static double plan_time(tarn_table *t, const tarn_table_pred *p, size_t np, size_t *nfiles,
                        tarn_table_plan_stats *st) {
  tarn_table_scan_options o;
  double v[7];
  int r;
  memset(&o, 0, sizeof(o));
  o.snapshot_id = -1;
  o.as_of_ms = -1;
  o.preds = p;
  o.npreds = np;
  for (r = 0; r < 7; r++) {
    tarn_ice_data_file *files;
    tarn_error err;
    double t0 = bench_now_s();
    if (tarn_table_plan(t, &o, &files, nfiles, NULL, st, &err) != 0) {
      fprintf(stderr, "table_bench: plan: %s\n", tarn_error_message(&err));
      exit(1);
    }
    v[r] = bench_now_s() - t0;
    tarn_ice_data_files_free(files, *nfiles);
  }
  return bench_median(v, 7);
}

/* avsc decoding the same manifest, best of 3, in seconds (-1 when unavailable). */
static double avsc_seconds(const char *path, const char *node_modules, long *records) {
  char cmd[16384];
  FILE *p;
  double s = -1;
  int n;
  n = snprintf(
      cmd, sizeof(cmd),
      "cd '%s/..' && timeout 300 node -e \"const avro=require('avsc');"
      /* snapshot ids are 63-bit: longs as BigInt, or avsc refuses them */
      "const L=avro.types.LongType.__with({fromBuffer:b=>b.readBigInt64LE(),"
      "toBuffer:n=>{const b=Buffer.alloc(8);b.writeBigInt64LE(BigInt(n));return b},"
      "fromJSON:BigInt,toJSON:Number,isValid:n=>typeof n==='bigint',"
      "compare:(a,b)=>a<b?-1:a>b?1:0});"
      "const hook=s=>avro.Type.forSchema(s,{registry:{long:L},wrapUnions:false});"
      "(async()=>{let best=1e9,n=0;for(let k=0;k<3;k++){const t=process.hrtime.bigint();n=0;"
      "await new Promise((ok,ko)=>avro.createFileDecoder('%s',{parseHook:hook})"
      ".on('data',()=>n++)"
      ".on('end',ok).on('error',ko));const d=Number(process.hrtime.bigint()-t)/1e9;"
      "if(d<best)best=d;}console.log(best+' '+n);})().catch(e=>{console.error(e.message);"
      "process.exit(1)})\" 2>/dev/null",
      node_modules, path);
  if (n < 0 || (size_t)n >= sizeof(cmd))
    return -1; /* paths too long for the command line */
  p = popen(cmd, "r");
  if (p == NULL)
    return -1;
  if (fscanf(p, "%lf %ld", &s, records) != 2)
    s = -1;
  if (pclose(p) != 0)
    s = -1;
  return s;
}

int main(int argc, char **argv) {
  int appends = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 200, run, merged = 0;
  const char *nm = argc > 2 ? argv[2] : "tests/node_modules";
  double total[3], commit[3];
  env e;
  tarn_table *one, *many;
  tarn_table_pred p_id, p_day[2];
  tarn_table_plan_stats st;
  size_t kept;
  double t_all, t_id, t_day, t_many_all, t_many_day;
  if (appends <= 0)
    appends = 200;
  tarn_log_set_level(TARN_LOG_WARN);

  /* 1. small appends: median of 3 runs */
  for (run = 0; run < 3; run++) {
    total[run] = small_appends(appends, &commit[run], &merged);
    if (total[run] < 0)
      return 1;
  }
  printf("table_bench: %d appends of 10 rows (Parquet file + commit), SQLite catalog, "
         "local store\n",
         appends);
  printf("  commits/s (append + data file):  %7.1f   median of 3 runs\n",
         appends / bench_median(total, 3));
  printf("  commits/s (commit alone):         %7.1f   (%d of them merged manifests)\n",
         appends / bench_median(commit, 3), merged);

  /* 2. planning over 10,000 data files */
  if (env_open(&e) != 0)
    return 1;
  one = planning_table(&e, "one", 1);     /* one manifest of 10,000 entries */
  many = planning_table(&e, "many", 100); /* 100 manifests of 100 (one day each) */
  if (one == NULL || many == NULL)
    return 1;
  memset(&p_id, 0, sizeof(p_id));
  p_id.field_id = 1;
  p_id.op = TARN_PQ_EQ;
  p_id.value.i64 = 4242424; /* one file's range */
  memset(p_day, 0, sizeof(p_day));
  p_day[0].field_id = 2;
  p_day[0].op = TARN_PQ_GE;
  p_day[0].value.i64 = 20042 * BENCH_DAY_US;
  p_day[1] = p_day[0];
  p_day[1].op = TARN_PQ_LT;
  p_day[1].value.i64 = 20043 * BENCH_DAY_US;
  printf("table_bench: scan planning over %d data files (median of 7)\n", NFILES);
  t_all = plan_time(one, NULL, 0, &kept, &st);
  printf("  1 manifest,    no predicate:      %8.2f ms  %zu files\n", t_all * 1e3, kept);
  t_id = plan_time(one, &p_id, 1, &kept, &st);
  printf("  1 manifest,    id = 4242424:      %8.2f ms  %zu file (%lld pruned by metrics)\n",
         t_id * 1e3, kept, (long long)st.files_pruned_metrics);
  t_day = plan_time(one, p_day, 2, &kept, &st);
  printf("  1 manifest,    one day of 100:    %8.2f ms  %zu files (%lld pruned by partition)\n",
         t_day * 1e3, kept, (long long)st.files_pruned_partition);
  t_many_all = plan_time(many, NULL, 0, &kept, &st);
  printf("  100 manifests, no predicate:      %8.2f ms  %zu files\n", t_many_all * 1e3, kept);
  t_many_day = plan_time(many, p_day, 2, &kept, &st);
  printf("  100 manifests, one day of 100:    %8.2f ms  %zu files (%lld of %lld manifests "
         "pruned by their partition summaries)\n",
         t_many_day * 1e3, kept, (long long)st.manifests_pruned, (long long)st.manifests_total);

  /* 3. manifest read throughput, and avsc on the same file */
  {
    const tarn_ice_metadata *m = tarn_table_metadata(one);
    const tarn_ice_snapshot *snap = tarn_ice_metadata_snapshot(m, m->current_snapshot_id);
    tarn_ice_manifest_file *mfs = NULL;
    tarn_ice_manifest_entry *es = NULL;
    size_t nmfs = 0, ne = 0;
    char key[TARN_STORE_KEY_MAX + 1], path[PATH_MAX + TARN_STORE_KEY_MAX + 2];
    tarn_error err;
    double v[5], best, peer;
    long precs = 0;
    int r;
    if (tarn_ice_manifest_list_read(&e.io, snap->manifest_list, &mfs, &nmfs, &err) != 0 ||
        nmfs != 1) {
      fprintf(stderr, "table_bench: manifest list: %s\n", tarn_error_message(&err));
      return 1;
    }
    for (r = 0; r < 5; r++) {
      double t0 = bench_now_s();
      if (tarn_ice_manifest_read(&e.io, &mfs[0], tarn_table_schema(one), tarn_table_spec(one), &es,
                                 &ne, &err) != 0) {
        fprintf(stderr, "table_bench: manifest: %s\n", tarn_error_message(&err));
        return 1;
      }
      v[r] = bench_now_s() - t0;
      tarn_ice_manifest_entries_free(es, ne);
    }
    best = bench_median(v, 5);
    printf("table_bench: manifest read, %zu entries, %.1f KiB (deflate): %.1f ms, %.0f entries/s, "
           "%.1f MB/s of Avro\n",
           ne, (double)mfs[0].manifest_length / 1024, best * 1e3, (double)ne / best,
           (double)mfs[0].manifest_length / best / 1e6);
    tarn_table_io_key(&e.io, mfs[0].manifest_path, key, sizeof(key), NULL);
    snprintf(path, sizeof(path), "%s/%s", e.dir, key);
    peer = avsc_seconds(path, nm, &precs);
    if (peer > 0)
      printf("  avsc 5.7.9 (node) decoding the same manifest: %.1f ms (%ld records); tarn is "
             "%.2fx\n",
             peer * 1e3, precs, peer / best);
    else
      printf("  avsc: not available (node + avsc under %s)\n", nm);
    tarn_ice_manifest_files_free(mfs, nmfs);
  }
  tarn_table_close(one);
  tarn_table_close(many);
  env_close(&e);
  return 0;
}
