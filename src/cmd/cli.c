/* cli.c - option parsing, configuration layering and help for tarn's subcommands. */
#include "cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/settings.h"
#include "base/version.h"
#include "catalog/catalog.h"
#include "http/http.h"
#include "ingest/ingest.h"
#include "journal/journal.h"
#include "sink/sink.h"
#include "sink/action_log.h"
#include "store/buckets.h"

extern char **environ;

const tarn_cfg_def *const tarn_cmd_tables[] = {
    tarn_base_config,       tarn_http_config,    tarn_store_bucket_config,
    tarn_catalog_config,    tarn_ingest_config,  tarn_sink_config,
    tarn_action_log_config, tarn_journal_config, NULL};

const char *tarn_cmd_version(void) { return TARN_VERSION " (commit " TARN_GIT_COMMIT ")"; }

void cli_error(const char *cmd, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "tarn %s: ", cmd);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

static int usage_error(cli *c, const char *fmt, const char *what) {
  cli_error(c->cmd, fmt, what);
  fprintf(stderr, "Run 'tarn %s --help' for usage.\n", c->cmd);
  return TARN_EXIT_USAGE;
}

/* Splits "--name=value" into name (copied into buf) and value. */
static const char *split_flag(const char *arg, char *buf, size_t buflen, const char **value) {
  const char *eq = strchr(arg, '=');
  size_t n = eq ? (size_t)(eq - arg) : strlen(arg);
  if (n >= buflen)
    n = buflen - 1;
  memcpy(buf, arg, n);
  buf[n] = '\0';
  *value = eq ? eq + 1 : NULL;
  return buf;
}

int cli_parse(cli *c, const char *cmd, int argc, char **argv, const cli_opt *opts,
              const tarn_cfg_def *const *tables) {
  tarn_error err;
  /* not settings: the config file's path, and `tarn journal --url`'s server and token */
  static const char *const env_ignore[] = {"TARN_CONFIG", "TARN_URL", "TARN_TOKEN", NULL};
  char name[64], source[96];
  int i, only_args = 0;
  memset(c, 0, sizeof(*c));
  c->cmd = cmd;
  if (tarn_config_create(&c->cfg, tables, &err) != 0) {
    cli_error(cmd, "%s", tarn_error_message(&err));
    return TARN_EXIT_FAIL;
  }
  /* Pass 1: find --config (flags override the file, so the file must load first). */
  c->config_path = getenv("TARN_CONFIG");
  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0)
      break;
    if (strcmp(argv[i], "--config") == 0) {
      if (i + 1 >= argc)
        return usage_error(c, "%s needs a value", "--config");
      c->config_path = argv[++i];
    } else if (strncmp(argv[i], "--config=", 9) == 0) {
      c->config_path = argv[i] + 9;
    }
  }
  if (c->config_path != NULL && c->config_path[0] != '\0' &&
      tarn_config_load_file(c->cfg, c->config_path, &err) != 0) {
    cli_error(cmd, "%s", tarn_error_message(&err));
    return TARN_EXIT_USAGE;
  }
  if (tarn_config_load_env_aliases(c->cfg, environ, tarn_sink_env_aliases, &err) != 0 ||
      tarn_config_load_env(c->cfg, environ, env_ignore, &err) != 0) {
    cli_error(cmd, "%s", tarn_error_message(&err));
    return TARN_EXIT_USAGE;
  }
  /* Pass 2: flags and arguments. */
  for (i = 1; i < argc; i++) {
    const char *arg = argv[i], *value;
    const tarn_cfg_def *d;
    size_t k;
    if (only_args || arg[0] != '-' || strcmp(arg, "-") == 0) {
      if (c->nargs == CLI_MAX_ARGS)
        return usage_error(c, "too many arguments (at most %s)", "16");
      c->args[c->nargs++] = argv[i];
      continue;
    }
    if (strcmp(arg, "--") == 0) {
      only_args = 1;
      continue;
    }
    if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
      c->help = 1;
      continue;
    }
    if (strncmp(arg, "--", 2) != 0)
      return usage_error(c, "unknown option %s", arg);
    split_flag(arg + 2, name, sizeof(name), &value);
    if (strcmp(name, "config") == 0) {
      if (value == NULL)
        i++; /* handled in pass 1 */
      continue;
    }
    for (k = 0; opts != NULL && opts[k].name != NULL && k < CLI_MAX_OPTS; k++)
      if (strcmp(opts[k].name, name) == 0)
        break;
    if (opts != NULL && k < CLI_MAX_OPTS && opts[k].name != NULL) {
      if (opts[k].has_arg) {
        if (value == NULL) {
          if (i + 1 >= argc)
            return usage_error(c, "option %s needs a value", arg);
          value = argv[++i];
        }
        if (c->nrep == CLI_MAX_REPEATS)
          return usage_error(c, "too many option values (at most %s)", "64");
        c->rep_values[c->nrep] = value;
        c->rep_opt[c->nrep++] = (int)k;
        c->opt_values[k] = value;
      } else {
        if (value != NULL)
          return usage_error(c, "option %s takes no value", arg);
        c->opt_values[k] = "";
      }
      continue;
    }
    d = tarn_config_flag(c->cfg, cmd, name);
    if (d == NULL)
      return usage_error(c, "unknown option %s", arg);
    if (value == NULL && d->type == TARN_CFG_BOOL) {
      value = "true"; /* a boolean flag alone turns it on; --flag=false turns it off */
    } else if (value == NULL) {
      if (i + 1 >= argc)
        return usage_error(c, "option %s needs a value", arg);
      value = argv[++i];
    }
    snprintf(source, sizeof(source), "flag --%s", d->flag);
    if (tarn_config_set(c->cfg, d->section, d->key, value, source, &err) != 0) {
      cli_error(cmd, "%s", tarn_error_message(&err));
      return TARN_EXIT_USAGE;
    }
  }
  return TARN_EXIT_OK;
}

void cli_free(cli *c) {
  tarn_config_destroy(c->cfg);
  c->cfg = NULL;
}

int cli_opt_values(const cli *c, int k, const char **out, int max) {
  int i, n = 0;
  for (i = 0; i < c->nrep; i++) {
    if (c->rep_opt[i] != k)
      continue;
    if (n < max)
      out[n] = c->rep_values[i];
    n++;
  }
  return n;
}

void cli_print_options(const cli *c, const cli_opt *opts, FILE *f) {
  cli_print_options_masked(c, opts, ~0ul, f);
}

void cli_print_options_masked(const cli *c, const cli_opt *opts, unsigned long mask, FILE *f) {
  size_t k;
  char left[64];
  fprintf(f, "\nOptions:\n");
  for (k = 0; opts != NULL && opts[k].name != NULL; k++) {
    if (k < sizeof(mask) * 8 && !(mask & (1ul << k)))
      continue;
    snprintf(left, sizeof(left), "--%s%s%s", opts[k].name, opts[k].has_arg ? " " : "",
             opts[k].has_arg ? opts[k].arg : "");
    fprintf(f, "  %-26s %s\n", left, opts[k].help);
  }
  tarn_config_print_flags(c->cfg, c->cmd, f);
  fprintf(f, "  %-26s %s\n", "--config FILE", "INI configuration file (env TARN_CONFIG)");
  fprintf(f, "  %-26s %s\n", "-h, --help", "show this help");
  fprintf(f, "\nPrecedence: built-in defaults < config file < TARN_* environment < flags.\n");
}
