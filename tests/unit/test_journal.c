/* test_journal.c - mutation events and the journal's in-memory table (journal/event.c,
 * journal/journal.c): request bodies checked with the line and field named, the WAL
 * record form round-tripping, appends visible only once durable, history and recent,
 * idempotent client event_ids (across requests, within one, across a restart, under
 * racing retries), conflicts refused whole, a failed fsync acknowledging nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "journal/journal.h"
#include "store/store.h"
#include "table/lake.h"

#include "support/temp_dir.h"
#include "support/temp_lake.h"

typedef temp_dir fx;

static int setup(void **state) { return temp_dir_setup(state, "tarn-journal"); }

static int teardown(void **state) { return temp_dir_teardown(state); }

/* ---- helpers ---- */

static void parse_ok(const char *body, tarn_journal_event **ev, size_t *n) {
  tarn_error err;
  if (tarn_journal_parse(body, strlen(body), 1000, ev, n, &err) != 0)
    fail_msg("parse: %s", tarn_error_message(&err));
}

/* Parsing fails with code, and the message holds every one of the fragments. */
static void parse_fails(const char *body, int code, const char *frag1, const char *frag2) {
  tarn_journal_event *ev = NULL;
  size_t n = 0;
  tarn_error err;
  int rc = tarn_journal_parse(body, strlen(body), 1000, &ev, &n, &err);
  if (rc != code)
    fail_msg("parse of %s: want %d got %d (%s)", body, code, rc, tarn_error_message(&err));
  assert_null(ev);
  if (strstr(tarn_error_message(&err), frag1) == NULL ||
      (frag2 != NULL && strstr(tarn_error_message(&err), frag2) == NULL))
    fail_msg("message \"%s\" lacks \"%s\" / \"%s\"", tarn_error_message(&err), frag1,
             frag2 ? frag2 : "");
}

static tarn_journal *open_journal(const char *dir, uint64_t table_seq, const tarn_wal_io *io) {
  tarn_journal_options o;
  tarn_journal *j = NULL;
  tarn_error err;
  char wal[128];
  snprintf(wal, sizeof(wal), "%s/wal", dir);
  memset(&o, 0, sizeof(o));
  o.wal_dir = wal;
  o.table_seq = table_seq;
  o.io = io;
  if (tarn_journal_open(&o, &j, &err) != 0)
    fail_msg("open: %s", tarn_error_message(&err));
  return j;
}

/* Appends a body; returns the code, acks in *acks (caller frees). */
static int append_body(tarn_journal *j, const char *body, tarn_journal_ack **acks, size_t *n,
                       tarn_error *err) {
  tarn_journal_event *ev = NULL;
  int rc;
  parse_ok(body, &ev, n);
  *acks = calloc(*n, sizeof(**acks));
  rc = tarn_journal_append(j, ev, *n, "tester", TARN_JS_API, *acks, err);
  tarn_journal_events_free(ev, *n);
  return rc;
}

static void append_ok(tarn_journal *j, const char *body) {
  tarn_journal_ack *acks;
  size_t n;
  tarn_error err;
  if (append_body(j, body, &acks, &n, &err) != 0)
    fail_msg("append: %s", tarn_error_message(&err));
  free(acks);
}

static size_t history(tarn_journal *j, const char *entity, int64_t since, int64_t until,
                      size_t limit, tarn_journal_event **ev) {
  tarn_journal_query q;
  tarn_error err;
  size_t n = 0;
  memset(&q, 0, sizeof(q));
  q.entity_id = entity;
  q.since_us = since;
  q.until_us = until;
  q.limit = limit;
  if (tarn_journal_history(j, &q, ev, &n, &err) != 0)
    fail_msg("history: %s", tarn_error_message(&err));
  return n;
}

#define T0 INT64_C(1767225600000000) /* 2026-01-01T00:00:00Z */

/* ---- parsing ---- */

static void test_parse_one_object_and_ndjson(void **state) {
  tarn_journal_event *ev;
  size_t n;
  (void)state;
  parse_ok("{\n  \"entity_type\": \"order\",\n  \"entity_id\": \"o-1\",\n  \"action\": "
           "\"update\",\n  \"field\": \"status\",\n  \"old_value\": \"open\",\n  \"new_value\": "
           "{\"code\": 2, \"tags\": [\"a\", \"b\"]},\n  \"timestamp\": "
           "\"2026-01-01T01:00:00.5+01:00\"\n}",
           &ev, &n);
  assert_int_equal(n, 1);
  assert_string_equal(ev[0].entity_id, "o-1");
  assert_int_equal(ev[0].action, TARN_JA_UPDATE);
  assert_string_equal(ev[0].field, "status");
  assert_string_equal(ev[0].old_value, "\"open\"");
  assert_string_equal(ev[0].new_value, "{\"code\":2,\"tags\":[\"a\",\"b\"]}");
  assert_int_equal(ev[0].ts_us, T0 + 500000); /* the offset normalised to UTC */
  assert_null(ev[0].event_id);
  assert_false(ev[0].client_id);
  tarn_journal_events_free(ev, n);

  parse_ok("{\"entity_type\":\"order\",\"entity_id\":\"o-1\",\"action\":\"insert\"}\n\n"
           "  \n{\"entity_type\":\"order\",\"entity_id\":\"o-2\",\"action\":\"delete\","
           "\"field\":\"*\",\"event_id\":\"client-7\",\"source\":\"agent\",\"timestamp\":"
           "1767225600000001}\r\n",
           &ev, &n);
  assert_int_equal(n, 2);
  assert_string_equal(ev[0].field, "*");
  assert_string_equal(ev[1].event_id, "client-7");
  assert_true(ev[1].client_id);
  assert_true(ev[1].has_source);
  assert_int_equal(ev[1].source, TARN_JS_AGENT);
  assert_int_equal(ev[1].ts_us, T0 + 1);
  tarn_journal_events_free(ev, n);
}

