/* action_log_query.c - the read API: one page of action-log events newest first, found by
 * walking the day partitions with the filters pushed into every scan. */
#include "action_log_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"

#define DAY_MS 86400000LL
#define WINDOW_DAYS_MAX 64    /* most days one scan of the walk covers */
#define LOOKUP_CHUNK 4096     /* event ids per IN list of a lookup (<= TARN_EXPR_MAX_IN) */
#define TOP_CAP_MAX (1 << 20) /* events one walk may hold (copies found push it up) */

/* The walk and the lookups read the position only; the page's rows are read at the end. */
static const int32_t pos_ids[] = {TARN_AL_EVENT_ID + 1, TARN_AL_APPLIED_AT_MS + 1};

typedef struct al_run {
  tarn_table *t;
  const tarn_al_query *q;
  const tarn_ice_schema *schema;
  int64_t snap;
  int has_lo, has_hi;
  int64_t lo, hi; /* applied_at_ms in [lo, hi): the query's range, ended at the cursor */
  int64_t *days;  /* days the plan found, newest first, clamped to [lo, hi) */
  size_t ndays, dcap;
  int any_files;             /* the plan found files (some perhaps without a known day) */
  int exhausted;             /* the last walk read every window */
  tarn__al_top top;          /* the first events (one per event_id) the walk found */
  tarn__al_map sup;          /* event ids with a copy at or before the cursor: never on this page */
  tarn__al_map done;         /* event ids already looked up */
  const tarn__al_ent **page; /* the page's events, in order */
  size_t npage;
  json_t **rows;     /* their rows */
  tarn__al_map pmap; /* event_id -> index in page */
  tarn_al_stats *st;
} al_run;

/* ---- filters ---- */

static const tarn_ice_field *fld(const al_run *x, int col) {
  return tarn_ice_schema_field(x->schema, col + 1);
}

static tarn_expr *str_eq(const al_run *x, int col, const char *s) {
  tarn_ice_value v;
  memset(&v, 0, sizeof(v));
  v.bytes = (const uint8_t *)s;
  v.len = strlen(s);
  return tarn_expr_cmp(fld(x, col), TARN_EXPR_EQ, &v);
}

/* applied_at OP us (the column is applied_at_ms in microseconds: day partitions and
 * statistics are on it). */
static tarn_expr *time_cmp(const al_run *x, tarn_expr_op op, int64_t us) {
  tarn_ice_value v;
  memset(&v, 0, sizeof(v));
  v.i64 = us;
  return tarn_expr_cmp(fld(x, TARN_AL_APPLIED_AT), op, &v);
}

/* ANDs e into *acc. A NULL e (out of memory) frees *acc. */
static int and_into(tarn_expr **acc, tarn_expr *e) {
  if (e == NULL) {
    tarn_expr_free(*acc);
    *acc = NULL;
    return TARN_ENOMEM;
  }
  *acc = *acc == NULL ? e : tarn_expr_and(*acc, e);
  return *acc == NULL ? TARN_ENOMEM : 0;
}

/* The query's equality filters and applied_at in [lo, hi) (each bound only when set),
 * and `extra` (taken, may be NULL). *out is NULL when there is nothing to test. */
static int filter_of(const al_run *x, int has_lo, int64_t lo, int has_hi, int64_t hi,
                     tarn_expr *extra, tarn_expr **out, tarn_error *err) {
  const tarn_al_query *q = x->q;
  tarn_expr *e = NULL;
  int rc = 0;
  if (q->tenant != NULL)
    rc = and_into(&e, str_eq(x, TARN_AL_TENANT, q->tenant));
  if (rc == 0 && q->object_id != NULL)
    rc = and_into(&e, str_eq(x, TARN_AL_OBJECT_ID, q->object_id));
  if (rc == 0 && q->actor_sub != NULL)
    rc = and_into(&e, str_eq(x, TARN_AL_ACTOR_SUB, q->actor_sub));
  if (rc == 0 && has_lo)
    rc = and_into(&e, time_cmp(x, TARN_EXPR_GE, lo * 1000));
  /* < hi as <= the last microsecond before it: a bound at midnight then prunes the next
   * day's partition too (a strict bound projects onto the day inclusively) */
  if (rc == 0 && has_hi)
    rc = and_into(&e, time_cmp(x, TARN_EXPR_LE, hi * 1000 - 1));
  if (rc == 0 && extra != NULL)
    rc = and_into(&e, extra);
  else
    tarn_expr_free(extra);
  *out = e;
  return rc != 0 ? tarn_error_set(err, TARN_ENOMEM, "out of memory building a filter") : 0;
}

