/* test_table.c - Iceberg tables end to end on a local store and a SQLite catalog. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "catalog/catalog.h"
#include "parquet/parquet.h"
#include "store/store.h"
#include "table/table.h"

typedef struct fx {
  char dir[64];
  char root_uri[PATH_MAX + 16];
  tarn_store *st;
  tarn_catalog *cat;
  tarn_table_io io;
} fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof(*f));
  char db[128], real[PATH_MAX];
  snprintf(f->dir, sizeof(f->dir), "/tmp/tarn-table-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  assert_non_null(realpath(f->dir, real));
  snprintf(f->root_uri, sizeof(f->root_uri), "file://%s/", real);
  assert_int_equal(tarn_store_local_open(f->dir, &f->st, NULL), 0);
  snprintf(db, sizeof(db), "%s/catalog.db", f->dir);
  assert_int_equal(tarn_catalog_sqlite_open(db, NULL, &f->cat, NULL), 0);
  assert_int_equal(tarn_catalog_create_namespace(f->cat, "db", NULL, 0, NULL), 0);
  f->io.store = f->st;
  f->io.root_uri = f->root_uri;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  char cmd[128];
  tarn_catalog_destroy(f->cat);
  tarn_store_destroy(f->st);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
  assert_int_equal(system(cmd), 0);
  free(f);
  return 0;
}

/* Schema: id long required, ts timestamptz, name string, amount decimal(10,2). */
static void make_schema(tarn_ice_schema *s) {
  static tarn_ice_field fields[4];
  memset(fields, 0, sizeof(fields));
  fields[0].id = 1;
  fields[0].name = "id";
  fields[0].required = 1;
  tarn_ice_type_parse("long", &fields[0].type, NULL);
  fields[1].id = 2;
  fields[1].name = "ts";
  tarn_ice_type_parse("timestamptz", &fields[1].type, NULL);
  fields[2].id = 3;
  fields[2].name = "name";
  tarn_ice_type_parse("string", &fields[2].type, NULL);
  fields[3].id = 4;
  fields[3].name = "amount";
  tarn_ice_type_parse("decimal(10, 2)", &fields[3].type, NULL);
  s->schema_id = 0;
  s->fields = fields;
  s->nfields = 4;
}

#define DAY_US 86400000000LL

/* A batch of n rows starting at id `first`: ts spread over 3 days, every 7th name null. */
typedef struct rows {
  tarn_pq_batch b;
  tarn_pq_array cols[4];
  int64_t *ids, *ts, *amount, *offs;
  uint8_t *ts_valid, *name_valid;
  char *data;
} rows;

static void make_rows(rows *r, int64_t first, int64_t n, int64_t day0) {
  int64_t i, off = 0;
  memset(r, 0, sizeof(*r));
  r->ids = calloc((size_t)n, 8);
  r->ts = calloc((size_t)n, 8);
  r->amount = calloc((size_t)n, 8);
  r->offs = calloc((size_t)n + 1, 8);
  r->ts_valid = calloc((size_t)n / 8 + 1, 1);
  r->name_valid = calloc((size_t)n / 8 + 1, 1);
  r->data = calloc((size_t)n * 16 + 1, 1);
  for (i = 0; i < n; i++) {
    int64_t id = first + i;
    r->ids[i] = id;
    r->ts[i] = (day0 + id % 3) * DAY_US + id * 1000;
    r->ts_valid[i / 8] |= (uint8_t)(1u << (i % 8));
    r->amount[i] = id * 100 + 25;
    if (id % 7 != 0) {
      r->name_valid[i / 8] |= (uint8_t)(1u << (i % 8));
      off += sprintf(r->data + off, "name-%lld", (long long)id);
    }
    r->offs[i + 1] = off;
  }
  r->cols[0].length = n;
  r->cols[0].values = r->ids;
  r->cols[1].length = n;
  r->cols[1].values = r->ts;
  r->cols[1].validity = r->ts_valid;
  r->cols[2].length = n;
  r->cols[2].validity = r->name_valid;
  r->cols[2].offsets = r->offs;
  r->cols[2].data = (uint8_t *)r->data;
  r->cols[2].data_len = off;
  r->cols[3].length = n;
  r->cols[3].values = r->amount;
  r->b.nrows = n;
  r->b.ncols = 4;
  r->b.cols = r->cols;
}

static void free_rows(rows *r) {
  free(r->ids);
  free(r->ts);
  free(r->amount);
  free(r->offs);
  free(r->ts_valid);
  free(r->name_valid);
  free(r->data);
}

