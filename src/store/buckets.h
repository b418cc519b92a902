/* buckets.h - named buckets with rescue fallback, credentials, the append log and the error journal. */
#ifndef TARN_STORE_BUCKETS_H
#define TARN_STORE_BUCKETS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/config.h"
#include "base/secrets.h"
#include "base/error.h"
#include "base/metrics.h"
#include "base/uuid.h"
#include "store/store.h"

/*
 * Three layers on top of the object-store interface (formats and invariants:
 * src/store/README.md):
 *
 *   append log   write-once batch files of JSON lines under a prefix, compaction that
 *                never loses or reorders a record (applog.c)
 *   error journal every failed storage operation and every rescue fallback, as events in
 *                an append log under _errors/bucket_errors/, with an in-memory ring
 *                for queries (errjournal.c)
 *   buckets      the configured stores by name and role; reads that fail on the primary
 *                fall back to the rescue bucket; every failure is journaled and counted;
 *                reachability probes (buckets.c)
 *
 * Threads. The registry is built on one thread (tarn_buckets_create, _add, _from_config,
 * _set_journal, _protect_path), then shared: the bucket operations, probes, counters and
 * status may be called from any thread (each bucket locks its own state; the registry
 * locks its list). An append log and the error journal are shared objects too: appends,
 * records, queries and flushes may come from any thread (functions marked Thread-safe
 * below); open and close run on one thread, close after the last user. Readers and
 * writers a bucket hands out are the store's (store.h): one thread at a time.
 */

/* ======================================================================== */
/* append log                                                                */
/* ======================================================================== */

typedef struct tarn_applog tarn_applog;

typedef struct tarn_applog_options {
  const char *prefix;   /* e.g. "_errors/bucket_errors/"; must end in '/' */
  size_t flush_records; /* flush when this many records are buffered; 0 = 1000 */
  int64_t flush_age_ms; /* ... or when the oldest is this old; 0 = 5000; < 0 = never */
  size_t max_buffered;  /* appends past this many buffered records fail; 0 = 100000 */
  size_t max_record;    /* bytes of one serialised record; 0 = 64 KiB */
  int background;       /* 1: a thread of the log flushes by age */
} tarn_applog_options;

/*
 * Opens the append log under o->prefix of `st` (borrowed; must outlive the log). Lists
 * the existing batch files to continue their sequence. One process writes a prefix at a
 * time (see README). The caller owns *out: tarn_applog_close.
 */
int tarn_applog_open(tarn_store *st, const tarn_applog_options *o, tarn_applog **out,
                     tarn_error *err);

/*
 * Buffers one record: a JSON object (borrowed). The log gives it an "id" member (a
 * UUIDv7) unless it has one; the id is copied to id_out when not NULL. May flush
 * (record threshold) on the calling thread; a failed flush keeps the records buffered
 * and is not an error of this append. TARN_ETOOBIG when the record is too large or the
 * buffer is full, TARN_EINVAL when rec is not an object. Thread-safe.
 */
int tarn_applog_append(tarn_applog *log, json_t *rec, char id_out[TARN_UUID_STR_LEN],
                       tarn_error *err);

/*
 * Writes every buffered record as one new batch file (put-if-absent), in append order.
 * On failure the records stay buffered, in order, for the next flush. *flushed (may be
 * NULL) gets the number of records written. Thread-safe.
 */
int tarn_applog_flush(tarn_applog *log, size_t *flushed, tarn_error *err);

/* Records appended and not yet flushed (buffered, or in a flush under way). */
size_t tarn_applog_pending(tarn_applog *log);

typedef struct tarn_applog_compact_result {
  size_t files_merged;  /* batch files the new one replaces (0: nothing to do) */
  size_t files_deleted; /* of those, how many were deleted (all, unless a delete failed) */
  size_t records;       /* records in the new file */
  uint64_t first_seq, last_seq;
  char file[TARN_STORE_KEY_MAX + 1]; /* key of the new file, "" when nothing was merged */
} tarn_applog_compact_result;

/*
 * Merges the first run of at least two consecutive batch files whose sizes add up to at
 * most max_bytes (0 = 64 MiB) into one file named for the run's sequence range, written
 * first (put-if-absent), then deletes the merged files. A crash or failure between the
 * two steps leaves both, which readers resolve (README). Thread-safe with appends.
 */
