/* action_log_routes.c - GET /action-log/events: the action-audit log, newest first, in
 * pages, answered from the action-log table (src/sink/README.md). */
#include "http_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "catalog/catalog.h"
#include "sink/action_log.h"

#define PARAMS "tenant,object_id,actor_sub,since,until,limit,cursor"

/* Every request opens its own catalog handle and loads the table on it (handles are
 * single-threaded); the store is shared. */
typedef struct al_srv {
  tarn_table_io io;
  char *root_uri;
  char ns[256], name[256];
  int (*open_catalog)(void *arg, tarn_catalog **out, tarn_error *err);
  void *open_catalog_arg;
} al_srv;

static void al_srv_free(void *p) {
  al_srv *as = p;
  tarn_free(as->root_uri);
  tarn_free(as);
}

/* ---- the query parameters ---- */

/* A refused request: the status's code and why. */
typedef struct bad_arg {
  const char *code;
  char msg[1024];
} bad_arg;

static int refuse(bad_arg *bad, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int refuse(bad_arg *bad, const char *code, const char *fmt, ...) {
  va_list ap;
  bad->code = code;
  va_start(ap, fmt);
  vsnprintf(bad->msg, sizeof(bad->msg), fmt, ap);
  va_end(ap);
  return -1;
}

typedef struct dup_check {
  const char *name;
  int count;
} dup_check;

static enum MHD_Result count_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value) {
  dup_check *d = cls;
  if (key != NULL && strcmp(key, d->name) == 0)
    d->count++;
  return MHD_YES;
}

/* The value of parameter `name`: NULL when absent. A parameter given twice, or empty, or
 * longer than max bytes, is refused (which value was meant?). */
static int arg(const tarn_http_request *req, const char *name, size_t max, const char **out,
               bad_arg *bad) {
  dup_check d = {name, 0};
  *out = tarn_http_query(req, name);
  if (*out == NULL)
    return 0;
  MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, count_arg, &d);
  if (d.count > 1)
    return refuse(bad, "invalid_argument", "%s is given %d times; give it once", name, d.count);
  if ((*out)[0] == '\0')
    return refuse(bad, "invalid_argument", "%s is empty; leave it out %s", name,
                  strcmp(name, "cursor") == 0 ? "for the first page" : "to match any value");
  if (strlen(*out) > max)
    return refuse(bad, "invalid_argument", "%s is longer than %zu bytes", name, max);
  return 0;
}

/* since or until: *has set when given; t the instant. */
static int time_arg(const tarn_http_request *req, const char *name, int *has, tarn_al_instant *t,
                    bad_arg *bad) {
  const char *s;
  tarn_error err;
  *has = 0;
  if (arg(req, name, 64, &s, bad) != 0)
    return -1;
  if (s == NULL)
    return 0;
  if (tarn_al_parse_instant(s, t, &err) != 0)
    return refuse(bad, "invalid_argument", "%s: %s", name, tarn_error_message(&err));
  *has = 1;
  return 0;
}

static int limit_arg(const tarn_http_request *req, int *limit, bad_arg *bad) {
  const char *s;
  int v = 0;
  size_t i;
  *limit = TARN_AL_LIMIT_DEFAULT;
  if (arg(req, "limit", 16, &s, bad) != 0)
    return -1;
  if (s == NULL)
    return 0;
  for (i = 0; s[i] >= '0' && s[i] <= '9' && v <= TARN_AL_LIMIT_MAX; i++)
    v = v * 10 + (s[i] - '0');
  if (s[i] != '\0' || v < 1 || v > TARN_AL_LIMIT_MAX)
    return refuse(bad, "invalid_argument",
                  "limit=\"%.32s\": must be an integer from 1 to %d (default %d)", s,
                  TARN_AL_LIMIT_MAX, TARN_AL_LIMIT_DEFAULT);
  *limit = v;
  return 0;
}

static int filters(const tarn_http_request *req, tarn_al_query *q, bad_arg *bad) {
  if (arg(req, "tenant", TARN_AL_FILTER_MAX, &q->tenant, bad) != 0 ||
      arg(req, "object_id", TARN_AL_FILTER_MAX, &q->object_id, bad) != 0 ||
      arg(req, "actor_sub", TARN_AL_FILTER_MAX, &q->actor_sub, bad) != 0)
    return -1;
  return 0;
}

/* Fills q (after points to `after` when a cursor is given); -1 with bad filled. */
static int parse_query(const tarn_http_request *req, tarn_al_query *q, tarn_al_pos *after,
                       bad_arg *bad) {
  tarn_al_instant since, until;
  const char *cursor;
  tarn_error err;
  memset(q, 0, sizeof(*q));
  if (filters(req, q, bad) != 0 || time_arg(req, "since", &q->has_since, &since, bad) != 0 ||
      time_arg(req, "until", &q->has_until, &until, bad) != 0 || limit_arg(req, &q->limit, bad) ||
      arg(req, "cursor", TARN_AL_CURSOR_TEXT_MAX, &cursor, bad) != 0)
    return -1;
  if (q->has_since && q->has_until && tarn_al_instant_cmp(&since, &until) >= 0)
    return refuse(bad, "invalid_argument",
                  "since (%s) must be before until (%s): since is inclusive, until exclusive",
                  tarn_http_query(req, "since"), tarn_http_query(req, "until"));
  q->since_ms = q->has_since ? tarn_al_instant_ms(&since) : 0;
  q->until_ms = q->has_until ? tarn_al_instant_ms(&until) : 0;
  if (cursor != NULL) {
    if (tarn_al_cursor_decode(q, cursor, after, &err) != 0)
      return refuse(bad, "invalid_cursor", "%s", tarn_error_message(&err));
    q->after = after;
  }
  return 0;
}

