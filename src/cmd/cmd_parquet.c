/* cmd_parquet.c - `tarn parquet schema|meta|head|cat FILE`: inspect Parquet files with tarn's
 * own reader; rows as JSON lines or CSV. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "cli.h"
#include "cmds.h"
#include "parquet/parquet.h"
#include "rowfmt.h"

static const cli_opt parquet_opts[] = {
    {"rows", 1, "N", "head/cat: rows to print at most (head: default 10)"},
    {"format", 1, "FMT", "head/cat: jsonl (default) or csv"},
    {"columns", 1, "A,B", "head/cat: only these columns, in this order"},
    {"json", 0, NULL, "schema/meta: print JSON instead of text"},
    {NULL, 0, NULL, NULL},
};
enum { OPT_ROWS, OPT_FORMAT, OPT_COLUMNS, OPT_JSON };

static void print_parquet_help(const cli *c) {
  printf("Usage: tarn parquet schema|meta|head|cat FILE [options]\n\n"
         "Inspects a Parquet file with tarn's own reader.\n"
         "  schema  one line per column: name, field id, physical and logical type,\n"
         "          REQUIRED/OPTIONAL\n"
         "  meta    version, writer, rows, key-value metadata, and per row group and column\n"
         "          chunk: codec, encodings, sizes, offsets, statistics, page index and\n"
         "          bloom filter presence\n"
         "  head    the first rows (--rows N, default 10)\n"
         "  cat     every row\n"
         "Rows are JSON lines by default (int64 and floats, FLOAT16 included, as numbers,\n"
         "timestamps (INT96 too) as ISO-8601 strings, dates as YYYY-MM-DD, decimals as exact\n"
         "strings, binary as base64, UUIDs canonical, NaN and infinities as strings) or CSV\n"
         "with a header row (--format csv). Statistics are shown as plain values.\n"
         "Errors print \"tarn parquet: FILE: offset N: message\" and exit 1.\n");
  cli_print_options(c, parquet_opts, stdout);
}

/* ---- subcommands ---- */

static void err_out(const tarn_error *err) { cli_error("parquet", "%s", tarn_error_message(err)); }

static int do_schema(const tarn_pq_file_meta *m, int json) {
  size_t i;
  char d[160];
  if (json) {
    json_t *arr = json_array();
    char *s;
    for (i = 0; i < m->schema.ncols; i++) {
      const tarn_pq_column *c = &m->schema.cols[i];
      tarn_pq_column_describe(c, d, sizeof(d));
      json_array_append_new(
          arr, json_pack("{s:s, s:o, s:s, s:s, s:b}", "name", c->name, "field_id",
                         c->has_field_id ? json_integer(c->field_id) : json_null(), "type",
                         tarn_pq_type_name(c->type), "description", d, "optional", c->optional));
    }
    s = json_dumps(arr, JSON_INDENT(2));
    if (s != NULL)
      printf("%s\n", s);
    tarn_free(s);
    json_decref(arr);
    return TARN_EXIT_OK;
  }
  for (i = 0; i < m->schema.ncols; i++) {
    const tarn_pq_column *c = &m->schema.cols[i];
    tarn_pq_column_describe(c, d, sizeof(d));
    if (c->has_field_id) /* 0 is an id like any other */
      printf("%s\tid=%d\t%s\t%s\n", c->name, (int)c->field_id, d,
             c->optional ? "OPTIONAL" : "REQUIRED");
    else
      printf("%s\tid=-\t%s\t%s\n", c->name, d, c->optional ? "OPTIONAL" : "REQUIRED");
  }
  return TARN_EXIT_OK;
}

