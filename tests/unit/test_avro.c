/* test_avro.c - unit tests for tarn's Avro codec: varints, schemas, values, container files. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/error.h"
#include "store/store.h"
#include "table/avro.h"
#include "table/avro_int.h"

/* ---- schemas: Iceberg v2 manifest list and manifest entry, and one of every type ---- */

/* The manifest_file struct of an Iceberg v2 manifest list, as Iceberg writes it. */
/* Avro schemas written as JSON, one field a line: */
/* clang-format off */
static const char MANIFEST_LIST_SCHEMA[] =
    "{\"type\":\"record\",\"name\":\"manifest_file\",\"fields\":["
    "{\"name\":\"manifest_path\",\"type\":\"string\",\"doc\":\"Location URI with FS scheme\",\"field-id\":500},"
    "{\"name\":\"manifest_length\",\"type\":\"long\",\"doc\":\"Total file size in bytes\",\"field-id\":501},"
    "{\"name\":\"partition_spec_id\",\"type\":\"int\",\"doc\":\"Spec ID used to write\",\"field-id\":502},"
    "{\"name\":\"content\",\"type\":\"int\",\"doc\":\"Contents of the manifest: 0=data, 1=deletes\",\"field-id\":517},"
    "{\"name\":\"sequence_number\",\"type\":\"long\",\"doc\":\"Sequence number when the manifest was added\",\"field-id\":515},"
    "{\"name\":\"min_sequence_number\",\"type\":\"long\",\"doc\":\"Lowest sequence number in the manifest\",\"field-id\":516},"
    "{\"name\":\"added_snapshot_id\",\"type\":\"long\",\"doc\":\"Snapshot ID that added the manifest\",\"field-id\":503},"
    "{\"name\":\"added_files_count\",\"type\":\"int\",\"doc\":\"Added entry count\",\"field-id\":504},"
    "{\"name\":\"existing_files_count\",\"type\":\"int\",\"doc\":\"Existing entry count\",\"field-id\":505},"
    "{\"name\":\"deleted_files_count\",\"type\":\"int\",\"doc\":\"Deleted entry count\",\"field-id\":506},"
    "{\"name\":\"added_rows_count\",\"type\":\"long\",\"doc\":\"Added rows count\",\"field-id\":512},"
    "{\"name\":\"existing_rows_count\",\"type\":\"long\",\"doc\":\"Existing rows count\",\"field-id\":513},"
    "{\"name\":\"deleted_rows_count\",\"type\":\"long\",\"doc\":\"Deleted rows count\",\"field-id\":514},"
    "{\"name\":\"partitions\",\"type\":[\"null\",{\"type\":\"array\",\"items\":{\"type\":\"record\",\"name\":\"r508\",\"fields\":["
    "{\"name\":\"contains_null\",\"type\":\"boolean\",\"doc\":\"True if any file has a null partition value\",\"field-id\":509},"
    "{\"name\":\"contains_nan\",\"type\":[\"null\",\"boolean\"],\"doc\":\"True if any file has a nan partition value\",\"default\":null,\"field-id\":518},"
    "{\"name\":\"lower_bound\",\"type\":[\"null\",\"bytes\"],\"doc\":\"Partition lower bound for all files\",\"default\":null,\"field-id\":510},"
    "{\"name\":\"upper_bound\",\"type\":[\"null\",\"bytes\"],\"doc\":\"Partition upper bound for all files\",\"default\":null,\"field-id\":511}]},"
    "\"element-id\":508}],\"doc\":\"Summary for each partition\",\"default\":null,\"field-id\":507},"
    "{\"name\":\"key_metadata\",\"type\":[\"null\",\"bytes\"],\"doc\":\"Encryption key metadata blob\",\"default\":null,\"field-id\":519}]}";

#define KV_ARRAY(fname, rec, kid, vid, vtype, fid, doc)                                            \
  "{\"name\":\"" fname "\",\"type\":[\"null\",{\"type\":\"array\",\"items\":{\"type\":\"record\",\"name\":\"" rec \
  "\",\"fields\":[{\"name\":\"key\",\"type\":\"int\",\"field-id\":" kid "},{\"name\":\"value\",\"type\":\"" vtype \
  "\",\"field-id\":" vid "}]},\"logicalType\":\"map\"}],\"doc\":\"" doc "\",\"default\":null,\"field-id\":" fid "}"

/* The manifest_entry of an Iceberg v2 manifest for a table partitioned by day(ts) and
 * identity(category). Column stats maps are arrays of key/value records (logicalType
 * "map"), as Iceberg writes maps with non-string keys. */
static const char MANIFEST_ENTRY_SCHEMA[] =
    "{\"type\":\"record\",\"name\":\"manifest_entry\",\"fields\":["
    "{\"name\":\"status\",\"type\":\"int\",\"field-id\":0},"
    "{\"name\":\"snapshot_id\",\"type\":[\"null\",\"long\"],\"default\":null,\"field-id\":1},"
    "{\"name\":\"sequence_number\",\"type\":[\"null\",\"long\"],\"default\":null,\"field-id\":3},"
    "{\"name\":\"file_sequence_number\",\"type\":[\"null\",\"long\"],\"default\":null,\"field-id\":4},"
    "{\"name\":\"data_file\",\"type\":{\"type\":\"record\",\"name\":\"r2\",\"fields\":["
    "{\"name\":\"content\",\"type\":\"int\",\"doc\":\"Contents of the file: 0=data, 1=position deletes, 2=equality deletes\",\"field-id\":134},"
    "{\"name\":\"file_path\",\"type\":\"string\",\"doc\":\"Location URI with FS scheme\",\"field-id\":100},"
    "{\"name\":\"file_format\",\"type\":\"string\",\"doc\":\"File format name: avro, orc, or parquet\",\"field-id\":101},"
    "{\"name\":\"partition\",\"type\":{\"type\":\"record\",\"name\":\"r102\",\"fields\":["
    "{\"name\":\"ts_day\",\"type\":[\"null\",{\"type\":\"int\",\"logicalType\":\"date\"}],\"default\":null,\"field-id\":1000},"
    "{\"name\":\"category\",\"type\":[\"null\",\"string\"],\"default\":null,\"field-id\":1001}]},"
    "\"doc\":\"Partition data tuple, schema based on the partition spec\",\"field-id\":102},"
    "{\"name\":\"record_count\",\"type\":\"long\",\"doc\":\"Number of records in the file\",\"field-id\":103},"
    "{\"name\":\"file_size_in_bytes\",\"type\":\"long\",\"doc\":\"Total file size in bytes\",\"field-id\":104},"
    KV_ARRAY("column_sizes", "k117_v118", "117", "118", "long", "108", "Map of column id to total size on disk") ","
    KV_ARRAY("value_counts", "k119_v120", "119", "120", "long", "109", "Map of column id to total count, including null and NaN") ","
    KV_ARRAY("null_value_counts", "k121_v122", "121", "122", "long", "110", "Map of column id to null value count") ","
    KV_ARRAY("nan_value_counts", "k138_v139", "138", "139", "long", "137", "Map of column id to number of NaN values in the column") ","
    KV_ARRAY("lower_bounds", "k126_v127", "126", "127", "bytes", "125", "Map of column id to lower bound") ","
    KV_ARRAY("upper_bounds", "k129_v130", "129", "130", "bytes", "128", "Map of column id to upper bound") ","
    "{\"name\":\"key_metadata\",\"type\":[\"null\",\"bytes\"],\"doc\":\"Encryption key metadata blob\",\"default\":null,\"field-id\":131},"
    "{\"name\":\"split_offsets\",\"type\":[\"null\",{\"type\":\"array\",\"items\":\"long\",\"element-id\":133}],\"doc\":\"Splittable offsets\",\"default\":null,\"field-id\":132},"
    "{\"name\":\"equality_ids\",\"type\":[\"null\",{\"type\":\"array\",\"items\":\"int\",\"element-id\":136}],\"doc\":\"Equality comparison field IDs\",\"default\":null,\"field-id\":135},"
    "{\"name\":\"sort_order_id\",\"type\":[\"null\",\"int\"],\"doc\":\"Sort order ID\",\"default\":null,\"field-id\":140},"
    "{\"name\":\"referenced_data_file\",\"type\":[\"null\",\"string\"],\"doc\":\"Fully qualified location of a data file that all deletes reference\",\"default\":null,\"field-id\":143}"
    "]},\"field-id\":2}]}";

/* One field of every type; the same schema is in tests/e2e/avro_interop.mjs. */
static const char ALL_TYPES_SCHEMA[] =
    "{\"type\":\"record\",\"name\":\"all_types\",\"namespace\":\"tarn.test\",\"doc\":\"every Avro type\",\"fields\":["
    "{\"name\":\"n\",\"type\":\"null\",\"field-id\":1},"
    "{\"name\":\"b\",\"type\":\"boolean\",\"field-id\":2},"
    "{\"name\":\"i\",\"type\":\"int\",\"field-id\":3},"
    "{\"name\":\"l\",\"type\":\"long\",\"field-id\":4},"
    "{\"name\":\"f\",\"type\":\"float\",\"field-id\":5},"
    "{\"name\":\"d\",\"type\":\"double\",\"field-id\":6},"
    "{\"name\":\"by\",\"type\":\"bytes\",\"field-id\":7},"
    "{\"name\":\"s\",\"type\":\"string\",\"field-id\":8},"
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"Suit\",\"symbols\":[\"SPADES\",\"HEARTS\",\"DIAMONDS\",\"CLUBS\"]},\"field-id\":9},"
    "{\"name\":\"fx\",\"type\":{\"type\":\"fixed\",\"name\":\"md5\",\"size\":16},\"field-id\":10},"
    "{\"name\":\"arr\",\"type\":{\"type\":\"array\",\"items\":\"long\",\"element-id\":12},\"field-id\":11},"
    "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"int\",\"key-id\":14,\"value-id\":15},\"field-id\":13},"
    "{\"name\":\"u\",\"type\":[\"null\",\"string\",\"long\"],\"field-id\":16},"
    "{\"name\":\"nested\",\"type\":{\"type\":\"record\",\"name\":\"inner\",\"fields\":["
    "{\"name\":\"x\",\"type\":\"int\",\"field-id\":18},"
    "{\"name\":\"tags\",\"type\":{\"type\":\"array\",\"items\":\"string\",\"element-id\":20},\"field-id\":19}]},\"field-id\":17},"
    "{\"name\":\"opt_rec\",\"type\":[\"null\",\"inner\"],\"default\":null,\"field-id\":21},"
    "{\"name\":\"dec\",\"type\":{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":9,\"scale\":2},\"field-id\":22},"
    "{\"name\":\"uuid\",\"type\":{\"type\":\"string\",\"logicalType\":\"uuid\"},\"field-id\":23},"
    "{\"name\":\"ts\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"},\"field-id\":24},"
    "{\"name\":\"date\",\"type\":{\"type\":\"int\",\"logicalType\":\"date\"},\"field-id\":25},"
    "{\"name\":\"time\",\"type\":{\"type\":\"long\",\"logicalType\":\"time-micros\"},\"field-id\":26}]}";
/* clang-format on */

/* ---- helpers ---- */

static tarn_avro_schema *parse_ok(const char *json) {
  tarn_avro_schema *s = NULL;
  tarn_error err;
  int rc = tarn_avro_schema_parse(json, strlen(json), &s, &err);
  if (rc != 0)
    fail_msg("schema parse: %s", tarn_error_message(&err));
  return s;
}

static void expect_parse_error(const char *json, const char *needle) {
  tarn_avro_schema *s = NULL;
  tarn_error err;
  int rc = tarn_avro_schema_parse(json, strlen(json), &s, &err);
  if (rc == 0) {
    tarn_avro_schema_destroy(s);
    fail_msg("schema %s parsed, expected an error with '%s'", json, needle);
  }
  assert_int_equal(rc, TARN_EINVAL);
  if (strstr(err.detail, needle) == NULL)
    fail_msg("schema %s: error '%s' lacks '%s'", json, err.detail, needle);
}

static const tarn_avro_node *field_type(const tarn_avro_node *rec, const char *name) {
  const tarn_avro_field *f = tarn_avro_node_field(rec, name);
  assert_non_null(f);
  return f->type;
}

