/* csv_infer.c - whole-file column type inference and the schema fingerprint. */
#include "csv_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/hash.h"

#define K_NONE 0xff /* no non-empty value yet */
#define SNIP_MAX 40 /* bytes of the offending value kept for the reason */

/* Per column. `kind` only moves along the lattice NONE -> one kind -> TEXT, with the
 * one widening INT + FLOAT -> FLOAT; so the result never depends on row order. */
typedef struct col_state {
  uint8_t kind;
  uint8_t prev; /* kind before it became TEXT (K_NONE: text from the first value) */
  uint8_t badk; /* kind of the value that made it TEXT */
  uint8_t snip_len;
  uint64_t values, nulls, ints;
  uint64_t before; /* non-empty values before the one that made it TEXT */
  uint64_t bad_line;
  char snip[SNIP_MAX];
  int snip_cut;
} col_state;

struct tarn_csv_infer {
  size_t ncols;
  col_state *cols;
};

int tarn_csv_infer_create(tarn_csv_infer **out, size_t ncols, tarn_error *err) {
  tarn_csv_infer *inf;
  size_t i;
  *out = NULL;
  if (ncols == 0)
    return tarn_error_set(err, TARN_EINVAL, "csv: inference needs at least one column");
  inf = tarn_calloc(1, sizeof(*inf));
  if (inf == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "csv: inference state");
  inf->cols = tarn_calloc(ncols, sizeof(*inf->cols));
  if (inf->cols == NULL) {
    tarn_free(inf);
    return tarn_error_set(err, TARN_ENOMEM, "csv: inference state");
  }
  inf->ncols = ncols;
  for (i = 0; i < ncols; i++)
    inf->cols[i].kind = inf->cols[i].prev = K_NONE;
  *out = inf;
  return 0;
}

void tarn_csv_infer_destroy(tarn_csv_infer *inf) {
  if (inf == NULL)
    return;
  tarn_free(inf->cols);
  tarn_free(inf);
}

/* The kind of a value, trying the column's current kind first (the common case). */
static inline uint8_t kind_of(uint8_t cur, const char *p, size_t len, int *is_int) {
  *is_int = 0;
  switch (cur) {
  case TARN__CSV_K_INT: {
    int64_t v;
    if (tarn_csv_parse_int64(p, len, &v) == 0)
      return TARN__CSV_K_INT;
    break;
  }
  case TARN__CSV_K_FLOAT:
    if (tarn__csv_float_check(p, len, is_int) == 0)
      return *is_int ? TARN__CSV_K_INT : TARN__CSV_K_FLOAT;
    break;
  case TARN__CSV_K_TS:
  case TARN__CSV_K_TSTZ: {
    int64_t us;
    int z;
    if (tarn_csv_parse_timestamp(p, len, &us, &z) == 0)
      return z ? TARN__CSV_K_TSTZ : TARN__CSV_K_TS;
    break;
  }
  case TARN__CSV_K_DATE: {
    int32_t d;
    if (tarn_csv_parse_date(p, len, &d) == 0)
      return TARN__CSV_K_DATE;
    break;
  }
  default: break;
  }
  return (uint8_t)tarn__csv_classify(p, len);
}

/* Feeds one non-empty value; returns 1 when it turned the column into TEXT. */
static inline int feed(col_state *c, const char *p, size_t len) {
  int is_int;
  uint8_t k;
  c->values++;
  if (c->kind == TARN__CSV_K_TEXT)
    return 0;
  k = kind_of(c->kind, p, len, &is_int);
  if (k == TARN__CSV_K_INT)
    c->ints++;
  if (k == c->kind)
    return 0;
  if (c->kind == K_NONE && k != TARN__CSV_K_TEXT) {
    c->kind = k;
    return 0;
  }
  if ((c->kind == TARN__CSV_K_INT && k == TARN__CSV_K_FLOAT) ||
      (c->kind == TARN__CSV_K_FLOAT && k == TARN__CSV_K_INT)) {
    c->kind = TARN__CSV_K_FLOAT;
    return 0;
  }
  c->prev = c->kind;
  c->badk = k;
  c->before = c->values - 1;
  c->kind = TARN__CSV_K_TEXT;
  c->snip_len = (uint8_t)(len < SNIP_MAX ? len : SNIP_MAX);
  c->snip_cut = len > SNIP_MAX;
  memcpy(c->snip, p, c->snip_len);
  return 1;
}

