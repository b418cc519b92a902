/* server.c - libmicrohttpd glue: request lifecycle, body caps, errors, metrics, shutdown. */
#include "http_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"

const tarn_cfg_def tarn_http_config[] = {
    {"server", "listen", TARN_CFG_HOSTPORT, "127.0.0.1:8080", 0, 0, NULL, "TARN_LISTEN", "listen",
     "serve", 0, "address to listen on, HOST:PORT (port 0 picks a free port)"},
    {"server", "max_body", TARN_CFG_SIZE, "16MiB", 0, 64LL << 30, NULL, "TARN_MAX_BODY",
     "max-body", "serve", 0, "largest request body accepted by default (bigger: 413)"},
    {"server", "max_connections", TARN_CFG_INT, "256", 1, 65536, NULL, "TARN_MAX_CONNECTIONS",
     NULL, NULL, 0, "most client connections served at once"},
    {"server", "idle_timeout", TARN_CFG_DURATION, "60s", 1000, 3600 * 1000, NULL, NULL, NULL,
     NULL, 0, "close a keep-alive connection idle this long"},
    {"server", "shutdown_timeout", TARN_CFG_DURATION, "30s", 0, 600 * 1000, NULL,
     "TARN_SHUTDOWN_TIMEOUT", NULL, NULL, 0,
     "on SIGTERM/SIGINT, wait this long for in-flight requests before closing them"},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL, NULL, NULL, 0, NULL},
};


/* Per-request state, from the first callback to the completion notice. */
typedef struct req_ctx {
  tarn_http_server *srv;
  uint64_t start_ns;
  tarn__http_match match;
  tarn_http_request req; /* what handlers see; points into this struct */
  size_t cap;
  int too_large;
  int status;       /* what we answered */
  tarn_buf body;
  char method[16];  /* the request's method, or "other" for one HTTP does not define */
  int method_other;
  char *path;
  /* streaming routes */
  void *sctx;        /* the handler's context between begin and end */
  int stream_open;   /* begin set sctx and end has not run */
  int stream_code;   /* 0, or why delivery stopped */
  uint64_t received; /* body bytes delivered so far */
} req_ctx;

void tarn_http_options_from_config(tarn_http_options *o, const tarn_config *cfg) {
  memset(o, 0, sizeof(*o));
  o->listen = tarn_config_str(cfg, "server", "listen");
  o->max_body = (size_t)tarn_config_int(cfg, "server", "max_body");
  o->max_connections = (unsigned)tarn_config_int(cfg, "server", "max_connections");
  o->idle_timeout_s = (unsigned)(tarn_config_int(cfg, "server", "idle_timeout") / 1000);
}

