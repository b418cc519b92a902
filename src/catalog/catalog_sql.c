/* catalog_sql.c - the SQL catalog: Iceberg's JDBC table layout and commit protocol. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "catalog/catalog_int.h"

/*
 * The tables, statements and invariants are described in README.md beside this file.
 * Every operation is a "body" run by run(): inside a write transaction when it reads
 * before it writes, as one autocommit statement when it is a single write. When the
 * driver says a failure is transient (locked database, lost connection before anything
 * ambiguous, serialization failure) run() rolls back, waits with jittered backoff and
 * runs the body again until the busy timeout; so bodies start from scratch each time.
 */

/* ---- SQL ---- */

/* The Iceberg Java DDL (JdbcUtil V0 CREATE, then V1's iceberg_type VARCHAR(5) column),
 * with IF NOT EXISTS. PyIceberg's SqlCatalog creates the same columns without
 * iceberg_type; we work with either. */
static const char SQL_CREATE_TABLES[] = "CREATE TABLE IF NOT EXISTS iceberg_tables ("
                                        "catalog_name VARCHAR(255) NOT NULL, "
                                        "table_namespace VARCHAR(255) NOT NULL, "
                                        "table_name VARCHAR(255) NOT NULL, "
                                        "metadata_location VARCHAR(1000), "
                                        "previous_metadata_location VARCHAR(1000), "
                                        "iceberg_type VARCHAR(5), "
                                        "PRIMARY KEY (catalog_name, table_namespace, table_name))";
static const char SQL_CREATE_PROPS[] = "CREATE TABLE IF NOT EXISTS iceberg_namespace_properties ("
                                       "catalog_name VARCHAR(255) NOT NULL, "
                                       "namespace VARCHAR(255) NOT NULL, "
                                       "property_key VARCHAR(255), "
                                       "property_value VARCHAR(1000), "
                                       "PRIMARY KEY (catalog_name, namespace, property_key))";

/* V1 layouts also hold views (iceberg_type 'VIEW'); rows written before V1 have NULL. */
#define IS_TABLE " AND (iceberg_type = 'TABLE' OR iceberg_type IS NULL)"

/* A namespace exists when a table or property row has it, or a child of it ($3 = ns + '.').
 * substr/length compare characters in both databases, case-sensitively (LIKE would
 * ignore ASCII case in SQLite and needs escaping of '_' and '%'). */
static const char SQL_NS_EXISTS[] =
    "SELECT 1 WHERE EXISTS (SELECT 1 FROM iceberg_tables WHERE catalog_name = $1 AND "
    "(table_namespace = $2 OR substr(table_namespace, 1, length($3)) = $3)) "
    "OR EXISTS (SELECT 1 FROM iceberg_namespace_properties WHERE catalog_name = $1 AND "
    "(namespace = $2 OR substr(namespace, 1, length($3)) = $3))";
static const char SQL_LIST_NS[] =
    "SELECT table_namespace FROM iceberg_tables WHERE catalog_name = $1 AND "
    "substr(table_namespace, 1, length($2)) = $2 "
    "UNION SELECT namespace FROM iceberg_namespace_properties WHERE catalog_name = $1 AND "
    "substr(namespace, 1, length($2)) = $2";
static const char SQL_COUNT_IN_NS[] =
    "SELECT count(*) FROM iceberg_tables WHERE catalog_name = $1 AND table_namespace = $2";
static const char SQL_LOAD_PROPS[] =
    "SELECT property_key, property_value FROM iceberg_namespace_properties "
    "WHERE catalog_name = $1 AND namespace = $2";
static const char SQL_INSERT_PROP[] =
    "INSERT INTO iceberg_namespace_properties "
    "(catalog_name, namespace, property_key, property_value) VALUES ($1, $2, $3, $4)";
static const char SQL_UPDATE_PROP[] =
    "UPDATE iceberg_namespace_properties SET property_value = $4 "
    "WHERE catalog_name = $1 AND namespace = $2 AND property_key = $3";
static const char SQL_DELETE_PROP[] =
    "DELETE FROM iceberg_namespace_properties "
    "WHERE catalog_name = $1 AND namespace = $2 AND property_key = $3";
static const char SQL_DELETE_NS[] =
    "DELETE FROM iceberg_namespace_properties WHERE catalog_name = $1 AND namespace = $2";

