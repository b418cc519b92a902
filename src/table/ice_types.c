/* ice_types.c - Iceberg primitive types, single-value serialization and schemas. */
#include "table.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "table_int.h"

static const struct {
  const char *name;
  tarn_ice_type_id id;
} simple_types[] = {
    {"boolean", TARN_ICE_BOOLEAN},
    {"int", TARN_ICE_INT},
    {"long", TARN_ICE_LONG},
    {"float", TARN_ICE_FLOAT},
    {"double", TARN_ICE_DOUBLE},
    {"date", TARN_ICE_DATE},
    {"time", TARN_ICE_TIME},
    {"timestamp", TARN_ICE_TIMESTAMP},
    {"timestamptz", TARN_ICE_TIMESTAMPTZ},
    {"string", TARN_ICE_STRING},
    {"uuid", TARN_ICE_UUID},
    {"binary", TARN_ICE_BINARY},
};

/* Parses a decimal integer at *p, skipping spaces around it; -1 on failure. */
static long parse_num(const char **p) {
  char *end;
  long v;
  while (**p == ' ')
    (*p)++;
  if (!isdigit((unsigned char)**p))
    return -1;
  errno = 0;
  v = strtol(*p, &end, 10);
  if (errno != 0 || v > 0x7fffffff)
    return -1;
  *p = end;
  while (**p == ' ')
    (*p)++;
  return v;
}

int tarn_ice_type_parse(const char *s, tarn_ice_type *t, tarn_error *err) {
  size_t i;
  memset(t, 0, sizeof(*t));
  for (i = 0; i < sizeof(simple_types) / sizeof(simple_types[0]); i++) {
    if (strcmp(s, simple_types[i].name) == 0) {
      t->id = simple_types[i].id;
      return 0;
    }
  }
  if (strncmp(s, "fixed[", 6) == 0) {
    const char *p = s + 6;
    long len = parse_num(&p);
    if (len > 0 && p[0] == ']' && p[1] == '\0') {
      t->id = TARN_ICE_FIXED;
      t->length = (int32_t)len;
      return 0;
    }
  } else if (strncmp(s, "decimal(", 8) == 0) {
    const char *p = s + 8;
    long prec = parse_num(&p), scale = -1;
    if (prec > 0 && *p == ',') {
      p++;
      scale = parse_num(&p);
    }
    if (prec >= 1 && prec <= 38 && scale >= 0 && scale <= prec && p[0] == ')' && p[1] == '\0') {
      t->id = TARN_ICE_DECIMAL;
      t->precision = (int32_t)prec;
      t->scale = (int32_t)scale;
      return 0;
    }
  }
  return tarn_error_set(err, TARN_EUNSUPPORTED,
                        "type \"%s\" is not a supported Iceberg primitive type", s);
}

void tarn_ice_type_format(const tarn_ice_type *t, char *dst, size_t n) {
  if (tarn_ice_type_nested(t))
    tarn__ice_nested_format(t, dst, n);
  else
    tarn__ice_primitive_format(t, dst, n);
}

void tarn__ice_primitive_format(const tarn_ice_type *t, char *dst, size_t n) {
  size_t i;
  if (t->id == TARN_ICE_FIXED) {
    snprintf(dst, n, "fixed[%d]", (int)t->length);
    return;
  }
  if (t->id == TARN_ICE_DECIMAL) {
    snprintf(dst, n, "decimal(%d, %d)", (int)t->precision, (int)t->scale);
    return;
  }
  for (i = 0; i < sizeof(simple_types) / sizeof(simple_types[0]); i++) {
    if (simple_types[i].id == t->id) {
      snprintf(dst, n, "%s", simple_types[i].name);
      return;
    }
  }
  snprintf(dst, n, "unknown");
}

/* ---- single-value serialization ---- */

static void put_le(uint8_t *p, uint64_t v, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, size_t n) {
  uint64_t v = 0;
  size_t i;
  for (i = 0; i < n; i++)
    v |= (uint64_t)p[i] << (8 * i);
  return v;
}

