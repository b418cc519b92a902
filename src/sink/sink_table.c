/* sink_table.c - committing the sink's batches to its two Iceberg tables, exactly once. */
#include "sink_table.h"

#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"

struct tarn_sink_tables {
  tarn_lake *lake;
  tarn_table *t[2];
  char ident[2][320];
  char key[300]; /* the summary key of the offsets */
};

/* Bloom filters on the columns the read API and investigations look up by equality:
 * a scan for one event, object or actor skips the row groups that cannot hold it. */
static const tarn_ice_kv main_props[] = {
    {(char *)"write.parquet.bloom-filter-enabled.column.event_id", (char *)"true"},
    {(char *)"write.parquet.bloom-filter-enabled.column.object_id", (char *)"true"},
    {(char *)"write.parquet.bloom-filter-enabled.column.actor_sub", (char *)"true"},
};

static int load_or_create(tarn_sink_tables *st, tarn_al_table_kind kind, const char *ns,
                          const char *name, tarn_error *err) {
  tarn_ice_schema schema;
  tarn_ice_spec spec;
  tarn_ice_sort_order order;
  tarn_table **t = &st->t[kind];
  int rc = tarn_table_load(st->lake->cat, &st->lake->io, ns, name, t, err);
  if (rc == TARN_ENOTFOUND) {
    rc = tarn_action_log_layout(kind, &schema, &spec, &order, err);
    if (rc != 0)
      return rc;
    rc = tarn_catalog_create_namespace(st->lake->cat, ns, NULL, 0, err);
    if (rc == TARN_EEXIST)
      rc = 0;
    if (rc == 0)
      rc = tarn_table_create(
          st->lake->cat, &st->lake->io, ns, name, &schema, &spec,
          kind == TARN_AL_MAIN ? &order : NULL, kind == TARN_AL_MAIN ? main_props : NULL,
          kind == TARN_AL_MAIN ? sizeof(main_props) / sizeof(main_props[0]) : 0, NULL, t, err);
    if (rc == 0)
      tarn_log_info("sink created table", "table=%s", st->ident[kind]);
    if (rc == TARN_EEXIST) /* another sink of the group created it first */
      rc = tarn_table_load(st->lake->cat, &st->lake->io, ns, name, t, err);
    tarn_ice_schema_free(&schema);
    tarn_ice_spec_free(&spec);
    tarn_ice_sort_order_free(&order);
  }
  if (rc != 0)
    return rc;
  return tarn_action_log_check(kind, st->ident[kind], tarn_table_schema(*t), tarn_table_spec(*t),
                               err);
}

