/* pq_read_int.h - what the reader's files share: Thrift decoding, footer and index decoding,
 * page decoders and the byte source. Not for other modules (tests and fuzzing include it). */
#ifndef TARN_PARQUET_PQ_READ_INT_H
#define TARN_PARQUET_PQ_READ_INT_H

#include "pq_int.h"

/*
 * What the reader accepts beyond what tarn's writer produces (the file format itself is in
 * README.md): any writer's flat files; legacy ConvertedType without LogicalType; min/max
 * statistics preferred, legacy min/max only for signed-ordered types; dictionary_page_offset
 * 0 read as "none"; data pages v1 (RLE or BIT_PACKED levels) and v2 (levels uncompressed,
 * is_compressed honoured); index and unknown page types skipped; RLE booleans whose 4-byte
 * prefix is a value count rather than a byte length (hyparquet-writer); all-null pages with
 * no value bytes; page CRC-32 checked when present. Pruning only ever drops row groups or
 * pages that cannot hold a matching row.
 */

/* ---- caps on what a file may declare (hostile input costs an error, not the process) ---- */

#define TARN__PQ_MAX_COLUMNS TARN_PQ_MAX_COLUMNS /* the writer's limit too */
#define TARN__PQ_MAX_ROW_GROUPS 1000000
#define TARN__PQ_MAX_STRING (1u << 20) /* names, kv, statistics bounds */
#define TARN__PQ_MAX_KV 100000
#define TARN__PQ_MAX_FOOTER (256u << 20)
#define TARN__PQ_MAX_FLBA_WIDTH (16 << 20) /* as the writer allows */
#define TARN__PQ_THRIFT_DEPTH 32

/*
 * Limits on what one page or batch may cost in memory. Defaults suit real files; the
 * fuzz target lowers them so that a tiny input cannot ask for gigabytes. Process-wide;
 * change them only before any reader runs (tests and fuzzing).
 */
typedef struct tarn__pq_limits {
  size_t max_page_bytes;   /* decompressed page (and DELTA_BYTE_ARRAY output) size */
  int64_t max_page_values; /* values (rows) one data page may declare */
  size_t max_batch_bytes;  /* variable-length bytes one column of one batch may hold */
} tarn__pq_limits;
extern tarn__pq_limits tarn__pq_limits_cur;

/* ---- Thrift compact protocol decoder (thrift_read.c) ---- */

enum {
  TARN__THR_STOP = 0,
  TARN__THR_TRUE = 1,
  TARN__THR_FALSE = 2,
  TARN__THR_BYTE = 3,
  TARN__THR_I16 = 4,
  TARN__THR_I32 = 5,
  TARN__THR_I64 = 6,
  TARN__THR_DOUBLE = 7,
  TARN__THR_BINARY = 8,
  TARN__THR_LIST = 9,
  TARN__THR_SET = 10,
  TARN__THR_MAP = 11,
  TARN__THR_STRUCT = 12,
};

/*
 * A cursor over one Thrift-encoded region. Every read checks the remaining bytes; the
 * first failure records "NAME: offset N: what" in err and returns -1, and the caller
 * jumps to its one error label. `base` is the file offset of `start`.
 */
typedef struct tarn__thrift {
  const uint8_t *start, *p, *end;
  int64_t base;
  int depth;
  const char *name;
  tarn_error *err;
  int code; /* tarn_code of the first failure, 0 until then */
} tarn__thrift;

void tarn__thr_init(tarn__thrift *t, const void *p, size_t n, int64_t base, const char *name,
                    tarn_error *err);
