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

typedef struct col {
  const char *name;
  tarn_ice_type_id type;
  int required;
  const char *doc;
} col;

static const col cols[TARN_JT_NCOLS] = {
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
  size_t i;
  memset(schema, 0, sizeof(*schema));
  memset(order, 0, sizeof(*order));
  schema->fields = tarn_calloc(TARN_JT_NCOLS, sizeof(*schema->fields));
  order->fields = tarn_calloc(2, sizeof(*order->fields));
  if (schema->fields == NULL || order->fields == NULL)
    goto nomem;
  for (i = 0; i < TARN_JT_NCOLS; i++) {
    tarn_ice_field *f = &schema->fields[schema->nfields++];
    f->id = (int32_t)i + 1;
    f->name = tarn_strdup(cols[i].name);
    f->required = cols[i].required;
    f->type.id = cols[i].type;
    f->doc = cols[i].doc ? tarn_strdup(cols[i].doc) : NULL;
    if (f->name == NULL || (cols[i].doc != NULL && f->doc == NULL))
      goto nomem;
  }
  order->order_id = 1;
  order->fields[0].transform.kind = TARN_ICE_IDENTITY;
  order->fields[0].source_id = TARN_JT_ENTITY_ID;
  order->fields[1].transform.kind = TARN_ICE_IDENTITY;
  order->fields[1].source_id = TARN_JT_TIMESTAMP;
  order->nfields = 2;
  return 0;
nomem:
  tarn_ice_schema_free(schema);
  tarn_ice_sort_order_free(order);
  return tarn_error_set(err, TARN_ENOMEM, "out of memory");
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

static void delete_files(tarn_table *t, const tarn_ice_data_file *files, size_t n) {
  char key[4096];
  tarn_error err;
  size_t i;
  for (i = 0; i < n; i++)
    if (tarn_table_io_key(tarn_table_io_of(t), files[i].file_path, key, sizeof(key), &err) != 0 ||
        tarn_store_delete(tarn_table_io_of(t)->store, key, &err) != 0)
      tarn_log_warn("journal could not delete an unreferenced data file", "file=%s error=%s",
                    files[i].file_path, tarn_error_message(&err));
}

int tarn_journal_table_append(tarn_journal_table *jt, const tarn_journal_event *ev, size_t n,
                              tarn_journal_flush *res, tarn_error *err) {
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
    delete_files(jt->t, files, nfiles);
  tarn_ice_data_files_free(files, nfiles);
  tarn_sink_rows_free(&rows);
  return rc;
}
