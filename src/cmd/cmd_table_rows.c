/* cmd_table_rows.c - `tarn table scan|append|overwrite`: rows out of a table (planned, read
 * by field id, filtered exactly) and rows into it (JSON lines, one commit). */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/uuid.h"
#include "cmd_table_int.h"
#include "csv/csv.h"
#include "rowfmt.h"

/* ---- text to values ---- */

static int b64_digit(int c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+' || c == '-')
    return 62;
  if (c == '/' || c == '_')
    return 63;
  return -1;
}

/* Standard or URL-safe base64, padding optional. -1 on a bad character or length. */
static int base64_decode(const char *s, size_t n, tarn_buf *out) {
  uint32_t acc = 0;
  int bits = 0;
  size_t i;
  while (n > 0 && s[n - 1] == '=')
    n--;
  if (n % 4 == 1)
    return -1;
  for (i = 0; i < n; i++) {
    int d = b64_digit((unsigned char)s[i]);
    if (d < 0)
      return -1;
    acc = (acc << 6) | (uint32_t)d;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (tarn_buf_append_byte(out, (uint8_t)(acc >> bits), NULL) != 0)
        return -1;
    }
  }
  return 0;
}

/*
 * Decimal text ("-12.5", "3", "0.001") as the unscaled value of decimal(precision,
 * scale), big-endian two's complement in 16 bytes. More fraction digits than the scale
 * are refused unless they are zeros (no silent rounding), as are more digits than the
 * precision allows.
 */
static int parse_decimal(const char *s, size_t n, int precision, int scale, uint8_t be[16],
                         char *why, size_t whylen) {
  size_t i = 0;
  int neg = 0, int_digits = 0, frac_digits = 0, any = 0, seen_point = 0, k;
  memset(be, 0, 16);
  if (i < n && (s[i] == '-' || s[i] == '+'))
    neg = s[i++] == '-';
  for (; i < n; i++) {
    int d, carry;
    if (s[i] == '.' && !seen_point) {
      seen_point = 1;
      continue;
    }
    if (!isdigit((unsigned char)s[i]))
      goto bad;
    any = 1;
    d = s[i] - '0';
    if (seen_point) {
      if (frac_digits == scale) {
        if (d != 0) {
          snprintf(why, whylen, "\"%.*s\" has more than %d digits after the point", (int)n, s,
                   scale);
          return -1;
        }
        continue;
      }
      frac_digits++;
    } else if (int_digits > 0 || d != 0) {
      int_digits++;
    }
    if (int_digits + scale > precision) {
      snprintf(why, whylen, "\"%.*s\" does not fit decimal(%d, %d)", (int)n, s, precision, scale);
      return -1;
    }
    /* be = be * 10 + d */
    carry = d;
    for (k = 15; k >= 0; k--) {
      int v = be[k] * 10 + carry;
      be[k] = (uint8_t)(v & 0xff);
      carry = v >> 8;
    }
  }
  if (!any)
    goto bad;
  for (; frac_digits < scale; frac_digits++) { /* scale up: "1.5" at scale 2 is 150 */
    int carry = 0;
    for (k = 15; k >= 0; k--) {
      int v = be[k] * 10 + carry;
      be[k] = (uint8_t)(v & 0xff);
      carry = v >> 8;
    }
  }
  if (neg) { /* two's complement negate */
    int carry = 1;
    for (k = 15; k >= 0; k--) {
      int v = (uint8_t)~be[k] + carry;
      be[k] = (uint8_t)v;
      carry = v >> 8;
    }
  }
  return 0;
bad:
  snprintf(why, whylen, "\"%.*s\" is not a decimal number", (int)n, s);
  return -1;
}

/* "HH:MM:SS[.ffffff]" as microseconds since midnight. */
static int parse_time(const char *s, size_t n, int64_t *us) {
  int h, m, sec;
  int64_t frac = 0, scale = 100000;
  size_t i;
  if (n < 8 || !isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) || s[2] != ':' ||
      !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4]) || s[5] != ':' ||
      !isdigit((unsigned char)s[6]) || !isdigit((unsigned char)s[7]))
    return -1;
  h = (s[0] - '0') * 10 + (s[1] - '0');
  m = (s[3] - '0') * 10 + (s[4] - '0');
  sec = (s[6] - '0') * 10 + (s[7] - '0');
  if (h > 23 || m > 59 || sec > 59)
    return -1;
  if (n > 8) {
    if (s[8] != '.' || n == 9 || n > 18)
      return -1;
    for (i = 9; i < n; i++) {
      if (!isdigit((unsigned char)s[i]))
        return -1;
      frac += (s[i] - '0') * scale;
      scale /= 10;
    }
  }
  *us = ((int64_t)h * 3600 + m * 60 + sec) * 1000000 + frac;
  return 0;
}

/* Would a finite double round to infinity as a float? (At or past FLT_MAX plus half its
 * last place, round-to-nearest gives infinity; tested before converting, which C leaves
 * undefined out of range.) */
static int float_overflows(double d) {
  return isfinite(d) && fabs(d) >= 0x1.ffffffp+127;
}

/* Is the zone of an ISO timestamp (text after the seconds: "Z", "+HH:MM", "-HHMM") UTC
 * itself, so that it names the same wall time? */
