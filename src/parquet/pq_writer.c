/* pq_writer.c - the Parquet writer's core: output sinks, schema and option checks,
 * batches in (split into steps per row group), open, close and abort. Values, pages and
 * chunks are in pq_writer_values.c, pq_writer_pages.c and pq_writer_chunks.c. */
#include "pq_writer_int.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "base/version.h"

/* ---- sinks ---- */

typedef struct fd_sink {
  tarn__pq_sink base;
  int fd;
  off_t start; /* the descriptor's offset at open; -1 when it cannot seek */
} fd_sink;

static int fd_write(tarn__pq_sink *s, const void *p, size_t n, tarn_error *err) {
  fd_sink *fs = (fd_sink *)s;
  const char *c = p;
  while (n > 0) {
    ssize_t r = write(fs->fd, c, n > (size_t)1 << 30 ? (size_t)1 << 30 : n);
    if (r < 0) {
      int e = errno;
      if (e == EINTR)
        continue;
      return tarn_error_sys(err, tarn_code_from_errno(e), e,
                            "writing parquet output at offset %lld", (long long)s->offset);
    }
    if (r == 0)
      return tarn_error_set(err, TARN_ESHORTWRITE,
                            "writing parquet output at offset %lld: "
                            "write returned 0",
                            (long long)s->offset);
    c += r;
    n -= (size_t)r;
    s->offset += r;
  }
  return 0;
}

static int fd_commit(tarn__pq_sink *s, tarn_error *err) {
  (void)err;
  tarn_free(s);
  return 0;
}

/* Discarding a descriptor's output: a regular file is cut back to where the writer
 * started, so no torn Parquet file is left behind; other descriptors are left alone. */
static void fd_abort(tarn__pq_sink *s) {
  fd_sink *fs = (fd_sink *)s;
  struct stat st;
  if (fs->start >= 0 && s->offset > 0 && fstat(fs->fd, &st) == 0 && S_ISREG(st.st_mode)) {
    if (ftruncate(fs->fd, fs->start) == 0)
      (void)lseek(fs->fd, fs->start, SEEK_SET);
  }
  tarn_free(s);
}

static const tarn__pq_sink_ops fd_ops = {fd_write, fd_commit, fd_abort};

typedef struct store_sink {
  tarn__pq_sink base;
  tarn_store_writer *sw;
} store_sink;

static int store_write(tarn__pq_sink *s, const void *p, size_t n, tarn_error *err) {
  store_sink *ss = (store_sink *)s;
  int rc = tarn_store_writer_write(ss->sw, p, n, err);
  if (rc == 0)
    s->offset += (int64_t)n;
  return rc;
}

static int store_commit(tarn__pq_sink *s, tarn_error *err) {
  store_sink *ss = (store_sink *)s;
  int rc = tarn_store_writer_commit(ss->sw, err);
  tarn_free(s);
  return rc;
}

static void store_abort(tarn__pq_sink *s) {
  store_sink *ss = (store_sink *)s;
  tarn_store_writer_abort(ss->sw);
  tarn_free(s);
}

static const tarn__pq_sink_ops store_ops = {store_write, store_commit, store_abort};

/* ---- writer state ---- */

/* ---- schema and options ---- */

static int valid_utf8(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    int n = *p < 0x80             ? 0
            : (*p & 0xe0) == 0xc0 ? 1
            : (*p & 0xf0) == 0xe0 ? 2
            : (*p & 0xf8) == 0xf0 ? 3
                                  : -1;
    int i;
    if (n < 0 || (n == 1 && *p < 0xc2))
      return 0;
    for (i = 1; i <= n; i++)
      if ((p[i] & 0xc0) != 0x80)
        return 0;
    p += n + 1;
  }
  return 1;
}

