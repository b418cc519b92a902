/* wal.h - the journal's write-ahead log: records appended to segment files, each framed
 * by its length and a CRC32C, made durable by fsync with group commit, replayed at open.
 *
 * On disk, in one directory: segments named by their first sequence number, 20 decimal
 * digits and ".wal" (so byte order is numeric order). A segment starts with a 16-byte
 * header, "TARNWAL" 0x01 and the first sequence number (little-endian u64); then records:
 *
 *   u32 payload length | u32 CRC32C of (sequence number, payload) | u64 sequence | payload
 *
 * all little-endian. Sequence numbers increase by one from record to record, across
 * segments and across restarts (the first is at least options.min_next_seq).
 *
 * Threads: every call may be made from any thread; appends are serialised, and a sync
 * waits for an fsync that covers its records: whoever finds no fsync running starts one
 * for everything appended so far, the others wait for it or the next (group commit). A
 * failed fsync is final: the page cache may have dropped what it did not write, so the
 * log refuses every later append and sync (TARN_EFSYNC) until it is reopened.
 */
#ifndef TARN_JOURNAL_WAL_H
#define TARN_JOURNAL_WAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"

typedef struct tarn_wal tarn_wal;

/* System calls the log makes on segment data, replaceable by tests (a failing fsync, a
 * disk that fills up). NULL members are the POSIX calls. */
typedef struct tarn_wal_io {
  ssize_t (*pwrite)(int fd, const void *p, size_t n, off_t at, void *ctx);
  int (*fsync)(int fd, void *ctx); /* 0, or -1 with errno; default fdatasync (the data
                                      and the file size, not the times: as PostgreSQL's
                                      wal_sync_method does on Linux) */
  void *ctx;
} tarn_wal_io;

typedef struct tarn_wal_options {
  const char *dir;        /* created (with parents) when absent */
  uint64_t segment_bytes; /* a new segment once one reaches this; 0: 64 MiB */
  uint32_t max_record;    /* largest payload; 0: 16 MiB */
  uint64_t min_next_seq;  /* sequence numbers below this are taken (0: start at 1) */
  const tarn_wal_io *io;  /* NULL: POSIX */
} tarn_wal_options;

/* Called for every record at open, in sequence order; non-zero stops the open with that
 * code. The payload is valid during the call only. */
typedef int (*tarn_wal_replay_fn)(uint64_t seq, const void *payload, size_t len, void *ctx,
                                  tarn_error *err);

/*
 * Opens the log in o->dir, replaying what it holds through fn (may be NULL). A torn tail
 * (the last segment ending in part of a record, or in bytes no whole record follows) is
 * cut off at the last whole record, and said so in the log. Anything else that is not a
 * whole record in sequence (a bad record that whole records follow, a damaged segment
 * before the last, a missing segment) is TARN_ECORRUPT naming the segment and the byte
 * offset, and nothing is changed.
 */
int tarn_wal_open(const tarn_wal_options *o, tarn_wal_replay_fn fn, void *ctx, tarn_wal **out,
                  tarn_error *err);
void tarn_wal_close(tarn_wal *w);

typedef struct tarn_wal_rec {
  const void *p;
  size_t len;
} tarn_wal_rec;

/*
 * Appends n records with consecutive sequence numbers (*first_seq the first) in one
 * write. They are not durable until tarn_wal_sync(w, *first_seq + n - 1) returns 0. A
 * failed write leaves the segment as it was (cut back); ENOSPC is TARN_ENOSPC.
 */
int tarn_wal_append(tarn_wal *w, const tarn_wal_rec *recs, size_t n, uint64_t *first_seq,
                    tarn_error *err);
/* Returns once every record up to seq is fsynced (one fsync may cover many callers). */
int tarn_wal_sync(tarn_wal *w, uint64_t seq, tarn_error *err);

/* Deletes the segments every record of which is at most upto (the journal table holds
 * them now). The current segment goes too when it qualifies; appends continue in a new
 * one. */
int tarn_wal_release(tarn_wal *w, uint64_t upto, tarn_error *err);

typedef struct tarn_wal_stats {
  uint64_t next_seq;    /* the next record's sequence number */
  uint64_t durable_seq; /* every record up to this one is fsynced (0: none) */
  uint64_t bytes;       /* in all segments */
  size_t segments;
  uint64_t records_appended, syncs; /* since open */
  uint64_t truncated_bytes;         /* cut off as a torn tail at open */
  int failed;                       /* an fsync failed: nothing more is accepted */
} tarn_wal_stats;

void tarn_wal_stats_get(tarn_wal *w, tarn_wal_stats *st);

/* Segment header and record header sizes, for tests that damage files on purpose. */
#define TARN_WAL_SEGMENT_HEADER 16
#define TARN_WAL_RECORD_HEADER 16

#endif