int tarn_http_server_create(tarn_http_server **out, const tarn_http_options *opts,
                            tarn_error *err) {
  tarn_http_server *srv = tarn_calloc(1, sizeof(*srv));
  *out = NULL;
  if (srv == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory creating HTTP server");
  srv->opts = *opts;
  srv->listen = tarn_strdup(opts->listen ? opts->listen : "127.0.0.1:8080");
  if (srv->listen == NULL) {
    tarn_free(srv);
    return tarn_error_set(err, TARN_ENOMEM, "out of memory creating HTTP server");
  }
  srv->opts.listen = srv->listen;
  if (srv->opts.max_connections == 0)
    srv->opts.max_connections = 256;
  if (srv->opts.idle_timeout_s == 0)
    srv->opts.idle_timeout_s = 60;
  srv->listen_fd = -1;
  if (opts->metrics != NULL) {
    srv->m_requests = tarn_metrics_counter(opts->metrics, "tarn_http_requests_total",
                                           "HTTP requests answered, by route, method and status.",
                                           "route,method,status");
    srv->m_duration = tarn_metrics_histogram(
        opts->metrics, "tarn_http_request_duration_seconds",
        "Time from the request's first byte to the response's last, by route and method.",
        "route,method", tarn_metrics_latency_buckets, tarn_metrics_latency_nbuckets);
    srv->m_inflight = tarn_metrics_gauge(opts->metrics, "tarn_http_requests_in_flight",
                                         "HTTP requests being processed now.", NULL);
    srv->m_body_rejected =
        tarn_metrics_counter(opts->metrics, "tarn_http_request_body_rejected_total",
                             "Requests refused with 413 because the body exceeded the cap.",
                             "route");
    if (!srv->m_requests || !srv->m_duration || !srv->m_inflight || !srv->m_body_rejected) {
      tarn_http_server_destroy(srv);
      return tarn_error_set(err, TARN_ENOMEM, "cannot register HTTP metrics");
    }
  }
  *out = srv;
  return 0;
}

int tarn_http_server_route(tarn_http_server *srv, const tarn_http_route *route, tarn_error *err) {
  if (srv->mhd != NULL)
    return tarn_error_set(err, TARN_EINVAL, "routes must be added before the server starts");
  return tarn__http_router_add(&srv->router, route, err);
}

int tarn_http_server_route_stream(tarn_http_server *srv, const tarn_http_route *route,
                                  const tarn_http_stream_ops *stream, tarn_error *err) {
  if (srv->mhd != NULL)
    return tarn_error_set(err, TARN_EINVAL, "routes must be added before the server starts");
  if (stream == NULL)
    return tarn_error_set(err, TARN_EINVAL, "streaming route %s without callbacks",
                          route->pattern ? route->pattern : "?");
  return tarn__http_router_add_stream(&srv->router, route, stream, err);
}

const char *tarn_http_server_address(const tarn_http_server *srv) { return srv->address; }

unsigned tarn_http_server_inflight(const tarn_http_server *srv) {
  return atomic_load(&((tarn_http_server *)srv)->inflight);
}

/* ---- responses ---- */

static void response_init(tarn_http_response *resp) {
  memset(resp, 0, sizeof(*resp));
  resp->status = 200;
  resp->content_type = "application/json";
  tarn_buf_init(&resp->body, TARN_BUF_UNLIMITED);
}

static void response_free(tarn_http_response *resp) {
  size_t i;
  if (resp->reader.read != NULL && resp->reader.free != NULL)
    resp->reader.free(resp->reader.cls);
  memset(&resp->reader, 0, sizeof(resp->reader));
  tarn_buf_free(&resp->body);
  for (i = 0; i < resp->nheaders; i++) {
    tarn_free(resp->header_names[i]);
    tarn_free(resp->header_values[i]);
  }
  resp->nheaders = 0;
}

int tarn_http_add_header(tarn_http_response *resp, const char *name, const char *value) {
  char *n, *v;
  if (resp->nheaders == TARN_HTTP_MAX_HEADERS)
    return TARN_ETOOBIG;
  n = tarn_strdup(name);
  v = tarn_strdup(value);
  if (n == NULL || v == NULL) {
    tarn_free(n);
    tarn_free(v);
    return TARN_ENOMEM;
  }
  resp->header_names[resp->nheaders] = n;
  resp->header_values[resp->nheaders] = v;
  resp->nheaders++;
  return 0;
}

int tarn_http_reply_json(tarn_http_response *resp, int status, json_t *json) {
  char *text;
  int rc;
  if (json == NULL)
    return TARN_ENOMEM;
  text = json_dumps(json, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(12));
  json_decref(json);
  if (text == NULL)
    return TARN_ENOMEM;
  tarn_buf_reset(&resp->body);
  rc = tarn_buf_append_str(&resp->body, text, NULL);
  if (rc == 0)
    rc = tarn_buf_append(&resp->body, "\n", 1, NULL);
  tarn_free(text); /* main installs tarn_malloc/tarn_free as jansson's allocator */
  resp->status = status;
  resp->content_type = "application/json";
  return rc;
}

int tarn_http_reply_error(tarn_http_response *resp, int status, const char *code,
                          const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  return tarn_http_reply_json(resp, status,
                              json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg));
}

