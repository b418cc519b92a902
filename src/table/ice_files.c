/* ice_files.c - data files and manifest-list entries: lifecycles and metrics from Parquet. */
#include "table.h"

#include <string.h>

#include "base/alloc.h"
#include "table_int.h"

static void stats_free(tarn_ice_column_stats *s, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    tarn_buf_free(&s[i].lower);
    tarn_buf_free(&s[i].upper);
  }
  tarn_free(s);
}

void tarn_ice_data_file_free(tarn_ice_data_file *f) {
  if (f == NULL)
    return;
  tarn_free(f->file_path);
  tarn_free(f->file_format);
  tarn_free(f->partition);
  tarn_buf_free(&f->partition_buf);
  stats_free(f->stats, f->nstats);
  tarn_free(f->split_offsets);
  memset(f, 0, sizeof(*f));
}

/* Copies a buffer's content into a fresh uncapped buffer. */
static int buf_copy(tarn_buf *dst, const tarn_buf *src, tarn_error *err) {
  tarn_buf_init(dst, TARN_BUF_UNLIMITED);
  return src->len ? tarn_buf_append(dst, src->data, src->len, err) : 0;
}

int tarn_ice_data_file_copy(tarn_ice_data_file *dst, const tarn_ice_data_file *src,
                            tarn_error *err) {
  size_t i;
  int rc = TARN_ENOMEM;
  memset(dst, 0, sizeof(*dst));
  dst->content = src->content;
  dst->spec_id = src->spec_id;
  dst->record_count = src->record_count;
  dst->file_size = src->file_size;
  dst->sort_order_id = src->sort_order_id;
  tarn_buf_init(&dst->partition_buf, TARN_BUF_UNLIMITED);
  dst->file_path = tarn_strdup(src->file_path ? src->file_path : "");
  dst->file_format = tarn_strdup(src->file_format ? src->file_format : "PARQUET");
  if (dst->file_path == NULL || dst->file_format == NULL)
    goto fail;
  if (buf_copy(&dst->partition_buf, &src->partition_buf, err) != 0)
    goto fail;
  if (src->npartition > 0) {
    dst->partition = tarn_calloc(src->npartition, sizeof(*dst->partition));
    if (dst->partition == NULL)
      goto fail;
    for (i = 0; i < src->npartition; i++) {
      dst->partition[i] = src->partition[i];
      if (src->partition[i].bytes != NULL) /* rebase into our own buffer */
        dst->partition[i].bytes =
            (const uint8_t *)dst->partition_buf.data +
            (src->partition[i].bytes - (const uint8_t *)src->partition_buf.data);
    }
    dst->npartition = src->npartition;
  }
  if (src->nstats > 0) {
    dst->stats = tarn_calloc(src->nstats, sizeof(*dst->stats));
    if (dst->stats == NULL)
      goto fail;
    for (i = 0; i < src->nstats; i++) {
      dst->stats[i] = src->stats[i];
      tarn_buf_init(&dst->stats[i].lower, TARN_BUF_UNLIMITED);
      tarn_buf_init(&dst->stats[i].upper, TARN_BUF_UNLIMITED);
      dst->nstats = i + 1;
      if (buf_copy(&dst->stats[i].lower, &src->stats[i].lower, err) != 0 ||
          buf_copy(&dst->stats[i].upper, &src->stats[i].upper, err) != 0)
        goto fail;
    }
  }
  if (src->nsplits > 0) {
    dst->split_offsets = tarn_calloc(src->nsplits, sizeof(int64_t));
    if (dst->split_offsets == NULL)
      goto fail;
    memcpy(dst->split_offsets, src->split_offsets, src->nsplits * sizeof(int64_t));
    dst->nsplits = src->nsplits;
  }
  return 0;
fail:
  tarn_ice_data_file_free(dst);
  return tarn_error_set(err, rc, "out of memory copying a data file entry");
}

void tarn_ice_manifest_file_free(tarn_ice_manifest_file *m) {
  size_t i;
  if (m == NULL)
    return;
  tarn_free(m->manifest_path);
  for (i = 0; i < m->npartitions; i++) {
    tarn_buf_free(&m->partitions[i].lower);
    tarn_buf_free(&m->partitions[i].upper);
  }
  tarn_free(m->partitions);
  memset(m, 0, sizeof(*m));
}

