/* test_csv.c - unit tests for the CSV reader, type inference, converters and fingerprint. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/error.h"
#include "csv/csv.h"

/* ---- harness: run the reader over memory in many chunkings ---- */

/* A source that hands out at most `chunk` bytes per read, or fails at `fail_at`. */
typedef struct chunk_src {
  const char *p;
  size_t n, off, chunk;
  size_t fail_at; /* SIZE_MAX: never */
} chunk_src;

static int chunk_read(void *ctx, void *dst, size_t n, size_t *got, tarn_error *err) {
  chunk_src *s = ctx;
  size_t k = s->n - s->off;
  if (s->off >= s->fail_at)
    return tarn_error_set(err, TARN_EIO, "test source fails at %zu", s->fail_at);
  if (k > n)
    k = n;
  if (k > s->chunk)
    k = s->chunk;
  memcpy(dst, s->p + s->off, k);
  s->off += k;
  *got = k;
  return 0;
}

/* The ways every input is fed: (bytes per read, reader block size). */
static const size_t modes[][2] = {{SIZE_MAX, 0}, {1, 1},  {1, 2},  {2, 3},
                                  {3, 7},        {5, 16}, {64, 5}, {SIZE_MAX, 17}};
#define NMODES (sizeof(modes) / sizeof(modes[0]))

typedef struct result {
  int rc;
  tarn_csv_pos pos;
  char detail[TARN_ERROR_DETAIL_MAX];
  char out[8192]; /* "name|name\n" then "L<line>@<offset>:f|f\n" per record, NULL as ~ */
} result;

static void appendf(char *dst, size_t cap, const char *fmt, ...) {
  size_t n = strlen(dst);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(dst + n, cap - n, fmt, ap);
  va_end(ap);
}

static void run_mode(const char *in, size_t n, const tarn_csv_options *base_opt, size_t chunk,
                     size_t block, result *res) {
  tarn_csv_options opt;
  tarn_csv_reader *rd = NULL;
  tarn_error err;
  chunk_src s = {in, n, 0, chunk, SIZE_MAX};
  tarn_csv_source src = {chunk_read, &s};
  const tarn_csv_record *rec;
  size_t i;
  memset(res, 0, sizeof(*res));
  if (base_opt != NULL)
    opt = *base_opt;
  else
    tarn_csv_options_init(&opt);
  if (block != 0)
    opt.block_size = block;
  tarn_error_clear(&err);
  res->rc = tarn_csv_reader_create(&rd, &src, &opt, &err);
  if (res->rc != 0) {
    assert_null(rd);
    snprintf(res->detail, sizeof(res->detail), "%s", err.detail);
    /* the header position is in the detail; parse it back for comparison */
    sscanf(err.detail, "line %llu, column %llu", (unsigned long long *)&res->pos.line,
           (unsigned long long *)&res->pos.column);
    return;
  }
  for (i = 0; i < tarn_csv_reader_ncols(rd); i++)
    appendf(res->out, sizeof(res->out), "%s%s", i ? "|" : "", tarn_csv_reader_names(rd)[i]);
  appendf(res->out, sizeof(res->out), "\n");
  for (;;) {
    res->rc = tarn_csv_next(rd, &rec, &err);
    if (res->rc != 0) {
      res->pos = *tarn_csv_reader_error_pos(rd);
      snprintf(res->detail, sizeof(res->detail), "%s", err.detail);
      break;
    }
    if (rec == NULL)
      break;
    appendf(res->out, sizeof(res->out), "L%llu@%llu:", (unsigned long long)rec->line,
            (unsigned long long)rec->offset);
    for (i = 0; i < rec->nfields; i++) {
      if (rec->fields[i].len == 0)
        appendf(res->out, sizeof(res->out), "%s~", i ? "|" : "");
      else
        appendf(res->out, sizeof(res->out), "%s%.*s", i ? "|" : "", (int)rec->fields[i].len,
                rec->fields[i].ptr);
    }
    appendf(res->out, sizeof(res->out), "\n");
  }
  tarn_csv_reader_destroy(rd);
}

/* Runs every mode and checks they all agree; returns the first mode's result. */
static void run_all(const char *in, size_t n, const tarn_csv_options *opt, result *res) {
  static result other_res; /* static: a failing assertion longjmps past any free */
  result *other = &other_res;
  size_t m;
  run_mode(in, n, opt, modes[0][0], modes[0][1], res);
  for (m = 1; m < NMODES; m++) {
    run_mode(in, n, opt, modes[m][0], modes[m][1], other);
    if (other->rc != res->rc || strcmp(other->out, res->out) != 0 ||
        strcmp(other->detail, res->detail) != 0)
      fail_msg("mode %zu differs:\n%d %s\n%s\nvs\n%d %s\n%s", m, res->rc, res->detail, res->out,
               other->rc, other->detail, other->out);
  }
}

static void expect_ok(const char *in, size_t n, const tarn_csv_options *opt, const char *want) {
  static result res_buf;
  result *res = &res_buf;
  run_all(in, n, opt, res);
  if (res->rc != 0)
    fail_msg("unexpected error %d: %s", res->rc, res->detail);
  assert_string_equal(res->out, want);
}

/* Checks the error code, line and column, and that the detail contains `needle`. */
static void expect_err(const char *in, size_t n, const tarn_csv_options *opt, int code,
                       uint64_t line, uint64_t col, const char *needle) {
  static result res_buf;
  result *res = &res_buf;
  run_all(in, n, opt, res);
  if (res->rc != code || res->pos.line != line || res->pos.column != col ||
      strstr(res->detail, needle) == NULL)
    fail_msg("want code %d line %llu col %llu \"%s\"; got %d line %llu col %llu: %s", code,
             (unsigned long long)line, (unsigned long long)col, needle, res->rc,
             (unsigned long long)res->pos.line, (unsigned long long)res->pos.column, res->detail);
}

#define S(lit) lit, sizeof(lit) - 1

static tarn_csv_options delim_opt(char d) {
  tarn_csv_options o;
  tarn_csv_options_init(&o);
  o.delimiter = d;
  return o;
}

/* ---- dialect ---- */

static void test_basic_lf_crlf_final(void **state) {
  (void)state;
  expect_ok(S("a,b\n1,2\n3,4\n"), NULL, "a|b\nL2@4:1|2\nL3@8:3|4\n");
  expect_ok(S("a,b\r\n1,2\r\n3,4\r\n"), NULL, "a|b\nL2@5:1|2\nL3@10:3|4\n");
  expect_ok(S("a,b\n1,2\n3,4"), NULL, "a|b\nL2@4:1|2\nL3@8:3|4\n");
  expect_ok(S("a,b\r\n1,2\n3,4"), NULL, "a|b\nL2@5:1|2\nL3@9:3|4\n");
  expect_ok(S("a,b"), NULL, "a|b\n");
  expect_ok(S("a,b\n"), NULL, "a|b\n");
}

