/* cmd_table.c - `tarn table ...`: options, help, dispatch and the helpers its files share.
 * The subcommands: create, list, show, snapshots, add-column and set-properties in
 * cmd_table_meta.c; expire and remove-orphans in cmd_table_maint.c; scan, append and
 * overwrite in cmd_table_rows.c. */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/settings.h"
#include "cmd_table_int.h"
#include "cmds.h"
#include "csv/csv.h"

static const cli_opt table_opts[] = {
    [TOPT_JSON] = {"json", 0, NULL, "print JSON for scripts instead of text"},
    [TOPT_CATALOG] = {"catalog", 1, "CATALOG",
                      "a SQLite catalog file, or a PostgreSQL connection string / postgresql:// "
                      "URI (overrides [catalog])"},
    [TOPT_SCHEMA] = {"schema", 1, "COLUMNS", "columns: \"id long not null, ts timestamptz, ...\""},
    [TOPT_PARTITION] = {"partition", 1, "FIELDS",
                        "partition spec: \"day(ts), bucket(16, id), identity(name), "
                        "truncate(4, name)\""},
    [TOPT_SORT] = {"sort", 1, "FIELDS", "sort order: \"id asc nulls-last, ts desc\""},
    [TOPT_PROPERTY] = {"property", 1, "K=V", "a table property (repeatable)"},
    [TOPT_LOCATION] = {"location", 1, "URI", "table location (default <lake>/warehouse/NS/NAME)"},
    [TOPT_SNAPSHOT] = {"snapshot", 1, "ID", "read this snapshot (time travel)"},
    [TOPT_AS_OF] = {"as-of", 1, "TIME", "read the snapshot current at this ISO-8601 time"},
    [TOPT_WHERE] = {"where", 1, "PRED",
                    "\"col OP value\" (OP: = != < <= > >=), \"col [not] in (v1, v2)\", "
                    "\"col is [not] null\", \"col is [not] nan\", joined with and, or, not "
                    "and ( ); repeatable, ANDed"},
    [TOPT_COLUMNS] = {"columns", 1, "A,B", "only these columns, in this order"},
    [TOPT_LIMIT] = {"limit", 1, "N", "at most N rows"},
    [TOPT_FORMAT] = {"format", 1, "FMT", "jsonl (default) or csv"},
    [TOPT_STATS] = {"stats", 0, NULL, "print planning and scan statistics to stderr"},
    [TOPT_JSONL] = {"jsonl", 1, "FILE", "rows as JSON lines, one object per row (- = stdin)"},
    [TOPT_DYNAMIC] = {"dynamic", 0, NULL,
                      "replace only the partition the rows fall in (one partition)"},
    [TOPT_OLDER_THAN] = {"older-than", 1, "AGE|TIME", "an age (90m, 7d) or an ISO-8601 time"},
    [TOPT_KEEP_LAST] = {"keep-last", 1, "N", "always keep the newest N snapshots"},
    [TOPT_DRY_RUN] = {"dry-run", 0, NULL, "list what would be removed; remove nothing"},
    [TOPT_DOC] = {"doc", 1, "TEXT", "documentation of the new column"},
    [TOPT_COMMIT_EACH] = {"commit-each", 0, NULL,
                          "one commit per --jsonl file, in order (default: one for all)"},
    [TOPT_COUNT] = {NULL, 0, NULL, NULL},
};

#define O(x) (1u << (x))

typedef struct table_sub {
  const char *name;
  const char *args; /* positional arguments after the subcommand, for usage */
  int min_args, max_args;
  unsigned opts;       /* options that apply */
  const char *summary; /* one line for `tarn table --help` */
  const char *help;
  int (*run)(table_cx *x);
} table_sub;

static int sub_append(table_cx *x);
static int sub_overwrite(table_cx *x);

