/* pq_writer.c - the Parquet writer: batches in, pages, column chunks, row groups, page
 * indexes, bloom filters and the footer out, through a small output sink. */
#include "pq_write_int.h"

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
      return tarn_error_set(err, TARN_ESHORTWRITE, "writing parquet output at offset %lld: "
                            "write returned 0", (long long)s->offset);
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

typedef struct colw {
  tarn_pq_column *col; /* in w->meta.schema */
  int width;           /* PLAIN bytes per value: 4, 8, FLBA n; 0 BYTE_ARRAY and BOOLEAN */
  int dict_on;         /* dictionary wanted for this column */
  int dict_active;     /* the current chunk still encodes with the dictionary */
  int bloom;
  double fpp;
  int64_t ndv;

  /* current page */
  tarn_buf defs;       /* definition levels as a bitmap (OPTIONAL columns) */
  tarn_buf vals;       /* PLAIN bytes, BOOLEAN bits, or uint32 dictionary indexes */
  int64_t page_rows;
  int64_t page_bits;   /* BOOLEAN values in vals */
  tarn__pq_acc page_acc;

  /* current column chunk */
  tarn_buf chunk;      /* encoded data pages (headers included) */
  int64_t chunk_rows;
  int64_t chunk_unc;   /* uncompressed bytes of the data pages, headers included */
  int32_t dict_pages, plain_pages;
  tarn__pq_dict dict;
  tarn__pq_acc chunk_acc;
  tarn__pq_offset_index oi;
  size_t oi_cap;
  tarn__pq_column_index ci;
  size_t ci_cap;
  int ci_ok;           /* 0 once a page had values but no bounds (all NaN) */
  uint8_t *bloom_bits;
  size_t bloom_alloc;  /* bytes allocated (sized for a full row group) */

  /* whole file */
  tarn__pq_acc file_acc;
  int64_t file_values, file_compressed;
} colw;

struct tarn_pq_writer {
  tarn__pq_sink *sink;
  /* resolved options */
  tarn_pq_codec codec;
  int level;
  int v2;
  size_t page_size, row_group_size, dict_cap, truncate;
  int64_t rg_cap;
  int no_stats, no_index;

  tarn_pq_file_meta meta; /* the footer as built so far */
  tarn__pq_chunk_extra *extra;
  size_t rg_alloc;
  colw *cols;
  int64_t rg_rows;        /* rows in the row group being built */

  int rc;                 /* sticky error */
  tarn_error err;

  /* scratch, reused across pages */
  tarn__pq_codec_ctx codec_ctx;
  tarn_buf lev, venc, asm_, cbuf, tmp;
  tarn_pq_stats pst;
  uint32_t *fresh;
  size_t fresh_cap;
  /* page indexes of every chunk, written after the last row group */
  tarn_buf pidx_ci, pidx_oi;
};

static int fail(tarn_pq_writer *w, int rc) {
  if (w->rc == 0)
    w->rc = rc != 0 ? rc : TARN_EINTERNAL;
  return w->rc;
}

static int bit_at(const uint8_t *b, int64_t i) { return (b[i >> 3] >> (i & 7)) & 1; }

/* ---- schema and options ---- */

static int valid_utf8(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    int n = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2
            : (*p & 0xf8) == 0xf0 ? 3 : -1;
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

int tarn__pq_schema_check(const tarn_pq_schema *s, tarn_error *err) {
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
        return tarn_error_set(err, TARN_EINVAL,
                              "parquet columns '%s' and '%s' share field id %d", s->cols[j].name,
                              nm, (int)c->field_id);
    }
    if (c->optional != 0 && c->optional != 1)
      return tarn_error_set(err, TARN_EINVAL, "parquet column '%s': optional must be 0 or 1", nm);
    switch (c->type) {
    case TARN_PQ_BOOLEAN:
    case TARN_PQ_INT32:
    case TARN_PQ_INT64:
    case TARN_PQ_FLOAT:
    case TARN_PQ_DOUBLE:
    case TARN_PQ_BYTE_ARRAY:
      break;
    case TARN_PQ_FIXED_LEN_BYTE_ARRAY:
      if (c->type_length <= 0 || c->type_length > (1 << 24))
        return tarn_error_set(err, TARN_EINVAL,
                              "parquet column '%s': FIXED_LEN_BYTE_ARRAY length %d is out of "
                              "range (1 to 16777216)", nm, (int)c->type_length);
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
                              "to precision", nm, desc, (int)maxp);
      break;
    }
    default:
      return tarn_error_set(err, TARN_EINVAL,
                            "parquet column '%s': logical type of %s cannot be written", nm,
                            desc);
    }
    continue;
  bad_combo:
    return tarn_error_set(err, TARN_EINVAL, "parquet column '%s': %s is not a valid type", nm,
                          desc);
  }
  return 0;
}

