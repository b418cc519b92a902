/* test_sink_table.c - the sink's two Iceberg tables on a real temp lake: layout, checks
 * of an existing table, commits with the offsets checked inside the compare-and-swap,
 * sorted per-day data files, racing writers (sink/sink_table). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "catalog/catalog.h"
#include "parquet/parquet.h"
#include "sink/action_log.h"
#include "sink/envelope.h"
#include "sink/offsets.h"
#include "sink/rows.h"
#include "sink/sink_table.h"
#include "store/store.h"
#include "table/lake.h"
#include "table/scan.h"
#include "table/table.h"

#include "support/temp_lake.h"

#define GROUP "g"
#define KEY "tarn.sink.offsets." GROUP
#define DAY_MS 86400000LL
#define DAY0 19675LL /* 2023-11-14 */

typedef temp_lake_fx fx;

static int setup(void **state) { return temp_lake_setup(state, "tarn-sink-table"); }

static int teardown(void **state) { return temp_lake_teardown(state); }

/* ---- helpers ---- */

static tarn_sink_tables *open_tables(fx *f) {
  tarn_sink_tables *st = NULL;
  tarn_error err;
  if (tarn_sink_tables_open(&f->lake, "default", "action_log", GROUP, &st, &err) != 0)
    fail_msg("open: %s", tarn_error_message(&err));
  return st;
}

static tarn_table *load(fx *f, const char *name) {
  tarn_table *t = NULL;
  tarn_error err;
  if (tarn_table_load(f->lake.cat, &f->lake.io, "default", name, &t, &err) != 0)
    fail_msg("load %s: %s", name, tarn_error_message(&err));
  return t;
}

/* Appends an event with this id and applied_at_ms. */
static void add_event(tarn_sink_rows *r, const char *id, int64_t ms) {
  char ev[512], detail[256];
  tarn_sink_reason reason;
  tarn_error err;
  int n = snprintf(ev, sizeof(ev),
                   "{\"event_id\":\"%s\",\"action_type_id\":\"a\",\"action_name\":\"n\","
                   "\"object_type_id\":\"o\",\"tenant\":\"t\",\"actor_sub\":\"s\","
                   "\"status\":\"ok\",\"applied_at_ms\":%lld,\"parameters\":{\"i\":\"%s\"}}",
                   id, (long long)ms, id);
  assert_true(n > 0 && (size_t)n < sizeof(ev));
  if (tarn_sink_decode(r, ev, (size_t)n, &reason, detail, sizeof(detail), &err) != 0)
    fail_msg("decode: %s", detail);
}

/* n events on day DAY0, ids PREFIX-i. */
static void make_rows(tarn_sink_rows *r, const char *prefix, int n) {
  char id[64];
  int i;
  tarn_sink_rows_init(r, TARN_AL_NCOLS);
  for (i = 0; i < n; i++) {
    snprintf(id, sizeof(id), "%s-%d", prefix, i);
    add_event(r, id, DAY0 * DAY_MS + 1000 * i);
  }
}

static void offs1(tarn_sink_offsets *o, const char *topic, int32_t p, int64_t next) {
  tarn_sink_offsets_clear(o);
  if (next >= 0)
    assert_int_equal(tarn_sink_offsets_set(o, topic, p, next, NULL), 0);
}

/* The summary value of `key` in the table's current snapshot, or NULL. */
static const char *summary_of(const tarn_table *t, const char *key) {
  const tarn_ice_metadata *m = tarn_table_metadata(t);
  const tarn_ice_snapshot *s = tarn_ice_metadata_snapshot(m, m->current_snapshot_id);
  size_t i;
  for (i = 0; s != NULL && i < s->nsummary; i++)
    if (strcmp(s->summary[i].key, key) == 0)
      return s->summary[i].value;
  return NULL;
}

/* Parquet files under DIR/warehouse/default/NAME/data (recursively). */
static size_t count_dir(const char *path) {
  DIR *d = opendir(path);
  struct dirent *e;
  size_t n = 0;
  if (d == NULL)
    return 0;
  while ((e = readdir(d)) != NULL) {
    char sub[PATH_MAX];
    struct stat sb;
    size_t len = strlen(e->d_name);
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
    if (stat(sub, &sb) != 0)
      continue;
    if (S_ISDIR(sb.st_mode))
      n += count_dir(sub);
    else
      n++; /* every file: data files and any temp file a put left behind */
    (void)len;
  }
  closedir(d);
  return n;
}

static size_t data_files_on_disk(fx *f, const char *name) {
  char path[PATH_MAX];
  snprintf(path, sizeof(path), "%s/warehouse/default/%s/data", f->dir, name);
  return count_dir(path);
}

static size_t nsnapshots(fx *f, const char *name) {
  tarn_table *t = load(f, name);
  size_t n = tarn_table_metadata(t)->nsnapshots;
  tarn_table_close(t);
  return n;
}

static int commit(tarn_sink_tables *st, tarn_al_table_kind kind, const tarn_sink_rows *rows,
                  const tarn_sink_offsets *start, const tarn_sink_offsets *end,
                  tarn_sink_commit *res, int *fenced, tarn_error *err) {
  return tarn_sink_tables_commit(st, kind, rows, start, end, res, fenced, err);
}

/* ---- layout ---- */

