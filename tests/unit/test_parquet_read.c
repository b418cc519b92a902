/* test_parquet_read.c - the Parquet reader: DuckDB fixtures read back exactly, pruning,
 * decoders on hand-made vectors, hand-built files and hostile inputs. */
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "parquet/parquet.h"
#include "parquet/pq_read_int.h"
#include "store/store.h"

#ifndef TARN_SOURCE_DIR
#define TARN_SOURCE_DIR "."
#endif

static char data_dir[4096];

static void find_data_dir(void) {
  const char *cands[] = {getenv("TARN_SOURCE_DIR"), TARN_SOURCE_DIR, ".", "..", "../.."};
  size_t i;
  for (i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
    char p[4096];
    if (cands[i] == NULL)
      continue;
    snprintf(p, sizeof(p), "%s/tests/data/parquet/manifest.json", cands[i]);
    if (access(p, R_OK) == 0) {
      snprintf(data_dir, sizeof(data_dir), "%s/tests/data/parquet", cands[i]);
      return;
    }
  }
  /* From the source file's own location (ctest runs in the build directory). */
  {
    char p[4096];
    const char *f = __FILE__, *slash = strstr(f, "tests/unit/");
    if (slash != NULL) {
      snprintf(p, sizeof(p), "%.*stests/data/parquet", (int)(slash - f), f);
      snprintf(data_dir, sizeof(data_dir), "%s", p);
    }
  }
}

static uint8_t *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  uint8_t *buf;
  long sz;
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  sz = ftell(f);
  fseek(f, 0, SEEK_SET);
  buf = malloc((size_t)sz + 1);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, (size_t)sz, f), (size_t)sz);
  fclose(f);
  *n = (size_t)sz;
  return buf;
}

/* ---- canonical text of a value, as gen.mjs has DuckDB write it ---- */

static void int128_str(__int128 v, char *out) {
  char tmp[64];
  int n = 0, neg = v < 0;
  unsigned __int128 u = neg ? (unsigned __int128)(-(v + 1)) + 1 : (unsigned __int128)v;
  do {
    tmp[n++] = (char)('0' + (int)(u % 10));
    u /= 10;
  } while (u > 0);
  if (neg)
    *out++ = '-';
  while (n > 0)
    *out++ = tmp[--n];
  *out = '\0';
}

/* Returns 0 for null, 1 for text in buf, 2 for a double in *d. */
static int canon(const tarn_pq_column *c, const tarn_pq_array *a, int64_t i, char *buf, size_t bufn,
                 double *d) {
  if (a->validity != NULL && !(a->validity[i >> 3] & (1u << (i & 7))))
    return 0;
  switch (c->type) {
  case TARN_PQ_BOOLEAN:
    snprintf(buf, bufn, "%s", (((uint8_t *)a->values)[i >> 3] >> (i & 7)) & 1 ? "true" : "false");
    return 1;
  case TARN_PQ_INT32: {
    int32_t v = ((int32_t *)a->values)[i];
    if (c->logical == TARN_PQ_LT_INTEGER && !c->is_signed)
      snprintf(buf, bufn, "%u", (uint32_t)v);
    else if (c->logical == TARN_PQ_LT_TIME)
      snprintf(buf, bufn, "%lld", (long long)v * 1000);
    else
      snprintf(buf, bufn, "%d", v);
    return 1;
  }
  case TARN_PQ_INT64: {
    int64_t v = ((int64_t *)a->values)[i];
    if (c->logical == TARN_PQ_LT_INTEGER && !c->is_signed)
      snprintf(buf, bufn, "%llu", (unsigned long long)v);
    else if (c->logical == TARN_PQ_LT_TIMESTAMP)
      snprintf(buf, bufn, "%lld",
               (long long)(c->unit == TARN_PQ_MILLIS   ? v * 1000000
                           : c->unit == TARN_PQ_MICROS ? v * 1000
                                                       : v));
    else if (c->logical == TARN_PQ_LT_TIME)
      snprintf(buf, bufn, "%lld", (long long)(c->unit == TARN_PQ_NANOS ? v / 1000 : v));
    else
      snprintf(buf, bufn, "%lld", (long long)v);
    return 1;
  }
  case TARN_PQ_FLOAT:
  case TARN_PQ_DOUBLE: {
    double v =
        c->type == TARN_PQ_FLOAT ? (double)((float *)a->values)[i] : ((double *)a->values)[i];
    if (isnan(v)) {
      snprintf(buf, bufn, "NaN");
      return 1;
    }
    if (isinf(v)) {
      snprintf(buf, bufn, "%s", v > 0 ? "Infinity" : "-Infinity");
      return 1;
    }
    *d = v;
    return 2;
  }
  case TARN_PQ_BYTE_ARRAY: {
    const uint8_t *p = a->data + a->offsets[i];
    int64_t n = a->offsets[i + 1] - a->offsets[i], k;
    assert_true(n >= 0 && (size_t)n * 2 + 1 < bufn);
    if (c->logical == TARN_PQ_LT_STRING || c->logical == TARN_PQ_LT_JSON ||
        c->logical == TARN_PQ_LT_ENUM) {
      memcpy(buf, p, (size_t)n);
      buf[n] = '\0';
    } else {
      for (k = 0; k < n; k++)
        snprintf(buf + 2 * k, 3, "%02X", p[k]);
      buf[2 * n] = '\0';
    }
    return 1;
  }
  case TARN_PQ_FIXED_LEN_BYTE_ARRAY: {
    const uint8_t *p = (const uint8_t *)a->values + (size_t)i * (size_t)c->type_length;
    if (c->logical == TARN_PQ_LT_UUID) {
      snprintf(buf, bufn, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
               p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12],
               p[13], p[14], p[15]);
    } else {
      __int128 v = (p[0] & 0x80) ? -1 : 0;
      int k;
      assert_true(c->type_length <= 16);
      for (k = 0; k < c->type_length; k++)
        v = (__int128)(((unsigned __int128)v << 8) | p[k]);
      int128_str(v, buf);
    }
    return 1;
  }
  default: fail_msg("unexpected type");
  }
  return 0;
}

/* Scans the whole file with the given batch size and compares every value. */
static void check_file(const char *file, const char *expected, int64_t batch_rows) {
  char path[4200], ep[4200];
  tarn_pq_reader *r = NULL;
  tarn_pq_scan *s = NULL;
  tarn_pq_batch *b;
  tarn_error err;
  json_t *exp, *rows;
  json_error_t jerr;
  const tarn_pq_file_meta *m;
  int fd, rc;
  size_t c, row = 0;
  tarn_pq_scan_options o = {0};
  snprintf(path, sizeof(path), "%s/%s", data_dir, file);
  snprintf(ep, sizeof(ep), "%s/%s", data_dir, expected);
  exp = json_load_file(ep, 0, &jerr);
  assert_non_null(exp);
  rows = json_object_get(exp, "rows");
  fd = open(path, O_RDONLY);
  assert_true(fd >= 0);
  rc = tarn_pq_reader_open_fd(fd, file, &r, &err);
  if (rc != 0)
    fail_msg("%s: %s", file, err.detail);
  m = tarn_pq_reader_meta(r);
  assert_int_equal(m->schema.ncols, json_array_size(json_object_get(exp, "columns")));
  for (c = 0; c < m->schema.ncols; c++)
    assert_string_equal(m->schema.cols[c].name,
                        json_string_value(json_object_get(
                            json_array_get(json_object_get(exp, "columns"), c), "name")));
  assert_int_equal(m->num_rows, (int64_t)json_array_size(rows));
  o.batch_rows = batch_rows;
  o.row_group = -1;
  assert_int_equal(tarn_pq_scan_open(r, &o, &s, &err), 0);
  for (;;) {
    int64_t i;
    rc = tarn_pq_scan_next(s, &b, &err);
    if (rc != 0)
      fail_msg("%s: %s", file, err.detail);
    if (b == NULL)
      break;
    assert_true(b->nrows <= batch_rows && b->nrows > 0);
    assert_int_equal(b->ncols, m->schema.ncols);
    for (i = 0; i < b->nrows; i++, row++) {
      json_t *jr = json_array_get(rows, row);
      for (c = 0; c < b->ncols; c++) {
        char buf[8192];
        double d = 0;
        const tarn_pq_column *col = &m->schema.cols[c];
        int k = canon(col, &b->cols[c], i, buf, sizeof(buf), &d);
        json_t *ev = json_array_get(jr, c);
        if (k == 0) {
          if (!json_is_null(ev))
            fail_msg("%s row %zu col %s: got null, want %s", file, row, col->name,
                     json_is_string(ev) ? json_string_value(ev) : "(number)");
        } else if (k == 1) {
          if (!json_is_string(ev) || strcmp(json_string_value(ev), buf) != 0)
            fail_msg("%s row %zu col %s: got %s, want %s", file, row, col->name, buf,
                     json_is_string(ev) ? json_string_value(ev)
                     : json_is_null(ev) ? "null"
                                        : "?");
        } else {
          if (!json_is_number(ev) || json_number_value(ev) != d)
            fail_msg("%s row %zu col %s: got %.17g, want %.17g", file, row, col->name, d,
                     json_is_number(ev) ? json_number_value(ev) : NAN);
        }
      }
      /* Arrow layout: null_count matches the bitmap; null slots are zeroed. */
    }
    for (c = 0; c < b->ncols; c++) {
      int64_t nulls = 0;
      for (i = 0; i < b->nrows; i++)
        if (b->cols[c].validity && !(b->cols[c].validity[i >> 3] & (1u << (i & 7))))
          nulls++;
      assert_int_equal(nulls, b->cols[c].null_count);
      if (b->cols[c].validity != NULL) /* a bitmap only when the batch has nulls */
        assert_true(b->cols[c].null_count > 0);
      if (b->cols[c].offsets)
        assert_int_equal(b->cols[c].offsets[b->nrows], b->cols[c].data_len);
    }
    tarn_pq_batch_free(b);
  }
  assert_int_equal(row, json_array_size(rows));
  assert_int_equal(tarn_pq_scan_stats_get(s)->rows_returned, (int64_t)row);
  tarn_pq_scan_close(s);
  tarn_pq_reader_close(r);
  close(fd);
  json_decref(exp);
}

static void test_fixtures(void **state) {
  char mp[4200];
  json_t *man;
  json_error_t jerr;
  size_t i;
  (void)state;
  snprintf(mp, sizeof(mp), "%s/manifest.json", data_dir);
  man = json_load_file(mp, 0, &jerr);
  assert_non_null(man);
  assert_true(json_array_size(man) >= 10);
  for (i = 0; i < json_array_size(man); i++) {
    json_t *e = json_array_get(man, i);
    const char *f = json_string_value(json_object_get(e, "file"));
    const char *x = json_string_value(json_object_get(e, "expected"));
    check_file(f, x, 65536);
    check_file(f, x, 1000);
    if (i < 3)
      check_file(f, x, 7);
  }
  json_decref(man);
}

