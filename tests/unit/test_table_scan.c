/* test_table_scan.c - the one read path: predicates (parse, three-valued logic), projection
 * by field id, pruning at each level, batches; every answer checked against a model. */
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
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "catalog/catalog.h"
#include "parquet/parquet.h"
#include "store/store.h"
#include "table/scan.h"
#include "table/table.h"

/* ---- the model: every value of row `id`, as the test knows it ---- */

#define NOLD 4000 /* ids 0..3999 written before column x was added */
#define NALL 6000
#define NFIELDS 14

enum { F_ID, F_GRP, F_F, F_S, F_D, F_DEC, F_B, F_U, F_TS, F_DW, F_FL, F_TM, F_BIN, F_X };

static const char *const field_names[NFIELDS] = {"id", "grp", "f",  "s",  "d",  "dec", "b",
                                                 "u",  "ts",  "dw", "fl", "tm", "bin", "x"};
static const char *const field_types[NFIELDS] = {
    "long", "int",         "double",         "string", "date", "decimal(10, 2)", "boolean",
    "uuid", "timestamptz", "decimal(38, 4)", "float",  "time", "binary",         "long"};

typedef struct mrow {
  int null[NFIELDS];
  int64_t i[NFIELDS]; /* ints, longs, dates, times, timestamps, booleans, decimals (unscaled) */
  double f;
  float fl;
  char s[16];
  uint8_t u[16], bin[1];
} mrow;

static void model(int64_t id, mrow *r) {
  memset(r, 0, sizeof(*r));
  r->i[F_ID] = id;
  r->i[F_GRP] = id % 4;
  r->null[F_F] = id % 10 == 0;
  r->f = id % 10 == 1 ? NAN : id % 10 == 2 ? -0.0 : id % 10 == 3 ? 0.0 : (double)(id % 37) - 18.5;
  r->null[F_S] = id % 7 == 0;
  snprintf(r->s, sizeof(r->s), "s%03d", (int)(id % 50));
  r->i[F_D] = 20000 + id % 100;
  r->i[F_DEC] = (id * 7) % 1000 - 500;
  r->null[F_B] = id % 3 == 0;
  r->i[F_B] = id % 2;
  memset(r->u, 0x11, 16);
  r->u[15] = (uint8_t)(id % 5);
  r->i[F_TS] = id * 1000000;
  r->i[F_DW] = id * 1000;
  r->null[F_FL] = id % 11 == 0;
  r->fl = (float)(id % 9) - 4;
  r->i[F_TM] = (id % 86400) * 1000000;
  r->null[F_BIN] = id % 6 == 0;
  r->bin[0] = (uint8_t)(id % 4);
  r->null[F_X] = id < NOLD || id % 5 == 0;
  r->i[F_X] = id * 2;
}

/* ---- fixture ---- */

typedef struct fx {
  char dir[64];
  char root_uri[PATH_MAX + 16];
  tarn_store *st;
  tarn_catalog *cat;
  tarn_table_io io;
  tarn_table *t;
} fx;

static void make_schema(tarn_ice_schema *s, tarn_ice_field *fields, size_t n) {
  size_t i;
  memset(fields, 0, n * sizeof(*fields));
  for (i = 0; i < n; i++) {
    fields[i].id = (int32_t)i + 1;
    fields[i].name = (char *)field_names[i];
    fields[i].required = i == F_ID;
    assert_int_equal(tarn_ice_type_parse(field_types[i], &fields[i].type, NULL), 0);
  }
  s->schema_id = 0;
  s->fields = fields;
  s->nfields = n;
}

static void set_bit(uint8_t *bits, int64_t i) { bits[i >> 3] |= (uint8_t)(1u << (i & 7)); }

