/* csv_read.c - the streaming RFC 4180 reader: blocks in, zero-copy records out. */
#include "csv_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "base/alloc.h"
#include "base/buf.h"

/*
 * Buffering. buf.data[pos..len) holds input not yet returned; buf.data[0] is input byte
 * `base`. A record is scanned in place; when it runs past len the unread tail is moved
 * to the front, more is read (at least as much as is already held, so a long record is
 * rescanned O(log) times, not once per block) and the record is scanned again from its
 * start. Records handed out point into buf and stay valid until the next call, which is
 * the only time the buffer moves. PAD zeroed bytes after len let the vector scans read
 * 16 bytes at a time without a bounds check per byte.
 */
#define PAD 64

enum { S_RECORD, S_MORE, S_EOF, S_ERR };

struct tarn_csv_reader {
  tarn_csv_source src;
  void *own_ctx; /* the source context when the reader made it (fd, mem) */
  tarn_csv_options opt;
  tarn_buf buf;
  size_t pos;           /* first byte not yet returned */
  uint64_t base;        /* input offset of buf.data[0] */
  int eof;              /* the source said end of input */
  uint64_t line;        /* line of buf.data[pos] */
  uint64_t valid_to;    /* input offset up to which UTF-8 is checked */
  uint64_t bad_utf8;    /* input offset of the first invalid byte; UINT64_MAX if none */
  uint64_t nonblank_at; /* input offset of a non-newline byte known to follow blanks */

  tarn_csv_field *fields; /* fcap slots */
  size_t *esc;            /* indices of fields holding doubled quotes */
  size_t fcap;
  int in_header;

  size_t ncols;
  char **names;
  tarn_csv_record rec;
  uint64_t rows;

  int failed;
  tarn_error saved;
  tarn_csv_pos epos;
};

/* What one scan of a record found. */
typedef struct scan_out {
  size_t end;  /* index just past the record's terminator */
  size_t nf;   /* fields counted (may exceed fcap) */
  size_t nesc; /* fields needing unescape */
  uint64_t nl; /* newlines inside quoted fields */
  int blank;   /* the line was empty */
} scan_out;

/* ---- errors ---- */

/* Renders the position of buffer index `at` in a record starting at index `start`,
 * records it as the reader's sticky error and returns code. */