/* Validates a schema for writing; TARN_EINVAL naming the column. */
static int schema_check(const tarn_pq_schema *s, tarn_error *err) {
  size_t i, j;
  if (s == NULL || s->ncols == 0 || s->cols == NULL)
    return tarn_error_set(err, TARN_EINVAL, "parquet schema has no columns");
  if (s->ncols > TARN_PQ_MAX_COLUMNS)
    return tarn_error_set(err, TARN_ETOOBIG,
                          "parquet schema has %zu columns; a file has at most %d (what tarn "
                          "writes, tarn must read)",
                          s->ncols, TARN_PQ_MAX_COLUMNS);
  for (i = 0; i < s->ncols; i++) {
    const tarn_pq_column *c = &s->cols[i];
    const char *nm = c->name != NULL ? c->name : "";
    char desc[96];
    if (nm[0] == '\0')
      return tarn_error_set(err, TARN_EINVAL, "parquet column %zu has an empty name", i);
    if (!valid_utf8(nm))
      return tarn_error_set(err, TARN_EINVAL, "parquet column %zu: name is not valid UTF-8", i);
    if (c->field_id <= 0)
      return tarn_error_set(err, TARN_EINVAL,
                            "parquet column '%s': field id %d (the writer needs one > 0)", nm,
                            (int)c->field_id);
    for (j = 0; j < i; j++) {
      if (strcmp(s->cols[j].name, nm) == 0)
        return tarn_error_set(err, TARN_EINVAL, "parquet column name '%s' appears twice", nm);
      if (s->cols[j].field_id == c->field_id)
        return tarn_error_set(err, TARN_EINVAL, "parquet columns '%s' and '%s' share field id %d",
                              s->cols[j].name, nm, (int)c->field_id);
    }
    if (c->optional != 0 && c->optional != 1)
      return tarn_error_set(err, TARN_EINVAL, "parquet column '%s': optional must be 0 or 1", nm);
    switch (c->type) {
    case TARN_PQ_BOOLEAN:
    case TARN_PQ_INT32:
    case TARN_PQ_INT64:
    case TARN_PQ_FLOAT:
    case TARN_PQ_DOUBLE:
    case TARN_PQ_BYTE_ARRAY: break;
    case TARN_PQ_FIXED_LEN_BYTE_ARRAY:
      if (c->type_length <= 0 || c->type_length > (1 << 24))
        return tarn_error_set(err, TARN_EINVAL,
                              "parquet column '%s': FIXED_LEN_BYTE_ARRAY length %d is out of "
                              "range (1 to 16777216)",
                              nm, (int)c->type_length);
      break;
    default:
      return tarn_error_set(err, TARN_EINVAL,
                            "parquet column '%s': physical type %s cannot be written", nm,
                            tarn_pq_type_name(c->type));
    }
    tarn_pq_column_describe(c, desc, sizeof(desc));
    switch (c->logical) {
    case TARN_PQ_LT_NONE: break;
    case TARN_PQ_LT_STRING:
      if (c->type != TARN_PQ_BYTE_ARRAY)
        goto bad_combo;
      break;
    case TARN_PQ_LT_DATE:
      if (c->type != TARN_PQ_INT32)
        goto bad_combo;
      break;
    case TARN_PQ_LT_TIME:
      if ((unsigned)c->unit > TARN_PQ_NANOS ||
          c->type != (c->unit == TARN_PQ_MILLIS ? TARN_PQ_INT32 : TARN_PQ_INT64))
        goto bad_combo;
      break;
    case TARN_PQ_LT_TIMESTAMP:
      if ((unsigned)c->unit > TARN_PQ_NANOS || c->type != TARN_PQ_INT64)
        goto bad_combo;
      break;
    case TARN_PQ_LT_INTEGER:
      if (c->bit_width != 8 && c->bit_width != 16 && c->bit_width != 32 && c->bit_width != 64)
        return tarn_error_set(err, TARN_EINVAL,
                              "parquet column '%s': INTEGER bit width %d (8, 16, 32 or 64)", nm,
                              c->bit_width);
      if (c->type != (c->bit_width == 64 ? TARN_PQ_INT64 : TARN_PQ_INT32))
        goto bad_combo;
      break;
    case TARN_PQ_LT_UUID:
      if (c->type != TARN_PQ_FIXED_LEN_BYTE_ARRAY || c->type_length != 16)
        goto bad_combo;
      break;
    case TARN_PQ_LT_DECIMAL: {
      int32_t maxp;
      if (c->type == TARN_PQ_INT32)
        maxp = 9;
      else if (c->type == TARN_PQ_INT64)
        maxp = 18;
      else if (c->type == TARN_PQ_FIXED_LEN_BYTE_ARRAY)
        maxp = (int32_t)floor((8.0 * c->type_length - 1) * log10(2.0));
      else
        goto bad_combo;
      if (c->precision < 1 || c->precision > maxp || c->scale < 0 || c->scale > c->precision)
        return tarn_error_set(err, TARN_EINVAL,
                              "parquet column '%s': %s: precision must be 1 to %d and scale 0 "
                              "to precision",
                              nm, desc, (int)maxp);
      break;
    }
    default:
      return tarn_error_set(err, TARN_EINVAL,
                            "parquet column '%s': logical type of %s cannot be written", nm, desc);
    }
    continue;
  bad_combo:
    return tarn_error_set(err, TARN_EINVAL, "parquet column '%s': %s is not a valid type", nm,
                          desc);
  }
  return 0;
}

