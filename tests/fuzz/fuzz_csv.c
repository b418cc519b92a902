/* fuzz_csv.c - libFuzzer target for the CSV reader, inference and converters. Byte 0 picks
 * the delimiter and the block size; the rest is the file. Checks two promises besides
 * memory safety: every chunking gives the same result, and pass 2 converts every value
 * of a column to the type pass 1 inferred. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "csv/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct outcome {
  int rc;
  uint64_t rows;
  uint64_t hash; /* over field lengths and bytes */
} outcome;

/* Pass 1 (and inference when types == NULL) or pass 2 (conversion when types != NULL). */
static void run(const uint8_t *data, size_t size, const tarn_csv_options *opt,
                tarn_csv_type **types_out, const tarn_csv_type *types, outcome *out) {
  tarn_csv_reader *rd = NULL;
  tarn_csv_infer *inf = NULL;
  const tarn_csv_record *rec;
  tarn_error err;
  size_t i, n;
  memset(out, 0, sizeof(*out));
  out->hash = 1469598103934665603ULL;
  out->rc = tarn_csv_reader_create_mem(&rd, data, size, opt, &err);
  if (out->rc != 0)
    return;
  n = tarn_csv_reader_ncols(rd);
  if (types == NULL && tarn_csv_infer_create(&inf, n, &err) != 0)
    abort();
  while ((out->rc = tarn_csv_next(rd, &rec, &err)) == 0 && rec != NULL) {
    out->rows++;
    if (rec->nfields != n)
      abort();
    for (i = 0; i < n; i++) {
      const tarn_csv_field *f = &rec->fields[i];
      size_t k;
      out->hash = (out->hash ^ f->len) * 1099511628211ULL;
      for (k = 0; k < f->len; k++)
        out->hash = (out->hash ^ (uint8_t)f->ptr[k]) * 1099511628211ULL;
      if (types != NULL) {
        tarn_csv_value v;
        if (tarn_csv_convert(types[i], f->ptr, f->len, &v) != 0)
          abort(); /* pass 2 refused a value pass 1 accepted */
      }
    }
    (void)tarn_csv_field_line(rec, n - 1);
    if (inf != NULL)
      tarn_csv_infer_record(inf, rec);
  }
  if (inf != NULL && types_out != NULL) {
    tarn_csv_type *t = malloc(n * sizeof(*t));
    char fp[TARN_CSV_FINGERPRINT_LEN];
    if (t == NULL)
      abort();
    for (i = 0; i < n; i++) {
      tarn_csv_column col;
      tarn_csv_infer_column(inf, i, &col);
      t[i] = col.type;
    }
    if (tarn_csv_fingerprint(tarn_csv_reader_names(rd), t, n, fp, &err) != 0)
      abort();
    *types_out = t;
  }
  tarn_csv_infer_destroy(inf);
  tarn_csv_reader_destroy(rd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char delims[4] = {',', ';', '\t', '|'};
  tarn_csv_options opt;
  tarn_csv_type *types = NULL;
  outcome a, b, c;
  if (size < 1)
    return 0;
  tarn_csv_options_init(&opt);
  opt.delimiter = delims[data[0] & 3];
  opt.max_field = 64 + (size_t)(data[0] >> 4) * 64; /* small caps so fuzzing reaches them */
  opt.max_record = SIZE_MAX / 8;                    /* (record caps may trip at different
                                                       fields in different chunkings) */
  opt.max_columns = 64;
  opt.block_size = 1 << 16; /* holds any fuzz input; smaller than the default for speed */
  data++;
  size--;
  run(data, size, &opt, &types, NULL, &a);
  opt.block_size = size > 0 ? 1 + (size_t)(data[size - 1] % 7) : 1;
  run(data, size, &opt, NULL, NULL, &b);
  if (a.rc != b.rc || a.rows != b.rows || a.hash != b.hash)
    abort(); /* the result depends on how the input was chunked */
  if (types != NULL) {
    opt.block_size = TARN_CSV_DEFAULT_BLOCK;
    run(data, size, &opt, NULL, types, &c);
    if (c.rows != a.rows)
      abort();
  }
  free(types);
  return 0;
}
