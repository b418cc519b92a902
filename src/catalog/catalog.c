/* catalog.c - the public catalog calls: argument checks, lists, settings, redaction. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "base/alloc.h"
#include "catalog/catalog_int.h"

/* ---- settings ---- */

const tarn_cfg_def tarn_catalog_config[] = {
    {"catalog", "type", TARN_CFG_ENUM, "sqlite", 0, 0, "sqlite|postgres", "TARN_CATALOG_TYPE", NULL,
     NULL, 0,
     "catalog backend: sqlite (one file in the lake) or postgres (many writers and hosts)"},
    {"catalog", "uri", TARN_CFG_STRING, "", 0, 0, NULL, "TARN_CATALOG_URI", NULL, NULL, 0,
     "SQLite catalog file for type = sqlite; empty means <lake>/catalog.db"},
    {"catalog", "postgres", TARN_CFG_STRING, "", 0, 0, NULL, "TARN_CATALOG_POSTGRES", NULL, NULL, 1,
     "libpq connection string for type = postgres, e.g. \"host=db dbname=tarn user=tarn\""},
    {"catalog", "name", TARN_CFG_STRING, TARN_CATALOG_DEFAULT_NAME, 0, 0, NULL, "TARN_CATALOG_NAME",
     NULL, NULL, 0,
     "catalog_name the tables are registered under (readers must use the same name)"},
    {"catalog", "busy_timeout", TARN_CFG_DURATION, "30s", 0, 3600 * 1000, NULL, NULL, NULL, NULL, 0,
     "how long one catalog call retries a locked database or a lost connection"},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL, NULL, NULL, 0, NULL},
};

void tarn_catalog_options_init(tarn_catalog_options *o) {
  o->name = TARN_CATALOG_DEFAULT_NAME;
  o->busy_timeout_ms = TARN_CATALOG_DEFAULT_BUSY_TIMEOUT_MS;
}

/* mkdir -p; existing directories are fine. */
static int make_dirs(const char *path, tarn_error *err) {
  char *p = tarn_strdup(path), *s;
  int rc = 0;
  if (p == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "creating directory %s: out of memory", path);
  for (s = p + 1;; s++) {
    if (*s == '/' || *s == '\0') {
      char c = *s;
      *s = '\0';
      if (mkdir(p, 0755) != 0 && errno != EEXIST) {
        rc = tarn_error_sys(err, tarn_code_from_errno(errno), errno, "creating directory %s", p);
        break;
      }
      *s = c;
      if (c == '\0')
        break;
    }
  }
  tarn_free(p);
  return rc;
}

int tarn_catalog_open_from_config(const tarn_config *cfg, const char *lake_dir, tarn_catalog **out,
                                  tarn_error *err) {
  tarn_catalog_options o;
  const char *type = tarn_config_str(cfg, "catalog", "type");
  char *path = NULL;
  int rc;
  *out = NULL;
  tarn_catalog_options_init(&o);
  o.name = tarn_config_str(cfg, "catalog", "name");
  o.busy_timeout_ms = tarn_config_int(cfg, "catalog", "busy_timeout");
  if (type != NULL && strcmp(type, "postgres") == 0) {
    const char *conninfo = tarn_config_str(cfg, "catalog", "postgres");
    if (conninfo == NULL || conninfo[0] == '\0')
      return tarn_error_set(err, TARN_ECONFIG,
                            "[catalog] type = postgres needs [catalog] postgres (or "
                            "TARN_CATALOG_POSTGRES), a libpq connection string");
    return tarn_catalog_pg_open(conninfo, &o, out, err);
  }
  {
    const char *uri = tarn_config_str(cfg, "catalog", "uri");
    if (uri != NULL && uri[0] != '\0')
      return tarn_catalog_sqlite_open(uri, &o, out, err);
  }
  if (lake_dir == NULL || lake_dir[0] == '\0')
    return tarn_error_set(err, TARN_ECONFIG,
                          "[catalog] uri is empty and no lake directory is set ([lake] path)");
  if ((rc = make_dirs(lake_dir, err)) != 0)
    return rc;
  path = tarn_malloc(strlen(lake_dir) + sizeof("/catalog.db"));
  if (path == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "opening the catalog: out of memory");
  snprintf(path, strlen(lake_dir) + sizeof("/catalog.db"), "%s/catalog.db", lake_dir);
  rc = tarn_catalog_sqlite_open(path, &o, out, err);
  tarn_free(path);
  return rc;
}

