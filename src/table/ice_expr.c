/* ice_expr.c - values given as text, and predicates over a table's columns: the --where
 * language, constructors, three-valued evaluation and the negation normal form pruning uses. */
#include "scan.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/uuid.h"
#include "csv/csv.h" /* scalar text parsers (csv depends on base only) */
#include "table_int.h"

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

/* At or past FLT_MAX plus half its last place, round-to-nearest gives infinity; tested
 * before converting, which C leaves undefined out of range. */
int tarn_ice_float_overflows(double d) { return isfinite(d) && fabs(d) >= 0x1.ffffffp+127; }

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

int tarn_ice_value_parse(const tarn_ice_type *t, const char *s, size_t len, tarn_ice_value *v,
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
    if (t->id == TARN_ICE_FLOAT && tarn_ice_float_overflows(d)) {
      snprintf(why, whylen,
               "\"%.*s\" is out of range for a float (at most about 3.4028235e38 "
               "in magnitude; use a double column)",
               len > 64 ? 64 : (int)len, s);
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
        snprintf(why, whylen,
                 "\"%.*s\" has a UTC offset, but a timestamp column holds "
                 "date-times without a zone: give the local time without the offset, or use "
                 "a timestamptz column",
                 len > 64 ? 64 : (int)len, s);
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
      snprintf(why, whylen, "%s needs %d bytes; the base64 text decodes to %zu", tn, (int)t->length,
               scratch->len);
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
  case TARN_ICE_STRUCT:
  case TARN_ICE_LIST:
  case TARN_ICE_MAP:
    snprintf(why, whylen, "a %s column takes no literal (compare its fields)", tn);
    return -1;
  }
bad:
  snprintf(why, whylen, "\"%.*s\" is not a %s value", len > 64 ? 64 : (int)len, s, tn);
  return -1;
nomem:
  snprintf(why, whylen, "out of memory");
  return -1;
}

/* ---- expression nodes ---- */

void tarn_expr_free(tarn_expr *e) {
  size_t i;
  if (e == NULL)
    return;
  for (i = 0; i < e->nchildren; i++)
    tarn_expr_free(e->children[i]);
  tarn_free(e->children);
  tarn_free(e->values);
  tarn_buf_free(&e->bytes);
  tarn_free(e);
}

static int is_float_type(const tarn_ice_type *t) {
  return t->id == TARN_ICE_FLOAT || t->id == TARN_ICE_DOUBLE;
}

static int value_is_nan(const tarn_ice_type *t, const tarn_ice_value *v) {
  return (t->id == TARN_ICE_FLOAT && isnan(v->f32)) || (t->id == TARN_ICE_DOUBLE && isnan(v->f64));
}

static tarn_expr *leaf_new(const tarn_ice_field *f, tarn_expr_kind kind) {
  tarn_expr *e = tarn_calloc(1, sizeof(*e));
  if (e == NULL)
    return NULL;
  e->kind = kind;
  e->field_id = f->id;
  e->type = f->type;
  tarn_buf_init(&e->bytes, TARN_BUF_UNLIMITED);
  return e;
}

/* Sorts v[0..n) by type t (merge sort through tmp: qsort has no argument to carry t). */
static void sort_values(const tarn_ice_type *t, tarn_ice_value *v, tarn_ice_value *tmp, size_t n) {
  size_t mid = n / 2, i = 0, j, k = 0;
  if (n < 2)
    return;
  sort_values(t, v, tmp, mid);
  sort_values(t, v + mid, tmp, n - mid);
  j = mid;
  while (i < mid && j < n)
    tmp[k++] = tarn_ice_value_compare(t, &v[j], &v[i]) < 0 ? v[j++] : v[i++];
  while (i < mid)
    tmp[k++] = v[i++];
  while (j < n)
    tmp[k++] = v[j++];
  memcpy(v, tmp, n * sizeof(*v));
}

