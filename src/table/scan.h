/* scan.h - the one read path of Iceberg tables: predicates, projection by field id,
 * pruning at every level the files allow, and Arrow-layout batches of matching rows. */
#ifndef TARN_TABLE_SCAN_H
#define TARN_TABLE_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/error.h"
#include "parquet/parquet.h"
#include "table/table.h"

/*
 * What every reader of a table uses (the `tarn table scan` command, journal history,
 * the action-log API, the vector index builder, the HTTP server): open a scan over a
 * snapshot with a projection and a predicate, take batches, close. Semantics and the
 * pruning levels are described in README.md beside this file ("Scans").
 *
 * Threading: a scan, an expression and a batch belong to one thread at a time. Several
 * scans of one tarn_table may run on different threads as long as nobody refreshes or
 * commits through that tarn_table meanwhile (a scan reads the table's metadata at open
 * only; it copies what it needs).
 */

/* ---- values given as text ---- */

/*
 * Parses a value given as text (a --where literal, a JSON string) for a column of type t:
 * numbers, true/false, NaN/Infinity/-Infinity for floats, dates YYYY-MM-DD, times
 * HH:MM:SS[.ffffff], ISO timestamps (a bare date is its midnight; a timestamp column
 * refuses a non-UTC offset), decimals (no digits beyond the scale unless zeros), UUIDs,
 * base64 for binary and fixed. Bytes of the result point into `s` (string) or into
 * `scratch` (binary, uuid, fixed, wide decimals), so both must outlive *v. On error
 * returns -1 with a reason naming the value and the type in why.
 */
int tarn_ice_value_parse(const tarn_ice_type *t, const char *s, size_t len, tarn_ice_value *v,
                         tarn_buf *scratch, char *why, size_t whylen);
/* Would the finite double d round to infinity as a float? (Values past about 3.4028235e38:
 * an error for a float column, not a silent infinity.) */
int tarn_ice_float_overflows(double d);

/* ---- expressions ---- */

typedef enum tarn_expr_kind {
  TARN_EXPR_AND = 1,  /* children: 2 or more; true when all are */
  TARN_EXPR_OR,       /* children: 2 or more */
  TARN_EXPR_NOT,      /* one child */
  TARN_EXPR_CMP,      /* field op value */
  TARN_EXPR_IN,       /* field IN (values) */
  TARN_EXPR_IS_NULL,  /* field IS NULL */
  TARN_EXPR_NOT_NULL, /* field IS NOT NULL */
  TARN_EXPR_IS_NAN,   /* field IS NAN (float and double columns) */
} tarn_expr_kind;

typedef enum tarn_expr_op {
  TARN_EXPR_EQ = 1,
  TARN_EXPR_NE,
  TARN_EXPR_LT,
  TARN_EXPR_LE,
  TARN_EXPR_GT,
  TARN_EXPR_GE,
} tarn_expr_op;

/*
 * A predicate over the columns of a table, by field id. SQL's three-valued logic: a
 * comparison or IN with a null operand is unknown; NOT unknown is unknown; AND is false
 * when a side is false, OR true when a side is true; IS NULL is never unknown. A row is
 * returned when the predicate is true. NaN (floats) follows IEEE 754: it equals nothing,
 * is neither less nor greater than anything, and differs from everything (so
 * `x != 1` holds for NaN, and NOT(x < 1) too); -0.0 equals 0.0. A literal is never null
 * nor NaN (use IS NULL, IS NAN).
 *
 * A node owns its children and the bytes of its values. Build with the constructors
 * below or tarn_expr_parse; free the root with tarn_expr_free.
 */
typedef struct tarn_expr tarn_expr;
struct tarn_expr {
  tarn_expr_kind kind;
  int32_t field_id;       /* CMP, IN, IS_NULL, NOT_NULL, IS_NAN */
  tarn_ice_type type;     /* the field's type */
  tarn_expr_op op;        /* CMP */
  tarn_ice_value *values; /* CMP: 1; IN: nvalues (bytes owned by the node) */
  size_t nvalues;
  tarn_expr **children; /* AND, OR, NOT */
  size_t nchildren;
  tarn_buf bytes; /* storage of the values' bytes */
};

/* Deepest expression tarn_expr_parse builds and the scan accepts. */
#define TARN_EXPR_MAX_DEPTH 48
/* Most values of one IN list. */
#define TARN_EXPR_MAX_IN 10000

/*
 * Parses the --where language against schema s (names are resolved to field ids):
 *
 *   expr  := term { OR term }          term := factor { AND factor }
 *   factor:= NOT factor | '(' expr ')' | COLUMN test
 *   test  := OP literal                (OP: = == != <> < <= > >=)
 *          | [NOT] IN '(' literal { ',' literal } ')'
 *          | IS [NOT] NULL | IS [NOT] NAN
 *   literal := 'text' | "text" (a doubled quote inside stands for one) | bare text up to
 *              the next AND/OR keyword, ')' closing a group, or ',' in an IN list
 *
 * Keywords are case-insensitive. A bare literal may hold spaces ("name = big apple").
 * Literals are typed by the column (tarn_ice_value_parse). Errors are TARN_EINVAL with
 * the text, the offset and what was expected, or the column and why its literal does
 * not fit. *out is the caller's (tarn_expr_free).
 */
int tarn_expr_parse(const tarn_ice_schema *s, const char *text, tarn_expr **out, tarn_error *err);

