/* parquet.h - tarn's own Parquet codec: a writer and a reader for flat schemas. */
#ifndef TARN_PARQUET_PARQUET_H
#define TARN_PARQUET_PARQUET_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/buf.h"
#include "base/error.h"
#include "store/store.h"

/*
 * Formats and invariants are described in README.md beside this file. In short: files
 * are Parquet format version 2 (footer FileMetaData in the Thrift compact protocol),
 * flat schemas only (a root group of primitive columns, each REQUIRED or OPTIONAL),
 * every column carrying a field id, with column-order TYPE_DEFINED_ORDER so that
 * readers trust min_value/max_value statistics.
 *
 * Threads. A writer, a reader and a scan are single-threaded handles, and a scan uses its
 * reader: a reader and its scans belong to one thread at a time. Distinct writers and
 * readers (even of the same file) may run on distinct threads; the codec keeps no global
 * mutable state. Schemas, file metadata and batches are plain data: safe to read from
 * many threads while nobody changes or recycles them.
 */

/* The most columns a file may have: the writer refuses a schema with more and the reader
 * a file with more, so that whatever tarn writes, tarn reads. */
#define TARN_PQ_MAX_COLUMNS 10000

/* ---- types (numbers are the Parquet format's own enum values) ---- */

typedef enum tarn_pq_type {
  TARN_PQ_BOOLEAN = 0,
  TARN_PQ_INT32 = 1,
  TARN_PQ_INT64 = 2,
  TARN_PQ_INT96 = 3, /* read only (legacy timestamps) */
  TARN_PQ_FLOAT = 4,
  TARN_PQ_DOUBLE = 5,
  TARN_PQ_BYTE_ARRAY = 6,
  TARN_PQ_FIXED_LEN_BYTE_ARRAY = 7,
} tarn_pq_type;

typedef enum tarn_pq_logical {
  TARN_PQ_LT_NONE = 0,
  TARN_PQ_LT_STRING,    /* BYTE_ARRAY, UTF-8 */
  TARN_PQ_LT_DATE,      /* INT32 days since 1970-01-01 */
  TARN_PQ_LT_TIME,      /* INT64 (MICROS, NANOS) or INT32 (MILLIS) since midnight */
  TARN_PQ_LT_TIMESTAMP, /* INT64, unit and adjusted_to_utc below */
  TARN_PQ_LT_INTEGER,   /* INT32 (8/16/32 bits) or INT64 (64), bit_width and is_signed */
  TARN_PQ_LT_UUID,      /* FIXED_LEN_BYTE_ARRAY(16) */
  TARN_PQ_LT_DECIMAL,   /* INT32, INT64 or FIXED_LEN_BYTE_ARRAY; precision and scale */
  TARN_PQ_LT_JSON,      /* BYTE_ARRAY (read only) */
  TARN_PQ_LT_ENUM,      /* BYTE_ARRAY (read only) */
  TARN_PQ_LT_FLOAT16,   /* FIXED_LEN_BYTE_ARRAY(2), IEEE 754 half, little-endian (read only) */
} tarn_pq_logical;

typedef enum tarn_pq_unit {
  TARN_PQ_MILLIS = 0,
  TARN_PQ_MICROS = 1,
  TARN_PQ_NANOS = 2,
} tarn_pq_unit;

/* Parquet's CompressionCodec values. */
typedef enum tarn_pq_codec {
  TARN_PQ_UNCOMPRESSED = 0,
  TARN_PQ_SNAPPY = 1,
  TARN_PQ_GZIP = 2,
  TARN_PQ_LZO = 3,    /* not supported */
  TARN_PQ_BROTLI = 4, /* not supported */
  TARN_PQ_LZ4 = 5,    /* legacy Hadoop framing; not supported */
  TARN_PQ_ZSTD = 6,
  TARN_PQ_LZ4_RAW = 7,
} tarn_pq_codec;

