/* journal.c - the mutation journal's in-memory table over the WAL (journal.h). */
#include "journal_int.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/hash.h"
#include "base/log.h"
#include "base/uuid.h"

#include <jansson.h>

const tarn_cfg_def tarn_journal_config[] = {
    {"journal", "wal_dir", TARN_CFG_STRING, NULL, 0, 0, NULL, "TARN_JOURNAL_WAL_DIR", NULL, NULL, 0,
     "directory of the journal's write-ahead log, on a local disk (default <lake>/journal/wal)"},
    {"journal", "max_request_events", TARN_CFG_INT, "10000", 1, 1000000, NULL,
     "TARN_JOURNAL_MAX_REQUEST_EVENTS", NULL, NULL, 0,
     "events one POST /journal/events may carry (more: 413)"},
    {"journal", "max_memory", TARN_CFG_SIZE, "512MiB", 1 << 20, (int64_t)1 << 40, NULL,
     "TARN_JOURNAL_MAX_MEMORY", NULL, NULL, 0,
     "events the journal holds in memory; past it appends are answered 503"},
    {"journal", "flush_events", TARN_CFG_INT, "100000", 1, 100000000, NULL,
     "TARN_JOURNAL_FLUSH_EVENTS", NULL, NULL, 0,
     "flush to system.journal once memory holds this many events ..."},
    {"journal", "flush_bytes", TARN_CFG_SIZE, "64MiB", 1024, (int64_t)1 << 36, NULL,
     "TARN_JOURNAL_FLUSH_BYTES", NULL, NULL, 0, "... or this many bytes of them ..."},
    {"journal", "flush_age", TARN_CFG_DURATION, "60s", 100, 24 * 3600 * 1000, NULL,
     "TARN_JOURNAL_FLUSH_AGE", NULL, NULL, 0, "... or when the oldest has waited this long"},
    {"journal", "idempotency_window", TARN_CFG_DURATION, "24h", 1000,
     (int64_t)366 * 24 * 3600 * 1000, NULL, "TARN_JOURNAL_IDEMPOTENCY_WINDOW", NULL, NULL, 0,
     "how long after its flush a client event_id still makes a retry a duplicate"},
    {"journal", "compact_every", TARN_CFG_DURATION, "10m", 1000, (int64_t)7 * 24 * 3600 * 1000,
     NULL, "TARN_JOURNAL_COMPACT_EVERY", NULL, NULL, 0,
     "how often system.journal is looked at for small files to merge ..."},
    {"journal", "compact_min_files", TARN_CFG_INT, "16", 2, 1000000, NULL,
     "TARN_JOURNAL_COMPACT_MIN_FILES", NULL, NULL, 0,
     "... merged once it has this many (also POST /journal/compact) ..."},
    {"journal", "compact_max_memory", TARN_CFG_SIZE, "256MiB", 1 << 20, (int64_t)1 << 40, NULL,
     "TARN_JOURNAL_COMPACT_MAX_MEMORY", NULL, NULL, 0,
     "... loading at most this many bytes of events at once"},
    {"journal", "max_request_bytes", TARN_CFG_SIZE, "16MiB", 1024, (int64_t)1 << 30, NULL,
     "TARN_JOURNAL_MAX_REQUEST_BYTES", NULL, NULL, 0,
     "bytes one POST /journal/events body may have (more: 413)"},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL, NULL, NULL, 0, NULL},
};

/* ---- a string-keyed index: open addressing, keys owned by the events ---- */

typedef struct slot {
  const char *key; /* NULL: empty */
  uint32_t val;
} slot;

typedef struct strmap {
  slot *s;
  size_t mask, n; /* mask + 1 slots */
} strmap;

static uint64_t key_hash(const char *k) { return tarn_xxh64(k, strlen(k), 0); }

static slot *index_find(const strmap *x, const char *k) {
  size_t i;
  if (x->s == NULL)
    return NULL;
  for (i = key_hash(k) & x->mask;; i = (i + 1) & x->mask) {
    if (x->s[i].key == NULL)
      return NULL;
    if (strcmp(x->s[i].key, k) == 0)
      return &x->s[i];
  }
}

static int index_grow(strmap *x) {
  size_t cap = x->s != NULL ? (x->mask + 1) * 2 : 1024, i;
  slot *ns = tarn_calloc(cap, sizeof(*ns));
  if (ns == NULL)
    return TARN_ENOMEM;
  for (i = 0; x->s != NULL && i <= x->mask; i++) {
    size_t j;
    if (x->s[i].key == NULL)
      continue;
    for (j = key_hash(x->s[i].key) & (cap - 1); ns[j].key != NULL; j = (j + 1) & (cap - 1))
      ;
    ns[j] = x->s[i];
  }
  tarn_free(x->s);
  x->s = ns;
  x->mask = cap - 1;
  return 0;
}

/* Sets k's value (adding k). */
static int index_put(strmap *x, const char *k, uint32_t v) {
  slot *s = index_find(x, k);
  size_t i;
  if (s != NULL) {
    s->val = v;
    return 0;
  }
  if ((x->n + 1) * 2 > (x->s != NULL ? x->mask + 1 : 0) && index_grow(x) != 0)
    return TARN_ENOMEM;
  for (i = key_hash(k) & x->mask; x->s[i].key != NULL; i = (i + 1) & x->mask)
    ;
  x->s[i].key = k;
  x->s[i].val = v;
  x->n++;
  return 0;
}

/* ---- the journal ---- */

#define NONE UINT32_MAX

typedef struct mem_event {
  tarn_journal_event e;
  uint32_t prev_same_entity; /* the entity's event before this one, or NONE */
  uint64_t added_ns;         /* when it came into memory (the flush's age threshold) */
} mem_event;

/* A flushed client event_id kept for retries (the idempotency window). */
typedef struct carried {
  char *id;
  uint64_t seq, hash; /* hash: content_hash of the event */
  int64_t ts;         /* the event's timestamp */
  int64_t seen_us;    /* when it was flushed; it leaves the window window_ms later */
} carried;