static uint8_t test_sync[16] = {0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

static void le64(uint8_t out[8], int64_t v) {
  int k;
  for (k = 0; k < 8; k++)
    out[k] = (uint8_t)((uint64_t)v >> (8 * k));
}

/* Map-as-array of Iceberg: key/value records under field `field` of data_file. */
static tarn_avro_value kv_array(tarn_avro_arena *a, const tarn_avro_node *df, const char *field,
                                size_t n, const int32_t *keys, const tarn_avro_value *vals) {
  const tarn_avro_node *arr = tarn_avro_node_nonnull(field_type(df, field));
  tarn_avro_value *items = tarn_avro_values_new(a, n);
  size_t k;
  for (k = 0; items != NULL && k < n; k++) {
    tarn_avro_value *kv = tarn_avro_record_new(a, arr->items);
    tarn_avro_set(kv, "key", tarn_avro_int(keys[k]));
    tarn_avro_set(kv, "value", vals[k]);
    items[k] = tarn_avro_record(kv);
  }
  return tarn_avro_array(items, n);
}

#define SNAP_ID INT64_C(3051729675574597004)
static const char *const CATS[3] = {"cat-0", "cat-1", "κατηγορία-é"};
static const char *const SUITS[4] = {"SPADES", "HEARTS", "DIAMONDS", "CLUBS"};

/* Manifest entry i, built the way the Iceberg writer will: record_new + set, optional
 * fields left unset (their default null is written). The same formulas are in
 * tests/e2e/avro_interop.mjs. */
static tarn_avro_value *build_entry(tarn_avro_arena *a, const tarn_avro_schema *s, int i,
                                    uint8_t *scratch /* 32 bytes */) {
  const tarn_avro_node *root = tarn_avro_schema_root(s);
  const tarn_avro_node *dfn = field_type(root, "data_file");
  tarn_avro_value *e = tarn_avro_record_new(a, root);
  tarn_avro_value *df = tarn_avro_record_new(a, dfn);
  tarn_avro_value *part = tarn_avro_record_new(a, field_type(dfn, "partition"));
  char *path = tarn_avro_arena_alloc(a, 64);
  int32_t keys[2] = {1, 2};
  tarn_avro_value vals[2];
  tarn_avro_value *offs = tarn_avro_values_new(a, 2);

  tarn_avro_set(e, "status", tarn_avro_int(1));
  tarn_avro_set_id(e, 1, tarn_avro_long(SNAP_ID));
  if (i % 2)
    tarn_avro_set(e, "sequence_number", tarn_avro_long(i));
  /* file_sequence_number stays unset: null by default */

  tarn_avro_set_id(df, 134, tarn_avro_int(0));
  if (path != NULL)
    snprintf(path, 64, "s3://bucket/db/t/data/part-%d.parquet", i);
  tarn_avro_set(df, "file_path", tarn_avro_str(path));
  tarn_avro_set(df, "file_format", tarn_avro_str("PARQUET"));
  if (i % 10 != 9)
    tarn_avro_set(part, "ts_day", tarn_avro_int(19700 + i % 7));
  tarn_avro_set(part, "category", i % 5 == 4 ? tarn_avro_null() : tarn_avro_str(CATS[i % 3]));
  tarn_avro_set(df, "partition", tarn_avro_record(part));
  tarn_avro_set(df, "record_count", tarn_avro_long(1000 + i));
  tarn_avro_set(df, "file_size_in_bytes", tarn_avro_long(4096 + (int64_t)i * 17));
  vals[0] = tarn_avro_long(100 + i);
  vals[1] = tarn_avro_long(200 + i);
  tarn_avro_set(df, "column_sizes", kv_array(a, dfn, "column_sizes", 2, keys, vals));
  vals[0] = vals[1] = tarn_avro_long(1000 + i);
  tarn_avro_set(df, "value_counts", kv_array(a, dfn, "value_counts", 2, keys, vals));
  vals[0] = tarn_avro_long(0);
  vals[1] = tarn_avro_long(i % 4);
  tarn_avro_set(df, "null_value_counts", kv_array(a, dfn, "null_value_counts", 2, keys, vals));
  le64(scratch, i);
  le64(scratch + 8, i + 1000);
  vals[0] = tarn_avro_bytes(scratch, 8);
  vals[1] = tarn_avro_bytes("a", 1);
  tarn_avro_set(df, "lower_bounds", kv_array(a, dfn, "lower_bounds", 2, keys, vals));
  vals[0] = tarn_avro_bytes(scratch + 8, 8);
  vals[1] = tarn_avro_bytes("z\xff", 2);
  tarn_avro_set(df, "upper_bounds", kv_array(a, dfn, "upper_bounds", 2, keys, vals));
  if (offs != NULL) {
    offs[0] = tarn_avro_long(4);
    offs[1] = tarn_avro_long(4 + (int64_t)i * 10);
  }
  tarn_avro_set(df, "split_offsets", tarn_avro_array(offs, 2));
  tarn_avro_set(df, "sort_order_id", tarn_avro_int(0));
  tarn_avro_set(e, "data_file", tarn_avro_record(df));
  return e;
}

static const tarn_avro_value *getp(const tarn_avro_value *rec, const char *path) {
  char name[64];
  const char *dot;
  while ((dot = strchr(path, '.')) != NULL) {
    snprintf(name, sizeof(name), "%.*s", (int)(dot - path), path);
    rec = tarn_avro_get(rec, name);
    assert_non_null(rec);
    path = dot + 1;
  }
  rec = tarn_avro_get(rec, path);
  assert_non_null(rec);
  return rec;
}

/* Checks a decoded manifest entry against build_entry's formulas. */
static void check_entry(const tarn_avro_value *e, int i) {
  const tarn_avro_value *df = tarn_avro_get_id(e, 2), *v, *lb;
  char path[64];
  uint8_t le[8];
  assert_non_null(df);
  assert_int_equal(tarn_avro_get_id(e, 0)->u.i, 1);
  assert_true(tarn_avro_get(e, "snapshot_id")->u.l == SNAP_ID);
  v = tarn_avro_get(e, "sequence_number");
  if (i % 2) {
    assert_int_equal(v->type, TARN_AVRO_LONG);
    assert_int_equal(v->branch, 1);
    assert_int_equal(v->u.l, i);
  } else {
    assert_true(tarn_avro_is_null(v));
    assert_int_equal(v->branch, 0);
  }
  assert_true(tarn_avro_is_null(tarn_avro_get(e, "file_sequence_number")));
  snprintf(path, sizeof(path), "s3://bucket/db/t/data/part-%d.parquet", i);
  assert_string_equal(tarn_avro_get_id(df, 100)->u.str.p, path);
  assert_string_equal(getp(e, "data_file.file_format")->u.str.p, "PARQUET");
  v = getp(e, "data_file.partition.ts_day");
  if (i % 10 == 9)
    assert_int_equal(v->type, TARN_AVRO_NULL);
  else
    assert_int_equal(v->u.i, 19700 + i % 7);
  assert_string_equal(v->node->logical_type ? v->node->logical_type : "",
                      i % 10 == 9 ? "" : "date");
  v = getp(e, "data_file.partition.category");
  if (i % 5 == 4)
    assert_true(tarn_avro_is_null(v));
  else
    assert_string_equal(v->u.str.p, CATS[i % 3]);
  assert_int_equal(getp(e, "data_file.record_count")->u.l, 1000 + i);
  assert_int_equal(getp(e, "data_file.file_size_in_bytes")->u.l, 4096 + i * 17);
  v = tarn_avro_get_id(df, 108);
  assert_int_equal(v->type, TARN_AVRO_ARRAY);
  assert_int_equal(v->u.array.count, 2);
  assert_int_equal(tarn_avro_get_id(&v->u.array.items[1], 117)->u.i, 2);
  assert_int_equal(tarn_avro_get_id(&v->u.array.items[1], 118)->u.l, 200 + i);
  assert_true(tarn_avro_is_null(tarn_avro_get_id(df, 137)));
  lb = tarn_avro_get(df, "lower_bounds");
  le64(le, i);
  assert_int_equal(lb->u.array.items[0].u.record.fields[1].u.bytes.len, 8);
  assert_memory_equal(lb->u.array.items[0].u.record.fields[1].u.bytes.p, le, 8);
  v = tarn_avro_get(df, "upper_bounds");
  assert_memory_equal(v->u.array.items[1].u.record.fields[1].u.bytes.p, "z\xff", 2);
  v = tarn_avro_get(df, "split_offsets");
  assert_int_equal(v->u.array.count, 2);
  assert_int_equal(v->u.array.items[1].u.l, 4 + i * 10);
  assert_true(tarn_avro_is_null(tarn_avro_get(df, "equality_ids")));
  assert_int_equal(tarn_avro_get_id(df, 140)->u.i, 0);
  assert_true(tarn_avro_is_null(tarn_avro_get_id(df, 143)));
}

static void set_manifest_meta(tarn_avro_writer *w) {
  tarn_error err;
  assert_int_equal(
      tarn_avro_writer_set_meta_str(
          w, "schema",
          "{\"type\":\"struct\",\"schema-id\":0,\"fields\":[{\"id\":1,\"name\":\"ts\","
          "\"required\":false,\"type\":\"timestamptz\"},{\"id\":2,\"name\":\"category\","
          "\"required\":false,\"type\":\"string\"}]}",
          &err),
      0);
  assert_int_equal(tarn_avro_writer_set_meta_str(w, "schema-id", "0", &err), 0);
  assert_int_equal(
      tarn_avro_writer_set_meta_str(
          w, "partition-spec",
          "[{\"name\":\"ts_day\",\"transform\":\"day\",\"source-id\":1,\"field-id\":1000},"
          "{\"name\":\"category\",\"transform\":\"identity\",\"source-id\":2,\"field-id\":1001}]",
          &err),
      0);
  assert_int_equal(tarn_avro_writer_set_meta_str(w, "partition-spec-id", "0", &err), 0);
  assert_int_equal(tarn_avro_writer_set_meta_str(w, "format-version", "2", &err), 0);
  assert_int_equal(tarn_avro_writer_set_meta_str(w, "content", "data", &err), 0);
}

/* Writes n manifest entries to out with the given options. */
static void write_manifest(const tarn_avro_schema *s, const tarn_avro_writer_options *o, int n,
                           tarn_buf *out) {
  tarn_avro_writer *w = NULL;
  tarn_avro_arena *a = NULL;
  tarn_error err;
  uint8_t scratch[32];
  uint64_t size = 0;
  size_t start = out->len;
  int i;
  assert_int_equal(tarn_avro_arena_create(0, &a, &err), 0);
  assert_int_equal(tarn_avro_writer_open_buf(s, o, out, &w, &err), 0);
  set_manifest_meta(w);
  for (i = 0; i < n; i++) {
    tarn_avro_arena_reset(a);
    if (tarn_avro_writer_append(w, build_entry(a, s, i, scratch), &err) != 0)
      fail_msg("append %d: %s", i, tarn_error_message(&err));
  }
  assert_int_equal(tarn_avro_writer_count(w), (uint64_t)n);
  if (tarn_avro_writer_close(w, &size, &err) != 0)
    fail_msg("close: %s", tarn_error_message(&err));
  assert_int_equal(size, out->len - start);
  tarn_avro_arena_destroy(a);
}

/* Reads a manifest written by write_manifest and checks every entry; returns the count. */
static int read_manifest(const void *data, size_t len) {
  tarn_avro_reader *r = NULL;
  const tarn_avro_value *rec;
  tarn_error err;
  int n = 0;
  if (tarn_avro_reader_open_mem(data, len, NULL, &r, &err) != 0)
    fail_msg("open: %s", tarn_error_message(&err));
  assert_string_equal(tarn_avro_reader_meta_str(r, "format-version"), "2");
  assert_string_equal(tarn_avro_reader_meta_str(r, "content"), "data");
  for (;;) {
    if (tarn_avro_reader_next(r, &rec, &err) != 0)
      fail_msg("next: %s", tarn_error_message(&err));
    if (rec == NULL)
      break;
    check_entry(rec, n++);
  }
  tarn_avro_reader_destroy(r);
  return n;
}

/* Decodes every record of a file; returns 0 or the error code (for hostile inputs). */
static int read_everything(const void *data, size_t len, uint64_t *count, tarn_error *err) {
  tarn_avro_reader *r = NULL;
  const tarn_avro_value *rec;
  int rc = tarn_avro_reader_open_mem(data, len, NULL, &r, err);
  if (count)
    *count = 0;
  if (rc != 0)
    return rc;
  while ((rc = tarn_avro_reader_next(r, &rec, err)) == 0 && rec != NULL)
    if (count)
      (*count)++;
  tarn_avro_reader_destroy(r);
  return rc;
}

static size_t count_occurrences(const tarn_buf *b, const uint8_t *needle, size_t n) {
  size_t i, c = 0;
  for (i = 0; i + n <= b->len; i++)
    if (memcmp(b->data + i, needle, n) == 0)
      c++;
  return c;
}

/* ---- varints ---- */

static void test_varint_vectors(void **state) {
  static const struct {
    int64_t v;
    const char *hex;
  } vec[] = {
      {0, "00"},
      {-1, "01"},
      {1, "02"},
      {-2, "03"},
      {2, "04"},
      {-64, "7f"},
      {64, "8001"},
      {8191, "fe7f"},
      {-8193, "818001"},
      {INT32_MAX, "feffffff0f"},
      {INT32_MIN, "ffffffff0f"},
      {INT64_MAX, "feffffffffffffffff01"},
      {INT64_MIN, "ffffffffffffffffff01"},
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
    uint8_t out[10];
    char hex[32];
    int64_t back = 42;
    size_t n = tarn__avro_varint_put(out, vec[i].v), k;
    for (k = 0; k < n; k++)
      sprintf(hex + 2 * k, "%02x", out[k]);
    assert_string_equal(hex, vec[i].hex);
    assert_int_equal(tarn__avro_varint_get(out, n, &back), (int)n);
    assert_true(back == vec[i].v);
    /* every shorter prefix is truncated */
    for (k = 0; k < n; k++)
      assert_int_equal(tarn__avro_varint_get(out, k, &back), 0);
  }
  /* zigzag itself */
  assert_true(tarn__avro_zigzag(INT64_MIN) == UINT64_MAX);
  assert_true(tarn__avro_zigzag(INT64_MAX) == UINT64_MAX - 1);
  assert_true(tarn__avro_unzigzag(UINT64_MAX) == INT64_MIN);
  assert_true(tarn__avro_unzigzag(UINT64_MAX - 1) == INT64_MAX);
  {
    /* longer than 10 bytes, or bits past 64 */
    static const uint8_t too_long[11] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                         0x80, 0x80, 0x80, 0x80, 0};
    static const uint8_t overflow[10] = {0xff, 0xff, 0xff, 0xff, 0xff,
                                         0xff, 0xff, 0xff, 0xff, 0x02};
    int64_t v;
    assert_int_equal(tarn__avro_varint_get(too_long, sizeof(too_long), &v), -1);
    assert_int_equal(tarn__avro_varint_get(overflow, sizeof(overflow), &v), -1);
  }
  /* a sweep of values round trips */
  for (i = 0; i < 64; i++) {
    int64_t vals[4] = {(int64_t)(UINT64_C(1) << i), -(int64_t)(UINT64_C(1) << (i % 63)),
                       (int64_t)((UINT64_C(1) << i) - 1),
                       -(int64_t)((UINT64_C(1) << (i % 63)) + 1)};
    size_t k;
    for (k = 0; k < 4; k++) {
      uint8_t out[10];
      int64_t back;
      size_t n = tarn__avro_varint_put(out, vals[k]);
      assert_int_equal(tarn__avro_varint_get(out, n, &back), (int)n);
      assert_true(back == vals[k]);
    }
  }
}

