/* pq_scan_pages.c - the scan's column cursors: reading a chunk, decompressing and decoding
 * its dictionary and data pages (every supported encoding), seeking to a row. */
#include "pq_scan_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "base/alloc.h"

/* ---- cursors: pages ---- */

void tarn__pqs_cur_free(colcur *cc) {
  tarn_buf_free(&cc->chunk);
  tarn__pq_offset_index_free(&cc->oi);
  tarn_free(cc->dict_buf);
  tarn_free(cc->dict_vals);
  tarn_free(cc->dict_views);
  tarn_free(cc->defs);
  tarn_free(cc->page_buf);
  tarn_free(cc->vals);
  tarn_free(cc->dense);
  tarn_free(cc->views);
  tarn_free(cc->dviews);
  tarn_free(cc->idx);
  tarn_free(cc->xidx);
  tarn_free(cc->dba);
  memset(cc, 0, sizeof(*cc));
}

/* Ends a row group: releases what belongs to it (dictionary, offset index) but keeps the
 * scratch buffers, so the next row group reuses warm memory instead of faulting in new. */
void tarn__pqs_cur_reset(colcur *cc) {
  colcur keep = *cc;
  tarn__pq_offset_index_free(&cc->oi);
  tarn_free(cc->dict_buf);
  tarn_free(cc->dict_vals);
  tarn_free(cc->dict_views);
  tarn_free(cc->dba);
  memset(cc, 0, sizeof(*cc));
  cc->chunk = keep.chunk;
  tarn_buf_reset(&cc->chunk);
  cc->defs = keep.defs, cc->defs_cap = keep.defs_cap;
  cc->page_buf = keep.page_buf, cc->page_cap = keep.page_cap;
  cc->vals = keep.vals, cc->vals_cap = keep.vals_cap;
  cc->dense = keep.dense, cc->dense_cap = keep.dense_cap;
  cc->views = keep.views, cc->views_cap = keep.views_cap;
  cc->dviews = keep.dviews, cc->dviews_cap = keep.dviews_cap;
  cc->idx = keep.idx, cc->idx_cap = keep.idx_cap;
  cc->xidx = keep.xidx, cc->xidx_cap = keep.xidx_cap;
}

/* Decompresses `n` bytes at body into the page buffer (or borrows body when stored plain). */
static int page_bytes(tarn_pq_scan *s, colcur *cc, const uint8_t *body, size_t n, size_t un,
                      int compressed, int64_t off, const uint8_t **out, tarn_error *err) {
  int rc;
  if (un > tarn__pq_limits_cur.max_page_bytes)
    return COL_ERR(err, s, cc, TARN_ETOOBIG, off, "page declares %zu bytes, over the cap of %zu",
                   un, tarn__pq_limits_cur.max_page_bytes);
  if (un == 0) { /* an empty page (e.g. the dictionary of an all-null column): a codec
                   * still frames nothing in a few bytes (zstd 9, snappy 1) */
    *out = body;
    return 0;
  }
  if (!compressed || cc->cm->codec == TARN_PQ_UNCOMPRESSED) {
    if (n != un)
      return COL_ERR(err, s, cc, TARN_ECORRUPT, off,
                     "stored page is %zu bytes but declares %zu uncompressed", n, un);
    *out = body;
    return 0;
  }
  if (tarn__pqs_grow((void **)&cc->page_buf, &cc->page_cap, un, 1) != 0)
    return COL_ERR(err, s, cc, TARN_ENOMEM, off, "out of memory for a %zu-byte page", un);
  rc = tarn__pq_decompress(&s->codec, cc->cm->codec, body, n, cc->page_buf, un, err);
  if (rc != 0) {
    char inner[TARN_ERROR_DETAIL_MAX];
    snprintf(inner, sizeof(inner), "%s", err ? err->detail : "decompression failed");
    return COL_ERR(err, s, cc, rc, off, "%s", inner);
  }
  *out = cc->page_buf;
  return 0;
}

