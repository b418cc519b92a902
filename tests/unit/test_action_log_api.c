/* test_action_log_api.c - GET /action-log/events on a live server (http/action_log_routes.c,
 * sink/action_log_query.c): filters, time bounds, every page against a model, one row per
 * event_id, refusals, and pruning measured by the data files the scans open. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "catalog/catalog.h"
#include "http/http.h"
#include "sink/action_log.h"
#include "store/store.h"
#include "table/scan.h"
#include "table/table.h"

#define DAY_MS 86400000LL
#define D0 1796083200000LL /* 2026-12-01T00:00:00Z */
#define MAX_EVENTS 4096

/* ---- a store that records the keys read through it ---- */

typedef struct counting {
  tarn_store base;
  tarn_store *inner;
  pthread_mutex_t mu;
  int on;
  char **keys;
  size_t n;
} counting;

static tarn_store *inner_of(tarn_store *st) { return ((counting *)st)->inner; }

static void record(tarn_store *st, const char *key) {
  counting *c = (counting *)st;
  pthread_mutex_lock(&c->mu);
  if (c->on && strstr(key, ".parquet") != NULL) {
    c->keys = realloc(c->keys, (c->n + 1) * sizeof(*c->keys));
    c->keys[c->n++] = strdup(key);
  }
  pthread_mutex_unlock(&c->mu);
}

static void counting_reset(tarn_store *st, int on) {
  counting *c = (counting *)st;
  size_t i;
  pthread_mutex_lock(&c->mu);
  for (i = 0; i < c->n; i++)
    free(c->keys[i]);
  c->n = 0;
  c->on = on;
  pthread_mutex_unlock(&c->mu);
}

static int c_writer_open(tarn_store *st, const char *key, unsigned flags, tarn_store_writer **out,
                         tarn_error *err) {
  return tarn_store_writer_open(inner_of(st), key, flags, out, err);
}
static int c_get(tarn_store *st, const char *key, tarn_buf *out, tarn_error *err) {
  record(st, key);
  return tarn_store_get(inner_of(st), key, out, err);
}
static int c_get_range(tarn_store *st, const char *key, uint64_t off, uint64_t len, tarn_buf *out,
                       tarn_error *err) {
  record(st, key);
  return tarn_store_get_range(inner_of(st), key, off, len, out, err);
}
static int c_head(tarn_store *st, const char *key, tarn_store_stat *out, tarn_error *err) {
  return tarn_store_head(inner_of(st), key, out, err);
}
static int c_list(tarn_store *st, const char *prefix, const char *start_after, size_t max_keys,
                  tarn_store_listing *out, tarn_error *err) {
  return tarn_store_list(inner_of(st), prefix, start_after, max_keys, out, err);
}
static int c_del(tarn_store *st, const char *key, tarn_error *err) {
  return tarn_store_delete(inner_of(st), key, err);
}
static void c_destroy(tarn_store *st) {
  counting *c = (counting *)st;
  counting_reset(st, 0);
  free(c->keys);
  tarn_store_destroy(c->inner);
  pthread_mutex_destroy(&c->mu);
  free(c);
}
static int c_reader_open(tarn_store *st, const char *key, tarn_store_reader **out,
                         tarn_error *err) {
  record(st, key);
  return tarn_store_reader_open(inner_of(st), key, out, err);
}
static int c_sweep(tarn_store *st, const char *prefix, int64_t before_ms, int dry_run,
                   tarn_store_temp_fn each, void *arg, size_t *count, tarn_error *err) {
  return tarn_store_sweep(inner_of(st), prefix, before_ms, dry_run, each, arg, count, err);
}

static const tarn_store_ops counting_ops = {"counting",    c_writer_open, c_get, c_get_range,
                                            c_head,        c_list,        c_del, c_destroy,
                                            c_reader_open, c_sweep};

/* ---- fixture ---- */

typedef struct fixture {
  char dir[64], db[128];
  char root_uri[PATH_MAX + 16];
  tarn_store *st; /* counting, around the local store */
  tarn_catalog *cat;
  tarn_table_io io;
  tarn_http_server *srv;
  char base[64];
  int catalog_down;
} fixture;

static int open_catalog(void *arg, tarn_catalog **out, tarn_error *err) {
  fixture *fx = arg;
  if (fx->catalog_down)
    return tarn_error_set(err, TARN_ENETWORK, "catalog unreachable (test)");
  return tarn_catalog_sqlite_open(fx->db, NULL, out, err);
}

static int setup(void **state) {
  fixture *fx = calloc(1, sizeof(*fx));
  counting *c = calloc(1, sizeof(*c));
  char real[PATH_MAX];
  tarn_http_options o;
  tarn_http_action_log_options ao;
  snprintf(fx->dir, sizeof(fx->dir), "/tmp/tarn_test_al_XXXXXX");
  assert_non_null(mkdtemp(fx->dir));
  assert_non_null(realpath(fx->dir, real));
  snprintf(fx->root_uri, sizeof(fx->root_uri), "file://%s/", real);
  snprintf(fx->db, sizeof(fx->db), "%s/catalog.db", fx->dir);
  c->base.ops = &counting_ops;
  pthread_mutex_init(&c->mu, NULL);
  assert_int_equal(tarn_store_local_open(fx->dir, &c->inner, NULL), 0);
  fx->st = &c->base;
  fx->io.store = fx->st;
  fx->io.root_uri = fx->root_uri;
  assert_int_equal(tarn_catalog_sqlite_open(fx->db, NULL, &fx->cat, NULL), 0);
  assert_int_equal(tarn_catalog_create_namespace(fx->cat, "default", NULL, 0, NULL), 0);
  memset(&o, 0, sizeof(o));
  o.listen = "127.0.0.1:0";
  assert_int_equal(tarn_http_server_create(&fx->srv, &o, NULL), 0);
  memset(&ao, 0, sizeof(ao));
  ao.store = fx->st;
  ao.root_uri = fx->root_uri;
  ao.open_catalog = open_catalog;
  ao.open_catalog_arg = fx;
  assert_int_equal(tarn_http_add_action_log_routes(fx->srv, &ao, NULL), 0);
  assert_int_equal(tarn_http_server_start(fx->srv, NULL), 0);
  snprintf(fx->base, sizeof(fx->base), "http://%s", tarn_http_server_address(fx->srv));
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fixture *fx = *state;
  char cmd[128];
  tarn_http_server_destroy(fx->srv);
  tarn_catalog_destroy(fx->cat);
  tarn_store_destroy(fx->st);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", fx->dir);
  assert_int_equal(system(cmd), 0);
  free(fx);
  return 0;
}

