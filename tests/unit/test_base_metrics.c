/* test_base_metrics.c - Prometheus registry: exact text rendering, limits, threads (base/metrics). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/metrics.h"

#define DROPPED "tarn_metrics_dropped_series_total"

static tarn_metrics *new_reg(void) {
  tarn_metrics *reg = NULL;
  tarn_error err;
  assert_int_equal(tarn_metrics_create(&reg, &err), 0);
  assert_non_null(reg);
  return reg;
}

/* Renders the registry; returns the text after the always-present dropped-series family
 * (whose HELP wording is not part of the contract), after checking its HELP/TYPE lines.
 * Caller frees with tarn_free. */
static char *render_after_dropped(tarn_metrics *reg) {
  tarn_buf b;
  tarn_error err;
  char *all, *rest, *p;
  tarn_buf_init(&b, TARN_BUF_UNLIMITED);
  assert_int_equal(tarn_metrics_render(reg, &b, &err), 0);
  all = tarn_buf_detach(&b);
  assert_memory_equal(all, "# HELP " DROPPED " ", strlen("# HELP " DROPPED " "));
  p = strchr(all, '\n');
  assert_non_null(p);
  p++;
  assert_memory_equal(p, "# TYPE " DROPPED " counter\n", strlen("# TYPE " DROPPED " counter\n"));
  p += strlen("# TYPE " DROPPED " counter\n");
  /* Series of the dropped family, if any, are kept for the caller to see. */
  rest = tarn_strdup(p);
  assert_non_null(rest);
  tarn_free(all);
  return rest;
}

static void test_render_exact(void **state) {
  tarn_metrics *reg = new_reg();
  tarn_metric *req, *depth, *lat, *rows, *idle;
  const double lat_bounds[] = {0.1, 0.5, 1};
  const double row_bounds[] = {10, 100};
  const char *ok[] = {"/v1/tables", "200"};
  const char *odd[] = {"a\\b", "say \"hi\""};
  const char *nl[] = {"l1\nl2", "500"};
  const char *x[] = {"/x"};
  char *text;
  (void)state;
  req = tarn_metrics_counter(reg, "http_requests_total", "Requests served.", "route,status");
  depth =
      tarn_metrics_gauge(reg, "queue_depth", "Items waiting.\nSecond line, a \\ backslash.", NULL);
  lat = tarn_metrics_histogram(reg, "request_seconds", "Latency.", "route", lat_bounds, 3);
  rows = tarn_metrics_histogram(reg, "batch_rows", "Rows per batch.", NULL, row_bounds, 2);
  idle = tarn_metrics_counter(reg, "idle_total", "Never updated.", NULL);
  assert_non_null(req);
  assert_non_null(depth);
  assert_non_null(lat);
  assert_non_null(rows);
  assert_non_null(idle);

  tarn_metric_add(req, ok, 1);
  tarn_metric_add(req, odd, 1);
  tarn_metric_add(req, ok, 2);
  tarn_metric_add(req, nl, 2);
  tarn_metric_set(depth, NULL, -1.5);
  tarn_metric_add(depth, NULL, 0.25);
  tarn_metric_observe(lat, x, 0.25);
  tarn_metric_observe(lat, x, 0.5); /* on a bound: counts in le="0.5" */
  tarn_metric_observe(lat, x, 0.5);
  tarn_metric_observe(lat, x, 3);
  tarn_metric_observe(rows, NULL, 5);
  tarn_metric_observe(rows, NULL, 50);
  tarn_metric_observe(rows, NULL, 500);

  text = render_after_dropped(reg);
  assert_string_equal(text, "# HELP http_requests_total Requests served.\n"
                            "# TYPE http_requests_total counter\n"
                            "http_requests_total{route=\"/v1/tables\",status=\"200\"} 3\n"
                            "http_requests_total{route=\"a\\\\b\",status=\"say \\\"hi\\\"\"} 1\n"
                            "http_requests_total{route=\"l1\\nl2\",status=\"500\"} 2\n"
                            "# HELP queue_depth Items waiting.\\nSecond line, a \\\\ backslash.\n"
                            "# TYPE queue_depth gauge\n"
                            "queue_depth -1.25\n"
                            "# HELP request_seconds Latency.\n"
                            "# TYPE request_seconds histogram\n"
                            "request_seconds_bucket{route=\"/x\",le=\"0.1\"} 0\n"
                            "request_seconds_bucket{route=\"/x\",le=\"0.5\"} 3\n"
                            "request_seconds_bucket{route=\"/x\",le=\"1\"} 3\n"
                            "request_seconds_bucket{route=\"/x\",le=\"+Inf\"} 4\n"
                            "request_seconds_sum{route=\"/x\"} 4.25\n"
                            "request_seconds_count{route=\"/x\"} 4\n"
                            "# HELP batch_rows Rows per batch.\n"
                            "# TYPE batch_rows histogram\n"
                            "batch_rows_bucket{le=\"10\"} 1\n"
                            "batch_rows_bucket{le=\"100\"} 2\n"
                            "batch_rows_bucket{le=\"+Inf\"} 3\n"
                            "batch_rows_sum 555\n"
                            "batch_rows_count 3\n"
                            "# HELP idle_total Never updated.\n"
                            "# TYPE idle_total counter\n");
  tarn_free(text);
  assert_true(tarn_metric_value(req, ok) == 3);
  assert_true(tarn_metric_value(depth, NULL) == -1.25);
  assert_true(tarn_metric_value(lat, x) == 4); /* histograms report their count */
  tarn_metrics_destroy(reg);
  tarn_metrics_destroy(NULL);
}