static int fail_at(tarn_csv_reader *rd, size_t start, size_t at, size_t field, int code,
                   const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int vfail_at(tarn_csv_reader *rd, size_t start, size_t at, size_t field, int code,
                    const char *fmt, va_list ap) __attribute__((format(printf, 6, 0)));

static int vfail_at(tarn_csv_reader *rd, size_t start, size_t at, size_t field, int code,
                    const char *fmt, va_list ap) {
  const unsigned char *b = (const unsigned char *)rd->buf.data;
  char what[256], fieldtxt[160] = "";
  uint64_t line = rd->line, col = 1;
  size_t i, ls = start;
  /* An invalid byte earlier in the same record is the first error: report it. */
  if (rd->bad_utf8 >= rd->base + start && rd->bad_utf8 < rd->base + at && code != TARN_ETOOBIG) {
    size_t bad = (size_t)(rd->bad_utf8 - rd->base);
    size_t fno = 1;
    int inq = 0;
    for (i = start; i < bad; i++) { /* recount the field: delimiters outside quotes */
      if (b[i] == '"')
        inq = !inq;
      else if (!inq && b[i] == (unsigned char)rd->opt.delimiter)
        fno++;
    }
    return fail_at(rd, start, bad, fno, TARN_EINVAL, "invalid UTF-8 (byte 0x%02x)", b[bad]);
  }
  for (i = start; i < at; i++)
    if (b[i] == '\n') {
      line++;
      ls = i + 1;
    }
  for (i = ls; i < at; i++)
    if ((b[i] & 0xC0) != 0x80)
      col++;
  vsnprintf(what, sizeof(what), fmt, ap);
  if (field > 0 && !rd->in_header && field <= rd->ncols)
    snprintf(fieldtxt, sizeof(fieldtxt), " (field %zu \"%.100s\")", field, rd->names[field - 1]);
  else if (field > 0)
    snprintf(fieldtxt, sizeof(fieldtxt), " (field %zu)", field);
  rd->epos.line = line;
  rd->epos.column = col;
  rd->epos.offset = rd->base + at;
  rd->epos.field = field;
  rd->failed = 1;
  tarn_error_set(&rd->saved, code, "line %llu, column %llu%s, byte offset %llu: %s",
                 (unsigned long long)line, (unsigned long long)col, fieldtxt,
                 (unsigned long long)(rd->base + at), what);
  return code;
}

static int fail_at(tarn_csv_reader *rd, size_t start, size_t at, size_t field, int code,
                   const char *fmt, ...) {
  va_list ap;
  int rc;
  va_start(ap, fmt);
  rc = vfail_at(rd, start, at, field, code, fmt, ap);
  va_end(ap);
  return rc;
}

/* The same for the scanner, which answers S_ERR. */
static int scan_fail(tarn_csv_reader *rd, size_t start, size_t at, size_t field, int code,
                     const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int scan_fail(tarn_csv_reader *rd, size_t start, size_t at, size_t field, int code,
                     const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfail_at(rd, start, at, field, code, fmt, ap);
  va_end(ap);
  return S_ERR;
}

static int return_failure(const tarn_csv_reader *rd, tarn_error *err) {
  if (err != NULL)
    *err = rd->saved;
  return rd->saved.code;
}

/* ---- UTF-8 ---- */

/*
 * Length of the longest prefix of s[0..n) made of whole valid characters. *bad is set
 * when the byte there starts an invalid sequence (overlong forms, surrogates, code
 * points past U+10FFFF, stray continuation bytes) rather than one cut off by n.
 */
static size_t utf8_prefix(const unsigned char *s, size_t n, int *bad) {
  size_t i = 0;
  *bad = 0;
  while (i < n) {
    unsigned c, lo = 0x80, hi = 0xBF;
    size_t need, k;
    while (i + 16 <= n) {
      uint64_t a, b;
      memcpy(&a, s + i, 8);
      memcpy(&b, s + i + 8, 8);
      if (((a | b) & 0x8080808080808080ULL) != 0)
        break;
      i += 16;
    }
    if (i >= n)
      break;
    c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    if (c >= 0xC2 && c <= 0xDF) {
      need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      need = 2;
      if (c == 0xE0)
        lo = 0xA0;
      else if (c == 0xED)
        hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      need = 3;
      if (c == 0xF0)
        lo = 0x90;
      else if (c == 0xF4)
        hi = 0x8F;
    } else {
      *bad = 1;
      return i;
    }
    for (k = 1; k <= need; k++) {
      unsigned d;
      if (i + k >= n)
        return i; /* cut off: decided when more arrives */
      d = s[i + k];
      if (d < (k == 1 ? lo : 0x80) || d > (k == 1 ? hi : 0xBF)) {
        *bad = 1;
        return i;
      }
    }
    i += need + 1;
  }
  return n;
}

static void validate_new(tarn_csv_reader *rd) {
  size_t from, n;
  int bad;
  if (rd->bad_utf8 != UINT64_MAX)
    return;
  from = (size_t)(rd->valid_to - rd->base);
  n = utf8_prefix((const unsigned char *)rd->buf.data + from, rd->buf.len - from, &bad);
  rd->valid_to += n;
  if (bad || (rd->eof && rd->valid_to < rd->base + rd->buf.len))
    rd->bad_utf8 = rd->valid_to;
}

/* ---- input ---- */

/* Moves buf[pos..len) to the front and reads more: at least as much as is held. */
static int fill(tarn_csv_reader *rd, tarn_error *err) {
  size_t want, got;
  int rc;
  if (rd->pos > 0) {
    memmove(rd->buf.data, rd->buf.data + rd->pos, rd->buf.len - rd->pos);
    rd->buf.len -= rd->pos;
    rd->base += rd->pos;
    rd->pos = 0;
  }
  want = rd->buf.len > rd->opt.block_size ? rd->buf.len : rd->opt.block_size;
  rc = tarn_buf_reserve(&rd->buf, want + PAD, err);
  if (rc != 0)
    return rc;
  while (want > 0 && !rd->eof) {
    got = 0;
    rc = rd->src.read(rd->src.ctx, rd->buf.data + rd->buf.len, want, &got, err);
    if (rc != 0)
      return rc;
    if (got == 0)
      rd->eof = 1;
    if (got > want)
      got = want; /* a source reporting more than asked is a bug; never trust it */
    rd->buf.len += got;
    want -= got;
  }
  memset(rd->buf.data + rd->buf.len, 0, PAD);
  validate_new(rd);
  return 0;
}

/* ---- scanning ---- */

/* Index of the first delimiter, quote, LF or CR in b[p..end), or end. */
static inline size_t find_special(const char *b, size_t p, size_t end, char delim) {
#if defined(__SSE2__)
  const __m128i vd = _mm_set1_epi8(delim), vq = _mm_set1_epi8('"');
  const __m128i vn = _mm_set1_epi8('\n'), vr = _mm_set1_epi8('\r');
  while (p < end) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(b + p));
    __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, vd), _mm_cmpeq_epi8(v, vq)),
                             _mm_or_si128(_mm_cmpeq_epi8(v, vn), _mm_cmpeq_epi8(v, vr)));
    unsigned mask = (unsigned)_mm_movemask_epi8(m);
    if (mask != 0) {
      size_t q = p + (size_t)__builtin_ctz(mask);
      return q < end ? q : end;
    }
    p += 16;
  }
  return end;
