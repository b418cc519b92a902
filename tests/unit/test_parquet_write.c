/* test_parquet_write.c - unit tests for the Parquet writer: Thrift bytes, encodings,
 * statistics, validation, file info, sinks; and a generator of files for DuckDB checks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <snappy-c.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/error.h"
#include "base/hash.h"
#include "parquet/parquet.h"
#include "parquet/pq_write_int.h"
#include "store/store.h"

/* ---- helpers ---- */

static void expect_bytes(const tarn_buf *b, const uint8_t *want, size_t n) {
  if (b->len != n || memcmp(b->data, want, n) != 0) {
    size_t i;
    fprintf(stderr, "got %zu bytes:", b->len);
    for (i = 0; i < b->len; i++)
      fprintf(stderr, " %02x", (uint8_t)b->data[i]);
    fprintf(stderr, "\nwant %zu bytes:", n);
    for (i = 0; i < n; i++)
      fprintf(stderr, " %02x", want[i]);
    fprintf(stderr, "\n");
    fail_msg("byte mismatch");
  }
}

static uint64_t rd_uleb(const uint8_t *p, size_t n, size_t *pos) {
  uint64_t v = 0;
  int sh = 0;
  while (*pos < n) {
    uint8_t b = p[(*pos)++];
    v |= (uint64_t)(b & 0x7f) << sh;
    if (!(b & 0x80))
      return v;
    sh += 7;
  }
  fail_msg("truncated varint");
  return 0;
}

