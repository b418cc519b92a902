/* sink.c - the consumer loop of `tarn sink`: records into batches, batches into commits,
 * partitions assigned from the offsets the tables hold. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "sink_int.h"

/* One assigned topic-partition. */
typedef struct part {
  char *topic;
  int32_t partition;
  int64_t main_start; /* next offset the action log holds (-1: none) */
  int64_t dlq_start;  /* next offset the dead-letter table holds (-1: none) */
  int64_t batch_end;  /* next offset after this partition's last record in the batch (-1) */
  int batch_dlq;      /* the batch holds dead-letter rows of this partition */
  int64_t position;   /* next offset to consume (-1: unknown) */
} part;

/* A batch: the rows and dead-letter rows of the records consumed since the last one was
 * handed to the committer, and, once handed over, the offsets its commits check and
 * record (see batch_offsets). */
typedef struct batch {
  tarn_sink_rows rows, dlq;
  int64_t *ts; /* Kafka timestamp (ms) of each row, for the lag histogram */
  size_t nts, tscap;
  int64_t records, bytes;
  uint64_t first_ns; /* when the batch's first record arrived */
  uint64_t poison[TARN_SINK_NREASONS];
  int dlq_done; /* the dead-letter part of this batch is committed */
  tarn_sink_offsets smain, sdlq, end, end_dlq;
} batch;

/* The committer thread's batch: idle (none), running (a commit attempt in progress),
 * done (its outcome waits for the consumer thread) or failed (retriable; retried at
 * retry_ns, the partitions paused meanwhile). */
typedef enum fly_state { FLY_IDLE, FLY_RUNNING, FLY_DONE, FLY_FAILED } fly_state;

typedef struct sink_metrics {
  tarn_metric *records, *poison, *batch_size, *commits, *commit_seconds, *lag_seconds,
      *consumer_lag, *commit_age, *assigned, *bytes;
} sink_metrics;

struct tarn_sink {
  tarn_sink_options o;
  char *brokers, *topic, *group, *table, *jsonl;
  rd_kafka_t *rk;
  rd_kafka_queue_t *queue;
  sink_target target;
  part *parts;
  size_t nparts, cap;
  /* The batch being filled (cur) and the one being committed (fly): consuming goes on
   * while the committer thread writes and commits the previous batch. One batch is in
   * flight at most, so commits keep their order and each starts from the offsets the
   * one before it made durable. */
  batch cur, fly;
  pthread_mutex_t fly_mu; /* guards fly_state and the outcome below */
  pthread_cond_t fly_cv;
  fly_state fly_state;
  int fly_rc, fly_fenced, fly_quit;
  tarn_error fly_err;
  pthread_t committer;
  int committer_on;
  /* retrying a failed commit */
  int paused;
  uint64_t retry_ns;
  int64_t backoff_ms;
  int fatal;
  tarn_error fatal_err;
  atomic_int stopping;
  /* health, read by HTTP threads */
  pthread_mutex_t mu;
  int assigned;
  uint64_t pending_since_ns; /* 0: nothing waits */
  int64_t last_commit_ms;    /* wall clock of the last successful commit (0: none) */
  char last_error[256];
  uint64_t gauges_ns;
  uint64_t now_ns; /* the monotonic clock, read once per loop iteration */
  sink_metrics m;
};

static uint64_t now_ns(void) { return tarn_clock_mono_ns(); }

/* ---- settings ---- */

const tarn_cfg_def tarn_sink_config[] = {
    {"sink", "brokers", TARN_CFG_STRING, "127.0.0.1:9092", 0, 0, NULL, "TARN_SINK_BROKERS",
     "brokers", "sink", 0, "Kafka bootstrap servers, HOST:PORT[,HOST:PORT...]"},
    {"sink", "topic", TARN_CFG_STRING, "ontology.actions.applied.v1", 0, 0, NULL, "TARN_SINK_TOPIC",
     "topic", "sink", 0, "topic of action-audit events"},
    {"sink", "group", TARN_CFG_STRING, "tarn-action-log-sink", 0, 0, NULL, "TARN_SINK_GROUP",
     "group", "sink", 0, "consumer group; also the sink's id in the tables' snapshot summaries"},
    {"sink", "jsonl", TARN_CFG_STRING, NULL, 0, 0, NULL, "TARN_SINK_JSONL", "jsonl", "sink", 0,
     "write JSON lines to this file instead of the tables (\"-\": stdout), for development"},
    {"sink", "batch_max_records", TARN_CFG_INT, "100000", 1, 10000000, NULL,
     "TARN_SINK_BATCH_MAX_RECORDS", "batch-max-records", "sink", 0,
     "a batch commits when it holds this many records ..."},
    {"sink", "batch_max_bytes", TARN_CFG_SIZE, "64MiB", 1024, (int64_t)1 << 30, NULL,
     "TARN_SINK_BATCH_MAX_BYTES", "batch-max-bytes", "sink", 0,
     "... or this many bytes of record keys and values ..."},
    {"sink", "batch_max_age", TARN_CFG_DURATION, "60s", 10, 24 * 3600 * 1000, NULL,
     "TARN_SINK_BATCH_MAX_AGE", "batch-max-age", "sink", 0,
     "... or when its first record is this old"},
    {"sink", "shutdown_grace", TARN_CFG_DURATION, "30s", 0, 3600 * 1000, NULL,
     "TARN_SINK_SHUTDOWN_GRACE", "shutdown-grace", "sink", 0,
     "on SIGTERM, time to commit what is held before exiting anyway (it stays in Kafka)"},
    {"sink", "health_max_wait", TARN_CFG_DURATION, "5m", 1000, 24 * 3600 * 1000, NULL,
     "TARN_SINK_HEALTH_MAX_WAIT", NULL, NULL, 0,
     "/healthz fails when records wait longer than this for a commit (> batch_max_age)"},
    {"kafka", "*", TARN_CFG_STRING, NULL, 0, 0, NULL, NULL, NULL, NULL, 0,
     "librdkafka consumer properties (sasl.*, ssl.*, session.timeout.ms, ...)"},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL, NULL, NULL, 0, NULL},
};

const tarn_cfg_alias tarn_sink_env_aliases[] = {
    {"KAFKA_BOOTSTRAP_SERVERS", "sink", "brokers", NULL},
    {"ACTION_LOG_SINK_BATCH_MAX_RECORDS", "sink", "batch_max_records", NULL},
    {"ACTION_LOG_SINK_BATCH_MAX_WAIT_SECONDS", "sink", "batch_max_age", "s"},
    {"ACTION_LOG_SINK_JSONL_PATH", "sink", "jsonl", NULL},
    {NULL, NULL, NULL, NULL},
};

