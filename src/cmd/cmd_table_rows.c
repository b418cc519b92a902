/* cmd_table_rows.c - `tarn table scan|append|overwrite`: rows out of a table (printed from
 * the library's scan) and rows into it (JSON lines, one commit). */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "cmd_table_int.h"
#include "csv/csv.h"
#include "rowfmt.h"
#include "table/scan.h"

/* ---- scan: a printer over tarn_table_scan ---- */

/* --snapshot / --as-of as a snapshot id and a time (Unix ms), -1 when absent. */
static int scan_when(table_cx *x, int64_t *snap_id, int64_t *as_of_ms) {
  const char *sv = x->c.opt_values[TOPT_SNAPSHOT], *av = x->c.opt_values[TOPT_AS_OF];
  *snap_id = -1;
  *as_of_ms = -1;
  if (sv != NULL && av != NULL) {
    cli_error("table", "--snapshot and --as-of exclude each other");
    return TARN_EXIT_USAGE;
  }
  if (sv != NULL) {
    char *end;
    long long id;
    errno = 0;
    id = strtoll(sv, &end, 10);
    if (errno != 0 || end == sv || *end != '\0' || id < 0) {
      cli_error("table", "--snapshot \"%s\": expected a snapshot id", sv);
      return TARN_EXIT_USAGE;
    }
    *snap_id = id;
  } else if (av != NULL) {
    int64_t us;
    int32_t day;
    int zone;
    if (tarn_csv_parse_timestamp(av, strlen(av), &us, &zone) != 0) {
      if (tarn_csv_parse_date(av, strlen(av), &day) != 0) {
        cli_error("table", "--as-of \"%s\": expected an ISO-8601 time (2026-01-31T12:00:00Z)", av);
        return TARN_EXIT_USAGE;
      }
      us = (int64_t)day * 86400000000LL;
    }
    /* floor to ms: a snapshot at ms M is current at every time from M on */
    *as_of_ms = us >= 0 ? us / 1000 : -((-us + 999) / 1000);
    if (*as_of_ms == -1) /* -1 means "none" to the library; 1 ms earlier reads the same */
      *as_of_ms = -2;
  }
  return TARN_EXIT_OK;
}

/* --columns as field ids of schema (every column without it); ids has room for all.
 * TARN_EXIT_USAGE (printed) for an unknown or repeated-past-the-schema column. */
static int scan_columns(const table_cx *x, const tarn_ice_schema *schema, int32_t *ids,
                        size_t *nids) {
  const char *p = x->c.opt_values[TOPT_COLUMNS];
  size_t i;
  if (p == NULL) {
    for (i = 0; i < schema->nfields; i++)
      ids[(*nids)++] = schema->fields[i].id;
    return TARN_EXIT_OK;
  }
  while (*p != '\0') {
    size_t len = strcspn(p, ","), k;
    for (k = 0; k < schema->nfields; k++)
      if (strlen(schema->fields[k].name) == len && memcmp(schema->fields[k].name, p, len) == 0)
        break;
    if (k == schema->nfields) {
      cli_error("table", "--columns: table %s.%s has no column \"%.*s\"", x->ns, x->name, (int)len,
                p);
      return TARN_EXIT_USAGE;
    }
    if (*nids == schema->nfields) {
      cli_error("table", "--columns: too many columns");
      return TARN_EXIT_USAGE;
    }
    ids[(*nids)++] = schema->fields[k].id;
    p += len;
    if (*p == ',')
      p++;
  }
  return TARN_EXIT_OK;
}

/* Prints rows of b as JSON lines or CSV, up to limit (< 0: all); counts them in *printed. */
static void print_rows(const tarn_table_batch *b, int json, int64_t limit, int64_t *printed) {
  int64_t row;
  size_t i;
  for (row = 0; row < b->nrows && (limit < 0 || *printed < limit); row++) {
    if (json)
      putchar('{');
    for (i = 0; i < b->ncols; i++) {
      const tarn_pq_array *a = &b->cols[i];
      if (i)
        putchar(',');
      if (json) {
        rowfmt_json_string(stdout, (const uint8_t *)b->fields[i].name, strlen(b->fields[i].name));
        putchar(':');
      }
      if (a->validity != NULL && !(a->validity[row >> 3] & (1u << (row & 7)))) {
        if (json)
          fputs("null", stdout);
      } else {
        rowfmt_value(stdout, &b->layout[i], a, row, json);
      }
    }
    fputs(json ? "}\n" : "\r\n", stdout);
    (*printed)++;
  }
}

