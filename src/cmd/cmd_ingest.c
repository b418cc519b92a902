/* cmd_ingest.c - `tarn ingest FILE.csv --name NAME`: a CSV into datasets.NAME, straight on the
 * lake (no daemon), with a progress bar on a terminal. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/hash.h"
#include "base/log.h"
#include "base/settings.h"
#include "cli.h"
#include "cmds.h"
#include "ingest/ingest.h"
#include "journal/journal.h"
#include "journal_open.h"
#include "rowfmt.h"
#include "table/lake.h"

/* A drifted schema: the file is fine, the dataset has another shape. Scripts tell it from
 * a broken lake (1) or a bad command line (2). */
#define EXIT_DRIFT 3

static const cli_opt ingest_opts[] = {
    {"name", 1, "NAME", "the dataset: datasets.NAME, NAME of [a-z0-9_]{1,128}"},
    {"mode", 1, "MODE", "replace (default: the file becomes the data) or append"},
    {"delimiter", 1, "C", "field delimiter: , ; | or tab (default: detected from the file)"},
    {"infer-only", 0, NULL,
     "print the inferred schema, the reasons and the fingerprint; "
     "write nothing"},
    {"json", 0, NULL, "print the result as JSON (the body POST /ingest answers)"},
    {"pg", 1, "DSN",
     "read from PostgreSQL instead of a file (libpq connection string; the password may come "
     "from PGPASSWORD or ~/.pgpass)"},
    {"table", 1, "SCHEMA.NAME", "with --pg: the table or view to read"},
    {"query", 1, "SQL", "with --pg: a SELECT to read instead of a table"},
    {"incremental-column", 1, "COL",
     "with --pg: read only rows whose COL (integer, date, timestamp) is above the last run's "
     "high-water mark, and append them"},
    {"readers", 1, "N", "with --pg: parallel connections reading the table (default: by size)"},
    {"infinity", 1, "error|null",
     "with --pg: what +-infinity dates and timestamps become (default: an error)"},
    {NULL, 0, NULL, NULL},
};
enum {
  OPT_NAME,
  OPT_MODE,
  OPT_DELIM,
  OPT_INFER,
  OPT_JSON,
  OPT_PG,
  OPT_TABLE,
  OPT_QUERY,
  OPT_INCREMENTAL,
  OPT_READERS,
  OPT_INFINITY
};

static void print_ingest_help(const cli *c) {
  printf("Usage: tarn ingest FILE.csv --name NAME [--mode append] [--delimiter C] "
         "[--infer-only] [--json]\n"
         "       tarn ingest --pg DSN (--table SCHEMA.NAME | --query SQL) --name NAME\n"
         "                   [--mode append] [--incremental-column COL] [--readers N]\n"
         "                   [--infinity null] [--json]\n\n"
         "Lands a CSV file as the Iceberg table datasets.NAME in the lake, without a daemon.\n"
         "Pass 1 reads the whole file to infer each column's type (boolean, int64, float64,\n"
         "date, timestamp, timestamptz, string) and the schema fingerprint; pass 2 converts\n"
         "it into one Parquet file and commits it. The first ingest creates the dataset; a\n"
         "later one with the same fingerprint replaces its data (or appends, --mode append);\n"
         "the same bytes again commit nothing; a different schema is refused and nothing is\n"
         "written. FILE may be - (standard input).\n\n"
         "On a terminal a progress bar shows bytes, rows and rate of each pass. The summary\n"
         "line gives rows, columns, the Parquet size and key, what happened, the elapsed time\n"
         "and the rate (MB = 10^6 bytes of CSV).\n\n"
         "With --pg the rows come from PostgreSQL: one consistent snapshot (REPEATABLE READ,\n"
         "READ ONLY), streamed with binary COPY, large tables on several connections sharing\n"
         "the snapshot. Types map exactly (numeric(p,s) to decimal, timestamptz to\n"
         "timestamptz, uuid, bytea, ...); types without an exact Iceberg form are stored as\n"
         "their text with a warning. --incremental-column appends only the rows above the\n"
         "mark the last run stored with its commit.\n\n"
         "Exit codes: 0 ingested (or identical), 1 failed (bad CSV: line and column in the\n"
         "message; storage or catalog failure), 2 bad usage, 3 schema drift (the added,\n"
         "removed and retyped columns are printed).\n");
  cli_print_options(c, ingest_opts, stdout);
}

