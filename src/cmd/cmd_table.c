/* cmd_table.c - `tarn table ...`: create, list, show, snapshots, add-column, expire and
 * remove-orphans over the lake's Iceberg tables; scan/append/overwrite are in
 * cmd_table_rows.c. */
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
    [TOPT_OLDER_THAN] = {"older-than", 1, "AGE|TIME",
                         "an age (90m, 7d) or an ISO-8601 time"},
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
  const char *args;    /* positional arguments after the subcommand, for usage */
  int min_args, max_args;
  unsigned opts;       /* options that apply */
  const char *summary; /* one line for `tarn table --help` */
  const char *help;
  int (*run)(table_cx *x);
} table_sub;

static int sub_create(table_cx *x);
static int sub_list(table_cx *x);
static int sub_show(table_cx *x);
static int sub_snapshots(table_cx *x);
static int sub_append(table_cx *x);
static int sub_overwrite(table_cx *x);
static int sub_add_column(table_cx *x);
static int sub_set_properties(table_cx *x);
static int sub_expire(table_cx *x);
static int sub_remove_orphans(table_cx *x);

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
     sub_create},
    {"list", "[NS]", 0, 1, O(TOPT_JSON),
     "list tables",
     "Lists the tables of namespace NS, or of every namespace, as NS.NAME lines.\n", sub_list},
    {"show", "NS.NAME", 1, 1, O(TOPT_JSON),
     "location, schema, spec, properties, current snapshot",
     "Shows a table: location, metadata file, schema, partition spec, sort order,\n"
     "properties and the current snapshot. --json adds the whole metadata document.\n",
     sub_show},
    {"snapshots", "NS.NAME", 1, 1, O(TOPT_JSON),
     "the snapshot history",
     "Lists the snapshots, oldest first: id, parent id, sequence number, time (UTC),\n"
     "operation and summary. '*' marks the current one.\n",
     sub_snapshots},
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
     sub_add_column},
    {"set-properties", "NS.NAME --property K=V...", 1, 1, O(TOPT_PROPERTY) | O(TOPT_JSON),
     "set or remove table properties",
     "Sets each --property KEY=VALUE on the table in one commit; KEY= (empty value)\n"
     "removes KEY. For example commit.retry.num-retries=10.\n",
     sub_set_properties},
    {"expire", "NS.NAME", 1, 1, O(TOPT_OLDER_THAN) | O(TOPT_KEEP_LAST) | O(TOPT_JSON),
     "expire old snapshots and their files",
     "Expires snapshots older than --older-than (default: table property\n"
     "history.expire.max-snapshot-age-ms, else 5d) except the current one and the newest\n"
     "--keep-last (default: history.expire.min-snapshots-to-keep, else 1), then deletes\n"
     "the manifest lists, manifests and data files only they reached.\n",
     sub_expire},
    {"remove-orphans", "NS.NAME", 1, 1, O(TOPT_OLDER_THAN) | O(TOPT_DRY_RUN) | O(TOPT_JSON),
     "delete files nothing references",
     "Deletes files under the table location that no metadata file, snapshot or manifest\n"
     "references and that are older than --older-than (default 3d: a grace period so\n"
     "that files of a commit in flight are never taken), e.g. what a killed writer left,\n"
     "its unfinished temp files (.tarn-tmp-*) included.\n",
     sub_remove_orphans},
    {NULL, NULL, 0, 0, 0, NULL, NULL, NULL},
};

/* ---- help ---- */

