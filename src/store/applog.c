/* applog.c - the append log: buffered JSON-line records, write-once batch files, compaction. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/hash.h"
#include "base/log.h"
#include "store/buckets.h"

/*
 * Batch files are "<prefix><seq>.jsonl" (one flush) and "<prefix><lo>-<hi>.jsonl" (a
 * compaction of the files with sequence numbers lo..hi); sequence numbers are 20 decimal
 * digits, so byte order is numeric order, and '-' sorts before '.', so a compacted file
 * sorts right before the first file it replaces. The invariants are in README.md.
 */

#define SEQ_DIGITS 20
#define SUFFIX ".jsonl"
#define SUFFIX_LEN (sizeof(SUFFIX) - 1)
#define BATCH_MAX_BYTES (16u << 20)    /* one flushed batch file */
#define BUFFERED_MAX_BYTES (64u << 20) /* everything buffered */
#define READ_MAX_BYTES (256u << 20)    /* one batch file read back */
#define COMPACT_DEFAULT_BYTES (64u << 20)
#define RETRY_MIN_MS 1000 /* after a failed flush, wait before the next */

typedef struct rec_line {
  char *text; /* one serialised record, no newline */
  size_t len;
} rec_line;

struct tarn_applog {
  tarn_store *st;
  char *prefix;
  size_t flush_records, max_buffered, max_record;
  int64_t flush_age_ms;

  pthread_mutex_t mu; /* guards the buffer and the thread flags below */
  pthread_cond_t cond;
  rec_line *recs;
  size_t n, cap, bytes;
  size_t inflight;      /* records taken out by a flush that is writing them */
  uint64_t oldest_ns;   /* monotonic time the oldest buffered record arrived */
  uint64_t retry_at_ns; /* no automatic flush before this (after a failure) */
  int stop, thread_on, failing;
  pthread_t thread;

  pthread_mutex_t flush_mu; /* serialises flushes and compactions; guards next_seq */
  uint64_t next_seq;
};

/* ---- names ---- */

static int parse_seq(const char *s, uint64_t *out) {
  uint64_t v = 0;
  size_t i;
  for (i = 0; i < SEQ_DIGITS; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    if (v > (UINT64_MAX - 9) / 10)
      return -1;
    v = v * 10 + (uint64_t)(s[i] - '0');
  }
  *out = v;
  return 0;
}

/* Parses the part of a key after the prefix. 0 and the range, or -1: not a batch file. */
static int parse_name(const char *name, uint64_t *lo, uint64_t *hi) {
  size_t len = strlen(name);
  if (len == SEQ_DIGITS + SUFFIX_LEN && strcmp(name + SEQ_DIGITS, SUFFIX) == 0) {
    if (parse_seq(name, lo) != 0 || *lo == 0)
      return -1;
    *hi = *lo;
    return 0;
  }
  if (len == 2 * SEQ_DIGITS + 1 + SUFFIX_LEN && name[SEQ_DIGITS] == '-' &&
      strcmp(name + 2 * SEQ_DIGITS + 1, SUFFIX) == 0) {
    if (parse_seq(name, lo) != 0 || parse_seq(name + SEQ_DIGITS + 1, hi) != 0 || *lo == 0 ||
        *hi < *lo)
      return -1;
    return 0;
  }
  return -1;
}

static void batch_key(char *dst, size_t n, const char *prefix, uint64_t lo, uint64_t hi) {
  if (lo == hi)
    snprintf(dst, n, "%s%020" PRIu64 SUFFIX, prefix, lo);
  else
    snprintf(dst, n, "%s%020" PRIu64 "-%020" PRIu64 SUFFIX, prefix, lo, hi);
}

/* ---- listing ---- */

typedef struct batch_file {
  char *key;
  uint64_t lo, hi, size;
  int superseded; /* a wider file covers its range */
} batch_file;

typedef struct batch_set {
  batch_file *f;
  size_t n, cap;
} batch_set;

static void batch_set_free(batch_set *bs) {
  size_t i;
  for (i = 0; i < bs->n; i++)
    tarn_free(bs->f[i].key);
  tarn_free(bs->f);
  memset(bs, 0, sizeof(*bs));
}

static int batch_cmp(const void *a, const void *b) {
  const batch_file *x = a, *y = b;
  if (x->lo != y->lo)
    return x->lo < y->lo ? -1 : 1;
  if (x->hi != y->hi)
    return x->hi > y->hi ? -1 : 1; /* the wider file first */
  return 0;
}