/* Writes and appends rows [first, first+n). */
static void append_rows(tarn_table *t, int64_t first, int64_t n, int64_t day0,
                        tarn_table_commit_result *res) {
  tarn_table_writer *w;
  tarn_ice_data_file *files;
  size_t nf;
  rows r;
  tarn_error err;
  make_rows(&r, first, n, day0);
  assert_int_equal(tarn_table_writer_open(t, NULL, &w, &err), 0);
  assert_int_equal(tarn_table_writer_write(w, &r.b, &err), 0);
  assert_int_equal(tarn_table_writer_close(w, &files, &nf, &err), 0);
  if (tarn_table_append(t, files, nf, NULL, 0, res, &err) != 0)
    fail_msg("append: %s", tarn_error_message(&err));
  tarn_ice_data_files_free(files, nf);
  free_rows(&r);
}

/* Sums ids over every live data file by reading them back with the Parquet reader. */
static int64_t scan_sum(fx *f, tarn_table *t, const tarn_table_scan_options *o, int64_t *rows_out,
                        size_t *nfiles_out) {
  tarn_ice_data_file *files;
  size_t nf, i;
  int64_t sum = 0, nrows = 0;
  tarn_error err;
  if (tarn_table_plan(t, o, &files, &nf, NULL, NULL, &err) != 0)
    fail_msg("plan: %s", tarn_error_message(&err));
  for (i = 0; i < nf; i++) {
    char key[TARN_STORE_KEY_MAX + 1];
    tarn_pq_reader *r;
    tarn_pq_scan *s;
    tarn_pq_batch *b;
    size_t col0 = 0;
    tarn_pq_scan_options so;
    memset(&so, 0, sizeof(so));
    so.columns = &col0;
    so.ncolumns = 1;
    so.row_group = -1;
    assert_int_equal(tarn_table_io_key(&f->io, files[i].file_path, key, sizeof(key), NULL), 0);
    assert_int_equal(tarn_pq_reader_open_store(f->st, key, &r, &err), 0);
    assert_int_equal(tarn_pq_scan_open(r, &so, &s, &err), 0);
    while (tarn_pq_scan_next(s, &b, &err) == 0 && b != NULL) {
      int64_t k;
      for (k = 0; k < b->nrows; k++)
        sum += ((int64_t *)b->cols[0].values)[k];
      nrows += b->nrows;
      tarn_pq_batch_free(b);
    }
    tarn_pq_scan_close(s);
    tarn_pq_reader_close(r);
  }
  tarn_ice_data_files_free(files, nf);
  if (rows_out)
    *rows_out = nrows;
  if (nfiles_out)
    *nfiles_out = nf;
  return sum;
}

static int64_t ids_sum(int64_t first, int64_t n) { return n * (2 * first + n - 1) / 2; }

static void test_create_append_scan(void **state) {
  fx *f = *state;
  tarn_ice_schema s;
  tarn_ice_partition_field pf = {2, 0, "ts_day", {TARN_ICE_DAY, 0}};
  tarn_ice_spec spec = {0, &pf, 1};
  tarn_table *t, *t2;
  tarn_table_commit_result res;
  tarn_error err;
  int64_t nrows;
  size_t nf;
  char path[PATH_MAX + 64];
  struct stat sb;
  make_schema(&s);
  if (tarn_table_create(f->cat, &f->io, "db", "events", &s, &spec, NULL, NULL, 0, NULL, &t, &err))
    fail_msg("create: %s", tarn_error_message(&err));
  assert_int_equal(
      tarn_table_create(f->cat, &f->io, "db", "events", &s, &spec, NULL, NULL, 0, NULL, &t2, &err),
      TARN_EEXIST);
  append_rows(t, 0, 1000, 19000, &res);
  assert_int_equal(res.attempts, 1);
  append_rows(t, 1000, 500, 19000, &res);
  assert_int_equal(tarn_table_metadata(t)->nsnapshots, 2);
  assert_int_equal(tarn_table_metadata(t)->last_sequence_number, 2);
  assert_int_equal(scan_sum(f, t, NULL, &nrows, &nf), ids_sum(0, 1500));
  assert_int_equal(nrows, 1500);
  assert_int_equal(nf, 6); /* 3 days x 2 appends */
  /* files landed in Hive-style day folders; the version hint points at v3 */
  snprintf(path, sizeof(path), "%s/warehouse/db/events/data/ts_day=2022-01-08", f->dir);
  assert_int_equal(stat(path, &sb), 0);
  snprintf(path, sizeof(path), "%s/warehouse/db/events/metadata/v3.metadata.json", f->dir);
  assert_int_equal(stat(path, &sb), 0);
  /* a second handle sees the same table */
  assert_int_equal(tarn_table_load(f->cat, &f->io, "db", "events", &t2, &err), 0);
  assert_string_equal(tarn_table_metadata_location(t2), tarn_table_metadata_location(t));
  assert_int_equal(scan_sum(f, t2, NULL, NULL, NULL), ids_sum(0, 1500));
  tarn_table_close(t2);
  tarn_table_close(t);
}

