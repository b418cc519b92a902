/* csv.h - streaming RFC 4180 reader, whole-file type inference, typed converters and the
 * schema fingerprint. The dialect, error positions and inference rules: src/csv/README.md. */
#ifndef TARN_CSV_CSV_H
#define TARN_CSV_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/*
 * How the ingest drives this module (two passes over a spooled file):
 *
 *   pass 1   tarn_csv_reader_create_fd(&rd, fd, &opt, err)       parses the header
 *            tarn_csv_infer_create(&inf, tarn_csv_reader_ncols(rd), err)
 *            while (tarn_csv_next(rd, &rec, err) == 0 && rec != NULL)
 *              tarn_csv_infer_record(inf, rec);
 *            tarn_csv_infer_column(inf, i, &col) for each column  -> type, nullable, reason
 *            tarn_csv_fingerprint(names, types, n, fp, err)
 *   pass 2   lseek(fd, 0, SEEK_SET); a new reader; for each record and column
 *            tarn_csv_convert(type, f->ptr, f->len, &val) — never fails on a value that
 *            pass 1 accepted for that type, because inference calls the same functions.
 *
 * Nothing here is thread-safe per object; distinct objects may be used from distinct
 * threads. Errors: 0 is success, else a tarn_code with detail in `err`.
 */

/* ---- types ---- */

/* Column types. The names (tarn_csv_type_name) are stable: they go into schema
 * fingerprints that are stored and compared across uploads. Never rename them. */
typedef enum tarn_csv_type {
  TARN_CSV_BOOLEAN = 0,
  TARN_CSV_INT64 = 1,
  TARN_CSV_FLOAT64 = 2,
  TARN_CSV_DATE = 3,        /* days since 1970-01-01 */
  TARN_CSV_TIMESTAMP = 4,   /* microseconds since 1970-01-01T00:00:00, no zone (wall clock) */
  TARN_CSV_TIMESTAMPTZ = 5, /* microseconds since the Unix epoch, UTC */
  TARN_CSV_STRING = 6,
} tarn_csv_type;

#define TARN_CSV_NTYPES 7

/* "boolean", "int64", "float64", "date", "timestamp", "timestamptz", "string";
 * "unknown" for values outside the enum. */
const char *tarn_csv_type_name(tarn_csv_type t);
/* The type named `name` (exact, lower case); -1 if none. */
int tarn_csv_type_from_name(const char *name);

/* ---- reader ---- */

typedef struct tarn_csv_options {
  char delimiter;     /* ',' (default), ';', '\t' or '|' */
  size_t max_field;   /* bytes of one field as written, quotes included; default 1 MiB */
  size_t max_record;  /* bytes of one record as written; default 64 MiB */
  size_t max_columns; /* fields in the header; default 16384 */
  size_t block_size;  /* bytes read from the source at a time; default 1 MiB */
} tarn_csv_options;

#define TARN_CSV_DEFAULT_MAX_FIELD ((size_t)1 << 20)
#define TARN_CSV_DEFAULT_MAX_RECORD ((size_t)64 << 20)
#define TARN_CSV_DEFAULT_MAX_COLUMNS 16384
#define TARN_CSV_DEFAULT_BLOCK ((size_t)1 << 20)

/* Fills o with the defaults above. */
void tarn_csv_options_init(tarn_csv_options *o);

/*
 * Where the bytes come from (the I/O seam: tests pass sources that return one byte at a
 * time or fail on purpose). read fills up to n bytes of dst and sets *got; *got == 0
 * means end of input. It returns 0 or a tarn_code with detail in err. The reader keeps
 * calling read until its block is full or the input ends, so a source may return
 * short counts freely.
 */
typedef struct tarn_csv_source {
  int (*read)(void *ctx, void *dst, size_t n, size_t *got, tarn_error *err);
  void *ctx;
} tarn_csv_source;

/* One field: ptr[0..len) is the value with the enclosing quotes removed and doubled
 * quotes undone. Not NUL-terminated. len == 0 is an empty field, which is NULL
 * (whether written as nothing or as ""). ptr is never NULL. */
typedef struct tarn_csv_field {
  const char *ptr;
  size_t len;
} tarn_csv_field;

/* One data record. Everything it points to is owned by the reader and valid until the
 * next tarn_csv_next or tarn_csv_reader_destroy. */