/*
 * Lists every batch file under prefix, sorted by (lo ascending, hi descending), and marks
 * those a wider file covers. Keys that are not batch files (nested folders, strays) are
 * ignored.
 */
static int list_batches(tarn_store *st, const char *prefix, batch_set *out, tarn_error *err) {
  tarn_store_listing l;
  size_t plen = strlen(prefix), i;
  uint64_t covered = 0;
  int rc = 0;
  memset(out, 0, sizeof(*out));
  tarn_store_list_init(&l);
  do {
    rc = tarn_store_list(st, prefix, l.truncated ? l.next_after : NULL, 1000, &l, err);
    if (rc != 0)
      goto out;
    for (i = 0; i < l.count; i++) {
      uint64_t lo, hi;
      if (parse_name(l.entries[i].key + plen, &lo, &hi) != 0)
        continue;
      if (TARN_GROW(out->f, out->cap, out->n + 1, 32) != 0) {
        rc = tarn_error_set(err, TARN_ENOMEM, "out of memory listing %s", prefix);
        goto out;
      }
      out->f[out->n].key = tarn_strdup(l.entries[i].key);
      if (out->f[out->n].key == NULL) {
        rc = tarn_error_set(err, TARN_ENOMEM, "out of memory listing %s", prefix);
        goto out;
      }
      out->f[out->n].lo = lo;
      out->f[out->n].hi = hi;
      out->f[out->n].size = l.entries[i].size;
      out->f[out->n].superseded = 0;
      out->n++;
    }
  } while (l.truncated);
  if (out->n > 1)
    qsort(out->f, out->n, sizeof(*out->f), batch_cmp);
  for (i = 0; i < out->n; i++) {
    batch_file *f = &out->f[i];
    if (f->hi <= covered) {
      f->superseded = 1;
      continue;
    }
    if (f->lo <= covered) /* overlaps without nesting: never written by us */
      tarn_log_warn("append log: batch file overlaps an earlier one; reading both",
                    "file=%s covered_to=%" PRIu64, f->key, covered);
    covered = f->hi;
  }
out:
  tarn_store_list_free(&l);
  if (rc != 0)
    batch_set_free(out);
  return rc;
}

/* ---- a set of record ids (their xxHash64), for deduplication ---- */

typedef struct id_set {
  uint64_t *slot; /* 0 = empty; a hash of 0 is stored as 1 */
  size_t n, cap;
} id_set;

static void id_set_free(id_set *s) {
  tarn_free(s->slot);
  memset(s, 0, sizeof(*s));
}

/* Inserts; returns 1 when new, 0 when present, -1 out of memory. */
static int id_set_add(id_set *s, const char *id) {
  uint64_t h = tarn_xxh64(id, strlen(id), 0x7461726eu);
  size_t i;
  if (h == 0)
    h = 1;
  if ((s->n + 1) * 2 > s->cap) {
    size_t ncap = s->cap ? s->cap * 2 : 1024, j;
    uint64_t *ns = tarn_calloc(ncap, sizeof(*ns));
    if (ns == NULL)
      return -1;
    for (j = 0; j < s->cap; j++) {
      if (s->slot[j] == 0)
        continue;
      i = (size_t)(s->slot[j] & (ncap - 1));
      while (ns[i] != 0)
        i = (i + 1) & (ncap - 1);
      ns[i] = s->slot[j];
    }
    tarn_free(s->slot);
    s->slot = ns;
    s->cap = ncap;
  }
  i = (size_t)(h & (s->cap - 1));
  while (s->slot[i] != 0) {
    if (s->slot[i] == h)
      return 0;
    i = (i + 1) & (s->cap - 1);
  }
  s->slot[i] = h;
  s->n++;
  return 1;
}

/* ---- reading ---- */

/* Calls fn(line, len, lineno) for each non-empty line of buf. */
typedef int (*line_fn)(const char *line, size_t len, size_t lineno, void *ud);

static int for_each_line(const tarn_buf *b, line_fn fn, void *ud) {
  size_t off = 0, lineno = 0;
  int rc;
  while (off < b->len) {
    const char *p = b->data + off, *nl = memchr(p, '\n', b->len - off);
    size_t len = nl ? (size_t)(nl - p) : b->len - off;
    lineno++;
    off += len + (nl ? 1 : 0);
    if (len == 0)
      continue;
    rc = fn(p, len, lineno, ud);
    if (rc != 0)
      return rc;
  }
  return 0;
}

