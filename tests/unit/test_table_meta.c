/* test_table_meta.c - Iceberg types, bound serialization, transforms and metadata JSON. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/uuid.h"
#include "table/table.h"
#include "table/table_int.h"

static tarn_ice_type T(tarn_ice_type_id id) {
  tarn_ice_type t;
  memset(&t, 0, sizeof(t));
  t.id = id;
  return t;
}

static void test_type_parse_format(void **state) {
  static const char *const good[] = {
      "boolean", "int",    "long",      "float",          "double",
      "date",    "time",   "timestamp", "timestamptz",    "string",
      "uuid",    "binary", "fixed[16]", "decimal(10, 2)", "decimal(38, 0)"};
  static const char *const bad[] = {"decimal(39, 0)", "decimal(5, 6)", "fixed[0]", "fixed[x]",
                                    "struct",         "list<int>",     "",         "Int"};
  tarn_ice_type t;
  char buf[64];
  size_t i;
  for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    assert_int_equal(tarn_ice_type_parse(good[i], &t, NULL), 0);
    tarn_ice_type_format(&t, buf, sizeof(buf));
    assert_string_equal(buf, good[i]);
  }
  assert_int_equal(tarn_ice_type_parse("decimal(10,2)", &t, NULL), 0);
  assert_int_equal(t.precision, 10);
  assert_int_equal(t.scale, 2);
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_int_not_equal(tarn_ice_type_parse(bad[i], &t, NULL), 0);
}

static void check_hash(tarn_ice_type_id id, const tarn_ice_value *v, int32_t want) {
  tarn_ice_transform b = {TARN_ICE_BUCKET, 0x7fffffff};
  tarn_ice_type t = T(id);
  tarn_ice_value out;
  tarn_buf scratch;
  uint32_t h;
  tarn_buf_init(&scratch, 64);
  if (id == TARN_ICE_DECIMAL) {
    t.precision = 9;
    t.scale = 2;
  }
  /* bucket[2^31-1] of the hash reveals (hash & MAX) % MAX: compare against the spec hash */
  assert_int_equal(tarn_ice_transform_apply(&b, &t, v, &out, &scratch, NULL), 0);
  h = (uint32_t)want & 0x7fffffffu;
  assert_int_equal(out.i64, (int64_t)(h % 0x7fffffffu));
  tarn_buf_free(&scratch);
}

/* The spec's Appendix B hash examples. */
static void test_bucket_spec_vectors(void **state) {
  tarn_ice_value v;
  tarn_uuid u;
  static const uint8_t bin[] = {0, 1, 2, 3};
  memset(&v, 0, sizeof(v));
  assert_int_equal((int32_t)tarn_ice_murmur3_32("iceberg", 7), 1210000089);
  v.i64 = 34;
  check_hash(TARN_ICE_INT, &v, 2017239379);
  check_hash(TARN_ICE_LONG, &v, 2017239379);
  v.i64 = 1420; /* 14.20 as decimal(9,2) */
  check_hash(TARN_ICE_DECIMAL, &v, -500754589);
  v.i64 = 17486; /* 2017-11-16 */
  check_hash(TARN_ICE_DATE, &v, -653330422);
  v.i64 = 81068000000LL; /* 22:31:08 */
  check_hash(TARN_ICE_TIME, &v, -662762989);
  v.i64 = 1510871468000000LL; /* 2017-11-16T22:31:08 */
  check_hash(TARN_ICE_TIMESTAMP, &v, -2047944441);
  check_hash(TARN_ICE_TIMESTAMPTZ, &v, -2047944441); /* 2017-11-16T14:31:08-08:00 */
  memset(&v, 0, sizeof(v));
  v.bytes = (const uint8_t *)"iceberg";
  v.len = 7;
  check_hash(TARN_ICE_STRING, &v, 1210000089);
  assert_int_equal(tarn_uuid_parse("f79c3e09-677c-4bbd-a479-3f349cb785e7", &u, NULL), 0);
  v.bytes = u.b;
  v.len = 16;
  check_hash(TARN_ICE_UUID, &v, 1488055340);
  v.bytes = bin;
  v.len = 4;
  check_hash(TARN_ICE_BINARY, &v, -188683207);
  check_hash(TARN_ICE_FIXED, &v, -188683207);
}

static void test_bucket_small_n(void **state) {
  tarn_ice_transform b = {TARN_ICE_BUCKET, 16};
  tarn_ice_type t = T(TARN_ICE_LONG);
  tarn_ice_value v, out;
  memset(&v, 0, sizeof(v));
  v.i64 = 34;
  assert_int_equal(tarn_ice_transform_apply(&b, &t, &v, &out, NULL, NULL), 0);
  assert_int_equal(out.i64, 3); /* (2017239379 & MAX) % 16 */
  v.is_null = 1;
  assert_int_equal(tarn_ice_transform_apply(&b, &t, &v, &out, NULL, NULL), 0);
  assert_true(out.is_null);
}