static void test_utf8_check(void **state) {
  (void)state;
  assert_true(tarn__avro_utf8_ok((const uint8_t *)"", 0));
  assert_true(tarn__avro_utf8_ok((const uint8_t *)"héllo ✓ 𝄞", strlen("héllo ✓ 𝄞")));
  assert_true(tarn__avro_utf8_ok((const uint8_t *)"a\0b", 3));
  assert_false(tarn__avro_utf8_ok((const uint8_t *)"\xc0\x80", 2));         /* overlong */
  assert_false(tarn__avro_utf8_ok((const uint8_t *)"\xed\xa0\x80", 3));     /* surrogate */
  assert_false(tarn__avro_utf8_ok((const uint8_t *)"\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
  assert_false(tarn__avro_utf8_ok((const uint8_t *)"\xe2\x9c", 2));         /* truncated */
  assert_false(tarn__avro_utf8_ok((const uint8_t *)"\xff", 1));
}

/* ---- schemas ---- */

static void test_schema_manifest(void **state) {
  tarn_avro_schema *s = parse_ok(MANIFEST_ENTRY_SCHEMA);
  const tarn_avro_node *root = tarn_avro_schema_root(s), *df, *lb, *so, *part;
  const tarn_avro_field *f;
  size_t len;
  (void)state;
  assert_int_equal(root->type, TARN_AVRO_RECORD);
  assert_string_equal(root->fullname, "manifest_entry");
  assert_int_equal(root->nfields, 5);
  /* the text is kept verbatim for the header */
  assert_string_equal(tarn_avro_schema_text(s, &len), MANIFEST_ENTRY_SCHEMA);
  assert_int_equal(len, strlen(MANIFEST_ENTRY_SCHEMA));
  /* lookups by field-id, through the null union */
  f = tarn_avro_node_field_by_id(root, 2);
  assert_non_null(f);
  assert_string_equal(f->name, "data_file");
  df = f->type;
  assert_ptr_equal(tarn_avro_schema_named(s, "r2"), df);
  f = tarn_avro_node_field_by_id(df, 134);
  assert_string_equal(f->name, "content");
  assert_int_equal(f->index, 0);
  assert_string_equal(json_string_value(json_object_get(f->json, "doc")),
                      "Contents of the file: 0=data, 1=position deletes, 2=equality deletes");
  assert_null(tarn_avro_node_field_by_id(df, 9999));
  assert_null(tarn_avro_node_field(df, "nope"));
  f = tarn_avro_node_field(root, "snapshot_id");
  assert_int_equal(f->type->type, TARN_AVRO_UNION);
  assert_int_equal(f->type->null_branch, 0);
  assert_true(json_is_null(f->default_value));
  lb = tarn_avro_node_nonnull(field_type(df, "lower_bounds"));
  assert_int_equal(lb->type, TARN_AVRO_ARRAY);
  assert_string_equal(lb->logical_type, "map");
  assert_int_equal(lb->items->type, TARN_AVRO_RECORD);
  assert_int_equal(tarn_avro_node_field(lb->items, "key")->field_id, 126);
  assert_int_equal(tarn_avro_node_field_by_id(lb->items, 127)->type->type, TARN_AVRO_BYTES);
  so = tarn_avro_node_nonnull(field_type(df, "split_offsets"));
  assert_true(so->has_element_id);
  assert_int_equal(so->element_id, 133);
  part = field_type(df, "partition");
  assert_string_equal(tarn_avro_node_nonnull(field_type(part, "ts_day"))->logical_type, "date");
  assert_string_equal(json_string_value(tarn_avro_node_attr(
                          tarn_avro_node_nonnull(field_type(part, "ts_day")), "logicalType")),
                      "date");
  /* a field lookup looks through ["null", record] */
  assert_non_null(tarn_avro_node_field(field_type(root, "data_file"), "file_path"));
  tarn_avro_schema_destroy(s);
}

static void test_schema_all_types(void **state) {
  tarn_avro_schema *s = parse_ok(ALL_TYPES_SCHEMA);
  const tarn_avro_node *root = tarn_avro_schema_root(s), *n;
  (void)state;
  assert_string_equal(root->fullname, "tarn.test.all_types");
  assert_string_equal(root->name, "all_types");
  n = field_type(root, "e");
  assert_int_equal(n->type, TARN_AVRO_ENUM);
  assert_string_equal(n->fullname, "tarn.test.Suit");
  assert_int_equal(n->nsymbols, 4);
  assert_string_equal(n->symbols[3], "CLUBS");
  n = field_type(root, "fx");
  assert_int_equal(n->size, 16);
  assert_int_equal(n->min_bytes, 16);
  n = field_type(root, "m");
  assert_int_equal(n->type, TARN_AVRO_MAP);
  assert_true(n->has_key_id && n->has_value_id);
  assert_int_equal(n->key_id, 14);
  assert_int_equal(n->value_id, 15);
  assert_int_equal(n->items->type, TARN_AVRO_INT);
  n = field_type(root, "u");
  assert_int_equal(n->nbranches, 3);
  assert_ptr_equal(tarn_avro_node_nonnull(n), n); /* three branches: not an option */
  /* opt_rec references the named type "inner" (in the enclosing namespace) */
  n = field_type(root, "opt_rec");
  assert_ptr_equal(n->branches[1], field_type(root, "nested"));
  assert_ptr_equal(tarn_avro_schema_named(s, "tarn.test.inner"), n->branches[1]);
  n = field_type(root, "dec");
  assert_string_equal(n->logical_type, "decimal");
  assert_int_equal(n->precision, 9);
  assert_int_equal(n->scale, 2);
  assert_string_equal(field_type(root, "uuid")->logical_type, "uuid");
  assert_string_equal(field_type(root, "ts")->logical_type, "timestamp-micros");
  assert_int_equal(tarn_avro_node_field_by_id(root, 26)->type->type, TARN_AVRO_LONG);
  tarn_avro_schema_destroy(s);
}

static void test_schema_names(void **state) {
  tarn_avro_schema *s;
  (void)state;
  /* a dotted name is a full name; the namespace attribute is then ignored */
  s = parse_ok(
      "{\"type\":\"record\",\"name\":\"a.full.Name\",\"namespace\":\"ignored\",\"fields\":["
      "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"U\",\"symbols\":[\"d\"]}},"
      "{\"name\":\"x\",\"type\":{\"type\":\"fixed\",\"name\":\"S\",\"namespace\":\"other\","
      "\"size\":2}},"
      "{\"name\":\"y\",\"type\":\"a.full.U\"},{\"name\":\"z\",\"type\":\"other.S\"},"
      "{\"name\":\"w\",\"type\":{\"type\":\"U\"}}]}");
  assert_non_null(tarn_avro_schema_named(s, "a.full.U"));
  assert_non_null(tarn_avro_schema_named(s, "other.S"));
  assert_null(tarn_avro_schema_named(s, "ignored.Name"));
  assert_string_equal(tarn_avro_schema_root(s)->name, "Name");
  tarn_avro_schema_destroy(s);
  /* a recursive type: a linked list */
  s = parse_ok("{\"type\":\"record\",\"name\":\"LongList\",\"fields\":[{\"name\":\"value\","
               "\"type\":\"long\"},"
               "{\"name\":\"next\",\"type\":[\"null\",\"LongList\"]}]}");
  assert_ptr_equal(field_type(tarn_avro_schema_root(s), "next")->branches[1],
                   tarn_avro_schema_root(s));
  tarn_avro_schema_destroy(s);
  /* a record may be called "array" and share a union with an array */
  s = parse_ok("[{\"type\":\"record\",\"name\":\"array\",\"fields\":[]},{\"type\":\"array\","
               "\"items\":\"array\"}]");
  assert_int_equal(tarn_avro_schema_root(s)->nbranches, 2);
  tarn_avro_schema_destroy(s);
  /* a bare primitive and a primitive object are schemas too */
  s = parse_ok("\"long\"");
  assert_int_equal(tarn_avro_schema_root(s)->type, TARN_AVRO_LONG);
  tarn_avro_schema_destroy(s);
  s = parse_ok("{\"type\":\"string\",\"logicalType\":\"uuid\"}");
  assert_string_equal(tarn_avro_schema_root(s)->logical_type, "uuid");
  tarn_avro_schema_destroy(s);
}

static void test_schema_errors(void **state) {
  (void)state;
  expect_parse_error("{\"type\":\"record\"", "invalid JSON");
  expect_parse_error("42", "must be a string, an object or an array");
  expect_parse_error("\"Foo\"", "unknown type name 'Foo'");
  expect_parse_error("{\"type\":\"record\",\"name\":\"r\"}", "needs a \"fields\" array");
  expect_parse_error("{\"type\":\"record\",\"fields\":[]}", "needs a string \"name\"");
  expect_parse_error("{\"type\":\"record\",\"name\":\"1r\",\"fields\":[]}", "invalid name '1r'");
  expect_parse_error(
      "{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"},"
      "{\"name\":\"a\",\"type\":\"long\"}]}",
      "field 'a' appears twice");
  expect_parse_error(
      "{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":\"a-b\",\"type\":\"int\"}]}",
      "fields[0]");
  expect_parse_error("{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":\"a\"}]}",
                     "has no \"type\"");
  expect_parse_error(
      "{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":\"a\",\"type\":\"nope\"}]}",
      "fields[0].type: unknown type name 'nope'");
  expect_parse_error("[\"null\",\"int\",\"null\"]", "two branches of type 'null'");
  expect_parse_error("[\"null\",[\"int\"]]", "cannot hold a union directly");
  expect_parse_error("[]", "at least one type");
  expect_parse_error("{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"A\"]}",
                     "appears twice");
  expect_parse_error("{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"],\"default\":\"B\"}",
                     "not one of its symbols");
  expect_parse_error("{\"type\":\"fixed\",\"name\":\"F\"}", "\"size\"");
  expect_parse_error("{\"type\":\"fixed\",\"name\":\"F\",\"size\":-1}", "\"size\"");
  expect_parse_error("{\"type\":\"array\"}", "needs \"items\"");
  expect_parse_error("{\"type\":\"map\",\"values\":\"nope\"}", "values: unknown type name");
  expect_parse_error("{\"type\":\"record\",\"name\":\"int\",\"fields\":[]}",
                     "cannot be called 'int'");
  expect_parse_error("[{\"type\":\"fixed\",\"name\":\"F\",\"size\":1},{\"type\":\"fixed\",\"name\":"
                     "\"F\",\"size\":2}]",
                     "defined twice");
  expect_parse_error("{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":\"a\",\"type\":"
                     "\"int\",\"default\":\"x\"}]}",
                     "field 'a': bad default");
  expect_parse_error("{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":\"a\",\"type\":["
                     "\"null\",\"int\"],\"default\":3}]}",
                     "bad default");
  expect_parse_error("{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":\"a\",\"type\":{"
                     "\"type\":\"fixed\",\"name\":\"F\",\"size\":2},\"default\":\"abc\"}]}",
                     "fixed default has 3 bytes");
  expect_parse_error("{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":\"a\",\"type\":"
                     "\"bytes\",\"default\":\"\\u0100\"}]}",
                     "above U+00FF");
  expect_parse_error("{\"type\":\"record\",\"name\":\"r\",\"namespace\":\"a..b\",\"fields\":[]}",
                     "invalid namespace");
  expect_parse_error("{\"type\":\"record\",\"name\":\"r\",\"fields\":[],\"fields\":[]}",
                     "invalid JSON");
  {
    /* a raw NUL byte in the text (found by the fuzzer) */
    tarn_avro_schema *s = NULL;
    tarn_error err;
    assert_int_equal(tarn_avro_schema_parse("\"int\"\0 ", 7, &s, &err), TARN_EINVAL);
    assert_non_null(strstr(err.detail, "NUL byte"));
    assert_int_equal(
        tarn_avro_schema_parse("{\"type\":\"fixed\",\"name\":\"a\\u0000b\",\"size\":1}",
                               strlen("{\"type\":\"fixed\",\"name\":\"a\\u0000b\",\"size\":1}"), &s,
                               &err),
        TARN_EINVAL);
    assert_non_null(strstr(err.detail, "NUL character"));
  }
  {
    /* nesting deeper than the limit */
    char deep[4096];
    size_t len = 0;
    int i;
    for (i = 0; i < TARN_AVRO_MAX_DEPTH + 5; i++)
      len += (size_t)sprintf(deep + len, "{\"type\":\"array\",\"items\":");
    len += (size_t)sprintf(deep + len, "\"int\"");
    for (i = 0; i < TARN_AVRO_MAX_DEPTH + 5; i++)
      deep[len++] = '}';
    deep[len] = '\0';
    expect_parse_error(deep, "nested deeper than");
  }
}

static void test_schema_defaults_ok(void **state) {
  tarn_avro_schema *s;
  (void)state;
  s = parse_ok(
      "{\"type\":\"record\",\"name\":\"r\",\"fields\":["
      "{\"name\":\"a\",\"type\":\"int\",\"default\":7},"
      "{\"name\":\"b\",\"type\":\"bytes\",\"default\":\"\\u00ff\\u0000x\"},"
      "{\"name\":\"c\",\"type\":{\"type\":\"array\",\"items\":\"double\"},\"default\":[1,2.5]},"
      "{\"name\":\"d\",\"type\":{\"type\":\"map\",\"values\":\"string\"},\"default\":{\"k\":\"v\"}}"
      ","
      "{\"name\":\"e\",\"type\":{\"type\":\"record\",\"name\":\"in\",\"fields\":[{\"name\":\"x\","
      "\"type\":\"long\"},"
      "{\"name\":\"y\",\"type\":\"boolean\",\"default\":true}]},\"default\":{\"x\":5}},"
      "{\"name\":\"f\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"P\",\"Q\"]},"
      "\"default\":\"Q\"},"
      "{\"name\":\"g\",\"type\":[\"string\",\"null\"],\"default\":\"s\"},"
      "{\"name\":\"h\",\"type\":\"float\",\"default\":1}]}");
  tarn_avro_schema_destroy(s);
}

static void test_schema_to_json(void **state) {
  tarn_avro_schema *s = parse_ok(
      "{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":\"a\",\"type\":{\"type\":\"int\"},"
      "\"field-id\":1},"
      "{\"name\":\"b\",\"type\":[\"null\",{\"type\":\"long\"}],\"default\":null,\"field-id\":2},"
      "{\"name\":\"c\",\"type\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"element-id\":"
      "4},\"field-id\":3},"
      "{\"name\":\"d\",\"type\":{\"type\":\"int\",\"logicalType\":\"date\"},\"doc\":\"ü\",\"field-"
      "id\":5}]}");
  tarn_avro_schema *s2;
  tarn_buf out;
  tarn_error err;
  (void)state;
  tarn_buf_init(&out, 1 << 20);
  assert_int_equal(tarn_avro_schema_to_json(s, &out, &err), 0);
  assert_string_equal(
      out.data, "{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":\"a\",\"type\":\"int\","
                "\"field-id\":1},"
                "{\"name\":\"b\",\"type\":[\"null\",\"long\"],\"default\":null,\"field-id\":2},"
                "{\"name\":\"c\",\"type\":{\"type\":\"array\",\"items\":\"string\",\"element-id\":"
                "4},\"field-id\":3},"
                "{\"name\":\"d\",\"type\":{\"type\":\"int\",\"logicalType\":\"date\"},\"doc\":"
                "\"ü\",\"field-id\":5}]}");
  s2 = parse_ok(out.data);
  assert_int_equal(tarn_avro_node_field_by_id(tarn_avro_schema_root(s2), 5)->index, 3);
  tarn_avro_schema_destroy(s2);
  tarn_buf_free(&out);
  tarn_avro_schema_destroy(s);
}

/* ---- values and files ---- */

/* Record k of the all-types file (the same values are checked in the node script). */
static tarn_avro_value *build_all_types(tarn_avro_arena *a, const tarn_avro_schema *s, int k) {
  static const int32_t ints[5] = {INT32_MIN, INT32_MAX, 0, -1, 1};
  static const int64_t longs[5] = {INT64_MIN, INT64_MAX, 0, -1, (INT64_C(1) << 53) + 1};
  static const char *strs[5] = {"", "héllo wörld ✓ 𝄞", "a\0b", "plain", "\"quoted\\\""};
  static const size_t str_lens[5] = {0, sizeof("héllo wörld ✓ 𝄞") - 1, 3, 5,
                                     sizeof("\"quoted\\\"") - 1};
  const tarn_avro_node *root = tarn_avro_schema_root(s);
  tarn_avro_value *r = tarn_avro_record_new(a, root);
  tarn_avro_value *inner = tarn_avro_record_new(a, field_type(root, "nested"));
  tarn_avro_value *arr = tarn_avro_values_new(a, 3), *tags = tarn_avro_values_new(a, 2);
  tarn_avro_kv *kvs = tarn_avro_kvs_new(a, 2);
  uint8_t *fx = tarn_avro_arena_alloc(a, 16), *by = tarn_avro_arena_alloc(a, 4);
  int j;
  float fl[5] = {1.5f, -0.0f, 3.4e38f, 1e-45f, (float)NAN};
  double db[5] = {-2.25, INFINITY, 1e-300, -INFINITY, 0.1};
  assert_non_null(fx);
  for (j = 0; j < 16; j++)
    fx[j] = (uint8_t)(k * 16 + j);
  for (j = 0; j < 4; j++)
    by[j] = (uint8_t)(255 - k - j);
  tarn_avro_set(r, "n", tarn_avro_null());
  tarn_avro_set(r, "b", tarn_avro_bool(k % 2));
  tarn_avro_set(r, "i", tarn_avro_int(ints[k]));
  tarn_avro_set(r, "l", tarn_avro_long(longs[k]));
  tarn_avro_set(r, "f", tarn_avro_float(fl[k]));
  tarn_avro_set(r, "d", tarn_avro_double(db[k]));
  tarn_avro_set(r, "by", tarn_avro_bytes(by, (size_t)k % 5));
  tarn_avro_set(r, "s", tarn_avro_strn(strs[k], str_lens[k]));
  tarn_avro_set(r, "e", tarn_avro_enum(k % 4));
  tarn_avro_set(r, "fx", tarn_avro_fixed(fx, 16));
  arr[0] = tarn_avro_long(k);
  arr[1] = tarn_avro_long(INT64_MIN + k);
  arr[2] = tarn_avro_long(INT64_MAX - k);
  tarn_avro_set(r, "arr", tarn_avro_array(arr, (size_t)(k == 2 ? 0 : 3)));
  kvs[0] = (tarn_avro_kv){"one", 3, tarn_avro_int(1 + k)};
  kvs[1] = (tarn_avro_kv){"zwei ü", strlen("zwei ü"), tarn_avro_int(-2 - k)};
  tarn_avro_set(r, "m", tarn_avro_map(kvs, (size_t)(k == 3 ? 0 : 2)));
  if (k % 3 == 0)
    tarn_avro_set(r, "u", tarn_avro_null());
  else if (k % 3 == 1)
    tarn_avro_set(r, "u", tarn_avro_str("union string"));
  else
    tarn_avro_set(r, "u", tarn_avro_long(-12345678901LL));
  tarn_avro_set(inner, "x", tarn_avro_int(k * 100));
  tags[0] = tarn_avro_str("t1");
  tags[1] = tarn_avro_str("t2");
  tarn_avro_set(inner, "tags", tarn_avro_array(tags, (size_t)k % 3));
  tarn_avro_set(r, "nested", tarn_avro_record(inner));
  tarn_avro_set(r, "opt_rec", k % 2 ? tarn_avro_record(inner) : tarn_avro_null());
  tarn_avro_set(r, "dec", tarn_avro_bytes("\x01\x02", 2)); /* 2.58 with scale 2 */
  tarn_avro_set(r, "uuid", tarn_avro_str("f79c3e09-677c-4d5c-a29d-2b1fae1e3a2a"));
  tarn_avro_set(r, "ts", tarn_avro_long(INT64_C(1700000000123456) + k));
  tarn_avro_set(r, "date", tarn_avro_int(19723 + k));
  tarn_avro_set(r, "time", tarn_avro_long(INT64_C(86399999999) - k));
  return r;
}