/* ---- lists ---- */

void tarn_catalog_props_init(tarn_catalog_props *p) {
  p->items = NULL;
  p->count = 0;
}

void tarn_catalog_props_free(tarn_catalog_props *p) {
  size_t i;
  if (p == NULL)
    return;
  for (i = 0; i < p->count; i++) {
    tarn_free(p->items[i].key);
    tarn_free(p->items[i].value);
  }
  tarn_free(p->items);
  tarn_catalog_props_init(p);
}

void tarn_catalog_names_init(tarn_catalog_names *l) {
  l->items = NULL;
  l->count = 0;
}

void tarn_catalog_names_free(tarn_catalog_names *l) {
  size_t i;
  if (l == NULL)
    return;
  for (i = 0; i < l->count; i++)
    tarn_free(l->items[i]);
  tarn_free(l->items);
  tarn_catalog_names_init(l);
}

void tarn_catalog_table_init(tarn_catalog_table *t) {
  t->metadata_location = NULL;
  t->previous_metadata_location = NULL;
}

void tarn_catalog_table_free(tarn_catalog_table *t) {
  if (t == NULL)
    return;
  tarn_free(t->metadata_location);
  tarn_free(t->previous_metadata_location);
  tarn_catalog_table_init(t);
}

/* ---- argument checks ---- */

/* Length of the UTF-8 sequence at s (0 if invalid: overlong, surrogate, > U+10FFFF). */
static size_t utf8_len(const unsigned char *s) {
  if (s[0] < 0x80)
    return 1;
  if (s[0] >= 0xc2 && s[0] <= 0xdf)
    return (s[1] & 0xc0) == 0x80 ? 2 : 0;
  if (s[0] >= 0xe0 && s[0] <= 0xef) {
    if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
      return 0;
    if (s[0] == 0xe0 && s[1] < 0xa0)
      return 0; /* overlong */
    if (s[0] == 0xed && s[1] >= 0xa0)
      return 0; /* surrogate */
    return 3;
  }
  if (s[0] >= 0xf0 && s[0] <= 0xf4) {
    if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
      return 0;
    if ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
      return 0;
    return 4;
  }
  return 0;
}

int tarn__catalog_check_name(const char *what, const char *s, size_t max_chars, int allow_empty,
                             tarn_error *err) {
  const unsigned char *p;
  size_t chars = 0, n;
  if (s == NULL)
    return tarn_error_set(err, TARN_EINVAL, "%s is missing", what);
  if (s[0] == '\0' && !allow_empty)
    return tarn_error_set(err, TARN_EINVAL, "%s is empty", what);
  for (p = (const unsigned char *)s; *p; p += n) {
    if (*p < 0x20 || *p == 0x7f)
      return tarn_error_set(err, TARN_EINVAL, "%s has a control character (0x%02x) at byte %zu",
                            what, *p, (size_t)(p - (const unsigned char *)s));
    if ((n = utf8_len(p)) == 0)
      return tarn_error_set(err, TARN_EINVAL, "%s is not valid UTF-8 at byte %zu", what,
                            (size_t)(p - (const unsigned char *)s));
    chars++;
  }
  if (chars > max_chars)
    return tarn_error_set(err, TARN_ETOOBIG, "%s is %zu characters long; at most %zu fit", what,
                          chars, max_chars);
  return 0;
}

static int check_namespace(const char *ns, tarn_error *err) {
  size_t i, n;
  int rc = tarn__catalog_check_name("namespace", ns, 255, 0, err);
  if (rc != 0)
    return rc;
  n = strlen(ns);
  for (i = 0; i < n; i++)
    if (ns[i] == '.' && (i == 0 || i + 1 == n || ns[i + 1] == '.'))
      return tarn_error_set(err, TARN_EINVAL,
                            "namespace \"%s\" has an empty level (levels are joined with '.')", ns);
  return 0;
}