int tarn_ice_manifest_file_copy(tarn_ice_manifest_file *dst, const tarn_ice_manifest_file *src,
                                tarn_error *err) {
  size_t i;
  *dst = *src;
  dst->manifest_path = NULL;
  dst->partitions = NULL;
  dst->npartitions = 0;
  dst->manifest_path = tarn_strdup(src->manifest_path ? src->manifest_path : "");
  if (dst->manifest_path == NULL)
    goto fail;
  if (src->npartitions > 0) {
    dst->partitions = tarn_calloc(src->npartitions, sizeof(*dst->partitions));
    if (dst->partitions == NULL)
      goto fail;
    for (i = 0; i < src->npartitions; i++) {
      dst->partitions[i] = src->partitions[i];
      tarn_buf_init(&dst->partitions[i].lower, TARN_BUF_UNLIMITED);
      tarn_buf_init(&dst->partitions[i].upper, TARN_BUF_UNLIMITED);
      dst->npartitions = i + 1;
      if (buf_copy(&dst->partitions[i].lower, &src->partitions[i].lower, err) != 0 ||
          buf_copy(&dst->partitions[i].upper, &src->partitions[i].upper, err) != 0)
        goto fail;
    }
  }
  return 0;
fail:
  tarn_ice_manifest_file_free(dst);
  return tarn_error_set(err, TARN_ENOMEM, "out of memory copying a manifest-list entry");
}

/* ---- metrics from Parquet ---- */

/*
 * Rounds a truncated UTF-8 prefix up: increments its last code point that can be
 * incremented (skipping surrogates and U+10FFFF), dropping what follows. Returns the new
 * length, or 0 when no code point can be incremented (no upper bound then).
 */
