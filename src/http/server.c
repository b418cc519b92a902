/* server.c - libmicrohttpd glue, the request lifecycle: method and route, authorization,
 * body caps, streamed bodies, handlers, request metrics. Connections, responses and
 * start/stop are in server_conn.c, server_reply.c and server_start.c. */
#include "server_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/secrets.h"
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
  req->scope = ctx->scope;
  req->token_name = ctx->token_name;
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
  tarn__srv_response_init(&resp);
  if (ctx->match.route->fn(&ctx->req, &resp, ctx->match.route->ud) != 0) {
    tarn__srv_response_free(&resp);
    return tarn__srv_send_error(conn, ctx, 500, "internal", NULL, NULL, "the handler for %s failed",
                                ctx->match.route->pattern);
  }
  ret = tarn__srv_send_response(conn, ctx, &resp);
  tarn__srv_response_free(&resp);
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
  tarn__srv_response_init(&resp);
  if (ctx->match.stream->begin(&ctx->req, &resp, &sctx, rt->ud) != 0) {
    tarn__srv_response_free(&resp);
    return tarn__srv_send_error(conn, ctx, 500, "internal", NULL, NULL, "the handler for %s failed",
                                rt->pattern);
  }
  if (sctx == NULL) { /* answered without the body */
    ret = tarn__srv_send_response(conn, ctx, &resp);
    tarn__srv_response_free(&resp);
    return ret;
  }
  tarn__srv_response_free(&resp);
  ctx->sctx = sctx;
  ctx->stream_open = 1;
  return MHD_YES;
}

static enum MHD_Result stream_next(struct MHD_Connection *conn, req_ctx *ctx, const char *data,
                                   size_t *size) {
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
        tarn__srv_response_init(&resp);
        ctx->match.stream->end(ctx->sctx, &ctx->req, &resp, TARN_ETOOBIG);
        tarn__srv_response_free(&resp);
        ctx->sctx = NULL;
      } else {
        ctx->received += *size;
        tarn__srv_conn_busy(ctx->srv, tarn__srv_conn_of(conn), 1);
        rc = ctx->match.stream->chunk(ctx->sctx, data, *size);
        tarn__srv_conn_busy(ctx->srv, tarn__srv_conn_of(conn), 0);
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
    return tarn__srv_send_error(conn, ctx, 413, "payload_too_large", NULL, NULL,
                                "request body exceeds the limit of %zu bytes", ctx->cap);
  }
  if (!ctx->stream_open) /* begin answered already */
    return MHD_YES;
  code = ctx->stream_code;
  ctx->stream_open = 0;
  tarn__srv_response_init(&resp);
  rc = ctx->match.stream->end(ctx->sctx, &ctx->req, &resp, code);
  ctx->sctx = NULL;
  if (rc != 0) {
    tarn__srv_response_free(&resp);
    return tarn__srv_send_error(conn, ctx, 500, "internal", NULL, NULL, "the handler for %s failed",
                                rt->pattern);
  }
  ret = tarn__srv_send_response(conn, ctx, &resp);
  tarn__srv_response_free(&resp);
  return ret;
}

/*
 * Who may call: a public route anyone; with no tokens configured (loopback only) every
 * caller is admin; otherwise a valid bearer token whose scope covers the route's. 401
 * comes before 404, so that paths are not probed without a token. Returns MHD_YES to go
 * on (ctx->scope set) or the result of the error answer (ctx->answered set).
 */