static void test_delimiters(void **state) {
  tarn_csv_options o;
  (void)state;
  o = delim_opt(';');
  expect_ok(S("a;b\n1,5;\"x;y\"\n"), &o, "a|b\nL2@4:1,5|x;y\n");
  o = delim_opt('\t');
  expect_ok(S("a\tb\n1 2\t3\n"), &o, "a|b\nL2@4:1 2|3\n");
  o = delim_opt('|');
  expect_ok(S("a|b\n1,2|\"|\"\n"), &o, "a|b\nL2@4:1,2||\n");
  o = delim_opt(':');
  {
    tarn_csv_reader *rd = NULL;
    tarn_error err;
    assert_int_equal(tarn_csv_reader_create_mem(&rd, S("a:b\n"), &o, &err), TARN_EINVAL);
    assert_null(rd);
    assert_non_null(strstr(err.detail, "delimiter"));
    o = delim_opt(',');
    o.max_field = 0;
    assert_int_equal(tarn_csv_reader_create_mem(&rd, S("a\n"), &o, &err), TARN_EINVAL);
    o = delim_opt(',');
    o.block_size = 0;
    assert_int_equal(tarn_csv_reader_create_mem(&rd, S("a\n"), &o, &err), TARN_EINVAL);
    assert_int_equal(tarn_csv_reader_create(&rd, NULL, NULL, &err), TARN_EINVAL);
    assert_null(rd);
  }
}

static void test_quotes(void **state) {
  (void)state;
  /* doubled quotes, delimiters inside quotes, empty quoted field is NULL */
  expect_ok(S("a,b,c\n\"x,y\",\"say \"\"hi\"\"\",\"\"\n"), NULL, "a|b|c\nL2@6:x,y|say \"hi\"|~\n");
  expect_ok(S("a\n\"\"\"\"\n"), NULL, "a\nL2@2:\"\n");
  /* newlines inside quotes advance the line count of later records */
  expect_ok(S("a,b\n\"1\n2\n3\",x\n4,y\n"), NULL, "a|b\nL2@4:1\n2\n3|x\nL5@14:4|y\n");
  /* CRLF inside quotes is kept as written */
  expect_ok(S("a\r\n\"x\r\ny\"\r\nz\r\n"), NULL, "a\nL2@3:x\r\ny\nL4@11:z\n");
  /* quoted header names, quoted last field at the end without newline */
  expect_ok(S("\"a b\",\"c\"\"d\"\n1,\"2\""), NULL, "a b|c\"d\nL2@13:1|2\n");
  /* a quote pair split across every chunk boundary (the modes feed byte by byte) */
  expect_ok(S("a,b\n\"\"\"\"\"\",\"\"\"x\"\"\"\n"), NULL, "a|b\nL2@4:\"\"|\"x\"\n");
}

static void test_empty_fields(void **state) {
  (void)state;
  expect_ok(S("a,b,c\n,,\n1,,\n,,3"), NULL, "a|b|c\nL2@6:~|~|~\nL3@9:1|~|~\nL4@13:~|~|3\n");
  expect_ok(S("a,b\n1,"), NULL, "a|b\nL2@4:1|~\n");
  expect_ok(S("a,b\n1,\n"), NULL, "a|b\nL2@4:1|~\n");
}

static void test_bom(void **state) {
  (void)state;
  expect_ok(S("\xEF\xBB\xBF"
              "a,b\n1,2\n"),
            NULL, "a|b\nL2@7:1|2\n");
  /* column numbers do not count the BOM; offsets do */
  expect_err(S("\xEF\xBB\xBF"
               "a,,c\n"),
             NULL, TARN_EINVAL, 1, 3, "empty column name");
  /* a BOM anywhere else is data */
  expect_ok(S("a\n\xEF\xBB\xBFx\n"), NULL, "a\nL2@2:\xEF\xBB\xBFx\n");
}

static void test_blank_lines(void **state) {
  (void)state;
  /* trailing empty lines are ignored, LF or CRLF, one or many */
  expect_ok(S("a,b\n1,2\n\n"), NULL, "a|b\nL2@4:1|2\n");
  expect_ok(S("a,b\n1,2\n\n\n\r\n\n"), NULL, "a|b\nL2@4:1|2\n");
  expect_ok(S("a,b\r\n1,2\r\n\r\n"), NULL, "a|b\nL2@5:1|2\n");
  /* in the middle of a multi-column file: a field-count error at the empty line */
  expect_err(S("a,b\n1,2\n\n3,4\n"), NULL, TARN_EINVAL, 3, 1, "empty line: expected 2 fields");
  expect_err(S("a,b\n1,2\n\n\n\n3,4\n"), NULL, TARN_EINVAL, 3, 1, "empty line");
  /* one column: an empty line in the middle is a NULL; trailing ones still ignored */
  expect_ok(S("a\n1\n\n\n2\n\n\n"), NULL, "a\nL2@2:1\nL3@4:~\nL4@5:~\nL5@6:2\n");
  /* a quoted empty line is a field, not a blank line */
  expect_ok(S("a\n\"\"\n"), NULL, "a\nL2@2:~\n");
}

static void test_header_errors(void **state) {
  (void)state;
  expect_err(S(""), NULL, TARN_EINVAL, 1, 1, "empty input");
  expect_err(S("\xEF\xBB\xBF"), NULL, TARN_EINVAL, 1, 1, "empty input");
  expect_err(S("\n1\n"), NULL, TARN_EINVAL, 1, 1, "empty column name in the header (column 1)");
  expect_err(S("a,,c\n"), NULL, TARN_EINVAL, 1, 3, "(column 2)");
  expect_err(S("a,b,\n"), NULL, TARN_EINVAL, 1, 5, "(column 3)");
  expect_err(S("a,\"\"\n"), NULL, TARN_EINVAL, 1, 3, "(column 2)");
  expect_err(S("id,name,ID\n"), NULL, TARN_EINVAL, 1, 9,
             "duplicate column name \"ID\": column 3 repeats column 1");
  expect_err(S("x,y,\"y\"\n"), NULL, TARN_EINVAL, 1, 5, "column 3 repeats column 2");
  expect_err(S("a,\"b\nc\"\n"), NULL, TARN_EINVAL, 1, 3, "control character 0x0a");
  expect_err(S("a,b\x1f"
               "c\n"),
             NULL, TARN_EINVAL, 1, 3, "control character 0x1f");
}

static void test_field_count(void **state) {
  (void)state;
  expect_err(S("a,b\n1,2\n1,2,3\n"), NULL, TARN_EINVAL, 3, 1,
             "expected 2 fields (as the header has), found 3");
  expect_err(S("a,b,c\n1,2,3\n4,5\n"), NULL, TARN_EINVAL, 3, 1,
             "expected 3 fields (as the header has), found 2");
  /* reported at the line where the record starts, after quoted newlines */
  expect_err(S("a,b\n\"x\ny\",1\n\"p\nq\"\n"), NULL, TARN_EINVAL, 4, 1,
             "expected 2 fields (as the header has), found 1");
  expect_err(S("a,b\n1,2\n1,2,"), NULL, TARN_EINVAL, 3, 1, "found 3");
}

static void test_quote_errors(void **state) {
  (void)state;
  /* unterminated: reported at the opening quote, however far the input goes */
  expect_err(S("a,b\n1,\"abc\n2,3\n4,5\n"), NULL, TARN_EINVAL, 2, 3, "unterminated quoted field");
  expect_err(S("a,b\n1,\""), NULL, TARN_EINVAL, 2, 3, "unterminated");
  expect_err(S("a,b\n1,\"x\"\"\n"), NULL, TARN_EINVAL, 2, 3, "unterminated");
  /* a quote inside an unquoted field: at the quote */
  expect_err(S("a,b\n1,ab\"c\"\n"), NULL, TARN_EINVAL, 2, 5, "quote inside an unquoted field");
  expect_err(S("a,b\n1, \"x\"\n"), NULL, TARN_EINVAL, 2, 4, "quote inside");
  /* garbage after a closing quote: at the garbage */
  expect_err(S("a,b\n1,\"x\"y\n"), NULL, TARN_EINVAL, 2, 6, "after the closing quote");
  expect_err(S("a,b\n1,\"x\" \n"), NULL, TARN_EINVAL, 2, 6, "after the closing quote");
  /* on a later line of a multi-line record: line of the character, column within it */
  expect_err(S("a,b\n\"x\ny\",\"q\nzz\"!\n"), NULL, TARN_EINVAL, 4, 4, "(field 2 \"b\")");
  /* the field is named in data rows */
  expect_err(S("id,name\n1,x\"\n"), NULL, TARN_EINVAL, 2, 4, "(field 2 \"name\"), byte offset 11");
}

