/* test_sink_envelope.c - the action-audit envelope: valid events into rows, every poison
 * reason with a detail naming the field, nothing half-added, allocation failures
 * (sink/envelope). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "sink/action_log.h"
#include "sink/envelope.h"
#include "sink/rows.h"

/* ---- building events ---- */

/* The 15 envelope fields of a valid event, in column order, as raw JSON values. */
static const char *const base_fields[][2] = {
    {"event_id", "\"ev-1\""},
    {"action_type_id", "\"at-7\""},
    {"action_name", "\"users.update\""},
    {"object_type_id", "\"user\""},
    {"object_id", "\"u-42\""},
    {"tenant", "\"acme\""},
    {"actor_sub", "\"sub-9\""},
    {"actor_email", "\"a@example.com\""},
    {"organization_id", "\"org-3\""},
    {"status", "\"applied\""},
    {"target_classification", "\"internal\""},
    {"applied_at_ms", "1700000000123"},
    {"parameters", "{\"role\":\"admin\",\"n\":[1,2,{\"x\":null}]}"},
    {"previous_state", "{\"role\":\"viewer\"}"},
    {"new_state", "{\"role\":\"admin\"}"},
};
#define NFIELDS (sizeof(base_fields) / sizeof(base_fields[0]))

#define OMIT ((const char *)1)

/* An event with field `name` replaced by the raw JSON `raw` (OMIT: left out; name NULL:
 * none), and `extra` (raw "key":value text, may be NULL) appended. */
static char *event(const char *name, const char *raw, const char *extra) {
  tarn_buf b;
  size_t i;
  int first = 1;
  tarn_buf_init(&b, TARN_BUF_UNLIMITED);
  assert_int_equal(tarn_buf_append_byte(&b, '{', NULL), 0);
  for (i = 0; i < NFIELDS; i++) {
    const char *v = base_fields[i][1];
    if (name != NULL && strcmp(name, base_fields[i][0]) == 0) {
      if (raw == OMIT)
        continue;
      v = raw;
    }
    assert_int_equal(
        tarn_buf_appendf(&b, NULL, "%s\"%s\":%s", first ? "" : ",", base_fields[i][0], v), 0);
    first = 0;
  }
  if (extra != NULL)
    assert_int_equal(tarn_buf_appendf(&b, NULL, "%s%s", first ? "" : ",", extra), 0);
  assert_int_equal(tarn_buf_append(&b, "}", 2, NULL), 0); /* with the NUL */
  return tarn_buf_detach(&b);
}

static const tarn_sink_cell *row_of(const tarn_sink_rows *r, size_t row) {
  assert_true(row < r->nrows);
  return &r->cells[row * r->ncols];
}

/* Checks a byte cell: NULL `want` means a null cell. */
static void check_str(const tarn_sink_rows *r, size_t row, int col, const char *want) {
  const tarn_sink_cell *c = &row_of(r, row)[col];
  if (want == NULL) {
    if (!c->null)
      fail_msg("column %s: want null, have \"%.*s\"", tarn_action_log_names[col], (int)c->len,
               r->arena.data + c->v);
    return;
  }
  if (c->null)
    fail_msg("column %s: want \"%s\", have null", tarn_action_log_names[col], want);
  assert_true(c->v >= 0 && (size_t)c->v + c->len <= r->arena.len);
  if (c->len != strlen(want) || memcmp(r->arena.data + c->v, want, c->len) != 0)
    fail_msg("column %s: want \"%s\", have \"%.*s\"", tarn_action_log_names[col], want, (int)c->len,
             r->arena.data + c->v);
}

static int decode_str(tarn_sink_rows *r, const char *text, tarn_sink_reason *reason, char *detail,
                      size_t dlen, tarn_error *err) {
  return tarn_sink_decode(r, text, strlen(text), reason, detail, dlen, err);
}

/* ---- valid events ---- */

