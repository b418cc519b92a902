/* pq_meta_read.c - decodes Parquet's footer (FileMetaData: schema, statistics, column
 * chunks, row groups), checking every count, length and offset. The per-page structures
 * are in pq_index_read.c. */
#include "pq_meta_read_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"

/* ---- schema ---- */

typedef struct selem {
  int has_type;
  int32_t type;
  int32_t type_length;
  int has_rep;
  int32_t rep;
  char *name;
  int32_t num_children; /* -1 when absent */
  int has_conv;
  int32_t conv;
  int32_t scale, precision;
  int32_t field_id;
  int has_field_id;
  /* LogicalType, when present */
  int lt;      /* logical field id of the union (0 none) */
  int lt_unit; /* 1 millis, 2 micros, 3 nanos */
  int lt_utc;
  int lt_bw;
  int lt_signed;
  int32_t lt_scale, lt_precision;
} selem;

static int read_time_unit(tarn__thrift *t, int *unit) {
  int16_t last = 0, id;
  int ft;
  T(tarn__thr_enter(t));
  for (;;) {
    T(tarn__thr_field(t, &last, &ft, &id));
    if (ft == TARN__THR_STOP)
      break;
    if (ft == TARN__THR_STRUCT && id >= 1 && id <= 3)
      *unit = id;
    T(tarn__thr_skip(t, ft));
  }
  tarn__thr_leave(t);
  return 0;
bad:
  return -1;
}

/* TimeType / TimestampType / IntType / DecimalType bodies. */
static int read_lt_body(tarn__thrift *t, selem *e) {
  int16_t last = 0, id;
  int ft;
  T(tarn__thr_enter(t));
  for (;;) {
    T(tarn__thr_field(t, &last, &ft, &id));
    if (ft == TARN__THR_STOP)
      break;
    if ((e->lt == 7 || e->lt == 8) && id == 1 && (ft == TARN__THR_TRUE || ft == TARN__THR_FALSE)) {
      e->lt_utc = ft == TARN__THR_TRUE;
    } else if ((e->lt == 7 || e->lt == 8) && id == 2 && ft == TARN__THR_STRUCT) {
      T(read_time_unit(t, &e->lt_unit));
    } else if (e->lt == 10 && id == 1 && ft == TARN__THR_BYTE) {
      int8_t b;
      T(tarn__thr_byte(t, &b));
      e->lt_bw = b; /* signed, as Thrift's i8; a bad width is refused by the schema check */
    } else if (e->lt == 10 && id == 2 && (ft == TARN__THR_TRUE || ft == TARN__THR_FALSE)) {
      e->lt_signed = ft == TARN__THR_TRUE;
    } else if (e->lt == 5 && id == 1 && ft == TARN__THR_I32) {
      T(tarn__thr_i32(t, &e->lt_scale));
    } else if (e->lt == 5 && id == 2 && ft == TARN__THR_I32) {
      T(tarn__thr_i32(t, &e->lt_precision));
    } else {
      T(tarn__thr_skip(t, ft));
    }
  }
  tarn__thr_leave(t);
  return 0;
bad:
  return -1;
}

static int read_logical(tarn__thrift *t, selem *e) {
  int16_t last = 0, id;
  int ft;
  T(tarn__thr_enter(t));
  for (;;) {
    T(tarn__thr_field(t, &last, &ft, &id));
    if (ft == TARN__THR_STOP)
      break;
    if (ft == TARN__THR_STRUCT) {
      e->lt = id;
      T(read_lt_body(t, e));
    } else {
      T(tarn__thr_skip(t, ft));
    }
  }
  tarn__thr_leave(t);
  return 0;
bad:
  return -1;
}