static void test_pruning_and_time_travel(void **state) {
  fx *f = *state;
  tarn_ice_schema s;
  tarn_ice_partition_field pf = {2, 0, "ts_day", {TARN_ICE_DAY, 0}};
  tarn_ice_spec spec = {0, &pf, 1};
  tarn_table *t;
  tarn_table_pred pred;
  tarn_table_scan_options o;
  tarn_table_plan_stats st;
  tarn_ice_data_file *files;
  size_t nf;
  int64_t first_snap, planned;
  tarn_error err;
  make_schema(&s);
  assert_int_equal(
      tarn_table_create(f->cat, &f->io, "db", "p", &s, &spec, NULL, NULL, 0, NULL, &t, &err), 0);
  append_rows(t, 0, 300, 19000, NULL);
  first_snap = tarn_table_metadata(t)->current_snapshot_id;
  append_rows(t, 300, 300, 19000, NULL);
  /* partition pruning: one day of three */
  memset(&pred, 0, sizeof(pred));
  pred.field_id = 2;
  pred.op = TARN_PQ_EQ;
  pred.value.i64 = 19001 * DAY_US + 1000; /* row id 1 */
  memset(&o, 0, sizeof(o));
  o.snapshot_id = -1;
  o.as_of_ms = -1;
  o.preds = &pred;
  o.npreds = 1;
  assert_int_equal(tarn_table_plan(t, &o, &files, &nf, &planned, &st, &err), 0);
  assert_int_equal(nf, 1);
  assert_int_equal(st.files_pruned_partition, 4); /* the other two days */
  assert_int_equal(st.files_pruned_metrics, 1);   /* day 19001 of the second append */
  tarn_ice_data_files_free(files, nf);
  /* a range inside day 19001 keeps both of that day's files */
  pred.op = TARN_PQ_LT;
  pred.value.i64 = 19002 * DAY_US;
  o.npreds = 1;
  {
    tarn_table_pred two[2];
    two[0] = pred;
    two[1] = pred;
    two[1].op = TARN_PQ_GE;
    two[1].value.i64 = 19001 * DAY_US;
    o.preds = two;
    o.npreds = 2;
    assert_int_equal(tarn_table_plan(t, &o, &files, &nf, &planned, &st, &err), 0);
    o.preds = &pred;
    o.npreds = 1;
  }
  assert_int_equal(nf, 2);
  /* day 19000 by partition; day 19002 by metrics (a strict bound at its midnight is
   * inclusive once projected onto days, so only the column bounds can drop it) */
  assert_int_equal(st.files_pruned_partition, 2);
  assert_int_equal(st.files_pruned_metrics, 2);
  tarn_ice_data_files_free(files, nf);
  /* metrics pruning: ids >= 550 live only in the second append's files */
  pred.field_id = 1;
  pred.op = TARN_PQ_GE;
  pred.value.i64 = 550;
  assert_int_equal(tarn_table_plan(t, &o, &files, &nf, NULL, &st, &err), 0);
  assert_int_equal(nf, 3);
  assert_int_equal(st.files_pruned_metrics, 3);
  tarn_ice_data_files_free(files, nf);
  /* a string bound: "name-0" sorts before every "name-<n>" with n >= 1 ... EQ on a
   * value above every upper bound prunes everything */
  pred.field_id = 3;
  pred.op = TARN_PQ_EQ;
  pred.value.bytes = (const uint8_t *)"zzz";
  pred.value.len = 3;
  assert_int_equal(tarn_table_plan(t, &o, &files, &nf, NULL, &st, &err), 0);
  assert_int_equal(nf, 0);
  tarn_ice_data_files_free(files, nf);
  /* time travel to the first snapshot */
  o.preds = NULL;
  o.npreds = 0;
  o.snapshot_id = first_snap;
  assert_int_equal(scan_sum(f, t, &o, NULL, NULL), ids_sum(0, 300));
  o.snapshot_id = 12345;
  assert_int_equal(tarn_table_plan(t, &o, &files, &nf, NULL, NULL, &err), TARN_ENOTFOUND);
  o.snapshot_id = -1;
  o.as_of_ms = tarn_table_metadata(t)->snapshots[0].timestamp_ms;
  assert_int_equal(scan_sum(f, t, &o, NULL, NULL), ids_sum(0, 300));
  o.as_of_ms = 1;
  assert_int_equal(tarn_table_plan(t, &o, &files, &nf, NULL, NULL, &err), TARN_ENOTFOUND);
  tarn_table_close(t);
}

