/* test_journal_table.c - system.journal on a real temp lake (journal/journal_table.c):
 * created with its layout, events appended sorted by entity and time with their WAL
 * sequence number recorded inside the compare-and-swap, a repeated flush committing
 * nothing, an overlapping one refused, a table of another layout refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "journal/journal_table.h"
#include "store/store.h"
#include "table/lake.h"
#include "table/scan.h"
#include "table/table.h"

#include "support/temp_lake.h"

typedef struct fx {
  char dir[64];
  tarn_lake lake;
} fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof(*f));
  snprintf(f->dir, sizeof(f->dir), "/tmp/tarn-journal-table-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  assert_int_equal(temp_lake_open(f->dir, &f->lake), 0);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  char cmd[128];
  temp_lake_close(&f->lake);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
  assert_int_equal(system(cmd), 0);
  free(f);
  return 0;
}

/* n events, seq from first; entity e-(i % 3), timestamps going down so that the sort has
 * work to do; every third one with values and a workspace. */
static tarn_journal_event *events(uint64_t first, size_t n, char (*ids)[32], char (*ents)[16]) {
  tarn_journal_event *ev = calloc(n, sizeof(*ev));
  size_t i;
  for (i = 0; i < n; i++) {
    snprintf(ids[i], 32, "ev-%llu", (unsigned long long)(first + i));
    snprintf(ents[i], 16, "e-%zu", i % 3);
    ev[i].event_id = ids[i];
    ev[i].ts_us = INT64_C(1767225600000000) - (int64_t)i;
    ev[i].entity_type = "order";
    ev[i].entity_id = ents[i];
    ev[i].field = i % 3 == 0 ? "qty" : "*";
    ev[i].action = i % 3 == 0 ? TARN_JA_UPDATE : TARN_JA_INSERT;
    ev[i].old_value = i % 3 == 0 ? "1" : NULL;
    ev[i].new_value = i % 3 == 0 ? "{\"a\":[2]}" : NULL;
    ev[i].actor = "ana";
    ev[i].source = TARN_JS_API;
    ev[i].workspace_id = i % 3 == 0 ? "ws" : NULL;
    ev[i].seq = first + i;
  }
  return ev;
}

/* Reads (entity_id, timestamp, seq) of every row, in file order. */
static size_t read_back(fx *f, char (*ent)[16], int64_t *ts, int64_t *seq, size_t max) {
  tarn_table *t;
  tarn_table_scan_spec spec;
  tarn_table_scan *s;
  const tarn_table_batch *b;
  int32_t ids[3] = {TARN_JT_ENTITY_ID, TARN_JT_TIMESTAMP, TARN_JT_SEQ};
  tarn_error err;
  size_t n = 0;
  assert_int_equal(tarn_table_load(f->lake.cat, &f->lake.io, "system", "journal", &t, &err), 0);
  memset(&spec, 0, sizeof(spec));
  spec.snapshot_id = -1;
  spec.as_of_ms = -1;
  spec.field_ids = ids;
  spec.nfield_ids = 3;
  if (tarn_table_scan_open(t, &spec, &s, &err) != 0)
    fail_msg("scan: %s", tarn_error_message(&err));
  while (tarn_table_scan_next(s, &b, &err) == 0 && b != NULL) {
    int64_t i;
    for (i = 0; i < b->nrows && n < max; i++, n++) {
      tarn_ice_value v;
      tarn_ice_value_from_array(&b->fields[0].type, &b->layout[0], &b->cols[0], i, &v);
      snprintf(ent[n], 16, "%.*s", (int)v.len, (const char *)v.bytes);
      tarn_ice_value_from_array(&b->fields[1].type, &b->layout[1], &b->cols[1], i, &v);
      ts[n] = v.i64;
      tarn_ice_value_from_array(&b->fields[2].type, &b->layout[2], &b->cols[2], i, &v);
      seq[n] = v.i64;
    }
  }
  tarn_table_scan_close(s);
  tarn_table_close(t);
  return n;
}