typedef struct read_ctx {
  const char *file;
  tarn_applog_read_fn fn;
  void *ud;
  id_set ids;
  tarn_applog_read_stats *stats;
  int stopped; /* the callback's code */
} read_ctx;

static int read_line(const char *line, size_t len, size_t lineno, void *ud) {
  read_ctx *rc = ud;
  json_error_t jerr;
  json_t *rec = json_loadb(line, len, 0, &jerr);
  json_t *id;
  int r;
  if (rec == NULL || !json_is_object(rec)) {
    tarn_log_warn("append log: malformed record skipped", "file=%s line=%zu error=%s", rc->file,
                  lineno, rec == NULL ? jerr.text : "not a JSON object");
    json_decref(rec);
    rc->stats->malformed++;
    return 0;
  }
  id = json_object_get(rec, "id");
  if (json_is_string(id)) {
    int added = id_set_add(&rc->ids, json_string_value(id));
    if (added < 0) {
      json_decref(rec);
      return TARN_ENOMEM;
    }
    if (added == 0) {
      json_decref(rec);
      rc->stats->duplicates++;
      return 0;
    }
  }
  rc->stats->records++;
  r = rc->fn(rec, rc->file, rc->ud);
  json_decref(rec);
  if (r != 0)
    rc->stopped = r;
  return r;
}

int tarn_applog_read(tarn_store *st, const char *prefix, tarn_applog_read_fn fn, void *ud,
                     tarn_applog_read_stats *stats, tarn_error *err) {
  batch_set set;
  tarn_applog_read_stats local;
  read_ctx ctx;
  tarn_buf b;
  size_t i;
  int rc;
  if (stats == NULL)
    stats = &local;
  memset(stats, 0, sizeof(*stats));
  memset(&ctx, 0, sizeof(ctx));
  ctx.fn = fn;
  ctx.ud = ud;
  ctx.stats = stats;
  rc = list_batches(st, prefix, &set, err);
  if (rc != 0)
    return rc;
  tarn_buf_init(&b, READ_MAX_BYTES);
  for (i = 0; i < set.n; i++) {
    if (set.f[i].superseded) {
      stats->superseded++;
      continue;
    }
    tarn_buf_reset(&b);
    rc = tarn_store_get(st, set.f[i].key, &b, err);
    if (rc == TARN_ENOTFOUND) /* compacted away since we listed: its records are later */
      continue;
    if (rc != 0)
      goto out;
    stats->files++;
    ctx.file = set.f[i].key;
    rc = for_each_line(&b, read_line, &ctx);
    if (rc != 0) {
      if (ctx.stopped == 0)
        rc = tarn_error_set(err, rc, "out of memory reading %s", set.f[i].key);
      goto out;
    }
  }
out:
  tarn_buf_free(&b);
  id_set_free(&ctx.ids);
  batch_set_free(&set);
  return rc;
}

/* ---- the writer ---- */

static void *age_thread(void *arg);

