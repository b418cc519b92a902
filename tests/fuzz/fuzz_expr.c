/* fuzz_expr.c - libFuzzer target: parse any text as a --where predicate over a schema of
 * every type, evaluate what parses on a few rows, and bring it to negation normal form. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "table/scan.h"
#include "table/table_int.h"

static const char *const names[] = {"b",  "i", "l", "f",   "d",  "dt",  "tm",  "ts",
                                    "tz", "s", "u", "bin", "fx", "dec", "wide"};
static const char *const types[] = {"boolean",     "int",           "long",          "float",
                                    "double",      "date",          "time",          "timestamp",
                                    "timestamptz", "string",        "uuid",          "binary",
                                    "fixed[3]",    "decimal(9, 2)", "decimal(38, 6)"};
#define NF (sizeof(names) / sizeof(names[0]))

static int row_kind; /* which row the value callback answers for */

static void value(void *arg, int32_t field_id, tarn_ice_value *v) {
  (void)arg;
  memset(v, 0, sizeof(v[0]));
  v->is_null = row_kind == 0 || (row_kind == 2 && field_id % 2 == 0);
  v->i64 = field_id;
  v->f32 = row_kind == 3 ? 0.0f / 0.0f : -0.0f;
  v->f64 = row_kind == 3 ? 0.0 / 0.0 : 1.5;
  v->bytes = (const uint8_t *)"abcdefghijklmnop";
  v->len = field_id == 11 ? 16 : field_id == 13 ? 3 : 5;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tarn_ice_field f[NF];
  tarn_ice_schema s;
  tarn_expr *e = NULL;
  tarn__nnf n;
  char *text;
  size_t i;
  if (size > 4096)
    return 0;
  memset(f, 0, sizeof(f));
  for (i = 0; i < NF; i++) {
    f[i].id = (int32_t)i + 1;
    f[i].name = (char *)names[i];
    if (tarn_ice_type_parse(types[i], &f[i].type, NULL) != 0)
      abort();
  }
  s.schema_id = 0;
  s.fields = f;
  s.nfields = NF;
  text = malloc(size + 1);
  if (text == NULL)
    return 0;
  memcpy(text, data, size);
  text[size] = '\0'; /* the parser takes C strings: text after a NUL is not seen */
  if (tarn_expr_parse(&s, text, &e, NULL) == 0) {
    for (row_kind = 0; row_kind < 4; row_kind++) {
      int r = tarn_expr_eval_row(e, value, NULL);
      if (r < -1 || r > 1)
        abort();
    }
    if (tarn__expr_nnf(e, &n, NULL) == 0)
      tarn__nnf_free(&n);
    tarn_expr_free(e);
  }
  free(text);
  return 0;
}