int tarn_http_status_for(int code) {
  switch (code) {
  case TARN_OK: return 200;
  case TARN_ENOTFOUND: return 404;
  case TARN_EEXIST: case TARN_ECONFLICT: case TARN_ESCHEMA: return 409;
  case TARN_EINVAL: case TARN_EBADKEY: case TARN_ECORRUPT: case TARN_ERANGE: return 400;
  case TARN_ETOOBIG: return 413;
  case TARN_EPERM: return 403;
  case TARN_EBADMETHOD: return 405;
  case TARN_ENOTAVAIL: case TARN_EUNSUPPORTED: return 501;
  case TARN_ETIMEDOUT: return 504;
  case TARN_EIO: case TARN_ENETWORK: case TARN_EFSYNC: case TARN_ESHORTWRITE: case TARN_ENOSPC:
  case TARN_EUNKNOWN_OUTCOME: /* the storage behind us may or may not have done it */
    return 502;
  default: return 500;
  }
}

/* libmicrohttpd's side of a tarn_http_body_reader. */
typedef struct reader_glue {
  tarn_http_body_reader r;
} reader_glue;

static ssize_t reader_read(void *cls, uint64_t pos, char *buf, size_t max) {
  reader_glue *g = cls;
  long long n = g->r.read(g->r.cls, pos, buf, max);
  if (n == 0)
    return MHD_CONTENT_READER_END_OF_STREAM;
  if (n < 0 || (size_t)n > max)
    return MHD_CONTENT_READER_END_WITH_ERROR; /* closes the connection */
  return (ssize_t)n;
}

static void reader_free(void *cls) {
  reader_glue *g = cls;
  if (g->r.free != NULL)
    g->r.free(g->r.cls);
  tarn_free(g);
}

/* Block size for streamed bodies: what a reader is asked for at a time. */
#define READER_BLOCK (64 * 1024)

/* Queues `resp` on the connection. Returns MHD_YES/MHD_NO. */
static enum MHD_Result send_response(struct MHD_Connection *conn, req_ctx *ctx,
                                     tarn_http_response *resp) {
  struct MHD_Response *r;
  enum MHD_Result ret;
  size_t i;
  if (resp->reader.read != NULL) {
    reader_glue *g = tarn_malloc(sizeof(*g));
    if (g == NULL)
      return MHD_NO;
    g->r = resp->reader;
    r = MHD_create_response_from_callback(
        resp->reader.size == TARN_HTTP_SIZE_UNKNOWN ? MHD_SIZE_UNKNOWN : resp->reader.size,
        READER_BLOCK, reader_read, g, reader_free);
    if (r == NULL) {
      tarn_free(g);
      return MHD_NO; /* resp still owns the reader: response_free releases it */
    }
    memset(&resp->reader, 0, sizeof(resp->reader)); /* the response owns it now */
  } else {
    r = MHD_create_response_from_buffer(resp->body.len, resp->body.data ? resp->body.data : "",
                                        MHD_RESPMEM_MUST_COPY);
  }
  if (r == NULL)
    return MHD_NO;
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
  for (i = 0; i < resp->nheaders; i++)
    MHD_add_response_header(r, resp->header_names[i], resp->header_values[i]);
  ctx->status = resp->status;
  ret = MHD_queue_response(conn, (unsigned)resp->status, r);
  MHD_destroy_response(r);
  return ret;
}