/* ---- metrics and health ---- */

static void metrics_register(tarn_sink *s) {
  static const double sizes[] = {1, 10, 100, 1000, 10000, 100000, 1000000};
  static const double lag[] = {0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 900, 3600};
  tarn_metrics *r = s->o.metrics;
  if (r == NULL)
    return;
  s->m.records = tarn_metrics_counter(r, "action_log_sink_records_total",
                                      "records by outcome: committed (in the action log), "
                                      "poison (in the dead-letter table), duplicate (skipped: "
                                      "already committed), dropped (uncommitted when fenced "
                                      "or revoked; re-read)",
                                      "outcome");
  s->m.poison = tarn_metrics_counter(r, "action_log_sink_poison_records_total",
                                     "poison records committed to the dead-letter table", "reason");
  s->m.batch_size = tarn_metrics_histogram(r, "action_log_sink_batch_size_records",
                                           "records per committed batch", NULL, sizes, 7);
  s->m.commits = tarn_metrics_counter(r, "action_log_sink_commits_total",
                                      "table commits by table (main, dlq) and outcome (ok, "
                                      "already, fenced, error)",
                                      "table,outcome");
  s->m.commit_seconds =
      tarn_metrics_histogram(r, "action_log_sink_commit_duration_seconds",
                             "time to write and commit one table's part of a "
                             "batch",
                             "table", tarn_metrics_latency_buckets, tarn_metrics_latency_nbuckets);
  s->m.lag_seconds = tarn_metrics_histogram(r, "action_log_sink_lag_seconds",
                                            "from a record's Kafka timestamp to its commit in "
                                            "the action log",
                                            NULL, lag, 11);
  s->m.consumer_lag =
      tarn_metrics_gauge(r, "action_log_sink_consumer_lag_records",
                         "records behind the partition's high watermark", "topic,partition");
  s->m.commit_age = tarn_metrics_gauge(r, "action_log_sink_last_commit_age_seconds",
                                       "seconds since the last successful commit (since start "
                                       "before the first)",
                                       NULL);
  s->m.assigned = tarn_metrics_gauge(r, "action_log_sink_assigned_partitions",
                                     "partitions this sink consumes now", NULL);
  s->m.bytes = tarn_metrics_counter(r, "action_log_sink_bytes_total",
                                    "bytes of record keys and values committed", NULL);
}

static void count_records(tarn_sink *s, const char *outcome, double n) {
  const char *v[] = {outcome};
  if (n > 0)
    tarn_metric_add(s->m.records, v, n);
}

static void set_health(tarn_sink *s, int assigned, const char *error) {
  pthread_mutex_lock(&s->mu);
  if (assigned >= 0)
    s->assigned = assigned;
  if (error != NULL)
    snprintf(s->last_error, sizeof(s->last_error), "%s", error);
  pthread_mutex_unlock(&s->mu);
}

int tarn_sink_health(tarn_sink *s, char *why, size_t n) {
  uint64_t now = now_ns();
  int ok = 1;
  pthread_mutex_lock(&s->mu);
  if (!s->assigned) {
    snprintf(why, n, "the consumer has no partition assignment (joining the group)");
    ok = 0;
  } else if (s->pending_since_ns != 0 &&
             now - s->pending_since_ns > (uint64_t)s->o.health_age_ms * 1000000) {
    snprintf(why, n, "records have waited %llu s for a commit; last error: %s",
             (unsigned long long)((now - s->pending_since_ns) / 1000000000),
             s->last_error[0] ? s->last_error : "none");
    ok = 0;
  }
  pthread_mutex_unlock(&s->mu);
  return ok;
}

/* The gauges that change with time, refreshed at most once a second. */
static void update_gauges(tarn_sink *s, uint64_t now) {
  int64_t wall, last;
  size_t i;
  if (s->o.metrics == NULL || now - s->gauges_ns < 1000000000)
    return; /* (called per message: no clock read before this) */
  wall = tarn_clock_wall_us() / 1000;
  s->gauges_ns = now;
  pthread_mutex_lock(&s->mu);
  last = s->last_commit_ms;
  pthread_mutex_unlock(&s->mu);
  tarn_metric_set(s->m.commit_age, NULL, (double)(wall - last) / 1000.0);
  tarn_metric_set(s->m.assigned, NULL, (double)s->nparts);
  for (i = 0; i < s->nparts; i++) {
    int64_t lo, hi;
    char pb[16];
    const char *lv[2];
    part *p = &s->parts[i];
    if (rd_kafka_get_watermark_offsets(s->rk, p->topic, p->partition, &lo, &hi) !=
            RD_KAFKA_RESP_ERR_NO_ERROR ||
        hi < 0)
      continue;
    snprintf(pb, sizeof(pb), "%d", (int)p->partition);
    lv[0] = p->topic;
    lv[1] = pb;
    tarn_metric_set(s->m.consumer_lag, lv,
                    (double)(p->position >= 0 && hi > p->position ? hi - p->position
                             : p->position >= 0                   ? 0
                                                                  : hi - lo));
  }
}

/* ---- partitions ---- */

static part *find_part(tarn_sink *s, const char *topic, int32_t partition) {
  size_t i;
  for (i = 0; i < s->nparts; i++)
    if (s->parts[i].partition == partition && strcmp(s->parts[i].topic, topic) == 0)
      return &s->parts[i];
  return NULL;
}

static void parts_remove(tarn_sink *s, const char *topic, int32_t partition) {
  part *p = find_part(s, topic, partition);
  if (p == NULL)
    return;
  tarn_free(p->topic);
  *p = s->parts[--s->nparts];
}

static void parts_clear(tarn_sink *s) {
  while (s->nparts > 0)
    parts_remove(s, s->parts[0].topic, s->parts[0].partition);
}

static int parts_add(tarn_sink *s, const char *topic, int32_t partition, int64_t main_next,
                     int64_t dlq_next, tarn_error *err) {
  part *p = find_part(s, topic, partition);
  if (p == NULL) {
    if (TARN_GROW(s->parts, s->cap, s->nparts + 1, 16) != 0)
      return tarn_error_set(err, TARN_ENOMEM, "out of memory");
    p = &s->parts[s->nparts];
    p->topic = tarn_strdup(topic);
    if (p->topic == NULL)
      return tarn_error_set(err, TARN_ENOMEM, "out of memory");
    s->nparts++;
  }
  p->partition = partition;
  p->main_start = main_next;
  p->dlq_start = dlq_next;
  p->batch_end = -1;
  p->batch_dlq = 0;
  p->position = main_next;
  return 0;
}

