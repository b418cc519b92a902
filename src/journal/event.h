/* event.h - the journal's mutation events: what one holds, how a request body of them is
 * read and checked (one JSON object, or NDJSON), and how one is written into and read
 * back from a WAL record.
 *
 * An event: event_id (a client's, or a UUIDv7 given at append), timestamp (UTC, µs),
 * entity_type, entity_id, field ("*" for insert, delete and ingest), action (insert |
 * update | delete | ingest), old_value and new_value (any JSON, kept as its compact
 * text), actor, source (api | ingest | workspace | agent), workspace_id. */
#ifndef TARN_JOURNAL_EVENT_H
#define TARN_JOURNAL_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/error.h"

typedef enum tarn_journal_action {
  TARN_JA_INSERT,
  TARN_JA_UPDATE,
  TARN_JA_DELETE,
  TARN_JA_INGEST,
} tarn_journal_action;

typedef enum tarn_journal_source {
  TARN_JS_API,
  TARN_JS_INGEST,
  TARN_JS_WORKSPACE,
  TARN_JS_AGENT,
} tarn_journal_source;

#define TARN_JOURNAL_TS_UNSET INT64_MIN
#define TARN_JOURNAL_ID_MAX 128           /* bytes of a client's event_id */
#define TARN_JOURNAL_NAME_MAX 1024        /* bytes of entity_type, entity_id, field, actor, ... */
#define TARN_JOURNAL_VALUE_MAX (1u << 20) /* bytes of old_value or new_value as JSON text */

/* Strings are NUL-terminated, NULL when absent; an event made by this module owns them
 * in one allocation (mem). */
typedef struct tarn_journal_event {
  char *event_id; /* NULL until assigned (then a UUIDv7) unless the client sent one */
  int client_id;  /* event_id came from the client: appends with it are idempotent */
  int64_t ts_us;  /* TARN_JOURNAL_TS_UNSET: the time of the append */
  char *entity_type, *entity_id, *field;
  tarn_journal_action action;
  char *old_value, *new_value; /* compact JSON text */
  char *actor;
  int has_source; /* 0: the caller's default source */
  tarn_journal_source source;
  char *workspace_id;
  uint64_t seq; /* its WAL record's sequence number, once appended */
  void *mem;
} tarn_journal_event;

const char *tarn_journal_action_name(tarn_journal_action a);
const char *tarn_journal_source_name(tarn_journal_source s);
/* 0 and *out for a name ("insert"...), TARN_EINVAL otherwise. */
int tarn_journal_action_parse(const char *s, tarn_journal_action *out);
int tarn_journal_source_parse(const char *s, tarn_journal_source *out);

/* A copy of e in one allocation (*out->mem); e's strings may be anywhere. */
int tarn_journal_event_copy(const tarn_journal_event *e, tarn_journal_event *out, tarn_error *err);
void tarn_journal_event_free(tarn_journal_event *e);
void tarn_journal_events_free(tarn_journal_event *ev, size_t n);

/*
 * Reads a request body: one JSON object (it may span lines), or NDJSON (one object per
 * line, blank lines skipped). Every event is checked; the first problem is TARN_EINVAL
 * naming the line (1-based) and the field, and nothing is returned. At most max_events
 * (TARN_ETOOBIG past it). The caller frees *out with tarn_journal_events_free.
 */
int tarn_journal_parse(const char *body, size_t len, size_t max_events, tarn_journal_event **out,
                       size_t *n, tarn_error *err);

/* One event as the compact JSON a WAL record holds (every field, the timestamp in µs). */
int tarn_journal_event_encode(const tarn_journal_event *e, tarn_buf *out, tarn_error *err);
/* And back (seq is the record's); TARN_ECORRUPT naming the field when it does not read. */
int tarn_journal_event_decode(const void *p, size_t len, uint64_t seq, tarn_journal_event *out,
                              tarn_error *err);

/* One event as the JSON object an API answers with (timestamp as RFC 3339 UTC, µs). */
struct json_t;
struct json_t *tarn_journal_event_json(const tarn_journal_event *e);

#endif
