/* pq_index_read.c - decodes Parquet's per-page Thrift structures: PageHeader, ColumnIndex,
 * OffsetIndex and BloomFilterHeader, checking every count, length and offset. */
#include "pq_meta_read_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"

/* ---- page header ---- */

/* In functions that return a tarn_code: record the failure, return its code. */
#define FAILC(...) (tarn__thr_fail(__VA_ARGS__), t->code)

static int read_data_page_header(tarn__thrift *t, tarn__pq_page_header *h, int v2) {
  int16_t last = 0, id;
  int ft;
  unsigned seen = 0;
  T(tarn__thr_enter(t));
  for (;;) {
    int32_t v;
    T(tarn__thr_field(t, &last, &ft, &id));
    if (ft == TARN__THR_STOP)
      break;
    if ((ft == TARN__THR_TRUE || ft == TARN__THR_FALSE) && v2 && id == 7) {
      h->is_compressed = ft == TARN__THR_TRUE;
      continue;
    }
    if (ft != TARN__THR_I32 || id < 1 || id > (v2 ? 6 : 4)) {
      T(tarn__thr_skip(t, ft));
      continue;
    }
    T(tarn__thr_i32(t, &v));
    seen |= 1u << id;
    if (!v2) {
      switch (id) {
      case 1: h->num_values = v; break;
      case 2: h->encoding = (tarn_pq_encoding)v; break;
      case 3: h->def_encoding = (tarn_pq_encoding)v; break;
      case 4: h->rep_encoding = (tarn_pq_encoding)v; break;
      }
    } else {
      switch (id) {
      case 1: h->num_values = v; break;
      case 2: h->num_nulls = v; break;
      case 3: h->num_rows = v; break;
      case 4: h->encoding = (tarn_pq_encoding)v; break;
      case 5: h->def_levels_len = v; break;
      case 6: h->rep_levels_len = v; break;
      }
    }
  }
  tarn__thr_leave(t);
  if (seen != (v2 ? 0x7eu : 0x1eu))
    return tarn__thr_fail(t, "data page header lacks a required field");
  if (h->num_values < 0 || h->num_nulls < 0 || h->num_rows < 0 || h->def_levels_len < 0 ||
      h->rep_levels_len < 0)
    return tarn__thr_fail(t, "data page header has a negative count or length");
  return 0;
bad:
  return -1;
}

static int read_dict_page_header(tarn__thrift *t, tarn__pq_page_header *h) {
  int16_t last = 0, id;
  int ft;
  unsigned seen = 0;
  T(tarn__thr_enter(t));
  for (;;) {
    int32_t v;
    T(tarn__thr_field(t, &last, &ft, &id));
    if (ft == TARN__THR_STOP)
      break;
    if (id == 3 && (ft == TARN__THR_TRUE || ft == TARN__THR_FALSE)) {
      h->dict_is_sorted = ft == TARN__THR_TRUE;
    } else if ((id == 1 || id == 2) && ft == TARN__THR_I32) {
      T(tarn__thr_i32(t, &v));
      seen |= 1u << id;
      if (id == 1)
        h->dict_num_values = v;
      else
        h->dict_encoding = (tarn_pq_encoding)v;
    } else {
      T(tarn__thr_skip(t, ft));
    }
  }
  tarn__thr_leave(t);
  if (seen != 6u || h->dict_num_values < 0)
    return tarn__thr_fail(t, "dictionary page header is incomplete or negative");
  return 0;
bad:
  return -1;
}