static int check_table(const char *ns, const char *table, tarn_error *err) {
  int rc = check_namespace(ns, err);
  if (rc == 0)
    rc = tarn__catalog_check_name("table name", table, 255, 0, err);
  return rc;
}

static int check_location(const char *what, const char *loc, tarn_error *err) {
  return tarn__catalog_check_name(what, loc, 1000, 0, err);
}

/* Property keys must be distinct, and "exists" is reserved. */
static int check_props(const tarn_catalog_prop *props, size_t n, const char *const *remove,
                       size_t nremove, tarn_error *err) {
  size_t i, j;
  int rc;
  if ((n > 0 && props == NULL) || (nremove > 0 && remove == NULL))
    return tarn_error_set(err, TARN_EINVAL, "property list is NULL");
  for (i = 0; i < n + nremove; i++) {
    const char *key = i < n ? props[i].key : remove[i - n];
    if ((rc = tarn__catalog_check_name("property key", key, 255, 0, err)) != 0)
      return rc;
    if (i < n &&
        (rc = tarn__catalog_check_name("property value", props[i].value, 1000, 1, err)) != 0) {
      tarn_error_prefix(err, "property \"%s\"", key);
      return rc;
    }
    if (strcmp(key, "exists") == 0)
      return tarn_error_set(err, TARN_EINVAL,
                            "namespace property \"exists\" is reserved (the catalog keeps it)");
    for (j = 0; j < i; j++) {
      const char *other = j < n ? props[j].key : remove[j - n];
      if (strcmp(key, other) == 0)
        return tarn_error_set(err, TARN_EINVAL, "namespace property \"%s\" given twice", key);
    }
  }
  return 0;
}

/* ---- public calls: check, then call the backend ---- */

void tarn_catalog_destroy(tarn_catalog *cat) {
  if (cat != NULL)
    cat->ops->destroy(cat);
}

const char *tarn_catalog_name(const tarn_catalog *cat) { return cat->name; }

int tarn_catalog_list_namespaces(tarn_catalog *cat, const char *parent, tarn_catalog_names *out,
                                 tarn_error *err) {
  int rc;
  if (parent == NULL)
    parent = "";
  if (parent[0] != '\0' && (rc = check_namespace(parent, err)) != 0)
    return rc;
  tarn_catalog_names_free(out);
  return cat->ops->list_namespaces(cat, parent, out, err);
}

int tarn_catalog_create_namespace(tarn_catalog *cat, const char *ns, const tarn_catalog_prop *props,
                                  size_t nprops, tarn_error *err) {
  int rc;
  if ((rc = check_namespace(ns, err)) != 0 || (rc = check_props(props, nprops, NULL, 0, err)) != 0)
    return rc;
  return cat->ops->create_namespace(cat, ns, props, nprops, err);
}

int tarn_catalog_load_namespace(tarn_catalog *cat, const char *ns, tarn_catalog_props *out,
                                tarn_error *err) {
  int rc;
  if ((rc = check_namespace(ns, err)) != 0)
    return rc;
  tarn_catalog_props_free(out);
  return cat->ops->load_namespace(cat, ns, out, err);
}

int tarn_catalog_update_namespace(tarn_catalog *cat, const char *ns, const tarn_catalog_prop *set,
                                  size_t nset, const char *const *remove, size_t nremove,
                                  tarn_error *err) {
  int rc;
  if ((rc = check_namespace(ns, err)) != 0 ||
      (rc = check_props(set, nset, remove, nremove, err)) != 0)
    return rc;
  if (cat->ops->update_namespace == NULL)
    return tarn_error_set(err, TARN_EUNSUPPORTED, "%s catalog cannot update namespaces",
                          cat->ops->name);
  return cat->ops->update_namespace(cat, ns, set, nset, remove, nremove, err);
}