/* ---- progress bar (stderr, terminals only) ---- */

typedef struct progress {
  uint64_t total;    /* file size; 0 when unknown */
  uint64_t phase_t0; /* when the current pass started */
  uint64_t last;     /* last redraw */
  int phase;         /* pass being drawn; 0 before the first call */
  int open;          /* a line is drawn and not ended */
} progress;

static void draw(progress *p, uint64_t bytes, uint64_t rows, uint64_t now) {
  double secs = (double)(now - p->phase_t0) / 1e9;
  double frac = p->total ? (double)bytes / (double)p->total : 0;
  char bar[25], done[24], total[24];
  int i, fill;
  if (frac > 1)
    frac = 1;
  fill = (int)(frac * 24 + 0.5);
  for (i = 0; i < 24; i++)
    bar[i] = i < fill ? '#' : '-';
  bar[24] = '\0';
  fprintf(stderr, "\r\033[Kpass %d/2 %-8s [%s] %3d%%  %s / %s  %.2fM rows  %.1f MB/s", p->phase,
          p->phase == 1 ? "infer" : "convert", bar, (int)(frac * 100),
          rowfmt_bytes((double)bytes, done, sizeof(done)),
          rowfmt_bytes((double)p->total, total, sizeof(total)), (double)rows / 1e6,
          secs > 0 ? (double)bytes / 1e6 / secs : 0.0);
  fflush(stderr);
  p->open = 1;
  p->last = now;
}

static void on_progress(int phase, uint64_t bytes, uint64_t rows, void *arg) {
  progress *p = arg;
  uint64_t now = tarn_clock_mono_ns();
  if (phase != p->phase) {
    if (p->open)
      fputc('\n', stderr); /* keep the finished pass on its own line */
    p->phase = phase;
    p->phase_t0 = now;
    p->open = 0;
  }
  /* at most ten redraws a second, and always the last one of a pass */
  if (now - p->last >= 100000000ull || (p->total && bytes >= p->total))
    draw(p, bytes, rows, now);
}

static void progress_end(progress *p) {
  if (p->open)
    fputc('\n', stderr);
  p->open = 0;
}

/* ---- input ---- */

/* Copies a non-seekable input (a pipe, standard input) into an unlinked file in dir: the
 * ingest reads its input twice. Returns the new descriptor or -1 with err set. */
static int spool_input(int in, const char *dir, tarn_error *err) {
  char *buf;
  ssize_t n;
  int fd = tarn_ingest_spool_open(dir, err);
  if (fd < 0)
    return -1;
  buf = tarn_malloc(1 << 20);
  if (buf == NULL) {
    close(fd);
    tarn_error_set(err, TARN_ENOMEM, "out of memory");
    return -1;
  }
  while ((n = read(in, buf, 1 << 20)) != 0) {
    ssize_t off = 0;
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      tarn_error_sys(err, TARN_EIO, errno, "reading standard input");
      goto fail;
    }
    while (off < n) {
      ssize_t w = write(fd, buf + off, (size_t)(n - off));
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0) {
        tarn_error_sys(err, TARN_EIO, errno, "writing the spool file in %s", dir);
        goto fail;
      }
      off += w;
    }
  }
  tarn_free(buf);
  return fd;
fail:
  tarn_free(buf);
  close(fd);
  return -1;
}

/* ---- output ---- */

static json_t *columns_json(const tarn_ingest_result *r) {
  json_t *a = json_array();
  size_t i;
  for (i = 0; a != NULL && i < r->ncols; i++)
    json_array_append_new(a, json_pack("{s:s,s:s,s:b,s:s}", "name", r->names[i], "type",
                                       tarn_csv_type_name(r->cols[i].type), "nullable",
                                       r->cols[i].nullable, "reason", r->cols[i].reason));
  return a;
}

