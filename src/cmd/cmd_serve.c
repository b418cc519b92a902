/* cmd_serve.c - `tarn serve`: the HTTP daemon, with graceful shutdown on SIGTERM/SIGINT. */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/metrics.h"
#include "base/settings.h"
#include "base/version.h"
#include "catalog/catalog.h"
#include "cli.h"
#include "cmds.h"
#include "table/lake.h"
#include "http/http.h"
#include "journal/journal.h"
#include "journal_open.h"
#include "sink/action_log.h"
#include "store/buckets.h"
#include "store/store.h"

extern char **environ;

static const cli_opt serve_opts[] = {
    {"print-config", 0, NULL, "print the effective configuration (secrets redacted) and exit"},
    {NULL, 0, NULL, NULL},
};

static void print_serve_help(const cli *c) {
  printf("Usage: tarn serve [options]\n\n"
         "Runs the tarn HTTP daemon on the lake. Endpoints:\n"
         "  GET /healthz   liveness: {\"status\":\"ok\",\"service\":\"tarn\",...}\n"
         "  GET /metrics   Prometheus text format\n"
         "  GET /storage/buckets[?probe=true]           buckets, roles, reachability\n"
         "  PUT|GET|HEAD|DELETE /storage/buckets/B/objects/KEY   objects (streamed)\n"
         "  GET /storage/buckets/B/objects?prefix=P     listing\n"
         "  GET /storage/errors?bucket=&since=&limit=   the storage error journal\n"
         "  GET /storage/bucket-health?minutes=N        is anything broken?\n"
         "  POST /storage/errors/flush, POST /storage/errors/compact\n"
         "  POST /ingest?name=N[&mode=append][&delimiter=C]   a CSV (multipart field \"file\"\n"
         "                 or a text/csv body, streamed) into the Iceberg table datasets.N\n"
         "  GET /catalog/datasets, GET /catalog/datasets/N    the dataset catalog\n"
         "  POST /catalog/datasets/N/resync, POST /catalog/resync-missing\n"
         "  GET /action-log/events?tenant=&object_id=&actor_sub=&since=&until=&limit=&cursor=\n"
         "                 the action-audit log ([action_log] table, default.action_log),\n"
         "                 newest first, one row per event_id; since (inclusive) and until\n"
         "                 (exclusive) are RFC 3339 times or epoch milliseconds; limit 1-1000\n"
         "                 (default 100); pass next_cursor as cursor for the next page\n"
         "  POST /journal/events   mutation events (one JSON object, or NDJSON): 200 with\n"
         "                 their ids once their WAL records are fsynced; a client event_id\n"
         "                 makes the append idempotent (the same id again: the first answer)\n"
         "  GET /journal/history/ENTITY_ID?entity_type=&since=&until=&limit= (the id may hold /)\n"
         "                 the entity's events in time order (since inclusive, until\n"
         "                 exclusive: RFC 3339 or microseconds; limit 1-10000, default 1000)\n"
         "  GET /journal/recent?limit=N, GET /journal/stats, POST /journal/flush (to the\n"
         "                 Iceberg table system.journal; also automatic, see [journal])\n"
         "  POST /journal/compact   merge system.journal's small data files now (also\n"
         "                 automatic: [journal] compact_every, compact_min_files)\n"
         "Errors are JSON: {\"error\":{\"code\":...,\"message\":...}}.\n"
         "SIGTERM or SIGINT stops accepting connections, lets in-flight requests finish\n"
         "(up to [server] shutdown_timeout) and exits 0.\n\n"
         "Buckets are [bucket.NAME] sections of the config file (backend, role, path or\n"
         "endpoint/region/bucket/prefix/addressing); with none, the lake directory is the\n"
         "primary bucket \"lake\". S3 credentials come from the secrets file (--secrets,\n"
         "mode 0600) or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.\n");
  cli_print_options(c, serve_opts, stdout);
  printf("\nOther settings ([server] section or environment): max_connections "
         "(TARN_MAX_CONNECTIONS),\nidle_timeout, shutdown_timeout (TARN_SHUTDOWN_TIMEOUT); "
         "[storage] probe_interval\n(TARN_PROBE_INTERVAL), max_object_size "
         "(TARN_MAX_OBJECT_SIZE), journal_flush_records,\njournal_flush_age; [catalog] "
         "type, uri, postgres, name, busy_timeout; [action_log] table (TARN_ACTION_LOG_TABLE);\n"
         "[journal] wal_dir (TARN_JOURNAL_WAL_DIR, default LAKE/journal/wal), flush_events,\n"
         "flush_bytes, flush_age, idempotency_window, max_memory, max_request_events,\n"
         "max_request_bytes, compact_every, compact_min_files, compact_max_memory.\n"
         "See --print-config.\n");
}