typedef struct tarn_csv_record {
  const tarn_csv_field *fields;
  size_t nfields;  /* always the header's column count */
  uint64_t line;   /* 1-based line where the record starts */
  uint64_t offset; /* byte offset of the record's first byte in the input (BOM counted) */
  uint64_t row;    /* 0-based data row number (the header is not a row) */
} tarn_csv_record;

/* Position of the last error, in the terms of README.md "Error positions". */
typedef struct tarn_csv_pos {
  uint64_t line;   /* 1-based */
  uint64_t column; /* 1-based, in characters (UTF-8 code points) of that line */
  uint64_t offset; /* byte offset in the input (BOM counted) */
  size_t field;    /* 1-based field (CSV column) number; 0 when not about one field */
} tarn_csv_pos;

typedef struct tarn_csv_reader tarn_csv_reader;

/*
 * Creates a reader over `src` (copied; its ctx is borrowed and must outlive the reader)
 * and reads the header. opt may be NULL for the defaults; a bad option is TARN_EINVAL.
 * A bad header (empty input, empty or duplicate name, control character in a name,
 * syntax error) fails with TARN_EINVAL naming the column; caps fail with TARN_ETOOBIG;
 * source errors are passed through. On failure *out is NULL and nothing leaks.
 */
int tarn_csv_reader_create(tarn_csv_reader **out, const tarn_csv_source *src,
                           const tarn_csv_options *opt, tarn_error *err);
/* Same over a file descriptor, read from its current position; fd is borrowed (not
 * closed). Read errors are TARN_EIO with errno. */
int tarn_csv_reader_create_fd(tarn_csv_reader **out, int fd, const tarn_csv_options *opt,
                              tarn_error *err);
/* Same over memory; p is borrowed until the reader is destroyed. */
int tarn_csv_reader_create_mem(tarn_csv_reader **out, const void *p, size_t n,
                               const tarn_csv_options *opt, tarn_error *err);
/* Accepts NULL. */
void tarn_csv_reader_destroy(tarn_csv_reader *rd);

/* Header: column count and names (NUL-terminated, owned by the reader). */
size_t tarn_csv_reader_ncols(const tarn_csv_reader *rd);
const char *const *tarn_csv_reader_names(const tarn_csv_reader *rd);

/*
 * Reads the next data record. Returns 0 with *rec set, or 0 with *rec == NULL at the end
 * of the input. On error returns TARN_EINVAL (syntax, field count, invalid UTF-8),
 * TARN_ETOOBIG (a cap), TARN_ENOMEM or the source's code; the detail reads
 * "line L, column C (field F "name"), byte offset O: what". Errors are sticky: every
 * later call returns the same code and detail.
 */
int tarn_csv_next(tarn_csv_reader *rd, const tarn_csv_record **rec, tarn_error *err);

/* Position of the last error (all zero if none). */
const tarn_csv_pos *tarn_csv_reader_error_pos(const tarn_csv_reader *rd);

/* Bytes of input consumed so far (records returned, header and BOM included). */
uint64_t tarn_csv_reader_offset(const tarn_csv_reader *rd);

/* The 1-based line where field i of rec starts (a quoted newline in an earlier field of
 * the same record moves it down). O(bytes of fields before i): for messages. */
uint64_t tarn_csv_field_line(const tarn_csv_record *rec, size_t i);

/* ---- delimiter detection (csv_sniff.c) ---- */

/*
 * The delimiter (',' ';' '\t' or '|') a CSV uses, judged from its first n bytes (a
 * sample of about 64 KiB is plenty; `complete` says whether it is the whole input): the
 * one under which the header and the sample's records have one and the same field count,
 * the most columns winning, ',' when none splits the header. *ncols (may be NULL) gets
 * its column count (0 when none splits). Never fails.
 */
char tarn_csv_sniff_delimiter(const void *p, size_t n, int complete, size_t *ncols);
/* Fields in the header of the sample with `delimiter` (0 when it has no header). */
size_t tarn_csv_header_columns(const void *p, size_t n, char delimiter);

/* ---- converters: field text to typed values ---- */