/* Parquet's Encoding values. */
typedef enum tarn_pq_encoding {
  TARN_PQ_PLAIN = 0,
  TARN_PQ_PLAIN_DICTIONARY = 2,
  TARN_PQ_RLE = 3,
  TARN_PQ_BIT_PACKED = 4,
  TARN_PQ_DELTA_BINARY_PACKED = 5,
  TARN_PQ_DELTA_LENGTH_BYTE_ARRAY = 6,
  TARN_PQ_DELTA_BYTE_ARRAY = 7,
  TARN_PQ_RLE_DICTIONARY = 8,
  TARN_PQ_BYTE_STREAM_SPLIT = 9,
} tarn_pq_encoding;

/* One column of a flat schema. */
typedef struct tarn_pq_column {
  char *name;       /* UTF-8; owned by the schema */
  int32_t field_id; /* Iceberg field id (writer requires > 0); see has_field_id */
  tarn_pq_type type;
  int32_t type_length; /* FIXED_LEN_BYTE_ARRAY only */
  int optional;        /* 1 = OPTIONAL (nullable), 0 = REQUIRED */
  tarn_pq_logical logical;
  tarn_pq_unit unit;   /* TIME, TIMESTAMP */
  int adjusted_to_utc; /* TIME, TIMESTAMP */
  int bit_width;       /* INTEGER: 8, 16, 32, 64 */
  int is_signed;       /* INTEGER */
  int32_t precision;   /* DECIMAL */
  int32_t scale;       /* DECIMAL */
  int has_field_id;    /* reader: the file gives field_id (0 is a valid id); the writer
                             ignores it and always writes field_id */
} tarn_pq_column;

typedef struct tarn_pq_schema {
  tarn_pq_column *cols;
  size_t ncols;
} tarn_pq_schema;

/* Deep copy / free (the schema owns names). */
int tarn_pq_schema_copy(tarn_pq_schema *dst, const tarn_pq_schema *src, tarn_error *err);
void tarn_pq_schema_free(tarn_pq_schema *s);
/* A short type description for people: "INT64 TIMESTAMP(MICROS,utc)", "BYTE_ARRAY STRING". */
void tarn_pq_column_describe(const tarn_pq_column *c, char *dst, size_t n);
/* Bytes of one PLAIN value of fixed width: 1 for BOOLEAN (in statistics; arrays hold a
 * bitmap), 4 or 8 for numbers, 12 for INT96, type_length for FIXED_LEN_BYTE_ARRAY (also
 * the bytes per value of an array); 0 for BYTE_ARRAY. */
int tarn_pq_plain_width(const tarn_pq_column *c);
/* Bytes per value in a tarn_pq_array's values: tarn_pq_plain_width, except 0 for BOOLEAN
 * (a bitmap) and BYTE_ARRAY (offsets and data). */
int tarn_pq_array_width(const tarn_pq_column *c);
/* The value of a FLOAT16 (2 bytes, little-endian IEEE 754 half), exactly, as a double. */
double tarn_pq_float16_to_double(const uint8_t *p);

/* ---- columnar batches (Arrow layout) ---- */

/*
 * One column's values for `length` rows, laid out like Arrow:
 * - validity: bitmap, bit i (LSB first: byte i/8, bit i%8) set when row i is not null;
 *   NULL means no nulls. For REQUIRED columns it must be NULL (writer) or is NULL (reader).
 * - BOOLEAN: values is a bitmap like validity.
 * - INT32 (incl. DATE, INT8/16/32, DECIMAL(INT32), TIME MILLIS): int32_t[length].
 * - INT64 (incl. TIMESTAMP, TIME MICROS/NANOS, DECIMAL(INT64)): int64_t[length].
 * - INT96 (reader only): 12 bytes per value, as stored.
 * - FLOAT / DOUBLE: float[length] / double[length].
 * - BYTE_ARRAY: offsets int64_t[length + 1] into data; value i is
 *   data[offsets[i] .. offsets[i+1]). Null rows have offsets[i] == offsets[i+1].
 * - FIXED_LEN_BYTE_ARRAY: values holds length * type_length bytes (DECIMAL as
 *   big-endian two's complement, UUID as 16 bytes).
 * Slots of null rows in values are ignored by the writer and zeroed by the reader.
 */