/* Bucket bounds and values print in their shortest exact form, as other Prometheus
 * clients do, so le="0.1" from tarn and from any other exporter are the same series. */
static void test_render_numbers(void **state) {
  tarn_metrics *reg = new_reg();
  tarn_metric *h, *g;
  char *text;
  (void)state;
  h = tarn_metrics_histogram(reg, "lat_seconds", "L.", NULL, tarn_metrics_latency_buckets,
                             tarn_metrics_latency_nbuckets);
  g = tarn_metrics_gauge(reg, "g", "G.", "k");
  assert_non_null(h);
  assert_non_null(g);
  tarn_metric_observe(h, NULL, 0.0001);
  {
    const char *v[] = {"tenth"};
    tarn_metric_set(g, v, 0.1);
  }
  {
    const char *v[] = {"third"};
    tarn_metric_set(g, v, 1.0 / 3.0);
  }
  {
    const char *v[] = {"inf"};
    tarn_metric_set(g, v, INFINITY);
  }
  {
    const char *v[] = {"ninf"};
    tarn_metric_set(g, v, -INFINITY);
  }
  {
    const char *v[] = {"nan"};
    tarn_metric_set(g, v, NAN);
  }
  {
    const char *v[] = {"big"};
    tarn_metric_set(g, v, 1e21);
  }
  text = render_after_dropped(reg);
  assert_string_equal(text, "# HELP lat_seconds L.\n"
                            "# TYPE lat_seconds histogram\n"
                            "lat_seconds_bucket{le=\"0.001\"} 1\n"
                            "lat_seconds_bucket{le=\"0.0025\"} 1\n"
                            "lat_seconds_bucket{le=\"0.005\"} 1\n"
                            "lat_seconds_bucket{le=\"0.01\"} 1\n"
                            "lat_seconds_bucket{le=\"0.025\"} 1\n"
                            "lat_seconds_bucket{le=\"0.05\"} 1\n"
                            "lat_seconds_bucket{le=\"0.1\"} 1\n"
                            "lat_seconds_bucket{le=\"0.25\"} 1\n"
                            "lat_seconds_bucket{le=\"0.5\"} 1\n"
                            "lat_seconds_bucket{le=\"1\"} 1\n"
                            "lat_seconds_bucket{le=\"2.5\"} 1\n"
                            "lat_seconds_bucket{le=\"5\"} 1\n"
                            "lat_seconds_bucket{le=\"10\"} 1\n"
                            "lat_seconds_bucket{le=\"+Inf\"} 1\n"
                            "lat_seconds_sum 0.0001\n"
                            "lat_seconds_count 1\n"
                            "# HELP g G.\n"
                            "# TYPE g gauge\n"
                            "g{k=\"tenth\"} 0.1\n"
                            "g{k=\"third\"} 0.3333333333333333\n"
                            "g{k=\"inf\"} +Inf\n"
                            "g{k=\"ninf\"} -Inf\n"
                            "g{k=\"nan\"} NaN\n"
                            "g{k=\"big\"} 1e+21\n");
  tarn_free(text);
  tarn_metrics_destroy(reg);
}