/* Copies n values into e (their bytes into e->bytes), sorted when sort is set. */
static int set_values(tarn_expr *e, const tarn_ice_value *v, size_t n, int sort) {
  size_t i, total = 0;
  e->values = tarn_calloc(n ? n : 1, sizeof(*e->values));
  if (e->values == NULL)
    return -1;
  for (i = 0; i < n; i++)
    total += v[i].bytes != NULL ? v[i].len : 0;
  if (tarn_buf_reserve(&e->bytes, total + 1, NULL) != 0)
    return -1;
  for (i = 0; i < n; i++) {
    if (sort && value_is_nan(&e->type, &v[i]))
      continue; /* NaN is in no IN list: nothing equals it */
    e->values[e->nvalues] = v[i];
    e->values[e->nvalues].is_null = 0;
    if (v[i].bytes != NULL) {
      size_t at = e->bytes.len;
      if (v[i].len > 0 && tarn_buf_append(&e->bytes, v[i].bytes, v[i].len, NULL) != 0)
        return -1;
      e->values[e->nvalues].bytes = (const uint8_t *)e->bytes.data + at; /* reserved */
    }
    e->nvalues++;
  }
  n = e->nvalues;
  if (sort && n > 1) {
    tarn_ice_value *tmp = tarn_calloc(n, sizeof(*tmp));
    if (tmp == NULL)
      return -1;
    sort_values(&e->type, e->values, tmp, n);
    tarn_free(tmp);
  }
  return 0;
}

tarn_expr *tarn_expr_cmp(const tarn_ice_field *f, tarn_expr_op op, const tarn_ice_value *v) {
  tarn_expr *e = leaf_new(f, TARN_EXPR_CMP);
  if (e == NULL)
    return NULL;
  e->op = op;
  if (set_values(e, v, 1, 0) != 0) {
    tarn_expr_free(e);
    return NULL;
  }
  return e;
}

tarn_expr *tarn_expr_in(const tarn_ice_field *f, const tarn_ice_value *v, size_t n) {
  tarn_expr *e = leaf_new(f, TARN_EXPR_IN);
  if (e == NULL)
    return NULL;
  if (set_values(e, v, n, 1) != 0) { /* sorted: rows are looked up by binary search */
    tarn_expr_free(e);
    return NULL;
  }
  return e;
}

tarn_expr *tarn_expr_null_test(const tarn_ice_field *f, tarn_expr_kind kind) {
  return leaf_new(f, kind);
}

static tarn_expr *node_new(tarn_expr_kind kind, tarn_expr *a, tarn_expr *b) {
  tarn_expr *e = NULL;
  size_t n = b != NULL ? 2 : 1;
  if (a == NULL || (kind != TARN_EXPR_NOT && b == NULL))
    goto fail;
  e = tarn_calloc(1, sizeof(*e));
  if (e == NULL)
    goto fail;
  e->kind = kind;
  tarn_buf_init(&e->bytes, TARN_BUF_UNLIMITED);
  /* flatten a AND (b AND c) into one node: IN lists and many --where stay shallow */
  if (kind != TARN_EXPR_NOT) {
    size_t na = a->kind == kind ? a->nchildren : 1, nb = b->kind == kind ? b->nchildren : 1;
    e->children = tarn_calloc(na + nb, sizeof(*e->children));
    if (e->children == NULL)
      goto fail;
    if (a->kind == kind) {
      memcpy(e->children, a->children, na * sizeof(*e->children));
      a->nchildren = 0;
      tarn_expr_free(a);
    } else {
      e->children[0] = a;
    }
    if (b->kind == kind) {
      memcpy(e->children + na, b->children, nb * sizeof(*e->children));
      b->nchildren = 0;
      tarn_expr_free(b);
    } else {
      e->children[na] = b;
    }
    e->nchildren = na + nb;
    return e;
  }
  e->children = tarn_calloc(n, sizeof(*e->children));
  if (e->children == NULL)
    goto fail;
  e->children[0] = a;
  e->nchildren = 1;
  return e;
fail:
  tarn_free(e);
  tarn_expr_free(a);
  tarn_expr_free(b);
  return NULL;
}

tarn_expr *tarn_expr_and(tarn_expr *a, tarn_expr *b) { return node_new(TARN_EXPR_AND, a, b); }
tarn_expr *tarn_expr_or(tarn_expr *a, tarn_expr *b) { return node_new(TARN_EXPR_OR, a, b); }
tarn_expr *tarn_expr_not(tarn_expr *a) { return node_new(TARN_EXPR_NOT, a, NULL); }

/* ---- three-valued evaluation ---- */

int tarn__expr_cmp_holds(tarn_expr_op op, int c) {
  switch (op) {
  case TARN_EXPR_EQ: return c == 0;
  case TARN_EXPR_NE: return c != 0;
  case TARN_EXPR_LT: return c < 0;
  case TARN_EXPR_LE: return c <= 0;
  case TARN_EXPR_GT: return c > 0;
  case TARN_EXPR_GE: return c >= 0;
  }
  return 0;
}

