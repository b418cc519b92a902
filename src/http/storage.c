/* storage.c - the /storage/ routes: buckets, objects with streamed bodies, error journal, health. */
#include "http_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "store/buckets.h"

typedef struct storage_ctx {
  tarn_buckets *bs;
  tarn_errjournal *ej;
  uint64_t max_object;
} storage_ctx;

/* A GET streams the object in pieces of this size: memory per download stays bounded
 * whatever the object's size. */
#define READ_CHUNK (1u << 20)
#define ERRORS_LIMIT_DEFAULT 100
#define HEALTH_MINUTES_DEFAULT 15
#define UNHEALTHY_ERRORS 3

/* ---- helpers ---- */

static int reply_code(tarn_http_response *resp, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Answers with the status and name of a tarn_code. */
static int reply_code(tarn_http_response *resp, int code, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  return tarn_http_reply_error(resp, tarn_http_status_for(code), tarn_err_name(code), "%s", msg);
}

/*
 * Resolves {bucket} and {key...}: 404 for an unknown bucket, 400 for a bad key (naming
 * the rule) or one under the probe prefix. Returns the bucket, or NULL with resp filled.
 */
static tarn_bucket *resolve(const storage_ctx *sc, const tarn_http_request *req,
                            tarn_http_response *resp, const char **key_out, int *rc) {
  const char *name = tarn_http_param(req, "bucket");
  const char *key = tarn_http_param(req, "key");
  tarn_bucket *b = tarn_buckets_find(sc->bs, name);
  tarn_error err;
  *rc = 0;
  if (b == NULL) {
    *rc = tarn_http_reply_error(resp, 404, "not_found", "no bucket named \"%s\"", name);
    return NULL;
  }
  if (key == NULL)
    return b; /* a route without {key...} */
  if (tarn_store_key_check(key, strlen(key), &err) != 0) {
    *rc = tarn_http_reply_error(resp, 400, "invalid_key", "%s", tarn_error_message(&err));
    return NULL;
  }
  if (strncmp(key, TARN_BUCKET_PROBE_PREFIX, strlen(TARN_BUCKET_PROBE_PREFIX)) == 0) {
    *rc = tarn_http_reply_error(resp, 400, "invalid_key",
                                "invalid key: the prefix \"" TARN_BUCKET_PROBE_PREFIX
                                "\" is reserved for reachability probes");
    return NULL;
  }
  /* The lake's own files (catalog, warehouse, spool, journals) are not objects: nobody
   * writes or deletes them here, and only an admin reads them. */
  if (tarn_bucket_protected(b, key)) {
    int write = strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0;
    if (write || req->scope < TARN_HTTP_SCOPE_ADMIN) {
      *rc = tarn_http_reply_error(resp, 403, "forbidden",
                                  "key \"%s\" of bucket %s is one of tarn's own files (the "
                                  "catalog, tables, spool or journals): %s",
                                  key, name,
                                  write ? "it cannot be written or deleted through the object API"
                                        : "only an admin token may read it");
      return NULL;
    }
  }
  *key_out = key;
  return b;
}

static json_t *time_or_null(int64_t us) {
  char ts[TARN_TIME_ISO_MAX];
  if (us == 0)
    return json_null();
  return json_string(tarn_time_iso8601(us, 3, ts, sizeof(ts)));
}

/* ---- GET /storage/buckets ---- */

static json_t *bucket_json(tarn_bucket *b) {
  tarn_bucket_health h;
  tarn_bucket_health_get(b, &h);
  return json_pack("{s:s,s:s,s:s,s:o,s:o,s:o,s:o}", "name", tarn_bucket_name(b), "backend",
                   tarn_bucket_backend(b), "role", tarn_bucket_role_name(tarn_bucket_role_of(b)),
                   "reachable", h.probed ? json_boolean(h.reachable) : json_null(), "latency_ms",
                   h.probed ? json_real(h.latency_ms) : json_null(), "last_error",
                   h.probed && h.last_error[0] ? json_string(h.last_error) : json_null(),
                   "last_probe", time_or_null(h.last_probe_us));
}

static int on_buckets(const tarn_http_request *req, tarn_http_response *resp, void *ud) {
  storage_ctx *sc = ud;
  const char *probe = tarn_http_query(req, "probe");
  json_t *arr = json_array();
  size_t i;
  int on = 0;
  tarn_error e = {0};
  if (probe != NULL && tarn_parse_bool(probe, &on, &e) != 0) {
    json_decref(arr);
    return tarn_http_reply_error(resp, 400, "invalid_argument", "probe=%s", e.detail);
  }
  if (on)
    tarn_buckets_probe_all(sc->bs);
  for (i = 0; arr != NULL && i < tarn_buckets_count(sc->bs); i++)
    if (json_array_append_new(arr, bucket_json(tarn_buckets_at(sc->bs, i))) != 0) {
      json_decref(arr);
      arr = NULL;
    }
  return tarn_http_reply_json(resp, 200, arr);
}

/* ---- PUT: the body streams into a store writer ---- */

typedef struct put_ctx {
  tarn_store_writer *w;
  tarn_bucket *b;
  int if_absent;
  tarn_error err; /* of a failed write */
  char key[];
} put_ctx;

static int put_begin(const tarn_http_request *req, tarn_http_response *resp, void **out, void *ud) {
  storage_ctx *sc = ud;
  const char *key = NULL, *inm;
  tarn_bucket *b;
  put_ctx *pc;
  tarn_error err;
  int rc;
  b = resolve(sc, req, resp, &key, &rc);
  if (b == NULL)
    return rc;
  pc = tarn_calloc(1, sizeof(*pc) + strlen(key) + 1);
  if (pc == NULL)
    return TARN_ENOMEM;
  memcpy(pc->key, key, strlen(key) + 1);
  pc->b = b;
  inm = tarn_http_header(req, "If-None-Match");
  pc->if_absent = inm != NULL && strcmp(inm, "*") == 0;
  rc = tarn_bucket_writer_open(b, key, pc->if_absent ? TARN_STORE_IF_ABSENT : 0, &pc->w, &err);
  if (rc != 0) {
    tarn_free(pc);
    if (rc == TARN_EEXIST)
      return tarn_http_reply_error(resp, 412, "already_exists", "%s", tarn_error_message(&err));
    return reply_code(resp, rc, "%s", tarn_error_message(&err));
  }
  *out = pc;
  return 0;
}

static int put_chunk(void *ctx, const void *p, size_t n) {
  put_ctx *pc = ctx;
  return tarn_store_writer_write(pc->w, p, n, &pc->err);
}

static int put_end(void *ctx, const tarn_http_request *req, tarn_http_response *resp, int code) {
  put_ctx *pc = ctx;
  uint64_t size = pc->w->written;
  tarn_error err;
  int rc = 0, r;
  if (code != 0 || resp == NULL) {
    /* Nothing becomes visible: over the cap, a failed write, or the client went away. */
    tarn_store_writer_abort(pc->w);
    if (resp != NULL && code != TARN_ETOOBIG)
      rc = reply_code(resp, code, "writing %s to bucket %s: %s", pc->key, tarn_bucket_name(pc->b),
                      tarn_error_message(&pc->err));
    else if (resp == NULL)
      tarn_log_info("upload abandoned; nothing stored", "bucket=%s key=%s bytes=%llu",
                    tarn_bucket_name(pc->b), pc->key, (unsigned long long)size);
    tarn_free(pc);
    return rc;
  }
  r = tarn_store_writer_commit(pc->w, &err);
  if (r == TARN_EEXIST && pc->if_absent)
    rc = tarn_http_reply_error(resp, 412, "already_exists", "%s", tarn_error_message(&err));
  else if (r != 0)
    rc = reply_code(resp, r, "%s", tarn_error_message(&err));
  else
    rc = tarn_http_reply_json(resp, 201,
                              json_pack("{s:s,s:s,s:I}", "bucket", tarn_bucket_name(pc->b), "key",
                                        pc->key, "size", (json_int_t)size));
  tarn_free(pc);
  return rc;
}

static const tarn_http_stream_ops put_ops = {put_begin, put_chunk, put_end};

/* ---- GET and HEAD: the body streams out of the store ---- */

typedef struct get_ctx {
  tarn_bucket *b;       /* the bucket that serves the object (the rescue after a fallback) */
  tarn_store_reader *r; /* the version being sent */
  uint64_t size;
  tarn_buf chunk; /* bytes [chunk_off, chunk_off + chunk.len) of the object */
  uint64_t chunk_off;
  char key[];
} get_ctx;

static long long get_read(void *cls, uint64_t pos, char *buf, size_t max) {
  get_ctx *gc = cls;
  size_t n;
  if (pos >= gc->size)
    return 0;
  if (pos < gc->chunk_off || pos >= gc->chunk_off + gc->chunk.len) {
    tarn_error err;
    uint64_t want = gc->size - pos < READ_CHUNK ? gc->size - pos : READ_CHUNK;
    tarn_buf_reset(&gc->chunk);
    gc->chunk_off = pos;
    if (tarn_bucket_read_at(gc->b, gc->r, gc->key, pos, want, &gc->chunk, &err) != 0 ||
        gc->chunk.len == 0) {
      tarn_log_warn("object download failed midway; connection closed",
                    "bucket=%s key=%s offset=%llu error=%s", tarn_bucket_name(gc->b), gc->key,
                    (unsigned long long)pos,
                    gc->chunk.len == 0 ? "object shrank" : tarn_error_message(&err));
      tarn_buf_reset(&gc->chunk);
      return -1;
    }
  }
  n = (size_t)(gc->chunk_off + gc->chunk.len - pos);
  if (n > max)
    n = max;
  memcpy(buf, gc->chunk.data + (pos - gc->chunk_off), n);
  return (long long)n;
}

static void get_free(void *cls) {
  get_ctx *gc = cls;
  tarn_store_reader_close(gc->r);
  tarn_buf_free(&gc->chunk);
  tarn_free(gc);
}

static int on_get(const tarn_http_request *req, tarn_http_response *resp, void *ud) {
  storage_ctx *sc = ud;
  const char *key = NULL;
  tarn_bucket *b, *served = NULL;
  tarn_store_reader *r = NULL;
  tarn_store_stat st;
  tarn_error err;
  get_ctx *gc;
  char len[32];
  int rc;
  b = resolve(sc, req, resp, &key, &rc);
  if (b == NULL)
    return rc;
  /* HEAD answers from the stat alone; GET pins the version it starts sending (an open
   * file, an S3 ETag) so that the body is exactly one stored version, whatever
   * overwrites the key meanwhile. */
  if (strcmp(req->method, "HEAD") == 0)
    rc = tarn_bucket_head(b, key, &st, &served, &err);
  else if ((rc = tarn_bucket_open_get(b, key, &r, &served, &err)) == 0)
    st = r->stat;
  if (rc == TARN_ENOTFOUND)
    return tarn_http_reply_error(resp, 404, "not_found", "no object \"%s\" in bucket %s", key,
                                 tarn_bucket_name(b));
  if (rc != 0)
    return reply_code(resp, rc, "%s", tarn_error_message(&err));
  gc = tarn_calloc(1, sizeof(*gc) + strlen(key) + 1);
  if (gc == NULL) {
    tarn_store_reader_close(r);
    return TARN_ENOMEM;
  }
  memcpy(gc->key, key, strlen(key) + 1);
  gc->b = served;
  gc->r = r;
  gc->size = st.size;
  tarn_buf_init(&gc->chunk, READ_CHUNK);
  resp->status = 200;
  resp->content_type = "application/octet-stream";
  resp->reader.read = get_read;
  resp->reader.free = get_free;
  resp->reader.cls = gc;
  resp->reader.size = st.size;
  snprintf(len, sizeof(len), "%llu", (unsigned long long)st.size);
  if (served != b && (rc = tarn_http_add_header(resp, "X-Tarn-Rescue-Used", "true", NULL)) != 0)
    return rc;
  return tarn_http_add_header(resp, "X-Tarn-Bucket", tarn_bucket_name(served), NULL);
}

/* ---- DELETE ---- */

static int on_delete(const tarn_http_request *req, tarn_http_response *resp, void *ud) {
  storage_ctx *sc = ud;
  const char *key = NULL;
  tarn_bucket *b;
  tarn_error err;
  int rc;
  b = tarn_buckets_find(sc->bs, tarn_http_param(req, "bucket"));
  if (b != NULL && tarn_bucket_role_of(b) != TARN_BUCKET_EXTRA)
    return tarn_http_reply_error(resp, 403, "permission_denied",
                                 "bucket %s is the %s bucket; objects are deleted over HTTP only "
                                 "from extra buckets",
                                 tarn_bucket_name(b),
                                 tarn_bucket_role_name(tarn_bucket_role_of(b)));
  b = resolve(sc, req, resp, &key, &rc);
  if (b == NULL)
    return rc;
  rc = tarn_bucket_delete(b, key, &err);
  if (rc == TARN_ENOTFOUND)
    return tarn_http_reply_error(resp, 404, "not_found", "no object \"%s\" in bucket %s", key,
                                 tarn_bucket_name(b));
  if (rc != 0)
    return reply_code(resp, rc, "%s", tarn_error_message(&err));
  resp->status = 204;
  return 0;
}

/* ---- GET /storage/buckets/{bucket}/objects ---- */

static int on_list(const tarn_http_request *req, tarn_http_response *resp, void *ud) {
  storage_ctx *sc = ud;
  const char *prefix = tarn_http_query(req, "prefix");
  const char *after = tarn_http_query(req, "start_after");
  const char *limit_s = tarn_http_query(req, "limit");
  const char *key = NULL;
  tarn_store_listing l;
  tarn_bucket *b;
  tarn_error err;
  json_t *arr, *out;
  long limit = 1000;
  size_t i;
  int rc;
  b = resolve(sc, req, resp, &key, &rc);
  if (b == NULL)
    return rc;
  if (limit_s != NULL) {
    char *end;
    limit = strtol(limit_s, &end, 10);
    if (*end != '\0' || limit < 1 || limit > 1000)
      return tarn_http_reply_error(resp, 400, "invalid_argument",
                                   "limit=\"%s\": must be an integer from 1 to 1000", limit_s);
  }
  tarn_store_list_init(&l);
  rc = tarn_bucket_list(b, prefix ? prefix : "", after, (size_t)limit, &l, &err);
  if (rc != 0) {
    tarn_store_list_free(&l);
    return reply_code(resp, rc, "%s", tarn_error_message(&err));
  }
  arr = json_array();
  for (i = 0; arr != NULL && i < l.count; i++)
    if ((req->scope >= TARN_HTTP_SCOPE_ADMIN || !tarn_bucket_protected(b, l.entries[i].key)) &&
        json_array_append_new(arr, json_pack("{s:s,s:I,s:o}", "key", l.entries[i].key, "size",
                                             (json_int_t)l.entries[i].size, "modified",
                                             time_or_null(l.entries[i].mtime_us))) != 0) {
      json_decref(arr);
      arr = NULL;
    }
  out = arr == NULL
            ? NULL
            : json_pack("{s:o,s:b,s:o}", "objects", arr, "truncated", l.truncated,
                        "next_start_after", l.next_after ? json_string(l.next_after) : json_null());
  tarn_store_list_free(&l);
  return tarn_http_reply_json(resp, 200, out);
}

/* ---- the error journal ---- */

static int parse_uint(const char *s, long min, long max, long *out) {
  char *end;
  long v;
  if (s == NULL || *s == '\0')
    return -1;
  v = strtol(s, &end, 10);
  if (*end != '\0' || v < min || v > max)
    return -1;
  *out = v;
  return 0;
}

static int on_errors(const tarn_http_request *req, tarn_http_response *resp, void *ud) {
  storage_ctx *sc = ud;
  const char *bucket = tarn_http_query(req, "bucket");
  const char *since_s = tarn_http_query(req, "since");
  const char *limit_s = tarn_http_query(req, "limit");
  int64_t since = 0;
  long limit = ERRORS_LIMIT_DEFAULT;
  json_t *events;
  if (bucket != NULL && bucket[0] == '\0')
    bucket = NULL;
  if (bucket != NULL && tarn_buckets_find(sc->bs, bucket) == NULL)
    return tarn_http_reply_error(resp, 404, "not_found", "no bucket named \"%s\"", bucket);
  if (since_s != NULL && since_s[0] != '\0' && tarn_errjournal_parse_time(since_s, &since) != 0)
    return tarn_http_reply_error(resp, 400, "invalid_argument",
                                 "since=\"%s\": must be an ISO 8601 UTC time such as "
                                 "2026-11-21T15:00:00Z, or Unix seconds",
                                 since_s);
  if (limit_s != NULL && parse_uint(limit_s, 1, TARN_ERRJOURNAL_RING, &limit) != 0)
    return tarn_http_reply_error(resp, 400, "invalid_argument",
                                 "limit=\"%s\": must be an integer from 1 to %d", limit_s,
                                 TARN_ERRJOURNAL_RING);
  events = tarn_errjournal_query(sc->ej, bucket, since, (size_t)limit);
  if (events == NULL)
    return TARN_ENOMEM;
  return tarn_http_reply_json(
      resp, 200,
      json_pack("{s:I,s:o}", "count", (json_int_t)json_array_size(events), "events", events));
}

static int on_health(const tarn_http_request *req, tarn_http_response *resp, void *ud) {
  storage_ctx *sc = ud;
  const char *min_s = tarn_http_query(req, "minutes");
  long minutes = HEALTH_MINUTES_DEFAULT;
  int64_t now = tarn_clock_wall_us(), since;
  json_t *counts, *list, *unhealthy, *unreachable, *out;
  const char *name;
  json_t *v;
  size_t total = 0, i;
  if (min_s != NULL && parse_uint(min_s, 1, 7 * 24 * 60, &minutes) != 0)
    return tarn_http_reply_error(resp, 400, "invalid_argument",
                                 "minutes=\"%s\": must be an integer from 1 to %d", min_s,
                                 7 * 24 * 60);
  since = now - (int64_t)minutes * 60 * 1000000;
  counts = tarn_errjournal_counts(sc->ej, since, &total);
  list = json_array();
  unhealthy = json_array();
  unreachable = json_array();
  if (counts == NULL || list == NULL || unhealthy == NULL || unreachable == NULL)
    goto oom;
  /* Configured buckets first, then names only the journal knows (since removed). */
  for (i = 0; i < tarn_buckets_count(sc->bs); i++) {
    tarn_bucket *b = tarn_buckets_at(sc->bs, i);
    tarn_bucket_health h;
    json_int_t n = json_integer_value(json_object_get(counts, tarn_bucket_name(b)));
    int bad = n >= UNHEALTHY_ERRORS, down;
    tarn_bucket_health_get(b, &h);
    down = h.probed && !h.reachable;
    if (json_array_append_new(
            list, json_pack("{s:s,s:s,s:I,s:o,s:o,s:b}", "name", tarn_bucket_name(b), "role",
                            tarn_bucket_role_name(tarn_bucket_role_of(b)), "errors", n, "reachable",
                            h.probed ? json_boolean(h.reachable) : json_null(), "last_error",
                            h.probed && h.last_error[0] ? json_string(h.last_error) : json_null(),
                            "healthy", !bad && !down)) != 0 ||
        (bad && json_array_append_new(unhealthy, json_string(tarn_bucket_name(b))) != 0) ||
        (down && json_array_append_new(unreachable, json_string(tarn_bucket_name(b))) != 0))
      goto oom;
  }
  json_object_foreach(counts, name, v) {
    json_int_t n = json_integer_value(v);
    if (tarn_buckets_find(sc->bs, name) != NULL)
      continue;
    if (json_array_append_new(list, json_pack("{s:s,s:n,s:I,s:n,s:n,s:b}", "name", name, "role",
                                              "errors", n, "reachable", "last_error", "healthy",
                                              n < UNHEALTHY_ERRORS)) != 0 ||
        (n >= UNHEALTHY_ERRORS && json_array_append_new(unhealthy, json_string(name)) != 0))
      goto oom;
  }
  out = json_pack("{s:b,s:I,s:o,s:I,s:O,s:O,s:O,s:I}", "ok",
                  json_array_size(unhealthy) == 0 && json_array_size(unreachable) == 0,
                  "window_minutes", (json_int_t)minutes, "since", time_or_null(since),
                  "total_errors", (json_int_t)total, "buckets", list, "unhealthy", unhealthy,
                  "unreachable", unreachable, "unhealthy_threshold", (json_int_t)UNHEALTHY_ERRORS);
  json_decref(counts);
  json_decref(list);
  json_decref(unhealthy);
  json_decref(unreachable);
  return tarn_http_reply_json(resp, 200, out);
oom:
  json_decref(counts);
  json_decref(list);
  json_decref(unhealthy);
  json_decref(unreachable);
  return TARN_ENOMEM;
}

static int on_flush(const tarn_http_request *req, tarn_http_response *resp, void *ud) {
  storage_ctx *sc = ud;
  tarn_error err;
  size_t n = 0;
  int rc = tarn_errjournal_flush(sc->ej, &n, &err);
  if (rc != 0)
    return reply_code(resp, rc, "%s", tarn_error_message(&err));
  return tarn_http_reply_json(resp, 200, json_pack("{s:I}", "flushed", (json_int_t)n));
}

static int on_compact(const tarn_http_request *req, tarn_http_response *resp, void *ud) {
  storage_ctx *sc = ud;
  tarn_applog_compact_result res;
  tarn_error err;
  int rc = tarn_errjournal_compact(sc->ej, &res, &err);
  if (rc != 0)
    return reply_code(resp, rc, "%s", tarn_error_message(&err));
  return tarn_http_reply_json(
      resp, 200,
      json_pack("{s:I,s:I,s:I,s:o,s:o,s:o}", "files_merged", (json_int_t)res.files_merged,
                "files_deleted", (json_int_t)res.files_deleted, "records", (json_int_t)res.records,
                "file", res.file[0] ? json_string(res.file) : json_null(), "first_seq",
                res.file[0] ? json_integer((json_int_t)res.first_seq) : json_null(), "last_seq",
                res.file[0] ? json_integer((json_int_t)res.last_seq) : json_null()));
}

/* ---- registration ---- */

int tarn_http_add_storage_routes(tarn_http_server *srv, tarn_buckets *bs, tarn_errjournal *ej,
                                 uint64_t max_object, tarn_error *err) {
  storage_ctx *sc = tarn_calloc(1, sizeof(*sc));
  const char *obj = "/storage/buckets/{bucket}/objects/{key...}";
  tarn_http_route routes[] = {
      {"GET", "/storage/buckets", on_buckets, NULL, 0, 0, TARN_HTTP_SCOPE_READ, "probe"},
      {"GET", "/storage/buckets/{bucket}/objects", on_list, NULL, 0, 0, TARN_HTTP_SCOPE_READ,
       "prefix,start_after,limit"},
      {"GET", obj, on_get, NULL, 0, 0, TARN_HTTP_SCOPE_READ, NULL},
      {"DELETE", obj, on_delete, NULL, 0, 0, TARN_HTTP_SCOPE_WRITE, NULL},
      {"GET", "/storage/errors", on_errors, NULL, 0, 0, TARN_HTTP_SCOPE_READ, "bucket,since,limit"},
      {"POST", "/storage/errors/flush", on_flush, NULL, 0, 0, TARN_HTTP_SCOPE_ADMIN, NULL},
      {"POST", "/storage/errors/compact", on_compact, NULL, 0, 0, TARN_HTTP_SCOPE_ADMIN, NULL},
      {"GET", "/storage/bucket-health", on_health, NULL, 0, 0, TARN_HTTP_SCOPE_READ, "minutes"},
  };
  tarn_http_route put = {"PUT", obj, NULL, NULL, 0, 0, TARN_HTTP_SCOPE_WRITE, NULL};
  size_t i;
  int rc;
  if (sc == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory registering storage routes");
  rc = tarn__http_server_own(srv, sc, tarn_free, err);
  if (rc != 0) {
    tarn_free(sc);
    return rc;
  }
  sc->bs = bs;
  sc->ej = ej;
  sc->max_object = max_object;
  for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
    routes[i].ud = sc;
    if ((rc = tarn_http_server_route(srv, &routes[i], err)) != 0)
      return rc;
  }
  put.ud = sc;
  put.max_body = (size_t)max_object; /* [storage] max_object_size: at least 1 */
  return tarn_http_server_route_stream(srv, &put, &put_ops, err);
}