/* Records a TARN_ECORRUPT error at the cursor's offset; returns -1. */
int tarn__thr_fail(tarn__thrift *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reads a field header inside a struct: *type 0 (STOP) ends the struct. `last` carries the
 * previous field id (start at 0) for delta encoding. */
int tarn__thr_field(tarn__thrift *t, int16_t *last, int *type, int16_t *id);
/* Enter/leave a nested struct (depth limit). */
int tarn__thr_enter(tarn__thrift *t);
void tarn__thr_leave(tarn__thrift *t);
int tarn__thr_i32(tarn__thrift *t, int32_t *v);
int tarn__thr_i64(tarn__thrift *t, int64_t *v);
int tarn__thr_byte(tarn__thrift *t, int8_t *v);
/* A field's bool lives in its type nibble; a list element's in one byte. */
int tarn__thr_bool_elem(tarn__thrift *t, int *v);
/* Binary/string: a pointer into the input, length checked against what remains and cap. */
int tarn__thr_binary(tarn__thrift *t, const uint8_t **p, uint32_t *n, uint32_t cap);
/* Copies a string (NUL-terminated, tarn_malloc'd) of at most cap bytes. */
int tarn__thr_string(tarn__thrift *t, char **out, uint32_t cap);
/* List/set header; *n is checked against the bytes that remain (every element costs >= 1). */
int tarn__thr_list(tarn__thrift *t, int *elem_type, uint32_t *n);
/* Skips one value of any type, nested containers and structs included (depth-limited). */
int tarn__thr_skip(tarn__thrift *t, int type);
/* Byte offset in the file of the cursor. */
#define TARN__THR_OFF(t) ((t)->base + (int64_t)((t)->p - (t)->start))

/* ---- footer, page header and index decoding (pq_meta_read.c) ---- */

/* Decodes FileMetaData from p[0..n) found at file offset `base` of a file of `file_size`
 * bytes whose footer starts at `base` (so column data must end before it). On failure m
 * is freed and zeroed. TARN_ECORRUPT or TARN_EUNSUPPORTED (nested schema) with detail. */
int tarn__pq_decode_file_meta(const uint8_t *p, size_t n, int64_t base, const char *name,
                              tarn_pq_file_meta *m, tarn_error *err);
/* Decodes a PageHeader; *used gets its encoded size. Page statistics are skipped (not
 * decoded: h->stats stays zeroed and has_stats 0). */
int tarn__pq_decode_page_header(const uint8_t *p, size_t n, int64_t base, const char *name,
                                tarn__pq_page_header *h, size_t *used, tarn_error *err);
int tarn__pq_decode_column_index(const uint8_t *p, size_t n, int64_t base, const char *name,
                                 tarn__pq_column_index *ci, tarn_error *err);
int tarn__pq_decode_offset_index(const uint8_t *p, size_t n, int64_t base, const char *name,
                                 tarn__pq_offset_index *oi, tarn_error *err);
/* BloomFilterHeader: fills the bitset size; *used gets the header's encoded size.
 * TARN_EUNSUPPORTED for an algorithm, hash or compression other than the spec's one. */
int tarn__pq_decode_bloom_header(const uint8_t *p, size_t n, int64_t base, const char *name,
                                 int32_t *num_bytes, size_t *used, tarn_error *err);

/* ---- value decoders (pq_decode.c) ---- */

/* Every decoder returns 0, or -1 when the input is malformed (the caller names the page). */

/* A variable-length value: a view into a page, dictionary or reconstruction buffer. */
typedef struct tarn__pq_view {
  const uint8_t *p;
  uint32_t len;
} tarn__pq_view;

/* Unpacks n values of bw bits (0..64), LSB first, from in[0..inlen). -1 if in is short. */
int tarn__pq_unpack64(const uint8_t *in, size_t inlen, int bw, uint64_t *out, size_t n);

/* RLE / bit-packed hybrid (no length prefix): exactly n values of bit width bw. */
int tarn__pq_rle_u32(const uint8_t *in, size_t inlen, int bw, uint32_t *out, size_t n);
int tarn__pq_rle_u8(const uint8_t *in, size_t inlen, int bw, uint8_t *out, size_t n);
/* Legacy BIT_PACKED levels (MSB first), bw 1..8; *used gets the bytes consumed. */
int tarn__pq_bitpacked_u8(const uint8_t *in, size_t inlen, int bw, uint8_t *out, size_t n,
                          size_t *used);

/* DELTA_BINARY_PACKED: decodes the first n values (the stream must hold at least n) into
 * int64 (wrapping arithmetic). *total gets the count the header declares; *used the bytes
 * of the whole encoded stream (so a DELTA_LENGTH payload can follow). n may be 0. */
int tarn__pq_delta_i64(const uint8_t *in, size_t inlen, int64_t *out, size_t n, size_t *total,
                       size_t *used);
/* The same for INT32 columns (values truncated to 32 bits, as the spec's wrap-around). */
int tarn__pq_delta_i32(const uint8_t *in, size_t inlen, int32_t *out, size_t n, size_t *total,
                       size_t *used);

/* PLAIN BYTE_ARRAY: n length-prefixed values into views. *used gets bytes consumed. */
int tarn__pq_plain_views(const uint8_t *in, size_t inlen, tarn__pq_view *out, size_t n,
                         size_t *used);
/* DELTA_LENGTH_BYTE_ARRAY: n values into views into in. */
int tarn__pq_dlba_views(const uint8_t *in, size_t inlen, tarn__pq_view *out, size_t n,
                        size_t *used);
/* DELTA_BYTE_ARRAY: reconstructs n values into *buf (tarn_malloc'd, at most maxbytes,
 * caller frees) and views into it; -1 corrupt, -2 over maxbytes, -3 out of memory. */
int tarn__pq_dba_views(const uint8_t *in, size_t inlen, tarn__pq_view *out, size_t n, uint8_t **buf,
                       size_t maxbytes);
/* BYTE_STREAM_SPLIT: n values of w bytes; in must hold n * w bytes. */
int tarn__pq_bss(const uint8_t *in, size_t inlen, size_t w, uint8_t *out, size_t n);
/* PLAIN BOOLEAN: n bits (LSB first) into one byte per value. */
int tarn__pq_plain_bool(const uint8_t *in, size_t inlen, uint8_t *out, size_t n);

/* ---- byte sources (pq_reader.c) ---- */

typedef struct tarn__pq_source tarn__pq_source;
struct tarn__pq_source {
  /* Reads exactly len bytes at off into out (reset first). A short object is
   * TARN_ECORRUPT naming the offset. */
  int (*read)(tarn__pq_source *src, uint64_t off, size_t len, tarn_buf *out, tarn_error *err);
  uint64_t size;
  const char *name;
  int fd;
  tarn_store *st;
  const char *key;
  const uint8_t *mem;
};

struct tarn_pq_reader {
  tarn__pq_source src;
  char *name;
  tarn_pq_file_meta meta;
  int64_t footer_start; /* file offset of FileMetaData */
};

/* Reads a region of the file into out (exactly len bytes). */
int tarn__pq_read(tarn_pq_reader *r, uint64_t off, size_t len, tarn_buf *out, tarn_error *err);

/* PLAIN encoding of a predicate literal for column c (what statistics hold) into *out
 * (tmp, 8 bytes, or the literal's own bytes) and *len; -1 if it cannot be encoded. */
int tarn__pq_literal(const tarn_pq_column *c, const tarn_pq_value *v, uint8_t *tmp,
                     const uint8_t **out, size_t *len);

#endif
