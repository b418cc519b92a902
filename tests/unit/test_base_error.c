/* test_base_error.c - the error table, detail formatting and errno mapping (base/error). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/error.h"

/* One row per code, built from the same table the library uses. */
typedef struct row {
  int code;
  const char *name;
  const char *msg;
} row;

static const row rows[] = {
#define ROW(sfx, num, name, cls, msg) {TARN_##sfx, name, msg},
    TARN_ERRNO_MAP(ROW)
#undef ROW
};
#define NROWS (sizeof(rows) / sizeof(rows[0]))

static void test_codes_unique_and_named(void **state) {
  size_t i, j;
  (void)state;
  assert_int_equal(TARN_OK, 0);
  for (i = 0; i < NROWS; i++) {
    assert_true(rows[i].code >= 0);
    assert_string_equal(tarn_err_name(rows[i].code), rows[i].name);
    assert_string_not_equal(tarn_err_name(rows[i].code), "unknown");
    assert_string_equal(tarn_strerror(rows[i].code), rows[i].msg);
    assert_string_not_equal(tarn_strerror(rows[i].code), "unknown error");
    assert_true(strlen(rows[i].name) > 0);
    assert_true(strlen(rows[i].msg) > 0);
    for (j = i + 1; j < NROWS; j++) {
      assert_int_not_equal(rows[i].code, rows[j].code);
      assert_string_not_equal(rows[i].name, rows[j].name);
    }
  }
}

static void test_names_are_snake_case(void **state) {
  size_t i;
  const char *p;
  (void)state;
  for (i = 0; i < NROWS; i++)
    for (p = rows[i].name; *p; p++)
      assert_true((*p >= 'a' && *p <= 'z') || *p == '_');
}

/* Numbers are a contract: spot-check a few that other code and clients depend on. */
static void test_stable_numbers(void **state) {
  (void)state;
  assert_int_equal(TARN_ENOMEM, 1);
  assert_int_equal(TARN_EINVAL, 2);
  assert_int_equal(TARN_ENOTFOUND, 4);
  assert_int_equal(TARN_ECONFIG, 7);
  assert_int_equal(TARN_ETOOBIG, 9);
  assert_int_equal(TARN_ETIMEDOUT, 14);
  assert_int_equal(TARN_EINTERNAL, 16);
  assert_string_equal(tarn_err_name(TARN_ENOTFOUND), "not_found");
  assert_string_equal(tarn_err_name(TARN_OK), "ok");
}

static void test_unknown_code(void **state) {
  (void)state;
  assert_string_equal(tarn_err_name(-1), "unknown");
  assert_string_equal(tarn_err_name(100000), "unknown");
  assert_string_equal(tarn_strerror(-1), "unknown error");
  assert_string_equal(tarn_strerror(100000), "unknown error");
  assert_int_equal(tarn_err_retriable(-1), 0);
  assert_int_equal(tarn_err_retriable(100000), 0);
}

static void test_error_set(void **state) {
  tarn_error err;
  (void)state;
  tarn_error_clear(&err);
  assert_int_equal(err.code, 0);
  assert_string_equal(err.detail, "");
  assert_string_equal(tarn_error_message(&err), "success");

  err.sys_errno = 5;
  err.http_status = 503;
  assert_int_equal(tarn_error_set(&err, TARN_EINVAL, "bad key %s at offset %d", "x/y", 17),
                   TARN_EINVAL);
  assert_int_equal(err.code, TARN_EINVAL);
  assert_int_equal(err.sys_errno, 0);
  assert_int_equal(err.http_status, 0);
  assert_string_equal(err.detail, "bad key x/y at offset 17");
  assert_string_equal(tarn_error_message(&err), "bad key x/y at offset 17");

  /* An empty detail falls back to the generic message. */
  tarn_error_set(&err, TARN_ENOTFOUND, "%s", "");
  assert_string_equal(tarn_error_message(&err), "not found");
  assert_string_equal(tarn_error_message(NULL), "unknown error");

  tarn_error_clear(&err);
  assert_int_equal(err.code, 0);
  assert_string_equal(err.detail, "");
  tarn_error_clear(NULL);
}

static void test_null_err_accepted(void **state) {
  (void)state;
  assert_int_equal(tarn_error_set(NULL, TARN_EIO, "x %d", 1), TARN_EIO);
  assert_int_equal(tarn_error_sys(NULL, TARN_EIO, EACCES, "x %d", 1), TARN_EIO);
  tarn_error_prefix(NULL, "ctx %d", 1); /* no crash */
}

