/* test_sink_offsets.c - the Kafka offsets the sink keeps in snapshot summaries: the text
 * form, merging, and reading them back through a table's ancestry (sink/offsets). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "sink/offsets.h"

static char *format(const tarn_sink_offsets *o) {
  tarn_buf b;
  tarn_error err;
  tarn_buf_init(&b, TARN_BUF_UNLIMITED);
  if (tarn_sink_offsets_format(o, &b, &err) != 0)
    fail_msg("format: %s", tarn_error_message(&err));
  assert_int_equal(tarn_buf_append_byte(&b, 0, NULL), 0);
  return tarn_buf_detach(&b);
}

static void set(tarn_sink_offsets *o, const char *topic, int32_t p, int64_t next) {
  assert_int_equal(tarn_sink_offsets_set(o, topic, p, next, NULL), 0);
}

/* ---- the text form ---- */

static void test_format_sorted_round_trip(void **state) {
  tarn_sink_offsets o = {0}, back = {0};
  tarn_error err;
  char *text, *again;
  (void)state;
  set(&o, "t2", 3, 5);
  set(&o, "t1", 10, 100);
  set(&o, "t1", 2, 7);
  set(&o, "t1", 0, 0);
  set(&o, "a.b-c_d", 2147483647, INT64_MAX);
  set(&o, "t1", 1, 1);
  set(&o, "t1", 1, 11); /* replaced, not added */
  assert_int_equal(o.n, 6);
  text = format(&o);
  /* topics by name, partitions by number (2 before 10) */
  assert_string_equal(text, "{\"a.b-c_d\":{\"2147483647\":9223372036854775807},"
                            "\"t1\":{\"0\":0,\"1\":11,\"2\":7,\"10\":100},\"t2\":{\"3\":5}}");
  /* formatting does not reorder the caller's entries */
  assert_string_equal(o.v[0].topic, "t2");
  assert_int_equal(tarn_sink_offsets_parse(text, &back, &err), 0);
  assert_int_equal(back.n, 6);
  assert_int_equal(tarn_sink_offsets_get(&back, "t1", 0), 0);
  assert_int_equal(tarn_sink_offsets_get(&back, "t1", 1), 11);
  assert_int_equal(tarn_sink_offsets_get(&back, "t1", 2), 7);
  assert_int_equal(tarn_sink_offsets_get(&back, "t1", 10), 100);
  assert_int_equal(tarn_sink_offsets_get(&back, "t2", 3), 5);
  assert_int_equal(tarn_sink_offsets_get(&back, "a.b-c_d", 2147483647), INT64_MAX);
  assert_int_equal(tarn_sink_offsets_get(&back, "t2", 0), -1);
  assert_int_equal(tarn_sink_offsets_get(&back, "t3", 3), -1);
  again = format(&back);
  assert_string_equal(again, text);
  free(again);
  free(text);
  tarn_sink_offsets_free(&back);
  tarn_sink_offsets_free(&o);
}

static void test_format_empty_and_none(void **state) {
  tarn_sink_offsets o = {0}, back = {0};
  tarn_error err;
  char *text;
  (void)state;
  text = format(&o);
  assert_string_equal(text, "{}");
  free(text);
  /* -1 (none) is not written, and a topic with nothing else is left out */
  set(&o, "gone", 0, -1);
  set(&o, "t", 0, -1);
  set(&o, "t", 1, 4);
  text = format(&o);
  assert_string_equal(text, "{\"t\":{\"1\":4}}");
  assert_int_equal(tarn_sink_offsets_parse(text, &back, &err), 0);
  assert_int_equal(back.n, 1);
  free(text);
  /* parse empties what the target held */
  assert_int_equal(tarn_sink_offsets_parse("{}", &back, &err), 0);
  assert_int_equal(back.n, 0);
  /* topic names JSON must escape */
  tarn_sink_offsets_clear(&o);
  set(&o, "q\"uo\\te", 1, 2);
  text = format(&o);
  assert_string_equal(text, "{\"q\\\"uo\\\\te\":{\"1\":2}}");
  assert_int_equal(tarn_sink_offsets_parse(text, &back, &err), 0);
  assert_int_equal(tarn_sink_offsets_get(&back, "q\"uo\\te", 1), 2);
  free(text);
  tarn_sink_offsets_free(&back);
  tarn_sink_offsets_free(&o);
}