static int read_schema_element(tarn__thrift *t, selem *e) {
  int16_t last = 0, id;
  int ft;
  e->num_children = -1;
  T(tarn__thr_enter(t));
  for (;;) {
    T(tarn__thr_field(t, &last, &ft, &id));
    if (ft == TARN__THR_STOP)
      break;
    switch (id) {
    case 1:
      if (!FIELD_IS(TARN__THR_I32))
        goto skip;
      T(tarn__thr_i32(t, &e->type));
      e->has_type = 1;
      break;
    case 2:
      if (!FIELD_IS(TARN__THR_I32))
        goto skip;
      T(tarn__thr_i32(t, &e->type_length));
      break;
    case 3:
      if (!FIELD_IS(TARN__THR_I32))
        goto skip;
      T(tarn__thr_i32(t, &e->rep));
      e->has_rep = 1;
      break;
    case 4:
      if (!FIELD_IS(TARN__THR_BINARY))
        goto skip;
      T(tarn__thr_string(t, &e->name, TARN__PQ_MAX_STRING));
      break;
    case 5:
      if (!FIELD_IS(TARN__THR_I32))
        goto skip;
      T(tarn__thr_i32(t, &e->num_children));
      break;
    case 6:
      if (!FIELD_IS(TARN__THR_I32))
        goto skip;
      T(tarn__thr_i32(t, &e->conv));
      e->has_conv = 1;
      break;
    case 7:
      if (!FIELD_IS(TARN__THR_I32))
        goto skip;
      T(tarn__thr_i32(t, &e->scale));
      break;
    case 8:
      if (!FIELD_IS(TARN__THR_I32))
        goto skip;
      T(tarn__thr_i32(t, &e->precision));
      break;
    case 9:
      if (!FIELD_IS(TARN__THR_I32))
        goto skip;
      T(tarn__thr_i32(t, &e->field_id));
      e->has_field_id = 1;
      break;
    case 10:
      if (!FIELD_IS(TARN__THR_STRUCT))
        goto skip;
      T(read_logical(t, e));
      break;
    default:
    skip:
      T(tarn__thr_skip(t, ft));
    }
  }
  tarn__thr_leave(t);
  if (e->name == NULL)
    return tarn__thr_fail(t, "SchemaElement has no name");
  return 0;
bad:
  return -1;
}

static int decimal_ok(tarn_pq_type type, int32_t tl, int32_t precision, int32_t scale) {
  if (precision < 1 || scale < 0 || scale > precision)
    return 0;
  switch (type) {
  case TARN_PQ_INT32: return precision <= 9;
  case TARN_PQ_INT64: return precision <= 18;
  case TARN_PQ_FIXED_LEN_BYTE_ARRAY: return tl >= 1 && tl <= 64;
  case TARN_PQ_BYTE_ARRAY: return 1;
  default: return 0;
  }
}

/* Fills column fields from a schema element: LogicalType first, else ConvertedType. Logical
 * annotations that do not fit the physical type are dropped (the raw values stay readable). */