static int resolve_options(tarn_pq_writer *w, const tarn_pq_writer_options *o, tarn_error *err) {
  w->codec = o ? o->codec : TARN_PQ_SNAPPY;
  switch (w->codec) {
  case TARN_PQ_UNCOMPRESSED:
  case TARN_PQ_SNAPPY:
  case TARN_PQ_GZIP:
  case TARN_PQ_ZSTD:
  case TARN_PQ_LZ4_RAW: break;
  default:
    return tarn_error_set(err, TARN_EINVAL, "parquet writer: codec %s is not supported",
                          tarn_pq_codec_name(w->codec));
  }
  if (o == NULL) {
    w->v2 = 0;
    w->page_size = 1u << 20;
    w->row_group_size = (size_t)128 << 20;
    w->rg_cap = 1048576;
    w->page_rows_cap = TARN__PQ_PAGE_ROWS_MAX;
    w->dict_cap = 1u << 20;
    w->truncate = 64;
    return 0;
  }
  if (o->codec == TARN_PQ_ZSTD) {
    if (o->zstd_level < -7 || o->zstd_level > 22)
      return tarn_error_set(err, TARN_EINVAL, "parquet writer: zstd level %d (-7 to 22)",
                            o->zstd_level);
    w->level = o->zstd_level;
  } else if (o->codec == TARN_PQ_GZIP) {
    if (o->gzip_level < 0 || o->gzip_level > 9)
      return tarn_error_set(err, TARN_EINVAL, "parquet writer: gzip level %d (1 to 9)",
                            o->gzip_level);
    w->level = o->gzip_level;
  }
  if (o->data_page_version < 0 || o->data_page_version > 2)
    return tarn_error_set(err, TARN_EINVAL, "parquet writer: data page version %d (1 or 2)",
                          o->data_page_version);
  w->v2 = o->data_page_version == 2;
  w->page_size = o->page_size ? o->page_size : 1u << 20;
  w->row_group_size = o->row_group_size ? o->row_group_size : (size_t)128 << 20;
  w->rg_cap = o->row_group_rows ? o->row_group_rows : 1048576;
  w->page_rows_cap = o->page_rows ? o->page_rows : TARN__PQ_PAGE_ROWS_MAX;
  if (w->page_rows_cap < 1 || w->page_rows_cap > TARN__PQ_PAGE_ROWS_MAX * 50)
    return tarn_error_set(err, TARN_EINVAL, "parquet writer: page_rows %lld (1 to %d)",
                          (long long)w->page_rows_cap, TARN__PQ_PAGE_ROWS_MAX * 50);
  w->dict_cap = o->dictionary_cap ? o->dictionary_cap : 1u << 20;
  w->truncate = o->stats_truncate ? o->stats_truncate : 64;
  w->no_stats = o->no_statistics != 0;
  w->no_index = o->no_page_index != 0;
  if (w->page_size > (1u << 30) || w->dict_cap > (1u << 30))
    return tarn_error_set(err, TARN_EINVAL,
                          "parquet writer: page_size and dictionary_cap must be at most 1 GiB");
  if (w->rg_cap < 0)
    return tarn_error_set(err, TARN_EINVAL, "parquet writer: row_group_rows %lld is negative",
                          (long long)w->rg_cap);
  if (o->ncolumns > 0 && o->columns == NULL)
    return tarn_error_set(err, TARN_EINVAL, "parquet writer: column options missing");
  if (o->nkv > 0 && o->kv == NULL)
    return tarn_error_set(err, TARN_EINVAL, "parquet writer: key-value metadata missing");
  return 0;
}

