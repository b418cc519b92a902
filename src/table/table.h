/* table.h - Apache Iceberg v2 tables: types, schemas, partition transforms, table metadata. */
#ifndef TARN_TABLE_TABLE_H
#define TARN_TABLE_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/error.h"
#include "parquet/parquet.h"
#include "store/store.h"

/*
 * The Iceberg model as tarn uses it. Formats, file layouts and invariants are in
 * README.md beside this file. Everything here follows the Iceberg table spec, format
 * version 2; JSON field names are the spec's.
 *
 * Threads. A tarn_table is a single-threaded handle: load, refresh, commit and scan
 * through it from one thread at a time, and note that it uses the catalog handle it was
 * loaded with, which is itself one thread's at a time (catalog.h). Writers on several
 * threads, processes or hosts each load their own tarn_table (on their own catalog
 * handle): the catalog's compare-and-swap orders their commits. A tarn_table_io only
 * borrows a store, which may be shared (store.h). The value types here (schemas, specs,
 * metadata, data files, manifests) are plain data: safe to read from many threads while
 * nobody changes them. Manifest and data-file writers are one thread's at a time.
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
  TARN_ICE_FIXED,   /* fixed[length] */
  TARN_ICE_DECIMAL, /* decimal(precision, scale), precision <= 38 */
  /* nested: their fields are the type's children, each with its own field id */
  TARN_ICE_STRUCT, /* children: the struct's fields */
  TARN_ICE_LIST,   /* children[0]: "element" (element-id, element-required) */
  TARN_ICE_MAP,    /* children[0]: "key" (key-id, always required), [1]: "value" */
} tarn_ice_type_id;

struct tarn_ice_field;

/*
 * A type. A nested one owns its children (tarn_ice_type_free; tarn_ice_type_copy for a
 * deep copy: a plain struct copy would share them). Primitive types have none and copy by
 * value as before.
 */
typedef struct tarn_ice_type {
  tarn_ice_type_id id;
  int32_t length;                  /* FIXED */
  int32_t precision;               /* DECIMAL */
  int32_t scale;                   /* DECIMAL */
  struct tarn_ice_field *children; /* STRUCT, LIST, MAP */
  size_t nchildren;
} tarn_ice_type;

/* 1 for struct, list and map. */
static inline int tarn_ice_type_nested(const tarn_ice_type *t) {
  return t->id == TARN_ICE_STRUCT || t->id == TARN_ICE_LIST || t->id == TARN_ICE_MAP;
}

/* Parses the spec's primitive type strings: "long", "decimal(10, 2)", "fixed[16]"
 * (nested types are JSON objects in metadata: tarn_ice_schema_from_json; in DDL text:
 * tarn_ice_schema_parse_ddl). */
int tarn_ice_type_parse(const char *s, tarn_ice_type *t, tarn_error *err);
/* Formats a type as the spec writes a primitive one ("decimal(10, 2)"); a nested one as
 * DDL ("list<float>", "map<string, long>", "struct<name: string, age: int>"), truncated
 * to n. */
void tarn_ice_type_format(const tarn_ice_type *t, char *dst, size_t n);
/* Deep copy (children included) / free of a type's children. */
int tarn_ice_type_copy(tarn_ice_type *dst, const tarn_ice_type *src, tarn_error *err);
void tarn_ice_type_free(tarn_ice_type *t);

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
/* Any field with this id, nested ones included (a list's element, a struct's field); NULL
 * when none. tarn_ice_schema_field looks at the top-level columns only. */
const tarn_ice_field *tarn_ice_schema_find(const tarn_ice_schema *s, int32_t id);
/*
 * Parses DDL text: "id long not null, emb list<float>, attrs map<string, string>,
 * who struct<name: string, age: int not null>" (types as tarn_ice_type_parse, nested to
 * any depth; "not null" or "required" after a type makes that field, element or value
 * required; a map's key always is). Field ids as Iceberg assigns them to a new schema:
 * the top-level fields 1..n, then each nested type's children, depth first. TARN_EINVAL
 * naming the column and the offset in the text.
 */
int tarn_ice_schema_parse_ddl(const char *text, tarn_ice_schema *out, tarn_error *err);

/* A column of a fixed layout: a primitive type, its nullability and doc (may be NULL). */
typedef struct tarn_ice_column_def {
  const char *name;
  tarn_ice_type_id type;
  int required;
  const char *doc;
} tarn_ice_column_def;

/* The schema of n such columns, field ids 1..n in order (schema id 0). */
int tarn_ice_schema_from_columns(const tarn_ice_column_def *cols, size_t n, tarn_ice_schema *out,
                                 tarn_error *err);
