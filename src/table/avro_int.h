/* avro_int.h - what the Avro codec's files share: varints, UTF-8 checks, field paths. */
#ifndef TARN_TABLE_AVRO_INT_H
#define TARN_TABLE_AVRO_INT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/error.h"
#include "table/avro.h"

/* ---- zigzag varints (Avro int and long) ---- */

#define TARN__AVRO_VARINT_MAX 10

static inline uint64_t tarn__avro_zigzag(int64_t v) {
  uint64_t u = (uint64_t)v;
  return (u << 1) ^ (0 - (u >> 63));
}

static inline int64_t tarn__avro_unzigzag(uint64_t u) {
  /* Written without converting an out-of-range unsigned to signed. */
  if (u & 1)
    return -(int64_t)(u >> 1) - 1;
  return (int64_t)(u >> 1);
}

/* Writes v as a zigzag varint into out (at least TARN__AVRO_VARINT_MAX bytes); returns
 * the number of bytes written (1 to 10). */
size_t tarn__avro_varint_put(uint8_t *out, int64_t v);

/* Reads a zigzag varint from p[0..n). Returns the bytes used (1 to 10), 0 when the input
 * ends first, or -1 when the varint is longer than 10 bytes or overflows 64 bits. */
int tarn__avro_varint_get(const uint8_t *p, size_t n, int64_t *v);

/* Appends a varint / an Avro string or bytes (length + data) to b. */
int tarn__avro_buf_long(tarn_buf *b, int64_t v, tarn_error *err);
int tarn__avro_buf_lenbytes(tarn_buf *b, const void *p, size_t n, tarn_error *err);

/* 1 when p[0..n) is valid UTF-8 (shortest forms, no surrogates, at most U+10FFFF). */
int tarn__avro_utf8_ok(const uint8_t *p, size_t n);

/* ---- field paths for error messages ("data_file.lower_bounds[3].value") ---- */

typedef struct tarn__avro_seg {
  const char *name; /* field name or map key; NULL for an array index */
  size_t name_len;
  uint64_t index;
  int is_key; /* map key: rendered ["key"] */
} tarn__avro_seg;

typedef struct tarn__avro_path {
  size_t depth;
  tarn__avro_seg seg[TARN_AVRO_MAX_DEPTH + 2];
} tarn__avro_path;

/* Renders the path into dst ("" for the root record). */
void tarn__avro_path_render(const tarn__avro_path *p, char *dst, size_t cap);

/* ---- shared between schema, writer and reader ---- */

/* Encodes a JSON default value of node n (Avro's JSON encoding of defaults: unions take
 * their first branch, bytes and fixed are strings of code points 0-255) onto b.
 * TARN_EINVAL with the path on a mismatch. */
int tarn__avro_encode_json(tarn_buf *b, const tarn_avro_node *n, const json_t *j, int depth,
                           tarn__avro_path *path, tarn_error *err);

/* Allocates like tarn_avro_arena_alloc, filling err (TARN_ENOMEM, or TARN_ETOOBIG past
 * the arena's cap, with `what` in the detail). */
void *tarn__avro_arena_alloc_err(tarn_avro_arena *a, size_t n, const char *what, tarn_error *err);

/* Deep equality (floats compared bit for bit, so NaN equals itself). Tests and fuzzing. */
int tarn__avro_value_equal(const tarn_avro_value *a, const tarn_avro_value *b);

#endif
