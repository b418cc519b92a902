/* cmd_sink.c - `tarn sink`: the Kafka → Iceberg action-log sink, with /healthz and
 * /metrics, and a graceful stop on SIGTERM within [sink] shutdown_grace. */
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/metrics.h"
#include "base/secrets.h"
#include "base/settings.h"
#include "base/version.h"
#include "cli.h"
#include "cmds.h"
#include "http/http.h"
#include "sink/sink.h"
#include "table/lake.h"

#define MAX_KAFKA_PROPS 64
/* Where the sink listens when [server] listen is left at tarn serve's default, so both
 * daemons run side by side on one host without a config file. */
#define SINK_DEFAULT_LISTEN "127.0.0.1:8081"

static const cli_opt sink_opts[] = {
    {"kafka", 1, "KEY=VALUE",
     "a librdkafka property (repeatable; over the [kafka] section), e.g. "
     "--kafka security.protocol=SASL_SSL"},
    {"print-config", 0, NULL, "print the effective configuration (secrets redacted) and exit"},
    {NULL, 0, NULL, NULL},
};

static void print_help(const cli *c) {
  printf("Usage: tarn sink [--brokers HOST:PORT,...] [--topic T] [--group G] [--table NS.NAME]\n"
         "                 [--jsonl PATH] [--listen HOST:PORT] [--kafka KEY=VALUE ...]\n\n"
         "Consumes action-audit events (JSON) from Kafka and appends them to the Iceberg table\n"
         "default.action_log, exactly once: every table commit records the next offset of each\n"
         "partition in its snapshot summary, and the sink resumes from there after any crash.\n"
         "Records that are not valid events go to default.action_log_dlq with the reason;\n"
         "they never stall a partition. Several sinks in one consumer group share the\n"
         "partitions (use a PostgreSQL catalog when they run on several hosts).\n\n"
         "A batch commits at batch_max_records, batch_max_bytes or batch_max_age, whichever\n"
         "comes first. GET /healthz answers 200 while the consumer has its assignment and no\n"
         "record has waited longer than health_max_wait; GET /metrics has the\n"
         "action_log_sink_* series. SIGTERM or SIGINT: stop fetching, commit what is held,\n"
         "commit Kafka offsets, exit 0 (within shutdown_grace; after it, or on a second\n"
         "signal, exit 1: what was not committed stays in Kafka and is read again).\n\n"
         "The environment names of the earlier service work too: KAFKA_BOOTSTRAP_SERVERS,\n"
         "ACTION_LOG_SINK_BATCH_MAX_RECORDS, ACTION_LOG_SINK_BATCH_MAX_WAIT_SECONDS,\n"
         "ACTION_LOG_SINK_JSONL_PATH (a TARN_SINK_* variable wins over them).\n"
         "Listens on %s unless [server] listen (--listen) says otherwise.\n",
         SINK_DEFAULT_LISTEN);
  cli_print_options(c, sink_opts, stdout);
}

/* librdkafka properties: the [kafka] section, then each --kafka KEY=VALUE. */
typedef struct kprops {
  const char *keys[MAX_KAFKA_PROPS];
  const char *values[MAX_KAFKA_PROPS];
  char *owned[MAX_KAFKA_PROPS];
  size_t n, nowned;
} kprops;

static void kprops_free(kprops *k) {
  size_t i;
  for (i = 0; i < k->nowned; i++) {
    explicit_bzero(k->owned[i], strlen(k->owned[i])); /* may hold a SASL password */
    free(k->owned[i]);
  }
}

static int kprops_collect(const cli *c, kprops *k) {
  const char *vals[CLI_MAX_REPEATS], *key, *value;
  int nv = cli_opt_values(c, 0, vals, CLI_MAX_REPEATS), i;
  size_t j;
  memset(k, 0, sizeof(*k));
  for (j = 0; tarn_config_open_key(c->cfg, "kafka", j, &key, &value); j++) {
    if (k->n == MAX_KAFKA_PROPS)
      goto too_many;
    k->keys[k->n] = key;
    k->values[k->n++] = value;
  }
  for (i = 0; i < nv; i++) {
    char *dup, *eq;
    if (k->n == MAX_KAFKA_PROPS)
      goto too_many;
    eq = strchr(vals[i], '=');
    if (eq == NULL || eq == vals[i]) {
      cli_error(c->cmd, "--kafka %s: expected KEY=VALUE (a librdkafka property)", vals[i]);
      return TARN_EXIT_USAGE;
    }
    dup = strdup(vals[i]);
    if (dup == NULL) {
      cli_error(c->cmd, "out of memory");
      return TARN_EXIT_FAIL;
    }
    k->owned[k->nowned++] = dup;
    dup[eq - vals[i]] = '\0';
    k->keys[k->n] = dup;
    k->values[k->n++] = dup + (eq - vals[i]) + 1;
  }
  return TARN_EXIT_OK;
too_many:
  cli_error(c->cmd, "more than %d Kafka properties", MAX_KAFKA_PROPS);
  return TARN_EXIT_USAGE;
}