/* Minimal big-endian two's complement of v into out (1..8 bytes). */
static size_t decimal_min_bytes(int64_t v, uint8_t out[8]) {
  uint8_t full[8];
  size_t i, skip = 0;
  for (i = 0; i < 8; i++)
    full[i] = (uint8_t)((uint64_t)v >> (56 - 8 * i));
  /* drop leading bytes that are pure sign extension of the next byte */
  while (skip < 7 && ((full[skip] == 0x00 && !(full[skip + 1] & 0x80)) ||
                      (full[skip] == 0xff && (full[skip + 1] & 0x80))))
    skip++;
  memcpy(out, full + skip, 8 - skip);
  return 8 - skip;
}

int tarn_ice_value_serialize(const tarn_ice_type *t, const tarn_ice_value *v, tarn_buf *out,
                             tarn_error *err) {
  uint8_t b[16];
  switch (t->id) {
  case TARN_ICE_BOOLEAN: b[0] = v->i64 ? 1 : 0; return tarn_buf_append(out, b, 1, err);
  case TARN_ICE_INT:
  case TARN_ICE_DATE:
    put_le(b, (uint64_t)(uint32_t)(int32_t)v->i64, 4);
    return tarn_buf_append(out, b, 4, err);
  case TARN_ICE_LONG:
  case TARN_ICE_TIME:
  case TARN_ICE_TIMESTAMP:
  case TARN_ICE_TIMESTAMPTZ: put_le(b, (uint64_t)v->i64, 8); return tarn_buf_append(out, b, 8, err);
  case TARN_ICE_FLOAT: memcpy(b, &v->f32, 4); return tarn_buf_append(out, b, 4, err);
  case TARN_ICE_DOUBLE: memcpy(b, &v->f64, 8); return tarn_buf_append(out, b, 8, err);
  case TARN_ICE_STRING:
  case TARN_ICE_BINARY:
  case TARN_ICE_FIXED:
  case TARN_ICE_UUID: return tarn_buf_append(out, v->bytes, v->len, err);
  case TARN_ICE_DECIMAL:
    if (!v->wide) {
      size_t n = decimal_min_bytes(v->i64, b);
      return tarn_buf_append(out, b, n, err);
    } else {
      /* already big-endian; trim redundant sign bytes */
      const uint8_t *p = v->bytes;
      size_t n = v->len;
      while (n > 1 && ((p[0] == 0x00 && !(p[1] & 0x80)) || (p[0] == 0xff && (p[1] & 0x80)))) {
        p++;
        n--;
      }
      return tarn_buf_append(out, p, n, err);
    }
  case TARN_ICE_STRUCT:
  case TARN_ICE_LIST:
  case TARN_ICE_MAP: break; /* nested values have no single-value form */
  }
  return tarn_error_set(err, TARN_EINVAL, "cannot serialize a value of this type");
}

int tarn_ice_value_deserialize(const tarn_ice_type *t, const uint8_t *p, size_t n,
                               tarn_ice_value *v, tarn_error *err) {
  size_t want = 0;
  memset(v, 0, sizeof(*v));
  switch (t->id) {
  case TARN_ICE_BOOLEAN: want = 1; break;
  case TARN_ICE_INT:
  case TARN_ICE_DATE:
  case TARN_ICE_FLOAT: want = 4; break;
  case TARN_ICE_LONG:
  case TARN_ICE_TIME:
  case TARN_ICE_TIMESTAMP:
  case TARN_ICE_TIMESTAMPTZ:
  case TARN_ICE_DOUBLE: want = 8; break;
  case TARN_ICE_UUID: want = 16; break;
  case TARN_ICE_FIXED: want = (size_t)t->length; break;
  default: break;
  }
  if (want != 0 && n != want && !(n == 4 && t->id == TARN_ICE_LONG) &&
      !(n == 4 && t->id == TARN_ICE_DOUBLE))
    return tarn_error_set(err, TARN_ECORRUPT, "serialized value of %zu bytes, expected %zu", n,
                          want);
  switch (t->id) {
  case TARN_ICE_BOOLEAN: v->i64 = p[0] != 0; break;
  case TARN_ICE_INT:
  case TARN_ICE_DATE: v->i64 = (int32_t)(uint32_t)get_le(p, 4); break;
  case TARN_ICE_LONG: /* a bound written while the column was still an int (promotion) */
    v->i64 = n == 4 ? (int64_t)(int32_t)(uint32_t)get_le(p, 4) : (int64_t)get_le(p, 8);
    break;
  case TARN_ICE_TIME:
  case TARN_ICE_TIMESTAMP:
  case TARN_ICE_TIMESTAMPTZ: v->i64 = (int64_t)get_le(p, 8); break;
  case TARN_ICE_FLOAT: memcpy(&v->f32, p, 4); break;
  case TARN_ICE_DOUBLE:
    if (n == 4) { /* float promoted to double */
      float f;
      memcpy(&f, p, 4);
      v->f64 = f;
    } else {
      memcpy(&v->f64, p, 8);
    }
    break;
  case TARN_ICE_DECIMAL:
    if (n == 0 || n > 16)
      return tarn_error_set(err, TARN_ECORRUPT, "decimal value of %zu bytes", n);
    if (n <= 8) {
      uint64_t u = (p[0] & 0x80) ? ~(uint64_t)0 : 0;
      size_t i;
      for (i = 0; i < n; i++)
        u = (u << 8) | p[i];
      v->i64 = (int64_t)u;
    } else {
      v->wide = 1;
    }
    v->bytes = p;
    v->len = n;
    break;
  default:
    v->bytes = p;
    v->len = n;
    break;
  }
  return 0;
}

