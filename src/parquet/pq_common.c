/* pq_common.c - schema, metadata and batch lifecycles, names, ordering and bloom filters. */
#include "pq_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/hash.h"

int tarn_pq_schema_copy(tarn_pq_schema *dst, const tarn_pq_schema *src, tarn_error *err) {
  size_t i;
  dst->cols = NULL;
  dst->ncols = 0;
  if (src->ncols == 0)
    return 0;
  dst->cols = tarn_calloc(src->ncols, sizeof(*dst->cols));
  if (dst->cols == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory copying a schema");
  for (i = 0; i < src->ncols; i++) {
    dst->cols[i] = src->cols[i];
    dst->cols[i].name = tarn_strdup(src->cols[i].name ? src->cols[i].name : "");
    dst->ncols = i + 1;
    if (dst->cols[i].name == NULL) {
      tarn_pq_schema_free(dst);
      return tarn_error_set(err, TARN_ENOMEM, "out of memory copying a schema");
    }
  }
  return 0;
}

void tarn_pq_schema_free(tarn_pq_schema *s) {
  size_t i;
  if (s == NULL)
    return;
  for (i = 0; i < s->ncols; i++)
    tarn_free(s->cols[i].name);
  tarn_free(s->cols);
  s->cols = NULL;
  s->ncols = 0;
}

const char *tarn_pq_type_name(tarn_pq_type t) {
  static const char *const names[] = {"BOOLEAN", "INT32",  "INT64",      "INT96",
                                      "FLOAT",   "DOUBLE", "BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY"};
  return (unsigned)t < 8 ? names[t] : "UNKNOWN";
}

const char *tarn_pq_codec_name(tarn_pq_codec c) {
  static const char *const names[] = {"UNCOMPRESSED", "SNAPPY", "GZIP", "LZO",
                                      "BROTLI",       "LZ4",    "ZSTD", "LZ4_RAW"};
  return (unsigned)c < 8 ? names[c] : "UNKNOWN";
}

const char *tarn_pq_encoding_name(tarn_pq_encoding e) {
  switch (e) {
  case TARN_PQ_PLAIN: return "PLAIN";
  case TARN_PQ_PLAIN_DICTIONARY: return "PLAIN_DICTIONARY";
  case TARN_PQ_RLE: return "RLE";
  case TARN_PQ_BIT_PACKED: return "BIT_PACKED";
  case TARN_PQ_DELTA_BINARY_PACKED: return "DELTA_BINARY_PACKED";
  case TARN_PQ_DELTA_LENGTH_BYTE_ARRAY: return "DELTA_LENGTH_BYTE_ARRAY";
  case TARN_PQ_DELTA_BYTE_ARRAY: return "DELTA_BYTE_ARRAY";
  case TARN_PQ_RLE_DICTIONARY: return "RLE_DICTIONARY";
  case TARN_PQ_BYTE_STREAM_SPLIT: return "BYTE_STREAM_SPLIT";
  }
  return "UNKNOWN";
}

int tarn_pq_codec_parse(const char *s) {
  static const struct {
    const char *name;
    tarn_pq_codec c;
  } codecs[] = {{"uncompressed", TARN_PQ_UNCOMPRESSED},
                {"none", TARN_PQ_UNCOMPRESSED},
                {"snappy", TARN_PQ_SNAPPY},
                {"gzip", TARN_PQ_GZIP},
                {"zstd", TARN_PQ_ZSTD},
                {"lz4_raw", TARN_PQ_LZ4_RAW}};
  size_t i;
  for (i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++)
    if (strcasecmp(s, codecs[i].name) == 0)
      return (int)codecs[i].c;
  return -1;
}

void tarn_pq_column_describe(const tarn_pq_column *c, char *dst, size_t n) {
  static const char *const units[] = {"MILLIS", "MICROS", "NANOS"};
  const char *unit = (unsigned)c->unit < 3 ? units[c->unit] : "?";
  char phys[48];
  if (c->type == TARN_PQ_FIXED_LEN_BYTE_ARRAY)
    snprintf(phys, sizeof(phys), "FIXED_LEN_BYTE_ARRAY(%d)", (int)c->type_length);
  else
    snprintf(phys, sizeof(phys), "%s", tarn_pq_type_name(c->type));
  switch (c->logical) {
  case TARN_PQ_LT_STRING: snprintf(dst, n, "%s STRING", phys); break;
  case TARN_PQ_LT_DATE: snprintf(dst, n, "%s DATE", phys); break;
  case TARN_PQ_LT_JSON: snprintf(dst, n, "%s JSON", phys); break;
  case TARN_PQ_LT_ENUM: snprintf(dst, n, "%s ENUM", phys); break;
  case TARN_PQ_LT_UUID: snprintf(dst, n, "%s UUID", phys); break;
  case TARN_PQ_LT_FLOAT16: snprintf(dst, n, "%s FLOAT16", phys); break;
  case TARN_PQ_LT_TIME:
    snprintf(dst, n, "%s TIME(%s,%s)", phys, unit, c->adjusted_to_utc ? "utc" : "local");
    break;
  case TARN_PQ_LT_TIMESTAMP:
    snprintf(dst, n, "%s TIMESTAMP(%s,%s)", phys, unit, c->adjusted_to_utc ? "utc" : "local");
    break;
  case TARN_PQ_LT_INTEGER:
    snprintf(dst, n, "%s INTEGER(%d,%s)", phys, c->bit_width, c->is_signed ? "signed" : "unsigned");
    break;
  case TARN_PQ_LT_DECIMAL:
    snprintf(dst, n, "%s DECIMAL(%d,%d)", phys, (int)c->precision, (int)c->scale);
    break;
  default: snprintf(dst, n, "%s", phys); break;
  }
}

void tarn_pq_batch_free(tarn_pq_batch *b) {
  size_t i;
  if (b == NULL)
    return;
  for (i = 0; i < b->ncols; i++) {
    tarn_free(b->cols[i].validity);
    tarn_free(b->cols[i].values);
    tarn_free(b->cols[i].offsets);
    tarn_free(b->cols[i].data);
  }
  tarn_free(b->cols);
  tarn_free(b);
}

void tarn__pq_stats_init(tarn_pq_stats *s) {
  memset(s, 0, sizeof(*s));
  tarn_buf_init(&s->min, 1u << 20);
  tarn_buf_init(&s->max, 1u << 20);
}

void tarn__pq_stats_free(tarn_pq_stats *s) {
  tarn_buf_free(&s->min);
  tarn_buf_free(&s->max);
}

void tarn_pq_file_meta_free(tarn_pq_file_meta *m) {
  size_t i, j;
  if (m == NULL)
    return;
  for (i = 0; i < m->nrow_groups; i++) {
    if (m->row_groups[i].chunks != NULL)
      for (j = 0; j < m->schema.ncols; j++)
        tarn__pq_stats_free(&m->row_groups[i].chunks[j].stats);
    tarn_free(m->row_groups[i].chunks);
  }
  tarn_free(m->row_groups);
  for (i = 0; i < m->nkv; i++) {
    tarn_free(m->kv[i].key);
    tarn_free(m->kv[i].value);
  }
  tarn_free(m->kv);
  tarn_free(m->created_by);
  tarn_pq_schema_free(&m->schema);
  memset(m, 0, sizeof(*m));
}

void tarn_pq_file_info_free(tarn_pq_file_info *fi) {
  size_t i;
  if (fi == NULL)
    return;
  for (i = 0; i < fi->ncols; i++) {
    tarn_buf_free(&fi->cols[i].lower);
    tarn_buf_free(&fi->cols[i].upper);
  }
  tarn_free(fi->cols);
  tarn_free(fi->split_offsets);
  memset(fi, 0, sizeof(*fi));
}

void tarn__pq_offset_index_free(tarn__pq_offset_index *oi) {
  if (oi == NULL)
    return;
  tarn_free(oi->pages);
  oi->pages = NULL;
  oi->npages = 0;
}

void tarn__pq_column_index_free(tarn__pq_column_index *ci) {
  size_t i;
  if (ci == NULL)
    return;
  for (i = 0; ci->min_values != NULL && i < ci->npages; i++)
    tarn_buf_free(&ci->min_values[i]);
  for (i = 0; ci->max_values != NULL && i < ci->npages; i++)
    tarn_buf_free(&ci->max_values[i]);
  tarn_free(ci->min_values);
  tarn_free(ci->max_values);
  tarn_free(ci->null_pages);
  tarn_free(ci->null_counts);
  memset(ci, 0, sizeof(*ci));
}

/* ---- ordering ---- */

static int64_t le_int(const uint8_t *p, size_t n) {
  uint64_t v = 0;
  size_t i;
  for (i = 0; i < n; i++)
    v |= (uint64_t)p[i] << (8 * i);
  if (n == 4)
    return (int32_t)(uint32_t)v;
  return (int64_t)v;
}

static int cmp_bytes(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen) {
  size_t n = alen < blen ? alen : blen;
  int c = n ? memcmp(a, b, n) : 0; /* memcmp compares as unsigned char */
  if (c != 0)
    return c;
  return alen < blen ? -1 : alen > blen;
}

/* Big-endian two's complement of possibly different widths. */
static int cmp_decimal_be(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen) {
  int aneg = alen > 0 && (a[0] & 0x80), bneg = blen > 0 && (b[0] & 0x80);
  size_t width = alen > blen ? alen : blen, i;
  if (aneg != bneg)
    return aneg ? -1 : 1;
  for (i = 0; i < width; i++) { /* sign-extend the shorter one on the left */
    uint8_t x = i < width - alen ? (aneg ? 0xff : 0) : a[i - (width - alen)];
    uint8_t y = i < width - blen ? (bneg ? 0xff : 0) : b[i - (width - blen)];
    if (x != y)
      return x < y ? -1 : 1;
  }
  return 0;
}

double tarn_pq_float16_to_double(const uint8_t *p) {
  unsigned h = (unsigned)p[0] | (unsigned)p[1] << 8, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  double v;
  if (e == 0)
    v = ldexp((double)m, -24); /* subnormal */
  else if (e == 31)
    v = m != 0 ? (double)NAN : (double)INFINITY;
  else
    v = ldexp((double)(m | 0x400), (int)e - 25);
  return (h & 0x8000) ? -v : v;
}

int tarn__pq_compare(const tarn_pq_column *c, const uint8_t *a, size_t alen, const uint8_t *b,
                     size_t blen) {
  switch (c->type) {
  case TARN_PQ_BOOLEAN: return (alen ? a[0] & 1 : 0) - (blen ? b[0] & 1 : 0);
  case TARN_PQ_INT32:
  case TARN_PQ_INT64: {
    if (c->logical == TARN_PQ_LT_INTEGER && !c->is_signed) {
      uint64_t x = (uint64_t)le_int(a, alen), y = (uint64_t)le_int(b, blen);
      if (alen == 4) {
        x &= 0xffffffffu;
        y &= 0xffffffffu;
      }
      return x < y ? -1 : x > y;
    }
    {
      int64_t x = le_int(a, alen), y = le_int(b, blen);
      return x < y ? -1 : x > y;
    }
  }
  case TARN_PQ_FLOAT: {
    float x, y;
    if (alen < 4 || blen < 4)
      return cmp_bytes(a, alen, b, blen);
    memcpy(&x, a, 4);
    memcpy(&y, b, 4);
    return x < y ? -1 : x > y;
  }
  case TARN_PQ_DOUBLE: {
    double x, y;
    if (alen < 8 || blen < 8)
      return cmp_bytes(a, alen, b, blen);
    memcpy(&x, a, 8);
    memcpy(&y, b, 8);
    return x < y ? -1 : x > y;
  }
  case TARN_PQ_FIXED_LEN_BYTE_ARRAY:
  case TARN_PQ_BYTE_ARRAY:
    if (c->logical == TARN_PQ_LT_DECIMAL)
      return cmp_decimal_be(a, alen, b, blen);
    if (c->logical == TARN_PQ_LT_FLOAT16 && alen == 2 && blen == 2) {
      /* Parquet orders FLOAT16 statistics by value, as floats (IEEE; NaN never a bound) */
      double x = tarn_pq_float16_to_double(a), y = tarn_pq_float16_to_double(b);
      return x < y ? -1 : x > y;
    }
    return cmp_bytes(a, alen, b, blen);
  default: return cmp_bytes(a, alen, b, blen);
  }
}

/* ---- split-block bloom filter ---- */

static const uint32_t bloom_salt[8] = {0x47b6137bu, 0x44974d91u, 0x8824ad5bu, 0xa2b7289du,
                                       0x705495c7u, 0x2df1424bu, 0x9efc4947u, 0x5c6bfb31u};

size_t tarn__pq_bloom_size(int64_t ndv, double fpp) {
  double bits;
  size_t bytes = 32;
  if (ndv < 1)
    ndv = 1;
  if (!(fpp > 0 && fpp < 1))
    fpp = 0.01;
  /* The spec's formula for split-block filters: m = -8n / ln(1 - p^(1/8)). */
  bits = -8.0 * (double)ndv / log(1.0 - pow(fpp, 1.0 / 8.0));
  while ((double)bytes * 8 < bits && bytes < (128u << 20))
    bytes <<= 1;
  return bytes;
}

void tarn__pq_bloom_insert(uint8_t *bitset, size_t nbytes, uint64_t hash) {
  uint64_t nblocks = nbytes / 32;
  uint64_t block = ((hash >> 32) * nblocks) >> 32;
  uint32_t key = (uint32_t)hash;
  uint8_t *b = bitset + block * 32;
  int i;
  for (i = 0; i < 8; i++) {
    uint32_t bit = (key * bloom_salt[i]) >> 27;
    uint32_t word;
    memcpy(&word, b + 4 * i, 4); /* little-endian host assumed (x86_64, aarch64) */
    word |= 1u << bit;
    memcpy(b + 4 * i, &word, 4);
  }
}

int tarn__pq_bloom_check(const uint8_t *bitset, size_t nbytes, uint64_t hash) {
  uint64_t nblocks = nbytes / 32;
  uint64_t block = ((hash >> 32) * nblocks) >> 32;
  uint32_t key = (uint32_t)hash;
  const uint8_t *b = bitset + block * 32;
  int i;
  if (nblocks == 0)
    return 1;
  for (i = 0; i < 8; i++) {
    uint32_t bit = (key * bloom_salt[i]) >> 27;
    uint32_t word;
    memcpy(&word, b + 4 * i, 4);
    if ((word & (1u << bit)) == 0)
      return 0;
  }
  return 1;
}

uint64_t tarn__pq_hash_value(const tarn_pq_column *c, const uint8_t *plain, size_t len) {
  (void)c;
  return tarn_xxh64(plain, len, 0);
}

int tarn_pq_plain_width(const tarn_pq_column *c) {
  switch (c->type) {
  case TARN_PQ_BOOLEAN: return 1;
  case TARN_PQ_INT32:
  case TARN_PQ_FLOAT: return 4;
  case TARN_PQ_INT64:
  case TARN_PQ_DOUBLE: return 8;
  case TARN_PQ_INT96: return 12;
  case TARN_PQ_FIXED_LEN_BYTE_ARRAY: return c->type_length;
  default: return 0;
  }
}

int tarn_pq_array_width(const tarn_pq_column *c) {
  return c->type == TARN_PQ_BOOLEAN ? 0 : tarn_pq_plain_width(c);
}
