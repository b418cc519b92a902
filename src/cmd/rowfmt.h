/* rowfmt.h - rendering Parquet values as JSON or CSV text, shared by `tarn parquet` and
 * `tarn table scan` so both print a value the same way. */
#ifndef TARN_CMD_ROWFMT_H
#define TARN_CMD_ROWFMT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "parquet/parquet.h"

/* How a value is written: a CSV field, a JSON value, or the plain text itself (no quoting;
 * invalid UTF-8 replaced by U+FFFD so the text can go into a JSON string). */
enum { ROWFMT_CSV = 0, ROWFMT_JSON = 1, ROWFMT_PLAIN = 2 };

/*
 * Writes row i of array a (column c) to f in `mode` (ROWFMT_*; null: `null` in JSON,
 * nothing otherwise). int64 as numbers, floats (FLOAT16 included) as the shortest
 * decimal that reads back the same, timestamps as ISO-8601 (with Z when adjusted to
 * UTC; INT96 as nanoseconds), dates YYYY-MM-DD, times HH:MM:SS.ffffff, decimals as exact
 * strings, UUIDs canonical, other binary as base64, NaN and infinities as the strings
 * "NaN", "Infinity", "-Infinity".
 */
void rowfmt_value(FILE *f, const tarn_pq_column *c, const tarn_pq_array *a, int64_t i, int mode);
/* A JSON string literal; invalid UTF-8 becomes U+FFFD, never a broken line. */
void rowfmt_json_string(FILE *f, const uint8_t *p, size_t n);
/* A CSV field, quoted when it holds a comma, quote or line break. */
void rowfmt_csv_field(FILE *f, const uint8_t *p, size_t n);
/* A text value in `mode` (ROWFMT_*): JSON string, CSV field or as it is. */
void rowfmt_text(FILE *f, const char *s, int mode);
/* Standard base64 with padding. */
void rowfmt_base64(FILE *f, const uint8_t *p, size_t n);
/* Days since 1970-01-01 as YYYY-MM-DD (proleptic Gregorian). */
void rowfmt_date(char *out, size_t n, int64_t days);
/* A PLAIN-encoded single value (statistics bounds) as plain text (ROWFMT_PLAIN); NULL
 * when out of memory. The result comes from open_memstream: release it with free(). */
char *rowfmt_plain_to_text(const tarn_pq_column *c, const void *p, size_t n);

/* "455.2 MB" (powers of ten, as MB/s rates are). */
const char *rowfmt_bytes(double bytes, char *buf, size_t n);

#endif
