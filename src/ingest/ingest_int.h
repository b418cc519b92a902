/* ingest_int.h - what the ingest module's files share; not for other modules. */
#ifndef TARN_INGEST_INT_H
#define TARN_INGEST_INT_H

#include "base/hash.h"
#include "ingest.h"

/* The CSV type name ("int64", ...) of an Iceberg column type; NULL when none maps. */
const char *tarn__ingest_csv_type_of(const tarn_ice_type *t);

/* A dataset's type name: CSV's where CSV has the type ("int64", "string"), else Iceberg's
 * ("int", "decimal(10,2)", "uuid"). Fingerprints and drift reports use these names. */
void tarn__ingest_type_name(const tarn_ice_type *t, char *dst, size_t n);

/* What an ingest brings: the dataset, its columns' names and type names, the fingerprint
 * over them, and the source recorded with it. */
typedef struct tarn__ingest_shape {
  const char *name;
  const char *source;
  const char *fingerprint;
  size_t n;
  const char *const *names;
  const char *const *types;
} tarn__ingest_shape;

/* The drift report of `sh` against the dataset schema `old` (see README). */
json_t *tarn__ingest_drift(const tarn_ice_schema *old, const char *old_fp,
                           const tarn__ingest_shape *sh);

/* A running SHA-256 of the first `done` bytes of a file that only grows at its end (the
 * Parquet spool file: the writer appends and never seeks back). */
typedef struct tarn__ingest_hash {
  tarn_sha256 *sha;
  uint64_t done;
} tarn__ingest_hash;

/* Hashes the spooled Parquet file (`size` bytes; `hash` covers a prefix of it already)
 * and copies it to "<table_data_key>/<sha256>.parquet" in the store (put-if-absent;
 * identical content already there is fine); the key goes to `key`. */
int tarn__ingest_publish(const tarn_ingest_env *env, int spool_fd, uint64_t size,
                         tarn__ingest_hash *hash, const char *table_data_key, char *key,
                         size_t keylen, tarn_error *err);

/* The store key of the table's data folder. n >= 96. */
int tarn__ingest_data_prefix(const tarn_ingest_env *env, tarn_table *t, char *key, size_t n,
                             tarn_error *err);

/* Creates datasets.<sh->name> with `schema` (fingerprint and source as properties); a
 * concurrent creator's table is loaded instead and must have the same fingerprint, else
 * TARN_ESCHEMA with *drift set. */
int tarn__ingest_create_table(const tarn_ingest_env *env, const tarn__ingest_shape *sh,
                              const tarn_ice_schema *schema, tarn_table **t, json_t **drift,
                              tarn_error *err);

/* Commits the data file `key` (info from its writer) as an append or an overwrite, with
 * `check` inside the compare-and-swap; df is filled (the caller frees it). */
int tarn__ingest_commit(const tarn_ingest_env *env, tarn_table *t, int append, const char *key,
                        const tarn_pq_file_info *info, const tarn_ice_kv *summary, size_t nsummary,
                        tarn_table_commit_check check, void *arg, tarn_ice_data_file *df,
                        tarn_table_commit_result *cres, tarn_error *err);

/* An integer of the current snapshot's summary ("total-records"); -1 when absent. */
int64_t tarn__ingest_summary_int(const tarn_ice_metadata *m, const char *key);

/* The Postgres ingest's binary COPY decoder over p[0, n), fed as two chunks cut at `split`,
 * into a fixed set of columns (one of each kind) written as Parquet to /dev/null: for the
 * fuzz target. *rows: tuples decoded. */
int tarn__pg_decode_test(const uint8_t *p, size_t n, size_t split, int64_t *rows, tarn_error *err);

#endif
