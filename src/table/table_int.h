/* table_int.h - what the table module's files share; not for other modules. */
#ifndef TARN_TABLE_INT_H
#define TARN_TABLE_INT_H

#include "table.h"
#include "scan.h"

/* Commits metadata without the snapshots `ids` (and their snapshot-log entries). The
 * current snapshot and snapshots that refs point at are never dropped (TARN_EINVAL). */
int tarn__table_drop_snapshots(tarn_table *t, const int64_t *ids, size_t n, tarn_error *err);

/* Length of the first `cps` UTF-8 code points of s[0..n) (n when shorter); an invalid
 * lead byte counts as one code point. */
size_t tarn__ice_utf8_prefix(const uint8_t *s, size_t n, size_t cps);

/* Bytes of a FIXED holding a decimal of `precision` digits (as Parquet and Iceberg size it). */
int32_t tarn__ice_decimal_bytes(int32_t precision);

/* ice_nested.c: nested types' children, JSON and DDL forms, ids across the schema */
void tarn__ice_primitive_format(const tarn_ice_type *t, char *dst, size_t n);
void tarn__ice_nested_format(const tarn_ice_type *t, char *dst, size_t n);
void tarn__ice_field_free(tarn_ice_field *f);
int tarn__ice_field_copy(tarn_ice_field *dst, const tarn_ice_field *src, tarn_error *err);
json_t *tarn__ice_type_to_json(const tarn_ice_type *t);
json_t *tarn__ice_field_to_json(const tarn_ice_field *f);
int tarn__ice_field_from_json(const json_t *jf, tarn_ice_field *f, int depth, tarn_error *err);
int tarn__ice_type_from_json(const json_t *j, tarn_ice_type *t, const char *where, tarn_error *err);
/* Gives a nested type's children ids *next, *next + 1, ... in Iceberg's order. */
void tarn__ice_type_assign_ids(tarn_ice_type *t, int32_t *next);
/* ice_shred.c: JSON rows to and from Parquet leaf columns (repetition and definition
 * levels, the spec's 3-level LIST and MAP layouts). */
typedef struct tarn__ice_leaf {
  const tarn_ice_field *field; /* the primitive field (a list's element, a map's key...) */
  int16_t max_def, max_rep;
  int16_t *def, *rep; /* one entry per value slot, present or not */
  size_t n, cap, rep_cap;
  const json_t **vals; /* the values present (def == max_def), borrowed from the rows */
  size_t nvals, vcap;
} tarn__ice_leaf;

typedef struct tarn__ice_shredder {
  const tarn_ice_schema *schema;
  tarn__ice_leaf *leaves; /* depth first: Parquet's column order */
  size_t nleaves, cap;
  size_t rows;
  json_t *keys; /* map keys as JSON strings, owned here */
} tarn__ice_shredder;

int tarn__ice_shred_init(tarn__ice_shredder *sh, const tarn_ice_schema *s, tarn_error *err);
/* Appends one row (a JSON object; a missing member is null). The row must outlive the
 * shredder's use of its values. TARN_EINVAL naming the row and field on a shape mismatch
 * or a null in a required field (entries already added for that row stay: reset after an
 * error). */
int tarn__ice_shred_row(tarn__ice_shredder *sh, const json_t *row, tarn_error *err);
void tarn__ice_shred_reset(tarn__ice_shredder *sh);
void tarn__ice_shred_free(tarn__ice_shredder *sh);
/* The sh->rows rows back from the leaves (every field present, null when absent; maps as
 * JSON objects) into rows[]; TARN_ECORRUPT when the levels disagree with the schema. */
int tarn__ice_assemble_rows(const tarn__ice_shredder *sh, json_t **rows, tarn_error *err);

/* TARN_ECORRUPT naming the fields when two share an id (nested ones included). */
int tarn__ice_schema_check_ids(const tarn_ice_schema *s, tarn_error *err);

/* Deletes the file at `uri`, best effort: a failure other than "not found" is logged with
 * `what` ("unreferenced file", "expired file"). Returns 1 when a file was deleted. */
int tarn__table_delete_uri(const tarn_table_io *io, const char *uri, const char *what);

/* Source values a truncate(W) partition of an int (is_long 0) or long column can hold when
 * its partition values lie in [lo, hi] (pass the type's minimum and maximum for absent
 * bounds), as the inclusive range [*src_lo, *src_hi]. Conservative: the type's full range
 * where Java's wrapping arithmetic leaves no order to rely on. */
void tarn__ice_truncate_source_range(int32_t w, int is_long, int64_t lo, int64_t hi,
                                     int64_t *src_lo, int64_t *src_hi);

/* ---- predicates (ice_expr.c) ---- */

/* Leaf operators of the negation normal form: comparisons, null and NaN tests. */
/* Leaf operators of the negation normal form: the first seven are tarn_pq_op's values. */
enum {
  TARN__OP_EQ = 1,
  TARN__OP_LT,
  TARN__OP_LE,
  TARN__OP_GT,
  TARN__OP_GE,
  TARN__OP_IS_NULL,
  TARN__OP_NOT_NULL,
  TARN__OP_NE,
  TARN__OP_IS_NAN,
  TARN__OP_NOT_NAN, /* not null and not NaN */
};

enum { TARN__NNF_TRUE = 1, TARN__NNF_LEAF, TARN__NNF_AND, TARN__NNF_OR };

/*
 * A predicate in negation normal form: NOT pushed down to the leaves (De Morgan, and
 * NOT(x < v) as x >= v OR x IS NAN on floats, NOT IN as an AND of !=), what pruning
 * reasons about: a region (manifest, file, row group, page) is skipped when no row in it
 * can make a leaf true, an AND when one child is skipped, an OR when every child is.
 * Leaf values are borrowed from the expression it was built from.
 */
typedef struct tarn__nnf {
  int kind;
  int32_t field_id;     /* LEAF */
  tarn_ice_type type;   /* LEAF: the field's type */
  int op;               /* LEAF: TARN__OP_* */
  tarn_ice_value value; /* LEAF comparisons */
  struct tarn__nnf *kids;
  size_t nkids;
} tarn__nnf;

int tarn__expr_nnf(const tarn_expr *e, tarn__nnf *out, tarn_error *err);
/* May some row of a region make n true, given what `leaf` says of each leaf (1: some row
 * may satisfy it)? An AND when every child may, an OR when one does. */
typedef int (*tarn__nnf_leaf_fn)(void *arg, const tarn__nnf *leaf);
int tarn__nnf_may_match(const tarn__nnf *n, tarn__nnf_leaf_fn leaf, void *arg);
void tarn__nnf_free(tarn__nnf *n);

/* One leaf of an expression on value v: 1 true, 0 false, -1 unknown. */
int tarn__expr_leaf_eval(const tarn_expr *e, const tarn_ice_value *v);
int tarn__expr_cmp_holds(tarn_expr_op op, int c);

#endif