int tarn_applog_compact(tarn_applog *log, size_t max_bytes, tarn_applog_compact_result *res,
                        tarn_error *err);

/* Stops the background thread, flushes, and frees the log. Returns the flush's result;
 * records that could not be flushed are lost (and logged). Accepts NULL. */
int tarn_applog_close(tarn_applog *log, tarn_error *err);

typedef struct tarn_applog_read_stats {
  size_t files;      /* batch files read */
  size_t superseded; /* batch files skipped because a compacted file covers them */
  size_t records;    /* records passed to the callback */
  size_t duplicates; /* records skipped because their id was seen already */
  size_t malformed;  /* lines skipped (not a JSON object), each logged with file and line */
} tarn_applog_read_stats;

/* Called once per record, in append order. `rec` is borrowed for the call; `file` is the
 * batch file's key. Non-zero stops the read and is returned by tarn_applog_read. */
typedef int (*tarn_applog_read_fn)(json_t *rec, const char *file, void *ud);

/*
 * Reads every record under `prefix` of `st` in append order, each once: batch files a
 * compacted file supersedes are skipped and records are deduplicated by id. Malformed
 * lines are skipped with a warning naming the file and line. stats may be NULL.
 */
int tarn_applog_read(tarn_store *st, const char *prefix, tarn_applog_read_fn fn, void *ud,
                     tarn_applog_read_stats *stats, tarn_error *err);

/* ======================================================================== */
/* error journal                                                             */
/* ======================================================================== */

#define TARN_ERRJOURNAL_PREFIX "_errors/bucket_errors/"
#define TARN_ERRJOURNAL_RING 2000

typedef struct tarn_errjournal tarn_errjournal;

/* One event. Strings are borrowed when passed to tarn_errjournal_record. */
typedef struct tarn_storage_event {
  int64_t ts_us;  /* Unix microseconds; 0 = now */
  const char *op; /* "get", "get_range", "head", "put", "list", "delete", "probe" */
  const char *bucket;
  const char *key; /* may be NULL (list: the prefix) */
  int code;        /* tarn_code of the failure */
  int http_status; /* 0 when none */
  int sys_errno;   /* 0 when none */
  int attempt;     /* err->attempts of the failure (0 when not counted) */
  int rescued;     /* 1: the read was then served by the rescue bucket */
  const char *message;
} tarn_storage_event;

typedef struct tarn_errjournal_options {
  size_t flush_records; /* as tarn_applog_options; 0 = 100 */
  int64_t flush_age_ms; /* 0 = 5000 */
  int background;       /* 1: flush by age on a thread of the journal */
} tarn_errjournal_options;

/*
 * Opens the journal under TARN_ERRJOURNAL_PREFIX of `st` (borrowed): loads the most
 * recent TARN_ERRJOURNAL_RING events from the batch files (skipping malformed lines with
 * a warning naming the file and line). o may be NULL. Caller owns *out.
 */
int tarn_errjournal_open(tarn_store *st, const tarn_errjournal_options *o, tarn_errjournal **out,
                         tarn_error *err);

/* Records one event: into the ring (evicting the oldest past TARN_ERRJOURNAL_RING) and
 * the append log. A failure to buffer is logged, never returned: journaling must not
 * turn into a second failure of the operation it reports. Thread-safe. */
void tarn_errjournal_record(tarn_errjournal *ej, const tarn_storage_event *ev);

/* Events with bucket == `bucket` (NULL: any) and ts >= since_us, the newest `limit`
 * of them (0 = all), oldest first: a JSON array of event objects (new reference). */
json_t *tarn_errjournal_query(tarn_errjournal *ej, const char *bucket, int64_t since_us,
                              size_t limit);

/* Counts events since since_us per bucket into a JSON object {"bucket": n} (new
 * reference); *total gets the sum. */
json_t *tarn_errjournal_counts(tarn_errjournal *ej, int64_t since_us, size_t *total);

int tarn_errjournal_flush(tarn_errjournal *ej, size_t *flushed, tarn_error *err);
int tarn_errjournal_compact(tarn_errjournal *ej, tarn_applog_compact_result *res, tarn_error *err);
/* Parses a time for queries: ISO 8601 UTC ("2026-11-21", "2026-11-21T15:22:51Z",
 * "2026-11-21T15:22:51.123456Z") or Unix seconds ("1795000000"). TARN_EINVAL otherwise. */