/* Writes rows [first, first + n) whose id % 4 == grp (grp < 0: all) in one commit. */
static void append_model(fx *f, int64_t first, int64_t n, int grp) {
  const tarn_ice_schema *schema = tarn_table_schema(f->t);
  tarn_pq_schema pq;
  tarn_pq_writer_options o;
  tarn_pq_column_options co[2];
  tarn_pq_array cols[NFIELDS];
  tarn_pq_batch b;
  tarn_table_writer *w;
  tarn_ice_data_file *files;
  tarn_table_commit_result res;
  size_t nf, c;
  int64_t id, k = 0;
  tarn_error err;
  assert_int_equal(tarn_ice_schema_to_parquet(schema, &pq, &err), 0);
  memset(cols, 0, sizeof(cols));
  for (c = 0; c < schema->nfields; c++) {
    cols[c].validity = calloc((size_t)n / 8 + 1, 1);
    cols[c].values = calloc((size_t)n * 16 + 8, 1);
    cols[c].offsets = calloc((size_t)n + 1, 8);
    cols[c].data = calloc((size_t)n * 16 + 8, 1);
  }
  for (id = first; id < first + n; id++) {
    mrow r;
    if (grp >= 0 && id % 4 != grp)
      continue;
    model(id, &r);
    for (c = 0; c < schema->nfields; c++) {
      tarn_pq_array *a = &cols[c];
      const uint8_t *bytes = NULL;
      size_t len = 0;
      if (!r.null[c])
        set_bit(a->validity, k);
      switch (c) {
      case F_GRP:
      case F_D: ((int32_t *)a->values)[k] = (int32_t)r.i[c]; break;
      case F_DEC: ((int64_t *)a->values)[k] = r.i[c]; break;
      case F_F: ((double *)a->values)[k] = r.f; break;
      case F_FL: ((float *)a->values)[k] = r.fl; break;
      case F_B:
        if (r.i[c])
          set_bit(a->values, k);
        break;
      case F_U: memcpy((uint8_t *)a->values + k * 16, r.u, 16); break;
      case F_DW: { /* FLBA(16) big-endian */
        uint8_t *p = (uint8_t *)a->values + k * 16;
        int j;
        for (j = 0; j < 8; j++)
          p[15 - j] = (uint8_t)((uint64_t)r.i[c] >> (8 * j));
        break;
      }
      case F_S:
        if (!r.null[c]) {
          bytes = (const uint8_t *)r.s;
          len = strlen(r.s);
        }
        break;
      case F_BIN:
        if (!r.null[c]) {
          bytes = r.bin;
          len = 1;
        }
        break;
      default: ((int64_t *)a->values)[k] = r.i[c]; break;
      }
      if (c == F_S || c == F_BIN) {
        memcpy(a->data + a->offsets[k], bytes ? bytes : (const uint8_t *)"", len);
        a->offsets[k + 1] = a->offsets[k] + (int64_t)len;
        a->data_len = a->offsets[k + 1];
      }
    }
    k++;
  }
  for (c = 0; c < schema->nfields; c++) {
    cols[c].length = k;
    if (!pq.cols[c].optional) {
      free(cols[c].validity);
      cols[c].validity = NULL;
    }
  }
  b.nrows = k;
  b.ncols = schema->nfields;
  b.cols = cols;
  memset(&o, 0, sizeof(o));
  memset(co, 0, sizeof(co));
  o.codec = TARN_PQ_SNAPPY;
  o.row_group_rows = 250;
  o.page_size = 64;
  co[0].field_id = F_S + 1;
  co[0].bloom_filter = 1;
  co[0].dictionary = -1;
  co[1].field_id = F_ID + 1;
  co[1].bloom_filter = 1;
  co[1].dictionary = 0; /* PLAIN: pages cut by size, so the page index has pages to skip */
  o.columns = co;
  o.ncolumns = 2;
  assert_int_equal(tarn_table_writer_open(f->t, &o, &w, &err), 0);
  if (tarn_table_writer_write(w, &b, &err) != 0)
    fail_msg("write: %s", tarn_error_message(&err));
  assert_int_equal(tarn_table_writer_close(w, &files, &nf, &err), 0);
  if (tarn_table_append(f->t, files, nf, NULL, 0, &res, &err) != 0)
    fail_msg("append: %s", tarn_error_message(&err));
  tarn_ice_data_files_free(files, nf);
  for (c = 0; c < NFIELDS; c++) { /* schema is stale after the commit */
    free(cols[c].validity);
    free(cols[c].values);
    free(cols[c].offsets);
    free(cols[c].data);
  }
  tarn_pq_schema_free(&pq);
}

