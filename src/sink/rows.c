/* rows.c - the sink's batch of rows and its way into Parquet data files. */
#include "rows.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

/* Rows handed to the table writer at a time. */
#define CHUNK_ROWS 8192
/* A reset frees buffers bigger than these, so one huge batch does not pin its memory. */
#define KEEP_ROWS 262144
#define KEEP_ARENA ((size_t)64 << 20)

void tarn_sink_rows_init(tarn_sink_rows *r, size_t ncols) {
  memset(r, 0, sizeof(*r));
  r->ncols = ncols;
  tarn_buf_init(&r->arena, (size_t)2 << 30); /* offsets and lengths are 32-bit */
}

void tarn_sink_rows_free(tarn_sink_rows *r) {
  tarn_free(r->cells);
  tarn_buf_free(&r->arena);
  memset(r, 0, sizeof(*r));
}

void tarn_sink_rows_reset(tarn_sink_rows *r) {
  r->nrows = 0;
  if (r->cap > KEEP_ROWS) {
    tarn_free(r->cells);
    r->cells = NULL;
    r->cap = 0;
  }
  if (r->arena.cap > KEEP_ARENA)
    tarn_buf_free(&r->arena);
  tarn_buf_reset(&r->arena);
}

tarn_sink_cell *tarn_sink_rows_add(tarn_sink_rows *r, tarn_error *err) {
  tarn_sink_cell *c;
  size_t i;
  if (r->nrows == r->cap) {
    size_t ncap = r->cap ? r->cap * 2 : 1024;
    tarn_sink_cell *nc = tarn_reallocarray(r->cells, ncap * r->ncols, sizeof(*nc));
    if (nc == NULL) {
      tarn_error_set(err, TARN_ENOMEM, "out of memory holding a batch of %zu rows", r->nrows);
      return NULL;
    }
    r->cells = nc;
    r->cap = ncap;
  }
  c = &r->cells[r->nrows++ * r->ncols];
  for (i = 0; i < r->ncols; i++) {
    c[i].v = 0;
    c[i].len = 0;
    c[i].null = 1;
  }
  return c;
}

void tarn_sink_rows_drop_last(tarn_sink_rows *r) {
  assert(r->nrows > 0);
  r->nrows--;
}

int tarn_sink_cell_bytes(tarn_sink_rows *r, tarn_sink_cell *c, const void *p, size_t n,
                         tarn_error *err) {
  size_t at = r->arena.len;
  int rc;
  if (n > UINT32_MAX)
    return tarn_error_set(err, TARN_ETOOBIG, "value of %zu bytes", n);
  rc = tarn_buf_append(&r->arena, p, n, err);
  if (rc != 0)
    return rc;
  c->v = (int64_t)at;
  c->len = (uint32_t)n;
  c->null = 0;
  return 0;
}

size_t tarn_sink_rows_bytes(const tarn_sink_rows *r) {
  return r->nrows * r->ncols * sizeof(tarn_sink_cell) + r->arena.len;
}

/* ---- writing ---- */

/* A row's sort key beside its index: sorting these touches no row. */
typedef struct sort_key {
  int64_t v;
  uint32_t null; /* nulls last */
  uint32_t row;
} sort_key;

static int cmp_keys(const void *a, const void *b) {
  const sort_key *x = a, *y = b;
  if (x->null != y->null)
    return x->null ? 1 : -1;
  if (x->v != y->v)
    return x->v < y->v ? -1 : 1;
  return x->row < y->row ? -1 : x->row > y->row; /* stable */
}

