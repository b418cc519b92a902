/* journal_json.h - the journal's answers as JSON, one builder each, shared by the HTTP
 * routes (src/http/journal_routes.c) and `tarn journal` so that both print the same thing;
 * and the time values both accept.
 *
 * Every builder returns a new reference the caller owns (json_decref), or NULL when out of
 * memory; its arguments are borrowed. Objects keep their keys in the order documented in
 * the README (dump them with JSON_PRESERVE_ORDER). */
#ifndef TARN_JOURNAL_JOURNAL_JSON_H
#define TARN_JOURNAL_JOURNAL_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "journal.h"

/* The forms tarn_journal_time_parse accepts, for error messages. */
#define TARN_JOURNAL_TIME_FORMS                                                                    \
  "an RFC 3339 time with a zone (2026-01-31T12:00:00Z) or microseconds since 1970"

/* A query bound (since, until) or an event time: RFC 3339 with a zone, or an integer of
 * microseconds since 1970. 0 and *out_us, or TARN_EINVAL (nothing set). */
int tarn_journal_time_parse(const char *s, int64_t *out_us);

/* One append's ack: {"event_id", "seq", "duplicate"}. */
json_t *tarn_journal_ack_json(const tarn_journal_ack *a);
/* A whole append's answer: {"events": [ack...], "stored", "duplicates"}. */
json_t *tarn_journal_acks_json(const tarn_journal_ack *acks, size_t n);

/* GET /journal/stats: events_in_memory, memory_bytes, appended_since_start,
 * duplicates_since_start, wal {segments, bytes, next_seq, durable_seq, fsyncs_since_start,
 * failed}, table_seq, flushes_since_start, last_flush (RFC 3339 or null),
 * last_flush_error (or null), idempotency_window_ids, table_files and table_small_files
 * (null while not known), compactions_since_start, last_compaction (RFC 3339 or null),
 * last_compaction_error (or null), inbox_taken_since_start. */
json_t *tarn_journal_stats_json(const tarn_journal_stats *st);

/* A flush's answer: {"flushed", "table_seq", "events_in_memory"} (st read after it). */
json_t *tarn_journal_flush_json(size_t flushed, const tarn_journal_stats *st);

/* A compaction's answer: {"files_in", "files_out", "events", "bytes_in", "bytes_out",
 * "snapshot_id" (null when nothing was replaced), "small_files_left"}. */
json_t *tarn_journal_compact_json(const tarn_journal_compact_result *r);

/* e as one event of a POST /journal/events body (what tarn_journal_parse reads back as
 * the same event): event_id, timestamp (microseconds) and the optional fields only when
 * set; source only when the event names one. */
json_t *tarn_journal_event_request_json(const tarn_journal_event *e);

#endif