static void print_opts_for(const cli *c, unsigned mask) {
  cli_opt sel[TOPT_COUNT + 2];
  size_t n = 0, k;
  for (k = 0; k < TOPT_COUNT; k++)
    if (mask & O(k))
      sel[n++] = table_opts[k];
  sel[n++] = table_opts[TOPT_CATALOG];
  memset(&sel[n], 0, sizeof(sel[n]));
  cli_print_options(c, sel, stdout);
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

static void print_json(json_t *j) {
  char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  if (s != NULL)
    printf("%s\n", s);
  tarn_free(s);
}

static void iso_ms(int64_t ms, char *out, size_t n) { tarn_time_iso8601(ms * 1000, 3, out, n); }

static char *trim(char *s) {
  char *e;
  while (isspace((unsigned char)*s))
    s++;
  e = s + strlen(s);
  while (e > s && isspace((unsigned char)e[-1]))
    *--e = '\0';
  return s;
}

/*
 * Splits `text` at top-level commas (not inside parentheses or brackets) into a copy
 * whose pieces are trimmed and NUL-separated; returns the count (-1: out of memory).
 */
static int split_list(const char *text, char **copy, char **items, int max) {
  char *s = tarn_strdup(text), *start;
  int depth = 0, n = 0;
  *copy = s;
  if (s == NULL)
    return -1;
  start = s;
  for (;; s++) {
    if (*s == '(' || *s == '[')
      depth++;
    else if ((*s == ')' || *s == ']') && depth > 0)
      depth--;
    if ((*s == ',' && depth == 0) || *s == '\0') {
      int end = *s == '\0';
      *s = '\0';
      if (n < max)
        items[n] = trim(start);
      n++;
      if (end)
        break;
      start = s + 1;
    }
  }
  return n;
}

/* Iceberg's conventional partition field name for a transform of `col`. */
static void partition_name(const tarn_ice_transform *t, const char *col, char *out, size_t n) {
  static const char *const sfx[] = {"", "", "_bucket", "_trunc", "_year", "_month", "_day",
                                    "_hour", "_null"};
  snprintf(out, n, "%s%s", col, t->kind <= TARN_ICE_VOID ? sfx[t->kind] : "");
}

/*
 * Parses a term: "col", "identity(col)", "bucket(16, col)", "truncate(4, col)",
 * "year(col)" ... The rest after the term (for sort fields) goes to *rest.
 */
static int parse_term(const char *text, const tarn_ice_schema *s, tarn_ice_transform *tr,
                      int32_t *source_id, const char **col, const char **rest, char *why,
                      size_t whylen) {
  char fn[32], arg1[64], name[256];
  const char *p = text, *open, *close;
  const tarn_ice_field *f;
  size_t n;
  memset(tr, 0, sizeof(*tr));
  tr->kind = TARN_ICE_IDENTITY;
  n = strcspn(p, "( \t");
  open = p[n] == '(' ? p + n : NULL;
  if (open == NULL) { /* a bare column */
    if (n == 0 || n >= sizeof(name)) {
      snprintf(why, whylen, "\"%s\": expected a column or a transform", text);
      return -1;
    }
    memcpy(name, p, n);
    name[n] = '\0';
    *rest = p + n;
  } else {
    char *inner, *comma;
    close = strchr(open, ')');
    if (n == 0 || n >= sizeof(fn) || close == NULL || (size_t)(close - open - 1) >= sizeof(name)) {
      snprintf(why, whylen, "\"%s\": expected TRANSFORM(COLUMN) or TRANSFORM(N, COLUMN)", text);
      return -1;
    }
    memcpy(fn, p, n);
    fn[n] = '\0';
    memcpy(name, open + 1, (size_t)(close - open - 1));
    name[close - open - 1] = '\0';
    *rest = close + 1;
    for (n = 0; fn[n]; n++)
      fn[n] = (char)tolower((unsigned char)fn[n]);
    comma = strchr(name, ',');
    if (strcmp(fn, "bucket") == 0 || strcmp(fn, "truncate") == 0) {
      char tname[128];
      if (comma == NULL) {
        snprintf(why, whylen, "\"%s\": %s needs a width: %s(N, COLUMN)", text, fn, fn);
        return -1;
      }
      *comma = '\0';
      snprintf(arg1, sizeof(arg1), "%s", trim(name));
      memmove(name, comma + 1, strlen(comma + 1) + 1);
      snprintf(tname, sizeof(tname), "%s[%s]", fn, arg1);
      if (tarn_ice_transform_parse(tname, tr, NULL) != 0) {
        snprintf(why, whylen, "\"%s\": %s needs a positive integer width (got \"%s\")", text, fn,
                 arg1);
        return -1;
      }
    } else if (comma != NULL || tarn_ice_transform_parse(fn, tr, NULL) != 0) {
      snprintf(why, whylen,
               "\"%s\": unknown transform (identity, bucket(N, col), truncate(W, col), year, "
               "month, day, hour, void)",
               text);
      return -1;
    }
    inner = trim(name);
    memmove(name, inner, strlen(inner) + 1);
  }
  f = tarn_ice_schema_field_by_name(s, name);
  if (f == NULL) {
    snprintf(why, whylen, "\"%s\": no column \"%s\" in the schema", text, name);
    return -1;
  }
  *source_id = f->id;
  *col = f->name;
  return 0;
}

/* "id long not null, ts timestamptz, ..." into a schema (field ids 1..n). */
static int parse_schema(const char *text, tarn_ice_schema *out, char *why, size_t whylen) {
  char *copy = NULL, *items[1024];
  int n = split_list(text, &copy, items, 1024), i;
  memset(out, 0, sizeof(*out));
  if (n < 0) {
    snprintf(why, whylen, "out of memory");
    return -1;
  }
  if (n > 1024) {
    snprintf(why, whylen, "at most 1024 columns");
    goto fail;
  }
  out->fields = tarn_calloc((size_t)n, sizeof(*out->fields));
  if (out->fields == NULL) {
    snprintf(why, whylen, "out of memory");
    goto fail;
  }
  for (i = 0; i < n; i++) {
    tarn_ice_field *f = &out->fields[i];
    char *item = items[i], *type, *tail, lower[128];
    size_t len, k;
    int required = 0;
    len = strcspn(item, " \t");
    if (len == 0 || item[len] == '\0') {
      snprintf(why, whylen, "column %d (\"%s\"): expected NAME TYPE [not null]", i + 1, item);
      goto fail;
    }
    item[len] = '\0';
    type = trim(item + len + 1);
    len = strlen(type);
    if (len >= sizeof(lower)) {
      snprintf(why, whylen, "column \"%s\": type too long", item);
      goto fail;
    }
    for (k = 0; k <= len; k++)
      lower[k] = (char)tolower((unsigned char)type[k]);
    /* trailing nullability words */
    for (;;) {
      size_t l = strlen(lower);
      if (l > 8 && strcmp(lower + l - 8, "not null") == 0) {
        required = 1;
        lower[l - 8] = '\0';
      } else if (l > 8 && strcmp(lower + l - 8, "required") == 0) {
        required = 1;
        lower[l - 8] = '\0';
      } else if (l > 8 && strcmp(lower + l - 8, "optional") == 0) {
        lower[l - 8] = '\0';
      } else if (l > 4 && strcmp(lower + l - 4, "null") == 0 &&
                 isspace((unsigned char)lower[l - 5])) {
        lower[l - 4] = '\0';
      } else {
        break;
      }
      tail = trim(lower);
      memmove(lower, tail, strlen(tail) + 1);
    }
    f->id = i + 1;
    f->required = required;
    f->name = tarn_strdup(item);
    out->nfields = (size_t)i + 1;
    if (f->name == NULL) {
      snprintf(why, whylen, "out of memory");
      goto fail;
    }
    for (k = 0; k < (size_t)i; k++) {
      if (strcmp(out->fields[k].name, f->name) == 0) {
        snprintf(why, whylen, "column \"%s\" appears twice", f->name);
        goto fail;
      }
    }
    if (tarn_ice_type_parse(lower, &f->type, NULL) != 0) {
      snprintf(why, whylen,
               "column \"%s\": unknown type \"%s\" (boolean, int, long, float, double, date, "
               "time, timestamp, timestamptz, string, uuid, binary, fixed[L], decimal(P,S))",
               f->name, lower);
      goto fail;
    }
  }
  tarn_free(copy);
  return 0;
fail:
  tarn_free(copy);
  tarn_ice_schema_free(out);
  memset(out, 0, sizeof(*out));
  return -1;
}

static void spec_free_fields(tarn_ice_spec *sp) {
  size_t i;
  for (i = 0; i < sp->nfields; i++)
    tarn_free(sp->fields[i].name);
  tarn_free(sp->fields);
  sp->fields = NULL;
  sp->nfields = 0;
}

static int parse_spec(const char *text, const tarn_ice_schema *s, tarn_ice_spec *out, char *why,
                      size_t whylen) {
  char *copy = NULL, *items[256];
  int n = split_list(text, &copy, items, 256), i, k;
  memset(out, 0, sizeof(*out));
  if (n < 0 || n > 256) {
    snprintf(why, whylen, "%s", n < 0 ? "out of memory" : "at most 256 partition fields");
    tarn_free(copy);
    return -1;
  }
  out->fields = tarn_calloc((size_t)n, sizeof(*out->fields));
  if (out->fields == NULL) {
    snprintf(why, whylen, "out of memory");
    tarn_free(copy);
    return -1;
  }
  for (i = 0; i < n; i++) {
    tarn_ice_partition_field *pf = &out->fields[i];
    const char *col, *rest;
    char pname[300];
    tarn_ice_type rt;
    tarn_error err;
    if (parse_term(items[i], s, &pf->transform, &pf->source_id, &col, &rest, why, whylen) != 0)
      goto fail;
    if (*trim((char *)rest) != '\0') {
      snprintf(why, whylen, "partition field \"%s\": unexpected \"%s\"", items[i], rest);
      goto fail;
    }
    if (tarn_ice_transform_result_type(&pf->transform,
                                       &tarn_ice_schema_field(s, pf->source_id)->type, &rt,
                                       &err) != 0) {
      snprintf(why, whylen, "partition field \"%s\": %s", items[i], tarn_error_message(&err));
      goto fail;
    }
    partition_name(&pf->transform, col, pname, sizeof(pname));
    pf->name = tarn_strdup(pname);
    out->nfields = (size_t)i + 1;
    if (pf->name == NULL) {
      snprintf(why, whylen, "out of memory");
      goto fail;
    }
    for (k = 0; k < i; k++) {
      if (strcmp(out->fields[k].name, pf->name) == 0) {
        snprintf(why, whylen, "partition field \"%s\" appears twice", pf->name);
        goto fail;
      }
    }
  }
  tarn_free(copy);
  return 0;
fail:
  tarn_free(copy);
  spec_free_fields(out);
  return -1;
}

static int parse_sort(const char *text, const tarn_ice_schema *s, tarn_ice_sort_order *out,
                      char *why, size_t whylen) {
  char *copy = NULL, *items[256];
  int n = split_list(text, &copy, items, 256), i;
  memset(out, 0, sizeof(*out));
  if (n < 0 || n > 256) {
    snprintf(why, whylen, "%s", n < 0 ? "out of memory" : "at most 256 sort fields");
    tarn_free(copy);
    return -1;
  }
  out->fields = tarn_calloc((size_t)n, sizeof(*out->fields));
  if (out->fields == NULL) {
    snprintf(why, whylen, "out of memory");
    tarn_free(copy);
    return -1;
  }
  out->order_id = 1;
  for (i = 0; i < n; i++) {
    tarn_ice_sort_field *sf = &out->fields[i];
    const char *col, *rest;
    char words[128], *w, *save = NULL;
    int nulls = -1;
    if (parse_term(items[i], s, &sf->transform, &sf->source_id, &col, &rest, why, whylen) != 0)
      goto fail;
    snprintf(words, sizeof(words), "%s", rest);
    for (w = strtok_r(words, " \t", &save); w != NULL; w = strtok_r(NULL, " \t", &save)) {
      size_t k;
      for (k = 0; w[k]; k++)
        w[k] = (char)tolower((unsigned char)w[k]);
      if (strcmp(w, "asc") == 0)
        sf->descending = 0;
      else if (strcmp(w, "desc") == 0)
        sf->descending = 1;
      else if (strcmp(w, "nulls-first") == 0)
        nulls = 1;
      else if (strcmp(w, "nulls-last") == 0)
        nulls = 0;
      else if (strcmp(w, "nulls") == 0) {
        w = strtok_r(NULL, " \t", &save);
        if (w != NULL && strcasecmp(w, "first") == 0)
          nulls = 1;
        else if (w != NULL && strcasecmp(w, "last") == 0)
          nulls = 0;
        else {
          snprintf(why, whylen, "sort field \"%s\": expected nulls first|last", items[i]);
          goto fail;
        }
      } else {
        snprintf(why, whylen, "sort field \"%s\": unexpected \"%s\" (asc, desc, nulls-first, "
                 "nulls-last)", items[i], w);
        goto fail;
      }
    }
    /* Iceberg's default: nulls first when ascending, last when descending */
    sf->nulls_first = nulls >= 0 ? nulls : !sf->descending;
    out->nfields = (size_t)i + 1;
  }
  tarn_free(copy);
  return 0;
fail:
  tarn_free(copy);
  tarn_free(out->fields);
  memset(out, 0, sizeof(*out));
  return -1;
}

static void describe_term(const tarn_ice_schema *s, const tarn_ice_transform *tr, int32_t source,
                          char *out, size_t n) {
  const tarn_ice_field *f = tarn_ice_schema_field(s, source);
  const char *col = f ? f->name : "?";
  switch (tr->kind) {
  case TARN_ICE_IDENTITY: snprintf(out, n, "%s", col); break;
  case TARN_ICE_BUCKET: snprintf(out, n, "bucket(%d, %s)", (int)tr->param, col); break;
  case TARN_ICE_TRUNCATE: snprintf(out, n, "truncate(%d, %s)", (int)tr->param, col); break;
  case TARN_ICE_YEAR: snprintf(out, n, "year(%s)", col); break;
  case TARN_ICE_MONTH: snprintf(out, n, "month(%s)", col); break;
  case TARN_ICE_DAY: snprintf(out, n, "day(%s)", col); break;
  case TARN_ICE_HOUR: snprintf(out, n, "hour(%s)", col); break;
  default: snprintf(out, n, "void(%s)", col); break;
  }
}

/* ---- create ---- */

/* The --property K=V options as key/value pairs (keys owned: free_props; values borrowed).
 * With `unset_empty`, "K=" means remove K (value NULL). */
static int parse_props(table_cx *x, int unset_empty, tarn_ice_kv **out, int *n) {
  const char *pv[CLI_MAX_REPEATS];
  tarn_ice_kv *props;
  int np = cli_opt_values(&x->c, TOPT_PROPERTY, pv, CLI_MAX_REPEATS), i;
  *out = NULL;
  *n = 0;
  props = tarn_calloc(np > 0 ? (size_t)np : 1, sizeof(*props));
  if (props == NULL) {
    cli_error("table", "out of memory");
    return TARN_EXIT_FAIL;
  }
  *out = props;
  for (i = 0; i < np; i++) {
    const char *eq = strchr(pv[i], '=');
    if (eq == NULL || eq == pv[i]) {
      cli_error("table", "--property \"%s\": expected KEY=VALUE", pv[i]);
      return TARN_EXIT_USAGE;
    }
    props[i].key = tarn_strndup(pv[i], (size_t)(eq - pv[i]));
    props[i].value = unset_empty && eq[1] == '\0' ? NULL : (char *)(eq + 1);
    if (props[i].key == NULL) {
      cli_error("table", "out of memory");
      return TARN_EXIT_FAIL;
    }
    *n = i + 1;
  }
  return TARN_EXIT_OK;
}

static void free_props(tarn_ice_kv *props, int n) {
  int i;
  for (i = 0; props != NULL && i < n; i++)
    tarn_free(props[i].key);
  tarn_free(props);
}

static int sub_set_properties(table_cx *x) {
  tarn_ice_kv *props = NULL;
  tarn_table *t = NULL;
  tarn_error err;
  int np = 0, rc;
  rc = parse_props(x, 1, &props, &np);
  if (rc == TARN_EXIT_OK && np == 0) {
    cli_error("table", "set-properties needs at least one --property KEY=VALUE");
    rc = TARN_EXIT_USAGE;
  }
  if (rc == TARN_EXIT_OK)
    rc = table_open(x, &t);
  if (rc != TARN_EXIT_OK)
    goto out;
  if (tarn_table_set_properties(t, props, (size_t)np, &err) != 0) {
    cli_error("table", "setting properties of %s.%s: %s", x->ns, x->name,
              tarn_error_message(&err));
    rc = TARN_EXIT_FAIL;
    goto out;
  }
  if (x->json) {
    json_t *o = json_object();
    json_object_set_new(o, "table", json_sprintf("%s.%s", x->ns, x->name));
    json_object_set_new(o, "metadata_location", json_string(tarn_table_metadata_location(t)));
    print_json(o);
    json_decref(o);
  } else {
    printf("set %d propert%s of %s.%s\n", np, np == 1 ? "y" : "ies", x->ns, x->name);
  }
out:
  free_props(props, np);
  tarn_table_close(t);
  return rc;
}

static int sub_create(table_cx *x) {
  tarn_ice_schema schema;
  tarn_ice_spec spec;
  tarn_ice_sort_order order;
  tarn_ice_kv *props = NULL;
  tarn_table *t = NULL;
  tarn_error err;
  char why[512];
  int np = 0, rc = TARN_EXIT_USAGE;
  memset(&schema, 0, sizeof(schema));
  memset(&spec, 0, sizeof(spec));
  memset(&order, 0, sizeof(order));
  if (x->c.opt_values[TOPT_SCHEMA] == NULL) {
    cli_error("table", "create needs --schema \"NAME TYPE [not null], ...\"");
    goto out;
  }
  if (parse_schema(x->c.opt_values[TOPT_SCHEMA], &schema, why, sizeof(why)) != 0) {
    cli_error("table", "--schema: %s", why);
    goto out;
  }
  if (x->c.opt_values[TOPT_PARTITION] != NULL &&
      parse_spec(x->c.opt_values[TOPT_PARTITION], &schema, &spec, why, sizeof(why)) != 0) {
    cli_error("table", "--partition: %s", why);
    goto out;
  }
  if (x->c.opt_values[TOPT_SORT] != NULL &&
      parse_sort(x->c.opt_values[TOPT_SORT], &schema, &order, why, sizeof(why)) != 0) {
    cli_error("table", "--sort: %s", why);
    goto out;
  }
  rc = parse_props(x, 0, &props, &np);
  if (rc != TARN_EXIT_OK)
    goto out;
  rc = TARN_EXIT_FAIL;
  if (tarn_catalog_create_namespace(x->cat, x->ns, NULL, 0, &err) != 0 &&
      err.code != TARN_EEXIST) {
    cli_error("table", "creating namespace %s: %s", x->ns, tarn_error_message(&err));
    goto out;
  }
  if (tarn_table_create(x->cat, &x->io, x->ns, x->name, &schema, spec.nfields ? &spec : NULL,
                        order.nfields ? &order : NULL, props, (size_t)np,
                        x->c.opt_values[TOPT_LOCATION], &t, &err) != 0) {
    cli_error("table", "creating table %s.%s: %s", x->ns, x->name, tarn_error_message(&err));
    goto out;
  }
  rc = TARN_EXIT_OK;
  if (x->json) {
    json_t *o = json_object();
    json_object_set_new(o, "table", json_sprintf("%s.%s", x->ns, x->name));
    json_object_set_new(o, "location", json_string(tarn_table_metadata(t)->location));
    json_object_set_new(o, "metadata_location", json_string(tarn_table_metadata_location(t)));
    print_json(o);
    json_decref(o);
  } else {
    printf("created table %s.%s at %s\n", x->ns, x->name, tarn_table_metadata(t)->location);
  }
out:
  free_props(props, np);
  tarn_table_close(t);
  tarn_ice_schema_free(&schema);
  spec_free_fields(&spec);
  tarn_free(order.fields);
  return rc;
}

/* ---- list ---- */

static int list_ns(table_cx *x, const char *ns, json_t *arr, int *count) {
  tarn_catalog_names tables, children;
  tarn_error err;
  size_t i;
  int rc = 0;
  tarn_catalog_names_init(&tables);
  tarn_catalog_names_init(&children);
  if (ns[0] != '\0') {
    rc = tarn_catalog_list_tables(x->cat, ns, &tables, &err);
    if (rc != 0) {
      cli_error("table", "listing tables of %s: %s", ns, tarn_error_message(&err));
      goto out;
    }
    for (i = 0; i < tables.count; i++) {
      (*count)++;
      if (arr != NULL) {
        json_t *o = json_object();
        json_object_set_new(o, "table", json_sprintf("%s.%s", ns, tables.items[i]));
        json_object_set_new(o, "namespace", json_string(ns));
        json_object_set_new(o, "name", json_string(tables.items[i]));
        json_array_append_new(arr, o);
      } else {
        printf("%s.%s\n", ns, tables.items[i]);
      }
    }
  }
  rc = tarn_catalog_list_namespaces(x->cat, ns, &children, &err);
  if (rc != 0) {
    cli_error("table", "listing namespaces%s%s: %s", ns[0] ? " under " : "", ns,
              tarn_error_message(&err));
    goto out;
  }
  for (i = 0; i < children.count && rc == 0; i++)
    if (strcmp(children.items[i], ns) != 0)
      rc = list_ns(x, children.items[i], arr, count);
out:
  tarn_catalog_names_free(&tables);
  tarn_catalog_names_free(&children);
  return rc;
}

static int sub_list(table_cx *x) {
  json_t *arr = x->json ? json_array() : NULL;
  int count = 0, rc;
  rc = list_ns(x, x->c.nargs > 1 ? x->c.args[1] : "", arr, &count);
  if (rc == 0 && arr != NULL)
    print_json(arr);
  json_decref(arr);
  return rc == 0 ? TARN_EXIT_OK : TARN_EXIT_FAIL;
}

/* ---- show ---- */

static json_t *metadata_json(const tarn_ice_metadata *m) {
  tarn_buf b;
  json_t *j = NULL;
  tarn_buf_init(&b, (size_t)64 << 20);
  if (tarn_ice_metadata_write(m, &b, NULL) == 0)
    j = json_loadb(b.data, b.len, 0, NULL);
  tarn_buf_free(&b);
  return j;
}

static void print_summary_kv(const tarn_ice_snapshot *s, const char *sep) {
  size_t i;
  for (i = 0; i < s->nsummary; i++)
    printf("%s%s=%s", i ? sep : "", s->summary[i].key, s->summary[i].value);
}

static int sub_show(table_cx *x) {
  tarn_table *t = NULL;
  const tarn_ice_metadata *m;
  const tarn_ice_schema *s;
  const tarn_ice_spec *spec;
  const tarn_ice_snapshot *cur;
  size_t i;
  char buf[256], ts[TARN_TIME_ISO_MAX];
  int rc = table_open(x, &t);
  if (rc != TARN_EXIT_OK)
    return rc;
  m = tarn_table_metadata(t);
  s = tarn_table_schema(t);
  spec = tarn_table_spec(t);
  cur = tarn_ice_metadata_snapshot(m, m->current_snapshot_id);
  if (x->json) {
    json_t *o = json_object(), *md = metadata_json(m);
    json_object_set_new(o, "table", json_sprintf("%s.%s", x->ns, x->name));
    json_object_set_new(o, "namespace", json_string(x->ns));
    json_object_set_new(o, "name", json_string(x->name));
    json_object_set_new(o, "location", json_string(m->location));
    json_object_set_new(o, "metadata_location", json_string(tarn_table_metadata_location(t)));
    json_object_set_new(o, "current_snapshot_id", json_integer(m->current_snapshot_id));
    json_object_set_new(o, "snapshots", json_integer((json_int_t)m->nsnapshots));
    json_object_set_new(o, "metadata", md ? md : json_null());
    print_json(o);
    json_decref(o);
    tarn_table_close(t);
    return TARN_EXIT_OK;
  }
  printf("table:     %s.%s\nlocation:  %s\nmetadata:  %s\nuuid:      %s\nformat:    v%d\n",
         x->ns, x->name, m->location, tarn_table_metadata_location(t), m->table_uuid,
         m->format_version);
  printf("schema %d:\n", s ? (int)s->schema_id : -1);
  for (i = 0; s != NULL && i < s->nfields; i++) {
    tarn_ice_type_format(&s->fields[i].type, buf, sizeof(buf));
    printf("  %4d  %-24s %-16s %s%s%s\n", (int)s->fields[i].id, s->fields[i].name, buf,
           s->fields[i].required ? "required" : "optional", s->fields[i].doc ? "  -- " : "",
           s->fields[i].doc ? s->fields[i].doc : "");
  }
  printf("partition spec %d:%s\n", spec ? (int)spec->spec_id : -1,
         spec == NULL || spec->nfields == 0 ? " unpartitioned" : "");
  for (i = 0; spec != NULL && i < spec->nfields; i++) {
    describe_term(s, &spec->fields[i].transform, spec->fields[i].source_id, buf, sizeof(buf));
    printf("  %4d  %-24s %s\n", (int)spec->fields[i].field_id, spec->fields[i].name, buf);
  }
  for (i = 0; i < m->nsort_orders; i++) {
    const tarn_ice_sort_order *o = &m->sort_orders[i];
    size_t k;
    if (o->order_id != m->default_sort_order_id)
      continue;
    printf("sort order %d:%s", (int)o->order_id, o->nfields == 0 ? " unsorted" : "");
    for (k = 0; k < o->nfields; k++) {
      describe_term(s, &o->fields[k].transform, o->fields[k].source_id, buf, sizeof(buf));
      printf("%s %s %s %s", k ? "," : "", buf, o->fields[k].descending ? "desc" : "asc",
             o->fields[k].nulls_first ? "nulls-first" : "nulls-last");
    }
    printf("\n");
  }
  printf("properties:%s\n", m->nproperties == 0 ? " none" : "");
  for (i = 0; i < m->nproperties; i++)
    printf("  %s = %s\n", m->properties[i].key, m->properties[i].value);
  if (cur == NULL) {
    printf("current snapshot: none (empty table)\n");
  } else {
    iso_ms(cur->timestamp_ms, ts, sizeof(ts));
    printf("current snapshot: %lld (sequence %lld, %s, %s; %zu snapshot%s)\n  ",
           (long long)cur->snapshot_id, (long long)cur->sequence_number, ts,
           cur->operation ? cur->operation : "?", m->nsnapshots, m->nsnapshots == 1 ? "" : "s");
    print_summary_kv(cur, ", ");
    printf("\n");
  }
  tarn_table_close(t);
  return TARN_EXIT_OK;
}

/* ---- snapshots ---- */

static int cmp_seq(const void *a, const void *b) {
  const tarn_ice_snapshot *x = *(const tarn_ice_snapshot *const *)a;
  const tarn_ice_snapshot *y = *(const tarn_ice_snapshot *const *)b;
  if (x->sequence_number != y->sequence_number)
    return x->sequence_number < y->sequence_number ? -1 : 1;
  return x->timestamp_ms < y->timestamp_ms ? -1 : x->timestamp_ms > y->timestamp_ms;
}

static int sub_snapshots(table_cx *x) {
  tarn_table *t = NULL;
  const tarn_ice_metadata *m;
  const tarn_ice_snapshot **order;
  json_t *arr = NULL;
  size_t i, k;
  char ts[TARN_TIME_ISO_MAX];
  int rc = table_open(x, &t);
  if (rc != TARN_EXIT_OK)
    return rc;
  m = tarn_table_metadata(t);
  order = tarn_calloc(m->nsnapshots ? m->nsnapshots : 1, sizeof(*order));
  if (order == NULL) {
    cli_error("table", "out of memory");
    tarn_table_close(t);
    return TARN_EXIT_FAIL;
  }
  for (i = 0; i < m->nsnapshots; i++)
    order[i] = &m->snapshots[i];
  qsort(order, m->nsnapshots, sizeof(*order), cmp_seq);
  if (x->json)
    arr = json_array();
  else
    printf("%-1s %-20s %-20s %6s %-24s %-9s %s\n", "", "SNAPSHOT", "PARENT", "SEQ", "TIME (UTC)",
           "OPERATION", "SUMMARY");
  for (i = 0; i < m->nsnapshots; i++) {
    const tarn_ice_snapshot *s = order[i];
    iso_ms(s->timestamp_ms, ts, sizeof(ts));
    if (arr != NULL) {
      json_t *o = json_object(), *sum = json_object();
      json_object_set_new(o, "snapshot_id", json_integer(s->snapshot_id));
      json_object_set_new(o, "parent_id", s->parent_id >= 0 ? json_integer(s->parent_id)
                                                            : json_null());
      json_object_set_new(o, "sequence_number", json_integer(s->sequence_number));
      json_object_set_new(o, "timestamp_ms", json_integer(s->timestamp_ms));
      json_object_set_new(o, "timestamp", json_string(ts));
      json_object_set_new(o, "operation", s->operation ? json_string(s->operation) : json_null());
      json_object_set_new(o, "schema_id", s->schema_id >= 0 ? json_integer(s->schema_id)
                                                            : json_null());
      json_object_set_new(o, "manifest_list", json_string(s->manifest_list));
      json_object_set_new(o, "current", json_boolean(s->snapshot_id == m->current_snapshot_id));
      for (k = 0; k < s->nsummary; k++)
        json_object_set_new(sum, s->summary[k].key, json_string(s->summary[k].value));
      json_object_set_new(o, "summary", sum);
      json_array_append_new(arr, o);
    } else {
      char parent[24];
      if (s->parent_id >= 0)
        snprintf(parent, sizeof(parent), "%lld", (long long)s->parent_id);
      else
        snprintf(parent, sizeof(parent), "-");
      printf("%-1s %-20lld %-20s %6lld %-24s %-9s ",
             s->snapshot_id == m->current_snapshot_id ? "*" : "", (long long)s->snapshot_id,
             parent, (long long)s->sequence_number, ts, s->operation ? s->operation : "?");
      print_summary_kv(s, " ");
      printf("\n");
    }
  }
  if (arr != NULL)
    print_json(arr);
  json_decref(arr);
  tarn_free(order);
  tarn_table_close(t);
  return TARN_EXIT_OK;
}

/* ---- append, overwrite ---- */

static int sub_append(table_cx *x) { return table_write(x, 0); }
static int sub_overwrite(table_cx *x) { return table_write(x, 1); }

/* ---- add-column ---- */

static int sub_add_column(table_cx *x) {
  tarn_table *t = NULL;
  tarn_ice_type ty;
  tarn_error err;
  char lower[128];
  int32_t fid = 0;
  size_t k;
  int rc;
  snprintf(lower, sizeof(lower), "%s", x->c.args[3]);
  for (k = 0; lower[k]; k++)
    lower[k] = (char)tolower((unsigned char)lower[k]);
  if (tarn_ice_type_parse(lower, &ty, &err) != 0) {
    cli_error("table", "add-column: %s", tarn_error_message(&err));
    return TARN_EXIT_USAGE;
  }
  rc = table_open(x, &t);
  if (rc != TARN_EXIT_OK)
    return rc;
  if (tarn_table_add_column(t, x->c.args[2], &ty, x->c.opt_values[TOPT_DOC], &fid, &err) != 0) {
    cli_error("table", "adding column \"%s\" to %s.%s: %s", x->c.args[2], x->ns, x->name,
              tarn_error_message(&err));
    tarn_table_close(t);
    return TARN_EXIT_FAIL;
  }
  if (x->json) {
    json_t *o = json_object();
    json_object_set_new(o, "table", json_sprintf("%s.%s", x->ns, x->name));
    json_object_set_new(o, "column", json_string(x->c.args[2]));
    json_object_set_new(o, "field_id", json_integer(fid));
    json_object_set_new(o, "schema_id", json_integer(tarn_table_metadata(t)->current_schema_id));
    print_json(o);
    json_decref(o);
  } else {
    printf("added column %s (%s, field id %d) to %s.%s: schema %d\n", x->c.args[2], lower,
           (int)fid, x->ns, x->name, (int)tarn_table_metadata(t)->current_schema_id);
  }
  tarn_table_close(t);
  return TARN_EXIT_OK;
}

/* ---- maintenance ---- */

/* An age ("7d", "90m") before now, or an ISO-8601 time, as Unix milliseconds. */
static int parse_cutoff(const char *s, int64_t *ms) {
  int64_t d, us;
  int32_t day;
  int zone;
  if (tarn_parse_duration_ms(s, &d, NULL) == 0 && d >= 0) {
    *ms = tarn_clock_wall_us() / 1000 - d;
    return 0;
  }
  if (tarn_csv_parse_timestamp(s, strlen(s), &us, &zone) == 0) {
    *ms = us >= 0 ? us / 1000 : -((-us + 999) / 1000);
    return 0;
  }
  if (tarn_csv_parse_date(s, strlen(s), &day) == 0) {
    *ms = (int64_t)day * 86400000LL;
    return 0;
  }
  return -1;
}

static int prop_int(const tarn_ice_metadata *m, const char *key, int64_t def) {
  const char *v = tarn_ice_metadata_property(m, key);
  char *end;
  long long n;
  if (v == NULL)
    return (int)def;
  errno = 0;
  n = strtoll(v, &end, 10);
  return errno == 0 && end != v && *end == '\0' && n >= 0 && n <= INT_MAX ? (int)n : (int)def;
}

static int sub_expire(table_cx *x) {
  tarn_table *t = NULL;
  tarn_table_expire_result res;
  tarn_error err;
  const tarn_ice_metadata *m;
  int64_t cutoff;
  const char *v;
  char iso[TARN_TIME_ISO_MAX];
  int keep, rc = table_open(x, &t);
  if (rc != TARN_EXIT_OK)
    return rc;
  m = tarn_table_metadata(t);
  v = x->c.opt_values[TOPT_OLDER_THAN];
  if (v != NULL) {
    if (parse_cutoff(v, &cutoff) != 0) {
      cli_error("table", "--older-than \"%s\": expected an age (90m, 7d) or an ISO-8601 time", v);
      tarn_table_close(t);
      return TARN_EXIT_USAGE;
    }
  } else {
    const char *age = tarn_ice_metadata_property(m, "history.expire.max-snapshot-age-ms");
    long long a = age ? strtoll(age, NULL, 10) : 0;
    cutoff = tarn_clock_wall_us() / 1000 - (a > 0 ? a : 5LL * 86400000LL);
  }
  keep = prop_int(m, "history.expire.min-snapshots-to-keep", 1);
  v = x->c.opt_values[TOPT_KEEP_LAST];
  if (v != NULL) {
    char *end;
    long n;
    errno = 0;
    n = strtol(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || n < 1 || n > INT_MAX) {
      cli_error("table", "--keep-last \"%s\": expected a positive integer", v);
      tarn_table_close(t);
      return TARN_EXIT_USAGE;
    }
    keep = (int)n;
  }
  if (tarn_table_expire_snapshots(t, cutoff, keep, &res, &err) != 0) {
    cli_error("table", "expiring snapshots of %s.%s: %s", x->ns, x->name,
              tarn_error_message(&err));
    tarn_table_close(t);
    return TARN_EXIT_FAIL;
  }
  iso_ms(cutoff, iso, sizeof(iso));
  if (x->json) {
    json_t *o = json_object();
    json_object_set_new(o, "table", json_sprintf("%s.%s", x->ns, x->name));
    json_object_set_new(o, "older_than", json_string(iso));
    json_object_set_new(o, "keep_last", json_integer(keep));
    json_object_set_new(o, "snapshots_expired", json_integer((json_int_t)res.snapshots_expired));
    json_object_set_new(o, "files_deleted", json_integer((json_int_t)res.files_deleted));
    json_object_set_new(o, "snapshots_left",
                        json_integer((json_int_t)tarn_table_metadata(t)->nsnapshots));
    print_json(o);
    json_decref(o);
  } else {
    printf("%s.%s: expired %zu snapshot%s older than %s (keeping the newest %d), deleted %zu "
           "file%s; %zu snapshot%s left\n",
           x->ns, x->name, res.snapshots_expired, res.snapshots_expired == 1 ? "" : "s", iso, keep,
           res.files_deleted, res.files_deleted == 1 ? "" : "s",
           tarn_table_metadata(t)->nsnapshots, tarn_table_metadata(t)->nsnapshots == 1 ? "" : "s");
  }
  tarn_table_close(t);
  return TARN_EXIT_OK;
}

typedef struct orphan_cx {
  table_cx *x;
  json_t *arr;
  uint64_t bytes;
  int dry_run;
} orphan_cx;

static void each_orphan(const char *key, uint64_t size, void *arg) {
  orphan_cx *o = arg;
  o->bytes += size;
  if (o->arr != NULL) {
    json_t *e = json_object();
    json_object_set_new(e, "key", json_string(key));
    json_object_set_new(e, "uri", json_sprintf("%s%s", o->x->root_uri, key));
    json_object_set_new(e, "size", json_integer((json_int_t)size));
    json_array_append_new(o->arr, e);
  } else {
    printf("%s %s (%llu bytes)\n", o->dry_run ? "would remove" : "removing", key,
           (unsigned long long)size);
  }
}

static int sub_remove_orphans(table_cx *x) {
  tarn_table *t = NULL;
  tarn_error err;
  orphan_cx o;
  int64_t cutoff;
  size_t removed = 0;
  const char *v = x->c.opt_values[TOPT_OLDER_THAN];
  int rc;
  memset(&o, 0, sizeof(o));
  o.x = x;
  o.dry_run = x->c.opt_values[TOPT_DRY_RUN] != NULL;
  if (parse_cutoff(v != NULL ? v : "3d", &cutoff) != 0) {
    cli_error("table", "--older-than \"%s\": expected an age (90m, 3d) or an ISO-8601 time", v);
    return TARN_EXIT_USAGE;
  }
  rc = table_open(x, &t);
  if (rc != TARN_EXIT_OK)
    return rc;
  if (x->json)
    o.arr = json_array();
  if (tarn_table_remove_orphans(t, cutoff, o.dry_run, each_orphan, &o, &removed, &err) != 0) {
    cli_error("table", "removing orphan files of %s.%s: %s", x->ns, x->name,
              tarn_error_message(&err));
    json_decref(o.arr);
    tarn_table_close(t);
    return TARN_EXIT_FAIL;
  }
  if (x->json) {
    json_t *j = json_object();
    json_object_set_new(j, "table", json_sprintf("%s.%s", x->ns, x->name));
    json_object_set_new(j, "dry_run", json_boolean(o.dry_run));
    json_object_set_new(j, "count", json_integer((json_int_t)removed));
    json_object_set_new(j, "bytes", json_integer((json_int_t)o.bytes));
    json_object_set_new(j, "orphans", o.arr);
    print_json(j);
    json_decref(j);
  } else {
    printf("%s.%s: %zu orphan file%s, %llu bytes%s\n", x->ns, x->name, removed,
           removed == 1 ? "" : "s", (unsigned long long)o.bytes,
           o.dry_run ? " (dry run: nothing removed)" : " removed");
  }
  tarn_table_close(t);
  return TARN_EXIT_OK;
}

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
