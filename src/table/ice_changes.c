/* ice_changes.c - schema and property changes and snapshot removal (expiry), each one
 * apply function run through the commit engine. */
#include "table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/hash.h"
#include "base/log.h"
#include "base/uuid.h"
#include "catalog/catalog.h"
#include "ice_table_int.h"

/* ---- schema and property changes ---- */

typedef struct column_ctx {
  const char *name;
  const tarn_ice_type *type;
  const char *doc;
  int32_t field_id;
} column_ctx;

/* A copy of next's current schema as a new schema of next (id: the highest + 1), not yet
 * current: the change is made to *out. */
static int new_schema(tarn_ice_metadata *next, tarn_ice_schema **out, tarn_error *err) {
  const tarn_ice_schema *cur;
  tarn_ice_schema *schemas, *ns;
  int32_t max_schema = 0;
  size_t i;
  int rc;
  for (i = 0; i < next->nschemas; i++)
    if (next->schemas[i].schema_id > max_schema)
      max_schema = next->schemas[i].schema_id;
  schemas = tarn_reallocarray(next->schemas, next->nschemas + 1, sizeof(*schemas));
  if (schemas == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  next->schemas = schemas;
  cur = tarn_ice_metadata_schema(next, next->current_schema_id);
  if (cur == NULL)
    return tarn_error_set(err, TARN_ECORRUPT, "current schema missing");
  ns = &schemas[next->nschemas];
  rc = tarn_ice_schema_copy(ns, cur, err);
  if (rc != 0)
    return rc;
  next->nschemas++;
  ns->schema_id = max_schema + 1;
  *out = ns;
  return 0;
}

/* The struct type at a dotted path of fields (children named element, key, value step
 * into lists and maps); NULL when the path names no struct. */
static tarn_ice_type *find_struct(const tarn_ice_schema *s, const char *path, size_t n) {
  tarn_ice_field *fs = s->fields;
  size_t nf = s->nfields;
  tarn_ice_type *at = NULL;
  while (n > 0) {
    size_t seg = 0, i;
    while (seg < n && path[seg] != '.')
      seg++;
    at = NULL;
    for (i = 0; i < nf; i++)
      if (strlen(fs[i].name) == seg && strncmp(fs[i].name, path, seg) == 0) {
        at = &fs[i].type;
        break;
      }
    if (at == NULL || !tarn_ice_type_nested(at))
      return NULL;
    fs = at->children;
    nf = at->nchildren;
    path += seg < n ? seg + 1 : seg;
    n -= seg < n ? seg + 1 : seg;
  }
  return at != NULL && at->id == TARN_ICE_STRUCT ? at : NULL;
}

/* Appends a field to a struct of the new schema (the copy in next); fresh ids after
 * last-column-id. */
static int add_nested_field(tarn_table *t, tarn_ice_metadata *next, tarn_ice_type *cur_parent,
                            const char *leaf, column_ctx *c, tarn_error *err);

static int apply_add_column(tarn_table *t, const tarn_ice_metadata *base, tarn_ice_metadata *next,
                            int attempt, void *ctx, tarn_error *err) {
  column_ctx *c = ctx;
  const tarn_ice_schema *cur = tarn_ice_metadata_schema(next, next->current_schema_id);
  tarn_ice_schema *ns;
  tarn_ice_field *f;
  int rc;
  if (cur == NULL)
    return tarn_error_set(err, TARN_ECORRUPT, "current schema missing");
  if (tarn_ice_schema_field_by_name(cur, c->name) != NULL)
    return tarn_error_set(err, TARN_EEXIST, "table %s.%s already has a column \"%s\"", t->ns,
                          t->name, c->name);
  {
    /* "who.email": a field inside the struct column "who" ("pts.element.z" inside a list's
     * struct elements, "m.value.z" inside a map's struct values) */
    const char *dot = strrchr(c->name, '.');
    tarn_ice_type *parent;
    if (dot != NULL && dot > c->name && dot[1] != '\0' &&
        (parent = find_struct(cur, c->name, (size_t)(dot - c->name))) != NULL)
      return add_nested_field(t, next, parent, dot + 1, c, err);
  }
  if ((rc = new_schema(next, &ns, err)) != 0)
    return rc;
  f = tarn_reallocarray(ns->fields, ns->nfields + 1, sizeof(*f));
  if (f == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  ns->fields = f;
  f = &ns->fields[ns->nfields];
  memset(f, 0, sizeof(*f));
  f->id = next->last_column_id + 1;
  f->required = 0;
  f->name = tarn_strdup(c->name);
  f->doc = c->doc ? tarn_strdup(c->doc) : NULL;
  ns->nfields++;
  if (f->name == NULL || (c->doc != NULL && f->doc == NULL))
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  if ((rc = tarn_ice_type_copy(&f->type, c->type, err)) != 0)
    return rc;
  {
    /* a nested column's children get fresh ids after it, as Iceberg assigns them */
    int32_t id = f->id + 1;
    tarn__ice_type_assign_ids(&f->type, &id);
    next->last_column_id = id - 1;
  }
  next->current_schema_id = ns->schema_id;
  c->field_id = f->id;
  return 0;
}

static int add_nested_field(tarn_table *t, tarn_ice_metadata *next, tarn_ice_type *cur_parent,
                            const char *leaf, column_ctx *c, tarn_error *err) {
  tarn_ice_schema *ns;
  tarn_ice_type *parent;
  tarn_ice_field *f;
  int32_t id;
  size_t k;
  int rc;
  for (k = 0; k < cur_parent->nchildren; k++)
    if (strcmp(cur_parent->children[k].name, leaf) == 0)
      return tarn_error_set(err, TARN_EEXIST, "table %s.%s already has a column \"%s\"", t->ns,
                            t->name, c->name);
  if ((rc = new_schema(next, &ns, err)) != 0)
    return rc;
  /* the same struct in the copy */
  parent = find_struct(ns, c->name, (size_t)(leaf - 1 - c->name));
  if (parent == NULL)
    return tarn_error_set(err, TARN_EINTERNAL, "struct of \"%s\" lost in the copy", c->name);
  f = tarn_reallocarray(parent->children, parent->nchildren + 1, sizeof(*f));
  if (f == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  parent->children = f;
  f = &parent->children[parent->nchildren];
  memset(f, 0, sizeof(*f));
  f->id = next->last_column_id + 1;
  f->name = tarn_strdup(leaf);
  f->doc = c->doc ? tarn_strdup(c->doc) : NULL;
  parent->nchildren++;
  if (f->name == NULL || (c->doc != NULL && f->doc == NULL))
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  if ((rc = tarn_ice_type_copy(&f->type, c->type, err)) != 0)
    return rc;
  id = f->id + 1;
  tarn__ice_type_assign_ids(&f->type, &id);
  next->last_column_id = id - 1;
  next->current_schema_id = ns->schema_id;
  c->field_id = f->id;
  return 0;
}

int tarn_table_add_column(tarn_table *t, const char *name, const tarn_ice_type *type,
                          const char *doc, int32_t *field_id, tarn_error *err) {
  column_ctx c = {name, type, doc, 0};
  int rc;
  if (name == NULL || name[0] == '\0')
    return tarn_error_set(err, TARN_EINVAL, "a new column needs a name");
  rc = tarn__table_commit(t, apply_add_column, &c, NULL, err);
  if (rc == 0 && field_id != NULL)
    *field_id = c.field_id;
  return rc;
}

typedef struct props_ctx {
  const tarn_ice_kv *set;
  size_t n;
  tarn_table_commit_check check;
  void *check_arg;
} props_ctx;

int tarn_ice_metadata_set_properties(tarn_ice_metadata *m, const tarn_ice_kv *set, size_t n,
                                     tarn_error *err) {
  size_t i;
  for (i = 0; i < n; i++) {
    if (set[i].value == NULL) {
      tarn__table_kv_remove(m->properties, &m->nproperties, set[i].key);
    } else {
      int rc = tarn__table_kv_set(&m->properties, &m->nproperties, set[i].key, set[i].value, err);
      if (rc != 0)
        return rc;
    }
  }
  return 0;
}

int tarn__table_apply_props(tarn_table *t, const tarn_ice_metadata *base, tarn_ice_metadata *next,
                            int attempt, void *ctx, tarn_error *err) {
  props_ctx *c = ctx;
  int rc = c->check != NULL ? c->check(c->check_arg, base, next, err) : 0;
  return rc != 0 ? rc : tarn_ice_metadata_set_properties(next, c->set, c->n, err);
}

int tarn_table_set_properties(tarn_table *t, const tarn_ice_kv *set, size_t n, tarn_error *err) {
  return tarn_table_set_properties_checked(t, set, n, NULL, NULL, err);
}

int tarn_table_set_properties_checked(tarn_table *t, const tarn_ice_kv *set, size_t n,
                                      tarn_table_commit_check check, void *check_arg,
                                      tarn_error *err) {
  props_ctx c = {set, n, check, check_arg};
  int rc = tarn__table_commit(t, tarn__table_apply_props, &c, NULL, err);
  return rc == TARN_EALREADY ? 0 : rc;
}

/* ---- snapshot removal (expiry) ---- */

typedef struct drop_ctx {
  const int64_t *ids;
  size_t n;
} drop_ctx;

static int dropped(const drop_ctx *c, int64_t id) {
  size_t i;
  for (i = 0; i < c->n; i++)
    if (c->ids[i] == id)
      return 1;
  return 0;
}

static int apply_drop(tarn_table *t, const tarn_ice_metadata *base, tarn_ice_metadata *next,
                      int attempt, void *ctx, tarn_error *err) {
  drop_ctx *c = ctx;
  size_t i, k;
  if (dropped(c, next->current_snapshot_id))
    return tarn_error_set(err, TARN_EINVAL, "cannot expire the current snapshot");
  for (i = 0; i < next->nrefs; i++)
    if (dropped(c, next->refs[i].snapshot_id))
      return tarn_error_set(err, TARN_EINVAL, "snapshot %lld is referenced by %s",
                            (long long)next->refs[i].snapshot_id, next->refs[i].name);
  for (i = 0, k = 0; i < next->nsnapshots; i++) {
    if (dropped(c, next->snapshots[i].snapshot_id))
      tarn_ice_snapshot_free(&next->snapshots[i]);
    else
      next->snapshots[k++] = next->snapshots[i];
  }
  next->nsnapshots = k;
  for (i = 0, k = 0; i < next->nsnapshot_log; i++)
    if (!dropped(c, next->snapshot_log[i].snapshot_id))
      next->snapshot_log[k++] = next->snapshot_log[i];
  next->nsnapshot_log = k;
  /* a kept snapshot whose parent is gone keeps its parent id: the spec allows it */
  return 0;
}

int tarn__table_drop_snapshots(tarn_table *t, const int64_t *ids, size_t n, tarn_error *err) {
  drop_ctx c = {ids, n};
  return tarn__table_commit(t, apply_drop, &c, NULL, err);
}