void tarn_csv_infer_record(tarn_csv_infer *inf, const tarn_csv_record *rec) {
  size_t i, n = rec->nfields < inf->ncols ? rec->nfields : inf->ncols;
  for (i = 0; i < n; i++) {
    const tarn_csv_field *f = &rec->fields[i];
    col_state *c = &inf->cols[i];
    if (f->len == 0) {
      c->nulls++;
      continue;
    }
    if (feed(c, f->ptr, f->len))
      c->bad_line = tarn_csv_field_line(rec, i);
  }
}

void tarn_csv_infer_field(tarn_csv_infer *inf, size_t col, const char *p, size_t len,
                          uint64_t line) {
  col_state *c;
  if (col >= inf->ncols)
    return;
  c = &inf->cols[col];
  if (len == 0) {
    c->nulls++;
    return;
  }
  if (feed(c, p, len))
    c->bad_line = line;
}

static tarn_csv_type type_of_kind(uint8_t k) {
  switch (k) {
  case TARN__CSV_K_BOOL: return TARN_CSV_BOOLEAN;
  case TARN__CSV_K_INT: return TARN_CSV_INT64;
  case TARN__CSV_K_FLOAT: return TARN_CSV_FLOAT64;
  case TARN__CSV_K_DATE: return TARN_CSV_DATE;
  case TARN__CSV_K_TS: return TARN_CSV_TIMESTAMP;
  case TARN__CSV_K_TSTZ: return TARN_CSV_TIMESTAMPTZ;
  default: return TARN_CSV_STRING;
  }
}

/* What a value of kind k is, for people. */
static const char *kind_words(uint8_t k) {
  switch (k) {
  case TARN__CSV_K_BOOL: return "a boolean";
  case TARN__CSV_K_INT: return "an integer";
  case TARN__CSV_K_FLOAT: return "a decimal number";
  case TARN__CSV_K_DATE: return "a date";
  case TARN__CSV_K_TS: return "a timestamp without zone";
  case TARN__CSV_K_TSTZ: return "a timestamp with zone";
  default: return "text";
  }
}

/* The snippet with quotes, backslashes and non-printable bytes escaped. */
static void render_snip(const col_state *c, char *dst, size_t n) {
  size_t i, o = 0;
  for (i = 0; i < c->snip_len && o + 5 < n; i++) {
    unsigned char ch = (unsigned char)c->snip[i];
    if (ch < 0x20 || ch == 0x7f || ch == '\'' || ch == '\\')
      o += (size_t)snprintf(dst + o, n - o, "\\x%02x", ch);
    else
      dst[o++] = (char)ch;
  }
  if (c->snip_cut && o + 4 < n) {
    memcpy(dst + o, "...", 3);
    o += 3;
  }
  dst[o] = '\0';
}