/* The spec's truncate examples. */
static void test_truncate(void **state) {
  tarn_ice_transform tr10 = {TARN_ICE_TRUNCATE, 10}, tr3 = {TARN_ICE_TRUNCATE, 3};
  tarn_ice_transform tr50 = {TARN_ICE_TRUNCATE, 50};
  tarn_ice_type ti = T(TARN_ICE_INT), tl = T(TARN_ICE_LONG), ts = T(TARN_ICE_STRING);
  tarn_ice_type td = T(TARN_ICE_DECIMAL), tb = T(TARN_ICE_BINARY);
  tarn_ice_value v, out;
  tarn_buf scratch;
  static const uint8_t wide[] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x29}; /* 1065 */
  tarn_buf_init(&scratch, 64);
  memset(&v, 0, sizeof(v));
  v.i64 = 1;
  assert_int_equal(tarn_ice_transform_apply(&tr10, &ti, &v, &out, &scratch, NULL), 0);
  assert_int_equal(out.i64, 0);
  v.i64 = -1;
  assert_int_equal(tarn_ice_transform_apply(&tr10, &ti, &v, &out, &scratch, NULL), 0);
  assert_int_equal(out.i64, -10);
  v.i64 = -1;
  assert_int_equal(tarn_ice_transform_apply(&tr10, &tl, &v, &out, &scratch, NULL), 0);
  assert_int_equal(out.i64, -10);
  td.precision = 9;
  td.scale = 2;
  v.i64 = 1065; /* 10.65 -> 10.50 */
  assert_int_equal(tarn_ice_transform_apply(&tr50, &td, &v, &out, &scratch, NULL), 0);
  assert_int_equal(out.i64, 1050);
  v.wide = 1;
  v.bytes = wide;
  v.len = sizeof(wide);
  assert_int_equal(tarn_ice_transform_apply(&tr50, &td, &v, &out, &scratch, NULL), 0);
  assert_true(out.wide);
  assert_int_equal(out.len, 2);
  assert_int_equal(out.bytes[0], 0x04);
  assert_int_equal(out.bytes[1], 0x1a); /* 1050 */
  memset(&v, 0, sizeof(v));
  v.bytes = (const uint8_t *)"iceberg";
  v.len = 7;
  assert_int_equal(tarn_ice_transform_apply(&tr3, &ts, &v, &out, &scratch, NULL), 0);
  assert_int_equal(out.len, 3);
  assert_memory_equal(out.bytes, "ice", 3);
  v.bytes = (const uint8_t *)"\xc3\xa9t\xc3\xa9s"; /* "étés": 3 code points = 5 bytes */
  v.len = 6;
  assert_int_equal(tarn_ice_transform_apply(&tr3, &ts, &v, &out, &scratch, NULL), 0);
  assert_int_equal(out.len, 5);
  assert_int_equal(tarn_ice_transform_apply(&tr3, &tb, &v, &out, &scratch, NULL), 0);
  assert_int_equal(out.len, 3);
  tarn_buf_free(&scratch);
}

static int64_t trunc_of(int32_t w, tarn_ice_type_id id, int64_t v) {
  tarn_ice_transform tr = {TARN_ICE_TRUNCATE, w};
  tarn_ice_type t = T(id);
  tarn_ice_value in, out;
  memset(&in, 0, sizeof(in));
  in.i64 = v;
  assert_int_equal(tarn_ice_transform_apply(&tr, &t, &in, &out, NULL, NULL), 0);
  return out.i64;
}

/* Java computes v - (((v % W) + W) % W) in int or long arithmetic, which wraps; so do we,
 * bit for bit, and the pruning side knows which sources each wrapped value holds. */
static void test_truncate_wraps_like_java(void **state) {
  int64_t lo, hi;
  assert_int_equal(trunc_of(10, TARN_ICE_INT, INT32_MIN), 2147483646);
  assert_int_equal(trunc_of(10, TARN_ICE_INT, INT32_MIN + 7), 2147483646);
  assert_int_equal(trunc_of(10, TARN_ICE_INT, INT32_MIN + 8), -2147483640);
  assert_int_equal(trunc_of(10, TARN_ICE_INT, INT32_MAX), 2147483640);
  assert_int_equal(trunc_of(3, TARN_ICE_INT, INT32_MIN), 2147483647); /* -2147483649 wrapped */
  assert_int_equal(trunc_of(16, TARN_ICE_INT, INT32_MIN), INT32_MIN);
  /* (v % W) + W wraps for W above 2^30: Java's int arithmetic gives -2147483647 */
  assert_int_equal(trunc_of(INT32_MAX, TARN_ICE_INT, 2147483646), -2147483647);
  assert_int_equal(trunc_of(INT32_MAX, TARN_ICE_INT, -1), -2147483647);
  assert_true(trunc_of(10, TARN_ICE_LONG, INT64_MIN) == INT64_MAX - 1);
  assert_true(trunc_of(10, TARN_ICE_LONG, INT64_MIN + 8) == INT64_MIN + 8);
  assert_true(trunc_of(3, TARN_ICE_LONG, INT64_MAX) == INT64_MAX - 1);
  /* -2^63 % W = -2 (2^31 = 1 mod W), so -2^63 - (W - 2), wrapped: 2^63 - W + 2 */
  assert_true(trunc_of(INT32_MAX, TARN_ICE_LONG, INT64_MIN) == INT64_MAX - INT32_MAX + 3);
  /* sources of partition values */
  tarn__ice_truncate_source_range(10, 0, 0, 0, &lo, &hi);
  assert_true(lo == 0 && hi == 9);
  tarn__ice_truncate_source_range(10, 0, 2147483646, 2147483646, &lo, &hi); /* wrapped */
  assert_true(lo == INT32_MIN && hi == INT32_MIN + 7);
  tarn__ice_truncate_source_range(10, 0, 2147483640, 2147483640, &lo, &hi); /* aligned top */
  assert_true(lo == 2147483640 && hi == INT32_MAX);
  tarn__ice_truncate_source_range(10, 0, 0, 2147483640, &lo, &hi); /* no wrapped one fits */
  assert_true(lo == 0 && hi == INT32_MAX);
  tarn__ice_truncate_source_range(10, 0, -20, 2147483646, &lo, &hi); /* a wrapped one may */
  assert_true(lo == INT32_MIN && hi == INT32_MAX);
  tarn__ice_truncate_source_range(16, 0, -32, 2147483632, &lo, &hi); /* 2^k: never wraps */
  assert_true(lo == -32 && hi == INT32_MAX);
  tarn__ice_truncate_source_range(10, 0, -20, 100, &lo, &hi);
  assert_true(lo == -20 && hi == 109);
  tarn__ice_truncate_source_range(1 << 30 | 1, 0, 0, 0, &lo, &hi); /* no order at all */
  assert_true(lo == INT32_MIN && hi == INT32_MAX);
  tarn__ice_truncate_source_range(10, 1, INT64_MAX - 1, INT64_MAX - 1, &lo, &hi);
  assert_true(lo == INT64_MIN && hi == INT64_MIN + 7);
  assert_int_equal(trunc_of(3, TARN_ICE_INT, INT32_MIN + 1), 2147483647);
  assert_int_equal(trunc_of(3, TARN_ICE_INT, INT32_MIN + 2), INT32_MIN + 2);
  tarn__ice_truncate_source_range(3, 0, 2147483647, 2147483647, &lo, &hi);
  assert_true(lo == INT32_MIN && hi == INT32_MIN + 1);
  tarn__ice_truncate_source_range(10, 1, -10, 0, &lo, &hi);
  assert_true(lo == -10 && hi == 9);
}

