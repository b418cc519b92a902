/* ice_table_int.h - what the table object's files share: the handle, the commit engine
 * and the metadata helpers. ice_table.c: create and load; ice_commit.c: the commit engine
 * (apply under compare-and-swap with retry); ice_produce.c: snapshot production (append,
 * overwrite, manifest merge); ice_changes.c: schema and property changes, snapshot expiry.
 * A tarn_table is a single-threaded handle (table.h). */
#ifndef TARN_TABLE_ICE_TABLE_INT_H
#define TARN_TABLE_ICE_TABLE_INT_H

#include "table_int.h"

#define METADATA_MAX_BYTES (64u << 20)

struct tarn_table {
  tarn_catalog *cat;
  tarn_table_io io;
  char *root_uri;
  char *ns, *name;
  char *metadata_location;
  tarn_ice_metadata md;
};
/*
 * Builds `next` from `base` (a fresh copy of the current metadata) for one attempt.
 * Files it writes for this attempt go into `written` so a failed commit can delete them.
 */
typedef int (*apply_fn)(tarn_table *t, const tarn_ice_metadata *base, tarn_ice_metadata *next,
                        int attempt, void *ctx, tarn_error *err);

typedef struct uri_list {
  char **items;
  size_t n, cap;
} uri_list;

/* ---- ice_table.c ---- */

int tarn__table_read_metadata(const tarn_table_io *io, const char *uri, tarn_ice_metadata *md,
                              tarn_error *err);
int tarn__table_metadata_clone(const tarn_ice_metadata *src, tarn_ice_metadata *dst,
                               tarn_error *err);
long tarn__table_metadata_version(const char *uri);
int tarn__table_new_uuid_str(char out[TARN_UUID_STR_LEN], tarn_error *err);
int tarn__table_new_snapshot_id(int64_t *id, tarn_error *err);
int tarn__table_kv_set(tarn_ice_kv **kv, size_t *n, const char *key, const char *value,
                       tarn_error *err);
void tarn__table_kv_remove(tarn_ice_kv *kv, size_t *n, const char *key);
int tarn__table_write_metadata(const tarn_table_io *io, const char *uri,
                               const tarn_ice_metadata *md, tarn_buf *b, tarn_error *err);
void tarn__table_write_version_hint(const tarn_table *t, const char *uri,
                                    const tarn_ice_metadata *md, const tarn_buf *json);

/* ---- ice_commit.c ---- */

int tarn__table_uri_list_add(uri_list *l, const char *uri, tarn_error *err);
void tarn__table_uri_list_delete_all(uri_list *l, const tarn_table_io *io);
void tarn__table_uri_list_free(uri_list *l);
int tarn__table_commit(tarn_table *t, apply_fn apply, void *ctx, tarn_table_commit_result *res,
                       tarn_error *err);

/* ---- ice_changes.c ---- */

int tarn__table_apply_props(tarn_table *t, const tarn_ice_metadata *base, tarn_ice_metadata *next,
                            int attempt, void *ctx, tarn_error *err);

#endif
