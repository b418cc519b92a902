/* ice_metadata.c - Iceberg table metadata JSON: parse, write, free and lookups. */
#include "table.h"

#include <errno.h>
#include <string.h>

#include "base/alloc.h"

#define METADATA_MAX_BYTES (64u << 20)

/* Top-level fields tarn models; anything else is kept in m->extra. */
static const char *const known_fields[] = {"format-version",
                                           "table-uuid",
                                           "location",
                                           "last-sequence-number",
                                           "last-updated-ms",
                                           "last-column-id",
                                           "schemas",
                                           "current-schema-id",
                                           "schema",
                                           "partition-specs",
                                           "default-spec-id",
                                           "partition-spec",
                                           "last-partition-id",
                                           "sort-orders",
                                           "default-sort-order-id",
                                           "properties",
                                           "current-snapshot-id",
                                           "snapshots",
                                           "snapshot-log",
                                           "metadata-log",
                                           "refs",
                                           NULL};

static int is_known(const char *key) {
  size_t i;
  for (i = 0; known_fields[i] != NULL; i++)
    if (strcmp(known_fields[i], key) == 0)
      return 1;
  return 0;
}

void tarn_ice_spec_free(tarn_ice_spec *s) {
  size_t i;
  for (i = 0; i < s->nfields; i++)
    tarn_free(s->fields[i].name);
  tarn_free(s->fields);
  s->fields = NULL;
  s->nfields = 0;
}

void tarn_ice_sort_order_free(tarn_ice_sort_order *o) {
  tarn_free(o->fields);
  o->fields = NULL;
  o->nfields = 0;
}

static void kv_free(tarn_ice_kv *kv, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    tarn_free(kv[i].key);
    tarn_free(kv[i].value);
  }
  tarn_free(kv);
}

void tarn_ice_snapshot_free(tarn_ice_snapshot *s) {
  tarn_free(s->manifest_list);
  tarn_free(s->operation);
  kv_free(s->summary, s->nsummary);
  s->manifest_list = NULL;
  s->operation = NULL;
  s->summary = NULL;
  s->nsummary = 0;
}

void tarn_ice_metadata_free(tarn_ice_metadata *m) {
  size_t i;
  if (m == NULL)
    return;
  tarn_free(m->location);
  for (i = 0; i < m->nschemas; i++)
    tarn_ice_schema_free(&m->schemas[i]);
  tarn_free(m->schemas);
  for (i = 0; i < m->nspecs; i++)
    tarn_ice_spec_free(&m->specs[i]);
  tarn_free(m->specs);
  for (i = 0; i < m->nsort_orders; i++)
    tarn_ice_sort_order_free(&m->sort_orders[i]);
  tarn_free(m->sort_orders);
  kv_free(m->properties, m->nproperties);
  for (i = 0; i < m->nsnapshots; i++)
    tarn_ice_snapshot_free(&m->snapshots[i]);
  tarn_free(m->snapshots);
  tarn_free(m->snapshot_log);
  for (i = 0; i < m->nmetadata_log; i++)
    tarn_free(m->metadata_log[i].metadata_file);
  tarn_free(m->metadata_log);
  for (i = 0; i < m->nrefs; i++)
    tarn_free(m->refs[i].name);
  tarn_free(m->refs);
  json_decref(m->extra);
  memset(m, 0, sizeof(*m));
}

/* ---- deep copy ---- */

/* A copy of s, or NULL for NULL; sets *bad when out of memory. */
static char *dup_str(const char *s, int *bad) {
  char *d;
  if (s == NULL)
    return NULL;
  d = tarn_strdup(s);
  if (d == NULL)
    *bad = 1;
  return d;
}

static int kv_copy(tarn_ice_kv **dst, size_t *ndst, const tarn_ice_kv *src, size_t n) {
  size_t i;
  int bad = 0;
  *dst = NULL;
  *ndst = 0;
  if (n == 0)
    return 0;
  if ((*dst = tarn_calloc(n, sizeof(**dst))) == NULL)
    return -1;
  for (i = 0; i < n && !bad; i++) {
    (*dst)[i].key = dup_str(src[i].key, &bad);
    (*dst)[i].value = dup_str(src[i].value, &bad);
    *ndst = i + 1;
  }
  return bad ? -1 : 0;
}

/* n elements of `size` bytes, or NULL when n is 0; -1 when out of memory. */
static int array_dup(void **dst, const void *src, size_t n, size_t size) {
  *dst = NULL;
  if (n == 0)
    return 0;
  if ((*dst = tarn_calloc(n, size)) == NULL)
    return -1;
  memcpy(*dst, src, n * size);
  return 0;
}

