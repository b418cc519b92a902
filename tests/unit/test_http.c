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
      {"GET", "/healthz", noop, NULL, 0, 0},
      {"GET", "/catalog/datasets/{name}", noop, NULL, 0, 0},
      {"POST", "/catalog/datasets/{name}/resync", noop, NULL, 0, 0},
      {"PUT", "/storage/buckets/{bucket}/objects/{key...}", noop, NULL, 0, 0},
      {"GET", "/storage/buckets/{bucket}/objects/{key...}", noop, NULL, 0, 0},
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

  assert_int_equal(tarn__http_router_match(&r, "PUT", "/storage/buckets/b1/objects/a/b/c.parquet", &m), 0);
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
      {"GET", "healthz", noop, NULL, 0, 0},
      {"GET", "/a/{", noop, NULL, 0, 0},
      {"GET", "/a/{}", noop, NULL, 0, 0},
      {"GET", "/a/x{y}", noop, NULL, 0, 0},
      {"GET", "/a/{y}z", noop, NULL, 0, 0},
      {"GET", "/ok", NULL, NULL, 0, 0},
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
  tarn_http_add_header(resp, "X-Param", tarn_http_param(req, "name"));
  return tarn_buf_append(&resp->body, req->body->data ? req->body->data : "", req->body->len,
                         NULL);
}

static int failing_handler(const tarn_http_request *req, tarn_http_response *resp, void *ud) {
  return TARN_ENOMEM;
}

static int setup_server(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  tarn_http_options o;
  tarn_http_route slow = {"GET", "/slow", slow_handler, NULL, 0, 0};
  tarn_http_route echo = {"POST", "/echo/{name}", echo_handler, NULL, 64, 0};
  tarn_http_route failing = {"GET", "/fail", failing_handler, NULL, 0, 0};
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
  assert_non_null(strstr(r, "{\"error\":{\"code\":\"not_found\",\"message\":\"no route for GET /nope\"}}"));
  free(r);

  r = http_get(f->port, "PUT", "/healthz");
  assert_non_null(strstr(r, "HTTP/1.1 405"));
  assert_non_null(strstr(r, "Allow: GET, HEAD\r\n"));
  free(r);

  r = http_get(f->port, "GET", "/fail");
  assert_non_null(strstr(r, "HTTP/1.1 500"));
  assert_non_null(strstr(r, "\"code\":\"internal\""));
  free(r);
}

static void test_body_caps(void **state) {
  fixture *f = *state;
  char req[4096];
  char *r;
  int n;
  /* within the route's 64-byte cap: echoed back */
  n = snprintf(req, sizeof(req),
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
  n = snprintf(req, sizeof(req),
               "POST /echo/x HTTP/1.1\r\nHost: t\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
               "28\r\n0123456789012345678901234567890123456789\r\n"
               "28\r\n0123456789012345678901234567890123456789\r\n0\r\n\r\n");
  r = http_raw(f->port, req, (size_t)n);
  assert_non_null(strstr(r, "HTTP/1.1 413"));
  free(r);
  assert_int_equal(tarn_metric_value(tarn_metrics_counter(f->metrics,
                                                          "tarn_http_request_body_rejected_total",
                                                          "", "route"),
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
  assert_non_null(strstr(r, "tarn_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"} 1\n"));
  assert_non_null(strstr(r, "# TYPE tarn_http_request_duration_seconds histogram\n"));
  assert_non_null(strstr(r, "tarn_build_info{version=\"9.9.9\"} 1\n"));
  free(r);
  /* the /metrics request itself is counted once it completes */
  tarn_buf_init(&b, TARN_BUF_UNLIMITED);
  assert_int_equal(tarn_metrics_render(f->metrics, &b, NULL), 0);
  assert_non_null(strstr(b.data, "tarn_http_requests_total{route=\"/metrics\",method=\"GET\",status=\"200\"} 1\n"));
  assert_non_null(strstr(b.data, "tarn_http_requests_in_flight 0\n"));
  tarn_buf_free(&b);
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
      cmocka_unit_test(test_listen_errors),
  };
  tarn_log_set_level(TARN_LOG_WARN);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