static void column_from(tarn_pq_column *c, const selem *e) {
  tarn_pq_type ty = (tarn_pq_type)e->type;
  c->field_id = e->field_id;
  c->has_field_id = e->has_field_id;
  c->type = ty;
  c->type_length = ty == TARN_PQ_FIXED_LEN_BYTE_ARRAY ? e->type_length : 0;
  c->optional = e->has_rep && e->rep == 1;
  c->logical = TARN_PQ_LT_NONE;
  if (e->lt != 0) {
    switch (e->lt) {
    case 1: c->logical = TARN_PQ_LT_STRING; break;
    case 4: c->logical = TARN_PQ_LT_ENUM; break;
    case 5:
      c->logical = TARN_PQ_LT_DECIMAL;
      c->precision = e->lt_precision;
      c->scale = e->lt_scale;
      break;
    case 6: c->logical = TARN_PQ_LT_DATE; break;
    case 7:
    case 8:
      c->logical = e->lt == 7 ? TARN_PQ_LT_TIME : TARN_PQ_LT_TIMESTAMP;
      c->adjusted_to_utc = e->lt_utc;
      c->unit = e->lt_unit == 1 ? TARN_PQ_MILLIS : e->lt_unit == 3 ? TARN_PQ_NANOS : TARN_PQ_MICROS;
      if (e->lt_unit == 0)
        c->logical = TARN_PQ_LT_NONE;
      break;
    case 10:
      c->logical = TARN_PQ_LT_INTEGER;
      c->bit_width = e->lt_bw;
      c->is_signed = e->lt_signed;
      break;
    case 12: c->logical = TARN_PQ_LT_JSON; break;
    case 14: c->logical = TARN_PQ_LT_UUID; break;
    case 15: c->logical = TARN_PQ_LT_FLOAT16; break;
    default: break; /* MAP, LIST, UNKNOWN, BSON, VARIANT, ...: raw physical values */
    }
  } else if (e->has_conv) {
    switch (e->conv) {
    case 0: c->logical = TARN_PQ_LT_STRING; break;
    case 4: c->logical = TARN_PQ_LT_ENUM; break;
    case 5:
      c->logical = TARN_PQ_LT_DECIMAL;
      c->precision = e->precision;
      c->scale = e->scale;
      break;
    case 6: c->logical = TARN_PQ_LT_DATE; break;
    case 7:
    case 8:
      c->logical = TARN_PQ_LT_TIME;
      c->unit = e->conv == 7 ? TARN_PQ_MILLIS : TARN_PQ_MICROS;
      c->adjusted_to_utc = 1;
      break;
    case 9:
    case 10:
      c->logical = TARN_PQ_LT_TIMESTAMP;
      c->unit = e->conv == 9 ? TARN_PQ_MILLIS : TARN_PQ_MICROS;
      c->adjusted_to_utc = 1;
      break;
    case 11:
    case 12:
    case 13:
    case 14: /* UINT_8..UINT_64 */
      c->logical = TARN_PQ_LT_INTEGER;
      c->bit_width = 8 << (e->conv - 11);
      c->is_signed = 0;
      break;
    case 15:
    case 16:
    case 17:
    case 18: /* INT_8..INT_64 */
      c->logical = TARN_PQ_LT_INTEGER;
      c->bit_width = 8 << (e->conv - 15);
      c->is_signed = 1;
      break;
    case 19: c->logical = TARN_PQ_LT_JSON; break;
    default: break;
    }
  }
  /* Drop annotations that do not match the physical type. */
  switch (c->logical) {
  case TARN_PQ_LT_STRING:
  case TARN_PQ_LT_JSON:
  case TARN_PQ_LT_ENUM:
    if (ty != TARN_PQ_BYTE_ARRAY)
      c->logical = TARN_PQ_LT_NONE;
    break;
  case TARN_PQ_LT_DATE:
    if (ty != TARN_PQ_INT32)
      c->logical = TARN_PQ_LT_NONE;
    break;
  case TARN_PQ_LT_TIME:
    if (!(ty == TARN_PQ_INT32 && c->unit == TARN_PQ_MILLIS) &&
        !(ty == TARN_PQ_INT64 && c->unit != TARN_PQ_MILLIS))
      c->logical = TARN_PQ_LT_NONE;
    break;
  case TARN_PQ_LT_TIMESTAMP:
    if (ty != TARN_PQ_INT64)
      c->logical = TARN_PQ_LT_NONE;
    break;
  case TARN_PQ_LT_INTEGER:
    if (!((ty == TARN_PQ_INT32 &&
           (c->bit_width == 8 || c->bit_width == 16 || c->bit_width == 32)) ||
          (ty == TARN_PQ_INT64 && c->bit_width == 64)))
      c->logical = TARN_PQ_LT_NONE;
    break;
  case TARN_PQ_LT_UUID:
    if (ty != TARN_PQ_FIXED_LEN_BYTE_ARRAY || c->type_length != 16)
      c->logical = TARN_PQ_LT_NONE;
    break;
  case TARN_PQ_LT_FLOAT16:
    if (ty != TARN_PQ_FIXED_LEN_BYTE_ARRAY || c->type_length != 2)
      c->logical = TARN_PQ_LT_NONE;
    break;
  case TARN_PQ_LT_DECIMAL:
    if (!decimal_ok(ty, c->type_length, c->precision, c->scale))
      c->logical = TARN_PQ_LT_NONE;
    break;
  default: break;
  }
  if (c->logical != TARN_PQ_LT_DECIMAL)
    c->precision = c->scale = 0;
  if (c->logical != TARN_PQ_LT_INTEGER)
    c->bit_width = c->is_signed = 0;
  if (c->logical != TARN_PQ_LT_TIME && c->logical != TARN_PQ_LT_TIMESTAMP)
    c->unit = 0, c->adjusted_to_utc = 0;
}