static enum MHD_Result authorize(struct MHD_Connection *conn, req_ctx *ctx) {
  tarn_http_server *srv = ctx->srv;
  const tarn_http_route *rt = ctx->match.route;
  const tarn__http_token *tok = NULL;
  int r;
  if (srv->auth.n == 0) {
    ctx->scope = TARN_HTTP_SCOPE_ADMIN;
    return MHD_YES;
  }
  r = tarn__http_auth_check(
      &srv->auth, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization"), &tok);
  if (r == TARN__HTTP_AUTH_OK) {
    ctx->scope = tok->scope;
    ctx->token_name = tok->name;
  } else {
    ctx->scope = TARN_HTTP_SCOPE_PUBLIC;
  }
  if (rt != NULL && rt->scope == TARN_HTTP_SCOPE_PUBLIC)
    return MHD_YES;
  ctx->answered = 1;
  if (r != TARN__HTTP_AUTH_OK) {
    tarn_metric_add(srv->m_auth_failed,
                    (const char *[]){r == TARN__HTTP_AUTH_MISSING ? "missing" : "invalid"}, 1);
    return tarn__srv_send_error(
        conn, ctx, 401, "unauthorized", "WWW-Authenticate",
        r == TARN__HTTP_AUTH_MISSING ? "Bearer realm=\"tarn\""
                                     : "Bearer realm=\"tarn\", error=\"invalid_token\"",
        r == TARN__HTTP_AUTH_MISSING ? "authentication required: send Authorization: Bearer <token>"
                                     : "the bearer token is not valid");
  }
  if (rt != NULL && ctx->scope < rt->scope) {
    tarn_metric_add(srv->m_auth_failed, (const char *[]){"scope"}, 1);
    return tarn__srv_send_error(conn, ctx, 403, "forbidden", NULL, NULL,
                                "token \"%s\" has scope %s; %s %s needs %s", tok->name,
                                tarn_http_scope_name(ctx->scope), ctx->method, rt->pattern,
                                tarn_http_scope_name(rt->scope));
  }
  ctx->answered = 0;
  return MHD_YES;
}

typedef struct param_check {
  const char *allowed; /* "a,b,c" or NULL */
  char bad[64];        /* the first one not in it */
} param_check;

static enum MHD_Result check_param(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value) {
  param_check *pc = cls;
  const char *p = pc->allowed;
  size_t kl = strlen(key);
  while (p != NULL && *p != '\0') {
    const char *comma = strchr(p, ',');
    size_t n = comma ? (size_t)(comma - p) : strlen(p);
    if (n == kl && strncmp(p, key, n) == 0)
      return MHD_YES;
    p = comma ? comma + 1 : NULL;
  }
  snprintf(pc->bad, sizeof(pc->bad), "%s", key);
  return MHD_NO; /* stop at the first unknown one */
}

/* The first call of a request: the head is in, nothing of the body is read. Everything
 * that refuses the request (method, URI, capacity, token, cap, route) answers here. */
static enum MHD_Result on_head(struct MHD_Connection *conn, req_ctx *ctx, const char *url,
                               const char *method) {
  tarn_http_server *srv = ctx->srv;
  tarn__conn *cs = tarn__srv_conn_of(conn);
  enum MHD_Result ret;
  const char *cl;
  tarn__srv_conn_set_phase(srv, cs, TARN__CONN_BODY);
  if (ctx->method_other)
    return tarn__srv_send_error(conn, ctx, 501, "not_implemented", NULL, NULL,
                                "the method is not one HTTP defines; tarn serves GET, HEAD, PUT, "
                                "POST and DELETE");
  if (cs != NULL && cs->nul_in_uri)
    return tarn__srv_send_error(conn, ctx, 400, "invalid_uri", NULL, NULL,
                                "the request URI contains %%00 (a NUL byte): no path, key, name or "
                                "argument may contain one");
  if (tarn__http_router_match(&srv->router, method, url, &ctx->match) != 0)
    return MHD_NO;
  if (cs != NULL && cs->overflow &&
      !(ctx->match.route != NULL && strcmp(ctx->match.route->pattern, "/healthz") == 0)) {
    tarn_metric_add(srv->m_conn_refused, (const char *[]){cs->why}, 1);
    if (strcmp(cs->why, "per_client") == 0)
      return tarn__srv_send_error(conn, ctx, 503, "busy", "Retry-After", "1",
                                  "too many connections from %s (at most %u); retry later", cs->ip,
                                  srv->opts.max_per_client);
    return tarn__srv_send_error(conn, ctx, 503, "busy", "Retry-After", "1",
                                "the server is serving its maximum of %u connections; retry later",
                                srv->opts.max_connections);
  }
  ret = authorize(conn, ctx);
  if (ctx->answered)
    return ret;
  if (ctx->match.route != NULL) { /* a misspelt parameter must not be silently ignored */
    param_check pc;
    pc.allowed = ctx->match.route->params;
    pc.bad[0] = '\0';
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, check_param, &pc);
    if (pc.bad[0] != '\0')
      return tarn__srv_send_error(conn, ctx, 400, "invalid_argument", NULL, NULL,
                                  "unknown query parameter \"%s\" for %s %s (%s%s)", pc.bad,
                                  ctx->method, ctx->match.route->pattern,
                                  pc.allowed ? "it takes: " : "it takes none",
                                  pc.allowed ? pc.allowed : "");
  }
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
      return tarn__srv_send_error(conn, ctx, 413, "payload_too_large", NULL, NULL,
                                  "request body of %llu bytes exceeds the limit of %zu bytes", n,
                                  ctx->cap);
    }
  }
  /* Unknown paths and methods are answered before any body is read. */
  if (!ctx->match.path_known)
    return tarn__srv_send_error(conn, ctx, 404, "not_found", NULL, NULL, "no route for %s %s",
                                method, url);
  if (ctx->match.route == NULL)
    return tarn__srv_send_error(conn, ctx, 405, "method_not_allowed", MHD_HTTP_HEADER_ALLOW,
                                ctx->match.allow, "%s is not allowed on %s; allowed: %s", method,
                                url, ctx->match.allow);
  if (ctx->match.stream != NULL)
    return stream_begin(conn, ctx);
  return MHD_YES;
}

