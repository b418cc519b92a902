/* pq_scan_prune.c - the scan's planning and pruning: the predicate tree, row groups
 * dropped by statistics and bloom filters, row ranges kept by the page index. */
#include "pq_scan_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "base/alloc.h"

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
    return tarn_error_set(err, TARN_EINVAL,
                          "%s: a predicate has column %zu or operator %d out "
                          "of range (%zu columns)",
                          s->r->name, p->column, (int)p->op, m->schema.ncols);
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
int tarn__pqs_filter_open(tarn_pq_scan *s, const tarn_pq_scan_options *opts, tarn_error *err) {
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

void tarn__pqs_filter_close(tarn_pq_scan *s) {
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
  return (c->type == TARN_PQ_FLOAT && isnan(v->f32)) ||
         (c->type == TARN_PQ_DOUBLE && isnan(v->f64));
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
  if (nbytes < 32 || nbytes % 32 != 0 || nbytes > (128 << 20) || (int64_t)used + nbytes > room) {
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
int tarn__pqs_node_excludes(tarn_pq_scan *s, const tarn_pq_row_group_meta *g, const fnode *n,
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
      if ((rc = tarn__pqs_node_excludes(s, g, &n->kids[i], use_bloom, err)) != 0)
        return rc;
    return 0;
  case TARN_PQ_FILTER_OR:
    for (i = 0; i < n->nkids; i++)
      if ((rc = tarn__pqs_node_excludes(s, g, &n->kids[i], use_bloom, err)) <= 0)
        return rc;
    return n->nkids > 0;
  }
  return 0;
}

/* Reads and decodes one chunk's offset index, checking it against the chunk. */
int tarn__pqs_load_offset_index(tarn_pq_scan *s, const tarn_pq_row_group_meta *g, size_t col,
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

int64_t tarn__pqs_page_end_row(const tarn__pq_offset_index *oi, size_t k, int64_t nrows) {
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
  rc = tarn__pqs_load_offset_index(s, g, pc->col, &pc->oi, err);
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
    const rrange *r =
        j >= b->n || (i < a->n && a->r[i].start <= b->r[j].start) ? &a->r[i++] : &b->r[j++];
    if (tarn__pqs_ranges_push(out, r->start, r->end) != 0)
      return -1;
  }
  return 0;
}

/* The rows of g whose pages the column index cannot rule out for leaf p. */
static int leaf_ranges(tarn_pq_scan *s, const tarn_pq_row_group_meta *g, const tarn_pq_predicate *p,
                       rranges *out, tarn_error *err) {
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
    if (!drop && tarn__pqs_ranges_push(out, pc->oi.pages[k].first_row_index,
                                       tarn__pqs_page_end_row(&pc->oi, k, g->num_rows)) != 0)
      return tarn_error_set(err, TARN_ENOMEM, "out of memory pruning pages");
  }
  return 0;
all:
  if (tarn__pqs_ranges_push(out, 0, g->num_rows) != 0)
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
  if (n->kind == TARN_PQ_FILTER_AND && tarn__pqs_ranges_push(out, 0, g->num_rows) != 0)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory pruning pages");
  for (i = 0; i < n->nkids; i++) {
    rranges t;
    if (n->kind == TARN_PQ_FILTER_AND && out->n == 0)
      break; /* nothing left to intersect */
    rc = node_ranges(s, g, &n->kids[i], &kid, err);
    if (rc != 0)
      break;
    if ((n->kind == TARN_PQ_FILTER_AND ? tarn__pqs_ranges_intersect(out, &kid, &tmp)
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
int tarn__pqs_prune_by_page_index(tarn_pq_scan *s, const tarn_pq_row_group_meta *g,
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
