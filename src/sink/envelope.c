/* envelope.c - decoding and validating action-audit events. */
#include "envelope.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "action_log.h"
#include "base/alloc.h"

/* 9999-12-31T23:59:59.999Z: applied_at (microseconds) stays far from int64 overflow. */
#define MAX_APPLIED_AT_MS INT64_C(253402300799999)

static const char *const reason_names[TARN_SINK_NREASONS] = {
    "not_json", "not_object", "missing_field", "wrong_type", "bad_value", "null_value",
};

const char *tarn_sink_reason_name(tarn_sink_reason r) {
  return (unsigned)r < TARN_SINK_NREASONS ? reason_names[r] : "unknown";
}

typedef enum kind { REQ_STR, OPT_STR, OPT_STR_EMPTY_NULL, REQ_MS, JSON_TEXT } kind;

static const struct {
  int col;
  kind k;
} fields[] = {
    {TARN_AL_EVENT_ID, REQ_STR},
    {TARN_AL_ACTION_TYPE_ID, REQ_STR},
    {TARN_AL_ACTION_NAME, REQ_STR},
    {TARN_AL_OBJECT_TYPE_ID, REQ_STR},
    {TARN_AL_OBJECT_ID, OPT_STR_EMPTY_NULL},
    {TARN_AL_TENANT, REQ_STR},
    {TARN_AL_ACTOR_SUB, REQ_STR},
    {TARN_AL_ACTOR_EMAIL, OPT_STR},
    {TARN_AL_ORGANIZATION_ID, OPT_STR_EMPTY_NULL},
    {TARN_AL_STATUS, REQ_STR},
    {TARN_AL_TARGET_CLASSIFICATION, OPT_STR},
    {TARN_AL_APPLIED_AT_MS, REQ_MS},
    {TARN_AL_PARAMETERS, JSON_TEXT},
    {TARN_AL_PREVIOUS_STATE, JSON_TEXT},
    {TARN_AL_NEW_STATE, JSON_TEXT},
};

static const char *json_kind(const json_t *j) {
  switch (json_typeof(j)) {
  case JSON_OBJECT: return "an object";
  case JSON_ARRAY: return "an array";
  case JSON_STRING: return "a string";
  case JSON_INTEGER: return "an integer";
  case JSON_REAL: return "a number";
  case JSON_TRUE:
  case JSON_FALSE: return "a boolean";
  default: return "null";
  }
}

typedef struct dec {
  tarn_sink_rows *rows;
  tarn_sink_cell *cells;
  tarn_sink_reason *reason;
  char *detail;
  size_t dlen;
  tarn_error *err;
} dec;

static int poison(dec *d, tarn_sink_reason r, const char *fmt, const char *name, const char *what) {
  *d->reason = r;
  snprintf(d->detail, d->dlen, fmt, name, what);
  return TARN_EINVAL;
}

/* Compact JSON text of v into its cell. */
static int put_json(dec *d, tarn_sink_cell *c, const json_t *v) {
  char small[1024];
  size_t n = json_dumpb(v, small, sizeof(small), JSON_COMPACT | JSON_ENCODE_ANY);
  char *big;
  int rc;
  if (n == 0)
    return tarn_error_set(d->err, TARN_ENOMEM, "out of memory encoding JSON");
  if (n <= sizeof(small))
    return tarn_sink_cell_bytes(d->rows, c, small, n, d->err);
  big = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  if (big == NULL)
    return tarn_error_set(d->err, TARN_ENOMEM, "out of memory encoding JSON");
  rc = tarn_sink_cell_bytes(d->rows, c, big, strlen(big), d->err);
  free(big);
  return rc;
}