static int zone_is_utc(const char *s, size_t len) {
  size_t i = 19; /* YYYY-MM-DDTHH:MM:SS */
  while (i < len && s[i] != 'Z' && s[i] != '+' && s[i] != '-')
    i++;
  if (i < len && s[i] == 'Z')
    return 1;
  for (i++; i < len; i++)
    if (s[i] != '0' && s[i] != ':')
      return 0;
  return 1;
}

int table_parse_value(const tarn_ice_type *t, const char *s, size_t len, tarn_ice_value *v,
                      tarn_buf *scratch, char *why, size_t whylen) {
  char tn[64];
  int b;
  int32_t day;
  double d;
  memset(v, 0, sizeof(*v));
  tarn_ice_type_format(t, tn, sizeof(tn));
  switch (t->id) {
  case TARN_ICE_BOOLEAN:
    if (tarn_csv_parse_bool(s, len, &b) != 0)
      goto bad;
    v->i64 = b;
    return 0;
  case TARN_ICE_INT:
  case TARN_ICE_LONG:
    if (tarn_csv_parse_int64(s, len, &v->i64) != 0 ||
        (t->id == TARN_ICE_INT && (v->i64 < INT32_MIN || v->i64 > INT32_MAX)))
      goto bad;
    return 0;
  case TARN_ICE_FLOAT:
  case TARN_ICE_DOUBLE:
    if (len == 3 && memcmp(s, "NaN", 3) == 0)
      d = NAN;
    else if (len == 8 && memcmp(s, "Infinity", 8) == 0)
      d = INFINITY;
    else if (len == 9 && memcmp(s, "-Infinity", 9) == 0)
      d = -INFINITY;
    else if (tarn_csv_parse_float64(s, len, &d) != 0)
      goto bad;
    if (t->id == TARN_ICE_FLOAT && float_overflows(d)) {
      snprintf(why, whylen, "\"%.*s\" is out of range for a float (at most about 3.4028235e38 "
               "in magnitude; use a double column)", len > 64 ? 64 : (int)len, s);
      return -1;
    }
    v->f64 = d;
    v->f32 = (float)d;
    return 0;
  case TARN_ICE_DATE:
    if (tarn_csv_parse_date(s, len, &day) != 0)
      goto bad;
    v->i64 = day;
    return 0;
  case TARN_ICE_TIME:
    if (parse_time(s, len, &v->i64) != 0)
      goto bad;
    return 0;
  case TARN_ICE_TIMESTAMP:
  case TARN_ICE_TIMESTAMPTZ:
    /* a zone-less value in a timestamptz column is taken as UTC; a bare date is its
     * midnight. A timestamp column holds local date-times: shifting a value with an offset
     * would invent one, so only a UTC designator (Z, +00:00) passes, as the same wall time. */
    if (tarn_csv_parse_timestamp(s, len, &v->i64, &b) == 0) {
      if (t->id == TARN_ICE_TIMESTAMP && b && !zone_is_utc(s, len)) {
        snprintf(why, whylen, "\"%.*s\" has a UTC offset, but a timestamp column holds "
                 "date-times without a zone: give the local time without the offset, or use "
                 "a timestamptz column", len > 64 ? 64 : (int)len, s);
        return -1;
      }
      return 0;
    }
    if (tarn_csv_parse_date(s, len, &day) != 0) /* a bare date is its midnight */
      goto bad;
    v->i64 = (int64_t)day * 86400000000LL;
    return 0;
  case TARN_ICE_STRING:
    v->bytes = (const uint8_t *)s;
    v->len = len;
    return 0;
  case TARN_ICE_UUID: {
    char u[TARN_UUID_STR_LEN];
    tarn_uuid id;
    if (len != TARN_UUID_STR_LEN - 1)
      goto bad;
    memcpy(u, s, len);
    u[len] = '\0';
    if (tarn_uuid_parse(u, &id, NULL) != 0)
      goto bad;
    tarn_buf_reset(scratch);
    if (tarn_buf_append(scratch, id.b, 16, NULL) != 0)
      goto nomem;
    v->bytes = (const uint8_t *)scratch->data;
    v->len = 16;
    return 0;
  }
  case TARN_ICE_BINARY:
  case TARN_ICE_FIXED:
    tarn_buf_reset(scratch);
    if (base64_decode(s, len, scratch) != 0) {
      snprintf(why, whylen, "\"%.*s\" is not base64 (binary values are given in base64)",
               len > 64 ? 64 : (int)len, s);
      return -1;
    }
    if (t->id == TARN_ICE_FIXED && scratch->len != (size_t)t->length) {
      snprintf(why, whylen, "%s needs %d bytes; the base64 text decodes to %zu", tn,
               (int)t->length, scratch->len);
      return -1;
    }
    v->bytes = scratch->data ? (const uint8_t *)scratch->data : (const uint8_t *)"";
    v->len = scratch->len;
    return 0;
  case TARN_ICE_DECIMAL: {
    uint8_t be[16];
    int k, fits = 1;
    if (parse_decimal(s, len, t->precision, t->scale, be, why, whylen) != 0)
      return -1;
    for (k = 0; k < 8; k++) /* fits in int64 when the top 8 bytes only sign-extend */
      fits &= be[k] == ((be[8] & 0x80) ? 0xff : 0x00);
    if (fits) {
      uint64_t u = 0;
      for (k = 8; k < 16; k++)
        u = u << 8 | be[k];
      v->i64 = (int64_t)u;
      return 0;
    }
    tarn_buf_reset(scratch);
    if (tarn_buf_append(scratch, be, 16, NULL) != 0)
      goto nomem;
    v->bytes = (const uint8_t *)scratch->data;
    v->len = 16;
    v->wide = 1;
    return 0;
  }
  }
bad:
  snprintf(why, whylen, "\"%.*s\" is not a %s value", len > 64 ? 64 : (int)len, s, tn);
  return -1;
nomem:
  snprintf(why, whylen, "out of memory");
  return -1;
}

