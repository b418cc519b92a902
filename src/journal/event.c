/* event.c - the journal's mutation events: reading and checking a request body, the WAL
 * record form and the API form (event.h). */
#include "event.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "csv/csv.h"

/* 0001-01-01 .. 9999-12-31, in µs since 1970 */
#define TS_MIN INT64_C(-62135596800000000)
#define TS_MAX INT64_C(253402300799999999)

static const char *const action_names[] = {"insert", "update", "delete", "ingest"};
static const char *const source_names[] = {"api", "ingest", "workspace", "agent"};

const char *tarn_journal_action_name(tarn_journal_action a) {
  return (unsigned)a < 4 ? action_names[a] : "unknown";
}

const char *tarn_journal_source_name(tarn_journal_source s) {
  return (unsigned)s < 4 ? source_names[s] : "unknown";
}

int tarn_journal_action_parse(const char *s, tarn_journal_action *out) {
  int i;
  for (i = 0; i < 4; i++)
    if (strcmp(s, action_names[i]) == 0) {
      *out = (tarn_journal_action)i;
      return 0;
    }
  return TARN_EINVAL;
}

int tarn_journal_source_parse(const char *s, tarn_journal_source *out) {
  int i;
  for (i = 0; i < 4; i++)
    if (strcmp(s, source_names[i]) == 0) {
      *out = (tarn_journal_source)i;
      return 0;
    }
  return TARN_EINVAL;
}

/* ---- one allocation per event ---- */

static size_t slen(const char *s) { return s != NULL ? strlen(s) + 1 : 0; }

static char *put(char **at, const char *s) {
  size_t n;
  char *r;
  if (s == NULL)
    return NULL;
  n = strlen(s) + 1;
  memcpy(*at, s, n);
  r = *at;
  *at += n;
  return r;
}

