/* http.h - tarn's HTTP server (libmicrohttpd): routing, JSON errors, limits, metrics. */
#ifndef TARN_HTTP_HTTP_H
#define TARN_HTTP_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/config.h"
#include "base/error.h"
#include "base/metrics.h"

/* Settings of the [server] section. */
extern const tarn_cfg_def tarn_http_config[];
/* The [token.NAME] sections of the secrets file (base/secrets.h): sha256 (hex of the
 * token's SHA-256) and scope (read, write or admin). */
extern const tarn_cfg_def tarn_http_token_secrets[];

/*
 * What a bearer token may do. Each route states the least scope it needs; a higher
 * scope includes the lower ones (admin > write > read). Without tokens configured the
 * server listens on loopback only and every caller is treated as admin.
 */
typedef enum tarn_http_scope {
  TARN_HTTP_SCOPE_UNSET = 0, /* a route must state its scope: refused at registration */
  TARN_HTTP_SCOPE_PUBLIC,    /* no token needed */
  TARN_HTTP_SCOPE_READ,
  TARN_HTTP_SCOPE_WRITE,
  TARN_HTTP_SCOPE_ADMIN,
} tarn_http_scope;

/* "public", "read", "write", "admin". */
const char *tarn_http_scope_name(tarn_http_scope s);

/* A new random bearer token ("tarn_" and 64 hex digits, NUL-terminated: 70 bytes) and
 * the hex SHA-256 that goes in the secrets file. */
#define TARN_HTTP_TOKEN_LEN 69
int tarn_http_token_new(char token[TARN_HTTP_TOKEN_LEN + 1], char sha256_hex[65], tarn_error *err);
/* The hex SHA-256 of a token, as the secrets file keeps it. */
int tarn_http_token_hash(const char *token, char sha256_hex[65], tarn_error *err);

typedef struct tarn_http_server tarn_http_server;

#define TARN_HTTP_MAX_PARAMS 4
#define TARN_HTTP_MAX_HEADERS 8

/* What a handler sees. Everything is borrowed for the duration of the call. */
typedef struct tarn_http_request {
  const char *method; /* "GET" */
  const char *path;   /* decoded path without the query, e.g. "/healthz" */
  const char *route;  /* the matched route pattern, e.g. "/storage/buckets/{bucket}" */
  const char *param_names[TARN_HTTP_MAX_PARAMS];
  char *param_values[TARN_HTTP_MAX_PARAMS]; /* values of {name} segments, decoded */
  size_t nparams;
  const tarn_buf *body;   /* the request body (bounded by the route's cap) */
  void *conn;             /* the libmicrohttpd connection, for the accessors below */
  tarn_http_scope scope;  /* what the caller's token grants (admin when the server has no
                             tokens: loopback only); at least the route's scope */
  const char *token_name; /* the [token.NAME] that authenticated the caller, or NULL */
} tarn_http_request;

/*
 * A streamed response body: the server calls read(cls, pos, buf, max) on the connection's
 * thread as the client takes the bytes, pos counting from 0. It returns the bytes it put
 * in buf (1..max), 0 at the end, or -1 on failure (the connection is then closed, so a
 * client sees fewer bytes than Content-Length). free(cls) runs once the server is done
 * with it, whether or not read ever ran (HEAD never reads).
 */
typedef struct tarn_http_body_reader {
  long long (*read)(void *cls, uint64_t pos, char *buf, size_t max);
  void (*free)(void *cls); /* may be NULL */
  void *cls;
  uint64_t size; /* sent as Content-Length; TARN_HTTP_SIZE_UNKNOWN: chunked */
} tarn_http_body_reader;

#define TARN_HTTP_SIZE_UNKNOWN UINT64_MAX

/* What a handler fills. The server frees it. */
typedef struct tarn_http_response {
  int status;               /* default 200 */
  const char *content_type; /* static string; default "application/json" */
  tarn_buf body;
  char *header_names[TARN_HTTP_MAX_HEADERS];
  char *header_values[TARN_HTTP_MAX_HEADERS];
  size_t nheaders;
  /* When reader.read is set, the body comes from it instead of `body`; the server then
   * owns reader.cls (freed with reader.free even if the response is never sent). */
  tarn_http_body_reader reader;
} tarn_http_response;