typedef struct tarn_pq_array {
  int64_t length;
  uint8_t *validity;
  void *values;
  int64_t *offsets;
  uint8_t *data;
  int64_t data_len; /* bytes of data in use (offsets[length]) */
  int64_t null_count;
} tarn_pq_array;

/* A batch: one array per column (of the schema, or of the projection when read). */
typedef struct tarn_pq_batch {
  int64_t nrows;
  size_t ncols;
  tarn_pq_array *cols;
} tarn_pq_batch;

/*
 * A column being filled row by row in tarn_pq_array's layout, for batches handed to a
 * writer (CSV ingest, the table writer's JSON lines). Every row is set once, by index, in
 * increasing order (tarn_pq_builder_null for a null). tarn_pq_builder_array lends the
 * buffers (valid until the next reset); reset empties it for the next batch.
 * Single-threaded.
 */
typedef struct tarn_pq_builder {
  int byte_array;    /* BYTE_ARRAY: offsets and data */
  int bits;          /* BOOLEAN: values is a bitmap */
  size_t width;      /* bytes of a fixed-width value */
  int64_t rows;      /* capacity */
  uint8_t *validity; /* a bit a row, 1 = present */
  void *values;
  int64_t *offsets; /* rows + 1 */
  tarn_buf data;
  int64_t nulls;
  size_t keep; /* data bytes whose buffer a reset keeps (a bigger one is freed) */
} tarn_pq_builder;

/* For a column c of `rows` rows; keep as above. TARN_ENOMEM (nothing held) on failure. */
int tarn_pq_builder_init(tarn_pq_builder *b, const tarn_pq_column *c, int64_t rows, size_t keep,
                         tarn_error *err);
void tarn_pq_builder_free(tarn_pq_builder *b);
/* Empties for the next batch (nulls 0, bitmaps cleared). */
void tarn_pq_builder_reset(tarn_pq_builder *b);
/* The first `rows` rows as an array (validity NULL when none is null). */
void tarn_pq_builder_array(tarn_pq_builder *b, int64_t rows, tarn_pq_array *out);

/* Row `row` is null. */
static inline void tarn_pq_builder_null(tarn_pq_builder *b, int64_t row) {
  b->validity[row >> 3] &= (uint8_t) ~(1u << (row & 7));
  b->nulls++;
  if (b->byte_array)
    b->offsets[row + 1] = (int64_t)b->data.len;
}

/* Row `row` holds a fixed-width value (width bytes at p), or a boolean (BOOLEAN: *p). */
static inline void tarn_pq_builder_fixed(tarn_pq_builder *b, int64_t row, const void *p) {
  uint8_t bit = (uint8_t)(1u << (row & 7));
  b->validity[row >> 3] |= bit;
  if (b->bits) {
    if (*(const uint8_t *)p)
      ((uint8_t *)b->values)[row >> 3] |= bit;
    else
      ((uint8_t *)b->values)[row >> 3] &= (uint8_t)~bit;
  } else {
    memcpy((uint8_t *)b->values + (size_t)row * b->width, p, b->width);
  }
}

/* Row `row` holds n bytes (BYTE_ARRAY). TARN_ENOMEM when they cannot be stored. */
static inline int tarn_pq_builder_bytes(tarn_pq_builder *b, int64_t row, const void *p, size_t n,
                                        tarn_error *err) {
  int rc = n > 0 ? tarn_buf_append(&b->data, p, n, err) : 0;
  b->validity[row >> 3] |= (uint8_t)(1u << (row & 7));
  b->offsets[row + 1] = (int64_t)b->data.len;
  return rc;
}

/* Frees the buffers of a batch the reader produced (every pointer in it). */
void tarn_pq_batch_free(tarn_pq_batch *b);

/* ---- file metadata (as read from a footer, or as written) ---- */

typedef struct tarn_pq_stats {
  int has_min_max;
  tarn_buf min, max;        /* PLAIN-encoded single values (BYTE_ARRAY: the bytes, no length) */
  int min_exact, max_exact; /* 0 when truncated */
  int has_null_count;
  int64_t null_count;
  int has_distinct_count;
  int64_t distinct_count;
} tarn_pq_stats;

