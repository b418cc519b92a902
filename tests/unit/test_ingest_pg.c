/* test_ingest_pg.c - the Postgres ingest (src/ingest/pg_ingest.c): options and client DSN
 * rules without a server; with INGEST_TEST_PG (a libpq connection string, set by
 * tests/e2e/test_ingest_pg.sh) exact round trips of generated numerics, dates and
 * timestamps against PostgreSQL's own arithmetic, and the incremental mark across BC
 * timestamps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "base/log.h"
#include "ingest/ingest.h"
#include "parquet/parquet.h"
#include "support/temp_lake.h"

static int setup(void **state) { return temp_lake_setup(state, "tarn-pgi-test"); }
static int teardown(void **state) { return temp_lake_teardown(state); }

static tarn_ingest_env env_of(temp_lake_fx *f) {
  tarn_ingest_env e;
  static char spool[160];
  snprintf(spool, sizeof(spool), "%s/.spool", f->dir);
  e.cat = f->lake.cat;
  e.io = &f->lake.io;
  e.spool_dir = spool;
  return e;
}

/* Runs an ingest expected to fail before reaching any server; returns the code and the
 * message. */
static int refused(temp_lake_fx *f, tarn_pg_ingest_options *o, char *msg, size_t n) {
  tarn_ingest_env env = env_of(f);
  tarn_pg_ingest_result r;
  tarn_error err;
  int rc;
  tarn_pg_ingest_result_init(&r);
  tarn_error_clear(&err);
  rc = tarn_ingest_pg(&env, o, &r, &err);
  snprintf(msg, n, "%s", tarn_error_message(&err));
  tarn_pg_ingest_result_free(&r);
  return rc;
}

static void opts(tarn_pg_ingest_options *o, const char *dsn) {
  tarn_pg_ingest_options_init(o);
  o->name = "t";
  o->dsn = dsn;
  o->table = "public.t";
}

static void test_options_refused(void **state) {
  temp_lake_fx *f = *state;
  tarn_pg_ingest_options o;
  char msg[600];
  opts(&o, "host=127.0.0.1 port=1");
  o.query = "SELECT 1";
  assert_int_equal(refused(f, &o, msg, sizeof(msg)), TARN_EINVAL);
  assert_non_null(strstr(msg, "exactly one"));
  opts(&o, "host=127.0.0.1 port=1");
  o.table = NULL;
  assert_int_equal(refused(f, &o, msg, sizeof(msg)), TARN_EINVAL);
  opts(&o, "host=127.0.0.1 port=1");
  o.readers = 17;
  assert_int_equal(refused(f, &o, msg, sizeof(msg)), TARN_EINVAL);
  opts(&o, "host=127.0.0.1 port=1");
  o.table = NULL;
  o.query = "SELECT 1";
  o.readers = 2;
  assert_int_equal(refused(f, &o, msg, sizeof(msg)), TARN_EINVAL);
  assert_non_null(strstr(msg, "one reader"));
  opts(&o, "host=127.0.0.1 port=1");
  o.name = "Bad-Name";
  assert_int_equal(refused(f, &o, msg, sizeof(msg)), TARN_EINVAL);
  /* a connection string libpq cannot read: refused without echoing its password */
  opts(&o, "host=127.0.0.1 password='s3cr3tpw");
  assert_int_equal(refused(f, &o, msg, sizeof(msg)), TARN_EINVAL);
  assert_null(strstr(msg, "s3cr3tpw"));
  /* nothing was created */
  {
    tarn_ingest_env env = env_of(f);
    tarn_catalog_names names;
    tarn_error err;
    memset(&names, 0, sizeof(names));
    assert_int_equal(tarn_datasets_list(&env, &names, &err), 0);
    assert_int_equal(names.count, 0);
    tarn_catalog_names_free(&names);
  }
}

