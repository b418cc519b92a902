/* catalog_sqlite.c - the SQLite driver of the SQL catalog: one connection, WAL, FULL sync. */
#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "catalog/catalog_int.h"

/*
 * Durability and concurrency (README.md has the whole story):
 *  - journal_mode=WAL: readers never block the writer and a commit appends to one file;
 *  - synchronous=FULL: the WAL is fsynced at every commit, so an acknowledged commit
 *    survives power loss (NORMAL would only survive a process crash);
 *  - a busy handler that sleeps with jittered, growing backoff until the call's deadline,
 *    so many processes can write; write transactions start with BEGIN IMMEDIATE so the
 *    lock is taken before anything is read (no SQLITE_BUSY_SNAPSHOT half-way through).
 * Statements are prepared once per connection and cached by the address of their text.
 *
 * A full disk: the first connection to a WAL database must create and size the -shm file
 * (32 KiB); with no space left that fails (SQLITE_IOERR_SHMSIZE) and nothing can be read.
 * Then the database is reopened read-only with an exclusive lock and the WAL index in heap
 * memory (locking_mode=EXCLUSIVE before the first read), which needs no new disk space:
 * reads work, every write is TARN_ENOSPC. README.md explains the choice.
 */

typedef struct stmt_entry {
  const char *sql;
  sqlite3_stmt *st;
} stmt_entry;

typedef struct lite_db {
  tarn__sql base;
  sqlite3 *db;
  stmt_entry *stmts;
  size_t nstmts;
  uint64_t busy_start_ns; /* first busy callback outside a catalog call */
  int nospace;            /* opened read-only because the disk is full: writes refused */
} lite_db;

static const tarn__sql_ops lite_ops;

static const char SQL_BEGIN[] = "BEGIN IMMEDIATE";
static const char SQL_ROLLBACK[] = "ROLLBACK";
static const char SQL_WAL[] = "PRAGMA journal_mode=WAL";
static const char SQL_SYNC[] = "PRAGMA synchronous=FULL";
static const char SQL_EXCLUSIVE[] = "PRAGMA locking_mode=EXCLUSIVE";
static const char SQL_QUERY_ONLY[] = "PRAGMA query_only=1";
static const char SQL_READ_SCHEMA[] = "SELECT count(*) FROM sqlite_master";
static const char SQL_TABLE_EXISTS[] =
    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = $1";
static const char SQL_COLUMN_EXISTS[] = "SELECT 1 FROM pragma_table_info($1) WHERE name = $2";

/* Sleeps a little and asks SQLite to try again, until the call's deadline. */
static int busy_cb(void *arg, int count) {
  lite_db *d = arg;
  uint64_t now = tarn_clock_mono_ns(), deadline = d->base.deadline_ns, ms, left;
  if (deadline == 0) { /* outside a catalog call (opening): count from the first wait */
    if (count == 0)
      d->busy_start_ns = now;
    deadline = d->busy_start_ns + (uint64_t)d->base.busy_timeout_ms * 1000000u;
  }
  if (now >= deadline)
    return 0;
  ms = tarn__sql_backoff_ms(&d->base, (unsigned)count + 1, 50);
  left = (deadline - now) / 1000000u;
  tarn_sleep_ms(ms < left ? ms : left + 1);
  return 1;
}

/* errno ENOSPC or EDQUOT: the file system (or the user's quota) is full. */
static int is_nospace_errno(int e) { return e == ENOSPC || e == EDQUOT; }

/* Maps an SQLite result code; marks what a retry of the transaction may fix. A full disk
 * (SQLITE_FULL, or an I/O error whose errno is ENOSPC: sizing the -shm file) is
 * TARN_ENOSPC saying "no space left", unless a commit may have reached the WAL. */
