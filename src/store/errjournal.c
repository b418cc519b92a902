/* errjournal.c - the storage error journal: events in an append log, a ring for queries. */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "store/buckets.h"

/*
 * The ring holds the newest TARN_ERRJOURNAL_RING events as immutable JSON objects
 * (jansson's reference counts are atomic, so queries hand out references without
 * copying). Event format: README.md, "Error journal".
 */

typedef struct ring_slot {
  json_t *ev; /* NULL when empty */
  int64_t ts_us;
  const char *bucket; /* points into ev */
} ring_slot;

struct tarn_errjournal {
  tarn_applog *log;
  pthread_mutex_t mu;
  ring_slot ring[TARN_ERRJOURNAL_RING];
  size_t head, n; /* ring[head] is the oldest of n */
  size_t loaded, malformed;
};

/* ---- time ---- */

static int digits(const char *s, int n, int *out) {
  int v = 0, i;
  for (i = 0; i < n; i++) {
    if (!isdigit((unsigned char)s[i]))
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return 0;
}

int tarn_errjournal_parse_time(const char *s, int64_t *out_us) {
  struct tm tm;
  int y, mo, d, h = 0, mi = 0, sec = 0;
  int64_t frac = 0, scale = 1000000;
  const char *p;
  time_t t;
  /* Plain number: Unix seconds. */
  if (*s != '\0' && strspn(s, "0123456789") == strlen(s) && strlen(s) <= 12) {
    *out_us = (int64_t)strtoll(s, NULL, 10) * 1000000;
    return 0;
  }
  if (strlen(s) < 10 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
      digits(s + 8, 2, &d))
    return TARN_EINVAL;
  p = s + 10;
  if (*p == 'T' || *p == 't' || *p == ' ') {
    if (digits(p + 1, 2, &h) || p[3] != ':' || digits(p + 4, 2, &mi))
      return TARN_EINVAL;
    p += 6;
    if (*p == ':') {
      if (digits(p + 1, 2, &sec))
        return TARN_EINVAL;
      p += 3;
      if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
          return TARN_EINVAL;
        while (isdigit((unsigned char)*p)) {
          if (scale > 1) {
            scale /= 10;
            frac += (*p - '0') * scale;
          }
          p++;
        }
      }
    }
    if (*p == 'Z' || *p == 'z')
      p++;
    else
      return TARN_EINVAL; /* only UTC: the journal writes Z and so should callers */
  }
  if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
    return TARN_EINVAL;
  memset(&tm, 0, sizeof(tm));
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  t = timegm(&tm);
  *out_us = (int64_t)t * 1000000 + frac;
  return 0;
}

/* ---- the ring ---- */

/* Adds an event (taking the reference), evicting the oldest when full. mu held. */
static void ring_push(tarn_errjournal *ej, json_t *ev) {
  ring_slot *s;
  int64_t ts = 0;
  json_t *ts_j = json_object_get(ev, "ts");
  if (!json_is_string(ts_j) || tarn_errjournal_parse_time(json_string_value(ts_j), &ts) != 0)
    ts = 0;
  if (ej->n == TARN_ERRJOURNAL_RING) {
    s = &ej->ring[ej->head];
    json_decref(s->ev);
    ej->head = (ej->head + 1) % TARN_ERRJOURNAL_RING;
    ej->n--;
  }
  s = &ej->ring[(ej->head + ej->n) % TARN_ERRJOURNAL_RING];
  s->ev = ev;
  s->ts_us = ts;
  s->bucket = json_string_value(json_object_get(ev, "bucket"));
  ej->n++;
}

static int on_loaded(json_t *rec, const char *file, void *ud) {
  tarn_errjournal *ej = ud;
  ring_push(ej, json_incref(rec));
  ej->loaded++;
  return 0;
}