/* --stats: what the scan read and pruned, on stderr. */
static void print_scan_stats(const table_cx *x, const tarn_table_scan *sc, int64_t printed) {
  const tarn_table_scan_stats *st = tarn_table_scan_stats_get(sc);
  if (st->snapshot_id < 0) {
    fprintf(stderr, "tarn table: %s.%s is empty (no snapshot)\n", x->ns, x->name);
    return;
  }
  fprintf(stderr,
          "tarn table: %s.%s snapshot %lld: manifests %lld (%lld pruned), data files %lld "
          "(%lld pruned by partition, %lld by metrics, %lld read), row groups %lld (%lld "
          "pruned by statistics, %lld by bloom filters), pages %lld (%lld pruned by the "
          "page index), rows read %lld, rows printed %lld\n",
          x->ns, x->name, (long long)st->snapshot_id, (long long)st->manifests_total,
          (long long)st->manifests_pruned, (long long)st->files_total,
          (long long)st->files_pruned_partition, (long long)st->files_pruned_metrics,
          (long long)(st->files_total - st->files_pruned_partition - st->files_pruned_metrics),
          (long long)st->row_groups_total, (long long)st->row_groups_pruned_stats,
          (long long)st->row_groups_pruned_bloom, (long long)st->pages_total,
          (long long)st->pages_pruned, (long long)st->rows_read, (long long)printed);
}