static int apply_column_options(tarn_pq_writer *w, const tarn_pq_writer_options *o,
                                tarn_error *err) {
  size_t i, j, n = w->meta.schema.ncols;
  for (j = 0; j < n; j++) {
    colw *cw = &w->cols[j];
    cw->dict_on = cw->col->type != TARN_PQ_BOOLEAN;
    cw->fpp = 0.01;
  }
  if (o == NULL)
    return 0;
  for (i = 0; i < o->ncolumns; i++) {
    const tarn_pq_column_options *co = &o->columns[i];
    for (j = 0; j < n && w->cols[j].col->field_id != co->field_id; j++)
      ;
    if (j == n)
      return tarn_error_set(err, TARN_EINVAL,
                            "parquet writer: column options for field id %d, which no column has",
                            (int)co->field_id);
    if (co->dictionary < -1 || co->dictionary > 1)
      return tarn_error_set(err, TARN_EINVAL, "parquet column '%s': dictionary option %d",
                            w->cols[j].col->name, co->dictionary);
    if (co->bloom_fpp != 0 && !(co->bloom_fpp > 0 && co->bloom_fpp < 1))
      return tarn_error_set(err, TARN_EINVAL,
                            "parquet column '%s': bloom filter fpp %g (between 0 and 1)",
                            w->cols[j].col->name, co->bloom_fpp);
    if (co->bloom_ndv < 0)
      return tarn_error_set(err, TARN_EINVAL, "parquet column '%s': bloom filter ndv %lld",
                            w->cols[j].col->name, (long long)co->bloom_ndv);
    if (co->dictionary == 0)
      w->cols[j].dict_on = 0;
    w->cols[j].bloom = co->bloom_filter != 0;
    if (co->bloom_fpp != 0)
      w->cols[j].fpp = co->bloom_fpp;
    w->cols[j].ndv = co->bloom_ndv;
  }
  return 0;
}

/* ---- batches ---- */

static int check_batch(const tarn_pq_writer *w, const tarn_pq_batch *b, tarn_error *err) {
  size_t j;
  if (b == NULL)
    return tarn_error_set(err, TARN_EINVAL, "parquet writer: batch is NULL");
  if (b->ncols != w->meta.schema.ncols)
    return tarn_error_set(err, TARN_EINVAL, "parquet writer: batch has %zu columns, schema %zu",
                          b->ncols, w->meta.schema.ncols);
  if (b->nrows < 0 || (b->ncols > 0 && b->cols == NULL))
    return tarn_error_set(err, TARN_EINVAL, "parquet writer: batch of %lld rows is malformed",
                          (long long)b->nrows);
  for (j = 0; j < b->ncols; j++) {
    const tarn_pq_array *a = &b->cols[j];
    const tarn_pq_column *c = &w->meta.schema.cols[j];
    int64_t n = b->nrows, i;
    if (a->length != n)
      return tarn_error_set(err, TARN_EINVAL,
                            "parquet column '%s': array has %lld rows, the batch %lld", c->name,
                            (long long)a->length, (long long)n);
    if (n == 0)
      continue;
    if (!c->optional && a->validity != NULL) {
      for (i = 0; i < n; i++) {
        if ((i & 7) == 0 && i + 8 <= n && a->validity[i >> 3] == 0xff) {
          i += 7;
          continue;
        }
        if (!tarn__pqw_bit_at(a->validity, i))
          return tarn_error_set(err, TARN_EINVAL,
                                "parquet column '%s' is REQUIRED but row %lld of the batch is "
                                "null",
                                c->name, (long long)i);
      }
    }
    if (c->type == TARN_PQ_BYTE_ARRAY) {
      const int64_t *off = a->offsets;
      if (off == NULL)
        return tarn_error_set(err, TARN_EINVAL, "parquet column '%s': offsets missing", c->name);
      if (off[0] < 0)
        return tarn_error_set(err, TARN_EINVAL, "parquet column '%s': offset %lld at row 0",
                              c->name, (long long)off[0]);
      for (i = 0; i < n; i++) {
        if (off[i + 1] < off[i])
          return tarn_error_set(err, TARN_EINVAL,
                                "parquet column '%s': offsets decrease at row %lld (%lld < %lld)",
                                c->name, (long long)i, (long long)off[i + 1], (long long)off[i]);
        if (off[i + 1] - off[i] > INT32_MAX / 2)
          return tarn_error_set(err, TARN_EINVAL,
                                "parquet column '%s': value at row %lld is %lld bytes (1 GiB "
                                "at most)",
                                c->name, (long long)i, (long long)(off[i + 1] - off[i]));
      }
      if (off[n] > a->data_len)
        return tarn_error_set(err, TARN_EINVAL,
                              "parquet column '%s': offset %lld at row %lld is past data_len "
                              "%lld",
                              c->name, (long long)off[n], (long long)n, (long long)a->data_len);
      if (a->data == NULL && off[n] > off[0])
        return tarn_error_set(err, TARN_EINVAL, "parquet column '%s': data missing", c->name);
    } else if (a->values == NULL) {
      return tarn_error_set(err, TARN_EINVAL, "parquet column '%s': values missing", c->name);
    }
  }
  return 0;
}