static void test_overwrite_and_schema_change(void **state) {
  fx *f = *state;
  tarn_ice_schema s;
  tarn_ice_partition_field pf = {2, 0, "ts_day", {TARN_ICE_DAY, 0}};
  tarn_ice_spec spec = {0, &pf, 1};
  tarn_table *t;
  tarn_table_writer *w;
  tarn_ice_data_file *files;
  tarn_ice_type ty;
  tarn_ice_value day;
  size_t nf;
  int32_t fid;
  rows r;
  tarn_error err;
  int64_t nrows;
  make_schema(&s);
  assert_int_equal(
      tarn_table_create(f->cat, &f->io, "db", "o", &s, &spec, NULL, NULL, 0, NULL, &t, &err), 0);
  append_rows(t, 0, 90, 19000, NULL);
  /* overwrite one partition (day 19001: ids with id % 3 == 1) with 10 fresh rows */
  make_rows(&r, 1000, 30, 19000); /* spread over 3 days; keep only day 19001's rows below */
  assert_int_equal(tarn_table_writer_open(t, NULL, &w, &err), 0);
  assert_int_equal(tarn_table_writer_write(w, &r.b, &err), 0);
  assert_int_equal(tarn_table_writer_close(w, &files, &nf, &err), 0);
  free_rows(&r);
  assert_int_equal(nf, 3);
  memset(&day, 0, sizeof(day));
  day.i64 = 19001;
  {
    /* the file of day 19001 (ids 1000..1029 with id % 3 == 1 -> 1000 % 3 == 1) */
    size_t k, keep = nf;
    for (k = 0; k < nf; k++)
      if (files[k].partition[0].i64 == 19001)
        keep = k;
    assert_true(keep < nf);
    if (tarn_table_overwrite(t, 0, &day, &files[keep], 1, NULL, 0, NULL, &err) != 0)
      fail_msg("overwrite: %s", tarn_error_message(&err));
  }
  tarn_ice_data_files_free(files, nf); /* the two other files stay orphans */
  /* 90 rows minus the 30 of day 19001 plus 10 new ones (1000 + 3k for k < 10) */
  {
    int64_t want = ids_sum(0, 90), k;
    for (k = 0; k < 90; k++)
      if ((k % 3) == 1)
        want -= k;
    for (k = 1000; k < 1030; k++)
      if (k % 3 == 1)
        want += k;
    assert_int_equal(scan_sum(f, t, NULL, &nrows, NULL), want);
    assert_int_equal(nrows, 70);
  }
  assert_string_equal(tarn_table_metadata(t)->snapshots[1].operation, "overwrite");
  /* add a column: a new schema, and old files still read */
  tarn_ice_type_parse("double", &ty, NULL);
  assert_int_equal(tarn_table_add_column(t, "score", &ty, "added later", &fid, &err), 0);
  assert_int_equal(fid, 5);
  assert_int_equal(tarn_table_schema(t)->nfields, 5);
  assert_int_equal(tarn_table_metadata(t)->current_schema_id, 1);
  assert_int_equal(tarn_table_add_column(t, "score", &ty, NULL, &fid, &err), TARN_EEXIST);
  assert_int_equal(scan_sum(f, t, NULL, &nrows, NULL) > 0, 1);
  /* replace everything */
  assert_int_equal(tarn_table_overwrite(t, 0, NULL, NULL, 0, NULL, 0, NULL, &err), 0);
  assert_int_equal(scan_sum(f, t, NULL, &nrows, NULL), 0);
  assert_int_equal(nrows, 0);
  tarn_table_close(t);
}

