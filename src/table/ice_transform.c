/* ice_transform.c - Iceberg partition transforms: identity, bucket, truncate, year..hour, void. */
#include "table.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/uuid.h"
#include "table_int.h"

int tarn_ice_transform_parse(const char *s, tarn_ice_transform *t, tarn_error *err) {
  static const struct {
    const char *name;
    tarn_ice_transform_kind kind;
  } plain[] = {{"identity", TARN_ICE_IDENTITY}, {"year", TARN_ICE_YEAR}, {"month", TARN_ICE_MONTH},
               {"day", TARN_ICE_DAY},           {"hour", TARN_ICE_HOUR}, {"void", TARN_ICE_VOID}};
  size_t i;
  memset(t, 0, sizeof(*t));
  for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
    if (strcmp(s, plain[i].name) == 0) {
      t->kind = plain[i].kind;
      return 0;
    }
  }
  if (strncmp(s, "bucket[", 7) == 0 || strncmp(s, "truncate[", 9) == 0) {
    const char *p = strchr(s, '[') + 1;
    char *end;
    long v = strtol(p, &end, 10);
    if (p[0] >= '0' && p[0] <= '9' && end[0] == ']' && end[1] == '\0' && v > 0 && v <= 0x7fffffff) {
      t->kind = s[0] == 'b' ? TARN_ICE_BUCKET : TARN_ICE_TRUNCATE;
      t->param = (int32_t)v;
      return 0;
    }
  }
  return tarn_error_set(err, TARN_EINVAL,
                        "unknown partition transform \"%s\" (identity, bucket[N], truncate[W], "
                        "year, month, day, hour, void)",
                        s);
}

void tarn_ice_transform_format(const tarn_ice_transform *t, char *dst, size_t n) {
  switch (t->kind) {
  case TARN_ICE_IDENTITY: snprintf(dst, n, "identity"); break;
  case TARN_ICE_BUCKET: snprintf(dst, n, "bucket[%d]", (int)t->param); break;
  case TARN_ICE_TRUNCATE: snprintf(dst, n, "truncate[%d]", (int)t->param); break;
  case TARN_ICE_YEAR: snprintf(dst, n, "year"); break;
  case TARN_ICE_MONTH: snprintf(dst, n, "month"); break;
  case TARN_ICE_DAY: snprintf(dst, n, "day"); break;
  case TARN_ICE_HOUR: snprintf(dst, n, "hour"); break;
  case TARN_ICE_VOID: snprintf(dst, n, "void"); break;
  default: snprintf(dst, n, "unknown"); break;
  }
}

static int is_time_like(tarn_ice_type_id id) {
  return id == TARN_ICE_DATE || id == TARN_ICE_TIMESTAMP || id == TARN_ICE_TIMESTAMPTZ;
}

int tarn_ice_transform_result_type(const tarn_ice_transform *t, const tarn_ice_type *src,
                                   tarn_ice_type *out, tarn_error *err) {
  char tn[32], sn[48];
  int ok = 0;
  memset(out, 0, sizeof(*out));
  switch (t->kind) {
  case TARN_ICE_IDENTITY:
  case TARN_ICE_VOID: *out = *src; return 0;
  case TARN_ICE_BUCKET:
    ok = src->id != TARN_ICE_BOOLEAN && src->id != TARN_ICE_FLOAT && src->id != TARN_ICE_DOUBLE;
    out->id = TARN_ICE_INT;
    break;
  case TARN_ICE_TRUNCATE:
    ok = src->id == TARN_ICE_INT || src->id == TARN_ICE_LONG || src->id == TARN_ICE_DECIMAL ||
         src->id == TARN_ICE_STRING || src->id == TARN_ICE_BINARY;
    *out = *src;
    break;
  case TARN_ICE_YEAR:
  case TARN_ICE_MONTH:
    ok = is_time_like(src->id);
    out->id = TARN_ICE_INT;
    break;
  case TARN_ICE_DAY:
    ok = is_time_like(src->id);
    out->id = TARN_ICE_DATE; /* as Iceberg Java and PyIceberg type it */
    break;
  case TARN_ICE_HOUR:
    ok = src->id == TARN_ICE_TIMESTAMP || src->id == TARN_ICE_TIMESTAMPTZ;
    out->id = TARN_ICE_INT;
    break;
  }
  if (ok)
    return 0;
  tarn_ice_transform_format(t, tn, sizeof(tn));
  tarn_ice_type_format(src, sn, sizeof(sn));
  return tarn_error_set(err, TARN_EINVAL, "transform %s cannot apply to a %s column", tn, sn);
}