/*
 * A handler fills `resp` and returns 0. Returning non-zero means the handler could not
 * produce any response (out of memory): the server answers 500. Handlers run on the
 * connection's thread; several run at once.
 */
typedef int (*tarn_http_handler)(const tarn_http_request *req, tarn_http_response *resp, void *ud);

/*
 * Streaming request bodies. A route registered with tarn_http_server_route_stream is
 * given its body chunk by chunk, as libmicrohttpd reads it from the socket, instead of a
 * buffered req->body (which is then empty). The route's cap applies to the running
 * total: a declared
 * Content-Length over it is answered 413 before begin, a chunked body that passes it
 * stops being delivered and is answered 413 after end. All three run on the
 * connection's thread; `req` stays valid from begin to end.
 */
typedef struct tarn_http_stream_ops {
  /* Headers are in, nothing of the body is read. Set *ctx and return 0 to take the
   * body; or fill resp and leave *ctx NULL to answer at once (404, 400, 403 ...) without
   * reading it. Non-zero: the server answers 500. */
  int (*begin)(const tarn_http_request *req, tarn_http_response *resp, void **ctx, void *ud);
  /* The next n bytes of the body. Non-zero stops delivery: the rest of the body is read
   * and dropped, and end gets that code. */
  int (*chunk)(void *ctx, const void *p, size_t n);
  /* Called exactly once after a begin that set *ctx; frees ctx. code is 0 when the whole
   * body was delivered, the code chunk returned, TARN_ETOOBIG as soon as the body passes
   * the cap (the server drains the rest and answers 413 itself, ignoring resp), or
   * TARN_EIO when the connection ended first (resp is then NULL). Fill resp; non-zero:
   * 500. */
  int (*end)(void *ctx, const tarn_http_request *req, tarn_http_response *resp, int code);
} tarn_http_stream_ops;

typedef struct tarn_http_route {
  const char *method;  /* "GET", "POST", ...; a GET route also answers HEAD */
  const char *pattern; /* "/healthz", "/catalog/datasets/{name}" */
  tarn_http_handler fn;
  void *ud;
  size_t max_body;       /* body cap for this route; 0 = the server's max_body */
  int quiet;             /* log requests at debug instead of info (probes, scrapes) */
  tarn_http_scope scope; /* the least scope a caller needs (required) */
  const char *params;    /* the query parameters it takes, "a,b,c"; NULL: none. Any other
                           is answered 400 naming it */
} tarn_http_route;

typedef struct tarn_http_options {
  const char *listen;         /* HOST:PORT; port 0 picks a free port */
  size_t max_body;            /* default body cap in bytes */
  unsigned max_connections;   /* connections served at once; more get 503 */
  unsigned max_per_client;    /* connections from one IP address; more get 503 (0: no cap) */
  unsigned idle_timeout_s;    /* close idle keep-alive connections after this */
  unsigned header_timeout_ms; /* a request's head must arrive within this (0: 10 s) */
  uint64_t min_rate;          /* bytes/s a body or streamed response must average over
                                  each window of header_timeout (0: no minimum) */
  const char *tls_cert_file;  /* PEM certificate chain and key: HTTPS when both are set */
  const char *tls_key_file;
  int insecure;                       /* allow listening beyond loopback without tokens */
  int public_healthz;                 /* GET /healthz needs no token */
  int public_metrics;                 /* GET /metrics needs no token */
  const struct tarn_secrets *secrets; /* [token.NAME] sections; borrowed for create only;
                                  NULL or none: no tokens (loopback only) */
  tarn_metrics *metrics;              /* borrowed; may be NULL */
} tarn_http_options;

/* Fills options from the [server] settings of cfg (secrets and metrics stay NULL). */
void tarn_http_options_from_config(tarn_http_options *o, const tarn_config *cfg);

/* Creates a server; nothing is bound until start. Tokens are read from opts->secrets
 * (TARN_ECONFIG naming the section for a bad hash or scope). Caller owns *out. */
int tarn_http_server_create(tarn_http_server **out, const tarn_http_options *opts, tarn_error *err);
/*
 * Error bodies (status >= 400) never show the file-system path `path` (copied; relative
 * paths are made absolute): "file://PATH/" and "PATH/" are cut, leaving the lake key that
 * follows, and PATH alone becomes `label`. For the lake and bucket directories, whose
 * location is no client's business. Only before start.
 */