int tarn_errjournal_open(tarn_store *st, const tarn_errjournal_options *o, tarn_errjournal **out,
                         tarn_error *err) {
  tarn_errjournal *ej;
  tarn_applog_options lo;
  tarn_applog_read_stats stats;
  int rc;
  *out = NULL;
  ej = tarn_calloc(1, sizeof(*ej));
  if (ej == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory opening the error journal");
  pthread_mutex_init(&ej->mu, NULL);
  /* The ring keeps the newest events; older ones pass through it. */
  rc = tarn_applog_read(st, TARN_ERRJOURNAL_PREFIX, on_loaded, ej, &stats, err);
  if (rc != 0) {
    tarn_error_prefix(err, "loading the error journal");
    tarn_errjournal_close(ej, NULL);
    return rc;
  }
  ej->malformed = stats.malformed;
  memset(&lo, 0, sizeof(lo));
  lo.prefix = TARN_ERRJOURNAL_PREFIX;
  lo.flush_records = o && o->flush_records ? o->flush_records : 100;
  lo.flush_age_ms = o && o->flush_age_ms ? o->flush_age_ms : 5000;
  lo.background = o ? o->background : 0;
  rc = tarn_applog_open(st, &lo, &ej->log, err);
  if (rc != 0) {
    tarn_errjournal_close(ej, NULL);
    return rc;
  }
  if (stats.records > 0 || stats.malformed > 0)
    tarn_log_info("error journal loaded", "events=%zu kept=%zu malformed=%zu files=%zu",
                  stats.records, ej->n, stats.malformed, stats.files);
  *out = ej;
  return 0;
}

void tarn_errjournal_load_stats(const tarn_errjournal *ej, size_t *loaded, size_t *malformed) {
  *loaded = ej->loaded;
  *malformed = ej->malformed;
}

static json_t *int_or_null(int v) { return v ? json_integer(v) : json_null(); }

void tarn_errjournal_record(tarn_errjournal *ej, const tarn_storage_event *e) {
  char ts[TARN_TIME_ISO_MAX];
  tarn_error err;
  json_t *ev;
  if (ej == NULL)
    return;
  tarn_time_iso8601(e->ts_us ? e->ts_us : tarn_clock_wall_us(), 6, ts, sizeof(ts));
  ev = json_object();
  if (ev == NULL || json_object_set_new(ev, "ts", json_string(ts)) != 0 ||
      json_object_set_new(ev, "op", json_string(e->op ? e->op : "")) != 0 ||
      json_object_set_new(ev, "bucket", json_string(e->bucket ? e->bucket : "")) != 0 ||
      json_object_set_new(ev, "key", e->key ? json_string(e->key) : json_null()) != 0 ||
      json_object_set_new(ev, "error_class",
                          json_string(tarn_err_retriable(e->code) ? "retriable" : "fatal")) != 0 ||
      json_object_set_new(ev, "code", json_string(tarn_err_name(e->code))) != 0 ||
      json_object_set_new(ev, "http_status", int_or_null(e->http_status)) != 0 ||
      json_object_set_new(ev, "errno", int_or_null(e->sys_errno)) != 0 ||
      json_object_set_new(ev, "attempt", json_integer(e->attempt)) != 0 ||
      json_object_set_new(ev, "rescued", json_boolean(e->rescued)) != 0 ||
      json_object_set_new(ev, "message", json_string(e->message ? e->message : "")) != 0) {
    json_decref(ev);
    tarn_log_error("error journal: out of memory; event lost", "op=%s bucket=%s key=%s", e->op,
                   e->bucket, e->key ? e->key : "");
    return;
  }
  /* Keys and messages are validated UTF-8 or our own text; json_string refuses anything
   * else, and the event is then dropped by the check above. */
  if (tarn_applog_append(ej->log, ev, NULL, &err) != 0)
    tarn_log_error("error journal: event not persisted", "op=%s bucket=%s error=%s", e->op,
                   e->bucket, tarn_error_message(&err));
  pthread_mutex_lock(&ej->mu);
  ring_push(ej, ev);
  pthread_mutex_unlock(&ej->mu);
}

json_t *tarn_errjournal_query(tarn_errjournal *ej, const char *bucket, int64_t since_us,
                              size_t limit) {
  json_t *arr = json_array();
  size_t i, match = 0, skip;
  if (arr == NULL)
    return NULL;
  pthread_mutex_lock(&ej->mu);
  /* Count first, so that the newest `limit` come out oldest first. */
  for (i = 0; i < ej->n; i++) {
    const ring_slot *s = &ej->ring[(ej->head + i) % TARN_ERRJOURNAL_RING];
    if (s->ts_us >= since_us && (bucket == NULL || (s->bucket && strcmp(s->bucket, bucket) == 0)))
      match++;
  }
  skip = limit > 0 && match > limit ? match - limit : 0;
  for (i = 0; i < ej->n; i++) {
    const ring_slot *s = &ej->ring[(ej->head + i) % TARN_ERRJOURNAL_RING];
    if (s->ts_us < since_us || (bucket != NULL && (!s->bucket || strcmp(s->bucket, bucket) != 0)))
      continue;
    if (skip > 0) {
      skip--;
      continue;
    }
    if (json_array_append(arr, s->ev) != 0) {
      json_decref(arr);
      arr = NULL;
      break;
    }
  }
  pthread_mutex_unlock(&ej->mu);
  return arr;
}

json_t *tarn_errjournal_counts(tarn_errjournal *ej, int64_t since_us, size_t *total) {
  json_t *obj = json_object();
  size_t i;
  *total = 0;
  if (obj == NULL)
    return NULL;
  pthread_mutex_lock(&ej->mu);
  for (i = 0; i < ej->n; i++) {
    const ring_slot *s = &ej->ring[(ej->head + i) % TARN_ERRJOURNAL_RING];
    const char *b = s->bucket ? s->bucket : "";
    json_t *cur;
    if (s->ts_us < since_us)
      continue;
    cur = json_object_get(obj, b);
    if (json_object_set_new(obj, b, json_integer(cur ? json_integer_value(cur) + 1 : 1)) != 0) {
      json_decref(obj);
      obj = NULL;
      break;
    }
    (*total)++;
  }
  pthread_mutex_unlock(&ej->mu);
  return obj;
}

int tarn_errjournal_flush(tarn_errjournal *ej, size_t *flushed, tarn_error *err) {
  return tarn_applog_flush(ej->log, flushed, err);
}

int tarn_errjournal_compact(tarn_errjournal *ej, tarn_applog_compact_result *res, tarn_error *err) {
  return tarn_applog_compact(ej->log, 0, res, err);
}

int tarn_errjournal_close(tarn_errjournal *ej, tarn_error *err) {
  size_t i;
  int rc;
  if (ej == NULL)
    return 0;
  rc = tarn_applog_close(ej->log, err);
  for (i = 0; i < ej->n; i++)
    json_decref(ej->ring[(ej->head + i) % TARN_ERRJOURNAL_RING].ev);
  pthread_mutex_destroy(&ej->mu);
  tarn_free(ej);
  return rc;
}
