/* ops.c - operational routes: GET /healthz and GET /metrics. */
#include "http_int.h"

#include "base/alloc.h"
#include "base/clock.h"

typedef struct ops_ctx {
  tarn_http_server *srv;
  char *version;
  tarn_metrics *metrics;
  int64_t start_us;
  tarn_metric *m_uptime;
  tarn_http_health_fn health;
  void *health_arg;
} ops_ctx;

static void ops_free(void *p) {
  ops_ctx *ops = p;
  tarn_free(ops->version);
  tarn_free(ops);
}

static int on_healthz(const tarn_http_request *req, tarn_http_response *resp, void *ud) {
  ops_ctx *ops = ud;
  char ts[TARN_TIME_ISO_MAX], why[512] = "";
  int64_t now = tarn_clock_wall_us();
  int healthy = ops->health == NULL || ops->health(ops->health_arg, why, sizeof(why));
  json_t *j;
  tarn_time_iso8601(now, 3, ts, sizeof(ts));
  j = json_pack("{s:s,s:s,s:s,s:s,s:f}", "status", healthy ? "ok" : "unhealthy", "service", "tarn",
                "version", ops->version, "timestamp", ts, "uptime_seconds",
                (double)(now - ops->start_us) / 1e6);
  if (j != NULL && !healthy)
    json_object_set_new(j, "reason", json_string(why));
  if (j != NULL && tarn_http_server_insecure(ops->srv))
    json_object_set_new(j, "warnings",
                        json_pack("[s]", "listening beyond loopback without authentication "
                                         "(--insecure): add tokens to the secrets file"));
  return tarn_http_reply_json(resp, healthy ? 200 : 503, j);
}

static int on_metrics(const tarn_http_request *req, tarn_http_response *resp, void *ud) {
  ops_ctx *ops = ud;
  tarn_error err;
  if (ops->metrics == NULL)
    return tarn_http_reply_error(resp, 404, "not_found", "metrics are disabled");
  tarn_metric_set(ops->m_uptime, NULL, (double)(tarn_clock_wall_us() - ops->start_us) / 1e6);
  tarn_buf_reset(&resp->body);
  if (tarn_metrics_render(ops->metrics, &resp->body, &err) != 0)
    return tarn_http_reply_error(resp, 500, tarn_err_name(err.code), "%s",
                                 tarn_error_message(&err));
  resp->status = 200;
  resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
  return 0;
}

int tarn_http_add_ops_routes(tarn_http_server *srv, const char *version, tarn_error *err) {
  return tarn_http_add_ops_routes_health(srv, version, NULL, NULL, err);
}

int tarn_http_add_ops_routes_health(tarn_http_server *srv, const char *version,
                                    tarn_http_health_fn health_fn, void *arg, tarn_error *err) {
  tarn_http_route health = {"GET",
                            "/healthz",
                            on_healthz,
                            NULL,
                            0,
                            1,
                            srv->opts.public_healthz ? TARN_HTTP_SCOPE_PUBLIC
                                                     : TARN_HTTP_SCOPE_READ,
                            NULL};
  tarn_http_route metrics = {"GET",
                             "/metrics",
                             on_metrics,
                             NULL,
                             0,
                             1,
                             srv->opts.public_metrics ? TARN_HTTP_SCOPE_PUBLIC
                                                      : TARN_HTTP_SCOPE_READ,
                             NULL};
  ops_ctx *ops;
  tarn_metric *start;
  int rc;
  ops = tarn_calloc(1, sizeof(*ops));
  if (ops == NULL || (ops->version = tarn_strdup(version)) == NULL) {
    tarn_free(ops);
    return tarn_error_set(err, TARN_ENOMEM, "out of memory registering ops routes");
  }
  rc = tarn__http_server_own(srv, ops, ops_free, err);
  if (rc != 0) {
    ops_free(ops);
    return rc;
  }
  ops->metrics = srv->opts.metrics;
  ops->srv = srv;
  ops->start_us = tarn_clock_wall_us();
  ops->health = health_fn;
  ops->health_arg = arg;
  if (ops->metrics != NULL) {
    tarn_metric *info = tarn_metrics_gauge(ops->metrics, "tarn_build_info",
                                           "Always 1; the labels carry the version.", "version");
    start = tarn_metrics_gauge(ops->metrics, "process_start_time_seconds",
                               "Start time of the process since the Unix epoch, in seconds.", NULL);
    ops->m_uptime = tarn_metrics_gauge(ops->metrics, "tarn_uptime_seconds",
                                       "Seconds since the server started.", NULL);
    if (info == NULL || start == NULL || ops->m_uptime == NULL)
      return tarn_error_set(err, TARN_ENOMEM, "cannot register process metrics");
    tarn_metric_set(info, (const char *[]){version}, 1);
    tarn_metric_set(start, NULL, (double)ops->start_us / 1e6);
  }
  health.ud = ops;
  metrics.ud = ops;
  rc = tarn_http_server_route(srv, &health, err);
  if (rc == 0)
    rc = tarn_http_server_route(srv, &metrics, err);
  return rc;
}