/* ---- scan ---- */

#define OP_NE 100 /* filter only: the planner knows no "not equal" */

typedef struct scan_pred {
  const tarn_ice_field *f;
  int op;            /* tarn_pq_op or OP_NE */
  char *text;        /* the literal (owned) */
  tarn_ice_value v;
  tarn_buf scratch;
} scan_pred;

static int parse_where(const char *text, const tarn_ice_schema *s, scan_pred *p, char *why,
                       size_t whylen) {
  const char *q = text, *name, *rest;
  char col[256], *lit;
  size_t n, len;
  while (isspace((unsigned char)*q))
    q++;
  name = q;
  while (*q && !isspace((unsigned char)*q) && !strchr("=!<>", *q))
    q++;
  n = (size_t)(q - name);
  if (n == 0 || n >= sizeof(col)) {
    snprintf(why, whylen, "\"%s\": expected COLUMN OP VALUE", text);
    return -1;
  }
  memcpy(col, name, n);
  col[n] = '\0';
  p->f = tarn_ice_schema_field_by_name(s, col);
  if (p->f == NULL) {
    snprintf(why, whylen, "\"%s\": no column \"%s\"", text, col);
    return -1;
  }
  while (isspace((unsigned char)*q))
    q++;
  if (strncasecmp(q, "is", 2) == 0 && (q[2] == '\0' || isspace((unsigned char)q[2]))) {
    char tail[32];
    size_t k = 0;
    q += 2;
    while (*q && k < sizeof(tail) - 1) {
      if (!isspace((unsigned char)*q))
        tail[k++] = (char)tolower((unsigned char)*q);
      else if (k > 0 && tail[k - 1] != ' ')
        tail[k++] = ' ';
      q++;
    }
    while (k > 0 && tail[k - 1] == ' ')
      k--;
    tail[k] = '\0';
    if (strcmp(tail, "null") == 0)
      p->op = TARN_PQ_IS_NULL;
    else if (strcmp(tail, "not null") == 0)
      p->op = TARN_PQ_NOT_NULL;
    else {
      snprintf(why, whylen, "\"%s\": expected \"is null\" or \"is not null\"", text);
      return -1;
    }
    return 0;
  }
  if (strncmp(q, "==", 2) == 0)
    p->op = TARN_PQ_EQ, q += 2;
  else if (strncmp(q, "!=", 2) == 0 || strncmp(q, "<>", 2) == 0)
    p->op = OP_NE, q += 2;
  else if (strncmp(q, "<=", 2) == 0)
    p->op = TARN_PQ_LE, q += 2;
  else if (strncmp(q, ">=", 2) == 0)
    p->op = TARN_PQ_GE, q += 2;
  else if (*q == '=')
    p->op = TARN_PQ_EQ, q++;
  else if (*q == '<')
    p->op = TARN_PQ_LT, q++;
  else if (*q == '>')
    p->op = TARN_PQ_GT, q++;
  else {
    snprintf(why, whylen, "\"%s\": expected an operator (= != < <= > >= is null, is not null)",
             text);
    return -1;
  }
  while (isspace((unsigned char)*q))
    q++;
  rest = q;
  len = strlen(rest);
  while (len > 0 && isspace((unsigned char)rest[len - 1]))
    len--;
  if (len >= 2 && (rest[0] == '\'' || rest[0] == '"') && rest[len - 1] == rest[0]) {
    rest++;
    len -= 2;
  } else if (len == 0) {
    snprintf(why, whylen, "\"%s\": missing value after the operator", text);
    return -1;
  }
  lit = tarn_strndup(rest, len);
  if (lit == NULL) {
    snprintf(why, whylen, "out of memory");
    return -1;
  }
  p->text = lit;
  if (table_parse_value(&p->f->type, lit, len, &p->v, &p->scratch, why, whylen) != 0) {
    char inner[256];
    /* the inner reason is short; a cut one still reads */
    if (snprintf(inner, sizeof(inner), "%s", why) < 0)
      inner[0] = '\0';
    snprintf(why, whylen, "\"%s\": column %s: %s", text, p->f->name, inner);
    return -1;
  }
  if ((p->f->type.id == TARN_ICE_FLOAT || p->f->type.id == TARN_ICE_DOUBLE) && isnan(p->v.f64)) {
    snprintf(why, whylen, "\"%s\": NaN compares with nothing", text);
    return -1;
  }
  return 0;
}

static int is_nan_value(const tarn_ice_type *t, const tarn_ice_value *v) {
  return (t->id == TARN_ICE_FLOAT && isnan(v->f32)) || (t->id == TARN_ICE_DOUBLE && isnan(v->f64));
}