int tarn_errjournal_parse_time(const char *s, int64_t *out_us);
/* Events loaded at open, and events skipped then as malformed. */
void tarn_errjournal_load_stats(const tarn_errjournal *ej, size_t *loaded, size_t *malformed);
/* Flushes and frees. Accepts NULL. */
int tarn_errjournal_close(tarn_errjournal *ej, tarn_error *err);

/* ======================================================================== */
/* credentials                                                               */
/* ======================================================================== */

/* The [bucket.NAME] sections of the secrets file (base/secrets.h): access_key_id,
 * secret_access_key and optionally session_token of an s3 bucket. */
extern const tarn_cfg_def tarn_store_bucket_secrets[];
/* 1 when the secrets file has credentials for bucket `name` (section [bucket.NAME]). */
int tarn_bucket_secrets_has(const tarn_secrets *sec, const char *name);

/* ======================================================================== */
/* buckets                                                                   */
/* ======================================================================== */

/* [bucket.*] (one section per bucket) and [storage] settings. */
extern const tarn_cfg_def tarn_store_bucket_config[];

typedef enum tarn_bucket_role {
  TARN_BUCKET_PRIMARY = 1, /* where tarn writes; reads fall back to the rescue bucket */
  TARN_BUCKET_RESCUE,      /* read when the primary fails; never deleted from over HTTP */
  TARN_BUCKET_EXTRA,       /* any other store */
} tarn_bucket_role;

const char *tarn_bucket_role_name(tarn_bucket_role role);

#define TARN_BUCKET_PROBE_PREFIX "_tarn_probe/"
#define TARN_BUCKET_NAME_MAX 64

typedef struct tarn_buckets tarn_buckets;
typedef struct tarn_bucket tarn_bucket;

/* Creates an empty registry. metrics (borrowed, may be NULL) receives the storage
 * metrics. Caller owns *out. */
int tarn_buckets_create(tarn_metrics *metrics, tarn_buckets **out, tarn_error *err);
/* Stops the prober and frees every bucket and its store. Accepts NULL. */
void tarn_buckets_destroy(tarn_buckets *bs);

/* Adds a bucket over `st` (taken, also on failure). `backend` names it ("local", "s3").
 * TARN_EEXIST for a second bucket of that name, TARN_ECONFIG for a second primary or
 * rescue. Not after the prober starts. */
int tarn_buckets_add(tarn_buckets *bs, const char *name, const char *backend, tarn_bucket_role role,
                     tarn_store *st, tarn_error *err);

/*
 * Builds the registry from cfg: one bucket per [bucket.NAME] section, or, with none, the
 * lake directory ([lake] path) as the primary local bucket "lake". Exactly one primary,
 * at most one rescue; required keys per backend. s3 credentials come from `sec` (may be
 * NULL), else from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN) in
 * envp (may be NULL). Errors are TARN_ECONFIG naming the section and key. Caller owns
 * *out.
 */
int tarn_buckets_from_config(const tarn_config *cfg, const tarn_secrets *sec, char *const *envp,
                             tarn_metrics *metrics, tarn_buckets **out, tarn_error *err);

/* Where failures are journaled (borrowed; NULL: nowhere). Set before use. */
void tarn_buckets_set_journal(tarn_buckets *bs, tarn_errjournal *ej);

size_t tarn_buckets_count(const tarn_buckets *bs);
tarn_bucket *tarn_buckets_at(tarn_buckets *bs, size_t i);           /* in configuration order */
tarn_bucket *tarn_buckets_find(tarn_buckets *bs, const char *name); /* NULL when unknown */
tarn_bucket *tarn_buckets_primary(tarn_buckets *bs);
tarn_bucket *tarn_buckets_rescue(tarn_buckets *bs); /* NULL when none */

const char *tarn_bucket_name(const tarn_bucket *b);
const char *tarn_bucket_backend(const tarn_bucket *b);
tarn_bucket_role tarn_bucket_role_of(const tarn_bucket *b);
/* The backend store itself, bypassing journaling and fallback (borrowed). */
tarn_store *tarn_bucket_raw_store(tarn_bucket *b);