#else
  for (; p < end; p++) {
    char c = b[p];
    if (c == delim || c == '"' || c == '\n' || c == '\r')
      return p;
  }
  return end;
#endif
}

/* Index of the first quote in b[p..end), or end; adds the LFs before it to *nl. */
static inline size_t find_quote(const char *b, size_t p, size_t end, uint64_t *nl) {
#if defined(__SSE2__)
  const __m128i vq = _mm_set1_epi8('"'), vn = _mm_set1_epi8('\n');
  while (p < end) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(b + p));
    unsigned qm = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, vq));
    unsigned nm = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, vn));
    size_t left = end - p;
    if (left < 16) { /* ignore the padding */
      qm &= (1u << left) - 1;
      nm &= (1u << left) - 1;
    }
    if (qm != 0) {
      unsigned at = (unsigned)__builtin_ctz(qm);
      *nl += (uint64_t)__builtin_popcount(nm & ((1u << at) - 1));
      return p + at;
    }
    *nl += (uint64_t)__builtin_popcount(nm);
    p += 16;
  }
  return end;
#else
  for (; p < end; p++) {
    if (b[p] == '"')
      return p;
    if (b[p] == '\n')
      (*nl)++;
  }
  return end;
#endif
}

static int grow_fields(tarn_csv_reader *rd, size_t start, size_t at, tarn_error *err) {
  size_t ncap;
  tarn_csv_field *nf;
  size_t *ne;
  if (rd->fcap >= rd->opt.max_columns)
    return fail_at(rd, start, at, rd->fcap + 1, TARN_ETOOBIG,
                   "more than %zu columns in the header: the most a table may have",
                   rd->opt.max_columns);
  ncap = rd->fcap < 16 ? 16 : rd->fcap * 2;
  if (ncap > rd->opt.max_columns)
    ncap = rd->opt.max_columns;
  nf = tarn_reallocarray(rd->fields, ncap, sizeof(*nf));
  if (nf == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "csv: growing the field array");
  rd->fields = nf;
  ne = tarn_reallocarray(rd->esc, ncap, sizeof(*ne));
  if (ne == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "csv: growing the field array");
  rd->esc = ne;
  rd->fcap = ncap;
  return 0;
}

/*
 * Scans one record starting at buffer index `start`. S_RECORD fills *so and the field
 * array (values not yet unescaped); S_MORE needs more input; S_EOF means no bytes are
 * left; S_ERR has recorded the error (or, for ENOMEM, set err).
 */