static int setup(void **state) {
  fx *f = calloc(1, sizeof(*f));
  char db[128], real[PATH_MAX];
  tarn_ice_field fields[NFIELDS];
  tarn_ice_schema s;
  tarn_ice_partition_field pf;
  tarn_ice_spec spec;
  tarn_ice_type xt;
  int32_t xid;
  int g;
  snprintf(f->dir, sizeof(f->dir), "/tmp/tarn-scan-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  assert_non_null(realpath(f->dir, real));
  snprintf(f->root_uri, sizeof(f->root_uri), "file://%s/", real);
  assert_int_equal(tarn_store_local_open(f->dir, &f->st, NULL), 0);
  snprintf(db, sizeof(db), "%s/catalog.db", f->dir);
  assert_int_equal(tarn_catalog_sqlite_open(db, NULL, &f->cat, NULL), 0);
  assert_int_equal(tarn_catalog_create_namespace(f->cat, "db", NULL, 0, NULL), 0);
  f->io.store = f->st;
  f->io.root_uri = f->root_uri;
  make_schema(&s, fields, NFIELDS - 1); /* x comes later */
  memset(&pf, 0, sizeof(pf));
  pf.source_id = F_GRP + 1;
  pf.name = "grp";
  pf.transform.kind = TARN_ICE_IDENTITY;
  spec.spec_id = 0;
  spec.fields = &pf;
  spec.nfields = 1;
  assert_int_equal(
      tarn_table_create(f->cat, &f->io, "db", "m", &s, &spec, NULL, NULL, 0, NULL, &f->t, NULL), 0);
  for (g = 0; g < 4; g++) /* one commit, so one manifest, per partition */
    append_model(f, 0, NOLD, g);
  assert_int_equal(tarn_ice_type_parse("long", &xt, NULL), 0);
  assert_int_equal(tarn_table_add_column(f->t, "x", &xt, NULL, &xid, NULL), 0);
  assert_int_equal(xid, F_X + 1);
  append_model(f, NOLD, NALL - NOLD, -1); /* one manifest, four files */
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  char cmd[128];
  tarn_table_close(f->t);
  tarn_catalog_destroy(f->cat);
  tarn_store_destroy(f->st);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
  assert_int_equal(system(cmd), 0);
  free(f);
  return 0;
}

/* ---- predicates and their oracles ---- */

typedef int (*oracle)(const mrow *r);

static int o_id_eq(const mrow *r) { return r->i[F_ID] == 1234; }
static int o_id_or(const mrow *r) { return r->i[F_ID] < 100 || r->i[F_ID] > 5900; }
static int o_id_in(const mrow *r) {
  int64_t v = r->i[F_ID];
  return v == 5 || v == 77 || v == 1999 || v == 4001;
}
static int o_id_not(const mrow *r) { return r->i[F_ID] < 10; }
static int o_s_eq(const mrow *r) { return !r->null[F_S] && strcmp(r->s, "s007") == 0; }
static int o_s_null(const mrow *r) { return r->null[F_S]; }
static int o_s_nn_grp(const mrow *r) { return !r->null[F_S] && r->i[F_GRP] == 2; }
static int o_f_gt(const mrow *r) { return !r->null[F_F] && r->f > 0; }
static int o_f_not_gt(const mrow *r) { return !r->null[F_F] && !(r->f > 0); }
static int o_f_zero(const mrow *r) { return !r->null[F_F] && r->f == 0; }
static int o_f_ne(const mrow *r) { return !r->null[F_F] && r->f != 1.5; }
static int o_f_nan(const mrow *r) { return !r->null[F_F] && isnan(r->f); }
static int o_f_not_nan(const mrow *r) { return !r->null[F_F] && !isnan(r->f); }
static int o_b(const mrow *r) { return !r->null[F_B] && r->i[F_B] == 1; }
static int o_not_b(const mrow *r) { return !r->null[F_B] && r->i[F_B] != 1; }
static int o_dec(const mrow *r) { return r->i[F_DEC] >= 150; }
static int o_d(const mrow *r) { return r->i[F_D] < 20003 || r->i[F_D] == 20099; }
static int o_u(const mrow *r) { return r->u[15] == 3; }
static int o_ts(const mrow *r) {
  return r->i[F_TS] >= 3600 * 1000000LL && r->i[F_TS] < 3700000000LL;
}
static int o_dw(const mrow *r) { return r->i[F_DW] < 50000; }
static int o_x_null(const mrow *r) { return r->null[F_X]; }
static int o_x_or(const mrow *r) { return (!r->null[F_X] && r->i[F_X] > 11900) || r->i[F_ID] < 3; }
static int o_grp_not_in(const mrow *r) { return r->i[F_GRP] != 1 && r->i[F_GRP] != 2; }
static int o_mix(const mrow *r) { return (r->null[F_S] || r->null[F_F]) && r->i[F_GRP] != 0; }
static int o_none(const mrow *r) {
  (void)r;
  return 0;
}
static int o_fl(const mrow *r) { return !r->null[F_FL] && r->fl <= -3; }
static int o_tm(const mrow *r) { return r->i[F_TM] == 5 * 1000000LL; }
static int o_bin(const mrow *r) { return !r->null[F_BIN] && r->bin[0] == 2; }
static int o_not_x_gt(const mrow *r) { return !r->null[F_X] && !(r->i[F_X] > 9000); }
static int o_nested(const mrow *r) {
  return !(r->i[F_ID] > 50 && !(r->i[F_GRP] == 1 || r->null[F_S]));
}

static const struct {
  const char *text;
  oracle fn;
} cases[] = {
    {"id = 1234", o_id_eq},
    {"id < 100 or id > 5900", o_id_or},
    {"id in (5, 77, 1999, 4001)", o_id_in},
    {"not (id >= 10)", o_id_not},
    {"s = 's007'", o_s_eq},
    {"s is null", o_s_null},
    {"s is not null and grp = 2", o_s_nn_grp},
    {"f > 0", o_f_gt},
    {"not f > 0", o_f_not_gt},
    {"f = 0", o_f_zero},
    {"f = -0.0", o_f_zero},
    {"f != 1.5", o_f_ne},
    {"f is nan", o_f_nan},
    {"f is not nan", o_f_not_nan},
    {"b = true", o_b},
    {"NOT b = true", o_not_b},
    {"dec >= 1.5", o_dec},
    {"d < 2024-10-07 OR d = 2024-10-04 or d = '2025-01-11'", o_d},
    {"u = 11111111-1111-1111-1111-111111111103", o_u},
    {"ts >= 1970-01-01T01:00:00Z and ts < 1970-01-01T01:01:40Z", o_ts},
    {"dw < 5", o_dw},
    {"x is null", o_x_null},
    {"x > 11900 or id < 3", o_x_or},
    {"grp not in (1, 2)", o_grp_not_in},
    {"(s is null or f is null) and not grp = 0", o_mix},
    {"s = 's007x'", o_none},
    {"s in ('s007x', 's0105', 'zzz')", o_none},
    {"id = 1234 and s = 's007'", o_none},
    {"fl <= -3", o_fl},
    {"tm = 00:00:05", o_tm},
    {"bin = Ag==", o_bin},
    {"not x > 9000", o_not_x_gt},
    {"not (id > 50 and not (grp = 1 or s is null))", o_nested},
};

/* Scans with `text` at batch size bs; checks every row against the model and that the ids
 * returned are exactly those the oracle picks. */
static void check_case(fx *f, const char *text, oracle fn, int64_t bs,
                       tarn_table_scan_stats *st_out) {
  tarn_expr *e = NULL;
  tarn_table_scan *sc;
  tarn_table_scan_spec spec;
  const tarn_table_batch *b;
  tarn_error err;
  uint8_t *seen = calloc(NALL, 1);
  int64_t id, want = 0, got = 0;
  if (tarn_expr_parse(tarn_table_schema(f->t), text, &e, &err) != 0)
    fail_msg("parse %s: %s", text, tarn_error_message(&err));
  memset(&spec, 0, sizeof(spec));
  spec.snapshot_id = -1;
  spec.as_of_ms = -1;
  spec.filter = e;
  spec.batch_rows = bs;
  if (tarn_table_scan_open(f->t, &spec, &sc, &err) != 0)
    fail_msg("open %s: %s", text, tarn_error_message(&err));
  for (;;) {
    int64_t i;
    if (tarn_table_scan_next(sc, &b, &err) != 0)
      fail_msg("next %s: %s", text, tarn_error_message(&err));
    if (b == NULL)
      break;
    assert_true(b->nrows >= 1 && b->nrows <= bs);
    assert_int_equal(b->ncols, NFIELDS);
    for (i = 0; i < b->nrows; i++) {
      tarn_ice_value v;
      mrow r;
      size_t c;
      tarn_ice_value_from_array(&b->fields[F_ID].type, &b->layout[F_ID], &b->cols[F_ID], i, &v);
      id = v.i64;
      assert_true(id >= 0 && id < NALL);
      if (seen[id])
        fail_msg("%s: id %lld returned twice", text, (long long)id);
      seen[id] = 1;
      got++;
      model(id, &r);
      for (c = 0; c < NFIELDS; c++) { /* projection: every column as written, x null in old */
        assert_int_equal(b->fields[c].id, (int32_t)c + 1);
        tarn_ice_value_from_array(&b->fields[c].type, &b->layout[c], &b->cols[c], i, &v);
        if (v.is_null != r.null[c])
          fail_msg("%s: id %lld column %s null %d, expected %d", text, (long long)id,
                   field_names[c], v.is_null, r.null[c]);
        if (v.is_null)
          continue;
        if (c == F_S)
          assert_true(v.len == strlen(r.s) && memcmp(v.bytes, r.s, v.len) == 0);
        else if (c == F_F)
          assert_true(isnan(r.f) ? isnan(v.f64) : memcmp(&v.f64, &r.f, 8) == 0);
        else if (c == F_U)
          assert_memory_equal(v.bytes, r.u, 16);
        else if (c == F_X || c == F_ID || c == F_TS || c == F_D || c == F_GRP)
          assert_int_equal(v.i64, r.i[c]);
      }
    }
  }
  for (id = 0; id < NALL; id++) {
    mrow r;
    model(id, &r);
    if (fn(&r)) {
      want++;
      if (!seen[id])
        fail_msg("%s (batch %lld): id %lld matches but was not returned", text, (long long)bs,
                 (long long)id);
    } else if (seen[id]) {
      fail_msg("%s (batch %lld): id %lld does not match but was returned", text, (long long)bs,
               (long long)id);
    }
  }
  assert_int_equal(got, want);
  assert_int_equal(tarn_table_scan_stats_get(sc)->rows_returned, want);
  if (st_out != NULL)
    *st_out = *tarn_table_scan_stats_get(sc);
  tarn_table_scan_close(sc);
  tarn_expr_free(e);
  free(seen);
}

static void test_every_predicate_every_batch_size(void **state) {
  fx *f = *state;
  static const int64_t sizes[] = {1, 7, 100000};
  size_t i, k;
  for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++)
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
      check_case(f, cases[i].text, cases[i].fn, sizes[k], NULL);
}