static int read_schema(tarn__thrift *t, tarn_pq_schema *s) {
  int et;
  uint32_t n, i;
  selem *es = NULL;
  int rc = -1;
  T(tarn__thr_list(t, &et, &n));
  if (et != TARN__THR_STRUCT)
    return tarn__thr_fail(t, "schema is not a list of structs");
  if (n < 1)
    return tarn__thr_fail(t, "schema is empty");
  if (n > TARN__PQ_MAX_COLUMNS + 1)
    return tarn__thr_fail(t, "schema has %u elements, more than the cap of %d", n,
                          TARN__PQ_MAX_COLUMNS + 1);
  es = tarn_calloc(n, sizeof(*es));
  if (es == NULL)
    return tarn__pqm_oom(t);
  for (i = 0; i < n; i++)
    T(read_schema_element(t, &es[i]));
  if (es[0].num_children < 0 || es[0].has_type)
    T(tarn__thr_fail(t, "schema root \"%s\" is not a group", es[0].name));
  if ((uint32_t)es[0].num_children != n - 1) {
    /* A child that is itself a group makes the counts differ: find it to name it. */
    for (i = 1; i < n; i++)
      if (es[i].num_children > 0 || !es[i].has_type)
        break;
    t->code = TARN_EUNSUPPORTED,
    tarn_error_set(t->err, TARN_EUNSUPPORTED,
                   "%s: column \"%s\" is nested (a group); only flat schemas are supported",
                   t->name, i < n ? es[i].name : es[0].name);
    goto bad;
  }
  s->cols = tarn_calloc(n > 1 ? n - 1 : 1, sizeof(*s->cols));
  if (s->cols == NULL) {
    tarn__pqm_oom(t);
    goto bad;
  }
  for (i = 1; i < n; i++) {
    selem *e = &es[i];
    tarn_pq_column *c = &s->cols[i - 1];
    if (e->num_children > 0 || !e->has_type) {
      t->code = TARN_EUNSUPPORTED,
      tarn_error_set(t->err, TARN_EUNSUPPORTED,
                     "%s: column \"%s\" is nested (a group); only flat schemas are supported",
                     t->name, e->name);
      goto bad;
    }
    if (e->has_rep && e->rep == 2) {
      t->code = TARN_EUNSUPPORTED,
      tarn_error_set(t->err, TARN_EUNSUPPORTED,
                     "%s: column \"%s\" is REPEATED; only flat schemas are supported", t->name,
                     e->name);
      goto bad;
    }
    if (e->type < 0 || e->type > 7 || (e->has_rep && (e->rep < 0 || e->rep > 2))) {
      T(tarn__thr_fail(t, "column \"%s\" has an unknown type %d or repetition %d", e->name,
                       (int)e->type, (int)e->rep));
    }
    if (e->type == TARN_PQ_FIXED_LEN_BYTE_ARRAY &&
        (e->type_length < 1 || e->type_length > TARN__PQ_MAX_FLBA_WIDTH))
      T(tarn__thr_fail(t, "column \"%s\" has FIXED_LEN_BYTE_ARRAY length %d", e->name,
                       (int)e->type_length));
    column_from(c, e);
    c->name = e->name;
    e->name = NULL;
    s->ncols = i;
  }
  rc = 0;
bad:
  for (i = 0; es != NULL && i < n; i++)
    tarn_free(es[i].name);
  tarn_free(es);
  return rc;
}

/* ---- statistics ---- */

/* Legacy min/max were computed with signed comparison: trustworthy only for types whose
 * order is signed. */
static int legacy_order_ok(const tarn_pq_column *c) {
  switch (c->type) {
  case TARN_PQ_BOOLEAN:
  case TARN_PQ_FLOAT:
  case TARN_PQ_DOUBLE: return 1;
  case TARN_PQ_INT32:
  case TARN_PQ_INT64: return !(c->logical == TARN_PQ_LT_INTEGER && !c->is_signed);
  default: return 0;
  }
}

static int is_nan_bound(const tarn_pq_column *c, const uint8_t *p, size_t n) {
  if (c->type == TARN_PQ_FLOAT && n == 4) {
    float f;
    memcpy(&f, p, 4);
    return isnan(f);
  }
  if (c->type == TARN_PQ_DOUBLE && n == 8) {
    double d;
    memcpy(&d, p, 8);
    return isnan(d);
  }
  return 0;
}

static int read_stats(tarn__thrift *t, const tarn_pq_column *c, tarn_pq_stats *st) {
  int16_t last = 0, id;
  int ft;
  const uint8_t *mn = NULL, *mx = NULL, *lmn = NULL, *lmx = NULL;
  uint32_t mnn = 0, mxn = 0, lmnn = 0, lmxn = 0;
  int min_exact = -1, max_exact = -1;
  T(tarn__thr_enter(t));
  for (;;) {
    T(tarn__thr_field(t, &last, &ft, &id));
    if (ft == TARN__THR_STOP)
      break;
    if (ft == TARN__THR_BINARY && (id == 1 || id == 2 || id == 5 || id == 6)) {
      const uint8_t *p;
      uint32_t n;
      T(tarn__thr_binary(t, &p, &n, TARN__PQ_MAX_STRING));
      if (id == 1)
        lmx = p, lmxn = n;
      else if (id == 2)
        lmn = p, lmnn = n;
      else if (id == 5)
        mx = p, mxn = n;
      else
        mn = p, mnn = n;
    } else if (ft == TARN__THR_I64 && id == 3) {
      T(tarn__thr_i64(t, &st->null_count));
      st->has_null_count = st->null_count >= 0;
    } else if (ft == TARN__THR_I64 && id == 4) {
      T(tarn__thr_i64(t, &st->distinct_count));
      st->has_distinct_count = st->distinct_count >= 0;
    } else if ((ft == TARN__THR_TRUE || ft == TARN__THR_FALSE) && (id == 7 || id == 8)) {
      if (id == 7)
        max_exact = ft == TARN__THR_TRUE;
      else
        min_exact = ft == TARN__THR_TRUE;
    } else {
      T(tarn__thr_skip(t, ft));
    }
  }
  tarn__thr_leave(t);
  if (!(mn && mx) && lmn && lmx && legacy_order_ok(c)) {
    mn = lmn, mnn = lmnn, mx = lmx, mxn = lmxn;
    min_exact = max_exact = 1;
  }
  if (mn && mx) {
    int w = tarn_pq_plain_width(c);
    int ok = 1;
    if (w > 0 && (mnn != (uint32_t)w || mxn != (uint32_t)w))
      ok = 0; /* a fixed-width bound of the wrong size is unusable */
    if (is_nan_bound(c, mn, mnn) || is_nan_bound(c, mx, mxn))
      ok = 0;
    if (ok) {
      /* A repeated Statistics field replaces, never extends, what was read before. */
      tarn_buf_reset(&st->min);
      tarn_buf_reset(&st->max);
      if (tarn_buf_append(&st->min, mn, mnn, NULL) != 0 ||
          tarn_buf_append(&st->max, mx, mxn, NULL) != 0)
        return tarn__pqm_oom(t);
      st->has_min_max = 1;
      /* Absent exactness: fixed-width bounds are exact; variable-length ones unknown. */
      st->min_exact = min_exact >= 0 ? min_exact : w > 0;
      st->max_exact = max_exact >= 0 ? max_exact : w > 0;
    }
  }
  return 0;
bad:
  return -1;
}

