/* test_store.c - unit tests for the object store: keys, local backend, faults, crashes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/error.h"
#include "store/store.h"

/* ---- fixture: a fresh store in its own mkdtemp directory ---- */

typedef struct fixture {
  char dir[64];
  tarn_store *st;
} fixture;

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static void rm_rf(const char *dir) { nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS); }

static int setup(void **state) {
  fixture *fx = calloc(1, sizeof(*fx));
  tarn_error err;
  if (fx == NULL)
    return -1;
  snprintf(fx->dir, sizeof(fx->dir), "/tmp/tarn-store-test-XXXXXX");
  if (mkdtemp(fx->dir) == NULL) {
    free(fx);
    return -1;
  }
  if (tarn_store_local_open(fx->dir, &fx->st, &err) != 0) {
    fprintf(stderr, "open: %s\n", tarn_error_message(&err));
    rm_rf(fx->dir);
    free(fx);
    return -1;
  }
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fixture *fx = *state;
  tarn_store_local_set_step_hook(NULL, NULL);
  tarn_alloc_fail_reset();
  tarn_store_destroy(fx->st);
  rm_rf(fx->dir);
  free(fx);
  return 0;
}

/* ---- helpers ---- */

static void put_str(tarn_store *st, const char *key, const char *s) {
  tarn_error err;
  int rc = tarn_store_put(st, key, s, strlen(s), 0, &err);
  if (rc != 0)
    fail_msg("put '%s': %s", key, tarn_error_message(&err));
}

/* Asserts that key holds exactly the n bytes at p. */
static void assert_object(tarn_store *st, const char *key, const void *p, size_t n) {
  tarn_buf b;
  tarn_error err;
  int rc;
  tarn_buf_init(&b, TARN_BUF_UNLIMITED);
  rc = tarn_store_get(st, key, &b, &err);
  if (rc != 0)
    fail_msg("get '%s': %s", key, tarn_error_message(&err));
  assert_int_equal(b.len, n);
  if (n > 0)
    assert_memory_equal(b.data, p, n);
  tarn_buf_free(&b);
}

static void assert_missing(tarn_store *st, const char *key) {
  tarn_buf b;
  tarn_error err;
  tarn_buf_init(&b, TARN_BUF_UNLIMITED);
  assert_int_equal(tarn_store_get(st, key, &b, &err), TARN_ENOTFOUND);
  assert_int_equal(err.code, TARN_ENOTFOUND);
  assert_int_equal(b.len, 0);
  tarn_buf_free(&b);
}

/* Creates file root/key (and its directories) directly, bypassing the store. */
static void make_file(const char *root, const char *key, const char *content) {
  char path[2048];
  char *p;
  FILE *f;
  snprintf(path, sizeof(path), "%s/%s", root, key);
  for (p = path + strlen(root) + 1; *p; p++) {
    if (*p == '/') {
      *p = '\0';
      mkdir(path, 0755);
      *p = '/';
    }
  }
  f = fopen(path, "w");
  assert_non_null(f);
  fputs(content, f);
  fclose(f);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t tmp_count;
static int count_tmp_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  if (flag == FTW_F && strncmp(path + ftw->base, ".tarn-tmp-", 10) == 0)
    tmp_count++;
  return 0;
}

/* Temp files anywhere under dir, counted on disk. */
static size_t count_tmp_files(const char *dir) {
  tmp_count = 0;
  nftw(dir, count_tmp_cb, 16, FTW_PHYS);
  return tmp_count;
}

/* Asserts a listing of prefix never shows a temp file and returns its size. */
static size_t list_prefix_no_tmp(tarn_store *st, const char *prefix) {
  tarn_store_listing l;
  tarn_error err;
  size_t i, n;
  tarn_store_list_init(&l);
  assert_int_equal(tarn_store_list(st, prefix, NULL, 0, &l, &err), 0);
  for (i = 0; i < l.count; i++)
    assert_null(strstr(l.entries[i].key, ".tarn-tmp-"));
  n = l.count;
  tarn_store_list_free(&l);
  return n;
}

static size_t list_all_no_tmp(tarn_store *st) { return list_prefix_no_tmp(st, ""); }

/* ---- key validation ---- */

typedef struct key_case {
  const char *key;
  size_t len; /* 0: strlen */
  int ok;
  const char *detail; /* substring the error detail must contain, or NULL */
} key_case;

static void test_key_check_table(void **state) {
  static char k1024[1025], k1025[1026], seg1024[1025];
  const key_case cases[] = {
      {"a", 0, 1, NULL},
      {"a/b/c", 0, 1, NULL},
      {"data/part-0001.parquet", 0, 1, NULL},
      {"caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac/\xf0\x9f\x98\x80", 0, 1, NULL},
      {"\xf4\x8f\xbf\xbf", 0, 1, NULL}, /* U+10FFFF, the last code point */
      {"\xee\x80\x80", 0, 1, NULL},     /* U+E000, just past the surrogates */
      {"a..b", 0, 1, NULL},
      {"...", 0, 1, NULL},
      {".hidden/x", 0, 1, NULL},
      {"a/.tarn-tmpx", 0, 1, NULL},
      {"a/x.tarn-tmp-y", 0, 1, NULL},
      {"with space/and~tilde", 0, 1, NULL},
      {k1024, 0, 1, NULL},
      {seg1024, 0, 1, NULL},
      {"", 0, 0, "empty"},
      {k1025, 0, 0, "1025 bytes"},
      {"a\0b", 3, 0, "control character 0x00 at byte offset 1"},
      {"ab\x01", 0, 0, "control character 0x01 at byte offset 2"},
      {"a\x1f", 0, 0, "0x1f at byte offset 1"},
      {"a\x7f", 0, 0, "0x7f at byte offset 1"},
      {"a\nb", 0, 0, "offset 1"},
      {"/a", 0, 0, "leading '/'"},
      {"a//b", 0, 0, "empty path segment at byte offset 2"},
      {"a/", 0, 0, "empty path segment at byte offset 2"},
      {"./a", 0, 0, "segment \".\" at byte offset 0"},
      {"a/./b", 0, 0, "segment \".\" at byte offset 2"},
      {"a/../b", 0, 0, "segment \"..\" at byte offset 2"},
      {"a/..", 0, 0, "\"..\""},
      {"..", 0, 0, "\"..\""},
      {".", 0, 0, "\".\""},
      {".tarn-tmp-x", 0, 0, "reserved"},
      {"a/.tarn-tmp-x/b", 0, 0, "byte offset 2 starts with the reserved"},
      {"\xc0\xaf", 0, 0, "overlong UTF-8 encoding at byte offset 0"},
      {"x\xc1\x81", 0, 0, "overlong UTF-8 encoding at byte offset 1"},
      {"\xe0\x80\xaf", 0, 0, "overlong"},
      {"\xf0\x80\x80\xaf", 0, 0, "overlong"},
      {"ab\xed\xa0\x80", 0, 0, "surrogate encoded in UTF-8 at byte offset 2"},
      {"\xed\xbf\xbf", 0, 0, "surrogate"},
      {"\xf4\x90\x80\x80", 0, 0, "beyond U+10FFFF"},
      {"\xf5\x80\x80\x80", 0, 0, "beyond U+10FFFF"},
      {"\xff", 0, 0, "beyond U+10FFFF"},
      {"a\x80", 0, 0, "continuation byte without a lead byte at byte offset 1"},
      {"\xc3", 0, 0, "truncated UTF-8 sequence at byte offset 0"},
      {"\xe6\x97", 0, 0, "truncated"},
      {"\xe6\x97/x", 0, 0, "truncated"},
      {"\xc3(", 0, 0, "truncated"},
      {"\xf0\x9f\x98", 0, 0, "truncated"},
  };
  size_t i;
  (void)state;
  memset(k1024, 'k', 1024);
  memset(k1025, 'k', 1025);
  memset(seg1024, 's', 1024);
  for (i = 100; i < 1024; i += 100)
    seg1024[i] = '/';
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const key_case *c = &cases[i];
    size_t len = c->len ? c->len : strlen(c->key);
    tarn_error err;
    int rc;
    tarn_error_clear(&err);
    rc = tarn_store_key_check(c->key, len, &err);
    if (c->ok && rc != 0)
      fail_msg("case %zu: expected valid, got %s", i, tarn_error_message(&err));
    if (!c->ok) {
      if (rc != TARN_EBADKEY)
        fail_msg("case %zu: expected TARN_EBADKEY, got %d", i, rc);
      assert_int_equal(err.code, TARN_EBADKEY);
      if (c->detail != NULL && strstr(err.detail, c->detail) == NULL)
        fail_msg("case %zu: detail '%s' lacks '%s'", i, err.detail, c->detail);
    }
  }
  assert_int_equal(tarn_store_key_check(NULL, 0, NULL), TARN_EBADKEY);
}

