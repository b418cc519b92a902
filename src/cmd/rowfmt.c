/* rowfmt.c - rendering Parquet values as JSON or CSV text: `tarn parquet` and `tarn table scan`. */
#include "rowfmt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void days_to_civil(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
  /* Proleptic Gregorian calendar from days since 1970-01-01 (Hinnant's algorithm). */
  int64_t era, yoe, doy, mp;
  z += 719468;
  era = (z >= 0 ? z : z - 146096) / 146097;
  yoe = z - era * 146097;
  yoe = (yoe - yoe / 1460 + yoe / 36524 - yoe / 146096) / 365;
  *y = yoe + era * 400;
  doy = (z - era * 146097) - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
  *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
  if (*m <= 2)
    (*y)++;
}

static int64_t floordiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0)))
    q--;
  return q;
}

void rowfmt_date(char *out, size_t n, int64_t days) {
  int64_t y;
  unsigned m, d;
  days_to_civil(days, &y, &m, &d);
  snprintf(out, n, "%04lld-%02u-%02u", (long long)y, m, d);
}

/* ticks since the epoch (or midnight when date is 0) at `per_sec` ticks per second. */
static void fmt_time_of_day(char *out, size_t n, int64_t ticks_in_day, int64_t per_sec,
                            int digits) {
  int64_t secs = ticks_in_day / per_sec, frac = ticks_in_day % per_sec;
  snprintf(out, n, "%02lld:%02lld:%02lld.%0*lld", (long long)(secs / 3600),
           (long long)(secs / 60 % 60), (long long)(secs % 60), digits, (long long)frac);
}

static void fmt_timestamp(char *out, size_t n, int64_t v, int64_t per_sec, int digits, int utc) {
  int64_t per_day = per_sec * 86400, day = floordiv(v, per_day), rest = v - day * per_day;
  char d[32], t[48];
  rowfmt_date(d, sizeof(d), day);
  fmt_time_of_day(t, sizeof(t), rest, per_sec, digits);
  snprintf(out, n, "%sT%s%s", d, t, utc ? "Z" : "");
}

static void unit_scale(tarn_pq_unit u, int64_t *per_sec, int *digits) {
  *per_sec = u == TARN_PQ_MILLIS ? 1000 : u == TARN_PQ_MICROS ? 1000000 : 1000000000;
  *digits = u == TARN_PQ_MILLIS ? 3 : u == TARN_PQ_MICROS ? 6 : 9;
}

/* Big-endian two's complement to an exact decimal string with `scale` digits after the point. */
static void fmt_decimal_be(char *out, size_t n, const uint8_t *p, size_t len, int scale) {
  uint8_t mag[64];
  char digits[200];
  size_t nd = 0, i, o = 0;
  int neg = len > 0 && (p[0] & 0x80);
  if (len > sizeof(mag)) {
    snprintf(out, n, "?");
    return;
  }
  memcpy(mag, p, len);
  if (neg) { /* two's complement negate */
    int carry = 1;
    for (i = len; i-- > 0;) {
      int v = (uint8_t)~mag[i] + carry;
      mag[i] = (uint8_t)v;
      carry = v >> 8;
    }
  }
  for (;;) { /* repeated division by 10 */
    unsigned rem = 0;
    int nonzero = 0;
    for (i = 0; i < len; i++) {
      unsigned cur = (rem << 8) | mag[i];
      mag[i] = (uint8_t)(cur / 10);
      rem = cur % 10;
      nonzero |= mag[i] != 0;
    }
    digits[nd++] = (char)('0' + rem);
    if (!nonzero || nd >= sizeof(digits) - 1)
      break;
  }
  while ((int)nd <= scale)
    digits[nd++] = '0';
  if (neg && o + 1 < n)
    out[o++] = '-';
  for (i = nd; i-- > 0;) {
    if (o + 2 >= n)
      break;
    out[o++] = digits[i];
    if ((int)i == scale && scale > 0)
      out[o++] = '.';
  }
  out[o] = '\0';
}

static void fmt_decimal_int(char *out, size_t n, int64_t v, int scale) {
  uint8_t be[8];
  int i;
  for (i = 0; i < 8; i++)
    be[i] = (uint8_t)((uint64_t)v >> (56 - 8 * i));
  fmt_decimal_be(out, n, be, 8, scale);
}