static void test_parse_errors_name_line_and_field(void **state) {
  const char *ok = "{\"entity_type\":\"t\",\"entity_id\":\"e\",\"action\":\"insert\"}\n";
  char body[1024];
  (void)state;
  snprintf(body, sizeof(body), "%s{\"entity_type\":\"t\",\"action\":\"insert\"}\n", ok);
  parse_fails(body, TARN_EINVAL, "line 2", "\"entity_id\" is required");
  snprintf(body, sizeof(body), "%s%s{\"entity_type\":\"t\",\"entity_id\":\"e\",\"action\":\"x\"}",
           ok, ok);
  parse_fails(body, TARN_EINVAL, "line 3", "insert, update, delete or ingest");
  parse_fails("{\"entity_type\":\"t\",\"entity_id\":\"e\",\"action\":\"insert\",\"entityId\":1}",
              TARN_EINVAL, "\"entityId\" is not an event field", NULL);
  parse_fails("{\"entity_type\":\"t\",\"entity_id\":\"e\",\"action\":\"update\"}", TARN_EINVAL,
              "\"field\" must name the field", NULL);
  parse_fails("{\"entity_type\":\"t\",\"entity_id\":\"e\",\"action\":\"insert\",\"field\":\"f\"}",
              TARN_EINVAL, "\"field\" must be \"*\"", NULL);
  parse_fails("{\"entity_type\":\"t\",\"entity_id\":\"e\",\"action\":\"insert\",\"timestamp\":"
              "\"2026-01-01T00:00:00\"}",
              TARN_EINVAL, "\"timestamp\" has no zone", NULL);
  parse_fails("{\"entity_type\":\"t\",\"entity_id\":\"e\",\"action\":\"insert\",\"timestamp\":"
              "\"yesterday\"}",
              TARN_EINVAL, "\"timestamp\" is not an RFC 3339 time", NULL);
  parse_fails("{\"entity_type\":\"t\",\"entity_id\":\"e\\u0001x\",\"action\":\"insert\"}",
              TARN_EINVAL, "\"entity_id\" holds a control character", NULL);
  parse_fails("{\"entity_type\":\"t\",\"entity_id\":\"\",\"action\":\"insert\"}", TARN_EINVAL,
              "\"entity_id\" is empty", NULL);
  parse_fails("{\"entity_type\":\"t\",\"entity_id\":7,\"action\":\"insert\"}", TARN_EINVAL,
              "\"entity_id\" must be a string", NULL);
  parse_fails("{\"entity_type\":\"t\",\"entity_id\":\"e\",\"action\":\"insert\",\"source\":\"x\"}",
              TARN_EINVAL, "\"source\" must be api", NULL);
  snprintf(body, sizeof(body), "%s[1,2]\n", ok);
  parse_fails(body, TARN_EINVAL, "line 2", "must be a JSON object");
  snprintf(body, sizeof(body), "%s%s{\"entity_type\": tru}\n", ok, ok);
  parse_fails(body, TARN_EINVAL, "line 3, column", NULL);
  parse_fails("{\"entity_type\":\"t\",\"entity_type\":\"u\",\"entity_id\":\"e\",\"action\":"
              "\"insert\"}\n{}",
              TARN_EINVAL, "line 1", "duplicate");
  parse_fails("\n\n  \n", TARN_EINVAL, "no event", NULL);
  {
    char id[300];
    memset(id, 'x', 200);
    id[200] = '\0';
    snprintf(body, sizeof(body),
             "{\"entity_type\":\"t\",\"entity_id\":\"e\",\"action\":\"insert\",\"event_id\":"
             "\"%s\"}",
             id);
    parse_fails(body, TARN_EINVAL, "\"event_id\" is longer than 128 bytes", NULL);
  }
}

static void test_too_many_events(void **state) {
  char body[4096] = "";
  tarn_journal_event *ev = NULL;
  size_t n = 0, i;
  tarn_error err;
  (void)state;
  for (i = 0; i < 11; i++)
    strcat(body, "{\"entity_type\":\"t\",\"entity_id\":\"e\",\"action\":\"insert\"}\n");
  assert_int_equal(tarn_journal_parse(body, strlen(body), 10, &ev, &n, &err), TARN_ETOOBIG);
  assert_non_null(strstr(tarn_error_message(&err), "line 11"));
}

static void test_record_round_trip(void **state) {
  tarn_journal_event *ev, back;
  tarn_buf b;
  size_t n;
  tarn_error err;
  (void)state;
  parse_ok("{\"entity_type\":\"order\",\"entity_id\":\"o-1\",\"action\":\"update\",\"field\":"
           "\"qty\",\"old_value\":5,\"new_value\":[1,{\"x\":null}],\"actor\":\"ana\","
           "\"workspace_id\":\"ws\",\"event_id\":\"c-1\",\"source\":\"workspace\",\"timestamp\":"
           "\"2026-01-01T00:00:00Z\"}",
           &ev, &n);
  tarn_buf_init(&b, TARN_BUF_UNLIMITED);
  assert_int_equal(tarn_journal_event_encode(&ev[0], &b, &err), 0);
  assert_int_equal(tarn_journal_event_decode(b.data, b.len, 42, &back, &err), 0);
  assert_int_equal(back.seq, 42);
  assert_string_equal(back.event_id, "c-1");
  assert_true(back.client_id);
  assert_int_equal(back.ts_us, T0);
  assert_string_equal(back.entity_type, "order");
  assert_string_equal(back.field, "qty");
  assert_string_equal(back.old_value, "5");
  assert_string_equal(back.new_value, "[1,{\"x\":null}]");
  assert_string_equal(back.actor, "ana");
  assert_string_equal(back.workspace_id, "ws");
  assert_int_equal(back.source, TARN_JS_WORKSPACE);
  tarn_journal_event_free(&back);
  /* a damaged record is corrupt, naming the field */
  assert_int_equal(tarn_journal_event_decode("{\"event_id\":\"x\"}", 16, 7, &back, &err),
                   TARN_ECORRUPT);
  assert_non_null(strstr(tarn_error_message(&err), "record 7"));
  tarn_buf_free(&b);
  tarn_journal_events_free(ev, n);
}

