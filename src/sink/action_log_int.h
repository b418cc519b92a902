/* action_log_int.h - what the read API's files share (action_log_top.c, action_log_query.c,
 * action_log_rows.c); not for other modules. */
#ifndef TARN_SINK_ACTION_LOG_INT_H
#define TARN_SINK_ACTION_LOG_INT_H

#include <stddef.h>
#include <stdint.h>

#include "action_log.h"

/* A set of byte strings with an int each (open addressing, linear probing, backward-shift
 * deletion). With `owns`, keys are copied and freed; else they are borrowed. */
typedef struct tarn__al_slot {
  const char *key; /* NULL: empty */
  size_t len;
  uint64_t h;
  size_t val;
} tarn__al_slot;

typedef struct tarn__al_map {
  tarn__al_slot *s;
  size_t cap, n; /* cap: 0 or a power of two */
  int owns;
} tarn__al_map;

void tarn__al_map_init(tarn__al_map *m, int owns);
void tarn__al_map_free(tarn__al_map *m);
/* The slot holding key, or NULL. */
tarn__al_slot *tarn__al_map_find(const tarn__al_map *m, const char *key, size_t len);
/* Inserts key with val, or sets the val of the key there. TARN_ENOMEM. */
int tarn__al_map_put(tarn__al_map *m, const char *key, size_t len, size_t val);
/* Removes the slot (from tarn__al_map_find). */
void tarn__al_map_del(tarn__al_map *m, tarn__al_slot *slot);

/* An event's position; the event_id is owned by the entry. */
typedef struct tarn__al_ent {
  int64_t ms;
  char *eid;
  size_t len;
  size_t hpos; /* its place in the heap */
} tarn__al_ent;

/*
 * The `cap` first events in the API's order among those offered, one per event_id (the
 * first position of each). A heap whose root is the last of them, so that a row that
 * comes after the root is refused in O(1) once the set is full.
 */
typedef struct tarn__al_top {
  tarn__al_ent *pool; /* entries; map values index it */
  size_t *heap;       /* pool indexes; heap[0] is the last event in the order */
  size_t n, cap;
  tarn__al_map map; /* event_id -> pool index */
  int evicted;      /* an event was pushed out for a better one since the reset */
} tarn__al_top;

/* a before b in the API's order (newest first; event_id descending on a tie)? */
int tarn__al_before(int64_t ams, const char *a, size_t alen, int64_t bms, const char *b,
                    size_t blen);
void tarn__al_top_init(tarn__al_top *t);
/* Empties it and sets its capacity (>= 1). TARN_ENOMEM. */
int tarn__al_top_reset(tarn__al_top *t, size_t cap);
void tarn__al_top_free(tarn__al_top *t);
/* Offers an event: kept when it is among the cap first, or moves its event_id's entry
 * forward. TARN_ENOMEM: the set may then only be freed. */
int tarn__al_top_offer(tarn__al_top *t, int64_t ms, const char *eid, size_t len);
/* Drops the entries whose event_id is in `drop`. TARN_ENOMEM (the set is then empty). */
int tarn__al_top_remove(tarn__al_top *t, const tarn__al_map *drop);
/* The entries in the API's order (pointers into t, valid until the next change); the
 * caller frees the array with tarn_free. NULL when out of memory. */
const tarn__al_ent **tarn__al_top_sorted(const tarn__al_top *t);

/* The JSON object of row i of a batch of the action log (every projected column by its
 * name; applied_at as RFC 3339; the JSON text columns parsed). NULL: out of memory. */
json_t *tarn__al_row_json(const tarn_table_batch *b, int64_t i);

#endif