static int decode_dictionary(tarn_pq_scan *s, colcur *cc, const tarn__pq_page_header *h,
                             const uint8_t *body, int64_t off, tarn_error *err) {
  const uint8_t *p;
  size_t n = (size_t)h->dict_num_values, used;
  size_t un = (size_t)h->uncompressed_size;
  int rc;
  if (cc->have_dict)
    return COL_ERR(err, s, cc, TARN_ECORRUPT, off, "a second dictionary page");
  if (h->dict_encoding != TARN_PQ_PLAIN && h->dict_encoding != TARN_PQ_PLAIN_DICTIONARY)
    return COL_ERR(err, s, cc, TARN_EUNSUPPORTED, off, "dictionary page encoding %s",
                   tarn_pq_encoding_name(h->dict_encoding));
  if (cc->c->type == TARN_PQ_BOOLEAN)
    return COL_ERR(err, s, cc, TARN_ECORRUPT, off, "a dictionary page for a BOOLEAN column");
  rc = page_bytes(s, cc, body, (size_t)h->compressed_size, un, 1, off, &p, err);
  if (rc != 0)
    return rc;
  /* Views point into the dictionary's bytes: keep a copy that outlives the page buffer. */
  cc->dict_buf = tarn_malloc(un ? un : 1);
  if (cc->dict_buf == NULL)
    return COL_ERR(err, s, cc, TARN_ENOMEM, off, "out of memory for the dictionary");
  if (un > 0)
    memcpy(cc->dict_buf, p, un);
  if (cc->w > 0) {
    if (n > un / (size_t)cc->w)
      return COL_ERR(err, s, cc, TARN_ECORRUPT, off,
                     "dictionary of %zu values does not fit in %zu bytes", n, un);
    /* One extra zeroed slot: null rows point at it (index n). */
    cc->dict_vals = tarn_calloc(n + 1, (size_t)cc->w);
    if (cc->dict_vals == NULL)
      return COL_ERR(err, s, cc, TARN_ENOMEM, off, "out of memory for the dictionary");
    if (n > 0)
      memcpy(cc->dict_vals, cc->dict_buf, n * (size_t)cc->w);
  } else {
    if (n > un / 4)
      return COL_ERR(err, s, cc, TARN_ECORRUPT, off,
                     "dictionary of %zu values does not fit in %zu bytes", n, un);
    cc->dict_views = tarn_malloc((n + 1) * sizeof(tarn__pq_view)); /* all n set below */
    if (cc->dict_views == NULL)
      return COL_ERR(err, s, cc, TARN_ENOMEM, off, "out of memory for the dictionary");
    cc->dict_views[n].p = NULL; /* slot n: empty, for nulls */
    cc->dict_views[n].len = 0;
    if (tarn__pq_plain_views(cc->dict_buf, un, cc->dict_views, n, &used) != 0)
      return COL_ERR(err, s, cc, TARN_ECORRUPT, off, "dictionary values run past the page");
  }
  cc->dict_n = n;
  cc->have_dict = 1;
  return 0;
}

/* Expands dense fixed-width values to one slot per row (zeros for nulls). */
static void expand_fixed(uint8_t *dst, const uint8_t *src, const uint8_t *defs, size_t rows,
                         size_t w) {
  size_t i, j = 0;
  if (w == 4) {
    for (i = 0; i < rows; i++) {
      if (defs[i]) {
        memcpy(dst + 4 * i, src + 4 * j, 4);
        j++;
      } else {
        memset(dst + 4 * i, 0, 4);
      }
    }
  } else if (w == 8) {
    for (i = 0; i < rows; i++) {
      if (defs[i]) {
        memcpy(dst + 8 * i, src + 8 * j, 8);
        j++;
      } else {
        memset(dst + 8 * i, 0, 8);
      }
    }
  } else {
    for (i = 0; i < rows; i++) {
      if (defs[i]) {
        memcpy(dst + w * i, src + w * j, w);
        j++;
      } else {
        memset(dst + w * i, 0, w);
      }
    }
  }
}

/* Failures of the value decoders below that decode_values words: they are negative, a
 * failure already worded is its (positive) tarn_code. */
enum { DEC_NOMEM = -1, DEC_SHORT = -2, DEC_BADENC = -3 };

