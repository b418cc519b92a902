/* pq_stats.c - statistics accumulation: min/max by the column's order, null and NaN
 * counts, and the truncation of byte-string bounds. */
#include "pq_write_int.h"

#include <math.h>
#include <string.h>

void tarn__pq_acc_init(tarn__pq_acc *a) {
  memset(a, 0, sizeof(*a));
  tarn_buf_init(&a->bmin, TARN_BUF_UNLIMITED);
  tarn_buf_init(&a->bmax, TARN_BUF_UNLIMITED);
}

void tarn__pq_acc_reset(tarn__pq_acc *a) {
  a->has = 0;
  a->nulls = a->nans = 0;
  tarn_buf_reset(&a->bmin);
  tarn_buf_reset(&a->bmax);
}

void tarn__pq_acc_free(tarn__pq_acc *a) {
  tarn_buf_free(&a->bmin);
  tarn_buf_free(&a->bmax);
  a->has = 0;
}

static int unsigned_int(const tarn_pq_column *c) {
  return c->logical == TARN_PQ_LT_INTEGER && !c->is_signed;
}

/* One loop per type: the min and max of n values, then a merge into the accumulator. */
#define ACC_INT_LOOP(T, vals, n, a)                                                                \
  do {                                                                                             \
    const T *v_ = (const T *)(vals);                                                               \
    T mn_, mx_, cur_;                                                                              \
    size_t i_;                                                                                     \
    mn_ = mx_ = v_[0];                                                                             \
    for (i_ = 1; i_ < (n); i_++) {                                                                 \
      T x_ = v_[i_];                                                                               \
      mn_ = x_ < mn_ ? x_ : mn_;                                                                   \
      mx_ = x_ > mx_ ? x_ : mx_;                                                                   \
    }                                                                                              \
    if ((a)->has) {                                                                                \
      memcpy(&cur_, (a)->min8, sizeof(T));                                                         \
      if (cur_ < mn_)                                                                              \
        mn_ = cur_;                                                                                \
      memcpy(&cur_, (a)->max8, sizeof(T));                                                         \
      if (cur_ > mx_)                                                                              \
        mx_ = cur_;                                                                                \
    }                                                                                              \
    memcpy((a)->min8, &mn_, sizeof(T));                                                            \
    memcpy((a)->max8, &mx_, sizeof(T));                                                            \
    (a)->has = 1;                                                                                  \
  } while (0)

/* NaN never wins a comparison, so it is skipped without a branch; it is only counted. */
#define ACC_FLOAT_LOOP(T, INF, vals, n, a)                                                         \
  do {                                                                                             \
    const T *v_ = (const T *)(vals);                                                               \
    T mn_ = (INF), mx_ = -(INF), cur_;                                                             \
    size_t i_, nan_ = 0;                                                                           \
    for (i_ = 0; i_ < (n); i_++) {                                                                 \
      T x_ = v_[i_];                                                                               \
      nan_ += x_ != x_;                                                                            \
      mn_ = x_ < mn_ ? x_ : mn_;                                                                   \
      mx_ = x_ > mx_ ? x_ : mx_;                                                                   \
    }                                                                                              \
    (a)->nans += (int64_t)nan_;                                                                    \
    if (nan_ < (n)) {                                                                              \
      if ((a)->has) {                                                                              \
        memcpy(&cur_, (a)->min8, sizeof(T));                                                       \
        if (cur_ < mn_)                                                                            \
          mn_ = cur_;                                                                              \
        memcpy(&cur_, (a)->max8, sizeof(T));                                                       \
        if (cur_ > mx_)                                                                            \
          mx_ = cur_;                                                                              \
      }                                                                                            \
      memcpy((a)->min8, &mn_, sizeof(T));                                                          \
      memcpy((a)->max8, &mx_, sizeof(T));                                                          \
      (a)->has = 1;                                                                                \
    }                                                                                              \
  } while (0)

void tarn__pq_acc_add_fixed(const tarn_pq_column *c, tarn__pq_acc *a, const void *vals, size_t n) {
  if (n == 0)
    return;
  switch (c->type) {
  case TARN_PQ_INT32:
    if (unsigned_int(c))
      ACC_INT_LOOP(uint32_t, vals, n, a);
    else
      ACC_INT_LOOP(int32_t, vals, n, a);
    break;
  case TARN_PQ_INT64:
    if (unsigned_int(c))
      ACC_INT_LOOP(uint64_t, vals, n, a);
    else
      ACC_INT_LOOP(int64_t, vals, n, a);
    break;
  case TARN_PQ_FLOAT: ACC_FLOAT_LOOP(float, INFINITY, vals, n, a); break;
  case TARN_PQ_DOUBLE: ACC_FLOAT_LOOP(double, (double)INFINITY, vals, n, a); break;
  default: break;
  }
}