static void test_full_event(void **state) {
  tarn_sink_rows r;
  tarn_sink_reason reason = TARN_SINK_NREASONS;
  char detail[256], *ev;
  tarn_error err;
  const tarn_sink_cell *c;
  (void)state;
  tarn_sink_rows_init(&r, TARN_AL_NCOLS);
  ev = event(NULL, NULL, "\"unknown_key\":{\"deep\":[1,2,3]},\"schema_version\":7");
  if (decode_str(&r, ev, &reason, detail, sizeof(detail), &err) != 0)
    fail_msg("valid event refused: %s %s", tarn_sink_reason_name(reason), detail);
  assert_int_equal(r.nrows, 1);
  assert_string_equal(detail, "");
  check_str(&r, 0, TARN_AL_EVENT_ID, "ev-1");
  check_str(&r, 0, TARN_AL_ACTION_TYPE_ID, "at-7");
  check_str(&r, 0, TARN_AL_ACTION_NAME, "users.update");
  check_str(&r, 0, TARN_AL_OBJECT_TYPE_ID, "user");
  check_str(&r, 0, TARN_AL_OBJECT_ID, "u-42");
  check_str(&r, 0, TARN_AL_TENANT, "acme");
  check_str(&r, 0, TARN_AL_ACTOR_SUB, "sub-9");
  check_str(&r, 0, TARN_AL_ACTOR_EMAIL, "a@example.com");
  check_str(&r, 0, TARN_AL_ORGANIZATION_ID, "org-3");
  check_str(&r, 0, TARN_AL_STATUS, "applied");
  check_str(&r, 0, TARN_AL_TARGET_CLASSIFICATION, "internal");
  check_str(&r, 0, TARN_AL_PARAMETERS, "{\"role\":\"admin\",\"n\":[1,2,{\"x\":null}]}");
  check_str(&r, 0, TARN_AL_PREVIOUS_STATE, "{\"role\":\"viewer\"}");
  check_str(&r, 0, TARN_AL_NEW_STATE, "{\"role\":\"admin\"}");
  c = row_of(&r, 0);
  assert_false(c[TARN_AL_APPLIED_AT_MS].null);
  assert_int_equal(c[TARN_AL_APPLIED_AT_MS].v, 1700000000123LL);
  assert_false(c[TARN_AL_APPLIED_AT].null);
  assert_int_equal(c[TARN_AL_APPLIED_AT].v, 1700000000123000LL);
  free(ev);
  tarn_sink_rows_free(&r);
}

/* Whitespace and key order do not matter; the JSON columns are stored compact. */
static void test_pretty_event_compacted(void **state) {
  static const char ev[] = "\n {\n"
                           "  \"new_state\" : { \"a\" : [ 1 , 2 ] } ,\n"
                           "  \"applied_at_ms\" : 1 ,\n"
                           "  \"status\":\"s\", \"actor_sub\":\"x\", \"tenant\":\"t\",\n"
                           "  \"object_type_id\":\"o\", \"action_name\":\"n\",\n"
                           "  \"action_type_id\":\"a\", \"event_id\":\"e\",\n"
                           "  \"parameters\" : \"just a string\",\n"
                           "  \"previous_state\" : 3.5\n"
                           " }\n\t ";
  tarn_sink_rows r;
  tarn_sink_reason reason;
  char detail[256];
  tarn_error err;
  (void)state;
  tarn_sink_rows_init(&r, TARN_AL_NCOLS);
  if (decode_str(&r, ev, &reason, detail, sizeof(detail), &err) != 0)
    fail_msg("refused: %s", detail);
  check_str(&r, 0, TARN_AL_NEW_STATE, "{\"a\":[1,2]}");
  check_str(&r, 0, TARN_AL_PARAMETERS, "\"just a string\"");
  check_str(&r, 0, TARN_AL_PREVIOUS_STATE, "3.5");
  /* absent optional fields are null */
  check_str(&r, 0, TARN_AL_OBJECT_ID, NULL);
  check_str(&r, 0, TARN_AL_ACTOR_EMAIL, NULL);
  check_str(&r, 0, TARN_AL_ORGANIZATION_ID, NULL);
  check_str(&r, 0, TARN_AL_TARGET_CLASSIFICATION, NULL);
  assert_int_equal(row_of(&r, 0)[TARN_AL_APPLIED_AT_MS].v, 1);
  assert_int_equal(row_of(&r, 0)[TARN_AL_APPLIED_AT].v, 1000);
  tarn_sink_rows_free(&r);
}

/* "" for object_id and organization_id is absent; "" for actor_email and
 * target_classification is kept; JSON null for any optional field is null. */
