/* test_http.c - router matching and the HTTP server's lifecycle, limits and shutdown. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "http/http_int.h"

static int noop(const tarn_http_request *req, tarn_http_response *resp, void *ud) { return 0; }

static void test_router_match(void **state) {
  tarn__http_router r = {0};
  tarn__http_match m;
  tarn_http_route routes[] = {
      {"GET", "/healthz", noop, NULL, 0, 0, TARN_HTTP_SCOPE_READ, NULL},
      {"GET", "/catalog/datasets/{name}", noop, NULL, 0, 0, TARN_HTTP_SCOPE_READ, NULL},
      {"POST", "/catalog/datasets/{name}/resync", noop, NULL, 0, 0, TARN_HTTP_SCOPE_READ, NULL},
      {"PUT", "/storage/buckets/{bucket}/objects/{key...}", noop, NULL, 0, 0, TARN_HTTP_SCOPE_READ,
       NULL},
      {"GET", "/storage/buckets/{bucket}/objects/{key...}", noop, NULL, 0, 0, TARN_HTTP_SCOPE_READ,
       NULL},
  };
  size_t i;
  for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
    assert_int_equal(tarn__http_router_add(&r, &routes[i], NULL), 0);

  assert_int_equal(tarn__http_router_match(&r, "GET", "/healthz", &m), 0);
  assert_ptr_equal(m.route, &r.routes[0]);
  tarn__http_match_free(&m);

  assert_int_equal(tarn__http_router_match(&r, "HEAD", "/healthz", &m), 0);
  assert_ptr_equal(m.route, &r.routes[0]);
  tarn__http_match_free(&m);

  assert_int_equal(tarn__http_router_match(&r, "POST", "/healthz", &m), 0);
  assert_null(m.route);
  assert_true(m.path_known);
  assert_string_equal(m.allow, "GET, HEAD");
  tarn__http_match_free(&m);

  assert_int_equal(tarn__http_router_match(&r, "GET", "/healthz/", &m), 0);
  assert_false(m.path_known);
  tarn__http_match_free(&m);

  assert_int_equal(tarn__http_router_match(&r, "GET", "/catalog/datasets/sales", &m), 0);
  assert_ptr_equal(m.route, &r.routes[1]);
  assert_int_equal(m.nparams, 1);
  assert_string_equal(m.param_values[0], "sales");
  tarn__http_match_free(&m);

  /* an empty segment never matches a parameter */
  assert_int_equal(tarn__http_router_match(&r, "GET", "/catalog/datasets/", &m), 0);
  assert_false(m.path_known);
  tarn__http_match_free(&m);

  assert_int_equal(tarn__http_router_match(&r, "GET", "/catalog/datasets/a/resync", &m), 0);
  assert_null(m.route);
  assert_string_equal(m.allow, "POST");
  tarn__http_match_free(&m);

  assert_int_equal(
      tarn__http_router_match(&r, "PUT", "/storage/buckets/b1/objects/a/b/c.parquet", &m), 0);
  assert_ptr_equal(m.route, &r.routes[3]);
  assert_int_equal(m.nparams, 2);
  assert_string_equal(m.param_values[0], "b1");
  assert_string_equal(m.param_values[1], "a/b/c.parquet");
  tarn__http_match_free(&m);

  assert_int_equal(tarn__http_router_match(&r, "DELETE", "/storage/buckets/b1/objects/k", &m), 0);
  assert_null(m.route);
  assert_string_equal(m.allow, "PUT, GET, HEAD");
  tarn__http_match_free(&m);

  tarn__http_router_free(&r);
}

static void test_router_rejects_bad_patterns(void **state) {
  tarn__http_router r = {0};
  tarn_http_route bad[] = {
      {"GET", "healthz", noop, NULL, 0, 0, TARN_HTTP_SCOPE_READ, NULL},
      {"GET", "/a/{", noop, NULL, 0, 0, TARN_HTTP_SCOPE_READ, NULL},
      {"GET", "/a/{}", noop, NULL, 0, 0, TARN_HTTP_SCOPE_READ, NULL},
      {"GET", "/a/x{y}", noop, NULL, 0, 0, TARN_HTTP_SCOPE_READ, NULL},
      {"GET", "/a/{y}z", noop, NULL, 0, 0, TARN_HTTP_SCOPE_READ, NULL},
      {"GET", "/ok", NULL, NULL, 0, 0, TARN_HTTP_SCOPE_READ, NULL},
  };
  size_t i;
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_int_equal(tarn__http_router_add(&r, &bad[i], NULL), TARN_EINVAL);
  tarn__http_router_free(&r);
}