static int scan_record(tarn_csv_reader *rd, size_t start, scan_out *so, tarn_error *err) {
  const char *b = rd->buf.data;
  const size_t end = rd->buf.len;
  const char delim = rd->opt.delimiter;
  const size_t maxf = rd->opt.max_field;
  const int eof = rd->eof;
  size_t p = start, nf = 0, nesc = 0;
  uint64_t nl = 0;

  so->blank = 0;
  if (p >= end)
    return eof ? S_EOF : S_MORE;
  for (;;) {
    const size_t fs = p;
    size_t vstart, vlen, q;
    int esc = 0;
    if (b[p] == '"') { /* p < end here */
      q = p + 1;
      for (;;) {
        q = find_quote(b, q, end, &nl);
        if (q >= end) {
          if (!eof)
            goto more;
          if (end - fs > maxf)
            return scan_fail(rd, start, fs, nf + 1, TARN_ETOOBIG,
                             "field longer than %zu bytes (max_field)", maxf);
          return scan_fail(rd, start, fs, nf + 1, TARN_EINVAL,
                           "unterminated quoted field (opening quote here, end of input reached)");
        }
        if (q + 1 >= end && !eof)
          goto more; /* "" split across blocks */
        if (q + 1 < end && b[q + 1] == '"') {
          esc = 1;
          q += 2;
          continue;
        }
        break;
      }
      vstart = p + 1;
      vlen = q - p - 1;
      p = q + 1; /* just past the closing quote */
      if (p - fs > maxf)
        return scan_fail(rd, start, fs, nf + 1, TARN_ETOOBIG,
                         "field longer than %zu bytes (max_field)", maxf);
      if (p < end && b[p] != delim && b[p] != '\n' && b[p] != '\r')
        return scan_fail(rd, start, p, nf + 1, TARN_EINVAL,
                         "unexpected character after the closing quote of a quoted field");
    } else {
      q = find_special(b, p, end, delim);
      if (q >= end && !eof)
        goto more;
      if (q - p > maxf) /* before any syntax error, as when reading in blocks */
        return scan_fail(rd, start, fs, nf + 1, TARN_ETOOBIG,
                         "field longer than %zu bytes (max_field)", maxf);
      if (q < end && b[q] == '"')
        return scan_fail(rd, start, q, nf + 1, TARN_EINVAL,
                         "quote inside an unquoted field (quote the whole field and double "
                         "inner quotes)");
      vstart = p;
      vlen = q - p;
      p = q;
      if (vlen > maxf)
        return scan_fail(rd, start, fs, nf + 1, TARN_ETOOBIG,
                         "field longer than %zu bytes (max_field)", maxf);
    }
    /* store the field */
    if (nf >= rd->fcap && rd->in_header) {
      int rc = grow_fields(rd, start, fs, err);
      if (rc != 0)
        return S_ERR;
    }
    if (nf < rd->fcap) {
      rd->fields[nf].ptr = b + vstart;
      rd->fields[nf].len = vlen;
      if (esc)
        rd->esc[nesc++] = nf;
    }
    nf++;
    if (p - start > rd->opt.max_record)
      return scan_fail(rd, start, start, 0, TARN_ETOOBIG,
                       "record longer than %zu bytes (max_record)", rd->opt.max_record);
    /* what ends it */
    if (p >= end) { /* end of input (eof is set, else we went to more) */
      so->end = end;
      break;
    }
    if (b[p] == delim) {
      p++;
      if (p >= end && !eof)
        goto more;
      if (p >= end) { /* "a,b," at the end of input: one more empty field */
        if (nf < rd->fcap) {
          rd->fields[nf].ptr = b + p;
          rd->fields[nf].len = 0;
        } else if (rd->in_header) {
          if (grow_fields(rd, start, p, err) != 0)
            return S_ERR;
          rd->fields[nf].ptr = b + p;
          rd->fields[nf].len = 0;
        }
        nf++;
        so->end = end;
        break;
      }
      continue;
    }
    if (b[p] == '\n') {
      so->end = p + 1;
      so->blank = nf == 1 && fs == start && p == start;
      break;
    }
    /* CR */
    if (p + 1 >= end && !eof)
      goto more;
    if (p + 1 < end && b[p + 1] == '\n') {
      so->end = p + 2;
      so->blank = nf == 1 && fs == start && p == start;
      break;
    }
    return scan_fail(rd, start, p, nf, TARN_EINVAL,
                     "carriage return not followed by a line feed outside quotes");
  }
  so->nf = nf;
  so->nesc = nesc;
  so->nl = nl;
  return S_RECORD;

more:
  /* The field in progress already breaks the cap: no point reading more of it. */
  if (end - p > maxf)
    return scan_fail(rd, start, p, nf + 1, TARN_ETOOBIG, "field longer than %zu bytes (max_field)",
                     maxf);
  if (end - start > rd->opt.max_record)
    return scan_fail(rd, start, start, 0, TARN_ETOOBIG, "record longer than %zu bytes (max_record)",
                     rd->opt.max_record);
  return S_MORE;
}