static const table_sub subs[] = {
    {"create", "NS.NAME --schema COLUMNS", 1, 1,
     O(TOPT_SCHEMA) | O(TOPT_PARTITION) | O(TOPT_SORT) | O(TOPT_PROPERTY) | O(TOPT_LOCATION) |
         O(TOPT_JSON),
     "create a table (and its namespace)",
     "Creates an Iceberg v2 table (and its namespace when missing). Column types: boolean,\n"
     "int, long, float, double, date, time, timestamp, timestamptz, string, uuid, binary,\n"
     "fixed[L], decimal(P,S); add \"not null\" for a required column. Partition transforms:\n"
     "identity(col) or col, bucket(N, col), truncate(W, col), year/month/day/hour(col),\n"
     "void(col). Sort fields: a column or transform, asc|desc, nulls-first|nulls-last.\n",
     table_create},
    {"list", "[NS]", 0, 1, O(TOPT_JSON), "list tables",
     "Lists the tables of namespace NS, or of every namespace, as NS.NAME lines.\n", table_list},
    {"show", "NS.NAME", 1, 1, O(TOPT_JSON), "location, schema, spec, properties, current snapshot",
     "Shows a table: location, metadata file, schema, partition spec, sort order,\n"
     "properties and the current snapshot. --json adds the whole metadata document.\n",
     table_show},
    {"snapshots", "NS.NAME", 1, 1, O(TOPT_JSON), "the snapshot history",
     "Lists the snapshots, oldest first: id, parent id, sequence number, time (UTC),\n"
     "operation and summary. '*' marks the current one.\n",
     table_snapshots},
    {"scan", "NS.NAME", 1, 1,
     O(TOPT_SNAPSHOT) | O(TOPT_AS_OF) | O(TOPT_WHERE) | O(TOPT_COLUMNS) | O(TOPT_LIMIT) |
         O(TOPT_FORMAT) | O(TOPT_STATS),
     "print rows (time travel, filters)",
     "Prints the rows of a snapshot (the current one by default) as JSON lines or CSV.\n"
     "Data files are planned with partition and column-metrics pruning, read with tarn's\n"
     "Parquet reader mapping columns by field id (a column added after a file was written\n"
     "reads as null), and rows are filtered exactly. Values print as `tarn parquet cat`\n"
     "prints them. --where takes SQL-like predicates: col = 5, col in (1, 2),\n"
     "col is null, col is not nan, joined with and, or, not and parentheses, with SQL's\n"
     "null logic (a comparison with null is unknown; only true rows print). Literals\n"
     "are typed by the column: numbers, true/false, dates YYYY-MM-DD, ISO timestamps,\n"
     "decimals, UUIDs, base64 for binary; quote them with ' or \" (double a quote inside\n"
     "to keep it). The predicate is pushed into the plan (partition values, column\n"
     "bounds) and into Parquet (row-group statistics, page index, bloom filters).\n",
     table_scan},
    {"append", "NS.NAME --jsonl FILE...", 1, 1, O(TOPT_JSONL) | O(TOPT_COMMIT_EACH) | O(TOPT_JSON),
     "append JSON-lines rows in one commit",
     "Appends the rows of every --jsonl file in one commit (with --commit-each, one commit\n"
     "per file, in order; the first failure stops, earlier commits stay). Each line is a\n"
     "JSON object mapped to the columns by name\n"
     "(missing keys are null); values: numbers, true/false, strings for string, date\n"
     "(YYYY-MM-DD), time, timestamp(tz) (ISO-8601), decimal (\"12.34\"), uuid, and base64\n"
     "for binary and fixed. Floats and doubles also take \"NaN\", \"Infinity\" and\n"
     "\"-Infinity\"; a finite value beyond a float's range (about 3.4e38) is an error, not\n"
     "infinity (a tiny one rounds to 0). A timestamp column holds local date-times: a value\n"
     "with an offset is an error (Z or +00:00 pass as the same wall time); a timestamptz\n"
     "column converts offsets to UTC and takes a value without one as UTC. Errors name\n"
     "the file, line and column. A lost race with another writer is retried (table\n"
     "property commit.retry.num-retries). --json prints one JSON object per commit.\n",
     sub_append},
    {"overwrite", "NS.NAME --jsonl FILE...", 1, 1, O(TOPT_JSONL) | O(TOPT_DYNAMIC) | O(TOPT_JSON),
     "replace the rows (or one partition)",
     "Replaces every row of the table (or, with --dynamic, of the one partition the rows\n"
     "fall in) by the rows of FILE, in one commit. Input as for append.\n",
     sub_overwrite},
    {"add-column", "NS.NAME COLUMN TYPE", 3, 3, O(TOPT_DOC) | O(TOPT_JSON),
     "add an optional column",
     "Adds an optional column with a new field id. Files written before read it as null.\n",
     table_add_column},
    {"set-properties", "NS.NAME --property K=V...", 1, 1, O(TOPT_PROPERTY) | O(TOPT_JSON),
     "set or remove table properties",
     "Sets each --property KEY=VALUE on the table in one commit; KEY= (empty value)\n"
     "removes KEY. For example commit.retry.num-retries=10.\n",
     table_set_properties},
    {"expire", "NS.NAME", 1, 1, O(TOPT_OLDER_THAN) | O(TOPT_KEEP_LAST) | O(TOPT_JSON),
     "expire old snapshots and their files",
     "Expires snapshots older than --older-than (default: table property\n"
     "history.expire.max-snapshot-age-ms, else 5d) except the current one and the newest\n"
     "--keep-last (default: history.expire.min-snapshots-to-keep, else 1), then deletes\n"
     "the manifest lists, manifests and data files only they reached.\n",
     table_expire},
    {"remove-orphans", "NS.NAME", 1, 1, O(TOPT_OLDER_THAN) | O(TOPT_DRY_RUN) | O(TOPT_JSON),
     "delete files nothing references",
     "Deletes files under the table location that no metadata file, snapshot or manifest\n"
     "references and that are older than --older-than (default 3d: a grace period so\n"
     "that files of a commit in flight are never taken), e.g. what a killed writer left,\n"
     "its unfinished temp files (.tarn-tmp-*) included.\n",
     table_remove_orphans},
    {NULL, NULL, 0, 0, 0, NULL, NULL, NULL},
};