int table_scan(table_cx *x) {
  tarn_table *t = NULL;
  tarn_table_scan *sc = NULL;
  tarn_table_scan_spec spec;
  const tarn_ice_schema *schema;
  const tarn_table_batch *b;
  const char *wv[CLI_MAX_REPEATS];
  tarn_expr *filter = NULL;
  int32_t *ids = NULL;
  size_t nids = 0, i;
  tarn_error err;
  int64_t snap_id, as_of, limit = -1, printed = 0;
  int rc, nw, json = 1;
  if (x->c.opt_values[TOPT_FORMAT] != NULL) {
    if (strcmp(x->c.opt_values[TOPT_FORMAT], "csv") == 0)
      json = 0;
    else if (strcmp(x->c.opt_values[TOPT_FORMAT], "jsonl") != 0) {
      cli_error("table", "--format must be jsonl or csv (got \"%s\")",
                x->c.opt_values[TOPT_FORMAT]);
      return TARN_EXIT_USAGE;
    }
  }
  if (x->c.opt_values[TOPT_LIMIT] != NULL) {
    char *end;
    errno = 0;
    limit = strtoll(x->c.opt_values[TOPT_LIMIT], &end, 10);
    if (errno != 0 || end == x->c.opt_values[TOPT_LIMIT] || *end != '\0' || limit < 0) {
      cli_error("table", "--limit must be a non-negative integer (got \"%s\")",
                x->c.opt_values[TOPT_LIMIT]);
      return TARN_EXIT_USAGE;
    }
  }
  rc = scan_when(x, &snap_id, &as_of);
  if (rc != TARN_EXIT_OK)
    return rc;
  rc = table_open(x, &t);
  if (rc != TARN_EXIT_OK)
    return rc;
  rc = TARN_EXIT_FAIL;
  if (tarn_table_scan_target(t, snap_id, as_of, NULL, &schema, &err) != 0) {
    const char *av = x->c.opt_values[TOPT_AS_OF];
    cli_error("table", "%s%s%s%s", tarn_error_message(&err), av ? " (--as-of " : "", av ? av : "",
              av ? ")" : "");
    goto done;
  }
  /* the projection, by name in the schema read */
  ids = tarn_calloc(schema->nfields + 1, sizeof(*ids));
  if (ids == NULL) {
    cli_error("table", "out of memory");
    goto done;
  }
  if (scan_columns(x, schema, ids, &nids) != TARN_EXIT_OK) {
    rc = TARN_EXIT_USAGE;
    goto done;
  }
  /* every --where, ANDed */
  nw = cli_opt_values(&x->c, TOPT_WHERE, wv, CLI_MAX_REPEATS);
  for (i = 0; i < (size_t)nw; i++) {
    tarn_expr *e = NULL;
    if (tarn_expr_parse(schema, wv[i], &e, &err) != 0) {
      cli_error("table", "--where %s", tarn_error_message(&err));
      rc = err.code == TARN_ENOMEM ? TARN_EXIT_FAIL : TARN_EXIT_USAGE;
      goto done;
    }
    filter = filter == NULL ? e : tarn_expr_and(filter, e);
    if (filter == NULL) {
      cli_error("table", "out of memory");
      goto done;
    }
  }
  memset(&spec, 0, sizeof(spec));
  spec.snapshot_id = snap_id;
  spec.as_of_ms = as_of;
  spec.field_ids = ids;
  spec.nfield_ids = nids;
  spec.filter = filter;
  spec.batch_rows = limit >= 0 && limit < 8192 ? (limit > 0 ? limit : 1) : 8192;
  if (tarn_table_scan_open(t, &spec, &sc, &err) != 0) {
    cli_error("table", "%s", tarn_error_message(&err));
    goto done;
  }
  if (!json) {
    for (i = 0; i < nids; i++) {
      const char *name = tarn_ice_schema_field(schema, ids[i])->name;
      if (i)
        putchar(',');
      rowfmt_csv_field(stdout, (const uint8_t *)name, strlen(name));
    }
    fputs("\r\n", stdout);
  }
  while (limit < 0 || printed < limit) {
    if (tarn_table_scan_next(sc, &b, &err) != 0) {
      cli_error("table", "%s", tarn_error_message(&err));
      goto done;
    }
    if (b == NULL)
      break;
    print_rows(b, json, limit, &printed);
  }
  if (x->c.opt_values[TOPT_STATS] != NULL)
    print_scan_stats(x, sc, printed);
  rc = TARN_EXIT_OK;
done:
  tarn_table_scan_close(sc);
  tarn_expr_free(filter);
  tarn_free(ids);
  tarn_table_close(t);
  return rc;
}

/* ---- append, overwrite ---- */

#define CHUNK_ROWS 4096
#define MAX_LINE ((size_t)64 << 20)

/* One column's values for a chunk of rows: its field and the builder they land in. */
typedef struct wcol {
  const tarn_ice_field *f;
  const tarn_pq_column *pc;
  tarn_pq_builder b;
} wcol;

static void wcols_free(wcol *w, size_t n) {
  size_t i;
  for (i = 0; w != NULL && i < n; i++)
    tarn_pq_builder_free(&w[i].b);
  tarn_free(w);
}

static int wcols_alloc(wcol *w, const tarn_ice_schema *s, const tarn_pq_schema *pq) {
  size_t i;
  for (i = 0; i < s->nfields; i++) {
    w[i].f = &s->fields[i];
    w[i].pc = &pq->cols[i];
    if (tarn_pq_builder_init(&w[i].b, w[i].pc, CHUNK_ROWS, (size_t)1 << 20, NULL) != 0)
      return -1;
  }
  return 0;
}

static void wcols_reset(wcol *w, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    tarn_pq_builder_reset(&w[i].b);
}

