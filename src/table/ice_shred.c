/* ice_shred.c - nested values to and from Parquet's leaf columns (the Dremel record
 * shredding and assembly): JSON rows of a schema with structs, lists and maps become, for
 * each primitive leaf, repetition and definition levels and the values present; and back.
 *
 * The Parquet layout is the spec's standard one: a list is <optional|required> group
 * (LIST) { repeated group list { <optional|required> element } }, a map is group (MAP)
 * { repeated group key_value { required key; <optional|required> value } }. So, going down
 * from a field: an optional field adds one definition level when present; a list or map
 * adds one more when it holds at least one entry (its repeated group), and one repetition
 * level. A leaf entry says how deep the value is defined (def) and at which repeated level
 * a new entry starts (rep; 0 = a new row).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "table_int.h"

#define MAX_DEPTH 64

/* ---- the leaves of a schema ---- */

static int grow(void **p, size_t *cap, size_t need, size_t size, tarn_error *err) {
  size_t n = *cap ? *cap : 64;
  void *q;
  if (need <= *cap)
    return 0;
  while (n < need)
    n *= 2;
  q = tarn_realloc(*p, n * size);
  if (q == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory shredding rows");
  *p = q;
  *cap = n;
  return 0;
}

static int add_leaves(tarn__ice_shredder *sh, const tarn_ice_field *f, int16_t def, int16_t rep,
                      int depth, tarn_error *err) {
  size_t i;
  int rc;
  if (depth > MAX_DEPTH)
    return tarn_error_set(err, TARN_EINVAL, "schema nested deeper than %d levels", MAX_DEPTH);
  if (!f->required)
    def++;
  switch (f->type.id) {
  case TARN_ICE_STRUCT:
    if (f->type.nchildren == 0) /* Parquet has no empty groups */
      return tarn_error_set(err, TARN_EUNSUPPORTED, "struct \"%s\" has no fields", f->name);
    for (i = 0; i < f->type.nchildren; i++)
      if ((rc = add_leaves(sh, &f->type.children[i], def, rep, depth + 1, err)) != 0)
        return rc;
    return 0;
  case TARN_ICE_LIST:
  case TARN_ICE_MAP:
    /* the repeated group: defined when there is an entry; its entries repeat */
    for (i = 0; i < f->type.nchildren; i++)
      if ((rc = add_leaves(sh, &f->type.children[i], (int16_t)(def + 1), (int16_t)(rep + 1),
                           depth + 1, err)) != 0)
        return rc;
    return 0;
  default: {
    tarn__ice_leaf *l;
    if ((rc = grow((void **)&sh->leaves, &sh->cap, sh->nleaves + 1, sizeof(*sh->leaves), err)) != 0)
      return rc;
    l = &sh->leaves[sh->nleaves++];
    memset(l, 0, sizeof(*l));
    l->field = f;
    l->max_def = def;
    l->max_rep = rep;
    return 0;
  }
  }
}

int tarn__ice_shred_init(tarn__ice_shredder *sh, const tarn_ice_schema *s, tarn_error *err) {
  size_t i;
  int rc = 0;
  memset(sh, 0, sizeof(*sh));
  sh->schema = s;
  for (i = 0; rc == 0 && i < s->nfields; i++)
    rc = add_leaves(sh, &s->fields[i], 0, 0, 0, err);
  if (rc != 0)
    tarn__ice_shred_free(sh);
  return rc;
}

void tarn__ice_shred_reset(tarn__ice_shredder *sh) {
  size_t i;
  for (i = 0; i < sh->nleaves; i++)
    sh->leaves[i].n = sh->leaves[i].nvals = 0;
  sh->rows = 0;
}

void tarn__ice_shred_free(tarn__ice_shredder *sh) {
  size_t i;
  for (i = 0; sh->leaves != NULL && i < sh->nleaves; i++) {
    tarn_free(sh->leaves[i].def);
    tarn_free(sh->leaves[i].rep);
    tarn_free(sh->leaves[i].vals);
  }
  tarn_free(sh->leaves);
  json_decref(sh->keys);
  memset(sh, 0, sizeof(*sh));
}

/* ---- shredding ---- */

static int emit(tarn__ice_leaf *l, int16_t rep, int16_t def, const json_t *v, tarn_error *err) {
  int rc = grow((void **)&l->def, &l->cap, l->n + 1, sizeof(*l->def), err);
  size_t cap = l->cap;
  if (rc == 0 && l->rep_cap < cap) { /* rep grows with def */
    int16_t *r = tarn_realloc(l->rep, cap * sizeof(*r));
    if (r == NULL)
      return tarn_error_set(err, TARN_ENOMEM, "out of memory shredding rows");
    l->rep = r;
    l->rep_cap = cap;
  }
  if (rc != 0)
    return rc;
  l->def[l->n] = def;
  l->rep[l->n] = rep;
  l->n++;
  if (v != NULL) {
    if ((rc = grow((void **)&l->vals, &l->vcap, l->nvals + 1, sizeof(*l->vals), err)) != 0)
      return rc;
    l->vals[l->nvals++] = v;
  }
  return 0;
}

/* How many leaves a field has (the leaves under it are consecutive). */
static size_t leaf_count(const tarn_ice_field *f) {
  size_t i, n = 0;
  if (!tarn_ice_type_nested(&f->type))
    return 1;
  for (i = 0; i < f->type.nchildren; i++)
    n += leaf_count(&f->type.children[i]);
  return n;
}

/* An absent value at this field: every leaf under it gets one entry at (rep, def). */
static int emit_absent(tarn__ice_shredder *sh, size_t first, const tarn_ice_field *f, int16_t rep,
                       int16_t def, tarn_error *err) {
  size_t i, n = leaf_count(f);
  int rc = 0;
  for (i = 0; rc == 0 && i < n; i++)
    rc = emit(&sh->leaves[first + i], rep, def, NULL, err);
  return rc;
}

static int shred_field(tarn__ice_shredder *sh, size_t first, const tarn_ice_field *f,
                       const json_t *v, int16_t rep, int16_t def, int16_t rep_here,
                       const char *path, tarn_error *err);

static int shred_entries(tarn__ice_shredder *sh, size_t first, const tarn_ice_field *f,
                         const json_t *v, int16_t rep, int16_t def, int16_t rep_here,
                         const char *path, tarn_error *err) {
  /* def counts this field's own level already; the repeated group adds one, its entries
   * repeat at rep_here + 1 */
  int16_t inner = (int16_t)(rep_here + 1);
  size_t i, n, k = 0;
  int rc = 0;
  if (f->type.id == TARN_ICE_LIST) {
    if (!json_is_array(v))
      return tarn_error_set(err, TARN_EINVAL, "%s: a list is a JSON array", path);
    n = json_array_size(v);
    if (n == 0)
      return emit_absent(sh, first, &f->type.children[0], rep, def, err);
    for (i = 0; rc == 0 && i < n; i++)
      rc = shred_field(sh, first, &f->type.children[0], json_array_get(v, i), i == 0 ? rep : inner,
                       (int16_t)(def + 1), inner, path, err);
    return rc;
  }
  /* a map: a JSON object (string keys) */
  if (!json_is_object(v))
    return tarn_error_set(err, TARN_EINVAL, "%s: a map is a JSON object", path);
  n = json_object_size(v);
  if (n == 0)
    return emit_absent(sh, first, f, rep, def, err);
  {
    const char *key;
    const json_t *val;
    size_t kl = leaf_count(&f->type.children[0]);
    json_object_foreach((json_t *)v, key, val) {
      const json_t *jk = json_object_get(sh->keys, key);
      int16_t r = k == 0 ? rep : inner;
      if (jk == NULL) { /* the key as a JSON string, kept with the shredder */
        json_t *s = json_string(key);
        if (s == NULL || json_object_set_new(sh->keys, key, s) != 0)
          return tarn_error_set(err, TARN_ENOMEM, "out of memory shredding rows");
        jk = s;
      }
      rc = emit(&sh->leaves[first], r, (int16_t)(def + 1), jk, err);
      if (rc == 0)
        rc = shred_field(sh, first + kl, &f->type.children[1], val, r, (int16_t)(def + 1), inner,
                         path, err);
      if (rc != 0)
        return rc;
      k++;
    }
  }
  return 0;
}

static int shred_field(tarn__ice_shredder *sh, size_t first, const tarn_ice_field *f,
                       const json_t *v, int16_t rep, int16_t def, int16_t rep_here,
                       const char *path, tarn_error *err) {
  size_t i, off;
  int rc;
  if (v == NULL || json_is_null(v)) {
    if (f->required)
      return tarn_error_set(err, TARN_EINVAL, "%s: \"%s\" is required but null", path, f->name);
    return emit_absent(sh, first, f, rep, def, err);
  }
  if (!f->required)
    def++;
  switch (f->type.id) {
  case TARN_ICE_STRUCT:
    if (!json_is_object(v))
      return tarn_error_set(err, TARN_EINVAL, "%s: \"%s\" is a struct: a JSON object", path,
                            f->name);
    for (i = 0, off = first; i < f->type.nchildren; i++) {
      const tarn_ice_field *c = &f->type.children[i];
      if ((rc = shred_field(sh, off, c, json_object_get(v, c->name), rep, def, rep_here, path,
                            err)) != 0)
        return rc;
      off += leaf_count(c);
    }
    return 0;
  case TARN_ICE_LIST:
  case TARN_ICE_MAP: return shred_entries(sh, first, f, v, rep, def, rep_here, path, err);
  default: return emit(&sh->leaves[first], rep, def, v, err);
  }
}

int tarn__ice_shred_row(tarn__ice_shredder *sh, const json_t *row, tarn_error *err) {
  const tarn_ice_schema *s = sh->schema;
  size_t i, off = 0;
  char path[32];
  int rc;
  if (!json_is_object(row))
    return tarn_error_set(err, TARN_EINVAL, "row %zu: not a JSON object", sh->rows + 1);
  if (sh->keys == NULL && (sh->keys = json_object()) == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory shredding rows");
  snprintf(path, sizeof(path), "row %zu", sh->rows + 1);
  for (i = 0; i < s->nfields; i++) {
    const tarn_ice_field *f = &s->fields[i];
    if ((rc = shred_field(sh, off, f, json_object_get(row, f->name), 0, 0, 0, path, err)) != 0)
      return rc;
    off += leaf_count(f);
  }
  sh->rows++;
  return 0;
}

/* ---- assembly ---- */

typedef struct cursor {
  const tarn__ice_shredder *sh;
  size_t *at;  /* per leaf: next entry */
  size_t *vat; /* per leaf: next value */
} cursor;

/* Consumes one entry of every leaf under f. */
static void skip(cursor *c, size_t first, const tarn_ice_field *f) {
  size_t i, n = leaf_count(f);
  for (i = 0; i < n; i++)
    c->at[first + i]++;
}

static int at_end(const cursor *c, size_t leaf) { return c->at[leaf] >= c->sh->leaves[leaf].n; }

static int assemble_field(cursor *c, size_t first, const tarn_ice_field *f, int16_t def,
                          int16_t rep_here, json_t **out, tarn_error *err);

static int assemble_entries(cursor *c, size_t first, const tarn_ice_field *f, int16_t def,
                            int16_t rep_here, json_t **out, tarn_error *err) {
  const tarn__ice_leaf *l = &c->sh->leaves[first];
  int16_t inner = (int16_t)(rep_here + 1);
  json_t *acc = f->type.id == TARN_ICE_LIST ? json_array() : json_object();
  int rc = 0;
  if (acc == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory assembling rows");
  if (l->def[c->at[first]] < def + 1) { /* empty */
    skip(c, first, f);
    *out = acc;
    return 0;
  }
  do {
    json_t *v = NULL;
    if (f->type.id == TARN_ICE_LIST) {
      rc = assemble_field(c, first, &f->type.children[0], (int16_t)(def + 1), inner, &v, err);
      if (rc == 0 && json_array_append_new(acc, v) != 0)
        rc = tarn_error_set(err, TARN_ENOMEM, "out of memory assembling rows");
    } else {
      size_t kl = leaf_count(&f->type.children[0]);
      const tarn__ice_leaf *kleaf = &c->sh->leaves[first];
      const json_t *key;
      if (kleaf->def[c->at[first]] != kleaf->max_def || c->vat[first] >= kleaf->nvals) {
        rc = tarn_error_set(err, TARN_ECORRUPT, "a map entry without a key");
        break;
      }
      key = kleaf->vals[c->vat[first]++];
      c->at[first]++;
      rc = assemble_field(c, first + kl, &f->type.children[1], (int16_t)(def + 1), inner, &v, err);
      if (rc == 0 && json_object_set_new(acc, json_string_value(key), v) != 0)
        rc = tarn_error_set(err, TARN_ENOMEM, "out of memory assembling rows");
    }
  } while (rc == 0 && !at_end(c, first) && l->rep[c->at[first]] == inner);
  if (rc != 0) {
    json_decref(acc);
    return rc;
  }
  *out = acc;
  return 0;
}

static int assemble_field(cursor *c, size_t first, const tarn_ice_field *f, int16_t def,
                          int16_t rep_here, json_t **out, tarn_error *err) {
  const tarn__ice_leaf *l = &c->sh->leaves[first];
  size_t i, off;
  int rc;
  if (at_end(c, first))
    return tarn_error_set(err, TARN_ECORRUPT, "the levels of \"%s\" end early", f->name);
  if (!f->required) {
    if (l->def[c->at[first]] < def + 1) { /* null here */
      skip(c, first, f);
      *out = json_null();
      return 0;
    }
    def++;
  }
  switch (f->type.id) {
  case TARN_ICE_STRUCT: {
    json_t *o = json_object();
    if (o == NULL)
      return tarn_error_set(err, TARN_ENOMEM, "out of memory assembling rows");
    for (i = 0, off = first; i < f->type.nchildren; i++) {
      json_t *v = NULL;
      const tarn_ice_field *ch = &f->type.children[i];
      if ((rc = assemble_field(c, off, ch, def, rep_here, &v, err)) != 0 ||
          json_object_set_new(o, ch->name, v) != 0) {
        json_decref(o);
        return rc ? rc : tarn_error_set(err, TARN_ENOMEM, "out of memory assembling rows");
      }
      off += leaf_count(ch);
    }
    *out = o;
    return 0;
  }
  case TARN_ICE_LIST:
  case TARN_ICE_MAP: return assemble_entries(c, first, f, def, rep_here, out, err);
  default:
    if (l->def[c->at[first]] != l->max_def || c->vat[first] >= l->nvals)
      return tarn_error_set(err, TARN_ECORRUPT, "the levels of \"%s\" disagree with its values",
                            f->name);
    *out = json_incref((json_t *)l->vals[c->vat[first]++]);
    c->at[first]++;
    return 0;
  }
}

int tarn__ice_assemble_rows(const tarn__ice_shredder *sh, json_t **rows, tarn_error *err) {
  cursor c;
  size_t r, i, off;
  int rc = 0;
  c.sh = sh;
  c.at = tarn_calloc(sh->nleaves ? sh->nleaves : 1, sizeof(*c.at));
  c.vat = tarn_calloc(sh->nleaves ? sh->nleaves : 1, sizeof(*c.vat));
  if (c.at == NULL || c.vat == NULL) {
    tarn_free(c.at);
    tarn_free(c.vat);
    return tarn_error_set(err, TARN_ENOMEM, "out of memory assembling rows");
  }
  for (r = 0; rc == 0 && r < sh->rows; r++) {
    json_t *row = json_object();
    if (row == NULL)
      rc = tarn_error_set(err, TARN_ENOMEM, "out of memory assembling rows");
    for (i = 0, off = 0; rc == 0 && i < sh->schema->nfields; i++) {
      const tarn_ice_field *f = &sh->schema->fields[i];
      json_t *v = NULL;
      if (!at_end(&c, off) && sh->leaves[off].rep[c.at[off]] != 0)
        rc = tarn_error_set(err, TARN_ECORRUPT, "row %zu does not start at repetition level 0",
                            r + 1);
      if (rc == 0)
        rc = assemble_field(&c, off, f, 0, 0, &v, err);
      if (rc == 0 && json_object_set_new(row, f->name, v) != 0)
        rc = tarn_error_set(err, TARN_ENOMEM, "out of memory assembling rows");
      off += leaf_count(f);
    }
    if (rc == 0)
      rows[r] = row;
    else
      json_decref(row);
  }
  for (i = 0; rc == 0 && i < sh->nleaves; i++)
    if (c.at[i] != sh->leaves[i].n || c.vat[i] != sh->leaves[i].nvals)
      rc = tarn_error_set(err, TARN_ECORRUPT, "leaf %zu holds entries past the last row", i);
  if (rc != 0)
    while (r-- > 0)
      json_decref(rows[r]);
  tarn_free(c.at);
  tarn_free(c.vat);
  return rc;
}
