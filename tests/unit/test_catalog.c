/* test_catalog.c - the catalog: one suite run on SQLite and (CATALOG_TEST_PG) PostgreSQL. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/config.h"
#include "base/error.h"
#include "base/log.h"
#include "base/settings.h"
#include "catalog/catalog.h"
#include "catalog/catalog_int.h"

/*
 * Every test in SUITE runs once per backend. SQLite gets a fresh temp directory per
 * test. PostgreSQL (when CATALOG_TEST_PG holds a libpq connection string) gets a fresh
 * schema per test, selected with options='-c search_path=...', so tests can create the
 * catalog tables themselves (compatibility tests) and never see each other's rows.
 * CATALOG_TEST_ONLY_PG=1 skips the SQLite and backend-independent groups (the e2e script
 * sets it after ctest already ran them).
 */

enum { BACKEND_SQLITE = 1, BACKEND_PG = 2 };
static int backend_sqlite = BACKEND_SQLITE; /* cmocka prestates are void * */
static int backend_pg = BACKEND_PG;

typedef struct fixture {
  int backend;
  char dir[64];        /* temp dir (both backends: logs of the concurrency test) */
  char path[128];      /* SQLite database */
  char schema[64];     /* PostgreSQL schema of this test */
  char conninfo[2048]; /* PostgreSQL: CATALOG_TEST_PG + search_path */
  PGconn *raw;         /* PostgreSQL: a plain connection for setup and checks */
  tarn_catalog *cat;
} fixture;

static unsigned schema_counter;

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static void rm_rf(const char *dir) { nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS); }

/* Runs SQL on the fixture's database outside the catalog; fails the test on error. */
static void raw_exec(fixture *fx, const char *sql) {
  if (fx->backend == BACKEND_SQLITE) {
    sqlite3 *db = NULL;
    char *msg = NULL;
    if (sqlite3_open(fx->path, &db) != SQLITE_OK)
      fail_msg("sqlite open %s", fx->path);
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
      char copy[512];
      snprintf(copy, sizeof(copy), "%s", msg ? msg : "?");
      sqlite3_free(msg);
      sqlite3_close(db);
      fail_msg("raw sql failed: %s: %s", sql, copy);
    }
    sqlite3_close(db);
  } else {
    PGresult *res = PQexec(fx->raw, sql);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      char copy[512];
      snprintf(copy, sizeof(copy), "%s", PQresultErrorMessage(res));
      PQclear(res);
      fail_msg("raw sql failed: %s: %s", sql, copy);
    }
    PQclear(res);
  }
}

/* First cell of the first row as text ("NULL" for SQL NULL), "" when no rows. */
static void raw_query(fixture *fx, const char *sql, char *out, size_t n) {
  out[0] = '\0';
  if (fx->backend == BACKEND_SQLITE) {
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_open(fx->path, &db) != SQLITE_OK)
      fail_msg("sqlite open");
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
      char copy[512];
      snprintf(copy, sizeof(copy), "%s", sqlite3_errmsg(db));
      sqlite3_close(db);
      fail_msg("raw query failed: %s: %s", sql, copy);
    }
    if (sqlite3_step(st) == SQLITE_ROW) {
      const char *v = (const char *)sqlite3_column_text(st, 0);
      snprintf(out, n, "%s", v ? v : "NULL");
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
  } else {
    PGresult *res = PQexec(fx->raw, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
      char copy[512];
      snprintf(copy, sizeof(copy), "%s", PQresultErrorMessage(res));
      PQclear(res);
      fail_msg("raw query failed: %s: %s", sql, copy);
    }
    if (PQntuples(res) > 0)
      snprintf(out, n, "%s", PQgetisnull(res, 0, 0) ? "NULL" : PQgetvalue(res, 0, 0));
    PQclear(res);
  }
}

/* Column names of a table in order, comma-separated. */
static void raw_columns(fixture *fx, const char *table, char *out, size_t n) {
  char sql[512];
  if (fx->backend == BACKEND_SQLITE)
    snprintf(sql, sizeof(sql),
             "SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_table_info('%s') "
             "ORDER BY cid)",
             table);
  else
    snprintf(sql, sizeof(sql),
             "SELECT string_agg(column_name::text, ',' ORDER BY ordinal_position) FROM "
             "information_schema.columns WHERE table_schema = current_schema() AND "
             "table_name = '%s'",
             table);
  raw_query(fx, sql, out, n);
}

/* A libpq connection string that selects `schema` (both syntaxes). */
static void pg_conninfo_with_schema(const char *base, const char *schema, char *out, size_t n) {
  if (strncmp(base, "postgres://", 11) == 0 || strncmp(base, "postgresql://", 13) == 0)
    snprintf(out, n, "%s%soptions=-csearch_path%%3D%s", base, strchr(base, '?') ? "&" : "?",
             schema);
  else
    snprintf(out, n, "%s options='-c search_path=%s'", base, schema);
}

static int open_cat_opts(fixture *fx, const char *name, int64_t busy_ms, tarn_catalog **out,
                         tarn_error *err) {
  tarn_catalog_options o;
  tarn_catalog_options_init(&o);
  if (name != NULL)
    o.name = name;
  if (busy_ms >= 0)
    o.busy_timeout_ms = busy_ms;
  if (fx->backend == BACKEND_SQLITE)
    return tarn_catalog_sqlite_open(fx->path, &o, out, err);
  return tarn_catalog_pg_open(fx->conninfo, &o, out, err);
}

/* Opens another handle on the fixture's database. */
static tarn_catalog *open_cat(fixture *fx, const char *name) {
  tarn_catalog *cat = NULL;
  tarn_error err;
  int rc = open_cat_opts(fx, name, 10000, &cat, &err);
  if (rc != 0)
    fail_msg("open catalog: %s", tarn_error_message(&err));
  return cat;
}

static void quiet_notice(void *arg, const char *msg) {
  (void)arg;
  (void)msg; /* "drop cascades to ..." */
}

/* Prepares the database without opening a catalog (tests that pre-create tables). */
static int setup_bare(void **state) {
  fixture *fx = calloc(1, sizeof(*fx));
  if (fx == NULL)
    return -1;
  fx->backend = *(const int *)*state;
  snprintf(fx->dir, sizeof(fx->dir), "/tmp/tarn-cat-test-XXXXXX");
  if (mkdtemp(fx->dir) == NULL) {
    free(fx);
    return -1;
  }
  snprintf(fx->path, sizeof(fx->path), "%s/catalog.db", fx->dir);
  if (fx->backend == BACKEND_PG) {
    const char *base = getenv("CATALOG_TEST_PG");
    char sql[128];
    PGresult *res;
    snprintf(fx->schema, sizeof(fx->schema), "tarn_t_%d_%u", (int)getpid(), ++schema_counter);
    pg_conninfo_with_schema(base, fx->schema, fx->conninfo, sizeof(fx->conninfo));
    fx->raw = PQconnectdb(fx->conninfo);
    if (PQstatus(fx->raw) != CONNECTION_OK) {
      fprintf(stderr, "raw connect: %s\n", PQerrorMessage(fx->raw));
      PQfinish(fx->raw);
      rm_rf(fx->dir);
      free(fx);
      return -1;
    }
    PQsetNoticeProcessor(fx->raw, quiet_notice, NULL);
    snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", fx->schema);
    res = PQexec(fx->raw, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
      fprintf(stderr, "create schema: %s\n", PQresultErrorMessage(res));
      PQclear(res);
      PQfinish(fx->raw);
      rm_rf(fx->dir);
      free(fx);
      return -1;
    }
    PQclear(res);
  }
  *state = fx;
  return 0;
}

static int setup(void **state) {
  fixture *fx;
  tarn_error err;
  if (setup_bare(state) != 0)
    return -1;
  fx = *state;
  if (open_cat_opts(fx, NULL, 10000, &fx->cat, &err) != 0) {
    fprintf(stderr, "open: %s\n", tarn_error_message(&err));
    return -1;
  }
  return 0;
}

static int teardown(void **state) {
  fixture *fx = *state;
  tarn_alloc_fail_reset();
  tarn_catalog_destroy(fx->cat);
  if (fx->raw != NULL) {
    char sql[128];
    PGresult *res;
    snprintf(sql, sizeof(sql), "DROP SCHEMA %s CASCADE", fx->schema);
    res = PQexec(fx->raw, sql);
    PQclear(res);
    PQfinish(fx->raw);
  }
  rm_rf(fx->dir);
  free(fx);
  return 0;
}

/* ---- helpers ---- */