/* ---- answers ---- */

/* The catalog or the lake failing is the server's upstream failing: 502, as the other
 * routes answer; out of memory stays 500. */
static int reply_backend(tarn_http_response *resp, const tarn_error *err) {
  return tarn_http_reply_error(resp, err->code == TARN_ENOMEM ? 500 : 502, tarn_err_name(err->code),
                               "%s", tarn_error_message(err));
}

/* A failed query: the table's layout or a page that cannot be cut is the server's (500);
 * reading it failed (502). */
static int reply_query(tarn_http_response *resp, const tarn_error *err) {
  if (err->code == TARN_ESCHEMA || err->code == TARN_ETOOBIG || err->code == TARN_EINTERNAL)
    return tarn_http_reply_error(resp, 500, tarn_err_name(err->code), "%s",
                                 tarn_error_message(err));
  return reply_backend(resp, err);
}

static int reply_page(tarn_http_response *resp, const tarn_al_query *q, tarn_al_page *page) {
  char cursor[TARN_AL_CURSOR_TEXT_MAX + 1];
  tarn_error err;
  json_t *next = json_null();
  if (page->has_next) {
    if (tarn_al_cursor_encode(q, &page->next, cursor, sizeof(cursor), &err) != 0)
      return reply_query(resp, &err);
    next = json_string(cursor);
  }
  return tarn_http_reply_json(resp, 200,
                              json_pack("{s:O,s:o}", "events", page->events, "next_cursor", next));
}

/* Opens the catalog and loads the table; answers 404 or 502 itself (returns 1). */
static int load(const al_srv *as, tarn_http_response *resp, tarn_catalog **cat, tarn_table **t,
                int *rc) {
  tarn_error err;
  if (as->open_catalog(as->open_catalog_arg, cat, &err) != 0) {
    tarn_error_prefix(&err, "opening the catalog");
    *rc = reply_backend(resp, &err);
    return 1;
  }
  if (tarn_table_load(*cat, &as->io, as->ns, as->name, t, &err) == 0)
    return 0;
  if (err.code == TARN_ENOTFOUND)
    *rc = tarn_http_reply_error(resp, 404, "not_found",
                                "the action-log table %s.%s does not exist yet: the action-log "
                                "sink (tarn sink) creates it when it writes its first events "
                                "([action_log] table names it)",
                                as->ns, as->name);
  else
    *rc = reply_backend(resp, &err);
  return 1;
}

static int on_events(const tarn_http_request *req, tarn_http_response *resp, void *ud) {
  const al_srv *as = ud;
  tarn_catalog *cat = NULL;
  tarn_table *t = NULL;
  tarn_al_query q;
  tarn_al_pos after;
  tarn_al_page page;
  tarn_error err;
  bad_arg bad;
  int rc = 0;
  memset(&page, 0, sizeof(page));
  if (parse_query(req, &q, &after, &bad) != 0) {
    rc = tarn_http_reply_error(resp, 400, bad.code, "%s", bad.msg);
    goto out;
  }
  if (load(as, resp, &cat, &t, &rc) != 0)
    goto out;
  if (tarn_action_log_query(t, &q, &page, &err) != 0) {
    tarn_log_warn("action log query failed", "table=%s.%s error=%s detail=%s", as->ns, as->name,
                  tarn_err_name(err.code), tarn_error_message(&err));
    rc = reply_query(resp, &err);
    goto out;
  }
  rc = reply_page(resp, &q, &page);
out:
  tarn_al_page_free(&page);
  tarn_table_close(t);
  tarn_catalog_destroy(cat);
  return rc;
}

/* ---- registration ---- */

int tarn_http_add_action_log_routes(tarn_http_server *srv, const tarn_http_action_log_options *o,
                                    tarn_error *err) {
  tarn_http_route r = {"GET", "/action-log/events", on_events, NULL, 0,
                       0,     TARN_HTTP_SCOPE_READ, PARAMS};
  al_srv *as;
  int rc;
  if (o->store == NULL || o->root_uri == NULL || o->open_catalog == NULL)
    return tarn_error_set(err, TARN_EINVAL,
                          "action-log routes need a store, a root URI and a catalog opener");
  as = tarn_calloc(1, sizeof(*as));
  if (as == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory registering action-log routes");
  rc = tarn_action_log_ident(o->table ? o->table : TARN_AL_DEFAULT_TABLE, as->ns, sizeof(as->ns),
                             as->name, sizeof(as->name), err);
  as->root_uri = rc == 0 ? tarn_strdup(o->root_uri) : NULL;
  if (rc == 0 && as->root_uri == NULL)
    rc = tarn_error_set(err, TARN_ENOMEM, "out of memory registering action-log routes");
  if (rc == 0)
    rc = tarn__http_server_own(srv, as, al_srv_free, err);
  if (rc != 0) {
    al_srv_free(as);
    return rc;
  }
  as->io.store = o->store;
  as->io.root_uri = as->root_uri;
  as->open_catalog = o->open_catalog;
  as->open_catalog_arg = o->open_catalog_arg;
  r.ud = as;
  return tarn_http_server_route(srv, &r, err);
}
