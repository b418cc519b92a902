/* avro_schema.c - Avro schemas: parsing JSON text into a tree of types, lookups, normal form. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "table/avro_int.h"

/* ---- type names ---- */

const char *tarn_avro_type_name(tarn_avro_type t) {
  switch (t) {
  case TARN_AVRO_UNSET: return "unset";
  case TARN_AVRO_NULL: return "null";
  case TARN_AVRO_BOOLEAN: return "boolean";
  case TARN_AVRO_INT: return "int";
  case TARN_AVRO_LONG: return "long";
  case TARN_AVRO_FLOAT: return "float";
  case TARN_AVRO_DOUBLE: return "double";
  case TARN_AVRO_BYTES: return "bytes";
  case TARN_AVRO_STRING: return "string";
  case TARN_AVRO_RECORD: return "record";
  case TARN_AVRO_ENUM: return "enum";
  case TARN_AVRO_ARRAY: return "array";
  case TARN_AVRO_MAP: return "map";
  case TARN_AVRO_UNION: return "union";
  case TARN_AVRO_FIXED: return "fixed";
  case TARN_AVRO_INVALID: return "invalid";
  }
  return "invalid";
}

/* Primitives written as plain strings share these nodes: nothing to allocate. */
#define PRIM(t, mb)                                                                                \
  { .type = (t), .null_branch = -1, .min_bytes = (mb) }
static const tarn_avro_node prim_nodes[] = {
    PRIM(TARN_AVRO_NULL, 0),  PRIM(TARN_AVRO_BOOLEAN, 1), PRIM(TARN_AVRO_INT, 1),
    PRIM(TARN_AVRO_LONG, 1),  PRIM(TARN_AVRO_FLOAT, 4),   PRIM(TARN_AVRO_DOUBLE, 8),
    PRIM(TARN_AVRO_BYTES, 1), PRIM(TARN_AVRO_STRING, 1),
};
#undef PRIM

static const tarn_avro_node *prim_by_name(const char *s) {
  size_t i;
  for (i = 0; i < sizeof(prim_nodes) / sizeof(prim_nodes[0]); i++)
    if (strcmp(s, tarn_avro_type_name(prim_nodes[i].type)) == 0)
      return &prim_nodes[i];
  return NULL;
}

static size_t sat_add(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }

/* ---- a small string-keyed hash table (named types, duplicate checks) ---- */

typedef struct strset_slot {
  const char *key;
  void *val;
} strset_slot;

typedef struct strset {
  strset_slot *slots;
  size_t cap, count;
} strset;

static uint64_t str_hash(const char *s) {
  uint64_t h = 1469598103934665603ull;
  while (*s)
    h = (h ^ (uint8_t)*s++) * 1099511628211ull;
  return h;
}

static void strset_free(strset *t) {
  tarn_free(t->slots);
  t->slots = NULL;
  t->cap = t->count = 0;
}

static void *strset_get(const strset *t, const char *key) {
  size_t i;
  if (t->cap == 0)
    return NULL;
  for (i = (size_t)str_hash(key) & (t->cap - 1); t->slots[i].key != NULL;
       i = (i + 1) & (t->cap - 1))
    if (strcmp(t->slots[i].key, key) == 0)
      return t->slots[i].val;
  return NULL;
}

/* 0 added, 1 already present (unchanged), -1 out of memory. */
static int strset_put(strset *t, const char *key, void *val) {
  size_t i;
  if ((t->count + 1) * 2 > t->cap) {
    size_t ncap = t->cap ? t->cap * 2 : 16, j;
    strset_slot *ns = tarn_calloc(ncap, sizeof(*ns));
    if (ns == NULL)
      return -1;
    for (j = 0; j < t->cap; j++) {
      if (t->slots[j].key == NULL)
        continue;
      for (i = (size_t)str_hash(t->slots[j].key) & (ncap - 1); ns[i].key != NULL;
           i = (i + 1) & (ncap - 1))
        ;
      ns[i] = t->slots[j];
    }
    tarn_free(t->slots);
    t->slots = ns;
    t->cap = ncap;
  }
  for (i = (size_t)str_hash(key) & (t->cap - 1); t->slots[i].key != NULL;
       i = (i + 1) & (t->cap - 1))
    if (strcmp(t->slots[i].key, key) == 0)
      return 1;
  t->slots[i].key = key;
  t->slots[i].val = val;
  t->count++;
  return 0;
}

