/* test_http_multipart.c - the streaming multipart/form-data parser: every split point,
 * delimiter look-alikes in content, malformed bodies. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "http/http_int.h"

/* What the receiver saw: "<name|filename|ctype>content</>" per part. */
typedef struct seen {
  tarn_buf out;
  int refuse_second_file;
  int files;
} seen;

static int on_begin(void *ud, const char *name, const char *filename, const char *ctype) {
  seen *s = ud;
  if (strcmp(name, "file") == 0 && s->files++ > 0 && s->refuse_second_file)
    return TARN_EINVAL;
  return tarn_buf_appendf(&s->out, NULL, "<%s|%s|%s>", name, filename ? filename : "-",
                          ctype ? ctype : "-");
}
static int on_data(void *ud, const char *p, size_t n) {
  return tarn_buf_append(&((seen *)ud)->out, p, n, NULL);
}
static int on_end(void *ud) { return tarn_buf_append_str(&((seen *)ud)->out, "</>", NULL); }
static const tarn__mp_ops ops = {on_begin, on_data, on_end};

/* Parses body in pieces of `piece` bytes (0: the first `split` bytes, then the rest). */
static int parse(const char *boundary, const char *body, size_t len, size_t piece, size_t split,
                 seen *s, char *why, size_t whylen) {
  tarn__mp *mp = malloc(sizeof(*mp));
  size_t off = 0;
  int rc;
  tarn_buf_init(&s->out, TARN_BUF_UNLIMITED);
  s->files = 0;
  assert_int_equal(tarn__mp_init(mp, boundary, &ops, s), 0);
  if (piece == 0) {
    rc = tarn__mp_feed(mp, body, split);
    if (rc == 0)
      rc = tarn__mp_feed(mp, body + split, len - split);
  } else {
    rc = 0;
    while (rc == 0 && off < len) {
      size_t k = len - off < piece ? len - off : piece;
      rc = tarn__mp_feed(mp, body + off, k);
      off += k;
    }
  }
  if (rc == 0)
    rc = tarn__mp_finish(mp);
  snprintf(why, whylen, "%s", tarn__mp_error(mp));
  free(mp);
  return rc;
}

static const char BODY[] = "preamble to ignore\r\n"
                           "--XyZ\r\n"
                           "Content-Disposition: form-data; name=\"note\"\r\n"
                           "\r\n"
                           "hello\r\n"
                           "--XyZ\r\n"
                           "content-disposition: form-data; name=file; filename=\"da ta.csv\"\r\n"
                           "Content-Type: text/csv\r\n"
                           "\r\n"
                           "a,b\r\n--XyQ not a boundary\r\n--Xy\r\n-- XyZ\r\n1,2\r\n"
                           "--XyZ  \r\n"
                           "Content-Disposition: form-data; name=\"empty\"\r\n"
                           "\r\n"
                           "\r\n"
                           "--XyZ--\r\n"
                           "epilogue --XyZ junk";

static const char WANT[] =
    "<note|-|->hello</>"
    "<file|da ta.csv|text/csv>a,b\r\n--XyQ not a boundary\r\n--Xy\r\n-- XyZ\r\n1,2</>"
    "<empty|-|-></>";

static void test_every_split(void **state) {
  size_t len = sizeof(BODY) - 1, i;
  char why[128];
  seen s;
  (void)state;
  memset(&s, 0, sizeof(s));
  for (i = 0; i <= len; i++) {
    assert_int_equal(parse("XyZ", BODY, len, 0, i, &s, why, sizeof(why)), 0);
    assert_string_equal(s.out.data, WANT);
    tarn_buf_free(&s.out);
  }
  for (i = 1; i <= 9; i++) {
    assert_int_equal(parse("XyZ", BODY, len, i, 0, &s, why, sizeof(why)), 0);
    assert_string_equal(s.out.data, WANT);
    tarn_buf_free(&s.out);
  }
}

/* The body may start with the delimiter; content bigger than the parser's work buffer. */
static void test_large_content(void **state) {
  size_t n = 300000, len, i;
  char *body = malloc(n + 256), why[128];
  seen s;
  (void)state;
  memset(&s, 0, sizeof(s));
  len = (size_t)sprintf(body, "--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n");
  for (i = 0; i < n; i++)
    body[len + i] = (char)("\r\n-b"[i % 4]); /* look-alikes everywhere */
  len += n;
  len += (size_t)sprintf(body + len, "\r\n--b--");
  assert_int_equal(parse("b", body, len, 70000, 0, &s, why, sizeof(why)), 0);
  assert_int_equal(s.out.len, strlen("<file|-|->") + n + strlen("</>"));
  assert_memory_equal(s.out.data + strlen("<file|-|->"), body + len - n - 7, n);
  tarn_buf_free(&s.out);
  free(body);
}

static void expect_bad(const char *body, const char *why_part, int refuse) {
  char why[128];
  seen s;
  memset(&s, 0, sizeof(s));
  s.refuse_second_file = refuse;
  assert_int_equal(parse("B", body, strlen(body), 3, 0, &s, why, sizeof(why)), TARN_EINVAL);
  assert_non_null(strstr(why, why_part));
  tarn_buf_free(&s.out);
}

static void test_malformed(void **state) {
  char *big;
  (void)state;
  expect_bad("--B\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nabc", "closing boundary", 0);
  expect_bad("nothing here at all", "closing boundary", 0);
  expect_bad("--B\r\nX-Other: 1\r\n\r\nabc\r\n--B--", "no Content-Disposition", 0);
  expect_bad("--B\r\nContent-Disposition: attachment; name=\"f\"\r\n\r\nabc\r\n--B--",
             "not form-data", 0);
  expect_bad("--B\r\nno colon here\r\n\r\nabc\r\n--B--", "no ':'", 0);
  expect_bad("--Bjunk\r\n", "followed by something else", 0);
  expect_bad("--B\r\nContent-Disposition: form-data; name=file\r\n\r\n1\r\n--B\r\n"
             "Content-Disposition: form-data; name=file\r\n\r\n\r\n--B--",
             "refused", 1);
  big = malloc(20000);
  memset(big, 'h', 20000);
  memcpy(big, "--B\r\nX: ", 8);
  big[19999] = '\0';
  expect_bad(big, "longer than 8 KiB", 0);
  free(big);
}

static void test_boundary_param(void **state) {
  char b[80];
  (void)state;
  assert_int_equal(tarn__mp_boundary("multipart/form-data; boundary=abc", b, sizeof(b)), 0);
  assert_string_equal(b, "abc");
  assert_int_equal(
      tarn__mp_boundary("multipart/form-data; charset=x; BOUNDARY=\"a b:c\"", b, sizeof(b)), 0);
  assert_string_equal(b, "a b:c");
  assert_int_equal(tarn__mp_boundary("multipart/form-data", b, sizeof(b)), -1);
  assert_int_equal(tarn__mp_boundary("multipart/form-data; boundary=", b, sizeof(b)), -1);
  assert_int_equal(tarn__mp_boundary("multipart/form-data; boundary=\"\"", b, sizeof(b)), -1);
  assert_int_equal(
      tarn__mp_boundary("multipart/form-data; boundary="
                        "12345678901234567890123456789012345678901234567890123456789012345678901",
                        b, sizeof(b)),
      -1);
  assert_int_equal(tarn__mp_boundary(NULL, b, sizeof(b)), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_split),
      cmocka_unit_test(test_large_content),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_boundary_param),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