/* Bad keys and prefixes never reach the disk through the front functions. */
static void test_front_rejects_bad_keys(void **state) {
  fixture *fx = *state;
  const char *bad[] = {"../escape", "/etc/passwd", "a/../../x", "a//b", "a/", ".tarn-tmp-1"};
  const char *bad_prefix[] = {"/a", "../", "a/../", "a/./", "a//", "a\x01"};
  const char *good_prefix[] = {"", "a", "a/", "data/par", "..x", "a/.", "a/.."};
  tarn_store_writer *w = (tarn_store_writer *)1;
  tarn_store_listing l;
  tarn_store_stat sst;
  tarn_buf b;
  tarn_error err;
  size_t i;
  tarn_buf_init(&b, TARN_BUF_UNLIMITED);
  tarn_store_list_init(&l);
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(tarn_store_put(fx->st, bad[i], "x", 1, 0, &err), TARN_EBADKEY);
    assert_int_equal(tarn_store_writer_open(fx->st, bad[i], 0, &w, &err), TARN_EBADKEY);
    assert_null(w);
    assert_int_equal(tarn_store_get(fx->st, bad[i], &b, &err), TARN_EBADKEY);
    assert_int_equal(tarn_store_get_range(fx->st, bad[i], 0, 1, &b, &err), TARN_EBADKEY);
    assert_int_equal(tarn_store_head(fx->st, bad[i], &sst, &err), TARN_EBADKEY);
    assert_int_equal(tarn_store_delete(fx->st, bad[i], &err), TARN_EBADKEY);
  }
  assert_int_equal(tarn_store_get(fx->st, NULL, &b, &err), TARN_EBADKEY);
  assert_int_equal(tarn_store_put(fx->st, "k", "x", 1, 0x80, &err), TARN_EINVAL);
  for (i = 0; i < sizeof(bad_prefix) / sizeof(bad_prefix[0]); i++)
    assert_int_equal(tarn_store_list(fx->st, bad_prefix[i], NULL, 0, &l, &err), TARN_EBADKEY);
  for (i = 0; i < sizeof(good_prefix) / sizeof(good_prefix[0]); i++) {
    if (tarn_store_list(fx->st, good_prefix[i], NULL, 0, &l, &err) != 0)
      fail_msg("prefix '%s': %s", good_prefix[i], tarn_error_message(&err));
    assert_int_equal(l.count, 0);
  }
  assert_int_equal(list_all_no_tmp(fx->st), 0);
  tarn_store_list_free(&l);
  tarn_buf_free(&b);
}

/* ---- local backend basics ---- */

static void test_roundtrip(void **state) {
  fixture *fx = *state;
  tarn_store_listing l;
  tarn_store_stat sst;
  tarn_buf b;
  tarn_error err;
  char path[256];
  struct stat sb;
  int64_t now = tarn_clock_wall_us();

  put_str(fx->st, "a/b/c.txt", "hello");
  assert_object(fx->st, "a/b/c.txt", "hello", 5);

  tarn_buf_init(&b, TARN_BUF_UNLIMITED);
  assert_int_equal(tarn_store_get_range(fx->st, "a/b/c.txt", 1, 3, &b, &err), 0);
  assert_int_equal(b.len, 3);
  assert_memory_equal(b.data, "ell", 3);
  /* appends */
  assert_int_equal(tarn_store_get_range(fx->st, "a/b/c.txt", 3, 100, &b, &err), 0);
  assert_int_equal(b.len, 5);
  assert_string_equal(b.data, "elllo");
  tarn_buf_free(&b);

  assert_int_equal(tarn_store_head(fx->st, "a/b/c.txt", &sst, &err), 0);
  assert_int_equal(sst.size, 5);
  assert_true(sst.mtime_us > now - 10 * 1000000LL && sst.mtime_us < now + 10 * 1000000LL);

  tarn_store_list_init(&l);
  assert_int_equal(tarn_store_list(fx->st, "", NULL, 0, &l, &err), 0);
  assert_int_equal(l.count, 1);
  assert_string_equal(l.entries[0].key, "a/b/c.txt");
  assert_int_equal(l.entries[0].size, 5);
  assert_int_equal(l.entries[0].mtime_us, sst.mtime_us);
  assert_false(l.truncated);
  assert_null(l.next_after);

  assert_int_equal(tarn_store_delete(fx->st, "a/b/c.txt", &err), 0);
  assert_missing(fx->st, "a/b/c.txt");
  assert_int_equal(tarn_store_delete(fx->st, "a/b/c.txt", &err), TARN_ENOTFOUND);
  assert_non_null(strstr(err.detail, "a/b/c.txt"));
  assert_int_equal(tarn_store_list(fx->st, "", NULL, 0, &l, &err), 0);
  assert_int_equal(l.count, 0);
  /* the emptied directories went with the object; the root stayed */
  snprintf(path, sizeof(path), "%s/a", fx->dir);
  assert_int_equal(stat(path, &sb), -1);
  assert_int_equal(stat(fx->dir, &sb), 0);
  tarn_store_list_free(&l);
}

static void test_delete_keeps_nonempty_dirs(void **state) {
  fixture *fx = *state;
  tarn_error err;
  put_str(fx->st, "d/e/one", "1");
  put_str(fx->st, "d/two", "2");
  assert_int_equal(tarn_store_delete(fx->st, "d/e/one", &err), 0);
  assert_object(fx->st, "d/two", "2", 1);
  put_str(fx->st, "d/e/three", "3"); /* recreates d/e */
  assert_object(fx->st, "d/e/three", "3", 1);
  assert_int_equal(list_all_no_tmp(fx->st), 2);
}

static void test_overwrite(void **state) {
  fixture *fx = *state;
  put_str(fx->st, "k", "version one");
  put_str(fx->st, "k", "version two, longer");
  assert_object(fx->st, "k", "version two, longer", 19);
  put_str(fx->st, "k", "v3");
  assert_object(fx->st, "k", "v3", 2);
  assert_int_equal(list_all_no_tmp(fx->st), 1);
  assert_int_equal(count_tmp_files(fx->dir), 0);
}

