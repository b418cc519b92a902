/* catalog_int.h - what the catalog's files share: the SQL driver interface and helpers. */
#ifndef TARN_CATALOG_CATALOG_INT_H
#define TARN_CATALOG_CATALOG_INT_H

#include <stddef.h>
#include <stdint.h>

#include "catalog/catalog.h"

/*
 * The SQL catalog (catalog_sql.c) holds the Iceberg JDBC semantics and SQL text; a
 * driver (catalog_sqlite.c, catalog_pg.c) runs statements on one connection. Statements
 * use PostgreSQL-style parameters $1..$n, which SQLite also accepts as named
 * parameters; every parameter is text.
 */

typedef struct tarn__sql tarn__sql;

/* Result rows, every cell text or NULL (SQL NULL). Owned; tarn__sql_rows_free. */
typedef struct tarn__sql_rows {
  char **cells; /* nrows * ncols */
  size_t nrows, ncols, cap;
  size_t bytes; /* total cell bytes, capped at TARN__SQL_ROWS_MAX_BYTES */
} tarn__sql_rows;

/* A result bigger than this is TARN_ETOOBIG: a catalog answer is names and locations. */
#define TARN__SQL_ROWS_MAX_BYTES ((size_t)64 << 20)

/* exec flags */
#define TARN__SQL_AMBIGUOUS                                                                        \
  1u /* a write that takes effect on its own (autocommit statement
                                  or COMMIT): losing the connection (or an I/O error) after
                                  it was sent is TARN_EUNKNOWN_OUTCOME */

typedef struct tarn__sql_ops {
  const char *name; /* "sqlite", "postgres" */
  /*
   * Runs one statement. `sql` must outlive the connection (drivers may cache prepared
   * statements by its address: pass string constants). rows (may be NULL) receives the
   * result; *changes (may be NULL) the number of rows the statement changed.
   * On failure the driver sets db->transient when running the whole transaction again
   * may succeed (locked database, lost connection with nothing ambiguous, serialization
   * failure) and fills err with the backend's message.
   * Backend errors map to: unique violation -> TARN_EEXIST; locked/busy -> TARN_ETIMEDOUT;
   * serialization failure or deadlock -> TARN_ECONFLICT; lost connection -> TARN_ENETWORK,
   * or TARN_EUNKNOWN_OUTCOME for TARN__SQL_AMBIGUOUS statements.
   */
  int (*exec)(tarn__sql *db, const char *sql, const char *const *params, int nparams,
              unsigned flags, tarn__sql_rows *rows, int64_t *changes, tarn_error *err);
  /* Starts a write transaction (SQLite: BEGIN IMMEDIATE, so the write lock is taken up
   * front and the transaction cannot fail later on a stale snapshot). */
  int (*begin)(tarn__sql *db, tarn_error *err);
  /* Rolls back if a transaction is open; never fails (a lost connection rolls back). */
  void (*rollback)(tarn__sql *db);
  /* Called before a retry: reconnects a broken connection. May set db->transient. */
  int (*recover)(tarn__sql *db, tarn_error *err);
  /* 1 in *exists when the table exists (as the connection resolves unqualified names). */
  int (*table_exists)(tarn__sql *db, const char *table, int *exists, tarn_error *err);
  int (*column_exists)(tarn__sql *db, const char *table, const char *column, int *exists,
                       tarn_error *err);
  /* Inside a write transaction: serialises schema creation between processes
   * (PostgreSQL: a transaction advisory lock; SQLite: BEGIN IMMEDIATE already does). */
  int (*schema_lock)(tarn__sql *db, tarn_error *err);
  void (*destroy)(tarn__sql *db);
} tarn__sql_ops;

/* Header every driver's connection struct starts with. */
struct tarn__sql {
  const tarn__sql_ops *ops;
  char *display; /* where the database is, safe to show: path or redacted conninfo */
  int64_t busy_timeout_ms;
  uint64_t deadline_ns; /* tarn_clock_mono_ns() bound of the current call; 0 = none */
  int transient;        /* set by a failed call: the transaction may be retried */
  uint64_t rng;         /* backoff jitter state */
};

void tarn__sql_rows_init(tarn__sql_rows *r);
void tarn__sql_rows_free(tarn__sql_rows *r);
/* Appends one row of n cells (copied; NULL cells stay NULL). Sets ncols on the first row. */
int tarn__sql_rows_push(tarn__sql_rows *r, const char *const *cells, const size_t *lens, size_t n,
                        tarn_error *err);
/* Cell (row, col); NULL for SQL NULL. */
const char *tarn__sql_cell(const tarn__sql_rows *r, size_t row, size_t col);

/* Milliseconds of jittered exponential backoff for retry number `attempt` (1-based):
 * uniformly in [b/2, b] with b = min(2^attempt, cap_ms). */
uint64_t tarn__sql_backoff_ms(tarn__sql *db, unsigned attempt, uint64_t cap_ms);

/* The SQL catalog over a connected driver (taking ownership of db, also on failure):
 * creates the catalog tables when missing and detects the V0/V1 layout. */
int tarn__catalog_sql_open(tarn__sql *db, const tarn_catalog_options *o, tarn_catalog **out,
                           tarn_error *err);

/* Validation shared by the public wrappers (catalog.c) and the tests. what names the
 * argument in messages ("namespace", "table"). */
int tarn__catalog_check_name(const char *what, const char *s, size_t max_chars, int allow_empty,
                             tarn_error *err);

/* Test hook: the PostgreSQL backend process id of a postgres catalog handle (0 when not
 * connected or not postgres), so tests can terminate that backend. */
int tarn__catalog_pg_backend_pid(tarn_catalog *cat);
int tarn__sql_pg_backend_pid(tarn__sql *db);

#endif