static int in_holds(const tarn_expr *e, const tarn_ice_value *v) {
  size_t lo = 0, hi = e->nvalues;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = tarn_ice_value_compare(&e->type, &e->values[mid], v);
    if (c == 0)
      return 1;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return 0;
}

int tarn__expr_leaf_eval(const tarn_expr *e, const tarn_ice_value *v) {
  switch (e->kind) {
  case TARN_EXPR_IS_NULL: return v->is_null;
  case TARN_EXPR_NOT_NULL: return !v->is_null;
  case TARN_EXPR_IS_NAN: return v->is_null ? -1 : value_is_nan(&e->type, v);
  case TARN_EXPR_CMP:
    if (v->is_null)
      return -1;
    if (value_is_nan(&e->type, v) || value_is_nan(&e->type, &e->values[0]))
      return e->op == TARN_EXPR_NE; /* a constructor may be given a NaN literal */
    return tarn__expr_cmp_holds(e->op, tarn_ice_value_compare(&e->type, v, &e->values[0]));
  case TARN_EXPR_IN:
    if (v->is_null)
      return -1;
    if (value_is_nan(&e->type, v))
      return 0;
    return in_holds(e, v);
  default: return -1;
  }
}

int tarn_expr_eval_row(const tarn_expr *e, tarn_expr_row_fn value, void *arg) {
  size_t i;
  int r, unknown = 0;
  switch (e->kind) {
  case TARN_EXPR_AND:
  case TARN_EXPR_OR:
    for (i = 0; i < e->nchildren; i++) {
      r = tarn_expr_eval_row(e->children[i], value, arg);
      if (r == (e->kind == TARN_EXPR_OR))
        return r; /* false decides an AND, true an OR */
      unknown |= r < 0;
    }
    return unknown ? -1 : e->kind == TARN_EXPR_AND;
  case TARN_EXPR_NOT: r = tarn_expr_eval_row(e->children[0], value, arg); return r < 0 ? -1 : !r;
  default: {
    tarn_ice_value v;
    memset(&v, 0, sizeof(v));
    value(arg, e->field_id, &v);
    return tarn__expr_leaf_eval(e, &v);
  }
  }
}

/* ---- negation normal form ---- */

void tarn__nnf_free(tarn__nnf *n) {
  size_t i;
  for (i = 0; i < n->nkids; i++)
    tarn__nnf_free(&n->kids[i]);
  tarn_free(n->kids);
  memset(n, 0, sizeof(*n));
}

static int nnf_leaf(tarn__nnf *n, const tarn_expr *e, int op, const tarn_ice_value *v) {
  if (v != NULL && value_is_nan(&e->type, v)) {
    n->kind = TARN__NNF_TRUE; /* a NaN literal (constructors allow one): prune nothing */
    return 0;
  }
  n->kind = TARN__NNF_LEAF;
  n->field_id = e->field_id;
  n->type = e->type;
  n->op = op;
  if (v != NULL)
    n->value = *v;
  return 0;
}

static int nnf_kids(tarn__nnf *n, int kind, size_t k) {
  n->kind = kind;
  n->kids = tarn_calloc(k ? k : 1, sizeof(*n->kids));
  return n->kids == NULL ? -1 : 0;
}

static int op_of(tarn_expr_op op, int neg) {
  static const int pos[] = {0,           TARN__OP_EQ, TARN__OP_NE, TARN__OP_LT,
                            TARN__OP_LE, TARN__OP_GT, TARN__OP_GE};
  static const int negd[] = {0,           TARN__OP_NE, TARN__OP_EQ, TARN__OP_GE,
                             TARN__OP_GT, TARN__OP_LE, TARN__OP_LT};
  return neg ? negd[op] : pos[op];
}

