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

typedef temp_lake_fx fx;

static int setup(void **state) { return temp_lake_setup(state, "tarn-journal-table"); }

static int teardown(void **state) { return temp_lake_teardown(state); }

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

/* Rows read back are in (entity_id, timestamp) order: the files, in the order the scan
 * reads them, are one sorted sequence. */
static void assert_sorted(char (*got)[16], const int64_t *ts, size_t n) {
  size_t i;
  for (i = 1; i < n; i++) {
    int c = strcmp(got[i - 1], got[i]);
    if (!(c < 0 || (c == 0 && ts[i - 1] <= ts[i])))
      fail_msg("row %zu (%s, %lld) after (%s, %lld)", i, got[i], (long long)ts[i], got[i - 1],
               (long long)ts[i - 1]);
  }
}

static void test_created_and_appended_sorted(void **state) {
  fx *f = *state;
  tarn_journal_table *jt;
  tarn_journal_table_commit res;
  tarn_error err;
  char ids[30][32], ents[30][16], got[64][16];
  int64_t ts[64], seq[64];
  uint64_t have;
  size_t n;
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
  assert_sorted(got, ts, n);
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

/* The seq numbers of an entity's history, sorted, as text ("3,6,9"). */
static void history_of(tarn_journal_table *jt, const char *entity, char *out, size_t n) {
  tarn_journal_event *ev;
  size_t k, i, j, at = 0;
  tarn_error err;
  if (tarn_journal_table_history(jt, entity, NULL, INT64_MIN, INT64_MAX, &ev, &k, &err) != 0)
    fail_msg("history: %s", tarn_error_message(&err));
  for (i = 1; i < k; i++) /* insertion sort by seq */
    for (j = i; j > 0 && ev[j - 1].seq > ev[j].seq; j--) {
      tarn_journal_event x = ev[j];
      ev[j] = ev[j - 1];
      ev[j - 1] = x;
    }
  out[0] = '\0';
  for (i = 0; i < k; i++)
    at += (size_t)snprintf(out + at, n - at, "%s%llu", i ? "," : "", (unsigned long long)ev[i].seq);
  tarn_journal_events_free(ev, k);
}

static const char *current_operation(fx *f) {
  static char op[32];
  tarn_table *t;
  tarn_error err;
  const tarn_ice_metadata *m;
  assert_int_equal(tarn_table_load(f->lake.cat, &f->lake.io, "system", "journal", &t, &err), 0);
  m = tarn_table_metadata(t);
  snprintf(op, sizeof(op), "%s", tarn_ice_metadata_snapshot(m, m->current_snapshot_id)->operation);
  tarn_table_close(t);
  return op;
}

/* Eight flushes, then compactions: within max_memory (at least two files a round), every
 * event once, sorted, the WAL number kept, history the same, a "replace" snapshot. */
static void test_compaction_merges_small_files(void **state) {
  fx *f = *state;
  tarn_journal_table *jt;
  tarn_journal_table_commit res;
  tarn_journal_compact_options o;
  tarn_journal_compact_result cr;
  tarn_error err;
  char ids[240][32], ents[240][16], got[300][16], before[3][2048], after[2048];
  int64_t ts[300], seq[300];
  uint64_t have;
  size_t files, small, i, n;
  tarn_journal_event *ev = events(1, 240, ids, ents);
  assert_int_equal(tarn_journal_table_open(&f->lake, &jt, &err), 0);
  for (i = 0; i < 8; i++)
    if (tarn_journal_table_append(jt, ev + i * 30, 30, &res, &err) != 0)
      fail_msg("append: %s", tarn_error_message(&err));
  assert_int_equal(tarn_journal_table_files(jt, 0, 0, &files, &small, &err), 0);
  assert_int_equal(files, 8);
  assert_int_equal(small, 8);
  for (i = 0; i < 3; i++) {
    char e[8];
    snprintf(e, sizeof(e), "e-%zu", i);
    history_of(jt, e, before[i], sizeof(before[i]));
  }
  /* fewer small files than min_files: nothing */
  memset(&o, 0, sizeof(o));
  o.min_files = 9;
  assert_int_equal(tarn_journal_table_compact(jt, &o, &cr, &err), 0);
  assert_int_equal(cr.files_in, 0);
  assert_int_equal(cr.small_files_left, 8);
  o.min_files = 0;
  { /* a daemon shutting down: stopped, nothing changed */
    _Atomic int stop = 1;
    o.stop = &stop;
    assert_int_equal(tarn_journal_table_compact(jt, &o, &cr, &err), TARN_EBUSY);
    assert_non_null(strstr(tarn_error_message(&err), "nothing changed"));
    assert_int_equal(tarn_journal_table_files(jt, 0, 0, &files, &small, &err), 0);
    assert_int_equal(files, 8);
    o.stop = NULL;
  }
  /* a tiny memory budget: two files a round */
  o.max_memory = 1;
  o.small_bytes = 1 << 30; /* (else a sixteenth of max_memory) */
  if (tarn_journal_table_compact(jt, &o, &cr, &err) != 0)
    fail_msg("compact: %s", tarn_error_message(&err));
  assert_int_equal(cr.files_in, 2);
  assert_int_equal(cr.files_out, 1);
  assert_int_equal(cr.events, 60);
  assert_int_equal(cr.small_files_left, 7);
  assert_string_equal(current_operation(f), "replace");
  /* then everything */
  o.max_memory = 0;
  o.small_bytes = 0;
  if (tarn_journal_table_compact(jt, &o, &cr, &err) != 0)
    fail_msg("compact: %s", tarn_error_message(&err));
  assert_int_equal(cr.files_in, 7);
  assert_int_equal(cr.files_out, 1);
  assert_int_equal(cr.events, 240);
  assert_true(cr.bytes_out > 0 && cr.bytes_in > cr.bytes_out);
  assert_int_equal(tarn_journal_table_files(jt, 0, 0, &files, &small, &err), 0);
  assert_int_equal(files, 1);
  /* one file now: nothing more to merge */
  assert_int_equal(tarn_journal_table_compact(jt, &o, &cr, &err), 0);
  assert_int_equal(cr.files_in, 0);
  n = read_back(f, got, ts, seq, 300);
  assert_int_equal(n, 240);
  assert_sorted(got, ts, n);
  {
    char seen[241];
    memset(seen, 0, sizeof(seen));
    for (i = 0; i < n; i++) {
      assert_true(seq[i] >= 1 && seq[i] <= 240);
      assert_int_equal(seen[seq[i]]++, 0);
    }
  }
  for (i = 0; i < 3; i++) {
    char e[8];
    snprintf(e, sizeof(e), "e-%zu", i);
    history_of(jt, e, after, sizeof(after));
    assert_string_equal(after, before[i]);
  }
  assert_int_equal(tarn_journal_table_seq(jt, &have, &err), 0);
  assert_int_equal(have, 240);
  /* flushes go on after it: the number still guards them */
  assert_int_equal(tarn_journal_table_append(jt, ev + 210, 30, &res, &err), 0);
  assert_false(res.committed);
  tarn_journal_table_close(jt);
  free(ev);
}

/* Runs of several files: output split at entity boundaries into entity-disjoint files,
 * taken as one sorted run by the next compaction; the run sizes decide what merges. */
static void test_compaction_runs_of_many_files(void **state) {
  fx *f = *state;
  tarn_journal_table *jt;
  tarn_journal_table_commit res;
  tarn_journal_compact_options o;
  tarn_journal_compact_result cr;
  tarn_error err;
  char ids[300][32], ents[300][16], got[400][16], before[3][4096], after[4096];
  int64_t ts[400], seq[400];
  size_t files, small, i, n;
  tarn_journal_event *ev = events(1, 300, ids, ents);
  for (i = 0; i < 300; i++) /* 30 entities */
    snprintf(ents[i], 16, "e-%02zu", (i * 7) % 30);
  assert_int_equal(tarn_journal_table_open(&f->lake, &jt, &err), 0);
  for (i = 0; i < 4; i++)
    assert_int_equal(tarn_journal_table_append(jt, ev + i * 50, 50, &res, &err), 0);
  for (i = 0; i < 3; i++) {
    char e[8];
    snprintf(e, sizeof(e), "e-%02zu", i * 11);
    history_of(jt, e, before[i], sizeof(before[i]));
  }
  memset(&o, 0, sizeof(o));
  o.file_rows = 40; /* 200 rows: five files or so, never an entity split */
  if (tarn_journal_table_compact(jt, &o, &cr, &err) != 0)
    fail_msg("compact: %s", tarn_error_message(&err));
  assert_int_equal(cr.files_in, 4);
  assert_true(cr.files_out >= 4 && cr.files_out <= 6);
  assert_int_equal(cr.events, 200);
  /* one flush next to the big run (more than twice its size): nothing to merge */
  assert_int_equal(tarn_journal_table_append(jt, ev + 200, 50, &res, &err), 0);
  assert_int_equal(tarn_journal_table_compact(jt, &o, &cr, &err), 0);
  assert_int_equal(cr.files_in, 0);
  /* two flushes: 100 rows, and the big run is at most twice that: all of it merges */
  assert_int_equal(tarn_journal_table_append(jt, ev + 250, 50, &res, &err), 0);
  if (tarn_journal_table_compact(jt, &o, &cr, &err) != 0)
    fail_msg("compact: %s", tarn_error_message(&err));
  assert_true(cr.files_in >= 6); /* the two flushes and every file of the big run */
  assert_int_equal(cr.events, 300);
  assert_int_equal(tarn_journal_table_files(jt, 0, 0, &files, &small, &err), 0);
  assert_int_equal(files, cr.files_out);
  n = read_back(f, got, ts, seq, 400);
  assert_int_equal(n, 300);
  {
    char seen[301];
    memset(seen, 0, sizeof(seen));
    for (i = 0; i < n; i++) {
      assert_true(seq[i] >= 1 && seq[i] <= 300);
      assert_int_equal(seen[seq[i]]++, 0);
    }
  }
  assert_sorted(got, ts, n);
  for (i = 0; i < 3; i++) { /* the first 200 events' history is a prefix of the whole */
    char e[8];
    snprintf(e, sizeof(e), "e-%02zu", i * 11);
    history_of(jt, e, after, sizeof(after));
    assert_int_equal(strncmp(after, before[i], strlen(before[i])), 0);
  }
  tarn_journal_table_close(jt);
  free(ev);
}

/* A rewrite is checked inside the swap: one built on a stale view keeps the files added
 * meanwhile; one whose files another rewrite removed is refused and changes nothing. */
static void test_rewrite_races(void **state) {
  fx *f = *state;
  tarn_journal_table *jt;
  tarn_journal_table_commit res;
  tarn_table *t1, *t2;
  tarn_ice_data_file *files;
  tarn_table_commit_result cr;
  tarn_error err;
  char ids[90][32], ents[90][16], got[128][16];
  int64_t ts[128], seq[128];
  size_t nf, n1, n2;
  const char *rm1[2], *rm2[2];
  tarn_journal_event *ev = events(1, 90, ids, ents);
  assert_int_equal(tarn_journal_table_open(&f->lake, &jt, &err), 0);
  assert_int_equal(tarn_journal_table_append(jt, ev, 30, &res, &err), 0);
  assert_int_equal(tarn_journal_table_append(jt, ev + 30, 30, &res, &err), 0);
  assert_int_equal(tarn_table_load(f->lake.cat, &f->lake.io, "system", "journal", &t1, &err), 0);
  assert_int_equal(tarn_table_load(f->lake.cat, &f->lake.io, "system", "journal", &t2, &err), 0);
  assert_int_equal(tarn_table_plan(t1, NULL, &files, &nf, NULL, NULL, &err), 0);
  assert_int_equal(nf, 2);
  rm1[0] = files[0].file_path;
  rm2[0] = files[0].file_path;
  rm2[1] = files[1].file_path;
  /* a flush lands after both handles loaded */
  assert_int_equal(tarn_journal_table_append(jt, ev + 60, 30, &res, &err), 0);
  /* t1 (stale) removes file 0, adding nothing: re-applied on the new base, the flush's
   * file stays */
  if (tarn_table_rewrite_files(t1, rm1, 1, NULL, 0, NULL, 0, NULL, NULL, &cr, &err) != 0)
    fail_msg("rewrite: %s", tarn_error_message(&err));
  n1 = read_back(f, got, ts, seq, 128);
  assert_int_equal(n1, 60);
  /* t2 (stale) removes files 0 and 1: file 0 is gone, so nothing happens */
  assert_int_equal(tarn_table_rewrite_files(t2, rm2, 2, NULL, 0, NULL, 0, NULL, NULL, &cr, &err),
                   TARN_ECONFLICT);
  assert_non_null(strstr(tarn_error_message(&err), "no longer live"));
  n2 = read_back(f, got, ts, seq, 128);
  assert_int_equal(n2, 60);
  /* naming a file twice is a caller's mistake */
  rm2[1] = rm2[0];
  assert_int_equal(tarn_table_rewrite_files(t2, rm2, 2, NULL, 0, NULL, 0, NULL, NULL, &cr, &err),
                   TARN_EINVAL);
  tarn_ice_data_files_free(files, nf);
  tarn_table_close(t1);
  tarn_table_close(t2);
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
      cmocka_unit_test_setup_teardown(test_compaction_merges_small_files, setup, teardown),
      cmocka_unit_test_setup_teardown(test_compaction_runs_of_many_files, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rewrite_races, setup, teardown),
      cmocka_unit_test_setup_teardown(test_another_layout_is_refused, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