/* The secrets file's sections: bucket credentials and API tokens. */
static const tarn_cfg_def *const secret_tables[] = {tarn_store_bucket_secrets,
                                                    tarn_http_token_secrets, NULL};

/* For --print-config: where each s3 bucket's credentials come from and which tokens
 * exist, never their values. */
static void print_credentials(const tarn_config *cfg, const tarn_secrets *sec) {
  const char *section;
  size_t i;
  for (i = 0; sec != NULL &&
              (section = tarn_config_instance(tarn_secrets_config(sec), "token.*", i)) != NULL;
       i++)
    printf("; [%s] API token: scope %s, sha256 = <redacted> (secrets file %s)\n", section,
           tarn_config_str(tarn_secrets_config(sec), section, "scope"), tarn_secrets_path(sec));
  if (i == 0)
    printf("; no [token.NAME] in a secrets file: no authentication, so tarn serve listens on "
           "loopback only\n");
  if (tarn_config_instance(cfg, "bucket.*", 0) == NULL) {
    printf("\n; no [bucket.NAME] sections: the lake directory is the primary bucket \"lake\"\n");
    return;
  }
  for (i = 0; (section = tarn_config_instance(cfg, "bucket.*", i)) != NULL; i++) {
    const char *name = section + strlen("bucket.");
    if (strcmp(tarn_config_str(cfg, section, "backend"), "s3") != 0)
      continue;
    if (tarn_bucket_secrets_has(sec, name))
      printf("; [%s] credentials: secrets file %s (access_key_id = <redacted>, "
             "secret_access_key = <redacted>)\n",
             section, tarn_secrets_path(sec));
    else if (getenv("AWS_ACCESS_KEY_ID") != NULL)
      printf("; [%s] credentials: environment (AWS_ACCESS_KEY_ID = <redacted>, "
             "AWS_SECRET_ACCESS_KEY = <redacted>)\n",
             section);
    else
      printf("; [%s] credentials: none found (tarn serve would refuse to start)\n", section);
  }
}

/*
 * The lake's own files are not objects: whichever local bucket holds them (by default the
 * lake directory is the primary bucket), the catalog, the tables, the spool, the journals,
 * and the files that configure tarn cannot be written or deleted through the object API.
 */
static int protect_lake(const cli *c, tarn_buckets *bs, tarn_error *err) {
  static const char *const own[] = {".spool", "_errors", "warehouse", "journal"};
  const char *lake = tarn_config_str(c->cfg, "lake", "path");
  const char *type = tarn_config_str(c->cfg, "catalog", "type");
  const char *uri = tarn_config_str(c->cfg, "catalog", "uri");
  const char *files[] = {tarn_config_str(c->cfg, "lake", "secrets"), c->config_path,
                         tarn_config_str(c->cfg, "server", "tls_cert"),
                         tarn_config_str(c->cfg, "server", "tls_key"),
                         tarn_config_str(c->cfg, "journal", "wal_dir")};
  char path[PATH_MAX + 32];
  size_t i;
  int rc = 0;
  for (i = 0; rc == 0 && i < sizeof(own) / sizeof(own[0]); i++) {
    snprintf(path, sizeof(path), "%s/%s", lake, own[i]);
    rc = tarn_buckets_protect_path(bs, path, 0, err);
  }
  if (rc == 0 && (type == NULL || strcmp(type, "postgres") != 0)) {
    /* the SQLite file and its -wal, -shm and -journal companions */
    if (uri != NULL && uri[0] != '\0')
      snprintf(path, sizeof(path), "%s", uri);
    else
      snprintf(path, sizeof(path), "%s/catalog.db", lake);
    rc = tarn_buckets_protect_path(bs, path, 1, err);
  }
  for (i = 0; rc == 0 && i < sizeof(files) / sizeof(files[0]); i++)
    if (files[i] != NULL && files[i][0] != '\0')
      rc = tarn_buckets_protect_path(bs, files[i], 0, err);
  return rc;
}