static int nnf_build(const tarn_expr *e, int neg, tarn__nnf *n, int depth) {
  size_t i;
  memset(n, 0, sizeof(*n));
  if (depth > TARN_EXPR_MAX_DEPTH)
    return -2;
  switch (e->kind) {
  case TARN_EXPR_AND:
  case TARN_EXPR_OR: {
    int and = (e->kind == TARN_EXPR_AND) != neg; /* De Morgan holds in Kleene's logic */
    if (nnf_kids(n, and? TARN__NNF_AND : TARN__NNF_OR, e->nchildren) != 0)
      return -1;
    for (i = 0; i < e->nchildren; i++) {
      int rc = nnf_build(e->children[i], neg, &n->kids[i], depth + 1);
      n->nkids = i + 1;
      if (rc != 0)
        return rc;
    }
    return 0;
  }
  case TARN_EXPR_NOT: return nnf_build(e->children[0], !neg, n, depth + 1);
  case TARN_EXPR_CMP:
    /* NOT(x < v) holds for NaN too (IEEE: the comparison is false, not unknown) */
    if (neg && e->op != TARN_EXPR_EQ && e->op != TARN_EXPR_NE && is_float_type(&e->type)) {
      if (nnf_kids(n, TARN__NNF_OR, 2) != 0)
        return -1;
      n->nkids = 2;
      nnf_leaf(&n->kids[0], e, op_of(e->op, 1), &e->values[0]);
      return nnf_leaf(&n->kids[1], e, TARN__OP_IS_NAN, NULL);
    }
    return nnf_leaf(n, e, op_of(e->op, neg), &e->values[0]);
  case TARN_EXPR_IN:
    if (e->nvalues == 1)
      return nnf_leaf(n, e, neg ? TARN__OP_NE : TARN__OP_EQ, &e->values[0]);
    if (nnf_kids(n, neg ? TARN__NNF_AND : TARN__NNF_OR, e->nvalues) != 0)
      return -1;
    for (i = 0; i < e->nvalues; i++)
      nnf_leaf(&n->kids[i], e, neg ? TARN__OP_NE : TARN__OP_EQ, &e->values[i]);
    n->nkids = e->nvalues;
    return 0;
  case TARN_EXPR_IS_NULL: return nnf_leaf(n, e, neg ? TARN__OP_NOT_NULL : TARN__OP_IS_NULL, NULL);
  case TARN_EXPR_NOT_NULL: return nnf_leaf(n, e, neg ? TARN__OP_IS_NULL : TARN__OP_NOT_NULL, NULL);
  case TARN_EXPR_IS_NAN: return nnf_leaf(n, e, neg ? TARN__OP_NOT_NAN : TARN__OP_IS_NAN, NULL);
  }
  n->kind = TARN__NNF_TRUE;
  return 0;
}

int tarn__nnf_may_match(const tarn__nnf *n, tarn__nnf_leaf_fn leaf, void *arg) {
  size_t i;
  switch (n->kind) {
  case TARN__NNF_AND:
    for (i = 0; i < n->nkids; i++)
      if (!tarn__nnf_may_match(&n->kids[i], leaf, arg))
        return 0;
    return 1;
  case TARN__NNF_OR:
    for (i = 0; i < n->nkids; i++)
      if (tarn__nnf_may_match(&n->kids[i], leaf, arg))
        return 1;
    return n->nkids == 0;
  case TARN__NNF_LEAF: return leaf(arg, n);
  default: return 1;
  }
}

int tarn__expr_nnf(const tarn_expr *e, tarn__nnf *out, tarn_error *err) {
  int rc = nnf_build(e, 0, out, 0);
  if (rc == 0)
    return 0;
  tarn__nnf_free(out);
  if (rc == -2)
    return tarn_error_set(err, TARN_EINVAL, "the predicate is nested deeper than %d levels",
                          TARN_EXPR_MAX_DEPTH);
  return tarn_error_set(err, TARN_ENOMEM, "out of memory preparing a predicate");
}

/* ---- the --where language ---- */

typedef struct pstate {
  const tarn_ice_schema *schema;
  const char *text;
  size_t pos, len;
  int depth; /* open parentheses */
  int nest;  /* recursion */
  tarn_buf scratch;
  tarn_error *err;
} pstate;

static void skip_ws(pstate *p) {
  while (p->pos < p->len && isspace((unsigned char)p->text[p->pos]))
    p->pos++;
}

static int perr(pstate *p, const char *fmt, const char *a, const char *b) {
  char what[400];
  snprintf(what, sizeof(what), fmt, a ? a : "", b ? b : "");
  return tarn_error_set(p->err, TARN_EINVAL, "\"%s\": %s", p->text, what);
}

static int perr_at(pstate *p, const char *expected) {
  char at[40];
  if (p->pos >= p->len)
    return perr(p, "expected %s at the end", expected, NULL);
  snprintf(at, sizeof(at), "%zu", p->pos + 1);
  {
    char what[400];
    snprintf(what, sizeof(what), "expected %s at character %s (\"%.24s\")", expected, at,
             p->text + p->pos);
    return tarn_error_set(p->err, TARN_EINVAL, "\"%s\": %s", p->text, what);
  }
}

