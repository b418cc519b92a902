/* server.c - libmicrohttpd glue: request lifecycle, body caps, errors, metrics, shutdown. */
#include "http_int.h"

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
    {"server", "max_connections_per_client", TARN_CFG_INT, "64", 0, 65536, NULL,
     "TARN_MAX_CONNECTIONS_PER_CLIENT", NULL, NULL, 0,
     "most connections from one IP address (more get 503); 0 = no per-client cap"},
    {"server", "header_timeout", TARN_CFG_DURATION, "10s", 100, 600 * 1000, NULL, NULL, NULL,
     NULL, 0,
     "a request's line and headers must arrive within this; also the window of min_rate"},
    {"server", "min_rate", TARN_CFG_SIZE, "1KiB", 0, 1LL << 30, NULL, NULL, NULL, NULL, 0,
     "bytes per second a request body or a streamed response must average over each "
     "header_timeout window, or the connection is closed (0 = no minimum)"},
    {"server", "tls_cert", TARN_CFG_STRING, NULL, 0, 0, NULL, "TARN_TLS_CERT", "tls-cert",
     "serve", 0, "PEM certificate (chain) file: serve HTTPS (with tls_key)"},
    {"server", "tls_key", TARN_CFG_STRING, NULL, 0, 0, NULL, "TARN_TLS_KEY", "tls-key", "serve",
     0, "PEM private key file of tls_cert"},
    {"server", "insecure", TARN_CFG_BOOL, "false", 0, 0, NULL, NULL, "insecure", "serve", 0,
     "allow listening beyond loopback without tokens (logged as a warning, shown on /healthz)"},
    {"server", "public_healthz", TARN_CFG_BOOL, "true", 0, 0, NULL, NULL, NULL, NULL, 0,
     "GET /healthz needs no token"},
    {"server", "public_metrics", TARN_CFG_BOOL, "true", 0, 0, NULL, NULL, NULL, NULL, 0,
     "GET /metrics needs no token"},
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
  tarn_http_scope scope;  /* granted to the caller */
  const char *token_name; /* the token that authenticated it (the server's string) */
  int answered;           /* authorize() already queued an error */
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
  o->max_per_client = (unsigned)tarn_config_int(cfg, "server", "max_connections_per_client");
  o->idle_timeout_s = (unsigned)(tarn_config_int(cfg, "server", "idle_timeout") / 1000);
  o->header_timeout_ms = (unsigned)tarn_config_int(cfg, "server", "header_timeout");
  o->min_rate = (uint64_t)tarn_config_int(cfg, "server", "min_rate");
  o->tls_cert_file = tarn_config_str(cfg, "server", "tls_cert");
  o->tls_key_file = tarn_config_str(cfg, "server", "tls_key");
  o->insecure = tarn_config_bool(cfg, "server", "insecure");
  o->public_healthz = tarn_config_bool(cfg, "server", "public_healthz");
  o->public_metrics = tarn_config_bool(cfg, "server", "public_metrics");
}

/* Reads a PEM file whole (at most 1 MiB) into a NUL-terminated string, in one allocation
 * sized up front so that no copy of a private key is left behind by a realloc. */