/* Stores v (of the column's Iceberg type) at row `row` of the chunk. */
static int wcol_set(wcol *c, int64_t row, const tarn_ice_value *v) {
  if (v->is_null) {
    tarn_pq_builder_null(&c->b, row);
    return 0;
  }
  switch (c->pc->type) {
  case TARN_PQ_BYTE_ARRAY: return tarn_pq_builder_bytes(&c->b, row, v->bytes, v->len, NULL);
  case TARN_PQ_BOOLEAN: {
    uint8_t b = (uint8_t)(v->i64 != 0);
    tarn_pq_builder_fixed(&c->b, row, &b);
    return 0;
  }
  case TARN_PQ_INT32: {
    int32_t x = (int32_t)v->i64;
    tarn_pq_builder_fixed(&c->b, row, &x);
    return 0;
  }
  case TARN_PQ_INT64: tarn_pq_builder_fixed(&c->b, row, &v->i64); return 0;
  case TARN_PQ_FLOAT: tarn_pq_builder_fixed(&c->b, row, &v->f32); return 0;
  case TARN_PQ_DOUBLE: tarn_pq_builder_fixed(&c->b, row, &v->f64); return 0;
  case TARN_PQ_FIXED_LEN_BYTE_ARRAY:
    if (c->f->type.id == TARN_ICE_DECIMAL) { /* the low bytes of a 16-byte value */
      uint8_t be[16];
      int k;
      if (v->wide) {
        memcpy(be, v->bytes, 16);
      } else {
        for (k = 0; k < 16; k++)
          be[k] = (uint8_t)(k < 8 ? (v->i64 < 0 ? 0xff : 0) : (uint64_t)v->i64 >> (8 * (15 - k)));
      }
      tarn_pq_builder_fixed(&c->b, row, be + 16 - c->b.width);
    } else {
      tarn_pq_builder_fixed(&c->b, row, v->bytes);
    }
    return 0;
  default: return 0;
  }
}

/* A JSON value for column f as an Iceberg value. */
static int json_to_value(const tarn_ice_field *f, json_t *j, tarn_ice_value *v, tarn_buf *scratch,
                         char *why, size_t whylen) {
  char num[32];
  memset(v, 0, sizeof(*v));
  if (j == NULL || json_is_null(j)) {
    if (f->required) {
      snprintf(why, whylen, "is required (not null) but %s", j == NULL ? "missing" : "null");
      return -1;
    }
    v->is_null = 1;
    return 0;
  }
  if (json_is_string(j) && f->type.id != TARN_ICE_BOOLEAN)
    return tarn_ice_value_parse(&f->type, json_string_value(j), json_string_length(j), v, scratch,
                                why, whylen);
  switch (f->type.id) {
  case TARN_ICE_BOOLEAN:
    if (!json_is_boolean(j))
      break;
    v->i64 = json_is_true(j);
    return 0;
  case TARN_ICE_INT:
  case TARN_ICE_LONG:
    if (!json_is_integer(j))
      break;
    v->i64 = json_integer_value(j);
    if (f->type.id == TARN_ICE_INT && (v->i64 < INT32_MIN || v->i64 > INT32_MAX)) {
      snprintf(why, whylen, "%lld does not fit an int", (long long)v->i64);
      return -1;
    }
    return 0;
  case TARN_ICE_FLOAT:
  case TARN_ICE_DOUBLE:
    if (!json_is_number(j))
      break;
    v->f64 = json_number_value(j);
    if (f->type.id == TARN_ICE_FLOAT && tarn_ice_float_overflows(v->f64)) {
      snprintf(why, whylen,
               "%.17g is out of range for a float (at most about 3.4028235e38 in "
               "magnitude; use a double column)",
               v->f64);
      return -1;
    }
    v->f32 = (float)v->f64;
    return 0;
  case TARN_ICE_DECIMAL:
    if (json_is_integer(j)) {
      snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(j));
      return tarn_ice_value_parse(&f->type, num, strlen(num), v, scratch, why, whylen);
    }
    if (json_is_real(j)) {
      snprintf(why, whylen, "give decimal values as strings (\"12.34\") so they stay exact");
      return -1;
    }
    break;
  default: break;
  }
  {
    char tn[64];
    tarn_ice_type_format(&f->type, tn, sizeof(tn));
    snprintf(why, whylen, "a JSON %s is not a %s value",
             json_is_string(j)    ? "string"
             : json_is_integer(j) ? "integer"
             : json_is_real(j)    ? "number"
             : json_is_boolean(j) ? "boolean"
             : json_is_array(j)   ? "array"
                                  : "object",
             tn);
  }
  return -1;
}