static void test_time_transforms(void **state) {
  tarn_ice_transform year = {TARN_ICE_YEAR, 0}, month = {TARN_ICE_MONTH, 0};
  tarn_ice_transform day = {TARN_ICE_DAY, 0}, hour = {TARN_ICE_HOUR, 0};
  tarn_ice_type ts = T(TARN_ICE_TIMESTAMP), date = T(TARN_ICE_DATE), rt;
  tarn_ice_value v, out;
  tarn_buf b;
  memset(&v, 0, sizeof(v));
  tarn_buf_init(&b, 256);
  v.i64 = 1510871468000000LL; /* 2017-11-16T22:31:08 */
  assert_int_equal(tarn_ice_transform_apply(&year, &ts, &v, &out, NULL, NULL), 0);
  assert_int_equal(out.i64, 47);
  assert_int_equal(tarn_ice_transform_apply(&month, &ts, &v, &out, NULL, NULL), 0);
  assert_int_equal(out.i64, 47 * 12 + 10);
  tarn_ice_transform_result_type(&month, &ts, &rt, NULL);
  assert_int_equal(tarn_ice_partition_human(&month, &rt, &out, 1, &b, NULL), 0);
  assert_string_equal(b.data, "2017-11");
  assert_int_equal(tarn_ice_transform_apply(&day, &ts, &v, &out, NULL, NULL), 0);
  assert_int_equal(out.i64, 17486);
  tarn_ice_transform_result_type(&day, &ts, &rt, NULL);
  assert_int_equal(rt.id, TARN_ICE_DATE);
  tarn_buf_reset(&b);
  assert_int_equal(tarn_ice_partition_human(&day, &rt, &out, 1, &b, NULL), 0);
  assert_string_equal(b.data, "2017-11-16");
  assert_int_equal(tarn_ice_transform_apply(&hour, &ts, &v, &out, NULL, NULL), 0);
  assert_int_equal(out.i64, 1510871468 / 3600);
  tarn_ice_transform_result_type(&hour, &ts, &rt, NULL);
  tarn_buf_reset(&b);
  assert_int_equal(tarn_ice_partition_human(&hour, &rt, &out, 1, &b, NULL), 0);
  assert_string_equal(b.data, "2017-11-16-22");
  /* before the epoch: floor, not truncation toward zero */
  v.i64 = -1;
  assert_int_equal(tarn_ice_transform_apply(&day, &ts, &v, &out, NULL, NULL), 0);
  assert_int_equal(out.i64, -1);
  assert_int_equal(tarn_ice_transform_apply(&year, &ts, &v, &out, NULL, NULL), 0);
  assert_int_equal(out.i64, -1);
  assert_int_equal(tarn_ice_transform_apply(&hour, &ts, &v, &out, NULL, NULL), 0);
  assert_int_equal(out.i64, -1);
  v.i64 = 17486;
  assert_int_equal(tarn_ice_transform_apply(&month, &date, &v, &out, NULL, NULL), 0);
  assert_int_equal(out.i64, 574);
  /* hour of a date does not apply */
  assert_int_equal(tarn_ice_transform_apply(&hour, &date, &v, &out, NULL, NULL), TARN_EINVAL);
  tarn_buf_free(&b);
}

static void test_partition_human_escaping(void **state) {
  tarn_ice_transform id = {TARN_ICE_IDENTITY, 0};
  tarn_ice_type ts = T(TARN_ICE_STRING), tt = T(TARN_ICE_TIMESTAMPTZ);
  tarn_ice_type td = T(TARN_ICE_DECIMAL);
  tarn_ice_value v;
  tarn_buf b;
  tarn_buf_init(&b, 256);
  memset(&v, 0, sizeof(v));
  v.bytes = (const uint8_t *)"a b/c=d&é";
  v.len = strlen("a b/c=d&é");
  assert_int_equal(tarn_ice_partition_human(&id, &ts, &v, 1, &b, NULL), 0);
  assert_string_equal(b.data, "a+b%2Fc%3Dd%26%C3%A9");
  tarn_buf_reset(&b);
  v.i64 = 1510871468000000LL;
  assert_int_equal(tarn_ice_partition_human(&id, &tt, &v, 0, &b, NULL), 0);
  assert_string_equal(b.data, "2017-11-16T22:31:08Z");
  tarn_buf_reset(&b);
  td.precision = 9;
  td.scale = 2;
  v.i64 = -5;
  assert_int_equal(tarn_ice_partition_human(&id, &td, &v, 0, &b, NULL), 0);
  assert_string_equal(b.data, "-0.05");
  tarn_buf_reset(&b);
  v.is_null = 1;
  assert_int_equal(tarn_ice_partition_human(&id, &td, &v, 0, &b, NULL), 0);
  assert_string_equal(b.data, "null");
  tarn_buf_free(&b);
}