static int read_pem(const char *path, const char *what, char **out, tarn_error *err) {
  struct stat sb;
  size_t got = 0;
  ssize_t n;
  char *p = NULL;
  int fd, rc = 0;
  *out = NULL;
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return tarn_error_sys(err, TARN_ECONFIG, errno, "[server] %s %s", what, path);
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size <= 0 || sb.st_size > (1 << 20))
    rc = tarn_error_set(err, TARN_ECONFIG, "[server] %s %s: not a regular file of 1 byte to 1 MiB",
                        what, path);
  else if ((p = tarn_malloc((size_t)sb.st_size + 1)) == NULL)
    rc = tarn_error_set(err, TARN_ENOMEM, "out of memory reading %s", path);
  while (rc == 0 && got < (size_t)sb.st_size) {
    n = read(fd, p + got, (size_t)sb.st_size - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      rc = tarn_error_sys(err, TARN_ECONFIG, n < 0 ? errno : EIO, "[server] %s %s", what, path);
    else
      got += (size_t)n;
  }
  close(fd);
  if (rc == 0) {
    p[got] = '\0';
    if (strstr(p, "-----BEGIN ") == NULL)
      rc = tarn_error_set(err, TARN_ECONFIG, "[server] %s %s: not a PEM file", what, path);
  }
  if (rc != 0) {
    if (p != NULL)
      explicit_bzero(p, got);
    tarn_free(p);
    return rc;
  }
  *out = p;
  return 0;
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
  srv->opts.secrets = NULL; /* read below; not kept */
  srv->opts.tls_cert_file = srv->opts.tls_key_file = NULL;
  if (srv->opts.max_connections == 0)
    srv->opts.max_connections = 256;
  if (srv->opts.idle_timeout_s == 0)
    srv->opts.idle_timeout_s = 60;
  if (srv->opts.header_timeout_ms == 0)
    srv->opts.header_timeout_ms = 10000;
  srv->listen_fd = -1;
  pthread_mutex_init(&srv->conn_mu, NULL);
  {
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&srv->conn_cond, &ca);
    pthread_condattr_destroy(&ca);
  }
  {
    int rc = tarn__http_auth_load(&srv->auth, opts->secrets, err);
    const char *cert = opts->tls_cert_file, *key = opts->tls_key_file;
    int has_cert = cert != NULL && cert[0] != '\0', has_key = key != NULL && key[0] != '\0';
    if (rc == 0 && has_cert != has_key)
      rc = tarn_error_set(err, TARN_ECONFIG, "[server] tls_cert and tls_key go together: %s is "
                          "set, %s is not", has_cert ? "tls_cert" : "tls_key",
                          has_cert ? "tls_key" : "tls_cert");
    if (rc == 0 && has_cert && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
      rc = tarn_error_set(err, TARN_ECONFIG, "[server] tls_cert: this libmicrohttpd was built "
                          "without TLS");
    if (rc == 0 && has_cert)
      rc = read_pem(cert, "tls_cert", &srv->tls_cert, err);
    if (rc == 0 && has_key)
      rc = read_pem(key, "tls_key", &srv->tls_key, err);
    if (rc != 0) {
      tarn_http_server_destroy(srv);
      return rc;
    }
  }
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
    srv->m_auth_failed = tarn_metrics_counter(
        opts->metrics, "tarn_http_auth_failures_total",
        "Requests refused for authentication (missing or invalid token: 401) or scope (403).",
        "reason");
    srv->m_conn_refused = tarn_metrics_counter(
        opts->metrics, "tarn_http_connections_refused_total",
        "Requests answered 503 because the server or the client's share of it was full.",
        "reason");
    srv->m_conn_closed = tarn_metrics_counter(
        opts->metrics, "tarn_http_connections_closed_total",
        "Connections the server closed: header deadline, too slow, idle, evicted when full.",
        "reason");
    srv->m_conns = tarn_metrics_gauge(opts->metrics, "tarn_http_connections",
                                      "Client connections open now.", NULL);
    if (!srv->m_requests || !srv->m_duration || !srv->m_inflight || !srv->m_body_rejected ||
        !srv->m_auth_failed || !srv->m_conn_refused || !srv->m_conn_closed || !srv->m_conns) {
      tarn_http_server_destroy(srv);
      return tarn_error_set(err, TARN_ENOMEM, "cannot register HTTP metrics");
    }
  }
  *out = srv;
  return 0;
}

int tarn_http_server_hide_path(tarn_http_server *srv, const char *path, const char *label,
                               tarn_error *err) {
  char real[PATH_MAX];
  const char *p = realpath(path, real) != NULL ? real : path;
  if (srv->nhidden == sizeof(srv->hidden) / sizeof(srv->hidden[0]))
    return tarn_error_set(err, TARN_ETOOBIG, "too many hidden paths");
  if (strcmp(p, "/") == 0 || p[0] == '\0')
    return 0; /* "/" would hide every slash */
  srv->hidden[srv->nhidden].path = tarn_strdup(p);
  srv->hidden[srv->nhidden].label = tarn_strdup(label);
  if (srv->hidden[srv->nhidden].path == NULL || srv->hidden[srv->nhidden].label == NULL) {
    tarn_free(srv->hidden[srv->nhidden].path);
    tarn_free(srv->hidden[srv->nhidden].label);
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  }
  srv->nhidden++;
  return 0;
}