/* Answers with a JSON error right away. */
static enum MHD_Result send_error(struct MHD_Connection *conn, req_ctx *ctx, int status,
                                  const char *code, const char *allow, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static enum MHD_Result send_error(struct MHD_Connection *conn, req_ctx *ctx, int status,
                                  const char *code, const char *allow, const char *fmt, ...) {
  tarn_http_response resp;
  char msg[1024];
  va_list ap;
  enum MHD_Result ret;
  response_init(&resp);
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (tarn_http_reply_error(&resp, status, code, "%s", msg) != 0) {
    response_free(&resp);
    return MHD_NO;
  }
  if (allow != NULL)
    tarn_http_add_header(&resp, MHD_HTTP_HEADER_ALLOW, allow);
  ret = send_response(conn, ctx, &resp);
  response_free(&resp);
  return ret;
}

/* ---- request lifecycle ---- */

/* The methods HTTP/1.1 defines (RFC 9110) and PATCH: any other token a client sends is
 * answered 501 and counted as "other", so junk methods cannot add label values. */
static int method_known(const char *m) {
  static const char *const known[] = {"GET",     "HEAD",  "POST",    "PUT",  "DELETE",
                                      "OPTIONS", "TRACE", "CONNECT", "PATCH"};
  size_t i;
  for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
    if (strcmp(m, known[i]) == 0)
      return 1;
  return 0;
}

static req_ctx *ctx_create(tarn_http_server *srv, const char *method, const char *url) {
  req_ctx *ctx = tarn_calloc(1, sizeof(*ctx));
  if (ctx == NULL)
    return NULL;
  ctx->srv = srv;
  ctx->start_ns = tarn_clock_mono_ns();
  ctx->method_other = !method_known(method);
  snprintf(ctx->method, sizeof(ctx->method), "%s", ctx->method_other ? "other" : method);
  ctx->path = tarn_strdup(url);
  if (ctx->path == NULL) {
    tarn_free(ctx);
    return NULL;
  }
  return ctx;
}

/* Fills ctx->req from the match; called once the route is known. */
static void build_request(req_ctx *ctx, struct MHD_Connection *conn) {
  tarn_http_request *req = &ctx->req;
  size_t i;
  memset(req, 0, sizeof(*req));
  req->method = ctx->method;
  req->path = ctx->path;
  req->route = ctx->match.route->pattern;
  for (i = 0; i < ctx->match.nparams; i++) {
    req->param_names[i] = ctx->match.param_names[i];
    req->param_values[i] = ctx->match.param_values[i];
  }
  req->nparams = ctx->match.nparams;
  req->body = &ctx->body;
  req->conn = conn;
}

static void ctx_destroy(req_ctx *ctx) {
  tarn__http_match_free(&ctx->match);
  tarn_buf_free(&ctx->body);
  tarn_free(ctx->path);
  tarn_free(ctx);
}

static enum MHD_Result run_handler(struct MHD_Connection *conn, req_ctx *ctx) {
  tarn_http_response resp;
  enum MHD_Result ret;
  build_request(ctx, conn);
  response_init(&resp);
  if (ctx->match.route->fn(&ctx->req, &resp, ctx->match.route->ud) != 0) {
    response_free(&resp);
    return send_error(conn, ctx, 500, "internal", NULL, "the handler for %s failed",
                      ctx->match.route->pattern);
  }
  ret = send_response(conn, ctx, &resp);
  response_free(&resp);
  return ret;
}

/* The route label for metrics and logs: the pattern, never the raw path, so that label
 * cardinality stays bounded whatever clients send. */
static const char *route_label(const req_ctx *ctx) {
  if (ctx->match.route != NULL)
    return ctx->match.route->pattern;
  return ctx->match.path_pattern ? ctx->match.path_pattern : "unmatched";
}

/* ---- streaming request bodies ---- */

static enum MHD_Result stream_begin(struct MHD_Connection *conn, req_ctx *ctx) {
  const tarn_http_route *rt = ctx->match.route;
  tarn_http_response resp;
  enum MHD_Result ret;
  void *sctx = NULL;
  build_request(ctx, conn);
  response_init(&resp);
  if (ctx->match.stream->begin(&ctx->req, &resp, &sctx, rt->ud) != 0) {
    response_free(&resp);
    return send_error(conn, ctx, 500, "internal", NULL, "the handler for %s failed",
                      rt->pattern);
  }
  if (sctx == NULL) { /* answered without the body */
    ret = send_response(conn, ctx, &resp);
    response_free(&resp);
    return ret;
  }
  response_free(&resp);
  ctx->sctx = sctx;
  ctx->stream_open = 1;
  return MHD_YES;
}

static enum MHD_Result stream_next(struct MHD_Connection *conn, req_ctx *ctx,
                                   const char *data, size_t *size) {
  const tarn_http_route *rt = ctx->match.route;
  tarn_http_response resp;
  enum MHD_Result ret;
  int rc, code;
  if (*size > 0) {
    if (ctx->stream_open && ctx->stream_code == 0) {
      if (ctx->received + *size > ctx->cap) {
        /* Past the cap: let the handler drop what it has now (not when the rest of the
         * body has been read and thrown away), and answer 413 at the end. */
        ctx->stream_code = TARN_ETOOBIG;
        ctx->too_large = 1;
        ctx->stream_open = 0;
        response_init(&resp);
        ctx->match.stream->end(ctx->sctx, &ctx->req, &resp, TARN_ETOOBIG);
        response_free(&resp);
        ctx->sctx = NULL;
      } else {
        ctx->received += *size;
        rc = ctx->match.stream->chunk(ctx->sctx, data, *size);
        if (rc != 0)
          ctx->stream_code = rc;
      }
    }
    *size = 0; /* consumed, or dropped */
    return MHD_YES;
  }
  /* The body is over. */
  if (ctx->too_large) {
    tarn_metric_add(ctx->srv->m_body_rejected, (const char *[]){rt->pattern}, 1);
    return send_error(conn, ctx, 413, "payload_too_large", NULL,
                      "request body exceeds the limit of %zu bytes", ctx->cap);
  }
  if (!ctx->stream_open) /* begin answered already */
    return MHD_YES;
  code = ctx->stream_code;
  ctx->stream_open = 0;
  response_init(&resp);
  rc = ctx->match.stream->end(ctx->sctx, &ctx->req, &resp, code);
  ctx->sctx = NULL;
  if (rc != 0) {
    response_free(&resp);
    return send_error(conn, ctx, 500, "internal", NULL, "the handler for %s failed",
                      rt->pattern);
  }
  ret = send_response(conn, ctx, &resp);
  response_free(&resp);
  return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
  tarn_http_server *srv = cls;
  req_ctx *ctx = *con_cls;
  if (ctx == NULL) {
    const char *cl;
    ctx = ctx_create(srv, method, url);
    if (ctx == NULL)
      return MHD_NO;
    *con_cls = ctx;
    atomic_fetch_add(&srv->inflight, 1);
    tarn_metric_add(srv->m_inflight, NULL, 1);
    if (ctx->method_other)
      return send_error(conn, ctx, 501, "not_implemented", NULL,
                        "the method is not one HTTP defines; tarn serves GET, HEAD, PUT, "
                        "POST and DELETE");
    if (tarn__http_router_match(&srv->router, method, url, &ctx->match) != 0)
      return MHD_NO;
    ctx->cap = ctx->match.route && ctx->match.route->max_body ? ctx->match.route->max_body
                                                              : srv->opts.max_body;
    tarn_buf_init(&ctx->body, ctx->cap);
    cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl != NULL) {
      char *end;
      unsigned long long n;
      errno = 0;
      n = strtoull(cl, &end, 10);
      if (errno == 0 && *end == '\0' && n > ctx->cap) {
        tarn_metric_add(srv->m_body_rejected, (const char *[]){route_label(ctx)}, 1);
        return send_error(conn, ctx, 413, "payload_too_large", NULL,
                          "request body of %llu bytes exceeds the limit of %zu bytes", n,
                          ctx->cap);
      }
    }
    /* Unknown paths and methods are answered before any body is read. */
    if (!ctx->match.path_known)
      return send_error(conn, ctx, 404, "not_found", NULL, "no route for %s %s", method, url);
    if (ctx->match.route == NULL)
      return send_error(conn, ctx, 405, "method_not_allowed", ctx->match.allow,
                        "%s is not allowed on %s; allowed: %s", method, url, ctx->match.allow);
    if (ctx->match.stream != NULL)
      return stream_begin(conn, ctx);
    return MHD_YES;
  }
  if (ctx->stream_open || ctx->match.stream != NULL)
    return stream_next(conn, ctx, upload_data, upload_data_size);
  if (*upload_data_size > 0) {
    /* Chunked bodies carry no length up front: count as they arrive, drop past the cap. */
    if (!ctx->too_large && tarn_buf_append(&ctx->body, upload_data, *upload_data_size, NULL) != 0)
      ctx->too_large = 1;
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (ctx->too_large) {
    tarn_metric_add(srv->m_body_rejected, (const char *[]){ctx->match.route->pattern}, 1);
    return send_error(conn, ctx, 413, "payload_too_large", NULL,
                      "request body exceeds the limit of %zu bytes", ctx->cap);
  }
  return run_handler(conn, ctx);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  tarn_http_server *srv = cls;
  req_ctx *ctx = *con_cls;
  const char *route;
  char status[8];
  double secs;
  if (ctx == NULL)
    return;
  *con_cls = NULL;
  if (ctx->stream_open) { /* the connection ended before the body did */
    ctx->stream_open = 0;
    ctx->match.stream->end(ctx->sctx, &ctx->req, NULL, TARN_EIO);
    ctx->sctx = NULL;
  }
  route = route_label(ctx);
  secs = (double)(tarn_clock_mono_ns() - ctx->start_ns) / 1e9;
  snprintf(status, sizeof(status), "%d", ctx->status ? ctx->status : 0);
  tarn_metric_add(srv->m_requests, (const char *[]){route, ctx->method, status}, 1);
  tarn_metric_observe(srv->m_duration, (const char *[]){route, ctx->method}, secs);
  tarn_log(ctx->match.route && ctx->match.route->quiet ? TARN_LOG_DEBUG : TARN_LOG_INFO,
           "http request", "method=%s path=%s route=%s status=%d dur_ms=%.3f completed=%s",
           ctx->method, ctx->path, route, ctx->status, secs * 1000,
           toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "true" : "false");
  tarn_metric_add(srv->m_inflight, NULL, -1);
  atomic_fetch_sub(&srv->inflight, 1);
  ctx_destroy(ctx);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
  char msg[512];
  size_t n;
  vsnprintf(msg, sizeof(msg), fmt, ap);
  n = strlen(msg);
  while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
    msg[--n] = '\0';
  tarn_log_warn("libmicrohttpd", "detail=%s", msg);
}

/* ---- start and stop ---- */

static int bind_listen(tarn_http_server *srv, tarn_error *err) {
  char host[256], portstr[8];
  int port, rc, fd = -1, one = 1;
  struct addrinfo hints, *res = NULL, *ai;
  struct sockaddr_storage ss;
  socklen_t sl = sizeof(ss);
  char ip[INET6_ADDRSTRLEN];
  if (tarn_parse_hostport(srv->listen, host, sizeof(host), &port) != 0)
    return tarn_error_set(err, TARN_ECONFIG, "listen address \"%s\" is not HOST:PORT",
                          srv->listen);
  snprintf(portstr, sizeof(portstr), "%d", port);
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  rc = getaddrinfo(host, portstr, &hints, &res);
  if (rc != 0)
    return tarn_error_set(err, TARN_ECONFIG, "listen address %s: %s", srv->listen,
                          gai_strerror(rc));
  rc = TARN_EIO;
  for (ai = res; ai != NULL; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
      continue;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 128) == 0)
      break;
    rc = tarn_error_sys(err, tarn_code_from_errno(errno) == TARN_EPERM ? TARN_EPERM : TARN_EIO,
                        errno, "cannot listen on %s", srv->listen);
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0)
    return rc;
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
    close(fd);
    return tarn_error_sys(err, TARN_EIO, errno, "getsockname");
  }
  if (ss.ss_family == AF_INET6) {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
    snprintf(srv->address, sizeof(srv->address), "[%s]:%d", ip, ntohs(s6->sin6_port));
  } else {
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
    snprintf(srv->address, sizeof(srv->address), "%s:%d", ip, ntohs(s4->sin_port));
  }
  srv->listen_fd = fd;
  return 0;
}