/* Appendix D: single-value serialization. */
static void test_value_serialization(void **state) {
  tarn_ice_type t;
  tarn_ice_value v, back;
  tarn_buf b;
  tarn_buf_init(&b, 64);
  memset(&v, 0, sizeof(v));
  t = T(TARN_ICE_INT);
  v.i64 = -2;
  assert_int_equal(tarn_ice_value_serialize(&t, &v, &b, NULL), 0);
  assert_int_equal(b.len, 4);
  assert_memory_equal(b.data, "\xfe\xff\xff\xff", 4);
  assert_int_equal(tarn_ice_value_deserialize(&t, (uint8_t *)b.data, b.len, &back, NULL), 0);
  assert_int_equal(back.i64, -2);
  tarn_buf_reset(&b);
  t = T(TARN_ICE_TIMESTAMPTZ);
  v.i64 = 1;
  assert_int_equal(tarn_ice_value_serialize(&t, &v, &b, NULL), 0);
  assert_memory_equal(b.data, "\x01\0\0\0\0\0\0\0", 8);
  tarn_buf_reset(&b);
  t = T(TARN_ICE_DECIMAL);
  t.precision = 10;
  t.scale = 2;
  v.i64 = 1420; /* 0x058c */
  assert_int_equal(tarn_ice_value_serialize(&t, &v, &b, NULL), 0);
  assert_int_equal(b.len, 2);
  assert_memory_equal(b.data, "\x05\x8c", 2);
  tarn_buf_reset(&b);
  v.i64 = 128; /* needs a leading zero byte to stay positive */
  assert_int_equal(tarn_ice_value_serialize(&t, &v, &b, NULL), 0);
  assert_int_equal(b.len, 2);
  assert_memory_equal(b.data, "\x00\x80", 2);
  assert_int_equal(tarn_ice_value_deserialize(&t, (uint8_t *)b.data, b.len, &back, NULL), 0);
  assert_int_equal(back.i64, 128);
  tarn_buf_reset(&b);
  v.i64 = -1;
  assert_int_equal(tarn_ice_value_serialize(&t, &v, &b, NULL), 0);
  assert_int_equal(b.len, 1);
  assert_memory_equal(b.data, "\xff", 1);
  tarn_buf_reset(&b);
  v.i64 = -129;
  assert_int_equal(tarn_ice_value_serialize(&t, &v, &b, NULL), 0);
  assert_int_equal(b.len, 2);
  assert_memory_equal(b.data, "\xff\x7f", 2);
  assert_int_equal(tarn_ice_value_deserialize(&t, (uint8_t *)b.data, b.len, &back, NULL), 0);
  assert_int_equal(back.i64, -129);
  /* wrong lengths are corrupt */
  t = T(TARN_ICE_INT);
  assert_int_equal(tarn_ice_value_deserialize(&t, (const uint8_t *)"\1\2", 2, &back, NULL),
                   TARN_ECORRUPT);
  tarn_buf_free(&b);
}

static void test_value_compare(void **state) {
  tarn_ice_type t = T(TARN_ICE_STRING), d = T(TARN_ICE_DECIMAL);
  tarn_ice_value a, b;
  memset(&a, 0, sizeof(a));
  memset(&b, 0, sizeof(b));
  a.bytes = (const uint8_t *)"\xc3\xa9"; /* é sorts after z as unsigned bytes */
  a.len = 2;
  b.bytes = (const uint8_t *)"z";
  b.len = 1;
  assert_true(tarn_ice_value_compare(&t, &a, &b) > 0);
  d.precision = 30;
  a.wide = 1;
  a.bytes = (const uint8_t *)"\xff\xff"; /* -1 */
  a.len = 2;
  b.i64 = 0;
  assert_true(tarn_ice_value_compare(&d, &a, &b) < 0);
  b.i64 = -2;
  assert_true(tarn_ice_value_compare(&d, &a, &b) > 0);
}