static int dec_error(tarn_pq_scan *s, colcur *cc, tarn_pq_encoding enc, int64_t off, int why,
                     tarn_error *err) {
  if (why == DEC_NOMEM)
    return COL_ERR(err, s, cc, TARN_ENOMEM, off, "out of memory decoding a page");
  if (why == DEC_SHORT)
    return COL_ERR(err, s, cc, TARN_ECORRUPT, off, "%s values are malformed or truncated",
                   tarn_pq_encoding_name(enc));
  return COL_ERR(err, s, cc, TARN_EUNSUPPORTED, off, "encoding %s (%d) for a %s column",
                 tarn_pq_encoding_name(enc), (int)enc, tarn_pq_type_name(cc->c->type));
}

/* A page whose every row is null: whatever the encoding, there is nothing to decode. */
static int all_null(colcur *cc, size_t rows) {
  size_t w = (size_t)cc->w;
  if (w > 0) {
    if (tarn__pqs_grow((void **)&cc->vals, &cc->vals_cap, rows * w + 8, 1) != 0)
      return DEC_NOMEM;
    memset(cc->vals, 0, rows * w);
    cc->pv = cc->vals;
  } else {
    if (tarn__pqs_grow((void **)&cc->views, &cc->views_cap, rows + 1, sizeof(tarn__pq_view)) != 0)
      return DEC_NOMEM;
    memset(cc->views, 0, rows * sizeof(tarn__pq_view));
    cc->pviews = cc->views;
  }
  return 0;
}

/* Dictionary indexes, checked against the dictionary and kept: rows are gathered straight
 * into the batch when copied out. */
static int dict_indexes(tarn_pq_scan *s, colcur *cc, const uint8_t *vp, size_t vlen, size_t rows,
                        size_t nvals, int64_t off, tarn_error *err) {
  size_t dn = cc->dict_n, i;
  int bw;
  if (!cc->have_dict)
    return COL_ERR(err, s, cc, TARN_ECORRUPT, off, "dictionary-encoded page without a dictionary");
  if (vlen < 1)
    return DEC_SHORT;
  bw = vp[0];
  if (tarn__pqs_grow((void **)&cc->idx, &cc->idx_cap, nvals + 1, sizeof(uint32_t)) != 0)
    return DEC_NOMEM;
  if (bw > 32 || tarn__pq_rle_u32(vp + 1, vlen - 1, bw, cc->idx, nvals) != 0)
    return COL_ERR(err, s, cc, TARN_ECORRUPT, off, "dictionary indexes are malformed");
  for (i = 0; i < nvals; i++)
    if (cc->idx[i] >= dn)
      return COL_ERR(err, s, cc, TARN_ECORRUPT, off,
                     "dictionary index %u out of range (dictionary has %zu values)", cc->idx[i],
                     dn);
  if (nvals == rows) {
    cc->pidx = cc->idx;
  } else {
    size_t j = 0;
    uint32_t *x;
    if (tarn__pqs_grow((void **)&cc->xidx, &cc->xidx_cap, rows + 1, sizeof(uint32_t)) != 0)
      return DEC_NOMEM;
    x = cc->xidx;
    for (i = 0; i < rows; i++)
      x[i] = cc->defs[i] ? cc->idx[j++] : (uint32_t)dn;
    cc->pidx = x;
  }
  cc->pg_dict = 1;
  return 0;
}

/* DELTA_BYTE_ARRAY into *dv (byte arrays) or cc->dense (fixed-length byte arrays). */
static int delta_byte_array(tarn_pq_scan *s, colcur *cc, const uint8_t *vp, size_t vlen,
                            size_t nvals, int64_t off, const tarn__pq_view **dv,
                            const uint8_t **dense, tarn_error *err) {
  size_t w = (size_t)cc->w, i;
  tarn_pq_type ty = cc->c->type;
  tarn__pq_view *tv;
  int rc;
  if (ty != TARN_PQ_BYTE_ARRAY && ty != TARN_PQ_FIXED_LEN_BYTE_ARRAY)
    return DEC_BADENC;
  if (tarn__pqs_grow((void **)&cc->dviews, &cc->dviews_cap, nvals + 1, sizeof(tarn__pq_view)) != 0)
    return DEC_NOMEM;
  tv = cc->dviews;
  tarn_free(cc->dba);
  cc->dba = NULL;
  rc = tarn__pq_dba_views(vp, vlen, tv, nvals, &cc->dba, tarn__pq_limits_cur.max_page_bytes);
  if (rc == -3)
    return DEC_NOMEM;
  if (rc == -2)
    return COL_ERR(err, s, cc, TARN_ETOOBIG, off, "DELTA_BYTE_ARRAY values exceed %zu bytes",
                   tarn__pq_limits_cur.max_page_bytes);
  if (rc != 0)
    return DEC_SHORT;
  if (ty == TARN_PQ_BYTE_ARRAY) {
    *dv = tv;
    return 0;
  }
  for (i = 0; i < nvals; i++) {
    if (tv[i].len != w)
      return COL_ERR(err, s, cc, TARN_ECORRUPT, off,
                     "DELTA_BYTE_ARRAY value of %u bytes in a %zu-byte column", tv[i].len, w);
    memcpy(cc->dense + i * w, tv[i].p, w);
  }
  *dense = cc->dense;
  return 0;
}

