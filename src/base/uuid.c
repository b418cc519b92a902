/* uuid.c - RFC 9562 UUIDs v4, v5 and v7. */
#include "uuid.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>

#include "clock.h"
#include "hash.h"

const tarn_uuid tarn_uuid_ns_url = {{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4,
                                     0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}};

static void set_version(tarn_uuid *u, int version) {
  u->b[6] = (uint8_t)((u->b[6] & 0x0f) | (version << 4));
  u->b[8] = (uint8_t)((u->b[8] & 0x3f) | 0x80); /* RFC 9562 variant 10xx */
}

int tarn_uuid_v4(tarn_uuid *u, tarn_error *err) {
  int rc = tarn_random_bytes(u->b, sizeof(u->b), err);
  if (rc != 0)
    return rc;
  set_version(u, 4);
  return 0;
}

static pthread_mutex_t v7_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t v7_last_ms;
static uint32_t v7_seq; /* 12 bits */

int tarn_uuid_v7(tarn_uuid *u, tarn_error *err) {
  uint64_t ms = (uint64_t)(tarn_clock_wall_us() / 1000);
  uint32_t seq;
  int rc = tarn_random_bytes(u->b, sizeof(u->b), err);
  if (rc != 0)
    return rc;
  /* Method 1 of RFC 9562 section 6.2: a counter in rand_a, re-seeded each new
   * millisecond from random bits (top bit clear so it has room to count). */
  pthread_mutex_lock(&v7_lock);
  if (ms > v7_last_ms) {
    v7_last_ms = ms;
    v7_seq = ((uint32_t)u->b[6] << 8 | u->b[7]) & 0x7ff;
  } else {
    ms = v7_last_ms; /* same millisecond or the clock stepped back */
    if (++v7_seq > 0xfff) {
      v7_seq = 0; /* counter exhausted: borrow the next millisecond */
      v7_last_ms = ++ms;
    }
  }
  seq = v7_seq;
  pthread_mutex_unlock(&v7_lock);
  u->b[0] = (uint8_t)(ms >> 40);
  u->b[1] = (uint8_t)(ms >> 32);
  u->b[2] = (uint8_t)(ms >> 24);
  u->b[3] = (uint8_t)(ms >> 16);
  u->b[4] = (uint8_t)(ms >> 8);
  u->b[5] = (uint8_t)ms;
  u->b[6] = (uint8_t)(seq >> 8);
  u->b[7] = (uint8_t)seq;
  set_version(u, 7);
  return 0;
}

int tarn_uuid_v5(tarn_uuid *u, const tarn_uuid *ns, const void *name, size_t len, tarn_error *err) {
  uint8_t md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  int rc = TARN_EINTERNAL;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (ctx == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "cannot allocate SHA-1 context");
  if (EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) != 1 ||
      EVP_DigestUpdate(ctx, ns->b, sizeof(ns->b)) != 1 ||
      (len > 0 && EVP_DigestUpdate(ctx, name, len) != 1) ||
      EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen < 16) {
    tarn_error_set(err, TARN_EINTERNAL, "SHA-1 for UUIDv5 failed");
    goto out;
  }
  memcpy(u->b, md, 16);
  set_version(u, 5);
  rc = 0;
out:
  EVP_MD_CTX_free(ctx);
  return rc;
}

char *tarn_uuid_format(const tarn_uuid *u, char dst[TARN_UUID_STR_LEN]) {
  static const char digits[] = "0123456789abcdef";
  size_t i, o = 0;
  for (i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10)
      dst[o++] = '-';
    dst[o++] = digits[u->b[i] >> 4];
    dst[o++] = digits[u->b[i] & 0xf];
  }
  dst[o] = '\0';
  return dst;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

int tarn_uuid_parse(const char *s, tarn_uuid *u, tarn_error *err) {
  size_t i, o = 0;
  for (i = 0; i < 36; i++) {
    if (s[i] == '\0')
      return tarn_error_set(err, TARN_EINVAL, "UUID too short: %zu characters, want 36", i);
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-')
        return tarn_error_set(err, TARN_EINVAL, "UUID: expected '-' at offset %zu", i);
      continue;
    }
    if (hexval(s[i]) < 0 || hexval(s[i + 1]) < 0)
      return tarn_error_set(err, TARN_EINVAL, "UUID: not a hex digit at offset %zu",
                            hexval(s[i]) < 0 ? i : i + 1);
    u->b[o++] = (uint8_t)(hexval(s[i]) << 4 | hexval(s[i + 1]));
    i++;
  }
  if (s[36] != '\0')
    return tarn_error_set(err, TARN_EINVAL, "UUID: trailing characters at offset 36");
  return 0;
}

int tarn_uuid_version(const tarn_uuid *u) { return u->b[6] >> 4; }

int64_t tarn_uuid_v7_ms(const tarn_uuid *u) {
  int64_t ms = 0;
  int i;
  for (i = 0; i < 6; i++)
    ms = ms << 8 | u->b[i];
  return ms;
}
