/* pq_writer_pages.c - the Parquet writer's pages: page-index entries, the dictionary
 * probe, encoding, compressing and appending a finished page to its chunk. */
#include "pq_writer_int.h"

#include <assert.h>
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

/* ---- page index entries ---- */

static int oi_push(colw *cw, int64_t off, int32_t size, int64_t first_row, tarn_error *err) {
  if (TARN_GROW(cw->oi.pages, cw->oi_cap, cw->oi.npages + 1, 16) != 0)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory for the offset index");
  cw->oi.pages[cw->oi.npages].offset = off;
  cw->oi.pages[cw->oi.npages].compressed_page_size = size;
  cw->oi.pages[cw->oi.npages].first_row_index = first_row;
  cw->oi.npages++;
  return 0;
}

static int ci_push(colw *cw, int null_page, const tarn_buf *mn, const tarn_buf *mx, int64_t nulls,
                   tarn_error *err) {
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
tarn__pq_boundary_order tarn__pqw_boundary_order(const tarn_pq_column *c,
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

size_t tarn__pqw_page_estimate(const colw *cw) {
  size_t lev = cw->col->optional ? (size_t)(cw->page_rows + 7) / 8 : 0;
  if (cw->dict_active) {
    int bw = tarn__pq_bit_width(cw->dict.count);
    return lev + (cw->vals.len / 4 * (size_t)(bw ? bw : 1) + 7) / 8 + 1;
  }
  return lev + cw->vals.len;
}

int tarn__pqw_is_float(const tarn_pq_column *c) {
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
 * TARN__PQ_DICT_PROBE_VALUES values or more (or is full at fewer) and its dictionary entries plus the indexes
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
  /* a page cap below the probe's mark: the first page decides */
  if (n < TARN__PQ_DICT_PROBE_VALUES && cw->page_rows < w->page_rows_cap)
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

/* The same test early, once a chunk's first page holds TARN__PQ_DICT_PROBE_VALUES
 * values, so that a column of distinct values (ids, timestamps, JSON) stops hashing then,
 * not when the page or the dictionary fills up. The page goes on, PLAIN if dropped. */
int tarn__pqw_probe_early(tarn_pq_writer *w, colw *cw) {
  int dict_page = 1;
  if (!cw->dict_active || cw->dict_probed || cw->dict_pages > 0 || cw->plain_pages > 0 ||
      cw->vals.len / 4 < TARN__PQ_DICT_PROBE_VALUES)
    return 0;
  cw->dict_probed = 1;
  return probe_dictionary(w, cw, &dict_page);
}

/* The page's values section: RLE dictionary indexes (bit width first) or PLAIN bytes. */
static int encode_values(tarn_pq_writer *w, colw *cw, int dict_page, const void **body,
                         size_t *blen) {
  if (dict_page) {
    int bw = tarn__pq_bit_width(cw->dict.count > 0 ? cw->dict.count - 1 : 0);
    uint8_t b;
    int rc;
    if (bw == 0)
      bw = 1;
    b = (uint8_t)bw;
    tarn_buf_reset(&w->venc);
    rc = tarn_buf_append(&w->venc, &b, 1, &w->err);
    if (rc == 0)
      rc = tarn__pq_encode_hybrid((const uint32_t *)(const void *)cw->vals.data, cw->vals.len / 4,
                                  bw, &w->venc, &w->err);
    if (rc != 0)
      return rc;
    *body = w->venc.data;
    *blen = w->venc.len;
  } else {
    *body = cw->vals.data;
    *blen = cw->col->type == TARN_PQ_BOOLEAN ? (size_t)(cw->page_bits + 7) / 8 : cw->vals.len;
  }
  if (*body == NULL)
    *body = "";
  return 0;
}

/* The page's statistics into h (also kept in w->pst for the column index entry). */
static int page_stats(tarn_pq_writer *w, colw *cw, tarn__pq_page_header *h, int64_t *nan_count,
                      int *has_b) {
  const tarn_pq_column *c = cw->col;
  int lo_ex = 1, hi_ex = 1, rc;
  tarn_buf_reset(&w->pst.min);
  tarn_buf_reset(&w->pst.max);
  if (w->no_stats)
    return 0;
  rc = tarn__pq_acc_bounds(c, &cw->page_acc, w->truncate, has_b, &w->pst.min, &lo_ex, &w->pst.max,
                           &hi_ex, &w->err);
  if (rc != 0)
    return rc;
  h->has_stats = 1;
  h->stats = w->pst;
  h->stats.has_min_max = *has_b;
  h->stats.min_exact = lo_ex;
  h->stats.max_exact = hi_ex;
  h->stats.has_null_count = 1;
  h->stats.null_count = cw->page_acc.nulls;
  if (tarn__pqw_is_float(c))
    *nan_count = cw->page_acc.nans;
  return 0;
}

/* A v1 data page: levels (length-prefixed) and values, compressed as one block. */
static int write_v1(tarn_pq_writer *w, colw *cw, tarn__pq_page_header *h, int64_t nan_count,
                    const void *body, size_t blen, size_t *unc) {
  const tarn_pq_column *c = cw->col;
  tarn_error *err = &w->err;
  const void *in = body;
  uint8_t lenb[4];
  int rc;
  h->type = TARN__PQ_DATA_PAGE;
  h->def_encoding = TARN_PQ_RLE;
  h->rep_encoding = TARN_PQ_RLE;
  *unc = (c->optional ? 4 + w->lev.len : 0) + blen;
  if (*unc > INT32_MAX)
    return tarn_error_set(err, TARN_ETOOBIG, "parquet column '%s': page of %zu bytes", c->name,
                          *unc);
  h->uncompressed_size = (int32_t)*unc;
  lenb[0] = (uint8_t)w->lev.len;
  lenb[1] = (uint8_t)(w->lev.len >> 8);
  lenb[2] = (uint8_t)(w->lev.len >> 16);
  lenb[3] = (uint8_t)(w->lev.len >> 24);
  if (w->codec == TARN_PQ_UNCOMPRESSED) {
    h->compressed_size = h->uncompressed_size;
    return c->optional ? put_page(w, cw, h, nan_count, lenb, 4, w->lev.data, w->lev.len, body, blen)
                       : put_page(w, cw, h, nan_count, body, blen, NULL, 0, NULL, 0);
  }
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
  rc = tarn__pq_compress(&w->codec_ctx, w->codec, w->level, in, *unc, &w->cbuf, err);
  if (rc != 0)
    return rc;
  if (w->cbuf.len > INT32_MAX)
    return tarn_error_set(err, TARN_ETOOBIG, "parquet column '%s': page too large", c->name);
  h->compressed_size = (int32_t)w->cbuf.len;
  return put_page(w, cw, h, nan_count, w->cbuf.data, w->cbuf.len, NULL, 0, NULL, 0);
}

/* A v2 data page: levels uncompressed, then the values, compressed alone. */
static int write_v2(tarn_pq_writer *w, colw *cw, tarn__pq_page_header *h, int64_t nan_count,
                    const void *body, size_t blen, size_t *unc) {
  const tarn_pq_column *c = cw->col;
  tarn_error *err = &w->err;
  int rc;
  h->type = TARN__PQ_DATA_PAGE_V2;
  h->num_nulls = (int32_t)cw->page_acc.nulls;
  h->num_rows = (int32_t)cw->page_rows;
  h->def_levels_len = (int32_t)w->lev.len;
  h->rep_levels_len = 0;
  /* An empty values section (a page of nulls) is stored as it is: a codec's encoding of
   * no bytes is not empty, and some readers (hyparquet-compressors' LZ4) reject it. */
  h->is_compressed = w->codec != TARN_PQ_UNCOMPRESSED && blen > 0;
  *unc = w->lev.len + blen;
  if (*unc > INT32_MAX)
    return tarn_error_set(err, TARN_ETOOBIG, "parquet column '%s': page of %zu bytes", c->name,
                          *unc);
  h->uncompressed_size = (int32_t)*unc;
  if (!h->is_compressed) {
    h->compressed_size = h->uncompressed_size;
    return put_page(w, cw, h, nan_count, w->lev.data, w->lev.len, body, blen, NULL, 0);
  }
  tarn_buf_reset(&w->cbuf);
  rc = tarn__pq_compress(&w->codec_ctx, w->codec, w->level, body, blen, &w->cbuf, err);
  if (rc != 0)
    return rc;
  if (w->lev.len + w->cbuf.len > INT32_MAX)
    return tarn_error_set(err, TARN_ETOOBIG, "parquet column '%s': page too large", c->name);
  h->compressed_size = (int32_t)(w->lev.len + w->cbuf.len);
  return put_page(w, cw, h, nan_count, w->lev.data, w->lev.len, w->cbuf.data, w->cbuf.len, NULL, 0);
}

/* The page's offset index entry (offsets relative to the chunk buffer until it is
 * written) and column index entry. */
static int index_entries(tarn_pq_writer *w, colw *cw, size_t start, int64_t nvals, int has_b) {
  int rc = oi_push(cw, (int64_t)start, (int32_t)(cw->chunk.len - start), cw->chunk_rows, &w->err);
  if (rc == 0 && !w->no_stats) {
    if (nvals > 0 && !has_b)
      cw->ci_ok = 0; /* only NaNs: TYPE_ORDER forbids a column index for this chunk */
    rc = ci_push(cw, nvals == 0, &w->pst.min, &w->pst.max, cw->page_acc.nulls, &w->err);
  }
  /* the column index and the offset index describe the same pages, in order */
  assert(rc != 0 || w->no_stats || cw->ci.npages == cw->oi.npages);
  return rc;
}

int tarn__pqw_flush_page(tarn_pq_writer *w, colw *cw) {
  const tarn_pq_column *c = cw->col;
  tarn__pq_page_header h;
  int64_t nvals, nan_count = -1;
  const void *body;
  size_t blen, unc = 0, start = cw->chunk.len, hlen;
  int rc, has_b = 0, dict_page = cw->dict_active;

  if (cw->page_rows == 0)
    return 0;
  nvals = cw->page_rows - cw->page_acc.nulls;
  memset(&h, 0, sizeof(h));
  /* definition levels */
  tarn_buf_reset(&w->lev);
  if (c->optional) {
    rc = tarn__pq_encode_hybrid_bits((const uint8_t *)cw->defs.data, (size_t)cw->page_rows, &w->lev,
                                     &w->err);
    if (rc != 0)
      return rc;
  }
  if (dict_page && cw->dict_pages == 0 && cw->plain_pages == 0) {
    cw->dict_probed = 1;
    rc = probe_dictionary(w, cw, &dict_page);
    if (rc != 0)
      return rc;
  }
  rc = encode_values(w, cw, dict_page, &body, &blen);
  if (rc == 0)
    rc = page_stats(w, cw, &h, &nan_count, &has_b);
  if (rc != 0)
    return rc;
  h.num_values = (int32_t)cw->page_rows;
  h.encoding = dict_page ? TARN_PQ_RLE_DICTIONARY : TARN_PQ_PLAIN;
  rc = w->v2 ? write_v2(w, cw, &h, nan_count, body, blen, &unc)
             : write_v1(w, cw, &h, nan_count, body, blen, &unc);
  if (rc != 0)
    return rc;
  hlen = cw->chunk.len - start - (size_t)h.compressed_size;
  if (!w->no_index) {
    rc = index_entries(w, cw, start, nvals, has_b);
    if (rc != 0)
      return rc;
  }
  rc = tarn__pq_acc_merge(c, &cw->chunk_acc, &cw->page_acc, &w->err);
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