/* Is the keyword kw (lower case) at the current position, as a whole word? */
static int at_kw(const pstate *p, const char *kw) {
  size_t n = strlen(kw), e = p->pos + n;
  if (e > p->len || strncasecmp(p->text + p->pos, kw, n) != 0)
    return 0;
  return e == p->len || isspace((unsigned char)p->text[e]) || p->text[e] == '(' ||
         p->text[e] == ')';
}

static int take_kw(pstate *p, const char *kw) {
  skip_ws(p);
  if (!at_kw(p, kw))
    return 0;
  p->pos += strlen(kw);
  return 1;
}

/* Reads a literal: quoted ('..' or "..", a doubled quote stands for one) or bare (up to an
 * AND/OR keyword after a space, a ')' closing a group, or in a list a ','). The text goes
 * to out (NUL-terminated). */
static int read_literal(pstate *p, int in_list, tarn_buf *out) {
  tarn_buf_reset(out);
  skip_ws(p);
  if (p->pos < p->len && (p->text[p->pos] == '\'' || p->text[p->pos] == '"')) {
    char q = p->text[p->pos++];
    for (;;) {
      if (p->pos >= p->len)
        return perr(p, "a quoted value is not closed (missing %s)", q == '"' ? "\"" : "'", NULL);
      if (p->text[p->pos] == q) {
        if (p->pos + 1 < p->len && p->text[p->pos + 1] == q) {
          p->pos += 2;
          if (tarn_buf_append_byte(out, (uint8_t)q, p->err) != 0)
            return p->err ? p->err->code : TARN_ENOMEM;
          continue;
        }
        p->pos++;
        break;
      }
      if (tarn_buf_append_byte(out, (uint8_t)p->text[p->pos++], p->err) != 0)
        return p->err ? p->err->code : TARN_ENOMEM;
    }
  } else {
    size_t start = p->pos, end;
    while (p->pos < p->len) {
      char c = p->text[p->pos];
      if ((c == ')' && (p->depth > 0 || in_list)) || (c == ',' && in_list))
        break;
      if (isspace((unsigned char)c)) {
        size_t save = p->pos;
        skip_ws(p);
        if (at_kw(p, "and") || at_kw(p, "or")) {
          p->pos = save;
          break;
        }
        continue;
      }
      p->pos++;
    }
    end = p->pos;
    while (end > start && isspace((unsigned char)p->text[end - 1]))
      end--;
    if (end == start)
      return perr_at(p, in_list ? "a value" : "a value after the operator");
    if (tarn_buf_append(out, p->text + start, end - start, p->err) != 0)
      return p->err ? p->err->code : TARN_ENOMEM;
  }
  return tarn_buf_append_byte(out, 0, p->err) != 0 ? (p->err ? p->err->code : TARN_ENOMEM) : 0;
}

/* The literal in lit (text) as a value of field f into *v (bytes into store). */
static int typed_literal(pstate *p, const tarn_ice_field *f, const tarn_buf *lit, tarn_ice_value *v,
                         tarn_buf *store) {
  char why[300];
  size_t n = lit->len - 1; /* without the NUL */
  tarn_buf_reset(&p->scratch);
  if (tarn_ice_value_parse(&f->type, lit->data, n, v, &p->scratch, why, sizeof(why)) != 0)
    return tarn_error_set(p->err, TARN_EINVAL, "\"%s\": column %s: %s", p->text, f->name, why);
  if (value_is_nan(&f->type, v))
    return tarn_error_set(p->err, TARN_EINVAL,
                          "\"%s\": column %s: NaN compares with nothing "
                          "(use \"%s is nan\")",
                          p->text, f->name, f->name);
  if (v->bytes != NULL) { /* keep the bytes: the next literal reuses lit and scratch */
    size_t at = store->len;
    if (tarn_buf_append(store, v->bytes, v->len, p->err) != 0)
      return p->err ? p->err->code : TARN_ENOMEM;
    v->bytes = (const uint8_t *)(uintptr_t)(at + 1); /* offset + 1 until store stops growing */
  }
  return 0;
}

static void rebase(tarn_ice_value *v, size_t n, const tarn_buf *store) {
  size_t i;
  for (i = 0; i < n; i++)
    if (v[i].bytes != NULL)
      v[i].bytes = (const uint8_t *)store->data + ((uintptr_t)v[i].bytes - 1);
}