/* Plain notation for ordinary magnitudes: -100 rather than -1e+02 (prec significant digits). */
static void plain_notation(char *out, size_t n, double v, int prec) {
  if (strchr(out, 'e') != NULL && fabs(v) >= 1e-5 && fabs(v) < 1e16) {
    int decimals = prec - 1 - (int)floor(log10(fabs(v)));
    snprintf(out, n, "%.*f", decimals > 0 ? decimals : 0, v);
  }
}

static void fmt_double(char *out, size_t n, double v, int is_float) {
  int prec;
  for (prec = 1; prec <= 17; prec++) { /* shortest text that reads back the same */
    snprintf(out, n, "%.*g", prec, v);
    if (is_float ? strtof(out, NULL) == (float)v : strtod(out, NULL) == v)
      break;
  }
  plain_notation(out, n, v, prec);
}

/*
 * A finite FLOAT16 (little-endian bytes p) as the shortest decimal that reads back as the
 * same half: one whose distance to the value is under half the gap to either neighbour
 * (5 significant digits always do).
 */
static void fmt_half(char *out, size_t n, const uint8_t *p) {
  unsigned mag = ((unsigned)p[0] | (unsigned)p[1] << 8) & 0x7fff;
  uint8_t nb[2];
  double v = tarn_pq_float16_to_double(p), h = fabs(v), up, down;
  int prec;
  nb[0] = (uint8_t)(mag + 1);
  nb[1] = (uint8_t)((mag + 1) >> 8);
  up = mag >= 0x7bff ? 65536.0 : tarn_pq_float16_to_double(nb); /* past the largest: 2^16 */
  nb[0] = (uint8_t)(mag - 1);
  nb[1] = (uint8_t)((mag - 1) >> 8);
  down = mag == 0 ? -ldexp(1.0, -24) : tarn_pq_float16_to_double(nb);
  for (prec = 1; prec < 5; prec++) {
    double x;
    snprintf(out, n, "%.*g", prec, v);
    x = fabs(strtod(out, NULL));
    if (2 * (x - h) < up - h && 2 * (h - x) < h - down)
      break;
  }
  if (prec == 5)
    snprintf(out, n, "%.5g", v);
  plain_notation(out, n, v, prec);
}

void rowfmt_base64(FILE *f, const uint8_t *p, size_t n) {
  static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t i;
  for (i = 0; i + 2 < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
    putc(tbl[v >> 18], f);
    putc(tbl[(v >> 12) & 63], f);
    putc(tbl[(v >> 6) & 63], f);
    putc(tbl[v & 63], f);
  }
  if (i < n) {
    uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
    putc(tbl[v >> 18], f);
    putc(tbl[(v >> 12) & 63], f);
    putc(i + 1 < n ? tbl[(v >> 6) & 63] : '=', f);
    putc('=', f);
  }
}