/* ---- opening helpers ---- */

static tarn_pq_reader *open_fixture(const char *file, uint8_t **mem) {
  char path[4200];
  size_t n;
  tarn_pq_reader *r = NULL;
  tarn_error err;
  snprintf(path, sizeof(path), "%s/%s", data_dir, file);
  *mem = slurp(path, &n);
  if (tarn_pq_reader_open_mem(*mem, n, file, &r, &err) != 0)
    fail_msg("%s", err.detail);
  return r;
}

static size_t col_index(const tarn_pq_reader *r, const char *name) {
  const tarn_pq_file_meta *m = tarn_pq_reader_meta(r);
  size_t i;
  for (i = 0; i < m->schema.ncols; i++)
    if (strcmp(m->schema.cols[i].name, name) == 0)
      return i;
  fail_msg("no column %s", name);
  return 0;
}

/* Runs a scan; returns rows and fills stats. */
static int64_t run_scan(tarn_pq_reader *r, const tarn_pq_scan_options *o, tarn_pq_scan_stats *st) {
  tarn_pq_scan *s = NULL;
  tarn_pq_batch *b;
  tarn_error err;
  int64_t rows = 0;
  if (tarn_pq_scan_open(r, o, &s, &err) != 0)
    fail_msg("%s", err.detail);
  for (;;) {
    if (tarn_pq_scan_next(s, &b, &err) != 0)
      fail_msg("%s", err.detail);
    if (b == NULL)
      break;
    rows += b->nrows;
    tarn_pq_batch_free(b);
  }
  *st = *tarn_pq_scan_stats_get(s);
  tarn_pq_scan_close(s);
  return rows;
}

static void test_schema_and_meta(void **state) {
  uint8_t *mem;
  tarn_pq_reader *r = open_fixture("all_snappy_v1.parquet", &mem);
  const tarn_pq_file_meta *m = tarn_pq_reader_meta(r);
  const tarn_pq_column *c;
  char d[128];
  (void)state;
  assert_int_equal(m->num_rows, 3000);
  assert_int_equal(m->nrow_groups, 2);
  assert_int_equal(m->row_groups[0].num_rows + m->row_groups[1].num_rows, 3000);
  assert_non_null(m->created_by);
  c = &m->schema.cols[col_index(r, "tstz")];
  assert_int_equal(c->logical, TARN_PQ_LT_TIMESTAMP);
  assert_int_equal(c->unit, TARN_PQ_MICROS);
  assert_int_equal(c->adjusted_to_utc, 1);
  c = &m->schema.cols[col_index(r, "ts")];
  assert_int_equal(c->adjusted_to_utc, 0);
  c = &m->schema.cols[col_index(r, "tsns")];
  assert_int_equal(c->unit, TARN_PQ_NANOS);
  c = &m->schema.cols[col_index(r, "dec38")];
  assert_int_equal(c->type, TARN_PQ_FIXED_LEN_BYTE_ARRAY);
  assert_int_equal(c->type_length, 16);
  tarn_pq_column_describe(c, d, sizeof(d));
  assert_string_equal(d, "FIXED_LEN_BYTE_ARRAY(16) DECIMAL(38,10)");
  c = &m->schema.cols[col_index(r, "u16")];
  assert_int_equal(c->logical, TARN_PQ_LT_INTEGER); /* from ConvertedType UINT_16 */
  assert_int_equal(c->bit_width, 16);
  assert_int_equal(c->is_signed, 0);
  c = &m->schema.cols[col_index(r, "s")];
  assert_int_equal(c->logical, TARN_PQ_LT_STRING);
  assert_int_equal(c->optional, 1);
  c = &m->schema.cols[col_index(r, "u")];
  assert_int_equal(c->logical, TARN_PQ_LT_UUID);
  assert_int_equal(m->row_groups[0].chunks[0].codec, TARN_PQ_SNAPPY);
  assert_true(m->row_groups[0].chunks[0].stats.has_min_max);
  tarn_pq_reader_close(r);
  free(mem);
}

static void test_projection_and_row_group(void **state) {
  uint8_t *mem;
  tarn_pq_reader *r = open_fixture("all_zstd_v2.parquet", &mem);
  size_t cols[2];
  tarn_pq_scan_options o = {0};
  tarn_pq_scan *s;
  tarn_pq_batch *b;
  tarn_error err;
  int64_t seen = 0;
  (void)state;
  cols[0] = col_index(r, "s");
  cols[1] = col_index(r, "id");
  o.columns = cols;
  o.ncolumns = 2;
  o.row_group = 1;
  o.batch_rows = 100;
  assert_int_equal(tarn_pq_scan_open(r, &o, &s, &err), 0);
  while (tarn_pq_scan_next(s, &b, &err) == 0 && b != NULL) {
    int64_t i;
    assert_int_equal(b->ncols, 2);
    for (i = 0; i < b->nrows; i++)
      assert_int_equal(((int64_t *)b->cols[1].values)[i], 2048 + seen + i);
    seen += b->nrows;
    tarn_pq_batch_free(b);
  }
  assert_int_equal(seen, 952);
  tarn_pq_scan_close(s);
  o.row_group = 2;
  assert_int_equal(tarn_pq_scan_open(r, &o, &s, &err), TARN_EINVAL);
  cols[0] = 999;
  o.row_group = -1;
  assert_int_equal(tarn_pq_scan_open(r, &o, &s, &err), TARN_EINVAL);
  tarn_pq_reader_close(r);
  free(mem);
}

static void test_prune_stats(void **state) {
  uint8_t *mem;
  tarn_pq_reader *r = open_fixture("all_snappy_v1.parquet", &mem);
  tarn_pq_predicate p = {0};
  tarn_pq_scan_options o = {0};
  tarn_pq_scan_stats st;
  int64_t rows;
  (void)state;
  o.preds = &p;
  o.npreds = 1;
  o.row_group = -1;
  p.column = col_index(r, "id");
  p.op = TARN_PQ_EQ;
  p.value.i64 = 2500;
  rows = run_scan(r, &o, &st);
  assert_int_equal(st.row_groups_total, 2);
  assert_int_equal(st.row_groups_pruned_stats, 1);
  assert_int_equal(rows, 952);
  p.op = TARN_PQ_GT;
  p.value.i64 = 2999;
  assert_int_equal(run_scan(r, &o, &st), 0);
  assert_int_equal(st.row_groups_pruned_stats, 2);
  p.op = TARN_PQ_GE;
  assert_int_equal(run_scan(r, &o, &st), 952);
  p.op = TARN_PQ_LT;
  p.value.i64 = 0;
  assert_int_equal(run_scan(r, &o, &st), 0);
  p.op = TARN_PQ_LE;
  assert_int_equal(run_scan(r, &o, &st), 2048);
  p.op = TARN_PQ_IS_NULL; /* id has no nulls */
  assert_int_equal(run_scan(r, &o, &st), 0);
  p.op = TARN_PQ_NOT_NULL;
  assert_int_equal(run_scan(r, &o, &st), 3000);
  /* Strings: unsigned byte order. */
  p.column = col_index(r, "cat");
  p.op = TARN_PQ_GT;
  p.value.bytes = (const uint8_t *)"zzz";
  p.value.len = 3;
  assert_int_equal(run_scan(r, &o, &st), 0);
  p.op = TARN_PQ_LT;
  assert_int_equal(run_scan(r, &o, &st), 3000);
  /* Doubles with NaN in the data: a NaN literal never prunes. */
  p.column = col_index(r, "d");
  p.op = TARN_PQ_EQ;
  p.value.f64 = NAN;
  assert_int_equal(run_scan(r, &o, &st), 3000);
  p.value.f64 = 1e300; /* row group 0 holds NaN and inf: DuckDB wrote no bounds for it */
  assert_int_equal(run_scan(r, &o, &st), 2048);
  assert_int_equal(st.row_groups_pruned_stats, 1);
  tarn_pq_reader_close(r);
  free(mem);
}

static void test_prune_bloom(void **state) {
  uint8_t *mem;
  tarn_pq_reader *r = open_fixture("all_snappy_v1.parquet", &mem);
  tarn_pq_predicate p = {0};
  tarn_pq_scan_options o = {0};
  tarn_pq_scan_stats st;
  const tarn_pq_file_meta *m = tarn_pq_reader_meta(r);
  (void)state;
  o.preds = &p;
  o.npreds = 1;
  o.row_group = -1;
  p.column = col_index(r, "cat");
  assert_true(m->row_groups[0].chunks[p.column].bloom_filter_offset > 0);
  p.op = TARN_PQ_EQ;
  p.value.bytes = (const uint8_t *)"purple"; /* between "blue" and "red": only bloom prunes */
  p.value.len = 6;
  assert_int_equal(run_scan(r, &o, &st), 0);
  assert_int_equal(st.row_groups_pruned_bloom, 2);
  p.value.bytes = (const uint8_t *)"green";
  p.value.len = 5;
  assert_int_equal(run_scan(r, &o, &st), 3000);
  assert_int_equal(st.row_groups_pruned_bloom, 0);
  /* INT32 column (TINYINT) with a dictionary and bloom filter: 127 is absent? i8 takes
   * (i*37)%256-128, which covers every value: nothing is pruned. */
  p.column = col_index(r, "i8");
  p.value.i32 = 5;
  assert_int_equal(run_scan(r, &o, &st), 3000);
  p.value.i32 = 1000; /* out of range of the stats already */
  assert_int_equal(run_scan(r, &o, &st), 0);
  tarn_pq_reader_close(r);
  free(mem);
}

/* Page index pruning on a file tarn's writer makes with small pages (DuckDB writes no page
 * index): returned rows are a superset, every projected column stays row-aligned. */
static void page_index_case(int dict);
static void test_prune_page_index(void **state) {
  (void)state;
  page_index_case(0);
  page_index_case(1);
}