static int flush_chunk(tarn_table_writer *w, wcol *cols, size_t ncols, int64_t nrows,
                       tarn_pq_array *arrays, tarn_error *err) {
  tarn_pq_batch b;
  size_t i;
  if (nrows == 0)
    return 0;
  for (i = 0; i < ncols; i++)
    tarn_pq_builder_array(&cols[i].b, nrows, &arrays[i]);
  b.nrows = nrows;
  b.ncols = ncols;
  b.cols = arrays;
  return tarn_table_writer_write(w, &b, err);
}

/* Column buffers of one write (all --jsonl files of one commit). */
typedef struct wstate {
  const tarn_ice_schema *schema;
  tarn_pq_schema pq;
  wcol *cols;
  size_t ncols;
  tarn_pq_array *arrays;
  tarn_buf scratch;
  int64_t nrows, total; /* rows in the chunk, rows written */
} wstate;

static void wstate_free(wstate *ws) {
  wcols_free(ws->cols, ws->ncols);
  tarn_free(ws->arrays);
  tarn_pq_schema_free(&ws->pq);
  tarn_buf_free(&ws->scratch);
  memset(ws, 0, sizeof(*ws));
}

static int wstate_init(table_cx *x, tarn_table *t, wstate *ws) {
  tarn_error err;
  memset(ws, 0, sizeof(*ws));
  tarn_buf_init(&ws->scratch, MAX_LINE);
  ws->schema = tarn_table_schema(t);
  if (tarn_ice_schema_to_parquet(ws->schema, &ws->pq, &err) != 0) {
    cli_error("table", "%s.%s: %s", x->ns, x->name, tarn_error_message(&err));
    return -1;
  }
  ws->cols = tarn_calloc(ws->schema->nfields, sizeof(*ws->cols));
  ws->arrays = tarn_calloc(ws->schema->nfields, sizeof(*ws->arrays));
  if (ws->cols != NULL)
    ws->ncols = ws->schema->nfields;
  if (ws->cols == NULL || ws->arrays == NULL || wcols_alloc(ws->cols, ws->schema, &ws->pq) != 0) {
    cli_error("table", "out of memory");
    return -1;
  }
  return 0;
}

/* Reads one JSON-lines file (path "-": stdin) into the writer. Errors name file and line. */
static int read_jsonl(table_cx *x, const char *path, wstate *ws, tarn_table_writer *w) {
  const tarn_ice_schema *schema = ws->schema;
  FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
  char *line = NULL, why[512];
  size_t linecap = 0, i;
  ssize_t len;
  int64_t lineno = 0;
  tarn_error err;
  int rc = -1;
  if (in == NULL) {
    cli_error("table", "%s: %s", path, strerror(errno));
    return -1;
  }
  while ((len = getline(&line, &linecap, in)) >= 0) {
    json_t *obj, *val;
    json_error_t jerr;
    const char *key;
    ssize_t k = 0;
    lineno++;
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
      len--;
    if ((size_t)len > MAX_LINE) {
      cli_error("table", "%s:%lld: line longer than %zu bytes", path, (long long)lineno, MAX_LINE);
      goto out;
    }
    while (k < len && isspace((unsigned char)line[k]))
      k++;
    if (k == len)
      continue; /* blank line */
    obj = json_loadb(line, (size_t)len, JSON_REJECT_DUPLICATES, &jerr);
    if (obj == NULL || !json_is_object(obj)) {
      cli_error("table", "%s:%lld: %s", path, (long long)lineno,
                obj == NULL ? jerr.text : "expected a JSON object");
      json_decref(obj);
      goto out;
    }
    json_object_foreach(obj, key, val) {
      if (tarn_ice_schema_field_by_name(schema, key) == NULL) {
        cli_error("table", "%s:%lld: table %s.%s has no column \"%s\"", path, (long long)lineno,
                  x->ns, x->name, key);
        json_decref(obj);
        goto out;
      }
    }
    for (i = 0; i < schema->nfields; i++) {
      tarn_ice_value v;
      if (json_to_value(&schema->fields[i], json_object_get(obj, schema->fields[i].name), &v,
                        &ws->scratch, why, sizeof(why)) != 0) {
        cli_error("table", "%s:%lld: column \"%s\": %s", path, (long long)lineno,
                  schema->fields[i].name, why);
        json_decref(obj);
        goto out;
      }
      if (wcol_set(&ws->cols[i], ws->nrows, &v) != 0) {
        cli_error("table", "out of memory");
        json_decref(obj);
        goto out;
      }
    }
    json_decref(obj);
    if (++ws->nrows == CHUNK_ROWS) {
      if (flush_chunk(w, ws->cols, ws->ncols, ws->nrows, ws->arrays, &err) != 0) {
        cli_error("table", "%s.%s: writing rows: %s", x->ns, x->name, tarn_error_message(&err));
        goto out;
      }
      ws->total += ws->nrows;
      ws->nrows = 0;
      wcols_reset(ws->cols, ws->ncols);
    }
  }
  if (ferror(in)) {
    cli_error("table", "%s: %s", path, strerror(errno));
    goto out;
  }
  rc = 0;
out:
  free(line); /* from getline */
  if (in != stdin)
    fclose(in);
  return rc;
}