static void test_open_creates_layout(void **state) {
  fx *f = *state;
  tarn_sink_tables *st = open_tables(f);
  tarn_table *t;
  const tarn_ice_metadata *m;
  const tarn_ice_schema *s;
  const tarn_ice_spec *spec;
  tarn_sink_offsets mn = {0}, dn = {0};
  tarn_error err;
  size_t i;
  (void)state;
  assert_string_equal(tarn_sink_tables_ident(st, TARN_AL_MAIN), "default.action_log");
  assert_string_equal(tarn_sink_tables_ident(st, TARN_AL_DLQ), "default.action_log_dlq");
  /* a new table holds no offsets */
  assert_int_equal(tarn_sink_tables_offsets(st, &mn, &dn, &err), 0);
  assert_int_equal(mn.n, 0);
  assert_int_equal(dn.n, 0);
  tarn_sink_tables_close(st);

  t = load(f, "action_log");
  m = tarn_table_metadata(t);
  s = tarn_table_schema(t);
  assert_int_equal(s->nfields, TARN_AL_NCOLS);
  for (i = 0; i < TARN_AL_NCOLS; i++) {
    assert_int_equal(s->fields[i].id, (int32_t)i + 1);
    assert_string_equal(s->fields[i].name, tarn_action_log_names[i]);
  }
  assert_int_equal(s->fields[TARN_AL_APPLIED_AT_MS].type.id, TARN_ICE_LONG);
  assert_int_equal(s->fields[TARN_AL_APPLIED_AT].type.id, TARN_ICE_TIMESTAMPTZ);
  assert_int_equal(s->fields[TARN_AL_EVENT_ID].type.id, TARN_ICE_STRING);
  assert_true(s->fields[TARN_AL_EVENT_ID].required);
  assert_false(s->fields[TARN_AL_OBJECT_ID].required);
  assert_true(s->fields[TARN_AL_APPLIED_AT].required);
  spec = tarn_table_spec(t);
  assert_int_equal(spec->nfields, 1);
  assert_int_equal(spec->fields[0].source_id, TARN_AL_APPLIED_AT + 1);
  assert_int_equal(spec->fields[0].field_id, 1000);
  assert_int_equal(spec->fields[0].transform.kind, TARN_ICE_DAY);
  assert_string_equal(spec->fields[0].name, "applied_at_day");
  assert_int_equal(m->default_sort_order_id, 1);
  for (i = 0; i < m->nsort_orders; i++)
    if (m->sort_orders[i].order_id == 1)
      break;
  assert_true(i < m->nsort_orders);
  assert_int_equal(m->sort_orders[i].nfields, 1);
  assert_int_equal(m->sort_orders[i].fields[0].source_id, TARN_AL_APPLIED_AT_MS + 1);
  assert_int_equal(m->sort_orders[i].fields[0].transform.kind, TARN_ICE_IDENTITY);
  assert_false(m->sort_orders[i].fields[0].descending);
  assert_false(m->sort_orders[i].fields[0].nulls_first);
  assert_int_equal(m->current_snapshot_id, -1);
  tarn_table_close(t);

  t = load(f, "action_log_dlq");
  s = tarn_table_schema(t);
  assert_int_equal(s->nfields, TARN_DLQ_NCOLS);
  for (i = 0; i < TARN_DLQ_NCOLS; i++) {
    assert_int_equal(s->fields[i].id, (int32_t)i + 1);
    assert_string_equal(s->fields[i].name, tarn_action_log_dlq_names[i]);
  }
  assert_int_equal(s->fields[TARN_DLQ_KEY].type.id, TARN_ICE_BINARY);
  assert_int_equal(s->fields[TARN_DLQ_PARTITION].type.id, TARN_ICE_INT);
  spec = tarn_table_spec(t);
  assert_int_equal(spec->nfields, 1);
  assert_int_equal(spec->fields[0].source_id, TARN_DLQ_SEEN_AT + 1);
  assert_int_equal(spec->fields[0].transform.kind, TARN_ICE_DAY);
  assert_string_equal(spec->fields[0].name, "seen_at_day");
  assert_int_equal(tarn_table_metadata(t)->default_sort_order_id, 0); /* unsorted */
  tarn_table_close(t);
  tarn_sink_offsets_free(&mn);
  tarn_sink_offsets_free(&dn);
}

static void test_open_again_loads(void **state) {
  fx *f = *state;
  tarn_sink_tables *st = open_tables(f);
  tarn_table *t;
  char *loc;
  (void)state;
  tarn_sink_tables_close(st);
  t = load(f, "action_log");
  loc = strdup(tarn_table_metadata_location(t));
  tarn_table_close(t);
  st = open_tables(f);
  tarn_sink_tables_close(st);
  t = load(f, "action_log");
  assert_string_equal(tarn_table_metadata_location(t), loc); /* no new version */
  tarn_table_close(t);
  free(loc);
}

/* Creates default.action_log with the sink's layout changed by `edit`. */
static void create_edited(fx *f, void (*edit)(tarn_ice_schema *, tarn_ice_spec *), int sorted) {
  tarn_ice_schema schema;
  tarn_ice_spec spec;
  tarn_ice_sort_order order;
  tarn_table *t;
  tarn_error err;
  assert_int_equal(tarn_action_log_layout(TARN_AL_MAIN, &schema, &spec, &order, &err), 0);
  if (edit != NULL)
    edit(&schema, &spec);
  tarn_catalog_create_namespace(f->lake.cat, "default", NULL, 0, NULL);
  if (tarn_table_create(f->lake.cat, &f->lake.io, "default", "action_log", &schema, &spec,
                        sorted ? &order : NULL, NULL, 0, NULL, &t, &err) != 0)
    fail_msg("create: %s", tarn_error_message(&err));
  tarn_table_close(t);
  tarn_ice_schema_free(&schema);
  tarn_ice_spec_free(&spec);
  tarn_ice_sort_order_free(&order);
}

static void ms_as_string(tarn_ice_schema *s, tarn_ice_spec *p) {
  (void)p;
  s->fields[TARN_AL_APPLIED_AT_MS].type.id = TARN_ICE_STRING;
}
static void tenant_optional(tarn_ice_schema *s, tarn_ice_spec *p) {
  (void)p;
  s->fields[TARN_AL_TENANT].required = 0;
}
static void object_id_required(tarn_ice_schema *s, tarn_ice_spec *p) {
  (void)p;
  s->fields[TARN_AL_OBJECT_ID].required = 1;
}
static void status_renamed(tarn_ice_schema *s, tarn_ice_spec *p) {
  (void)p;
  tarn_free(s->fields[TARN_AL_STATUS].name);
  s->fields[TARN_AL_STATUS].name = tarn_strdup("state");
}
static void new_state_missing(tarn_ice_schema *s, tarn_ice_spec *p) {
  (void)p;
  s->nfields--;
  tarn_free(s->fields[s->nfields].name);
  tarn_free(s->fields[s->nfields].doc);
}
static void extra_required(tarn_ice_schema *s, tarn_ice_spec *p) {
  tarn_ice_field *nf = tarn_reallocarray(s->fields, s->nfields + 1, sizeof(*nf));
  (void)p;
  assert_non_null(nf);
  s->fields = nf;
  memset(&nf[s->nfields], 0, sizeof(*nf));
  nf[s->nfields].id = 17;
  nf[s->nfields].name = tarn_strdup("region");
  nf[s->nfields].required = 1;
  nf[s->nfields].type.id = TARN_ICE_STRING;
  s->nfields++;
}
static void extra_optional(tarn_ice_schema *s, tarn_ice_spec *p) {
  extra_required(s, p);
  s->fields[s->nfields - 1].required = 0;
}
static void hour_partition(tarn_ice_schema *s, tarn_ice_spec *p) {
  (void)s;
  p->fields[0].transform.kind = TARN_ICE_HOUR;
}
static void partition_by_ms(tarn_ice_schema *s, tarn_ice_spec *p) {
  (void)s;
  p->fields[0].source_id = TARN_AL_APPLIED_AT_MS + 1;
  p->fields[0].transform.kind = TARN_ICE_IDENTITY;
}

static void test_open_refuses_other_layouts(void **state) {
  static const struct {
    const char *name;
    void (*edit)(tarn_ice_schema *, tarn_ice_spec *);
    const char *want[2];
  } cases[] = {
      {"ms as string", ms_as_string, {"\"applied_at_ms\"", "string"}},
      {"tenant optional", tenant_optional, {"\"tenant\"", "optional"}},
      {"object_id required", object_id_required, {"\"object_id\"", "required"}},
      {"status renamed", status_renamed, {"\"status\"", "named differently"}},
      {"new_state missing", new_state_missing, {"\"new_state\"", "missing"}},
      {"extra required", extra_required, {"\"region\"", "required"}},
      {"hour partition", hour_partition, {"partition", "day(applied_at)"}},
      {"partition by ms", partition_by_ms, {"partition", "day(applied_at)"}},
  };
  fx *f = *state;
  size_t i, j;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    tarn_sink_tables *st = NULL;
    tarn_error err;
    int rc;
    create_edited(f, cases[i].edit, 1);
    rc = tarn_sink_tables_open(&f->lake, "default", "action_log", GROUP, &st, &err);
    if (rc != TARN_ESCHEMA)
      fail_msg("%s: rc %s, want TARN_ESCHEMA", cases[i].name, tarn_err_name(rc));
    assert_null(st);
    assert_non_null(strstr(err.detail, "default.action_log"));
    for (j = 0; j < 2; j++)
      if (strstr(err.detail, cases[i].want[j]) == NULL)
        fail_msg("%s: \"%s\" lacks \"%s\"", cases[i].name, err.detail, cases[i].want[j]);
    assert_int_equal(tarn_catalog_drop_table(f->lake.cat, "default", "action_log", NULL), 0);
  }
}