/* Rewrites body without the hidden paths (see tarn_http_server_hide_path). */
static void scrub_paths(const tarn_http_server *srv, tarn_buf *body) {
  size_t h;
  for (h = 0; h < srv->nhidden && body->data != NULL; h++) {
    const char *path = srv->hidden[h].path, *label = srv->hidden[h].label;
    size_t pl = strlen(path), i = 0;
    tarn_buf out;
    tarn_buf_init(&out, TARN_BUF_UNLIMITED);
    while (i < body->len) {
      const char *at = body->data + i;
      size_t rest = body->len - i;
      if (rest >= 7 + pl + 1 && memcmp(at, "file://", 7) == 0 && memcmp(at + 7, path, pl) == 0 &&
          at[7 + pl] == '/') {
        i += 7 + pl + 1;
      } else if (rest >= pl && memcmp(at, path, pl) == 0) {
        if (rest > pl && at[pl] == '/')
          i += pl + 1;
        else {
          if (tarn_buf_append_str(&out, label, NULL) != 0)
            break;
          i += pl;
        }
      } else {
        if (tarn_buf_append(&out, at, 1, NULL) != 0)
          break;
        i++;
      }
    }
    if (i == body->len) { /* complete: swap in; otherwise (no memory) keep the original */
      tarn_buf_free(body);
      *body = out;
    } else {
      tarn_buf_free(&out);
    }
  }
}

/* Every route states who may call it: a forgotten scope is a programming error, caught
 * when the route is added rather than by an open door. */
static int route_check(const tarn_http_server *srv, const tarn_http_route *route,
                       tarn_error *err) {
  if (srv->mhd != NULL)
    return tarn_error_set(err, TARN_EINVAL, "routes must be added before the server starts");
  if (route->scope < TARN_HTTP_SCOPE_PUBLIC || route->scope > TARN_HTTP_SCOPE_ADMIN)
    return tarn_error_set(err, TARN_EINVAL, "route %s %s states no scope",
                          route->method ? route->method : "?",
                          route->pattern ? route->pattern : "?");
  return 0;
}

int tarn_http_server_route(tarn_http_server *srv, const tarn_http_route *route, tarn_error *err) {
  int rc = route_check(srv, route, err);
  if (rc != 0)
    return rc;
  return tarn__http_router_add(&srv->router, route, err);
}

int tarn_http_server_route_stream(tarn_http_server *srv, const tarn_http_route *route,
                                  const tarn_http_stream_ops *stream, tarn_error *err) {
  int rc = route_check(srv, route, err);
  if (rc != 0)
    return rc;
  if (stream == NULL)
    return tarn_error_set(err, TARN_EINVAL, "streaming route %s without callbacks",
                          route->pattern ? route->pattern : "?");
  return tarn__http_router_add_stream(&srv->router, route, stream, err);
}

const char *tarn_http_server_address(const tarn_http_server *srv) { return srv->address; }

unsigned tarn_http_server_inflight(const tarn_http_server *srv) {
  return atomic_load(&((tarn_http_server *)srv)->inflight);
}

/* ---- connections: limits, deadlines and minimum rates ---- */

/*
 * Every connection costs a thread, so a connection that does nothing useful must not
 * keep one. The server tracks each connection's phase (tarn__conn_phase) and a
 * watchdog thread closes (shutdown(2)) those that overstay it: a request head that has
 * not arrived within header_timeout, a keep-alive connection idle past idle_timeout, a
 * body or streamed response moving under min_rate over a header_timeout window. When all
 * max_connections are taken, a new connection evicts the one that has waited longest for
 * a request head; when none is waiting, the new connection is answered 503 (as is one
 * past the per-client cap), except for /healthz, which stays answerable under any load.
 * libmicrohttpd's own cap is set above ours so that those answers can be given.
 */

static tarn__conn *conn_of(struct MHD_Connection *c) {
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return ci != NULL ? ci->socket_context : NULL;
}