/* ---- events: the model ---- */

typedef struct ev {
  char eid[32];
  int64_t ms;
  int n; /* drives the other columns */
  char status[16];
} ev;

static ev evs[MAX_EVENTS]; /* every row written, copies included */
static size_t nevs;

static void ev_set(ev *e, int n, const char *eid, int64_t ms) {
  memset(e, 0, sizeof(*e));
  if (eid != NULL)
    snprintf(e->eid, sizeof(e->eid), "%.31s", eid);
  else
    snprintf(e->eid, sizeof(e->eid), "ev-%06d", n);
  e->ms = ms;
  e->n = n;
  snprintf(e->status, sizeof(e->status), "%s", n % 9 == 0 ? "failed" : "ok");
}

/* Column col of e as text (is_null, or the string; longs as i). */
static const char *ev_text(const ev *e, int col, char *buf, size_t n) {
  int k = e->n;
  switch (col) {
  case TARN_AL_EVENT_ID: return e->eid;
  case TARN_AL_ACTION_TYPE_ID: snprintf(buf, n, "at-%d", k % 5); return buf;
  case TARN_AL_ACTION_NAME: snprintf(buf, n, "action %d", k % 5); return buf;
  case TARN_AL_OBJECT_TYPE_ID: return "document";
  case TARN_AL_OBJECT_ID:
    if (k % 7 == 0)
      return NULL;
    snprintf(buf, n, "obj-%d", k % 4);
    return buf;
  case TARN_AL_TENANT: snprintf(buf, n, "t%d", k % 3); return buf;
  case TARN_AL_ACTOR_SUB: snprintf(buf, n, "u%d", k % 5); return buf;
  case TARN_AL_ACTOR_EMAIL:
    if (k % 2)
      return NULL;
    snprintf(buf, n, "u%d@example.com", k % 5);
    return buf;
  case TARN_AL_ORGANIZATION_ID: return k % 3 == 0 ? NULL : "org-1";
  case TARN_AL_STATUS: return e->status;
  case TARN_AL_TARGET_CLASSIFICATION: return k % 5 == 0 ? "internal" : NULL;
  case TARN_AL_PARAMETERS:
    if (k % 4 == 0)
      return NULL;
    snprintf(buf, n, "{\"n\":%d,\"tags\":[\"a\",\"b\"],\"nested\":{\"x\":null}}", k);
    return buf;
  case TARN_AL_PREVIOUS_STATE: return k % 3 == 0 ? "\"draft\"" : k % 3 == 1 ? NULL : "[1,2,3]";
  case TARN_AL_NEW_STATE: snprintf(buf, n, "{\"v\":%d,\"ok\":true}", k); return buf;
  default: return NULL;
  }
}

/* The JSON the API answers for e. */
static json_t *ev_json(const ev *e) {
  json_t *o = json_object();
  char buf[128], iso[TARN_TIME_ISO_MAX];
  int col;
  for (col = 0; col < TARN_AL_NCOLS; col++) {
    const char *s = ev_text(e, col, buf, sizeof(buf));
    json_t *v;
    if (col == TARN_AL_APPLIED_AT_MS)
      v = json_integer(e->ms);
    else if (col == TARN_AL_APPLIED_AT)
      v = json_string(tarn_time_iso8601(e->ms * 1000, 3, iso, sizeof(iso)));
    else if (s == NULL)
      v = json_null();
    else if (col >= TARN_AL_PARAMETERS)
      v = json_loads(s, JSON_DECODE_ANY, NULL);
    else
      v = json_string(s);
    json_object_set_new(o, tarn_action_log_names[col], v);
  }
  return o;
}

/* ---- writing the table ---- */

static tarn_table *create_table(fixture *fx) {
  tarn_ice_schema s;
  tarn_ice_spec spec;
  tarn_ice_sort_order order;
  tarn_table *t = NULL;
  tarn_error err;
  assert_int_equal(tarn_action_log_layout(TARN_AL_MAIN, &s, &spec, &order, NULL), 0);
  if (tarn_table_create(fx->cat, &fx->io, "default", "action_log", &s, &spec, &order, NULL, 0, NULL,
                        &t, &err) != 0)
    fail_msg("create: %s", tarn_error_message(&err));
  tarn_ice_schema_free(&s);
  tarn_ice_spec_free(&spec);
  tarn_ice_sort_order_free(&order);
  return t;
}

static void make_table(fixture *fx) { tarn_table_close(create_table(fx)); }

static void fill_row(tarn_pq_builder *b, const tarn_pq_column *cols, const ev *e, int64_t row) {
  char buf[128];
  int col;
  for (col = 0; col < TARN_AL_NCOLS; col++) {
    const char *s = ev_text(e, col, buf, sizeof(buf));
    int64_t v = col == TARN_AL_APPLIED_AT ? e->ms * 1000 : e->ms;
    if (col == TARN_AL_APPLIED_AT_MS || col == TARN_AL_APPLIED_AT)
      tarn_pq_builder_fixed(&b[col], row, &v);
    else if (s == NULL)
      tarn_pq_builder_null(&b[col], row);
    else
      assert_int_equal(tarn_pq_builder_bytes(&b[col], row, s, strlen(s), NULL), 0);
  }
  (void)cols;
}

/* Appends rows [first, first + n) of evs in one commit, in the order given by `shuffle`
 * (0: as they are; else a fixed permutation, so files are not sorted). Bloom filters on
 * the filter columns, small row groups and pages, as a sink writing often would. */