/* ---- column chunks and row groups ---- */

typedef struct footer_ctx {
  tarn__thrift *t;
  const tarn_pq_schema *schema;
  int64_t footer_start; /* column data and indexes must lie in [4, footer_start) */
} footer_ctx;

static int read_column_meta(footer_ctx *fc, const tarn_pq_column *c, tarn_pq_chunk_meta *cm,
                            int *have) {
  tarn__thrift *t = fc->t;
  int16_t last = 0, id;
  int ft;
  unsigned seen = 0;
  T(tarn__thr_enter(t));
  for (;;) {
    T(tarn__thr_field(t, &last, &ft, &id));
    if (ft == TARN__THR_STOP)
      break;
    if (id == 1 && ft == TARN__THR_I32) {
      int32_t v;
      T(tarn__thr_i32(t, &v));
      cm->type = (tarn_pq_type)v;
      seen |= 1;
    } else if (id == 2 && ft == TARN__THR_LIST) {
      int et;
      uint32_t n, i;
      T(tarn__thr_list(t, &et, &n));
      for (i = 0; i < n; i++) {
        int32_t v;
        if (et != TARN__THR_I32) {
          T(tarn__thr_skip(t, et) != 0 ? -1 : 0);
          continue;
        }
        T(tarn__thr_i32(t, &v));
        if (cm->nencodings < sizeof(cm->encodings) / sizeof(cm->encodings[0]))
          cm->encodings[cm->nencodings++] = v;
      }
    } else if (id == 4 && ft == TARN__THR_I32) {
      int32_t v;
      T(tarn__thr_i32(t, &v));
      cm->codec = (tarn_pq_codec)v;
      seen |= 2;
    } else if (id == 5 && ft == TARN__THR_I64) {
      T(tarn__thr_i64(t, &cm->num_values));
      seen |= 4;
    } else if (id == 6 && ft == TARN__THR_I64) {
      T(tarn__thr_i64(t, &cm->total_uncompressed_size));
    } else if (id == 7 && ft == TARN__THR_I64) {
      T(tarn__thr_i64(t, &cm->total_compressed_size));
      seen |= 8;
    } else if (id == 9 && ft == TARN__THR_I64) {
      T(tarn__thr_i64(t, &cm->data_page_offset));
      seen |= 16;
    } else if (id == 11 && ft == TARN__THR_I64) {
      T(tarn__thr_i64(t, &cm->dictionary_page_offset));
    } else if (id == 12 && ft == TARN__THR_STRUCT) {
      T(read_stats(t, c, &cm->stats));
    } else if (id == 14 && ft == TARN__THR_I64) {
      T(tarn__thr_i64(t, &cm->bloom_filter_offset));
    } else if (id == 15 && ft == TARN__THR_I32) {
      T(tarn__thr_i32(t, &cm->bloom_filter_length));
    } else {
      T(tarn__thr_skip(t, ft));
    }
  }
  tarn__thr_leave(t);
  if (seen != 31)
    return tarn__thr_fail(t, "ColumnMetaData of \"%s\" lacks a required field", c->name);
  *have = 1;
  return 0;
bad:
  return -1;
}

