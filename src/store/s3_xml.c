/* s3_xml.c - a small, bounds-checked scanner for the few XML documents S3 sends us. */
#include <string.h>

#include "base/alloc.h"
#include "store/s3_int.h"

/*
 * S3's responses are flat and predictable (ListBucketResult, Error,
 * InitiateMultipartUploadResult, ListMultipartUploadsResult), so instead of a general XML
 * parser we find elements by name and decode their text. Every read is checked against
 * the document's length; a document cut anywhere yields "not found" or TARN_ECORRUPT,
 * never a read past its end. The scanner does not validate well-formedness beyond what
 * it reads.
 */

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* Does s[i..n) start a tag named `name` ("<name>", "<name ", "<name/")? */
static int opens_tag(const char *s, size_t n, size_t i, const char *name, size_t nl) {
  char c;
  if (n - i < nl + 2 || s[i] != '<' || memcmp(s + i + 1, name, nl) != 0)
    return 0;
  c = s[i + 1 + nl];
  return c == '>' || c == '/' || is_space(c);
}

int tarn__s3_xml_next(const char *s, size_t n, size_t *pos, const char *name, const char **inner,
                      size_t *inner_len) {
  size_t nl = strlen(name), i, start, j;
  for (i = *pos; i < n; i++) {
    const char *lt = memchr(s + i, '<', n - i);
    if (lt == NULL)
      return 0;
    i = (size_t)(lt - s);
    if (!opens_tag(s, n, i, name, nl))
      continue;
    /* the end of the start tag */
    j = i + 1 + nl;
    while (j < n && s[j] != '>')
      j++;
    if (j >= n)
      return -1;
    if (s[j - 1] == '/') { /* <name/> or <name attr="..."/> */
      *inner = s + j + 1;
      *inner_len = 0;
      *pos = j + 1;
      return 1;
    }
    start = j + 1;
    /* the matching end tag: "</name" then optional spaces then '>' */
    for (j = start; j < n; j++) {
      const char *e = memchr(s + j, '<', n - j);
      size_t k;
      if (e == NULL)
        return -1;
      j = (size_t)(e - s);
      if (n - j < nl + 3 || s[j + 1] != '/' || memcmp(s + j + 2, name, nl) != 0)
        continue;
      k = j + 2 + nl;
      while (k < n && is_space(s[k]))
        k++;
      if (k < n && s[k] == '>') {
        *inner = s + start;
        *inner_len = j - start;
        *pos = k + 1;
        return 1;
      }
    }
    return -1;
  }
  return 0;
}

/* Appends code point cp as UTF-8; rejects NUL, surrogates and values past U+10FFFF. */
static int put_utf8(tarn_buf *out, unsigned long cp, tarn_error *err) {
  unsigned char b[4];
  size_t n;
  if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return tarn_error_set(err, TARN_ECORRUPT, "XML: character reference &#x%lx; is not allowed",
                          cp);
  if (cp < 0x80) {
    b[0] = (unsigned char)cp;
    n = 1;
  } else if (cp < 0x800) {
    b[0] = (unsigned char)(0xc0 | (cp >> 6));
    b[1] = (unsigned char)(0x80 | (cp & 0x3f));
    n = 2;
  } else if (cp < 0x10000) {
    b[0] = (unsigned char)(0xe0 | (cp >> 12));
    b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    b[2] = (unsigned char)(0x80 | (cp & 0x3f));
    n = 3;
  } else {
    b[0] = (unsigned char)(0xf0 | (cp >> 18));
    b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
    b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    b[3] = (unsigned char)(0x80 | (cp & 0x3f));
    n = 4;
  }
  return tarn_buf_append(out, b, n, err);
}