static void append(fixture *fx, size_t first, size_t n, int shuffle) {
  tarn_table *t = NULL;
  tarn_pq_schema pq;
  tarn_pq_builder b[TARN_AL_NCOLS];
  tarn_pq_array arr[TARN_AL_NCOLS];
  tarn_pq_batch batch;
  tarn_pq_writer_options o;
  tarn_pq_column_options co[4];
  tarn_table_writer *w;
  tarn_ice_data_file *files;
  tarn_table_commit_result res;
  tarn_error err;
  size_t nf, i;
  int c;
  assert_int_equal(tarn_table_load(fx->cat, &fx->io, "default", "action_log", &t, NULL), 0);
  assert_int_equal(tarn_ice_schema_to_parquet(tarn_table_schema(t), &pq, NULL), 0);
  for (c = 0; c < TARN_AL_NCOLS; c++)
    assert_int_equal(tarn_pq_builder_init(&b[c], &pq.cols[c], (int64_t)n, 0, NULL), 0);
  for (i = 0; i < n; i++)
    fill_row(b, pq.cols, &evs[first + (shuffle ? (i * 7919) % n : i)], (int64_t)i);
  for (c = 0; c < TARN_AL_NCOLS; c++) {
    tarn_pq_builder_array(&b[c], (int64_t)n, &arr[c]);
    if (!pq.cols[c].optional)
      arr[c].validity = NULL;
  }
  batch.nrows = (int64_t)n;
  batch.ncols = TARN_AL_NCOLS;
  batch.cols = arr;
  memset(&o, 0, sizeof(o));
  memset(co, 0, sizeof(co));
  co[0].field_id = TARN_AL_TENANT + 1;
  co[1].field_id = TARN_AL_OBJECT_ID + 1;
  co[2].field_id = TARN_AL_ACTOR_SUB + 1;
  co[3].field_id = TARN_AL_EVENT_ID + 1;
  for (c = 0; c < 4; c++) {
    co[c].bloom_filter = 1;
    co[c].dictionary = -1;
  }
  o.codec = TARN_PQ_SNAPPY;
  o.row_group_rows = 64;
  o.columns = co;
  o.ncolumns = 4;
  assert_int_equal(tarn_table_writer_open(t, &o, &w, NULL), 0);
  if (tarn_table_writer_write(w, &batch, &err) != 0)
    fail_msg("write: %s", tarn_error_message(&err));
  assert_int_equal(tarn_table_writer_close(w, &files, &nf, NULL), 0);
  if (tarn_table_append(t, files, nf, NULL, 0, &res, &err) != 0)
    fail_msg("append: %s", tarn_error_message(&err));
  tarn_ice_data_files_free(files, nf);
  for (c = 0; c < TARN_AL_NCOLS; c++)
    tarn_pq_builder_free(&b[c]);
  tarn_pq_schema_free(&pq);
  tarn_table_close(t);
}

/* ---- a small curl client ---- */

typedef struct reply {
  long status;
  char *body;
  size_t len;
  json_t *json;
} reply;

static size_t on_body(char *p, size_t sz, size_t n, void *ud) {
  reply *r = ud;
  r->body = realloc(r->body, r->len + sz * n + 1);
  memcpy(r->body + r->len, p, sz * n);
  r->len += sz * n;
  r->body[r->len] = '\0';
  return sz * n;
}

/* GET path (already URL-encoded as the caller wants it sent). */
static reply *get(fixture *fx, const char *path) {
  reply *r = calloc(1, sizeof(*r));
  char url[8192];
  CURL *c = curl_easy_init();
  snprintf(url, sizeof(url), "%s%s", fx->base, path);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
  assert_int_equal(curl_easy_perform(c), CURLE_OK);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
  curl_easy_cleanup(c);
  if (r->body != NULL)
    r->json = json_loads(r->body, 0, NULL);
  return r;
}

static void reply_free(reply *r) {
  json_decref(r->json);
  free(r->body);
  free(r);
}

static const char *err_code(const reply *r) {
  return json_string_value(json_object_get(json_object_get(r->json, "error"), "code"));
}

static const char *err_msg(const reply *r) {
  return json_string_value(json_object_get(json_object_get(r->json, "error"), "message"));
}

/* Expects a 400 with `code` whose message contains `part`. */
static void expect_400(fixture *fx, const char *path, const char *code, const char *part) {
  reply *r = get(fx, path);
  if (r->status != 400 || r->json == NULL || strcmp(err_code(r), code) != 0 ||
      strstr(err_msg(r), part) == NULL)
    fail_msg("%s: want 400 %s with \"%s\"; got %ld %s", path, code, part, r->status,
             r->body ? r->body : "");
  reply_free(r);
}

/* ---- the model of a query ---- */

typedef struct mq {
  const char *tenant, *object_id, *actor_sub;
  int has_since, has_until;
  int64_t since_ms, until_ms;
} mq;

static int matches(const mq *q, const ev *e) {
  char buf[128];
  const char *s;
  if (q->has_since && e->ms < q->since_ms)
    return 0;
  if (q->has_until && e->ms >= q->until_ms)
    return 0;
  if (q->tenant && strcmp(ev_text(e, TARN_AL_TENANT, buf, sizeof(buf)), q->tenant) != 0)
    return 0;
  s = ev_text(e, TARN_AL_OBJECT_ID, buf, sizeof(buf));
  if (q->object_id && (s == NULL || strcmp(s, q->object_id) != 0))
    return 0;
  return !q->actor_sub ||
         strcmp(ev_text(e, TARN_AL_ACTOR_SUB, buf, sizeof(buf)), q->actor_sub) == 0;
}

static char *dump(const json_t *j) { return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS); }

/* e comes before f in the API's order (copies at one position: the smaller JSON first). */
static int model_before(const ev *e, const ev *f) {
  int c;
  if (e->ms != f->ms)
    return e->ms > f->ms;
  c = strcmp(e->eid, f->eid);
  if (c != 0)
    return c > 0;
  {
    json_t *a = ev_json(e), *b = ev_json(f);
    char *sa = dump(a), *sb = dump(b);
    c = strcmp(sa, sb);
    tarn_free(sa);
    tarn_free(sb);
    json_decref(a);
    json_decref(b);
    return c < 0;
  }
}

static int cmp_model(const void *a, const void *b) {
  const ev *e = *(const ev *const *)a, *f = *(const ev *const *)b;
  return model_before(e, f) ? -1 : model_before(f, e) ? 1 : 0;
}

/* The answer the API must give, every page together: the matching rows in order, the
 * first copy of each event_id only. *out is malloc'd. */
