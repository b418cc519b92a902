/* lake.h - the lake as every command and the daemon open it: the local store on
 * [lake] path, its file:// root URI, the spool directory and the catalog. */
#ifndef TARN_TABLE_LAKE_H
#define TARN_TABLE_LAKE_H

#include <limits.h>

#include "base/config.h"
#include "base/error.h"
#include "catalog/catalog.h"
#include "store/store.h"
#include "table/table.h"

typedef struct tarn_lake {
  tarn_store *store;             /* the lake directory as an object store */
  tarn_catalog *cat;             /* from [catalog] (default: <lake>/catalog.db) */
  tarn_table_io io;              /* store + root_uri, for tarn_table_load and friends */
  char path[PATH_MAX];           /* [lake] path as configured */
  char root_uri[PATH_MAX + 16];  /* "file://" + realpath(lake) + "/" */
  char spool_dir[PATH_MAX + 16]; /* realpath(lake) + "/.spool" */
} tarn_lake;

/* Refuse a lake that is not there instead of creating it: for commands that only read. */
#define TARN_LAKE_MUST_EXIST 1u

/*
 * Opens the lake of cfg ([lake] path; cfg must hold tarn_base_config and
 * tarn_catalog_config). Without TARN_LAKE_MUST_EXIST the directory (and a default SQLite
 * catalog) is created when missing; with it, a missing directory, or a missing
 * <lake>/catalog.db when that is the catalog, is TARN_ENOTFOUND naming the path and how
 * to point at another lake. Catalog misconfiguration is TARN_ECONFIG. On failure nothing
 * stays open. *out is the caller's (tarn_lake_close). Messages name the lake.
 */
int tarn_lake_open(const tarn_config *cfg, unsigned flags, tarn_lake **out, tarn_error *err);
void tarn_lake_close(tarn_lake *l); /* accepts NULL */

/* The root URI and spool directory of the existing lake directory `dir`, for callers
 * that open its store another way (the daemon's bucket registry). */
int tarn_lake_paths(const char *dir, char *root_uri, size_t root_len, char *spool, size_t spool_len,
                    tarn_error *err);

#endif
