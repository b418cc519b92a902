/* fuzz_pgcopy.c - libFuzzer target: any bytes as a PostgreSQL binary COPY stream for the
 * Postgres ingest's decoder (one column of each kind it decodes). It refuses or decodes,
 * never crashes, and cutting the stream into two chunks anywhere gives the same answer
 * and the same rows as one chunk (a tuple across chunks is carried over). */
#include <stdint.h>
#include <stdlib.h>

#include "base/log.h"
#include "ingest/ingest_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tarn_error e1, e2;
  int64_t rows1 = 0, rows2 = 0;
  size_t split = size > 0 ? (size_t)data[0] * size / 256 : 0;
  int rc1, rc2;
  tarn_log_set_level(TARN_LOG_ERROR);
  rc1 = tarn__pg_decode_test(data, size, size, &rows1, &e1);
  rc2 = tarn__pg_decode_test(data, size, split, &rows2, &e2);
  if (rc1 != rc2 || rows1 != rows2)
    abort();
  return 0;
}
