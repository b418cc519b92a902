/* csv_value.c - strict converters from field text to typed values, shared by inference
 * and ingest so both accept exactly the same texts. Hand-written: no sscanf/strptime. */
#include "csv_int.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[TARN_CSV_NTYPES] = {
    "boolean", "int64", "float64", "date", "timestamp", "timestamptz", "string"};

const char *tarn_csv_type_name(tarn_csv_type t) {
  if ((unsigned)t >= TARN_CSV_NTYPES)
    return "unknown";
  return type_names[t];
}

int tarn_csv_type_from_name(const char *name) {
  int i;
  if (name == NULL)
    return -1;
  for (i = 0; i < TARN_CSV_NTYPES; i++)
    if (strcmp(name, type_names[i]) == 0)
      return i;
  return -1;
}

static inline int is_digit(char c) { return (unsigned char)(c - '0') < 10; }

/* ---- boolean ---- */

/* Letters only in the targets, so c | 0x20 folds case without matching punctuation. */
static int ieq(const char *p, const char *lower, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    if ((p[i] | 0x20) != lower[i])
      return 0;
  return 1;
}

int tarn_csv_parse_bool(const char *p, size_t len, int *out) {
  if (len == 4 && ieq(p, "true", 4)) {
    *out = 1;
    return 0;
  }
  if (len == 5 && ieq(p, "false", 5)) {
    *out = 0;
    return 0;
  }
  return -1;
}

/* ---- int64 ---- */

int tarn_csv_parse_int64(const char *p, size_t len, int64_t *out) {
  size_t i = 0, nd;
  uint64_t acc = 0;
  int neg = 0;
  if (len == 0)
    return -1;
  if (p[0] == '-') {
    neg = 1;
    i = 1;
  }
  nd = len - i;
  /* 19 digits always fit in uint64 (10^19 - 1 < 2^64); 20 never fit in int64. */
  if (nd == 0 || nd > 19)
    return -1;
  if (p[i] == '0' && nd > 1)
    return -1; /* leading zero: "007" is a code, not a number */
  for (; i < len; i++) {
    unsigned d = (unsigned char)p[i] - '0';
    if (d > 9)
      return -1;
    acc = acc * 10 + d;
  }
  if (neg) {
    if (acc == 0)
      return -1; /* "-0" does not print back as itself; float64 takes it */
    if (acc > (uint64_t)INT64_MAX + 1)
      return -1;
    *out = (int64_t)(0 - acc); /* two's complement; INT64_MIN included */
    return 0;
  }
  if (acc > (uint64_t)INT64_MAX)
    return -1;
  *out = (int64_t)acc;
  return 0;
}

/* ---- float64 ---- */

#define FLOAT_TEXT_MAX 256

typedef struct fscan {
  int neg;
  int is_int;    /* no fraction, no exponent */
  uint64_t mant; /* the first <= 19 significant digits */
  int nsig;      /* significant digits (after leading zeros); <= FLOAT_TEXT_MAX */
  int kept;      /* digits in mant: min(nsig, 19) */
  long e10;      /* value ~= mant * 10^e10 (exact when nsig == kept) */
} fscan;

/* Grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? over the whole text. */
static int float_scan(const char *p, size_t len, fscan *s) {
  size_t i = 0;
  long frac = 0, x = 0;
  int xneg = 0;
  memset(s, 0, sizeof(*s));
  if (len == 0 || len > FLOAT_TEXT_MAX)
    return -1;
  if (p[0] == '-') {
    s->neg = 1;
    i = 1;
  }
  if (i >= len || !is_digit(p[i]))
    return -1;
  if (p[i] == '0') {
    i++;
    if (i < len && is_digit(p[i]))
      return -1; /* leading zero */
  } else {
    for (; i < len && is_digit(p[i]); i++) {
      if (s->nsig < 19)
        s->mant = s->mant * 10 + (uint64_t)(p[i] - '0');
      s->nsig++;
    }
  }
  s->is_int = 1;
  if (i < len && p[i] == '.') {
    size_t start = ++i;
    s->is_int = 0;
    for (; i < len && is_digit(p[i]); i++) {
      frac++;
      if (s->nsig == 0 && p[i] == '0')
        continue; /* leading zeros of the fraction are not significant */
      if (s->nsig < 19)
        s->mant = s->mant * 10 + (uint64_t)(p[i] - '0');
      s->nsig++;
    }
    if (i == start)
      return -1;
  }
  if (i < len && (p[i] == 'e' || p[i] == 'E')) {
    size_t start;
    s->is_int = 0;
    i++;
    if (i < len && (p[i] == '+' || p[i] == '-'))
      xneg = p[i++] == '-';
    start = i;
    for (; i < len && is_digit(p[i]); i++)
      if (x < 100000000L)
        x = x * 10 + (p[i] - '0'); /* saturate: far beyond any double either way */
    if (i == start)
      return -1;
  }
  if (i != len)
    return -1;
  s->kept = s->nsig < 19 ? s->nsig : 19;
  /* all digits D = mant * 10^(nsig - kept) + dropped; value = D * 10^(x - frac) */
  s->e10 = (xneg ? -x : x) - frac + (s->nsig - s->kept);
  return 0;
}