/* Does a row value satisfy the predicate? Null and NaN satisfy no comparison but !=
 * (NaN) and IS NULL (null). */
static int pred_holds(const scan_pred *p, const tarn_ice_value *v) {
  int c;
  if (p->op == TARN_PQ_IS_NULL)
    return v->is_null;
  if (p->op == TARN_PQ_NOT_NULL)
    return !v->is_null;
  if (v->is_null)
    return 0;
  if (is_nan_value(&p->f->type, v))
    return p->op == OP_NE;
  c = tarn_ice_value_compare(&p->f->type, v, &p->v);
  switch (p->op) {
  case TARN_PQ_EQ: return c == 0;
  case TARN_PQ_LT: return c < 0;
  case TARN_PQ_LE: return c <= 0;
  case TARN_PQ_GT: return c > 0;
  case TARN_PQ_GE: return c >= 0;
  case OP_NE: return c != 0;
  default: return 0;
  }
}

/* The snapshot a scan reads and the schema to read it with. */
static int pick_snapshot(table_cx *x, const tarn_ice_metadata *m, int64_t *snap_id,
                         const tarn_ice_schema **schema) {
  const char *sv = x->c.opt_values[TOPT_SNAPSHOT], *av = x->c.opt_values[TOPT_AS_OF];
  const tarn_ice_snapshot *s = NULL;
  *snap_id = -1;
  *schema = tarn_ice_metadata_schema(m, m->current_schema_id);
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
    s = tarn_ice_metadata_snapshot(m, id);
    if (s == NULL) {
      cli_error("table", "table %s.%s has no snapshot %lld (it may have expired)", x->ns, x->name,
                id);
      return TARN_EXIT_FAIL;
    }
  } else if (av != NULL) {
    int64_t us, id = -1;
    int32_t day;
    int zone;
    size_t i;
    if (tarn_csv_parse_timestamp(av, strlen(av), &us, &zone) != 0) {
      if (tarn_csv_parse_date(av, strlen(av), &day) != 0) {
        cli_error("table", "--as-of \"%s\": expected an ISO-8601 time (2026-01-31T12:00:00Z)", av);
        return TARN_EXIT_USAGE;
      }
      us = (int64_t)day * 86400000000LL;
    }
    for (i = 0; i < m->nsnapshot_log; i++)
      if (m->snapshot_log[i].timestamp_ms * 1000 <= us)
        id = m->snapshot_log[i].snapshot_id;
    s = id >= 0 ? tarn_ice_metadata_snapshot(m, id) : NULL;
    if (s == NULL) {
      cli_error("table", "table %s.%s has no snapshot at or before %s%s", x->ns, x->name, av,
                id >= 0 ? " (it has expired)" : "");
      return TARN_EXIT_FAIL;
    }
  }
  if (s != NULL) {
    *snap_id = s->snapshot_id;
    if (s->schema_id >= 0 && tarn_ice_metadata_schema(m, s->schema_id) != NULL)
      *schema = tarn_ice_metadata_schema(m, s->schema_id); /* time travel reads its schema */
  }
  if (*schema == NULL) {
    cli_error("table", "table %s.%s: schema missing from its metadata", x->ns, x->name);
    return TARN_EXIT_FAIL;
  }
  return TARN_EXIT_OK;
}

/* The Parquet predicate for row-group and page pruning, when the column type allows. */
static int pq_pushdown(const scan_pred *p, const tarn_pq_column *fc, size_t col,
                       tarn_pq_predicate *out) {
  memset(out, 0, sizeof(*out));
  out->column = col;
  if (p->op == OP_NE)
    return 0;
  out->op = (tarn_pq_op)p->op;
  if (p->op == TARN_PQ_IS_NULL || p->op == TARN_PQ_NOT_NULL)
    return 1;
  if (p->v.wide)
    return 0;
  switch (fc->type) {
  case TARN_PQ_INT32:
    if (fc->logical == TARN_PQ_LT_INTEGER && !fc->is_signed)
      return 0;
    out->value.i32 = (int32_t)p->v.i64;
    return p->v.i64 >= INT32_MIN && p->v.i64 <= INT32_MAX;
  case TARN_PQ_INT64:
    if (fc->logical == TARN_PQ_LT_INTEGER && !fc->is_signed)
      return 0;
    out->value.i64 = p->v.i64;
    return 1;
  case TARN_PQ_FLOAT:
    out->value.f32 = p->v.f32;
    return p->f->type.id == TARN_ICE_FLOAT;
  case TARN_PQ_DOUBLE:
    out->value.f64 = p->v.f64;
    return p->f->type.id == TARN_ICE_DOUBLE;
  case TARN_PQ_BYTE_ARRAY:
    out->value.bytes = p->v.bytes;
    out->value.len = p->v.len;
    return 1;
  default:
    return 0;
  }
}

typedef struct scan_out {
  int json;
  int64_t limit, printed;
  int64_t rows_read, row_groups, row_groups_pruned, pages_pruned;
} scan_out;

