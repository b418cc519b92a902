/* csv_int.h - what the csv module's files share: value kinds and the float scanner. */
#ifndef TARN_CSV_CSV_INT_H
#define TARN_CSV_CSV_INT_H

#include <stddef.h>
#include <stdint.h>

#include "csv.h"

/* What one non-empty field looks like. Every value has exactly one kind; the kinds map
 * to column types, except that INT and FLOAT values both fit a float64 column. */
typedef enum tarn__csv_kind {
  TARN__CSV_K_BOOL,
  TARN__CSV_K_INT,
  TARN__CSV_K_FLOAT,
  TARN__CSV_K_DATE,
  TARN__CSV_K_TS,
  TARN__CSV_K_TSTZ,
  TARN__CSV_K_TEXT,
} tarn__csv_kind;

/* The kind of p[0..len), len > 0. Uses only the public tarn_csv_parse_* functions, so
 * the converters accept every value of the kind it returns. */
tarn__csv_kind tarn__csv_classify(const char *p, size_t len);

/* Why a text value is not numeric or temporal, for reasons ("leading zeros", ...); ""
 * when there is nothing more specific to say than "text". */
const char *tarn__csv_text_note(const char *p, size_t len);

/* Float grammar check: 0 when p[0..len) is a float64 by the rules in csv.h, setting
 * *is_int when it has neither fraction nor exponent (then it is also an int64). */
int tarn__csv_float_check(const char *p, size_t len, int *is_int);

#endif
