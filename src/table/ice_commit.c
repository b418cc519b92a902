/* ice_commit.c - the commit engine: an apply function run under the catalog's
 * compare-and-swap with retry and backoff; an unknown outcome resolved by reading the
 * catalog back; files written by a failed attempt deleted only when unreferenced. */
#include "table.h"

#include <assert.h>
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

/* ---- the commit engine ---- */

int tarn__table_uri_list_add(uri_list *l, const char *uri, tarn_error *err) {
  if (TARN_GROW(l->items, l->cap, l->n + 1, 8) != 0)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  l->items[l->n] = tarn_strdup(uri);
  if (l->items[l->n] == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  l->n++;
  return 0;
}

void tarn__table_uri_list_delete_all(uri_list *l, const tarn_table_io *io) {
  size_t i;
  for (i = 0; i < l->n; i++)
    tarn__table_delete_uri(io, l->items[i], "unreferenced file");
}

void tarn__table_uri_list_free(uri_list *l) {
  size_t i;
  for (i = 0; i < l->n; i++)
    tarn_free(l->items[i]);
  tarn_free(l->items);
  memset(l, 0, sizeof(*l));
}

/* Records the previous metadata file in the metadata log, trimmed to
 * write.metadata.previous-versions-max (default 100). */
static int push_metadata_log(tarn_ice_metadata *next, const char *prev_uri, int64_t prev_ms,
                             tarn_error *err) {
  int64_t max;
  tarn_ice_metadata_log *nl;
  int rc = tarn_ice_property_int(next, "write.metadata.previous-versions-max", 100, 1, INT32_MAX,
                                 &max, err);
  if (rc != 0 || prev_uri == NULL)
    return rc;
  nl = tarn_reallocarray(next->metadata_log, next->nmetadata_log + 1, sizeof(*nl));
  if (nl == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  next->metadata_log = nl;
  nl[next->nmetadata_log].metadata_file = tarn_strdup(prev_uri);
  if (nl[next->nmetadata_log].metadata_file == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  nl[next->nmetadata_log].timestamp_ms = prev_ms;
  next->nmetadata_log++;
  while (max >= 1 && next->nmetadata_log > (size_t)max) {
    tarn_free(next->metadata_log[0].metadata_file);
    memmove(next->metadata_log, next->metadata_log + 1,
            (next->nmetadata_log - 1) * sizeof(*next->metadata_log));
    next->nmetadata_log--;
  }
  return 0;
}

/* commit.retry.* of the table, each checked (a typo is an error, not a default). */
typedef struct retry_policy {
  int64_t retries, min_ms, max_ms;
} retry_policy;

static int retry_policy_read(const tarn_ice_metadata *m, retry_policy *p, tarn_error *err) {
  int rc = tarn_ice_property_int(m, "commit.retry.num-retries", 4, 0, 1000, &p->retries, err);
  if (rc == 0)
    rc = tarn_ice_property_int(m, "commit.retry.min-wait-ms", 100, 0, 3600000, &p->min_ms, err);
  if (rc == 0)
    rc = tarn_ice_property_int(m, "commit.retry.max-wait-ms", 60000, 0, 3600000, &p->max_ms, err);
  return rc;
}

static uint64_t backoff_ms(const retry_policy *p, int attempt) {
  uint64_t lo = (uint64_t)p->min_ms, hi = (uint64_t)p->max_ms;
  uint64_t cap = lo << (attempt < 20 ? attempt : 20), r = 0;
  if (cap > hi)
    cap = hi;
  tarn_random_bytes(&r, sizeof(r), NULL);
  return lo / 2 + (cap > 0 ? r % cap : 0); /* jitter spreads racing writers apart */
}

/*
 * After a lost acknowledgement: 1 when the catalog shows our commit happened (current
 * location, or recorded in the current metadata's log because others committed on top),
 * 0 when it did not, -1 when the catalog cannot tell us now.
 */
static int resolve_unknown(tarn_table *t, const char *uri) {
  tarn_catalog_table ct;
  tarn_ice_metadata md;
  tarn_error err;
  int r = -1;
  size_t i;
  tarn_catalog_table_init(&ct);
  if (tarn_catalog_load_table(t->cat, t->ns, t->name, &ct, &err) != 0)
    goto out;
  if (strcmp(ct.metadata_location, uri) == 0 ||
      (ct.previous_metadata_location != NULL && strcmp(ct.previous_metadata_location, uri) == 0)) {
    r = 1;
    goto out;
  }
  if (tarn__table_read_metadata(&t->io, ct.metadata_location, &md, &err) != 0)
    goto out;
  r = 0;
  for (i = 0; i < md.nmetadata_log; i++)
    if (strcmp(md.metadata_log[i].metadata_file, uri) == 0)
      r = 1;
  tarn_ice_metadata_free(&md);
out:
  tarn_catalog_table_free(&ct);
  return r;
}

static void fill_result(const tarn_table *t, int attempt, tarn_table_commit_result *res) {
  if (res != NULL) {
    res->attempts = attempt + 1;
    res->snapshot_id = t->md.current_snapshot_id;
    res->sequence_number = t->md.last_sequence_number;
  }
}

/* One attempt's new metadata: `next` built by apply on a copy of the current metadata,
 * its log entry and timestamp, written as the next metadata file *uri (recorded in
 * written). On failure next is freed. */
static int attempt_write(tarn_table *t, apply_fn apply, void *ctx, int attempt,
                         tarn_ice_metadata *next, char uuid[TARN_UUID_STR_LEN], char **uri,
                         tarn_buf *json, uri_list *written, tarn_error *err) {
  long version;
  size_t cap;
  int rc = tarn__table_metadata_clone(&t->md, next, err);
  if (rc != 0)
    return rc;
  rc = apply(t, &t->md, next, attempt, ctx, err);
  if (rc != 0)
    goto out;
  /* an apply function builds on its base: sequence numbers and ids never go back, or
   * readers would take new files for old ones */
  assert(next->last_sequence_number >= t->md.last_sequence_number);
  assert(next->last_column_id >= t->md.last_column_id);
  next->last_updated_ms = tarn_clock_wall_us() / 1000;
  if (next->last_updated_ms <= t->md.last_updated_ms)
    next->last_updated_ms = t->md.last_updated_ms + 1;
  rc = push_metadata_log(next, t->metadata_location, t->md.last_updated_ms, err);
  if (rc == 0)
    rc = tarn__table_new_uuid_str(uuid, err);
  if (rc != 0)
    goto out;
  version = tarn__table_metadata_version(t->metadata_location) + 1;
  if (version < 2)
    version = (long)next->nmetadata_log + 1;
  tarn_free(*uri);
  cap = strlen(next->location) + 96;
  *uri = tarn_malloc(cap);
  if (*uri == NULL) {
    rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
    goto out;
  }
  snprintf(*uri, cap, "%s/metadata/%05ld-%s.metadata.json", next->location, version, uuid);
  rc = tarn__table_write_metadata(&t->io, *uri, next, json, err);
  if (rc == 0)
    rc = tarn__table_uri_list_add(written, *uri, err);
out:
  if (rc != 0)
    tarn_ice_metadata_free(next);
  return rc;
}

int tarn__table_commit(tarn_table *t, apply_fn apply, void *ctx, tarn_table_commit_result *res,
                       tarn_error *err) {
  uri_list written = {0}; /* this attempt's files; deleted at out: when the commit failed */
  tarn_ice_metadata next;
  char uuid[TARN_UUID_STR_LEN], *uri = NULL;
  tarn_buf json; /* this attempt's metadata JSON, reused for the version hint */
  int attempt, rc = 0, retries;
  retry_policy policy;
  memset(&next, 0, sizeof(next));
  tarn_buf_init(&json, METADATA_MAX_BYTES);
  rc = retry_policy_read(&t->md, &policy, err);
  if (rc != 0 && apply == tarn__table_apply_props) {
    /* setting properties must stay possible, or a malformed retry property could never
     * be fixed: this commit runs on the defaults */
    tarn_log_warn("table property ignored for this commit", "table=%s.%s error=%s", t->ns, t->name,
                  tarn_error_message(err));
    policy.retries = 4;
    policy.min_ms = 100;
    policy.max_ms = 60000;
    rc = 0;
  }
  if (rc != 0)
    goto out;
  retries = (int)policy.retries;
  for (attempt = 0; attempt <= retries; attempt++) {
    if (attempt > 0) {
      tarn_sleep_ms(backoff_ms(&policy, attempt));
      rc = tarn_table_refresh(t, err);
      if (rc != 0)
        goto out;
    }
    rc = attempt_write(t, apply, ctx, attempt, &next, uuid, &uri, &json, &written, err);
    if (rc != 0)
      goto out;
    rc = tarn_catalog_commit(t->cat, t->ns, t->name, t->metadata_location, uri, err);
    if (rc == TARN_EUNKNOWN_OUTCOME) {
      int r = resolve_unknown(t, uri);
      if (r != 0) {
        /* it happened (1), or it is still unknown (-1): every file this call wrote may be
         * referenced, so none is deleted */
        tarn__table_uri_list_free(&written);
        if (r == 1) {
          /* it happened, and maybe others committed on top since */
          tarn_error lerr;
          if (tarn_table_refresh(t, &lerr) != 0)
            tarn_log_warn("reload after an unknown commit outcome failed", "table=%s.%s error=%s",
                          t->ns, t->name, tarn_error_message(&lerr));
          rc = 0;
          fill_result(t, attempt, res);
        }
        goto out;
      }
      rc = TARN_ECONFLICT; /* it did not happen: an ordinary lost race */
    }
    if (rc == 0) {
      tarn_ice_metadata_free(&t->md);
      t->md = next;
      memset(&next, 0, sizeof(next));
      tarn_free(t->metadata_location);
      t->metadata_location = uri;
      uri = NULL;
      tarn__table_write_version_hint(t, t->metadata_location, &t->md, &json);
      tarn__table_uri_list_free(&written);
      fill_result(t, attempt, res);
      goto out;
    }
    tarn_ice_metadata_free(&next);
    if (rc != TARN_ECONFLICT)
      goto out;
    /* The swap failed: this attempt's metadata file is referenced by nothing. */
    tarn__table_uri_list_delete_all(&written, &t->io);
    tarn__table_uri_list_free(&written);
    tarn_log_info("commit conflict, retrying", "table=%s.%s attempt=%d", t->ns, t->name,
                  attempt + 1);
  }
  if (rc == TARN_ECONFLICT)
    tarn_error_set(err, TARN_ECONFLICT,
                   "table %s.%s: commit lost the race %d times; giving up "
                   "(table property commit.retry.num-retries = %d)",
                   t->ns, t->name, retries + 1, retries);
out:
  /* Nothing references what a failed call wrote: remove it. */
  if (rc != 0)
    tarn__table_uri_list_delete_all(&written, &t->io);
  tarn__table_uri_list_free(&written);
  tarn_ice_metadata_free(&next);
  tarn_free(uri);
  tarn_buf_free(&json);
  return rc;
}