int tarn_applog_open(tarn_store *st, const tarn_applog_options *o, tarn_applog **out,
                     tarn_error *err) {
  tarn_applog *log = NULL;
  batch_set set;
  pthread_condattr_t ca;
  size_t i, plen;
  int rc;
  *out = NULL;
  plen = o->prefix ? strlen(o->prefix) : 0;
  if (plen == 0 || o->prefix[plen - 1] != '/')
    return tarn_error_set(err, TARN_EINVAL, "append log prefix \"%s\" must end in '/'",
                          o->prefix ? o->prefix : "");
  rc = tarn_store_key_check(o->prefix, plen - 1, err);
  if (rc != 0)
    return rc;
  log = tarn_calloc(1, sizeof(*log));
  if (log == NULL || (log->prefix = tarn_strdup(o->prefix)) == NULL) {
    tarn_free(log);
    return tarn_error_set(err, TARN_ENOMEM, "out of memory opening append log %s", o->prefix);
  }
  log->st = st;
  log->flush_records = o->flush_records ? o->flush_records : 1000;
  log->flush_age_ms = o->flush_age_ms ? o->flush_age_ms : 5000;
  log->max_buffered = o->max_buffered ? o->max_buffered : 100000;
  log->max_record = o->max_record ? o->max_record : 64 * 1024;
  pthread_mutex_init(&log->mu, NULL);
  pthread_mutex_init(&log->flush_mu, NULL);
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&log->cond, &ca);
  pthread_condattr_destroy(&ca);
  rc = list_batches(st, log->prefix, &set, err);
  if (rc != 0) {
    tarn_error_prefix(err, "opening append log %s", log->prefix);
    tarn_applog_close(log, NULL);
    return rc;
  }
  log->next_seq = 1;
  for (i = 0; i < set.n; i++)
    if (set.f[i].hi >= log->next_seq)
      log->next_seq = set.f[i].hi + 1;
  batch_set_free(&set);
  if (o->background && log->flush_age_ms > 0) {
    if (pthread_create(&log->thread, NULL, age_thread, log) != 0) {
      tarn_applog_close(log, NULL);
      return tarn_error_set(err, TARN_ENOMEM, "cannot start the append log's flush thread");
    }
    log->thread_on = 1;
  }
  *out = log;
  return 0;
}

size_t tarn_applog_pending(tarn_applog *log) {
  size_t n;
  pthread_mutex_lock(&log->mu);
  n = log->n + log->inflight;
  pthread_mutex_unlock(&log->mu);
  return n;
}

/* Whether an automatic flush is due now (mu held). */
static int flush_due(const tarn_applog *log, uint64_t now) {
  if (log->n == 0 || now < log->retry_at_ns)
    return 0;
  if (log->n >= log->flush_records)
    return 1;
  return log->flush_age_ms > 0 && now - log->oldest_ns >= (uint64_t)log->flush_age_ms * 1000000u;
}