int tarn__pq_decode_page_header(const uint8_t *p, size_t n, int64_t base, const char *name,
                                tarn__pq_page_header *h, size_t *used, tarn_error *err) {
  tarn__thrift th, *t = &th;
  int16_t last = 0, id;
  int ft, have_sub = 0;
  unsigned seen = 0;
  memset(h, 0, sizeof(*h));
  h->is_compressed = 1;
  tarn__thr_init(t, p, n, base, name, err);
  T(tarn__thr_enter(t));
  for (;;) {
    T(tarn__thr_field(t, &last, &ft, &id));
    if (ft == TARN__THR_STOP)
      break;
    if (id >= 1 && id <= 4 && ft == TARN__THR_I32) {
      int32_t v;
      T(tarn__thr_i32(t, &v));
      seen |= 1u << id;
      if (id == 1)
        h->type = (tarn__pq_page_type)v;
      else if (id == 2)
        h->uncompressed_size = v;
      else if (id == 3)
        h->compressed_size = v;
      else
        h->has_crc = 1, h->crc = (uint32_t)v;
    } else if (id == 5 && ft == TARN__THR_STRUCT && (seen & 2) && h->type == TARN__PQ_DATA_PAGE) {
      T(read_data_page_header(t, h, 0));
      have_sub = 1;
    } else if (id == 7 && ft == TARN__THR_STRUCT && (seen & 2) &&
               h->type == TARN__PQ_DICTIONARY_PAGE) {
      T(read_dict_page_header(t, h));
      have_sub = 1;
    } else if (id == 8 && ft == TARN__THR_STRUCT && (seen & 2) &&
               h->type == TARN__PQ_DATA_PAGE_V2) {
      T(read_data_page_header(t, h, 1));
      have_sub = 1;
    } else {
      T(tarn__thr_skip(t, ft));
    }
  }
  tarn__thr_leave(t);
  if ((seen & 0xe) != 0xe)
    return FAILC(t, "page header lacks its type or sizes");
  if (h->uncompressed_size < 0 || h->compressed_size < 0)
    return FAILC(t, "page header has negative sizes");
  if (!have_sub && (h->type == TARN__PQ_DATA_PAGE || h->type == TARN__PQ_DATA_PAGE_V2 ||
                    h->type == TARN__PQ_DICTIONARY_PAGE))
    return FAILC(t, "page header of type %d lacks its type-specific header", (int)h->type);
  *used = (size_t)(t->p - t->start);
  return 0;
bad:
  return t->code != 0 ? t->code : TARN_ECORRUPT;
}

/* ---- page index ---- */

