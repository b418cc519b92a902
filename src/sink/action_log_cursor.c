/* action_log_cursor.c - the read API's values given as text: since/until instants and the
 * opaque page cursor (base64url of a position, a query hash and a check). */
#include "action_log.h"

#include <stdio.h>
#include <string.h>

#include "base/hash.h"

#define CURSOR_VERSION 1
#define CURSOR_HEAD 19 /* version, ms (8), query hash (8), event_id length (2) */
#define CURSOR_CHECK 8
#define CURSOR_RAW_MAX (CURSOR_HEAD + TARN_AL_CURSOR_EVENT_ID_MAX + CURSOR_CHECK)
/* 9999-12-31T23:59:59.999Z: the last millisecond of year 9999 */
#define MS_MAX 253402300799999LL
/* 0001-01-01T00:00:00Z */
#define MS_MIN (-62135596800000LL)

static const char forms[] = "accepted: RFC 3339 (2026-12-01T00:00:00Z, "
                            "2026-12-01T01:30:00.250+01:00), a date (2026-12-01, its midnight "
                            "UTC) or integer milliseconds since the epoch (1796083200000)";

/* ---- instants ---- */

/* Exactly n decimal digits at p. */
static int digits(const char *p, int n, int *out) {
  int i, v = 0;
  for (i = 0; i < n; i++) {
    if (p[i] < '0' || p[i] > '9')
      return -1;
    v = v * 10 + (p[i] - '0');
  }
  *out = v;
  return 0;
}

static int leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int month_days(int y, int m) {
  static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : d[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d) {
  int64_t era, yoe, doy, doe;
  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = y - era * 400;
  doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static int bad_time(const char *s, const char *why, tarn_error *err) {
  return tarn_error_set(err, TARN_EINVAL, "\"%.100s\" is not a time (%s); %s", s, why, forms);
}

/* Integer milliseconds: an optional '-' and 1 to 15 digits, within years 0001-9999. */
static int parse_ms(const char *s, tarn_al_instant *out, tarn_error *err) {
  const char *p = s + (s[0] == '-');
  int64_t v = 0, r;
  size_t i, n = strlen(p);
  if (n == 0 || n > 15)
    return bad_time(s, n == 0 ? "no digits" : "too many digits", err);
  for (i = 0; i < n; i++)
    v = v * 10 + (p[i] - '0');
  if (s[0] == '-')
    v = -v;
  if (v < MS_MIN || v > MS_MAX)
    return bad_time(s, "outside years 0001-9999", err);
  r = ((v % 1000) + 1000) % 1000;
  out->sec = (v - r) / 1000;
  out->nsec = (int32_t)(r * 1000000);
  return 0;
}

/* ".f{1,9}" at *pp, into nanoseconds. */
static int parse_frac(const char **pp, int32_t *nsec) {
  const char *p = *pp + 1;
  int32_t v = 0, scale = 100000000;
  int n = 0;
  while (*p >= '0' && *p <= '9') {
    if (++n > 9)
      return -1;
    v += (int32_t)(*p - '0') * scale;
    scale /= 10;
    p++;
  }
  if (n == 0)
    return -1;
  *nsec = v;
  *pp = p;
  return 0;
}

/* "Z", "+HH:MM", "-HH:MM" (or " HH:MM": a '+' a URL's form encoding made a space) at p,
 * which must end the text; the offset east of UTC in seconds. */
static int parse_zone(const char *p, int64_t *off) {
  int h, m, sign;
  if ((p[0] == 'Z' || p[0] == 'z') && p[1] == '\0') {
    *off = 0;
    return 0;
  }
  if (p[0] != '+' && p[0] != '-' && p[0] != ' ')
    return -1;
  sign = p[0] == '-' ? -1 : 1;
  if (digits(p + 1, 2, &h) != 0 || p[3] != ':' || digits(p + 4, 2, &m) != 0 || p[6] != '\0' ||
      h > 23 || m > 59)
    return -1;
  *off = sign * (h * 3600 + m * 60);
  return 0;
}

/* "HH:MM:SS[.f]ZONE" at p: seconds into the day (before the offset) and nanoseconds. */
static int parse_clock(const char *s, const char *p, int64_t *secs, int32_t *nsec, int64_t *off,
                       tarn_error *err) {
  int h, mi, se;
  if (digits(p, 2, &h) != 0 || p[2] != ':' || digits(p + 3, 2, &mi) != 0 || p[5] != ':' ||
      digits(p + 6, 2, &se) != 0)
    return bad_time(s, "the time of day is not HH:MM:SS", err);
  if (h > 23 || mi > 59 || se > 59)
    return bad_time(s, "hour, minute or second out of range", err);
  p += 8;
  *nsec = 0;
  if (*p == '.' && parse_frac(&p, nsec) != 0)
    return bad_time(s, "1 to 9 fraction digits after the '.'", err);
  if (parse_zone(p, off) != 0)
    return bad_time(s, "no offset: end with Z or +HH:MM/-HH:MM", err);
  *secs = h * 3600 + mi * 60 + se;
  return 0;
}

int tarn_al_parse_instant(const char *s, tarn_al_instant *out, tarn_error *err) {
  int y, mo, d, rc;
  int64_t secs = 0, off = 0;
  int32_t nsec = 0;
  if (s[0] != '\0' && strspn(s + (s[0] == '-'), "0123456789") == strlen(s + (s[0] == '-')))
    return parse_ms(s, out, err);
  if (digits(s, 4, &y) != 0 || s[4] != '-' || digits(s + 5, 2, &mo) != 0 || s[7] != '-' ||
      digits(s + 8, 2, &d) != 0)
    return bad_time(s, "it does not start with a date YYYY-MM-DD", err);
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo))
    return bad_time(s, "no such day", err);
  if (s[10] != '\0') {
    if (s[10] != 'T' && s[10] != 't' && s[10] != ' ')
      return bad_time(s, "the date and the time are not separated by 'T'", err);
    rc = parse_clock(s, s + 11, &secs, &nsec, &off, err);
    if (rc != 0)
      return rc;
  }
  out->sec = days_from_civil(y, mo, d) * 86400 + secs - off;
  out->nsec = nsec;
  if (out->sec < MS_MIN / 1000 || out->sec > MS_MAX / 1000)
    return bad_time(s, "outside years 0001-9999 in UTC", err);
  return 0;
}