int tarn_ice_metadata_copy(tarn_ice_metadata *dst, const tarn_ice_metadata *src, tarn_error *err) {
  size_t i;
  int bad = 0;
  memset(dst, 0, sizeof(*dst));
  dst->format_version = src->format_version;
  memcpy(dst->table_uuid, src->table_uuid, sizeof(dst->table_uuid));
  dst->location = dup_str(src->location, &bad);
  dst->last_sequence_number = src->last_sequence_number;
  dst->last_updated_ms = src->last_updated_ms;
  dst->last_column_id = src->last_column_id;
  dst->current_schema_id = src->current_schema_id;
  dst->default_spec_id = src->default_spec_id;
  dst->last_partition_id = src->last_partition_id;
  dst->default_sort_order_id = src->default_sort_order_id;
  dst->current_snapshot_id = src->current_snapshot_id;
  /* arrays: each count grows with the elements copied, so a failure frees exactly those */
  if (!bad && src->nschemas > 0 &&
      (dst->schemas = tarn_calloc(src->nschemas, sizeof(*dst->schemas))) == NULL)
    bad = 1;
  for (i = 0; !bad && i < src->nschemas; i++) {
    if (tarn_ice_schema_copy(&dst->schemas[i], &src->schemas[i], NULL) != 0)
      bad = 1;
    else
      dst->nschemas = i + 1;
  }
  if (!bad && src->nspecs > 0 &&
      (dst->specs = tarn_calloc(src->nspecs, sizeof(*dst->specs))) == NULL)
    bad = 1;
  for (i = 0; !bad && i < src->nspecs; i++) {
    const tarn_ice_spec *ss = &src->specs[i];
    tarn_ice_spec *ds = &dst->specs[i];
    size_t k;
    dst->nspecs = i + 1;
    ds->spec_id = ss->spec_id;
    if (array_dup((void **)&ds->fields, ss->fields, ss->nfields, sizeof(*ss->fields)) != 0) {
      bad = 1;
      break;
    }
    for (k = 0; k < ss->nfields; k++) /* names are the spec's own: no two share one */
      ds->fields[k].name = NULL;
    ds->nfields = ss->nfields;
    for (k = 0; k < ss->nfields && !bad; k++)
      ds->fields[k].name = dup_str(ss->fields[k].name, &bad);
  }
  if (!bad && src->nsort_orders > 0 &&
      (dst->sort_orders = tarn_calloc(src->nsort_orders, sizeof(*dst->sort_orders))) == NULL)
    bad = 1;
  for (i = 0; !bad && i < src->nsort_orders; i++) {
    const tarn_ice_sort_order *so = &src->sort_orders[i];
    tarn_ice_sort_order *d = &dst->sort_orders[i];
    dst->nsort_orders = i + 1;
    d->order_id = so->order_id;
    if (array_dup((void **)&d->fields, so->fields, so->nfields, sizeof(*so->fields)) != 0)
      bad = 1;
    else
      d->nfields = so->nfields;
  }
  if (!bad && kv_copy(&dst->properties, &dst->nproperties, src->properties, src->nproperties))
    bad = 1;
  if (!bad && src->nsnapshots > 0 &&
      (dst->snapshots = tarn_calloc(src->nsnapshots, sizeof(*dst->snapshots))) == NULL)
    bad = 1;
  for (i = 0; !bad && i < src->nsnapshots; i++) {
    const tarn_ice_snapshot *ss = &src->snapshots[i];
    tarn_ice_snapshot *d = &dst->snapshots[i];
    dst->nsnapshots = i + 1;
    d->snapshot_id = ss->snapshot_id;
    d->parent_id = ss->parent_id;
    d->sequence_number = ss->sequence_number;
    d->timestamp_ms = ss->timestamp_ms;
    d->schema_id = ss->schema_id;
    d->manifest_list = dup_str(ss->manifest_list, &bad);
    d->operation = dup_str(ss->operation, &bad);
    if (!bad && kv_copy(&d->summary, &d->nsummary, ss->summary, ss->nsummary) != 0)
      bad = 1;
  }
  if (!bad && array_dup((void **)&dst->snapshot_log, src->snapshot_log, src->nsnapshot_log,
                        sizeof(*src->snapshot_log)) != 0)
    bad = 1;
  if (!bad)
    dst->nsnapshot_log = src->nsnapshot_log;
  if (!bad && src->nmetadata_log > 0 &&
      (dst->metadata_log = tarn_calloc(src->nmetadata_log, sizeof(*dst->metadata_log))) == NULL)
    bad = 1;
  for (i = 0; !bad && i < src->nmetadata_log; i++) {
    dst->nmetadata_log = i + 1;
    dst->metadata_log[i].timestamp_ms = src->metadata_log[i].timestamp_ms;
    dst->metadata_log[i].metadata_file = dup_str(src->metadata_log[i].metadata_file, &bad);
  }
  if (!bad && src->nrefs > 0 && (dst->refs = tarn_calloc(src->nrefs, sizeof(*dst->refs))) == NULL)
    bad = 1;
  for (i = 0; !bad && i < src->nrefs; i++) {
    dst->nrefs = i + 1;
    dst->refs[i] = src->refs[i];
    dst->refs[i].name = dup_str(src->refs[i].name, &bad);
  }
  if (!bad && src->extra != NULL && (dst->extra = json_deep_copy(src->extra)) == NULL)
    bad = 1;
  if (bad) {
    tarn_ice_metadata_free(dst);
    return tarn_error_set(err, TARN_ENOMEM, "out of memory copying table metadata");
  }
  return 0;
}