int tarn_applog_append(tarn_applog *log, json_t *rec, char id_out[TARN_UUID_STR_LEN],
                       tarn_error *err) {
  char idbuf[TARN_UUID_STR_LEN];
  json_t *id;
  char *text;
  size_t len;
  uint64_t now;
  int due;
  if (!json_is_object(rec))
    return tarn_error_set(err, TARN_EINVAL, "append log records must be JSON objects");
  id = json_object_get(rec, "id");
  if (!json_is_string(id)) {
    tarn_uuid u;
    int rc = tarn_uuid_v7(&u, err);
    if (rc != 0)
      return rc;
    tarn_uuid_format(&u, idbuf);
    if (json_object_set_new(rec, "id", json_string(idbuf)) != 0)
      return tarn_error_set(err, TARN_ENOMEM, "out of memory appending a record");
  } else {
    snprintf(idbuf, sizeof(idbuf), "%s", json_string_value(id));
  }
  /* ENSURE_ASCII: a record is one line whatever its strings hold. */
  text = json_dumps(rec, JSON_COMPACT | JSON_ENSURE_ASCII);
  if (text == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory serialising a record");
  len = strlen(text);
  if (len > log->max_record) {
    tarn_free(text);
    return tarn_error_set(err, TARN_ETOOBIG, "record of %zu bytes exceeds the limit of %zu bytes",
                          len, log->max_record);
  }
  pthread_mutex_lock(&log->mu);
  if (log->n >= log->max_buffered || log->bytes + len > BUFFERED_MAX_BYTES) {
    size_t n = log->n;
    pthread_mutex_unlock(&log->mu);
    tarn_free(text);
    return tarn_error_set(err, TARN_ETOOBIG,
                          "append log %s: %zu records are waiting to be flushed (limit %zu)",
                          log->prefix, n, log->max_buffered);
  }
  if (TARN_GROW(log->recs, log->cap, log->n + 1, 64) != 0) {
    pthread_mutex_unlock(&log->mu);
    tarn_free(text);
    return tarn_error_set(err, TARN_ENOMEM, "out of memory appending a record");
  }
  now = tarn_clock_mono_ns();
  if (log->n == 0)
    log->oldest_ns = now;
  log->recs[log->n].text = text;
  log->recs[log->n].len = len;
  log->n++;
  log->bytes += len;
  /* The background thread (if any) handles age; the threshold is handled here. */
  due = log->n >= log->flush_records ? flush_due(log, now) : !log->thread_on && flush_due(log, now);
  pthread_mutex_unlock(&log->mu);
  if (id_out != NULL)
    memcpy(id_out, idbuf, TARN_UUID_STR_LEN);
  if (due) {
    tarn_error ferr;
    if (tarn_applog_flush(log, NULL, &ferr) != 0)
      tarn_log_debug("append log: flush failed; records stay buffered", "prefix=%s error=%s",
                     log->prefix, tarn_error_message(&ferr));
  }
  return 0;
}

/* Writes one batch: the first records of the buffer, at most BATCH_MAX_BYTES of them (at
 * least one). Returns the number written in *written (0 when the buffer was empty). */
static int flush_one(tarn_applog *log, size_t *written, tarn_error *err) {
  rec_line *take = NULL;
  size_t k = 0, bytes = 0, i;
  tarn_buf b;
  char key[TARN_STORE_KEY_MAX + 1];
  int rc = 0, tries;
  *written = 0;
  pthread_mutex_lock(&log->mu);
  while (k < log->n && (k == 0 || bytes + log->recs[k].len + 1 <= BATCH_MAX_BYTES)) {
    bytes += log->recs[k].len + 1;
    k++;
  }
  if (k == 0) {
    pthread_mutex_unlock(&log->mu);
    return 0;
  }
  take = tarn_calloc(k, sizeof(*take));
  if (take == NULL) {
    pthread_mutex_unlock(&log->mu);
    return tarn_error_set(err, TARN_ENOMEM, "out of memory flushing %s", log->prefix);
  }
  /* Take the records out while writing, so appends go on meanwhile. */
  memcpy(take, log->recs, k * sizeof(*take));
  memmove(log->recs, log->recs + k, (log->n - k) * sizeof(*take));
  log->n -= k;
  log->bytes -= bytes - k;
  log->inflight = k;
  if (log->n > 0)
    log->oldest_ns = tarn_clock_mono_ns(); /* roughly: the next flush is due one age later */
  pthread_mutex_unlock(&log->mu);

  tarn_buf_init(&b, BATCH_MAX_BYTES + 1);
  for (i = 0; i < k && rc == 0; i++) {
    rc = tarn_buf_append(&b, take[i].text, take[i].len, err);
    if (rc == 0)
      rc = tarn_buf_append_byte(&b, '\n', err);
  }
  for (tries = 0; rc == 0 && tries < 3; tries++) {
    batch_key(key, sizeof(key), log->prefix, log->next_seq, log->next_seq);
    rc = tarn_store_put(log->st, key, b.data, b.len, TARN_STORE_IF_ABSENT, err);
    if (rc != TARN_EEXIST)
      break;
    /* Someone else wrote this number (a second writer on the prefix: see README). */
    tarn_log_warn("append log: batch name taken; skipping it", "file=%s", key);
    log->next_seq++;
  }
  tarn_buf_free(&b);
  if (rc == 0) {
    pthread_mutex_lock(&log->mu);
    log->inflight = 0;
    pthread_mutex_unlock(&log->mu);
    log->next_seq++;
    for (i = 0; i < k; i++)
      tarn_free(take[i].text);
    tarn_free(take);
    *written = k;
    return 0;
  }
  /* Put them back in front, in order. */
  pthread_mutex_lock(&log->mu);
  log->inflight = 0;
  if (log->n + k > log->cap) {
    rec_line *nr = tarn_reallocarray(log->recs, log->n + k, sizeof(*nr));
    if (nr == NULL) {
      pthread_mutex_unlock(&log->mu);
      tarn_log_error("append log: out of memory re-buffering a failed batch; records lost",
                     "prefix=%s records=%zu", log->prefix, k);
      for (i = 0; i < k; i++)
        tarn_free(take[i].text);
      tarn_free(take);
      return rc;
    }
    log->recs = nr;
    log->cap = log->n + k;
  }
  memmove(log->recs + k, log->recs, log->n * sizeof(*take));
  memcpy(log->recs, take, k * sizeof(*take));
  log->n += k;
  log->bytes += bytes - k;
  log->oldest_ns = 0; /* as old as can be: due again after the retry delay */
  pthread_mutex_unlock(&log->mu);
  tarn_free(take);
  tarn_error_prefix(err, "append log %s: flush of %zu records", log->prefix, k);
  return rc;
}

int tarn_applog_flush(tarn_applog *log, size_t *flushed, tarn_error *err) {
  size_t total = 0, n;
  tarn_error local;
  int rc;
  if (err == NULL)
    err = &local;
  pthread_mutex_lock(&log->flush_mu);
  do {
    rc = flush_one(log, &n, err);
    total += n;
  } while (rc == 0 && n > 0);
  pthread_mutex_unlock(&log->flush_mu);
  pthread_mutex_lock(&log->mu);
  if (rc != 0) {
    uint64_t delay = log->flush_age_ms > RETRY_MIN_MS ? (uint64_t)log->flush_age_ms : RETRY_MIN_MS;
    log->retry_at_ns = tarn_clock_mono_ns() + delay * 1000000u;
    if (!log->failing)
      tarn_log_warn("append log: flush failed; records stay buffered and are retried",
                    "prefix=%s pending=%zu error=%s", log->prefix, log->n, tarn_error_message(err));
    log->failing = 1;
  } else {
    if (log->failing)
      tarn_log_info("append log: flushing again", "prefix=%s", log->prefix);
    log->failing = 0;
    log->retry_at_ns = 0;
  }
  pthread_mutex_unlock(&log->mu);
  if (flushed != NULL)
    *flushed = total;
  return rc;
}

static void *age_thread(void *arg) {
  tarn_applog *log = arg;
  pthread_mutex_lock(&log->mu);
  while (!log->stop) {
    uint64_t now = tarn_clock_mono_ns(), wake_ns;
    struct timespec ts;
    /* Wake at the oldest record's deadline, at most a second away. */
    wake_ns = now + 1000000000u;
    if (log->n > 0) {
      uint64_t due = log->oldest_ns + (uint64_t)log->flush_age_ms * 1000000u;
      if (due < log->retry_at_ns)
        due = log->retry_at_ns;
      if (due < wake_ns)
        wake_ns = due > now ? due : now;
    }
    if (flush_due(log, now)) {
      pthread_mutex_unlock(&log->mu);
      tarn_applog_flush(log, NULL, NULL);
      pthread_mutex_lock(&log->mu);
      continue;
    }
    clock_gettime(CLOCK_MONOTONIC, &ts);
    {
      uint64_t abs_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec + (wake_ns - now);
      ts.tv_sec = (time_t)(abs_ns / 1000000000u);
      ts.tv_nsec = (long)(abs_ns % 1000000000u);
    }
    pthread_cond_timedwait(&log->cond, &log->mu, &ts);
  }
  pthread_mutex_unlock(&log->mu);
  return NULL;
}

int tarn_applog_close(tarn_applog *log, tarn_error *err) {
  size_t i;
  int rc = 0;
  if (log == NULL)
    return 0;
  if (log->thread_on) {
    pthread_mutex_lock(&log->mu);
    log->stop = 1;
    pthread_cond_signal(&log->cond);
    pthread_mutex_unlock(&log->mu);
    pthread_join(log->thread, NULL);
    log->thread_on = 0;
  }
  if (log->n > 0) {
    tarn_error ferr;
    rc = tarn_applog_flush(log, NULL, &ferr);
    if (rc != 0) {
      tarn_log_error("append log: records lost at close: the final flush failed",
                     "prefix=%s records=%zu error=%s", log->prefix, log->n,
                     tarn_error_message(&ferr));
      if (err != NULL)
        *err = ferr;
    }
  }
  for (i = 0; i < log->n; i++)
    tarn_free(log->recs[i].text);
  tarn_free(log->recs);
  pthread_cond_destroy(&log->cond);
  pthread_mutex_destroy(&log->mu);
  pthread_mutex_destroy(&log->flush_mu);
  tarn_free(log->prefix);
  tarn_free(log);
  return rc;
}

/* ---- compaction ---- */

typedef struct merge_ctx {
  tarn_buf *out;
  id_set ids;
  size_t records;
  tarn_error *err;
} merge_ctx;

/* Copies one line into the merged file, unless its id was copied already. Lines that do
 * not parse are carried over as they are: compaction never drops what it cannot read. */
static int merge_line(const char *line, size_t len, size_t lineno, void *ud) {
  merge_ctx *mc = ud;
  json_t *rec = json_loadb(line, len, 0, NULL), *id = json_object_get(rec, "id");
  int rc;
  if (json_is_string(id)) {
    int added = id_set_add(&mc->ids, json_string_value(id));
    if (added <= 0) {
      json_decref(rec);
      return added < 0 ? tarn_error_set(mc->err, TARN_ENOMEM, "out of memory compacting") : 0;
    }
  }
  json_decref(rec);
  rc = tarn_buf_append(mc->out, line, len, mc->err);
  if (rc == 0)
    rc = tarn_buf_append_byte(mc->out, '\n', mc->err);
  if (rc == 0)
    mc->records++;
  return rc;
}

int tarn_applog_compact(tarn_applog *log, size_t max_bytes, tarn_applog_compact_result *res,
                        tarn_error *err) {
  batch_set set;
  size_t *live = NULL, nlive = 0, i, j, start = 0, end = 0;
  uint64_t total = 0;
  tarn_buf in, out;
  merge_ctx mc;
  int rc, del_rc = 0;
  memset(res, 0, sizeof(*res));
  memset(&mc, 0, sizeof(mc));
  if (max_bytes == 0)
    max_bytes = COMPACT_DEFAULT_BYTES;
  tarn_buf_init(&in, READ_MAX_BYTES);
  tarn_buf_init(&out, max_bytes + (max_bytes / 8) + 1);
  pthread_mutex_lock(&log->flush_mu);
  rc = list_batches(log->st, log->prefix, &set, err);
  if (rc != 0)
    goto out;
  live = tarn_calloc(set.n ? set.n : 1, sizeof(*live));
  if (live == NULL) {
    rc = tarn_error_set(err, TARN_ENOMEM, "out of memory compacting %s", log->prefix);
    goto out;
  }
  for (i = 0; i < set.n; i++)
    if (!set.f[i].superseded)
      live[nlive++] = i;
  /* The first run of at least two live files that fits in max_bytes. */
  for (i = 0; i < nlive; i++) {
    total = 0;
    for (j = i; j < nlive && total + set.f[live[j]].size <= max_bytes; j++)
      total += set.f[live[j]].size;
    if (j - i >= 2) {
      start = i;
      end = j;
      break;
    }
  }
  if (end == 0)
    goto out; /* nothing to merge */
  mc.out = &out;
  mc.err = err;
  for (i = start; i < end; i++) {
    const batch_file *f = &set.f[live[i]];
    tarn_buf_reset(&in);
    rc = tarn_store_get(log->st, f->key, &in, err);
    if (rc == 0)
      rc = for_each_line(&in, merge_line, &mc);
    if (rc != 0) {
      tarn_error_prefix(err, "compacting %s", log->prefix);
      goto out;
    }
  }
  res->first_seq = set.f[live[start]].lo;
  res->last_seq = set.f[live[end - 1]].hi;
  res->records = mc.records;
  batch_key(res->file, sizeof(res->file), log->prefix, res->first_seq, res->last_seq);
  /* Step 1: the merged file. Until it is in place nothing else changes. */
  rc = tarn_store_put(log->st, res->file, out.data ? out.data : "", out.len, TARN_STORE_IF_ABSENT,
                      err);
  if (rc != 0) {
    tarn_error_prefix(err, "compacting %s", log->prefix);
    res->file[0] = '\0';
    goto out;
  }
  res->files_merged = end - start;
  /* Step 2: delete what it replaces, and leftovers of interrupted compactions inside its
   * range. Each delete leaves a consistent set: readers skip covered files. */
  for (i = 0; i < set.n; i++) {
    const batch_file *f = &set.f[i];
    int merged = 0, r;
    for (j = start; j < end; j++)
      if (live[j] == i)
        merged = 1;
    if (!merged && !(f->superseded && f->lo >= res->first_seq && f->hi <= res->last_seq))
      continue;
    r = tarn_store_delete(log->st, f->key, del_rc == 0 ? err : NULL);
    if (r == 0 || r == TARN_ENOTFOUND) {
      if (merged)
        res->files_deleted++;
    } else if (del_rc == 0) {
      del_rc = r;
    }
  }
  rc = del_rc;
  if (rc != 0)
    tarn_error_prefix(err, "compacted %zu files of %s into %s, but deleting them failed",
                      res->files_merged, log->prefix, res->file);
out:
  pthread_mutex_unlock(&log->flush_mu);
  id_set_free(&mc.ids);
  tarn_free(live);
  tarn_buf_free(&in);
  tarn_buf_free(&out);
  batch_set_free(&set);
  return rc;
}