const tarn_ice_field *tarn_ice_schema_field(const tarn_ice_schema *s, int32_t id);
const tarn_ice_field *tarn_ice_schema_field_by_name(const tarn_ice_schema *s, const char *name);
/* Highest field id (0 for an empty schema). */
int32_t tarn_ice_schema_max_id(const tarn_ice_schema *s);
/* The schema as the spec's JSON struct ({"type":"struct","schema-id":..,"fields":[..]}). */
json_t *tarn_ice_schema_to_json(const tarn_ice_schema *s);
/* Parses a schema, nested types included (the spec's struct, list and map objects); field
 * ids must be unique across the whole schema and a map's key required (TARN_ECORRUPT
 * naming the field). */
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
                             const tarn_ice_value *v, int escape, tarn_buf *out, tarn_error *err);

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
  int32_t schema_id;    /* -1: absent */
  char *operation;      /* summary "operation": append, replace, overwrite, delete */
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
/* A deep copy (dst is overwritten; on failure it is left empty and TARN_ENOMEM returned).
 * What a commit builds the next version from: cheaper than a JSON round trip, which
 * matters once the snapshot history is long. */
int tarn_ice_metadata_copy(tarn_ice_metadata *dst, const tarn_ice_metadata *src, tarn_error *err);

const tarn_ice_schema *tarn_ice_metadata_schema(const tarn_ice_metadata *m, int32_t schema_id);
const tarn_ice_spec *tarn_ice_metadata_spec(const tarn_ice_metadata *m, int32_t spec_id);
const tarn_ice_snapshot *tarn_ice_metadata_snapshot(const tarn_ice_metadata *m,
                                                    int64_t snapshot_id);
const char *tarn_ice_metadata_property(const tarn_ice_metadata *m, const char *key);
/* The table property `key` as an integer in [min, max] into *out, def when unset; a value
 * that is not one is TARN_EINVAL naming the property and the range (never read as 0). */
int tarn_ice_property_int(const tarn_ice_metadata *m, const char *key, int64_t def, int64_t min,
                          int64_t max, int64_t *out, tarn_error *err);

/* ---- data files and manifests ---- */

/* Per-column metrics of a data file, as manifests carry them (keyed by field id). */
typedef struct tarn_ice_column_stats {
  int32_t field_id;
  int64_t column_size; /* -1: unknown */
  int64_t value_count; /* -1: unknown */
  int64_t null_count;  /* -1: unknown */
  int64_t nan_count;   /* -1: unknown / not a float column */
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
  char *file_path;   /* absolute URI */
  char *file_format; /* "PARQUET" */
  int32_t spec_id;
  tarn_ice_value *partition; /* one per spec field; bytes point into partition_buf */
  size_t npartition;
  tarn_buf partition_buf;
  int64_t record_count;
  int64_t file_size;
  tarn_ice_column_stats *stats;
  size_t nstats;
  int64_t *split_offsets;
  size_t nsplits;
  int32_t sort_order_id; /* -1: absent */
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
  int contains_nan; /* -1: unknown */
  int has_lower, has_upper;
  tarn_buf lower, upper;
} tarn_ice_field_summary;

