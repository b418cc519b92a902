/* catalog_pg.c - the PostgreSQL driver of the SQL catalog (libpq, one connection). */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "catalog/catalog_int.h"
#include "catalog/pgconn.h"

/*
 * Statements go out with PQsendQueryParams (text parameters typed as text, so that
 * length($3) and friends resolve), and the result tells three cases apart:
 *  - the statement could not be sent: nothing happened; reconnect and run it again;
 *  - it was sent and the connection died before its result came back: for a write that
 *    takes effect on its own (TARN__SQL_AMBIGUOUS: an autocommit UPDATE, a COMMIT) the
 *    outcome is unknown, which the caller must resolve by reading; for anything else
 *    (reads, statements inside a transaction that never committed) run it again;
 *  - the server answered with an error: classified by SQLSTATE.
 * The connection string is only kept inside libpq; its passwords are scrubbed from every
 * message we produce, and `display` shows host, port, database and user only.
 */

#define TEXTOID 25 /* pg_type.oid of text; stable across PostgreSQL versions */
#define MAX_PARAMS 8

typedef struct pg_db {
  tarn__sql base;
  PGconn *conn;
  tarn_pgconn_info info; /* secrets and display of the connection string */
  int doomed;            /* the server sent FATAL: reconnect before the next statement */
} pg_db;

static const tarn__sql_ops pg_ops;

static const char SQL_BEGIN[] = "BEGIN";
static const char SQL_ROLLBACK[] = "ROLLBACK";
static const char SQL_TABLE_EXISTS[] = "SELECT 1 WHERE to_regclass($1) IS NOT NULL";
static const char SQL_COLUMN_EXISTS[] =
    "SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = $2 "
    "AND attnum > 0 AND NOT attisdropped";
/* One lock id for "creating the catalog tables" ("tarncat\0" as a big-endian int64). */
static const char SQL_SCHEMA_LOCK[] = "SELECT pg_advisory_xact_lock(8386109799579874304)";

static int conn_failed(pg_db *d, int code, const char *what, tarn_error *err) {
  char msg[400];
  tarn_pgconn_one_line(PQerrorMessage(d->conn), msg, sizeof(msg));
  tarn_error_set(err, code, "%s: %s", what, msg[0] ? msg : "connection lost");
  tarn_pgconn_scrub(&d->info, err);
  return code;
}

/*
 * Server notices ("relation already exists, skipping") go to the debug log, not to
 * stderr as libpq's default would. A FATAL message arriving while the connection is idle
 * (the server telling us why it is about to close it) reaches us here too: the
 * connection is then doomed, and the next statement reconnects instead of being sent.
 */
static void on_notice(void *arg, const PGresult *res) {
  pg_db *d = arg;
  const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
  char msg[400];
  tarn_pgconn_one_line(PQresultErrorMessage(res), msg, sizeof(msg));
  if (sev != NULL && (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0))
    d->doomed = 1;
  tarn_log_debug("postgres notice", "msg=%s", msg);
}

/* 1 when the server closed (or announced it is closing) the idle connection. libpq only
 * parses what arrived while idle when asked (PQisBusy), and sees EOF on a second read. */
static int idle_conn_dead(pg_db *d) {
  int i;
  for (i = 0; i < 2 && PQstatus(d->conn) == CONNECTION_OK && !d->doomed; i++) {
    if (!PQconsumeInput(d->conn))
      break;
    (void)PQisBusy(d->conn);
  }
  return d->doomed || PQstatus(d->conn) != CONNECTION_OK;
}

/* Per-session settings, after every (re)connect: wait for row locks at most as long as
 * a call may take in total. */
static int session_setup(pg_db *d, tarn_error *err) {
  char sql[64];
  PGresult *res;
  int rc = 0;
  PQsetNoticeReceiver(d->conn, on_notice, d);
  snprintf(sql, sizeof(sql), "SET lock_timeout = '%lldms'",
           (long long)(d->base.busy_timeout_ms > 0 ? d->base.busy_timeout_ms : 1));
  res = PQexec(d->conn, sql);
  if (PQresultStatus(res) != PGRES_COMMAND_OK)
    rc = conn_failed(d, TARN_ENETWORK, "setting up the session", err);
  PQclear(res);
  return rc;
}