void tarn__pq_acc_add_bool(tarn__pq_acc *a, int saw_false, int saw_true) {
  uint8_t lo, hi;
  if (!saw_false && !saw_true)
    return;
  lo = saw_false ? 0 : 1;
  hi = saw_true ? 1 : 0;
  if (!a->has) {
    a->min8[0] = lo;
    a->max8[0] = hi;
    a->has = 1;
    return;
  }
  if (lo < a->min8[0])
    a->min8[0] = lo;
  if (hi > a->max8[0])
    a->max8[0] = hi;
}

static int cmp_bytes(const tarn_pq_column *c, const uint8_t *x, size_t xn, const uint8_t *y,
                     size_t yn) {
  size_t m;
  int r;
  if (c->logical == TARN_PQ_LT_DECIMAL)
    return tarn__pq_compare(c, x, xn, y, yn);
  m = xn < yn ? xn : yn;
  r = m ? memcmp(x, y, m) : 0;
  if (r != 0)
    return r;
  return xn < yn ? -1 : xn > yn;
}

static int set_buf(tarn_buf *b, const uint8_t *p, size_t n, tarn_error *err) {
  tarn_buf_reset(b);
  return tarn_buf_append(b, p, n, err);
}

/* One candidate byte string (dictionary entries, merges). */
static int acc_add_one(const tarn_pq_column *c, tarn__pq_acc *a, const uint8_t *p, size_t n,
                       tarn_error *err) {
  int rc;
  if (!a->has) {
    rc = set_buf(&a->bmin, p, n, err);
    if (rc == 0)
      rc = set_buf(&a->bmax, p, n, err);
    if (rc == 0)
      a->has = 1;
    return rc;
  }
  if (cmp_bytes(c, p, n, (const uint8_t *)a->bmin.data, a->bmin.len) < 0) {
    rc = set_buf(&a->bmin, p, n, err);
    if (rc != 0)
      return rc;
  }
  if (cmp_bytes(c, p, n, (const uint8_t *)a->bmax.data, a->bmax.len) > 0)
    return set_buf(&a->bmax, p, n, err);
  return 0;
}

/* The first 8 bytes of a byte string as a big-endian number, zero-padded. A strictly
 * greater (smaller) key means a strictly greater (smaller) string in unsigned byte-wise
 * order, so most values are placed between the bounds without a memcmp. */
static uint64_t prefix_key(const uint8_t *p, size_t len) {
  uint64_t k = 0;
  size_t i;
  if (len >= 8) {
    memcpy(&k, p, 8);
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    k = __builtin_bswap64(k);
#endif
    return k;
  }
  for (i = 0; i < len; i++)
    k |= (uint64_t)p[i] << (56 - 8 * i);
  return k;
}

int tarn__pq_acc_add_bytes(const tarn_pq_column *c, tarn__pq_acc *a, const int64_t *offsets,
                           const uint8_t *data, int flba, const uint8_t *validity, int64_t start,
                           int64_t n, tarn_error *err) {
  const uint8_t *mn = NULL, *mx = NULL;
  size_t mnl = 0, mxl = 0;
  uint64_t kmn = 0, kmx = 0; /* prefix keys of mn and mx */
  int64_t i;
  int decimal = c->logical == TARN_PQ_LT_DECIMAL, rc;
  for (i = start; i < start + n; i++) {
    const uint8_t *p;
    size_t len;
    if (validity != NULL && !((validity[i >> 3] >> (i & 7)) & 1))
      continue;
    if (offsets != NULL) {
      p = data + offsets[i];
      len = (size_t)(offsets[i + 1] - offsets[i]);
    } else {
      p = data + (size_t)i * (size_t)flba;
      len = (size_t)flba;
    }
    if (mn == NULL) {
      mn = mx = p;
      mnl = mxl = len;
      kmn = kmx = prefix_key(p, len);
      continue;
    }
    if (!decimal) { /* inline unsigned byte-wise order */
      uint64_t k = prefix_key(p, len);
      size_t m;
      int r;
      if (k > kmn && k < kmx)
        continue;
      m = len < mnl ? len : mnl;
      r = m ? memcmp(p, mn, m) : 0;
      if (r < 0 || (r == 0 && len < mnl)) {
        mn = p;
        mnl = len;
        kmn = k;
        continue;
      }
      m = len < mxl ? len : mxl;
      r = m ? memcmp(p, mx, m) : 0;
      if (r > 0 || (r == 0 && len > mxl)) {
        mx = p;
        mxl = len;
        kmx = k;
      }
    } else {
      if (cmp_bytes(c, p, len, mn, mnl) < 0) {
        mn = p;
        mnl = len;
      } else if (cmp_bytes(c, p, len, mx, mxl) > 0) {
        mx = p;
        mxl = len;
      }
    }
  }
  if (mn == NULL)
    return 0;
  rc = acc_add_one(c, a, mn, mnl, err);
  if (rc == 0 && (mx != mn || mxl != mnl)) /* an empty value shares its pointer with the next */
    rc = acc_add_one(c, a, mx, mxl, err);
  return rc;
}