static void page_index_case(int dict) {
  tarn_pq_column cols[3];
  tarn_pq_schema sc = {cols, 3};
  tarn_pq_writer_options wo;
  tarn_pq_column_options copts[3];
  tarn_pq_writer *w = NULL;
  tarn_pq_reader *r = NULL;
  tarn_error err;
  tarn_pq_batch b;
  tarn_pq_array arr[3];
  char path[] = "/tmp/tarn_pq_pageidx_XXXXXX";
  int fd = mkstemp(path);
  int64_t n = 20000, i, *ids = malloc((size_t)n * 8), *offs = malloc((size_t)(n + 1) * 8);
  int32_t *ks = malloc((size_t)n * 4);
  uint8_t *valid = calloc((size_t)n / 8 + 1, 1), *data = malloc((size_t)n * 8);
  size_t pos = 0, q;
  assert_true(fd >= 0);
  memset(cols, 0, sizeof(cols));
  cols[0] = (tarn_pq_column){.name = "id", .field_id = 1, .type = TARN_PQ_INT64};
  cols[1] = (tarn_pq_column){.name = "v",
                             .field_id = 2,
                             .type = TARN_PQ_BYTE_ARRAY,
                             .optional = 1,
                             .logical = TARN_PQ_LT_STRING};
  cols[2] = (tarn_pq_column){.name = "k", .field_id = 3, .type = TARN_PQ_INT32, .optional = 1};
  offs[0] = 0;
  for (i = 0; i < n; i++) {
    ids[i] = i;
    ks[i] = (int32_t)(i / 100);
    valid[i / 8] |= (uint8_t)(1u << (i % 8));
    if (i % 7 == 0) {
      valid[i / 8] &= (uint8_t) ~(1u << (i % 8));
    } else {
      pos += (size_t)snprintf((char *)data + pos, 8, "s%05d", (int)i);
    }
    offs[i + 1] = (int64_t)pos;
  }
  memset(&wo, 0, sizeof(wo));
  memset(copts, 0, sizeof(copts));
  for (q = 0; q < 3; q++) { /* PLAIN pages, so that page_size makes many of them */
    copts[q].field_id = (int32_t)q + 1;
    copts[q].dictionary = dict;
  }
  copts[1].bloom_filter = 1;
  wo.columns = copts;
  wo.ncolumns = 3;
  wo.codec = TARN_PQ_ZSTD;
  wo.page_size = dict ? 512 : 2048;
  wo.row_group_rows = 12000;
  if (tarn_pq_writer_open_fd(fd, &sc, &wo, &w, &err) != 0)
    fail_msg("%s", err.detail);
  /* Batches of 512 rows: the writer cuts dictionary-encoded pages between batches. */
  for (i = 0; i < n; i += 512) {
    int64_t m = n - i < 512 ? n - i : 512, k, nulls = 0;
    for (k = i; k < i + m; k++)
      nulls += k % 7 == 0;
    memset(arr, 0, sizeof(arr));
    arr[0] = (tarn_pq_array){.length = m, .values = ids + i};
    arr[1] = (tarn_pq_array){.length = m,
                             .validity = valid + i / 8,
                             .offsets = offs + i,
                             .data = data,
                             .data_len = offs[i + m],
                             .null_count = nulls};
    arr[2] = (tarn_pq_array){.length = m, .values = ks + i};
    b.nrows = m;
    b.ncols = 3;
    b.cols = arr;
    if (tarn_pq_writer_write(w, &b, &err) != 0)
      fail_msg("%s", err.detail);
  }
  if (tarn_pq_writer_close(w, NULL, &err) != 0)
    fail_msg("%s", err.detail);
  assert_int_equal(tarn_pq_reader_open_fd(fd, path, &r, &err), 0);
  assert_true(tarn_pq_reader_meta(r)->row_groups[0].chunks[0].column_index_offset > 0);
  for (q = 0; q < 5; q++) {
    tarn_pq_predicate p[2];
    tarn_pq_scan_options o = {0};
    tarn_pq_scan *s;
    tarn_pq_batch *ob;
    int64_t rows = 0, hits = 0;
    memset(p, 0, sizeof(p));
    o.preds = p;
    o.row_group = -1;
    o.batch_rows = 777;
    o.npreds = 1;
    if (q == 0) {
      p[0].column = 0, p[0].op = TARN_PQ_EQ, p[0].value.i64 = 12345;
    } else if (q == 1) {
      p[0].column = 2, p[0].op = TARN_PQ_GE, p[0].value.i32 = 150;
      p[1].column = 0, p[1].op = TARN_PQ_LT, p[1].value.i64 = 16000;
      o.npreds = 2;
    } else if (q == 2) {
      p[0].column = 1, p[0].op = TARN_PQ_EQ;
      p[0].value.bytes = (const uint8_t *)"s00500";
      p[0].value.len = 6;
    } else if (q == 3) {
      p[0].column = 0, p[0].op = TARN_PQ_LE, p[0].value.i64 = 3;
    } else { /* row 7 is null: only tarn's bloom filter knows "s00007" is absent */
      p[0].column = 1, p[0].op = TARN_PQ_EQ;
      p[0].value.bytes = (const uint8_t *)"s00007";
      p[0].value.len = 6;
    }
    assert_int_equal(tarn_pq_scan_open(r, &o, &s, &err), 0);
    for (;;) {
      if (tarn_pq_scan_next(s, &ob, &err) != 0)
        fail_msg("query %zu: %s", q, err.detail);
      if (ob == NULL)
        break;
      for (i = 0; i < ob->nrows; i++) {
        int64_t id = ((int64_t *)ob->cols[0].values)[i];
        int isnull = ob->cols[1].validity && !(ob->cols[1].validity[i / 8] & (1u << (i % 8)));
        assert_int_equal(((int32_t *)ob->cols[2].values)[i], id / 100);
        assert_int_equal(isnull, id % 7 == 0);
        if (!isnull) {
          char want[8];
          snprintf(want, sizeof(want), "s%05d", (int)id);
          assert_int_equal(ob->cols[1].offsets[i + 1] - ob->cols[1].offsets[i], 6);
          assert_memory_equal(ob->cols[1].data + ob->cols[1].offsets[i], want, 6);
        }
        hits += (q == 0 && id == 12345) || (q == 1 && id >= 15000 && id < 16000) ||
                (q == 2 && id == 500) || (q == 3 && id <= 3);
      }
      rows += ob->nrows;
      tarn_pq_batch_free(ob);
    }
    if (getenv("TARN_TEST_KEEP"))
      fprintf(stderr, "%s dict %d q %zu: %lld rows, pages %lld pruned %lld\n", path, dict, q,
              (long long)rows, (long long)tarn_pq_scan_stats_get(s)->pages_total,
              (long long)tarn_pq_scan_stats_get(s)->pages_pruned);
    if (q == 4) {
      assert_int_equal(rows, 0);
      assert_int_equal(tarn_pq_scan_stats_get(s)->row_groups_pruned_bloom, 1);
      assert_int_equal(tarn_pq_scan_stats_get(s)->row_groups_pruned_stats, 1);
      tarn_pq_scan_close(s);
      continue;
    }
    if (hits != (q == 0 ? 1 : q == 1 ? 1000 : 1 + (q == 3) * 3) || rows >= n / 4)
      fail_msg("query %zu: %lld hits in %lld rows", q, (long long)hits, (long long)rows);
    assert_true(tarn_pq_scan_stats_get(s)->pages_pruned > 0);
    tarn_pq_scan_close(s);
  }
  tarn_pq_reader_close(r);
  close(fd);
  if (getenv("TARN_TEST_KEEP") == NULL)
    unlink(path);
  free(ids);
  free(offs);
  free(ks);
  free(valid);
  free(data);
}

/* The object-store source: ranged reads through tarn_store, failures passed on. */
static void test_open_store(void **state) {
  char dir[] = "/tmp/tarn_pq_store_XXXXXX", path[4200];
  tarn_store *local = NULL, *st = NULL;
  tarn_pq_reader *r = NULL;
  tarn_pq_scan *s = NULL;
  tarn_pq_batch *b;
  tarn_pq_scan_options o = {0};
  tarn_error err;
  uint8_t *mem;
  size_t n;
  int64_t rows = 0;
  int rc;
  (void)state;
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof(path), "%s/all_zstd_v2.parquet", data_dir);
  mem = slurp(path, &n);
  assert_int_equal(tarn_store_local_open(dir, &local, &err), 0);
  assert_int_equal(tarn_store_faulty_wrap(local, &st, &err), 0);
  assert_int_equal(tarn_store_put(st, "data/x.parquet", mem, n, 0, &err), 0);
  assert_int_equal(tarn_pq_reader_open_store(st, "data/missing.parquet", &r, &err), TARN_ENOTFOUND);
  assert_int_equal(tarn_pq_reader_open_store(st, "data/x.parquet", &r, &err), 0);
  assert_int_equal(tarn_pq_reader_meta(r)->num_rows, 3000);
  o.row_group = -1;
  assert_int_equal(tarn_pq_scan_open(r, &o, &s, &err), 0);
  while ((rc = tarn_pq_scan_next(s, &b, &err)) == 0 && b != NULL) {
    rows += b->nrows;
    tarn_pq_batch_free(b);
  }
  assert_int_equal(rc, 0);
  assert_int_equal(rows, 3000);
  tarn_pq_scan_close(s);
  /* the third ranged read fails: the scan reports it */
  assert_int_equal(
      tarn_store_faulty_add(st, TARN_FAULT_GET, TARN_FAULT_ERROR, TARN_EIO, NULL, 3, 1, &err), 0);
  assert_int_equal(tarn_pq_scan_open(r, &o, &s, &err), 0);
  while ((rc = tarn_pq_scan_next(s, &b, &err)) == 0 && b != NULL)
    tarn_pq_batch_free(b);
  assert_int_equal(rc, TARN_EIO);
  assert_non_null(strstr(err.detail, "data/x.parquet"));
  tarn_pq_scan_close(s);
  tarn_pq_reader_close(r);
  tarn_store_delete(st, "data/x.parquet", &err);
  tarn_store_destroy(st);
  rmdir(path); /* best effort: the store's directories */
  snprintf(path, sizeof(path), "%s/data", dir);
  rmdir(path);
  rmdir(dir);
  free(mem);
}

/* ---- decoders on hand-made vectors ---- */