static const char *sample_metadata =
    "{\n"
    "  \"format-version\": 2,\n"
    "  \"table-uuid\": \"9c12d441-03fe-4693-9a96-a0705ddf69c1\",\n"
    "  \"location\": \"s3://bucket/test/location\",\n"
    "  \"last-sequence-number\": 34,\n"
    "  \"last-updated-ms\": 1602638573590,\n"
    "  \"last-column-id\": 3,\n"
    "  \"current-schema-id\": 1,\n"
    "  \"schemas\": [\n"
    "    {\"type\": \"struct\", \"schema-id\": 0, \"fields\": [{\"id\": 1, \"name\": \"x\", "
    "\"required\": true, \"type\": \"long\"}]},\n"
    "    {\"type\": \"struct\", \"schema-id\": 1, \"identifier-field-ids\": [1, 2], \"fields\": [\n"
    "      {\"id\": 1, \"name\": \"x\", \"required\": true, \"type\": \"long\"},\n"
    "      {\"id\": 2, \"name\": \"y\", \"required\": true, \"type\": \"long\", \"doc\": "
    "\"comment\"},\n"
    "      {\"id\": 3, \"name\": \"z\", \"required\": false, \"type\": \"decimal(10, 2)\"}]}\n"
    "  ],\n"
    "  \"default-spec-id\": 0,\n"
    "  \"partition-specs\": [{\"spec-id\": 0, \"fields\": [{\"name\": \"x\", \"transform\": "
    "\"identity\", \"source-id\": 1, \"field-id\": 1000}]}],\n"
    "  \"last-partition-id\": 1000,\n"
    "  \"default-sort-order-id\": 3,\n"
    "  \"sort-orders\": [{\"order-id\": 3, \"fields\": [{\"transform\": \"identity\", "
    "\"source-id\": 2, \"direction\": \"asc\", \"null-order\": \"nulls-first\"}, {\"transform\": "
    "\"bucket[4]\", \"source-id\": 3, \"direction\": \"desc\", \"null-order\": "
    "\"nulls-last\"}]}],\n"
    "  \"properties\": {\"read.split.target.size\": \"134217728\"},\n"
    "  \"current-snapshot-id\": 3055729675574597004,\n"
    "  \"snapshots\": [\n"
    "    {\"snapshot-id\": 3051729675574597004, \"timestamp-ms\": 1515100955770, "
    "\"sequence-number\": 0, \"summary\": {\"operation\": \"append\"}, \"manifest-list\": "
    "\"s3://a/b/1.avro\"},\n"
    "    {\"snapshot-id\": 3055729675574597004, \"parent-snapshot-id\": 3051729675574597004, "
    "\"timestamp-ms\": 1555100955770, \"sequence-number\": 1, \"summary\": {\"operation\": "
    "\"append\", \"added-data-files\": \"4\"}, \"manifest-list\": \"s3://a/b/2.avro\", "
    "\"schema-id\": 1}\n"
    "  ],\n"
    "  \"snapshot-log\": [{\"snapshot-id\": 3051729675574597004, \"timestamp-ms\": "
    "1515100955770}, {\"snapshot-id\": 3055729675574597004, \"timestamp-ms\": 1555100955770}],\n"
    "  \"metadata-log\": [{\"metadata-file\": \"s3://bucket/.../v1.json\", \"timestamp-ms\": "
    "1515100}],\n"
    "  \"refs\": {\"main\": {\"snapshot-id\": 3055729675574597004, \"type\": \"branch\"}, "
    "\"t1\": {\"snapshot-id\": 3051729675574597004, \"type\": \"tag\", \"max-ref-age-ms\": 1}},\n"
    "  \"statistics\": [{\"snapshot-id\": 3055729675574597004, \"statistics-path\": \"s3://x\", "
    "\"file-size-in-bytes\": 413, \"file-footer-size-in-bytes\": 42, \"blob-metadata\": []}]\n"
    "}\n";

static void test_metadata_round_trip(void **state) {
  tarn_ice_metadata m, m2;
  tarn_buf out, out2;
  const tarn_ice_snapshot *s;
  tarn_error err;
  assert_int_equal(tarn_ice_metadata_parse(sample_metadata, strlen(sample_metadata), &m, &err), 0);
  assert_int_equal(m.format_version, 2);
  assert_string_equal(m.table_uuid, "9c12d441-03fe-4693-9a96-a0705ddf69c1");
  assert_int_equal(m.last_sequence_number, 34);
  assert_int_equal(m.nschemas, 2);
  assert_int_equal(m.schemas[1].nfields, 3);
  assert_int_equal(m.schemas[1].fields[2].type.id, TARN_ICE_DECIMAL);
  assert_string_equal(m.schemas[1].fields[1].doc, "comment");
  assert_int_equal(m.nspecs, 1);
  assert_int_equal(m.specs[0].fields[0].field_id, 1000);
  assert_int_equal(m.sort_orders[0].fields[1].transform.kind, TARN_ICE_BUCKET);
  assert_true(m.sort_orders[0].fields[1].descending);
  assert_true(m.sort_orders[0].fields[0].nulls_first);
  assert_int_equal(m.current_snapshot_id, 3055729675574597004LL);
  s = tarn_ice_metadata_snapshot(&m, 3055729675574597004LL);
  assert_non_null(s);
  assert_int_equal(s->parent_id, 3051729675574597004LL);
  assert_string_equal(s->operation, "append");
  assert_int_equal(s->nsummary, 1);
  assert_string_equal(s->summary[0].key, "added-data-files");
  assert_int_equal(m.snapshots[0].parent_id, -1);
  assert_int_equal(m.snapshots[0].schema_id, -1);
  assert_int_equal(m.nrefs, 2);
  assert_string_equal(tarn_ice_metadata_property(&m, "read.split.target.size"), "134217728");
  /* write and re-read: equal, and unknown fields (statistics) survive */
  tarn_buf_init(&out, TARN_BUF_UNLIMITED);
  assert_int_equal(tarn_ice_metadata_write(&m, &out, &err), 0);
  assert_non_null(strstr(out.data, "\"statistics\""));
  assert_non_null(strstr(out.data, "\"decimal(10, 2)\""));
  assert_int_equal(tarn_ice_metadata_parse(out.data, out.len, &m2, &err), 0);
  tarn_buf_init(&out2, TARN_BUF_UNLIMITED);
  assert_int_equal(tarn_ice_metadata_write(&m2, &out2, &err), 0);
  assert_string_equal(out.data, out2.data);
  tarn_buf_free(&out);
  tarn_buf_free(&out2);
  tarn_ice_metadata_free(&m);
  tarn_ice_metadata_free(&m2);
}