static int cmp_bytes(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen) {
  size_t n = alen < blen ? alen : blen;
  int c = n ? memcmp(a, b, n) : 0;
  if (c != 0)
    return c < 0 ? -1 : 1;
  return alen < blen ? -1 : alen > blen;
}

/* Sign-extends big-endian two's complement a to 16 bytes. */
static void widen16(const uint8_t *p, size_t n, uint8_t out[16]) {
  uint8_t fill = (n > 0 && (p[0] & 0x80)) ? 0xff : 0x00;
  memset(out, fill, 16 - n);
  memcpy(out + 16 - n, p, n);
}

static void decimal_be16(const tarn_ice_value *v, uint8_t out[16]) {
  if (v->wide) {
    widen16(v->bytes, v->len, out);
  } else {
    uint8_t b[8];
    size_t i;
    for (i = 0; i < 8; i++)
      b[i] = (uint8_t)((uint64_t)v->i64 >> (56 - 8 * i));
    widen16(b, 8, out);
  }
}

int tarn_ice_value_compare(const tarn_ice_type *t, const tarn_ice_value *a,
                           const tarn_ice_value *b) {
  switch (t->id) {
  case TARN_ICE_FLOAT: return a->f32 < b->f32 ? -1 : a->f32 > b->f32;
  case TARN_ICE_DOUBLE: return a->f64 < b->f64 ? -1 : a->f64 > b->f64;
  case TARN_ICE_STRING:
  case TARN_ICE_BINARY:
  case TARN_ICE_FIXED:
  case TARN_ICE_UUID: return cmp_bytes(a->bytes, a->len, b->bytes, b->len);
  case TARN_ICE_DECIMAL: {
    uint8_t x[16], y[16];
    decimal_be16(a, x);
    decimal_be16(b, y);
    x[0] ^= 0x80; /* flip the sign bit: signed order becomes unsigned byte order */
    y[0] ^= 0x80;
    return cmp_bytes(x, 16, y, 16);
  }
  default: return a->i64 < b->i64 ? -1 : a->i64 > b->i64;
  }
}

/* ---- schemas ---- */

void tarn_ice_schema_free(tarn_ice_schema *s) {
  size_t i;
  if (s == NULL)
    return;
  for (i = 0; s->fields != NULL && i < s->nfields; i++)
    tarn__ice_field_free(&s->fields[i]);
  tarn_free(s->fields);
  s->fields = NULL;
  s->nfields = 0;
}

