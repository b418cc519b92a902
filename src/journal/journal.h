/* journal.h - the mutation journal: events appended durably (WAL, group commit) into an
 * in-memory table, answered by entity and by recency.
 *
 * An append is acknowledged only after its WAL records are fsynced; only then are its
 * events visible to queries. Concurrent appends share fsyncs. An event the client gave an
 * event_id is idempotent: appending the same id again stores nothing and answers as the
 * first append did (once that one is durable); the same id with a different event is a
 * conflict. Durable events are flushed to the Iceberg table system.journal (sorted by
 * entity and time), their WAL segments released after the commit; history reads memory
 * and table together. Thread-safe. */
#ifndef TARN_JOURNAL_JOURNAL_H
#define TARN_JOURNAL_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "base/config.h"
#include "event.h"
#include "journal_table.h"
#include "wal.h"

/* [journal] settings: wal_dir (default <lake>/journal/wal), max_request_events,
 * max_request_bytes. */
extern const tarn_cfg_def tarn_journal_config[];

typedef struct tarn_journal tarn_journal;

typedef struct tarn_journal_options {
  const char *wal_dir;
  uint64_t segment_bytes; /* 0: the WAL's default */
  uint64_t table_seq;     /* the highest WAL sequence number the journal table holds */
  const tarn_wal_io *io;  /* NULL: POSIX (tests inject failures) */
  uint64_t max_memory;    /* bytes of events held in memory; past it appends are refused
                             (TARN_EBUSY) until a flush frees them; 0: 512 MiB */
  /* system.journal (journal_table.h), taken over (closed with the journal); NULL: events
   * stay in memory and the WAL, table_seq above says what the table holds. With it, a
   * background thread flushes at flush_events or flush_bytes held (0: 100,000 and 64 MiB)
   * or when the oldest has waited flush_age_ms (0: 60 s), and client event_ids stay
   * idempotent for window_ms after their flush (0: 24 h). */
  tarn_journal_table *table;
  uint64_t flush_events, flush_bytes, flush_age_ms;
  int64_t window_ms;
  /* A second handle on system.journal (on a catalog handle of its own), taken over: with
   * it a background thread compacts the table (tarn_journal_compact) every compact_every_ms
   * (0: 10 min) once it has compact_min_files small files (0: 16), loading at most
   * compact_max_memory bytes of events at once (0: 256 MiB). NULL: compaction only on
   * demand, through `table`. */
  tarn_journal_table *compact_table;
  uint64_t compact_every_ms, compact_min_files, compact_max_memory;
  /* 1: no background threads and no flush at close (a command-line run: what it appends
   * stays in the WAL until a flush or the daemon takes it) */
  int manual;
} tarn_journal_options;

/* Opens the WAL and replays it into memory. */
int tarn_journal_open(const tarn_journal_options *o, tarn_journal **out, tarn_error *err);
void tarn_journal_close(tarn_journal *j);

typedef struct tarn_journal_ack {
  char event_id[TARN_JOURNAL_ID_MAX + 1];
  uint64_t seq;
  int duplicate; /* stored by an earlier append with the same event_id */
} tarn_journal_ack;

/*
 * Appends n events (read by tarn_journal_parse, or built by the caller): an event with
 * no event_id gets a UUIDv7, one with no timestamp the time of the append, one with no
 * actor or source default_actor and default_source. All new events go into the WAL in
 * one write; the call returns once they are fsynced, with acks[i] for ev[i]. Nothing is
 * stored when any event is refused: TARN_ECONFLICT when its event_id names a different
 * event, naming the line (1-based index) and the id.
 */
int tarn_journal_append(tarn_journal *j, const tarn_journal_event *ev, size_t n,
                        const char *default_actor, tarn_journal_source default_source,
                        tarn_journal_ack *acks, tarn_error *err);

typedef struct tarn_journal_query {
  const char *entity_id;   /* required for history */
  const char *entity_type; /* NULL: any */
  int64_t since_us;        /* from this time on (inclusive); INT64_MIN: no bound */
  int64_t until_us;        /* before this time (exclusive); INT64_MAX: no bound */
  size_t limit;            /* 0: 1000 */
} tarn_journal_query;

/* An entity's events in time order (then in append order), the first `limit` of them,
 * from memory and from system.journal together. The caller frees *out with
 * tarn_journal_events_free. */
int tarn_journal_history(tarn_journal *j, const tarn_journal_query *q, tarn_journal_event **out,
                         size_t *n, tarn_error *err);
