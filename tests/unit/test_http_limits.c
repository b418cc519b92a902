/* test_http_limits.c - the server under hostile connections: idle ones, slow heads, slow
 * bodies, a full house, one client taking too many; /healthz answerable throughout. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/metrics.h"
#include "http/http.h"

typedef struct fixture {
  tarn_metrics *metrics;
  tarn_http_server *srv;
  int port;
} fixture;

static int slow_handler(const tarn_http_request *req, tarn_http_response *resp, void *ud) {
  const char *ms = tarn_http_query(req, "ms");
  tarn_sleep_ms(ms ? (uint64_t)atoi(ms) : 300);
  return tarn_http_reply_json(resp, 200, json_pack("{s:s}", "slept", ms ? ms : "300"));
}

static int echo_handler(const tarn_http_request *req, tarn_http_response *resp, void *ud) {
  return tarn_http_reply_json(resp, 200, json_pack("{s:I}", "bytes", (json_int_t)req->body->len));
}

/* A streamed body whose storage is slow: the first chunk takes 1.5 s on our side. */
static int sink_begin(const tarn_http_request *req, tarn_http_response *resp, void **ctx,
                      void *ud) {
  *ctx = calloc(1, sizeof(size_t));
  return 0;
}
static int sink_chunk(void *ctx, const void *p, size_t n) {
  size_t *got = ctx;
  if (*got == 0)
    tarn_sleep_ms(1500);
  *got += n;
  return 0;
}
static int sink_end(void *ctx, const tarn_http_request *req, tarn_http_response *resp, int code) {
  size_t got = *(size_t *)ctx;
  free(ctx);
  if (resp == NULL)
    return 0;
  return tarn_http_reply_json(resp, 201, json_pack("{s:I}", "bytes", (json_int_t)got));
}
static const tarn_http_stream_ops sink_ops = {sink_begin, sink_chunk, sink_end};

/* 8 connections, 4 per client address, heads due within 1 s, bodies at >= 1 KiB/s. */
static int setup(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  tarn_http_options o;
  tarn_http_route slow = {"GET", "/slow", slow_handler, NULL, 0, 0, TARN_HTTP_SCOPE_READ, "ms"};
  tarn_http_route echo = {"POST",  "/echo", echo_handler,          NULL,
                          1 << 20, 0,       TARN_HTTP_SCOPE_WRITE, NULL};
  tarn_error err;
  memset(&o, 0, sizeof(o));
  o.listen = "127.0.0.1:0";
  o.max_body = 1 << 20;
  o.max_connections = 8;
  o.max_per_client = 4;
  o.header_timeout_ms = 1000;
  o.min_rate = 1024;
  o.public_healthz = 1;
  tarn_log_set_level(TARN_LOG_WARN);
  assert_int_equal(tarn_metrics_create(&f->metrics, &err), 0);
  o.metrics = f->metrics;
  assert_int_equal(tarn_http_server_create(&f->srv, &o, &err), 0);
  assert_int_equal(tarn_http_add_ops_routes(f->srv, "t", &err), 0);
  assert_int_equal(tarn_http_server_route(f->srv, &slow, &err), 0);
  assert_int_equal(tarn_http_server_route(f->srv, &echo, &err), 0);
  {
    tarn_http_route sink = {"PUT", "/sink", NULL, NULL, 1 << 20, 0, TARN_HTTP_SCOPE_WRITE, NULL};
    assert_int_equal(tarn_http_server_route_stream(f->srv, &sink, &sink_ops, &err), 0);
  }
  assert_int_equal(tarn_http_server_start(f->srv, &err), 0);
  f->port = atoi(strrchr(tarn_http_server_address(f->srv), ':') + 1);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  tarn_http_server_destroy(f->srv);
  tarn_metrics_destroy(f->metrics);
  free(f);
  return 0;
}

/* A connection from loopback address `from` (127.0.0.X: distinct clients on one host). */
static int connect_from(const char *from, int port) {
  struct sockaddr_in a, src;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  memset(&src, 0, sizeof(src));
  src.sin_family = AF_INET;
  inet_pton(AF_INET, from, &src.sin_addr);
  assert_int_equal(bind(fd, (struct sockaddr *)&src, sizeof(src)), 0);
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  return fd;
}

/* Reads until the peer closes or timeout_ms passes; returns what came (malloc'd). */
static char *read_all(int fd, int timeout_ms, int *closed) {
  char *out = calloc(1, 65536);
  size_t len = 0;
  uint64_t end = tarn_clock_mono_ns() + (uint64_t)timeout_ms * 1000000ull;
  *closed = 0;
  while (tarn_clock_mono_ns() < end && len < 65535) {
    struct pollfd p = {fd, POLLIN, 0};
    ssize_t n;
    if (poll(&p, 1, 50) <= 0)
      continue;
    n = recv(fd, out + len, 65535 - len, 0);
    if (n <= 0) {
      *closed = 1;
      break;
    }
    len += (size_t)n;
  }
  return out;
}