/* ---- parsing ---- */

typedef struct parse_ctx {
  tarn_error *err;
  int rc;
} parse_ctx;

static int fail(parse_ctx *c, int code, const char *field) {
  if (c->rc == 0)
    c->rc = tarn_error_set(c->err, code,
                           code == TARN_ENOMEM ? "out of memory reading table metadata (%s)"
                                               : "table metadata: field \"%s\" is missing or has "
                                                 "the wrong type",
                           field);
  return c->rc;
}

static int64_t get_int(parse_ctx *c, const json_t *o, const char *key, int required, int64_t def) {
  const json_t *v = json_object_get(o, key);
  if (json_is_integer(v))
    return (int64_t)json_integer_value(v);
  if (required || (v != NULL && !json_is_null(v)))
    fail(c, TARN_ECORRUPT, key);
  return def;
}

static char *get_str(parse_ctx *c, const json_t *o, const char *key, int required) {
  const json_t *v = json_object_get(o, key);
  char *s;
  if (!json_is_string(v)) {
    if (required || (v != NULL && !json_is_null(v)))
      fail(c, TARN_ECORRUPT, key);
    return NULL;
  }
  s = tarn_strdup(json_string_value(v));
  if (s == NULL)
    fail(c, TARN_ENOMEM, key);
  return s;
}

static const json_t *get_array(parse_ctx *c, const json_t *o, const char *key, int required) {
  const json_t *v = json_object_get(o, key);
  if (json_is_array(v))
    return v;
  if (required || (v != NULL && !json_is_null(v)))
    fail(c, TARN_ECORRUPT, key);
  return NULL;
}

/* Allocates an array of n elements (at least one). */
static void *alloc_n(parse_ctx *c, size_t n, size_t size, const char *what) {
  void *p = tarn_calloc(n ? n : 1, size);
  if (p == NULL)
    fail(c, TARN_ENOMEM, what);
  return p;
}

static void parse_kv_object(parse_ctx *c, const json_t *o, const char *what, tarn_ice_kv **out,
                            size_t *n) {
  const char *key;
  json_t *val;
  size_t i = 0;
  *out = NULL;
  *n = 0;
  if (o == NULL || json_is_null(o))
    return;
  if (!json_is_object(o)) {
    fail(c, TARN_ECORRUPT, what);
    return;
  }
  *out = alloc_n(c, json_object_size(o), sizeof(**out), what);
  if (*out == NULL)
    return;
  json_object_foreach((json_t *)o, key, val) {
    if (!json_is_string(val)) {
      fail(c, TARN_ECORRUPT, what);
      return;
    }
    (*out)[i].key = tarn_strdup(key);
    (*out)[i].value = tarn_strdup(json_string_value(val));
    *n = ++i;
    if ((*out)[i - 1].key == NULL || (*out)[i - 1].value == NULL) {
      fail(c, TARN_ENOMEM, what);
      return;
    }
  }
}

static void parse_transform(parse_ctx *c, const json_t *o, tarn_ice_transform *t) {
  const json_t *v = json_object_get(o, "transform");
  if (!json_is_string(v)) {
    fail(c, TARN_ECORRUPT, "transform");
    return;
  }
  if (tarn_ice_transform_parse(json_string_value(v), t, c->err) != 0 && c->rc == 0)
    c->rc = TARN_ECORRUPT;
}