/* Reads columns by field id through the scan API: event_id (1), tenant (6) and, when
 * `extra` is set, field 17; checks every row. */
static int64_t scan_by_id(fx *f, int extra) {
  tarn_table *t = load(f, "action_log");
  tarn_table_scan_spec spec;
  tarn_table_scan *s;
  const tarn_table_batch *b;
  int32_t ids[3] = {TARN_AL_EVENT_ID + 1, TARN_AL_TENANT + 1, 17};
  tarn_error err;
  int64_t n = 0;
  memset(&spec, 0, sizeof(spec));
  spec.snapshot_id = -1;
  spec.as_of_ms = -1;
  spec.field_ids = ids;
  spec.nfield_ids = extra ? 3 : 2;
  if (tarn_table_scan_open(t, &spec, &s, &err) != 0)
    fail_msg("scan: %s", tarn_error_message(&err));
  while (tarn_table_scan_next(s, &b, &err) == 0 && b != NULL) {
    int64_t i;
    for (i = 0; i < b->nrows; i++) {
      tarn_ice_value v;
      char want[32];
      tarn_ice_value_from_array(&b->fields[0].type, &b->layout[0], &b->cols[0], i, &v);
      snprintf(want, sizeof(want), "e-%lld", (long long)(n + i));
      assert_false(v.is_null);
      if (v.len != strlen(want) || memcmp(v.bytes, want, v.len) != 0)
        fail_msg("row %lld: event_id \"%.*s\", want \"%s\"", (long long)(n + i), (int)v.len,
                 (const char *)v.bytes, want);
      tarn_ice_value_from_array(&b->fields[1].type, &b->layout[1], &b->cols[1], i, &v);
      assert_false(v.is_null);
      assert_int_equal(v.len, 1);
      assert_memory_equal(v.bytes, "t", 1);
      if (extra) {
        tarn_ice_value_from_array(&b->fields[2].type, &b->layout[2], &b->cols[2], i, &v);
        assert_true(v.is_null);
      }
    }
    n += b->nrows;
  }
  tarn_table_scan_close(s);
  tarn_table_close(t);
  return n;
}

/* Commits 10 rows e-0 .. e-9 through a fresh open. */
static void commit_ten(fx *f) {
  tarn_sink_tables *st = NULL;
  tarn_sink_rows rows;
  tarn_sink_offsets start = {0}, end = {0};
  tarn_sink_commit res;
  tarn_error err;
  int fenced, rc = tarn_sink_tables_open(&f->lake, "default", "action_log", GROUP, &st, &err);
  if (rc != 0)
    fail_msg("open refused: %s", tarn_error_message(&err));
  make_rows(&rows, "e", 10);
  offs1(&end, "t", 0, 10);
  if (commit(st, TARN_AL_MAIN, &rows, &start, &end, &res, &fenced, &err) != 0)
    fail_msg("commit: %s", tarn_error_message(&err));
  tarn_sink_rows_free(&rows);
  tarn_sink_offsets_free(&start);
  tarn_sink_offsets_free(&end);
  tarn_sink_tables_close(st);
}

/* An extra optional column (a reader's annotation) is allowed by the check: rows must
 * then land with that column null. */
static void test_extra_optional_column(void **state) {
  fx *f = *state;
  create_edited(f, extra_optional, 1);
  commit_ten(f);
  assert_int_equal(scan_by_id(f, 1), 10);
}

/* Columns are the layout's by field id, not by position: a table whose columns were
 * reordered (Iceberg allows it; Spark's ALTER COLUMN ... FIRST) gets every value in its
 * own column. */
static void swap_first_columns(tarn_ice_schema *s, tarn_ice_spec *p) {
  tarn_ice_field tmp = s->fields[0];
  (void)p;
  s->fields[0] = s->fields[TARN_AL_TENANT];
  s->fields[TARN_AL_TENANT] = tmp;
}

static void test_reordered_columns(void **state) {
  fx *f = *state;
  create_edited(f, swap_first_columns, 1);
  {
    tarn_table *t = load(f, "action_log");
    assert_int_equal(tarn_table_schema(t)->fields[0].id, TARN_AL_TENANT + 1);
    tarn_table_close(t);
  }
  commit_ten(f);
  assert_int_equal(scan_by_id(f, 0), 10);
}

/* ---- commits ---- */

static void test_commit_first_then_already(void **state) {
  fx *f = *state;
  tarn_sink_tables *st = open_tables(f);
  tarn_sink_rows rows;
  tarn_sink_offsets start = {0}, end = {0}, mn = {0}, dn = {0};
  tarn_sink_commit res;
  tarn_table *t;
  tarn_error err;
  int fenced = -1, rc;
  size_t files_after_first;
  int64_t snap;
  make_rows(&rows, "e", 100);
  offs1(&end, "t", 0, 100);
  rc = commit(st, TARN_AL_MAIN, &rows, &start, &end, &res, &fenced, &err);
  if (rc != 0)
    fail_msg("commit: %s", tarn_error_message(&err));
  assert_int_equal(fenced, 0);
  assert_int_equal(res.committed, 1);
  assert_int_equal(res.files, 1);
  assert_true(res.bytes > 0);
  assert_int_equal(res.attempts, 1);
  t = load(f, "action_log");
  assert_int_equal(tarn_table_metadata(t)->current_snapshot_id, res.snapshot_id);
  assert_non_null(summary_of(t, KEY));
  assert_string_equal(summary_of(t, KEY), "{\"t\":{\"0\":100}}");
  snap = res.snapshot_id;
  tarn_table_close(t);
  assert_int_equal(tarn_sink_tables_offsets(st, &mn, &dn, &err), 0);
  assert_int_equal(mn.n, 1);
  assert_int_equal(tarn_sink_offsets_get(&mn, "t", 0), 100);
  assert_int_equal(dn.n, 0);
  files_after_first = data_files_on_disk(f, "action_log");
  assert_int_equal(files_after_first, 1);

  /* the same batch again (its answer was lost): nothing new, its files removed */
  rc = commit(st, TARN_AL_MAIN, &rows, &start, &end, &res, &fenced, &err);
  if (rc != 0)
    fail_msg("commit again: %s", tarn_error_message(&err));
  assert_int_equal(fenced, 0);
  assert_int_equal(res.committed, 0);
  assert_int_equal(res.snapshot_id, snap);
  assert_int_equal(nsnapshots(f, "action_log"), 1);
  assert_int_equal(data_files_on_disk(f, "action_log"), files_after_first);
  /* from a fresh handle too */
  tarn_sink_tables_close(st);
  st = open_tables(f);
  rc = commit(st, TARN_AL_MAIN, &rows, &start, &end, &res, &fenced, &err);
  assert_int_equal(rc, 0);
  assert_int_equal(res.committed, 0);
  assert_int_equal(nsnapshots(f, "action_log"), 1);
  assert_int_equal(data_files_on_disk(f, "action_log"), files_after_first);
  /* the DLQ was not touched */
  assert_int_equal(nsnapshots(f, "action_log_dlq"), 0);
  tarn_sink_rows_free(&rows);
  tarn_sink_offsets_free(&start);
  tarn_sink_offsets_free(&end);
  tarn_sink_offsets_free(&mn);
  tarn_sink_offsets_free(&dn);
  tarn_sink_tables_close(st);
}