static size_t model(const mq *q, const ev ***out) {
  const ev **v = calloc(nevs + 1, sizeof(*v));
  size_t i, j, n = 0, k = 0;
  for (i = 0; i < nevs; i++)
    if (matches(q, &evs[i]))
      v[n++] = &evs[i];
  qsort(v, n, sizeof(*v), cmp_model);
  for (i = 0; i < n; i++) {
    for (j = 0; j < k && strcmp(v[j]->eid, v[i]->eid) != 0; j++)
      ;
    if (j == k)
      v[k++] = v[i];
  }
  *out = v;
  return k;
}

/* Appends "&name=value" (value URL-encoded) to a query string. */
static void add_param(char *qs, size_t n, const char *name, const char *value) {
  CURL *c = curl_easy_init();
  char *enc = curl_easy_escape(c, value, 0);
  size_t len = strlen(qs);
  snprintf(qs + len, n - len, "%s%s=%s", len ? "&" : "", name, enc);
  curl_free(enc);
  curl_easy_cleanup(c);
}

static void query_string(const mq *q, char *qs, size_t n, int ms_form) {
  char t[64];
  qs[0] = '\0';
  if (q->tenant)
    add_param(qs, n, "tenant", q->tenant);
  if (q->object_id)
    add_param(qs, n, "object_id", q->object_id);
  if (q->actor_sub)
    add_param(qs, n, "actor_sub", q->actor_sub);
  if (q->has_since) {
    if (ms_form)
      snprintf(t, sizeof(t), "%lld", (long long)q->since_ms);
    else
      tarn_time_iso8601(q->since_ms * 1000, 3, t, sizeof(t));
    add_param(qs, n, "since", t);
  }
  if (q->has_until) {
    if (ms_form)
      snprintf(t, sizeof(t), "%lld", (long long)q->until_ms);
    else
      tarn_time_iso8601(q->until_ms * 1000, 3, t, sizeof(t));
    add_param(qs, n, "until", t);
  }
}

/* Pages through the query with `limit` and checks the whole answer against the model:
 * every event once, in order, with every column; next_cursor null exactly at the end. */
static void check_pages(fixture *fx, const mq *q, int limit, int ms_form) {
  const ev **want;
  size_t nwant = model(q, &want), got = 0, pages = 0, i;
  char qs[2048], path[8192], cursor[4096] = "";
  for (;;) {
    reply *r;
    json_t *events;
    const json_t *next;
    query_string(q, qs, sizeof(qs), ms_form);
    snprintf(qs + strlen(qs), sizeof(qs) - strlen(qs), "%slimit=%d", qs[0] ? "&" : "", limit);
    if (cursor[0] != '\0')
      snprintf(path, sizeof(path), "/action-log/events?%s&cursor=%s", qs, cursor);
    else
      snprintf(path, sizeof(path), "/action-log/events?%s", qs);
    r = get(fx, path);
    if (r->status != 200)
      fail_msg("%s: %ld %s", path, r->status, r->body);
    events = json_object_get(r->json, "events");
    next = json_object_get(r->json, "next_cursor");
    assert_true(json_is_array(events));
    assert_true(json_array_size(events) <= (size_t)limit);
    for (i = 0; i < json_array_size(events); i++, got++) {
      json_t *w;
      if (got >= nwant)
        fail_msg("%s: more events than the model's %zu", path, nwant);
      w = ev_json(want[got]);
      if (!json_equal(w, json_array_get(events, i))) {
        char *a = dump(w), *b = dump(json_array_get(events, i));
        fail_msg("%s: event %zu: want %s\ngot %s", path, got, a, b);
      }
      json_decref(w);
    }
    pages++;
    if (json_is_null(next)) {
      reply_free(r);
      break;
    }
    assert_true(json_is_string(next));
    assert_int_equal(json_array_size(events), limit); /* a page is short only at the end */
    snprintf(cursor, sizeof(cursor), "%s", json_string_value(next));
    reply_free(r);
    assert_true(pages <= nwant + 1);
  }
  if (got != nwant)
    fail_msg("query %s limit %d: %zu events, model %zu", qs, limit, got, nwant);
  free(want);
}

/* ---- data sets ---- */

/* 9 days of events, a few from 2019 (a gap of years), several at one millisecond (the
 * event_id decides), four commits, copies: the same rows appended again, and copies of
 * event ids at other times and with other columns. */
static void main_data(fixture *fx) {
  size_t i, base;
  make_table(fx);
  nevs = 0;
  for (i = 0; i < 300; i++) {
    int64_t ms = D0 + (int64_t)(i % 9) * DAY_MS + (int64_t)((i * 7919) % 86400) * 1000;
    if (i % 10 == 1)
      ms = evs[nevs - 1].ms; /* same millisecond as the one before */
    ev_set(&evs[nevs++], (int)i, NULL, ms);
  }
  append(fx, 0, 150, 1);
  append(fx, 150, 150, 0);
  base = nevs;
  for (i = 0; i < 5; i++) /* 2019: years before the rest */
    ev_set(&evs[nevs++], 1000 + (int)i, NULL, 1546300800000LL + (int64_t)i * 3600000);
  for (i = 0; i < 40; i++) /* the same rows again, by hand */
    evs[nevs++] = evs[i * 7];
  append(fx, base, nevs - base, 1);
  base = nevs;
  for (i = 0; i < 12; i++) { /* one id, another time or other columns */
    ev *o = &evs[i * 23 + 5];
    int64_t shift = i % 3 == 0 ? -2 * DAY_MS : i % 3 == 1 ? 3 * 3600000LL : 0;
    ev_set(&evs[nevs], o->n + 7, o->eid, o->ms + shift);
    snprintf(evs[nevs].status, sizeof(evs[nevs].status), "copy-%d", (int)i);
    nevs++;
  }
  append(fx, base, nevs - base, 0);
}

/* ---- tests ---- */

static void test_pages_match_model(void **state) {
  fixture *fx = *state;
  static const int limits[] = {1, 7, 1000};
  mq qs[8];
  size_t i, k;
  main_data(fx);
  memset(qs, 0, sizeof(qs));
  qs[1].tenant = "t1";
  qs[2].object_id = "obj-2";
  qs[3].actor_sub = "u3";
  qs[3].tenant = "t0";
  qs[4].has_since = 1;
  qs[4].since_ms = D0 + 2 * DAY_MS + 3600000;
  qs[4].has_until = 1;
  qs[4].until_ms = D0 + 5 * DAY_MS;
  qs[5].has_until = 1;
  qs[5].until_ms = D0 + DAY_MS;
  qs[6].has_since = 1;
  qs[6].since_ms = D0 + 8 * DAY_MS;
  qs[7].tenant = "t2";
  qs[7].has_since = 1;
  qs[7].since_ms = 1546300800000LL + 3600000;
  qs[7].has_until = 1;
  qs[7].until_ms = D0 + 3 * DAY_MS + 1;
  for (i = 0; i < 8; i++)
    for (k = 0; k < 3; k++)
      check_pages(fx, &qs[i], limits[k], (int)(i + k) % 2);
}

