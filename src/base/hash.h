/* hash.h - SHA-256 (OpenSSL libcrypto), CRC32C (Castagnoli) and xxHash64 (libxxhash). */
#ifndef TARN_BASE_HASH_H
#define TARN_BASE_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define TARN_SHA256_LEN 32
#define TARN_SHA256_HEX_LEN 65 /* 64 hex digits + NUL */

/* Streaming SHA-256. The context is opaque; create/destroy own it. */
typedef struct tarn_sha256 tarn_sha256;
int tarn_sha256_create(tarn_sha256 **out, tarn_error *err);
int tarn_sha256_update(tarn_sha256 *h, const void *p, size_t n, tarn_error *err);
/* Writes the digest; the context may then be reused after tarn_sha256_reset. */
int tarn_sha256_final(tarn_sha256 *h, uint8_t out[TARN_SHA256_LEN], tarn_error *err);
int tarn_sha256_reset(tarn_sha256 *h, tarn_error *err);
void tarn_sha256_destroy(tarn_sha256 *h);

/* One-shot digest. */
int tarn_sha256_digest(const void *p, size_t n, uint8_t out[TARN_SHA256_LEN], tarn_error *err);
/* Lower-case hex of n bytes into dst (needs 2n+1 bytes). Returns dst. */
char *tarn_hex(const uint8_t *p, size_t n, char *dst);

/* CRC-32C (Castagnoli, as used by iSCSI, ext4, Kafka record batches, S3 checksums).
 * Pass the previous result as `crc` to continue over more data; start with 0. */
uint32_t tarn_crc32c(uint32_t crc, const void *p, size_t n);

/* xxHash64 with a seed (Parquet bloom filters use seed 0). */
uint64_t tarn_xxh64(const void *p, size_t n, uint64_t seed);

/* Cryptographically strong random bytes (OpenSSL RAND_bytes). */
int tarn_random_bytes(void *p, size_t n, tarn_error *err);

#endif
