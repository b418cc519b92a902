/* envelope.h - the action-audit envelope: one Kafka record value (JSON) into one row of
 * default.action_log, or the reason it is poison. */
#ifndef TARN_SINK_ENVELOPE_H
#define TARN_SINK_ENVELOPE_H

#include <stddef.h>

#include "base/error.h"
#include "rows.h"

/* Why a record is poison; the names are the `reason` label of the metrics and the
 * `reason` column of the dead-letter table. */
typedef enum tarn_sink_reason {
  TARN_SINK_NOT_JSON = 0,  /* not one JSON value (syntax, bad UTF-8, \u0000, trailing data) */
  TARN_SINK_NOT_OBJECT,    /* JSON, but not an object */
  TARN_SINK_MISSING_FIELD, /* a required field is absent */
  TARN_SINK_WRONG_TYPE,    /* a field of the wrong JSON type (null for a required one) */
  TARN_SINK_BAD_VALUE,     /* empty required string, applied_at_ms <= 0 or past year 9999,
                             a duplicate key */
  TARN_SINK_NULL_VALUE,    /* the record has no value (a tombstone) */
  TARN_SINK_NREASONS
} tarn_sink_reason;

const char *tarn_sink_reason_name(tarn_sink_reason r);

/*
 * Decodes `value` (len bytes; NULL: a tombstone) and appends its row to `rows`
 * (TARN_AL_NCOLS cells). Required: event_id, action_type_id, action_name, object_type_id,
 * tenant, actor_sub, status (non-empty strings), applied_at_ms (integer, 1 ..
 * 253402300799999). Optional: object_id and organization_id ("" or null: absent),
 * actor_email, target_classification (strings; null: absent), parameters, previous_state,
 * new_state (any JSON value kept as compact JSON text; null: absent). Other keys are
 * ignored. Returns 0 with the row added; TARN_EINVAL for poison, with *reason and a
 * detail naming the field (or the line, column and byte offset of a syntax error) and no
 * row added; TARN_ENOMEM otherwise.
 */
int tarn_sink_decode(tarn_sink_rows *rows, const void *value, size_t len, tarn_sink_reason *reason,
                     char *detail, size_t dlen, tarn_error *err);

#endif
