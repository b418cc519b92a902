/* pgconn.h - libpq helpers shared by the PostgreSQL catalog and the Postgres ingest:
 * connection strings read without leaking their passwords, one-line messages. */
#ifndef TARN_CATALOG_PGCONN_H
#define TARN_CATALOG_PGCONN_H

#include <libpq-fe.h>
#include <stddef.h>

#include "base/error.h"

/* What a connection string says, its secrets kept apart. */
typedef struct tarn_pgconn_info {
  char *secrets[2]; /* password and sslpassword, or NULL */
  char *display;    /* "host=h port=p dbname=d user=u" (only what was given) */
  char *host, *hostaddr, *port, *dbname, *user; /* as given; NULL when not */
} tarn_pgconn_info;

/*
 * Parses a libpq connection string (keyword=value pairs or a postgresql:// URI). A
 * syntax error is TARN_ECONFIG quoting the string with its passwords redacted (libpq's
 * own message may quote the password). When `forbidden` is not NULL, a keyword in that
 * NULL-terminated list is TARN_EINVAL naming it.
 */
int tarn_pgconn_parse(const char *conninfo, const char *const *forbidden, tarn_pgconn_info *out,
                      tarn_error *err);
/* Wipes the secrets and frees; accepts a zeroed struct. */
void tarn_pgconn_info_free(tarn_pgconn_info *info);

/* Replaces every occurrence of each secret in err's detail with <redacted>. */
void tarn_pgconn_scrub(const tarn_pgconn_info *info, tarn_error *err);

/* libpq messages end with a newline and may span lines: one line, "; " between. */
void tarn_pgconn_one_line(const char *msg, char *dst, size_t n);

/* A failed connection's tarn code from libpq's text (it gives no SQLSTATE): TARN_EPERM for
 * bad credentials or a refused host, TARN_ENOTFOUND for an unknown database or role,
 * TARN_ENETWORK for an unreachable server. */
int tarn_pgconn_connect_error_code(PGconn *conn);

/* The SQLSTATE for the same classes: "28P01", "3D000", "08001". */
const char *tarn_pgconn_connect_sqlstate(PGconn *conn);

#endif
