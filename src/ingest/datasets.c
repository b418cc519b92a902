/* datasets.c - the dataset catalog: list, manifest view, resync from Parquet footers. */
#include "ingest.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/uuid.h"
#include "ingest_int.h"

int tarn_datasets_list(const tarn_ingest_env *env, tarn_catalog_names *out, tarn_error *err) {
  int rc = tarn_catalog_list_tables(env->cat, TARN_DATASETS_NAMESPACE, out, err);
  if (rc == TARN_ENOTFOUND) { /* no dataset yet */
    tarn_catalog_names_free(out);
    tarn_catalog_names_init(out);
    return 0;
  }
  return rc;
}

static json_t *iso_time(int64_t ms) {
  char ts[TARN_TIME_ISO_MAX];
  if (ms <= 0)
    return json_null();
  return json_string(tarn_time_iso8601(ms * 1000, 3, ts, sizeof(ts)));
}

/* Live data files of the current snapshot as [{"key","size"}]. */
static int objects_json(const tarn_ingest_env *env, tarn_table *t, json_t **out, tarn_error *err) {
  tarn_ice_data_file *files = NULL;
  size_t n = 0, i;
  json_t *a;
  int rc = tarn_table_plan(t, NULL, &files, &n, NULL, NULL, err);
  *out = NULL;
  if (rc != 0)
    return rc;
  a = json_array();
  for (i = 0; a != NULL && i < n; i++) {
    char key[TARN_STORE_KEY_MAX + 1];
    const char *k = tarn_table_io_key(env->io, files[i].file_path, key, sizeof(key), NULL) == 0
                        ? key
                        : files[i].file_path;
    if (json_array_append_new(
            a, json_pack("{s:s,s:I}", "key", k, "size", (json_int_t)files[i].file_size)) != 0) {
      json_decref(a);
      a = NULL;
    }
  }
  tarn_ice_data_files_free(files, n);
  if (a == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  *out = a;
  return 0;
}

/* The value of key in the current snapshot's summary, or NULL. */
static const char *summary_value(const tarn_ice_metadata *m, const char *key) {
  const tarn_ice_snapshot *s = tarn_ice_metadata_snapshot(m, m->current_snapshot_id);
  size_t i;
  for (i = 0; s != NULL && i < s->nsummary; i++)
    if (strcmp(s->summary[i].key, key) == 0)
      return s->summary[i].value;
  return NULL;
}

static json_t *int_or_null(const char *text) {
  return text ? json_integer(strtoll(text, NULL, 10)) : json_null();
}

/* The manifest view (full = 1) or the summary (full = 0) of dataset `name`. */
static int dataset_view(const tarn_ingest_env *env, const char *name, int full, json_t **out,
                        tarn_error *err) {
  tarn_table *t = NULL;
  const tarn_ice_metadata *m;
  const char *p;
  json_t *j = NULL, *cols = NULL, *objects = NULL;
  tarn_uuid id;
  char ids[TARN_UUID_STR_LEN];
  int64_t created;
  int rc;
  *out = NULL;
  rc = tarn_dataset_name_check(name, err);
  if (rc == 0)
    rc = tarn_table_load(env->cat, env->io, TARN_DATASETS_NAMESPACE, name, &t, err);
  if (rc == TARN_ENOTFOUND)
    rc = tarn_error_set(err, TARN_ENOTFOUND, "no dataset named \"%s\"", name);
  if (rc != 0)
    goto out;
  m = tarn_table_metadata(t);
  rc = tarn_uuid_v5(&id, &tarn_uuid_ns_url, name, strlen(name), err);
  if (rc != 0)
    goto out;
  p = tarn_ice_metadata_property(m, "tarn.columns");
  cols = p ? json_loads(p, 0, NULL) : NULL;
  if (!json_is_array(cols)) {
    json_decref(cols);
    cols = json_null();
  }
  if (full) {
    rc = objects_json(env, t, &objects, err);
    if (rc != 0)
      goto out;
  }
  created = m->nmetadata_log > 0 ? m->metadata_log[0].timestamp_ms : m->last_updated_ms;
  p = tarn_ice_metadata_property(m, "tarn.row-count");
  j = json_pack(
      "{s:s,s:s,s:s?,s:s?,s:o,s:o,s:o,s:o}", "name", name, "dataset_id", tarn_uuid_format(&id, ids),
      "fingerprint", tarn_ice_metadata_property(m, "tarn.fingerprint"), "source",
      tarn_ice_metadata_property(m, "tarn.source"), "row_count", int_or_null(p), "created_at",
      iso_time(created), "updated_at", iso_time(m->last_updated_ms), "current_snapshot_id",
      m->current_snapshot_id >= 0 ? json_integer(m->current_snapshot_id) : json_null());
  if (j == NULL) {
    rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
    goto out;
  }
  if (full) {
    if (json_object_set(j, "columns", cols) != 0 || json_object_set(j, "objects", objects) != 0)
      rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
  } else {
    if (json_object_set_new(j, "column_count",
                            json_is_array(cols) ? json_integer((json_int_t)json_array_size(cols))
                                                : json_null()) != 0 ||
        json_object_set_new(j, "data_files", int_or_null(summary_value(m, "total-data-files"))) !=
            0 ||
        json_object_set_new(j, "total_size", int_or_null(summary_value(m, "total-files-size"))) !=
            0)
      rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
  }
out:
  json_decref(cols);
  json_decref(objects);
  tarn_table_close(t);
  if (rc == 0)
    *out = j;
  else
    json_decref(j);
  return rc;
}

int tarn_dataset_manifest(const tarn_ingest_env *env, const char *name, json_t **out,
                          tarn_error *err) {
  return dataset_view(env, name, 1, out, err);
}

int tarn_dataset_summary(const tarn_ingest_env *env, const char *name, json_t **out,
                         tarn_error *err) {
  return dataset_view(env, name, 0, out, err);
}

/* Reads every live file's footer: total rows and per-column nullability. */
static int footers(const tarn_ingest_env *env, tarn_table *t, int64_t *rows, int **nullable,
                   tarn_error *err) {
  const tarn_ice_schema *s = tarn_table_schema(t);
  tarn_ice_data_file *files = NULL;
  size_t n = 0, i, c, g;
  int rc = tarn_table_plan(t, NULL, &files, &n, NULL, NULL, err);
  *rows = 0;
  *nullable = NULL;
  if (rc != 0)
    return rc;
  *nullable = tarn_calloc(s->nfields ? s->nfields : 1, sizeof(int));
  if (*nullable == NULL)
    rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
  for (i = 0; rc == 0 && i < n; i++) {
    char key[TARN_STORE_KEY_MAX + 1];
    tarn_pq_reader *r = NULL;
    const tarn_pq_file_meta *fm;
    rc = tarn_table_io_key(env->io, files[i].file_path, key, sizeof(key), err);
    if (rc == 0)
      rc = tarn_pq_reader_open_store(env->io->store, key, &r, err);
    if (rc != 0)
      break;
    fm = tarn_pq_reader_meta(r);
    *rows += fm->num_rows;
    for (c = 0; c < s->nfields; c++) {
      size_t k;
      for (k = 0; k < fm->schema.ncols; k++) {
        if (fm->schema.cols[k].field_id != s->fields[c].id)
          continue;
        for (g = 0; g < fm->nrow_groups; g++) {
          const tarn_pq_stats *st = &fm->row_groups[g].chunks[k].stats;
          if (!st->has_null_count || st->null_count > 0)
            (*nullable)[c] = 1;
        }
      }
    }
    tarn_pq_reader_close(r);
  }
  tarn_ice_data_files_free(files, n);
  if (rc != 0) {
    tarn_free(*nullable);
    *nullable = NULL;
  }
  return rc;
}

/* The row count and columns are true of the snapshot they were read from: the commit
 * refuses to set them on any other (a concurrent ingest), and resync reads again. */
static int same_snapshot(void *arg, const tarn_ice_metadata *base, tarn_ice_metadata *next,
                         tarn_error *err) {
  int64_t want = *(const int64_t *)arg;
  if (base->current_snapshot_id != want)
    return tarn_error_set(err, TARN_ECONFLICT, "the dataset changed while it was read");
  return 0;
}

static int resync_once(const tarn_ingest_env *env, const char *name, int *changed, tarn_error *err);

int tarn_dataset_resync(const tarn_ingest_env *env, const char *name, int *changed,
                        tarn_error *err) {
  int attempt, rc = 0;
  for (attempt = 0; attempt < 5; attempt++) {
    rc = resync_once(env, name, changed, err);
    if (rc != TARN_ECONFLICT)
      break;
  }
  return rc;
}

static int resync_once(const tarn_ingest_env *env, const char *name, int *changed,
                       tarn_error *err) {
  tarn_table *t = NULL;
  int64_t snap;
  const tarn_ice_schema *s;
  int64_t rows = 0;
  int *nullable = NULL;
  json_t *cols = NULL;
  char *cols_text = NULL, rows_text[32];
  const char *old_cols, *old_rows;
  size_t i;
  int rc;
  if (changed != NULL)
    *changed = 0;
  rc = tarn_dataset_name_check(name, err);
  if (rc == 0)
    rc = tarn_table_load(env->cat, env->io, TARN_DATASETS_NAMESPACE, name, &t, err);
  if (rc == TARN_ENOTFOUND)
    rc = tarn_error_set(err, TARN_ENOTFOUND, "no dataset named \"%s\"", name);
  if (rc == 0)
    rc = footers(env, t, &rows, &nullable, err);
  if (rc != 0)
    goto out;
  s = tarn_table_schema(t);
  cols = json_array();
  for (i = 0; cols != NULL && i < s->nfields; i++)
    json_array_append_new(cols, json_pack("{s:s,s:s,s:b}", "name", s->fields[i].name, "type",
                                          tarn__ingest_csv_type_of(&s->fields[i].type)
                                              ? tarn__ingest_csv_type_of(&s->fields[i].type)
                                              : "string",
                                          "nullable", nullable[i]));
  cols_text = cols ? json_dumps(cols, JSON_COMPACT) : NULL;
  if (cols_text == NULL) {
    rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
    goto out;
  }
  snprintf(rows_text, sizeof(rows_text), "%lld", (long long)rows);
  old_cols = tarn_ice_metadata_property(tarn_table_metadata(t), "tarn.columns");
  old_rows = tarn_ice_metadata_property(tarn_table_metadata(t), "tarn.row-count");
  if (old_cols == NULL || strcmp(old_cols, cols_text) != 0 || old_rows == NULL ||
      strcmp(old_rows, rows_text) != 0) {
    tarn_ice_kv props[2] = {{"tarn.columns", cols_text}, {"tarn.row-count", rows_text}};
    snap = tarn_table_metadata(t)->current_snapshot_id;
    rc = tarn_table_set_properties_checked(t, props, 2, same_snapshot, &snap, err);
    if (rc == 0 && changed != NULL)
      *changed = 1;
  }
out:
  tarn_free(cols_text);
  json_decref(cols);
  tarn_free(nullable);
  tarn_table_close(t);
  return rc;
}

int tarn_datasets_resync_missing(const tarn_ingest_env *env, json_t **report, tarn_error *err) {
  tarn_catalog_names names;
  json_t *done = json_array(), *failed = json_array();
  size_t i;
  int rc;
  *report = NULL;
  tarn_catalog_names_init(&names);
  rc = done && failed ? tarn_datasets_list(env, &names, err)
                      : tarn_error_set(err, TARN_ENOMEM, "out of memory");
  for (i = 0; rc == 0 && i < names.count; i++) {
    tarn_table *t = NULL;
    tarn_error e;
    int missing, changed = 0;
    if (tarn_table_load(env->cat, env->io, TARN_DATASETS_NAMESPACE, names.items[i], &t, &e) != 0) {
      json_array_append_new(
          failed, json_pack("{s:s,s:s}", "name", names.items[i], "error", tarn_error_message(&e)));
      continue;
    }
    missing = tarn_ice_metadata_property(tarn_table_metadata(t), "tarn.columns") == NULL ||
              tarn_ice_metadata_property(tarn_table_metadata(t), "tarn.row-count") == NULL;
    tarn_table_close(t);
    if (!missing)
      continue;
    if (tarn_dataset_resync(env, names.items[i], &changed, &e) != 0)
      json_array_append_new(
          failed, json_pack("{s:s,s:s}", "name", names.items[i], "error", tarn_error_message(&e)));
    else
      json_array_append_new(done, json_string(names.items[i]));
  }
  tarn_catalog_names_free(&names);
  if (rc != 0) {
    json_decref(done);
    json_decref(failed);
    return rc;
  }
  *report = json_pack("{s:o,s:o}", "resynced", done, "failed", failed);
  if (*report == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  return 0;
}