static void test_long_detail_truncated(void **state) {
  tarn_error err;
  char big[3 * TARN_ERROR_DETAIL_MAX];
  (void)state;
  memset(big, 'x', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';

  tarn_error_set(&err, TARN_EIO, "%s", big);
  assert_int_equal(strlen(err.detail), TARN_ERROR_DETAIL_MAX - 1);
  assert_int_equal(err.detail[0], 'x');

  tarn_error_sys(&err, TARN_EIO, ENOENT, "%s", big);
  assert_int_equal(strlen(err.detail), TARN_ERROR_DETAIL_MAX - 1);
  assert_int_equal(err.sys_errno, ENOENT);

  /* The context is kept, the old detail is cut. */
  tarn_error_set(&err, TARN_EIO, "%s", big);
  tarn_error_prefix(&err, "reading %s", "f.ini");
  assert_int_equal(err.code, TARN_EIO);
  assert_int_equal(strlen(err.detail), TARN_ERROR_DETAIL_MAX - 1);
  assert_memory_equal(err.detail, "reading f.ini: xxx", 18);

  /* A context longer than the detail itself. */
  tarn_error_set(&err, TARN_EIO, "short");
  tarn_error_prefix(&err, "%s", big);
  assert_int_equal(strlen(err.detail), TARN_ERROR_DETAIL_MAX - 1);
  assert_int_equal(err.code, TARN_EIO);
}

static void test_error_sys(void **state) {
  tarn_error err;
  char want[TARN_ERROR_DETAIL_MAX];
  (void)state;
  assert_int_equal(tarn_error_sys(&err, TARN_ENOTFOUND, ENOENT, "open %s", "/nope"),
                   TARN_ENOTFOUND);
  assert_int_equal(err.code, TARN_ENOTFOUND);
  assert_int_equal(err.sys_errno, ENOENT);
  snprintf(want, sizeof(want), "open /nope: %s", strerror(ENOENT));
  assert_string_equal(err.detail, want);
}

static void test_error_prefix(void **state) {
  tarn_error err;
  (void)state;
  tarn_error_set(&err, TARN_ECONFIG, "unknown key \"x\"");
  tarn_error_prefix(&err, "loading %s", "a.ini");
  assert_int_equal(err.code, TARN_ECONFIG);
  assert_int_equal(err.code, TARN_ECONFIG);
  assert_string_equal(err.detail, "loading a.ini: unknown key \"x\"");

  /* Without a detail the generic message is what gets the context. */
  tarn_error_set(&err, TARN_ETIMEDOUT, "%s", "");
  tarn_error_prefix(&err, "GET /x");
  assert_string_equal(err.detail, "GET /x: timed out");
}

static void test_retriable_classes(void **state) {
  (void)state;
  assert_int_equal(tarn_err_retriable(TARN_ETIMEDOUT), 1);
  assert_int_equal(tarn_err_retriable(TARN_ECONFLICT), 1);
  assert_int_equal(tarn_err_retriable(TARN_ENETWORK), 1);
  assert_int_equal(tarn_err_retriable(TARN_ECONFIG), 0);
  assert_int_equal(tarn_err_retriable(TARN_EINVAL), 0);
  assert_int_equal(tarn_err_retriable(TARN_EFSYNC), 0); /* fsync failure is fatal */
  assert_int_equal(tarn_err_retriable(TARN_ECORRUPT), 0);
  assert_int_equal(tarn_err_retriable(TARN_EPERM), 0);
  assert_int_equal(tarn_err_retriable(TARN_OK), 0);
}

static void test_errno_mapping(void **state) {
  (void)state;
  assert_int_equal(tarn_code_from_errno(0), TARN_OK);
  assert_int_equal(tarn_code_from_errno(ENOMEM), TARN_ENOMEM);
  assert_int_equal(tarn_code_from_errno(ENOENT), TARN_ENOTFOUND);
  assert_int_equal(tarn_code_from_errno(ENOTDIR), TARN_ENOTFOUND);
  assert_int_equal(tarn_code_from_errno(EEXIST), TARN_EEXIST);
  assert_int_equal(tarn_code_from_errno(ENOSPC), TARN_ENOSPC);
  assert_int_equal(tarn_code_from_errno(EDQUOT), TARN_ENOSPC);
  assert_int_equal(tarn_code_from_errno(EACCES), TARN_EPERM);
  assert_int_equal(tarn_code_from_errno(EPERM), TARN_EPERM);
  assert_int_equal(tarn_code_from_errno(EROFS), TARN_EPERM);
  assert_int_equal(tarn_code_from_errno(EINVAL), TARN_EINVAL);
  assert_int_equal(tarn_code_from_errno(ENAMETOOLONG), TARN_ETOOBIG);
  assert_int_equal(tarn_code_from_errno(EFBIG), TARN_ETOOBIG);
  assert_int_equal(tarn_code_from_errno(ETIMEDOUT), TARN_ETIMEDOUT);
  assert_int_equal(tarn_code_from_errno(ECONNREFUSED), TARN_ENETWORK);
  assert_int_equal(tarn_code_from_errno(ECONNRESET), TARN_ENETWORK);
  assert_int_equal(tarn_code_from_errno(EPIPE), TARN_ENETWORK);
  assert_int_equal(tarn_code_from_errno(EHOSTUNREACH), TARN_ENETWORK);
  assert_int_equal(tarn_code_from_errno(ENETUNREACH), TARN_ENETWORK);
  assert_int_equal(tarn_code_from_errno(EIO), TARN_EIO);
  assert_int_equal(tarn_code_from_errno(EXDEV), TARN_EIO); /* anything else */
  /* Timeouts and network errors stay retriable through the mapping. */
  assert_int_equal(tarn_err_retriable(tarn_code_from_errno(ETIMEDOUT)), 1);
  assert_int_equal(tarn_err_retriable(tarn_code_from_errno(ECONNRESET)), 1);
  assert_int_equal(tarn_err_retriable(tarn_code_from_errno(EACCES)), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_codes_unique_and_named),
      cmocka_unit_test(test_names_are_snake_case),
      cmocka_unit_test(test_stable_numbers),
      cmocka_unit_test(test_unknown_code),
      cmocka_unit_test(test_error_set),
      cmocka_unit_test(test_null_err_accepted),
      cmocka_unit_test(test_long_detail_truncated),
      cmocka_unit_test(test_error_sys),
      cmocka_unit_test(test_error_prefix),
      cmocka_unit_test(test_retriable_classes),
      cmocka_unit_test(test_errno_mapping),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