static void test_commit_fenced(void **state) {
  fx *f = *state;
  tarn_sink_tables *a = open_tables(f), *b = open_tables(f);
  tarn_sink_rows rows;
  tarn_sink_offsets start = {0}, end = {0};
  tarn_sink_commit res;
  tarn_table *t;
  tarn_error err;
  int fenced = -1, rc;
  size_t files;
  make_rows(&rows, "e", 10);
  offs1(&end, "t", 0, 100);
  assert_int_equal(commit(a, TARN_AL_MAIN, &rows, &start, &end, &res, &fenced, &err), 0);
  /* b (another consumer) commits 100 -> 200 */
  offs1(&start, "t", 0, 100);
  offs1(&end, "t", 0, 200);
  assert_int_equal(commit(b, TARN_AL_MAIN, &rows, &start, &end, &res, &fenced, &err), 0);
  assert_int_equal(res.committed, 1);
  files = data_files_on_disk(f, "action_log");
  assert_int_equal(files, 2);
  /* a read 100 -> 150 before b committed: fenced, nothing committed, its files gone */
  offs1(&end, "t", 0, 150);
  rc = commit(a, TARN_AL_MAIN, &rows, &start, &end, &res, &fenced, &err);
  assert_int_equal(rc, TARN_ECONFLICT);
  assert_int_equal(fenced, 1);
  assert_non_null(strstr(err.detail, "fenced"));
  assert_non_null(strstr(err.detail, "t[0]"));
  assert_non_null(strstr(err.detail, "200"));
  assert_int_equal(nsnapshots(f, "action_log"), 2);
  assert_int_equal(data_files_on_disk(f, "action_log"), files);
  /* a batch that was read from "nothing" while the table holds 200 */
  offs1(&start, "t", 0, -1);
  offs1(&end, "t", 0, 50);
  rc = commit(a, TARN_AL_MAIN, &rows, &start, &end, &res, &fenced, &err);
  assert_int_equal(rc, TARN_ECONFLICT);
  assert_int_equal(fenced, 1);
  /* the batch ran ahead of the table (start 300, table 200): fenced too */
  offs1(&start, "t", 0, 300);
  offs1(&end, "t", 0, 400);
  assert_int_equal(commit(a, TARN_AL_MAIN, &rows, &start, &end, &res, &fenced, &err),
                   TARN_ECONFLICT);
  assert_int_equal(fenced, 1);
  /* part of the batch's partitions committed already (t[0] at 200), another not */
  offs1(&start, "t", 0, 100);
  offs1(&end, "t", 0, 200);
  assert_int_equal(tarn_sink_offsets_set(&end, "t", 1, 10, NULL), 0);
  rc = commit(a, TARN_AL_MAIN, &rows, &start, &end, &res, &fenced, &err);
  assert_int_equal(rc, TARN_ECONFLICT);
  assert_int_equal(fenced, 1);
  assert_int_equal(nsnapshots(f, "action_log"), 2);
  assert_int_equal(data_files_on_disk(f, "action_log"), files);
  t = load(f, "action_log");
  assert_string_equal(summary_of(t, KEY), "{\"t\":{\"0\":200}}");
  tarn_table_close(t);
  tarn_sink_rows_free(&rows);
  tarn_sink_offsets_free(&start);
  tarn_sink_offsets_free(&end);
  tarn_sink_tables_close(a);
  tarn_sink_tables_close(b);
}

static void test_commit_partitions_merge(void **state) {
  fx *f = *state;
  tarn_sink_tables *st = open_tables(f);
  tarn_sink_rows rows;
  tarn_sink_offsets start = {0}, end = {0}, mn = {0}, dn = {0};
  tarn_sink_commit res;
  tarn_table *t;
  tarn_error err;
  int fenced;
  make_rows(&rows, "e", 5);
  offs1(&end, "t", 0, 100);
  assert_int_equal(commit(st, TARN_AL_MAIN, &rows, &start, &end, &res, &fenced, &err), 0);
  offs1(&end, "t", 1, 50);
  assert_int_equal(tarn_sink_offsets_set(&end, "u", 7, 3, NULL), 0);
  if (commit(st, TARN_AL_MAIN, &rows, &start, &end, &res, &fenced, &err) != 0)
    fail_msg("second partition: %s", tarn_error_message(&err));
  assert_int_equal(res.committed, 1);
  t = load(f, "action_log");
  assert_string_equal(summary_of(t, KEY), "{\"t\":{\"0\":100,\"1\":50},\"u\":{\"7\":3}}");
  tarn_table_close(t);
  /* another group's key on the same table is its own */
  {
    tarn_sink_tables *other = NULL;
    assert_int_equal(
        tarn_sink_tables_open(&f->lake, "default", "action_log", "other", &other, &err), 0);
    assert_int_equal(tarn_sink_tables_offsets(other, &mn, &dn, &err), 0);
    assert_int_equal(mn.n, 0);
    offs1(&end, "t", 0, 7);
    assert_int_equal(commit(other, TARN_AL_MAIN, &rows, &start, &end, &res, &fenced, &err), 0);
    assert_int_equal(res.committed, 1);
    tarn_sink_tables_close(other);
  }
  /* the group's offsets survive a commit of another group on top */
  assert_int_equal(tarn_sink_tables_offsets(st, &mn, &dn, &err), 0);
  assert_int_equal(mn.n, 3);
  assert_int_equal(tarn_sink_offsets_get(&mn, "t", 0), 100);
  assert_int_equal(tarn_sink_offsets_get(&mn, "t", 1), 50);
  assert_int_equal(tarn_sink_offsets_get(&mn, "u", 7), 3);
  /* and the next commit of the group still merges with them */
  offs1(&start, "t", 0, 100);
  offs1(&end, "t", 0, 120);
  assert_int_equal(commit(st, TARN_AL_MAIN, &rows, &start, &end, &res, &fenced, &err), 0);
  t = load(f, "action_log");
  assert_string_equal(summary_of(t, KEY), "{\"t\":{\"0\":120,\"1\":50},\"u\":{\"7\":3}}");
  tarn_table_close(t);
  tarn_sink_rows_free(&rows);
  tarn_sink_offsets_free(&start);
  tarn_sink_offsets_free(&end);
  tarn_sink_offsets_free(&mn);
  tarn_sink_offsets_free(&dn);
  tarn_sink_tables_close(st);
}

