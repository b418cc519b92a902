/* action_log.h - the layout of the action-audit tables the sink writes and the read API
 * reads: default.action_log and its dead-letter table default.action_log_dlq. */
#ifndef TARN_SINK_ACTION_LOG_H
#define TARN_SINK_ACTION_LOG_H

#include "base/error.h"
#include "table/table.h"

/*
 * default.action_log: the 15 envelope fields and applied_at, in this order; the field id
 * of column i is i + 1, stable forever (readers and the read API find columns by id).
 * Partition day(applied_at) (partition field id 1000, "applied_at_day"); sort order 1:
 * applied_at_ms ascending, nulls last.
 */
enum {
  TARN_AL_EVENT_ID = 0,          /* string, required */
  TARN_AL_ACTION_TYPE_ID,        /* string, required */
  TARN_AL_ACTION_NAME,           /* string, required */
  TARN_AL_OBJECT_TYPE_ID,        /* string, required */
  TARN_AL_OBJECT_ID,             /* string, optional ("" in the envelope: null) */
  TARN_AL_TENANT,                /* string, required */
  TARN_AL_ACTOR_SUB,             /* string, required */
  TARN_AL_ACTOR_EMAIL,           /* string, optional */
  TARN_AL_ORGANIZATION_ID,       /* string, optional ("" in the envelope: null) */
  TARN_AL_STATUS,                /* string, required */
  TARN_AL_TARGET_CLASSIFICATION, /* string, optional */
  TARN_AL_APPLIED_AT_MS,         /* long, required, > 0 */
  TARN_AL_APPLIED_AT,            /* timestamptz, required: applied_at_ms * 1000 */
  TARN_AL_PARAMETERS,            /* string, optional: the JSON value as compact text */
  TARN_AL_PREVIOUS_STATE,        /* string, optional: the same */
  TARN_AL_NEW_STATE,             /* string, optional: the same */
  TARN_AL_NCOLS
};

/*
 * default.action_log_dlq: one row per poison record. Partition day(seen_at) (field id
 * 1000, "seen_at_day"); unsorted.
 */
enum {
  TARN_DLQ_TOPIC = 0,       /* string, required */
  TARN_DLQ_PARTITION,       /* int, required */
  TARN_DLQ_OFFSET,          /* long, required */
  TARN_DLQ_KEY,             /* binary, optional (null when the record has no key) */
  TARN_DLQ_VALUE,           /* binary, optional: the raw value (null for a null value) */
  TARN_DLQ_REASON,          /* string, required: a tarn_sink_reason name */
  TARN_DLQ_DETAIL,          /* string, optional: which field, which offset in the JSON */
  TARN_DLQ_KAFKA_TIMESTAMP, /* timestamptz, optional: the record's Kafka timestamp */
  TARN_DLQ_SEEN_AT,         /* timestamptz, required: when the sink read it */
  TARN_DLQ_NCOLS
};

typedef enum tarn_al_table_kind { TARN_AL_MAIN = 0, TARN_AL_DLQ = 1 } tarn_al_table_kind;

/* The column names of each table, in field-id order. */
extern const char *const tarn_action_log_names[TARN_AL_NCOLS];
extern const char *const tarn_action_log_dlq_names[TARN_DLQ_NCOLS];

/*
 * The schema (schema id 0), partition spec and sort order of a table of that kind; the
 * caller frees them (tarn_ice_schema_free, tarn_ice_spec_free, tarn_ice_sort_order_free).
 */
int tarn_action_log_layout(tarn_al_table_kind kind, tarn_ice_schema *schema, tarn_ice_spec *spec,
                           tarn_ice_sort_order *order, tarn_error *err);

/*
 * Checks that an existing table's current schema and default spec are the layout of
 * `kind`: every column present with its field id, type and nullability, the partition
 * on the same source. A difference is TARN_ESCHEMA naming the table, the column, what
 * it has and what the sink needs. Extra optional columns are allowed.
 */
int tarn_action_log_check(tarn_al_table_kind kind, const char *ident, const tarn_ice_schema *schema,
                          const tarn_ice_spec *spec, tarn_error *err);

#endif