/* ---- the journal ---- */

static void test_append_history_recent(void **state) {
  fx *f = *state;
  tarn_journal *j = open_journal(f->dir, 0, NULL);
  tarn_journal_event *ev;
  tarn_journal_ack *acks;
  size_t n, i;
  tarn_error err;
  char body[4096] = "";
  /* entity a at T0+3, T0+1, T0+2 (out of order), entity b between */
  strcat(body, "{\"entity_type\":\"order\",\"entity_id\":\"a\",\"action\":\"insert\","
               "\"timestamp\":1767225600000003}\n");
  strcat(body, "{\"entity_type\":\"order\",\"entity_id\":\"b\",\"action\":\"insert\","
               "\"timestamp\":1767225600000001}\n");
  strcat(body, "{\"entity_type\":\"order\",\"entity_id\":\"a\",\"action\":\"update\",\"field\":"
               "\"s\",\"new_value\":1,\"timestamp\":1767225600000001}\n");
  strcat(body, "{\"entity_type\":\"user\",\"entity_id\":\"a\",\"action\":\"delete\","
               "\"timestamp\":1767225600000002,\"actor\":\"bob\"}\n");
  assert_int_equal(append_body(j, body, &acks, &n, &err), 0);
  assert_int_equal(n, 4);
  for (i = 0; i < 4; i++) {
    assert_int_equal(acks[i].seq, i + 1);
    assert_false(acks[i].duplicate);
    assert_int_equal(strlen(acks[i].event_id), 36); /* a UUIDv7 */
    assert_int_equal(acks[i].event_id[14], '7');
  }
  assert_string_not_equal(acks[0].event_id, acks[1].event_id);
  free(acks);

  n = history(j, "a", INT64_MIN, INT64_MAX, 0, &ev);
  assert_int_equal(n, 3);
  assert_int_equal(ev[0].ts_us, T0 + 1);
  assert_string_equal(ev[0].field, "s");
  assert_int_equal(ev[1].ts_us, T0 + 2);
  assert_string_equal(ev[1].entity_type, "user");
  assert_string_equal(ev[1].actor, "bob");
  assert_int_equal(ev[2].ts_us, T0 + 3);
  assert_string_equal(ev[2].actor, "tester"); /* the default actor */
  assert_int_equal(ev[2].source, TARN_JS_API);
  tarn_journal_events_free(ev, n);

  n = history(j, "a", T0 + 2, T0 + 3, 0, &ev); /* since inclusive, until exclusive */
  assert_int_equal(n, 1);
  assert_int_equal(ev[0].ts_us, T0 + 2);
  tarn_journal_events_free(ev, n);
  n = history(j, "a", INT64_MIN, INT64_MAX, 2, &ev);
  assert_int_equal(n, 2);
  assert_int_equal(ev[1].ts_us, T0 + 2);
  tarn_journal_events_free(ev, n);
  {
    tarn_journal_query q;
    memset(&q, 0, sizeof(q));
    q.entity_id = "a";
    q.entity_type = "order";
    q.since_us = INT64_MIN;
    q.until_us = INT64_MAX;
    assert_int_equal(tarn_journal_history(j, &q, &ev, &n, &err), 0);
    assert_int_equal(n, 2);
    tarn_journal_events_free(ev, n);
  }
  assert_int_equal(history(j, "nobody", INT64_MIN, INT64_MAX, 0, &ev), 0);
  tarn_journal_events_free(ev, 0);

  assert_int_equal(tarn_journal_recent(j, 2, &ev, &n, &err), 0);
  assert_int_equal(n, 2);
  assert_int_equal(ev[0].seq, 4); /* newest first */
  assert_int_equal(ev[1].seq, 3);
  tarn_journal_events_free(ev, n);
  tarn_journal_close(j);
}