static void test_created_and_appended_sorted(void **state) {
  fx *f = *state;
  tarn_journal_table *jt;
  tarn_journal_table_commit res;
  tarn_error err;
  char ids[30][32], ents[30][16], got[64][16];
  int64_t ts[64], seq[64];
  uint64_t have;
  size_t n, i;
  tarn_journal_event *ev = events(1, 30, ids, ents);
  if (tarn_journal_table_open(&f->lake, &jt, &err) != 0)
    fail_msg("open: %s", tarn_error_message(&err));
  assert_int_equal(tarn_journal_table_seq(jt, &have, &err), 0);
  assert_int_equal(have, 0);
  if (tarn_journal_table_append(jt, ev, 30, &res, &err) != 0)
    fail_msg("append: %s", tarn_error_message(&err));
  assert_true(res.committed);
  assert_true(res.files >= 1);
  assert_int_equal(tarn_journal_table_seq(jt, &have, &err), 0);
  assert_int_equal(have, 30);
  n = read_back(f, got, ts, seq, 64);
  assert_int_equal(n, 30);
  for (i = 1; i < n; i++) { /* (entity_id, timestamp) ascending */
    int c = strcmp(got[i - 1], got[i]);
    assert_true(c < 0 || (c == 0 && ts[i - 1] <= ts[i]));
  }
  assert_string_equal(got[0], "e-0");
  assert_int_equal(seq[0], 28); /* e-0's latest seq has the earliest timestamp */

  /* the same flush again (a retry after an unknown outcome, or a replay): nothing */
  assert_int_equal(tarn_journal_table_append(jt, ev, 30, &res, &err), 0);
  assert_false(res.committed);
  assert_int_equal(read_back(f, got, ts, seq, 64), 30);
  /* a flush overlapping what the table holds: another writer */
  assert_int_equal(tarn_journal_table_append(jt, ev + 20, 10, &res, &err), 0); /* 21..30 */
  assert_false(res.committed);
  {
    char ids2[20][32], ents2[20][16];
    tarn_journal_event *ev2 = events(25, 10, ids2, ents2); /* 25..34 */
    assert_int_equal(tarn_journal_table_append(jt, ev2, 10, &res, &err), TARN_ECONFLICT);
    assert_non_null(strstr(tarn_error_message(&err), "another process flushes this journal"));
    free(ev2);
    ev2 = events(31, 5, ids2, ents2); /* the next flush goes on */
    assert_int_equal(tarn_journal_table_append(jt, ev2, 5, &res, &err), 0);
    assert_true(res.committed);
    free(ev2);
  }
  assert_int_equal(read_back(f, got, ts, seq, 64), 35);
  assert_int_equal(tarn_journal_table_seq(jt, &have, &err), 0);
  assert_int_equal(have, 35);
  tarn_journal_table_close(jt);
  /* opened again: the table is there, with its number */
  assert_int_equal(tarn_journal_table_open(&f->lake, &jt, &err), 0);
  assert_int_equal(tarn_journal_table_seq(jt, &have, &err), 0);
  assert_int_equal(have, 35);
  tarn_journal_table_close(jt);
  free(ev);
}

static void test_another_layout_is_refused(void **state) {
  fx *f = *state;
  tarn_journal_table *jt;
  tarn_ice_schema schema;
  tarn_table *t;
  tarn_error err;
  memset(&schema, 0, sizeof(schema));
  schema.fields = calloc(1, sizeof(*schema.fields));
  schema.fields[0].id = 1;
  schema.fields[0].name = strdup("event_id");
  schema.fields[0].type.id = TARN_ICE_LONG;
  schema.nfields = 1;
  assert_int_equal(tarn_catalog_create_namespace(f->lake.cat, "system", NULL, 0, &err), 0);
  assert_int_equal(tarn_table_create(f->lake.cat, &f->lake.io, "system", "journal", &schema, NULL,
                                     NULL, NULL, 0, NULL, &t, &err),
                   0);
  tarn_table_close(t);
  tarn_ice_schema_free(&schema);
  assert_int_equal(tarn_journal_table_open(&f->lake, &jt, &err), TARN_ESCHEMA);
  assert_non_null(strstr(tarn_error_message(&err), "column \"event_id\""));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_created_and_appended_sorted, setup, teardown),
      cmocka_unit_test_setup_teardown(test_another_layout_is_refused, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
