/* thrift_read.c - a bounds-checked decoder for the Thrift compact protocol (Parquet footers). */
#include "pq_read_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"

void tarn__thr_init(tarn__thrift *t, const void *p, size_t n, int64_t base, const char *name,
                    tarn_error *err) {
  t->start = t->p = p;
  t->end = t->start + n;
  t->base = base;
  t->depth = 0;
  t->name = name ? name : "parquet";
  t->err = err;
  t->code = 0;
}

int tarn__thr_fail(tarn__thrift *t, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (t->code != 0)
    return -1; /* keep the first failure */
  t->code = TARN_ECORRUPT;
  tarn_error_set(t->err, TARN_ECORRUPT, "%s: offset %lld: %s", t->name, (long long)TARN__THR_OFF(t),
                 msg);
  return -1;
}

static int varint(tarn__thrift *t, uint64_t *v) {
  uint64_t x = 0;
  int shift = 0;
  *v = 0;
  for (;;) {
    uint8_t b;
    if (t->p >= t->end)
      return tarn__thr_fail(t, "Thrift data ends inside a varint");
    b = *t->p++;
    if (shift == 63 && (b & 0x7e))
      return tarn__thr_fail(t, "Thrift varint overflows 64 bits");
    x |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80))
      break;
    shift += 7;
    if (shift > 63)
      return tarn__thr_fail(t, "Thrift varint is too long");
  }
  *v = x;
  return 0;
}

static int64_t unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

int tarn__thr_i64(tarn__thrift *t, int64_t *v) {
  uint64_t u = 0;
  if (varint(t, &u) != 0)
    return -1;
  *v = unzigzag(u);
  return 0;
}

int tarn__thr_i32(tarn__thrift *t, int32_t *v) {
  int64_t x;
  if (tarn__thr_i64(t, &x) != 0)
    return -1;
  if (x < INT32_MIN || x > INT32_MAX)
    return tarn__thr_fail(t, "Thrift i32 value %lld is out of range", (long long)x);
  *v = (int32_t)x;
  return 0;
}

int tarn__thr_byte(tarn__thrift *t, int8_t *v) {
  if (t->p >= t->end)
    return tarn__thr_fail(t, "Thrift data ends inside a byte");
  *v = (int8_t)*t->p++;
  return 0;
}

int tarn__thr_bool_elem(tarn__thrift *t, int *v) {
  int8_t b = 0;
  if (tarn__thr_byte(t, &b) != 0)
    return -1;
  *v = b == TARN__THR_TRUE; /* writers use 1 for true and 0 or 2 for false */
  return 0;
}

int tarn__thr_binary(tarn__thrift *t, const uint8_t **p, uint32_t *n, uint32_t cap) {
  uint64_t len = 0;
  *p = NULL;
  *n = 0;
  if (varint(t, &len) != 0)
    return -1;
  if (len > (uint64_t)(t->end - t->p))
    return tarn__thr_fail(t, "Thrift binary of %llu bytes runs past the end (%zu left)",
                          (unsigned long long)len, (size_t)(t->end - t->p));
  if (len > cap)
    return tarn__thr_fail(t, "Thrift binary of %llu bytes exceeds the cap of %u",
                          (unsigned long long)len, cap);
  *p = t->p;
  *n = (uint32_t)len;
  t->p += len;
  return 0;
}

int tarn__thr_string(tarn__thrift *t, char **out, uint32_t cap) {
  const uint8_t *p = NULL;
  uint32_t n = 0;
  char *s;
  if (tarn__thr_binary(t, &p, &n, cap) != 0)
    return -1;
  s = tarn_strndup((const char *)p, n);
  if (s == NULL) {
    t->code = TARN_ENOMEM;
    tarn_error_set(t->err, TARN_ENOMEM, "%s: out of memory decoding the footer", t->name);
    return -1;
  }
  tarn_free(*out);
  *out = s;
  return 0;
}

int tarn__thr_list(tarn__thrift *t, int *elem_type, uint32_t *n) {
  uint8_t h;
  uint64_t size;
  *elem_type = 0;
  *n = 0;
  if (t->p >= t->end)
    return tarn__thr_fail(t, "Thrift data ends inside a list header");
  h = *t->p++;
  size = h >> 4;
  if (size == 15 && varint(t, &size) != 0)
    return -1;
  *elem_type = h & 0x0f;
  /* Each element takes at least one byte in the compact protocol. */
  if (size > (uint64_t)(t->end - t->p))
    return tarn__thr_fail(t, "Thrift list of %llu elements cannot fit in %zu bytes",
                          (unsigned long long)size, (size_t)(t->end - t->p));
  *n = (uint32_t)size;
  return 0;
}

