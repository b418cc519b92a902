/* test_table_shred.c - nested JSON rows to Parquet leaf levels and back (src/table/ice_shred.c):
 * the levels of known shapes, pinned by hand against the Parquet spec's rules; and round
 * trips of generated schemas and rows (fixed seeds) with nulls and empties at every level. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "table/table_int.h"

static void parse(const char *ddl, tarn_ice_schema *s) {
  tarn_error err;
  if (tarn_ice_schema_parse_ddl(ddl, s, &err) != 0)
    fail_msg("%s: %s", ddl, tarn_error_message(&err));
}

/* The levels of leaf k as "r:d r:d ..." */
static void levels(const tarn__ice_shredder *sh, size_t k, char *dst, size_t n) {
  size_t i, len = 0;
  dst[0] = '\0';
  for (i = 0; i < sh->leaves[k].n && len + 12 < n; i++)
    len += (size_t)snprintf(dst + len, n - len, "%s%d:%d", i ? " " : "", sh->leaves[k].rep[i],
                            sh->leaves[k].def[i]);
}

static void shred_text(tarn__ice_shredder *sh, const char *rows, json_t **keep) {
  tarn_error err;
  size_t i;
  *keep = json_loads(rows, 0, NULL);
  assert_non_null(*keep);
  for (i = 0; i < json_array_size(*keep); i++)
    if (tarn__ice_shred_row(sh, json_array_get(*keep, i), &err) != 0)
      fail_msg("row %zu: %s", i, tarn_error_message(&err));
}

/* Known shapes: an optional list of optional ints, a list of lists, a map, a struct. */
static void test_known_levels(void **state) {
  tarn_ice_schema s;
  tarn__ice_shredder sh;
  tarn_error err;
  json_t *rows, *back[8];
  char t[512];
  size_t i;
  (void)state;
  parse("a list<int>, b list<list<int not null>> not null, m map<string, long>, "
        "p struct<x: int, y: list<string>>",
        &s);
  assert_int_equal(tarn__ice_shred_init(&sh, &s, &err), 0);
  assert_int_equal(sh.nleaves,
                   6); /* a.element, b.element.element, m.key, m.value, p.x, p.y.element */
  assert_int_equal(sh.leaves[0].max_def, 3);
  assert_int_equal(sh.leaves[0].max_rep, 1);
  assert_int_equal(sh.leaves[1].max_def, 3); /* b required: 0, +1 outer repeated, +1 inner list
                                                 optional, +1 inner repeated; element required */
  assert_int_equal(sh.leaves[1].max_rep, 2);
  assert_int_equal(sh.leaves[2].max_def, 2); /* m optional, repeated; key required */
  assert_int_equal(sh.leaves[3].max_def, 3);
  assert_int_equal(sh.leaves[4].max_def, 2);
  assert_int_equal(sh.leaves[5].max_def, 4);
  shred_text(
      &sh,
      "[{\"a\":[1,2],\"b\":[[1,2],[3]],\"m\":{\"k\":7,\"j\":null},\"p\":{\"x\":1,\"y\":[\"s\"]}},"
      "{\"a\":[],\"b\":[],\"m\":{},\"p\":{\"x\":null,\"y\":[]}},"
      "{\"a\":null,\"b\":[[],null,[4]],\"m\":null,\"p\":null},"
      "{\"a\":[null],\"b\":[[5]],\"p\":{\"y\":[null,\"t\"]}}]",
      &rows);
  levels(&sh, 0, t, sizeof(t));
  assert_string_equal(t, "0:3 1:3 0:1 0:0 0:2");
  levels(&sh, 1, t, sizeof(t));
  assert_string_equal(t, "0:3 2:3 1:3 0:0 0:2 1:1 1:3 0:3");
  levels(&sh, 2, t, sizeof(t));
  assert_string_equal(t, "0:2 1:2 0:1 0:0 0:0");
  levels(&sh, 3, t, sizeof(t));
  assert_string_equal(t, "0:3 1:2 0:1 0:0 0:0");
  levels(&sh, 4, t, sizeof(t));
  assert_string_equal(t, "0:2 0:1 0:0 0:1");
  levels(&sh, 5, t, sizeof(t));
  assert_string_equal(t, "0:4 0:2 0:0 0:3 1:4");
  assert_int_equal(sh.leaves[0].nvals, 2);
  assert_int_equal(sh.leaves[1].nvals, 5);
  /* and back: every field present, null where absent */
  assert_int_equal(tarn__ice_assemble_rows(&sh, back, &err), 0);
  {
    const char *want[] = {
        "{\"a\":[1,2],\"b\":[[1,2],[3]],\"m\":{\"k\":7,\"j\":null},\"p\":{\"x\":1,\"y\":[\"s\"]}}",
        "{\"a\":[],\"b\":[],\"m\":{},\"p\":{\"x\":null,\"y\":[]}}",
        "{\"a\":null,\"b\":[[],null,[4]],\"m\":null,\"p\":null}",
        "{\"a\":[null],\"b\":[[5]],\"m\":null,\"p\":{\"x\":null,\"y\":[null,\"t\"]}}",
    };
    for (i = 0; i < 4; i++) {
      json_t *w = json_loads(want[i], 0, NULL);
      if (!json_equal(w, back[i])) {
        char *got = json_dumps(back[i], JSON_COMPACT);
        fail_msg("row %zu: want %s got %s", i, want[i], got);
      }
      json_decref(w);
      json_decref(back[i]);
    }
  }
  /* shape errors name the row; nulls in required fields are refused */
  tarn__ice_shred_reset(&sh);
  {
    json_t *bad = json_pack("{s:i}", "a", 1), *nob = json_pack("{s:n}", "b");
    assert_int_equal(tarn__ice_shred_row(&sh, bad, &err), TARN_EINVAL); /* a list, not 1 */
    assert_non_null(strstr(err.detail, "row 1"));
    tarn__ice_shred_reset(&sh);
    assert_int_equal(tarn__ice_shred_row(&sh, nob, &err), TARN_EINVAL); /* b is required */
    assert_non_null(strstr(err.detail, "\"b\" is required"));
    json_decref(bad);
    json_decref(nob);
  }
  json_decref(rows);
  tarn__ice_shred_free(&sh);
  tarn_ice_schema_free(&s);
}

