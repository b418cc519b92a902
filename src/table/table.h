/* table.h - Apache Iceberg v2 tables: types, schemas, partition transforms, table metadata. */
#ifndef TARN_TABLE_TABLE_H
#define TARN_TABLE_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/error.h"
#include "parquet/parquet.h"

/*
 * The Iceberg model as tarn uses it. Formats, file layouts and invariants are in
 * README.md beside this file. Everything here follows the Iceberg table spec, format
 * version 2; JSON field names are the spec's.
 */

/* ---- primitive types ---- */

typedef enum tarn_ice_type_id {
  TARN_ICE_BOOLEAN = 1,
  TARN_ICE_INT,
  TARN_ICE_LONG,
  TARN_ICE_FLOAT,
  TARN_ICE_DOUBLE,
  TARN_ICE_DATE,        /* days since 1970-01-01, int32 */
  TARN_ICE_TIME,        /* microseconds since midnight, int64 */
  TARN_ICE_TIMESTAMP,   /* microseconds since epoch, no zone, int64 */
  TARN_ICE_TIMESTAMPTZ, /* microseconds since epoch, UTC, int64 */
  TARN_ICE_STRING,
  TARN_ICE_UUID,
  TARN_ICE_BINARY,
  TARN_ICE_FIXED,       /* fixed[length] */
  TARN_ICE_DECIMAL,     /* decimal(precision, scale), precision <= 38 */
} tarn_ice_type_id;

typedef struct tarn_ice_type {
  tarn_ice_type_id id;
  int32_t length;    /* FIXED */
  int32_t precision; /* DECIMAL */
  int32_t scale;     /* DECIMAL */
} tarn_ice_type;

/* Parses the spec's type strings: "long", "decimal(10, 2)", "fixed[16]". */
int tarn_ice_type_parse(const char *s, tarn_ice_type *t, tarn_error *err);
/* Formats a type as the spec writes it ("decimal(10, 2)"). */
void tarn_ice_type_format(const tarn_ice_type *t, char *dst, size_t n);

/*
 * A value of a primitive type, in its natural representation:
 * BOOLEAN, INT, LONG, DATE, TIME, TIMESTAMP(TZ): i64; FLOAT: f32; DOUBLE: f64;
 * STRING, BINARY, FIXED, UUID (16 bytes, big-endian as written): bytes/len (borrowed);
 * DECIMAL: the unscaled value in i64 when `wide` is 0, else as big-endian two's
 * complement bytes in bytes/len (any width up to 16).
 */
typedef struct tarn_ice_value {
  int is_null;
  int64_t i64;
  float f32;
  double f64;
  const uint8_t *bytes;
  size_t len;
  int wide;
} tarn_ice_value;

/*
 * Single-value binary serialization (the spec's Appendix D, used for manifest bounds):
 * appends the encoding of v to out. DECIMAL is the minimal big-endian two's complement
 * of the unscaled value.
 */
int tarn_ice_value_serialize(const tarn_ice_type *t, const tarn_ice_value *v, tarn_buf *out,
                             tarn_error *err);
/* Decodes a serialized value (bytes point into `p`). TARN_ECORRUPT on a bad length. */
int tarn_ice_value_deserialize(const tarn_ice_type *t, const uint8_t *p, size_t n,
                               tarn_ice_value *v, tarn_error *err);
/* Compares two non-null values of type t (strings and binary unsigned byte-wise). */
int tarn_ice_value_compare(const tarn_ice_type *t, const tarn_ice_value *a,
                           const tarn_ice_value *b);

/* ---- schemas ---- */

typedef struct tarn_ice_field {
  int32_t id;
  char *name;
  int required;
  tarn_ice_type type;
  char *doc; /* may be NULL */
} tarn_ice_field;

typedef struct tarn_ice_schema {
  int32_t schema_id;
  tarn_ice_field *fields;
  size_t nfields;
} tarn_ice_schema;