/* Maps a server error by SQLSTATE; marks what a retry of the transaction may fix. */
static int map_sqlstate(pg_db *d, const char *st) {
  if (st == NULL)
    return TARN_EIO;
  if (strcmp(st, "23505") == 0)
    return TARN_EEXIST; /* unique_violation */
  if (strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0) {
    d->base.transient = 1; /* serialization_failure, deadlock_detected: rolled back */
    return TARN_ECONFLICT;
  }
  if (strcmp(st, "55P03") == 0 || strcmp(st, "57014") == 0)
    return TARN_ETIMEDOUT; /* lock_not_available (lock_timeout), query_canceled */
  if (strcmp(st, "53100") == 0)
    return TARN_ENOSPC;
  if (strcmp(st, "22001") == 0)
    return TARN_ETOOBIG;
  if (strncmp(st, "28", 2) == 0 || strcmp(st, "42501") == 0)
    return TARN_EPERM;
  if (strncmp(st, "23", 2) == 0)
    return TARN_EINVAL;
  return TARN_EIO;
}

/* The connection is gone (or going: the server said it is terminating it). */
static int conn_lost(pg_db *d, const char *st) {
  if (PQstatus(d->conn) != CONNECTION_OK)
    return 1;
  return st != NULL && (strncmp(st, "08", 2) == 0 || strcmp(st, "57P01") == 0 ||
                        strcmp(st, "57P02") == 0 || strcmp(st, "57P03") == 0);
}

static int pg_exec(tarn__sql *base, const char *sql, const char *const *params, int nparams,
                   unsigned flags, tarn__sql_rows *rows, int64_t *changes, tarn_error *err) {
  pg_db *d = (pg_db *)base;
  Oid types[MAX_PARAMS];
  PGresult *res = NULL, *r;
  ExecStatusType status;
  int i, rc = 0;
  if (nparams > MAX_PARAMS)
    return tarn_error_set(err, TARN_EINTERNAL, "statement has %d parameters", nparams);
  /* A connection the server closed while we were idle (pg_terminate_backend, a restart,
   * idle_session_timeout) shows here, before anything is sent: then nothing is ambiguous
   * and the statement can run after a reconnect. (If it closes in the instant between
   * this check and the send, the outcome is reported unknown: we cannot tell.) */
  if (idle_conn_dead(d)) {
    d->base.transient = 1;
    return conn_failed(d, TARN_ENETWORK, "connection lost while idle", err);
  }
  for (i = 0; i < nparams; i++)
    types[i] = TEXTOID;
  if (!PQsendQueryParams(d->conn, sql, nparams, nparams ? types : NULL, params, NULL, NULL, 0)) {
    /* Not sent (or not completely, which the server never executes). */
    if (PQstatus(d->conn) != CONNECTION_OK) {
      d->base.transient = 1;
      return conn_failed(d, TARN_ENETWORK, "sending a statement", err);
    }
    return conn_failed(d, TARN_EIO, "sending a statement", err);
  }
  /* One statement gives one result; drain to the end so the connection is idle again. */
  while ((r = PQgetResult(d->conn)) != NULL) {
    if (res == NULL)
      res = r;
    else
      PQclear(r);
  }
  status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
    int nrows = PQntuples(res), ncols = PQnfields(res), row, c;
    if (ncols > MAX_PARAMS) {
      PQclear(res);
      return tarn_error_set(err, TARN_EINTERNAL, "query returns %d columns", ncols);
    }
    for (row = 0; rows != NULL && rc == 0 && row < nrows; row++) {
      const char *cells[MAX_PARAMS];
      size_t lens[MAX_PARAMS];
      for (c = 0; c < ncols; c++) {
        cells[c] = PQgetisnull(res, row, c) ? NULL : PQgetvalue(res, row, c);
        lens[c] = (size_t)PQgetlength(res, row, c);
      }
      rc = tarn__sql_rows_push(rows, cells, lens, (size_t)ncols, err);
    }
    if (rc == 0 && changes != NULL) {
      const char *n = PQcmdTuples(res);
      *changes = n[0] ? strtoll(n, NULL, 10) : 0;
    }
    PQclear(res);
    return rc;
  }
  {
    const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    char msg[400];
    tarn_pgconn_one_line(res ? PQresultErrorMessage(res) : PQerrorMessage(d->conn), msg,
                         sizeof(msg));
    if (conn_lost(d, st)) {
      d->doomed = 1; /* the next call reconnects, even if libpq has not seen EOF yet */
      if (flags & TARN__SQL_AMBIGUOUS) {
        rc = tarn_error_set(err, TARN_EUNKNOWN_OUTCOME,
                            "connection lost after the statement was sent; it may or may "
                            "not have taken effect: %s",
                            msg[0] ? msg : "no answer");
      } else {
        d->base.transient = 1;
        rc = tarn_error_set(err, TARN_ENETWORK, "connection lost: %s", msg[0] ? msg : "no answer");
      }
    } else {
      rc = map_sqlstate(d, st);
      tarn_error_set(err, rc, "%s (SQLSTATE %s)", msg[0] ? msg : "error", st ? st : "none");
    }
    tarn_pgconn_scrub(&d->info, err);
  }
  PQclear(res);
  return rc;
}

