/* ice_produce.c - snapshot production: append and overwrite commits (data files into a
 * new manifest, manifest merge, summary totals) run through the commit engine. */
#include "table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/hash.h"
#include "base/log.h"
#include "base/uuid.h"
#include "catalog/catalog.h"
#include "ice_table_int.h"

/* ---- snapshot production (append, overwrite) ---- */

typedef struct produce_ctx {
  const tarn_ice_data_file *files;
  size_t nfiles;
  int overwrite;                   /* delete matching live files */
  int32_t spec_id;                 /* overwrite: spec of `partition` */
  const tarn_ice_value *partition; /* overwrite filter; NULL = everything */
  char **remove;                   /* rewrite: the data files it removes, sorted */
  size_t nremove, removed;         /* removed: of those, found live by this attempt */
  const tarn_ice_kv *summary;
  size_t nsummary;
  tarn_table_commit_check check; /* the caller's decision inside each attempt, or NULL */
  void *check_arg;
  int64_t snapshot_id;
  tarn_ice_manifest_file added; /* the manifest of `files`, written on the first attempt */
  int have_added;
  uri_list *cleanup;        /* per-attempt files (lists, rewritten manifests) */
  uri_list keep_on_success; /* files written once (added manifest) */
  int merged;
} produce_ctx;

static int partition_equal(const tarn_ice_schema *schema, const tarn_ice_spec *spec,
                           const tarn_ice_data_file *f, const tarn_ice_value *want) {
  size_t i;
  for (i = 0; i < spec->nfields; i++) {
    const tarn_ice_field *src = tarn_ice_schema_field(schema, spec->fields[i].source_id);
    tarn_ice_type rt;
    const tarn_ice_value *a = &f->partition[i], *b = &want[i];
    if (src == NULL ||
        tarn_ice_transform_result_type(&spec->fields[i].transform, &src->type, &rt, NULL) != 0)
      return 0;
    if (a->is_null || b->is_null) {
      if (a->is_null != b->is_null)
        return 0;
      continue;
    }
    if (tarn_ice_value_compare(&rt, a, b) != 0)
      return 0;
  }
  return 1;
}

