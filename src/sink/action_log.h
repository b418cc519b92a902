/* action_log.h - the layout of the action-audit tables the sink writes and the read API
 * reads: default.action_log and its dead-letter table default.action_log_dlq. */
#ifndef TARN_SINK_ACTION_LOG_H
#define TARN_SINK_ACTION_LOG_H

#include <stdint.h>

#include <jansson.h>

#include "base/config.h"
#include "base/error.h"
#include "table/scan.h"
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

/* [action_log] table: the table the sink writes and `tarn serve` reads
 * (TARN_ACTION_LOG_TABLE; default "default.action_log"). */
extern const tarn_cfg_def tarn_action_log_config[];
#define TARN_AL_DEFAULT_TABLE "default.action_log"

/* Splits "NAMESPACE.NAME" at its last dot into ns and name; TARN_EINVAL naming the value
 * when either part is empty or does not fit. */
int tarn_action_log_ident(const char *ident, char *ns, size_t nslen, char *name, size_t namelen,
                          tarn_error *err);

/* ---- the read API: newest first, paginated (action_log_query.c, action_log_cursor.c) ---- */

#define TARN_AL_LIMIT_DEFAULT 100
#define TARN_AL_LIMIT_MAX 1000
/* Longest event_id a cursor carries (and so the longest a page may end on). */
#define TARN_AL_CURSOR_EVENT_ID_MAX 2048
/* Longest cursor text: base64url of version, position, query hash and check. */
#define TARN_AL_CURSOR_TEXT_MAX 2816
/* Longest value of an equality filter (tenant, object_id, actor_sub). */
#define TARN_AL_FILTER_MAX 1024

/* A row's place in the order of the API: applied_at_ms descending, then event_id
 * descending (bytewise). */
typedef struct tarn_al_pos {
  int64_t ms;
  size_t len;
  char event_id[TARN_AL_CURSOR_EVENT_ID_MAX + 1];
} tarn_al_pos;

/* An instant given as text, to the nanosecond. */
typedef struct tarn_al_instant {
  int64_t sec; /* seconds since the epoch, UTC */
  int32_t nsec;
} tarn_al_instant;

/*
 * Parses since/until values: an RFC 3339 date-time (2026-12-01T00:00:00Z,
 * 2026-12-01T01:30:00.250+01:00; 't' and 'z' in either case, a space for 'T', up to 9
 * fraction digits, offset Z or +HH:MM/-HH:MM; a space for the '+' of the offset, as
 * form-encoded URLs turn it into one), a full date alone (2026-12-01: its midnight UTC), or
 * integer milliseconds since the epoch (1796083200000). Years 0001-9999. TARN_EINVAL on
 * anything else (err names the value and the forms).
 */
int tarn_al_parse_instant(const char *s, tarn_al_instant *out, tarn_error *err);
/* The first whole millisecond at or after t: rows with applied_at >= t are those with
 * applied_at_ms >= this, and rows with applied_at < t those with applied_at_ms < this. */
int64_t tarn_al_instant_ms(const tarn_al_instant *t);
/* <0, 0, >0 as a is before, at, after b. */
int tarn_al_instant_cmp(const tarn_al_instant *a, const tarn_al_instant *b);

/* A query of the API. Strings are borrowed. */
typedef struct tarn_al_query {
  const char *tenant, *object_id, *actor_sub; /* equality filters; NULL: any */
  int has_since, has_until;
  int64_t since_ms, until_ms; /* applied_at_ms >= since_ms and < until_ms (tarn_al_instant_ms) */
  const tarn_al_pos *after;   /* the page starts strictly after it; NULL: the newest row */
  int limit;                  /* 1..TARN_AL_LIMIT_MAX */
} tarn_al_query;

/*
 * Cursors: base64url (no padding) of a version byte (1), the position (applied_at_ms,
 * event_id), 8 bytes of the SHA-256 of the query's filters (so a cursor only continues the
 * query that made it) and 8 bytes of a SHA-256 check over the rest (so a changed byte is
 * detected). Integrity, not authority: a cursor grants nothing the parameters do not.
 * encode writes NUL-terminated text into out (TARN_AL_CURSOR_TEXT_MAX + 1 bytes). decode
 * answers TARN_EINVAL saying what is wrong: not base64url, cut, another version, changed,
 * or made for another query.
 */
int tarn_al_cursor_encode(const tarn_al_query *q, const tarn_al_pos *p, char *out, size_t n,
                          tarn_error *err);
int tarn_al_cursor_decode(const tarn_al_query *q, const char *text, tarn_al_pos *p,
                          tarn_error *err);

/* What a query read, per phase, for logs and tests. */
typedef struct tarn_al_stats {
  int64_t snapshot_id; /* the snapshot every scan of the query read (-1: empty table) */
  int64_t days;        /* distinct days (partitions) the plan found in range */
  int64_t windows;     /* time windows the walk scanned */
  int64_t rounds;      /* walks (more than 1 only when copies of event ids were found) */
  int64_t lookups;     /* scans for newer copies of the page's event ids */
  tarn_table_scan_stats walk, lookup, fetch; /* summed over the scans of each phase */
} tarn_al_stats;

/* One page: the events (a JSON array of objects: every column by name, applied_at as
 * RFC 3339 text, parameters/previous_state/new_state as JSON values), and the position of
 * the last one when more rows follow. */
typedef struct tarn_al_page {
  json_t *events;
  int has_next;
  tarn_al_pos next;
  tarn_al_stats stats;
} tarn_al_page;

/*
 * Answers q from the current snapshot of t (an action-log table: tarn_action_log_check),
 * every scan pinned to that snapshot. One row per event_id: of the copies that match the
 * filters, the first in the order; copies before q->after count too, so pages never
 * repeat an event. Walks the day partitions newest first, a window of days per scan,
 * with the filters and the time range pushed into the scan, and stops once limit + 1
 * events are known; then reads the full rows of the page only. The caller frees page
 * (tarn_al_page_free), also on failure. Errors: TARN_EINVAL (a bad query), TARN_ETOOBIG
 * (an event_id too long for a cursor ends the page), or the scan's (I/O, corrupt files).
 */
int tarn_action_log_query(tarn_table *t, const tarn_al_query *q, tarn_al_page *page,
                          tarn_error *err);
void tarn_al_page_free(tarn_al_page *page); /* accepts NULL */

#endif