static void test_put_if_absent(void **state) {
  fixture *fx = *state;
  tarn_store_writer *w = NULL;
  tarn_error err;
  size_t removed = 99;
  put_str(fx->st, "x/k", "original");
  assert_int_equal(tarn_store_put(fx->st, "x/k", "new", 3, TARN_STORE_IF_ABSENT, &err),
                   TARN_EEXIST);
  assert_non_null(strstr(err.detail, "x/k"));
  assert_object(fx->st, "x/k", "original", 8);
  assert_int_equal(tarn_store_put(fx->st, "x/fresh", "f", 1, TARN_STORE_IF_ABSENT, &err), 0);
  assert_object(fx->st, "x/fresh", "f", 1);

  /* The check at commit is the atomic one: someone else wins between open and commit. */
  assert_int_equal(tarn_store_writer_open(fx->st, "x/race", TARN_STORE_IF_ABSENT, &w, &err), 0);
  assert_int_equal(tarn_store_writer_write(w, "loser", 5, &err), 0);
  put_str(fx->st, "x/race", "winner");
  assert_int_equal(tarn_store_writer_commit(w, &err), TARN_EEXIST);
  assert_object(fx->st, "x/race", "winner", 6);
  assert_int_equal(tarn_store_local_sweep(fx->st, 0, &removed, &err), 0);
  assert_int_equal(removed, 0);
}

static void test_list_pagination(void **state) {
  fixture *fx = *state;
  enum { N = 2500 };
  char **keys = calloc(N, sizeof(*keys));
  tarn_store_listing l;
  tarn_error err;
  size_t i, seen = 0, pages = 0;
  char *after = NULL;
  assert_non_null(keys);
  for (i = 0; i < N; i++) {
    char k[64];
    /* A mix of depths and of names around '/' in byte order. */
    switch (i % 5) {
    case 0: snprintf(k, sizeof(k), "t/f%04zu", i); break;
    case 1: snprintf(k, sizeof(k), "t/d%zu/x%04zu", i % 7, i); break;
    case 2: snprintf(k, sizeof(k), "t/d%zu-x%04zu", i % 7, i); break;
    case 3: snprintf(k, sizeof(k), "t/d%zu.x/y/%04zu", i % 3, i); break;
    default: snprintf(k, sizeof(k), "t%04zu", i); break;
    }
    keys[i] = strdup(k);
    assert_non_null(keys[i]);
    make_file(fx->dir, k, "v");
  }
  qsort(keys, N, sizeof(*keys), cmp_str);
  tarn_store_list_init(&l);
  for (;;) {
    assert_int_equal(tarn_store_list(fx->st, "", after, 1000, &l, &err), 0);
    pages++;
    assert_true(l.count <= 1000);
    for (i = 0; i < l.count; i++) {
      assert_true(seen < N);
      if (strcmp(l.entries[i].key, keys[seen]) != 0)
        fail_msg("entry %zu: got '%s', want '%s'", seen, l.entries[i].key, keys[seen]);
      seen++;
    }
    if (!l.truncated) {
      assert_null(l.next_after);
      break;
    }
    assert_int_equal(l.count, 1000);
    assert_string_equal(l.next_after, l.entries[l.count - 1].key);
    after = l.next_after; /* still owned by l: the next call replaces l only on success */
  }
  assert_int_equal(seen, N);
  assert_int_equal(pages, 3);

  /* max_keys 0 means 1000 */
  assert_int_equal(tarn_store_list(fx->st, "", NULL, 0, &l, &err), 0);
  assert_int_equal(l.count, 1000);
  assert_true(l.truncated);
  /* a page boundary inside a prefix */
  assert_int_equal(tarn_store_list(fx->st, "t/d1/", NULL, 3, &l, &err), 0);
  assert_int_equal(l.count, 3);
  assert_true(l.truncated);
  for (i = 0; i < 3; i++)
    assert_int_equal(strncmp(l.entries[i].key, "t/d1/", 5), 0);
  tarn_store_list_free(&l);
  for (i = 0; i < N; i++)
    free(keys[i]);
  free(keys);
}

static void expect_list(tarn_store *st, const char *prefix, const char *after,
                        const char *const *want, size_t n) {
  tarn_store_listing l;
  tarn_error err;
  size_t i;
  tarn_store_list_init(&l);
  if (tarn_store_list(st, prefix, after, 0, &l, &err) != 0)
    fail_msg("list '%s': %s", prefix, tarn_error_message(&err));
  if (l.count != n) {
    for (i = 0; i < l.count; i++)
      fprintf(stderr, "  got '%s'\n", l.entries[i].key);
    fail_msg("list '%s' after '%s': %zu keys, want %zu", prefix, after ? after : "(null)", l.count,
             n);
  }
  for (i = 0; i < n; i++)
    assert_string_equal(l.entries[i].key, want[i]);
  tarn_store_list_free(&l);
}

static void test_list_prefix_and_order(void **state) {
  fixture *fx = *state;
  const char *keys[] = {"data/part-1", "data/part-2/x", "data/other", "data/pa", "datum",
                        "data2/x",     "a-c",           "a/b",        "a0",      "a.b"};
  const char *all[] = {"a-c",     "a.b",         "a/b",           "a0",      "data/other",
                       "data/pa", "data/part-1", "data/part-2/x", "data2/x", "datum"};
  const char *par[] = {"data/part-1", "data/part-2/x"};
  const char *data_dir[] = {"data/other", "data/pa", "data/part-1", "data/part-2/x"};
  const char *data[] = {"data/other", "data/pa", "data/part-1", "data/part-2/x", "data2/x"};
  const char *a[] = {"a-c", "a.b", "a/b", "a0"};
  const char *after_ab[] = {"a/b", "a0"};
  const char *after_aslash[] = {"a0"};
  size_t i;
  for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
    put_str(fx->st, keys[i], keys[i]);
  /* things listing must not show: temp files, empty directories */
  make_file(fx->dir, ".tarn-tmp-datum.0123456789abcdef", "partial");
  make_file(fx->dir, "data/.tarn-tmp-part-3.0123456789abcdef", "partial");
  {
    char p[256];
    snprintf(p, sizeof(p), "%s/data/emptydir", fx->dir);
    assert_int_equal(mkdir(p, 0755), 0);
  }

  expect_list(fx->st, "", NULL, all, 10);
  expect_list(fx->st, "data/par", NULL, par, 2);
  expect_list(fx->st, "data/", NULL, data_dir, 4);
  expect_list(fx->st, "data", NULL, data, 5);
  expect_list(fx->st, "a", NULL, a, 4);
  expect_list(fx->st, "a", "a.b", after_ab, 2);
  expect_list(fx->st, "a", "a/", after_ab, 2);
  expect_list(fx->st, "a", "a/b", after_aslash, 1);
  expect_list(fx->st, "", "a0", all + 4, 6);
  expect_list(fx->st, "", "data/part-2", all + 7, 3);
  expect_list(fx->st, "data/", "data/part-2/x", NULL, 0);
  expect_list(fx->st, "", "zzz", NULL, 0);
  expect_list(fx->st, "a/b", NULL, after_ab, 1);
  expect_list(fx->st, "nope/", NULL, NULL, 0);
  expect_list(fx->st, "nope/deeper/x", NULL, NULL, 0);
  expect_list(fx->st, "datum/", NULL, NULL, 0); /* a file where a directory would be */
}