/* event_id IN (the n event ids of v). NULL: out of memory. */
static tarn_expr *ids_in(const al_run *x, const tarn__al_ent *const *v, size_t n) {
  tarn_ice_value *vals = tarn_calloc(n + 1, sizeof(*vals));
  tarn_expr *e;
  size_t i;
  if (vals == NULL)
    return NULL;
  for (i = 0; i < n; i++) {
    vals[i].bytes = (const uint8_t *)v[i]->eid;
    vals[i].len = v[i]->len;
  }
  e = tarn_expr_in(fld(x, TARN_AL_EVENT_ID), vals, n);
  tarn_free(vals);
  return e;
}

/* ---- scans ---- */

typedef int (*row_fn)(al_run *x, const tarn_table_batch *b, int64_t i, tarn_error *err);

static void add_stats(tarn_table_scan_stats *a, const tarn_table_scan_stats *b) {
  a->snapshot_id = b->snapshot_id;
  a->manifests_total += b->manifests_total;
  a->manifests_pruned += b->manifests_pruned;
  a->files_total += b->files_total;
  a->files_pruned_partition += b->files_pruned_partition;
  a->files_pruned_metrics += b->files_pruned_metrics;
  a->files_read += b->files_read;
  a->row_groups_total += b->row_groups_total;
  a->row_groups_pruned_stats += b->row_groups_pruned_stats;
  a->row_groups_pruned_bloom += b->row_groups_pruned_bloom;
  a->pages_total += b->pages_total;
  a->pages_pruned += b->pages_pruned;
  a->rows_read += b->rows_read;
  a->rows_returned += b->rows_returned;
}

/* Scans the planned snapshot with filter and projection ids, calling fn for every row
 * (the rows of a batch last to first: files are sorted oldest first, so the walk meets
 * the newest rows first and refuses the rest cheaply). */
static int scan_rows(al_run *x, const tarn_expr *filter, const int32_t *ids, size_t nids, row_fn fn,
                     tarn_table_scan_stats *acc, tarn_error *err) {
  tarn_table_scan_spec spec;
  tarn_table_scan *s = NULL;
  const tarn_table_batch *b = NULL;
  int64_t i;
  int rc;
  memset(&spec, 0, sizeof(spec));
  spec.snapshot_id = x->snap;
  spec.as_of_ms = -1;
  spec.field_ids = ids;
  spec.nfield_ids = nids;
  spec.filter = filter;
  rc = tarn_table_scan_open(x->t, &spec, &s, err);
  while (rc == 0 && (rc = tarn_table_scan_next(s, &b, err)) == 0 && b != NULL)
    for (i = b->nrows - 1; rc == 0 && i >= 0; i--)
      rc = fn(x, b, i, err);
  if (s != NULL)
    add_stats(acc, tarn_table_scan_stats_get(s));
  tarn_table_scan_close(s);
  return rc;
}

/* Column k of row i: a string's bytes (never NULL) and length, or a long. 0 when null. */
static int str_at(const tarn_table_batch *b, size_t k, int64_t i, const char **p, size_t *n) {
  tarn_ice_value v;
  tarn_ice_value_from_array(&b->fields[k].type, &b->layout[k], &b->cols[k], i, &v);
  *p = v.bytes != NULL ? (const char *)v.bytes : "";
  *n = v.len;
  return !v.is_null;
}

static int long_at(const tarn_table_batch *b, size_t k, int64_t i, int64_t *out) {
  tarn_ice_value v;
  tarn_ice_value_from_array(&b->fields[k].type, &b->layout[k], &b->cols[k], i, &v);
  *out = v.i64;
  return !v.is_null;
}