static void test_one_row_per_event_id(void **state) {
  fixture *fx = *state;
  reply *r;
  json_t *events;
  size_t i, j, copies = 0;
  main_data(fx);
  r = get(fx, "/action-log/events?limit=1000");
  assert_int_equal(r->status, 200);
  events = json_object_get(r->json, "events");
  for (i = 0; i < json_array_size(events); i++)
    for (j = i + 1; j < json_array_size(events); j++)
      assert_string_not_equal(
          json_string_value(json_object_get(json_array_get(events, i), "event_id")),
          json_string_value(json_object_get(json_array_get(events, j), "event_id")));
  for (i = 0; i < json_array_size(events); i++) /* copies moved 3 h later win */
    if (strncmp(json_string_value(json_object_get(json_array_get(events, i), "status")), "copy-",
                5) == 0)
      copies++;
  assert_true(copies >= 4);
  assert_true(json_is_null(json_object_get(r->json, "next_cursor")));
  reply_free(r);
}

static void test_values(void **state) {
  fixture *fx = *state;
  reply *r;
  const json_t *e;
  make_table(fx);
  nevs = 0;
  ev_set(&evs[nevs++], 5, "only", D0 + 1234);
  append(fx, 0, 1, 0);
  r = get(fx, "/action-log/events");
  assert_int_equal(r->status, 200);
  e = json_array_get(json_object_get(r->json, "events"), 0);
  assert_string_equal(json_string_value(json_object_get(e, "applied_at")),
                      "2026-12-01T00:00:01.234Z");
  assert_int_equal(json_integer_value(json_object_get(e, "applied_at_ms")), D0 + 1234);
  assert_int_equal(json_integer_value(json_object_get(json_object_get(e, "parameters"), "n")), 5);
  assert_true(json_is_null(
      json_object_get(json_object_get(json_object_get(e, "parameters"), "nested"), "x")));
  assert_int_equal(json_array_size(json_object_get(e, "previous_state")), 3);
  assert_true(json_is_true(json_object_get(json_object_get(e, "new_state"), "ok")));
  assert_true(json_is_null(json_object_get(e, "actor_email")));
  assert_string_equal(json_string_value(json_object_get(e, "object_id")), "obj-1");
  assert_string_equal(json_string_value(json_object_get(e, "target_classification")), "internal");
  assert_true(json_is_null(json_object_get(r->json, "next_cursor")));
  assert_int_equal(json_object_size(e), TARN_AL_NCOLS);
  reply_free(r);
}

/* since is inclusive, until exclusive, at the millisecond, in every accepted form. */
static void test_time_bounds(void **state) {
  fixture *fx = *state;
  static const struct {
    const char *qs;
    const char *ids; /* event ids answered, in order */
  } cases[] = {
      {"since=2026-12-01T10:00:00Z", "d,c,b"},
      {"since=2026-12-01T10:00:00.000Z&until=2026-12-01T10:00:00.002Z", "c,b"},
      {"since=1796119200000&until=1796119200002", "c,b"},
      {"since=1796119200001&until=1796119200002", "c"},
      {"until=2026-12-01T10:00:00Z", "a"},
      {"until=2026-12-01T10:00:00.0000001Z", "b,a"}, /* 100 ns past ms 0: holds ms 0 */
      {"since=2026-12-01T10:00:00.0005Z", "d,c"},    /* half a ms: from the next ms */
      {"since=2026-12-01T11:00:00%2B01:00&until=2026-12-01T11:00:00.002%2B01:00", "c,b"},
      {"since=2026-12-01T11:00:00+01:00&until=2026-12-01T11:00:00.002+01:00", "c,b"}, /* '+' */
      {"since=2026-12-01t05:00:00.001-05:00", "d,c"},
      {"since=2026-12-01%2010:00:00.001z", "d,c"},
      {"since=2026-12-02", ""},
      {"until=2026-12-01", ""},
      {"since=2026-12-01&until=2026-12-02", "d,c,b,a"},
  };
  size_t i;
  make_table(fx);
  nevs = 0;
  ev_set(&evs[nevs++], 1, "a", D0 + 36000000 - 1); /* 09:59:59.999 */
  ev_set(&evs[nevs++], 2, "b", D0 + 36000000);     /* 10:00:00.000 */
  ev_set(&evs[nevs++], 3, "c", D0 + 36000000 + 1);
  ev_set(&evs[nevs++], 4, "d", D0 + 36000000 + 2);
  append(fx, 0, nevs, 0);
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char path[512], got[256] = "";
    reply *r;
    json_t *events;
    size_t k;
    snprintf(path, sizeof(path), "/action-log/events?%s", cases[i].qs);
    r = get(fx, path);
    if (r->status != 200)
      fail_msg("%s: %ld %s", path, r->status, r->body);
    events = json_object_get(r->json, "events");
    for (k = 0; k < json_array_size(events); k++)
      snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", k ? "," : "",
               json_string_value(json_object_get(json_array_get(events, k), "event_id")));
    if (strcmp(got, cases[i].ids) != 0)
      fail_msg("%s: want [%s] got [%s]", path, cases[i].ids, got);
    reply_free(r);
  }
}