int tarn__thr_enter(tarn__thrift *t) {
  if (++t->depth > TARN__PQ_THRIFT_DEPTH)
    return tarn__thr_fail(t, "Thrift structures nest deeper than %d", TARN__PQ_THRIFT_DEPTH);
  return 0;
}

void tarn__thr_leave(tarn__thrift *t) { t->depth--; }

int tarn__thr_field(tarn__thrift *t, int16_t *last, int *type, int16_t *id) {
  uint8_t h;
  int delta;
  if (t->p >= t->end)
    return tarn__thr_fail(t, "Thrift data ends inside a struct");
  h = *t->p++;
  *type = h & 0x0f;
  if (*type == TARN__THR_STOP) {
    *id = 0;
    return 0;
  }
  delta = h >> 4;
  if (delta != 0) {
    *id = (int16_t)(*last + delta);
  } else {
    int64_t v;
    if (tarn__thr_i64(t, &v) != 0)
      return -1;
    if (v < INT16_MIN || v > INT16_MAX)
      return tarn__thr_fail(t, "Thrift field id %lld is out of range", (long long)v);
    *id = (int16_t)v;
  }
  *last = *id;
  return 0;
}

/* Skips a value; in_container: bools take a byte (in a struct field they take none). */
static int skip(tarn__thrift *t, int type, int in_container) {
  switch (type) {
  case TARN__THR_TRUE:
  case TARN__THR_FALSE:
    if (in_container) {
      if (t->p >= t->end)
        return tarn__thr_fail(t, "Thrift data ends inside a bool");
      t->p++;
    }
    return 0;
  case TARN__THR_BYTE:
    if (t->p >= t->end)
      return tarn__thr_fail(t, "Thrift data ends inside a byte");
    t->p++;
    return 0;
  case TARN__THR_I16:
  case TARN__THR_I32:
  case TARN__THR_I64: {
    uint64_t v;
    return varint(t, &v);
  }
  case TARN__THR_DOUBLE:
    if (t->end - t->p < 8)
      return tarn__thr_fail(t, "Thrift data ends inside a double");
    t->p += 8;
    return 0;
  case TARN__THR_BINARY: {
    const uint8_t *p;
    uint32_t n;
    return tarn__thr_binary(t, &p, &n, UINT32_MAX);
  }
  case TARN__THR_LIST:
  case TARN__THR_SET: {
    int et = 0;
    uint32_t n = 0, i;
    if (tarn__thr_enter(t) != 0 || tarn__thr_list(t, &et, &n) != 0)
      return -1;
    for (i = 0; i < n; i++)
      if (skip(t, et, 1) != 0)
        return -1;
    tarn__thr_leave(t);
    return 0;
  }
  case TARN__THR_MAP: {
    uint64_t n = 0, i;
    uint8_t kv;
    if (tarn__thr_enter(t) != 0 || varint(t, &n) != 0)
      return -1;
    if (n > 0) {
      if (t->p >= t->end)
        return tarn__thr_fail(t, "Thrift data ends inside a map header");
      kv = *t->p++;
      if (n > (uint64_t)(t->end - t->p))
        return tarn__thr_fail(t, "Thrift map of %llu entries cannot fit", (unsigned long long)n);
      for (i = 0; i < n; i++)
        if (skip(t, kv >> 4, 1) != 0 || skip(t, kv & 0x0f, 1) != 0)
          return -1;
    }
    tarn__thr_leave(t);
    return 0;
  }
  case TARN__THR_STRUCT: {
    int16_t last = 0, id;
    int ft;
    if (tarn__thr_enter(t) != 0)
      return -1;
    for (;;) {
      if (tarn__thr_field(t, &last, &ft, &id) != 0)
        return -1;
      if (ft == TARN__THR_STOP)
        break;
      if (skip(t, ft, 0) != 0)
        return -1;
    }
    tarn__thr_leave(t);
    return 0;
  }
  default: return tarn__thr_fail(t, "unknown Thrift type %d", type);
  }
}

int tarn__thr_skip(tarn__thrift *t, int type) { return skip(t, type, 0); }
