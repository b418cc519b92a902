/* action_log_top.c - the read API's bounded set of the first events in its order, one per
 * event_id, and the byte-string map it is built on. */
#include "action_log_int.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/hash.h"

/* ---- the map ---- */

void tarn__al_map_init(tarn__al_map *m, int owns) {
  memset(m, 0, sizeof(*m));
  m->owns = owns;
}

void tarn__al_map_free(tarn__al_map *m) {
  size_t i;
  for (i = 0; m->owns && i < m->cap; i++)
    tarn_free((char *)m->s[i].key);
  tarn_free(m->s);
  m->s = NULL;
  m->cap = m->n = 0;
}

static tarn__al_slot *probe(const tarn__al_map *m, const char *key, size_t len, uint64_t h) {
  size_t i = (size_t)h & (m->cap - 1);
  for (;; i = (i + 1) & (m->cap - 1)) {
    tarn__al_slot *s = &m->s[i];
    if (s->key == NULL || (s->h == h && s->len == len && memcmp(s->key, key, len) == 0))
      return s;
  }
}

tarn__al_slot *tarn__al_map_find(const tarn__al_map *m, const char *key, size_t len) {
  tarn__al_slot *s;
  if (m->n == 0)
    return NULL;
  s = probe(m, key, len, tarn_xxh64(key, len, 0));
  return s->key != NULL ? s : NULL;
}

/* Doubles the table (at least 16 slots), moving every slot. */
static int grow(tarn__al_map *m) {
  size_t oldcap = m->cap, cap = oldcap ? oldcap * 2 : 16, i;
  tarn__al_slot *old = m->s, *s = tarn_calloc(cap, sizeof(*s));
  if (s == NULL)
    return TARN_ENOMEM;
  m->s = s;
  m->cap = cap;
  for (i = 0; i < oldcap; i++)
    if (old[i].key != NULL)
      *probe(m, old[i].key, old[i].len, old[i].h) = old[i];
  tarn_free(old);
  return 0;
}

int tarn__al_map_put(tarn__al_map *m, const char *key, size_t len, size_t val) {
  uint64_t h = tarn_xxh64(key, len, 0);
  tarn__al_slot *s;
  char *copy = NULL;
  if ((m->n + 1) * 2 > m->cap && grow(m) != 0)
    return TARN_ENOMEM;
  s = probe(m, key, len, h);
  if (s->key != NULL) {
    s->val = val;
    return 0;
  }
  if (m->owns) {
    copy = tarn_malloc(len + 1);
    if (copy == NULL)
      return TARN_ENOMEM;
    memcpy(copy, key, len);
    copy[len] = '\0';
  }
  s->key = m->owns ? copy : key;
  s->len = len;
  s->h = h;
  s->val = val;
  m->n++;
  return 0;
}

void tarn__al_map_del(tarn__al_map *m, tarn__al_slot *slot) {
  size_t mask = m->cap - 1, i = (size_t)(slot - m->s), j = i;
  if (m->owns)
    tarn_free((char *)slot->key);
  for (;;) { /* backward shift: move up each later slot whose home allows it */
    size_t home;
    j = (j + 1) & mask;
    if (m->s[j].key == NULL)
      break;
    home = (size_t)m->s[j].h & mask;
    if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
      m->s[i] = m->s[j];
      i = j;
    }
  }
  m->s[i].key = NULL;
  m->n--;
}

/* ---- the set of first events ---- */

int tarn__al_before(int64_t ams, const char *a, size_t alen, int64_t bms, const char *b,
                    size_t blen) {
  int c;
  if (ams != bms)
    return ams > bms;
  c = memcmp(a, b, alen < blen ? alen : blen);
  return c != 0 ? c > 0 : alen > blen;
}

/* Pool entry x comes after pool entry y in the order. */
static int after_ent(const tarn__al_top *t, size_t x, size_t y) {
  const tarn__al_ent *a = &t->pool[x], *b = &t->pool[y];
  return tarn__al_before(b->ms, b->eid, b->len, a->ms, a->eid, a->len);
}

static void place(tarn__al_top *t, size_t pos, size_t idx) {
  t->heap[pos] = idx;
  t->pool[idx].hpos = pos;
}

static void sift_up(tarn__al_top *t, size_t pos) {
  size_t idx = t->heap[pos];
  while (pos > 0 && after_ent(t, idx, t->heap[(pos - 1) / 2])) {
    place(t, pos, t->heap[(pos - 1) / 2]);
    pos = (pos - 1) / 2;
  }
  place(t, pos, idx);
}

static void sift_down(tarn__al_top *t, size_t pos) {
  size_t idx = t->heap[pos];
  for (;;) {
    size_t c = 2 * pos + 1;
    if (c >= t->n)
      break;
    if (c + 1 < t->n && after_ent(t, t->heap[c + 1], t->heap[c]))
      c++;
    if (!after_ent(t, t->heap[c], idx))
      break;
    place(t, pos, t->heap[c]);
    pos = c;
  }
  place(t, pos, idx);
}

void tarn__al_top_init(tarn__al_top *t) {
  memset(t, 0, sizeof(*t));
  tarn__al_map_init(&t->map, 0);
}