static void test_bare_cr(void **state) {
  (void)state;
  expect_err(S("a,b\r1,2\r"), NULL, TARN_EINVAL, 1, 4, "carriage return");
  expect_err(S("a,b\n1,2\r3,4\n"), NULL, TARN_EINVAL, 2, 4, "carriage return");
  expect_ok(S("a,b\n\"1\r\",2\n"), NULL, "a|b\nL2@4:1\r|2\n");
}

static void test_field_cap(void **state) {
  tarn_csv_options o;
  char big[200];
  (void)state;
  tarn_csv_options_init(&o);
  o.max_field = 8;
  expect_ok(S("a,b\n12345678,\"123456\"\n"), &o, "a|b\nL2@4:12345678|123456\n");
  expect_err(S("a,b\n1,123456789\n"), &o, TARN_ETOOBIG, 2, 3, "longer than 8 bytes");
  expect_err(S("a,b\n1,\"1234567\"\n"), &o, TARN_ETOOBIG, 2, 3, "max_field");
  /* an unterminated giant field stops at the cap, not at the end of input */
  memset(big, 'x', sizeof(big));
  memcpy(big, "a\n\"", 3);
  expect_err(big, sizeof(big), &o, TARN_ETOOBIG, 2, 1, "max_field");
  memcpy(big, "a\nxx", 4);
  expect_err(big, sizeof(big), &o, TARN_ETOOBIG, 2, 1, "max_field");
  /* header fields too */
  expect_err(S("abcdefghij\n"), &o, TARN_ETOOBIG, 1, 1, "max_field");
  /* record cap */
  tarn_csv_options_init(&o);
  o.max_record = 16;
  expect_err(S("a,b,c\n12345,67890,12345\n"), &o, TARN_ETOOBIG, 2, 1, "max_record");
  /* column cap */
  tarn_csv_options_init(&o);
  o.max_columns = 3;
  expect_err(S("a,b,c,d\n"), &o, TARN_ETOOBIG, 1, 7, "the most a table may have");
}

static void test_utf8(void **state) {
  (void)state;
  expect_ok(S("name\nZo\xC3\xAB\n\xE2\x82\xAC\n\xF0\x9F\x98\x80\n"), NULL,
            "name\nL2@5:Zo\xC3\xAB\nL3@10:\xE2\x82\xAC\nL4@14:\xF0\x9F\x98\x80\n");
  /* the column counts characters: two 2-byte characters then the bad byte */
  expect_err(S("a,b\n1,\xC3\xA9\xC3\xA9\xFF\n"), NULL, TARN_EINVAL, 2, 5,
             "(field 2 \"b\"), byte offset 10: invalid UTF-8 (byte 0xff)");
  expect_err(S("a\n\x80\n"), NULL, TARN_EINVAL, 2, 1, "invalid UTF-8 (byte 0x80)");
  expect_err(S("a\nx\xC0\x80\n"), NULL, TARN_EINVAL, 2, 2, "byte 0xc0");        /* overlong */
  expect_err(S("a\nx\xE0\x80\x80\n"), NULL, TARN_EINVAL, 2, 2, "byte 0xe0");    /* overlong */
  expect_err(S("a\n\xED\xA0\x80\n"), NULL, TARN_EINVAL, 2, 1, "byte 0xed");     /* surrogate */
  expect_err(S("a\n\xF4\x90\x80\x80\n"), NULL, TARN_EINVAL, 2, 1, "byte 0xf4"); /* >10FFFF */
  expect_err(S("a\n\xF5\x80\x80\x80\n"), NULL, TARN_EINVAL, 2, 1, "byte 0xf5");
  expect_err(S("a\nab\xE2\x82"), NULL, TARN_EINVAL, 2, 3, "byte 0xe2");   /* cut at EOF */
  expect_err(S("a\nab\xE2\x82\n"), NULL, TARN_EINVAL, 2, 3, "byte 0xe2"); /* cut by LF */
  /* inside a quoted field on its second line */
  expect_err(S("a\n\"x\ny\xFF\"\n"), NULL, TARN_EINVAL, 3, 2, "invalid UTF-8");
  /* in the header */
  expect_err(S("a\xFF,b\n"), NULL, TARN_EINVAL, 1, 2, "invalid UTF-8");
  /* earlier than a syntax error in the same record: the UTF-8 error wins */
  expect_err(S("a,b\n\xFF,x\"\n"), NULL, TARN_EINVAL, 2, 1, "invalid UTF-8");
  /* UTF-16 with its BOM is rejected at once */
  expect_err(S("\xFF\xFE"
               "a\0,\0b\0"),
             NULL, TARN_EINVAL, 1, 1, "invalid UTF-8");
}

static void test_sticky_and_source_errors(void **state) {
  tarn_csv_reader *rd = NULL;
  tarn_error err;
  const tarn_csv_record *rec;
  chunk_src s = {"a,b\n1,2\n3,4,5\n6,7\n", 18, 0, 3, SIZE_MAX};
  tarn_csv_source src = {chunk_read, &s};
  (void)state;
  assert_int_equal(tarn_csv_reader_create(&rd, &src, NULL, &err), 0);
  assert_int_equal(tarn_csv_next(rd, &rec, &err), 0);
  assert_non_null(rec);
  assert_int_equal(tarn_csv_next(rd, &rec, &err), TARN_EINVAL);
  assert_null(rec);
  tarn_error_clear(&err);
  assert_int_equal(tarn_csv_next(rd, &rec, &err), TARN_EINVAL);
  assert_non_null(strstr(err.detail, "line 3, column 1"));
  assert_int_equal(tarn_csv_next(rd, &rec, NULL), TARN_EINVAL);
  assert_int_equal(tarn_csv_reader_error_pos(rd)->line, 3);
  assert_int_equal(tarn_csv_reader_error_pos(rd)->offset, 8);
  tarn_csv_reader_destroy(rd);

  /* a failing source: its code and detail come through, and stick */
  s.off = 0;
  s.fail_at = 10;
  {
    tarn_csv_options o;
    tarn_csv_options_init(&o);
    o.block_size = 4;
    assert_int_equal(tarn_csv_reader_create(&rd, &src, &o, &err), 0);
  }
  assert_int_equal(tarn_csv_next(rd, &rec, &err), 0);
  assert_int_equal(tarn_csv_next(rd, &rec, &err), TARN_EIO);
  assert_non_null(strstr(err.detail, "test source fails"));
  assert_int_equal(tarn_csv_next(rd, &rec, &err), TARN_EIO);
  tarn_csv_reader_destroy(rd);
  s.off = 0;
  s.fail_at = 0;
  assert_int_equal(tarn_csv_reader_create(&rd, &src, NULL, &err), TARN_EIO);
  assert_null(rd);
  tarn_csv_reader_destroy(NULL);
}