static void test_optional_fields(void **state) {
  static const struct {
    const char *name;
    const char *raw;
    int col;
    const char *want; /* NULL: null cell */
  } cases[] = {
      {"object_id", "\"\"", TARN_AL_OBJECT_ID, NULL},
      {"organization_id", "\"\"", TARN_AL_ORGANIZATION_ID, NULL},
      {"actor_email", "\"\"", TARN_AL_ACTOR_EMAIL, ""},
      {"target_classification", "\"\"", TARN_AL_TARGET_CLASSIFICATION, ""},
      {"object_id", "null", TARN_AL_OBJECT_ID, NULL},
      {"organization_id", "null", TARN_AL_ORGANIZATION_ID, NULL},
      {"actor_email", "null", TARN_AL_ACTOR_EMAIL, NULL},
      {"target_classification", "null", TARN_AL_TARGET_CLASSIFICATION, NULL},
      {"parameters", "null", TARN_AL_PARAMETERS, NULL},
      {"previous_state", "null", TARN_AL_PREVIOUS_STATE, NULL},
      {"new_state", "null", TARN_AL_NEW_STATE, NULL},
      {"object_id", OMIT, TARN_AL_OBJECT_ID, NULL},
      {"parameters", OMIT, TARN_AL_PARAMETERS, NULL},
      /* JSON text that is not an object is kept as its JSON text */
      {"parameters", "\"\"", TARN_AL_PARAMETERS, "\"\""},
      {"parameters", "[]", TARN_AL_PARAMETERS, "[]"},
      {"parameters", "{}", TARN_AL_PARAMETERS, "{}"},
      {"new_state", "false", TARN_AL_NEW_STATE, "false"},
      {"previous_state", "-12", TARN_AL_PREVIOUS_STATE, "-12"},
      /* ... as written: escapes kept, only whitespace between tokens dropped */
      {"parameters", "\"caf\\u00e9 \\\"q\\\" \\n\"", TARN_AL_PARAMETERS,
       "\"caf\\u00e9 \\\"q\\\" \\n\""},
      {"parameters", "{ \"a\" : [ 1 , 2.50 ] , \"b\":\" x \" }", TARN_AL_PARAMETERS,
       "{\"a\":[1,2.50],\"b\":\" x \"}"},
      /* strings keep their escapes decoded */
      {"actor_email", "\"x\\u00e9\\t@y\"", TARN_AL_ACTOR_EMAIL, "x\xc3\xa9\t@y"},
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    tarn_sink_rows r;
    tarn_sink_reason reason;
    char detail[256], *ev = event(cases[i].name, cases[i].raw, NULL);
    tarn_error err;
    tarn_sink_rows_init(&r, TARN_AL_NCOLS);
    if (decode_str(&r, ev, &reason, detail, sizeof(detail), &err) != 0)
      fail_msg("case %zu (%s): refused: %s", i, cases[i].name, detail);
    check_str(&r, 0, cases[i].col, cases[i].want);
    check_str(&r, 0, TARN_AL_EVENT_ID, "ev-1"); /* the rest is unharmed */
    free(ev);
    tarn_sink_rows_free(&r);
  }
}

static void test_applied_at_bounds_accepted(void **state) {
  static const char *const ok[] = {"1", "253402300799999"};
  static const int64_t want[] = {1, 253402300799999LL};
  size_t i;
  (void)state;
  for (i = 0; i < 2; i++) {
    tarn_sink_rows r;
    tarn_sink_reason reason;
    char detail[256], *ev = event("applied_at_ms", ok[i], NULL);
    tarn_error err;
    tarn_sink_rows_init(&r, TARN_AL_NCOLS);
    if (decode_str(&r, ev, &reason, detail, sizeof(detail), &err) != 0)
      fail_msg("applied_at_ms %s refused: %s", ok[i], detail);
    assert_int_equal(row_of(&r, 0)[TARN_AL_APPLIED_AT_MS].v, want[i]);
    assert_int_equal(row_of(&r, 0)[TARN_AL_APPLIED_AT].v, want[i] * 1000);
    free(ev);
    tarn_sink_rows_free(&r);
  }
}

/* ---- poison ---- */

typedef struct poison_case {
  const char *text; /* the value, NUL-terminated unless len is given */
  size_t len;       /* 0: strlen(text) */
  tarn_sink_reason reason;
  const char *want[2]; /* substrings of the detail */
} poison_case;

/* Decodes a poison record into rows that hold one valid row already: TARN_EINVAL, the
 * reason, a detail with every `want`, and the rows exactly as they were. Then a valid
 * event still decodes right after it (no stale arena offsets). */