static void print_json(json_t *j) {
  char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
  if (text != NULL)
    printf("%s\n", text);
  tarn_free(text);
  json_decref(j);
}

static void print_schema(const char *file, const tarn_ingest_result *r) {
  size_t i, w = 6;
  for (i = 0; i < r->ncols; i++)
    if (strlen(r->names[i]) > w)
      w = strlen(r->names[i]);
  if (w > 40)
    w = 40;
  printf("%s: %lld rows, %zu columns\n\n", file, (long long)r->row_count, r->ncols);
  printf("  %-4s %-*s  %-11s  %-8s  %s\n", "#", (int)w, "column", "type", "nullable", "why");
  for (i = 0; i < r->ncols; i++)
    printf("  %-4zu %-*s  %-11s  %-8s  %s\n", i + 1, (int)w, r->names[i],
           tarn_csv_type_name(r->cols[i].type), r->cols[i].nullable ? "yes" : "no",
           r->cols[i].reason);
  printf("\ndelimiter %s (%s)\nfingerprint %s\nsource sha256 %s\n",
         r->delimiter == '\t'  ? "tab"
         : r->delimiter == ';' ? "';'"
         : r->delimiter == '|' ? "'|'"
                               : "','",
         r->delimiter_detected ? "detected; --delimiter overrides" : "given", r->fingerprint,
         r->source_sha256);
}

static void print_drift(const json_t *d) {
  const json_t *v;
  size_t i;
  json_array_foreach(json_object_get(d, "added"), i, v)
      fprintf(stderr, "  added:   %s (%s)\n", json_string_value(json_object_get(v, "name")),
              json_string_value(json_object_get(v, "type")));
  json_array_foreach(json_object_get(d, "removed"), i, v)
      fprintf(stderr, "  removed: %s (%s)\n", json_string_value(json_object_get(v, "name")),
              json_string_value(json_object_get(v, "type")));
  json_array_foreach(json_object_get(d, "retyped"), i, v) fprintf(
      stderr, "  retyped: %s: %s -> %s\n", json_string_value(json_object_get(v, "name")),
      json_string_value(json_object_get(v, "from")), json_string_value(json_object_get(v, "to")));
  if (json_is_true(json_object_get(d, "reordered")))
    fprintf(stderr, "  the columns are in another order\n");
}

/* A failed ingest: the message, the drift of a schema change, --json's error object. */
static int report_failure(const char *cmd, const char *file, const tarn_ingest_result *r,
                          const tarn_error *err, int json) {
  cli_error(cmd, "%s: %s", file, tarn_error_message(err));
  if (err->code == TARN_ESCHEMA) {
    print_drift(r->drift);
    if (json)
      print_json(json_pack("{s:{s:s,s:s,s:O}}", "error", "code", tarn_err_name(err->code),
                           "message", tarn_error_message(err), "drift",
                           r->drift ? r->drift : json_null()));
    return EXIT_DRIFT;
  }
  if (json)
    print_json(json_pack("{s:{s:s,s:s}}", "error", "code", tarn_err_name(err->code), "message",
                         tarn_error_message(err)));
  return TARN_EXIT_FAIL;
}

/* A committed ingest that changed the table becomes the journal's `ingest` event (the one
 * POST /ingest records). This process does not hold the journal (tarn serve may): the
 * event goes to the journal's inbox, which its holder takes in (at once if a tarn serve
 * runs, else at the next `tarn journal` or `tarn serve`). Its id names the commit, so it
 * is stored once however often it is taken in. A failure is a warning: the data is
 * committed. */