int tarn_journal_event_copy(const tarn_journal_event *e, tarn_journal_event *out, tarn_error *err) {
  size_t n = slen(e->event_id) + slen(e->entity_type) + slen(e->entity_id) + slen(e->field) +
             slen(e->old_value) + slen(e->new_value) + slen(e->actor) + slen(e->workspace_id);
  char *mem = tarn_malloc(n ? n : 1), *at = mem;
  tarn_journal_event c = *e;
  if (mem == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  c.event_id = put(&at, e->event_id);
  c.entity_type = put(&at, e->entity_type);
  c.entity_id = put(&at, e->entity_id);
  c.field = put(&at, e->field);
  c.old_value = put(&at, e->old_value);
  c.new_value = put(&at, e->new_value);
  c.actor = put(&at, e->actor);
  c.workspace_id = put(&at, e->workspace_id);
  c.mem = mem;
  *out = c;
  return 0;
}

void tarn_journal_event_free(tarn_journal_event *e) {
  if (e == NULL)
    return;
  tarn_free(e->mem);
  memset(e, 0, sizeof(*e));
}

void tarn_journal_events_free(tarn_journal_event *ev, size_t n) {
  size_t i;
  for (i = 0; ev != NULL && i < n; i++)
    tarn_free(ev[i].mem);
  tarn_free(ev);
}

/* ---- from JSON ---- */

typedef enum mode { FROM_CLIENT, FROM_WAL } mode;

typedef struct reader {
  mode m;
  size_t line;
  tarn_error *err;
  int code; /* TARN_EINVAL from a client, TARN_ECORRUPT from the WAL */
} reader;

static int problem(reader *r, const char *field, const char *what) {
  if (r->m == FROM_WAL)
    return tarn_error_set(r->err, r->code, "field \"%s\" %s", field, what);
  return tarn_error_set(r->err, r->code, "line %zu: field \"%s\" %s", r->line, field, what);
}

/* A string field: non-empty, at most max bytes, no NUL or other control character. */
static int text(reader *r, json_t *v, const char *field, size_t max, const char **out) {
  const char *s;
  size_t n, i;
  if (json_is_null(v)) {
    *out = NULL;
    return 0;
  }
  if (!json_is_string(v))
    return problem(r, field, "must be a string");
  s = json_string_value(v);
  n = json_string_length(v);
  if (n == 0)
    return problem(r, field, "is empty");
  if (n > max) {
    char what[64];
    snprintf(what, sizeof(what), "is longer than %zu bytes", max);
    return problem(r, field, what);
  }
  for (i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
      return problem(r, field, "holds a control character");
  *out = s;
  return 0;
}

static int timestamp(reader *r, json_t *v, int64_t *out) {
  if (json_is_integer(v)) { /* µs since 1970 (what a WAL record holds) */
    json_int_t x = json_integer_value(v);
    if (x < TS_MIN || x > TS_MAX)
      return problem(r, "timestamp", "is out of range (years 1 to 9999)");
    *out = (int64_t)x;
    return 0;
  }
  if (json_is_string(v) && r->m == FROM_CLIENT) {
    int zoned = 0;
    const char *s = json_string_value(v);
    if (tarn_csv_parse_timestamp(s, json_string_length(v), out, &zoned) != 0)
      return problem(r, "timestamp", "is not an RFC 3339 time (2026-01-31T12:00:00.123456Z)");
    if (!zoned)
      return problem(r, "timestamp", "has no zone: end it with Z or an offset (+01:00)");
    return 0;
  }
  return problem(r, "timestamp",
                 "must be an RFC 3339 string with a zone, or microseconds since 1970");
}

/* old_value / new_value: any JSON value, kept as compact text (null: absent). */
static int json_text(reader *r, json_t *v, const char *field, char **owned) {
  if (json_is_null(v))
    return 0;
  *owned = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
  if (*owned == NULL)
    return tarn_error_set(r->err, TARN_ENOMEM, "out of memory");
  if (strlen(*owned) > TARN_JOURNAL_VALUE_MAX)
    return problem(r, field, "is larger than 1 MiB as JSON");
  return 0;
}

static int event_from(reader *r, json_t *o, tarn_journal_event *out) {
  tarn_journal_event e;
  const char *key, *action = NULL, *source = NULL, *id = NULL, *etype = NULL, *eid = NULL,
                   *field = NULL, *actor = NULL, *ws = NULL;
  char *oldv = NULL, *newv = NULL;
  json_t *v;
  int rc = 0;
  memset(&e, 0, sizeof(e));
  e.ts_us = TARN_JOURNAL_TS_UNSET;
  if (!json_is_object(o)) {
    if (r->m == FROM_WAL)
      return tarn_error_set(r->err, r->code, "not a JSON object");
    return tarn_error_set(r->err, r->code, "line %zu: an event must be a JSON object", r->line);
  }
  json_object_foreach(o, key, v) {
    if (strcmp(key, "event_id") == 0)
      rc = text(r, v, key, TARN_JOURNAL_ID_MAX, &id);
    else if (strcmp(key, "timestamp") == 0)
      rc = json_is_null(v) ? 0 : timestamp(r, v, &e.ts_us);
    else if (strcmp(key, "entity_type") == 0)
      rc = text(r, v, key, TARN_JOURNAL_NAME_MAX, &etype);
    else if (strcmp(key, "entity_id") == 0)
      rc = text(r, v, key, TARN_JOURNAL_NAME_MAX, &eid);
    else if (strcmp(key, "field") == 0)
      rc = text(r, v, key, TARN_JOURNAL_NAME_MAX, &field);
    else if (strcmp(key, "action") == 0)
      rc = text(r, v, key, 16, &action);
    else if (strcmp(key, "old_value") == 0)
      rc = json_text(r, v, key, &oldv);
    else if (strcmp(key, "new_value") == 0)
      rc = json_text(r, v, key, &newv);
    else if (strcmp(key, "actor") == 0)
      rc = text(r, v, key, TARN_JOURNAL_NAME_MAX, &actor);
    else if (strcmp(key, "source") == 0)
      rc = text(r, v, key, 16, &source);
    else if (strcmp(key, "workspace_id") == 0)
      rc = text(r, v, key, TARN_JOURNAL_NAME_MAX, &ws);
    else
      rc = problem(r, key,
                   "is not an event field (event_id, timestamp, entity_type, entity_id, field, "
                   "action, old_value, new_value, actor, source, workspace_id)");
    if (rc != 0)
      goto out;
  }
  if (etype == NULL || eid == NULL || action == NULL) {
    rc = problem(r,
                 etype == NULL ? "entity_type"
                 : eid == NULL ? "entity_id"
                               : "action",
                 "is required");
    goto out;
  }
  if (tarn_journal_action_parse(action, &e.action) != 0) {
    rc = problem(r, "action", "must be insert, update, delete or ingest");
    goto out;
  }
  if (source != NULL) {
    if (tarn_journal_source_parse(source, &e.source) != 0) {
      rc = problem(r, "source", "must be api, ingest, workspace or agent");
      goto out;
    }
    e.has_source = 1;
  }
  if (e.action == TARN_JA_UPDATE && (field == NULL || strcmp(field, "*") == 0)) {
    rc = problem(r, "field", "must name the field an update changes");
    goto out;
  }
  if (e.action != TARN_JA_UPDATE) {
    if (field != NULL && strcmp(field, "*") != 0) {
      rc = problem(r, "field", "must be \"*\" (or absent) for insert, delete and ingest");
      goto out;
    }
    field = "*";
  }
  if (r->m == FROM_WAL && (id == NULL || e.ts_us == TARN_JOURNAL_TS_UNSET || !e.has_source)) {
    rc = problem(r,
                 id == NULL                         ? "event_id"
                 : e.ts_us == TARN_JOURNAL_TS_UNSET ? "timestamp"
                                                    : "source",
                 "is missing");
    goto out;
  }
  /* the copy below owns every string; these point into the JSON meanwhile */
  e.event_id = (char *)id;
  e.client_id = id != NULL;
  e.entity_type = (char *)etype;
  e.entity_id = (char *)eid;
  e.field = (char *)field;
  e.actor = (char *)actor;
  e.workspace_id = (char *)ws;
  e.old_value = oldv;
  e.new_value = newv;
  rc = tarn_journal_event_copy(&e, out, r->err);
out:
  free(oldv);
  free(newv);
  return rc;
}

/* The line (1-based) of byte offset `at`. */
static size_t line_of(const char *body, size_t at) {
  size_t i, line = 1;
  for (i = 0; i < at; i++)
    line += body[i] == '\n';
  return line;
}

int tarn_journal_parse(const char *body, size_t len, size_t max_events, tarn_journal_event **out,
                       size_t *n, tarn_error *err) {
  tarn_journal_event *ev = NULL;
  size_t cap = 0, count = 0, at = 0;
  json_error_t je;
  json_t *whole;
  reader r = {FROM_CLIENT, 1, err, TARN_EINVAL};
  int rc = 0;
  *out = NULL;
  *n = 0;
  /* one object, however it is laid out */
  whole = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
  if (whole != NULL) {
    ev = tarn_calloc(1, sizeof(*ev));
    rc = ev != NULL ? event_from(&r, whole, ev) : tarn_error_set(err, TARN_ENOMEM, "out of memory");
    json_decref(whole);
    if (rc != 0) {
      tarn_free(ev);
      return rc;
    }
    *out = ev;
    *n = 1;
    return 0;
  }
  /* else NDJSON: one object per line */
  while (rc == 0 && at < len) {
    const char *nl = memchr(body + at, '\n', len - at);
    size_t end = nl != NULL ? (size_t)(nl - body) : len, i;
    json_t *o;
    for (i = at; i < end && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r'); i++)
      ;
    r.line = line_of(body, at);
    if (i == end) { /* blank */
      at = end + 1;
      continue;
    }
    if (count == max_events) {
      rc = tarn_error_set(err, TARN_ETOOBIG, "line %zu: more than %zu events in one request",
                          r.line, max_events);
      break;
    }
    o = json_loadb(body + at, end - at, JSON_REJECT_DUPLICATES, &je);
    if (o == NULL) {
      rc = tarn_error_set(err, TARN_EINVAL, "line %zu, column %d: %s", r.line, je.column, je.text);
      break;
    }
    if (TARN_GROW(ev, cap, count + 1, 16) != 0)
      rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
    else if ((rc = event_from(&r, o, &ev[count])) == 0)
      count++;
    json_decref(o);
    at = end + 1;
  }
  if (rc == 0 && count == 0)
    rc = tarn_error_set(err, TARN_EINVAL, "line 1: no event in the request body");
  if (rc != 0) {
    tarn_journal_events_free(ev, count);
    return rc;
  }
  *out = ev;
  *n = count;
  return 0;
}

/* ---- the WAL record ---- */

static int set_str(json_t *o, const char *k, const char *v) {
  return json_object_set_new(o, k, v != NULL ? json_string(v) : json_null());
}

/* A stored JSON text back as a value (it was written compact by json_text). */
static int set_raw(json_t *o, const char *k, const char *text) {
  json_t *v = text != NULL ? json_loads(text, JSON_DECODE_ANY, NULL) : json_null();
  return v != NULL ? json_object_set_new(o, k, v) : -1;
}

static json_t *record_object(const tarn_journal_event *e, int api) {
  json_t *o = json_object();
  int bad = o == NULL;
  if (!bad) {
    bad |= set_str(o, "event_id", e->event_id);
    if (api) {
      char ts[40];
      bad |= set_str(o, "timestamp", tarn_time_iso8601(e->ts_us, 6, ts, sizeof(ts)));
    } else {
      bad |= json_object_set_new(o, "timestamp", json_integer(e->ts_us));
    }
    bad |= set_str(o, "entity_type", e->entity_type);
    bad |= set_str(o, "entity_id", e->entity_id);
    bad |= set_str(o, "field", e->field);
    bad |= set_str(o, "action", tarn_journal_action_name(e->action));
    bad |= set_raw(o, "old_value", e->old_value);
    bad |= set_raw(o, "new_value", e->new_value);
    bad |= set_str(o, "actor", e->actor);
    bad |= set_str(o, "source", tarn_journal_source_name(e->source));
    bad |= set_str(o, "workspace_id", e->workspace_id);
    if (!api)
      bad |= json_object_set_new(o, "client_id", json_boolean(e->client_id));
    else
      bad |= json_object_set_new(o, "seq", json_integer((json_int_t)e->seq));
  }
  if (bad) {
    json_decref(o);
    return NULL;
  }
  return o;
}

json_t *tarn_journal_event_json(const tarn_journal_event *e) { return record_object(e, 1); }

int tarn_journal_event_encode(const tarn_journal_event *e, tarn_buf *out, tarn_error *err) {
  json_t *o = record_object(e, 0);
  char *s;
  int rc;
  if (o == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory encoding a journal event");
  s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(o);
  if (s == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory encoding a journal event");
  tarn_buf_reset(out);
  rc = tarn_buf_append(out, s, strlen(s), err);
  free(s);
  return rc;
}

int tarn_journal_event_decode(const void *p, size_t len, uint64_t seq, tarn_journal_event *out,
                              tarn_error *err) {
  reader r = {FROM_WAL, 0, err, TARN_ECORRUPT};
  json_error_t je;
  json_t *o = json_loadb(p, len, JSON_REJECT_DUPLICATES, &je), *cid;
  int rc;
  if (o == NULL)
    return tarn_error_set(err, TARN_ECORRUPT, "journal record %llu: %s", (unsigned long long)seq,
                          je.text);
  cid = json_object_get(o, "client_id");
  json_incref(cid);
  json_object_del(o, "client_id");
  rc = event_from(&r, o, out);
  if (rc == 0) {
    out->seq = seq;
    out->client_id = json_is_true(cid);
  } else {
    tarn_error_prefix(err, "journal record %llu", (unsigned long long)seq);
  }
  json_decref(cid);
  json_decref(o);
  return rc;
}