/* ---- generated ---- */

static uint64_t rs;
static uint32_t rnd(uint32_t n) {
  rs ^= rs << 13;
  rs ^= rs >> 7;
  rs ^= rs << 17;
  return (uint32_t)(rs % n);
}

/* A random type in DDL, depth-limited, appended to out. */
static void gen_type(tarn_buf *out, int depth) {
  static const char *const prim[] = {"int", "long", "string", "double", "boolean"};
  int k = depth >= 3 ? 0 : (int)rnd(5);
  if (k <= 1) {
    tarn_buf_appendf(out, NULL, "%s", prim[rnd(5)]);
  } else if (k == 2) {
    tarn_buf_appendf(out, NULL, "list<");
    gen_type(out, depth + 1);
    tarn_buf_appendf(out, NULL, "%s>", rnd(3) == 0 ? " not null" : "");
  } else if (k == 3) {
    tarn_buf_appendf(out, NULL, "map<string, ");
    gen_type(out, depth + 1);
    tarn_buf_appendf(out, NULL, "%s>", rnd(3) == 0 ? " not null" : "");
  } else {
    tarn_buf_appendf(out, NULL, "struct<f: ");
    gen_type(out, depth + 1);
    tarn_buf_appendf(out, NULL, "%s, g: ", rnd(3) == 0 ? " not null" : "");
    gen_type(out, depth + 1);
    tarn_buf_appendf(out, NULL, ">");
  }
}

