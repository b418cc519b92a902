/* journal_json.c - the journal's answers as JSON (journal_json.h). */
#include "journal_json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "csv/csv.h"

int tarn_journal_time_parse(const char *s, int64_t *out_us) {
  int zoned = 0;
  int64_t v;
  char *end;
  long long n;
  if (s == NULL || s[0] == '\0')
    return TARN_EINVAL;
  errno = 0;
  n = strtoll(s, &end, 10);
  if (*end == '\0' && errno == 0) {
    *out_us = (int64_t)n;
    return 0;
  }
  if (tarn_csv_parse_timestamp(s, strlen(s), &v, &zoned) == 0 && zoned) {
    *out_us = v;
    return 0;
  }
  return TARN_EINVAL;
}

/* Sets k to v (taken); a NULL v (out of memory) or a failed set marks the object bad. */
static void set(json_t *o, const char *k, json_t *v, int *bad) {
  if (v == NULL || json_object_set_new(o, k, v) != 0)
    *bad = 1;
}

static json_t *done(json_t *o, int bad) {
  if (bad) {
    json_decref(o);
    return NULL;
  }
  return o;
}

static json_t *int_or_null(int64_t v, int known) {
  return known ? json_integer((json_int_t)v) : json_null();
}

static json_t *str_or_null(const char *s) {
  return s != NULL && s[0] != '\0' ? json_string(s) : json_null();
}

static json_t *time_or_null(int64_t us) {
  char t[TARN_TIME_ISO_MAX];
  return us > 0 ? json_string(tarn_time_iso8601(us, 3, t, sizeof(t))) : json_null();
}

json_t *tarn_journal_ack_json(const tarn_journal_ack *a) {
  json_t *o = json_object();
  int bad = o == NULL;
  if (bad)
    return NULL;
  set(o, "event_id", json_string(a->event_id), &bad);
  set(o, "seq", json_integer((json_int_t)a->seq), &bad);
  set(o, "duplicate", json_boolean(a->duplicate), &bad);
  return done(o, bad);
}

json_t *tarn_journal_acks_json(const tarn_journal_ack *acks, size_t n) {
  json_t *o = json_object(), *list = json_array();
  size_t i, dups = 0;
  int bad = o == NULL || list == NULL;
  if (bad) {
    json_decref(o);
    json_decref(list);
    return NULL;
  }
  for (i = 0; i < n && !bad; i++) {
    json_t *a = tarn_journal_ack_json(&acks[i]);
    if (a == NULL || json_array_append_new(list, a) != 0)
      bad = 1;
    dups += acks[i].duplicate != 0;
  }
  set(o, "events", list, &bad);
  set(o, "stored", json_integer((json_int_t)(n - dups)), &bad);
  set(o, "duplicates", json_integer((json_int_t)dups), &bad);
  return done(o, bad);
}