static void test_get_cap(void **state) {
  fixture *fx = *state;
  char data[100];
  tarn_buf b;
  tarn_error err;
  memset(data, 'z', sizeof(data));
  assert_int_equal(tarn_store_put(fx->st, "big", data, sizeof(data), 0, &err), 0);

  tarn_buf_init(&b, 50);
  assert_int_equal(tarn_store_get(fx->st, "big", &b, &err), TARN_ETOOBIG);
  assert_non_null(strstr(err.detail, "big"));
  assert_int_equal(b.len, 0);
  assert_null(b.data); /* refused before reading or allocating */
  assert_int_equal(tarn_store_get_range(fx->st, "big", 10, 40, &b, &err), 0);
  assert_int_equal(b.len, 40);
  assert_int_equal(tarn_store_get_range(fx->st, "big", 0, 11, &b, &err), TARN_ETOOBIG);
  assert_int_equal(b.len, 40);
  tarn_buf_free(&b);

  tarn_buf_init(&b, 100);
  assert_int_equal(tarn_store_get(fx->st, "big", &b, &err), 0);
  assert_int_equal(b.len, 100);
  tarn_buf_free(&b);

  tarn_buf_init(&b, 105); /* room for 105 in all, 10 already used */
  assert_int_equal(tarn_buf_append(&b, "0123456789", 10, &err), 0);
  assert_int_equal(tarn_store_get(fx->st, "big", &b, &err), TARN_ETOOBIG);
  assert_int_equal(b.len, 10);
  assert_string_equal(b.data, "0123456789");
  tarn_buf_free(&b);
}

static void test_get_range_edges(void **state) {
  fixture *fx = *state;
  tarn_buf b;
  tarn_error err;
  put_str(fx->st, "r", "0123456789");
  tarn_buf_init(&b, TARN_BUF_UNLIMITED);
  assert_int_equal(tarn_store_get_range(fx->st, "r", 10, 5, &b, &err), 0);
  assert_int_equal(b.len, 0);
  assert_int_equal(tarn_store_get_range(fx->st, "r", 11, 1, &b, &err), TARN_ERANGE);
  assert_non_null(strstr(err.detail, "offset 11"));
  assert_int_equal(tarn_store_get_range(fx->st, "r", UINT64_MAX, 1, &b, &err), TARN_ERANGE);
  assert_int_equal(tarn_store_get_range(fx->st, "r", 3, 0, &b, &err), 0);
  assert_int_equal(b.len, 0);
  assert_int_equal(tarn_store_get_range(fx->st, "r", 5, UINT64_MAX, &b, &err), 0);
  assert_int_equal(b.len, 5);
  assert_string_equal(b.data, "56789");
  tarn_buf_free(&b);
}

static void test_missing_and_shape_conflicts(void **state) {
  fixture *fx = *state;
  tarn_store_stat sst;
  tarn_buf b;
  tarn_error err;
  char longseg[300];
  tarn_buf_init(&b, TARN_BUF_UNLIMITED);
  assert_missing(fx->st, "nope");
  assert_missing(fx->st, "no/such/dir/key");
  assert_int_equal(tarn_store_get_range(fx->st, "nope", 0, 1, &b, &err), TARN_ENOTFOUND);
  assert_int_equal(tarn_store_head(fx->st, "nope", &sst, &err), TARN_ENOTFOUND);
  assert_non_null(strstr(err.detail, "nope"));
  assert_int_equal(tarn_store_delete(fx->st, "nope", &err), TARN_ENOTFOUND);

  /* "a" is a directory of other keys, not an object */
  put_str(fx->st, "a/b", "x");
  assert_missing(fx->st, "a");
  assert_int_equal(tarn_store_head(fx->st, "a", &sst, &err), TARN_ENOTFOUND);
  assert_int_equal(tarn_store_delete(fx->st, "a", &err), TARN_ENOTFOUND);
  /* the local store cannot hold both "x" and "x/..." */
  assert_int_equal(tarn_store_put(fx->st, "a", "y", 1, 0, &err), TARN_EEXIST);
  assert_int_equal(tarn_store_put(fx->st, "a", "y", 1, TARN_STORE_IF_ABSENT, &err), TARN_EEXIST);
  assert_int_equal(tarn_store_put(fx->st, "a/b/c", "y", 1, 0, &err), TARN_EEXIST);
  assert_missing(fx->st, "a/b/c");
  assert_object(fx->st, "a/b", "x", 1);
  /* a segment longer than a file name can be */
  memset(longseg, 'L', sizeof(longseg) - 1);
  longseg[sizeof(longseg) - 1] = '\0';
  assert_int_equal(tarn_store_put(fx->st, longseg, "y", 1, 0, &err), TARN_EBADKEY);
  assert_missing(fx->st, longseg);
  assert_int_equal(count_tmp_files(fx->dir), 0);
  tarn_buf_free(&b);
}

static void test_empty_object(void **state) {
  fixture *fx = *state;
  tarn_store_writer *w = NULL;
  tarn_store_stat sst;
  tarn_store_listing l;
  tarn_error err;
  assert_int_equal(tarn_store_put(fx->st, "empty", NULL, 0, 0, &err), 0);
  assert_object(fx->st, "empty", "", 0);
  assert_int_equal(tarn_store_head(fx->st, "empty", &sst, &err), 0);
  assert_int_equal(sst.size, 0);
  assert_int_equal(tarn_store_writer_open(fx->st, "empty2", 0, &w, &err), 0);
  assert_int_equal(tarn_store_writer_commit(w, &err), 0);
  tarn_store_list_init(&l);
  assert_int_equal(tarn_store_list(fx->st, "empty", NULL, 0, &l, &err), 0);
  assert_int_equal(l.count, 2);
  assert_int_equal(l.entries[0].size, 0);
  assert_int_equal(l.entries[1].size, 0);
  tarn_store_list_free(&l);
}

static void fill_pattern(unsigned char *p, size_t n, unsigned seed) {
  size_t i;
  uint32_t x = seed * 2654435761u + 1;
  for (i = 0; i < n; i++) {
    x = x * 1103515245u + 12345u;
    p[i] = (unsigned char)(x >> 16);
  }
}

static void test_large_object_streamed(void **state) {
  fixture *fx = *state;
  const size_t total = 8u << 20;
  unsigned char *data = malloc(total);
  tarn_store_writer *w = NULL;
  tarn_store_stat sst;
  tarn_buf b;
  tarn_error err;
  size_t off = 0, chunk;
  assert_non_null(data);
  fill_pattern(data, total, 7);
  assert_int_equal(tarn_store_writer_open(fx->st, "big/object.bin", 0, &w, &err), 0);
  for (chunk = 1; off < total; chunk = chunk * 3 + 7777) {
    size_t n = chunk % (256 * 1024) + 1;
    if (n > total - off)
      n = total - off;
    assert_int_equal(tarn_store_writer_write(w, data + off, n, &err), 0);
    off += n;
    assert_int_equal(w->written, off);
  }
  /* nothing visible before commit */
  assert_missing(fx->st, "big/object.bin");
  assert_int_equal(list_all_no_tmp(fx->st), 0);
  assert_int_equal(tarn_store_writer_commit(w, &err), 0);
  assert_int_equal(tarn_store_head(fx->st, "big/object.bin", &sst, &err), 0);
  assert_int_equal(sst.size, total);
  tarn_buf_init(&b, total);
  assert_int_equal(tarn_store_get(fx->st, "big/object.bin", &b, &err), 0);
  assert_int_equal(b.len, total);
  assert_memory_equal(b.data, data, total);
  tarn_buf_reset(&b);
  assert_int_equal(tarn_store_get_range(fx->st, "big/object.bin", total - 1000, 5000, &b, &err), 0);
  assert_int_equal(b.len, 1000);
  assert_memory_equal(b.data, data + total - 1000, 1000);
  tarn_buf_free(&b);
  free(data);
}