/* Length of a valid UTF-8 sequence at p (0 if invalid). */
static size_t utf8_len(const uint8_t *p, size_t n) {
  uint8_t c = p[0];
  size_t len, i;
  uint32_t cp;
  if (c < 0x80)
    return 1;
  if (c >= 0xc2 && c <= 0xdf)
    len = 2, cp = c & 0x1f;
  else if (c >= 0xe0 && c <= 0xef)
    len = 3, cp = c & 0x0f;
  else if (c >= 0xf0 && c <= 0xf4)
    len = 4, cp = c & 0x07;
  else
    return 0;
  if (len > n)
    return 0;
  for (i = 1; i < len; i++) {
    if ((p[i] & 0xc0) != 0x80)
      return 0;
    cp = cp << 6 | (p[i] & 0x3f);
  }
  if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
      (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
    return 0;
  return len;
}

void rowfmt_json_string(FILE *f, const uint8_t *p, size_t n) {
  size_t i = 0;
  putc('"', f);
  while (i < n) {
    uint8_t c = p[i];
    size_t l;
    if (c == '"' || c == '\\') {
      putc('\\', f);
      putc(c, f);
      i++;
    } else if (c < 0x20) {
      if (c == '\n')
        fputs("\\n", f);
      else if (c == '\t')
        fputs("\\t", f);
      else if (c == '\r')
        fputs("\\r", f);
      else
        fprintf(f, "\\u%04x", c);
      i++;
    } else if ((l = utf8_len(p + i, n - i)) == 0) {
      fputs("\\ufffd", f); /* invalid UTF-8 never breaks the line's JSON */
      i++;
    } else {
      fwrite(p + i, 1, l, f);
      i += l;
    }
  }
  putc('"', f);
}

/* The bytes as they are, invalid UTF-8 replaced by U+FFFD. */
static void plain_utf8(FILE *f, const uint8_t *p, size_t n) {
  size_t i = 0, l;
  while (i < n) {
    if ((l = utf8_len(p + i, n - i)) == 0) {
      fputs("\xef\xbf\xbd", f);
      i++;
    } else {
      fwrite(p + i, 1, l, f);
      i += l;
    }
  }
}

/* A string of bytes in `mode`. */
static void text_bytes(FILE *f, const uint8_t *p, size_t n, int mode) {
  if (mode == ROWFMT_JSON)
    rowfmt_json_string(f, p, n);
  else if (mode == ROWFMT_PLAIN)
    plain_utf8(f, p, n);
  else
    rowfmt_csv_field(f, p, n);
}

void rowfmt_csv_field(FILE *f, const uint8_t *p, size_t n) {
  size_t i;
  int quote = 0;
  for (i = 0; i < n && !quote; i++)
    quote = p[i] == ',' || p[i] == '"' || p[i] == '\n' || p[i] == '\r';
  if (!quote) {
    fwrite(p, 1, n, f);
    return;
  }
  putc('"', f);
  for (i = 0; i < n; i++) {
    if (p[i] == '"')
      putc('"', f);
    putc(p[i], f);
  }
  putc('"', f);
}

void rowfmt_text(FILE *f, const char *s, int mode) {
  text_bytes(f, (const uint8_t *)s, strlen(s), mode);
}

void rowfmt_value(FILE *f, const tarn_pq_column *c, const tarn_pq_array *a, int64_t i, int mode) {
  char buf[256];
  if (a->validity != NULL && !(a->validity[i >> 3] & (1u << (i & 7)))) {
    if (mode == ROWFMT_JSON)
      fputs("null", f);
    return;
  }
  switch (c->type) {
  case TARN_PQ_BOOLEAN:
    fputs((((const uint8_t *)a->values)[i >> 3] >> (i & 7)) & 1 ? "true" : "false", f);
    return;
  case TARN_PQ_INT32: {
    int32_t v = ((const int32_t *)a->values)[i];
    if (c->logical == TARN_PQ_LT_DATE) {
      rowfmt_date(buf, sizeof(buf), v);
    } else if (c->logical == TARN_PQ_LT_TIME) {
      fmt_time_of_day(buf, sizeof(buf), v, 1000, 3);
    } else if (c->logical == TARN_PQ_LT_DECIMAL) {
      fmt_decimal_int(buf, sizeof(buf), v, c->scale);
    } else {
      if (c->logical == TARN_PQ_LT_INTEGER && !c->is_signed)
        fprintf(f, "%u", (uint32_t)v);
      else
        fprintf(f, "%d", v);
      return;
    }
    rowfmt_text(f, buf, mode);
    return;
  }
  case TARN_PQ_INT64: {
    int64_t v = ((const int64_t *)a->values)[i], per_sec;
    int digits;
    if (c->logical == TARN_PQ_LT_TIMESTAMP) {
      unit_scale(c->unit, &per_sec, &digits);
      fmt_timestamp(buf, sizeof(buf), v, per_sec, digits, c->adjusted_to_utc);
    } else if (c->logical == TARN_PQ_LT_TIME) {
      unit_scale(c->unit, &per_sec, &digits);
      fmt_time_of_day(buf, sizeof(buf), v, per_sec, digits);
    } else if (c->logical == TARN_PQ_LT_DECIMAL) {
      fmt_decimal_int(buf, sizeof(buf), v, c->scale);
    } else {
      if (c->logical == TARN_PQ_LT_INTEGER && !c->is_signed)
        fprintf(f, "%llu", (unsigned long long)v);
      else
        fprintf(f, "%lld", (long long)v);
      return;
    }
    rowfmt_text(f, buf, mode);
    return;
  }
  case TARN_PQ_INT96: { /* legacy timestamp: nanoseconds of the day, then the Julian day */
    const uint8_t *p = (const uint8_t *)a->values + 12 * (size_t)i;
    const int64_t ns_per_day = 86400000000000LL;
    int64_t nanos, day;
    int32_t jd;
    char d[40], t[48];
    memcpy(&nanos, p, 8);
    memcpy(&jd, p + 8, 4);
    /* Day and time of day kept apart, so no Julian day overflows (nanoseconds since 1970
     * hold only 1677..2262); nanoseconds outside the day carry into it. */
    day = (int64_t)jd - 2440588 + floordiv(nanos, ns_per_day);
    rowfmt_date(d, sizeof(d), day);
    fmt_time_of_day(t, sizeof(t), nanos - floordiv(nanos, ns_per_day) * ns_per_day, 1000000000, 9);
    snprintf(buf, sizeof(buf), "%sT%s", d, t);
    rowfmt_text(f, buf, mode);
    return;
  }
  case TARN_PQ_FLOAT:
  case TARN_PQ_DOUBLE: {
    double v = c->type == TARN_PQ_FLOAT ? (double)((const float *)a->values)[i]
                                        : ((const double *)a->values)[i];
    if (isnan(v) || isinf(v)) {
      rowfmt_text(f, isnan(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity", mode);
      return;
    }
    fmt_double(buf, sizeof(buf), v, c->type == TARN_PQ_FLOAT);
    fputs(buf, f);
    return;
  }
  case TARN_PQ_BYTE_ARRAY:
  case TARN_PQ_FIXED_LEN_BYTE_ARRAY: {
    const uint8_t *p;
    size_t n;
    if (c->type == TARN_PQ_BYTE_ARRAY) {
      p = a->data + a->offsets[i];
      n = (size_t)(a->offsets[i + 1] - a->offsets[i]);
    } else {
      n = (size_t)c->type_length;
      p = (const uint8_t *)a->values + n * (size_t)i;
    }
    if (c->logical == TARN_PQ_LT_STRING || c->logical == TARN_PQ_LT_JSON ||
        c->logical == TARN_PQ_LT_ENUM) {
      text_bytes(f, p, n, mode);
    } else if (c->logical == TARN_PQ_LT_FLOAT16 && n == 2) {
      double v = tarn_pq_float16_to_double(p);
      if (isnan(v) || isinf(v)) {
        rowfmt_text(f, isnan(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity", mode);
        return;
      }
      fmt_half(buf, sizeof(buf), p);
      fputs(buf, f);
    } else if (c->logical == TARN_PQ_LT_UUID && n == 16) {
      snprintf(buf, sizeof(buf),
               "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", p[0], p[1],
               p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14],
               p[15]);
      rowfmt_text(f, buf, mode);
    } else if (c->logical == TARN_PQ_LT_DECIMAL && n <= 64) {
      fmt_decimal_be(buf, sizeof(buf), p, n, c->scale);
      rowfmt_text(f, buf, mode);
    } else {
      if (mode == ROWFMT_JSON)
        putc('"', f);
      rowfmt_base64(f, p, n);
      if (mode == ROWFMT_JSON)
        putc('"', f);
    }
    return;
  }
  }
}

/* Renders a PLAIN-encoded single value (statistics bounds) as text. */
char *rowfmt_plain_to_text(const tarn_pq_column *c, const void *p, size_t n) {
  tarn_pq_array a;
  int64_t offs[2] = {0, (int64_t)n};
  uint8_t fixed[16] = {0};
  char *out = NULL;
  size_t outn = 0;
  FILE *f = open_memstream(&out, &outn);
  tarn_pq_column cc = *c;
  if (f == NULL)
    return NULL;
  memset(&a, 0, sizeof(a));
  a.length = 1;
  if (c->type == TARN_PQ_BYTE_ARRAY ||
      (c->type == TARN_PQ_FIXED_LEN_BYTE_ARRAY && n != (size_t)c->type_length)) {
    /* a truncated FLBA bound is shown as bytes */
    cc.type = TARN_PQ_BYTE_ARRAY;
    if (c->type == TARN_PQ_FIXED_LEN_BYTE_ARRAY && c->logical != TARN_PQ_LT_DECIMAL)
      cc.logical = TARN_PQ_LT_NONE;
    a.offsets = offs;
    a.data = (uint8_t *)(uintptr_t)p;
  } else if (c->type == TARN_PQ_FIXED_LEN_BYTE_ARRAY) {
    a.values = (void *)(uintptr_t)p;
  } else {
    memcpy(fixed, p, n < sizeof(fixed) ? n : sizeof(fixed));
    a.values = fixed;
  }
  rowfmt_value(f, &cc, &a, 0, ROWFMT_PLAIN);
  fclose(f);
  return out;
}

const char *rowfmt_bytes(double bytes, char *buf, size_t n) {
  static const char *const units[] = {"B", "kB", "MB", "GB", "TB"};
  size_t u = 0;
  while (bytes >= 1000 && u + 1 < sizeof(units) / sizeof(units[0])) {
    bytes /= 1000;
    u++;
  }
  if (u == 0)
    snprintf(buf, n, "%.0f B", bytes);
  else
    snprintf(buf, n, "%.1f %s", bytes, units[u]);
  return buf;
}