/* A collector runs at every render, before the families are written, and may set them. */
static void bump(void *arg) {
  tarn_metric *g = arg;
  tarn_metric_add(g, NULL, 1);
}

static void test_collectors_run_at_render(void **state) {
  tarn_metrics *reg = new_reg();
  tarn_metric *g = tarn_metrics_gauge(reg, "scrapes", "S.", NULL);
  tarn_error err;
  char *text;
  int i;
  (void)state;
  assert_non_null(g);
  assert_int_equal(tarn_metrics_on_render(reg, bump, g, &err), 0);
  text = render_after_dropped(reg);
  assert_non_null(strstr(text, "scrapes 1\n"));
  tarn_free(text);
  text = render_after_dropped(reg);
  assert_non_null(strstr(text, "scrapes 2\n"));
  tarn_free(text);
  for (i = 1; i < 8; i++)
    assert_int_equal(tarn_metrics_on_render(reg, bump, g, &err), 0);
  assert_int_equal(tarn_metrics_on_render(reg, bump, g, &err), TARN_ETOOBIG);
  tarn_metrics_destroy(reg);
}

static void test_reregistration(void **state) {
  tarn_metrics *reg = new_reg();
  tarn_metric *c, *h;
  const double b[] = {1, 2};
  (void)state;
  c = tarn_metrics_counter(reg, "jobs_total", "Jobs.", "kind,state");
  assert_non_null(c);
  assert_ptr_equal(tarn_metrics_counter(reg, "jobs_total", "Jobs.", "kind,state"), c);
  assert_ptr_equal(tarn_metrics_counter(reg, "jobs_total", "Other help.", "kind,state"), c);
  /* Conflicts: another type, other labels, other label order, fewer labels. */
  assert_null(tarn_metrics_gauge(reg, "jobs_total", "Jobs.", "kind,state"));
  assert_null(tarn_metrics_histogram(reg, "jobs_total", "Jobs.", "kind,state", b, 2));
  assert_null(tarn_metrics_counter(reg, "jobs_total", "Jobs.", "kind"));
  assert_null(tarn_metrics_counter(reg, "jobs_total", "Jobs.", "state,kind"));
  assert_null(tarn_metrics_counter(reg, "jobs_total", "Jobs.", "kind,state,extra"));
  assert_null(tarn_metrics_counter(reg, "jobs_total", "Jobs.", NULL));
  h = tarn_metrics_histogram(reg, "h_seconds", "H.", NULL, b, 2);
  assert_non_null(h);
  assert_ptr_equal(tarn_metrics_histogram(reg, "h_seconds", "H.", NULL, b, 2), h);
  assert_null(tarn_metrics_counter(reg, "h_seconds", "H.", NULL));
  /* The built-in family is registered like any other. */
  assert_non_null(tarn_metrics_counter(reg, DROPPED, "x", "metric"));
  assert_null(tarn_metrics_gauge(reg, DROPPED, "x", "metric"));
  tarn_metrics_destroy(reg);
}