static void check_poison(const char *what, const void *value, size_t len, tarn_sink_reason want,
                         const char *const want_detail[2]) {
  tarn_sink_rows r;
  tarn_sink_reason reason = TARN_SINK_NREASONS;
  char detail[256], *ev = event(NULL, NULL, NULL);
  tarn_error err;
  size_t nrows, arena, j;
  int rc;
  tarn_sink_rows_init(&r, TARN_AL_NCOLS);
  assert_int_equal(decode_str(&r, ev, &reason, detail, sizeof(detail), &err), 0);
  nrows = r.nrows;
  arena = r.arena.len;
  memset(detail, 'x', sizeof(detail));
  rc = tarn_sink_decode(&r, value, len, &reason, detail, sizeof(detail), &err);
  if (rc != TARN_EINVAL)
    fail_msg("%s: rc %d (%s), want TARN_EINVAL", what, rc, tarn_err_name(rc));
  if (reason != want)
    fail_msg("%s: reason %s, want %s (detail: %s)", what, tarn_sink_reason_name(reason),
             tarn_sink_reason_name(want), detail);
  assert_non_null(memchr(detail, '\0', sizeof(detail)));
  for (j = 0; j < 2 && want_detail[j] != NULL; j++)
    if (strstr(detail, want_detail[j]) == NULL)
      fail_msg("%s: detail \"%s\" lacks \"%s\"", what, detail, want_detail[j]);
  if (r.nrows != nrows || r.arena.len != arena)
    fail_msg("%s: rows %zu -> %zu, arena %zu -> %zu after a poison record", what, nrows, r.nrows,
             arena, r.arena.len);
  /* the rows still work, and the first row is unharmed */
  assert_int_equal(decode_str(&r, ev, &reason, detail, sizeof(detail), &err), 0);
  assert_int_equal(r.nrows, nrows + 1);
  for (j = 0; j < 2; j++) {
    check_str(&r, j, TARN_AL_EVENT_ID, "ev-1");
    check_str(&r, j, TARN_AL_NEW_STATE, "{\"role\":\"admin\"}");
  }
  free(ev);
  tarn_sink_rows_free(&r);
}

static void test_poison_not_json(void **state) {
  static const poison_case cases[] = {
      {"{\"event_id\":\"ev-1\",\"tenant\":", 0, TARN_SINK_NOT_JSON, {"line 1", "byte"}},
      {"hello world", 0, TARN_SINK_NOT_JSON, {"line 1, column", NULL}},
      {"{\"event_id\":\"ev-\xff\"}", 0, TARN_SINK_NOT_JSON, {"byte", NULL}},
      {"{\"event_id\":\"\xc3\"}", 0, TARN_SINK_NOT_JSON, {"byte", NULL}},
      {"{\"event_id\":\"a\\u0000b\"}", 0, TARN_SINK_NOT_JSON, {"byte", NULL}},
      {"{\"event_id\":\"a\"} {}", 0, TARN_SINK_NOT_JSON, {"byte", NULL}},
      {"{\"event_id\":\"a\"}x", 0, TARN_SINK_NOT_JSON, {"byte", NULL}},
      {"", 0, TARN_SINK_NOT_JSON, {"byte 0", NULL}},
      {"   ", 0, TARN_SINK_NOT_JSON, {"byte", NULL}},
      {"{'event_id':'a'}", 0, TARN_SINK_NOT_JSON, {"line 1", NULL}},
      {"{\"a\":1,}", 0, TARN_SINK_NOT_JSON, {"byte", NULL}},
      /* a NUL byte inside the value, past which the text goes on */
      {"{\"event_id\":\"a\"}\0{}", 18, TARN_SINK_NOT_JSON, {"byte", NULL}},
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char what[64];
    snprintf(what, sizeof(what), "not_json case %zu", i);
    check_poison(what, cases[i].text, cases[i].len ? cases[i].len : strlen(cases[i].text),
                 cases[i].reason, cases[i].want);
  }
}