/* Undoes doubled quotes in place (the buffer is ours; the result is never longer). */
static void unescape(tarn_csv_reader *rd, size_t nesc) {
  size_t k;
  for (k = 0; k < nesc; k++) {
    tarn_csv_field *f = &rd->fields[rd->esc[k]];
    char *s = rd->buf.data + (f->ptr - rd->buf.data);
    size_t i, o = 0;
    for (i = 0; i < f->len; i++) {
      s[o++] = s[i];
      if (s[i] == '"')
        i++; /* skip the second quote of the pair */
    }
    f->len = o;
  }
}

/* Which field holds buffer index `at` of a record scanned from `start` (1-based). */
static size_t field_of(const tarn_csv_reader *rd, size_t nf, size_t at) {
  size_t i, n = nf < rd->fcap ? nf : rd->fcap;
  for (i = n; i > 0; i--)
    if ((size_t)(rd->fields[i - 1].ptr - rd->buf.data) <= at + 1)
      return i;
  return 1;
}

/* Scans the next record, reading as needed. S_RECORD, S_EOF or S_ERR (error recorded or in
 * err). On S_RECORD the record spans buf[pos..so->end). */
static int next_raw(tarn_csv_reader *rd, scan_out *so, tarn_error *err) {
  for (;;) {
    int r = scan_record(rd, rd->pos, so, err);
    if (r == S_MORE) {
      int rc = fill(rd, err);
      if (rc != 0) {
        rd->failed = 1;
        rd->saved = err != NULL ? *err : rd->saved;
        if (err == NULL)
          tarn_error_set(&rd->saved, rc, "csv: reading input");
        return S_ERR;
      }
      continue;
    }
    if (r == S_RECORD && rd->bad_utf8 < rd->base + so->end) {
      size_t bad = (size_t)(rd->bad_utf8 - rd->base);
      fail_at(rd, rd->pos, bad, field_of(rd, so->nf, bad), TARN_EINVAL,
              "invalid UTF-8 (byte 0x%02x)", (unsigned char)rd->buf.data[bad]);
      return S_ERR;
    }
    return r;
  }
}

/* ---- header ---- */

static int name_cmp(const void *a, const void *b) {
  const unsigned char *x = *(const unsigned char *const *)a;
  const unsigned char *y = *(const unsigned char *const *)b;
  for (;; x++, y++) {
    unsigned cx = *x, cy = *y;
    if (cx >= 'A' && cx <= 'Z')
      cx += 32;
    if (cy >= 'A' && cy <= 'Z')
      cy += 32;
    if (cx != cy || cx == 0)
      return cx < cy ? -1 : cx > cy;
  }
}

/* Buffer index where field i of the header starts (its opening quote if quoted). */
static size_t raw_start(const tarn_csv_reader *rd, size_t i) {
  size_t at = (size_t)(rd->fields[i].ptr - rd->buf.data);
  if (at > rd->pos && rd->buf.data[at - 1] == '"')
    at--;
  return at;
}