struct tarn_journal {
  pthread_mutex_t mu;
  tarn_wal *wal;
  mem_event *ev; /* in sequence order */
  size_t n, cap;
  strmap by_entity; /* entity_id -> its latest event */
  strmap by_id;     /* client event_id -> its event */
  uint64_t bytes, appended, duplicates;
  uint64_t max_memory;
  _Atomic int64_t last_ts; /* the latest timestamp given (kept from going back) */
  int broken;              /* the WAL holds events memory does not: reopen to replay them */
  /* the idempotency window (under mu) */
  carried *win;
  size_t nwin, wincap;
  strmap by_win;
  int64_t window_us;
  /* system.journal; table_mu serialises its handle (flushes, history) */
  tarn_journal_table *table;
  pthread_mutex_t table_mu, flush_mu;
  uint64_t table_seq; /* under mu */
  uint64_t flushes;
  int64_t last_flush_us;
  char last_flush_error[256];
  /* the flusher thread (which also takes the inbox in) */
  uint64_t flush_events, flush_bytes, flush_age_ns;
  pthread_t flusher;
  int flusher_on, stop, manual;
  pthread_cond_t flush_cv; /* CLOCK_MONOTONIC */
  char *wal_dir;
  uint64_t inbox_taken;
  /* compaction: on compact_table (its own catalog handle) by the compactor thread, or on
   * table (under table_mu) on demand without it; compact_mu: one at a time */
  tarn_journal_table *compact_table;
  pthread_mutex_t compact_mu;
  pthread_t compactor;
  int compactor_on;
  _Atomic int stopping; /* set at close: a compaction running gives up */
  uint64_t compact_every_ns, compact_min_files, compact_max_memory;
  /* under mu */
  int64_t table_files, table_small_files;
  uint64_t compactions;
  int64_t last_compaction_us;
  char last_compaction_error[256];
};

static int add_event(tarn_journal *j, const tarn_journal_event *e, tarn_error *err) {
  mem_event *m;
  slot *s;
  int rc;
  if (j->n >= NONE - 1)
    return tarn_error_set(err, TARN_ETOOBIG, "journal: too many events in memory");
  if (TARN_GROW(j->ev, j->cap, j->n + 1, 1024) != 0)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  m = &j->ev[j->n];
  m->added_ns = tarn_clock_mono_ns();
  rc = tarn_journal_event_copy(e, &m->e, err);
  if (rc != 0)
    return rc;
  s = index_find(&j->by_entity, m->e.entity_id);
  m->prev_same_entity = s != NULL ? s->val : NONE;
  if (index_put(&j->by_entity, m->e.entity_id, (uint32_t)j->n) != 0 ||
      (m->e.client_id && index_put(&j->by_id, m->e.event_id, (uint32_t)j->n) != 0)) {
    tarn_journal_event_free(&m->e);
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  }
  j->bytes += sizeof(*m) + strlen(m->e.entity_id) + strlen(m->e.event_id) + 64 +
              (m->e.old_value ? strlen(m->e.old_value) : 0) +
              (m->e.new_value ? strlen(m->e.new_value) : 0);
  j->n++;
  return 0;
}

static int win_put(tarn_journal *j, const char *id, uint64_t seq, uint64_t hash, int64_t ts,
                   int64_t seen, tarn_error *err);
static int carry_decode(tarn_journal *j, const void *p, size_t len, uint64_t seq, tarn_error *err);

static int replay_one(uint64_t seq, const void *p, size_t len, void *ctx, tarn_error *err) {
  tarn_journal *j = ctx;
  tarn_journal_event e;
  int rc;
  if (len > 9 && memcmp(p, "{\"carry\":", 9) == 0) /* an id of the idempotency window */
    return carry_decode(j, p, len, seq, err);
  rc = tarn_journal_event_decode(p, len, seq, &e, err);
  if (rc != 0)
    return rc;
  rc = add_event(j, &e, err);
  if (e.ts_us > atomic_load(&j->last_ts))
    atomic_store(&j->last_ts, e.ts_us);
  tarn_journal_event_free(&e);
  return rc;
}

static void *flusher_main(void *arg);
static void *compactor_main(void *arg);
static void count_files(tarn_journal *j, tarn_journal_table *t);

int tarn_journal_open(const tarn_journal_options *o, tarn_journal **out, tarn_error *err) {
  tarn_journal *j = tarn_calloc(1, sizeof(*j));
  tarn_wal_options wo;
  pthread_condattr_t ca;
  uint64_t table_seq = o->table_seq;
  int rc = 0;
  *out = NULL;
  if (j == NULL || (j->wal_dir = tarn_strdup(o->wal_dir)) == NULL) {
    tarn_free(j);
    tarn_journal_table_close(o->table);
    tarn_journal_table_close(o->compact_table);
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  }
  pthread_mutex_init(&j->mu, NULL);
  pthread_mutex_init(&j->compact_mu, NULL);
  j->table_files = j->table_small_files = -1;
  j->manual = o->manual;
  j->compact_table = o->compact_table;
  j->compact_every_ns = (o->compact_every_ms ? o->compact_every_ms : 600000) * 1000000ull;
  j->compact_min_files = o->compact_min_files >= 2 ? o->compact_min_files : 16;
  j->compact_max_memory = o->compact_max_memory ? o->compact_max_memory : (uint64_t)256 << 20;
  pthread_mutex_init(&j->table_mu, NULL);
  pthread_mutex_init(&j->flush_mu, NULL);
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&j->flush_cv, &ca);
  pthread_condattr_destroy(&ca);
  atomic_init(&j->last_ts, INT64_MIN);
  atomic_init(&j->stopping, 0);
  j->max_memory = o->max_memory ? o->max_memory : (uint64_t)512 << 20;
  j->table = o->table;
  j->flush_events = o->flush_events ? o->flush_events : 100000;
  j->flush_bytes = o->flush_bytes ? o->flush_bytes : (uint64_t)64 << 20;
  j->flush_age_ns = (o->flush_age_ms ? o->flush_age_ms : 60000) * 1000000ull;
  j->window_us = (o->window_ms ? o->window_ms : 24 * 3600 * 1000) * 1000;
  /* what the table holds is not replayed: its number is where the WAL starts */
  if (j->table != NULL)
    rc = tarn_journal_table_seq(j->table, &table_seq, err);
  j->table_seq = table_seq;
  memset(&wo, 0, sizeof(wo));
  wo.dir = o->wal_dir;
  wo.segment_bytes = o->segment_bytes;
  wo.min_next_seq = table_seq + 1;
  wo.io = o->io;
  wo.max_record = TARN_JOURNAL_VALUE_MAX * 2 + 64 * 1024; /* two values and the rest */
  if (rc == 0)
    rc = tarn_wal_open(&wo, replay_one, j, &j->wal, err);
  if (rc == 0) { /* what other processes left for it */
    size_t taken = 0;
    rc = tarn__journal_take_inbox(j, j->wal_dir, &taken, err);
    j->inbox_taken += taken;
  }
  if (rc == 0 && j->table != NULL && !j->manual) {
    count_files(j, j->table);
    if (pthread_create(&j->flusher, NULL, flusher_main, j) == 0)
      j->flusher_on = 1;
    else
      rc = tarn_error_set(err, TARN_ENOMEM, "cannot start the journal's flusher thread");
  }
  if (rc == 0 && j->compact_table != NULL && !j->manual) {
    if (pthread_create(&j->compactor, NULL, compactor_main, j) == 0)
      j->compactor_on = 1;
    else
      rc = tarn_error_set(err, TARN_ENOMEM, "cannot start the journal's compaction thread");
  }
  if (rc != 0) {
    tarn_error_prefix(err, "journal");
    tarn_journal_close(j);
    return rc;
  }
  *out = j;
  return 0;
}