int tarn_http_server_start(tarn_http_server *srv, tarn_error *err) {
  int rc = bind_listen(srv, err);
  if (rc != 0)
    return rc;
  /* One thread per connection: handlers may block on storage and catalog I/O, and the
   * connection limit bounds the threads. MHD_USE_ITC lets us quiesce (stop accepting)
   * while in-flight requests finish. */
  srv->mhd = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
          MHD_USE_ITC | MHD_USE_ERROR_LOG,
      0, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv,
      MHD_OPTION_LISTEN_SOCKET, srv->listen_fd,
      MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_CONNECTION_LIMIT,
      srv->opts.max_connections, MHD_OPTION_CONNECTION_TIMEOUT, srv->opts.idle_timeout_s,
      MHD_OPTION_END);
  if (srv->mhd == NULL) {
    close(srv->listen_fd);
    srv->listen_fd = -1;
    return tarn_error_set(err, TARN_EIO, "cannot start HTTP server on %s", srv->address);
  }
  tarn_log_info("http server listening", "addr=%s max_body=%zu max_connections=%u",
                srv->address, srv->opts.max_body, srv->opts.max_connections);
  return 0;
}

unsigned tarn_http_server_stop(tarn_http_server *srv, uint64_t timeout_ms) {
  uint64_t deadline;
  unsigned left;
  MHD_socket fd;
  if (srv->mhd == NULL)
    return 0;
  fd = MHD_quiesce_daemon(srv->mhd); /* stops accepting; the socket is ours again */
  if (fd != MHD_INVALID_SOCKET) {
    close(fd);
    srv->listen_fd = -1;
  }
  deadline = tarn_clock_mono_ns() + timeout_ms * 1000000ull;
  while ((left = atomic_load(&srv->inflight)) > 0 && tarn_clock_mono_ns() < deadline)
    tarn_sleep_ms(10);
  if (left > 0)
    tarn_log_warn("http shutdown timed out", "inflight=%u timeout_ms=%llu", left,
                  (unsigned long long)timeout_ms);
  MHD_stop_daemon(srv->mhd);
  srv->mhd = NULL;
  return left;
}