int tarn_catalog_drop_namespace(tarn_catalog *cat, const char *ns, tarn_error *err) {
  int rc;
  if ((rc = check_namespace(ns, err)) != 0)
    return rc;
  return cat->ops->drop_namespace(cat, ns, err);
}

int tarn_catalog_list_tables(tarn_catalog *cat, const char *ns, tarn_catalog_names *out,
                             tarn_error *err) {
  int rc;
  if ((rc = check_namespace(ns, err)) != 0)
    return rc;
  tarn_catalog_names_free(out);
  return cat->ops->list_tables(cat, ns, out, err);
}

int tarn_catalog_register_table(tarn_catalog *cat, const char *ns, const char *table,
                                const char *metadata_location, tarn_error *err) {
  int rc;
  if ((rc = check_table(ns, table, err)) != 0 ||
      (rc = check_location("metadata location", metadata_location, err)) != 0)
    return rc;
  return cat->ops->create_table(cat, ns, table, metadata_location, err);
}

int tarn_catalog_create_table(tarn_catalog *cat, const char *ns, const char *table,
                              const char *metadata_location, tarn_error *err) {
  return tarn_catalog_register_table(cat, ns, table, metadata_location, err);
}

int tarn_catalog_load_table(tarn_catalog *cat, const char *ns, const char *table,
                            tarn_catalog_table *out, tarn_error *err) {
  int rc;
  if ((rc = check_table(ns, table, err)) != 0)
    return rc;
  tarn_catalog_table_free(out);
  rc = cat->ops->load_table(cat, ns, table, out, err);
  if (rc != 0)
    tarn_catalog_table_free(out);
  return rc;
}

int tarn_catalog_commit(tarn_catalog *cat, const char *ns, const char *table, const char *expected,
                        const char *new_location, tarn_error *err) {
  int rc;
  if ((rc = check_table(ns, table, err)) != 0 ||
      (rc = check_location("expected metadata location", expected, err)) != 0 ||
      (rc = check_location("new metadata location", new_location, err)) != 0)
    return rc;
  if (strcmp(expected, new_location) == 0)
    return tarn_error_set(err, TARN_EINVAL,
                          "commit %s.%s: the new metadata location is the expected one (%s)", ns,
                          table, new_location);
  return cat->ops->commit(cat, ns, table, expected, new_location, err);
}

int tarn_catalog_drop_table(tarn_catalog *cat, const char *ns, const char *table, tarn_error *err) {
  int rc;
  if ((rc = check_table(ns, table, err)) != 0)
    return rc;
  return cat->ops->drop_table(cat, ns, table, err);
}

int tarn_catalog_rename_table(tarn_catalog *cat, const char *from_ns, const char *from_table,
                              const char *to_ns, const char *to_table, tarn_error *err) {
  int rc;
  if ((rc = check_table(from_ns, from_table, err)) != 0 ||
      (rc = check_table(to_ns, to_table, err)) != 0)
    return rc;
  if (cat->ops->rename_table == NULL)
    return tarn_error_set(err, TARN_EUNSUPPORTED, "%s catalog cannot rename tables",
                          cat->ops->name);
  if (strcmp(from_ns, to_ns) == 0 && strcmp(from_table, to_table) == 0)
    return 0;
  return cat->ops->rename_table(cat, from_ns, from_table, to_ns, to_table, err);
}

/* ---- connection string redaction ---- */

typedef struct out_text {
  char *dst;
  size_t cap, len;
} out_text;

static void put(out_text *o, const char *s, size_t n) {
  size_t i;
  for (i = 0; i < n; i++, o->len++)
    if (o->len + 1 < o->cap)
      o->dst[o->len] = s[i];
}

static void put_str(out_text *o, const char *s) { put(o, s, strlen(s)); }

#define REDACTED "<redacted>"