static void test_parse_rejects(void **state) {
  static const struct {
    const char *text;
    const char *want;
  } cases[] = {
      {"", "not a JSON object"},
      {"{", "not a JSON object"},
      {"[]", "not a JSON object"},
      {"[{\"t\":{\"0\":1}}]", "not a JSON object"},
      {"7", "not a JSON object"},
      {"\"{}\"", "not a JSON object"},
      {"null", "not a JSON object"},
      {"{\"t\":{\"0\":1}} x", "not a JSON object"},
      {"{\"t\":[1,2]}", "topic \"t\" is not an object"},
      {"{\"t\":5}", "topic \"t\" is not an object"},
      {"{\"t\":null}", "topic \"t\" is not an object"},
      {"{\"t\":{\"0\":-1}}", "partition \"0\""},
      {"{\"t\":{\"0\":-9223372036854775808}}", "partition \"0\""},
      {"{\"t\":{\"x\":1}}", "partition \"x\""},
      {"{\"t\":{\"\":1}}", "partition \"\""},
      {"{\"t\":{\"-1\":1}}", "partition \"-1\""},
      {"{\"t\":{\"2147483648\":1}}", "partition \"2147483648\""},
      {"{\"t\":{\"99999999999999999999\":1}}", "partition \"99999999999999999999\""},
      {"{\"t\":{\"1x\":1}}", "partition \"1x\""},
      {"{\"t\":{\"0\":1.5}}", "partition \"0\""},
      {"{\"t\":{\"0\":\"1\"}}", "partition \"0\""},
      {"{\"t\":{\"0\":null}}", "partition \"0\""},
      {"{\"t\":{\"0\":true}}", "partition \"0\""},
      /* numbers that are not the canonical form format writes: "01" and "1" would be two
       * keys for one partition, one of them silently lost */
      {"{\"t\":{\"01\":1}}", "partition \"01\""},
      {"{\"t\":{\"+1\":1}}", "partition \"+1\""},
      {"{\"t\":{\" 1\":1}}", "partition \" 1\""},
      {"{\"t\":{\"1 \":1}}", "partition \"1 \""},
      /* the same partition twice: which one holds is anybody's guess */
      {"{\"t\":{\"1\":5,\"1\":9}}", "duplicate"},
      {"{\"t\":{\"1\":5},\"t\":{\"2\":9}}", "duplicate"},
      /* a good topic first, then a bad one: still refused */
      {"{\"a\":{\"0\":1},\"b\":{\"0\":-2}}", "topic \"b\""},
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    tarn_sink_offsets o = {0};
    tarn_error err;
    int rc;
    set(&o, "stale", 0, 1);
    rc = tarn_sink_offsets_parse(cases[i].text, &o, &err);
    if (rc != TARN_ECORRUPT)
      fail_msg("case %zu %s: rc %s, want TARN_ECORRUPT", i, cases[i].text, tarn_err_name(rc));
    assert_int_equal(err.code, TARN_ECORRUPT);
    if (strstr(err.detail, cases[i].want) == NULL)
      fail_msg("case %zu %s: detail \"%s\" lacks \"%s\"", i, cases[i].text, err.detail,
               cases[i].want);
    assert_non_null(strstr(err.detail, "sink offsets"));
    assert_int_equal(tarn_sink_offsets_get(&o, "stale", 0), -1); /* never the old state */
    tarn_sink_offsets_free(&o);
  }
  /* the boundaries that are fine */
  {
    tarn_sink_offsets o = {0};
    tarn_error err;
    assert_int_equal(
        tarn_sink_offsets_parse("{\"t\":{\"0\":0,\"2147483647\":9223372036854775807}}", &o, &err),
        0);
    assert_int_equal(tarn_sink_offsets_get(&o, "t", 0), 0);
    assert_int_equal(tarn_sink_offsets_get(&o, "t", INT32_MAX), INT64_MAX);
    assert_int_equal(tarn_sink_offsets_parse(" { \"\" : { } } ", &o, &err), 0);
    assert_int_equal(o.n, 0);
    tarn_sink_offsets_free(&o);
  }
}

