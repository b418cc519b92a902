/* ice_manifest.c - Iceberg v2 manifests and manifest lists as Avro container files. */
#include "table.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "avro.h"
#include "base/alloc.h"
#include "base/log.h"
#include "table_int.h"

/* Manifests are small; the cap only stops a hostile file. */
#define MANIFEST_MAX_BYTES (512u << 20)

int tarn_table_io_key(const tarn_table_io *io, const char *uri, char *key, size_t n,
                      tarn_error *err) {
  size_t rl = strlen(io->root_uri);
  if (strncmp(uri, io->root_uri, rl) != 0 || uri[rl] == '\0')
    return tarn_error_set(err, TARN_EINVAL, "%s is not under the lake root %s", uri, io->root_uri);
  if (strlen(uri + rl) >= n)
    return tarn_error_set(err, TARN_ETOOBIG, "%s: key too long", uri);
  memcpy(key, uri + rl, strlen(uri + rl) + 1);
  return 0;
}

int tarn__table_delete_uri(const tarn_table_io *io, const char *uri, const char *what) {
  char key[TARN_STORE_KEY_MAX + 1];
  tarn_error err;
  if (uri == NULL || tarn_table_io_key(io, uri, key, sizeof(key), NULL) != 0)
    return 0;
  if (tarn_store_delete(io->store, key, &err) == 0)
    return 1;
  if (err.code != TARN_ENOTFOUND)
    tarn_log_warn("cannot delete file", "what=%s uri=%s error=%s", what, uri,
                  tarn_error_message(&err));
  return 0;
}

/* The Avro type of a partition field whose values have Iceberg type t, as JSON text
 * appended to out ("int", {"type":"int","logicalType":"date"}, ...). */
static int partition_avro_type(const tarn_ice_type *t, tarn_buf *out, tarn_error *err) {
  switch (t->id) {
  case TARN_ICE_BOOLEAN: return tarn_buf_append_str(out, "\"boolean\"", err);
  case TARN_ICE_INT: return tarn_buf_append_str(out, "\"int\"", err);
  case TARN_ICE_LONG: return tarn_buf_append_str(out, "\"long\"", err);
  case TARN_ICE_FLOAT: return tarn_buf_append_str(out, "\"float\"", err);
  case TARN_ICE_DOUBLE: return tarn_buf_append_str(out, "\"double\"", err);
  case TARN_ICE_DATE:
    return tarn_buf_append_str(out, "{\"type\":\"int\",\"logicalType\":\"date\"}", err);
  case TARN_ICE_TIME:
    return tarn_buf_append_str(out, "{\"type\":\"long\",\"logicalType\":\"time-micros\"}", err);
  case TARN_ICE_TIMESTAMP:
  case TARN_ICE_TIMESTAMPTZ:
    return tarn_buf_appendf(out, err,
                            "{\"type\":\"long\",\"logicalType\":\"timestamp-micros\","
                            "\"adjust-to-utc\":%s}",
                            t->id == TARN_ICE_TIMESTAMPTZ ? "true" : "false");
  case TARN_ICE_STRING: return tarn_buf_append_str(out, "\"string\"", err);
  case TARN_ICE_BINARY: return tarn_buf_append_str(out, "\"bytes\"", err);
  case TARN_ICE_UUID:
    return tarn_buf_append_str(
        out, "{\"type\":\"fixed\",\"name\":\"uuid_fixed\",\"size\":16,\"logicalType\":\"uuid\"}",
        err);
  case TARN_ICE_FIXED:
    return tarn_buf_appendf(out, err, "{\"type\":\"fixed\",\"name\":\"fixed_%d\",\"size\":%d}",
                            (int)t->length, (int)t->length);
  case TARN_ICE_DECIMAL:
    return tarn_buf_appendf(out, err,
                            "{\"type\":\"fixed\",\"name\":\"decimal_%d_%d\",\"size\":%zu,"
                            "\"logicalType\":\"decimal\",\"precision\":%d,\"scale\":%d}",
                            (int)t->precision, (int)t->scale,
                            (size_t)tarn__ice_decimal_bytes(t->precision), (int)t->precision,
                            (int)t->scale);
  case TARN_ICE_STRUCT:
  case TARN_ICE_LIST:
  case TARN_ICE_MAP:
    return tarn_error_set(err, TARN_EINVAL, "a nested column cannot be a partition source");
  }
  return tarn_error_set(err, TARN_EINVAL, "no Avro type for this partition type");
}

