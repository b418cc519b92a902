/* ice_nested.c - Iceberg nested types (struct, list, map): their children, the spec's JSON
 * forms, DDL text ("list<float>") and field-id bookkeeping across the whole schema. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "table.h"
#include "table_int.h"

/* Deepest nesting a schema may have (hostile metadata must not blow the stack). */
#define MAX_DEPTH 64

/* ---- lifecycle ---- */

void tarn__ice_field_free(tarn_ice_field *f) {
  tarn_free(f->name);
  tarn_free(f->doc);
  tarn_ice_type_free(&f->type);
  f->name = f->doc = NULL;
}

void tarn_ice_type_free(tarn_ice_type *t) {
  size_t i;
  if (t == NULL)
    return;
  for (i = 0; t->children != NULL && i < t->nchildren; i++)
    tarn__ice_field_free(&t->children[i]);
  tarn_free(t->children);
  t->children = NULL;
  t->nchildren = 0;
}

int tarn__ice_field_copy(tarn_ice_field *dst, const tarn_ice_field *src, tarn_error *err) {
  *dst = *src;
  dst->name = tarn_strdup(src->name);
  dst->doc = src->doc ? tarn_strdup(src->doc) : NULL;
  dst->type.children = NULL;
  dst->type.nchildren = 0;
  if (dst->name == NULL || (src->doc != NULL && dst->doc == NULL)) {
    tarn__ice_field_free(dst);
    return tarn_error_set(err, TARN_ENOMEM, "out of memory copying a schema");
  }
  if (tarn_ice_type_copy(&dst->type, &src->type, err) != 0) {
    tarn__ice_field_free(dst);
    return TARN_ENOMEM;
  }
  return 0;
}