static int o_grp2(const mrow *r) { return r->i[F_GRP] == 2; }
static int o_id_lt100(const mrow *r) { return r->i[F_ID] < 100; }
static int o_grp2_or_3(const mrow *r) { return r->i[F_GRP] == 2 || r->i[F_GRP] == 3; }
static int o_grp2_or_id(const mrow *r) { return r->i[F_GRP] == 2 || r->i[F_ID] < 5; }
static int o_x_nn(const mrow *r) { return !r->null[F_X]; }

static void test_pruning_counters(void **state) {
  fx *f = *state;
  tarn_table_scan_stats st;
  /* manifests by partition summaries: 3 of the 4 one-partition manifests; then the files
   * of the fifth manifest by partition value */
  check_case(f, "grp = 2", o_grp2, 100000, &st);
  assert_int_equal(st.manifests_total, 5);
  assert_int_equal(st.manifests_pruned, 3);
  assert_int_equal(st.files_total, 5);
  assert_int_equal(st.files_pruned_partition, 3);
  assert_int_equal(st.files_read, 2);
  /* an OR prunes only what every branch prunes */
  check_case(f, "grp = 2 or grp = 3", o_grp2_or_3, 100000, &st);
  assert_int_equal(st.manifests_pruned, 2);
  assert_int_equal(st.files_read, 4);
  check_case(f, "grp = 2 or id < 5", o_grp2_or_id, 100000, &st);
  assert_int_equal(st.manifests_pruned, 0); /* id < 5 may be anywhere */
  assert_int_equal(st.files_pruned_partition + st.files_pruned_metrics, 3); /* newer, grp != 2 */
  /* file metrics: the newer files hold ids 4000.. */
  check_case(f, "id < 100", o_id_lt100, 100000, &st);
  assert_int_equal(st.files_pruned_metrics, 4);
  assert_int_equal(st.files_read, 4);
  /* row groups by statistics: 1234 lies in one row group of one file */
  check_case(f, "id = 1234", o_id_eq, 100000, &st);
  assert_true(st.row_groups_total > 4);
  assert_int_equal(st.row_groups_pruned_stats + st.row_groups_pruned_bloom,
                   st.row_groups_total - 1);
  assert_true(st.pages_pruned > 0); /* and the page index narrows that row group */
  assert_true(st.rows_read < 250);
  /* bloom filters: a value inside every row group's bounds that no row has */
  check_case(f, "s = 's007x'", o_none, 100000, &st);
  assert_int_equal(st.row_groups_pruned_stats, 0);
  assert_true(st.row_groups_pruned_bloom >= st.row_groups_total - 2); /* fpp 1% */
  check_case(f, "s in ('s007x', 's0105')", o_none, 100000, &st);
  assert_true(st.row_groups_pruned_bloom >= st.row_groups_total - 2);
  /* an IN with one present value keeps what holds it */
  check_case(f, "s in ('s007x', 's007')", o_s_eq, 100000, &st);
  /* IS NULL on a required column: every row group by statistics */
  check_case(f, "id is null", o_none, 100000, &st);
  assert_int_equal(st.row_groups_pruned_stats, st.row_groups_total);
  /* NOT uses null counts: x is null in every row of the four older files */
  check_case(f, "not x is null", o_x_nn, 100000, &st);
  assert_int_equal(st.files_pruned_metrics, 4);
}