static void test_status_mapping(void **state) {
  assert_int_equal(tarn_http_status_for(TARN_ENOTFOUND), 404);
  assert_int_equal(tarn_http_status_for(TARN_EBADKEY), 400);
  assert_int_equal(tarn_http_status_for(TARN_ETOOBIG), 413);
  assert_int_equal(tarn_http_status_for(TARN_ECONFLICT), 409);
  assert_int_equal(tarn_http_status_for(TARN_EIO), 502);
  assert_int_equal(tarn_http_status_for(TARN_EUNKNOWN_OUTCOME), 502);
  assert_int_equal(tarn_http_status_for(TARN_EFSYNC), 502);
  assert_int_equal(tarn_http_status_for(TARN_ENOSPC), 507);
  assert_int_equal(tarn_http_status_for(TARN_EINTERNAL), 500);
}

/* ---- a live server ---- */

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
  resp->content_type = "application/octet-stream";
  resp->status = 201;
  tarn_http_add_header(resp, "X-Param", tarn_http_param(req, "name"), NULL);
  return tarn_buf_append(&resp->body, req->body->data ? req->body->data : "", req->body->len, NULL);
}

static int failing_handler(const tarn_http_request *req, tarn_http_response *resp, void *ud) {
  return TARN_ENOMEM;
}

/* ---- streaming bodies and responses ---- */

#include <stdatomic.h>

typedef struct up_ctx {
  size_t bytes, chunks;
  uint32_t sum;
  int fail_after_first;
} up_ctx;

static atomic_int ends_seen, last_end_code, readers_freed;

static int up_begin(const tarn_http_request *req, tarn_http_response *resp, void **ctx, void *ud) {
  const char *name = tarn_http_param(req, "name");
  up_ctx *u;
  if (strcmp(name, "reject") == 0)
    return tarn_http_reply_error(resp, 403, "permission_denied", "no uploads to %s", name);
  u = calloc(1, sizeof(*u));
  u->fail_after_first = strcmp(name, "fail") == 0;
  *ctx = u;
  return 0;
}

static int up_chunk(void *ctx, const void *p, size_t n) {
  up_ctx *u = ctx;
  size_t i;
  if (u->fail_after_first && u->chunks > 0)
    return TARN_EIO;
  for (i = 0; i < n; i++)
    u->sum = u->sum * 31 + ((const unsigned char *)p)[i];
  u->bytes += n;
  u->chunks++;
  return 0;
}

static int up_end(void *ctx, const tarn_http_request *req, tarn_http_response *resp, int code) {
  up_ctx *u = ctx;
  int rc = 0;
  atomic_store(&last_end_code, code);
  atomic_fetch_add(&ends_seen, 1);
  if (resp != NULL && code != 0)
    rc = tarn_http_reply_error(resp, tarn_http_status_for(code), tarn_err_name(code),
                               "stopped after %zu bytes", u->bytes);
  else if (resp != NULL)
    rc = tarn_http_reply_json(resp, 201,
                              json_pack("{s:I,s:I,s:I}", "bytes", (json_int_t)u->bytes, "chunks",
                                        (json_int_t)u->chunks, "sum", (json_int_t)u->sum));
  free(u);
  return rc;
}

static const tarn_http_stream_ops up_ops = {up_begin, up_chunk, up_end};

typedef struct gen_ctx {
  uint64_t n, fail_at;
} gen_ctx;

static long long gen_read(void *cls, uint64_t pos, char *buf, size_t max) {
  gen_ctx *g = cls;
  size_t i, k;
  if (pos >= g->n)
    return 0;
  if (g->fail_at && pos >= g->fail_at)
    return -1;
  k = (size_t)(g->n - pos < max ? g->n - pos : max);
  for (i = 0; i < k; i++)
    buf[i] = (char)('a' + (pos + i) % 26);
  return (long long)k;
}

static void gen_free(void *cls) {
  free(cls);
  atomic_fetch_add(&readers_freed, 1);
}