/* A keyword whose value is secret (libpq keywords are case-sensitive; we are not). */
static int secret_key(const char *k, size_t n) {
  return (n == 8 && strncasecmp(k, "password", 8) == 0) ||
         (n == 11 && strncasecmp(k, "sslpassword", 11) == 0);
}

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* A URI query key, percent-decoded as libpq decodes it, is secret. */
static int secret_uri_key(const char *k, size_t n) {
  char buf[32];
  size_t i, m = 0;
  for (i = 0; i < n; i++) {
    char c = k[i];
    if (c == '%' && i + 2 < n && hexval(k[i + 1]) >= 0 && hexval(k[i + 2]) >= 0) {
      c = (char)(hexval(k[i + 1]) * 16 + hexval(k[i + 2]));
      i += 2;
    }
    if (m >= sizeof(buf))
      return 0; /* longer than any secret keyword */
    buf[m++] = c;
  }
  return secret_key(buf, m);
}

static void redact_uri(out_text *o, const char *s) {
  const char *p = strstr(s, "://") + 3, *q, *colon;
  put(o, s, (size_t)(p - s));
  /* User info ends at an '@' before the first '/'. libpq takes the first '@'; we take the
   * last, so that a password with an unencoded '@' is hidden whole. */
  {
    const char *at = NULL;
    for (q = p; *q && *q != '/'; q++)
      if (*q == '@')
        at = q;
    q = at ? at : q;
  }
  if (*q == '@') {
    colon = memchr(p, ':', (size_t)(q - p));
    if (colon != NULL) {
      put(o, p, (size_t)(colon - p) + 1);
      put_str(o, REDACTED);
    } else {
      put(o, p, (size_t)(q - p));
    }
    p = q;
  }
  q = strchr(p, '?');
  if (q == NULL) {
    put_str(o, p);
    return;
  }
  put(o, p, (size_t)(q - p) + 1);
  p = q + 1;
  while (*p) {
    const char *end = strchr(p, '&'), *eq;
    size_t n = end ? (size_t)(end - p) : strlen(p);
    eq = memchr(p, '=', n);
    if (eq != NULL && secret_uri_key(p, (size_t)(eq - p))) {
      put(o, p, (size_t)(eq - p) + 1);
      put_str(o, REDACTED);
    } else {
      put(o, p, n);
    }
    p += n;
    if (*p == '&')
      put(o, p++, 1);
  }
}

static void redact_keywords(out_text *o, const char *s) {
  const char *p = s;
  for (;;) {
    const char *k, *v;
    size_t klen;
    while (isspace((unsigned char)*p))
      put(o, p++, 1);
    if (*p == '\0')
      return;
    for (k = p; *p && !isspace((unsigned char)*p) && *p != '='; p++)
      ;
    klen = (size_t)(p - k);
    {
      const char *w = p;
      while (isspace((unsigned char)*w))
        w++;
      if (*w != '=' || klen == 0) {
        /* Not "keyword = value": it could be a mistyped secret, so show none of it. */
        put_str(o, "<unparsed text redacted>");
        return;
      }
      put(o, k, klen);
      put(o, p, (size_t)(w - p) + 1);
      p = w + 1;
    }
    while (isspace((unsigned char)*p))
      put(o, p++, 1);
    v = p;
    if (*p == '\'') {
      for (p++; *p && *p != '\''; p++)
        if (*p == '\\' && p[1] != '\0')
          p++;
      if (*p != '\'') {
        put_str(o, "<unparsed text redacted>");
        return;
      }
      p++;
    } else {
      for (; *p && !isspace((unsigned char)*p); p++)
        if (*p == '\\' && p[1] != '\0')
          p++;
    }
    if (secret_key(k, klen))
      put_str(o, REDACTED);
    else
      put(o, v, (size_t)(p - v));
  }
}

size_t tarn_catalog_redact_conninfo(const char *conninfo, char *dst, size_t dstlen) {
  out_text o = {dst, dstlen, 0};
  if (conninfo == NULL)
    conninfo = "";
  if (strncmp(conninfo, "postgresql://", 13) == 0 || strncmp(conninfo, "postgres://", 11) == 0)
    redact_uri(&o, conninfo);
  else
    redact_keywords(&o, conninfo);
  if (dstlen > 0)
    dst[o.len < dstlen ? o.len : dstlen - 1] = '\0';
  return o.len;
}