/* ---- Murmur3 x86_32 ---- */

static uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

uint32_t tarn_ice_murmur3_32(const void *p, size_t n) {
  const uint8_t *b = p;
  const uint32_t c1 = 0xcc9e2d51u, c2 = 0x1b873593u;
  uint32_t h = 0, k;
  size_t i, nblocks = n / 4;
  for (i = 0; i < nblocks; i++) {
    k = (uint32_t)b[4 * i] | (uint32_t)b[4 * i + 1] << 8 | (uint32_t)b[4 * i + 2] << 16 |
        (uint32_t)b[4 * i + 3] << 24;
    k *= c1;
    k = rotl32(k, 15);
    k *= c2;
    h ^= k;
    h = rotl32(h, 13);
    h = h * 5 + 0xe6546b64u;
  }
  k = 0;
  switch (n & 3) {
  case 3: k ^= (uint32_t)b[4 * nblocks + 2] << 16; /* fall through */
  case 2: k ^= (uint32_t)b[4 * nblocks + 1] << 8;  /* fall through */
  case 1:
    k ^= b[4 * nblocks];
    k *= c1;
    k = rotl32(k, 15);
    k *= c2;
    h ^= k;
  }
  h ^= (uint32_t)n;
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

static uint32_t hash_long(int64_t v) {
  uint8_t b[8];
  int i;
  for (i = 0; i < 8; i++)
    b[i] = (uint8_t)((uint64_t)v >> (8 * i));
  return tarn_ice_murmur3_32(b, 8);
}

/* ---- calendar ---- */

static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0)))
    q--;
  return q;
}

/* Civil date from days since 1970-01-01 (proleptic Gregorian). */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
  int64_t era, yoe, doy, mp;
  uint64_t doe;
  z += 719468;
  era = (z >= 0 ? z : z - 146096) / 146097;
  doe = (uint64_t)(z - era * 146097);
  yoe = (int64_t)((doe - doe / 1460 + doe / 36524 - doe / 146096) / 365);
  doy = (int64_t)doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

static int64_t days_of(tarn_ice_type_id id, int64_t v) {
  return id == TARN_ICE_DATE ? v : floor_div(v, 86400000000LL);
}

/* ---- decimals (unscaled values up to 38 digits fit in 128 bits) ---- */

__extension__ typedef __int128 i128;

static i128 decimal_to_i128(const tarn_ice_value *v) {
  i128 x;
  size_t i;
  if (!v->wide)
    return v->i64;
  x = (v->len > 0 && (v->bytes[0] & 0x80)) ? -1 : 0;
  for (i = 0; i < v->len; i++)
    x = (i128)(((unsigned __int128)x << 8) | v->bytes[i]);
  return x;
}

/* Minimal big-endian two's complement of x into out; returns the length. */
static size_t i128_to_be(i128 x, uint8_t out[16]) {
  uint8_t full[16];
  size_t i, skip = 0;
  for (i = 0; i < 16; i++)
    full[i] = (uint8_t)((unsigned __int128)x >> (120 - 8 * i));
  while (skip < 15 && ((full[skip] == 0x00 && !(full[skip + 1] & 0x80)) ||
                       (full[skip] == 0xff && (full[skip + 1] & 0x80))))
    skip++;
  memcpy(out, full + skip, 16 - skip);
  return 16 - skip;
}

/* ---- truncate(W) of int and long ---- */

/* Two's complement value of the low 32 / 64 bits of u, without implementation-defined casts. */
static int32_t wrap32(uint32_t u) {
  return u <= (uint32_t)INT32_MAX ? (int32_t)u : -(int32_t)(UINT32_MAX - u) - 1;
}