/* The non-null values of every encoding but the dictionary's: fixed-width ones into
 * *dense (in place for PLAIN), byte arrays as views into *dv. */
static int decode_dense(tarn_pq_scan *s, colcur *cc, tarn_pq_encoding enc, const uint8_t *vp,
                        size_t vlen, size_t nvals, int64_t off, const uint8_t **dense,
                        const tarn__pq_view **dv, tarn_error *err) {
  size_t w = (size_t)cc->w, used, total;
  tarn_pq_type ty = cc->c->type;
  int rc;
  switch (enc) {
  case TARN_PQ_PLAIN:
    if (ty == TARN_PQ_BOOLEAN) {
      if (tarn__pq_plain_bool(vp, vlen, cc->dense, nvals) != 0)
        return DEC_SHORT;
      *dense = cc->dense;
    } else if (w > 0) {
      if (nvals > vlen / w)
        return DEC_SHORT;
      *dense = vp; /* in place: no copy */
    } else {
      if (tarn__pq_plain_views(vp, vlen, cc->dviews, nvals, &used) != 0)
        return DEC_SHORT;
      *dv = cc->dviews;
    }
    return 0;
  case TARN_PQ_RLE: {
    uint32_t len;
    if (ty != TARN_PQ_BOOLEAN)
      return DEC_BADENC;
    if (vlen < 4)
      return DEC_SHORT;
    memcpy(&len, vp, 4);
    /* Some writers (hyparquet-writer) store the value count here instead of the byte
     * length; the runs themselves say where they end, so clamp to the page. */
    if (len > vlen - 4)
      len = (uint32_t)(vlen - 4);
    if (tarn__pq_rle_u8(vp + 4, len, 1, cc->dense, nvals) != 0)
      return DEC_SHORT;
    *dense = cc->dense;
    return 0;
  }
  case TARN_PQ_DELTA_BINARY_PACKED:
    if (ty == TARN_PQ_INT32)
      rc = tarn__pq_delta_i32(vp, vlen, (int32_t *)(void *)cc->dense, nvals, &total, &used);
    else if (ty == TARN_PQ_INT64)
      rc = tarn__pq_delta_i64(vp, vlen, (int64_t *)(void *)cc->dense, nvals, &total, &used);
    else
      return DEC_BADENC;
    if (rc != 0)
      return DEC_SHORT;
    *dense = cc->dense;
    return 0;
  case TARN_PQ_DELTA_LENGTH_BYTE_ARRAY:
    if (ty != TARN_PQ_BYTE_ARRAY)
      return DEC_BADENC;
    rc = tarn__pq_dlba_views(vp, vlen, cc->dviews, nvals, &used);
    if (rc == -3)
      return DEC_NOMEM;
    if (rc != 0)
      return DEC_SHORT;
    *dv = cc->dviews;
    return 0;
  case TARN_PQ_DELTA_BYTE_ARRAY:
    return delta_byte_array(s, cc, vp, vlen, nvals, off, dv, dense, err);
  case TARN_PQ_BYTE_STREAM_SPLIT:
    if (w == 0 || ty == TARN_PQ_BOOLEAN || ty == TARN_PQ_INT96)
      return DEC_BADENC;
    if (tarn__pq_bss(vp, vlen, w, cc->dense, nvals) != 0)
      return DEC_SHORT;
    *dense = cc->dense;
    return 0;
  default: return DEC_BADENC;
  }
}