static void test_poison_not_object(void **state) {
  static const poison_case cases[] = {
      {"[{\"event_id\":\"a\"}]", 0, TARN_SINK_NOT_OBJECT, {"an array", "not an object"}},
      {"42", 0, TARN_SINK_NOT_OBJECT, {"an integer", NULL}},
      {"4.5", 0, TARN_SINK_NOT_OBJECT, {"a number", NULL}},
      {"\"{}\"", 0, TARN_SINK_NOT_OBJECT, {"a string", NULL}},
      {"null", 0, TARN_SINK_NOT_OBJECT, {"null", "not an object"}},
      {"true", 0, TARN_SINK_NOT_OBJECT, {"a boolean", NULL}},
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    check_poison(cases[i].text, cases[i].text, strlen(cases[i].text), cases[i].reason,
                 cases[i].want);
}

static const char *const required[] = {"event_id",       "action_type_id", "action_name",
                                       "object_type_id", "tenant",         "actor_sub",
                                       "status",         "applied_at_ms"};
#define NREQUIRED (sizeof(required) / sizeof(required[0]))

static void test_poison_missing_and_null(void **state) {
  size_t i;
  (void)state;
  for (i = 0; i < NREQUIRED; i++) {
    char what[96], field[64], *ev;
    const char *want[2];
    snprintf(field, sizeof(field), "\"%s\"", required[i]);
    want[0] = field;
    want[1] = "absent";
    ev = event(required[i], OMIT, NULL);
    snprintf(what, sizeof(what), "%s absent", required[i]);
    check_poison(what, ev, strlen(ev), TARN_SINK_MISSING_FIELD, want);
    free(ev);
    want[1] = "is null"; /* present with the wrong type: null is no string */
    ev = event(required[i], "null", NULL);
    snprintf(what, sizeof(what), "%s null", required[i]);
    check_poison(what, ev, strlen(ev), TARN_SINK_WRONG_TYPE, want);
    free(ev);
  }
  {
    /* an empty object names the first required field */
    const char *want[2] = {"\"event_id\"", "absent"};
    check_poison("{}", "{}", 2, TARN_SINK_MISSING_FIELD, want);
  }
}

static void test_poison_wrong_type(void **state) {
  static const struct {
    const char *name, *raw, *what;
  } cases[] = {
      {"applied_at_ms", "\"123\"", "a string"},
      {"applied_at_ms", "1.5", "a number"},
      {"applied_at_ms", "1700000000123.0", "a number"},
      {"applied_at_ms", "true", "a boolean"},
      {"applied_at_ms", "[1]", "an array"},
      {"applied_at_ms", "{}", "an object"},
      {"object_id", "7", "an integer"},
      {"organization_id", "{}", "an object"},
      {"actor_email", "false", "a boolean"},
      {"target_classification", "[]", "an array"},
  };
  size_t i;
  (void)state;
  /* every required string given a number or a boolean */
  for (i = 0; i + 1 < NREQUIRED; i++) {
    char what[96], field[64], *ev;
    const char *want[2];
    snprintf(field, sizeof(field), "\"%s\"", required[i]);
    want[0] = field;
    want[1] = "an integer, not a string";
    ev = event(required[i], "123", NULL);
    snprintf(what, sizeof(what), "%s number", required[i]);
    check_poison(what, ev, strlen(ev), TARN_SINK_WRONG_TYPE, want);
    free(ev);
    want[1] = "a boolean, not a string";
    ev = event(required[i], "true", NULL);
    snprintf(what, sizeof(what), "%s boolean", required[i]);
    check_poison(what, ev, strlen(ev), TARN_SINK_WRONG_TYPE, want);
    free(ev);
  }
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char what[96], field[64], *ev = event(cases[i].name, cases[i].raw, NULL);
    const char *want[2];
    snprintf(field, sizeof(field), "\"%s\"", cases[i].name);
    want[0] = field;
    want[1] = cases[i].what;
    snprintf(what, sizeof(what), "%s = %s", cases[i].name, cases[i].raw);
    check_poison(what, ev, strlen(ev), TARN_SINK_WRONG_TYPE, want);
    free(ev);
  }
}