static int read_column_chunk(footer_ctx *fc, const tarn_pq_column *c, tarn_pq_chunk_meta *cm) {
  tarn__thrift *t = fc->t;
  int16_t last = 0, id;
  int ft, have_meta = 0;
  T(tarn__thr_enter(t));
  for (;;) {
    T(tarn__thr_field(t, &last, &ft, &id));
    if (ft == TARN__THR_STOP)
      break;
    if (id == 1 && ft == TARN__THR_BINARY) {
      t->code = TARN_EUNSUPPORTED,
      tarn_error_set(t->err, TARN_EUNSUPPORTED,
                     "%s: column \"%s\" has its chunk in another file (file_path)", t->name,
                     c->name);
      return -1;
    } else if (id == 2 && ft == TARN__THR_I64) {
      T(tarn__thr_i64(t, &cm->file_offset));
    } else if (id == 3 && ft == TARN__THR_STRUCT) {
      T(read_column_meta(fc, c, cm, &have_meta));
    } else if (id == 4 && ft == TARN__THR_I64) {
      T(tarn__thr_i64(t, &cm->offset_index_offset));
    } else if (id == 5 && ft == TARN__THR_I32) {
      T(tarn__thr_i32(t, &cm->offset_index_length));
    } else if (id == 6 && ft == TARN__THR_I64) {
      T(tarn__thr_i64(t, &cm->column_index_offset));
    } else if (id == 7 && ft == TARN__THR_I32) {
      T(tarn__thr_i32(t, &cm->column_index_length));
    } else if ((id == 8 || id == 9) && ft != TARN__THR_STOP) {
      t->code = TARN_EUNSUPPORTED,
      tarn_error_set(t->err, TARN_EUNSUPPORTED, "%s: column \"%s\" is encrypted", t->name, c->name);
      return -1;
    } else {
      T(tarn__thr_skip(t, ft));
    }
  }
  tarn__thr_leave(t);
  if (!have_meta)
    return tarn__thr_fail(t, "column chunk of \"%s\" has no metadata", c->name);
  return 0;
bad:
  return -1;
}

/* Checks a chunk's offsets against the file; fills file_offset with the chunk's start. */
static int check_chunk(footer_ctx *fc, const tarn_pq_column *c, tarn_pq_chunk_meta *cm, size_t rg,
                       int64_t rg_rows) {
  tarn__thrift *t = fc->t;
  int64_t lim = fc->footer_start, start;
  if (cm->type != c->type)
    return tarn__thr_fail(t, "row group %zu: column \"%s\" chunk type %s differs from the schema",
                          rg, c->name, tarn_pq_type_name(cm->type));
  if (cm->num_values < 0 || cm->total_compressed_size < 0 || cm->total_uncompressed_size < 0)
    return tarn__thr_fail(t, "row group %zu: column \"%s\" has a negative size or count", rg,
                          c->name);
  /* Some writers store 0 for "no dictionary"; a dictionary page always precedes data. */
  if (cm->dictionary_page_offset < 4 || cm->dictionary_page_offset >= cm->data_page_offset)
    cm->dictionary_page_offset = -1;
  start = cm->dictionary_page_offset >= 0 ? cm->dictionary_page_offset : cm->data_page_offset;
  /* A chunk of no values in a row group of no rows is never read (scans skip such row
   * groups). arrow-cpp writes it with data_page_offset 0 and a few bytes of size, and
   * DuckDB and arrow-rs read the file as 0 rows: keep its offsets for display only. */
  if (rg_rows == 0 && cm->num_values == 0) {
    cm->file_offset = start;
    return 0;
  }
  if (start < 4 || start >= lim || cm->total_compressed_size > lim - start)
    return tarn__thr_fail(t,
                          "row group %zu: column \"%s\" chunk at %lld (+%lld bytes) lies outside "
                          "the data region [4, %lld)",
                          rg, c->name, (long long)start, (long long)cm->total_compressed_size,
                          (long long)lim);
  if (cm->data_page_offset >= start + cm->total_compressed_size && cm->total_compressed_size > 0)
    return tarn__thr_fail(t, "row group %zu: column \"%s\" data page offset %lld is past its chunk",
                          rg, c->name, (long long)cm->data_page_offset);
  cm->file_offset = start;
  if (cm->bloom_filter_offset >= 0 &&
      (cm->bloom_filter_offset < 4 || cm->bloom_filter_offset >= lim ||
       (cm->bloom_filter_length > 0 && cm->bloom_filter_length > lim - cm->bloom_filter_offset)))
    return tarn__thr_fail(t,
                          "row group %zu: column \"%s\" bloom filter at %lld lies outside the file",
                          rg, c->name, (long long)cm->bloom_filter_offset);
  if (cm->column_index_offset >= 0 &&
      (cm->column_index_offset < 4 || cm->column_index_length <= 0 ||
       cm->column_index_length > lim - cm->column_index_offset))
    return tarn__thr_fail(t,
                          "row group %zu: column \"%s\" column index at %lld (+%d) lies outside "
                          "the file",
                          rg, c->name, (long long)cm->column_index_offset,
                          (int)cm->column_index_length);
  if (cm->offset_index_offset >= 0 &&
      (cm->offset_index_offset < 4 || cm->offset_index_length <= 0 ||
       cm->offset_index_length > lim - cm->offset_index_offset))
    return tarn__thr_fail(t,
                          "row group %zu: column \"%s\" offset index at %lld (+%d) lies outside "
                          "the file",
                          rg, c->name, (long long)cm->offset_index_offset,
                          (int)cm->offset_index_length);
  return 0;
}