/* An independent decoder of the RLE/bit-packed hybrid, for round trips. */
static size_t dec_hybrid(const uint8_t *p, size_t n, int bw, uint32_t *out, size_t want) {
  size_t pos = 0, k = 0, vb = ((size_t)bw + 7) / 8;
  while (k < want) {
    uint64_t h;
    assert_true(pos < n);
    h = rd_uleb(p, n, &pos);
    if (h & 1) {
      size_t cnt = (size_t)(h >> 1) * 8, i, bitpos = pos * 8;
      assert_true(pos + (h >> 1) * (size_t)bw <= n);
      for (i = 0; i < cnt; i++) {
        uint32_t v = 0;
        int b;
        for (b = 0; b < bw; b++, bitpos++)
          v |= (uint32_t)((p[bitpos / 8] >> (bitpos % 8)) & 1) << b;
        if (k < want)
          out[k++] = v;
      }
      pos += (size_t)(h >> 1) * (size_t)bw;
    } else {
      size_t cnt = (size_t)(h >> 1), i;
      uint32_t v = 0;
      assert_true(pos + vb <= n);
      for (i = 0; i < vb; i++)
        v |= (uint32_t)p[pos + i] << (8 * i);
      pos += vb;
      assert_true(k + cnt <= want);
      for (i = 0; i < cnt; i++)
        out[k++] = v;
    }
  }
  assert_int_equal(pos, n); /* nothing left over */
  return k;
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

/* ---- Thrift encoder ---- */

static void test_thrift_bytes(void **state) {
  tarn_buf b;
  tarn__pq_tw tw;
  tarn_error err;
  static const uint8_t want[] = {
      0x15, 0x0a,             /* 1: i32 5 */
      0x11,                   /* 2: bool true */
      0xf6, 0x01,             /* 17: i64 -1 (delta 15) */
      0x18, 0x02, 'a',  'b',  /* 18: binary "ab" */
      0x19, 0x25, 0x02, 0x04, /* 19: list<i32> [1, 2] */
      0x1c, 0x13, 0x07, 0x00, /* 20: struct {1: i8 7} */
      0x19, 0x22, 0x01, 0x00, /* 21: list<bool> [true, false] */
      0x05, 0x50, 0xd8, 0x04, /* 40: i32 300 (long form) */
      0x12,                   /* 41: bool false */
      0x19, 0xf6, 0x14,       /* 42: list<i64> of 20 (long list header) */
  };
  int i;
  (void)state;
  tarn_buf_init(&b, TARN_BUF_UNLIMITED);
  tarn__pq_tw_init(&tw, &b, &err);
  tarn__pq_tw_struct_begin(&tw);
  tarn__pq_tw_field_i32(&tw, 1, 5);
  tarn__pq_tw_field_bool(&tw, 2, 1);
  tarn__pq_tw_field_i64(&tw, 17, -1);
  tarn__pq_tw_field_binary(&tw, 18, "ab", 2);
  tarn__pq_tw_field_list(&tw, 19, TARN__TC_I32, 2);
  tarn__pq_tw_i32(&tw, 1);
  tarn__pq_tw_i32(&tw, 2);
  tarn__pq_tw_field_struct(&tw, 20);
  tarn__pq_tw_field_i8(&tw, 1, 7);
  tarn__pq_tw_struct_end(&tw);
  tarn__pq_tw_field_list(&tw, 21, TARN__TC_FALSE, 2);
  tarn__pq_tw_bool(&tw, 1);
  tarn__pq_tw_bool(&tw, 0);
  tarn__pq_tw_field_i32(&tw, 40, 300);
  tarn__pq_tw_field_bool(&tw, 41, 0);
  tarn__pq_tw_field_list(&tw, 42, TARN__TC_I64, 20);
  {
    size_t mark = b.len;
    for (i = 0; i < 20; i++)
      tarn__pq_tw_i64(&tw, i);
    assert_int_equal(b.len - mark, 20);
    b.len = mark; /* compare the prefix only */
  }
  assert_int_equal(tarn__pq_tw_finish(&tw), TARN_EINTERNAL); /* struct left open */
  expect_bytes(&b, want, sizeof(want));
  tarn_buf_free(&b);
}

static void test_page_header_bytes(void **state) {
  tarn_buf b;
  tarn__pq_page_header h;
  static const uint8_t dict[] = {0x15, 0x04, 0x15, 0x14, 0x15, 0x14, 0x4c,
                                 0x15, 0x06, 0x15, 0x00, 0x00, 0x00};
  static const uint8_t bloom[] = {0x15, 0x40, 0x1c, 0x1c, 0x00, 0x00, 0x1c, 0x1c,
                                  0x00, 0x00, 0x1c, 0x1c, 0x00, 0x00, 0x00};
  (void)state;
  tarn_buf_init(&b, TARN_BUF_UNLIMITED);
  memset(&h, 0, sizeof(h));
  h.type = TARN__PQ_DICTIONARY_PAGE;
  h.uncompressed_size = h.compressed_size = 10;
  h.dict_num_values = 3;
  h.dict_encoding = TARN_PQ_PLAIN;
  assert_int_equal(tarn__pq_encode_page_header(&h, -1, &b, NULL), 0);
  expect_bytes(&b, dict, sizeof(dict));
  tarn_buf_reset(&b);
  assert_int_equal(tarn__pq_encode_bloom_header(32, &b, NULL), 0);
  expect_bytes(&b, bloom, sizeof(bloom));
  tarn_buf_free(&b);
}

static void test_converted_types(void **state) {
  tarn_pq_column c;
  (void)state;
  memset(&c, 0, sizeof(c));
  c.type = TARN_PQ_INT64;
  c.logical = TARN_PQ_LT_TIMESTAMP;
  c.unit = TARN_PQ_MICROS;
  c.adjusted_to_utc = 1;
  assert_int_equal(tarn__pq_converted_type(&c), 10);
  c.adjusted_to_utc = 0;
  assert_int_equal(tarn__pq_converted_type(&c), -1);
  c.unit = TARN_PQ_NANOS;
  c.adjusted_to_utc = 1;
  assert_int_equal(tarn__pq_converted_type(&c), -1);
  c.logical = TARN_PQ_LT_TIME;
  c.unit = TARN_PQ_MICROS;
  assert_int_equal(tarn__pq_converted_type(&c), 8);
  c.logical = TARN_PQ_LT_INTEGER;
  c.bit_width = 16;
  c.is_signed = 1;
  assert_int_equal(tarn__pq_converted_type(&c), 16);
  c.is_signed = 0;
  assert_int_equal(tarn__pq_converted_type(&c), 12);
  c.logical = TARN_PQ_LT_UUID;
  assert_int_equal(tarn__pq_converted_type(&c), -1);
  c.logical = TARN_PQ_LT_STRING;
  assert_int_equal(tarn__pq_converted_type(&c), 0);
}

/* ---- RLE / bit-packed hybrid ---- */

static void test_hybrid_vectors(void **state) {
  tarn_buf b;
  uint32_t v[128];
  size_t i;
  static const uint8_t run[] = {0xc8, 0x01, 0x01};
  static const uint8_t spec[] = {0x03, 0x88, 0xc6, 0xfa}; /* Encodings.md: 0..7, width 3 */
  static const uint8_t mixed[] = {0x14, 0x05, 0x03, 0xd1, 0x00, 0x00};
  static const uint8_t wide[] = {0x10, 0x34, 0x12, 0x00}; /* run of 8, width 17: 3 bytes */
  (void)state;
  tarn_buf_init(&b, TARN_BUF_UNLIMITED);
  for (i = 0; i < 100; i++)
    v[i] = 1;
  assert_int_equal(tarn__pq_encode_hybrid(v, 100, 1, &b, NULL), 0);
  expect_bytes(&b, run, sizeof(run));
  tarn_buf_reset(&b);
  for (i = 0; i < 8; i++)
    v[i] = (uint32_t)i;
  assert_int_equal(tarn__pq_encode_hybrid(v, 8, 3, &b, NULL), 0);
  expect_bytes(&b, spec, sizeof(spec));
  tarn_buf_reset(&b);
  for (i = 0; i < 10; i++)
    v[i] = 5;
  v[10] = 1;
  v[11] = 2;
  v[12] = 3;
  assert_int_equal(tarn__pq_encode_hybrid(v, 13, 3, &b, NULL), 0);
  expect_bytes(&b, mixed, sizeof(mixed));
  tarn_buf_reset(&b);
  for (i = 0; i < 8; i++)
    v[i] = 0x1234;
  assert_int_equal(tarn__pq_encode_hybrid(v, 8, 17, &b, NULL), 0);
  expect_bytes(&b, wide, sizeof(wide));
  tarn_buf_free(&b);
}

static void test_hybrid_roundtrip(void **state) {
  int bw, trial;
  (void)state;
  for (bw = 1; bw <= 32; bw++) {
    for (trial = 0; trial < 20; trial++) {
      size_t n = (size_t)(rnd() % 3000), i = 0;
      uint32_t *v = malloc((n + 1) * sizeof(*v)), *got = malloc((n + 1) * sizeof(*got));
      uint32_t mask = bw == 32 ? 0xffffffffu : (1u << bw) - 1;
      tarn_buf b;
      tarn_buf_init(&b, TARN_BUF_UNLIMITED);
      while (i < n) { /* runs and noise */
        size_t len = (size_t)(rnd() % 40) + 1, k;
        uint32_t x = (uint32_t)rnd() & mask;
        int noisy = (int)(rnd() % 2);
        for (k = 0; k < len && i < n; k++)
          v[i++] = noisy ? (uint32_t)rnd() & mask : x;
      }
      assert_int_equal(tarn__pq_encode_hybrid(v, n, bw, &b, NULL), 0);
      assert_int_equal(dec_hybrid((const uint8_t *)b.data, b.len, bw, got, n), n);
      if (n > 0)
        assert_memory_equal(v, got, n * sizeof(*v));
      tarn_buf_free(&b);
      free(v);
      free(got);
    }
  }
}

static void test_hybrid_bits_roundtrip(void **state) {
  int trial;
  (void)state;
  for (trial = 0; trial < 400; trial++) {
    size_t n = (size_t)(rnd() % 700) + 1, i = 0;
    uint8_t *bits = calloc(n / 8 + 2, 1);
    uint32_t *got = malloc(n * sizeof(*got));
    tarn_buf b;
    tarn_buf_init(&b, TARN_BUF_UNLIMITED);
    while (i < n) {
      size_t len = (size_t)(rnd() % 50) + 1, k;
      int mode = (int)(rnd() % 3); /* 0 zeros, 1 ones, 2 noise */
      for (k = 0; k < len && i < n; k++, i++)
        if (mode == 1 || (mode == 2 && (rnd() & 1)))
          bits[i / 8] |= (uint8_t)(1u << (i % 8));
    }
    if (trial % 7 == 0) /* stray bits past n must be ignored */
      bits[n / 8] |= (uint8_t)(0xff << (n % 8));
    assert_int_equal(tarn__pq_encode_hybrid_bits(bits, n, &b, NULL), 0);
    assert_int_equal(dec_hybrid((const uint8_t *)b.data, b.len, 1, got, n), n);
    for (i = 0; i < n; i++)
      assert_int_equal(got[i], (bits[i / 8] >> (i % 8)) & 1);
    tarn_buf_free(&b);
    free(bits);
    free(got);
  }
}

/* ---- compression ---- */

/* n bytes of one of several shapes: random, zeros, a pattern repeating every `period`
 * bytes, words from a small vocabulary, and a mix of all of these in short runs. */
static void fill_shape(uint8_t *p, size_t n, int shape, size_t period) {
  static const char *const words[] = {"parquet ", "tarn ", "a", "lakehouse ", "zz", "\n"};
  size_t i = 0;
  while (i < n) {
    int sh = shape == 4 ? (int)(rnd() % 4) : shape;
    size_t run = shape == 4 ? 1 + rnd() % 90 : n, k;
    for (k = 0; k < run && i < n; k++, i++) {
      switch (sh) {
      case 0: p[i] = (uint8_t)rnd(); break;
      case 1: p[i] = 0; break;
      case 2: p[i] = i >= period ? p[i - period] : (uint8_t)rnd(); break;
      default: {
        const char *w = words[rnd() % 6];
        size_t l = strlen(w), j;
        for (j = 0; j < l && i < n; j++)
          p[i++] = (uint8_t)w[j];
        i--;
        break;
      }
      }
    }
  }
}

static void test_snappy_decoder(void **state) {
  static const size_t sizes[] = {0,  1,   5,   16,   17,   63,    64,    65,    66,
                                 67, 100, 129, 1000, 4096, 65536, 65537, 200000};
  size_t si, period = 1;
  int shape;
  (void)state;
  for (si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++)
    for (shape = 0; shape < 5; shape++) {
      size_t n = sizes[si], cl = snappy_max_compressed_length(n), k;
      uint8_t *in = malloc(n + 1), *c = malloc(cl), *out = malloc(n + 1), *bad = malloc(cl);
      period = period % 23 + 1; /* 1..23: offsets below 8, below 16 and beyond */
      fill_shape(in, n, shape, period);
      assert_int_equal(snappy_compress((const char *)in, n, (char *)c, &cl), SNAPPY_OK);
      assert_int_equal(tarn__pq_snappy_decode(c, cl, out, n), 0);
      assert_memory_equal(out, in, n);
      /* the declared length must match exactly */
      assert_int_equal(tarn__pq_snappy_decode(c, cl, out, n + 1), -1);
      if (n > 0)
        assert_int_equal(tarn__pq_snappy_decode(c, cl, out, n - 1), -1);
      /* any truncation leaves bytes missing */
      for (k = 0; k < cl; k += 1 + cl / 40)
        assert_int_equal(tarn__pq_snappy_decode(c, k, out, n), -1);
      /* flipped bytes: an error or n bytes, never a read or write out of bounds (ASan) */
      for (k = 0; k < 40 && cl > 0; k++) {
        memcpy(bad, c, cl);
        bad[rnd() % cl] ^= (uint8_t)(1 + rnd() % 255);
        (void)tarn__pq_snappy_decode(bad, cl, out, n);
      }
      free(in);
      free(c);
      free(out);
      free(bad);
    }
  {
    uint8_t out[64];
    static const uint8_t zero_off[] = {8, 0x00, 'a', 0x01 | (3 << 2), 0x00}; /* copy at 0 */
    static const uint8_t far_off[] = {8, 0x00, 'a', 0x01 | (3 << 2), 0x02};  /* 2 back of 1 */
    static const uint8_t long_var[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    static const uint8_t short_lit[] = {4, 0x0c, 'a', 'b'};                 /* 4 declared, 2 */
    static const uint8_t ok[] = {7, 0x04, 'a', 'b', 0x01 | (1 << 2), 0x02}; /* ab + 5 copied */
    assert_int_equal(tarn__pq_snappy_decode(zero_off, sizeof(zero_off), out, 8), -1);
    assert_int_equal(tarn__pq_snappy_decode(far_off, sizeof(far_off), out, 8), -1);
    assert_int_equal(tarn__pq_snappy_decode(long_var, sizeof(long_var), out, 0), -1);
    assert_int_equal(tarn__pq_snappy_decode(short_lit, sizeof(short_lit), out, 4), -1);
    assert_int_equal(tarn__pq_snappy_decode(ok, sizeof(ok), out, 7), 0);
    assert_memory_equal(out, "abababa", 7);
  }
}

/* Every codec round-trips through a context reused across pages, and without one. */
static void test_codec_roundtrip(void **state) {
  static const tarn_pq_codec codecs[] = {TARN_PQ_UNCOMPRESSED, TARN_PQ_SNAPPY, TARN_PQ_GZIP,
                                         TARN_PQ_ZSTD, TARN_PQ_LZ4_RAW};
  size_t ci;
  (void)state;
  for (ci = 0; ci < sizeof(codecs) / sizeof(codecs[0]); ci++) {
    tarn__pq_codec_ctx cx = {0};
    int round;
    for (round = 0; round < 8; round++) {
      size_t n = round == 0 ? 0 : (size_t)1 << (round * 2 + 2);
      uint8_t *in = malloc(n + 1), *out = malloc(n + 1);
      tarn__pq_codec_ctx *use = round == 7 ? NULL : &cx;
      tarn_buf b;
      tarn_error err;
      tarn_buf_init(&b, TARN_BUF_UNLIMITED);
      fill_shape(in, n, round % 5, 7);
      assert_int_equal(tarn__pq_compress(use, codecs[ci], 0, in, n, &b, &err), 0);
      assert_int_equal(
          tarn__pq_decompress(use, codecs[ci], b.data ? b.data : "", b.len, out, n, &err), 0);
      assert_memory_equal(out, in, n);
      assert_int_equal(
          tarn__pq_decompress(use, codecs[ci], b.data ? b.data : "", b.len, out, n + 1, &err),
          TARN_ECORRUPT);
      tarn_buf_free(&b);
      free(in);
      free(out);
    }
    tarn__pq_codec_ctx_free(&cx);
    tarn__pq_codec_ctx_free(&cx); /* freeing twice is harmless */
  }
}

static void test_bit_helpers(void **state) {
  int trial;
  (void)state;
  for (trial = 0; trial < 2000; trial++) {
    uint8_t src[40], dst[48];
    size_t soff = (size_t)(rnd() % 64), doff = (size_t)(rnd() % 64), n = (size_t)(rnd() % 200);
    size_t i, ones = 0;
    for (i = 0; i < sizeof(src); i++)
      src[i] = (uint8_t)rnd();
    memset(dst, 0, sizeof(dst));
    for (i = 0; i < doff; i++) /* existing bits below doff are kept */
      if (i % 3 == 0)
        dst[i / 8] |= (uint8_t)(1u << (i % 8));
    if (soff + n > sizeof(src) * 8)
      n = sizeof(src) * 8 - soff;
    tarn__pq_copy_bits(dst, doff, src, soff, n);
    for (i = 0; i < doff; i++)
      assert_int_equal((dst[i / 8] >> (i % 8)) & 1, i % 3 == 0);
    for (i = 0; i < n; i++) {
      int sb = (src[(soff + i) / 8] >> ((soff + i) % 8)) & 1;
      assert_int_equal((dst[(doff + i) / 8] >> ((doff + i) % 8)) & 1, sb);
      ones += (size_t)sb;
    }
    for (i = doff + n; i < ((doff + n + 7) / 8) * 8; i++)
      assert_int_equal((dst[i / 8] >> (i % 8)) & 1, 0);
    assert_int_equal(tarn__pq_count_bits(src, soff, n), ones);
    memset(dst, 0, sizeof(dst));
    tarn__pq_set_bits(dst, doff, n);
    for (i = 0; i < (doff + n + 7) / 8 * 8; i++)
      assert_int_equal((dst[i / 8] >> (i % 8)) & 1, i >= doff && i < doff + n);
  }
  assert_int_equal(tarn__pq_bit_width(0), 0);
  assert_int_equal(tarn__pq_bit_width(1), 1);
  assert_int_equal(tarn__pq_bit_width(255), 8);
  assert_int_equal(tarn__pq_bit_width(256), 9);
}

/* ---- dictionary ---- */

static void test_dict_fixed_and_cap(void **state) {
  tarn__pq_dict d;
  int32_t v[6] = {7, 8, 7, 9, 10, 7};
  uint32_t idx[6], fresh[6];
  size_t nfresh;
  (void)state;
  tarn__pq_dict_init(&d, 4, 0, 12); /* room for 3 entries */
  assert_int_equal(tarn__pq_dict_put_fixed(&d, v, 6, idx, fresh, &nfresh, NULL), 4);
  assert_int_equal(d.count, 3);
  assert_int_equal(idx[0], 0);
  assert_int_equal(idx[1], 1);
  assert_int_equal(idx[2], 0);
  assert_int_equal(idx[3], 2);
  assert_int_equal(nfresh, 3);
  assert_int_equal(d.plain.len, 12);
  tarn__pq_dict_reset(&d);
  assert_int_equal(d.count, 0);
  tarn__pq_dict_free(&d);

  /* many values: the table grows and keeps every mapping */
  {
    int64_t *w = malloc(50000 * sizeof(*w));
    uint32_t *ix = malloc(50000 * sizeof(*ix));
    int i;
    tarn__pq_dict_init(&d, 8, 0, 1u << 20);
    for (i = 0; i < 50000; i++)
      w[i] = (int64_t)(i % 7000) * 1000003;
    assert_int_equal(tarn__pq_dict_put_fixed(&d, w, 50000, ix, NULL, &nfresh, NULL), 50000);
    assert_int_equal(d.count, 7000);
    for (i = 0; i < 50000; i++)
      assert_int_equal(ix[i], (uint32_t)(i % 7000));
    tarn__pq_dict_free(&d);
    free(w);
    free(ix);
  }
}

static void test_dict_bytes(void **state) {
  tarn__pq_dict d;
  uint32_t idx;
  int isnew, i;
  char s[32];
  (void)state;
  tarn__pq_dict_init(&d, 0, 1, 100);
  for (i = 0; i < 3000; i++) {
    uint32_t want = (uint32_t)(i % 9);
    int r;
    snprintf(s, sizeof(s), "val-%d", i % 9);
    r = tarn__pq_dict_put_bytes(&d, (const uint8_t *)s, (uint32_t)strlen(s),
                                tarn_xxh64(s, strlen(s), 0), &idx, &isnew, NULL);
    assert_int_equal(r, 1);
    assert_int_equal(idx, want);
    assert_int_equal(isnew, i < 9);
  }
  assert_int_equal(d.plain.len, 9 * (4 + 5));
  /* the next new value passes the 100-byte cap */
  assert_int_equal(tarn__pq_dict_put_bytes(&d, (const uint8_t *)"another-long-one", 16,
                                           tarn_xxh64("another-long-one", 16, 0), &idx, &isnew,
                                           NULL),
                   0);
  /* PLAIN layout: 4-byte length then bytes */
  assert_int_equal((uint8_t)d.plain.data[0], 5);
  assert_memory_equal(d.plain.data + 4, "val-0", 5);
  tarn__pq_dict_free(&d);
}

/* ---- statistics ---- */

static void bounds_of(const tarn_pq_column *c, const tarn__pq_acc *a, size_t trunc, int *has,
                      tarn_buf *lo, tarn_buf *hi, int *lo_ex, int *hi_ex) {
  tarn_buf_reset(lo);
  tarn_buf_reset(hi);
  assert_int_equal(tarn__pq_acc_bounds(c, a, trunc, has, lo, lo_ex, hi, hi_ex, NULL), 0);
}

static void test_float_stats(void **state) {
  tarn_pq_column c;
  tarn__pq_acc a;
  tarn_buf lo, hi;
  int has, lx, hx;
  float f;
  double d;
  float v1[] = {0.0f, 1.5f, NAN, -2.0f};
  float v2[] = {NAN, NAN};
  float v3[] = {0.0f, -0.0f, 0.0f};
  double v4[] = {-0.0, 3.0};
  double v5[] = {-7.0, 0.0};
  (void)state;
  memset(&c, 0, sizeof(c));
  c.type = TARN_PQ_FLOAT;
  tarn_buf_init(&lo, TARN_BUF_UNLIMITED);
  tarn_buf_init(&hi, TARN_BUF_UNLIMITED);
  tarn__pq_acc_init(&a);
  tarn__pq_acc_add_fixed(&c, &a, v1, 4);
  assert_int_equal(a.nans, 1);
  bounds_of(&c, &a, 64, &has, &lo, &hi, &lx, &hx);
  assert_true(has);
  memcpy(&f, lo.data, 4);
  assert_true(f == -2.0f);
  memcpy(&f, hi.data, 4);
  assert_true(f == 1.5f);

  tarn__pq_acc_reset(&a);
  tarn__pq_acc_add_fixed(&c, &a, v2, 2);
  assert_int_equal(a.nans, 2);
  bounds_of(&c, &a, 64, &has, &lo, &hi, &lx, &hx);
  assert_false(has); /* only NaN: no bounds */

  tarn__pq_acc_reset(&a);
  tarn__pq_acc_add_fixed(&c, &a, v3, 3);
  bounds_of(&c, &a, 64, &has, &lo, &hi, &lx, &hx);
  assert_true(has);
  memcpy(&f, lo.data, 4);
  assert_true(f == 0.0f && signbit(f)); /* min zero written -0.0 */
  memcpy(&f, hi.data, 4);
  assert_true(f == 0.0f && !signbit(f)); /* max zero written +0.0 */

  c.type = TARN_PQ_DOUBLE;
  tarn__pq_acc_reset(&a);
  tarn__pq_acc_add_fixed(&c, &a, v4, 2);
  bounds_of(&c, &a, 64, &has, &lo, &hi, &lx, &hx);
  memcpy(&d, lo.data, 8);
  assert_true(d == 0.0 && signbit(d));
  memcpy(&d, hi.data, 8);
  assert_true(d == 3.0);
  tarn__pq_acc_reset(&a);
  tarn__pq_acc_add_fixed(&c, &a, v5, 2);
  bounds_of(&c, &a, 64, &has, &lo, &hi, &lx, &hx);
  memcpy(&d, hi.data, 8);
  assert_true(d == 0.0 && !signbit(d));
  memcpy(&d, lo.data, 8);
  assert_true(d == -7.0);
  tarn__pq_acc_free(&a);
  tarn_buf_free(&lo);
  tarn_buf_free(&hi);
}

static void test_int_and_bool_stats(void **state) {
  tarn_pq_column c;
  tarn__pq_acc a, b;
  int32_t v[] = {5, -3, 100, 7};
  int32_t m[] = {-50};
  int32_t r;
  (void)state;
  memset(&c, 0, sizeof(c));
  c.type = TARN_PQ_INT32;
  tarn__pq_acc_init(&a);
  tarn__pq_acc_init(&b);
  tarn__pq_acc_add_fixed(&c, &a, v, 4);
  memcpy(&r, a.min8, 4);
  assert_int_equal(r, -3);
  memcpy(&r, a.max8, 4);
  assert_int_equal(r, 100);
  tarn__pq_acc_add_fixed(&c, &b, m, 1);
  b.nulls = 4;
  assert_int_equal(tarn__pq_acc_merge(&c, &a, &b, NULL), 0);
  memcpy(&r, a.min8, 4);
  assert_int_equal(r, -50);
  assert_int_equal(a.nulls, 4);
  /* unsigned INTEGER: -1 is 4294967295, the largest */
  c.logical = TARN_PQ_LT_INTEGER;
  c.bit_width = 32;
  c.is_signed = 0;
  tarn__pq_acc_reset(&a);
  tarn__pq_acc_add_fixed(&c, &a, v, 4);
  tarn__pq_acc_add_fixed(&c, &a, (int32_t[]){-1}, 1);
  memcpy(&r, a.min8, 4);
  assert_int_equal(r, 5); /* -3 is 4294967293 unsigned */
  memcpy(&r, a.max8, 4);
  assert_int_equal(r, -1);
  /* booleans */
  tarn__pq_acc_reset(&a);
  tarn__pq_acc_add_bool(&a, 0, 1);
  assert_int_equal(a.min8[0], 1);
  tarn__pq_acc_add_bool(&a, 1, 0);
  assert_int_equal(a.min8[0], 0);
  assert_int_equal(a.max8[0], 1);
  tarn__pq_acc_free(&a);
  tarn__pq_acc_free(&b);
}

static void check_trunc(int upper, const char *v, size_t n, size_t max, int utf8, const char *want,
                        size_t wn, int want_exact) {
  tarn_buf b;
  int exact = -1;
  tarn_buf_init(&b, TARN_BUF_UNLIMITED);
  if (upper)
    assert_int_equal(tarn__pq_truncate_upper((const uint8_t *)v, n, max, utf8, &b, &exact, NULL),
                     0);
  else
    assert_int_equal(tarn__pq_truncate_lower((const uint8_t *)v, n, max, utf8, &b, &exact, NULL),
                     0);
  expect_bytes(&b, (const uint8_t *)want, wn);
  assert_int_equal(exact, want_exact);
  tarn_buf_free(&b);
}

#define TRUNC(up, v, max, utf8, want, ex)                                                          \
  check_trunc(up, v, sizeof(v) - 1, max, utf8, want, sizeof(want) - 1, ex)

static void test_truncation(void **state) {
  (void)state;
  /* binary */
  TRUNC(0, "abcdef", 3, 0, "abc", 0);
  TRUNC(1, "abcdef", 3, 0, "abd", 0);
  TRUNC(0, "abc", 3, 0, "abc", 1);
  TRUNC(1, "abc", 3, 0, "abc", 1);
  TRUNC(1, "ab\xff\xffzz", 4, 0, "ac", 0);                           /* carry past 0xff bytes */
  TRUNC(1, "\xff\xff\xff\xff\xff", 3, 0, "\xff\xff\xff\xff\xff", 1); /* kept whole */
  /* UTF-8 */
  TRUNC(0,
        "a\xc3\xa9"
        "bc",
        2, 1, "a", 0); /* not inside é */
  TRUNC(1,
        "a\xc3\xa9"
        "bc",
        3, 1, "a\xc3\xaa", 0); /* é + 1 = ê */
  TRUNC(1,
        "a\x7f"
        "zz",
        2, 1, "b", 0); /* U+0080 needs 2 bytes: round up 'a' */
  TRUNC(1,
        "\xed\x9f\xbf"
        "x",
        3, 1, "\xee\x80\x80", 0); /* U+D7FF + 1 skips surrogates */
  TRUNC(1,
        "a\xf4\x8f\xbf\xbf"
        "x",
        5, 1, "b", 0); /* U+10FFFF cannot grow */
  TRUNC(1, "\xf4\x8f\xbf\xbf\xf4\x8f\xbf\xbf", 4, 1, "\xf4\x8f\xbf\xbf\xf4\x8f\xbf\xbf", 1);
  TRUNC(0, "\xc3\xa9\xc3\xa9", 1, 1, "", 0); /* first character longer than the limit */
  TRUNC(1, "\xc3\xa9\xc3\xa9", 1, 1, "\xc3\xaa", 0);
  TRUNC(1, "zz\xff\xfe", 3, 1, "z{", 0); /* invalid UTF-8: byte-wise */
}

static void test_bytes_stats_and_bounds(void **state) {
  tarn_pq_column c;
  tarn__pq_acc a;
  tarn_buf lo, hi;
  int has, lx, hx;
  int64_t off[] = {0, 3, 3, 8, 10, 14};
  const char *data = "abcXXXXXaa\xc3\xa9zz";
  uint8_t valid = 0x1d; /* rows 0, 2, 3, 4 (row 1 null) */
  (void)state;
  memset(&c, 0, sizeof(c));
  c.type = TARN_PQ_BYTE_ARRAY;
  c.logical = TARN_PQ_LT_STRING;
  tarn__pq_acc_init(&a);
  tarn_buf_init(&lo, TARN_BUF_UNLIMITED);
  tarn_buf_init(&hi, TARN_BUF_UNLIMITED);
  assert_int_equal(
      tarn__pq_acc_add_bytes(&c, &a, off, (const uint8_t *)data, 0, &valid, 0, 5, NULL), 0);
  bounds_of(&c, &a, 64, &has, &lo, &hi, &lx, &hx);
  expect_bytes(&lo, (const uint8_t *)"XXXXX", 5);
  expect_bytes(&hi, (const uint8_t *)"\xc3\xa9zz", 4);
  bounds_of(&c, &a, 1, &has, &lo, &hi, &lx, &hx);
  expect_bytes(&lo, (const uint8_t *)"X", 1);
  assert_false(lx);
  expect_bytes(&hi, (const uint8_t *)"\xc3\xaa", 2);
  assert_false(hx);
  /* an empty first value shares its pointer with the next value: max must still move */
  {
    int64_t o2[] = {0, 0, 2};
    tarn__pq_acc_reset(&a);
    assert_int_equal(tarn__pq_acc_add_bytes(&c, &a, o2, (const uint8_t *)"ab", 0, NULL, 0, 2, NULL),
                     0);
    bounds_of(&c, &a, 64, &has, &lo, &hi, &lx, &hx);
    expect_bytes(&lo, (const uint8_t *)"", 0);
    expect_bytes(&hi, (const uint8_t *)"ab", 2);
  }
  /* DECIMAL in FLBA orders as signed big-endian */
  {
    uint8_t fl[] = {0xff, 0xfe, 0x00, 0x05, 0x7f, 0x00};
    c.type = TARN_PQ_FIXED_LEN_BYTE_ARRAY;
    c.type_length = 2;
    c.logical = TARN_PQ_LT_DECIMAL;
    tarn__pq_acc_reset(&a);
    assert_int_equal(tarn__pq_acc_add_bytes(&c, &a, NULL, fl, 2, NULL, 0, 3, NULL), 0);
    bounds_of(&c, &a, 1, &has, &lo, &hi, &lx, &hx);
    expect_bytes(&lo, fl, 2); /* -2 */
    expect_bytes(&hi, fl + 4, 2);
    assert_true(lx && hx); /* FLBA bounds are never shortened */
  }
  tarn__pq_acc_free(&a);
  tarn_buf_free(&lo);
  tarn_buf_free(&hi);
}

/* ---- writer fixtures ---- */

typedef struct fixture {
  char dir[64];
  tarn_store *st;
} fixture;

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static int setup(void **state) {
  fixture *fx = calloc(1, sizeof(*fx));
  tarn_error err;
  if (fx == NULL)
    return -1;
  snprintf(fx->dir, sizeof(fx->dir), "/tmp/tarn-pqw-test-XXXXXX");
  if (mkdtemp(fx->dir) == NULL || tarn_store_local_open(fx->dir, &fx->st, &err) != 0) {
    free(fx);
    return -1;
  }
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fixture *fx = *state;
  tarn_alloc_fail_reset();
  tarn_store_destroy(fx->st);
  nftw(fx->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
  free(fx);
  return 0;
}

static tarn_pq_column mkcol(const char *name, int32_t id, tarn_pq_type t, int optional) {
  tarn_pq_column c;
  memset(&c, 0, sizeof(c));
  c.name = (char *)name;
  c.field_id = id;
  c.type = t;
  c.optional = optional;
  return c;
}

/* A three-column batch: id INT64 required, name STRING optional, score DOUBLE optional. */
typedef struct small_batch {
  tarn_pq_batch b;
  tarn_pq_array cols[3];
  int64_t *ids;
  int64_t *off;
  char *data;
  double *score;
  uint8_t *nv, *sv;
} small_batch;

static void small_schema(tarn_pq_column cols[3], tarn_pq_schema *s) {
  cols[0] = mkcol("id", 1, TARN_PQ_INT64, 0);
  cols[1] = mkcol("name", 2, TARN_PQ_BYTE_ARRAY, 1);
  cols[1].logical = TARN_PQ_LT_STRING;
  cols[2] = mkcol("score", 3, TARN_PQ_DOUBLE, 1);
  s->cols = cols;
  s->ncols = 3;
}

/* Rows first..first+n: name null every 4th row, score NaN every 10th, null every 6th. */
static void small_fill(small_batch *sb, int64_t first, int64_t n) {
  int64_t i, pos = 0;
  memset(sb, 0, sizeof(*sb));
  sb->ids = calloc((size_t)n + 1, 8);
  sb->off = calloc((size_t)n + 1, 8);
  sb->data = calloc((size_t)n * 16 + 1, 1);
  sb->score = calloc((size_t)n + 1, 8);
  sb->nv = calloc((size_t)n / 8 + 1, 1);
  sb->sv = calloc((size_t)n / 8 + 1, 1);
  for (i = 0; i < n; i++) {
    int64_t r = first + i;
    sb->ids[i] = r;
    sb->off[i] = pos;
    if (r % 4 != 0) {
      pos += sprintf(sb->data + pos, "n%03d", (int)(r % 300));
      sb->nv[i / 8] |= (uint8_t)(1u << (i % 8));
    }
    if (r % 6 != 0) {
      sb->score[i] = r % 10 == 0 ? NAN : (double)(r % 1000) / 4.0 - 50.0;
      sb->sv[i / 8] |= (uint8_t)(1u << (i % 8));
    }
  }
  sb->off[n] = pos;
  sb->b.nrows = n;
  sb->b.ncols = 3;
  sb->b.cols = sb->cols;
  sb->cols[0].length = n;
  sb->cols[0].values = sb->ids;
  sb->cols[1].length = n;
  sb->cols[1].validity = sb->nv;
  sb->cols[1].offsets = sb->off;
  sb->cols[1].data = (uint8_t *)sb->data;
  sb->cols[1].data_len = pos;
  sb->cols[2].length = n;
  sb->cols[2].validity = sb->sv;
  sb->cols[2].values = sb->score;
}

static void small_free(small_batch *sb) {
  free(sb->ids);
  free(sb->off);
  free(sb->data);
  free(sb->score);
  free(sb->nv);
  free(sb->sv);
}

static void read_all(const char *path, tarn_buf *out) {
  FILE *f = fopen(path, "rb");
  char tmp[65536];
  size_t n;
  assert_non_null(f);
  while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
    assert_int_equal(tarn_buf_append(out, tmp, n, NULL), 0);
  fclose(f);
}

static void check_par1(const tarn_buf *b) {
  uint32_t flen;
  assert_true(b->len >= 12);
  assert_memory_equal(b->data, "PAR1", 4);
  assert_memory_equal(b->data + b->len - 4, "PAR1", 4);
  memcpy(&flen, b->data + b->len - 8, 4);
  assert_true(flen > 0 && flen + 12 <= b->len);
}

/* ---- validation ---- */

static void expect_schema_error(tarn_pq_column *cols, size_t n, const char *needle) {
  tarn_pq_schema s = {cols, n};
  tarn_pq_writer *w = (tarn_pq_writer *)1;
  tarn_error err;
  int fd = open("/dev/null", O_WRONLY);
  assert_true(fd >= 0);
  assert_int_equal(tarn_pq_writer_open_fd(fd, &s, NULL, &w, &err), TARN_EINVAL);
  assert_null(w);
  if (strstr(err.detail, needle) == NULL)
    fail_msg("detail '%s' lacks '%s'", err.detail, needle);
  close(fd);
}

/* One column limit for the writer and the reader: a schema past it is refused. */
static void test_column_limit(void **state) {
  size_t n = TARN_PQ_MAX_COLUMNS + 1, i;
  tarn_pq_column *c = calloc(n, sizeof(*c));
  char(*names)[16] = calloc(n, 16);
  tarn_pq_schema s;
  tarn_pq_writer *w = NULL;
  tarn_error err;
  int fd = open("/dev/null", O_WRONLY);
  (void)state;
  for (i = 0; i < n; i++) {
    snprintf(names[i], 16, "c%zu", i);
    c[i] = mkcol(names[i], (int32_t)i + 1, TARN_PQ_INT32, 1);
  }
  s.cols = c;
  s.ncols = n;
  assert_int_equal(tarn_pq_writer_open_fd(fd, &s, NULL, &w, &err), TARN_ETOOBIG);
  assert_non_null(strstr(err.detail, "at most 10000"));
  s.ncols = n - 1; /* at the limit: accepted */
  assert_int_equal(tarn_pq_writer_open_fd(fd, &s, NULL, &w, &err), 0);
  tarn_pq_writer_abort(w);
  close(fd);
  free(names);
  free(c);
}

static void test_schema_validation(void **state) {
  tarn_pq_column c[2];
  (void)state;
  expect_schema_error(c, 0, "no columns");
  c[0] = mkcol("a", 0, TARN_PQ_INT32, 0);
  expect_schema_error(c, 1, "'a': field id 0");
  c[0] = mkcol("", 1, TARN_PQ_INT32, 0);
  expect_schema_error(c, 1, "empty name");
  c[0] = mkcol("a", 1, TARN_PQ_INT32, 0);
  c[1] = mkcol("a", 2, TARN_PQ_INT32, 0);
  expect_schema_error(c, 2, "'a' appears twice");
  c[1] = mkcol("b", 1, TARN_PQ_INT32, 0);
  expect_schema_error(c, 2, "share field id 1");
  c[1] = mkcol("b", 2, TARN_PQ_INT96, 0);
  expect_schema_error(c, 2, "'b': physical type INT96");
  c[1] = mkcol("b", 2, TARN_PQ_FIXED_LEN_BYTE_ARRAY, 0);
  expect_schema_error(c, 2, "'b': FIXED_LEN_BYTE_ARRAY length 0");
  c[1] = mkcol("b", 2, TARN_PQ_INT32, 0);
  c[1].logical = TARN_PQ_LT_STRING;
  expect_schema_error(c, 2, "'b': INT32 STRING is not a valid type");
  c[1].type = TARN_PQ_INT32;
  c[1].logical = TARN_PQ_LT_TIMESTAMP;
  c[1].unit = TARN_PQ_MICROS;
  expect_schema_error(c, 2, "'b'");
  c[1].type = TARN_PQ_INT64;
  c[1].logical = TARN_PQ_LT_TIME;
  c[1].unit = TARN_PQ_MILLIS;
  expect_schema_error(c, 2, "TIME(MILLIS");
  c[1].logical = TARN_PQ_LT_DECIMAL;
  c[1].precision = 19;
  c[1].scale = 2;
  expect_schema_error(c, 2, "precision must be 1 to 18");
  c[1].precision = 10;
  c[1].scale = 11;
  expect_schema_error(c, 2, "'b'");
  c[1] = mkcol("b", 2, TARN_PQ_FIXED_LEN_BYTE_ARRAY, 0);
  c[1].type_length = 4;
  c[1].logical = TARN_PQ_LT_DECIMAL;
  c[1].precision = 10; /* 4 bytes hold 9 digits */
  expect_schema_error(c, 2, "precision must be 1 to 9");
  c[1].logical = TARN_PQ_LT_UUID;
  expect_schema_error(c, 2, "UUID is not a valid type");
  c[1] = mkcol("b", 2, TARN_PQ_INT32, 0);
  c[1].logical = TARN_PQ_LT_INTEGER;
  c[1].bit_width = 12;
  expect_schema_error(c, 2, "bit width 12");
  c[1].bit_width = 64;
  expect_schema_error(c, 2, "INTEGER(64");
  c[1] = mkcol("b\xff", 2, TARN_PQ_INT32, 0);
  expect_schema_error(c, 2, "UTF-8");
}

static void test_option_validation(void **state) {
  tarn_pq_column cols[3];
  tarn_pq_schema s;
  tarn_pq_writer_options o;
  tarn_pq_column_options co;
  tarn_pq_writer *w;
  tarn_error err;
  int fd = open("/dev/null", O_WRONLY);
  (void)state;
  small_schema(cols, &s);
  memset(&o, 0, sizeof(o));
  o.codec = TARN_PQ_LZO;
  assert_int_equal(tarn_pq_writer_open_fd(fd, &s, &o, &w, &err), TARN_EINVAL);
  o.codec = TARN_PQ_SNAPPY;
  o.data_page_version = 3;
  assert_int_equal(tarn_pq_writer_open_fd(fd, &s, &o, &w, &err), TARN_EINVAL);
  o.data_page_version = 2;
  memset(&co, 0, sizeof(co));
  co.field_id = 99;
  o.columns = &co;
  o.ncolumns = 1;
  assert_int_equal(tarn_pq_writer_open_fd(fd, &s, &o, &w, &err), TARN_EINVAL);
  assert_non_null(strstr(err.detail, "field id 99"));
  co.field_id = 2;
  co.bloom_filter = 1;
  co.bloom_fpp = 2;
  assert_int_equal(tarn_pq_writer_open_fd(fd, &s, &o, &w, &err), TARN_EINVAL);
  assert_non_null(strstr(err.detail, "'name'"));
  co.bloom_fpp = 0.05;
  assert_int_equal(tarn_pq_writer_open_fd(fd, &s, &o, &w, &err), 0);
  tarn_pq_writer_abort(w);
  close(fd);
}

static void expect_batch_error(tarn_pq_batch *b, const char *needle) {
  tarn_pq_column cols[3];
  tarn_pq_schema s;
  tarn_pq_writer *w;
  tarn_error err;
  tarn_pq_file_info fi;
  int fd = open("/dev/null", O_WRONLY);
  small_schema(cols, &s);
  assert_int_equal(tarn_pq_writer_open_fd(fd, &s, NULL, &w, &err), 0);
  assert_int_equal(tarn_pq_writer_write(w, b, &err), TARN_EINVAL);
  if (strstr(err.detail, needle) == NULL)
    fail_msg("detail '%s' lacks '%s'", err.detail, needle);
  /* sticky: the writer refuses more and close reports the same error */
  assert_int_equal(tarn_pq_writer_close(w, &fi, &err), TARN_EINVAL);
  assert_null(fi.cols);
  close(fd);
}

static void test_batch_validation(void **state) {
  small_batch sb;
  uint8_t bad_valid[2] = {0xff, 0xfb}; /* row 10 null */
  int64_t saved;
  (void)state;
  small_fill(&sb, 0, 16);
  sb.cols[0].validity = bad_valid;
  expect_batch_error(&sb.b, "'id' is REQUIRED but row 10");
  sb.cols[0].validity = NULL;
  saved = sb.off[5];
  sb.off[5] = sb.off[4] - 1;
  expect_batch_error(&sb.b, "'name': offsets decrease at row 4");
  sb.off[5] = saved;
  sb.cols[1].data_len = 3;
  expect_batch_error(&sb.b, "past data_len 3");
  sb.cols[1].data_len = sb.off[16];
  sb.b.ncols = 2;
  expect_batch_error(&sb.b, "batch has 2 columns");
  sb.b.ncols = 3;
  sb.cols[2].length = 15;
  expect_batch_error(&sb.b, "'score': array has 15 rows");
  sb.cols[2].length = 16;
  sb.cols[2].values = NULL;
  expect_batch_error(&sb.b, "'score': values missing");
  small_free(&sb);
}

/* ---- whole files ---- */

static void test_fd_output_and_info(void **state) {
  fixture *fx = *state;
  tarn_pq_column cols[3];
  tarn_pq_schema s;
  tarn_pq_writer_options o;
  tarn_pq_writer *w;
  tarn_pq_file_info fi;
  tarn_error err;
  small_batch sb;
  tarn_buf file;
  char path[128];
  int fd, i;
  int64_t id;
  double d;
  struct stat st;
  tarn_pq_kv kv[2] = {{"iceberg.schema", "{}"}, {"k", NULL}};
  small_schema(cols, &s);
  memset(&o, 0, sizeof(o));
  o.codec = TARN_PQ_ZSTD;
  o.row_group_rows = 1000;
  o.page_size = 2048;
  o.kv = kv;
  o.nkv = 2;
  snprintf(path, sizeof(path), "%s/a.parquet", fx->dir);
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  assert_true(fd >= 0);
  assert_int_equal(tarn_pq_writer_open_fd(fd, &s, &o, &w, &err), 0);
  for (i = 0; i < 5; i++) { /* batches of 700 rows straddle row groups of 1000 */
    small_fill(&sb, (int64_t)i * 700, 700);
    assert_int_equal(tarn_pq_writer_write(w, &sb.b, &err), 0);
    small_free(&sb);
  }
  assert_int_equal(tarn_pq_writer_close(w, &fi, &err), 0);
  assert_int_equal(fstat(fd, &st), 0);
  close(fd);
  assert_int_equal(fi.record_count, 3500);
  assert_int_equal(fi.file_size, st.st_size);
  assert_int_equal(fi.nsplits, 4);
  assert_int_equal(fi.split_offsets[0], 4);
  for (i = 1; i < 4; i++)
    assert_true(fi.split_offsets[i] > fi.split_offsets[i - 1]);
  assert_int_equal(fi.ncols, 3);
  assert_int_equal(fi.cols[0].field_id, 1);
  assert_int_equal(fi.cols[0].value_count, 3500);
  assert_int_equal(fi.cols[0].null_count, 0);
  assert_true(fi.cols[0].has_bounds);
  memcpy(&id, fi.cols[0].lower.data, 8);
  assert_int_equal(id, 0);
  memcpy(&id, fi.cols[0].upper.data, 8);
  assert_int_equal(id, 3499);
  assert_int_equal(fi.cols[1].null_count, 875);
  expect_bytes(&fi.cols[1].lower, (const uint8_t *)"n001", 4);
  expect_bytes(&fi.cols[1].upper, (const uint8_t *)"n299", 4);
  assert_int_equal(fi.cols[2].null_count, 584);      /* multiples of 6 below 3500 */
  assert_int_equal(fi.cols[2].nan_count, 350 - 117); /* multiples of 10 but not of 6 */
  memcpy(&d, fi.cols[2].lower.data, 8);
  assert_true(d == -49.75);
  memcpy(&d, fi.cols[2].upper.data, 8);
  assert_true(d == 199.75);
  assert_true(fi.cols[0].compressed_size > 0 && fi.cols[0].compressed_size < st.st_size);
  tarn_pq_file_info_free(&fi);
  tarn_buf_init(&file, TARN_BUF_UNLIMITED);
  read_all(path, &file);
  check_par1(&file);
  assert_non_null(memmem(file.data, file.len, "iceberg.schema", 14));
  assert_non_null(memmem(file.data, file.len, "tarn version", 12));
  tarn_buf_free(&file);
}

static void test_fd_write_failure(void **state) {
  tarn_pq_column cols[3];
  tarn_pq_schema s;
  tarn_pq_writer_options o;
  tarn_pq_writer *w;
  tarn_error err;
  small_batch sb;
  int fd = open("/dev/full", O_WRONLY);
  (void)state;
  if (fd < 0)
    skip();
  small_schema(cols, &s);
  memset(&o, 0, sizeof(o));
  o.row_group_rows = 100;
  /* the magic is written at open: /dev/full refuses it */
  assert_int_equal(tarn_pq_writer_open_fd(fd, &s, &o, &w, &err), TARN_ENOSPC);
  assert_null(w);
  assert_non_null(strstr(err.detail, "offset 0"));
  close(fd);
  (void)sb;
}

static void test_store_visibility(void **state) {
  fixture *fx = *state;
  tarn_pq_column cols[3];
  tarn_pq_schema s;
  tarn_pq_writer *w;
  tarn_pq_file_info fi;
  tarn_error err;
  tarn_store_stat ss;
  small_batch sb;
  int rc;
  small_schema(cols, &s);
  small_fill(&sb, 0, 500);
  assert_int_equal(tarn_pq_writer_open_store(fx->st, "t/data/a.parquet", TARN_STORE_IF_ABSENT, &s,
                                             NULL, &w, &err),
                   0);
  assert_int_equal(tarn_pq_writer_write(w, &sb.b, &err), 0);
  assert_int_equal(tarn_store_head(fx->st, "t/data/a.parquet", &ss, &err), TARN_ENOTFOUND);
  assert_int_equal(tarn_pq_writer_close(w, &fi, &err), 0);
  assert_int_equal(tarn_store_head(fx->st, "t/data/a.parquet", &ss, &err), 0);
  assert_int_equal((int64_t)ss.size, fi.file_size);
  tarn_pq_file_info_free(&fi);
  /* abort: nothing appears */
  assert_int_equal(tarn_pq_writer_open_store(fx->st, "t/data/b.parquet", 0, &s, NULL, &w, &err), 0);
  assert_int_equal(tarn_pq_writer_write(w, &sb.b, &err), 0);
  tarn_pq_writer_abort(w);
  assert_int_equal(tarn_store_head(fx->st, "t/data/b.parquet", &ss, &err), TARN_ENOTFOUND);
  /* put-if-absent on an existing key fails (at open or at close, as the backend decides) */
  rc = tarn_pq_writer_open_store(fx->st, "t/data/a.parquet", TARN_STORE_IF_ABSENT, &s, NULL, &w,
                                 &err);
  if (rc == 0) {
    assert_int_equal(tarn_pq_writer_write(w, &sb.b, &err), 0);
    rc = tarn_pq_writer_close(w, &fi, &err);
  }
  assert_int_equal(rc, TARN_EEXIST);
  tarn_pq_writer_abort(NULL);
  small_free(&sb);
}

static void test_store_write_fault(void **state) {
  fixture *fx = *state;
  tarn_store *faulty;
  tarn_pq_column cols[3];
  tarn_pq_schema s;
  tarn_pq_writer_options o;
  tarn_pq_writer *w;
  tarn_error err;
  tarn_store_stat ss;
  small_batch sb;
  int rc;
  assert_int_equal(tarn_store_faulty_wrap(fx->st, &faulty, &err), 0);
  fx->st = faulty;
  assert_int_equal(
      tarn_store_faulty_add(faulty, TARN_FAULT_WRITE, TARN_FAULT_SHORT, TARN_EIO, NULL, 2, 1, &err),
      0);
  small_schema(cols, &s);
  memset(&o, 0, sizeof(o));
  o.row_group_rows = 100;
  small_fill(&sb, 0, 250);
  assert_int_equal(tarn_pq_writer_open_store(faulty, "x.parquet", 0, &s, &o, &w, &err), 0);
  rc = tarn_pq_writer_write(w, &sb.b, &err); /* the first row group's write fails */
  assert_int_not_equal(rc, 0);
  assert_int_equal(tarn_pq_writer_write(w, &sb.b, &err), rc); /* sticky */
  assert_int_equal(tarn_pq_writer_close(w, NULL, &err), rc);
  assert_int_equal(tarn_store_head(faulty, "x.parquet", &ss, &err), TARN_ENOTFOUND);
  small_free(&sb);
}

static void test_dictionary_fallback(void **state) {
  tarn_pq_column cols[3];
  tarn_pq_schema s;
  tarn_pq_writer_options o;
  tarn_pq_writer *w;
  tarn_error err;
  small_batch sb;
  const tarn_pq_file_meta *m;
  const tarn_pq_chunk_meta *cm;
  int fd = open("/dev/null", O_WRONLY);
  size_t k;
  int plain = 0, dict = 0;
  (void)state;
  small_schema(cols, &s);
  memset(&o, 0, sizeof(o));
  o.row_group_rows = 2000;
  o.dictionary_cap = 256; /* the id column's dictionary fills after 32 values */
  o.page_size = 100;      /* many pages */
  small_fill(&sb, 0, 2000);
  assert_int_equal(tarn_pq_writer_open_fd(fd, &s, &o, &w, &err), 0);
  assert_int_equal(tarn_pq_writer_write(w, &sb.b, &err), 0);
  m = tarn__pq_writer_meta(w);
  assert_int_equal(m->nrow_groups, 1);
  cm = &m->row_groups[0].chunks[0];
  for (k = 0; k < cm->nencodings; k++) {
    plain += cm->encodings[k] == TARN_PQ_PLAIN;
    dict += cm->encodings[k] == TARN_PQ_RLE_DICTIONARY;
  }
  assert_int_equal(plain, 1);
  assert_int_equal(dict, 1);
  assert_int_equal(cm->dictionary_page_offset, cm->file_offset);
  assert_true(cm->data_page_offset > cm->dictionary_page_offset);
  assert_int_equal(cm->num_values, 2000);
  assert_true(cm->column_index_offset >= 0 && cm->offset_index_offset >= 0);
  /* the name column (300 distinct short strings) stays dictionary-encoded */
  cm = &m->row_groups[0].chunks[1];
  for (k = 0, plain = 0, dict = 0; k < cm->nencodings; k++) {
    plain += cm->encodings[k] == TARN_PQ_PLAIN;
    dict += cm->encodings[k] == TARN_PQ_RLE_DICTIONARY;
  }
  assert_int_equal(dict, 1);
  assert_true(cm->stats.has_min_max);
  assert_int_equal(cm->stats.null_count, 500);
  assert_int_equal(tarn_pq_writer_close(w, NULL, &err), 0);
  small_free(&sb);
  close(fd);
}

/* Reads the bloom filters back from the file bytes and checks every written value. */
/* A dictionary that does not pay on the chunk's first page is dropped: that page is
 * re-encoded PLAIN (values intact), the chunk has no dictionary page; columns with few
 * distinct values keep theirs. */
static void test_dictionary_probe(void **state) {
  tarn_pq_column cols[3];
  tarn_pq_schema s;
  tarn_pq_writer *w;
  tarn_pq_reader *r;
  tarn_pq_scan *sc;
  tarn_pq_batch *b;
  tarn_error err;
  small_batch sb;
  const tarn_pq_file_meta *m;
  FILE *f = tmpfile();
  int64_t row = 0, i;
  size_t k, c;
  (void)state;
  assert_non_null(f);
  small_schema(cols, &s);
  small_fill(&sb, 0, 30000);
  assert_int_equal(tarn_pq_writer_open_fd(fileno(f), &s, NULL, &w, &err), 0);
  assert_int_equal(tarn_pq_writer_write(w, &sb.b, &err), 0);
  assert_int_equal(tarn_pq_writer_close(w, NULL, &err), 0);
  assert_int_equal(tarn_pq_reader_open_fd(fileno(f), "probe", &r, &err), 0);
  m = tarn_pq_reader_meta(r);
  assert_int_equal(m->nrow_groups, 1);
  for (c = 0; c < 3; c++) {
    const tarn_pq_chunk_meta *cm = &m->row_groups[0].chunks[c];
    int dict = 0;
    for (k = 0; k < cm->nencodings; k++)
      dict += cm->encodings[k] == TARN_PQ_RLE_DICTIONARY;
    /* id: 30,000 distinct values; name: 300; score: 1,000 */
    assert_int_equal(dict, c == 0 ? 0 : 1);
    assert_int_equal(cm->dictionary_page_offset >= 0, c != 0);
  }
  assert_int_equal(tarn_pq_scan_open(r, NULL, &sc, &err), 0);
  while (tarn_pq_scan_next(sc, &b, &err) == 0 && b != NULL) {
    for (i = 0; i < b->nrows; i++, row++) {
      assert_int_equal(((int64_t *)b->cols[0].values)[i], row);
      if (row % 4 != 0) {
        char want[16];
        int64_t o = b->cols[1].offsets[i], n = b->cols[1].offsets[i + 1] - o;
        snprintf(want, sizeof(want), "n%03d", (int)(row % 300));
        assert_int_equal(n, 4);
        assert_memory_equal(b->cols[1].data + o, want, 4);
      }
    }
    tarn_pq_batch_free(b);
  }
  assert_int_equal(row, 30000);
  tarn_pq_scan_close(sc);
  tarn_pq_reader_close(r);
  fclose(f);
  small_free(&sb);
}

/* A scan that gets its batches back (tarn_pq_scan_recycle) returns the same rows as one
 * that frees them, batch boundaries crossing pages and row groups, nulls in some batches
 * and not in others. */
static void test_scan_recycle(void **state) {
  tarn_pq_column cols[3];
  tarn_pq_schema s;
  tarn_pq_writer_options o;
  tarn_pq_writer *w;
  tarn_pq_reader *r;
  tarn_error err;
  small_batch sb;
  FILE *f = tmpfile();
  int pass;
  (void)state;
  assert_non_null(f);
  small_schema(cols, &s);
  small_fill(&sb, 0, 50000);
  memset(&o, 0, sizeof(o));
  o.row_group_rows = 17000;
  o.page_size = 4096;
  assert_int_equal(tarn_pq_writer_open_fd(fileno(f), &s, &o, &w, &err), 0);
  assert_int_equal(tarn_pq_writer_write(w, &sb.b, &err), 0);
  assert_int_equal(tarn_pq_writer_close(w, NULL, &err), 0);
  assert_int_equal(tarn_pq_reader_open_fd(fileno(f), "recycle", &r, &err), 0);
  for (pass = 0; pass < 2; pass++) {
    tarn_pq_scan_options so;
    tarn_pq_scan *sc;
    tarn_pq_batch *b;
    int64_t row = 0, i;
    memset(&so, 0, sizeof(so));
    so.row_group = -1;
    so.batch_rows = pass ? 7001 : 3;
    assert_int_equal(tarn_pq_scan_open(r, &so, &sc, &err), 0);
    while (tarn_pq_scan_next(sc, &b, &err) == 0 && b != NULL) {
      for (i = 0; i < b->nrows; i++, row++) {
        const tarn_pq_array *nm = &b->cols[1], *sc2 = &b->cols[2];
        int nvalid = nm->validity == NULL || (nm->validity[i >> 3] >> (i & 7)) & 1;
        int svalid = sc2->validity == NULL || (sc2->validity[i >> 3] >> (i & 7)) & 1;
        assert_int_equal(((int64_t *)b->cols[0].values)[i], row);
        assert_int_equal(nvalid, row % 4 != 0);
        assert_int_equal(svalid, row % 6 != 0);
        if (nvalid) {
          char want[16];
          snprintf(want, sizeof(want), "n%03d", (int)(row % 300));
          assert_int_equal(nm->offsets[i + 1] - nm->offsets[i], 4);
          assert_memory_equal(nm->data + nm->offsets[i], want, 4);
        } else {
          assert_int_equal(nm->offsets[i + 1], nm->offsets[i]);
        }
        if (svalid && row % 10 != 0)
          assert_true(((double *)sc2->values)[i] == (double)(row % 1000) / 4.0 - 50.0);
      }
      tarn_pq_scan_recycle(sc, b);
    }
    assert_int_equal(row, 50000);
    tarn_pq_scan_recycle(sc, NULL);
    tarn_pq_scan_close(sc);
  }
  tarn_pq_reader_close(r);
  fclose(f);
  small_free(&sb);
}

static void test_bloom_filter(void **state) {
  fixture *fx = *state;
  tarn_pq_column cols[3];
  tarn_pq_schema s;
  tarn_pq_writer_options o;
  tarn_pq_column_options co[2];
  tarn_pq_writer *w;
  tarn_error err;
  small_batch sb;
  tarn_buf file;
  char path[128];
  int64_t off[2];
  int32_t len[2];
  int fd, i, fp = 0;
  const tarn_pq_file_meta *m;
  small_schema(cols, &s);
  memset(&o, 0, sizeof(o));
  memset(co, 0, sizeof(co));
  co[0].field_id = 1;
  co[0].bloom_filter = 1;
  co[0].dictionary = 0;
  co[1].field_id = 2;
  co[1].bloom_filter = 1;
  co[1].dictionary = -1; /* 0 would mean off */
  o.columns = co;
  o.ncolumns = 2;
  o.row_group_rows = 3000;
  snprintf(path, sizeof(path), "%s/bloom.parquet", fx->dir);
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  assert_int_equal(tarn_pq_writer_open_fd(fd, &s, &o, &w, &err), 0);
  small_fill(&sb, 0, 3000);
  assert_int_equal(tarn_pq_writer_write(w, &sb.b, &err), 0);
  m = tarn__pq_writer_meta(w);
  assert_int_equal(m->nrow_groups, 1);
  for (i = 0; i < 2; i++) {
    off[i] = m->row_groups[0].chunks[i].bloom_filter_offset;
    len[i] = m->row_groups[0].chunks[i].bloom_filter_length;
    assert_true(off[i] > 0 && len[i] > 32);
  }
  assert_int_equal(m->row_groups[0].chunks[2].bloom_filter_offset, -1);
  assert_int_equal(tarn_pq_writer_close(w, NULL, &err), 0);
  close(fd);
  tarn_buf_init(&file, TARN_BUF_UNLIMITED);
  read_all(path, &file);
  {
    /* header: 0x15 zigzag(numBytes) ... ; the bitset is the last numBytes of len */
    const uint8_t *h0 = (const uint8_t *)file.data + off[0];
    const uint8_t *h1 = (const uint8_t *)file.data + off[1];
    size_t pos = 1, n0, n1;
    assert_int_equal(h0[0], 0x15);
    n0 = (size_t)(rd_uleb(h0, (size_t)len[0], &pos) >> 1);
    pos = 1;
    n1 = (size_t)(rd_uleb(h1, (size_t)len[1], &pos) >> 1);
    assert_true((n0 & (n0 - 1)) == 0 && (n1 & (n1 - 1)) == 0);
    /* 3000 distinct ids; 225 distinct names (its filter folded down from 4 KiB) */
    assert_int_equal(n0, tarn__pq_bloom_size(3000, 0.01));
    assert_int_equal(n1, tarn__pq_bloom_size(225, 0.01));
    h0 += len[0] - (int32_t)n0;
    h1 += len[1] - (int32_t)n1;
    for (i = 0; i < 3000; i++) {
      int64_t v = i;
      char name[16];
      assert_true(tarn__pq_bloom_check(h0, n0, tarn_xxh64(&v, 8, 0)));
      snprintf(name, sizeof(name), "n%03d", i % 300);
      if (i % 4 != 0) /* rows divisible by 4 hold null names */
        assert_true(tarn__pq_bloom_check(h1, n1, tarn_xxh64(name, 4, 0)));
    }
    for (i = 3000; i < 13000; i++) { /* absent values: about 1% false positives */
      int64_t v = i;
      fp += tarn__pq_bloom_check(h0, n0, tarn_xxh64(&v, 8, 0));
    }
    assert_true(fp < 300);
  }
  small_free(&sb);
  tarn_buf_free(&file);
}

static void test_alloc_failures(void **state) {
  fixture *fx = *state;
  tarn_pq_column cols[3];
  tarn_pq_schema s;
  tarn_pq_writer_options o;
  tarn_pq_column_options co;
  small_batch sb;
  long n;
  int done = 0;
  small_schema(cols, &s);
  memset(&o, 0, sizeof(o));
  memset(&co, 0, sizeof(co));
  co.field_id = 2;
  co.bloom_filter = 1;
  o.columns = &co;
  o.ncolumns = 1;
  o.row_group_rows = 300;
  o.page_size = 512;
  o.codec = TARN_PQ_GZIP;
  small_fill(&sb, 0, 700);
  for (n = 0; !done && n < 5000; n++) {
    tarn_pq_writer *w = NULL;
    tarn_pq_file_info fi;
    tarn_error err;
    int fd = open("/dev/null", O_WRONLY), rc;
    (void)fx;
    tarn_alloc_fail_after(n);
    rc = tarn_pq_writer_open_fd(fd, &s, &o, &w, &err);
    if (rc == 0) {
      rc = tarn_pq_writer_write(w, &sb.b, &err);
      if (rc == 0)
        rc = tarn_pq_writer_close(w, &fi, &err);
      else
        tarn_pq_writer_abort(w);
    }
    tarn_alloc_fail_reset();
    if (rc == 0) {
      assert_int_equal(fi.record_count, 700);
      tarn_pq_file_info_free(&fi);
      done = 1;
    } else {
      assert_int_equal(rc, TARN_ENOMEM);
    }
    close(fd);
  }
  assert_true(done);
  small_free(&sb);
}

/* ---- interop files for tests/e2e/test_parquet_interop.sh ----
 * Written only when TARN_PQW_DUMP names a directory: for each file NAME.parquet,
 * NAME.expected.json (options, schema and every value written) and NAME.info.json (what
 * tarn_pq_file_info reported), plus manifest.json listing the names. Values in the JSON
 * are physical: integers as decimal strings (INT32 signed, as stored), floats as "%.17g"
 * strings or "NaN"/"Infinity"/"-Infinity", booleans as JSON booleans, byte arrays (STRING
 * included) and fixed-length byte arrays as lowercase hex, nulls as null. */

typedef struct gcol {
  const char *name;
  tarn_pq_type type;
  tarn_pq_logical logical;
  tarn_pq_unit unit;
  int utc, bits, sign, prec, scale, tlen;
} gcol;

static const gcol gcols[] = {
    {"b", TARN_PQ_BOOLEAN, 0, 0, 0, 0, 0, 0, 0, 0},
    {"i32", TARN_PQ_INT32, 0, 0, 0, 0, 0, 0, 0, 0},
    {"i64", TARN_PQ_INT64, 0, 0, 0, 0, 0, 0, 0, 0},
    {"f32", TARN_PQ_FLOAT, 0, 0, 0, 0, 0, 0, 0, 0},
    {"f64", TARN_PQ_DOUBLE, 0, 0, 0, 0, 0, 0, 0, 0},
    {"str", TARN_PQ_BYTE_ARRAY, TARN_PQ_LT_STRING, 0, 0, 0, 0, 0, 0, 0},
    {"bin", TARN_PQ_BYTE_ARRAY, 0, 0, 0, 0, 0, 0, 0, 0},
    {"flba", TARN_PQ_FIXED_LEN_BYTE_ARRAY, 0, 0, 0, 0, 0, 0, 0, 5},
    {"date", TARN_PQ_INT32, TARN_PQ_LT_DATE, 0, 0, 0, 0, 0, 0, 0},
    {"time_ms", TARN_PQ_INT32, TARN_PQ_LT_TIME, TARN_PQ_MILLIS, 1, 0, 0, 0, 0, 0},
    {"time_us", TARN_PQ_INT64, TARN_PQ_LT_TIME, TARN_PQ_MICROS, 0, 0, 0, 0, 0, 0},
    {"time_ns", TARN_PQ_INT64, TARN_PQ_LT_TIME, TARN_PQ_NANOS, 1, 0, 0, 0, 0, 0},
    {"time_ns_local", TARN_PQ_INT64, TARN_PQ_LT_TIME, TARN_PQ_NANOS, 0, 0, 0, 0, 0, 0},
    {"ts_us_utc", TARN_PQ_INT64, TARN_PQ_LT_TIMESTAMP, TARN_PQ_MICROS, 1, 0, 0, 0, 0, 0},
    {"ts_us", TARN_PQ_INT64, TARN_PQ_LT_TIMESTAMP, TARN_PQ_MICROS, 0, 0, 0, 0, 0, 0},
    {"ts_ns_utc", TARN_PQ_INT64, TARN_PQ_LT_TIMESTAMP, TARN_PQ_NANOS, 1, 0, 0, 0, 0, 0},
    {"ts_ns", TARN_PQ_INT64, TARN_PQ_LT_TIMESTAMP, TARN_PQ_NANOS, 0, 0, 0, 0, 0, 0},
    {"ts_ms_utc", TARN_PQ_INT64, TARN_PQ_LT_TIMESTAMP, TARN_PQ_MILLIS, 1, 0, 0, 0, 0, 0},
    {"ts_ms", TARN_PQ_INT64, TARN_PQ_LT_TIMESTAMP, TARN_PQ_MILLIS, 0, 0, 0, 0, 0, 0},
    {"int8", TARN_PQ_INT32, TARN_PQ_LT_INTEGER, 0, 0, 8, 1, 0, 0, 0},
    {"int16", TARN_PQ_INT32, TARN_PQ_LT_INTEGER, 0, 0, 16, 1, 0, 0, 0},
    {"int32", TARN_PQ_INT32, TARN_PQ_LT_INTEGER, 0, 0, 32, 1, 0, 0, 0},
    {"int64", TARN_PQ_INT64, TARN_PQ_LT_INTEGER, 0, 0, 64, 1, 0, 0, 0},
    {"uint8", TARN_PQ_INT32, TARN_PQ_LT_INTEGER, 0, 0, 8, 0, 0, 0, 0},
    {"uint16", TARN_PQ_INT32, TARN_PQ_LT_INTEGER, 0, 0, 16, 0, 0, 0, 0},
    {"uint32", TARN_PQ_INT32, TARN_PQ_LT_INTEGER, 0, 0, 32, 0, 0, 0, 0},
    {"uint64", TARN_PQ_INT64, TARN_PQ_LT_INTEGER, 0, 0, 64, 0, 0, 0, 0},
    {"uuid", TARN_PQ_FIXED_LEN_BYTE_ARRAY, TARN_PQ_LT_UUID, 0, 0, 0, 0, 0, 0, 16},
    {"dec32", TARN_PQ_INT32, TARN_PQ_LT_DECIMAL, 0, 0, 0, 0, 9, 2, 0},
    {"dec64", TARN_PQ_INT64, TARN_PQ_LT_DECIMAL, 0, 0, 0, 0, 18, 4, 0},
    {"decfl", TARN_PQ_FIXED_LEN_BYTE_ARRAY, TARN_PQ_LT_DECIMAL, 0, 0, 0, 0, 30, 5, 13},
};
#define NG (sizeof(gcols) / sizeof(gcols[0]))

/* What a generated file's values look like. */
enum {
  GEN_NORMAL = 0, /* formulas below */
  GEN_EXTREME,    /* every other row an extreme: type limits, NaN, infinities, -0, "" */
  GEN_ALLNULL,    /* OPTIONAL columns all null, REQUIRED floats all NaN */
  GEN_LONG,       /* byte arrays up to ~90 KB (past page size and statistics truncation) */
};
#define GEN_VMAX (128 * 1024) /* largest generated value in bytes */

/* Big-endian two's complement of ±(10^digits - 1) in n bytes. */
static void be_nines(uint8_t *out, size_t n, int digits, int neg) {
  size_t i;
  int d;
  memset(out, 0, n);
  out[n - 1] = 1;
  for (d = 0; d < digits; d++) { /* out *= 10 */
    unsigned carry = 0;
    for (i = n; i-- > 0;) {
      unsigned v = out[i] * 10u + carry;
      out[i] = (uint8_t)v;
      carry = v >> 8;
    }
  }
  for (i = n; i-- > 0;) { /* out -= 1 */
    if (out[i]-- != 0)
      break;
  }
  if (neg) { /* two's complement negate */
    unsigned carry = 1;
    for (i = n; i-- > 0;) {
      unsigned v = (uint8_t)~out[i] + carry;
      out[i] = (uint8_t)v;
      carry = v >> 8;
    }
  }
}

/* The i-th extreme value of a column's type; 0 when the type has none (booleans). */
static int gen_extreme(const gcol *c, int64_t i, uint8_t *out, size_t *len) {
  switch (c->type) {
  case TARN_PQ_BOOLEAN: return 0;
  case TARN_PQ_INT32: {
    static const int32_t s8[] = {-128, 127, 0, -1}, u8[] = {0, 255, 128, 1};
    static const int32_t s16[] = {-32768, 32767, 0}, u16[] = {0, 65535, 32768};
    static const int32_t s32[] = {INT32_MIN, INT32_MAX, 0, -1, 1};
    static const int32_t u32[] = {0, -1, INT32_MIN, INT32_MAX}; /* 0, 2^32-1, 2^31, 2^31-1 */
    static const int32_t date[] = {-719162, 2932896, 0, -1};    /* 0001-01-01, 9999-12-31 */
    static const int32_t tms[] = {0, 86399999, 1};
    static const int32_t d9[] = {-999999999, 999999999, 0, -1};
    const int32_t *l = s32;
    size_t n = 5;
    if (c->logical == TARN_PQ_LT_INTEGER && c->bits == 8)
      l = c->sign ? s8 : u8, n = 4;
    else if (c->logical == TARN_PQ_LT_INTEGER && c->bits == 16)
      l = c->sign ? s16 : u16, n = 3;
    else if (c->logical == TARN_PQ_LT_INTEGER && !c->sign)
      l = u32, n = 4;
    else if (c->logical == TARN_PQ_LT_DATE)
      l = date, n = 4;
    else if (c->logical == TARN_PQ_LT_TIME)
      l = tms, n = 3;
    else if (c->logical == TARN_PQ_LT_DECIMAL)
      l = d9, n = 4;
    memcpy(out, &l[i % (int64_t)n], 4);
    *len = 4;
    return 1;
  }
  case TARN_PQ_INT64: {
    static const int64_t s64[] = {INT64_MIN, INT64_MAX, 0, -1};
    static const int64_t u64[] = {0, -1, INT64_MIN, INT64_MAX};
    static const int64_t tus[] = {0, 86399999999ll, 1}, tns[] = {0, 86399999999999ll, 1};
    /* years 0001 and 9999; nanoseconds reach ±2^63 around 1677 and 2262 */
    static const int64_t tsms[] = {-62135596800000ll, 253402300799999ll, 0, -1};
    static const int64_t tsus[] = {-62135596800000000ll, 253402300799999999ll, 0, -1};
    static const int64_t tsns[] = {-9200000000000000000ll, 9200000000000000000ll, 0, -1};
    static const int64_t d18[] = {-999999999999999999ll, 999999999999999999ll, 0, -1};
    const int64_t *l = s64;
    size_t n = 4;
    if (c->logical == TARN_PQ_LT_INTEGER && !c->sign)
      l = u64;
    else if (c->logical == TARN_PQ_LT_TIME)
      l = c->unit == TARN_PQ_MICROS ? tus : tns, n = 3;
    else if (c->logical == TARN_PQ_LT_TIMESTAMP)
      l = c->unit == TARN_PQ_MILLIS ? tsms : c->unit == TARN_PQ_MICROS ? tsus : tsns;
    else if (c->logical == TARN_PQ_LT_DECIMAL)
      l = d18;
    memcpy(out, &l[i % (int64_t)n], 8);
    *len = 8;
    return 1;
  }
  case TARN_PQ_FLOAT: {
    static const float l[] = {NAN,     INFINITY, -INFINITY,    -0.0f,   0.0f,
                              FLT_MAX, -FLT_MAX, FLT_TRUE_MIN, -FLT_MIN};
    memcpy(out, &l[i % 9], 4);
    *len = 4;
    return 1;
  }
  case TARN_PQ_DOUBLE: {
    static const double l[] = {NAN,     INFINITY, -INFINITY,    -0.0,    0.0,
                               DBL_MAX, -DBL_MAX, DBL_TRUE_MIN, -DBL_MIN};
    memcpy(out, &l[i % 9], 8);
    *len = 8;
    return 1;
  }
  case TARN_PQ_BYTE_ARRAY: {
    /* "", U+10FFFF, an embedded NUL, U+00FF; for binary: "", 00, ff ff ff, 80 */
    static const char *const str[] = {"", "\xf4\x8f\xbf\xbf", "a\0b", "\xc3\xbf", "~"};
    static const size_t strn[] = {0, 4, 3, 2, 1};
    static const char *const bin[] = {"", "\0", "\xff\xff\xff", "\x80"};
    static const size_t binn[] = {0, 1, 3, 1};
    if (c->logical == TARN_PQ_LT_STRING) {
      memcpy(out, str[i % 5], strn[i % 5]);
      *len = strn[i % 5];
    } else {
      memcpy(out, bin[i % 4], binn[i % 4]);
      *len = binn[i % 4];
    }
    return 1;
  }
  case TARN_PQ_FIXED_LEN_BYTE_ARRAY:
    if (c->logical == TARN_PQ_LT_DECIMAL)
      be_nines(out, (size_t)c->tlen, c->prec, (int)(i % 2));
    else
      memset(out, i % 2 ? 0xff : 0x00, (size_t)c->tlen);
    *len = (size_t)c->tlen;
    return 1;
  default: return 0;
  }
}

/* A long byte array for row r: up to ~90 KB; STRING is multi-byte UTF-8 text, binary
 * sometimes all 0xff (an upper bound that cannot be shortened). */
static size_t gen_long(const gcol *c, int64_t r, uint8_t *out) {
  size_t n = 100 + (size_t)(r % 4) * 30000 + (size_t)r, i = 0;
  if (c->logical == TARN_PQ_LT_STRING) {
    static const char *const pieces[] = {"\xc3\xa9", "\xe6\x97\xa5", "x", "\xf0\x9d\x84\x9e"};
    out[i++] = (uint8_t)('a' + r % 26);
    while (i + 4 <= n) {
      const char *p = pieces[(i + (size_t)r) % 4];
      size_t pl = strlen(p);
      memcpy(out + i, p, pl);
      i += pl;
    }
    return i;
  }
  for (; i < n; i++)
    out[i] = r % 3 == 0 ? 0xff : (uint8_t)((size_t)r * 31 + i * 7);
  return n;
}

/* Deterministic physical value of generated column g at row r (also the JSON expectation).
 * Returns 0 for a null (optional columns only). `out` holds GEN_VMAX bytes. */
static int gen_value(size_t g, int64_t r, int optional, int edge, int card, uint8_t *out,
                     size_t *len) {
  uint64_t h = (uint64_t)r * 0x9E3779B97F4A7C15ull ^ (uint64_t)g * 0xC2B2AE3D27D4EB4Full;
  int64_t k = card ? r % card : r; /* low cardinality variant exercises dictionaries */
  const gcol *c = &gcols[g];
  if (optional && (edge == GEN_ALLNULL || (r * 7 + (int64_t)g) % 5 == 0))
    return 0;
  if (edge == GEN_EXTREME && r % 2 == 0 && gen_extreme(c, r / 2, out, len))
    return 1;
  if (edge == GEN_ALLNULL && c->type == TARN_PQ_FLOAT) {
    float f = NAN;
    memcpy(out, &f, *len = 4);
    return 1;
  }
  if (edge == GEN_ALLNULL && c->type == TARN_PQ_DOUBLE) {
    double d = NAN;
    memcpy(out, &d, *len = 8);
    return 1;
  }
  if (edge == GEN_LONG && c->type == TARN_PQ_BYTE_ARRAY) {
    *len = gen_long(c, r, out);
    return 1;
  }
  h ^= h >> 29;
  if (card)
    h = (uint64_t)k * 0x9E3779B97F4A7C15ull;
  switch (c->type) {
  case TARN_PQ_BOOLEAN:
    out[0] = (uint8_t)((k % 3) == 0);
    *len = 1;
    break;
  case TARN_PQ_INT32: {
    int32_t v;
    if (c->logical == TARN_PQ_LT_INTEGER && c->bits == 8)
      v = c->sign ? (int32_t)(k % 256) - 128 : (int32_t)(k % 256);
    else if (c->logical == TARN_PQ_LT_INTEGER && c->bits == 16)
      v = c->sign ? (int32_t)(k % 65536) - 32768 : (int32_t)(h % 65536);
    else if (c->logical == TARN_PQ_LT_DATE)
      v = (int32_t)(k % 40000) - 10000;
    else if (c->logical == TARN_PQ_LT_TIME)
      v = (int32_t)(h % 86400000u);
    else if (c->logical == TARN_PQ_LT_DECIMAL)
      v = (int32_t)(h % 1999999999u) - 999999999;
    else
      v = (int32_t)(uint32_t)h;
    memcpy(out, &v, 4);
    *len = 4;
    break;
  }
  case TARN_PQ_INT64: {
    int64_t v;
    if (c->logical == TARN_PQ_LT_TIME)
      v = (int64_t)(h % (c->unit == TARN_PQ_MICROS ? 86400000000ull : 86400000000000ull));
    else if (c->logical == TARN_PQ_LT_TIMESTAMP)
      v = (int64_t)(h % 4000000000000ull) * (c->unit == TARN_PQ_NANOS ? 1000 : 1) -
          1000000000000ll + (c->unit == TARN_PQ_MILLIS ? 0 : 7);
    else if (c->logical == TARN_PQ_LT_DECIMAL)
      v = (int64_t)(h % 1999999999999999999ull) - 999999999999999999ll;
    else
      v = (int64_t)h;
    if (c->logical == TARN_PQ_LT_TIMESTAMP && c->unit == TARN_PQ_MILLIS)
      v /= 1000;
    memcpy(out, &v, 8);
    *len = 8;
    break;
  }
  case TARN_PQ_FLOAT: {
    float v = k % 50 == 7 ? NAN : k % 61 == 3 ? -0.0f : (float)((int64_t)(h % 20001) - 10000) / 8;
    memcpy(out, &v, 4);
    *len = 4;
    break;
  }
  case TARN_PQ_DOUBLE: {
    double v = k % 50 == 9   ? NAN
               : k % 70 == 1 ? 0.0
                             : (double)(int64_t)(h % 2000001) / 1024.0 - 900.5;
    memcpy(out, &v, 8);
    *len = 8;
    break;
  }
  case TARN_PQ_BYTE_ARRAY:
    if (c->logical == TARN_PQ_LT_STRING) {
      static const char *const words[] = {
          "alpha", "Ünïcödé", "", "z", "日本語テキスト", "quote\"back\\slash", "tab\tnl"};
      *len =
          (size_t)sprintf((char *)out, "%s-%llu", words[h % 7], (unsigned long long)(h % 100000));
    } else {
      size_t i, n = h % 12;
      for (i = 0; i < n; i++)
        out[i] = (uint8_t)(h >> (i * 5));
      *len = n;
    }
    break;
  case TARN_PQ_FIXED_LEN_BYTE_ARRAY: {
    size_t i;
    for (i = 0; i < (size_t)c->tlen; i++)
      out[i] = (uint8_t)((h >> ((i * 7) % 57)) + i);
    if (c->logical == TARN_PQ_LT_DECIMAL) { /* stay within 30 digits: top bits sign-extended */
      uint8_t s = (out[12] & 1) ? 0xff : 0x00;
      out[0] = s;
      out[1] = s;
      out[2] = (uint8_t)((s & 0x80) | (out[2] & 0x0f));
      if (s)
        out[2] |= 0xf0;
    }
    *len = (size_t)c->tlen;
    break;
  }
  default: break;
  }
  return 1;
}

static void json_hex(FILE *f, const uint8_t *p, size_t n) {
  size_t i;
  fputc('"', f);
  for (i = 0; i < n; i++)
    fprintf(f, "%02x", p[i]);
  fputc('"', f);
}

static void json_double(FILE *f, double x) {
  if (isnan(x))
    fputs("\"NaN\"", f);
  else if (isinf(x))
    fputs(x > 0 ? "\"Infinity\"" : "\"-Infinity\"", f);
  else
    fprintf(f, "\"%.17g\"", x);
}

static void json_value(FILE *f, size_t g, const uint8_t *v, size_t n) {
  const gcol *c = &gcols[g];
  switch (c->type) {
  case TARN_PQ_BOOLEAN: fputs(v[0] ? "true" : "false", f); break;
  case TARN_PQ_INT32: {
    int32_t x;
    memcpy(&x, v, 4);
    fprintf(f, "\"%d\"", x);
    break;
  }
  case TARN_PQ_INT64: {
    int64_t x;
    memcpy(&x, v, 8);
    fprintf(f, "\"%lld\"", (long long)x);
    break;
  }
  case TARN_PQ_FLOAT: {
    float x;
    memcpy(&x, v, 4);
    json_double(f, (double)x);
    break;
  }
  case TARN_PQ_DOUBLE: {
    double x;
    memcpy(&x, v, 8);
    json_double(f, x);
    break;
  }
  default: json_hex(f, v, n); break;
  }
}

static const char *logical_name(tarn_pq_logical l) {
  static const char *const names[] = {"NONE",    "STRING", "DATE",    "TIME", "TIMESTAMP",
                                      "INTEGER", "UUID",   "DECIMAL", "JSON", "ENUM"};
  return (unsigned)l < sizeof(names) / sizeof(names[0]) ? names[l] : "?";
}

typedef struct gfile {
  const char *name;
  tarn_pq_codec codec;
  int v2, dict, card, nrows, rg_rows, page;
  size_t dict_cap, trunc;
  int bloom, nostats, noindex, edge;
} gfile;

/* Fills one batch column with rows [r0, r0 + n) of generated column j. */
static void gen_array(tarn_pq_array *a, size_t j, const gfile *gf, int64_t r0, int64_t n,
                      uint8_t *v) {
  const gcol *c = &gcols[j % NG];
  size_t cap = 0;
  int64_t r, pos = 0;
  memset(a, 0, sizeof(*a));
  a->length = n;
  if (j >= NG)
    a->validity = calloc((size_t)n / 8 + 1, 1);
  if (c->type == TARN_PQ_BYTE_ARRAY) {
    a->offsets = calloc((size_t)n + 1, 8);
    cap = (size_t)n * 16 + 1;
    a->data = malloc(cap);
  } else if (c->type == TARN_PQ_BOOLEAN) {
    a->values = calloc((size_t)n / 8 + 1, 1);
  } else {
    a->values = calloc((size_t)n, c->tlen ? (size_t)c->tlen : 8);
  }
  for (r = 0; r < n; r++) {
    size_t vn = 0;
    int ok = gen_value(j % NG, r0 + r, j >= NG, gf->edge, gf->card, v, &vn);
    if (ok && a->validity)
      a->validity[r / 8] |= (uint8_t)(1u << (r % 8));
    if (c->type == TARN_PQ_BYTE_ARRAY) {
      a->offsets[r] = pos;
      if (ok) {
        if ((size_t)pos + vn > cap) {
          cap = ((size_t)pos + vn) * 2;
          a->data = realloc(a->data, cap);
          assert_non_null(a->data);
        }
        memcpy(a->data + pos, v, vn);
        pos += (int64_t)vn;
      }
    } else if (c->type == TARN_PQ_BOOLEAN) {
      if (ok && v[0])
        ((uint8_t *)a->values)[r / 8] |= (uint8_t)(1u << (r % 8));
    } else if (ok) {
      size_t wd = c->type == TARN_PQ_FIXED_LEN_BYTE_ARRAY                  ? (size_t)c->tlen
                  : (c->type == TARN_PQ_INT32 || c->type == TARN_PQ_FLOAT) ? 4
                                                                           : 8;
      memcpy((uint8_t *)a->values + (size_t)r * wd, v, wd);
    }
  }
  if (c->type == TARN_PQ_BYTE_ARRAY) {
    a->offsets[n] = pos;
    a->data_len = pos;
  }
}

static void write_info(const char *dir, const char *name, const tarn_pq_file_info *fi) {
  char ip[600];
  FILE *f;
  size_t j;
  snprintf(ip, sizeof(ip), "%s/%s.info.json", dir, name);
  f = fopen(ip, "w");
  assert_non_null(f);
  fprintf(f, "{\"records\":%lld,\"size\":%lld,\"splits\":[", (long long)fi->record_count,
          (long long)fi->file_size);
  for (j = 0; j < fi->nsplits; j++)
    fprintf(f, "%s%lld", j ? "," : "", (long long)fi->split_offsets[j]);
  fputs("],\"cols\":[", f);
  for (j = 0; j < fi->ncols; j++) {
    const tarn_pq_column_info *ci = &fi->cols[j];
    fprintf(f,
            "%s{\"id\":%d,\"size\":%lld,\"values\":%lld,\"nulls\":%lld,\"nans\":%lld,"
            "\"has\":%d,\"lower\":",
            j ? "," : "", (int)ci->field_id, (long long)ci->compressed_size,
            (long long)ci->value_count, (long long)ci->null_count, (long long)ci->nan_count,
            ci->has_bounds);
    json_hex(f, (const uint8_t *)ci->lower.data, ci->lower.len);
    fputs(",\"upper\":", f);
    json_hex(f, (const uint8_t *)ci->upper.data, ci->upper.len);
    fputs("}", f);
  }
  fputs("]}\n", f);
  assert_int_equal(fclose(f), 0);
}

static void gen_file(const char *dir, const gfile *gf) {
  tarn_pq_column cols[NG * 2];
  tarn_pq_column_options copts[NG * 2];
  tarn_pq_schema s = {cols, NG * 2};
  tarn_pq_writer_options o;
  tarn_pq_writer *w;
  tarn_pq_file_info fi;
  tarn_error err;
  tarn_pq_kv kv[2] = {{"tarn.test", (char *)gf->name}, {"empty", ""}};
  char path[512];
  FILE *ex;
  uint8_t *v = malloc(GEN_VMAX);
  int fd;
  size_t j;
  int64_t r0, r;
  int rc;
  const int step = 777;
  assert_non_null(v);
  for (j = 0; j < NG * 2; j++) {
    const gcol *c = &gcols[j % NG];
    char *nm = malloc(64);
    snprintf(nm, 64, "%s_%s", c->name, j < NG ? "req" : "opt");
    memset(&cols[j], 0, sizeof(cols[j]));
    cols[j].name = nm;
    cols[j].field_id = (int32_t)(j + 1) * 3;
    cols[j].type = c->type;
    cols[j].optional = j >= NG;
    cols[j].logical = c->logical;
    cols[j].unit = c->unit;
    cols[j].adjusted_to_utc = c->utc;
    cols[j].bit_width = c->bits;
    cols[j].is_signed = c->sign;
    cols[j].precision = c->prec;
    cols[j].scale = c->scale;
    cols[j].type_length = c->tlen;
    memset(&copts[j], 0, sizeof(copts[j]));
    copts[j].field_id = cols[j].field_id;
    copts[j].dictionary = gf->dict ? -1 : 0;
    copts[j].bloom_filter = gf->bloom;
  }
  memset(&o, 0, sizeof(o));
  o.codec = gf->codec;
  o.data_page_version = gf->v2 ? 2 : 1;
  o.row_group_rows = gf->rg_rows;
  o.page_size = (size_t)gf->page;
  o.dictionary_cap = gf->dict_cap;
  o.stats_truncate = gf->trunc;
  o.no_statistics = gf->nostats;
  o.no_page_index = gf->noindex;
  o.columns = copts;
  o.ncolumns = NG * 2;
  o.kv = kv;
  o.nkv = 2;

  /* the expectation: options, schema, every value */
  snprintf(path, sizeof(path), "%s/%s.expected.json", dir, gf->name);
  ex = fopen(path, "w");
  assert_non_null(ex);
  fprintf(ex,
          "{\"name\":\"%s\",\"codec\":\"%s\",\"v2\":%d,\"dict\":%d,\"card\":%d,\"rows\":%d,"
          "\"rg_rows\":%d,\"nostats\":%d,\"noindex\":%d,\"bloom\":%d,\"trunc\":%zu,"
          "\"kv\":[[\"tarn.test\",\"%s\"],[\"empty\",\"\"]],\"columns\":[\n",
          gf->name, tarn_pq_codec_name(gf->codec), gf->v2, gf->dict, gf->card, gf->nrows,
          gf->rg_rows, gf->nostats, gf->noindex, gf->bloom, gf->trunc ? gf->trunc : 64, gf->name);
  for (j = 0; j < NG * 2; j++) {
    char desc[96];
    tarn_pq_column_describe(&cols[j], desc, sizeof(desc));
    fprintf(ex,
            "%s{\"name\":\"%s\",\"id\":%d,\"type\":\"%s\",\"desc\":\"%s\",\"optional\":%d,"
            "\"logical\":\"%s\",\"unit\":\"%s\",\"utc\":%d,\"bits\":%d,\"signed\":%d,"
            "\"prec\":%d,\"scale\":%d,\"tlen\":%d,\"values\":[",
            j ? ",\n" : "", cols[j].name, (int)cols[j].field_id, tarn_pq_type_name(cols[j].type),
            desc, cols[j].optional, logical_name(cols[j].logical),
            cols[j].unit == TARN_PQ_MILLIS   ? "MILLIS"
            : cols[j].unit == TARN_PQ_MICROS ? "MICROS"
                                             : "NANOS",
            cols[j].adjusted_to_utc, cols[j].bit_width, cols[j].is_signed, (int)cols[j].precision,
            (int)cols[j].scale, (int)cols[j].type_length);
    for (r = 0; r < gf->nrows; r++) {
      size_t n = 0;
      if (r)
        fputc(',', ex);
      if (gen_value(j % NG, r, j >= NG, gf->edge, gf->card, v, &n))
        json_value(ex, j % NG, v, n);
      else
        fputs("null", ex);
    }
    fputs("]}", ex);
  }
  fputs("]}\n", ex);
  assert_int_equal(fclose(ex), 0);

  snprintf(path, sizeof(path), "%s/%s.parquet", dir, gf->name);
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  assert_true(fd >= 0);
  rc = tarn_pq_writer_open_fd(fd, &s, &o, &w, &err);
  if (rc != 0)
    fail_msg("open %s: %s", gf->name, err.detail);
  /* batches of `step` rows */
  for (r0 = 0; r0 < gf->nrows; r0 += step) {
    int64_t n = gf->nrows - r0 < step ? gf->nrows - r0 : step;
    tarn_pq_array arr[NG * 2];
    tarn_pq_batch b = {n, NG * 2, arr};
    for (j = 0; j < NG * 2; j++)
      gen_array(&arr[j], j, gf, r0, n, v);
    rc = tarn_pq_writer_write(w, &b, &err);
    if (rc != 0)
      fail_msg("write %s: %s", gf->name, err.detail);
    for (j = 0; j < NG * 2; j++) {
      free(arr[j].validity);
      free(arr[j].values);
      free(arr[j].offsets);
      free(arr[j].data);
    }
  }
  rc = tarn_pq_writer_close(w, &fi, &err);
  if (rc != 0)
    fail_msg("close %s: %s", gf->name, err.detail);
  write_info(dir, gf->name, &fi);
  tarn_pq_file_info_free(&fi);
  close(fd);
  for (j = 0; j < NG * 2; j++)
    free(cols[j].name);
  free(v);
}

static void test_dump_for_interop(void **state) {
  const char *dir = getenv("TARN_PQW_DUMP");
  static const tarn_pq_codec codecs[] = {TARN_PQ_UNCOMPRESSED, TARN_PQ_SNAPPY, TARN_PQ_GZIP,
                                         TARN_PQ_ZSTD, TARN_PQ_LZ4_RAW};
  static const gfile extra[] = {
      /* name, codec, v2, dict, card, rows, rg_rows, page, dict_cap, trunc,
       * bloom, nostats, noindex, edge */
      /* dictionary fallback mid-chunk, high cardinality, several row groups */
      {"fallback", TARN_PQ_SNAPPY, 0, 1, 0, 5000, 2500, 4096, 300, 0, 0, 0, 0, 0},
      {"fallback_v2", TARN_PQ_ZSTD, 1, 1, 0, 5000, 2500, 4096, 300, 0, 0, 0, 0, 0},
      {"bloom", TARN_PQ_SNAPPY, 0, 1, 100, 4000, 2000, 0, 0, 0, 1, 0, 0, 0},
      {"trunc", TARN_PQ_SNAPPY, 0, 1, 0, 500, 0, 0, 0, 4, 0, 0, 0, 0},
      {"nostats", TARN_PQ_LZ4_RAW, 1, 1, 0, 800, 0, 0, 0, 0, 0, 1, 1, 0},
      {"zero_rows", TARN_PQ_SNAPPY, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
      {"one_row", TARN_PQ_UNCOMPRESSED, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0},
      {"one_row_v1", TARN_PQ_ZSTD, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0},
      /* more than one page per chunk at the default page size (20,000-row cap) */
      {"big", TARN_PQ_SNAPPY, 0, 1, 0, 21000, 0, 0, 0, 0, 0, 0, 0, 0},
      {"many_row_groups", TARN_PQ_SNAPPY, 0, 1, 0, 5000, 97, 0, 0, 0, 0, 0, 0, 0},
      {"many_row_groups_v2", TARN_PQ_GZIP, 1, 0, 0, 3000, 61, 0, 0, 0, 0, 0, 0, 0},
      {"extreme", TARN_PQ_SNAPPY, 0, 1, 0, 600, 250, 700, 0, 0, 0, 0, 0, GEN_EXTREME},
      {"extreme_v2", TARN_PQ_ZSTD, 1, 0, 0, 600, 250, 700, 0, 0, 0, 0, 0, GEN_EXTREME},
      {"all_null", TARN_PQ_GZIP, 0, 1, 0, 1500, 1000, 0, 0, 0, 0, 0, 0, GEN_ALLNULL},
      {"all_null_v2", TARN_PQ_LZ4_RAW, 1, 0, 0, 1500, 1000, 0, 0, 0, 0, 0, 0, GEN_ALLNULL},
      {"long_strings", TARN_PQ_SNAPPY, 0, 1, 0, 12, 5, 0, 0, 0, 0, 0, 0, GEN_LONG},
      {"long_strings_v2", TARN_PQ_UNCOMPRESSED, 1, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, GEN_LONG},
  };
  char mp[512];
  FILE *man;
  int first = 1;
  size_t ci;
  int v2, dict;
  (void)state;
  if (dir == NULL)
    skip();
  snprintf(mp, sizeof(mp), "%s/manifest.json", dir);
  man = fopen(mp, "w");
  assert_non_null(man);
  fputs("[", man);
  /* every codec x data page version x dictionary on/off, several row groups and pages */
  for (ci = 0; ci < 5; ci++)
    for (v2 = 0; v2 < 2; v2++)
      for (dict = 0; dict < 2; dict++) {
        char name[64];
        gfile gf;
        memset(&gf, 0, sizeof(gf));
        snprintf(name, sizeof(name), "m_%s_v%d_%s", tarn_pq_codec_name(codecs[ci]), v2 + 1,
                 dict ? "dict" : "plain");
        gf.name = name;
        gf.codec = codecs[ci];
        gf.v2 = v2;
        gf.dict = dict;
        gf.card = dict ? 40 : 0;
        gf.nrows = 1200;
        gf.rg_rows = 500;
        gf.page = 1500;
        gen_file(dir, &gf);
        fprintf(man, "%s\"%s\"", first ? "" : ",", name);
        first = 0;
      }
  for (ci = 0; ci < sizeof(extra) / sizeof(extra[0]); ci++) {
    gen_file(dir, &extra[ci]);
    fprintf(man, ",\"%s\"", extra[ci].name);
  }
  fputs("]\n", man);
  assert_int_equal(fclose(man), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_thrift_bytes),
      cmocka_unit_test(test_page_header_bytes),
      cmocka_unit_test(test_converted_types),
      cmocka_unit_test(test_hybrid_vectors),
      cmocka_unit_test(test_hybrid_roundtrip),
      cmocka_unit_test(test_hybrid_bits_roundtrip),
      cmocka_unit_test(test_snappy_decoder),
      cmocka_unit_test(test_codec_roundtrip),
      cmocka_unit_test(test_bit_helpers),
      cmocka_unit_test(test_dict_fixed_and_cap),
      cmocka_unit_test(test_dict_bytes),
      cmocka_unit_test(test_float_stats),
      cmocka_unit_test(test_int_and_bool_stats),
      cmocka_unit_test(test_truncation),
      cmocka_unit_test(test_bytes_stats_and_bounds),
      cmocka_unit_test(test_schema_validation),
      cmocka_unit_test(test_column_limit),
      cmocka_unit_test(test_option_validation),
      cmocka_unit_test(test_batch_validation),
      cmocka_unit_test_setup_teardown(test_fd_output_and_info, setup, teardown),
      cmocka_unit_test(test_fd_write_failure),
      cmocka_unit_test_setup_teardown(test_store_visibility, setup, teardown),
      cmocka_unit_test_setup_teardown(test_store_write_fault, setup, teardown),
      cmocka_unit_test(test_dictionary_fallback),
      cmocka_unit_test(test_dictionary_probe),
      cmocka_unit_test(test_scan_recycle),
      cmocka_unit_test_setup_teardown(test_bloom_filter, setup, teardown),
      cmocka_unit_test_setup_teardown(test_alloc_failures, setup, teardown),
      cmocka_unit_test(test_dump_for_interop),
  };
  /* With TARN_PQW_DUMP set this program is the interop test's file generator: only that. */
  if (getenv("TARN_PQW_DUMP") != NULL)
    cmocka_set_test_filter("test_dump_for_interop");
  return cmocka_run_group_tests(tests, NULL, NULL);
}