int tarn_ice_schema_copy(tarn_ice_schema *dst, const tarn_ice_schema *src, tarn_error *err);
void tarn_ice_schema_free(tarn_ice_schema *s);
const tarn_ice_field *tarn_ice_schema_field(const tarn_ice_schema *s, int32_t id);
const tarn_ice_field *tarn_ice_schema_field_by_name(const tarn_ice_schema *s, const char *name);
/* Highest field id (0 for an empty schema). */
int32_t tarn_ice_schema_max_id(const tarn_ice_schema *s);
/* The schema as the spec's JSON struct ({"type":"struct","schema-id":..,"fields":[..]}). */
json_t *tarn_ice_schema_to_json(const tarn_ice_schema *s);
/* Parses a schema; nested types (struct, list, map) are TARN_EUNSUPPORTED naming the field. */
int tarn_ice_schema_from_json(const json_t *j, tarn_ice_schema *out, tarn_error *err);
/*
 * The Parquet schema for data files of this table: every column carries its field id;
 * date → INT32 DATE, time → INT64 TIME(MICROS), timestamp(tz) → INT64 TIMESTAMP(MICROS),
 * string → BYTE_ARRAY STRING, uuid → FLBA(16) UUID, decimal → INT32/INT64/FLBA by precision.
 */
int tarn_ice_schema_to_parquet(const tarn_ice_schema *s, tarn_pq_schema *out, tarn_error *err);

/* ---- partition transforms ---- */

typedef enum tarn_ice_transform_kind {
  TARN_ICE_IDENTITY = 1,
  TARN_ICE_BUCKET,
  TARN_ICE_TRUNCATE,
  TARN_ICE_YEAR,
  TARN_ICE_MONTH,
  TARN_ICE_DAY,
  TARN_ICE_HOUR,
  TARN_ICE_VOID,
} tarn_ice_transform_kind;

typedef struct tarn_ice_transform {
  tarn_ice_transform_kind kind;
  int32_t param; /* BUCKET: N; TRUNCATE: W */
} tarn_ice_transform;

/* "identity", "bucket[16]", "truncate[4]", "year", "month", "day", "hour", "void". */
int tarn_ice_transform_parse(const char *s, tarn_ice_transform *t, tarn_error *err);
void tarn_ice_transform_format(const tarn_ice_transform *t, char *dst, size_t n);
/* The partition value type for a source type; TARN_EINVAL when the transform does not
 * apply (e.g. day of a string), naming both. */
int tarn_ice_transform_result_type(const tarn_ice_transform *t, const tarn_ice_type *src,
                                   tarn_ice_type *out, tarn_error *err);
/*
 * Applies t to a value of type src. Nulls map to null. Bytes of the result may point
 * into the input (truncate of a string) or into `scratch` (truncate of a wide decimal),
 * so both must outlive *out.
 */
int tarn_ice_transform_apply(const tarn_ice_transform *t, const tarn_ice_type *src,
                             const tarn_ice_value *in, tarn_ice_value *out, tarn_buf *scratch,
                             tarn_error *err);
/* 32-bit Murmur3 (x86 variant, seed 0), the hash behind bucket[N]. */
uint32_t tarn_ice_murmur3_32(const void *p, size_t n);
/*
 * The human string of a partition value as used in data-file paths: dates
 * "2017-11-16", months "2017-11", years "2017", hours "2017-11-16-22", timestamps ISO,
 * other values as text; "null" for null. Appended to out, URL-escaped when `escape`.
 */
int tarn_ice_partition_human(const tarn_ice_transform *t, const tarn_ice_type *result_type,
                             const tarn_ice_value *v, int escape, tarn_buf *out,
                             tarn_error *err);

/* ---- partition specs and sort orders ---- */

typedef struct tarn_ice_partition_field {
  int32_t source_id;
  int32_t field_id; /* from 1000 */
  char *name;
  tarn_ice_transform transform;
} tarn_ice_partition_field;

