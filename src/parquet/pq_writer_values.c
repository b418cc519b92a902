/* pq_writer_values.c - the Parquet writer's column encoding: appending rows of a batch
 * to a column's open page (levels, PLAIN or dictionary values, statistics, bloom). */
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

/* ---- appending values ---- */

int tarn__pqw_bloom_ensure(tarn_pq_writer *w, colw *cw) {
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
static size_t compact(uint8_t *dst, const uint8_t *src, size_t wd, const uint8_t *valid, int64_t s,
                      int64_t k) {
  size_t j = 0;
  int64_t i;
  switch (wd) {
  case 4:
    for (i = s; i < s + k; i++) { /* branch-free: always copy, advance when valid */
      memcpy(dst + j * 4, src + (size_t)i * 4, 4);
      j += (size_t)tarn__pqw_bit_at(valid, i);
    }
    break;
  case 8:
    for (i = s; i < s + k; i++) {
      memcpy(dst + j * 8, src + (size_t)i * 8, 8);
      j += (size_t)tarn__pqw_bit_at(valid, i);
    }
    break;
  default:
    for (i = s; i < s + k; i++)
      if (tarn__pqw_bit_at(valid, i)) {
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
    if (tarn__pqw_bit_at(valid, i) && m-- == 0)
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
  int rc = tarn__pqw_flush_page(w, cw);
  if (rc == 0)
    cw->dict_active = 0;
  return rc;
}

/* Definition levels of rows [s, s+k) into the page (OPTIONAL columns); *nv gets the
 * non-null values among them, *valid NULL when there is none to skip. */
static int append_levels(colw *cw, const tarn_pq_array *a, int64_t s, int64_t k,
                         const uint8_t **valid, int64_t *nv, tarn_error *err) {
  int rc = tarn_buf_reserve(&cw->defs, (size_t)(k + 7) / 8 + 1, err);
  if (rc != 0)
    return rc;
  if (*valid != NULL) {
    tarn__pq_copy_bits((uint8_t *)cw->defs.data, (size_t)cw->page_rows, *valid, (size_t)s,
                       (size_t)k);
    *nv = (int64_t)tarn__pq_count_bits(*valid, (size_t)s, (size_t)k);
  } else {
    tarn__pq_set_bits((uint8_t *)cw->defs.data, (size_t)cw->page_rows, (size_t)k);
  }
  if (*nv == k)
    *valid = NULL; /* no nulls in this slice: take the fast paths */
  return 0;
}

static int64_t append_bool(tarn_pq_writer *w, colw *cw, const tarn_pq_array *a,
                           const uint8_t *valid, int64_t s, int64_t k, int64_t nv) {
  const uint8_t *v = a->values;
  size_t ones;
  uint8_t *dst;
  int64_t i;
  if (tarn_buf_reserve(&cw->vals, (size_t)(k + 7) / 8 + 1, &w->err) != 0)
    return -1;
  dst = (uint8_t *)cw->vals.data;
  if (valid == NULL) {
    tarn__pq_copy_bits(dst, (size_t)cw->page_bits, v, (size_t)s, (size_t)k);
    ones = tarn__pq_count_bits(v, (size_t)s, (size_t)k);
    cw->page_bits += k;
  } else {
    ones = 0;
    for (i = s; i < s + k; i++) {
      if (!tarn__pqw_bit_at(valid, i))
        continue;
      if ((cw->page_bits & 7) == 0)
        dst[cw->page_bits >> 3] = 0;
      if (tarn__pqw_bit_at(v, i)) {
        dst[cw->page_bits >> 3] |= (uint8_t)(1u << (cw->page_bits & 7));
        ones++;
      }
      cw->page_bits++;
    }
  }
  cw->vals.len = (size_t)(cw->page_bits + 7) / 8;
  if (!w->no_stats || cw->bloom) {
    tarn__pq_acc_add_bool(&cw->page_acc, ones<(size_t)nv, ones> 0);
    if (cw->bloom && nv > 0) {
      uint8_t t = 1, f = 0;
      if (tarn__pqw_bloom_ensure(w, cw) != 0)
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

/* Numbers through the dictionary; may stop early when it fills up (see append_part). */
static int64_t fixed_dict(tarn_pq_writer *w, colw *cw, const tarn_pq_array *a, const uint8_t *valid,
                          int64_t s, int64_t k, int64_t nv) {
  const tarn_pq_column *c = cw->col;
  size_t wd = (size_t)cw->width, nfresh = 0, f;
  const uint8_t *src = (const uint8_t *)a->values + (size_t)s * wd;
  tarn_error *err = &w->err;
  int64_t m;
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
  if (!w->no_stats || tarn__pqw_is_float(c)) /* NaNs are counted for the file info regardless */
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

/* Numbers as PLAIN values. */
static int64_t fixed_plain(tarn_pq_writer *w, colw *cw, const tarn_pq_array *a,
                           const uint8_t *valid, int64_t s, int64_t k, int64_t nv) {
  const tarn_pq_column *c = cw->col;
  size_t wd = (size_t)cw->width;
  uint8_t *dst;
  int64_t i;
  if (tarn_buf_reserve(&cw->vals, (size_t)k * wd, &w->err) != 0)
    return -1;
  dst = (uint8_t *)cw->vals.data + cw->vals.len;
  if (valid == NULL)
    memcpy(dst, (const uint8_t *)a->values + (size_t)s * wd, (size_t)nv * wd);
  else
    compact(dst, (const uint8_t *)a->values, wd, valid, s, k);
  cw->vals.len += (size_t)nv * wd;
  if (!w->no_stats || tarn__pqw_is_float(c))
    tarn__pq_acc_add_fixed(c, &cw->page_acc, dst, (size_t)nv);
  if (cw->bloom)
    for (i = 0; i < nv; i++)
      bloom_add(cw, dst + (size_t)i * wd, wd);
  commit_rows(cw, k, nv);
  return k;
}

/* A byte array's values: BYTE_ARRAY from offsets and data, FIXED_LEN_BYTE_ARRAY from
 * values of width wd. */
typedef struct byte_src {
  int flba;
  const int64_t *off;
  const uint8_t *data;
  size_t wd;
} byte_src;

/* Byte arrays through the dictionary: *done rows and *vdone values went in (fewer than k
 * rows when it filled up). */
static int bytes_dict(colw *cw, const byte_src *bs, const uint8_t *valid, int64_t s, int64_t k,
                      int64_t nv, int64_t *done, int64_t *vdone, tarn_error *err) {
  uint32_t *idx;
  int64_t i;
  if (tarn_buf_reserve(&cw->vals, (size_t)nv * 4, err) != 0)
    return -1;
  idx = (uint32_t *)(void *)(cw->vals.data + cw->vals.len);
  for (i = s; i < s + k; i++) {
    const uint8_t *p;
    uint32_t len;
    uint64_t hv;
    int isnew, r;
    if (valid != NULL && !tarn__pqw_bit_at(valid, i))
      continue;
    if (bs->flba) {
      p = bs->data + (size_t)i * bs->wd;
      len = (uint32_t)bs->wd;
    } else {
      p = bs->data + bs->off[i];
      len = (uint32_t)(bs->off[i + 1] - bs->off[i]);
    }
    hv = tarn_xxh64(p, len, 0);
    r = tarn__pq_dict_put_bytes(&cw->dict, p, len, hv, &idx[*vdone], &isnew, err);
    if (r < 0)
      return -1;
    if (r == 0) { /* dictionary full */
      *done = i - s;
      break;
    }
    if (isnew && cw->bloom)
      tarn__pq_bloom_insert(cw->bloom_bits, cw->bloom_alloc, hv);
    (*vdone)++;
  }
  cw->vals.len += (size_t)*vdone * 4;
  return 0;
}

/* Byte arrays as PLAIN values (BYTE_ARRAY: 4-byte little-endian length, then bytes). */
static int bytes_plain(colw *cw, const byte_src *bs, const uint8_t *valid, int64_t s, int64_t k,
                       int64_t nv, tarn_error *err) {
  uint8_t *dst;
  int64_t i;
  size_t need =
      bs->flba ? (size_t)nv * bs->wd : (size_t)(bs->off[s + k] - bs->off[s]) + 4 * (size_t)k;
  if (tarn_buf_reserve(&cw->vals, need, err) != 0)
    return -1;
  dst = (uint8_t *)cw->vals.data + cw->vals.len;
  if (bs->flba) {
    if (valid == NULL)
      memcpy(dst, bs->data + (size_t)s * bs->wd, (size_t)nv * bs->wd);
    else
      compact(dst, bs->data, bs->wd, valid, s, k);
    if (cw->bloom)
      for (i = 0; i < nv; i++)
        bloom_add(cw, dst + (size_t)i * bs->wd, bs->wd);
    dst += (size_t)nv * bs->wd;
  } else {
    for (i = s; i < s + k; i++) {
      uint32_t len;
      if (valid != NULL && !tarn__pqw_bit_at(valid, i))
        continue;
      len = (uint32_t)(bs->off[i + 1] - bs->off[i]);
      dst[0] = (uint8_t)len;
      dst[1] = (uint8_t)(len >> 8);
      dst[2] = (uint8_t)(len >> 16);
      dst[3] = (uint8_t)(len >> 24);
      memcpy(dst + 4, bs->data + bs->off[i], len);
      if (cw->bloom)
        bloom_add(cw, dst + 4, len);
      dst += 4 + (size_t)len;
    }
  }
  cw->vals.len = (size_t)(dst - (uint8_t *)cw->vals.data);
  return 0;
}

static int64_t append_bytes(tarn_pq_writer *w, colw *cw, const tarn_pq_array *a,
                            const uint8_t *valid, int64_t s, int64_t k, int64_t nv) {
  const tarn_pq_column *c = cw->col;
  byte_src bs;
  int64_t done = k, vdone = 0;
  int rc;
  bs.flba = c->type == TARN_PQ_FIXED_LEN_BYTE_ARRAY;
  bs.off = bs.flba ? NULL : a->offsets;
  bs.data = bs.flba ? (const uint8_t *)a->values : a->data;
  bs.wd = (size_t)cw->width;
  if (cw->bloom && tarn__pqw_bloom_ensure(w, cw) != 0)
    return -1;
  if (cw->dict_active) {
    rc = bytes_dict(cw, &bs, valid, s, k, nv, &done, &vdone, &w->err);
  } else {
    rc = bytes_plain(cw, &bs, valid, s, k, nv, &w->err);
    vdone = nv;
  }
  if (rc != 0)
    return -1;
  if (!w->no_stats &&
      tarn__pq_acc_add_bytes(c, &cw->page_acc, bs.off, bs.data, bs.flba ? (int)bs.wd : 0, valid, s,
                             done, &w->err) != 0)
    return -1;
  commit_rows(cw, done, vdone);
  if (done < k) {
    if (fall_back(w, cw) != 0)
      return -1;
  }
  return done;
}

/* Appends rows [s, s+k) of a; returns the rows consumed (fewer than k only when the
 * dictionary filled up and the chunk switched to PLAIN), or -1 on error. */
static int64_t append_part(tarn_pq_writer *w, colw *cw, const tarn_pq_array *a, int64_t s,
                           int64_t k) {
  const tarn_pq_column *c = cw->col;
  const uint8_t *valid = c->optional ? a->validity : NULL;
  int64_t nv = k;
  if (c->optional && append_levels(cw, a, s, k, &valid, &nv, &w->err) != 0)
    return -1;
  switch (c->type) {
  case TARN_PQ_BOOLEAN: return append_bool(w, cw, a, valid, s, k, nv);
  case TARN_PQ_INT32:
  case TARN_PQ_INT64:
  case TARN_PQ_FLOAT:
  case TARN_PQ_DOUBLE:
    if (cw->bloom && tarn__pqw_bloom_ensure(w, cw) != 0)
      return -1;
    return cw->dict_active ? fixed_dict(w, cw, a, valid, s, k, nv)
                           : fixed_plain(w, cw, a, valid, s, k, nv);
  case TARN_PQ_BYTE_ARRAY:
  case TARN_PQ_FIXED_LEN_BYTE_ARRAY: return append_bytes(w, cw, a, valid, s, k, nv);
  default: tarn_error_set(&w->err, TARN_EINTERNAL, "parquet writer: unexpected type"); return -1;
  }
}

/* Rows of a from s (at most n) that fit the current page. */
static int64_t page_fit(const tarn_pq_writer *w, const colw *cw, const tarn_pq_array *a, int64_t s,
                        int64_t n) {
  int64_t k = w->page_rows_cap - cw->page_rows, fit;
  size_t est = tarn__pqw_page_estimate(cw);
  size_t budget = est < w->page_size ? w->page_size - est : 0;
  if (k > n)
    k = n;
  if (k < 1)
    k = 1;
  if (cw->dict_active) { /* stop at the early probe's mark (tarn__pqw_probe_early) */
    if (!cw->dict_probed && cw->page_rows < TARN__PQ_DICT_PROBE_VALUES &&
        k > TARN__PQ_DICT_PROBE_VALUES - cw->page_rows)
      k = TARN__PQ_DICT_PROBE_VALUES - cw->page_rows;
    return k;
  }
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
  return cw->page_rows >= w->page_rows_cap || tarn__pqw_page_estimate(cw) >= w->page_size;
}

int tarn__pqw_col_append(tarn_pq_writer *w, colw *cw, const tarn_pq_array *a, int64_t s,
                         int64_t n) {
  while (n > 0) {
    int64_t k = page_fit(w, cw, a, s, n), got;
    got = append_part(w, cw, a, s, k);
    if (got < 0)
      return w->err.code ? w->err.code : TARN_EINTERNAL;
    s += got;
    n -= got;
    if (cw->dict_active && !cw->dict_probed && tarn__pqw_probe_early(w, cw) != 0)
      return w->err.code ? w->err.code : TARN_EINTERNAL;
    if (page_full(w, cw)) {
      int rc = tarn__pqw_flush_page(w, cw);
      if (rc != 0)
        return rc;
    }
  }
  return 0;
}
