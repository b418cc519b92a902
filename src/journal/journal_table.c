/* journal_table.c - system.journal: layout, and flushed events appended exactly once
 * (journal_table.h). The events go into Parquet through the sink's row batch (rows.h:
 * typed cells in an arena, written by field id), after sorting them here. */
#include "journal_table.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "sink/rows.h"
#include "table/scan.h"

static const tarn_ice_column_def cols[TARN_JT_NCOLS] = {
    {"event_id", TARN_ICE_STRING, 1, "a client's id, or a UUIDv7 given by tarn"},
    {"timestamp", TARN_ICE_TIMESTAMPTZ, 1, "when the mutation happened"},
    {"entity_type", TARN_ICE_STRING, 1, NULL},
    {"entity_id", TARN_ICE_STRING, 1, NULL},
    {"field", TARN_ICE_STRING, 1, "the field an update changed; * for the others"},
    {"action", TARN_ICE_STRING, 1, "insert, update, delete or ingest"},
    {"old_value", TARN_ICE_STRING, 0, "JSON text"},
    {"new_value", TARN_ICE_STRING, 0, "JSON text"},
    {"actor", TARN_ICE_STRING, 0, NULL},
    {"source", TARN_ICE_STRING, 1, "api, ingest, workspace or agent"},
    {"workspace_id", TARN_ICE_STRING, 0, NULL},
    {"seq", TARN_ICE_LONG, 1, "the event's number in the journal's write-ahead log"},
};

/* Equality lookups (an entity's history, one event by id) through bloom filters, and
 * pages small enough that the page index narrows one entity to a few rows' worth. */
static const tarn_ice_kv props[] = {
    {(char *)"write.parquet.bloom-filter-enabled.column.entity_id", (char *)"true"},
    {(char *)"write.parquet.bloom-filter-enabled.column.event_id", (char *)"true"},
    {(char *)"write.parquet.page-size-bytes", (char *)"65536"},
    {(char *)"write.parquet.page-row-limit", (char *)"1000"},
    {(char *)"write.parquet.row-group-size-bytes", (char *)"8388608"},
};

struct tarn_journal_table {
  tarn_lake *lake;
  tarn_table *t;
};

static int layout(tarn_ice_schema *schema, tarn_ice_sort_order *order, tarn_error *err) {
  int rc = tarn_ice_schema_from_columns(cols, TARN_JT_NCOLS, schema, err);
  if (rc != 0)
    return rc;
  memset(order, 0, sizeof(*order));
  order->fields = tarn_calloc(2, sizeof(*order->fields));
  if (order->fields == NULL) {
    tarn_ice_schema_free(schema);
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  }
  order->order_id = 1;
  order->fields[0].transform.kind = TARN_ICE_IDENTITY;
  order->fields[0].source_id = TARN_JT_ENTITY_ID;
  order->fields[1].transform.kind = TARN_ICE_IDENTITY;
  order->fields[1].source_id = TARN_JT_TIMESTAMP;
  order->nfields = 2;
  return 0;
}

/* The table's current schema must be the layout (columns by field id, type and
 * nullability); extra optional columns are written null. */
static int check_layout(const tarn_ice_schema *schema, tarn_error *err) {
  size_t i;
  for (i = 0; i < TARN_JT_NCOLS; i++) {
    const tarn_ice_field *f = tarn_ice_schema_field(schema, (int32_t)i + 1);
    if (f == NULL || strcmp(f->name, cols[i].name) != 0 || f->type.id != cols[i].type ||
        (f->required != 0) != cols[i].required)
      return tarn_error_set(err, TARN_ESCHEMA,
                            "table %s.%s: column \"%s\" (field id %d) is %s; the journal writes "
                            "its own layout only",
                            TARN_JOURNAL_NS, TARN_JOURNAL_TABLE, cols[i].name, (int)i + 1,
                            f == NULL ? "missing" : "of another name, type or nullability");
  }
  for (i = 0; i < schema->nfields; i++)
    if (schema->fields[i].id > TARN_JT_NCOLS && schema->fields[i].required)
      return tarn_error_set(err, TARN_ESCHEMA,
                            "table %s.%s: column \"%s\" is required and the journal does not "
                            "write it",
                            TARN_JOURNAL_NS, TARN_JOURNAL_TABLE, schema->fields[i].name);
  return 0;
}