/* Bytes of a value kept in min8/max8 (BOOLEAN and numbers); 0 for values kept in
 * bmin/bmax (byte arrays, fixed-length byte arrays, INT96). */
static size_t fixed_width(const tarn_pq_column *c) {
  if (c->type == TARN_PQ_FIXED_LEN_BYTE_ARRAY || c->type == TARN_PQ_INT96)
    return 0;
  return (size_t)tarn_pq_plain_width(c);
}

int tarn__pq_acc_merge(const tarn_pq_column *c, tarn__pq_acc *dst, const tarn__pq_acc *src,
                       tarn_error *err) {
  size_t w = fixed_width(c);
  int rc;
  dst->nulls += src->nulls;
  dst->nans += src->nans;
  if (!src->has)
    return 0;
  if (w == 0) {
    rc = acc_add_one(c, dst, (const uint8_t *)src->bmin.data, src->bmin.len, err);
    if (rc == 0)
      rc = acc_add_one(c, dst, (const uint8_t *)src->bmax.data, src->bmax.len, err);
    return rc;
  }
  if (!dst->has) {
    memcpy(dst->min8, src->min8, 8);
    memcpy(dst->max8, src->max8, 8);
    dst->has = 1;
    return 0;
  }
  if (tarn__pq_compare(c, src->min8, w, dst->min8, w) < 0)
    memcpy(dst->min8, src->min8, 8);
  if (tarn__pq_compare(c, src->max8, w, dst->max8, w) > 0)
    memcpy(dst->max8, src->max8, 8);
  return 0;
}

static int is_utf8_type(const tarn_pq_column *c) {
  return c->type == TARN_PQ_BYTE_ARRAY &&
         (c->logical == TARN_PQ_LT_STRING || c->logical == TARN_PQ_LT_JSON ||
          c->logical == TARN_PQ_LT_ENUM);
}

int tarn__pq_acc_bounds(const tarn_pq_column *c, const tarn__pq_acc *a, size_t truncate, int *has,
                        tarn_buf *lo, int *lo_exact, tarn_buf *hi, int *hi_exact, tarn_error *err) {
  size_t w = fixed_width(c);
  int rc;
  *has = a->has;
  *lo_exact = *hi_exact = 1;
  if (!a->has)
    return 0;
  if (w != 0) {
    uint8_t mn[8], mx[8];
    memcpy(mn, a->min8, 8);
    memcpy(mx, a->max8, 8);
    /* Parquet's rule for floats under TYPE_ORDER: a zero min is written -0.0, a zero
     * max +0.0, so readers need not guess which zero the data held. */
    if (c->type == TARN_PQ_FLOAT) {
      float f;
      memcpy(&f, mn, 4);
      if (f == 0.0f) {
        f = -0.0f;
        memcpy(mn, &f, 4);
      }
      memcpy(&f, mx, 4);
      if (f == 0.0f) {
        f = 0.0f;
        memcpy(mx, &f, 4);
      }
    } else if (c->type == TARN_PQ_DOUBLE) {
      double d;
      memcpy(&d, mn, 8);
      if (d == 0.0) {
        d = -0.0;
        memcpy(mn, &d, 8);
      }
      memcpy(&d, mx, 8);
      if (d == 0.0) {
        d = 0.0;
        memcpy(mx, &d, 8);
      }
    }
    rc = tarn_buf_append(lo, mn, w, err);
    if (rc == 0)
      rc = tarn_buf_append(hi, mx, w, err);
    return rc;
  }
  if (c->type == TARN_PQ_FIXED_LEN_BYTE_ARRAY) {
    /* Exact: a shortened FLBA would not be a value of the type (wrong length). */
    rc = tarn_buf_append(lo, a->bmin.data, a->bmin.len, err);
    if (rc == 0)
      rc = tarn_buf_append(hi, a->bmax.data, a->bmax.len, err);
    return rc;
  }
  rc = tarn__pq_truncate_lower((const uint8_t *)a->bmin.data, a->bmin.len, truncate,
                               is_utf8_type(c), lo, lo_exact, err);
  if (rc == 0)
    rc = tarn__pq_truncate_upper((const uint8_t *)a->bmax.data, a->bmax.len, truncate,
                                 is_utf8_type(c), hi, hi_exact, err);
  return rc;
}

