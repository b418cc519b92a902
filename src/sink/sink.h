/* sink.h - `tarn sink`: action-audit events from Kafka into default.action_log, exactly
 * once, poison records into default.action_log_dlq. */
#ifndef TARN_SINK_SINK_H
#define TARN_SINK_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "base/config.h"
#include "base/error.h"
#include "base/metrics.h"
#include "table/lake.h"

/*
 * How it works (src/sink/README.md has the whole story):
 * - One librdkafka high-level consumer in the group; batches of decoded rows and poison
 *   records, committed when max records, max bytes or max age is reached.
 * - A commit writes the dead-letter table first, then the action log; each snapshot
 *   records under "tarn.sink.offsets.<group>" the next offset of every topic-partition it
 *   made durable, checked and merged inside the catalog's compare-and-swap. On every
 *   assignment the sink seeks to the offsets the action log holds; poison records below
 *   the offsets the dead-letter table holds are not written twice.
 * - Kafka offsets are committed after the tables, for lag monitoring only.
 *
 * Threads: tarn_sink_run runs the consumer on the calling thread; tarn_sink_stop and
 * tarn_sink_health may be called from any thread (a signal thread, HTTP handlers).
 */

/* [sink] settings: brokers, topic, group, table, jsonl, batch limits, grace, health;
 * [kafka] any librdkafka property. */
extern const tarn_cfg_def tarn_sink_config[];
/* The environment variables of the service tarn sink replaces. */
extern const tarn_cfg_alias tarn_sink_env_aliases[];

typedef struct tarn_sink_options {
  const char *brokers; /* bootstrap.servers */
  const char *topic;
  const char *group;             /* group.id: also the sink's stable id in the tables */
  const char *table;             /* "ns.name" of the action log (its dead-letter table: name_dlq) */
  const char *jsonl;             /* non-NULL: write JSON lines there instead ("-": stdout) */
  int64_t max_records;           /* a batch commits at this many records ... */
  int64_t max_bytes;             /* ... or this many bytes of record values ... */
  int64_t max_age_ms;            /* ... or when its first record is this old */
  int64_t health_age_ms;         /* unhealthy when records wait this long without a commit */
  const char *const *kafka_keys; /* librdkafka properties, applied over the sink's defaults */
  const char *const *kafka_values;
  size_t nkafka;
  tarn_lake *lake;       /* the lake (table mode); borrowed */
  tarn_metrics *metrics; /* borrowed; may be NULL */
} tarn_sink_options;

typedef struct tarn_sink tarn_sink;

/* Validates everything (librdkafka properties: TARN_ECONFIG naming the key), opens or
 * creates the tables (a layout mismatch is TARN_ESCHEMA naming the column) and creates
 * the consumer. Nothing is consumed until tarn_sink_run. */
int tarn_sink_create(tarn_sink **out, const tarn_sink_options *o, tarn_error *err);
/* Consumes until tarn_sink_stop, then commits what it holds and the Kafka offsets,
 * leaves the group and returns 0. A failure that retrying cannot mend (the table's layout
 * changed, a fatal Kafka error) returns its code; nothing uncommitted is acknowledged. */
int tarn_sink_run(tarn_sink *s, tarn_error *err);
/* Asks tarn_sink_run to finish; returns at once. */
void tarn_sink_stop(tarn_sink *s);
/* 1 when the consumer has its assignment and no record has waited longer than
 * health_age_ms for a commit; 0 with the reason in why. */
int tarn_sink_health(tarn_sink *s, char *why, size_t n);
void tarn_sink_destroy(tarn_sink *s);

#endif