/* A client's DSN (POST /ingest/db) may not reach this host's sockets, files or secrets. */
static void test_client_dsn_rules(void **state) {
  temp_lake_fx *f = *state;
  static const char *const bad[] = {
      "host=/var/run/postgresql dbname=x",
      "host=@abstract dbname=x",
      "dbname=x",
      "host=db passfile=/root/.pgpass",
      "host=db service=prod",
      "host=db sslkey=/etc/ssl/private/k.pem",
      "host=db sslrootcert=/etc/ssl/ca.pem",
      "postgresql:///x?host=/tmp",
      "host=db,/tmp dbname=x",
  };
  tarn_pg_ingest_options o;
  char msg[600];
  size_t i;
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    opts(&o, bad[i]);
    o.restricted = 1;
    assert_int_equal(refused(f, &o, msg, sizeof(msg)), TARN_EINVAL);
  }
  opts(&o, "host=db.example port=5433 password=pw");
  o.restricted = 1;
  o.allowed_hosts = "db.example:5432, other";
  assert_int_equal(refused(f, &o, msg, sizeof(msg)), TARN_EPERM);
  assert_non_null(strstr(msg, "db_hosts"));
  assert_null(strstr(msg, "pw "));
  /* the server's own PGPASSWORD is never lent to a client's host */
  setenv("PGPASSWORD", "server-secret", 1);
  opts(&o, "host=127.0.0.1 port=1 dbname=x");
  o.restricted = 1;
  assert_int_equal(refused(f, &o, msg, sizeof(msg)), TARN_EINVAL);
  assert_non_null(strstr(msg, "PGPASSWORD"));
  unsetenv("PGPASSWORD");
}

static void test_error_mapping(void **state) {
  int st;
  (void)state;
  assert_string_equal(tarn_pg_ingest_error(TARN_ENETWORK, "08006", &st), "postgres_unavailable");
  assert_int_equal(st, 502);
  assert_string_equal(tarn_pg_ingest_error(TARN_EINVAL, "42P01", &st), "postgres_error");
  assert_int_equal(st, 400);
  assert_string_equal(tarn_pg_ingest_error(TARN_EPERM, "28P01", &st), "postgres_error");
  assert_int_equal(st, 400);
  assert_string_equal(tarn_pg_ingest_error(TARN_EPERM, "", &st), "forbidden");
  assert_int_equal(st, 403);
  assert_string_equal(tarn_pg_ingest_error(TARN_ERANGE, "", &st), "invalid_data");
  assert_int_equal(st, 400);
  assert_string_equal(tarn_pg_ingest_error(TARN_ESCHEMA, "", &st), "schema_mismatch");
  assert_int_equal(st, 409);
  assert_string_equal(tarn_pg_ingest_error(TARN_ECONFLICT, "", &st), "conflict");
  assert_int_equal(st, 409);
}

/* ---- against a server ---- */

static const char *pg_dsn(void) {
  const char *d = getenv("INGEST_TEST_PG");
  return d != NULL && d[0] ? d : NULL;
}

static void quiet_notice(void *arg, const char *msg) {
  (void)arg;
  (void)msg;
}

static PGconn *pg_open(void) {
  PGconn *c = PQconnectdb(pg_dsn());
  assert_int_equal(PQstatus(c), CONNECTION_OK);
  PQsetNoticeProcessor(c, quiet_notice, NULL);
  return c;
}

static void sql(PGconn *c, const char *q) {
  PGresult *res = PQexec(c, q);
  if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
    fail_msg("%s: %s", q, PQresultErrorMessage(res));
  PQclear(res);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) { /* xorshift64*, fixed seed */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 2685821657736338717ull;
}

/* n random decimal digits (no leading zero unless n == 1) */
static void digits(char *dst, int n) {
  int i;
  for (i = 0; i < n; i++)
    dst[i] = (char)('0' + (i == 0 && n > 1 ? 1 + rnd() % 9 : rnd() % 10));
  dst[n] = '\0';
}

__extension__ typedef __int128 i128;

/* The unscaled value of column j (decimal) in row i, as text with the scale's point. */
static void dec_text(const tarn_pq_array *a, int width, int64_t i, int scale, char *dst, size_t n) {
  i128 v = 0;
  char tmp[64];
  int k = 0, neg, len;
  unsigned __int128 u;
  if (width == 4)
    v = ((const int32_t *)a->values)[i];
  else if (width == 8)
    v = ((const int64_t *)a->values)[i];
  else {
    const uint8_t *p = (const uint8_t *)a->values + (size_t)i * (size_t)width;
    int b;
    v = (p[0] & 0x80) ? -1 : 0;
    for (b = 0; b < width; b++)
      v = (i128)(((unsigned __int128)v << 8) | p[b]);
  }
  neg = v < 0;
  u = neg ? (unsigned __int128)(-(v + 1)) + 1 : (unsigned __int128)v;
  do {
    tmp[k++] = (char)('0' + (int)(u % 10));
    u /= 10;
  } while (u > 0 || k <= scale);
  len = 0;
  if (neg)
    dst[len++] = '-';
  while (k > 0 && (size_t)len + 2 < n) {
    if (k == scale)
      dst[len++] = '.';
    dst[len++] = tmp[--k];
  }
  dst[len] = '\0';
}