#define OK(call)                                                                                   \
  do {                                                                                             \
    tarn_error e_;                                                                                 \
    int rc_ = (call);                                                                              \
    if (rc_ != 0)                                                                                  \
      fail_msg("%s: %s (%s)", #call, tarn_error_message(&e_), tarn_err_name(rc_));                 \
  } while (0)
#define E (&e_)

#define EXPECT(want, call)                                                                         \
  do {                                                                                             \
    tarn_error e_;                                                                                 \
    int rc_ = (call);                                                                              \
    if (rc_ != (want))                                                                             \
      fail_msg("%s: want %s, got %s: %s", #call, tarn_err_name(want), tarn_err_name(rc_),          \
               rc_ ? tarn_error_message(&e_) : "");                                                \
    assert_int_equal(e_.code, (want));                                                             \
  } while (0)

static void create_ns(tarn_catalog *cat, const char *ns) {
  OK(tarn_catalog_create_namespace(cat, ns, NULL, 0, E));
}

static void assert_names(const tarn_catalog_names *l, const char *const *want, size_t n) {
  size_t i;
  if (l->count != n) {
    for (i = 0; i < l->count; i++)
      fprintf(stderr, "  got [%s]\n", l->items[i]);
    fail_msg("want %zu names, got %zu", n, l->count);
  }
  for (i = 0; i < n; i++)
    assert_string_equal(l->items[i], want[i]);
}

static void assert_location(tarn_catalog *cat, const char *ns, const char *t, const char *cur,
                            const char *prev) {
  tarn_catalog_table tb;
  tarn_catalog_table_init(&tb);
  OK(tarn_catalog_load_table(cat, ns, t, &tb, E));
  assert_string_equal(tb.metadata_location, cur);
  if (prev == NULL)
    assert_null(tb.previous_metadata_location);
  else {
    assert_non_null(tb.previous_metadata_location);
    assert_string_equal(tb.previous_metadata_location, prev);
  }
  tarn_catalog_table_free(&tb);
}

/* ---- the suite, every backend ---- */

static void test_namespaces(void **state) {
  fixture *fx = *state;
  tarn_catalog *cat = fx->cat;
  tarn_catalog_names l;
  tarn_catalog_props p;
  tarn_catalog_prop props[] = {{"owner", "ops"}, {"location", "s3://lake/db"}, {"empty", ""}};
  tarn_catalog_names_init(&l);
  tarn_catalog_props_init(&p);

  OK(tarn_catalog_list_namespaces(cat, NULL, &l, E));
  assert_int_equal(l.count, 0);
  OK(tarn_catalog_create_namespace(cat, "datasets", props, 3, E));
  create_ns(cat, "system");
  EXPECT(TARN_EEXIST, tarn_catalog_create_namespace(cat, "datasets", NULL, 0, E));

  OK(tarn_catalog_list_namespaces(cat, "", &l, E));
  {
    const char *want[] = {"datasets", "system"};
    assert_names(&l, want, 2);
  }

  OK(tarn_catalog_load_namespace(cat, "datasets", &p, E));
  assert_int_equal(p.count, 3); /* "exists" is hidden */
  assert_string_equal(p.items[0].key, "empty");
  assert_string_equal(p.items[0].value, "");
  assert_string_equal(p.items[1].key, "location");
  assert_string_equal(p.items[1].value, "s3://lake/db");
  assert_string_equal(p.items[2].key, "owner");
  assert_string_equal(p.items[2].value, "ops");
  OK(tarn_catalog_load_namespace(cat, "system", &p, E));
  assert_int_equal(p.count, 0);
  EXPECT(TARN_ENOTFOUND, tarn_catalog_load_namespace(cat, "nope", &p, E));
  assert_int_equal(p.count, 0);

  /* Stored as Iceberg Java stores it: one row per property plus exists=true. */
  {
    char v[64];
    raw_query(fx,
              "SELECT property_value FROM iceberg_namespace_properties WHERE catalog_name = "
              "'tarn' AND namespace = 'system' AND property_key = 'exists'",
              v, sizeof(v));
    assert_string_equal(v, "true");
    raw_query(fx, "SELECT count(*) FROM iceberg_namespace_properties WHERE namespace = 'datasets'",
              v, sizeof(v));
    assert_string_equal(v, "4");
  }

  OK(tarn_catalog_drop_namespace(cat, "system", E));
  EXPECT(TARN_ENOTFOUND, tarn_catalog_drop_namespace(cat, "system", E));
  EXPECT(TARN_ENOTFOUND, tarn_catalog_list_tables(cat, "system", &l, E));
  OK(tarn_catalog_list_namespaces(cat, NULL, &l, E));
  {
    const char *want[] = {"datasets"};
    assert_names(&l, want, 1);
  }

  /* Not empty: a table keeps the namespace. */
  OK(tarn_catalog_register_table(cat, "datasets", "t", "file:///m/00001.metadata.json", E));
  EXPECT(TARN_EEXIST, tarn_catalog_drop_namespace(cat, "datasets", E));
  OK(tarn_catalog_drop_table(cat, "datasets", "t", E));
  OK(tarn_catalog_drop_namespace(cat, "datasets", E));
  OK(tarn_catalog_list_namespaces(cat, NULL, &l, E));
  assert_int_equal(l.count, 0);
  tarn_catalog_names_free(&l);
  tarn_catalog_props_free(&p);
}

static void test_namespace_properties(void **state) {
  fixture *fx = *state;
  tarn_catalog *cat = fx->cat;
  tarn_catalog_props p;
  tarn_catalog_prop set1[] = {{"a", "1"}, {"b", "2"}};
  tarn_catalog_prop set2[] = {{"b", "two"}, {"c", "3"}};
  const char *rm[] = {"a", "missing"};
  tarn_catalog_prop reserved[] = {{"exists", "false"}};
  tarn_catalog_prop dup[] = {{"x", "1"}, {"x", "2"}};
  const char *rm_exists[] = {"exists"};
  tarn_catalog_props_init(&p);

  OK(tarn_catalog_create_namespace(cat, "n", set1, 2, E));
  OK(tarn_catalog_update_namespace(cat, "n", set2, 2, rm, 2, E));
  OK(tarn_catalog_load_namespace(cat, "n", &p, E));
  assert_int_equal(p.count, 2);
  assert_string_equal(p.items[0].key, "b");
  assert_string_equal(p.items[0].value, "two");
  assert_string_equal(p.items[1].key, "c");
  assert_string_equal(p.items[1].value, "3");

  EXPECT(TARN_EINVAL, tarn_catalog_create_namespace(cat, "m", reserved, 1, E));
  EXPECT(TARN_EINVAL, tarn_catalog_create_namespace(cat, "m", dup, 2, E));
  EXPECT(TARN_EINVAL, tarn_catalog_update_namespace(cat, "n", reserved, 1, NULL, 0, E));
  EXPECT(TARN_EINVAL, tarn_catalog_update_namespace(cat, "n", NULL, 0, rm_exists, 1, E));
  EXPECT(TARN_EINVAL, tarn_catalog_update_namespace(cat, "n", dup, 2, NULL, 0, E));
  EXPECT(TARN_EINVAL, tarn_catalog_update_namespace(cat, "n", set2, 1, (const char *[]){"b"}, 1,
                                                    E)); /* set and remove the same key */
  EXPECT(TARN_ENOTFOUND, tarn_catalog_update_namespace(cat, "m", set1, 1, NULL, 0, E));
  /* Removing every property leaves the namespace (its "exists" row stays). */
  {
    const char *all[] = {"b", "c"};
    OK(tarn_catalog_update_namespace(cat, "n", NULL, 0, all, 2, E));
    OK(tarn_catalog_load_namespace(cat, "n", &p, E));
    assert_int_equal(p.count, 0);
  }
  tarn_catalog_props_free(&p);
}

static void test_multilevel_namespaces(void **state) {
  fixture *fx = *state;
  tarn_catalog *cat = fx->cat;
  tarn_catalog_names l;
  tarn_catalog_props p;
  tarn_catalog_names_init(&l);
  tarn_catalog_props_init(&p);

  create_ns(cat, "a.b.c");
  create_ns(cat, "a.d");
  create_ns(cat, "ab");
  create_ns(cat, "a_x"); /* '_' must not act as a wildcard */
  /* "a" and "a.b" exist through their children, as in Iceberg Java. */
  OK(tarn_catalog_load_namespace(cat, "a", &p, E));
  OK(tarn_catalog_load_namespace(cat, "a.b", &p, E));
  EXPECT(TARN_EEXIST, tarn_catalog_create_namespace(cat, "a", NULL, 0, E));
  EXPECT(TARN_ENOTFOUND, tarn_catalog_load_namespace(cat, "A", &p, E)); /* case-sensitive */
  EXPECT(TARN_ENOTFOUND, tarn_catalog_load_namespace(cat, "a.b.c.d", &p, E));
  EXPECT(TARN_ENOTFOUND, tarn_catalog_load_namespace(cat, "a%", &p, E));

  OK(tarn_catalog_list_namespaces(cat, NULL, &l, E));
  {
    const char *want[] = {"a", "a_x", "ab"};
    assert_names(&l, want, 3);
  }
  OK(tarn_catalog_list_namespaces(cat, "a", &l, E));
  {
    const char *want[] = {"a.b", "a.d"};
    assert_names(&l, want, 2);
  }
  OK(tarn_catalog_list_namespaces(cat, "a.b", &l, E));
  {
    const char *want[] = {"a.b.c"};
    assert_names(&l, want, 1);
  }
  OK(tarn_catalog_list_namespaces(cat, "a.b.c", &l, E));
  assert_int_equal(l.count, 0);
  EXPECT(TARN_ENOTFOUND, tarn_catalog_list_namespaces(cat, "zz", &l, E));

  /* A table in a.b.c also makes those namespaces exist. */
  OK(tarn_catalog_register_table(cat, "a.b.c", "t", "file:///x/1.json", E));
  OK(tarn_catalog_list_tables(cat, "a.b.c", &l, E));
  {
    const char *want[] = {"t"};
    assert_names(&l, want, 1);
  }
  OK(tarn_catalog_list_tables(cat, "a.b", &l, E));
  assert_int_equal(l.count, 0);
  /* Unicode levels. */
  create_ns(cat, "données.été");
  OK(tarn_catalog_list_namespaces(cat, "données", &l, E));
  {
    const char *want[] = {"données.été"};
    assert_names(&l, want, 1);
  }
  tarn_catalog_names_free(&l);
  tarn_catalog_props_free(&p);
}

static void test_tables(void **state) {
  fixture *fx = *state;
  tarn_catalog *cat = fx->cat;
  tarn_catalog_names l;
  tarn_catalog_table tb;
  tarn_catalog_names_init(&l);
  tarn_catalog_table_init(&tb);

  create_ns(cat, "datasets");
  EXPECT(TARN_ENOTFOUND, tarn_catalog_register_table(cat, "nons", "t", "file:///a.json", E));
  OK(tarn_catalog_create_table(cat, "datasets", "orders", "s3://b/orders/v1.json", E));
  OK(tarn_catalog_register_table(cat, "datasets", "customers", "s3://b/cust/v1.json", E));
  OK(tarn_catalog_register_table(cat, "datasets", "Customers", "s3://b/cust2/v1.json", E));
  EXPECT(TARN_EEXIST, tarn_catalog_register_table(cat, "datasets", "orders", "s3://x.json", E));
  assert_location(cat, "datasets", "orders", "s3://b/orders/v1.json", NULL);

  OK(tarn_catalog_list_tables(cat, "datasets", &l, E));
  {
    const char *want[] = {"Customers", "customers", "orders"};
    assert_names(&l, want, 3);
  }
  EXPECT(TARN_ENOTFOUND, tarn_catalog_load_table(cat, "datasets", "nope", &tb, E));
  assert_null(tb.metadata_location);
  EXPECT(TARN_ENOTFOUND, tarn_catalog_load_table(cat, "other", "orders", &tb, E));

  OK(tarn_catalog_drop_table(cat, "datasets", "orders", E));
  EXPECT(TARN_ENOTFOUND, tarn_catalog_drop_table(cat, "datasets", "orders", E));
  EXPECT(TARN_ENOTFOUND, tarn_catalog_load_table(cat, "datasets", "orders", &tb, E));
  OK(tarn_catalog_list_tables(cat, "datasets", &l, E));
  assert_int_equal(l.count, 2);
  /* Re-creating after a drop works. */
  OK(tarn_catalog_register_table(cat, "datasets", "orders", "s3://b/orders2/v1.json", E));
  assert_location(cat, "datasets", "orders", "s3://b/orders2/v1.json", NULL);
  /* Our rows say what they are (V1 layout). */
  {
    char v[64];
    raw_query(fx, "SELECT iceberg_type FROM iceberg_tables WHERE table_name = 'orders'", v,
              sizeof(v));
    assert_string_equal(v, "TABLE");
    raw_query(fx, "SELECT catalog_name FROM iceberg_tables WHERE table_name = 'orders'", v,
              sizeof(v));
    assert_string_equal(v, "tarn");
  }
  tarn_catalog_names_free(&l);
  tarn_catalog_table_free(&tb);
}

static void test_commit_cas(void **state) {
  fixture *fx = *state;
  tarn_catalog *cat = fx->cat, *other;
  tarn_error err;
  create_ns(cat, "db");
  OK(tarn_catalog_register_table(cat, "db", "t", "loc-1", E));

  OK(tarn_catalog_commit(cat, "db", "t", "loc-1", "loc-2", E));
  assert_location(cat, "db", "t", "loc-2", "loc-1");
  OK(tarn_catalog_commit(cat, "db", "t", "loc-2", "loc-3", E));
  assert_location(cat, "db", "t", "loc-3", "loc-2");

  /* A writer that read loc-2 loses: conflict, nothing changes, the detail names both. */
  assert_int_equal(tarn_catalog_commit(cat, "db", "t", "loc-2", "loc-x", &err), TARN_ECONFLICT);
  assert_true(tarn_err_retriable(TARN_ECONFLICT));
  assert_non_null(strstr(err.detail, "expected loc-2"));
  assert_non_null(strstr(err.detail, "current loc-3"));
  assert_location(cat, "db", "t", "loc-3", "loc-2");

  /* Another handle (another process in real life) sees and respects the same CAS. */
  other = open_cat(fx, NULL);
  assert_location(other, "db", "t", "loc-3", "loc-2");
  OK(tarn_catalog_commit(other, "db", "t", "loc-3", "loc-4", E));
  EXPECT(TARN_ECONFLICT, tarn_catalog_commit(cat, "db", "t", "loc-3", "loc-5", E));
  assert_location(cat, "db", "t", "loc-4", "loc-3");
  tarn_catalog_destroy(other);

  EXPECT(TARN_ENOTFOUND, tarn_catalog_commit(cat, "db", "gone", "loc-1", "loc-2", E));
  EXPECT(TARN_EINVAL, tarn_catalog_commit(cat, "db", "t", "loc-4", "loc-4", E));
  EXPECT(TARN_EINVAL, tarn_catalog_commit(cat, "db", "t", "", "loc-9", E));
  EXPECT(TARN_EINVAL, tarn_catalog_commit(cat, "db", "t", NULL, "loc-9", E));
  assert_location(cat, "db", "t", "loc-4", "loc-3");
}

static void test_rename(void **state) {
  fixture *fx = *state;
  tarn_catalog *cat = fx->cat;
  create_ns(cat, "a");
  create_ns(cat, "b");
  OK(tarn_catalog_register_table(cat, "a", "t", "l1", E));
  OK(tarn_catalog_register_table(cat, "a", "u", "l2", E));
  OK(tarn_catalog_commit(cat, "a", "t", "l1", "l1b", E));
  OK(tarn_catalog_rename_table(cat, "a", "t", "b", "t2", E));
  assert_location(cat, "b", "t2", "l1b", "l1");
  EXPECT(TARN_ENOTFOUND, tarn_catalog_rename_table(cat, "a", "t", "b", "t3", E));
  EXPECT(TARN_EEXIST, tarn_catalog_rename_table(cat, "a", "u", "b", "t2", E));
  EXPECT(TARN_ENOTFOUND, tarn_catalog_rename_table(cat, "a", "u", "zz", "u", E));
  OK(tarn_catalog_rename_table(cat, "a", "u", "a", "u", E)); /* same name: nothing to do */
  assert_location(cat, "a", "u", "l2", NULL);
}

static void test_catalog_names_scope_rows(void **state) {
  fixture *fx = *state;
  tarn_catalog *other = open_cat(fx, "spark_cat");
  tarn_catalog_names l;
  tarn_catalog_names_init(&l);
  assert_string_equal(tarn_catalog_name(fx->cat), "tarn");
  assert_string_equal(tarn_catalog_name(other), "spark_cat");
  create_ns(fx->cat, "shared");
  OK(tarn_catalog_register_table(fx->cat, "shared", "t", "mine", E));
  OK(tarn_catalog_list_namespaces(other, NULL, &l, E));
  assert_int_equal(l.count, 0);
  create_ns(other, "shared");
  OK(tarn_catalog_register_table(other, "shared", "t", "theirs", E));
  assert_location(fx->cat, "shared", "t", "mine", NULL);
  assert_location(other, "shared", "t", "theirs", NULL);
  EXPECT(TARN_ECONFLICT, tarn_catalog_commit(other, "shared", "t", "mine", "x", E));
  tarn_catalog_names_free(&l);
  tarn_catalog_destroy(other);
}

static void test_validation(void **state) {
  fixture *fx = *state;
  tarn_catalog *cat = fx->cat;
  tarn_catalog_names l;
  char long_name[300], long_loc[1100], utf8_255[255 * 2 + 1];
  size_t i;
  tarn_catalog_names_init(&l);
  memset(long_name, 'x', 256);
  long_name[256] = '\0';
  memset(long_loc, 'l', 1001);
  long_loc[1001] = '\0';
  for (i = 0; i < 255; i++)
    memcpy(utf8_255 + 2 * i, "\xc3\xa9", 2); /* 255 characters, 510 bytes: fits */
  utf8_255[510] = '\0';

  EXPECT(TARN_EINVAL, tarn_catalog_create_namespace(cat, "", NULL, 0, E));
  EXPECT(TARN_EINVAL, tarn_catalog_create_namespace(cat, ".a", NULL, 0, E));
  EXPECT(TARN_EINVAL, tarn_catalog_create_namespace(cat, "a.", NULL, 0, E));
  EXPECT(TARN_EINVAL, tarn_catalog_create_namespace(cat, "a..b", NULL, 0, E));
  EXPECT(TARN_EINVAL, tarn_catalog_create_namespace(cat, "a\nb", NULL, 0, E));
  EXPECT(TARN_EINVAL, tarn_catalog_create_namespace(cat, "a\xff", NULL, 0, E));
  EXPECT(TARN_EINVAL, tarn_catalog_create_namespace(cat, "\xc0\xaf", NULL, 0, E)); /* overlong */
  EXPECT(TARN_EINVAL, tarn_catalog_create_namespace(cat, NULL, NULL, 0, E));
  EXPECT(TARN_ETOOBIG, tarn_catalog_create_namespace(cat, long_name, NULL, 0, E));
  OK(tarn_catalog_create_namespace(cat, utf8_255, NULL, 0, E));
  create_ns(cat, "ok");
  EXPECT(TARN_EINVAL, tarn_catalog_register_table(cat, "ok", "", "l", E));
  EXPECT(TARN_EINVAL, tarn_catalog_register_table(cat, "ok", "t\t", "l", E));
  EXPECT(TARN_ETOOBIG, tarn_catalog_register_table(cat, "ok", long_name, "l", E));
  EXPECT(TARN_ETOOBIG, tarn_catalog_register_table(cat, "ok", "t", long_loc, E));
  EXPECT(TARN_EINVAL, tarn_catalog_register_table(cat, "ok", "t", "", E));
  long_loc[1000] = '\0';
  OK(tarn_catalog_register_table(cat, "ok", utf8_255, long_loc, E)); /* exactly at the limits */
  EXPECT(TARN_EINVAL, tarn_catalog_list_tables(cat, "a..b", &l, E));
  OK(tarn_catalog_list_tables(cat, "ok", &l, E));
  assert_int_equal(l.count, 1);
  tarn_catalog_names_free(&l);
}

/* Exactly the DDL Iceberg Java's JdbcUtil runs (V0_CREATE_CATALOG_SQL and
 * CREATE_NAMESPACE_PROPERTIES_TABLE_SQL), then optionally V1_UPDATE_CATALOG_SQL. */
static const char JAVA_V0_TABLES[] =
    "CREATE TABLE iceberg_tables(catalog_name VARCHAR(255) NOT NULL,table_namespace "
    "VARCHAR(255) NOT NULL,table_name VARCHAR(255) NOT NULL,metadata_location "
    "VARCHAR(1000),previous_metadata_location VARCHAR(1000),PRIMARY KEY (catalog_name, "
    "table_namespace, table_name))";
static const char JAVA_PROPS[] =
    "CREATE TABLE iceberg_namespace_properties(catalog_name VARCHAR(255) NOT NULL,namespace "
    "VARCHAR(255) NOT NULL,property_key VARCHAR(255),property_value VARCHAR(1000),PRIMARY KEY "
    "(catalog_name, namespace, property_key))";
static const char JAVA_V1_UPDATE[] =
    "ALTER TABLE iceberg_tables ADD COLUMN iceberg_type VARCHAR(5)";
/* What SQLAlchemy generates for PyIceberg's SqlCatalog models. */
static const char PYICEBERG_PROPS[] =
    "CREATE TABLE iceberg_namespace_properties (\n\tcatalog_name VARCHAR(255) NOT NULL, \n\t"
    "namespace VARCHAR(255) NOT NULL, \n\tproperty_key VARCHAR(255) NOT NULL, \n\t"
    "property_value VARCHAR(1000) NOT NULL, \n\tPRIMARY KEY (catalog_name, namespace, "
    "property_key)\n)";

static void test_created_layout(void **state) {
  fixture *fx = *state;
  char cols[512];
  raw_columns(fx, "iceberg_tables", cols, sizeof(cols));
  assert_string_equal(cols, "catalog_name,table_namespace,table_name,metadata_location,"
                            "previous_metadata_location,iceberg_type");
  raw_columns(fx, "iceberg_namespace_properties", cols, sizeof(cols));
  assert_string_equal(cols, "catalog_name,namespace,property_key,property_value");
  /* The primary keys hold. */
  raw_exec(fx, "INSERT INTO iceberg_tables (catalog_name, table_namespace, table_name) VALUES "
               "('c', 'n', 't')");
  {
    char v[32];
    raw_query(fx, "SELECT count(*) FROM iceberg_tables", v, sizeof(v));
    assert_string_equal(v, "1");
  }
  /* Opening again (another process starting) keeps the tables. */
  tarn_catalog_destroy(open_cat(fx, NULL));
  {
    char v[32];
    raw_query(fx, "SELECT count(*) FROM iceberg_tables", v, sizeof(v));
    assert_string_equal(v, "1");
  }
}

static void test_java_v0_database(void **state) {
  fixture *fx = *state;
  tarn_catalog *cat;
  tarn_catalog_names l;
  char cols[512], v[64];
  tarn_catalog_names_init(&l);
  raw_exec(fx, JAVA_V0_TABLES);
  raw_exec(fx, JAVA_PROPS);
  /* Rows as Java wrote them. */
  raw_exec(fx, "INSERT INTO iceberg_namespace_properties VALUES ('tarn', 'jns', 'exists', "
               "'true')");
  raw_exec(fx, "INSERT INTO iceberg_tables VALUES ('tarn', 'jns', 'jt', 'file:///j/1.json', "
               "NULL)");
  cat = open_cat(fx, NULL);
  raw_columns(fx, "iceberg_tables", cols, sizeof(cols));
  assert_string_equal(cols, "catalog_name,table_namespace,table_name,metadata_location,"
                            "previous_metadata_location"); /* not migrated */
  OK(tarn_catalog_list_tables(cat, "jns", &l, E));
  {
    const char *want[] = {"jt"};
    assert_names(&l, want, 1);
  }
  OK(tarn_catalog_commit(cat, "jns", "jt", "file:///j/1.json", "file:///j/2.json", E));
  assert_location(cat, "jns", "jt", "file:///j/2.json", "file:///j/1.json");
  OK(tarn_catalog_register_table(cat, "jns", "ours", "file:///o/1.json", E));
  EXPECT(TARN_EEXIST, tarn_catalog_register_table(cat, "jns", "jt", "file:///x.json", E));
  raw_query(fx, "SELECT metadata_location FROM iceberg_tables WHERE table_name = 'ours'", v,
            sizeof(v));
  assert_string_equal(v, "file:///o/1.json");
  OK(tarn_catalog_drop_table(cat, "jns", "ours", E));
  tarn_catalog_names_free(&l);
  tarn_catalog_destroy(cat);
}

static void test_java_v1_database(void **state) {
  fixture *fx = *state;
  tarn_catalog *cat;
  tarn_catalog_names l;
  tarn_catalog_table tb;
  char v[64];
  tarn_catalog_names_init(&l);
  tarn_catalog_table_init(&tb);
  raw_exec(fx, JAVA_V0_TABLES);
  raw_exec(fx, JAVA_PROPS);
  raw_exec(fx, "INSERT INTO iceberg_tables VALUES ('tarn', 'ns', 'old', 'file:///old/1.json', "
               "NULL)"); /* a table from before the upgrade: iceberg_type NULL */
  raw_exec(fx, JAVA_V1_UPDATE);
  raw_exec(fx, "INSERT INTO iceberg_tables VALUES ('tarn', 'ns', 'v', 'file:///v/1.json', "
               "NULL, 'VIEW')");
  raw_exec(fx, "INSERT INTO iceberg_tables VALUES ('tarn', 'ns', 'new', 'file:///n/1.json', "
               "NULL, 'TABLE')");
  cat = open_cat(fx, NULL);
  OK(tarn_catalog_list_tables(cat, "ns", &l, E));
  {
    const char *want[] = {"new", "old"}; /* the view is not a table */
    assert_names(&l, want, 2);
  }
  EXPECT(TARN_ENOTFOUND, tarn_catalog_load_table(cat, "ns", "v", &tb, E));
  EXPECT(TARN_ENOTFOUND, tarn_catalog_commit(cat, "ns", "v", "file:///v/1.json", "x", E));
  EXPECT(TARN_ENOTFOUND, tarn_catalog_drop_table(cat, "ns", "v", E));
  EXPECT(TARN_EEXIST, tarn_catalog_register_table(cat, "ns", "v", "file:///t.json", E));
  EXPECT(TARN_EEXIST, tarn_catalog_drop_namespace(cat, "ns", E));
  OK(tarn_catalog_commit(cat, "ns", "old", "file:///old/1.json", "file:///old/2.json", E));
  assert_location(cat, "ns", "old", "file:///old/2.json", "file:///old/1.json");
  OK(tarn_catalog_register_table(cat, "ns", "mine", "file:///m/1.json", E));
  raw_query(fx, "SELECT iceberg_type FROM iceberg_tables WHERE table_name = 'mine'", v, sizeof(v));
  assert_string_equal(v, "TABLE");
  raw_query(fx, "SELECT metadata_location FROM iceberg_tables WHERE table_name = 'v'", v,
            sizeof(v));
  assert_string_equal(v, "file:///v/1.json"); /* the view is untouched */
  tarn_catalog_names_free(&l);
  tarn_catalog_table_free(&tb);
  tarn_catalog_destroy(cat);
}

static void test_pyiceberg_database(void **state) {
  fixture *fx = *state;
  tarn_catalog *cat;
  tarn_catalog_names l;
  tarn_catalog_props p;
  tarn_catalog_names_init(&l);
  tarn_catalog_props_init(&p);
  raw_exec(fx, JAVA_V0_TABLES); /* SQLAlchemy's iceberg_tables has the same columns */
  raw_exec(fx, PYICEBERG_PROPS);
  /* PyIceberg stores the given properties without an "exists" row. */
  raw_exec(fx, "INSERT INTO iceberg_namespace_properties VALUES ('tarn', 'py', 'owner', 'me')");
  raw_exec(fx, "INSERT INTO iceberg_tables VALUES ('tarn', 'py', 'pt', 'file:///p/1.json', "
               "NULL)");
  cat = open_cat(fx, NULL);
  OK(tarn_catalog_list_namespaces(cat, NULL, &l, E));
  {
    const char *want[] = {"py"};
    assert_names(&l, want, 1);
  }
  OK(tarn_catalog_load_namespace(cat, "py", &p, E));
  assert_int_equal(p.count, 1);
  assert_string_equal(p.items[0].key, "owner");
  OK(tarn_catalog_commit(cat, "py", "pt", "file:///p/1.json", "file:///p/2.json", E));
  OK(tarn_catalog_create_namespace(cat, "ours", NULL, 0, E)); /* NOT NULL value column */
  OK(tarn_catalog_register_table(cat, "ours", "t", "file:///t/1.json", E));
  assert_location(cat, "ours", "t", "file:///t/1.json", NULL);
  tarn_catalog_names_free(&l);
  tarn_catalog_props_free(&p);
  tarn_catalog_destroy(cat);
}

static void test_faulty_unknown_outcome(void **state) {
  fixture *fx = *state;
  tarn_catalog *cat = NULL;
  tarn_error err;
  OK(tarn_catalog_faulty_wrap(open_cat(fx, NULL), &cat, E));
  create_ns(cat, "f");
  OK(tarn_catalog_register_table(cat, "f", "t", "v1", E));
  /* The commit happens but its answer is lost: the caller must look. */
  OK(tarn_catalog_faulty_add(cat, TARN_CATALOG_FAULT_COMMIT, TARN_CATALOG_FAULT_AFTER,
                             TARN_EUNKNOWN_OUTCOME, 1, 1, E));
  assert_int_equal(tarn_catalog_commit(cat, "f", "t", "v1", "v2", &err), TARN_EUNKNOWN_OUTCOME);
  assert_string_equal(tarn_err_name(TARN_EUNKNOWN_OUTCOME), "commit_state_unknown");
  assert_true(tarn_err_retriable(TARN_EUNKNOWN_OUTCOME));
  assert_location(cat, "f", "t", "v2", "v1"); /* it did happen */
  /* A failure before: nothing happens. */
  OK(tarn_catalog_faulty_add(cat, TARN_CATALOG_FAULT_COMMIT, TARN_CATALOG_FAULT_BEFORE,
                             TARN_ENETWORK, 0, 1, E));
  EXPECT(TARN_ENETWORK, tarn_catalog_commit(cat, "f", "t", "v2", "v3", E));
  assert_location(cat, "f", "t", "v2", "v1");
  OK(tarn_catalog_commit(cat, "f", "t", "v2", "v3", E)); /* the rule was used up */
  assert_int_equal(tarn_catalog_faulty_fired(cat), 2);
  tarn_catalog_faulty_clear(cat);
  tarn_catalog_destroy(cat);
}

/* ---- concurrency: N processes, M commits each, one table ---- */

#define NPROC 8
#define NCOMMITS 50

/* One writer process: load, commit "v-<pid>-<n>", on conflict reload and retry with
 * backoff; after each success append "<old> <new>" to the log (one write, O_APPEND). */
static int writer_child(fixture *fx, const char *log_path) {
  tarn_catalog *cat = NULL;
  tarn_catalog_table tb;
  tarn_error err;
  int n, fd, attempt, rc;
  unsigned seed = (unsigned)getpid();
  tarn_catalog_table_init(&tb);
  if (open_cat_opts(fx, NULL, 30000, &cat, &err) != 0) {
    fprintf(stderr, "child open: %s\n", tarn_error_message(&err));
    return 2;
  }
  fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT, 0644);
  if (fd < 0)
    return 3;
  for (n = 1; n <= NCOMMITS; n++) {
    char loc[64], line[160];
    snprintf(loc, sizeof(loc), "v-%d-%d", (int)getpid(), n);
    for (attempt = 0;; attempt++) {
      if (tarn_catalog_load_table(cat, "conc", "t", &tb, &err) != 0) {
        fprintf(stderr, "child load: %s\n", tarn_error_message(&err));
        return 4;
      }
      rc = tarn_catalog_commit(cat, "conc", "t", tb.metadata_location, loc, &err);
      if (rc == TARN_EUNKNOWN_OUTCOME) {
        tarn_catalog_table t2;
        tarn_catalog_table_init(&t2);
        if (tarn_catalog_load_table(cat, "conc", "t", &t2, &err) == 0 &&
            strcmp(t2.metadata_location, loc) == 0)
          rc = 0;
        tarn_catalog_table_free(&t2);
      }
      if (rc == 0)
        break;
      if (rc != TARN_ECONFLICT && rc != TARN_EUNKNOWN_OUTCOME) {
        fprintf(stderr, "child commit: %s\n", tarn_error_message(&err));
        return 5;
      }
      if (attempt > 10000)
        return 6;
      usleep((useconds_t)(rand_r(&seed) % (1000u << (attempt < 4 ? attempt : 4))));
    }
    snprintf(line, sizeof(line), "%s %s\n", tb.metadata_location, loc);
    if (write(fd, line, strlen(line)) != (ssize_t)strlen(line))
      return 7;
  }
  close(fd);
  tarn_catalog_table_free(&tb);
  tarn_catalog_destroy(cat);
  return 0;
}

