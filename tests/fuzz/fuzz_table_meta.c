/* fuzz_table_meta.c - libFuzzer target: arbitrary bytes as Iceberg table metadata JSON.
 * Metadata that parses must write, parse again and write the same text; a deep copy must
 * write that text too; and the schema and partition lookups a table load runs must not
 * crash on what the parser accepted. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/error.h"
#include "parquet/parquet.h"
#include "table/table.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Writes m into out; only running out of memory may fail. */
static int write_ok(const tarn_ice_metadata *m, tarn_buf *out) {
  tarn_error err;
  if (tarn_ice_metadata_write(m, out, &err) == 0)
    return 1;
  if (err.code != TARN_ENOMEM)
    abort();
  return 0;
}

static void same_text(const tarn_buf *a, const tarn_buf *b) {
  if (a->len != b->len || memcmp(a->data, b->data, a->len) != 0)
    abort();
}

/* What loading a table does with the parsed metadata, besides keeping it. */
static void lookups(const tarn_ice_metadata *m) {
  const tarn_ice_schema *s = tarn_ice_metadata_schema(m, m->current_schema_id);
  const tarn_ice_spec *spec = tarn_ice_metadata_spec(m, m->default_spec_id);
  tarn_error err;
  size_t i;
  (void)tarn_ice_metadata_snapshot(m, m->current_snapshot_id);
  (void)tarn_ice_metadata_property(m, "commit.retry.num-retries");
  if (s == NULL)
    return;
  {
    tarn_pq_schema pq;
    if (tarn_ice_schema_to_parquet(s, &pq, &err) == 0)
      tarn_pq_schema_free(&pq);
  }
  (void)tarn_ice_schema_max_id(s);
  for (i = 0; spec != NULL && i < spec->nfields; i++) {
    const tarn_ice_field *f = tarn_ice_schema_field(s, spec->fields[i].source_id);
    tarn_ice_type result;
    if (f != NULL && tarn_ice_schema_field_by_name(s, f->name) == NULL)
      abort(); /* a field found by id is found by its name */
    if (f != NULL)
      (void)tarn_ice_transform_result_type(&spec->fields[i].transform, &f->type, &result, &err);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tarn_ice_metadata m, again, copy;
  tarn_buf a, b, c;
  tarn_error err;
  if (tarn_ice_metadata_parse((const char *)data, size, &m, &err) != 0)
    return 0;
  lookups(&m);
  tarn_buf_init(&a, TARN_BUF_UNLIMITED);
  tarn_buf_init(&b, TARN_BUF_UNLIMITED);
  tarn_buf_init(&c, TARN_BUF_UNLIMITED);
  if (write_ok(&m, &a)) {
    /* What tarn writes, tarn reads back to the same metadata. */
    if (tarn_ice_metadata_parse(a.data, a.len, &again, &err) != 0) {
      if (err.code != TARN_ENOMEM)
        abort();
    } else {
      if (write_ok(&again, &b))
        same_text(&a, &b);
      tarn_ice_metadata_free(&again);
    }
    if (tarn_ice_metadata_copy(&copy, &m, &err) == 0) {
      if (write_ok(&copy, &c))
        same_text(&a, &c);
      tarn_ice_metadata_free(&copy);
    }
  }
  tarn_buf_free(&c);
  tarn_buf_free(&b);
  tarn_buf_free(&a);
  tarn_ice_metadata_free(&m);
  return 0;
}