static tarn_pq_batch *read_all(temp_lake_fx *f, const char *key, tarn_pq_reader **rd) {
  tarn_pq_scan *sc = NULL;
  tarn_pq_scan_options so;
  tarn_pq_batch *b = NULL;
  tarn_error err;
  memset(&so, 0, sizeof(so));
  so.row_group = -1;
  so.batch_rows = 1 << 20;
  assert_int_equal(tarn_pq_reader_open_store(f->lake.store, key, rd, &err), 0);
  assert_int_equal(tarn_pq_scan_open(*rd, &so, &sc, &err), 0);
  assert_int_equal(tarn_pq_scan_next(sc, &b, &err), 0);
  tarn_pq_scan_close(sc);
  return b;
}

/* Random numerics of every storage width: tarn's unscaled integers printed with the
 * scale equal PostgreSQL's text, row for row. */
static void test_numeric_exact(void **state) {
  temp_lake_fx *f = *state;
  static const struct {
    int p, s;
  } cols[] = {{9, 2}, {18, 4}, {38, 10}, {38, 0}, {5, 5}, {19, 19}, {1, 0}};
  const size_t ncols = sizeof(cols) / sizeof(cols[0]);
  tarn_ingest_env env = env_of(f);
  tarn_pg_ingest_options o;
  tarn_pg_ingest_result r;
  tarn_pq_reader *rd = NULL;
  tarn_pq_batch *b;
  tarn_error err;
  PGconn *c;
  PGresult *res;
  char q[4096];
  size_t j;
  int i, n = 400;
  if (pg_dsn() == NULL)
    skip();
  c = pg_open();
  sql(c, "DROP TABLE IF EXISTS nums");
  sql(c, "CREATE TABLE nums (id int PRIMARY KEY, a numeric(9,2), b numeric(18,4), "
         "c numeric(38,10), d numeric(38,0), e numeric(5,5), g numeric(19,19), h numeric(1,0))");
  for (i = 0; i < n; i++) {
    size_t len = (size_t)snprintf(q, sizeof(q), "INSERT INTO nums VALUES (%d", i);
    for (j = 0; j < ncols; j++) {
      int ip = cols[j].p - cols[j].s, nd, fd;
      char id[64], fr[64];
      if (i % 50 == 7) { /* extremes: all nines, negative */
        nd = ip, fd = cols[j].s;
        memset(id, '9', (size_t)nd), id[nd] = '\0';
        memset(fr, '9', (size_t)fd), fr[fd] = '\0';
      } else if (i % 50 == 8) {
        nd = 0, fd = 0, id[0] = fr[0] = '\0';
      } else {
        nd = ip > 0 ? (int)(rnd() % (uint64_t)(ip + 1)) : 0;
        fd = cols[j].s > 0 ? (int)(rnd() % (uint64_t)(cols[j].s + 1)) : 0;
        digits(id, nd);
        digits(fr, fd);
      }
      len += (size_t)snprintf(q + len, sizeof(q) - len, ", %s%s%s%s%s",
                              (i % 3 == 0 || i % 50 == 7) ? "-" : "", nd ? id : "0", fd ? "." : "",
                              fr, i % 17 == 5 ? "::numeric * NULL" : "");
    }
    snprintf(q + len, sizeof(q) - len, ")");
    sql(c, q);
  }
  tarn_pg_ingest_options_init(&o);
  o.name = "nums";
  o.dsn = pg_dsn();
  o.table = "nums";
  tarn_pg_ingest_result_init(&r);
  assert_int_equal(tarn_ingest_pg(&env, &o, &r, &err), 0);
  assert_int_equal(r.row_count, n);
  b = read_all(f, r.parquet_key, &rd);
  assert_non_null(b);
  assert_int_equal(b->nrows, n);
  res = PQexec(c, "SELECT a::text, b::text, c::text, d::text, e::text, g::text, h::text FROM nums "
                  "ORDER BY ctid");
  assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
  for (i = 0; i < n; i++)
    for (j = 0; j < ncols; j++) {
      const tarn_pq_array *a = &b->cols[j + 1];
      int width = cols[j].p <= 9 ? 4 : cols[j].p <= 18 ? 8 : cols[j].p <= 20 ? 9 : 16;
      char got[80];
      const char *want = PQgetvalue(res, i, (int)j);
      if (PQgetisnull(res, i, (int)j)) {
        assert_false(a->validity[i >> 3] & (1u << (i & 7)));
        continue;
      }
      if (cols[j].p == 19)
        width = 9;
      else if (cols[j].p == 38)
        width = 16;
      dec_text(a, width, i, cols[j].s, got, sizeof(got));
      /* PostgreSQL prints "-0.00" as "0.00" */
      if (strcmp(want, got) != 0)
        fail_msg("row %d column %zu: PostgreSQL %s, tarn %s", i, j, want, got);
    }
  PQclear(res);
  tarn_pq_batch_free(b);
  tarn_pq_reader_close(rd);
  tarn_pg_ingest_result_free(&r);
  /* NaN has no decimal: a clear error naming column and row, nothing committed */
  sql(c, "INSERT INTO nums (id, a) VALUES (100000, 'NaN')");
  tarn_pg_ingest_result_init(&r);
  assert_int_equal(tarn_ingest_pg(&env, &o, &r, &err), TARN_ERANGE);
  assert_non_null(strstr(tarn_error_message(&err), "column \"a\""));
  assert_non_null(strstr(tarn_error_message(&err), "NaN"));
  tarn_pg_ingest_result_free(&r);
  sql(c, "DROP TABLE nums");
  PQfinish(c);
}