static void test_refusals(void **state) {
  fixture *fx = *state;
  reply *r;
  char path[8192], cursor[4096], keep;
  make_table(fx);
  nevs = 0;
  ev_set(&evs[nevs++], 1, "a", D0); /* both of tenant t1 */
  ev_set(&evs[nevs++], 4, "b", D0 + 1);
  append(fx, 0, nevs, 0);
  expect_400(fx, "/action-log/events?limit=0", "invalid_argument", "limit=\"0\"");
  expect_400(fx, "/action-log/events?limit=1001", "invalid_argument", "from 1 to 1000");
  expect_400(fx, "/action-log/events?limit=-1", "invalid_argument", "limit");
  expect_400(fx, "/action-log/events?limit=10x", "invalid_argument", "limit");
  expect_400(fx, "/action-log/events?limit=99999999999999999999", "invalid_argument", "limit");
  expect_400(fx, "/action-log/events?since=yesterday", "invalid_argument", "since: \"yesterday\"");
  expect_400(fx, "/action-log/events?since=yesterday", "invalid_argument", "RFC 3339");
  expect_400(fx, "/action-log/events?until=2026-02-30T00:00:00Z", "invalid_argument", "until");
  expect_400(fx, "/action-log/events?until=2026-12-01T00:00:00", "invalid_argument", "offset");
  expect_400(fx, "/action-log/events?since=2026-12-01T25:00:00Z", "invalid_argument", "since");
  expect_400(fx, "/action-log/events?since=2026-12-01T00:00:00.1234567891Z", "invalid_argument",
             "fraction");
  expect_400(fx, "/action-log/events?since=2026-12-02&until=2026-12-01", "invalid_argument",
             "must be before until");
  expect_400(fx, "/action-log/events?since=1796083200000&until=2026-12-01T00:00:00Z",
             "invalid_argument", "must be before until");
  expect_400(fx, "/action-log/events?tenant=", "invalid_argument", "tenant is empty");
  expect_400(fx, "/action-log/events?tenant=a&tenant=b", "invalid_argument",
             "tenant is given 2 times");
  expect_400(fx, "/action-log/events?tenants=a", "invalid_argument", "tenants");
  expect_400(fx, "/action-log/events?cursor=", "invalid_argument", "cursor is empty");
  expect_400(fx, "/action-log/events?cursor=not%20base64", "invalid_cursor", "cursor");
  expect_400(fx, "/action-log/events?cursor=AAAA", "invalid_cursor", "cut short");
  /* a real cursor, changed, or used for another query */
  r = get(fx, "/action-log/events?limit=1&tenant=t1");
  assert_int_equal(r->status, 200);
  snprintf(cursor, sizeof(cursor), "%s",
           json_string_value(json_object_get(r->json, "next_cursor")));
  reply_free(r);
  snprintf(path, sizeof(path), "/action-log/events?tenant=t1&cursor=%s", cursor);
  r = get(fx, path);
  assert_int_equal(r->status, 200);
  reply_free(r);
  keep = cursor[5];
  cursor[5] = keep == 'A' ? 'B' : 'A';
  snprintf(path, sizeof(path), "/action-log/events?tenant=t1&cursor=%s", cursor);
  expect_400(fx, path, "invalid_cursor", "changed");
  cursor[5] = keep;
  snprintf(path, sizeof(path), "/action-log/events?tenant=t2&cursor=%s", cursor);
  expect_400(fx, path, "invalid_cursor", "another query");
  snprintf(path, sizeof(path), "/action-log/events?cursor=%s", cursor);
  expect_400(fx, path, "invalid_cursor", "another query");
  snprintf(path, sizeof(path), "/action-log/events?tenant=t1&cursor=%sA", cursor);
  expect_400(fx, path, "invalid_cursor", "cursor");
  r = get(fx, "/action-log/events");
  assert_int_equal(r->status, 200);
  reply_free(r);
}

static void test_missing_and_empty(void **state) {
  fixture *fx = *state;
  reply *r = get(fx, "/action-log/events");
  tarn_table *t;
  assert_int_equal(r->status, 404);
  assert_string_equal(err_code(r), "not_found");
  assert_non_null(strstr(err_msg(r), "default.action_log does not exist yet"));
  reply_free(r);
  t = create_table(fx); /* no snapshot yet */
  tarn_table_close(t);
  r = get(fx, "/action-log/events?tenant=t1&since=2026-01-01T00:00:00Z");
  assert_int_equal(r->status, 200);
  assert_int_equal(json_array_size(json_object_get(r->json, "events")), 0);
  assert_true(json_is_null(json_object_get(r->json, "next_cursor")));
  reply_free(r);
  nevs = 0;
  ev_set(&evs[nevs++], 1, "a", D0);
  append(fx, 0, 1, 0);
  r = get(fx, "/action-log/events?tenant=nobody");
  assert_int_equal(r->status, 200);
  assert_int_equal(json_array_size(json_object_get(r->json, "events")), 0);
  assert_true(json_is_null(json_object_get(r->json, "next_cursor")));
  reply_free(r);
  fx->catalog_down = 1;
  r = get(fx, "/action-log/events");
  assert_int_equal(r->status, 502);
  assert_non_null(strstr(err_msg(r), "catalog"));
  reply_free(r);
}

/* A cursor stays valid across commits: newer events do not appear on later pages, older
 * ones that arrive late do. */
static void test_cursor_across_commits(void **state) {
  fixture *fx = *state;
  reply *r;
  char path[4096];
  json_t *events;
  make_table(fx);
  nevs = 0;
  ev_set(&evs[nevs++], 1, "a", D0 + 10);
  ev_set(&evs[nevs++], 2, "b", D0 + 20);
  ev_set(&evs[nevs++], 3, "c", D0 + 30);
  append(fx, 0, nevs, 0);
  r = get(fx, "/action-log/events?limit=1");
  assert_string_equal(json_string_value(json_object_get(
                          json_array_get(json_object_get(r->json, "events"), 0), "event_id")),
                      "c");
  snprintf(path, sizeof(path), "/action-log/events?limit=10&cursor=%s",
           json_string_value(json_object_get(r->json, "next_cursor")));
  reply_free(r);
  ev_set(&evs[nevs++], 4, "new", D0 + DAY_MS);
  ev_set(&evs[nevs++], 5, "late", D0 + 15);
  append(fx, 3, 2, 0);
  r = get(fx, path);
  assert_int_equal(r->status, 200);
  events = json_object_get(r->json, "events");
  assert_int_equal(json_array_size(events), 3);
  assert_string_equal(json_string_value(json_object_get(json_array_get(events, 0), "event_id")),
                      "b");
  assert_string_equal(json_string_value(json_object_get(json_array_get(events, 1), "event_id")),
                      "late");
  assert_string_equal(json_string_value(json_object_get(json_array_get(events, 2), "event_id")),
                      "a");
  reply_free(r);
}

/* An event_id appended again at an older time, far down the log: pages never repeat it,
 * whatever the page size. */