static int read_header(tarn_csv_reader *rd, tarn_error *err) {
  scan_out so;
  size_t i, n;
  const char **sorted = NULL;
  int r, rc = 0;

  do {
    rc = fill(rd, err);
    if (rc != 0)
      return rc;
  } while (rd->buf.len < 3 && !rd->eof);
  if (rd->buf.len >= 3 && memcmp(rd->buf.data, "\xEF\xBB\xBF", 3) == 0)
    rd->pos = 3;
  rd->in_header = 1;
  r = next_raw(rd, &so, err);
  if (r == S_ERR)
    return rd->failed ? return_failure(rd, err) : (err != NULL ? err->code : TARN_ENOMEM);
  if (r == S_EOF) {
    fail_at(rd, rd->pos, rd->pos, 0, TARN_EINVAL, "empty input: no header line");
    return return_failure(rd, err);
  }
  unescape(rd, so.nesc);
  n = so.nf;
  for (i = 0; i < n; i++) {
    const tarn_csv_field *f = &rd->fields[i];
    size_t k;
    if (f->len == 0) {
      fail_at(rd, rd->pos, raw_start(rd, i), i + 1, TARN_EINVAL,
              "empty column name in the header (column %zu)", i + 1);
      return return_failure(rd, err);
    }
    for (k = 0; k < f->len; k++) {
      unsigned char c = (unsigned char)f->ptr[k];
      if (c < 0x20 || c == 0x7f) {
        fail_at(rd, rd->pos, raw_start(rd, i), i + 1, TARN_EINVAL,
                "control character 0x%02x in the name of column %zu", c, i + 1);
        return return_failure(rd, err);
      }
    }
  }
  rd->names = tarn_calloc(n, sizeof(*rd->names));
  sorted = tarn_calloc(n, sizeof(*sorted));
  if (rd->names == NULL || sorted == NULL) {
    rc = tarn_error_set(err, TARN_ENOMEM, "csv: header names");
    goto out;
  }
  rd->ncols = n; /* names[] is freed by destroy from here on */
  for (i = 0; i < n; i++) {
    rd->names[i] = tarn_strndup(rd->fields[i].ptr, rd->fields[i].len);
    if (rd->names[i] == NULL) {
      rc = tarn_error_set(err, TARN_ENOMEM, "csv: header names");
      goto out;
    }
    sorted[i] = rd->names[i];
  }
  /* Duplicates ignoring ASCII case: Spark, Trino and DuckDB resolve names that way, so
   * "ID" and "id" could not both be queried. */
  qsort(sorted, n, sizeof(*sorted), name_cmp);
  for (i = 1; i < n; i++) {
    if (name_cmp(&sorted[i - 1], &sorted[i]) == 0) {
      size_t a = SIZE_MAX, b = SIZE_MAX, j;
      for (j = 0; j < n; j++) {
        if (name_cmp(&rd->names[j], &sorted[i]) == 0) {
          if (a == SIZE_MAX)
            a = j;
          else if (b == SIZE_MAX)
            b = j;
        }
      }
      fail_at(rd, rd->pos, raw_start(rd, b), b + 1, TARN_EINVAL,
              "duplicate column name \"%.100s\": column %zu repeats column %zu (names are "
              "compared ignoring ASCII case)",
              rd->names[b], b + 1, a + 1);
      rc = return_failure(rd, err);
      goto out;
    }
  }
  rd->line += 1 + so.nl;
  rd->pos = so.end;
  rd->in_header = 0;
  /* Data records need exactly ncols slots; more fields are counted, not stored (the
   * arrays may be larger: fcap only limits what is stored). */
  rd->fcap = n;
out:
  tarn_free(sorted);
  return rc;
}

/* ---- public ---- */

void tarn_csv_options_init(tarn_csv_options *o) {
  o->delimiter = ',';
  o->max_field = TARN_CSV_DEFAULT_MAX_FIELD;
  o->max_record = TARN_CSV_DEFAULT_MAX_RECORD;
  o->max_columns = TARN_CSV_DEFAULT_MAX_COLUMNS;
  o->block_size = TARN_CSV_DEFAULT_BLOCK;
}

