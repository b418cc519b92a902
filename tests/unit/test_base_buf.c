/* test_base_buf.c - capped growable buffers and the allocation wrappers (base/buf, base/alloc). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/error.h"

/* Every test leaves injection off, even when an assertion fails half-way. */
static int reset_alloc(void **state) {
  (void)state;
  tarn_alloc_fail_reset();
  return 0;
}

static void test_append_basic(void **state) {
  tarn_buf b;
  tarn_error err;
  (void)state;
  tarn_buf_init(&b, TARN_BUF_UNLIMITED);
  assert_null(b.data);
  assert_int_equal(b.len, 0);

  assert_int_equal(tarn_buf_append(&b, "abc", 3, &err), 0);
  assert_int_equal(b.len, 3);
  assert_string_equal(b.data, "abc");
  assert_int_equal(tarn_buf_append_str(&b, "def", &err), 0);
  assert_int_equal(tarn_buf_append_byte(&b, 'g', &err), 0);
  assert_int_equal(b.len, 7);
  assert_string_equal(b.data, "abcdefg");
  assert_true(b.cap >= b.len + 1);

  /* Embedded NUL bytes count as content. */
  assert_int_equal(tarn_buf_append(&b, "\0z", 2, &err), 0);
  assert_int_equal(b.len, 9);
  assert_memory_equal(b.data, "abcdefg\0z", 10);

  tarn_buf_reset(&b);
  assert_int_equal(b.len, 0);
  assert_string_equal(b.data, "");
  tarn_buf_free(&b);
  assert_null(b.data);
  tarn_buf_free(NULL);
}

static void test_append_empty(void **state) {
  tarn_buf b;
  (void)state;
  tarn_buf_init(&b, 16);
  assert_int_equal(tarn_buf_append(&b, NULL, 0, NULL), 0);
  assert_non_null(b.data);
  assert_int_equal(b.len, 0);
  assert_string_equal(b.data, "");
  tarn_buf_free(&b);
}

static void test_grow_large(void **state) {
  tarn_buf b;
  size_t i;
  (void)state;
  tarn_buf_init(&b, TARN_BUF_UNLIMITED);
  for (i = 0; i < 100000; i++)
    assert_int_equal(tarn_buf_append_byte(&b, (uint8_t)('a' + i % 26), NULL), 0);
  assert_int_equal(b.len, 100000);
  for (i = 0; i < 100000; i++)
    assert_int_equal(b.data[i], 'a' + i % 26);
  assert_int_equal(b.data[100000], '\0');
  tarn_buf_free(&b);
}