/* ---- the batch ---- */

static void batch_init(batch *b) {
  memset(b, 0, sizeof(*b));
  tarn_sink_rows_init(&b->rows, TARN_AL_NCOLS);
  tarn_sink_rows_init(&b->dlq, TARN_DLQ_NCOLS);
}

static void batch_free(batch *b) {
  tarn_sink_rows_free(&b->rows);
  tarn_sink_rows_free(&b->dlq);
  tarn_free(b->ts);
  tarn_sink_offsets_free(&b->smain);
  tarn_sink_offsets_free(&b->sdlq);
  tarn_sink_offsets_free(&b->end);
  tarn_sink_offsets_free(&b->end_dlq);
}

/* Empties b for the next records, keeping its buffers. */
static void batch_clear(batch *b) {
  tarn_sink_rows_reset(&b->rows);
  tarn_sink_rows_reset(&b->dlq);
  b->nts = 0;
  b->records = 0;
  b->bytes = 0;
  b->first_ns = 0;
  b->dlq_done = 0;
  memset(b->poison, 0, sizeof(b->poison));
  tarn_sink_offsets_clear(&b->smain);
  tarn_sink_offsets_clear(&b->sdlq);
  tarn_sink_offsets_clear(&b->end);
  tarn_sink_offsets_clear(&b->end_dlq);
}

/* What /healthz measures: since when the oldest record not yet committed waits. */
static void update_pending(tarn_sink *s) {
  uint64_t since = s->fly.records > 0 ? s->fly.first_ns : s->cur.first_ns;
  pthread_mutex_lock(&s->mu);
  s->pending_since_ns = s->fly.records > 0 || s->cur.records > 0 ? since : 0;
  pthread_mutex_unlock(&s->mu);
}

/* The filling batch starts afresh: the partitions' batch ends with it. */
static void cur_clear(tarn_sink *s) {
  size_t i;
  batch_clear(&s->cur);
  for (i = 0; i < s->nparts; i++) {
    s->parts[i].batch_end = -1;
    s->parts[i].batch_dlq = 0;
  }
}

/* Forgets a batch; its records are re-read from the tables' offsets (fenced) or by the
 * partitions' next owner (revoked). */
static void batch_drop(tarn_sink *s, batch *b, const char *why) {
  if (b->records == 0)
    return;
  tarn_log_warn("sink dropped an uncommitted batch", "records=%lld why=%s", (long long)b->records,
                why);
  count_records(s, "dropped", (double)b->records);
  if (b == &s->cur)
    cur_clear(s);
  else
    batch_clear(b);
  update_pending(s);
}

static int add_dlq_row(tarn_sink *s, const rd_kafka_message_t *msg, const char *topic,
                       tarn_sink_reason reason, const char *detail, tarn_error *err) {
  tarn_sink_rows *dlq = &s->cur.dlq;
  tarn_sink_cell *c = tarn_sink_rows_add(dlq, err);
  rd_kafka_timestamp_type_t tst;
  int64_t ts = rd_kafka_message_timestamp(msg, &tst);
  const char *rname = tarn_sink_reason_name(reason);
  int rc;
  if (c == NULL)
    return TARN_ENOMEM;
  rc = tarn_sink_cell_bytes(dlq, &c[TARN_DLQ_TOPIC], topic, strlen(topic), err);
  tarn_sink_cell_int(&c[TARN_DLQ_PARTITION], msg->partition);
  tarn_sink_cell_int(&c[TARN_DLQ_OFFSET], msg->offset);
  if (rc == 0 && msg->key != NULL)
    rc = tarn_sink_cell_bytes(dlq, &c[TARN_DLQ_KEY], msg->key, msg->key_len, err);
  if (rc == 0 && msg->payload != NULL)
    rc = tarn_sink_cell_bytes(dlq, &c[TARN_DLQ_VALUE], msg->payload, msg->len, err);
  if (rc == 0)
    rc = tarn_sink_cell_bytes(dlq, &c[TARN_DLQ_REASON], rname, strlen(rname), err);
  if (rc == 0 && detail[0] != '\0')
    rc = tarn_sink_cell_bytes(dlq, &c[TARN_DLQ_DETAIL], detail, strlen(detail), err);
  if (ts >= 0 && tst != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE)
    tarn_sink_cell_int(&c[TARN_DLQ_KAFKA_TIMESTAMP], ts * 1000);
  tarn_sink_cell_int(&c[TARN_DLQ_SEEN_AT], tarn_clock_wall_us());
  return rc;
}

/* One record into the batch. Non-zero only for failures that end the sink. */
static int add_record(tarn_sink *s, const rd_kafka_message_t *msg, tarn_error *err) {
  const char *topic = rd_kafka_topic_name(msg->rkt);
  part *p = find_part(s, topic, msg->partition);
  batch *b = &s->cur;
  tarn_sink_reason reason;
  char detail[256];
  int rc;
  if (p == NULL)
    return 0; /* from a partition revoked since it was fetched */
  if (p->position >= 0 && msg->offset < p->position) {
    count_records(s, "duplicate", 1); /* fetched twice (a seek or resume): have it */
    return 0;
  }
  rc = tarn_sink_decode(&b->rows, msg->payload, msg->len, &reason, detail, sizeof(detail), err);
  if (rc == 0) {
    rd_kafka_timestamp_type_t tst;
    if (TARN_GROW(b->ts, b->tscap, b->nts + 1, 1024) != 0)
      return tarn_error_set(err, TARN_ENOMEM, "out of memory");
    b->ts[b->nts++] = rd_kafka_message_timestamp(msg, &tst);
  } else if (rc == TARN_EINVAL) {
    tarn_log_warn("sink poison record", "topic=%s partition=%d offset=%lld reason=%s detail=%s",
                  topic, (int)msg->partition, (long long)msg->offset, tarn_sink_reason_name(reason),
                  detail);
    if (p->dlq_start < 0 || msg->offset >= p->dlq_start) {
      rc = add_dlq_row(s, msg, topic, reason, detail, err);
      if (rc != 0)
        return rc;
      p->batch_dlq = 1;
      b->poison[reason]++;
    }
  } else {
    return rc;
  }
  if (b->records++ == 0) {
    b->first_ns = s->now_ns;
    update_pending(s);
  }
  b->bytes += (int64_t)(msg->len + msg->key_len);
  p->batch_end = msg->offset + 1;
  p->position = msg->offset + 1;
  return 0;
}

