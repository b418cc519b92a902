/* pq_int.h - what the parquet module's writer and reader share; not for other modules. */
#ifndef TARN_PARQUET_PQ_INT_H
#define TARN_PARQUET_PQ_INT_H

#include "parquet.h"

#define TARN__PQ_MAGIC "PAR1"

/* ---- compression (pq_codec.c) ---- */

/* State kept from page to page: zstd's contexts, made on first use (a context costs more
 * to set up than a small page costs to compress). One per writer or scan, used by one
 * thread at a time; zero-initialise, release with tarn__pq_codec_ctx_free. */
typedef struct tarn__pq_codec_ctx {
  void *zc; /* ZSTD_CCtx */
  void *zd; /* ZSTD_DCtx */
} tarn__pq_codec_ctx;
void tarn__pq_codec_ctx_free(tarn__pq_codec_ctx *cx);

/* Appends the compressed form of in[0..n) to out. TARN_EUNSUPPORTED for LZO, BROTLI and
 * legacy LZ4. `level` is the zstd or gzip level (0 = codec default). cx may be NULL. */
int tarn__pq_compress(tarn__pq_codec_ctx *cx, tarn_pq_codec codec, int level, const void *in,
                      size_t n, tarn_buf *out, tarn_error *err);
/* Decompresses in[0..n) into dst, which must receive exactly `expect` bytes (the page
 * header's uncompressed size). Anything else is TARN_ECORRUPT. cx may be NULL. */
int tarn__pq_decompress(tarn__pq_codec_ctx *cx, tarn_pq_codec codec, const void *in, size_t n,
                        void *dst, size_t expect, tarn_error *err);
/* Snappy's raw format, decoded by tarn (faster than libsnappy 1.1.9 on Parquet pages, whose
 * elements are a few bytes long): 0, or -1 when in[0..n) is not exactly `expect` bytes of
 * valid snappy. For tests and the fuzz target as well. */
int tarn__pq_snappy_decode(const uint8_t *in, size_t n, uint8_t *dst, size_t expect);

/* ---- page headers (Thrift PageHeader), encoded by the writer, decoded by the reader ---- */

typedef enum tarn__pq_page_type {
  TARN__PQ_DATA_PAGE = 0,
  TARN__PQ_INDEX_PAGE = 1,
  TARN__PQ_DICTIONARY_PAGE = 2,
  TARN__PQ_DATA_PAGE_V2 = 3,
} tarn__pq_page_type;

typedef struct tarn__pq_page_header {
  tarn__pq_page_type type;
  int32_t uncompressed_size;
  int32_t compressed_size;
  int has_crc;
  uint32_t crc;
  /* DATA_PAGE and DATA_PAGE_V2 */
  int32_t num_values;
  tarn_pq_encoding encoding;
  tarn_pq_encoding def_encoding; /* v1 only */
  tarn_pq_encoding rep_encoding; /* v1 only */
  tarn_pq_stats stats;           /* page statistics (optional) */
  int has_stats;
  /* DATA_PAGE_V2 only */
  int32_t num_nulls;
  int32_t num_rows;
  int32_t def_levels_len;
  int32_t rep_levels_len;
  int is_compressed; /* default 1 */
  /* DICTIONARY_PAGE */
  int32_t dict_num_values;
  tarn_pq_encoding dict_encoding;
  int dict_is_sorted;
} tarn__pq_page_header;

/* ---- page index (Thrift ColumnIndex and OffsetIndex) ---- */

typedef struct tarn__pq_page_location {
  int64_t offset;
  int32_t compressed_page_size; /* including the page header */
  int64_t first_row_index;
} tarn__pq_page_location;

typedef struct tarn__pq_offset_index {
  tarn__pq_page_location *pages;
  size_t npages;
} tarn__pq_offset_index;

typedef enum tarn__pq_boundary_order {
  TARN__PQ_UNORDERED = 0,
  TARN__PQ_ASCENDING = 1,
  TARN__PQ_DESCENDING = 2,
} tarn__pq_boundary_order;

typedef struct tarn__pq_column_index {
  size_t npages;
  uint8_t *null_pages;  /* 1 when the page holds only nulls (its bounds are empty) */
  tarn_buf *min_values; /* npages PLAIN-encoded bounds */
  tarn_buf *max_values;
  tarn__pq_boundary_order boundary_order;
  int has_null_counts;
  int64_t *null_counts;
} tarn__pq_column_index;

void tarn__pq_offset_index_free(tarn__pq_offset_index *oi);
void tarn__pq_column_index_free(tarn__pq_column_index *ci);
void tarn__pq_stats_init(tarn_pq_stats *s);
void tarn__pq_stats_free(tarn_pq_stats *s);

/* ---- value ordering shared by statistics (writer) and pruning (reader) ---- */

/*
 * Compares two PLAIN-encoded single values of column c by the column's sort order
 * (signed for ints, IEEE for floats with NaN handled by the caller, unsigned byte-wise
 * for BYTE_ARRAY/FLBA, except DECIMAL FLBA which compares as signed big-endian).
 * Returns <0, 0, >0.
 */
int tarn__pq_compare(const tarn_pq_column *c, const uint8_t *a, size_t alen, const uint8_t *b,
                     size_t blen);

/* Split-block bloom filter (Parquet spec): 32-byte blocks of eight 32-bit words. */
/* Bytes of a bloom filter for `ndv` distinct values at false-positive rate `fpp`, a power
 * of two between 32 bytes and 128 MiB. */
size_t tarn__pq_bloom_size(int64_t ndv, double fpp);
void tarn__pq_bloom_insert(uint8_t *bitset, size_t nbytes, uint64_t hash);
int tarn__pq_bloom_check(const uint8_t *bitset, size_t nbytes, uint64_t hash);
/* The xxHash64 (seed 0) Parquet hashes for a value: of its PLAIN encoding for fixed-width
 * types, of the bytes (no length prefix) for BYTE_ARRAY and FLBA. */
uint64_t tarn__pq_hash_value(const tarn_pq_column *c, const uint8_t *plain, size_t len);

#endif