/* Rows for the next step: up to 65536, fewer when the row group's byte target is near
 * (estimated from the batch's raw sizes, which overstate encoded sizes, so the row
 * group is cut close to but rarely past its target). */
static int64_t step_rows(const tarn_pq_writer *w, const tarn_pq_batch *b, int64_t row, int64_t n) {
  size_t have = tarn__pqw_rg_bytes(w), left, per_row = 1, j;
  int64_t probe = n < 1024 ? n : 1024, k;
  if (n > 65536)
    n = 65536;
  left = have < w->row_group_size ? w->row_group_size - have : 1;
  for (j = 0; j < b->ncols; j++) {
    const colw *cw = &w->cols[j];
    if (cw->col->type == TARN_PQ_BYTE_ARRAY) {
      const int64_t *off = b->cols[j].offsets;
      per_row += (size_t)(off[row + probe] - off[row]) / (size_t)probe + 4;
    } else if (cw->col->type == TARN_PQ_BOOLEAN) {
      per_row += 1;
    } else {
      per_row += (size_t)cw->width;
    }
  }
  k = (int64_t)(left / per_row) + 1;
  return k < n ? k : n;
}

int tarn_pq_writer_write(tarn_pq_writer *w, const tarn_pq_batch *b, tarn_error *err) {
  int64_t row = 0;
  size_t j;
  int rc;
  if (w == NULL)
    return tarn_error_set(err, TARN_EINVAL, "parquet writer is NULL");
  if (w->rc != 0)
    goto sticky;
  rc = check_batch(w, b, &w->err);
  if (rc != 0) {
    tarn__pqw_fail(w, rc);
    goto sticky;
  }
  while (row < b->nrows) {
    int64_t take = b->nrows - row;
    if (take > w->rg_cap - w->rg_rows)
      take = w->rg_cap - w->rg_rows;
    take = step_rows(w, b, row, take);
    for (j = 0; j < b->ncols; j++) {
      rc = tarn__pqw_col_append(w, &w->cols[j], &b->cols[j], row, take);
      if (rc != 0) {
        tarn__pqw_fail(w, rc);
        goto sticky;
      }
    }
    w->rg_rows += take;
    row += take;
    if (w->rg_rows >= w->rg_cap || tarn__pqw_rg_bytes(w) >= w->row_group_size) {
      rc = tarn__pqw_flush_row_group(w);
      if (rc != 0) {
        tarn__pqw_fail(w, rc);
        goto sticky;
      }
    }
  }
  return 0;
sticky:
  if (err != NULL)
    *err = w->err;
  return w->rc;
}

/* ---- open, close, abort ---- */

static void writer_free(tarn_pq_writer *w) {
  size_t j;
  if (w == NULL)
    return;
  for (j = 0; w->cols != NULL && j < w->meta.schema.ncols; j++) {
    colw *cw = &w->cols[j];
    tarn_buf_free(&cw->defs);
    tarn_buf_free(&cw->vals);
    tarn__pq_acc_free(&cw->page_acc);
    tarn_buf_free(&cw->chunk);
    tarn__pq_dict_free(&cw->dict);
    tarn__pq_acc_free(&cw->chunk_acc);
    tarn__pq_acc_free(&cw->file_acc);
    tarn__pq_offset_index_free(&cw->oi);
    cw->ci.npages = cw->ci_cap; /* every allocated slot holds an initialised buffer */
    tarn__pq_column_index_free(&cw->ci);
    tarn_free(cw->bloom_bits);
  }
  tarn_free(w->cols);
  tarn_free(w->extra);
  tarn_pq_file_meta_free(&w->meta);
  tarn_buf_free(&w->lev);
  tarn_buf_free(&w->venc);
  tarn_buf_free(&w->asm_);
  tarn_buf_free(&w->cbuf);
  tarn_buf_free(&w->tmp);
  tarn__pq_codec_ctx_free(&w->codec_ctx);
  tarn__pq_stats_free(&w->pst);
  tarn_free(w->fresh);
  tarn_buf_free(&w->pidx_ci);
  tarn_buf_free(&w->pidx_oi);
  tarn_free(w);
}