/* Places the dense values at their rows (nulls in between) for the copy into batches. */
static int spread_rows(colcur *cc, size_t rows, size_t nvals, const uint8_t *dense,
                       const tarn__pq_view *dv) {
  size_t w = (size_t)cc->w, i, j = 0;
  if (w > 0) {
    if (nvals == rows) {
      cc->pv = dense;
      return 0;
    }
    if (tarn__pqs_grow((void **)&cc->vals, &cc->vals_cap, rows * w + 8, 1) != 0)
      return DEC_NOMEM;
    expand_fixed(cc->vals, dense, cc->defs, rows, w);
    cc->pv = cc->vals;
    return 0;
  }
  if (nvals == rows) {
    cc->pviews = dv;
    return 0;
  }
  if (tarn__pqs_grow((void **)&cc->views, &cc->views_cap, rows + 1, sizeof(tarn__pq_view)) != 0)
    return DEC_NOMEM;
  for (i = 0; i < rows; i++) {
    if (cc->defs[i]) {
      cc->views[i] = dv[j++];
    } else {
      cc->views[i].p = NULL;
      cc->views[i].len = 0;
    }
  }
  cc->pviews = cc->views;
  return 0;
}

/* Decodes the values region of a data page (nvals non-null values for `rows` rows). */
static int decode_values(tarn_pq_scan *s, colcur *cc, tarn_pq_encoding enc, const uint8_t *vp,
                         size_t vlen, size_t rows, size_t nvals, int64_t off, tarn_error *err) {
  size_t w = (size_t)cc->w;
  const uint8_t *dense = NULL;    /* fixed-width dense values */
  const tarn__pq_view *dv = NULL; /* byte-array dense values */
  int rc;

  cc->pg_dict = 0;
  if (nvals == 0)
    rc = all_null(cc, rows);
  else if (w > 0 && tarn__pqs_grow((void **)&cc->dense, &cc->dense_cap, nvals * w + 8, 1) != 0)
    rc = DEC_NOMEM;
  else if (w == 0 && tarn__pqs_grow((void **)&cc->dviews, &cc->dviews_cap, nvals + 1,
                                    sizeof(tarn__pq_view)) != 0)
    rc = DEC_NOMEM;
  else if (enc == TARN_PQ_PLAIN_DICTIONARY || enc == TARN_PQ_RLE_DICTIONARY)
    rc = dict_indexes(s, cc, vp, vlen, rows, nvals, off, err);
  else if ((rc = decode_dense(s, cc, enc, vp, vlen, nvals, off, &dense, &dv, err)) == 0)
    rc = spread_rows(cc, rows, nvals, dense, dv);
  return rc < 0 ? dec_error(s, cc, enc, off, rc, err) : rc;
}