static int batch_due(const tarn_sink *s, uint64_t now) {
  const batch *b = &s->cur;
  return b->records > 0 && (b->records >= s->o.max_records || b->bytes >= s->o.max_bytes ||
                            tarn_sink_rows_bytes(&b->rows) + tarn_sink_rows_bytes(&b->dlq) >=
                                (size_t)s->o.max_bytes * 2 ||
                            now - b->first_ns >= (uint64_t)s->o.max_age_ms * 1000000);
}

/* ---- committing ---- */

/* The offsets the filling batch's commits check (start: what the tables hold for its
 * partitions, as far as this consumer knows) and record (end). */
static int batch_offsets(tarn_sink *s, tarn_error *err) {
  batch *b = &s->cur;
  tarn_sink_offsets *start_main = &b->smain, *start_dlq = &b->sdlq, *end = &b->end,
                    *end_dlq = &b->end_dlq;
  size_t i;
  int rc = 0;
  for (i = 0; rc == 0 && i < s->nparts; i++) {
    const part *p = &s->parts[i];
    if (p->batch_end < 0)
      continue;
    rc = tarn_sink_offsets_set(end, p->topic, p->partition, p->batch_end, err);
    if (rc == 0)
      rc = tarn_sink_offsets_set(start_main, p->topic, p->partition, p->main_start, err);
    /* The dead-letter table records only the partitions whose poison this batch holds:
     * for them the batch ends past the table's offset. Another partition's may be behind
     * it (its poison is in the table already, from a batch whose action-log part never
     * landed): recording it would move the offset back and write that poison again. */
    if (rc == 0 && p->batch_dlq)
      rc = tarn_sink_offsets_set(start_dlq, p->topic, p->partition, p->dlq_start, err);
    if (rc == 0 && p->batch_dlq)
      rc = tarn_sink_offsets_set(end_dlq, p->topic, p->partition, p->batch_end, err);
  }
  return rc;
}

static void offsets_text(const tarn_sink_offsets *end, char *dst, size_t n) {
  size_t i, at = 0;
  dst[0] = '\0';
  for (i = 0; i < end->n && at + 1 < n; i++) {
    int w = snprintf(dst + at, n - at, "%s%s[%d]=%lld", i ? "," : "", end->v[i].topic,
                     (int)end->v[i].partition, (long long)end->v[i].next);
    if (w < 0)
      break;
    at += (size_t)w;
  }
}

/* Commits one table's part of the batch, with its metrics and log line. */
static int commit_kind(tarn_sink *s, tarn_al_table_kind kind, const tarn_sink_rows *rows,
                       const tarn_sink_offsets *start, const tarn_sink_offsets *end, int *fenced,
                       tarn_error *err) {
  const char *tname = kind == TARN_AL_MAIN ? "main" : "dlq";
  const char *lv[2] = {tname, "ok"};
  tarn_sink_commit res;
  uint64_t t0 = now_ns();
  double secs;
  char offs[512];
  int rc = s->target.commit(s->target.impl, kind, rows, start, end, &res, fenced, err);
  secs = (double)(now_ns() - t0) / 1e9;
  lv[1] = rc == 0 ? (res.committed ? "ok" : "already") : *fenced ? "fenced" : "error";
  tarn_metric_add(s->m.commits, lv, 1);
  tarn_metric_observe(s->m.commit_seconds, lv, secs);
  if (rc != 0)
    return rc;
  offsets_text(end, offs, sizeof(offs));
  tarn_log_info("sink commit",
                "table=%s records=%zu bytes=%lld files=%zu offsets=%s duration_ms=%.1f "
                "attempts=%d snapshot=%lld committed=%d",
                s->target.name(s->target.impl, kind), rows->nrows, (long long)res.bytes, res.files,
                offs, secs * 1000, res.attempts, (long long)res.snapshot_id, res.committed);
  return 0;
}

/* Kafka's committed offsets follow the tables, for lag monitoring only. */
static void commit_kafka(tarn_sink *s, const tarn_sink_offsets *end, int async) {
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)end->n);
  rd_kafka_resp_err_t e;
  size_t i;
  if (l == NULL || end->n == 0) {
    rd_kafka_topic_partition_list_destroy(l);
    return;
  }
  for (i = 0; i < end->n; i++)
    rd_kafka_topic_partition_list_add(l, end->v[i].topic, end->v[i].partition)->offset =
        end->v[i].next;
  e = rd_kafka_commit(s->rk, l, async);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
    tarn_log_warn("sink kafka offset commit failed (the tables hold the offsets)", "error=%s",
                  rd_kafka_err2str(e));
  rd_kafka_topic_partition_list_destroy(l);
}

/* A committed batch: the partitions' table offsets move to its ends, then metrics and
 * Kafka's committed offsets follow. */
static void after_commit(tarn_sink *s, batch *b) {
  int64_t now_ms = tarn_clock_wall_us() / 1000;
  size_t i, r;
  for (i = 0; i < b->end_dlq.n; i++) {
    part *p = find_part(s, b->end_dlq.v[i].topic, b->end_dlq.v[i].partition);
    if (p != NULL)
      p->dlq_start = b->end_dlq.v[i].next;
  }
  for (i = 0; b->rows.nrows > 0 && i < b->end.n; i++) {
    part *p = find_part(s, b->end.v[i].topic, b->end.v[i].partition);
    if (p != NULL)
      p->main_start = b->end.v[i].next;
  }
  count_records(s, "committed", (double)b->rows.nrows);
  count_records(s, "poison", (double)b->dlq.nrows);
  for (r = 0; r < TARN_SINK_NREASONS; r++) {
    const char *lv[] = {tarn_sink_reason_name((tarn_sink_reason)r)};
    if (b->poison[r] > 0)
      tarn_metric_add(s->m.poison, lv, (double)b->poison[r]);
  }
  tarn_metric_observe(s->m.batch_size, NULL, (double)b->records);
  tarn_metric_add(s->m.bytes, NULL, (double)b->bytes);
  for (i = 0; s->m.lag_seconds != NULL && i < b->nts; i++)
    if (b->ts[i] > 0)
      tarn_metric_observe(s->m.lag_seconds, NULL, (double)(now_ms - b->ts[i]) / 1000.0);
  commit_kafka(s, &b->end, 1);
  pthread_mutex_lock(&s->mu);
  s->last_commit_ms = now_ms;
  s->last_error[0] = '\0';
  pthread_mutex_unlock(&s->mu);
  batch_clear(b);
}