/* Opens a writer on any sink. Takes the sink, also on failure (it is aborted then). */
static int open_sink(tarn__pq_sink *sink, const tarn_pq_schema *schema,
                     const tarn_pq_writer_options *opts, tarn_pq_writer **out, tarn_error *err) {
  tarn_pq_writer *w = NULL;
  size_t j, ncols;
  int rc;
  char created[128];
  *out = NULL;
  rc = schema_check(schema, err);
  if (rc != 0)
    goto fail;
  w = tarn_calloc(1, sizeof(*w));
  if (w == NULL) {
    rc = tarn_error_set(err, TARN_ENOMEM, "out of memory opening a parquet writer");
    goto fail;
  }
  w->sink = sink;
  tarn_buf_init(&w->lev, TARN_BUF_UNLIMITED);
  tarn_buf_init(&w->venc, TARN_BUF_UNLIMITED);
  tarn_buf_init(&w->asm_, TARN_BUF_UNLIMITED);
  tarn_buf_init(&w->cbuf, TARN_BUF_UNLIMITED);
  tarn_buf_init(&w->tmp, TARN_BUF_UNLIMITED);
  tarn_buf_init(&w->pidx_ci, TARN_BUF_UNLIMITED);
  tarn_buf_init(&w->pidx_oi, TARN_BUF_UNLIMITED);
  tarn__pq_stats_init(&w->pst);
  w->pst.min.max = w->pst.max.max = TARN_BUF_UNLIMITED;
  rc = resolve_options(w, opts, err);
  if (rc != 0)
    goto fail;
  rc = tarn_pq_schema_copy(&w->meta.schema, schema, err);
  if (rc != 0)
    goto fail;
  ncols = w->meta.schema.ncols;
  w->meta.version = 2;
  w->meta.type_defined_order = 1;
  if (strcmp(TARN_GIT_COMMIT, "unknown") != 0)
    snprintf(created, sizeof(created), "tarn version %s (build %s)", TARN_VERSION, TARN_GIT_COMMIT);
  else
    snprintf(created, sizeof(created), "tarn version %s", TARN_VERSION);
  w->meta.created_by = tarn_strdup(created);
  if (w->meta.created_by == NULL) {
    rc = tarn_error_set(err, TARN_ENOMEM, "out of memory opening a parquet writer");
    goto fail;
  }
  if (opts != NULL && opts->nkv > 0) {
    w->meta.kv = tarn_calloc(opts->nkv, sizeof(*w->meta.kv));
    if (w->meta.kv == NULL) {
      rc = tarn_error_set(err, TARN_ENOMEM, "out of memory copying key-value metadata");
      goto fail;
    }
    for (j = 0; j < opts->nkv; j++) {
      if (opts->kv[j].key == NULL) {
        rc = tarn_error_set(err, TARN_EINVAL, "parquet writer: key-value entry %zu has no key", j);
        goto fail;
      }
      w->meta.nkv = j + 1;
      w->meta.kv[j].key = tarn_strdup(opts->kv[j].key);
      if (w->meta.kv[j].key == NULL ||
          (opts->kv[j].value != NULL &&
           (w->meta.kv[j].value = tarn_strdup(opts->kv[j].value)) == NULL)) {
        rc = tarn_error_set(err, TARN_ENOMEM, "out of memory copying key-value metadata");
        goto fail;
      }
    }
  }
  w->cols = tarn_calloc(ncols, sizeof(*w->cols));
  if (w->cols == NULL) {
    rc = tarn_error_set(err, TARN_ENOMEM, "out of memory opening a parquet writer");
    goto fail;
  }
  for (j = 0; j < ncols; j++) {
    colw *cw = &w->cols[j];
    tarn_pq_column *c = &w->meta.schema.cols[j];
    cw->col = c;
    cw->width = tarn_pq_array_width(c); /* the schema check refused INT96 */
    tarn_buf_init(&cw->defs, TARN_BUF_UNLIMITED);
    tarn_buf_init(&cw->vals, TARN_BUF_UNLIMITED);
    tarn_buf_init(&cw->chunk, TARN_BUF_UNLIMITED);
    tarn__pq_acc_init(&cw->page_acc);
    tarn__pq_acc_init(&cw->chunk_acc);
    tarn__pq_acc_init(&cw->file_acc);
    tarn__pq_dict_init(&cw->dict, c->type == TARN_PQ_BYTE_ARRAY ? 0 : cw->width,
                       c->type == TARN_PQ_BYTE_ARRAY || c->type == TARN_PQ_FIXED_LEN_BYTE_ARRAY,
                       w->dict_cap);
    cw->ci_ok = 1;
  }
  rc = apply_column_options(w, opts, err);
  if (rc != 0)
    goto fail;
  for (j = 0; j < ncols; j++)
    w->cols[j].dict_active = w->cols[j].dict_on;
  rc = sink->ops->write(sink, TARN__PQ_MAGIC, 4, err);
  if (rc != 0)
    goto fail;
  *out = w;
  return 0;
fail:
  sink->ops->abort(sink);
  if (w != NULL)
    writer_free(w);
  return rc;
}

