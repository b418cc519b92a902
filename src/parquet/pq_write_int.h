/* pq_write_int.h - what the Parquet writer's files share: Thrift encoder, metadata
 * encoders, value encoders, statistics accumulators and the output sink. */
#ifndef TARN_PARQUET_PQ_WRITE_INT_H
#define TARN_PARQUET_PQ_WRITE_INT_H

#include "pq_int.h"

/* ---- Thrift compact protocol encoder (thrift_write.c) ---- */

/* Compact-protocol type ids (field headers and list element types). */
enum {
  TARN__TC_STOP = 0,
  TARN__TC_TRUE = 1,
  TARN__TC_FALSE = 2,
  TARN__TC_BYTE = 3,
  TARN__TC_I16 = 4,
  TARN__TC_I32 = 5,
  TARN__TC_I64 = 6,
  TARN__TC_DOUBLE = 7,
  TARN__TC_BINARY = 8,
  TARN__TC_LIST = 9,
  TARN__TC_STRUCT = 12,
};

#define TARN__PQ_TW_DEPTH 16

/*
 * Appends Thrift compact-protocol bytes to `out`. Errors are sticky: after the first
 * failed append every call does nothing and tarn__pq_tw_finish returns the code. Field
 * ids inside one struct must be written in increasing order (the writer always does).
 */
typedef struct tarn__pq_tw {
  tarn_buf *out;
  tarn_error *err;
  int rc;
  int depth;
  int16_t last[TARN__PQ_TW_DEPTH]; /* last field id per open struct */
} tarn__pq_tw;

void tarn__pq_tw_init(tarn__pq_tw *tw, tarn_buf *out, tarn_error *err);
/* Returns 0 or the first error. */
int tarn__pq_tw_finish(tarn__pq_tw *tw);
/* A top-level struct or a struct element of a list: opens a field-id scope. */
void tarn__pq_tw_struct_begin(tarn__pq_tw *tw);
/* Writes the STOP byte and closes the scope. */
void tarn__pq_tw_struct_end(tarn__pq_tw *tw);
/* A struct (or union) field: header, then a new scope; close with tarn__pq_tw_struct_end. */
void tarn__pq_tw_field_struct(tarn__pq_tw *tw, int16_t id);
/* An empty struct field (LogicalType STRING, TypeDefinedOrder, ...). */
void tarn__pq_tw_field_empty(tarn__pq_tw *tw, int16_t id);
void tarn__pq_tw_field_bool(tarn__pq_tw *tw, int16_t id, int v);
void tarn__pq_tw_field_i8(tarn__pq_tw *tw, int16_t id, int8_t v);
void tarn__pq_tw_field_i16(tarn__pq_tw *tw, int16_t id, int16_t v);
void tarn__pq_tw_field_i32(tarn__pq_tw *tw, int16_t id, int32_t v);
void tarn__pq_tw_field_i64(tarn__pq_tw *tw, int16_t id, int64_t v);
void tarn__pq_tw_field_binary(tarn__pq_tw *tw, int16_t id, const void *p, size_t n);
void tarn__pq_tw_field_string(tarn__pq_tw *tw, int16_t id, const char *s);
/* A list field of n elements of compact type `elem`; then write the n elements. */
void tarn__pq_tw_field_list(tarn__pq_tw *tw, int16_t id, int elem, size_t n);
/* List elements. */
void tarn__pq_tw_bool(tarn__pq_tw *tw, int v);
void tarn__pq_tw_i32(tarn__pq_tw *tw, int32_t v);
void tarn__pq_tw_i64(tarn__pq_tw *tw, int64_t v);
void tarn__pq_tw_binary(tarn__pq_tw *tw, const void *p, size_t n);

/* ULEB128 of v into p (at least 10 bytes); returns the byte count. */
size_t tarn__pq_uleb128(uint8_t *p, uint64_t v);

/* ---- metadata encoders (pq_meta_write.c) ---- */

/* What the footer needs per column chunk beyond tarn_pq_chunk_meta. */
typedef struct tarn__pq_chunk_extra {
  int has_nan_count; /* FLOAT/DOUBLE with statistics */
  int64_t nan_count;
  int32_t dict_pages;       /* 0 or 1 */
  int32_t dict_data_pages;  /* data pages encoded RLE_DICTIONARY */
  int32_t plain_data_pages; /* data pages encoded PLAIN */
  int data_page_v2;         /* page type of the data pages */
} tarn__pq_chunk_extra;