static void options_from(const cli *c, const kprops *k, tarn_lake *lake, tarn_metrics *m,
                         tarn_sink_options *o) {
  memset(o, 0, sizeof(*o));
  o->brokers = tarn_config_str(c->cfg, "sink", "brokers");
  o->topic = tarn_config_str(c->cfg, "sink", "topic");
  o->group = tarn_config_str(c->cfg, "sink", "group");
  o->table = tarn_config_str(c->cfg, "action_log", "table");
  o->jsonl = tarn_config_str(c->cfg, "sink", "jsonl");
  if (o->jsonl != NULL && o->jsonl[0] == '\0')
    o->jsonl = NULL;
  o->max_records = tarn_config_int(c->cfg, "sink", "batch_max_records");
  o->max_bytes = tarn_config_int(c->cfg, "sink", "batch_max_bytes");
  o->max_age_ms = tarn_config_int(c->cfg, "sink", "batch_max_age");
  o->health_age_ms = tarn_config_int(c->cfg, "sink", "health_max_wait");
  /* left at its default, it follows a long batch age (twice it) instead of refusing it */
  if (strcmp(tarn_config_source(c->cfg, "sink", "health_max_wait"), "default") == 0 &&
      o->health_age_ms <= o->max_age_ms)
    o->health_age_ms = 2 * o->max_age_ms;
  o->kafka_keys = k->keys;
  o->kafka_values = k->values;
  o->nkafka = k->n;
  o->lake = lake;
  o->metrics = m;
}

/* The signal thread: the first SIGTERM/SIGINT stops the sink; the grace period or a
 * second signal ends the process. */
typedef struct stopper {
  tarn_sink *sink;
  sigset_t sigs;
  int64_t grace_ms;
  pthread_mutex_t mu;  /* finished and the sink: the sink is destroyed once finished */
  atomic_int finished; /* the sink has stopped: the grace period no longer matters */
} stopper;

static void *stop_thread(void *arg) {
  stopper *st = arg;
  struct timespec tick = {0, 100 * 1000000};
  int64_t waited = 0;
  int sig = 0;
  if (sigwait(&st->sigs, &sig) != 0)
    return NULL;
  tarn_log_info("sink shutting down", "signal=%s grace_ms=%lld",
                sig == SIGINT ? "SIGINT" : "SIGTERM", (long long)st->grace_ms);
  pthread_mutex_lock(&st->mu);
  if (!atomic_load(&st->finished))
    tarn_sink_stop(st->sink);
  pthread_mutex_unlock(&st->mu);
  /* wait in short steps (EINTR and spurious wake-ups are only a step), until the sink
   * has stopped, a second signal comes or the grace period passes */
  for (;;) {
    sig = sigtimedwait(&st->sigs, NULL, &tick);
    if (atomic_load(&st->finished))
      return NULL;
    if (sig > 0)
      break;
    waited += 100;
    if (waited >= st->grace_ms)
      break;
  }
  tarn_log_error("sink did not finish in time; exiting (uncommitted records stay in Kafka)",
                 "reason=%s", sig > 0 ? "second signal" : "shutdown_grace passed");
  _exit(TARN_EXIT_FAIL);
  return NULL;
}

static int sink_health(void *arg, char *why, size_t n) { return tarn_sink_health(arg, why, n); }

static int start_http(const cli *c, tarn_secrets *sec, tarn_metrics *m, tarn_sink *sink,
                      tarn_http_server **out, tarn_error *err) {
  tarn_http_options hopts;
  int rc;
  tarn_http_options_from_config(&hopts, c->cfg);
  if (strcmp(tarn_config_source(c->cfg, "server", "listen"), "default") == 0)
    hopts.listen = SINK_DEFAULT_LISTEN;
  hopts.metrics = m;
  hopts.secrets = sec;
  rc = tarn_http_server_create(out, &hopts, err);
  if (rc == 0)
    rc = tarn_http_add_ops_routes_health(*out, TARN_VERSION, sink_health, sink, err);
  if (rc == 0)
    rc = tarn_http_server_start(*out, err);
  return rc;
}

