/* pq_scan.c - scans a Parquet file into Arrow-layout batches: projection, row group and page
 * pruning (statistics, bloom filters, page index), page decoding and row alignment. */
#include "pq_read_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "base/alloc.h"

typedef struct rrange {
  int64_t start, end; /* rows [start, end) of the row group */
} rrange;

typedef struct rranges {
  rrange *r;
  size_t n, cap;
} rranges;

/* One projected column's reading state within the current row group. */
typedef struct colcur {
  size_t col;
  const tarn_pq_column *c;
  const tarn_pq_chunk_meta *cm;
  int w;                  /* bytes per value as held in a page; 0 for BYTE_ARRAY */
  int64_t rg_rows;
  tarn_buf chunk;         /* the chunk bytes that were read */
  int64_t chunk_off;      /* file offset of chunk.data[0] */
  size_t pos;             /* next page header within chunk */
  int64_t next_row;       /* first row of the page at pos */
  tarn__pq_offset_index oi;
  int have_oi, dict_scanned;
  /* dictionary */
  uint8_t *dict_buf;
  uint8_t *dict_vals;
  tarn__pq_view *dict_views;
  size_t dict_n;
  int have_dict;
  /* current page, expanded to one slot per row */
  int pg_loaded;
  int64_t pg_first, pg_rows, pg_nulls;
  int pg_dict;            /* values are dictionary indexes: pidx[row] (null rows: dict_n) */
  const uint32_t *pidx;
  uint32_t *xidx;         /* indexes expanded to one per row when the page has nulls */
  size_t xidx_cap;
  const uint8_t *pv;      /* fixed-width values (w bytes per row, null slots zero) */
  const tarn__pq_view *pviews;
  uint8_t *defs;          /* 1 = present, per row (valid when pg_nulls > 0) */
  size_t defs_cap;
  uint8_t *page_buf;
  size_t page_cap;
  uint8_t *vals;
  size_t vals_cap;
  uint8_t *dense;
  size_t dense_cap;
  tarn__pq_view *views;
  size_t views_cap;
  tarn__pq_view *dviews;
  size_t dviews_cap;
  uint32_t *idx;
  size_t idx_cap;
  uint8_t *dba;
  int64_t pages_seen, pages_decoded;
} colcur;

/*
 * The scan's filter: the options' flat predicates and filter tree, copied into one tree
 * whose root is an AND. Each leaf owns its literal's bytes. Index structures a leaf needs
 * (column and offset index, bloom filter) are read once per row group and column and
 * kept in `cache`, so an IN list of many values reads each of them once.
 */
typedef struct fnode {
  tarn_pq_filter_kind kind;
  tarn_pq_predicate p;
  uint8_t *lit;
  struct fnode *kids;
  size_t nkids;
} fnode;

typedef struct pcache {
  size_t col;
  size_t rg_plus1;       /* row group + 1 the entries below belong to; 0 = none */
  int idx_state;         /* 0 not read, 1 read, -1 absent */
  tarn__pq_column_index ci;
  tarn__pq_offset_index oi;
  int bloom_state;       /* 0 not read, 1 read, -1 absent or unsupported */
  tarn_buf bloom;
} pcache;

struct tarn_pq_scan {
  tarn_pq_reader *r;
  const tarn_pq_file_meta *m;
  size_t *proj;
  size_t nproj;
  fnode root;             /* the filter: an AND of the options' preds and filter */
  pcache *cache;          /* one per column the filter names */
  size_t ncache;
  int64_t batch_rows;
  size_t rg_next, rg_end;
  /* current row group */
  int in_rg;
  size_t rg;
  rranges ranges;
  size_t range_i;
  int64_t row;            /* next row to return within ranges[range_i] */
  colcur *cur;            /* nproj cursors */
  tarn_buf tmp;
  tarn__pq_codec_ctx codec; /* decompression state kept across pages */
  tarn_pq_scan_stats stats;
  /* buffers of batches given back by tarn_pq_scan_recycle, one set per projected column,
   * and the last such batch's shell (its struct and column array) */
  struct spare {
    void *values;
    size_t values_cap;
    uint8_t *validity;
    size_t validity_cap;
    int64_t *offsets;
    size_t offsets_cap;
    uint8_t *data;
    size_t data_cap;
  } *spare;
  tarn_pq_batch *spare_batch;
};

/* ---- errors ---- */

#define COL_ERR(err, s, cc, code, off, ...)                                                    \
  col_error((err), (s)->r->name, (cc)->c->name, (s)->rg, (code), (off), __VA_ARGS__)

static int col_error(tarn_error *err, const char *file, const char *col, size_t rg,
                              int code, int64_t off, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
static int col_error(tarn_error *err, const char *file, const char *col, size_t rg,
                              int code, int64_t off, const char *fmt, ...) {
  char msg[320];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  return tarn_error_set(err, code, "%s: offset %lld: row group %zu, column \"%s\": %s", file,
                        (long long)off, rg, col, msg);
}

/* ---- helpers ---- */

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
  void *np;
  if (need <= *cap)
    return 0;
  if (need < 64)
    need = 64;
  np = tarn_reallocarray(*p, need, elem);
  if (np == NULL)
    return -1;
  *p = np;
  *cap = need;
  return 0;
}


static int ranges_push(rranges *rr, int64_t a, int64_t b) {
  if (a >= b)
    return 0;
  if (rr->n > 0 && rr->r[rr->n - 1].end >= a) { /* merge touching ranges */
    if (b > rr->r[rr->n - 1].end)
      rr->r[rr->n - 1].end = b;
    return 0;
  }
  if (grow((void **)&rr->r, &rr->cap, rr->n + 1 > rr->cap ? rr->cap * 2 + 4 : rr->cap,
           sizeof(rrange)) != 0)
    return -1;
  rr->r[rr->n].start = a;
  rr->r[rr->n].end = b;
  rr->n++;
  return 0;
}

/* out = a ∩ b (both sorted, disjoint). */
static int ranges_intersect(const rranges *a, const rranges *b, rranges *out) {
  size_t i = 0, j = 0;
  out->n = 0;
  while (i < a->n && j < b->n) {
    int64_t lo = a->r[i].start > b->r[j].start ? a->r[i].start : b->r[j].start;
    int64_t hi = a->r[i].end < b->r[j].end ? a->r[i].end : b->r[j].end;
    if (lo < hi && ranges_push(out, lo, hi) != 0)
      return -1;
    if (a->r[i].end < b->r[j].end)
      i++;
    else
      j++;
  }
  return 0;
}

/* ---- cursors: pages ---- */