/* Error bodies name lake keys, never where the lake or a bucket lives on disk. */
static int hide_paths(const cli *c, tarn_http_server *srv, tarn_buckets *bs, tarn_error *err) {
  char root[PATH_MAX], label[TARN_BUCKET_NAME_MAX + 32];
  size_t i;
  int rc = tarn_http_server_hide_path(srv, tarn_config_str(c->cfg, "lake", "path"), "<lake>", err);
  for (i = 0; rc == 0 && i < tarn_buckets_count(bs) && i < 6; i++) {
    tarn_bucket *b = tarn_buckets_at(bs, i);
    if (tarn_store_local_root(tarn_bucket_raw_store(b), root, sizeof(root)) != 0)
      continue;
    snprintf(label, sizeof(label), "<bucket %s>", tarn_bucket_name(b));
    rc = tarn_http_server_hide_path(srv, root, label, err);
  }
  return rc;
}

/* The ingest routes open one catalog handle per request, from the [catalog] settings. */
static int open_catalog(void *arg, tarn_catalog **out, tarn_error *err) {
  const tarn_config *cfg = arg;
  return tarn_catalog_open_from_config(cfg, tarn_config_str(cfg, "lake", "path"), out, err);
}

/* Writers that died (kill -9, power loss) leave at most temp files; an hour is far longer
 * than any live write, so older ones are garbage. Failures are logged, not fatal. */
static void sweep_temp_files(tarn_buckets *bs, tarn_store *lake) {
  tarn_error err;
  size_t i;
  for (i = 0; i <= tarn_buckets_count(bs); i++) {
    tarn_bucket *b = i < tarn_buckets_count(bs) ? tarn_buckets_at(bs, i) : NULL;
    tarn_store *st = b ? tarn_bucket_raw_store(b) : lake;
    const char *name = b ? tarn_bucket_name(b) : "(lake)";
    size_t swept = 0;
    if (b != NULL && strcmp(tarn_bucket_backend(b), "local") != 0)
      continue;
    if (tarn_store_local_sweep(st, 3600 * 1000, &swept, &err) != 0)
      tarn_log_warn("sweep of stale temp files failed", "bucket=%s error=%s", name,
                    tarn_error_message(&err));
    else if (swept > 0)
      tarn_log_info("sweep removed stale temp files", "bucket=%s count=%zu", name, swept);
  }
}

/* The ingest routes' options from [ingest]; TARN_EXIT_USAGE (printed) when they cannot
 * work together. */
static int ingest_options(const cli *c, const char *cmd, tarn_store *lake, const char *root_uri,
                          const char *spool, tarn_http_ingest_options *iopts) {
  memset(iopts, 0, sizeof(*iopts));
  iopts->store = lake; /* datasets live in the lake directory, as `tarn ingest` puts them */
  iopts->root_uri = root_uri;
  iopts->spool_dir = spool;
  iopts->max_upload = (uint64_t)tarn_config_int(c->cfg, "ingest", "max_upload");
  iopts->threads = (int)tarn_config_int(c->cfg, "ingest", "threads");
  iopts->memory_budget = (uint64_t)tarn_config_int(c->cfg, "ingest", "memory_budget");
  iopts->max_memory = (uint64_t)tarn_config_int(c->cfg, "ingest", "max_memory");
  iopts->queue_timeout_ms = (uint64_t)tarn_config_int(c->cfg, "ingest", "queue_timeout");
  iopts->db_hosts = tarn_config_str(c->cfg, "ingest", "db_hosts");
  if (iopts->max_memory > 0 && iopts->max_memory < iopts->memory_budget) {
    cli_error(cmd,
              "[ingest] max_memory (%lld MiB) is below memory_budget (%lld MiB): no "
              "ingest could run",
              (long long)(iopts->max_memory >> 20), (long long)(iopts->memory_budget >> 20));
    return TARN_EXIT_USAGE;
  }
  iopts->open_catalog = open_catalog;
  iopts->open_catalog_arg = c->cfg;
  return TARN_EXIT_OK;
}

/* The action-log route's options; TARN_EXIT_USAGE (printed) for a table setting that is
 * not NAMESPACE.NAME. */
