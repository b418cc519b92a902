/* hash.c - SHA-256, CRC32C, xxHash64 and random bytes. */
#include "hash.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <xxhash.h>

#include "alloc.h"

struct tarn_sha256 {
  EVP_MD_CTX *ctx;
};

int tarn_sha256_create(tarn_sha256 **out, tarn_error *err) {
  tarn_sha256 *h = NULL;
  *out = NULL;
  h = tarn_calloc(1, sizeof(*h));
  if (h == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "cannot allocate SHA-256 context");
  h->ctx = EVP_MD_CTX_new();
  if (h->ctx == NULL) {
    tarn_free(h);
    return tarn_error_set(err, TARN_ENOMEM, "cannot allocate SHA-256 context");
  }
  if (EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
    tarn_sha256_destroy(h);
    return tarn_error_set(err, TARN_EINTERNAL, "EVP_DigestInit_ex(sha256) failed");
  }
  *out = h;
  return 0;
}

int tarn_sha256_update(tarn_sha256 *h, const void *p, size_t n, tarn_error *err) {
  if (n > 0 && EVP_DigestUpdate(h->ctx, p, n) != 1)
    return tarn_error_set(err, TARN_EINTERNAL, "EVP_DigestUpdate failed");
  return 0;
}

int tarn_sha256_final(tarn_sha256 *h, uint8_t out[TARN_SHA256_LEN], tarn_error *err) {
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(h->ctx, out, &len) != 1 || len != TARN_SHA256_LEN)
    return tarn_error_set(err, TARN_EINTERNAL, "EVP_DigestFinal_ex failed");
  return 0;
}

int tarn_sha256_reset(tarn_sha256 *h, tarn_error *err) {
  if (EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1)
    return tarn_error_set(err, TARN_EINTERNAL, "EVP_DigestInit_ex(sha256) failed");
  return 0;
}

void tarn_sha256_destroy(tarn_sha256 *h) {
  if (h == NULL)
    return;
  EVP_MD_CTX_free(h->ctx);
  tarn_free(h);
}

int tarn_sha256_digest(const void *p, size_t n, uint8_t out[TARN_SHA256_LEN], tarn_error *err) {
  unsigned int len = 0;
  if (EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) != 1 || len != TARN_SHA256_LEN)
    return tarn_error_set(err, TARN_EINTERNAL, "EVP_Digest(sha256) failed");
  return 0;
}

char *tarn_hex(const uint8_t *p, size_t n, char *dst) {
  static const char digits[] = "0123456789abcdef";
  size_t i;
  for (i = 0; i < n; i++) {
    dst[2 * i] = digits[p[i] >> 4];
    dst[2 * i + 1] = digits[p[i] & 0xf];
  }
  dst[2 * n] = '\0';
  return dst;
}

/* CRC32C, reflected polynomial 0x82F63B78, slicing-by-8 tables built once. */
static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void) {
  uint32_t i, j, c;
  for (i = 0; i < 256; i++) {
    c = i;
    for (j = 0; j < 8; j++)
      c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    crc_table[0][i] = c;
  }
  for (i = 0; i < 256; i++)
    for (j = 1; j < 8; j++)
      crc_table[j][i] = (crc_table[j - 1][i] >> 8) ^ crc_table[0][crc_table[j - 1][i] & 0xff];
}

uint32_t tarn_crc32c(uint32_t crc, const void *p, size_t n) {
  const uint8_t *b = p;
  pthread_once(&crc_once, crc_init);
  crc = ~crc;
  while (n >= 8) {
    uint32_t lo =
        crc ^ ((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24);
    uint32_t hi =
        (uint32_t)b[4] | (uint32_t)b[5] << 8 | (uint32_t)b[6] << 16 | (uint32_t)b[7] << 24;
    crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
          crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^ crc_table[3][hi & 0xff] ^
          crc_table[2][(hi >> 8) & 0xff] ^ crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
    b += 8;
    n -= 8;
  }
  while (n-- > 0)
    crc = crc_table[0][(crc ^ *b++) & 0xff] ^ (crc >> 8);
  return ~crc;
}

uint64_t tarn_xxh64(const void *p, size_t n, uint64_t seed) {
  return (uint64_t)XXH64(p, n, (XXH64_hash_t)seed);
}

int tarn_random_bytes(void *p, size_t n, tarn_error *err) {
  if (n > (size_t)0x7fffffff || RAND_bytes(p, (int)n) != 1)
    return tarn_error_set(err, TARN_EINTERNAL, "RAND_bytes failed");
  return 0;
}