static int parse_or(pstate *p, tarn_expr **out);

static int parse_test(pstate *p, const tarn_ice_field *f, tarn_expr **out) {
  tarn_buf lit, store;
  tarn_ice_value v, *vals = NULL;
  size_t nvals = 0, cap = 0;
  tarn_expr_op op;
  int rc = 0, negate = 0;
  tarn_buf_init(&lit, (size_t)1 << 20);
  tarn_buf_init(&store, TARN_BUF_UNLIMITED);
  if (tarn_buf_reserve(&store, 16, p->err) != 0) { /* data is never NULL below */
    rc = p->err ? p->err->code : TARN_ENOMEM;
    goto out;
  }
  skip_ws(p);
  if (take_kw(p, "is")) {
    tarn_expr_kind kind;
    negate = take_kw(p, "not");
    if (take_kw(p, "null"))
      kind = negate ? TARN_EXPR_NOT_NULL : TARN_EXPR_IS_NULL;
    else if (take_kw(p, "nan")) {
      if (!is_float_type(&f->type)) {
        rc = tarn_error_set(p->err, TARN_EINVAL,
                            "\"%s\": column %s is not a float or double: "
                            "it holds no NaN",
                            p->text, f->name);
        goto out;
      }
      kind = TARN_EXPR_IS_NAN;
    } else {
      rc = perr_at(p, "\"null\", \"not null\", \"nan\" or \"not nan\" after \"is\"");
      goto out;
    }
    *out = tarn_expr_null_test(f, kind);
    if (*out != NULL && negate && kind == TARN_EXPR_IS_NAN)
      *out = tarn_expr_not(*out);
    goto built;
  }
  negate = take_kw(p, "not");
  if (take_kw(p, "in")) {
    skip_ws(p);
    if (p->pos >= p->len || p->text[p->pos] != '(') {
      rc = perr_at(p, "'(' after \"in\"");
      goto out;
    }
    p->pos++;
    for (;;) {
      if (nvals == TARN_EXPR_MAX_IN) {
        rc = tarn_error_set(p->err, TARN_EINVAL, "\"%s\": an IN list holds at most %d values",
                            p->text, TARN_EXPR_MAX_IN);
        goto out;
      }
      if ((rc = read_literal(p, 1, &lit)) != 0 || (rc = typed_literal(p, f, &lit, &v, &store)) != 0)
        goto out;
      if (TARN_GROW(vals, cap, nvals + 1, 8) != 0) {
        rc = tarn_error_set(p->err, TARN_ENOMEM, "out of memory parsing a predicate");
        goto out;
      }
      vals[nvals++] = v;
      skip_ws(p);
      if (p->pos < p->len && p->text[p->pos] == ',') {
        p->pos++;
        continue;
      }
      if (p->pos < p->len && p->text[p->pos] == ')') {
        p->pos++;
        break;
      }
      rc = perr_at(p, "',' or ')' in the IN list");
      goto out;
    }
    rebase(vals, nvals, &store);
    *out = tarn_expr_in(f, vals, nvals);
    if (*out != NULL && negate)
      *out = tarn_expr_not(*out);
    goto built;
  }
  if (negate) {
    rc = perr_at(p, "\"in\" after \"not\"");
    goto out;
  }
  {
    const char *q = p->text + p->pos;
    size_t left = p->len - p->pos;
    if (left >= 2 && strncmp(q, "==", 2) == 0)
      op = TARN_EXPR_EQ, p->pos += 2;
    else if (left >= 2 && (strncmp(q, "!=", 2) == 0 || strncmp(q, "<>", 2) == 0))
      op = TARN_EXPR_NE, p->pos += 2;
    else if (left >= 2 && strncmp(q, "<=", 2) == 0)
      op = TARN_EXPR_LE, p->pos += 2;
    else if (left >= 2 && strncmp(q, ">=", 2) == 0)
      op = TARN_EXPR_GE, p->pos += 2;
    else if (left >= 1 && *q == '=')
      op = TARN_EXPR_EQ, p->pos++;
    else if (left >= 1 && *q == '<')
      op = TARN_EXPR_LT, p->pos++;
    else if (left >= 1 && *q == '>')
      op = TARN_EXPR_GT, p->pos++;
    else {
      rc = perr_at(p, "an operator (= != < <= > >=, in (...), is null, is not null)");
      goto out;
    }
  }
  if ((rc = read_literal(p, 0, &lit)) != 0 || (rc = typed_literal(p, f, &lit, &v, &store)) != 0)
    goto out;
  rebase(&v, 1, &store);
  *out = tarn_expr_cmp(f, op, &v);
built:
  if (*out == NULL)
    rc = tarn_error_set(p->err, TARN_ENOMEM, "out of memory parsing a predicate");
out:
  tarn_free(vals);
  tarn_buf_free(&lit);
  tarn_buf_free(&store);
  return rc;
}

