/* ice_table.c - Iceberg tables: create, load, and commits with compare-and-swap and retry. */
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
#include "table_int.h"

#define METADATA_MAX_BYTES (64u << 20)

struct tarn_table {
  tarn_catalog *cat;
  tarn_table_io io;
  char *root_uri;
  char *ns, *name;
  char *metadata_location;
  tarn_ice_metadata md;
};

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
static int read_metadata(const tarn_table_io *io, const char *uri, tarn_ice_metadata *md,
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
  rc = read_metadata(&t->io, ct.metadata_location, &md, err);
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
static int metadata_clone(const tarn_ice_metadata *src, tarn_ice_metadata *dst, tarn_error *err) {
  return tarn_ice_metadata_copy(dst, src, err);
}

/* Version number of a metadata file name: "00003-uuid.metadata.json" or "v3.metadata.json". */
static long metadata_version(const char *uri) {
  const char *base = strrchr(uri, '/');
  base = base ? base + 1 : uri;
  if (*base == 'v')
    base++;
  return strtol(base, NULL, 10);
}

static int new_uuid_str(char out[TARN_UUID_STR_LEN], tarn_error *err) {
  tarn_uuid u;
  int rc = tarn_uuid_v4(&u, err);
  if (rc == 0)
    tarn_uuid_format(&u, out);
  return rc;
}

/* A positive 63-bit random snapshot id. */
static int new_snapshot_id(int64_t *id, tarn_error *err) {
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


static int kv_set(tarn_ice_kv **kv, size_t *n, const char *key, const char *value,
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

static void kv_remove(tarn_ice_kv *kv, size_t *n, const char *key) {
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
static int write_metadata(const tarn_table_io *io, const char *uri, const tarn_ice_metadata *md,
                          tarn_buf *b, tarn_error *err) {
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
static void write_version_hint(const tarn_table *t, const char *uri, const tarn_ice_metadata *md,
                               const tarn_buf *json) {
  char key[TARN_STORE_KEY_MAX + 1], num[48];
  tarn_error err;
  long v = metadata_version(uri);
  int rc = 0, n;
  if (v <= 0)
    return;
  n = snprintf(num, sizeof(num), "v%ld.metadata.json", v);
  if (tarn_table_io_key(&t->io, md->location, key, sizeof(key) - 64, &err) != 0) {
    rc = err.code;
  } else {
    size_t kl = strlen(key);
    snprintf(key + kl, sizeof(key) - kl, "/metadata/%s", num);
    rc = tarn_store_put(t->io.store, key, json->data, json->len, 0, &err);
    if (rc == 0) {
      n = snprintf(num, sizeof(num), "%ld", v);
      snprintf(key + kl, sizeof(key) - kl, "/metadata/version-hint.text");
      rc = tarn_store_put(t->io.store, key, num, (size_t)n, 0, &err);
    }
  }
  if (rc != 0)
    tarn_log_warn("version hint not written", "table=%s.%s error=%s", t->ns, t->name,
                  tarn_error_message(&err));
}

/* ---- create ---- */

int tarn_table_create(tarn_catalog *cat, const tarn_table_io *io, const char *ns,
                      const char *name, const tarn_ice_schema *schema, const tarn_ice_spec *spec,
                      const tarn_ice_sort_order *order, const tarn_ice_kv *props, size_t nprops,
                      const char *location, tarn_table **out, tarn_error *err) {
  tarn_table *t = NULL;
  tarn_ice_metadata *m;
  tarn_buf json;
  char uuid[TARN_UUID_STR_LEN], *loc = NULL, *uri = NULL;
  size_t i, j;
  int rc;
  *out = NULL;
  if (schema->nfields == 0)
    return tarn_error_set(err, TARN_EINVAL, "table %s.%s: a schema needs at least one column",
                          ns, name);
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
  rc = table_new(cat, io, ns, name, &t, err);
  if (rc != 0)
    return rc;
  m = &t->md;
  m->format_version = 2;
  m->current_snapshot_id = -1;
  rc = new_uuid_str(m->table_uuid, err);
  if (rc != 0)
    goto fail;
  if (location != NULL) {
    size_t ll = strlen(location);
    loc = tarn_strndup(location, ll > 0 && location[ll - 1] == '/' ? ll - 1 : ll);
  } else {
    size_t n = strlen(io->root_uri) + strlen(ns) + strlen(name) + 32;
    loc = tarn_malloc(n);
    if (loc != NULL) {
      char *p;
      snprintf(loc, n, "%swarehouse/%s/%s", io->root_uri, ns, name);
      /* multi-level namespaces become nested folders */
      for (p = loc + strlen(io->root_uri) + 10; *p && p < loc + strlen(loc) - strlen(name); p++)
        if (*p == '.')
          *p = '/';
    }
  }
  if (loc == NULL) {
    rc = tarn_error_set(err, TARN_ENOMEM, "out of memory creating %s.%s", ns, name);
    goto fail;
  }
  m->location = loc;
  loc = NULL;
  m->last_updated_ms = tarn_clock_wall_us() / 1000;
  m->schemas = tarn_calloc(1, sizeof(*m->schemas));
  if (m->schemas == NULL || tarn_ice_schema_copy(&m->schemas[0], schema, err) != 0) {
    rc = tarn_error_set(err, TARN_ENOMEM, "out of memory creating %s.%s", ns, name);
    goto fail;
  }
  m->nschemas = 1;
  m->schemas[0].schema_id = 0;
  m->current_schema_id = 0;
  m->last_column_id = tarn_ice_schema_max_id(schema);
  m->specs = tarn_calloc(1, sizeof(*m->specs));
  if (m->specs == NULL) {
    rc = tarn_error_set(err, TARN_ENOMEM, "out of memory creating %s.%s", ns, name);
    goto fail;
  }
  m->nspecs = 1;
  m->last_partition_id = 999;
  if (spec != NULL && spec->nfields > 0) {
    m->specs[0].fields = tarn_calloc(spec->nfields, sizeof(*m->specs[0].fields));
    if (m->specs[0].fields == NULL) {
      rc = tarn_error_set(err, TARN_ENOMEM, "out of memory creating %s.%s", ns, name);
      goto fail;
    }
    for (i = 0; i < spec->nfields; i++) {
      tarn_ice_partition_field *pf = &m->specs[0].fields[i];
      const tarn_ice_field *src = tarn_ice_schema_field(schema, spec->fields[i].source_id);
      tarn_ice_type rt;
      *pf = spec->fields[i];
      pf->name = tarn_strdup(spec->fields[i].name);
      m->specs[0].nfields = i + 1;
      if (pf->name == NULL) {
        rc = tarn_error_set(err, TARN_ENOMEM, "out of memory creating %s.%s", ns, name);
        goto fail;
      }
      if (src == NULL) {
        rc = tarn_error_set(err, TARN_EINVAL, "partition field %s: no column with field id %d",
                            pf->name, (int)pf->source_id);
        goto fail;
      }
      rc = tarn_ice_transform_result_type(&pf->transform, &src->type, &rt, err);
      if (rc != 0)
        goto fail;
      if (pf->field_id <= 0)
        pf->field_id = 1000 + (int32_t)i;
      if (pf->field_id > m->last_partition_id)
        m->last_partition_id = pf->field_id;
    }
  }
  m->sort_orders = tarn_calloc(1, sizeof(*m->sort_orders));
  if (m->sort_orders == NULL) {
    rc = tarn_error_set(err, TARN_ENOMEM, "out of memory creating %s.%s", ns, name);
    goto fail;
  }
  m->nsort_orders = 1;
  if (order != NULL && order->nfields > 0) {
    m->sort_orders[0].order_id = 1;
    m->sort_orders[0].fields = tarn_calloc(order->nfields, sizeof(*order->fields));
    if (m->sort_orders[0].fields == NULL) {
      rc = tarn_error_set(err, TARN_ENOMEM, "out of memory creating %s.%s", ns, name);
      goto fail;
    }
    memcpy(m->sort_orders[0].fields, order->fields, order->nfields * sizeof(*order->fields));
    m->sort_orders[0].nfields = order->nfields;
    m->default_sort_order_id = 1;
  }
  for (i = 0; i < nprops; i++) {
    rc = kv_set(&m->properties, &m->nproperties, props[i].key, props[i].value, err);
    if (rc != 0)
      goto fail;
  }
  rc = new_uuid_str(uuid, err);
  if (rc != 0)
    goto fail;
  uri = tarn_malloc(strlen(m->location) + 80);
  if (uri == NULL) {
    rc = tarn_error_set(err, TARN_ENOMEM, "out of memory creating %s.%s", ns, name);
    goto fail;
  }
  snprintf(uri, strlen(m->location) + 80, "%s/metadata/00001-%s.metadata.json", m->location,
           uuid);
  tarn_buf_init(&json, METADATA_MAX_BYTES);
  rc = write_metadata(&t->io, uri, m, &json, err);
  if (rc == 0) {
    rc = tarn_catalog_create_table(cat, ns, name, uri, err);
    if (rc != 0 && rc != TARN_EUNKNOWN_OUTCOME)
      tarn__table_delete_uri(&t->io, uri, "unreferenced file");
  }
  if (rc != 0) {
    tarn_buf_free(&json);
    goto fail;
  }
  t->metadata_location = uri;
  write_version_hint(t, uri, m, &json);
  tarn_buf_free(&json);
  tarn_log_info("table created", "table=%s.%s location=%s", ns, name, m->location);
  *out = t;
  return 0;
fail:
  tarn_free(uri);
  tarn_free(loc);
  tarn_table_close(t);
  return rc;
}

/* ---- the commit engine ---- */

/*
 * Builds `next` from `base` (a fresh copy of the current metadata) for one attempt.
 * Files it writes for this attempt go into `written` so a failed commit can delete them.
 */
typedef int (*apply_fn)(tarn_table *t, const tarn_ice_metadata *base, tarn_ice_metadata *next,
                        int attempt, void *ctx, tarn_error *err);

typedef struct uri_list {
  char **items;
  size_t n, cap;
} uri_list;

static int uri_list_add(uri_list *l, const char *uri, tarn_error *err) {
  if (l->n == l->cap) {
    size_t ncap = l->cap ? l->cap * 2 : 8;
    char **ni = tarn_reallocarray(l->items, ncap, sizeof(*ni));
    if (ni == NULL)
      return tarn_error_set(err, TARN_ENOMEM, "out of memory");
    l->items = ni;
    l->cap = ncap;
  }
  l->items[l->n] = tarn_strdup(uri);
  if (l->items[l->n] == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  l->n++;
  return 0;
}

static void uri_list_delete_all(uri_list *l, const tarn_table_io *io) {
  size_t i;
  for (i = 0; i < l->n; i++)
    tarn__table_delete_uri(io, l->items[i], "unreferenced file");
}

static void uri_list_free(uri_list *l) {
  size_t i;
  for (i = 0; i < l->n; i++)
    tarn_free(l->items[i]);
  tarn_free(l->items);
  memset(l, 0, sizeof(*l));
}

/* Records the previous metadata file in the metadata log, trimmed to
 * write.metadata.previous-versions-max (default 100). */
static int push_metadata_log(tarn_ice_metadata *next, const char *prev_uri, int64_t prev_ms,
                             tarn_error *err) {
  int64_t max;
  tarn_ice_metadata_log *nl;
  int rc = tarn_ice_property_int(next, "write.metadata.previous-versions-max", 100, 1,
                                 INT32_MAX, &max, err);
  if (rc != 0 || prev_uri == NULL)
    return rc;
  nl = tarn_reallocarray(next->metadata_log, next->nmetadata_log + 1, sizeof(*nl));
  if (nl == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  next->metadata_log = nl;
  nl[next->nmetadata_log].metadata_file = tarn_strdup(prev_uri);
  if (nl[next->nmetadata_log].metadata_file == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  nl[next->nmetadata_log].timestamp_ms = prev_ms;
  next->nmetadata_log++;
  while (max >= 1 && next->nmetadata_log > (size_t)max) {
    tarn_free(next->metadata_log[0].metadata_file);
    memmove(next->metadata_log, next->metadata_log + 1,
            (next->nmetadata_log - 1) * sizeof(*next->metadata_log));
    next->nmetadata_log--;
  }
  return 0;
}

/* commit.retry.* of the table, each checked (a typo is an error, not a default). */
typedef struct retry_policy {
  int64_t retries, min_ms, max_ms;
} retry_policy;

static int retry_policy_read(const tarn_ice_metadata *m, retry_policy *p, tarn_error *err) {
  int rc = tarn_ice_property_int(m, "commit.retry.num-retries", 4, 0, 1000, &p->retries, err);
  if (rc == 0)
    rc = tarn_ice_property_int(m, "commit.retry.min-wait-ms", 100, 0, 3600000, &p->min_ms, err);
  if (rc == 0)
    rc = tarn_ice_property_int(m, "commit.retry.max-wait-ms", 60000, 0, 3600000, &p->max_ms,
                               err);
  return rc;
}

static uint64_t backoff_ms(const retry_policy *p, int attempt) {
  uint64_t lo = (uint64_t)p->min_ms, hi = (uint64_t)p->max_ms;
  uint64_t cap = lo << (attempt < 20 ? attempt : 20), r = 0;
  if (cap > hi)
    cap = hi;
  tarn_random_bytes(&r, sizeof(r), NULL);
  return lo / 2 + (cap > 0 ? r % cap : 0); /* jitter spreads racing writers apart */
}

/*
 * After a lost acknowledgement: 1 when the catalog shows our commit happened (current
 * location, or recorded in the current metadata's log because others committed on top),
 * 0 when it did not, -1 when the catalog cannot tell us now.
 */
static int resolve_unknown(tarn_table *t, const char *uri) {
  tarn_catalog_table ct;
  tarn_ice_metadata md;
  tarn_error err;
  int r = -1;
  size_t i;
  tarn_catalog_table_init(&ct);
  if (tarn_catalog_load_table(t->cat, t->ns, t->name, &ct, &err) != 0)
    goto out;
  if (strcmp(ct.metadata_location, uri) == 0 ||
      (ct.previous_metadata_location != NULL && strcmp(ct.previous_metadata_location, uri) == 0)) {
    r = 1;
    goto out;
  }
  if (read_metadata(&t->io, ct.metadata_location, &md, &err) != 0)
    goto out;
  r = 0;
  for (i = 0; i < md.nmetadata_log; i++)
    if (strcmp(md.metadata_log[i].metadata_file, uri) == 0)
      r = 1;
  tarn_ice_metadata_free(&md);
out:
  tarn_catalog_table_free(&ct);
  return r;
}

static int apply_props(tarn_table *t, const tarn_ice_metadata *base, tarn_ice_metadata *next,
                       int attempt, void *ctx, tarn_error *err);

static int commit(tarn_table *t, apply_fn apply, void *ctx, tarn_table_commit_result *res,
                  tarn_error *err) {
  uri_list written = {0};
  tarn_ice_metadata next;
  char uuid[TARN_UUID_STR_LEN], *uri = NULL;
  tarn_buf json; /* this attempt's metadata JSON, reused for the version hint */
  int attempt, rc = 0, retries;
  retry_policy policy;
  memset(&next, 0, sizeof(next));
  rc = retry_policy_read(&t->md, &policy, err);
  if (rc != 0 && apply == apply_props) {
    /* setting properties must stay possible, or a malformed retry property could never
     * be fixed: this commit runs on the defaults */
    tarn_log_warn("table property ignored for this commit", "table=%s.%s error=%s", t->ns,
                  t->name, tarn_error_message(err));
    policy.retries = 4;
    policy.min_ms = 100;
    policy.max_ms = 60000;
    rc = 0;
  }
  if (rc != 0)
    return rc;
  tarn_buf_init(&json, METADATA_MAX_BYTES);
  retries = (int)policy.retries;
  for (attempt = 0; attempt <= retries; attempt++) {
    long version;
    if (attempt > 0) {
      tarn_sleep_ms(backoff_ms(&policy, attempt));
      rc = tarn_table_refresh(t, err);
      if (rc != 0)
        break;
    }
    rc = metadata_clone(&t->md, &next, err);
    if (rc != 0)
      break;
    rc = apply(t, &t->md, &next, attempt, ctx, err);
    if (rc != 0) {
      tarn_ice_metadata_free(&next);
      break;
    }
    next.last_updated_ms = tarn_clock_wall_us() / 1000;
    if (next.last_updated_ms <= t->md.last_updated_ms)
      next.last_updated_ms = t->md.last_updated_ms + 1;
    rc = push_metadata_log(&next, t->metadata_location, t->md.last_updated_ms, err);
    if (rc == 0)
      rc = new_uuid_str(uuid, err);
    version = metadata_version(t->metadata_location) + 1;
    if (version < 2)
      version = (long)next.nmetadata_log + 1;
    tarn_free(uri);
    uri = rc == 0 ? tarn_malloc(strlen(next.location) + 96) : NULL;
    if (rc == 0 && uri == NULL)
      rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
    if (rc == 0) {
      snprintf(uri, strlen(next.location) + 96, "%s/metadata/%05ld-%s.metadata.json",
               next.location, version, uuid);
      rc = write_metadata(&t->io, uri, &next, &json, err);
    }
    if (rc == 0)
      rc = uri_list_add(&written, uri, err);
    if (rc != 0) {
      tarn_ice_metadata_free(&next);
      break;
    }
    rc = tarn_catalog_commit(t->cat, t->ns, t->name, t->metadata_location, uri, err);
    if (rc == TARN_EUNKNOWN_OUTCOME) {
      int r = resolve_unknown(t, uri);
      if (r == 1) { /* it happened, and maybe others committed on top since */
        tarn_error lerr;
        tarn_ice_metadata_free(&next);
        uri_list_free(&written);
        if (tarn_table_refresh(t, &lerr) != 0)
          tarn_log_warn("reload after an unknown commit outcome failed", "table=%s.%s error=%s",
                        t->ns, t->name, tarn_error_message(&lerr));
        if (res != NULL) {
          res->attempts = attempt + 1;
          res->snapshot_id = t->md.current_snapshot_id;
          res->sequence_number = t->md.last_sequence_number;
        }
        tarn_free(uri);
        tarn_buf_free(&json);
        return 0;
      }
      if (r == 0)
        rc = TARN_ECONFLICT; /* it did not happen: an ordinary lost race */
      else { /* still unknown: keep every file, tell the caller */
        tarn_ice_metadata_free(&next);
        uri_list_free(&written);
        break;
      }
    }
    if (rc == 0) {
      tarn_ice_metadata_free(&t->md);
      t->md = next;
      tarn_free(t->metadata_location);
      t->metadata_location = uri;
      uri = NULL;
      write_version_hint(t, t->metadata_location, &t->md, &json);
      if (res != NULL) {
        res->attempts = attempt + 1;
        res->snapshot_id = t->md.current_snapshot_id;
        res->sequence_number = t->md.last_sequence_number;
      }
      uri_list_free(&written);
      tarn_buf_free(&json);
      return 0;
    }
    tarn_ice_metadata_free(&next);
    if (rc != TARN_ECONFLICT)
      break;
    /* The swap failed: this attempt's metadata file is referenced by nothing. */
    uri_list_delete_all(&written, &t->io);
    uri_list_free(&written);
    tarn_log_info("commit conflict, retrying", "table=%s.%s attempt=%d", t->ns, t->name,
                  attempt + 1);
  }
  if (rc == TARN_ECONFLICT)
    tarn_error_set(err, TARN_ECONFLICT, "table %s.%s: commit lost the race %d times; giving up "
                   "(table property commit.retry.num-retries = %d)", t->ns, t->name,
                   retries + 1, retries);
  /* Nothing references what this call wrote: remove it. */
  uri_list_delete_all(&written, &t->io);
  uri_list_free(&written);
  tarn_free(uri);
  tarn_buf_free(&json);
  return rc;
}

/* ---- snapshot production (append, overwrite) ---- */

typedef struct produce_ctx {
  const tarn_ice_data_file *files;
  size_t nfiles;
  int overwrite;             /* delete matching live files */
  int32_t spec_id;           /* overwrite: spec of `partition` */
  const tarn_ice_value *partition; /* overwrite filter; NULL = everything */
  const tarn_ice_kv *summary;
  size_t nsummary;
  tarn_table_commit_check check; /* the caller's decision inside each attempt, or NULL */
  void *check_arg;
  int64_t snapshot_id;
  tarn_ice_manifest_file added;  /* the manifest of `files`, written on the first attempt */
  int have_added;
  uri_list *cleanup;         /* per-attempt files (lists, rewritten manifests) */
  uri_list keep_on_success;  /* files written once (added manifest) */
  int merged;
} produce_ctx;

static int partition_equal(const tarn_ice_schema *schema, const tarn_ice_spec *spec,
                           const tarn_ice_data_file *f, const tarn_ice_value *want) {
  size_t i;
  for (i = 0; i < spec->nfields; i++) {
    const tarn_ice_field *src = tarn_ice_schema_field(schema, spec->fields[i].source_id);
    tarn_ice_type rt;
    const tarn_ice_value *a = &f->partition[i], *b = &want[i];
    if (src == NULL || tarn_ice_transform_result_type(&spec->fields[i].transform, &src->type,
                                                      &rt, NULL) != 0)
      return 0;
    if (a->is_null || b->is_null) {
      if (a->is_null != b->is_null)
        return 0;
      continue;
    }
    if (tarn_ice_value_compare(&rt, a, b) != 0)
      return 0;
  }
  return 1;
}

static int make_uri(const tarn_ice_metadata *m, const char *fmt, int64_t a, int b,
                    char **out, tarn_error *err) {
  char uuid[TARN_UUID_STR_LEN];
  size_t n = strlen(m->location) + 160;
  int rc = new_uuid_str(uuid, err);
  if (rc != 0)
    return rc;
  *out = tarn_malloc(n);
  if (*out == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  if (strcmp(fmt, "list") == 0)
    snprintf(*out, n, "%s/metadata/snap-%lld-%d-%s.avro", m->location, (long long)a, b, uuid);
  else
    snprintf(*out, n, "%s/metadata/%s-m%d.avro", m->location, uuid, b);
  return 0;
}

/* Totals for the snapshot summary. */
typedef struct totals {
  int64_t records, files, size, deleted_records, deleted_files, removed_size;
  int64_t added_records, added_files, added_size;
} totals;

static int set_summary(tarn_ice_snapshot *s, const tarn_ice_metadata *base, const totals *tt,
                       const produce_ctx *c, tarn_error *err) {
  char v[32];
  int rc = 0;
  size_t i;
  const tarn_ice_snapshot *parent = tarn_ice_metadata_snapshot(base, base->current_snapshot_id);
  int64_t prev_size = -1;
  for (i = 0; parent != NULL && i < parent->nsummary; i++)
    if (strcmp(parent->summary[i].key, "total-files-size") == 0)
      prev_size = strtoll(parent->summary[i].value, NULL, 10);
  if (parent == NULL)
    prev_size = 0;
#define PUT(k, val)                                                                              \
  do {                                                                                           \
    snprintf(v, sizeof(v), "%lld", (long long)(val));                                            \
    if (rc == 0)                                                                                 \
      rc = kv_set(&s->summary, &s->nsummary, k, v, err);                                         \
  } while (0)
  if (tt->added_files > 0) {
    PUT("added-data-files", tt->added_files);
    PUT("added-records", tt->added_records);
    PUT("added-files-size", tt->added_size);
  }
  if (tt->deleted_files > 0) {
    PUT("deleted-data-files", tt->deleted_files);
    PUT("deleted-records", tt->deleted_records);
    PUT("removed-files-size", tt->removed_size);
  }
  PUT("total-records", tt->records);
  if (prev_size >= 0)
    PUT("total-files-size", prev_size + tt->added_size - tt->removed_size);
  PUT("total-data-files", tt->files);
  PUT("total-delete-files", 0);
  PUT("total-position-deletes", 0);
  PUT("total-equality-deletes", 0);
#undef PUT
  for (i = 0; rc == 0 && i < c->nsummary; i++)
    rc = kv_set(&s->summary, &s->nsummary, c->summary[i].key, c->summary[i].value, err);
  return rc;
}

/* Reads the manifest list of the base's current snapshot (empty when none). */
static int base_manifests(tarn_table *t, const tarn_ice_metadata *base,
                          tarn_ice_manifest_file **mfs, size_t *n, tarn_error *err) {
  const tarn_ice_snapshot *cur = tarn_ice_metadata_snapshot(base, base->current_snapshot_id);
  *mfs = NULL;
  *n = 0;
  if (cur == NULL)
    return 0;
  return tarn_ice_manifest_list_read(&t->io, cur->manifest_list, mfs, n, err);
}

static int push_mf(tarn_ice_manifest_file **arr, size_t *n, size_t *cap,
                   const tarn_ice_manifest_file *m, tarn_error *err) {
  if (*n == *cap) {
    size_t ncap = *cap ? *cap * 2 : 16;
    tarn_ice_manifest_file *na = tarn_reallocarray(*arr, ncap, sizeof(*na));
    if (na == NULL)
      return tarn_error_set(err, TARN_ENOMEM, "out of memory");
    *arr = na;
    *cap = ncap;
  }
  return tarn_ice_manifest_file_copy(&(*arr)[(*n)++], m, err);
}

/* Rewrites (for an overwrite) or merges manifests: reads each, keeps live entries as
 * EXISTING (or DELETED when the overwrite removes them), writes one manifest per input
 * (rewrite) or one for all (merge). */
static int rewrite_manifests(tarn_table *t, const tarn_ice_metadata *base,
                             tarn_ice_metadata *next, produce_ctx *c,
                             const tarn_ice_manifest_file *in, size_t nin, int merge,
                             int64_t seq, tarn_ice_manifest_file **out, size_t *nout,
                             size_t *outcap, totals *tt, tarn_error *err) {
  const tarn_ice_schema *schema = tarn_ice_metadata_schema(next, next->current_schema_id);
  tarn_ice_manifest_entry *acc = NULL;
  size_t nacc = 0, capacc = 0, i, k;
  int rc = 0, idx = 0;
  const tarn_ice_spec *spec = NULL;
  int64_t min_seq = INT64_MAX;
  for (i = 0; i < nin && rc == 0; i++) {
    tarn_ice_manifest_entry *es = NULL;
    size_t ne = 0;
    int changed = 0;
    spec = tarn_ice_metadata_spec(base, in[i].partition_spec_id);
    if (spec == NULL) {
      rc = tarn_error_set(err, TARN_ECORRUPT, "manifest %s: unknown partition spec %d",
                          in[i].manifest_path, (int)in[i].partition_spec_id);
      break;
    }
    rc = tarn_ice_manifest_read(&t->io, &in[i], schema, spec, &es, &ne, err);
    if (rc != 0)
      break;
    for (k = 0; k < ne; k++) {
      tarn_ice_manifest_entry *e = &es[k];
      if (e->status == TARN_ICE_DELETED) { /* deletes of an older snapshot: drop */
        changed = 1;
        continue;
      }
      if (e->status == TARN_ICE_ADDED)
        changed = 1;
      e->status = TARN_ICE_EXISTING;
      if (c->overwrite && (c->partition == NULL ||
                           (in[i].partition_spec_id == c->spec_id &&
                            partition_equal(schema, spec, &e->file, c->partition)))) {
        e->status = TARN_ICE_DELETED;
        e->snapshot_id = c->snapshot_id;
        tt->deleted_files++;
        tt->deleted_records += e->file.record_count;
        tt->removed_size += e->file.file_size;
        changed = 1;
      } else {
        tt->files++;
        tt->records += e->file.record_count;
      }
      if (e->sequence_number >= 0 && e->sequence_number < min_seq)
        min_seq = e->sequence_number;
    }
    if (!merge && !changed) { /* untouched: carry the manifest itself forward */
      tarn_ice_manifest_entries_free(es, ne);
      rc = push_mf(out, nout, outcap, &in[i], err);
      continue;
    }
    /* move entries (not DELETED-from-older-snapshots) into the accumulator */
    for (k = 0; k < ne && rc == 0; k++) {
      if (es[k].status == TARN_ICE_DELETED && es[k].snapshot_id != c->snapshot_id)
        continue;
      if (nacc == capacc) {
        size_t ncap = capacc ? capacc * 2 : 64;
        tarn_ice_manifest_entry *na = tarn_reallocarray(acc, ncap, sizeof(*na));
        if (na == NULL) {
          rc = tarn_error_set(err, TARN_ENOMEM, "out of memory rewriting manifests");
          break;
        }
        acc = na;
        capacc = ncap;
      }
      acc[nacc++] = es[k];
      memset(&es[k], 0, sizeof(es[k]));
    }
    tarn_ice_manifest_entries_free(es, ne);
    if (rc != 0)
      break;
    if (!merge) { /* one rewritten manifest per input */
      tarn_ice_manifest_file mf;
      char *uri = NULL;
      rc = make_uri(next, "manifest", 0, idx++, &uri, err);
      if (rc == 0)
        rc = uri_list_add(c->cleanup, uri, err);
      if (rc == 0 && nacc > 0)
        rc = tarn_ice_manifest_write(&t->io, uri, schema, spec, c->snapshot_id, acc, nacc, &mf,
                                     err);
      if (rc == 0 && nacc > 0) {
        mf.sequence_number = seq;
        mf.min_sequence_number = min_seq == INT64_MAX ? seq : min_seq;
        rc = push_mf(out, nout, outcap, &mf, err);
        tarn_ice_manifest_file_free(&mf);
      }
      tarn_free(uri);
      tarn_ice_manifest_entries_free(acc, nacc);
      acc = NULL;
      nacc = capacc = 0;
      min_seq = INT64_MAX;
    }
  }
  if (rc == 0 && merge && nacc > 0) {
    tarn_ice_manifest_file mf;
    char *uri = NULL;
    rc = make_uri(next, "manifest", 0, 900 + idx, &uri, err);
    if (rc == 0)
      rc = uri_list_add(c->cleanup, uri, err);
    if (rc == 0)
      rc = tarn_ice_manifest_write(&t->io, uri, schema, spec, c->snapshot_id, acc, nacc, &mf,
                                   err);
    if (rc == 0) {
      mf.sequence_number = seq;
      mf.min_sequence_number = min_seq == INT64_MAX ? seq : min_seq;
      rc = push_mf(out, nout, outcap, &mf, err);
      tarn_ice_manifest_file_free(&mf);
    }
    tarn_free(uri);
  }
  tarn_ice_manifest_entries_free(acc, nacc);
  return rc;
}

static int apply_produce(tarn_table *t, const tarn_ice_metadata *base, tarn_ice_metadata *next,
                         int attempt, void *ctx, tarn_error *err) {
  produce_ctx *c = ctx;
  const tarn_ice_schema *schema = tarn_ice_metadata_schema(next, next->current_schema_id);
  const tarn_ice_spec *spec = tarn_ice_metadata_spec(next, next->default_spec_id);
  tarn_ice_manifest_file *in = NULL, *outm = NULL;
  size_t nin = 0, nout = 0, outcap = 0, i, nspec_same = 0;
  int64_t seq = base->last_sequence_number + 1;
  int64_t merge_min;
  const char *merge_on = tarn_ice_metadata_property(base, "commit.manifest-merge.enabled");
  tarn_ice_snapshot *snaps, *s;
  tarn_ice_ref *refs;
  tarn_ice_snapshot_log *slog;
  totals tt;
  char *list_uri = NULL;
  int rc = 0;
  memset(&tt, 0, sizeof(tt));
  if (schema == NULL || spec == NULL)
    return tarn_error_set(err, TARN_ECORRUPT, "table %s.%s: current schema or spec missing",
                          t->ns, t->name);
  /* 0. what an earlier attempt wrote lost with it: nothing references it */
  if (attempt > 0) {
    uri_list_delete_all(c->cleanup, &t->io);
    uri_list_free(c->cleanup);
  }
  rc = tarn_ice_property_int(base, "commit.manifest.min-count-to-merge", 100, 0, INT32_MAX,
                             &merge_min, err);
  if (rc != 0)
    return rc;
  /* The caller's check sees the state this attempt replaces, before anything is written. */
  if (c->check != NULL && (rc = c->check(c->check_arg, base, next, err)) != 0)
    return rc;
  /* 1. the new files' manifest, written once and reused by every attempt */
  if (c->nfiles > 0 && !c->have_added) {
    tarn_ice_manifest_entry *es = tarn_calloc(c->nfiles, sizeof(*es));
    char *uri = NULL;
    if (es == NULL)
      return tarn_error_set(err, TARN_ENOMEM, "out of memory");
    for (i = 0; i < c->nfiles; i++) {
      es[i].status = TARN_ICE_ADDED;
      es[i].snapshot_id = c->snapshot_id;
      es[i].sequence_number = -1; /* inherited from the manifest list */
      es[i].file_sequence_number = -1;
      es[i].file = c->files[i]; /* shallow: not freed here */
    }
    rc = make_uri(next, "manifest", 0, 0, &uri, err);
    if (rc == 0)
      rc = tarn_ice_manifest_write(&t->io, uri, schema, spec, c->snapshot_id, es, c->nfiles,
                                   &c->added, err);
    if (rc == 0) {
      c->have_added = 1;
      rc = uri_list_add(&c->keep_on_success, uri, err);
    }
    tarn_free(uri);
    tarn_free(es);
    if (rc != 0)
      return rc;
  }
  for (i = 0; i < c->nfiles; i++) {
    tt.added_files++;
    tt.added_records += c->files[i].record_count;
    tt.added_size += c->files[i].file_size;
  }
  tt.files = tt.added_files;
  tt.records = tt.added_records;
  /* 2. the parent's manifests: carried forward, rewritten (overwrite) or merged */
  rc = base_manifests(t, base, &in, &nin, err);
  if (rc != 0)
    return rc;
  for (i = 0; i < nin; i++)
    nspec_same += in[i].partition_spec_id == spec->spec_id;
  c->merged = 0;
  if (c->overwrite) {
    rc = rewrite_manifests(t, base, next, c, in, nin, 0, seq, &outm, &nout, &outcap, &tt, err);
  } else if ((merge_on == NULL || strcmp(merge_on, "false") != 0) && merge_min > 0 &&
             nspec_same + 1 >= (size_t)merge_min) {
    /* merge the default spec's manifests; others are carried as they are */
    tarn_ice_manifest_file *same = tarn_calloc(nspec_same ? nspec_same : 1, sizeof(*same));
    size_t ns = 0;
    if (same == NULL)
      rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
    for (i = 0; rc == 0 && i < nin; i++) {
      if (in[i].partition_spec_id == spec->spec_id)
        same[ns++] = in[i]; /* shallow */
      else if (in[i].added_files_count + in[i].existing_files_count > 0) {
        rc = push_mf(&outm, &nout, &outcap, &in[i], err);
        tt.files += in[i].added_files_count + in[i].existing_files_count;
        tt.records += in[i].added_rows_count + in[i].existing_rows_count;
      }
    }
    if (rc == 0)
      rc = rewrite_manifests(t, base, next, c, same, ns, 1, seq, &outm, &nout, &outcap, &tt, err);
    c->merged = (int)ns;
    tarn_free(same);
  } else {
    for (i = 0; rc == 0 && i < nin; i++) {
      if (in[i].added_files_count + in[i].existing_files_count == 0)
        continue; /* only deletes of an older snapshot: nothing live to carry */
      rc = push_mf(&outm, &nout, &outcap, &in[i], err);
      tt.files += in[i].added_files_count + in[i].existing_files_count;
      tt.records += in[i].added_rows_count + in[i].existing_rows_count;
    }
  }
  if (rc == 0 && c->have_added) {
    c->added.sequence_number = seq;
    c->added.min_sequence_number = seq;
    /* new files first: readers planning scans see the freshest data first */
    rc = push_mf(&outm, &nout, &outcap, &c->added, err);
    if (rc == 0 && nout > 1) {
      tarn_ice_manifest_file last = outm[nout - 1];
      memmove(outm + 1, outm, (nout - 1) * sizeof(*outm));
      outm[0] = last;
    }
  }
  /* 3. the manifest list of this attempt */
  if (rc == 0)
    rc = make_uri(next, "list", c->snapshot_id, attempt + 1, &list_uri, err);
  if (rc == 0)
    rc = uri_list_add(c->cleanup, list_uri, err);
  if (rc == 0)
    rc = tarn_ice_manifest_list_write(&t->io, list_uri, c->snapshot_id, base->current_snapshot_id,
                                      seq, outm, nout, err);
  if (rc != 0)
    goto out;
  /* 4. the snapshot and the metadata that points at it */
  snaps = tarn_reallocarray(next->snapshots, next->nsnapshots + 1, sizeof(*snaps));
  if (snaps == NULL) {
    rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
    goto out;
  }
  next->snapshots = snaps;
  s = &snaps[next->nsnapshots++];
  memset(s, 0, sizeof(*s));
  s->snapshot_id = c->snapshot_id;
  s->parent_id = base->current_snapshot_id;
  s->sequence_number = seq;
  s->timestamp_ms = tarn_clock_wall_us() / 1000;
  if (s->timestamp_ms <= base->last_updated_ms)
    s->timestamp_ms = base->last_updated_ms + 1;
  s->schema_id = next->current_schema_id;
  s->manifest_list = tarn_strdup(list_uri);
  s->operation = tarn_strdup(tt.deleted_files > 0 ? (tt.added_files > 0 ? "overwrite" : "delete")
                                                  : "append");
  if (s->manifest_list == NULL || s->operation == NULL) {
    rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
    goto out;
  }
  rc = set_summary(s, base, &tt, c, err);
  if (rc != 0)
    goto out;
  next->current_snapshot_id = c->snapshot_id;
  next->last_sequence_number = seq;
  slog = tarn_reallocarray(next->snapshot_log, next->nsnapshot_log + 1, sizeof(*slog));
  if (slog == NULL) {
    rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
    goto out;
  }
  next->snapshot_log = slog;
  slog[next->nsnapshot_log].snapshot_id = c->snapshot_id;
  slog[next->nsnapshot_log].timestamp_ms = s->timestamp_ms;
  next->nsnapshot_log++;
  for (i = 0; i < next->nrefs; i++)
    if (strcmp(next->refs[i].name, "main") == 0)
      break;
  if (i == next->nrefs) {
    refs = tarn_reallocarray(next->refs, next->nrefs + 1, sizeof(*refs));
    if (refs == NULL) {
      rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
      goto out;
    }
    next->refs = refs;
    memset(&refs[i], 0, sizeof(refs[i]));
    refs[i].name = tarn_strdup("main");
    if (refs[i].name == NULL) {
      rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
      goto out;
    }
    next->nrefs++;
  }
  next->refs[i].snapshot_id = c->snapshot_id;
  next->refs[i].is_tag = 0;
out:
  tarn_free(list_uri);
  tarn_ice_manifest_files_free(in, nin);
  tarn_ice_manifest_files_free(outm, nout);
  return rc;
}

static int produce(tarn_table *t, produce_ctx *c, tarn_table_commit_result *res,
                   tarn_error *err) {
  uri_list cleanup = {0};
  size_t i;
  int rc;
  for (i = 0; i < c->nfiles; i++)
    if (c->files[i].npartition != (tarn_table_spec(t) ? tarn_table_spec(t)->nfields : 0))
      return tarn_error_set(err, TARN_EINVAL, "data file %s has %zu partition values; the "
                            "table's spec has %zu fields", c->files[i].file_path,
                            c->files[i].npartition, tarn_table_spec(t)->nfields);
  c->cleanup = &cleanup;
  rc = new_snapshot_id(&c->snapshot_id, err);
  if (rc == 0)
    rc = commit(t, apply_produce, c, res, err);
  if (rc == 0) {
    /* cleanup now holds only the winning attempt's files: they are referenced */
    if (res != NULL) {
      res->manifests_merged = c->merged;
      res->committed = 1;
    }
  } else if (rc == TARN_EALREADY) {
    /* The check found the work done: what this call wrote is referenced by nothing. */
    uri_list_delete_all(&cleanup, &t->io);
    uri_list_delete_all(&c->keep_on_success, &t->io);
    if (res != NULL) {
      memset(res, 0, sizeof(*res));
      res->snapshot_id = t->md.current_snapshot_id;
      res->sequence_number = t->md.last_sequence_number;
    }
    rc = 0;
  } else if (rc != TARN_EUNKNOWN_OUTCOME) {
    uri_list_delete_all(&cleanup, &t->io);
    uri_list_delete_all(&c->keep_on_success, &t->io);
  }
  uri_list_free(&cleanup);
  uri_list_free(&c->keep_on_success);
  tarn_ice_manifest_file_free(&c->added);
  return rc;
}

int tarn_table_commit_files(tarn_table *t, int overwrite, int32_t spec_id,
                            const tarn_ice_value *partition, const tarn_ice_data_file *files,
                            size_t n, const tarn_ice_kv *summary, size_t nsummary,
                            tarn_table_commit_check check, void *check_arg,
                            tarn_table_commit_result *res, tarn_error *err) {
  produce_ctx c;
  memset(&c, 0, sizeof(c));
  c.files = files;
  c.nfiles = n;
  c.overwrite = overwrite;
  c.spec_id = spec_id;
  c.partition = partition;
  c.summary = summary;
  c.nsummary = nsummary;
  c.check = check;
  c.check_arg = check_arg;
  return produce(t, &c, res, err);
}

int tarn_table_append(tarn_table *t, const tarn_ice_data_file *files, size_t n,
                      const tarn_ice_kv *summary, size_t nsummary,
                      tarn_table_commit_result *res, tarn_error *err) {
  return tarn_table_commit_files(t, 0, 0, NULL, files, n, summary, nsummary, NULL, 0, res, err);
}

int tarn_table_overwrite(tarn_table *t, int32_t spec_id, const tarn_ice_value *partition,
                         const tarn_ice_data_file *files, size_t n, const tarn_ice_kv *summary,
                         size_t nsummary, tarn_table_commit_result *res, tarn_error *err) {
  return tarn_table_commit_files(t, 1, spec_id, partition, files, n, summary, nsummary, NULL, 0,
                                 res, err);
}

/* ---- schema and property changes ---- */

typedef struct column_ctx {
  const char *name;
  const tarn_ice_type *type;
  const char *doc;
  int32_t field_id;
} column_ctx;

static int apply_add_column(tarn_table *t, const tarn_ice_metadata *base, tarn_ice_metadata *next,
                            int attempt, void *ctx, tarn_error *err) {
  column_ctx *c = ctx;
  const tarn_ice_schema *cur = tarn_ice_metadata_schema(next, next->current_schema_id);
  tarn_ice_schema *schemas, *ns;
  tarn_ice_field *f;
  int32_t max_schema = 0;
  size_t i;
  int rc;
  if (cur == NULL)
    return tarn_error_set(err, TARN_ECORRUPT, "current schema missing");
  if (tarn_ice_schema_field_by_name(cur, c->name) != NULL)
    return tarn_error_set(err, TARN_EEXIST, "table %s.%s already has a column \"%s\"", t->ns,
                          t->name, c->name);
  for (i = 0; i < next->nschemas; i++)
    if (next->schemas[i].schema_id > max_schema)
      max_schema = next->schemas[i].schema_id;
  schemas = tarn_reallocarray(next->schemas, next->nschemas + 1, sizeof(*schemas));
  if (schemas == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  next->schemas = schemas;
  cur = tarn_ice_metadata_schema(next, next->current_schema_id);
  ns = &schemas[next->nschemas];
  rc = tarn_ice_schema_copy(ns, cur, err);
  if (rc != 0)
    return rc;
  next->nschemas++;
  f = tarn_reallocarray(ns->fields, ns->nfields + 1, sizeof(*f));
  if (f == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  ns->fields = f;
  f = &ns->fields[ns->nfields];
  memset(f, 0, sizeof(*f));
  f->id = next->last_column_id + 1;
  f->required = 0;
  f->type = *c->type;
  f->name = tarn_strdup(c->name);
  f->doc = c->doc ? tarn_strdup(c->doc) : NULL;
  ns->nfields++;
  if (f->name == NULL || (c->doc != NULL && f->doc == NULL))
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  ns->schema_id = max_schema + 1;
  next->current_schema_id = ns->schema_id;
  next->last_column_id = f->id;
  c->field_id = f->id;
  return 0;
}

int tarn_table_add_column(tarn_table *t, const char *name, const tarn_ice_type *type,
                          const char *doc, int32_t *field_id, tarn_error *err) {
  column_ctx c = {name, type, doc, 0};
  int rc;
  if (name == NULL || name[0] == '\0')
    return tarn_error_set(err, TARN_EINVAL, "a new column needs a name");
  rc = commit(t, apply_add_column, &c, NULL, err);
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
      kv_remove(m->properties, &m->nproperties, set[i].key);
    } else {
      int rc = kv_set(&m->properties, &m->nproperties, set[i].key, set[i].value, err);
      if (rc != 0)
        return rc;
    }
  }
  return 0;
}

static int apply_props(tarn_table *t, const tarn_ice_metadata *base, tarn_ice_metadata *next,
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
  int rc = commit(t, apply_props, &c, NULL, err);
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
  return commit(t, apply_drop, &c, NULL, err);
}
