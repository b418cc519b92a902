/* dataset_env.h - the lake as `tarn ingest`, `tarn datasets` and `tarn serve` see it: the
 * local store on [lake] path, its file:// root URI, the catalog, the spool directory. */
#ifndef TARN_CMD_DATASET_ENV_H
#define TARN_CMD_DATASET_ENV_H

#include <limits.h>

#include "base/config.h"
#include "ingest/ingest.h"

typedef struct dataset_env {
  tarn_store *store;
  tarn_catalog *cat;
  tarn_table_io io;
  tarn_ingest_env env;
  char root_uri[PATH_MAX + 16]; /* "file://" + realpath(lake) + "/" */
  char spool[PATH_MAX + 16];    /* realpath(lake) + "/.spool" */
} dataset_env;

/* The root URI and spool directory of the lake directory `lake` (which must exist). */
int dataset_lake_paths(const char *lake, char *root_uri, size_t root_len, char *spool,
                       size_t spool_len, tarn_error *err);

/* Opens the lake of cfg ([lake] path, created if missing) and its catalog. On failure
 * everything opened is closed again. */
int dataset_env_open(const tarn_config *cfg, dataset_env *d, tarn_error *err);
/* Closes what dataset_env_open opened; accepts a zeroed or closed d. */
void dataset_env_close(dataset_env *d);

/* "455.2 MB" (powers of ten, as MB/s rates are). */
const char *dataset_fmt_bytes(double bytes, char *buf, size_t n);

#endif