/* Dates and timestamps across eras (BC, pre-1970, far future) against PostgreSQL's own
 * day and microsecond arithmetic; then the incremental mark over them. */
static void test_dates_exact_and_mark(void **state) {
  temp_lake_fx *f = *state;
  tarn_ingest_env env = env_of(f);
  tarn_pg_ingest_options o;
  tarn_pg_ingest_result r;
  tarn_pq_reader *rd = NULL;
  tarn_pq_batch *b;
  tarn_error err;
  PGconn *c;
  PGresult *res;
  int i, n;
  if (pg_dsn() == NULL)
    skip();
  c = pg_open();
  sql(c, "SET TimeZone = 'America/New_York'");
  sql(c, "DROP TABLE IF EXISTS times");
  sql(c, "CREATE TABLE times (id int, d date, ts timestamp, tz timestamptz)");
  sql(c, "INSERT INTO times SELECT g, date '4713-01-01 BC' + (random_ish * 3000000)::int, "
         "timestamp '0100-01-01 BC' + random_ish * interval '100000 days' * 30, "
         "timestamptz '1800-01-01 00:00:00.000001+00' + random_ish * interval '1 day' * 100000 "
         "FROM (SELECT g, ((g * 7919) % 10007)::float8 / 10007 AS random_ish "
         "FROM generate_series(1, 2000) g) s");
  sql(c, "INSERT INTO times VALUES (0, '0001-01-01 BC', '0001-12-31 23:59:59.999999 BC', "
         "'1969-12-31 23:59:59.999999+00'), (-1, '5874897-12-31', '200000-12-31 23:59:59.999999', "
         "'1970-01-01 00:00:00+00')");
  tarn_pg_ingest_options_init(&o);
  o.name = "times";
  o.dsn = pg_dsn();
  o.table = "times";
  o.append = 1;
  o.incremental_column = "ts";
  tarn_pg_ingest_result_init(&r);
  assert_int_equal(tarn_ingest_pg(&env, &o, &r, &err), 0);
  n = (int)r.row_count;
  assert_int_equal(n, 2002);
  b = read_all(f, r.parquet_key, &rd);
  res = PQexec(c, "SELECT d - date '1970-01-01', "
                  "(extract(epoch FROM ts) * 1000000)::int8, "
                  "(extract(epoch FROM tz) * 1000000)::int8 FROM times ORDER BY ctid");
  assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
  for (i = 0; i < n; i++) {
    int32_t d = ((const int32_t *)b->cols[1].values)[i];
    int64_t ts = ((const int64_t *)b->cols[2].values)[i];
    int64_t tz = ((const int64_t *)b->cols[3].values)[i];
    if (d != (int32_t)strtol(PQgetvalue(res, i, 0), NULL, 10) ||
        ts != strtoll(PQgetvalue(res, i, 1), NULL, 10) ||
        tz != strtoll(PQgetvalue(res, i, 2), NULL, 10))
      fail_msg("row %d: PostgreSQL %s %s %s, tarn %d %lld %lld", i, PQgetvalue(res, i, 0),
               PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), d, (long long)ts, (long long)tz);
  }
  PQclear(res);
  tarn_pq_batch_free(b);
  tarn_pq_reader_close(rd);
  /* the mark is the largest ts, in text PostgreSQL reads back exactly */
  assert_string_equal(json_string_value(json_object_get(r.incremental, "to")),
                      "200000-12-31 23:59:59.999999");
  tarn_pg_ingest_result_free(&r);
  /* nothing above it: nothing new; a BC mark is read back too */
  tarn_pg_ingest_result_init(&r);
  assert_int_equal(tarn_ingest_pg(&env, &o, &r, &err), 0);
  assert_true(r.existing);
  assert_int_equal(r.row_count, 0);
  tarn_pg_ingest_result_free(&r);
  sql(c, "CREATE TABLE times_bc AS SELECT * FROM times WHERE ts < '0001-01-01'");
  o.name = "times_bc";
  o.table = "times_bc";
  tarn_pg_ingest_result_init(&r);
  assert_int_equal(tarn_ingest_pg(&env, &o, &r, &err), 0);
  assert_non_null(strstr(json_string_value(json_object_get(r.incremental, "to")), " BC"));
  tarn_pg_ingest_result_free(&r);
  sql(c, "INSERT INTO times_bc VALUES (9, NULL, '0001-12-31 23:59:59.999999 BC'::timestamp + "
         "interval '1 microsecond', NULL)");
  tarn_pg_ingest_result_init(&r);
  assert_int_equal(tarn_ingest_pg(&env, &o, &r, &err), 0);
  assert_int_equal(r.row_count, 1); /* exactly the one row after the mark */
  tarn_pg_ingest_result_free(&r);
  /* PostgreSQL's last timestamps lie past Iceberg's (it counts from 2000): an error naming
   * the column, nothing written */
  sql(c, "INSERT INTO times_bc VALUES (10, NULL, '294276-12-31 23:59:59.999999', NULL)");
  tarn_pg_ingest_result_init(&r);
  assert_int_equal(tarn_ingest_pg(&env, &o, &r, &err), TARN_ERANGE);
  assert_non_null(strstr(tarn_error_message(&err), "column \"ts\""));
  tarn_pg_ingest_result_free(&r);
  /* three readers on the exported snapshot give the very bytes of one */
  {
    char key1[TARN_STORE_KEY_MAX + 1];
    o.name = "times_r1";
    o.table = "times";
    o.append = 0;
    o.incremental_column = NULL;
    o.readers = 1;
    tarn_pg_ingest_result_init(&r);
    assert_int_equal(tarn_ingest_pg(&env, &o, &r, &err), 0);
    snprintf(key1, sizeof(key1), "%s", strrchr(r.parquet_key, '/'));
    tarn_pg_ingest_result_free(&r);
    o.name = "times_r3";
    o.readers = 3;
    tarn_pg_ingest_result_init(&r);
    assert_int_equal(tarn_ingest_pg(&env, &o, &r, &err), 0);
    assert_int_equal(r.readers, 3);
    assert_string_equal(strrchr(r.parquet_key, '/'), key1);
    tarn_pg_ingest_result_free(&r);
  }
  sql(c, "DROP TABLE times");
  sql(c, "DROP TABLE times_bc");
  PQfinish(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_options_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_client_dsn_rules, setup, teardown),
      cmocka_unit_test(test_error_mapping),
      cmocka_unit_test_setup_teardown(test_numeric_exact, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dates_exact_and_mark, setup, teardown),
  };
  tarn_log_set_level(TARN_LOG_WARN);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