static int pg_begin(tarn__sql *base, tarn_error *err) {
  return pg_exec(base, SQL_BEGIN, NULL, 0, 0, NULL, NULL, err);
}

static void pg_rollback(tarn__sql *base) {
  pg_db *d = (pg_db *)base;
  PGTransactionStatusType ts;
  if (PQstatus(d->conn) != CONNECTION_OK)
    return; /* the server rolled back when the connection went */
  ts = PQtransactionStatus(d->conn);
  if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR)
    (void)pg_exec(base, SQL_ROLLBACK, NULL, 0, 0, NULL, NULL, NULL);
}

static int pg_recover(tarn__sql *base, tarn_error *err) {
  pg_db *d = (pg_db *)base;
  if (PQstatus(d->conn) == CONNECTION_OK && !d->doomed)
    return 0;
  tarn_log_warn("catalog connection lost; reconnecting", "db=%s", d->base.display);
  d->doomed = 0;
  PQreset(d->conn);
  if (PQstatus(d->conn) != CONNECTION_OK) {
    d->base.transient = 1;
    return conn_failed(d, TARN_ENETWORK, "reconnecting", err);
  }
  if (session_setup(d, err) != 0) {
    d->base.transient = 1;
    return TARN_ENETWORK;
  }
  tarn_log_info("catalog connection re-established", "db=%s", d->base.display);
  return 0;
}

static int exists_query(tarn__sql *base, const char *sql, const char *const *p, int n, int *yes,
                        tarn_error *err) {
  tarn__sql_rows rows;
  int rc;
  tarn__sql_rows_init(&rows);
  rc = pg_exec(base, sql, p, n, 0, &rows, NULL, err);
  *yes = rc == 0 && rows.nrows > 0;
  tarn__sql_rows_free(&rows);
  return rc;
}

static int pg_table_exists(tarn__sql *base, const char *table, int *exists, tarn_error *err) {
  const char *p[1] = {table};
  return exists_query(base, SQL_TABLE_EXISTS, p, 1, exists, err);
}

static int pg_column_exists(tarn__sql *base, const char *table, const char *column, int *exists,
                            tarn_error *err) {
  const char *p[2] = {table, column};
  return exists_query(base, SQL_COLUMN_EXISTS, p, 2, exists, err);
}