/* Each appends one Thrift struct to out. nan_count < 0 means "not written". */
int tarn__pq_encode_page_header(const tarn__pq_page_header *h, int64_t nan_count, tarn_buf *out,
                                tarn_error *err);
int tarn__pq_encode_column_index(const tarn__pq_column_index *ci, tarn_buf *out, tarn_error *err);
int tarn__pq_encode_offset_index(const tarn__pq_offset_index *oi, tarn_buf *out, tarn_error *err);
int tarn__pq_encode_bloom_header(int32_t nbytes, tarn_buf *out, tarn_error *err);
/* extra: m->nrow_groups * m->schema.ncols entries, row-major; NULL = none. */
int tarn__pq_encode_file_meta(const tarn_pq_file_meta *m, const tarn__pq_chunk_extra *extra,
                              tarn_buf *out, tarn_error *err);
/* The ConvertedType written beside a column's LogicalType, or -1 when there is none. */
int tarn__pq_converted_type(const tarn_pq_column *c);

/* ---- value encoders (pq_encode.c) ---- */

/* Bits needed for values up to max_value (0 for 0). */
int tarn__pq_bit_width(uint64_t max_value);
/* RLE/bit-packed hybrid of n values of bit_width (1..32) bits, appended to out (no
 * length prefix). */
int tarn__pq_encode_hybrid(const uint32_t *vals, size_t n, int bit_width, tarn_buf *out,
                           tarn_error *err);
/* The same for one-bit values given as an LSB-first bitmap of n bits (definition levels
 * of a flat optional column are exactly its validity bitmap). */
int tarn__pq_encode_hybrid_bits(const uint8_t *bits, size_t n, tarn_buf *out, tarn_error *err);
/* Copies n bits from src (starting at bit soff) to dst (starting at bit doff). dst must
 * hold doff + n bits; bits of dst past doff + n in the last byte are left zero. */
void tarn__pq_copy_bits(uint8_t *dst, size_t doff, const uint8_t *src, size_t soff, size_t n);
/* Sets n bits of dst from bit doff. */
void tarn__pq_set_bits(uint8_t *dst, size_t doff, size_t n);
/* Set bits among n bits of p starting at bit off. */
size_t tarn__pq_count_bits(const uint8_t *p, size_t off, size_t n);

/*
 * A dictionary for one column chunk: the PLAIN-encoded entries (the dictionary page
 * body) and an open-addressing hash table on them. Fixed-width values (4 or 8 bytes)
 * live in the table slots and hash with a multiply; BYTE_ARRAY and FLBA hash with
 * xxHash64 (the same hash a bloom filter needs).
 */
typedef struct tarn__pq_dict {
  int width;        /* 4, 8 for fixed width; 0 for BYTE_ARRAY; n for FLBA(n) */
  int bytes;        /* 1 when entries are byte strings (BYTE_ARRAY, FLBA) */
  size_t cap_bytes; /* dictionary page size cap */
  uint32_t count;   /* entries */
  tarn_buf plain;   /* dictionary page body */
  /* table: one cache line holds key, index and hash, so a probe costs one miss */
  uint32_t mask; /* slots - 1 (slots a power of two) */
  struct tarn__pq_dict_slot {
    uint64_t key;  /* fixed width: the value's bits */
    uint32_t idx;  /* entry index + 1, 0 = empty */
    uint32_t hash; /* byte strings: high half of the xxHash64 */
  } * slots;
  /* byte strings: per entry */
  uint64_t *ent_off; /* offset of the bytes in plain */
  uint32_t *ent_len;
  uint32_t ent_cap;
} tarn__pq_dict;

void tarn__pq_dict_init(tarn__pq_dict *d, int width, int bytes, size_t cap_bytes);
void tarn__pq_dict_reset(tarn__pq_dict *d); /* empties, keeps memory */
void tarn__pq_dict_free(tarn__pq_dict *d);
/*
 * Maps n contiguous fixed-width values (4 or 8 bytes each) to entry indexes in idx.
 * Returns how many were mapped: fewer than n when adding the next new value would take
 * the dictionary past its cap (the caller then falls back to PLAIN). New entries' values
 * are reported through `fresh` (if not NULL): their positions in vals, *nfresh of them.
 * -1 on allocation failure (err filled).
 */
int64_t tarn__pq_dict_put_fixed(tarn__pq_dict *d, const void *vals, size_t n, uint32_t *idx,
                                uint32_t *fresh, size_t *nfresh, tarn_error *err);
/* The same for one byte string with its xxHash64; returns 1 mapped, 0 full, -1 error. */
int tarn__pq_dict_put_bytes(tarn__pq_dict *d, const uint8_t *p, uint32_t len, uint64_t hash,
                            uint32_t *idx, int *is_new, tarn_error *err);