/* Reads one data file and prints its matching rows. */
static int scan_file(table_cx *x, const tarn_ice_data_file *df, const tarn_ice_schema *schema,
                     const tarn_pq_schema *want, const size_t *outc, size_t nout,
                     const scan_pred *preds, size_t npreds, scan_out *so) {
  char key[TARN_STORE_KEY_MAX + 1];
  tarn_pq_reader *r = NULL;
  tarn_pq_scan *sc = NULL;
  tarn_pq_batch *b = NULL;
  const tarn_pq_file_meta *fm;
  tarn_pq_scan_options o;
  tarn_pq_predicate *pqp = NULL;
  size_t *proj = NULL, nproj = 0, npqp = 0, i, k;
  long *pos = NULL; /* schema field index -> projection position, -1 when absent */
  long *fcol = NULL; /* schema field index -> file column, -1 when absent */
  tarn_error err;
  int rc = TARN_EXIT_FAIL;
  if (tarn_table_io_key(&x->io, df->file_path, key, sizeof(key), &err) != 0 ||
      tarn_pq_reader_open_store(x->store, key, &r, &err) != 0) {
    cli_error("table", "%s.%s: data file %s: %s", x->ns, x->name, df->file_path,
              tarn_error_message(&err));
    goto out;
  }
  fm = tarn_pq_reader_meta(r);
  pos = tarn_calloc(schema->nfields + 1, sizeof(*pos));
  fcol = tarn_calloc(schema->nfields + 1, sizeof(*fcol));
  proj = tarn_calloc(schema->nfields + 1, sizeof(*proj));
  pqp = tarn_calloc(npreds + 1, sizeof(*pqp));
  if (pos == NULL || fcol == NULL || proj == NULL || pqp == NULL) {
    cli_error("table", "out of memory");
    goto out;
  }
  /* columns BY FIELD ID: a file written before a column was added lacks it (null) */
  for (i = 0; i < schema->nfields; i++) {
    pos[i] = fcol[i] = -1;
    for (k = 0; k < fm->schema.ncols; k++) {
      const tarn_pq_column *fc = &fm->schema.cols[k];
      if (fc->field_id != schema->fields[i].id)
        continue;
      if (fc->type != want->cols[i].type ||
          (fc->type == TARN_PQ_FIXED_LEN_BYTE_ARRAY &&
           fc->type_length != want->cols[i].type_length)) {
        char d1[160], d2[160];
        tarn_pq_column_describe(fc, d1, sizeof(d1));
        tarn_pq_column_describe(&want->cols[i], d2, sizeof(d2));
        cli_error("table", "%s.%s: data file %s: column %s (field id %d) is %s; the table "
                  "expects %s", x->ns, x->name, df->file_path, schema->fields[i].name,
                  (int)schema->fields[i].id, d1, d2);
        goto out;
      }
      fcol[i] = (long)k;
      break;
    }
  }
  /* the projection: output columns and predicate columns present in the file */
  for (i = 0; i < schema->nfields; i++) {
    int needed = 0;
    for (k = 0; k < nout; k++)
      needed |= outc[k] == i;
    for (k = 0; k < npreds; k++)
      needed |= preds[k].f->id == schema->fields[i].id;
    if (needed && fcol[i] >= 0) {
      pos[i] = (long)nproj;
      proj[nproj++] = (size_t)fcol[i];
    }
  }
  if (nproj == 0 && fm->schema.ncols > 0)
    proj[nproj++] = 0; /* rows still have to be counted */
  for (k = 0; k < npreds; k++) {
    const tarn_ice_field *pf = tarn_ice_schema_field(schema, preds[k].f->id);
    size_t fi = (size_t)(pf - schema->fields);
    if (pf != NULL && fcol[fi] >= 0 &&
        pq_pushdown(&preds[k], &fm->schema.cols[fcol[fi]], (size_t)fcol[fi], &pqp[npqp]))
      npqp++;
  }
  memset(&o, 0, sizeof(o));
  o.columns = proj;
  o.ncolumns = nproj;
  o.preds = pqp;
  o.npreds = npqp;
  o.batch_rows = 8192;
  o.row_group = -1;
  if (tarn_pq_scan_open(r, &o, &sc, &err) != 0) {
    cli_error("table", "%s.%s: data file %s: %s", x->ns, x->name, df->file_path,
              tarn_error_message(&err));
    goto out;
  }
  for (;;) {
    int64_t row;
    if (tarn_pq_scan_next(sc, &b, &err) != 0) {
      cli_error("table", "%s.%s: data file %s: %s", x->ns, x->name, df->file_path,
                tarn_error_message(&err));
      goto out;
    }
    if (b == NULL)
      break;
    so->rows_read += b->nrows;
    for (row = 0; row < b->nrows; row++) {
      int keep = 1;
      if (so->limit >= 0 && so->printed >= so->limit)
        break;
      for (k = 0; keep && k < npreds; k++) {
        size_t fi = (size_t)(tarn_ice_schema_field(schema, preds[k].f->id) - schema->fields);
        tarn_ice_value v;
        if (pos[fi] < 0) {
          memset(&v, 0, sizeof(v));
          v.is_null = 1;
        } else {
          tarn_ice_value_from_array(&schema->fields[fi].type, &fm->schema.cols[fcol[fi]],
                                    &b->cols[pos[fi]], row, &v);
        }
        keep = pred_holds(&preds[k], &v);
      }
      if (!keep)
        continue;
      if (so->json)
        putchar('{');
      for (k = 0; k < nout; k++) {
        size_t fi = outc[k];
        if (k)
          putchar(',');
        if (so->json) {
          rowfmt_json_string(stdout, (const uint8_t *)schema->fields[fi].name,
                             strlen(schema->fields[fi].name));
          putchar(':');
        }
        if (pos[fi] < 0) {
          if (so->json)
            fputs("null", stdout);
        } else {
          rowfmt_value(stdout, &fm->schema.cols[fcol[fi]], &b->cols[pos[fi]], row, so->json);
        }
      }
      fputs(so->json ? "}\n" : "\r\n", stdout);
      so->printed++;
    }
    tarn_pq_batch_free(b);
    b = NULL;
    if (so->limit >= 0 && so->printed >= so->limit)
      break;
  }
  {
    const tarn_pq_scan_stats *st = tarn_pq_scan_stats_get(sc);
    so->row_groups += st->row_groups_total;
    so->row_groups_pruned += st->row_groups_pruned_stats + st->row_groups_pruned_bloom;
    so->pages_pruned += st->pages_pruned;
  }
  rc = TARN_EXIT_OK;
out:
  tarn_pq_batch_free(b);
  tarn_pq_scan_close(sc);
  tarn_pq_reader_close(r);
  tarn_free(pos);
  tarn_free(fcol);
  tarn_free(proj);
  tarn_free(pqp);
  return rc;
}