/* ---- days: where the walk's windows begin and end ---- */

static int64_t floor_div(int64_t a, int64_t b) {
  return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static int add_day(al_run *x, int64_t d) {
  /* years 0001-9999, the times a query can name: no window edge overflows */
  d = d < -719162 ? -719162 : d > 2932896 ? 2932896 : d;
  if (x->has_lo && d < floor_div(x->lo, DAY_MS))
    d = floor_div(x->lo, DAY_MS);
  if (x->has_hi && d > floor_div(x->hi - 1, DAY_MS))
    d = floor_div(x->hi - 1, DAY_MS);
  if (TARN_GROW(x->days, x->dcap, x->ndays + 1, 64) != 0)
    return TARN_ENOMEM;
  x->days[x->ndays++] = d;
  return 0;
}

/* The days of a file's applied_at bounds (its first and last; the windows between two
 * days cover what lies between). */
static int bound_days(al_run *x, const tarn_ice_data_file *f) {
  const tarn_ice_type *ty = &fld(x, TARN_AL_APPLIED_AT)->type;
  tarn_ice_value v;
  size_t j;
  int rc = 0;
  for (j = 0; rc == 0 && j < f->nstats; j++) {
    const tarn_ice_column_stats *s = &f->stats[j];
    if (s->field_id != TARN_AL_APPLIED_AT + 1)
      continue;
    if (s->has_lower &&
        tarn_ice_value_deserialize(ty, (const uint8_t *)s->lower.data, s->lower.len, &v, NULL) == 0)
      rc = add_day(x, floor_div(v.i64, DAY_MS * 1000));
    if (rc == 0 && s->has_upper &&
        tarn_ice_value_deserialize(ty, (const uint8_t *)s->upper.data, s->upper.len, &v, NULL) == 0)
      rc = add_day(x, floor_div(v.i64, DAY_MS * 1000));
  }
  return rc;
}

/* The day of a file: its day(applied_at) partition value, else its bounds' days; none
 * when neither is known (the walk's last window, open below, reads it anyway). */
static int file_days(al_run *x, const tarn_ice_data_file *f) {
  const tarn_ice_spec *spec = tarn_ice_metadata_spec(tarn_table_metadata(x->t), f->spec_id);
  size_t j;
  for (j = 0; spec != NULL && j < spec->nfields && j < f->npartition; j++)
    if (spec->fields[j].source_id == TARN_AL_APPLIED_AT + 1 &&
        spec->fields[j].transform.kind == TARN_ICE_DAY && !f->partition[j].is_null)
      return add_day(x, f->partition[j].i64);
  return bound_days(x, f);
}

static int cmp_desc(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? 1 : x > y ? -1 : 0;
}

/* Plans the snapshot with the filters and the range (manifests only, no data file read)
 * and keeps the distinct days of the files that may match, newest first. So an empty
 * range costs no scan, and years without events cost no window. */
static int find_days(al_run *x, tarn_error *err) {
  tarn_table_scan_options o;
  tarn_expr *filter = NULL;
  tarn_ice_data_file *files = NULL;
  size_t n = 0, i, k = 0;
  int rc = filter_of(x, x->has_lo, x->lo, x->has_hi, x->hi, NULL, &filter, err);
  memset(&o, 0, sizeof(o));
  o.snapshot_id = x->snap;
  o.as_of_ms = -1;
  o.filter = filter;
  if (rc == 0)
    rc = tarn_table_plan(x->t, &o, &files, &n, NULL, NULL, err);
  for (i = 0; rc == 0 && i < n; i++)
    if (file_days(x, &files[i]) != 0)
      rc = tarn_error_set(err, TARN_ENOMEM, "out of memory listing days");
  x->any_files = n > 0;
  if (x->ndays > 1)
    qsort(x->days, x->ndays, sizeof(*x->days), cmp_desc);
  for (i = 0; i < x->ndays; i++)
    if (k == 0 || x->days[k - 1] != x->days[i])
      x->days[k++] = x->days[i];
  x->ndays = k;
  x->st->days = (int64_t)k;
  tarn_ice_data_files_free(files, n);
  tarn_expr_free(filter);
  return rc;
}

/* ---- the walk ---- */

/* Is the event within the query's range and after the cursor? */
static int in_range(const al_run *x, int64_t ms, const char *eid, size_t len) {
  const tarn_al_pos *a = x->q->after;
  if ((x->has_lo && ms < x->lo) || (x->has_hi && ms >= x->hi))
    return 0;
  return a == NULL || tarn__al_before(a->ms, a->event_id, a->len, ms, eid, len);
}

static int walk_row(al_run *x, const tarn_table_batch *b, int64_t i, tarn_error *err) {
  const char *eid;
  size_t len;
  int64_t ms;
  if (!str_at(b, 0, i, &eid, &len) || !long_at(b, 1, i, &ms) || !in_range(x, ms, eid, len))
    return 0;
  if (x->sup.n > 0 && tarn__al_map_find(&x->sup, eid, len) != NULL)
    return 0;
  if (tarn__al_top_offer(&x->top, ms, eid, len) != 0)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory collecting events");
  return 0;
}

static int window(al_run *x, int has_lower, int64_t lower, int has_upper, int64_t upper,
                  tarn_error *err) {
  tarn_expr *f = NULL;
  int rc = filter_of(x, has_lower, lower, has_upper, upper, NULL, &f, err);
  if (rc == 0)
    rc = scan_rows(x, f, pos_ids, 2, walk_row, &x->st->walk, err);
  x->st->windows++;
  tarn_expr_free(f);
  return rc;
}

/* Days of the next window: as many as the events found so far per day say the set still
 * needs, at least 1, at most twice the last window (rows per day vary) and
 * WINDOW_DAYS_MAX. */
static size_t next_width(const al_run *x, size_t w, size_t days_done) {
  size_t need = x->top.cap - x->top.n, most = w * 2 < WINDOW_DAYS_MAX ? w * 2 : WINDOW_DAYS_MAX;
  size_t est = x->top.n > 0 ? (need * days_done + x->top.n - 1) / x->top.n : most;
  return est < 1 ? 1 : est > most ? most : est;
}

/*
 * Scans windows of days newest first until the set of first events is full. Windows tile
 * the range: each ends where the previous one began and the last one is open down to the
 * query's lower bound, so no row is missed whatever the days say; the days only place
 * the edges where files are.
 */
static int walk(al_run *x, tarn_error *err) {
  size_t i = 0, w = 1, n = x->ndays > 0 ? x->ndays : (size_t)x->any_files;
  int has_upper = x->has_hi, rc = 0;
  int64_t upper = x->hi;
  while (rc == 0 && i < n && x->top.n < x->top.cap) {
    size_t last = i + w < n ? i + w - 1 : n - 1;
    int has_lower = last + 1 < n || x->has_lo;
    int64_t lower = last + 1 < n ? x->days[last] * DAY_MS : x->lo;
    rc = window(x, has_lower, lower, has_upper, upper, err);
    has_upper = 1;
    upper = lower;
    i = last + 1;
    w = next_width(x, w, i);
  }
  x->exhausted = i >= n;
  return rc;
}

/* ---- copies before the cursor ---- */

/* A copy of a collected event at or before the cursor: the event was on an earlier page. */
static int lookup_row(al_run *x, const tarn_table_batch *b, int64_t i, tarn_error *err) {
  const tarn_al_pos *a = x->q->after;
  const char *eid;
  size_t len;
  int64_t ms;
  if (!str_at(b, 0, i, &eid, &len) || !long_at(b, 1, i, &ms) ||
      (x->q->has_until && ms >= x->q->until_ms) ||
      tarn__al_before(a->ms, a->event_id, a->len, ms, eid, len) ||
      tarn__al_map_find(&x->top.map, eid, len) == NULL)
    return 0;
  if (tarn__al_map_put(&x->sup, eid, len, 0) != 0)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory collecting events");
  return 0;
}

/* Looks up the n event ids of v: applied_at from the cursor to until, with the filters. */
static int lookup_chunk(al_run *x, const tarn__al_ent *const *v, size_t n, tarn_error *err) {
  tarn_expr *f = NULL, *in = ids_in(x, v, n);
  int rc = in == NULL
               ? tarn_error_set(err, TARN_ENOMEM, "out of memory building a filter")
               : filter_of(x, 1, x->q->after->ms, x->q->has_until, x->q->until_ms, in, &f, err);
  size_t i;
  if (rc == 0)
    rc = scan_rows(x, f, pos_ids, 2, lookup_row, &x->st->lookup, err);
  x->st->lookups++;
  for (i = 0; rc == 0 && i < n; i++)
    if (tarn__al_map_put(&x->done, v[i]->eid, v[i]->len, 0) != 0)
      rc = tarn_error_set(err, TARN_ENOMEM, "out of memory collecting events");
  tarn_expr_free(f);
  return rc;
}

/* Finds the collected events that have a copy at or before the cursor (each looked up
 * once per query) and drops them from the set. */
static int lookup(al_run *x, tarn_error *err) {
  const tarn__al_ent **v = tarn_calloc(x->top.n + 1, sizeof(*v));
  size_t i, n = 0, before = x->sup.n;
  int rc = 0;
  if (v == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory collecting events");
  for (i = 0; i < x->top.n; i++)
    if (tarn__al_map_find(&x->done, x->top.pool[i].eid, x->top.pool[i].len) == NULL)
      v[n++] = &x->top.pool[i];
  for (i = 0; rc == 0 && i < n; i += LOOKUP_CHUNK)
    rc = lookup_chunk(x, v + i, n - i < LOOKUP_CHUNK ? n - i : LOOKUP_CHUNK, err);
  tarn_free(v);
  if (rc == 0 && x->sup.n > before && tarn__al_top_remove(&x->top, &x->sup) != 0)
    rc = tarn_error_set(err, TARN_ENOMEM, "out of memory collecting events");
  return rc;
}

/*
 * Collects the first limit + 1 events after the cursor, one per event_id. Without a
 * cursor one walk does. With one, an event may also have a copy on an earlier page; those
 * are looked up and dropped, and when that leaves too few events where the walk had
 * stopped early (or had pushed events out), it walks again, skipping them, with room for
 * twice as many.
 */
static int collect(al_run *x, tarn_error *err) {
  size_t want = (size_t)x->q->limit + 1, cap = want;
  int rc;
  for (;;) {
    size_t before = x->sup.n;
    if (tarn__al_top_reset(&x->top, cap) != 0)
      return tarn_error_set(err, TARN_ENOMEM, "out of memory collecting events");
    rc = walk(x, err);
    x->st->rounds++;
    if (rc != 0 || x->q->after == NULL)
      return rc;
    rc = lookup(x, err);
    if (rc != 0 || x->sup.n == before || x->top.n >= want || (x->exhausted && !x->top.evicted))
      return rc;
    if (cap >= TOP_CAP_MAX)
      return tarn_error_set(err, TARN_ETOOBIG,
                            "more than %d events of this range have copies on earlier pages",
                            TOP_CAP_MAX);
    cap *= 2;
  }
}

/* ---- the page's rows ---- */

/* Frees what json_dumps returned, with the functions jansson allocates with. */
static void json_free(char *p) {
  json_malloc_t m;
  json_free_t f;
  json_get_alloc_funcs(&m, &f);
  f(p);
}

/* Of two copies at one position (same event_id and applied_at_ms), keep the one whose
 * JSON text sorts first, so every request answers the same one. Takes row. */
static int keep_first(json_t **kept, json_t *row) {
  char *a = json_dumps(*kept, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
  char *b = json_dumps(row, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
  int rc = a != NULL && b != NULL ? 0 : TARN_ENOMEM;
  if (rc == 0 && strcmp(b, a) < 0) {
    json_decref(*kept);
    *kept = json_incref(row);
  }
  json_decref(row);
  json_free(a);
  json_free(b);
  return rc;
}

static int fetch_row(al_run *x, const tarn_table_batch *b, int64_t i, tarn_error *err) {
  const tarn__al_slot *s;
  const char *eid;
  size_t len, k;
  int64_t ms;
  json_t *row;
  if (!str_at(b, TARN_AL_EVENT_ID, i, &eid, &len) || !long_at(b, TARN_AL_APPLIED_AT_MS, i, &ms))
    return 0;
  s = tarn__al_map_find(&x->pmap, eid, len);
  if (s == NULL || x->page[s->val]->ms != ms)
    return 0;
  k = s->val;
  row = tarn__al_row_json(b, i);
  if (row == NULL || (x->rows[k] != NULL && keep_first(&x->rows[k], row) != 0))
    return tarn_error_set(err, TARN_ENOMEM, "out of memory building the page");
  if (x->rows[k] == NULL)
    x->rows[k] = row;
  return 0;
}

/* The page: its first `limit` events, their whole rows read by one scan of their event
 * ids and time range. */
static int fetch(al_run *x, tarn_error *err) {
  static const int32_t all_ids[TARN_AL_NCOLS] = {1, 2,  3,  4,  5,  6,  7,  8,
                                                 9, 10, 11, 12, 13, 14, 15, 16};
  tarn_expr *f = NULL;
  size_t i;
  int rc = 0;
  x->page = tarn__al_top_sorted(&x->top);
  x->npage = x->top.n < (size_t)x->q->limit ? x->top.n : (size_t)x->q->limit;
  x->rows = tarn_calloc(x->npage + 1, sizeof(*x->rows));
  if (x->page == NULL || x->rows == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory building the page");
  if (x->npage == 0)
    return 0;
  for (i = 0; rc == 0 && i < x->npage; i++)
    rc = tarn__al_map_put(&x->pmap, x->page[i]->eid, x->page[i]->len, i);
  if (rc != 0)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory building the page");
  rc = filter_of(x, 1, x->page[x->npage - 1]->ms, 1, x->page[0]->ms + 1,
                 ids_in(x, x->page, x->npage), &f, err);
  if (rc == 0)
    rc = scan_rows(x, f, all_ids, TARN_AL_NCOLS, fetch_row, &x->st->fetch, err);
  tarn_expr_free(f);
  return rc;
}

/* Moves the rows into page->events and sets the next position. */
static int finish(al_run *x, tarn_al_page *page, tarn_error *err) {
  size_t i;
  for (i = 0; i < x->npage; i++) {
    if (x->rows[i] == NULL)
      return tarn_error_set(err, TARN_EINTERNAL,
                            "event %.200s found by the walk was not found again in snapshot %lld",
                            x->page[i]->eid, (long long)x->snap);
    if (json_array_append_new(page->events, x->rows[i]) != 0) {
      x->rows[i] = NULL;
      return tarn_error_set(err, TARN_ENOMEM, "out of memory building the page");
    }
    x->rows[i] = NULL;
  }
  page->has_next = x->top.n > x->npage;
  if (!page->has_next)
    return 0;
  if (x->page[x->npage - 1]->len > TARN_AL_CURSOR_EVENT_ID_MAX)
    return tarn_error_set(err, TARN_ETOOBIG,
                          "the page ends on an event_id of %zu bytes, longer than a cursor "
                          "holds (%d); ask for a page that ends elsewhere (another limit)",
                          x->page[x->npage - 1]->len, TARN_AL_CURSOR_EVENT_ID_MAX);
  page->next.ms = x->page[x->npage - 1]->ms;
  page->next.len = x->page[x->npage - 1]->len;
  memcpy(page->next.event_id, x->page[x->npage - 1]->eid, page->next.len + 1);
  return 0;
}

/* ---- the query ---- */

static int check_query(const tarn_al_query *q, tarn_error *err) {
  const char *v[3] = {q->tenant, q->object_id, q->actor_sub};
  size_t i;
  if (q->limit < 1 || q->limit > TARN_AL_LIMIT_MAX)
    return tarn_error_set(err, TARN_EINVAL, "limit %d: must be 1 to %d", q->limit,
                          TARN_AL_LIMIT_MAX);
  for (i = 0; i < 3; i++)
    if (v[i] != NULL && strlen(v[i]) > TARN_AL_FILTER_MAX)
      return tarn_error_set(err, TARN_EINVAL, "a filter value is longer than %d bytes",
                            TARN_AL_FILTER_MAX);
  if (q->after != NULL && q->after->len > TARN_AL_CURSOR_EVENT_ID_MAX)
    return tarn_error_set(err, TARN_EINVAL, "the cursor's event_id is too long");
  return 0;
}

static void run_init(al_run *x, tarn_table *t, const tarn_al_query *q, tarn_al_page *page) {
  memset(x, 0, sizeof(*x));
  x->t = t;
  x->q = q;
  x->st = &page->stats;
  x->has_lo = q->has_since;
  x->lo = q->since_ms;
  x->has_hi = q->has_until || q->after != NULL;
  x->hi = q->has_until ? q->until_ms : INT64_MAX;
  if (q->after != NULL && q->after->ms < x->hi)
    x->hi = q->after->ms + 1; /* the cursor's own millisecond still holds smaller ids */
  tarn__al_top_init(&x->top);
  tarn__al_map_init(&x->sup, 1);
  tarn__al_map_init(&x->done, 1);
  tarn__al_map_init(&x->pmap, 0);
}

static void run_free(al_run *x) {
  size_t i;
  for (i = 0; x->rows != NULL && i < x->npage; i++)
    json_decref(x->rows[i]);
  tarn_free(x->rows);
  tarn_free(x->page);
  tarn__al_map_free(&x->pmap);
  tarn__al_map_free(&x->done);
  tarn__al_map_free(&x->sup);
  tarn__al_top_free(&x->top);
  tarn_free(x->days);
}

/* The snapshot to read and a check that the table is an action log. */
static int target(al_run *x, tarn_error *err) {
  const char *ns = NULL, *name = NULL;
  char label[300];
  int rc = tarn_table_scan_target(x->t, -1, -1, &x->snap, &x->schema, err);
  if (rc != 0)
    return rc;
  tarn_table_ident(x->t, &ns, &name);
  snprintf(label, sizeof(label), "%s.%s", ns ? ns : "?", name ? name : "?");
  return tarn_action_log_check(TARN_AL_MAIN, label, x->schema, tarn_table_spec(x->t), err);
}

static void log_page(const al_run *x, const tarn_al_page *page) {
  const tarn_al_stats *s = &page->stats;
  tarn_log_debug("action log page",
                 "snapshot=%lld days=%lld windows=%lld rounds=%lld lookups=%lld "
                 "files_read=%lld walk_files=%lld lookup_files=%lld fetch_files=%lld "
                 "rows_read=%lld events=%zu more=%d",
                 (long long)x->snap, (long long)s->days, (long long)s->windows,
                 (long long)s->rounds, (long long)s->lookups,
                 (long long)(s->walk.files_read + s->lookup.files_read + s->fetch.files_read),
                 (long long)s->walk.files_read, (long long)s->lookup.files_read,
                 (long long)s->fetch.files_read,
                 (long long)(s->walk.rows_read + s->lookup.rows_read + s->fetch.rows_read),
                 x->npage, page->has_next);
}

int tarn_action_log_query(tarn_table *t, const tarn_al_query *q, tarn_al_page *page,
                          tarn_error *err) {
  al_run x;
  int rc;
  memset(page, 0, sizeof(*page));
  page->stats.snapshot_id = -1;
  page->events = json_array();
  if (page->events == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  rc = check_query(q, err);
  if (rc != 0)
    return rc;
  run_init(&x, t, q, page);
  rc = target(&x, err);
  page->stats.snapshot_id = x.snap;
  if (rc != 0 || x.snap < 0 || (x.has_lo && x.has_hi && x.lo >= x.hi))
    goto out; /* an empty table or range: no event */
  if ((rc = find_days(&x, err)) != 0 || (rc = collect(&x, err)) != 0 ||
      (rc = fetch(&x, err)) != 0 || (rc = finish(&x, page, err)) != 0)
    goto out;
  log_page(&x, page);
out:
  run_free(&x);
  return rc;
}

void tarn_al_page_free(tarn_al_page *page) {
  if (page == NULL)
    return;
  json_decref(page->events);
  page->events = NULL;
}