/* ---- statistics (pq_stats.c) ---- */

/*
 * Running min/max, null and NaN counts for a page, a chunk or a whole file. Fixed-width
 * bounds are kept PLAIN-encoded in min8/max8; byte strings in bmin/bmax, untruncated.
 * Floats never take a NaN as a bound.
 */
typedef struct tarn__pq_acc {
  int has; /* a bound exists */
  uint8_t min8[8], max8[8];
  tarn_buf bmin, bmax; /* BYTE_ARRAY, FLBA */
  int64_t nulls, nans;
} tarn__pq_acc;

void tarn__pq_acc_init(tarn__pq_acc *a);
void tarn__pq_acc_reset(tarn__pq_acc *a);
void tarn__pq_acc_free(tarn__pq_acc *a);
/* n contiguous non-null values of a 4/8-byte type (INT32, INT64, FLOAT, DOUBLE). */
void tarn__pq_acc_add_fixed(const tarn_pq_column *c, tarn__pq_acc *a, const void *vals, size_t n);
/* BOOLEAN: whether a false and a true value were seen. */
void tarn__pq_acc_add_bool(tarn__pq_acc *a, int saw_false, int saw_true);
/* Byte strings: rows [start, start+n) of offsets/data (BYTE_ARRAY) or of FLBA values
 * (offsets NULL, width `flba`), skipping rows whose validity bit is clear. */
int tarn__pq_acc_add_bytes(const tarn_pq_column *c, tarn__pq_acc *a, const int64_t *offsets,
                           const uint8_t *data, int flba, const uint8_t *validity, int64_t start,
                           int64_t n, tarn_error *err);
/* Folds src's bounds and counts into dst. */
int tarn__pq_acc_merge(const tarn_pq_column *c, tarn__pq_acc *dst, const tarn__pq_acc *src,
                       tarn_error *err);
/*
 * The bounds as they are written: PLAIN-encoded, floats with min -0.0 / max +0.0 when
 * zero, BYTE_ARRAY truncated to `truncate` bytes (lower a prefix, upper rounded up;
 * exact flags cleared when shortened). *has = 0 when there is no bound.
 */
int tarn__pq_acc_bounds(const tarn_pq_column *c, const tarn__pq_acc *a, size_t truncate, int *has,
                        tarn_buf *lo, int *lo_exact, tarn_buf *hi, int *hi_exact, tarn_error *err);
/* Truncated lower bound of v: at most max bytes, on a UTF-8 character boundary when
 * utf8. *exact = 1 when v was kept whole. */
int tarn__pq_truncate_lower(const uint8_t *v, size_t n, size_t max, int utf8, tarn_buf *out,
                            int *exact, tarn_error *err);
/* Truncated upper bound: a prefix with its last byte (or, for UTF-8, code point)
 * incremented, at most max bytes when possible. When no shorter bound exists (all 0xff,
 * all U+10FFFF) v is kept whole and *exact = 1. */
int tarn__pq_truncate_upper(const uint8_t *v, size_t n, size_t max, int utf8, tarn_buf *out,
                            int *exact, tarn_error *err);

/* ---- output sink (pq_writer.c) ---- */

typedef struct tarn__pq_sink tarn__pq_sink;
typedef struct tarn__pq_sink_ops {
  /* Writes all n bytes or fails. */
  int (*write)(tarn__pq_sink *s, const void *p, size_t n, tarn_error *err);
  /* Makes the output visible (store commit) and frees the sink, also on failure. */
  int (*commit)(tarn__pq_sink *s, tarn_error *err);
  /* Discards the output and frees the sink. */
  void (*abort)(tarn__pq_sink *s);
} tarn__pq_sink_ops;

struct tarn__pq_sink {
  const tarn__pq_sink_ops *ops;
  int64_t offset; /* bytes written so far = offset of the next byte in the file */
};

/* The footer built so far (row groups already flushed). For tests. */
const tarn_pq_file_meta *tarn__pq_writer_meta(const tarn_pq_writer *w);

/* Rows per data page at most (besides page_size), as parquet-mr's default: keeps the
 * page index useful for columns that encode very small. */
#define TARN__PQ_PAGE_ROWS_MAX 20000
/* Values a chunk's first dictionary-encoded page needs before the writer judges whether
 * the dictionary pays (smaller first pages keep it until the size cap). */
#define TARN__PQ_DICT_PROBE_VALUES 1024

#endif
