/* buf.c - growable byte buffers with a hard cap. */
#include "buf.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"

void tarn_buf_init(tarn_buf *b, size_t max) {
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  b->max = max;
}

void tarn_buf_free(tarn_buf *b) {
  if (b == NULL)
    return;
  tarn_free(b->data);
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}

void tarn_buf_reset(tarn_buf *b) {
  b->len = 0;
  if (b->data != NULL)
    b->data[0] = '\0';
}

int tarn_buf_reserve(tarn_buf *b, size_t extra, tarn_error *err) {
  size_t need, ncap;
  char *nd;
  if (extra > b->max || b->len > b->max - extra)
    return tarn_error_set(err, TARN_ETOOBIG, "buffer limit of %zu bytes exceeded", b->max);
  need = b->len + extra + 1; /* wraps to 0 only when len + extra == SIZE_MAX */
  if (need == 0)
    return tarn_error_set(err, TARN_ETOOBIG, "buffer size overflow");
  if (need <= b->cap)
    return 0;
  ncap = b->cap ? b->cap : 64;
  while (ncap < need) {
    if (ncap > SIZE_MAX / 2) {
      ncap = need;
      break;
    }
    ncap *= 2;
  }
  nd = tarn_realloc(b->data, ncap);
  if (nd == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "cannot grow buffer to %zu bytes", ncap);
  if (b->data == NULL)
    nd[0] = '\0';
  b->data = nd;
  b->cap = ncap;
  return 0;
}

int tarn_buf_append(tarn_buf *b, const void *p, size_t n, tarn_error *err) {
  int rc = tarn_buf_reserve(b, n, err);
  if (rc != 0)
    return rc;
  if (n > 0)
    memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

int tarn_buf_append_str(tarn_buf *b, const char *s, tarn_error *err) {
  return tarn_buf_append(b, s, strlen(s), err);
}

int tarn_buf_append_byte(tarn_buf *b, uint8_t c, tarn_error *err) {
  return tarn_buf_append(b, &c, 1, err);
}

int tarn_buf_vappendf(tarn_buf *b, tarn_error *err, const char *fmt, va_list ap) {
  va_list cp;
  int n, rc;
  va_copy(cp, ap);
  n = vsnprintf(NULL, 0, fmt, cp);
  va_end(cp);
  if (n < 0)
    return tarn_error_set(err, TARN_EINVAL, "bad format string");
  rc = tarn_buf_reserve(b, (size_t)n, err);
  if (rc != 0)
    return rc;
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
  return 0;
}

int tarn_buf_appendf(tarn_buf *b, tarn_error *err, const char *fmt, ...) {
  va_list ap;
  int rc;
  va_start(ap, fmt);
  rc = tarn_buf_vappendf(b, err, fmt, ap);
  va_end(ap);
  return rc;
}

char *tarn_buf_detach(tarn_buf *b) {
  char *d = b->data;
  if (d == NULL)
    d = tarn_strdup("");
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  return d;
}