int tarn_journal_table_open(tarn_lake *lake, tarn_journal_table **out, tarn_error *err) {
  tarn_journal_table *jt = tarn_calloc(1, sizeof(*jt));
  int rc;
  *out = NULL;
  if (jt == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  jt->lake = lake;
  rc = tarn_table_load(lake->cat, &lake->io, TARN_JOURNAL_NS, TARN_JOURNAL_TABLE, &jt->t, err);
  if (rc == TARN_ENOTFOUND) {
    tarn_ice_schema schema;
    tarn_ice_sort_order order;
    rc = layout(&schema, &order, err);
    if (rc == 0) {
      rc = tarn_catalog_create_namespace(lake->cat, TARN_JOURNAL_NS, NULL, 0, err);
      if (rc == TARN_EEXIST)
        rc = 0;
      if (rc == 0)
        rc = tarn_table_create(lake->cat, &lake->io, TARN_JOURNAL_NS, TARN_JOURNAL_TABLE, &schema,
                               NULL, &order, props, sizeof(props) / sizeof(props[0]), NULL, &jt->t,
                               err);
      if (rc == 0)
        tarn_log_info("journal created table", "table=%s.%s", TARN_JOURNAL_NS, TARN_JOURNAL_TABLE);
      if (rc == TARN_EEXIST) /* created meanwhile */
        rc =
            tarn_table_load(lake->cat, &lake->io, TARN_JOURNAL_NS, TARN_JOURNAL_TABLE, &jt->t, err);
      tarn_ice_schema_free(&schema);
      tarn_ice_sort_order_free(&order);
    }
  }
  if (rc == 0)
    rc = check_layout(tarn_table_schema(jt->t), err);
  if (rc != 0) {
    tarn_journal_table_close(jt);
    return rc;
  }
  *out = jt;
  return 0;
}

void tarn_journal_table_close(tarn_journal_table *jt) {
  if (jt == NULL)
    return;
  tarn_table_close(jt->t);
  tarn_free(jt);
}

/* The sequence number a table's metadata records (0: none); TARN_ECORRUPT when the
 * property is not a number. */
static int seq_of(const tarn_ice_metadata *m, uint64_t *seq, tarn_error *err) {
  const char *v = tarn_ice_metadata_property(m, TARN_JOURNAL_SEQ_KEY);
  char *end;
  *seq = 0;
  if (v == NULL)
    return 0;
  *seq = strtoull(v, &end, 10);
  if (v[0] < '0' || v[0] > '9' || *end != '\0')
    return tarn_error_set(err, TARN_ECORRUPT, "table %s.%s: property %s is \"%.40s\", not a number",
                          TARN_JOURNAL_NS, TARN_JOURNAL_TABLE, TARN_JOURNAL_SEQ_KEY, v);
  return 0;
}

int tarn_journal_table_seq(tarn_journal_table *jt, uint64_t *seq, tarn_error *err) {
  int rc = tarn_table_refresh(jt->t, err);
  return rc != 0 ? rc : seq_of(tarn_table_metadata(jt->t), seq, err);
}

/* ---- appending ---- */

typedef struct check_cx {
  uint64_t first, last;
  tarn_ice_kv *prop; /* [0]: the sequence number, set here */
} check_cx;

static int check_seq(void *arg, const tarn_ice_metadata *base, tarn_ice_metadata *next,
                     tarn_error *err) {
  check_cx *cx = arg;
  uint64_t have;
  int rc = seq_of(base, &have, err);
  if (rc != 0)
    return rc;
  if (have >= cx->last)
    return TARN_EALREADY; /* an earlier attempt of this flush landed */
  if (have >= cx->first)
    return tarn_error_set(err, TARN_ECONFLICT,
                          "table %s.%s holds journal records up to %" PRIu64
                          ", inside this flush's %" PRIu64 "..%" PRIu64
                          ": another process flushes this journal",
                          TARN_JOURNAL_NS, TARN_JOURNAL_TABLE, have, cx->first, cx->last);
  return tarn_ice_metadata_set_properties(next, cx->prop, 1, err);
}

static int by_entity_time(const void *a, const void *b) {
  const tarn_journal_event *x = *(const tarn_journal_event *const *)a;
  const tarn_journal_event *y = *(const tarn_journal_event *const *)b;
  int c = strcmp(x->entity_id, y->entity_id);
  if (c != 0)
    return c;
  if (x->ts_us != y->ts_us)
    return x->ts_us < y->ts_us ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int str_cell(tarn_sink_rows *r, tarn_sink_cell *c, const char *s, tarn_error *err) {
  return s != NULL ? tarn_sink_cell_bytes(r, c, s, strlen(s), err) : 0;
}

/* The events as rows, sorted. */
static int to_rows(const tarn_journal_event *ev, size_t n, tarn_sink_rows *r, tarn_error *err) {
  const tarn_journal_event **order = tarn_calloc(n, sizeof(*order));
  size_t i;
  int rc = 0;
  if (order == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  for (i = 0; i < n; i++)
    order[i] = &ev[i];
  qsort(order, n, sizeof(*order), by_entity_time);
  for (i = 0; rc == 0 && i < n; i++) {
    const tarn_journal_event *e = order[i];
    tarn_sink_cell *c = tarn_sink_rows_add(r, err);
    if (c == NULL) {
      rc = TARN_ENOMEM;
      break;
    }
    rc = str_cell(r, &c[TARN_JT_EVENT_ID - 1], e->event_id, err);
    tarn_sink_cell_int(&c[TARN_JT_TIMESTAMP - 1], e->ts_us);
    if (rc == 0)
      rc = str_cell(r, &c[TARN_JT_ENTITY_TYPE - 1], e->entity_type, err);
    if (rc == 0)
      rc = str_cell(r, &c[TARN_JT_ENTITY_ID - 1], e->entity_id, err);
    if (rc == 0)
      rc = str_cell(r, &c[TARN_JT_FIELD - 1], e->field, err);
    if (rc == 0)
      rc = str_cell(r, &c[TARN_JT_ACTION - 1], tarn_journal_action_name(e->action), err);
    if (rc == 0)
      rc = str_cell(r, &c[TARN_JT_OLD_VALUE - 1], e->old_value, err);
    if (rc == 0)
      rc = str_cell(r, &c[TARN_JT_NEW_VALUE - 1], e->new_value, err);
    if (rc == 0)
      rc = str_cell(r, &c[TARN_JT_ACTOR - 1], e->actor, err);
    if (rc == 0)
      rc = str_cell(r, &c[TARN_JT_SOURCE - 1], tarn_journal_source_name(e->source), err);
    if (rc == 0)
      rc = str_cell(r, &c[TARN_JT_WORKSPACE_ID - 1], e->workspace_id, err);
    tarn_sink_cell_int(&c[TARN_JT_SEQ - 1], (int64_t)e->seq);
  }
  tarn_free(order);
  return rc;
}

/* The id of the table's sort order (entity_id, timestamp), or -1 when it has none such. */
static int32_t entity_time_order(const tarn_table *t) {
  const tarn_ice_metadata *m = tarn_table_metadata(t);
  size_t i;
  for (i = 0; i < m->nsort_orders; i++) {
    const tarn_ice_sort_order *o = &m->sort_orders[i];
    if (o->nfields == 2 && o->fields[0].source_id == TARN_JT_ENTITY_ID &&
        o->fields[1].source_id == TARN_JT_TIMESTAMP && !o->fields[0].descending &&
        !o->fields[1].descending && o->fields[0].transform.kind == TARN_ICE_IDENTITY &&
        o->fields[1].transform.kind == TARN_ICE_IDENTITY)
      return o->order_id;
  }
  return -1;
}

int tarn_journal_table_append(tarn_journal_table *jt, const tarn_journal_event *ev, size_t n,
                              tarn_journal_table_commit *res, tarn_error *err) {
  tarn_sink_rows rows;
  tarn_ice_data_file *files = NULL;
  tarn_table_commit_result cr;
  tarn_ice_kv prop[1];
  char seqtext[24];
  check_cx cx;
  size_t nfiles = 0, i;
  int32_t order;
  int rc;
  memset(res, 0, sizeof(*res));
  if (n == 0)
    return 0;
  for (i = 1; i < n; i++)
    if (ev[i].seq <= ev[i - 1].seq)
      return tarn_error_set(err, TARN_EINVAL, "journal flush: sequence numbers not ascending");
  snprintf(seqtext, sizeof(seqtext), "%" PRIu64, ev[n - 1].seq);
  prop[0].key = (char *)TARN_JOURNAL_SEQ_KEY;
  prop[0].value = seqtext;
  cx.first = ev[0].seq;
  cx.last = ev[n - 1].seq;
  cx.prop = prop;
  tarn_sink_rows_init(&rows, TARN_JT_NCOLS);
  rc = tarn_table_refresh(jt->t, err);
  if (rc == 0)
    rc = check_layout(tarn_table_schema(jt->t), err);
  if (rc == 0)
    rc = to_rows(ev, n, &rows, err);
  order = entity_time_order(jt->t);
  if (rc == 0)
    rc = tarn_sink_rows_write(&rows, jt->t, -1, -1, &files, &nfiles, err);
  for (i = 0; rc == 0 && i < nfiles; i++)
    files[i].sort_order_id = order; /* sorted above: each file is, when the table says so */
  if (rc == 0)
    rc = tarn_table_commit_files(jt->t, 0, tarn_table_spec(jt->t)->spec_id, NULL, files, nfiles,
                                 prop, 1, check_seq, &cx, &cr, err);
  if (rc == 0) {
    res->committed = cr.committed;
    res->snapshot_id = cr.snapshot_id;
    res->files = nfiles;
    for (i = 0; i < nfiles; i++)
      res->bytes += files[i].file_size;
  }
  /* files no snapshot references: the table had the events, or the commit failed with
   * an answer (a retry writes new ones) */
  if ((rc == 0 && !res->committed) || (rc != 0 && rc != TARN_EUNKNOWN_OUTCOME))
    tarn_table_delete_files(jt->t, files, nfiles, "journal");
  tarn_ice_data_files_free(files, nfiles);
  tarn_sink_rows_free(&rows);
  return rc;
}

/* ---- reading ---- */

static tarn_expr *string_eq(const tarn_ice_schema *schema, int32_t id, const char *s) {
  tarn_ice_value v;
  memset(&v, 0, sizeof(v));
  v.bytes = (const uint8_t *)s;
  v.len = strlen(s);
  return tarn_expr_cmp(tarn_ice_schema_field(schema, id), TARN_EXPR_EQ, &v);
}

static tarn_expr *time_cmp(const tarn_ice_schema *schema, tarn_expr_op op, int64_t us) {
  tarn_ice_value v;
  memset(&v, 0, sizeof(v));
  v.i64 = us;
  return tarn_expr_cmp(tarn_ice_schema_field(schema, TARN_JT_TIMESTAMP), op, &v);
}

/* Column k of row i appended to scratch NUL-terminated at *at: 1; 0 when null; -1 out of
 * memory. (Offsets, not pointers: scratch may move while a row is read.) */
static int cell_text(const tarn_table_batch *b, size_t k, int64_t i, tarn_buf *scratch, size_t *at,
                     tarn_error *err) {
  tarn_ice_value v;
  tarn_ice_value_from_array(&b->fields[k].type, &b->layout[k], &b->cols[k], i, &v);
  if (v.is_null)
    return 0;
  *at = scratch->len;
  if (tarn_buf_append(scratch, v.bytes, v.len, err) != 0 ||
      tarn_buf_append_byte(scratch, 0, err) != 0)
    return -1;
  return 1;
}

/* The events the table holds that match `filter` (taken: freed here; NULL with `only`:
 * every row), in the files named by `only` when not NULL. *bytes (may be NULL) gets
 * about what they take in memory. */
static int scan_files(tarn_journal_table *jt, tarn_expr *filter, const char *const *only,
                      size_t nonly, tarn_journal_event **out, size_t *n, uint64_t *bytes,
                      tarn_error *err) {
  static const int32_t ids[TARN_JT_NCOLS] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  tarn_table_scan_spec spec;
  tarn_table_scan *s = NULL;
  const tarn_table_batch *b;
  tarn_journal_event *ev = NULL;
  tarn_buf scratch;
  size_t cap = 0, k = 0;
  int rc = 0;
  uint64_t mem = 0;
  *out = NULL;
  *n = 0;
  if (filter == NULL && only == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  memset(&spec, 0, sizeof(spec));
  spec.only_files = only;
  spec.nonly_files = nonly;
  spec.snapshot_id = -1;
  spec.as_of_ms = -1;
  spec.field_ids = ids;
  spec.nfield_ids = TARN_JT_NCOLS;
  spec.filter = filter;
  tarn_buf_init(&scratch, TARN_BUF_UNLIMITED);
  rc = tarn_table_scan_open(jt->t, &spec, &s, err);
  while (rc == 0 && (rc = tarn_table_scan_next(s, &b, err)) == 0 && b != NULL) {
    int64_t i;
    for (i = 0; rc == 0 && i < b->nrows; i++) {
      static const int strs[] = {TARN_JT_EVENT_ID,    TARN_JT_ENTITY_TYPE, TARN_JT_ENTITY_ID,
                                 TARN_JT_FIELD,       TARN_JT_ACTION,      TARN_JT_OLD_VALUE,
                                 TARN_JT_NEW_VALUE,   TARN_JT_ACTOR,       TARN_JT_SOURCE,
                                 TARN_JT_WORKSPACE_ID};
      size_t at[TARN_JT_NCOLS + 1], c;
      int has[TARN_JT_NCOLS + 1];
      tarn_journal_event e;
      tarn_ice_value v;
      tarn_buf_reset(&scratch);
      for (c = 0; rc == 0 && c < sizeof(strs) / sizeof(strs[0]); c++)
        if ((has[strs[c]] = cell_text(b, (size_t)strs[c] - 1, i, &scratch, &at[strs[c]], err)) < 0)
          rc = TARN_ENOMEM;
      if (rc != 0)
        break;
#define TEXT(col) (has[col] > 0 ? scratch.data + at[col] : NULL)
      memset(&e, 0, sizeof(e));
      e.event_id = TEXT(TARN_JT_EVENT_ID);
      e.entity_type = TEXT(TARN_JT_ENTITY_TYPE);
      e.entity_id = TEXT(TARN_JT_ENTITY_ID);
      e.field = TEXT(TARN_JT_FIELD);
      e.old_value = TEXT(TARN_JT_OLD_VALUE);
      e.new_value = TEXT(TARN_JT_NEW_VALUE);
      e.actor = TEXT(TARN_JT_ACTOR);
      e.workspace_id = TEXT(TARN_JT_WORKSPACE_ID);
      if (has[TARN_JT_ACTION] == 0 ||
          tarn_journal_action_parse(TEXT(TARN_JT_ACTION), &e.action) != 0 ||
          has[TARN_JT_SOURCE] == 0 ||
          tarn_journal_source_parse(TEXT(TARN_JT_SOURCE), &e.source) != 0 || e.event_id == NULL ||
          e.entity_id == NULL || e.entity_type == NULL || e.field == NULL) {
        rc = tarn_error_set(err, TARN_ECORRUPT,
                            "table %s.%s: a row with a null or unknown action, source or id",
                            TARN_JOURNAL_NS, TARN_JOURNAL_TABLE);
        break;
      }
#undef TEXT
      e.has_source = 1;
      tarn_ice_value_from_array(&b->fields[1].type, &b->layout[1], &b->cols[1], i, &v);
      e.ts_us = v.i64;
      tarn_ice_value_from_array(&b->fields[11].type, &b->layout[11], &b->cols[11], i, &v);
      e.seq = (uint64_t)v.i64;
      if (TARN_GROW(ev, cap, k + 1, 16) != 0)
        rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
      else if ((rc = tarn_journal_event_copy(&e, &ev[k], err)) == 0)
        ev[k++].seq = e.seq;
      mem += sizeof(*ev) + scratch.len;
    }
  }
  tarn_table_scan_close(s);
  tarn_expr_free(filter);
  tarn_buf_free(&scratch);
  if (rc != 0) {
    tarn_journal_events_free(ev, k);
    return rc;
  }
  *out = ev;
  *n = k;
  if (bytes != NULL)
    *bytes = mem;
  return 0;
}

static int scan_events(tarn_journal_table *jt, tarn_expr *filter, tarn_journal_event **out,
                       size_t *n, tarn_error *err) {
  return scan_files(jt, filter, NULL, 0, out, n, NULL, err);
}

int tarn_journal_table_history(tarn_journal_table *jt, const char *entity_id,
                               const char *entity_type, int64_t since_us, int64_t until_us,
                               tarn_journal_event **out, size_t *n, tarn_error *err) {
  const tarn_ice_schema *schema;
  tarn_expr *filter;
  int rc = tarn_table_refresh(jt->t, err);
  *out = NULL;
  *n = 0;
  if (rc != 0)
    return rc;
  schema = tarn_table_schema(jt->t);
  filter = string_eq(schema, TARN_JT_ENTITY_ID, entity_id);
  if (filter != NULL && entity_type != NULL)
    filter = tarn_expr_and(filter, string_eq(schema, TARN_JT_ENTITY_TYPE, entity_type));
  if (filter != NULL && since_us != INT64_MIN)
    filter = tarn_expr_and(filter, time_cmp(schema, TARN_EXPR_GE, since_us));
  if (filter != NULL && until_us != INT64_MAX)
    filter = tarn_expr_and(filter, time_cmp(schema, TARN_EXPR_LT, until_us));
  return scan_events(jt, filter, out, n, err);
}

int tarn_journal_table_since_seq(tarn_journal_table *jt, uint64_t min_seq, tarn_journal_event **out,
                                 size_t *n, tarn_error *err) {
  tarn_ice_value v;
  int rc = tarn_table_refresh(jt->t, err);
  *out = NULL;
  *n = 0;
  if (rc != 0)
    return rc;
  memset(&v, 0, sizeof(v));
  v.i64 = (int64_t)min_seq;
  return scan_events(
      jt,
      tarn_expr_cmp(tarn_ice_schema_field(tarn_table_schema(jt->t), TARN_JT_SEQ), TARN_EXPR_GE, &v),
      out, n, err);
}

/* ---- compaction ----
 *
 * Every flush writes one data file sorted by (entity_id, timestamp, seq) holding a range
 * of WAL sequence numbers of its own. A compaction merges the newest sorted runs into one:
 * a k-way merge that streams each run (its files one after another, in entity order), so
 * memory holds one row group per run, not the events. Its output files split the merged
 * run by entity ranges, so a history query reads one file of it. Which runs: from the
 * newest back, while the next older run holds at most twice the events of those taken (sizes
 * grow geometrically: each event is rewritten a logarithmic number of times) and the
 * runs' readers fit in max_memory. */

/* Small: under a sixteenth of max_memory (16 MiB of the default 256 MiB). */
static int64_t small_of(int64_t small_bytes, uint64_t max_memory) {
  return small_bytes > 0 ? small_bytes
                         : (int64_t)((max_memory > 0 ? max_memory : (uint64_t)256 << 20) / 16);
}

/* The current snapshot's data files (refreshed first). */
static int live_files(tarn_journal_table *jt, tarn_ice_data_file **files, size_t *n,
                      tarn_error *err) {
  int rc = tarn_table_refresh(jt->t, err);
  *files = NULL;
  *n = 0;
  return rc != 0 ? rc : tarn_table_plan(jt->t, NULL, files, n, NULL, NULL, err);
}

int tarn_journal_table_files(tarn_journal_table *jt, int64_t small_bytes, uint64_t max_memory,
                             size_t *nfiles, size_t *small, tarn_error *err) {
  tarn_ice_data_file *files;
  size_t n, i;
  int rc = live_files(jt, &files, &n, err);
  *nfiles = *small = 0;
  if (rc != 0)
    return rc;
  *nfiles = n;
  for (i = 0; i < n; i++)
    *small += files[i].file_size < small_of(small_bytes, max_memory);
  tarn_ice_data_files_free(files, n);
  return 0;
}

static const tarn_ice_column_stats *col_stats(const tarn_ice_data_file *f, int32_t id) {
  size_t i;
  for (i = 0; i < f->nstats; i++)
    if (f->stats[i].field_id == id)
      return &f->stats[i];
  return NULL;
}

/* A long bound (little-endian, Appendix D); 0 when absent. */
static int le_i64(const tarn_buf *b, int has, int64_t *v) {
  int k;
  *v = 0;
  if (!has || b->len != 8)
    return -1;
  for (k = 7; k >= 0; k--)
    *v = (int64_t)((uint64_t)*v << 8 | (uint8_t)b->data[k]);
  return 0;
}

/* A file of a run, with what orders it. */
typedef struct rfile {
  const tarn_ice_data_file *f;
  int64_t lo, hi;            /* WAL sequence numbers */
  const tarn_buf *elo, *ehi; /* entity_id bounds (NULL: unknown) */
} rfile;

typedef struct run {
  rfile *files; /* in entity order */
  size_t n;
  int64_t hi, bytes, rows, max_file;
} run;

static int by_seq(const void *a, const void *b) {
  const rfile *x = a, *y = b;
  if (x->lo != y->lo)
    return x->lo < y->lo ? -1 : 1;
  return strcmp(x->f->file_path, y->f->file_path);
}

static int buf_cmp(const tarn_buf *a, const tarn_buf *b) {
  size_t n = a->len < b->len ? a->len : b->len;
  int c = n > 0 ? memcmp(a->data, b->data, n) : 0;
  return c != 0 ? c : (a->len > b->len) - (a->len < b->len);
}

static int by_entity(const void *a, const void *b) {
  const rfile *x = a, *y = b;
  return buf_cmp(x->elo, y->elo);
}

/* The runs of the files, oldest first: files whose WAL ranges overlap belong together
 * (one flush, or one compaction's output). A run whose files' entity ranges overlap is
 * not one sorted sequence (not written by a compaction): its files become runs of their
 * own. *rf (the files, grouped) and *out are the caller's. */
static int runs_of(const tarn_ice_data_file *files, size_t n, rfile **rf, run **out, size_t *nruns,
                   tarn_error *err) {
  rfile *r = tarn_calloc(n + 1, sizeof(*r));
  run *runs = tarn_calloc(n + 1, sizeof(*runs));
  size_t i, k = 0, j;
  *rf = r;
  *out = runs;
  *nruns = 0;
  if (r == NULL || runs == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  for (i = 0; i < n; i++) {
    const tarn_ice_column_stats *sq = col_stats(&files[i], TARN_JT_SEQ);
    const tarn_ice_column_stats *en = col_stats(&files[i], TARN_JT_ENTITY_ID);
    r[i].f = &files[i];
    if (sq == NULL || le_i64(&sq->lower, sq->has_lower, &r[i].lo) != 0 ||
        le_i64(&sq->upper, sq->has_upper, &r[i].hi) != 0 || en == NULL || !en->has_lower ||
        !en->has_upper)
      return tarn_error_set(err, TARN_ECORRUPT,
                            "table %s.%s: data file %s has no bounds for seq or entity_id; "
                            "compaction needs them",
                            TARN_JOURNAL_NS, TARN_JOURNAL_TABLE, files[i].file_path);
    r[i].elo = &en->lower;
    r[i].ehi = &en->upper;
  }
  qsort(r, n, sizeof(*r), by_seq);
  for (i = 0; i < n; i++) {
    if (k > 0 && r[i].lo <= runs[k - 1].hi) {
      runs[k - 1].n++;
      if (r[i].hi > runs[k - 1].hi)
        runs[k - 1].hi = r[i].hi;
    } else {
      runs[k].files = &r[i];
      runs[k].n = 1;
      runs[k].hi = r[i].hi;
      k++;
    }
  }
  for (i = 0; i < k; i++) { /* entity order; split what does not chain */
    run *u = &runs[i];
    int chained = 1;
    qsort(u->files, u->n, sizeof(*u->files), by_entity);
    for (j = 1; j < u->n; j++)
      chained &= buf_cmp(u->files[j - 1].ehi, u->files[j].elo) < 0;
    if (!chained) {
      size_t extra = u->n - 1;
      memmove(&runs[i + 1 + extra], &runs[i + 1], (k - i - 1) * sizeof(*runs));
      for (j = 1; j < u->n; j++) {
        runs[i + j].files = &u->files[j];
        runs[i + j].n = 1;
      }
      u->n = 1;
      k += extra;
      i += extra;
    }
  }
  for (i = 0; i < k; i++) {
    run *u = &runs[i];
    for (j = 0; j < u->n; j++) {
      u->bytes += u->files[j].f->file_size;
      u->rows += u->files[j].f->record_count;
      if (u->files[j].f->file_size > u->max_file)
        u->max_file = u->files[j].f->file_size;
    }
  }
  *nruns = k;
  return 0;
}

/* What reading a run takes: a row group of its largest file (row groups are at most
 * 16 MiB here; files of other writers may differ), its pages decoded, one batch. */
static uint64_t run_memory(const run *u) {
  int64_t rg = u->max_file < ((int64_t)16 << 20) ? u->max_file : (int64_t)16 << 20;
  return (uint64_t)rg * 3 + ((uint64_t)4 << 20);
}

/* ---- the merge ---- */

/* Column indexes (scan projection in field id order). */
enum { C_TS = TARN_JT_TIMESTAMP - 1, C_ENTITY = TARN_JT_ENTITY_ID - 1, C_SEQ = TARN_JT_SEQ - 1 };

typedef struct cursor {
  tarn_journal_table *jt;
  const run *u;
  size_t fi; /* the file being read */
  tarn_table_scan *s;
  const tarn_table_batch *b;
  int64_t i;
  /* the current row's key */
  const uint8_t *ent;
  size_t elen;
  int64_t ts, seq;
} cursor;

static void cursor_key(cursor *c) {
  tarn_ice_value v;
  const tarn_table_batch *b = c->b;
  tarn_ice_value_from_array(&b->fields[C_ENTITY].type, &b->layout[C_ENTITY], &b->cols[C_ENTITY],
                            c->i, &v);
  c->ent = v.bytes;
  c->elen = v.len;
  tarn_ice_value_from_array(&b->fields[C_TS].type, &b->layout[C_TS], &b->cols[C_TS], c->i, &v);
  c->ts = v.i64;
  tarn_ice_value_from_array(&b->fields[C_SEQ].type, &b->layout[C_SEQ], &b->cols[C_SEQ], c->i, &v);
  c->seq = v.i64;
}

/* Moves to the run's next row (c->b NULL at its end). */
static int cursor_next(cursor *c, tarn_error *err) {
  static const int32_t ids[TARN_JT_NCOLS] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  int rc;
  if (c->b != NULL && ++c->i < c->b->nrows) {
    cursor_key(c);
    return 0;
  }
  for (;;) {
    if (c->s != NULL) {
      rc = tarn_table_scan_next(c->s, &c->b, err);
      if (rc != 0)
        return rc;
      if (c->b != NULL && c->b->nrows > 0) {
        c->i = 0;
        cursor_key(c);
        return 0;
      }
      tarn_table_scan_close(c->s);
      c->s = NULL;
      c->fi++;
    }
    c->b = NULL;
    if (c->fi >= c->u->n)
      return 0; /* the run is read */
    {
      tarn_table_scan_spec spec;
      const char *path = c->u->files[c->fi].f->file_path;
      memset(&spec, 0, sizeof(spec));
      spec.snapshot_id = -1;
      spec.as_of_ms = -1;
      spec.field_ids = ids;
      spec.nfield_ids = TARN_JT_NCOLS;
      spec.only_files = &path;
      spec.nonly_files = 1;
      rc = tarn_table_scan_open(c->jt->t, &spec, &c->s, err);
      if (rc != 0)
        return rc;
    }
  }
}

static int key_cmp(const cursor *a, const cursor *b) {
  size_t n = a->elen < b->elen ? a->elen : b->elen;
  int c = n > 0 ? memcmp(a->ent, b->ent, n) : 0;
  if (c != 0)
    return c;
  if (a->elen != b->elen)
    return a->elen < b->elen ? -1 : 1;
  if (a->ts != b->ts)
    return a->ts < b->ts ? -1 : 1;
  return (a->seq > b->seq) - (a->seq < b->seq);
}

/* A binary min-heap of cursors by key. */
static void heap_down(cursor **h, size_t n, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, m = i;
    if (l < n && key_cmp(h[l], h[m]) < 0)
      m = l;
    if (l + 1 < n && key_cmp(h[l + 1], h[m]) < 0)
      m = l + 1;
    if (m == i)
      return;
    cursor *t = h[i];
    h[i] = h[m];
    h[m] = t;
    i = m;
  }
}

/* Row c's cells into rows (strings copied: the batch goes away). */
static int copy_row(const cursor *c, tarn_sink_rows *rows, tarn_error *err) {
  tarn_sink_cell *cell = tarn_sink_rows_add(rows, err);
  size_t k;
  int rc = 0;
  if (cell == NULL)
    return TARN_ENOMEM;
  for (k = 0; rc == 0 && k < TARN_JT_NCOLS; k++) {
    const tarn_table_batch *b = c->b;
    tarn_ice_value v;
    tarn_ice_value_from_array(&b->fields[k].type, &b->layout[k], &b->cols[k], c->i, &v);
    if (v.is_null)
      continue;
    if (k == C_TS || k == C_SEQ)
      tarn_sink_cell_int(&cell[k], v.i64);
    else
      rc = tarn_sink_cell_bytes(rows, &cell[k], v.bytes, v.len, err);
  }
  return rc;
}

#define MERGE_CHUNK_ROWS 65536
typedef struct output {
  tarn_journal_table *jt;
  int64_t roll_rows; /* a file ends at the first entity past this many rows */
  tarn_table_writer *w;
  tarn_sink_rows rows;
  tarn_ice_data_file *files;
  size_t nfiles;
  int64_t in_file; /* rows given to w */
} output;

static int output_flush(output *o, tarn_error *err) {
  int rc = 0;
  if (o->rows.nrows == 0)
    return 0;
  if (o->w == NULL)
    rc = tarn_table_writer_open(o->jt->t, NULL, &o->w, err);
  if (rc == 0)
    rc = tarn_sink_rows_write_to(&o->rows, o->w, tarn_table_schema(o->jt->t), err);
  o->in_file += (int64_t)o->rows.nrows;
  tarn_sink_rows_reset(&o->rows);
  return rc;
}

/* Closes the file being written; its entries join o->files. */
static int output_roll(output *o, tarn_error *err) {
  tarn_ice_data_file *f = NULL, *grown;
  size_t n = 0;
  int rc = output_flush(o, err);
  if (rc != 0 || o->w == NULL)
    return rc;
  rc = tarn_table_writer_close(o->w, &f, &n, err);
  o->w = NULL;
  o->in_file = 0;
  if (rc != 0)
    return rc;
  grown = tarn_reallocarray(o->files, o->nfiles + n, sizeof(*o->files));
  if (grown == NULL) {
    tarn_table_delete_files(o->jt->t, f, n, "journal compaction");
    tarn_ice_data_files_free(f, n);
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  }
  o->files = grown;
  memcpy(o->files + o->nfiles, f, n * sizeof(*f));
  o->nfiles += n;
  tarn_free(f); /* the entries moved */
  return 0;
}

/* Merges the runs into o's files, checking that every key follows the one before;
 * stops (TARN_EBUSY) once *stop is set. */
static int merge_runs(tarn_journal_table *jt, const run *runs, size_t k, output *o,
                      const _Atomic int *stop, int64_t *rows_out, tarn_error *err) {
  cursor *cs = tarn_calloc(k, sizeof(*cs));
  cursor **h = tarn_calloc(k, sizeof(*h));
  cursor last;
  size_t n = 0, i;
  int have_last = 0, rc = 0;
  char *prev = NULL;
  size_t prev_cap = 0;
  *rows_out = 0;
  if (cs == NULL || h == NULL) {
    rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
    goto out;
  }
  for (i = 0; rc == 0 && i < k; i++) {
    cs[i].jt = jt;
    cs[i].u = &runs[i];
    rc = cursor_next(&cs[i], err);
    if (rc == 0 && cs[i].b != NULL)
      h[n++] = &cs[i];
  }
  for (i = n; rc == 0 && i-- > 0;)
    heap_down(h, n, i);
  memset(&last, 0, sizeof(last));
  while (rc == 0 && n > 0) {
    cursor *c = h[0];
    int new_entity =
        !have_last || last.elen != c->elen || (c->elen > 0 && memcmp(prev, c->ent, c->elen) != 0);
    if (have_last && key_cmp(&last, c) > 0) {
      rc = tarn_error_set(err, TARN_ECORRUPT,
                          "table %s.%s: data file %s is not sorted by entity_id, timestamp and "
                          "seq; compaction stops",
                          TARN_JOURNAL_NS, TARN_JOURNAL_TABLE, c->u->files[c->fi].f->file_path);
      break;
    }
    if (new_entity && o->in_file + (int64_t)o->rows.nrows >= o->roll_rows)
      rc = output_roll(o, err); /* a file ends between entities */
    if (rc == 0)
      rc = copy_row(c, &o->rows, err);
    if (rc == 0 && o->rows.nrows >= MERGE_CHUNK_ROWS) {
      rc = output_flush(o, err);
      if (rc == 0 && stop != NULL && atomic_load(stop))
        rc = tarn_error_set(err, TARN_EBUSY, "stopped (shutting down); nothing changed");
    }
    if (rc != 0)
      break;
    /* the last key, its entity kept (the batch it points into goes away) */
    if (new_entity) {
      if (c->elen + 1 > prev_cap) {
        char *np = tarn_realloc(prev, c->elen + 1);
        if (np == NULL) {
          rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
          break;
        }
        prev = np;
        prev_cap = c->elen + 1;
      }
      if (c->elen > 0)
        memcpy(prev, c->ent, c->elen);
    }
    last.ent = (const uint8_t *)prev;
    last.elen = c->elen;
    last.ts = c->ts;
    last.seq = c->seq;
    have_last = 1;
    (*rows_out)++;
    rc = cursor_next(c, err);
    if (rc == 0 && c->b == NULL)
      h[0] = h[--n];
    if (rc == 0 && n > 0)
      heap_down(h, n, 0);
  }
  if (rc == 0)
    rc = output_roll(o, err);
out:
  for (i = 0; cs != NULL && i < k; i++)
    tarn_table_scan_close(cs[i].s);
  tarn_free(cs);
  tarn_free(h);
  tarn_free(prev);
  return rc;
}

/* Inside the swap: the table still has the journal's layout (the files' liveness is
 * checked by the rewrite itself; flushes that landed meanwhile are kept). */
static int check_compact(void *arg, const tarn_ice_metadata *base, tarn_ice_metadata *next,
                         tarn_error *err) {
  const tarn_ice_schema *schema = tarn_ice_metadata_schema(base, base->current_schema_id);
  (void)arg;
  (void)next;
  return schema != NULL ? check_layout(schema, err)
                        : tarn_error_set(err, TARN_ECORRUPT, "table %s.%s: no current schema",
                                         TARN_JOURNAL_NS, TARN_JOURNAL_TABLE);
}

int tarn_journal_table_compact(tarn_journal_table *jt, const tarn_journal_compact_options *o,
                               tarn_journal_compact_result *res, tarn_error *err) {
  uint64_t max_memory = o != NULL && o->max_memory > 0 ? o->max_memory : (uint64_t)256 << 20;
  int64_t small = small_of(o != NULL ? o->small_bytes : 0, max_memory);
  size_t min_files = o != NULL && o->min_files >= 2 ? o->min_files : 2;
  tarn_ice_data_file *files = NULL;
  rfile *rf = NULL;
  run *runs = NULL;
  const char **paths = NULL;
  size_t nfiles = 0, nruns = 0, nsmall = 0, take = 0, first, npaths = 0, i, j;
  uint64_t mem = 0;
  int64_t sum = 0, want_rows = 0, got_rows = 0;
  output out;
  tarn_table_commit_result cr;
  int rc;
  memset(res, 0, sizeof(*res));
  memset(&out, 0, sizeof(out));
  out.jt = jt;
  out.roll_rows = o != NULL && o->file_rows > 0 ? o->file_rows : (int64_t)4 << 20;
  tarn_sink_rows_init(&out.rows, TARN_JT_NCOLS);
  rc = live_files(jt, &files, &nfiles, err);
  if (rc == 0)
    rc = check_layout(tarn_table_schema(jt->t), err);
  if (rc != 0)
    goto done;
  for (i = 0; i < nfiles; i++)
    nsmall += files[i].file_size < small;
  res->small_files_left = nsmall;
  if (nsmall < min_files && min_files > 2)
    goto done; /* the schedule's threshold: not yet */
  rc = runs_of(files, nfiles, &rf, &runs, &nruns, err);
  if (rc != 0)
    goto done;
  /* the newest runs, back while the next older one holds at most twice the events of
   * those taken */
  for (i = nruns; i-- > 0;) {
    uint64_t need = run_memory(&runs[i]);
    if (take > 0 && runs[i].rows > 2 * sum && !(o != NULL && o->full))
      break;
    if (take >= 2 && mem + need > max_memory)
      break;
    take++;
    sum += runs[i].rows;
    mem += need;
  }
  if (take < 2)
    goto done; /* nothing to merge */
  if (o != NULL && o->stop != NULL && atomic_load(o->stop)) {
    rc = tarn_error_set(err, TARN_EBUSY, "stopped (shutting down); nothing changed");
    goto done;
  }
  first = nruns - take;
  for (i = first; i < nruns; i++)
    npaths += runs[i].n;
  paths = tarn_calloc(npaths + 1, sizeof(*paths));
  if (paths == NULL) {
    rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
    goto done;
  }
  npaths = 0;
  for (i = first; i < nruns; i++)
    for (j = 0; j < runs[i].n; j++) {
      paths[npaths++] = runs[i].files[j].f->file_path;
      want_rows += runs[i].files[j].f->record_count;
      res->bytes_in += runs[i].files[j].f->file_size;
      nsmall -= runs[i].files[j].f->file_size < small;
    }
  rc = merge_runs(jt, runs + first, take, &out, o != NULL ? o->stop : NULL, &got_rows, err);
  if (rc == 0 && got_rows != want_rows)
    rc = tarn_error_set(
        err, TARN_ECORRUPT, "table %s.%s: compaction read %lld rows; the manifests say %lld",
        TARN_JOURNAL_NS, TARN_JOURNAL_TABLE, (long long)got_rows, (long long)want_rows);
  if (rc == 0) {
    int32_t order = entity_time_order(jt->t);
    for (i = 0; i < out.nfiles; i++) {
      out.files[i].sort_order_id = order;
      res->bytes_out += out.files[i].file_size;
    }
    rc = tarn_table_rewrite_files(jt->t, paths, npaths, out.files, out.nfiles, NULL, 0,
                                  check_compact, NULL, &cr, err);
  }
  if (rc != 0) {
    tarn_table_writer_abort(out.w);
    out.w = NULL;
    if (rc != TARN_EUNKNOWN_OUTCOME)
      tarn_table_delete_files(jt->t, out.files, out.nfiles, "journal compaction");
    goto done;
  }
  res->files_in = npaths;
  res->files_out = out.nfiles;
  res->events = want_rows;
  res->snapshot_id = cr.snapshot_id;
  res->small_files_left = nsmall;
  for (i = 0; i < out.nfiles; i++)
    res->small_files_left += out.files[i].file_size < small;
done:
  if (rc != 0) {
    res->bytes_in = res->bytes_out = 0;
    tarn_error_prefix(err, "journal compaction");
  }
  tarn_table_writer_abort(out.w);
  tarn_sink_rows_free(&out.rows);
  tarn_ice_data_files_free(out.files, out.nfiles);
  tarn_ice_data_files_free(files, nfiles);
  tarn_free(rf);
  tarn_free(runs);
  tarn_free(paths);
  return rc;
}

/* ---- snapshot expiry ---- */

int tarn_journal_table_expire(tarn_journal_table *jt, tarn_table_expire_result *res,
                              tarn_error *err) {
  const tarn_ice_metadata *m;
  int64_t age, keep;
  int rc = tarn_table_refresh(jt->t, err);
  memset(res, 0, sizeof(*res));
  if (rc != 0)
    return rc;
  m = tarn_table_metadata(jt->t);
  rc = tarn_ice_property_int(m, "history.expire.max-snapshot-age-ms", 5LL * 86400000LL, 0,
                             INT64_MAX / 2, &age, err);
  if (rc == 0)
    rc = tarn_ice_property_int(m, "history.expire.min-snapshots-to-keep", 1, 1, INT32_MAX, &keep,
                               err);
  if (rc == 0)
    rc = tarn_table_expire_snapshots(jt->t, tarn_clock_wall_us() / 1000 - age, (int)keep, res, err);
  return rc;
}