static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static locale_t c_locale = (locale_t)0;

static void c_locale_init(void) { c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

/* Correctly rounded value of a scanned text: Clinger's exact fast path when the digits
 * and the power of ten are both exact doubles, else strtod in the C locale. */
static double float_value(const char *p, size_t len, const fscan *s) {
  char tmp[FLOAT_TEXT_MAX + 1];
  double d;
  if (s->nsig == 0)
    return s->neg ? -0.0 : 0.0;
  if (s->nsig == s->kept && s->mant <= ((uint64_t)1 << 53) && s->e10 >= -22 && s->e10 <= 22) {
    d = (double)s->mant;
    d = s->e10 < 0 ? d / pow10_exact[-s->e10] : d * pow10_exact[s->e10];
    return s->neg ? -d : d;
  }
  memcpy(tmp, p, len); /* len <= FLOAT_TEXT_MAX, checked by float_scan */
  tmp[len] = '\0';
  pthread_once(&c_locale_once, c_locale_init);
  /* Without a C locale object (newlocale failed) fall back to strtod: tarn never calls
   * setlocale, so the process locale is "C" as well. */
  if (c_locale != (locale_t)0)
    return strtod_l(tmp, NULL, c_locale);
  return strtod(tmp, NULL);
}

/* Acceptance: decided from the magnitude where that is certain, so inference rarely
 * needs the value; only numbers near DBL_MAX (~1.8e308) are rounded to decide. */
static int float_accept(const char *p, size_t len, const fscan *s) {
  long mag;
  if (s->is_int) {
    /* Integer text: float64 takes it exactly when int64 does ("-0" too). */
    int64_t v;
    if (len == 2 && p[0] == '-' && p[1] == '0')
      return 0;
    return tarn_csv_parse_int64(p, len, &v);
  }
  if (s->nsig == 0)
    return 0;
  /* value in [10^(mag-1), 10^mag); DBL_MAX ~ 1.8e308 */
  mag = (long)s->kept + s->e10;
  if (mag <= 308)
    return 0;
  if (mag >= 310)
    return -1;
  return isinf(float_value(p, len, s)) ? -1 : 0;
}

int tarn__csv_float_check(const char *p, size_t len, int *is_int) {
  fscan s;
  if (float_scan(p, len, &s) != 0 || float_accept(p, len, &s) != 0)
    return -1;
  *is_int = s.is_int && !(len == 2 && p[0] == '-'); /* "-0" is not an int64 */
  return 0;
}

int tarn_csv_parse_float64(const char *p, size_t len, double *out) {
  fscan s;
  if (float_scan(p, len, &s) != 0 || float_accept(p, len, &s) != 0)
    return -1;
  *out = float_value(p, len, &s);
  return 0;
}

/* ---- date and timestamp ---- */

static inline int two(const char *p, int *v) {
  if (!is_digit(p[0]) || !is_digit(p[1]))
    return -1;
  *v = (p[0] - '0') * 10 + (p[1] - '0');
  return 0;
}

static int is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (y >= 1). Counts
 * whole years from a March-based year so that the leap day is the last day. */
static int64_t days_from_civil(int y, int m, int d) {
  int64_t yy = y - (m <= 2);
  int64_t cycles = yy / 400; /* yy >= 0 for y >= 1 */
  int64_t yoc = yy - cycles * 400;
  int64_t mp = m > 2 ? m - 3 : m + 9; /* March = 0 */
  int64_t doy = (153 * mp + 2) / 5 + d - 1;
  int64_t doc = yoc * 365 + yoc / 4 - yoc / 100 + doy;
  return cycles * 146097 + doc - 719468;
}

/* YYYY-MM-DD at p (10 bytes available). */
static int parse_ymd(const char *p, int64_t *days) {
  static const unsigned char mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int hi, lo, m, d, y;
  if (two(p, &hi) != 0 || two(p + 2, &lo) != 0 || p[4] != '-' || two(p + 5, &m) != 0 ||
      p[7] != '-' || two(p + 8, &d) != 0)
    return -1;
  y = hi * 100 + lo;
  if (y < 1 || m < 1 || m > 12 || d < 1)
    return -1;
  if (d > mdays[m - 1] + (m == 2 && is_leap(y)))
    return -1;
  *days = days_from_civil(y, m, d);
  return 0;
}

int tarn_csv_parse_date(const char *p, size_t len, int32_t *out) {
  int64_t days;
  if (len != 10 || parse_ymd(p, &days) != 0)
    return -1;
  *out = (int32_t)days;
  return 0;
}

int tarn_csv_parse_timestamp(const char *p, size_t len, int64_t *out_us, int *has_zone) {
  int64_t days, secs, frac = 0;
  int hh, mi, ss, zone = 0, zsec = 0;
  size_t i;
  if (len < 19 || parse_ymd(p, &days) != 0 || (p[10] != 'T' && p[10] != ' '))
    return -1;
  if (two(p + 11, &hh) != 0 || p[13] != ':' || two(p + 14, &mi) != 0 || p[16] != ':' ||
      two(p + 17, &ss) != 0 || hh > 23 || mi > 59 || ss > 59)
    return -1;
  i = 19;
  if (i < len && p[i] == '.') {
    size_t start = ++i;
    int nd = 0;
    for (; i < len && is_digit(p[i]); i++, nd++) {
      if (nd >= 9)
        return -1;
      if (nd < 6)
        frac = frac * 10 + (p[i] - '0'); /* digits 7-9: truncated */
    }
    if (i == start)
      return -1;
    for (; nd < 6; nd++)
      frac *= 10;
  }
  if (i < len) {
    int zh, zm;
    if (p[i] == 'Z') {
      if (i + 1 != len)
        return -1;
      zone = 1;
    } else if (p[i] == '+' || p[i] == '-') {
      int sign = p[i] == '-' ? -1 : 1;
      size_t rest = len - i - 1;
      const char *z = p + i + 1;
      if (rest == 5 && z[2] == ':') {
        if (two(z, &zh) != 0 || two(z + 3, &zm) != 0)
          return -1;
      } else if (rest == 4) {
        if (two(z, &zh) != 0 || two(z + 2, &zm) != 0)
          return -1;
      } else {
        return -1;
      }
      if (zh > 23 || zm > 59)
        return -1;
      zone = 1;
      zsec = sign * (zh * 3600 + zm * 60);
    } else {
      return -1;
    }
  }
  secs = days * 86400 + hh * 3600 + mi * 60 + ss - zsec;
  *out_us = secs * 1000000 + frac;
  *has_zone = zone;
  return 0;
}

/* ---- classification and conversion ---- */

tarn__csv_kind tarn__csv_classify(const char *p, size_t len) {
  unsigned char c = (unsigned char)p[0];
  if (is_digit((char)c)) {
    if (len >= 10 && p[4] == '-') {
      int32_t day;
      int64_t us;
      int z;
      if (len == 10)
        return tarn_csv_parse_date(p, len, &day) == 0 ? TARN__CSV_K_DATE : TARN__CSV_K_TEXT;
      if (tarn_csv_parse_timestamp(p, len, &us, &z) == 0)
        return z ? TARN__CSV_K_TSTZ : TARN__CSV_K_TS;
      return TARN__CSV_K_TEXT;
    }
  } else if (c == '-') {
    /* a number or text */
  } else if ((c | 0x20) == 't' || (c | 0x20) == 'f') {
    int b;
    return tarn_csv_parse_bool(p, len, &b) == 0 ? TARN__CSV_K_BOOL : TARN__CSV_K_TEXT;
  } else {
    return TARN__CSV_K_TEXT;
  }
  {
    int64_t v;
    int is_int;
    if (tarn_csv_parse_int64(p, len, &v) == 0)
      return TARN__CSV_K_INT;
    if (tarn__csv_float_check(p, len, &is_int) == 0)
      return TARN__CSV_K_FLOAT;
  }
  return TARN__CSV_K_TEXT;
}

const char *tarn__csv_text_note(const char *p, size_t len) {
  size_t i = 0, j;
  if (len > 0 && p[0] == '-')
    i = 1;
  for (j = i; j < len && is_digit(p[j]); j++)
    ;
  if (j > i && (j == len || p[j] == '.' || p[j] == 'e' || p[j] == 'E')) {
    if (p[i] == '0' && j - i > 1)
      return "leading zeros";
    if (j == len)
      return "beyond the int64 range";
    if (len > FLOAT_TEXT_MAX)
      return "number text longer than 256 bytes";
    {
      fscan s;
      if (float_scan(p, len, &s) == 0)
        return "beyond the float64 range";
    }
    return "";
  }
  if (len >= 10 && is_digit(p[0]) && p[4] == '-')
    return "not a valid date or ISO 8601 timestamp";
  if (len > 0 && (p[0] == ' ' || p[0] == '\t' || p[len - 1] == ' ' || p[len - 1] == '\t'))
    return "surrounding whitespace";
  return "";
}

int tarn_csv_convert(tarn_csv_type t, const char *p, size_t len, tarn_csv_value *out) {
  int z;
  if (len == 0) {
    out->is_null = 1;
    return 0;
  }
  out->is_null = 0;
  switch (t) {
  case TARN_CSV_BOOLEAN: return tarn_csv_parse_bool(p, len, &out->v.b);
  case TARN_CSV_INT64: return tarn_csv_parse_int64(p, len, &out->v.i);
  case TARN_CSV_FLOAT64: return tarn_csv_parse_float64(p, len, &out->v.d);
  case TARN_CSV_DATE: return tarn_csv_parse_date(p, len, &out->v.day);
  case TARN_CSV_TIMESTAMP:
  case TARN_CSV_TIMESTAMPTZ: {
    int64_t us;
    if (tarn_csv_parse_timestamp(p, len, &us, &z) != 0 || z != (t == TARN_CSV_TIMESTAMPTZ))
      return -1;
    out->v.i = us;
    return 0;
  }
  case TARN_CSV_STRING:
    out->v.s.ptr = p;
    out->v.s.len = len;
    return 0;
  }
  return -1;
}