static void test_fd_reader_and_field_line(void **state) {
  char path[] = "/tmp/tarn-csv-test-XXXXXX";
  const char text[] = "a,b,c\n\"x\ny\",\"p\nq\nr\",z\n1,2,3\n";
  int fd = mkstemp(path);
  tarn_csv_reader *rd = NULL;
  tarn_error err;
  const tarn_csv_record *rec;
  (void)state;
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
  assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
  assert_int_equal(tarn_csv_reader_create_fd(&rd, fd, NULL, &err), 0);
  assert_int_equal(tarn_csv_reader_ncols(rd), 3);
  assert_int_equal(tarn_csv_next(rd, &rec, &err), 0);
  assert_int_equal(rec->line, 2);
  assert_int_equal(rec->row, 0);
  assert_int_equal(tarn_csv_field_line(rec, 0), 2);
  assert_int_equal(tarn_csv_field_line(rec, 1), 3);
  assert_int_equal(tarn_csv_field_line(rec, 2), 5);
  assert_int_equal(tarn_csv_next(rd, &rec, &err), 0);
  assert_int_equal(rec->line, 6);
  assert_int_equal(rec->row, 1);
  assert_int_equal(tarn_csv_next(rd, &rec, &err), 0);
  assert_null(rec);
  assert_int_equal(tarn_csv_reader_offset(rd), sizeof(text) - 1);
  tarn_csv_reader_destroy(rd);
  close(fd);
  unlink(path);
  /* a read error on a bad descriptor */
  assert_int_equal(tarn_csv_reader_create_fd(&rd, -1, NULL, &err), TARN_EIO);
  assert_null(rd);
}

/* Every allocation the reader and inference make can fail: ENOMEM, no leak, no crash. */
static void test_alloc_failures(void **state) {
  const char text[] = "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r\n1,2,3,4,5,6,7,8,9,0,1,2,3,4,5,6,7,8\n";
  long n, total;
  (void)state;
  tarn_alloc_fail_reset();
  for (n = 0;; n++) {
    tarn_csv_reader *rd = NULL;
    tarn_csv_infer *inf = NULL;
    const tarn_csv_record *rec;
    tarn_error err;
    int rc;
    tarn_alloc_fail_reset();
    tarn_alloc_fail_after(n);
    rc = tarn_csv_reader_create_mem(&rd, S(text), NULL, &err);
    if (rc == 0)
      rc = tarn_csv_infer_create(&inf, tarn_csv_reader_ncols(rd), &err);
    while (rc == 0 && (rc = tarn_csv_next(rd, &rec, &err)) == 0 && rec != NULL)
      tarn_csv_infer_record(inf, rec);
    if (rc == 0) {
      char fp[TARN_CSV_FINGERPRINT_LEN];
      tarn_csv_type t[1] = {TARN_CSV_INT64};
      const char *names[1] = {"a"};
      rc = tarn_csv_fingerprint(names, t, 1, fp, &err);
    }
    total = tarn_alloc_count();
    tarn_csv_infer_destroy(inf);
    tarn_csv_reader_destroy(rd);
    tarn_alloc_fail_reset();
    if (rc == 0)
      break;
    assert_int_equal(rc, TARN_ENOMEM);
    assert_true(n < 1000);
  }
  assert_true(n > 3);
  (void)total;
}

/* Hostile input: long runs of quotes, delimiters, newlines, NULs; nothing crashes. */
static void test_hostile(void **state) {
  static char buf[1 << 16];
  const char fill[] = {'"', ',', '\n', '\r', '\0', 'x', '\xff', ';'};
  size_t i, f;
  tarn_csv_options o;
  (void)state;
  tarn_csv_options_init(&o);
  o.max_field = 1000;
  o.max_record = 4000;
  o.max_columns = 100;
  for (f = 0; f < sizeof(fill); f++) {
    for (i = 0; i < sizeof(buf); i++)
      buf[i] = (i % 7 == 3) ? fill[(f + 1) % sizeof(fill)] : fill[f];
    memcpy(buf, "a,b\n", 4);
    {
      static result res;
      run_mode(buf, sizeof(buf), &o, SIZE_MAX, 0, &res);
      run_mode(buf, sizeof(buf), &o, 13, 100, &res);
    }
  }
  /* a 1-column file of 100000 empty lines then a value: linear, not quadratic */
  {
    size_t n = 100000;
    char *big = malloc(n + 10);
    tarn_csv_reader *rd;
    const tarn_csv_record *rec;
    tarn_error err;
    uint64_t rows = 0;
    memcpy(big, "a\n", 2);
    memset(big + 2, '\n', n);
    memcpy(big + 2 + n, "1\n", 2);
    assert_int_equal(tarn_csv_reader_create_mem(&rd, big, n + 4, NULL, &err), 0);
    while (tarn_csv_next(rd, &rec, &err) == 0 && rec != NULL)
      rows++;
    assert_int_equal(rows, n + 1);
    tarn_csv_reader_destroy(rd);
    free(big);
  }
}

/* ---- converters ---- */

static int conv_ok(tarn_csv_type t, const char *s) {
  tarn_csv_value v;
  return tarn_csv_convert(t, s, strlen(s), &v) == 0;
}

static void test_convert_bool_int(void **state) {
  int b = -1;
  int64_t i = 0;
  (void)state;
  assert_int_equal(tarn_csv_parse_bool(S("TRUE"), &b), 0);
  assert_int_equal(b, 1);
  assert_int_equal(tarn_csv_parse_bool(S("fAlSe"), &b), 0);
  assert_int_equal(b, 0);
  assert_int_equal(tarn_csv_parse_bool(S("t"), &b), -1);
  assert_int_equal(tarn_csv_parse_bool(S("yes"), &b), -1);
  assert_int_equal(tarn_csv_parse_bool(S("1"), &b), -1);
  assert_int_equal(tarn_csv_parse_bool(S("truE "), &b), -1);
  assert_int_equal(tarn_csv_parse_bool(S("tru\xc5"), &b), -1);
  assert_int_equal(tarn_csv_parse_int64(S("0"), &i), 0);
  assert_int_equal(i, 0);
  assert_int_equal(tarn_csv_parse_int64(S("-42"), &i), 0);
  assert_int_equal(i, -42);
  assert_int_equal(tarn_csv_parse_int64(S("9223372036854775807"), &i), 0);
  assert_true(i == INT64_MAX);
  assert_int_equal(tarn_csv_parse_int64(S("-9223372036854775808"), &i), 0);
  assert_true(i == INT64_MIN);
  assert_int_equal(tarn_csv_parse_int64(S("9223372036854775808"), &i), -1);
  assert_int_equal(tarn_csv_parse_int64(S("-9223372036854775809"), &i), -1);
  assert_int_equal(tarn_csv_parse_int64(S("99999999999999999999"), &i), -1);
  assert_int_equal(tarn_csv_parse_int64(S("007"), &i), -1);
  assert_int_equal(tarn_csv_parse_int64(S("-0"), &i), -1);
  assert_int_equal(tarn_csv_parse_int64(S("+5"), &i), -1);
  assert_int_equal(tarn_csv_parse_int64(S("-"), &i), -1);
  assert_int_equal(tarn_csv_parse_int64(S(" 5"), &i), -1);
  assert_int_equal(tarn_csv_parse_int64(S("5 "), &i), -1);
  assert_int_equal(tarn_csv_parse_int64(S("1_000"), &i), -1);
  assert_int_equal(tarn_csv_parse_int64(S(""), &i), -1);
}

