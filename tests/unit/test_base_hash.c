/* test_base_hash.c - SHA-256, CRC32C, xxHash64, UUIDs and clocks against published vectors
 * (base/hash, base/uuid, base/clock). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/hash.h"
#include "base/uuid.h"

/* ---- SHA-256 (FIPS 180-2 appendix B vectors) ---- */

static void sha_hex(const void *p, size_t n, char hex[TARN_SHA256_HEX_LEN]) {
  uint8_t d[TARN_SHA256_LEN];
  tarn_error err;
  assert_int_equal(tarn_sha256_digest(p, n, d, &err), 0);
  tarn_hex(d, sizeof(d), hex);
}

static void test_sha256_vectors(void **state) {
  char hex[TARN_SHA256_HEX_LEN];
  (void)state;
  sha_hex("", 0, hex);
  assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  sha_hex("abc", 3, hex);
  assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  sha_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, hex);
  assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_sha256_million_a(void **state) {
  const size_t n = 1000000;
  char *a = malloc(n);
  char one[TARN_SHA256_HEX_LEN], streamed[TARN_SHA256_HEX_LEN];
  uint8_t d[TARN_SHA256_LEN];
  tarn_sha256 *h = NULL;
  tarn_error err;
  size_t off = 0, step = 0;
  static const size_t chunks[] = {1, 63, 64, 65, 7, 1000, 4096, 3, 0, 100003};
  (void)state;
  assert_non_null(a);
  memset(a, 'a', n);
  sha_hex(a, n, one);
  assert_string_equal(one, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");

  assert_int_equal(tarn_sha256_create(&h, &err), 0);
  while (off < n) {
    size_t c = chunks[step++ % (sizeof(chunks) / sizeof(chunks[0]))];
    if (c > n - off)
      c = n - off;
    assert_int_equal(tarn_sha256_update(h, a + off, c, &err), 0);
    off += c;
  }
  assert_int_equal(tarn_sha256_final(h, d, &err), 0);
  tarn_hex(d, sizeof(d), streamed);
  assert_string_equal(streamed, one);

  /* Reset makes the context reusable. */
  assert_int_equal(tarn_sha256_reset(h, &err), 0);
  assert_int_equal(tarn_sha256_update(h, "ab", 2, &err), 0);
  assert_int_equal(tarn_sha256_update(h, "c", 1, &err), 0);
  assert_int_equal(tarn_sha256_final(h, d, &err), 0);
  tarn_hex(d, sizeof(d), streamed);
  assert_string_equal(streamed, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  tarn_sha256_destroy(h);
  tarn_sha256_destroy(NULL);
  free(a);
}

static void test_sha256_create_enomem(void **state) {
  tarn_sha256 *h = (tarn_sha256 *)&h;
  tarn_error err;
  (void)state;
  tarn_alloc_fail_after(0);
  assert_int_equal(tarn_sha256_create(&h, &err), TARN_ENOMEM);
  tarn_alloc_fail_reset();
  assert_null(h);
}

static void test_hex(void **state) {
  const uint8_t b[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
  char dst[13];
  (void)state;
  assert_ptr_equal(tarn_hex(b, sizeof(b), dst), dst);
  assert_string_equal(dst, "00017f80abff");
  tarn_hex(b, 0, dst);
  assert_string_equal(dst, "");
}

/* ---- CRC32C (RFC 3720 appendix B.4 vectors) ---- */

/* Bit-at-a-time CRC-32C straight from the definition: reflected, polynomial 0x82F63B78,
 * initial value and final xor 0xFFFFFFFF. */
static uint32_t ref_crc32c(const uint8_t *p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  int k;
  while (n-- > 0) {
    c ^= *p++;
    for (k = 0; k < 8; k++)
      c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
  }
  return ~c;
}

/* Deterministic test data (xorshift64*), so failures reproduce. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint8_t rnd8(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (uint8_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 56);
}

static void test_crc32c_vectors(void **state) {
  uint8_t b[32];
  int i;
  (void)state;
  assert_int_equal(tarn_crc32c(0, "123456789", 9), 0xE3069283u);
  assert_int_equal(tarn_crc32c(0, "", 0), 0);
  assert_int_equal(tarn_crc32c(0, NULL, 0), 0);
  memset(b, 0, sizeof(b));
  assert_int_equal(tarn_crc32c(0, b, 32), 0x8A9136AAu);
  memset(b, 0xff, sizeof(b));
  assert_int_equal(tarn_crc32c(0, b, 32), 0x62A8AB43u);
  for (i = 0; i < 32; i++)
    b[i] = (uint8_t)i;
  assert_int_equal(tarn_crc32c(0, b, 32), 0x46DD794Eu);
  for (i = 0; i < 32; i++)
    b[i] = (uint8_t)(31 - i);
  assert_int_equal(tarn_crc32c(0, b, 32), 0x113FDB5Cu);
  /* The reference implementation agrees with the published vectors too. */
  assert_int_equal(ref_crc32c((const uint8_t *)"123456789", 9), 0xE3069283u);
  memset(b, 0, sizeof(b));
  assert_int_equal(ref_crc32c(b, 32), 0x8A9136AAu);
}

static void test_crc32c_incremental(void **state) {
  uint8_t b[100];
  uint32_t whole, c;
  size_t i, j;
  (void)state;
  for (i = 0; i < sizeof(b); i++)
    b[i] = rnd8();
  whole = tarn_crc32c(0, b, sizeof(b));
  assert_int_equal(whole, ref_crc32c(b, sizeof(b)));
  for (i = 0; i <= sizeof(b); i++) {
    c = tarn_crc32c(0, b, i);
    c = tarn_crc32c(c, b + i, sizeof(b) - i);
    assert_int_equal(c, whole);
  }
  /* Three pieces, every pair of split points. */
  for (i = 0; i <= sizeof(b); i++) {
    for (j = i; j <= sizeof(b); j++) {
      c = tarn_crc32c(0, b, i);
      c = tarn_crc32c(c, b + i, j - i);
      c = tarn_crc32c(c, b + j, sizeof(b) - j);
      assert_int_equal(c, whole);
    }
  }
  /* Byte at a time. */
  c = 0;
  for (i = 0; i < sizeof(b); i++)
    c = tarn_crc32c(c, b + i, 1);
  assert_int_equal(c, whole);
}

static void test_crc32c_random(void **state) {
  enum { MAXLEN = 4200 };
  uint8_t *buf = malloc(MAXLEN + 8);
  size_t len, off, i;
  (void)state;
  assert_non_null(buf);
  for (len = 0; len < MAXLEN; len = len < 300 ? len + 1 : len * 3 / 2 + 7) {
    for (off = 0; off < 8; off += 3) { /* unaligned starts too */
      for (i = 0; i < len; i++)
        buf[off + i] = rnd8();
      assert_int_equal(tarn_crc32c(0, buf + off, len), ref_crc32c(buf + off, len));
    }
  }
  free(buf);
}

/* ---- xxHash64 ---- */

static void test_xxh64(void **state) {
  const char *s;
  (void)state;
  assert_true(tarn_xxh64("", 0, 0) == 0xEF46DB3751D8E999ull);
  assert_true(tarn_xxh64(NULL, 0, 0) == 0xEF46DB3751D8E999ull);
  assert_true(tarn_xxh64("a", 1, 0) == 0xD24EC4F1A98C6E5Bull);
  assert_true(tarn_xxh64("abc", 3, 0) == 0x44BC2CF5AD770999ull);
  s = "message digest";
  assert_true(tarn_xxh64(s, strlen(s), 0) == 0x066ED728FCEEB3BEull);
  s = "abcdefghijklmnopqrstuvwxyz"; /* 8-byte lanes plus a tail */
  assert_true(tarn_xxh64(s, strlen(s), 0) == 0xCFE1F278FA89835Cull);
  /* The seed matters. */
  assert_true(tarn_xxh64("abc", 3, 1) != tarn_xxh64("abc", 3, 0));
}

static void test_random_bytes(void **state) {
  uint8_t a[32], b[32];
  tarn_error err;
  (void)state;
  assert_int_equal(tarn_random_bytes(a, sizeof(a), &err), 0);
  assert_int_equal(tarn_random_bytes(b, sizeof(b), &err), 0);
  assert_memory_not_equal(a, b, sizeof(a));
  assert_int_equal(tarn_random_bytes(a, 0, &err), 0);
}

/* ---- UUIDs (RFC 9562) ---- */

static void check_version_variant(const tarn_uuid *u, int version) {
  assert_int_equal(tarn_uuid_version(u), version);
  assert_int_equal(u->b[6] >> 4, version);
  assert_int_equal(u->b[8] & 0xC0, 0x80); /* variant 10xx */
}

static void test_uuid_v4(void **state) {
  tarn_uuid u[64];
  tarn_error err;
  char s[TARN_UUID_STR_LEN];
  uint8_t or_bits[16] = {0}, and_bits[16];
  int i, j;
  (void)state;
  memset(and_bits, 0xff, sizeof(and_bits));
  for (i = 0; i < 64; i++) {
    assert_int_equal(tarn_uuid_v4(&u[i], &err), 0);
    check_version_variant(&u[i], 4);
    tarn_uuid_format(&u[i], s);
    assert_int_equal(s[14], '4');
    assert_non_null(strchr("89ab", s[19]));
    for (j = 0; j < 16; j++) {
      or_bits[j] |= u[i].b[j];
      and_bits[j] &= u[i].b[j];
    }
    for (j = 0; j < i; j++)
      assert_memory_not_equal(u[i].b, u[j].b, 16);
  }
  /* Every bit outside version and variant varies across 64 UUIDs. */
  for (j = 0; j < 16; j++) {
    uint8_t fixed = j == 6 ? 0xF0 : j == 8 ? 0xC0 : 0x00;
    assert_int_equal(or_bits[j] | fixed, 0xFF);
    assert_int_equal(and_bits[j] & (uint8_t)~fixed, 0x00);
  }
}

static void test_uuid_v5(void **state) {
  tarn_uuid dns, u, u2, url;
  tarn_error err;
  char s[TARN_UUID_STR_LEN];
  (void)state;
  assert_int_equal(tarn_uuid_parse("6ba7b810-9dad-11d1-80b4-00c04fd430c8", &dns, &err), 0);
  /* RFC 9562 appendix A.4. */
  assert_int_equal(tarn_uuid_v5(&u, &dns, "www.example.com", 15, &err), 0);
  assert_string_equal(tarn_uuid_format(&u, s), "2ed6657d-e927-568b-95e1-2665a8aea6a2");
  check_version_variant(&u, 5);
  /* Deterministic; the namespace matters. */
  assert_int_equal(tarn_uuid_v5(&u2, &dns, "www.example.com", 15, &err), 0);
  assert_memory_equal(u.b, u2.b, 16);
  assert_int_equal(tarn_uuid_parse("6ba7b811-9dad-11d1-80b4-00c04fd430c8", &url, &err), 0);
  assert_memory_equal(url.b, tarn_uuid_ns_url.b, 16);
  assert_int_equal(tarn_uuid_v5(&u2, &tarn_uuid_ns_url, "www.example.com", 15, &err), 0);
  assert_memory_not_equal(u.b, u2.b, 16);
  check_version_variant(&u2, 5);
  /* An empty name is allowed. */
  assert_int_equal(tarn_uuid_v5(&u2, &dns, "", 0, &err), 0);
  check_version_variant(&u2, 5);
}

static void test_uuid_format_parse(void **state) {
  static const char canon[] = "0123abcd-ef01-7234-a678-9abcdef01234";
  static const uint8_t bytes[16] = {0x01, 0x23, 0xab, 0xcd, 0xef, 0x01, 0x72, 0x34,
                                    0xa6, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34};
  tarn_uuid u, v;
  tarn_error err;
  char s[TARN_UUID_STR_LEN];
  int i;
  (void)state;
  assert_int_equal(tarn_uuid_parse(canon, &u, &err), 0);
  assert_memory_equal(u.b, bytes, 16);
  assert_ptr_equal(tarn_uuid_format(&u, s), s);
  assert_string_equal(s, canon);
  assert_int_equal(tarn_uuid_version(&u), 7);
  /* Upper case is accepted and formats back in lower case. */
  assert_int_equal(tarn_uuid_parse("0123ABCD-EF01-7234-A678-9ABCDEF01234", &v, &err), 0);
  assert_memory_equal(v.b, bytes, 16);
  assert_int_equal(tarn_uuid_parse("0123AbCd-eF01-7234-a678-9ABCdef01234", &v, &err), 0);
  assert_memory_equal(v.b, bytes, 16);
  /* Round trip of random UUIDs. */
  for (i = 0; i < 100; i++) {
    assert_int_equal(tarn_uuid_v4(&u, &err), 0);
    tarn_uuid_format(&u, s);
    assert_int_equal(strlen(s), 36);
    assert_int_equal(tarn_uuid_parse(s, &v, &err), 0);
    assert_memory_equal(u.b, v.b, 16);
  }
  memset(u.b, 0, 16);
  assert_string_equal(tarn_uuid_format(&u, s), "00000000-0000-0000-0000-000000000000");
  memset(u.b, 0xff, 16);
  assert_string_equal(tarn_uuid_format(&u, s), "ffffffff-ffff-ffff-ffff-ffffffffffff");
}

static void expect_bad_uuid(const char *s, size_t offset) {
  tarn_uuid u;
  tarn_error err;
  char want[32];
  size_t dl, wl;
  tarn_error_clear(&err);
  if (tarn_uuid_parse(s, &u, &err) != TARN_EINVAL)
    fail_msg("accepted \"%s\"", s);
  assert_int_equal(err.code, TARN_EINVAL);
  snprintf(want, sizeof(want), "offset %zu", offset);
  dl = strlen(err.detail);
  wl = strlen(want);
  if (dl < wl || strcmp(err.detail + dl - wl, want) != 0)
    fail_msg("\"%s\": detail does not name offset %zu: %s", s, offset, err.detail);
}

static void test_uuid_parse_malformed(void **state) {
  static const char good[] = "6ba7b810-9dad-11d1-80b4-00c04fd430c8";
  static const char not_hex[] = "gG-: x{}";
  char s[64];
  size_t i, k;
  (void)state;
  /* Every position: a wrong character is rejected, naming its offset. */
  for (i = 0; i < 36; i++) {
    int dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash) {
      strcpy(s, good);
      s[i] = 'a';
      expect_bad_uuid(s, i);
      strcpy(s, good);
      s[i] = '_';
      expect_bad_uuid(s, i);
    } else {
      for (k = 0; not_hex[k]; k++) {
        strcpy(s, good);
        s[i] = not_hex[k];
        expect_bad_uuid(s, i);
      }
    }
  }
  /* Every truncation, and trailing characters. */
  for (i = 0; i < 36; i++) {
    memcpy(s, good, i);
    s[i] = '\0';
    if (tarn_uuid_parse(s, &(tarn_uuid){{0}}, NULL) == 0)
      fail_msg("accepted truncated \"%s\"", s);
  }
  strcpy(s, good);
  strcat(s, "0");
  expect_bad_uuid(s, 36);
  strcpy(s, good);
  strcat(s, " ");
  expect_bad_uuid(s, 36);
  assert_int_equal(
      tarn_uuid_parse("{6ba7b810-9dad-11d1-80b4-00c04fd430c8}", &(tarn_uuid){{0}}, NULL),
      TARN_EINVAL);
  assert_int_equal(tarn_uuid_parse("6ba7b8109dad11d180b400c04fd430c8", &(tarn_uuid){{0}}, NULL),
                   TARN_EINVAL);
  assert_int_equal(
      tarn_uuid_parse("6ba7b810-9dad-11d1-80b4-00c04fd430c8\n", &(tarn_uuid){{0}}, NULL),
      TARN_EINVAL);
  /* The parser never reads past the terminator of a short string (ASan checks). */
  {
    char *heap = malloc(9);
    assert_non_null(heap);
    memcpy(heap, "6ba7b810", 9);
    assert_int_equal(tarn_uuid_parse(heap, &(tarn_uuid){{0}}, NULL), TARN_EINVAL);
    heap[7] = '\0';
    assert_int_equal(tarn_uuid_parse(heap, &(tarn_uuid){{0}}, NULL), TARN_EINVAL);
    free(heap);
  }
}

static void test_uuid_v7_monotonic(void **state) {
  enum { N = 10000 };
  tarn_uuid *u = malloc(N * sizeof(*u));
  tarn_error err;
  int64_t before_ms, after_ms;
  int i;
  (void)state;
  assert_non_null(u);
  before_ms = tarn_clock_wall_us() / 1000;
  for (i = 0; i < N; i++)
    assert_int_equal(tarn_uuid_v7(&u[i], &err), 0);
  after_ms = tarn_clock_wall_us() / 1000;
  for (i = 0; i < N; i++) {
    check_version_variant(&u[i], 7);
    if (i > 0 && memcmp(u[i - 1].b, u[i].b, 16) >= 0)
      fail_msg("UUIDv7 %d is not greater than %d", i, i - 1);
    assert_true(tarn_uuid_v7_ms(&u[i]) >= before_ms - 1000);
    assert_true(tarn_uuid_v7_ms(&u[i]) <= after_ms + 1000);
  }
  /* The timestamp is the wall clock in Unix milliseconds (and the same 48 bits). */
  assert_true(llabs(tarn_uuid_v7_ms(&u[0]) - before_ms) <= 1000);
  assert_int_equal(tarn_uuid_v7_ms(&u[0]), ((int64_t)u[0].b[0] << 40) | ((int64_t)u[0].b[1] << 32) |
                                               ((int64_t)u[0].b[2] << 24) |
                                               ((int64_t)u[0].b[3] << 16) |
                                               ((int64_t)u[0].b[4] << 8) | (int64_t)u[0].b[5]);
  assert_true(llabs(tarn_uuid_v7_ms(&u[0]) - (int64_t)time(NULL) * 1000) <= 2000);
  free(u);
}

enum { V7_THREADS = 4, V7_PER = 2000 };

static void *v7_worker(void *arg) {
  tarn_uuid *out = arg;
  int i;
  for (i = 0; i < V7_PER; i++)
    if (tarn_uuid_v7(&out[i], NULL) != 0)
      return arg;
  return NULL;
}

static int cmp_uuid(const void *a, const void *b) { return memcmp(a, b, 16); }

static void test_uuid_v7_threads(void **state) {
  pthread_t th[V7_THREADS];
  tarn_uuid *u = malloc(V7_THREADS * V7_PER * sizeof(*u));
  void *rv;
  int t, i;
  (void)state;
  assert_non_null(u);
  for (t = 0; t < V7_THREADS; t++)
    assert_int_equal(pthread_create(&th[t], NULL, v7_worker, u + t * V7_PER), 0);
  for (t = 0; t < V7_THREADS; t++) {
    assert_int_equal(pthread_join(th[t], &rv), 0);
    assert_null(rv);
  }
  /* Each thread sees its own UUIDs increase, and no two are equal. */
  for (t = 0; t < V7_THREADS; t++)
    for (i = 1; i < V7_PER; i++)
      assert_true(memcmp(u[t * V7_PER + i - 1].b, u[t * V7_PER + i].b, 16) < 0);
  qsort(u, V7_THREADS * V7_PER, sizeof(*u), cmp_uuid);
  for (i = 1; i < V7_THREADS * V7_PER; i++)
    assert_true(memcmp(u[i - 1].b, u[i].b, 16) < 0);
  free(u);
}

/* ---- clocks ---- */

static void test_clock_monotonic(void **state) {
  uint64_t prev = tarn_clock_mono_ns(), now, t0;
  int i;
  (void)state;
  for (i = 0; i < 200000; i++) {
    now = tarn_clock_mono_ns();
    assert_true(now >= prev);
    prev = now;
  }
  t0 = tarn_clock_mono_ns();
  tarn_sleep_ms(20);
  assert_true(tarn_clock_mono_ns() - t0 >= 20 * 1000000ull);
}

static void test_clock_wall(void **state) {
  int64_t us = tarn_clock_wall_us();
  int64_t s = (int64_t)time(NULL);
  (void)state;
  assert_true(llabs(us / 1000000 - s) <= 1);
  assert_true(us > 1700000000LL * 1000000); /* after November 2023 */
}

static void iso(int64_t us, int digits, const char *want) {
  char dst[TARN_TIME_ISO_MAX];
  memset(dst, '#', sizeof(dst));
  assert_ptr_equal(tarn_time_iso8601(us, digits, dst, sizeof(dst)), dst);
  assert_string_equal(dst, want);
}

static void test_iso8601(void **state) {
  char small[8];
  (void)state;
  iso(0, 0, "1970-01-01T00:00:00Z");
  iso(0, 3, "1970-01-01T00:00:00.000Z");
  iso(0, 6, "1970-01-01T00:00:00.000000Z");
  iso(1700000000123456LL, 6, "2023-11-14T22:13:20.123456Z");
  iso(1700000000123456LL, 3, "2023-11-14T22:13:20.123Z");
  iso(1700000000123456LL, 0, "2023-11-14T22:13:20Z");
  iso(1700000000999999LL, 3, "2023-11-14T22:13:20.999Z"); /* truncates, never rounds up */
  iso(951782400000000LL, 0, "2000-02-29T00:00:00Z");      /* leap day */
  iso(253402300799999999LL, 6, "9999-12-31T23:59:59.999999Z");
  /* Before 1970: floor, so the fraction stays positive. */
  iso(-1, 6, "1969-12-31T23:59:59.999999Z");
  iso(-1, 3, "1969-12-31T23:59:59.999Z");
  iso(-1, 0, "1969-12-31T23:59:59Z");
  iso(-1000000, 6, "1969-12-31T23:59:59.000000Z");
  iso(-1500000, 6, "1969-12-31T23:59:58.500000Z");
  iso(-86400000000LL, 0, "1969-12-31T00:00:00Z");
  iso(-86400000001LL, 6, "1969-12-30T23:59:59.999999Z");
  /* A short destination is truncated, never overrun. */
  memset(small, '#', sizeof(small));
  tarn_time_iso8601(0, 6, small, sizeof(small));
  assert_string_equal(small, "1970-01");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sha256_vectors),
      cmocka_unit_test(test_sha256_million_a),
      cmocka_unit_test(test_sha256_create_enomem),
      cmocka_unit_test(test_hex),
      cmocka_unit_test(test_crc32c_vectors),
      cmocka_unit_test(test_crc32c_incremental),
      cmocka_unit_test(test_crc32c_random),
      cmocka_unit_test(test_xxh64),
      cmocka_unit_test(test_random_bytes),
      cmocka_unit_test(test_uuid_v4),
      cmocka_unit_test(test_uuid_v5),
      cmocka_unit_test(test_uuid_format_parse),
      cmocka_unit_test(test_uuid_parse_malformed),
      cmocka_unit_test(test_uuid_v7_monotonic),
      cmocka_unit_test(test_uuid_v7_threads),
      cmocka_unit_test(test_clock_monotonic),
      cmocka_unit_test(test_clock_wall),
      cmocka_unit_test(test_iso8601),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
