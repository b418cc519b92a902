/* journal_table.c - system.journal: layout, and flushed events appended exactly once
 * (journal_table.h). The events go into Parquet through the sink's row batch (rows.h:
 * typed cells in an arena, written by field id), after sorting them here. */
#include "journal_table.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
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

/* Equality lookups: an entity's history, one event by id. */
static const tarn_ice_kv props[] = {
    {(char *)"write.parquet.bloom-filter-enabled.column.entity_id", (char *)"true"},
    {(char *)"write.parquet.bloom-filter-enabled.column.event_id", (char *)"true"},
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

/* The events the table holds that match `filter` (taken: freed here). */
static int scan_events(tarn_journal_table *jt, tarn_expr *filter, tarn_journal_event **out,
                       size_t *n, tarn_error *err) {
  static const int32_t ids[TARN_JT_NCOLS] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  tarn_table_scan_spec spec;
  tarn_table_scan *s = NULL;
  const tarn_table_batch *b;
  tarn_journal_event *ev = NULL;
  tarn_buf scratch;
  size_t cap = 0, k = 0;
  int rc = 0;
  *out = NULL;
  *n = 0;
  if (filter == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  memset(&spec, 0, sizeof(spec));
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
  return 0;
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
