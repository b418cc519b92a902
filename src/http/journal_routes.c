/* journal_routes.c - the mutation journal over HTTP (src/journal/README.md):
 *   POST /journal/events            one JSON event or NDJSON; 200 once fsynced
 *   GET  /journal/history/{entity}  an entity's events in time order
 *   GET  /journal/recent            the latest events, newest first
 *   GET  /journal/stats             what the journal holds
 *   POST /journal/flush             flush to system.journal now
 *   POST /journal/compact           merge system.journal's small files now
 * The answers' JSON is built in src/journal/journal_json.c, which `tarn journal` prints
 * too. */
#include "http_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "journal/journal.h"
#include "journal/journal_json.h"

typedef struct jr_srv {
  tarn_journal *j;
  size_t max_events;
  tarn_metric *events, *append_seconds, *in_memory, *wal_bytes, *syncs;
  tarn_metric *flushes, *compactions, *table_files, *small_files, *last_flush, *last_compaction,
      *inbox, *failed;
} jr_srv;

/* The gauges follow the journal: after every request that changes it, and at every scrape
 * (flushes and compactions happen in the background). */
static void refresh_gauges(jr_srv *s) {
  tarn_journal_stats st;
  if (s->in_memory == NULL)
    return;
  tarn_journal_stats_get(s->j, &st);
  tarn_metric_set(s->in_memory, NULL, (double)st.events_in_memory);
  tarn_metric_set(s->wal_bytes, NULL, (double)st.wal.bytes);
  tarn_metric_set(s->syncs, NULL, (double)st.wal.syncs);
  tarn_metric_set(s->flushes, NULL, (double)st.flushes);
  tarn_metric_set(s->compactions, NULL, (double)st.compactions);
  if (st.table_files >= 0) {
    tarn_metric_set(s->table_files, NULL, (double)st.table_files);
    tarn_metric_set(s->small_files, NULL, (double)st.table_small_files);
  }
  tarn_metric_set(s->last_flush, NULL, (double)st.last_flush_us / 1e6);
  tarn_metric_set(s->last_compaction, NULL, (double)st.last_compaction_us / 1e6);
  tarn_metric_set(s->inbox, NULL, (double)st.inbox_taken);
  tarn_metric_set(s->failed, NULL, st.last_flush_error[0] != '\0' ? 1.0 : 0.0);
}

static void refresh_at_scrape(void *arg) { refresh_gauges(arg); }

/* The status a journal failure is answered with. */
static int reply_failure(tarn_http_response *resp, const tarn_error *err) {
  switch (err->code) {
  case TARN_EINVAL:
    return tarn_http_reply_error(resp, 400, "invalid_argument", "%s", tarn_error_message(err));
  case TARN_ETOOBIG:
    return tarn_http_reply_error(resp, 413, "too_large", "%s", tarn_error_message(err));
  case TARN_ECONFLICT:
    return tarn_http_reply_error(resp, 409, "conflict", "%s", tarn_error_message(err));
  case TARN_EBUSY:
    return tarn_http_reply_error(resp, 503, "journal_full", "%s", tarn_error_message(err));
  case TARN_EFSYNC:
  case TARN_EINTERNAL:
    /* nothing is acknowledged any more: the journal needs a restart (replay) */
    return tarn_http_reply_error(resp, 503, "journal_unavailable", "%s", tarn_error_message(err));
  default:
    return tarn_http_reply_error(resp, tarn_http_status_for(err->code), tarn_err_name(err->code),
                                 "%s", tarn_error_message(err));
  }
}

static int post_events(const tarn_http_request *req, tarn_http_response *resp, void *ud) {
  jr_srv *s = ud;
  tarn_journal_event *ev = NULL;
  tarn_journal_ack *acks = NULL;
  json_t *out;
  size_t n = 0, i, dups = 0;
  uint64_t t0 = tarn_clock_mono_ns();
  tarn_error err;
  int rc;
  rc = tarn_journal_parse(req->body->data != NULL ? req->body->data : "", req->body->len,
                          s->max_events, &ev, &n, &err);
  if (rc != 0)
    return reply_failure(resp, &err);
  acks = tarn_calloc(n, sizeof(*acks));
  if (acks == NULL) {
    tarn_journal_events_free(ev, n);
    return TARN_ENOMEM;
  }
  /* who: the token that authenticated the request (loopback without tokens: "local") */
  rc = tarn_journal_append(s->j, ev, n, req->token_name != NULL ? req->token_name : "local",
                           TARN_JS_API, acks, &err);
  tarn_journal_events_free(ev, n);
  if (rc != 0) {
    tarn_free(acks);
    if (rc == TARN_EFSYNC || rc == TARN_EINTERNAL)
      tarn_log_error("journal append failed", "error=%s detail=%s", tarn_err_name(rc),
                     tarn_error_message(&err));
    return reply_failure(resp, &err);
  }
  out = tarn_journal_acks_json(acks, n);
  for (i = 0; i < n; i++)
    dups += acks[i].duplicate != 0;
  tarn_free(acks);
  if (out == NULL)
    return TARN_ENOMEM;
  {
    const char *stored[] = {"stored"}, *dup[] = {"duplicate"};
    tarn_metric_add(s->events, stored, (double)(n - dups));
    tarn_metric_add(s->events, dup, (double)dups);
    tarn_metric_observe(s->append_seconds, NULL, (double)(tarn_clock_mono_ns() - t0) / 1e9);
  }
  refresh_gauges(s);
  return tarn_http_reply_json(resp, 200, out);
}