int tarn__http_server_own(tarn_http_server *srv, void *p, void (*fn)(void *)) {
  if (srv->nowned == TARN__HTTP_MAX_OWNED)
    return TARN_ETOOBIG;
  srv->owned[srv->nowned].p = p;
  srv->owned[srv->nowned].fn = fn;
  srv->nowned++;
  return 0;
}

void tarn_http_server_destroy(tarn_http_server *srv) {
  size_t i;
  if (srv == NULL)
    return;
  if (srv->mhd != NULL)
    tarn_http_server_stop(srv, 0);
  if (srv->listen_fd >= 0)
    close(srv->listen_fd);
  tarn__http_router_free(&srv->router);
  for (i = srv->nowned; i > 0; i--)
    srv->owned[i - 1].fn(srv->owned[i - 1].p);
  tarn_free(srv->listen);
  tarn_free(srv);
}

/* ---- request accessors ---- */

const char *tarn_http_query(const tarn_http_request *req, const char *name) {
  return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *tarn_http_header(const tarn_http_request *req, const char *name) {
  return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *tarn_http_param(const tarn_http_request *req, const char *name) {
  size_t i, len = strlen(name);
  for (i = 0; i < req->nparams; i++) {
    const char *pn = req->param_names[i];
    if (strncmp(pn, name, len) == 0 && (pn[len] == '}' || strncmp(pn + len, "...}", 4) == 0))
      return req->param_values[i];
  }
  return NULL;
}
