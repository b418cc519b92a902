/* pg_ingest.c - a PostgreSQL table or query into a dataset: one REPEATABLE READ snapshot,
 * binary COPY, parallel ctid-range readers, the CSV path's publish and commit. */
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "catalog/pgconn.h"
#include "ingest_int.h"

/*
 * The pipeline. Reader threads (one per connection) receive the COPY stream of their ctid
 * ranges and hand it over in chunks of whole CopyData messages through a small queue each
 * (bounded: a reader waits while its queue is full, and PostgreSQL waits on the socket).
 * The ingesting thread takes the ranges in page order, decodes the binary tuples into
 * column builders of a fixed number of rows and writes them to the Parquet spool file. A
 * batch depends on the rows only, never on the ranges or the readers, so any number of
 * readers writes the same bytes.
 */

#define CHUNK_BYTES (1u << 20)
#define QUEUE_DEPTH 4
#define BATCH_ROWS 65536
#define BATCH_BYTES (32u << 20)
#define COL_FIXED 12288
#define ROW_GROUP_MAX ((size_t)64 << 20)
#define PARALLEL_BYTES ((uint64_t)256 << 20) /* tables this big read in parallel by default */
#define MAX_READERS 16

/* pg_type OIDs: fixed in PostgreSQL's catalog since forever. */
enum {
  OID_BOOL = 16,
  OID_BYTEA = 17,
  OID_NAME = 19,
  OID_INT8 = 20,
  OID_INT2 = 21,
  OID_INT4 = 23,
  OID_TEXT = 25,
  OID_JSON = 114,
  OID_FLOAT4 = 700,
  OID_FLOAT8 = 701,
  OID_BPCHAR = 1042,
  OID_VARCHAR = 1043,
  OID_DATE = 1082,
  OID_TIME = 1083,
  OID_TIMESTAMP = 1114,
  OID_TIMESTAMPTZ = 1184,
  OID_NUMERIC = 1700,
  OID_UUID = 2950,
  OID_JSONB = 3802,
};

/* How a column's binary values decode. */
typedef enum kind {
  K_BOOL,
  K_INT2,
  K_INT4,
  K_INT8,
  K_FLOAT4,
  K_FLOAT8,
  K_DATE,
  K_TIME,
  K_TS,
  K_UUID,
  K_BYTES,
  K_JSONB,
  K_DEC,
} kind;

#define PG_EPOCH_DAYS 10957               /* 2000-01-01 - 1970-01-01 */
#define PG_EPOCH_MICROS 946684800000000LL /* the same in microseconds */

typedef struct pgcol {
  char *name;
  char *pg_type; /* format_type() text */
  kind k;
  tarn_ice_type type;
  int notnull;  /* NOT NULL in the table */
  int required; /* required in the file written (the dataset's field) */
  int as_text;  /* selected as ::text */
  int width;    /* K_DEC: 4, 8 or the fixed length */
} pgcol;

/* A chunk of whole CopyData messages of one range. */
typedef struct chunk {
  uint8_t *p;
  size_t len, cap;
  int last; /* the range's stream ended after these bytes */
} chunk;

struct src;

typedef struct reader {
  struct src *s;
  PGconn *conn;
  int index;
  pthread_t th;
  int started;
  chunk q[QUEUE_DEPTH]; /* full chunks, a ring */
  size_t head, count;
  chunk spare[QUEUE_DEPTH + 1]; /* empty buffers to reuse */
  size_t nspare;
  int done; /* reader_main returned (under s->mu) */
  int rc;   /* the reader's failure, with err and sqlstate */
  tarn_error err;
  char sqlstate[6];
} reader;

typedef struct src {
  const tarn_pg_ingest_options *o;
  tarn_pg_ingest_result *r;
  tarn_pgconn_info ci;
  PGconn *main;
  char *from; /* "schema"."name", or "(query) AS q" */
  char relkind;
  int has_children;
  uint64_t nblocks, rel_bytes;
  pgcol *cols;
  size_t ncols;
  char *select_list;
  char *where; /* incremental predicate, or NULL */
  int inc;     /* index of the incremental column, or -1 */
  char *mark_from;
  char snapshot[64];
  char snapshot_time[64];
  int nreaders;
  uint64_t nranges;
  reader *readers;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int stop; /* the consumer gave up: readers stop */
} src;

/* ---- errors ---- */

/* A server-side failure of `res` (or of the connection): the message and the SQLSTATE. */
static int pg_fail(src *s, PGconn *conn, const PGresult *res, char *sqlstate, const char *what,
                   tarn_error *err) {
  const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
  char msg[400];
  int code;
  const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
  const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
  if (primary != NULL) /* the server's words, without the query text and caret */
    snprintf(msg, sizeof(msg), "%s%s%s", primary, detail ? "; " : "", detail ? detail : "");
  else
    tarn_pgconn_one_line(PQerrorMessage(conn), msg, sizeof(msg));
  if (st == NULL || PQstatus(conn) != CONNECTION_OK)
    st = PQstatus(conn) != CONNECTION_OK ? "08006" : (st ? st : "XX000");
  snprintf(sqlstate, 6, "%s", st);
  /* connection trouble, a server shutting down, resources: the server's side; the rest
   * (syntax, permissions, missing objects, data) is what the caller asked for */
  code = strncmp(st, "08", 2) == 0 || strncmp(st, "57", 2) == 0 || strncmp(st, "53", 2) == 0 ||
                 strncmp(st, "58", 2) == 0
             ? TARN_ENETWORK
         : strncmp(st, "28", 2) == 0 || strcmp(st, "42501") == 0 ? TARN_EPERM
                                                                 : TARN_EINVAL;
  tarn_error_set(err, code, "PostgreSQL (%s): %s: %s (SQLSTATE %s)", s->ci.display, what,
                 msg[0] ? msg : "connection lost", st);
  tarn_pgconn_scrub(&s->ci, err);
  return code;
}

static int exec_ok(src *s, PGconn *conn, const char *sql, const char *what, tarn_error *err) {
  PGresult *res = PQexec(conn, sql);
  int rc = 0;
  if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
    rc = pg_fail(s, conn, res, s->r->sqlstate, what, err);
  PQclear(res);
  return rc;
}

/* ---- connections ---- */

static const char *const forbidden_keys[] = {
    "passfile",  "service",     "sslkey",        "sslcert",     "sslrootcert", "sslcrl",
    "sslcrldir", "sslpassword", "gssdelegation", "requirepeer", "krbsrvname",  NULL};

/* The i-th entry of a comma list into dst (the only one when the list has one entry, as
 * libpq uses a single port for every host); "" when there is none. */
static void list_item(const char *list, size_t i, char *dst, size_t n) {
  const char *p = list;
  size_t k = 0, len;
  dst[0] = '\0';
  if (list == NULL)
    return;
  if (strchr(list, ',') == NULL)
    i = 0;
  while (k < i && (p = strchr(p, ',')) != NULL) {
    p++;
    k++;
  }
  if (p == NULL)
    return;
  len = strcspn(p, ",");
  snprintf(dst, n, "%.*s", (int)(len < n ? len : n - 1), p);
}

/* Each of a comma list of hosts (or addresses) must be a TCP host that `allowed` lists
 * (alone, or as host:port with the port libpq pairs it with). */
static int check_host_list(const char *h, const char *ports, const char *allowed, tarn_error *err) {
  char one[256], port[32];
  size_t i;
  for (i = 0; *h; i++) {
    size_t n = strcspn(h, ",");
    if (n >= sizeof(one))
      return tarn_error_set(err, TARN_EINVAL, "the connection string's host list is not valid");
    memcpy(one, h, n);
    one[n] = '\0';
    list_item(ports, i, port, sizeof(port));
    if (port[0] == '\0')
      snprintf(port, sizeof(port), "5432");
    if (one[0] == '\0' || one[0] == '/' || one[0] == '@')
      return tarn_error_set(err, TARN_EINVAL,
                            "the connection string names a unix socket (%s); only TCP hosts "
                            "are allowed here",
                            one[0] ? one : "the default one, by an empty host");
    if (allowed != NULL && allowed[0] != '\0') {
      const char *a = allowed;
      int ok = 0;
      char hp[300];
      snprintf(hp, sizeof(hp), "%s:%s", one, port);
      while (*a && !ok) {
        size_t m;
        a += strspn(a, " ,");
        m = strcspn(a, " ,");
        if (m > 0 && ((strlen(one) == m && strncmp(a, one, m) == 0) ||
                      (strlen(hp) == m && strncmp(a, hp, m) == 0)))
          ok = 1;
        a += m;
      }
      if (!ok)
        return tarn_error_set(err, TARN_EPERM,
                              "host %s is not in [ingest] db_hosts (the hosts this server may "
                              "read from)",
                              hp);
    }
    h += n;
    if (*h == ',')
      h++;
  }
  return 0;
}

/* A client's DSN may only name TCP hosts, and those `allowed_hosts` lists: its host and
 * its hostaddr (where libpq really connects) both. */
static int check_hosts(src *s, tarn_error *err) {
  int rc;
  if (s->ci.host == NULL || s->ci.host[0] == '\0')
    return tarn_error_set(err, TARN_EINVAL,
                          "the connection string must name a host (host=... or "
                          "postgresql://host/...)");
  rc = check_host_list(s->ci.host, s->ci.port, s->o->allowed_hosts, err);
  if (rc == 0 && s->ci.hostaddr != NULL)
    rc = check_host_list(s->ci.hostaddr, s->ci.port, s->o->allowed_hosts, err);
  if (rc != 0)
    return rc;
  if (s->ci.secrets[0] == NULL && (getenv("PGPASSWORD") != NULL || getenv("PGSERVICE") != NULL))
    return tarn_error_set(err, TARN_EINVAL,
                          "give the password in the connection string: this server does not "
                          "lend its own PostgreSQL credentials (PGPASSWORD) to clients");
  return 0;
}

/* Per-session settings: row order physical and stable (no synchronized or parallel scans,
 * no index order), text forms deterministic (UTC, ISO dates, exact floats). */
static const char SESSION_SQL[] =
    "SET synchronize_seqscans = off; SET max_parallel_workers_per_gather = 0; "
    "SET enable_indexscan = off; SET enable_indexonlyscan = off; SET TimeZone = 'UTC'; "
    "SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 3; "
    "SET bytea_output = 'hex'";