typedef struct edge {
  char from[48], to[48];
} edge;

static void test_concurrent_commits(void **state) {
  fixture *fx = *state;
  char log_path[128];
  pid_t pids[NPROC];
  edge *edges = calloc(NPROC * NCOMMITS + 1, sizeof(edge));
  int i, j, status, nedges = 0, per_child[NPROC] = {0};
  FILE *f;
  char cur[48];
  uint64_t t0 = tarn_clock_mono_ns();
  assert_non_null(edges);
  snprintf(log_path, sizeof(log_path), "%s/commits.log", fx->dir);
  create_ns(fx->cat, "conc");
  OK(tarn_catalog_register_table(fx->cat, "conc", "t", "v-init", E));
  fflush(NULL);
  for (i = 0; i < NPROC; i++) {
    pids[i] = fork();
    assert_true(pids[i] >= 0);
    if (pids[i] == 0)
      _exit(writer_child(fx, log_path)); /* never touches the parent's handle */
  }
  for (i = 0; i < NPROC; i++) {
    assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
  }
  fprintf(stderr, "  %d processes x %d commits: %.2f s\n", NPROC, NCOMMITS,
          (double)(tarn_clock_mono_ns() - t0) / 1e9);

  f = fopen(log_path, "r");
  assert_non_null(f);
  while (nedges <= NPROC * NCOMMITS &&
         fscanf(f, "%47s %47s", edges[nedges].from, edges[nedges].to) == 2)
    nedges++;
  fclose(f);
  assert_int_equal(nedges, NPROC * NCOMMITS);
  /* Linear: no two commits replaced the same version, no version was written twice. */
  for (i = 0; i < nedges; i++)
    for (j = i + 1; j < nedges; j++) {
      if (strcmp(edges[i].from, edges[j].from) == 0)
        fail_msg("two commits replaced %s (lost update)", edges[i].from);
      if (strcmp(edges[i].to, edges[j].to) == 0)
        fail_msg("%s committed twice", edges[i].to);
    }
  /* Walk the chain from v-init: 400 steps, ending at what the catalog says is current. */
  snprintf(cur, sizeof(cur), "v-init");
  for (i = 0; i < nedges; i++) {
    for (j = 0; j < nedges && strcmp(edges[j].from, cur) != 0; j++)
      ;
    if (j == nedges)
      fail_msg("chain breaks after %d versions at %s", i + 1, cur);
    snprintf(cur, sizeof(cur), "%s", edges[j].to);
    {
      int pid, n, k;
      assert_int_equal(sscanf(cur, "v-%d-%d", &pid, &n), 2);
      for (k = 0; k < NPROC && pids[k] != pid; k++)
        ;
      assert_true(k < NPROC);
      per_child[k]++;
    }
  }
  for (i = 0; i < NPROC; i++)
    assert_int_equal(per_child[i], NCOMMITS);
  {
    tarn_catalog_table tb;
    tarn_catalog_table_init(&tb);
    OK(tarn_catalog_load_table(fx->cat, "conc", "t", &tb, E));
    assert_string_equal(tb.metadata_location, cur); /* 401 versions: v-init + 400 */
    for (j = 0; j < nedges && strcmp(edges[j].to, cur) != 0; j++)
      ;
    assert_string_equal(tb.previous_metadata_location, edges[j].from);
    tarn_catalog_table_free(&tb);
  }
  free(edges);
}