int tarn__pq_decode_column_index(const uint8_t *p, size_t n, int64_t base, const char *name,
                                 tarn__pq_column_index *ci, tarn_error *err) {
  tarn__thrift th, *t = &th;
  int16_t last = 0, id;
  int ft, et;
  uint32_t cnt, i;
  size_t nmin = 0, nmax = 0, nnull = 0;
  unsigned seen = 0;
  memset(ci, 0, sizeof(*ci));
  tarn__thr_init(t, p, n, base, name, err);
  T(tarn__thr_enter(t));
  for (;;) {
    T(tarn__thr_field(t, &last, &ft, &id));
    if (ft == TARN__THR_STOP)
      break;
    if (id == 1 && ft == TARN__THR_LIST && !(seen & 2)) {
      T(tarn__thr_list(t, &et, &cnt));
      if (et != TARN__THR_TRUE && et != TARN__THR_FALSE)
        T(tarn__thr_fail(t, "ColumnIndex null_pages is not a list of bools"));
      ci->null_pages = tarn_calloc(cnt ? cnt : 1, 1);
      if (ci->null_pages == NULL) {
        tarn__pqm_oom(t);
        goto bad;
      }
      for (i = 0; i < cnt; i++) {
        int b;
        T(tarn__thr_bool_elem(t, &b));
        ci->null_pages[i] = (uint8_t)b;
      }
      ci->npages = cnt;
      seen |= 2;
    } else if ((id == 2 || id == 3) && ft == TARN__THR_LIST && !(seen & (1u << id))) {
      tarn_buf *bufs;
      T(tarn__thr_list(t, &et, &cnt));
      if (et != TARN__THR_BINARY)
        T(tarn__thr_fail(t, "ColumnIndex bounds are not a list of binaries"));
      bufs = tarn_calloc(cnt ? cnt : 1, sizeof(*bufs));
      if (bufs == NULL) {
        tarn__pqm_oom(t);
        goto bad;
      }
      if (id == 2)
        ci->min_values = bufs, nmin = cnt;
      else
        ci->max_values = bufs, nmax = cnt;
      for (i = 0; i < cnt; i++)
        tarn_buf_init(&bufs[i], TARN__PQ_MAX_STRING);
      for (i = 0; i < cnt; i++) {
        const uint8_t *v;
        uint32_t vn;
        T(tarn__thr_binary(t, &v, &vn, TARN__PQ_MAX_STRING));
        if (tarn_buf_append(&bufs[i], v, vn, NULL) != 0) {
          tarn__pqm_oom(t);
          goto bad;
        }
      }
      seen |= 1u << id;
    } else if (id == 4 && ft == TARN__THR_I32) {
      int32_t v;
      T(tarn__thr_i32(t, &v));
      ci->boundary_order = (tarn__pq_boundary_order)v;
      seen |= 16;
    } else if (id == 5 && ft == TARN__THR_LIST && ci->null_counts == NULL) {
      T(tarn__thr_list(t, &et, &cnt));
      if (et != TARN__THR_I64)
        T(tarn__thr_fail(t, "ColumnIndex null_counts is not a list of i64"));
      ci->null_counts = tarn_calloc(cnt ? cnt : 1, sizeof(int64_t));
      if (ci->null_counts == NULL) {
        tarn__pqm_oom(t);
        goto bad;
      }
      for (i = 0; i < cnt; i++)
        T(tarn__thr_i64(t, &ci->null_counts[i]));
      nnull = cnt;
    } else {
      T(tarn__thr_skip(t, ft));
    }
  }
  tarn__thr_leave(t);
  /* min/max lists were allocated with their own counts: make them agree before anything
   * frees them with npages. */
  if ((seen & 0xe) != 0xe || nmin != ci->npages || nmax != ci->npages) {
    size_t keep = ci->npages;
    ci->npages = nmin < nmax ? nmin : nmax;
    if (ci->min_values)
      for (i = (uint32_t)ci->npages; i < nmin; i++)
        tarn_buf_free(&ci->min_values[i]);
    if (ci->max_values)
      for (i = (uint32_t)ci->npages; i < nmax; i++)
        tarn_buf_free(&ci->max_values[i]);
    (void)keep;
    tarn__thr_fail(t, "ColumnIndex lists disagree on the page count");
    goto bad;
  }
  ci->has_null_counts = ci->null_counts != NULL && nnull == ci->npages;
  return 0;
bad:
  /* Lists may be partly filled: free what was allocated by the counts we saw. */
  {
    int code = t->code != 0 ? t->code : TARN_ECORRUPT;
    size_t k;
    for (k = 0; ci->min_values != NULL && k < nmin; k++)
      tarn_buf_free(&ci->min_values[k]);
    for (k = 0; ci->max_values != NULL && k < nmax; k++)
      tarn_buf_free(&ci->max_values[k]);
    tarn_free(ci->min_values);
    tarn_free(ci->max_values);
    tarn_free(ci->null_pages);
    tarn_free(ci->null_counts);
    memset(ci, 0, sizeof(*ci));
    return code;
  }
}