static int decode_data_page(tarn_pq_scan *s, colcur *cc, const tarn__pq_page_header *h,
                            const uint8_t *body, int64_t off, tarn_error *err) {
  size_t rows = (size_t)h->num_values, nvals = rows, i;
  const uint8_t *vp;
  size_t vlen;
  int rc;
  if ((int64_t)rows > tarn__pq_limits_cur.max_page_values)
    return COL_ERR(err, s, cc, TARN_ETOOBIG, off, "page declares %zu values, over the cap", rows);
  /* Rows are expanded to w bytes each: wide FLBA columns bound how many a page may hold. */
  if (cc->w > 0 && rows > 4 * (tarn__pq_limits_cur.max_page_bytes / (size_t)cc->w))
    return COL_ERR(err, s, cc, TARN_ETOOBIG, off, "page of %zu values of %d bytes exceeds the cap",
                   rows, cc->w);
  if (cc->c->optional && tarn__pqs_grow((void **)&cc->defs, &cc->defs_cap, rows + 1, 1) != 0)
    return COL_ERR(err, s, cc, TARN_ENOMEM, off, "out of memory decoding a page");
  if (h->type == TARN__PQ_DATA_PAGE) {
    const uint8_t *p;
    size_t un = (size_t)h->uncompressed_size, pos = 0;
    rc = page_bytes(s, cc, body, (size_t)h->compressed_size, un, 1, off, &p, err);
    if (rc != 0)
      return rc;
    if (cc->c->optional) {
      if (h->def_encoding == TARN_PQ_RLE) {
        uint32_t len;
        if (un < 4)
          return COL_ERR(err, s, cc, TARN_ECORRUPT, off, "definition levels are truncated");
        memcpy(&len, p, 4);
        if (len > un - 4 || tarn__pq_rle_u8(p + 4, len, 1, cc->defs, rows) != 0)
          return COL_ERR(err, s, cc, TARN_ECORRUPT, off, "definition levels are malformed");
        pos = 4 + (size_t)len;
      } else if (h->def_encoding == TARN_PQ_BIT_PACKED) {
        size_t used;
        if (tarn__pq_bitpacked_u8(p, un, 1, cc->defs, rows, &used) != 0)
          return COL_ERR(err, s, cc, TARN_ECORRUPT, off, "definition levels are truncated");
        pos = used;
      } else {
        return COL_ERR(err, s, cc, TARN_EUNSUPPORTED, off, "definition level encoding %s",
                       tarn_pq_encoding_name(h->def_encoding));
      }
    }
    vp = p + pos;
    vlen = un - pos;
  } else {
    size_t lv = (size_t)h->rep_levels_len + (size_t)h->def_levels_len;
    size_t clen = (size_t)h->compressed_size, un = (size_t)h->uncompressed_size;
    if ((size_t)h->num_rows != rows)
      return COL_ERR(err, s, cc, TARN_ECORRUPT, off,
                     "page has %zu values but %d rows in a flat column", rows, (int)h->num_rows);
    if (lv > clen || lv > un)
      return COL_ERR(err, s, cc, TARN_ECORRUPT, off, "level lengths exceed the page");
    if (cc->c->optional) {
      const uint8_t *d = body + h->rep_levels_len;
      if (h->def_levels_len == 0) {
        if (h->num_nulls != 0)
          return COL_ERR(err, s, cc, TARN_ECORRUPT, off, "nulls without definition levels");
        memset(cc->defs, 1, rows);
      } else if (tarn__pq_rle_u8(d, (size_t)h->def_levels_len, 1, cc->defs, rows) != 0) {
        return COL_ERR(err, s, cc, TARN_ECORRUPT, off, "definition levels are malformed");
      }
    }
    rc = page_bytes(s, cc, body + lv, clen - lv, un - lv, h->is_compressed, off, &vp, err);
    if (rc != 0)
      return rc;
    vlen = un - lv;
  }
  cc->pg_nulls = 0;
  if (cc->c->optional) {
    size_t present = 0;
    for (i = 0; i + 8 <= rows; i += 8) { /* levels are 0 or 1: count eight at a time */
      uint64_t w8;
      memcpy(&w8, cc->defs + i, 8);
      present += (size_t)__builtin_popcountll(w8);
    }
    for (; i < rows; i++)
      present += cc->defs[i];
    nvals = present;
    cc->pg_nulls = (int64_t)(rows - present);
  }
  return decode_values(s, cc, h->encoding, vp, vlen, rows, nvals, off, err);
}

/* With an offset index: decode the dictionary pages that precede the first data page. */