static void test_invalid_names(void **state) {
  tarn_metrics *reg = new_reg();
  const double up[] = {1, 2, 3}, flat[] = {1, 1}, down[] = {2, 1};
  const double withnan[] = {1, NAN};
  size_t i;
  static const char *const bad_names[] = {"",    "1abc",        "a-b",  "a b",
                                          "a.b", "caf\xc3\xa9", "a{b}", "a\"b"};
  static const char *const bad_labels[] = {
      "le", "1x", "a-b", "a:b", "a,,b", ",a", "a b", "a,le", "a,b,c,d,e,f,g,h,i"};
  (void)state;
  for (i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
    if (tarn_metrics_counter(reg, bad_names[i], "h", NULL) != NULL)
      fail_msg("accepted metric name \"%s\"", bad_names[i]);
  }
  assert_null(tarn_metrics_gauge(reg, NULL, "h", NULL));
  for (i = 0; i < sizeof(bad_labels) / sizeof(bad_labels[0]); i++) {
    if (tarn_metrics_counter(reg, "ok_total", "h", bad_labels[i]) != NULL)
      fail_msg("accepted labels \"%s\"", bad_labels[i]);
  }
  /* Valid corner cases. */
  assert_non_null(tarn_metrics_counter(reg, "ns:sub_total", "h", NULL)); /* colons in names */
  assert_non_null(tarn_metrics_counter(reg, "_x9", "h", "_y9"));
  assert_non_null(tarn_metrics_counter(reg, "eight_total", "h", "a,b,c,d,e,f,g,h"));
  /* An empty label list is the same as none. */
  assert_non_null(tarn_metrics_counter(reg, "empty_total", "h", ""));
  assert_ptr_equal(tarn_metrics_counter(reg, "empty_total", "h", NULL),
                   tarn_metrics_counter(reg, "empty_total", "h", ""));
  /* Histogram bounds must increase strictly. */
  assert_null(tarn_metrics_histogram(reg, "h1", "h", NULL, flat, 2));
  assert_null(tarn_metrics_histogram(reg, "h2", "h", NULL, down, 2));
  assert_null(tarn_metrics_histogram(reg, "h3", "h", NULL, withnan, 2));
  assert_non_null(tarn_metrics_histogram(reg, "h4", "h", NULL, up, 3));
  assert_null(tarn_metrics_counter(NULL, "x_total", "h", NULL));
  tarn_metrics_destroy(reg);
}

static void test_update_rules(void **state) {
  tarn_metrics *reg = new_reg();
  tarn_metric *c, *g, *h;
  const double b[] = {1};
  (void)state;
  c = tarn_metrics_counter(reg, "c_total", "C.", NULL);
  g = tarn_metrics_gauge(reg, "g", "G.", NULL);
  h = tarn_metrics_histogram(reg, "h", "H.", NULL, b, 1);
  tarn_metric_add(c, NULL, 2);
  tarn_metric_add(c, NULL, -1); /* counters never go down */
  tarn_metric_add(c, NULL, NAN);
  tarn_metric_add(c, NULL, 0);
  tarn_metric_set(c, NULL, 100); /* set is for gauges */
  tarn_metric_observe(c, NULL, 100);
  assert_true(tarn_metric_value(c, NULL) == 2);
  tarn_metric_add(g, NULL, -3);
  tarn_metric_add(g, NULL, 1);
  assert_true(tarn_metric_value(g, NULL) == -2);
  tarn_metric_set(g, NULL, 7);
  assert_true(tarn_metric_value(g, NULL) == 7);
  tarn_metric_observe(g, NULL, 1);
  assert_true(tarn_metric_value(g, NULL) == 7);
  tarn_metric_add(h, NULL, 5); /* add is not for histograms */
  tarn_metric_observe(h, NULL, NAN);
  assert_true(tarn_metric_value(h, NULL) == 0);
  tarn_metric_observe(h, NULL, 0.5);
  assert_true(tarn_metric_value(h, NULL) == 1);
  /* A NULL family is ignored everywhere. */
  tarn_metric_add(NULL, NULL, 1);
  tarn_metric_set(NULL, NULL, 1);
  tarn_metric_observe(NULL, NULL, 1);
  assert_true(tarn_metric_value(NULL, NULL) == 0);
  tarn_metrics_destroy(reg);
}

static size_t count_prefix_lines(const char *text, const char *prefix) {
  size_t n = 0, pl = strlen(prefix);
  const char *p = text;
  while (*p) {
    if (strncmp(p, prefix, pl) == 0)
      n++;
    p = strchr(p, '\n');
    if (p == NULL)
      break;
    p++;
  }
  return n;
}