static int gen_handler(const tarn_http_request *req, tarn_http_response *resp, void *ud) {
  gen_ctx *g = calloc(1, sizeof(*g));
  const char *fail = tarn_http_query(req, "fail");
  g->n = (uint64_t)atoll(tarn_http_query(req, "n"));
  g->fail_at = fail ? (uint64_t)atoll(fail) : 0;
  resp->content_type = "application/octet-stream";
  resp->reader.read = gen_read;
  resp->reader.free = gen_free;
  resp->reader.cls = g;
  resp->reader.size = tarn_http_query(req, "chunked") ? TARN_HTTP_SIZE_UNKNOWN : g->n;
  return tarn_http_add_header(resp, "X-Gen", "yes", NULL);
}

static int setup_server(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  tarn_http_options o;
  tarn_http_route slow = {"GET", "/slow", slow_handler, NULL, 0, 0, TARN_HTTP_SCOPE_READ, "ms"};
  tarn_http_route echo = {"POST", "/echo/{name}",       echo_handler, NULL, 64,
                          0,      TARN_HTTP_SCOPE_READ, NULL};
  tarn_http_route failing = {"GET", "/fail", failing_handler,      NULL,
                             0,     0,       TARN_HTTP_SCOPE_READ, NULL};
  tarn_error err;
  const char *colon;
  memset(&o, 0, sizeof(o));
  o.listen = "127.0.0.1:0";
  o.max_body = 1024;
  assert_int_equal(tarn_metrics_create(&f->metrics, &err), 0);
  o.metrics = f->metrics;
  assert_int_equal(tarn_http_server_create(&f->srv, &o, &err), 0);
  assert_int_equal(tarn_http_add_ops_routes(f->srv, "9.9.9", &err), 0);
  assert_int_equal(tarn_http_server_route(f->srv, &slow, &err), 0);
  assert_int_equal(tarn_http_server_route(f->srv, &echo, &err), 0);
  assert_int_equal(tarn_http_server_route(f->srv, &failing, &err), 0);
  {
    tarn_http_route up = {"PUT", "/up/{name}", NULL, NULL, 200000, 0, TARN_HTTP_SCOPE_READ, NULL};
    tarn_http_route gen = {"GET", "/gen", gen_handler,          NULL,
                           0,     0,      TARN_HTTP_SCOPE_READ, "n,fail,chunked"};
    assert_int_equal(tarn_http_server_route_stream(f->srv, &up, &up_ops, &err), 0);
    assert_int_equal(tarn_http_server_route_stream(f->srv, &up, NULL, &err), TARN_EINVAL);
    assert_int_equal(tarn_http_server_route(f->srv, &gen, &err), 0);
  }
  assert_int_equal(tarn_http_server_start(f->srv, &err), 0);
  colon = strrchr(tarn_http_server_address(f->srv), ':');
  f->port = atoi(colon + 1);
  assert_true(f->port > 0);
  *state = f;
  return 0;
}

static int teardown_server(void **state) {
  fixture *f = *state;
  tarn_http_server_destroy(f->srv);
  tarn_metrics_destroy(f->metrics);
  free(f);
  return 0;
}

/* Sends a raw request, returns the whole response (malloc'd) or NULL. */
static char *http_raw(int port, const char *request, size_t reqlen) {
  struct sockaddr_in a;
  char *out = NULL;
  size_t len = 0, cap = 0;
  ssize_t n;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return NULL;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
    close(fd);
    return NULL;
  }
  if (write(fd, request, reqlen) != (ssize_t)reqlen) {
    close(fd);
    return NULL;
  }
  for (;;) {
    if (len + 4096 + 1 > cap) {
      cap = cap ? cap * 2 : 8192;
      out = realloc(out, cap);
    }
    n = read(fd, out + len, 4096);
    if (n <= 0)
      break;
    len += (size_t)n;
  }
  close(fd);
  if (out != NULL)
    out[len] = '\0';
  return out;
}

static char *http_get(int port, const char *method, const char *path) {
  char req[512];
  int n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                   method, path);
  return http_raw(port, req, (size_t)n);
}