/* N processes open the same empty database at once and each create a namespace. */
static void test_concurrent_open(void **state) {
  fixture *fx = *state;
  pid_t pids[NPROC];
  int i, status;
  tarn_catalog_names l;
  tarn_catalog_names_init(&l);
  tarn_catalog_destroy(fx->cat); /* start from no tables at all */
  fx->cat = NULL;
  if (fx->backend == BACKEND_SQLITE) {
    char wal[160], shm[160];
    snprintf(wal, sizeof(wal), "%s-wal", fx->path);
    snprintf(shm, sizeof(shm), "%s-shm", fx->path);
    unlink(fx->path);
    unlink(wal);
    unlink(shm);
  } else {
    raw_exec(fx, "DROP TABLE iceberg_tables");
    raw_exec(fx, "DROP TABLE iceberg_namespace_properties");
  }
  fflush(NULL);
  for (i = 0; i < NPROC; i++) {
    pids[i] = fork();
    assert_true(pids[i] >= 0);
    if (pids[i] == 0) {
      tarn_catalog *cat = NULL;
      tarn_error err;
      char ns[32];
      int rc = open_cat_opts(fx, NULL, 30000, &cat, &err);
      snprintf(ns, sizeof(ns), "p%d", i);
      if (rc == 0)
        rc = tarn_catalog_create_namespace(cat, ns, NULL, 0, &err);
      if (rc != 0)
        fprintf(stderr, "child %d: %s\n", i, tarn_error_message(&err));
      tarn_catalog_destroy(cat);
      _exit(rc == 0 ? 0 : 1);
    }
  }
  for (i = 0; i < NPROC; i++) {
    assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
  }
  fx->cat = open_cat(fx, NULL);
  OK(tarn_catalog_list_namespaces(fx->cat, NULL, &l, E));
  assert_int_equal(l.count, NPROC);
  tarn_catalog_names_free(&l);
}

