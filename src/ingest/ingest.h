/* ingest.h - CSV → Iceberg datasets (datasets.<name>) and the dataset catalog views. */
#ifndef TARN_INGEST_INGEST_H
#define TARN_INGEST_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/config.h"
#include "base/error.h"
#include "catalog/catalog.h"
#include "csv/csv.h"
#include "table/table.h"

/*
 * A dataset is the Iceberg table datasets.<name>, name matching [a-z0-9_]{1,128}. An
 * ingest reads a spooled CSV twice: pass 1 infers every column's type over the whole
 * file and computes the schema fingerprint (and the SHA-256 of the bytes); pass 2
 * converts the rows into one Parquet file, content-addressed under the table's data
 * folder (data/<sha256 of the Parquet bytes>.parquet, put-if-absent), and commits it:
 * the first ingest creates the table, a later one with the same fingerprint replaces the
 * data (an overwrite snapshot) or appends; byte-identical content commits nothing; a
 * different fingerprint is refused (TARN_ESCHEMA) before anything is written. The
 * fingerprint, source, column list and the content hash are table properties set in
 * the same commit as the snapshot. Layout and rules: src/ingest/README.md.
 */

#define TARN_DATASETS_NAMESPACE "datasets"
#define TARN_DATASET_NAME_MAX 128

/* 0 when name matches [a-z0-9_]{1,128}; else TARN_EINVAL naming the rule. */
int tarn_dataset_name_check(const char *name, tarn_error *err);

/* Settings of the [ingest] section: max_upload (TARN_MAX_UPLOAD, --max-upload on serve),
 * threads (TARN_INGEST_THREADS, --threads on ingest). */
extern const tarn_cfg_def tarn_ingest_config[];

/* The delimiter a user wrote: "," ";" "|", a tab (a literal tab, "\t" or "tab"), or the
 * names "comma", "semicolon", "pipe"; NULL, "" or "auto" give 0 (detect it from the
 * file). TARN_EINVAL listing the accepted ones. */
int tarn_ingest_parse_delimiter(const char *s, char *out, tarn_error *err);
/* "replace" (0) or "append" (1); NULL or "" is replace. TARN_EINVAL otherwise. */
int tarn_ingest_parse_mode(const char *s, int *append, tarn_error *err);

/*
 * A new spool file in `dir`, already unlinked (it lives as long as the descriptor,
 * whatever happens to the process), or -1 with err set (naming the spool folder by its
 * last component only: callers may show the message to clients). The folder is created
 * when missing (0700); anything else in its way (a file, a symlink) is renamed aside to
 * "<dir>.blocked-<time>" with a warning, so it never blocks an ingest.
 */
int tarn_ingest_spool_open(const char *dir, tarn_error *err);

/* Where an ingest works: the catalog, the lake's object store, and a local directory
 * for spool files (created if missing). */
typedef struct tarn_ingest_env {
  tarn_catalog *cat;
  const tarn_table_io *io;
  const char *spool_dir;
} tarn_ingest_env;

#define TARN_INGEST_MEMORY_BUDGET ((size_t)256 << 20)

typedef struct tarn_ingest_options {
  const char *name;     /* dataset name */
  int append;           /* 1: append instead of replace */
  char delimiter;       /* ',', ';', '\t', '|'; 0 (the default): detected from the file */
  int infer_only;       /* 1: pass 1 only; nothing is written */
  const char *source;   /* recorded as the "tarn.source" property (file name, "upload") */
  tarn_pq_codec codec;  /* Parquet compression (tarn_ingest_options_init: SNAPPY) */
  size_t max_field;     /* CSV field cap; 0 = 1 MiB */
  size_t memory_budget; /* the most this ingest may use (0 = TARN_INGEST_MEMORY_BUDGET);
                            a file whose columns cannot fit is TARN_ETOOBIG */
  /* Called once, after pass 1 and before pass 2 (which holds the memory), with the bytes
   * the conversion may use (at most memory_budget); a non-zero return (err filled, e.g.
   * TARN_EBUSY) stops the ingest before anything is written. May be NULL. */
  int (*admit)(void *arg, uint64_t bytes, tarn_error *err);
  void *admit_arg;
  int threads; /* 2: pass 1 hashes the CSV on a helper thread and pass 2
                            converts rows and writes Parquet on two threads (the same
                            bytes as one); 0 or 1: the caller's thread does everything */
  /* progress, called now and then from the ingesting thread: phase 1 or 2, bytes of the
   * file consumed in that phase, rows so far; may be NULL */
  void (*progress)(int phase, uint64_t bytes, uint64_t rows, void *arg);
  void *progress_arg;
} tarn_ingest_options;