/* Makes the cursor's current page the one holding `row`. Rows only move forward. */
int tarn__pqs_cur_seek(tarn_pq_scan *s, colcur *cc, int64_t row, tarn_error *err) {
  int rc;
  if (cc->pg_loaded && row >= cc->pg_first && row < cc->pg_first + cc->pg_rows)
    return 0;
  if (cc->have_oi) {
    size_t lo = 0, hi = cc->oi.npages;
    if (!cc->dict_scanned) {
      rc = tarn__pqs_scan_dictionary(s, cc, err);
      if (rc != 0)
        return rc;
    }
    while (hi - lo > 1) { /* last page whose first row <= row */
      size_t mid = lo + (hi - lo) / 2;
      if (cc->oi.pages[mid].first_row_index <= row)
        lo = mid;
      else
        hi = mid;
    }
    if (cc->oi.npages > 0 && cc->oi.pages[lo].first_row_index > cc->next_row) {
      cc->pos = (size_t)(cc->oi.pages[lo].offset - cc->chunk_off);
      cc->next_row = cc->oi.pages[lo].first_row_index;
    }
  }
  for (;;) {
    tarn__pq_page_header h;
    size_t used, body, end;
    int64_t off = cc->chunk_off + (int64_t)cc->pos, rows;
    if (cc->pos >= cc->chunk.len)
      return COL_ERR(err, s, cc, TARN_ECORRUPT, off, "the chunk ends at row %lld of %lld",
                     (long long)cc->next_row, (long long)cc->rg_rows);
    rc = tarn__pq_decode_page_header((const uint8_t *)cc->chunk.data + cc->pos,
                                     cc->chunk.len - cc->pos, off, s->r->name, &h, &used, err);
    if (rc != 0)
      return rc;
    body = cc->pos + used;
    if ((size_t)h.compressed_size > cc->chunk.len - body)
      return COL_ERR(err, s, cc, TARN_ECORRUPT, off,
                     "page of %d bytes runs past the end of the chunk", (int)h.compressed_size);
    end = body + (size_t)h.compressed_size;
    if (h.has_crc && (h.type == TARN__PQ_DICTIONARY_PAGE || h.type == TARN__PQ_DATA_PAGE ||
                      h.type == TARN__PQ_DATA_PAGE_V2)) {
      /* CRC-32 of the page's bytes as stored (after the header), when the writer gave one. */
      uLong crc = crc32(0L, (const Bytef *)cc->chunk.data + body, (uInt)h.compressed_size);
      if ((uint32_t)crc != h.crc)
        return COL_ERR(err, s, cc, TARN_ECORRUPT, off,
                       "page checksum mismatch (CRC-32 %08x, "
                       "header says %08x)",
                       (unsigned)crc, (unsigned)h.crc);
    }
    if (h.type == TARN__PQ_DICTIONARY_PAGE) {
      rc = decode_dictionary(s, cc, &h, (const uint8_t *)cc->chunk.data + body, off, err);
      if (rc != 0)
        return rc;
      cc->pos = end;
      continue;
    }
    if (h.type != TARN__PQ_DATA_PAGE && h.type != TARN__PQ_DATA_PAGE_V2) {
      cc->pos = end; /* index pages and unknown page types */
      continue;
    }
    rows = h.num_values;
    cc->pages_seen++;
    if (rows == 0 || cc->next_row + rows <= row) {
      cc->next_row += rows; /* a page before the rows we want: skipped, not decoded */
      cc->pos = end;
      continue;
    }
    rc = decode_data_page(s, cc, &h, (const uint8_t *)cc->chunk.data + body, off, err);
    if (rc != 0) {
      cc->pg_loaded = 0;
      return rc;
    }
    cc->pages_decoded++;
    cc->pg_loaded = 1;
    cc->pg_first = cc->next_row;
    cc->pg_rows = rows;
    cc->next_row += rows;
    cc->pos = end;
    if (row < cc->pg_first)
      return COL_ERR(err, s, cc, TARN_ECORRUPT, off, "the offset index skips row %lld",
                     (long long)row);
    return 0;
  }
}

int tarn__pqs_scan_dictionary(tarn_pq_scan *s, colcur *cc, tarn_error *err) {
  size_t first = cc->oi.npages > 0 ? (size_t)(cc->oi.pages[0].offset - cc->chunk_off) : 0;
  cc->dict_scanned = 1;
  while (cc->pos < first) {
    tarn__pq_page_header h;
    size_t used, body;
    int64_t off = cc->chunk_off + (int64_t)cc->pos;
    int rc = tarn__pq_decode_page_header((const uint8_t *)cc->chunk.data + cc->pos, first - cc->pos,
                                         off, s->r->name, &h, &used, err);
    if (rc != 0)
      return rc;
    body = cc->pos + used;
    if ((size_t)h.compressed_size > first - body)
      return COL_ERR(err, s, cc, TARN_ECORRUPT, off,
                     "dictionary page overlaps the first data page");
    if (h.type == TARN__PQ_DICTIONARY_PAGE) {
      rc = decode_dictionary(s, cc, &h, (const uint8_t *)cc->chunk.data + body, off, err);
      if (rc != 0)
        return rc;
    }
    cc->pos = body + (size_t)h.compressed_size;
  }
  return 0;
}

/* Packs eight 0/1 bytes into one byte, byte j into bit j (no carries: the products of
 * distinct byte/term pairs land on distinct bits). */