static void test_convert_float(void **state) {
  double d = 0;
  char buf[64];
  (void)state;
  static const char *const good[] = {"0.1",
                                     "1234.5678",
                                     "-0.5",
                                     "1e5",
                                     "1E-5",
                                     "2.5e+10",
                                     "0",
                                     "42",
                                     "-7",
                                     "123456789012345678",
                                     "0.000001234",
                                     "3.14159265358979323846264338327950288",
                                     "1.7976931348623157e308",
                                     "4.9e-324",
                                     "1e-400",
                                     "123456789012345678901234567890e-10",
                                     "9007199254740993",
                                     "0.30000000000000004",
                                     "1e22",
                                     "1e23",
                                     "8.98846567431158e307"};
  size_t k;
  for (k = 0; k < sizeof(good) / sizeof(good[0]); k++) {
    double want = strtod(good[k], NULL);
    if (tarn_csv_parse_float64(good[k], strlen(good[k]), &d) != 0)
      fail_msg("rejected %s", good[k]);
    if (memcmp(&d, &want, sizeof(d)) != 0)
      fail_msg("%s: got %.17g want %.17g", good[k], d, want);
  }
  assert_int_equal(tarn_csv_parse_float64(S("-0"), &d), 0);
  assert_true(d == 0 && signbit(d));
  assert_int_equal(tarn_csv_parse_float64(S("-0.0"), &d), 0);
  assert_true(d == 0 && signbit(d));
  static const char *const bad[] = {".5",
                                    "5.",
                                    "+1.5",
                                    "01.5",
                                    "1e",
                                    "1e+",
                                    "1.5.2",
                                    "inf",
                                    "-inf",
                                    "nan",
                                    "NaN",
                                    "1e400",
                                    "-1e309",
                                    "0x10",
                                    "1,5",
                                    " 1.5",
                                    "1.5 ",
                                    "1..5",
                                    "e5",
                                    "-",
                                    "99999999999999999999",
                                    "1.7976931348623159e308"};
  for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
    if (tarn_csv_parse_float64(bad[k], strlen(bad[k]), &d) == 0)
      fail_msg("accepted %s", bad[k]);
  /* 256 bytes is the longest number text */
  memset(buf, 0, sizeof(buf));
  {
    char longnum[300];
    memset(longnum, '1', sizeof(longnum));
    longnum[1] = '.';
    assert_int_equal(tarn_csv_parse_float64(longnum, 256, &d), 0);
    assert_int_equal(tarn_csv_parse_float64(longnum, 257, &d), -1);
  }
}

/* Random texts of the float grammar: our value must equal glibc strtod bit for bit, and
 * we accept exactly the finite ones (integers: exactly the int64 ones). */
static void test_convert_float_random(void **state) {
  uint64_t r = 88172645463325252ULL;
  int iter;
  (void)state;
  for (iter = 0; iter < 200000; iter++) {
    char t[128];
    size_t n = 0, k, nd;
    double got = 0, want;
    int ok, is_int = 1;
#define RND() (r ^= r << 13, r ^= r >> 7, r ^= r << 17, r)
    if (RND() % 2)
      t[n++] = '-';
    nd = 1 + RND() % 22;
    for (k = 0; k < nd; k++)
      t[n++] = (char)('0' + (k == 0 ? (nd == 1 ? RND() % 10 : 1 + RND() % 9) : RND() % 10));
    if (RND() % 3) {
      size_t nf = 1 + RND() % 22;
      is_int = 0;
      t[n++] = '.';
      for (k = 0; k < nf; k++)
        t[n++] = (char)('0' + RND() % 10);
    }
    if (RND() % 2) {
      is_int = 0;
      n += (size_t)snprintf(t + n, sizeof(t) - n, "e%d", (int)(RND() % 700) - 350);
    }
    t[n] = '\0';
#undef RND
    want = strtod(t, NULL);
    ok = tarn_csv_parse_float64(t, n, &got) == 0;
    if (is_int) {
      int64_t i;
      int iok = tarn_csv_parse_int64(t, n, &i) == 0 || strcmp(t, "-0") == 0;
      if (ok != iok)
        fail_msg("%s: float64 %d int64 %d", t, ok, iok);
    } else if (ok != !isinf(want)) {
      fail_msg("%s: accepted %d, strtod %.17g", t, ok, want);
    }
    if (ok && memcmp(&got, &want, sizeof(got)) != 0)
      fail_msg("%s: got %.17g want %.17g", t, got, want);
  }
}

static void test_convert_date_timestamp(void **state) {
  int32_t day = 0;
  int64_t us = 0;
  int z = -1;
  (void)state;
  assert_int_equal(tarn_csv_parse_date(S("1970-01-01"), &day), 0);
  assert_int_equal(day, 0);
  assert_int_equal(tarn_csv_parse_date(S("2000-03-01"), &day), 0);
  assert_int_equal(day, 11017);
  assert_int_equal(tarn_csv_parse_date(S("0001-01-01"), &day), 0);
  assert_int_equal(day, -719162);
  assert_int_equal(tarn_csv_parse_date(S("9999-12-31"), &day), 0);
  assert_int_equal(day, 2932896);
  assert_int_equal(tarn_csv_parse_date(S("2024-02-29"), &day), 0);
  assert_int_equal(day, 19782);
  assert_int_equal(tarn_csv_parse_date(S("2023-02-29"), &day), -1);
  assert_int_equal(tarn_csv_parse_date(S("1900-02-29"), &day), -1);
  assert_int_equal(tarn_csv_parse_date(S("2000-02-29"), &day), 0);
  assert_int_equal(tarn_csv_parse_date(S("0000-01-01"), &day), -1);
  assert_int_equal(tarn_csv_parse_date(S("2024-13-01"), &day), -1);
  assert_int_equal(tarn_csv_parse_date(S("2024-04-31"), &day), -1);
  assert_int_equal(tarn_csv_parse_date(S("2024-1-01"), &day), -1);
  assert_int_equal(tarn_csv_parse_date(S("2024/01/01"), &day), -1);
  assert_int_equal(tarn_csv_parse_date(S("01/02/2024"), &day), -1);

  assert_int_equal(tarn_csv_parse_timestamp(S("1970-01-01T00:00:00Z"), &us, &z), 0);
  assert_true(us == 0 && z == 1);
  assert_int_equal(tarn_csv_parse_timestamp(S("2024-03-15 12:34:56.123456"), &us, &z), 0);
  assert_true(us == 1710506096123456LL && z == 0);
  assert_int_equal(tarn_csv_parse_timestamp(S("2024-03-15T12:34:56.123456789"), &us, &z), 0);
  assert_true(us == 1710506096123456LL); /* nanoseconds truncated */
  assert_int_equal(tarn_csv_parse_timestamp(S("2024-03-15T12:34:56.1"), &us, &z), 0);
  assert_true(us == 1710506096100000LL);
  assert_int_equal(tarn_csv_parse_timestamp(S("2000-01-01T00:00:00+01:00"), &us, &z), 0);
  assert_true(us == 946681200000000LL && z == 1);
  assert_int_equal(tarn_csv_parse_timestamp(S("2000-01-01T00:00:00+0100"), &us, &z), 0);
  assert_true(us == 946681200000000LL);
  assert_int_equal(tarn_csv_parse_timestamp(S("1999-12-31T20:30:00-03:30"), &us, &z), 0);
  assert_true(us == 946684800LL * 1000000);
  assert_int_equal(tarn_csv_parse_timestamp(S("1969-12-31T23:59:59.5Z"), &us, &z), 0);
  assert_true(us == -500000);
  static const char *const bad[] = {"2024-03-15T12:34",
                                    "2024-03-15T12:34:60",
                                    "2024-03-15T24:00:00",
                                    "2024-03-15t12:34:56",
                                    "2024-03-15T12:34:56z",
                                    "2024-03-15T12:34:56.",
                                    "2024-03-15T12:34:56.1234567890",
                                    "2024-03-15T12:34:56+01",
                                    "2024-03-15T12:34:56+1:00",
                                    "2024-03-15T12:34:56+24:00",
                                    "2024-03-15T12:34:56 Z",
                                    "2024-02-30T00:00:00",
                                    "2024-03-15T12:34:56Z ",
                                    "2024-03-15T12:34:56+01:60",
                                    "2024-03-15_12:34:56"};
  size_t k;
  for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
    if (tarn_csv_parse_timestamp(bad[k], strlen(bad[k]), &us, &z) == 0)
      fail_msg("accepted %s", bad[k]);
  /* convert: zone must match the column type; empty is NULL */
  assert_true(conv_ok(TARN_CSV_TIMESTAMPTZ, "2024-03-15T12:34:56Z"));
  assert_false(conv_ok(TARN_CSV_TIMESTAMP, "2024-03-15T12:34:56Z"));
  assert_true(conv_ok(TARN_CSV_TIMESTAMP, "2024-03-15T12:34:56"));
  assert_false(conv_ok(TARN_CSV_TIMESTAMPTZ, "2024-03-15T12:34:56"));
  assert_true(conv_ok(TARN_CSV_FLOAT64, "12"));
  assert_false(conv_ok(TARN_CSV_INT64, "12.0"));
  assert_true(conv_ok(TARN_CSV_STRING, "anything"));
  {
    tarn_csv_value v;
    v.is_null = 0;
    assert_int_equal(tarn_csv_convert(TARN_CSV_INT64, "", 0, &v), 0);
    assert_int_equal(v.is_null, 1);
    assert_int_equal(tarn_csv_convert((tarn_csv_type)99, "1", 1, &v), -1);
  }
}