/* An entry of a manifest list. */
typedef struct tarn_ice_manifest_file {
  char *manifest_path;
  int64_t manifest_length;
  int32_t partition_spec_id;
  tarn_ice_content content; /* DATA or (any) DELETES */
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

/* ---- table files on a store ---- */

/*
 * Where a table's files live: an object store and the URI of its root, so that keys
 * and the absolute URIs Iceberg metadata records map both ways ("file:///srv/lake/" +
 * "warehouse/ns/t/data/x.parquet"). root_uri ends with '/'.
 */
typedef struct tarn_table_io {
  tarn_store *store;
  const char *root_uri;
} tarn_table_io;

/* The store key of an absolute URI under io's root; TARN_EINVAL when it is elsewhere. */
int tarn_table_io_key(const tarn_table_io *io, const char *uri, char *key, size_t n,
                      tarn_error *err);

/*
 * Writes a manifest (Avro, the spec's v2 manifest_entry schema with the partition
 * record of `spec`) holding `entries` to `uri` (put-if-absent), with the header metadata
 * Iceberg requires (schema, schema-id, partition-spec, partition-spec-id, format-version,
 * content). Fills *mf: path, length, spec id, content, counts per status, rows, and one
 * partition field summary per spec field. mf's sequence numbers are left -1 for the
 * commit to assign; added_snapshot_id is `snapshot_id`.
 */
int tarn_ice_manifest_write(const tarn_table_io *io, const char *uri, const tarn_ice_schema *schema,
                            const tarn_ice_spec *spec, int64_t snapshot_id,
                            const tarn_ice_manifest_entry *entries, size_t n,
                            tarn_ice_manifest_file *mf, tarn_error *err);
/*
 * Reads every entry of the manifest `mf` points to. Null snapshot ids and sequence
 * numbers of ADDED entries are inherited from mf (the spec's inheritance rule). The
 * partition tuple is matched to `spec` by field id. *out is an array the caller frees
 * with tarn_ice_manifest_entries_free.
 */
int tarn_ice_manifest_read(const tarn_table_io *io, const tarn_ice_manifest_file *mf,
                           const tarn_ice_schema *schema, const tarn_ice_spec *spec,
                           tarn_ice_manifest_entry **out, size_t *n, tarn_error *err);
void tarn_ice_manifest_entries_free(tarn_ice_manifest_entry *e, size_t n);

/* Writes a manifest list (v2 manifest_file schema) to `uri` (put-if-absent). */
int tarn_ice_manifest_list_write(const tarn_table_io *io, const char *uri, int64_t snapshot_id,
                                 int64_t parent_id, int64_t sequence_number,
                                 const tarn_ice_manifest_file *mfs, size_t n, tarn_error *err);
/* Reads a manifest list; the caller frees with tarn_ice_manifest_files_free. */
int tarn_ice_manifest_list_read(const tarn_table_io *io, const char *uri,
                                tarn_ice_manifest_file **out, size_t *n, tarn_error *err);
void tarn_ice_manifest_files_free(tarn_ice_manifest_file *m, size_t n);

/* ---- tables: create, load, commit ---- */

typedef struct tarn_catalog tarn_catalog;
typedef struct tarn_table tarn_table;

/*
 * Creates table ns.name: writes metadata version 1 (schema with schema id 0, `spec`
 * with spec id 0 and partition field ids assigned from 1000 when 0, sort order id 1 or
 * the unsorted order 0, properties) under `location` (NULL: io's root +
 * "warehouse/<ns>/<name>") and registers it in the catalog. TARN_EEXIST when the table
 * exists, TARN_ENOTFOUND when the namespace does not (create it first). The caller owns
 * *out (tarn_table_close). spec and order may be NULL.
 */
int tarn_table_create(tarn_catalog *cat, const tarn_table_io *io, const char *ns, const char *name,
                      const tarn_ice_schema *schema, const tarn_ice_spec *spec,
                      const tarn_ice_sort_order *order, const tarn_ice_kv *props, size_t nprops,
                      const char *location, tarn_table **out, tarn_error *err);
/* Loads the table's current metadata through the catalog. */
int tarn_table_load(tarn_catalog *cat, const tarn_table_io *io, const char *ns, const char *name,
                    tarn_table **out, tarn_error *err);
/* Reloads the current metadata. */
int tarn_table_refresh(tarn_table *t, tarn_error *err);
void tarn_table_close(tarn_table *t); /* accepts NULL */

const tarn_ice_metadata *tarn_table_metadata(const tarn_table *t);
const char *tarn_table_metadata_location(const tarn_table *t);
const tarn_ice_schema *tarn_table_schema(const tarn_table *t);
const tarn_ice_spec *tarn_table_spec(const tarn_table *t);
const tarn_table_io *tarn_table_io_of(const tarn_table *t);
/* The namespace and name the table was loaded or created as (owned by t). */
void tarn_table_ident(const tarn_table *t, const char **ns, const char **name);

/* What a commit did, for callers and logs. */
typedef struct tarn_table_commit_result {
  int64_t snapshot_id;
  int64_t sequence_number;
  int attempts;         /* 1 when the first try won */
  int manifests_merged; /* manifests folded into one by this commit */
  int committed;        /* 1 when a snapshot was committed; 0 when a check said
                              TARN_EALREADY (snapshot_id is then the current one) */
} tarn_table_commit_result;

/*
 * Fast append: one new manifest with `files` (ADDED), every live manifest of the parent
 * carried forward, merged into one when their count reaches the table property
 * commit.manifest.min-count-to-merge (default 100; commit.manifest-merge.enabled).
 * `summary` adds properties to the snapshot summary next to the standard counters.
 * A lost race reloads, re-applies on the new parent (reusing the manifest already
 * written) and retries with backoff up to commit.retry.num-retries (default 4); a
 * commit whose outcome is unknown is checked against the catalog first. On failure
 * nothing is committed and files this call wrote are deleted when it is certain that
 * they are unreferenced; the data files themselves stay the caller's.
 */
int tarn_table_append(tarn_table *t, const tarn_ice_data_file *files, size_t n,
                      const tarn_ice_kv *summary, size_t nsummary, tarn_table_commit_result *res,
                      tarn_error *err);

/*
 * Overwrite: removes every live data file (partition == NULL) or those whose partition
 * tuple (of spec `spec_id`) equals `partition` (one value per spec field), and adds
 * `files`, in one snapshot (operation "overwrite", or "append" when nothing was removed).
 */
int tarn_table_overwrite(tarn_table *t, int32_t spec_id, const tarn_ice_value *partition,
                         const tarn_ice_data_file *files, size_t n, const tarn_ice_kv *summary,
                         size_t nsummary, tarn_table_commit_result *res, tarn_error *err);

/*
 * A caller's decision inside the compare-and-swap. It runs at the start of every
 * attempt of a commit, against `base`: the table's metadata as that attempt builds on it
 * (re-read from the catalog after a lost race), before the attempt writes anything. So an
 * idempotency or existence check made here sees what the swap will replace, and two
 * writers racing get the same answers as two writers one after the other.
 * Return 0 to go on; the hook may edit `next` (a copy of base that becomes the new
 * metadata), e.g. with tarn_ice_metadata_set_properties, so that properties derived from
 * the current state land with the snapshot. Return TARN_EALREADY to commit nothing
 * (the base already holds what the caller wants). Any other code (with err filled)
 * abandons the commit with that code.
 */
/* The check runs before the snapshot is built, and the snapshot reads the caller's
 * `summary` entries after it: a check may replace their values (the caller's array) to
 * record what it derived from base, e.g. offsets merged with the parent's. */
typedef int (*tarn_table_commit_check)(void *arg, const tarn_ice_metadata *base,
                                       tarn_ice_metadata *next, tarn_error *err);

/* Sets (value non-NULL) or removes (value NULL) properties of m. */
int tarn_ice_metadata_set_properties(tarn_ice_metadata *m, const tarn_ice_kv *set, size_t n,
                                     tarn_error *err);

/*
 * The general form of append and overwrite: `overwrite` 0 appends; 1 removes the live
 * files of `partition` (NULL: all) first. `check` (may be NULL) runs inside every
 * attempt as described above; when it answers TARN_EALREADY the call returns 0 with
 * res->committed 0 and res->snapshot_id the table's current snapshot, and removes the
 * manifests it wrote (the data files stay the caller's).
 */
int tarn_table_commit_files(tarn_table *t, int overwrite, int32_t spec_id,
                            const tarn_ice_value *partition, const tarn_ice_data_file *files,
                            size_t n, const tarn_ice_kv *summary, size_t nsummary,
                            tarn_table_commit_check check, void *check_arg,
                            tarn_table_commit_result *res, tarn_error *err);

/*
 * Rewrite ("replace" snapshot, as compaction makes): removes exactly the live data files
 * named in `remove` (by file_path) and adds `files`, which must hold the same rows. Inside
 * every attempt each of them must still be live, else TARN_ECONFLICT (nothing committed;
 * the data files stay the caller's); files other writers added meanwhile are kept.
 */
int tarn_table_rewrite_files(tarn_table *t, const char *const *remove, size_t nremove,
                             const tarn_ice_data_file *files, size_t n, const tarn_ice_kv *summary,
                             size_t nsummary, tarn_table_commit_check check, void *check_arg,
                             tarn_table_commit_result *res, tarn_error *err);

/* Adds an optional column (a new field id, last-column-id + 1) in a new schema. */
int tarn_table_add_column(tarn_table *t, const char *name, const tarn_ice_type *type,
                          const char *doc, int32_t *field_id, tarn_error *err);

/* Sets (value non-NULL) or removes (value NULL) table properties in one commit. */
int tarn_table_set_properties(tarn_table *t, const tarn_ice_kv *set, size_t n, tarn_error *err);
/* The same, with `check` (may be NULL) run inside every attempt as for
 * tarn_table_commit_files; its TARN_EALREADY commits nothing and returns 0. */
int tarn_table_set_properties_checked(tarn_table *t, const tarn_ice_kv *set, size_t n,
                                      tarn_table_commit_check check, void *check_arg,
                                      tarn_error *err);

/* ---- writing data files ---- */

typedef struct tarn_table_writer tarn_table_writer;

/*
 * Opens a writer of data files for the table's current schema and default spec. Rows
 * are routed to one Parquet file per partition under <location>/data/<partition path>/
 * (Hive-style "name=value" folders). pq may be NULL: defaults come from the table
 * properties write.parquet.compression-codec (snappy|zstd|gzip|lz4_raw|uncompressed,
 * default zstd) and write.parquet.compression-level.
 */
int tarn_table_writer_open(tarn_table *t, const tarn_pq_writer_options *pq, tarn_table_writer **out,
                           tarn_error *err);
/* Appends a batch whose columns are the current schema's, in order. */
int tarn_table_writer_write(tarn_table_writer *w, const tarn_pq_batch *b, tarn_error *err);
/* Closes every file and returns their data-file entries (caller frees with
 * tarn_ice_data_files_free), ready for tarn_table_append/overwrite. Frees w. */
int tarn_table_writer_close(tarn_table_writer *w, tarn_ice_data_file **files, size_t *n,
                            tarn_error *err);
/* Discards what was written (no file becomes visible) and frees w. Accepts NULL. */
void tarn_table_writer_abort(tarn_table_writer *w);

/* Deletes data files written by a writer that no snapshot took (a commit that failed
 * with an answer, or a check that found the rows there already). A file that cannot be
 * deleted is logged, naming `who`: an orphan for `tarn table remove-orphans`. */
void tarn_table_delete_files(tarn_table *t, const tarn_ice_data_file *files, size_t n,
                             const char *who);

/* The Iceberg value of row i of a column (Arrow layout) of Iceberg type t. Bytes point
 * into the array. */
void tarn_ice_value_from_array(const tarn_ice_type *t, const tarn_pq_column *c,
                               const tarn_pq_array *a, int64_t i, tarn_ice_value *v);

/* ---- scans ---- */

typedef struct tarn_table_pred {
  int32_t field_id;
  tarn_pq_op op;        /* EQ, LT, LE, GT, GE, IS_NULL, NOT_NULL */
  tarn_ice_value value; /* in the column's Iceberg representation */
} tarn_table_pred;

typedef struct tarn_expr tarn_expr; /* scan.h */

typedef struct tarn_table_scan_options {
  int64_t snapshot_id;          /* -1: current (or as_of_ms) */
  int64_t as_of_ms;             /* -1: none; else the snapshot current at that time */
  const tarn_table_pred *preds; /* ANDed */
  size_t npreds;
  const tarn_expr *filter; /* ANDed with preds (AND, OR, NOT, IN, ...); NULL = none */
} tarn_table_scan_options;

typedef struct tarn_table_plan_stats {
  int64_t manifests_total, manifests_pruned;
  int64_t files_total, files_pruned_partition, files_pruned_metrics;
} tarn_table_plan_stats;

/*
 * Lists the live data files of a snapshot that may hold rows matching every predicate:
 * manifests are pruned by their partition summaries, files by partition values and
 * column bounds (conservative: never drops a file that could match; an OR prunes only
 * when every branch does). Rows are read through tarn_table_scan_open (scan.h). *files is an array
 * the caller frees with tarn_ice_data_files_free. *snapshot_id (may be NULL) gets the
 * snapshot planned (-1 for an empty table).
 */
int tarn_table_plan(tarn_table *t, const tarn_table_scan_options *opts, tarn_ice_data_file **files,
                    size_t *n, int64_t *snapshot_id, tarn_table_plan_stats *stats, tarn_error *err);
void tarn_ice_data_files_free(tarn_ice_data_file *f, size_t n);

/* ---- maintenance ---- */

typedef struct tarn_table_expire_result {
  size_t snapshots_expired;
  size_t files_deleted; /* manifest lists, manifests and data files no longer reachable */
} tarn_table_expire_result;

/* Expires snapshots older than older_than_ms (Unix ms) except the newest keep_last (at
 * least 1) and the current one; then deletes files only expired snapshots referenced. */
int tarn_table_expire_snapshots(tarn_table *t, int64_t older_than_ms, int keep_last,
                                tarn_table_expire_result *res, tarn_error *err);

/* Deletes files under the table location that no snapshot, manifest or metadata file
 * references and that are older than older_than_ms (Unix ms), then the temp files of puts
 * that never finished there (tarn_store_sweep: `each` gets their paths, which are not
 * keys). With dry_run, only counts (and lists through the callback when given). */
int tarn_table_remove_orphans(tarn_table *t, int64_t older_than_ms, int dry_run,
                              void (*each)(const char *key, uint64_t size, void *arg), void *arg,
                              size_t *removed, tarn_error *err);

/* Frees the members of one snapshot / spec / sort order (not the struct itself). */
void tarn_ice_snapshot_free(tarn_ice_snapshot *s);
void tarn_ice_spec_free(tarn_ice_spec *s);
void tarn_ice_sort_order_free(tarn_ice_sort_order *o);

#endif