static void test_serves_and_errors(void **state) {
  fixture *f = *state;
  char *r;
  r = http_get(f->port, "GET", "/healthz");
  assert_non_null(r);
  assert_non_null(strstr(r, "HTTP/1.1 200"));
  assert_non_null(strstr(r, "\"status\":\"ok\""));
  assert_non_null(strstr(r, "\"version\":\"9.9.9\""));
  free(r);

  r = http_get(f->port, "GET", "/nope");
  assert_non_null(strstr(r, "HTTP/1.1 404"));
  assert_non_null(
      strstr(r, "{\"error\":{\"code\":\"not_found\",\"message\":\"no route for GET /nope\"}}"));
  free(r);

  r = http_get(f->port, "PUT", "/healthz");
  assert_non_null(strstr(r, "HTTP/1.1 405"));
  assert_non_null(strstr(r, "Allow: GET, HEAD\r\n"));
  free(r);

  r = http_get(f->port, "GET", "/fail");
  assert_non_null(strstr(r, "HTTP/1.1 500"));
  assert_non_null(strstr(r, "\"code\":\"internal\""));
  free(r);

  /* a query parameter the route does not take is named, not ignored */
  r = http_get(f->port, "GET", "/slow?ms=1&msec=5");
  assert_non_null(strstr(r, "HTTP/1.1 400"));
  assert_non_null(strstr(r, "unknown query parameter \\\"msec\\\" for GET /slow (it takes: ms)"));
  free(r);
  r = http_get(f->port, "GET", "/healthz?verbose=1");
  assert_non_null(strstr(r, "HTTP/1.1 400"));
  assert_non_null(strstr(r, "(it takes none)"));
  free(r);
  r = http_get(f->port, "GET", "/slow?ms=1");
  assert_non_null(strstr(r, "HTTP/1.1 200"));
  free(r);
}

static void test_body_caps(void **state) {
  fixture *f = *state;
  char req[4096];
  char *r;
  int n;
  /* within the route's 64-byte cap: echoed back */
  n = snprintf(
      req, sizeof(req),
      "POST /echo/abc HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello");
  r = http_raw(f->port, req, (size_t)n);
  assert_non_null(strstr(r, "HTTP/1.1 201"));
  assert_non_null(strstr(r, "X-Param: abc\r\n"));
  assert_non_null(strstr(r, "\r\n\r\nhello"));
  free(r);
  /* exactly the cap is fine */
  n = snprintf(req, sizeof(req),
               "POST /echo/x HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 64\r\n\r\n"
               "0123456789012345678901234567890123456789012345678901234567890123");
  r = http_raw(f->port, req, (size_t)n);
  assert_non_null(strstr(r, "HTTP/1.1 201"));
  free(r);
  /* one past the route cap, declared: 413 before the body is read */
  n = snprintf(req, sizeof(req),
               "POST /echo/x HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 65\r\n\r\n"
               "01234567890123456789012345678901234567890123456789012345678901234");
  r = http_raw(f->port, req, (size_t)n);
  assert_non_null(strstr(r, "HTTP/1.1 413"));
  assert_non_null(strstr(r, "\"code\":\"payload_too_large\""));
  assert_non_null(strstr(r, "limit of 64 bytes"));
  free(r);
  /* chunked past the cap: counted as it arrives */
  n = snprintf(
      req, sizeof(req),
      "POST /echo/x HTTP/1.1\r\nHost: t\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
      "28\r\n0123456789012345678901234567890123456789\r\n"
      "28\r\n0123456789012345678901234567890123456789\r\n0\r\n\r\n");
  r = http_raw(f->port, req, (size_t)n);
  assert_non_null(strstr(r, "HTTP/1.1 413"));
  free(r);
  assert_int_equal(
      tarn_metric_value(
          tarn_metrics_counter(f->metrics, "tarn_http_request_body_rejected_total", "", "route"),
          (const char *[]){"/echo/{name}"}),
      2);
}

typedef struct slow_call {
  int port;
  char *response;
} slow_call;

static void *call_slow(void *arg) {
  slow_call *c = arg;
  c->response = http_get(c->port, "GET", "/slow?ms=400");
  return NULL;
}

static void test_graceful_stop_finishes_inflight(void **state) {
  fixture *f = *state;
  slow_call c = {f->port, NULL};
  pthread_t t;
  char *r;
  uint64_t t0;
  assert_int_equal(pthread_create(&t, NULL, call_slow, &c), 0);
  t0 = tarn_clock_mono_ns();
  while (tarn_http_server_inflight(f->srv) == 0 && tarn_clock_mono_ns() - t0 < 5000000000ull)
    tarn_sleep_ms(5);
  assert_int_equal(tarn_http_server_inflight(f->srv), 1);
  assert_int_equal(tarn_http_server_stop(f->srv, 10000), 0);
  pthread_join(t, NULL);
  assert_non_null(c.response);
  assert_non_null(strstr(c.response, "HTTP/1.1 200"));
  assert_non_null(strstr(c.response, "\"slept\":\"400\""));
  free(c.response);
  /* no longer accepting */
  r = http_get(f->port, "GET", "/healthz");
  assert_true(r == NULL || r[0] == '\0');
  free(r);
}

