/* pq_builder.c - columns filled row by row in tarn_pq_array's layout, for writers' batches. */
#include "parquet.h"

#include "base/alloc.h"

int tarn_pq_builder_init(tarn_pq_builder *b, const tarn_pq_column *c, int64_t rows, size_t keep,
                         tarn_error *err) {
  size_t n = rows > 0 ? (size_t)rows : 1;
  memset(b, 0, sizeof(*b));
  b->byte_array = c->type == TARN_PQ_BYTE_ARRAY;
  b->bits = c->type == TARN_PQ_BOOLEAN;
  b->width = (size_t)tarn_pq_array_width(c);
  b->rows = rows;
  b->keep = keep;
  tarn_buf_init(&b->data, TARN_BUF_UNLIMITED);
  b->validity = tarn_calloc(n / 8 + 1, 1);
  if (b->byte_array)
    b->offsets = tarn_calloc(n + 1, sizeof(int64_t));
  else
    b->values = b->bits ? tarn_calloc(n / 8 + 1, 1) : tarn_calloc(n, b->width ? b->width : 1);
  if (b->validity == NULL || (b->byte_array ? b->offsets == NULL : b->values == NULL)) {
    tarn_pq_builder_free(b);
    return tarn_error_set(err, TARN_ENOMEM, "out of memory for a batch of %lld rows",
                          (long long)rows);
  }
  return 0;
}

void tarn_pq_builder_free(tarn_pq_builder *b) {
  tarn_free(b->validity);
  tarn_free(b->values);
  tarn_free(b->offsets);
  tarn_buf_free(&b->data);
  memset(b, 0, sizeof(*b));
}

void tarn_pq_builder_reset(tarn_pq_builder *b) {
  size_t n = b->rows > 0 ? (size_t)b->rows : 1;
  b->nulls = 0;
  memset(b->validity, 0, n / 8 + 1);
  if (b->bits)
    memset(b->values, 0, n / 8 + 1);
  if (b->byte_array)
    b->offsets[0] = 0;
  /* a column whose bytes took a big buffer once gives it back, so that many columns each
   * peaking in a different batch cannot add up */
  if (b->data.cap > b->keep)
    tarn_buf_free(&b->data);
  else
    tarn_buf_reset(&b->data);
}

static uint8_t no_bytes[1]; /* the data of a byte-array column without any bytes yet */

void tarn_pq_builder_array(tarn_pq_builder *b, int64_t rows, tarn_pq_array *out) {
  memset(out, 0, sizeof(*out));
  out->length = rows;
  out->validity = b->nulls > 0 ? b->validity : NULL;
  out->null_count = b->nulls;
  out->values = b->values;
  if (b->byte_array) {
    out->offsets = b->offsets;
    out->data = b->data.data != NULL ? (uint8_t *)b->data.data : no_bytes;
    out->data_len = (int64_t)b->data.len;
  }
}