static void test_poison_bad_value(void **state) {
  static const struct {
    const char *name, *raw, *what;
  } cases[] = {
      {"applied_at_ms", "0", "not positive"},
      {"applied_at_ms", "-1", "not positive"},
      {"applied_at_ms", "-9223372036854775808", "not positive"},
      {"applied_at_ms", "253402300800000", "past year 9999"},
      {"applied_at_ms", "9223372036854775807", "past year 9999"},
  };
  size_t i;
  (void)state;
  for (i = 0; i + 1 < NREQUIRED; i++) {
    char what[96], field[64], *ev = event(required[i], "\"\"", NULL);
    const char *want[2];
    snprintf(field, sizeof(field), "\"%s\"", required[i]);
    want[0] = field;
    want[1] = "empty string";
    snprintf(what, sizeof(what), "%s empty", required[i]);
    check_poison(what, ev, strlen(ev), TARN_SINK_BAD_VALUE, want);
    free(ev);
  }
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char what[96], *ev = event(cases[i].name, cases[i].raw, NULL);
    const char *want[2] = {"\"applied_at_ms\"", cases[i].what};
    snprintf(what, sizeof(what), "%s = %s", cases[i].name, cases[i].raw);
    check_poison(what, ev, strlen(ev), TARN_SINK_BAD_VALUE, want);
    free(ev);
  }
}

/* A number past int64 is valid JSON: as applied_at_ms it is out of range (bad_value). */
static void test_poison_integer_overflow(void **state) {
  static const char *const raws[] = {"9223372036854775808", "-9223372036854775809",
                                     "100000000000000000000000000000"};
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(raws) / sizeof(raws[0]); i++) {
    char *ev = event("applied_at_ms", raws[i], NULL);
    const char *want[2] = {"\"applied_at_ms\"",
                           raws[i][0] == '-' ? "not positive" : "past year 9999"};
    check_poison(raws[i], ev, strlen(ev), TARN_SINK_BAD_VALUE, want);
    free(ev);
  }
}

static void test_poison_duplicate_keys(void **state) {
  static const struct {
    const char *extra, *key;
  } cases[] = {
      {"\"event_id\":\"ev-2\"", "event_id"},
      {"\"applied_at_ms\":1", "applied_at_ms"},
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *ev = event(NULL, NULL, cases[i].extra);
    const char *want[2] = {"duplicate", cases[i].key};
    check_poison(cases[i].extra, ev, strlen(ev), TARN_SINK_BAD_VALUE, want);
    free(ev);
  }
}

static void test_poison_tombstone(void **state) {
  const char *want[2] = {"no value", NULL};
  (void)state;
  check_poison("tombstone", NULL, 0, TARN_SINK_NULL_VALUE, want);
  check_poison("tombstone with a length", NULL, 17, TARN_SINK_NULL_VALUE, want);
}

static void test_reason_names(void **state) {
  (void)state;
  assert_string_equal(tarn_sink_reason_name(TARN_SINK_NOT_JSON), "not_json");
  assert_string_equal(tarn_sink_reason_name(TARN_SINK_NOT_OBJECT), "not_object");
  assert_string_equal(tarn_sink_reason_name(TARN_SINK_MISSING_FIELD), "missing_field");
  assert_string_equal(tarn_sink_reason_name(TARN_SINK_WRONG_TYPE), "wrong_type");
  assert_string_equal(tarn_sink_reason_name(TARN_SINK_BAD_VALUE), "bad_value");
  assert_string_equal(tarn_sink_reason_name(TARN_SINK_NULL_VALUE), "null_value");
  assert_string_equal(tarn_sink_reason_name(TARN_SINK_NREASONS), "unknown");
  assert_string_equal(tarn_sink_reason_name((tarn_sink_reason)-1), "unknown");
}

/* A short detail buffer is cut, never overrun. */
static void test_detail_truncated(void **state) {
  tarn_sink_rows r;
  tarn_sink_reason reason;
  char detail[8 + 8];
  char *ev = event("action_type_id", "\"\"", NULL);
  tarn_error err;
  (void)state;
  tarn_sink_rows_init(&r, TARN_AL_NCOLS);
  memset(detail, 'Z', sizeof(detail));
  assert_int_equal(tarn_sink_decode(&r, ev, strlen(ev), &reason, detail, 8, &err), TARN_EINVAL);
  assert_int_equal(strlen(detail), 7);
  assert_int_equal(detail[8], 'Z');
  assert_int_equal(r.nrows, 0);
  free(ev);
  tarn_sink_rows_free(&r);
}

/* ---- big JSON values ---- */