static void conn_set_phase(tarn_http_server *srv, tarn__conn *cs, tarn__conn_phase ph) {
  uint64_t now = tarn_clock_mono_ns();
  if (cs == NULL)
    return;
  pthread_mutex_lock(&srv->conn_mu);
  cs->phase = ph;
  cs->phase_ns = now;
  cs->window_ns = now;
  cs->window_bytes = 0;
  pthread_mutex_unlock(&srv->conn_mu);
}

static void conn_progress(tarn_http_server *srv, tarn__conn *cs, uint64_t bytes) {
  if (cs == NULL)
    return;
  pthread_mutex_lock(&srv->conn_mu);
  cs->window_bytes += bytes;
  pthread_mutex_unlock(&srv->conn_mu);
}

/* Marks the server busy for the connection (storage behind a chunk or read callback may
 * be slow): the client is not to blame, so the rate window starts afresh afterwards. */
static void conn_busy(tarn_http_server *srv, tarn__conn *cs, int on) {
  if (cs == NULL)
    return;
  pthread_mutex_lock(&srv->conn_mu);
  cs->busy = on;
  if (!on) {
    cs->window_ns = tarn_clock_mono_ns();
    cs->window_bytes = 0;
  }
  pthread_mutex_unlock(&srv->conn_mu);
}

/* Closes a connection from the watchdog or the acceptor; conn_mu held. The connection's
 * thread sees its socket fail and ends it; libmicrohttpd closes the descriptor only after
 * the CLOSED notice, which waits for conn_mu, so fd is still this connection's. */
static void conn_kill(tarn_http_server *srv, tarn__conn *cs, const char *why) {
  if (cs->killed)
    return;
  cs->killed = 1;
  cs->why = why;
  shutdown(cs->fd, SHUT_RDWR);
  tarn_metric_add(srv->m_conn_closed, (const char *[]){why}, 1);
  tarn_log_info("connection closed by the server", "client=%s reason=%s requests=%u", cs->ip,
                why, cs->requests);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
  tarn_http_server *srv = cls;
  tarn__conn *cs = *socket_context, *it, *victim = NULL;
  unsigned serving = 0, mine = 0;
  if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
    if (cs == NULL)
      return;
    pthread_mutex_lock(&srv->conn_mu);
    if (cs->prev != NULL)
      cs->prev->next = cs->next;
    else
      srv->conns = cs->next;
    if (cs->next != NULL)
      cs->next->prev = cs->prev;
    srv->nconns--;
    pthread_mutex_unlock(&srv->conn_mu);
    tarn_metric_add(srv->m_conns, NULL, -1);
    tarn_free(cs);
    *socket_context = NULL;
    return;
  }
  cs = tarn_calloc(1, sizeof(*cs));
  if (cs == NULL)
    return; /* untracked: served, but without deadlines */
  {
    const union MHD_ConnectionInfo *fd = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    const union MHD_ConnectionInfo *ad = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    cs->fd = fd != NULL ? fd->connect_fd : -1;
    if (ad != NULL && ad->client_addr != NULL) {
      const struct sockaddr *sa = ad->client_addr;
      if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, cs->ip,
                  sizeof(cs->ip));
      else if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, cs->ip,
                  sizeof(cs->ip));
    }
  }
  cs->phase = TARN__CONN_IDLE;
  cs->phase_ns = cs->window_ns = tarn_clock_mono_ns();
  pthread_mutex_lock(&srv->conn_mu);
  for (it = srv->conns; it != NULL; it = it->next) {
    if (it->killed || it->overflow)
      continue;
    serving++;
    if (strcmp(it->ip, cs->ip) == 0)
      mine++;
    if ((it->phase == TARN__CONN_IDLE || it->phase == TARN__CONN_HEAD) &&
        (victim == NULL || it->phase_ns < victim->phase_ns))
      victim = it;
  }
  if (srv->opts.max_per_client > 0 && mine >= srv->opts.max_per_client) {
    cs->overflow = 1;
    cs->why = "per_client";
  } else if (serving >= srv->opts.max_connections) {
    if (victim != NULL)
      conn_kill(srv, victim, "evicted");
    else {
      cs->overflow = 1;
      cs->why = "full";
    }
  }
  cs->next = srv->conns;
  if (srv->conns != NULL)
    srv->conns->prev = cs;
  srv->conns = cs;
  srv->nconns++;
  pthread_mutex_unlock(&srv->conn_mu);
  tarn_metric_add(srv->m_conns, NULL, 1);
  *socket_context = cs;
}