/* ---- inference ---- */

/* Infers one column from values separated by '\n' ("" entries are empty fields); the
 * first value is on line 2. */
static void infer1(const char *const *vals, size_t n, tarn_csv_column *col) {
  tarn_csv_infer *inf;
  tarn_error err;
  size_t i;
  assert_int_equal(tarn_csv_infer_create(&inf, 1, &err), 0);
  for (i = 0; i < n; i++)
    tarn_csv_infer_field(inf, 0, vals[i], strlen(vals[i]), i + 2);
  tarn_csv_infer_column(inf, 0, col);
  tarn_csv_infer_destroy(inf);
  /* the promise: every value converts to the inferred type */
  for (i = 0; i < n; i++) {
    tarn_csv_value v;
    if (tarn_csv_convert(col->type, vals[i], strlen(vals[i]), &v) != 0)
      fail_msg("%s value '%s' does not convert", tarn_csv_type_name(col->type), vals[i]);
  }
}

#define INFER(col, ...)                                                                            \
  do {                                                                                             \
    static const char *const v_[] = {__VA_ARGS__};                                                 \
    infer1(v_, sizeof(v_) / sizeof(v_[0]), (col));                                                 \
  } while (0)

static void expect_type(tarn_csv_column *col, tarn_csv_type t, int nullable, const char *reason) {
  if (col->type != t || col->nullable != nullable || strcmp(col->reason, reason) != 0)
    fail_msg("want %s nullable=%d \"%s\"; got %s nullable=%d \"%s\"", tarn_csv_type_name(t),
             nullable, reason, tarn_csv_type_name(col->type), col->nullable, col->reason);
}

static void test_infer_rules(void **state) {
  tarn_csv_column c;
  (void)state;
  INFER(&c, "true", "FALSE", "True");
  expect_type(&c, TARN_CSV_BOOLEAN, 0, "boolean: 3 values, all true/false");
  INFER(&c, "t", "f");
  expect_type(&c, TARN_CSV_STRING, 0, "string: line 2 has 't'");
  INFER(&c, "yes", "no");
  expect_type(&c, TARN_CSV_STRING, 0, "string: line 2 has 'yes'");
  INFER(&c, "0", "1", "1");
  expect_type(&c, TARN_CSV_INT64, 0, "int64: 3 values, all integers");
  INFER(&c, "true", "0");
  expect_type(&c, TARN_CSV_STRING, 0, "string: line 3 has '0' (an integer) after 1 boolean values");
  INFER(&c, "1", "", "-3");
  expect_type(&c, TARN_CSV_INT64, 1, "int64: 2 values, all integers; 1 empty");
  INFER(&c, "12", "007");
  expect_type(&c, TARN_CSV_STRING, 0,
              "string: line 3 has '007' (leading zeros) after 1 int64 values");
  INFER(&c, "02134", "90210");
  expect_type(&c, TARN_CSV_STRING, 0, "string: line 2 has '02134' (leading zeros)");
  INFER(&c, "0", "10");
  expect_type(&c, TARN_CSV_INT64, 0, "int64: 2 values, all integers");
  INFER(&c, "1", "-0");
  expect_type(&c, TARN_CSV_FLOAT64, 0, "float64: 2 values, all numbers (1 of them integers)");
  INFER(&c, "1", "+2");
  expect_type(&c, TARN_CSV_STRING, 0, "string: line 3 has '+2' after 1 int64 values");
  INFER(&c, "1", "9223372036854775808");
  expect_type(
      &c, TARN_CSV_STRING, 0,
      "string: line 3 has '9223372036854775808' (beyond the int64 range) after 1 int64 values");
  INFER(&c, "1.5", "9223372036854775808");
  expect_type(
      &c, TARN_CSV_STRING, 0,
      "string: line 3 has '9223372036854775808' (beyond the int64 range) after 1 float64 values");
  INFER(&c, "1", "2.5", "3");
  expect_type(&c, TARN_CSV_FLOAT64, 0, "float64: 3 values, all numbers (2 of them integers)");
  INFER(&c, "2.5", "1e3", "-0.001");
  expect_type(&c, TARN_CSV_FLOAT64, 0, "float64: 3 values, all decimal numbers");
  INFER(&c, "1.5", "1e999");
  expect_type(&c, TARN_CSV_STRING, 0,
              "string: line 3 has '1e999' (beyond the float64 range) after 1 float64 values");
  INFER(&c, "1.5", "NaN");
  expect_type(&c, TARN_CSV_STRING, 0, "string: line 3 has 'NaN' after 1 float64 values");
  INFER(&c, "1.5", "inf");
  expect_type(&c, TARN_CSV_STRING, 0, "string: line 3 has 'inf' after 1 float64 values");
  INFER(&c, "01.5");
  expect_type(&c, TARN_CSV_STRING, 0, "string: line 2 has '01.5' (leading zeros)");
  INFER(&c, "2024-01-01", "1999-12-31");
  expect_type(&c, TARN_CSV_DATE, 0, "date: 2 values, all YYYY-MM-DD");
  INFER(&c, "2024-01-01", "12");
  expect_type(&c, TARN_CSV_STRING, 0, "string: line 3 has '12' (an integer) after 1 date values");
  INFER(&c, "12", "2024-01-01");
  expect_type(&c, TARN_CSV_STRING, 0,
              "string: line 3 has '2024-01-01' (a date) after 1 int64 values");
  INFER(&c, "2024-01-01", "01/02/2024");
  expect_type(&c, TARN_CSV_STRING, 0, "string: line 3 has '01/02/2024' after 1 date values");
  INFER(&c, "2024-01-01", "2024-02-30");
  expect_type(&c, TARN_CSV_STRING, 0,
              "string: line 3 has '2024-02-30' (not a valid date or ISO 8601 timestamp) after 1 "
              "date values");
  INFER(&c, "2024-01-01", "2024-01-01T00:00:00");
  expect_type(
      &c, TARN_CSV_STRING, 0,
      "string: line 3 has '2024-01-01T00:00:00' (a timestamp without zone) after 1 date values");
  INFER(&c, "2024-01-01T10:00:00", "2024-01-01 11:00:00.5", "");
  expect_type(&c, TARN_CSV_TIMESTAMP, 1,
              "timestamp: 2 values, all ISO 8601 without a zone; 1 empty");
  INFER(&c, "2024-01-01T10:00:00Z", "2024-01-01T11:00:00+02:00",
        "2024-01-01T11:00:00.123456789-0130");
  expect_type(&c, TARN_CSV_TIMESTAMPTZ, 0, "timestamptz: 3 values, all ISO 8601 with a zone");
  INFER(&c, "2024-01-01T10:00:00Z", "2024-01-01T10:00:00");
  expect_type(&c, TARN_CSV_STRING, 0,
              "string: line 3 has '2024-01-01T10:00:00' (a timestamp without zone) after 1 "
              "timestamptz values");
  INFER(&c, "2024-01-01T10:00:00Z", "2024-01-01T10:00:00.1234567891Z");
  expect_type(&c, TARN_CSV_STRING, 0,
              "string: line 3 has '2024-01-01T10:00:00.1234567891Z' (not a valid date or ISO 8601 "
              "timestamp) after 1 timestamptz values");
  INFER(&c, "", "", "");
  expect_type(&c, TARN_CSV_STRING, 1, "string: no values (all 3 fields empty)");
  INFER(&c, " 12", "13");
  expect_type(&c, TARN_CSV_STRING, 0, "string: line 2 has ' 12' (surrounding whitespace)");
  INFER(&c, "abc", "1");
  expect_type(&c, TARN_CSV_STRING, 0, "string: line 2 has 'abc'");
}

