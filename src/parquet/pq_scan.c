/* pq_scan.c - scans a Parquet file into Arrow-layout batches: projection, row groups,
 * row alignment and the public calls. Pages are decoded in pq_scan_pages.c; row groups and
 * pages are pruned in pq_scan_prune.c. */
#include "pq_scan_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "base/alloc.h"

int tarn__pqs_col_error(tarn_error *err, const char *file, const char *col, size_t rg, int code,
                        int64_t off, const char *fmt, ...) {
  char msg[320];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  return tarn_error_set(err, code, "%s: offset %lld: row group %zu, column \"%s\": %s", file,
                        (long long)off, rg, col, msg);
}

/* ---- helpers ---- */

/* Unlike tarn_grow, grows a scratch buffer to exactly `need` (at least 64) elements: page
 * buffers are sized per page, and doubling would keep up to twice the largest page. */
int tarn__pqs_grow(void **p, size_t *cap, size_t need, size_t elem) {
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

int tarn__pqs_ranges_push(rranges *rr, int64_t a, int64_t b) {
  if (a >= b)
    return 0;
  if (rr->n > 0 && rr->r[rr->n - 1].end >= a) { /* merge touching ranges */
    if (b > rr->r[rr->n - 1].end)
      rr->r[rr->n - 1].end = b;
    return 0;
  }
  if (TARN_GROW(rr->r, rr->cap, rr->n + 1, 64) != 0)
    return -1;
  rr->r[rr->n].start = a;
  rr->r[rr->n].end = b;
  rr->n++;
  return 0;
}

/* out = a ∩ b (both sorted, disjoint). */
int tarn__pqs_ranges_intersect(const rranges *a, const rranges *b, rranges *out) {
  size_t i = 0, j = 0;
  out->n = 0;
  while (i < a->n && j < b->n) {
    int64_t lo = a->r[i].start > b->r[j].start ? a->r[i].start : b->r[j].start;
    int64_t hi = a->r[i].end < b->r[j].end ? a->r[i].end : b->r[j].end;
    if (lo < hi && tarn__pqs_ranges_push(out, lo, hi) != 0)
      return -1;
    if (a->r[i].end < b->r[j].end)
      i++;
    else
      j++;
  }
  return 0;
}

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
    int rc = tarn__pqs_cur_seek(s, cc, row, err);
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
        a->validity = sp != NULL
                          ? spare_take((void **)&sp->validity, &sp->validity_cap, nb ? nb : 1)
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
    tarn__pqs_cur_reset(cc);
  }
  s->in_rg = 0;
}

static int open_cursor(tarn_pq_scan *s, const tarn_pq_row_group_meta *g, size_t col, colcur *cc,
                       int partial, tarn_error *err) {
  const tarn_pq_chunk_meta *cm = &g->chunks[col];
  int64_t start = cm->file_offset, len = cm->total_compressed_size;
  int rc;
  tarn__pqs_cur_reset(cc); /* fields to zero, scratch buffers kept */
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
    rc = tarn__pqs_load_offset_index(s, g, col, &cc->oi, err);
    if (rc != 0)
      return rc;
    cc->have_oi = 1;
    for (k = 0; k < cc->oi.npages; k++) {
      int64_t a = cc->oi.pages[k].first_row_index,
              b = tarn__pqs_page_end_row(&cc->oi, k, g->num_rows);
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
        rc = tarn__pqs_scan_dictionary(s, cc, err);
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
    if (tarn__pqs_node_excludes(s, g, &s->root, 0, NULL) > 0) {
      s->stats.row_groups_pruned_stats++;
      continue;
    }
    rc = tarn__pqs_node_excludes(s, g, &s->root, 1, err);
    if (rc < 0)
      return -rc;
    if (rc > 0) {
      s->stats.row_groups_pruned_bloom++;
      continue;
    }
    s->ranges.n = 0;
    if (tarn__pqs_ranges_push(&s->ranges, 0, g->num_rows) != 0)
      return tarn_error_set(err, TARN_ENOMEM, "out of memory starting a row group");
    rc = tarn__pqs_prune_by_page_index(s, g, err);
    if (rc != 0)
      return rc;
    if (s->ranges.n == 0) {
      /* Every page of the predicate column was pruned: count them once. */
      s->stats.pages_total++;
      s->stats.pages_pruned++;
      continue;
    }
    partial = !(s->ranges.n == 1 && s->ranges.r[0].start == 0 && s->ranges.r[0].end == g->num_rows);
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
      return tarn_error_set(err, TARN_EINVAL,
                            "%s: projected column %zu does not exist (%zu columns)", r->name, col,
                            m->schema.ncols);
    }
    s->proj[i] = col;
    if ((size_t)tarn_pq_plain_width(&m->schema.cols[col]) > maxw)
      maxw = (size_t)tarn_pq_plain_width(&m->schema.cols[col]);
  }
  {
    int rc = tarn__pqs_filter_open(s, opts, err);
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

const tarn_pq_scan_stats *tarn_pq_scan_stats_get(const tarn_pq_scan *s) { return &s->stats; }

void tarn_pq_scan_recycle(tarn_pq_scan *s, tarn_pq_batch *b) {
  size_t i;
  if (b == NULL)
    return;
  if (s == NULL || b->ncols != s->nproj || b->cols == NULL) {
    tarn_pq_batch_free(b);
    return;
  }
  if (s->spare == NULL &&
      (s->spare = tarn_calloc(s->nproj ? s->nproj : 1, sizeof(*s->spare))) == NULL) {
    tarn_pq_batch_free(b); /* out of memory: the next batch is simply allocated */
    return;
  }
  for (i = 0; i < b->ncols; i++) { /* capacities as tarn_pq_scan_next allocated them */
    tarn_pq_array *a = &b->cols[i];
    struct spare *sp = &s->spare[i];
    const tarn_pq_column *c = &s->m->schema.cols[s->proj[i]];
    size_t n = a->length > 0 ? (size_t)a->length : 0;
    size_t vcap =
        c->type == TARN_PQ_BOOLEAN ? (n + 7) / 8 + 1 : n * (size_t)tarn_pq_plain_width(c) + 1;
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
    tarn__pqs_cur_free(&s->cur[i]);
  tarn__pqs_filter_close(s);
  tarn_free(s->proj);
  tarn_free(s->cur);
  tarn_free(s->ranges.r);
  tarn_buf_free(&s->tmp);
  tarn__pq_codec_ctx_free(&s->codec);
  tarn_free(s);
}