static void test_idempotent_client_ids(void **state) {
  fx *f = *state;
  tarn_journal *j = open_journal(f->dir, 0, NULL);
  const char *e1 = "{\"entity_type\":\"t\",\"entity_id\":\"e\",\"action\":\"insert\","
                   "\"event_id\":\"c-1\"}";
  tarn_journal_ack *acks;
  tarn_journal_stats st;
  tarn_journal_event *ev;
  size_t n;
  tarn_error err;
  char body[1024];
  assert_int_equal(append_body(j, e1, &acks, &n, &err), 0);
  assert_int_equal(acks[0].seq, 1);
  free(acks);
  /* the retry: nothing new, the first answer */
  assert_int_equal(append_body(j, e1, &acks, &n, &err), 0);
  assert_int_equal(acks[0].seq, 1);
  assert_true(acks[0].duplicate);
  assert_string_equal(acks[0].event_id, "c-1");
  free(acks);
  /* the same id for another event: refused whole, the new event in it not stored */
  snprintf(body, sizeof(body),
           "{\"entity_type\":\"t\",\"entity_id\":\"e2\",\"action\":\"insert\"}\n"
           "{\"entity_type\":\"t\",\"entity_id\":\"OTHER\",\"action\":\"insert\",\"event_id\":"
           "\"c-1\"}\n");
  assert_int_equal(append_body(j, body, &acks, &n, &err), TARN_ECONFLICT);
  assert_non_null(strstr(tarn_error_message(&err), "line 2"));
  assert_non_null(strstr(tarn_error_message(&err), "\"c-1\""));
  free(acks);
  assert_int_equal(history(j, "e2", INT64_MIN, INT64_MAX, 0, &ev), 0);
  tarn_journal_events_free(ev, 0);
  /* twice in one request: stored once */
  snprintf(
      body, sizeof(body),
      "{\"entity_type\":\"t\",\"entity_id\":\"e\",\"action\":\"delete\",\"event_id\":\"c-2\"}\n"
      "{\"entity_type\":\"t\",\"entity_id\":\"e\",\"action\":\"delete\",\"event_id\":\"c-2\"}\n");
  assert_int_equal(append_body(j, body, &acks, &n, &err), 0);
  assert_int_equal(acks[0].seq, 2);
  assert_false(acks[0].duplicate);
  assert_int_equal(acks[1].seq, 2);
  assert_true(acks[1].duplicate);
  free(acks);
  tarn_journal_stats_get(j, &st);
  assert_int_equal(st.appended, 2);
  assert_int_equal(st.duplicates, 2);
  assert_int_equal(history(j, "e", INT64_MIN, INT64_MAX, 0, &ev), 2);
  tarn_journal_events_free(ev, 2);
  tarn_journal_close(j);

  /* across a restart: replay knows the ids, and numbering goes on */
  j = open_journal(f->dir, 0, NULL);
  assert_int_equal(append_body(j, e1, &acks, &n, &err), 0);
  assert_int_equal(acks[0].seq, 1);
  assert_true(acks[0].duplicate);
  free(acks);
  append_ok(j, "{\"entity_type\":\"t\",\"entity_id\":\"e\",\"action\":\"ingest\"}");
  assert_int_equal(history(j, "e", INT64_MIN, INT64_MAX, 0, &ev), 3);
  assert_int_equal(ev[2].seq, 3);
  tarn_journal_events_free(ev, 3);
  tarn_journal_close(j);
}

static void test_restart_and_table_seq(void **state) {
  fx *f = *state;
  tarn_journal *j = open_journal(f->dir, 0, NULL);
  tarn_journal_event *ev;
  size_t n, i;
  char ids[3][40];
  append_ok(j, "{\"entity_type\":\"t\",\"entity_id\":\"e\",\"action\":\"insert\"}");
  append_ok(j, "{\"entity_type\":\"t\",\"entity_id\":\"e\",\"action\":\"update\",\"field\":\"f\","
               "\"old_value\":null,\"new_value\":\"x\"}");
  append_ok(j, "{\"entity_type\":\"t\",\"entity_id\":\"e\",\"action\":\"delete\"}");
  n = history(j, "e", INT64_MIN, INT64_MAX, 0, &ev);
  assert_int_equal(n, 3);
  for (i = 0; i < 3; i++)
    snprintf(ids[i], sizeof(ids[i]), "%s", ev[i].event_id);
  tarn_journal_events_free(ev, n);
  tarn_journal_close(j);

  j = open_journal(f->dir, 0, NULL);
  n = history(j, "e", INT64_MIN, INT64_MAX, 0, &ev);
  assert_int_equal(n, 3);
  for (i = 0; i < 3; i++)
    assert_string_equal(ev[i].event_id, ids[i]); /* the ids given, kept */
  assert_null(ev[1].old_value);
  assert_string_equal(ev[1].new_value, "\"x\"");
  tarn_journal_events_free(ev, n);
  tarn_journal_close(j);

  /* the table holds 1 and 2: only 3 is replayed */
  j = open_journal(f->dir, 2, NULL);
  n = history(j, "e", INT64_MIN, INT64_MAX, 0, &ev);
  assert_int_equal(n, 1);
  assert_int_equal(ev[0].seq, 3);
  tarn_journal_events_free(ev, n);
  tarn_journal_close(j);
}

/* ---- durability ---- */

typedef struct faults {
  int fail_fsync;
  int syncs;
} faults;

static int faulty_fsync(int fd, void *ctx) {
  faults *x = ctx;
  if (x->fail_fsync) {
    errno = EIO;
    return -1;
  }
  x->syncs++;
  return fsync(fd);
}

static void test_failed_fsync_acknowledges_nothing(void **state) {
  fx *f = *state;
  faults x = {0, 0};
  tarn_wal_io io = {NULL, faulty_fsync, &x};
  tarn_journal *j = open_journal(f->dir, 0, &io);
  tarn_journal_ack *acks;
  tarn_journal_event *ev;
  size_t n;
  tarn_error err;
  int before;
  append_ok(j, "{\"entity_type\":\"t\",\"entity_id\":\"e\",\"action\":\"insert\"}");
  {
    char why[256];
    assert_int_equal(tarn_journal_health(j, why, sizeof(why)), 1);
  }
  before = x.syncs;
  assert_true(before >= 1);
  x.fail_fsync = 1;
  assert_int_equal(append_body(j,
                               "{\"entity_type\":\"t\",\"entity_id\":\"e\",\"action\":\"delete\"}",
                               &acks, &n, &err),
                   TARN_EFSYNC);
  free(acks);
  /* never acknowledged, never visible; and nothing more is accepted */
  assert_int_equal(history(j, "e", INT64_MIN, INT64_MAX, 0, &ev), 1);
  tarn_journal_events_free(ev, 1);
  assert_int_equal(append_body(j,
                               "{\"entity_type\":\"t\",\"entity_id\":\"e\",\"action\":\"ingest\"}",
                               &acks, &n, &err),
                   TARN_EFSYNC);
  free(acks);
  {
    char why[256];
    assert_int_equal(tarn_journal_health(j, why, sizeof(why)), 0);
    assert_non_null(strstr(why, "restarted"));
  }
  tarn_journal_close(j);
}