void tarn_journal_close(tarn_journal *j) {
  size_t i;
  if (j == NULL)
    return;
  pthread_mutex_lock(&j->mu);
  j->stop = 1;
  atomic_store(&j->stopping, 1);
  pthread_cond_broadcast(&j->flush_cv);
  pthread_mutex_unlock(&j->mu);
  if (j->compactor_on)
    pthread_join(j->compactor, NULL); /* a compaction running stops, changing nothing */
  if (j->flusher_on)
    pthread_join(j->flusher, NULL);
  if (j->table != NULL && j->wal != NULL && !j->manual) { /* what is held goes to the table */
    tarn_error err;
    size_t flushed = 0;
    if (tarn_journal_flush(j, &flushed, &err) != 0)
      tarn_log_warn("journal: the flush at close failed; the WAL keeps the events", "error=%s",
                    tarn_error_message(&err));
  }
  tarn_wal_close(j->wal);
  tarn_journal_table_close(j->table);
  tarn_journal_table_close(j->compact_table);
  tarn_free(j->wal_dir);
  for (i = 0; i < j->n; i++)
    tarn_journal_event_free(&j->ev[i].e);
  for (i = 0; i < j->nwin; i++)
    tarn_free(j->win[i].id);
  tarn_free(j->win);
  tarn_free(j->by_win.s);
  tarn_free(j->ev);
  tarn_free(j->by_entity.s);
  tarn_free(j->by_id.s);
  pthread_cond_destroy(&j->flush_cv);
  pthread_mutex_destroy(&j->flush_mu);
  pthread_mutex_destroy(&j->compact_mu);
  pthread_mutex_destroy(&j->table_mu);
  pthread_mutex_destroy(&j->mu);
  tarn_free(j);
}