static int map_error(lite_db *d, int rc, unsigned flags, const char *msg, tarn_error *err) {
  int code, e = sqlite3_system_errno(d->db);
  if ((rc & 0xff) == SQLITE_FULL ||
      ((rc & 0xff) == SQLITE_IOERR && is_nospace_errno(e) && !(flags & TARN__SQL_AMBIGUOUS))) {
    code = tarn_error_set(err, TARN_ENOSPC, "no space left on device: %s (sqlite %d)", msg, rc);
    if (err != NULL)
      err->sys_errno = is_nospace_errno(e) ? e : ENOSPC;
    return code;
  }
  switch (rc & 0xff) {
  case SQLITE_BUSY:
  case SQLITE_LOCKED:
  case SQLITE_PROTOCOL: /* a lost race on the WAL locks; SQLite says to retry */
    d->base.transient = 1;
    return tarn_error_set(err, TARN_ETIMEDOUT,
                          "the database stayed locked by other writers: %s (sqlite %d)", msg, rc);
  case SQLITE_CONSTRAINT:
    code = rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE ? TARN_EEXIST
                                                                                : TARN_EINVAL;
    break;
  case SQLITE_NOMEM: code = TARN_ENOMEM; break;
  /* An I/O error while a commit is written (WAL append or fsync) may leave a committed
   * frame in the WAL that becomes visible after recovery: the caller must check. */
  case SQLITE_IOERR: code = flags & TARN__SQL_AMBIGUOUS ? TARN_EUNKNOWN_OUTCOME : TARN_EIO; break;
  case SQLITE_CORRUPT:
  case SQLITE_NOTADB: code = TARN_ECORRUPT; break;
  case SQLITE_READONLY:
  case SQLITE_PERM:
  case SQLITE_AUTH: code = TARN_EPERM; break;
  case SQLITE_TOOBIG: code = TARN_ETOOBIG; break;
  default: code = TARN_EIO; break;
  }
  if ((rc & 0xff) == SQLITE_IOERR && e != 0) /* the errno says which I/O error */
    return tarn_error_sys(err, code, e, "%s (sqlite %d)", msg, rc);
  return tarn_error_set(err, code, "%s (sqlite %d)", msg, rc);
}

static int get_stmt(lite_db *d, const char *sql, sqlite3_stmt **out, tarn_error *err) {
  size_t i;
  stmt_entry *stmts;
  int rc;
  for (i = 0; i < d->nstmts; i++)
    if (d->stmts[i].sql == sql) {
      *out = d->stmts[i].st;
      return 0;
    }
  stmts = tarn_reallocarray(d->stmts, d->nstmts + 1, sizeof(stmt_entry));
  if (stmts == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "preparing a statement: out of memory");
  d->stmts = stmts;
  rc = sqlite3_prepare_v3(d->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL);
  if (rc != SQLITE_OK)
    return map_error(d, rc, 0, sqlite3_errmsg(d->db), err);
  stmts[d->nstmts].sql = sql;
  stmts[d->nstmts].st = *out;
  d->nstmts++;
  return 0;
}

static int lite_exec(tarn__sql *base, const char *sql, const char *const *params, int nparams,
                     unsigned flags, tarn__sql_rows *rows, int64_t *changes, tarn_error *err) {
  lite_db *d = (lite_db *)base;
  sqlite3_stmt *st;
  int rc, i, np;
  if ((rc = get_stmt(d, sql, &st, err)) != 0)
    return rc;
  if (d->nospace && !sqlite3_stmt_readonly(st)) { /* BEGIN IMMEDIATE included */
    rc = tarn_error_set(err, TARN_ENOSPC,
                        "no space left on device: the catalog is open read-only until space "
                        "is freed in its directory");
    if (err != NULL)
      err->sys_errno = ENOSPC;
    return rc;
  }
  np = sqlite3_bind_parameter_count(st);
  for (i = 1; i <= np; i++) {
    const char *name = sqlite3_bind_parameter_name(st, i);
    long k = name != NULL && name[0] == '$' ? strtol(name + 1, NULL, 10) : 0;
    if (k < 1 || k > nparams) {
      sqlite3_clear_bindings(st);
      return tarn_error_set(err, TARN_EINTERNAL, "statement parameter %s has no value",
                            name ? name : "?");
    }
    if (sqlite3_bind_text(st, i, params[k - 1], -1, SQLITE_STATIC) != SQLITE_OK) {
      rc = map_error(d, sqlite3_extended_errcode(d->db), 0, sqlite3_errmsg(d->db), err);
      sqlite3_clear_bindings(st);
      return rc;
    }
  }
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *cells[8];
    size_t lens[8];
    int c, ncol = sqlite3_column_count(st);
    if (rows == NULL)
      continue;
    if (ncol > 8) {
      rc = tarn_error_set(err, TARN_EINTERNAL, "query returns %d columns", ncol);
      goto out;
    }
    for (c = 0; c < ncol; c++) {
      cells[c] = (const char *)sqlite3_column_text(st, c);
      lens[c] = (size_t)sqlite3_column_bytes(st, c);
      if (cells[c] == NULL && sqlite3_column_type(st, c) != SQLITE_NULL) {
        rc = tarn_error_set(err, TARN_ENOMEM, "reading a row: out of memory");
        goto out;
      }
    }
    if ((rc = tarn__sql_rows_push(rows, cells, lens, (size_t)ncol, err)) != 0)
      goto out;
  }
  if (rc == SQLITE_DONE) {
    rc = 0;
    if (changes != NULL)
      *changes = sqlite3_changes64(d->db);
  } else {
    rc = map_error(d, rc, flags, sqlite3_errmsg(d->db), err);
  }