static void test_copy_on_an_earlier_page(void **state) {
  fixture *fx = *state;
  mq q;
  int limit;
  size_t i;
  make_table(fx);
  nevs = 0;
  for (i = 0; i < 60; i++)
    ev_set(&evs[nevs++], (int)i, NULL, D0 + (int64_t)i * 3600000);
  append(fx, 0, nevs, 0);
  for (i = 0; i < 6; i++) { /* copies of the 6 newest events, days older */
    ev_set(&evs[nevs], 200 + (int)i, evs[59 - i].eid, D0 - (int64_t)(i + 1) * DAY_MS);
    nevs++;
  }
  for (i = 0; i < 3; i++) { /* and copies of old ones in the future */
    ev_set(&evs[nevs], 300 + (int)i, evs[i].eid, D0 + 10 * DAY_MS + (int64_t)i);
    nevs++;
  }
  append(fx, 60, nevs - 60, 1);
  memset(&q, 0, sizeof(q));
  for (limit = 1; limit <= 8; limit++)
    check_pages(fx, &q, limit, 0);
  q.has_until = 1; /* a copy outside the range does not hide the event */
  q.until_ms = D0 + 10 * DAY_MS;
  check_pages(fx, &q, 3, 0);
}

/* Pruning: a query of one day in a table of 30 reads that day's files only; a first page
 * without bounds reads the newest day only; a gap of years costs no window per day. */
static void test_pruning(void **state) {
  fixture *fx = *state;
  tarn_table *t;
  tarn_al_query q;
  tarn_al_page page;
  tarn_error err;
  counting *c = (counting *)fx->st;
  reply *r;
  size_t i, d;
  int64_t day = 17;
  char path[512], folder[64];
  make_table(fx);
  nevs = 0;
  for (d = 0; d < 30; d++) /* two commits a day: two files a day */
    for (i = 0; i < 20; i++)
      ev_set(&evs[nevs++], (int)(d * 20 + i), NULL, D0 + (int64_t)d * DAY_MS + (int64_t)i * 600000);
  for (i = 0; i < 2; i++)
    append(fx, i * 300, 300, 0); /* days 0-14, then days 15-29: a file per day */
  for (d = 0; d < 30; d++) {     /* and a second file for every day */
    ev_set(&evs[nevs], (int)(1000 + d), NULL, D0 + (int64_t)d * DAY_MS + 5);
    append(fx, nevs++, 1, 0);
  }
  /* one day through the API: only that day's folder is read */
  counting_reset(fx->st, 1);
  snprintf(path, sizeof(path), "/action-log/events?since=%lld&until=%lld&limit=1000",
           (long long)(D0 + day * DAY_MS), (long long)(D0 + (day + 1) * DAY_MS));
  r = get(fx, path);
  assert_int_equal(r->status, 200);
  assert_int_equal(json_array_size(json_object_get(r->json, "events")), 21);
  reply_free(r);
  snprintf(folder, sizeof(folder), "applied_at_day=2026-12-%02d/", (int)(day + 1));
  assert_true(c->n > 0);
  for (i = 0; i < c->n; i++)
    if (strstr(c->keys[i], folder) == NULL)
      fail_msg("read %s for a query of %s", c->keys[i], folder);
  counting_reset(fx->st, 0);
  /* the same through the library: the walk opens that day's two files */
  assert_int_equal(tarn_table_load(fx->cat, &fx->io, "default", "action_log", &t, NULL), 0);
  memset(&q, 0, sizeof(q));
  q.has_since = q.has_until = 1;
  q.since_ms = D0 + day * DAY_MS;
  q.until_ms = D0 + (day + 1) * DAY_MS;
  q.limit = 1000;
  assert_int_equal(tarn_action_log_query(t, &q, &page, &err), 0);
  assert_int_equal(page.stats.days, 1);
  assert_int_equal(page.stats.windows, 1);
  assert_int_equal(page.stats.walk.files_read, 2);
  assert_int_equal(page.stats.walk.files_total - page.stats.walk.files_pruned_partition, 2);
  assert_true(page.stats.walk.manifests_pruned >= 30); /* by their partition summaries */
  assert_true(page.stats.fetch.files_read <= 2);
  assert_int_equal(page.stats.lookup.files_read, 0);
  tarn_al_page_free(&page);
  /* a first page of the newest events: the newest day is enough */
  memset(&q, 0, sizeof(q));
  q.limit = 5;
  assert_int_equal(tarn_action_log_query(t, &q, &page, &err), 0);
  assert_int_equal(page.stats.days, 30);
  assert_int_equal(page.stats.windows, 1);
  assert_int_equal(page.stats.walk.files_read, 2);
  assert_true(page.has_next);
  tarn_al_page_free(&page);
  /* tenant t1 and a page of 30: windows of 1, 2, 4 ... days, few scans */
  q.tenant = "t1";
  q.limit = 30;
  assert_int_equal(tarn_action_log_query(t, &q, &page, &err), 0);
  assert_true(page.stats.windows <= 4);
  assert_true(page.stats.walk.row_groups_pruned_bloom + page.stats.walk.row_groups_pruned_stats +
                  page.stats.walk.files_pruned_metrics >
              0);
  tarn_al_page_free(&page);
  tarn_table_close(t);
}

static void test_gap_of_years(void **state) {
  fixture *fx = *state;
  tarn_table *t;
  tarn_al_query q;
  tarn_al_page page;
  tarn_error err;
  mq m;
  make_table(fx);
  nevs = 0;
  ev_set(&evs[nevs++], 1, "old", 946684800000LL); /* 2000-01-01 */
  ev_set(&evs[nevs++], 2, "older", 946684800000LL - 5 * DAY_MS);
  ev_set(&evs[nevs++], 3, "new", D0);
  append(fx, 0, nevs, 0);
  assert_int_equal(tarn_table_load(fx->cat, &fx->io, "default", "action_log", &t, NULL), 0);
  memset(&q, 0, sizeof(q));
  q.limit = 10;
  assert_int_equal(tarn_action_log_query(t, &q, &page, &err), 0);
  assert_int_equal(json_array_size(page.events), 3);
  assert_int_equal(page.stats.days, 3);
  assert_true(page.stats.windows <= 2); /* not one per day of 27 years */
  assert_false(page.has_next);
  tarn_al_page_free(&page);
  tarn_table_close(t);
  memset(&m, 0, sizeof(m));
  check_pages(fx, &m, 1, 0);
}