static void roundtrip_all_types(tarn_avro_codec codec) {
  tarn_avro_schema *s = parse_ok(ALL_TYPES_SCHEMA);
  tarn_avro_writer_options o = {.codec = codec, .sync = test_sync};
  tarn_avro_writer *w;
  tarn_avro_reader *r;
  tarn_avro_arena *a, *keep;
  tarn_avro_value expect[5];
  const tarn_avro_value *rec;
  tarn_buf out;
  tarn_error err;
  int k;
  tarn_buf_init(&out, 1 << 20);
  assert_int_equal(tarn_avro_arena_create(0, &a, &err), 0);
  assert_int_equal(tarn_avro_arena_create(0, &keep, &err), 0);
  assert_int_equal(tarn_avro_writer_open_buf(s, &o, &out, &w, &err), 0);
  for (k = 0; k < 5; k++) {
    tarn_avro_value *v = build_all_types(keep, s, k);
    expect[k] = *v;
    if (tarn_avro_writer_append(w, v, &err) != 0)
      fail_msg("append %d: %s", k, tarn_error_message(&err));
  }
  assert_int_equal(tarn_avro_writer_close(w, NULL, &err), 0);
  assert_int_equal(tarn_avro_reader_open_mem(out.data, out.len, NULL, &r, &err), 0);
  assert_int_equal(tarn_avro_reader_codec(r), codec);
  assert_string_equal(tarn_avro_reader_meta_str(r, "avro.codec"), tarn_avro_codec_name(codec));
  for (k = 0; k < 5; k++) {
    const tarn_avro_value *v;
    assert_int_equal(tarn_avro_reader_next(r, &rec, &err), 0);
    assert_non_null(rec);
    if (!tarn__avro_value_equal(rec, &expect[k]))
      fail_msg("record %d differs after a round trip (codec %s)", k, tarn_avro_codec_name(codec));
    v = tarn_avro_get(rec, "s");
    assert_int_equal(v->u.str.p[v->u.str.len], '\0');
    v = tarn_avro_get(rec, "u");
    assert_int_equal(v->branch, (uint32_t)(k % 3 == 0 ? 0 : k % 3 == 1 ? 1 : 2));
    v = tarn_avro_get(rec, "e");
    assert_string_equal(v->node->symbols[v->u.i], SUITS[k % 4]);
    v = tarn_avro_get(rec, "m");
    if (k != 3)
      assert_string_equal(v->u.map.entries[1].key, "zwei ü");
    /* a deep copy survives the next call */
    if (k == 4) {
      tarn_avro_value copy;
      assert_int_equal(tarn_avro_value_copy(a, rec, &copy, &err), 0);
      assert_int_equal(tarn_avro_reader_next(r, &rec, &err), 0);
      assert_null(rec);
      assert_true(tarn__avro_value_equal(&copy, &expect[4]));
      assert_true(isnan(tarn_avro_get(&copy, "f")->u.f));
    }
  }
  assert_int_equal(tarn_avro_reader_count(r), 5);
  /* past the end stays at the end */
  assert_int_equal(tarn_avro_reader_next(r, &rec, &err), 0);
  assert_null(rec);
  tarn_avro_reader_destroy(r);
  tarn_avro_arena_destroy(a);
  tarn_avro_arena_destroy(keep);
  tarn_buf_free(&out);
  tarn_avro_schema_destroy(s);
}

static void test_roundtrip_null(void **state) {
  (void)state;
  roundtrip_all_types(TARN_AVRO_CODEC_NULL);
}
static void test_roundtrip_deflate(void **state) {
  (void)state;
  roundtrip_all_types(TARN_AVRO_CODEC_DEFLATE);
}
static void test_roundtrip_snappy(void **state) {
  (void)state;
  roundtrip_all_types(TARN_AVRO_CODEC_SNAPPY);
}
static void test_roundtrip_zstd(void **state) {
  (void)state;
  roundtrip_all_types(TARN_AVRO_CODEC_ZSTD);
}

static void test_manifest_multiblock(void **state) {
  tarn_avro_schema *s = parse_ok(MANIFEST_ENTRY_SCHEMA);
  tarn_avro_codec codecs[4] = {TARN_AVRO_CODEC_NULL, TARN_AVRO_CODEC_DEFLATE,
                               TARN_AVRO_CODEC_SNAPPY, TARN_AVRO_CODEC_ZSTD};
  int c;
  (void)state;
  for (c = 0; c < 4; c++) {
    tarn_avro_writer_options o = {.codec = codecs[c], .block_bytes = 2048, .sync = test_sync};
    tarn_buf out;
    tarn_buf_init(&out, 16 << 20);
    write_manifest(s, &o, 700, &out);
    /* the sync marker follows the header and every block: many blocks */
    assert_true(count_occurrences(&out, test_sync, 16) > 20);
    assert_int_equal(read_manifest(out.data, out.len), 700);
    tarn_buf_free(&out);
  }
  tarn_avro_schema_destroy(s);
}

static void test_header_metadata(void **state) {
  tarn_avro_schema *s = parse_ok(MANIFEST_LIST_SCHEMA);
  tarn_avro_writer *w;
  tarn_avro_reader *r;
  const uint8_t *val;
  const char *key;
  size_t len;
  tarn_buf out;
  tarn_error err;
  const tarn_avro_value *rec;
  (void)state;
  tarn_buf_init(&out, 1 << 20);
  assert_int_equal(tarn_avro_writer_open_buf(s, NULL, &out, &w, &err), 0);
  assert_int_equal(tarn_avro_writer_set_meta_str(w, "snapshot-id", "3051729675574597004", &err), 0);
  assert_int_equal(tarn_avro_writer_set_meta_str(w, "format-version", "1", &err), 0);
  assert_int_equal(tarn_avro_writer_set_meta_str(w, "format-version", "2", &err), 0); /* replaces */
  assert_int_equal(tarn_avro_writer_set_meta(w, "binary", "\0\1\2", 3, &err), 0);
  assert_int_equal(tarn_avro_writer_set_meta_str(w, "avro.codec", "x", &err), TARN_EINVAL);
  assert_non_null(strstr(err.detail, "reserved"));
  assert_int_equal(tarn_avro_writer_set_meta_str(w, "", "x", &err), TARN_EINVAL);
  /* zero records: a header-only file */
  assert_int_equal(tarn_avro_writer_close(w, NULL, &err), 0);
  assert_int_equal(tarn_avro_reader_open_mem(out.data, out.len, NULL, &r, &err), 0);
  assert_int_equal(tarn_avro_reader_meta_count(r), 5);
  tarn_avro_reader_meta_at(r, 0, &key, &val, &len);
  assert_string_equal(key, "avro.schema");
  assert_int_equal(len, strlen(MANIFEST_LIST_SCHEMA));
  assert_memory_equal(val, MANIFEST_LIST_SCHEMA, len);
  tarn_avro_reader_meta_at(r, 1, &key, &val, &len);
  assert_string_equal(key, "avro.codec");
  assert_string_equal((const char *)val, "null");
  tarn_avro_reader_meta_at(r, 2, &key, &val, &len);
  assert_string_equal(key, "snapshot-id");
  assert_string_equal(tarn_avro_reader_meta_str(r, "format-version"), "2");
  assert_int_equal(tarn_avro_reader_meta(r, "binary", &val, &len), 1);
  assert_int_equal(len, 3);
  assert_memory_equal(val, "\0\1\2", 3);
  assert_int_equal(tarn_avro_reader_meta(r, "missing", &val, &len), 0);
  assert_null(tarn_avro_reader_meta_str(r, "missing"));
  assert_int_equal(tarn_avro_reader_next(r, &rec, &err), 0);
  assert_null(rec);
  tarn_avro_reader_destroy(r);
  tarn_buf_free(&out);
  tarn_avro_schema_destroy(s);
}

static void test_meta_after_append(void **state) {
  tarn_avro_schema *s = parse_ok(
      "{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"}]}");
  tarn_avro_writer *w;
  tarn_avro_arena *a;
  tarn_avro_value *rec;
  tarn_buf out;
  tarn_error err;
  (void)state;
  tarn_buf_init(&out, 1 << 20);
  assert_int_equal(tarn_avro_arena_create(0, &a, &err), 0);
  rec = tarn_avro_record_new(a, tarn_avro_schema_root(s));
  tarn_avro_set(rec, "a", tarn_avro_int(1));
  assert_int_equal(tarn_avro_writer_open_buf(s, NULL, &out, &w, &err), 0);
  assert_int_equal(tarn_avro_writer_append(w, rec, &err), 0);
  assert_int_equal(tarn_avro_writer_set_meta_str(w, "late", "x", &err), TARN_EINVAL);
  assert_non_null(strstr(err.detail, "after the first record"));
  tarn_avro_writer_abort(w);
  assert_int_equal(out.len, 0);
  tarn_avro_arena_destroy(a);
  tarn_buf_free(&out);
  tarn_avro_schema_destroy(s);
}

static void test_unions(void **state) {
  tarn_avro_schema *s = parse_ok(
      "{\"type\":\"record\",\"name\":\"r\",\"fields\":["
      "{\"name\":\"u\",\"type\":[\"null\",\"int\",\"string\",{\"type\":\"record\",\"name\":\"A\","
      "\"fields\":[{\"name\":\"x\",\"type\":\"int\"}]},"
      "{\"type\":\"record\",\"name\":\"B\",\"fields\":[{\"name\":\"x\",\"type\":\"int\"}]},"
      "{\"type\":\"fixed\",\"name\":\"F2\",\"size\":2},{\"type\":\"fixed\",\"name\":\"F3\","
      "\"size\":3}]}]}");
  const tarn_avro_node *u = field_type(tarn_avro_schema_root(s), "u");
  tarn_avro_writer *w;
  tarn_avro_reader *r;
  tarn_avro_arena *a;
  tarn_avro_value *rec, *ra, *rb;
  const tarn_avro_value *got;
  tarn_buf out;
  tarn_error err;
  struct {
    tarn_avro_value v;
    uint32_t branch;
  } cases[8];
  size_t i;
  (void)state;
  tarn_buf_init(&out, 1 << 20);
  assert_int_equal(tarn_avro_arena_create(0, &a, &err), 0);
  ra = tarn_avro_record_new(a, u->branches[3]);
  rb = tarn_avro_record_new(a, u->branches[4]);
  tarn_avro_set(ra, "x", tarn_avro_int(1));
  tarn_avro_set(rb, "x", tarn_avro_int(2));
  cases[0].v = tarn_avro_null(), cases[0].branch = 0;
  cases[1].v = tarn_avro_int(5), cases[1].branch = 1;
  cases[2].v = tarn_avro_str("s"), cases[2].branch = 2;
  cases[3].v = tarn_avro_record(ra), cases[3].branch = 3;
  cases[4].v = tarn_avro_record(rb), cases[4].branch = 4; /* chosen by its node */
  cases[5].v = tarn_avro_fixed("ab", 2), cases[5].branch = 5;
  cases[6].v = tarn_avro_fixed("abc", 3), cases[6].branch = 6; /* chosen by size */
  cases[7].v = tarn_avro_branch(tarn_avro_int(9), 1), cases[7].branch = 1;
  assert_int_equal(tarn_avro_writer_open_buf(s, NULL, &out, &w, &err), 0);
  for (i = 0; i < 8; i++) {
    rec = tarn_avro_record_new(a, tarn_avro_schema_root(s));
    tarn_avro_set(rec, "u", cases[i].v);
    if (tarn_avro_writer_append(w, rec, &err) != 0)
      fail_msg("case %zu: %s", i, tarn_error_message(&err));
  }
  /* no branch takes a long; an explicit branch must exist and match */
  rec = tarn_avro_record_new(a, tarn_avro_schema_root(s));
  tarn_avro_set(rec, "u", tarn_avro_long(1));
  assert_int_equal(tarn_avro_writer_append(w, rec, &err), TARN_EINVAL);
  assert_string_equal(err.detail, "avro: u: no branch of the union takes type long");
  tarn_avro_set(rec, "u", tarn_avro_branch(tarn_avro_int(1), 9));
  assert_int_equal(tarn_avro_writer_append(w, rec, &err), TARN_EINVAL);
  assert_string_equal(err.detail, "avro: u: union branch 9 is out of range");
  tarn_avro_set(rec, "u", tarn_avro_branch(tarn_avro_int(1), 2));
  assert_int_equal(tarn_avro_writer_append(w, rec, &err), TARN_EINVAL);
  assert_string_equal(err.detail, "avro: u: expected string, got int");
  tarn_avro_set(rec, "u", tarn_avro_fixed("abcd", 4));
  assert_int_equal(tarn_avro_writer_append(w, rec, &err), TARN_EINVAL);
  assert_int_equal(tarn_avro_writer_close(w, NULL, &err), 0);
  assert_int_equal(tarn_avro_reader_open_mem(out.data, out.len, NULL, &r, &err), 0);
  for (i = 0; i < 8; i++) {
    assert_int_equal(tarn_avro_reader_next(r, &got, &err), 0);
    assert_non_null(got);
    got = tarn_avro_get(got, "u");
    assert_true(got->has_branch);
    assert_int_equal(got->branch, cases[i].branch);
    assert_int_equal(got->node->type, u->branches[cases[i].branch]->type);
    if (got->node->fullname != NULL)
      assert_string_equal(got->node->fullname, u->branches[cases[i].branch]->fullname);
    assert_true(tarn__avro_value_equal(got, &cases[i].v));
  }
  assert_int_equal(tarn_avro_reader_next(r, &got, &err), 0);
  assert_null(got);
  tarn_avro_reader_destroy(r);
  tarn_avro_arena_destroy(a);
  tarn_buf_free(&out);
  tarn_avro_schema_destroy(s);
}

