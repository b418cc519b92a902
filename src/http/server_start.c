/* server_start.c - the server's settings table, create and destroy, route registration,
 * TLS material, binding the listen socket, start and graceful stop. */
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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/secrets.h"

/* Defaults used both by the settings table and by tarn_http_server_create for an option
 * left 0 or NULL: one source. */
#define DEFAULT_LISTEN "127.0.0.1:8080"
#define DEFAULT_MAX_CONNECTIONS 256
#define DEFAULT_IDLE_TIMEOUT_S 60
#define DEFAULT_HEADER_TIMEOUT_S 10
#define STR_(x) #x
#define STR(x) STR_(x)

const tarn_cfg_def tarn_http_config[] = {
    {"server", "listen", TARN_CFG_HOSTPORT, DEFAULT_LISTEN, 0, 0, NULL, "TARN_LISTEN", "listen",
     "serve|sink", 0, "address to listen on, HOST:PORT (port 0 picks a free port)"},
    {"server", "max_body", TARN_CFG_SIZE, "16MiB", 0, 64LL << 30, NULL, "TARN_MAX_BODY", "max-body",
     "serve", 0, "largest request body accepted by default (bigger: 413)"},
    {"server", "max_connections", TARN_CFG_INT, STR(DEFAULT_MAX_CONNECTIONS), 1, 65536, NULL,
     "TARN_MAX_CONNECTIONS", NULL, NULL, 0, "most client connections served at once"},
    {"server", "idle_timeout", TARN_CFG_DURATION, STR(DEFAULT_IDLE_TIMEOUT_S) "s", 1000,
     3600 * 1000, NULL, NULL, NULL, NULL, 0, "close a keep-alive connection idle this long"},
    {"server", "shutdown_timeout", TARN_CFG_DURATION, "30s", 0, 600 * 1000, NULL,
     "TARN_SHUTDOWN_TIMEOUT", NULL, NULL, 0,
     "on SIGTERM/SIGINT, wait this long for in-flight requests before closing them"},
    {"server", "max_connections_per_client", TARN_CFG_INT, "64", 0, 65536, NULL,
     "TARN_MAX_CONNECTIONS_PER_CLIENT", NULL, NULL, 0,
     "most connections from one IP address (more get 503); 0 = no per-client cap"},
    {"server", "header_timeout", TARN_CFG_DURATION, STR(DEFAULT_HEADER_TIMEOUT_S) "s", 100,
     600 * 1000, NULL, NULL, NULL, NULL, 0,
     "a request's line and headers must arrive within this; also the window of min_rate"},
    {"server", "min_rate", TARN_CFG_SIZE, "1KiB", 0, 1LL << 30, NULL, NULL, NULL, NULL, 0,
     "bytes per second a request body or a streamed response must average over each "
     "header_timeout window, or the connection is closed (0 = no minimum)"},
    {"server", "tls_cert", TARN_CFG_STRING, NULL, 0, 0, NULL, "TARN_TLS_CERT", "tls-cert",
     "serve|sink", 0, "PEM certificate (chain) file: serve HTTPS (with tls_key)"},
    {"server", "tls_key", TARN_CFG_STRING, NULL, 0, 0, NULL, "TARN_TLS_KEY", "tls-key",
     "serve|sink", 0, "PEM private key file of tls_cert"},
    {"server", "insecure", TARN_CFG_BOOL, "false", 0, 0, NULL, NULL, "insecure", "serve|sink", 0,
     "allow listening beyond loopback without tokens (logged as a warning, shown on /healthz)"},
    {"server", "public_healthz", TARN_CFG_BOOL, "true", 0, 0, NULL, NULL, NULL, NULL, 0,
     "GET /healthz needs no token"},
    {"server", "public_metrics", TARN_CFG_BOOL, "true", 0, 0, NULL, NULL, NULL, NULL, 0,
     "GET /metrics needs no token"},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL, NULL, NULL, 0, NULL},
};

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
  srv->listen = tarn_strdup(opts->listen ? opts->listen : DEFAULT_LISTEN);
  if (srv->listen == NULL) {
    tarn_free(srv);
    return tarn_error_set(err, TARN_ENOMEM, "out of memory creating HTTP server");
  }
  srv->opts.listen = srv->listen;
  srv->opts.secrets = NULL; /* read below; not kept */
  srv->opts.tls_cert_file = srv->opts.tls_key_file = NULL;
  if (srv->opts.max_connections == 0)
    srv->opts.max_connections = DEFAULT_MAX_CONNECTIONS;
  if (srv->opts.idle_timeout_s == 0)
    srv->opts.idle_timeout_s = DEFAULT_IDLE_TIMEOUT_S;
  if (srv->opts.header_timeout_ms == 0)
    srv->opts.header_timeout_ms = DEFAULT_HEADER_TIMEOUT_S * 1000;
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
      rc = tarn_error_set(err, TARN_ECONFIG,
                          "[server] tls_cert and tls_key go together: %s is "
                          "set, %s is not",
                          has_cert ? "tls_cert" : "tls_key", has_cert ? "tls_key" : "tls_cert");
    if (rc == 0 && has_cert && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
      rc = tarn_error_set(err, TARN_ECONFIG,
                          "[server] tls_cert: this libmicrohttpd was built "
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
    srv->m_body_rejected = tarn_metrics_counter(
        opts->metrics, "tarn_http_request_body_rejected_total",
        "Requests refused with 413 because the body exceeded the cap.", "route");
    srv->m_auth_failed = tarn_metrics_counter(
        opts->metrics, "tarn_http_auth_failures_total",
        "Requests refused for authentication (missing or invalid token: 401) or scope (403).",
        "reason");
    srv->m_conn_refused = tarn_metrics_counter(
        opts->metrics, "tarn_http_connections_refused_total",
        "Requests answered 503 because the server or the client's share of it was full.", "reason");
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
void tarn__srv_scrub_paths(const tarn_http_server *srv, tarn_buf *body) {
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
static int route_check(const tarn_http_server *srv, const tarn_http_route *route, tarn_error *err) {
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

/* libmicrohttpd's own connection cap. Ours (max_connections) decides who is served; this
 * one only bounds threads and descriptors, and must sit well above ours: a connection we
 * evict still counts against it until its thread has noticed the shutdown and left, and
 * at its cap libmicrohttpd closes a new connection unanswered. So a burst of idle
 * connections would turn away the very client eviction makes room for. The headroom is
 * max_connections + 64, within the descriptor limit less 64 kept for storage and logs. */
static unsigned mhd_connection_cap(unsigned max_connections) {
  struct rlimit rl;
  uint64_t cap = 2ull * max_connections + 64;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur > 128 &&
      cap > rl.rlim_cur - 64)
    cap = rl.rlim_cur - 64;
  if (cap < (uint64_t)max_connections + 8)
    cap = (uint64_t)max_connections + 8; /* 503s and /healthz still need room */
  return cap > UINT_MAX ? UINT_MAX : (unsigned)cap;
}

int tarn_http_server_start(tarn_http_server *srv, tarn_error *err) {
  struct MHD_OptionItem tls[3];
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
                   MHD_USE_ITC | MHD_USE_ERROR_LOG;
  unsigned mhd_cap = mhd_connection_cap(srv->opts.max_connections);
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
      flags, 0, NULL, NULL, tarn__srv_on_request, srv, MHD_OPTION_EXTERNAL_LOGGER,
      tarn__srv_on_mhd_log, srv, MHD_OPTION_LISTEN_SOCKET, srv->listen_fd,
      MHD_OPTION_NOTIFY_COMPLETED, tarn__srv_on_completed, srv, MHD_OPTION_NOTIFY_CONNECTION,
      tarn__srv_on_connection, srv, MHD_OPTION_URI_LOG_CALLBACK, tarn__srv_on_uri, srv,
      MHD_OPTION_CONNECTION_LIMIT, mhd_cap, MHD_OPTION_CONNECTION_TIMEOUT, srv->opts.idle_timeout_s,
      MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
  if (srv->mhd == NULL) {
    close(srv->listen_fd);
    srv->listen_fd = -1;
    return tarn_error_set(err, TARN_EIO, "cannot start HTTP server on %s%s", srv->address,
                          srv->tls_cert ? " (is the TLS key the certificate's?)" : "");
  }
  srv->stopping = 0;
  if (pthread_create(&srv->watchdog, NULL, tarn__srv_watchdog_main, srv) == 0)
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

int tarn__http_server_own(tarn_http_server *srv, void *p, void (*fn)(void *), tarn_error *err) {
  if (srv->nowned == TARN__HTTP_MAX_OWNED)
    return tarn_error_set(err, TARN_ETOOBIG, "too many handler contexts (at most %d)",
                          TARN__HTTP_MAX_OWNED);
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
