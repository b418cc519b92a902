/* dataset_env.c - opening the lake for the dataset commands and the daemon. */
#include "dataset_env.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int dataset_lake_paths(const char *lake, char *root_uri, size_t root_len, char *spool,
                       size_t spool_len, tarn_error *err) {
  char real[PATH_MAX];
  if (realpath(lake, real) == NULL)
    return tarn_error_sys(err, TARN_EIO, errno, "lake directory %s", lake);
  /* "/" as the lake would give "file:////": keep exactly one slash between parts */
  snprintf(root_uri, root_len, "file://%s/", strcmp(real, "/") == 0 ? "" : real);
  snprintf(spool, spool_len, "%s/.spool", strcmp(real, "/") == 0 ? "" : real);
  return 0;
}

int dataset_env_open(const tarn_config *cfg, dataset_env *d, tarn_error *err) {
  const char *lake = tarn_config_str(cfg, "lake", "path");
  int rc;
  memset(d, 0, sizeof(*d));
  rc = tarn_store_local_open(lake, &d->store, err);
  if (rc != 0) {
    tarn_error_prefix(err, "lake %s", lake);
    return rc;
  }
  rc = dataset_lake_paths(lake, d->root_uri, sizeof(d->root_uri), d->spool, sizeof(d->spool),
                          err);
  if (rc == 0) {
    rc = tarn_catalog_open_from_config(cfg, lake, &d->cat, err);
    if (rc != 0)
      tarn_error_prefix(err, "catalog");
  }
  if (rc != 0) {
    dataset_env_close(d);
    return rc;
  }
  d->io.store = d->store;
  d->io.root_uri = d->root_uri;
  d->env.cat = d->cat;
  d->env.io = &d->io;
  d->env.spool_dir = d->spool;
  return 0;
}

void dataset_env_close(dataset_env *d) {
  tarn_catalog_destroy(d->cat);
  tarn_store_destroy(d->store);
  d->cat = NULL;
  d->store = NULL;
}

const char *dataset_fmt_bytes(double bytes, char *buf, size_t n) {
  static const char *const units[] = {"B", "kB", "MB", "GB", "TB"};
  size_t u = 0;
  while (bytes >= 1000 && u + 1 < sizeof(units) / sizeof(units[0])) {
    bytes /= 1000;
    u++;
  }
  if (u == 0)
    snprintf(buf, n, "%.0f B", bytes);
  else
    snprintf(buf, n, "%.1f %s", bytes, units[u]);
  return buf;
}