static void test_memory_cap_refuses_appends(void **state) {
  fx *f = *state;
  tarn_journal_options o;
  tarn_journal *j = NULL;
  tarn_journal_ack *acks;
  tarn_journal_stats st;
  tarn_error err;
  char wal[128];
  size_t n;
  int i, rc = 0;
  snprintf(wal, sizeof(wal), "%s/wal", f->dir);
  memset(&o, 0, sizeof(o));
  o.wal_dir = wal;
  o.max_memory = 4096;
  assert_int_equal(tarn_journal_open(&o, &j, &err), 0);
  for (i = 0; i < 1000 && rc == 0; i++) {
    rc = append_body(j, "{\"entity_type\":\"t\",\"entity_id\":\"e\",\"action\":\"insert\"}", &acks,
                     &n, &err);
    free(acks);
  }
  assert_int_equal(rc, TARN_EBUSY);
  assert_non_null(strstr(tarn_error_message(&err), "max_memory"));
  tarn_journal_stats_get(j, &st);
  assert_true(st.events_in_memory > 0 && st.memory_bytes <= 4096);
  assert_int_equal(st.events_in_memory, (size_t)i - 1); /* the refused one is not stored */
  assert_int_equal(st.wal.next_seq, st.events_in_memory + 1);
  tarn_journal_close(j);
}

/* ---- flushing to system.journal ---- */

typedef struct lakefx {
  tarn_lake lake;
} lakefx;

static void lake_open(const char *dir, lakefx *l) {
  assert_int_equal(temp_lake_open(dir, &l->lake), 0);
}

static void lake_close(lakefx *l) { temp_lake_close(&l->lake); }

/* A journal with system.journal in the fixture's lake; the flusher never fires on its own
 * (thresholds far away), so the test flushes. */
static tarn_journal *open_with_table(const char *dir, lakefx *l) {
  tarn_journal_options o;
  tarn_journal *j = NULL;
  tarn_error err;
  char wal[128];
  lake_open(dir, l);
  snprintf(wal, sizeof(wal), "%s/wal", dir);
  memset(&o, 0, sizeof(o));
  o.wal_dir = wal;
  if (tarn_journal_table_open(&l->lake, &o.table, &err) != 0)
    fail_msg("table: %s", tarn_error_message(&err));
  o.flush_events = 1000000;
  o.flush_age_ms = 3600 * 1000;
  if (tarn_journal_open(&o, &j, &err) != 0)
    fail_msg("open: %s", tarn_error_message(&err));
  return j;
}