static void journal_ingest(const cli *c, const char *cmd, const char *name, const char *source,
                           int64_t snapshot_id, int64_t rows, const char *sha256,
                           const char *outcome) {
  char wal_dir[PATH_MAX + 16];
  tarn_journal_ingest in;
  tarn_journal_event ev;
  tarn_error err;
  if (strcmp(outcome, "existing") == 0)
    return; /* nothing was committed: no event */
  memset(&in, 0, sizeof(in));
  in.dataset = name;
  in.snapshot_id = snapshot_id;
  in.rows = rows;
  in.source = source;
  in.sha256 = sha256;
  in.outcome = outcome;
  in.actor = "local"; /* as tarn serve names a caller without tokens */
  cmd_journal_wal_dir(c->cfg, wal_dir, sizeof(wal_dir));
  if (tarn_journal_ingest_event(&in, &ev, &err) != 0) {
    fprintf(stderr,
            "tarn %s: warning: datasets.%s is committed, but its journal event was not "
            "recorded: %s\n",
            cmd, name, tarn_error_message(&err));
    return;
  }
  if (tarn_journal_inbox_put(wal_dir, &ev, 1, &err) != 0)
    fprintf(stderr,
            "tarn %s: warning: datasets.%s is committed, but its journal event was not "
            "recorded (inbox in %s): %s\n",
            cmd, name, wal_dir, tarn_error_message(&err));
  tarn_journal_event_free(&ev);
}

/* What an ingest did: one line, or --json with the dataset's manifest. */
static void print_result(const tarn_ingest_env *env, const char *name, const tarn_ingest_result *r,
                         int append, int json, double secs, off_t input_size) {
  const char *what = r->existing  ? "existing"
                     : r->created ? "created"
                     : append     ? "appended"
                                  : "replaced";
  char size[24];
  tarn_error err;
  if (json) {
    json_t *m = NULL;
    if (tarn_dataset_manifest(env, name, &m, &err) != 0)
      m = NULL;
    print_json(json_pack("{s:o,s:b,s:s,s:I,s:I,s:s,s:s,s:s,s:o,s:o,s:f}", "manifest",
                         m ? m : json_null(), "existing", r->existing, "outcome", what, "row_count",
                         (json_int_t)r->row_count, "parquet_size", (json_int_t)r->parquet_size,
                         "parquet_key", r->parquet_key, "fingerprint", r->fingerprint,
                         "source_sha256", r->source_sha256, "snapshot_id",
                         r->snapshot_id >= 0 ? json_integer(r->snapshot_id) : json_null(),
                         "columns", columns_json(r), "elapsed_seconds", secs));
    return;
  }
  printf("datasets.%s: %s%s; %lld rows, %zu columns, parquet %s at %s; %.2f s, %.1f MB/s\n", name,
         r->existing ? "unchanged" : what,
         r->existing ? " (the same bytes are already its data; nothing written)" : "",
         (long long)r->row_count, r->ncols,
         rowfmt_bytes((double)r->parquet_size, size, sizeof(size)), r->parquet_key, secs,
         secs > 0 ? (double)input_size / 1e6 / secs : 0.0);
}

/* ---- --pg ---- */

static void on_pg_progress(uint64_t rows, uint64_t bytes, void *arg) {
  progress *p = arg;
  uint64_t now = tarn_clock_mono_ns();
  double secs;
  char done[24];
  if (p->phase == 0) {
    p->phase = 1;
    p->phase_t0 = now;
  }
  if (now - p->last < 100000000ull)
    return;
  secs = (double)(now - p->phase_t0) / 1e9;
  fprintf(stderr, "\r\033[Kreading  %.2fM rows  %s  %.1f MB/s  %.0fk rows/s", (double)rows / 1e6,
          rowfmt_bytes((double)bytes, done, sizeof(done)),
          secs > 0 ? (double)bytes / 1e6 / secs : 0.0, secs > 0 ? (double)rows / 1e3 / secs : 0.0);
  fflush(stderr);
  p->open = 1;
  p->last = now;
}