static void test_stop_timeout_abandons(void **state) {
  fixture *f = *state;
  slow_call c = {f->port, NULL};
  pthread_t t;
  uint64_t t0;
  assert_int_equal(pthread_create(&t, NULL, call_slow, &c), 0);
  t0 = tarn_clock_mono_ns();
  while (tarn_http_server_inflight(f->srv) == 0 && tarn_clock_mono_ns() - t0 < 5000000000ull)
    tarn_sleep_ms(5);
  /* a zero timeout reports the request still in flight */
  assert_int_equal(tarn_http_server_stop(f->srv, 0), 1);
  pthread_join(t, NULL);
  free(c.response);
}

static void test_metrics_after_requests(void **state) {
  fixture *f = *state;
  tarn_buf b;
  char *r;
  r = http_get(f->port, "GET", "/healthz");
  free(r);
  r = http_get(f->port, "GET", "/metrics");
  assert_non_null(strstr(r, "Content-Type: text/plain; version=0.0.4"));
  assert_non_null(
      strstr(r, "tarn_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"} 1\n"));
  assert_non_null(strstr(r, "# TYPE tarn_http_request_duration_seconds histogram\n"));
  assert_non_null(strstr(r, "tarn_build_info{version=\"9.9.9\"} 1\n"));
  free(r);
  /* the /metrics request itself is counted once it completes */
  tarn_buf_init(&b, TARN_BUF_UNLIMITED);
  assert_int_equal(tarn_metrics_render(f->metrics, &b, NULL), 0);
  assert_non_null(strstr(
      b.data, "tarn_http_requests_total{route=\"/metrics\",method=\"GET\",status=\"200\"} 1\n"));
  assert_non_null(strstr(b.data, "tarn_http_requests_in_flight 0\n"));
  tarn_buf_free(&b);
}

/* Junk methods get 501 and one label value: they cannot fill the metrics registry. */
static void test_unknown_methods(void **state) {
  fixture *f = *state;
  tarn_buf b;
  char *r, method[32], want[160];
  int i;
  for (i = 0; i < 300; i++) {
    snprintf(method, sizeof(method), "JUNK%d", i);
    r = http_get(f->port, method, i % 2 ? "/healthz" : "/nope");
    assert_non_null(r);
    assert_non_null(strstr(r, "HTTP/1.1 501"));
    assert_non_null(strstr(r, "\"code\":\"not_implemented\""));
    free(r);
  }
  r = http_get(f->port, "PATCH", "/healthz"); /* a method HTTP defines: 405 as before */
  assert_non_null(strstr(r, "HTTP/1.1 405"));
  free(r);
  tarn_buf_init(&b, TARN_BUF_UNLIMITED);
  assert_int_equal(tarn_metrics_render(f->metrics, &b, NULL), 0);
  snprintf(want, sizeof(want),
           "tarn_http_requests_total{route=\"unmatched\",method=\"other\",status=\"501\"} 300\n");
  assert_non_null(strstr(b.data, want));
  assert_null(strstr(b.data, "JUNK"));
  tarn_buf_free(&b);
  r = http_get(f->port, "GET", "/healthz");
  assert_non_null(strstr(r, "HTTP/1.1 200"));
  free(r);
}

/* Builds a chunked PUT of n bytes of a pattern in pieces of `piece`. Caller frees. */
static char *chunked_put(const char *path, size_t n, size_t piece, size_t *len) {
  size_t cap = n * 2 + 4096, off = 0, sent = 0, i;
  char *req = malloc(cap);
  off += (size_t)snprintf(req, cap,
                          "PUT %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n",
                          path);
  while (sent < n) {
    size_t k = n - sent < piece ? n - sent : piece;
    off += (size_t)snprintf(req + off, cap - off, "%zx\r\n", k);
    for (i = 0; i < k; i++)
      req[off + i] = (char)('A' + (sent + i) % 7);
    off += k;
    memcpy(req + off, "\r\n", 2);
    off += 2;
    sent += k;
  }
  memcpy(req + off, "0\r\n\r\n", 5);
  off += 5;
  *len = off;
  return req;
}

static void test_streamed_request_body(void **state) {
  fixture *f = *state;
  char *req, *r, hdr[256];
  size_t len, i;
  uint32_t sum = 0;
  char want[128];
  int n;
  /* a chunked body arrives in several pieces, each seen once, in order */
  for (i = 0; i < 150000; i++)
    sum = sum * 31 + (unsigned char)('A' + i % 7);
  req = chunked_put("/up/x", 150000, 10000, &len);
  atomic_store(&ends_seen, 0);
  r = http_raw(f->port, req, len);
  free(req);
  assert_non_null(strstr(r, "HTTP/1.1 201"));
  snprintf(want, sizeof(want), "\"bytes\":150000,");
  assert_non_null(strstr(r, want));
  snprintf(want, sizeof(want), "\"sum\":%u}", sum);
  assert_non_null(strstr(r, want));
  assert_null(strstr(r, "\"chunks\":1,")); /* really in pieces */
  assert_int_equal(atomic_load(&ends_seen), 1);
  assert_int_equal(atomic_load(&last_end_code), 0);
  free(r);
  /* declared length: the same */
  n = snprintf(hdr, sizeof(hdr),
               "PUT /up/y HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
               "Content-Length: 5\r\n\r\nhello");
  r = http_raw(f->port, hdr, (size_t)n);
  assert_non_null(strstr(r, "HTTP/1.1 201"));
  assert_non_null(strstr(r, "\"bytes\":5,\"chunks\":1"));
  free(r);
  /* begin may answer at once, without taking the body */
  atomic_store(&ends_seen, 0);
  n = snprintf(hdr, sizeof(hdr),
               "PUT /up/reject HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
               "Content-Length: 5\r\n\r\nhello");
  r = http_raw(f->port, hdr, (size_t)n);
  assert_non_null(strstr(r, "HTTP/1.1 403"));
  assert_non_null(strstr(r, "no uploads to reject"));
  assert_int_equal(atomic_load(&ends_seen), 0);
  free(r);
  /* a chunk callback that fails: end gets its code and answers */
  req = chunked_put("/up/fail", 50000, 1000, &len);
  r = http_raw(f->port, req, len);
  free(req);
  assert_non_null(strstr(r, "HTTP/1.1 502"));
  assert_non_null(strstr(r, "stopped after 1000 bytes"));
  assert_int_equal(atomic_load(&last_end_code), TARN_EIO);
  free(r);
}

static void test_streamed_body_cap(void **state) {
  fixture *f = *state;
  char *req, *r, hdr[256];
  size_t len;
  int n;
  /* declared over the cap: 413 before begin */
  atomic_store(&ends_seen, 0);
  n = snprintf(hdr, sizeof(hdr),
               "PUT /up/x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
               "Content-Length: 200001\r\n\r\n");
  r = http_raw(f->port, hdr, (size_t)n);
  assert_non_null(strstr(r, "HTTP/1.1 413"));
  assert_non_null(strstr(r, "limit of 200000 bytes"));
  assert_int_equal(atomic_load(&ends_seen), 0);
  free(r);
  /* chunked: exactly the cap is fine, one byte more is 413 once the total passes it */
  req = chunked_put("/up/x", 200000, 30000, &len);
  r = http_raw(f->port, req, len);
  free(req);
  assert_non_null(strstr(r, "HTTP/1.1 201"));
  free(r);
  atomic_store(&ends_seen, 0);
  req = chunked_put("/up/x", 200001, 30000, &len);
  r = http_raw(f->port, req, len);
  free(req);
  assert_non_null(strstr(r, "HTTP/1.1 413"));
  assert_non_null(strstr(r, "\"code\":\"payload_too_large\""));
  assert_int_equal(atomic_load(&ends_seen), 1);
  assert_int_equal(atomic_load(&last_end_code), TARN_ETOOBIG);
  free(r);
  assert_int_equal(
      tarn_metric_value(
          tarn_metrics_counter(f->metrics, "tarn_http_request_body_rejected_total", "", "route"),
          (const char *[]){"/up/{name}"}),
      2);
}

static void test_streamed_body_client_gone(void **state) {
  fixture *f = *state;
  struct sockaddr_in a;
  const char *hdr = "PUT /up/x HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n";
  char part[1000];
  uint64_t t0;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)f->port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  atomic_store(&ends_seen, 0);
  assert_int_equal(write(fd, hdr, strlen(hdr)), (ssize_t)strlen(hdr));
  memset(part, 'x', sizeof(part));
  assert_int_equal(write(fd, part, sizeof(part)), (ssize_t)sizeof(part));
  tarn_sleep_ms(100);
  close(fd);
  t0 = tarn_clock_mono_ns();
  while (atomic_load(&ends_seen) == 0 && tarn_clock_mono_ns() - t0 < 5000000000ull)
    tarn_sleep_ms(5);
  assert_int_equal(atomic_load(&ends_seen), 1);
  assert_int_equal(atomic_load(&last_end_code), TARN_EIO);
}

