/* journal_table.h - the journal's Iceberg table, system.journal: its layout, and
 * appending flushed events to it exactly once.
 *
 * Unpartitioned, sorted by entity_id then timestamp (each data file really is), bloom
 * filters on entity_id and event_id, so that an entity's history reads few row groups.
 * Every commit records, inside the catalog's compare-and-swap, the highest WAL sequence
 * number the table holds (table property and snapshot summary tarn.journal.wal-seq): a
 * flush retried after an unknown outcome, or replayed after a crash between the commit
 * and the WAL's release, writes nothing twice. Internal to src/journal. */
#ifndef TARN_JOURNAL_JOURNAL_TABLE_H
#define TARN_JOURNAL_JOURNAL_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "table/lake.h"

#define TARN_JOURNAL_NS "system"
#define TARN_JOURNAL_TABLE "journal"
#define TARN_JOURNAL_SEQ_KEY "tarn.journal.wal-seq"

/* Column field ids (1-based, in this order). */
enum {
  TARN_JT_EVENT_ID = 1,
  TARN_JT_TIMESTAMP,
  TARN_JT_ENTITY_TYPE,
  TARN_JT_ENTITY_ID,
  TARN_JT_FIELD,
  TARN_JT_ACTION,
  TARN_JT_OLD_VALUE,
  TARN_JT_NEW_VALUE,
  TARN_JT_ACTOR,
  TARN_JT_SOURCE,
  TARN_JT_WORKSPACE_ID,
  TARN_JT_SEQ,
  TARN_JT_NCOLS = TARN_JT_SEQ
};

typedef struct tarn_journal_table tarn_journal_table;

/* Loads system.journal, creating it (and the namespace) when absent. A table of another
 * layout is TARN_ESCHEMA naming the column. Borrows lake. */
int tarn_journal_table_open(tarn_lake *lake, tarn_journal_table **out, tarn_error *err);
void tarn_journal_table_close(tarn_journal_table *t);

/* The highest WAL sequence number the table holds (0: none), as committed now. */
int tarn_journal_table_seq(tarn_journal_table *t, uint64_t *seq, tarn_error *err);

typedef struct tarn_journal_table_commit {
  int committed; /* 0: the table held these events already (an earlier attempt landed) */
  int64_t snapshot_id;
  size_t files;
  int64_t bytes;
} tarn_journal_table_commit;

/*
 * Appends n events (sequence numbers ascending) as data files sorted by entity_id,
 * timestamp and seq, and commits them with the table's sequence number set to the last
 * one's. Inside every attempt of the compare-and-swap the table's number must be below
 * the first event's (then the commit goes ahead) or at least the last's (then it held
 * them already: nothing is committed, res->committed 0). Anything between is
 * TARN_ECONFLICT: another writer flushed part of them.
 */
int tarn_journal_table_append(tarn_journal_table *t, const tarn_journal_event *ev, size_t n,
                              tarn_journal_table_commit *res, tarn_error *err);

typedef struct tarn_journal_compact_options {
  int64_t small_bytes;     /* a data file under this size is small (0: max_memory / 16) */
  uint64_t max_memory;     /* bytes the runs' readers may hold at once (0: 256 MiB) */
  size_t min_files;        /* fewer small files than this: nothing to do (0: 2) */
  int64_t file_rows;       /* an output file ends at the first entity past this many rows
                          (0: 4,194,304) */
  int full;                /* 1: every run, not only the newest of similar sizes (still
                              as many at once as max_memory allows) */
  const _Atomic int *stop; /* non-NULL: once it is set, the compaction stops (TARN_EBUSY),
                              having changed nothing: a daemon shutting down */
} tarn_journal_compact_options;

typedef struct tarn_journal_compact_result {
  size_t files_in, files_out; /* 0, 0: nothing to do */
  int64_t events, bytes_in, bytes_out;
  int64_t snapshot_id;     /* the replace snapshot */
  size_t small_files_left; /* small files the table still has (past max_memory) */
} tarn_journal_compact_result;

/*
 * Merges the newest sorted runs (a flush's file; a compaction's files) into one: a k-way
 * merge streaming each run, so memory holds a row group per run (max_memory bounds how
 * many runs are merged at once), never all the events. Runs are taken from the newest
 * back while the next older one holds at most twice the events of those taken, so run sizes
 * grow geometrically and each event is rewritten a logarithmic number of times. The
 * output splits the merged run at entity boundaries into files of about file_rows rows:
 * a history query reads one of them. One "replace" snapshot swaps them in; inside the
 * compare-and-swap every file it removes must still be live (else TARN_ECONFLICT, and the
 * new files are deleted); flushes racing it are kept. Input that is not sorted stops it
 * (TARN_ECORRUPT, naming the file). A crash leaves at most unreferenced new files
 * (`tarn table remove-orphans`).
 */
int tarn_journal_table_compact(tarn_journal_table *t, const tarn_journal_compact_options *o,
                               tarn_journal_compact_result *res, tarn_error *err);

/* Expires the table's snapshots as its properties say (history.expire.max-snapshot-age-ms,
 * default 5 days; history.expire.min-snapshots-to-keep, default 1): the files only they
 * reached, data files compactions replaced among them, are deleted. */
int tarn_journal_table_expire(tarn_journal_table *t, tarn_table_expire_result *res,
                              tarn_error *err);

/* Data files of the current snapshot, and how many of them are small (small_bytes and
 * max_memory as for compaction; 0: their defaults). */
int tarn_journal_table_files(tarn_journal_table *t, int64_t small_bytes, uint64_t max_memory,
                             size_t *files, size_t *small, tarn_error *err);

/*
 * The events of entity_id (and entity_type, when not NULL) with since_us <= timestamp <
 * until_us that the table holds, in no particular order (the caller sorts): the filter
 * is pushed down (manifests, row-group statistics, bloom filters, page index). The
 * caller frees *out with tarn_journal_events_free.
 */
int tarn_journal_table_history(tarn_journal_table *t, const char *entity_id,
                               const char *entity_type, int64_t since_us, int64_t until_us,
                               tarn_journal_event **out, size_t *n, tarn_error *err);

/* The events with a sequence number of at least min_seq, in no particular order (files
 * written by one flush hold a narrow range: the scan skips the others by statistics). */
int tarn_journal_table_since_seq(tarn_journal_table *t, uint64_t min_seq, tarn_journal_event **out,
                                 size_t *n, tarn_error *err);

#endif