int tarn_ice_type_copy(tarn_ice_type *dst, const tarn_ice_type *src, tarn_error *err) {
  size_t i;
  *dst = *src;
  dst->children = NULL;
  dst->nchildren = 0;
  if (src->nchildren == 0)
    return 0;
  dst->children = tarn_calloc(src->nchildren, sizeof(*dst->children));
  if (dst->children == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory copying a schema");
  for (i = 0; i < src->nchildren; i++) {
    if (tarn__ice_field_copy(&dst->children[i], &src->children[i], err) != 0) {
      tarn_ice_type_free(dst);
      return TARN_ENOMEM;
    }
    dst->nchildren = i + 1;
  }
  return 0;
}

/* ---- ids ---- */

static const tarn_ice_field *find_in(const tarn_ice_field *fs, size_t n, int32_t id) {
  size_t i;
  for (i = 0; i < n; i++) {
    const tarn_ice_field *hit;
    if (fs[i].id == id)
      return &fs[i];
    if ((hit = find_in(fs[i].type.children, fs[i].type.nchildren, id)) != NULL)
      return hit;
  }
  return NULL;
}

const tarn_ice_field *tarn_ice_schema_find(const tarn_ice_schema *s, int32_t id) {
  return find_in(s->fields, s->nfields, id);
}

static int32_t max_in(const tarn_ice_field *fs, size_t n) {
  int32_t m = 0, c;
  size_t i;
  for (i = 0; i < n; i++) {
    if (fs[i].id > m)
      m = fs[i].id;
    if ((c = max_in(fs[i].type.children, fs[i].type.nchildren)) > m)
      m = c;
  }
  return m;
}

int32_t tarn_ice_schema_max_id(const tarn_ice_schema *s) { return max_in(s->fields, s->nfields); }

static size_t count_in(const tarn_ice_field *fs, size_t n) {
  size_t i, c = n;
  for (i = 0; i < n; i++)
    c += count_in(fs[i].type.children, fs[i].type.nchildren);
  return c;
}

static void collect_in(const tarn_ice_field *fs, size_t n, const tarn_ice_field **out, size_t *k) {
  size_t i;
  for (i = 0; i < n; i++) {
    out[(*k)++] = &fs[i];
    collect_in(fs[i].type.children, fs[i].type.nchildren, out, k);
  }
}

static int by_id(const void *a, const void *b) {
  int32_t x = (*(const tarn_ice_field *const *)a)->id, y = (*(const tarn_ice_field *const *)b)->id;
  return x < y ? -1 : x > y;
}

int tarn__ice_schema_check_ids(const tarn_ice_schema *s, tarn_error *err) {
  size_t n = count_in(s->fields, s->nfields), k = 0, i;
  const tarn_ice_field **all;
  int rc = 0;
  if (n < 2)
    return 0;
  all = tarn_malloc(n * sizeof(*all));
  if (all == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory reading a schema");
  collect_in(s->fields, s->nfields, all, &k);
  qsort(all, n, sizeof(*all), by_id);
  for (i = 1; i < n && rc == 0; i++)
    if (all[i]->id == all[i - 1]->id)
      rc = tarn_error_set(err, TARN_ECORRUPT, "schema: field id %d is used by \"%s\" and \"%s\"",
                          (int)all[i]->id, all[i - 1]->name, all[i]->name);
  tarn_free(all);
  return rc;
}

/* ---- DDL text ---- */

typedef struct outbuf {
  char *p;
  size_t n, len;
} outbuf;

static void put(outbuf *o, const char *s) {
  size_t k = strlen(s);
  if (o->n == 0)
    return;
  if (o->len + k >= o->n)
    k = o->n - 1 - o->len;
  memcpy(o->p + o->len, s, k);
  o->len += k;
  o->p[o->len] = '\0';
}

static void fmt_type(outbuf *o, const tarn_ice_type *t) {
  size_t i;
  char prim[48];
  switch (t->id) {
  case TARN_ICE_LIST:
    put(o, "list<");
    if (t->nchildren == 1) {
      fmt_type(o, &t->children[0].type);
      if (t->children[0].required)
        put(o, " not null");
    }
    put(o, ">");
    return;
  case TARN_ICE_MAP:
    put(o, "map<");
    if (t->nchildren == 2) {
      fmt_type(o, &t->children[0].type);
      put(o, ", ");
      fmt_type(o, &t->children[1].type);
      if (t->children[1].required)
        put(o, " not null");
    }
    put(o, ">");
    return;
  case TARN_ICE_STRUCT:
    put(o, "struct<");
    for (i = 0; i < t->nchildren; i++) {
      put(o, i ? ", " : "");
      put(o, t->children[i].name);
      put(o, ": ");
      fmt_type(o, &t->children[i].type);
      if (t->children[i].required)
        put(o, " not null");
    }
    put(o, ">");
    return;
  default: tarn__ice_primitive_format(t, prim, sizeof(prim)); put(o, prim);
  }
}

void tarn__ice_nested_format(const tarn_ice_type *t, char *dst, size_t n) {
  outbuf o = {dst, n, 0};
  if (n > 0)
    dst[0] = '\0';
  fmt_type(&o, t);
}

/* ---- the spec's JSON ---- */

json_t *tarn__ice_type_to_json(const tarn_ice_type *t) {
  char prim[48];
  json_t *j, *a;
  size_t i;
  switch (t->id) {
  case TARN_ICE_STRUCT:
    a = json_array();
    for (i = 0; a != NULL && i < t->nchildren; i++)
      if (json_array_append_new(a, tarn__ice_field_to_json(&t->children[i])) != 0) {
        json_decref(a);
        return NULL;
      }
    return a ? json_pack("{s:s,s:o}", "type", "struct", "fields", a) : NULL;
  case TARN_ICE_LIST:
    if (t->nchildren != 1)
      return NULL;
    return json_pack(
        "{s:s,s:I,s:o,s:b}", "type", "list", "element-id", (json_int_t)t->children[0].id, "element",
        tarn__ice_type_to_json(&t->children[0].type), "element-required", t->children[0].required);
  case TARN_ICE_MAP:
    if (t->nchildren != 2)
      return NULL;
    return json_pack(
        "{s:s,s:I,s:o,s:I,s:o,s:b}", "type", "map", "key-id", (json_int_t)t->children[0].id, "key",
        tarn__ice_type_to_json(&t->children[0].type), "value-id", (json_int_t)t->children[1].id,
        "value", tarn__ice_type_to_json(&t->children[1].type), "value-required",
        t->children[1].required);
  default:
    tarn__ice_primitive_format(t, prim, sizeof(prim));
    j = json_string(prim);
    return j;
  }
}

json_t *tarn__ice_field_to_json(const tarn_ice_field *f) {
  json_t *jf = json_pack("{s:I,s:s,s:b,s:o}", "id", (json_int_t)f->id, "name", f->name, "required",
                         f->required, "type", tarn__ice_type_to_json(&f->type));
  if (jf != NULL && f->doc != NULL && json_object_set_new(jf, "doc", json_string(f->doc)) != 0) {
    json_decref(jf);
    return NULL;
  }
  return jf;
}

static int type_from_json(const json_t *j, tarn_ice_type *t, const char *where, int depth,
                          tarn_error *err);

static int child(tarn_ice_type *t, size_t k, const json_t *id, const char *name, int required,
                 const json_t *type, const char *where, int depth, tarn_error *err) {
  tarn_ice_field *f = &t->children[k];
  if (!json_is_integer(id) || type == NULL)
    return tarn_error_set(err, TARN_ECORRUPT,
                          "schema field \"%s\": %s needs an integer id and a "
                          "type",
                          where, name);
  f->id = (int32_t)json_integer_value(id);
  f->required = required;
  f->name = tarn_strdup(name);
  t->nchildren = k + 1;
  if (f->name == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory reading a schema");
  return type_from_json(type, &f->type, where, depth + 1, err);
}

int tarn__ice_field_from_json(const json_t *jf, tarn_ice_field *f, int depth, tarn_error *err) {
  const json_t *id = json_object_get(jf, "id"), *name = json_object_get(jf, "name");
  const json_t *req = json_object_get(jf, "required"), *type = json_object_get(jf, "type");
  const json_t *doc = json_object_get(jf, "doc");
  if (!json_is_integer(id) || !json_is_string(name) || !json_is_boolean(req) || type == NULL)
    return tarn_error_set(err, TARN_ECORRUPT,
                          "needs integer \"id\", string \"name\", boolean "
                          "\"required\" and \"type\"");
  f->id = (int32_t)json_integer_value(id);
  f->required = json_is_true(req);
  f->name = tarn_strdup(json_string_value(name));
  f->doc = json_is_string(doc) ? tarn_strdup(json_string_value(doc)) : NULL;
  if (f->name == NULL || (json_is_string(doc) && f->doc == NULL))
    return tarn_error_set(err, TARN_ENOMEM, "out of memory reading a schema");
  return type_from_json(type, &f->type, f->name, depth, err);
}

static int type_from_json(const json_t *j, tarn_ice_type *t, const char *where, int depth,
                          tarn_error *err) {
  const char *kind;
  int rc;
  memset(t, 0, sizeof(*t));
  if (json_is_string(j)) {
    rc = tarn_ice_type_parse(json_string_value(j), t, err);
    if (rc != 0)
      tarn_error_prefix(err, "schema field \"%s\"", where);
    return rc;
  }
  if (depth >= MAX_DEPTH)
    return tarn_error_set(err, TARN_ECORRUPT, "schema field \"%s\": nested deeper than %d levels",
                          where, MAX_DEPTH);
  kind = json_string_value(json_object_get(j, "type"));
  if (!json_is_object(j) || kind == NULL)
    return tarn_error_set(err, TARN_ECORRUPT,
                          "schema field \"%s\": a type is a string or an object with \"type\"",
                          where);
  if (strcmp(kind, "struct") == 0) {
    const json_t *fields = json_object_get(j, "fields");
    size_t i, n;
    if (!json_is_array(fields))
      return tarn_error_set(err, TARN_ECORRUPT, "schema field \"%s\": struct needs \"fields\"",
                            where);
    n = json_array_size(fields);
    t->id = TARN_ICE_STRUCT;
    if (n > 0 && (t->children = tarn_calloc(n, sizeof(*t->children))) == NULL)
      return tarn_error_set(err, TARN_ENOMEM, "out of memory reading a schema");
    for (i = 0; i < n; i++) {
      t->nchildren = i + 1;
      rc = tarn__ice_field_from_json(json_array_get(fields, i), &t->children[i], depth + 1, err);
      if (rc != 0) {
        tarn_error_prefix(err, "in struct \"%s\"", where);
        return rc;
      }
    }
    return 0;
  }
  if (strcmp(kind, "list") == 0) {
    const json_t *req = json_object_get(j, "element-required");
    if (!json_is_boolean(req))
      return tarn_error_set(err, TARN_ECORRUPT,
                            "schema field \"%s\": list needs boolean \"element-required\"", where);
    t->id = TARN_ICE_LIST;
    if ((t->children = tarn_calloc(1, sizeof(*t->children))) == NULL)
      return tarn_error_set(err, TARN_ENOMEM, "out of memory reading a schema");
    return child(t, 0, json_object_get(j, "element-id"), "element", json_is_true(req),
                 json_object_get(j, "element"), where, depth, err);
  }
  if (strcmp(kind, "map") == 0) {
    const json_t *req = json_object_get(j, "value-required");
    if (!json_is_boolean(req))
      return tarn_error_set(err, TARN_ECORRUPT,
                            "schema field \"%s\": map needs boolean \"value-required\"", where);
    t->id = TARN_ICE_MAP;
    if ((t->children = tarn_calloc(2, sizeof(*t->children))) == NULL)
      return tarn_error_set(err, TARN_ENOMEM, "out of memory reading a schema");
    rc = child(t, 0, json_object_get(j, "key-id"), "key", 1, json_object_get(j, "key"), where,
               depth, err);
    if (rc == 0)
      rc = child(t, 1, json_object_get(j, "value-id"), "value", json_is_true(req),
                 json_object_get(j, "value"), where, depth, err);
    return rc;
  }
  return tarn_error_set(err, TARN_EUNSUPPORTED, "schema field \"%s\": unknown type \"%s\"", where,
                        kind);
}

int tarn__ice_type_from_json(const json_t *j, tarn_ice_type *t, const char *where,
                             tarn_error *err) {
  int rc = type_from_json(j, t, where, 0, err);
  if (rc != 0)
    tarn_ice_type_free(t);
  return rc;
}

/* ---- DDL: "id long not null, emb list<float>, who struct<name: string>" ---- */

typedef struct ddl {
  const char *text, *p;
  const char *column; /* the top-level column being read, for messages */
  tarn_error *err;
} ddl;

static void skip_ws(ddl *d) {
  while (*d->p == ' ' || *d->p == '\t' || *d->p == '\n' || *d->p == '\r')
    d->p++;
}

static int ddl_fail(ddl *d, const char *what) {
  return tarn_error_set(d->err, TARN_EINVAL, "%s%s%s%s at offset %d of the schema text", what,
                        d->column ? " (column \"" : "", d->column ? d->column : "",
                        d->column ? "\")" : "", (int)(d->p - d->text));
}

/* A name: a run of anything but blanks and , : < > ( ), or a "quoted" / `quoted` one. */
static char *ddl_name(ddl *d) {
  const char *start;
  char *out;
  size_t n;
  skip_ws(d);
  if (*d->p == '"' || *d->p == '`') {
    char q = *d->p++;
    start = d->p;
    while (*d->p && *d->p != q)
      d->p++;
    if (*d->p != q) {
      ddl_fail(d, "unterminated quoted name");
      return NULL;
    }
    n = (size_t)(d->p - start);
    d->p++;
  } else {
    start = d->p;
    while (*d->p && strchr(" \t\r\n,:<>()", *d->p) == NULL)
      d->p++;
    n = (size_t)(d->p - start);
  }
  if (n == 0) {
    ddl_fail(d, "expected a name");
    return NULL;
  }
  out = tarn_malloc(n + 1);
  if (out == NULL) {
    tarn_error_set(d->err, TARN_ENOMEM, "out of memory");
    return NULL;
  }
  memcpy(out, start, n);
  out[n] = '\0';
  return out;
}

/* Case-insensitive keyword at p, followed by a non-name character. */
static int ddl_word(ddl *d, const char *w) {
  size_t n = strlen(w), i;
  skip_ws(d);
  for (i = 0; i < n; i++)
    if (tolower((unsigned char)d->p[i]) != w[i])
      return 0;
  if (d->p[n] != '\0' && (isalnum((unsigned char)d->p[n]) || d->p[n] == '_'))
    return 0;
  d->p += n;
  return 1;
}

/* Optional "not null" / "required" (1), "null" / "optional" (0); *req unchanged if none. */
static void ddl_nullability(ddl *d, int *req) {
  for (;;) {
    const char *save = d->p;
    if (ddl_word(d, "not")) {
      if (ddl_word(d, "null")) {
        *req = 1;
        continue;
      }
      d->p = save;
      return;
    }
    if (ddl_word(d, "required")) {
      *req = 1;
      continue;
    }
    if (ddl_word(d, "optional") || ddl_word(d, "null")) {
      *req = 0;
      continue;
    }
    return;
  }
}

static int ddl_expect(ddl *d, char c, const char *what) {
  skip_ws(d);
  if (*d->p != c)
    return ddl_fail(d, what);
  d->p++;
  return 0;
}

static int ddl_type(ddl *d, tarn_ice_type *t, int depth);

static int ddl_child(ddl *d, tarn_ice_type *t, size_t k, const char *name, int depth) {
  tarn_ice_field *f = &t->children[k];
  t->nchildren = k + 1;
  if ((f->name = tarn_strdup(name)) == NULL)
    return tarn_error_set(d->err, TARN_ENOMEM, "out of memory");
  return ddl_type(d, &f->type, depth + 1);
}

static int ddl_type(ddl *d, tarn_ice_type *t, int depth) {
  char word[32], prim[64];
  size_t n = 0;
  int rc;
  memset(t, 0, sizeof(*t));
  if (depth >= MAX_DEPTH)
    return ddl_fail(d, "types nested too deep");
  skip_ws(d);
  while (n + 1 < sizeof(word) && (isalnum((unsigned char)d->p[n]) || d->p[n] == '_')) {
    word[n] = (char)tolower((unsigned char)d->p[n]);
    n++;
  }
  word[n] = '\0';
  if (strcmp(word, "list") == 0 || strcmp(word, "array") == 0) {
    d->p += n;
    if ((rc = ddl_expect(d, '<', "expected < after list")) != 0)
      return rc;
    t->id = TARN_ICE_LIST;
    if ((t->children = tarn_calloc(1, sizeof(*t->children))) == NULL)
      return tarn_error_set(d->err, TARN_ENOMEM, "out of memory");
    if ((rc = ddl_child(d, t, 0, "element", depth)) != 0)
      return rc;
    ddl_nullability(d, &t->children[0].required);
    return ddl_expect(d, '>', "expected > closing list<");
  }
  if (strcmp(word, "map") == 0) {
    d->p += n;
    if ((rc = ddl_expect(d, '<', "expected < after map")) != 0)
      return rc;
    t->id = TARN_ICE_MAP;
    if ((t->children = tarn_calloc(2, sizeof(*t->children))) == NULL)
      return tarn_error_set(d->err, TARN_ENOMEM, "out of memory");
    if ((rc = ddl_child(d, t, 0, "key", depth)) != 0)
      return rc;
    t->children[0].required = 1; /* the spec: map keys are never null */
    if (tarn_ice_type_nested(&t->children[0].type))
      return ddl_fail(d, "a map's key must be a primitive type");
    if ((rc = ddl_expect(d, ',', "expected , between a map's key and value types")) != 0 ||
        (rc = ddl_child(d, t, 1, "value", depth)) != 0)
      return rc;
    ddl_nullability(d, &t->children[1].required);
    return ddl_expect(d, '>', "expected > closing map<");
  }
  if (strcmp(word, "struct") == 0) {
    size_t cap = 0;
    d->p += n;
    if ((rc = ddl_expect(d, '<', "expected < after struct")) != 0)
      return rc;
    t->id = TARN_ICE_STRUCT;
    for (;;) {
      char *name;
      size_t j;
      if (t->nchildren == cap) {
        size_t nc = cap ? cap * 2 : 4;
        tarn_ice_field *g = tarn_realloc(t->children, nc * sizeof(*g));
        if (g == NULL)
          return tarn_error_set(d->err, TARN_ENOMEM, "out of memory");
        memset(g + cap, 0, (nc - cap) * sizeof(*g));
        t->children = g;
        cap = nc;
      }
      if ((name = ddl_name(d)) == NULL)
        return d->err ? d->err->code : TARN_EINVAL;
      for (j = 0; j < t->nchildren; j++)
        if (strcmp(t->children[j].name, name) == 0) {
          tarn_free(name);
          return ddl_fail(d, "a struct field name appears twice");
        }
      skip_ws(d);
      if (*d->p == ':')
        d->p++;
      t->children[t->nchildren].name = name;
      t->nchildren++;
      if ((rc = ddl_type(d, &t->children[t->nchildren - 1].type, depth + 1)) != 0)
        return rc;
      ddl_nullability(d, &t->children[t->nchildren - 1].required);
      skip_ws(d);
      if (*d->p == ',') {
        d->p++;
        continue;
      }
      return ddl_expect(d, '>', "expected , or > in struct<");
    }
  }
  /* a primitive: a word, with (P, S) or [L] after decimal and fixed */
  n = 0;
  while (n + 1 < sizeof(prim) && d->p[n] && strchr(" \t\r\n,<>", d->p[n]) == NULL) {
    if (d->p[n] == '(' || d->p[n] == '[') { /* decimal(10, 2): keep the blank after the comma */
      char close = d->p[n] == '(' ? ')' : ']';
      while (n + 1 < sizeof(prim) && d->p[n] && d->p[n] != close) {
        prim[n] = (char)tolower((unsigned char)d->p[n]);
        n++;
      }
      if (d->p[n] != close)
        return ddl_fail(d, "unclosed ( or [ in a type");
    }
    prim[n] = (char)tolower((unsigned char)d->p[n]);
    n++;
  }
  prim[n] = '\0';
  {
    /* "decimal(10,2)" and "decimal(10, 2)" both */
    char norm[64];
    size_t i, k = 0;
    for (i = 0; prim[i] && k + 2 < sizeof(norm); i++) {
      if (prim[i] == ' ')
        continue;
      norm[k++] = prim[i];
      if (prim[i] == ',')
        norm[k++] = ' ';
    }
    norm[k] = '\0';
    if (n == 0 || tarn_ice_type_parse(norm, t, NULL) != 0) {
      if (n == 0)
        return ddl_fail(d, "expected a type");
      return tarn_error_set(
          d->err, TARN_EINVAL,
          "%s%s%sunknown type \"%s\" at offset %d of the schema text (boolean, int, long, "
          "float, double, date, time, timestamp, timestamptz, string, uuid, binary, "
          "fixed[L], decimal(P,S), list<T>, map<K, V>, struct<name: T, ...>)",
          d->column ? "column \"" : "", d->column ? d->column : "", d->column ? "\": " : "", prim,
          (int)(d->p - d->text));
    }
  }
  d->p += n;
  return 0;
}

static void assign_type(tarn_ice_type *t, int32_t *next);

static void assign_fields(tarn_ice_field *fs, size_t n, int32_t *next) {
  size_t i;
  for (i = 0; i < n; i++)
    fs[i].id = (*next)++;
  for (i = 0; i < n; i++)
    assign_type(&fs[i].type, next);
}

/* Iceberg's order for a fresh schema: a struct's fields, then each one's children;
 * a list's element, a map's key and value, then theirs. */
static void assign_type(tarn_ice_type *t, int32_t *next) {
  if (tarn_ice_type_nested(t))
    assign_fields(t->children, t->nchildren, next);
}

void tarn__ice_type_assign_ids(tarn_ice_type *t, int32_t *next) { assign_type(t, next); }

int tarn_ice_schema_parse_ddl(const char *text, tarn_ice_schema *out, tarn_error *err) {
  ddl d;
  size_t cap = 0;
  int32_t next = 1;
  int rc = 0;
  memset(out, 0, sizeof(*out));
  memset(&d, 0, sizeof(d));
  d.text = d.p = text ? text : "";
  d.err = err;
  skip_ws(&d);
  if (*d.p == '\0')
    return tarn_error_set(err, TARN_EINVAL, "the schema is empty (NAME TYPE, ...)");
  for (;;) {
    tarn_ice_field *f;
    size_t j;
    if (out->nfields == cap) {
      size_t nc = cap ? cap * 2 : 8;
      tarn_ice_field *g = tarn_realloc(out->fields, nc * sizeof(*g));
      if (g == NULL) {
        rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
        break;
      }
      memset(g + cap, 0, (nc - cap) * sizeof(*g));
      out->fields = g;
      cap = nc;
    }
    if (out->nfields >= 10000) {
      rc = tarn_error_set(err, TARN_EINVAL, "at most 10000 columns");
      break;
    }
    f = &out->fields[out->nfields];
    d.column = NULL;
    if ((f->name = ddl_name(&d)) == NULL) {
      rc = err && err->code ? err->code : TARN_EINVAL;
      break;
    }
    out->nfields++;
    d.column = f->name;
    for (j = 0; j + 1 < out->nfields; j++)
      if (strcmp(out->fields[j].name, f->name) == 0) {
        rc = tarn_error_set(err, TARN_EINVAL, "column \"%s\" appears twice", f->name);
        break;
      }
    if (rc != 0)
      break;
    skip_ws(&d);
    if (*d.p == ',' || *d.p == '\0') {
      rc =
          tarn_error_set(err, TARN_EINVAL, "column \"%s\": expected NAME TYPE [not null]", f->name);
      break;
    }
    if ((rc = ddl_type(&d, &f->type, 0)) != 0)
      break;
    ddl_nullability(&d, &f->required);
    skip_ws(&d);
    if (*d.p == ',') {
      d.p++;
      continue;
    }
    if (*d.p != '\0')
      rc = ddl_fail(&d, "expected , or the end after a column's type");
    break;
  }
  if (rc != 0) {
    tarn_ice_schema_free(out);
    return rc;
  }
  assign_fields(out->fields, out->nfields, &next);
  return 0;
}