static void test_streamed_response(void **state) {
  fixture *f = *state;
  char *r, *body;
  size_t i;
  atomic_store(&readers_freed, 0);
  r = http_get(f->port, "GET", "/gen?n=300000");
  assert_non_null(strstr(r, "HTTP/1.1 200"));
  assert_non_null(strstr(r, "Content-Length: 300000\r\n"));
  assert_non_null(strstr(r, "X-Gen: yes\r\n"));
  assert_non_null(strstr(r, "Content-Type: application/octet-stream\r\n"));
  body = strstr(r, "\r\n\r\n") + 4;
  assert_int_equal(strlen(body), 300000);
  for (i = 0; i < 300000; i++)
    if (body[i] != (char)('a' + i % 26))
      fail_msg("byte %zu differs", i);
  free(r);
  /* HEAD: the length, no body, the reader never runs but is freed */
  r = http_get(f->port, "HEAD", "/gen?n=300000");
  assert_non_null(strstr(r, "HTTP/1.1 200"));
  assert_non_null(strstr(r, "Content-Length: 300000\r\n"));
  assert_string_equal(strstr(r, "\r\n\r\n"), "\r\n\r\n");
  free(r);
  /* unknown size: chunked */
  r = http_get(f->port, "GET", "/gen?n=1000&chunked=1");
  assert_non_null(strstr(r, "Transfer-Encoding: chunked"));
  free(r);
  /* a reader failing midway: the client gets less than Content-Length */
  r = http_get(f->port, "GET", "/gen?n=300000&fail=100000");
  assert_non_null(strstr(r, "Content-Length: 300000\r\n"));
  assert_true(strlen(strstr(r, "\r\n\r\n") + 4) < 300000);
  free(r);
  tarn_sleep_ms(50);
  assert_int_equal(atomic_load(&readers_freed), 4);
}