static void clear(tarn__al_top *t) {
  size_t i;
  for (i = 0; i < t->n; i++)
    tarn_free(t->pool[i].eid);
  tarn__al_map_free(&t->map);
  t->n = 0;
  t->evicted = 0;
}

void tarn__al_top_free(tarn__al_top *t) {
  clear(t);
  tarn_free(t->pool);
  tarn_free(t->heap);
  memset(t, 0, sizeof(*t));
}

int tarn__al_top_reset(tarn__al_top *t, size_t cap) {
  clear(t);
  if (cap != t->cap) {
    tarn__al_ent *pool = tarn_reallocarray(t->pool, cap, sizeof(*pool));
    size_t *heap = pool != NULL ? tarn_reallocarray(t->heap, cap, sizeof(*heap)) : NULL;
    if (pool != NULL)
      t->pool = pool;
    if (heap == NULL)
      return TARN_ENOMEM;
    t->heap = heap;
    t->cap = cap;
  }
  return 0;
}

static char *copy_bytes(const char *p, size_t n) {
  char *c = tarn_malloc(n + 1);
  if (c != NULL) {
    memcpy(c, p, n);
    c[n] = '\0';
  }
  return c;
}

/* Puts the event in pool slot idx (its old event_id, if any, already unmapped). */
static int fill(tarn__al_top *t, size_t idx, int64_t ms, const char *eid, size_t len) {
  char *c = copy_bytes(eid, len);
  if (c == NULL || tarn__al_map_put(&t->map, c, len, idx) != 0) {
    tarn_free(c);
    return TARN_ENOMEM;
  }
  t->pool[idx].ms = ms;
  t->pool[idx].eid = c;
  t->pool[idx].len = len;
  return 0;
}

/* The set is full: the new event replaces the last one, which it comes before. On
 * TARN_ENOMEM the set may only be freed. */
static int replace_root(tarn__al_top *t, int64_t ms, const char *eid, size_t len) {
  size_t idx = t->heap[0];
  tarn__al_ent *e = &t->pool[idx];
  tarn__al_map_del(&t->map, tarn__al_map_find(&t->map, e->eid, e->len));
  tarn_free(e->eid);
  e->eid = NULL;
  t->evicted = 1;
  if (fill(t, idx, ms, eid, len) != 0)
    return TARN_ENOMEM;
  sift_down(t, 0);
  return 0;
}

int tarn__al_top_offer(tarn__al_top *t, int64_t ms, const char *eid, size_t len) {
  tarn__al_slot *s;
  if (t->n == t->cap) {
    const tarn__al_ent *root = &t->pool[t->heap[0]];
    if (!tarn__al_before(ms, eid, len, root->ms, root->eid, root->len))
      return 0; /* after every kept event (or the last one itself) */
  }
  s = tarn__al_map_find(&t->map, eid, len);
  if (s != NULL) { /* another copy: keep the earlier position */
    tarn__al_ent *e = &t->pool[s->val];
    if (ms > e->ms) {
      e->ms = ms;
      sift_down(t, e->hpos);
    }
    return 0;
  }
  if (t->n == t->cap)
    return replace_root(t, ms, eid, len);
  if (fill(t, t->n, ms, eid, len) != 0)
    return TARN_ENOMEM;
  t->heap[t->n] = t->n;
  t->n++;
  sift_up(t, t->n - 1);
  return 0;
}

int tarn__al_top_remove(tarn__al_top *t, const tarn__al_map *drop) {
  tarn__al_ent *keep = tarn_calloc(t->n + 1, sizeof(*keep));
  size_t i, n = 0, cap = t->cap;
  int evicted = t->evicted, rc = 0;
  if (keep == NULL) {
    clear(t);
    return TARN_ENOMEM;
  }
  for (i = 0; i < t->n; i++) {
    tarn__al_ent *e = &t->pool[i];
    if (tarn__al_map_find(drop, e->eid, e->len) == NULL) {
      keep[n++] = *e;
      e->eid = NULL; /* moved */
    }
  }
  clear(t);
  for (i = 0; i < n && rc == 0; i++)
    rc = tarn__al_top_offer(t, keep[i].ms, keep[i].eid, keep[i].len);
  for (i = 0; i < n; i++)
    tarn_free(keep[i].eid);
  tarn_free(keep);
  t->evicted = evicted;
  t->cap = cap;
  if (rc != 0)
    clear(t);
  return rc;
}

static int cmp_before(const void *a, const void *b) {
  const tarn__al_ent *x = *(const tarn__al_ent *const *)a, *y = *(const tarn__al_ent *const *)b;
  if (tarn__al_before(x->ms, x->eid, x->len, y->ms, y->eid, y->len))
    return -1;
  return tarn__al_before(y->ms, y->eid, y->len, x->ms, x->eid, x->len);
}

const tarn__al_ent **tarn__al_top_sorted(const tarn__al_top *t) {
  const tarn__al_ent **v = tarn_calloc(t->n + 1, sizeof(*v));
  size_t i;
  if (v == NULL)
    return NULL;
  for (i = 0; i < t->n; i++)
    v[i] = &t->pool[i];
  qsort(v, t->n, sizeof(*v), cmp_before);
  return v;
}