static int parse_factor(pstate *p, tarn_expr **out) {
  char col[256];
  size_t start, n;
  const tarn_ice_field *f;
  int rc;
  *out = NULL;
  if (++p->nest > TARN_EXPR_MAX_DEPTH)
    return tarn_error_set(p->err, TARN_EINVAL, "\"%s\": nested deeper than %d levels", p->text,
                          TARN_EXPR_MAX_DEPTH);
  skip_ws(p);
  if (take_kw(p, "not")) {
    rc = parse_factor(p, out);
    if (rc == 0 && (*out = tarn_expr_not(*out)) == NULL)
      rc = tarn_error_set(p->err, TARN_ENOMEM, "out of memory parsing a predicate");
    goto out;
  }
  if (p->pos < p->len && p->text[p->pos] == '(') {
    p->pos++;
    p->depth++;
    rc = parse_or(p, out);
    if (rc != 0)
      goto out;
    skip_ws(p);
    if (p->pos >= p->len || p->text[p->pos] != ')') {
      tarn_expr_free(*out);
      *out = NULL;
      rc = perr_at(p, "')'");
      goto out;
    }
    p->pos++;
    p->depth--;
    goto out;
  }
  start = p->pos;
  while (p->pos < p->len && !isspace((unsigned char)p->text[p->pos]) &&
         !strchr("=!<>(),'\"", p->text[p->pos]))
    p->pos++;
  n = p->pos - start;
  if (n == 0) {
    rc = perr_at(p, "a column name (COLUMN OP VALUE)");
    goto out;
  }
  if (n >= sizeof(col)) {
    rc = tarn_error_set(p->err, TARN_EINVAL, "\"%s\": a column name longer than %zu bytes", p->text,
                        sizeof(col) - 1);
    goto out;
  }
  memcpy(col, p->text + start, n);
  col[n] = '\0';
  f = tarn_ice_schema_field_by_name(p->schema, col);
  if (f == NULL) {
    rc = perr(p, "no column \"%s\"%s", col, NULL);
    goto out;
  }
  rc = parse_test(p, f, out);
out:
  p->nest--;
  return rc;
}

/* term { AND term } (kw "and", below OR) or expr := and-chain { OR and-chain }. */
static int parse_chain(pstate *p, int is_or, tarn_expr **out) {
  int rc = is_or ? parse_chain(p, 0, out) : parse_factor(p, out);
  while (rc == 0 && take_kw(p, is_or ? "or" : "and")) {
    tarn_expr *r = NULL;
    rc = is_or ? parse_chain(p, 0, &r) : parse_factor(p, &r);
    if (rc != 0) {
      tarn_expr_free(*out);
      *out = NULL;
      break;
    }
    if ((*out = (is_or ? tarn_expr_or : tarn_expr_and)(*out, r)) == NULL)
      rc = tarn_error_set(p->err, TARN_ENOMEM, "out of memory parsing a predicate");
  }
  return rc;
}

static int parse_or(pstate *p, tarn_expr **out) { return parse_chain(p, 1, out); }

int tarn_expr_parse(const tarn_ice_schema *s, const char *text, tarn_expr **out, tarn_error *err) {
  pstate p;
  int rc;
  *out = NULL;
  memset(&p, 0, sizeof(p));
  p.schema = s;
  p.text = text;
  p.len = strlen(text);
  p.err = err;
  tarn_buf_init(&p.scratch, (size_t)1 << 20);
  rc = parse_or(&p, out);
  if (rc == 0) {
    skip_ws(&p);
    if (p.pos < p.len) {
      rc = perr_at(&p, p.text[p.pos] == ')' ? "no ')' without its '('" : "AND, OR or the end");
      tarn_expr_free(*out);
      *out = NULL;
    }
  }
  tarn_buf_free(&p.scratch);
  return rc;
}