out:
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc;
}

static int lite_begin(tarn__sql *base, tarn_error *err) {
  return lite_exec(base, SQL_BEGIN, NULL, 0, 0, NULL, NULL, err);
}

static void lite_rollback(tarn__sql *base) {
  lite_db *d = (lite_db *)base;
  if (!sqlite3_get_autocommit(d->db)) /* SQLite may have rolled back already */
    (void)lite_exec(base, SQL_ROLLBACK, NULL, 0, 0, NULL, NULL, NULL);
}

static int lite_recover(tarn__sql *base, tarn_error *err) {
  (void)base;
  (void)err;
  return 0; /* a local file: nothing to reconnect */
}

static int exists_query(tarn__sql *base, const char *sql, const char *const *p, int n, int *yes,
                        tarn_error *err) {
  tarn__sql_rows rows;
  int rc;
  tarn__sql_rows_init(&rows);
  rc = lite_exec(base, sql, p, n, 0, &rows, NULL, err);
  *yes = rc == 0 && rows.nrows > 0;
  tarn__sql_rows_free(&rows);
  return rc;
}

static int lite_table_exists(tarn__sql *base, const char *table, int *exists, tarn_error *err) {
  const char *p[1] = {table};
  return exists_query(base, SQL_TABLE_EXISTS, p, 1, exists, err);
}

static int lite_column_exists(tarn__sql *base, const char *table, const char *column, int *exists,
                              tarn_error *err) {
  const char *p[2] = {table, column};
  return exists_query(base, SQL_COLUMN_EXISTS, p, 2, exists, err);
}

static int lite_schema_lock(tarn__sql *base, tarn_error *err) {
  (void)base;
  (void)err;
  return 0; /* BEGIN IMMEDIATE holds the write lock already */
}

static void lite_close(lite_db *d);

static void lite_destroy(tarn__sql *base) {
  lite_db *d = (lite_db *)base;
  lite_close(d);
  tarn_free(d->stmts);
  tarn_free(d->base.display);
  tarn_free(d);
}

static const tarn__sql_ops lite_ops = {
    "sqlite",          lite_exec,          lite_begin,       lite_rollback, lite_recover,
    lite_table_exists, lite_column_exists, lite_schema_lock, lite_destroy,
};

/*
 * Runs a set-up statement, retrying SQLITE_BUSY until the busy timeout: switching a new
 * database to WAL needs an exclusive lock, and SQLite returns BUSY without calling the
 * busy handler when waiting could deadlock (several processes opening at once).
 */
static int exec_retry(lite_db *d, const char *sql, tarn__sql_rows *rows, tarn_error *err) {
  uint64_t deadline = tarn_clock_mono_ns() + (uint64_t)d->base.busy_timeout_ms * 1000000u;
  unsigned attempt;
  int rc;
  d->base.deadline_ns = deadline;
  for (attempt = 1;; attempt++) {
    uint64_t now, ms;
    d->base.transient = 0;
    if (rows != NULL)
      tarn__sql_rows_free(rows);
    rc = lite_exec(&d->base, sql, NULL, 0, 0, rows, NULL, err);
    now = tarn_clock_mono_ns();
    if (rc == 0 || !d->base.transient || now >= deadline)
      break;
    ms = tarn__sql_backoff_ms(&d->base, attempt, 100);
    tarn_sleep_ms(ms < (deadline - now) / 1000000u ? ms : (deadline - now) / 1000000u + 1);
  }
  d->base.deadline_ns = 0;
  return rc;
}

/* Closes the connection and its prepared statements (d stays, for a second open). */
static void lite_close(lite_db *d) {
  size_t i;
  for (i = 0; i < d->nstmts; i++)
    sqlite3_finalize(d->stmts[i].st);
  d->nstmts = 0;
  if (d->db != NULL)
    sqlite3_close(d->db);
  d->db = NULL;
}

/*
 * Opens path and runs the set-up. nospace = 0: the shared mode every client uses (WAL,
 * FULL sync). nospace = 1, after the shared mode found no space for the -shm file: an
 * exclusive lock and the WAL index in heap memory, so nothing on disk grows; query_only
 * and no checkpoint at close, so nothing on disk is written either. The first read takes
 * the exclusive lock (after other connections finish, through the busy handler) and it
 * is held until close; in WAL mode it cannot be given back earlier.
 */
