/* pgconn.c - libpq helpers shared by the PostgreSQL catalog and the Postgres ingest. */
#include "catalog/pgconn.h"

#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "catalog/catalog.h"

void tarn_pgconn_scrub(const tarn_pgconn_info *info, tarn_error *err) {
  size_t i;
  if (err == NULL || info == NULL)
    return;
  for (i = 0; i < 2; i++) {
    const char *s = info->secrets[i];
    char out[TARN_ERROR_DETAIL_MAX], *hit, *p = err->detail;
    size_t n = 0, slen;
    if (s == NULL || s[0] == '\0')
      continue;
    slen = strlen(s);
    while ((hit = strstr(p, s)) != NULL) {
      n += (size_t)snprintf(out + n, sizeof(out) - n, "%.*s<redacted>", (int)(hit - p), p);
      if (n >= sizeof(out))
        n = sizeof(out) - 1;
      p = hit + slen;
    }
    if (p != err->detail) {
      snprintf(out + n, sizeof(out) - n, "%s", p);
      memcpy(err->detail, out, sizeof(out));
    }
  }
}

void tarn_pgconn_one_line(const char *msg, char *dst, size_t n) {
  size_t i = 0;
  if (msg == NULL)
    msg = "";
  for (; *msg && i + 1 < n; msg++) {
    if (*msg == '\n') {
      if (msg[1] != '\0' && i + 2 < n) {
        dst[i++] = ';';
        dst[i++] = ' ';
      }
    } else {
      dst[i++] = *msg;
    }
  }
  dst[i] = '\0';
}

static void free_secret(char *s) {
  if (s != NULL) {
    explicit_bzero(s, strlen(s));
    tarn_free(s);
  }
}

void tarn_pgconn_info_free(tarn_pgconn_info *info) {
  if (info == NULL)
    return;
  free_secret(info->secrets[0]);
  free_secret(info->secrets[1]);
  tarn_free(info->display);
  tarn_free(info->host);
  tarn_free(info->hostaddr);
  tarn_free(info->port);
  tarn_free(info->dbname);
  tarn_free(info->user);
  memset(info, 0, sizeof(*info));
}

static int keep(char **slot, const char *v) {
  if (*slot != NULL)
    return 0;
  *slot = tarn_strdup(v);
  return *slot != NULL ? 0 : -1;
}

int tarn_pgconn_parse(const char *conninfo, const char *const *forbidden, tarn_pgconn_info *out,
                      tarn_error *err) {
  static const char *const shown[] = {"host", "hostaddr", "port", "dbname", "user"};
  PQconninfoOption *opts, *o;
  char *errmsg = NULL, display[512];
  size_t n = 0, i;
  int oom = 0;
  memset(out, 0, sizeof(*out));
  if (conninfo == NULL)
    return tarn_error_set(err, TARN_EINVAL, "PostgreSQL connection string is missing");
  opts = PQconninfoParse(conninfo, &errmsg);
  if (opts == NULL) {
    char red[256];
    /* libpq's message may quote the text around the mistake, which may be a password. */
    if (errmsg != NULL)
      PQfreemem(errmsg);
    tarn_catalog_redact_conninfo(conninfo, red, sizeof(red));
    return tarn_error_set(err, TARN_ECONFIG,
                          "PostgreSQL connection string \"%s\" is not valid libpq syntax "
                          "(keyword=value pairs or a postgresql:// URI)",
                          red);
  }
  display[0] = '\0';
  for (o = opts; o->keyword != NULL; o++) {
    if (o->val == NULL)
      continue;
    for (i = 0; forbidden != NULL && forbidden[i] != NULL; i++)
      if (strcmp(o->keyword, forbidden[i]) == 0) {
        PQconninfoFree(opts);
        tarn_pgconn_info_free(out);
        return tarn_error_set(err, TARN_EINVAL,
                              "PostgreSQL connection string: the keyword \"%s\" is not allowed "
                              "here",
                              forbidden[i]);
      }
    if (strcmp(o->keyword, "password") == 0 || strcmp(o->keyword, "sslpassword") == 0)
      oom |= keep(&out->secrets[o->keyword[0] == 's'], o->val);
    else if (strcmp(o->keyword, "host") == 0)
      oom |= keep(&out->host, o->val);
    else if (strcmp(o->keyword, "hostaddr") == 0)
      oom |= keep(&out->hostaddr, o->val);
    else if (strcmp(o->keyword, "port") == 0)
      oom |= keep(&out->port, o->val);
    else if (strcmp(o->keyword, "dbname") == 0)
      oom |= keep(&out->dbname, o->val);
    else if (strcmp(o->keyword, "user") == 0)
      oom |= keep(&out->user, o->val);
    for (i = 0; i < sizeof(shown) / sizeof(shown[0]); i++)
      if (strcmp(o->keyword, shown[i]) == 0 && n < sizeof(display))
        n += (size_t)snprintf(display + n, sizeof(display) - n, "%s%s=%s", n ? " " : "", o->keyword,
                              o->val);
  }
  PQconninfoFree(opts);
  out->display = tarn_strdup(display[0] ? display : "(libpq defaults)");
  if (oom || out->display == NULL) {
    tarn_pgconn_info_free(out);
    return tarn_error_set(err, TARN_ENOMEM,
                          "reading the PostgreSQL connection string: out of "
                          "memory");
  }
  return 0;
}

/* libpq gives no SQLSTATE for a failed connection; its (C locale) text tells bad
 * credentials and unknown databases, which no retry fixes, from an unreachable server. */
int tarn_pgconn_connect_error_code(PGconn *conn) {
  const char *msg = PQerrorMessage(conn);
  if (PQconnectionNeedsPassword(conn) || strstr(msg, "authentication failed") != NULL ||
      strstr(msg, "no password supplied") != NULL || strstr(msg, "no pg_hba.conf entry") != NULL)
    return TARN_EPERM;
  if (strstr(msg, "does not exist") != NULL)
    return TARN_ENOTFOUND;
  return TARN_ENETWORK;
}

const char *tarn_pgconn_connect_sqlstate(PGconn *conn) {
  const char *msg = PQerrorMessage(conn);
  switch (tarn_pgconn_connect_error_code(conn)) {
  case TARN_EPERM: return strstr(msg, "no pg_hba.conf entry") != NULL ? "28000" : "28P01";
  case TARN_ENOTFOUND: return strstr(msg, "database") != NULL ? "3D000" : "28000";
  default: return "08001";
  }
}
