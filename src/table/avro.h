/* avro.h - tarn's own Avro codec: schemas, values, object container file writer and reader. */
#ifndef TARN_TABLE_AVRO_H
#define TARN_TABLE_AVRO_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/error.h"
#include "store/store.h"

/*
 * Avro 1.11 binary encoding and object container files, as Iceberg uses them for
 * manifests and manifest lists. The format, what the writer emits and the limits are
 * described in AVRO.md beside this file. In short:
 *
 *   schema  = tarn_avro_schema_parse(json text)     keeps the text verbatim for the header
 *   writer  = tarn_avro_writer_open_buf / _open_store, _set_meta, _append(record value)...,
 *             _close (nothing is visible in the store until close succeeds)
 *   reader  = tarn_avro_reader_open_mem / _open_store, _meta, _next(&record)... , _destroy
 *
 * Values are plain structs (tarn_avro_value) that the caller builds in a
 * tarn_avro_arena, one arena reset per record, so memory stays bounded however many
 * records a file holds. Writers, readers and arenas are not thread-safe: use each from one
 * thread at a time. A parsed schema is read-only and may be shared by several threads.
 */

/* ---- types ---- */

typedef enum tarn_avro_type {
  TARN_AVRO_UNSET = 0, /* values only: a record field not set; the writer uses its default */
  TARN_AVRO_NULL,
  TARN_AVRO_BOOLEAN,
  TARN_AVRO_INT,
  TARN_AVRO_LONG,
  TARN_AVRO_FLOAT,
  TARN_AVRO_DOUBLE,
  TARN_AVRO_BYTES,
  TARN_AVRO_STRING,
  TARN_AVRO_RECORD,
  TARN_AVRO_ENUM,
  TARN_AVRO_ARRAY,
  TARN_AVRO_MAP,
  TARN_AVRO_UNION, /* schemas only: a value in a union has its branch's type */
  TARN_AVRO_FIXED,
  TARN_AVRO_INVALID, /* values only: a constructor whose allocation failed (see below) */
} tarn_avro_type;

/* Lower-case Avro name of a type ("long", "record"); "unset"/"invalid" for the others. */
const char *tarn_avro_type_name(tarn_avro_type t);

/* ---- schemas ---- */

typedef struct tarn_avro_schema tarn_avro_schema;
typedef struct tarn_avro_node tarn_avro_node;

/* Limits on what tarn_avro_schema_parse accepts. */
#define TARN_AVRO_SCHEMA_MAX_BYTES (16u << 20) /* schema JSON text */
#define TARN_AVRO_MAX_DEPTH 64                 /* nesting of types and of values */

/* A record field. Every string points into the schema and lives as long as it. */
typedef struct tarn_avro_field {
  const char *name;
  const tarn_avro_node *type;
  size_t index;     /* position in the record */
  int has_field_id; /* the field carries an integer "field-id" (Iceberg) */
  int32_t field_id;
  const json_t *default_value; /* the "default" attribute, NULL when absent */
  const json_t *json;          /* the field's JSON object: doc, aliases, any attribute */
} tarn_avro_field;

/*
 * One type of a parsed schema. Read-only to callers. Named types (record, enum, fixed)
 * referenced again by name are the same node, so a schema may be a graph with cycles.
 */
struct tarn_avro_node {
  tarn_avro_type type;
  const char *name;         /* record, enum, fixed: simple name; else NULL */
  const char *fullname;     /* record, enum, fixed: namespace.name */
  const char *logical_type; /* "logicalType" attribute or NULL */
  const json_t *json;       /* this type's JSON (object or union array); NULL for a plain
                               primitive written as a string */
  /* record */
  const tarn_avro_field *fields;
  size_t nfields;
  /* enum */
  const char *const *symbols;
  size_t nsymbols;
  /* array (items) and map (values) */
  const tarn_avro_node *items;
  int has_element_id, has_key_id, has_value_id; /* Iceberg "element-id", "key-id", "value-id" */
  int32_t element_id, key_id, value_id;
  /* union */
  const tarn_avro_node *const *branches;
  size_t nbranches;
  int null_branch; /* index of the "null" branch, -1 if none */
  /* fixed */
  size_t size;
  /* decimal logical type (precision 0 when not a valid decimal) */
  int precision, scale;
  /* internal: fewest bytes one value of this type encodes to (bounds hostile counts) */
  size_t min_bytes;
};