static void test_infer_misc(void **state) {
  tarn_csv_infer *inf;
  tarn_csv_column c;
  tarn_error err;
  char longv[100];
  (void)state;
  /* no rows at all */
  assert_int_equal(tarn_csv_infer_create(&inf, 2, &err), 0);
  tarn_csv_infer_column(inf, 1, &c);
  expect_type(&c, TARN_CSV_STRING, 1, "string: no rows");
  tarn_csv_infer_column(inf, 7, &c);
  assert_int_equal(c.type, TARN_CSV_STRING);
  /* the snippet is cut and escaped */
  memset(longv, 'x', sizeof(longv));
  longv[0] = '\'';
  longv[1] = '\n';
  tarn_csv_infer_field(inf, 0, "1", 1, 2);
  tarn_csv_infer_field(inf, 0, longv, sizeof(longv), 3);
  tarn_csv_infer_field(inf, 0, "2", 1, 4);
  tarn_csv_infer_field(inf, 5, "2", 1, 4); /* out of range: ignored */
  tarn_csv_infer_column(inf, 0, &c);
  expect_type(&c, TARN_CSV_STRING, 0,
              "string: line 3 has '\\x27\\x0axxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...' after 1 "
              "int64 values");
  assert_int_equal(c.values, 3);
  tarn_csv_infer_destroy(inf);
  tarn_csv_infer_destroy(NULL);
  assert_int_equal(tarn_csv_infer_create(&inf, 0, &err), TARN_EINVAL);
  /* type names are stable */
  assert_string_equal(tarn_csv_type_name(TARN_CSV_BOOLEAN), "boolean");
  assert_string_equal(tarn_csv_type_name(TARN_CSV_INT64), "int64");
  assert_string_equal(tarn_csv_type_name(TARN_CSV_FLOAT64), "float64");
  assert_string_equal(tarn_csv_type_name(TARN_CSV_DATE), "date");
  assert_string_equal(tarn_csv_type_name(TARN_CSV_TIMESTAMP), "timestamp");
  assert_string_equal(tarn_csv_type_name(TARN_CSV_TIMESTAMPTZ), "timestamptz");
  assert_string_equal(tarn_csv_type_name(TARN_CSV_STRING), "string");
  assert_string_equal(tarn_csv_type_name((tarn_csv_type)7), "unknown");
  assert_int_equal(tarn_csv_type_from_name("timestamptz"), TARN_CSV_TIMESTAMPTZ);
  assert_int_equal(tarn_csv_type_from_name("Int64"), -1);
  assert_int_equal(tarn_csv_type_from_name(NULL), -1);
}

/* Inference through the reader: field lines after quoted newlines, order independence. */
static void test_infer_records(void **state) {
  const char text[] = "n,note,x\n1,\"a\nb\",1\n2,\"c\",x\n";
  tarn_csv_reader *rd;
  tarn_csv_infer *inf;
  const tarn_csv_record *rec;
  tarn_csv_column c;
  tarn_error err;
  (void)state;
  assert_int_equal(tarn_csv_reader_create_mem(&rd, S(text), NULL, &err), 0);
  assert_int_equal(tarn_csv_infer_create(&inf, 3, &err), 0);
  while (tarn_csv_next(rd, &rec, &err) == 0 && rec != NULL)
    tarn_csv_infer_record(inf, rec);
  tarn_csv_infer_column(inf, 0, &c);
  expect_type(&c, TARN_CSV_INT64, 0, "int64: 2 values, all integers");
  tarn_csv_infer_column(inf, 1, &c);
  expect_type(&c, TARN_CSV_STRING, 0, "string: line 2 has 'a\\x0ab'");
  tarn_csv_infer_column(inf, 2, &c);
  expect_type(&c, TARN_CSV_STRING, 0, "string: line 4 has 'x' after 1 int64 values");
  tarn_csv_infer_destroy(inf);
  tarn_csv_reader_destroy(rd);
}

/* The only non-integer of a 200,000-line file is on the last line: whole-file inference
 * must see it (a sampler would not). */
static void test_infer_last_line(void **state) {
  const size_t rows = 200000;
  tarn_buf b;
  tarn_csv_reader *rd;
  tarn_csv_infer *inf;
  const tarn_csv_record *rec;
  tarn_csv_column c;
  tarn_error err;
  tarn_csv_options o;
  size_t i;
  (void)state;
  tarn_buf_init(&b, TARN_BUF_UNLIMITED);
  assert_int_equal(tarn_buf_append_str(&b, "id,v\n", &err), 0);
  for (i = 0; i < rows - 1; i++)
    assert_int_equal(tarn_buf_appendf(&b, &err, "%zu,%zu\n", i, i * 7), 0);
  assert_int_equal(tarn_buf_appendf(&b, &err, "%zu,12a\n", i), 0);
  tarn_csv_options_init(&o);
  o.block_size = 4096; /* many block boundaries */
  assert_int_equal(tarn_csv_reader_create_mem(&rd, b.data, b.len, &o, &err), 0);
  assert_int_equal(tarn_csv_infer_create(&inf, 2, &err), 0);
  while (tarn_csv_next(rd, &rec, &err) == 0 && rec != NULL)
    tarn_csv_infer_record(inf, rec);
  tarn_csv_infer_column(inf, 0, &c);
  expect_type(&c, TARN_CSV_INT64, 0, "int64: 200000 values, all integers");
  tarn_csv_infer_column(inf, 1, &c);
  expect_type(&c, TARN_CSV_STRING, 0, "string: line 200001 has '12a' after 199999 int64 values");
  tarn_csv_infer_destroy(inf);
  tarn_csv_reader_destroy(rd);
  tarn_buf_free(&b);
}

