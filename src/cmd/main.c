/* main.c - the tarn binary: dispatch to subcommands, global help and version. */
#include <jansson.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "cli.h"
#include "cmds.h"

static int cmd_version(const tarn_command *self, int argc, char **argv);

static const tarn_command commands[] = {
    {"serve", "run the HTTP daemon (health, metrics, storage, CSV ingest and datasets)", cmd_serve,
     NULL, NULL},
    {"sink", "consume action-audit events from Kafka into default.action_log, exactly once",
     cmd_sink, NULL, NULL},
    {"ingest", "land a CSV file as an Iceberg table (datasets.NAME)", cmd_ingest, NULL, NULL},
    {"journal", "append to and query the mutation journal (on the lake, or through tarn serve)",
     cmd_journal, NULL, NULL},
    {"table", "create, inspect, scan and maintain Iceberg tables", cmd_table, NULL, NULL},
    {"parquet", "inspect Parquet files: schema, metadata, rows", cmd_parquet, NULL, NULL},
    {"datasets", "list, show and resync ingested datasets", cmd_datasets, NULL, NULL},
    {"token", "make API tokens for tarn serve (and their secrets-file lines)", cmd_token, NULL,
     NULL},
    {"version", "print the version", cmd_version, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static void print_help(FILE *f) {
  const tarn_command *c;
  fprintf(f,
          "tarn %s - a small lakehouse engine: data in, Apache Iceberg tables out.\n\n"
          "Usage: tarn <command> [options]\n\nCommands:\n",
          tarn_cmd_version());
  for (c = commands; c->name != NULL; c++)
    fprintf(f, "  %-10s %s%s\n", c->name, c->summary, c->planned ? " (not available yet)" : "");
  fprintf(f,
          "\nEvery command takes --lake DIR (env TARN_LAKE, config [lake] path; default ./lake)\n"
          "and --config FILE (env TARN_CONFIG). Run 'tarn <command> --help' for details.\n");
}

static int cmd_version(const tarn_command *self, int argc, char **argv) {
  if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    printf("Usage: tarn version\n\nPrints tarn's version and the versions of the libraries it "
           "runs on.\n");
    return TARN_EXIT_OK;
  }
  if (argc > 1) {
    cli_error("version", "takes no arguments (got %s)", argv[1]);
    return TARN_EXIT_USAGE;
  }
  printf("tarn %s\n", tarn_cmd_version());
  printf("libmicrohttpd %s, jansson %s, %s\n", MHD_get_version(), JANSSON_VERSION,
         OpenSSL_version(OPENSSL_VERSION));
  return TARN_EXIT_OK;
}

int main(int argc, char **argv) {
  const tarn_command *c;
  /* Route jansson's allocations through ours so tests can fail them too. */
  json_set_alloc_funcs(tarn_malloc, tarn_free);
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
      strcmp(argv[1], "help") == 0) {
    if (argc >= 3 && strcmp(argv[1], "help") == 0) {
      for (c = commands; c->name != NULL; c++) {
        if (strcmp(c->name, argv[2]) == 0) {
          char *sub[] = {argv[2], "--help", NULL};
          return c->run(c, 2, sub);
        }
      }
      fprintf(stderr, "tarn: unknown command '%s'. Run 'tarn --help' for the list.\n", argv[2]);
      return TARN_EXIT_USAGE;
    }
    print_help(argc < 2 ? stderr : stdout);
    return argc < 2 ? TARN_EXIT_USAGE : TARN_EXIT_OK;
  }
  if (strcmp(argv[1], "--version") == 0)
    return cmd_version(&commands[0], 1, argv);
  for (c = commands; c->name != NULL; c++)
    if (strcmp(c->name, argv[1]) == 0)
      return c->run(c, argc - 1, argv + 1);
  fprintf(stderr, "tarn: unknown command '%s'. Run 'tarn --help' for the list.\n", argv[1]);
  return TARN_EXIT_USAGE;
}