/*
 * Each returns 0 and stores the value when the whole text is acceptable for the type,
 * else -1 and leaves *out alone. Inference uses exactly these functions, so a value it
 * accepted for a type always converts. Empty text is never acceptable (it is NULL).
 *
 * boolean     true | false, any letter case
 * int64       -?(0|[1-9][0-9]*), in range, not "-0"
 * float64     -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, at most 256 bytes, finite
 *             (an overflow to infinity is refused; an underflow rounds to 0)
 * date        YYYY-MM-DD, year 0001-9999, a real calendar day; days since 1970-01-01
 * timestamp   YYYY-MM-DD(T| )HH:MM:SS(.f{1,9})?(Z|+HH:MM|-HH:MM|+HHMM|-HHMM)?
 *             hour 00-23, second 00-59, zone within ±23:59. Fraction digits past the 6th
 *             are truncated. tarn_csv_parse_timestamp sets *has_zone and normalises a
 *             zoned value to UTC.
 */
int tarn_csv_parse_bool(const char *p, size_t len, int *out);
int tarn_csv_parse_int64(const char *p, size_t len, int64_t *out);
int tarn_csv_parse_float64(const char *p, size_t len, double *out);
int tarn_csv_parse_date(const char *p, size_t len, int32_t *out);
int tarn_csv_parse_timestamp(const char *p, size_t len, int64_t *out_us, int *has_zone);

/* A typed value as tarn_csv_convert produces it. */
typedef struct tarn_csv_value {
  int is_null; /* 1 for an empty field */
  union {
    int b;       /* BOOLEAN: 0 or 1 */
    int64_t i;   /* INT64, TIMESTAMP, TIMESTAMPTZ (microseconds) */
    double d;    /* FLOAT64 */
    int32_t day; /* DATE */
    struct {
      const char *ptr;
      size_t len;
    } s; /* STRING: borrowed from the field */
  } v;
} tarn_csv_value;

/*
 * Converts one field for a column of type t: empty text is NULL; FLOAT64 takes integers
 * too; TIMESTAMP takes only values without a zone, TIMESTAMPTZ only values with one;
 * STRING takes anything. Returns 0, or -1 when the text is not a value of the type.
 */
int tarn_csv_convert(tarn_csv_type t, const char *p, size_t len, tarn_csv_value *out);

/* ---- inference ---- */

#define TARN_CSV_REASON_MAX 256

/* The inferred type of one column. */
typedef struct tarn_csv_column {
  tarn_csv_type type;
  int nullable;                     /* 1 when at least one field was empty, or no rows */
  uint64_t values;                  /* non-empty fields seen */
  uint64_t nulls;                   /* empty fields seen */
  char reason[TARN_CSV_REASON_MAX]; /* for people: "int64: 1000000 values, all integers" */
} tarn_csv_column;

typedef struct tarn_csv_infer tarn_csv_infer;

/* An accumulator for ncols columns (>= 1). The caller owns *out. */
int tarn_csv_infer_create(tarn_csv_infer **out, size_t ncols, tarn_error *err);
void tarn_csv_infer_destroy(tarn_csv_infer *inf); /* accepts NULL */

/* Feeds every field of a record (rec->nfields must equal ncols; extra fields are
 * ignored, missing ones count as nothing). The hot path. */
void tarn_csv_infer_record(tarn_csv_infer *inf, const tarn_csv_record *rec);
/* Feeds one field of column col (< ncols) found on `line` (for the reason text). */
void tarn_csv_infer_field(tarn_csv_infer *inf, size_t col, const char *p, size_t len,
                          uint64_t line);
/* The result for column col so far (< ncols). */
void tarn_csv_infer_column(const tarn_csv_infer *inf, size_t col, tarn_csv_column *out);

/* ---- schema fingerprint ---- */

#define TARN_CSV_FINGERPRINT_LEN 72 /* "sha256:" + 64 hex digits + NUL */

/*
 * "sha256:" + lower-case hex SHA-256 over, for each column in order, the name's bytes,
 * 0x1f, the type name, 0x1e. Nullability is not part of it. Writes out (NUL-terminated).
 * TARN_EINVAL for a type outside the enum; TARN_ENOMEM.
 */
int tarn_csv_fingerprint(const char *const *names, const tarn_csv_type *types, size_t n,
                         char out[TARN_CSV_FINGERPRINT_LEN], tarn_error *err);
/* The same over type names given as text (a Postgres ingest's "int", "decimal(10,2)"). */
int tarn_csv_fingerprint_names(const char *const *names, const char *const *types, size_t n,
                               char out[TARN_CSV_FINGERPRINT_LEN], tarn_error *err);

#endif