/* ---- truncation ---- */

int tarn__pq_truncate_lower(const uint8_t *v, size_t n, size_t max, int utf8, tarn_buf *out,
                            int *exact, tarn_error *err) {
  size_t cut = max;
  if (n <= max) {
    *exact = 1;
    return tarn_buf_append(out, v, n, err);
  }
  if (utf8)
    while (cut > 0 && (v[cut] & 0xc0) == 0x80)
      cut--;
  *exact = 0;
  return tarn_buf_append(out, v, cut, err);
}

/* Decodes the UTF-8 character v[0..n) (exactly one, shortest form); -1 when invalid. */
static int32_t utf8_decode(const uint8_t *v, size_t n) {
  uint32_t cp;
  size_t need, i;
  if (n == 0)
    return -1;
  if (v[0] < 0x80)
    return n == 1 ? v[0] : -1;
  if ((v[0] & 0xe0) == 0xc0) {
    need = 2;
    cp = v[0] & 0x1f;
  } else if ((v[0] & 0xf0) == 0xe0) {
    need = 3;
    cp = v[0] & 0x0f;
  } else if ((v[0] & 0xf8) == 0xf0) {
    need = 4;
    cp = v[0] & 0x07;
  } else {
    return -1;
  }
  if (n != need)
    return -1;
  for (i = 1; i < n; i++) {
    if ((v[i] & 0xc0) != 0x80)
      return -1;
    cp = (cp << 6) | (v[i] & 0x3f);
  }
  if ((need == 2 && cp < 0x80) || (need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000) ||
      cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return -1;
  return (int32_t)cp;
}

static size_t utf8_encode(uint8_t *p, uint32_t cp) {
  if (cp < 0x80) {
    p[0] = (uint8_t)cp;
    return 1;
  }
  if (cp < 0x800) {
    p[0] = (uint8_t)(0xc0 | (cp >> 6));
    p[1] = (uint8_t)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    p[0] = (uint8_t)(0xe0 | (cp >> 12));
    p[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
    p[2] = (uint8_t)(0x80 | (cp & 0x3f));
    return 3;
  }
  p[0] = (uint8_t)(0xf0 | (cp >> 18));
  p[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
  p[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
  p[3] = (uint8_t)(0x80 | (cp & 0x3f));
  return 4;
}

static int upper_binary(const uint8_t *v, size_t n, size_t max, tarn_buf *out, int *exact,
                        tarn_error *err) {
  size_t cut = max < n ? max : n;
  int rc;
  while (cut > 0 && v[cut - 1] == 0xff)
    cut--;
  if (cut == 0) { /* all 0xff: no shorter upper bound exists; keep the value whole */
    *exact = 1;
    return tarn_buf_append(out, v, n, err);
  }
  rc = tarn_buf_append(out, v, cut, err);
  if (rc != 0)
    return rc;
  out->data[out->len - 1] = (char)(v[cut - 1] + 1);
  *exact = 0;
  return 0;
}

int tarn__pq_truncate_upper(const uint8_t *v, size_t n, size_t max, int utf8, tarn_buf *out,
                            int *exact, tarn_error *err) {
  size_t end;
  if (n <= max) {
    *exact = 1;
    return tarn_buf_append(out, v, n, err);
  }
  if (!utf8)
    return upper_binary(v, n, max, out, exact, err);
  /* The longest whole-character prefix of at most max bytes (at least one character). */
  end = max;
  while (end > 0 && (v[end] & 0xc0) == 0x80)
    end--;
  if (end == 0) {
    end = 1;
    while (end < n && (v[end] & 0xc0) == 0x80)
      end++;
  }
  while (end > 0) {
    size_t cs = end - 1;
    int32_t cp;
    uint8_t enc[4];
    size_t elen;
    int rc;
    while (cs > 0 && (v[cs] & 0xc0) == 0x80)
      cs--;
    cp = utf8_decode(v + cs, end - cs);
    if (cp < 0) /* not UTF-8 after all: round up byte-wise */
      return upper_binary(v, n, max, out, exact, err);
    cp++;
    if (cp == 0xd800)
      cp = 0xe000;       /* surrogates are not characters */
    if (cp > 0x10ffff) { /* no larger character: round up the one before */
      end = cs;
      continue;
    }
    elen = utf8_encode(enc, (uint32_t)cp);
    if (cs + elen > max && cs > 0) { /* grew past the limit: round up a shorter prefix */
      end = cs;
      continue;
    }
    rc = tarn_buf_append(out, v, cs, err);
    if (rc == 0)
      rc = tarn_buf_append(out, enc, elen, err);
    *exact = 0;
    return rc;
  }
  *exact = 1; /* every character is U+10FFFF */
  return tarn_buf_append(out, v, n, err);
}