static void chunk_init(tarn_pq_chunk_meta *cm) {
  memset(cm, 0, sizeof(*cm));
  tarn__pq_stats_init(&cm->stats);
  cm->dictionary_page_offset = -1;
  cm->data_page_offset = -1;
  cm->bloom_filter_offset = -1;
  cm->bloom_filter_length = -1;
  cm->column_index_offset = -1;
  cm->offset_index_offset = -1;
}

static int read_row_group(footer_ctx *fc, tarn_pq_row_group_meta *g, size_t rg) {
  tarn__thrift *t = fc->t;
  int16_t last = 0, id;
  int ft, have_cols = 0, have_rows = 0;
  size_t ncols = fc->schema->ncols, i;
  T(tarn__thr_enter(t));
  g->file_offset = -1;
  for (;;) {
    T(tarn__thr_field(t, &last, &ft, &id));
    if (ft == TARN__THR_STOP)
      break;
    if (id == 1 && ft == TARN__THR_LIST && !have_cols) {
      int et;
      uint32_t n;
      T(tarn__thr_list(t, &et, &n));
      if (et != TARN__THR_STRUCT || n != ncols)
        return tarn__thr_fail(t, "row group %zu has %u column chunks for %zu columns", rg, n,
                              ncols);
      g->chunks = tarn_calloc(ncols ? ncols : 1, sizeof(*g->chunks));
      if (g->chunks == NULL)
        return tarn__pqm_oom(t);
      for (i = 0; i < ncols; i++)
        chunk_init(&g->chunks[i]);
      for (i = 0; i < ncols; i++)
        T(read_column_chunk(fc, &fc->schema->cols[i], &g->chunks[i]));
      have_cols = 1;
    } else if (id == 2 && ft == TARN__THR_I64) {
      T(tarn__thr_i64(t, &g->total_byte_size));
    } else if (id == 3 && ft == TARN__THR_I64) {
      T(tarn__thr_i64(t, &g->num_rows));
      have_rows = 1;
    } else if (id == 5 && ft == TARN__THR_I64) {
      T(tarn__thr_i64(t, &g->file_offset));
    } else if (id == 6 && ft == TARN__THR_I64) {
      T(tarn__thr_i64(t, &g->total_compressed_size));
    } else {
      T(tarn__thr_skip(t, ft));
    }
  }
  tarn__thr_leave(t);
  if (!have_cols || !have_rows || g->num_rows < 0)
    return tarn__thr_fail(t, "row group %zu lacks its columns or row count", rg);
  for (i = 0; i < ncols; i++) {
    T(check_chunk(fc, &fc->schema->cols[i], &g->chunks[i], rg, g->num_rows));
  }
  if (ncols == 0 && g->num_rows > 0) /* rows without columns: nothing could hold them */
    return tarn__thr_fail(t, "row group %zu declares %lld rows but the schema has no columns", rg,
                          (long long)g->num_rows);
  if (g->file_offset < 0 && ncols > 0)
    g->file_offset = g->chunks[0].file_offset;
  return 0;
bad:
  return -1;
}

static int read_kv(tarn__thrift *t, tarn_pq_kv *kv) {
  int16_t last = 0, id;
  int ft;
  T(tarn__thr_enter(t));
  for (;;) {
    T(tarn__thr_field(t, &last, &ft, &id));
    if (ft == TARN__THR_STOP)
      break;
    if (id == 1 && ft == TARN__THR_BINARY)
      T(tarn__thr_string(t, &kv->key, TARN__PQ_MAX_STRING));
    else if (id == 2 && ft == TARN__THR_BINARY)
      T(tarn__thr_string(t, &kv->value, TARN__PQ_MAX_STRING));
    else
      T(tarn__thr_skip(t, ft));
  }
  tarn__thr_leave(t);
  if (kv->key == NULL)
    return tarn__thr_fail(t, "key-value metadata entry has no key");
  return 0;
bad:
  return -1;
}

static int read_column_orders(tarn__thrift *t, tarn_pq_file_meta *m) {
  int et;
  uint32_t n, i;
  int all_type = 1;
  T(tarn__thr_list(t, &et, &n));
  for (i = 0; i < n; i++) {
    int16_t last = 0, id;
    int ft, type_order = 0;
    if (et != TARN__THR_STRUCT) {
      T(tarn__thr_skip(t, et));
      all_type = 0;
      continue;
    }
    T(tarn__thr_enter(t));
    for (;;) {
      T(tarn__thr_field(t, &last, &ft, &id));
      if (ft == TARN__THR_STOP)
        break;
      if (id == 1 && ft == TARN__THR_STRUCT)
        type_order = 1;
      T(tarn__thr_skip(t, ft));
    }
    tarn__thr_leave(t);
    if (!type_order)
      all_type = 0;
  }
  m->type_defined_order = n > 0 && all_type;
  return 0;
bad:
  return -1;
}