/* tarn_ice_metadata_copy: what commits build the next version from. */
static void test_metadata_copy(void **state) {
  tarn_ice_metadata m, c;
  tarn_buf a, b;
  tarn_error err;
  long n;
  (void)state;
  assert_int_equal(tarn_ice_metadata_parse(sample_metadata, strlen(sample_metadata), &m, &err), 0);
  assert_int_equal(tarn_ice_metadata_copy(&c, &m, &err), 0);
  /* the copy writes exactly what the original writes, unknown fields included */
  tarn_buf_init(&a, TARN_BUF_UNLIMITED);
  tarn_buf_init(&b, TARN_BUF_UNLIMITED);
  assert_int_equal(tarn_ice_metadata_write(&m, &a, &err), 0);
  assert_int_equal(tarn_ice_metadata_write(&c, &b, &err), 0);
  assert_string_equal(a.data, b.data);
  /* and shares nothing with it */
  assert_ptr_not_equal(c.snapshots[1].summary[0].value, m.snapshots[1].summary[0].value);
  c.snapshots[1].summary[0].value[0] = '9';
  c.specs[0].fields[0].name[0] = 'q';
  c.schemas[1].fields[1].name[0] = 'w';
  c.refs[0].name[0] = 'M';
  assert_string_equal(m.snapshots[1].summary[0].value, "4");
  assert_string_equal(m.specs[0].fields[0].name, "x");
  assert_string_equal(m.schemas[1].fields[1].name, "y");
  assert_string_equal(m.refs[0].name, "main");
  tarn_ice_metadata_free(&c);
  /* every allocation failure is TARN_ENOMEM with nothing leaked (LeakSanitizer checks) */
  for (n = 0;; n++) {
    int rc;
    tarn_alloc_fail_after(n);
    rc = tarn_ice_metadata_copy(&c, &m, &err);
    tarn_alloc_fail_reset();
    if (rc == 0)
      break;
    assert_int_equal(rc, TARN_ENOMEM);
    assert_int_equal(c.nsnapshots, 0);
  }
  assert_true(n > 10);
  tarn_buf_reset(&b);
  assert_int_equal(tarn_ice_metadata_write(&c, &b, &err), 0);
  assert_string_equal(a.data, b.data);
  tarn_ice_metadata_free(&c);
  tarn_ice_metadata_free(&m);
  tarn_buf_free(&a);
  tarn_buf_free(&b);
}

static void test_metadata_errors(void **state) {
  tarn_ice_metadata m;
  tarn_error err;
  const char *missing = "{\"format-version\": 2, \"location\": \"x\"}";
  const char *v3 = "{\"format-version\": 9}";
  assert_int_equal(tarn_ice_metadata_parse(missing, strlen(missing), &m, &err), TARN_ECORRUPT);
  assert_non_null(strstr(err.detail, "table-uuid"));
  assert_int_equal(tarn_ice_metadata_parse(v3, strlen(v3), &m, &err), TARN_EUNSUPPORTED);
  assert_int_equal(tarn_ice_metadata_parse("[1]", 3, &m, &err), TARN_ECORRUPT);
  assert_int_equal(tarn_ice_metadata_parse("{", 1, &m, &err), TARN_ECORRUPT);
  assert_non_null(strstr(err.detail, "line 1"));
}

/* Nested types: the spec's JSON forms round trip; ids are unique across the schema; DDL
 * text gets Iceberg's fresh ids; copies are deep; data files refuse them by name. */