static void parse_spec(parse_ctx *c, const json_t *j, tarn_ice_spec *s) {
  const json_t *fields = json_is_array(j) ? j : get_array(c, j, "fields", 1);
  size_t i;
  s->spec_id = json_is_array(j) ? 0 : (int32_t)get_int(c, j, "spec-id", 1, 0);
  if (fields == NULL)
    return;
  s->fields = alloc_n(c, json_array_size(fields), sizeof(*s->fields), "partition-specs");
  if (s->fields == NULL)
    return;
  for (i = 0; i < json_array_size(fields) && c->rc == 0; i++) {
    const json_t *f = json_array_get(fields, i);
    tarn_ice_partition_field *pf = &s->fields[i];
    s->nfields = i + 1;
    pf->source_id = (int32_t)get_int(c, f, "source-id", 1, 0);
    pf->field_id = (int32_t)get_int(c, f, "field-id", 0, 1000 + (int64_t)i);
    pf->name = get_str(c, f, "name", 1);
    parse_transform(c, f, &pf->transform);
  }
}

static void parse_sort_order(parse_ctx *c, const json_t *j, tarn_ice_sort_order *o) {
  const json_t *fields = get_array(c, j, "fields", 1);
  size_t i;
  o->order_id = (int32_t)get_int(c, j, "order-id", 1, 0);
  if (fields == NULL)
    return;
  o->fields = alloc_n(c, json_array_size(fields), sizeof(*o->fields), "sort-orders");
  if (o->fields == NULL)
    return;
  for (i = 0; i < json_array_size(fields) && c->rc == 0; i++) {
    const json_t *f = json_array_get(fields, i);
    const json_t *dir = json_object_get(f, "direction"), *nulls = json_object_get(f, "null-order");
    tarn_ice_sort_field *sf = &o->fields[i];
    o->nfields = i + 1;
    sf->source_id = (int32_t)get_int(c, f, "source-id", 1, 0);
    parse_transform(c, f, &sf->transform);
    sf->descending = json_is_string(dir) && strcmp(json_string_value(dir), "desc") == 0;
    sf->nulls_first = json_is_string(nulls) && strcmp(json_string_value(nulls), "nulls-first") == 0;
  }
}

static void parse_snapshot(parse_ctx *c, const json_t *j, tarn_ice_snapshot *s) {
  const json_t *summary = json_object_get(j, "summary");
  const char *key;
  json_t *val;
  size_t i = 0;
  s->snapshot_id = get_int(c, j, "snapshot-id", 1, 0);
  s->parent_id = get_int(c, j, "parent-snapshot-id", 0, -1);
  s->sequence_number = get_int(c, j, "sequence-number", 0, 0);
  s->timestamp_ms = get_int(c, j, "timestamp-ms", 1, 0);
  s->schema_id = (int32_t)get_int(c, j, "schema-id", 0, -1);
  s->manifest_list = get_str(c, j, "manifest-list", 1);
  if (!json_is_object(summary)) {
    fail(c, TARN_ECORRUPT, "summary");
    return;
  }
  s->operation = get_str(c, summary, "operation", 1);
  s->summary = alloc_n(c, json_object_size(summary), sizeof(*s->summary), "summary");
  if (s->summary == NULL)
    return;
  json_object_foreach((json_t *)summary, key, val) {
    if (strcmp(key, "operation") == 0)
      continue;
    if (!json_is_string(val)) {
      fail(c, TARN_ECORRUPT, "summary");
      return;
    }
    s->summary[i].key = tarn_strdup(key);
    s->summary[i].value = tarn_strdup(json_string_value(val));
    s->nsummary = ++i;
    if (s->summary[i - 1].key == NULL || s->summary[i - 1].value == NULL) {
      fail(c, TARN_ENOMEM, "summary");
      return;
    }
  }
}

/* The schemas: "schemas" and "current-schema-id", or v1's single "schema". */
static void parse_schemas(parse_ctx *c, const json_t *root, tarn_ice_metadata *m) {
  const json_t *arr = get_array(c, root, "schemas", m->format_version >= 2);
  size_t i;
  if (arr != NULL) {
    m->schemas = alloc_n(c, json_array_size(arr), sizeof(*m->schemas), "schemas");
    for (i = 0; m->schemas != NULL && i < json_array_size(arr) && c->rc == 0; i++) {
      c->rc = tarn_ice_schema_from_json(json_array_get(arr, i), &m->schemas[i], c->err);
      if (c->rc == 0)
        m->nschemas = i + 1;
    }
    m->current_schema_id = (int32_t)get_int(c, root, "current-schema-id", 1, 0);
  } else if (c->rc == 0 && json_object_get(root, "schema") != NULL) { /* v1 */
    m->schemas = alloc_n(c, 1, sizeof(*m->schemas), "schema");
    if (m->schemas != NULL) {
      c->rc = tarn_ice_schema_from_json(json_object_get(root, "schema"), &m->schemas[0], c->err);
      m->nschemas = c->rc == 0;
      m->current_schema_id = m->schemas[0].schema_id;
    }
  } else {
    fail(c, TARN_ECORRUPT, "schemas");
  }
}