static void test_series_cap(void **state) {
  tarn_metrics *reg = new_reg();
  tarn_metric *c, *dropped;
  char id[32];
  const char *v[1] = {id};
  const char *dv[1] = {"ids_total"};
  char *text;
  size_t i;
  (void)state;
  c = tarn_metrics_counter(reg, "ids_total", "Per id.", "id");
  assert_non_null(c);
  dropped = tarn_metrics_counter(reg, DROPPED, "x", "metric");
  assert_non_null(dropped);
  for (i = 0; i < TARN_METRICS_MAX_SERIES + 5; i++) {
    snprintf(id, sizeof(id), "id%zu", i);
    tarn_metric_add(c, v, 1);
  }
  /* The first MAX series exist, later ones do not. */
  snprintf(id, sizeof(id), "id%d", TARN_METRICS_MAX_SERIES - 1);
  assert_true(tarn_metric_value(c, v) == 1);
  snprintf(id, sizeof(id), "id%d", TARN_METRICS_MAX_SERIES);
  assert_true(tarn_metric_value(c, v) == 0);
  assert_true(tarn_metric_value(dropped, dv) == 5);
  /* Existing series still count; new ones still drop. */
  snprintf(id, sizeof(id), "id0");
  tarn_metric_add(c, v, 1);
  assert_true(tarn_metric_value(c, v) == 2);
  snprintf(id, sizeof(id), "another");
  tarn_metric_add(c, v, 1);
  assert_true(tarn_metric_value(dropped, dv) == 6);

  text = render_after_dropped(reg);
  assert_memory_equal(text, DROPPED "{metric=\"ids_total\"} 6\n",
                      strlen(DROPPED "{metric=\"ids_total\"} 6\n"));
  assert_int_equal(count_prefix_lines(text, "ids_total{"), TARN_METRICS_MAX_SERIES);
  assert_non_null(strstr(text, "ids_total{id=\"id0\"} 2\n"));
  assert_null(strstr(text, "id=\"another\""));
  tarn_free(text);
  tarn_metrics_destroy(reg);
}

static void test_render_cap(void **state) {
  tarn_metrics *reg = new_reg();
  tarn_buf b;
  tarn_error err;
  (void)state;
  tarn_metric_add(tarn_metrics_counter(reg, "c_total", "C.", NULL), NULL, 1);
  tarn_buf_init(&b, 16);
  assert_int_equal(tarn_metrics_render(reg, &b, &err), TARN_ETOOBIG);
  assert_int_equal(err.code, TARN_ETOOBIG);
  assert_true(b.len <= 16);
  tarn_buf_free(&b);
  tarn_metrics_destroy(reg);
}

#define NTHREADS 4
#define NITER 50000

typedef struct worker {
  tarn_metric *c, *g, *h;
  int id;
} worker;

static void *work(void *arg) {
  worker *w = arg;
  const char *mine[] = {w->id % 2 ? "odd" : "even"};
  int i;
  for (i = 0; i < NITER; i++) {
    tarn_metric_add(w->c, mine, 1);
    tarn_metric_add(w->g, NULL, 1);
    tarn_metric_add(w->g, NULL, -1);
    tarn_metric_observe(w->h, NULL, (double)(i % 4)); /* 0,1,2,3: sum exact */
  }
  return NULL;
}

static void test_concurrent_updates(void **state) {
  tarn_metrics *reg = new_reg();
  pthread_t th[NTHREADS];
  worker w[NTHREADS];
  const double b[] = {0.5, 1.5};
  const char *even[] = {"even"}, *odd[] = {"odd"};
  tarn_metric *c, *g, *h;
  char *text, want[256];
  int i;
  (void)state;
  c = tarn_metrics_counter(reg, "work_total", "W.", "parity");
  g = tarn_metrics_gauge(reg, "inflight", "I.", NULL);
  h = tarn_metrics_histogram(reg, "vals", "V.", NULL, b, 2);
  for (i = 0; i < NTHREADS; i++) {
    w[i].c = c;
    w[i].g = g;
    w[i].h = h;
    w[i].id = i;
    assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
  }
  for (i = 0; i < NTHREADS; i++)
    assert_int_equal(pthread_join(th[i], NULL), 0);
  assert_true(tarn_metric_value(c, even) == (double)NITER * NTHREADS / 2);
  assert_true(tarn_metric_value(c, odd) == (double)NITER * NTHREADS / 2);
  assert_true(tarn_metric_value(g, NULL) == 0);
  assert_true(tarn_metric_value(h, NULL) == (double)NITER * NTHREADS);
  text = render_after_dropped(reg);
  snprintf(want, sizeof(want),
           "vals_bucket{le=\"0.5\"} %d\nvals_bucket{le=\"1.5\"} %d\n"
           "vals_bucket{le=\"+Inf\"} %d\nvals_sum %d\nvals_count %d\n",
           NITER * NTHREADS / 4, NITER * NTHREADS / 2, NITER * NTHREADS,
           (0 + 1 + 2 + 3) * NITER * NTHREADS / 4, NITER * NTHREADS);
  assert_non_null(strstr(text, want));
  tarn_free(text);
  tarn_metrics_destroy(reg);
}