/* Defaults: replace mode, ',' delimiter, SNAPPY, source "upload". */
void tarn_ingest_options_init(tarn_ingest_options *o);

typedef struct tarn_ingest_result {
  int existing;                             /* byte-identical content: nothing committed */
  int created;                              /* this ingest created the dataset's table */
  int64_t row_count;                        /* rows in this file */
  int64_t parquet_size;                     /* bytes of the data file (0 for infer-only) */
  char parquet_key[TARN_STORE_KEY_MAX + 1]; /* its store key */
  char fingerprint[TARN_CSV_FINGERPRINT_LEN];
  char delimiter;         /* the one the file was read with */
  int delimiter_detected; /* 1: detected, 0: given */
  char source_sha256[65]; /* of the CSV bytes */
  size_t ncols;
  char **names;          /* header names */
  tarn_csv_column *cols; /* inferred types with reasons */
  int64_t snapshot_id;   /* committed snapshot (-1 when none) */
  json_t *drift;         /* on TARN_ESCHEMA: {"expected","actual","added","removed",
                                   "retyped","reordered"}; else NULL */
} tarn_ingest_result;

void tarn_ingest_result_init(tarn_ingest_result *r);
void tarn_ingest_result_free(tarn_ingest_result *r);

/*
 * Ingests the CSV readable from `fd` (a regular, seekable file: it is read twice; not
 * closed). Errors: TARN_EINVAL for a bad name or bad CSV (the detail names line and
 * column), TARN_ESCHEMA for a drifted schema (res->drift says how), TARN_ETOOBIG for a
 * field or record past its cap; storage and catalog failures as they come (nothing is
 * committed then, and what was written for it is removed).
 */
int tarn_ingest_csv(const tarn_ingest_env *env, int fd, const tarn_ingest_options *o,
                    tarn_ingest_result *res, tarn_error *err);

/* ---- the dataset catalog ---- */

/* Names of every dataset, sorted. The caller frees with tarn_catalog_names_free. */
int tarn_datasets_list(const tarn_ingest_env *env, tarn_catalog_names *out, tarn_error *err);

/*
 * The manifest view of a dataset: {"name","dataset_id" (UUIDv5 of the name in the URL
 * namespace),"fingerprint","source","columns":[{"name","type","nullable"}],
 * "objects":[{"key","size"}],"row_count","created_at","updated_at","current_snapshot_id"}.
 * TARN_ENOTFOUND when there is no such dataset.
 */
int tarn_dataset_manifest(const tarn_ingest_env *env, const char *name, json_t **out,
                          tarn_error *err);

/*
 * The summary of a dataset, from its metadata alone (no manifest is read): the manifest
 * view's fields without "columns" and "objects", plus "column_count", "data_files" and
 * "total_size" (bytes) of the current snapshot. TARN_ENOTFOUND when there is no such
 * dataset. The caller owns *out.
 */
int tarn_dataset_summary(const tarn_ingest_env *env, const char *name, json_t **out,
                         tarn_error *err);

/*
 * Repair: recomputes the row count and columns of a dataset from the Parquet footers of
 * its live files and stores them as table properties. *changed says whether they
 * differed.
 */
int tarn_dataset_resync(const tarn_ingest_env *env, const char *name, int *changed,
                        tarn_error *err);
/* Resyncs every dataset whose properties lack the row count or the columns. */
int tarn_datasets_resync_missing(const tarn_ingest_env *env, json_t **report, tarn_error *err);