json_t *tarn_journal_stats_json(const tarn_journal_stats *st) {
  json_t *o = json_object(), *wal = json_object();
  int bad = o == NULL || wal == NULL;
  if (bad) {
    json_decref(o);
    json_decref(wal);
    return NULL;
  }
  set(o, "events_in_memory", json_integer((json_int_t)st->events_in_memory), &bad);
  set(o, "memory_bytes", json_integer((json_int_t)st->memory_bytes), &bad);
  set(o, "appended_since_start", json_integer((json_int_t)st->appended), &bad);
  set(o, "duplicates_since_start", json_integer((json_int_t)st->duplicates), &bad);
  set(wal, "segments", json_integer((json_int_t)st->wal.segments), &bad);
  set(wal, "bytes", json_integer((json_int_t)st->wal.bytes), &bad);
  set(wal, "next_seq", json_integer((json_int_t)st->wal.next_seq), &bad);
  set(wal, "durable_seq", json_integer((json_int_t)st->wal.durable_seq), &bad);
  set(wal, "fsyncs_since_start", json_integer((json_int_t)st->wal.syncs), &bad);
  set(wal, "failed", json_boolean(st->wal.failed), &bad);
  set(o, "wal", wal, &bad);
  set(o, "table_seq", json_integer((json_int_t)st->table_seq), &bad);
  set(o, "flushes_since_start", json_integer((json_int_t)st->flushes), &bad);
  set(o, "last_flush", time_or_null(st->last_flush_us), &bad);
  set(o, "last_flush_error", str_or_null(st->last_flush_error), &bad);
  set(o, "idempotency_window_ids", json_integer((json_int_t)st->idempotency_window), &bad);
  set(o, "table_files", int_or_null(st->table_files, st->table_files >= 0), &bad);
  set(o, "table_small_files", int_or_null(st->table_small_files, st->table_files >= 0), &bad);
  set(o, "compactions_since_start", json_integer((json_int_t)st->compactions), &bad);
  set(o, "last_compaction", time_or_null(st->last_compaction_us), &bad);
  set(o, "last_compaction_error", str_or_null(st->last_compaction_error), &bad);
  set(o, "inbox_taken_since_start", json_integer((json_int_t)st->inbox_taken), &bad);
  return done(o, bad);
}

json_t *tarn_journal_flush_json(size_t flushed, const tarn_journal_stats *st) {
  json_t *o = json_object();
  int bad = o == NULL;
  if (bad)
    return NULL;
  set(o, "flushed", json_integer((json_int_t)flushed), &bad);
  set(o, "table_seq", json_integer((json_int_t)st->table_seq), &bad);
  set(o, "events_in_memory", json_integer((json_int_t)st->events_in_memory), &bad);
  return done(o, bad);
}

json_t *tarn_journal_compact_json(const tarn_journal_compact_result *r) {
  json_t *o = json_object();
  int bad = o == NULL;
  if (bad)
    return NULL;
  set(o, "files_in", json_integer((json_int_t)r->files_in), &bad);
  set(o, "files_out", json_integer((json_int_t)r->files_out), &bad);
  set(o, "events", json_integer((json_int_t)r->events), &bad);
  set(o, "bytes_in", json_integer((json_int_t)r->bytes_in), &bad);
  set(o, "bytes_out", json_integer((json_int_t)r->bytes_out), &bad);
  set(o, "snapshot_id", int_or_null(r->snapshot_id, r->files_in > 0), &bad);
  set(o, "small_files_left", json_integer((json_int_t)r->small_files_left), &bad);
  return done(o, bad);
}

/* A stored value (compact JSON text) back as a value; NULL text: not set at all. */
static void set_value(json_t *o, const char *k, const char *text, int *bad) {
  if (text != NULL)
    set(o, k, json_loads(text, JSON_DECODE_ANY, NULL), bad);
}

static void set_text(json_t *o, const char *k, const char *s, int *bad) {
  if (s != NULL)
    set(o, k, json_string(s), bad);
}

json_t *tarn_journal_event_request_json(const tarn_journal_event *e) {
  json_t *o = json_object();
  int bad = o == NULL;
  if (bad)
    return NULL;
  set_text(o, "event_id", e->event_id, &bad);
  if (e->ts_us != TARN_JOURNAL_TS_UNSET)
    set(o, "timestamp", json_integer((json_int_t)e->ts_us), &bad);
  set_text(o, "entity_type", e->entity_type, &bad);
  set_text(o, "entity_id", e->entity_id, &bad);
  set_text(o, "field", e->field, &bad);
  set(o, "action", json_string(tarn_journal_action_name(e->action)), &bad);
  set_value(o, "old_value", e->old_value, &bad);
  set_value(o, "new_value", e->new_value, &bad);
  set_text(o, "actor", e->actor, &bad);
  if (e->has_source)
    set(o, "source", json_string(tarn_journal_source_name(e->source)), &bad);
  set_text(o, "workspace_id", e->workspace_id, &bad);
  return done(o, bad);
}