/* ---- help ---- */

static void print_opts_for(const cli *c, unsigned mask) {
  cli_print_options_masked(c, table_opts, mask | O(TOPT_CATALOG), stdout);
}

static void print_help(const cli *c) {
  const table_sub *s;
  printf("Usage: tarn table <subcommand> [options]\n\n"
         "Creates, inspects, scans and maintains Apache Iceberg v2 tables in the lake. The\n"
         "catalog is the SQL catalog of Iceberg Java's JdbcCatalog and PyIceberg's\n"
         "SqlCatalog: <lake>/catalog.db (SQLite) by default, PostgreSQL with [catalog]\n"
         "type = postgres and postgres = CONNINFO (env TARN_CATALOG_TYPE,\n"
         "TARN_CATALOG_POSTGRES) or --catalog. Data files live under the lake directory.\n\n"
         "Subcommands:\n");
  for (s = subs; s->name != NULL; s++) {
    char left[64];
    snprintf(left, sizeof(left), "%s %s", s->name, s->args);
    printf("  %-38s %s\n", left, s->summary);
  }
  printf("\nRun 'tarn table <subcommand> --help' for its options. Text output is for people;\n"
         "--json prints one JSON document for scripts. Errors name the table or file and\n"
         "exit 1 (2 for usage errors).\n");
  print_opts_for(c, O(TOPT_JSON));
}

static void print_sub_help(const cli *c, const table_sub *s) {
  printf("Usage: tarn table %s %s [options]\n\n%s", s->name, s->args, s->help);
  print_opts_for(c, s->opts);
}

/* ---- shared helpers ---- */

int table_open(table_cx *x, tarn_table **out) {
  tarn_error err;
  int rc = tarn_table_load(x->cat, &x->io, x->ns, x->name, out, &err);
  if (rc != 0) {
    if (rc == TARN_ENOTFOUND)
      cli_error("table", "table %s.%s: %s", x->ns, x->name, tarn_error_message(&err));
    else
      cli_error("table", "loading table %s.%s: %s", x->ns, x->name, tarn_error_message(&err));
    return TARN_EXIT_FAIL;
  }
  return TARN_EXIT_OK;
}

void table_print_json(json_t *j) {
  char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  if (s != NULL)
    printf("%s\n", s);
  tarn_free(s);
}

void table_iso_ms(int64_t ms, char *out, size_t n) { tarn_time_iso8601(ms * 1000, 3, out, n); }

/* ---- append, overwrite ---- */

static int sub_append(table_cx *x) { return table_write(x, 0); }
static int sub_overwrite(table_cx *x) { return table_write(x, 1); }

/* ---- dispatch ---- */

/* Applies --catalog: a PostgreSQL connection string or URI, else a SQLite file. */
static int apply_catalog_flag(cli *c) {
  const char *v = c->opt_values[TOPT_CATALOG];
  tarn_error err;
  int pg;
  if (v == NULL)
    return 0;
  pg = strncmp(v, "postgres://", 11) == 0 || strncmp(v, "postgresql://", 13) == 0 ||
       strchr(v, '=') != NULL;
  if (tarn_config_set(c->cfg, "catalog", "type", pg ? "postgres" : "sqlite", "flag --catalog",
                      &err) != 0 ||
      tarn_config_set(c->cfg, "catalog", pg ? "postgres" : "uri", v, "flag --catalog", &err) != 0) {
    cli_error("table", "%s", tarn_error_message(&err));
    return -1;
  }
  return 0;
}