static void test_writer_abort(void **state) {
  fixture *fx = *state;
  tarn_store_writer *w = NULL;
  tarn_error err;
  put_str(fx->st, "ab/k", "old");
  assert_int_equal(tarn_store_writer_open(fx->st, "ab/k", 0, &w, &err), 0);
  assert_int_equal(tarn_store_writer_write(w, "new", 3, &err), 0);
  assert_int_equal(count_tmp_files(fx->dir), 1);
  tarn_store_writer_abort(w);
  tarn_store_writer_abort(NULL);
  assert_object(fx->st, "ab/k", "old", 3);
  assert_int_equal(count_tmp_files(fx->dir), 0);
}

static void test_open_root(void **state) {
  fixture *fx = *state;
  tarn_store *st = NULL;
  tarn_error err;
  char path[256];
  size_t removed;
  snprintf(path, sizeof(path), "%s/nested/deeper/root", fx->dir);
  assert_int_equal(tarn_store_local_open(path, &st, &err), 0);
  put_str(st, "k", "v");
  assert_object(st, "k", "v", 1);
  tarn_store_destroy(st);
  tarn_store_destroy(NULL);
  /* reopening sees the same objects */
  assert_int_equal(tarn_store_local_open(path, &st, &err), 0);
  assert_object(st, "k", "v", 1);
  tarn_store_destroy(st);
  /* a file is not a root */
  snprintf(path, sizeof(path), "%s/nested/deeper/root/k", fx->dir);
  assert_int_not_equal(tarn_store_local_open(path, &st, &err), 0);
  assert_null(st);
  assert_non_null(strstr(err.detail, "root/k"));
  assert_int_equal(tarn_store_local_open("", &st, &err), TARN_EINVAL);
  /* sweep only works on a local store */
  assert_int_equal(tarn_store_faulty_wrap(fx->st, &st, &err), 0);
  assert_int_equal(tarn_store_local_sweep(st, 0, &removed, &err), TARN_EINVAL);
  fx->st = NULL; /* owned by the wrapper now */
  tarn_store_destroy(st);
}

static void test_sweep_age(void **state) {
  fixture *fx = *state;
  struct timespec ts[2];
  tarn_error err;
  char path[256];
  size_t removed = 0;
  put_str(fx->st, "s/keep", "k");
  make_file(fx->dir, "s/.tarn-tmp-old.0000000000000000", "x");
  make_file(fx->dir, "s/deep/.tarn-tmp-new.0000000000000001", "x");
  snprintf(path, sizeof(path), "%s/s/.tarn-tmp-old.0000000000000000", fx->dir);
  clock_gettime(CLOCK_REALTIME, &ts[0]);
  ts[0].tv_sec -= 3600;
  ts[1] = ts[0];
  assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
  assert_int_equal(tarn_store_local_sweep(fx->st, 60 * 1000, &removed, &err), 0);
  assert_int_equal(removed, 1);
  assert_int_equal(count_tmp_files(fx->dir), 1);
  assert_int_equal(tarn_store_local_sweep(fx->st, 0, &removed, &err), 0);
  assert_int_equal(removed, 1);
  assert_int_equal(count_tmp_files(fx->dir), 0);
  assert_object(fx->st, "s/keep", "k", 1);
}

/* What tarn_store_sweep reported, in order, as "path size" lines. */
typedef struct sweep_log {
  char text[1024];
} sweep_log;

static void collect_swept(const char *path, uint64_t size, void *arg) {
  sweep_log *w = arg;
  size_t n = strlen(w->text);
  snprintf(w->text + n, sizeof(w->text) - n, "%s %llu\n", path, (unsigned long long)size);
}