/* ---- PostgreSQL ingest (src/ingest/README.md, "Postgres ingest") ---- */

typedef struct tarn_pg_ingest_options {
  const char *name;               /* dataset name */
  const char *dsn;                /* libpq connection string */
  const char *table;              /* "schema.name" or "name" (as PostgreSQL resolves it); or */
  const char *query;              /* a SELECT (exactly one of table and query) */
  int append;                     /* 1: append; 0: replace */
  const char *incremental_column; /* NULL: read everything */
  int readers;                    /* parallel connections (tables); 0: chosen by size */
  int infinity_null;              /* 1: +-infinity dates and timestamps become null; 0: an error */
  /* 1: the DSN comes from a client (HTTP): TCP hosts only, no file or service keywords,
   * never the process's ~/.pgpass or PGPASSWORD; allowed_hosts (comma list of host or
   * host:port; NULL or "" = any) limits where it may connect */
  int restricted;
  const char *allowed_hosts;
  tarn_pq_codec codec;  /* tarn_pg_ingest_options_init: SNAPPY */
  size_t memory_budget; /* 0 = TARN_INGEST_MEMORY_BUDGET */
  int (*admit)(void *arg, uint64_t bytes, tarn_error *err); /* as for CSV; may be NULL */
  void *admit_arg;
  /* now and then from the ingesting thread: rows and COPY bytes so far; may be NULL */
  void (*progress)(uint64_t rows, uint64_t bytes, void *arg);
  void *progress_arg;
} tarn_pg_ingest_options;

void tarn_pg_ingest_options_init(tarn_pg_ingest_options *o);

typedef struct tarn_pg_ingest_result {
  int existing;      /* nothing committed: identical content, or no new rows */
  int created;       /* the commit that gave the dataset its first data */
  int64_t row_count; /* rows read */
  int64_t bytes;     /* COPY bytes received */
  int64_t parquet_size;
  char parquet_key[TARN_STORE_KEY_MAX + 1];
  char fingerprint[TARN_CSV_FINGERPRINT_LEN];
  int64_t snapshot_id;
  int readers;         /* connections used */
  char sqlstate[6];    /* of a PostgreSQL failure; "" otherwise */
  json_t *columns;     /* [{name,type,nullable,pg_type}] */
  json_t *warnings;    /* [text] */
  json_t *source;      /* {host,port,database,user,table|query,snapshot_time} */
  json_t *incremental; /* {column,from,to} or NULL */
  json_t *drift;       /* on TARN_ESCHEMA */
} tarn_pg_ingest_result;

void tarn_pg_ingest_result_init(tarn_pg_ingest_result *r);
void tarn_pg_ingest_result_free(tarn_pg_ingest_result *r);

/*
 * Reads the table or query in one REPEATABLE READ snapshot (binary COPY, parallel ctid
 * ranges for large tables) into one Parquet file and commits it to datasets.<name> under
 * the dataset rules. Errors: TARN_EINVAL (bad options or DSN, a server-side error: see
 * r->sqlstate), TARN_EPERM (host not allowed, bad credentials), TARN_ENETWORK (server
 * unreachable or gone mid-stream), TARN_ERANGE (a value with no exact Iceberg form,
 * naming column and row), TARN_ESCHEMA (drift, r->drift), TARN_ECONFLICT (an incremental
 * ingest committed meanwhile). The dataset is unchanged whenever it fails.
 */
int tarn_ingest_pg(const tarn_ingest_env *env, const tarn_pg_ingest_options *o,
                   tarn_pg_ingest_result *r, tarn_error *err);

/* The error code of a failed Postgres ingest ("postgres_error", "invalid_data", ...) and its
 * HTTP status, from the tarn code and r->sqlstate (see the README's table). */
const char *tarn_pg_ingest_error(int code, const char *sqlstate, int *status);

/* The answer's fields (without "manifest"): outcome, row_count, ..., see the README. */
json_t *tarn_pg_ingest_result_json(const tarn_pg_ingest_result *r, int append);

#endif