typedef struct tarn_ice_spec {
  int32_t spec_id;
  tarn_ice_partition_field *fields;
  size_t nfields;
} tarn_ice_spec;

typedef struct tarn_ice_sort_field {
  tarn_ice_transform transform;
  int32_t source_id;
  int descending;
  int nulls_first;
} tarn_ice_sort_field;

typedef struct tarn_ice_sort_order {
  int32_t order_id;
  tarn_ice_sort_field *fields;
  size_t nfields;
} tarn_ice_sort_order;

/* ---- snapshots and table metadata ---- */

typedef struct tarn_ice_kv {
  char *key;
  char *value;
} tarn_ice_kv;

typedef struct tarn_ice_snapshot {
  int64_t snapshot_id;
  int64_t parent_id; /* -1: none */
  int64_t sequence_number;
  int64_t timestamp_ms;
  char *manifest_list;
  int32_t schema_id; /* -1: absent */
  char *operation;   /* summary "operation": append, replace, overwrite, delete */
  tarn_ice_kv *summary; /* the rest of the summary, in order */
  size_t nsummary;
} tarn_ice_snapshot;

typedef struct tarn_ice_snapshot_log {
  int64_t snapshot_id;
  int64_t timestamp_ms;
} tarn_ice_snapshot_log;

typedef struct tarn_ice_metadata_log {
  char *metadata_file;
  int64_t timestamp_ms;
} tarn_ice_metadata_log;

typedef struct tarn_ice_ref {
  char *name;
  int64_t snapshot_id;
  int is_tag; /* 0: branch */
} tarn_ice_ref;

typedef struct tarn_ice_metadata {
  int format_version; /* 2 */
  char table_uuid[37];
  char *location;
  int64_t last_sequence_number;
  int64_t last_updated_ms;
  int32_t last_column_id;
  tarn_ice_schema *schemas;
  size_t nschemas;
  int32_t current_schema_id;
  tarn_ice_spec *specs;
  size_t nspecs;
  int32_t default_spec_id;
  int32_t last_partition_id;
  tarn_ice_sort_order *sort_orders;
  size_t nsort_orders;
  int32_t default_sort_order_id;
  tarn_ice_kv *properties;
  size_t nproperties;
  int64_t current_snapshot_id; /* -1: none */
  tarn_ice_snapshot *snapshots;
  size_t nsnapshots;
  tarn_ice_snapshot_log *snapshot_log;
  size_t nsnapshot_log;
  tarn_ice_metadata_log *metadata_log;
  size_t nmetadata_log;
  tarn_ice_ref *refs;
  size_t nrefs;
  json_t *extra; /* fields tarn does not model (statistics, ...), kept as read */
} tarn_ice_metadata;

/* Parses metadata JSON (capped at 64 MiB); missing required v2 fields are TARN_ECORRUPT
 * naming the field. Format version 1 is accepted and upgraded in memory. */
int tarn_ice_metadata_parse(const char *text, size_t len, tarn_ice_metadata *m, tarn_error *err);
/* Writes metadata JSON with every required v2 field (pretty-printed, 2 spaces). */
int tarn_ice_metadata_write(const tarn_ice_metadata *m, tarn_buf *out, tarn_error *err);
void tarn_ice_metadata_free(tarn_ice_metadata *m);

const tarn_ice_schema *tarn_ice_metadata_schema(const tarn_ice_metadata *m, int32_t schema_id);
const tarn_ice_spec *tarn_ice_metadata_spec(const tarn_ice_metadata *m, int32_t spec_id);
const tarn_ice_snapshot *tarn_ice_metadata_snapshot(const tarn_ice_metadata *m,
                                                    int64_t snapshot_id);
const char *tarn_ice_metadata_property(const tarn_ice_metadata *m, const char *key);

/* ---- data files and manifests ---- */

