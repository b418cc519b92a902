/* offsets.h - the Kafka positions a table holds: for each topic-partition, the next offset
 * after the last record a commit made durable. Internal to src/sink. */
#ifndef TARN_SINK_OFFSETS_H
#define TARN_SINK_OFFSETS_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/error.h"
#include "table/table.h"

typedef struct tarn_sink_tp {
  char *topic;
  int32_t partition;
  int64_t next; /* -1: none */
} tarn_sink_tp;

typedef struct tarn_sink_offsets {
  tarn_sink_tp *v;
  size_t n, cap;
} tarn_sink_offsets;

void tarn_sink_offsets_free(tarn_sink_offsets *o);
void tarn_sink_offsets_clear(tarn_sink_offsets *o);
/* The next offset of (topic, partition), or -1 when o has none. */
int64_t tarn_sink_offsets_get(const tarn_sink_offsets *o, const char *topic, int32_t partition);
/* Sets (adds or replaces) the next offset of (topic, partition). */
int tarn_sink_offsets_set(tarn_sink_offsets *o, const char *topic, int32_t partition, int64_t next,
                          tarn_error *err);
/* Sets every entry of `from` in o. */
int tarn_sink_offsets_merge(tarn_sink_offsets *o, const tarn_sink_offsets *from, tarn_error *err);
int tarn_sink_offsets_copy(tarn_sink_offsets *dst, const tarn_sink_offsets *src, tarn_error *err);

/* As the summary value: {"TOPIC":{"PARTITION":NEXT,...},...}, topics and partitions in
 * order. */
int tarn_sink_offsets_format(const tarn_sink_offsets *o, tarn_buf *out, tarn_error *err);
/* Parses that form; anything else is TARN_ECORRUPT naming what is wrong. */
int tarn_sink_offsets_parse(const char *text, tarn_sink_offsets *out, tarn_error *err);

/* The snapshot-summary key under which a sink with this stable id (its consumer group)
 * keeps its offsets: "tarn.sink.offsets.<group>". */
int tarn_sink_offsets_key(const char *group, char *dst, size_t n, tarn_error *err);

/*
 * The offsets table metadata m holds under `key`: the summary of the newest snapshot in
 * the ancestry of the current one that has the key (every sink commit writes the whole
 * map, merged with its parent's, so that one is complete); when no ancestor has it
 * (expired snapshots), the table property of the same name, which every sink commit sets
 * too. *found 0 and o empty when neither has it (a new table, or the sink has never
 * committed to it). The ancestry comes first so that a table rolled back to an older
 * snapshot resumes from that snapshot's offsets.
 */
int tarn_sink_offsets_from_metadata(const tarn_ice_metadata *m, const char *key,
                                    tarn_sink_offsets *o, int *found, tarn_error *err);

#endif