static int action_log_options(const cli *c, const char *cmd, tarn_store *lake, const char *root_uri,
                              tarn_http_action_log_options *aopts) {
  const char *table = tarn_config_str(c->cfg, "action_log", "table");
  char ns[256], name[256];
  tarn_error err;
  if (tarn_action_log_ident(table, ns, sizeof(ns), name, sizeof(name), &err) != 0) {
    cli_error(cmd, "[action_log] table (%s): %s", tarn_config_source(c->cfg, "action_log", "table"),
              tarn_error_message(&err));
    return TARN_EXIT_USAGE;
  }
  memset(aopts, 0, sizeof(*aopts));
  aopts->store = lake;
  aopts->root_uri = root_uri;
  aopts->table = table;
  aopts->open_catalog = open_catalog;
  aopts->open_catalog_arg = c->cfg;
  return TARN_EXIT_OK;
}

/* /healthz: unhealthy once the journal's WAL has failed (a restart reopens it). */
static int journal_health(void *arg, char *why, size_t n) {
  return tarn_journal_health(arg, why, n);
}

/* A catalog misconfiguration stops start-up (TARN_EXIT_USAGE, printed); an unreachable
 * catalog only the catalog routes, which answer 502 until it is back. */
static int check_catalog(const cli *c, const char *cmd) {
  tarn_catalog *cat = NULL;
  tarn_error err;
  int rc = TARN_EXIT_OK;
  if (open_catalog(c->cfg, &cat, &err) != 0) {
    if (err.code == TARN_ECONFIG) {
      cli_error(cmd, "%s", tarn_error_message(&err));
      rc = TARN_EXIT_USAGE;
    } else {
      tarn_log_warn("catalog unavailable at start-up; ingest, /catalog/ and /action-log/ "
                    "routes answer 502 until it is back",
                    "error=%s", tarn_error_message(&err));
    }
  }
  tarn_catalog_destroy(cat);
  return rc;
}