static size_t utf8_round_up(uint8_t *s, size_t n) {
  while (n > 0) {
    size_t start = n - 1, len;
    uint32_t cp;
    while (start > 0 && (s[start] & 0xc0) == 0x80)
      start--;
    len = n - start;
    if (len == 1)
      cp = s[start];
    else if (len == 2)
      cp = (uint32_t)(s[start] & 0x1f) << 6 | (s[start + 1] & 0x3f);
    else if (len == 3)
      cp = (uint32_t)(s[start] & 0x0f) << 12 | (uint32_t)(s[start + 1] & 0x3f) << 6 |
           (s[start + 2] & 0x3f);
    else
      cp = (uint32_t)(s[start] & 0x07) << 18 | (uint32_t)(s[start + 1] & 0x3f) << 12 |
           (uint32_t)(s[start + 2] & 0x3f) << 6 | (s[start + 3] & 0x3f);
    cp++;
    if (cp >= 0xd800 && cp <= 0xdfff)
      cp = 0xe000;
    if (cp <= 0x10ffff) {
      size_t w = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
      /* The new code point may need one byte more than the old (U+007F -> U+0080);
       * callers leave that room after n. */
      if (w == 1) {
        s[start] = (uint8_t)cp;
      } else if (w == 2) {
        s[start] = (uint8_t)(0xc0 | (cp >> 6));
        s[start + 1] = (uint8_t)(0x80 | (cp & 0x3f));
      } else if (w == 3) {
        s[start] = (uint8_t)(0xe0 | (cp >> 12));
        s[start + 1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        s[start + 2] = (uint8_t)(0x80 | (cp & 0x3f));
      } else {
        s[start] = (uint8_t)(0xf0 | (cp >> 18));
        s[start + 1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
        s[start + 2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        s[start + 3] = (uint8_t)(0x80 | (cp & 0x3f));
      }
      return start + w;
    }
    n = start; /* U+10FFFF: carry into the previous code point */
  }
  return 0;
}

/* Rounds a truncated byte string up: increments its last byte below 0xff. */
static size_t bytes_round_up(uint8_t *s, size_t n) {
  while (n > 0) {
    if (s[n - 1] != 0xff) {
      s[n - 1]++;
      return n;
    }
    n--;
  }
  return 0;
}

/* Converts one Parquet PLAIN bound into Iceberg's serialization in out. upper selects
 * rounding up on truncation. Returns 0 with *ok = 0 when no bound can be given. */
static int convert_bound(const tarn_ice_field *f, const tarn_pq_column *pc, const tarn_buf *in,
                         int upper, size_t truncate, tarn_buf *out, int *ok, tarn_error *err) {
  const uint8_t *p = (const uint8_t *)in->data;
  size_t n = in->len;
  uint8_t tmp[1024 + 8];
  tarn_ice_value v;
  *ok = 1;
  memset(&v, 0, sizeof(v));
  switch (f->type.id) {
  case TARN_ICE_STRING:
  case TARN_ICE_BINARY: {
    size_t keep = n;
    if (truncate > 0)
      keep = f->type.id == TARN_ICE_STRING ? tarn__ice_utf8_prefix(p, n, truncate)
                                           : (n < truncate ? n : truncate);
    if (keep == n)
      return tarn_buf_append(out, p, n, err);
    if (!upper)
      return tarn_buf_append(out, p, keep, err);
    if (keep > sizeof(tmp) - 8) {
      *ok = 0;
      return 0;
    }
    memcpy(tmp, p, keep);
    keep = f->type.id == TARN_ICE_STRING ? utf8_round_up(tmp, keep) : bytes_round_up(tmp, keep);
    if (keep == 0) {
      *ok = 0;
      return 0;
    }
    return tarn_buf_append(out, tmp, keep, err);
  }
  case TARN_ICE_DECIMAL:
    if (pc->type == TARN_PQ_INT32 && n == 4) {
      v.i64 = (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                        (uint32_t)p[3] << 24);
    } else if (pc->type == TARN_PQ_INT64 && n == 8) {
      uint64_t u = 0;
      int i;
      for (i = 7; i >= 0; i--)
        u = u << 8 | p[i];
      v.i64 = (int64_t)u;
    } else if (pc->type == TARN_PQ_FIXED_LEN_BYTE_ARRAY && n > 0 && n <= 16) {
      v.wide = 1;
      v.bytes = p;
      v.len = n;
    } else {
      *ok = 0;
      return 0;
    }
    return tarn_ice_value_serialize(&f->type, &v, out, err);
  default:
    /* booleans, ints, longs, floats, doubles, dates, times, timestamps, uuid, fixed:
     * Parquet's PLAIN single value is already Iceberg's encoding */
    return tarn_buf_append(out, p, n, err);
  }
}

int tarn_ice_stats_from_parquet(const tarn_ice_schema *schema, const tarn_pq_file_info *info,
                                size_t truncate, tarn_ice_column_stats **out, size_t *nout,
                                tarn_error *err) {
  tarn_ice_column_stats *st;
  tarn_pq_schema pq;
  size_t i;
  int rc;
  *out = NULL;
  *nout = 0;
  if (info->ncols != schema->nfields)
    return tarn_error_set(err, TARN_EINVAL,
                          "data file has %zu columns but the table schema has %zu", info->ncols,
                          schema->nfields);
  rc = tarn_ice_schema_to_parquet(schema, &pq, err);
  if (rc != 0)
    return rc;
  st = tarn_calloc(info->ncols ? info->ncols : 1, sizeof(*st));
  if (st == NULL) {
    tarn_pq_schema_free(&pq);
    return tarn_error_set(err, TARN_ENOMEM, "out of memory for column metrics");
  }
  for (i = 0; i < info->ncols; i++) {
    const tarn_pq_column_info *ci = &info->cols[i];
    const tarn_ice_field *f = &schema->fields[i];
    tarn_ice_column_stats *s = &st[i];
    int ok;
    tarn_buf_init(&s->lower, TARN_BUF_UNLIMITED);
    tarn_buf_init(&s->upper, TARN_BUF_UNLIMITED);
    *nout = i + 1;
    if (ci->field_id != f->id) {
      rc = tarn_error_set(err, TARN_EINVAL, "data file column %zu has field id %d, expected %d", i,
                          (int)ci->field_id, (int)f->id);
      goto fail;
    }
    s->field_id = f->id;
    s->column_size = ci->compressed_size;
    s->value_count = ci->value_count;
    s->null_count = ci->null_count;
    s->nan_count =
        (f->type.id == TARN_ICE_FLOAT || f->type.id == TARN_ICE_DOUBLE) ? ci->nan_count : -1;
    if (!ci->has_bounds)
      continue;
    rc = convert_bound(f, &pq.cols[i], &ci->lower, 0, truncate, &s->lower, &ok, err);
    if (rc != 0)
      goto fail;
    s->has_lower = ok;
    rc = convert_bound(f, &pq.cols[i], &ci->upper, 1, truncate, &s->upper, &ok, err);
    if (rc != 0)
      goto fail;
    s->has_upper = ok;
  }
  tarn_pq_schema_free(&pq);
  *out = st;
  return 0;
fail:
  tarn_pq_schema_free(&pq);
  stats_free(st, *nout);
  *nout = 0;
  return rc;
}
