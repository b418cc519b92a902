/* server_conn.c - the server's connections: per-connection phase tracking, the global and
 * per-client caps, eviction, and the watchdog that closes connections past their
 * deadlines or under the minimum rate. */
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

tarn__conn *tarn__srv_conn_of(struct MHD_Connection *c) {
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return ci != NULL ? ci->socket_context : NULL;
}

void tarn__srv_conn_set_phase(tarn_http_server *srv, tarn__conn *cs, tarn__conn_phase ph) {
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

void tarn__srv_conn_progress(tarn_http_server *srv, tarn__conn *cs, uint64_t bytes) {
  if (cs == NULL)
    return;
  pthread_mutex_lock(&srv->conn_mu);
  cs->window_bytes += bytes;
  pthread_mutex_unlock(&srv->conn_mu);
}

/* Marks the server busy for the connection (storage behind a chunk or read callback may
 * be slow): the client is not to blame, so the rate window starts afresh afterwards. */
void tarn__srv_conn_busy(tarn_http_server *srv, tarn__conn *cs, int on) {
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
  tarn_log_info("connection closed by the server", "client=%s reason=%s requests=%u", cs->ip, why,
                cs->requests);
}

void tarn__srv_on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
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
    const union MHD_ConnectionInfo *fd =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    const union MHD_ConnectionInfo *ad =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
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
void *tarn__srv_on_uri(void *cls, const char *uri, struct MHD_Connection *c) {
  tarn_http_server *srv = cls;
  tarn__conn *cs = tarn__srv_conn_of(c);
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

void *tarn__srv_watchdog_main(void *arg) {
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
      case TARN__CONN_HANDLER: break;
      }
    }
    ts.tv_sec = (time_t)(until / 1000000000ull);
    ts.tv_nsec = (long)(until % 1000000000ull);
    pthread_cond_timedwait(&srv->conn_cond, &srv->conn_mu, &ts);
  }
  pthread_mutex_unlock(&srv->conn_mu);
  return NULL;
}
