/* fuzz_envelope.c - libFuzzer target: decode any bytes as an action-audit event, and hold
 * the decoder to an independent JSON parser (jansson): whatever it accepts as a row,
 * jansson parses too, with the same string fields; whatever jansson refuses as JSON, the
 * decoder calls not_json (big integers and deep nesting aside, where the limits differ). */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sink/action_log.h"
#include "sink/envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same_strings(const tarn_sink_rows *r, const json_t *root) {
  static const int cols[] = {TARN_AL_EVENT_ID, TARN_AL_TENANT, TARN_AL_ACTOR_SUB, TARN_AL_STATUS,
                             TARN_AL_ACTOR_EMAIL};
  const tarn_sink_cell *c = &r->cells[(r->nrows - 1) * r->ncols];
  size_t i;
  for (i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
    json_t *v = json_object_get(root, tarn_action_log_names[cols[i]]);
    const tarn_sink_cell *x = &c[cols[i]];
    if (v == NULL || json_is_null(v)) {
      if (!x->null)
        abort();
      continue;
    }
    if (x->null || !json_is_string(v) || json_string_length(v) != x->len ||
        memcmp(json_string_value(v), r->arena.data + x->v, x->len) != 0)
      abort();
  }
  if (c[TARN_AL_APPLIED_AT_MS].v !=
      json_integer_value(json_object_get(root, tarn_action_log_names[TARN_AL_APPLIED_AT_MS])))
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tarn_sink_rows rows;
  tarn_sink_reason reason = TARN_SINK_NREASONS;
  tarn_error err;
  json_error_t jerr;
  json_t *root;
  char detail[256];
  int rc;
  if (size > 65536)
    return 0;
  tarn_sink_rows_init(&rows, TARN_AL_NCOLS);
  rc = tarn_sink_decode(&rows, data, size, &reason, detail, sizeof(detail), &err);
  root = json_loadb((const char *)data, size, JSON_DECODE_ANY, &jerr);
  if (rc == 0) {
    if (rows.nrows != 1 || root == NULL || !json_is_object(root))
      abort();
    same_strings(&rows, root);
  } else if (rc == TARN_EINVAL) {
    if (rows.nrows != 0 || rows.arena.len != 0 || detail[0] == '\0')
      abort();
    /* jansson's own limits: integers beyond int64, nesting beyond 2048 */
    if (root == NULL && reason != TARN_SINK_NOT_JSON && strstr(jerr.text, "too big") == NULL &&
        strstr(jerr.text, "depth") == NULL)
      abort();
    if (root != NULL && reason == TARN_SINK_NOT_JSON && strstr(detail, "nested too deeply") == NULL)
      abort();
  }
  json_decref(root);
  tarn_sink_rows_free(&rows);
  return 0;
}