/* Each level says in a debug line what it skipped. */
static void test_debug_log_lines(void **state) {
  fx *f = *state;
  char line[1024], all[16384];
  size_t n = 0;
  FILE *log = tmpfile();
  assert_non_null(log);
  tarn_log_set_stream(log);
  tarn_log_set_level(TARN_LOG_DEBUG);
  check_case(f, "id = 1234", o_id_eq, 100000, NULL);
  tarn_log_set_level(TARN_LOG_INFO);
  tarn_log_set_stream(stderr);
  rewind(log);
  all[0] = '\0';
  while (fgets(line, sizeof(line), log) != NULL && n + strlen(line) < sizeof(all)) {
    memcpy(all + n, line, strlen(line) + 1);
    n += strlen(line);
  }
  fclose(log);
  assert_non_null(strstr(all, "msg=\"scan pruned\" level=manifest table=db.m"));
  assert_non_null(strstr(all, "level=partition table=db.m skipped=0 kept=8"));
  assert_non_null(strstr(all, "level=metrics table=db.m skipped=4 kept=4"));
  assert_non_null(strstr(all, "level=file table=db.m"));
  assert_non_null(strstr(all, "skipped_stats="));
  assert_non_null(strstr(all, "skipped_pages="));
}

/* Three-valued logic on hand-made rows. */
typedef struct hand {
  int nulls; /* bit per field index */
  double f;
  int64_t id;
} hand;