/* ---- query parameters ---- */

/* since / until: RFC 3339 with a zone, or microseconds since 1970. */
static int time_param(const tarn_http_request *req, tarn_http_response *resp, const char *name,
                      int64_t *out, int *bad) {
  const char *s = tarn_http_query(req, name);
  *bad = 0;
  if (s == NULL || tarn_journal_time_parse(s, out) == 0)
    return 0;
  *bad = 1;
  return tarn_http_reply_error(resp, 400, "invalid_argument",
                               "%s=\"%.64s\": give " TARN_JOURNAL_TIME_FORMS, name, s);
}

static int limit_param(const tarn_http_request *req, tarn_http_response *resp, size_t def,
                       size_t max, size_t *out, int *bad) {
  const char *s = tarn_http_query(req, "limit");
  size_t v = 0, i;
  *bad = 0;
  *out = def;
  if (s == NULL)
    return 0;
  for (i = 0; s[i] >= '0' && s[i] <= '9' && v <= max; i++)
    v = v * 10 + (size_t)(s[i] - '0');
  if (i == 0 || s[i] != '\0' || v < 1 || v > max) {
    *bad = 1;
    return tarn_http_reply_error(resp, 400, "invalid_argument",
                                 "limit=\"%.32s\": must be an integer from 1 to %zu (default %zu)",
                                 s, max, def);
  }
  *out = v;
  return 0;
}

static int reply_events(tarn_http_response *resp, json_t *out, tarn_journal_event *ev, size_t n) {
  json_t *list = json_array();
  size_t i;
  for (i = 0; i < n; i++)
    json_array_append_new(list, tarn_journal_event_json(&ev[i]));
  tarn_journal_events_free(ev, n);
  json_object_set_new(out, "events", list);
  json_object_set_new(out, "count", json_integer((json_int_t)n));
  return tarn_http_reply_json(resp, 200, out);
}

static int get_history(const tarn_http_request *req, tarn_http_response *resp, void *ud) {
  jr_srv *s = ud;
  tarn_journal_query q;
  tarn_journal_event *ev = NULL;
  size_t n = 0;
  tarn_error err;
  json_t *out;
  int bad, rc;
  memset(&q, 0, sizeof(q));
  q.entity_id = tarn_http_param(req, "entity_id");
  q.entity_type = tarn_http_query(req, "entity_type");
  q.since_us = INT64_MIN;
  q.until_us = INT64_MAX;
  if ((rc = time_param(req, resp, "since", &q.since_us, &bad)) != 0 || bad ||
      (rc = time_param(req, resp, "until", &q.until_us, &bad)) != 0 || bad ||
      (rc = limit_param(req, resp, 1000, 10000, &q.limit, &bad)) != 0 || bad)
    return rc;
  if (q.since_us >= q.until_us)
    return tarn_http_reply_error(resp, 400, "invalid_argument",
                                 "since must be before until: since is inclusive, until exclusive");
  if (tarn_journal_history(s->j, &q, &ev, &n, &err) != 0)
    return reply_failure(resp, &err);
  out = json_object();
  json_object_set_new(out, "entity_id", json_string(q.entity_id));
  return reply_events(resp, out, ev, n);
}

static int get_recent(const tarn_http_request *req, tarn_http_response *resp, void *ud) {
  jr_srv *s = ud;
  tarn_journal_event *ev = NULL;
  size_t n = 0, limit;
  tarn_error err;
  int bad, rc;
  if ((rc = limit_param(req, resp, 50, 1000, &limit, &bad)) != 0 || bad)
    return rc;
  if (tarn_journal_recent(s->j, limit, &ev, &n, &err) != 0)
    return reply_failure(resp, &err);
  return reply_events(resp, json_object(), ev, n);
}

static int get_stats(const tarn_http_request *req, tarn_http_response *resp, void *ud) {
  jr_srv *s = ud;
  tarn_journal_stats st;
  json_t *out;
  (void)req;
  tarn_journal_stats_get(s->j, &st);
  out = tarn_journal_stats_json(&st);
  return out != NULL ? tarn_http_reply_json(resp, 200, out) : TARN_ENOMEM;
}

/* flush and compact: TARN_ENOTAVAIL (no system.journal, the catalog was away at start-up)
 * is 503; other failures keep their status. */
static int reply_maint_failure(tarn_http_response *resp, const tarn_error *err) {
  if (err->code == TARN_ENOTAVAIL)
    return tarn_http_reply_error(resp, 503, "not_available", "%s", tarn_error_message(err));
  return tarn_http_reply_error(resp, tarn_http_status_for(err->code), tarn_err_name(err->code),
                               "%s", tarn_error_message(err));
}