static int pg_schema_lock(tarn__sql *base, tarn_error *err) {
  return pg_exec(base, SQL_SCHEMA_LOCK, NULL, 0, 0, NULL, NULL, err);
}

static void pg_destroy(tarn__sql *base) {
  pg_db *d = (pg_db *)base;
  if (d->conn != NULL)
    PQfinish(d->conn);
  tarn_pgconn_info_free(&d->info);
  tarn_free(d->base.display);
  tarn_free(d);
}

static const tarn__sql_ops pg_ops = {
    "postgres",      pg_exec,          pg_begin,       pg_rollback, pg_recover,
    pg_table_exists, pg_column_exists, pg_schema_lock, pg_destroy,
};

int tarn__sql_pg_backend_pid(tarn__sql *db) {
  pg_db *d = (pg_db *)db;
  return PQstatus(d->conn) == CONNECTION_OK ? PQbackendPID(d->conn) : 0;
}

/* The driver: opens one connection; the SQL catalog then owns the tarn__sql. */
static int pg_connect(const char *conninfo, int64_t busy_timeout_ms, tarn__sql **out,
                      tarn_error *err) {
  /* The string goes in as an expandable dbname so both syntaxes work. libpq lets later
   * entries win: the defaults before it (bounded connect time; keepalives so that a dead
   * server is noticed in about a minute, not hours) yield to the string, the settings
   * after it (UTF-8 text) do not. */
  const char *const keys[] = {
      "connect_timeout", "keepalives_idle",           "keepalives_interval", "keepalives_count",
      "dbname",          "fallback_application_name", "client_encoding",     NULL};
  const char *vals[] = {"10", "30", "10", "3", conninfo, "tarn", "UTF8", NULL};
  pg_db *d;
  int rc;
  *out = NULL;
  if (conninfo == NULL)
    return tarn_error_set(err, TARN_EINVAL, "PostgreSQL connection string is missing");
  d = tarn_calloc(1, sizeof(*d));
  if (d == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "opening the catalog: out of memory");
  d->base.ops = &pg_ops;
  d->base.busy_timeout_ms = busy_timeout_ms;
  d->base.rng = tarn_clock_mono_ns() ^ ((uint64_t)getpid() << 32);
  if ((rc = tarn_pgconn_parse(conninfo, NULL, &d->info, err)) != 0 ||
      (d->base.display = tarn_strdup(d->info.display)) == NULL) {
    if (rc == 0)
      rc = tarn_error_set(err, TARN_ENOMEM, "opening the catalog: out of memory");
    pg_destroy(&d->base);
    return rc;
  }
  d->conn = PQconnectdbParams(keys, vals, 1);
  if (d->conn == NULL) {
    pg_destroy(&d->base);
    return tarn_error_set(err, TARN_ENOMEM, "connecting to PostgreSQL: out of memory");
  }
  if (PQstatus(d->conn) != CONNECTION_OK) {
    rc = conn_failed(d, tarn_pgconn_connect_error_code(d->conn), "connecting", err);
    tarn_error_prefix(err, "PostgreSQL catalog (%s)", d->base.display);
    pg_destroy(&d->base);
    return rc;
  }
  if ((rc = session_setup(d, err)) != 0) {
    tarn_error_prefix(err, "PostgreSQL catalog (%s)", d->base.display);
    pg_destroy(&d->base);
    return rc;
  }
  *out = &d->base;
  return 0;
}

int tarn_catalog_pg_open(const char *conninfo, const tarn_catalog_options *o, tarn_catalog **out,
                         tarn_error *err) {
  tarn__sql *db;
  int64_t busy =
      o && o->busy_timeout_ms >= 0 ? o->busy_timeout_ms : TARN_CATALOG_DEFAULT_BUSY_TIMEOUT_MS;
  int rc;
  *out = NULL;
  if ((rc = pg_connect(conninfo, busy, &db, err)) != 0)
    return rc;
  return tarn__catalog_sql_open(db, o, out, err);
}