/* Reads applied_at_ms and event_id of one data file, checking they ascend. */
static int64_t check_file_sorted(fx *f, const tarn_ice_data_file *df, int64_t day, char seen[][16],
                                 size_t nseen) {
  char key[TARN_STORE_KEY_MAX + 1];
  tarn_pq_reader *r;
  tarn_pq_scan *s;
  tarn_pq_batch *b;
  size_t cols[2] = {TARN_AL_APPLIED_AT_MS, TARN_AL_EVENT_ID};
  tarn_pq_scan_options so;
  tarn_error err;
  int64_t last_ms = INT64_MIN, last_seq = -1, nrows = 0;
  memset(&so, 0, sizeof(so));
  so.columns = cols;
  so.ncolumns = 2;
  so.row_group = -1;
  assert_int_equal(tarn_table_io_key(&f->lake.io, df->file_path, key, sizeof(key), NULL), 0);
  assert_int_equal(tarn_pq_reader_open_store(f->lake.store, key, &r, &err), 0);
  assert_int_equal(tarn_pq_scan_open(r, &so, &s, &err), 0);
  while (tarn_pq_scan_next(s, &b, &err) == 0 && b != NULL) {
    int64_t k;
    for (k = 0; k < b->nrows; k++) {
      int64_t ms = ((int64_t *)b->cols[0].values)[k];
      const char *id = (const char *)b->cols[1].data + b->cols[1].offsets[k];
      int idlen = (int)(b->cols[1].offsets[k + 1] - b->cols[1].offsets[k]);
      char idbuf[32];
      long seq;
      if (ms < last_ms)
        fail_msg("%s: row %lld applied_at_ms %lld after %lld", df->file_path,
                 (long long)(nrows + k), (long long)ms, (long long)last_ms);
      if (ms / DAY_MS != day)
        fail_msg("%s: applied_at_ms %lld not in day %lld", df->file_path, (long long)ms,
                 (long long)day);
      /* ids are "e-SEQ": equal times keep the order they were added in */
      snprintf(idbuf, sizeof(idbuf), "%.*s", idlen, id);
      seq = strtol(idbuf + 2, NULL, 10);
      assert_true(seq >= 0 && (size_t)seq < nseen);
      assert_int_equal(seen[seq][0], 0);
      seen[seq][0] = 1;
      if (ms == last_ms && seq < last_seq)
        fail_msg("%s: equal times out of insertion order (%ld after %lld)", df->file_path, seq,
                 (long long)last_seq);
      last_ms = ms;
      last_seq = seq;
    }
    nrows += b->nrows;
    tarn_pq_batch_free(b);
  }
  tarn_pq_scan_close(s);
  tarn_pq_reader_close(r);
  return nrows;
}

static void test_files_sorted_per_day(void **state) {
  fx *f = *state;
  tarn_sink_tables *st = open_tables(f);
  tarn_sink_rows rows;
  tarn_sink_offsets start = {0}, end = {0};
  tarn_sink_commit res;
  tarn_table *t;
  tarn_ice_data_file *files;
  size_t nf, i, n = 20000; /* more than one chunk of the writer */
  int64_t total = 0;
  char(*seen)[16] = calloc(n, 16);
  tarn_error err;
  int fenced;
  uint64_t x = 88172645463325252ULL;
  tarn_sink_rows_init(&rows, TARN_AL_NCOLS);
  for (i = 0; i < n; i++) {
    char id[32];
    int64_t day, ms;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    day = DAY0 + (int64_t)(x % 3);
    ms = day * DAY_MS + (int64_t)((x >> 8) % 5000) * 1000; /* many equal times */
    snprintf(id, sizeof(id), "e-%zu", i);
    add_event(&rows, id, ms);
  }
  offs1(&end, "t", 0, (int64_t)n);
  if (commit(st, TARN_AL_MAIN, &rows, &start, &end, &res, &fenced, &err) != 0)
    fail_msg("commit: %s", tarn_error_message(&err));
  assert_int_equal(res.files, 3);
  assert_int_equal(data_files_on_disk(f, "action_log"), 3);
  t = load(f, "action_log");
  assert_int_equal(tarn_table_plan(t, NULL, &files, &nf, NULL, NULL, &err), 0);
  assert_int_equal(nf, 3);
  for (i = 0; i < nf; i++) {
    int64_t day;
    assert_int_equal(files[i].sort_order_id, 1);
    assert_int_equal(files[i].npartition, 1);
    day = files[i].partition[0].i64;
    assert_true(day >= DAY0 && day < DAY0 + 3);
    assert_int_equal(check_file_sorted(f, &files[i], day, seen, n), files[i].record_count);
    total += files[i].record_count;
  }
  assert_int_equal(total, (int64_t)n);
  for (i = 0; i < n; i++)
    assert_int_equal(seen[i][0], 1);
  tarn_ice_data_files_free(files, nf);
  tarn_table_close(t);
  free(seen);
  tarn_sink_rows_free(&rows);
  tarn_sink_offsets_free(&start);
  tarn_sink_offsets_free(&end);
  tarn_sink_tables_close(st);
}

/* The DLQ: rows by seen_at day, unsorted files (no sort order id). */
static void test_commit_dlq(void **state) {
  fx *f = *state;
  tarn_sink_tables *st = open_tables(f);
  tarn_sink_rows rows;
  tarn_sink_offsets start = {0}, end = {0}, mn = {0}, dn = {0};
  tarn_sink_commit res;
  tarn_table *t;
  tarn_ice_data_file *files;
  size_t nf, i;
  tarn_error err;
  int fenced;
  tarn_sink_rows_init(&rows, TARN_DLQ_NCOLS);
  for (i = 0; i < 4; i++) {
    tarn_sink_cell *c = tarn_sink_rows_add(&rows, NULL);
    assert_non_null(c);
    assert_int_equal(tarn_sink_cell_bytes(&rows, &c[TARN_DLQ_TOPIC], "t", 1, NULL), 0);
    tarn_sink_cell_int(&c[TARN_DLQ_PARTITION], 0);
    tarn_sink_cell_int(&c[TARN_DLQ_OFFSET], (int64_t)i);
    if (i % 2 == 0)
      assert_int_equal(tarn_sink_cell_bytes(&rows, &c[TARN_DLQ_VALUE], "\xff\x00x", 3, NULL), 0);
    assert_int_equal(tarn_sink_cell_bytes(&rows, &c[TARN_DLQ_REASON], "not_json", 8, NULL), 0);
    tarn_sink_cell_int(&c[TARN_DLQ_SEEN_AT], ((DAY0 + (int64_t)i % 2) * DAY_MS) * 1000);
  }
  offs1(&end, "t", 0, 4);
  if (commit(st, TARN_AL_DLQ, &rows, &start, &end, &res, &fenced, &err) != 0)
    fail_msg("commit: %s", tarn_error_message(&err));
  assert_int_equal(res.committed, 1);
  assert_int_equal(res.files, 2);
  t = load(f, "action_log_dlq");
  assert_string_equal(summary_of(t, KEY), "{\"t\":{\"0\":4}}");
  assert_int_equal(tarn_table_plan(t, NULL, &files, &nf, NULL, NULL, &err), 0);
  assert_int_equal(nf, 2);
  for (i = 0; i < nf; i++) {
    assert_int_equal(files[i].sort_order_id, -1);
    assert_int_equal(files[i].record_count, 2);
  }
  tarn_ice_data_files_free(files, nf);
  tarn_table_close(t);
  /* the DLQ's offsets are its own */
  assert_int_equal(tarn_sink_tables_offsets(st, &mn, &dn, &err), 0);
  assert_int_equal(mn.n, 0);
  assert_int_equal(tarn_sink_offsets_get(&dn, "t", 0), 4);
  assert_int_equal(nsnapshots(f, "action_log"), 0);
  tarn_sink_rows_free(&rows);
  tarn_sink_offsets_free(&start);
  tarn_sink_offsets_free(&end);
  tarn_sink_offsets_free(&mn);
  tarn_sink_offsets_free(&dn);
  tarn_sink_tables_close(st);
}