static int opt_eq(const char *a, const char *b) {
  return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

/* Whether a retry names the same event as the one stored under its id. */
static int same_event(const tarn_journal_event *a, const tarn_journal_event *b) {
  return a->action == b->action && strcmp(a->entity_type, b->entity_type) == 0 &&
         strcmp(a->entity_id, b->entity_id) == 0 && strcmp(a->field, b->field) == 0 &&
         opt_eq(a->old_value, b->old_value) && opt_eq(a->new_value, b->new_value) &&
         opt_eq(a->workspace_id, b->workspace_id) &&
         (a->ts_us == TARN_JOURNAL_TS_UNSET || a->ts_us == b->ts_us);
}

/* What the append of ev[i] does: store it (dup < 0), or answer from the stored event
 * dup (an index into j->ev) or from an earlier one of this request (-2 - k, ev[k]). */
typedef struct plan {
  long dup; /* -3: a retry of a flushed event, win its window entry */
  size_t win;
  tarn_journal_event e; /* the event as it will be stored (strings borrowed) */
  char id[TARN_UUID_STR_LEN];
} plan;

/* Outside the lock: ids, defaults, and every event's WAL record into enc (event i at
 * offs[i], lens[i] bytes). A retry's record is made too and then not written. */
static int prepare(tarn_journal *j, const tarn_journal_event *ev, size_t n, const char *actor,
                   tarn_journal_source source, plan *p, tarn_buf *enc, size_t *offs, size_t *lens,
                   tarn_error *err) {
  int64_t now = tarn_clock_wall_us(), last = atomic_load(&j->last_ts), newest = INT64_MIN;
  tarn_buf one;
  size_t i;
  int rc = 0;
  if (now < last)
    now = last; /* a step back of the clock does not reorder what it gives */
  tarn_buf_init(&one, TARN_BUF_UNLIMITED);
  for (i = 0; rc == 0 && i < n; i++) {
    const tarn_journal_event *e = &ev[i];
    p[i].dup = -1;
    p[i].e = *e;
    p[i].e.mem = NULL;
    if (!e->client_id) {
      tarn_uuid u;
      rc = tarn_uuid_v7(&u, err);
      if (rc != 0)
        break;
      tarn_uuid_format(&u, p[i].id);
      p[i].e.event_id = p[i].id;
    }
    if (e->ts_us == TARN_JOURNAL_TS_UNSET)
      p[i].e.ts_us = now;
    if (e->actor == NULL)
      p[i].e.actor = (char *)actor;
    if (!e->has_source) {
      p[i].e.source = source;
      p[i].e.has_source = 1;
    }
    if (p[i].e.ts_us > newest)
      newest = p[i].e.ts_us;
    rc = tarn_journal_event_encode(&p[i].e, &one, err);
    offs[i] = enc->len;
    lens[i] = one.len;
    if (rc == 0)
      rc = tarn_buf_append(enc, one.data, one.len, err);
  }
  tarn_buf_free(&one);
  while (rc == 0 && newest > last && !atomic_compare_exchange_weak(&j->last_ts, &last, newest))
    ;
  return rc;
}

static int conflict(size_t i, const char *id, tarn_error *err) {
  return tarn_error_set(err, TARN_ECONFLICT,
                        "line %zu: event_id \"%s\" was given to a different event before (an "
                        "event_id names one event; retries must repeat it unchanged)",
                        i + 1, id);
}

static uint64_t mix(uint64_t h, const char *s) {
  return s != NULL ? tarn_xxh64(s, strlen(s) + 1, h) : tarn_xxh64("", 0, h ^ 0x9E3779B97F4A7C15ull);
}

/* What a retry must repeat: the event without its id, timestamp, actor and source. */
static uint64_t content_hash(const tarn_journal_event *e) {
  uint64_t h = mix(0, tarn_journal_action_name(e->action));
  h = mix(h, e->entity_type);
  h = mix(h, e->entity_id);
  h = mix(h, e->field);
  h = mix(h, e->old_value);
  h = mix(h, e->new_value);
  return mix(h, e->workspace_id);
}

/* Under the lock: which events are retries of stored ones (p[i].dup an index into j->ev)
 * or of earlier ones of this request (-2 - k); a retry naming a different event is a
 * conflict. */
static int dedupe(tarn_journal *j, const tarn_journal_event *ev, size_t n, plan *p,
                  tarn_error *err) {
  size_t i, k;
  for (i = 0; i < n; i++) {
    const tarn_journal_event *e = &ev[i], *first;
    slot *s;
    if (!e->client_id)
      continue;
    s = index_find(&j->by_id, e->event_id);
    first = s != NULL ? &j->ev[s->val].e : NULL;
    if (s != NULL)
      p[i].dup = (long)s->val;
    for (k = 0; first == NULL && k < i; k++)
      if (p[k].dup == -1 && p[k].e.client_id && strcmp(p[k].e.event_id, e->event_id) == 0) {
        first = &p[k].e;
        p[i].dup = -2 - (long)k;
      }
    if (first == NULL) { /* flushed already: the idempotency window knows it */
      slot *w = index_find(&j->by_win, e->event_id);
      if (w != NULL) {
        const carried *c = &j->win[w->val];
        if (c->hash != content_hash(e) || (e->ts_us != TARN_JOURNAL_TS_UNSET && e->ts_us != c->ts))
          return conflict(i, e->event_id, err);
        p[i].dup = -3;
        p[i].win = w->val;
      }
      continue;
    }
    if (!same_event(e, first))
      return conflict(i, e->event_id, err);
  }
  return 0;
}

int tarn_journal_append(tarn_journal *j, const tarn_journal_event *ev, size_t n,
                        const char *default_actor, tarn_journal_source default_source,
                        tarn_journal_ack *acks, tarn_error *err) {
  plan *p = tarn_calloc(n ? n : 1, sizeof(*p));
  tarn_wal_rec *recs = tarn_calloc(n ? n : 1, sizeof(*recs));
  size_t *offs = tarn_calloc(n ? n : 1, sizeof(*offs)),
         *lens = tarn_calloc(n ? n : 1, sizeof(*lens));
  size_t i, nnew = 0;
  uint64_t first = 0, wait = 0;
  tarn_buf enc;
  int rc = 0;
  tarn_buf_init(&enc, TARN_BUF_UNLIMITED);
  if (p == NULL || recs == NULL || offs == NULL || lens == NULL) {
    rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
    goto out;
  }
  rc = prepare(j, ev, n, default_actor, default_source, p, &enc, offs, lens, err);
  if (rc != 0)
    goto out;
  pthread_mutex_lock(&j->mu);
  rc = j->broken ? tarn_error_set(err, TARN_EINTERNAL,
                                  "journal: an earlier append is in the WAL but not in memory "
                                  "(out of memory); restart to replay it")
                 : dedupe(j, ev, n, p, err);
  if (rc == 0 && j->bytes + enc.len > j->max_memory)
    rc = tarn_error_set(err, TARN_EBUSY,
                        "the journal holds %zu events (%llu bytes) in memory, its cap ([journal] "
                        "max_memory, %llu bytes); nothing more is taken until they are flushed",
                        j->n, (unsigned long long)j->bytes, (unsigned long long)j->max_memory);
  for (i = 0; rc == 0 && i < n; i++)
    if (p[i].dup == -1) {
      recs[nnew].p = enc.data + offs[i];
      recs[nnew++].len = lens[i];
    }
  if (rc == 0 && nnew > 0)
    rc = tarn_wal_append(j->wal, recs, nnew, &first, err);
  /* in memory at once, in sequence order; visible once durable */
  for (i = 0, nnew = 0; rc == 0 && i < n; i++) {
    if (p[i].dup != -1)
      continue;
    p[i].e.seq = first + nnew++;
    rc = add_event(j, &p[i].e, err);
    j->broken = rc != 0;
  }
  for (i = 0; rc == 0 && i < n; i++) {
    const tarn_journal_event *src = p[i].dup >= 0    ? &j->ev[p[i].dup].e
                                    : p[i].dup == -1 ? &p[i].e
                                    : p[i].dup == -3 ? NULL
                                                     : &p[-2 - p[i].dup].e;
    snprintf(acks[i].event_id, sizeof(acks[i].event_id), "%s",
             src != NULL ? src->event_id : j->win[p[i].win].id);
    acks[i].seq = src != NULL ? src->seq : j->win[p[i].win].seq; /* a flushed one is durable */
    acks[i].duplicate = p[i].dup != -1;
    if (src != NULL && src->seq > wait)
      wait = src->seq;
    if (p[i].dup != -1)
      j->duplicates++;
    else
      j->appended++;
  }
  pthread_mutex_unlock(&j->mu);
  if (rc == 0 && wait > 0)
    rc = tarn_wal_sync(j->wal, wait, err); /* group commit: concurrent appends share it */
out:
  tarn_buf_free(&enc);
  tarn_free(p);
  tarn_free(recs);
  tarn_free(offs);
  tarn_free(lens);
  return rc;
}

/* ---- queries ---- */

static int by_time(const void *a, const void *b) {
  const tarn_journal_event *x = a, *y = b;
  if (x->ts_us != y->ts_us)
    return x->ts_us < y->ts_us ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static uint64_t durable(tarn_journal *j) {
  tarn_wal_stats st;
  tarn_wal_stats_get(j->wal, &st);
  return st.durable_seq;
}

int tarn_journal_history(tarn_journal *j, const tarn_journal_query *q, tarn_journal_event **out,
                         size_t *n, tarn_error *err) {
  tarn_journal_event *r = NULL;
  size_t cap = 0, k = 0, limit = q->limit ? q->limit : 1000;
  uint64_t upto = durable(j);
  slot *s;
  int rc = 0;
  *out = NULL;
  *n = 0;
  if (q->entity_id == NULL)
    return tarn_error_set(err, TARN_EINVAL, "journal history: no entity_id");
  pthread_mutex_lock(&j->mu);
  s = index_find(&j->by_entity, q->entity_id);
  for (uint32_t i = s != NULL ? s->val : NONE; rc == 0 && i != NONE;
       i = j->ev[i].prev_same_entity) {
    const tarn_journal_event *e = &j->ev[i].e;
    if (e->seq > upto || e->ts_us < q->since_us || e->ts_us >= q->until_us ||
        (q->entity_type != NULL && strcmp(q->entity_type, e->entity_type) != 0))
      continue;
    if (TARN_GROW(r, cap, k + 1, 16) != 0)
      rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
    else if ((rc = tarn_journal_event_copy(e, &r[k], err)) == 0)
      k++;
  }
  pthread_mutex_unlock(&j->mu);
  if (rc == 0 && j->table != NULL) { /* and what was flushed */
    tarn_journal_event *t = NULL;
    size_t nt = 0, i;
    pthread_mutex_lock(&j->table_mu);
    rc = tarn_journal_table_history(j->table, q->entity_id, q->entity_type, q->since_us,
                                    q->until_us, &t, &nt, err);
    pthread_mutex_unlock(&j->table_mu);
    if (rc == 0 && TARN_GROW(r, cap, k + nt, 16) != 0)
      rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
    for (i = 0; rc == 0 && i < nt; i++)
      r[k++] = t[i]; /* moved */
    if (rc == 0)
      tarn_free(t);
    else
      tarn_journal_events_free(t, nt);
  }
  if (rc != 0) {
    tarn_journal_events_free(r, k);
    return rc;
  }
  if (k > 1)
    qsort(r, k, sizeof(*r), by_time);
  { /* an event flushed while this ran is in both: once */
    size_t i, w = 0;
    for (i = 0; i < k; i++) {
      if (w > 0 && r[w - 1].seq == r[i].seq) {
        tarn_journal_event_free(&r[i]);
        continue;
      }
      r[w++] = r[i];
    }
    k = w;
  }
  while (k > limit)
    tarn_journal_event_free(&r[--k]);
  *out = r;
  *n = k;
  return 0;
}

static int by_seq_desc(const void *a, const void *b) {
  const tarn_journal_event *x = a, *y = b;
  return x->seq > y->seq ? -1 : x->seq < y->seq;
}

/* Fills r[*k .. limit) with the newest flushed events older than those in r (newest
 * first), reading ever longer ranges of sequence numbers back from table_seq: a flush's
 * files hold a narrow range, so the scan skips the rest by statistics. */
static int recent_from_table(tarn_journal *j, uint64_t table_seq, size_t limit,
                             tarn_journal_event *r, size_t *k, tarn_error *err) {
  uint64_t span = limit * 2 > 64 ? limit * 2 : 64, oldest = *k > 0 ? r[*k - 1].seq : UINT64_MAX;
  int rc = 0;
  for (;;) {
    uint64_t from = table_seq > span ? table_seq - span + 1 : 1;
    tarn_journal_event *t = NULL;
    size_t nt = 0, i, want = limit - *k, took = 0;
    pthread_mutex_lock(&j->table_mu);
    rc = tarn_journal_table_since_seq(j->table, from, &t, &nt, err);
    pthread_mutex_unlock(&j->table_mu);
    if (rc != 0)
      return rc;
    if (nt > 1)
      qsort(t, nt, sizeof(*t), by_seq_desc);
    for (i = 0; i < nt && took < want; i++)
      if (t[i].seq < oldest) /* not one memory answered with */
        took++;
    if (took >= want || from == 1) {
      for (i = 0; i < nt && *k < limit; i++)
        if (t[i].seq < oldest) {
          r[(*k)++] = t[i]; /* moved */
          memset(&t[i], 0, sizeof(t[i]));
        }
      tarn_journal_events_free(t, nt);
      return 0;
    }
    tarn_journal_events_free(t, nt);
    span *= 4;
  }
}

int tarn_journal_recent(tarn_journal *j, size_t limit, tarn_journal_event **out, size_t *n,
                        tarn_error *err) {
  tarn_journal_event *r;
  uint64_t upto = durable(j), table_seq;
  size_t k = 0, i;
  int rc = 0;
  *out = NULL;
  *n = 0;
  if (limit == 0)
    limit = 50;
  r = tarn_calloc(limit, sizeof(*r));
  if (r == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  pthread_mutex_lock(&j->mu);
  for (i = j->n; rc == 0 && i > 0 && k < limit; i--) {
    const tarn_journal_event *e = &j->ev[i - 1].e;
    if (e->seq > upto)
      continue;
    if ((rc = tarn_journal_event_copy(e, &r[k], err)) == 0)
      k++;
  }
  table_seq = j->table_seq;
  pthread_mutex_unlock(&j->mu);
  if (rc == 0 && k < limit && j->table != NULL && table_seq > 0)
    rc = recent_from_table(j, table_seq, limit, r, &k, err);
  if (rc != 0) {
    tarn_journal_events_free(r, k);
    return rc;
  }
  *out = r;
  *n = k;
  return 0;
}

void tarn_journal_stats_get(tarn_journal *j, tarn_journal_stats *st) {
  memset(st, 0, sizeof(*st));
  pthread_mutex_lock(&j->mu);
  st->events_in_memory = j->n;
  st->table_seq = j->table_seq;
  st->flushes = j->flushes;
  st->last_flush_us = j->last_flush_us;
  snprintf(st->last_flush_error, sizeof(st->last_flush_error), "%s", j->last_flush_error);
  st->idempotency_window = j->nwin;
  st->memory_bytes = j->bytes;
  st->appended = j->appended;
  st->duplicates = j->duplicates;
  st->table_files = j->table_files;
  st->table_small_files = j->table_small_files;
  st->compactions = j->compactions;
  st->last_compaction_us = j->last_compaction_us;
  snprintf(st->last_compaction_error, sizeof(st->last_compaction_error), "%s",
           j->last_compaction_error);
  st->inbox_taken = j->inbox_taken;
  pthread_mutex_unlock(&j->mu);
  tarn_wal_stats_get(j->wal, &st->wal);
}

int tarn_journal_health(tarn_journal *j, char *why, size_t n) {
  tarn_wal_stats st;
  tarn_wal_stats_get(j->wal, &st);
  if (!st.failed)
    return 1;
  snprintf(why, n,
           "the journal's write-ahead log failed (a write or fsync; see the log) and takes no "
           "appends until tarn serve is restarted");
  return 0;
}

/* ---- the idempotency window ---- */

static int win_put(tarn_journal *j, const char *id, uint64_t seq, uint64_t hash, int64_t ts,
                   int64_t seen, tarn_error *err) {
  slot *s = index_find(&j->by_win, id);
  carried *c;
  if (s != NULL) {
    c = &j->win[s->val];
  } else {
    if (TARN_GROW(j->win, j->wincap, j->nwin + 1, 256) != 0)
      return tarn_error_set(err, TARN_ENOMEM, "out of memory");
    c = &j->win[j->nwin];
    c->id = tarn_strdup(id);
    if (c->id == NULL || index_put(&j->by_win, c->id, (uint32_t)j->nwin) != 0) {
      tarn_free(c->id);
      return tarn_error_set(err, TARN_ENOMEM, "out of memory");
    }
    j->nwin++;
  }
  c->seq = seq;
  c->hash = hash;
  c->ts = ts;
  c->seen_us = seen;
  return 0;
}

/* Drops the entries seen before `cutoff` (under mu). */
static int win_evict(tarn_journal *j, int64_t cutoff, tarn_error *err) {
  size_t i, k = 0;
  tarn_free(j->by_win.s);
  memset(&j->by_win, 0, sizeof(j->by_win));
  for (i = 0; i < j->nwin; i++) {
    if (j->win[i].seen_us < cutoff) {
      tarn_free(j->win[i].id);
      continue;
    }
    j->win[k] = j->win[i];
    if (index_put(&j->by_win, j->win[k].id, (uint32_t)k) != 0)
      return tarn_error_set(err, TARN_ENOMEM, "out of memory");
    k++;
  }
  j->nwin = k;
  return 0;
}

/* A carry record: one window entry, written to the WAL at every flush so that the window
 * survives the release of the segments that held its events. */
static int carry_encode(const carried *c, tarn_buf *out, tarn_error *err) {
  char hash[17];
  json_t *o;
  char *text;
  int rc;
  snprintf(hash, sizeof(hash), "%016llx", (unsigned long long)c->hash);
  o = json_pack("{s:s,s:I,s:s,s:I,s:I}", "carry", c->id, "seq", (json_int_t)c->seq, "hash", hash,
                "ts", (json_int_t)c->ts, "seen", (json_int_t)c->seen_us);
  text = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
  json_decref(o);
  if (text == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  rc = tarn_buf_append(out, text, strlen(text), err);
  free(text);
  return rc;
}

static int carry_decode(tarn_journal *j, const void *p, size_t len, uint64_t seq, tarn_error *err) {
  json_t *o = json_loadb(p, len, 0, NULL);
  const char *id = NULL, *hash = NULL;
  json_int_t s = 0, ts = 0, seen = 0;
  int rc;
  if (o == NULL ||
      json_unpack(o, "{s:s,s:I,s:s,s:I,s:I}", "carry", &id, "seq", &s, "hash", &hash, "ts", &ts,
                  "seen", &seen) != 0 ||
      strlen(hash) != 16 || strlen(id) > TARN_JOURNAL_ID_MAX) {
    json_decref(o);
    return tarn_error_set(err, TARN_ECORRUPT, "journal record %llu: not a carry record",
                          (unsigned long long)seq);
  }
  rc = win_put(j, id, (uint64_t)s, strtoull(hash, NULL, 16), (int64_t)ts, (int64_t)seen, err);
  json_decref(o);
  return rc;
}

/* ---- flushing ---- */

/* Forgets the first k events (flushed), under mu: the rest move down and the indexes are
 * made again. */
static int drop_flushed(tarn_journal *j, size_t k, tarn_error *err) {
  size_t i;
  for (i = 0; i < k; i++)
    tarn_journal_event_free(&j->ev[i].e);
  memmove(j->ev, j->ev + k, (j->n - k) * sizeof(*j->ev));
  j->n -= k;
  tarn_free(j->by_entity.s);
  tarn_free(j->by_id.s);
  memset(&j->by_entity, 0, sizeof(j->by_entity));
  memset(&j->by_id, 0, sizeof(j->by_id));
  j->bytes = 0;
  for (i = 0; i < j->n; i++) {
    mem_event *m = &j->ev[i];
    slot *s = index_find(&j->by_entity, m->e.entity_id);
    m->prev_same_entity = s != NULL ? s->val : NONE;
    if (index_put(&j->by_entity, m->e.entity_id, (uint32_t)i) != 0 ||
        (m->e.client_id && index_put(&j->by_id, m->e.event_id, (uint32_t)i) != 0))
      return tarn_error_set(err, TARN_ENOMEM, "out of memory");
    j->bytes += sizeof(*m) + strlen(m->e.entity_id) + strlen(m->e.event_id) + 64 +
                (m->e.old_value ? strlen(m->e.old_value) : 0) +
                (m->e.new_value ? strlen(m->e.new_value) : 0);
  }
  return 0;
}

/*
 * One flush, one at a time (flush_mu):
 *   1. the durable events in memory (a prefix: memory is in sequence order) are copied;
 *   2. the idempotency window, with their client ids, goes into the WAL as carry
 *      records, numbered after them, and is synced;
 *   3. they are committed to system.journal with their last sequence number checked and
 *      recorded inside the compare-and-swap (a repeat commits nothing);
 *   4. memory forgets them and the window takes their ids;
 *   5. the WAL releases the segments that hold nothing newer.
 * A crash anywhere replays from the table's number: events the table holds are skipped,
 * the others and the window come back.
 */
int tarn_journal_flush(tarn_journal *j, size_t *flushed, tarn_error *err) {
  tarn_journal_event *batch = NULL;
  tarn_journal_table_commit res;
  carried *carry = NULL;
  tarn_wal_stats ws;
  size_t k = 0, ncarry = 0, i;
  int64_t now = tarn_clock_wall_us();
  int rc = 0;
  *flushed = 0;
  if (j->table == NULL)
    return tarn_error_set(err, TARN_ENOTAVAIL, "journal: no table to flush to");
  pthread_mutex_lock(&j->flush_mu);
  tarn_wal_stats_get(j->wal, &ws);
  pthread_mutex_lock(&j->mu);
  while (k < j->n && j->ev[k].e.seq <= ws.durable_seq)
    k++;
  batch = k > 0 ? tarn_calloc(k, sizeof(*batch)) : NULL;
  carry = k > 0 ? tarn_calloc(j->nwin + k, sizeof(*carry)) : NULL;
  if (k > 0 && (batch == NULL || carry == NULL))
    rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
  for (i = 0; rc == 0 && i < k; i++)
    rc = tarn_journal_event_copy(&j->ev[i].e, &batch[i], err);
  for (i = 0; rc == 0 && i < k; i++)
    batch[i].seq = j->ev[i].e.seq;
  for (i = 0; rc == 0 && k > 0 && i < j->nwin; i++)
    if (j->win[i].seen_us >= now - j->window_us)
      carry[ncarry++] = j->win[i]; /* ids borrowed: the window changes only under flush_mu */
  for (i = 0; rc == 0 && i < k; i++)
    if (batch[i].client_id) {
      carried *c = &carry[ncarry++];
      c->id = batch[i].event_id;
      c->seq = batch[i].seq;
      c->hash = content_hash(&batch[i]);
      c->ts = batch[i].ts_us;
      c->seen_us = now;
    }
  pthread_mutex_unlock(&j->mu);
  if (rc == 0 && ncarry > 0) { /* 2 */
    tarn_buf enc;
    tarn_wal_rec *recs = tarn_calloc(ncarry, sizeof(*recs));
    size_t *offs = tarn_calloc(ncarry, sizeof(*offs));
    uint64_t first = 0;
    tarn_buf_init(&enc, TARN_BUF_UNLIMITED);
    if (recs == NULL || offs == NULL)
      rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
    for (i = 0; rc == 0 && i < ncarry; i++) {
      offs[i] = enc.len;
      rc = carry_encode(&carry[i], &enc, err);
      recs[i].len = enc.len - offs[i];
    }
    for (i = 0; rc == 0 && i < ncarry; i++)
      recs[i].p = enc.data + offs[i];
    if (rc == 0)
      rc = tarn_wal_append(j->wal, recs, ncarry, &first, err);
    if (rc == 0)
      rc = tarn_wal_sync(j->wal, first + ncarry - 1, err);
    tarn_buf_free(&enc);
    tarn_free(recs);
    tarn_free(offs);
  }
  if (rc == 0 && k > 0) { /* 3 */
    pthread_mutex_lock(&j->table_mu);
    rc = tarn_journal_table_append(j->table, batch, k, &res, err);
    if (rc == 0)
      count_files(j, j->table);
    pthread_mutex_unlock(&j->table_mu);
  }
  if (rc == 0 && k > 0) { /* 4 */
    pthread_mutex_lock(&j->mu);
    for (i = 0; rc == 0 && i < k; i++)
      if (batch[i].client_id)
        rc = win_put(j, batch[i].event_id, batch[i].seq, content_hash(&batch[i]), batch[i].ts_us,
                     now, err);
    if (rc == 0)
      rc = win_evict(j, now - j->window_us, err);
    if (rc == 0)
      rc = drop_flushed(j, k, err);
    j->broken |= rc != 0;
    j->table_seq = batch[k - 1].seq;
    j->flushes++;
    j->last_flush_us = now;
    pthread_mutex_unlock(&j->mu);
    if (rc == 0)
      rc = tarn_wal_release(j->wal, batch[k - 1].seq, err); /* 5 */
    if (rc == 0)
      tarn_log_info(
          "journal flushed", "events=%zu table_seq=%llu committed=%d files=%zu bytes=%lld", k,
          (unsigned long long)batch[k - 1].seq, res.committed, res.files, (long long)res.bytes);
  }
  pthread_mutex_lock(&j->mu);
  snprintf(j->last_flush_error, sizeof(j->last_flush_error), "%s",
           rc == 0 ? "" : tarn_error_message(err));
  pthread_mutex_unlock(&j->mu);
  if (rc == 0)
    *flushed = k;
  tarn_journal_events_free(batch, k);
  tarn_free(carry);
  pthread_mutex_unlock(&j->flush_mu);
  return rc;
}

/* Flushes when memory holds flush_events or flush_bytes, or its oldest event has waited
 * flush_age; looks once a second (more often for a short flush_age); after a failure
 * waits longer (1 s doubling to 30 s). */
static void *flusher_main(void *arg) {
  tarn_journal *j = arg;
  uint64_t retry_ns = 0, backoff_ms = 0, inbox_ns = 0;
  pthread_mutex_lock(&j->mu);
  while (!j->stop) {
    struct timespec ts;
    /* look once a second, or four times per flush_age when that is shorter */
    uint64_t tick = j->flush_age_ns / 4 < 1000000000ull ? j->flush_age_ns / 4 : 1000000000ull;
    uint64_t now = tarn_clock_mono_ns(), until = now + (tick < 20000000ull ? 20000000ull : tick);
    int due;
    ts.tv_sec = (time_t)(until / 1000000000ull);
    ts.tv_nsec = (long)(until % 1000000000ull);
    pthread_cond_timedwait(&j->flush_cv, &j->mu, &ts);
    if (j->stop)
      break;
    now = tarn_clock_mono_ns();
    if (now >= inbox_ns) { /* once a second: what other processes left in the inbox */
      tarn_error err;
      size_t taken = 0;
      int rc;
      inbox_ns = now + 1000000000ull;
      pthread_mutex_unlock(&j->mu);
      rc = tarn__journal_take_inbox(j, j->wal_dir, &taken, &err);
      if (rc != 0)
        tarn_log_warn("journal inbox: not taken in; retrying", "error=%s",
                      tarn_error_message(&err));
      else if (taken > 0)
        tarn_log_info("journal inbox taken in", "events=%zu", taken);
      pthread_mutex_lock(&j->mu);
      j->inbox_taken += taken;
      if (j->stop)
        break;
      now = tarn_clock_mono_ns();
    }
    due = j->n > 0 && now >= retry_ns &&
          (j->n >= j->flush_events || j->bytes >= j->flush_bytes ||
           now - j->ev[0].added_ns >= j->flush_age_ns);
    if (!due)
      continue;
    pthread_mutex_unlock(&j->mu);
    {
      tarn_error err;
      size_t flushed;
      if (tarn_journal_flush(j, &flushed, &err) != 0) {
        backoff_ms = backoff_ms == 0 ? 1000 : backoff_ms * 2 > 30000 ? 30000 : backoff_ms * 2;
        retry_ns = tarn_clock_mono_ns() + backoff_ms * 1000000ull;
        tarn_log_warn("journal flush failed; the events stay in memory and the WAL",
                      "error=%s retry_in_ms=%llu", tarn_error_message(&err),
                      (unsigned long long)backoff_ms);
      } else {
        backoff_ms = 0;
        retry_ns = 0;
      }
    }
    pthread_mutex_lock(&j->mu);
  }
  pthread_mutex_unlock(&j->mu);
  return NULL;
}

/* ---- compaction ---- */

/* Notes system.journal's file counts for stats (a failure leaves them as they were). */
static void count_files(tarn_journal *j, tarn_journal_table *t) {
  size_t files = 0, small = 0;
  tarn_error err;
  if (tarn_journal_table_files(t, 0, j->compact_max_memory, &files, &small, &err) != 0)
    return;
  pthread_mutex_lock(&j->mu);
  j->table_files = (int64_t)files;
  j->table_small_files = (int64_t)small;
  pthread_mutex_unlock(&j->mu);
}

/* One compaction on t (the compaction handle, or the table under table_mu), one at a
 * time. */
static int compact_on(tarn_journal *j, tarn_journal_table *t, size_t min_files, int full,
                      tarn_journal_compact_result *res, tarn_error *err) {
  tarn_journal_compact_options o;
  int64_t t0 = (int64_t)tarn_clock_mono_ns();
  int rc;
  memset(&o, 0, sizeof(o));
  o.max_memory = j->compact_max_memory;
  o.min_files = min_files;
  o.full = full;
  o.stop = &j->stopping;
  rc = tarn_journal_table_compact(t, &o, res, err);
  if (rc == 0)
    count_files(j, t);
  pthread_mutex_lock(&j->mu);
  snprintf(j->last_compaction_error, sizeof(j->last_compaction_error), "%s",
           rc == 0 ? "" : tarn_error_message(err));
  if (rc == 0 && res->files_in > 0) {
    j->compactions++;
    j->last_compaction_us = tarn_clock_wall_us();
  }
  pthread_mutex_unlock(&j->mu);
  if (rc == 0 && res->files_in > 0)
    tarn_log_info("journal compacted",
                  "files_in=%zu files_out=%zu events=%lld bytes_in=%lld bytes_out=%lld "
                  "small_files_left=%zu ms=%lld",
                  res->files_in, res->files_out, (long long)res->events, (long long)res->bytes_in,
                  (long long)res->bytes_out, res->small_files_left,
                  (long long)(((int64_t)tarn_clock_mono_ns() - t0) / 1000000));
  return rc;
}

/* On demand: full rounds (every run, as many at once as compact_max_memory allows) until
 * one sorted run is left; the result adds the rounds up (files_out, snapshot_id and
 * small_files_left: the last round's). */
int tarn_journal_compact(tarn_journal *j, tarn_journal_compact_result *res, tarn_error *err) {
  tarn_journal_table *t = j->compact_table != NULL ? j->compact_table : j->table;
  int rc = 0;
  memset(res, 0, sizeof(*res));
  if (j->table == NULL)
    return tarn_error_set(err, TARN_ENOTAVAIL, "journal: no table to compact");
  pthread_mutex_lock(&j->compact_mu);
  if (t == j->table)
    pthread_mutex_lock(&j->table_mu);
  for (;;) {
    tarn_journal_compact_result r;
    rc = compact_on(j, t, 2, 1, &r, err);
    if (rc != 0 || r.files_in == 0)
      break;
    res->files_in += r.files_in;
    res->events += r.events;
    res->bytes_in += r.bytes_in;
    res->bytes_out += r.bytes_out;
    res->files_out = r.files_out;
    res->snapshot_id = r.snapshot_id;
    res->small_files_left = r.small_files_left;
  }
  if (t == j->table)
    pthread_mutex_unlock(&j->table_mu);
  pthread_mutex_unlock(&j->compact_mu);
  return rc;
}

/* At start and every compact_every, while the table has compact_min_files small files:
 * compacts
 * (each round loads at most compact_max_memory, so a backlog takes several); then expires
 * old snapshots (tarn_journal_table_expire), so the files compactions replaced leave the
 * disk once no snapshot worth keeping reaches them. */
static void *compactor_main(void *arg) {
  tarn_journal *j = arg;
  int first = 1;
  pthread_mutex_lock(&j->mu);
  while (!j->stop) {
    struct timespec ts;
    uint64_t until = tarn_clock_mono_ns() + j->compact_every_ns;
    ts.tv_sec = (time_t)(until / 1000000000ull);
    ts.tv_nsec = (long)(until % 1000000000ull);
    /* the first look at start-up (what a stopped daemon left), then every compact_every */
    while (!first && !j->stop && tarn_clock_mono_ns() < until)
      pthread_cond_timedwait(&j->flush_cv, &j->mu, &ts);
    first = 0;
    while (!j->stop) {
      tarn_journal_compact_result res;
      tarn_error err;
      int rc;
      pthread_mutex_unlock(&j->mu);
      pthread_mutex_lock(&j->compact_mu);
      rc = compact_on(j, j->compact_table, (size_t)j->compact_min_files, 0, &res, &err);
      pthread_mutex_unlock(&j->compact_mu);
      if (rc != 0 && atomic_load(&j->stopping))
        tarn_log_info("journal compaction stopped for the shutdown", "error=%s",
                      tarn_error_message(&err));
      else if (rc != 0)
        tarn_log_warn("journal compaction failed; the table keeps its files", "error=%s",
                      tarn_error_message(&err));
      pthread_mutex_lock(&j->mu);
      if (rc != 0 || res.files_in == 0 || res.small_files_left < j->compact_min_files)
        break;
    }
    if (!j->stop) { /* old snapshots go, and the files compactions replaced with them */
      tarn_table_expire_result er;
      tarn_error err;
      int rc;
      pthread_mutex_unlock(&j->mu);
      pthread_mutex_lock(&j->compact_mu);
      rc = tarn_journal_table_expire(j->compact_table, &er, &err);
      pthread_mutex_unlock(&j->compact_mu);
      if (rc != 0)
        tarn_log_warn("journal snapshot expiry failed", "error=%s", tarn_error_message(&err));
      else if (er.snapshots_expired > 0)
        tarn_log_info("journal snapshots expired", "snapshots=%zu files_deleted=%zu",
                      er.snapshots_expired, er.files_deleted);
      pthread_mutex_lock(&j->mu);
    }
  }
  pthread_mutex_unlock(&j->mu);
  return NULL;
}