static void test_appendf(void **state) {
  tarn_buf b;
  tarn_error err;
  char big[1000];
  (void)state;
  tarn_buf_init(&b, TARN_BUF_UNLIMITED);
  assert_int_equal(tarn_buf_appendf(&b, &err, "%s=%d", "port", 8080), 0);
  assert_int_equal(tarn_buf_appendf(&b, &err, " %zu%%", (size_t)42), 0);
  assert_int_equal(tarn_buf_appendf(&b, &err, "%s", ""), 0);
  assert_string_equal(b.data, "port=8080 42%");
  assert_int_equal(b.len, strlen("port=8080 42%"));

  /* Longer than the first allocation: needs growth inside appendf. */
  memset(big, 'q', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  assert_int_equal(tarn_buf_appendf(&b, &err, "[%s]", big), 0);
  assert_int_equal(b.len, 13 + 2 + 999);
  assert_int_equal(b.data[13], '[');
  assert_int_equal(b.data[14 + 999], ']');
  assert_int_equal(b.data[b.len], '\0');
  tarn_buf_free(&b);
}

static void test_reserve(void **state) {
  tarn_buf b;
  tarn_error err;
  char *before;
  (void)state;
  tarn_buf_init(&b, TARN_BUF_UNLIMITED);
  assert_int_equal(tarn_buf_reserve(&b, 1000, &err), 0);
  assert_true(b.cap >= 1001);
  assert_int_equal(b.len, 0);
  assert_string_equal(b.data, "");
  before = b.data;
  /* Appends within the reservation do not move the data. */
  while (b.len < 1000)
    assert_int_equal(tarn_buf_append_byte(&b, 'x', &err), 0);
  assert_ptr_equal(b.data, before);
  tarn_buf_free(&b);

  /* Reserving past SIZE_MAX on an unlimited buffer is refused, not wrapped. */
  tarn_buf_init(&b, TARN_BUF_UNLIMITED);
  assert_int_equal(tarn_buf_append(&b, "ab", 2, &err), 0);
  assert_int_equal(tarn_buf_reserve(&b, SIZE_MAX, &err), TARN_ETOOBIG);
  assert_int_equal(tarn_buf_reserve(&b, SIZE_MAX - 2, &err), TARN_ETOOBIG);
  assert_int_equal(err.code, TARN_ETOOBIG);
  assert_string_equal(b.data, "ab");
  tarn_buf_free(&b);
}

static void test_hard_cap(void **state) {
  tarn_buf b;
  tarn_error err;
  (void)state;
  tarn_buf_init(&b, 10);
  assert_int_equal(tarn_buf_append(&b, "0123456", 7, &err), 0);
  /* Exactly max is fine. */
  assert_int_equal(tarn_buf_append(&b, "789", 3, &err), 0);
  assert_int_equal(b.len, 10);
  assert_string_equal(b.data, "0123456789");
  /* One more byte is not, and the content is unchanged. */
  tarn_error_clear(&err);
  assert_int_equal(tarn_buf_append_byte(&b, 'x', &err), TARN_ETOOBIG);
  assert_int_equal(err.code, TARN_ETOOBIG);
  assert_non_null(strstr(err.detail, "10"));
  assert_int_equal(b.len, 10);
  assert_string_equal(b.data, "0123456789");
  assert_int_equal(tarn_buf_appendf(&b, &err, "%d", 1), TARN_ETOOBIG);
  assert_int_equal(tarn_buf_append_str(&b, "y", &err), TARN_ETOOBIG);
  assert_int_equal(tarn_buf_reserve(&b, 1, &err), TARN_ETOOBIG);
  assert_int_equal(b.len, 10);
  assert_string_equal(b.data, "0123456789");
  /* Zero more bytes is still fine at the cap. */
  assert_int_equal(tarn_buf_append(&b, "", 0, &err), 0);
  tarn_buf_free(&b);

  /* max+1 in one go on an empty buffer. */
  tarn_buf_init(&b, 10);
  assert_int_equal(tarn_buf_append(&b, "0123456789A", 11, NULL), TARN_ETOOBIG);
  assert_int_equal(b.len, 0);
  assert_int_equal(tarn_buf_appendf(&b, NULL, "%s", "0123456789A"), TARN_ETOOBIG);
  assert_int_equal(b.len, 0);
  assert_int_equal(tarn_buf_appendf(&b, NULL, "%s", "0123456789"), 0);
  assert_string_equal(b.data, "0123456789");
  tarn_buf_free(&b);

  /* A cap of zero admits nothing but empty appends. */
  tarn_buf_init(&b, 0);
  assert_int_equal(tarn_buf_append_byte(&b, 'a', NULL), TARN_ETOOBIG);
  assert_int_equal(tarn_buf_append(&b, "", 0, NULL), 0);
  assert_string_equal(b.data, "");
  tarn_buf_free(&b);
}

static void test_reset_keeps_max(void **state) {
  tarn_buf b;
  (void)state;
  tarn_buf_init(&b, 4);
  assert_int_equal(tarn_buf_append(&b, "abcd", 4, NULL), 0);
  tarn_buf_reset(&b);
  assert_int_equal(tarn_buf_append(&b, "abcd", 4, NULL), 0);
  assert_int_equal(tarn_buf_append(&b, "e", 1, NULL), TARN_ETOOBIG);
  tarn_buf_free(&b);
  assert_int_equal(b.max, 4);
  assert_int_equal(tarn_buf_append(&b, "abcde", 5, NULL), TARN_ETOOBIG);
  tarn_buf_free(&b);
}

static void test_detach(void **state) {
  tarn_buf b;
  char *s;
  (void)state;
  tarn_buf_init(&b, 100);
  assert_int_equal(tarn_buf_append_str(&b, "hello", NULL), 0);
  s = tarn_buf_detach(&b);
  assert_string_equal(s, "hello");
  assert_null(b.data);
  assert_int_equal(b.len, 0);
  assert_int_equal(b.cap, 0);
  assert_int_equal(b.max, 100);
  tarn_free(s);

  /* The buffer is reusable after detach. */
  assert_int_equal(tarn_buf_append_str(&b, "again", NULL), 0);
  assert_string_equal(b.data, "again");
  tarn_buf_free(&b);

  /* An empty buffer yields an empty allocated string. */
  tarn_buf_init(&b, 100);
  s = tarn_buf_detach(&b);
  assert_non_null(s);
  assert_string_equal(s, "");
  tarn_free(s);
}

static void test_injected_failure(void **state) {
  tarn_buf b;
  tarn_error err;
  char big[200];
  (void)state;
  memset(big, 'z', sizeof(big));

  /* First allocation fails: the buffer stays empty. */
  tarn_buf_init(&b, TARN_BUF_UNLIMITED);
  tarn_alloc_fail_after(0);
  assert_int_equal(tarn_buf_append(&b, "abc", 3, &err), TARN_ENOMEM);
  assert_int_equal(err.code, TARN_ENOMEM);
  assert_null(b.data);
  assert_int_equal(b.len, 0);
  tarn_alloc_fail_reset();

  /* A failed growth keeps the content. */
  assert_int_equal(tarn_buf_append(&b, "abc", 3, &err), 0);
  tarn_alloc_fail_after(0);
  assert_int_equal(tarn_buf_append(&b, big, sizeof(big), &err), TARN_ENOMEM);
  assert_int_equal(b.len, 3);
  assert_string_equal(b.data, "abc");
  assert_int_equal(tarn_buf_appendf(&b, &err, "%.*s", (int)sizeof(big), big), TARN_ENOMEM);
  assert_int_equal(b.len, 3);
  assert_string_equal(b.data, "abc");
  /* Appends that fit in the existing allocation need no allocation at all. */
  assert_int_equal(tarn_buf_append(&b, "d", 1, &err), 0);
  assert_string_equal(b.data, "abcd");
  tarn_alloc_fail_reset();

  assert_int_equal(tarn_buf_append(&b, big, sizeof(big), &err), 0);
  assert_int_equal(b.len, 4 + sizeof(big));
  tarn_buf_free(&b);

  /* detach of an empty buffer under failure returns NULL. */
  tarn_buf_init(&b, 10);
  tarn_alloc_fail_after(0);
  assert_null(tarn_buf_detach(&b));
  tarn_alloc_fail_reset();
}

static void test_alloc_fail_after_n(void **state) {
  void *p[3];
  (void)state;
  tarn_alloc_fail_after(2);
  p[0] = tarn_malloc(8);
  p[1] = tarn_strdup("x");
  p[2] = tarn_calloc(2, 8);
  assert_non_null(p[0]);
  assert_non_null(p[1]);
  assert_null(p[2]);
  assert_null(tarn_realloc(p[0], 64)); /* original block untouched */
  assert_null(tarn_strndup("abc", 2));
  assert_null(tarn_malloc(0));
  tarn_alloc_fail_reset();
  tarn_free(p[0]);
  tarn_free(p[1]);

  /* Negative disables. */
  tarn_alloc_fail_after(-1);
  p[0] = tarn_malloc(1);
  assert_non_null(p[0]);
  tarn_free(p[0]);
}

static void test_alloc_count(void **state) {
  void *p, *q;
  char *s;
  (void)state;
  tarn_alloc_fail_reset();
  assert_int_equal(tarn_alloc_count(), 0);
  p = tarn_malloc(10);
  q = tarn_calloc(3, 4);
  p = tarn_realloc(p, 100);
  s = tarn_strdup("abc");
  assert_int_equal(tarn_alloc_count(), 4);
  tarn_free(p);
  tarn_free(q);
  tarn_free(s);
  tarn_free(NULL);
  assert_int_equal(tarn_alloc_count(), 4); /* frees are not counted */
  tarn_alloc_fail_after(5);
  assert_int_equal(tarn_alloc_count(), 0); /* counting restarts */
  tarn_alloc_fail_reset();
  assert_int_equal(tarn_alloc_count(), 0);
}

/* Fail each allocation of a scenario in turn: every failure is ENOMEM, nothing leaks
 * (ASan checks), and the content is a prefix of what was appended. */
static void test_fail_each_allocation(void **state) {
  long total, i;
  size_t k;
  tarn_buf b;
  (void)state;
  tarn_alloc_fail_reset();
  tarn_buf_init(&b, TARN_BUF_UNLIMITED);
  for (k = 0; k < 5000; k++)
    assert_int_equal(tarn_buf_append_byte(&b, 'a', NULL), 0);
  tarn_buf_free(&b);
  total = tarn_alloc_count();
  assert_true(total > 1);
  for (i = 0; i < total; i++) {
    int rc = 0;
    tarn_buf_init(&b, TARN_BUF_UNLIMITED);
    tarn_alloc_fail_after(i);
    for (k = 0; k < 5000 && rc == 0; k++)
      rc = tarn_buf_append_byte(&b, 'a', NULL);
    tarn_alloc_fail_reset();
    assert_int_equal(rc, TARN_ENOMEM);
    assert_int_equal(b.len, k - 1);
    tarn_buf_free(&b);
  }
}

static void test_alloc_basics(void **state) {
  void *p;
  char *s;
  (void)state;
  p = tarn_malloc(0);
  assert_non_null(p);
  tarn_free(p);
  p = tarn_calloc(0, 8);
  assert_non_null(p);
  tarn_free(p);
  p = tarn_calloc(4, 4);
  assert_non_null(p);
  assert_memory_equal(p, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
  tarn_free(p);
  s = tarn_strndup("abcdef", 3);
  assert_string_equal(s, "abc");
  tarn_free(s);
  s = tarn_strndup("ab", 10);
  assert_string_equal(s, "ab");
  tarn_free(s);
  p = tarn_reallocarray(NULL, 10, 10);
  assert_non_null(p);
  tarn_free(p);
}

static void test_calloc_overflow(void **state) {
  void *p;
  (void)state;
  assert_null(tarn_calloc(SIZE_MAX, 2));
  assert_null(tarn_calloc(2, SIZE_MAX));
  assert_null(tarn_calloc(SIZE_MAX / 2 + 1, 2));
  assert_null(tarn_calloc((SIZE_MAX >> 32) + 2, (size_t)1 << 32));
  p = tarn_malloc(4);
  assert_null(tarn_reallocarray(p, SIZE_MAX / 8 + 1, 8));
  tarn_free(p); /* the original block is still ours */
}

/* tarn_grow: from min, doubling; room already is a no-op; a failed growth leaves the
 * array and its capacity as they were, and a later growth succeeds. */
static void test_grow(void **state) {
  int64_t *a = NULL, *before;
  size_t cap = 0, i;
  (void)state;
  assert_int_equal(TARN_GROW(a, cap, 1, 4), 0);
  assert_non_null(a);
  assert_int_equal(cap, 4);
  for (i = 0; i < 4; i++)
    a[i] = (int64_t)i * 7;
  before = a;
  assert_int_equal(TARN_GROW(a, cap, 3, 4), 0); /* room already */
  assert_ptr_equal(a, before);
  assert_int_equal(cap, 4);
  tarn_alloc_fail_after(0);
  assert_int_equal(TARN_GROW(a, cap, 5, 4), TARN_ENOMEM);
  tarn_alloc_fail_reset();
  assert_ptr_equal(a, before);
  assert_int_equal(cap, 4);
  for (i = 0; i < 4; i++)
    assert_int_equal(a[i], (int64_t)i * 7);
  assert_int_equal(TARN_GROW(a, cap, 5, 4), 0);
  assert_int_equal(cap, 8);
  assert_int_equal(TARN_GROW(a, cap, 33, 4), 0);
  assert_int_equal(cap, 64);
  for (i = 0; i < 4; i++)
    assert_int_equal(a[i], (int64_t)i * 7);
  assert_int_equal(TARN_GROW(a, cap, SIZE_MAX, 4), TARN_ENOMEM);
  assert_int_equal(cap, 64);
  tarn_free(a);
}

#define T(f) cmocka_unit_test_setup_teardown(f, reset_alloc, reset_alloc)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_append_basic),
      T(test_append_empty),
      T(test_grow_large),
      T(test_appendf),
      T(test_reserve),
      T(test_hard_cap),
      T(test_reset_keeps_max),
      T(test_detach),
      T(test_injected_failure),
      T(test_alloc_fail_after_n),
      T(test_alloc_count),
      T(test_fail_each_allocation),
      T(test_alloc_basics),
      T(test_calloc_overflow),
      T(test_grow),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