static void test_rle_hybrid(void **state) {
  /* bit-packed run of 8 values (0..7, width 3), then an RLE run of 5 fours */
  const uint8_t in[] = {0x03, 0x88, 0xC6, 0xFA, 0x0A, 0x04};
  uint32_t out[13];
  uint8_t o8[13];
  size_t i;
  (void)state;
  assert_int_equal(tarn__pq_rle_u32(in, sizeof(in), 3, out, 13), 0);
  for (i = 0; i < 8; i++)
    assert_int_equal(out[i], i);
  for (i = 8; i < 13; i++)
    assert_int_equal(out[i], 4);
  assert_int_equal(tarn__pq_rle_u8(in, sizeof(in), 3, o8, 13), 0);
  assert_int_equal(o8[7], 7);
  /* fewer values than the runs hold is fine; more is corrupt */
  assert_int_equal(tarn__pq_rle_u32(in, sizeof(in), 3, out, 3), 0);
  assert_int_equal(tarn__pq_rle_u32(in, sizeof(in), 3, out, 14), -1);
  /* truncated bit-packed data, bad widths, RLE value wider than bw */
  assert_int_equal(tarn__pq_rle_u32(in, 3, 3, out, 8), -1);
  assert_int_equal(tarn__pq_rle_u32(in, sizeof(in), 33, out, 1), -1);
  {
    const uint8_t wide[] = {0x02, 0x09}; /* RLE run of 1 with value 9 at width 3 */
    assert_int_equal(tarn__pq_rle_u32(wide, sizeof(wide), 3, out, 1), -1);
  }
  {
    /* width 0: every value is 0; a run header alone suffices */
    const uint8_t zero[] = {0xC8, 0x01}; /* RLE run of 100 */
    uint32_t z[100];
    assert_int_equal(tarn__pq_rle_u32(zero, sizeof(zero), 0, z, 100), 0);
    assert_int_equal(z[99], 0);
  }
  {
    /* a varint run length that overflows */
    const uint8_t bad[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    assert_int_equal(tarn__pq_rle_u32(bad, sizeof(bad), 1, out, 1), -1);
  }
  {
    /* legacy BIT_PACKED, MSB first: 1,0,1,1,0,0,0,1 = 0xB1 */
    const uint8_t bp[] = {0xB1};
    size_t used;
    assert_int_equal(tarn__pq_bitpacked_u8(bp, 1, 1, o8, 8, &used), 0);
    assert_int_equal(used, 1);
    assert_int_equal(o8[0], 1);
    assert_int_equal(o8[1], 0);
    assert_int_equal(o8[3], 1);
    assert_int_equal(o8[7], 1);
    assert_int_equal(tarn__pq_bitpacked_u8(bp, 1, 1, o8, 9, &used), -1);
  }
}

/* LSB-first packer for tests. */
static void pack(const uint64_t *v, size_t n, int bw, uint8_t *out) {
  size_t i;
  int b;
  memset(out, 0, (n * (size_t)bw + 7) / 8 + 8);
  for (i = 0; i < n; i++)
    for (b = 0; b < bw; b++)
      if ((v[i] >> b) & 1) {
        size_t bit = i * (size_t)bw + (size_t)b;
        out[bit >> 3] |= (uint8_t)(1u << (bit & 7));
      }
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

static void test_unpack_widths(void **state) {
  uint64_t v[67], got[67];
  uint8_t buf[67 * 8 + 16];
  int bw;
  size_t i;
  (void)state;
  for (bw = 0; bw <= 64; bw++) {
    uint64_t mask = bw == 64 ? ~0ull : (1ull << bw) - 1;
    for (i = 0; i < 67; i++)
      v[i] = rnd() & mask;
    if (bw > 0)
      v[3] = mask; /* all ones */
    pack(v, 67, bw, buf);
    assert_int_equal(tarn__pq_unpack64(buf, (67 * (size_t)bw + 7) / 8, bw, got, 67), 0);
    for (i = 0; i < 67; i++)
      assert_true(got[i] == v[i]);
    if (bw > 0)
      assert_int_equal(tarn__pq_unpack64(buf, (67 * (size_t)bw + 7) / 8 - 1, bw, got, 67), -1);
  }
  assert_int_equal(tarn__pq_unpack64(buf, sizeof(buf), 65, got, 1), -1);
}

/* ---- a DELTA_BINARY_PACKED encoder for tests ---- */

static size_t uleb_put(uint8_t *o, uint64_t v) {
  size_t n = 0;
  do {
    uint8_t b = v & 0x7f;
    v >>= 7;
    o[n++] = (uint8_t)(b | (v ? 0x80 : 0));
  } while (v);
  return n;
}

static size_t zz_put(uint8_t *o, int64_t v) {
  return uleb_put(o, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

/* block 128 values, 4 miniblocks of 32; 64-bit wrapping deltas. */
static size_t delta_encode(const int64_t *v, size_t n, uint8_t *o) {
  size_t pos = 0, i = 1;
  pos += uleb_put(o + pos, 128);
  pos += uleb_put(o + pos, 4);
  pos += uleb_put(o + pos, n);
  pos += zz_put(o + pos, n ? v[0] : 0);
  while (i < n) {
    uint64_t d[128], mind = 0;
    size_t cnt = n - i < 128 ? n - i : 128, k, m;
    for (k = 0; k < cnt; k++)
      d[k] = (uint64_t)v[i + k] - (uint64_t)v[i + k - 1];
    for (k = 0; k < cnt; k++)
      if (k == 0 || (int64_t)d[k] < (int64_t)mind)
        mind = d[k];
    for (k = cnt; k < 128; k++)
      d[k] = mind;
    pos += zz_put(o + pos, (int64_t)mind);
    {
      size_t wpos = pos;
      pos += 4;
      for (m = 0; m < 4; m++) {
        uint64_t mx = 0, rel[32];
        int bw = 0;
        for (k = 0; k < 32; k++) {
          rel[k] = d[m * 32 + k] - mind;
          if (rel[k] > mx)
            mx = rel[k];
        }
        while (bw < 64 && (mx >> bw) != 0)
          bw++;
        if (m * 32 >= cnt) {
          o[wpos + m] = 0xEE; /* unused miniblock: any width, no data */
          continue;
        }
        o[wpos + m] = (uint8_t)bw;
        pack(rel, 32, bw, o + pos);
        pos += 32 * (size_t)bw / 8;
      }
    }
    i += cnt;
  }
  return pos;
}

static void check_delta(const int64_t *v, size_t n) {
  uint8_t *enc = calloc(1, n * 10 + 4096);
  int64_t *got = calloc(n + 1, sizeof(int64_t));
  int32_t *g32 = calloc(n + 1, sizeof(int32_t));
  size_t len = delta_encode(v, n, enc), total, used, i;
  assert_int_equal(tarn__pq_delta_i64(enc, len, got, n, &total, &used), 0);
  assert_int_equal(total, n);
  assert_int_equal(used, len);
  for (i = 0; i < n; i++)
    assert_true(got[i] == v[i]);
  assert_int_equal(tarn__pq_delta_i32(enc, len, g32, n, &total, &used), 0);
  for (i = 0; i < n; i++)
    assert_true(g32[i] == (int32_t)(uint32_t)(uint64_t)v[i]);
  /* every truncation fails cleanly (or decodes a prefix when n is satisfied early) */
  for (i = 0; i + 1 < len; i += 1 + len / 50)
    assert_int_equal(tarn__pq_delta_i64(enc, i, got, n, &total, &used), -1);
  free(enc);
  free(got);
  free(g32);
}

static void test_delta(void **state) {
  int64_t v[1000];
  size_t i;
  (void)state;
  memset(v, 0, sizeof(v));
  check_delta(v, 0);
  v[0] = -42;
  check_delta(v, 1);
  for (i = 0; i < 1000; i++) /* negative deltas */
    v[i] = 1000000 - (int64_t)i * 7919 + (int64_t)(i % 3);
  check_delta(v, 1000);
  for (i = 0; i < 300; i++) /* deltas that overflow int64: min delta wraps */
    v[i] = (i % 2) ? INT64_MAX : INT64_MIN;
  check_delta(v, 300);
  for (i = 0; i < 200; i++)
    v[i] = (int64_t)rnd();
  check_delta(v, 200);
  for (i = 0; i < 129; i++) /* constant: width 0 */
    v[i] = 5;
  check_delta(v, 129);
  {
    /* hostile headers */
    uint8_t bad[64];
    int64_t out[4];
    size_t total, used, n = 0;
    n += uleb_put(bad + n, 0); /* block size 0 */
    n += uleb_put(bad + n, 4);
    n += uleb_put(bad + n, 2);
    n += zz_put(bad + n, 1);
    assert_int_equal(tarn__pq_delta_i64(bad, n, out, 2, &total, &used), -1);
    n = 0;
    n += uleb_put(bad + n, 128);
    n += uleb_put(bad + n, 4);
    n += uleb_put(bad + n, 1000000000); /* declares far more than present */
    n += zz_put(bad + n, 1);
    n += zz_put(bad + n, 0);
    memset(bad + n, 65, 4); /* width 65 */
    n += 4;
    assert_int_equal(tarn__pq_delta_i64(bad, n, out, 4, &total, &used), -1);
    /* asking for more values than declared */
    n = 0;
    n += uleb_put(bad + n, 128);
    n += uleb_put(bad + n, 4);
    n += uleb_put(bad + n, 1);
    n += zz_put(bad + n, 1);
    assert_int_equal(tarn__pq_delta_i64(bad, n, out, 2, &total, &used), -1);
    assert_int_equal(tarn__pq_delta_i64(bad, n, out, 1, &total, &used), 0);
    assert_int_equal(out[0], 1);
  }
}

static void test_byte_arrays(void **state) {
  uint8_t buf[512];
  tarn__pq_view v[4];
  uint8_t *dba = NULL;
  size_t n = 0, used;
  int64_t lens[3] = {3, 1, 2}, pre[3] = {0, 3, 3};
  (void)state;
  /* DELTA_LENGTH_BYTE_ARRAY */
  n = delta_encode(lens, 3, buf);
  memcpy(buf + n, "abcdxy", 6);
  assert_int_equal(tarn__pq_dlba_views(buf, n + 6, v, 3, &used), 0);
  assert_int_equal(used, n + 6);
  assert_int_equal(v[2].len, 2);
  assert_memory_equal(v[2].p, "xy", 2);
  assert_int_equal(tarn__pq_dlba_views(buf, n + 5, v, 3, &used), -1);
  /* DELTA_BYTE_ARRAY: "abc", "abc"+"d", "abc"+"xy" */
  n = delta_encode(pre, 3, buf);
  n += delta_encode(lens, 3, buf + n);
  memcpy(buf + n, "abcdxy", 6);
  assert_int_equal(tarn__pq_dba_views(buf, n + 6, v, 3, &dba, 1 << 20), 0);
  assert_int_equal(v[1].len, 4);
  assert_memory_equal(v[1].p, "abcd", 4);
  assert_memory_equal(v[2].p, "abcxy", 5);
  tarn_free(dba);
  /* a prefix longer than the previous value */
  pre[1] = 4;
  n = delta_encode(pre, 3, buf);
  n += delta_encode(lens, 3, buf + n);
  memcpy(buf + n, "abcdxy", 6);
  assert_int_equal(tarn__pq_dba_views(buf, n + 6, v, 3, &dba, 1 << 20), -1);
  assert_null(dba);
  /* output cap */
  pre[1] = 3;
  n = delta_encode(pre, 3, buf);
  n += delta_encode(lens, 3, buf + n);
  memcpy(buf + n, "abcdxy", 6);
  assert_int_equal(tarn__pq_dba_views(buf, n + 6, v, 3, &dba, 8), -2);
  /* PLAIN byte arrays */
  memcpy(buf, "\x02\0\0\0hi\x00\0\0\0\x05\0\0\0", 14);
  assert_int_equal(tarn__pq_plain_views(buf, 14, v, 2, &used), 0);
  assert_int_equal(v[1].len, 0);
  assert_int_equal(tarn__pq_plain_views(buf, 14, v, 3, &used), -1); /* length 5 runs past */
  /* BYTE_STREAM_SPLIT of two floats 1.0f (0x3f800000) and -2.0f (0xc0000000) */
  {
    const uint8_t bss[] = {0x00, 0x00, 0x00, 0x00, 0x80, 0x00, 0x3f, 0xc0};
    float f[2];
    assert_int_equal(tarn__pq_bss(bss, 8, 4, (uint8_t *)f, 2), 0);
    assert_true(f[0] == 1.0f && f[1] == -2.0f);
    assert_int_equal(tarn__pq_bss(bss, 7, 4, (uint8_t *)f, 2), -1);
    uint8_t w3[6];
    const uint8_t in3[] = {1, 4, 2, 5, 3, 6};
    assert_int_equal(tarn__pq_bss(in3, 6, 3, w3, 2), 0);
    assert_memory_equal(w3, "\x01\x02\x03\x04\x05\x06", 6);
  }
}

/* ---- hand-built files: a tiny Thrift compact encoder ---- */

typedef struct tw {
  uint8_t b[8192];
  size_t n;
  int16_t last[128];
  int depth;
} tw;

static void tw_byte(tw *w, uint8_t v) { w->b[w->n++] = v; }
static void tw_varint(tw *w, uint64_t v) { w->n += uleb_put(w->b + w->n, v); }
static void tw_field(tw *w, int16_t id, int type) {
  int16_t d = (int16_t)(id - w->last[w->depth]);
  if (d > 0 && d <= 15) {
    tw_byte(w, (uint8_t)(d << 4 | type));
  } else {
    tw_byte(w, (uint8_t)type);
    tw_varint(w, ((uint64_t)id << 1) ^ (uint64_t)(id >> 15));
  }
  w->last[w->depth] = id;
}
static void tw_i32(tw *w, int16_t id, int64_t v) {
  tw_field(w, id, TARN__THR_I32);
  tw_varint(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}
static void tw_i64(tw *w, int16_t id, int64_t v) {
  tw_field(w, id, TARN__THR_I64);
  tw_varint(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}
static void tw_str(tw *w, int16_t id, const char *s) {
  tw_field(w, id, TARN__THR_BINARY);
  tw_varint(w, strlen(s));
  memcpy(w->b + w->n, s, strlen(s));
  w->n += strlen(s);
}
static void tw_begin(tw *w, int16_t id) { /* a struct field (id 0: a list element) */
  if (id > 0)
    tw_field(w, id, TARN__THR_STRUCT);
  w->last[++w->depth] = 0;
}
static void tw_end(tw *w) {
  tw_byte(w, 0);
  w->depth--;
}
static void tw_list(tw *w, int16_t id, int et, size_t n) {
  tw_field(w, id, TARN__THR_LIST);
  if (n < 15) {
    tw_byte(w, (uint8_t)(n << 4 | (size_t)et));
  } else {
    tw_byte(w, (uint8_t)(0xf0 | et));
    tw_varint(w, n);
  }
}

typedef struct hcol {
  const char *name;
  int type, rep, conv; /* conv -1 none */
} hcol;

static void tw_schema(tw *w, const hcol *cols, size_t n) {
  size_t i;
  tw_list(w, 2, TARN__THR_STRUCT, n + 1);
  tw_begin(w, 0);
  tw_str(w, 4, "root");
  tw_i32(w, 5, (int64_t)n);
  tw_end(w);
  for (i = 0; i < n; i++) {
    tw_begin(w, 0);
    tw_i32(w, 1, cols[i].type);
    tw_i32(w, 3, cols[i].rep);
    tw_str(w, 4, cols[i].name);
    if (cols[i].conv >= 0)
      tw_i32(w, 6, cols[i].conv);
    tw_i32(w, 9, (int64_t)i + 1);
    tw_end(w);
  }
}

/* A file: "PAR1" + pages + footer. Each column is one v1 page, uncompressed. */
typedef struct hpage {
  int def_enc, enc;
  const uint8_t *body; /* levels + values as the page holds them */
  size_t len;
  int32_t num_values;
  const char *lmin, *lmax; /* legacy Statistics min/max (fields 2 and 1), or NULL */
  size_t lmin_n, lmax_n;
} hpage;

static void tw_bin(tw *w, int16_t id, const void *p, size_t n) {
  tw_field(w, id, TARN__THR_BINARY);
  tw_varint(w, n);
  memcpy(w->b + w->n, p, n);
  w->n += n;
}

static int64_t hand_crc = -1; /* >= 0: page headers carry this CRC; -2: the right one */

/* Writes a v1 data page (header, then the body, uncompressed) at out + pos; returns the
 * position after it. */
static size_t put_page(uint8_t *out, size_t pos, const hpage *pg) {
  tw h;
  memset(&h, 0, sizeof(h));
  tw_begin(&h, 0);
  tw_i32(&h, 1, 0);
  tw_i32(&h, 2, (int64_t)pg->len);
  tw_i32(&h, 3, (int64_t)pg->len);
  if (hand_crc != -1)
    tw_i32(&h, 4, hand_crc >= 0 ? (int32_t)hand_crc : (int32_t)crc32(0L, pg->body, (uInt)pg->len));
  tw_begin(&h, 5);
  tw_i32(&h, 1, pg->num_values);
  tw_i32(&h, 2, pg->enc);
  tw_i32(&h, 3, pg->def_enc);
  tw_i32(&h, 4, TARN_PQ_RLE);
  tw_end(&h);
  tw_end(&h);
  memcpy(out + pos, h.b, h.n);
  pos += h.n;
  memcpy(out + pos, pg->body, pg->len);
  return pos + pg->len;
}

/* Ends a file: the footer f, its length and the magic at out + pos; returns the size. */
static size_t put_footer(uint8_t *out, size_t pos, const tw *f) {
  memcpy(out + pos, f->b, f->n);
  pos += f->n;
  out[pos++] = (uint8_t)f->n;
  out[pos++] = (uint8_t)(f->n >> 8);
  out[pos++] = 0;
  out[pos++] = 0;
  memcpy(out + pos, "PAR1", 4);
  return pos + 4;
}

/* Opens a ColumnChunk (a list element) of `values` values at `off`, `len` bytes, and its
 * ColumnMetaData with fields 1 to 7 (one encoding, uncompressed); the caller adds the
 * fields from 8 on and closes both. */
static void tw_chunk_begin(tw *f, int type, const char *name, int enc, int64_t values, int64_t off,
                           int64_t len) {
  tw_begin(f, 0);
  tw_i64(f, 2, off);
  tw_begin(f, 3);
  tw_i32(f, 1, type);
  tw_list(f, 2, TARN__THR_I32, 1);
  tw_varint(f, (uint64_t)enc << 1);
  tw_list(f, 3, TARN__THR_BINARY, 1);
  tw_varint(f, strlen(name));
  memcpy(f->b + f->n, name, strlen(name));
  f->n += strlen(name);
  tw_i32(f, 4, 0);
  tw_i64(f, 5, values);
  tw_i64(f, 6, len);
  tw_i64(f, 7, len);
}

static size_t build_file(uint8_t *out, const hcol *cols, const hpage *pages, size_t n,
                         int64_t rows) {
  size_t pos = 4, i;
  int64_t offs[16];
  tw f;
  memcpy(out, "PAR1", 4);
  for (i = 0; i < n; i++) {
    offs[i] = (int64_t)pos;
    pos = put_page(out, pos, &pages[i]);
    offs[i + 1] = (int64_t)pos;
  }
  memset(&f, 0, sizeof(f));
  tw_begin(&f, 0);
  tw_i32(&f, 1, 2);
  tw_schema(&f, cols, n);
  tw_i64(&f, 3, rows);
  tw_list(&f, 4, TARN__THR_STRUCT, 1);
  tw_begin(&f, 0);
  tw_list(&f, 1, TARN__THR_STRUCT, n);
  for (i = 0; i < n; i++) {
    tw_chunk_begin(&f, cols[i].type, cols[i].name, pages[i].enc, rows, offs[i],
                   offs[i + 1] - offs[i]);
    tw_i64(&f, 9, offs[i]);
    if (pages[i].lmin != NULL) {
      int rep;
      for (rep = 0; rep < 2; rep++) { /* twice: a repeated field replaces, never appends */
        tw_begin(&f, 12);
        tw_bin(&f, 1, pages[i].lmax, pages[i].lmax_n);
        tw_bin(&f, 2, pages[i].lmin, pages[i].lmin_n);
        tw_i64(&f, 3, 0);
        tw_end(&f);
        f.last[f.depth] = 11; /* the same field id again */
      }
    }
    tw_end(&f);
    tw_end(&f);
  }
  tw_i64(&f, 2, 100);
  tw_i64(&f, 3, rows);
  tw_end(&f);
  tw_str(&f, 6, "tarn test");
  tw_end(&f);
  return put_footer(out, pos, &f);
}

/* REQUIRED INT32, OPTIONAL BOOLEAN with RLE values, OPTIONAL INT32 with BIT_PACKED levels. */
static void test_hand_built(void **state) {
  static const hcol cols[] = {{"a", TARN_PQ_INT32, 0, -1},
                              {"flag", TARN_PQ_BOOLEAN, 1, -1},
                              {"legacy", TARN_PQ_INT32, 1, 17 /* INT_32 */},
                              {"name", TARN_PQ_BYTE_ARRAY, 0, 0 /* UTF8 */},
                              {"t96", TARN_PQ_INT96, 0, -1},
                              {"none", TARN_PQ_BYTE_ARRAY, 1, -1}};
  /* none: every row null (an RLE run of ten 0 levels) and no value bytes at all */
  static const uint8_t none[] = {2, 0, 0, 0, 0x14, 0x00};
  /* name: PLAIN "r0".."r9"; t96: PLAIN 12-byte values */
  uint8_t names[10 * 6], t96[10 * 12];
  /* 10 rows. a: 0..9 PLAIN. */
  uint8_t a[40];
  /* flag: def levels RLE (4-byte length) all present except row 2; values RLE boolean
   * (4-byte length): 9 values: true x5, false x4 */
  static const uint8_t flag[] = {
      4, 0, 0, 0, 0x03, 0xFB, 0x03, 0x00,  /* levels: bit-packed 8 (row 2 null), ... */
      4, 0, 0, 0, 0x0A, 0x01, 0x08, 0x00}; /* values: RLE 5 x 1, RLE 4 x 0 */
  /* legacy: BIT_PACKED levels (MSB first) 1,1,0,1,1,1,1,1 | 1,0 ; 8 values 100..107 */
  uint8_t legacy[2 + 32];
  hpage pages[6];
  uint8_t file[4096];
  size_t n, i;
  tarn_pq_reader *r;
  tarn_pq_scan *s;
  tarn_pq_batch *b;
  tarn_error err;
  tarn_pq_scan_options o = {0};
  (void)state;
  for (i = 0; i < 10; i++) {
    int32_t v = (int32_t)i;
    memcpy(a + 4 * i, &v, 4);
  }
  legacy[0] = 0xDF;
  legacy[1] = 0x80;
  for (i = 0; i < 8; i++) {
    int32_t v = 100 + (int32_t)i;
    memcpy(legacy + 2 + 4 * i, &v, 4);
  }
  /* flag levels: first 8 values bit-packed LSB first: 1,1,0,1,1,1,1,1 = 0xFB; then 2
   * more in a second group: 1,1 = 0x03 (a group holds 8: rows 8,9 + padding) */
  for (i = 0; i < 10; i++) {
    memcpy(names + 6 * i, "\x02\0\0\0r", 5);
    names[6 * i + 5] = (uint8_t)('0' + i);
    memset(t96 + 12 * i, (int)i, 12);
  }
  memset(pages, 0, sizeof(pages));
  pages[0] = (hpage){TARN_PQ_RLE, TARN_PQ_PLAIN, a, sizeof(a), 10,
                     "\0\0\0\0",  "\x09\0\0\0",  4, 4}; /* legacy stats, signed: trusted */
  pages[1] = (hpage){TARN_PQ_RLE, TARN_PQ_RLE, flag, sizeof(flag), 10, NULL, NULL, 0, 0};
  pages[2] =
      (hpage){TARN_PQ_BIT_PACKED, TARN_PQ_PLAIN, legacy, sizeof(legacy), 10, NULL, NULL, 0, 0};
  pages[3] = (hpage){TARN_PQ_RLE, TARN_PQ_PLAIN, names, sizeof(names), 10, "r0", "r9", 2, 2};
  pages[4] = (hpage){TARN_PQ_RLE, TARN_PQ_PLAIN, t96, sizeof(t96), 10, NULL, NULL, 0, 0};
  pages[5] = (hpage){TARN_PQ_RLE, TARN_PQ_RLE_DICTIONARY, none, sizeof(none), 10, NULL, NULL, 0, 0};
  {
    /* levels header 0x03 = one bit-packed group; need 2 groups for 10 values: 0x05 */
    static uint8_t flag2[sizeof(flag) + 1];
    memcpy(flag2, "\x03\0\0\0\x05\xFB\x03", 7);
    memcpy(flag2 + 7, flag + 8, 8);
    pages[1].body = flag2;
    pages[1].len = 15;
  }
  n = build_file(file, cols, pages, 6, 10);
  assert_int_equal(tarn_pq_reader_open_mem(file, n, "hand.parquet", &r, &err), 0);
  assert_int_equal(tarn_pq_reader_meta(r)->schema.cols[0].optional, 0);
  /* legacy min/max: used for a signed INT32, ignored for byte arrays (signed byte order) */
  assert_true(tarn_pq_reader_meta(r)->row_groups[0].chunks[0].stats.has_min_max);
  assert_int_equal(tarn_pq_reader_meta(r)->row_groups[0].chunks[0].stats.min.len, 4);
  assert_false(tarn_pq_reader_meta(r)->row_groups[0].chunks[3].stats.has_min_max);
  assert_int_equal(tarn_pq_reader_meta(r)->schema.cols[3].logical, TARN_PQ_LT_STRING);
  assert_int_equal(tarn_pq_reader_meta(r)->schema.cols[2].logical, TARN_PQ_LT_INTEGER);
  o.row_group = -1;
  assert_int_equal(tarn_pq_scan_open(r, &o, &s, &err), 0);
  if (tarn_pq_scan_next(s, &b, &err) != 0)
    fail_msg("%s", err.detail);
  assert_non_null(b);
  assert_int_equal(b->nrows, 10);
  assert_null(b->cols[0].validity); /* REQUIRED */
  assert_int_equal(((int32_t *)b->cols[0].values)[9], 9);
  assert_int_equal(b->cols[1].null_count, 1);
  assert_int_equal(b->cols[1].validity[0] & 4, 0);
  {
    const uint8_t *bits = b->cols[1].values;
    int want[10] = {1, 1, 0, 1, 1, 1, 0, 0, 0, 0}; /* row 2 null: values shift */
    for (i = 0; i < 10; i++)
      assert_int_equal((bits[i >> 3] >> (i & 7)) & 1, want[i]);
  }
  assert_int_equal(b->cols[2].null_count, 2);
  assert_int_equal(((int32_t *)b->cols[2].values)[2], 0); /* null slot zeroed */
  assert_int_equal(((int32_t *)b->cols[2].values)[3], 102);
  assert_int_equal(((int32_t *)b->cols[2].values)[8], 107);
  assert_int_equal(((int32_t *)b->cols[2].values)[9], 0);
  assert_int_equal(b->cols[3].offsets[10], 20);
  assert_memory_equal(b->cols[3].data + b->cols[3].offsets[7], "r7", 2);
  assert_memory_equal((uint8_t *)b->cols[4].values + 12 * 9, "\x09\x09\x09\x09", 4);
  assert_int_equal(b->cols[5].null_count, 10);
  assert_int_equal(b->cols[5].offsets[10], 0);
  tarn_pq_batch_free(b);
  assert_int_equal(tarn_pq_scan_next(s, &b, &err), 0);
  assert_null(b);
  tarn_pq_scan_close(s);
  {
    /* the trusted legacy bounds prune: a > 9 */
    tarn_pq_predicate p = {0};
    tarn_pq_scan_stats st;
    o.preds = &p;
    o.npreds = 1;
    p.column = 0;
    p.op = TARN_PQ_GT;
    p.value.i32 = 9;
    assert_int_equal(run_scan(r, &o, &st), 0);
    assert_int_equal(st.row_groups_pruned_stats, 1);
    p.value.i32 = 8;
    assert_int_equal(run_scan(r, &o, &st), 10);
    o.preds = NULL;
    o.npreds = 0;
  }
  tarn_pq_reader_close(r);

  /* Page checksums: the right CRC-32 reads, a wrong one is corruption. */
  {
    int64_t rows;
    tarn_pq_scan_stats st;
    hand_crc = -2;
    n = build_file(file, cols, pages, 6, 10);
    assert_int_equal(tarn_pq_reader_open_mem(file, n, "crc.parquet", &r, &err), 0);
    rows = run_scan(r, &o, &st);
    assert_int_equal(rows, 10);
    tarn_pq_reader_close(r);
    hand_crc = 12345;
    n = build_file(file, cols, pages, 6, 10);
    hand_crc = -1;
    assert_int_equal(tarn_pq_reader_open_mem(file, n, "crc.parquet", &r, &err), 0);
    assert_int_equal(tarn_pq_scan_open(r, &o, &s, &err), 0);
    assert_int_equal(tarn_pq_scan_next(s, &b, &err), TARN_ECORRUPT);
    assert_non_null(strstr(err.detail, "checksum"));
    tarn_pq_scan_close(s);
    tarn_pq_reader_close(r);
  }

  /* A page that promises more rows than its data holds. */
  pages[0].num_values = 11;
  n = build_file(file, cols, pages, 1, 11);
  assert_int_equal(tarn_pq_reader_open_mem(file, n, "short.parquet", &r, &err), 0);
  assert_int_equal(tarn_pq_scan_open(r, &o, &s, &err), 0);
  assert_int_equal(tarn_pq_scan_next(s, &b, &err), TARN_ECORRUPT);
  assert_non_null(strstr(err.detail, "short.parquet: offset 4"));
  tarn_pq_scan_close(s);
  tarn_pq_reader_close(r);
}

/* Wraps a FileMetaData in a minimal file. */
static size_t wrap_footer(uint8_t *out, const tw *f) {
  memcpy(out, "PAR1", 4);
  return put_footer(out, 4, f);
}

static int open_footer(const tw *f, tarn_error *err) {
  uint8_t file[9000];
  tarn_pq_reader *r = NULL;
  size_t n = wrap_footer(file, f);
  int rc = tarn_pq_reader_open_mem(file, n, "h.parquet", &r, err);
  tarn_pq_reader_close(r);
  return rc;
}

static void test_hostile_footers(void **state) {
  tw f;
  tarn_error err;
  uint8_t file[64];
  tarn_pq_reader *r;
  int i;
  (void)state;
  /* nested: root -> group g -> leaf x */
  memset(&f, 0, sizeof(f));
  tw_begin(&f, 0);
  tw_i32(&f, 1, 2);
  tw_list(&f, 2, TARN__THR_STRUCT, 3);
  tw_begin(&f, 0);
  tw_str(&f, 4, "root");
  tw_i32(&f, 5, 1);
  tw_end(&f);
  tw_begin(&f, 0);
  tw_i32(&f, 3, 1);
  tw_str(&f, 4, "g");
  tw_i32(&f, 5, 1);
  tw_end(&f);
  tw_begin(&f, 0);
  tw_i32(&f, 1, 1);
  tw_i32(&f, 3, 1);
  tw_str(&f, 4, "x");
  tw_end(&f);
  tw_i64(&f, 3, 0);
  tw_list(&f, 4, TARN__THR_STRUCT, 0);
  tw_end(&f);
  assert_int_equal(open_footer(&f, &err), TARN_EUNSUPPORTED);
  assert_non_null(strstr(err.detail, "\"g\""));
  /* repeated leaf */
  {
    static const hcol rep[] = {{"tags", TARN_PQ_BYTE_ARRAY, 2, 0}};
    memset(&f, 0, sizeof(f));
    tw_begin(&f, 0);
    tw_i32(&f, 1, 2);
    tw_schema(&f, rep, 1);
    tw_i64(&f, 3, 0);
    tw_list(&f, 4, TARN__THR_STRUCT, 0);
    tw_end(&f);
    assert_int_equal(open_footer(&f, &err), TARN_EUNSUPPORTED);
    assert_non_null(strstr(err.detail, "\"tags\""));
  }
  /* deep nesting of unknown fields */
  memset(&f, 0, sizeof(f));
  tw_begin(&f, 0);
  for (i = 0; i < 100; i++)
    tw_begin(&f, 20);
  for (i = 0; i < 100; i++)
    tw_end(&f);
  tw_end(&f);
  assert_int_equal(open_footer(&f, &err), TARN_ECORRUPT);
  assert_non_null(strstr(err.detail, "nest"));
  /* a list claiming 2^32-1 elements */
  memset(&f, 0, sizeof(f));
  tw_begin(&f, 0);
  tw_i32(&f, 1, 2);
  tw_list(&f, 2, TARN__THR_STRUCT, 0xffffffffu);
  tw_end(&f);
  assert_int_equal(open_footer(&f, &err), TARN_ECORRUPT);
  assert_non_null(strstr(err.detail, "h.parquet: offset "));
  /* unknown fields of every type are skipped */
  {
    static const hcol one[] = {{"v", TARN_PQ_INT64, 1, -1}};
    memset(&f, 0, sizeof(f));
    tw_begin(&f, 0);
    tw_i32(&f, 1, 2);
    tw_schema(&f, one, 1);
    tw_i64(&f, 3, 0);
    tw_list(&f, 4, TARN__THR_STRUCT, 0);
    tw_field(&f, 50, TARN__THR_DOUBLE);
    memset(f.b + f.n, 0, 8);
    f.n += 8;
    tw_field(&f, 51, TARN__THR_MAP);
    tw_varint(&f, 2);
    tw_byte(&f, (TARN__THR_BINARY << 4) | TARN__THR_LIST);
    tw_varint(&f, 1);
    tw_byte(&f, 'k');
    tw_byte(&f, 0x11); /* list of one bool */
    tw_byte(&f, 1);
    tw_varint(&f, 0);
    tw_byte(&f, 0x0c); /* empty list of structs */
    tw_field(&f, 52, TARN__THR_TRUE);
    tw_field(&f, 53, TARN__THR_BYTE);
    tw_byte(&f, 7);
    tw_field(&f, 54, TARN__THR_SET);
    tw_byte(&f, 0x1c);
    tw_byte(&f, 0x15); /* struct { 1: i32 } */
    tw_byte(&f, 0x02);
    tw_byte(&f, 0);
    tw_end(&f);
    assert_int_equal(open_footer(&f, &err), 0);
  }
  /* footer length past the file, missing magic, tiny files */
  memcpy(file, "PAR1\x01\x02\xff\xff\x00\x00PAR1", 14);
  assert_int_equal(tarn_pq_reader_open_mem(file, 14, "x", &r, &err), TARN_ECORRUPT);
  assert_non_null(strstr(err.detail, "footer length"));
  memcpy(file, "PAR1\x00\x00\x00\x00PAR0", 12);
  assert_int_equal(tarn_pq_reader_open_mem(file, 12, "x", &r, &err), TARN_ECORRUPT);
  assert_int_equal(tarn_pq_reader_open_mem(file, 3, "x", &r, &err), TARN_ECORRUPT);
  assert_non_null(strstr(err.detail, "offset 0"));
}

/*
 * A footer as arrow-cpp writes it for a file of 0 rows (parquet-testing's
 * column_chunk_key_value_metadata.parquet): one row group of 0 rows whose chunks say
 * data_page_offset 0, 14 bytes, 0 values, and carry key-value metadata (arrow's say
 * SNAPPY and list RLE too; neither matters here). With rows != 0 the same offsets are
 * corrupt.
 */
static void zero_row_footer(tw *f, int64_t rows) {
  static const hcol cols[] = {{"a", TARN_PQ_INT32, 1, -1}, {"b", TARN_PQ_BYTE_ARRAY, 1, 0}};
  size_t i;
  memset(f, 0, sizeof(*f));
  tw_begin(f, 0);
  tw_i32(f, 1, 2);
  tw_schema(f, cols, 2);
  tw_i64(f, 3, rows);
  tw_list(f, 4, TARN__THR_STRUCT, 1);
  tw_begin(f, 0);
  tw_list(f, 1, TARN__THR_STRUCT, 2);
  for (i = 0; i < 2; i++) {
    tw_chunk_begin(f, cols[i].type, cols[i].name, TARN_PQ_PLAIN, rows, 0, 14);
    tw_list(f, 8, TARN__THR_STRUCT, 1); /* key_value_metadata */
    tw_begin(f, 0);
    tw_str(f, 1, "foo");
    tw_str(f, 2, "bar");
    tw_end(f);
    tw_i64(f, 9, 0); /* data_page_offset */
    tw_end(f);
    tw_end(f);
  }
  tw_i64(f, 2, 28);
  tw_i64(f, 3, rows);
  tw_end(f);
  tw_str(f, 6, "parquet-cpp-arrow version 14.0.0");
  tw_end(f);
}

static void test_zero_row_chunks(void **state) {
  uint8_t file[9000];
  tw f;
  tarn_pq_reader *r = NULL;
  const tarn_pq_file_meta *m;
  tarn_pq_scan_stats st;
  tarn_error err;
  size_t n;
  (void)state;
  zero_row_footer(&f, 0);
  n = wrap_footer(file, &f);
  if (tarn_pq_reader_open_mem(file, n, "zero.parquet", &r, &err) != 0)
    fail_msg("%s", err.detail);
  m = tarn_pq_reader_meta(r);
  assert_int_equal(m->num_rows, 0);
  assert_int_equal(m->schema.ncols, 2);
  assert_int_equal(m->nrow_groups, 1);
  assert_int_equal(m->row_groups[0].num_rows, 0);
  assert_int_equal(m->row_groups[0].chunks[1].num_values, 0);
  assert_int_equal(m->row_groups[0].chunks[1].total_compressed_size, 14);
  assert_int_equal(run_scan(r, NULL, &st), 0);
  assert_int_equal(st.row_groups_total, 1);
  tarn_pq_reader_close(r);
  /* the same offsets in a row group with rows are still corrupt */
  zero_row_footer(&f, 3);
  n = wrap_footer(file, &f);
  assert_int_equal(tarn_pq_reader_open_mem(file, n, "rows.parquet", &r, &err), TARN_ECORRUPT);
  assert_non_null(strstr(err.detail, "chunk at 0 (+14 bytes) lies outside the data region"));
}

/*
 * What other writers put in files that tarn's writer does not: a STRING column whose field
 * id is 0 and whose statistics need quoting in CSV ("a,b" .. "q\"z"); a FLOAT16 column
 * (FIXED_LEN_BYTE_ARRAY(2), LogicalType field 15) without a field id: 1.5, -0.1, NaN; an
 * INT96 column: 2500-01-01 (past what nanoseconds since 1970 hold in 64 bits),
 * 2000-01-01T12:00:00.000000001, and -1 nanoseconds of 2000-01-01 (the instant before).
 */
static size_t build_readers_file(uint8_t *out) {
  static const uint8_t s_body[] = "\x03\0\0\0a,b\x03\0\0\0q\"z\x01\0\0\0b";
  static const uint8_t h_body[] = {0x00, 0x3e, 0x66, 0xae, 0x00, 0x7e};
  uint8_t t_body[36];
  hpage pg[3];
  int64_t offs[4], nanos[3] = {0, 43200000000001LL, -1};
  int32_t jd[3] = {2440588 + 193579, 2451545, 2451545}; /* 1970-01-01 + 193579 days: 2500 */
  size_t pos = 4, i;
  tw f;
  for (i = 0; i < 3; i++) {
    memcpy(t_body + 12 * i, &nanos[i], 8);
    memcpy(t_body + 12 * i + 8, &jd[i], 4);
  }
  memset(pg, 0, sizeof(pg));
  pg[0] = (hpage){TARN_PQ_RLE, TARN_PQ_PLAIN, s_body, sizeof(s_body) - 1, 3, NULL, NULL, 0, 0};
  pg[1] = (hpage){TARN_PQ_RLE, TARN_PQ_PLAIN, h_body, sizeof(h_body), 3, NULL, NULL, 0, 0};
  pg[2] = (hpage){TARN_PQ_RLE, TARN_PQ_PLAIN, t_body, sizeof(t_body), 3, NULL, NULL, 0, 0};
  memcpy(out, "PAR1", 4);
  for (i = 0; i < 3; i++) {
    offs[i] = (int64_t)pos;
    pos = put_page(out, pos, &pg[i]);
    offs[i + 1] = (int64_t)pos;
  }
  memset(&f, 0, sizeof(f));
  tw_begin(&f, 0);
  tw_i32(&f, 1, 2);
  tw_list(&f, 2, TARN__THR_STRUCT, 4);
  tw_begin(&f, 0);
  tw_str(&f, 4, "root");
  tw_i32(&f, 5, 3);
  tw_end(&f);
  tw_begin(&f, 0); /* s: BYTE_ARRAY UTF8, field id 0 */
  tw_i32(&f, 1, TARN_PQ_BYTE_ARRAY);
  tw_i32(&f, 3, 0);
  tw_str(&f, 4, "s");
  tw_i32(&f, 6, 0);
  tw_i32(&f, 9, 0);
  tw_end(&f);
  tw_begin(&f, 0); /* h: FLBA(2) FLOAT16, no field id */
  tw_i32(&f, 1, TARN_PQ_FIXED_LEN_BYTE_ARRAY);
  tw_i32(&f, 2, 2);
  tw_i32(&f, 3, 0);
  tw_str(&f, 4, "h");
  tw_begin(&f, 10);
  tw_begin(&f, 15);
  tw_end(&f);
  tw_end(&f);
  tw_end(&f);
  tw_begin(&f, 0); /* t: INT96, field id 7 */
  tw_i32(&f, 1, TARN_PQ_INT96);
  tw_i32(&f, 3, 0);
  tw_str(&f, 4, "t");
  tw_i32(&f, 9, 7);
  tw_end(&f);
  tw_i64(&f, 3, 3);
  tw_list(&f, 4, TARN__THR_STRUCT, 1);
  tw_begin(&f, 0);
  tw_list(&f, 1, TARN__THR_STRUCT, 3);
  for (i = 0; i < 3; i++) {
    static const char *const names[] = {"s", "h", "t"};
    static const int types[] = {TARN_PQ_BYTE_ARRAY, TARN_PQ_FIXED_LEN_BYTE_ARRAY, TARN_PQ_INT96};
    tw_chunk_begin(&f, types[i], names[i], TARN_PQ_PLAIN, 3, offs[i], offs[i + 1] - offs[i]);
    tw_i64(&f, 9, offs[i]);
    if (i < 2) { /* Statistics: 3 null_count, 5 max_value, 6 min_value */
      tw_begin(&f, 12);
      tw_i64(&f, 3, 0);
      if (i == 0) {
        tw_bin(&f, 5, "q\"z", 3);
        tw_bin(&f, 6, "a,b", 3);
      } else {
        tw_bin(&f, 5, "\x00\x3e", 2);
        tw_bin(&f, 6, "\x66\xae", 2);
      }
      tw_end(&f);
    }
    tw_end(&f);
    tw_end(&f);
  }
  tw_i64(&f, 2, offs[3] - offs[0]);
  tw_i64(&f, 3, 3);
  tw_end(&f);
  tw_str(&f, 6, "tarn test (other writers)");
  tw_end(&f);
  return put_footer(out, pos, &f);
}

/* The reader side of other writers' files: field id 0 is an id, FLOAT16 is named and its
 * statistics ordered by value. (The CLI's rendering is checked by test_parquet_cli.) */
static void test_other_writers(void **state) {
  uint8_t file[4096];
  size_t n = build_readers_file(file);
  tarn_pq_reader *r = NULL;
  const tarn_pq_file_meta *m;
  tarn_pq_scan_stats st;
  tarn_error err;
  char d[96];
  (void)state;
  if (tarn_pq_reader_open_mem(file, n, "others.parquet", &r, &err) != 0)
    fail_msg("%s", err.detail);
  m = tarn_pq_reader_meta(r);
  assert_true(m->schema.cols[0].has_field_id);
  assert_int_equal(m->schema.cols[0].field_id, 0);
  assert_false(m->schema.cols[1].has_field_id);
  assert_true(m->schema.cols[2].has_field_id);
  assert_int_equal(m->schema.cols[2].field_id, 7);
  assert_int_equal(m->schema.cols[1].logical, TARN_PQ_LT_FLOAT16);
  tarn_pq_column_describe(&m->schema.cols[1], d, sizeof(d));
  assert_string_equal(d, "FIXED_LEN_BYTE_ARRAY(2) FLOAT16");
  assert_true(tarn_pq_float16_to_double((const uint8_t *)"\x00\x3e") == 1.5);
  assert_true(tarn_pq_float16_to_double((const uint8_t *)"\x01\x00") == ldexp(1.0, -24));
  assert_true(tarn_pq_float16_to_double((const uint8_t *)"\xff\x7b") == 65504.0);
  assert_true(isinf(tarn_pq_float16_to_double((const uint8_t *)"\x00\xfc")));
  assert_true(isnan(tarn_pq_float16_to_double((const uint8_t *)"\x00\x7e")));
  /* -0.1 < 1.5 by value, though 0xae66 > 0x3e00 as bytes */
  assert_true(tarn__pq_compare(&m->schema.cols[1], (const uint8_t *)"\x66\xae", 2,
                               (const uint8_t *)"\x00\x3e", 2) < 0);
  assert_true(m->row_groups[0].chunks[1].stats.has_min_max);
  assert_int_equal(run_scan(r, NULL, &st), 3);
  tarn_pq_reader_close(r);
}

/*
 * With TARN_PQR_DUMP naming a directory this program writes the hand-built files the CLI
 * test reads (zero.parquet: 0 rows as arrow-cpp writes them; others.parquet: see
 * build_readers_file), and nothing else runs.
 */
static void test_dump_for_cli(void **state) {
  const char *dir = getenv("TARN_PQR_DUMP");
  uint8_t file[9000];
  char path[4200];
  size_t n;
  tw f;
  FILE *o;
  (void)state;
  if (dir == NULL)
    return;
  zero_row_footer(&f, 0);
  n = wrap_footer(file, &f);
  snprintf(path, sizeof(path), "%s/zero.parquet", dir);
  o = fopen(path, "wb");
  assert_non_null(o);
  assert_int_equal(fwrite(file, 1, n, o), n);
  assert_int_equal(fclose(o), 0);
  n = build_readers_file(file);
  snprintf(path, sizeof(path), "%s/others.parquet", dir);
  o = fopen(path, "wb");
  assert_non_null(o);
  assert_int_equal(fwrite(file, 1, n, o), n);
  assert_int_equal(fclose(o), 0);
}

/* Every truncation and many bit flips of real files: errors, never crashes. */
static void scan_all(const uint8_t *p, size_t n, int *opened) {
  tarn_pq_reader *r = NULL;
  tarn_pq_scan *s = NULL;
  tarn_pq_batch *b;
  tarn_error err;
  tarn_pq_scan_options o = {0};
  int rc = tarn_pq_reader_open_mem(p, n, "fuzz", &r, &err);
  if (rc != 0) {
    if (rc != TARN_ECORRUPT && rc != TARN_EUNSUPPORTED && rc != TARN_ETOOBIG)
      fail_msg("open: %d %s", rc, err.detail);
    return;
  }
  (*opened)++;
  o.row_group = -1;
  o.batch_rows = 500;
  if (tarn_pq_scan_open(r, &o, &s, &err) == 0) {
    while ((rc = tarn_pq_scan_next(s, &b, &err)) == 0 && b != NULL)
      tarn_pq_batch_free(b);
    if (rc != 0 && rc != TARN_ECORRUPT && rc != TARN_EUNSUPPORTED && rc != TARN_ETOOBIG)
      fail_msg("scan: %d %s", rc, err.detail);
    tarn_pq_scan_close(s);
  }
  tarn_pq_reader_close(r);
}

static void test_truncated_and_flipped(void **state) {
  const char *files[] = {"small_gzip_v2.parquet", "small_lz4_raw_v2.parquet"};
  size_t f;
  (void)state;
  for (f = 0; f < 2; f++) {
    char path[4200];
    size_t n, i;
    uint8_t *mem, *copy;
    int opened = 0;
    snprintf(path, sizeof(path), "%s/%s", data_dir, files[f]);
    mem = slurp(path, &n);
    copy = malloc(n);
    for (i = 0; i < n; i += 1 + i / 64) { /* truncations */
      memcpy(copy, mem, i);
      scan_all(copy, i, &opened);
    }
    /* every byte of the file with one flipped bit, and with 0xff */
    for (i = 0; i < n; i++) {
      memcpy(copy, mem, n);
      copy[i] ^= (uint8_t)(1u << (i % 8));
      scan_all(copy, n, &opened);
      if (i % 3 == 0) {
        copy[i] = 0xff;
        scan_all(copy, n, &opened);
      }
    }
    assert_true(opened > 0);
    free(copy);
    free(mem);
  }
}

/* FNV-1a over what a batch holds: row count, nulls, and each non-null value's bytes. */
static uint64_t fnv(uint64_t h, const void *p, size_t n) {
  const uint8_t *q = p;
  size_t i;
  for (i = 0; i < n; i++)
    h = (h ^ q[i]) * 1099511628211ULL;
  return h;
}

static uint64_t batch_digest(uint64_t h, const tarn_pq_file_meta *m, const tarn_pq_batch *b) {
  size_t j;
  int64_t i;
  h = fnv(h, &b->nrows, sizeof(b->nrows));
  for (j = 0; j < b->ncols; j++) {
    const tarn_pq_column *c = &m->schema.cols[j];
    const tarn_pq_array *a = &b->cols[j];
    int w = tarn_pq_array_width(c);
    h = fnv(h, &a->length, sizeof(a->length));
    h = fnv(h, &a->null_count, sizeof(a->null_count));
    for (i = 0; i < a->length; i++) {
      uint8_t bit;
      if (a->validity != NULL && !((a->validity[i >> 3] >> (i & 7)) & 1)) {
        h = fnv(h, "N", 1);
        continue;
      }
      if (c->type == TARN_PQ_BOOLEAN) {
        bit = (uint8_t)((((const uint8_t *)a->values)[i >> 3] >> (i & 7)) & 1);
        h = fnv(h, &bit, 1);
      } else if (c->type == TARN_PQ_BYTE_ARRAY) {
        h = fnv(h, a->data + a->offsets[i], (size_t)(a->offsets[i + 1] - a->offsets[i]));
      } else {
        h = fnv(h, (const uint8_t *)a->values + (size_t)i * (size_t)w, (size_t)w);
      }
    }
  }
  return h;
}

/* Scans r whole; *digest covers every batch. Returns the first failure's code. */
static int scan_digest(tarn_pq_reader *r, uint64_t *digest, tarn_error *err) {
  tarn_pq_scan_options o = {0};
  tarn_pq_scan *s = NULL;
  tarn_pq_batch *b;
  uint64_t h = 14695981039346656037ULL;
  int rc;
  o.row_group = -1;
  rc = tarn_pq_scan_open(r, &o, &s, err);
  if (rc != 0) {
    assert_null(s); /* a failed open hands out nothing */
    return rc;
  }
  while ((rc = tarn_pq_scan_next(s, &b, err)) == 0 && b != NULL) {
    h = batch_digest(h, tarn_pq_reader_meta(r), b);
    tarn_pq_batch_free(b);
  }
  tarn_pq_scan_close(s);
  *digest = h;
  return rc;
}

/*
 * Every allocation of opening and scanning a file fails in turn. After each failure: the
 * code is TARN_ENOMEM with a detail, a failed open hands out no reader, and a reader
 * whose scan failed is unchanged: a later scan without faults reads the same rows and
 * values as a run that never failed. A run the fault did not reach gives that result too.
 */
static void test_alloc_failures(void **state) {
  uint8_t *mem;
  char path[4200];
  size_t n;
  long k, total;
  tarn_pq_reader *r = NULL;
  tarn_error err;
  uint64_t want = 0, got;
  int rc, failed = 0;
  (void)state;
  snprintf(path, sizeof(path), "%s/small_gzip_v2.parquet", data_dir);
  mem = slurp(path, &n);
  tarn_alloc_fail_reset();
  if (tarn_pq_reader_open_mem(mem, n, "f", &r, &err) != 0 || scan_digest(r, &want, &err) != 0)
    fail_msg("%s", err.detail);
  tarn_pq_reader_close(r);
  total = tarn_alloc_count();
  assert_true(total > 0);
  for (k = 0; k < total; k += 1 + total / 200) {
    r = NULL;
    got = 0;
    tarn_error_clear(&err);
    tarn_alloc_fail_reset();
    tarn_alloc_fail_after(k);
    rc = tarn_pq_reader_open_mem(mem, n, "f", &r, &err);
    if (rc != 0) {
      tarn_alloc_fail_reset();
      assert_int_equal(rc, TARN_ENOMEM);
      assert_int_equal(err.code, TARN_ENOMEM);
      assert_true(err.detail[0] != '\0');
      assert_null(r);
      failed++;
      continue;
    }
    rc = scan_digest(r, &got, &err);
    tarn_alloc_fail_reset();
    if (rc != 0) {
      assert_int_equal(rc, TARN_ENOMEM);
      assert_int_equal(err.code, TARN_ENOMEM);
      assert_true(err.detail[0] != '\0');
      failed++;
      /* the reader survived the failed scan: a scan now reads everything */
      rc = scan_digest(r, &got, &err);
      if (rc != 0)
        fail_msg("after allocation %ld failed: %s", k, err.detail);
    }
    assert_true(got == want);
    tarn_pq_reader_close(r);
  }
  assert_true(failed > 0);
  tarn_alloc_fail_reset();
  free(mem);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fixtures),
      cmocka_unit_test(test_schema_and_meta),
      cmocka_unit_test(test_projection_and_row_group),
      cmocka_unit_test(test_prune_stats),
      cmocka_unit_test(test_prune_bloom),
      cmocka_unit_test(test_prune_page_index),
      cmocka_unit_test(test_open_store),
      cmocka_unit_test(test_rle_hybrid),
      cmocka_unit_test(test_unpack_widths),
      cmocka_unit_test(test_delta),
      cmocka_unit_test(test_byte_arrays),
      cmocka_unit_test(test_hand_built),
      cmocka_unit_test(test_hostile_footers),
      cmocka_unit_test(test_zero_row_chunks),
      cmocka_unit_test(test_other_writers),
      cmocka_unit_test(test_dump_for_cli),
      cmocka_unit_test(test_truncated_and_flipped),
      cmocka_unit_test(test_alloc_failures),
  };
  find_data_dir();
  /* With TARN_PQR_DUMP set this program is the CLI test's file generator: only that. */
  if (getenv("TARN_PQR_DUMP") != NULL)
    cmocka_set_test_filter("test_dump_for_cli");
  return cmocka_run_group_tests(tests, NULL, NULL);
}