/* Creates a reader; `own` (may be NULL) is freed with the reader, or here on failure. */
static int create(tarn_csv_reader **out, const tarn_csv_source *src, void *own,
                  const tarn_csv_options *opt, tarn_error *err) {
  tarn_csv_reader *rd;
  int rc;
  *out = NULL;
  if (src == NULL || src->read == NULL) {
    tarn_free(own);
    return tarn_error_set(err, TARN_EINVAL, "csv: no source");
  }
  rd = tarn_calloc(1, sizeof(*rd));
  if (rd == NULL) {
    tarn_free(own);
    return tarn_error_set(err, TARN_ENOMEM, "csv: reader");
  }
  rd->own_ctx = own;
  if (opt != NULL)
    rd->opt = *opt;
  else
    tarn_csv_options_init(&rd->opt);
  if (rd->opt.delimiter != ',' && rd->opt.delimiter != ';' && rd->opt.delimiter != '\t' &&
      rd->opt.delimiter != '|') {
    tarn_csv_reader_destroy(rd);
    return tarn_error_set(err, TARN_EINVAL,
                          "csv: delimiter must be ',', ';', tab or '|' (got byte 0x%02x)",
                          (unsigned char)(opt != NULL ? opt->delimiter : ','));
  }
  if (rd->opt.max_field == 0 || rd->opt.max_record == 0 || rd->opt.max_columns == 0 ||
      rd->opt.block_size == 0 || rd->opt.max_record > SIZE_MAX / 4 ||
      rd->opt.block_size > SIZE_MAX / 4) {
    tarn_csv_reader_destroy(rd);
    return tarn_error_set(err, TARN_EINVAL,
                          "csv: max_field, max_record, max_columns and block_size must be > 0");
  }
  rd->src = *src;
  tarn_buf_init(&rd->buf, TARN_BUF_UNLIMITED);
  rd->line = 1;
  rd->bad_utf8 = UINT64_MAX;
  rc = read_header(rd, err);
  if (rc != 0) {
    tarn_csv_reader_destroy(rd);
    return rc;
  }
  *out = rd;
  return 0;
}

void tarn_csv_reader_destroy(tarn_csv_reader *rd) {
  size_t i;
  if (rd == NULL)
    return;
  if (rd->names != NULL)
    for (i = 0; i < rd->ncols; i++)
      tarn_free(rd->names[i]);
  tarn_free(rd->names);
  tarn_free(rd->fields);
  tarn_free(rd->esc);
  tarn_buf_free(&rd->buf);
  tarn_free(rd->own_ctx);
  tarn_free(rd);
}

size_t tarn_csv_reader_ncols(const tarn_csv_reader *rd) { return rd->ncols; }

const char *const *tarn_csv_reader_names(const tarn_csv_reader *rd) {
  return (const char *const *)rd->names;
}

const tarn_csv_pos *tarn_csv_reader_error_pos(const tarn_csv_reader *rd) { return &rd->epos; }

uint64_t tarn_csv_reader_offset(const tarn_csv_reader *rd) { return rd->base + rd->pos; }

static const char empty_text[1] = "";