static void test_manifest_merge_expire_orphans(void **state) {
  fx *f = *state;
  tarn_ice_schema s;
  tarn_table *t;
  tarn_ice_kv props[] = {{"commit.manifest.min-count-to-merge", "4"}};
  tarn_table_commit_result res;
  tarn_table_expire_result ex;
  size_t removed, i;
  tarn_error err;
  tarn_store_writer *sw;
  make_schema(&s);
  assert_int_equal(
      tarn_table_create(f->cat, &f->io, "db", "m", &s, NULL, NULL, props, 1, NULL, &t, &err), 0);
  for (i = 0; i < 6; i++)
    append_rows(t, (int64_t)i * 10, 10, 19000, &res);
  /* appends 4 and beyond merged the manifests */
  assert_true(res.manifests_merged > 0);
  assert_int_equal(scan_sum(f, t, NULL, NULL, NULL), ids_sum(0, 60));
  /* an orphan: a file nothing references */
  assert_int_equal(
      tarn_store_writer_open(f->st, "warehouse/db/m/data/orphan.parquet", 0, &sw, NULL), 0);
  assert_int_equal(tarn_store_writer_write(sw, "x", 1, NULL), 0);
  assert_int_equal(tarn_store_writer_commit(sw, NULL), 0);
  assert_int_equal(tarn_table_remove_orphans(t, INT64_MAX, 1, NULL, NULL, &removed, &err), 0);
  assert_int_equal(removed, 1);
  assert_int_equal(tarn_table_remove_orphans(t, INT64_MAX, 0, NULL, NULL, &removed, &err), 0);
  assert_int_equal(removed, 1);
  assert_int_equal(tarn_table_remove_orphans(t, INT64_MAX, 0, NULL, NULL, &removed, &err), 0);
  assert_int_equal(removed, 0);
  /* expire all but the last 2 snapshots: the data stays whole */
  assert_int_equal(tarn_table_expire_snapshots(t, INT64_MAX, 2, &ex, &err), 0);
  assert_int_equal(ex.snapshots_expired, 4);
  assert_true(ex.files_deleted >= 4); /* at least the expired manifest lists */
  assert_int_equal(tarn_table_metadata(t)->nsnapshots, 2);
  assert_int_equal(scan_sum(f, t, NULL, NULL, NULL), ids_sum(0, 60));
  /* nothing is left over that remove-orphans would find */
  assert_int_equal(tarn_table_remove_orphans(t, INT64_MAX, 1, NULL, NULL, &removed, &err), 0);
  assert_int_equal(removed, 0);
  tarn_table_close(t);
}

static void test_conflict_retry(void **state) {
  fx *f = *state;
  tarn_ice_schema s;
  tarn_table *a, *b;
  tarn_table_commit_result res;
  tarn_error err;
  make_schema(&s);
  assert_int_equal(
      tarn_table_create(f->cat, &f->io, "db", "c", &s, NULL, NULL, NULL, 0, NULL, &a, &err), 0);
  assert_int_equal(tarn_table_load(f->cat, &f->io, "db", "c", &b, &err), 0);
  append_rows(a, 0, 10, 19000, &res);
  assert_int_equal(res.attempts, 1);
  /* b still holds version 1: its first try loses, the retry re-applies on a's commit */
  append_rows(b, 10, 10, 19000, &res);
  assert_int_equal(res.attempts, 2);
  assert_int_equal(tarn_table_metadata(b)->last_sequence_number, 2);
  assert_int_equal(scan_sum(f, b, NULL, NULL, NULL), ids_sum(0, 20));
  assert_int_equal(tarn_table_refresh(a, &err), 0);
  assert_int_equal(scan_sum(f, a, NULL, NULL, NULL), ids_sum(0, 20));
  /* the chain is linear: b's snapshot's parent is a's */
  assert_int_equal(tarn_table_metadata(a)->snapshots[1].parent_id,
                   tarn_table_metadata(a)->snapshots[0].snapshot_id);
  tarn_table_close(a);
  tarn_table_close(b);
}