/* Per layout: [0] = V0 (no iceberg_type column), [1] = V1. */
static const char *const SQL_LIST_TABLES[2] = {
    "SELECT table_name FROM iceberg_tables WHERE catalog_name = $1 AND table_namespace = $2",
    "SELECT table_name FROM iceberg_tables WHERE catalog_name = $1 AND table_namespace = "
    "$2" IS_TABLE,
};
static const char *const SQL_INSERT_TABLE[2] = {
    "INSERT INTO iceberg_tables (catalog_name, table_namespace, table_name, metadata_location, "
    "previous_metadata_location) VALUES ($1, $2, $3, $4, NULL)",
    "INSERT INTO iceberg_tables (catalog_name, table_namespace, table_name, metadata_location, "
    "previous_metadata_location, iceberg_type) VALUES ($1, $2, $3, $4, NULL, 'TABLE')",
};
static const char *const SQL_LOAD_TABLE[2] = {
    "SELECT metadata_location, previous_metadata_location FROM iceberg_tables "
    "WHERE catalog_name = $1 AND table_namespace = $2 AND table_name = $3",
    "SELECT metadata_location, previous_metadata_location FROM iceberg_tables "
    "WHERE catalog_name = $1 AND table_namespace = $2 AND table_name = $3" IS_TABLE,
};
/* The commit: JdbcUtil's DO_COMMIT. $4 = new location, $5 = expected (old) one. */
static const char *const SQL_COMMIT[2] = {
    "UPDATE iceberg_tables SET metadata_location = $4, previous_metadata_location = $5 "
    "WHERE catalog_name = $1 AND table_namespace = $2 AND table_name = $3 "
    "AND metadata_location = $5",
    "UPDATE iceberg_tables SET metadata_location = $4, previous_metadata_location = $5 "
    "WHERE catalog_name = $1 AND table_namespace = $2 AND table_name = $3 "
    "AND metadata_location = $5" IS_TABLE,
};
static const char *const SQL_DROP_TABLE[2] = {
    "DELETE FROM iceberg_tables WHERE catalog_name = $1 AND table_namespace = $2 "
    "AND table_name = $3",
    "DELETE FROM iceberg_tables WHERE catalog_name = $1 AND table_namespace = $2 "
    "AND table_name = $3" IS_TABLE,
};
static const char *const SQL_RENAME_TABLE[2] = {
    "UPDATE iceberg_tables SET table_namespace = $4, table_name = $5 "
    "WHERE catalog_name = $1 AND table_namespace = $2 AND table_name = $3",
    "UPDATE iceberg_tables SET table_namespace = $4, table_name = $5 "
    "WHERE catalog_name = $1 AND table_namespace = $2 AND table_name = $3" IS_TABLE,
};

static const char SQL_COMMIT_TXN[] = "COMMIT";

/* ---- rows, backoff ---- */

void tarn__sql_rows_init(tarn__sql_rows *r) { memset(r, 0, sizeof(*r)); }

void tarn__sql_rows_free(tarn__sql_rows *r) {
  size_t i;
  if (r == NULL)
    return;
  for (i = 0; i < r->nrows * r->ncols; i++)
    tarn_free(r->cells[i]);
  tarn_free(r->cells);
  tarn__sql_rows_init(r);
}

int tarn__sql_rows_push(tarn__sql_rows *r, const char *const *cells, const size_t *lens, size_t n,
                        tarn_error *err) {
  size_t i, base, add = 0;
  if (r->nrows == 0 && r->ncols == 0)
    r->ncols = n;
  if (n != r->ncols)
    return tarn_error_set(err, TARN_EINTERNAL, "result row has %zu cells, expected %zu", n,
                          r->ncols);
  for (i = 0; i < n; i++)
    if (cells[i] != NULL)
      add += lens ? lens[i] : strlen(cells[i]);
  if (add > TARN__SQL_ROWS_MAX_BYTES - r->bytes)
    return tarn_error_set(err, TARN_ETOOBIG, "catalog query result exceeds %zu bytes",
                          TARN__SQL_ROWS_MAX_BYTES);
  base = r->nrows * n;
  if (TARN_GROW(r->cells, r->cap, base + n, 16) != 0)
    return tarn_error_set(err, TARN_ENOMEM, "reading catalog rows: out of memory");
  for (i = 0; i < n; i++) {
    r->cells[base + i] = NULL;
    if (cells[i] != NULL) {
      r->cells[base + i] = tarn_strndup(cells[i], lens ? lens[i] : strlen(cells[i]));
      if (r->cells[base + i] == NULL) {
        while (i-- > 0)
          tarn_free(r->cells[base + i]);
        return tarn_error_set(err, TARN_ENOMEM, "reading catalog rows: out of memory");
      }
    }
  }
  r->nrows++;
  r->bytes += add;
  return 0;
}

const char *tarn__sql_cell(const tarn__sql_rows *r, size_t row, size_t col) {
  if (row >= r->nrows || col >= r->ncols)
    return NULL;
  return r->cells[row * r->ncols + col];
}