/* Partition specs (or v1's "partition-spec"), sort orders, properties. */
static void parse_layout(parse_ctx *c, const json_t *root, tarn_ice_metadata *m) {
  const json_t *arr = get_array(c, root, "partition-specs", m->format_version >= 2);
  size_t i;
  if (arr != NULL) {
    m->specs = alloc_n(c, json_array_size(arr), sizeof(*m->specs), "partition-specs");
    for (i = 0; m->specs != NULL && i < json_array_size(arr) && c->rc == 0; i++) {
      m->nspecs = i + 1;
      parse_spec(c, json_array_get(arr, i), &m->specs[i]);
    }
    m->default_spec_id = (int32_t)get_int(c, root, "default-spec-id", 1, 0);
  } else if (c->rc == 0 && json_is_array(json_object_get(root, "partition-spec"))) { /* v1 */
    m->specs = alloc_n(c, 1, sizeof(*m->specs), "partition-spec");
    if (m->specs != NULL) {
      m->nspecs = 1;
      parse_spec(c, json_object_get(root, "partition-spec"), &m->specs[0]);
    }
  }
  m->last_partition_id =
      (int32_t)get_int(c, root, "last-partition-id", m->format_version >= 2, 999);
  arr = get_array(c, root, "sort-orders", m->format_version >= 2);
  if (arr != NULL) {
    m->sort_orders = alloc_n(c, json_array_size(arr), sizeof(*m->sort_orders), "sort-orders");
    for (i = 0; m->sort_orders != NULL && i < json_array_size(arr) && c->rc == 0; i++) {
      m->nsort_orders = i + 1;
      parse_sort_order(c, json_array_get(arr, i), &m->sort_orders[i]);
    }
  }
  m->default_sort_order_id =
      (int32_t)get_int(c, root, "default-sort-order-id", m->format_version >= 2, 0);
  parse_kv_object(c, json_object_get(root, "properties"), "properties", &m->properties,
                  &m->nproperties);
}

/* Snapshots, the snapshot log and the metadata log. */
static void parse_history(parse_ctx *c, const json_t *root, tarn_ice_metadata *m) {
  const json_t *arr = get_array(c, root, "snapshots", 0);
  size_t i;
  if (arr != NULL) {
    m->snapshots = alloc_n(c, json_array_size(arr), sizeof(*m->snapshots), "snapshots");
    for (i = 0; m->snapshots != NULL && i < json_array_size(arr) && c->rc == 0; i++) {
      m->nsnapshots = i + 1;
      parse_snapshot(c, json_array_get(arr, i), &m->snapshots[i]);
    }
  }
  arr = get_array(c, root, "snapshot-log", 0);
  if (arr != NULL) {
    m->snapshot_log = alloc_n(c, json_array_size(arr), sizeof(*m->snapshot_log), "snapshot-log");
    for (i = 0; m->snapshot_log != NULL && i < json_array_size(arr) && c->rc == 0; i++) {
      const json_t *e = json_array_get(arr, i);
      m->snapshot_log[i].snapshot_id = get_int(c, e, "snapshot-id", 1, 0);
      m->snapshot_log[i].timestamp_ms = get_int(c, e, "timestamp-ms", 1, 0);
      m->nsnapshot_log = i + 1;
    }
  }
  arr = get_array(c, root, "metadata-log", 0);
  if (arr != NULL) {
    m->metadata_log = alloc_n(c, json_array_size(arr), sizeof(*m->metadata_log), "metadata-log");
    for (i = 0; m->metadata_log != NULL && i < json_array_size(arr) && c->rc == 0; i++) {
      const json_t *e = json_array_get(arr, i);
      m->nmetadata_log = i + 1;
      m->metadata_log[i].metadata_file = get_str(c, e, "metadata-file", 1);
      m->metadata_log[i].timestamp_ms = get_int(c, e, "timestamp-ms", 1, 0);
    }
  }
}