static int ingest_pg(const cli *c, const char *cmd, int json) {
  tarn_lake *lake = NULL;
  tarn_ingest_env env;
  tarn_pg_ingest_options o;
  tarn_pg_ingest_result r;
  tarn_error err;
  progress prog;
  const char *inf = c->opt_values[OPT_INFINITY], *what;
  int rc = TARN_EXIT_USAGE, append = 0;
  uint64_t t0;
  memset(&env, 0, sizeof(env));
  memset(&prog, 0, sizeof(prog));
  tarn_pg_ingest_options_init(&o);
  tarn_pg_ingest_result_init(&r);
  tarn_error_clear(&err);
  o.dsn = c->opt_values[OPT_PG];
  o.table = c->opt_values[OPT_TABLE];
  o.query = c->opt_values[OPT_QUERY];
  o.name = c->opt_values[OPT_NAME];
  o.incremental_column = c->opt_values[OPT_INCREMENTAL];
  if (c->nargs > 0) {
    cli_error(cmd, "--pg reads no file (got %s)", c->args[0]);
    goto out;
  }
  if (o.name == NULL) {
    cli_error(cmd, "--name NAME is required (the dataset datasets.NAME)");
    goto out;
  }
  if (c->opt_values[OPT_DELIM] != NULL || c->opt_values[OPT_INFER] != NULL) {
    cli_error(cmd, "--delimiter and --infer-only are for CSV files, not --pg");
    goto out;
  }
  if (tarn_ingest_parse_mode(c->opt_values[OPT_MODE], &append, &err) != 0) {
    cli_error(cmd, "%s", tarn_error_message(&err));
    goto out;
  }
  if (c->opt_values[OPT_MODE] == NULL && o.incremental_column != NULL)
    append = 1; /* incremental runs append what is new; --mode replace starts again */
  o.append = append;
  if ((o.table == NULL) == (o.query == NULL)) {
    cli_error(cmd, "give --table SCHEMA.NAME or --query SQL (exactly one)");
    goto out;
  }
  if (inf != NULL && strcmp(inf, "null") != 0 && strcmp(inf, "error") != 0) {
    cli_error(cmd, "--infinity is error or null, not %s", inf);
    goto out;
  }
  o.infinity_null = inf != NULL && strcmp(inf, "null") == 0;
  if (c->opt_values[OPT_READERS] != NULL) {
    char *end;
    long v;
    errno = 0;
    v = strtol(c->opt_values[OPT_READERS], &end, 10);
    if (errno != 0 || *end != '\0' || end == c->opt_values[OPT_READERS] || v < 1 || v > 16) {
      cli_error(cmd, "--readers is a number from 1 to 16, not %s", c->opt_values[OPT_READERS]);
      goto out;
    }
    o.readers = (int)v;
    if (o.query != NULL && v > 1) {
      cli_error(cmd, "a --query is read by one reader (--readers splits a table's pages)");
      goto out;
    }
  }
  tarn_settings_apply_log(c->cfg);
  if (strcmp(tarn_config_source(c->cfg, "log", "level"), "default") == 0)
    tarn_log_set_level(TARN_LOG_WARN);
  rc = TARN_EXIT_FAIL;
  if (tarn_lake_open(c->cfg, 0, &lake, &err) != 0) {
    cli_error(cmd, "%s", tarn_error_message(&err));
    goto out;
  }
  env.cat = lake->cat;
  env.io = &lake->io;
  env.spool_dir = lake->spool_dir;
  o.memory_budget = (size_t)tarn_config_int(c->cfg, "ingest", "memory_budget");
  if (isatty(2)) {
    o.progress = on_pg_progress;
    o.progress_arg = &prog;
  }
  t0 = tarn_clock_mono_ns();
  if (tarn_ingest_pg(&env, &o, &r, &err) != 0) {
    int status;
    progress_end(&prog);
    cli_error(cmd, "%s", tarn_error_message(&err));
    if (err.code == TARN_ESCHEMA)
      print_drift(r.drift);
    if (json) {
      json_t *e =
          json_pack("{s:s,s:s}", "code", tarn_pg_ingest_error(err.code, r.sqlstate, &status),
                    "message", tarn_error_message(&err));
      if (r.sqlstate[0])
        json_object_set_new(e, "sqlstate", json_string(r.sqlstate));
      if (r.drift)
        json_object_set(e, "drift", r.drift);
      print_json(json_pack("{s:o}", "error", e));
    }
    rc = err.code == TARN_ESCHEMA ? EXIT_DRIFT : TARN_EXIT_FAIL;
    goto out;
  }
  progress_end(&prog);
  what = r.existing ? "existing" : r.created ? "created" : append ? "appended" : "replaced";
  {
    double secs = (double)(tarn_clock_mono_ns() - t0) / 1e9;
    size_t i;
    json_t *w;
    json_array_foreach(r.warnings, i, w)
        fprintf(stderr, "tarn %s: warning: %s\n", cmd, json_string_value(w));
    if (json) {
      json_t *j = tarn_pg_ingest_result_json(&r, append), *m = NULL;
      if (tarn_dataset_manifest(&env, o.name, &m, &err) != 0)
        m = NULL;
      json_object_set_new(j, "manifest", m ? m : json_null());
      json_object_set_new(j, "elapsed_seconds", json_real(secs));
      print_json(j);
    } else {
      char size[24];
      printf("datasets.%s: %s%s; %lld rows, %zu columns, parquet %s at %s; %d reader%s, %.2f s, "
             "%.0f rows/s\n",
             o.name, r.existing ? "unchanged" : what,
             r.existing ? (r.incremental && r.row_count == 0 ? " (no new rows)"
                                                             : " (the same rows are already its "
                                                               "data; nothing written)")
                        : "",
             (long long)r.row_count, json_array_size(r.columns),
             rowfmt_bytes((double)r.parquet_size, size, sizeof(size)),
             r.parquet_key[0] ? r.parquet_key : "-", r.readers, r.readers == 1 ? "" : "s", secs,
             secs > 0 ? (double)r.row_count / secs : 0.0);
    }
  }
  {
    char source[300], sha[TARN_SHA256_HEX_LEN];
    const char *base = strrchr(r.parquet_key, '/');
    snprintf(source, sizeof(source), "postgres:%s", o.table ? o.table : "query");
    snprintf(sha, sizeof(sha), "%.64s", base ? base + 1 : "");
    journal_ingest(c, cmd, o.name, source, r.snapshot_id, r.row_count, sha, what);
  }
  rc = TARN_EXIT_OK;
out:
  tarn_pg_ingest_result_free(&r);
  tarn_lake_close(lake);
  return rc;
}

