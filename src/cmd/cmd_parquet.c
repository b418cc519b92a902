/* cmd_parquet.c - `tarn parquet schema|meta|head|cat FILE`: inspect Parquet files with tarn's
 * own reader; rows as JSON lines or CSV. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "cli.h"
#include "cmds.h"
#include "parquet/parquet.h"

static const cli_opt parquet_opts[] = {
    {"rows", 1, "N", "head: rows to print (default 10)"},
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
         "Rows are JSON lines by default (int64 as numbers, timestamps as ISO-8601 strings,\n"
         "dates as YYYY-MM-DD, decimals as exact strings, binary as base64, UUIDs canonical,\n"
         "NaN and infinities as strings) or CSV with a header row (--format csv).\n"
         "Errors print \"tarn parquet: FILE: offset N: message\" and exit 1.\n");
  cli_print_options(c, parquet_opts, stdout);
}

/* ---- value rendering ---- */

static void days_to_civil(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
  /* Proleptic Gregorian calendar from days since 1970-01-01 (Hinnant's algorithm). */
  int64_t era, yoe, doy, mp;
  z += 719468;
  era = (z >= 0 ? z : z - 146096) / 146097;
  yoe = z - era * 146097;
  yoe = (yoe - yoe / 1460 + yoe / 36524 - yoe / 146096) / 365;
  *y = yoe + era * 400;
  doy = (z - era * 146097) - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
  *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
  if (*m <= 2)
    (*y)++;
}

static int64_t floordiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0)))
    q--;
  return q;
}

static void fmt_date(char *out, size_t n, int64_t days) {
  int64_t y;
  unsigned m, d;
  days_to_civil(days, &y, &m, &d);
  snprintf(out, n, "%04lld-%02u-%02u", (long long)y, m, d);
}

/* ticks since the epoch (or midnight when date is 0) at `per_sec` ticks per second. */
static void fmt_time_of_day(char *out, size_t n, int64_t ticks_in_day, int64_t per_sec,
                            int digits) {
  int64_t secs = ticks_in_day / per_sec, frac = ticks_in_day % per_sec;
  snprintf(out, n, "%02lld:%02lld:%02lld.%0*lld", (long long)(secs / 3600),
           (long long)(secs / 60 % 60), (long long)(secs % 60), digits, (long long)frac);
}

static void fmt_timestamp(char *out, size_t n, int64_t v, int64_t per_sec, int digits, int utc) {
  int64_t per_day = per_sec * 86400, day = floordiv(v, per_day), rest = v - day * per_day;
  char d[32], t[48];
  fmt_date(d, sizeof(d), day);
  fmt_time_of_day(t, sizeof(t), rest, per_sec, digits);
  snprintf(out, n, "%sT%s%s", d, t, utc ? "Z" : "");
}

static void unit_scale(tarn_pq_unit u, int64_t *per_sec, int *digits) {
  *per_sec = u == TARN_PQ_MILLIS ? 1000 : u == TARN_PQ_MICROS ? 1000000 : 1000000000;
  *digits = u == TARN_PQ_MILLIS ? 3 : u == TARN_PQ_MICROS ? 6 : 9;
}

/* Big-endian two's complement to an exact decimal string with `scale` digits after the point. */
static void fmt_decimal_be(char *out, size_t n, const uint8_t *p, size_t len, int scale) {
  uint8_t mag[64];
  char digits[200];
  size_t nd = 0, i, o = 0;
  int neg = len > 0 && (p[0] & 0x80);
  if (len > sizeof(mag)) {
    snprintf(out, n, "?");
    return;
  }
  memcpy(mag, p, len);
  if (neg) { /* two's complement negate */
    int carry = 1;
    for (i = len; i-- > 0;) {
      int v = (uint8_t)~mag[i] + carry;
      mag[i] = (uint8_t)v;
      carry = v >> 8;
    }
  }
  for (;;) { /* repeated division by 10 */
    unsigned rem = 0;
    int nonzero = 0;
    for (i = 0; i < len; i++) {
      unsigned cur = (rem << 8) | mag[i];
      mag[i] = (uint8_t)(cur / 10);
      rem = cur % 10;
      nonzero |= mag[i] != 0;
    }
    digits[nd++] = (char)('0' + rem);
    if (!nonzero || nd >= sizeof(digits) - 1)
      break;
  }
  while ((int)nd <= scale)
    digits[nd++] = '0';
  if (neg && o + 1 < n)
    out[o++] = '-';
  for (i = nd; i-- > 0;) {
    if (o + 2 >= n)
      break;
    out[o++] = digits[i];
    if ((int)i == scale && scale > 0)
      out[o++] = '.';
  }
  out[o] = '\0';
}