/* Decodes the entity starting at s[0] == '&' (at most n bytes); *used gets its length. */
static int decode_entity(const char *s, size_t n, tarn_buf *out, size_t *used, tarn_error *err) {
  static const struct {
    const char *name;
    char c;
  } named[] = {{"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};
  const char *semi;
  size_t len, i;
  unsigned long cp = 0;
  /* the longest we accept is "&#x10FFFF;" or "&#1114111;": 10 bytes; allow leading zeros
   * up to 12 */
  semi = memchr(s, ';', n < 13 ? n : 13);
  if (semi == NULL)
    return tarn_error_set(err, TARN_ECORRUPT, "XML: unterminated or overlong entity");
  len = (size_t)(semi - s) + 1;
  *used = len;
  if (len >= 4 && s[1] == '#') {
    int hex = s[2] == 'x';
    size_t d = hex ? 3 : 2;
    if (d >= len - 1)
      return tarn_error_set(err, TARN_ECORRUPT, "XML: empty character reference");
    for (i = d; i < len - 1; i++) {
      char c = s[i];
      unsigned v;
      if (c >= '0' && c <= '9')
        v = (unsigned)(c - '0');
      else if (hex && c >= 'a' && c <= 'f')
        v = (unsigned)(c - 'a' + 10);
      else if (hex && c >= 'A' && c <= 'F')
        v = (unsigned)(c - 'A' + 10);
      else
        return tarn_error_set(err, TARN_ECORRUPT, "XML: bad character reference");
      cp = cp * (hex ? 16 : 10) + v;
      if (cp > 0x10ffff)
        return tarn_error_set(err, TARN_ECORRUPT, "XML: character reference past U+10FFFF");
    }
    return put_utf8(out, cp, err);
  }
  for (i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
    size_t nl = strlen(named[i].name);
    if (len == nl + 2 && memcmp(s + 1, named[i].name, nl) == 0)
      return tarn_buf_append_byte(out, (uint8_t)named[i].c, err);
  }
  return tarn_error_set(err, TARN_ECORRUPT, "XML: unknown entity '%.*s'", (int)len, s);
}

int tarn__s3_xml_decode(const char *s, size_t n, tarn_buf *out, tarn_error *err) {
  size_t i = 0, run, used = 0;
  int rc;
  while (i < n) {
    /* copy the run of plain bytes */
    for (run = i; run < n && s[run] != '&' && s[run] != '<' && s[run] != '\0'; run++)
      ;
    if (run > i) {
      rc = tarn_buf_append(out, s + i, run - i, err);
      if (rc != 0)
        return rc;
      i = run;
      continue;
    }
    if (s[i] == '&') {
      rc = decode_entity(s + i, n - i, out, &used, err);
      if (rc != 0)
        return rc;
      i += used;
    } else if (s[i] == '<' && n - i >= 9 && memcmp(s + i, "<![CDATA[", 9) == 0) {
      const char *end = NULL;
      size_t j;
      for (j = i + 9; j + 3 <= n; j++) {
        if (memcmp(s + j, "]]>", 3) == 0) {
          end = s + j;
          break;
        }
      }
      if (end == NULL)
        return tarn_error_set(err, TARN_ECORRUPT, "XML: unterminated CDATA section");
      rc = tarn_buf_append(out, s + i + 9, (size_t)(end - (s + i + 9)), err);
      if (rc != 0)
        return rc;
      i = (size_t)(end - s) + 3;
    } else {
      return tarn_error_set(err, TARN_ECORRUPT, "XML: unexpected %s in text",
                            s[i] == '<' ? "markup" : "NUL byte");
    }
  }
  /* an empty result still needs a terminator for callers that read out->data */
  return tarn_buf_reserve(out, 0, err);
}

int tarn__s3_xml_escape(tarn_buf *out, const char *s, tarn_error *err) {
  int rc = 0;
  for (; *s != '\0' && rc == 0; s++) {
    switch (*s) {
    case '&': rc = tarn_buf_append_str(out, "&amp;", err); break;
    case '<': rc = tarn_buf_append_str(out, "&lt;", err); break;
    case '>': rc = tarn_buf_append_str(out, "&gt;", err); break;
    case '"': rc = tarn_buf_append_str(out, "&quot;", err); break;
    case '\'': rc = tarn_buf_append_str(out, "&apos;", err); break;
    default: rc = tarn_buf_append_byte(out, (uint8_t)*s, err); break;
    }
  }
  return rc;
}

int tarn__s3_xml_text(const char *s, size_t n, const char *name, size_t max, char **out,
                      tarn_error *err) {
  size_t pos = 0, il;
  const char *in;
  tarn_buf b;
  int r, rc;
  *out = NULL;
  r = tarn__s3_xml_next(s, n, &pos, name, &in, &il);
  if (r == 0)
    return 0;
  if (r < 0)
    return tarn_error_set(err, TARN_ECORRUPT, "XML: element <%s> is not terminated", name);
  tarn_buf_init(&b, max);
  rc = tarn__s3_xml_decode(in, il, &b, err);
  if (rc != 0) {
    tarn_buf_free(&b);
    tarn_error_prefix(err, "<%s>", name);
    return rc;
  }
  *out = tarn_buf_detach(&b);
  if (*out == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "XML: out of memory");
  return 0;
}

/* Decodes the first <name> of s[0,n) into dst (cut to dstlen - 1 bytes); "" on any
 * problem. No allocation beyond a small capped buffer. */
static void text_into(const char *s, size_t n, const char *name, char *dst, size_t dstlen) {
  size_t pos = 0, il;
  const char *in;
  tarn_buf b;
  dst[0] = '\0';
  if (tarn__s3_xml_next(s, n, &pos, name, &in, &il) != 1)
    return;
  /* Error bodies are capped far below this; a longer value is simply dropped. */
  tarn_buf_init(&b, TARN__S3_ERRBODY_MAX);
  if (tarn__s3_xml_decode(in, il, &b, NULL) == 0 && b.data != NULL) {
    size_t len = b.len < dstlen - 1 ? b.len : dstlen - 1, i;
    memcpy(dst, b.data, len);
    dst[len] = '\0';
    for (i = 0; i < len; i++) /* the detail is one line: no raw newlines from a server */
      if ((unsigned char)dst[i] < 0x20 || dst[i] == 0x7f)
        dst[i] = ' ';
  }
  tarn_buf_free(&b);
}

void tarn__s3_parse_error(const char *s, size_t n, tarn__s3_errinfo *ei) {
  size_t pos = 0, il;
  const char *in;
  ei->code[0] = ei->message[0] = ei->request_id[0] = '\0';
  /* Look inside <Error> when there is one; else nothing is an S3 error. */
  if (s == NULL || tarn__s3_xml_next(s, n, &pos, "Error", &in, &il) != 1)
    return;
  text_into(in, il, "Code", ei->code, sizeof(ei->code));
  text_into(in, il, "Message", ei->message, sizeof(ei->message));
  text_into(in, il, "RequestId", ei->request_id, sizeof(ei->request_id));
}

/* Parses a decimal uint64 of exactly n bytes. */
static int parse_u64(const char *s, size_t n, uint64_t *v) {
  size_t i;
  uint64_t x = 0;
  while (n > 0 && is_space(*s)) {
    s++;
    n--;
  }
  while (n > 0 && is_space(s[n - 1]))
    n--;
  if (n == 0)
    return -1;
  for (i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9' || x > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
      return -1;
    x = x * 10 + (uint64_t)(s[i] - '0');
  }
  *v = x;
  return 0;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  int64_t era;
  unsigned yoe, doy, doe;
  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = (unsigned)(y - era * 400);
  doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

/* Reads exactly `w` digits at s[*i] into *v. */
static int digits(const char *s, size_t n, size_t *i, unsigned w, unsigned *v) {
  unsigned k, x = 0;
  if (n - *i < w)
    return -1;
  for (k = 0; k < w; k++) {
    char c = s[*i + k];
    if (c < '0' || c > '9')
      return -1;
    x = x * 10 + (unsigned)(c - '0');
  }
  *i += w;
  *v = x;
  return 0;
}

int tarn__s3_parse_iso8601(const char *s, size_t n, int64_t *us) {
  unsigned y, mo, d, h, mi, sec, frac_digits = 0;
  int64_t frac = 0;
  size_t i = 0;
  while (n > 0 && is_space(s[n - 1]))
    n--;
  while (i < n && is_space(s[i]))
    i++;
  if (digits(s, n, &i, 4, &y) || i >= n || s[i++] != '-' || digits(s, n, &i, 2, &mo) || i >= n ||
      s[i++] != '-' || digits(s, n, &i, 2, &d) || i >= n ||
      (s[i] != 'T' && s[i] != 't' && s[i] != ' '))
    return -1;
  i++;
  if (digits(s, n, &i, 2, &h) || i >= n || s[i++] != ':' || digits(s, n, &i, 2, &mi) || i >= n ||
      s[i++] != ':' || digits(s, n, &i, 2, &sec))
    return -1;
  if (i < n && s[i] == '.') {
    i++;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
      if (frac_digits < 6) {
        frac = frac * 10 + (s[i] - '0');
        frac_digits++;
      }
      i++;
    }
    if (frac_digits == 0)
      return -1;
    while (frac_digits < 6) {
      frac *= 10;
      frac_digits++;
    }
  }
  if (i < n && (s[i] == 'Z' || s[i] == 'z'))
    i++;
  else if (n - i == 6 && memcmp(s + i, "+00:00", 6) == 0)
    i += 6;
  else
    return -1;
  if (i != n || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
    return -1;
  *us =
      ((days_from_civil(y, mo, d) * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60 + sec) * 1000000) +
      frac;
  return 0;
}

int tarn__s3_parse_list(const char *s, size_t n, tarn_store_listing *out, int *truncated,
                        char **next_token, tarn_error *err) {
  size_t pos = 0, il, cpos, fl;
  const char *in, *f;
  char *v = NULL;
  tarn_buf key;
  int r, rc = 0;
  *truncated = 0;
  *next_token = NULL;
  tarn_buf_init(&key, 4 * TARN__S3_KEY_MAX); /* decoded keys are checked later */

  /* A document that is not a ListBucketResult (an HTML page, an <Error>) is corrupt. */
  if (tarn__s3_xml_next(s, n, &pos, "ListBucketResult", &in, &il) != 1) {
    rc = tarn_error_set(err, TARN_ECORRUPT, "list response is not a complete <ListBucketResult>");
    goto out;
  }
  s = in;
  n = il;

  rc = tarn__s3_xml_text(s, n, "IsTruncated", 16, &v, err);
  if (rc != 0)
    goto out;
  *truncated = v != NULL && strcmp(v, "true") == 0;
  tarn_free(v);
  v = NULL;
  rc = tarn__s3_xml_text(s, n, "NextContinuationToken", 4096, next_token, err);
  if (rc != 0)
    goto out;

  pos = 0;
  for (;;) {
    uint64_t size = 0;
    int64_t mtime = 0;
    r = tarn__s3_xml_next(s, n, &pos, "Contents", &in, &il);
    if (r == 0)
      break;
    if (r < 0) {
      rc = tarn_error_set(err, TARN_ECORRUPT, "list response: <Contents> is not terminated");
      goto out;
    }
    cpos = 0;
    if (tarn__s3_xml_next(in, il, &cpos, "Key", &f, &fl) != 1) {
      rc = tarn_error_set(err, TARN_ECORRUPT, "list response: <Contents> without a <Key>");
      goto out;
    }
    tarn_buf_reset(&key);
    rc = tarn__s3_xml_decode(f, fl, &key, err);
    if (rc != 0) {
      tarn_error_prefix(err, "list response: <Key>");
      goto out;
    }
    if (key.len == 0 || memchr(key.data, '\0', key.len) != NULL) {
      rc = tarn_error_set(err, TARN_ECORRUPT, "list response: empty <Key>");
      goto out;
    }
    cpos = 0;
    if (tarn__s3_xml_next(in, il, &cpos, "Size", &f, &fl) != 1 || parse_u64(f, fl, &size) != 0) {
      rc = tarn_error_set(err, TARN_ECORRUPT, "list response: bad or missing <Size> for '%s'",
                          key.data);
      goto out;
    }
    cpos = 0;
    if (tarn__s3_xml_next(in, il, &cpos, "LastModified", &f, &fl) == 1 &&
        tarn__s3_parse_iso8601(f, fl, &mtime) != 0) {
      rc = tarn_error_set(err, TARN_ECORRUPT, "list response: bad <LastModified> '%.*s' for '%s'",
                          (int)(fl < 40 ? fl : 40), f, key.data);
      goto out;
    }
    rc = tarn_store_list_push(out, key.data, size, mtime, err);
    if (rc != 0)
      goto out;
  }
out:
  tarn_free(v);
  tarn_buf_free(&key);
  if (rc != 0) {
    tarn_free(*next_token);
    *next_token = NULL;
  }
  return rc;
}