static int reseek(tarn_sink *s, tarn_error *err);
static void pause_all(tarn_sink *s, int pause);

/* 1 for failures a later attempt may mend: the batch is kept and retried (the records
 * are safe in Kafka meanwhile, and /healthz says so once they wait too long). Only what
 * no retry can change ends the sink: a table whose layout is not the sink's, a setting,
 * a bug. */
static int retriable(int code) {
  return code != TARN_ESCHEMA && code != TARN_ECONFIG && code != TARN_EINTERNAL &&
         code != TARN_EUNSUPPORTED;
}

/* One attempt at a batch: dead-letter table, then action log. */
static int commit_batch(tarn_sink *s, batch *b, int *fenced, tarn_error *err) {
  int rc = 0;
  if (b->dlq.nrows > 0 && !b->dlq_done) {
    rc = commit_kind(s, TARN_AL_DLQ, &b->dlq, &b->sdlq, &b->end_dlq, fenced, err);
    b->dlq_done = rc == 0;
  }
  if (rc == 0 && b->rows.nrows > 0)
    rc = commit_kind(s, TARN_AL_MAIN, &b->rows, &b->smain, &b->end, fenced, err);
  return rc;
}

/* The committer thread: one attempt per hand-off; the consumer thread judges the outcome
 * (fly_settle), so that the partitions, Kafka and retries stay with one thread. */
static void *committer_main(void *arg) {
  tarn_sink *s = arg;
  pthread_mutex_lock(&s->fly_mu);
  for (;;) {
    tarn_error err;
    int fenced = 0, rc;
    while (s->fly_state != FLY_RUNNING && !s->fly_quit)
      pthread_cond_wait(&s->fly_cv, &s->fly_mu);
    if (s->fly_state != FLY_RUNNING)
      break;
    pthread_mutex_unlock(&s->fly_mu);
    tarn_error_clear(&err);
    rc = commit_batch(s, &s->fly, &fenced, &err);
    pthread_mutex_lock(&s->fly_mu);
    s->fly_rc = rc;
    s->fly_fenced = fenced;
    s->fly_err = err;
    s->fly_state = FLY_DONE;
    pthread_cond_broadcast(&s->fly_cv);
    rd_kafka_queue_yield(s->queue); /* the consumer thread may be waiting in a poll */
  }
  pthread_mutex_unlock(&s->fly_mu);
  return NULL;
}

static fly_state fly_get(tarn_sink *s) {
  fly_state st;
  pthread_mutex_lock(&s->fly_mu);
  st = s->fly_state;
  pthread_mutex_unlock(&s->fly_mu);
  return st;
}

static void fly_set(tarn_sink *s, fly_state st) {
  pthread_mutex_lock(&s->fly_mu);
  s->fly_state = st;
  pthread_cond_broadcast(&s->fly_cv);
  pthread_mutex_unlock(&s->fly_mu);
}

/* Waits for the attempt in progress, if any. */
static void fly_wait(tarn_sink *s) {
  pthread_mutex_lock(&s->fly_mu);
  while (s->fly_state == FLY_RUNNING)
    pthread_cond_wait(&s->fly_cv, &s->fly_mu);
  pthread_mutex_unlock(&s->fly_mu);
}

/* Hands the filling batch to the committer, which must be idle. */
static int fly_start(tarn_sink *s, tarn_error *err) {
  batch t;
  int rc = batch_offsets(s, err);
  if (rc != 0)
    return rc;
  t = s->fly; /* the swap keeps both batches' buffers for reuse */
  s->fly = s->cur;
  s->cur = t;
  cur_clear(s);
  fly_set(s, FLY_RUNNING);
  return 0;
}

/* Drops both batches: the one in flight was fenced or revoked, and the filling one
 * starts from its ends. */
static void drop_all(tarn_sink *s, const char *why) {
  batch_drop(s, &s->fly, why);
  batch_drop(s, &s->cur, why);
  fly_set(s, FLY_IDLE);
  if (s->paused)
    pause_all(s, 0);
  s->paused = 0;
}

/*
 * Judges a finished attempt. Committed: the offsets move on, the partitions resume if
 * they were paused. Fenced: another consumer committed these offsets; both batches are
 * dropped and every partition re-sought to the tables' offsets. A retriable failure: the
 * batch is kept, the partitions paused and a retry scheduled with backoff. Anything
 * else is returned: it ends the sink.
 */
static int fly_settle(tarn_sink *s, tarn_error *err) {
  int rc, fenced;
  pthread_mutex_lock(&s->fly_mu);
  if (s->fly_state != FLY_DONE) {
    pthread_mutex_unlock(&s->fly_mu);
    return 0;
  }
  rc = s->fly_rc;
  fenced = s->fly_fenced;
  if (rc != 0)
    *err = s->fly_err;
  pthread_mutex_unlock(&s->fly_mu);
  if (rc == 0) {
    after_commit(s, &s->fly);
    fly_set(s, FLY_IDLE);
    update_pending(s);
    s->backoff_ms = 0;
    if (s->paused)
      pause_all(s, 0);
    s->paused = 0;
    return 0;
  }
  if (fenced) {
    tarn_log_warn("sink fenced", "error=%s", tarn_error_message(err));
    drop_all(s, "fenced");
    return atomic_load(&s->stopping) ? 0 : reseek(s, err); /* stopping: nothing to re-read */
  }
  if (!retriable(rc)) {
    fly_set(s, FLY_IDLE);
    return rc;
  }
  s->backoff_ms = s->backoff_ms == 0 ? 500 : s->backoff_ms * 2;
  if (s->backoff_ms > 30000)
    s->backoff_ms = 30000;
  s->retry_ns = now_ns() + (uint64_t)s->backoff_ms * 1000000;
  tarn_log_warn("sink commit failed; batch kept, retrying",
                "records=%lld retry_in_ms=%lld error=%s detail=%s", (long long)s->fly.records,
                (long long)s->backoff_ms, tarn_err_name(rc), tarn_error_message(err));
  set_health(s, -1, tarn_error_message(err));
  fly_set(s, FLY_FAILED);
  if (!s->paused)
    pause_all(s, 1);
  s->paused = 1;
  return 0;
}