static int64_t wrap64(uint64_t u) {
  return u <= (uint64_t)INT64_MAX ? (int64_t)u : -(int64_t)(UINT64_MAX - u) - 1;
}

/*
 * The spec's v - (((v % W) + W) % W), step by step in the column's width as Iceberg Java
 * computes it (int or long arithmetic, which wraps): near the type's minimum the result
 * wraps to the top of the range (truncate(10) of INT_MIN is 2147483646), and for int
 * widths above 2^30 the sum (v % W) + W wraps too. Readers and writers must agree on the
 * value bit for bit, so we reproduce the wrapping instead of "fixing" it; unsigned
 * arithmetic keeps it free of undefined behaviour.
 */
static int64_t truncate_integer(int64_t v, int32_t w, int is_long) {
  if (is_long) {
    int64_t r = v % w, m = wrap64((uint64_t)r + (uint64_t)w) % w;
    return wrap64((uint64_t)v - (uint64_t)m);
  } else {
    int32_t x = wrap32(
        (uint32_t)(uint64_t)
            v); /* an int column's value fits; a wider literal wraps as in Java's (int) cast */
    int32_t r = x % w, m = wrap32((uint32_t)r + (uint32_t)w) % w;
    return wrap32((uint32_t)x - (uint32_t)m);
  }
}

void tarn__ice_truncate_source_range(int32_t w, int is_long, int64_t lo, int64_t hi,
                                     int64_t *src_lo, int64_t *src_hi) {
  const int64_t min = is_long ? INT64_MIN : INT32_MIN, max = is_long ? INT64_MAX : INT32_MAX;
  int64_t fm = min % w, wrapped;
  *src_lo = min;
  *src_hi = max;
  if (!is_long && w > (INT32_C(1) << 30))
    return; /* (v % W) + W wraps for some positive v too: no order to rely on */
  /* Only the sources [min, min + W - fm - 1] truncate below the minimum (fm: the minimum's
   * floor remainder), all to one value, which wraps to max - fm + 1 (unaligned). Every
   * other partition value p is aligned and holds the sources [p, p + W - 1]. */
  fm = fm == 0 ? 0 : fm + w;
  wrapped = max - fm + 1;
  if (fm != 0 && lo == wrapped && hi == wrapped) {
    *src_hi = min + (w - fm - 1);
    return;
  }
  if ((fm == 0 || wrapped < lo || wrapped > hi) && lo % w == 0)
    *src_lo = lo; /* an unaligned lo is not a value Java writes: assume nothing */
  if (hi <= max - w + 1)
    *src_hi = hi + w - 1;
}