static void test_merge_copy(void **state) {
  tarn_sink_offsets o = {0}, from = {0}, dst = {0};
  tarn_error err;
  (void)state;
  set(&o, "t", 0, 5);
  set(&o, "t", 1, 7);
  set(&from, "t", 1, 9);
  set(&from, "u", 0, 1);
  assert_int_equal(tarn_sink_offsets_merge(&o, &from, &err), 0);
  assert_int_equal(o.n, 3);
  assert_int_equal(tarn_sink_offsets_get(&o, "t", 0), 5);
  assert_int_equal(tarn_sink_offsets_get(&o, "t", 1), 9);
  assert_int_equal(tarn_sink_offsets_get(&o, "u", 0), 1);
  assert_int_equal(from.n, 2); /* from is not touched */
  assert_int_equal(tarn_sink_offsets_get(&from, "t", 1), 9);
  /* merging nothing, and into nothing */
  assert_int_equal(tarn_sink_offsets_merge(&o, &dst, &err), 0);
  assert_int_equal(o.n, 3);
  assert_int_equal(tarn_sink_offsets_merge(&dst, &o, &err), 0);
  assert_int_equal(dst.n, 3);
  /* copy replaces */
  set(&dst, "extra", 0, 1);
  assert_int_equal(tarn_sink_offsets_copy(&dst, &from, &err), 0);
  assert_int_equal(dst.n, 2);
  assert_int_equal(tarn_sink_offsets_get(&dst, "extra", 0), -1);
  assert_int_equal(tarn_sink_offsets_get(&dst, "u", 0), 1);
  /* copy to itself keeps nothing stale and does not crash: from a copy */
  {
    tarn_sink_offsets many = {0};
    char topic[16];
    int k;
    for (k = 0; k < 100; k++) {
      snprintf(topic, sizeof(topic), "topic-%d", k % 10);
      set(&many, topic, k, k * 10);
    }
    assert_int_equal(many.n, 100);
    assert_int_equal(tarn_sink_offsets_merge(&o, &many, &err), 0);
    assert_int_equal(o.n, 103);
    assert_int_equal(tarn_sink_offsets_get(&o, "topic-3", 93), 930);
    tarn_sink_offsets_free(&many);
  }
  tarn_sink_offsets_free(&dst);
  tarn_sink_offsets_free(&from);
  tarn_sink_offsets_free(&o);
}