/* Waits for the committer and judges its outcome: after it, the committer is idle or
 * holds a failed batch, and the tables are the consumer thread's to read. */
static int fly_drain(tarn_sink *s, tarn_error *err) {
  fly_wait(s);
  return fly_settle(s, err);
}

/* Commits everything held now, one attempt per batch, waiting. 0 and nothing held when it
 * all landed; a batch that failed stays held (fly_get: FLY_FAILED). */
static int flush_now(tarn_sink *s, tarn_error *err) {
  int rc = fly_drain(s, err);
  if (rc == 0 && fly_get(s) == FLY_IDLE && s->cur.records > 0) {
    rc = fly_start(s, err);
    if (rc == 0)
      rc = fly_drain(s, err);
  }
  return rc;
}

/* ---- assignment ---- */

static rd_kafka_topic_partition_list_t *assignment_list(tarn_sink *s) {
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)s->nparts + 1);
  size_t i;
  for (i = 0; l != NULL && i < s->nparts; i++)
    rd_kafka_topic_partition_list_add(l, s->parts[i].topic, s->parts[i].partition)->offset =
        s->parts[i].main_start >= 0 ? s->parts[i].main_start : RD_KAFKA_OFFSET_BEGINNING;
  return l;
}

static void pause_all(tarn_sink *s, int pause) {
  rd_kafka_topic_partition_list_t *l = assignment_list(s);
  if (l == NULL)
    return;
  if (pause)
    rd_kafka_pause_partitions(s->rk, l);
  else
    rd_kafka_resume_partitions(s->rk, l);
  rd_kafka_topic_partition_list_destroy(l);
}

/* Reads the offsets the target holds, retrying while the catalog or store is away. */
static int read_offsets(tarn_sink *s, tarn_sink_offsets *mn, tarn_sink_offsets *dn, int *known,
                        tarn_error *err) {
  int64_t wait_ms = 250;
  int attempt, rc = 0;
  for (attempt = 0; attempt < 12 && !atomic_load(&s->stopping); attempt++) {
    struct timespec ts;
    rc = s->target.offsets(s->target.impl, mn, dn, known, err);
    if (rc == 0 || !retriable(rc))
      return rc;
    tarn_log_warn("sink cannot read the tables' offsets; retrying", "error=%s retry_in_ms=%lld",
                  tarn_error_message(err), (long long)wait_ms);
    ts.tv_sec = wait_ms / 1000;
    ts.tv_nsec = (wait_ms % 1000) * 1000000;
    nanosleep(&ts, NULL);
    wait_ms = wait_ms * 2 > 5000 ? 5000 : wait_ms * 2;
  }
  return rc != 0 ? rc : tarn_error_set(err, TARN_ETIMEDOUT, "stopping");
}

/* Takes the partitions of `l`, at the offsets the tables hold, and sets each one's offset
 * in l for the assign call. */
static int take_parts(tarn_sink *s, rd_kafka_topic_partition_list_t *l, tarn_error *err) {
  tarn_sink_offsets mn = {0}, dn = {0};
  int known = 1, i, rc = read_offsets(s, &mn, &dn, &known, err);
  for (i = 0; rc == 0 && i < l->cnt; i++) {
    rd_kafka_topic_partition_t *tp = &l->elems[i];
    int64_t m = tarn_sink_offsets_get(&mn, tp->topic, tp->partition);
    int64_t d = tarn_sink_offsets_get(&dn, tp->topic, tp->partition);
    rc = parts_add(s, tp->topic, tp->partition, m, d, err);
    tp->offset = m >= 0 ? m : known ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_STORED;
    tarn_log_info("sink partition assigned", "topic=%s partition=%d offset=%lld dlq_offset=%lld",
                  tp->topic, (int)tp->partition, (long long)m, (long long)d);
  }
  tarn_sink_offsets_free(&mn);
  tarn_sink_offsets_free(&dn);
  return rc;
}