/* Branches and tags; without "refs" (v1, older writers) main is current-snapshot-id. */
static void parse_refs(parse_ctx *c, const json_t *root, tarn_ice_metadata *m) {
  json_t *val = json_object_get(root, "refs"), *ref;
  const char *key;
  size_t i = 0;
  if (json_is_object(val)) {
    m->refs = alloc_n(c, json_object_size(val), sizeof(*m->refs), "refs");
    json_object_foreach(val, key, ref) {
      const json_t *type = json_object_get(ref, "type");
      if (m->refs == NULL || c->rc != 0)
        break;
      m->refs[i].name = tarn_strdup(key);
      m->nrefs = ++i;
      if (m->refs[i - 1].name == NULL) {
        fail(c, TARN_ENOMEM, "refs");
        break;
      }
      m->refs[i - 1].snapshot_id = get_int(c, ref, "snapshot-id", 1, 0);
      m->refs[i - 1].is_tag = json_is_string(type) && strcmp(json_string_value(type), "tag") == 0;
    }
  } else if (m->current_snapshot_id >= 0 && c->rc == 0) {
    m->refs = alloc_n(c, 1, sizeof(*m->refs), "refs");
    if (m->refs != NULL && (m->refs[0].name = tarn_strdup("main")) != NULL) {
      m->refs[0].snapshot_id = m->current_snapshot_id;
      m->nrefs = 1;
    }
  }
}

/* Keeps the members tarn does not model, to write them back unchanged. */
static void keep_extra(parse_ctx *c, json_t *root, tarn_ice_metadata *m) {
  const char *key;
  json_t *val;
  m->extra = json_object();
  if (m->extra == NULL) {
    fail(c, TARN_ENOMEM, "extra");
    return;
  }
  json_object_foreach(root, key, val) {
    if (!is_known(key) && json_object_set(m->extra, key, val) != 0) {
      fail(c, TARN_ENOMEM, key);
      return;
    }
  }
}

int tarn_ice_metadata_parse(const char *text, size_t len, tarn_ice_metadata *m, tarn_error *err) {
  parse_ctx c = {err, 0};
  json_error_t jerr;
  json_t *root = NULL;
  char *uuid;
  memset(m, 0, sizeof(*m));
  m->current_snapshot_id = -1;
  if (len > METADATA_MAX_BYTES)
    return tarn_error_set(err, TARN_ETOOBIG, "table metadata of %zu bytes exceeds %u bytes", len,
                          METADATA_MAX_BYTES);
  root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
  if (root == NULL)
    return tarn_error_set(err, TARN_ECORRUPT, "table metadata: line %d column %d: %s", jerr.line,
                          jerr.column, jerr.text);
  if (!json_is_object(root)) {
    json_decref(root);
    return tarn_error_set(err, TARN_ECORRUPT, "table metadata: not a JSON object");
  }
  m->format_version = (int)get_int(&c, root, "format-version", 1, 2);
  if (c.rc == 0 && (m->format_version < 1 || m->format_version > 2)) {
    c.rc = tarn_error_set(err, TARN_EUNSUPPORTED,
                          "table metadata: format-version %d is not "
                          "supported (1 or 2)",
                          m->format_version);
    goto out;
  }
  uuid = get_str(&c, root, "table-uuid", m->format_version >= 2);
  if (uuid != NULL) {
    snprintf(m->table_uuid, sizeof(m->table_uuid), "%s", uuid);
    tarn_free(uuid);
  }
  m->location = get_str(&c, root, "location", 1);
  m->last_sequence_number = get_int(&c, root, "last-sequence-number", m->format_version >= 2, 0);
  m->last_updated_ms = get_int(&c, root, "last-updated-ms", 1, 0);
  m->last_column_id = (int32_t)get_int(&c, root, "last-column-id", 1, 0);
  if (c.rc == 0)
    parse_schemas(&c, root, m);
  if (c.rc == 0) {
    parse_layout(&c, root, m);
    m->current_snapshot_id = get_int(&c, root, "current-snapshot-id", 0, -1);
  }
  if (c.rc == 0) {
    parse_history(&c, root, m);
    parse_refs(&c, root, m);
  }
  if (c.rc == 0)
    keep_extra(&c, root, m);
  if (c.rc == 0 && m->format_version == 1)
    m->format_version = 2; /* upgraded in memory; written back as v2 */
out:
  json_decref(root);
  if (c.rc != 0)
    tarn_ice_metadata_free(m);
  return c.rc;
}

/* ---- writing ---- */