/*
 * Parses a schema from Avro JSON text (at most TARN_AVRO_SCHEMA_MAX_BYTES). The text is
 * kept verbatim (tarn_avro_schema_text) and is what writers put in the file header, so
 * field-id, doc, defaults and every other attribute survive. Names are resolved with
 * namespaces, unions checked, defaults checked against their types.
 * On error TARN_EINVAL (or TARN_ETOOBIG, TARN_ENOMEM) with the JSON path in the detail;
 * *out is set only on success. The caller destroys the schema.
 */
int tarn_avro_schema_parse(const char *json, size_t len, tarn_avro_schema **out, tarn_error *err);
void tarn_avro_schema_destroy(tarn_avro_schema *s); /* accepts NULL */

const tarn_avro_node *tarn_avro_schema_root(const tarn_avro_schema *s);
/* The text given to tarn_avro_schema_parse (NUL-terminated); *len gets its length. */
const char *tarn_avro_schema_text(const tarn_avro_schema *s, size_t *len);
/* The named type with this full name, or NULL. */
const tarn_avro_node *tarn_avro_schema_named(const tarn_avro_schema *s, const char *fullname);

/*
 * Appends the schema as compact JSON with every attribute kept, but with primitives
 * that carry no attribute written as plain strings ("int", not {"type":"int"}), which
 * some readers (icebird) require. Parse the result to write files with it.
 */
int tarn_avro_schema_to_json(const tarn_avro_schema *s, tarn_buf *out, tarn_error *err);

/* A record's field by name or by Iceberg field-id; NULL if rec is no record or no such
 * field. A union holding null and one record is looked through. */
const tarn_avro_field *tarn_avro_node_field(const tarn_avro_node *rec, const char *name);
const tarn_avro_field *tarn_avro_node_field_by_id(const tarn_avro_node *rec, int32_t field_id);
/* For a union of "null" and one other type, that type; otherwise n itself. */
const tarn_avro_node *tarn_avro_node_nonnull(const tarn_avro_node *n);
/* Any attribute of a type written as a JSON object (NULL if absent or a plain string). */
const json_t *tarn_avro_node_attr(const tarn_avro_node *n, const char *key);

/* ---- values ---- */

typedef struct tarn_avro_value tarn_avro_value;
typedef struct tarn_avro_kv tarn_avro_kv;

/*
 * A value. type says which member of u is used:
 *   BOOLEAN b, INT i, LONG l, FLOAT f, DOUBLE d, ENUM i (symbol index),
 *   BYTES/FIXED bytes, STRING str (UTF-8; NUL-terminated in decoded values),
 *   ARRAY array, MAP map, RECORD record (one value per field, in schema order).
 * A value in a union position has its branch's type; has_branch/branch say which
 * branch (always set by the reader; writers may leave has_branch 0 and let the writer
 * choose: null for NULL, else the first branch of the value's type, a record branch
 * matching the value's node first).
 * node is the value's schema node in decoded values and in records made with
 * tarn_avro_record_new; NULL in values made by the scalar constructors.
 * Values never own memory: what they point to lives in an arena or the caller's data.
 */
struct tarn_avro_value {
  uint8_t type; /* tarn_avro_type */
  uint8_t has_branch;
  uint8_t bad_set; /* a tarn_avro_set on this record named no field; the writer refuses it */
  uint32_t branch;
  const tarn_avro_node *node;
  union {
    int b;
    int32_t i;
    int64_t l;
    float f;
    double d;
    struct {
      const uint8_t *p;
      size_t len;
    } bytes;
    struct {
      const char *p;
      size_t len;
    } str;
    struct {
      tarn_avro_value *items;
      size_t count;
    } array;
    struct {
      tarn_avro_kv *entries;
      size_t count;
    } map;
    struct {
      tarn_avro_value *fields;
      size_t count;
    } record;
  } u;
};

struct tarn_avro_kv {
  const char *key; /* UTF-8; NUL-terminated in decoded values */
  size_t key_len;
  tarn_avro_value value;
};