static json_t *chunk_json(const tarn_pq_column *c, const tarn_pq_chunk_meta *cm) {
  json_t *o = json_object(), *enc = json_array();
  size_t k;
  char d[160];
  tarn_pq_column_describe(c, d, sizeof(d));
  json_object_set_new(o, "column", json_string(c->name));
  json_object_set_new(o, "type", json_string(d));
  json_object_set_new(o, "codec", json_string(tarn_pq_codec_name(cm->codec)));
  for (k = 0; k < cm->nencodings; k++)
    json_array_append_new(enc, json_string(tarn_pq_encoding_name(cm->encodings[k])));
  json_object_set_new(o, "encodings", enc);
  json_object_set_new(o, "num_values", json_integer(cm->num_values));
  json_object_set_new(o, "compressed_size", json_integer(cm->total_compressed_size));
  json_object_set_new(o, "uncompressed_size", json_integer(cm->total_uncompressed_size));
  json_object_set_new(o, "data_page_offset", json_integer(cm->data_page_offset));
  if (cm->dictionary_page_offset >= 0)
    json_object_set_new(o, "dictionary_page_offset", json_integer(cm->dictionary_page_offset));
  if (cm->stats.has_null_count)
    json_object_set_new(o, "null_count", json_integer(cm->stats.null_count));
  if (cm->stats.has_distinct_count)
    json_object_set_new(o, "distinct_count", json_integer(cm->stats.distinct_count));
  if (cm->stats.has_min_max) {
    char *mn = rowfmt_plain_to_text(c, cm->stats.min.data, cm->stats.min.len);
    char *mx = rowfmt_plain_to_text(c, cm->stats.max.data, cm->stats.max.len);
    json_object_set_new(o, "min", json_string(mn ? mn : ""));
    json_object_set_new(o, "max", json_string(mx ? mx : ""));
    json_object_set_new(o, "min_exact", json_boolean(cm->stats.min_exact));
    json_object_set_new(o, "max_exact", json_boolean(cm->stats.max_exact));
    free(mn);
    free(mx);
  }
  json_object_set_new(o, "bloom_filter",
                      cm->bloom_filter_offset >= 0 ? json_integer(cm->bloom_filter_offset)
                                                   : json_null());
  json_object_set_new(o, "column_index",
                      cm->column_index_offset >= 0 ? json_integer(cm->column_index_offset)
                                                   : json_null());
  json_object_set_new(o, "offset_index",
                      cm->offset_index_offset >= 0 ? json_integer(cm->offset_index_offset)
                                                   : json_null());
  return o;
}

static int do_meta(const char *file, const tarn_pq_file_meta *m, int json) {
  size_t g, k;
  if (json) {
    json_t *o = json_object(), *kv = json_object(), *rgs = json_array();
    char *s;
    json_object_set_new(o, "file", json_string(file));
    json_object_set_new(o, "version", json_integer(m->version));
    json_object_set_new(o, "created_by", m->created_by ? json_string(m->created_by) : json_null());
    json_object_set_new(o, "num_rows", json_integer(m->num_rows));
    json_object_set_new(o, "num_columns", json_integer((json_int_t)m->schema.ncols));
    json_object_set_new(o, "type_defined_order", json_boolean(m->type_defined_order));
    for (k = 0; k < m->nkv; k++)
      json_object_set_new(kv, m->kv[k].key,
                          m->kv[k].value ? json_string(m->kv[k].value) : json_null());
    json_object_set_new(o, "key_value", kv);
    for (g = 0; g < m->nrow_groups; g++) {
      const tarn_pq_row_group_meta *rg = &m->row_groups[g];
      json_t *ro = json_object(), *cols = json_array();
      json_object_set_new(ro, "num_rows", json_integer(rg->num_rows));
      json_object_set_new(ro, "total_byte_size", json_integer(rg->total_byte_size));
      json_object_set_new(ro, "total_compressed_size", json_integer(rg->total_compressed_size));
      json_object_set_new(ro, "file_offset", json_integer(rg->file_offset));
      for (k = 0; k < m->schema.ncols; k++)
        json_array_append_new(cols, chunk_json(&m->schema.cols[k], &rg->chunks[k]));
      json_object_set_new(ro, "columns", cols);
      json_array_append_new(rgs, ro);
    }
    json_object_set_new(o, "row_groups", rgs);
    s = json_dumps(o, JSON_INDENT(2) | JSON_ENSURE_ASCII);
    if (s != NULL)
      printf("%s\n", s);
    tarn_free(s);
    json_decref(o);
    return TARN_EXIT_OK;
  }
  printf("file: %s\nversion: %d\ncreated_by: %s\nrows: %lld\ncolumns: %zu\nrow groups: %zu\n"
         "column order: %s\n",
         file, (int)m->version, m->created_by ? m->created_by : "-", (long long)m->num_rows,
         m->schema.ncols, m->nrow_groups, m->type_defined_order ? "TYPE_DEFINED_ORDER" : "-");
  if (m->nkv > 0) {
    printf("key-value metadata:\n");
    for (k = 0; k < m->nkv; k++) {
      const char *v = m->kv[k].value ? m->kv[k].value : "(null)";
      printf("  %s = %.*s%s\n", m->kv[k].key, 200, v, strlen(v) > 200 ? "..." : "");
    }
  }
  for (g = 0; g < m->nrow_groups; g++) {
    const tarn_pq_row_group_meta *rg = &m->row_groups[g];
    printf("row group %zu: rows %lld, bytes %lld uncompressed, %lld compressed, offset %lld\n", g,
           (long long)rg->num_rows, (long long)rg->total_byte_size,
           (long long)rg->total_compressed_size, (long long)rg->file_offset);
    for (k = 0; k < m->schema.ncols; k++) {
      const tarn_pq_column *c = &m->schema.cols[k];
      const tarn_pq_chunk_meta *cm = &rg->chunks[k];
      size_t e;
      char d[160];
      tarn_pq_column_describe(c, d, sizeof(d));
      printf("  %s (%s): %s, encodings ", c->name, d, tarn_pq_codec_name(cm->codec));
      for (e = 0; e < cm->nencodings; e++)
        printf("%s%s", e ? "," : "", tarn_pq_encoding_name(cm->encodings[e]));
      printf("; values %lld; %lld bytes compressed, %lld uncompressed; data page at %lld",
             (long long)cm->num_values, (long long)cm->total_compressed_size,
             (long long)cm->total_uncompressed_size, (long long)cm->data_page_offset);
      if (cm->dictionary_page_offset >= 0)
        printf(", dictionary at %lld", (long long)cm->dictionary_page_offset);
      printf("\n    stats:");
      if (cm->stats.has_min_max) {
        char *mn = rowfmt_plain_to_text(c, cm->stats.min.data, cm->stats.min.len);
        char *mx = rowfmt_plain_to_text(c, cm->stats.max.data, cm->stats.max.len);
        printf(" min %s%s, max %s%s;", mn ? mn : "?", cm->stats.min_exact ? "" : " (bound)",
               mx ? mx : "?", cm->stats.max_exact ? "" : " (bound)");
        free(mn);
        free(mx);
      }
      if (cm->stats.has_null_count)
        printf(" nulls %lld;", (long long)cm->stats.null_count);
      if (cm->stats.has_distinct_count)
        printf(" distinct %lld;", (long long)cm->stats.distinct_count);
      if (!cm->stats.has_min_max && !cm->stats.has_null_count)
        printf(" none;");
      printf(" bloom filter: %s; page index: %s\n", cm->bloom_filter_offset >= 0 ? "yes" : "no",
             cm->column_index_offset >= 0 && cm->offset_index_offset >= 0 ? "yes"
             : cm->offset_index_offset >= 0                               ? "offset index only"
                                                                          : "no");
    }
  }
  return TARN_EXIT_OK;
}

