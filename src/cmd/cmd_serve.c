/* cmd_serve.c - `tarn serve`: the HTTP daemon, with graceful shutdown on SIGTERM/SIGINT. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/metrics.h"
#include "base/settings.h"
#include "base/version.h"
#include "cli.h"
#include "cmds.h"
#include "http/http.h"
#include "store/store.h"

static const cli_opt serve_opts[] = {
    {"print-config", 0, NULL, "print the effective configuration (secrets redacted) and exit"},
    {NULL, 0, NULL, NULL},
};

static void print_serve_help(const cli *c) {
  printf("Usage: tarn serve [options]\n\n"
         "Runs the tarn HTTP daemon on the lake. Endpoints:\n"
         "  GET /healthz   liveness: {\"status\":\"ok\",\"service\":\"tarn\",...}\n"
         "  GET /metrics   Prometheus text format\n"
         "Errors are JSON: {\"error\":{\"code\":...,\"message\":...}}.\n"
         "SIGTERM or SIGINT stops accepting connections, lets in-flight requests finish\n"
         "(up to [server] shutdown_timeout) and exits 0.\n");
  cli_print_options(c, serve_opts, stdout);
  printf("\nOther settings ([server] section or environment): max_connections "
         "(TARN_MAX_CONNECTIONS),\nidle_timeout, shutdown_timeout (TARN_SHUTDOWN_TIMEOUT). "
         "See --print-config.\n");
}

int cmd_serve(const tarn_command *self, int argc, char **argv) {
  cli c;
  tarn_error err;
  tarn_metrics *metrics = NULL;
  tarn_http_server *srv = NULL;
  tarn_store *lake = NULL;
  tarn_http_options hopts;
  sigset_t sigs;
  int sig = 0, rc;
  unsigned left;
  tarn_error_clear(&err);
  rc = cli_parse(&c, self->name, argc, argv, serve_opts, tarn_cmd_tables);
  if (rc != TARN_EXIT_OK)
    goto out;
  if (c.help) {
    print_serve_help(&c);
    goto out;
  }
  if (c.nargs > 0) {
    cli_error(self->name, "unexpected argument \"%s\"", c.args[0]);
    rc = TARN_EXIT_USAGE;
    goto out;
  }
  if (c.opt_values[0] != NULL) { /* --print-config */
    tarn_config_print(c.cfg, stdout);
    goto out;
  }
  tarn_settings_apply_log(c.cfg);
  rc = TARN_EXIT_FAIL;

  /* Signals are blocked before any thread starts, so every thread inherits the mask
   * and only sigwait below sees SIGTERM/SIGINT. */
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);
  signal(SIGPIPE, SIG_IGN);

  if (tarn_store_local_open(tarn_config_str(c.cfg, "lake", "path"), &lake, &err) != 0) {
    cli_error(self->name, "lake %s: %s", tarn_config_str(c.cfg, "lake", "path"),
              tarn_error_message(&err));
    goto out;
  }
  /* Writers that died (kill -9, power loss) leave at most temp files; an hour is far
   * longer than any live write, so older ones are garbage. */
  {
    size_t swept = 0;
    if (tarn_store_local_sweep(lake, 3600 * 1000, &swept, &err) != 0)
      tarn_log_warn("lake sweep failed", "error=%s", tarn_error_message(&err));
    else if (swept > 0)
      tarn_log_info("lake sweep removed stale temp files", "count=%zu", swept);
  }
  if (tarn_metrics_create(&metrics, &err) != 0)
    goto fail;
  tarn_http_options_from_config(&hopts, c.cfg);
  hopts.metrics = metrics;
  if (tarn_http_server_create(&srv, &hopts, &err) != 0 ||
      tarn_http_add_ops_routes(srv, TARN_VERSION, &err) != 0 ||
      tarn_http_server_start(srv, &err) != 0)
    goto fail;
  tarn_log_info("tarn serve started", "version=%s lake=%s addr=%s pid=%ld", TARN_VERSION,
                tarn_config_str(c.cfg, "lake", "path"), tarn_http_server_address(srv),
                (long)getpid());
  if (sigwait(&sigs, &sig) != 0)
    sig = SIGTERM;
  tarn_log_info("shutting down", "signal=%s inflight=%u timeout_ms=%lld",
                sig == SIGINT ? "SIGINT" : "SIGTERM", tarn_http_server_inflight(srv),
                (long long)tarn_config_int(c.cfg, "server", "shutdown_timeout"));
  left = tarn_http_server_stop(srv, (uint64_t)tarn_config_int(c.cfg, "server", "shutdown_timeout"));
  tarn_log_info("tarn serve stopped", "abandoned_requests=%u", left);
  rc = TARN_EXIT_OK;
  goto out;
fail:
  cli_error(self->name, "%s", tarn_error_message(&err));
  tarn_log_error("tarn serve failed", "error=%s detail=%s", tarn_err_name(err.code),
                 tarn_error_message(&err));
out:
  tarn_http_server_destroy(srv);
  tarn_metrics_destroy(metrics);
  tarn_store_destroy(lake);
  cli_free(&c);
  return rc;
}