/* ---- SQLite only ---- */

static void test_sqlite_settings(void **state) {
  fixture *fx = *state;
  char v[32];
  struct stat sb;
  raw_query(fx, "PRAGMA journal_mode", v, sizeof(v));
  assert_string_equal(v, "wal"); /* persistent in the file */
  assert_int_equal(stat(fx->path, &sb), 0);
}

typedef struct lock_holder {
  sqlite3 *db;
  int release_after_ms;
} lock_holder;

static void *release_later(void *arg) {
  lock_holder *h = arg;
  tarn_sleep_ms((uint64_t)h->release_after_ms);
  sqlite3_exec(h->db, "COMMIT", NULL, NULL, NULL);
  return NULL;
}

static void test_sqlite_busy(void **state) {
  fixture *fx = *state;
  tarn_catalog *quick = NULL;
  tarn_error err;
  lock_holder h = {NULL, 300};
  pthread_t th;
  uint64_t t0;
  double ms;
  create_ns(fx->cat, "b");
  OK(tarn_catalog_register_table(fx->cat, "b", "t", "v1", E));
  assert_int_equal(sqlite3_open(fx->path, &h.db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(h.db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);

  /* Locked for longer than the busy timeout: TARN_ETIMEDOUT, retriable, after ~200 ms. */
  assert_int_equal(open_cat_opts(fx, NULL, 200, &quick, &err), 0);
  t0 = tarn_clock_mono_ns();
  assert_int_equal(tarn_catalog_commit(quick, "b", "t", "v1", "v2", &err), TARN_ETIMEDOUT);
  ms = (double)(tarn_clock_mono_ns() - t0) / 1e6;
  assert_true(ms >= 190 && ms < 3000);
  assert_true(tarn_err_retriable(err.code));
  assert_non_null(strstr(err.detail, "locked"));
  assert_non_null(strstr(err.detail, fx->path));
  tarn_catalog_destroy(quick);

  /* Released while we wait: the commit goes through. */
  assert_int_equal(pthread_create(&th, NULL, release_later, &h), 0);
  OK(tarn_catalog_commit(fx->cat, "b", "t", "v1", "v2", E));
  pthread_join(th, NULL);
  sqlite3_close(h.db);
  assert_location(fx->cat, "b", "t", "v2", "v1");
}

static void test_sqlite_alloc_failures(void **state) {
  fixture *fx = *state;
  long n, total;
  int rc;
  char ns[32], loc[32];
  create_ns(fx->cat, "m");
  OK(tarn_catalog_register_table(fx->cat, "m", "t", "l0", E));
  for (n = 0;; n++) {
    tarn_catalog *cat = NULL;
    tarn_catalog_names l;
    tarn_catalog_props p;
    tarn_catalog_table tb;
    tarn_catalog_prop props[] = {{"k", "v"}};
    tarn_error err;
    tarn_catalog_names_init(&l);
    tarn_catalog_props_init(&p);
    tarn_catalog_table_init(&tb);
    snprintf(ns, sizeof(ns), "ns%ld", n);
    tarn_alloc_fail_reset();
    tarn_alloc_fail_after(n);
    rc = open_cat_opts(fx, NULL, 5000, &cat, &err);
    if (rc == 0)
      rc = tarn_catalog_create_namespace(cat, ns, props, 1, &err);
    if (rc == 0)
      rc = tarn_catalog_load_namespace(cat, ns, &p, &err);
    if (rc == 0)
      rc = tarn_catalog_list_namespaces(cat, NULL, &l, &err);
    if (rc == 0)
      rc = tarn_catalog_list_tables(cat, "m", &l, &err);
    if (rc == 0)
      rc = tarn_catalog_load_table(cat, "m", "t", &tb, &err);
    if (rc == 0) {
      snprintf(loc, sizeof(loc), "l%ld", n + 1);
      rc = tarn_catalog_commit(cat, "m", "t", tb.metadata_location, loc, &err);
    }
    total = tarn_alloc_count();
    tarn_alloc_fail_reset();
    if (rc != 0 && rc != TARN_ENOMEM)
      fail_msg("allocation %ld failing gave %s: %s", n, tarn_err_name(rc),
               tarn_error_message(&err));
    tarn_catalog_names_free(&l);
    tarn_catalog_props_free(&p);
    tarn_catalog_table_free(&tb);
    tarn_catalog_destroy(cat);
    /* Keep the work per round constant (lists would grow with every namespace). */
    (void)tarn_catalog_drop_namespace(fx->cat, ns, NULL);
    if (rc == 0 && n > total)
      break;
    if (n > 5000)
      fail_msg("the scenario never succeeds");
  }
  assert_true(n > 10);
  /* Whatever failed, the table is consistent and still committable. */
  {
    tarn_catalog_table tb;
    tarn_catalog_table_init(&tb);
    OK(tarn_catalog_load_table(fx->cat, "m", "t", &tb, E));
    OK(tarn_catalog_commit(fx->cat, "m", "t", tb.metadata_location, "final", E));
    tarn_catalog_table_free(&tb);
  }
}

/* ---- PostgreSQL only ---- */

static int raw_backend_state(fixture *fx, int pid, char *wait_type, size_t n) {
  char sql[160];
  snprintf(sql, sizeof(sql),
           "SELECT coalesce(wait_event_type, '-') FROM pg_stat_activity WHERE pid = %d", pid);
  raw_query(fx, sql, wait_type, n);
  return wait_type[0] != '\0';
}

static void raw_terminate(fixture *fx, int pid) {
  char sql[96], v[16];
  snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)", pid);
  raw_query(fx, sql, v, sizeof(v));
  assert_string_equal(v, "t");
}

static void test_pg_reconnect(void **state) {
  fixture *fx = *state;
  int pid;
  create_ns(fx->cat, "r");
  OK(tarn_catalog_register_table(fx->cat, "r", "t", "v1", E));
  pid = tarn__catalog_pg_backend_pid(fx->cat);
  assert_true(pid > 0);
  raw_terminate(fx, pid);
  tarn_sleep_ms(100);
  /* The next call finds the connection dead, reconnects and succeeds. */
  assert_location(fx->cat, "r", "t", "v1", NULL);
  assert_int_not_equal(tarn__catalog_pg_backend_pid(fx->cat), pid);
  /* A write on a connection that died while idle is not ambiguous: it just runs. */
  raw_terminate(fx, tarn__catalog_pg_backend_pid(fx->cat));
  tarn_sleep_ms(100);
  OK(tarn_catalog_commit(fx->cat, "r", "t", "v1", "v2", E));
  assert_location(fx->cat, "r", "t", "v2", "v1");
}

typedef struct commit_job {
  tarn_catalog *cat;
  int rc;
  tarn_error err;
} commit_job;

static void *commit_thread(void *arg) {
  commit_job *j = arg;
  j->rc = tarn_catalog_commit(j->cat, "u", "t", "v1", "v2", &j->err);
  return NULL;
}

static void test_pg_unknown_outcome(void **state) {
  fixture *fx = *state;
  commit_job job;
  pthread_t th;
  int pid, i;
  char wait_type[32];
  create_ns(fx->cat, "u");
  OK(tarn_catalog_register_table(fx->cat, "u", "t", "v1", E));
  pid = tarn__catalog_pg_backend_pid(fx->cat);
  /* Hold the row so that our UPDATE is sent and then waits on the server... */
  raw_exec(fx, "BEGIN");
  raw_exec(fx, "SELECT 1 FROM iceberg_tables WHERE table_name = 't' FOR UPDATE");
  memset(&job, 0, sizeof(job));
  job.cat = fx->cat;
  assert_int_equal(pthread_create(&th, NULL, commit_thread, &job), 0);
  for (i = 0; i < 200; i++) {
    if (raw_backend_state(fx, pid, wait_type, sizeof(wait_type)) && strcmp(wait_type, "Lock") == 0)
      break;
    tarn_sleep_ms(20);
  }
  assert_string_equal(wait_type, "Lock");
  /* ...and lose its connection before any answer comes back. */
  raw_terminate(fx, pid);
  pthread_join(th, NULL);
  raw_exec(fx, "ROLLBACK");
  if (job.rc != TARN_EUNKNOWN_OUTCOME)
    fail_msg("want commit_state_unknown, got %s: %s", tarn_err_name(job.rc),
             tarn_error_message(&job.err));
  assert_non_null(strstr(job.err.detail, "may or may not"));
  /* The caller checks: here it did not happen, and the handle works again. */
  assert_location(fx->cat, "u", "t", "v1", NULL);
  OK(tarn_catalog_commit(fx->cat, "u", "t", "v1", "v2", E));
}

static void test_pg_lock_timeout(void **state) {
  fixture *fx = *state;
  tarn_catalog *quick = NULL;
  tarn_error err;
  create_ns(fx->cat, "lt");
  OK(tarn_catalog_register_table(fx->cat, "lt", "t", "v1", E));
  assert_int_equal(open_cat_opts(fx, NULL, 300, &quick, &err), 0);
  raw_exec(fx, "BEGIN");
  raw_exec(fx, "SELECT 1 FROM iceberg_tables WHERE table_name = 't' FOR UPDATE");
  assert_int_equal(tarn_catalog_commit(quick, "lt", "t", "v1", "v2", &err), TARN_ETIMEDOUT);
  assert_non_null(strstr(err.detail, "55P03"));
  raw_exec(fx, "ROLLBACK");
  OK(tarn_catalog_commit(quick, "lt", "t", "v1", "v2", E));
  tarn_catalog_destroy(quick);
}

static void test_pg_bad_password(void **state) {
  fixture *fx = *state;
  char conninfo[2200];
  tarn_catalog *cat = NULL;
  tarn_error err;
  int rc;
  snprintf(conninfo, sizeof(conninfo), "%s password=Wr0ngPassw0rd-Zq9", fx->conninfo);
  if (strncmp(fx->conninfo, "postgres", 8) == 0)
    skip(); /* URI form: nothing to append to */
  rc = tarn_catalog_pg_open(conninfo, NULL, &cat, &err);
  if (rc == 0) { /* the server trusts this client: nothing to check */
    tarn_catalog_destroy(cat);
    return;
  }
  assert_int_equal(rc, TARN_EPERM);
  assert_null(strstr(err.detail, "Wr0ngPassw0rd"));
  assert_non_null(strstr(err.detail, "authentication"));
}

/* ---- backend-independent ---- */

static void check_redact(const char *in, const char *want) {
  char out[512];
  size_t n = tarn_catalog_redact_conninfo(in, out, sizeof(out));
  assert_string_equal(out, want);
  assert_int_equal(n, strlen(want));
}

static void test_redact_conninfo(void **state) {
  char small[16];
  (void)state;
  check_redact("host=db port=5432 dbname=tarn user=u password=hunter2",
               "host=db port=5432 dbname=tarn user=u password=<redacted>");
  check_redact("password = 'sp ace\\'s' host=db", "password = <redacted> host=db");
  check_redact("  sslpassword=abc   user=x", "  sslpassword=<redacted>   user=x");
  check_redact("PASSWORD=x", "PASSWORD=<redacted>");
  check_redact("host=db passw0rd", "host=db <unparsed text redacted>");
  check_redact("host=db password='unterminated", "host=db password=<unparsed text redacted>");
  check_redact("postgresql://u:hunter2@db:5432/tarn?sslmode=require&password=x2",
               "postgresql://u:<redacted>@db:5432/tarn?sslmode=require&password=<redacted>");
  check_redact("postgres://u@db/tarn", "postgres://u@db/tarn");
  check_redact("postgresql://db/tarn?pass%77ord=x", "postgresql://db/tarn?pass%77ord=<redacted>");
  check_redact("postgresql://u:p@ss@db/x", "postgresql://u:<redacted>@db/x");
  check_redact("", "");
  assert_int_equal(
      tarn_catalog_redact_conninfo("password=abcdefghijkl host=h", small, sizeof(small)),
      strlen("password=<redacted> host=h"));
  assert_string_equal(small, "password=<redac");
}

static void test_pg_errors_hide_password(void **state) {
  tarn_catalog *cat = NULL;
  tarn_error err;
  int rc;
  FILE *logf;
  char *logbuf = NULL;
  size_t loglen = 0;
  (void)state;
  logf = open_memstream(&logbuf, &loglen);
  tarn_log_set_stream(logf);
  /* Nothing listens on port 1: the connection fails, the message must not carry it. */
  rc = tarn_catalog_pg_open("host=127.0.0.1 port=1 user=u password=S3cretXyz connect_timeout=3",
                            NULL, &cat, &err);
  assert_int_equal(rc, TARN_ENETWORK);
  assert_null(strstr(err.detail, "S3cretXyz"));
  assert_non_null(strstr(err.detail, "host=127.0.0.1 port=1"));
  rc = tarn_catalog_pg_open("postgresql://u:S3cretXyz@127.0.0.1:1/db?connect_timeout=3", NULL, &cat,
                            &err);
  assert_int_equal(rc, TARN_ENETWORK);
  assert_null(strstr(err.detail, "S3cretXyz"));
  /* Bad syntax: libpq would quote the text; we show it redacted. */
  rc = tarn_catalog_pg_open("host=h password=S3cretXyz bogus", NULL, &cat, &err);
  assert_int_equal(rc, TARN_ECONFIG);
  assert_null(strstr(err.detail, "S3cretXyz"));
  rc = tarn_catalog_pg_open("host=h password=S3cretXyz nosuchoption=1", NULL, &cat, &err);
  assert_int_equal(rc, TARN_ECONFIG);
  assert_null(strstr(err.detail, "S3cretXyz"));
  tarn_log_set_stream(stderr);
  fclose(logf);
  assert_null(strstr(logbuf, "S3cretXyz"));
  free(logbuf);
}

static void test_open_from_config(void **state) {
  const tarn_cfg_def *const tables[] = {tarn_base_config, tarn_catalog_config, NULL};
  tarn_config *cfg = NULL;
  tarn_catalog *cat = NULL;
  tarn_error err;
  char dir[64], lake[128], path[160], *buf = NULL;
  size_t len = 0;
  FILE *f;
  struct stat sb;
  (void)state;
  snprintf(dir, sizeof(dir), "/tmp/tarn-cat-cfg-XXXXXX");
  assert_non_null(mkdtemp(dir));
  snprintf(lake, sizeof(lake), "%s/lake/sub", dir);
  OK(tarn_config_create(&cfg, tables, E));
  assert_string_equal(tarn_config_str(cfg, "catalog", "type"), "sqlite");
  assert_int_equal(tarn_config_int(cfg, "catalog", "busy_timeout"), 30000);
  /* Defaults: <lake>/catalog.db, the lake created if missing, catalog "tarn". */
  OK(tarn_catalog_open_from_config(cfg, lake, &cat, E));
  assert_string_equal(tarn_catalog_name(cat), "tarn");
  snprintf(path, sizeof(path), "%s/catalog.db", lake);
  assert_int_equal(stat(path, &sb), 0);
  create_ns(cat, "x");
  tarn_catalog_destroy(cat);
  /* An explicit uri and name. */
  snprintf(path, sizeof(path), "%s/other.db", dir);
  OK(tarn_config_set(cfg, "catalog", "uri", path, "test", E));
  OK(tarn_config_set(cfg, "catalog", "name", "lakehouse", "test", E));
  OK(tarn_catalog_open_from_config(cfg, lake, &cat, E));
  assert_string_equal(tarn_catalog_name(cat), "lakehouse");
  tarn_catalog_destroy(cat);
  assert_int_equal(stat(path, &sb), 0);
  /* postgres without a connection string. */
  OK(tarn_config_set(cfg, "catalog", "type", "postgres", "test", E));
  EXPECT(TARN_ECONFIG, tarn_catalog_open_from_config(cfg, lake, &cat, E));
  EXPECT(TARN_ECONFIG, tarn_config_set(cfg, "catalog", "type", "mysql", "test", E));
  /* The connection string is a secret: --print-config shows <redacted>. */
  OK(tarn_config_set(cfg, "catalog", "postgres", "host=127.0.0.1 port=1 password=Hunter2x", "test",
                     E));
  f = open_memstream(&buf, &len);
  tarn_config_print(cfg, f);
  fclose(f);
  assert_null(strstr(buf, "Hunter2x"));
  assert_non_null(strstr(buf, "<redacted>"));
  free(buf);
  assert_int_equal(tarn_catalog_open_from_config(cfg, lake, &cat, &err), TARN_ENETWORK);
  assert_null(strstr(err.detail, "Hunter2x"));
  tarn_config_destroy(cfg);
  rm_rf(dir);
}

/* ---- main ---- */

#define SUITE(B)                                                                                   \
  cmocka_unit_test_prestate_setup_teardown(test_namespaces, setup, teardown, B),                   \
      cmocka_unit_test_prestate_setup_teardown(test_namespace_properties, setup, teardown, B),     \
      cmocka_unit_test_prestate_setup_teardown(test_multilevel_namespaces, setup, teardown, B),    \
      cmocka_unit_test_prestate_setup_teardown(test_tables, setup, teardown, B),                   \
      cmocka_unit_test_prestate_setup_teardown(test_commit_cas, setup, teardown, B),               \
      cmocka_unit_test_prestate_setup_teardown(test_rename, setup, teardown, B),                   \
      cmocka_unit_test_prestate_setup_teardown(test_catalog_names_scope_rows, setup, teardown, B), \
      cmocka_unit_test_prestate_setup_teardown(test_validation, setup, teardown, B),               \
      cmocka_unit_test_prestate_setup_teardown(test_created_layout, setup, teardown, B),           \
      cmocka_unit_test_prestate_setup_teardown(test_java_v0_database, setup_bare, teardown, B),    \
      cmocka_unit_test_prestate_setup_teardown(test_java_v1_database, setup_bare, teardown, B),    \
      cmocka_unit_test_prestate_setup_teardown(test_pyiceberg_database, setup_bare, teardown, B),  \
      cmocka_unit_test_prestate_setup_teardown(test_faulty_unknown_outcome, setup, teardown, B),   \
      cmocka_unit_test_prestate_setup_teardown(test_concurrent_open, setup, teardown, B),          \
      cmocka_unit_test_prestate_setup_teardown(test_concurrent_commits, setup, teardown, B)

int main(void) {
  const struct CMUnitTest common[] = {
      cmocka_unit_test(test_redact_conninfo),
      cmocka_unit_test(test_pg_errors_hide_password),
      cmocka_unit_test(test_open_from_config),
  };
  const struct CMUnitTest sqlite_tests[] = {
      SUITE(&backend_sqlite),
      cmocka_unit_test_prestate_setup_teardown(test_sqlite_settings, setup, teardown,
                                               &backend_sqlite),
      cmocka_unit_test_prestate_setup_teardown(test_sqlite_busy, setup, teardown, &backend_sqlite),
      cmocka_unit_test_prestate_setup_teardown(test_sqlite_alloc_failures, setup, teardown,
                                               &backend_sqlite),
  };
  const struct CMUnitTest pg_tests[] = {
      SUITE(&backend_pg),
      cmocka_unit_test_prestate_setup_teardown(test_pg_reconnect, setup, teardown, &backend_pg),
      cmocka_unit_test_prestate_setup_teardown(test_pg_unknown_outcome, setup, teardown,
                                               &backend_pg),
      cmocka_unit_test_prestate_setup_teardown(test_pg_lock_timeout, setup, teardown, &backend_pg),
      cmocka_unit_test_prestate_setup_teardown(test_pg_bad_password, setup, teardown, &backend_pg),
  };
  const char *pg = getenv("CATALOG_TEST_PG");
  const char *only_pg = getenv("CATALOG_TEST_ONLY_PG");
  int failed = 0;
  tarn_log_set_level(TARN_LOG_WARN);
  if (only_pg == NULL || strcmp(only_pg, "1") != 0) {
    failed += cmocka_run_group_tests_name("catalog", common, NULL, NULL);
    failed += cmocka_run_group_tests_name("catalog_sqlite", sqlite_tests, NULL, NULL);
  }
  if (pg != NULL && pg[0] != '\0')
    failed += cmocka_run_group_tests_name("catalog_postgres", pg_tests, NULL, NULL);
  else
    fprintf(stderr, "CATALOG_TEST_PG is not set: PostgreSQL tests skipped "
                    "(tests/e2e/test_catalog_pg.sh runs them on a real server)\n");
  return failed;
}