static void test_flush_history_and_retries(void **state) {
  fx *f = *state;
  lakefx l;
  tarn_journal *j = open_with_table(f->dir, &l);
  tarn_journal_event *ev;
  tarn_journal_ack *acks;
  tarn_journal_stats st;
  tarn_error err;
  size_t n, flushed, i;
  char body[4096] = "", cmd[512];
  for (i = 1; i <= 5; i++) {
    char line[256];
    snprintf(line, sizeof(line),
             "{\"entity_type\":\"order\",\"entity_id\":\"a\",\"action\":\"update\",\"field\":"
             "\"qty\",\"new_value\":%zu,\"event_id\":\"c-%zu\",\"timestamp\":%lld}\n",
             i, i, (long long)(T0 + 10 - (int64_t)i));
    strcat(body, line);
  }
  strcat(body, "{\"entity_type\":\"order\",\"entity_id\":\"b\",\"action\":\"insert\"}\n");
  append_ok(j, body);
  assert_int_equal(tarn_journal_flush(j, &flushed, &err), 0);
  assert_int_equal(flushed, 6);
  tarn_journal_stats_get(j, &st);
  assert_int_equal(st.events_in_memory, 0);
  assert_int_equal(st.table_seq, 6);
  assert_int_equal(st.idempotency_window, 5);
  assert_int_equal(tarn_journal_flush(j, &flushed, &err), 0); /* nothing new */
  assert_int_equal(flushed, 0);
  /* recent, from the table once memory is empty: newest first */
  assert_int_equal(tarn_journal_recent(j, 3, &ev, &n, &err), 0);
  assert_int_equal(n, 3);
  assert_int_equal(ev[0].seq, 6);
  assert_int_equal(ev[2].seq, 4);
  tarn_journal_events_free(ev, n);
  assert_int_equal(tarn_journal_recent(j, 50, &ev, &n, &err), 0);
  assert_int_equal(n, 6); /* all there is */
  tarn_journal_events_free(ev, n);

  /* history from the table, in time order, values intact */
  n = history(j, "a", INT64_MIN, INT64_MAX, 0, &ev);
  assert_int_equal(n, 5);
  assert_string_equal(ev[0].event_id, "c-5");
  assert_string_equal(ev[0].new_value, "5");
  assert_string_equal(ev[4].event_id, "c-1");
  assert_int_equal(ev[4].seq, 1);
  tarn_journal_events_free(ev, n);
  /* and with memory */
  append_ok(j, "{\"entity_type\":\"order\",\"entity_id\":\"a\",\"action\":\"delete\","
               "\"timestamp\":1767225600000007}");
  n = history(j, "a", INT64_MIN, INT64_MAX, 0, &ev);
  assert_int_equal(n, 6);
  assert_int_equal(ev[3].action, TARN_JA_DELETE); /* (T0+7, seq 7) after c-3 (T0+7, seq 3) */
  tarn_journal_events_free(ev, n);
  n = history(j, "a", T0 + 7, INT64_MAX, 0, &ev); /* since, pushed into the table scan */
  assert_int_equal(n, 4);
  tarn_journal_events_free(ev, n);
  /* recent: the one in memory, then the table's */
  assert_int_equal(tarn_journal_recent(j, 2, &ev, &n, &err), 0);
  assert_int_equal(n, 2);
  assert_int_equal(ev[0].action, TARN_JA_DELETE);
  assert_int_equal(ev[1].seq, 6);
  tarn_journal_events_free(ev, n);

  /* a retry of a flushed event: the first answer; another event under its id: conflict */
  assert_int_equal(append_body(j,
                               "{\"entity_type\":\"order\",\"entity_id\":\"a\",\"action\":"
                               "\"update\",\"field\":\"qty\",\"new_value\":3,\"event_id\":"
                               "\"c-3\"}",
                               &acks, &n, &err),
                   0);
  assert_true(acks[0].duplicate);
  assert_int_equal(acks[0].seq, 3);
  free(acks);
  assert_int_equal(append_body(j,
                               "{\"entity_type\":\"order\",\"entity_id\":\"a\",\"action\":"
                               "\"update\",\"field\":\"qty\",\"new_value\":99,\"event_id\":"
                               "\"c-3\"}",
                               &acks, &n, &err),
                   TARN_ECONFLICT);
  free(acks);
  /* keep the WAL as it is now, to play a crash between a commit and its release below */
  snprintf(cmd, sizeof(cmd), "cp -r %s/wal %s/wal.before", f->dir, f->dir);
  assert_int_equal(system(cmd), 0);
  tarn_journal_close(j); /* flushes what memory holds */
  lake_close(&l);

  j = open_with_table(f->dir, &l);
  tarn_journal_stats_get(j, &st);
  assert_int_equal(st.events_in_memory, 0);
  assert_int_equal(st.table_seq, 12);         /* 7..11: the first flush's carry records */
  assert_int_equal(st.idempotency_window, 5); /* carried through the WAL */
  assert_int_equal(append_body(j,
                               "{\"entity_type\":\"order\",\"entity_id\":\"a\",\"action\":"
                               "\"update\",\"field\":\"qty\",\"new_value\":2,\"event_id\":"
                               "\"c-2\"}",
                               &acks, &n, &err),
                   0);
  assert_true(acks[0].duplicate); /* after a restart too */
  assert_int_equal(acks[0].seq, 2);
  free(acks);
  n = history(j, "a", INT64_MIN, INT64_MAX, 0, &ev);
  assert_int_equal(n, 6);
  tarn_journal_events_free(ev, n);
  tarn_journal_close(j);
  lake_close(&l);

  /* the WAL from before the last flush (as if its release never happened): what the table
   * holds is not replayed, nothing is there twice */
  snprintf(cmd, sizeof(cmd), "rm -rf %s/wal && mv %s/wal.before %s/wal", f->dir, f->dir, f->dir);
  assert_int_equal(system(cmd), 0);
  j = open_with_table(f->dir, &l);
  n = history(j, "a", INT64_MIN, INT64_MAX, 0, &ev);
  assert_int_equal(n, 6);
  for (i = 1; i < n; i++)
    assert_true(ev[i].seq != ev[i - 1].seq);
  tarn_journal_events_free(ev, n);
  tarn_journal_stats_get(j, &st);
  assert_int_equal(st.events_in_memory, 0);
  tarn_journal_close(j);
  lake_close(&l);
}

/* ---- racing retries ---- */

typedef struct racer {
  tarn_journal *j;
  int id;
  uint64_t seq[50];
} racer;

static void *racer_main(void *arg) {
  racer *r = arg;
  int i;
  for (i = 0; i < 50; i++) {
    char body[256];
    tarn_journal_event *ev;
    tarn_journal_ack ack;
    size_t n;
    tarn_error err;
    /* every racer sends the same 50 ids, in its own order */
    int k = (i * 7 + r->id * 13) % 50;
    snprintf(body, sizeof(body),
             "{\"entity_type\":\"t\",\"entity_id\":\"e%d\",\"action\":\"insert\",\"event_id\":"
             "\"id-%d\",\"timestamp\":1767225600000000}",
             k, k);
    parse_ok(body, &ev, &n);
    if (tarn_journal_append(r->j, ev, 1, "racer", TARN_JS_API, &ack, &err) != 0)
      fail_msg("racer %d: %s", r->id, tarn_error_message(&err));
    tarn_journal_events_free(ev, n);
    r->seq[k] = ack.seq;
  }
  return NULL;
}

static void test_racing_retries_store_each_id_once(void **state) {
  fx *f = *state;
  enum { RACERS = 8 };
  tarn_journal *j = open_journal(f->dir, 0, NULL);
  pthread_t t[RACERS];
  racer r[RACERS];
  tarn_journal_stats st;
  int i, k;
  for (i = 0; i < RACERS; i++) {
    r[i].j = j;
    r[i].id = i;
    assert_int_equal(pthread_create(&t[i], NULL, racer_main, &r[i]), 0);
  }
  for (i = 0; i < RACERS; i++)
    pthread_join(t[i], NULL);
  tarn_journal_stats_get(j, &st);
  assert_int_equal(st.appended, 50);
  assert_int_equal(st.duplicates, (RACERS - 1) * 50);
  assert_int_equal(st.events_in_memory, 50);
  for (k = 0; k < 50; k++)
    for (i = 1; i < RACERS; i++)
      assert_int_equal(r[i].seq[k], r[0].seq[k]); /* everyone got the first answer */
  tarn_journal_close(j);
  j = open_journal(f->dir, 0, NULL);
  tarn_journal_stats_get(j, &st);
  assert_int_equal(st.events_in_memory, 50);
  tarn_journal_close(j);
}