int64_t tarn_al_instant_ms(const tarn_al_instant *t) {
  return t->sec * 1000 + (t->nsec + 999999) / 1000000;
}

int tarn_al_instant_cmp(const tarn_al_instant *a, const tarn_al_instant *b) {
  if (a->sec != b->sec)
    return a->sec < b->sec ? -1 : 1;
  return a->nsec < b->nsec ? -1 : a->nsec > b->nsec;
}

/* ---- base64url without padding ---- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Needs 4 * ceil(n / 3) + 1 bytes at out. */
static void b64_encode(const uint8_t *p, size_t n, char *out) {
  size_t i, o = 0;
  for (i = 0; i + 2 < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
    out[o++] = b64[v >> 18];
    out[o++] = b64[(v >> 12) & 63];
    out[o++] = b64[(v >> 6) & 63];
    out[o++] = b64[v & 63];
  }
  if (i < n) {
    uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
    out[o++] = b64[v >> 18];
    out[o++] = b64[(v >> 12) & 63];
    if (i + 1 < n)
      out[o++] = b64[(v >> 6) & 63];
  }
  out[o] = '\0';
}

static int b64_value(char c) {
  const char *p = c != '\0' ? strchr(b64, c) : NULL;
  return p != NULL ? (int)(p - b64) : -1;
}

/* Strict: only the alphabet, no padding, unused trailing bits zero (one text per value).
 * Returns the bytes decoded, or -1. out holds CURSOR_RAW_MAX bytes. */