static void test_nested_and_recursive(void **state) {
  tarn_avro_schema *s = parse_ok(
      "{\"type\":\"record\",\"name\":\"Node\",\"fields\":[{\"name\":\"v\",\"type\":\"long\"},"
      "{\"name\":\"kids\",\"type\":{\"type\":\"array\",\"items\":\"Node\"}},"
      "{\"name\":\"attrs\",\"type\":{\"type\":\"map\",\"values\":{\"type\":\"map\",\"values\":["
      "\"null\",{\"type\":\"array\",\"items\":\"bytes\"}]}}}]}");
  const tarn_avro_node *root = tarn_avro_schema_root(s);
  tarn_avro_writer *w;
  tarn_avro_arena *a;
  tarn_avro_value *top, *kids, *leaf, *bs;
  tarn_avro_kv *outer, *inner;
  tarn_buf out;
  tarn_error err;
  uint64_t count;
  int depth;
  (void)state;
  tarn_buf_init(&out, 1 << 20);
  assert_int_equal(tarn_avro_arena_create(0, &a, &err), 0);
  /* a chain Node -> kids[0] -> ... 20 deep, each with a map of maps of arrays */
  top = NULL;
  for (depth = 0; depth < 20; depth++) {
    tarn_avro_value *n = tarn_avro_record_new(a, root);
    tarn_avro_set(n, "v", tarn_avro_long(depth));
    kids = tarn_avro_values_new(a, top ? 1 : 0);
    if (top)
      kids[0] = tarn_avro_record(top);
    tarn_avro_set(n, "kids", tarn_avro_array(kids, top ? 1 : 0));
    bs = tarn_avro_values_new(a, 2);
    bs[0] = tarn_avro_bytes("x", 1);
    bs[1] = tarn_avro_bytes(NULL, 0);
    inner = tarn_avro_kvs_new(a, 2);
    inner[0] = (tarn_avro_kv){"a", 1, tarn_avro_array(bs, 2)};
    inner[1] = (tarn_avro_kv){"b", 1, tarn_avro_null()};
    outer = tarn_avro_kvs_new(a, 1);
    outer[0] = (tarn_avro_kv){"k", 1, tarn_avro_map(inner, 2)};
    tarn_avro_set(n, "attrs", tarn_avro_map(outer, 1));
    top = n;
  }
  assert_int_equal(tarn_avro_writer_open_buf(s, NULL, &out, &w, &err), 0);
  assert_int_equal(tarn_avro_writer_append(w, top, &err), 0);
  /* an error deep inside names the whole path */
  leaf = tarn_avro_record_new(a, root);
  tarn_avro_set(leaf, "v", tarn_avro_long(0));
  tarn_avro_set(leaf, "kids", tarn_avro_array(NULL, 0));
  bs = tarn_avro_values_new(a, 2);
  bs[0] = tarn_avro_bytes("x", 1);
  bs[1] = tarn_avro_str("not bytes");
  inner = tarn_avro_kvs_new(a, 1);
  inner[0] = (tarn_avro_kv){"in", 2, tarn_avro_array(bs, 2)};
  outer = tarn_avro_kvs_new(a, 1);
  outer[0] = (tarn_avro_kv){"out", 3, tarn_avro_map(inner, 1)};
  tarn_avro_set(leaf, "attrs", tarn_avro_map(outer, 1));
  kids = tarn_avro_values_new(a, 2);
  kids[0] = tarn_avro_record(top);
  kids[1] = tarn_avro_record(leaf);
  top = tarn_avro_record_new(a, root);
  tarn_avro_set(top, "v", tarn_avro_long(1));
  tarn_avro_set(top, "kids", tarn_avro_array(kids, 2));
  tarn_avro_set(top, "attrs", tarn_avro_map(NULL, 0));
  assert_int_equal(tarn_avro_writer_append(w, top, &err), TARN_EINVAL);
  assert_string_equal(err.detail,
                      "avro: kids[1].attrs[\"out\"][\"in\"][1]: expected bytes, got string");
  assert_int_equal(tarn_avro_writer_close(w, NULL, &err), 0);
  assert_int_equal(read_everything(out.data, out.len, &count, &err), 0);
  assert_int_equal(count, 1);
  tarn_avro_arena_destroy(a);
  tarn_buf_free(&out);
  tarn_avro_schema_destroy(s);
}

static void test_validation_errors(void **state) {
  tarn_avro_schema *s = parse_ok(MANIFEST_ENTRY_SCHEMA);
  tarn_avro_schema *t = parse_ok(ALL_TYPES_SCHEMA);
  tarn_avro_writer *w, *w2;
  tarn_avro_arena *a;
  tarn_avro_value *e, *df, *rec;
  tarn_avro_value lb;
  tarn_buf out, out2;
  tarn_error err;
  uint8_t scratch[32];
  size_t len_before;
  (void)state;
  tarn_buf_init(&out, 1 << 20);
  tarn_buf_init(&out2, 1 << 20);
  assert_int_equal(tarn_avro_arena_create(0, &a, &err), 0);
  assert_int_equal(tarn_avro_writer_open_buf(s, NULL, &out, &w, &err), 0);
  set_manifest_meta(w);
  /* a string where bytes belong, deep in the column stats */
  e = build_entry(a, s, 3, scratch);
  df = (tarn_avro_value *)tarn_avro_get(e, "data_file");
  lb = *tarn_avro_get(df, "lower_bounds");
  lb.u.array.items[1].u.record.fields[1] = tarn_avro_str("oops");
  tarn_avro_set(df, "lower_bounds", lb);
  len_before = out.len;
  assert_int_equal(tarn_avro_writer_append(w, e, &err), TARN_EINVAL);
  assert_string_equal(err.detail,
                      "avro: data_file.lower_bounds[1].value: expected bytes, got string");
  /* required field unset, no default */
  e = build_entry(a, s, 3, scratch);
  df = (tarn_avro_value *)tarn_avro_get(e, "data_file");
  df->u.record.fields[1] = (tarn_avro_value){0};
  assert_int_equal(tarn_avro_writer_append(w, e, &err), TARN_EINVAL);
  assert_string_equal(err.detail, "avro: data_file.file_path: field not set and it has no default");
  /* a misspelt field name makes the record unwritable */
  e = build_entry(a, s, 3, scratch);
  assert_int_equal(tarn_avro_set(e, "statuss", tarn_avro_int(1)), TARN_ENOTFOUND);
  assert_int_equal(tarn_avro_set_id(e, 12345, tarn_avro_int(1)), TARN_ENOTFOUND);
  assert_int_equal(tarn_avro_writer_append(w, e, &err), TARN_EINVAL);
  assert_non_null(strstr(err.detail, "does not have"));
  assert_int_equal(tarn_avro_set(NULL, "x", tarn_avro_int(1)), TARN_EINVAL);
  /* an int where a long belongs */
  e = build_entry(a, s, 3, scratch);
  tarn_avro_set(e, "snapshot_id", tarn_avro_int(7));
  assert_int_equal(tarn_avro_writer_append(w, e, &err), TARN_EINVAL);
  assert_string_equal(err.detail, "avro: snapshot_id: no branch of the union takes type int");
  /* invalid UTF-8 */
  e = build_entry(a, s, 3, scratch);
  df = (tarn_avro_value *)tarn_avro_get(e, "data_file");
  tarn_avro_set(df, "file_format", tarn_avro_strn("\xc3\x28", 2));
  assert_int_equal(tarn_avro_writer_append(w, e, &err), TARN_EINVAL);
  assert_string_equal(err.detail, "avro: data_file.file_format: string is not valid UTF-8");
  /* a failed allocation while building surfaces as ENOMEM at append */
  e = build_entry(a, s, 3, scratch);
  df = (tarn_avro_value *)tarn_avro_get(e, "data_file");
  tarn_avro_set(df, "split_offsets", tarn_avro_array(NULL, 3));
  assert_int_equal(tarn_avro_writer_append(w, e, &err), TARN_ENOMEM);
  assert_non_null(strstr(err.detail, "data_file.split_offsets"));
  tarn_avro_set(e, "data_file", tarn_avro_record(NULL));
  assert_int_equal(tarn_avro_writer_append(w, e, &err), TARN_ENOMEM);
  /* nothing of the failed records reached the block: the writer goes on */
  assert_int_equal(tarn_avro_writer_count(w), 0);
  assert_int_equal(out.len, len_before);
  assert_int_equal(tarn_avro_writer_append(w, build_entry(a, s, 0, scratch), &err), 0);
  assert_int_equal(tarn_avro_writer_close(w, NULL, &err), 0);
  assert_int_equal(read_manifest(out.data, out.len), 1);
  /* fixed size, enum range, a record value of another shape */
  assert_int_equal(tarn_avro_writer_open_buf(t, NULL, &out2, &w2, &err), 0);
  rec = build_all_types(a, t, 0);
  tarn_avro_set(rec, "fx", tarn_avro_fixed("short", 5));
  assert_int_equal(tarn_avro_writer_append(w2, rec, &err), TARN_EINVAL);
  assert_string_equal(err.detail, "avro: fx: fixed 'tarn.test.md5' takes 16 bytes, got 5");
  rec = build_all_types(a, t, 0);
  tarn_avro_set(rec, "e", tarn_avro_enum(4));
  assert_int_equal(tarn_avro_writer_append(w2, rec, &err), TARN_EINVAL);
  assert_string_equal(err.detail, "avro: e: enum 'tarn.test.Suit' has no symbol 4");
  rec = build_all_types(a, t, 0);
  tarn_avro_set(rec, "nested", tarn_avro_record(tarn_avro_record_new(a, tarn_avro_schema_root(s))));
  assert_int_equal(tarn_avro_writer_append(w2, rec, &err), TARN_EINVAL);
  assert_non_null(strstr(err.detail, "nested: record value has 5 fields"));
  rec = build_all_types(a, t, 0);
  tarn_avro_set(rec, "nested", tarn_avro_int(3));
  assert_int_equal(tarn_avro_writer_append(w2, rec, &err), TARN_EINVAL);
  assert_string_equal(err.detail, "avro: nested: expected record, got int");
  assert_int_equal(tarn_avro_writer_append(w2, NULL, &err), TARN_ENOMEM);
  tarn_avro_writer_abort(w2);
  assert_int_equal(out2.len, 0);
  /* a schema whose root is no record cannot be written */
  {
    tarn_avro_schema *p = parse_ok("\"long\"");
    assert_int_equal(tarn_avro_writer_open_buf(p, NULL, &out2, &w2, &err), TARN_EINVAL);
    tarn_avro_schema_destroy(p);
  }
  tarn_avro_arena_destroy(a);
  tarn_buf_free(&out);
  tarn_buf_free(&out2);
  tarn_avro_schema_destroy(s);
  tarn_avro_schema_destroy(t);
}

static void test_defaults_written(void **state) {
  tarn_avro_schema *s = parse_ok(
      "{\"type\":\"record\",\"name\":\"r\",\"fields\":["
      "{\"name\":\"a\",\"type\":\"int\",\"default\":7},"
      "{\"name\":\"b\",\"type\":\"bytes\",\"default\":\"\\u00ff\\u0000x\"},"
      "{\"name\":\"c\",\"type\":{\"type\":\"array\",\"items\":\"double\"},\"default\":[1,2.5]},"
      "{\"name\":\"d\",\"type\":{\"type\":\"map\",\"values\":\"string\"},\"default\":{\"k\":\"v\"}}"
      ","
      "{\"name\":\"e\",\"type\":{\"type\":\"record\",\"name\":\"in\",\"fields\":[{\"name\":\"x\","
      "\"type\":\"long\"},"
      "{\"name\":\"y\",\"type\":\"boolean\",\"default\":true}]},\"default\":{\"x\":5}},"
      "{\"name\":\"f\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"P\",\"Q\"]},"
      "\"default\":\"Q\"},"
      "{\"name\":\"g\",\"type\":[\"string\",\"null\"],\"default\":\"s\"},"
      "{\"name\":\"h\",\"type\":\"float\",\"default\":1},"
      "{\"name\":\"i\",\"type\":{\"type\":\"fixed\",\"name\":\"F\",\"size\":2},\"default\":"
      "\"\\u00e9z\"},"
      "{\"name\":\"j\",\"type\":\"null\",\"default\":null}]}");
  tarn_avro_writer *w;
  tarn_avro_reader *r;
  tarn_avro_arena *a;
  const tarn_avro_value *rec, *v;
  tarn_buf out;
  tarn_error err;
  (void)state;
  tarn_buf_init(&out, 1 << 20);
  assert_int_equal(tarn_avro_arena_create(0, &a, &err), 0);
  assert_int_equal(tarn_avro_writer_open_buf(s, NULL, &out, &w, &err), 0);
  assert_int_equal(
      tarn_avro_writer_append(w, tarn_avro_record_new(a, tarn_avro_schema_root(s)), &err), 0);
  assert_int_equal(tarn_avro_writer_close(w, NULL, &err), 0);
  assert_int_equal(tarn_avro_reader_open_mem(out.data, out.len, NULL, &r, &err), 0);
  assert_int_equal(tarn_avro_reader_next(r, &rec, &err), 0);
  assert_int_equal(tarn_avro_get(rec, "a")->u.i, 7);
  v = tarn_avro_get(rec, "b");
  assert_int_equal(v->u.bytes.len, 3);
  assert_memory_equal(v->u.bytes.p, "\xff\0x", 3);
  v = tarn_avro_get(rec, "c");
  assert_int_equal(v->u.array.count, 2);
  assert_true(v->u.array.items[1].u.d == 2.5);
  v = tarn_avro_get(rec, "d");
  assert_string_equal(v->u.map.entries[0].key, "k");
  assert_string_equal(v->u.map.entries[0].value.u.str.p, "v");
  v = tarn_avro_get(rec, "e");
  assert_int_equal(tarn_avro_get(v, "x")->u.l, 5);
  assert_int_equal(tarn_avro_get(v, "y")->u.b, 1);
  assert_int_equal(tarn_avro_get(rec, "f")->u.i, 1);
  v = tarn_avro_get(rec, "g");
  assert_int_equal(v->branch, 0);
  assert_string_equal(v->u.str.p, "s");
  assert_true(tarn_avro_get(rec, "h")->u.f == 1.0f);
  assert_memory_equal(tarn_avro_get(rec, "i")->u.bytes.p, "\xe9z", 2);
  assert_int_equal(tarn_avro_get(rec, "j")->type, TARN_AVRO_NULL);
  tarn_avro_reader_destroy(r);
  tarn_avro_arena_destroy(a);
  tarn_buf_free(&out);
  tarn_avro_schema_destroy(s);
}

/* ---- outputs: capped buffer, store ---- */