typedef struct tarn_pq_chunk_meta {
  tarn_pq_type type;
  tarn_pq_codec codec;
  int32_t encodings[12]; /* tarn_pq_encoding values present in the chunk */
  size_t nencodings;
  int64_t num_values; /* including nulls */
  int64_t total_uncompressed_size;
  int64_t total_compressed_size;
  int64_t data_page_offset;
  int64_t dictionary_page_offset; /* -1 when absent */
  int64_t file_offset;            /* where the chunk starts (dictionary page if any) */
  tarn_pq_stats stats;
  int64_t bloom_filter_offset; /* -1 when absent */
  int32_t bloom_filter_length; /* -1 when unknown */
  int64_t column_index_offset; /* -1 when absent */
  int32_t column_index_length;
  int64_t offset_index_offset; /* -1 when absent */
  int32_t offset_index_length;
} tarn_pq_chunk_meta;

typedef struct tarn_pq_row_group_meta {
  int64_t num_rows;
  int64_t total_byte_size; /* uncompressed */
  int64_t total_compressed_size;
  int64_t file_offset;        /* first byte of the row group */
  tarn_pq_chunk_meta *chunks; /* one per schema column */
} tarn_pq_row_group_meta;

typedef struct tarn_pq_kv {
  char *key;
  char *value; /* may be NULL */
} tarn_pq_kv;

typedef struct tarn_pq_file_meta {
  int32_t version;
  int64_t num_rows;
  char *created_by; /* may be NULL */
  tarn_pq_schema schema;
  tarn_pq_row_group_meta *row_groups;
  size_t nrow_groups;
  tarn_pq_kv *kv;
  size_t nkv;
  int type_defined_order; /* column_orders present with TypeDefinedOrder */
} tarn_pq_file_meta;

void tarn_pq_file_meta_free(tarn_pq_file_meta *m);

/* ---- writer ---- */

typedef struct tarn_pq_column_options {
  int32_t field_id;  /* which column these options are for */
  int dictionary;    /* -1 default (on), 0 off, 1 on */
  int bloom_filter;  /* 1 = write a split-block bloom filter */
  double bloom_fpp;  /* target false-positive rate; 0 = 0.01 */
  int64_t bloom_ndv; /* expected distinct values; 0 = rows of the row group */
} tarn_pq_column_options;

typedef struct tarn_pq_writer_options {
  tarn_pq_codec codec;    /* default SNAPPY (when options are NULL) */
  int zstd_level;         /* 0 = 3 */
  int gzip_level;         /* 0 = 6 */
  int data_page_version;  /* 1 or 2; 0 = 1 */
  size_t page_size;       /* target uncompressed bytes per data page; 0 = 1 MiB */
  size_t row_group_size;  /* target bytes per row group (encoded); 0 = 128 MiB */
  int64_t row_group_rows; /* row cap per row group; 0 = 1,048,576 */
  int64_t page_rows;      /* row cap per data page; 0 = 20,000 */
  size_t dictionary_cap;  /* dictionary page size cap before PLAIN fallback; 0 = 1 MiB */
  size_t stats_truncate;  /* max bytes of BYTE_ARRAY/FLBA bounds; 0 = 64 */
  int no_statistics;      /* 1 = write no statistics */
  int no_page_index;      /* 1 = write no ColumnIndex/OffsetIndex */
  const tarn_pq_column_options *columns; /* per-column options, matched by field id */
  size_t ncolumns;
  const tarn_pq_kv *kv; /* key-value metadata for the footer (copied) */
  size_t nkv;
} tarn_pq_writer_options;

/* What an Iceberg manifest needs about one column of a written file. */
typedef struct tarn_pq_column_info {
  int32_t field_id;
  int64_t compressed_size; /* sum of the column's chunk sizes (Iceberg column_sizes) */
  int64_t value_count;     /* values including nulls */
  int64_t null_count;
  int64_t nan_count;     /* FLOAT/DOUBLE only */
  int has_bounds;        /* 0 when every value is null (or NaN) */
  tarn_buf lower, upper; /* PLAIN-encoded min/max over the file (strings truncated to
                             * stats_truncate: lower is a prefix, upper is rounded up) */
} tarn_pq_column_info;

