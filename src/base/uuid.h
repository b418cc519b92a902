/* uuid.h - RFC 9562 UUIDs: random (v4), time-ordered (v7) and name-based (v5). */
#ifndef TARN_BASE_UUID_H
#define TARN_BASE_UUID_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct tarn_uuid {
  uint8_t b[16];
} tarn_uuid;

#define TARN_UUID_STR_LEN 37 /* 36 characters + NUL */

/* Random UUID (version 4). */
int tarn_uuid_v4(tarn_uuid *u, tarn_error *err);
/*
 * Time-ordered UUID (version 7): 48-bit Unix milliseconds, then a 12-bit counter that
 * keeps UUIDs made by this process strictly increasing even within one millisecond or
 * when the wall clock steps back, then 62 random bits. Thread-safe.
 */
int tarn_uuid_v7(tarn_uuid *u, tarn_error *err);
/* Name-based UUID (version 5, SHA-1) of `name` in namespace `ns`. */
int tarn_uuid_v5(tarn_uuid *u, const tarn_uuid *ns, const void *name, size_t len, tarn_error *err);

/* Canonical lower-case form "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx". Returns dst. */
char *tarn_uuid_format(const tarn_uuid *u, char dst[TARN_UUID_STR_LEN]);
/* Parses the canonical form (either case). TARN_EINVAL naming the offset otherwise. */
int tarn_uuid_parse(const char *s, tarn_uuid *u, tarn_error *err);
/* Version nibble (4, 5, 7, ...). */
int tarn_uuid_version(const tarn_uuid *u);
/* Unix milliseconds of a v7 UUID. */
int64_t tarn_uuid_v7_ms(const tarn_uuid *u);

/* The RFC 9562 namespace for URLs (6ba7b811-9dad-11d1-80b4-00c04fd430c8). */
extern const tarn_uuid tarn_uuid_ns_url;

#endif