static void cur_free(colcur *cc) {
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
static void cur_reset(colcur *cc) {
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
  if (grow((void **)&cc->page_buf, &cc->page_cap, un, 1) != 0)
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
    cc->dict_views = tarn_calloc(n + 1, sizeof(tarn__pq_view)); /* slot n: empty, for nulls */
    if (cc->dict_views == NULL)
      return COL_ERR(err, s, cc, TARN_ENOMEM, off, "out of memory for the dictionary");
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

/* Decodes the values region of a data page (nvals non-null values for `rows` rows). */
static int decode_values(tarn_pq_scan *s, colcur *cc, tarn_pq_encoding enc, const uint8_t *vp,
                         size_t vlen, size_t rows, size_t nvals, int64_t off, tarn_error *err) {
  size_t w = (size_t)cc->w, used, total, i;
  int nulls = nvals < rows;
  const uint8_t *dense = NULL;              /* fixed-width dense values */
  const tarn__pq_view *dv = NULL;           /* byte-array dense values */
  tarn_pq_type ty = cc->c->type;
  int rc;

  cc->pg_dict = 0;
  if (nvals == 0) { /* every row null: whatever the encoding, there is nothing to decode */
    if (w > 0) {
      if (grow((void **)&cc->vals, &cc->vals_cap, rows * w + 8, 1) != 0)
        goto nomem;
      memset(cc->vals, 0, rows * w);
      cc->pv = cc->vals;
    } else {
      if (grow((void **)&cc->views, &cc->views_cap, rows + 1, sizeof(tarn__pq_view)) != 0)
        goto nomem;
      memset(cc->views, 0, rows * sizeof(tarn__pq_view));
      cc->pviews = cc->views;
    }
    return 0;
  }
  if (w > 0 && grow((void **)&cc->dense, &cc->dense_cap, nvals * w + 8, 1) != 0)
    goto nomem;
  if (w == 0 && grow((void **)&cc->dviews, &cc->dviews_cap, nvals + 1, sizeof(tarn__pq_view)) != 0)
    goto nomem;

  switch (enc) {
  case TARN_PQ_PLAIN:
    if (ty == TARN_PQ_BOOLEAN) {
      if (tarn__pq_plain_bool(vp, vlen, cc->dense, nvals) != 0)
        goto short_data;
      dense = cc->dense;
    } else if (w > 0) {
      if (nvals > vlen / w)
        goto short_data;
      dense = vp; /* in place: no copy */
    } else {
      if (tarn__pq_plain_views(vp, vlen, cc->dviews, nvals, &used) != 0)
        goto short_data;
      dv = cc->dviews;
    }
    break;
  case TARN_PQ_RLE: {
    uint32_t len;
    if (ty != TARN_PQ_BOOLEAN)
      goto bad_enc;
    if (vlen < 4)
      goto short_data;
    memcpy(&len, vp, 4);
    /* Some writers (hyparquet-writer) store the value count here instead of the byte
     * length; the runs themselves say where they end, so clamp to the page. */
    if (len > vlen - 4)
      len = (uint32_t)(vlen - 4);
    if (tarn__pq_rle_u8(vp + 4, len, 1, cc->dense, nvals) != 0)
      goto short_data;
    dense = cc->dense;
    break;
  }
  case TARN_PQ_PLAIN_DICTIONARY:
  case TARN_PQ_RLE_DICTIONARY: {
    int bw;
    size_t dn = cc->dict_n;
    if (!cc->have_dict)
      return COL_ERR(err, s, cc, TARN_ECORRUPT, off, "dictionary-encoded page without a dictionary");
    if (vlen < 1)
      goto short_data;
    bw = vp[0];
    if (grow((void **)&cc->idx, &cc->idx_cap, nvals + 1, sizeof(uint32_t)) != 0)
      goto nomem;
    if (bw > 32 || tarn__pq_rle_u32(vp + 1, vlen - 1, bw, cc->idx, nvals) != 0)
      return COL_ERR(err, s, cc, TARN_ECORRUPT, off, "dictionary indexes are malformed");
    for (i = 0; i < nvals; i++)
      if (cc->idx[i] >= dn)
        return COL_ERR(err, s, cc, TARN_ECORRUPT, off,
                       "dictionary index %u out of range (dictionary has %zu values)",
                       cc->idx[i], dn);
    /* Keep the indexes; rows are gathered straight into the batch when copied out. */
    if (!nulls) {
      cc->pidx = cc->idx;
    } else {
      size_t j = 0;
      uint32_t *x;
      if (grow((void **)&cc->xidx, &cc->xidx_cap, rows + 1, sizeof(uint32_t)) != 0)
        goto nomem;
      x = cc->xidx;
      for (i = 0; i < rows; i++)
        x[i] = cc->defs[i] ? cc->idx[j++] : (uint32_t)dn;
      cc->pidx = x;
    }
    cc->pg_dict = 1;
    return 0;
  }
  case TARN_PQ_DELTA_BINARY_PACKED:
    if (ty == TARN_PQ_INT32) {
      if (tarn__pq_delta_i32(vp, vlen, (int32_t *)(void *)cc->dense, nvals, &total, &used) != 0)
        goto short_data;
    } else if (ty == TARN_PQ_INT64) {
      if (tarn__pq_delta_i64(vp, vlen, (int64_t *)(void *)cc->dense, nvals, &total, &used) != 0)
        goto short_data;
    } else {
      goto bad_enc;
    }
    dense = cc->dense;
    break;
  case TARN_PQ_DELTA_LENGTH_BYTE_ARRAY:
    if (ty != TARN_PQ_BYTE_ARRAY)
      goto bad_enc;
    rc = tarn__pq_dlba_views(vp, vlen, cc->dviews, nvals, &used);
    if (rc == -3)
      goto nomem;
    if (rc != 0)
      goto short_data;
    dv = cc->dviews;
    break;
  case TARN_PQ_DELTA_BYTE_ARRAY: {
    tarn__pq_view *tv;
    if (ty != TARN_PQ_BYTE_ARRAY && ty != TARN_PQ_FIXED_LEN_BYTE_ARRAY)
      goto bad_enc;
    if (grow((void **)&cc->dviews, &cc->dviews_cap, nvals + 1, sizeof(tarn__pq_view)) != 0)
      goto nomem;
    tv = cc->dviews;
    tarn_free(cc->dba);
    cc->dba = NULL;
    rc = tarn__pq_dba_views(vp, vlen, tv, nvals, &cc->dba, tarn__pq_limits_cur.max_page_bytes);
    if (rc == -3)
      goto nomem;
    if (rc == -2)
      return COL_ERR(err, s, cc, TARN_ETOOBIG, off, "DELTA_BYTE_ARRAY values exceed %zu bytes",
                     tarn__pq_limits_cur.max_page_bytes);
    if (rc != 0)
      goto short_data;
    if (ty == TARN_PQ_BYTE_ARRAY) {
      dv = tv;
    } else {
      for (i = 0; i < nvals; i++) {
        if (tv[i].len != w)
          return COL_ERR(err, s, cc, TARN_ECORRUPT, off,
                         "DELTA_BYTE_ARRAY value of %u bytes in a %zu-byte column", tv[i].len, w);
        memcpy(cc->dense + i * w, tv[i].p, w);
      }
      dense = cc->dense;
    }
    break;
  }
  case TARN_PQ_BYTE_STREAM_SPLIT:
    if (w == 0 || ty == TARN_PQ_BOOLEAN || ty == TARN_PQ_INT96)
      goto bad_enc;
    if (tarn__pq_bss(vp, vlen, w, cc->dense, nvals) != 0)
      goto short_data;
    dense = cc->dense;
    break;
  default:
    goto bad_enc;
  }

  if (w > 0) {
    if (!nulls) {
      cc->pv = dense;
    } else {
      if (grow((void **)&cc->vals, &cc->vals_cap, rows * w + 8, 1) != 0)
        goto nomem;
      expand_fixed(cc->vals, dense, cc->defs, rows, w);
      cc->pv = cc->vals;
    }
  } else if (!nulls) {
    cc->pviews = dv;
  } else {
    size_t j = 0;
    if (grow((void **)&cc->views, &cc->views_cap, rows + 1, sizeof(tarn__pq_view)) != 0)
      goto nomem;
    for (i = 0; i < rows; i++) {
      if (cc->defs[i]) {
        cc->views[i] = dv[j++];
      } else {
        cc->views[i].p = NULL;
        cc->views[i].len = 0;
      }
    }
    cc->pviews = cc->views;
  }
  return 0;
nomem:
  return COL_ERR(err, s, cc, TARN_ENOMEM, off, "out of memory decoding a page");
short_data:
  return COL_ERR(err, s, cc, TARN_ECORRUPT, off, "%s values are malformed or truncated",
                 tarn_pq_encoding_name(enc));
bad_enc:
  return COL_ERR(err, s, cc, TARN_EUNSUPPORTED, off, "encoding %s (%d) for a %s column",
                 tarn_pq_encoding_name(enc), (int)enc, tarn_pq_type_name(ty));
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
  if (cc->c->optional && grow((void **)&cc->defs, &cc->defs_cap, rows + 1, 1) != 0)
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
static int scan_dictionary(tarn_pq_scan *s, colcur *cc, tarn_error *err);

/* Makes the cursor's current page the one holding `row`. Rows only move forward. */
static int cur_seek(tarn_pq_scan *s, colcur *cc, int64_t row, tarn_error *err) {
  int rc;
  if (cc->pg_loaded && row >= cc->pg_first && row < cc->pg_first + cc->pg_rows)
    return 0;
  if (cc->have_oi) {
    size_t lo = 0, hi = cc->oi.npages;
    if (!cc->dict_scanned) {
      rc = scan_dictionary(s, cc, err);
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
      return COL_ERR(err, s, cc, TARN_ECORRUPT, off,
                     "the chunk ends at row %lld of %lld", (long long)cc->next_row,
                     (long long)cc->rg_rows);
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
        return COL_ERR(err, s, cc, TARN_ECORRUPT, off, "page checksum mismatch (CRC-32 %08x, "
                       "header says %08x)", (unsigned)crc, (unsigned)h.crc);
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

static int scan_dictionary(tarn_pq_scan *s, colcur *cc, tarn_error *err) {
  size_t first = cc->oi.npages > 0 ? (size_t)(cc->oi.pages[0].offset - cc->chunk_off) : 0;
  cc->dict_scanned = 1;
  while (cc->pos < first) {
    tarn__pq_page_header h;
    size_t used, body;
    int64_t off = cc->chunk_off + (int64_t)cc->pos;
    int rc = tarn__pq_decode_page_header((const uint8_t *)cc->chunk.data + cc->pos,
                                         first - cc->pos, off, s->r->name, &h, &used, err);
    if (rc != 0)
      return rc;
    body = cc->pos + used;
    if ((size_t)h.compressed_size > first - body)
      return COL_ERR(err, s, cc, TARN_ECORRUPT, off, "dictionary page overlaps the first data page");
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
static inline uint8_t pack8(const uint8_t *p) {
  uint64_t w;
  memcpy(&w, p, 8);
  return (uint8_t)((w * 0x0102040810204080ull) >> 56);
}

/* Sets bit at+k of bits for every k < n with v[k] != 0 (v holds 0/1; bits start zeroed). */
static void set_bits(uint8_t *bits, const uint8_t *v, int64_t at, int64_t n) {
  int64_t k = 0;
  for (; k + 8 <= n; k += 8) {
    uint8_t b = pack8(v + k);
    int64_t bp = at + k;
    unsigned sh = (unsigned)(bp & 7);
    bits[bp >> 3] |= (uint8_t)(b << sh);
    if (sh != 0 && b != 0)
      bits[(bp >> 3) + 1] |= (uint8_t)(b >> (8 - sh));
  }
  for (; k < n; k++)
    if (v[k])
      bits[(at + k) >> 3] |= (uint8_t)(1u << ((at + k) & 7));
}

/* Clears validity bits (set beforehand) of rows whose level is 0; counts them. */
static void null_bits(tarn_pq_array *a, const uint8_t *defs, int64_t at, int64_t n) {
  uint8_t *bits = a->validity;
  int64_t k = 0, nulls = 0;
  for (; k + 8 <= n; k += 8) {
    uint8_t z = (uint8_t)~pack8(defs + k); /* 1 where null */
    if (z != 0) {
      int64_t bp = at + k;
      unsigned sh = (unsigned)(bp & 7);
      bits[bp >> 3] &= (uint8_t) ~(z << sh);
      if (sh != 0)
        bits[(bp >> 3) + 1] &= (uint8_t) ~(z >> (8 - sh));
      nulls += __builtin_popcount(z);
    }
  }
  for (; k < n; k++) {
    if (!defs[k]) {
      bits[(at + k) >> 3] &= (uint8_t) ~(1u << ((at + k) & 7));
      nulls++;
    }
  }
  a->null_count += nulls;
}

/* Appends rows [row, row + n) of the cursor to array a at index `at`. */
/* A recycled buffer of at least `need` bytes when there is one (it leaves the spare
 * slot), else a new one; NULL when out of memory. */
static void *spare_take(void **slot, size_t *cap, size_t need) {
  void *p = *slot;
  *slot = NULL;
  if (p != NULL && *cap >= need)
    return p;
  tarn_free(p);
  return tarn_malloc(need);
}

/* Puts buffer p of cap bytes in a spare slot (freeing what was there). */
static void spare_give(void **slot, size_t *cap, void *p, size_t pcap) {
  tarn_free(*slot);
  *slot = p;
  *cap = p != NULL ? pcap : 0;
}

static int cur_read(tarn_pq_scan *s, colcur *cc, int64_t row, int64_t n, tarn_pq_array *a,
                    int64_t at, int64_t cap_rows, size_t *data_cap, tarn_error *err) {
  while (n > 0) {
    int64_t k, take, pr;
    int rc = cur_seek(s, cc, row, err);
    if (rc != 0)
      return rc;
    pr = row - cc->pg_first;
    take = cc->pg_first + cc->pg_rows - row;
    if (take > n)
      take = n;
    /* A validity bitmap only when these rows hold a null (Arrow: NULL means none). */
    if (cc->pg_nulls > 0 && memchr(cc->defs + pr, 0, (size_t)take) != NULL) {
      if (a->validity == NULL) {
        size_t nb = (size_t)(cap_rows + 7) / 8;
        struct spare *sp = s->spare != NULL ? &s->spare[cc - s->cur] : NULL;
        a->validity = sp != NULL ? spare_take((void **)&sp->validity, &sp->validity_cap, nb ? nb : 1)
                                 : tarn_malloc(nb ? nb : 1);
        if (a->validity == NULL)
          return COL_ERR(err, s, cc, TARN_ENOMEM, cc->chunk_off, "out of memory for a batch");
        memset(a->validity, 0xff, nb);
      }
      null_bits(a, cc->defs + pr, at, take);
    }
    if (cc->pg_dict && cc->w > 0) {
      const uint32_t *ix = cc->pidx + pr;
      uint8_t *dst = (uint8_t *)a->values + (size_t)at * (size_t)cc->w;
      if (cc->w == 4) {
        const uint32_t *d = (const uint32_t *)(const void *)cc->dict_vals;
        uint32_t *o = (uint32_t *)(void *)dst;
        for (k = 0; k < take; k++)
          o[k] = d[ix[k]];
      } else if (cc->w == 8) {
        const uint64_t *d = (const uint64_t *)(const void *)cc->dict_vals;
        uint64_t *o = (uint64_t *)(void *)dst;
        for (k = 0; k < take; k++)
          o[k] = d[ix[k]];
      } else {
        size_t w = (size_t)cc->w;
        for (k = 0; k < take; k++)
          memcpy(dst + (size_t)k * w, cc->dict_vals + (size_t)ix[k] * w, w);
      }
    } else if (cc->c->type == TARN_PQ_BOOLEAN) {
      set_bits(a->values, cc->pv + pr, at, take);
    } else if (cc->w > 0) {
      memcpy((uint8_t *)a->values + (size_t)at * (size_t)cc->w, cc->pv + (size_t)pr * (size_t)cc->w,
             (size_t)take * (size_t)cc->w);
    } else {
      const tarn__pq_view *v = cc->pg_dict ? NULL : cc->pviews + pr;
      const tarn__pq_view *dv = cc->dict_views;
      const uint32_t *ix = cc->pg_dict ? cc->pidx + pr : NULL;
      int64_t *offs = a->offsets;
      size_t need = 0, len = (size_t)offs[at];
      if (ix != NULL)
        for (k = 0; k < take; k++)
          need += dv[ix[k]].len;
      else
        for (k = 0; k < take; k++)
          need += v[k].len;
      if (need > tarn__pq_limits_cur.max_batch_bytes - len)
        return COL_ERR(err, s, cc, TARN_ETOOBIG, cc->chunk_off,
                       "one batch would hold over %zu bytes; use a smaller batch size",
                       tarn__pq_limits_cur.max_batch_bytes);
      if (len + need > *data_cap) {
        size_t nc = *data_cap ? *data_cap : 1024;
        uint8_t *nd;
        while (nc < len + need)
          nc = nc > SIZE_MAX / 2 ? len + need : nc * 2;
        nd = tarn_realloc(a->data, nc);
        if (nd == NULL)
          return COL_ERR(err, s, cc, TARN_ENOMEM, cc->chunk_off, "out of memory for a batch");
        a->data = nd;
        *data_cap = nc;
      }
      if (ix != NULL) {
        for (k = 0; k < take; k++) {
          const tarn__pq_view *e = &dv[ix[k]];
          if (e->len > 0)
            memcpy(a->data + len, e->p, e->len);
          len += e->len;
          offs[at + k + 1] = (int64_t)len;
        }
      } else {
        for (k = 0; k < take; k++) {
          if (v[k].len > 0)
            memcpy(a->data + len, v[k].p, v[k].len);
          len += v[k].len;
          offs[at + k + 1] = (int64_t)len;
        }
      }
      a->data_len = (int64_t)len;
    }
    row += take;
    at += take;
    n -= take;
  }
  return 0;
}

/* ---- pruning ---- */

static void fnode_free(fnode *n) {
  size_t i;
  for (i = 0; i < n->nkids; i++)
    fnode_free(&n->kids[i]);
  tarn_free(n->kids);
  tarn_free(n->lit);
  memset(n, 0, sizeof(*n));
}

static int fnode_leaf(tarn_pq_scan *s, fnode *n, const tarn_pq_predicate *p, tarn_error *err) {
  const tarn_pq_file_meta *m = s->m;
  n->kind = TARN_PQ_FILTER_PRED;
  n->p = *p;
  if (p->column >= m->schema.ncols || p->op < TARN_PQ_EQ || p->op > TARN_PQ_NOT_NULL)
    return tarn_error_set(err, TARN_EINVAL, "%s: a predicate has column %zu or operator %d out "
                          "of range (%zu columns)", s->r->name, p->column, (int)p->op,
                          m->schema.ncols);
  if (p->value.bytes != NULL && p->value.len > 0) { /* the literal is only borrowed */
    n->lit = tarn_malloc(p->value.len);
    if (n->lit == NULL)
      return tarn_error_set(err, TARN_ENOMEM, "%s: out of memory opening a scan", s->r->name);
    memcpy(n->lit, p->value.bytes, p->value.len);
    n->p.value.bytes = n->lit;
  }
  return 0;
}

static int fnode_copy(tarn_pq_scan *s, fnode *n, const tarn_pq_filter *f, int depth,
                      tarn_error *err) {
  size_t i;
  if (depth > TARN_PQ_FILTER_MAX_DEPTH)
    return tarn_error_set(err, TARN_EINVAL, "%s: the filter is nested deeper than %d levels",
                          s->r->name, TARN_PQ_FILTER_MAX_DEPTH);
  if (f->kind == TARN_PQ_FILTER_PRED)
    return fnode_leaf(s, n, &f->pred, err);
  if ((f->kind != TARN_PQ_FILTER_AND && f->kind != TARN_PQ_FILTER_OR) ||
      (f->kind == TARN_PQ_FILTER_OR && f->nchildren == 0) ||
      (f->nchildren > 0 && f->children == NULL))
    return tarn_error_set(err, TARN_EINVAL, "%s: a filter node has kind %d with %zu children",
                          s->r->name, (int)f->kind, f->nchildren);
  n->kind = f->kind;
  if (f->nchildren == 0)
    return 0;
  n->kids = tarn_calloc(f->nchildren, sizeof(fnode));
  if (n->kids == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "%s: out of memory opening a scan", s->r->name);
  for (i = 0; i < f->nchildren; i++) {
    int rc = fnode_copy(s, &n->kids[i], &f->children[i], depth + 1, err);
    n->nkids = i + 1;
    if (rc != 0)
      return rc;
  }
  return 0;
}

static void collect_columns(const fnode *n, size_t *cols, size_t *ncols) {
  size_t i;
  if (n->kind == TARN_PQ_FILTER_PRED) {
    for (i = 0; i < *ncols; i++)
      if (cols[i] == n->p.column)
        return;
    cols[(*ncols)++] = n->p.column;
    return;
  }
  for (i = 0; i < n->nkids; i++)
    collect_columns(&n->kids[i], cols, ncols);
}

static size_t count_leaves(const fnode *n) {
  size_t i, k = n->kind == TARN_PQ_FILTER_PRED;
  for (i = 0; i < n->nkids; i++)
    k += count_leaves(&n->kids[i]);
  return k;
}

/* Builds s->root from the options; sets up the index cache. */
static int filter_open(tarn_pq_scan *s, const tarn_pq_scan_options *opts, tarn_error *err) {
  size_t i, nleaves, *cols = NULL;
  int rc;
  s->root.kind = TARN_PQ_FILTER_AND;
  if (opts == NULL || (opts->npreds == 0 && opts->filter == NULL))
    return 0;
  s->root.kids = tarn_calloc(opts->npreds + 1, sizeof(fnode));
  if (s->root.kids == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "%s: out of memory opening a scan", s->r->name);
  for (i = 0; i < opts->npreds; i++) {
    rc = fnode_leaf(s, &s->root.kids[i], &opts->preds[i], err);
    s->root.nkids = i + 1;
    if (rc != 0)
      return rc;
  }
  if (opts->filter != NULL) {
    rc = fnode_copy(s, &s->root.kids[s->root.nkids++], opts->filter, 1, err);
    if (rc != 0)
      return rc;
  }
  nleaves = count_leaves(&s->root);
  if (nleaves == 0)
    return 0;
  cols = tarn_calloc(nleaves, sizeof(size_t));
  if (cols == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "%s: out of memory opening a scan", s->r->name);
  collect_columns(&s->root, cols, &s->ncache);
  s->cache = tarn_calloc(s->ncache, sizeof(pcache));
  if (s->cache == NULL) {
    tarn_free(cols);
    s->ncache = 0;
    return tarn_error_set(err, TARN_ENOMEM, "%s: out of memory opening a scan", s->r->name);
  }
  for (i = 0; i < s->ncache; i++) {
    s->cache[i].col = cols[i];
    tarn_buf_init(&s->cache[i].bloom, TARN_BUF_UNLIMITED);
  }
  tarn_free(cols);
  return 0;
}

static void cache_drop(pcache *pc) {
  if (pc->idx_state == 1) {
    tarn__pq_column_index_free(&pc->ci);
    tarn__pq_offset_index_free(&pc->oi);
  }
  pc->idx_state = 0;
  pc->bloom_state = 0;
  pc->rg_plus1 = 0;
}

static void filter_close(tarn_pq_scan *s) {
  size_t i;
  for (i = 0; i < s->ncache; i++) {
    cache_drop(&s->cache[i]);
    tarn_buf_free(&s->cache[i].bloom);
  }
  tarn_free(s->cache);
  s->cache = NULL;
  s->ncache = 0;
  fnode_free(&s->root);
}

/* The cache entry of column col for the current row group (emptied on a new one). */
static pcache *cache_of(tarn_pq_scan *s, size_t col) {
  size_t i;
  for (i = 0; i < s->ncache; i++) {
    if (s->cache[i].col != col)
      continue;
    if (s->cache[i].rg_plus1 != s->rg + 1) {
      cache_drop(&s->cache[i]);
      s->cache[i].rg_plus1 = s->rg + 1;
    }
    return &s->cache[i];
  }
  return NULL; /* not reached: every leaf column has an entry */
}

static int lit_is_nan(const tarn_pq_column *c, const tarn_pq_value *v) {
  return (c->type == TARN_PQ_FLOAT && isnan(v->f32)) || (c->type == TARN_PQ_DOUBLE && isnan(v->f64));
}

/* 1 when values in [min, max] (bounds) cannot satisfy `op lit`. */
static int bounds_exclude(const tarn_pq_column *c, tarn_pq_op op, const uint8_t *lit, size_t ln,
                          const uint8_t *mn, size_t mnn, const uint8_t *mx, size_t mxn) {
  switch (op) {
  case TARN_PQ_EQ:
    return tarn__pq_compare(c, lit, ln, mn, mnn) < 0 || tarn__pq_compare(c, lit, ln, mx, mxn) > 0;
  case TARN_PQ_LT: return tarn__pq_compare(c, mn, mnn, lit, ln) >= 0;
  case TARN_PQ_LE: return tarn__pq_compare(c, mn, mnn, lit, ln) > 0;
  case TARN_PQ_GT: return tarn__pq_compare(c, mx, mxn, lit, ln) <= 0;
  case TARN_PQ_GE: return tarn__pq_compare(c, mx, mxn, lit, ln) < 0;
  default: return 0;
  }
}

static int fixed_bound_ok(const tarn_pq_column *c, size_t n) {
  int w = tarn_pq_plain_width(c);
  return w == 0 || n == (size_t)w;
}

/* 1 when the chunk statistics prove no row of the row group satisfies leaf p. */
static int leaf_stats_exclude(tarn_pq_scan *s, const tarn_pq_row_group_meta *g,
                              const tarn_pq_predicate *p) {
  const tarn_pq_column *c = &s->m->schema.cols[p->column];
  const tarn_pq_chunk_meta *cm = &g->chunks[p->column];
  const tarn_pq_stats *st = &cm->stats;
  int all_null = st->has_null_count && cm->num_values > 0 && st->null_count >= cm->num_values;
  uint8_t tmp[16];
  const uint8_t *lit;
  size_t ln;
  if (p->op == TARN_PQ_IS_NULL)
    return !c->optional || (st->has_null_count && st->null_count == 0);
  if (p->op == TARN_PQ_NOT_NULL)
    return all_null;
  if (all_null)
    return 1; /* comparisons never hold for nulls */
  if (!st->has_min_max || lit_is_nan(c, &p->value) ||
      tarn__pq_literal(c, &p->value, tmp, &lit, &ln) != 0)
    return 0;
  return bounds_exclude(c, p->op, lit, ln, (const uint8_t *)st->min.data, st->min.len,
                        (const uint8_t *)st->max.data, st->max.len);
}

/* Reads the bloom filter of column `col` in row group g into pc (once per row group). */
static int load_bloom(tarn_pq_scan *s, const tarn_pq_row_group_meta *g, pcache *pc,
                      tarn_error *err) {
  const tarn_pq_column *c = &s->m->schema.cols[pc->col];
  const tarn_pq_chunk_meta *cm = &g->chunks[pc->col];
  int64_t off = cm->bloom_filter_offset, room = s->r->footer_start - off;
  size_t used, want;
  int32_t nbytes;
  int rc;
  pc->bloom_state = -1;
  if (off < 0 || c->type == TARN_PQ_BOOLEAN)
    return 0;
  want = cm->bloom_filter_length > 0 ? (size_t)cm->bloom_filter_length
                                     : (size_t)(room < 64 ? room : 64);
  rc = tarn__pq_read(s->r, (uint64_t)off, want, &s->tmp, err);
  if (rc != 0)
    return rc;
  rc = tarn__pq_decode_bloom_header((const uint8_t *)s->tmp.data, s->tmp.len, off, s->r->name,
                                    &nbytes, &used, err);
  if (rc == TARN_EUNSUPPORTED)
    return 0;
  if (rc != 0)
    return rc;
  if (nbytes < 32 || nbytes % 32 != 0 || nbytes > (128 << 20) ||
      (int64_t)used + nbytes > room) {
    return tarn_error_set(err, TARN_ECORRUPT,
                          "%s: offset %lld: bloom filter of %d bytes for column \"%s\" is "
                          "invalid or runs past the data",
                          s->r->name, (long long)off, (int)nbytes, c->name);
  }
  if (s->tmp.len >= used + (size_t)nbytes) {
    tarn_buf_reset(&pc->bloom);
    if (tarn_buf_append(&pc->bloom, s->tmp.data + used, (size_t)nbytes, err) != 0)
      return err ? err->code : TARN_ENOMEM;
  } else {
    rc = tarn__pq_read(s->r, (uint64_t)off + used, (size_t)nbytes, &pc->bloom, err);
    if (rc != 0)
      return rc;
  }
  pc->bloom_state = 1;
  return 0;
}

/* 1 when a bloom filter proves an EQ literal absent; <0 (a tarn code, negated) on error. */
static int leaf_bloom_excludes(tarn_pq_scan *s, const tarn_pq_row_group_meta *g,
                               const tarn_pq_predicate *p, tarn_error *err) {
  const tarn_pq_column *c = &s->m->schema.cols[p->column];
  uint8_t tmp[16];
  const uint8_t *lit;
  size_t ln;
  pcache *pc;
  if (p->op != TARN_PQ_EQ || g->chunks[p->column].bloom_filter_offset < 0 ||
      c->type == TARN_PQ_BOOLEAN)
    return 0;
  if (c->type == TARN_PQ_FLOAT && (isnan(p->value.f32) || p->value.f32 == 0))
    return 0; /* -0.0 equals 0.0 but hashes differently */
  if (c->type == TARN_PQ_DOUBLE && (isnan(p->value.f64) || p->value.f64 == 0))
    return 0;
  if (tarn__pq_literal(c, &p->value, tmp, &lit, &ln) != 0)
    return 0;
  pc = cache_of(s, p->column);
  if (pc->bloom_state == 0) {
    int rc = load_bloom(s, g, pc, err);
    if (rc != 0)
      return -rc;
  }
  if (pc->bloom_state != 1)
    return 0;
  return !tarn__pq_bloom_check((const uint8_t *)pc->bloom.data, pc->bloom.len,
                               tarn__pq_hash_value(c, lit, ln));
}

/* 1 when node n is proved false for every row of g by statistics (and bloom filters when
 * use_bloom); 0 when it may hold; <0 (negated code) on a read error. */
static int node_excludes(tarn_pq_scan *s, const tarn_pq_row_group_meta *g, const fnode *n,
                         int use_bloom, tarn_error *err) {
  size_t i;
  int rc;
  switch (n->kind) {
  case TARN_PQ_FILTER_PRED:
    if (leaf_stats_exclude(s, g, &n->p))
      return 1;
    return use_bloom ? leaf_bloom_excludes(s, g, &n->p, err) : 0;
  case TARN_PQ_FILTER_AND:
    for (i = 0; i < n->nkids; i++)
      if ((rc = node_excludes(s, g, &n->kids[i], use_bloom, err)) != 0)
        return rc;
    return 0;
  case TARN_PQ_FILTER_OR:
    for (i = 0; i < n->nkids; i++)
      if ((rc = node_excludes(s, g, &n->kids[i], use_bloom, err)) <= 0)
        return rc;
    return n->nkids > 0;
  }
  return 0;
}

/* Reads and decodes one chunk's offset index, checking it against the chunk. */
static int load_offset_index(tarn_pq_scan *s, const tarn_pq_row_group_meta *g, size_t col,
                             tarn__pq_offset_index *oi, tarn_error *err) {
  const tarn_pq_chunk_meta *cm = &g->chunks[col];
  int64_t start = cm->file_offset, end = cm->file_offset + cm->total_compressed_size;
  size_t k;
  int rc = tarn__pq_read(s->r, (uint64_t)cm->offset_index_offset, (size_t)cm->offset_index_length,
                         &s->tmp, err);
  if (rc != 0)
    return rc;
  rc = tarn__pq_decode_offset_index((const uint8_t *)s->tmp.data, s->tmp.len,
                                    cm->offset_index_offset, s->r->name, oi, err);
  if (rc != 0)
    return rc;
  for (k = 0; k < oi->npages; k++) {
    const tarn__pq_page_location *pl = &oi->pages[k];
    if (pl->offset < start || pl->offset >= end || pl->compressed_page_size <= 0 ||
        pl->compressed_page_size > end - pl->offset || pl->first_row_index < 0 ||
        pl->first_row_index >= (g->num_rows > 0 ? g->num_rows : 1) ||
        (k == 0 && pl->first_row_index != 0) ||
        (k > 0 && (pl->offset < oi->pages[k - 1].offset + oi->pages[k - 1].compressed_page_size ||
                   pl->first_row_index <= oi->pages[k - 1].first_row_index))) {
      tarn__pq_offset_index_free(oi);
      return tarn_error_set(err, TARN_ECORRUPT,
                            "%s: offset %lld: offset index of column \"%s\" has an invalid page "
                            "location %zu",
                            s->r->name, (long long)cm->offset_index_offset,
                            s->m->schema.cols[col].name, k);
    }
  }
  return 0;
}

static int64_t page_end_row(const tarn__pq_offset_index *oi, size_t k, int64_t nrows) {
  return k + 1 < oi->npages ? oi->pages[k + 1].first_row_index : nrows;
}

/* Reads the column and offset index of pc's column in g (once per row group). */
static int load_page_index(tarn_pq_scan *s, const tarn_pq_row_group_meta *g, pcache *pc,
                           tarn_error *err) {
  const tarn_pq_chunk_meta *cm = &g->chunks[pc->col];
  int rc;
  pc->idx_state = -1;
  if (cm->column_index_offset < 0 || cm->offset_index_offset < 0)
    return 0;
  rc = load_offset_index(s, g, pc->col, &pc->oi, err);
  if (rc != 0)
    return rc;
  rc = tarn__pq_read(s->r, (uint64_t)cm->column_index_offset, (size_t)cm->column_index_length,
                     &s->tmp, err);
  if (rc == 0)
    rc = tarn__pq_decode_column_index((const uint8_t *)s->tmp.data, s->tmp.len,
                                      cm->column_index_offset, s->r->name, &pc->ci, err);
  if (rc != 0) {
    tarn__pq_offset_index_free(&pc->oi);
    return rc;
  }
  if (pc->ci.npages != pc->oi.npages) {
    rc = tarn_error_set(err, TARN_ECORRUPT,
                        "%s: offset %lld: column index of \"%s\" has %zu pages, the offset "
                        "index %zu",
                        s->r->name, (long long)cm->column_index_offset,
                        s->m->schema.cols[pc->col].name, pc->ci.npages, pc->oi.npages);
    tarn__pq_column_index_free(&pc->ci);
    tarn__pq_offset_index_free(&pc->oi);
    return rc;
  }
  pc->idx_state = 1;
  return 0;
}

/* out = a ∪ b (both sorted, disjoint). */
static int ranges_union(const rranges *a, const rranges *b, rranges *out) {
  size_t i = 0, j = 0;
  out->n = 0;
  while (i < a->n || j < b->n) {
    const rrange *r = j >= b->n || (i < a->n && a->r[i].start <= b->r[j].start) ? &a->r[i++]
                                                                                 : &b->r[j++];
    if (ranges_push(out, r->start, r->end) != 0)
      return -1;
  }
  return 0;
}

/* The rows of g whose pages the column index cannot rule out for leaf p. */
static int leaf_ranges(tarn_pq_scan *s, const tarn_pq_row_group_meta *g,
                       const tarn_pq_predicate *p, rranges *out, tarn_error *err) {
  const tarn_pq_column *c = &s->m->schema.cols[p->column];
  uint8_t tmp[16];
  const uint8_t *lit = NULL;
  size_t ln = 0, k;
  pcache *pc;
  int rc, cmp_ok;
  out->n = 0;
  if (p->op != TARN_PQ_IS_NULL && p->op != TARN_PQ_NOT_NULL &&
      (lit_is_nan(c, &p->value) || tarn__pq_literal(c, &p->value, tmp, &lit, &ln) != 0))
    goto all;
  cmp_ok = lit != NULL;
  pc = cache_of(s, p->column);
  if (pc->idx_state == 0 && (rc = load_page_index(s, g, pc, err)) != 0)
    return rc;
  if (pc->idx_state != 1)
    goto all;
  for (k = 0; k < pc->ci.npages; k++) {
    const tarn__pq_column_index *ci = &pc->ci;
    int drop = 0;
    if (p->op == TARN_PQ_IS_NULL)
      drop = !ci->null_pages[k] && ci->has_null_counts && ci->null_counts[k] == 0;
    else if (p->op == TARN_PQ_NOT_NULL)
      drop = ci->null_pages[k];
    else if (ci->null_pages[k])
      drop = 1;
    else if (cmp_ok && fixed_bound_ok(c, ci->min_values[k].len) &&
             fixed_bound_ok(c, ci->max_values[k].len) &&
             !(c->type == TARN_PQ_FLOAT || c->type == TARN_PQ_DOUBLE
                   ? (ci->min_values[k].len >= 4 &&
                      (c->type == TARN_PQ_FLOAT
                           ? isnan(*(float *)(void *)ci->min_values[k].data) ||
                                 isnan(*(float *)(void *)ci->max_values[k].data)
                           : isnan(*(double *)(void *)ci->min_values[k].data) ||
                                 isnan(*(double *)(void *)ci->max_values[k].data)))
                   : 0))
      drop = bounds_exclude(c, p->op, lit, ln, (const uint8_t *)ci->min_values[k].data,
                            ci->min_values[k].len, (const uint8_t *)ci->max_values[k].data,
                            ci->max_values[k].len);
    if (!drop && ranges_push(out, pc->oi.pages[k].first_row_index,
                             page_end_row(&pc->oi, k, g->num_rows)) != 0)
      return tarn_error_set(err, TARN_ENOMEM, "out of memory pruning pages");
  }
  return 0;
all:
  if (ranges_push(out, 0, g->num_rows) != 0)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory pruning pages");
  return 0;
}

/* The rows of g the page index cannot rule out for node n, into out. */
static int node_ranges(tarn_pq_scan *s, const tarn_pq_row_group_meta *g, const fnode *n,
                       rranges *out, tarn_error *err) {
  rranges kid = {0}, tmp = {0};
  size_t i;
  int rc = 0;
  if (n->kind == TARN_PQ_FILTER_PRED)
    return leaf_ranges(s, g, &n->p, out, err);
  out->n = 0;
  if (n->kind == TARN_PQ_FILTER_AND && ranges_push(out, 0, g->num_rows) != 0)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory pruning pages");
  for (i = 0; i < n->nkids; i++) {
    rranges t;
    if (n->kind == TARN_PQ_FILTER_AND && out->n == 0)
      break; /* nothing left to intersect */
    rc = node_ranges(s, g, &n->kids[i], &kid, err);
    if (rc != 0)
      break;
    if ((n->kind == TARN_PQ_FILTER_AND ? ranges_intersect(out, &kid, &tmp)
                                       : ranges_union(out, &kid, &tmp)) != 0) {
      rc = tarn_error_set(err, TARN_ENOMEM, "out of memory pruning pages");
      break;
    }
    t = *out; /* swap */
    *out = tmp;
    tmp = t;
  }
  tarn_free(kid.r);
  tarn_free(tmp.r);
  return rc;
}

/* Narrows s->ranges (the whole row group) to the rows the page index leaves. */
static int prune_by_page_index(tarn_pq_scan *s, const tarn_pq_row_group_meta *g,
                               tarn_error *err) {
  rranges keep = {0};
  int rc;
  if (s->root.nkids == 0)
    return 0;
  rc = node_ranges(s, g, &s->root, &keep, err);
  if (rc == 0) {
    rranges t = s->ranges;
    s->ranges = keep;
    keep = t;
  }
  tarn_free(keep.r);
  return rc;
}

/* ---- row groups ---- */

static void close_row_group(tarn_pq_scan *s) {
  size_t i;
  if (!s->in_rg)
    return;
  for (i = 0; i < s->nproj; i++) {
    colcur *cc = &s->cur[i];
    if (cc->have_oi) {
      s->stats.pages_total += (int64_t)cc->oi.npages;
      s->stats.pages_pruned += (int64_t)cc->oi.npages - cc->pages_decoded;
    } else {
      s->stats.pages_total += cc->pages_seen;
      s->stats.pages_pruned += cc->pages_seen - cc->pages_decoded;
    }
    cur_reset(cc);
  }
  s->in_rg = 0;
}

static int open_cursor(tarn_pq_scan *s, const tarn_pq_row_group_meta *g, size_t col, colcur *cc,
                       int partial, tarn_error *err) {
  const tarn_pq_chunk_meta *cm = &g->chunks[col];
  int64_t start = cm->file_offset, len = cm->total_compressed_size;
  int rc;
  cur_reset(cc); /* fields to zero, scratch buffers kept */
  cc->chunk.max = TARN_BUF_UNLIMITED;
  cc->col = col;
  cc->c = &s->m->schema.cols[col];
  cc->cm = cm;
  cc->w = tarn_pq_plain_width(cc->c);
  cc->rg_rows = g->num_rows;
  cc->chunk_off = start;
  switch (cm->codec) {
  case TARN_PQ_UNCOMPRESSED:
  case TARN_PQ_SNAPPY:
  case TARN_PQ_GZIP:
  case TARN_PQ_ZSTD:
  case TARN_PQ_LZ4_RAW: break;
  default:
    return COL_ERR(err, s, cc, TARN_EUNSUPPORTED, start, "compression codec %s is not supported",
                   tarn_pq_codec_name(cm->codec));
  }
  if (partial && cm->offset_index_offset >= 0) {
    /* Read only the pages that hold wanted rows: the dictionary region (if any), then one
     * range from the first to the last such page. */
    size_t k, r = 0, first = SIZE_MAX;
    int64_t last_end = -1, pages_start;
    rc = load_offset_index(s, g, col, &cc->oi, err);
    if (rc != 0)
      return rc;
    cc->have_oi = 1;
    for (k = 0; k < cc->oi.npages; k++) {
      int64_t a = cc->oi.pages[k].first_row_index, b = page_end_row(&cc->oi, k, g->num_rows);
      while (r < s->ranges.n && s->ranges.r[r].end <= a)
        r++;
      if (r < s->ranges.n && s->ranges.r[r].start < b) {
        if (first == SIZE_MAX)
          first = k;
        last_end = cc->oi.pages[k].offset + cc->oi.pages[k].compressed_page_size;
      }
    }
    if (first != SIZE_MAX) {
      pages_start = cc->oi.pages[0].offset;
      if (pages_start > start) { /* dictionary pages precede the first data page */
        rc = tarn__pq_read(s->r, (uint64_t)start, (size_t)(pages_start - start), &cc->chunk, err);
        if (rc != 0)
          return rc;
        rc = scan_dictionary(s, cc, err);
        if (rc != 0)
          return rc;
      }
      cc->dict_scanned = 1;
      cc->chunk_off = cc->oi.pages[first].offset;
      cc->pos = 0;
      cc->next_row = cc->oi.pages[first].first_row_index;
      return tarn__pq_read(s->r, (uint64_t)cc->chunk_off, (size_t)(last_end - cc->chunk_off),
                           &cc->chunk, err);
    }
  }
  rc = tarn__pq_read(s->r, (uint64_t)start, (size_t)len, &cc->chunk, err);
  if (rc != 0)
    return rc;
  return 0;
}

/* Moves to the next row group with rows to return; 0 with s->in_rg = 0 at the end. */
static int next_row_group(tarn_pq_scan *s, tarn_error *err) {
  int rc;
  close_row_group(s);
  while (s->rg_next < s->rg_end) {
    size_t rg = s->rg_next++, i;
    const tarn_pq_row_group_meta *g = &s->m->row_groups[rg];
    int partial;
    s->rg = rg;
    s->stats.row_groups_total++;
    if (g->num_rows == 0)
      continue;
    if (node_excludes(s, g, &s->root, 0, NULL) > 0) {
      s->stats.row_groups_pruned_stats++;
      continue;
    }
    rc = node_excludes(s, g, &s->root, 1, err);
    if (rc < 0)
      return -rc;
    if (rc > 0) {
      s->stats.row_groups_pruned_bloom++;
      continue;
    }
    s->ranges.n = 0;
    if (ranges_push(&s->ranges, 0, g->num_rows) != 0)
      return tarn_error_set(err, TARN_ENOMEM, "out of memory starting a row group");
    rc = prune_by_page_index(s, g, err);
    if (rc != 0)
      return rc;
    if (s->ranges.n == 0) {
      /* Every page of the predicate column was pruned: count them once. */
      s->stats.pages_total++;
      s->stats.pages_pruned++;
      continue;
    }
    partial = !(s->ranges.n == 1 && s->ranges.r[0].start == 0 &&
                s->ranges.r[0].end == g->num_rows);
    s->in_rg = 1;
    for (i = 0; i < s->nproj; i++) {
      rc = open_cursor(s, g, s->proj[i], &s->cur[i], partial, err);
      if (rc != 0)
        return rc;
    }
    s->range_i = 0;
    s->row = s->ranges.r[0].start;
    return 0;
  }
  return 0;
}

/* ---- public ---- */

int tarn_pq_scan_open(tarn_pq_reader *r, const tarn_pq_scan_options *opts, tarn_pq_scan **out,
                      tarn_error *err) {
  const tarn_pq_file_meta *m = &r->meta;
  tarn_pq_scan *s;
  size_t i, maxw = 0;
  *out = NULL;
  s = tarn_calloc(1, sizeof(*s));
  if (s == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory opening a scan");
  s->r = r;
  s->m = m;
  tarn_buf_init(&s->tmp, TARN_BUF_UNLIMITED);
  s->nproj = opts && opts->columns ? opts->ncolumns : m->schema.ncols;
  s->proj = tarn_calloc(s->nproj ? s->nproj : 1, sizeof(size_t));
  s->cur = tarn_calloc(s->nproj ? s->nproj : 1, sizeof(colcur));
  if (s->proj == NULL || s->cur == NULL)
    goto nomem;
  for (i = 0; i < s->nproj; i++) {
    size_t col = opts && opts->columns ? opts->columns[i] : i;
    if (col >= m->schema.ncols) {
      tarn_pq_scan_close(s);
      return tarn_error_set(err, TARN_EINVAL, "%s: projected column %zu does not exist (%zu columns)",
                            r->name, col, m->schema.ncols);
    }
    s->proj[i] = col;
    if ((size_t)tarn_pq_plain_width(&m->schema.cols[col]) > maxw)
      maxw = (size_t)tarn_pq_plain_width(&m->schema.cols[col]);
  }
  {
    int rc = filter_open(s, opts, err);
    if (rc != 0) {
      tarn_pq_scan_close(s);
      return rc;
    }
  }
  s->batch_rows = opts && opts->batch_rows > 0 ? opts->batch_rows : 65536;
  if (maxw > 0 && (size_t)s->batch_rows > tarn__pq_limits_cur.max_batch_bytes / maxw)
    s->batch_rows = (int64_t)(tarn__pq_limits_cur.max_batch_bytes / maxw);
  if (s->batch_rows < 1)
    s->batch_rows = 1;
  s->rg_next = 0;
  s->rg_end = m->nrow_groups;
  if (opts && opts->row_group >= 0) {
    if ((uint64_t)opts->row_group >= m->nrow_groups) {
      tarn_pq_scan_close(s);
      return tarn_error_set(err, TARN_EINVAL, "%s: row group %lld does not exist (%zu row groups)",
                            r->name, (long long)opts->row_group, m->nrow_groups);
    }
    s->rg_next = (size_t)opts->row_group;
    s->rg_end = s->rg_next + 1;
  }
  *out = s;
  return 0;
nomem:
  tarn_pq_scan_close(s);
  return tarn_error_set(err, TARN_ENOMEM, "out of memory opening a scan");
}

int tarn_pq_scan_next(tarn_pq_scan *s, tarn_pq_batch **out, tarn_error *err) {
  tarn_pq_batch *b = NULL;
  int64_t nrows = 0, want;
  size_t i, *data_caps = NULL;
  int rc;
  struct seg {
    int64_t start, n;
  } segs[64];
  size_t nsegs = 0;
  *out = NULL;
  /* Find rows: the current row group's ranges, or the next row group's. */
  while (!s->in_rg || s->range_i >= s->ranges.n) {
    rc = next_row_group(s, err);
    if (rc != 0) {
      close_row_group(s);
      s->rg_next = s->rg_end; /* a failed scan stays failed */
      return rc;
    }
    if (!s->in_rg)
      return 0;
  }
  want = s->batch_rows;
  while (nrows < want && s->range_i < s->ranges.n && nsegs < sizeof(segs) / sizeof(segs[0])) {
    rrange *rr = &s->ranges.r[s->range_i];
    int64_t n = rr->end - s->row;
    if (n > want - nrows)
      n = want - nrows;
    segs[nsegs].start = s->row;
    segs[nsegs].n = n;
    nsegs++;
    nrows += n;
    s->row += n;
    if (s->row >= rr->end && ++s->range_i < s->ranges.n)
      s->row = s->ranges.r[s->range_i].start;
  }
  if (s->spare_batch != NULL) { /* a recycled shell: its column array is zeroed */
    b = s->spare_batch;
    s->spare_batch = NULL;
  } else {
    b = tarn_calloc(1, sizeof(*b));
    if (b == NULL)
      goto nomem;
    b->cols = tarn_calloc(s->nproj ? s->nproj : 1, sizeof(tarn_pq_array));
  }
  b->nrows = nrows;
  data_caps = tarn_calloc(s->nproj ? s->nproj : 1, sizeof(size_t));
  if (b->cols == NULL || data_caps == NULL)
    goto nomem;
  b->ncols = s->nproj;
  for (i = 0; i < s->nproj; i++) {
    colcur *cc = &s->cur[i];
    tarn_pq_array *a = &b->cols[i];
    struct spare *sp = s->spare != NULL ? &s->spare[i] : NULL;
    size_t k;
    int64_t at = 0;
    a->length = nrows;
    if (sp == NULL) {
      if (cc->c->type == TARN_PQ_BOOLEAN)
        a->values = tarn_calloc((size_t)(nrows + 7) / 8 + 1, 1);
      else if (cc->w > 0)
        a->values = tarn_malloc((size_t)nrows * (size_t)cc->w + 1);
      else
        a->offsets = tarn_calloc((size_t)nrows + 1, sizeof(int64_t));
    } else if (cc->c->type == TARN_PQ_BOOLEAN) {
      size_t nb = (size_t)(nrows + 7) / 8 + 1;
      a->values = spare_take(&sp->values, &sp->values_cap, nb);
      if (a->values != NULL)
        memset(a->values, 0, nb);
    } else if (cc->w > 0) {
      a->values = spare_take(&sp->values, &sp->values_cap, (size_t)nrows * (size_t)cc->w + 1);
    } else {
      a->offsets = spare_take((void **)&sp->offsets, &sp->offsets_cap,
                              ((size_t)nrows + 1) * sizeof(int64_t));
      if (a->offsets != NULL)
        a->offsets[0] = 0;
      a->data = sp->data; /* grown by cur_read as needed */
      data_caps[i] = sp->data_cap;
      sp->data = NULL;
      sp->data_cap = 0;
    }
    if (a->values == NULL && a->offsets == NULL)
      goto nomem;
    for (k = 0; k < nsegs; k++) {
      rc = cur_read(s, cc, segs[k].start, segs[k].n, a, at, nrows, &data_caps[i], err);
      if (rc != 0)
        goto fail;
      at += segs[k].n;
    }
    if (cc->w == 0 && a->data == NULL) {
      a->data = tarn_malloc(1);
      if (a->data == NULL)
        goto nomem;
    }
    if (a->validity != NULL && nrows % 8 != 0) /* tidy: bits past the end are zero */
      a->validity[nrows / 8] &= (uint8_t)((1u << (nrows % 8)) - 1);
  }
  tarn_free(data_caps);
  s->stats.rows_returned += nrows;
  *out = b;
  return 0;
nomem:
  rc = tarn_error_set(err, TARN_ENOMEM, "%s: out of memory building a batch", s->r->name);
fail:
  tarn_free(data_caps);
  tarn_pq_batch_free(b);
  close_row_group(s);
  s->rg_next = s->rg_end;
  return rc;
}

const tarn_pq_scan_stats *tarn_pq_scan_stats_get(const tarn_pq_scan *s) {
  return &s->stats;
}

void tarn_pq_scan_recycle(tarn_pq_scan *s, tarn_pq_batch *b) {
  size_t i;
  if (b == NULL)
    return;
  if (s == NULL || b->ncols != s->nproj || b->cols == NULL) {
    tarn_pq_batch_free(b);
    return;
  }
  if (s->spare == NULL && (s->spare = tarn_calloc(s->nproj ? s->nproj : 1,
                                                  sizeof(*s->spare))) == NULL) {
    tarn_pq_batch_free(b); /* out of memory: the next batch is simply allocated */
    return;
  }
  for (i = 0; i < b->ncols; i++) { /* capacities as tarn_pq_scan_next allocated them */
    tarn_pq_array *a = &b->cols[i];
    struct spare *sp = &s->spare[i];
    const tarn_pq_column *c = &s->m->schema.cols[s->proj[i]];
    size_t n = a->length > 0 ? (size_t)a->length : 0;
    size_t vcap = c->type == TARN_PQ_BOOLEAN ? (n + 7) / 8 + 1
                                            : n * (size_t)tarn_pq_plain_width(c) + 1;
    spare_give(&sp->values, &sp->values_cap, a->values, vcap);
    spare_give((void **)&sp->validity, &sp->validity_cap, a->validity, (n + 7) / 8);
    spare_give((void **)&sp->offsets, &sp->offsets_cap, a->offsets, (n + 1) * sizeof(int64_t));
    spare_give((void **)&sp->data, &sp->data_cap, a->data,
               a->data_len > 0 ? (size_t)a->data_len : 0);
  }
  memset(b->cols, 0, b->ncols * sizeof(*b->cols));
  if (s->spare_batch != NULL)
    tarn_pq_batch_free(s->spare_batch);
  s->spare_batch = b;
}

void tarn_pq_scan_close(tarn_pq_scan *s) {
  size_t i;
  if (s == NULL)
    return;
  for (i = 0; s->spare != NULL && i < s->nproj; i++) {
    tarn_free(s->spare[i].values);
    tarn_free(s->spare[i].validity);
    tarn_free(s->spare[i].offsets);
    tarn_free(s->spare[i].data);
  }
  tarn_free(s->spare);
  tarn_pq_batch_free(s->spare_batch);
  close_row_group(s);
  for (i = 0; s->cur != NULL && i < s->nproj; i++)
    cur_free(&s->cur[i]);
  filter_close(s);
  tarn_free(s->proj);
  tarn_free(s->cur);
  tarn_free(s->ranges.r);
  tarn_buf_free(&s->tmp);
  tarn__pq_codec_ctx_free(&s->codec);
  tarn_free(s);
}