static int make_uri(const tarn_ice_metadata *m, const char *fmt, int64_t a, int b, char **out,
                    tarn_error *err) {
  char uuid[TARN_UUID_STR_LEN];
  size_t n = strlen(m->location) + 160;
  int rc = tarn__table_new_uuid_str(uuid, err);
  if (rc != 0)
    return rc;
  *out = tarn_malloc(n);
  if (*out == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  if (strcmp(fmt, "list") == 0)
    snprintf(*out, n, "%s/metadata/snap-%lld-%d-%s.avro", m->location, (long long)a, b, uuid);
  else
    snprintf(*out, n, "%s/metadata/%s-m%d.avro", m->location, uuid, b);
  return 0;
}

/* Totals for the snapshot summary. */
typedef struct totals {
  int64_t records, files, size, deleted_records, deleted_files, removed_size;
  int64_t added_records, added_files, added_size;
} totals;

static int set_summary(tarn_ice_snapshot *s, const tarn_ice_metadata *base, const totals *tt,
                       const produce_ctx *c, tarn_error *err) {
  char v[32];
  int rc = 0;
  size_t i;
  const tarn_ice_snapshot *parent = tarn_ice_metadata_snapshot(base, base->current_snapshot_id);
  int64_t prev_size = -1;
  for (i = 0; parent != NULL && i < parent->nsummary; i++)
    if (strcmp(parent->summary[i].key, "total-files-size") == 0)
      prev_size = strtoll(parent->summary[i].value, NULL, 10);
  if (parent == NULL)
    prev_size = 0;
#define PUT(k, val)                                                                                \
  do {                                                                                             \
    snprintf(v, sizeof(v), "%lld", (long long)(val));                                              \
    if (rc == 0)                                                                                   \
      rc = tarn__table_kv_set(&s->summary, &s->nsummary, k, v, err);                               \
  } while (0)
  if (tt->added_files > 0) {
    PUT("added-data-files", tt->added_files);
    PUT("added-records", tt->added_records);
    PUT("added-files-size", tt->added_size);
  }
  if (tt->deleted_files > 0) {
    PUT("deleted-data-files", tt->deleted_files);
    PUT("deleted-records", tt->deleted_records);
    PUT("removed-files-size", tt->removed_size);
  }
  PUT("total-records", tt->records);
  if (prev_size >= 0)
    PUT("total-files-size", prev_size + tt->added_size - tt->removed_size);
  PUT("total-data-files", tt->files);
  PUT("total-delete-files", 0);
  PUT("total-position-deletes", 0);
  PUT("total-equality-deletes", 0);
#undef PUT
  for (i = 0; rc == 0 && i < c->nsummary; i++)
    rc = tarn__table_kv_set(&s->summary, &s->nsummary, c->summary[i].key, c->summary[i].value, err);
  return rc;
}

/* Reads the manifest list of the base's current snapshot (empty when none). */
static int base_manifests(tarn_table *t, const tarn_ice_metadata *base,
                          tarn_ice_manifest_file **mfs, size_t *n, tarn_error *err) {
  const tarn_ice_snapshot *cur = tarn_ice_metadata_snapshot(base, base->current_snapshot_id);
  *mfs = NULL;
  *n = 0;
  if (cur == NULL)
    return 0;
  return tarn_ice_manifest_list_read(&t->io, cur->manifest_list, mfs, n, err);
}

static int push_mf(tarn_ice_manifest_file **arr, size_t *n, size_t *cap,
                   const tarn_ice_manifest_file *m, tarn_error *err) {
  if (TARN_GROW(*arr, *cap, *n + 1, 16) != 0)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  return tarn_ice_manifest_file_copy(&(*arr)[(*n)++], m, err);
}

static int path_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Whether an overwrite or a rewrite removes this live file. */
static int removes(const produce_ctx *c, const tarn_ice_schema *schema, const tarn_ice_spec *spec,
                   const tarn_ice_manifest_file *mf, const tarn_ice_data_file *f) {
  if (c->nremove > 0) {
    const char *key = f->file_path;
    return bsearch(&key, c->remove, c->nremove, sizeof(*c->remove), path_cmp) != NULL;
  }
  return c->overwrite && (c->partition == NULL || (mf->partition_spec_id == c->spec_id &&
                                                   partition_equal(schema, spec, f, c->partition)));
}

/* Rewrites (for an overwrite) or merges manifests: reads each, keeps live entries as
 * EXISTING (or DELETED when the overwrite removes them), writes one manifest per input
 * (rewrite) or one for all (merge). */
static int rewrite_manifests(tarn_table *t, const tarn_ice_metadata *base, tarn_ice_metadata *next,
                             produce_ctx *c, const tarn_ice_manifest_file *in, size_t nin,
                             int merge, int64_t seq, tarn_ice_manifest_file **out, size_t *nout,
                             size_t *outcap, totals *tt, tarn_error *err) {
  const tarn_ice_schema *schema = tarn_ice_metadata_schema(next, next->current_schema_id);
  tarn_ice_manifest_entry *acc = NULL;
  size_t nacc = 0, capacc = 0, i, k;
  int rc = 0, idx = 0;
  const tarn_ice_spec *spec = NULL;
  int64_t min_seq = INT64_MAX;
  for (i = 0; i < nin && rc == 0; i++) {
    tarn_ice_manifest_entry *es = NULL;
    size_t ne = 0;
    int changed = 0;
    spec = tarn_ice_metadata_spec(base, in[i].partition_spec_id);
    if (spec == NULL) {
      rc = tarn_error_set(err, TARN_ECORRUPT, "manifest %s: unknown partition spec %d",
                          in[i].manifest_path, (int)in[i].partition_spec_id);
      break;
    }
    rc = tarn_ice_manifest_read(&t->io, &in[i], schema, spec, &es, &ne, err);
    if (rc != 0)
      break;
    for (k = 0; k < ne; k++) {
      tarn_ice_manifest_entry *e = &es[k];
      if (e->status == TARN_ICE_DELETED) { /* deletes of an older snapshot: drop */
        changed = 1;
        continue;
      }
      if (e->status == TARN_ICE_ADDED)
        changed = 1;
      e->status = TARN_ICE_EXISTING;
      if (removes(c, schema, spec, &in[i], &e->file)) {
        c->removed++;
        e->status = TARN_ICE_DELETED;
        e->snapshot_id = c->snapshot_id;
        tt->deleted_files++;
        tt->deleted_records += e->file.record_count;
        tt->removed_size += e->file.file_size;
        changed = 1;
      } else {
        tt->files++;
        tt->records += e->file.record_count;
      }
      if (e->sequence_number >= 0 && e->sequence_number < min_seq)
        min_seq = e->sequence_number;
    }
    if (!merge && !changed) { /* untouched: carry the manifest itself forward */
      tarn_ice_manifest_entries_free(es, ne);
      rc = push_mf(out, nout, outcap, &in[i], err);
      continue;
    }
    /* move entries (not DELETED-from-older-snapshots) into the accumulator */
    for (k = 0; k < ne && rc == 0; k++) {
      if (es[k].status == TARN_ICE_DELETED && es[k].snapshot_id != c->snapshot_id)
        continue;
      if (TARN_GROW(acc, capacc, nacc + 1, 64) != 0) {
        rc = tarn_error_set(err, TARN_ENOMEM, "out of memory rewriting manifests");
        break;
      }
      acc[nacc++] = es[k];
      memset(&es[k], 0, sizeof(es[k]));
    }
    tarn_ice_manifest_entries_free(es, ne);
    if (rc != 0)
      break;
    if (!merge) { /* one rewritten manifest per input */
      tarn_ice_manifest_file mf;
      char *uri = NULL;
      rc = make_uri(next, "manifest", 0, idx++, &uri, err);
      if (rc == 0)
        rc = tarn__table_uri_list_add(c->cleanup, uri, err);
      if (rc == 0 && nacc > 0)
        rc =
            tarn_ice_manifest_write(&t->io, uri, schema, spec, c->snapshot_id, acc, nacc, &mf, err);
      if (rc == 0 && nacc > 0) {
        mf.sequence_number = seq;
        mf.min_sequence_number = min_seq == INT64_MAX ? seq : min_seq;
        rc = push_mf(out, nout, outcap, &mf, err);
        tarn_ice_manifest_file_free(&mf);
      }
      tarn_free(uri);
      tarn_ice_manifest_entries_free(acc, nacc);
      acc = NULL;
      nacc = capacc = 0;
      min_seq = INT64_MAX;
    }
  }
  if (rc == 0 && merge && nacc > 0) {
    tarn_ice_manifest_file mf;
    char *uri = NULL;
    rc = make_uri(next, "manifest", 0, 900 + idx, &uri, err);
    if (rc == 0)
      rc = tarn__table_uri_list_add(c->cleanup, uri, err);
    if (rc == 0)
      rc = tarn_ice_manifest_write(&t->io, uri, schema, spec, c->snapshot_id, acc, nacc, &mf, err);
    if (rc == 0) {
      mf.sequence_number = seq;
      mf.min_sequence_number = min_seq == INT64_MAX ? seq : min_seq;
      rc = push_mf(out, nout, outcap, &mf, err);
      tarn_ice_manifest_file_free(&mf);
    }
    tarn_free(uri);
  }
  tarn_ice_manifest_entries_free(acc, nacc);
  return rc;
}

/* Step 1: the new files' manifest, written once and reused by every attempt. */
static int write_added_manifest(tarn_table *t, const tarn_ice_metadata *next,
                                const tarn_ice_schema *schema, const tarn_ice_spec *spec,
                                produce_ctx *c, tarn_error *err) {
  tarn_ice_manifest_entry *es;
  char *uri = NULL;
  size_t i;
  int rc;
  if (c->nfiles == 0 || c->have_added)
    return 0;
  es = tarn_calloc(c->nfiles, sizeof(*es));
  if (es == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  for (i = 0; i < c->nfiles; i++) {
    es[i].status = TARN_ICE_ADDED;
    es[i].snapshot_id = c->snapshot_id;
    es[i].sequence_number = -1; /* inherited from the manifest list */
    es[i].file_sequence_number = -1;
    es[i].file = c->files[i]; /* shallow: not freed here */
  }
  rc = make_uri(next, "manifest", 0, 0, &uri, err);
  if (rc == 0)
    rc = tarn_ice_manifest_write(&t->io, uri, schema, spec, c->snapshot_id, es, c->nfiles,
                                 &c->added, err);
  if (rc == 0) {
    c->have_added = 1;
    rc = tarn__table_uri_list_add(&c->keep_on_success, uri, err);
  }
  tarn_free(uri);
  tarn_free(es);
  return rc;
}

/* Carries a parent manifest with live files forward as it is. */
static int carry(tarn_ice_manifest_file **outm, size_t *nout, size_t *outcap,
                 const tarn_ice_manifest_file *m, totals *tt, tarn_error *err) {
  tt->files += m->added_files_count + m->existing_files_count;
  tt->records += m->added_rows_count + m->existing_rows_count;
  return push_mf(outm, nout, outcap, m, err);
}

/* Step 2 when merging: the default spec's manifests merged, others carried as they are. */
static int merge_manifests(tarn_table *t, const tarn_ice_metadata *base, tarn_ice_metadata *next,
                           produce_ctx *c, const tarn_ice_spec *spec,
                           const tarn_ice_manifest_file *in, size_t nin, size_t nspec_same,
                           int64_t seq, tarn_ice_manifest_file **outm, size_t *nout, size_t *outcap,
                           totals *tt, tarn_error *err) {
  tarn_ice_manifest_file *same = tarn_calloc(nspec_same ? nspec_same : 1, sizeof(*same));
  size_t ns = 0, i;
  int rc = 0;
  if (same == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  for (i = 0; rc == 0 && i < nin; i++) {
    if (in[i].partition_spec_id == spec->spec_id)
      same[ns++] = in[i]; /* shallow */
    else if (in[i].added_files_count + in[i].existing_files_count > 0)
      rc = carry(outm, nout, outcap, &in[i], tt, err);
  }
  if (rc == 0)
    rc = rewrite_manifests(t, base, next, c, same, ns, 1, seq, outm, nout, outcap, tt, err);
  c->merged = (int)ns;
  tarn_free(same);
  return rc;
}

/* Step 2: the parent's manifests carried forward, rewritten (overwrite) or merged, then
 * the new files' manifest first: readers planning scans see the freshest data first. */
static int next_manifests(tarn_table *t, const tarn_ice_metadata *base, tarn_ice_metadata *next,
                          produce_ctx *c, const tarn_ice_spec *spec, int64_t seq, int64_t merge_min,
                          tarn_ice_manifest_file **outm, size_t *nout, totals *tt,
                          tarn_error *err) {
  const char *merge_on = tarn_ice_metadata_property(base, "commit.manifest-merge.enabled");
  tarn_ice_manifest_file *in = NULL;
  size_t nin = 0, outcap = 0, i, nspec_same = 0;
  int rc = base_manifests(t, base, &in, &nin, err);
  if (rc != 0)
    return rc;
  for (i = 0; i < nin; i++)
    nspec_same += in[i].partition_spec_id == spec->spec_id;
  c->merged = 0;
  c->removed = 0;
  if (c->overwrite || c->nremove > 0) {
    rc = rewrite_manifests(t, base, next, c, in, nin, 0, seq, outm, nout, &outcap, tt, err);
  } else if ((merge_on == NULL || strcmp(merge_on, "false") != 0) && merge_min > 0 &&
             nspec_same + 1 >= (size_t)merge_min) {
    rc = merge_manifests(t, base, next, c, spec, in, nin, nspec_same, seq, outm, nout, &outcap, tt,
                         err);
  } else {
    for (i = 0; rc == 0 && i < nin; i++) {
      if (in[i].added_files_count + in[i].existing_files_count == 0)
        continue; /* only deletes of an older snapshot: nothing live to carry */
      rc = carry(outm, nout, &outcap, &in[i], tt, err);
    }
  }
  if (rc == 0 && c->have_added) {
    c->added.sequence_number = seq;
    c->added.min_sequence_number = seq;
    rc = push_mf(outm, nout, &outcap, &c->added, err);
    if (rc == 0 && *nout > 1) {
      tarn_ice_manifest_file last = (*outm)[*nout - 1];
      memmove(*outm + 1, *outm, (*nout - 1) * sizeof(**outm));
      (*outm)[0] = last;
    }
  }
  tarn_ice_manifest_files_free(in, nin);
  return rc;
}

/* Step 4: the snapshot, its log entry and the main branch in next. */
static int add_snapshot(const tarn_ice_metadata *base, tarn_ice_metadata *next,
                        const produce_ctx *c, int64_t seq, const char *list_uri, const totals *tt,
                        tarn_error *err) {
  tarn_ice_snapshot *snaps, *s;
  tarn_ice_snapshot_log *slog;
  tarn_ice_ref *refs;
  size_t i;
  int rc;
  snaps = tarn_reallocarray(next->snapshots, next->nsnapshots + 1, sizeof(*snaps));
  if (snaps == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  next->snapshots = snaps;
  s = &snaps[next->nsnapshots++];
  memset(s, 0, sizeof(*s));
  s->snapshot_id = c->snapshot_id;
  s->parent_id = base->current_snapshot_id;
  s->sequence_number = seq;
  s->timestamp_ms = tarn_clock_wall_us() / 1000;
  if (s->timestamp_ms <= base->last_updated_ms)
    s->timestamp_ms = base->last_updated_ms + 1;
  s->schema_id = next->current_schema_id;
  s->manifest_list = tarn_strdup(list_uri);
  s->operation = tarn_strdup(c->nremove > 0           ? "replace"
                             : tt->deleted_files == 0 ? "append"
                             : tt->added_files > 0    ? "overwrite"
                                                      : "delete");
  if (s->manifest_list == NULL || s->operation == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  rc = set_summary(s, base, tt, c, err);
  if (rc != 0)
    return rc;
  next->current_snapshot_id = c->snapshot_id;
  next->last_sequence_number = seq;
  slog = tarn_reallocarray(next->snapshot_log, next->nsnapshot_log + 1, sizeof(*slog));
  if (slog == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  next->snapshot_log = slog;
  slog[next->nsnapshot_log].snapshot_id = c->snapshot_id;
  slog[next->nsnapshot_log].timestamp_ms = s->timestamp_ms;
  next->nsnapshot_log++;
  for (i = 0; i < next->nrefs; i++)
    if (strcmp(next->refs[i].name, "main") == 0)
      break;
  if (i == next->nrefs) {
    refs = tarn_reallocarray(next->refs, next->nrefs + 1, sizeof(*refs));
    if (refs == NULL)
      return tarn_error_set(err, TARN_ENOMEM, "out of memory");
    next->refs = refs;
    memset(&refs[i], 0, sizeof(refs[i]));
    refs[i].name = tarn_strdup("main");
    if (refs[i].name == NULL)
      return tarn_error_set(err, TARN_ENOMEM, "out of memory");
    next->nrefs++;
  }
  next->refs[i].snapshot_id = c->snapshot_id;
  next->refs[i].is_tag = 0;
  return 0;
}

static int apply_produce(tarn_table *t, const tarn_ice_metadata *base, tarn_ice_metadata *next,
                         int attempt, void *ctx, tarn_error *err) {
  produce_ctx *c = ctx;
  const tarn_ice_schema *schema = tarn_ice_metadata_schema(next, next->current_schema_id);
  const tarn_ice_spec *spec = tarn_ice_metadata_spec(next, next->default_spec_id);
  tarn_ice_manifest_file *outm = NULL;
  size_t nout = 0, i;
  int64_t seq = base->last_sequence_number + 1, merge_min;
  totals tt;
  char *list_uri = NULL;
  int rc = 0;
  memset(&tt, 0, sizeof(tt));
  if (schema == NULL || spec == NULL)
    return tarn_error_set(err, TARN_ECORRUPT, "table %s.%s: current schema or spec missing", t->ns,
                          t->name);
  /* 0. what an earlier attempt wrote lost with it: nothing references it */
  if (attempt > 0) {
    tarn__table_uri_list_delete_all(c->cleanup, &t->io);
    tarn__table_uri_list_free(c->cleanup);
  }
  rc = tarn_ice_property_int(base, "commit.manifest.min-count-to-merge", 100, 0, INT32_MAX,
                             &merge_min, err);
  if (rc != 0)
    return rc;
  /* The caller's check sees the state this attempt replaces, before anything is written. */
  if (c->check != NULL && (rc = c->check(c->check_arg, base, next, err)) != 0)
    return rc;
  rc = write_added_manifest(t, next, schema, spec, c, err);
  if (rc != 0)
    return rc;
  for (i = 0; i < c->nfiles; i++) {
    tt.added_files++;
    tt.added_records += c->files[i].record_count;
    tt.added_size += c->files[i].file_size;
  }
  tt.files = tt.added_files;
  tt.records = tt.added_records;
  rc = next_manifests(t, base, next, c, spec, seq, merge_min, &outm, &nout, &tt, err);
  if (rc == 0 && c->nremove > 0 && c->removed != c->nremove) /* all of them, or nothing */
    rc = tarn_error_set(err, TARN_ECONFLICT,
                        "table %s.%s: %zu of the %zu data files this rewrite replaces are no "
                        "longer live (another rewrite or overwrite removed them)",
                        t->ns, t->name, c->nremove - c->removed, c->nremove);
  /* 3. the manifest list of this attempt */
  if (rc == 0)
    rc = make_uri(next, "list", c->snapshot_id, attempt + 1, &list_uri, err);
  if (rc == 0)
    rc = tarn__table_uri_list_add(c->cleanup, list_uri, err);
  if (rc == 0)
    rc = tarn_ice_manifest_list_write(&t->io, list_uri, c->snapshot_id, base->current_snapshot_id,
                                      seq, outm, nout, err);
  /* 4. the snapshot and the metadata that points at it */
  if (rc == 0)
    rc = add_snapshot(base, next, c, seq, list_uri, &tt, err);
  tarn_free(list_uri);
  tarn_ice_manifest_files_free(outm, nout);
  return rc;
}

static int produce(tarn_table *t, produce_ctx *c, tarn_table_commit_result *res, tarn_error *err) {
  uri_list cleanup = {0};
  size_t i;
  int rc;
  for (i = 0; i < c->nfiles; i++)
    if (c->files[i].npartition != (tarn_table_spec(t) ? tarn_table_spec(t)->nfields : 0))
      return tarn_error_set(err, TARN_EINVAL,
                            "data file %s has %zu partition values; the "
                            "table's spec has %zu fields",
                            c->files[i].file_path, c->files[i].npartition,
                            tarn_table_spec(t)->nfields);
  c->cleanup = &cleanup;
  rc = tarn__table_new_snapshot_id(&c->snapshot_id, err);
  if (rc == 0)
    rc = tarn__table_commit(t, apply_produce, c, res, err);
  if (rc == 0) {
    /* cleanup now holds only the winning attempt's files: they are referenced */
    if (res != NULL) {
      res->manifests_merged = c->merged;
      res->committed = 1;
    }
  } else if (rc == TARN_EALREADY) {
    /* The check found the work done: what this call wrote is referenced by nothing. */
    tarn__table_uri_list_delete_all(&cleanup, &t->io);
    tarn__table_uri_list_delete_all(&c->keep_on_success, &t->io);
    if (res != NULL) {
      memset(res, 0, sizeof(*res));
      res->snapshot_id = t->md.current_snapshot_id;
      res->sequence_number = t->md.last_sequence_number;
    }
    rc = 0;
  } else if (rc != TARN_EUNKNOWN_OUTCOME) {
    tarn__table_uri_list_delete_all(&cleanup, &t->io);
    tarn__table_uri_list_delete_all(&c->keep_on_success, &t->io);
  }
  tarn__table_uri_list_free(&cleanup);
  tarn__table_uri_list_free(&c->keep_on_success);
  tarn_ice_manifest_file_free(&c->added);
  return rc;
}

/* A commit of files, removing the live ones `remove` names (sorted, nremove > 0), or
 * with `overwrite` those of `partition` (spec spec_id; NULL: all), or none. */
static int commit(tarn_table *t, char **remove, size_t nremove, int overwrite, int32_t spec_id,
                  const tarn_ice_value *partition, const tarn_ice_data_file *files, size_t n,
                  const tarn_ice_kv *summary, size_t nsummary, tarn_table_commit_check check,
                  void *check_arg, tarn_table_commit_result *res, tarn_error *err) {
  produce_ctx c;
  memset(&c, 0, sizeof(c));
  c.remove = remove;
  c.nremove = nremove;
  c.files = files;
  c.nfiles = n;
  c.overwrite = overwrite;
  c.spec_id = spec_id;
  c.partition = partition;
  c.summary = summary;
  c.nsummary = nsummary;
  c.check = check;
  c.check_arg = check_arg;
  return produce(t, &c, res, err);
}

int tarn_table_commit_files(tarn_table *t, int overwrite, int32_t spec_id,
                            const tarn_ice_value *partition, const tarn_ice_data_file *files,
                            size_t n, const tarn_ice_kv *summary, size_t nsummary,
                            tarn_table_commit_check check, void *check_arg,
                            tarn_table_commit_result *res, tarn_error *err) {
  return commit(t, NULL, 0, overwrite, spec_id, partition, files, n, summary, nsummary, check,
                check_arg, res, err);
}

int tarn_table_rewrite_files(tarn_table *t, const char *const *remove, size_t nremove,
                             const tarn_ice_data_file *files, size_t n, const tarn_ice_kv *summary,
                             size_t nsummary, tarn_table_commit_check check, void *check_arg,
                             tarn_table_commit_result *res, tarn_error *err) {
  char **sorted;
  size_t i;
  int rc = 0;
  if (nremove == 0)
    return tarn_error_set(err, TARN_EINVAL, "a rewrite removes at least one data file");
  sorted = tarn_calloc(nremove, sizeof(*sorted));
  if (sorted == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  memcpy(sorted, remove, nremove * sizeof(*remove));
  qsort(sorted, nremove, sizeof(*sorted), path_cmp);
  for (i = 1; rc == 0 && i < nremove; i++)
    if (strcmp(sorted[i - 1], sorted[i]) == 0)
      rc = tarn_error_set(err, TARN_EINVAL, "a rewrite names data file %s twice", sorted[i]);
  if (rc == 0)
    rc = commit(t, sorted, nremove, 0, 0, NULL, files, n, summary, nsummary, check, check_arg, res,
                err);
  tarn_free(sorted);
  return rc;
}

int tarn_table_append(tarn_table *t, const tarn_ice_data_file *files, size_t n,
                      const tarn_ice_kv *summary, size_t nsummary, tarn_table_commit_result *res,
                      tarn_error *err) {
  return tarn_table_commit_files(t, 0, 0, NULL, files, n, summary, nsummary, NULL, 0, res, err);
}

int tarn_table_overwrite(tarn_table *t, int32_t spec_id, const tarn_ice_value *partition,
                         const tarn_ice_data_file *files, size_t n, const tarn_ice_kv *summary,
                         size_t nsummary, tarn_table_commit_result *res, tarn_error *err) {
  return tarn_table_commit_files(t, 1, spec_id, partition, files, n, summary, nsummary, NULL, 0,
                                 res, err);
}