static int run(const cli *c, const kprops *k, tarn_error *err) {
  static const tarn_cfg_def *const secret_tables[] = {tarn_http_token_secrets, NULL};
  const char *secrets = tarn_config_str(c->cfg, "lake", "secrets");
  tarn_secrets *sec = NULL;
  tarn_lake *lake = NULL;
  tarn_metrics *m = NULL;
  tarn_sink *sink = NULL;
  tarn_http_server *srv = NULL;
  tarn_sink_options o;
  static stopper st = {.mu = PTHREAD_MUTEX_INITIALIZER}; /* the detached thread may outlive
                                                            this frame by a moment */
  pthread_t th;
  int rc = 0;
  if (secrets != NULL && secrets[0] != '\0')
    rc = tarn_secrets_load(secrets, secret_tables, &sec, err);
  if (rc == 0 && tarn_config_str(c->cfg, "sink", "jsonl") == NULL)
    rc = tarn_lake_open(c->cfg, 0, &lake, err);
  if (rc == 0)
    rc = tarn_metrics_create(&m, err);
  if (rc == 0) {
    options_from(c, k, lake, m, &o);
    rc = tarn_sink_create(&sink, &o, err);
  }
  if (rc == 0)
    rc = start_http(c, sec, m, sink, &srv, err);
  tarn_secrets_destroy(sec);
  if (rc == 0) {
    st.sink = sink;
    sigemptyset(&st.sigs);
    sigaddset(&st.sigs, SIGTERM);
    sigaddset(&st.sigs, SIGINT);
    st.grace_ms = tarn_config_int(c->cfg, "sink", "shutdown_grace");
    atomic_init(&st.finished, 0);
    if (pthread_create(&th, NULL, stop_thread, &st) != 0)
      rc = tarn_error_set(err, TARN_ENOMEM, "cannot start the signal thread");
    else
      pthread_detach(th);
  }
  if (rc == 0) {
    rc = tarn_sink_run(sink, err);
    pthread_mutex_lock(&st.mu);
    atomic_store(&st.finished, 1);
    pthread_mutex_unlock(&st.mu);
  }
  if (rc == 0)
    tarn_log_info("sink stopped", NULL);
  if (srv != NULL)
    tarn_http_server_stop(srv, 2000);
  tarn_http_server_destroy(srv);
  tarn_sink_destroy(sink);
  tarn_metrics_destroy(m);
  tarn_lake_close(lake);
  return rc;
}

int cmd_sink(const tarn_command *self, int argc, char **argv) {
  cli c;
  kprops k;
  tarn_error err;
  sigset_t sigs;
  int rc = cli_parse(&c, self->name, argc, argv, sink_opts, tarn_cmd_tables);
  memset(&k, 0, sizeof(k));
  tarn_error_clear(&err);
  if (rc != TARN_EXIT_OK)
    goto out;
  if (c.help) {
    print_help(&c);
    goto out;
  }
  if (c.nargs > 0) {
    cli_error(self->name, "unexpected argument \"%s\"", c.args[0]);
    rc = TARN_EXIT_USAGE;
    goto out;
  }
  rc = kprops_collect(&c, &k);
  if (rc != TARN_EXIT_OK)
    goto out;
  if (c.opt_values[1] != NULL) { /* --print-config */
    tarn_config_print(c.cfg, stdout);
    goto out;
  }
  tarn_settings_apply_log(c.cfg);
  /* blocked before any thread starts: only the signal thread sees them */
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);
  signal(SIGPIPE, SIG_IGN);
  if (run(&c, &k, &err) != 0) {
    cli_error(self->name, "%s", tarn_error_message(&err));
    tarn_log_error("sink failed", "error=%s detail=%s", tarn_err_name(err.code),
                   tarn_error_message(&err));
    rc = err.code == TARN_ECONFIG || err.code == TARN_ESCHEMA ? TARN_EXIT_USAGE : TARN_EXIT_FAIL;
  }
out:
  kprops_free(&k);
  cli_free(&c);
  return rc;
}