static void delete_data_files(table_cx *x, const tarn_ice_data_file *files, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    char key[TARN_STORE_KEY_MAX + 1];
    if (tarn_table_io_key(&x->io, files[i].file_path, key, sizeof(key), NULL) == 0)
      tarn_store_delete(x->store, key, NULL);
  }
}

/* Writes the rows of `paths` as data files and commits them in one snapshot. */
static int write_commit(table_cx *x, tarn_table *t, const char *const *paths, int npaths,
                        int overwrite, int dynamic) {
  tarn_table_writer *w = NULL;
  tarn_ice_data_file *files = NULL;
  tarn_table_commit_result res;
  size_t nfiles = 0;
  wstate ws;
  tarn_error err;
  int rc = TARN_EXIT_FAIL, crc, k;
  memset(&res, 0, sizeof(res));
  if (wstate_init(x, t, &ws) != 0)
    goto out;
  if (tarn_table_writer_open(t, NULL, &w, &err) != 0) {
    cli_error("table", "%s.%s: %s", x->ns, x->name, tarn_error_message(&err));
    goto out;
  }
  for (k = 0; k < npaths; k++)
    if (read_jsonl(x, paths[k], &ws, w) != 0)
      goto out;
  if (flush_chunk(w, ws.cols, ws.ncols, ws.nrows, ws.arrays, &err) != 0) {
    cli_error("table", "%s.%s: writing rows: %s", x->ns, x->name, tarn_error_message(&err));
    goto out;
  }
  ws.total += ws.nrows;
  crc = tarn_table_writer_close(w, &files, &nfiles, &err);
  w = NULL;
  if (crc != 0) {
    cli_error("table", "%s.%s: writing data files: %s", x->ns, x->name, tarn_error_message(&err));
    goto out;
  }
  if (!overwrite && nfiles == 0) {
    if (x->json)
      printf("{\"table\": \"%s.%s\", \"operation\": \"append\", \"rows\": 0, \"files\": 0, "
             "\"snapshot_id\": null}\n",
             x->ns, x->name);
    else
      printf("no rows: nothing appended to %s.%s\n", x->ns, x->name);
    rc = TARN_EXIT_OK;
    goto out;
  }
  if (dynamic && nfiles != 1) {
    cli_error("table",
              "--dynamic: the rows fall in %zu partitions of %s.%s; a dynamic "
              "overwrite replaces exactly one (split the input by partition)",
              nfiles, x->ns, x->name);
    rc = TARN_EXIT_USAGE;
    delete_data_files(x, files, nfiles);
    goto out;
  }
  /* Writing the data files took a while: start the commit from the newest metadata, so
   * that its first attempt is not already stale when other writers are busy. */
  if (tarn_table_refresh(t, &err) != 0) {
    cli_error("table", "reloading %s.%s: %s", x->ns, x->name, tarn_error_message(&err));
    delete_data_files(x, files, nfiles);
    goto out;
  }
  if (overwrite)
    crc = tarn_table_overwrite(t, tarn_table_spec(t)->spec_id, dynamic ? files[0].partition : NULL,
                               files, nfiles, NULL, 0, &res, &err);
  else
    crc = tarn_table_append(t, files, nfiles, NULL, 0, &res, &err);
  if (crc != 0) {
    cli_error("table", "committing to %s.%s: %s", x->ns, x->name, tarn_error_message(&err));
    if (err.code != TARN_EUNKNOWN_OUTCOME) /* else the commit may have happened: keep them */
      delete_data_files(x, files, nfiles); /* nothing references them */
    goto out;
  }
  if (x->json) {
    json_t *o = json_object();
    char *s;
    json_object_set_new(o, "table", json_sprintf("%s.%s", x->ns, x->name));
    json_object_set_new(o, "operation", json_string(overwrite ? "overwrite" : "append"));
    json_object_set_new(o, "rows", json_integer(ws.total));
    json_object_set_new(o, "files", json_integer((json_int_t)nfiles));
    json_object_set_new(o, "snapshot_id", json_integer(res.snapshot_id));
    json_object_set_new(o, "sequence_number", json_integer(res.sequence_number));
    json_object_set_new(o, "attempts", json_integer(res.attempts));
    json_object_set_new(o, "manifests_merged", json_integer(res.manifests_merged));
    s = json_dumps(o, JSON_PRESERVE_ORDER);
    if (s != NULL)
      printf("%s\n", s);
    tarn_free(s);
    json_decref(o);
  } else {
    printf("%s %lld row%s in %zu file%s %s %s.%s: snapshot %lld (sequence %lld, %d attempt%s)\n",
           overwrite ? "wrote" : "appended", (long long)ws.total, ws.total == 1 ? "" : "s", nfiles,
           nfiles == 1 ? "" : "s", overwrite ? "over" : "to", x->ns, x->name,
           (long long)res.snapshot_id, (long long)res.sequence_number, res.attempts,
           res.attempts == 1 ? "" : "s");
  }
  fflush(stdout);
  rc = TARN_EXIT_OK;
out:
  tarn_table_writer_abort(w);
  tarn_ice_data_files_free(files, nfiles);
  wstate_free(&ws);
  return rc;
}