/* Scalar constructors. They borrow what they point to. */
static inline tarn_avro_value tarn_avro_null(void) {
  return (tarn_avro_value){.type = TARN_AVRO_NULL};
}
static inline tarn_avro_value tarn_avro_bool(int b) {
  return (tarn_avro_value){.type = TARN_AVRO_BOOLEAN, .u.b = b ? 1 : 0};
}
static inline tarn_avro_value tarn_avro_int(int32_t i) {
  return (tarn_avro_value){.type = TARN_AVRO_INT, .u.i = i};
}
static inline tarn_avro_value tarn_avro_long(int64_t l) {
  return (tarn_avro_value){.type = TARN_AVRO_LONG, .u.l = l};
}
static inline tarn_avro_value tarn_avro_float(float f) {
  return (tarn_avro_value){.type = TARN_AVRO_FLOAT, .u.f = f};
}
static inline tarn_avro_value tarn_avro_double(double d) {
  return (tarn_avro_value){.type = TARN_AVRO_DOUBLE, .u.d = d};
}
static inline tarn_avro_value tarn_avro_enum(int32_t symbol_index) {
  return (tarn_avro_value){.type = TARN_AVRO_ENUM, .u.i = symbol_index};
}
/* A NUL-terminated string. NULL gives an INVALID value (the writer fails with
 * TARN_ENOMEM), so a failed strdup is never written as a null. */
tarn_avro_value tarn_avro_str(const char *s);
tarn_avro_value tarn_avro_strn(const char *s, size_t len);
tarn_avro_value tarn_avro_bytes(const void *p, size_t len);
tarn_avro_value tarn_avro_fixed(const void *p, size_t len);
/* Containers over arrays from tarn_avro_values_new / tarn_avro_kvs_new (count 0 may
 * pass NULL). items NULL with count > 0 gives an INVALID value: the writer then fails
 * with TARN_ENOMEM, so building code needs no check after each allocation. */
tarn_avro_value tarn_avro_array(tarn_avro_value *items, size_t count);
tarn_avro_value tarn_avro_map(tarn_avro_kv *entries, size_t count);
/* The record made by tarn_avro_record_new (shallow copy: it shares the fields), or an
 * INVALID value when rec is NULL. */
tarn_avro_value tarn_avro_record(const tarn_avro_value *rec);
/* v placed in union branch `branch` explicitly. */
tarn_avro_value tarn_avro_branch(tarn_avro_value v, uint32_t branch);

/* ---- arena: where values are built and decoded ---- */

typedef struct tarn_avro_arena tarn_avro_arena;

#define TARN_AVRO_ARENA_DEFAULT_MAX (64u << 20)

/* An arena whose allocations total at most max_bytes (0: TARN_AVRO_ARENA_DEFAULT_MAX). */
int tarn_avro_arena_create(size_t max_bytes, tarn_avro_arena **out, tarn_error *err);
/* Frees every allocation at once, keeping one chunk for reuse. */
void tarn_avro_arena_reset(tarn_avro_arena *a);
void tarn_avro_arena_destroy(tarn_avro_arena *a); /* accepts NULL */
/* n zeroed bytes aligned for any value; NULL when out of memory or over the cap. */
void *tarn_avro_arena_alloc(tarn_avro_arena *a, size_t n);
/* A NUL-terminated copy of n bytes; NULL on failure. */
char *tarn_avro_arena_strndup(tarn_avro_arena *a, const void *p, size_t n);

/* count UNSET values / key-value pairs; NULL on failure (or for a NULL arena). */
tarn_avro_value *tarn_avro_values_new(tarn_avro_arena *a, size_t count);
tarn_avro_kv *tarn_avro_kvs_new(tarn_avro_arena *a, size_t count);

/*
 * A record value for schema node rec (a record, or a union of null and one record),
 * every field UNSET; the writer writes an UNSET field's default, so optional Iceberg
 * fields ("default": null) need not be set. NULL on allocation failure or when rec is
 * no record.
 */
tarn_avro_value *tarn_avro_record_new(tarn_avro_arena *a, const tarn_avro_node *rec);

