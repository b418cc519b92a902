/* sink_int.h - what the sink's files share: the consumer state and the targets a batch
 * is committed to (the two tables, or JSON-lines files). Internal to src/sink. */
#ifndef TARN_SINK_SINK_INT_H
#define TARN_SINK_SINK_INT_H

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>

#include "envelope.h"
#include "offsets.h"
#include "rows.h"
#include "sink.h"
#include "sink_table.h"

/*
 * Where batches go. `offsets` reads the positions the target holds (*known 0: it keeps
 * none, as a stream to stdout, and the consumer falls back on Kafka's committed offsets);
 * `commit` makes the rows of one kind durable with the offsets `end`, under the rules of
 * tarn_sink_tables_commit.
 */
typedef struct sink_target {
  void *impl;
  int (*offsets)(void *impl, tarn_sink_offsets *main_next, tarn_sink_offsets *dlq_next, int *known,
                 tarn_error *err);
  int (*commit)(void *impl, tarn_al_table_kind kind, const tarn_sink_rows *rows,
                const tarn_sink_offsets *start, const tarn_sink_offsets *end, tarn_sink_commit *res,
                int *fenced, tarn_error *err);
  void (*close)(void *impl);
  const char *(*name)(void *impl, tarn_al_table_kind kind);
} sink_target;

/* The JSON-lines target (sink_jsonl.c): PATH gets the rows, PATH.dlq the poison records,
 * PATH.offsets the lengths of both and the offsets, written after both are fsynced; at
 * open both files are cut back to the lengths recorded there. "-": stdout, no offsets. */
int tarn__sink_jsonl_open(const char *path, sink_target *t, tarn_error *err);

/* The table target (two Iceberg tables). */
int tarn__sink_table_target(tarn_lake *lake, const char *table, const char *group, sink_target *t,
                            tarn_error *err);

#endif