/* Resolves "a,b" to column indexes; usage error naming an unknown column. */
static int parse_columns(const tarn_pq_file_meta *m, const char *spec, size_t **out, size_t *n) {
  const char *p = spec;
  size_t cap = 8, cnt = 0;
  size_t *cols = tarn_malloc(cap * sizeof(size_t));
  if (cols == NULL)
    return TARN_EXIT_FAIL;
  while (*p != '\0') {
    const char *e = strchr(p, ',');
    size_t len = e ? (size_t)(e - p) : strlen(p), k;
    for (k = 0; k < m->schema.ncols; k++)
      if (strlen(m->schema.cols[k].name) == len && memcmp(m->schema.cols[k].name, p, len) == 0)
        break;
    if (k == m->schema.ncols) {
      cli_error("parquet", "no column \"%.*s\" in the file", (int)len, p);
      tarn_free(cols);
      return TARN_EXIT_USAGE;
    }
    if (TARN_GROW(cols, cap, cnt + 1, 8) != 0) {
      tarn_free(cols);
      return TARN_EXIT_FAIL;
    }
    cols[cnt++] = k;
    p += len;
    if (*p == ',')
      p++;
  }
  *out = cols;
  *n = cnt;
  return TARN_EXIT_OK;
}

static int do_rows(tarn_pq_reader *r, int64_t limit, int json, const size_t *cols, size_t ncols) {
  const tarn_pq_file_meta *m = tarn_pq_reader_meta(r);
  tarn_pq_scan_options o;
  tarn_pq_scan *s = NULL;
  tarn_pq_batch *b = NULL;
  tarn_error err;
  int64_t printed = 0;
  size_t k;
  int rc = TARN_EXIT_OK;
  memset(&o, 0, sizeof(o));
  o.columns = cols;
  o.ncolumns = ncols;
  o.row_group = -1;
  o.batch_rows = limit >= 0 && limit < 8192 ? (limit > 0 ? limit : 1) : 8192;
  if (tarn_pq_scan_open(r, &o, &s, &err) != 0) {
    err_out(&err);
    return TARN_EXIT_FAIL;
  }
  if (!json) {
    for (k = 0; k < ncols; k++) {
      const char *name = m->schema.cols[cols[k]].name;
      if (k)
        putchar(',');
      rowfmt_csv_field(stdout, (const uint8_t *)name, strlen(name));
    }
    fputs("\r\n", stdout);
  }
  while (limit < 0 || printed < limit) {
    int64_t i;
    if (tarn_pq_scan_next(s, &b, &err) != 0) {
      fflush(stdout);
      err_out(&err);
      rc = TARN_EXIT_FAIL;
      break;
    }
    if (b == NULL)
      break;
    for (i = 0; i < b->nrows && (limit < 0 || printed < limit); i++, printed++) {
      if (json)
        putchar('{');
      for (k = 0; k < ncols; k++) {
        const tarn_pq_column *c = &m->schema.cols[cols[k]];
        if (k)
          putchar(',');
        if (json) {
          rowfmt_json_string(stdout, (const uint8_t *)c->name, strlen(c->name));
          putchar(':');
        }
        rowfmt_value(stdout, c, &b->cols[k], i, json);
      }
      fputs(json ? "}\n" : "\r\n", stdout);
    }
    tarn_pq_batch_free(b);
    b = NULL;
  }
  tarn_pq_scan_close(s);
  if (fflush(stdout) != 0 && rc == TARN_EXIT_OK) {
    cli_error("parquet", "writing output: %s", strerror(errno));
    rc = TARN_EXIT_FAIL;
  }
  return rc;
}