/* A commit that fails before the swap (here: a malformed retry property, read at the
 * start of every commit) leaves no data file behind: nothing references them. */
static void test_failed_commit_leaves_no_files(void **state) {
  fx *f = *state;
  tarn_sink_tables *st = open_tables(f);
  tarn_sink_rows rows;
  tarn_sink_offsets start = {0}, end = {0};
  tarn_sink_commit res;
  tarn_table *t;
  tarn_ice_kv bad = {"commit.retry.num-retries", "lots"};
  tarn_error err;
  int fenced = -1, rc;
  make_rows(&rows, "e", 10);
  t = load(f, "action_log");
  assert_int_equal(tarn_table_set_properties(t, &bad, 1, &err), 0);
  tarn_table_close(t);
  offs1(&end, "t", 0, 10);
  rc = commit(st, TARN_AL_MAIN, &rows, &start, &end, &res, &fenced, &err);
  assert_int_not_equal(rc, 0);
  assert_int_equal(fenced, 0);
  assert_int_equal(nsnapshots(f, "action_log"), 0);
  if (data_files_on_disk(f, "action_log") != 0)
    fail_msg("a failed commit left %zu data files", data_files_on_disk(f, "action_log"));
  tarn_sink_rows_free(&rows);
  tarn_sink_offsets_free(&start);
  tarn_sink_offsets_free(&end);
  tarn_sink_tables_close(st);
}

/* A table created without the sort order (by hand, or by an older tool): the files are
 * still sorted, but must not claim sort order 1, which the table does not have. */
static void test_unsorted_table(void **state) {
  fx *f = *state;
  tarn_sink_tables *st;
  tarn_sink_rows rows;
  tarn_sink_offsets start = {0}, end = {0};
  tarn_sink_commit res;
  tarn_table *t;
  tarn_ice_data_file *files;
  const tarn_ice_metadata *m;
  size_t nf, i, k;
  tarn_error err;
  int fenced;
  create_edited(f, NULL, 0);
  st = open_tables(f);
  make_rows(&rows, "e", 10);
  offs1(&end, "t", 0, 10);
  assert_int_equal(commit(st, TARN_AL_MAIN, &rows, &start, &end, &res, &fenced, &err), 0);
  t = load(f, "action_log");
  m = tarn_table_metadata(t);
  assert_int_equal(tarn_table_plan(t, NULL, &files, &nf, NULL, NULL, &err), 0);
  assert_int_equal(nf, 1);
  for (i = 0; i < nf; i++) {
    if (files[i].sort_order_id < 0)
      continue;
    for (k = 0; k < m->nsort_orders; k++)
      if (m->sort_orders[k].order_id == files[i].sort_order_id)
        break;
    if (k == m->nsort_orders)
      fail_msg("data file claims sort order %d; the table has none such",
               (int)files[i].sort_order_id);
  }
  tarn_ice_data_files_free(files, nf);
  tarn_table_close(t);
  tarn_sink_rows_free(&rows);
  tarn_sink_offsets_free(&start);
  tarn_sink_offsets_free(&end);
  tarn_sink_tables_close(st);
}

/* A batch with offsets but no rows (all of it poison, say) still records the offsets. */
static void test_commit_no_rows(void **state) {
  fx *f = *state;
  tarn_sink_tables *st = open_tables(f);
  tarn_sink_rows rows;
  tarn_sink_offsets start = {0}, end = {0};
  tarn_sink_commit res;
  tarn_table *t;
  tarn_error err;
  int fenced;
  tarn_sink_rows_init(&rows, TARN_AL_NCOLS);
  offs1(&end, "t", 0, 10);
  if (commit(st, TARN_AL_MAIN, &rows, &start, &end, &res, &fenced, &err) != 0)
    fail_msg("commit: %s", tarn_error_message(&err));
  assert_int_equal(res.committed, 1);
  assert_int_equal(res.files, 0);
  t = load(f, "action_log");
  assert_string_equal(summary_of(t, KEY), "{\"t\":{\"0\":10}}");
  tarn_table_close(t);
  tarn_sink_rows_free(&rows);
  tarn_sink_offsets_free(&start);
  tarn_sink_offsets_free(&end);
  tarn_sink_tables_close(st);
}

/* ---- catalog faults (catalog_faulty.c) ---- */

/* Puts a faulty wrapper around the fixture's catalog (teardown destroys both). */
static void wrap_faulty(fx *f) {
  tarn_catalog *w = NULL;
  assert_int_equal(tarn_catalog_faulty_wrap(f->lake.cat, &w, NULL), 0);
  f->lake.cat = w;
}

static void add_fault(fx *f, tarn_catalog_fault_op op, tarn_catalog_fault_kind kind, int code,
                      unsigned nth, unsigned times) {
  assert_int_equal(tarn_catalog_faulty_add(f->lake.cat, op, kind, code, nth, times, NULL), 0);
}

/* Rows of the table read back through its live data files (each must exist). */
static int64_t rows_readable(fx *f, const char *name) {
  tarn_table *t = load(f, name);
  tarn_ice_data_file *files;
  size_t nf, i;
  int64_t n = 0;
  tarn_error err;
  assert_int_equal(tarn_table_plan(t, NULL, &files, &nf, NULL, NULL, &err), 0);
  for (i = 0; i < nf; i++) {
    char key[TARN_STORE_KEY_MAX + 1];
    tarn_pq_reader *r;
    assert_int_equal(tarn_table_io_key(&f->lake.io, files[i].file_path, key, sizeof(key), NULL), 0);
    if (tarn_pq_reader_open_store(f->lake.store, key, &r, &err) != 0)
      fail_msg("a live data file is unreadable: %s", tarn_error_message(&err));
    n += tarn_pq_reader_meta(r)->num_rows;
    tarn_pq_reader_close(r);
  }
  tarn_ice_data_files_free(files, nf);
  tarn_table_close(t);
  return n;
}

/* The swap is lost once (another writer's commit in between, not ours): the table
 * retries, the check runs again on the new base, and the batch lands. */
static void test_fault_lost_race_retried(void **state) {
  fx *f = *state;
  tarn_sink_tables *st;
  tarn_sink_rows rows;
  tarn_sink_offsets start = {0}, end = {0};
  tarn_sink_commit res;
  tarn_error err;
  int fenced = -1;
  wrap_faulty(f);
  st = open_tables(f);
  make_rows(&rows, "e", 10);
  offs1(&end, "t", 0, 10);
  add_fault(f, TARN_CATALOG_FAULT_COMMIT, TARN_CATALOG_FAULT_BEFORE, TARN_ECONFLICT, 1, 1);
  if (commit(st, TARN_AL_MAIN, &rows, &start, &end, &res, &fenced, &err) != 0)
    fail_msg("commit: %s", tarn_error_message(&err));
  assert_int_equal(res.committed, 1);
  assert_int_equal(res.attempts, 2);
  assert_int_equal(fenced, 0);
  assert_int_equal(nsnapshots(f, "action_log"), 1);
  assert_int_equal(rows_readable(f, "action_log"), 10);
  assert_int_equal(data_files_on_disk(f, "action_log"), 1);
  tarn_sink_rows_free(&rows);
  tarn_sink_offsets_free(&start);
  tarn_sink_offsets_free(&end);
  tarn_sink_tables_close(st);
}