int table_write(table_cx *x, int overwrite) {
  const char *paths[CLI_MAX_REPEATS];
  int n = cli_opt_values(&x->c, TOPT_JSONL, paths, CLI_MAX_REPEATS), k, stdin_uses = 0;
  int dynamic = x->c.opt_values[TOPT_DYNAMIC] != NULL;
  int each = x->c.opt_values[TOPT_COMMIT_EACH] != NULL;
  tarn_table *t = NULL;
  int rc;
  if (n == 0) {
    cli_error("table", "%s needs --jsonl FILE (- for standard input)", x->sub);
    return TARN_EXIT_USAGE;
  }
  for (k = 0; k < n; k++)
    stdin_uses += strcmp(paths[k], "-") == 0;
  if (stdin_uses > 1) {
    cli_error("table", "--jsonl - (standard input) can be given once");
    return TARN_EXIT_USAGE;
  }
  rc = table_open(x, &t);
  if (rc != TARN_EXIT_OK)
    return rc;
  if (dynamic && (tarn_table_spec(t) == NULL || tarn_table_spec(t)->nfields == 0)) {
    cli_error("table", "--dynamic: table %s.%s is not partitioned", x->ns, x->name);
    tarn_table_close(t);
    return TARN_EXIT_USAGE;
  }
  if (each) { /* one commit per file, in order; the first failure stops */
    for (k = 0; k < n && rc == TARN_EXIT_OK; k++)
      rc = write_commit(x, t, &paths[k], 1, overwrite, dynamic);
  } else {
    rc = write_commit(x, t, paths, n, overwrite, dynamic);
  }
  tarn_table_close(t);
  return rc;
}
