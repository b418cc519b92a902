/* cli.h - command-line plumbing shared by tarn's subcommands. */
#ifndef TARN_CMD_CLI_H
#define TARN_CMD_CLI_H

#include <stdio.h>

#include "base/config.h"

/* Exit codes. */
#define TARN_EXIT_OK 0
#define TARN_EXIT_FAIL 1         /* the work failed; the message says why */
#define TARN_EXIT_USAGE 2        /* bad flags, arguments or configuration */
#define TARN_EXIT_UNAVAILABLE 69 /* sysexits EX_UNAVAILABLE: command not in this build yet */

/* A command-specific option that is not a setting (e.g. --print-config). */
typedef struct cli_opt {
  const char *name; /* without dashes */
  int has_arg;      /* takes a value */
  const char *arg;  /* value name for help, e.g. "FILE" */
  const char *help;
} cli_opt;

#define CLI_MAX_OPTS 32
#define CLI_MAX_ARGS 16
#define CLI_MAX_REPEATS 64 /* values of options given more than once, all options together */

/* The parsed command line of one subcommand. */
typedef struct cli {
  const char *cmd;
  tarn_config *cfg;                     /* effective configuration; owned */
  const char *config_path;              /* --config or TARN_CONFIG, or NULL */
  const char *opt_values[CLI_MAX_OPTS]; /* per cli_opt: value, "" for set flags, NULL unset */
  char *args[CLI_MAX_ARGS];             /* positional arguments (borrowed from argv) */
  int nargs;
  int help; /* --help or -h was given */
  /* Every value of every option that takes one, in command-line order, so that an
   * option may be repeated (--where a --where b); opt_values keeps the last one. */
  const char *rep_values[CLI_MAX_REPEATS];
  int rep_opt[CLI_MAX_REPEATS]; /* index into the command's cli_opt array */
  int nrep;
} cli;

/*
 * Parses argv (argv[0] is the command name) for command `cmd`: the config file
 * (--config FILE or TARN_CONFIG), then TARN_* environment variables, then flags,
 * each overriding the one before, and the command's own `opts` (NULL-terminated by a
 * NULL name). `tables` are the setting tables the binary knows (NULL-terminated).
 * On error prints "tarn CMD: message" to stderr and returns TARN_EXIT_USAGE.
 */
int cli_parse(cli *c, const char *cmd, int argc, char **argv, const cli_opt *opts,
              const tarn_cfg_def *const *tables);
void cli_free(cli *c);

/* The values of the command's option `k` (index into its cli_opt array) in the order
 * given, at most `max` of them; returns how many there are. */
int cli_opt_values(const cli *c, int k, const char **out, int max);

/* Prints the standard option section of --help: the command's own options, then the
 * settings that have flags, then the common ones (--config, --help). */
void cli_print_options(const cli *c, const cli_opt *opts, FILE *f);
/* The same with only the options whose bit (1 << index in opts) is set in mask: a
 * subcommand's own. */
void cli_print_options_masked(const cli *c, const cli_opt *opts, unsigned long mask, FILE *f);

/* Reports an error for command cmd on stderr: "tarn CMD: message". */
void cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Every settings table the binary knows, NULL-terminated. */
extern const tarn_cfg_def *const tarn_cmd_tables[];

/* The version string: "0.1.0 (commit abcdef123456)". */
const char *tarn_cmd_version(void);

#endif
