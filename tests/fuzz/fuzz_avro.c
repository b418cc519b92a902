/* fuzz_avro.c - libFuzzer target: arbitrary bytes read as an Avro container file; every
 * record that decodes is written again with the file's schema and must read back equal. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/error.h"
#include "table/avro.h"
#include "table/avro_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Re-encodes rec with schema s and checks the copy decodes to an equal value. */
static void roundtrip(const tarn_avro_schema *s, const tarn_avro_value *rec) {
  tarn_avro_writer_options o = {.codec = TARN_AVRO_CODEC_DEFLATE};
  tarn_avro_writer *w = NULL;
  tarn_avro_reader *r = NULL;
  const tarn_avro_value *back;
  tarn_buf out;
  tarn_error err;
  tarn_buf_init(&out, 64u << 20);
  if (tarn_avro_writer_open_buf(s, &o, &out, &w, &err) != 0)
    abort();
  /* A decoded value is valid by construction: writing it must succeed. */
  if (tarn_avro_writer_append(w, rec, &err) != 0)
    abort();
  if (tarn_avro_writer_close(w, NULL, &err) != 0)
    abort();
  if (tarn_avro_reader_open_mem(out.data, out.len, NULL, &r, &err) != 0)
    abort();
  if (tarn_avro_reader_next(r, &back, &err) != 0 || back == NULL)
    abort();
  if (!tarn__avro_value_equal(rec, back))
    abort();
  tarn_avro_reader_destroy(r);
  tarn_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* Smaller caps than the defaults keep each run fast; the checks are the same. */
  tarn_avro_reader_options o = {.max_block_bytes = 1u << 20, .max_record_bytes = 4u << 20};
  tarn_avro_reader *r = NULL;
  const tarn_avro_value *rec;
  tarn_error err;
  tarn_buf json;
  int n = 0;
  if (tarn_avro_reader_open_mem(data, size, &o, &r, &err) != 0)
    return 0;
  tarn_buf_init(&json, 1u << 24);
  if (tarn_avro_schema_to_json(tarn_avro_reader_schema(r), &json, &err) == 0) {
    /* The normal form must parse again. */
    tarn_avro_schema *again = NULL;
    if (tarn_avro_schema_parse(json.data, json.len, &again, &err) != 0 && err.code != TARN_ENOMEM)
      abort();
    tarn_avro_schema_destroy(again);
  }
  tarn_buf_free(&json);
  while (tarn_avro_reader_next(r, &rec, &err) == 0 && rec != NULL) {
    if (n++ < 4 && tarn_avro_schema_root(tarn_avro_reader_schema(r))->type == TARN_AVRO_RECORD)
      roundtrip(tarn_avro_reader_schema(r), rec);
  }
  tarn_avro_reader_destroy(r);
  return 0;
}