int tarn_ice_transform_apply(const tarn_ice_transform *t, const tarn_ice_type *src,
                             const tarn_ice_value *in, tarn_ice_value *out, tarn_buf *scratch,
                             tarn_error *err) {
  tarn_ice_type rt;
  int rc = tarn_ice_transform_result_type(t, src, &rt, err);
  if (rc != 0)
    return rc;
  memset(out, 0, sizeof(*out));
  if (in->is_null || t->kind == TARN_ICE_VOID) {
    out->is_null = 1;
    return 0;
  }
  switch (t->kind) {
  case TARN_ICE_IDENTITY: *out = *in; return 0;
  case TARN_ICE_BUCKET: {
    uint32_t h;
    switch (src->id) {
    case TARN_ICE_INT:
    case TARN_ICE_LONG:
    case TARN_ICE_DATE:
    case TARN_ICE_TIME:
    case TARN_ICE_TIMESTAMP:
    case TARN_ICE_TIMESTAMPTZ: h = hash_long(in->i64); break;
    case TARN_ICE_DECIMAL: {
      uint8_t b[16];
      size_t n = i128_to_be(decimal_to_i128(in), b);
      h = tarn_ice_murmur3_32(b, n);
      break;
    }
    default: /* string, uuid, binary, fixed: the bytes */
      h = tarn_ice_murmur3_32(in->bytes, in->len);
      break;
    }
    out->i64 = (int64_t)((h & 0x7fffffffu) % (uint32_t)t->param);
    return 0;
  }
  case TARN_ICE_TRUNCATE: {
    int64_t w = t->param;
    switch (src->id) {
    case TARN_ICE_INT:
    case TARN_ICE_LONG:
      out->i64 = truncate_integer(in->i64, t->param, src->id == TARN_ICE_LONG);
      return 0;
    case TARN_ICE_DECIMAL: {
      i128 x = decimal_to_i128(in);
      i128 r = x - (((x % w) + w) % w);
      if (!in->wide) {
        out->i64 = (int64_t)r;
        return 0;
      } else {
        uint8_t b[16];
        size_t n = i128_to_be(r, b);
        tarn_buf_reset(scratch);
        rc = tarn_buf_append(scratch, b, n, err);
        if (rc != 0)
          return rc;
        out->wide = 1;
        out->bytes = (const uint8_t *)scratch->data;
        out->len = n;
        return 0;
      }
    }
    case TARN_ICE_STRING:
      out->bytes = in->bytes;
      out->len = tarn__ice_utf8_prefix(in->bytes, in->len, (size_t)t->param);
      return 0;
    default: /* binary */
      out->bytes = in->bytes;
      out->len = in->len < (size_t)w ? in->len : (size_t)w;
      return 0;
    }
  }
  case TARN_ICE_YEAR:
  case TARN_ICE_MONTH: {
    int64_t y;
    int m, d;
    civil_from_days(days_of(src->id, in->i64), &y, &m, &d);
    out->i64 = t->kind == TARN_ICE_YEAR ? y - 1970 : (y - 1970) * 12 + (m - 1);
    return 0;
  }
  case TARN_ICE_DAY: out->i64 = days_of(src->id, in->i64); return 0;
  case TARN_ICE_HOUR: out->i64 = floor_div(in->i64, 3600000000LL); return 0;
  default: return tarn_error_set(err, TARN_EINVAL, "unknown transform");
  }
}

/* application/x-www-form-urlencoded, as Java's URLEncoder writes partition paths. */
static int append_escaped(tarn_buf *out, const char *s, size_t n, int escape, tarn_error *err) {
  size_t i;
  int rc = 0;
  if (!escape)
    return tarn_buf_append(out, s, n, err);
  for (i = 0; i < n && rc == 0; i++) {
    unsigned char c = (unsigned char)s[i];
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
        c == '-' || c == '*' || c == '_')
      rc = tarn_buf_append(out, &s[i], 1, err);
    else if (c == ' ')
      rc = tarn_buf_append(out, "+", 1, err);
    else
      rc = tarn_buf_appendf(out, err, "%%%02X", c);
  }
  return rc;
}

static void format_micros(int64_t us, int utc, char *dst, size_t n) {
  int64_t days = floor_div(us, 86400000000LL), y;
  int64_t rem = us - days * 86400000000LL;
  int m, d;
  civil_from_days(days, &y, &m, &d);
  if (rem % 1000000 == 0)
    snprintf(dst, n, "%04lld-%02d-%02dT%02d:%02d:%02d%s", (long long)y, m, d,
             (int)(rem / 3600000000LL), (int)(rem / 60000000 % 60), (int)(rem / 1000000 % 60),
             utc ? "Z" : "");
  else
    snprintf(dst, n, "%04lld-%02d-%02dT%02d:%02d:%02d.%06d%s", (long long)y, m, d,
             (int)(rem / 3600000000LL), (int)(rem / 60000000 % 60), (int)(rem / 1000000 % 60),
             (int)(rem % 1000000), utc ? "Z" : "");
}