/* ---- what callers record most, and the inbox ---- */

static void test_record_calls_and_inbox(void **state) {
  fx *f = *state;
  tarn_journal *j = open_journal(f->dir, 0, NULL);
  tarn_journal_ingest in;
  tarn_journal_event e, *ev;
  tarn_journal_ack ack, ack2;
  tarn_journal_stats st;
  tarn_error err;
  char wal[128], path[256], first_id[TARN_JOURNAL_ID_MAX + 1];
  size_t n;
  FILE *fp;
  snprintf(wal, sizeof(wal), "%s/wal", f->dir);
  assert_int_equal(tarn_journal_record_insert(j, "order", "o-1", "{\"qty\":1}", "ana", &ack, &err),
                   0);
  assert_int_equal(tarn_journal_record_update(j, "order", "o-1", "qty", "1", "2", NULL, &ack, &err),
                   0);
  assert_int_equal(tarn_journal_record_delete(j, "order", "o-1", NULL, "bo", &ack, &err), 0);
  /* checked as an API request is: bad JSON, no field, a control character */
  assert_int_equal(
      tarn_journal_record_update(j, "order", "o-1", "qty", "{1", "2", NULL, &ack, &err),
      TARN_EINVAL);
  assert_non_null(strstr(tarn_error_message(&err), "old_value"));
  assert_int_equal(tarn_journal_record_update(j, "order", "o-1", NULL, "1", "2", NULL, &ack, &err),
                   TARN_EINVAL);
  assert_int_equal(tarn_journal_record_insert(j, "order", "o\n2", NULL, NULL, &ack, &err),
                   TARN_EINVAL);
  assert_non_null(strstr(tarn_error_message(&err), "entity_id"));
  n = history(j, "o-1", INT64_MIN, INT64_MAX, 0, &ev);
  assert_int_equal(n, 3);
  assert_int_equal(ev[0].action, TARN_JA_INSERT);
  assert_string_equal(ev[0].new_value, "{\"qty\":1}");
  assert_string_equal(ev[0].actor, "ana");
  assert_string_equal(ev[1].field, "qty");
  assert_string_equal(ev[2].actor, "bo");
  tarn_journal_events_free(ev, n);
  /* an ingest: the same commit twice is one event */
  memset(&in, 0, sizeof(in));
  in.dataset = "sales";
  in.snapshot_id = 42;
  in.rows = 1000;
  in.source = "sales.csv";
  in.outcome = "created";
  assert_int_equal(tarn_journal_record_ingest(j, &in, &ack, &err), 0);
  assert_false(ack.duplicate);
  assert_int_equal(tarn_journal_record_ingest(j, &in, &ack2, &err), 0);
  assert_true(ack2.duplicate);
  assert_string_equal(ack.event_id, ack2.event_id);
  snprintf(first_id, sizeof(first_id), "%s", ack.event_id);
  n = history(j, "datasets.sales", INT64_MIN, INT64_MAX, 0, &ev);
  assert_int_equal(n, 1);
  assert_int_equal(ev[0].action, TARN_JA_INGEST);
  assert_int_equal(ev[0].source, TARN_JS_INGEST);
  assert_string_equal(ev[0].entity_type, "sales");
  assert_non_null(strstr(ev[0].new_value, "\"rows\":1000"));
  assert_non_null(strstr(ev[0].new_value, "\"source\":\"sales.csv\""));
  tarn_journal_events_free(ev, n);
  tarn_journal_close(j);

  /* the inbox: another process's events, taken in at the next open */
  in.snapshot_id = 43;
  assert_int_equal(tarn_journal_ingest_event(&in, &e, &err), 0);
  assert_string_not_equal(e.event_id, first_id);
  assert_int_equal(tarn_journal_inbox_put(wal, &e, 1, &err), 0);
  assert_int_equal(tarn_journal_inbox_put(wal, &e, 1, &err), 0); /* twice: stored once */
  e.client_id = 0;
  assert_int_equal(tarn_journal_inbox_put(wal, &e, 1, &err), TARN_EINVAL);
  tarn_journal_event_free(&e);
  snprintf(path, sizeof(path), "%s/inbox/0000-garbage.ndjson", wal);
  fp = fopen(path, "w");
  assert_non_null(fp);
  fputs("{\"not\":\"an event\"}\n", fp);
  fclose(fp);
  j = open_journal(f->dir, 0, NULL);
  tarn_journal_stats_get(j, &st);
  assert_int_equal(st.inbox_taken, 1);
  n = history(j, "datasets.sales", INT64_MIN, INT64_MAX, 0, &ev);
  assert_int_equal(n, 2);
  tarn_journal_events_free(ev, n);
  tarn_journal_close(j);
  /* the bad file is set aside (kept), the others gone */
  assert_int_equal(access(path, F_OK), -1);
  snprintf(path, sizeof(path), "%s/inbox/.bad-0000-garbage.ndjson", wal);
  assert_int_equal(access(path, F_OK), 0);
  j = open_journal(f->dir, 0, NULL);
  tarn_journal_stats_get(j, &st);
  assert_int_equal(st.inbox_taken, 0);
  assert_int_equal(st.events_in_memory, 5);
  tarn_journal_close(j);
}