/* The acknowledgement is lost but the swap happened: the table reads the catalog back
 * and reports the commit; the files stay. */
static void test_fault_unknown_outcome_happened(void **state) {
  fx *f = *state;
  tarn_sink_tables *st;
  tarn_sink_rows rows;
  tarn_sink_offsets start = {0}, end = {0};
  tarn_sink_commit res;
  tarn_error err;
  int fenced = -1;
  wrap_faulty(f);
  st = open_tables(f);
  make_rows(&rows, "e", 10);
  offs1(&end, "t", 0, 10);
  add_fault(f, TARN_CATALOG_FAULT_COMMIT, TARN_CATALOG_FAULT_AFTER, TARN_EUNKNOWN_OUTCOME, 1, 1);
  if (commit(st, TARN_AL_MAIN, &rows, &start, &end, &res, &fenced, &err) != 0)
    fail_msg("commit: %s", tarn_error_message(&err));
  assert_int_equal(res.committed, 1);
  assert_int_equal(nsnapshots(f, "action_log"), 1);
  assert_int_equal(rows_readable(f, "action_log"), 10);
  tarn_sink_rows_free(&rows);
  tarn_sink_offsets_free(&start);
  tarn_sink_offsets_free(&end);
  tarn_sink_tables_close(st);
}

/* The acknowledgement is lost and reading the catalog back fails too: the outcome stays
 * unknown. The files may be referenced (here they are), so they must stay; the retry of
 * the batch then finds it committed. */
static void test_fault_unknown_outcome_unresolved(void **state) {
  fx *f = *state;
  tarn_sink_tables *st;
  tarn_sink_rows rows;
  tarn_sink_offsets start = {0}, end = {0};
  tarn_sink_commit res;
  tarn_error err;
  int fenced = -1, rc;
  wrap_faulty(f);
  st = open_tables(f);
  make_rows(&rows, "e", 10);
  offs1(&end, "t", 0, 10);
  add_fault(f, TARN_CATALOG_FAULT_COMMIT, TARN_CATALOG_FAULT_AFTER, TARN_EUNKNOWN_OUTCOME, 1, 1);
  /* load 1: the refresh before writing; load 2: reading the outcome back */
  add_fault(f, TARN_CATALOG_FAULT_LOAD_TABLE, TARN_CATALOG_FAULT_BEFORE, TARN_EIO, 2, 1);
  rc = commit(st, TARN_AL_MAIN, &rows, &start, &end, &res, &fenced, &err);
  assert_int_equal(rc, TARN_EUNKNOWN_OUTCOME);
  assert_int_equal(fenced, 0);
  tarn_catalog_faulty_clear(f->lake.cat);
  assert_int_equal(nsnapshots(f, "action_log"), 1); /* it did happen */
  assert_int_equal(rows_readable(f, "action_log"), 10);
  /* the sink retries the batch: already there, the retry's own files removed */
  if (commit(st, TARN_AL_MAIN, &rows, &start, &end, &res, &fenced, &err) != 0)
    fail_msg("retry: %s", tarn_error_message(&err));
  assert_int_equal(res.committed, 0);
  assert_int_equal(rows_readable(f, "action_log"), 10);
  assert_int_equal(data_files_on_disk(f, "action_log"), 1);
  tarn_sink_rows_free(&rows);
  tarn_sink_offsets_free(&start);
  tarn_sink_offsets_free(&end);
  tarn_sink_tables_close(st);
}

/* A retriable failure of the swap itself: nothing committed, nothing left behind, and
 * the retry of the same batch lands. */
static void test_fault_commit_fails_then_retry(void **state) {
  fx *f = *state;
  tarn_sink_tables *st;
  tarn_sink_rows rows;
  tarn_sink_offsets start = {0}, end = {0};
  tarn_sink_commit res;
  tarn_error err;
  int fenced = -1, rc, i;
  wrap_faulty(f);
  st = open_tables(f);
  make_rows(&rows, "e", 10);
  offs1(&end, "t", 0, 10);
  add_fault(f, TARN_CATALOG_FAULT_COMMIT, TARN_CATALOG_FAULT_BEFORE, TARN_EIO, 0, 0);
  for (i = 0; i < 3; i++) {
    rc = commit(st, TARN_AL_MAIN, &rows, &start, &end, &res, &fenced, &err);
    assert_int_equal(rc, TARN_EIO);
    assert_int_equal(fenced, 0);
  }
  assert_int_equal(nsnapshots(f, "action_log"), 0);
  if (data_files_on_disk(f, "action_log") != 0)
    fail_msg("3 failed commits left %zu files", data_files_on_disk(f, "action_log"));
  tarn_catalog_faulty_clear(f->lake.cat);
  assert_int_equal(commit(st, TARN_AL_MAIN, &rows, &start, &end, &res, &fenced, &err), 0);
  assert_int_equal(res.committed, 1);
  assert_int_equal(rows_readable(f, "action_log"), 10);
  assert_int_equal(data_files_on_disk(f, "action_log"), 1);
  tarn_sink_rows_free(&rows);
  tarn_sink_offsets_free(&start);
  tarn_sink_offsets_free(&end);
  tarn_sink_tables_close(st);
}

/* ---- racing writers ---- */

typedef struct racer {
  fx *f;
  pthread_barrier_t *bar;
  const char *topic;
  int32_t partition;
  int64_t start, end;
  int open_only; /* race the opening of new tables instead */
  int rc, fenced;
  tarn_sink_commit res;
  char detail[512];
} racer;

static void *race(void *arg) {
  racer *r = arg;
  tarn_lake lake = r->f->lake;
  tarn_sink_tables *st = NULL;
  tarn_sink_rows rows;
  tarn_sink_offsets start = {0}, end = {0};
  tarn_error err;
  /* a catalog handle of its own (table.h: a handle is one thread's at a time) */
  if (tarn_catalog_sqlite_open(r->f->db, NULL, &lake.cat, &err) != 0) {
    r->rc = err.code;
    pthread_barrier_wait(r->bar);
    return NULL;
  }
  if (r->open_only)
    pthread_barrier_wait(r->bar);
  r->rc = tarn_sink_tables_open(&lake, "default", "action_log", GROUP, &st, &err);
  make_rows(&rows, r->topic, 50);
  offs1(&start, r->topic, r->partition, r->start);
  offs1(&end, r->topic, r->partition, r->end);
  if (!r->open_only)
    pthread_barrier_wait(r->bar);
  if (r->rc == 0 && !r->open_only)
    r->rc =
        tarn_sink_tables_commit(st, TARN_AL_MAIN, &rows, &start, &end, &r->res, &r->fenced, &err);
  if (r->rc != 0)
    snprintf(r->detail, sizeof(r->detail), "%s", tarn_error_message(&err));
  tarn_sink_rows_free(&rows);
  tarn_sink_offsets_free(&start);
  tarn_sink_offsets_free(&end);
  tarn_sink_tables_close(st);
  tarn_catalog_destroy(lake.cat);
  return NULL;
}

static void run_race(fx *f, racer *r, int n) {
  pthread_t th[4];
  pthread_barrier_t bar;
  int i;
  assert_true(n <= 4);
  pthread_barrier_init(&bar, NULL, (unsigned)n);
  for (i = 0; i < n; i++) {
    r[i].f = f;
    r[i].bar = &bar;
    assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
  }
  for (i = 0; i < n; i++)
    pthread_join(th[i], NULL);
  pthread_barrier_destroy(&bar);
}