static int post_flush(const tarn_http_request *req, tarn_http_response *resp, void *ud) {
  jr_srv *s = ud;
  tarn_journal_stats st;
  tarn_error err;
  size_t flushed = 0;
  json_t *out;
  (void)req;
  if (tarn_journal_flush(s->j, &flushed, &err) != 0)
    return reply_maint_failure(resp, &err);
  tarn_journal_stats_get(s->j, &st);
  refresh_gauges(s);
  out = tarn_journal_flush_json(flushed, &st);
  return out != NULL ? tarn_http_reply_json(resp, 200, out) : TARN_ENOMEM;
}

static int post_compact(const tarn_http_request *req, tarn_http_response *resp, void *ud) {
  jr_srv *s = ud;
  tarn_journal_compact_result res;
  tarn_error err;
  json_t *out;
  (void)req;
  memset(&res, 0, sizeof(res));
  if (tarn_journal_compact(s->j, &res, &err) != 0) {
    if (err.code != TARN_ENOTAVAIL)
      tarn_log_warn("journal compaction failed", "error=%s detail=%s", tarn_err_name(err.code),
                    tarn_error_message(&err));
    return reply_maint_failure(resp, &err);
  }
  out = tarn_journal_compact_json(&res);
  return out != NULL ? tarn_http_reply_json(resp, 200, out) : TARN_ENOMEM;
}

int tarn_http_add_journal_routes(tarn_http_server *srv, tarn_journal *j, size_t max_events,
                                 size_t max_body, tarn_metrics *m, tarn_error *err) {
  jr_srv *s = tarn_calloc(1, sizeof(*s));
  tarn_http_route r[] = {
      {"POST", "/journal/events", post_events, s, max_body, 0, TARN_HTTP_SCOPE_WRITE, NULL},
      {"GET", "/journal/history/{entity_id...}", get_history, s, 0, 0, TARN_HTTP_SCOPE_READ,
       "entity_type,since,until,limit"},
      {"GET", "/journal/recent", get_recent, s, 0, 0, TARN_HTTP_SCOPE_READ, "limit"},
      {"GET", "/journal/stats", get_stats, s, 0, 0, TARN_HTTP_SCOPE_READ, NULL},
      {"POST", "/journal/flush", post_flush, s, 0, 0, TARN_HTTP_SCOPE_WRITE, NULL},
      {"POST", "/journal/compact", post_compact, s, 0, 0, TARN_HTTP_SCOPE_WRITE, NULL},
  };
  size_t i;
  int rc = 0;
  if (s == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  if ((rc = tarn__http_server_own(srv, s, tarn_free, err)) != 0) {
    tarn_free(s);
    return rc;
  }
  s->j = j;
  s->max_events = max_events;
  if (m != NULL) {
    s->events = tarn_metrics_counter(m, "tarn_journal_events_total",
                                     "events appended: stored, or duplicate (a retried event_id)",
                                     "outcome");
    s->append_seconds = tarn_metrics_histogram(
        m, "tarn_journal_append_seconds", "POST /journal/events from parse to fsync", NULL,
        tarn_metrics_latency_buckets, tarn_metrics_latency_nbuckets);
    s->in_memory = tarn_metrics_gauge(m, "tarn_journal_events_in_memory",
                                      "events held in memory (and in the WAL)", NULL);
    s->wal_bytes = tarn_metrics_gauge(m, "tarn_journal_wal_bytes", "bytes in WAL segments", NULL);
    s->syncs =
        tarn_metrics_gauge(m, "tarn_journal_wal_fsyncs",
                           "WAL fsyncs since start (group commit: fewer than appends)", NULL);
    s->flushes = tarn_metrics_gauge(m, "tarn_journal_flushes",
                                    "flushes to system.journal since start", NULL);
    s->compactions = tarn_metrics_gauge(m, "tarn_journal_compactions",
                                        "compactions of system.journal since start", NULL);
    s->table_files =
        tarn_metrics_gauge(m, "tarn_journal_table_files", "data files of system.journal", NULL);
    s->small_files = tarn_metrics_gauge(m, "tarn_journal_table_small_files",
                                        "of which small (what compaction merges)", NULL);
    s->last_flush =
        tarn_metrics_gauge(m, "tarn_journal_last_flush_timestamp_seconds",
                           "Unix time of the last flush that committed (0: none)", NULL);
    s->last_compaction =
        tarn_metrics_gauge(m, "tarn_journal_last_compaction_timestamp_seconds",
                           "Unix time of the last compaction that merged files (0: none)", NULL);
    s->inbox = tarn_metrics_gauge(m, "tarn_journal_inbox_events",
                                  "events taken in from the inbox since start", NULL);
    s->failed = tarn_metrics_gauge(m, "tarn_journal_flush_failing",
                                   "1 while the last flush failed (see /journal/stats)", NULL);
    refresh_gauges(s);
    rc = tarn_metrics_on_render(m, refresh_at_scrape, s, err);
  }
  for (i = 0; rc == 0 && i < sizeof(r) / sizeof(r[0]); i++)
    rc = tarn_http_server_route(srv, &r[i], err);
  return rc;
}