/* A command-line run (manual): no flush at close; what it appended waits in the WAL. */
static void test_manual_keeps_events_in_the_wal(void **state) {
  fx *f = *state;
  lakefx l;
  tarn_journal_options o;
  tarn_journal *j = NULL;
  tarn_journal_stats st;
  tarn_error err;
  char wal[128];
  lake_open(f->dir, &l);
  snprintf(wal, sizeof(wal), "%s/wal", f->dir);
  memset(&o, 0, sizeof(o));
  o.wal_dir = wal;
  o.manual = 1;
  assert_int_equal(tarn_journal_table_open(&l.lake, &o.table, &err), 0);
  assert_int_equal(tarn_journal_open(&o, &j, &err), 0);
  append_ok(j, "{\"entity_type\":\"t\",\"entity_id\":\"x\",\"action\":\"insert\"}");
  tarn_journal_close(j);
  assert_int_equal(tarn_journal_table_open(&l.lake, &o.table, &err), 0);
  assert_int_equal(tarn_journal_open(&o, &j, &err), 0);
  tarn_journal_stats_get(j, &st);
  assert_int_equal(st.events_in_memory, 1);
  assert_int_equal(st.table_seq, 0);
  tarn_journal_close(j);
  lake_close(&l);
}

/* Parquet files under the lake's system.journal data directory. */
static int parquet_files(const char *dir) {
  char cmd[512];
  int n = -1;
  FILE *p;
  snprintf(cmd, sizeof(cmd), "find '%s/warehouse/system/journal/data' -name '*.parquet' | wc -l",
           dir);
  p = popen(cmd, "r");
  if (p == NULL)
    return -1;
  if (fscanf(p, "%d", &n) != 1)
    n = -1;
  pclose(p);
  return n;
}

/* The compaction thread: on its own catalog handle, it merges the small files flushes
 * leave once there are compact_min_files of them; history reads the same events. */
static void test_compaction_thread(void **state) {
  fx *f = *state;
  lakefx l, l2;
  tarn_journal_options o;
  tarn_journal *j = NULL;
  tarn_journal_stats st;
  tarn_journal_compact_result cr;
  tarn_journal_event *ev;
  tarn_error err;
  char wal[128];
  size_t flushed, i, n;
  int waited;
  lake_open(f->dir, &l);
  lake_open(f->dir, &l2);
  snprintf(wal, sizeof(wal), "%s/wal", f->dir);
  memset(&o, 0, sizeof(o));
  o.wal_dir = wal;
  o.flush_events = 1000000;
  o.flush_age_ms = 3600 * 1000;
  o.compact_every_ms = 50;
  o.compact_min_files = 4; /* after the fourth flush, whenever the thread looks */
  assert_int_equal(tarn_journal_table_open(&l.lake, &o.table, &err), 0);
  assert_int_equal(tarn_journal_table_open(&l2.lake, &o.compact_table, &err), 0);
  { /* snapshots expire at once: the files compaction replaced leave the disk */
    tarn_table *t;
    tarn_ice_kv kv = {(char *)"history.expire.max-snapshot-age-ms", (char *)"0"};
    assert_int_equal(tarn_table_load(l.lake.cat, &l.lake.io, "system", "journal", &t, &err), 0);
    assert_int_equal(tarn_table_set_properties(t, &kv, 1, &err), 0);
    tarn_table_close(t);
  }
  assert_int_equal(tarn_journal_open(&o, &j, &err), 0);
  for (i = 0; i < 4; i++) {
    char body[256];
    snprintf(body, sizeof(body),
             "{\"entity_type\":\"t\",\"entity_id\":\"x\",\"action\":\"update\",\"field\":\"f\","
             "\"new_value\":%zu}\n{\"entity_type\":\"t\",\"entity_id\":\"y%zu\",\"action\":"
             "\"insert\"}",
             i, i);
    append_ok(j, body);
    assert_int_equal(tarn_journal_flush(j, &flushed, &err), 0);
    assert_int_equal(flushed, 2);
  }
  for (waited = 0; waited < 200; waited++) { /* 20 s at most */
    tarn_journal_stats_get(j, &st);
    if (st.compactions > 0 && st.table_files == 1 && parquet_files(f->dir) == 1)
      break;
    usleep(100000);
  }
  assert_int_equal(parquet_files(f->dir), 1); /* the four flushed ones expired with their
                                                  snapshots */
  tarn_journal_stats_get(j, &st);
  assert_true(st.compactions > 0);
  assert_int_equal(st.table_files, 1);
  assert_string_equal(st.last_compaction_error, "");
  n = history(j, "x", INT64_MIN, INT64_MAX, 0, &ev);
  assert_int_equal(n, 4);
  for (i = 0; i < n; i++) {
    char want[24];
    snprintf(want, sizeof(want), "%zu", i);
    assert_string_equal(ev[i].new_value, want);
  }
  tarn_journal_events_free(ev, n);
  /* on demand: nothing left to merge */
  assert_int_equal(tarn_journal_compact(j, &cr, &err), 0);
  assert_int_equal(cr.files_in, 0);
  tarn_journal_close(j);
  lake_close(&l);
  lake_close(&l2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_one_object_and_ndjson),
      cmocka_unit_test(test_parse_errors_name_line_and_field),
      cmocka_unit_test(test_too_many_events),
      cmocka_unit_test(test_record_round_trip),
      cmocka_unit_test_setup_teardown(test_append_history_recent, setup, teardown),
      cmocka_unit_test_setup_teardown(test_idempotent_client_ids, setup, teardown),
      cmocka_unit_test_setup_teardown(test_restart_and_table_seq, setup, teardown),
      cmocka_unit_test_setup_teardown(test_failed_fsync_acknowledges_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_racing_retries_store_each_id_once, setup, teardown),
      cmocka_unit_test_setup_teardown(test_memory_cap_refuses_appends, setup, teardown),
      cmocka_unit_test_setup_teardown(test_flush_history_and_retries, setup, teardown),
      cmocka_unit_test_setup_teardown(test_record_calls_and_inbox, setup, teardown),
      cmocka_unit_test_setup_teardown(test_manual_keeps_events_in_the_wal, setup, teardown),
      cmocka_unit_test_setup_teardown(test_compaction_thread, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
