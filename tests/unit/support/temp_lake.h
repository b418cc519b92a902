/* temp_lake.h - a lake in a temporary directory for unit tests: the local store on it, a
 * SQLite catalog in <dir>/catalog.db, and the table I/O over both. Header only. */
#ifndef TARN_TESTS_TEMP_LAKE_H
#define TARN_TESTS_TEMP_LAKE_H

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "store/store.h"
#include "table/lake.h"

/* Opens the lake in the existing directory dir (the caller made it); 0 or a tarn code. */
static inline int temp_lake_open(const char *dir, tarn_lake *l) {
  char real[PATH_MAX], db[PATH_MAX + 16];
  memset(l, 0, sizeof(*l));
  if (realpath(dir, real) == NULL)
    return TARN_EIO;
  snprintf(l->root_uri, sizeof(l->root_uri), "file://%s/", real);
  snprintf(l->path, sizeof(l->path), "%s", dir);
  if (tarn_store_local_open(dir, &l->store, NULL) != 0)
    return TARN_EIO;
  snprintf(db, sizeof(db), "%s/catalog.db", dir);
  if (tarn_catalog_sqlite_open(db, NULL, &l->cat, NULL) != 0) {
    tarn_store_destroy(l->store);
    return TARN_EIO;
  }
  l->io.store = l->store;
  l->io.root_uri = l->root_uri;
  return 0;
}

static inline void temp_lake_close(tarn_lake *l) {
  tarn_catalog_destroy(l->cat);
  tarn_store_destroy(l->store);
  memset(l, 0, sizeof(*l));
}

/* A cmocka fixture: a fresh lake in "/tmp/<prefix>-XXXXXX" per test case, removed after
 * it. db is its catalog file (threads that need a handle of their own open it). */
typedef struct temp_lake_fx {
  char dir[64];
  char db[128];
  tarn_lake lake;
} temp_lake_fx;

static inline int temp_lake_setup(void **state, const char *prefix) {
  temp_lake_fx *f = calloc(1, sizeof(*f));
  if (f == NULL)
    return -1;
  snprintf(f->dir, sizeof(f->dir), "/tmp/%s-XXXXXX", prefix);
  if (mkdtemp(f->dir) == NULL || temp_lake_open(f->dir, &f->lake) != 0) {
    free(f);
    return -1;
  }
  snprintf(f->db, sizeof(f->db), "%s/catalog.db", f->dir);
  *state = f;
  return 0;
}

static inline int temp_lake_teardown(void **state) {
  temp_lake_fx *f = *state;
  char cmd[128];
  int rc;
  temp_lake_close(&f->lake);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
  rc = system(cmd);
  free(f);
  return rc == 0 ? 0 : -1;
}

#endif