static void test_listen_errors(void **state) {
  tarn_http_server *srv = NULL;
  tarn_http_options o;
  tarn_error err;
  memset(&o, 0, sizeof(o));
  o.listen = "no-colon";
  o.max_body = 10;
  assert_int_equal(tarn_http_server_create(&srv, &o, &err), 0);
  assert_int_equal(tarn_http_server_start(srv, &err), TARN_ECONFIG);
  assert_non_null(strstr(err.detail, "no-colon"));
  tarn_http_server_destroy(srv);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_router_match),
      cmocka_unit_test(test_router_rejects_bad_patterns),
      cmocka_unit_test(test_status_mapping),
      cmocka_unit_test_setup_teardown(test_serves_and_errors, setup_server, teardown_server),
      cmocka_unit_test_setup_teardown(test_body_caps, setup_server, teardown_server),
      cmocka_unit_test_setup_teardown(test_graceful_stop_finishes_inflight, setup_server,
                                      teardown_server),
      cmocka_unit_test_setup_teardown(test_stop_timeout_abandons, setup_server, teardown_server),
      cmocka_unit_test_setup_teardown(test_metrics_after_requests, setup_server, teardown_server),
      cmocka_unit_test_setup_teardown(test_unknown_methods, setup_server, teardown_server),
      cmocka_unit_test_setup_teardown(test_streamed_request_body, setup_server, teardown_server),
      cmocka_unit_test_setup_teardown(test_streamed_body_cap, setup_server, teardown_server),
      cmocka_unit_test_setup_teardown(test_streamed_body_client_gone, setup_server,
                                      teardown_server),
      cmocka_unit_test_setup_teardown(test_streamed_response, setup_server, teardown_server),
      cmocka_unit_test(test_listen_errors),
  };
  tarn_log_set_level(TARN_LOG_WARN);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
