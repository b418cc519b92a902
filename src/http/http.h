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

typedef struct tarn_http_server tarn_http_server;

#define TARN_HTTP_MAX_PARAMS 4
#define TARN_HTTP_MAX_HEADERS 8

/* What a handler sees. Everything is borrowed for the duration of the call. */
typedef struct tarn_http_request {
  const char *method;     /* "GET" */
  const char *path;       /* decoded path without the query, e.g. "/healthz" */
  const char *route;      /* the matched route pattern, e.g. "/storage/buckets/{bucket}" */
  const char *param_names[TARN_HTTP_MAX_PARAMS];
  char *param_values[TARN_HTTP_MAX_PARAMS]; /* values of {name} segments, decoded */
  size_t nparams;
  const tarn_buf *body;   /* the request body (bounded by the route's cap) */
  void *conn;             /* the libmicrohttpd connection, for the accessors below */
} tarn_http_request;

/* What a handler fills. The server frees it. */
typedef struct tarn_http_response {
  int status;                 /* default 200 */
  const char *content_type;   /* static string; default "application/json" */
  tarn_buf body;
  char *header_names[TARN_HTTP_MAX_HEADERS];
  char *header_values[TARN_HTTP_MAX_HEADERS];
  size_t nheaders;
} tarn_http_response;

/*
 * A handler fills `resp` and returns 0. Returning non-zero means the handler could not
 * produce any response (out of memory): the server answers 500. Handlers run on the
 * connection's thread; several run at once.
 */
typedef int (*tarn_http_handler)(const tarn_http_request *req, tarn_http_response *resp,
                                 void *ud);

typedef struct tarn_http_route {
  const char *method;   /* "GET", "POST", ...; a GET route also answers HEAD */
  const char *pattern;  /* "/healthz", "/catalog/datasets/{name}" */
  tarn_http_handler fn;
  void *ud;
  size_t max_body;      /* body cap for this route; 0 = the server's max_body */
  int quiet;            /* log requests at debug instead of info (probes, scrapes) */
} tarn_http_route;

typedef struct tarn_http_options {
  const char *listen;          /* HOST:PORT; port 0 picks a free port */
  size_t max_body;             /* default body cap in bytes */
  unsigned max_connections;
  unsigned idle_timeout_s;     /* close idle keep-alive connections after this */
  tarn_metrics *metrics;       /* borrowed; may be NULL */
} tarn_http_options;

/* Fills options from the [server] settings of cfg. */
void tarn_http_options_from_config(tarn_http_options *o, const tarn_config *cfg);

/* Creates a server; nothing is bound until start. Caller owns *out. */
int tarn_http_server_create(tarn_http_server **out, const tarn_http_options *opts,
                            tarn_error *err);
/* Registers a route (copied). Only before start. */
int tarn_http_server_route(tarn_http_server *srv, const tarn_http_route *route, tarn_error *err);
/* Binds, listens and starts serving on background threads. Logs the bound address. */
int tarn_http_server_start(tarn_http_server *srv, tarn_error *err);
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
int tarn_http_reply_error(tarn_http_response *resp, int status, const char *code,
                          const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Adds a response header (copied). */
int tarn_http_add_header(tarn_http_response *resp, const char *name, const char *value);
/* HTTP status for a tarn_code: 404 for ENOTFOUND, 400 for bad input, 502 for I/O ... */
int tarn_http_status_for(int code);

/* ---- built-in routes ---- */

/*
 * GET /healthz and GET /metrics. `version` is the string /healthz reports; the metrics
 * registry is the server's. Also registers process gauges (start time, uptime).
 */
int tarn_http_add_ops_routes(tarn_http_server *srv, const char *version, tarn_error *err);

#endif