/* A random value of type t (nullable or not), normalised as assembly gives it back. */
static json_t *gen_value(const tarn_ice_type *t, int required) {
  size_t i, n;
  if (!required && rnd(4) == 0)
    return json_null();
  switch (t->id) {
  case TARN_ICE_LIST: {
    json_t *a = json_array();
    n = rnd(4);
    for (i = 0; i < n; i++)
      json_array_append_new(a, gen_value(&t->children[0].type, t->children[0].required));
    return a;
  }
  case TARN_ICE_MAP: {
    json_t *o = json_object();
    n = rnd(4);
    for (i = 0; i < n; i++) {
      char key[16];
      snprintf(key, sizeof(key), "k%u", rnd(1000));
      json_object_set_new(o, key, gen_value(&t->children[1].type, t->children[1].required));
    }
    return o;
  }
  case TARN_ICE_STRUCT: {
    json_t *o = json_object();
    for (i = 0; i < t->nchildren; i++)
      json_object_set_new(o, t->children[i].name,
                          gen_value(&t->children[i].type, t->children[i].required));
    return o;
  }
  case TARN_ICE_STRING: {
    char v[16];
    snprintf(v, sizeof(v), "s%u", rnd(100));
    return json_string(v);
  }
  case TARN_ICE_BOOLEAN: return json_boolean(rnd(2));
  case TARN_ICE_DOUBLE: return json_real((double)rnd(1000) / 8);
  default: return json_integer((json_int_t)rnd(100000) - 50000);
  }
}

static void check_invariants(const tarn__ice_shredder *sh) {
  size_t k, i;
  for (k = 0; k < sh->nleaves; i = 0, k++) {
    const tarn__ice_leaf *l = &sh->leaves[k];
    size_t starts = 0, present = 0;
    for (i = 0; i < l->n; i++) {
      assert_true(l->def[i] >= 0 && l->def[i] <= l->max_def);
      assert_true(l->rep[i] >= 0 && l->rep[i] <= l->max_rep);
      starts += l->rep[i] == 0;
      present += l->def[i] == l->max_def;
    }
    assert_int_equal(starts, sh->rows); /* every leaf starts every row */
    assert_int_equal(present, l->nvals);
  }
}

static void test_generated_round_trips(void **state) {
  int round;
  (void)state;
  for (round = 0; round < 300; round++) {
    tarn_buf ddl;
    tarn_ice_schema s;
    tarn__ice_shredder sh;
    tarn_error err;
    json_t *rows[20], *back[20];
    size_t nf = 1 + rnd(4), i, nrows = 1 + rnd(20);
    rs = 0x9e3779b97f4a7c15ull * (uint64_t)(round + 1);
    tarn_buf_init(&ddl, TARN_BUF_UNLIMITED);
    for (i = 0; i < nf; i++) {
      tarn_buf_appendf(&ddl, NULL, "%sc%zu ", i ? ", " : "", i);
      gen_type(&ddl, 0);
      tarn_buf_appendf(&ddl, NULL, "%s", rnd(4) == 0 ? " not null" : "");
    }
    parse(ddl.data, &s);
    assert_int_equal(tarn__ice_shred_init(&sh, &s, &err), 0);
    for (i = 0; i < nrows; i++) {
      size_t j;
      rows[i] = json_object();
      for (j = 0; j < s.nfields; j++)
        json_object_set_new(rows[i], s.fields[j].name,
                            gen_value(&s.fields[j].type, s.fields[j].required));
      if (tarn__ice_shred_row(&sh, rows[i], &err) != 0)
        fail_msg("round %d (%s) row %zu: %s", round, ddl.data, i, tarn_error_message(&err));
    }
    check_invariants(&sh);
    if (tarn__ice_assemble_rows(&sh, back, &err) != 0)
      fail_msg("round %d (%s): %s", round, ddl.data, tarn_error_message(&err));
    for (i = 0; i < nrows; i++) {
      if (!json_equal(rows[i], back[i])) {
        char *a = json_dumps(rows[i], JSON_COMPACT | JSON_SORT_KEYS);
        char *b = json_dumps(back[i], JSON_COMPACT | JSON_SORT_KEYS);
        fail_msg("round %d (%s) row %zu:\n want %s\n got  %s", round, ddl.data, i, a, b);
      }
      json_decref(back[i]);
      json_decref(rows[i]);
    }
    tarn__ice_shred_free(&sh);
    tarn_ice_schema_free(&s);
    tarn_buf_free(&ddl);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_known_levels),
      cmocka_unit_test(test_generated_round_trips),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