static void test_nested_schema(void **state) {
  static const char *json_text =
      "{\"type\":\"struct\",\"schema-id\":3,\"fields\":["
      "{\"id\":1,\"name\":\"id\",\"required\":true,\"type\":\"long\"},"
      "{\"id\":2,\"name\":\"emb\",\"required\":false,\"type\":{\"type\":\"list\","
      "\"element-id\":5,\"element\":\"float\",\"element-required\":true}},"
      "{\"id\":3,\"name\":\"attrs\",\"required\":false,\"type\":{\"type\":\"map\","
      "\"key-id\":6,\"key\":\"string\",\"value-id\":7,\"value\":\"string\","
      "\"value-required\":false}},"
      "{\"id\":4,\"name\":\"who\",\"required\":false,\"type\":{\"type\":\"struct\","
      "\"fields\":[{\"id\":8,\"name\":\"name\",\"required\":false,\"type\":\"string\"},"
      "{\"id\":9,\"name\":\"tags\",\"required\":true,\"type\":{\"type\":\"list\","
      "\"element-id\":10,\"element\":{\"type\":\"struct\",\"fields\":[{\"id\":11,"
      "\"name\":\"k\",\"required\":true,\"type\":\"decimal(10, 2)\"}]},"
      "\"element-required\":false}}]}}]}";
  tarn_ice_schema s, c, d;
  tarn_error err;
  json_t *j = json_loads(json_text, 0, NULL), *back;
  char *t1, *t2, text[256];
  tarn_pq_schema pq;
  (void)state;
  assert_non_null(j);
  assert_int_equal(tarn_ice_schema_from_json(j, &s, &err), 0);
  assert_int_equal(s.nfields, 4);
  assert_int_equal(tarn_ice_schema_max_id(&s), 11);
  assert_non_null(tarn_ice_schema_find(&s, 11));
  assert_string_equal(tarn_ice_schema_find(&s, 11)->name, "k");
  assert_null(tarn_ice_schema_field(&s, 11)); /* top level only */
  tarn_ice_type_format(&s.fields[3].type, text, sizeof(text));
  assert_string_equal(text, "struct<name: string, tags: list<struct<k: decimal(10, 2) not null>> "
                            "not null>");
  tarn_ice_type_format(&s.fields[1].type, text, sizeof(text));
  assert_string_equal(text, "list<float not null>");
  /* the JSON written is the JSON read, key for key */
  back = tarn_ice_schema_to_json(&s);
  t1 = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
  t2 = json_dumps(back, JSON_SORT_KEYS | JSON_COMPACT);
  assert_string_equal(t1, t2);
  free(t1);
  free(t2);
  json_decref(back);
  /* a deep copy outlives the original */
  assert_int_equal(tarn_ice_schema_copy(&c, &s, &err), 0);
  tarn_ice_schema_free(&s);
  assert_string_equal(tarn_ice_schema_find(&c, 11)->name, "k");
  /* data files refuse nested columns, naming the first */
  assert_int_equal(tarn_ice_schema_to_parquet(&c, &pq, &err), TARN_EUNSUPPORTED);
  assert_non_null(strstr(err.detail, "\"emb\""));
  tarn_ice_schema_free(&c);
  json_decref(j);

  /* two fields with one id, nested or not, is corrupt metadata */
  j = json_loads("{\"fields\":[{\"id\":1,\"name\":\"a\",\"required\":false,\"type\":"
                 "{\"type\":\"list\",\"element-id\":1,\"element\":\"int\","
                 "\"element-required\":false}}]}",
                 0, NULL);
  assert_int_equal(tarn_ice_schema_from_json(j, &s, &err), TARN_ECORRUPT);
  assert_non_null(strstr(err.detail, "id 1"));
  json_decref(j);
  j = json_loads("{\"fields\":[{\"id\":1,\"name\":\"a\",\"required\":false,\"type\":"
                 "{\"type\":\"list\",\"element\":\"int\",\"element-required\":false}}]}",
                 0, NULL);
  assert_int_equal(tarn_ice_schema_from_json(j, &s, &err), TARN_ECORRUPT); /* no element-id */
  json_decref(j);
  j = json_loads("{\"fields\":[{\"id\":1,\"name\":\"a\",\"required\":false,\"type\":"
                 "{\"type\":\"variant\"}}]}",
                 0, NULL);
  assert_int_equal(tarn_ice_schema_from_json(j, &s, &err), TARN_EUNSUPPORTED);
  json_decref(j);
  {
    /* nesting past the limit is refused, not recursed into */
    char deep[16384];
    size_t n = 0;
    int i;
    n += (size_t)snprintf(deep + n, sizeof(deep) - n,
                          "{\"fields\":[{\"id\":1,\"name\":\"a\",\"required\":false,\"type\":");
    for (i = 0; i < 70; i++)
      n += (size_t)snprintf(deep + n, sizeof(deep) - n,
                            "{\"type\":\"list\",\"element-id\":%d,\"element-required\":false,"
                            "\"element\":",
                            i + 2);
    n += (size_t)snprintf(deep + n, sizeof(deep) - n, "\"int\"");
    for (i = 0; i < 70; i++)
      n += (size_t)snprintf(deep + n, sizeof(deep) - n, "}");
    snprintf(deep + n, sizeof(deep) - n, "}]}");
    j = json_loads(deep, 0, NULL);
    assert_non_null(j);
    assert_int_equal(tarn_ice_schema_from_json(j, &s, &err), TARN_ECORRUPT);
    assert_non_null(strstr(err.detail, "deeper"));
    json_decref(j);
  }

  /* DDL: Iceberg's fresh ids (top-level fields first, then each nested type, depth
   * first), nullability at every level, quoted names, case-insensitive types */
  assert_int_equal(tarn_ice_schema_parse_ddl(
                       "id long not null, emb list<float not null>, "
                       "attrs MAP<string, string>, who struct<name: string, age: int not null>, "
                       "`odd name` Decimal(10,2), m map<int, list<struct<x: double>>>",
                       &d, &err),
                   0);
  assert_int_equal(d.nfields, 6);
  assert_true(d.fields[0].required);
  assert_int_equal(d.fields[1].id, 2);
  assert_int_equal(d.fields[1].type.children[0].id, 7); /* emb's element */
  assert_true(d.fields[1].type.children[0].required);
  assert_int_equal(d.fields[2].type.children[0].id, 8); /* attrs' key */
  assert_true(d.fields[2].type.children[0].required);
  assert_int_equal(d.fields[2].type.children[1].id, 9);
  assert_int_equal(d.fields[3].type.children[0].id, 10); /* who.name */
  assert_int_equal(d.fields[3].type.children[1].id, 11);
  assert_true(d.fields[3].type.children[1].required);
  assert_string_equal(d.fields[4].name, "odd name");
  assert_int_equal(d.fields[4].type.id, TARN_ICE_DECIMAL);
  assert_int_equal(tarn_ice_schema_max_id(&d), 15);
  tarn_ice_type_format(&d.fields[5].type, text, sizeof(text));
  assert_string_equal(text, "map<int, list<struct<x: double>>>");
  tarn_ice_schema_free(&d);
  {
    static const char *const bad[] = {
        "a list<int",
        "a list<>",
        "a map<string>",
        "a struct<>",
        "a struct<x int",
        "a map<list<int>, int>",
        "a nope",
        "a int, a long",
        "a int b",
        "",
        "a struct<x: int, x: int>",
        "a",
    };
    size_t i;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
      if (tarn_ice_schema_parse_ddl(bad[i], &d, &err) != TARN_EINVAL)
        fail_msg("DDL \"%s\" was accepted", bad[i]);
    }
  }
}

static void test_schema_to_parquet(void **state) {
  static const char *types[] = {
      "boolean",  "int",           "long",           "float",          "double", "date",
      "time",     "timestamp",     "timestamptz",    "string",         "uuid",   "binary",
      "fixed[3]", "decimal(9, 2)", "decimal(18, 2)", "decimal(38, 10)"};
  tarn_ice_schema s;
  tarn_pq_schema pq;
  size_t i;
  s.schema_id = 0;
  s.nfields = sizeof(types) / sizeof(types[0]);
  s.fields = calloc(s.nfields, sizeof(*s.fields));
  for (i = 0; i < s.nfields; i++) {
    s.fields[i].id = (int32_t)i + 1;
    s.fields[i].name = (char *)types[i];
    s.fields[i].required = i % 2;
    assert_int_equal(tarn_ice_type_parse(types[i], &s.fields[i].type, NULL), 0);
  }
  assert_int_equal(tarn_ice_schema_to_parquet(&s, &pq, NULL), 0);
  assert_int_equal(pq.ncols, s.nfields);
  assert_int_equal(pq.cols[0].type, TARN_PQ_BOOLEAN);
  assert_true(pq.cols[0].optional);
  assert_false(pq.cols[1].optional);
  assert_int_equal(pq.cols[5].logical, TARN_PQ_LT_DATE);
  assert_int_equal(pq.cols[6].logical, TARN_PQ_LT_TIME);
  assert_int_equal(pq.cols[7].adjusted_to_utc, 0);
  assert_int_equal(pq.cols[8].adjusted_to_utc, 1);
  assert_int_equal(pq.cols[8].unit, TARN_PQ_MICROS);
  assert_int_equal(pq.cols[10].type_length, 16);
  assert_int_equal(pq.cols[12].type_length, 3);
  assert_int_equal(pq.cols[13].type, TARN_PQ_INT32);
  assert_int_equal(pq.cols[14].type, TARN_PQ_INT64);
  assert_int_equal(pq.cols[15].type, TARN_PQ_FIXED_LEN_BYTE_ARRAY);
  assert_int_equal(pq.cols[15].type_length, 16); /* 38 digits need 16 bytes */
  assert_int_equal(pq.cols[15].field_id, 16);
  tarn_pq_schema_free(&pq);
  free(s.fields);
}