/* The latest `limit` events appended, newest first. */
int tarn_journal_recent(tarn_journal *j, size_t limit, tarn_journal_event **out, size_t *n,
                        tarn_error *err);

typedef struct tarn_journal_stats {
  size_t events_in_memory;
  uint64_t table_seq;         /* the highest sequence number system.journal holds */
  uint64_t flushes;           /* since open */
  int64_t last_flush_us;      /* wall clock of the last flush that committed (0: none) */
  char last_flush_error[256]; /* "" after a flush that worked */
  size_t idempotency_window;  /* flushed client event_ids still known */
  uint64_t memory_bytes;
  uint64_t appended;         /* since open */
  uint64_t duplicates;       /* appends answered from an earlier one */
  int64_t table_files;       /* data files of system.journal after the last flush or
                                compaction (-1: not known yet) */
  int64_t table_small_files; /* of which under the compaction's small size */
  uint64_t compactions;      /* since open, that replaced files */
  int64_t last_compaction_us;
  char last_compaction_error[256];
  uint64_t inbox_taken; /* events taken in from the inbox since open */
  tarn_wal_stats wal;
} tarn_journal_stats;

void tarn_journal_stats_get(tarn_journal *j, tarn_journal_stats *st);

/* Flushes every durable event held in memory to system.journal now (TARN_ENOTAVAIL
 * without a table); *flushed gets how many (0: nothing to flush). */
int tarn_journal_flush(tarn_journal *j, size_t *flushed, tarn_error *err);

/* Compacts system.journal now, fully: rounds of tarn_journal_table_compact over every run
 * (as many at once as compact_max_memory allows; on the compaction handle when there is
 * one) until one sorted run is left. The result sums the rounds (files_out, snapshot_id,
 * small_files_left: the last round's). TARN_ENOTAVAIL without a table. */
int tarn_journal_compact(tarn_journal *j, tarn_journal_compact_result *res, tarn_error *err);

/* ---- what callers record most ---- */

/* An insert (field "*"): new_json the entity as JSON text, or NULL. */
int tarn_journal_record_insert(tarn_journal *j, const char *entity_type, const char *entity_id,
                               const char *new_json, const char *actor, tarn_journal_ack *ack,
                               tarn_error *err);
/* An update of one field, from old_json to new_json (JSON texts; NULL: absent). */
int tarn_journal_record_update(tarn_journal *j, const char *entity_type, const char *entity_id,
                               const char *field, const char *old_json, const char *new_json,
                               const char *actor, tarn_journal_ack *ack, tarn_error *err);
/* A delete (field "*"): old_json what the entity was, or NULL. */
int tarn_journal_record_delete(tarn_journal *j, const char *entity_type, const char *entity_id,
                               const char *old_json, const char *actor, tarn_journal_ack *ack,
                               tarn_error *err);

/* A committed dataset ingest. */
typedef struct tarn_journal_ingest {
  const char *dataset; /* entity_type; entity_id is "datasets.<dataset>" */
  int64_t snapshot_id; /* the commit: the event's id is a UUIDv5 of dataset and snapshot,
                            so recording it twice stores it once */
  int64_t rows;        /* rows the commit added */
  const char *source;  /* where the rows came from (a file name, a URL) */
  const char *sha256;  /* of the source, or NULL */
  const char *outcome; /* created, appended or replaced; or NULL */
  const char *actor;   /* or NULL */
} tarn_journal_ingest;

/* The ingest event of `in` (source "ingest", action "ingest", new_value {"rows",
 * "source", ...}), owned by *out (tarn_journal_event_free). */
int tarn_journal_ingest_event(const tarn_journal_ingest *in, tarn_journal_event *out,
                              tarn_error *err);
int tarn_journal_record_ingest(tarn_journal *j, const tarn_journal_ingest *in,
                               tarn_journal_ack *ack, tarn_error *err);

/*
 * The inbox: events from a process that does not hold the journal (`tarn ingest` while
 * `tarn serve` runs), one file per call in <wal_dir>/inbox/, written and fsynced (file
 * and directory) before this returns. Every event must carry a client event_id (so
 * taking it in twice stores it once). The journal's holder takes the files in at open
 * and then once a second: appends their events (durably) and only then removes the file.
 */
int tarn_journal_inbox_put(const char *wal_dir, const tarn_journal_event *ev, size_t n,
                           tarn_error *err);

/* 1 while the journal takes appends; 0 with the reason in why once its WAL has failed
 * (a write or fsync: only reopening, a restart, takes appends again). */
int tarn_journal_health(tarn_journal *j, char *why, size_t n);

#endif