/* One request on a fresh connection from `from`; the whole response. */
static char *request(fixture *f, const char *from, const char *req, int timeout_ms) {
  int fd = connect_from(from, f->port), closed;
  char *r;
  assert_int_equal(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
  r = read_all(fd, timeout_ms, &closed);
  close(fd);
  return r;
}

static double metric(fixture *f, const char *series) {
  tarn_buf b;
  const char *p;
  double v = 0;
  tarn_buf_init(&b, TARN_BUF_UNLIMITED);
  assert_int_equal(tarn_metrics_render(f->metrics, &b, NULL), 0);
  p = strstr(b.data, series);
  if (p != NULL)
    v = strtod(p + strlen(series), NULL);
  tarn_buf_free(&b);
  return v;
}

#define HEALTHZ "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"

/* Connections that never send a byte hold every slot: new ones evict them. */
static void test_idle_connections(void **state) {
  fixture *f = *state;
  int fds[8], i, closed;
  char *r;
  uint64_t t0;
  for (i = 0; i < 8; i++)
    fds[i] = connect_from(i < 4 ? "127.0.0.2" : "127.0.0.3", f->port);
  tarn_sleep_ms(100);
  t0 = tarn_clock_mono_ns();
  r = request(f, "127.0.0.1", HEALTHZ, 2000);
  assert_non_null(strstr(r, "HTTP/1.1 200"));
  free(r);
  r = request(f, "127.0.0.1", "GET /slow?ms=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
              2000);
  assert_non_null(strstr(r, "HTTP/1.1 200"));
  free(r);
  assert_true(tarn_clock_mono_ns() - t0 < 900000000ull); /* served at once, not after deadlines */
  assert_true(metric(f, "tarn_http_connections_closed_total{reason=\"evicted\"} ") >= 1);
  /* the rest go when their head is overdue */
  for (i = 0; i < 8; i++) {
    free(read_all(fds[i], 2500, &closed));
    assert_true(closed);
    close(fds[i]);
  }
  assert_true(metric(f, "tarn_http_connections_closed_total{reason=\"header_timeout\"} ") >= 1);
}

/* A head trickled a byte at a time is closed at its deadline, however lively it looks. */
static void test_slow_heads(void **state) {
  fixture *f = *state;
  static const char head[] = "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaa";
  int fds[4], i, closed = 0;
  size_t k;
  uint64_t t0 = tarn_clock_mono_ns();
  char *r;
  for (i = 0; i < 4; i++)
    fds[i] = connect_from("127.0.0.2", f->port);
  for (k = 0; k < sizeof(head) - 1 && !closed; k++) {
    for (i = 0; i < 4; i++)
      if (send(fds[i], head + k, 1, MSG_NOSIGNAL) != 1)
        closed = 1;
    tarn_sleep_ms(100);
  }
  assert_true(closed); /* sends failed: the server closed them */
  assert_true(tarn_clock_mono_ns() - t0 < 2500000000ull);
  for (i = 0; i < 4; i++)
    close(fds[i]);
  r = request(f, "127.0.0.1", HEALTHZ, 2000);
  assert_non_null(strstr(r, "HTTP/1.1 200"));
  free(r);
  assert_true(metric(f, "tarn_http_connections_closed_total{reason=\"header_timeout\"} ") >= 4);
}

/* A body trickled far below min_rate is closed after one window. */
static void test_slow_body(void **state) {
  fixture *f = *state;
  static const char head[] =
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\nContent-Type: x/y\r\n\r\n";
  int fd = connect_from("127.0.0.2", f->port), i, failed = 0;
  uint64_t t0 = tarn_clock_mono_ns();
  char *r;
  assert_int_equal(send(fd, head, sizeof(head) - 1, MSG_NOSIGNAL), (ssize_t)(sizeof(head) - 1));
  for (i = 0; i < 40 && !failed; i++) {
    if (send(fd, "0123456789", 10, MSG_NOSIGNAL) != 10)
      failed = 1;
    tarn_sleep_ms(100);
  }
  assert_true(failed);
  assert_true(tarn_clock_mono_ns() - t0 < 3500000000ull);
  close(fd);
  assert_true(metric(f, "tarn_http_connections_closed_total{reason=\"slow_body\"} ") >= 1);
  /* a body at a decent rate is fine: 20 KiB in pieces */
  {
    char body[20480];
    char req[256];
    int cfd = connect_from("127.0.0.2", f->port), closed;
    size_t off;
    memset(body, 'x', sizeof(body));
    snprintf(req, sizeof(req),
             "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n"
             "Connection: close\r\n\r\n",
             sizeof(body));
    assert_true(send(cfd, req, strlen(req), MSG_NOSIGNAL) > 0);
    for (off = 0; off < sizeof(body); off += 4096) {
      assert_int_equal(send(cfd, body + off, 4096, MSG_NOSIGNAL), 4096);
      tarn_sleep_ms(50);
    }
    r = read_all(cfd, 2000, &closed);
    assert_non_null(strstr(r, "\"bytes\":20480"));
    free(r);
    close(cfd);
  }
}

/* Time the server spends in its own storage never counts against the client's rate. */
static void test_slow_storage_not_blamed(void **state) {
  fixture *f = *state;
  char body[65536], req[256], *r;
  int fd = connect_from("127.0.0.2", f->port), closed;
  memset(body, 'x', sizeof(body));
  snprintf(req, sizeof(req),
           "PUT /sink HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n"
           "Connection: close\r\n\r\n",
           sizeof(body));
  assert_true(send(fd, req, strlen(req), MSG_NOSIGNAL) > 0);
  assert_int_equal(send(fd, body, sizeof(body), MSG_NOSIGNAL), (ssize_t)sizeof(body));
  r = read_all(fd, 4000, &closed);
  assert_non_null(strstr(r, "HTTP/1.1 201"));
  assert_non_null(strstr(r, "\"bytes\":65536"));
  free(r);
  close(fd);
}

typedef struct slow_call {
  fixture *f;
  char from[24];
  char *resp;
} slow_call;

static void *call_slow(void *arg) {
  slow_call *c = arg;
  c->resp = request(c->f, c->from,
                    "GET /slow?ms=1500 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 4000);
  return NULL;
}

/* Every slot busy in a handler: a new request gets 503 with Retry-After, /healthz 200. */
static void test_full_house(void **state) {
  fixture *f = *state;
  pthread_t th[8];
  slow_call calls[8];
  char *r;
  int i;
  for (i = 0; i < 8; i++) {
    calls[i].f = f;
    calls[i].resp = NULL;
    /* from 4 addresses, 2 each: under the per-client cap */
    snprintf(calls[i].from, sizeof(calls[i].from), "127.0.0.%d", 10 + i / 2);
    pthread_create(&th[i], NULL, call_slow, &calls[i]);
    tarn_sleep_ms(20);
  }
  tarn_sleep_ms(300);
  r = request(f, "127.0.0.1", "GET /slow?ms=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
              2000);
  assert_non_null(strstr(r, "HTTP/1.1 503"));
  assert_non_null(strstr(r, "Retry-After: 1"));
  assert_non_null(strstr(r, "\"code\":\"busy\""));
  free(r);
  r = request(f, "127.0.0.1", HEALTHZ, 2000);
  assert_non_null(strstr(r, "HTTP/1.1 200"));
  free(r);
  for (i = 0; i < 8; i++) {
    pthread_join(th[i], NULL);
    assert_non_null(strstr(calls[i].resp, "HTTP/1.1 200"));
    free(calls[i].resp);
  }
  assert_true(metric(f, "tarn_http_connections_refused_total{reason=\"full\"} ") >= 1);
}

/* One address past its share gets 503; others are served. */
static void test_per_client(void **state) {
  fixture *f = *state;
  int fds[4], i;
  char *r;
  for (i = 0; i < 4; i++) {
    fds[i] = connect_from("127.0.0.5", f->port);
    /* busy, not idle, so they are not evicted */
    assert_true(send(fds[i], "GET /slow?ms=1500 HTTP/1.1\r\nHost: t\r\n\r\n", 39, MSG_NOSIGNAL) ==
                39);
  }
  tarn_sleep_ms(200);
  r = request(f, "127.0.0.5", "GET /slow?ms=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
              2000);
  assert_non_null(strstr(r, "HTTP/1.1 503"));
  assert_non_null(strstr(r, "too many connections from 127.0.0.5"));
  free(r);
  r = request(f, "127.0.0.6", "GET /slow?ms=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
              2000);
  assert_non_null(strstr(r, "HTTP/1.1 200"));
  free(r);
  for (i = 0; i < 4; i++)
    close(fds[i]);
  assert_true(metric(f, "tarn_http_connections_refused_total{reason=\"per_client\"} ") >= 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_idle_connections, setup, teardown),
      cmocka_unit_test_setup_teardown(test_slow_heads, setup, teardown),
      cmocka_unit_test_setup_teardown(test_slow_body, setup, teardown),
      cmocka_unit_test_setup_teardown(test_slow_storage_not_blamed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_full_house, setup, teardown),
      cmocka_unit_test_setup_teardown(test_per_client, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