static void hand_value(void *arg, int32_t field_id, tarn_ice_value *v) {
  const hand *h = arg;
  size_t c = (size_t)field_id - 1;
  memset(v, 0, sizeof(*v));
  v->is_null = (h->nulls >> c) & 1;
  if (c == F_F)
    v->f64 = h->f;
  else
    v->i64 = h->id;
}

static int eval_text(fx *f, const char *text, const hand *h) {
  tarn_expr *e = NULL;
  tarn_error err;
  int r;
  if (tarn_expr_parse(tarn_table_schema(f->t), text, &e, &err) != 0)
    fail_msg("parse %s: %s", text, tarn_error_message(&err));
  r = tarn_expr_eval_row(e, hand_value, (void *)h);
  tarn_expr_free(e);
  return r;
}

static void test_three_valued_logic(void **state) {
  fx *f = *state;
  hand nul = {1 << F_ID | 1 << F_F, 0, 0}, nan = {0, NAN, 1}, one = {0, 1.0, 1};
  assert_int_equal(eval_text(f, "id = 1", &nul), -1);
  assert_int_equal(eval_text(f, "not id = 1", &nul), -1);
  assert_int_equal(eval_text(f, "id = 1 or id is null", &nul), 1);
  assert_int_equal(eval_text(f, "id = 1 and id is not null", &nul), 0);
  assert_int_equal(eval_text(f, "id = 1 or f > 0", &nul), -1);
  assert_int_equal(eval_text(f, "id in (1, 2)", &nul), -1);
  assert_int_equal(eval_text(f, "id not in (1, 2)", &nul), -1);
  assert_int_equal(eval_text(f, "f is nan", &nul), -1);
  assert_int_equal(eval_text(f, "f = 1", &nan), 0);
  assert_int_equal(eval_text(f, "f != 1", &nan), 1);
  assert_int_equal(eval_text(f, "not f < 1", &nan), 1);
  assert_int_equal(eval_text(f, "f is nan", &nan), 1);
  assert_int_equal(eval_text(f, "f in (1, 2)", &nan), 0);
  assert_int_equal(eval_text(f, "f in (2, 1)", &one), 1);
  assert_int_equal(eval_text(f, "id not in (1)", &one), 0);
  assert_int_equal(eval_text(f, "((id = 1))", &one), 1);
}

