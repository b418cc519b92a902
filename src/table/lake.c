/* lake.c - opening the lake: store, root URI, spool directory and catalog from the settings. */
#include "lake.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/alloc.h"

int tarn_lake_paths(const char *dir, char *root_uri, size_t root_len, char *spool, size_t spool_len,
                    tarn_error *err) {
  char real[PATH_MAX];
  const char *r;
  if (realpath(dir, real) == NULL)
    return tarn_error_sys(err, TARN_EIO, errno, "lake directory %s", dir);
  r = strcmp(real, "/") == 0 ? "" : real; /* "/" would give "file:////" */
  if ((size_t)snprintf(root_uri, root_len, "file://%s/", r) >= root_len ||
      (size_t)snprintf(spool, spool_len, "%s/.spool", r) >= spool_len)
    return tarn_error_set(err, TARN_EINVAL, "lake directory %s: path too long", dir);
  return 0;
}

/* With the default catalog, the SQLite file inside the lake; NULL otherwise. */
static int default_catalog(const tarn_config *cfg) {
  const char *type = tarn_config_str(cfg, "catalog", "type");
  const char *uri = tarn_config_str(cfg, "catalog", "uri");
  return (type == NULL || strcmp(type, "postgres") != 0) && (uri == NULL || uri[0] == '\0');
}

int tarn_lake_open(const tarn_config *cfg, unsigned flags, tarn_lake **out, tarn_error *err) {
  const char *path = tarn_config_str(cfg, "lake", "path");
  tarn_lake *l;
  struct stat st;
  int rc;
  *out = NULL;
  if (path == NULL || path[0] == '\0')
    return tarn_error_set(err, TARN_ECONFIG, "[lake] path is empty (set it, TARN_LAKE or --lake)");
  if (flags & TARN_LAKE_MUST_EXIST) {
    char db[PATH_MAX + 16];
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
      return tarn_error_set(err, TARN_ENOTFOUND,
                            "no lake at %s (nothing to read; point at "
                            "another one with --lake, TARN_LAKE or [lake] path)",
                            path);
    snprintf(db, sizeof(db), "%s/catalog.db", path);
    if (default_catalog(cfg) && stat(db, &st) != 0)
      return tarn_error_set(err, TARN_ENOTFOUND,
                            "no lake at %s: it has no catalog.db (nothing "
                            "to read; point at another one with --lake, TARN_LAKE or [lake] "
                            "path)",
                            path);
  }
  l = tarn_calloc(1, sizeof(*l));
  if (l == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "lake %s: out of memory", path);
  if ((size_t)snprintf(l->path, sizeof(l->path), "%s", path) >= sizeof(l->path)) {
    rc = tarn_error_set(err, TARN_EINVAL, "lake %s: path too long", path);
    goto fail;
  }
  rc = tarn_store_local_open(path, &l->store, err);
  if (rc == 0)
    rc = tarn_lake_paths(path, l->root_uri, sizeof(l->root_uri), l->spool_dir, sizeof(l->spool_dir),
                         err);
  if (rc != 0) {
    tarn_error_prefix(err, "lake %s", path);
    goto fail;
  }
  rc = tarn_catalog_open_from_config(cfg, path, &l->cat, err);
  if (rc != 0) {
    tarn_error_prefix(err, "opening the catalog");
    goto fail;
  }
  l->io.store = l->store;
  l->io.root_uri = l->root_uri;
  *out = l;
  return 0;
fail:
  tarn_lake_close(l);
  return rc;
}

void tarn_lake_close(tarn_lake *l) {
  if (l == NULL)
    return;
  tarn_catalog_destroy(l->cat);
  tarn_store_destroy(l->store);
  tarn_free(l);
}