int tarn_pq_writer_open_fd(int fd, const tarn_pq_schema *schema, const tarn_pq_writer_options *opts,
                           tarn_pq_writer **out, tarn_error *err) {
  fd_sink *fs;
  *out = NULL;
  if (fd < 0)
    return tarn_error_set(err, TARN_EINVAL, "parquet writer: bad file descriptor %d", fd);
  fs = tarn_calloc(1, sizeof(*fs));
  if (fs == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory opening a parquet writer");
  fs->base.ops = &fd_ops;
  fs->fd = fd;
  fs->start = lseek(fd, 0, SEEK_CUR);
  return open_sink(&fs->base, schema, opts, out, err);
}

int tarn_pq_writer_open_store(tarn_store *st, const char *key, unsigned put_flags,
                              const tarn_pq_schema *schema, const tarn_pq_writer_options *opts,
                              tarn_pq_writer **out, tarn_error *err) {
  store_sink *ss;
  tarn_store_writer *sw = NULL;
  int rc;
  *out = NULL;
  rc = schema_check(schema, err); /* before anything is opened in the store */
  if (rc != 0)
    return rc;
  ss = tarn_calloc(1, sizeof(*ss));
  if (ss == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory opening a parquet writer");
  rc = tarn_store_writer_open(st, key, put_flags, &sw, err);
  if (rc != 0) {
    tarn_free(ss);
    return rc;
  }
  ss->base.ops = &store_ops;
  ss->sw = sw;
  return open_sink(&ss->base, schema, opts, out, err);
}

const tarn_pq_file_meta *tarn__pq_writer_meta(const tarn_pq_writer *w) { return &w->meta; }

int tarn_pq_writer_close(tarn_pq_writer *w, tarn_pq_file_info *info, tarn_error *err) {
  tarn__pq_sink *sink;
  int rc;
  if (info != NULL)
    memset(info, 0, sizeof(*info));
  if (w == NULL)
    return tarn_error_set(err, TARN_EINVAL, "parquet writer is NULL");
  sink = w->sink;
  if (w->rc == 0 && tarn__pqw_finish_file(w) != 0)
    tarn__pqw_fail(w, w->err.code);
  if (w->rc == 0 && info != NULL && tarn__pqw_fill_info(w, info, sink->offset) != 0)
    tarn__pqw_fail(w, w->err.code);
  if (w->rc != 0) {
    sink->ops->abort(sink);
    goto out;
  }
  rc = sink->ops->commit(sink, &w->err);
  if (rc != 0)
    tarn__pqw_fail(w, rc);
out:
  rc = w->rc;
  if (rc != 0) {
    if (err != NULL)
      *err = w->err;
    if (info != NULL)
      tarn_pq_file_info_free(info);
  }
  writer_free(w);
  return rc;
}

void tarn_pq_writer_abort(tarn_pq_writer *w) {
  if (w == NULL)
    return;
  w->sink->ops->abort(w->sink);
  writer_free(w);
}