/* The rows in order of column `col`; NULL (and 0) when they are in that order already. */
static int sort_order(const tarn_sink_rows *r, int col, uint32_t **out, tarn_error *err) {
  sort_key *k = tarn_calloc(r->nrows, sizeof(*k));
  uint32_t *order;
  size_t i, sorted = 1;
  *out = NULL;
  if (k == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory sorting %zu rows", r->nrows);
  for (i = 0; i < r->nrows; i++) {
    const tarn_sink_cell *c = &r->cells[i * r->ncols + (size_t)col];
    k[i].v = c->v;
    k[i].null = c->null;
    k[i].row = (uint32_t)i;
    if (i > 0 && cmp_keys(&k[i - 1], &k[i]) > 0)
      sorted = 0;
  }
  if (sorted) { /* events often arrive in time order */
    tarn_free(k);
    return 0;
  }
  qsort(k, r->nrows, sizeof(*k), cmp_keys);
  order = (uint32_t *)k; /* compacted in place: index i is read before slot i is written */
  for (i = 0; i < r->nrows; i++)
    order[i] = k[i].row;
  *out = order;
  return 0;
}

typedef struct chunk {
  tarn_pq_schema pq;
  tarn_pq_builder *b;
  tarn_pq_array *arrays;
  int64_t *cell; /* per table column: the cell index (field id - 1), or -1: always null */
  size_t ncols;  /* builders initialised; the table's column count once complete */
} chunk;

static void chunk_free(chunk *k) {
  size_t i;
  for (i = 0; k->b != NULL && i < k->ncols; i++)
    tarn_pq_builder_free(&k->b[i]);
  tarn_free(k->b);
  tarn_free(k->arrays);
  tarn_free(k->cell);
  tarn_pq_schema_free(&k->pq);
}

/* Columns are matched to cells by field id, not position: the table may have its
 * columns reordered, or extra optional ones (written null), and stay the layout. */
static int chunk_init(chunk *k, const tarn_ice_schema *s, size_t ncols, tarn_error *err) {
  size_t i, found = 0;
  int rc;
  memset(k, 0, sizeof(*k));
  k->cell = tarn_calloc(s->nfields, sizeof(*k->cell));
  if (k->cell == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  for (i = 0; i < s->nfields; i++) {
    int32_t id = s->fields[i].id;
    k->cell[i] = id >= 1 && (size_t)id <= ncols ? id - 1 : -1;
    found += k->cell[i] >= 0;
    if (k->cell[i] < 0 && s->fields[i].required)
      return tarn_error_set(err, TARN_EINTERNAL, "column %s is required; rows have no cell for it",
                            s->fields[i].name);
  }
  if (found != ncols)
    return tarn_error_set(err, TARN_EINTERNAL, "table has %zu of the rows' %zu columns", found,
                          ncols);
  rc = tarn_ice_schema_to_parquet(s, &k->pq, err);
  if (rc != 0)
    return rc;
  k->b = tarn_calloc(s->nfields, sizeof(*k->b));
  k->arrays = tarn_calloc(s->nfields, sizeof(*k->arrays));
  if (k->b == NULL || k->arrays == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  for (i = 0; i < s->nfields; i++) {
    rc = tarn_pq_builder_init(&k->b[i], &k->pq.cols[i], CHUNK_ROWS, (size_t)4 << 20, err);
    if (rc != 0)
      return rc;
    k->ncols = i + 1;
  }
  return 0;
}

static int put_cell(chunk *k, const tarn_sink_rows *r, size_t col, int64_t row,
                    const tarn_sink_cell *c, tarn_error *err) {
  tarn_pq_builder *b = &k->b[col];
  if (c == NULL || c->null) {
    tarn_pq_builder_null(b, row);
    return 0;
  }
  switch (k->pq.cols[col].type) {
  case TARN_PQ_BYTE_ARRAY: return tarn_pq_builder_bytes(b, row, r->arena.data + c->v, c->len, err);
  case TARN_PQ_INT32: {
    int32_t x = (int32_t)c->v;
    tarn_pq_builder_fixed(b, row, &x);
    return 0;
  }
  case TARN_PQ_INT64: tarn_pq_builder_fixed(b, row, &c->v); return 0;
  default:
    return tarn_error_set(err, TARN_EINTERNAL, "column %s: type the sink does not write",
                          k->pq.cols[col].name);
  }
}

static int write_chunks(const tarn_sink_rows *r, const uint32_t *order, chunk *k,
                        tarn_table_writer *w, tarn_error *err) {
  size_t at = 0, i, col;
  int rc = 0;
  while (rc == 0 && at < r->nrows) {
    size_t n = r->nrows - at < CHUNK_ROWS ? r->nrows - at : CHUNK_ROWS;
    tarn_pq_batch batch;
    for (col = 0; col < k->ncols; col++)
      tarn_pq_builder_reset(&k->b[col]);
    for (i = 0; rc == 0 && i < n; i++) {
      size_t row = order != NULL ? order[at + i] : at + i;
      const tarn_sink_cell *cells = &r->cells[row * r->ncols];
      for (col = 0; rc == 0 && col < k->ncols; col++)
        rc = put_cell(k, r, col, (int64_t)i, k->cell[col] >= 0 ? &cells[k->cell[col]] : NULL, err);
    }
    for (col = 0; rc == 0 && col < k->ncols; col++)
      tarn_pq_builder_array(&k->b[col], (int64_t)n, &k->arrays[col]);
    batch.nrows = (int64_t)n;
    batch.ncols = k->ncols;
    batch.cols = k->arrays;
    if (rc == 0)
      rc = tarn_table_writer_write(w, &batch, err);
    at += n;
  }
  return rc;
}

int tarn_sink_rows_write(const tarn_sink_rows *r, tarn_table *t, int sort_col,
                         int32_t sort_order_id, tarn_ice_data_file **files, size_t *nfiles,
                         tarn_error *err) {
  tarn_table_writer *w = NULL;
  uint32_t *order = NULL;
  chunk k;
  size_t i;
  int rc;
  *files = NULL;
  *nfiles = 0;
  rc = chunk_init(&k, tarn_table_schema(t), r->ncols, err);
  if (rc != 0)
    goto out;
  if (sort_col >= 0 && r->nrows > 1 && (rc = sort_order(r, sort_col, &order, err)) != 0)
    goto out;
  rc = tarn_table_writer_open(t, NULL, &w, err);
  if (rc == 0)
    rc = write_chunks(r, order, &k, w, err);
  if (rc != 0) {
    tarn_table_writer_abort(w);
    goto out;
  }
  rc = tarn_table_writer_close(w, files, nfiles, err);
  for (i = 0; rc == 0 && sort_col >= 0 && i < *nfiles; i++)
    (*files)[i].sort_order_id = sort_order_id;
out:
  tarn_free(order);
  chunk_free(&k);
  return rc;
}

int tarn_sink_rows_write_to(const tarn_sink_rows *r, tarn_table_writer *w,
                            const tarn_ice_schema *schema, tarn_error *err) {
  chunk k;
  int rc = chunk_init(&k, schema, r->ncols, err);
  if (rc == 0)
    rc = write_chunks(r, NULL, &k, w, err);
  chunk_free(&k);
  return rc;
}