int tarn_http_server_hide_path(tarn_http_server *srv, const char *path, const char *label,
                               tarn_error *err);
/* Registers a route (copied). Only before start. */
int tarn_http_server_route(tarn_http_server *srv, const tarn_http_route *route, tarn_error *err);
/* Registers a route whose request body is streamed to `stream` (borrowed; must outlive
 * the server); route->fn is unused. Only before start. */
int tarn_http_server_route_stream(tarn_http_server *srv, const tarn_http_route *route,
                                  const tarn_http_stream_ops *stream, tarn_error *err);
/* Binds, listens and starts serving on background threads. Logs the bound address.
 * Without tokens, an address beyond loopback is refused (TARN_ECONFIG saying how to add a
 * token) unless opts->insecure. */
int tarn_http_server_start(tarn_http_server *srv, tarn_error *err);
/* 1 when the server listens beyond loopback without tokens (--insecure). */
int tarn_http_server_insecure(const tarn_http_server *srv);
/* The bound address, "127.0.0.1:41234" ("[::1]:8080" for IPv6); valid after start. */
const char *tarn_http_server_address(const tarn_http_server *srv);
/* Requests being processed now. */
unsigned tarn_http_server_inflight(const tarn_http_server *srv);
/*
 * Graceful stop: stop accepting, wait up to timeout_ms for in-flight requests to finish,
 * then close every connection. Returns the number of requests still in flight when the
 * wait ended (0 = clean). Safe to call once, from any thread but a handler.
 */
unsigned tarn_http_server_stop(tarn_http_server *srv, uint64_t timeout_ms);
/* Stops (if running, without waiting) and frees. Accepts NULL. */
void tarn_http_server_destroy(tarn_http_server *srv);

/* ---- helpers for handlers ---- */

/* Query argument or request header (case-insensitive name); NULL when absent. */
const char *tarn_http_query(const tarn_http_request *req, const char *name);
const char *tarn_http_header(const tarn_http_request *req, const char *name);
/* Value of the {name} path parameter, NULL when the route has none. */
const char *tarn_http_param(const tarn_http_request *req, const char *name);

/* Sets the response to `json` (taking the reference) with `status`. */
int tarn_http_reply_json(tarn_http_response *resp, int status, json_t *json);
/* Sets the response to {"error":{"code":code,"message":...}} with `status`. */
int tarn_http_reply_error(tarn_http_response *resp, int status, const char *code, const char *fmt,
                          ...) __attribute__((format(printf, 4, 5)));
/* Adds a response header (name and value copied). TARN_ETOOBIG past TARN_HTTP_MAX_HEADERS,
 * TARN_ENOMEM; err (may be NULL) names the header. The response is unchanged on failure. */
int tarn_http_add_header(tarn_http_response *resp, const char *name, const char *value,
                         tarn_error *err);
/* HTTP status for a tarn_code: 404 for ENOTFOUND, 400 for bad input, 502 for I/O ... */
int tarn_http_status_for(int code);

/* ---- built-in routes ---- */

struct tarn_buckets;
struct tarn_errjournal;

/*
 * The storage API under /storage/ (buckets, objects with streamed bodies, the error
 * journal, bucket health). bs and ej are borrowed and must outlive the server;
 * max_object caps PUT bodies (413).
 */
int tarn_http_add_storage_routes(tarn_http_server *srv, struct tarn_buckets *bs,
                                 struct tarn_errjournal *ej, uint64_t max_object, tarn_error *err);

struct tarn_store;
struct tarn_catalog;
struct tarn_journal;