/* Opens the lake; commands that only read never create one (they say which they looked at). */
static int open_lake(table_cx *x) {
  static const char *const readers[] = {"list", "show", "snapshots", "scan", NULL};
  unsigned flags = 0;
  tarn_error err;
  size_t i;
  for (i = 0; readers[i] != NULL; i++)
    if (strcmp(x->sub, readers[i]) == 0)
      flags |= TARN_LAKE_MUST_EXIST;
  if (tarn_lake_open(x->c.cfg, flags, &x->lake, &err) != 0) {
    cli_error("table", "%s", tarn_error_message(&err));
    return err.code == TARN_ECONFIG ? TARN_EXIT_USAGE : TARN_EXIT_FAIL;
  }
  x->store = x->lake->store;
  x->root_uri = x->lake->root_uri;
  x->io = x->lake->io;
  x->cat = x->lake->cat;
  return TARN_EXIT_OK;
}

int cmd_table(const tarn_command *self, int argc, char **argv) {
  table_cx x;
  const table_sub *s = NULL;
  int rc, k;
  memset(&x, 0, sizeof(x));
  rc = cli_parse(&x.c, self->name, argc, argv, table_opts, tarn_cmd_tables);
  if (rc != TARN_EXIT_OK)
    goto out;
  if (x.c.nargs > 0)
    for (s = subs; s->name != NULL; s++)
      if (strcmp(s->name, x.c.args[0]) == 0)
        break;
  if (x.c.help) {
    if (s != NULL && s->name != NULL)
      print_sub_help(&x.c, s);
    else
      print_help(&x.c);
    goto out;
  }
  rc = TARN_EXIT_USAGE;
  if (x.c.nargs == 0) {
    cli_error(self->name, "expected a subcommand (create, list, show, snapshots, scan, append, "
                          "overwrite, add-column, expire, remove-orphans)");
    fprintf(stderr, "Run 'tarn table --help' for usage.\n");
    goto out;
  }
  if (s->name == NULL) {
    cli_error(self->name, "unknown subcommand \"%s\"; run 'tarn table --help' for the list",
              x.c.args[0]);
    goto out;
  }
  x.sub = s->name;
  if (x.c.nargs - 1 < s->min_args || x.c.nargs - 1 > s->max_args) {
    cli_error(self->name, "usage: tarn table %s %s", s->name, s->args);
    goto out;
  }
  for (k = 0; k < TOPT_COUNT; k++) {
    if (k != TOPT_CATALOG && x.c.opt_values[k] != NULL && !(s->opts & O(k))) {
      cli_error(self->name, "--%s does not apply to %s (see 'tarn table %s --help')",
                table_opts[k].name, s->name, s->name);
      goto out;
    }
    if (k != TOPT_WHERE && k != TOPT_PROPERTY && k != TOPT_JSONL &&
        cli_opt_values(&x.c, k, NULL, 0) > 1) {
      cli_error(self->name, "--%s given more than once", table_opts[k].name);
      goto out;
    }
  }
  x.json = x.c.opt_values[TOPT_JSON] != NULL;
  if (s->min_args >= 1 && strcmp(s->name, "list") != 0) {
    const char *id = x.c.args[1], *dot = strrchr(id, '.');
    if (dot == NULL || dot == id || dot[1] == '\0') {
      cli_error(self->name, "\"%s\": a table is named NAMESPACE.NAME (e.g. db.events)", id);
      goto out;
    }
    x.ns = tarn_strndup(id, (size_t)(dot - id));
    x.name = tarn_strdup(dot + 1);
    if (x.ns == NULL || x.name == NULL) {
      cli_error(self->name, "out of memory");
      rc = TARN_EXIT_FAIL;
      goto out;
    }
  }
  if (apply_catalog_flag(&x.c) != 0)
    goto out;
  tarn_settings_apply_log(x.c.cfg);
  rc = open_lake(&x);
  if (rc != TARN_EXIT_OK)
    goto out;
  rc = s->run(&x);
  if (fflush(stdout) != 0 && rc == TARN_EXIT_OK) {
    cli_error(self->name, "writing output: %s", strerror(errno));
    rc = TARN_EXIT_FAIL;
  }
out:
  tarn_lake_close(x.lake);
  tarn_free(x.ns);
  tarn_free(x.name);
  cli_free(&x.c);
  return rc;
}
