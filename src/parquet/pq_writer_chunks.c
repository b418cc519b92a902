/* pq_writer_chunks.c - the Parquet writer's column chunks and row groups (dictionary
 * page, data pages, bloom filters, chunk metadata) and the file's footer. */
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
  cw->dict_probed = 0;
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
  int rc = tarn__pqw_flush_page(w, cw);
  if (rc != 0)
    return rc;
  assert(cw->page_rows == 0); /* every row of the chunk is in a written page */
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
    if (tarn__pqw_is_float(c)) {
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
      cw->ci.boundary_order = tarn__pqw_boundary_order(c, &cw->ci);
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
  size_t have, want, b;
  int64_t ndv = cw->ndv;
  int rc;
  if (cw->bloom_bits == NULL && tarn__pqw_bloom_ensure(w, cw) != 0)
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

int tarn__pqw_flush_row_group(tarn_pq_writer *w) {
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
    /* every column holds every row of the group: else readers would misalign rows */
    assert(w->cols[j].chunk_rows == w->rg_rows);
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
size_t tarn__pqw_rg_bytes(const tarn_pq_writer *w) {
  size_t j, n = 0;
  for (j = 0; j < w->meta.schema.ncols; j++) {
    const colw *cw = &w->cols[j];
    n += cw->chunk.len + tarn__pqw_page_estimate(cw);
    if (cw->dict_active || cw->dict_pages > 0)
      n += cw->dict.plain.len;
  }
  return n;
}

int tarn__pqw_fill_info(tarn_pq_writer *w, tarn_pq_file_info *fi, int64_t size) {
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
int tarn__pqw_finish_file(tarn_pq_writer *w) {
  int64_t ci_base, oi_base;
  size_t r, j;
  uint8_t tail[8];
  tarn_buf foot;
  int rc = tarn__pqw_flush_row_group(w);
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
    /* the magic's 4 bytes, no NUL: */
    // NOLINTNEXTLINE(bugprone-not-null-terminated-result)
    memcpy(tail + 4, TARN__PQ_MAGIC, 4);
    rc = sink_write(w, tail, 8);
  }
  tarn_buf_free(&foot);
  return rc;
}
