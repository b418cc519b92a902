/* sink_table.h - the sink's tables: the action log and its dead-letter table, created or
 * checked at start, their offsets read at every assignment, batches committed with the
 * offsets checked and recorded inside the catalog's compare-and-swap. Internal. */
#ifndef TARN_SINK_SINK_TABLE_H
#define TARN_SINK_SINK_TABLE_H

#include "action_log.h"
#include "offsets.h"
#include "rows.h"
#include "table/lake.h"

typedef struct tarn_sink_tables tarn_sink_tables;

/* Loads ns.name and ns.name_dlq, creating them (and the namespace) when absent; a table
 * that exists with another layout is TARN_ESCHEMA naming the column. Borrows lake. */
int tarn_sink_tables_open(tarn_lake *lake, const char *ns, const char *name, const char *group,
                          tarn_sink_tables **out, tarn_error *err);
void tarn_sink_tables_close(tarn_sink_tables *t);
const char *tarn_sink_tables_ident(const tarn_sink_tables *t, tarn_al_table_kind kind);

/* Reloads both tables and reads the offsets each holds for this sink's group. */
int tarn_sink_tables_offsets(tarn_sink_tables *t, tarn_sink_offsets *main_next,
                             tarn_sink_offsets *dlq_next, tarn_error *err);

/* What a commit did. */
typedef struct tarn_sink_commit {
  int committed; /* 1: a snapshot holds the rows; 0: the table had them already */
  int64_t snapshot_id;
  size_t files;
  int64_t bytes; /* of the data files */
  int attempts;
} tarn_sink_commit;

/*
 * Writes `rows` as data files of the table of `kind` and commits them with the offsets
 * `end`. Inside every attempt of the compare-and-swap, the table's offsets for each
 * topic-partition in `end` must still be those in `start` (-1: none), the state the batch
 * was read from; the snapshot records them merged with `end`. When the table holds `end`
 * for every one already (an earlier attempt whose answer was lost), nothing is committed
 * and *res says so. When it holds anything else, another consumer committed those records
 * since: TARN_ECONFLICT ("fenced"), nothing committed, and the batch must be dropped and
 * re-read from the table's offsets. Other failures are the commit's (retriable ones
 * TARN_ETIMEDOUT, TARN_EIO, TARN_ENETWORK, TARN_ECONFLICT after the table's retries ...);
 * *fenced tells the two ECONFLICTs apart.
 */
int tarn_sink_tables_commit(tarn_sink_tables *t, tarn_al_table_kind kind,
                            const tarn_sink_rows *rows, const tarn_sink_offsets *start,
                            const tarn_sink_offsets *end, tarn_sink_commit *res, int *fenced,
                            tarn_error *err);

#endif