int cmd_ingest(const tarn_command *self, int argc, char **argv) {
  cli c;
  tarn_lake *lake = NULL;
  tarn_ingest_env env;
  tarn_ingest_options o;
  tarn_ingest_result r;
  tarn_error err;
  progress prog;
  struct stat st;
  const char *file, *name;
  char delim = 0, spool_tmp[PATH_MAX + 16];
  int append = 0, fd = -1, rc, json, infer;
  uint64_t t0;
  memset(&env, 0, sizeof(env));
  memset(&prog, 0, sizeof(prog));
  tarn_ingest_result_init(&r);
  tarn_error_clear(&err);
  rc = cli_parse(&c, self->name, argc, argv, ingest_opts, tarn_cmd_tables);
  if (rc != TARN_EXIT_OK)
    goto out;
  if (c.help) {
    print_ingest_help(&c);
    goto out;
  }
  rc = TARN_EXIT_USAGE;
  json = c.opt_values[OPT_JSON] != NULL;
  infer = c.opt_values[OPT_INFER] != NULL;
  name = c.opt_values[OPT_NAME];
  if (c.opt_values[OPT_PG] != NULL) {
    rc = ingest_pg(&c, self->name, json);
    goto out;
  }
  if (c.opt_values[OPT_TABLE] || c.opt_values[OPT_QUERY] || c.opt_values[OPT_INCREMENTAL] ||
      c.opt_values[OPT_READERS] || c.opt_values[OPT_INFINITY]) {
    cli_error(self->name, "--table, --query, --incremental-column, --readers and --infinity "
                          "go with --pg");
    goto out;
  }
  if (c.nargs == 0) {
    cli_error(self->name, "which file? (tarn ingest FILE.csv --name NAME)");
    goto out;
  }
  if (c.nargs > 1) {
    cli_error(self->name, "one file at a time (got %d arguments)", c.nargs);
    goto out;
  }
  file = c.args[0];
  if (name == NULL && !infer) {
    cli_error(self->name, "--name NAME is required (the dataset datasets.NAME)");
    goto out;
  }
  if ((name != NULL && tarn_dataset_name_check(name, &err) != 0) ||
      tarn_ingest_parse_mode(c.opt_values[OPT_MODE], &append, &err) != 0 ||
      tarn_ingest_parse_delimiter(c.opt_values[OPT_DELIM], &delim, &err) != 0) {
    cli_error(self->name, "%s", tarn_error_message(&err));
    goto out;
  }
  tarn_settings_apply_log(c.cfg);
  /* The summary line says what happened; info logs would only break the progress bar.
   * An explicit --log-level (or file, or env) still wins. */
  if (strcmp(tarn_config_source(c.cfg, "log", "level"), "default") == 0)
    tarn_log_set_level(TARN_LOG_WARN);
  rc = TARN_EXIT_FAIL;

  /* --infer-only writes nothing, so it does not even open the lake. */
  if (!infer) {
    if (tarn_lake_open(c.cfg, 0, &lake, &err) != 0) {
      cli_error(self->name, "%s", tarn_error_message(&err));
      goto out;
    }
    env.cat = lake->cat;
    env.io = &lake->io;
    env.spool_dir = lake->spool_dir;
  }
  fd = strcmp(file, "-") == 0 ? dup(0) : open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    cli_error(self->name, "cannot open %s: %s", file, strerror(errno));
    goto out;
  }
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const char *tmp = getenv("TMPDIR");
    int spooled;
    snprintf(spool_tmp, sizeof(spool_tmp), "%s",
             infer ? (tmp && tmp[0] ? tmp : "/tmp") : lake->spool_dir);
    spooled = spool_input(fd, spool_tmp, &err);
    close(fd);
    fd = spooled;
    if (fd < 0 || fstat(fd, &st) != 0) {
      cli_error(self->name, "%s: %s", file, tarn_error_message(&err));
      goto out;
    }
  }

  tarn_ingest_options_init(&o);
  o.name = name ? name : "infer_only";
  o.append = append;
  o.delimiter = delim;
  o.infer_only = infer;
  o.threads = (int)tarn_config_int(c.cfg, "ingest", "threads");
  o.memory_budget = (size_t)tarn_config_int(c.cfg, "ingest", "memory_budget");
  o.source =
      strcmp(file, "-") == 0 ? "stdin" : (strrchr(file, '/') ? strrchr(file, '/') + 1 : file);
  if (isatty(2)) {
    prog.total = (uint64_t)st.st_size;
    o.progress = on_progress;
    o.progress_arg = &prog;
  }
  t0 = tarn_clock_mono_ns();
  if (tarn_ingest_csv(&env, fd, &o, &r, &err) != 0) {
    progress_end(&prog);
    rc = report_failure(self->name, file, &r, &err, json);
    goto out;
  }
  progress_end(&prog);
  if (infer) {
    if (json)
      print_json(json_pack("{s:I,s:o,s:s,s:s,s:s#,s:b}", "row_count", (json_int_t)r.row_count,
                           "columns", columns_json(&r), "fingerprint", r.fingerprint,
                           "source_sha256", r.source_sha256, "delimiter", &r.delimiter, (size_t)1,
                           "delimiter_detected", r.delimiter_detected));
    else {
      print_schema(file, &r);
      printf("nothing was written (--infer-only)\n");
    }
    rc = TARN_EXIT_OK;
    goto out;
  }
  print_result(&env, name, &r, append, json, (double)(tarn_clock_mono_ns() - t0) / 1e9, st.st_size);
  journal_ingest(&c, self->name, name, o.source, r.snapshot_id, r.row_count, r.source_sha256,
                 r.existing  ? "existing"
                 : r.created ? "created"
                 : append    ? "appended"
                             : "replaced");
  rc = TARN_EXIT_OK;
out:
  if (fd >= 0)
    close(fd);
  tarn_ingest_result_free(&r);
  tarn_lake_close(lake);
  cli_free(&c);
  return rc;
}