int table_scan(table_cx *x) {
  tarn_table *t = NULL;
  const tarn_ice_metadata *m;
  const tarn_ice_schema *schema;
  tarn_pq_schema want;
  const char *wv[CLI_MAX_REPEATS];
  scan_pred *preds = NULL;
  tarn_table_pred *tp = NULL;
  size_t npreds = 0, ntp = 0, *outc = NULL, nout = 0, i, nfiles = 0;
  tarn_ice_data_file *files = NULL;
  tarn_table_scan_options so;
  tarn_table_plan_stats ps;
  scan_out out;
  tarn_error err;
  int64_t snap_id, planned = -1;
  char why[600];
  int rc, nw;
  memset(&want, 0, sizeof(want));
  memset(&out, 0, sizeof(out));
  out.json = 1;
  out.limit = -1;
  if (x->c.opt_values[TOPT_FORMAT] != NULL) {
    if (strcmp(x->c.opt_values[TOPT_FORMAT], "csv") == 0)
      out.json = 0;
    else if (strcmp(x->c.opt_values[TOPT_FORMAT], "jsonl") != 0) {
      cli_error("table", "--format must be jsonl or csv (got \"%s\")",
                x->c.opt_values[TOPT_FORMAT]);
      return TARN_EXIT_USAGE;
    }
  }
  if (x->c.opt_values[TOPT_LIMIT] != NULL) {
    char *end;
    errno = 0;
    out.limit = strtoll(x->c.opt_values[TOPT_LIMIT], &end, 10);
    if (errno != 0 || end == x->c.opt_values[TOPT_LIMIT] || *end != '\0' || out.limit < 0) {
      cli_error("table", "--limit must be a non-negative integer (got \"%s\")",
                x->c.opt_values[TOPT_LIMIT]);
      return TARN_EXIT_USAGE;
    }
  }
  rc = table_open(x, &t);
  if (rc != TARN_EXIT_OK)
    return rc;
  m = tarn_table_metadata(t);
  rc = pick_snapshot(x, m, &snap_id, &schema);
  if (rc != TARN_EXIT_OK)
    goto done;
  rc = TARN_EXIT_FAIL;
  if (tarn_ice_schema_to_parquet(schema, &want, &err) != 0) {
    cli_error("table", "%s.%s: %s", x->ns, x->name, tarn_error_message(&err));
    goto done;
  }
  /* output columns */
  outc = tarn_calloc(schema->nfields + 1, sizeof(*outc));
  if (outc == NULL) {
    cli_error("table", "out of memory");
    goto done;
  }
  if (x->c.opt_values[TOPT_COLUMNS] != NULL) {
    const char *p = x->c.opt_values[TOPT_COLUMNS];
    while (*p != '\0') {
      size_t len = strcspn(p, ","), k;
      for (k = 0; k < schema->nfields; k++)
        if (strlen(schema->fields[k].name) == len && memcmp(schema->fields[k].name, p, len) == 0)
          break;
      if (k == schema->nfields) {
        cli_error("table", "--columns: table %s.%s has no column \"%.*s\"", x->ns, x->name,
                  (int)len, p);
        rc = TARN_EXIT_USAGE;
        goto done;
      }
      if (nout == schema->nfields) {
        cli_error("table", "--columns: too many columns");
        rc = TARN_EXIT_USAGE;
        goto done;
      }
      outc[nout++] = k;
      p += len;
      if (*p == ',')
        p++;
    }
  } else {
    for (i = 0; i < schema->nfields; i++)
      outc[nout++] = i;
  }
  /* predicates */
  nw = cli_opt_values(&x->c, TOPT_WHERE, wv, CLI_MAX_REPEATS);
  preds = tarn_calloc((size_t)nw + 1, sizeof(*preds));
  tp = tarn_calloc((size_t)nw + 1, sizeof(*tp));
  if (preds == NULL || tp == NULL) {
    cli_error("table", "out of memory");
    goto done;
  }
  for (i = 0; i < (size_t)nw; i++) {
    tarn_buf_init(&preds[i].scratch, 4096);
    npreds = i + 1;
    if (parse_where(wv[i], schema, &preds[i], why, sizeof(why)) != 0) {
      cli_error("table", "--where %s", why);
      rc = TARN_EXIT_USAGE;
      goto done;
    }
    if (preds[i].op != OP_NE) {
      tp[ntp].field_id = preds[i].f->id;
      tp[ntp].op = (tarn_pq_op)preds[i].op;
      tp[ntp].value = preds[i].v;
      ntp++;
    }
  }
  if (snap_id < 0 && m->current_snapshot_id < 0)
    goto header_only; /* an empty table */
  memset(&so, 0, sizeof(so));
  so.snapshot_id = snap_id;
  so.as_of_ms = -1;
  so.preds = tp;
  so.npreds = ntp;
  if (tarn_table_plan(t, &so, &files, &nfiles, &planned, &ps, &err) != 0) {
    cli_error("table", "planning a scan of %s.%s: %s", x->ns, x->name, tarn_error_message(&err));
    goto done;
  }
header_only:
  if (!out.json) {
    for (i = 0; i < nout; i++) {
      const char *name = schema->fields[outc[i]].name;
      if (i)
        putchar(',');
      rowfmt_csv_field(stdout, (const uint8_t *)name, strlen(name));
    }
    fputs("\r\n", stdout);
  }
  for (i = 0; i < nfiles; i++) {
    if (out.limit >= 0 && out.printed >= out.limit)
      break;
    if (scan_file(x, &files[i], schema, &want, outc, nout, preds, npreds, &out) != TARN_EXIT_OK)
      goto done;
  }
  if (x->c.opt_values[TOPT_STATS] != NULL) {
    if (planned < 0)
      fprintf(stderr, "tarn table: %s.%s is empty (no snapshot)\n", x->ns, x->name);
    else
      fprintf(stderr,
              "tarn table: %s.%s snapshot %lld: manifests %lld (%lld pruned), data files %lld "
              "(%lld pruned by partition, %lld by metrics, %zu read), row groups %lld (%lld "
              "pruned), rows read %lld, rows printed %lld\n",
              x->ns, x->name, (long long)planned, (long long)ps.manifests_total,
              (long long)ps.manifests_pruned, (long long)ps.files_total,
              (long long)ps.files_pruned_partition, (long long)ps.files_pruned_metrics, nfiles,
              (long long)out.row_groups, (long long)out.row_groups_pruned,
              (long long)out.rows_read, (long long)out.printed);
  }
  rc = TARN_EXIT_OK;
done:
  for (i = 0; i < npreds; i++) {
    tarn_free(preds[i].text);
    tarn_buf_free(&preds[i].scratch);
  }
  tarn_free(preds);
  tarn_free(tp);
  tarn_free(outc);
  tarn_ice_data_files_free(files, nfiles);
  tarn_pq_schema_free(&want);
  tarn_table_close(t);
  return rc;
}

