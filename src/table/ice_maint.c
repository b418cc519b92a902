/* ice_maint.c - table maintenance: snapshot expiry and orphan-file removal. */
#include "table.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "table_int.h"

/* A set of URIs: an array sorted once filled. */
typedef struct uri_set {
  char **items;
  size_t n, cap;
} uri_set;

static int set_add(uri_set *s, const char *uri, tarn_error *err) {
  if (TARN_GROW(s->items, s->cap, s->n + 1, 256) != 0)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  s->items[s->n] = tarn_strdup(uri);
  if (s->items[s->n] == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  s->n++;
  return 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void set_seal(uri_set *s) {
  if (s->n > 1)
    qsort(s->items, s->n, sizeof(*s->items), cmp_str);
}

static int set_has(const uri_set *s, const char *uri) {
  return s->n > 0 && bsearch(&uri, s->items, s->n, sizeof(*s->items), cmp_str) != NULL;
}

static void set_free(uri_set *s) {
  size_t i;
  for (i = 0; i < s->n; i++)
    tarn_free(s->items[i]);
  tarn_free(s->items);
  memset(s, 0, sizeof(*s));
}

/*
 * Adds every file the given snapshots reach: manifest lists, manifests and data files.
 * live_only: data files of ADDED and EXISTING entries only (what the snapshots read: a
 * DELETED entry names a file only their parents read, as Iceberg's expiry counts);
 * otherwise entries of any status.
 */
static int collect(const tarn_table_io *io, const tarn_ice_metadata *m,
                   const tarn_ice_snapshot *const *snaps, size_t nsnaps, int live_only,
                   uri_set *lists, uri_set *manifests, uri_set *data, tarn_error *err) {
  const tarn_ice_schema *schema = tarn_ice_metadata_schema(m, m->current_schema_id);
  size_t i, j, k;
  int rc = 0;
  uri_set seen_manifests = {0};
  for (i = 0; i < nsnaps && rc == 0; i++) {
    tarn_ice_manifest_file *mfs = NULL;
    size_t nmfs = 0;
    rc = set_add(lists, snaps[i]->manifest_list, err);
    if (rc == 0)
      rc = tarn_ice_manifest_list_read(io, snaps[i]->manifest_list, &mfs, &nmfs, err);
    for (j = 0; rc == 0 && j < nmfs; j++) {
      const tarn_ice_spec *spec = tarn_ice_metadata_spec(m, mfs[j].partition_spec_id);
      tarn_ice_manifest_entry *es = NULL;
      size_t ne = 0;
      set_seal(&seen_manifests);
      if (set_has(&seen_manifests, mfs[j].manifest_path))
        continue; /* shared by several snapshots: read once */
      rc = set_add(&seen_manifests, mfs[j].manifest_path, err);
      if (rc == 0)
        rc = set_add(manifests, mfs[j].manifest_path, err);
      if (rc == 0 && spec == NULL)
        rc = tarn_error_set(err, TARN_ECORRUPT, "manifest %s: unknown spec %d",
                            mfs[j].manifest_path, (int)mfs[j].partition_spec_id);
      if (rc == 0)
        rc = tarn_ice_manifest_read(io, &mfs[j], schema, spec, &es, &ne, err);
      for (k = 0; rc == 0 && k < ne; k++)
        if (!live_only || es[k].status != TARN_ICE_DELETED)
          rc = set_add(data, es[k].file.file_path, err);
      tarn_ice_manifest_entries_free(es, ne);
    }
    tarn_ice_manifest_files_free(mfs, nmfs);
  }
  set_free(&seen_manifests);
  set_seal(lists);
  set_seal(manifests);
  set_seal(data);
  return rc;
}

static int cmp_snap_time(const void *a, const void *b) {
  const tarn_ice_snapshot *x = *(const tarn_ice_snapshot *const *)a;
  const tarn_ice_snapshot *y = *(const tarn_ice_snapshot *const *)b;
  return x->timestamp_ms < y->timestamp_ms ? 1 : x->timestamp_ms > y->timestamp_ms ? -1 : 0;
}

int tarn_table_expire_snapshots(tarn_table *t, int64_t older_than_ms, int keep_last,
                                tarn_table_expire_result *res, tarn_error *err) {
  const tarn_ice_metadata *m = tarn_table_metadata(t);
  const tarn_table_io *io = tarn_table_io_of(t);
  const tarn_ice_snapshot **by_time = NULL, **keep = NULL, **gone = NULL;
  size_t nkeep = 0, ngone = 0, i, j;
  uri_set klists = {0}, kmans = {0}, kdata = {0}, glists = {0}, gmans = {0}, gdata = {0};
  int64_t *gone_ids = NULL;
  int rc = 0;
  tarn_table_expire_result r;
  memset(&r, 0, sizeof(r));
  if (keep_last < 1)
    keep_last = 1;
  if (m->nsnapshots == 0)
    goto out;
  by_time = tarn_calloc(m->nsnapshots, sizeof(*by_time));
  keep = tarn_calloc(m->nsnapshots, sizeof(*keep));
  gone = tarn_calloc(m->nsnapshots, sizeof(*gone));
  gone_ids = tarn_calloc(m->nsnapshots, sizeof(*gone_ids));
  if (by_time == NULL || keep == NULL || gone == NULL || gone_ids == NULL) {
    rc = tarn_error_set(err, TARN_ENOMEM, "out of memory expiring snapshots");
    goto out;
  }
  for (i = 0; i < m->nsnapshots; i++)
    by_time[i] = &m->snapshots[i];
  qsort(by_time, m->nsnapshots, sizeof(*by_time), cmp_snap_time);
  for (i = 0; i < m->nsnapshots; i++) {
    const tarn_ice_snapshot *s = by_time[i];
    int retain = (int)i < keep_last || s->timestamp_ms >= older_than_ms ||
                 s->snapshot_id == m->current_snapshot_id;
    for (j = 0; j < m->nrefs; j++)
      retain |= m->refs[j].snapshot_id == s->snapshot_id;
    if (retain)
      keep[nkeep++] = s;
    else
      gone[ngone++] = s;
  }
  if (ngone == 0)
    goto out;
  /* files reachable from what stays, and from what goes */
  rc = collect(io, m, keep, nkeep, 1, &klists, &kmans, &kdata, err);
  if (rc == 0)
    rc = collect(io, m, gone, ngone, 0, &glists, &gmans, &gdata, err);
  if (rc != 0)
    goto out;
  for (i = 0; i < ngone; i++)
    gone_ids[i] = gone[i]->snapshot_id;
  /* the metadata change first: files are deleted only once nothing can reach them */
  rc = tarn__table_drop_snapshots(t, gone_ids, ngone, err);
  if (rc != 0)
    goto out;
  r.snapshots_expired = ngone;
  for (i = 0; i < glists.n; i++)
    if (!set_has(&klists, glists.items[i]))
      r.files_deleted += (size_t)tarn__table_delete_uri(io, glists.items[i], "expired file");
  for (i = 0; i < gmans.n; i++)
    if (!set_has(&kmans, gmans.items[i]))
      r.files_deleted += (size_t)tarn__table_delete_uri(io, gmans.items[i], "expired file");
  for (i = 0; i < gdata.n; i++)
    if (!set_has(&kdata, gdata.items[i]))
      r.files_deleted += (size_t)tarn__table_delete_uri(io, gdata.items[i], "expired file");
  tarn_log_info("snapshots expired", "location=%s expired=%zu files_deleted=%zu",
                tarn_table_metadata(t)->location, r.snapshots_expired, r.files_deleted);
out:
  tarn_free(by_time);
  tarn_free(keep);
  tarn_free(gone);
  tarn_free(gone_ids);
  set_free(&klists);
  set_free(&kmans);
  set_free(&kdata);
  set_free(&glists);
  set_free(&gmans);
  set_free(&gdata);
  if (rc == 0 && res != NULL)
    *res = r;
  return rc;
}

/* Is key (relative to the table location) one tarn keeps outside the metadata graph? */
static int convention_file(const char *rel) {
  const char *base = strrchr(rel, '/');
  base = base ? base + 1 : rel;
  if (strcmp(base, "version-hint.text") == 0)
    return 1;
  if (base[0] == 'v' && base[1] >= '0' && base[1] <= '9' && strstr(base, ".metadata.json"))
    return 1; /* v<N>.metadata.json copies for path-based readers */
  return 0;
}

int tarn_table_remove_orphans(tarn_table *t, int64_t older_than_ms, int dry_run,
                              void (*each)(const char *key, uint64_t size, void *arg), void *arg,
                              size_t *removed, tarn_error *err) {
  const tarn_ice_metadata *m = tarn_table_metadata(t);
  const tarn_table_io *io = tarn_table_io_of(t);
  const tarn_ice_snapshot **all = NULL;
  uri_set lists = {0}, mans = {0}, data = {0}, meta = {0};
  tarn_store_listing page;
  char prefix[TARN_STORE_KEY_MAX + 1], *after = NULL;
  size_t i, count = 0, temps = 0, plen, rootlen = strlen(io->root_uri);
  int rc;
  tarn_store_list_init(&page);
  if (removed != NULL)
    *removed = 0;
  rc = tarn_table_io_key(io, m->location, prefix, sizeof(prefix) - 2, err);
  if (rc != 0)
    return rc;
  plen = strlen(prefix); /* room for the '/' was kept */
  prefix[plen++] = '/';
  prefix[plen] = '\0';
  all = tarn_calloc(m->nsnapshots ? m->nsnapshots : 1, sizeof(*all));
  if (all == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  for (i = 0; i < m->nsnapshots; i++)
    all[i] = &m->snapshots[i];
  rc = collect(io, m, all, m->nsnapshots, 0, &lists, &mans, &data, err);
  if (rc == 0)
    rc = set_add(&meta, tarn_table_metadata_location(t), err);
  for (i = 0; rc == 0 && i < m->nmetadata_log; i++)
    rc = set_add(&meta, m->metadata_log[i].metadata_file, err);
  set_seal(&meta);
  while (rc == 0) {
    size_t k;
    rc = tarn_store_list(io->store, prefix, after, 1000, &page, err);
    if (rc != 0)
      break;
    for (k = 0; k < page.count; k++) {
      const tarn_store_entry *e = &page.entries[k];
      char *uri;
      int referenced;
      if (convention_file(e->key + plen))
        continue;
      uri = tarn_malloc(rootlen + strlen(e->key) + 1);
      if (uri == NULL) {
        rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
        break;
      }
      memcpy(uri, io->root_uri, rootlen);
      memcpy(uri + rootlen, e->key, strlen(e->key) + 1);
      referenced =
          set_has(&lists, uri) || set_has(&mans, uri) || set_has(&data, uri) || set_has(&meta, uri);
      tarn_free(uri);
      if (referenced || e->mtime_us / 1000 >= older_than_ms)
        continue;
      if (each != NULL)
        each(e->key, e->size, arg);
      if (!dry_run) {
        tarn_error derr;
        if (tarn_store_delete(io->store, e->key, &derr) != 0 && derr.code != TARN_ENOTFOUND) {
          tarn_log_warn("cannot delete orphan", "key=%s error=%s", e->key,
                        tarn_error_message(&derr));
          continue;
        }
      }
      count++;
    }
    if (rc != 0 || !page.truncated)
      break;
    tarn_free(after);
    after = tarn_strdup(page.next_after);
    if (after == NULL)
      rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
  }
  /* Temp files of puts that never finished (a writer killed mid-write) are orphans too;
   * the same grace period keeps a live writer's. */
  if (rc == 0)
    rc = tarn_store_sweep(io->store, prefix, older_than_ms, dry_run, each, arg, &temps, err);
  tarn_free(after);
  tarn_store_list_free(&page);
  tarn_free(all);
  set_free(&lists);
  set_free(&mans);
  set_free(&data);
  set_free(&meta);
  if (rc == 0 && removed != NULL)
    *removed = count + temps;
  if (rc == 0)
    tarn_log_info("orphan files", "location=%s count=%zu temp_files=%zu dry_run=%s", m->location,
                  count + temps, temps, dry_run ? "true" : "false");
  return rc;
}