static void test_stats_from_parquet(void **state) {
  tarn_ice_field fields[3];
  tarn_ice_schema s = {0, fields, 3};
  tarn_pq_column_info cols[3];
  tarn_pq_file_info info;
  tarn_ice_column_stats *st;
  size_t n, i;
  memset(fields, 0, sizeof(fields));
  memset(cols, 0, sizeof(cols));
  fields[0].id = 1;
  fields[0].name = "name";
  assert_int_equal(tarn_ice_type_parse("string", &fields[0].type, NULL), 0);
  fields[1].id = 2;
  fields[1].name = "price";
  assert_int_equal(tarn_ice_type_parse("decimal(9, 2)", &fields[1].type, NULL), 0);
  fields[2].id = 3;
  fields[2].name = "ratio";
  assert_int_equal(tarn_ice_type_parse("double", &fields[2].type, NULL), 0);
  for (i = 0; i < 3; i++) {
    cols[i].field_id = (int32_t)i + 1;
    cols[i].compressed_size = 100 + (int64_t)i;
    cols[i].value_count = 10;
    cols[i].null_count = 1;
    cols[i].nan_count = 2;
    cols[i].has_bounds = 1;
    tarn_buf_init(&cols[i].lower, 1024);
    tarn_buf_init(&cols[i].upper, 1024);
  }
  /* 20 code points, the 16th is U+007F so rounding up grows it to two bytes */
  tarn_buf_append_str(&cols[0].lower, "aaaaaaaaaaaaaaaaaaaa", NULL);
  tarn_buf_append_str(&cols[0].upper, "bbbbbbbbbbbbbbb\x7fzzzz", NULL);
  tarn_buf_append(&cols[1].lower, "\xfe\xff\xff\xff", 4, NULL);     /* -2 as INT32 */
  tarn_buf_append(&cols[1].upper, "\x8c\x05\x00\x00", 4, NULL);     /* 1420 */
  tarn_buf_append(&cols[2].lower, "\0\0\0\0\0\0\xf0\x3f", 8, NULL); /* 1.0 */
  tarn_buf_append(&cols[2].upper, "\0\0\0\0\0\0\0\x40", 8, NULL);   /* 2.0 */
  info.record_count = 10;
  info.file_size = 1000;
  info.cols = cols;
  info.ncols = 3;
  info.split_offsets = NULL;
  info.nsplits = 0;
  assert_int_equal(tarn_ice_stats_from_parquet(&s, &info, 16, &st, &n, NULL), 0);
  assert_int_equal(n, 3);
  assert_int_equal(st[0].lower.len, 16);
  assert_true(st[0].has_upper);
  assert_int_equal(st[0].upper.len, 17);
  assert_memory_equal(st[0].upper.data, "bbbbbbbbbbbbbbb\xc2\x80", 17);
  assert_int_equal(st[0].nan_count, -1);
  assert_int_equal(st[1].lower.len, 1);
  assert_memory_equal(st[1].lower.data, "\xfe", 1);
  assert_int_equal(st[1].upper.len, 2);
  assert_memory_equal(st[1].upper.data, "\x05\x8c", 2);
  assert_int_equal(st[2].nan_count, 2);
  assert_int_equal(st[2].column_size, 102);
  assert_memory_equal(st[2].upper.data, "\0\0\0\0\0\0\0\x40", 8);
  for (i = 0; i < n; i++) {
    tarn_buf_free(&st[i].lower);
    tarn_buf_free(&st[i].upper);
  }
  free(st);
  /* an upper bound made only of U+10FFFF cannot be rounded up: no upper bound */
  tarn_buf_reset(&cols[0].upper);
  for (i = 0; i < 17; i++)
    tarn_buf_append(&cols[0].upper, "\xf4\x8f\xbf\xbf", 4, NULL);
  assert_int_equal(tarn_ice_stats_from_parquet(&s, &info, 16, &st, &n, NULL), 0);
  assert_false(st[0].has_upper);
  assert_true(st[0].has_lower);
  for (i = 0; i < n; i++) {
    tarn_buf_free(&st[i].lower);
    tarn_buf_free(&st[i].upper);
  }
  free(st);
  for (i = 0; i < 3; i++) {
    tarn_buf_free(&cols[i].lower);
    tarn_buf_free(&cols[i].upper);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_type_parse_format),
      cmocka_unit_test(test_bucket_spec_vectors),
      cmocka_unit_test(test_bucket_small_n),
      cmocka_unit_test(test_truncate),
      cmocka_unit_test(test_truncate_wraps_like_java),
      cmocka_unit_test(test_time_transforms),
      cmocka_unit_test(test_partition_human_escaping),
      cmocka_unit_test(test_value_serialization),
      cmocka_unit_test(test_value_compare),
      cmocka_unit_test(test_metadata_round_trip),
      cmocka_unit_test(test_metadata_copy),
      cmocka_unit_test(test_metadata_errors),
      cmocka_unit_test(test_nested_schema),
      cmocka_unit_test(test_schema_to_parquet),
      cmocka_unit_test(test_stats_from_parquet),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