static void test_buf_cap(void **state) {
  tarn_avro_schema *s = parse_ok(MANIFEST_ENTRY_SCHEMA);
  tarn_avro_writer_options o = {.block_bytes = 1024};
  tarn_avro_writer *w;
  tarn_avro_arena *a;
  tarn_buf out;
  tarn_error err;
  uint8_t scratch[32];
  int i, rc = 0;
  (void)state;
  tarn_buf_init(&out, 8192);
  assert_int_equal(tarn_buf_append_str(&out, "keep", &err), 0);
  assert_int_equal(tarn_avro_arena_create(0, &a, &err), 0);
  assert_int_equal(tarn_avro_writer_open_buf(s, &o, &out, &w, &err), 0);
  for (i = 0; i < 200 && rc == 0; i++) {
    tarn_avro_arena_reset(a);
    rc = tarn_avro_writer_append(w, build_entry(a, s, i, scratch), &err);
  }
  assert_int_equal(rc, TARN_ETOOBIG);
  /* the failure is sticky */
  assert_int_equal(tarn_avro_writer_append(w, build_entry(a, s, 0, scratch), &err), TARN_ETOOBIG);
  assert_int_equal(tarn_avro_writer_close(w, NULL, &err), TARN_ETOOBIG);
  /* the buffer is back to what it held before */
  assert_int_equal(out.len, 4);
  assert_string_equal(out.data, "keep");
  tarn_avro_arena_destroy(a);
  tarn_buf_free(&out);
  tarn_avro_schema_destroy(s);
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static void test_store_writer(void **state) {
  tarn_avro_schema *s = parse_ok(MANIFEST_ENTRY_SCHEMA);
  tarn_avro_writer_options o = {.codec = TARN_AVRO_CODEC_DEFLATE, .block_bytes = 4096};
  char dir[] = "/tmp/tarn-avro-test-XXXXXX";
  tarn_store *st = NULL, *fs = NULL;
  tarn_store_stat sb;
  tarn_avro_writer *w;
  tarn_avro_reader *r;
  tarn_avro_arena *a;
  const tarn_avro_value *rec;
  tarn_error err;
  uint8_t scratch[32];
  uint64_t size = 0;
  int i, n = 0, rc = 0;
  (void)state;
  assert_non_null(mkdtemp(dir));
  assert_int_equal(tarn_store_local_open(dir, &st, &err), 0);
  assert_int_equal(tarn_avro_arena_create(0, &a, &err), 0);
  assert_int_equal(
      tarn_avro_writer_open_store(s, &o, st, "meta/m0.avro", TARN_STORE_IF_ABSENT, &w, &err), 0);
  set_manifest_meta(w);
  for (i = 0; i < 300; i++) {
    tarn_avro_arena_reset(a);
    assert_int_equal(tarn_avro_writer_append(w, build_entry(a, s, i, scratch), &err), 0);
    /* blocks are streaming out, yet nothing is visible before close */
    if (i == 299)
      assert_int_equal(tarn_store_head(st, "meta/m0.avro", &sb, &err), TARN_ENOTFOUND);
  }
  assert_int_equal(tarn_avro_writer_close(w, &size, &err), 0);
  assert_int_equal(tarn_store_head(st, "meta/m0.avro", &sb, &err), 0);
  assert_int_equal(sb.size, size);
  assert_int_equal(tarn_avro_reader_open_store(st, "meta/m0.avro", 0, NULL, &r, &err), 0);
  while (tarn_avro_reader_next(r, &rec, &err) == 0 && rec != NULL)
    check_entry(rec, n++);
  assert_int_equal(n, 300);
  tarn_avro_reader_destroy(r);
  /* the file cap of the store reader */
  assert_int_equal(tarn_avro_reader_open_store(st, "meta/m0.avro", 100, NULL, &r, &err),
                   TARN_ETOOBIG);
  assert_int_equal(tarn_avro_reader_open_store(st, "meta/none.avro", 0, NULL, &r, &err),
                   TARN_ENOTFOUND);
  /* put-if-absent: a second writer of the same key fails (at open or close) */
  rc = tarn_avro_writer_open_store(s, &o, st, "meta/m0.avro", TARN_STORE_IF_ABSENT, &w, &err);
  if (rc == 0) {
    assert_int_equal(tarn_avro_writer_append(w, build_entry(a, s, 0, scratch), &err), 0);
    rc = tarn_avro_writer_close(w, NULL, &err);
  }
  assert_int_equal(rc, TARN_EEXIST);
  assert_int_equal(tarn_store_head(st, "meta/m0.avro", &sb, &err), 0);
  assert_int_equal(sb.size, size);
  rc = 0;
  /* abort leaves nothing behind */
  assert_int_equal(tarn_avro_writer_open_store(s, &o, st, "meta/m1.avro", 0, &w, &err), 0);
  assert_int_equal(tarn_avro_writer_append(w, build_entry(a, s, 0, scratch), &err), 0);
  tarn_avro_writer_abort(w);
  assert_int_equal(tarn_store_head(st, "meta/m1.avro", &sb, &err), TARN_ENOTFOUND);
  /* a failed write is sticky and nothing is published */
  assert_int_equal(tarn_store_faulty_wrap(st, &fs, &err), 0);
  st = NULL;
  assert_int_equal(
      tarn_store_faulty_add(fs, TARN_FAULT_WRITE, TARN_FAULT_SHORT, TARN_EIO, NULL, 2, 1, &err), 0);
  assert_int_equal(tarn_avro_writer_open_store(s, &o, fs, "meta/m2.avro", 0, &w, &err), 0);
  for (i = 0; i < 300 && rc == 0; i++) {
    tarn_avro_arena_reset(a);
    rc = tarn_avro_writer_append(w, build_entry(a, s, i, scratch), &err);
  }
  assert_int_not_equal(rc, 0);
  assert_int_equal(tarn_avro_writer_append(w, build_entry(a, s, 0, scratch), &err), rc);
  assert_int_equal(tarn_avro_writer_close(w, NULL, &err), rc);
  assert_int_equal(tarn_store_head(fs, "meta/m2.avro", &sb, &err), TARN_ENOTFOUND);
  /* a failed commit publishes nothing either */
  tarn_store_faulty_clear(fs);
  assert_int_equal(
      tarn_store_faulty_add(fs, TARN_FAULT_COMMIT, TARN_FAULT_FSYNC, TARN_EFSYNC, NULL, 0, 0, &err),
      0);
  assert_int_equal(tarn_avro_writer_open_store(s, &o, fs, "meta/m3.avro", 0, &w, &err), 0);
  assert_int_equal(tarn_avro_writer_append(w, build_entry(a, s, 0, scratch), &err), 0);
  assert_int_equal(tarn_avro_writer_close(w, NULL, &err), TARN_EFSYNC);
  tarn_store_faulty_clear(fs);
  assert_int_equal(tarn_store_head(fs, "meta/m3.avro", &sb, &err), TARN_ENOTFOUND);
  tarn_store_destroy(fs);
  tarn_avro_arena_destroy(a);
  tarn_avro_schema_destroy(s);
  nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- hostile input ---- */

/* A small valid file to damage: 3 blocks of the all-types records. */
static void small_file(tarn_buf *out, tarn_avro_codec codec) {
  tarn_avro_schema *s = parse_ok(ALL_TYPES_SCHEMA);
  tarn_avro_writer_options o = {.codec = codec, .block_bytes = 100, .sync = test_sync};
  tarn_avro_writer *w;
  tarn_avro_arena *a;
  tarn_error err;
  int k;
  assert_int_equal(tarn_avro_arena_create(0, &a, &err), 0);
  assert_int_equal(tarn_avro_writer_open_buf(s, &o, out, &w, &err), 0);
  assert_int_equal(tarn_avro_writer_set_meta_str(w, "k", "v", &err), 0);
  for (k = 0; k < 5; k++)
    assert_int_equal(tarn_avro_writer_append(w, build_all_types(a, s, k), &err), 0);
  assert_int_equal(tarn_avro_writer_close(w, NULL, &err), 0);
  tarn_avro_arena_destroy(a);
  tarn_avro_schema_destroy(s);
}

static void test_hostile_truncation_and_flips(void **state) {
  tarn_avro_codec codecs[4] = {TARN_AVRO_CODEC_NULL, TARN_AVRO_CODEC_DEFLATE,
                               TARN_AVRO_CODEC_SNAPPY, TARN_AVRO_CODEC_ZSTD};
  int c;
  (void)state;
  for (c = 0; c < 4; c++) {
    tarn_buf f;
    tarn_error err;
    uint64_t count;
    size_t cut, i;
    const char *text;
    tarn_buf_init(&f, 1 << 20);
    small_file(&f, codecs[c]);
    assert_int_equal(read_everything(f.data, f.len, &count, &err), 0);
    assert_int_equal(count, 5);
    /* every proper prefix fails cleanly (or, cut at a block boundary, reads fewer) */
    for (cut = 0; cut < f.len; cut++) {
      char *copy = malloc(cut ? cut : 1);
      int rc;
      memcpy(copy, f.data, cut);
      rc = read_everything(copy, cut, &count, &err);
      if (rc == 0)
        assert_true(count < 5);
      else
        assert_int_equal(rc, TARN_ECORRUPT);
      free(copy);
    }
    /* bit flips: no crash, no leak; either an error or a file that reads. The schema
     * text is skipped but for its first and last bytes (the fuzzer covers the rest). */
    text = memmem(f.data, f.len, ALL_TYPES_SCHEMA, strlen(ALL_TYPES_SCHEMA));
    assert_non_null(text);
    for (i = 0; i < f.len; i++) {
      size_t off = (size_t)(text - f.data);
      char *copy;
      if (i > off + 8 && i + 8 < off + strlen(ALL_TYPES_SCHEMA))
        continue;
      copy = malloc(f.len);
      memcpy(copy, f.data, f.len);
      copy[i] = (char)(copy[i] ^ (1 << (i % 8)));
      (void)read_everything(copy, f.len, &count, &err);
      copy[i] = (char)(copy[i] ^ (1 << (i % 8)) ^ 0xff);
      (void)read_everything(copy, f.len, &count, &err);
      free(copy);
    }
    tarn_buf_free(&f);
  }
}

/* Builds "Obj\1" + metadata {avro.schema: schema, avro.codec: null} + sync + body. */
static void craft(tarn_buf *b, const char *schema, const void *body, size_t body_len) {
  tarn_error err;
  tarn_buf_reset(b);
  assert_int_equal(tarn_buf_append(b, "Obj\x01", 4, &err), 0);
  assert_int_equal(tarn__avro_buf_long(b, 2, &err), 0);
  assert_int_equal(tarn__avro_buf_lenbytes(b, "avro.schema", 11, &err), 0);
  assert_int_equal(tarn__avro_buf_lenbytes(b, schema, strlen(schema), &err), 0);
  assert_int_equal(tarn__avro_buf_lenbytes(b, "avro.codec", 10, &err), 0);
  assert_int_equal(tarn__avro_buf_lenbytes(b, "null", 4, &err), 0);
  assert_int_equal(tarn_buf_append_byte(b, 0, &err), 0);
  assert_int_equal(tarn_buf_append(b, test_sync, 16, &err), 0);
  if (body_len)
    assert_int_equal(tarn_buf_append(b, body, body_len, &err), 0);
}

/* Appends one block (count, size, data, sync) of raw record bytes. */
static void block(tarn_buf *b, int64_t count, const void *data, size_t len) {
  tarn_error err;
  assert_int_equal(tarn__avro_buf_long(b, count, &err), 0);
  assert_int_equal(tarn__avro_buf_lenbytes(b, data, len, &err), 0);
  assert_int_equal(tarn_buf_append(b, test_sync, 16, &err), 0);
}

static void expect_corrupt(const tarn_buf *b, const char *needle) {
  tarn_error err;
  uint64_t count;
  int rc = read_everything(b->data, b->len, &count, &err);
  if (rc == 0)
    fail_msg("read %llu records, expected an error with '%s'", (unsigned long long)count, needle);
  if (strstr(err.detail, needle) == NULL)
    fail_msg("error '%s' lacks '%s'", err.detail, needle);
}

static void test_hostile_crafted(void **state) {
  static const char arr_schema[] = "{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":"
                                   "\"a\",\"type\":{\"type\":\"array\",\"items\":\"long\"}}]}";
  static const char str_schema[] =
      "{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":\"s\",\"type\":\"string\"}]}";
  static const char null_arr_schema[] = "{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":"
                                        "\"a\",\"type\":{\"type\":\"array\",\"items\":\"null\"}}]}";
  tarn_buf b;
  tarn_error err;
  tarn_avro_reader *r;
  const tarn_avro_value *rec;
  uint64_t count;
  (void)state;
  tarn_buf_init(&b, 1 << 20);

  /* bad magic, empty input, truncated header */
  assert_int_equal(read_everything("Obj\x02", 4, &count, &err), TARN_ECORRUPT);
  assert_non_null(strstr(err.detail, "bad magic"));
  assert_int_equal(read_everything("", 0, &count, &err), TARN_ECORRUPT);
  craft(&b, arr_schema, NULL, 0);
  assert_int_equal(read_everything(b.data, b.len - 1, &count, &err), TARN_ECORRUPT);
  assert_non_null(strstr(err.detail, "no sync marker"));

  /* huge metadata count, negative lengths in the header */
  tarn_buf_reset(&b);
  tarn_buf_append(&b, "Obj\x01", 4, &err);
  tarn__avro_buf_long(&b, INT64_C(1) << 60, &err);
  expect_corrupt(&b, "metadata entries cannot fit");
  tarn_buf_reset(&b);
  tarn_buf_append(&b, "Obj\x01", 4, &err);
  tarn__avro_buf_long(&b, INT64_MIN, &err);
  expect_corrupt(&b, "out of range");
  tarn_buf_reset(&b);
  tarn_buf_append(&b, "Obj\x01\x02", 5, &err);
  tarn__avro_buf_long(&b, -5, &err);
  tarn_buf_append(&b, "aaaaaaaaaaaaaaaaaaaaaaaaaa", 26, &err);
  expect_corrupt(&b, "negative metadata key length -5");
  tarn_buf_reset(&b);
  tarn_buf_append(&b, "Obj\x01\x02", 5, &err);
  tarn__avro_buf_long(&b, 1000, &err);
  tarn_buf_append(&b, "aaaaaaaaaaaaaaaaaaaaaaaaaa", 26, &err);
  expect_corrupt(&b, "runs past the end");
  /* no schema; a bad schema; an unknown codec */
  tarn_buf_reset(&b);
  tarn_buf_append(&b, "Obj\x01\x00", 5, &err);
  tarn_buf_append(&b, test_sync, 16, &err);
  expect_corrupt(&b, "no avro.schema");
  craft(&b, "{\"type\":\"nope\"}", NULL, 0);
  expect_corrupt(&b, "avro.schema");
  assert_int_equal(read_everything(b.data, b.len, &count, &err), TARN_ECORRUPT);
  tarn_buf_reset(&b);
  tarn_buf_append(&b, "Obj\x01\x04", 5, &err);
  tarn__avro_buf_lenbytes(&b, "avro.schema", 11, &err);
  tarn__avro_buf_lenbytes(&b, "\"int\"", 5, &err);
  tarn__avro_buf_lenbytes(&b, "avro.codec", 10, &err);
  tarn__avro_buf_lenbytes(&b, "lzma", 4, &err);
  tarn_buf_append(&b, "\0", 1, &err);
  tarn_buf_append(&b, test_sync, 16, &err);
  assert_int_equal(read_everything(b.data, b.len, &count, &err), TARN_EUNSUPPORTED);
  /* duplicate metadata keys; a header map in a negative-count block (allowed) */
  tarn_buf_reset(&b);
  tarn_buf_append(&b, "Obj\x01\x04", 5, &err);
  tarn__avro_buf_lenbytes(&b, "avro.schema", 11, &err);
  tarn__avro_buf_lenbytes(&b, "\"int\"", 5, &err);
  tarn__avro_buf_lenbytes(&b, "avro.schema", 11, &err);
  tarn__avro_buf_lenbytes(&b, "\"int\"", 5, &err);
  tarn_buf_append(&b, "\0", 1, &err);
  tarn_buf_append(&b, test_sync, 16, &err);
  expect_corrupt(&b, "appears twice");
  tarn_buf_reset(&b);
  tarn_buf_append(&b, "Obj\x01", 4, &err);
  tarn__avro_buf_long(&b, -1, &err);
  tarn__avro_buf_long(&b, 19, &err);
  tarn__avro_buf_lenbytes(&b, "avro.schema", 11, &err);
  tarn__avro_buf_lenbytes(&b, "\"long\"", 6, &err);
  tarn_buf_append(&b, "\0", 1, &err);
  tarn_buf_append(&b, test_sync, 16, &err);
  block(&b, 2, "\x04\x05", 2);
  assert_int_equal(tarn_avro_reader_open_mem(b.data, b.len, NULL, &r, &err), 0);
  assert_int_equal(tarn_avro_reader_next(r, &rec, &err), 0);
  assert_int_equal(rec->u.l, 2);
  assert_int_equal(tarn_avro_reader_next(r, &rec, &err), 0);
  assert_int_equal(rec->u.l, -3);
  assert_int_equal(tarn_avro_reader_next(r, &rec, &err), 0);
  assert_null(rec);
  tarn_avro_reader_destroy(r);

  /* blocks: bad sync, negative count, size past the end, too many records */
  craft(&b, arr_schema, NULL, 0);
  block(&b, 1, "\x02\x04\x00", 3);
  b.data[b.len - 1] ^= 1;
  expect_corrupt(&b, "sync marker after block 0 does not match");
  craft(&b, arr_schema, NULL, 0);
  block(&b, -1, "\x02\x04\x00", 3);
  expect_corrupt(&b, "negative block count -1");
  craft(&b, arr_schema, NULL, 0);
  tarn__avro_buf_long(&b, 1, &err);
  tarn__avro_buf_long(&b, 1000, &err);
  expect_corrupt(&b, "block size 1000 runs past the end");
  craft(&b, arr_schema, NULL, 0);
  block(&b, 4, "\x00\x00\x00", 3);
  expect_corrupt(&b, "claims 4 records");
  craft(&b, arr_schema, NULL, 0);
  block(&b, 1, "\x00\x00", 2);
  expect_corrupt(&b, "1 bytes left after the block's last record");
  craft(&b, arr_schema, NULL, 0);
  block(&b, 0, "\x00", 1);
  expect_corrupt(&b, "holds no records");

  /* arrays: huge count, INT64_MIN count, negative count with a block size (valid), a
   * block size that lies */
  craft(&b, arr_schema, NULL, 0);
  {
    uint8_t body[32];
    size_t n = tarn__avro_varint_put(body, INT64_C(1) << 62);
    body[n++] = 0;
    block(&b, 1, body, n);
  }
  expect_corrupt(&b, "items cannot fit");
  craft(&b, arr_schema, NULL, 0);
  {
    uint8_t body[32];
    size_t n = tarn__avro_varint_put(body, INT64_MIN);
    block(&b, 1, body, n);
  }
  expect_corrupt(&b, "block count out of range");
  craft(&b, arr_schema, NULL, 0);
  block(&b, 1, "\x03\x04\x02\x04\x00", 5); /* count -2, size 2, items 1 2, end */
  assert_int_equal(tarn_avro_reader_open_mem(b.data, b.len, NULL, &r, &err), 0);
  assert_int_equal(tarn_avro_reader_next(r, &rec, &err), 0);
  assert_int_equal(tarn_avro_get(rec, "a")->u.array.count, 2);
  assert_int_equal(tarn_avro_get(rec, "a")->u.array.items[1].u.l, 2);
  tarn_avro_reader_destroy(r);
  craft(&b, arr_schema, NULL, 0);
  block(&b, 1, "\x03\x06\x02\x04\x00\x00", 6); /* size 3 for 2 bytes of items */
  expect_corrupt(&b, "a: block size 3 does not match its items");
  /* several array blocks append to one array */
  craft(&b, arr_schema, NULL, 0);
  block(&b, 1, "\x02\x02\x04\x06\x08\x00", 6);
  assert_int_equal(tarn_avro_reader_open_mem(b.data, b.len, NULL, &r, &err), 0);
  assert_int_equal(tarn_avro_reader_next(r, &rec, &err), 0);
  assert_int_equal(tarn_avro_get(rec, "a")->u.array.count, 3);
  assert_int_equal(tarn_avro_get(rec, "a")->u.array.items[2].u.l, 4);
  tarn_avro_reader_destroy(r);
  /* an array of nulls claiming 2^40 items: refused by the memory cap, quickly */
  craft(&b, null_arr_schema, NULL, 0);
  {
    uint8_t body[32];
    size_t n = tarn__avro_varint_put(body, INT64_C(1) << 40);
    body[n++] = 0;
    block(&b, 1, body, n);
  }
  assert_int_equal(read_everything(b.data, b.len, &count, &err), TARN_ETOOBIG);

  /* strings: negative length, huge length, invalid UTF-8 */
  craft(&b, str_schema, NULL, 0);
  block(&b, 1, "\x01", 1);
  expect_corrupt(&b, "s: negative string length -1");
  craft(&b, str_schema, NULL, 0);
  {
    uint8_t body[32];
    size_t n = tarn__avro_varint_put(body, INT64_MAX);
    block(&b, 1, body, n);
  }
  expect_corrupt(&b, "runs past the end");
  craft(&b, str_schema, NULL, 0);
  block(&b, 1, "\x04\xc3\x28", 3);
  expect_corrupt(&b, "not valid UTF-8");
  /* the offset in the message is the record's byte in the file */
  craft(&b, str_schema, NULL, 0);
  {
    size_t data_off = b.len + 2;
    char want[64];
    block(&b, 1, "\x08zz", 3);
    snprintf(want, sizeof(want), "avro: offset %zu: s: string length 4 runs past the end",
             data_off + 1);
    expect_corrupt(&b, want);
  }
  /* errors are sticky */
  assert_int_equal(tarn_avro_reader_open_mem(b.data, b.len, NULL, &r, &err), 0);
  assert_int_equal(tarn_avro_reader_next(r, &rec, &err), TARN_ECORRUPT);
  assert_int_equal(tarn_avro_reader_next(r, &rec, &err), TARN_ECORRUPT);
  assert_null(rec);
  tarn_avro_reader_destroy(r);
  /* union branch and enum index out of range; a boolean that is 2; deep recursion */
  craft(&b,
        "{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":\"u\",\"type\":[\"null\","
        "\"int\"]}]}",
        NULL, 0);
  block(&b, 1, "\x04", 1);
  expect_corrupt(&b, "u: union branch 2 out of range");
  craft(&b,
        "{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":\"e\",\"type\":{\"type\":"
        "\"enum\",\"name\":\"E\",\"symbols\":[\"A\"]}}]}",
        NULL, 0);
  block(&b, 1, "\x02", 1);
  expect_corrupt(&b, "enum index 1 out of range");
  craft(&b,
        "{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":\"b\",\"type\":\"boolean\"}]}",
        NULL, 0);
  block(&b, 1, "\x02", 1);
  expect_corrupt(&b, "neither 0 nor 1");
  craft(&b,
        "{\"type\":\"record\",\"name\":\"L\",\"fields\":[{\"name\":\"next\",\"type\":[\"null\","
        "\"L\"]}]}",
        NULL, 0);
  {
    uint8_t body[200];
    memset(body, 2, 199);
    body[199] = 0;
    block(&b, 1, body, 200);
  }
  expect_corrupt(&b, "nested deeper than");
  /* an int past 32 bits */
  craft(&b, "{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":\"i\",\"type\":\"int\"}]}",
        NULL, 0);
  {
    uint8_t body[16];
    size_t n = tarn__avro_varint_put(body, INT64_C(1) << 33);
    block(&b, 1, body, n);
  }
  expect_corrupt(&b, "i: int 8589934592 out of range");
  tarn_buf_free(&b);
}

static void test_hostile_codecs(void **state) {
  tarn_buf f;
  tarn_error err;
  uint64_t count;
  tarn_avro_reader_options tiny = {.max_block_bytes = 64};
  tarn_avro_reader *r;
  const tarn_avro_value *rec;
  size_t i;
  (void)state;
  tarn_buf_init(&f, 1 << 20);
  /* snappy: a wrong CRC is caught */
  small_file(&f, TARN_AVRO_CODEC_SNAPPY);
  /* the first block's CRC: the 4 bytes before the second sync marker */
  {
    size_t first_end = 0, k;
    for (k = 0; k + 16 <= f.len; k++)
      if (memcmp(f.data + k, test_sync, 16) == 0) {
        if (first_end == 0)
          first_end = k; /* header sync */
        else {
          f.data[k - 1] ^= 0x55;
          break;
        }
      }
  }
  assert_int_equal(read_everything(f.data, f.len, &count, &err), TARN_ECORRUPT);
  assert_non_null(strstr(err.detail, "CRC-32"));
  /* decompressed blocks past the cap */
  for (i = 0; i < 3; i++) {
    tarn_avro_codec c = i == 0   ? TARN_AVRO_CODEC_DEFLATE
                        : i == 1 ? TARN_AVRO_CODEC_SNAPPY
                                 : TARN_AVRO_CODEC_ZSTD;
    tarn_buf_reset(&f);
    small_file(&f, c);
    assert_int_equal(tarn_avro_reader_open_mem(f.data, f.len, &tiny, &r, &err), 0);
    assert_int_equal(tarn_avro_reader_next(r, &rec, &err), TARN_ETOOBIG);
    tarn_avro_reader_destroy(r);
  }
  /* the per-record memory cap */
  {
    tarn_avro_reader_options small = {.max_record_bytes = 256};
    tarn_buf_reset(&f);
    small_file(&f, TARN_AVRO_CODEC_NULL);
    assert_int_equal(tarn_avro_reader_open_mem(f.data, f.len, &small, &r, &err), 0);
    assert_int_equal(tarn_avro_reader_next(r, &rec, &err), TARN_ETOOBIG);
    tarn_avro_reader_destroy(r);
  }
  tarn_buf_free(&f);
}

/* ---- allocation failures ---- */

static void test_alloc_failures(void **state) {
  tarn_avro_schema *s = parse_ok(MANIFEST_ENTRY_SCHEMA);
  tarn_buf good;
  long n, total_w, total_r;
  tarn_error err;
  (void)state;
  tarn_buf_init(&good, 1 << 20);
  {
    tarn_avro_writer_options o = {.codec = TARN_AVRO_CODEC_DEFLATE, .block_bytes = 512};
    write_manifest(s, &o, 20, &good);
  }
  /* count allocations of a write and of a read, then fail each in turn */
  tarn_alloc_fail_reset();
  {
    tarn_buf out;
    tarn_avro_writer_options o = {.codec = TARN_AVRO_CODEC_DEFLATE, .block_bytes = 512};
    tarn_buf_init(&out, 1 << 20);
    write_manifest(s, &o, 20, &out);
    tarn_buf_free(&out);
  }
  total_w = tarn_alloc_count();
  tarn_alloc_fail_reset();
  assert_int_equal(read_manifest(good.data, good.len), 20);
  total_r = tarn_alloc_count();
  for (n = 0; n < total_w; n++) {
    tarn_avro_writer_options o = {.codec = TARN_AVRO_CODEC_DEFLATE, .block_bytes = 512};
    tarn_avro_writer *w = NULL;
    tarn_avro_arena *a = NULL;
    tarn_buf out;
    uint8_t scratch[32];
    int i, rc;
    tarn_buf_init(&out, 1 << 20);
    tarn_alloc_fail_after(n);
    rc = tarn_avro_arena_create(0, &a, &err);
    if (rc == 0)
      rc = tarn_avro_writer_open_buf(s, &o, &out, &w, &err);
    if (rc == 0)
      rc = tarn_avro_writer_set_meta_str(w, "format-version", "2", &err);
    for (i = 0; rc == 0 && i < 20; i++) {
      tarn_avro_arena_reset(a);
      rc = tarn_avro_writer_append(w, build_entry(a, s, i, scratch), &err);
    }
    if (w != NULL) {
      if (rc == 0)
        rc = tarn_avro_writer_close(w, NULL, &err);
      else
        tarn_avro_writer_abort(w);
    }
    tarn_alloc_fail_reset();
    if (rc != 0) {
      if (rc != TARN_ENOMEM)
        fail_msg("failing allocation %ld: %s", n, tarn_error_message(&err));
      assert_int_equal(out.len, 0);
    }
    tarn_avro_arena_destroy(a);
    tarn_buf_free(&out);
  }
  for (n = 0; n < total_r; n++) {
    tarn_avro_reader *r = NULL;
    const tarn_avro_value *rec;
    int rc;
    tarn_alloc_fail_after(n);
    rc = tarn_avro_reader_open_mem(good.data, good.len, NULL, &r, &err);
    while (rc == 0 && (rc = tarn_avro_reader_next(r, &rec, &err)) == 0 && rec != NULL)
      ;
    tarn_alloc_fail_reset();
    if (rc != 0)
      assert_int_equal(rc, TARN_ENOMEM);
    tarn_avro_reader_destroy(r);
  }
  tarn_buf_free(&good);
  tarn_avro_schema_destroy(s);
}

/* ---- performance: a manifest of 10,000 data files ---- */

static void test_perf_10k_entries(void **state) {
  tarn_avro_schema *s = parse_ok(MANIFEST_ENTRY_SCHEMA);
  tarn_avro_writer_options o = {.codec = TARN_AVRO_CODEC_DEFLATE};
  tarn_buf out;
  uint64_t t0, t1, t2;
  (void)state;
  tarn_buf_init(&out, 64 << 20);
  t0 = tarn_clock_mono_ns();
  write_manifest(s, &o, 10000, &out);
  t1 = tarn_clock_mono_ns();
  assert_int_equal(read_manifest(out.data, out.len), 10000);
  t2 = tarn_clock_mono_ns();
  printf("avro: 10,000 manifest entries (%zu bytes, deflate): write %.1f ms, read+check %.1f ms\n",
         out.len, (double)(t1 - t0) / 1e6, (double)(t2 - t1) / 1e6);
  /* well under a second in a release build; the bound leaves room for sanitizers */
  assert_true(t2 - t0 < UINT64_C(3000000000));
  tarn_buf_free(&out);
  tarn_avro_schema_destroy(s);
}

/* ---- interop files (checked by tests/e2e/test_avro_interop.sh) ---- */

static void write_file(const char *dir, const char *name, const tarn_buf *b) {
  char path[4096];
  FILE *f;
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  f = fopen(path, "wb");
  if (f == NULL)
    fail_msg("cannot write %s: %s", path, strerror(errno));
  assert_int_equal(fwrite(b->data, 1, b->len, f), b->len);
  assert_int_equal(fclose(f), 0);
}

static int read_file(const char *dir, const char *name, tarn_buf *b) {
  char path[4096], chunk[65536];
  FILE *f;
  size_t n;
  tarn_error err;
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  f = fopen(path, "rb");
  if (f == NULL)
    return -1;
  while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
    assert_int_equal(tarn_buf_append(b, chunk, n, &err), 0);
  fclose(f);
  return 0;
}

static void write_text(const char *dir, const char *name, const char *text) {
  tarn_buf b;
  tarn_error err;
  tarn_buf_init(&b, 1 << 20);
  assert_int_equal(tarn_buf_append_str(&b, text, &err), 0);
  write_file(dir, name, &b);
  tarn_buf_free(&b);
}

static void write_manifest_list(const tarn_avro_schema *s, tarn_buf *out) {
  tarn_avro_writer_options o = {.codec = TARN_AVRO_CODEC_DEFLATE};
  const tarn_avro_node *parts =
      tarn_avro_node_nonnull(field_type(tarn_avro_schema_root(s), "partitions"));
  tarn_avro_writer *w;
  tarn_avro_arena *a;
  tarn_error err;
  int i;
  assert_int_equal(tarn_avro_arena_create(0, &a, &err), 0);
  assert_int_equal(tarn_avro_writer_open_buf(s, &o, out, &w, &err), 0);
  assert_int_equal(tarn_avro_writer_set_meta_str(w, "snapshot-id", "3051729675574597004", &err), 0);
  assert_int_equal(
      tarn_avro_writer_set_meta_str(w, "parent-snapshot-id", "3051729675574597003", &err), 0);
  assert_int_equal(tarn_avro_writer_set_meta_str(w, "sequence-number", "3", &err), 0);
  assert_int_equal(tarn_avro_writer_set_meta_str(w, "format-version", "2", &err), 0);
  for (i = 0; i < 3; i++) {
    tarn_avro_value *m = tarn_avro_record_new(a, tarn_avro_schema_root(s));
    char *path = tarn_avro_arena_alloc(a, 64);
    snprintf(path, 64, "s3://bucket/db/t/metadata/m%d.avro", i);
    tarn_avro_set(m, "manifest_path", tarn_avro_str(path));
    tarn_avro_set_id(m, 501, tarn_avro_long(5000 + i));
    tarn_avro_set(m, "partition_spec_id", tarn_avro_int(0));
    tarn_avro_set(m, "content", tarn_avro_int(0));
    tarn_avro_set(m, "sequence_number", tarn_avro_long(i + 1));
    tarn_avro_set(m, "min_sequence_number", tarn_avro_long(1));
    tarn_avro_set(m, "added_snapshot_id", tarn_avro_long(SNAP_ID + i));
    tarn_avro_set(m, "added_files_count", tarn_avro_int(10 * i));
    tarn_avro_set(m, "existing_files_count", tarn_avro_int(0));
    tarn_avro_set(m, "deleted_files_count", tarn_avro_int(0));
    tarn_avro_set(m, "added_rows_count", tarn_avro_long(1000 * i));
    tarn_avro_set(m, "existing_rows_count", tarn_avro_long(0));
    tarn_avro_set(m, "deleted_rows_count", tarn_avro_long(0));
    if (i < 2) {
      tarn_avro_value *items = tarn_avro_values_new(a, 2);
      tarn_avro_value *p0 = tarn_avro_record_new(a, parts->items);
      tarn_avro_value *p1 = tarn_avro_record_new(a, parts->items);
      tarn_avro_set(p0, "contains_null", tarn_avro_bool(0));
      tarn_avro_set(p0, "lower_bound", tarn_avro_bytes("\x34\x4d\x00\x00", 4));
      tarn_avro_set(p0, "upper_bound", tarn_avro_bytes("\x3a\x4d\x00\x00", 4));
      tarn_avro_set(p1, "contains_null", tarn_avro_bool(1));
      tarn_avro_set(p1, "contains_nan", tarn_avro_bool(0));
      tarn_avro_set(p1, "lower_bound", tarn_avro_str("cat-0"));
      tarn_avro_set(p1, "upper_bound", tarn_avro_bytes("cat-2", 5));
      items[0] = tarn_avro_record(p0);
      items[1] = tarn_avro_record(p1);
      tarn_avro_set(m, "partitions", tarn_avro_array(items, 2));
    }
    /* lower_bound of p1 was given as a string: bytes are required */
    if (i < 2) {
      assert_int_equal(tarn_avro_writer_append(w, m, &err), TARN_EINVAL);
      assert_string_equal(
          err.detail, "avro: partitions[1].lower_bound: no branch of the union takes type string");
      ((tarn_avro_value *)tarn_avro_get(m, "partitions"))->u.array.items[1].u.record.fields[2] =
          tarn_avro_bytes("cat-0", 5);
    }
    assert_int_equal(tarn_avro_writer_append(w, m, &err), 0);
  }
  assert_int_equal(tarn_avro_writer_close(w, NULL, &err), 0);
  tarn_avro_arena_destroy(a);
}

static void check_manifest_list(const tarn_buf *b) {
  tarn_avro_reader *r;
  const tarn_avro_value *rec, *p;
  tarn_error err;
  int i;
  assert_int_equal(tarn_avro_reader_open_mem(b->data, b->len, NULL, &r, &err), 0);
  assert_string_equal(tarn_avro_reader_meta_str(r, "snapshot-id"), "3051729675574597004");
  for (i = 0; i < 3; i++) {
    assert_int_equal(tarn_avro_reader_next(r, &rec, &err), 0);
    assert_int_equal(tarn_avro_get_id(rec, 501)->u.l, 5000 + i);
    assert_true(tarn_avro_get_id(rec, 503)->u.l == SNAP_ID + i);
    p = tarn_avro_get_id(rec, 507);
    if (i == 2) {
      assert_true(tarn_avro_is_null(p));
      continue;
    }
    assert_int_equal(p->u.array.count, 2);
    assert_int_equal(tarn_avro_get_id(&p->u.array.items[1], 509)->u.b, 1);
    assert_int_equal(tarn_avro_get_id(&p->u.array.items[1], 518)->u.b, 0);
    assert_true(tarn_avro_is_null(tarn_avro_get_id(&p->u.array.items[0], 518)));
    assert_memory_equal(tarn_avro_get_id(&p->u.array.items[1], 511)->u.bytes.p, "cat-2", 5);
  }
  assert_int_equal(tarn_avro_reader_next(r, &rec, &err), 0);
  assert_null(rec);
  tarn_avro_reader_destroy(r);
}

static void test_interop_write(void **state) {
  const char *env = getenv("AVRO_INTEROP_DIR");
  char tmp[] = "/tmp/tarn-avro-interop-XXXXXX";
  const char *dir = env;
  tarn_avro_schema *ml = parse_ok(MANIFEST_LIST_SCHEMA), *me = parse_ok(MANIFEST_ENTRY_SCHEMA),
                   *at = parse_ok(ALL_TYPES_SCHEMA);
  tarn_buf b;
  tarn_error err;
  (void)state;
  if (dir == NULL || dir[0] == '\0') {
    assert_non_null(mkdtemp(tmp));
    dir = tmp;
  }
  tarn_buf_init(&b, 64 << 20);
  /* the manifest list (deflate) */
  write_manifest_list(ml, &b);
  check_manifest_list(&b);
  write_file(dir, "tarn_manifest_list.avro", &b);
  write_text(dir, "tarn_manifest_list.schema.json", MANIFEST_LIST_SCHEMA);
  /* a manifest of 500 entries in many blocks (null codec) */
  tarn_buf_reset(&b);
  {
    tarn_avro_writer_options o = {.block_bytes = 4096};
    write_manifest(me, &o, 500, &b);
  }
  assert_int_equal(read_manifest(b.data, b.len), 500);
  write_file(dir, "tarn_manifest.avro", &b);
  write_text(dir, "tarn_manifest.schema.json", MANIFEST_ENTRY_SCHEMA);
  /* every type (deflate) */
  tarn_buf_reset(&b);
  {
    tarn_avro_writer_options o = {.codec = TARN_AVRO_CODEC_DEFLATE};
    tarn_avro_writer *w;
    tarn_avro_arena *a;
    int k;
    assert_int_equal(tarn_avro_arena_create(0, &a, &err), 0);
    assert_int_equal(tarn_avro_writer_open_buf(at, &o, &b, &w, &err), 0);
    assert_int_equal(tarn_avro_writer_set_meta_str(w, "written-by", "tarn", &err), 0);
    for (k = 0; k < 5; k++)
      assert_int_equal(tarn_avro_writer_append(w, build_all_types(a, at, k), &err), 0);
    assert_int_equal(tarn_avro_writer_close(w, NULL, &err), 0);
    tarn_avro_arena_destroy(a);
  }
  write_file(dir, "tarn_all_types.avro", &b);
  write_text(dir, "tarn_all_types.schema.json", ALL_TYPES_SCHEMA);
  tarn_buf_free(&b);
  if (dir == tmp)
    nftw(tmp, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
  tarn_avro_schema_destroy(ml);
  tarn_avro_schema_destroy(me);
  tarn_avro_schema_destroy(at);
}

/* Record i of the files avsc writes (tests/e2e/avro_interop.mjs, same formulas). */
static void check_avsc_record(const tarn_avro_value *rec, int i) {
  const tarn_avro_value *v;
  char s[64];
  int k;
  assert_true(tarn_avro_get(rec, "n")->type == TARN_AVRO_NULL);
  assert_int_equal(tarn_avro_get(rec, "b")->u.b, i % 2);
  assert_int_equal(tarn_avro_get(rec, "i")->u.i, i * 7919 - 1000000);
  assert_true(tarn_avro_get(rec, "l")->u.l == (int64_t)i * INT64_C(1000000000000) - 7);
  assert_true(tarn_avro_get(rec, "f")->u.f == (float)i + 0.5f);
  assert_true(tarn_avro_get(rec, "d")->u.d == (double)i / 3.0);
  v = tarn_avro_get(rec, "by");
  assert_int_equal(v->u.bytes.len, 2);
  assert_int_equal(v->u.bytes.p[0], i % 256);
  assert_int_equal(v->u.bytes.p[1], (i * 7) % 256);
  snprintf(s, sizeof(s), "str-%d%s", i, i % 2 ? "-ü" : "");
  assert_string_equal(tarn_avro_get(rec, "s")->u.str.p, s);
  assert_int_equal(tarn_avro_get(rec, "e")->u.i, i % 4);
  v = tarn_avro_get(rec, "fx");
  for (k = 0; k < 16; k++)
    assert_int_equal(v->u.bytes.p[k], (i + k) % 256);
  v = tarn_avro_get(rec, "arr");
  assert_int_equal(v->u.array.count, 3);
  assert_int_equal(v->u.array.items[1].u.l, -i);
  assert_int_equal(v->u.array.items[2].u.l, i * 1000);
  v = tarn_avro_get(rec, "m");
  if (i % 3 == 0) {
    assert_int_equal(v->u.map.count, 0);
  } else {
    assert_int_equal(v->u.map.count, 2);
    assert_string_equal(v->u.map.entries[0].key, "a");
    assert_int_equal(v->u.map.entries[0].value.u.i, i);
    assert_string_equal(v->u.map.entries[1].key, "b");
    assert_int_equal(v->u.map.entries[1].value.u.i, -i);
  }
  v = tarn_avro_get(rec, "u");
  assert_int_equal(v->branch, (uint32_t)(i % 3));
  if (i % 3 == 1) {
    snprintf(s, sizeof(s), "u%d", i);
    assert_string_equal(v->u.str.p, s);
  } else if (i % 3 == 2) {
    assert_int_equal(v->u.l, i * 3);
  }
  v = tarn_avro_get(rec, "nested");
  assert_int_equal(tarn_avro_get(v, "x")->u.i, i);
  snprintf(s, sizeof(s), "t%d", i);
  assert_string_equal(tarn_avro_get(v, "tags")->u.array.items[0].u.str.p, s);
  v = tarn_avro_get(rec, "opt_rec");
  if (i % 2)
    assert_int_equal(tarn_avro_get(v, "x")->u.i, -i);
  else
    assert_true(tarn_avro_is_null(v));
  v = tarn_avro_get(rec, "dec");
  assert_int_equal(v->u.bytes.len, 2);
  assert_int_equal(v->u.bytes.p[1], i % 256);
  snprintf(s, sizeof(s), "00000000-0000-4000-8000-%012d", i);
  assert_string_equal(tarn_avro_get(rec, "uuid")->u.str.p, s);
  assert_true(tarn_avro_get(rec, "ts")->u.l == INT64_C(1700000000000000) + i);
  assert_int_equal(tarn_avro_get(rec, "date")->u.i, 19000 + i);
  assert_true(tarn_avro_get(rec, "time")->u.l == (int64_t)i * 1000);
}

static void test_interop_read(void **state) {
  const char *dir = getenv("AVRO_INTEROP_DIR");
  static const char *files[2] = {"avsc_null.avro", "avsc_deflate.avro"};
  tarn_buf b;
  tarn_error err;
  int f;
  (void)state;
  if (dir == NULL || dir[0] == '\0') {
    printf("avro: AVRO_INTEROP_DIR not set; files written by avsc are checked by "
           "e2e.test_avro_interop\n");
    return;
  }
  tarn_buf_init(&b, 64 << 20);
  for (f = 0; f < 2; f++) {
    tarn_avro_reader *r;
    const tarn_avro_value *rec;
    const tarn_avro_field *fid;
    int n = 0;
    tarn_buf_reset(&b);
    if (read_file(dir, files[f], &b) != 0)
      fail_msg("AVRO_INTEROP_DIR=%s has no %s (run the node script's write step first)", dir,
               files[f]);
    if (tarn_avro_reader_open_mem(b.data, b.len, NULL, &r, &err) != 0)
      fail_msg("%s: %s", files[f], tarn_error_message(&err));
    assert_int_equal(tarn_avro_reader_codec(r),
                     f == 0 ? TARN_AVRO_CODEC_NULL : TARN_AVRO_CODEC_DEFLATE);
    assert_string_equal(tarn_avro_reader_meta_str(r, "written-by"), "avsc");
    /* avsc given the plain schema keeps field-id in the header */
    fid = tarn_avro_node_field_by_id(tarn_avro_schema_root(tarn_avro_reader_schema(r)), 21);
    assert_non_null(fid);
    assert_string_equal(fid->name, "opt_rec");
    for (;;) {
      if (tarn_avro_reader_next(r, &rec, &err) != 0)
        fail_msg("%s: %s", files[f], tarn_error_message(&err));
      if (rec == NULL)
        break;
      check_avsc_record(rec, n++);
    }
    assert_int_equal(n, 300);
    tarn_avro_reader_destroy(r);
  }
  /* 64-bit extremes written with a BigInt long type */
  {
    tarn_avro_reader *r;
    const tarn_avro_value *rec;
    static const int64_t want[4] = {INT64_MIN, INT64_MAX, -1, 0};
    int n;
    tarn_buf_reset(&b);
    if (read_file(dir, "avsc_bigint.avro", &b) != 0)
      fail_msg("AVRO_INTEROP_DIR=%s has no avsc_bigint.avro", dir);
    assert_int_equal(tarn_avro_reader_open_mem(b.data, b.len, NULL, &r, &err), 0);
    for (n = 0; n < 4; n++) {
      assert_int_equal(tarn_avro_reader_next(r, &rec, &err), 0);
      assert_non_null(rec);
      assert_true(tarn_avro_get(rec, "big")->u.l == want[n]);
      assert_true(tarn_avro_get(rec, "neg")->u.l == -(want[n] / 2));
    }
    assert_int_equal(tarn_avro_reader_next(r, &rec, &err), 0);
    assert_null(rec);
    tarn_avro_reader_destroy(r);
  }
  printf("avro: read 300 + 300 + 4 records written by avsc\n");
  tarn_buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_varint_vectors),
      cmocka_unit_test(test_utf8_check),
      cmocka_unit_test(test_schema_manifest),
      cmocka_unit_test(test_schema_all_types),
      cmocka_unit_test(test_schema_names),
      cmocka_unit_test(test_schema_errors),
      cmocka_unit_test(test_schema_defaults_ok),
      cmocka_unit_test(test_schema_to_json),
      cmocka_unit_test(test_roundtrip_null),
      cmocka_unit_test(test_roundtrip_deflate),
      cmocka_unit_test(test_roundtrip_snappy),
      cmocka_unit_test(test_roundtrip_zstd),
      cmocka_unit_test(test_manifest_multiblock),
      cmocka_unit_test(test_header_metadata),
      cmocka_unit_test(test_meta_after_append),
      cmocka_unit_test(test_unions),
      cmocka_unit_test(test_nested_and_recursive),
      cmocka_unit_test(test_validation_errors),
      cmocka_unit_test(test_defaults_written),
      cmocka_unit_test(test_buf_cap),
      cmocka_unit_test(test_store_writer),
      cmocka_unit_test(test_hostile_truncation_and_flips),
      cmocka_unit_test(test_hostile_crafted),
      cmocka_unit_test(test_hostile_codecs),
      cmocka_unit_test(test_alloc_failures),
      cmocka_unit_test(test_perf_10k_entries),
      cmocka_unit_test(test_interop_write),
      cmocka_unit_test(test_interop_read),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