enum MHD_Result tarn__srv_on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                     const char *method, const char *version,
                                     const char *upload_data, size_t *upload_data_size,
                                     void **con_cls) {
  tarn_http_server *srv = cls;
  req_ctx *ctx = *con_cls;
  if (ctx == NULL) {
    ctx = ctx_create(srv, method, url);
    if (ctx == NULL)
      return MHD_NO;
    *con_cls = ctx;
    atomic_fetch_add(&srv->inflight, 1);
    tarn_metric_add(srv->m_inflight, NULL, 1);
    return on_head(conn, ctx, url, method);
  }
  if (*upload_data_size > 0)
    tarn__srv_conn_progress(srv, tarn__srv_conn_of(conn), *upload_data_size);
  else
    /* the body is complete */
    tarn__srv_conn_set_phase(srv, tarn__srv_conn_of(conn), TARN__CONN_HANDLER);
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
    return tarn__srv_send_error(conn, ctx, 413, "payload_too_large", NULL, NULL,
                                "request body exceeds the limit of %zu bytes", ctx->cap);
  }
  return run_handler(conn, ctx);
}

void tarn__srv_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
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
  {
    tarn__conn *cs = tarn__srv_conn_of(conn);
    tarn_log(ctx->match.route && ctx->match.route->quiet ? TARN_LOG_DEBUG : TARN_LOG_INFO,
             "http request",
             "method=%s path=%s route=%s status=%d dur_ms=%.3f completed=%s client=%s token=%s",
             ctx->method, ctx->path, route, ctx->status, secs * 1000,
             toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "true" : "false",
             cs != NULL && cs->ip[0] ? cs->ip : "-", ctx->token_name ? ctx->token_name : "-");
    tarn__srv_conn_set_phase(srv, cs, TARN__CONN_IDLE);
  }
  tarn_metric_add(srv->m_inflight, NULL, -1);
  atomic_fetch_sub(&srv->inflight, 1);
  ctx_destroy(ctx);
}

void tarn__srv_on_mhd_log(void *cls, const char *fmt, va_list ap) {
  char msg[512];
  size_t n;
  vsnprintf(msg, sizeof(msg), fmt, ap);
  n = strlen(msg);
  while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
    msg[--n] = '\0';
  /* A client that goes away (or that the watchdog closed) is no news: keep the log
   * readable under a flood of such connections. */
  if (strstr(msg, "closed") != NULL || strstr(msg, "Failed to receive") != NULL ||
      strstr(msg, "Failed to send") != NULL || strstr(msg, "timed out") != NULL)
    tarn_log_debug("libmicrohttpd", "detail=%s", msg);
  else
    tarn_log_warn("libmicrohttpd", "detail=%s", msg);
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