/* A JSON value of about n bytes of compact text. */
static char *big_json(size_t n) {
  tarn_buf b;
  size_t i = 0;
  tarn_buf_init(&b, TARN_BUF_UNLIMITED);
  assert_int_equal(tarn_buf_append_str(&b, "{\"items\":[", NULL), 0);
  while (b.len + 40 < n) {
    assert_int_equal(
        tarn_buf_appendf(&b, NULL, "%s{\"k\":%zu,\"s\":\"v\\\"\\u00e9-%zu\"}", i ? "," : "", i, i),
        0);
    i++;
  }
  assert_int_equal(tarn_buf_append_str(&b, "],\"pad\":\"", NULL), 0);
  while (b.len + 2 < n)
    assert_int_equal(tarn_buf_append_byte(&b, 'p', NULL), 0);
  assert_int_equal(tarn_buf_append(&b, "\"}", 3, NULL), 0);
  return tarn_buf_detach(&b);
}

/* The compact text jansson writes for `in` (what the cell must hold). */
static char *compact(const char *in) {
  json_error_t e;
  json_t *j = json_loads(in, JSON_DECODE_ANY, &e);
  char *s;
  assert_non_null(j);
  s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
  json_decref(j);
  assert_non_null(s);
  return s;
}

static void test_big_parameters(void **state) {
  static const size_t sizes[] = {1000, 1023, 1024, 1025, 1026, 4096, 300000};
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    char *val = big_json(sizes[i]), *want = compact(val), *ev;
    tarn_sink_rows r;
    tarn_sink_reason reason;
    char detail[256];
    tarn_error err;
    json_error_t je;
    json_t *back;
    ev = event("parameters", val, NULL);
    tarn_sink_rows_init(&r, TARN_AL_NCOLS);
    if (decode_str(&r, ev, &reason, detail, sizeof(detail), &err) != 0)
      fail_msg("size %zu refused: %s", sizes[i], detail);
    (void)want; /* the text is kept as written (escapes included): compare values */
    check_str(&r, 0, TARN_AL_NEW_STATE, "{\"role\":\"admin\"}");
    /* the text parses back to the same value */
    back = json_loadb(r.arena.data + row_of(&r, 0)[TARN_AL_PARAMETERS].v,
                      row_of(&r, 0)[TARN_AL_PARAMETERS].len, 0, &je);
    assert_non_null(back);
    {
      json_t *orig = json_loads(val, 0, &je);
      assert_true(json_equal(orig, back));
      json_decref(orig);
    }
    json_decref(back);
    free(ev);
    free(want);
    free(val);
    tarn_sink_rows_free(&r);
  }
}

/* Many events into one batch: every row keeps its own bytes as the arena grows. */
static void test_many_rows(void **state) {
  tarn_sink_rows r;
  tarn_sink_reason reason;
  char detail[256], id[32], raw[48];
  tarn_error err;
  size_t i, n = 5000;
  (void)state;
  tarn_sink_rows_init(&r, TARN_AL_NCOLS);
  for (i = 0; i < n; i++) {
    char *ev;
    snprintf(raw, sizeof(raw), "\"ev-%zu\"", i);
    ev = event("event_id", i % 7 == 3 ? "\"\"" : raw, NULL); /* every 7th poison */
    (void)decode_str(&r, ev, &reason, detail, sizeof(detail), &err);
    free(ev);
  }
  assert_int_equal(r.nrows, n - (n + 3) / 7);
  {
    size_t row = 0;
    for (i = 0; i < n; i++) {
      if (i % 7 == 3)
        continue;
      snprintf(id, sizeof(id), "ev-%zu", i);
      check_str(&r, row, TARN_AL_EVENT_ID, id);
      check_str(&r, row, TARN_AL_NEW_STATE, "{\"role\":\"admin\"}");
      row++;
    }
  }
  tarn_sink_rows_reset(&r);
  assert_int_equal(r.nrows, 0);
  assert_int_equal(r.arena.len, 0);
  tarn_sink_rows_free(&r);
}

/* ---- allocation failures ---- */

/*
 * Every allocation a decode makes (jansson's too, routed through tarn_malloc as main()
 * does) fails in turn. A valid event then either lands whole or is TARN_ENOMEM with the
 * rows as they were; it is never taken for poison (that would send a good record to the
 * dead-letter table). A poison event is poison or TARN_ENOMEM, never another reason.
 */