/* Every allocation of a query (with a cursor, so lookups run) failed in turn: a failure,
 * nothing leaked (ASan), or the same answer. Which code: TARN_ENOMEM from this module, but
 * the layers below report some allocation failures under another (the Avro header's
 * schema, parsed by jansson, reads as "invalid JSON"), so any failure code is taken. */
static void test_alloc_failures(void **state) {
  fixture *fx = *state;
  tarn_table *t;
  tarn_al_query q;
  tarn_al_pos after;
  tarn_al_page page;
  tarn_error err;
  char *want, *got;
  long total, n;
  size_t i;
  int rc;
  make_table(fx);
  nevs = 0;
  for (i = 0; i < 40; i++)
    ev_set(&evs[nevs++], (int)i, NULL, D0 + (int64_t)(i % 4) * DAY_MS + (int64_t)i * 1000);
  append(fx, 0, nevs, 0);
  for (i = 0; i < 4; i++) /* copies of the newest events, older: lookups find them */
    ev_set(&evs[nevs++], 100 + (int)i, evs[39 - i].eid, D0 - DAY_MS + (int64_t)i);
  append(fx, 40, 4, 0);
  assert_int_equal(tarn_table_load(fx->cat, &fx->io, "default", "action_log", &t, NULL), 0);
  memset(&q, 0, sizeof(q));
  q.limit = 5;
  assert_int_equal(tarn_action_log_query(t, &q, &page, &err), 0);
  assert_true(page.has_next);
  after = page.next;
  q.after = &after;
  tarn_al_page_free(&page);
  tarn_alloc_fail_reset();
  assert_int_equal(tarn_action_log_query(t, &q, &page, &err), 0);
  total = tarn_alloc_count();
  want = dump(page.events);
  assert_true(page.stats.lookups > 0);
  tarn_al_page_free(&page);
  for (n = 0; n < total; n++) {
    tarn_alloc_fail_after(n);
    rc = tarn_action_log_query(t, &q, &page, &err);
    tarn_alloc_fail_reset();
    if (rc == 0) {
      got = dump(page.events);
      assert_string_equal(got, want);
      tarn_free(got);
    }
    tarn_al_page_free(&page);
  }
  tarn_free(want);
  tarn_table_close(t);
}

/* The pieces: instants and cursors. */
static void test_instants_and_cursors(void **state) {
  tarn_al_instant a, b;
  tarn_al_query q;
  tarn_al_pos p, back;
  char text[TARN_AL_CURSOR_TEXT_MAX + 1];
  size_t i;
  (void)state;
  assert_int_equal(tarn_al_parse_instant("2026-12-01T00:00:00Z", &a, NULL), 0);
  assert_int_equal(tarn_al_instant_ms(&a), D0);
  assert_int_equal(tarn_al_parse_instant("1796083200000", &b, NULL), 0);
  assert_int_equal(tarn_al_instant_cmp(&a, &b), 0);
  assert_int_equal(tarn_al_parse_instant("2026-12-01T00:00:00.000000001Z", &a, NULL), 0);
  assert_int_equal(tarn_al_instant_ms(&a), D0 + 1);
  assert_true(tarn_al_instant_cmp(&a, &b) > 0);
  assert_int_equal(tarn_al_parse_instant("-1", &a, NULL), 0);
  assert_int_equal(a.sec, -1);
  assert_int_equal(a.nsec, 999000000);
  assert_int_equal(tarn_al_instant_ms(&a), -1);
  assert_int_equal(tarn_al_parse_instant("2024-02-29T23:59:59.5-00:30", &a, NULL), 0);
  assert_int_equal(tarn_al_instant_ms(&a), 1709252999500LL);
  assert_int_not_equal(tarn_al_parse_instant("2023-02-29", &a, NULL), 0);
  assert_int_not_equal(tarn_al_parse_instant("0000-01-01", &a, NULL), 0);
  assert_int_not_equal(tarn_al_parse_instant("2026-12-01T00:00Z", &a, NULL), 0);
  assert_int_not_equal(tarn_al_parse_instant("2026-12-01T00:00:00+24:00", &a, NULL), 0);
  assert_int_not_equal(tarn_al_parse_instant("2026-12-01T00:00:00.Z", &a, NULL), 0);
  assert_int_not_equal(tarn_al_parse_instant("9999999999999999", &a, NULL), 0);
  assert_int_not_equal(tarn_al_parse_instant("", &a, NULL), 0);
  assert_int_not_equal(tarn_al_parse_instant("-", &a, NULL), 0);
  memset(&q, 0, sizeof(q));
  q.tenant = "t";
  memset(&p, 0, sizeof(p));
  for (i = 0; i <= TARN_AL_CURSOR_EVENT_ID_MAX; i += 97) {
    p.ms = D0 - (int64_t)i;
    p.len = i;
    memset(p.event_id, 'x', i);
    p.event_id[i] = '\0';
    assert_int_equal(tarn_al_cursor_encode(&q, &p, text, sizeof(text), NULL), 0);
    assert_true(strlen(text) <= TARN_AL_CURSOR_TEXT_MAX);
    assert_int_equal(tarn_al_cursor_decode(&q, text, &back, NULL), 0);
    assert_int_equal(back.ms, p.ms);
    assert_int_equal(back.len, p.len);
    assert_memory_equal(back.event_id, p.event_id, p.len);
  }
  p.len = TARN_AL_CURSOR_EVENT_ID_MAX + 1;
  assert_int_equal(tarn_al_cursor_encode(&q, &p, text, sizeof(text), NULL), TARN_ETOOBIG);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(test_pages_match_model),
      T(test_one_row_per_event_id),
      T(test_values),
      T(test_time_bounds),
      T(test_refusals),
      T(test_missing_and_empty),
      T(test_cursor_across_commits),
      T(test_copy_on_an_earlier_page),
      T(test_pruning),
      T(test_gap_of_years),
      T(test_alloc_failures),
      cmocka_unit_test(test_instants_and_cursors),
  };
  int rc;
  json_set_alloc_funcs(tarn_malloc, tarn_free);
  tarn_log_set_level(TARN_LOG_ERROR);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  rc = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