/* What the ingest and dataset catalog routes work on. */
typedef struct tarn_http_ingest_options {
  struct tarn_store *store;  /* the lake's object store; borrowed, must outlive the server,
                               used from many connection threads at once */
  const char *root_uri;      /* the store's root as a URI ("file:///srv/lake/"); copied */
  const char *spool_dir;     /* local directory for upload spool files; copied */
  uint64_t max_upload;       /* cap on POST /ingest bodies, multipart framing included (>= 1) */
  int threads;               /* tarn_ingest_options.threads of each ingest */
  uint64_t memory_budget;    /* tarn_ingest_options.memory_budget of each ingest (0: default) */
  uint64_t max_memory;       /* what conversions running at once may use together; one
                               that would pass it waits (0: no cap) ... */
  uint64_t queue_timeout_ms; /* ... this long, then is answered 503 with Retry-After */
  /* Opens one catalog handle for one request (handles are single-threaded); runs on
   * connection threads, several at once. The route destroys the handle. */
  int (*open_catalog)(void *arg, struct tarn_catalog **out, tarn_error *err);
  void *open_catalog_arg;
  struct tarn_journal *journal; /* each committed ingest is recorded there (an `ingest`
                                   event); NULL: not recorded. Borrowed. */
  const char *db_hosts; /* POST /ingest/db: hosts it may read from ("h,h:port"); NULL: any */
} tarn_http_ingest_options;

/*
 * POST /ingest?name=N[&mode=append][&delimiter=C] (the CSV as the multipart/form-data
 * field "file", or as a text/csv or application/octet-stream body, streamed to a spool
 * file, then ingested on the connection's thread), GET /catalog/datasets,
 * GET /catalog/datasets/{name}, POST /catalog/datasets/{name}/resync and
 * POST /catalog/resync-missing; metrics tarn_ingest_*. Statuses and bodies:
 * src/ingest/README.md.
 */
int tarn_http_add_ingest_routes(tarn_http_server *srv, const tarn_http_ingest_options *o,
                                tarn_error *err);

/* What the action-log route reads. */
typedef struct tarn_http_action_log_options {
  struct tarn_store *store; /* the lake's object store; borrowed, must outlive the server,
                               used from many connection threads at once */
  const char *root_uri;     /* the store's root as a URI ("file:///srv/lake/"); copied */
  const char *table;        /* NAMESPACE.NAME ([action_log] table); NULL: default.action_log */
  /* Opens one catalog handle for one request, as for the ingest routes; the route
   * destroys it. */
  int (*open_catalog)(void *arg, struct tarn_catalog **out, tarn_error *err);
  void *open_catalog_arg;
} tarn_http_action_log_options;

/*
 * GET /action-log/events?tenant=&object_id=&actor_sub=&since=&until=&limit=&cursor=
 * (scope read): the action log, newest first (applied_at_ms, then event_id, descending),
 * one row per event_id, in pages of limit (default 100, at most 1000) with an opaque
 * next_cursor; answered from the current snapshot of the table with partition and
 * statistics pruning (tarn_action_log_query). {"events":[...],"next_cursor":"..."|null}.
 * 400 invalid_argument naming the parameter, 400 invalid_cursor, 404 not_found while the
 * table does not exist, 502 when the catalog or the lake fails. TARN_EINVAL for a table
 * name that is not NAMESPACE.NAME. Contract: src/sink/README.md.
 */
int tarn_http_add_action_log_routes(tarn_http_server *srv, const tarn_http_action_log_options *o,
                                    tarn_error *err);

struct tarn_journal;
/*
 * The mutation journal's routes (src/journal/README.md): POST /journal/events (scope
 * write; at most max_events events and max_body bytes, 413 past them), GET
 * /journal/history/{entity_id}, /journal/recent and /journal/stats (scope read). j and
 * metrics (may be NULL) are borrowed and must outlive the server.
 */
int tarn_http_add_journal_routes(tarn_http_server *srv, struct tarn_journal *j, size_t max_events,
                                 size_t max_body, tarn_metrics *metrics, tarn_error *err);

/*
 * GET /healthz and GET /metrics. `version` is the string /healthz reports; the metrics
 * registry is the server's. Also registers process gauges (start time, uptime).
 */
int tarn_http_add_ops_routes(tarn_http_server *srv, const char *version, tarn_error *err);
/* Answers 1 when healthy; 0 with the reason in why. Runs on connection threads. */
typedef int (*tarn_http_health_fn)(void *arg, char *why, size_t n);
/* The same, with /healthz answering 503 {"status":"unhealthy","reason":...} while
 * `health` says so (a daemon whose liveness is more than its HTTP server: the sink). */
int tarn_http_add_ops_routes_health(tarn_http_server *srv, const char *version,
                                    tarn_http_health_fn health, void *arg, tarn_error *err);

#endif