static int put_field(dec *d, int col, kind k, const json_t *v) {
  const char *name = tarn_action_log_names[col];
  tarn_sink_cell *c = &d->cells[col];
  int64_t ms;
  if (v == NULL || json_is_null(v)) {
    if (k == REQ_STR || k == REQ_MS)
      return poison(d, TARN_SINK_MISSING_FIELD, "required field \"%s\" is %s", name,
                    v == NULL ? "absent" : "null");
    return 0;
  }
  switch (k) {
  case REQ_STR:
  case OPT_STR:
  case OPT_STR_EMPTY_NULL:
    if (!json_is_string(v))
      return poison(d, TARN_SINK_WRONG_TYPE, "field \"%s\" is %s, not a string", name,
                    json_kind(v));
    if (json_string_length(v) == 0 && k == REQ_STR)
      return poison(d, TARN_SINK_BAD_VALUE, "required field \"%s\" is an empty string%s", name, "");
    if (json_string_length(v) == 0 && k == OPT_STR_EMPTY_NULL)
      return 0;
    return tarn_sink_cell_bytes(d->rows, c, json_string_value(v), json_string_length(v), d->err);
  case REQ_MS:
    if (!json_is_integer(v))
      return poison(d, TARN_SINK_WRONG_TYPE, "field \"%s\" is %s, not an integer", name,
                    json_kind(v));
    ms = json_integer_value(v);
    if (ms <= 0 || ms > MAX_APPLIED_AT_MS)
      return poison(d, TARN_SINK_BAD_VALUE, "field \"%s\" is %s (must be 1 .. 253402300799999)",
                    name, ms <= 0 ? "not positive" : "past year 9999");
    tarn_sink_cell_int(c, ms);
    tarn_sink_cell_int(&d->cells[TARN_AL_APPLIED_AT], ms * 1000);
    return 0;
  case JSON_TEXT: return put_json(d, c, v);
  }
  return 0;
}

static int decode_object(dec *d, const json_t *root) {
  size_t i;
  int rc = 0;
  for (i = 0; rc == 0 && i < sizeof(fields) / sizeof(fields[0]); i++)
    rc = put_field(d, fields[i].col, fields[i].k,
                   json_object_get(root, tarn_action_log_names[fields[i].col]));
  return rc;
}

int tarn_sink_decode(tarn_sink_rows *rows, const void *value, size_t len, tarn_sink_reason *reason,
                     char *detail, size_t dlen, tarn_error *err) {
  json_error_t jerr;
  json_t *root;
  dec d = {rows, NULL, reason, detail, dlen, err};
  size_t arena_at = rows->arena.len;
  unsigned long failures = tarn_alloc_failures();
  int rc;
  detail[0] = '\0';
  memset(&jerr, 0, sizeof(jerr));
  if (value == NULL) {
    *reason = TARN_SINK_NULL_VALUE;
    snprintf(detail, dlen, "the record has no value");
    return TARN_EINVAL;
  }
  root = json_loadb(value, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
  if (root == NULL) {
    /* The parser's own allocation failed: the record may be fine, so it is no poison.
     * jansson reports some of those as syntax errors ("invalid token" when a string
     * cannot be copied), others with no text and no code (its first allocation), hence
     * the count of failed allocations (main() routes jansson's through tarn_malloc) and
     * the memset above. */
    if (tarn_alloc_failures() != failures || json_error_code(&jerr) == json_error_out_of_memory ||
        jerr.text[0] == '\0')
      return tarn_error_set(err, TARN_ENOMEM, "out of memory parsing a record of %zu bytes", len);
    *reason = json_error_code(&jerr) == json_error_duplicate_key ? TARN_SINK_BAD_VALUE
                                                                 : TARN_SINK_NOT_JSON;
    snprintf(detail, dlen, "%s (line %d, column %d, byte %d)", jerr.text, jerr.line, jerr.column,
             jerr.position);
    return TARN_EINVAL;
  }
  if (!json_is_object(root)) {
    *reason = TARN_SINK_NOT_OBJECT;
    snprintf(detail, dlen, "the value is %s, not an object", json_kind(root));
    json_decref(root);
    return TARN_EINVAL;
  }
  d.cells = tarn_sink_rows_add(rows, err);
  rc = d.cells == NULL ? TARN_ENOMEM : decode_object(&d, root);
  json_decref(root);
  if (rc != 0 && d.cells != NULL) {
    tarn_sink_rows_drop_last(rows);
    rows->arena.len = arena_at; /* what the poison record stored goes with it */
  }
  return rc;
}