static void test_lost_acknowledgement(void **state) {
  fx *f = *state;
  tarn_ice_schema s;
  tarn_catalog *faulty;
  tarn_table *t;
  tarn_table_commit_result res;
  tarn_error err;
  char db[128];
  tarn_catalog *inner;
  make_schema(&s);
  snprintf(db, sizeof(db), "%s/catalog.db", f->dir);
  assert_int_equal(tarn_catalog_sqlite_open(db, NULL, &inner, NULL), 0);
  assert_int_equal(tarn_catalog_faulty_wrap(inner, &faulty, NULL), 0);
  assert_int_equal(
      tarn_table_create(faulty, &f->io, "db", "u", &s, NULL, NULL, NULL, 0, NULL, &t, &err), 0);
  /* the commit happens but its acknowledgement is lost: no duplicate, no error */
  assert_int_equal(tarn_catalog_faulty_add(faulty, TARN_CATALOG_FAULT_COMMIT,
                                           TARN_CATALOG_FAULT_AFTER, TARN_EUNKNOWN_OUTCOME, 1, 1,
                                           NULL),
                   0);
  append_rows(t, 0, 10, 19000, &res);
  assert_int_equal(tarn_table_metadata(t)->nsnapshots, 1);
  assert_int_equal(scan_sum(f, t, NULL, NULL, NULL), ids_sum(0, 10));
  /* a commit that fails before reaching the catalog leaves the table as it was */
  tarn_catalog_faulty_clear(faulty);
  assert_int_equal(tarn_catalog_faulty_add(faulty, TARN_CATALOG_FAULT_COMMIT,
                                           TARN_CATALOG_FAULT_BEFORE, TARN_EIO, 0, 0, NULL),
                   0);
  {
    tarn_table_writer *w;
    tarn_ice_data_file *files;
    size_t nf;
    rows r;
    make_rows(&r, 100, 5, 19000);
    assert_int_equal(tarn_table_writer_open(t, NULL, &w, &err), 0);
    assert_int_equal(tarn_table_writer_write(w, &r.b, &err), 0);
    assert_int_equal(tarn_table_writer_close(w, &files, &nf, &err), 0);
    assert_int_equal(tarn_table_append(t, files, nf, NULL, 0, NULL, &err), TARN_EIO);
    tarn_ice_data_files_free(files, nf);
    free_rows(&r);
  }
  assert_int_equal(tarn_table_refresh(t, &err), 0);
  assert_int_equal(tarn_table_metadata(t)->nsnapshots, 1);
  assert_int_equal(scan_sum(f, t, NULL, NULL, NULL), ids_sum(0, 10));
  tarn_table_close(t);
  tarn_catalog_destroy(faulty);
}

/* One int column "i" (field id 1): appends the values, one commit. */
static void append_ints(tarn_table *t, const int32_t *v, int64_t n) {
  tarn_table_writer *w;
  tarn_ice_data_file *files;
  size_t nf;
  tarn_pq_array col;
  tarn_pq_batch b;
  tarn_error err;
  memset(&col, 0, sizeof(col));
  col.length = n;
  col.values = (void *)(uintptr_t)v;
  b.nrows = n;
  b.ncols = 1;
  b.cols = &col;
  assert_int_equal(tarn_table_writer_open(t, NULL, &w, &err), 0);
  assert_int_equal(tarn_table_writer_write(w, &b, &err), 0);
  assert_int_equal(tarn_table_writer_close(w, &files, &nf, &err), 0);
  if (tarn_table_append(t, files, nf, NULL, 0, NULL, &err) != 0)
    fail_msg("append: %s", tarn_error_message(&err));
  tarn_ice_data_files_free(files, nf);
}

/* The partition values (field 0, an int) of the files a scan with `i op v` plans, in
 * ascending order, as a space-separated string. */
static void planned_partitions(tarn_table *t, tarn_pq_op op, int64_t v, char *dst, size_t n) {
  tarn_table_pred pred;
  tarn_table_scan_options o;
  tarn_ice_data_file *files;
  size_t nf, i, j, used = 0;
  int64_t vals[16];
  tarn_error err;
  memset(&pred, 0, sizeof(pred));
  pred.field_id = 1;
  pred.op = op;
  pred.value.i64 = v;
  memset(&o, 0, sizeof(o));
  o.snapshot_id = -1;
  o.as_of_ms = -1;
  o.preds = &pred;
  o.npreds = 1;
  if (tarn_table_plan(t, &o, &files, &nf, NULL, NULL, &err) != 0)
    fail_msg("plan: %s", tarn_error_message(&err));
  assert_true(nf <= 16);
  for (i = 0; i < nf; i++) {
    int64_t x = files[i].partition[0].i64;
    for (j = i; j > 0 && vals[j - 1] > x; j--)
      vals[j] = vals[j - 1];
    vals[j] = x;
  }
  dst[0] = '\0';
  for (i = 0; i < nf && used < n; i++)
    used += (size_t)snprintf(dst + used, n - used, "%s%lld", i ? " " : "", (long long)vals[i]);
  tarn_ice_data_files_free(files, nf);
}

/* truncate(10) of an int near INT_MIN wraps in 32 bits as in Java: folder, partition value,
 * manifest-list summary and pruning agree, and no predicate drops a matching row. */