static void test_parse_errors(void **state) {
  fx *f = *state;
  const tarn_ice_schema *s = tarn_table_schema(f->t);
  static const struct {
    const char *text, *msg;
  } bad[] = {
      {"nope = 1", "no column \"nope\""},
      {"id ~ 3", "expected an operator"},
      {"id = ", "expected a value after the operator"},
      {"s = 'abc", "not closed"},
      {"(id = 1", "expected ')'"},
      {"(id = 1))", "no ')' without its '('"},
      {"id = 1)", "\"1)\" is not a long value"}, /* outside ( ), ')' is text: s = f(x) */
      {"id = 1 and", "expected a column name"},
      {"f = NaN", "NaN compares with nothing"},
      {"dec > 1.999", "more than 2 digits after the point"},
      {"id in (1, x)", "column id: \"x\" is not a long value"},
      {"id in 1", "'(' after \"in\""},
      {"s is nan", "holds no NaN"},
      {"id is maybe", "after \"is\""},
      {"id not = 1", "\"in\" after \"not\""},
  };
  size_t i;
  char deep[400];
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    tarn_expr *e = NULL;
    tarn_error err;
    assert_int_equal(tarn_expr_parse(s, bad[i].text, &e, &err), TARN_EINVAL);
    assert_null(e);
    if (strstr(tarn_error_message(&err), bad[i].msg) == NULL)
      fail_msg("%s: message \"%s\" lacks \"%s\"", bad[i].text, tarn_error_message(&err),
               bad[i].msg);
  }
  /* nesting is bounded */
  memset(deep, '(', 100);
  snprintf(deep + 100, sizeof(deep) - 100, "id = 1");
  {
    tarn_expr *e = NULL;
    tarn_error err;
    assert_int_equal(tarn_expr_parse(s, deep, &e, &err), TARN_EINVAL);
    assert_non_null(strstr(tarn_error_message(&err), "deeper"));
  }
  /* a bare literal keeps its spaces; quotes keep keywords; '' is one quote */
  {
    tarn_expr *e = NULL;
    assert_int_equal(tarn_expr_parse(s, "s = big apple", &e, NULL), 0);
    assert_int_equal(e->values[0].len, 9);
    tarn_expr_free(e);
    assert_int_equal(tarn_expr_parse(s, "s = 'a and b' or s = 'it''s'", &e, NULL), 0);
    assert_int_equal(e->kind, TARN_EXPR_OR);
    assert_int_equal(e->children[0]->values[0].len, 7);
    assert_memory_equal(e->children[1]->values[0].bytes, "it's", 4);
    tarn_expr_free(e);
  }
}

/* Projection of chosen fields, time travel to before the added column, empty results. */
static void test_projection_and_time_travel(void **state) {
  fx *f = *state;
  const tarn_ice_metadata *m = tarn_table_metadata(f->t);
  int32_t ids[2] = {F_X + 1, F_S + 1};
  tarn_table_scan_spec spec;
  tarn_table_scan *sc;
  const tarn_table_batch *b;
  tarn_expr *e = NULL;
  tarn_error err;
  int64_t rows = 0, nulls = 0, first_snap = -1, i;
  /* only x and s, filtered on a column not projected */
  assert_int_equal(tarn_expr_parse(tarn_table_schema(f->t), "id >= 3990 and id < 4010", &e, NULL),
                   0);
  memset(&spec, 0, sizeof(spec));
  spec.snapshot_id = -1;
  spec.as_of_ms = -1;
  spec.field_ids = ids;
  spec.nfield_ids = 2;
  spec.filter = e;
  assert_int_equal(tarn_table_scan_open(f->t, &spec, &sc, &err), 0);
  while (tarn_table_scan_next(sc, &b, &err) == 0 && b != NULL) {
    assert_int_equal(b->ncols, 2);
    assert_string_equal(b->fields[0].name, "x");
    assert_string_equal(b->fields[1].name, "s");
    for (i = 0; i < b->nrows; i++) {
      tarn_ice_value v;
      tarn_ice_value_from_array(&b->fields[0].type, &b->layout[0], &b->cols[0], i, &v);
      nulls += v.is_null;
      rows++;
    }
  }
  assert_int_equal(rows, 20);
  assert_int_equal(nulls, 10 + 2); /* 3990..3999 old; 4000 and 4005 null */
  tarn_table_scan_close(sc);
  tarn_expr_free(e);
  /* the first snapshot: its own schema (no x), 1000 rows of grp 0 */
  for (i = 0; i < (int64_t)m->nsnapshots; i++)
    if (m->snapshots[i].parent_id < 0)
      first_snap = m->snapshots[i].snapshot_id;
  memset(&spec, 0, sizeof(spec));
  spec.snapshot_id = first_snap;
  spec.as_of_ms = -1;
  assert_int_equal(tarn_table_scan_open(f->t, &spec, &sc, &err), 0);
  assert_int_equal(tarn_table_scan_schema(sc)->nfields, NFIELDS - 1);
  rows = 0;
  while (tarn_table_scan_next(sc, &b, &err) == 0 && b != NULL) {
    assert_int_equal(b->ncols, NFIELDS - 1);
    rows += b->nrows;
  }
  assert_int_equal(rows, NOLD / 4);
  tarn_table_scan_close(sc);
  /* an unknown field id and an unknown snapshot name what is wrong */
  ids[0] = 999;
  memset(&spec, 0, sizeof(spec));
  spec.snapshot_id = -1;
  spec.as_of_ms = -1;
  spec.field_ids = ids;
  spec.nfield_ids = 1;
  assert_int_equal(tarn_table_scan_open(f->t, &spec, &sc, &err), TARN_EINVAL);
  assert_non_null(strstr(tarn_error_message(&err), "field id 999"));
  spec.field_ids = NULL;
  spec.snapshot_id = 42;
  assert_int_equal(tarn_table_scan_open(f->t, &spec, &sc, &err), TARN_ENOTFOUND);
  assert_non_null(strstr(tarn_error_message(&err), "no snapshot 42"));
  spec.snapshot_id = -1;
  spec.as_of_ms = 1000; /* 1970 */
  assert_int_equal(tarn_table_scan_open(f->t, &spec, &sc, &err), TARN_ENOTFOUND);
  assert_non_null(strstr(tarn_error_message(&err), "no snapshot at or before"));
}