/* ---- append, overwrite ---- */

#define CHUNK_ROWS 4096
#define MAX_LINE ((size_t)64 << 20)

/* One column's values for a chunk of rows, laid out as tarn_pq_array wants them. */
typedef struct wcol {
  const tarn_ice_field *f;
  const tarn_pq_column *pc;
  uint8_t *validity; /* NULL for required columns */
  void *values;      /* fixed width values, or the bitmap of a boolean column */
  int64_t *offsets;  /* BYTE_ARRAY */
  tarn_buf data;     /* BYTE_ARRAY bytes */
  size_t width;
} wcol;

static void wcols_free(wcol *w, size_t n) {
  size_t i;
  for (i = 0; w != NULL && i < n; i++) {
    tarn_free(w[i].validity);
    tarn_free(w[i].values);
    tarn_free(w[i].offsets);
    tarn_buf_free(&w[i].data);
  }
  tarn_free(w);
}

static int wcols_alloc(wcol *w, const tarn_ice_schema *s, const tarn_pq_schema *pq) {
  size_t i;
  for (i = 0; i < s->nfields; i++) {
    wcol *c = &w[i];
    c->f = &s->fields[i];
    c->pc = &pq->cols[i];
    tarn_buf_init(&c->data, TARN_BUF_UNLIMITED);
    switch (c->pc->type) {
    case TARN_PQ_BOOLEAN: c->width = 0; break;
    case TARN_PQ_INT32: case TARN_PQ_FLOAT: c->width = 4; break;
    case TARN_PQ_INT64: case TARN_PQ_DOUBLE: c->width = 8; break;
    case TARN_PQ_FIXED_LEN_BYTE_ARRAY: c->width = (size_t)c->pc->type_length; break;
    default: c->width = 0; break;
    }
    if (c->pc->optional && (c->validity = tarn_calloc(CHUNK_ROWS / 8 + 1, 1)) == NULL)
      return -1;
    if (c->pc->type == TARN_PQ_BYTE_ARRAY) {
      if ((c->offsets = tarn_calloc(CHUNK_ROWS + 1, sizeof(int64_t))) == NULL)
        return -1;
    } else if ((c->values = tarn_calloc(c->width ? (size_t)CHUNK_ROWS * c->width
                                                 : CHUNK_ROWS / 8 + 1, 1)) == NULL) {
      return -1;
    }
  }
  return 0;
}