static void test_race_open(void **state) {
  fx *f = *state;
  racer r[4];
  int i;
  memset(r, 0, sizeof(r));
  for (i = 0; i < 4; i++) {
    r[i].topic = "t";
    r[i].open_only = 1;
  }
  run_race(f, r, 4);
  for (i = 0; i < 4; i++)
    if (r[i].rc != 0)
      fail_msg("opener %d: %s", i, r[i].detail);
  assert_int_equal(nsnapshots(f, "action_log"), 0);
}

static void test_race_same_batch(void **state) {
  fx *f = *state;
  int round;
  tarn_sink_tables_close(open_tables(f));
  for (round = 0; round < 4; round++) {
    racer r[2];
    int i, committed = 0, other = 0;
    size_t snaps = nsnapshots(f, "action_log"), files = data_files_on_disk(f, "action_log");
    tarn_table *t;
    char want[64];
    memset(r, 0, sizeof(r));
    for (i = 0; i < 2; i++) {
      r[i].topic = "t";
      r[i].partition = 0;
      r[i].start = round == 0 ? -1 : 100 * round;
      r[i].end = 100 * (round + 1);
    }
    run_race(f, r, 2);
    for (i = 0; i < 2; i++) {
      if (r[i].rc == 0 && r[i].res.committed)
        committed++;
      else if ((r[i].rc == 0 && !r[i].res.committed) || (r[i].rc == TARN_ECONFLICT && r[i].fenced))
        other++;
      else
        fail_msg("round %d racer %d: rc %s fenced %d: %s", round, i, tarn_err_name(r[i].rc),
                 r[i].fenced, r[i].detail);
    }
    assert_int_equal(committed, 1);
    assert_int_equal(other, 1);
    assert_int_equal(nsnapshots(f, "action_log"), snaps + 1);
    /* the loser's files are gone: one commit's worth more on disk */
    assert_int_equal(data_files_on_disk(f, "action_log"), files + 1);
    t = load(f, "action_log");
    snprintf(want, sizeof(want), "{\"t\":{\"0\":%d}}", 100 * (round + 1));
    assert_string_equal(summary_of(t, KEY), want);
    tarn_table_close(t);
  }
}

static void test_race_other_partitions(void **state) {
  fx *f = *state;
  int round;
  tarn_sink_tables_close(open_tables(f));
  for (round = 0; round < 3; round++) {
    racer r[3];
    int i;
    tarn_table *t;
    tarn_sink_offsets o = {0};
    tarn_error err;
    memset(r, 0, sizeof(r));
    for (i = 0; i < 3; i++) {
      r[i].topic = "t";
      r[i].partition = i;
      r[i].start = round == 0 ? -1 : 10 * round + i;
      r[i].end = 10 * (round + 1) + i;
    }
    run_race(f, r, 3);
    for (i = 0; i < 3; i++)
      if (r[i].rc != 0 || !r[i].res.committed)
        fail_msg("round %d racer %d: rc %s committed %d: %s", round, i, tarn_err_name(r[i].rc),
                 r[i].res.committed, r[i].detail);
    t = load(f, "action_log");
    assert_int_equal(tarn_sink_offsets_parse(summary_of(t, KEY), &o, &err), 0);
    assert_int_equal(o.n, 3);
    for (i = 0; i < 3; i++)
      assert_int_equal(tarn_sink_offsets_get(&o, "t", i), 10 * (round + 1) + i);
    assert_int_equal(tarn_table_metadata(t)->nsnapshots, (size_t)(3 * (round + 1)));
    tarn_table_close(t);
    tarn_sink_offsets_free(&o);
  }
}

/* A foreign append, then snapshot expiry keeping only it: the sink's snapshots are gone,
 * and the offsets come from the table property every sink commit sets; the next batch
 * commits (not fenced, not re-read from the start). */
static void test_offsets_survive_expiry(void **state) {
  fx *f = *state;
  tarn_sink_tables *st = open_tables(f);
  tarn_sink_rows rows, more;
  tarn_sink_offsets start = {0}, end = {0}, mn = {0}, dn = {0};
  tarn_sink_commit res;
  tarn_table_expire_result xr;
  tarn_ice_data_file *files = NULL;
  tarn_table_commit_result cr;
  size_t nfiles = 0;
  tarn_table *t;
  tarn_error err;
  int fenced = -1;
  make_rows(&rows, "a", 10);
  offs1(&end, "t", 0, 10);
  assert_int_equal(commit(st, TARN_AL_MAIN, &rows, &start, &end, &res, &fenced, &err), 0);
  /* someone else appends (no sink key in that snapshot's summary), then expiry */
  t = load(f, "action_log");
  make_rows(&more, "foreign", 3);
  assert_int_equal(tarn_sink_rows_write(&more, t, -1, -1, &files, &nfiles, &err), 0);
  assert_int_equal(tarn_table_append(t, files, nfiles, NULL, 0, &cr, &err), 0);
  if (tarn_table_expire_snapshots(t, INT64_MAX, 1, &xr, &err) != 0)
    fail_msg("expire: %s", tarn_error_message(&err));
  tarn_ice_data_files_free(files, nfiles);
  assert_int_equal(tarn_table_metadata(t)->nsnapshots, 1);
  assert_null(summary_of(t, KEY));
  tarn_table_close(t);
  assert_int_equal(tarn_sink_tables_offsets(st, &mn, &dn, &err), 0);
  assert_int_equal(tarn_sink_offsets_get(&mn, "t", 0), 10);
  /* the next batch goes on from 10 */
  tarn_sink_offsets_copy(&start, &end, NULL);
  offs1(&end, "t", 0, 20);
  tarn_sink_rows_free(&rows);
  make_rows(&rows, "b", 10);
  if (commit(st, TARN_AL_MAIN, &rows, &start, &end, &res, &fenced, &err) != 0)
    fail_msg("commit after expiry: %s", tarn_error_message(&err));
  assert_int_equal(fenced, 0);
  assert_int_equal(res.committed, 1);
  tarn_sink_rows_free(&rows);
  tarn_sink_rows_free(&more);
  tarn_sink_offsets_free(&start);
  tarn_sink_offsets_free(&end);
  tarn_sink_offsets_free(&mn);
  tarn_sink_offsets_free(&dn);
  tarn_sink_tables_close(st);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_open_creates_layout),
      T(test_open_again_loads),
      T(test_open_refuses_other_layouts),
      T(test_extra_optional_column),
      T(test_reordered_columns),
      T(test_commit_first_then_already),
      T(test_commit_fenced),
      T(test_commit_partitions_merge),
      T(test_files_sorted_per_day),
      T(test_commit_dlq),
      T(test_failed_commit_leaves_no_files),
      T(test_unsorted_table),
      T(test_commit_no_rows),
      T(test_fault_lost_race_retried),
      T(test_fault_unknown_outcome_happened),
      T(test_fault_unknown_outcome_unresolved),
      T(test_fault_commit_fails_then_retry),
      T(test_race_open),
      T(test_race_same_batch),
      T(test_race_other_partitions),
      T(test_offsets_survive_expiry),
  };
  tarn_log_set_level(TARN_LOG_ERROR);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
