/* journal.c - the mutation journal's in-memory table over the WAL (journal.h). */
#include "journal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/hash.h"
#include "base/uuid.h"

const tarn_cfg_def tarn_journal_config[] = {
    {"journal", "wal_dir", TARN_CFG_STRING, NULL, 0, 0, NULL, "TARN_JOURNAL_WAL_DIR", NULL, NULL, 0,
     "directory of the journal's write-ahead log, on a local disk (default <lake>/journal/wal)"},
    {"journal", "max_request_events", TARN_CFG_INT, "10000", 1, 1000000, NULL,
     "TARN_JOURNAL_MAX_REQUEST_EVENTS", NULL, NULL, 0,
     "events one POST /journal/events may carry (more: 413)"},
    {"journal", "max_memory", TARN_CFG_SIZE, "512MiB", 1 << 20, (int64_t)1 << 40, NULL,
     "TARN_JOURNAL_MAX_MEMORY", NULL, NULL, 0,
     "events the journal holds in memory; past it appends are answered 503"},
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
} mem_event;

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

static int replay_one(uint64_t seq, const void *p, size_t len, void *ctx, tarn_error *err) {
  tarn_journal *j = ctx;
  tarn_journal_event e;
  int rc = tarn_journal_event_decode(p, len, seq, &e, err);
  if (rc != 0)
    return rc;
  rc = add_event(j, &e, err);
  if (e.ts_us > atomic_load(&j->last_ts))
    atomic_store(&j->last_ts, e.ts_us);
  tarn_journal_event_free(&e);
  return rc;
}

int tarn_journal_open(const tarn_journal_options *o, tarn_journal **out, tarn_error *err) {
  tarn_journal *j = tarn_calloc(1, sizeof(*j));
  tarn_wal_options wo;
  int rc;
  *out = NULL;
  if (j == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  pthread_mutex_init(&j->mu, NULL);
  atomic_init(&j->last_ts, INT64_MIN);
  j->max_memory = o->max_memory ? o->max_memory : (uint64_t)512 << 20;
  memset(&wo, 0, sizeof(wo));
  wo.dir = o->wal_dir;
  wo.segment_bytes = o->segment_bytes;
  wo.min_next_seq = o->table_seq + 1;
  wo.io = o->io;
  wo.max_record = TARN_JOURNAL_VALUE_MAX * 2 + 64 * 1024; /* two values and the rest */
  rc = tarn_wal_open(&wo, replay_one, j, &j->wal, err);
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
  tarn_wal_close(j->wal);
  for (i = 0; i < j->n; i++)
    tarn_journal_event_free(&j->ev[i].e);
  tarn_free(j->ev);
  tarn_free(j->by_entity.s);
  tarn_free(j->by_id.s);
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
  long dup;
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
    if (first != NULL && !same_event(e, first))
      return tarn_error_set(err, TARN_ECONFLICT,
                            "line %zu: event_id \"%s\" was given to a different event before "
                            "(an event_id names one event; retries must repeat it unchanged)",
                            i + 1, e->event_id);
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
                                                     : &p[-2 - p[i].dup].e;
    snprintf(acks[i].event_id, sizeof(acks[i].event_id), "%s", src->event_id);
    acks[i].seq = src->seq;
    acks[i].duplicate = p[i].dup != -1;
    if (src->seq > wait)
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
  if (rc != 0) {
    tarn_journal_events_free(r, k);
    return rc;
  }
  if (k > 1)
    qsort(r, k, sizeof(*r), by_time);
  while (k > limit)
    tarn_journal_event_free(&r[--k]);
  *out = r;
  *n = k;
  return 0;
}

int tarn_journal_recent(tarn_journal *j, size_t limit, tarn_journal_event **out, size_t *n,
                        tarn_error *err) {
  tarn_journal_event *r;
  uint64_t upto = durable(j);
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
  pthread_mutex_unlock(&j->mu);
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
  st->memory_bytes = j->bytes;
  st->appended = j->appended;
  st->duplicates = j->duplicates;
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