static void test_truncate_int_min(void **state) {
  fx *f = *state;
  tarn_ice_field fld;
  tarn_ice_schema s = {0, &fld, 1};
  tarn_ice_partition_field pf = {1, 0, "i_trunc", {TARN_ICE_TRUNCATE, 10}};
  tarn_ice_spec spec = {0, &pf, 1};
  static const int32_t vals[] = {INT32_MIN, 0, 5, INT32_MAX};
  tarn_table *t;
  tarn_ice_manifest_file *mfs;
  tarn_ice_value lo, hi;
  tarn_ice_type ti;
  size_t nmf;
  char got[256], path[PATH_MAX + 96];
  struct stat sb;
  tarn_error err;
  memset(&fld, 0, sizeof(fld));
  fld.id = 1;
  fld.name = "i";
  assert_int_equal(tarn_ice_type_parse("int", &fld.type, NULL), 0);
  ti = fld.type;
  assert_int_equal(
      tarn_table_create(f->cat, &f->io, "db", "tr", &s, &spec, NULL, NULL, 0, NULL, &t, &err), 0);
  append_ints(t, vals, 4);
  /* INT_MIN - 2 wraps to 2147483646, in the folder name as in the value */
  snprintf(path, sizeof(path), "%s/warehouse/db/tr/data/i_trunc=2147483646", f->dir);
  assert_int_equal(stat(path, &sb), 0);
  planned_partitions(t, TARN_PQ_EQ, INT32_MIN, got, sizeof(got));
  assert_string_equal(got, "2147483646");
  /* the manifest list's summary: lower 0, upper 2147483646 (was lower > upper) */
  assert_int_equal(tarn_ice_manifest_list_read(&f->io,
                                               tarn_table_metadata(t)->snapshots[0].manifest_list,
                                               &mfs, &nmf, &err),
                   0);
  assert_int_equal(nmf, 1);
  assert_int_equal(mfs[0].npartitions, 1);
  assert_int_equal(tarn_ice_value_deserialize(&ti, (const uint8_t *)mfs[0].partitions[0].lower.data,
                                              mfs[0].partitions[0].lower.len, &lo, NULL),
                   0);
  assert_int_equal(tarn_ice_value_deserialize(&ti, (const uint8_t *)mfs[0].partitions[0].upper.data,
                                              mfs[0].partitions[0].upper.len, &hi, NULL),
                   0);
  assert_int_equal(lo.i64, 0);
  assert_int_equal(hi.i64, 2147483646);
  tarn_ice_manifest_files_free(mfs, nmf);
  /* pruning keeps every partition holding a match */
  planned_partitions(t, TARN_PQ_EQ, 5, got, sizeof(got));
  assert_string_equal(got, "0");
  planned_partitions(t, TARN_PQ_LT, -2147483640, got, sizeof(got));
  assert_string_equal(got, "2147483646");
  planned_partitions(t, TARN_PQ_LE, INT32_MIN, got, sizeof(got));
  assert_string_equal(got, "2147483646");
  planned_partitions(t, TARN_PQ_GE, INT32_MIN, got, sizeof(got));
  assert_string_equal(got, "0 2147483640 2147483646");
  planned_partitions(t, TARN_PQ_LT, 3, got, sizeof(got));
  assert_string_equal(got, "0 2147483646");
  planned_partitions(t, TARN_PQ_GT, 9, got, sizeof(got)); /* INT_MIN's file: by its metrics */
  assert_string_equal(got, "2147483640");
  planned_partitions(t, TARN_PQ_GE, 2147483647, got, sizeof(got));
  assert_string_equal(got, "2147483640");
  tarn_table_close(t);
}

/* Writes a manifest of entries whose one partition value (a double) is vals[i]; *mf gets
 * its summary. */
static void write_double_manifest(fx *f, const char *name, const double *vals, size_t n,
                                  tarn_ice_entry_status status, tarn_ice_manifest_file *mf) {
  tarn_ice_field fld;
  tarn_ice_schema s = {0, &fld, 1};
  tarn_ice_partition_field pf = {1, 1000, "d", {TARN_ICE_IDENTITY, 0}};
  tarn_ice_spec spec = {0, &pf, 1};
  tarn_ice_manifest_entry es[8];
  tarn_ice_value pv[8];
  char uri[PATH_MAX + 64], paths[8][48];
  tarn_error err;
  size_t i;
  assert_true(n <= 8);
  memset(&fld, 0, sizeof(fld));
  fld.id = 1;
  fld.name = "d";
  assert_int_equal(tarn_ice_type_parse("double", &fld.type, NULL), 0);
  memset(es, 0, sizeof(es));
  memset(pv, 0, sizeof(pv));
  for (i = 0; i < n; i++) {
    snprintf(paths[i], sizeof(paths[i]), "file:///x/%zu.parquet", i);
    pv[i].f64 = vals[i];
    es[i].status = status;
    es[i].snapshot_id = es[i].sequence_number = es[i].file_sequence_number = 7;
    es[i].file.file_path = paths[i];
    es[i].file.partition = &pv[i];
    es[i].file.npartition = 1;
    es[i].file.record_count = 1;
    es[i].file.file_size = 10;
    es[i].file.sort_order_id = -1;
  }
  snprintf(uri, sizeof(uri), "%smetadata/%s.avro", f->root_uri, name);
  if (tarn_ice_manifest_write(&f->io, uri, &s, &spec, 7, es, n, mf, &err) != 0)
    fail_msg("manifest: %s", tarn_error_message(&err));
  assert_int_equal(mf->npartitions, 1);
}

