/* ice_table.c - Iceberg tables: the handle, create, load, refresh, and the metadata helpers
 * the commit engine (ice_commit.c) and its users share. */
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

const tarn_ice_metadata *tarn_table_metadata(const tarn_table *t) { return &t->md; }
const char *tarn_table_metadata_location(const tarn_table *t) { return t->metadata_location; }
const tarn_table_io *tarn_table_io_of(const tarn_table *t) { return &t->io; }

void tarn_table_ident(const tarn_table *t, const char **ns, const char **name) {
  *ns = t->ns;
  *name = t->name;
}

const tarn_ice_schema *tarn_table_schema(const tarn_table *t) {
  return tarn_ice_metadata_schema(&t->md, t->md.current_schema_id);
}

const tarn_ice_spec *tarn_table_spec(const tarn_table *t) {
  return tarn_ice_metadata_spec(&t->md, t->md.default_spec_id);
}

void tarn_table_close(tarn_table *t) {
  if (t == NULL)
    return;
  tarn_ice_metadata_free(&t->md);
  tarn_free(t->metadata_location);
  tarn_free(t->root_uri);
  tarn_free(t->ns);
  tarn_free(t->name);
  tarn_free(t);
}

static int table_new(tarn_catalog *cat, const tarn_table_io *io, const char *ns, const char *name,
                     tarn_table **out, tarn_error *err) {
  tarn_table *t = tarn_calloc(1, sizeof(*t));
  *out = NULL;
  if (t == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory opening table %s.%s", ns, name);
  t->cat = cat;
  t->root_uri = tarn_strdup(io->root_uri);
  t->ns = tarn_strdup(ns);
  t->name = tarn_strdup(name);
  if (t->root_uri == NULL || t->ns == NULL || t->name == NULL) {
    tarn_table_close(t);
    return tarn_error_set(err, TARN_ENOMEM, "out of memory opening table %s.%s", ns, name);
  }
  t->io.store = io->store;
  t->io.root_uri = t->root_uri;
  *out = t;
  return 0;
}

/* Reads and parses a metadata file. */
int tarn__table_read_metadata(const tarn_table_io *io, const char *uri, tarn_ice_metadata *md,
                              tarn_error *err) {
  char key[TARN_STORE_KEY_MAX + 1];
  tarn_buf b;
  int rc = tarn_table_io_key(io, uri, key, sizeof(key), err);
  if (rc != 0)
    return rc;
  tarn_buf_init(&b, METADATA_MAX_BYTES);
  rc = tarn_store_get(io->store, key, &b, err);
  if (rc == 0)
    rc = tarn_ice_metadata_parse(b.data ? b.data : "", b.len, md, err);
  if (rc != 0)
    tarn_error_prefix(err, "metadata %s", uri);
  tarn_buf_free(&b);
  return rc;
}

int tarn_table_refresh(tarn_table *t, tarn_error *err) {
  tarn_catalog_table ct;
  tarn_ice_metadata md;
  char *loc;
  int rc;
  tarn_catalog_table_init(&ct);
  rc = tarn_catalog_load_table(t->cat, t->ns, t->name, &ct, err);
  if (rc != 0)
    goto out;
  if (t->metadata_location != NULL && strcmp(t->metadata_location, ct.metadata_location) == 0)
    goto out; /* unchanged */
  rc = tarn__table_read_metadata(&t->io, ct.metadata_location, &md, err);
  if (rc != 0)
    goto out;
  loc = tarn_strdup(ct.metadata_location);
  if (loc == NULL) {
    tarn_ice_metadata_free(&md);
    rc = tarn_error_set(err, TARN_ENOMEM, "out of memory loading %s.%s", t->ns, t->name);
    goto out;
  }
  tarn_ice_metadata_free(&t->md);
  tarn_free(t->metadata_location);
  t->md = md;
  t->metadata_location = loc;
out:
  tarn_catalog_table_free(&ct);
  return rc;
}

int tarn_table_load(tarn_catalog *cat, const tarn_table_io *io, const char *ns, const char *name,
                    tarn_table **out, tarn_error *err) {
  tarn_table *t;
  int rc = table_new(cat, io, ns, name, &t, err);
  if (rc != 0)
    return rc;
  rc = tarn_table_refresh(t, err);
  if (rc != 0) {
    tarn_table_close(t);
    return rc;
  }
  *out = t;
  return 0;
}

/* ---- helpers ---- */

/* The next version starts as a deep copy of the current one. (A JSON round trip did the
 * same, but costs two passes over a document that grows with every snapshot, on every
 * attempt of every commit: with a few hundred snapshots it dominated a commit's CPU.) */
int tarn__table_metadata_clone(const tarn_ice_metadata *src, tarn_ice_metadata *dst,
                               tarn_error *err) {
  return tarn_ice_metadata_copy(dst, src, err);
}

/* Version number of a metadata file name: "00003-uuid.metadata.json" or "v3.metadata.json". */
long tarn__table_metadata_version(const char *uri) {
  const char *base = strrchr(uri, '/');
  base = base ? base + 1 : uri;
  if (*base == 'v')
    base++;
  return strtol(base, NULL, 10);
}

int tarn__table_new_uuid_str(char out[TARN_UUID_STR_LEN], tarn_error *err) {
  tarn_uuid u;
  int rc = tarn_uuid_v4(&u, err);
  if (rc == 0)
    tarn_uuid_format(&u, out);
  return rc;
}

/* A positive 63-bit random snapshot id. */
int tarn__table_new_snapshot_id(int64_t *id, tarn_error *err) {
  uint64_t v = 0;
  int rc;
  do {
    rc = tarn_random_bytes(&v, sizeof(v), err);
    if (rc != 0)
      return rc;
    v &= 0x7fffffffffffffffull;
  } while (v == 0);
  *id = (int64_t)v;
  return 0;
}

int tarn__table_kv_set(tarn_ice_kv **kv, size_t *n, const char *key, const char *value,
                       tarn_error *err) {
  size_t i;
  char *v;
  tarn_ice_kv *nkv;
  for (i = 0; i < *n; i++) {
    if (strcmp((*kv)[i].key, key) == 0) {
      v = tarn_strdup(value);
      if (v == NULL)
        return tarn_error_set(err, TARN_ENOMEM, "out of memory");
      tarn_free((*kv)[i].value);
      (*kv)[i].value = v;
      return 0;
    }
  }
  nkv = tarn_reallocarray(*kv, *n + 1, sizeof(**kv));
  if (nkv == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  *kv = nkv;
  nkv[*n].key = tarn_strdup(key);
  nkv[*n].value = tarn_strdup(value);
  if (nkv[*n].key == NULL || nkv[*n].value == NULL) {
    tarn_free(nkv[*n].key);
    tarn_free(nkv[*n].value);
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  }
  (*n)++;
  return 0;
}

void tarn__table_kv_remove(tarn_ice_kv *kv, size_t *n, const char *key) {
  size_t i;
  for (i = 0; i < *n; i++) {
    if (strcmp(kv[i].key, key) == 0) {
      tarn_free(kv[i].key);
      tarn_free(kv[i].value);
      memmove(&kv[i], &kv[i + 1], (*n - i - 1) * sizeof(*kv));
      (*n)--;
      return;
    }
  }
}

/* Writes metadata JSON to uri (put-if-absent). The JSON is left in `b` (reset first),
 * which the version hint reuses rather than serializing the metadata again. */
int tarn__table_write_metadata(const tarn_table_io *io, const char *uri,
                               const tarn_ice_metadata *md, tarn_buf *b, tarn_error *err) {
  char key[TARN_STORE_KEY_MAX + 1];
  int rc = tarn_table_io_key(io, uri, key, sizeof(key), err);
  if (rc != 0)
    return rc;
  tarn_buf_reset(b);
  rc = tarn_ice_metadata_write(md, b, err);
  if (rc == 0)
    rc = tarn_store_put(io->store, key, b->data, b->len, TARN_STORE_IF_ABSENT, err);
  return rc;
}

/*
 * After a commit: metadata/v<N>.metadata.json and metadata/version-hint.text ("N") for
 * readers that open a table by path (DuckDB iceberg_scan, icebird, PyIceberg
 * StaticTable). Best effort: the catalog is the source of truth.
 */
void tarn__table_write_version_hint(const tarn_table *t, const char *uri,
                                    const tarn_ice_metadata *md, const tarn_buf *json) {
  char key[TARN_STORE_KEY_MAX + 1], num[48];
  tarn_error err;
  long v = tarn__table_metadata_version(uri);
  int rc = 0;
  if (v <= 0)
    return;
  snprintf(num, sizeof(num), "v%ld.metadata.json", v);
  if (tarn_table_io_key(&t->io, md->location, key, sizeof(key) - 64, &err) != 0) {
    rc = err.code;
  } else {
    size_t kl = strlen(key);
    snprintf(key + kl, sizeof(key) - kl, "/metadata/%s", num);
    rc = tarn_store_put(t->io.store, key, json->data, json->len, 0, &err);
    if (rc == 0) {
      int n = snprintf(num, sizeof(num), "%ld", v);
      snprintf(key + kl, sizeof(key) - kl, "/metadata/version-hint.text");
      rc = tarn_store_put(t->io.store, key, num, (size_t)n, 0, &err);
    }
  }
  if (rc != 0)
    tarn_log_warn("version hint not written", "table=%s.%s error=%s", t->ns, t->name,
                  tarn_error_message(&err));
}

/* ---- create ---- */

/* A new table's columns: at least one, ids from 1, names and ids unique. */
static int check_columns(const char *ns, const char *name, const tarn_ice_schema *schema,
                         tarn_error *err) {
  size_t i, j;
  if (schema->nfields == 0)
    return tarn_error_set(err, TARN_EINVAL, "table %s.%s: a schema needs at least one column", ns,
                          name);
  for (i = 0; i < schema->nfields; i++) {
    if (schema->fields[i].id <= 0)
      return tarn_error_set(err, TARN_EINVAL, "column \"%s\": field ids start at 1",
                            schema->fields[i].name);
    for (j = 0; j < i; j++)
      if (schema->fields[j].id == schema->fields[i].id ||
          strcmp(schema->fields[j].name, schema->fields[i].name) == 0)
        return tarn_error_set(err, TARN_EINVAL, "column \"%s\": duplicate name or field id",
                              schema->fields[i].name);
  }
  return 0;
}

/* The table's location: the one given (without a trailing '/'), else
 * <root>warehouse/<namespace as folders>/<name>. NULL when out of memory. */
static char *table_location(const tarn_table_io *io, const char *ns, const char *name,
                            const char *location) {
  size_t n;
  char *loc, *p;
  if (location != NULL) {
    size_t ll = strlen(location);
    return tarn_strndup(location, ll > 0 && location[ll - 1] == '/' ? ll - 1 : ll);
  }
  n = strlen(io->root_uri) + strlen(ns) + strlen(name) + 32;
  loc = tarn_malloc(n);
  if (loc == NULL)
    return NULL;
  snprintf(loc, n, "%swarehouse/%s/%s", io->root_uri, ns, name);
  /* multi-level namespaces become nested folders */
  for (p = loc + strlen(io->root_uri) + 10; *p && p < loc + strlen(loc) - strlen(name); p++)
    if (*p == '.')
      *p = '/';
  return loc;
}

static int nomem(const char *ns, const char *name, tarn_error *err) {
  return tarn_error_set(err, TARN_ENOMEM, "out of memory creating %s.%s", ns, name);
}

/* The first partition spec (unpartitioned when spec is NULL or empty). */
static int initial_spec(tarn_ice_metadata *m, const tarn_ice_schema *schema,
                        const tarn_ice_spec *spec, const char *ns, const char *name,
                        tarn_error *err) {
  size_t i;
  int rc;
  m->specs = tarn_calloc(1, sizeof(*m->specs));
  if (m->specs == NULL)
    return nomem(ns, name, err);
  m->nspecs = 1;
  m->last_partition_id = 999;
  if (spec == NULL || spec->nfields == 0)
    return 0;
  m->specs[0].fields = tarn_calloc(spec->nfields, sizeof(*m->specs[0].fields));
  if (m->specs[0].fields == NULL)
    return nomem(ns, name, err);
  for (i = 0; i < spec->nfields; i++) {
    tarn_ice_partition_field *pf = &m->specs[0].fields[i];
    const tarn_ice_field *src = tarn_ice_schema_field(schema, spec->fields[i].source_id);
    tarn_ice_type rt;
    *pf = spec->fields[i];
    pf->name = tarn_strdup(spec->fields[i].name);
    m->specs[0].nfields = i + 1;
    if (pf->name == NULL)
      return nomem(ns, name, err);
    if (src == NULL)
      return tarn_error_set(err, TARN_EINVAL, "partition field %s: no column with field id %d",
                            pf->name, (int)pf->source_id);
    rc = tarn_ice_transform_result_type(&pf->transform, &src->type, &rt, err);
    if (rc != 0)
      return rc;
    if (pf->field_id <= 0)
      pf->field_id = 1000 + (int32_t)i;
    if (pf->field_id > m->last_partition_id)
      m->last_partition_id = pf->field_id;
  }
  return 0;
}

/* The first sort order (unsorted when order is NULL or empty). */
static int initial_sort_order(tarn_ice_metadata *m, const tarn_ice_sort_order *order,
                              const char *ns, const char *name, tarn_error *err) {
  m->sort_orders = tarn_calloc(1, sizeof(*m->sort_orders));
  if (m->sort_orders == NULL)
    return nomem(ns, name, err);
  m->nsort_orders = 1;
  if (order == NULL || order->nfields == 0)
    return 0;
  m->sort_orders[0].order_id = 1;
  m->sort_orders[0].fields = tarn_calloc(order->nfields, sizeof(*order->fields));
  if (m->sort_orders[0].fields == NULL)
    return nomem(ns, name, err);
  memcpy(m->sort_orders[0].fields, order->fields, order->nfields * sizeof(*order->fields));
  m->sort_orders[0].nfields = order->nfields;
  m->default_sort_order_id = 1;
  return 0;
}

int tarn_table_create(tarn_catalog *cat, const tarn_table_io *io, const char *ns, const char *name,
                      const tarn_ice_schema *schema, const tarn_ice_spec *spec,
                      const tarn_ice_sort_order *order, const tarn_ice_kv *props, size_t nprops,
                      const char *location, tarn_table **out, tarn_error *err) {
  tarn_table *t = NULL;
  tarn_ice_metadata *m;
  tarn_buf json;
  char uuid[TARN_UUID_STR_LEN], *uri = NULL;
  size_t i;
  int rc;
  *out = NULL;
  tarn_buf_init(&json, METADATA_MAX_BYTES);
  rc = check_columns(ns, name, schema, err);
  if (rc != 0)
    return rc;
  rc = table_new(cat, io, ns, name, &t, err);
  if (rc != 0)
    return rc;
  m = &t->md;
  m->format_version = 2;
  m->current_snapshot_id = -1;
  rc = tarn__table_new_uuid_str(m->table_uuid, err);
  if (rc != 0)
    goto out;
  m->location = table_location(io, ns, name, location);
  if (m->location == NULL)
    goto no_memory;
  m->last_updated_ms = tarn_clock_wall_us() / 1000;
  m->schemas = tarn_calloc(1, sizeof(*m->schemas));
  if (m->schemas == NULL || tarn_ice_schema_copy(&m->schemas[0], schema, err) != 0)
    goto no_memory;
  m->nschemas = 1;
  m->schemas[0].schema_id = 0;
  m->current_schema_id = 0;
  m->last_column_id = tarn_ice_schema_max_id(schema);
  rc = initial_spec(m, schema, spec, ns, name, err);
  if (rc == 0)
    rc = initial_sort_order(m, order, ns, name, err);
  for (i = 0; rc == 0 && i < nprops; i++)
    rc = tarn__table_kv_set(&m->properties, &m->nproperties, props[i].key, props[i].value, err);
  if (rc == 0)
    rc = tarn__table_new_uuid_str(uuid, err);
  if (rc != 0)
    goto out;
  uri = tarn_malloc(strlen(m->location) + 80);
  if (uri == NULL)
    goto no_memory;
  snprintf(uri, strlen(m->location) + 80, "%s/metadata/00001-%s.metadata.json", m->location, uuid);
  rc = tarn__table_write_metadata(&t->io, uri, m, &json, err);
  if (rc == 0) {
    rc = tarn_catalog_create_table(cat, ns, name, uri, err);
    if (rc != 0 && rc != TARN_EUNKNOWN_OUTCOME)
      tarn__table_delete_uri(&t->io, uri, "unreferenced file");
  }
  if (rc != 0)
    goto out;
  t->metadata_location = uri;
  uri = NULL;
  tarn__table_write_version_hint(t, t->metadata_location, m, &json);
  tarn_log_info("table created", "table=%s.%s location=%s", ns, name, m->location);
  *out = t;
  t = NULL;
  goto out;
no_memory:
  rc = nomem(ns, name, err);
out:
  tarn_buf_free(&json);
  tarn_free(uri);
  tarn_table_close(t);
  return rc;
}