int tarn_ice_schema_copy(tarn_ice_schema *dst, const tarn_ice_schema *src, tarn_error *err) {
  size_t i;
  dst->schema_id = src->schema_id;
  dst->nfields = 0;
  dst->fields = tarn_calloc(src->nfields ? src->nfields : 1, sizeof(*dst->fields));
  if (dst->fields == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory copying a schema");
  for (i = 0; i < src->nfields; i++) {
    if (tarn__ice_field_copy(&dst->fields[i], &src->fields[i], err) != 0) {
      tarn_ice_schema_free(dst);
      return TARN_ENOMEM;
    }
    dst->nfields = i + 1;
  }
  return 0;
}

const tarn_ice_field *tarn_ice_schema_field(const tarn_ice_schema *s, int32_t id) {
  size_t i;
  for (i = 0; i < s->nfields; i++)
    if (s->fields[i].id == id)
      return &s->fields[i];
  return NULL;
}

const tarn_ice_field *tarn_ice_schema_field_by_name(const tarn_ice_schema *s, const char *name) {
  size_t i;
  for (i = 0; i < s->nfields; i++)
    if (strcmp(s->fields[i].name, name) == 0)
      return &s->fields[i];
  return NULL;
}

json_t *tarn_ice_schema_to_json(const tarn_ice_schema *s) {
  json_t *root = json_object(), *fields = json_array();
  size_t i;
  if (root == NULL || fields == NULL)
    goto fail;
  if (json_object_set_new(root, "type", json_string("struct")) != 0 ||
      json_object_set_new(root, "schema-id", json_integer(s->schema_id)) != 0)
    goto fail;
  for (i = 0; i < s->nfields; i++) {
    json_t *jf = tarn__ice_field_to_json(&s->fields[i]);
    if (jf == NULL || json_array_append_new(fields, jf) != 0)
      goto fail;
  }
  if (json_object_set_new(root, "fields", fields) != 0) {
    fields = NULL;
    goto fail;
  }
  return root;
fail:
  json_decref(fields);
  json_decref(root);
  return NULL;
}

int tarn_ice_schema_from_json(const json_t *j, tarn_ice_schema *out, tarn_error *err) {
  const json_t *fields = json_object_get(j, "fields"), *sid = json_object_get(j, "schema-id");
  size_t i, n;
  int rc;
  memset(out, 0, sizeof(*out));
  if (!json_is_object(j) || !json_is_array(fields))
    return tarn_error_set(err, TARN_ECORRUPT, "schema: expected an object with \"fields\"");
  out->schema_id = json_is_integer(sid) ? (int32_t)json_integer_value(sid) : 0;
  n = json_array_size(fields);
  out->fields = tarn_calloc(n ? n : 1, sizeof(*out->fields));
  if (out->fields == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory reading a schema");
  for (i = 0; i < n; i++) {
    out->nfields = i + 1;
    rc = tarn__ice_field_from_json(json_array_get(fields, i), &out->fields[i], 0, err);
    if (rc != 0) {
      tarn_error_prefix(err, "schema field %zu", i);
      goto fail;
    }
  }
  if ((rc = tarn__ice_schema_check_ids(out, err)) != 0)
    goto fail;
  return 0;
fail:
  tarn_ice_schema_free(out);
  return rc;
}

int32_t tarn__ice_decimal_bytes(int32_t precision) {
  int32_t n = 1;
  /* smallest n with 2^(8n-1) > 10^precision - 1, via log2(10) ~ 3.3219 */
  while ((double)(8 * n - 1) < (double)precision * 3.321928094887362)
    n++;
  return n;
}

int tarn_ice_schema_to_parquet(const tarn_ice_schema *s, tarn_pq_schema *out, tarn_error *err) {
  size_t i;
  out->ncols = 0;
  out->cols = tarn_calloc(s->nfields ? s->nfields : 1, sizeof(*out->cols));
  if (out->cols == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory building a Parquet schema");
  for (i = 0; i < s->nfields; i++) {
    const tarn_ice_field *f = &s->fields[i];
    tarn_pq_column *c = &out->cols[i];
    c->name = tarn_strdup(f->name);
    out->ncols = i + 1;
    if (c->name == NULL) {
      tarn_pq_schema_free(out);
      return tarn_error_set(err, TARN_ENOMEM, "out of memory building a Parquet schema");
    }
    c->field_id = f->id;
    c->optional = !f->required;
    if (tarn_ice_type_nested(&f->type)) {
      char ty[96];
      tarn_ice_type_format(&f->type, ty, sizeof(ty));
      tarn_pq_schema_free(out);
      return tarn_error_set(err, TARN_EUNSUPPORTED,
                            "column \"%s\" is %s: nested columns cannot be written or read in "
                            "data files yet",
                            f->name, ty);
    }
    switch (f->type.id) {
    case TARN_ICE_BOOLEAN: c->type = TARN_PQ_BOOLEAN; break;
    case TARN_ICE_INT: c->type = TARN_PQ_INT32; break;
    case TARN_ICE_LONG: c->type = TARN_PQ_INT64; break;
    case TARN_ICE_FLOAT: c->type = TARN_PQ_FLOAT; break;
    case TARN_ICE_DOUBLE: c->type = TARN_PQ_DOUBLE; break;
    case TARN_ICE_DATE:
      c->type = TARN_PQ_INT32;
      c->logical = TARN_PQ_LT_DATE;
      break;
    case TARN_ICE_TIME:
      c->type = TARN_PQ_INT64;
      c->logical = TARN_PQ_LT_TIME;
      c->unit = TARN_PQ_MICROS;
      break;
    case TARN_ICE_TIMESTAMP:
    case TARN_ICE_TIMESTAMPTZ:
      c->type = TARN_PQ_INT64;
      c->logical = TARN_PQ_LT_TIMESTAMP;
      c->unit = TARN_PQ_MICROS;
      c->adjusted_to_utc = f->type.id == TARN_ICE_TIMESTAMPTZ;
      break;
    case TARN_ICE_STRING:
      c->type = TARN_PQ_BYTE_ARRAY;
      c->logical = TARN_PQ_LT_STRING;
      break;
    case TARN_ICE_UUID:
      c->type = TARN_PQ_FIXED_LEN_BYTE_ARRAY;
      c->type_length = 16;
      c->logical = TARN_PQ_LT_UUID;
      break;
    case TARN_ICE_BINARY: c->type = TARN_PQ_BYTE_ARRAY; break;
    case TARN_ICE_FIXED:
      c->type = TARN_PQ_FIXED_LEN_BYTE_ARRAY;
      c->type_length = f->type.length;
      break;
    case TARN_ICE_DECIMAL:
      c->logical = TARN_PQ_LT_DECIMAL;
      c->precision = f->type.precision;
      c->scale = f->type.scale;
      if (f->type.precision <= 9) {
        c->type = TARN_PQ_INT32;
      } else if (f->type.precision <= 18) {
        c->type = TARN_PQ_INT64;
      } else {
        c->type = TARN_PQ_FIXED_LEN_BYTE_ARRAY;
        c->type_length = tarn__ice_decimal_bytes(f->type.precision);
      }
      break;
    case TARN_ICE_STRUCT:
    case TARN_ICE_LIST:
    case TARN_ICE_MAP: break; /* refused above */
    }
  }
  return 0;
}

size_t tarn__ice_utf8_prefix(const uint8_t *s, size_t n, size_t cps) {
  size_t i = 0, k = 0;
  while (i < n && k < cps) {
    uint8_t c = s[i];
    i += c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    k++;
  }
  return i > n ? n : i;
}

int tarn_ice_schema_from_columns(const tarn_ice_column_def *cols, size_t n, tarn_ice_schema *out,
                                 tarn_error *err) {
  size_t i;
  memset(out, 0, sizeof(*out));
  out->fields = tarn_calloc(n ? n : 1, sizeof(*out->fields));
  if (out->fields == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  for (i = 0; i < n; i++) {
    tarn_ice_field *f = &out->fields[out->nfields++];
    f->id = (int32_t)i + 1;
    f->name = tarn_strdup(cols[i].name);
    f->required = cols[i].required;
    f->type.id = cols[i].type;
    f->doc = cols[i].doc ? tarn_strdup(cols[i].doc) : NULL;
    if (f->name == NULL || (cols[i].doc != NULL && f->doc == NULL)) {
      tarn_ice_schema_free(out);
      return tarn_error_set(err, TARN_ENOMEM, "out of memory");
    }
  }
  return 0;
}