/* Fail each allocation of a create/register/update/render scenario in turn. After each
 * failure: no crash or leak (ASan); a failed create hands out no registry; otherwise the
 * registry is usable: registering again gives both families, the counter holds 0 or 1
 * (an update is applied whole or not at all), and once the lost updates are made again
 * the rendered text is exactly that of a run without faults. */
static void test_allocation_failures(void **state) {
  long total = 0, i;
  const double b[] = {1};
  const char *v[] = {"x"};
  char *want = NULL;
  int failed = 0;
  (void)state;
  for (i = -1; i < 0 || i < total; i++) {
    tarn_metrics *reg = NULL;
    tarn_metric *c = NULL, *h = NULL;
    tarn_buf out;
    double cv;
    int rc;
    tarn_alloc_fail_reset();
    if (i >= 0)
      tarn_alloc_fail_after(i);
    tarn_buf_init(&out, TARN_BUF_UNLIMITED);
    rc = tarn_metrics_create(&reg, NULL);
    if (rc == 0) {
      c = tarn_metrics_counter(reg, "c_total", "C.", "k");
      h = tarn_metrics_histogram(reg, "h", "H.", "k", b, 1);
      tarn_metric_add(c, v, 1);
      tarn_metric_observe(h, v, 1);
      rc = tarn_metrics_render(reg, &out, NULL);
    }
    if (i < 0)
      total = tarn_alloc_count();
    tarn_alloc_fail_reset();
    if (i < 0) {
      assert_int_equal(rc, 0);
      assert_non_null(c);
      assert_non_null(h);
      assert_true(tarn_metric_value(c, v) == 1);
      want = strndup(out.data, out.len);
      assert_non_null(want);
    } else {
      if (rc != 0 || c == NULL || h == NULL || tarn_metric_value(c, v) == 0 ||
          strstr(out.data ? out.data : "", "h_count{k=\"x\"} 1") == NULL)
        failed++;
      if (reg == NULL) {
        assert_int_equal(rc, TARN_ENOMEM);
      } else {
        /* registering again finds (or now creates) the families */
        c = tarn_metrics_counter(reg, "c_total", "C.", "k");
        h = tarn_metrics_histogram(reg, "h", "H.", "k", b, 1);
        assert_non_null(c);
        assert_non_null(h);
        cv = tarn_metric_value(c, v);
        assert_true(cv == 0 || cv == 1);
        if (cv == 0)
          tarn_metric_add(c, v, 1);
        tarn_buf_reset(&out);
        assert_int_equal(tarn_metrics_render(reg, &out, NULL), 0);
        if (strstr(out.data, "h_count{k=\"x\"} 1") == NULL) {
          tarn_metric_observe(h, v, 1);
          tarn_buf_reset(&out);
          assert_int_equal(tarn_metrics_render(reg, &out, NULL), 0);
        }
        assert_string_equal(out.data, want);
      }
    }
    tarn_buf_free(&out);
    tarn_metrics_destroy(reg);
  }
  assert_true(failed > 0);
  free(want);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_render_exact),        cmocka_unit_test(test_render_numbers),
      cmocka_unit_test(test_reregistration),      cmocka_unit_test(test_invalid_names),
      cmocka_unit_test(test_update_rules),        cmocka_unit_test(test_series_cap),
      cmocka_unit_test(test_render_cap),          cmocka_unit_test(test_concurrent_updates),
      cmocka_unit_test(test_allocation_failures), cmocka_unit_test(test_collectors_run_at_render),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