static int lite_open(lite_db *d, const char *path, int nospace, tarn_error *err) {
  tarn__sql_rows rows;
  int rc;
  d->nospace = 0;
  /* NOMUTEX: a handle is used by one thread at a time (catalog.h), so SQLite's own
   * connection mutex would only cost. */
  rc = sqlite3_open_v2(path, &d->db,
                       SQLITE_OPEN_READWRITE | (nospace ? 0 : SQLITE_OPEN_CREATE) |
                           SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
                       NULL);
  if (rc != SQLITE_OK) {
    if (d->db != NULL && is_nospace_errno(sqlite3_system_errno(d->db)))
      rc = map_error(d, SQLITE_FULL, 0, sqlite3_errmsg(d->db), err);
    else
      rc = tarn_error_set(
          err, (rc & 0xff) == SQLITE_PERM || (rc & 0xff) == SQLITE_READONLY ? TARN_EPERM : TARN_EIO,
          "%s", d->db ? sqlite3_errmsg(d->db) : sqlite3_errstr(rc));
    lite_close(d);
    return rc;
  }
  sqlite3_busy_handler(d->db, busy_cb, d);
  tarn__sql_rows_init(&rows);
  if (nospace) {
    rc = sqlite3_db_config(d->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    if (rc != SQLITE_OK)
      rc = map_error(d, rc, 0, sqlite3_errmsg(d->db), err);
    if (rc == 0)
      rc = exec_retry(d, SQL_EXCLUSIVE, NULL, err);
    if (rc == 0)
      rc = exec_retry(d, SQL_QUERY_ONLY, NULL, err);
    if (rc == 0)
      rc = exec_retry(d, SQL_READ_SCHEMA, NULL, err);
    d->nospace = 1;
  } else {
    rc = exec_retry(d, SQL_WAL, &rows, err);
    if (rc == 0) {
      const char *mode = tarn__sql_cell(&rows, 0, 0);
      if (mode == NULL || strcmp(mode, "wal") != 0)
        tarn_log_warn("SQLite catalog is not in WAL mode; writers will block readers",
                      "db=%s journal_mode=%s", path, mode ? mode : "unknown");
    }
  }
  tarn__sql_rows_free(&rows);
  if (rc == 0)
    rc = exec_retry(d, SQL_SYNC, NULL, err);
  if (rc != 0)
    lite_close(d);
  return rc;
}

/* The driver: opens one connection; the SQL catalog then owns the tarn__sql. */
static int sqlite_connect(const char *path, int64_t busy_timeout_ms, tarn__sql **out,
                          tarn_error *err) {
  lite_db *d;
  tarn_error first, second;
  int rc;
  *out = NULL;
  if (path == NULL || path[0] == '\0')
    return tarn_error_set(err, TARN_EINVAL, "SQLite catalog path is empty");
  d = tarn_calloc(1, sizeof(*d));
  if (d == NULL || (d->base.display = tarn_strdup(path)) == NULL) {
    tarn_free(d);
    return tarn_error_set(err, TARN_ENOMEM, "opening the catalog: out of memory");
  }
  d->base.ops = &lite_ops;
  d->base.busy_timeout_ms = busy_timeout_ms;
  d->base.rng = tarn_clock_mono_ns() ^ ((uint64_t)getpid() << 32);
  tarn_error_clear(&first);
  rc = lite_open(d, path, 0, &first);
  if (rc == TARN_ENOSPC) {
    tarn_log_warn("no space left on device for the SQLite catalog; reading it read-only under "
                  "an exclusive lock, writes refused until space is freed",
                  "db=%s error=%s", path, tarn_error_message(&first));
    tarn_error_clear(&second);
    rc = lite_open(d, path, 1, &second);
    if (rc != 0) /* the first failure is the one to report */
      rc = tarn_error_set(err, first.code, "%s (read-only: %s)", tarn_error_message(&first),
                          tarn_error_message(&second));
  } else if (rc != 0 && err != NULL) {
    *err = first;
  }
  if (rc != 0) {
    tarn_error_prefix(err, "opening SQLite catalog %s", path);
    lite_destroy(&d->base);
    return rc;
  }
  *out = &d->base;
  return 0;
}

int tarn_catalog_sqlite_open(const char *path, const tarn_catalog_options *o, tarn_catalog **out,
                             tarn_error *err) {
  tarn__sql *db;
  int64_t busy =
      o && o->busy_timeout_ms >= 0 ? o->busy_timeout_ms : TARN_CATALOG_DEFAULT_BUSY_TIMEOUT_MS;
  int rc;
  *out = NULL;
  if ((rc = sqlite_connect(path, busy, &db, err)) != 0)
    return rc;
  return tarn__catalog_sql_open(db, o, out, err);
}