/* Per-column metrics of a data file, as manifests carry them (keyed by field id). */
typedef struct tarn_ice_column_stats {
  int32_t field_id;
  int64_t column_size;   /* -1: unknown */
  int64_t value_count;   /* -1: unknown */
  int64_t null_count;    /* -1: unknown */
  int64_t nan_count;     /* -1: unknown / not a float column */
  int has_lower, has_upper;
  tarn_buf lower, upper; /* single-value serialization (Appendix D) */
} tarn_ice_column_stats;

typedef enum tarn_ice_content {
  TARN_ICE_CONTENT_DATA = 0,
  TARN_ICE_CONTENT_POSITION_DELETES = 1,
  TARN_ICE_CONTENT_EQUALITY_DELETES = 2,
} tarn_ice_content;

typedef struct tarn_ice_data_file {
  tarn_ice_content content;
  char *file_path;               /* absolute URI */
  char *file_format;             /* "PARQUET" */
  int32_t spec_id;
  tarn_ice_value *partition;     /* one per spec field; bytes point into partition_buf */
  size_t npartition;
  tarn_buf partition_buf;
  int64_t record_count;
  int64_t file_size;
  tarn_ice_column_stats *stats;
  size_t nstats;
  int64_t *split_offsets;
  size_t nsplits;
  int32_t sort_order_id;         /* -1: absent */
} tarn_ice_data_file;

typedef enum tarn_ice_entry_status {
  TARN_ICE_EXISTING = 0,
  TARN_ICE_ADDED = 1,
  TARN_ICE_DELETED = 2,
} tarn_ice_entry_status;

typedef struct tarn_ice_manifest_entry {
  tarn_ice_entry_status status;
  int64_t snapshot_id;          /* -1: inherit from the manifest */
  int64_t sequence_number;      /* -1: inherit */
  int64_t file_sequence_number; /* -1: inherit */
  tarn_ice_data_file file;
} tarn_ice_manifest_entry;

typedef struct tarn_ice_field_summary {
  int contains_null;
  int contains_nan;             /* -1: unknown */
  int has_lower, has_upper;
  tarn_buf lower, upper;
} tarn_ice_field_summary;

/* An entry of a manifest list. */
typedef struct tarn_ice_manifest_file {
  char *manifest_path;
  int64_t manifest_length;
  int32_t partition_spec_id;
  tarn_ice_content content;      /* DATA or (any) DELETES */
  int64_t sequence_number;
  int64_t min_sequence_number;
  int64_t added_snapshot_id;
  int32_t added_files_count, existing_files_count, deleted_files_count;
  int64_t added_rows_count, existing_rows_count, deleted_rows_count;
  tarn_ice_field_summary *partitions; /* one per spec field */
  size_t npartitions;
} tarn_ice_manifest_file;

void tarn_ice_data_file_free(tarn_ice_data_file *f);
int tarn_ice_data_file_copy(tarn_ice_data_file *dst, const tarn_ice_data_file *src,
                            tarn_error *err);
void tarn_ice_manifest_file_free(tarn_ice_manifest_file *m);
int tarn_ice_manifest_file_copy(tarn_ice_manifest_file *dst, const tarn_ice_manifest_file *src,
                                tarn_error *err);

/*
 * Column metrics of a data file from what the Parquet writer reported: sizes, counts,
 * and bounds converted from Parquet's PLAIN encoding to Iceberg's single-value
 * serialization (decimals stored as INT32/INT64/FLBA become minimal big-endian bytes;
 * string bounds are truncated to `truncate` code points, the upper one rounded up, as
 * Iceberg's default "truncate(16)" metrics mode does; 0 keeps them whole).
 */
int tarn_ice_stats_from_parquet(const tarn_ice_schema *schema, const tarn_pq_file_info *info,
                                size_t truncate, tarn_ice_column_stats **out, size_t *nout,
                                tarn_error *err);

/* Frees the members of one snapshot / spec / sort order (not the struct itself). */
void tarn_ice_snapshot_free(tarn_ice_snapshot *s);
void tarn_ice_spec_free(tarn_ice_spec *s);
void tarn_ice_sort_order_free(tarn_ice_sort_order *o);

#endif