int cmd_serve(const tarn_command *self, int argc, char **argv) {
  cli c;
  tarn_error err;
  tarn_metrics *metrics = NULL;
  tarn_http_server *srv = NULL;
  tarn_store *lake = NULL;
  tarn_secrets *sec = NULL;
  tarn_buckets *bs = NULL;
  tarn_errjournal *ej = NULL;
  tarn_errjournal_options jo;
  tarn_http_options hopts;
  tarn_http_ingest_options iopts;
  tarn_http_action_log_options aopts;
  journal_handle cj;
  tarn_journal *journal = NULL;
  char root_uri[PATH_MAX + 16], spool[PATH_MAX + 16];
  const char *secrets;
  sigset_t sigs;
  int sig = 0, rc;
  int64_t probe_ms;
  unsigned left;
  tarn_error_clear(&err);
  memset(&cj, 0, sizeof(cj));
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
  /* The secrets file is checked before anything else: a readable one stops start-up. */
  secrets = tarn_config_str(c.cfg, "lake", "secrets");
  if (secrets != NULL && secrets[0] != '\0' &&
      tarn_secrets_load(secrets, secret_tables, &sec, &err) != 0) {
    cli_error(self->name, "%s", tarn_error_message(&err));
    rc = TARN_EXIT_USAGE;
    goto out;
  }
  if (c.opt_values[0] != NULL) { /* --print-config */
    tarn_config_print(c.cfg, stdout);
    print_credentials(c.cfg, sec);
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
  if (tarn_metrics_create(&metrics, &err) != 0)
    goto fail;
  if (tarn_buckets_from_config(c.cfg, sec, environ, metrics, &bs, &err) != 0) {
    cli_error(self->name, "%s", tarn_error_message(&err));
    rc = err.code == TARN_ECONFIG ? TARN_EXIT_USAGE : TARN_EXIT_FAIL;
    goto out;
  }
  if (protect_lake(&c, bs, &err) != 0)
    goto fail;
  sweep_temp_files(bs, lake);
  /* The journal lives in the lake directory, apart from the buckets it reports on, so
   * a failing bucket cannot take its own error reports down with it. */
  memset(&jo, 0, sizeof(jo));
  jo.flush_records = (size_t)tarn_config_int(c.cfg, "storage", "journal_flush_records");
  jo.flush_age_ms = tarn_config_int(c.cfg, "storage", "journal_flush_age");
  jo.background = 1;
  if (tarn_errjournal_open(lake, &jo, &ej, &err) != 0)
    goto fail;
  tarn_buckets_set_journal(bs, ej);

  if (tarn_lake_paths(tarn_config_str(c.cfg, "lake", "path"), root_uri, sizeof(root_uri), spool,
                      sizeof(spool), &err) != 0)
    goto fail;
  if (ingest_options(&c, self->name, lake, root_uri, spool, &iopts) != TARN_EXIT_OK ||
      action_log_options(&c, self->name, lake, root_uri, &aopts) != TARN_EXIT_OK ||
      check_catalog(&c, self->name) != TARN_EXIT_OK) {
    rc = TARN_EXIT_USAGE;
    goto out;
  }

  if ((rc = cmd_journal_open(&c, self->name, 0, &cj)) != TARN_EXIT_OK)
    goto out;
  journal = cj.j;
  rc = TARN_EXIT_FAIL;
  iopts.journal = journal; /* every committed ingest becomes an `ingest` event */

  tarn_http_options_from_config(&hopts, c.cfg);
  hopts.metrics = metrics;
  hopts.secrets = sec;
  rc = tarn_http_server_create(&srv, &hopts, &err);
  tarn_secrets_destroy(sec); /* the stores and the server hold their own copies */
  sec = NULL;
  if (rc != 0) {
    cli_error(self->name, "%s", tarn_error_message(&err));
    rc = err.code == TARN_ECONFIG ? TARN_EXIT_USAGE : TARN_EXIT_FAIL;
    goto out;
  }
  rc = TARN_EXIT_FAIL;
  if (hide_paths(&c, srv, bs, &err) != 0 ||
      tarn_http_add_ops_routes_health(srv, TARN_VERSION, journal_health, journal, &err) != 0 ||
      tarn_http_add_storage_routes(
          srv, bs, ej, (uint64_t)tarn_config_int(c.cfg, "storage", "max_object_size"), &err) != 0 ||
      tarn_http_add_ingest_routes(srv, &iopts, &err) != 0 ||
      tarn_http_add_action_log_routes(srv, &aopts, &err) != 0 ||
      tarn_http_add_journal_routes(
          srv, journal, (size_t)tarn_config_int(c.cfg, "journal", "max_request_events"),
          (size_t)tarn_config_int(c.cfg, "journal", "max_request_bytes"), metrics, &err) != 0)
    goto fail;
  if (tarn_http_server_start(srv, &err) != 0) {
    cli_error(self->name, "%s", tarn_error_message(&err));
    rc = err.code == TARN_ECONFIG ? TARN_EXIT_USAGE : TARN_EXIT_FAIL;
    goto out;
  }
  probe_ms = tarn_config_int(c.cfg, "storage", "probe_interval");
  if (probe_ms > 0 && tarn_buckets_prober_start(bs, probe_ms, &err) != 0)
    goto fail;
  tarn_log_info("tarn serve started", "version=%s lake=%s addr=%s pid=%ld buckets=%zu primary=%s",
                TARN_VERSION, tarn_config_str(c.cfg, "lake", "path"), tarn_http_server_address(srv),
                (long)getpid(), tarn_buckets_count(bs), tarn_bucket_name(tarn_buckets_primary(bs)));
  if (sigwait(&sigs, &sig) != 0)
    sig = SIGTERM;
  tarn_log_info("shutting down", "signal=%s inflight=%u timeout_ms=%lld",
                sig == SIGINT ? "SIGINT" : "SIGTERM", tarn_http_server_inflight(srv),
                (long long)tarn_config_int(c.cfg, "server", "shutdown_timeout"));
  left = tarn_http_server_stop(srv, (uint64_t)tarn_config_int(c.cfg, "server", "shutdown_timeout"));
  tarn_buckets_prober_stop(bs);
  rc = TARN_EXIT_OK;
  if (tarn_errjournal_close(ej, &err) != 0)
    rc = TARN_EXIT_FAIL; /* logged with the number of events lost */
  ej = NULL;
  tarn_log_info("tarn serve stopped", "abandoned_requests=%u", left);
  goto out;
fail:
  cli_error(self->name, "%s", tarn_error_message(&err));
  tarn_log_error("tarn serve failed", "error=%s detail=%s", tarn_err_name(err.code),
                 tarn_error_message(&err));
out:
  tarn_http_server_destroy(srv);
  cmd_journal_close(&cj);   /* after the server: no request uses it any more */
  tarn_buckets_destroy(bs); /* stops the prober; before the journal it writes to */
  tarn_errjournal_close(ej, NULL);
  tarn_secrets_destroy(sec);
  tarn_metrics_destroy(metrics);
  tarn_store_destroy(lake);
  cli_free(&c);
  return rc;
}