/*
 * Sets a field of a record made by tarn_avro_record_new, by name or by field-id. 0,
 * TARN_EINVAL when rec is NULL or not a record, TARN_ENOTFOUND when the schema has no
 * such field; in that last case the record is marked and the writer refuses it, so a
 * typo cannot go unnoticed even when the return value is ignored.
 */
int tarn_avro_set(tarn_avro_value *rec, const char *name, tarn_avro_value v);
int tarn_avro_set_id(tarn_avro_value *rec, int32_t field_id, tarn_avro_value v);

/* A field of a record value (decoded or built) by name or field-id; NULL if rec is not a
 * record with a node or has no such field. Unions are not looked through. */
const tarn_avro_value *tarn_avro_get(const tarn_avro_value *rec, const char *name);
const tarn_avro_value *tarn_avro_get_id(const tarn_avro_value *rec, int32_t field_id);
/* 1 when v is NULL, UNSET or a null value. */
int tarn_avro_is_null(const tarn_avro_value *v);

/* Deep copy of src into arena a (strings, bytes, containers), e.g. to keep a record the
 * reader returned beyond the next call. */
int tarn_avro_value_copy(tarn_avro_arena *a, const tarn_avro_value *src, tarn_avro_value *dst,
                         tarn_error *err);

/* ---- writer ---- */

typedef enum tarn_avro_codec {
  TARN_AVRO_CODEC_NULL = 0,
  TARN_AVRO_CODEC_DEFLATE, /* raw deflate (RFC 1951), what Iceberg writes by default */
  TARN_AVRO_CODEC_SNAPPY,  /* snappy + big-endian CRC32 of the uncompressed block */
  TARN_AVRO_CODEC_ZSTD,    /* "zstandard" */
} tarn_avro_codec;

/* The avro.codec name of a codec ("null", "deflate", "snappy", "zstandard"). */
const char *tarn_avro_codec_name(tarn_avro_codec c);

typedef struct tarn_avro_writer_options {
  tarn_avro_codec codec; /* default NULL codec */
  int level;             /* compression level; 0 = the codec's default */
  size_t block_bytes;    /* a block is written once its records reach this many bytes
                            (before compression); 0 = 64 KiB */
  const uint8_t *sync;   /* 16 bytes to use as sync marker (reproducible files in tests);
                            NULL = random */
} tarn_avro_writer_options;

typedef struct tarn_avro_writer tarn_avro_writer;

/* The largest block (records before compression) a writer builds and a reader accepts
 * by default: one record larger than this cannot be written. */
#define TARN_AVRO_MAX_BLOCK_BYTES (64u << 20)

/*
 * Opens a writer appending a container file to *out (the caller's buffer; its cap bounds
 * the file). The schema and out are borrowed and must outlive the writer; options are
 * copied (NULL = defaults). On any failure, and on abort, out is truncated back to its
 * length at open.
 */
int tarn_avro_writer_open_buf(const tarn_avro_schema *s, const tarn_avro_writer_options *o,
                              tarn_buf *out, tarn_avro_writer **w, tarn_error *err);
/*
 * Opens a writer streaming a container file to key in st (tarn_store_writer_open with
 * store_flags, e.g. TARN_STORE_IF_ABSENT). Memory stays bounded by the block size. The
 * object becomes visible only when tarn_avro_writer_close succeeds.
 */
int tarn_avro_writer_open_store(const tarn_avro_schema *s, const tarn_avro_writer_options *o,
                                tarn_store *st, const char *key, unsigned store_flags,
                                tarn_avro_writer **w, tarn_error *err);

/*
 * Adds a header metadata entry (Iceberg: "schema", "partition-spec", "partition-spec-id",
 * "format-version", "content", "snapshot-id", ...). Must come before the first append;
 * keys starting with "avro." are reserved (TARN_EINVAL); setting a key again replaces
 * its value. The value is copied.
 */
int tarn_avro_writer_set_meta(tarn_avro_writer *w, const char *key, const void *val, size_t len,
                              tarn_error *err);
int tarn_avro_writer_set_meta_str(tarn_avro_writer *w, const char *key, const char *val,
                                  tarn_error *err);