int tarn_sink_tables_open(tarn_lake *lake, const char *ns, const char *name, const char *group,
                          tarn_sink_tables **out, tarn_error *err) {
  tarn_sink_tables *st = tarn_calloc(1, sizeof(*st));
  char dlq[128];
  int rc;
  *out = NULL;
  if (st == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  st->lake = lake;
  if (strlen(ns) > 100 || strlen(name) > 100) {
    tarn_free(st);
    return tarn_error_set(err, TARN_EINVAL, "table name %s.%s too long (at most 100 bytes each)",
                          ns, name);
  }
  snprintf(dlq, sizeof(dlq), "%s_dlq", name);
  snprintf(st->ident[TARN_AL_MAIN], sizeof(st->ident[0]), "%s.%s", ns, name);
  snprintf(st->ident[TARN_AL_DLQ], sizeof(st->ident[1]), "%s.%s", ns, dlq);
  rc = tarn_sink_offsets_key(group, st->key, sizeof(st->key), err);
  if (rc == 0)
    rc = load_or_create(st, TARN_AL_MAIN, ns, name, err);
  if (rc == 0)
    rc = load_or_create(st, TARN_AL_DLQ, ns, dlq, err);
  if (rc != 0) {
    tarn_sink_tables_close(st);
    return rc;
  }
  *out = st;
  return 0;
}

void tarn_sink_tables_close(tarn_sink_tables *st) {
  if (st == NULL)
    return;
  tarn_table_close(st->t[0]);
  tarn_table_close(st->t[1]);
  tarn_free(st);
}

const char *tarn_sink_tables_ident(const tarn_sink_tables *st, tarn_al_table_kind kind) {
  return st->ident[kind];
}

int tarn_sink_tables_offsets(tarn_sink_tables *st, tarn_sink_offsets *main_next,
                             tarn_sink_offsets *dlq_next, tarn_error *err) {
  int found, rc;
  rc = tarn_table_refresh(st->t[TARN_AL_MAIN], err);
  if (rc == 0)
    rc = tarn_table_refresh(st->t[TARN_AL_DLQ], err);
  if (rc == 0)
    rc = tarn_sink_offsets_from_metadata(tarn_table_metadata(st->t[TARN_AL_MAIN]), st->key,
                                         main_next, &found, err);
  if (rc == 0)
    rc = tarn_sink_offsets_from_metadata(tarn_table_metadata(st->t[TARN_AL_DLQ]), st->key, dlq_next,
                                         &found, err);
  return rc;
}

/* ---- the check inside the compare-and-swap ---- */

typedef struct commit_cx {
  const char *ident;
  const char *key;
  const tarn_sink_offsets *start, *end;
  tarn_ice_kv *summary; /* [0] is the offsets entry; its value is set here */
  int fenced;
} commit_cx;

static int check_offsets(void *arg, const tarn_ice_metadata *base, tarn_ice_metadata *next,
                         tarn_error *err) {
  commit_cx *cx = arg;
  tarn_sink_offsets have = {0};
  tarn_buf text;
  size_t i, done = 0;
  int found, rc;
  tarn_buf_init(&text, TARN_BUF_UNLIMITED);
  rc = tarn_sink_offsets_from_metadata(base, cx->key, &have, &found, err);
  for (i = 0; rc == 0 && i < cx->end->n; i++) {
    const tarn_sink_tp *e = &cx->end->v[i];
    int64_t h = tarn_sink_offsets_get(&have, e->topic, e->partition);
    int64_t s = tarn_sink_offsets_get(cx->start, e->topic, e->partition);
    if (h == e->next)
      done++;
    else if (h != s) {
      cx->fenced = 1;
      rc = tarn_error_set(err, TARN_ECONFLICT,
                          "%s: offsets of %s[%d] moved to %lld while this batch was read from "
                          "%lld: another consumer committed them (fenced; the batch is dropped "
                          "and re-read)",
                          cx->ident, e->topic, (int)e->partition, (long long)h, (long long)s);
    }
  }
  if (rc == 0 && done == cx->end->n && done > 0)
    rc = TARN_EALREADY; /* an earlier attempt of this very batch landed */
  else if (rc == 0 && done > 0) {
    cx->fenced = 1;
    rc = tarn_error_set(err, TARN_ECONFLICT,
                        "%s: part of this batch's partitions are committed already (fenced)",
                        cx->ident);
  }
  if (rc == 0)
    rc = tarn_sink_offsets_merge(&have, cx->end, err);
  if (rc == 0)
    rc = tarn_sink_offsets_format(&have, &text, err);
  if (rc == 0 && (rc = tarn_buf_append_byte(&text, 0, err)) == 0) {
    tarn_free(cx->summary[0].value);
    cx->summary[0].value = tarn_buf_detach(&text);
    /* the same map as a table property: it outlives snapshot expiry */
    rc = tarn_ice_metadata_set_properties(next, cx->summary, 1, err);
  }
  tarn_buf_free(&text);
  tarn_sink_offsets_free(&have);
  return rc;
}

/* The id of t's sort order that the sink's files satisfy (applied_at_ms ascending, alone),
 * or -1: a table created without it (by hand, by another tool) gets files that claim no
 * order rather than one it does not have. */
static int32_t applied_at_order(const tarn_table *t) {
  const tarn_ice_metadata *m = tarn_table_metadata(t);
  size_t i;
  for (i = 0; i < m->nsort_orders; i++) {
    const tarn_ice_sort_order *o = &m->sort_orders[i];
    if (o->nfields == 1 && o->fields[0].source_id == TARN_AL_APPLIED_AT_MS + 1 &&
        o->fields[0].transform.kind == TARN_ICE_IDENTITY && !o->fields[0].descending)
      return o->order_id;
  }
  return -1;
}

int tarn_sink_tables_commit(tarn_sink_tables *st, tarn_al_table_kind kind,
                            const tarn_sink_rows *rows, const tarn_sink_offsets *start,
                            const tarn_sink_offsets *end, tarn_sink_commit *res, int *fenced,
                            tarn_error *err) {
  tarn_table *t = st->t[kind];
  tarn_ice_data_file *files = NULL;
  tarn_table_commit_result cr;
  tarn_ice_kv summary[1];
  commit_cx cx;
  size_t nfiles = 0, i;
  int rc;
  memset(res, 0, sizeof(*res));
  *fenced = 0;
  summary[0].key = st->key;
  summary[0].value = NULL;
  cx.ident = st->ident[kind];
  cx.key = st->key;
  cx.start = start;
  cx.end = end;
  cx.summary = summary;
  cx.fenced = 0;
  /* the table as it is now: its schema is what the files are written in */
  rc = tarn_table_refresh(t, err);
  if (rc == 0)
    rc =
        tarn_action_log_check(kind, st->ident[kind], tarn_table_schema(t), tarn_table_spec(t), err);
  if (rc == 0)
    rc =
        tarn_sink_rows_write(rows, t, kind == TARN_AL_MAIN ? TARN_AL_APPLIED_AT_MS : -1,
                             kind == TARN_AL_MAIN ? applied_at_order(t) : -1, &files, &nfiles, err);
  if (rc == 0)
    rc = tarn_table_commit_files(t, 0, tarn_table_spec(t)->spec_id, NULL, files, nfiles, summary, 1,
                                 check_offsets, &cx, &cr, err);
  if (rc == 0) {
    res->committed = cr.committed;
    res->snapshot_id = cr.snapshot_id;
    res->attempts = cr.attempts;
    res->files = nfiles;
    for (i = 0; i < nfiles; i++)
      res->bytes += files[i].file_size;
  }
  *fenced = cx.fenced;
  /* No snapshot references the files when the table had the rows already, or when the
   * commit failed with any answer but "unknown" (the batch is retried with new files, so
   * keeping these would leave orphans at every retry). */
  if ((rc == 0 && !res->committed) || (rc != 0 && rc != TARN_EUNKNOWN_OUTCOME))
    tarn_table_delete_files(t, files, nfiles, "sink");
  tarn_free(summary[0].value);
  tarn_ice_data_files_free(files, nfiles);
  return rc;
}

/* ---- as a sink target ---- */

#include "sink_int.h"

static int target_offsets(void *impl, tarn_sink_offsets *main_next, tarn_sink_offsets *dlq_next,
                          int *known, tarn_error *err) {
  *known = 1;
  return tarn_sink_tables_offsets(impl, main_next, dlq_next, err);
}

static int target_commit(void *impl, tarn_al_table_kind kind, const tarn_sink_rows *rows,
                         const tarn_sink_offsets *start, const tarn_sink_offsets *end,
                         tarn_sink_commit *res, int *fenced, tarn_error *err) {
  return tarn_sink_tables_commit(impl, kind, rows, start, end, res, fenced, err);
}

static void target_close(void *impl) { tarn_sink_tables_close(impl); }

static const char *target_name(void *impl, tarn_al_table_kind kind) {
  return tarn_sink_tables_ident(impl, kind);
}

int tarn__sink_table_target(tarn_lake *lake, const char *table, const char *group, sink_target *t,
                            tarn_error *err) {
  char ns[128], name[128];
  tarn_sink_tables *st;
  int rc = tarn_action_log_ident(table, ns, sizeof(ns), name, sizeof(name), err);
  if (rc != 0)
    return rc;
  if (lake == NULL)
    return tarn_error_set(err, TARN_EINVAL, "table %s: no lake to write it in", table);
  rc = tarn_sink_tables_open(lake, ns, name, group, &st, err);
  if (rc != 0)
    return rc;
  t->impl = st;
  t->offsets = target_offsets;
  t->commit = target_commit;
  t->close = target_close;
  t->name = target_name;
  return 0;
}