/*
 * tarn's own files are not objects: registers the file or folder at `path` (absolute or
 * relative; it need not exist) as protected in every local bucket whose directory holds
 * it, under the key it would have there; a bucket whose directory lies inside `path` is
 * protected whole. With `prefix`, keys that merely start with it are covered too
 * ("catalog.db" covers catalog.db-wal). Call before serving (not thread-safe).
 */
int tarn_buckets_protect_path(tarn_buckets *bs, const char *path, int prefix, tarn_error *err);
/* 1 when `key` of b is, lies in, or is a folder of, a protected file. */
int tarn_bucket_protected(const tarn_bucket *b, const char *key);

/*
 * A tarn_store view of the bucket (borrowed, lives as long as the registry): every call
 * goes through the bucket layer, so failures are journaled and counted and, for the
 * primary, reads fall back to the rescue bucket. For modules that just want a store.
 */
tarn_store *tarn_bucket_store(tarn_bucket *b);

/* ---- operations through the bucket layer ----
 * Same contracts as the tarn_store_* functions. Failures (other than "not found",
 * "already exists" and bad keys, which are answers, not failures) are journaled and
 * counted. Reads on the primary that fail for any reason, a miss included, are retried
 * on the rescue bucket; *rescued (may be NULL) is then 1, the fallback is journaled with
 * rescued=true, and the result is the rescue bucket's. */
int tarn_bucket_get(tarn_bucket *b, const char *key, tarn_buf *out, int *rescued, tarn_error *err);
int tarn_bucket_get_range(tarn_bucket *b, const char *key, uint64_t off, uint64_t len,
                          tarn_buf *out, int *rescued, tarn_error *err);
/* Starts a streamed read: pins the object's current version (tarn_store_reader_open) on
 * b, or on the rescue bucket when b cannot serve it; counted and journaled as a "get".
 * *served (may be NULL) is the bucket that has it and (*out)->stat its size. Read with
 * tarn_bucket_read_at(*served, *out, ...); close with tarn_store_reader_close. */
int tarn_bucket_open_get(tarn_bucket *b, const char *key, tarn_store_reader **out,
                         tarn_bucket **served, tarn_error *err);
/* Reads a range of the version r pinned on b, never falling back (failures are
 * journaled under b): one response never mixes two copies or two versions. */
int tarn_bucket_read_at(tarn_bucket *b, tarn_store_reader *r, const char *key, uint64_t off,
                        uint64_t len, tarn_buf *out, tarn_error *err);
/* *served (may be NULL) is the bucket that answered: b, or the rescue bucket. */
int tarn_bucket_head(tarn_bucket *b, const char *key, tarn_store_stat *out, tarn_bucket **served,
                     tarn_error *err);
int tarn_bucket_put(tarn_bucket *b, const char *key, const void *p, size_t n, unsigned flags,
                    tarn_error *err);
int tarn_bucket_delete(tarn_bucket *b, const char *key, tarn_error *err);
int tarn_bucket_list(tarn_bucket *b, const char *prefix, const char *start_after, size_t max_keys,
                     tarn_store_listing *out, tarn_error *err);
/* Streaming writes: a writer whose failures are journaled (write, commit) like a put. */
int tarn_bucket_writer_open(tarn_bucket *b, const char *key, unsigned flags,
                            tarn_store_writer **out, tarn_error *err);

/* ---- reachability ---- */

typedef struct tarn_bucket_health {
  int probed; /* 0 until the first probe */
  int reachable;
  double latency_ms;     /* of the last probe (put + head + delete) */
  int64_t last_probe_us; /* when it ran */
  char last_error[256];  /* "" when the last probe succeeded */
} tarn_bucket_health;

/* Probes one bucket: put, head and delete of a small object under
 * TARN_BUCKET_PROBE_PREFIX. Updates and returns its health (out may be NULL). Returns 0
 * when reachable, else the failing step's code. A failed probe is journaled. */
int tarn_bucket_probe(tarn_bucket *b, tarn_bucket_health *out);
void tarn_bucket_health_get(tarn_bucket *b, tarn_bucket_health *out);
/* Probes every bucket. */
void tarn_buckets_probe_all(tarn_buckets *bs);

/* Starts a thread probing every bucket now and then every interval_ms; stop joins it
 * (waking it at once). Stop is idempotent and also done by destroy. */
int tarn_buckets_prober_start(tarn_buckets *bs, int64_t interval_ms, tarn_error *err);
void tarn_buckets_prober_stop(tarn_buckets *bs);

#endif