/* The request line is in (headers follow). The raw URI shows what decoding hides: a %00
 * would cut the decoded path or argument short, so the request is refused instead. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c) {
  tarn_http_server *srv = cls;
  tarn__conn *cs = conn_of(c);
  if (cs != NULL) {
    uint64_t now = tarn_clock_mono_ns();
    pthread_mutex_lock(&srv->conn_mu);
    cs->nul_in_uri = strstr(uri, "%00") != NULL;
    cs->phase = TARN__CONN_HEAD;
    if (cs->requests++ > 0) /* a first request's head is due header_timeout after accept */
      cs->phase_ns = now;
    pthread_mutex_unlock(&srv->conn_mu);
  }
  return NULL;
}

static void *watchdog_main(void *arg) {
  tarn_http_server *srv = arg;
  uint64_t head_ns = (uint64_t)srv->opts.header_timeout_ms * 1000000ull;
  uint64_t idle_ns = (uint64_t)srv->opts.idle_timeout_s * 1000000000ull;
  uint64_t tick_ms = srv->opts.header_timeout_ms / 10 < 20 ? 20 : srv->opts.header_timeout_ms / 10;
  pthread_mutex_lock(&srv->conn_mu);
  while (!srv->stopping) {
    struct timespec ts;
    uint64_t now = tarn_clock_mono_ns(), until = now + tick_ms * 1000000ull;
    tarn__conn *cs;
    for (cs = srv->conns; cs != NULL; cs = cs->next) {
      uint64_t age = now - cs->phase_ns;
      if (cs->killed)
        continue;
      switch (cs->phase) {
      case TARN__CONN_IDLE:
        if (cs->requests == 0 || cs->overflow ? age > head_ns : age > idle_ns)
          conn_kill(srv, cs, cs->requests == 0 ? "header_timeout" : "idle");
        break;
      case TARN__CONN_HEAD:
        if (age > head_ns)
          conn_kill(srv, cs, "header_timeout");
        break;
      case TARN__CONN_BODY:
      case TARN__CONN_SENDING:
        if (srv->opts.min_rate > 0 && !cs->busy && now - cs->window_ns >= head_ns) {
          uint64_t want = srv->opts.min_rate * (uint64_t)srv->opts.header_timeout_ms / 1000;
          if (cs->window_bytes < want)
            conn_kill(srv, cs, cs->phase == TARN__CONN_BODY ? "slow_body" : "slow_reader");
          cs->window_ns = now;
          cs->window_bytes = 0;
        }
        break;
      case TARN__CONN_HANDLER:
        break;
      }
    }
    ts.tv_sec = (time_t)(until / 1000000000ull);
    ts.tv_nsec = (long)(until % 1000000000ull);
    pthread_cond_timedwait(&srv->conn_cond, &srv->conn_mu, &ts);
  }
  pthread_mutex_unlock(&srv->conn_mu);
  return NULL;
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
  case TARN_EBUSY: return 503;
  case TARN_ENOSPC: return 507; /* Insufficient Storage (RFC 4918) */
  case TARN_EIO: case TARN_ENETWORK: case TARN_EFSYNC: case TARN_ESHORTWRITE:
  case TARN_EUNKNOWN_OUTCOME: /* the storage behind us may or may not have done it */
    return 502;
  default: return 500;
  }
}

/* libmicrohttpd's side of a tarn_http_body_reader. */
typedef struct reader_glue {
  tarn_http_body_reader r;
  tarn_http_server *srv;
  tarn__conn *cs; /* the connection sending it (lives longer than the response) */
} reader_glue;