typedef struct tarn_pq_file_info {
  int64_t record_count;
  int64_t file_size;
  tarn_pq_column_info *cols; /* one per schema column, in schema order */
  size_t ncols;
  int64_t *split_offsets; /* file offset of each row group */
  size_t nsplits;
} tarn_pq_file_info;

void tarn_pq_file_info_free(tarn_pq_file_info *fi);

typedef struct tarn_pq_writer tarn_pq_writer;

/*
 * Opens a writer. The schema and options are copied. Output goes to `fd` (written
 * sequentially from its current offset; not closed or fsynced by the writer) or to
 * `key` in `st` (nothing visible until close succeeds; put flags as for
 * tarn_store_writer_open). Validation errors (field id missing or duplicate, bad type
 * combination) are TARN_EINVAL naming the column.
 */
int tarn_pq_writer_open_fd(int fd, const tarn_pq_schema *schema, const tarn_pq_writer_options *opts,
                           tarn_pq_writer **out, tarn_error *err);
int tarn_pq_writer_open_store(tarn_store *st, const char *key, unsigned put_flags,
                              const tarn_pq_schema *schema, const tarn_pq_writer_options *opts,
                              tarn_pq_writer **out, tarn_error *err);

/*
 * Appends a batch whose columns match the schema in order. The batch is borrowed for
 * the call only. Memory stays bounded: at most one row group's encoded pages are held.
 * A bad batch (nulls in a REQUIRED column, bad offsets, wrong column count) is
 * TARN_EINVAL naming the column and row; the writer is then unusable (abort it).
 */
int tarn_pq_writer_write(tarn_pq_writer *w, const tarn_pq_batch *b, tarn_error *err);

/* Flushes the last row group, writes the footer, makes the output visible (store) and
 * frees the writer, also on failure. Fills *info (if not NULL) on success. */
int tarn_pq_writer_close(tarn_pq_writer *w, tarn_pq_file_info *info, tarn_error *err);
/* Discards the output (store: nothing becomes visible) and frees. Accepts NULL. */
void tarn_pq_writer_abort(tarn_pq_writer *w);

/* ---- reader ---- */

typedef struct tarn_pq_reader tarn_pq_reader;

/*
 * Opens a file and parses its footer with every length checked. A truncated, corrupt
 * or hostile file is TARN_ECORRUPT naming the byte offset; a nested schema or an
 * unsupported feature is TARN_EUNSUPPORTED naming the column. `name` is used in
 * messages (a path or key).
 */
int tarn_pq_reader_open_fd(int fd, const char *name, tarn_pq_reader **out, tarn_error *err);
int tarn_pq_reader_open_store(tarn_store *st, const char *key, tarn_pq_reader **out,
                              tarn_error *err);
/* A file held in memory (borrowed; must outlive the reader). For tests and fuzzing. */
int tarn_pq_reader_open_mem(const void *p, size_t n, const char *name, tarn_pq_reader **out,
                            tarn_error *err);
const tarn_pq_file_meta *tarn_pq_reader_meta(const tarn_pq_reader *r);
void tarn_pq_reader_close(tarn_pq_reader *r); /* accepts NULL */

/* A literal for predicates, in the column's physical representation. */
typedef struct tarn_pq_value {
  int32_t i32;
  int64_t i64;
  float f32;
  double f64;
  int boolean;
  const uint8_t *bytes; /* BYTE_ARRAY / FIXED_LEN_BYTE_ARRAY; borrowed */
  size_t len;
} tarn_pq_value;

typedef enum tarn_pq_op {
  TARN_PQ_EQ = 1,
  TARN_PQ_LT,
  TARN_PQ_LE,
  TARN_PQ_GT,
  TARN_PQ_GE,
  TARN_PQ_IS_NULL,
  TARN_PQ_NOT_NULL,
} tarn_pq_op;