static int pg_connect(src *s, PGconn **out, tarn_error *err) {
  /* The string goes in as an expandable dbname; the settings before it are defaults the
   * string may change, those after it are ours. A client's string never reads this
   * process's password file. */
  const char *keys[] = {"connect_timeout",
                        "keepalives_idle",
                        "keepalives_interval",
                        "keepalives_count",
                        "dbname",
                        "fallback_application_name",
                        "client_encoding",
                        s->o->restricted ? "passfile" : NULL,
                        NULL};
  const char *vals[] = {"10",      "30",          "10",   "3",
                        s->o->dsn, "tarn-ingest", "UTF8", "/nonexistent/tarn-no-passfile",
                        NULL};
  PGconn *conn = PQconnectdbParams(keys, vals, 1);
  int rc;
  *out = conn;
  if (conn == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "connecting to PostgreSQL: out of memory");
  if (PQstatus(conn) != CONNECTION_OK) {
    char msg[400];
    rc = tarn_pgconn_connect_error_code(conn);
    snprintf(s->r->sqlstate, sizeof(s->r->sqlstate), "%s", tarn_pgconn_connect_sqlstate(conn));
    tarn_pgconn_one_line(PQerrorMessage(conn), msg, sizeof(msg));
    tarn_error_set(err, rc == TARN_ENOTFOUND ? TARN_EINVAL : rc,
                   "PostgreSQL (%s): connecting: %s (SQLSTATE %s)", s->ci.display, msg,
                   s->r->sqlstate);
    tarn_pgconn_scrub(&s->ci, err);
    return rc == TARN_ENOTFOUND ? TARN_EINVAL : rc;
  }
  return exec_ok(s, conn, SESSION_SQL, "setting up the session", err);
}

static const char BEGIN_SQL[] = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY";

/* ---- schema ---- */

static char *quote_ident(PGconn *conn, const char *name, tarn_error *err) {
  char *q = PQescapeIdentifier(conn, name, strlen(name)), *out;
  if (q == NULL) {
    tarn_error_set(err, TARN_ENOMEM, "quoting an identifier: out of memory");
    return NULL;
  }
  out = tarn_strdup(q);
  PQfreemem(q);
  if (out == NULL)
    tarn_error_set(err, TARN_ENOMEM, "out of memory");
  return out;
}

static int warn(src *s, const char *fmt, const char *a, const char *b) {
  char text[512];
  snprintf(text, sizeof(text), fmt, a, b);
  tarn_log_info("postgres ingest column", "name=%s note=%s", s->o->name, text);
  return json_array_append_new(s->r->warnings, json_string(text)) == 0 ? 0 : -1;
}

/* The Iceberg type of a column of base type `oid` (domains resolved) and typmod. */
static int map_type(src *s, pgcol *c, uint32_t oid, int32_t typmod, char typtype) {
  c->as_text = 0;
  switch (oid) {
  case OID_BOOL: c->k = K_BOOL, c->type.id = TARN_ICE_BOOLEAN; return 0;
  case OID_INT2: c->k = K_INT2, c->type.id = TARN_ICE_INT; return 0;
  case OID_INT4: c->k = K_INT4, c->type.id = TARN_ICE_INT; return 0;
  case OID_INT8: c->k = K_INT8, c->type.id = TARN_ICE_LONG; return 0;
  case OID_FLOAT4: c->k = K_FLOAT4, c->type.id = TARN_ICE_FLOAT; return 0;
  case OID_FLOAT8: c->k = K_FLOAT8, c->type.id = TARN_ICE_DOUBLE; return 0;
  case OID_DATE: c->k = K_DATE, c->type.id = TARN_ICE_DATE; return 0;
  case OID_TIME: c->k = K_TIME, c->type.id = TARN_ICE_TIME; return 0;
  case OID_TIMESTAMP: c->k = K_TS, c->type.id = TARN_ICE_TIMESTAMP; return 0;
  case OID_TIMESTAMPTZ: c->k = K_TS, c->type.id = TARN_ICE_TIMESTAMPTZ; return 0;
  case OID_UUID: c->k = K_UUID, c->type.id = TARN_ICE_UUID; return 0;
  case OID_BYTEA: c->k = K_BYTES, c->type.id = TARN_ICE_BINARY; return 0;
  case OID_TEXT:
  case OID_VARCHAR:
  case OID_BPCHAR:
  case OID_NAME:
  case OID_JSON: c->k = K_BYTES, c->type.id = TARN_ICE_STRING; return 0;
  case OID_JSONB: c->k = K_JSONB, c->type.id = TARN_ICE_STRING; return 0;
  case OID_NUMERIC:
    if (typmod >= 4) {
      int32_t p = ((typmod - 4) >> 16) & 0xffff, sc = (typmod - 4) & 0x7ff;
      if (sc & 0x400)
        sc -= 0x800; /* an 11-bit signed scale (PostgreSQL 15 allows negative ones) */
      if (p >= 1 && p <= 38 && sc >= 0 && sc <= p) {
        c->k = K_DEC;
        c->type.id = TARN_ICE_DECIMAL;
        c->type.precision = p;
        c->type.scale = sc;
        c->width = p <= 9 ? 4 : p <= 18 ? 8 : 0; /* else the Parquet schema's length */
        return 0;
      }
    }
    c->k = K_BYTES, c->type.id = TARN_ICE_STRING, c->as_text = 1;
    return warn(s,
                "column \"%s\" (%s) has no exact Iceberg decimal (precision 1 to 38, scale 0 to "
                "precision): stored as string, never rounded",
                c->name, c->pg_type);
  default:
    c->k = K_BYTES, c->type.id = TARN_ICE_STRING;
    if (typtype == 'e')
      return 0; /* an enum's binary form is its label */
    c->as_text = 1;
    return warn(s, "column \"%s\" (%s) is stored as its text form (string)", c->name, c->pg_type);
  }
}

/* Resolves domains to their base type (and typmod), and tells enums apart. */
static int base_type(src *s, uint32_t *oid, int32_t *typmod, char *typtype, tarn_error *err) {
  int depth;
  *typtype = 'b';
  switch (*oid) { /* the built-in types map without asking */
  case OID_BOOL:
  case OID_BYTEA:
  case OID_NAME:
  case OID_INT8:
  case OID_INT2:
  case OID_INT4:
  case OID_TEXT:
  case OID_JSON:
  case OID_FLOAT4:
  case OID_FLOAT8:
  case OID_BPCHAR:
  case OID_VARCHAR:
  case OID_DATE:
  case OID_TIME:
  case OID_TIMESTAMP:
  case OID_TIMESTAMPTZ:
  case OID_NUMERIC:
  case OID_UUID:
  case OID_JSONB: return 0;
  default: break;
  }
  for (depth = 0; depth < 32; depth++) {
    char text[16];
    const char *p[1] = {text};
    PGresult *res;
    snprintf(text, sizeof(text), "%u", *oid);
    res =
        PQexecParams(s->main, "SELECT typtype, typbasetype, typtypmod FROM pg_type WHERE oid = $1",
                     1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
      int rc = PQresultStatus(res) != PGRES_TUPLES_OK
                   ? pg_fail(s, s->main, res, s->r->sqlstate, "reading a column type", err)
                   : tarn_error_set(err, TARN_EINVAL, "PostgreSQL type %u not found", *oid);
      PQclear(res);
      return rc;
    }
    *typtype = PQgetvalue(res, 0, 0)[0];
    if (*typtype != 'd') {
      PQclear(res);
      return 0;
    }
    *oid = (uint32_t)strtoul(PQgetvalue(res, 0, 1), NULL, 10);
    *typmod = (int32_t)strtol(PQgetvalue(res, 0, 2), NULL, 10);
    PQclear(res);
  }
  return tarn_error_set(err, TARN_EINVAL, "PostgreSQL domain nesting too deep");
}