static int o_f_not_null(const mrow *r) { return !r->null[F_F]; }

/* Scans with a built expression (taken) and compares with the oracle. */
static void check_built(fx *f, tarn_expr *e, oracle fn) {
  tarn_table_scan *sc;
  tarn_table_scan_spec spec;
  const tarn_table_batch *b;
  tarn_error err;
  int64_t got = 0, want = 0, id;
  memset(&spec, 0, sizeof(spec));
  spec.snapshot_id = -1;
  spec.as_of_ms = -1;
  spec.filter = e;
  assert_int_equal(tarn_table_scan_open(f->t, &spec, &sc, &err), 0);
  while (tarn_table_scan_next(sc, &b, &err) == 0 && b != NULL)
    got += b->nrows;
  tarn_table_scan_close(sc);
  tarn_expr_free(e);
  for (id = 0; id < NALL; id++) {
    mrow r;
    model(id, &r);
    want += fn(&r);
  }
  assert_int_equal(got, want);
}

/* Constructors: built trees scan like parsed ones; IN lists are sorted for lookup. */
static void test_constructors(void **state) {
  fx *f = *state;
  const tarn_ice_schema *s = tarn_table_schema(f->t);
  const tarn_ice_field *id = tarn_ice_schema_field(s, F_ID + 1);
  tarn_ice_value v[4];
  tarn_expr *e;
  memset(v, 0, sizeof(v));
  v[0].i64 = 4001;
  v[1].i64 = 5;
  v[2].i64 = 1999;
  v[3].i64 = 77;
  e = tarn_expr_in(id, v, 4);
  assert_non_null(e);
  assert_int_equal(e->values[0].i64, 5);
  assert_int_equal(e->values[3].i64, 4001);
  tarn_expr_free(e);
  /* NaN literals: only != holds, an IN list drops them, and pruning ignores them */
  {
    const tarn_ice_field *fd = tarn_ice_schema_field(s, F_F + 1);
    hand one = {0, 1.0, 1};
    tarn_ice_value nan_v[2];
    memset(nan_v, 0, sizeof(nan_v));
    nan_v[0].f64 = NAN;
    nan_v[1].f64 = 1.0;
    e = tarn_expr_cmp(fd, TARN_EXPR_EQ, &nan_v[0]);
    assert_int_equal(tarn_expr_eval_row(e, hand_value, &one), 0);
    tarn_expr_free(e);
    e = tarn_expr_cmp(fd, TARN_EXPR_NE, &nan_v[0]);
    assert_int_equal(tarn_expr_eval_row(e, hand_value, &one), 1);
    check_built(f, e, o_f_not_null);
    e = tarn_expr_in(fd, nan_v, 2);
    assert_int_equal(e->nvalues, 1);
    assert_int_equal(tarn_expr_eval_row(e, hand_value, &one), 1);
    tarn_expr_free(e);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_every_predicate_every_batch_size, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pruning_counters, setup, teardown),
      cmocka_unit_test_setup_teardown(test_debug_log_lines, setup, teardown),
      cmocka_unit_test_setup_teardown(test_three_valued_logic, setup, teardown),
      cmocka_unit_test_setup_teardown(test_parse_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_projection_and_time_travel, setup, teardown),
      cmocka_unit_test_setup_teardown(test_constructors, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