static long b64_decode(const char *s, uint8_t *out) {
  size_t n = strlen(s), i, o = 0;
  uint32_t acc = 0;
  int bits = 0;
  if (n % 4 == 1 || n * 3 / 4 > CURSOR_RAW_MAX)
    return -1;
  for (i = 0; i < n; i++) {
    int v = b64_value(s[i]);
    if (v < 0)
      return -1;
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (uint8_t)(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  return acc != 0 ? -1 : (long)o;
}

/* ---- cursors ---- */

static void put_str(tarn_buf *b, const char *s, tarn_error *err) {
  if (s == NULL)
    tarn_buf_append_str(b, "-;", err);
  else
    tarn_buf_appendf(b, err, "=%zu:%s;", strlen(s), s);
}

/* 8 bytes of the SHA-256 of the query's filters, in a canonical form: two spellings of one
 * time (RFC 3339 or milliseconds) give the same hash, since both give the same rows. */
static int query_hash(const tarn_al_query *q, uint8_t out[8], tarn_error *err) {
  uint8_t d[TARN_SHA256_LEN];
  tarn_buf b;
  int rc;
  tarn_buf_init(&b, 4 * TARN_AL_FILTER_MAX + 256);
  tarn_buf_append_str(&b, "tarn action-log query 1;", NULL);
  put_str(&b, q->tenant, NULL);
  put_str(&b, q->object_id, NULL);
  put_str(&b, q->actor_sub, NULL);
  tarn_buf_appendf(&b, NULL, "%c%lld;%c%lld;", q->has_since ? '=' : '-',
                   (long long)(q->has_since ? q->since_ms : 0), q->has_until ? '=' : '-',
                   (long long)(q->has_until ? q->until_ms : 0));
  rc = tarn_sha256_digest(b.data, b.len, d, err);
  tarn_buf_free(&b);
  if (rc == 0)
    memcpy(out, d, 8);
  return rc;
}

static int check_of(const uint8_t *p, size_t n, uint8_t out[CURSOR_CHECK], tarn_error *err) {
  static const char salt[] = "tarn action-log cursor";
  uint8_t d[TARN_SHA256_LEN];
  uint8_t buf[sizeof(salt) + CURSOR_RAW_MAX];
  int rc;
  memcpy(buf, salt, sizeof(salt));
  memcpy(buf + sizeof(salt), p, n);
  rc = tarn_sha256_digest(buf, sizeof(salt) + n, d, err);
  if (rc == 0)
    memcpy(out, d, CURSOR_CHECK);
  return rc;
}

int tarn_al_cursor_encode(const tarn_al_query *q, const tarn_al_pos *p, char *out, size_t n,
                          tarn_error *err) {
  uint8_t raw[CURSOR_RAW_MAX];
  uint64_t ms = (uint64_t)p->ms;
  size_t len, i;
  int rc;
  if (p->len > TARN_AL_CURSOR_EVENT_ID_MAX || n < TARN_AL_CURSOR_TEXT_MAX + 1)
    return tarn_error_set(err, TARN_ETOOBIG,
                          "an event_id of %zu bytes cannot be a cursor position (at most %d)",
                          p->len, TARN_AL_CURSOR_EVENT_ID_MAX);
  raw[0] = CURSOR_VERSION;
  for (i = 0; i < 8; i++)
    raw[1 + i] = (uint8_t)(ms >> (56 - 8 * i));
  rc = query_hash(q, raw + 9, err);
  if (rc != 0)
    return rc;
  raw[17] = (uint8_t)(p->len >> 8);
  raw[18] = (uint8_t)p->len;
  memcpy(raw + CURSOR_HEAD, p->event_id, p->len);
  len = CURSOR_HEAD + p->len;
  rc = check_of(raw, len, raw + len, err);
  if (rc != 0)
    return rc;
  b64_encode(raw, len + CURSOR_CHECK, out);
  return 0;
}

static int bad_cursor(const char *why, tarn_error *err) {
  return tarn_error_set(err, TARN_EINVAL,
                        "the cursor %s; pass next_cursor from the previous page unchanged, with "
                        "the same tenant, object_id, actor_sub, since and until",
                        why);
}

int tarn_al_cursor_decode(const tarn_al_query *q, const char *text, tarn_al_pos *p,
                          tarn_error *err) {
  uint8_t raw[CURSOR_RAW_MAX], check[CURSOR_CHECK], qh[8];
  long n = strlen(text) <= TARN_AL_CURSOR_TEXT_MAX ? b64_decode(text, raw) : -1;
  uint64_t ms = 0;
  size_t len, i;
  int rc;
  if (n < 0)
    return bad_cursor("is not one this server made (not base64url, or too long)", err);
  if (n < CURSOR_HEAD + CURSOR_CHECK)
    return bad_cursor("is cut short", err);
  if (raw[0] != CURSOR_VERSION)
    return bad_cursor("has a version this server does not read", err);
  len = (size_t)raw[17] << 8 | raw[18];
  if (len > TARN_AL_CURSOR_EVENT_ID_MAX || (size_t)n != CURSOR_HEAD + len + CURSOR_CHECK)
    return bad_cursor("is cut short or has bytes added", err);
  if ((rc = check_of(raw, CURSOR_HEAD + len, check, err)) != 0 ||
      (rc = query_hash(q, qh, err)) != 0)
    return rc;
  if (memcmp(check, raw + CURSOR_HEAD + len, CURSOR_CHECK) != 0)
    return bad_cursor("was changed (its check does not match)", err);
  if (memcmp(qh, raw + 9, 8) != 0)
    return bad_cursor("was made for another query", err);
  for (i = 0; i < 8; i++)
    ms = ms << 8 | raw[1 + i];
  p->ms = (int64_t)ms;
  if (p->ms < MS_MIN || p->ms > MS_MAX)
    return bad_cursor("holds a time outside years 0001-9999", err);
  p->len = len;
  memcpy(p->event_id, raw + CURSOR_HEAD, len);
  p->event_id[len] = '\0';
  return 0;
}