static void check_alloc_failures(const char *ev, int valid, tarn_sink_reason want) {
  long total, i;
  tarn_sink_rows r;
  tarn_sink_reason reason;
  char detail[256];
  tarn_error err;
  size_t k;
  /* 1024 rows held: the decode's row is the one that grows the cell array */
  tarn_sink_rows_init(&r, TARN_AL_NCOLS);
  for (k = 0; k < 1024; k++)
    assert_non_null(tarn_sink_rows_add(&r, NULL));
  tarn_alloc_fail_reset();
  (void)decode_str(&r, ev, &reason, detail, sizeof(detail), &err);
  total = tarn_alloc_count();
  tarn_sink_rows_free(&r);
  assert_true(!valid || total >= 1); /* a row at least; poison may allocate nothing */
  for (i = 0; i <= total; i++) {
    size_t nrows, arena;
    int rc;
    tarn_sink_rows_init(&r, TARN_AL_NCOLS);
    for (k = 0; k < 1024; k++)
      assert_non_null(tarn_sink_rows_add(&r, NULL));
    assert_int_equal(tarn_sink_cell_bytes(&r, &r.cells[5], "seed", 4, NULL), 0);
    nrows = r.nrows;
    arena = r.arena.len;
    reason = TARN_SINK_NREASONS;
    tarn_alloc_fail_after(i);
    rc = decode_str(&r, ev, &reason, detail, sizeof(detail), &err);
    tarn_alloc_fail_reset();
    if (rc == TARN_ENOMEM) {
      assert_int_equal(err.code, TARN_ENOMEM);
      if (r.nrows != nrows || r.arena.len != arena)
        fail_msg("allocation %ld: ENOMEM left rows %zu -> %zu, arena %zu -> %zu", i, nrows, r.nrows,
                 arena, r.arena.len);
    } else if (valid) {
      if (rc != 0)
        fail_msg("allocation %ld failed: rc %s reason %s detail \"%s\" (a valid event must "
                 "land or be TARN_ENOMEM)",
                 i, tarn_err_name(rc), tarn_sink_reason_name(reason), detail);
      assert_int_equal(r.nrows, nrows + 1);
      check_str(&r, nrows, TARN_AL_EVENT_ID, "ev-1");
      check_str(&r, nrows, TARN_AL_ORGANIZATION_ID, "org-3");
      assert_int_equal(row_of(&r, nrows)[TARN_AL_APPLIED_AT].v, 1700000000123000LL);
    } else {
      if (rc != TARN_EINVAL || reason != want)
        fail_msg("allocation %ld: rc %s reason %s, want poison %s", i, tarn_err_name(rc),
                 tarn_sink_reason_name(reason), tarn_sink_reason_name(want));
      assert_int_equal(r.nrows, nrows);
      assert_int_equal(r.arena.len, arena);
    }
    assert_memory_equal(r.arena.data, "seed", 4);
    tarn_sink_rows_free(&r);
  }
}

static void test_alloc_failures(void **state) {
  char *big = big_json(3000), *ev_big = event("parameters", big, NULL);
  char *ev = event(NULL, NULL, "\"extra\":{\"a\":[1,2,3],\"b\":\"c\"}");
  char *ev_poison = event("status", "\"\"", NULL);
  (void)state;
  json_set_alloc_funcs(tarn_malloc, tarn_free);
  check_alloc_failures(ev, 1, TARN_SINK_NREASONS);
  check_alloc_failures(ev_big, 1, TARN_SINK_NREASONS);
  check_alloc_failures(ev_poison, 0, TARN_SINK_BAD_VALUE);
  check_alloc_failures("[1,2,3]", 0, TARN_SINK_NOT_OBJECT);
  json_set_alloc_funcs(malloc, free);
  free(ev_poison);
  free(ev);
  free(ev_big);
  free(big);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_full_event),
      cmocka_unit_test(test_pretty_event_compacted),
      cmocka_unit_test(test_optional_fields),
      cmocka_unit_test(test_applied_at_bounds_accepted),
      cmocka_unit_test(test_poison_not_json),
      cmocka_unit_test(test_poison_not_object),
      cmocka_unit_test(test_poison_missing_and_null),
      cmocka_unit_test(test_poison_wrong_type),
      cmocka_unit_test(test_poison_bad_value),
      cmocka_unit_test(test_poison_integer_overflow),
      cmocka_unit_test(test_poison_duplicate_keys),
      cmocka_unit_test(test_poison_tombstone),
      cmocka_unit_test(test_reason_names),
      cmocka_unit_test(test_detail_truncated),
      cmocka_unit_test(test_big_parameters),
      cmocka_unit_test(test_many_rows),
      cmocka_unit_test(test_alloc_failures),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