static void fmt_decimal_int(char *out, size_t n, int64_t v, int scale) {
  uint8_t be[8];
  int i;
  for (i = 0; i < 8; i++)
    be[i] = (uint8_t)((uint64_t)v >> (56 - 8 * i));
  fmt_decimal_be(out, n, be, 8, scale);
}

static void fmt_double(char *out, size_t n, double v, int is_float) {
  int prec;
  for (prec = 1; prec <= 17; prec++) { /* shortest text that reads back the same */
    snprintf(out, n, "%.*g", prec, v);
    if (is_float ? strtof(out, NULL) == (float)v : strtod(out, NULL) == v)
      break;
  }
  /* Plain notation for ordinary magnitudes: -100 rather than -1e+02. */
  if (strchr(out, 'e') != NULL && fabs(v) >= 1e-5 && fabs(v) < 1e16) {
    int decimals = prec - 1 - (int)floor(log10(fabs(v)));
    snprintf(out, n, "%.*f", decimals > 0 ? decimals : 0, v);
  }
}

static void put_base64(FILE *f, const uint8_t *p, size_t n) {
  static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t i;
  for (i = 0; i + 2 < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
    putc(tbl[v >> 18], f);
    putc(tbl[(v >> 12) & 63], f);
    putc(tbl[(v >> 6) & 63], f);
    putc(tbl[v & 63], f);
  }
  if (i < n) {
    uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
    putc(tbl[v >> 18], f);
    putc(tbl[(v >> 12) & 63], f);
    putc(i + 1 < n ? tbl[(v >> 6) & 63] : '=', f);
    putc('=', f);
  }
}