static int add_column(src *s, size_t i, const char *name, uint32_t oid, int32_t typmod,
                      const char *pg_type, int notnull, tarn_error *err) {
  pgcol *c = &s->cols[i];
  char typtype;
  size_t j;
  int rc;
  for (j = 0; j < i; j++)
    if (strcmp(s->cols[j].name, name) == 0)
      return tarn_error_set(err, TARN_EINVAL,
                            "the query gives two columns named \"%s\": name them apart (AS)", name);
  c->name = tarn_strdup(name);
  c->pg_type = tarn_strdup(pg_type);
  c->notnull = notnull;
  if (c->name == NULL || c->pg_type == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  s->ncols = i + 1;
  if ((rc = base_type(s, &oid, &typmod, &typtype, err)) != 0)
    return rc;
  if (map_type(s, c, oid, typmod, typtype) != 0)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  return 0;
}

static int describe_table(src *s, tarn_error *err) {
  const char *p[1] = {s->o->table};
  char oidtext[16];
  PGresult *res;
  int rc = 0, i, n;
  res = PQexecParams(s->main,
                     "SELECT c.oid, c.relkind, c.relhassubclass, quote_ident(n.nspname) || '.' || "
                     "quote_ident(c.relname), pg_relation_size(c.oid), "
                     "current_setting('block_size')::int "
                     "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                     "WHERE c.oid = to_regclass($1)",
                     1, NULL, p, NULL, NULL, 0);
  if (PQresultStatus(res) != PGRES_TUPLES_OK) {
    rc = pg_fail(s, s->main, res, s->r->sqlstate, "looking up the table", err);
    PQclear(res);
    return rc;
  }
  if (PQntuples(res) != 1) {
    PQclear(res);
    snprintf(s->r->sqlstate, sizeof(s->r->sqlstate), "42P01");
    return tarn_error_set(err, TARN_EINVAL,
                          "PostgreSQL (%s): relation \"%s\" does not exist (SQLSTATE 42P01)",
                          s->ci.display, s->o->table);
  }
  snprintf(oidtext, sizeof(oidtext), "%s", PQgetvalue(res, 0, 0));
  s->relkind = PQgetvalue(res, 0, 1)[0];
  s->has_children = PQgetvalue(res, 0, 2)[0] == 't';
  s->from = tarn_strdup(PQgetvalue(res, 0, 3));
  s->rel_bytes = strtoull(PQgetvalue(res, 0, 4), NULL, 10);
  s->nblocks = s->rel_bytes / strtoull(PQgetvalue(res, 0, 5), NULL, 10);
  PQclear(res);
  if (s->from == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  if (strchr("rpvmf", s->relkind) == NULL) {
    snprintf(s->r->sqlstate, sizeof(s->r->sqlstate), "42809");
    return tarn_error_set(err, TARN_EINVAL,
                          "PostgreSQL (%s): \"%s\" is not a table, view or materialized view "
                          "(SQLSTATE 42809)",
                          s->ci.display, s->o->table);
  }
  p[0] = oidtext;
  res = PQexecParams(s->main,
                     "SELECT attname, atttypid, atttypmod, attnotnull, "
                     "format_type(atttypid, atttypmod) FROM pg_attribute "
                     "WHERE attrelid = $1::oid AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                     1, NULL, p, NULL, NULL, 0);
  if (PQresultStatus(res) != PGRES_TUPLES_OK) {
    rc = pg_fail(s, s->main, res, s->r->sqlstate, "reading the table's columns", err);
    PQclear(res);
    return rc;
  }
  n = PQntuples(res);
  s->cols = tarn_calloc(n ? (size_t)n : 1, sizeof(*s->cols));
  if (s->cols == NULL)
    rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
  for (i = 0; rc == 0 && i < n; i++)
    rc = add_column(s, (size_t)i, PQgetvalue(res, i, 0),
                    (uint32_t)strtoul(PQgetvalue(res, i, 1), NULL, 10),
                    (int32_t)strtol(PQgetvalue(res, i, 2), NULL, 10), PQgetvalue(res, i, 4),
                    PQgetvalue(res, i, 3)[0] == 't', err);
  PQclear(res);
  if (rc == 0 && n == 0)
    rc = tarn_error_set(err, TARN_EINVAL, "%s has no columns: nothing to store", s->o->table);
  return rc;
}

/* A query's text without trailing blanks and semicolons (it becomes a subquery). */
static char *query_body(const char *q) {
  size_t n = strlen(q);
  char *out;
  while (n > 0 && (q[n - 1] == ';' || q[n - 1] == ' ' || q[n - 1] == '\n' || q[n - 1] == '\t' ||
                   q[n - 1] == '\r'))
    n--;
  out = tarn_malloc(n + 16);
  if (out != NULL)
    snprintf(out, n + 16, "(%.*s) AS q", (int)n, q);
  return out;
}

static int describe_query(src *s, tarn_error *err) {
  PGresult *res;
  size_t len;
  char *sql;
  int rc = 0, i, n;
  s->from = query_body(s->o->query);
  if (s->from == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  len = strlen(s->from) + 32;
  if ((sql = tarn_malloc(len)) == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  snprintf(sql, len, "SELECT * FROM %s", s->from);
  res = PQprepare(s->main, "", sql, 0, NULL);
  tarn_free(sql);
  if (PQresultStatus(res) != PGRES_COMMAND_OK) {
    rc = pg_fail(s, s->main, res, s->r->sqlstate, "preparing the query", err);
    PQclear(res);
    return rc;
  }
  PQclear(res);
  res = PQdescribePrepared(s->main, "");
  if (PQresultStatus(res) != PGRES_COMMAND_OK) {
    rc = pg_fail(s, s->main, res, s->r->sqlstate, "describing the query", err);
    PQclear(res);
    return rc;
  }
  n = PQnfields(res);
  s->cols = tarn_calloc(n ? (size_t)n : 1, sizeof(*s->cols));
  if (s->cols == NULL)
    rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
  for (i = 0; rc == 0 && i < n; i++) {
    char pgtype[128], toid[16], tmod[16];
    const char *p[2] = {toid, tmod};
    PGresult *ft;
    snprintf(toid, sizeof(toid), "%u", (unsigned)PQftype(res, i));
    snprintf(tmod, sizeof(tmod), "%d", PQfmod(res, i));
    ft = PQexecParams(s->main, "SELECT format_type($1::oid, $2::int)", 2, NULL, p, NULL, NULL, 0);
    snprintf(pgtype, sizeof(pgtype), "%s",
             PQresultStatus(ft) == PGRES_TUPLES_OK && PQntuples(ft) == 1 ? PQgetvalue(ft, 0, 0)
                                                                         : "unknown");
    PQclear(ft);
    rc = add_column(s, (size_t)i, PQfname(res, i), (uint32_t)PQftype(res, i), PQfmod(res, i),
                    pgtype, 0, err);
  }
  PQclear(res);
  if (rc == 0 && n == 0)
    rc = tarn_error_set(err, TARN_EINVAL, "the query returns no columns");
  return rc;
}

/* ---- the incremental mark ---- */

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
  int64_t era, yy;
  unsigned doe, yoe, doy, mp;
  z += 719468;
  era = (z >= 0 ? z : z - 146096) / 146097;
  doe = (unsigned)(z - era * 146097);
  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  yy = (int64_t)yoe + era * 400;
  doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = yy + (*m <= 2);
}

static size_t fmt_date(char *dst, size_t n, int64_t days, const char **era) {
  int64_t y;
  unsigned m, d;
  civil_from_days(days, &y, &m, &d);
  *era = y <= 0 ? " BC" : "";
  return (size_t)snprintf(dst, n, "%04lld-%02u-%02u", (long long)(y <= 0 ? 1 - y : y), m, d);
}

/* The mark as PostgreSQL literal text, from the column's Iceberg value. */
static void mark_text(const pgcol *c, int64_t v, char *dst, size_t n) {
  const char *era = "";
  if (c->k == K_DATE) {
    size_t k = fmt_date(dst, n, v, &era);
    snprintf(dst + k, n - k, "%s", era);
  } else if (c->k == K_TS) {
    int64_t days = v >= 0 ? v / 86400000000LL : -((-v + 86400000000LL - 1) / 86400000000LL);
    int64_t us = v - days * 86400000000LL;
    size_t k = fmt_date(dst, n, days, &era);
    snprintf(dst + k, n - k, " %02d:%02d:%02d.%06d%s%s", (int)(us / 3600000000LL),
             (int)(us / 60000000LL % 60), (int)(us / 1000000 % 60), (int)(us % 1000000),
             c->type.id == TARN_ICE_TIMESTAMPTZ ? "+00" : "", era);
  } else {
    snprintf(dst, n, "%lld", (long long)v);
  }
}

static const char *mark_cast(const pgcol *c) {
  return c->k == K_DATE                       ? "date"
         : c->k != K_TS                       ? "bigint"
         : c->type.id == TARN_ICE_TIMESTAMPTZ ? "timestamptz"
                                              : "timestamp";
}

#define PROP_MARK "tarn.pg.high-water-mark"
#define PROP_MARK_COL "tarn.pg.incremental-column"

/* ---- the statements ---- */

static int build_sql(src *s, tarn_error *err) {
  tarn_buf b;
  size_t i;
  int rc = 0;
  tarn_buf_init(&b, TARN_BUF_UNLIMITED);
  for (i = 0; rc == 0 && i < s->ncols; i++) {
    char *q = quote_ident(s->main, s->cols[i].name, err);
    if (q == NULL)
      rc = TARN_ENOMEM;
    if (rc == 0 && i > 0)
      rc = tarn_buf_append(&b, ", ", 2, err);
    if (rc == 0)
      rc = tarn_buf_append(&b, q, strlen(q), err);
    if (rc == 0 && s->cols[i].as_text)
      rc = tarn_buf_append(&b, "::text", 6, err);
    tarn_free(q);
  }
  if (rc == 0 && (s->select_list = tarn_buf_detach(&b)) == NULL)
    rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
  tarn_buf_free(&b);
  if (rc != 0)
    return rc;
  if (s->inc >= 0) {
    const pgcol *c = &s->cols[s->inc];
    char *q = quote_ident(s->main, c->name, err), *lit = NULL;
    size_t n;
    if (q == NULL)
      return TARN_ENOMEM;
    if (s->mark_from != NULL &&
        (lit = PQescapeLiteral(s->main, s->mark_from, strlen(s->mark_from))) == NULL) {
      tarn_free(q);
      return tarn_error_set(err, TARN_ENOMEM, "out of memory");
    }
    n = strlen(q) + (lit ? strlen(lit) : 0) + 64;
    s->where = tarn_malloc(n);
    if (s->where != NULL) {
      if (lit != NULL)
        snprintf(s->where, n, "%s > %s::%s", q, lit, mark_cast(c));
      else
        snprintf(s->where, n, "%s IS NOT NULL", q);
    }
    tarn_free(q);
    if (lit != NULL)
      PQfreemem(lit);
    if (s->where == NULL)
      return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  }
  return 0;
}

/* The COPY of range k of s->nranges (all rows when there is one range). */
static char *copy_sql(const src *s, uint64_t k) {
  char range[128] = "";
  size_t n;
  char *sql;
  if (s->nranges > 1) {
    uint64_t lo = s->nblocks * k / s->nranges, hi = s->nblocks * (k + 1) / s->nranges;
    if (k == 0)
      snprintf(range, sizeof(range), "ctid < '(%llu,0)'::tid", (unsigned long long)hi);
    else if (k + 1 == s->nranges) /* open-ended: pages the size did not count */
      snprintf(range, sizeof(range), "ctid >= '(%llu,0)'::tid", (unsigned long long)lo);
    else
      snprintf(range, sizeof(range), "ctid >= '(%llu,0)'::tid AND ctid < '(%llu,0)'::tid",
               (unsigned long long)lo, (unsigned long long)hi);
  }
  n = strlen(s->select_list) + strlen(s->from) + (s->where ? strlen(s->where) : 0) + strlen(range) +
      96;
  sql = tarn_malloc(n);
  if (sql != NULL)
    snprintf(sql, n, "COPY (SELECT %s FROM %s%s%s%s%s%s) TO STDOUT (FORMAT binary)", s->select_list,
             s->from, s->where || range[0] ? " WHERE " : "", s->where ? s->where : "",
             s->where && range[0] ? " AND (" : "", range, s->where && range[0] ? ")" : "");
  return sql;
}

/* ---- readers ---- */

static void reader_fail(reader *rd, int rc, const tarn_error *e) {
  pthread_mutex_lock(&rd->s->mu);
  if (rd->rc == 0) {
    rd->rc = rc;
    rd->err = *e;
  }
  pthread_cond_broadcast(&rd->s->cv);
  pthread_mutex_unlock(&rd->s->mu);
}

/* Hands a chunk to the consumer, waiting while the queue is full; then takes an empty
 * buffer for the next one. 0, or -1 when the consumer stopped. */
static int reader_push(reader *rd, chunk *c) {
  src *s = rd->s;
  int rc = 0;
  pthread_mutex_lock(&s->mu);
  while (rd->count == QUEUE_DEPTH && !s->stop)
    pthread_cond_wait(&s->cv, &s->mu);
  if (s->stop) {
    rc = -1;
  } else {
    rd->q[(rd->head + rd->count) % QUEUE_DEPTH] = *c;
    rd->count++;
    pthread_cond_broadcast(&s->cv);
    if (rd->nspare > 0) {
      *c = rd->spare[--rd->nspare];
    } else {
      memset(c, 0, sizeof(*c));
    }
    c->len = 0;
    c->last = 0;
  }
  pthread_mutex_unlock(&s->mu);
  return rc;
}

static int chunk_reserve(chunk *c, size_t n) {
  size_t cap = c->cap ? c->cap : CHUNK_BYTES;
  uint8_t *p;
  if (c->len + n <= c->cap)
    return 0;
  while (cap < c->len + n)
    cap *= 2;
  if ((p = tarn_realloc(c->p, cap)) == NULL)
    return -1;
  c->p = p;
  c->cap = cap;
  return 0;
}

/* Streams one range: the COPY's messages into chunks, the last one marked. */
static int read_range(reader *rd, uint64_t k, chunk *c, tarn_error *err) {
  src *s = rd->s;
  char *sql = copy_sql(s, k);
  PGresult *res;
  int rc = 0;
  if (sql == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  res = PQexec(rd->conn, sql);
  tarn_free(sql);
  if (PQresultStatus(res) != PGRES_COPY_OUT) {
    rc = pg_fail(s, rd->conn, res, rd->sqlstate, "reading", err);
    PQclear(res);
    return rc;
  }
  PQclear(res);
  for (;;) {
    char *buf = NULL;
    int n = PQgetCopyData(rd->conn, &buf, 0);
    if (n == -1)
      break;
    if (n < 0)
      return pg_fail(s, rd->conn, NULL, rd->sqlstate, "reading (the stream broke off)", err);
    if (c->len > 0 && c->len + (size_t)n > CHUNK_BYTES && reader_push(rd, c) != 0) {
      PQfreemem(buf);
      return -1;
    }
    if (chunk_reserve(c, (size_t)n) != 0) {
      PQfreemem(buf);
      return tarn_error_set(err, TARN_ENOMEM, "out of memory");
    }
    memcpy(c->p + c->len, buf, (size_t)n);
    c->len += (size_t)n;
    PQfreemem(buf);
  }
  /* the COPY's own result: an error raised while it ran (a division by zero in a query)
   * arrives here */
  while ((res = PQgetResult(rd->conn)) != NULL) {
    if (rc == 0 && PQresultStatus(res) != PGRES_COMMAND_OK)
      rc = pg_fail(s, rd->conn, res, rd->sqlstate, "reading", err);
    PQclear(res);
  }
  if (rc != 0)
    return rc;
  c->last = 1;
  return reader_push(rd, c) != 0 ? -1 : 0;
}

static void *reader_main(void *arg) {
  reader *rd = arg;
  src *s = rd->s;
  chunk c;
  tarn_error e;
  uint64_t k;
  int rc = 0;
  memset(&c, 0, sizeof(c));
  tarn_error_clear(&e);
  for (k = (uint64_t)rd->index; rc == 0 && k < s->nranges; k += (uint64_t)s->nreaders)
    rc = read_range(rd, k, &c, &e);
  if (rc > 0)
    reader_fail(rd, rc, &e);
  tarn_free(c.p);
  pthread_mutex_lock(&s->mu);
  rd->done = 1;
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

/* The consumer takes the next chunk of reader rd (waits), or fails with the reader's
 * error. The previous chunk's buffer goes back to the reader. */
static int take_chunk(src *s, reader *rd, chunk *c, tarn_error *err) {
  int rc = 0;
  pthread_mutex_lock(&s->mu);
  if (c->p != NULL && rd->nspare < QUEUE_DEPTH + 1) {
    rd->spare[rd->nspare++] = *c;
    c->p = NULL;
  }
  tarn_free(c->p);
  memset(c, 0, sizeof(*c));
  while (rd->count == 0 && rd->rc == 0)
    pthread_cond_wait(&s->cv, &s->mu);
  if (rd->count > 0) {
    *c = rd->q[rd->head];
    rd->head = (rd->head + 1) % QUEUE_DEPTH;
    rd->count--;
    pthread_cond_broadcast(&s->cv);
  } else {
    rc = rd->rc;
    *err = rd->err;
    snprintf(s->r->sqlstate, sizeof(s->r->sqlstate), "%s", rd->sqlstate);
  }
  pthread_mutex_unlock(&s->mu);
  return rc;
}

static void readers_stop(src *s) {
  int i;
  pthread_mutex_lock(&s->mu);
  s->stop = 1;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  for (i = 0; s->readers != NULL && i < s->nreaders; i++) {
    reader *rd = &s->readers[i];
    size_t j;
    if (rd->started) {
      /* a reader blocked on the socket: cancel its COPY so that it returns */
      PGcancel *cn;
      char ebuf[256];
      int done;
      pthread_mutex_lock(&s->mu);
      done = rd->done;
      pthread_mutex_unlock(&s->mu);
      cn = done ? NULL : PQgetCancel(rd->conn);
      if (cn != NULL) {
        (void)PQcancel(cn, ebuf, sizeof(ebuf));
        PQfreeCancel(cn);
      }
      pthread_join(rd->th, NULL);
      rd->started = 0;
    }
    for (j = 0; j < rd->count; j++)
      tarn_free(rd->q[(rd->head + j) % QUEUE_DEPTH].p);
    rd->count = 0;
    for (j = 0; j < rd->nspare; j++)
      tarn_free(rd->spare[j].p);
    rd->nspare = 0;
  }
}

/* ---- decoding ---- */

__extension__ typedef unsigned __int128 u128;

typedef struct dec {
  src *s;
  tarn_pq_writer *pw;
  tarn_pq_builder *b;
  int64_t cap, row; /* rows a batch holds, rows in it */
  size_t batch_bytes;
  size_t data_bytes; /* variable-length bytes in the batch so far */
  int64_t total;     /* rows decoded */
  uint64_t bytes;
  int header, trailer;
  tarn_buf carry;
  int64_t inc_max;
  int inc_any;
  uint64_t last_progress;
  size_t row_group; /* the Parquet writer's row-group target */
} dec;

static uint16_t be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static uint32_t be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static uint64_t be64(const uint8_t *p) { return ((uint64_t)be32(p) << 32) | be32(p + 4); }

static int bad_value(dec *d, size_t j, const char *what, tarn_error *err) {
  return tarn_error_set(err, TARN_ERANGE, "column \"%s\" (%s), row %lld: %s", d->s->cols[j].name,
                        d->s->cols[j].pg_type, (long long)(d->total + 1), what);
}

static int bad_stream(dec *d, size_t j, const char *what, tarn_error *err) {
  return tarn_error_set(err, TARN_ECORRUPT,
                        "PostgreSQL sent a malformed COPY stream: column \"%s\", row %lld: %s",
                        d->s->cols[j].name, (long long)(d->total + 1), what);
}

/* numeric (binary: ndigits, weight, sign, dscale, base-10000 digits) as the unscaled
 * integer of decimal(p, scale), exactly, or an error naming what does not fit. */
static int put_numeric(dec *d, size_t j, const uint8_t *p, int32_t len, tarn_error *err) {
  const pgcol *c = &d->s->cols[j];
  int32_t scale = c->type.scale, prec = c->type.precision, i, k;
  u128 acc = 0, lim = 1;
  int64_t next; /* the decimal position the next digit would take */
  uint16_t nd, sign;
  int16_t weight;
  uint8_t out[16];
  int neg;
  if (len < 8)
    return bad_stream(d, j, "numeric shorter than its header", err);
  nd = be16(p), weight = (int16_t)be16(p + 2), sign = be16(p + 4);
  if (len != 8 + 2 * (int32_t)nd)
    return bad_stream(d, j, "numeric length disagrees with its digits", err);
  if (sign == 0xC000)
    return bad_value(d, j, "NaN has no Iceberg decimal form", err);
  if (sign == 0xD000 || sign == 0xF000)
    return bad_value(d, j, "infinity has no Iceberg decimal form", err);
  if (sign != 0 && sign != 0x4000)
    return bad_stream(d, j, "numeric sign not valid", err);
  neg = sign == 0x4000;
  for (i = 0; i < prec; i++)
    lim *= 10;
  next = nd > 0 ? 4 * (int64_t)weight + 3 : -(int64_t)scale - 1;
  for (i = 0; i < nd; i++) {
    uint16_t g = be16(p + 8 + 2 * i);
    static const uint16_t pow10[4] = {1000, 100, 10, 1};
    if (g > 9999)
      return bad_stream(d, j, "numeric digit over 9999", err);
    for (k = 0; k < 4; k++, next--) {
      unsigned dig = (g / pow10[k]) % 10;
      if (next < -(int64_t)scale) {
        if (dig != 0)
          return bad_value(d, j, "more fractional digits than the column's scale", err);
        continue;
      }
      acc = acc * 10 + dig;
      if (acc >= lim)
        return bad_value(d, j, "value does not fit the column's precision", err);
    }
  }
  for (; next >= -(int64_t)scale; next--) {
    acc *= 10;
    if (acc >= lim)
      return bad_value(d, j, "value does not fit the column's precision", err);
  }
  {
    /* two's complement, big-endian, in the column's width */
    u128 v = neg ? ~acc + 1 : acc;
    for (k = 0; k < 16; k++)
      out[15 - k] = (uint8_t)(v >> (8 * k));
  }
  if (c->width == 4) {
    int32_t v = (int32_t)(neg ? -(int64_t)acc : (int64_t)acc);
    tarn_pq_builder_fixed(&d->b[j], d->row, &v);
  } else if (c->width == 8) {
    int64_t v = neg ? -(int64_t)acc : (int64_t)acc;
    tarn_pq_builder_fixed(&d->b[j], d->row, &v);
  } else {
    tarn_pq_builder_fixed(&d->b[j], d->row, out + 16 - c->width);
  }
  return 0;
}

static int infinity(dec *d, size_t j, tarn_error *err) {
  if (d->s->o->infinity_null) {
    tarn_pq_builder_null(&d->b[j], d->row);
    return 0;
  }
  return bad_value(d, j,
                   "infinity has no Iceberg date or timestamp (map it to null with --infinity "
                   "null, or \"infinity\": \"null\")",
                   err);
}

/* One field (len >= 0) into row d->row of column j. */
static int put_field(dec *d, size_t j, const uint8_t *p, int32_t len, tarn_error *err) {
  const pgcol *c = &d->s->cols[j];
  tarn_pq_builder *b = &d->b[j];
  static const int32_t want[] = {
      [K_BOOL] = 1,   [K_INT2] = 2, [K_INT4] = 4, [K_INT8] = 8, [K_FLOAT4] = 4,
      [K_FLOAT8] = 8, [K_DATE] = 4, [K_TIME] = 8, [K_TS] = 8,   [K_UUID] = 16};
  if (c->k <= K_UUID && len != want[c->k])
    return bad_stream(d, j, "value length does not match its type", err);
  switch (c->k) {
  case K_BOOL: {
    uint8_t v = p[0] != 0;
    tarn_pq_builder_fixed(b, d->row, &v);
    return 0;
  }
  case K_INT2: {
    int32_t v = (int16_t)be16(p);
    tarn_pq_builder_fixed(b, d->row, &v);
    return 0;
  }
  case K_INT4:
  case K_FLOAT4: {
    uint32_t v = be32(p);
    tarn_pq_builder_fixed(b, d->row, &v);
    return 0;
  }
  case K_INT8:
  case K_FLOAT8:
  case K_TIME: {
    uint64_t v = be64(p);
    tarn_pq_builder_fixed(b, d->row, &v);
    return 0;
  }
  case K_DATE: {
    int32_t v = (int32_t)be32(p);
    if (v == INT32_MAX || v == INT32_MIN)
      return infinity(d, j, err);
    v += PG_EPOCH_DAYS;
    tarn_pq_builder_fixed(b, d->row, &v);
    return 0;
  }
  case K_TS: {
    int64_t v = (int64_t)be64(p);
    if (v == INT64_MAX || v == INT64_MIN)
      return infinity(d, j, err);
    if (v > INT64_MAX - PG_EPOCH_MICROS) /* PostgreSQL counts from 2000, Iceberg from 1970 */
      return bad_value(d, j,
                       "past the largest timestamp Iceberg can hold (microseconds since "
                       "1970 in 64 bits)",
                       err);
    v += PG_EPOCH_MICROS;
    tarn_pq_builder_fixed(b, d->row, &v);
    return 0;
  }
  case K_UUID: tarn_pq_builder_fixed(b, d->row, p); return 0;
  case K_BYTES:
    d->data_bytes += (size_t)len;
    return tarn_pq_builder_bytes(b, d->row, p, (size_t)len, err);
  case K_JSONB:
    if (len < 1 || p[0] != 1)
      return bad_stream(d, j, "jsonb of an unknown version", err);
    d->data_bytes += (size_t)len - 1;
    return tarn_pq_builder_bytes(b, d->row, p + 1, (size_t)len - 1, err);
  case K_DEC: return put_numeric(d, j, p, len, err);
  }
  return bad_stream(d, j, "no decoder", err);
}

/* The incremental column's value of the row just decoded (in Iceberg form). */
static void track_mark(dec *d) {
  const pgcol *c = &d->s->cols[d->s->inc];
  const tarn_pq_builder *b = &d->b[d->s->inc];
  int64_t v;
  if (!(b->validity[d->row >> 3] & (1u << (d->row & 7))))
    return;
  if (c->k == K_INT8 || c->k == K_TS)
    memcpy(&v, (const uint8_t *)b->values + (size_t)d->row * 8, 8);
  else {
    int32_t w;
    memcpy(&w, (const uint8_t *)b->values + (size_t)d->row * 4, 4);
    v = w;
  }
  if (!d->inc_any || v > d->inc_max)
    d->inc_max = v;
  d->inc_any = 1;
}

static int flush(dec *d, tarn_error *err) {
  src *s = d->s;
  tarn_pq_array *arr;
  tarn_pq_batch batch;
  size_t j;
  int rc;
  if (d->row == 0)
    return 0;
  arr = tarn_calloc(s->ncols ? s->ncols : 1, sizeof(*arr));
  if (arr == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  for (j = 0; j < s->ncols; j++)
    tarn_pq_builder_array(&d->b[j], d->row, &arr[j]);
  batch.nrows = d->row;
  batch.ncols = s->ncols;
  batch.cols = arr;
  rc = tarn_pq_writer_write(d->pw, &batch, err);
  tarn_free(arr);
  for (j = 0; j < s->ncols; j++)
    tarn_pq_builder_reset(&d->b[j]);
  d->row = 0;
  d->data_bytes = 0;
  return rc;
}

/* Decodes the complete tuples at the start of p[0, n); *used says how far. */
static int decode(dec *d, const uint8_t *p, size_t n, size_t *used, tarn_error *err) {
  src *s = d->s;
  size_t pos = 0;
  int rc;
  *used = 0;
  if (!d->header) {
    static const uint8_t sig[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0};
    uint32_t ext;
    if (n < 19)
      return 0;
    if (memcmp(p, sig, 11) != 0)
      return tarn_error_set(err, TARN_ECORRUPT, "PostgreSQL sent no binary COPY header");
    if (be32(p + 11) & 0x10000)
      return tarn_error_set(err, TARN_ECORRUPT, "PostgreSQL sent OIDs in the COPY stream");
    ext = be32(p + 15);
    if (ext > (1u << 20))
      return tarn_error_set(err, TARN_ECORRUPT, "COPY header extension too long");
    if (n < 19 + (size_t)ext)
      return 0;
    pos = 19 + ext;
    d->header = 1;
  }
  while (pos < n) {
    size_t q, j;
    int16_t nf;
    if (d->trailer)
      return tarn_error_set(err, TARN_ECORRUPT, "PostgreSQL sent data after the COPY trailer");
    if (n - pos < 2)
      break;
    nf = (int16_t)be16(p + pos);
    if (nf == -1) {
      d->trailer = 1;
      pos += 2;
      continue;
    }
    if (nf < 0 || (size_t)nf != s->ncols)
      return tarn_error_set(err, TARN_ECORRUPT,
                            "PostgreSQL sent a row of %d fields; the query has %zu columns", nf,
                            s->ncols);
    /* whole tuple here? */
    q = pos + 2;
    for (j = 0; j < s->ncols; j++) {
      int32_t len;
      if (n - q < 4)
        break;
      len = (int32_t)be32(p + q);
      q += 4;
      if (len < -1)
        return bad_stream(d, j, "negative length", err);
      if (len > 0) {
        if (n - q < (size_t)len)
          break;
        q += (size_t)len;
      }
    }
    if (j < s->ncols)
      break; /* the rest comes with the next chunk */
    q = pos + 2;
    for (j = 0; j < s->ncols; j++) {
      int32_t len = (int32_t)be32(p + q);
      q += 4;
      if (len == -1) {
        if (s->cols[j].required)
          return bad_value(d, j, "null, and the dataset's column is required", err);
        tarn_pq_builder_null(&d->b[j], d->row);
        continue;
      }
      if ((rc = put_field(d, j, p + q, len, err)) != 0)
        return rc;
      q += (size_t)len;
    }
    if (s->inc >= 0)
      track_mark(d);
    d->row++;
    d->total++;
    pos = q;
    /* a batch ends at a row count or at its bytes: either way on the rows alone */
    if (d->row == d->cap || d->data_bytes >= d->batch_bytes) {
      if ((rc = flush(d, err)) != 0)
        return rc;
    }
  }
  *used = pos;
  return 0;
}

/* Takes the ranges in page order, each from its reader, and decodes them. */
static int consume(src *s, dec *d, tarn_error *err) {
  chunk c;
  uint64_t k;
  int rc = 0;
  memset(&c, 0, sizeof(c));
  for (k = 0; rc == 0 && k < s->nranges; k++) {
    reader *rd = &s->readers[k % (uint64_t)s->nreaders];
    d->header = d->trailer = 0;
    tarn_buf_reset(&d->carry);
    while (rc == 0) {
      size_t used = 0;
      if ((rc = take_chunk(s, rd, &c, err)) != 0)
        break;
      d->bytes += c.len;
      if (d->carry.len > 0) { /* a tuple across chunks: only if the server split one */
        rc = tarn_buf_append(&d->carry, c.p, c.len, err);
        if (rc == 0)
          rc = decode(d, (const uint8_t *)d->carry.data, d->carry.len, &used, err);
        if (rc == 0) {
          memmove(d->carry.data, d->carry.data + used, d->carry.len - used);
          d->carry.len -= used;
        }
      } else {
        rc = decode(d, c.p, c.len, &used, err);
        if (rc == 0 && used < c.len)
          rc = tarn_buf_append(&d->carry, c.p + used, c.len - used, err);
      }
      if (rc == 0 && s->o->progress != NULL) {
        uint64_t now = tarn_clock_mono_ns();
        if (now - d->last_progress >= 100000000ull) {
          s->o->progress((uint64_t)d->total, d->bytes, s->o->progress_arg);
          d->last_progress = now;
        }
      }
      if (rc == 0 && c.last) {
        if (!d->trailer || d->carry.len > 0)
          rc = tarn_error_set(err, TARN_ECORRUPT, "PostgreSQL's COPY stream ended mid-row");
        break;
      }
    }
  }
  tarn_free(c.p);
  if (rc == 0 && s->o->progress != NULL)
    s->o->progress((uint64_t)d->total, d->bytes, s->o->progress_arg);
  return rc;
}

/* ---- the commit ---- */

typedef struct pg_commit {
  src *s;
  const tarn__ingest_shape *sh;
  const char *sha;
  const char *mark_to; /* incremental: the new mark */
  int64_t file_size;
} pg_commit;

static int same(const char *a, const char *b) {
  return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static char *columns_prop(const src *s) {
  json_t *a = json_array();
  char *text, tn[48];
  size_t i;
  for (i = 0; a != NULL && i < s->ncols; i++) {
    tarn__ingest_type_name(&s->cols[i].type, tn, sizeof(tn));
    json_array_append_new(a, json_pack("{s:s,s:s,s:b}", "name", s->cols[i].name, "type", tn,
                                       "nullable", !s->cols[i].required));
  }
  text = a ? json_dumps(a, JSON_COMPACT) : NULL;
  json_decref(a);
  return text;
}

static int pg_commit_check(void *arg, const tarn_ice_metadata *base, tarn_ice_metadata *next,
                           tarn_error *err) {
  pg_commit *pc = arg;
  src *s = pc->s;
  const tarn_pg_ingest_options *o = s->o;
  tarn_pg_ingest_result *r = s->r;
  const char *fp = tarn_ice_metadata_property(base, "tarn.fingerprint");
  const char *sha = tarn_ice_metadata_property(base, "tarn.source-sha256");
  char rows[32], size[32], read[32], port[64], *cols;
  const char *src_text = json_string_value(json_object_get(r->source, "table")) ? "table" : "query";
  tarn_ice_kv props[24];
  size_t n = 0;
  int64_t total;
  int rc;
  if (fp == NULL || strcmp(fp, r->fingerprint) != 0) {
    json_decref(r->drift);
    r->drift =
        tarn__ingest_drift(tarn_ice_metadata_schema(base, base->current_schema_id), fp, pc->sh);
    return tarn_error_set(err, TARN_ESCHEMA,
                          "dataset %s has schema %s; the PostgreSQL %s has %s (nothing was "
                          "written)",
                          o->name, fp ? fp : "(none)", src_text, r->fingerprint);
  }
  if (s->inc >= 0 && o->append && !same(tarn_ice_metadata_property(base, PROP_MARK), s->mark_from))
    return tarn_error_set(err, TARN_ECONFLICT,
                          "another incremental ingest of dataset %s committed meanwhile (its "
                          "mark moved from %s to %s); nothing was written: run it again",
                          o->name, s->mark_from ? s->mark_from : "(none)",
                          tarn_ice_metadata_property(base, PROP_MARK)
                              ? tarn_ice_metadata_property(base, PROP_MARK)
                              : "(none)");
  if (s->inc < 0 && sha != NULL && strcmp(sha, pc->sha) == 0 &&
      (o->append || (tarn__ingest_summary_int(base, "total-data-files") == 1 &&
                     tarn__ingest_summary_int(base, "total-records") == r->row_count))) {
    r->existing = 1;
    r->snapshot_id = base->current_snapshot_id;
    return TARN_EALREADY;
  }
  r->created = base->current_snapshot_id < 0;
  total = r->row_count;
  if (o->append && tarn__ingest_summary_int(base, "total-records") > 0)
    total += tarn__ingest_summary_int(base, "total-records");
  snprintf(rows, sizeof(rows), "%lld", (long long)total);
  snprintf(size, sizeof(size), "%lld", (long long)pc->file_size);
  snprintf(read, sizeof(read), "%lld", (long long)r->row_count);
  if ((cols = columns_prop(s)) == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
#define PROP(k, v) props[n++] = (tarn_ice_kv){(char *)(k), (char *)(v)}
  PROP("tarn.fingerprint", r->fingerprint);
  PROP("tarn.source", pc->sh->source);
  PROP("tarn.source-sha256", pc->sha);
  PROP("tarn.columns", cols);
  PROP("tarn.row-count", rows);
  PROP("tarn.parquet-key", r->parquet_key);
  PROP("tarn.parquet-size", size);
  PROP("tarn.delimiter", NULL);
  PROP("tarn.pg.host", json_string_value(json_object_get(r->source, "host")));
  if (json_is_integer(json_object_get(r->source, "port")))
    snprintf(port, sizeof(port), "%lld",
             (long long)json_integer_value(json_object_get(r->source, "port")));
  else
    snprintf(port, sizeof(port), "%s",
             json_string_value(json_object_get(r->source, "port"))
                 ? json_string_value(json_object_get(r->source, "port"))
                 : "");
  PROP("tarn.pg.port", port);
  PROP("tarn.pg.database", json_string_value(json_object_get(r->source, "database")));
  PROP("tarn.pg.user", json_string_value(json_object_get(r->source, "user")));
  PROP("tarn.pg.table", json_string_value(json_object_get(r->source, "table")));
  PROP("tarn.pg.query", json_string_value(json_object_get(r->source, "query")));
  PROP("tarn.pg.snapshot-time", s->snapshot_time);
  PROP("tarn.pg.row-count", read);
  if (s->inc >= 0) {
    PROP(PROP_MARK_COL, s->cols[s->inc].name);
    PROP(PROP_MARK, pc->mark_to);
  } else if (!o->append) { /* the data was replaced: no mark describes it any more */
    PROP(PROP_MARK_COL, NULL);
    PROP(PROP_MARK, NULL);
  }
#undef PROP
  rc = tarn_ice_metadata_set_properties(next, props, n, err);
  tarn_free(cols);
  return rc;
}

/* ---- the ingest ---- */

void tarn_pg_ingest_options_init(tarn_pg_ingest_options *o) {
  memset(o, 0, sizeof(*o));
  o->codec = TARN_PQ_SNAPPY;
}

void tarn_pg_ingest_result_init(tarn_pg_ingest_result *r) {
  memset(r, 0, sizeof(*r));
  r->snapshot_id = -1;
}

void tarn_pg_ingest_result_free(tarn_pg_ingest_result *r) {
  json_decref(r->columns);
  json_decref(r->warnings);
  json_decref(r->source);
  json_decref(r->incremental);
  json_decref(r->drift);
  tarn_pg_ingest_result_init(r);
}

json_t *tarn_pg_ingest_result_json(const tarn_pg_ingest_result *r, int append) {
  const char *what = r->existing  ? "existing"
                     : r->created ? "created"
                     : append     ? "appended"
                                  : "replaced";
  json_t *j = json_pack(
      "{s:b,s:s,s:I,s:I,s:I,s:s,s:s,s:o,s:i,s:O,s:O,s:O}", "existing", r->existing, "outcome", what,
      "row_count", (json_int_t)r->row_count, "bytes", (json_int_t)r->bytes, "parquet_size",
      (json_int_t)r->parquet_size, "parquet_key", r->parquet_key, "fingerprint", r->fingerprint,
      "snapshot_id", r->snapshot_id >= 0 ? json_integer(r->snapshot_id) : json_null(), "readers",
      r->readers, "columns", r->columns ? r->columns : json_null(), "warnings",
      r->warnings ? r->warnings : json_null(), "source", r->source ? r->source : json_null());
  if (j != NULL && r->incremental != NULL)
    json_object_set(j, "incremental", r->incremental);
  return j;
}

static void src_free(src *s) {
  size_t i;
  int k;
  readers_stop(s);
  for (k = 1; s->readers != NULL && k < s->nreaders; k++)
    if (s->readers[k].conn != NULL)
      PQfinish(s->readers[k].conn);
  tarn_free(s->readers);
  if (s->main != NULL)
    PQfinish(s->main);
  for (i = 0; s->cols != NULL && i < s->ncols; i++) {
    tarn_free(s->cols[i].name);
    tarn_free(s->cols[i].pg_type);
  }
  tarn_free(s->cols);
  tarn_free(s->from);
  tarn_free(s->select_list);
  tarn_free(s->where);
  tarn_free(s->mark_from);
  tarn_pgconn_info_free(&s->ci);
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cv);
}

static int check_options(const tarn_pg_ingest_options *o, tarn_error *err) {
  int rc = tarn_dataset_name_check(o->name, err);
  if (rc != 0)
    return rc;
  if ((o->table == NULL || o->table[0] == '\0') == (o->query == NULL || o->query[0] == '\0'))
    return tarn_error_set(err, TARN_EINVAL, "give either a table or a query (exactly one)");
  if (o->readers < 0 || o->readers > MAX_READERS)
    return tarn_error_set(err, TARN_EINVAL, "readers must be 1 to %d (0: chosen by size), not %d",
                          MAX_READERS, o->readers);
  if (o->query != NULL && o->query[0] != '\0' && o->readers > 1)
    return tarn_error_set(err, TARN_EINVAL,
                          "a query is read by one reader (parallel readers split a table's "
                          "pages)");
  if (o->incremental_column != NULL && o->incremental_column[0] == '\0')
    return tarn_error_set(err, TARN_EINVAL, "the incremental column is empty");
  return 0;
}

/* The dataset's mark for an incremental run. */
static int load_mark(src *s, tarn_table *t, tarn_error *err) {
  const tarn_pg_ingest_options *o = s->o;
  const tarn_ice_metadata *m;
  const char *col, *mark;
  if (t == NULL || o->incremental_column == NULL)
    return 0;
  m = tarn_table_metadata(t);
  col = tarn_ice_metadata_property(m, PROP_MARK_COL);
  mark = tarn_ice_metadata_property(m, PROP_MARK);
  if (!o->append)
    return 0; /* a replace reads everything and starts the mark again */
  if (col != NULL && strcmp(col, o->incremental_column) != 0)
    return tarn_error_set(err, TARN_EINVAL,
                          "dataset %s is ingested incrementally on column \"%s\", not \"%s\" (a "
                          "--mode replace run starts again on another column)",
                          o->name, col, o->incremental_column);
  if (mark == NULL && tarn__ingest_summary_int(m, "total-records") > 0)
    return tarn_error_set(err, TARN_EINVAL,
                          "dataset %s holds rows but no high-water mark for \"%s\": appending "
                          "everything would duplicate them; start with --mode replace",
                          o->name, o->incremental_column);
  if (mark != NULL && (s->mark_from = tarn_strdup(mark)) == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  return 0;
}

/* Session, transaction, schema and the lineage the commit records. */
static int open_source(src *s, tarn_error *err) {
  const tarn_pg_ingest_options *o = s->o;
  tarn_pg_ingest_result *r = s->r;
  PGresult *res;
  size_t i;
  int rc = pg_connect(s, &s->main, err);
  if (rc == 0)
    rc = exec_ok(s, s->main, BEGIN_SQL, "starting the snapshot", err);
  if (rc == 0)
    rc = o->table != NULL && o->table[0] ? describe_table(s, err) : describe_query(s, err);
  if (rc != 0)
    return rc;
  res = PQexec(s->main,
               "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')");
  if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
    rc = pg_fail(s, s->main, res, r->sqlstate, "reading the snapshot time", err);
    PQclear(res);
    return rc;
  }
  snprintf(s->snapshot_time, sizeof(s->snapshot_time), "%s", PQgetvalue(res, 0, 0));
  PQclear(res);
  r->source = json_pack(
      "{s:s,s:s,s:s,s:s,s:s,s:s}", "host", PQhost(s->main) ? PQhost(s->main) : "", "port",
      PQport(s->main) ? PQport(s->main) : "", "database", PQdb(s->main) ? PQdb(s->main) : "",
      "user", PQuser(s->main) ? PQuser(s->main) : "", o->table && o->table[0] ? "table" : "query",
      o->table && o->table[0] ? o->table : o->query, "snapshot_time", s->snapshot_time);
  if (r->source == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  {
    /* the port as a number in the answer (the table property keeps its text) */
    const char *pt = json_string_value(json_object_get(r->source, "port"));
    char *end;
    long v = pt ? strtol(pt, &end, 10) : -1;
    if (pt != NULL && end != pt && *end == '\0' && v > 0 && v < 65536)
      json_object_set_new(r->source, "port", json_integer(v));
  }
  s->inc = -1;
  for (i = 0; o->incremental_column != NULL && i < s->ncols; i++)
    if (strcmp(s->cols[i].name, o->incremental_column) == 0)
      s->inc = (int)i;
  if (o->incremental_column != NULL) {
    const pgcol *c = s->inc >= 0 ? &s->cols[s->inc] : NULL;
    if (c == NULL)
      return tarn_error_set(err, TARN_EINVAL, "the incremental column \"%s\" is not a column of %s",
                            o->incremental_column,
                            o->table && o->table[0] ? o->table : "the query");
    if (c->k != K_INT2 && c->k != K_INT4 && c->k != K_INT8 && c->k != K_DATE && c->k != K_TS)
      return tarn_error_set(err, TARN_EINVAL,
                            "the incremental column \"%s\" is %s; it must be an integer, date, "
                            "timestamp or timestamptz column",
                            c->name, c->pg_type);
  }
  return 0;
}

/* The columns, their type names and the fingerprint; the schema a new dataset gets. */
static int shape_of(src *s, tarn__ingest_shape *sh, char (*tn)[48], tarn_ice_schema *schema,
                    tarn_error *err) {
  size_t i;
  int rc;
  const char **names = tarn_calloc(s->ncols ? s->ncols : 1, sizeof(*names));
  const char **types = tarn_calloc(s->ncols ? s->ncols : 1, sizeof(*types));
  sh->names = names;
  sh->types = types;
  schema->fields = tarn_calloc(s->ncols ? s->ncols : 1, sizeof(*schema->fields));
  if (names == NULL || types == NULL || schema->fields == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  for (i = 0; i < s->ncols; i++) {
    pgcol *c = &s->cols[i];
    tarn_ice_field *f = &schema->fields[i];
    tarn__ingest_type_name(&c->type, tn[i], 48);
    names[i] = c->name;
    types[i] = tn[i];
    f->id = (int32_t)i + 1;
    f->type = c->type;
    f->required = c->notnull && !(s->o->infinity_null && (c->k == K_DATE || c->k == K_TS));
    if ((f->name = tarn_strdup(c->name)) == NULL)
      return tarn_error_set(err, TARN_ENOMEM, "out of memory");
    schema->nfields = i + 1;
  }
  sh->n = s->ncols;
  sh->name = s->o->name;
  sh->fingerprint = s->r->fingerprint;
  rc = tarn_csv_fingerprint_names(names, types, s->ncols, s->r->fingerprint, err);
  return rc;
}

/* How many connections read, and the ranges they split the table into. */
static int plan_readers(src *s, tarn_error *err) {
  const tarn_pg_ingest_options *o = s->o;
  int parallel_ok = o->table != NULL && o->table[0] && (s->relkind == 'r' || s->relkind == 'm') &&
                    !s->has_children;
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  int n = o->readers;
  if (n == 0)
    n = parallel_ok && s->rel_bytes >= PARALLEL_BYTES ? (cpus > 4   ? 4
                                                         : cpus > 1 ? (int)cpus
                                                                    : 1)
                                                      : 1;
  if (n > 1 && !parallel_ok) {
    char w[320];
    snprintf(w, sizeof(w),
             "%s is not a plain table (a view, a partitioned table or one with child tables): "
             "read by one reader",
             o->table);
    json_array_append_new(s->r->warnings, json_string(w));
    n = 1;
  }
  if (n > 1 && s->nblocks < (uint64_t)n)
    n = s->nblocks > 1 ? (int)s->nblocks : 1;
  s->nreaders = n;
  s->nranges = n == 1 ? 1 : (uint64_t)n * 4 < s->nblocks ? (uint64_t)n * 4 : s->nblocks;
  s->readers = tarn_calloc((size_t)n, sizeof(*s->readers));
  if (s->readers == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  s->readers[0].conn = s->main;
  s->r->readers = n;
  if (n > 1) { /* the others join the first one's snapshot */
    PGresult *res = PQexec(s->main, "SELECT pg_export_snapshot()");
    int i, rc = 0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
      rc = pg_fail(s, s->main, res, s->r->sqlstate, "exporting the snapshot", err);
      PQclear(res);
      return rc;
    }
    snprintf(s->snapshot, sizeof(s->snapshot), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    for (i = 1; rc == 0 && i < n; i++) {
      char sql[128];
      reader *rd = &s->readers[i];
      snprintf(sql, sizeof(sql), "SET TRANSACTION SNAPSHOT '%s'", s->snapshot);
      rc = pg_connect(s, &rd->conn, err);
      if (rc == 0)
        rc = exec_ok(s, rd->conn, BEGIN_SQL, "starting a reader's transaction", err);
      if (rc == 0)
        rc = exec_ok(s, rd->conn, sql, "joining the snapshot", err);
    }
    if (rc != 0)
      return rc;
  }
  return 0;
}

/* Batches: a fixed number of rows (from the columns and the budget only, never the
 * readers, so the bytes do not depend on them). */
static int make_dec(src *s, const tarn_pq_schema *pq, dec *d, size_t *need, tarn_error *err) {
  size_t budget = s->o->memory_budget ? s->o->memory_budget : TARN_INGEST_MEMORY_BUDGET;
  size_t per_row = 1, fixed = s->ncols * COL_FIXED, rest, share, row_group, keep, j;
  for (j = 0; j < s->ncols; j++)
    per_row += 1 + (s->cols[j].k == K_BOOL                          ? 1
                    : s->cols[j].k == K_UUID                        ? 16
                    : s->cols[j].k == K_DEC && s->cols[j].width > 8 ? (size_t)s->cols[j].width
                                                                    : 8);
  rest = fixed < budget ? budget - fixed : 0;
  row_group = rest / 4 < ROW_GROUP_MAX ? rest / 4 : ROW_GROUP_MAX;
  share = rest / 4;
  d->cap = (int64_t)(share / 2 / per_row);
  if (d->cap > BATCH_ROWS)
    d->cap = BATCH_ROWS;
  d->batch_bytes = share / 2 < BATCH_BYTES ? share / 2 : BATCH_BYTES;
  if (d->cap < 16 || row_group < ((size_t)1 << 20))
    return tarn_error_set(err, TARN_ETOOBIG,
                          "%zu columns need more memory than an ingest may use ([ingest] "
                          "memory_budget is %zu MiB)",
                          s->ncols, budget >> 20);
  *need = budget + (size_t)s->nreaders * (QUEUE_DEPTH + 2) * CHUNK_BYTES;
  if (s->rel_bytes > 0 && s->rel_bytes * 4 + fixed + ((size_t)8 << 20) < budget)
    *need = (size_t)s->rel_bytes * 4 + fixed + ((size_t)8 << 20) +
            (size_t)s->nreaders * (QUEUE_DEPTH + 2) * CHUNK_BYTES;
  d->b = tarn_calloc(s->ncols ? s->ncols : 1, sizeof(*d->b));
  if (d->b == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  keep = d->batch_bytes / (s->ncols ? s->ncols : 1) + (64u << 10);
  for (j = 0; j < s->ncols; j++)
    if (tarn_pq_builder_init(&d->b[j], &pq->cols[j], d->cap, keep, err) != 0)
      return TARN_ENOMEM;
  d->s = s;
  d->row_group = row_group;
  return 0;
}

static void dec_free(dec *d, size_t ncols) {
  size_t j;
  for (j = 0; d->b != NULL && j < ncols; j++)
    tarn_pq_builder_free(&d->b[j]);
  tarn_free(d->b);
  tarn_buf_free(&d->carry);
  tarn_pq_writer_abort(d->pw);
}

static int start_readers(src *s, tarn_error *err) {
  int i;
  for (i = 0; i < s->nreaders; i++) {
    reader *rd = &s->readers[i];
    rd->s = s;
    rd->index = i;
    if (pthread_create(&rd->th, NULL, reader_main, rd) != 0)
      return tarn_error_set(err, TARN_ENOMEM, "starting a reader thread failed");
    rd->started = 1;
  }
  return 0;
}

/* The snapshots end (read only: nothing to keep) and the connections close. */
static void end_source(src *s) {
  int i;
  readers_stop(s);
  for (i = 0; s->readers != NULL && i < s->nreaders; i++) {
    PGresult *res;
    if (s->readers[i].conn == NULL)
      continue;
    res = PQexec(s->readers[i].conn, "COMMIT");
    PQclear(res);
    PQfinish(s->readers[i].conn);
    if (s->readers[i].conn == s->main)
      s->main = NULL;
    s->readers[i].conn = NULL;
  }
}

int tarn_ingest_pg(const tarn_ingest_env *env, const tarn_pg_ingest_options *o,
                   tarn_pg_ingest_result *r, tarn_error *err) {
  src s;
  dec d;
  tarn_table *t = NULL;
  tarn__ingest_shape sh;
  tarn_ice_schema schema;
  tarn_pq_schema pq;
  tarn_pq_writer_options po;
  tarn_pq_file_info info;
  tarn_ice_data_file df;
  tarn__ingest_hash ph = {NULL, 0};
  char(*tn)[48] = NULL, source[300], table_key[TARN_STORE_KEY_MAX + 1], mark_to[96] = "";
  size_t need = 0, j;
  int spool_fd = -1, rc;
  memset(&s, 0, sizeof(s));
  memset(&d, 0, sizeof(d));
  memset(&sh, 0, sizeof(sh));
  memset(&schema, 0, sizeof(schema));
  memset(&pq, 0, sizeof(pq));
  memset(&info, 0, sizeof(info));
  memset(&df, 0, sizeof(df));
  tarn_buf_init(&df.partition_buf, TARN_BUF_UNLIMITED);
  tarn_buf_init(&d.carry, TARN_BUF_UNLIMITED);
  pthread_mutex_init(&s.mu, NULL);
  pthread_cond_init(&s.cv, NULL);
  s.o = o;
  s.r = r;
  s.inc = -1;
  r->warnings = json_array();
  r->columns = json_array();
  if (r->warnings == NULL || r->columns == NULL) {
    rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
    goto out;
  }
  if ((rc = check_options(o, err)) != 0)
    goto out;
  rc = tarn_pgconn_parse(o->dsn, o->restricted ? forbidden_keys : NULL, &s.ci, err);
  if (rc == TARN_ECONFIG)
    rc = err->code = TARN_EINVAL;
  if (rc == 0 && o->restricted)
    rc = check_hosts(&s, err);
  if (rc != 0)
    goto out;

  /* the dataset as it is: its mark for an incremental run */
  rc = tarn_table_load(env->cat, env->io, TARN_DATASETS_NAMESPACE, o->name, &t, err);
  if (rc == TARN_ENOTFOUND) {
    t = NULL;
    rc = 0;
  }
  if (rc == 0)
    rc = load_mark(&s, t, err);
  if (rc == 0)
    rc = open_source(&s, err);
  if (rc != 0)
    goto out;
  snprintf(source, sizeof(source), "postgres:%s", o->table && o->table[0] ? o->table : "query");
  sh.source = source;
  tn = tarn_calloc(s.ncols ? s.ncols : 1, sizeof(*tn));
  rc = tn == NULL ? tarn_error_set(err, TARN_ENOMEM, "out of memory")
                  : shape_of(&s, &sh, tn, &schema, err);
  if (rc != 0)
    goto out;
  if (t != NULL) { /* drift answers before any row is read; the commit checks again */
    const tarn_ice_metadata *m = tarn_table_metadata(t);
    const char *fp = tarn_ice_metadata_property(m, "tarn.fingerprint");
    if (fp == NULL || strcmp(fp, r->fingerprint) != 0) {
      r->drift = tarn__ingest_drift(tarn_table_schema(t), fp, &sh);
      rc = tarn_error_set(err, TARN_ESCHEMA,
                          "dataset %s has schema %s; the PostgreSQL %s has %s (nothing was "
                          "written)",
                          o->name, fp ? fp : "(none)", o->table && o->table[0] ? "table" : "query",
                          r->fingerprint);
      goto out;
    }
    /* the dataset's own field ids and required flags */
    tarn_ice_schema_free(&schema);
    if ((rc = tarn_ice_schema_copy(&schema, tarn_table_schema(t), err)) != 0)
      goto out;
  }
  for (j = 0; j < s.ncols; j++) {
    s.cols[j].required = schema.fields[j].required;
    json_array_append_new(r->columns, json_pack("{s:s,s:s,s:b,s:s}", "name", s.cols[j].name, "type",
                                                tn[j], "nullable", !schema.fields[j].required,
                                                "pg_type", s.cols[j].pg_type));
  }
  rc = tarn_ice_schema_to_parquet(&schema, &pq, err);
  for (j = 0; rc == 0 && j < s.ncols; j++)
    if (s.cols[j].k == K_DEC && s.cols[j].width == 0)
      s.cols[j].width = pq.cols[j].type_length;
  if (rc == 0)
    rc = plan_readers(&s, err);
  if (rc == 0)
    rc = build_sql(&s, err);
  if (rc == 0)
    rc = make_dec(&s, &pq, &d, &need, err);
  if (rc == 0 && o->admit != NULL)
    rc = o->admit(o->admit_arg, need, err);
  if (rc != 0)
    goto out;
  spool_fd = tarn_ingest_spool_open(env->spool_dir, err);
  if (spool_fd < 0) {
    rc = err != NULL && err->code != 0 ? err->code : TARN_EIO;
    goto out;
  }
  memset(&po, 0, sizeof(po));
  po.codec = o->codec;
  po.row_group_size = d.row_group;
  rc = tarn_pq_writer_open_fd(spool_fd, &pq, &po, &d.pw, err);
  if (rc == 0)
    rc = start_readers(&s, err);
  if (rc == 0)
    rc = consume(&s, &d, err);
  if (rc == 0)
    rc = flush(&d, err);
  r->row_count = d.total;
  r->bytes = (int64_t)d.bytes;
  end_source(&s);
  if (rc == 0) {
    rc = tarn_pq_writer_close(d.pw, &info, err);
    d.pw = NULL;
  }
  if (rc == TARN_ENOSPC)
    tarn_error_prefix(err, "writing the Parquet spool file");
  if (rc != 0)
    goto out;
  if (s.inc >= 0) {
    if (d.inc_any)
      mark_text(&s.cols[s.inc], d.inc_max, mark_to, sizeof(mark_to));
    r->incremental = json_pack("{s:s,s:o,s:o}", "column", s.cols[s.inc].name, "from",
                               s.mark_from ? json_string(s.mark_from) : json_null(), "to",
                               d.inc_any     ? json_string(mark_to)
                               : s.mark_from ? json_string(s.mark_from)
                                             : json_null());
    if (d.total == 0) { /* nothing new: nothing to commit */
      r->existing = 1;
      r->snapshot_id = t ? tarn_table_metadata(t)->current_snapshot_id : -1;
      goto out;
    }
  }

  /* into the store under its content hash, then the commit */
  if (t == NULL && (rc = tarn__ingest_create_table(env, &sh, &schema, &t, &r->drift, err)) != 0)
    goto out;
  rc = tarn__ingest_data_prefix(env, t, table_key, sizeof(table_key), err);
  if (rc == 0)
    rc = tarn_sha256_create(&ph.sha, err);
  if (rc == 0)
    rc = tarn__ingest_publish(env, spool_fd, (uint64_t)info.file_size, &ph, table_key,
                              r->parquet_key, sizeof(r->parquet_key), err);
  if (rc != 0)
    goto out;
  r->parquet_size = info.file_size;
  {
    const char *base = strrchr(r->parquet_key, '/');
    char sha[TARN_SHA256_HEX_LEN];
    tarn_ice_kv summary[4];
    size_t ns = 2;
    tarn_table_commit_result cres;
    pg_commit pc;
    snprintf(sha, sizeof(sha), "%.64s", base ? base + 1 : r->parquet_key);
    pc.s = &s;
    pc.sh = &sh;
    pc.sha = sha;
    pc.mark_to = mark_to;
    pc.file_size = info.file_size;
    summary[0] = (tarn_ice_kv){"tarn.source", source};
    summary[1] = (tarn_ice_kv){"tarn.source-sha256", sha};
    if (s.inc >= 0) {
      summary[ns++] = (tarn_ice_kv){PROP_MARK_COL, s.cols[s.inc].name};
      summary[ns++] = (tarn_ice_kv){PROP_MARK, mark_to};
    }
    rc = tarn__ingest_commit(env, t, o->append, r->parquet_key, &info, summary, ns, pg_commit_check,
                             &pc, &df, &cres, err);
    if (rc == 0 && cres.committed)
      r->snapshot_id = cres.snapshot_id;
  }
  if (rc == 0)
    tarn_log_info("dataset ingested from postgres",
                  "name=%s rows=%lld parquet_bytes=%lld key=%s mode=%s readers=%d outcome=%s",
                  o->name, (long long)r->row_count, (long long)r->parquet_size, r->parquet_key,
                  o->append ? "append" : "replace", r->readers,
                  r->existing  ? "existing"
                  : r->created ? "created"
                               : "committed");
out:
  end_source(&s);
  src_free(&s);
  dec_free(&d, s.ncols);
  if (spool_fd >= 0)
    close(spool_fd);
  tarn_sha256_destroy(ph.sha);
  tarn_ice_data_file_free(&df);
  tarn_pq_file_info_free(&info);
  tarn_pq_schema_free(&pq);
  tarn_ice_schema_free(&schema);
  tarn_free((void *)sh.names);
  tarn_free((void *)sh.types);
  tarn_free(tn);
  tarn_table_close(t);
  return rc;
}

const char *tarn_pg_ingest_error(int code, const char *sqlstate, int *status) {
  int st = 502;
  const char *name = tarn_err_name(code);
  if (sqlstate != NULL && sqlstate[0] != '\0') {
    int server = strncmp(sqlstate, "08", 2) == 0 || strncmp(sqlstate, "57", 2) == 0 ||
                 strncmp(sqlstate, "53", 2) == 0 || strncmp(sqlstate, "58", 2) == 0;
    *status = server ? 502 : 400;
    return server ? "postgres_unavailable" : "postgres_error";
  }
  switch (code) {
  case TARN_EINVAL: st = 400, name = "invalid_argument"; break;
  case TARN_ERANGE: st = 400, name = "invalid_data"; break;
  case TARN_EPERM: st = 403, name = "forbidden"; break;
  case TARN_ESCHEMA: st = 409, name = "schema_mismatch"; break;
  case TARN_ECONFLICT: st = 409, name = "conflict"; break;
  case TARN_ETOOBIG: st = 413, name = "too_large"; break;
  case TARN_EBUSY: st = 503, name = "busy"; break;
  case TARN_ECORRUPT: st = 502, name = "postgres_unavailable"; break;
  default: break;
  }
  *status = st;
  return name;
}

/* ---- for the fuzz target: the decoder over a byte stream ---- */

int tarn__pg_decode_test(const uint8_t *p, size_t n, size_t split, int64_t *rows, tarn_error *err) {
  static const struct {
    const char *name;
    kind k;
    tarn_ice_type_id id;
    int prec, scale;
  } cols[] = {
      {"b", K_BOOL, TARN_ICE_BOOLEAN, 0, 0},    {"s", K_INT2, TARN_ICE_INT, 0, 0},
      {"i", K_INT4, TARN_ICE_INT, 0, 0},        {"l", K_INT8, TARN_ICE_LONG, 0, 0},
      {"f", K_FLOAT4, TARN_ICE_FLOAT, 0, 0},    {"d", K_FLOAT8, TARN_ICE_DOUBLE, 0, 0},
      {"dt", K_DATE, TARN_ICE_DATE, 0, 0},      {"t", K_TIME, TARN_ICE_TIME, 0, 0},
      {"ts", K_TS, TARN_ICE_TIMESTAMPTZ, 0, 0}, {"u", K_UUID, TARN_ICE_UUID, 0, 0},
      {"x", K_BYTES, TARN_ICE_STRING, 0, 0},    {"j", K_JSONB, TARN_ICE_STRING, 0, 0},
      {"n1", K_DEC, TARN_ICE_DECIMAL, 10, 2},   {"n2", K_DEC, TARN_ICE_DECIMAL, 38, 4},
      {"n3", K_DEC, TARN_ICE_DECIMAL, 4, 0},
  };
  const size_t nc = sizeof(cols) / sizeof(cols[0]);
  tarn_pg_ingest_options o;
  tarn_pg_ingest_result r;
  tarn_ice_schema schema;
  tarn_pq_schema pq;
  pgcol pc[sizeof(cols) / sizeof(cols[0])];
  src s;
  dec d;
  size_t j, need, used = 0;
  int fd = -1, rc;
  memset(&s, 0, sizeof(s));
  memset(&d, 0, sizeof(d));
  memset(&schema, 0, sizeof(schema));
  memset(&pq, 0, sizeof(pq));
  memset(pc, 0, sizeof(pc));
  tarn_buf_init(&d.carry, TARN_BUF_UNLIMITED);
  tarn_pg_ingest_options_init(&o);
  tarn_pg_ingest_result_init(&r);
  o.infinity_null = n & 1; /* both ways, the same for every split of one input */
  o.memory_budget = (size_t)64 << 20;
  s.o = &o;
  s.r = &r;
  s.inc = 3; /* the int8 column: the mark tracking runs too */
  s.cols = pc;
  s.ncols = nc;
  s.nreaders = 1;
  schema.fields = tarn_calloc(nc, sizeof(*schema.fields));
  rc = schema.fields == NULL ? TARN_ENOMEM : 0;
  for (j = 0; rc == 0 && j < nc; j++) {
    pc[j].name = (char *)cols[j].name;
    pc[j].pg_type = (char *)"test";
    pc[j].k = cols[j].k;
    pc[j].type.id = cols[j].id;
    pc[j].type.precision = cols[j].prec;
    pc[j].type.scale = cols[j].scale;
    pc[j].required = j == 0; /* a null there is an error */
    schema.fields[j].id = (int32_t)j + 1;
    schema.fields[j].name = tarn_strdup(cols[j].name);
    schema.fields[j].type = pc[j].type;
    schema.fields[j].required = pc[j].required;
    schema.nfields = j + 1;
  }
  if (rc == 0)
    rc = tarn_ice_schema_to_parquet(&schema, &pq, err);
  for (j = 0; rc == 0 && j < nc; j++)
    pc[j].width = pc[j].k != K_DEC             ? 0
                  : pc[j].type.precision <= 9  ? 4
                  : pc[j].type.precision <= 18 ? 8
                                               : pq.cols[j].type_length;
  if (rc == 0)
    rc = make_dec(&s, &pq, &d, &need, err);
  if (rc == 0 && (fd = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0)
    rc = tarn_error_sys(err, TARN_EIO, errno, "opening /dev/null");
  if (rc == 0)
    rc = tarn_pq_writer_open_fd(fd, &pq, NULL, &d.pw, err);
  /* two chunks, as two messages of one range would come */
  if (split > n)
    split = n;
  if (rc == 0)
    rc = decode(&d, p, split, &used, err);
  if (rc == 0 && used < split)
    rc = tarn_buf_append(&d.carry, p + used, split - used, err);
  if (rc == 0 && n > split) {
    rc = tarn_buf_append(&d.carry, p + split, n - split, err);
    if (rc == 0)
      rc = decode(&d, (const uint8_t *)d.carry.data, d.carry.len, &used, err);
  }
  if (rc == 0)
    rc = flush(&d, err);
  *rows = d.total;
  dec_free(&d, nc);
  if (fd >= 0)
    close(fd);
  tarn_pq_schema_free(&pq);
  tarn_ice_schema_free(&schema);
  tarn_pg_ingest_result_free(&r);
  return rc;
}