/* snprintf that may truncate (the reason is for people and capped on purpose). */
static void put(char *dst, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void put(char *dst, size_t n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(dst, n, fmt, ap);
  va_end(ap);
}

void tarn_csv_infer_column(const tarn_csv_infer *inf, size_t col, tarn_csv_column *out) {
  const col_state *c;
  char *r = out->reason;
  size_t rn = sizeof(out->reason), used;
  memset(out, 0, sizeof(*out));
  if (col >= inf->ncols) {
    out->type = TARN_CSV_STRING;
    out->nullable = 1;
    put(r, rn, "string: no such column");
    return;
  }
  c = &inf->cols[col];
  out->values = c->values;
  out->nulls = c->nulls;
  out->nullable = c->nulls > 0 || c->values == 0;
  out->type = c->kind == K_NONE ? TARN_CSV_STRING : type_of_kind(c->kind);
  switch (c->kind) {
  case K_NONE:
    if (c->nulls == 0)
      put(r, rn, "string: no rows");
    else
      put(r, rn, "string: no values (all %llu fields empty)", (unsigned long long)c->nulls);
    return;
  case TARN__CSV_K_BOOL:
    put(r, rn, "boolean: %llu values, all true/false", (unsigned long long)c->values);
    break;
  case TARN__CSV_K_INT:
    put(r, rn, "int64: %llu values, all integers", (unsigned long long)c->values);
    break;
  case TARN__CSV_K_FLOAT:
    if (c->ints > 0)
      put(r, rn, "float64: %llu values, all numbers (%llu of them integers)",
          (unsigned long long)c->values, (unsigned long long)c->ints);
    else
      put(r, rn, "float64: %llu values, all decimal numbers", (unsigned long long)c->values);
    break;
  case TARN__CSV_K_DATE:
    put(r, rn, "date: %llu values, all YYYY-MM-DD", (unsigned long long)c->values);
    break;
  case TARN__CSV_K_TS:
    put(r, rn, "timestamp: %llu values, all ISO 8601 without a zone",
        (unsigned long long)c->values);
    break;
  case TARN__CSV_K_TSTZ:
    put(r, rn, "timestamptz: %llu values, all ISO 8601 with a zone", (unsigned long long)c->values);
    break;
  default: {
    char snip[SNIP_MAX * 4 + 8];
    const char *note = c->badk == TARN__CSV_K_TEXT ? tarn__csv_text_note(c->snip, c->snip_len) : "";
    char what[96];
    render_snip(c, snip, sizeof(snip));
    if (c->badk != TARN__CSV_K_TEXT)
      put(what, sizeof(what), " (%s)", kind_words(c->badk));
    else if (note[0] != '\0' && !c->snip_cut)
      put(what, sizeof(what), " (%s)", note);
    else
      what[0] = '\0';
    if (c->prev == K_NONE)
      put(r, rn, "string: line %llu has '%s'%s", (unsigned long long)c->bad_line, snip, what);
    else
      put(r, rn, "string: line %llu has '%s'%s after %llu %s values",
          (unsigned long long)c->bad_line, snip, what, (unsigned long long)c->before,
          tarn_csv_type_name(type_of_kind(c->prev)));
    break;
  }
  }
  used = strlen(r);
  if (c->nulls > 0 && used < rn)
    put(r + used, rn - used, "; %llu empty", (unsigned long long)c->nulls);
}

int tarn_csv_fingerprint_names(const char *const *names, const char *const *types, size_t n,
                               char out[TARN_CSV_FINGERPRINT_LEN], tarn_error *err) {
  tarn_sha256 *h = NULL;
  uint8_t digest[TARN_SHA256_LEN];
  size_t i;
  int rc;
  out[0] = '\0';
  rc = tarn_sha256_create(&h, err);
  if (rc != 0)
    return rc;
  for (i = 0; i < n && rc == 0; i++) {
    rc = tarn_sha256_update(h, names[i], strlen(names[i]), err);
    if (rc == 0)
      rc = tarn_sha256_update(h, "\x1f", 1, err);
    if (rc == 0)
      rc = tarn_sha256_update(h, types[i], strlen(types[i]), err);
    if (rc == 0)
      rc = tarn_sha256_update(h, "\x1e", 1, err);
  }
  if (rc == 0)
    rc = tarn_sha256_final(h, digest, err);
  tarn_sha256_destroy(h);
  if (rc != 0)
    return rc;
  memcpy(out, "sha256:", 7);
  tarn_hex(digest, sizeof(digest), out + 7);
  return 0;
}

int tarn_csv_fingerprint(const char *const *names, const tarn_csv_type *types, size_t n,
                         char out[TARN_CSV_FINGERPRINT_LEN], tarn_error *err) {
  const char **tn;
  size_t i;
  int rc;
  out[0] = '\0';
  for (i = 0; i < n; i++)
    if ((unsigned)types[i] >= TARN_CSV_NTYPES)
      return tarn_error_set(err, TARN_EINVAL, "csv: fingerprint: column %zu has no type", i + 1);
  tn = tarn_calloc(n ? n : 1, sizeof(*tn));
  if (tn == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  for (i = 0; i < n; i++)
    tn[i] = tarn_csv_type_name(types[i]);
  rc = tarn_csv_fingerprint_names(names, tn, n, out, err);
  tarn_free(tn);
  return rc;
}