int cmd_parquet(const tarn_command *self, int argc, char **argv) {
  cli c;
  tarn_error err;
  tarn_pq_reader *r = NULL;
  size_t *cols = NULL, ncols = 0, k;
  const char *sub, *file;
  int fd = -1, json_rows = 1, rc;
  int64_t limit = -1;
  tarn_error_clear(&err);
  rc = cli_parse(&c, self->name, argc, argv, parquet_opts, tarn_cmd_tables);
  if (rc != TARN_EXIT_OK)
    goto out;
  if (c.help) {
    print_parquet_help(&c);
    goto out;
  }
  rc = TARN_EXIT_USAGE;
  if (c.nargs != 2) {
    cli_error(self->name, "expected a subcommand (schema, meta, head, cat) and a FILE");
    goto out;
  }
  sub = c.args[0];
  file = c.args[1];
  if (strcmp(sub, "schema") != 0 && strcmp(sub, "meta") != 0 && strcmp(sub, "head") != 0 &&
      strcmp(sub, "cat") != 0) {
    cli_error(self->name, "unknown subcommand \"%s\" (schema, meta, head, cat)", sub);
    goto out;
  }
  if (c.opt_values[OPT_FORMAT] != NULL) {
    if (strcmp(c.opt_values[OPT_FORMAT], "csv") == 0) {
      json_rows = 0;
    } else if (strcmp(c.opt_values[OPT_FORMAT], "jsonl") != 0) {
      cli_error(self->name, "--format must be jsonl or csv (got \"%s\")", c.opt_values[OPT_FORMAT]);
      goto out;
    }
  }
  if (strcmp(sub, "head") == 0)
    limit = 10;
  if (c.opt_values[OPT_ROWS] != NULL) {
    char *end;
    if (strcmp(sub, "head") != 0 && strcmp(sub, "cat") != 0) {
      cli_error(self->name, "--rows applies to head and cat");
      goto out;
    }
    errno = 0;
    limit = strtoll(c.opt_values[OPT_ROWS], &end, 10);
    if (errno != 0 || *end != '\0' || end == c.opt_values[OPT_ROWS] || limit < 0) {
      cli_error(self->name, "--rows must be a non-negative integer (got \"%s\")",
                c.opt_values[OPT_ROWS]);
      goto out;
    }
  }
  rc = TARN_EXIT_FAIL;
  fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    cli_error(self->name, "%s: %s", file, strerror(errno));
    goto out;
  }
  if (tarn_pq_reader_open_fd(fd, file, &r, &err) != 0) {
    err_out(&err);
    goto out;
  }
  if (strcmp(sub, "schema") == 0) {
    rc = do_schema(tarn_pq_reader_meta(r), c.opt_values[OPT_JSON] != NULL);
  } else if (strcmp(sub, "meta") == 0) {
    rc = do_meta(file, tarn_pq_reader_meta(r), c.opt_values[OPT_JSON] != NULL);
  } else {
    const tarn_pq_file_meta *m = tarn_pq_reader_meta(r);
    if (c.opt_values[OPT_COLUMNS] != NULL) {
      rc = parse_columns(m, c.opt_values[OPT_COLUMNS], &cols, &ncols);
      if (rc != TARN_EXIT_OK)
        goto out;
    } else {
      ncols = m->schema.ncols;
      cols = tarn_calloc(ncols ? ncols : 1, sizeof(size_t));
      if (cols == NULL) {
        cli_error(self->name, "out of memory");
        goto out;
      }
      for (k = 0; k < ncols; k++)
        cols[k] = k;
    }
    rc = do_rows(r, limit, json_rows, cols, ncols);
  }
out:
  tarn_free(cols);
  tarn_pq_reader_close(r);
  if (fd >= 0)
    close(fd);
  cli_free(&c);
  return rc;
}