static int resolve_options(tarn_pq_writer *w, const tarn_pq_writer_options *o,
                           tarn_error *err) {
  w->codec = o ? o->codec : TARN_PQ_SNAPPY;
  switch (w->codec) {
  case TARN_PQ_UNCOMPRESSED:
  case TARN_PQ_SNAPPY:
  case TARN_PQ_GZIP:
  case TARN_PQ_ZSTD:
  case TARN_PQ_LZ4_RAW:
    break;
  default:
    return tarn_error_set(err, TARN_EINVAL, "parquet writer: codec %s is not supported",
                          tarn_pq_codec_name(w->codec));
  }
  if (o == NULL) {
    w->v2 = 0;
    w->page_size = 1u << 20;
    w->row_group_size = (size_t)128 << 20;
    w->rg_cap = 1048576;
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

/* ---- page index entries ---- */

static int oi_push(colw *cw, int64_t off, int32_t size, int64_t first_row, tarn_error *err) {
  if (cw->oi.npages == cw->oi_cap) {
    size_t ncap = cw->oi_cap ? cw->oi_cap * 2 : 16;
    tarn__pq_page_location *np = tarn_reallocarray(cw->oi.pages, ncap, sizeof(*np));
    if (np == NULL)
      return tarn_error_set(err, TARN_ENOMEM, "out of memory for the offset index");
    cw->oi.pages = np;
    cw->oi_cap = ncap;
  }
  cw->oi.pages[cw->oi.npages].offset = off;
  cw->oi.pages[cw->oi.npages].compressed_page_size = size;
  cw->oi.pages[cw->oi.npages].first_row_index = first_row;
  cw->oi.npages++;
  return 0;
}

static int ci_push(colw *cw, int null_page, const tarn_buf *mn, const tarn_buf *mx,
                   int64_t nulls, tarn_error *err) {
  tarn__pq_column_index *ci = &cw->ci;
  size_t k;
  int rc;
  if (ci->npages == cw->ci_cap) {
    size_t ncap = cw->ci_cap ? cw->ci_cap * 2 : 16, i;
    uint8_t *np = tarn_realloc(ci->null_pages, ncap);
    tarn_buf *nmin, *nmax;
    int64_t *nc;
    if (np == NULL)
      return tarn_error_set(err, TARN_ENOMEM, "out of memory for the column index");
    ci->null_pages = np;
    nmin = tarn_reallocarray(ci->min_values, ncap, sizeof(*nmin));
    if (nmin == NULL)
      return tarn_error_set(err, TARN_ENOMEM, "out of memory for the column index");
    ci->min_values = nmin;
    nmax = tarn_reallocarray(ci->max_values, ncap, sizeof(*nmax));
    if (nmax == NULL)
      return tarn_error_set(err, TARN_ENOMEM, "out of memory for the column index");
    ci->max_values = nmax;
    nc = tarn_reallocarray(ci->null_counts, ncap, sizeof(*nc));
    if (nc == NULL)
      return tarn_error_set(err, TARN_ENOMEM, "out of memory for the column index");
    ci->null_counts = nc;
    for (i = cw->ci_cap; i < ncap; i++) {
      tarn_buf_init(&ci->min_values[i], TARN_BUF_UNLIMITED);
      tarn_buf_init(&ci->max_values[i], TARN_BUF_UNLIMITED);
    }
    cw->ci_cap = ncap;
  }
  k = ci->npages;
  tarn_buf_reset(&ci->min_values[k]);
  tarn_buf_reset(&ci->max_values[k]);
  ci->null_pages[k] = (uint8_t)null_page;
  ci->null_counts[k] = nulls;
  if (!null_page) {
    rc = tarn_buf_append(&ci->min_values[k], mn->data, mn->len, err);
    if (rc == 0)
      rc = tarn_buf_append(&ci->max_values[k], mx->data, mx->len, err);
    if (rc != 0)
      return rc;
  }
  ci->npages++;
  return 0;
}

/* ASCENDING / DESCENDING when both bound lists are ordered so (null pages skipped). */
static tarn__pq_boundary_order boundary_order(const tarn_pq_column *c,
                                              const tarn__pq_column_index *ci) {
  int asc = 1, desc = 1;
  size_t i, prev = SIZE_MAX;
  for (i = 0; i < ci->npages; i++) {
    const tarn_buf *a0, *a1, *b0, *b1;
    int m, x;
    if (ci->null_pages[i])
      continue;
    if (prev != SIZE_MAX) {
      a0 = &ci->min_values[prev];
      a1 = &ci->max_values[prev];
      b0 = &ci->min_values[i];
      b1 = &ci->max_values[i];
      m = tarn__pq_compare(c, (const uint8_t *)a0->data, a0->len, (const uint8_t *)b0->data,
                           b0->len);
      x = tarn__pq_compare(c, (const uint8_t *)a1->data, a1->len, (const uint8_t *)b1->data,
                           b1->len);
      if (m > 0 || x > 0)
        asc = 0;
      if (m < 0 || x < 0)
        desc = 0;
    }
    prev = i;
  }
  if (asc)
    return TARN__PQ_ASCENDING;
  return desc ? TARN__PQ_DESCENDING : TARN__PQ_UNORDERED;
}

/* ---- pages ---- */

static size_t page_estimate(const colw *cw) {
  size_t lev = cw->col->optional ? (size_t)(cw->page_rows + 7) / 8 : 0;
  if (cw->dict_active) {
    int bw = tarn__pq_bit_width(cw->dict.count);
    return lev + (cw->vals.len / 4 * (size_t)(bw ? bw : 1) + 7) / 8 + 1;
  }
  return lev + cw->vals.len;
}

static int is_float(const tarn_pq_column *c) {
  return c->type == TARN_PQ_FLOAT || c->type == TARN_PQ_DOUBLE;
}

/* Appends the page header and body parts to the chunk buffer; body parts are written as
 * given (already compressed or raw). */
static int put_page(tarn_pq_writer *w, colw *cw, tarn__pq_page_header *h, int64_t nan_count,
                    const void *p1, size_t n1, const void *p2, size_t n2, const void *p3,
                    size_t n3) {
  int rc = tarn__pq_encode_page_header(h, nan_count, &cw->chunk, &w->err);
  if (rc == 0 && n1)
    rc = tarn_buf_append(&cw->chunk, p1, n1, &w->err);
  if (rc == 0 && n2)
    rc = tarn_buf_append(&cw->chunk, p2, n2, &w->err);
  if (rc == 0 && n3)
    rc = tarn_buf_append(&cw->chunk, p3, n3, &w->err);
  return rc;
}

/*
 * Called for a chunk's first data page while it is dictionary-encoded. When the page has
 * TARN__PQ_DICT_PROBE_VALUES values or more and its dictionary entries plus the indexes
 * are not smaller than its values PLAIN (parquet-mr's test), the dictionary does not pay:
 * the page is re-encoded PLAIN from its indexes, the dictionary is dropped and the rest of
 * the chunk is PLAIN. High-cardinality columns then cost one page of hashing instead of a
 * dictionary filled up to its cap. *dict_page becomes 0 when dropped.
 */
static int probe_dictionary(tarn_pq_writer *w, colw *cw, int *dict_page) {
  tarn__pq_dict *d = &cw->dict;
  const uint32_t *idx = (const uint32_t *)(const void *)cw->vals.data;
  size_t n = cw->vals.len / 4, i, plain = 0, enc;
  int bw = tarn__pq_bit_width(d->count > 0 ? d->count - 1 : 0);
  tarn_buf t;
  uint8_t *dst;
  if (n < TARN__PQ_DICT_PROBE_VALUES)
    return 0;
  enc = d->plain.len + (n * (size_t)(bw ? bw : 1) + 7) / 8 + 1;
  if (!d->bytes || d->width > 0) {
    plain = n * (size_t)d->width;
  } else {
    for (i = 0; i < n; i++)
      plain += 4 + (size_t)d->ent_len[idx[i]];
  }
  if (enc < plain)
    return 0;
  tarn_buf_reset(&w->tmp);
  if (tarn_buf_reserve(&w->tmp, plain, &w->err) != 0)
    return w->err.code;
  dst = (uint8_t *)w->tmp.data;
  if (!d->bytes) {
    size_t wd = (size_t)d->width;
    for (i = 0; i < n; i++)
      memcpy(dst + i * wd, d->plain.data + (size_t)idx[i] * wd, wd);
  } else if (d->width > 0) { /* FLBA: entries without a length */
    size_t wd = (size_t)d->width;
    for (i = 0; i < n; i++)
      memcpy(dst + i * wd, d->plain.data + d->ent_off[idx[i]], wd);
  } else { /* BYTE_ARRAY: the 4-byte length precedes each entry's bytes */
    size_t o = 0;
    for (i = 0; i < n; i++) {
      size_t len = 4 + (size_t)d->ent_len[idx[i]];
      memcpy(dst + o, d->plain.data + d->ent_off[idx[i]] - 4, len);
      o += len;
    }
  }
  w->tmp.len = plain;
  dst[plain] = '\0';
  t = cw->vals; /* the PLAIN bytes become the page's values */
  cw->vals = w->tmp;
  w->tmp = t;
  tarn__pq_dict_reset(d);
  cw->dict_active = 0;
  *dict_page = 0;
  return 0;
}

static int flush_page(tarn_pq_writer *w, colw *cw) {
  const tarn_pq_column *c = cw->col;
  tarn__pq_page_header h;
  int64_t nvals, nan_count = -1;
  const void *body;
  size_t blen, unc, start = cw->chunk.len, hlen;
  int rc, has_b = 0, lo_ex = 1, hi_ex = 1, dict_page = cw->dict_active;
  uint8_t lenb[4];
  tarn_error *err = &w->err;

  if (cw->page_rows == 0)
    return 0;
  nvals = cw->page_rows - cw->page_acc.nulls;
  memset(&h, 0, sizeof(h));

  /* definition levels */
  tarn_buf_reset(&w->lev);
  if (c->optional) {
    rc = tarn__pq_encode_hybrid_bits((const uint8_t *)cw->defs.data, (size_t)cw->page_rows,
                                     &w->lev, err);
    if (rc != 0)
      return rc;
  }
  if (dict_page && cw->dict_pages == 0 && cw->plain_pages == 0) {
    rc = probe_dictionary(w, cw, &dict_page);
    if (rc != 0)
      return rc;
  }
  /* values */
  if (dict_page) {
    int bw = tarn__pq_bit_width(cw->dict.count > 0 ? cw->dict.count - 1 : 0);
    uint8_t b;
    if (bw == 0)
      bw = 1;
    b = (uint8_t)bw;
    tarn_buf_reset(&w->venc);
    rc = tarn_buf_append(&w->venc, &b, 1, err);
    if (rc == 0)
      rc = tarn__pq_encode_hybrid((const uint32_t *)(const void *)cw->vals.data,
                                  cw->vals.len / 4, bw, &w->venc, err);
    if (rc != 0)
      return rc;
    body = w->venc.data;
    blen = w->venc.len;
  } else {
    body = cw->vals.data;
    blen = c->type == TARN_PQ_BOOLEAN ? (size_t)(cw->page_bits + 7) / 8 : cw->vals.len;
  }
  if (body == NULL)
    body = "";

  /* statistics (also the column index entry) */
  tarn_buf_reset(&w->pst.min);
  tarn_buf_reset(&w->pst.max);
  if (!w->no_stats) {
    rc = tarn__pq_acc_bounds(c, &cw->page_acc, w->truncate, &has_b, &w->pst.min, &lo_ex,
                             &w->pst.max, &hi_ex, err);
    if (rc != 0)
      return rc;
    h.has_stats = 1;
    h.stats = w->pst;
    h.stats.has_min_max = has_b;
    h.stats.min_exact = lo_ex;
    h.stats.max_exact = hi_ex;
    h.stats.has_null_count = 1;
    h.stats.null_count = cw->page_acc.nulls;
    if (is_float(c))
      nan_count = cw->page_acc.nans;
  }

  h.num_values = (int32_t)cw->page_rows;
  h.encoding = dict_page ? TARN_PQ_RLE_DICTIONARY : TARN_PQ_PLAIN;
  if (!w->v2) {
    h.type = TARN__PQ_DATA_PAGE;
    h.def_encoding = TARN_PQ_RLE;
    h.rep_encoding = TARN_PQ_RLE;
    unc = (c->optional ? 4 + w->lev.len : 0) + blen;
    if (unc > INT32_MAX)
      return tarn_error_set(err, TARN_ETOOBIG, "parquet column '%s': page of %zu bytes", c->name,
                            unc);
    h.uncompressed_size = (int32_t)unc;
    lenb[0] = (uint8_t)w->lev.len;
    lenb[1] = (uint8_t)(w->lev.len >> 8);
    lenb[2] = (uint8_t)(w->lev.len >> 16);
    lenb[3] = (uint8_t)(w->lev.len >> 24);
    if (w->codec == TARN_PQ_UNCOMPRESSED) {
      h.compressed_size = h.uncompressed_size;
      rc = c->optional ? put_page(w, cw, &h, nan_count, lenb, 4, w->lev.data, w->lev.len, body,
                                  blen)
                       : put_page(w, cw, &h, nan_count, body, blen, NULL, 0, NULL, 0);
    } else {
      const void *in = body;
      tarn_buf_reset(&w->cbuf);
      if (c->optional) { /* levels and values compress as one block */
        tarn_buf_reset(&w->asm_);
        rc = tarn_buf_append(&w->asm_, lenb, 4, err);
        if (rc == 0)
          rc = tarn_buf_append(&w->asm_, w->lev.data, w->lev.len, err);
        if (rc == 0)
          rc = tarn_buf_append(&w->asm_, body, blen, err);
        if (rc != 0)
          return rc;
        in = w->asm_.data;
      }
      rc = tarn__pq_compress(&w->codec_ctx, w->codec, w->level, in, unc, &w->cbuf, err);
      if (rc != 0)
        return rc;
      if (w->cbuf.len > INT32_MAX)
        return tarn_error_set(err, TARN_ETOOBIG, "parquet column '%s': page too large",
                              c->name);
      h.compressed_size = (int32_t)w->cbuf.len;
      rc = put_page(w, cw, &h, nan_count, w->cbuf.data, w->cbuf.len, NULL, 0, NULL, 0);
    }
  } else {
    h.type = TARN__PQ_DATA_PAGE_V2;
    h.num_nulls = (int32_t)cw->page_acc.nulls;
    h.num_rows = (int32_t)cw->page_rows;
    h.def_levels_len = (int32_t)w->lev.len;
    h.rep_levels_len = 0;
    /* An empty values section (a page of nulls) is stored as it is: a codec's encoding of
     * no bytes is not empty, and some readers (hyparquet-compressors' LZ4) reject it. */
    h.is_compressed = w->codec != TARN_PQ_UNCOMPRESSED && blen > 0;
    unc = w->lev.len + blen;
    if (unc > INT32_MAX)
      return tarn_error_set(err, TARN_ETOOBIG, "parquet column '%s': page of %zu bytes", c->name,
                            unc);
    h.uncompressed_size = (int32_t)unc;
    if (!h.is_compressed) {
      h.compressed_size = h.uncompressed_size;
      rc = put_page(w, cw, &h, nan_count, w->lev.data, w->lev.len, body, blen, NULL, 0);
    } else {
      tarn_buf_reset(&w->cbuf);
      rc = tarn__pq_compress(&w->codec_ctx, w->codec, w->level, body, blen, &w->cbuf, err);
      if (rc != 0)
        return rc;
      if (w->lev.len + w->cbuf.len > INT32_MAX)
        return tarn_error_set(err, TARN_ETOOBIG, "parquet column '%s': page too large",
                              c->name);
      h.compressed_size = (int32_t)(w->lev.len + w->cbuf.len);
      rc = put_page(w, cw, &h, nan_count, w->lev.data, w->lev.len, w->cbuf.data, w->cbuf.len,
                    NULL, 0);
    }
  }
  if (rc != 0)
    return rc;
  hlen = cw->chunk.len - start - (size_t)h.compressed_size;

  /* offset index (offsets relative to the chunk buffer until it is written) and column
   * index entries */
  if (!w->no_index) {
    rc = oi_push(cw, (int64_t)start, (int32_t)(cw->chunk.len - start), cw->chunk_rows, err);
    if (rc == 0 && !w->no_stats) {
      if (nvals > 0 && !has_b)
        cw->ci_ok = 0; /* only NaNs: TYPE_ORDER forbids a column index for this chunk */
      rc = ci_push(cw, nvals == 0, &w->pst.min, &w->pst.max, cw->page_acc.nulls, err);
    }
    if (rc != 0)
      return rc;
  }
  rc = tarn__pq_acc_merge(c, &cw->chunk_acc, &cw->page_acc, err);
  if (rc != 0)
    return rc;
  if (dict_page)
    cw->dict_pages++;
  else
    cw->plain_pages++;
  cw->chunk_unc += (int64_t)(hlen + unc);
  cw->chunk_rows += cw->page_rows;
  cw->page_rows = 0;
  cw->page_bits = 0;
  tarn_buf_reset(&cw->defs);
  tarn_buf_reset(&cw->vals);
  tarn__pq_acc_reset(&cw->page_acc);
  return 0;
}

/* ---- appending values ---- */

static int bloom_ensure(tarn_pq_writer *w, colw *cw) {
  size_t n;
  if (cw->bloom_bits != NULL)
    return 0;
  n = tarn__pq_bloom_size(cw->ndv ? cw->ndv : w->rg_cap, cw->fpp);
  cw->bloom_bits = tarn_calloc(1, n);
  if (cw->bloom_bits == NULL)
    return tarn_error_set(&w->err, TARN_ENOMEM, "out of memory for a %zu-byte bloom filter", n);
  cw->bloom_alloc = n;
  return 0;
}

static void bloom_add(colw *cw, const void *p, size_t n) {
  tarn__pq_bloom_insert(cw->bloom_bits, cw->bloom_alloc, tarn_xxh64(p, n, 0));
}

/* Copies the non-null values of rows [s, s+k) contiguously to dst; returns how many. */
static size_t compact(uint8_t *dst, const uint8_t *src, size_t wd, const uint8_t *valid,
                      int64_t s, int64_t k) {
  size_t j = 0;
  int64_t i;
  switch (wd) {
  case 4:
    for (i = s; i < s + k; i++) { /* branch-free: always copy, advance when valid */
      memcpy(dst + j * 4, src + (size_t)i * 4, 4);
      j += (size_t)bit_at(valid, i);
    }
    break;
  case 8:
    for (i = s; i < s + k; i++) {
      memcpy(dst + j * 8, src + (size_t)i * 8, 8);
      j += (size_t)bit_at(valid, i);
    }
    break;
  default:
    for (i = s; i < s + k; i++)
      if (bit_at(valid, i)) {
        memcpy(dst + j * wd, src + (size_t)i * wd, wd);
        j++;
      }
    break;
  }
  return j;
}

/* Row (relative to s) of the m-th (0-based) non-null value among rows from s. */
static int64_t row_of_value(const uint8_t *valid, int64_t s, int64_t m) {
  int64_t i = s;
  if (valid == NULL)
    return m;
  for (;; i++)
    if (bit_at(valid, i) && m-- == 0)
      return i - s;
}

/* Commits the levels and counts of rows [s, s+k) holding nv values to the page. */
static void commit_rows(colw *cw, int64_t k, int64_t nv) {
  cw->page_acc.nulls += k - nv;
  cw->page_rows += k;
  if (cw->col->optional)
    cw->defs.len = (size_t)(cw->page_rows + 7) / 8;
}

/* Switches the chunk to PLAIN: the page so far keeps its dictionary indexes. */
static int fall_back(tarn_pq_writer *w, colw *cw) {
  int rc = flush_page(w, cw);
  if (rc == 0)
    cw->dict_active = 0;
  return rc;
}

/* Appends rows [s, s+k) of a; returns the rows consumed (fewer than k only when the
 * dictionary filled up and the chunk switched to PLAIN), or -1 on error. */
static int64_t append_part(tarn_pq_writer *w, colw *cw, const tarn_pq_array *a, int64_t s,
                           int64_t k) {
  const tarn_pq_column *c = cw->col;
  const uint8_t *valid = c->optional ? a->validity : NULL;
  int64_t nv = k, i;
  tarn_error *err = &w->err;
  int rc;

  if (c->optional) {
    rc = tarn_buf_reserve(&cw->defs, (size_t)(k + 7) / 8 + 1, err);
    if (rc != 0)
      return -1;
    if (valid != NULL) {
      tarn__pq_copy_bits((uint8_t *)cw->defs.data, (size_t)cw->page_rows, valid, (size_t)s,
                         (size_t)k);
      nv = (int64_t)tarn__pq_count_bits(valid, (size_t)s, (size_t)k);
    } else {
      tarn__pq_set_bits((uint8_t *)cw->defs.data, (size_t)cw->page_rows, (size_t)k);
    }
    if (nv == k)
      valid = NULL; /* no nulls in this slice: take the fast paths */
  }

  switch (c->type) {
  case TARN_PQ_BOOLEAN: {
    const uint8_t *v = a->values;
    size_t ones;
    uint8_t *dst;
    rc = tarn_buf_reserve(&cw->vals, (size_t)(k + 7) / 8 + 1, err);
    if (rc != 0)
      return -1;
    dst = (uint8_t *)cw->vals.data;
    if (valid == NULL) {
      tarn__pq_copy_bits(dst, (size_t)cw->page_bits, v, (size_t)s, (size_t)k);
      ones = tarn__pq_count_bits(v, (size_t)s, (size_t)k);
      cw->page_bits += k;
    } else {
      ones = 0;
      for (i = s; i < s + k; i++) {
        if (!bit_at(valid, i))
          continue;
        if ((cw->page_bits & 7) == 0)
          dst[cw->page_bits >> 3] = 0;
        if (bit_at(v, i)) {
          dst[cw->page_bits >> 3] |= (uint8_t)(1u << (cw->page_bits & 7));
          ones++;
        }
        cw->page_bits++;
      }
    }
    cw->vals.len = (size_t)(cw->page_bits + 7) / 8;
    if (!w->no_stats || cw->bloom) {
      tarn__pq_acc_add_bool(&cw->page_acc, ones < (size_t)nv, ones > 0);
      if (cw->bloom && nv > 0) {
        uint8_t t = 1, f = 0;
        if (bloom_ensure(w, cw) != 0)
          return -1;
        if (ones > 0)
          bloom_add(cw, &t, 1);
        if (ones < (size_t)nv)
          bloom_add(cw, &f, 1);
      }
    }
    commit_rows(cw, k, nv);
    return k;
  }
  case TARN_PQ_INT32:
  case TARN_PQ_INT64:
  case TARN_PQ_FLOAT:
  case TARN_PQ_DOUBLE: {
    size_t wd = (size_t)cw->width;
    const uint8_t *src = (const uint8_t *)a->values + (size_t)s * wd;
    if (cw->bloom && bloom_ensure(w, cw) != 0)
      return -1;
    if (cw->dict_active) {
      int64_t m;
      size_t nfresh = 0, f;
      if (valid != NULL) { /* gather the values in tmp first */
        tarn_buf_reset(&w->tmp);
        if (tarn_buf_reserve(&w->tmp, (size_t)k * wd, err) != 0)
          return -1;
        compact((uint8_t *)w->tmp.data, (const uint8_t *)a->values, wd, valid, s, k);
        src = (const uint8_t *)w->tmp.data;
      }
      if (cw->bloom && (size_t)nv > w->fresh_cap) {
        uint32_t *nf = tarn_reallocarray(w->fresh, (size_t)nv, sizeof(*nf));
        if (nf == NULL) {
          tarn_error_set(err, TARN_ENOMEM, "out of memory");
          return -1;
        }
        w->fresh = nf;
        w->fresh_cap = (size_t)nv;
      }
      if (tarn_buf_reserve(&cw->vals, (size_t)nv * 4, err) != 0)
        return -1;
      m = tarn__pq_dict_put_fixed(&cw->dict, src, (size_t)nv,
                                  (uint32_t *)(void *)(cw->vals.data + cw->vals.len),
                                  cw->bloom ? w->fresh : NULL, &nfresh, err);
      if (m < 0)
        return -1;
      cw->vals.len += (size_t)m * 4;
      for (f = 0; f < nfresh; f++)
        bloom_add(cw, src + (size_t)w->fresh[f] * wd, wd);
      if (!w->no_stats || is_float(c)) /* NaNs are counted for the file info regardless */
        tarn__pq_acc_add_fixed(c, &cw->page_acc, src, (size_t)m);
      if (m < nv) { /* dictionary full: these rows are done, the rest go PLAIN */
        int64_t rows = row_of_value(valid, s, m);
        commit_rows(cw, rows, m);
        if (fall_back(w, cw) != 0)
          return -1;
        return rows;
      }
      commit_rows(cw, k, nv);
      return k;
    }
    if (tarn_buf_reserve(&cw->vals, (size_t)k * wd, err) != 0)
      return -1;
    {
      uint8_t *dst = (uint8_t *)cw->vals.data + cw->vals.len;
      if (valid == NULL)
        memcpy(dst, src, (size_t)nv * wd);
      else
        compact(dst, (const uint8_t *)a->values, wd, valid, s, k);
      cw->vals.len += (size_t)nv * wd;
      if (!w->no_stats || is_float(c))
        tarn__pq_acc_add_fixed(c, &cw->page_acc, dst, (size_t)nv);
      if (cw->bloom)
        for (i = 0; i < nv; i++)
          bloom_add(cw, dst + (size_t)i * wd, wd);
    }
    commit_rows(cw, k, nv);
    return k;
  }
  case TARN_PQ_BYTE_ARRAY:
  case TARN_PQ_FIXED_LEN_BYTE_ARRAY: {
    int flba = c->type == TARN_PQ_FIXED_LEN_BYTE_ARRAY;
    const int64_t *off = flba ? NULL : a->offsets;
    const uint8_t *data = flba ? (const uint8_t *)a->values : a->data;
    size_t wd = (size_t)cw->width;
    int64_t done = k, vdone = 0;
    if (cw->bloom && bloom_ensure(w, cw) != 0)
      return -1;
    if (cw->dict_active) {
      uint32_t *idx;
      if (tarn_buf_reserve(&cw->vals, (size_t)nv * 4, err) != 0)
        return -1;
      idx = (uint32_t *)(void *)(cw->vals.data + cw->vals.len);
      for (i = s; i < s + k; i++) {
        const uint8_t *p;
        uint32_t len;
        uint64_t hv;
        int isnew, r;
        if (valid != NULL && !bit_at(valid, i))
          continue;
        if (flba) {
          p = data + (size_t)i * wd;
          len = (uint32_t)wd;
        } else {
          p = data + off[i];
          len = (uint32_t)(off[i + 1] - off[i]);
        }
        hv = tarn_xxh64(p, len, 0);
        r = tarn__pq_dict_put_bytes(&cw->dict, p, len, hv, &idx[vdone], &isnew, err);
        if (r < 0)
          return -1;
        if (r == 0) { /* dictionary full */
          done = i - s;
          break;
        }
        if (isnew && cw->bloom)
          tarn__pq_bloom_insert(cw->bloom_bits, cw->bloom_alloc, hv);
        vdone++;
      }
      cw->vals.len += (size_t)vdone * 4;
    } else {
      uint8_t *dst;
      size_t need = flba ? (size_t)nv * wd : (size_t)(off[s + k] - off[s]) + 4 * (size_t)k;
      if (tarn_buf_reserve(&cw->vals, need, err) != 0)
        return -1;
      dst = (uint8_t *)cw->vals.data + cw->vals.len;
      if (flba) {
        if (valid == NULL)
          memcpy(dst, data + (size_t)s * wd, (size_t)nv * wd);
        else
          compact(dst, data, wd, valid, s, k);
        if (cw->bloom)
          for (i = 0; i < nv; i++)
            bloom_add(cw, dst + (size_t)i * wd, wd);
        dst += (size_t)nv * wd;
      } else {
        for (i = s; i < s + k; i++) {
          uint32_t len;
          if (valid != NULL && !bit_at(valid, i))
            continue;
          len = (uint32_t)(off[i + 1] - off[i]);
          dst[0] = (uint8_t)len;
          dst[1] = (uint8_t)(len >> 8);
          dst[2] = (uint8_t)(len >> 16);
          dst[3] = (uint8_t)(len >> 24);
          memcpy(dst + 4, data + off[i], len);
          if (cw->bloom)
            bloom_add(cw, dst + 4, len);
          dst += 4 + (size_t)len;
        }
      }
      cw->vals.len = (size_t)(dst - (uint8_t *)cw->vals.data);
      vdone = nv;
    }
    if (!w->no_stats &&
        tarn__pq_acc_add_bytes(c, &cw->page_acc, off, data, flba ? (int)wd : 0, valid, s, done,
                               err) != 0)
      return -1;
    commit_rows(cw, done, vdone);
    if (done < k) {
      if (fall_back(w, cw) != 0)
        return -1;
    }
    return done;
  }
  default:
    tarn_error_set(err, TARN_EINTERNAL, "parquet writer: unexpected type");
    return -1;
  }
}

/* Rows of a from s (at most n) that fit the current page. */
static int64_t page_fit(const tarn_pq_writer *w, const colw *cw, const tarn_pq_array *a,
                        int64_t s, int64_t n) {
  int64_t k = TARN__PQ_PAGE_ROWS_MAX - cw->page_rows, fit;
  size_t est = page_estimate(cw);
  size_t budget = est < w->page_size ? w->page_size - est : 0;
  if (k > n)
    k = n;
  if (k < 1)
    k = 1;
  if (cw->dict_active)
    return k;
  switch (cw->col->type) {
  case TARN_PQ_BOOLEAN: fit = budget < ((size_t)1 << 40) ? (int64_t)budget * 8 : k; break;
  case TARN_PQ_BYTE_ARRAY: {
    /* offsets are monotonic, so bytes(s, s+m) grows with m: binary search */
    const int64_t *off = a->offsets;
    int64_t lo = 1, hi = k;
    if ((size_t)(off[s + 1] - off[s]) + 4 > budget)
      return 1;
    while (lo < hi) {
      int64_t mid = lo + (hi - lo + 1) / 2;
      if ((size_t)(off[s + mid] - off[s]) + 4 * (size_t)mid <= budget)
        lo = mid;
      else
        hi = mid - 1;
    }
    return lo;
  }
  default: fit = (int64_t)(budget / (size_t)cw->width); break;
  }
  if (fit < 1)
    fit = 1;
  return fit < k ? fit : k;
}

static int page_full(const tarn_pq_writer *w, const colw *cw) {
  return cw->page_rows >= TARN__PQ_PAGE_ROWS_MAX || page_estimate(cw) >= w->page_size;
}

static int col_append(tarn_pq_writer *w, colw *cw, const tarn_pq_array *a, int64_t s, int64_t n) {
  while (n > 0) {
    int64_t k = page_fit(w, cw, a, s, n), got;
    got = append_part(w, cw, a, s, k);
    if (got < 0)
      return w->err.code ? w->err.code : TARN_EINTERNAL;
    s += got;
    n -= got;
    if (page_full(w, cw)) {
      int rc = flush_page(w, cw);
      if (rc != 0)
        return rc;
    }
  }
  return 0;
}

/* ---- column chunks and row groups ---- */

static int sink_write(tarn_pq_writer *w, const void *p, size_t n) {
  if (n == 0)
    return 0;
  return w->sink->ops->write(w->sink, p, n, &w->err);
}

static void add_encoding(tarn_pq_chunk_meta *cm, tarn_pq_encoding e) {
  size_t i;
  for (i = 0; i < cm->nencodings; i++)
    if (cm->encodings[i] == (int32_t)e)
      return;
  cm->encodings[cm->nencodings++] = (int32_t)e;
}

static void reset_chunk(colw *cw) {
  size_t i;
  tarn_buf_reset(&cw->chunk);
  tarn__pq_dict_reset(&cw->dict);
  cw->dict_active = cw->dict_on;
  cw->chunk_rows = cw->chunk_unc = 0;
  cw->dict_pages = cw->plain_pages = 0;
  tarn__pq_acc_reset(&cw->chunk_acc);
  cw->oi.npages = 0;
  for (i = 0; i < cw->ci.npages; i++) {
    tarn_buf_reset(&cw->ci.min_values[i]);
    tarn_buf_reset(&cw->ci.max_values[i]);
  }
  cw->ci.npages = 0;
  cw->ci_ok = 1;
}

static int write_chunk(tarn_pq_writer *w, colw *cw, tarn_pq_chunk_meta *cm,
                       tarn__pq_chunk_extra *x) {
  const tarn_pq_column *c = cw->col;
  tarn_error *err = &w->err;
  int64_t start, dict_total = 0, dict_unc = 0;
  size_t i;
  int rc = flush_page(w, cw);
  if (rc != 0)
    return rc;
  start = w->sink->offset;
  if (cw->dict_pages > 0) { /* the dictionary page comes first */
    tarn__pq_page_header h;
    size_t plen = cw->dict.plain.len;
    memset(&h, 0, sizeof(h));
    h.type = TARN__PQ_DICTIONARY_PAGE;
    h.uncompressed_size = (int32_t)plen;
    h.dict_num_values = (int32_t)cw->dict.count;
    h.dict_encoding = TARN_PQ_PLAIN;
    tarn_buf_reset(&w->cbuf);
    tarn_buf_reset(&w->asm_);
    if (w->codec != TARN_PQ_UNCOMPRESSED) {
      rc = tarn__pq_compress(&w->codec_ctx, w->codec, w->level, plen ? cw->dict.plain.data : "",
                             plen, &w->cbuf, err);
      if (rc != 0)
        return rc;
      h.compressed_size = (int32_t)w->cbuf.len;
    } else {
      h.compressed_size = (int32_t)plen;
    }
    rc = tarn__pq_encode_page_header(&h, -1, &w->asm_, err);
    if (rc == 0)
      rc = sink_write(w, w->asm_.data, w->asm_.len);
    if (rc == 0)
      rc = w->codec != TARN_PQ_UNCOMPRESSED ? sink_write(w, w->cbuf.data, w->cbuf.len)
                                            : sink_write(w, cw->dict.plain.data, plen);
    if (rc != 0)
      return rc;
    dict_total = (int64_t)w->asm_.len + h.compressed_size;
    dict_unc = (int64_t)w->asm_.len + (int64_t)plen;
  }
  rc = sink_write(w, cw->chunk.data, cw->chunk.len);
  if (rc != 0)
    return rc;

  cm->type = c->type;
  cm->codec = w->codec;
  if (cw->dict_pages > 0) {
    add_encoding(cm, TARN_PQ_PLAIN); /* the dictionary page */
    add_encoding(cm, TARN_PQ_RLE_DICTIONARY);
  }
  if (cw->plain_pages > 0)
    add_encoding(cm, TARN_PQ_PLAIN);
  if (c->optional || !w->v2)
    add_encoding(cm, TARN_PQ_RLE); /* levels (v1 headers always name an encoding) */
  cm->num_values = cw->chunk_rows;
  cm->total_uncompressed_size = dict_unc + cw->chunk_unc;
  cm->total_compressed_size = dict_total + (int64_t)cw->chunk.len;
  cm->file_offset = start;
  cm->dictionary_page_offset = cw->dict_pages > 0 ? start : -1;
  cm->data_page_offset = start + dict_total;
  cm->bloom_filter_offset = -1;
  cm->bloom_filter_length = -1;
  cm->column_index_offset = cm->offset_index_offset = -1;
  x->dict_pages = cw->dict_pages > 0;
  x->dict_data_pages = cw->dict_pages;
  x->plain_data_pages = cw->plain_pages;
  x->data_page_v2 = w->v2;
  if (!w->no_stats) {
    int has_b, lo_ex, hi_ex;
    cm->stats.has_null_count = 1;
    cm->stats.null_count = cw->chunk_acc.nulls;
    rc = tarn__pq_acc_bounds(c, &cw->chunk_acc, w->truncate, &has_b, &cm->stats.min, &lo_ex,
                             &cm->stats.max, &hi_ex, err);
    if (rc != 0)
      return rc;
    cm->stats.has_min_max = has_b;
    cm->stats.min_exact = lo_ex;
    cm->stats.max_exact = hi_ex;
    if (is_float(c)) {
      x->has_nan_count = 1;
      x->nan_count = cw->chunk_acc.nans;
    }
  }
  if (!w->no_index) {
    size_t before = w->pidx_oi.len;
    for (i = 0; i < cw->oi.npages; i++)
      cw->oi.pages[i].offset += cm->data_page_offset;
    rc = tarn__pq_encode_offset_index(&cw->oi, &w->pidx_oi, err);
    if (rc != 0)
      return rc;
    cm->offset_index_offset = (int64_t)before; /* relative until the indexes are written */
    cm->offset_index_length = (int32_t)(w->pidx_oi.len - before);
    if (!w->no_stats && cw->ci_ok) {
      before = w->pidx_ci.len;
      cw->ci.boundary_order = boundary_order(c, &cw->ci);
      cw->ci.has_null_counts = 1;
      rc = tarn__pq_encode_column_index(&cw->ci, &w->pidx_ci, err);
      if (rc != 0)
        return rc;
      cm->column_index_offset = (int64_t)before;
      cm->column_index_length = (int32_t)(w->pidx_ci.len - before);
    }
  }
  rc = tarn__pq_acc_merge(c, &cw->file_acc, &cw->chunk_acc, err);
  if (rc != 0)
    return rc;
  cw->file_values += cw->chunk_rows;
  cw->file_compressed += cm->total_compressed_size;
  return 0;
}

/* The bloom filter of a finished chunk: folded down to the size its distinct values
 * need (halving a split-block filter ORs block pairs and keeps every bit a value set,
 * because block index = (hash_hi * nblocks) >> 32), then header and bitset. */
static int write_bloom(tarn_pq_writer *w, colw *cw, tarn_pq_chunk_meta *cm) {
  size_t have = cw->bloom_alloc, want, b;
  int64_t ndv = cw->ndv;
  int rc;
  if (cw->bloom_bits == NULL && bloom_ensure(w, cw) != 0)
    return w->err.code;
  have = cw->bloom_alloc;
  if (ndv == 0)
    ndv = cw->plain_pages == 0 ? (int64_t)cw->dict.count : cw->chunk_rows - cw->chunk_acc.nulls;
  want = tarn__pq_bloom_size(ndv, cw->fpp);
  while (have > want && have > 32) {
    size_t half = have / 2;
    for (b = 0; b < half / 32; b++) {
      uint8_t *dst = cw->bloom_bits + b * 32;
      const uint8_t *s0 = cw->bloom_bits + 2 * b * 32, *s1 = s0 + 32;
      size_t k;
      for (k = 0; k < 32; k++)
        dst[k] = (uint8_t)(s0[k] | s1[k]);
    }
    have = half;
  }
  tarn_buf_reset(&w->asm_);
  rc = tarn__pq_encode_bloom_header((int32_t)have, &w->asm_, &w->err);
  cm->bloom_filter_offset = w->sink->offset;
  if (rc == 0)
    rc = sink_write(w, w->asm_.data, w->asm_.len);
  if (rc == 0)
    rc = sink_write(w, cw->bloom_bits, have);
  if (rc != 0)
    return rc;
  cm->bloom_filter_length = (int32_t)(w->asm_.len + have);
  memset(cw->bloom_bits, 0, cw->bloom_alloc);
  return 0;
}

static int flush_row_group(tarn_pq_writer *w) {
  size_t ncols = w->meta.schema.ncols, j, r = w->meta.nrow_groups;
  tarn_pq_row_group_meta *rg;
  tarn__pq_chunk_extra *x;
  int64_t start = w->sink->offset;
  int rc;
  if (w->rg_rows == 0)
    return 0;
  if (r == w->rg_alloc) {
    size_t ncap = w->rg_alloc ? w->rg_alloc * 2 : 4;
    tarn_pq_row_group_meta *nr = tarn_reallocarray(w->meta.row_groups, ncap, sizeof(*nr));
    tarn__pq_chunk_extra *nx;
    if (nr == NULL)
      return tarn_error_set(&w->err, TARN_ENOMEM, "out of memory for row group metadata");
    w->meta.row_groups = nr;
    nx = tarn_reallocarray(w->extra, ncap * ncols, sizeof(*nx));
    if (nx == NULL)
      return tarn_error_set(&w->err, TARN_ENOMEM, "out of memory for row group metadata");
    w->extra = nx;
    w->rg_alloc = ncap;
  }
  rg = &w->meta.row_groups[r];
  memset(rg, 0, sizeof(*rg));
  rg->chunks = tarn_calloc(ncols, sizeof(*rg->chunks));
  if (rg->chunks == NULL)
    return tarn_error_set(&w->err, TARN_ENOMEM, "out of memory for row group metadata");
  for (j = 0; j < ncols; j++) {
    tarn__pq_stats_init(&rg->chunks[j].stats);
    rg->chunks[j].stats.min.max = rg->chunks[j].stats.max.max = TARN_BUF_UNLIMITED;
  }
  w->meta.nrow_groups = r + 1;
  x = &w->extra[r * ncols];
  memset(x, 0, ncols * sizeof(*x));
  rg->file_offset = start;
  rg->num_rows = w->rg_rows;
  for (j = 0; j < ncols; j++) {
    rc = write_chunk(w, &w->cols[j], &rg->chunks[j], &x[j]);
    if (rc != 0)
      return rc;
    rg->total_byte_size += rg->chunks[j].total_uncompressed_size;
    rg->total_compressed_size += rg->chunks[j].total_compressed_size;
  }
  for (j = 0; j < ncols; j++) {
    if (w->cols[j].bloom) {
      rc = write_bloom(w, &w->cols[j], &rg->chunks[j]);
      if (rc != 0)
        return rc;
    }
    reset_chunk(&w->cols[j]);
  }
  w->meta.num_rows += w->rg_rows;
  w->rg_rows = 0;
  return 0;
}

/* Encoded bytes of the row group so far: pages written plus the open pages' estimates. */
static size_t rg_bytes(const tarn_pq_writer *w) {
  size_t j, n = 0;
  for (j = 0; j < w->meta.schema.ncols; j++) {
    const colw *cw = &w->cols[j];
    n += cw->chunk.len + page_estimate(cw);
    if (cw->dict_active || cw->dict_pages > 0)
      n += cw->dict.plain.len;
  }
  return n;
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
        if (!bit_at(a->validity, i))
          return tarn_error_set(err, TARN_EINVAL,
                                "parquet column '%s' is REQUIRED but row %lld of the batch is "
                                "null", c->name, (long long)i);
      }
    }
    if (c->type == TARN_PQ_BYTE_ARRAY) {
      const int64_t *off = a->offsets;
      if (off == NULL)
        return tarn_error_set(err, TARN_EINVAL, "parquet column '%s': offsets missing",
                              c->name);
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
                                "at most)", c->name, (long long)i,
                                (long long)(off[i + 1] - off[i]));
      }
      if (off[n] > a->data_len)
        return tarn_error_set(err, TARN_EINVAL,
                              "parquet column '%s': offset %lld at row %lld is past data_len "
                              "%lld", c->name, (long long)off[n], (long long)n,
                              (long long)a->data_len);
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
static int64_t step_rows(const tarn_pq_writer *w, const tarn_pq_batch *b, int64_t row,
                         int64_t n) {
  size_t have = rg_bytes(w), left, per_row = 1, j;
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
    fail(w, rc);
    goto sticky;
  }
  while (row < b->nrows) {
    int64_t take = b->nrows - row;
    if (take > w->rg_cap - w->rg_rows)
      take = w->rg_cap - w->rg_rows;
    take = step_rows(w, b, row, take);
    for (j = 0; j < b->ncols; j++) {
      rc = col_append(w, &w->cols[j], &b->cols[j], row, take);
      if (rc != 0) {
        fail(w, rc);
        goto sticky;
      }
    }
    w->rg_rows += take;
    row += take;
    if (w->rg_rows >= w->rg_cap || rg_bytes(w) >= w->row_group_size) {
      rc = flush_row_group(w);
      if (rc != 0) {
        fail(w, rc);
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

int tarn__pq_writer_open_sink(tarn__pq_sink *sink, const tarn_pq_schema *schema,
                              const tarn_pq_writer_options *opts, tarn_pq_writer **out,
                              tarn_error *err) {
  tarn_pq_writer *w = NULL;
  size_t j, ncols;
  int rc;
  char created[128];
  *out = NULL;
  rc = tarn__pq_schema_check(schema, err);
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
    snprintf(created, sizeof(created), "tarn version %s (build %s)", TARN_VERSION,
             TARN_GIT_COMMIT);
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
        rc = tarn_error_set(err, TARN_EINVAL, "parquet writer: key-value entry %zu has no key",
                            j);
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
    switch (c->type) {
    case TARN_PQ_INT32:
    case TARN_PQ_FLOAT: cw->width = 4; break;
    case TARN_PQ_INT64:
    case TARN_PQ_DOUBLE: cw->width = 8; break;
    case TARN_PQ_FIXED_LEN_BYTE_ARRAY: cw->width = c->type_length; break;
    default: cw->width = 0; break;
    }
    tarn_buf_init(&cw->defs, TARN_BUF_UNLIMITED);
    tarn_buf_init(&cw->vals, TARN_BUF_UNLIMITED);
    tarn_buf_init(&cw->chunk, TARN_BUF_UNLIMITED);
    tarn__pq_acc_init(&cw->page_acc);
    tarn__pq_acc_init(&cw->chunk_acc);
    tarn__pq_acc_init(&cw->file_acc);
    tarn__pq_dict_init(&cw->dict,
                       c->type == TARN_PQ_BYTE_ARRAY ? 0 : cw->width,
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

int tarn_pq_writer_open_fd(int fd, const tarn_pq_schema *schema,
                           const tarn_pq_writer_options *opts, tarn_pq_writer **out,
                           tarn_error *err) {
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
  return tarn__pq_writer_open_sink(&fs->base, schema, opts, out, err);
}

int tarn_pq_writer_open_store(tarn_store *st, const char *key, unsigned put_flags,
                              const tarn_pq_schema *schema, const tarn_pq_writer_options *opts,
                              tarn_pq_writer **out, tarn_error *err) {
  store_sink *ss;
  tarn_store_writer *sw = NULL;
  int rc;
  *out = NULL;
  rc = tarn__pq_schema_check(schema, err); /* before anything is opened in the store */
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
  return tarn__pq_writer_open_sink(&ss->base, schema, opts, out, err);
}

const tarn_pq_file_meta *tarn__pq_writer_meta(const tarn_pq_writer *w) { return &w->meta; }

static int fill_info(tarn_pq_writer *w, tarn_pq_file_info *fi, int64_t size) {
  size_t j, n = w->meta.schema.ncols;
  tarn_error *err = &w->err;
  fi->record_count = w->meta.num_rows;
  fi->file_size = size;
  fi->cols = tarn_calloc(n, sizeof(*fi->cols));
  if (fi->cols == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory for file info");
  fi->ncols = n;
  for (j = 0; j < n; j++) {
    tarn_pq_column_info *ci = &fi->cols[j];
    colw *cw = &w->cols[j];
    int lo_ex, hi_ex, rc;
    tarn_buf_init(&ci->lower, TARN_BUF_UNLIMITED);
    tarn_buf_init(&ci->upper, TARN_BUF_UNLIMITED);
    ci->field_id = cw->col->field_id;
    ci->compressed_size = cw->file_compressed;
    ci->value_count = cw->file_values;
    ci->null_count = cw->file_acc.nulls;
    ci->nan_count = cw->file_acc.nans;
    if (!w->no_stats) {
      rc = tarn__pq_acc_bounds(cw->col, &cw->file_acc, w->truncate, &ci->has_bounds, &ci->lower,
                               &lo_ex, &ci->upper, &hi_ex, err);
      if (rc != 0)
        return rc;
    }
  }
  if (w->meta.nrow_groups > 0) {
    fi->split_offsets = tarn_calloc(w->meta.nrow_groups, sizeof(*fi->split_offsets));
    if (fi->split_offsets == NULL)
      return tarn_error_set(err, TARN_ENOMEM, "out of memory for file info");
    for (j = 0; j < w->meta.nrow_groups; j++)
      fi->split_offsets[j] = w->meta.row_groups[j].file_offset;
    fi->nsplits = w->meta.nrow_groups;
  }
  return 0;
}

/* Page indexes, footer, length and magic. */
static int finish_file(tarn_pq_writer *w) {
  int64_t ci_base, oi_base;
  size_t r, j;
  uint8_t tail[8];
  tarn_buf foot;
  int rc = flush_row_group(w);
  if (rc != 0)
    return rc;
  ci_base = w->sink->offset;
  rc = sink_write(w, w->pidx_ci.data, w->pidx_ci.len);
  if (rc != 0)
    return rc;
  oi_base = w->sink->offset;
  rc = sink_write(w, w->pidx_oi.data, w->pidx_oi.len);
  if (rc != 0)
    return rc;
  for (r = 0; r < w->meta.nrow_groups; r++)
    for (j = 0; j < w->meta.schema.ncols; j++) {
      tarn_pq_chunk_meta *cm = &w->meta.row_groups[r].chunks[j];
      if (cm->column_index_offset >= 0)
        cm->column_index_offset += ci_base;
      if (cm->offset_index_offset >= 0)
        cm->offset_index_offset += oi_base;
    }
  tarn_buf_init(&foot, TARN_BUF_UNLIMITED);
  rc = tarn__pq_encode_file_meta(&w->meta, w->extra, &foot, &w->err);
  if (rc == 0 && foot.len > UINT32_MAX)
    rc = tarn_error_set(&w->err, TARN_ETOOBIG, "parquet footer of %zu bytes", foot.len);
  if (rc == 0)
    rc = sink_write(w, foot.data, foot.len);
  if (rc == 0) {
    tail[0] = (uint8_t)foot.len;
    tail[1] = (uint8_t)(foot.len >> 8);
    tail[2] = (uint8_t)(foot.len >> 16);
    tail[3] = (uint8_t)(foot.len >> 24);
    memcpy(tail + 4, TARN__PQ_MAGIC, 4);
    rc = sink_write(w, tail, 8);
  }
  tarn_buf_free(&foot);
  return rc;
}

int tarn_pq_writer_close(tarn_pq_writer *w, tarn_pq_file_info *info, tarn_error *err) {
  tarn__pq_sink *sink;
  int rc;
  if (info != NULL)
    memset(info, 0, sizeof(*info));
  if (w == NULL)
    return tarn_error_set(err, TARN_EINVAL, "parquet writer is NULL");
  sink = w->sink;
  if (w->rc == 0 && finish_file(w) != 0)
    fail(w, w->err.code);
  if (w->rc == 0 && info != NULL && fill_info(w, info, sink->offset) != 0)
    fail(w, w->err.code);
  if (w->rc != 0) {
    sink->ops->abort(sink);
    goto out;
  }
  rc = sink->ops->commit(sink, &w->err);
  if (rc != 0)
    fail(w, rc);
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