/* After a fence: every partition back to the offsets the tables hold now. */
static int reseek(tarn_sink *s, tarn_error *err) {
  rd_kafka_topic_partition_list_t *l = assignment_list(s);
  rd_kafka_error_t *e;
  int rc;
  if (l == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  rc = take_parts(s, l, err);
  if (rc == 0 && (e = rd_kafka_seek_partitions(s->rk, l, 10000)) != NULL) {
    rc = tarn_error_set(err, TARN_ENETWORK, "seek after fence: %s", rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
  }
  rd_kafka_topic_partition_list_destroy(l);
  return rc;
}

static void fail(tarn_sink *s, int code, const tarn_error *err) {
  if (s->fatal)
    return;
  s->fatal = code;
  s->fatal_err = *err;
  atomic_store(&s->stopping, 1);
  set_health(s, 0, tarn_error_message(err));
  if (s->queue != NULL)
    rd_kafka_queue_yield(s->queue);
}

static void on_revoke(tarn_sink *s, rd_kafka_topic_partition_list_t *l, int cooperative) {
  tarn_error err;
  int i, rc;
  tarn_error_clear(&err);
  /* rows of the partitions leaving are committed now, or dropped for the next owner */
  rc = fly_get(s) == FLY_FAILED ? fly_drain(s, &err) : flush_now(s, &err);
  if (rc != 0 && retriable(rc) == 0)
    fail(s, rc, &err);
  if (rc != 0 || fly_get(s) == FLY_FAILED)
    drop_all(s, "revoked before its commit succeeded");
  for (i = 0; i < l->cnt; i++) {
    tarn_log_info("sink partition revoked", "topic=%s partition=%d", l->elems[i].topic,
                  (int)l->elems[i].partition);
    parts_remove(s, l->elems[i].topic, l->elems[i].partition);
  }
  if (cooperative) {
    rd_kafka_error_t *e = rd_kafka_incremental_unassign(s->rk, l);
    if (e != NULL)
      rd_kafka_error_destroy(e);
  } else {
    parts_clear(s);
    rd_kafka_assign(s->rk, NULL);
  }
  set_health(s, s->nparts > 0 || cooperative ? -1 : 0, NULL);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t code,
                         rd_kafka_topic_partition_list_t *l, void *opaque) {
  tarn_sink *s = opaque;
  int cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
  tarn_error err;
  tarn_error_clear(&err);
  if (code == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    /* the committer first: the offsets are read from tables it may be committing to */
    int rc = fly_drain(s, &err);
    if (rc == 0 && !cooperative)
      parts_clear(s);
    if (rc == 0)
      rc = take_parts(s, l, &err);
    if (rc != 0) {
      fail(s, rc, &err);
      rd_kafka_assign(rk, NULL);
      return;
    }
    if (cooperative) {
      rd_kafka_error_t *e = rd_kafka_incremental_assign(rk, l);
      if (e != NULL)
        rd_kafka_error_destroy(e);
    } else {
      rd_kafka_assign(rk, l);
    }
    set_health(s, 1, NULL);
  } else {
    on_revoke(s, l, cooperative);
  }
}

/* ---- the consumer ---- */

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
  (void)rk;
  tarn_log(level <= 3   ? TARN_LOG_ERROR
           : level <= 4 ? TARN_LOG_WARN
           : level <= 6 ? TARN_LOG_INFO
                        : TARN_LOG_DEBUG,
           "librdkafka", "facility=%s detail=%s", fac, buf);
}

static void on_error(rd_kafka_t *rk, int code, const char *reason, void *opaque) {
  (void)rk;
  (void)opaque;
  tarn_log_warn("kafka error", "error=%s detail=%s", rd_kafka_err2name((rd_kafka_resp_err_t)code),
                reason);
}

static int conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, const char *origin,
                    tarn_error *err) {
  char errstr[512];
  if (rd_kafka_conf_set(conf, key, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
    return tarn_error_set(err, TARN_ECONFIG, "%s %s: %s", origin, key, errstr);
  return 0;
}

static int make_conf(tarn_sink *s, rd_kafka_conf_t **out, tarn_error *err) {
  static const char *const defaults[][2] = {
      {"enable.auto.commit", "false"},       {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "earliest"},     {"session.timeout.ms", "10000"},
      {"enable.partition.eof", "false"},     {"client.id", "tarn-sink"},
      {"isolation.level", "read_committed"},
  };
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  char value[16], qkb[32];
  size_t i, n = sizeof(value);
  int rc = 0;
  for (i = 0; rc == 0 && i < sizeof(defaults) / sizeof(defaults[0]); i++)
    rc = conf_set(conf, defaults[i][0], defaults[i][1], "default", err);
  if (rc == 0)
    rc = conf_set(conf, "bootstrap.servers", s->brokers, "[sink] brokers", err);
  if (rc == 0)
    rc = conf_set(conf, "group.id", s->group, "[sink] group", err);
  /* Prefetch up to two batches' worth: enough that the next batch is fetched while one is
   * written and committed (a fetch round trip then never stalls the consumer), bounded
   * by the batch size and not by the backlog (librdkafka 2 keeps one queue). */
  snprintf(qkb, sizeof(qkb), "%lld", (long long)(s->o.max_bytes * 2 / 1024));
  if (rc == 0)
    rc = conf_set(conf, "queued.max.messages.kbytes", qkb, "[sink] batch_max_bytes x 2", err);
  for (i = 0; rc == 0 && i < s->o.nkafka; i++)
    rc = conf_set(conf, s->o.kafka_keys[i], s->o.kafka_values[i], "[kafka]", err);
  if (rc == 0 && (rd_kafka_conf_get(conf, "enable.auto.commit", value, &n) != RD_KAFKA_CONF_OK ||
                  strcmp(value, "false") != 0))
    rc = tarn_error_set(err, TARN_ECONFIG,
                        "[kafka] enable.auto.commit: must stay false (the sink commits offsets "
                        "after its table commits)");
  if (rc != 0) {
    rd_kafka_conf_destroy(conf);
    return rc;
  }
  rd_kafka_conf_set_log_cb(conf, on_log);
  rd_kafka_conf_set_error_cb(conf, on_error);
  rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
  rd_kafka_conf_set_opaque(conf, s);
  *out = conf;
  return 0;
}

static char *dup_or_null(const char *s) { return s != NULL ? tarn_strdup(s) : NULL; }

static int create_consumer(tarn_sink *s, tarn_error *err) {
  rd_kafka_conf_t *conf = NULL;
  char errstr[512];
  int rc = make_conf(s, &conf, err);
  if (rc != 0)
    return rc;
  s->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
  if (s->rk == NULL) {
    rd_kafka_conf_destroy(conf);
    return tarn_error_set(err, TARN_ECONFIG, "kafka consumer: %s", errstr);
  }
  rd_kafka_poll_set_consumer(s->rk);
  s->queue = rd_kafka_queue_get_consumer(s->rk);
  return 0;
}

int tarn_sink_create(tarn_sink **out, const tarn_sink_options *o, tarn_error *err) {
  tarn_sink *s = tarn_calloc(1, sizeof(*s));
  char ns[128], name[128];
  int rc;
  *out = NULL;
  if (s == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  s->o = *o;
  pthread_mutex_init(&s->mu, NULL);
  atomic_init(&s->stopping, 0);
  pthread_mutex_init(&s->fly_mu, NULL);
  pthread_cond_init(&s->fly_cv, NULL);
  batch_init(&s->cur);
  batch_init(&s->fly);
  s->brokers = dup_or_null(o->brokers);
  s->topic = dup_or_null(o->topic);
  s->group = dup_or_null(o->group);
  s->table = dup_or_null(o->table);
  s->jsonl = dup_or_null(o->jsonl);
  s->last_commit_ms = tarn_clock_wall_us() / 1000;
  rc = s->brokers && s->topic && s->group && s->table && (o->jsonl == NULL || s->jsonl)
           ? 0
           : tarn_error_set(err, TARN_ENOMEM, "out of memory");
  if (rc == 0 && o->health_age_ms <= o->max_age_ms)
    rc = tarn_error_set(err, TARN_ECONFIG,
                        "[sink] health_max_wait (%lld ms) must be longer than batch_max_age "
                        "(%lld ms)",
                        (long long)o->health_age_ms, (long long)o->max_age_ms);
  /* a table name that cannot be one is a setting's fault: exit 2, before anything starts */
  if (rc == 0 && tarn_action_log_ident(s->table, ns, sizeof(ns), name, sizeof(name), err) != 0) {
    rc = TARN_ECONFIG;
    if (err != NULL)
      err->code = TARN_ECONFIG;
  }
  if (rc == 0)
    rc = create_consumer(s, err); /* first: a bad property fails before any table is made */
  if (rc == 0)
    rc = s->jsonl != NULL ? tarn__sink_jsonl_open(s->jsonl, &s->target, err)
                          : tarn__sink_table_target(o->lake, s->table, s->group, &s->target, err);
  if (rc != 0) {
    tarn_sink_destroy(s);
    return rc;
  }
  metrics_register(s);
  *out = s;
  return 0;
}

void tarn_sink_stop(tarn_sink *s) {
  atomic_store(&s->stopping, 1);
  if (s->queue != NULL)
    rd_kafka_queue_yield(s->queue);
}

static int subscribe(tarn_sink *s, tarn_error *err) {
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
  rd_kafka_resp_err_t e;
  rd_kafka_topic_partition_list_add(l, s->topic, RD_KAFKA_PARTITION_UA);
  e = rd_kafka_subscribe(s->rk, l);
  rd_kafka_topic_partition_list_destroy(l);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
    return tarn_error_set(err, TARN_ECONFIG, "subscribe to %s: %s", s->topic, rd_kafka_err2str(e));
  return 0;
}

/* How long the next poll may block: until the batch is due or a retry is, at most 1 s
 * (the gauges' refresh). An idle sink wakes once a second and uses no CPU otherwise. */
static int poll_timeout(const tarn_sink *s, uint64_t now) {
  uint64_t until = now + 1000000000ull;
  if (s->paused && s->retry_ns < until)
    until = s->retry_ns;
  else if (!s->paused && s->cur.records > 0 &&
           s->cur.first_ns + (uint64_t)s->o.max_age_ms * 1000000 < until)
    until = s->cur.first_ns + (uint64_t)s->o.max_age_ms * 1000000;
  return until <= now ? 0 : (int)((until - now + 999999) / 1000000);
}

static int handle_message(tarn_sink *s, rd_kafka_message_t *msg, tarn_error *err) {
  if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR)
    return add_record(s, msg, err);
  if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
    return 0;
  if (rd_kafka_fatal_error(s->rk, NULL, 0) != RD_KAFKA_RESP_ERR_NO_ERROR)
    return tarn_error_set(err, TARN_ENETWORK, "kafka: fatal: %s", rd_kafka_message_errstr(msg));
  tarn_log_warn("kafka consumer error", "error=%s detail=%s", rd_kafka_err2name(msg->err),
                rd_kafka_message_errstr(msg));
  return 0;
}

static int loop_once(tarn_sink *s, tarn_error *err) {
  rd_kafka_message_t *msg;
  uint64_t now = s->now_ns; /* the clock as the last iteration ended */
  int rc = 0;
  msg = rd_kafka_consumer_poll(s->rk, poll_timeout(s, now));
  now = s->now_ns = now_ns();
  if (msg != NULL) {
    rc = handle_message(s, msg, err);
    rd_kafka_message_destroy(msg);
    if (rc != 0)
      return rc;
  }
  rc = fly_settle(s, err); /* a commit that finished meanwhile */
  if (rc == 0 && fly_get(s) == FLY_FAILED && now >= s->retry_ns)
    fly_set(s, FLY_RUNNING); /* the retry, in the background too */
  if (rc == 0 && batch_due(s, now)) {
    if (fly_get(s) == FLY_RUNNING) /* one batch in flight: this one waits for it */
      rc = fly_drain(s, err);
    if (rc == 0 && fly_get(s) == FLY_IDLE)
      rc = fly_start(s, err);
  }
  update_gauges(s, now);
  return rc;
}

/* After stop: what the batches hold is committed, retrying until it is (the command's
 * grace period bounds the wait). */
static int final_flush(tarn_sink *s, tarn_error *err) {
  int rc = 0;
  while (rc == 0 && !s->fatal) {
    rc = flush_now(s, err);
    if (rc != 0 || fly_get(s) != FLY_FAILED)
      break;
    while (now_ns() < s->retry_ns) {
      struct timespec ts = {0, 50000000};
      nanosleep(&ts, NULL);
    }
    fly_set(s, FLY_RUNNING);
  }
  return rc;
}

int tarn_sink_run(tarn_sink *s, tarn_error *err) {
  int rc = subscribe(s, err);
  s->now_ns = now_ns();
  if (rc == 0) {
    if (pthread_create(&s->committer, NULL, committer_main, s) != 0)
      rc = tarn_error_set(err, TARN_ENOMEM, "cannot start the committer thread");
    else
      s->committer_on = 1;
  }
  tarn_log_info("sink started", "topic=%s group=%s target=%s brokers=%s", s->topic, s->group,
                s->target.name(s->target.impl, TARN_AL_MAIN), s->brokers);
  while (rc == 0 && !atomic_load(&s->stopping))
    rc = loop_once(s, err);
  if (rc != 0)
    fail(s, rc, err);
  if (!s->fatal) {
    tarn_log_info("sink stopping: committing what it holds", "records=%lld",
                  (long long)(s->fly.records + s->cur.records));
    rc = final_flush(s, err);
    if (rc != 0)
      fail(s, rc, err);
  }
  fly_wait(s);
  if (s->fatal) /* nothing more may be committed: leave the rest to Kafka */
    drop_all(s, "the sink is failing");
  rd_kafka_consumer_close(s->rk); /* leaves the group; a revoke commits nothing more */
  set_health(s, 0, NULL);
  if (s->fatal) {
    *err = s->fatal_err;
    return s->fatal;
  }
  return 0;
}

void tarn_sink_destroy(tarn_sink *s) {
  if (s == NULL)
    return;
  if (s->queue != NULL)
    rd_kafka_queue_destroy(s->queue);
  if (s->rk != NULL)
    rd_kafka_destroy(s->rk);
  if (s->target.close != NULL)
    s->target.close(s->target.impl);
  if (s->committer_on) {
    fly_wait(s);
    pthread_mutex_lock(&s->fly_mu);
    s->fly_quit = 1;
    pthread_cond_broadcast(&s->fly_cv);
    pthread_mutex_unlock(&s->fly_mu);
    pthread_join(s->committer, NULL);
  }
  parts_clear(s);
  tarn_free(s->parts);
  batch_free(&s->cur);
  batch_free(&s->fly);
  tarn_free(s->brokers);
  tarn_free(s->topic);
  tarn_free(s->group);
  tarn_free(s->table);
  tarn_free(s->jsonl);
  pthread_mutex_destroy(&s->mu);
  pthread_mutex_destroy(&s->fly_mu);
  pthread_cond_destroy(&s->fly_cv);
  tarn_free(s);
}