int tarn_csv_next(tarn_csv_reader *rd, const tarn_csv_record **rec, tarn_error *err) {
  scan_out so;
  int r;
  *rec = NULL;
  if (rd->failed)
    return return_failure(rd, err);
  r = next_raw(rd, &so, err);
  if (r == S_EOF)
    return 0;
  if (r == S_ERR)
    return rd->failed ? return_failure(rd, err) : (err != NULL ? err->code : TARN_ENOMEM);
  if (so.blank) {
    /* An empty line: ignored when only empty lines follow it to the end of input,
     * else a record of one empty field (an error unless there is one column). */
    uint64_t at = rd->base + so.end;
    if (rd->nonblank_at <= at) {
      for (;;) {
        size_t j = so.end;
        while (j < rd->buf.len && (rd->buf.data[j] == '\n' || rd->buf.data[j] == '\r'))
          j++;
        if (j < rd->buf.len) {
          rd->nonblank_at = rd->base + j;
          break;
        }
        if (rd->eof) {
          rd->pos = rd->buf.len; /* trailing empty lines: done */
          return 0;
        }
        if (rd->buf.len - rd->pos > rd->opt.max_record) {
          fail_at(rd, rd->pos, rd->pos, 0, TARN_ETOOBIG,
                  "more than %zu bytes of empty lines (max_record)", rd->opt.max_record);
          return return_failure(rd, err);
        }
        {
          size_t keep = so.end - rd->pos;
          int rc = fill(rd, err);
          if (rc != 0) {
            rd->failed = 1;
            if (err != NULL)
              rd->saved = *err;
            else
              tarn_error_set(&rd->saved, rc, "csv: reading input");
            return rc;
          }
          so.end = rd->pos + keep;
        }
      }
    }
    if (rd->ncols != 1) {
      fail_at(rd, rd->pos, rd->pos, 0, TARN_EINVAL,
              "empty line: expected %zu fields (as the header has), found 1 (only empty lines "
              "at the end of the input are ignored)",
              rd->ncols);
      return return_failure(rd, err);
    }
    rd->fields[0].ptr = empty_text;
    rd->fields[0].len = 0;
    so.nf = 1;
    so.nesc = 0;
  } else if (so.nf != rd->ncols) {
    fail_at(rd, rd->pos, rd->pos, 0, TARN_EINVAL,
            "expected %zu field%s (as the header has), "
            "found %zu",
            rd->ncols, rd->ncols == 1 ? "" : "s", so.nf);
    return return_failure(rd, err);
  }
  unescape(rd, so.nesc);
  rd->rec.fields = rd->fields;
  rd->rec.nfields = rd->ncols;
  rd->rec.line = rd->line;
  rd->rec.offset = rd->base + rd->pos;
  rd->rec.row = rd->rows++;
  rd->line += 1 + so.nl;
  rd->pos = so.end;
  *rec = &rd->rec;
  return 0;
}

uint64_t tarn_csv_field_line(const tarn_csv_record *rec, size_t i) {
  uint64_t line = rec->line;
  size_t k;
  for (k = 0; k < i && k < rec->nfields; k++) {
    const char *p = rec->fields[k].ptr, *e = p + rec->fields[k].len;
    while ((p = memchr(p, '\n', (size_t)(e - p))) != NULL) {
      line++;
      p++;
    }
  }
  return line;
}

/* ---- sources ---- */

typedef struct fd_source {
  int fd;
} fd_source;

static int fd_read(void *ctx, void *dst, size_t n, size_t *got, tarn_error *err) {
  fd_source *s = ctx;
  ssize_t r;
  do
    r = read(s->fd, dst, n);
  while (r < 0 && errno == EINTR);
  if (r < 0)
    return tarn_error_sys(err, TARN_EIO, errno, "csv: read");
  *got = (size_t)r;
  return 0;
}

typedef struct mem_source {
  const char *p;
  size_t n, off;
} mem_source;

static int mem_read(void *ctx, void *dst, size_t n, size_t *got, tarn_error *err) {
  mem_source *s = ctx;
  size_t left = s->n - s->off;
  if (n > left)
    n = left;
  memcpy(dst, s->p + s->off, n);
  s->off += n;
  *got = n;
  return 0;
}

int tarn_csv_reader_create(tarn_csv_reader **out, const tarn_csv_source *src,
                           const tarn_csv_options *opt, tarn_error *err) {
  return create(out, src, NULL, opt, err);
}

int tarn_csv_reader_create_fd(tarn_csv_reader **out, int fd, const tarn_csv_options *opt,
                              tarn_error *err) {
  fd_source *s = tarn_malloc(sizeof(*s));
  tarn_csv_source src;
  *out = NULL;
  if (s == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "csv: reader");
  s->fd = fd;
  src.read = fd_read;
  src.ctx = s;
  return create(out, &src, s, opt, err);
}

int tarn_csv_reader_create_mem(tarn_csv_reader **out, const void *p, size_t n,
                               const tarn_csv_options *opt, tarn_error *err) {
  mem_source *s = tarn_malloc(sizeof(*s));
  tarn_csv_source src;
  *out = NULL;
  if (s == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "csv: reader");
  s->p = n > 0 ? p : "";
  s->n = n;
  s->off = 0;
  src.read = mem_read;
  src.ctx = s;
  return create(out, &src, s, opt, err);
}