static json_t *transform_json(const tarn_ice_transform *t) {
  char buf[32];
  tarn_ice_transform_format(t, buf, sizeof(buf));
  return json_string(buf);
}

static json_t *kv_json(const tarn_ice_kv *kv, size_t n) {
  json_t *o = json_object();
  size_t i;
  for (i = 0; o != NULL && i < n; i++) {
    if (json_object_set_new(o, kv[i].key, json_string(kv[i].value)) != 0) {
      json_decref(o);
      return NULL;
    }
  }
  return o;
}

/* Builds the whole document; NULL on allocation failure. */
static json_t *metadata_json(const tarn_ice_metadata *m) {
  json_t *root = m->extra ? json_deep_copy(m->extra) : json_object();
  json_t *a;
  size_t i, j;
  int bad = root == NULL;
#define SET(key, value)                                                                            \
  do {                                                                                             \
    if (!bad && json_object_set_new(root, key, value) != 0)                                        \
      bad = 1;                                                                                     \
  } while (0)
  SET("format-version", json_integer(2));
  SET("table-uuid", json_string(m->table_uuid));
  SET("location", json_string(m->location ? m->location : ""));
  SET("last-sequence-number", json_integer(m->last_sequence_number));
  SET("last-updated-ms", json_integer(m->last_updated_ms));
  SET("last-column-id", json_integer(m->last_column_id));
  a = json_array();
  for (i = 0; a != NULL && i < m->nschemas; i++)
    if (json_array_append_new(a, tarn_ice_schema_to_json(&m->schemas[i])) != 0)
      bad = 1;
  SET("schemas", a);
  SET("current-schema-id", json_integer(m->current_schema_id));
  a = json_array();
  for (i = 0; a != NULL && i < m->nspecs; i++) {
    json_t *fields = json_array();
    for (j = 0; fields != NULL && j < m->specs[i].nfields; j++) {
      const tarn_ice_partition_field *pf = &m->specs[i].fields[j];
      if (json_array_append_new(fields, json_pack("{s:s,s:o,s:I,s:I}", "name", pf->name,
                                                  "transform", transform_json(&pf->transform),
                                                  "source-id", (json_int_t)pf->source_id,
                                                  "field-id", (json_int_t)pf->field_id)) != 0)
        bad = 1;
    }
    if (json_array_append_new(a, json_pack("{s:I,s:o}", "spec-id", (json_int_t)m->specs[i].spec_id,
                                           "fields", fields)) != 0)
      bad = 1;
  }
  SET("partition-specs", a);
  SET("default-spec-id", json_integer(m->default_spec_id));
  SET("last-partition-id", json_integer(m->last_partition_id));
  a = json_array();
  for (i = 0; a != NULL && i < m->nsort_orders; i++) {
    json_t *fields = json_array();
    for (j = 0; fields != NULL && j < m->sort_orders[i].nfields; j++) {
      const tarn_ice_sort_field *sf = &m->sort_orders[i].fields[j];
      if (json_array_append_new(
              fields, json_pack("{s:o,s:I,s:s,s:s}", "transform", transform_json(&sf->transform),
                                "source-id", (json_int_t)sf->source_id, "direction",
                                sf->descending ? "desc" : "asc", "null-order",
                                sf->nulls_first ? "nulls-first" : "nulls-last")) != 0)
        bad = 1;
    }
    if (json_array_append_new(a, json_pack("{s:I,s:o}", "order-id",
                                           (json_int_t)m->sort_orders[i].order_id, "fields",
                                           fields)) != 0)
      bad = 1;
  }
  SET("sort-orders", a);
  SET("default-sort-order-id", json_integer(m->default_sort_order_id));
  SET("properties", kv_json(m->properties, m->nproperties));
  /* Readers disagree on an absent snapshot: Java and PyIceberg accept -1 or null; -1 is
   * what Java itself writes for a table without snapshots in older versions. */
  SET("current-snapshot-id",
      m->current_snapshot_id >= 0 ? json_integer(m->current_snapshot_id) : json_integer(-1));
  a = json_array();
  for (i = 0; a != NULL && i < m->nsnapshots; i++) {
    const tarn_ice_snapshot *s = &m->snapshots[i];
    json_t *summary = kv_json(s->summary, s->nsummary), *js;
    if (summary != NULL &&
        json_object_set_new(summary, "operation",
                            json_string(s->operation ? s->operation : "append")) != 0)
      bad = 1;
    js = json_pack("{s:I,s:I,s:I,s:o,s:s}", "snapshot-id", (json_int_t)s->snapshot_id,
                   "sequence-number", (json_int_t)s->sequence_number, "timestamp-ms",
                   (json_int_t)s->timestamp_ms, "summary", summary, "manifest-list",
                   s->manifest_list ? s->manifest_list : "");
    if (js != NULL && s->parent_id >= 0 &&
        json_object_set_new(js, "parent-snapshot-id", json_integer(s->parent_id)) != 0)
      bad = 1;
    if (js != NULL && s->schema_id >= 0 &&
        json_object_set_new(js, "schema-id", json_integer(s->schema_id)) != 0)
      bad = 1;
    if (json_array_append_new(a, js) != 0)
      bad = 1;
  }
  SET("snapshots", a);
  a = json_array();
  for (i = 0; a != NULL && i < m->nsnapshot_log; i++)
    if (json_array_append_new(
            a, json_pack("{s:I,s:I}", "snapshot-id", (json_int_t)m->snapshot_log[i].snapshot_id,
                         "timestamp-ms", (json_int_t)m->snapshot_log[i].timestamp_ms)) != 0)
      bad = 1;
  SET("snapshot-log", a);
  a = json_array();
  for (i = 0; a != NULL && i < m->nmetadata_log; i++)
    if (json_array_append_new(a, json_pack("{s:s,s:I}", "metadata-file",
                                           m->metadata_log[i].metadata_file, "timestamp-ms",
                                           (json_int_t)m->metadata_log[i].timestamp_ms)) != 0)
      bad = 1;
  SET("metadata-log", a);
  a = json_object();
  for (i = 0; a != NULL && i < m->nrefs; i++)
    if (json_object_set_new(a, m->refs[i].name,
                            json_pack("{s:I,s:s}", "snapshot-id",
                                      (json_int_t)m->refs[i].snapshot_id, "type",
                                      m->refs[i].is_tag ? "tag" : "branch")) != 0)
      bad = 1;
  SET("refs", a);
#undef SET
  if (bad) {
    json_decref(root);
    return NULL;
  }
  return root;
}