/* The summary's bound as a double, with its sign of zero intact. */
static double summary_bound(const tarn_ice_manifest_file *mf, int upper) {
  const tarn_buf *b = upper ? &mf->partitions[0].upper : &mf->partitions[0].lower;
  double d;
  assert_true(upper ? mf->partitions[0].has_upper : mf->partitions[0].has_lower);
  assert_int_equal(b->len, 8);
  memcpy(&d, b->data, 8); /* little-endian, as the spec serializes */
  return d;
}

/* Partition summaries order -0.0 before +0.0 (the spec's float order) and never take NaN
 * as a bound. */
static void test_partition_summary_bounds(void **state) {
  fx *f = *state;
  tarn_ice_manifest_file mf;
  static const double neg_first[] = {-0.0, 0.0, NAN}, pos_first[] = {NAN, 0.0, -0.0};
  static const double only_neg[] = {-0.0}, only_pos[] = {0.0};
  write_double_manifest(f, "m1", neg_first, 3, TARN_ICE_ADDED, &mf);
  assert_true(summary_bound(&mf, 0) == 0.0 && signbit(summary_bound(&mf, 0)));
  assert_true(summary_bound(&mf, 1) == 0.0 && !signbit(summary_bound(&mf, 1)));
  assert_int_equal(mf.partitions[0].contains_nan, 1);
  tarn_ice_manifest_file_free(&mf);
  write_double_manifest(f, "m2", pos_first, 3, TARN_ICE_ADDED, &mf);
  assert_true(signbit(summary_bound(&mf, 0)));
  assert_false(signbit(summary_bound(&mf, 1)));
  tarn_ice_manifest_file_free(&mf);
  write_double_manifest(f, "m3", only_neg, 1, TARN_ICE_ADDED, &mf);
  assert_true(signbit(summary_bound(&mf, 0)) && signbit(summary_bound(&mf, 1)));
  assert_int_equal(mf.partitions[0].contains_nan, 0);
  tarn_ice_manifest_file_free(&mf);
  write_double_manifest(f, "m4", only_pos, 1, TARN_ICE_ADDED, &mf);
  assert_true(!signbit(summary_bound(&mf, 0)) && !signbit(summary_bound(&mf, 1)));
  tarn_ice_manifest_file_free(&mf);
}

/* A manifest of only deleted entries gets a summary too: Java's ManifestWriter updates it
 * for every entry, whatever its status. */
static void test_partition_summary_deleted(void **state) {
  fx *f = *state;
  tarn_ice_manifest_file mf;
  static const double deleted[] = {1.5, -2.5};
  write_double_manifest(f, "m5", deleted, 2, TARN_ICE_DELETED, &mf);
  assert_int_equal(mf.deleted_files_count, 2);
  assert_true(summary_bound(&mf, 0) == -2.5);
  assert_true(summary_bound(&mf, 1) == 1.5);
  assert_int_equal(mf.partitions[0].contains_null, 0);
  tarn_ice_manifest_file_free(&mf);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_create_append_scan, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pruning_and_time_travel, setup, teardown),
      cmocka_unit_test_setup_teardown(test_overwrite_and_schema_change, setup, teardown),
      cmocka_unit_test_setup_teardown(test_manifest_merge_expire_orphans, setup, teardown),
      cmocka_unit_test_setup_teardown(test_conflict_retry, setup, teardown),
      cmocka_unit_test_setup_teardown(test_lost_acknowledgement, setup, teardown),
      cmocka_unit_test_setup_teardown(test_truncate_int_min, setup, teardown),
      cmocka_unit_test_setup_teardown(test_partition_summary_bounds, setup, teardown),
      cmocka_unit_test_setup_teardown(test_partition_summary_deleted, setup, teardown),
  };
  tarn_log_set_level(TARN_LOG_WARN);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