/* ---- the schema ---- */

struct tarn_avro_schema {
  char *text;
  size_t text_len;
  json_t *json;
  tarn_avro_arena *arena; /* nodes, fields, names */
  const tarn_avro_node *root;
  strset names; /* fullname -> node */
};

typedef struct pending_default {
  const tarn_avro_field *field;
  const char *record;
} pending_default;

typedef struct parse_ctx {
  tarn_avro_schema *s;
  tarn_error *err;
  char jpath[256]; /* JSON path of what is being parsed, for errors */
  size_t jlen;
  pending_default *defaults; /* checked once every type is known */
  size_t ndefaults, defaults_cap;
} parse_ctx;

static size_t jpath_push(parse_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static size_t jpath_push(parse_ctx *c, const char *fmt, ...) {
  size_t old = c->jlen, room = sizeof(c->jpath) - c->jlen;
  va_list ap;
  int n;
  if (room <= 1)
    return old;
  va_start(ap, fmt);
  n = vsnprintf(c->jpath + c->jlen, room, fmt, ap);
  va_end(ap);
  if (n > 0)
    c->jlen += (size_t)n < room ? (size_t)n : room - 1;
  return old;
}

static void jpath_pop(parse_ctx *c, size_t old) {
  c->jlen = old;
  c->jpath[old] = '\0';
}

static int perr(parse_ctx *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int perr(parse_ctx *c, int code, const char *fmt, ...) {
  char msg[TARN_ERROR_DETAIL_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  return tarn_error_set(c->err, code, "avro schema: %s: %s", c->jlen ? c->jpath : "(root)", msg);
}

static void *palloc(parse_ctx *c, size_t n) {
  return tarn__avro_arena_alloc_err(c->s->arena, n, "avro schema", c->err);
}

static char *pstrdup(parse_ctx *c, const char *s) {
  char *d = tarn_avro_arena_strndup(c->s->arena, s, strlen(s));
  if (d == NULL)
    tarn_error_set(c->err, TARN_ENOMEM, "avro schema: out of memory");
  return d;
}

static int valid_name(const char *s, size_t n) {
  size_t i;
  if (n == 0)
    return 0;
  for (i = 0; i < n; i++) {
    char ch = s[i];
    int alpha = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '_';
    if (!alpha && !(i > 0 && ch >= '0' && ch <= '9'))
      return 0;
  }
  return 1;
}

/* A namespace: "" or dot-separated names. */
static int valid_namespace(const char *s) {
  const char *dot;
  if (*s == '\0')
    return 1;
  for (;;) {
    dot = strchr(s, '.');
    if (!valid_name(s, dot ? (size_t)(dot - s) : strlen(s)))
      return 0;
    if (dot == NULL)
      return 1;
    s = dot + 1;
  }
}

static int get_id_attr(const json_t *obj, const char *key, int32_t *out) {
  const json_t *v = json_object_get(obj, key);
  json_int_t i;
  if (!json_is_integer(v))
    return 0;
  i = json_integer_value(v);
  if (i < INT32_MIN || i > INT32_MAX)
    return 0;
  *out = (int32_t)i;
  return 1;
}

static int parse_type(parse_ctx *c, const json_t *j, const char *ns, int depth,
                      const tarn_avro_node **out);

/* Resolves a type name used as a reference: a full name if it has a dot, else in the
 * enclosing namespace, falling back to the null namespace. */
static const tarn_avro_node *lookup_name(parse_ctx *c, const char *name, const char *ns) {
  const tarn_avro_node *n;
  char buf[512];
  if (strchr(name, '.') == NULL && ns[0] != '\0') {
    if ((size_t)snprintf(buf, sizeof(buf), "%s.%s", ns, name) < sizeof(buf) &&
        (n = strset_get(&c->s->names, buf)) != NULL)
      return n;
  }
  return strset_get(&c->s->names, name);
}

/* Fills name/fullname of a named type and registers it. *ns_out gets its namespace. */
static int define_name(parse_ctx *c, const json_t *obj, const char *enclosing_ns, tarn_avro_node *n,
                       const char **ns_out) {
  const json_t *jn = json_object_get(obj, "name"), *jns = json_object_get(obj, "namespace");
  const char *name, *dot, *ns;
  char *full;
  size_t nslen;
  int rc;
  if (!json_is_string(jn))
    return perr(c, TARN_EINVAL, "a %s needs a string \"name\"", tarn_avro_type_name(n->type));
  name = json_string_value(jn);
  if (strlen(name) != json_string_length(jn))
    return perr(c, TARN_EINVAL, "a name holds a NUL character");
  dot = strrchr(name, '.');
  if (dot != NULL) {
    /* A full name: any namespace attribute is ignored. */
    nslen = (size_t)(dot - name);
    if (!valid_name(dot + 1, strlen(dot + 1)))
      return perr(c, TARN_EINVAL, "invalid name '%s'", name);
    full = pstrdup(c, name);
    if (full == NULL)
      return TARN_ENOMEM;
    ns = tarn_avro_arena_strndup(c->s->arena, name, nslen);
    if (ns == NULL)
      return tarn_error_set(c->err, TARN_ENOMEM, "avro schema: out of memory");
    n->name = full + nslen + 1;
  } else {
    if (!valid_name(name, strlen(name)))
      return perr(c, TARN_EINVAL, "invalid name '%s' (names match [A-Za-z_][A-Za-z0-9_]*)", name);
    if (jns != NULL && !json_is_null(jns)) {
      if (!json_is_string(jns) || strlen(json_string_value(jns)) != json_string_length(jns))
        return perr(c, TARN_EINVAL, "\"namespace\" must be a string without NUL");
      ns = json_string_value(jns);
    } else {
      ns = enclosing_ns;
    }
    nslen = strlen(ns);
    full = palloc(c, nslen + strlen(name) + 2);
    if (full == NULL)
      return TARN_ENOMEM;
    if (nslen)
      snprintf(full, nslen + strlen(name) + 2, "%s.%s", ns, name);
    else
      memcpy(full, name, strlen(name) + 1);
    n->name = full + (nslen ? nslen + 1 : 0);
  }
  if (!valid_namespace(ns))
    return perr(c, TARN_EINVAL, "invalid namespace '%s'", ns);
  if (prim_by_name(n->name) != NULL)
    return perr(c, TARN_EINVAL, "a named type cannot be called '%s'", n->name);
  n->fullname = full;
  rc = strset_put(&c->s->names, full, n);
  if (rc < 0)
    return tarn_error_set(c->err, TARN_ENOMEM, "avro schema: out of memory");
  if (rc > 0)
    return perr(c, TARN_EINVAL, "type '%s' is defined twice", full);
  *ns_out = ns;
  return 0;
}

static int parse_record(parse_ctx *c, const json_t *obj, const char *ns, int depth,
                        tarn_avro_node *n) {
  const json_t *jf = json_object_get(obj, "fields");
  tarn_avro_field *fields;
  strset seen = {0};
  const char *rns;
  size_t i, nf,
      saved = c->jlen; // NOLINT(clang-analyzer-deadcode.DeadStores): out: must see a value
  int rc = define_name(c, obj, ns, n, &rns);
  if (rc != 0)
    return rc;
  if (!json_is_array(jf))
    return perr(c, TARN_EINVAL, "record '%s' needs a \"fields\" array", n->fullname);
  nf = json_array_size(jf);
  fields = nf ? palloc(c, nf * sizeof(*fields)) : NULL;
  if (nf && fields == NULL)
    return TARN_ENOMEM;
  /* Fields are visible (for recursion) only once complete; count grows as they parse. */
  n->fields = fields;
  for (i = 0; i < nf; i++) {
    const json_t *f = json_array_get(jf, i), *jname, *jtype;
    tarn_avro_field *fd = &fields[i];
    saved = jpath_push(c, "fields[%zu]", i);
    if (!json_is_object(f)) {
      rc = perr(c, TARN_EINVAL, "a field must be an object");
      goto out;
    }
    jname = json_object_get(f, "name");
    if (!json_is_string(jname) ||
        !valid_name(json_string_value(jname), json_string_length(jname))) {
      rc = perr(c, TARN_EINVAL, "a field needs a valid \"name\" ([A-Za-z_][A-Za-z0-9_]*)");
      goto out;
    }
    fd->name = json_string_value(jname);
    fd->index = i;
    fd->json = f;
    rc = strset_put(&seen, fd->name, fd);
    if (rc != 0) {
      rc = rc < 0 ? tarn_error_set(c->err, TARN_ENOMEM, "avro schema: out of memory")
                  : perr(c, TARN_EINVAL, "field '%s' appears twice", fd->name);
      goto out;
    }
    jtype = json_object_get(f, "type");
    if (jtype == NULL) {
      rc = perr(c, TARN_EINVAL, "field '%s' has no \"type\"", fd->name);
      goto out;
    }
    {
      size_t s2 = jpath_push(c, ".type");
      rc = parse_type(c, jtype, rns, depth + 1, &fd->type);
      jpath_pop(c, s2);
    }
    if (rc != 0)
      goto out;
    fd->has_field_id = get_id_attr(f, "field-id", &fd->field_id);
    fd->default_value = json_object_get(f, "default");
    if (fd->default_value != NULL) {
      if (TARN_GROW(c->defaults, c->defaults_cap, c->ndefaults + 1, 16) != 0) {
        rc = tarn_error_set(c->err, TARN_ENOMEM, "avro schema: out of memory");
        goto out;
      }
      c->defaults[c->ndefaults].field = fd;
      c->defaults[c->ndefaults].record = n->fullname;
      c->ndefaults++;
    }
    n->min_bytes = sat_add(n->min_bytes, fd->type->min_bytes);
    n->nfields = i + 1;
    jpath_pop(c, saved);
  }
  strset_free(&seen);
  return 0;
out:
  jpath_pop(c, saved);
  strset_free(&seen);
  return rc;
}

static int parse_enum(parse_ctx *c, const json_t *obj, const char *ns, tarn_avro_node *n) {
  const json_t *js = json_object_get(obj, "symbols"), *jd = json_object_get(obj, "default");
  const char **syms;
  strset seen = {0};
  const char *ens;
  size_t i, ns_count;
  int rc = define_name(c, obj, ns, n, &ens);
  if (rc != 0)
    return rc;
  if (!json_is_array(js))
    return perr(c, TARN_EINVAL, "enum '%s' needs a \"symbols\" array", n->fullname);
  ns_count = json_array_size(js);
  syms = ns_count ? palloc(c, ns_count * sizeof(*syms)) : NULL;
  if (ns_count && syms == NULL)
    return TARN_ENOMEM;
  for (i = 0; i < ns_count; i++) {
    const json_t *s = json_array_get(js, i);
    if (!json_is_string(s) || !valid_name(json_string_value(s), json_string_length(s))) {
      strset_free(&seen);
      return perr(c, TARN_EINVAL, "enum '%s': symbol %zu is not a valid name", n->fullname, i);
    }
    syms[i] = json_string_value(s);
    rc = strset_put(&seen, syms[i], NULL);
    if (rc != 0) {
      strset_free(&seen);
      return rc < 0 ? tarn_error_set(c->err, TARN_ENOMEM, "avro schema: out of memory")
                    : perr(c, TARN_EINVAL, "enum '%s': symbol '%s' appears twice", n->fullname,
                           syms[i]);
    }
  }
  n->symbols = syms;
  n->nsymbols = ns_count;
  if (jd != NULL) {
    for (i = 0; json_is_string(jd) && i < ns_count; i++)
      if (strcmp(syms[i], json_string_value(jd)) == 0)
        break;
    if (!json_is_string(jd) || i == ns_count) {
      strset_free(&seen);
      return perr(c, TARN_EINVAL, "enum '%s': \"default\" is not one of its symbols", n->fullname);
    }
  }
  strset_free(&seen);
  n->min_bytes = 1;
  return 0;
}

static int parse_fixed(parse_ctx *c, const json_t *obj, const char *ns, tarn_avro_node *n) {
  const json_t *js = json_object_get(obj, "size");
  const char *fns;
  int rc = define_name(c, obj, ns, n, &fns);
  if (rc != 0)
    return rc;
  if (!json_is_integer(js) || json_integer_value(js) < 0 ||
      json_integer_value(js) > (json_int_t)(1 << 30))
    return perr(c, TARN_EINVAL, "fixed '%s' needs an integer \"size\" from 0 to 2^30", n->fullname);
  n->size = (size_t)json_integer_value(js);
  n->min_bytes = n->size;
  return 0;
}

static const char *unnamed_key(tarn_avro_type t) {
  switch (t) {
  case TARN_AVRO_NULL: return "#null";
  case TARN_AVRO_BOOLEAN: return "#boolean";
  case TARN_AVRO_INT: return "#int";
  case TARN_AVRO_LONG: return "#long";
  case TARN_AVRO_FLOAT: return "#float";
  case TARN_AVRO_DOUBLE: return "#double";
  case TARN_AVRO_BYTES: return "#bytes";
  case TARN_AVRO_STRING: return "#string";
  case TARN_AVRO_ARRAY: return "#array";
  case TARN_AVRO_MAP: return "#map";
  default: return "#other";
  }
}

static int parse_union(parse_ctx *c, const json_t *arr, const char *ns, int depth,
                       const tarn_avro_node **out) {
  tarn_avro_node *n = palloc(c, sizeof(*n));
  const tarn_avro_node **br;
  strset seen = {0};
  size_t i, nb = json_array_size(arr), min = SIZE_MAX, saved;
  int rc = 0;
  if (n == NULL)
    return TARN_ENOMEM;
  n->type = TARN_AVRO_UNION;
  n->json = arr;
  n->null_branch = -1;
  if (nb == 0)
    return perr(c, TARN_EINVAL, "a union needs at least one type");
  br = palloc(c, nb * sizeof(*br));
  if (br == NULL)
    return TARN_ENOMEM;
  for (i = 0; i < nb; i++) {
    const char *key;
    saved = jpath_push(c, "[%zu]", i);
    rc = parse_type(c, json_array_get(arr, i), ns, depth + 1, &br[i]);
    if (rc != 0) {
      jpath_pop(c, saved);
      break;
    }
    if (br[i]->type == TARN_AVRO_UNION) {
      rc = perr(c, TARN_EINVAL, "a union cannot hold a union directly");
      jpath_pop(c, saved);
      break;
    }
    /* At most one branch per unnamed type; named types must differ by full name. An
     * unnamed type's key starts with '#', which no name holds (a record may be called
     * "array"). */
    key = br[i]->fullname != NULL ? br[i]->fullname : unnamed_key(br[i]->type);
    rc = strset_put(&seen, key, NULL);
    if (rc != 0) {
      rc = rc < 0 ? tarn_error_set(c->err, TARN_ENOMEM, "avro schema: out of memory")
                  : perr(c, TARN_EINVAL, "the union has two branches of type '%s'",
                         key[0] == '#' ? key + 1 : key);
      jpath_pop(c, saved);
      break;
    }
    if (br[i]->type == TARN_AVRO_NULL && n->null_branch < 0)
      n->null_branch = (int)i;
    if (br[i]->min_bytes < min)
      min = br[i]->min_bytes;
    jpath_pop(c, saved);
  }
  strset_free(&seen);
  if (rc != 0)
    return rc;
  n->branches = br;
  n->nbranches = nb;
  n->min_bytes = sat_add(1, min);
  *out = n;
  return 0;
}

static void parse_logical(tarn_avro_node *n, const json_t *obj) {
  const json_t *lt = json_object_get(obj, "logicalType");
  if (!json_is_string(lt))
    return;
  n->logical_type = json_string_value(lt);
  if (strcmp(n->logical_type, "decimal") == 0 &&
      (n->type == TARN_AVRO_BYTES || n->type == TARN_AVRO_FIXED)) {
    const json_t *jp = json_object_get(obj, "precision"), *js = json_object_get(obj, "scale");
    json_int_t p = json_is_integer(jp) ? json_integer_value(jp) : 0;
    json_int_t s = js == NULL ? 0 : json_is_integer(js) ? json_integer_value(js) : -1;
    /* An invalid decimal is read as its underlying type (spec): precision stays 0. */
    if (p > 0 && p <= 1000 && s >= 0 && s <= p) {
      n->precision = (int)p;
      n->scale = (int)s;
    }
  }
}

static int parse_type(parse_ctx *c, const json_t *j, const char *ns, int depth,
                      const tarn_avro_node **out) {
  const tarn_avro_node *prim;
  tarn_avro_node *n;
  const json_t *jt;
  const char *ts;
  int rc;
  if (depth > TARN_AVRO_MAX_DEPTH)
    return perr(c, TARN_EINVAL, "types nested deeper than %d", TARN_AVRO_MAX_DEPTH);
  if (json_is_string(j)) {
    const char *s = json_string_value(j);
    if (strlen(s) != json_string_length(j))
      return perr(c, TARN_EINVAL, "a type name holds a NUL character");
    if ((prim = prim_by_name(s)) != NULL) {
      *out = prim;
      return 0;
    }
    if ((*out = lookup_name(c, s, ns)) == NULL)
      return perr(c, TARN_EINVAL, "unknown type name '%s'", s);
    return 0;
  }
  if (json_is_array(j))
    return parse_union(c, j, ns, depth, out);
  if (!json_is_object(j))
    return perr(c, TARN_EINVAL, "a type must be a string, an object or an array");
  jt = json_object_get(j, "type");
  if (jt == NULL)
    return perr(c, TARN_EINVAL, "a type object needs \"type\"");
  if (json_is_object(jt) || json_is_array(jt)) {
    size_t saved = jpath_push(c, ".type");
    rc = parse_type(c, jt, ns, depth + 1, out);
    jpath_pop(c, saved);
    return rc;
  }
  if (!json_is_string(jt))
    return perr(c, TARN_EINVAL, "\"type\" must be a string, an object or an array");
  ts = json_string_value(jt);
  if (strlen(ts) != json_string_length(jt))
    return perr(c, TARN_EINVAL, "a type name holds a NUL character");
  n = palloc(c, sizeof(*n));
  if (n == NULL)
    return TARN_ENOMEM;
  n->json = j;
  n->null_branch = -1;
  if ((prim = prim_by_name(ts)) != NULL) {
    n->type = prim->type;
    n->min_bytes = prim->min_bytes;
    parse_logical(n, j);
    *out = n;
    return 0;
  }
  if (strcmp(ts, "record") == 0 || strcmp(ts, "error") == 0) {
    n->type = TARN_AVRO_RECORD;
    rc = parse_record(c, j, ns, depth, n);
  } else if (strcmp(ts, "enum") == 0) {
    n->type = TARN_AVRO_ENUM;
    rc = parse_enum(c, j, ns, n);
  } else if (strcmp(ts, "fixed") == 0) {
    n->type = TARN_AVRO_FIXED;
    rc = parse_fixed(c, j, ns, n);
  } else if (strcmp(ts, "array") == 0 || strcmp(ts, "map") == 0) {
    int is_array = ts[0] == 'a';
    const json_t *ji = json_object_get(j, is_array ? "items" : "values");
    size_t saved;
    n->type = is_array ? TARN_AVRO_ARRAY : TARN_AVRO_MAP;
    if (ji == NULL)
      return perr(c, TARN_EINVAL, "%s needs \"%s\"", ts, is_array ? "items" : "values");
    saved = jpath_push(c, "%s", is_array ? ".items" : ".values");
    rc = parse_type(c, ji, ns, depth + 1, &n->items);
    jpath_pop(c, saved);
    n->has_element_id = get_id_attr(j, "element-id", &n->element_id);
    n->has_key_id = get_id_attr(j, "key-id", &n->key_id);
    n->has_value_id = get_id_attr(j, "value-id", &n->value_id);
    n->min_bytes = 1;
  } else {
    /* {"type": "SomeName"}: a reference to a named type. */
    if ((*out = lookup_name(c, ts, ns)) == NULL)
      return perr(c, TARN_EINVAL, "unknown type name '%s'", ts);
    return 0;
  }
  if (rc != 0)
    return rc;
  parse_logical(n, j);
  *out = n;
  return 0;
}

int tarn_avro_schema_parse(const char *text, size_t len, tarn_avro_schema **out, tarn_error *err) {
  parse_ctx c;
  tarn_avro_schema *s = NULL;
  json_error_t jerr;
  tarn_buf scratch;
  size_t i;
  int rc;
  memset(&c, 0, sizeof(c));
  tarn_buf_init(&scratch, TARN_AVRO_MAX_BLOCK_BYTES);
  if (text == NULL)
    return tarn_error_set(err, TARN_EINVAL, "avro schema: no text");
  if (len > TARN_AVRO_SCHEMA_MAX_BYTES)
    return tarn_error_set(err, TARN_ETOOBIG, "avro schema: %zu bytes, more than the %u allowed",
                          len, TARN_AVRO_SCHEMA_MAX_BYTES);
  /* JSON text never holds a raw NUL; refusing it keeps the text a C string. */
  if (memchr(text, '\0', len) != NULL)
    return tarn_error_set(err, TARN_EINVAL, "avro schema: the text holds a NUL byte");
  s = tarn_calloc(1, sizeof(*s));
  if (s == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "avro schema: out of memory");
  s->text = tarn_malloc(len + 1);
  s->text_len = len;
  if (s->text == NULL) {
    rc = tarn_error_set(err, TARN_ENOMEM, "avro schema: out of memory");
    goto out;
  }
  memcpy(s->text, text, len);
  s->text[len] = '\0';
  rc = tarn_avro_arena_create(sat_add(64 * len, 1u << 20), &s->arena, err);
  if (rc != 0)
    goto out;
  /* NUL is allowed in strings for bytes defaults ("\u0000"); names are checked. */
  s->json = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
  if (s->json == NULL) {
    rc = tarn_error_set(err, TARN_EINVAL, "avro schema: invalid JSON at line %d column %d: %s",
                        jerr.line, jerr.column, jerr.text);
    goto out;
  }
  c.s = s;
  c.err = err;
  rc = parse_type(&c, s->json, "", 0, &s->root);
  if (rc != 0)
    goto out;
  /* Defaults are checked last: a default may hold a type defined after its field. */
  for (i = 0; i < c.ndefaults; i++) {
    const tarn_avro_field *f = c.defaults[i].field;
    tarn__avro_path path;
    path.depth = 0;
    tarn_buf_reset(&scratch);
    rc = tarn__avro_encode_json(&scratch, f->type, f->default_value, 0, &path, err);
    if (rc != 0) {
      tarn_error_prefix(err, "avro schema: record '%s' field '%s': bad default",
                        c.defaults[i].record, f->name);
      goto out;
    }
  }
  *out = s;
  s = NULL;
out:
  tarn_buf_free(&scratch);
  tarn_free(c.defaults);
  tarn_avro_schema_destroy(s);
  return rc;
}

void tarn_avro_schema_destroy(tarn_avro_schema *s) {
  if (s == NULL)
    return;
  strset_free(&s->names);
  tarn_avro_arena_destroy(s->arena);
  if (s->json != NULL)
    json_decref(s->json);
  tarn_free(s->text);
  tarn_free(s);
}

const tarn_avro_node *tarn_avro_schema_root(const tarn_avro_schema *s) { return s->root; }

const char *tarn_avro_schema_text(const tarn_avro_schema *s, size_t *len) {
  if (len != NULL)
    *len = s->text_len;
  return s->text;
}

const tarn_avro_node *tarn_avro_schema_named(const tarn_avro_schema *s, const char *fullname) {
  return strset_get(&s->names, fullname);
}

/* ---- lookups ---- */

const tarn_avro_node *tarn_avro_node_nonnull(const tarn_avro_node *n) {
  if (n != NULL && n->type == TARN_AVRO_UNION && n->nbranches == 2 && n->null_branch >= 0)
    return n->branches[1 - n->null_branch];
  return n;
}

const tarn_avro_field *tarn_avro_node_field(const tarn_avro_node *rec, const char *name) {
  size_t i;
  rec = tarn_avro_node_nonnull(rec);
  if (rec == NULL || rec->type != TARN_AVRO_RECORD || name == NULL)
    return NULL;
  for (i = 0; i < rec->nfields; i++)
    if (strcmp(rec->fields[i].name, name) == 0)
      return &rec->fields[i];
  return NULL;
}

const tarn_avro_field *tarn_avro_node_field_by_id(const tarn_avro_node *rec, int32_t field_id) {
  size_t i;
  rec = tarn_avro_node_nonnull(rec);
  if (rec == NULL || rec->type != TARN_AVRO_RECORD)
    return NULL;
  for (i = 0; i < rec->nfields; i++)
    if (rec->fields[i].has_field_id && rec->fields[i].field_id == field_id)
      return &rec->fields[i];
  return NULL;
}

const json_t *tarn_avro_node_attr(const tarn_avro_node *n, const char *key) {
  if (n == NULL || !json_is_object(n->json))
    return NULL;
  return json_object_get(n->json, key);
}

/* ---- normal form: primitives without attributes as plain strings ---- */

static int is_prim_name(const json_t *t) {
  return json_is_string(t) && prim_by_name(json_string_value(t));
}

/* Returns a new reference, NULL when out of memory. */
static json_t *normalize(const json_t *j) {
  const json_t *t;
  json_t *o;
  const char *key, *ts;
  json_t *val;
  size_t i;
  if (json_is_array(j)) {
    o = json_array();
    for (i = 0; o != NULL && i < json_array_size(j); i++)
      if (json_array_append_new(o, normalize(json_array_get(j, i))) != 0) {
        json_decref(o);
        o = NULL;
      }
    return o;
  }
  if (!json_is_object(j))
    return json_incref((json_t *)j);
  t = json_object_get(j, "type");
  if (is_prim_name(t) && json_object_size(j) == 1)
    return json_string(json_string_value(t));
  ts = json_is_string(t) ? json_string_value(t) : "";
  o = json_object();
  json_object_foreach((json_t *)j, key, val) {
    json_t *nv;
    if (o == NULL)
      break;
    if ((strcmp(key, "type") == 0 && !json_is_string(val)) ||
        (strcmp(key, "items") == 0 && strcmp(ts, "array") == 0) ||
        (strcmp(key, "values") == 0 && strcmp(ts, "map") == 0)) {
      nv = normalize(val);
    } else if (strcmp(key, "fields") == 0 && json_is_array(val) &&
               (strcmp(ts, "record") == 0 || strcmp(ts, "error") == 0)) {
      nv = json_array();
      for (i = 0; nv != NULL && i < json_array_size(val); i++) {
        const json_t *f = json_array_get(val, i);
        json_t *nf = json_is_object(f) ? json_object() : json_incref((json_t *)f);
        const char *fk;
        json_t *fv;
        if (nf != NULL && json_is_object(f)) {
          json_object_foreach((json_t *)f, fk, fv) {
            json_t *x = strcmp(fk, "type") == 0 ? normalize(fv) : json_incref(fv);
            if (json_object_set_new(nf, fk, x) != 0) {
              json_decref(nf);
              nf = NULL;
              break;
            }
          }
        }
        if (json_array_append_new(nv, nf) != 0) {
          json_decref(nv);
          nv = NULL;
        }
      }
    } else {
      nv = json_incref(val);
    }
    if (json_object_set_new(o, key, nv) != 0) {
      json_decref(o);
      o = NULL;
    }
  }
  return o;
}

typedef struct dump_ctx {
  tarn_buf *out;
  tarn_error *err;
  int rc;
} dump_ctx;

static int dump_cb(const char *buffer, size_t size, void *data) {
  dump_ctx *d = data;
  d->rc = tarn_buf_append(d->out, buffer, size, d->err);
  return d->rc == 0 ? 0 : -1;
}

int tarn_avro_schema_to_json(const tarn_avro_schema *s, tarn_buf *out, tarn_error *err) {
  json_t *n = normalize(s->json);
  dump_ctx d = {out, err, 0};
  size_t start = out->len;
  if (n == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "avro schema: out of memory");
  if (json_dump_callback(n, dump_cb, &d, JSON_COMPACT | JSON_ENCODE_ANY) != 0) {
    json_decref(n);
    out->len = start;
    if (out->data != NULL)
      out->data[start] = '\0';
    return d.rc != 0 ? d.rc : tarn_error_set(err, TARN_ENOMEM, "avro schema: out of memory");
  }
  json_decref(n);
  return 0;
}