/* Length of a valid UTF-8 sequence at p (0 if invalid). */
static size_t utf8_len(const uint8_t *p, size_t n) {
  uint8_t c = p[0];
  size_t len, i;
  uint32_t cp;
  if (c < 0x80)
    return 1;
  if (c >= 0xc2 && c <= 0xdf)
    len = 2, cp = c & 0x1f;
  else if (c >= 0xe0 && c <= 0xef)
    len = 3, cp = c & 0x0f;
  else if (c >= 0xf0 && c <= 0xf4)
    len = 4, cp = c & 0x07;
  else
    return 0;
  if (len > n)
    return 0;
  for (i = 1; i < len; i++) {
    if ((p[i] & 0xc0) != 0x80)
      return 0;
    cp = cp << 6 | (p[i] & 0x3f);
  }
  if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
      (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
    return 0;
  return len;
}

static void put_json_string(FILE *f, const uint8_t *p, size_t n) {
  size_t i = 0;
  putc('"', f);
  while (i < n) {
    uint8_t c = p[i];
    size_t l;
    if (c == '"' || c == '\\') {
      putc('\\', f);
      putc(c, f);
      i++;
    } else if (c < 0x20) {
      if (c == '\n')
        fputs("\\n", f);
      else if (c == '\t')
        fputs("\\t", f);
      else if (c == '\r')
        fputs("\\r", f);
      else
        fprintf(f, "\\u%04x", c);
      i++;
    } else if ((l = utf8_len(p + i, n - i)) == 0) {
      fputs("\\ufffd", f); /* invalid UTF-8 never breaks the line's JSON */
      i++;
    } else {
      fwrite(p + i, 1, l, f);
      i += l;
    }
  }
  putc('"', f);
}

static void put_csv_field(FILE *f, const uint8_t *p, size_t n) {
  size_t i;
  int quote = 0;
  for (i = 0; i < n && !quote; i++)
    quote = p[i] == ',' || p[i] == '"' || p[i] == '\n' || p[i] == '\r';
  if (!quote) {
    fwrite(p, 1, n, f);
    return;
  }
  putc('"', f);
  for (i = 0; i < n; i++) {
    if (p[i] == '"')
      putc('"', f);
    putc(p[i], f);
  }
  putc('"', f);
}

/* A text value: JSON string or CSV field. */
static void put_text(FILE *f, const char *s, int json) {
  if (json)
    put_json_string(f, (const uint8_t *)s, strlen(s));
  else
    put_csv_field(f, (const uint8_t *)s, strlen(s));
}

static void put_value(FILE *f, const tarn_pq_column *c, const tarn_pq_array *a, int64_t i,
                      int json) {
  char buf[256];
  if (a->validity != NULL && !(a->validity[i >> 3] & (1u << (i & 7)))) {
    if (json)
      fputs("null", f);
    return;
  }
  switch (c->type) {
  case TARN_PQ_BOOLEAN:
    fputs((((const uint8_t *)a->values)[i >> 3] >> (i & 7)) & 1 ? "true" : "false", f);
    return;
  case TARN_PQ_INT32: {
    int32_t v = ((const int32_t *)a->values)[i];
    if (c->logical == TARN_PQ_LT_DATE) {
      fmt_date(buf, sizeof(buf), v);
    } else if (c->logical == TARN_PQ_LT_TIME) {
      fmt_time_of_day(buf, sizeof(buf), v, 1000, 3);
    } else if (c->logical == TARN_PQ_LT_DECIMAL) {
      fmt_decimal_int(buf, sizeof(buf), v, c->scale);
    } else {
      if (c->logical == TARN_PQ_LT_INTEGER && !c->is_signed)
        fprintf(f, "%u", (uint32_t)v);
      else
        fprintf(f, "%d", v);
      return;
    }
    put_text(f, buf, json);
    return;
  }
  case TARN_PQ_INT64: {
    int64_t v = ((const int64_t *)a->values)[i], per_sec;
    int digits;
    if (c->logical == TARN_PQ_LT_TIMESTAMP) {
      unit_scale(c->unit, &per_sec, &digits);
      fmt_timestamp(buf, sizeof(buf), v, per_sec, digits, c->adjusted_to_utc);
    } else if (c->logical == TARN_PQ_LT_TIME) {
      unit_scale(c->unit, &per_sec, &digits);
      fmt_time_of_day(buf, sizeof(buf), v, per_sec, digits);
    } else if (c->logical == TARN_PQ_LT_DECIMAL) {
      fmt_decimal_int(buf, sizeof(buf), v, c->scale);
    } else {
      if (c->logical == TARN_PQ_LT_INTEGER && !c->is_signed)
        fprintf(f, "%llu", (unsigned long long)v);
      else
        fprintf(f, "%lld", (long long)v);
      return;
    }
    put_text(f, buf, json);
    return;
  }
  case TARN_PQ_INT96: { /* legacy timestamp: nanoseconds of the day, then the Julian day */
    const uint8_t *p = (const uint8_t *)a->values + 12 * (size_t)i;
    int64_t nanos;
    int32_t jd;
    memcpy(&nanos, p, 8);
    memcpy(&jd, p + 8, 4);
    fmt_timestamp(buf, sizeof(buf), ((int64_t)jd - 2440588) * 86400000000000LL + nanos,
                  1000000000, 9, 0);
    put_text(f, buf, json);
    return;
  }
  case TARN_PQ_FLOAT:
  case TARN_PQ_DOUBLE: {
    double v = c->type == TARN_PQ_FLOAT ? (double)((const float *)a->values)[i]
                                        : ((const double *)a->values)[i];
    if (isnan(v) || isinf(v)) {
      put_text(f, isnan(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity", json);
      return;
    }
    fmt_double(buf, sizeof(buf), v, c->type == TARN_PQ_FLOAT);
    fputs(buf, f);
    return;
  }
  case TARN_PQ_BYTE_ARRAY:
  case TARN_PQ_FIXED_LEN_BYTE_ARRAY: {
    const uint8_t *p;
    size_t n;
    if (c->type == TARN_PQ_BYTE_ARRAY) {
      p = a->data + a->offsets[i];
      n = (size_t)(a->offsets[i + 1] - a->offsets[i]);
    } else {
      n = (size_t)c->type_length;
      p = (const uint8_t *)a->values + n * (size_t)i;
    }
    if (c->logical == TARN_PQ_LT_STRING || c->logical == TARN_PQ_LT_JSON ||
        c->logical == TARN_PQ_LT_ENUM) {
      if (json)
        put_json_string(f, p, n);
      else
        put_csv_field(f, p, n);
    } else if (c->logical == TARN_PQ_LT_UUID && n == 16) {
      snprintf(buf, sizeof(buf),
               "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", p[0],
               p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13],
               p[14], p[15]);
      put_text(f, buf, json);
    } else if (c->logical == TARN_PQ_LT_DECIMAL && n <= 64) {
      fmt_decimal_be(buf, sizeof(buf), p, n, c->scale);
      put_text(f, buf, json);
    } else {
      if (json)
        putc('"', f);
      put_base64(f, p, n);
      if (json)
        putc('"', f);
    }
    return;
  }
  }
}

/* Renders a PLAIN-encoded single value (statistics bounds) as text. */
static char *plain_to_text(const tarn_pq_column *c, const void *p, size_t n) {
  tarn_pq_array a;
  int64_t offs[2] = {0, (int64_t)n};
  uint8_t fixed[16] = {0};
  char *out = NULL;
  size_t outn = 0;
  FILE *f = open_memstream(&out, &outn);
  tarn_pq_column cc = *c;
  if (f == NULL)
    return NULL;
  memset(&a, 0, sizeof(a));
  a.length = 1;
  if (c->type == TARN_PQ_BYTE_ARRAY || (c->type == TARN_PQ_FIXED_LEN_BYTE_ARRAY &&
                                        n != (size_t)c->type_length)) {
    /* a truncated FLBA bound is shown as bytes */
    cc.type = TARN_PQ_BYTE_ARRAY;
    if (c->type == TARN_PQ_FIXED_LEN_BYTE_ARRAY && c->logical != TARN_PQ_LT_DECIMAL)
      cc.logical = TARN_PQ_LT_NONE;
    a.offsets = offs;
    a.data = (uint8_t *)(uintptr_t)p;
  } else if (c->type == TARN_PQ_FIXED_LEN_BYTE_ARRAY) {
    a.values = (void *)(uintptr_t)p;
  } else {
    memcpy(fixed, p, n < sizeof(fixed) ? n : sizeof(fixed));
    a.values = fixed;
  }
  put_value(f, &cc, &a, 0, 0);
  fclose(f);
  return out;
}

/* ---- subcommands ---- */

static void err_out(const tarn_error *err) {
  cli_error("parquet", "%s", tarn_error_message(err));
}

static int do_schema(const tarn_pq_file_meta *m, int json) {
  size_t i;
  char d[160];
  if (json) {
    json_t *arr = json_array();
    char *s;
    for (i = 0; i < m->schema.ncols; i++) {
      const tarn_pq_column *c = &m->schema.cols[i];
      tarn_pq_column_describe(c, d, sizeof(d));
      json_array_append_new(arr, json_pack("{s:s, s:i, s:s, s:s, s:b}", "name", c->name,
                                           "field_id", (json_int_t)c->field_id, "type",
                                           tarn_pq_type_name(c->type), "description", d,
                                           "optional", c->optional));
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
    if (c->field_id != 0)
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
    char *mn = plain_to_text(c, cm->stats.min.data, cm->stats.min.len);
    char *mx = plain_to_text(c, cm->stats.max.data, cm->stats.max.len);
    json_object_set_new(o, "min", json_string(mn ? mn : ""));
    json_object_set_new(o, "max", json_string(mx ? mx : ""));
    json_object_set_new(o, "min_exact", json_boolean(cm->stats.min_exact));
    json_object_set_new(o, "max_exact", json_boolean(cm->stats.max_exact));
    free(mn);
    free(mx);
  }
  json_object_set_new(o, "bloom_filter", cm->bloom_filter_offset >= 0
                                             ? json_integer(cm->bloom_filter_offset)
                                             : json_null());
  json_object_set_new(o, "column_index", cm->column_index_offset >= 0
                                             ? json_integer(cm->column_index_offset)
                                             : json_null());
  json_object_set_new(o, "offset_index", cm->offset_index_offset >= 0
                                             ? json_integer(cm->offset_index_offset)
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
      json_object_set_new(kv, m->kv[k].key, m->kv[k].value ? json_string(m->kv[k].value)
                                                            : json_null());
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
    printf("row group %zu: rows %lld, bytes %lld uncompressed, %lld compressed, offset %lld\n",
           g, (long long)rg->num_rows, (long long)rg->total_byte_size,
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
        char *mn = plain_to_text(c, cm->stats.min.data, cm->stats.min.len);
        char *mx = plain_to_text(c, cm->stats.max.data, cm->stats.max.len);
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
    if (cnt == cap) {
      size_t *nc = tarn_reallocarray(cols, cap * 2, sizeof(size_t));
      if (nc == NULL) {
        tarn_free(cols);
        return TARN_EXIT_FAIL;
      }
      cols = nc;
      cap *= 2;
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
      put_csv_field(stdout, (const uint8_t *)name, strlen(name));
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
          put_json_string(stdout, (const uint8_t *)c->name, strlen(c->name));
          putchar(':');
        }
        put_value(stdout, c, &b->cols[k], i, json);
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
  if (strcmp(sub, "head") == 0) {
    limit = 10;
    if (c.opt_values[OPT_ROWS] != NULL) {
      char *end;
      errno = 0;
      limit = strtoll(c.opt_values[OPT_ROWS], &end, 10);
      if (errno != 0 || *end != '\0' || end == c.opt_values[OPT_ROWS] || limit < 0) {
        cli_error(self->name, "--rows must be a non-negative integer (got \"%s\")",
                  c.opt_values[OPT_ROWS]);
        goto out;
      }
    }
  } else if (c.opt_values[OPT_ROWS] != NULL && strcmp(sub, "cat") != 0) {
    cli_error(self->name, "--rows applies to head");
    goto out;
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