int tarn_ice_metadata_write(const tarn_ice_metadata *m, tarn_buf *out, tarn_error *err) {
  json_t *root = metadata_json(m);
  char *text;
  int rc;
  if (root == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory writing table metadata");
  text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  json_decref(root);
  if (text == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory writing table metadata");
  rc = tarn_buf_append_str(out, text, err);
  if (rc == 0)
    rc = tarn_buf_append(out, "\n", 1, err);
  tarn_free(text);
  return rc;
}

/* ---- lookups ---- */

const tarn_ice_schema *tarn_ice_metadata_schema(const tarn_ice_metadata *m, int32_t schema_id) {
  size_t i;
  for (i = 0; i < m->nschemas; i++)
    if (m->schemas[i].schema_id == schema_id)
      return &m->schemas[i];
  return NULL;
}

const tarn_ice_spec *tarn_ice_metadata_spec(const tarn_ice_metadata *m, int32_t spec_id) {
  size_t i;
  for (i = 0; i < m->nspecs; i++)
    if (m->specs[i].spec_id == spec_id)
      return &m->specs[i];
  return NULL;
}

const tarn_ice_snapshot *tarn_ice_metadata_snapshot(const tarn_ice_metadata *m,
                                                    int64_t snapshot_id) {
  size_t i;
  for (i = 0; i < m->nsnapshots; i++)
    if (m->snapshots[i].snapshot_id == snapshot_id)
      return &m->snapshots[i];
  return NULL;
}

int tarn_ice_property_int(const tarn_ice_metadata *m, const char *key, int64_t def, int64_t min,
                          int64_t max, int64_t *out, tarn_error *err) {
  const char *v = tarn_ice_metadata_property(m, key);
  char *end;
  long long x;
  *out = def;
  if (v == NULL)
    return 0;
  errno = 0;
  x = strtoll(v, &end, 10);
  if (end == v || *end != '\0' || errno != 0 || x < min || x > max)
    return tarn_error_set(err, TARN_EINVAL,
                          "table property %s = \"%.64s\": must be an integer from %lld to %lld",
                          key, v, (long long)min, (long long)max);
  *out = (int64_t)x;
  return 0;
}

const char *tarn_ice_metadata_property(const tarn_ice_metadata *m, const char *key) {
  size_t i;
  for (i = 0; i < m->nproperties; i++)
    if (strcmp(m->properties[i].key, key) == 0)
      return m->properties[i].value;
  return NULL;
}