static size_t base64(const uint8_t *p, size_t n, char *dst) {
  static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t i, o = 0;
  for (i = 0; i + 2 < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
    dst[o++] = tbl[v >> 18];
    dst[o++] = tbl[(v >> 12) & 63];
    dst[o++] = tbl[(v >> 6) & 63];
    dst[o++] = tbl[v & 63];
  }
  if (i < n) {
    uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
    dst[o++] = tbl[v >> 18];
    dst[o++] = tbl[(v >> 12) & 63];
    dst[o++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
    dst[o++] = '=';
  }
  dst[o] = '\0';
  return o;
}

/* Decimal text of an unscaled value with `scale` digits after the point. */
static void format_decimal(i128 x, int32_t scale, char *dst, size_t n) {
  char digits[64];
  size_t nd = 0, o = 0, i;
  int neg = x < 0;
  unsigned __int128 u = neg ? (unsigned __int128)(-(x + 1)) + 1 : (unsigned __int128)x;
  do {
    digits[nd++] = (char)('0' + (int)(u % 10));
    u /= 10;
  } while (u > 0 && nd < sizeof(digits));
  while (nd <= (size_t)scale && nd < sizeof(digits))
    digits[nd++] = '0';
  if (neg && o + 1 < n)
    dst[o++] = '-';
  for (i = nd; i > 0 && o + 2 < n; i--) {
    if (scale > 0 && i == (size_t)scale)
      dst[o++] = '.';
    dst[o++] = digits[i - 1];
  }
  dst[o] = '\0';
}

int tarn_ice_partition_human(const tarn_ice_transform *t, const tarn_ice_type *rt,
                             const tarn_ice_value *v, int escape, tarn_buf *out, tarn_error *err) {
  char text[128];
  int64_t y;
  int m, d;
  if (v->is_null)
    return tarn_buf_append(out, "null", 4, err);
  switch (t->kind) {
  case TARN_ICE_YEAR: snprintf(text, sizeof(text), "%04lld", (long long)(1970 + v->i64)); break;
  case TARN_ICE_MONTH: {
    int64_t yy = 1970 + floor_div(v->i64, 12);
    snprintf(text, sizeof(text), "%04lld-%02d", (long long)yy,
             (int)(v->i64 - floor_div(v->i64, 12) * 12) + 1);
    break;
  }
  case TARN_ICE_HOUR: {
    int64_t days = floor_div(v->i64, 24);
    civil_from_days(days, &y, &m, &d);
    snprintf(text, sizeof(text), "%04lld-%02d-%02d-%02d", (long long)y, m, d,
             (int)(v->i64 - days * 24));
    break;
  }
  default:
    switch (rt->id) {
    case TARN_ICE_BOOLEAN: snprintf(text, sizeof(text), "%s", v->i64 ? "true" : "false"); break;
    case TARN_ICE_INT:
    case TARN_ICE_LONG: snprintf(text, sizeof(text), "%lld", (long long)v->i64); break;
    case TARN_ICE_DATE:
      civil_from_days(v->i64, &y, &m, &d);
      snprintf(text, sizeof(text), "%04lld-%02d-%02d", (long long)y, m, d);
      break;
    case TARN_ICE_TIME:
      snprintf(text, sizeof(text), "%02d:%02d:%02d.%06d", (int)(v->i64 / 3600000000LL),
               (int)(v->i64 / 60000000 % 60), (int)(v->i64 / 1000000 % 60),
               (int)(v->i64 % 1000000));
      break;
    case TARN_ICE_TIMESTAMP:
    case TARN_ICE_TIMESTAMPTZ:
      format_micros(v->i64, rt->id == TARN_ICE_TIMESTAMPTZ, text, sizeof(text));
      break;
    case TARN_ICE_FLOAT: snprintf(text, sizeof(text), "%.9g", (double)v->f32); break;
    case TARN_ICE_DOUBLE: snprintf(text, sizeof(text), "%.17g", v->f64); break;
    case TARN_ICE_DECIMAL: format_decimal(decimal_to_i128(v), rt->scale, text, sizeof(text)); break;
    case TARN_ICE_UUID:
      if (v->len == 16) {
        tarn_uuid u;
        memcpy(u.b, v->bytes, 16);
        tarn_uuid_format(&u, text);
      } else {
        snprintf(text, sizeof(text), "invalid-uuid");
      }
      break;
    case TARN_ICE_STRING: return append_escaped(out, (const char *)v->bytes, v->len, escape, err);
    default: {                              /* binary, fixed: base64 */
      size_t n = v->len > 60 ? 60 : v->len; /* a path segment, not a dump */
      base64(v->bytes, n, text);
      break;
    }
    }
  }
  return append_escaped(out, text, strlen(text), escape, err);
}