static void wcols_reset(wcol *w, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    if (w[i].validity)
      memset(w[i].validity, 0, CHUNK_ROWS / 8 + 1);
    if (w[i].pc->type == TARN_PQ_BOOLEAN)
      memset(w[i].values, 0, CHUNK_ROWS / 8 + 1);
    tarn_buf_reset(&w[i].data);
  }
}

/* Stores v (of the column's Iceberg type) at row `row` of the chunk. */
static int wcol_set(wcol *c, int64_t row, const tarn_ice_value *v) {
  size_t r = (size_t)row;
  if (c->pc->type == TARN_PQ_BYTE_ARRAY) {
    if (!v->is_null && v->len > 0 && tarn_buf_append(&c->data, v->bytes, v->len, NULL) != 0)
      return -1;
    c->offsets[r + 1] = (int64_t)c->data.len;
  }
  if (v->is_null)
    return 0;
  if (c->validity != NULL)
    c->validity[r >> 3] |= (uint8_t)(1u << (r & 7));
  switch (c->pc->type) {
  case TARN_PQ_BOOLEAN:
    if (v->i64)
      ((uint8_t *)c->values)[r >> 3] |= (uint8_t)(1u << (r & 7));
    break;
  case TARN_PQ_INT32: ((int32_t *)c->values)[r] = (int32_t)v->i64; break;
  case TARN_PQ_INT64: ((int64_t *)c->values)[r] = v->i64; break;
  case TARN_PQ_FLOAT: ((float *)c->values)[r] = v->f32; break;
  case TARN_PQ_DOUBLE: ((double *)c->values)[r] = v->f64; break;
  case TARN_PQ_FIXED_LEN_BYTE_ARRAY: {
    uint8_t *dst = (uint8_t *)c->values + r * c->width;
    if (c->f->type.id == TARN_ICE_DECIMAL) { /* the low bytes of a 16-byte value */
      uint8_t be[16];
      int k;
      if (v->wide) {
        memcpy(be, v->bytes, 16);
      } else {
        for (k = 0; k < 16; k++)
          be[k] = (uint8_t)(k < 8 ? (v->i64 < 0 ? 0xff : 0) : (uint64_t)v->i64 >> (8 * (15 - k)));
      }
      memcpy(dst, be + 16 - c->width, c->width);
    } else {
      memcpy(dst, v->bytes, c->width);
    }
    break;
  }
  default:
    break;
  }
  return 0;
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
    return table_parse_value(&f->type, json_string_value(j), json_string_length(j), v, scratch,
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
    if (f->type.id == TARN_ICE_FLOAT && float_overflows(v->f64)) {
      snprintf(why, whylen, "%.17g is out of range for a float (at most about 3.4028235e38 in "
               "magnitude; use a double column)", v->f64);
      return -1;
    }
    v->f32 = (float)v->f64;
    return 0;
  case TARN_ICE_DECIMAL:
    if (json_is_integer(j)) {
      snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(j));
      return table_parse_value(&f->type, num, strlen(num), v, scratch, why, whylen);
    }
    if (json_is_real(j)) {
      snprintf(why, whylen, "give decimal values as strings (\"12.34\") so they stay exact");
      return -1;
    }
    break;
  default:
    break;
  }
  {
    char tn[64];
    tarn_ice_type_format(&f->type, tn, sizeof(tn));
    snprintf(why, whylen, "a JSON %s is not a %s value",
             json_is_string(j) ? "string" : json_is_integer(j) ? "integer" : json_is_real(j)
             ? "number" : json_is_boolean(j) ? "boolean" : json_is_array(j) ? "array" : "object",
             tn);
  }
  return -1;
}

static uint8_t no_bytes[1]; /* data of a byte-array column without any bytes yet */

static int flush_chunk(tarn_table_writer *w, wcol *cols, size_t ncols, int64_t nrows,
                       tarn_pq_array *arrays, tarn_error *err) {
  tarn_pq_batch b;
  size_t i;
  if (nrows == 0)
    return 0;
  for (i = 0; i < ncols; i++) {
    memset(&arrays[i], 0, sizeof(arrays[i]));
    arrays[i].length = nrows;
    arrays[i].validity = cols[i].validity;
    arrays[i].values = cols[i].values;
    arrays[i].offsets = cols[i].offsets;
    arrays[i].data = cols[i].data.data ? (uint8_t *)cols[i].data.data : no_bytes;
    arrays[i].data_len = (int64_t)cols[i].data.len;
  }
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
             "\"snapshot_id\": null}\n", x->ns, x->name);
    else
      printf("no rows: nothing appended to %s.%s\n", x->ns, x->name);
    rc = TARN_EXIT_OK;
    goto out;
  }
  if (dynamic && nfiles != 1) {
    cli_error("table", "--dynamic: the rows fall in %zu partitions of %s.%s; a dynamic "
              "overwrite replaces exactly one (split the input by partition)", nfiles, x->ns,
              x->name);
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
    crc = tarn_table_overwrite(t, tarn_table_spec(t)->spec_id,
                               dynamic ? files[0].partition : NULL, files, nfiles, NULL, 0, &res,
                               &err);
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
           overwrite ? "wrote" : "appended", (long long)ws.total, ws.total == 1 ? "" : "s",
           nfiles, nfiles == 1 ? "" : "s", overwrite ? "over" : "to", x->ns, x->name,
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