/* For many texts: whatever type inference gives a one-value column, convert accepts. */
static void test_infer_convert_agree(void **state) {
  static const char *const texts[] = {"0",
                                      "-0",
                                      "1",
                                      "-1",
                                      "007",
                                      "1.0",
                                      "1e5",
                                      "1E+05",
                                      ".5",
                                      "5.",
                                      "true",
                                      "False",
                                      "t",
                                      "2024-01-01",
                                      "2024-1-1",
                                      "2024-01-01T00:00:00",
                                      "2024-01-01 00:00:00.000000001",
                                      "2024-01-01T00:00:00Z",
                                      "2024-01-01T00:00:00+05:30",
                                      "2024-01-01T00:00:00+0530",
                                      "9223372036854775807",
                                      "-9223372036854775808",
                                      "9223372036854775808",
                                      "1e308",
                                      "1e309",
                                      "2e308",
                                      "1.7976931348623157e308",
                                      "1.7976931348623158e308",
                                      "1.7976931348623159e308",
                                      "17976931348623157e292",
                                      "-1e-400",
                                      "abc",
                                      " ",
                                      "\"",
                                      "0.",
                                      "-",
                                      "--1",
                                      "1-1"};
  size_t i, t;
  (void)state;
  for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
    tarn_csv_column c;
    int accepted = 0;
    infer1(&texts[i], 1, &c);
    /* and the inferred type is the only non-string one that accepts it, except that
     * float64 also takes integers */
    for (t = 0; t < TARN_CSV_STRING; t++) {
      tarn_csv_value v;
      if (tarn_csv_convert((tarn_csv_type)t, texts[i], strlen(texts[i]), &v) == 0) {
        accepted++;
        if (t != c.type && !(t == TARN_CSV_FLOAT64 && c.type == TARN_CSV_INT64))
          fail_msg("'%s' inferred %s but %s accepts it", texts[i], tarn_csv_type_name(c.type),
                   tarn_csv_type_name((tarn_csv_type)t));
      }
    }
    if (c.type != TARN_CSV_STRING && accepted == 0)
      fail_msg("'%s' inferred %s but nothing accepts it", texts[i], tarn_csv_type_name(c.type));
  }
}

/* ---- fingerprint ---- */

static void test_fingerprint(void **state) {
  const char *names[] = {"a", "b", "Created At"};
  tarn_csv_type types[] = {TARN_CSV_INT64, TARN_CSV_STRING, TARN_CSV_TIMESTAMPTZ};
  char fp[TARN_CSV_FINGERPRINT_LEN];
  tarn_error err;
  (void)state;
  /* printf 'a\x1fint64\x1eb\x1fstring\x1eCreated At\x1ftimestamptz\x1e' | sha256sum */
  assert_int_equal(tarn_csv_fingerprint(names, types, 3, fp, &err), 0);
  assert_string_equal(fp,
                      "sha256:88f0744377265042b2fb5c7382ffd5c97e7b12b7ccf1632e9d09f11ad131f3a2");
  /* printf 'id\x1fboolean\x1e' | sha256sum */
  names[0] = "id";
  types[0] = TARN_CSV_BOOLEAN;
  assert_int_equal(tarn_csv_fingerprint(names, types, 1, fp, &err), 0);
  assert_string_equal(fp,
                      "sha256:eda27bb1827707521bc2a8c8250110dec589a52394ded15a98c589eff6a3feb7");
  /* no columns: the hash of nothing */
  assert_int_equal(tarn_csv_fingerprint(names, types, 0, fp, &err), 0);
  assert_string_equal(fp,
                      "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  types[0] = (tarn_csv_type)42;
  assert_int_equal(tarn_csv_fingerprint(names, types, 1, fp, &err), TARN_EINVAL);
}

/* The delimiter is judged by structure: the most columns with one field count throughout. */
static void test_sniff_delimiter(void **state) {
  static const struct {
    const char *text;
    int complete;
    char want;
    size_t cols;
  } cases[] = {
      {"a;b;c\n1;2;3\n", 1, ';', 3},
      {"a,b\n1,2", 1, ',', 2},
      {"a\tb\tc\n1\t2\t3\n", 1, '\t', 3},
      {"a|b\n1|2\n", 1, '|', 2},
      {"name;note\nx;\"a,b,c\"\ny;\"d,e\"\n", 1, ';', 2}, /* commas only in quotes */
      {"a,x;b\n1;2\n3;4\n", 1, ';', 2},                   /* ',' splits the header only */
      {"a\n1\n2\n", 1, ',', 0},                           /* one column: none splits */
      {"a;b\n1;2\n3;4\n5;6;7", 1, ',', 0},                /* ragged, and complete */
      {"a;b\n1;2\n3;4\n5;6;7", 0, ';', 2},                /* the sample's cut end */
      {"", 1, ',', 0},
  };
  size_t i, cols;
  (void)state;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char got =
        tarn_csv_sniff_delimiter(cases[i].text, strlen(cases[i].text), cases[i].complete, &cols);
    if (got != cases[i].want || cols != cases[i].cols)
      fail_msg("case %zu: want '%c' %zu, got '%c' %zu", i, cases[i].want, cases[i].cols, got, cols);
  }
  assert_int_equal(tarn_csv_header_columns("a;b;c\n", 6, ';'), 3);
  assert_int_equal(tarn_csv_header_columns("a;b;c\n", 6, ','), 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sniff_delimiter),
      cmocka_unit_test(test_basic_lf_crlf_final),
      cmocka_unit_test(test_delimiters),
      cmocka_unit_test(test_quotes),
      cmocka_unit_test(test_empty_fields),
      cmocka_unit_test(test_bom),
      cmocka_unit_test(test_blank_lines),
      cmocka_unit_test(test_header_errors),
      cmocka_unit_test(test_field_count),
      cmocka_unit_test(test_quote_errors),
      cmocka_unit_test(test_bare_cr),
      cmocka_unit_test(test_field_cap),
      cmocka_unit_test(test_utf8),
      cmocka_unit_test(test_sticky_and_source_errors),
      cmocka_unit_test(test_fd_reader_and_field_line),
      cmocka_unit_test(test_alloc_failures),
      cmocka_unit_test(test_hostile),
      cmocka_unit_test(test_convert_bool_int),
      cmocka_unit_test(test_convert_float),
      cmocka_unit_test(test_convert_float_random),
      cmocka_unit_test(test_convert_date_timestamp),
      cmocka_unit_test(test_infer_rules),
      cmocka_unit_test(test_infer_misc),
      cmocka_unit_test(test_infer_records),
      cmocka_unit_test(test_infer_last_line),
      cmocka_unit_test(test_infer_convert_agree),
      cmocka_unit_test(test_fingerprint),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