/* A JSON string literal of s. */
static int append_json_string(tarn_buf *out, const char *s, tarn_error *err) {
  json_t *j = json_string(s);
  char *text;
  int rc;
  if (j == NULL)
    return tarn_error_set(err, TARN_EINVAL, "\"%s\" is not valid UTF-8", s);
  text = json_dumps(j, JSON_ENCODE_ANY);
  json_decref(j);
  if (text == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  rc = tarn_buf_append_str(out, text, err);
  tarn_free(text);
  return rc;
}

/* Map-as-array type of the spec: array of {key: int, value: T} records. */
static int append_map(tarn_buf *o, const char *name, int id, int kid, int vid, const char *vtype,
                      const char *doc, tarn_error *err) {
  return tarn_buf_appendf(o, err,
                          ",{\"name\":\"%s\",\"type\":[\"null\",{\"type\":\"array\",\"items\":"
                          "{\"type\":\"record\",\"name\":\"k%d_v%d\",\"fields\":[{\"name\":"
                          "\"key\",\"type\":\"int\",\"field-id\":%d},{\"name\":\"value\","
                          "\"type\":\"%s\",\"field-id\":%d}]},\"logicalType\":\"map\"}],"
                          "\"default\":null,\"doc\":\"%s\",\"field-id\":%d}",
                          name, kid, vid, kid, vtype, vid, doc, id);
}

/* The v2 manifest_entry schema with the partition record of spec. */
static int manifest_schema_json(const tarn_ice_schema *schema, const tarn_ice_spec *spec,
                                tarn_buf *o, tarn_error *err) {
  size_t i;
  int rc = tarn_buf_append_str(
      o,
      "{\"type\":\"record\",\"name\":\"manifest_entry\",\"fields\":["
      "{\"name\":\"status\",\"type\":\"int\",\"field-id\":0},"
      "{\"name\":\"snapshot_id\",\"type\":[\"null\",\"long\"],\"default\":null,\"field-id\":1},"
      "{\"name\":\"sequence_number\",\"type\":[\"null\",\"long\"],\"default\":null,"
      "\"field-id\":3},"
      "{\"name\":\"file_sequence_number\",\"type\":[\"null\",\"long\"],\"default\":null,"
      "\"field-id\":4},"
      "{\"name\":\"data_file\",\"type\":{\"type\":\"record\",\"name\":\"r2\",\"fields\":["
      "{\"name\":\"content\",\"type\":\"int\",\"doc\":\"Contents of the file: 0=data, "
      "1=position deletes, 2=equality deletes\",\"field-id\":134},"
      "{\"name\":\"file_path\",\"type\":\"string\",\"doc\":\"Location URI with FS scheme\","
      "\"field-id\":100},"
      "{\"name\":\"file_format\",\"type\":\"string\",\"doc\":\"File format name: avro, orc, or "
      "parquet\",\"field-id\":101},"
      "{\"name\":\"partition\",\"type\":{\"type\":\"record\",\"name\":\"r102\",\"fields\":[",
      err);
  for (i = 0; rc == 0 && i < spec->nfields; i++) {
    const tarn_ice_partition_field *pf = &spec->fields[i];
    const tarn_ice_field *src = tarn_ice_schema_field(schema, pf->source_id);
    tarn_ice_type rt;
    if (src == NULL)
      return tarn_error_set(err, TARN_EINVAL,
                            "partition field %s: source column %d is not in "
                            "the schema",
                            pf->name, (int)pf->source_id);
    rc = tarn_ice_transform_result_type(&pf->transform, &src->type, &rt, err);
    if (rc == 0)
      rc = tarn_buf_append_str(o, i ? ",{\"name\":" : "{\"name\":", err);
    if (rc == 0)
      rc = append_json_string(o, pf->name, err);
    if (rc == 0)
      rc = tarn_buf_append_str(o, ",\"type\":[\"null\",", err);
    if (rc == 0)
      rc = partition_avro_type(&rt, o, err);
    if (rc == 0)
      rc = tarn_buf_appendf(o, err, "],\"default\":null,\"field-id\":%d}", (int)pf->field_id);
  }
  if (rc == 0)
    rc = tarn_buf_append_str(
        o,
        "]},\"doc\":\"Partition data tuple, schema based on the partition spec\","
        "\"field-id\":102},"
        "{\"name\":\"record_count\",\"type\":\"long\",\"doc\":\"Number of records in the file\","
        "\"field-id\":103},"
        "{\"name\":\"file_size_in_bytes\",\"type\":\"long\",\"doc\":\"Total file size in bytes\","
        "\"field-id\":104}",
        err);
  if (rc == 0)
    rc = append_map(o, "column_sizes", 108, 117, 118, "long",
                    "Map of column id to total size "
                    "on disk",
                    err);
  if (rc == 0)
    rc = append_map(o, "value_counts", 109, 119, 120, "long",
                    "Map of column id to total count, "
                    "including null and NaN",
                    err);
  if (rc == 0)
    rc = append_map(o, "null_value_counts", 110, 121, 122, "long",
                    "Map of column id to null "
                    "value count",
                    err);
  if (rc == 0)
    rc = append_map(o, "nan_value_counts", 137, 138, 139, "long",
                    "Map of column id to number "
                    "of NaN values in the column",
                    err);
  if (rc == 0)
    rc = append_map(o, "lower_bounds", 125, 126, 127, "bytes", "Map of column id to lower bound",
                    err);
  if (rc == 0)
    rc = append_map(o, "upper_bounds", 128, 129, 130, "bytes", "Map of column id to upper bound",
                    err);
  if (rc == 0)
    rc = tarn_buf_append_str(
        o,
        ",{\"name\":\"key_metadata\",\"type\":[\"null\",\"bytes\"],\"default\":null,"
        "\"doc\":\"Encryption key metadata blob\",\"field-id\":131},"
        "{\"name\":\"split_offsets\",\"type\":[\"null\",{\"type\":\"array\",\"items\":\"long\","
        "\"element-id\":133}],\"default\":null,\"doc\":\"Splittable offsets\",\"field-id\":132},"
        "{\"name\":\"equality_ids\",\"type\":[\"null\",{\"type\":\"array\",\"items\":\"int\","
        "\"element-id\":136}],\"default\":null,\"doc\":\"Equality comparison field IDs\","
        "\"field-id\":135},"
        "{\"name\":\"sort_order_id\",\"type\":[\"null\",\"int\"],\"default\":null,"
        "\"doc\":\"Sort order ID\",\"field-id\":140}"
        "]},\"field-id\":2}]}",
        err);
  return rc;
}

static const char manifest_list_schema[] =
    "{\"type\":\"record\",\"name\":\"manifest_file\",\"fields\":["
    "{\"name\":\"manifest_path\",\"type\":\"string\",\"doc\":\"Location URI with FS scheme\","
    "\"field-id\":500},"
    "{\"name\":\"manifest_length\",\"type\":\"long\",\"doc\":\"Total file size in bytes\","
    "\"field-id\":501},"
    "{\"name\":\"partition_spec_id\",\"type\":\"int\",\"doc\":\"Spec ID used to write\","
    "\"field-id\":502},"
    "{\"name\":\"content\",\"type\":\"int\",\"doc\":\"Contents of the manifest: 0=data, "
    "1=deletes\",\"field-id\":517},"
    "{\"name\":\"sequence_number\",\"type\":\"long\",\"doc\":\"Sequence number when the manifest "
    "was added\",\"field-id\":515},"
    "{\"name\":\"min_sequence_number\",\"type\":\"long\",\"doc\":\"Lowest sequence number in the "
    "manifest\",\"field-id\":516},"
    "{\"name\":\"added_snapshot_id\",\"type\":\"long\",\"doc\":\"Snapshot ID that added the "
    "manifest\",\"field-id\":503},"
    "{\"name\":\"added_files_count\",\"type\":\"int\",\"doc\":\"Added entry count\","
    "\"field-id\":504},"
    "{\"name\":\"existing_files_count\",\"type\":\"int\",\"doc\":\"Existing entry count\","
    "\"field-id\":505},"
    "{\"name\":\"deleted_files_count\",\"type\":\"int\",\"doc\":\"Deleted entry count\","
    "\"field-id\":506},"
    "{\"name\":\"added_rows_count\",\"type\":\"long\",\"doc\":\"Added rows count\","
    "\"field-id\":512},"
    "{\"name\":\"existing_rows_count\",\"type\":\"long\",\"doc\":\"Existing rows count\","
    "\"field-id\":513},"
    "{\"name\":\"deleted_rows_count\",\"type\":\"long\",\"doc\":\"Deleted rows count\","
    "\"field-id\":514},"
    "{\"name\":\"partitions\",\"type\":[\"null\",{\"type\":\"array\",\"items\":{\"type\":"
    "\"record\",\"name\":\"r508\",\"fields\":["
    "{\"name\":\"contains_null\",\"type\":\"boolean\",\"doc\":\"True if any file has a null "
    "partition value\",\"field-id\":509},"
    "{\"name\":\"contains_nan\",\"type\":[\"null\",\"boolean\"],\"default\":null,\"doc\":\"True "
    "if any file has a nan partition value\",\"field-id\":518},"
    "{\"name\":\"lower_bound\",\"type\":[\"null\",\"bytes\"],\"default\":null,\"doc\":\"Partition "
    "lower bound for all files\",\"field-id\":510},"
    "{\"name\":\"upper_bound\",\"type\":[\"null\",\"bytes\"],\"default\":null,\"doc\":\"Partition "
    "upper bound for all files\",\"field-id\":511}]},\"element-id\":508}],\"default\":null,"
    "\"doc\":\"Summary for each partition\",\"field-id\":507},"
    "{\"name\":\"key_metadata\",\"type\":[\"null\",\"bytes\"],\"default\":null,\"doc\":"
    "\"Encryption key metadata blob\",\"field-id\":519}]}";

/* The partition spec as the manifest header's "partition-spec" JSON array. */
static char *spec_fields_json(const tarn_ice_spec *spec) {
  json_t *a = json_array();
  char tr[32], *text;
  size_t i;
  for (i = 0; a != NULL && i < spec->nfields; i++) {
    const tarn_ice_partition_field *pf = &spec->fields[i];
    tarn_ice_transform_format(&pf->transform, tr, sizeof(tr));
    if (json_array_append_new(a, json_pack("{s:s,s:s,s:I,s:I}", "name", pf->name, "transform", tr,
                                           "source-id", (json_int_t)pf->source_id, "field-id",
                                           (json_int_t)pf->field_id)) != 0) {
      json_decref(a);
      return NULL;
    }
  }
  text = a ? json_dumps(a, JSON_COMPACT) : NULL;
  json_decref(a);
  return text;
}

/* ---- partition values <-> Avro ---- */

/* The partition tuple's types, one per spec field. */
static int partition_types(const tarn_ice_schema *schema, const tarn_ice_spec *spec,
                           tarn_ice_type *types, tarn_error *err) {
  size_t i;
  for (i = 0; i < spec->nfields; i++) {
    const tarn_ice_field *src = tarn_ice_schema_field(schema, spec->fields[i].source_id);
    int rc;
    if (src == NULL)
      return tarn_error_set(err, TARN_EINVAL, "partition field %s: source column %d is missing",
                            spec->fields[i].name, (int)spec->fields[i].source_id);
    rc = tarn_ice_transform_result_type(&spec->fields[i].transform, &src->type, &types[i], err);
    if (rc != 0)
      return rc;
  }
  return 0;
}

static tarn_avro_value partition_value(tarn_avro_arena *a, const tarn_ice_type *t,
                                       const tarn_ice_value *v) {
  if (v->is_null)
    return tarn_avro_null();
  switch (t->id) {
  case TARN_ICE_BOOLEAN: return tarn_avro_bool(v->i64 != 0);
  case TARN_ICE_INT:
  case TARN_ICE_DATE: return tarn_avro_int((int32_t)v->i64);
  case TARN_ICE_LONG:
  case TARN_ICE_TIME:
  case TARN_ICE_TIMESTAMP:
  case TARN_ICE_TIMESTAMPTZ: return tarn_avro_long(v->i64);
  case TARN_ICE_FLOAT: return tarn_avro_float(v->f32);
  case TARN_ICE_DOUBLE: return tarn_avro_double(v->f64);
  case TARN_ICE_STRING: return tarn_avro_strn((const char *)v->bytes, v->len);
  case TARN_ICE_BINARY: return tarn_avro_bytes(v->bytes, v->len);
  case TARN_ICE_UUID:
  case TARN_ICE_FIXED: return tarn_avro_fixed(v->bytes, v->len);
  case TARN_ICE_DECIMAL: {
    /* fixed of the precision's size: sign-extend the big-endian unscaled value */
    size_t size = (size_t)tarn__ice_decimal_bytes(t->precision), i;
    uint8_t *b = tarn_avro_arena_alloc(a, size);
    tarn_buf tmp;
    if (b == NULL)
      return tarn_avro_fixed(NULL, 1); /* INVALID: the writer reports ENOMEM */
    tarn_buf_init(&tmp, 32);
    if (tarn_ice_value_serialize(t, v, &tmp, NULL) != 0 || tmp.len > size) {
      tarn_buf_free(&tmp);
      return tarn_avro_fixed(NULL, 1);
    }
    for (i = 0; i < size - tmp.len; i++)
      b[i] = (tmp.data[0] & 0x80) ? 0xff : 0x00;
    memcpy(b + size - tmp.len, tmp.data, tmp.len);
    tarn_buf_free(&tmp);
    return tarn_avro_fixed(b, size);
  }
  case TARN_ICE_STRUCT:
  case TARN_ICE_LIST:
  case TARN_ICE_MAP: return tarn_avro_fixed(NULL, 1); /* INVALID: never a partition source */
  }
  return tarn_avro_null();
}

/* ---- writing manifests ---- */

static tarn_avro_value long_map(tarn_avro_arena *a, const tarn_avro_node *df, const char *field,
                                const tarn_ice_data_file *f, int which) {
  const tarn_avro_field *fd = tarn_avro_node_field(df, field);
  const tarn_avro_node *arr = fd ? tarn_avro_node_nonnull(fd->type) : NULL;
  tarn_avro_value *items;
  size_t i, n = 0;
  if (arr == NULL)
    return tarn_avro_array(NULL, 1); /* INVALID */
  for (i = 0; i < f->nstats; i++) {
    const tarn_ice_column_stats *s = &f->stats[i];
    int64_t v = which == 0   ? s->column_size
                : which == 1 ? s->value_count
                : which == 2 ? s->null_count
                             : s->nan_count;
    n += v >= 0;
  }
  if (n == 0)
    return tarn_avro_null();
  items = tarn_avro_values_new(a, n);
  for (i = 0, n = 0; items != NULL && i < f->nstats; i++) {
    const tarn_ice_column_stats *s = &f->stats[i];
    int64_t v = which == 0   ? s->column_size
                : which == 1 ? s->value_count
                : which == 2 ? s->null_count
                             : s->nan_count;
    tarn_avro_value *kv;
    if (v < 0)
      continue;
    kv = tarn_avro_record_new(a, arr->items);
    tarn_avro_set(kv, "key", tarn_avro_int(s->field_id));
    tarn_avro_set(kv, "value", tarn_avro_long(v));
    items[n++] = tarn_avro_record(kv);
  }
  return tarn_avro_array(items, n);
}

static tarn_avro_value bound_map(tarn_avro_arena *a, const tarn_avro_node *df, const char *field,
                                 const tarn_ice_data_file *f, int upper) {
  const tarn_avro_field *fd = tarn_avro_node_field(df, field);
  const tarn_avro_node *arr = fd ? tarn_avro_node_nonnull(fd->type) : NULL;
  tarn_avro_value *items;
  size_t i, n = 0;
  if (arr == NULL)
    return tarn_avro_array(NULL, 1);
  for (i = 0; i < f->nstats; i++)
    n += upper ? f->stats[i].has_upper : f->stats[i].has_lower;
  if (n == 0)
    return tarn_avro_null();
  items = tarn_avro_values_new(a, n);
  for (i = 0, n = 0; items != NULL && i < f->nstats; i++) {
    const tarn_ice_column_stats *s = &f->stats[i];
    const tarn_buf *b = upper ? &s->upper : &s->lower;
    tarn_avro_value *kv;
    if (!(upper ? s->has_upper : s->has_lower))
      continue;
    kv = tarn_avro_record_new(a, arr->items);
    tarn_avro_set(kv, "key", tarn_avro_int(s->field_id));
    tarn_avro_set(kv, "value", tarn_avro_bytes(b->data ? b->data : "", b->len));
    items[n++] = tarn_avro_record(kv);
  }
  return tarn_avro_array(items, n);
}

/* Running partition summary of one spec field. */
typedef struct summary_acc {
  int any, contains_null, contains_nan;
  tarn_ice_value lo, hi;
  tarn_buf lo_buf, hi_buf; /* own the bytes of lo/hi */
} summary_acc;

static int acc_bound(summary_acc *s, const tarn_ice_type *t, const tarn_ice_value *v, int upper,
                     tarn_error *err) {
  tarn_ice_value *dst = upper ? &s->hi : &s->lo;
  tarn_buf *buf = upper ? &s->hi_buf : &s->lo_buf;
  int rc;
  *dst = *v;
  if (v->bytes != NULL) {
    tarn_buf_reset(buf);
    rc = tarn_buf_append(buf, v->bytes, v->len, err);
    if (rc != 0)
      return rc;
    dst->bytes = (const uint8_t *)buf->data;
  }
  return 0;
}

/*
 * Order of bounds: the type's order, except that -0.0 sorts before +0.0, as the spec
 * orders floats (a summary holding both zeros has lower -0.0 and upper +0.0, and a bound
 * must be the zero the data holds). Comparisons of values (filters, pruning) keep
 * IEEE equality of the zeros.
 */
static int bound_compare(const tarn_ice_type *t, const tarn_ice_value *a, const tarn_ice_value *b) {
  int c = tarn_ice_value_compare(t, a, b);
  if (c != 0)
    return c;
  if (t->id == TARN_ICE_FLOAT)
    return (signbit(b->f32) != 0) - (signbit(a->f32) != 0);
  if (t->id == TARN_ICE_DOUBLE)
    return (signbit(b->f64) != 0) - (signbit(a->f64) != 0);
  return 0;
}

static int acc_add(summary_acc *s, const tarn_ice_type *t, const tarn_ice_value *v,
                   tarn_error *err) {
  int rc = 0;
  if (v->is_null) {
    s->contains_null = 1;
    return 0;
  }
  if ((t->id == TARN_ICE_FLOAT && v->f32 != v->f32) ||
      (t->id == TARN_ICE_DOUBLE && v->f64 != v->f64)) {
    s->contains_nan = 1; /* never a bound */
    return 0;
  }
  if (!s->any || bound_compare(t, v, &s->lo) < 0)
    rc = acc_bound(s, t, v, 0, err);
  if (rc == 0 && (!s->any || bound_compare(t, v, &s->hi) > 0))
    rc = acc_bound(s, t, v, 1, err);
  s->any = 1;
  return rc;
}

/* The header metadata Iceberg readers expect: schema, spec, format version, content. */
static int set_header_meta(tarn_avro_writer *w, const tarn_ice_schema *schema,
                           const tarn_ice_spec *spec, const char *uri, tarn_error *err) {
  json_t *schema_json = tarn_ice_schema_to_json(schema);
  char *schema_text = schema_json ? json_dumps(schema_json, JSON_COMPACT) : NULL;
  char *spec_text = spec_fields_json(spec), num[32];
  int rc;
  if (schema_text == NULL || spec_text == NULL) {
    rc = tarn_error_set(err, TARN_ENOMEM, "out of memory writing manifest %s", uri);
    goto out;
  }
  rc = tarn_avro_writer_set_meta_str(w, "schema", schema_text, err);
  snprintf(num, sizeof(num), "%d", (int)schema->schema_id);
  if (rc == 0)
    rc = tarn_avro_writer_set_meta_str(w, "schema-id", num, err);
  if (rc == 0)
    rc = tarn_avro_writer_set_meta_str(w, "partition-spec", spec_text, err);
  snprintf(num, sizeof(num), "%d", (int)spec->spec_id);
  if (rc == 0)
    rc = tarn_avro_writer_set_meta_str(w, "partition-spec-id", num, err);
  if (rc == 0)
    rc = tarn_avro_writer_set_meta_str(w, "format-version", "2", err);
  if (rc == 0)
    rc = tarn_avro_writer_set_meta_str(w, "content", "data", err);
out:
  tarn_free(schema_text);
  tarn_free(spec_text);
  json_decref(schema_json);
  return rc;
}

/* The Avro nodes of a manifest entry, its data file and its partition. */
typedef struct entry_nodes {
  const tarn_avro_node *root, *dfn, *partn;
} entry_nodes;

/* One manifest entry as an Avro record (in the arena). */
static tarn_avro_value *entry_record(tarn_avro_arena *arena, const entry_nodes *nd,
                                     const tarn_ice_spec *spec, const tarn_ice_type *ptypes,
                                     const tarn_ice_manifest_entry *e) {
  const tarn_ice_data_file *f = &e->file;
  tarn_avro_value *rec = tarn_avro_record_new(arena, nd->root);
  tarn_avro_value *df = tarn_avro_record_new(arena, nd->dfn);
  tarn_avro_value *part = tarn_avro_record_new(arena, nd->partn), *offs;
  size_t j;
  tarn_avro_set(rec, "status", tarn_avro_int((int32_t)e->status));
  tarn_avro_set(rec, "snapshot_id",
                e->snapshot_id >= 0 ? tarn_avro_long(e->snapshot_id) : tarn_avro_null());
  tarn_avro_set(rec, "sequence_number",
                e->sequence_number >= 0 ? tarn_avro_long(e->sequence_number) : tarn_avro_null());
  tarn_avro_set(rec, "file_sequence_number",
                e->file_sequence_number >= 0 ? tarn_avro_long(e->file_sequence_number)
                                             : tarn_avro_null());
  tarn_avro_set(df, "content", tarn_avro_int((int32_t)f->content));
  tarn_avro_set(df, "file_path", tarn_avro_str(f->file_path));
  tarn_avro_set(df, "file_format", tarn_avro_str(f->file_format ? f->file_format : "PARQUET"));
  for (j = 0; j < spec->nfields; j++)
    tarn_avro_set_id(part, spec->fields[j].field_id,
                     partition_value(arena, &ptypes[j], &f->partition[j]));
  tarn_avro_set(df, "partition", tarn_avro_record(part));
  tarn_avro_set(df, "record_count", tarn_avro_long(f->record_count));
  tarn_avro_set(df, "file_size_in_bytes", tarn_avro_long(f->file_size));
  tarn_avro_set(df, "column_sizes", long_map(arena, nd->dfn, "column_sizes", f, 0));
  tarn_avro_set(df, "value_counts", long_map(arena, nd->dfn, "value_counts", f, 1));
  tarn_avro_set(df, "null_value_counts", long_map(arena, nd->dfn, "null_value_counts", f, 2));
  tarn_avro_set(df, "nan_value_counts", long_map(arena, nd->dfn, "nan_value_counts", f, 3));
  tarn_avro_set(df, "lower_bounds", bound_map(arena, nd->dfn, "lower_bounds", f, 0));
  tarn_avro_set(df, "upper_bounds", bound_map(arena, nd->dfn, "upper_bounds", f, 1));
  if (f->nsplits > 0) {
    offs = tarn_avro_values_new(arena, f->nsplits);
    for (j = 0; offs != NULL && j < f->nsplits; j++)
      offs[j] = tarn_avro_long(f->split_offsets[j]);
    tarn_avro_set(df, "split_offsets", tarn_avro_array(offs, f->nsplits));
  }
  if (f->sort_order_id >= 0)
    tarn_avro_set(df, "sort_order_id", tarn_avro_int(f->sort_order_id));
  tarn_avro_set(rec, "data_file", tarn_avro_record(df));
  return rec;
}

/* The manifest-list counts of one entry. */
static void count_entry(tarn_ice_manifest_file *mf, const tarn_ice_manifest_entry *e) {
  switch (e->status) {
  case TARN_ICE_ADDED:
    mf->added_files_count++;
    mf->added_rows_count += e->file.record_count;
    break;
  case TARN_ICE_EXISTING:
    mf->existing_files_count++;
    mf->existing_rows_count += e->file.record_count;
    break;
  case TARN_ICE_DELETED:
    mf->deleted_files_count++;
    mf->deleted_rows_count += e->file.record_count;
    break;
  }
}

/* The manifest file's per-partition-field summaries from the accumulators. */
static int partition_summaries(tarn_ice_manifest_file *mf, const tarn_ice_spec *spec,
                               const tarn_ice_type *ptypes, const summary_acc *acc, const char *uri,
                               tarn_error *err) {
  size_t j;
  int rc;
  mf->npartitions = 0;
  mf->partitions = tarn_calloc(spec->nfields ? spec->nfields : 1, sizeof(*mf->partitions));
  if (mf->partitions == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory writing manifest %s", uri);
  for (j = 0; j < spec->nfields; j++) {
    tarn_ice_field_summary *fs = &mf->partitions[j];
    tarn_buf_init(&fs->lower, TARN_BUF_UNLIMITED);
    tarn_buf_init(&fs->upper, TARN_BUF_UNLIMITED);
    mf->npartitions = j + 1;
    fs->contains_null = acc[j].contains_null;
    fs->contains_nan = (ptypes[j].id == TARN_ICE_FLOAT || ptypes[j].id == TARN_ICE_DOUBLE)
                           ? acc[j].contains_nan
                           : -1;
    if (acc[j].any) {
      fs->has_lower = fs->has_upper = 1;
      rc = tarn_ice_value_serialize(&ptypes[j], &acc[j].lo, &fs->lower, err);
      if (rc == 0)
        rc = tarn_ice_value_serialize(&ptypes[j], &acc[j].hi, &fs->upper, err);
      if (rc != 0)
        return rc;
    }
  }
  return 0;
}

int tarn_ice_manifest_write(const tarn_table_io *io, const char *uri, const tarn_ice_schema *schema,
                            const tarn_ice_spec *spec, int64_t snapshot_id,
                            const tarn_ice_manifest_entry *entries, size_t n,
                            tarn_ice_manifest_file *mf, tarn_error *err) {
  tarn_buf sj;
  tarn_avro_schema *as = NULL;
  tarn_avro_writer *w = NULL;
  tarn_avro_arena *arena = NULL;
  tarn_avro_writer_options wo;
  tarn_ice_type *ptypes = NULL;
  summary_acc *acc = NULL;
  entry_nodes nd;
  char key[TARN_STORE_KEY_MAX + 1];
  uint64_t length = 0;
  size_t i, j;
  int rc;

  memset(mf, 0, sizeof(*mf));
  tarn_buf_init(&sj, 1u << 20);
  rc = tarn_table_io_key(io, uri, key, sizeof(key), err);
  if (rc != 0)
    goto out;
  ptypes = tarn_calloc(spec->nfields ? spec->nfields : 1, sizeof(*ptypes));
  acc = tarn_calloc(spec->nfields ? spec->nfields : 1, sizeof(*acc));
  if (ptypes == NULL || acc == NULL) {
    rc = tarn_error_set(err, TARN_ENOMEM, "out of memory writing manifest %s", uri);
    goto out;
  }
  for (j = 0; j < spec->nfields; j++) {
    tarn_buf_init(&acc[j].lo_buf, TARN_BUF_UNLIMITED);
    tarn_buf_init(&acc[j].hi_buf, TARN_BUF_UNLIMITED);
  }
  rc = partition_types(schema, spec, ptypes, err);
  if (rc == 0)
    rc = manifest_schema_json(schema, spec, &sj, err);
  if (rc == 0)
    rc = tarn_avro_schema_parse(sj.data, sj.len, &as, err);
  if (rc != 0)
    goto out;
  nd.root = tarn_avro_schema_root(as);
  nd.dfn = tarn_avro_node_field(nd.root, "data_file")->type;
  nd.partn = tarn_avro_node_field(nd.dfn, "partition")->type;
  memset(&wo, 0, sizeof(wo));
  wo.codec = TARN_AVRO_CODEC_DEFLATE;
  rc = tarn_avro_writer_open_store(as, &wo, io->store, key, TARN_STORE_IF_ABSENT, &w, err);
  if (rc == 0)
    rc = set_header_meta(w, schema, spec, uri, err);
  if (rc == 0)
    rc = tarn_avro_arena_create(0, &arena, err);
  if (rc != 0)
    goto out;

  mf->partition_spec_id = spec->spec_id;
  mf->content = TARN_ICE_CONTENT_DATA;
  mf->added_snapshot_id = snapshot_id;
  mf->sequence_number = -1;
  mf->min_sequence_number = -1;
  for (i = 0; i < n; i++) {
    const tarn_ice_data_file *f = &entries[i].file;
    if (f->npartition != spec->nfields) {
      rc = tarn_error_set(err, TARN_EINVAL,
                          "data file %s has %zu partition values, spec %d has "
                          "%zu fields",
                          f->file_path, f->npartition, (int)spec->spec_id, spec->nfields);
      goto out;
    }
    /* every entry, deleted ones too, as Java's ManifestWriter summarises them */
    for (j = 0; j < spec->nfields; j++) {
      rc = acc_add(&acc[j], &ptypes[j], &f->partition[j], err);
      if (rc != 0)
        goto out;
    }
    tarn_avro_arena_reset(arena);
    rc = tarn_avro_writer_append(w, entry_record(arena, &nd, spec, ptypes, &entries[i]), err);
    if (rc != 0) {
      tarn_error_prefix(err, "manifest %s entry %zu", uri, i);
      goto out;
    }
    count_entry(mf, &entries[i]);
  }
  rc = tarn_avro_writer_close(w, &length, err);
  w = NULL;
  if (rc != 0)
    goto out;
  mf->manifest_length = (int64_t)length;
  mf->manifest_path = tarn_strdup(uri);
  if (mf->manifest_path == NULL) {
    rc = tarn_error_set(err, TARN_ENOMEM, "out of memory writing manifest %s", uri);
    goto out;
  }
  rc = partition_summaries(mf, spec, ptypes, acc, uri, err);
out:
  if (rc != 0)
    tarn_ice_manifest_file_free(mf);
  tarn_avro_writer_abort(w);
  tarn_avro_arena_destroy(arena);
  tarn_avro_schema_destroy(as);
  for (j = 0; acc != NULL && j < spec->nfields; j++) {
    tarn_buf_free(&acc[j].lo_buf);
    tarn_buf_free(&acc[j].hi_buf);
  }
  tarn_free(acc);
  tarn_free(ptypes);
  tarn_buf_free(&sj);
  return rc;
}

/* ---- reading manifests ---- */

void tarn_ice_manifest_entries_free(tarn_ice_manifest_entry *e, size_t n) {
  size_t i;
  for (i = 0; e != NULL && i < n; i++)
    tarn_ice_data_file_free(&e[i].file);
  tarn_free(e);
}

static int64_t opt_long(const tarn_avro_value *v) {
  if (v == NULL || tarn_avro_is_null(v))
    return -1;
  return v->type == TARN_AVRO_INT ? v->u.i : v->u.l;
}

/* Finds or adds the stats entry of field_id in f. */
static tarn_ice_column_stats *stats_for(tarn_ice_data_file *f, int32_t field_id, size_t cap) {
  size_t i;
  for (i = 0; i < f->nstats; i++)
    if (f->stats[i].field_id == field_id)
      return &f->stats[i];
  if (f->nstats == cap)
    return NULL;
  f->stats[f->nstats].field_id = field_id;
  f->stats[f->nstats].column_size = -1;
  f->stats[f->nstats].value_count = -1;
  f->stats[f->nstats].null_count = -1;
  f->stats[f->nstats].nan_count = -1;
  tarn_buf_init(&f->stats[f->nstats].lower, TARN_BUF_UNLIMITED);
  tarn_buf_init(&f->stats[f->nstats].upper, TARN_BUF_UNLIMITED);
  return &f->stats[f->nstats++];
}

static size_t map_len(const tarn_avro_value *v) {
  return v != NULL && v->type == TARN_AVRO_ARRAY ? v->u.array.count : 0;
}

/* Reads one map-as-array (int -> long or int -> bytes) into f's stats. */
static int read_map(tarn_ice_data_file *f, const tarn_avro_value *m, int which, size_t cap,
                    tarn_error *err) {
  size_t i;
  for (i = 0; i < map_len(m); i++) {
    const tarn_avro_value *kv = &m->u.array.items[i];
    const tarn_avro_value *k = tarn_avro_get(kv, "key"), *v = tarn_avro_get(kv, "value");
    tarn_ice_column_stats *s;
    if (k == NULL || v == NULL || k->type != TARN_AVRO_INT)
      return tarn_error_set(err, TARN_ECORRUPT, "malformed metrics map in %s", f->file_path);
    s = stats_for(f, k->u.i, cap);
    if (s == NULL)
      return tarn_error_set(err, TARN_ECORRUPT, "too many metrics keys in %s", f->file_path);
    switch (which) {
    case 0: s->column_size = v->u.l; break;
    case 1: s->value_count = v->u.l; break;
    case 2: s->null_count = v->u.l; break;
    case 3: s->nan_count = v->u.l; break;
    case 4:
    case 5: {
      tarn_buf *b = which == 4 ? &s->lower : &s->upper;
      int rc;
      if (v->type != TARN_AVRO_BYTES)
        return tarn_error_set(err, TARN_ECORRUPT, "malformed bound in %s", f->file_path);
      tarn_buf_reset(b);
      rc = tarn_buf_append(b, v->u.bytes.p, v->u.bytes.len, err);
      if (rc != 0)
        return rc;
      if (which == 4)
        s->has_lower = 1;
      else
        s->has_upper = 1;
      break;
    }
    }
  }
  return 0;
}

/* Decodes a partition field's Avro value into the file's partition (bytes appended to
 * partition_buf; offsets fixed up by the caller). */
static int read_partition_value(const tarn_ice_type *t, const tarn_avro_value *v,
                                tarn_ice_value *out, size_t *off, tarn_buf *buf, tarn_error *err) {
  memset(out, 0, sizeof(*out));
  *off = (size_t)-1;
  if (v == NULL || tarn_avro_is_null(v)) {
    out->is_null = 1;
    return 0;
  }
  switch (v->type) {
  case TARN_AVRO_BOOLEAN: out->i64 = v->u.b; return 0;
  case TARN_AVRO_INT: out->i64 = v->u.i; return 0;
  case TARN_AVRO_LONG: out->i64 = v->u.l; return 0;
  case TARN_AVRO_FLOAT: out->f32 = v->u.f; return 0;
  case TARN_AVRO_DOUBLE: out->f64 = v->u.d; return 0;
  case TARN_AVRO_STRING:
  case TARN_AVRO_BYTES:
  case TARN_AVRO_FIXED: {
    const void *p = v->type == TARN_AVRO_STRING ? (const void *)v->u.str.p : v->u.bytes.p;
    size_t len = v->type == TARN_AVRO_STRING ? v->u.str.len : v->u.bytes.len;
    *off = buf->len;
    out->len = len;
    if (t->id == TARN_ICE_DECIMAL) {
      if (len == 0 || len > 16)
        return tarn_error_set(err, TARN_ECORRUPT, "decimal partition value of %zu bytes", len);
      out->wide = 1;
    }
    return tarn_buf_append(buf, p, len, err);
  }
  default:
    return tarn_error_set(err, TARN_ECORRUPT, "unexpected Avro %s in a partition tuple",
                          tarn_avro_type_name((tarn_avro_type)v->type));
  }
}

int tarn_ice_manifest_read(const tarn_table_io *io, const tarn_ice_manifest_file *mf,
                           const tarn_ice_schema *schema, const tarn_ice_spec *spec,
                           tarn_ice_manifest_entry **out, size_t *nout, tarn_error *err) {
  tarn_avro_reader *r = NULL;
  tarn_ice_manifest_entry *es = NULL;
  tarn_ice_type *ptypes = NULL;
  size_t *offs = NULL, n = 0, cap = 0, j;
  char key[TARN_STORE_KEY_MAX + 1];
  const tarn_avro_value *rec;
  int rc;
  *out = NULL;
  *nout = 0;
  rc = tarn_table_io_key(io, mf->manifest_path, key, sizeof(key), err);
  if (rc != 0)
    return rc;
  ptypes = tarn_calloc(spec->nfields ? spec->nfields : 1, sizeof(*ptypes));
  offs = tarn_calloc(spec->nfields ? spec->nfields : 1, sizeof(*offs));
  if (ptypes == NULL || offs == NULL) {
    rc = tarn_error_set(err, TARN_ENOMEM, "out of memory reading manifest %s", mf->manifest_path);
    goto out;
  }
  rc = partition_types(schema, spec, ptypes, err);
  if (rc == 0)
    rc = tarn_avro_reader_open_store(io->store, key, MANIFEST_MAX_BYTES, NULL, &r, err);
  if (rc != 0)
    goto out;
  for (;;) {
    tarn_ice_manifest_entry *e;
    tarn_ice_data_file *f;
    const tarn_avro_value *df, *part, *v;
    size_t ncols;
    rc = tarn_avro_reader_next(r, &rec, err);
    if (rc != 0 || rec == NULL)
      break;
    if (TARN_GROW(es, cap, n + 1, 64) != 0) {
      rc = tarn_error_set(err, TARN_ENOMEM, "out of memory reading manifest %s", mf->manifest_path);
      break;
    }
    e = &es[n];
    memset(e, 0, sizeof(*e));
    n++;
    f = &e->file;
    tarn_buf_init(&f->partition_buf, TARN_BUF_UNLIMITED);
    df = tarn_avro_get_id(rec, 2);
    v = tarn_avro_get_id(rec, 0);
    if (df == NULL || v == NULL || v->type != TARN_AVRO_INT) {
      rc = tarn_error_set(err, TARN_ECORRUPT, "manifest %s entry %zu has no status or data_file",
                          mf->manifest_path, n - 1);
      break;
    }
    e->status = (tarn_ice_entry_status)v->u.i;
    e->snapshot_id = opt_long(tarn_avro_get_id(rec, 1));
    e->sequence_number = opt_long(tarn_avro_get_id(rec, 3));
    e->file_sequence_number = opt_long(tarn_avro_get_id(rec, 4));
    /* inheritance (spec: "Sequence Number Inheritance") */
    if (e->snapshot_id < 0)
      e->snapshot_id = mf->added_snapshot_id;
    if (e->sequence_number < 0 && e->status == TARN_ICE_ADDED)
      e->sequence_number = mf->sequence_number;
    if (e->file_sequence_number < 0 && e->status == TARN_ICE_ADDED)
      e->file_sequence_number = mf->sequence_number;
    v = tarn_avro_get_id(df, 134);
    f->content = v && v->type == TARN_AVRO_INT ? (tarn_ice_content)v->u.i : TARN_ICE_CONTENT_DATA;
    v = tarn_avro_get_id(df, 100);
    f->file_path = v && v->type == TARN_AVRO_STRING ? tarn_strdup(v->u.str.p) : NULL;
    v = tarn_avro_get_id(df, 101);
    f->file_format = tarn_strdup(v && v->type == TARN_AVRO_STRING ? v->u.str.p : "PARQUET");
    f->spec_id = mf->partition_spec_id;
    f->sort_order_id = (int32_t)opt_long(tarn_avro_get_id(df, 140));
    f->record_count = opt_long(tarn_avro_get_id(df, 103));
    f->file_size = opt_long(tarn_avro_get_id(df, 104));
    if (f->file_path == NULL || f->file_format == NULL) {
      rc = tarn_error_set(err, TARN_ECORRUPT, "manifest %s entry %zu: bad file_path",
                          mf->manifest_path, n - 1);
      break;
    }
    /* partition tuple, matched to the spec by field id */
    part = tarn_avro_get_id(df, 102);
    f->npartition = spec->nfields;
    f->partition = tarn_calloc(spec->nfields ? spec->nfields : 1, sizeof(*f->partition));
    if (f->partition == NULL) {
      rc = tarn_error_set(err, TARN_ENOMEM, "out of memory reading manifest");
      break;
    }
    for (j = 0; j < spec->nfields && rc == 0; j++)
      rc = read_partition_value(&ptypes[j],
                                part ? tarn_avro_get_id(part, spec->fields[j].field_id) : NULL,
                                &f->partition[j], &offs[j], &f->partition_buf, err);
    if (rc != 0)
      break;
    for (j = 0; j < spec->nfields; j++)
      if (offs[j] != (size_t)-1)
        f->partition[j].bytes = (const uint8_t *)f->partition_buf.data + offs[j];
    /* metrics maps */
    ncols = map_len(tarn_avro_get_id(df, 108)) + map_len(tarn_avro_get_id(df, 109)) +
            map_len(tarn_avro_get_id(df, 110)) + map_len(tarn_avro_get_id(df, 137)) +
            map_len(tarn_avro_get_id(df, 125)) + map_len(tarn_avro_get_id(df, 128));
    if (ncols > 0) {
      f->stats = tarn_calloc(ncols, sizeof(*f->stats));
      if (f->stats == NULL) {
        rc = tarn_error_set(err, TARN_ENOMEM, "out of memory reading manifest");
        break;
      }
      rc = read_map(f, tarn_avro_get_id(df, 108), 0, ncols, err);
      if (rc == 0)
        rc = read_map(f, tarn_avro_get_id(df, 109), 1, ncols, err);
      if (rc == 0)
        rc = read_map(f, tarn_avro_get_id(df, 110), 2, ncols, err);
      if (rc == 0)
        rc = read_map(f, tarn_avro_get_id(df, 137), 3, ncols, err);
      if (rc == 0)
        rc = read_map(f, tarn_avro_get_id(df, 125), 4, ncols, err);
      if (rc == 0)
        rc = read_map(f, tarn_avro_get_id(df, 128), 5, ncols, err);
      if (rc != 0)
        break;
    }
    v = tarn_avro_get_id(df, 132);
    if (v != NULL && v->type == TARN_AVRO_ARRAY && v->u.array.count > 0) {
      f->split_offsets = tarn_calloc(v->u.array.count, sizeof(int64_t));
      if (f->split_offsets == NULL) {
        rc = tarn_error_set(err, TARN_ENOMEM, "out of memory reading manifest");
        break;
      }
      for (j = 0; j < v->u.array.count; j++)
        f->split_offsets[j] = v->u.array.items[j].u.l;
      f->nsplits = v->u.array.count;
    }
  }
out:
  tarn_avro_reader_destroy(r);
  tarn_free(ptypes);
  tarn_free(offs);
  if (rc != 0) {
    tarn_ice_manifest_entries_free(es, n);
    return rc;
  }
  *out = es;
  *nout = n;
  return 0;
}

/* ---- manifest lists ---- */

int tarn_ice_manifest_list_write(const tarn_table_io *io, const char *uri, int64_t snapshot_id,
                                 int64_t parent_id, int64_t sequence_number,
                                 const tarn_ice_manifest_file *mfs, size_t n, tarn_error *err) {
  tarn_avro_schema *as = NULL;
  tarn_avro_writer *w = NULL;
  tarn_avro_arena *arena = NULL;
  tarn_avro_writer_options wo;
  const tarn_avro_node *root, *parts_arr;
  char key[TARN_STORE_KEY_MAX + 1], num[32];
  size_t i, j;
  int rc;
  rc = tarn_table_io_key(io, uri, key, sizeof(key), err);
  if (rc == 0)
    rc = tarn_avro_schema_parse(manifest_list_schema, sizeof(manifest_list_schema) - 1, &as, err);
  if (rc != 0)
    goto out;
  root = tarn_avro_schema_root(as);
  parts_arr = tarn_avro_node_nonnull(tarn_avro_node_field(root, "partitions")->type);
  memset(&wo, 0, sizeof(wo));
  wo.codec = TARN_AVRO_CODEC_DEFLATE;
  rc = tarn_avro_writer_open_store(as, &wo, io->store, key, TARN_STORE_IF_ABSENT, &w, err);
  snprintf(num, sizeof(num), "%lld", (long long)snapshot_id);
  if (rc == 0)
    rc = tarn_avro_writer_set_meta_str(w, "snapshot-id", num, err);
  if (parent_id >= 0)
    snprintf(num, sizeof(num), "%lld", (long long)parent_id);
  else
    snprintf(num, sizeof(num), "null");
  if (rc == 0)
    rc = tarn_avro_writer_set_meta_str(w, "parent-snapshot-id", num, err);
  snprintf(num, sizeof(num), "%lld", (long long)sequence_number);
  if (rc == 0)
    rc = tarn_avro_writer_set_meta_str(w, "sequence-number", num, err);
  if (rc == 0)
    rc = tarn_avro_writer_set_meta_str(w, "format-version", "2", err);
  if (rc == 0)
    rc = tarn_avro_arena_create(0, &arena, err);
  for (i = 0; rc == 0 && i < n; i++) {
    const tarn_ice_manifest_file *m = &mfs[i];
    tarn_avro_value *rec, *items;
    tarn_avro_arena_reset(arena);
    rec = tarn_avro_record_new(arena, root);
    tarn_avro_set(rec, "manifest_path", tarn_avro_str(m->manifest_path));
    tarn_avro_set(rec, "manifest_length", tarn_avro_long(m->manifest_length));
    tarn_avro_set(rec, "partition_spec_id", tarn_avro_int(m->partition_spec_id));
    tarn_avro_set(rec, "content", tarn_avro_int(m->content == TARN_ICE_CONTENT_DATA ? 0 : 1));
    tarn_avro_set(rec, "sequence_number", tarn_avro_long(m->sequence_number));
    tarn_avro_set(rec, "min_sequence_number", tarn_avro_long(m->min_sequence_number));
    tarn_avro_set(rec, "added_snapshot_id", tarn_avro_long(m->added_snapshot_id));
    tarn_avro_set(rec, "added_files_count", tarn_avro_int(m->added_files_count));
    tarn_avro_set(rec, "existing_files_count", tarn_avro_int(m->existing_files_count));
    tarn_avro_set(rec, "deleted_files_count", tarn_avro_int(m->deleted_files_count));
    tarn_avro_set(rec, "added_rows_count", tarn_avro_long(m->added_rows_count));
    tarn_avro_set(rec, "existing_rows_count", tarn_avro_long(m->existing_rows_count));
    tarn_avro_set(rec, "deleted_rows_count", tarn_avro_long(m->deleted_rows_count));
    items = m->npartitions ? tarn_avro_values_new(arena, m->npartitions) : NULL;
    for (j = 0; items != NULL && j < m->npartitions; j++) {
      const tarn_ice_field_summary *fs = &m->partitions[j];
      tarn_avro_value *s = tarn_avro_record_new(arena, parts_arr->items);
      tarn_avro_set(s, "contains_null", tarn_avro_bool(fs->contains_null));
      if (fs->contains_nan >= 0)
        tarn_avro_set(s, "contains_nan", tarn_avro_bool(fs->contains_nan));
      if (fs->has_lower)
        tarn_avro_set(s, "lower_bound",
                      tarn_avro_bytes(fs->lower.data ? fs->lower.data : "", fs->lower.len));
      if (fs->has_upper)
        tarn_avro_set(s, "upper_bound",
                      tarn_avro_bytes(fs->upper.data ? fs->upper.data : "", fs->upper.len));
      items[j] = tarn_avro_record(s);
    }
    tarn_avro_set(rec, "partitions", tarn_avro_array(items, m->npartitions));
    rc = tarn_avro_writer_append(w, rec, err);
  }
  if (rc == 0) {
    rc = tarn_avro_writer_close(w, NULL, err);
    w = NULL;
  }
out:
  tarn_avro_writer_abort(w);
  tarn_avro_arena_destroy(arena);
  tarn_avro_schema_destroy(as);
  return rc;
}

void tarn_ice_manifest_files_free(tarn_ice_manifest_file *m, size_t n) {
  size_t i;
  for (i = 0; m != NULL && i < n; i++)
    tarn_ice_manifest_file_free(&m[i]);
  tarn_free(m);
}

static const tarn_avro_value *get2(const tarn_avro_value *rec, int32_t id) {
  return tarn_avro_get_id(rec, id);
}

int tarn_ice_manifest_list_read(const tarn_table_io *io, const char *uri,
                                tarn_ice_manifest_file **out, size_t *nout, tarn_error *err) {
  tarn_avro_reader *r = NULL;
  tarn_ice_manifest_file *ms = NULL;
  size_t n = 0, cap = 0, j;
  char key[TARN_STORE_KEY_MAX + 1];
  const tarn_avro_value *rec, *v;
  int rc;
  *out = NULL;
  *nout = 0;
  rc = tarn_table_io_key(io, uri, key, sizeof(key), err);
  if (rc == 0)
    rc = tarn_avro_reader_open_store(io->store, key, MANIFEST_MAX_BYTES, NULL, &r, err);
  while (rc == 0) {
    tarn_ice_manifest_file *m;
    rc = tarn_avro_reader_next(r, &rec, err);
    if (rc != 0 || rec == NULL)
      break;
    if (TARN_GROW(ms, cap, n + 1, 16) != 0) {
      rc = tarn_error_set(err, TARN_ENOMEM, "out of memory reading manifest list %s", uri);
      break;
    }
    m = &ms[n++];
    memset(m, 0, sizeof(*m));
    v = get2(rec, 500);
    m->manifest_path = v && v->type == TARN_AVRO_STRING ? tarn_strdup(v->u.str.p) : NULL;
    if (m->manifest_path == NULL) {
      rc = tarn_error_set(err, TARN_ECORRUPT, "manifest list %s entry %zu: bad manifest_path", uri,
                          n - 1);
      break;
    }
    m->manifest_length = opt_long(get2(rec, 501));
    m->partition_spec_id = (int32_t)opt_long(get2(rec, 502));
    v = get2(rec, 517);
    m->content = v && v->type == TARN_AVRO_INT && v->u.i != 0 ? TARN_ICE_CONTENT_POSITION_DELETES
                                                              : TARN_ICE_CONTENT_DATA;
    m->sequence_number = opt_long(get2(rec, 515));
    m->min_sequence_number = opt_long(get2(rec, 516));
    m->added_snapshot_id = opt_long(get2(rec, 503));
    m->added_files_count = (int32_t)opt_long(get2(rec, 504));
    m->existing_files_count = (int32_t)opt_long(get2(rec, 505));
    m->deleted_files_count = (int32_t)opt_long(get2(rec, 506));
    m->added_rows_count = opt_long(get2(rec, 512));
    m->existing_rows_count = opt_long(get2(rec, 513));
    m->deleted_rows_count = opt_long(get2(rec, 514));
    v = get2(rec, 507);
    if (v != NULL && v->type == TARN_AVRO_ARRAY && v->u.array.count > 0) {
      m->partitions = tarn_calloc(v->u.array.count, sizeof(*m->partitions));
      if (m->partitions == NULL) {
        rc = tarn_error_set(err, TARN_ENOMEM, "out of memory reading manifest list %s", uri);
        break;
      }
      for (j = 0; j < v->u.array.count && rc == 0; j++) {
        const tarn_avro_value *s = &v->u.array.items[j], *x;
        tarn_ice_field_summary *fs = &m->partitions[j];
        tarn_buf_init(&fs->lower, TARN_BUF_UNLIMITED);
        tarn_buf_init(&fs->upper, TARN_BUF_UNLIMITED);
        m->npartitions = j + 1;
        x = get2(s, 509);
        fs->contains_null = x && x->type == TARN_AVRO_BOOLEAN ? x->u.b : 1;
        x = get2(s, 518);
        fs->contains_nan = x && x->type == TARN_AVRO_BOOLEAN ? x->u.b : -1;
        x = get2(s, 510);
        if (x && x->type == TARN_AVRO_BYTES) {
          fs->has_lower = 1;
          rc = tarn_buf_append(&fs->lower, x->u.bytes.p, x->u.bytes.len, err);
        }
        x = get2(s, 511);
        if (rc == 0 && x && x->type == TARN_AVRO_BYTES) {
          fs->has_upper = 1;
          rc = tarn_buf_append(&fs->upper, x->u.bytes.p, x->u.bytes.len, err);
        }
      }
    }
  }
  tarn_avro_reader_destroy(r);
  if (rc != 0) {
    tarn_ice_manifest_files_free(ms, n);
    return rc;
  }
  *out = ms;
  *nout = n;
  return 0;
}