/* Sets the modification time of <dir>/<rel> to `ago_s` seconds ago. */
static void age_file(const char *dir, const char *rel, time_t ago_s) {
  struct timespec ts[2];
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", dir, rel);
  clock_gettime(CLOCK_REALTIME, &ts[0]);
  ts[0].tv_sec -= ago_s;
  ts[1] = ts[0];
  assert_int_equal(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static void test_sweep_prefix_dry_run(void **state) {
  fixture *fx = *state;
  tarn_store *fs = NULL;
  tarn_error err;
  sweep_log w;
  size_t n = 99;
  int64_t hour_ago_ms;
  char path[512], target[512];
  put_str(fx->st, "t/a/obj", "object");
  make_file(fx->dir, "t/a/.tarn-tmp-obj.0000000000000001", "12345");
  make_file(fx->dir, "t/a/b/.tarn-tmp-x.0000000000000002", "123");
  make_file(fx->dir, "t/ab/.tarn-tmp-y.0000000000000003", "1"); /* not under "t/a/" */
  make_file(fx->dir, "t/.tarn-tmp-a.0000000000000004", "1");    /* not under "t/a/" */
  make_file(fx->dir, "elsewhere/.tarn-tmp-z.0000000000000005", "1");
  make_file(fx->dir, "t/a/.tarn-tmp-fresh.0000000000000006", "12"); /* a live writer's */
  age_file(fx->dir, "t/a/.tarn-tmp-obj.0000000000000001", 7200);
  age_file(fx->dir, "t/a/b/.tarn-tmp-x.0000000000000002", 7200);
  /* a symlinked directory is not followed */
  snprintf(path, sizeof(path), "%s/t/a/link", fx->dir);
  snprintf(target, sizeof(target), "%s/elsewhere", fx->dir);
  assert_int_equal(symlink(target, path), 0);
  hour_ago_ms = tarn_clock_wall_us() / 1000 - 3600 * 1000;

  /* dry run under t/a/ with an hour's grace: the two old ones, in path order, sizes */
  memset(&w, 0, sizeof(w));
  assert_int_equal(tarn_store_sweep(fx->st, "t/a/", hour_ago_ms, 1, collect_swept, &w, &n, &err),
                   0);
  assert_int_equal(n, 2);
  assert_string_equal(w.text, "t/a/.tarn-tmp-obj.0000000000000001 5\n"
                              "t/a/b/.tarn-tmp-x.0000000000000002 3\n");
  assert_int_equal(count_tmp_files(fx->dir), 6); /* a dry run removes nothing */
  /* no grace: the fresh one too; a prefix that stops mid-name matches by bytes */
  memset(&w, 0, sizeof(w));
  assert_int_equal(tarn_store_sweep(fx->st, "t/a", INT64_MAX, 1, collect_swept, &w, &n, &err), 0);
  assert_int_equal(n, 4);
  assert_string_equal(w.text, "t/a/.tarn-tmp-fresh.0000000000000006 2\n"
                              "t/a/.tarn-tmp-obj.0000000000000001 5\n"
                              "t/a/b/.tarn-tmp-x.0000000000000002 3\n"
                              "t/ab/.tarn-tmp-y.0000000000000003 1\n");
  /* a missing directory has none; a bad prefix is refused */
  assert_int_equal(tarn_store_sweep(fx->st, "nope/", INT64_MAX, 1, NULL, NULL, &n, &err), 0);
  assert_int_equal(n, 0);
  assert_int_equal(tarn_store_sweep(fx->st, "/t", INT64_MAX, 1, NULL, NULL, &n, &err),
                   TARN_EBADKEY);

  /* for real, through the faulty wrapper (it passes sweeps through) */
  assert_int_equal(tarn_store_faulty_wrap(fx->st, &fs, &err), 0);
  fx->st = fs;
  memset(&w, 0, sizeof(w));
  assert_int_equal(tarn_store_sweep(fs, "t/a/", hour_ago_ms, 0, collect_swept, &w, &n, &err), 0);
  assert_int_equal(n, 2);
  assert_string_equal(w.text, "t/a/.tarn-tmp-obj.0000000000000001 5\n"
                              "t/a/b/.tarn-tmp-x.0000000000000002 3\n");
  assert_int_equal(count_tmp_files(fx->dir), 4);
  assert_int_equal(tarn_store_sweep(fs, "t/a/", hour_ago_ms, 0, NULL, NULL, &n, &err), 0);
  assert_int_equal(n, 0); /* the fresh one is left alone */
  assert_object(fs, "t/a/obj", "object", 6);
  snprintf(path, sizeof(path), "%s/elsewhere/.tarn-tmp-z.0000000000000005", fx->dir);
  assert_int_equal(access(path, F_OK), 0); /* never reached through the symlink */
}

/* One thread puts, another deletes, in a directory that keeps vanishing: the put side
 * must survive a concurrent rmdir of its (empty) parent. */
typedef struct race_arg {
  tarn_store *st;
  int rounds;
  int bad;
} race_arg;

static void *race_putter(void *p) {
  race_arg *a = p;
  tarn_error err;
  int i;
  for (i = 0; i < a->rounds; i++)
    if (tarn_store_put(a->st, "race/x/y/k", "v", 1, 0, &err) != 0) {
      fprintf(stderr, "put: %s\n", tarn_error_message(&err));
      a->bad++;
    }
  return NULL;
}

static void *race_deleter(void *p) {
  race_arg *a = p;
  tarn_error err;
  int i, rc;
  for (i = 0; i < a->rounds; i++) {
    rc = tarn_store_delete(a->st, "race/x/y/k", &err);
    if (rc != 0 && rc != TARN_ENOTFOUND) {
      fprintf(stderr, "delete: %s\n", tarn_error_message(&err));
      a->bad++;
    }
  }
  return NULL;
}

static void test_put_delete_race(void **state) {
  fixture *fx = *state;
  race_arg pa = {fx->st, 300, 0}, da = {fx->st, 300, 0};
  pthread_t t1, t2;
  assert_int_equal(pthread_create(&t1, NULL, race_putter, &pa), 0);
  assert_int_equal(pthread_create(&t2, NULL, race_deleter, &da), 0);
  pthread_join(t1, NULL);
  pthread_join(t2, NULL);
  assert_int_equal(pa.bad, 0);
  assert_int_equal(da.bad, 0);
  assert_int_equal(count_tmp_files(fx->dir), 0);
}

/* ---- fault injection ---- */

/* Wraps the fixture's store; the fixture's pointer stays usable (borrowed) for sweep. */
static tarn_store *wrap(fixture *fx, tarn_store **inner) {
  tarn_store *fs = NULL;
  tarn_error err;
  *inner = fx->st;
  assert_int_equal(tarn_store_faulty_wrap(fx->st, &fs, &err), 0);
  fx->st = fs; /* teardown destroys the wrapper, which destroys the inner store */
  return fs;
}

static void test_faulty_get_error(void **state) {
  fixture *fx = *state;
  tarn_store *inner, *fs = wrap(fx, &inner);
  tarn_buf b;
  tarn_error err;
  put_str(fs, "g", "data");
  assert_int_equal(tarn_store_faulty_add(fs, TARN_FAULT_GET, TARN_FAULT_ERROR, 0, NULL, 0, 1, &err),
                   0);
  tarn_buf_init(&b, TARN_BUF_UNLIMITED);
  assert_int_equal(tarn_store_get(fs, "g", &b, &err), TARN_EIO);
  assert_non_null(strstr(err.detail, "'g'"));
  assert_int_equal(b.len, 0);
  assert_int_equal(tarn_store_faulty_fired(fs), 1);
  assert_int_equal(tarn_store_get(fs, "g", &b, &err), 0); /* times = 1: spent */
  assert_int_equal(b.len, 4);
  assert_int_equal(
      tarn_store_faulty_add(fs, TARN_FAULT_GET, TARN_FAULT_ERROR, TARN_ETIMEDOUT, NULL, 0, 0, &err),
      0);
  assert_int_equal(tarn_store_get_range(fs, "g", 0, 1, &b, &err), TARN_ETIMEDOUT);
  assert_int_equal(tarn_store_get(fs, "g", &b, &err), TARN_ETIMEDOUT);
  assert_int_equal(tarn_store_faulty_fired(fs), 3);
  tarn_store_faulty_clear(fs);
  assert_int_equal(tarn_store_get(fs, "g", &b, &err), 0);
  assert_int_equal(tarn_store_faulty_fired(fs), 3);
  tarn_buf_free(&b);
  (void)inner;
}

static void test_faulty_short_write(void **state) {
  fixture *fx = *state;
  tarn_store *inner, *fs = wrap(fx, &inner);
  tarn_store_writer *w = NULL;
  tarn_error err;
  size_t removed = 9;
  char data[1000];
  memset(data, 'n', sizeof(data));
  put_str(fs, "sw/old", "previous version");
  assert_int_equal(
      tarn_store_faulty_add(fs, TARN_FAULT_WRITE, TARN_FAULT_SHORT, 0, NULL, 0, 0, &err), 0);
  assert_int_equal(tarn_store_put(fs, "sw/old", data, sizeof(data), 0, &err), TARN_ESHORTWRITE);
  assert_non_null(strstr(err.detail, "500 of 1000"));
  assert_object(fs, "sw/old", "previous version", 16);
  assert_int_equal(tarn_store_put(fs, "sw/new", data, sizeof(data), 0, &err), TARN_ESHORTWRITE);
  assert_missing(fs, "sw/new");

  /* a caller that commits anyway still publishes nothing */
  assert_int_equal(tarn_store_writer_open(fs, "sw/new", 0, &w, &err), 0);
  assert_int_equal(tarn_store_writer_write(w, data, sizeof(data), &err), TARN_ESHORTWRITE);
  assert_int_equal(w->written, 0);
  assert_int_equal(tarn_store_writer_write(w, data, 10, &err), TARN_ESHORTWRITE);
  assert_int_not_equal(tarn_store_writer_commit(w, &err), 0);
  assert_missing(fs, "sw/new");

  /* a custom code */
  tarn_store_faulty_clear(fs);
  assert_int_equal(
      tarn_store_faulty_add(fs, TARN_FAULT_WRITE, TARN_FAULT_SHORT, TARN_ENOSPC, NULL, 0, 0, &err),
      0);
  assert_int_equal(tarn_store_put(fs, "sw/new", data, sizeof(data), 0, &err), TARN_ENOSPC);
  assert_missing(fs, "sw/new");
  assert_int_equal(tarn_store_faulty_fired(fs), 4);
  assert_int_equal(list_all_no_tmp(fs), 1);
  assert_int_equal(tarn_store_local_sweep(inner, 0, &removed, &err), 0);
  assert_int_equal(removed, 0); /* aborts cleaned up after themselves */
}

static void test_faulty_fsync_commit(void **state) {
  fixture *fx = *state;
  tarn_store *inner, *fs = wrap(fx, &inner);
  tarn_error err;
  size_t removed = 9;
  put_str(fs, "fs/old", "durable");
  assert_int_equal(
      tarn_store_faulty_add(fs, TARN_FAULT_COMMIT, TARN_FAULT_FSYNC, 0, "fs/", 0, 0, &err), 0);
  assert_int_equal(tarn_store_put(fs, "fs/old", "replacement", 11, 0, &err), TARN_EFSYNC);
  assert_false(tarn_err_retriable(err.code));
  assert_object(fs, "fs/old", "durable", 7);
  assert_int_equal(tarn_store_put(fs, "fs/new", "n", 1, 0, &err), TARN_EFSYNC);
  assert_missing(fs, "fs/new");
  put_str(fs, "other/new", "fine"); /* outside the rule's prefix */
  assert_int_equal(tarn_store_faulty_fired(fs), 2);
  assert_int_equal(tarn_store_local_sweep(inner, 0, &removed, &err), 0);
  assert_int_equal(removed, 0);
  assert_int_equal(count_tmp_files(fx->dir), 0);

  /* plain ERROR on commit */
  tarn_store_faulty_clear(fs);
  assert_int_equal(
      tarn_store_faulty_add(fs, TARN_FAULT_COMMIT, TARN_FAULT_ERROR, 0, NULL, 0, 0, &err), 0);
  assert_int_equal(tarn_store_put(fs, "fs/new", "n", 1, 0, &err), TARN_EIO);
  assert_missing(fs, "fs/new");
  assert_int_equal(count_tmp_files(fx->dir), 0);
}

static void test_faulty_rule_semantics(void **state) {
  fixture *fx = *state;
  tarn_store *inner, *fs = wrap(fx, &inner);
  tarn_store_listing l;
  tarn_store_stat sst;
  tarn_error err;
  int i;
  put_str(fs, "x/1", "1");
  put_str(fs, "y", "2");

  /* nth: only the 2nd matching call */
  assert_int_equal(
      tarn_store_faulty_add(fs, TARN_FAULT_HEAD, TARN_FAULT_ERROR, 0, NULL, 2, 0, &err), 0);
  assert_int_equal(tarn_store_head(fs, "y", &sst, &err), 0);
  assert_int_equal(tarn_store_head(fs, "y", &sst, &err), TARN_EIO);
  for (i = 0; i < 5; i++)
    assert_int_equal(tarn_store_head(fs, "y", &sst, &err), 0);
  assert_int_equal(tarn_store_faulty_fired(fs), 1);
  tarn_store_faulty_clear(fs);

  /* times: the first two matching calls, then never */
  assert_int_equal(
      tarn_store_faulty_add(fs, TARN_FAULT_HEAD, TARN_FAULT_ERROR, 0, NULL, 0, 2, &err), 0);
  assert_int_equal(tarn_store_head(fs, "y", &sst, &err), TARN_EIO);
  assert_int_equal(tarn_store_head(fs, "y", &sst, &err), TARN_EIO);
  assert_int_equal(tarn_store_head(fs, "y", &sst, &err), 0);
  assert_int_equal(tarn_store_faulty_fired(fs), 3);
  tarn_store_faulty_clear(fs);

  /* prefix: only matching keys count and fail */
  assert_int_equal(
      tarn_store_faulty_add(fs, TARN_FAULT_DELETE, TARN_FAULT_ERROR, TARN_EPERM, "x/", 2, 0, &err),
      0);
  assert_int_equal(tarn_store_delete(fs, "y", &err), 0);                   /* not counted */
  assert_int_equal(tarn_store_delete(fs, "x/nope", &err), TARN_ENOTFOUND); /* 1st match */
  assert_int_equal(tarn_store_delete(fs, "x/1", &err), TARN_EPERM);        /* 2nd match */
  assert_object(fs, "x/1", "1", 1);
  assert_int_equal(tarn_store_delete(fs, "x/1", &err), 0);
  tarn_store_faulty_clear(fs);

  /* open and list */
  assert_int_equal(tarn_store_faulty_add(fs, TARN_FAULT_OPEN, TARN_FAULT_ERROR, 0, "o", 0, 0, &err),
                   0);
  assert_int_equal(
      tarn_store_faulty_add(fs, TARN_FAULT_LIST, TARN_FAULT_ERROR, TARN_ENETWORK, "l", 0, 0, &err),
      0);
  assert_int_equal(tarn_store_put(fs, "open-me", "v", 1, 0, &err), TARN_EIO);
  assert_missing(fs, "open-me");
  put_str(fs, "p", "v");
  tarn_store_list_init(&l);
  assert_int_equal(tarn_store_list(fs, "list/", NULL, 0, &l, &err), TARN_ENETWORK);
  assert_int_equal(tarn_store_list(fs, "", NULL, 0, &l, &err), 0);
  assert_int_equal(l.count, 1); /* "p"; "y" went above */
  tarn_store_list_free(&l);
  assert_int_equal(tarn_store_faulty_fired(fs), 6);

  /* rule validation */
  assert_int_equal(tarn_store_faulty_add(fs, TARN_FAULT_GET, TARN_FAULT_SHORT, 0, NULL, 0, 0, &err),
                   TARN_EINVAL);
  assert_int_equal(
      tarn_store_faulty_add(fs, TARN_FAULT_WRITE, TARN_FAULT_FSYNC, 0, NULL, 0, 0, &err),
      TARN_EINVAL);
  assert_int_equal(
      tarn_store_faulty_add(inner, TARN_FAULT_GET, TARN_FAULT_ERROR, 0, NULL, 0, 0, &err),
      TARN_EINVAL);
  assert_int_equal(tarn_store_faulty_fired(inner), 0);
}

/* ---- allocation failures ---- */

static int alloc_ok(int rc, const tarn_error *err, int *failed) {
  if (rc == TARN_ENOMEM) {
    *failed = 1;
    return 0;
  }
  if (rc != 0)
    fail_msg("unexpected error %d: %s", rc, tarn_error_message(err));
  return 1;
}

static void test_alloc_failures(void **state) {
  fixture *fx = *state;
  char root[128];
  long n;
  int completed = 0;
  snprintf(root, sizeof(root), "%s/allocroot", fx->dir);
  for (n = 0; n < 2000 && !completed; n++) {
    tarn_store *st = NULL, *fs = NULL;
    tarn_store_listing l;
    tarn_store_writer *w = NULL;
    tarn_buf b;
    tarn_error err;
    int failed = 0, rc;
    tarn_store_list_init(&l);
    tarn_buf_init(&b, TARN_BUF_UNLIMITED);
    tarn_alloc_fail_after(n);
    rc = tarn_store_local_open(root, &st, &err);
    if (!alloc_ok(rc, &err, &failed))
      goto next;
    rc = tarn_store_faulty_wrap(st, &fs, &err);
    st = NULL; /* taken by the wrapper, also on failure */
    if (!alloc_ok(rc, &err, &failed))
      goto next;
    rc = tarn_store_faulty_add(fs, TARN_FAULT_GET, TARN_FAULT_ERROR, 0, "never/", 0, 0, &err);
    alloc_ok(rc, &err, &failed);
    rc = tarn_store_put(fs, "k/a", "alpha", 5, 0, &err);
    alloc_ok(rc, &err, &failed);
    rc = tarn_store_put(fs, "k/b/c", "beta", 4, 0, &err);
    alloc_ok(rc, &err, &failed);
    rc = tarn_store_writer_open(fs, "k/d", 0, &w, &err);
    if (alloc_ok(rc, &err, &failed)) {
      rc = tarn_store_writer_write(w, "delta", 5, &err);
      if (alloc_ok(rc, &err, &failed)) {
        alloc_ok(tarn_store_writer_commit(w, &err), &err, &failed);
      } else {
        tarn_store_writer_abort(w);
      }
    }
    rc = tarn_store_get(fs, "k/a", &b, &err);
    if (rc == TARN_ENOTFOUND && failed) {
      /* the put of k/a itself ran out of memory, in this round and all before */
    } else if (alloc_ok(rc, &err, &failed)) {
      assert_int_equal(b.len, 5);
      assert_memory_equal(b.data, "alpha", 5);
    }
    rc = tarn_store_list(fs, "k/", NULL, 2, &l, &err);
    if (alloc_ok(rc, &err, &failed))
      assert_true(l.count <= 2);
    rc = tarn_store_delete(fs, "k/b/c", &err);
    if (rc == TARN_ENOTFOUND)
      rc = 0; /* the put above may have run out of memory */
    alloc_ok(rc, &err, &failed);
    completed = !failed;
  next:
    tarn_alloc_fail_reset();
    tarn_store_list_free(&l);
    tarn_buf_free(&b);
    tarn_store_destroy(fs);
    tarn_store_destroy(st);
  }
  assert_true(completed);
  assert_true(n > 5); /* the scenario does allocate */
  assert_int_equal(count_tmp_files(fx->dir), 0);
}

/* ---- crash safety ---- */

static const char *const crash_steps[] = {"open", "write", "fsync", "rename", "dirsync"};
enum { CHUNK = 4096, CHUNKS = 16 };

static void exit_at_step(const char *step, void *arg) {
  if (strcmp(step, (const char *)arg) == 0)
    _exit(0);
}

/* In the child: put `key` in CHUNKS writes; dies in the hook or by SIGKILL mid-stream.
 * Never returns. Exit 2 or 3 means the crash did not happen where asked. */
static void child_put(tarn_store *st, const char *key, const unsigned char *data,
                      const char *step_name, int kill_mid_stream) {
  tarn_store_writer *w = NULL;
  int i;
  if (step_name != NULL)
    tarn_store_local_set_step_hook(exit_at_step, (void *)step_name);
  if (tarn_store_writer_open(st, key, 0, &w, NULL) != 0)
    _exit(3);
  for (i = 0; i < CHUNKS; i++) {
    if (kill_mid_stream && i == CHUNKS / 2)
      raise(SIGKILL);
    if (tarn_store_writer_write(w, data + (size_t)i * CHUNK, CHUNK, NULL) != 0)
      _exit(3);
  }
  if (tarn_store_writer_commit(w, NULL) != 0)
    _exit(3);
  _exit(2);
}

/* What a reader may see after the crash, and what the sweep must find. */
static void check_after_crash(fixture *fx, const char *key, const unsigned char *old_data,
                              const unsigned char *new_data, int expect_new, size_t expect_swept,
                              size_t others) {
  tarn_buf b;
  tarn_error err;
  size_t removed = 99;
  int rc;
  tarn_buf_init(&b, TARN_BUF_UNLIMITED);
  rc = tarn_store_get(fx->st, key, &b, &err);
  if (rc == TARN_ENOTFOUND) {
    assert_null(old_data); /* only a fresh key may be absent */
    assert_false(expect_new);
  } else {
    assert_int_equal(rc, 0);
    assert_int_equal(b.len, (size_t)CHUNK * CHUNKS); /* never a prefix of either version */
    if (memcmp(b.data, new_data, b.len) == 0) {
      assert_true(expect_new);
    } else {
      assert_non_null(old_data);
      assert_memory_equal(b.data, old_data, b.len);
      assert_false(expect_new);
    }
  }
  tarn_buf_free(&b);
  assert_int_equal(list_prefix_no_tmp(fx->st, key), old_data != NULL || expect_new ? 1 : 0);
  assert_int_equal(list_all_no_tmp(fx->st), others + (old_data != NULL || expect_new));
  assert_int_equal(count_tmp_files(fx->dir), expect_swept);
  assert_int_equal(tarn_store_local_sweep(fx->st, 0, &removed, &err), 0);
  assert_int_equal(removed, expect_swept);
  assert_int_equal(count_tmp_files(fx->dir), 0);
  /* the store is fully usable afterwards */
  assert_int_equal(tarn_store_put(fx->st, key, new_data, (size_t)CHUNK * CHUNKS, 0, &err), 0);
  assert_object(fx->st, key, new_data, (size_t)CHUNK * CHUNKS);
}

static void crash_case(fixture *fx, const char *step_name, int kill_mid_stream, int overwrite,
                       int idx) {
  const size_t size = (size_t)CHUNK * CHUNKS;
  unsigned char *old_data = malloc(size), *new_data = malloc(size);
  char key[64];
  tarn_error err;
  pid_t pid;
  int status = 0, expect_new, swept;
  size_t others = list_all_no_tmp(fx->st);
  assert_non_null(old_data);
  assert_non_null(new_data);
  fill_pattern(old_data, size, 1);
  fill_pattern(new_data, size, 2);
  snprintf(key, sizeof(key), "crash%d/%s/obj", idx, overwrite ? "over" : "fresh");
  if (overwrite)
    assert_int_equal(tarn_store_put(fx->st, key, old_data, size, 0, &err), 0);
  fflush(NULL);
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0)
    child_put(fx->st, key, new_data, step_name, kill_mid_stream);
  assert_int_equal(waitpid(pid, &status, 0), pid);
  if (kill_mid_stream) {
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
    expect_new = 0;
    swept = 1;
  } else {
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      fail_msg("child for step '%s' did not stop there (status 0x%x)", step_name, status);
    expect_new = strcmp(step_name, "dirsync") == 0;
    swept = strcmp(step_name, "open") != 0 && !expect_new;
  }
  check_after_crash(fx, key, overwrite ? old_data : NULL, new_data, expect_new, (size_t)swept,
                    others);
  free(old_data);
  free(new_data);
}

static void test_crash_at_each_step(void **state) {
  fixture *fx = *state;
  size_t i;
  int overwrite;
  for (i = 0; i < sizeof(crash_steps) / sizeof(crash_steps[0]); i++)
    for (overwrite = 0; overwrite <= 1; overwrite++)
      crash_case(fx, crash_steps[i], 0, overwrite, (int)i);
}

static void test_crash_killed_mid_stream(void **state) {
  fixture *fx = *state;
  crash_case(fx, NULL, 1, 0, 100);
  crash_case(fx, NULL, 1, 1, 101);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_key_check_table),
      cmocka_unit_test_setup_teardown(test_front_rejects_bad_keys, setup, teardown),
      cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_delete_keeps_nonempty_dirs, setup, teardown),
      cmocka_unit_test_setup_teardown(test_overwrite, setup, teardown),
      cmocka_unit_test_setup_teardown(test_put_if_absent, setup, teardown),
      cmocka_unit_test_setup_teardown(test_list_pagination, setup, teardown),
      cmocka_unit_test_setup_teardown(test_list_prefix_and_order, setup, teardown),
      cmocka_unit_test_setup_teardown(test_get_cap, setup, teardown),
      cmocka_unit_test_setup_teardown(test_get_range_edges, setup, teardown),
      cmocka_unit_test_setup_teardown(test_missing_and_shape_conflicts, setup, teardown),
      cmocka_unit_test_setup_teardown(test_empty_object, setup, teardown),
      cmocka_unit_test_setup_teardown(test_large_object_streamed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_writer_abort, setup, teardown),
      cmocka_unit_test_setup_teardown(test_open_root, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sweep_age, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sweep_prefix_dry_run, setup, teardown),
      cmocka_unit_test_setup_teardown(test_put_delete_race, setup, teardown),
      cmocka_unit_test_setup_teardown(test_faulty_get_error, setup, teardown),
      cmocka_unit_test_setup_teardown(test_faulty_short_write, setup, teardown),
      cmocka_unit_test_setup_teardown(test_faulty_fsync_commit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_faulty_rule_semantics, setup, teardown),
      cmocka_unit_test_setup_teardown(test_alloc_failures, setup, teardown),
      cmocka_unit_test_setup_teardown(test_crash_at_each_step, setup, teardown),
      cmocka_unit_test_setup_teardown(test_crash_killed_mid_stream, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