/* Constructors. Each copies the values (and their bytes); AND/OR/NOT take the children
 * (on success and on failure: they are freed if the node cannot be built). NULL on
 * allocation failure. A NaN literal compares as IEEE says (only != holds); NaN values of
 * an IN list are dropped (nothing equals them). */
tarn_expr *tarn_expr_cmp(const tarn_ice_field *f, tarn_expr_op op, const tarn_ice_value *v);
tarn_expr *tarn_expr_in(const tarn_ice_field *f, const tarn_ice_value *v, size_t n);
tarn_expr *tarn_expr_null_test(const tarn_ice_field *f, tarn_expr_kind kind); /* IS_NULL,
                                                                 NOT_NULL or IS_NAN */
tarn_expr *tarn_expr_and(tarn_expr *a, tarn_expr *b);
tarn_expr *tarn_expr_or(tarn_expr *a, tarn_expr *b);
tarn_expr *tarn_expr_not(tarn_expr *a);
void tarn_expr_free(tarn_expr *e); /* accepts NULL */

/* The truth of e for row i of a batch: 1 true, 0 false, -1 unknown. `value` gives the
 * value of a field id in that row (is_null for a column the row does not have). For
 * tests and callers that hold rows, not batches. */
typedef void (*tarn_expr_row_fn)(void *arg, int32_t field_id, tarn_ice_value *v);
int tarn_expr_eval_row(const tarn_expr *e, tarn_expr_row_fn value, void *arg);

/* ---- scans ---- */

typedef struct tarn_table_scan_spec {
  int64_t snapshot_id;      /* -1: the current one (or the one current at as_of_ms) */
  int64_t as_of_ms;         /* -1: none; else the snapshot current at that time (Unix ms) */
  const int32_t *field_ids; /* the columns, in order; NULL: every field of the schema read
                               (the snapshot's own schema when time travelling) */
  size_t nfield_ids;
  const tarn_expr *filter; /* NULL: every row. Borrowed: must outlive the scan */
  int64_t batch_rows;      /* most rows per batch; 0 = 8192 */
  /* non-NULL: of the files planned, read only those with these paths (a rewrite reading
   * the files it replaces), in plan order */
  const char *const *only_files;
  size_t nonly_files;
} tarn_table_scan_spec;

/* One batch of matching rows. Column k is fields[k] (id, name, type) laid out as
 * layout[k] describes (tarn_ice_value_from_array(&fields[k].type, &layout[k], &cols[k], i,
 * &v) reads row i). A column a data file does not have (added later) is all null. */
typedef struct tarn_table_batch {
  int64_t nrows; /* 1 .. batch_rows */
  size_t ncols;
  const tarn_ice_field *fields;
  const tarn_pq_column *layout;
  const tarn_pq_array *cols;
} tarn_table_batch;

/* What a scan skipped and read, level by level. */
typedef struct tarn_table_scan_stats {
  int64_t snapshot_id;                       /* -1: the table has no snapshot (no rows) */
  int64_t manifests_total, manifests_pruned; /* by partition summaries */
  int64_t files_total, files_pruned_partition, files_pruned_metrics, files_read;
  /* files_pruned_metrics also counts files whose footer lacks a column the filter needs a
   * value in (added after the file was written: null there) */
  int64_t row_groups_total, row_groups_pruned_stats, row_groups_pruned_bloom;
  int64_t pages_total, pages_pruned; /* by the page index */
  int64_t rows_read;     /* rows decoded from data files (after row group/page pruning) */
  int64_t rows_returned; /* rows in the batches returned */
} tarn_table_scan_stats;

typedef struct tarn_table_scan tarn_table_scan;

/*
 * The snapshot a scan of (snapshot_id, as_of_ms) reads (*snap_id -1 for an empty table)
 * and the schema it reads with (the snapshot's own when one is asked for, else the
 * current schema; owned by t), so that callers resolve column names and parse
 * predicates against the right schema before opening the scan. Errors as for
 * tarn_table_scan_open.
 */
int tarn_table_scan_target(tarn_table *t, int64_t snapshot_id, int64_t as_of_ms, int64_t *snap_id,
                           const tarn_ice_schema **schema, tarn_error *err);

/*
 * Opens a scan: picks the snapshot (TARN_ENOTFOUND naming it or the time when there is
 * none), resolves the projection (TARN_EINVAL naming an unknown field id), plans the data
 * files with manifest, partition and metrics pruning (a tarn_log_debug line per level).
 * `t` is borrowed: it must outlive the scan and not be refreshed or committed to while
 * the scan is open. An empty table gives a scan with no batches. *out is the caller's
 * (tarn_table_scan_close).
 */
int tarn_table_scan_open(tarn_table *t, const tarn_table_scan_spec *spec, tarn_table_scan **out,
                         tarn_error *err);
/* The schema the scan reads with (the snapshot's, when time travelling) and the fields
 * of its projection, in order. Valid until close. */
const tarn_ice_schema *tarn_table_scan_schema(const tarn_table_scan *s);
/*
 * The next batch of rows for which the filter is true, or *out = NULL at the end. Data
 * files are read in plan order with the filter pushed into Parquet (row-group statistics,
 * bloom filters for = and IN, the page index), then every row is tested exactly. The
 * batch belongs to the scan and stays valid until the next call or close. Errors name
 * the data file; a failed scan stays failed.
 */
int tarn_table_scan_next(tarn_table_scan *s, const tarn_table_batch **out, tarn_error *err);
const tarn_table_scan_stats *tarn_table_scan_stats_get(const tarn_table_scan *s);
void tarn_table_scan_close(tarn_table_scan *s); /* accepts NULL */

#endif
