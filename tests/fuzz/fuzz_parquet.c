/* fuzz_parquet.c - libFuzzer target: open any bytes as a Parquet file and scan every column,
 * once plainly and once with predicates that exercise statistics, bloom and page pruning. */
#include <stdint.h>
#include <string.h>

#include "parquet/parquet.h"
#include "parquet/pq_read_int.h"

static void scan(tarn_pq_reader *r, const tarn_pq_predicate *preds, size_t npreds,
                 int64_t batch_rows) {
  tarn_pq_scan *s = NULL;
  tarn_pq_batch *b = NULL;
  tarn_error err;
  tarn_pq_scan_options o;
  memset(&o, 0, sizeof(o));
  o.row_group = -1;
  o.batch_rows = batch_rows;
  o.preds = preds;
  o.npreds = npreds;
  if (tarn_pq_scan_open(r, &o, &s, &err) != 0)
    return;
  while (tarn_pq_scan_next(s, &b, &err) == 0 && b != NULL)
    tarn_pq_batch_free(b);
  tarn_pq_scan_close(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tarn_pq_reader *r = NULL;
  tarn_error err;
  const tarn_pq_file_meta *m;
  tarn_pq_predicate p[2];
  static const uint8_t lit[16] = "green\0\0\0\0\0\0\0\0\0\0";
  /* Small inputs must not be able to ask for gigabytes. */
  tarn__pq_limits_cur.max_page_bytes = 16u << 20;
  tarn__pq_limits_cur.max_page_values = 1 << 20;
  tarn__pq_limits_cur.max_batch_bytes = 32u << 20;
  if (tarn_pq_reader_open_mem(data, size, "fuzz", &r, &err) != 0)
    return 0;
  m = tarn_pq_reader_meta(r);
  scan(r, NULL, 0, 1000);
  if (m->schema.ncols > 0) {
    const tarn_pq_column *c = &m->schema.cols[0];
    memset(p, 0, sizeof(p));
    p[0].column = 0;
    p[0].op = TARN_PQ_EQ;
    p[0].value.i32 = 7;
    p[0].value.i64 = 7;
    p[0].value.f32 = 7;
    p[0].value.f64 = 7;
    p[0].value.boolean = 1;
    p[0].value.bytes = lit;
    p[0].value.len = c->type == TARN_PQ_FIXED_LEN_BYTE_ARRAY ? (size_t)c->type_length : 5;
    if (p[0].value.len > sizeof(lit))
      p[0].value.len = sizeof(lit);
    p[1].column = m->schema.ncols - 1;
    p[1].op = TARN_PQ_NOT_NULL;
    scan(r, p, 2, 77);
    p[0].op = TARN_PQ_GT;
    p[1].op = TARN_PQ_IS_NULL;
    scan(r, p, 2, 65536);
  }
  tarn_pq_reader_close(r);
  return 0;
}
