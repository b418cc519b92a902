/* thrift_write.c - Thrift compact protocol encoder for Parquet metadata structs. */
#include "pq_write_int.h"

#include <string.h>

size_t tarn__pq_uleb128(uint8_t *p, uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    p[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  p[n++] = (uint8_t)v;
  return n;
}

static uint64_t zigzag64(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }

static void put(tarn__pq_tw *tw, const void *p, size_t n) {
  if (tw->rc == 0)
    tw->rc = tarn_buf_append(tw->out, p, n, tw->err);
}

static void put_varint(tarn__pq_tw *tw, uint64_t v) {
  uint8_t b[10];
  put(tw, b, tarn__pq_uleb128(b, v));
}

void tarn__pq_tw_init(tarn__pq_tw *tw, tarn_buf *out, tarn_error *err) {
  memset(tw, 0, sizeof(*tw));
  tw->out = out;
  tw->err = err;
}

int tarn__pq_tw_finish(tarn__pq_tw *tw) {
  if (tw->rc == 0 && tw->depth != 0)
    tw->rc =
        tarn_error_set(tw->err, TARN_EINTERNAL, "thrift encoder: %d structs left open", tw->depth);
  return tw->rc;
}

static void push(tarn__pq_tw *tw) {
  if (tw->rc != 0)
    return;
  if (tw->depth >= TARN__PQ_TW_DEPTH) {
    tw->rc = tarn_error_set(tw->err, TARN_EINTERNAL, "thrift encoder: structs nested too deep");
    return;
  }
  tw->last[tw->depth++] = 0;
}

void tarn__pq_tw_struct_begin(tarn__pq_tw *tw) { push(tw); }

void tarn__pq_tw_struct_end(tarn__pq_tw *tw) {
  uint8_t stop = TARN__TC_STOP;
  put(tw, &stop, 1);
  if (tw->rc == 0) {
    if (tw->depth == 0)
      tw->rc = tarn_error_set(tw->err, TARN_EINTERNAL, "thrift encoder: unbalanced struct end");
    else
      tw->depth--;
  }
}

/* Field header: short form (delta 1..15 in the high nibble) or type byte + zigzag id. */
static void field_header(tarn__pq_tw *tw, int16_t id, int type) {
  int16_t *last;
  if (tw->rc != 0)
    return;
  if (tw->depth == 0) {
    tw->rc = tarn_error_set(tw->err, TARN_EINTERNAL, "thrift encoder: field outside a struct");
    return;
  }
  last = &tw->last[tw->depth - 1];
  if (id > *last && id - *last <= 15) {
    uint8_t b = (uint8_t)(((id - *last) << 4) | type);
    put(tw, &b, 1);
  } else {
    uint8_t b = (uint8_t)type;
    put(tw, &b, 1);
    put_varint(tw, zigzag64(id));
  }
  *last = id;
}

void tarn__pq_tw_field_struct(tarn__pq_tw *tw, int16_t id) {
  field_header(tw, id, TARN__TC_STRUCT);
  push(tw);
}

void tarn__pq_tw_field_empty(tarn__pq_tw *tw, int16_t id) {
  tarn__pq_tw_field_struct(tw, id);
  tarn__pq_tw_struct_end(tw);
}

void tarn__pq_tw_field_bool(tarn__pq_tw *tw, int16_t id, int v) {
  field_header(tw, id, v ? TARN__TC_TRUE : TARN__TC_FALSE);
}

void tarn__pq_tw_field_i8(tarn__pq_tw *tw, int16_t id, int8_t v) {
  uint8_t b = (uint8_t)v;
  field_header(tw, id, TARN__TC_BYTE);
  put(tw, &b, 1);
}

void tarn__pq_tw_field_i16(tarn__pq_tw *tw, int16_t id, int16_t v) {
  field_header(tw, id, TARN__TC_I16);
  put_varint(tw, zigzag64(v));
}

void tarn__pq_tw_field_i32(tarn__pq_tw *tw, int16_t id, int32_t v) {
  field_header(tw, id, TARN__TC_I32);
  put_varint(tw, zigzag64(v));
}

void tarn__pq_tw_field_i64(tarn__pq_tw *tw, int16_t id, int64_t v) {
  field_header(tw, id, TARN__TC_I64);
  put_varint(tw, zigzag64(v));
}

void tarn__pq_tw_field_binary(tarn__pq_tw *tw, int16_t id, const void *p, size_t n) {
  field_header(tw, id, TARN__TC_BINARY);
  tarn__pq_tw_binary(tw, p, n);
}

void tarn__pq_tw_field_string(tarn__pq_tw *tw, int16_t id, const char *s) {
  tarn__pq_tw_field_binary(tw, id, s, strlen(s));
}

void tarn__pq_tw_field_list(tarn__pq_tw *tw, int16_t id, int elem, size_t n) {
  field_header(tw, id, TARN__TC_LIST);
  if (n < 15) {
    uint8_t b = (uint8_t)((n << 4) | (size_t)elem);
    put(tw, &b, 1);
  } else {
    uint8_t b = (uint8_t)(0xf0 | elem);
    put(tw, &b, 1);
    put_varint(tw, n);
  }
}

/* Bool list elements are one byte each: 1 true, 0 false (the compact protocol spec;
 * readers test for 1). */
void tarn__pq_tw_bool(tarn__pq_tw *tw, int v) {
  uint8_t b = v ? 1 : 0;
  put(tw, &b, 1);
}

void tarn__pq_tw_i32(tarn__pq_tw *tw, int32_t v) { put_varint(tw, zigzag64(v)); }

void tarn__pq_tw_i64(tarn__pq_tw *tw, int64_t v) { put_varint(tw, zigzag64(v)); }

void tarn__pq_tw_binary(tarn__pq_tw *tw, const void *p, size_t n) {
  put_varint(tw, n);
  if (n > 0)
    put(tw, p, n);
}