/*
 * Validates rec against the schema's root record and encodes it. A value that does not
 * match is TARN_EINVAL naming the field path ("data_file.lower_bounds[3].value:
 * expected bytes, got string") and leaves the writer as it was, so the caller may go on.
 * A failure writing to the output (or compressing) is sticky: every later call returns
 * it and close discards the file. rec is only read; it may be freed after the call.
 * rec NULL (a tarn_avro_record_new that failed) is TARN_ENOMEM.
 */
int tarn_avro_writer_append(tarn_avro_writer *w, const tarn_avro_value *rec, tarn_error *err);

/* Records appended so far. */
uint64_t tarn_avro_writer_count(const tarn_avro_writer *w);

/*
 * Writes the last block, then publishes the file (store: commits the object). Always
 * frees the writer. On success *size (may be NULL) gets the file's length in bytes
 * (Iceberg's manifest_length). On failure nothing is published.
 */
int tarn_avro_writer_close(tarn_avro_writer *w, uint64_t *size, tarn_error *err);
/* Discards the file and frees the writer. Accepts NULL. */
void tarn_avro_writer_abort(tarn_avro_writer *w);

/* ---- reader ---- */

typedef struct tarn_avro_reader_options {
  size_t max_block_bytes;  /* decompressed block cap; 0 = TARN_AVRO_MAX_BLOCK_BYTES */
  size_t max_record_bytes; /* memory one decoded record may take; 0 = 64 MiB */
} tarn_avro_reader_options;

typedef struct tarn_avro_reader tarn_avro_reader;

/* Default cap for tarn_avro_reader_open_store when max_file_bytes is 0. */
#define TARN_AVRO_MAX_FILE_BYTES (1024u << 20)

/*
 * Opens a container file held in memory (borrowed: it must outlive the reader). The
 * header is parsed and checked here: magic, metadata, schema (from avro.schema) and
 * codec. Corrupt input is TARN_ECORRUPT naming the byte offset, an unknown codec
 * TARN_EUNSUPPORTED. options may be NULL.
 */
int tarn_avro_reader_open_mem(const void *data, size_t len, const tarn_avro_reader_options *o,
                              tarn_avro_reader **out, tarn_error *err);
/* Reads the whole object key (at most max_file_bytes; 0 = TARN_AVRO_MAX_FILE_BYTES)
 * into memory the reader owns, then as tarn_avro_reader_open_mem. */
int tarn_avro_reader_open_store(tarn_store *st, const char *key, size_t max_file_bytes,
                                const tarn_avro_reader_options *o, tarn_avro_reader **out,
                                tarn_error *err);
void tarn_avro_reader_destroy(tarn_avro_reader *r); /* accepts NULL */

/* The writer's schema from the header; owned by the reader. */
const tarn_avro_schema *tarn_avro_reader_schema(const tarn_avro_reader *r);
tarn_avro_codec tarn_avro_reader_codec(const tarn_avro_reader *r);
/* A header metadata value: 1 and *val, *len when present (val is NUL-terminated after
 * len bytes), 0 when absent. Owned by the reader. */
int tarn_avro_reader_meta(const tarn_avro_reader *r, const char *key, const uint8_t **val,
                          size_t *len);
/* The value as a C string, NULL when absent. */
const char *tarn_avro_reader_meta_str(const tarn_avro_reader *r, const char *key);
/* Header entries in file order, for iteration: i < tarn_avro_reader_meta_count. */
size_t tarn_avro_reader_meta_count(const tarn_avro_reader *r);
void tarn_avro_reader_meta_at(const tarn_avro_reader *r, size_t i, const char **key,
                              const uint8_t **val, size_t *len);

/*
 * The next record: 0 and *rec set, or 0 and *rec NULL at the end of the file. The
 * record (values, strings) lives until the next call or destroy. Every length and count
 * is checked against the bytes left and the caps; the sync marker after every block is
 * checked. On error (TARN_ECORRUPT with the file offset and field path, TARN_ETOOBIG
 * past a cap) the reader is done: later calls return the same error.
 */
int tarn_avro_reader_next(tarn_avro_reader *r, const tarn_avro_value **rec, tarn_error *err);

/* Records returned so far. */
uint64_t tarn_avro_reader_count(const tarn_avro_reader *r);

#endif