int tarn__pq_decode_offset_index(const uint8_t *p, size_t n, int64_t base, const char *name,
                                 tarn__pq_offset_index *oi, tarn_error *err) {
  tarn__thrift th, *t = &th;
  int16_t last = 0, id;
  int ft, et;
  uint32_t cnt, i;
  int have = 0;
  memset(oi, 0, sizeof(*oi));
  tarn__thr_init(t, p, n, base, name, err);
  T(tarn__thr_enter(t));
  for (;;) {
    T(tarn__thr_field(t, &last, &ft, &id));
    if (ft == TARN__THR_STOP)
      break;
    if (id == 1 && ft == TARN__THR_LIST && !have) {
      T(tarn__thr_list(t, &et, &cnt));
      if (et != TARN__THR_STRUCT)
        T(tarn__thr_fail(t, "OffsetIndex page_locations is not a list of structs"));
      oi->pages = tarn_calloc(cnt ? cnt : 1, sizeof(*oi->pages));
      if (oi->pages == NULL) {
        tarn__pqm_oom(t);
        goto bad;
      }
      for (i = 0; i < cnt; i++) {
        int16_t l2 = 0, id2;
        int ft2;
        unsigned seen = 0;
        tarn__pq_page_location *pl = &oi->pages[i];
        T(tarn__thr_enter(t));
        for (;;) {
          T(tarn__thr_field(t, &l2, &ft2, &id2));
          if (ft2 == TARN__THR_STOP)
            break;
          if (id2 == 1 && ft2 == TARN__THR_I64) {
            T(tarn__thr_i64(t, &pl->offset));
            seen |= 1;
          } else if (id2 == 2 && ft2 == TARN__THR_I32) {
            T(tarn__thr_i32(t, &pl->compressed_page_size));
            seen |= 2;
          } else if (id2 == 3 && ft2 == TARN__THR_I64) {
            T(tarn__thr_i64(t, &pl->first_row_index));
            seen |= 4;
          } else
            T(tarn__thr_skip(t, ft2));
        }
        tarn__thr_leave(t);
        if (seen != 7)
          T(tarn__thr_fail(t, "PageLocation %u is incomplete", i));
      }
      oi->npages = cnt;
      have = 1;
    } else {
      T(tarn__thr_skip(t, ft));
    }
  }
  tarn__thr_leave(t);
  if (!have)
    T(tarn__thr_fail(t, "OffsetIndex has no page locations"));
  return 0;
bad : {
  int code = t->code != 0 ? t->code : TARN_ECORRUPT;
  tarn__pq_offset_index_free(oi);
  return code;
}
}

/* A union whose only allowed member is field 1 (an empty struct). */
static int read_union1(tarn__thrift *t, int *ok) {
  int16_t last = 0, id;
  int ft;
  *ok = 0;
  T(tarn__thr_enter(t));
  for (;;) {
    T(tarn__thr_field(t, &last, &ft, &id));
    if (ft == TARN__THR_STOP)
      break;
    if (id == 1 && ft == TARN__THR_STRUCT)
      *ok = 1;
    T(tarn__thr_skip(t, ft));
  }
  tarn__thr_leave(t);
  return 0;
bad:
  return -1;
}

int tarn__pq_decode_bloom_header(const uint8_t *p, size_t n, int64_t base, const char *name,
                                 int32_t *num_bytes, size_t *used, tarn_error *err) {
  tarn__thrift th, *t = &th;
  int16_t last = 0, id;
  int ft, ok_alg = 0, ok_hash = 0, ok_comp = 0;
  int have_n = 0;
  tarn__thr_init(t, p, n, base, name, err);
  T(tarn__thr_enter(t));
  for (;;) {
    T(tarn__thr_field(t, &last, &ft, &id));
    if (ft == TARN__THR_STOP)
      break;
    if (id == 1 && ft == TARN__THR_I32) {
      T(tarn__thr_i32(t, num_bytes));
      have_n = 1;
    } else if (id == 2 && ft == TARN__THR_STRUCT) {
      T(read_union1(t, &ok_alg));
    } else if (id == 3 && ft == TARN__THR_STRUCT) {
      T(read_union1(t, &ok_hash));
    } else if (id == 4 && ft == TARN__THR_STRUCT) {
      T(read_union1(t, &ok_comp));
    } else {
      T(tarn__thr_skip(t, ft));
    }
  }
  tarn__thr_leave(t);
  if (!have_n)
    return FAILC(t, "bloom filter header lacks numBytes");
  if (!ok_alg || !ok_hash || !ok_comp)
    return t->code = TARN_EUNSUPPORTED,
           tarn_error_set(err, TARN_EUNSUPPORTED,
                          "%s: offset %lld: bloom filter uses an unknown algorithm, hash or "
                          "compression",
                          name, (long long)base);
  *used = (size_t)(t->p - t->start);
  return 0;
bad:
  return t->code != 0 ? t->code : TARN_ECORRUPT;
}