static ssize_t reader_read(void *cls, uint64_t pos, char *buf, size_t max) {
  reader_glue *g = cls;
  long long n;
  conn_busy(g->srv, g->cs, 1);
  n = g->r.read(g->r.cls, pos, buf, max);
  conn_busy(g->srv, g->cs, 0);
  if (n == 0)
    return MHD_CONTENT_READER_END_OF_STREAM;
  if (n < 0 || (size_t)n > max)
    return MHD_CONTENT_READER_END_WITH_ERROR; /* closes the connection */
  conn_progress(g->srv, g->cs, (uint64_t)n);
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
  tarn__conn *cs = conn_of(conn);
  size_t i;
  conn_set_phase(ctx->srv, cs, TARN__CONN_SENDING);
  if (resp->reader.read != NULL) {
    reader_glue *g = tarn_malloc(sizeof(*g));
    if (g == NULL)
      return MHD_NO;
    g->r = resp->reader;
    g->srv = ctx->srv;
    g->cs = cs;
    r = MHD_create_response_from_callback(
        resp->reader.size == TARN_HTTP_SIZE_UNKNOWN ? MHD_SIZE_UNKNOWN : resp->reader.size,
        READER_BLOCK, reader_read, g, reader_free);
    if (r == NULL) {
      tarn_free(g);
      return MHD_NO; /* resp still owns the reader: response_free releases it */
    }
    memset(&resp->reader, 0, sizeof(resp->reader)); /* the response owns it now */
  } else {
    if (resp->status >= 400)
      scrub_paths(ctx->srv, &resp->body);
    r = MHD_create_response_from_buffer(resp->body.len, resp->body.data ? resp->body.data : "",
                                        MHD_RESPMEM_MUST_COPY);
    conn_progress(ctx->srv, cs, resp->body.len);
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

/* Answers with a JSON error right away, with one extra header (hname NULL: none). A 503
 * also closes the connection, so a full server gets its thread back. */
static enum MHD_Result send_error(struct MHD_Connection *conn, req_ctx *ctx, int status,
                                  const char *code, const char *hname, const char *hvalue,
                                  const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static enum MHD_Result send_error(struct MHD_Connection *conn, req_ctx *ctx, int status,
                                  const char *code, const char *hname, const char *hvalue,
                                  const char *fmt, ...) {
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
  if (hname != NULL)
    tarn_http_add_header(&resp, hname, hvalue);
  if (status == 503)
    tarn_http_add_header(&resp, MHD_HTTP_HEADER_CONNECTION, "close");
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
  response_init(&resp);
  if (ctx->match.route->fn(&ctx->req, &resp, ctx->match.route->ud) != 0) {
    response_free(&resp);
    return send_error(conn, ctx, 500, "internal", NULL, NULL, "the handler for %s failed",
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
    return send_error(conn, ctx, 500, "internal", NULL, NULL, "the handler for %s failed",
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
        conn_busy(ctx->srv, conn_of(conn), 1);
        rc = ctx->match.stream->chunk(ctx->sctx, data, *size);
        conn_busy(ctx->srv, conn_of(conn), 0);
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
    return send_error(conn, ctx, 413, "payload_too_large", NULL, NULL,
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
    return send_error(conn, ctx, 500, "internal", NULL, NULL, "the handler for %s failed",
                      rt->pattern);
  }
  ret = send_response(conn, ctx, &resp);
  response_free(&resp);
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
    return send_error(conn, ctx, 401, "unauthorized", "WWW-Authenticate",
                      r == TARN__HTTP_AUTH_MISSING ? "Bearer realm=\"tarn\""
                                                   : "Bearer realm=\"tarn\", error=\"invalid_token\"",
                      r == TARN__HTTP_AUTH_MISSING
                          ? "authentication required: send Authorization: Bearer <token>"
                          : "the bearer token is not valid");
  }
  if (rt != NULL && ctx->scope < rt->scope) {
    tarn_metric_add(srv->m_auth_failed, (const char *[]){"scope"}, 1);
    return send_error(conn, ctx, 403, "forbidden", NULL, NULL,
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
  tarn__conn *cs = conn_of(conn);
  enum MHD_Result ret;
  const char *cl;
  conn_set_phase(srv, cs, TARN__CONN_BODY);
  if (ctx->method_other)
    return send_error(conn, ctx, 501, "not_implemented", NULL, NULL,
                      "the method is not one HTTP defines; tarn serves GET, HEAD, PUT, "
                      "POST and DELETE");
  if (cs != NULL && cs->nul_in_uri)
    return send_error(conn, ctx, 400, "invalid_uri", NULL, NULL,
                      "the request URI contains %%00 (a NUL byte): no path, key, name or "
                      "argument may contain one");
  if (tarn__http_router_match(&srv->router, method, url, &ctx->match) != 0)
    return MHD_NO;
  if (cs != NULL && cs->overflow &&
      !(ctx->match.route != NULL && strcmp(ctx->match.route->pattern, "/healthz") == 0)) {
    tarn_metric_add(srv->m_conn_refused, (const char *[]){cs->why}, 1);
    if (strcmp(cs->why, "per_client") == 0)
      return send_error(conn, ctx, 503, "busy", "Retry-After", "1",
                        "too many connections from %s (at most %u); retry later", cs->ip,
                        srv->opts.max_per_client);
    return send_error(conn, ctx, 503, "busy", "Retry-After", "1",
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
      return send_error(conn, ctx, 400, "invalid_argument", NULL, NULL,
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
      return send_error(conn, ctx, 413, "payload_too_large", NULL, NULL,
                        "request body of %llu bytes exceeds the limit of %zu bytes", n,
                        ctx->cap);
    }
  }
  /* Unknown paths and methods are answered before any body is read. */
  if (!ctx->match.path_known)
    return send_error(conn, ctx, 404, "not_found", NULL, NULL, "no route for %s %s", method,
                      url);
  if (ctx->match.route == NULL)
    return send_error(conn, ctx, 405, "method_not_allowed", MHD_HTTP_HEADER_ALLOW,
                      ctx->match.allow, "%s is not allowed on %s; allowed: %s", method, url,
                      ctx->match.allow);
  if (ctx->match.stream != NULL)
    return stream_begin(conn, ctx);
  return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
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
    conn_progress(srv, conn_of(conn), *upload_data_size);
  else
    conn_set_phase(srv, conn_of(conn), TARN__CONN_HANDLER); /* the body is complete */
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
    return send_error(conn, ctx, 413, "payload_too_large", NULL, NULL,
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
  {
    tarn__conn *cs = conn_of(conn);
    tarn_log(ctx->match.route && ctx->match.route->quiet ? TARN_LOG_DEBUG : TARN_LOG_INFO,
             "http request",
             "method=%s path=%s route=%s status=%d dur_ms=%.3f completed=%s client=%s token=%s",
             ctx->method, ctx->path, route, ctx->status, secs * 1000,
             toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "true" : "false",
             cs != NULL && cs->ip[0] ? cs->ip : "-", ctx->token_name ? ctx->token_name : "-");
    conn_set_phase(srv, cs, TARN__CONN_IDLE);
  }
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
  /* A client that goes away (or that the watchdog closed) is no news: keep the log
   * readable under a flood of such connections. */
  if (strstr(msg, "closed") != NULL || strstr(msg, "Failed to receive") != NULL ||
      strstr(msg, "Failed to send") != NULL || strstr(msg, "timed out") != NULL)
    tarn_log_debug("libmicrohttpd", "detail=%s", msg);
  else
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
  if (tarn_parse_hostport(srv->listen, host, sizeof(host), &port, err) != 0) {
    tarn_error_prefix(err, "listen address");
    if (err != NULL)
      err->code = TARN_ECONFIG;
    return TARN_ECONFIG;
  }
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

/* 1 when the socket's address is a loopback address (127.0.0.0/8, ::1, ::ffff:127.x). */
static int is_loopback(int fd) {
  struct sockaddr_storage ss;
  socklen_t sl = sizeof(ss);
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
    return 0;
  if (ss.ss_family == AF_INET)
    return (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) == 127;
  if (ss.ss_family == AF_INET6) {
    const struct in6_addr *a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
  }
  return 0;
}

int tarn_http_server_start(tarn_http_server *srv, tarn_error *err) {
  struct MHD_OptionItem tls[3];
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
                   MHD_USE_ITC | MHD_USE_ERROR_LOG;
  /* room above max_connections for the connections answered 503, and for /healthz */
  unsigned reserve = srv->opts.max_connections / 4 + 8;
  int rc = bind_listen(srv, err);
  if (rc != 0)
    return rc;
  srv->loopback = is_loopback(srv->listen_fd);
  if (!srv->loopback && srv->auth.n == 0) {
    if (!srv->opts.insecure) {
      close(srv->listen_fd);
      srv->listen_fd = -1;
      return tarn_error_set(err, TARN_ECONFIG,
                            "listening on %s, beyond loopback, needs authentication: create a "
                            "token with `tarn token new NAME --scope write`, put the [token.NAME] "
                            "section it prints in the secrets file (--secrets, mode 0600), and "
                            "send it as Authorization: Bearer TOKEN (or accept the risk with "
                            "--insecure)",
                            srv->address);
    }
    tarn_log_warn("listening beyond loopback WITHOUT authentication (--insecure): anyone who "
                  "reaches this address can read, write and delete",
                  "addr=%s", srv->address);
  }
  memset(tls, 0, sizeof(tls));
  tls[0].option = MHD_OPTION_END;
  if (srv->tls_cert != NULL) {
    flags |= MHD_USE_TLS;
    tls[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, srv->tls_cert};
    tls[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, srv->tls_key};
    tls[2] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
  } else if (srv->auth.n > 0 && !srv->loopback) {
    tarn_log_warn("tokens travel in clear text: set [server] tls_cert and tls_key to serve HTTPS",
                  "addr=%s", srv->address);
  }
  /* One thread per connection: handlers may block on storage and catalog I/O, and the
   * connection limit bounds the threads. MHD_USE_ITC lets us quiesce (stop accepting)
   * while in-flight requests finish. */
  srv->mhd = MHD_start_daemon(
      flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv,
      MHD_OPTION_LISTEN_SOCKET, srv->listen_fd, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
      MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv, MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv,
      MHD_OPTION_CONNECTION_LIMIT, srv->opts.max_connections + reserve,
      MHD_OPTION_CONNECTION_TIMEOUT, srv->opts.idle_timeout_s, MHD_OPTION_ARRAY, tls,
      MHD_OPTION_END);
  if (srv->mhd == NULL) {
    close(srv->listen_fd);
    srv->listen_fd = -1;
    return tarn_error_set(err, TARN_EIO, "cannot start HTTP server on %s%s", srv->address,
                          srv->tls_cert ? " (is the TLS key the certificate's?)" : "");
  }
  srv->stopping = 0;
  if (pthread_create(&srv->watchdog, NULL, watchdog_main, srv) == 0)
    srv->watchdog_on = 1;
  else
    tarn_log_warn("connection watchdog not started: deadlines are not enforced", "addr=%s",
                  srv->address);
  tarn_log_info("http server listening",
                "addr=%s tls=%s auth=%s tokens=%zu max_body=%zu max_connections=%u "
                "max_connections_per_client=%u header_timeout_ms=%u min_rate=%llu",
                srv->address, srv->tls_cert ? "on" : "off", srv->auth.n ? "tokens" : "none",
                srv->auth.n, srv->opts.max_body, srv->opts.max_connections,
                srv->opts.max_per_client, srv->opts.header_timeout_ms,
                (unsigned long long)srv->opts.min_rate);
  return 0;
}

int tarn_http_server_insecure(const tarn_http_server *srv) {
  return srv->mhd != NULL && !srv->loopback && srv->auth.n == 0;
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
  if (srv->watchdog_on) {
    pthread_mutex_lock(&srv->conn_mu);
    srv->stopping = 1;
    pthread_cond_signal(&srv->conn_cond);
    pthread_mutex_unlock(&srv->conn_mu);
    pthread_join(srv->watchdog, NULL);
    srv->watchdog_on = 0;
  }
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
  tarn__http_auth_free(&srv->auth);
  for (i = 0; i < srv->nhidden; i++) {
    tarn_free(srv->hidden[i].path);
    tarn_free(srv->hidden[i].label);
  }
  if (srv->tls_key != NULL)
    explicit_bzero(srv->tls_key, strlen(srv->tls_key));
  tarn_free(srv->tls_key);
  tarn_free(srv->tls_cert);
  pthread_cond_destroy(&srv->conn_cond);
  pthread_mutex_destroy(&srv->conn_mu);
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