typedef struct tarn_pq_predicate {
  size_t column; /* schema column index */
  tarn_pq_op op;
  tarn_pq_value value;
} tarn_pq_predicate;

/*
 * A pruning filter: a tree of predicates under AND and OR (callers push NOT down to the
 * leaves first, e.g. NOT(a < 5) becomes a >= 5 OR a is NaN, and leave out leaves they
 * cannot express: under AND a left-out leaf is simply dropped, under OR it makes the
 * whole OR unprunable). A row group or page is skipped only when the tree proves that
 * no row in it can satisfy it: an AND when one child proves it, an OR when every child
 * does. An IN list is an OR of EQ leaves, so bloom filters prune it too.
 */
typedef enum tarn_pq_filter_kind {
  TARN_PQ_FILTER_PRED = 1, /* pred */
  TARN_PQ_FILTER_AND,      /* children; none = true */
  TARN_PQ_FILTER_OR,       /* children; at least one */
} tarn_pq_filter_kind;

typedef struct tarn_pq_filter {
  tarn_pq_filter_kind kind;
  tarn_pq_predicate pred;                /* PRED */
  const struct tarn_pq_filter *children; /* AND, OR: an array */
  size_t nchildren;
} tarn_pq_filter;

/* Deepest filter tree a scan accepts (TARN_EINVAL beyond). */
#define TARN_PQ_FILTER_MAX_DEPTH 64

typedef struct tarn_pq_scan_options {
  const size_t *columns; /* projection: schema column indexes in output order; NULL = all */
  size_t ncolumns;
  const tarn_pq_predicate *preds; /* ANDed; used to prune row groups and pages */
  size_t npreds;
  const tarn_pq_filter *filter; /* ANDed with preds; NULL = none. Copied at open */
  int64_t batch_rows;           /* rows per output batch at most; 0 = 65536 */
  int64_t row_group;            /* read only this row group; -1 = all */
} tarn_pq_scan_options;

/* Counters a scan keeps, for tests and `tarn parquet` output. */
typedef struct tarn_pq_scan_stats {
  int64_t row_groups_total, row_groups_pruned_stats, row_groups_pruned_bloom;
  int64_t pages_total, pages_pruned;
  int64_t rows_returned;
} tarn_pq_scan_stats;

typedef struct tarn_pq_scan tarn_pq_scan;

/*
 * Scans the file. Pruning is conservative: a row group or page is skipped only when its
 * statistics, page index or bloom filter prove no row can satisfy every predicate; the
 * rows returned are a superset of the matching rows (callers filter exactly).
 */
int tarn_pq_scan_open(tarn_pq_reader *r, const tarn_pq_scan_options *opts, tarn_pq_scan **out,
                      tarn_error *err);
/* Next batch (owned by the caller: tarn_pq_batch_free), or *out = NULL at the end. */
int tarn_pq_scan_next(tarn_pq_scan *s, tarn_pq_batch **out, tarn_error *err);
/* Gives a batch that this scan returned back to it instead of freeing it: its buffers are
 * reused for the next batch (new memory costs page faults on every batch of a big scan).
 * Takes b: the caller must not use it afterwards. Accepts NULL. */
void tarn_pq_scan_recycle(tarn_pq_scan *s, tarn_pq_batch *b);
const tarn_pq_scan_stats *tarn_pq_scan_stats_get(const tarn_pq_scan *s);
void tarn_pq_scan_close(tarn_pq_scan *s); /* accepts NULL */

/* ---- shared helpers ---- */

const char *tarn_pq_type_name(tarn_pq_type t);         /* "INT64" */
const char *tarn_pq_codec_name(tarn_pq_codec c);       /* "SNAPPY" */
const char *tarn_pq_encoding_name(tarn_pq_encoding e); /* "RLE_DICTIONARY" */
/* Parses "uncompressed|snappy|gzip|zstd|lz4_raw" (any case); -1 when unknown. */
int tarn_pq_codec_parse(const char *s);

#endif