static void test_key(void **state) {
  char key[64], big[400];
  tarn_error err;
  (void)state;
  assert_int_equal(tarn_sink_offsets_key("action-log-sink", key, sizeof(key), &err), 0);
  assert_string_equal(key, "tarn.sink.offsets.action-log-sink");
  memset(big, 'g', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  assert_int_equal(tarn_sink_offsets_key(big, key, sizeof(key), &err), TARN_ETOOBIG);
  assert_non_null(strstr(err.detail, "399"));
  /* exactly fitting */
  assert_int_equal(tarn_sink_offsets_key("ab", key, strlen("tarn.sink.offsets.ab") + 1, &err), 0);
  assert_int_equal(tarn_sink_offsets_key("abc", key, strlen("tarn.sink.offsets.ab") + 1, &err),
                   TARN_ETOOBIG);
}

/* ---- through a table's ancestry ---- */

#define KEY "tarn.sink.offsets.g"

/* Snapshots built by hand: id, parent, and at most two summary entries. */
typedef struct snap_def {
  int64_t id, parent;
  const char *k1, *v1, *k2, *v2;
} snap_def;

typedef struct md_fx {
  tarn_ice_metadata m;
  tarn_ice_snapshot snaps[8];
  tarn_ice_kv kv[8][2];
} md_fx;

static void build(md_fx *f, int64_t current, const snap_def *defs, size_t n) {
  size_t i;
  memset(f, 0, sizeof(*f));
  assert_true(n <= 8);
  for (i = 0; i < n; i++) {
    tarn_ice_snapshot *s = &f->snaps[i];
    s->snapshot_id = defs[i].id;
    s->parent_id = defs[i].parent;
    s->sequence_number = (int64_t)i + 1;
    s->timestamp_ms = 1000 * defs[i].id; /* bigger id, newer */
    s->schema_id = 0;
    s->operation = "append";
    s->summary = f->kv[i];
    if (defs[i].k1 != NULL) {
      f->kv[i][s->nsummary].key = (char *)defs[i].k1;
      f->kv[i][s->nsummary++].value = (char *)defs[i].v1;
    }
    if (defs[i].k2 != NULL) {
      f->kv[i][s->nsummary].key = (char *)defs[i].k2;
      f->kv[i][s->nsummary++].value = (char *)defs[i].v2;
    }
  }
  f->m.format_version = 2;
  f->m.snapshots = f->snaps;
  f->m.nsnapshots = n;
  f->m.current_snapshot_id = current;
}

static int read_md(const md_fx *f, tarn_sink_offsets *o, int *found, tarn_error *err) {
  *found = -1;
  return tarn_sink_offsets_from_metadata(&f->m, KEY, o, found, err);
}

static void test_ancestry_older_ancestor(void **state) {
  /* 100 <- 200 <- 300 (current); 900 branches off 100 and is newer, with another value */
  static const snap_def defs[] = {
      {900, 100, KEY, "{\"t\":{\"0\":999}}", NULL, NULL},
      {100, -1, "added-records", "10", KEY, "{\"t\":{\"0\":10,\"1\":4}}"},
      {200, 100, "tarn.sink.offsets.g2", "{\"t\":{\"0\":555}}", "tarn.sink.offsets", "{}"},
      {300, 200, NULL, NULL, NULL, NULL},
  };
  md_fx f;
  tarn_sink_offsets o = {0};
  tarn_error err;
  int found;
  (void)state;
  build(&f, 300, defs, 4);
  set(&o, "stale", 0, 1);
  assert_int_equal(read_md(&f, &o, &found, &err), 0);
  assert_int_equal(found, 1);
  assert_int_equal(o.n, 2);
  assert_int_equal(tarn_sink_offsets_get(&o, "t", 0), 10); /* not the branch's 999 */
  assert_int_equal(tarn_sink_offsets_get(&o, "t", 1), 4);
  assert_int_equal(tarn_sink_offsets_get(&o, "stale", 0), -1);
  /* from the branch's head, the branch's value */
  f.m.current_snapshot_id = 900;
  assert_int_equal(read_md(&f, &o, &found, &err), 0);
  assert_int_equal(found, 1);
  assert_int_equal(tarn_sink_offsets_get(&o, "t", 0), 999);
  tarn_sink_offsets_free(&o);
}

static void test_ancestry_newest_wins(void **state) {
  static const snap_def defs[] = {
      {100, -1, KEY, "{\"t\":{\"0\":10}}", NULL, NULL},
      {200, 100, KEY, "{\"t\":{\"0\":20}}", NULL, NULL},
      {300, 200, "other", "x", NULL, NULL},
  };
  md_fx f;
  tarn_sink_offsets o = {0};
  tarn_error err;
  int found;
  (void)state;
  build(&f, 300, defs, 3);
  assert_int_equal(read_md(&f, &o, &found, &err), 0);
  assert_int_equal(found, 1);
  assert_int_equal(tarn_sink_offsets_get(&o, "t", 0), 20);
  /* the current snapshot's own entry */
  f.m.current_snapshot_id = 100;
  assert_int_equal(read_md(&f, &o, &found, &err), 0);
  assert_int_equal(tarn_sink_offsets_get(&o, "t", 0), 10);
  /* the newest ancestor holding the key is corrupt: an error, not an older value */
  f.kv[1][0].value = "{\"t\":{\"0\":-20}}";
  f.m.current_snapshot_id = 300;
  assert_int_equal(read_md(&f, &o, &found, &err), TARN_ECORRUPT);
  tarn_sink_offsets_free(&o);
}

static void test_ancestry_expired_parent(void **state) {
  /* 300's parent 200 was expired: 100 (which holds the key) is out of reach */
  static const snap_def defs[] = {
      {100, -1, KEY, "{\"t\":{\"0\":10}}", NULL, NULL},
      {300, 200, NULL, NULL, NULL, NULL},
  };
  md_fx f;
  tarn_sink_offsets o = {0};
  tarn_error err;
  int found;
  (void)state;
  build(&f, 300, defs, 2);
  set(&o, "stale", 0, 1);
  assert_int_equal(read_md(&f, &o, &found, &err), 0);
  assert_int_equal(found, 0);
  assert_int_equal(o.n, 0);
  /* the current snapshot itself missing */
  f.m.current_snapshot_id = 12345;
  assert_int_equal(read_md(&f, &o, &found, &err), 0);
  assert_int_equal(found, 0);
  /* no snapshot at all */
  f.m.current_snapshot_id = -1;
  assert_int_equal(read_md(&f, &o, &found, &err), 0);
  assert_int_equal(found, 0);
  f.m.nsnapshots = 0;
  f.m.current_snapshot_id = 100;
  assert_int_equal(read_md(&f, &o, &found, &err), 0);
  assert_int_equal(found, 0);
  tarn_sink_offsets_free(&o);
}

static void test_ancestry_cycle(void **state) {
  /* corrupt metadata: 100 <-> 200, 300 -> itself; none holds the key */
  static const snap_def defs[] = {
      {100, 200, "x", "1", NULL, NULL},
      {200, 100, NULL, NULL, NULL, NULL},
      {300, 300, NULL, NULL, NULL, NULL},
      {400, 100, NULL, NULL, NULL, NULL},
  };
  md_fx f;
  tarn_sink_offsets o = {0};
  tarn_error err;
  int found;
  (void)state;
  build(&f, 400, defs, 4);
  assert_int_equal(read_md(&f, &o, &found, &err), 0);
  assert_int_equal(found, 0);
  f.m.current_snapshot_id = 300;
  assert_int_equal(read_md(&f, &o, &found, &err), 0);
  assert_int_equal(found, 0);
  /* a cycle whose member has the key still finds it */
  f.kv[1][0].key = KEY;
  f.kv[1][0].value = "{\"t\":{\"3\":33}}";
  f.snaps[1].nsummary = 1;
  f.m.current_snapshot_id = 400;
  assert_int_equal(read_md(&f, &o, &found, &err), 0);
  assert_int_equal(found, 1);
  assert_int_equal(tarn_sink_offsets_get(&o, "t", 3), 33);
  tarn_sink_offsets_free(&o);
}

/* ---- allocation failures ---- */

/* Every allocation of a parse or a format fails in turn (jansson's too): TARN_ENOMEM,
 * never "corrupt" (the commit's check would end the sink on a fatal error). */
static void test_alloc_failures(void **state) {
  static const char text[] = "{\"a\":{\"0\":1,\"7\":70},\"topic-b\":{\"3\":5,\"12\":120}}";
  long total, i;
  (void)state;
  json_set_alloc_funcs(tarn_malloc, tarn_free);
  {
    tarn_sink_offsets o = {0};
    tarn_buf b;
    tarn_buf_init(&b, TARN_BUF_UNLIMITED);
    tarn_alloc_fail_reset();
    assert_int_equal(tarn_sink_offsets_parse(text, &o, NULL), 0);
    assert_int_equal(tarn_sink_offsets_format(&o, &b, NULL), 0);
    total = tarn_alloc_count();
    tarn_buf_free(&b);
    tarn_sink_offsets_free(&o);
  }
  for (i = 0; i <= total; i++) {
    tarn_sink_offsets o = {0};
    tarn_buf b;
    tarn_error err;
    int rc;
    tarn_buf_init(&b, TARN_BUF_UNLIMITED);
    tarn_alloc_fail_after(i);
    rc = tarn_sink_offsets_parse(text, &o, &err);
    if (rc == 0)
      rc = tarn_sink_offsets_format(&o, &b, &err);
    tarn_alloc_fail_reset();
    if (i < total && rc != TARN_ENOMEM)
      fail_msg("allocation %ld of %ld failed: rc %s (%s), want TARN_ENOMEM", i, total,
               tarn_err_name(rc), rc ? tarn_error_message(&err) : "");
    if (rc == 0) {
      assert_int_equal(b.len, strlen(text));
      assert_memory_equal(b.data, text, b.len);
    }
    tarn_buf_free(&b);
    tarn_sink_offsets_free(&o);
  }
  json_set_alloc_funcs(malloc, free);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_format_sorted_round_trip),
      cmocka_unit_test(test_format_empty_and_none),
      cmocka_unit_test(test_parse_rejects),
      cmocka_unit_test(test_merge_copy),
      cmocka_unit_test(test_key),
      cmocka_unit_test(test_ancestry_older_ancestor),
      cmocka_unit_test(test_ancestry_newest_wins),
      cmocka_unit_test(test_ancestry_expired_parent),
      cmocka_unit_test(test_ancestry_cycle),
      cmocka_unit_test(test_alloc_failures),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