uint64_t tarn__sql_backoff_ms(tarn__sql *db, unsigned attempt, uint64_t cap_ms) {
  uint64_t b = attempt >= 20 ? cap_ms : (uint64_t)1 << attempt, x;
  if (b > cap_ms)
    b = cap_ms;
  if (b < 2)
    b = 2;
  /* xorshift64: jitter only, so that waiting writers do not retry in lockstep. */
  x = db->rng ? db->rng : 0x9e3779b97f4a7c15ULL;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  db->rng = x;
  return b / 2 + x % (b - b / 2 + 1);
}

/* ---- the catalog ---- */

typedef struct sql_catalog {
  tarn_catalog base;
  tarn__sql *db;
  char *name;
  int v1;           /* iceberg_tables has the iceberg_type column */
  const char *what; /* the operation in progress, for messages ("commit a.b") */
} sql_catalog;

static const tarn_catalog_ops sql_ops;

/* A result the catalog decides (not found, exists, conflict): names catalog and operation. */
static int fail(sql_catalog *sc, tarn_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(sql_catalog *sc, tarn_error *err, int code, const char *fmt, ...) {
  char msg[TARN_ERROR_DETAIL_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  return tarn_error_set(err, code, "catalog '%s': %s: %s", sc->name, sc->what, msg);
}

/* Prefixes a driver's message with the catalog, the database and the operation. */
static void where(sql_catalog *sc, tarn_error *err) {
  tarn_error_prefix(err, "catalog '%s' (%s %s): %s", sc->name, sc->db->ops->name, sc->db->display,
                    sc->what);
}

/* Runs one statement; a driver failure is prefixed with where and what. */
static int q(sql_catalog *sc, const char *sql, const char *const *params, int n, unsigned flags,
             tarn__sql_rows *rows, int64_t *changes, tarn_error *err) {
  int rc = sc->db->ops->exec(sc->db, sql, params, n, flags, rows, changes, err);
  if (rc != 0)
    where(sc, err);
  return rc;
}

typedef int (*body_fn)(sql_catalog *sc, void *arg, tarn_error *err);

/* Runs body (in a write transaction when txn) with retries of transient failures until
 * the busy timeout. See the comment at the top. */
static int run(sql_catalog *sc, const char *what, int txn, body_fn body, void *arg,
               tarn_error *err) {
  tarn__sql *db = sc->db;
  uint64_t start = tarn_clock_mono_ns(), deadline, now;
  unsigned attempt;
  int rc;
  deadline = start + (uint64_t)(db->busy_timeout_ms > 0 ? db->busy_timeout_ms : 0) * 1000000u;
  db->deadline_ns = deadline;
  sc->what = what;
  for (attempt = 1;; attempt++) {
    db->transient = 0;
    rc = 0;
    if (attempt > 1 && (rc = db->ops->recover(db, err)) != 0)
      where(sc, err);
    if (rc == 0 && txn && (rc = db->ops->begin(db, err)) != 0)
      where(sc, err);
    if (rc == 0) {
      rc = body(sc, arg, err);
      if (rc == 0 && txn)
        rc = q(sc, SQL_COMMIT_TXN, NULL, 0, TARN__SQL_AMBIGUOUS, NULL, NULL, err);
    }
    if (rc != 0 && txn)
      db->ops->rollback(db);
    if (rc == 0 || !db->transient)
      break;
    now = tarn_clock_mono_ns();
    if (now >= deadline)
      break;
    {
      uint64_t ms = tarn__sql_backoff_ms(db, attempt, 100), left = (deadline - now) / 1000000u;
      tarn_sleep_ms(ms < left ? ms : left + 1);
    }
  }
  db->deadline_ns = 0;
  if (rc != 0 && err != NULL)
    err->attempts = (int)attempt;
  return rc;
}

/* ns + '.' into buf (the prefix of its children). */
static int child_prefix(const char *ns, char *buf, size_t n, tarn_error *err) {
  if (snprintf(buf, n, "%s.", ns) >= (int)n)
    return tarn_error_set(err, TARN_ETOOBIG, "namespace is too long");
  return 0;
}

/* 1 in *yes when namespace ns exists. */
static int ns_exists(sql_catalog *sc, const char *ns, int *yes, tarn_error *err) {
  char prefix[1100];
  tarn__sql_rows rows;
  const char *p[3];
  int rc;
  if ((rc = child_prefix(ns, prefix, sizeof(prefix), err)) != 0)
    return rc;
  p[0] = sc->name;
  p[1] = ns;
  p[2] = prefix;
  tarn__sql_rows_init(&rows);
  rc = q(sc, SQL_NS_EXISTS, p, 3, 0, &rows, NULL, err);
  *yes = rc == 0 && rows.nrows > 0;
  tarn__sql_rows_free(&rows);
  return rc;
}

static int need_ns(sql_catalog *sc, const char *ns, tarn_error *err) {
  int yes, rc = ns_exists(sc, ns, &yes, err);
  if (rc == 0 && !yes)
    rc = fail(sc, err, TARN_ENOTFOUND, "namespace \"%s\" does not exist", ns);
  return rc;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_kv(const void *a, const void *b) {
  return strcmp(((const tarn_catalog_kv *)a)->key, ((const tarn_catalog_kv *)b)->key);
}

/* Appends n bytes of s to the list (copied). */
static int names_push(tarn_catalog_names *l, const char *s, size_t n, tarn_error *err) {
  char **items = tarn_reallocarray(l->items, l->count + 1, sizeof(char *));
  if (items == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "listing the catalog: out of memory");
  l->items = items;
  if ((items[l->count] = tarn_strndup(s, n)) == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "listing the catalog: out of memory");
  l->count++;
  return 0;
}

/* Sorts and removes duplicates. */
static void names_sort_unique(tarn_catalog_names *l) {
  size_t i, j = 0;
  if (l->count == 0)
    return;
  qsort(l->items, l->count, sizeof(char *), cmp_str);
  for (i = 1; i < l->count; i++) {
    if (strcmp(l->items[i], l->items[j]) == 0)
      tarn_free(l->items[i]);
    else
      l->items[++j] = l->items[i];
  }
  l->count = j + 1;
}

/* ---- namespaces ---- */

typedef struct ns_args {
  const char *ns;
  const tarn_catalog_prop *props;
  size_t nprops;
  const char *const *remove;
  size_t nremove;
  tarn_catalog_names *names;
  tarn_catalog_props *out;
} ns_args;

static int list_ns_body(sql_catalog *sc, void *arg, tarn_error *err) {
  ns_args *a = arg;
  char prefix[1100];
  size_t plen = 0, i;
  tarn__sql_rows rows;
  const char *p[2];
  int rc;
  tarn_catalog_names_free(a->names);
  prefix[0] = '\0';
  if (a->ns[0] != '\0') {
    if ((rc = need_ns(sc, a->ns, err)) != 0 ||
        (rc = child_prefix(a->ns, prefix, sizeof(prefix), err)) != 0)
      return rc;
    plen = strlen(prefix);
  }
  p[0] = sc->name;
  p[1] = prefix;
  tarn__sql_rows_init(&rows);
  rc = q(sc, SQL_LIST_NS, p, 2, 0, &rows, NULL, err);
  for (i = 0; rc == 0 && i < rows.nrows; i++) {
    const char *s = tarn__sql_cell(&rows, i, 0), *dot;
    size_t n;
    if (s == NULL || strncmp(s, prefix, plen) != 0)
      continue;
    dot = strchr(s + plen, '.');
    n = dot ? (size_t)(dot - s) : strlen(s);
    if (n > plen) /* skip malformed rows with an empty level */
      rc = names_push(a->names, s, n, err);
  }
  tarn__sql_rows_free(&rows);
  if (rc == 0)
    names_sort_unique(a->names);
  return rc;
}

static int sql_list_namespaces(tarn_catalog *cat, const char *parent, tarn_catalog_names *out,
                               tarn_error *err) {
  ns_args a = {.ns = parent, .names = out};
  char what[64 + 1100];
  snprintf(what, sizeof(what), "list namespaces under \"%s\"", parent);
  return run((sql_catalog *)cat, what, 0, list_ns_body, &a, err);
}

static int insert_prop(sql_catalog *sc, const char *ns, const char *key, const char *value,
                       tarn_error *err) {
  const char *p[4] = {sc->name, ns, key, value};
  return q(sc, SQL_INSERT_PROP, p, 4, 0, NULL, NULL, err);
}

static int create_ns_body(sql_catalog *sc, void *arg, tarn_error *err) {
  ns_args *a = arg;
  size_t i;
  int yes, rc = ns_exists(sc, a->ns, &yes, err);
  if (rc == 0 && yes)
    return fail(sc, err, TARN_EEXIST, "namespace \"%s\" already exists", a->ns);
  for (i = 0; rc == 0 && i < a->nprops; i++)
    rc = insert_prop(sc, a->ns, a->props[i].key, a->props[i].value, err);
  /* Iceberg Java always stores this row; it is what makes a namespace without tables or
   * other properties exist. */
  if (rc == 0)
    rc = insert_prop(sc, a->ns, "exists", "true", err);
  if (rc == TARN_EEXIST) /* a concurrent create won */
    rc = fail(sc, err, TARN_EEXIST, "namespace \"%s\" already exists", a->ns);
  return rc;
}

static int sql_create_namespace(tarn_catalog *cat, const char *ns, const tarn_catalog_prop *props,
                                size_t nprops, tarn_error *err) {
  ns_args a = {.ns = ns, .props = props, .nprops = nprops};
  char what[64 + 1100];
  snprintf(what, sizeof(what), "create namespace \"%s\"", ns);
  return run((sql_catalog *)cat, what, 1, create_ns_body, &a, err);
}

static int load_ns_body(sql_catalog *sc, void *arg, tarn_error *err) {
  ns_args *a = arg;
  tarn__sql_rows rows;
  const char *p[2] = {sc->name, a->ns};
  size_t i;
  int rc;
  tarn_catalog_props_free(a->out);
  if ((rc = need_ns(sc, a->ns, err)) != 0)
    return rc;
  tarn__sql_rows_init(&rows);
  rc = q(sc, SQL_LOAD_PROPS, p, 2, 0, &rows, NULL, err);
  if (rc == 0 && rows.nrows > 0) {
    a->out->items = tarn_calloc(rows.nrows, sizeof(tarn_catalog_kv));
    if (a->out->items == NULL)
      rc = tarn_error_set(err, TARN_ENOMEM, "loading namespace properties: out of memory");
  }
  for (i = 0; rc == 0 && i < rows.nrows; i++) {
    const char *k = tarn__sql_cell(&rows, i, 0), *v = tarn__sql_cell(&rows, i, 1);
    tarn_catalog_kv *kv;
    if (k == NULL || strcmp(k, "exists") == 0)
      continue; /* the reserved row; Iceberg Java hides it too */
    kv = &a->out->items[a->out->count];
    kv->key = tarn_strdup(k);
    kv->value = tarn_strdup(v ? v : "");
    if (kv->key == NULL || kv->value == NULL) {
      tarn_free(kv->key);
      tarn_free(kv->value);
      rc = tarn_error_set(err, TARN_ENOMEM, "loading namespace properties: out of memory");
      break;
    }
    a->out->count++;
  }
  tarn__sql_rows_free(&rows);
  if (rc == 0 && a->out->count > 1)
    qsort(a->out->items, a->out->count, sizeof(tarn_catalog_kv), cmp_kv);
  return rc;
}

static int sql_load_namespace(tarn_catalog *cat, const char *ns, tarn_catalog_props *out,
                              tarn_error *err) {
  ns_args a = {.ns = ns, .out = out};
  char what[64 + 1100];
  int rc;
  snprintf(what, sizeof(what), "load namespace \"%s\"", ns);
  rc = run((sql_catalog *)cat, what, 0, load_ns_body, &a, err);
  if (rc != 0)
    tarn_catalog_props_free(out);
  return rc;
}

static int update_ns_body(sql_catalog *sc, void *arg, tarn_error *err) {
  ns_args *a = arg;
  size_t i;
  int rc = need_ns(sc, a->ns, err);
  for (i = 0; rc == 0 && i < a->nremove; i++) {
    const char *p[3] = {sc->name, a->ns, a->remove[i]};
    rc = q(sc, SQL_DELETE_PROP, p, 3, 0, NULL, NULL, err);
  }
  for (i = 0; rc == 0 && i < a->nprops; i++) {
    const char *p[4] = {sc->name, a->ns, a->props[i].key, a->props[i].value};
    int64_t changed = 0;
    rc = q(sc, SQL_UPDATE_PROP, p, 4, 0, NULL, &changed, err);
    if (rc == 0 && changed == 0)
      rc = insert_prop(sc, a->ns, a->props[i].key, a->props[i].value, err);
  }
  return rc;
}

static int sql_update_namespace(tarn_catalog *cat, const char *ns, const tarn_catalog_prop *set,
                                size_t nset, const char *const *remove, size_t nremove,
                                tarn_error *err) {
  ns_args a = {.ns = ns, .props = set, .nprops = nset, .remove = remove, .nremove = nremove};
  char what[64 + 1100];
  snprintf(what, sizeof(what), "update namespace \"%s\"", ns);
  return run((sql_catalog *)cat, what, 1, update_ns_body, &a, err);
}

static int drop_ns_body(sql_catalog *sc, void *arg, tarn_error *err) {
  ns_args *a = arg;
  tarn__sql_rows rows;
  const char *p[2] = {sc->name, a->ns};
  int rc = need_ns(sc, a->ns, err);
  if (rc != 0)
    return rc;
  tarn__sql_rows_init(&rows);
  rc = q(sc, SQL_COUNT_IN_NS, p, 2, 0, &rows, NULL, err);
  if (rc == 0) {
    const char *n = tarn__sql_cell(&rows, 0, 0);
    if (n != NULL && strcmp(n, "0") != 0)
      rc = fail(sc, err, TARN_EEXIST,
                "namespace \"%s\" is not empty: %s tables or views are still in it", a->ns, n);
  }
  tarn__sql_rows_free(&rows);
  if (rc == 0)
    rc = q(sc, SQL_DELETE_NS, p, 2, 0, NULL, NULL, err);
  return rc;
}

static int sql_drop_namespace(tarn_catalog *cat, const char *ns, tarn_error *err) {
  ns_args a = {.ns = ns};
  char what[64 + 1100];
  snprintf(what, sizeof(what), "drop namespace \"%s\"", ns);
  return run((sql_catalog *)cat, what, 1, drop_ns_body, &a, err);
}

/* ---- tables ---- */

typedef struct table_args {
  const char *ns, *table;
  const char *location; /* create: the first location; commit: the new one */
  const char *expected; /* commit */
  const char *to_ns, *to_table;
  tarn_catalog_names *names;
  tarn_catalog_table *out;
} table_args;

static int list_tables_body(sql_catalog *sc, void *arg, tarn_error *err) {
  table_args *a = arg;
  tarn__sql_rows rows;
  const char *p[2] = {sc->name, a->ns};
  size_t i;
  int rc;
  tarn_catalog_names_free(a->names);
  if ((rc = need_ns(sc, a->ns, err)) != 0)
    return rc;
  tarn__sql_rows_init(&rows);
  rc = q(sc, SQL_LIST_TABLES[sc->v1], p, 2, 0, &rows, NULL, err);
  for (i = 0; rc == 0 && i < rows.nrows; i++) {
    const char *s = tarn__sql_cell(&rows, i, 0);
    if (s != NULL)
      rc = names_push(a->names, s, strlen(s), err);
  }
  tarn__sql_rows_free(&rows);
  if (rc == 0)
    names_sort_unique(a->names);
  return rc;
}

static int sql_list_tables(tarn_catalog *cat, const char *ns, tarn_catalog_names *out,
                           tarn_error *err) {
  table_args a = {.ns = ns, .names = out};
  char what[64 + 1100];
  snprintf(what, sizeof(what), "list tables in \"%s\"", ns);
  return run((sql_catalog *)cat, what, 0, list_tables_body, &a, err);
}

static int create_table_body(sql_catalog *sc, void *arg, tarn_error *err) {
  table_args *a = arg;
  const char *p[4] = {sc->name, a->ns, a->table, a->location};
  int rc = need_ns(sc, a->ns, err);
  if (rc == 0)
    rc = q(sc, SQL_INSERT_TABLE[sc->v1], p, 4, 0, NULL, NULL, err);
  if (rc == TARN_EEXIST)
    rc = fail(sc, err, TARN_EEXIST, "a table or view named %s.%s already exists", a->ns, a->table);
  return rc;
}

static int sql_create_table(tarn_catalog *cat, const char *ns, const char *table,
                            const char *metadata_location, tarn_error *err) {
  table_args a = {.ns = ns, .table = table, .location = metadata_location};
  char what[64 + 2200];
  snprintf(what, sizeof(what), "register table %s.%s", ns, table);
  return run((sql_catalog *)cat, what, 1, create_table_body, &a, err);
}

/* Reads the row of (ns, table) into rows: 0 rows when there is no such table. */
static int select_table(sql_catalog *sc, const char *ns, const char *table, tarn__sql_rows *rows,
                        tarn_error *err) {
  const char *p[3] = {sc->name, ns, table};
  return q(sc, SQL_LOAD_TABLE[sc->v1], p, 3, 0, rows, NULL, err);
}

static int load_table_body(sql_catalog *sc, void *arg, tarn_error *err) {
  table_args *a = arg;
  tarn__sql_rows rows;
  const char *cur, *prev;
  int rc;
  tarn_catalog_table_free(a->out);
  tarn__sql_rows_init(&rows);
  rc = select_table(sc, a->ns, a->table, &rows, err);
  if (rc == 0 && rows.nrows == 0)
    rc = fail(sc, err, TARN_ENOTFOUND, "table %s.%s does not exist", a->ns, a->table);
  if (rc == 0) {
    cur = tarn__sql_cell(&rows, 0, 0);
    prev = tarn__sql_cell(&rows, 0, 1);
    if (cur == NULL || cur[0] == '\0') {
      rc = fail(sc, err, TARN_ECORRUPT, "table %s.%s has no metadata_location", a->ns, a->table);
    } else if ((a->out->metadata_location = tarn_strdup(cur)) == NULL ||
               (prev != NULL && (a->out->previous_metadata_location = tarn_strdup(prev)) == NULL)) {
      rc = tarn_error_set(err, TARN_ENOMEM, "loading table %s.%s: out of memory", a->ns, a->table);
    }
  }
  tarn__sql_rows_free(&rows);
  return rc;
}

static int sql_load_table(tarn_catalog *cat, const char *ns, const char *table,
                          tarn_catalog_table *out, tarn_error *err) {
  table_args a = {.ns = ns, .table = table, .out = out};
  char what[64 + 2200];
  snprintf(what, sizeof(what), "load table %s.%s", ns, table);
  return run((sql_catalog *)cat, what, 0, load_table_body, &a, err);
}

/*
 * The compare-and-swap: one UPDATE whose WHERE clause carries the expected location.
 * One row changed is the commit; none means someone else committed first (or the table
 * is gone, which a second read tells apart). Running it again after a transient failure
 * is safe: it either applies now or finds the row changed.
 */
static int commit_body(sql_catalog *sc, void *arg, tarn_error *err) {
  table_args *a = arg;
  const char *p[5] = {sc->name, a->ns, a->table, a->location, a->expected};
  tarn__sql_rows rows;
  int64_t changed = 0;
  int rc = q(sc, SQL_COMMIT[sc->v1], p, 5, TARN__SQL_AMBIGUOUS, NULL, &changed, err);
  if (rc != 0)
    return rc;
  if (changed == 1)
    return 0;
  if (changed > 1) /* impossible with the primary key; never call that a success */
    return fail(sc, err, TARN_EINTERNAL, "%lld rows matched table %s.%s", (long long)changed, a->ns,
                a->table);
  tarn__sql_rows_init(&rows);
  rc = select_table(sc, a->ns, a->table, &rows, err);
  if (rc == 0 && rows.nrows == 0)
    rc = fail(sc, err, TARN_ENOTFOUND, "table %s.%s does not exist", a->ns, a->table);
  else if (rc == 0) {
    const char *cur = tarn__sql_cell(&rows, 0, 0);
    rc = fail(sc, err, TARN_ECONFLICT,
              "table %s.%s was committed concurrently: expected %s, current %s", a->ns, a->table,
              a->expected, cur ? cur : "NULL");
  }
  tarn__sql_rows_free(&rows);
  return rc;
}

static int sql_commit(tarn_catalog *cat, const char *ns, const char *table, const char *expected,
                      const char *new_location, tarn_error *err) {
  table_args a = {.ns = ns, .table = table, .location = new_location, .expected = expected};
  char what[64 + 2200];
  snprintf(what, sizeof(what), "commit %s.%s", ns, table);
  return run((sql_catalog *)cat, what, 0, commit_body, &a, err);
}

static int drop_table_body(sql_catalog *sc, void *arg, tarn_error *err) {
  table_args *a = arg;
  const char *p[3] = {sc->name, a->ns, a->table};
  int64_t changed = 0;
  int rc = q(sc, SQL_DROP_TABLE[sc->v1], p, 3, TARN__SQL_AMBIGUOUS, NULL, &changed, err);
  if (rc == 0 && changed == 0)
    rc = fail(sc, err, TARN_ENOTFOUND, "table %s.%s does not exist", a->ns, a->table);
  return rc;
}

static int sql_drop_table(tarn_catalog *cat, const char *ns, const char *table, tarn_error *err) {
  table_args a = {.ns = ns, .table = table};
  char what[64 + 2200];
  snprintf(what, sizeof(what), "drop table %s.%s", ns, table);
  return run((sql_catalog *)cat, what, 0, drop_table_body, &a, err);
}

static int rename_body(sql_catalog *sc, void *arg, tarn_error *err) {
  table_args *a = arg;
  const char *p[5] = {sc->name, a->ns, a->table, a->to_ns, a->to_table};
  tarn__sql_rows rows;
  int64_t changed = 0;
  int rc;
  tarn__sql_rows_init(&rows);
  rc = select_table(sc, a->ns, a->table, &rows, err);
  if (rc == 0 && rows.nrows == 0)
    rc = fail(sc, err, TARN_ENOTFOUND, "table %s.%s does not exist", a->ns, a->table);
  tarn__sql_rows_free(&rows);
  if (rc == 0)
    rc = need_ns(sc, a->to_ns, err);
  if (rc == 0)
    rc = q(sc, SQL_RENAME_TABLE[sc->v1], p, 5, 0, NULL, &changed, err);
  if (rc == TARN_EEXIST)
    rc = fail(sc, err, TARN_EEXIST, "a table or view named %s.%s already exists", a->to_ns,
              a->to_table);
  else if (rc == 0 && changed != 1)
    rc = fail(sc, err, TARN_ENOTFOUND, "table %s.%s does not exist", a->ns, a->table);
  return rc;
}

static int sql_rename_table(tarn_catalog *cat, const char *from_ns, const char *from_table,
                            const char *to_ns, const char *to_table, tarn_error *err) {
  table_args a = {.ns = from_ns, .table = from_table, .to_ns = to_ns, .to_table = to_table};
  char what[64 + 4400];
  snprintf(what, sizeof(what), "rename table %s.%s to %s.%s", from_ns, from_table, to_ns, to_table);
  return run((sql_catalog *)cat, what, 1, rename_body, &a, err);
}

static void sql_destroy(tarn_catalog *cat) {
  sql_catalog *sc = (sql_catalog *)cat;
  sc->db->ops->destroy(sc->db);
  tarn_free(sc->name);
  tarn_free(sc);
}

static const tarn_catalog_ops sql_ops = {
    "sql",
    sql_list_namespaces,
    sql_create_namespace,
    sql_load_namespace,
    sql_update_namespace,
    sql_drop_namespace,
    sql_list_tables,
    sql_create_table,
    sql_load_table,
    sql_commit,
    sql_drop_table,
    sql_rename_table,
    sql_destroy,
};

/* ---- opening: the schema ---- */

typedef struct schema_args {
  int have_tables, have_props;
} schema_args;

static int schema_check_body(sql_catalog *sc, void *arg, tarn_error *err) {
  schema_args *a = arg;
  int rc = sc->db->ops->table_exists(sc->db, "iceberg_tables", &a->have_tables, err);
  if (rc == 0)
    rc = sc->db->ops->table_exists(sc->db, "iceberg_namespace_properties", &a->have_props, err);
  if (rc != 0)
    where(sc, err);
  return rc;
}

/* CREATE TABLE IF NOT EXISTS under a lock: two processes starting on an empty database
 * must not trip over each other's DDL (PostgreSQL can fail a concurrent CREATE TABLE IF
 * NOT EXISTS on its catalog's unique index). */
static int schema_create_body(sql_catalog *sc, void *arg, tarn_error *err) {
  int rc = sc->db->ops->schema_lock(sc->db, err);
  (void)arg;
  if (rc != 0)
    where(sc, err);
  if (rc == 0)
    rc = q(sc, SQL_CREATE_TABLES, NULL, 0, 0, NULL, NULL, err);
  if (rc == 0)
    rc = q(sc, SQL_CREATE_PROPS, NULL, 0, 0, NULL, NULL, err);
  return rc;
}

static int schema_columns_body(sql_catalog *sc, void *arg, tarn_error *err) {
  int rc = sc->db->ops->column_exists(sc->db, "iceberg_tables", "iceberg_type", &sc->v1, err);
  (void)arg;
  if (rc != 0)
    where(sc, err);
  return rc;
}

int tarn__catalog_sql_open(tarn__sql *db, const tarn_catalog_options *o, tarn_catalog **out,
                           tarn_error *err) {
  sql_catalog *sc;
  schema_args sa = {0, 0};
  const char *name = o && o->name ? o->name : TARN_CATALOG_DEFAULT_NAME;
  int rc;
  *out = NULL;
  if ((rc = tarn__catalog_check_name("catalog name", name, 255, 0, err)) != 0) {
    db->ops->destroy(db);
    return rc;
  }
  sc = tarn_calloc(1, sizeof(*sc));
  if (sc == NULL || (sc->name = tarn_strdup(name)) == NULL) {
    tarn_free(sc);
    db->ops->destroy(db);
    return tarn_error_set(err, TARN_ENOMEM, "opening the catalog: out of memory");
  }
  sc->base.ops = &sql_ops;
  sc->base.name = sc->name;
  sc->db = db;
  rc = run(sc, "checking the catalog tables", 0, schema_check_body, &sa, err);
  if (rc == 0 && (!sa.have_tables || !sa.have_props))
    rc = run(sc, "creating the catalog tables", 1, schema_create_body, NULL, err);
  if (rc == 0)
    rc = run(sc, "checking the catalog tables", 0, schema_columns_body, NULL, err);
  if (rc != 0) {
    sql_destroy(&sc->base);
    return rc;
  }
  if (!sc->v1)
    tarn_log_info("catalog tables have no iceberg_type column (layout V0, as PyIceberg and "
                  "older Iceberg Java create them); using them as they are",
                  "catalog=%s db=%s", sc->name, db->display);
  *out = &sc->base;
  return 0;
}

int tarn__catalog_pg_backend_pid(tarn_catalog *cat) {
  sql_catalog *sc = (sql_catalog *)cat;
  if (cat == NULL || cat->ops != &sql_ops || strcmp(sc->db->ops->name, "postgres") != 0)
    return 0;
  return tarn__sql_pg_backend_pid(sc->db);
}