int tarn__pq_decode_file_meta(const uint8_t *p, size_t n, int64_t base, const char *name,
                              tarn_pq_file_meta *m, tarn_error *err) {
  tarn__thrift th, *t = &th;
  footer_ctx fc;
  int16_t last = 0, id;
  int ft, have_schema = 0, have_rows = 0, have_rgs = 0, have_version = 0;
  const uint8_t *rg_at = NULL;
  uint32_t i;
  memset(m, 0, sizeof(*m));
  tarn__thr_init(t, p, n, base, name, err);
  fc.t = t;
  fc.schema = &m->schema;
  fc.footer_start = base;
  T(tarn__thr_enter(t));
  for (;;) {
    T(tarn__thr_field(t, &last, &ft, &id));
    if (ft == TARN__THR_STOP)
      break;
    if (id == 1 && ft == TARN__THR_I32) {
      T(tarn__thr_i32(t, &m->version));
      have_version = 1;
    } else if (id == 2 && ft == TARN__THR_LIST && !have_schema) {
      T(read_schema(t, &m->schema));
      have_schema = 1;
    } else if (id == 3 && ft == TARN__THR_I64) {
      T(tarn__thr_i64(t, &m->num_rows));
      have_rows = 1;
    } else if (id == 4 && ft == TARN__THR_LIST && !have_rgs) {
      /* Row groups need the schema; writers put it first, but Thrift does not promise
       * order, so remember where they are and decode them after the loop. */
      rg_at = t->p;
      T(tarn__thr_skip(t, ft));
      have_rgs = 1;
    } else if (id == 5 && ft == TARN__THR_LIST && m->kv == NULL) {
      int et;
      uint32_t nkv;
      T(tarn__thr_list(t, &et, &nkv));
      if (et != TARN__THR_STRUCT || nkv > TARN__PQ_MAX_KV)
        T(tarn__thr_fail(t, "key-value metadata list of %u entries is invalid", nkv));
      m->kv = tarn_calloc(nkv ? nkv : 1, sizeof(*m->kv));
      if (m->kv == NULL) {
        tarn__pqm_oom(t);
        goto bad;
      }
      for (i = 0; i < nkv; i++) {
        m->nkv = i + 1;
        T(read_kv(t, &m->kv[i]));
      }
    } else if (id == 6 && ft == TARN__THR_BINARY) {
      T(tarn__thr_string(t, &m->created_by, TARN__PQ_MAX_STRING));
    } else if (id == 7 && ft == TARN__THR_LIST) {
      T(read_column_orders(t, m));
    } else if (id == 8 && ft == TARN__THR_STRUCT) {
      t->code = TARN_EUNSUPPORTED;
      tarn_error_set(err, TARN_EUNSUPPORTED, "%s: the file is encrypted", name);
      goto bad;
    } else {
      T(tarn__thr_skip(t, ft));
    }
  }
  tarn__thr_leave(t);
  if (!have_version || !have_schema || !have_rows || !have_rgs) {
    tarn__thr_fail(t, "FileMetaData lacks %s",
                   !have_version  ? "its version"
                   : !have_schema ? "its schema"
                   : !have_rows   ? "num_rows"
                                  : "row_groups");
    goto bad;
  }
  if (m->num_rows < 0)
    T(tarn__thr_fail(t, "FileMetaData declares %lld rows", (long long)m->num_rows));
  {
    const uint8_t *after = t->p;
    int et;
    uint32_t nrg;
    t->p = rg_at;
    T(tarn__thr_list(t, &et, &nrg));
    if (et != TARN__THR_STRUCT || nrg > TARN__PQ_MAX_ROW_GROUPS)
      T(tarn__thr_fail(t, "row group list of %u entries is invalid", nrg));
    m->row_groups = tarn_calloc(nrg ? nrg : 1, sizeof(*m->row_groups));
    if (m->row_groups == NULL) {
      tarn__pqm_oom(t);
      goto bad;
    }
    for (i = 0; i < nrg; i++) {
      m->nrow_groups = i + 1;
      T(read_row_group(&fc, &m->row_groups[i], i));
    }
    t->p = after;
  }
  return 0;
bad : {
  int code = t->code != 0 ? t->code : TARN_ECORRUPT;
  tarn_pq_file_meta_free(m);
  return code;
}
}
