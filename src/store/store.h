/* store.h - the object-store interface (a table of function pointers) and its backends. */
#ifndef TARN_STORE_STORE_H
#define TARN_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/error.h"

/*
 * An object store maps keys to immutable byte strings, like S3. Every backend (local
 * disk, S3, the fault-injecting test wrapper) implements tarn_store_ops; callers use the
 * tarn_store_* functions below, which validate keys before any backend sees them.
 *
 * Keys: 1 to 1024 bytes of valid UTF-8; no NUL or control characters (0x00-0x1f,
 * 0x7f); no leading '/'; no empty, "." or ".." segment (so no "//" and no trailing
 * '/'); no segment starting with ".tarn-tmp-" (reserved for in-flight writes). A bad
 * key is TARN_EBADKEY naming the offset, never a path outside the store.
 *
 * Visibility: a put is atomic. Readers see either no object or the whole object, never
 * a prefix of it, even if the writer crashes at any point. A put that returned 0 is
 * durable (file data and directory entries fsynced on local disk).
 *
 * Threads. A tarn_store may be shared: its operations (open a writer or reader, get,
 * head, list, delete) may be called from any number of threads at once (the local
 * backend keeps no mutable state per store; S3 pools its curl handles under a lock; the
 * fault-injecting wrapper locks its rules). Configure a store (fault rules, test hooks)
 * before sharing it, and destroy it after the last user. A tarn_store_writer, a
 * tarn_store_reader and a tarn_store_listing belong to one thread at a time.
 */

#define TARN_STORE_KEY_MAX 1024

typedef struct tarn_store tarn_store;
typedef struct tarn_store_writer tarn_store_writer;
typedef struct tarn_store_reader tarn_store_reader;

typedef struct tarn_store_stat {
  uint64_t size;
  int64_t mtime_us; /* last modification, Unix microseconds */
} tarn_store_stat;

typedef struct tarn_store_entry {
  char *key; /* owned by the list */
  uint64_t size;
  int64_t mtime_us;
} tarn_store_entry;

/* One page of a listing. Embedded by the caller: tarn_store_list_init / _free.
 * (The typedef is not called tarn_store_list: in C a typedef and the function
 * tarn_store_list cannot share a name. `struct tarn_store_list` also works.) */
typedef struct tarn_store_list {
  tarn_store_entry *entries;
  size_t count, cap;
  int truncated;    /* more keys follow; pass `next_after` as start_after for the next page */
  char *next_after; /* last key of this page when truncated, else NULL */
} tarn_store_listing;

/* put flags */
#define TARN_STORE_IF_ABSENT 1u /* fail with TARN_EEXIST if the key exists; atomic */

/* Called by a sweep for each temp file: its path below the store (not a key: its last
 * segment starts with ".tarn-tmp-") and its size. */
typedef void (*tarn_store_temp_fn)(const char *path, uint64_t size, void *arg);

/*
 * Backend operations. Keys reaching a backend are already validated. Every operation
 * returns 0 or a tarn_code and fills err (naming the key) on failure.
 */
typedef struct tarn_store_ops {
  const char *name; /* "local", "s3", "faulty" */
  /* Opens a streaming write of `key`; nothing is visible until commit. */
  int (*writer_open)(tarn_store *st, const char *key, unsigned flags, tarn_store_writer **out,
                     tarn_error *err);
  int (*get)(tarn_store *st, const char *key, tarn_buf *out, tarn_error *err);
  /* Reads up to len bytes at offset; fewer only at end of object. An offset past the end
   * is TARN_ERANGE. */
  int (*get_range)(tarn_store *st, const char *key, uint64_t off, uint64_t len, tarn_buf *out,
                   tarn_error *err);
  int (*head)(tarn_store *st, const char *key, tarn_store_stat *out, tarn_error *err);
  /* Keys starting with prefix, strictly after start_after (NULL: from the start), in
   * byte order, at most max_keys of them. */
  int (*list)(tarn_store *st, const char *prefix, const char *start_after, size_t max_keys,
              tarn_store_listing *out, tarn_error *err);
  /* Deleting a missing key is TARN_ENOTFOUND. */
  int (*del)(tarn_store *st, const char *key, tarn_error *err);
  void (*destroy)(tarn_store *st);
  /* Opens a read of the object's current version: every read_at of the reader returns
   * bytes of that one version, even if the key is overwritten or deleted meanwhile. */
  int (*reader_open)(tarn_store *st, const char *key, tarn_store_reader **out, tarn_error *err);
  /* Temp files of puts in flight or dead (see tarn_store_sweep). NULL: the backend leaves
   * none (S3: nothing is visible before a put completes). */
  int (*sweep)(tarn_store *st, const char *prefix, int64_t before_ms, int dry_run,
               tarn_store_temp_fn each, void *arg, size_t *count, tarn_error *err);
} tarn_store_ops;

/* The reader a backend returns from reader_open. */
typedef struct tarn_store_reader_ops {
  /* Appends min(len, size - off) bytes at off of the version opened; off past the end is
   * TARN_ERANGE. TARN_ECONFLICT when that version is gone from a store that cannot pin
   * it (S3: the key was overwritten), so a caller never mixes bytes of two versions. */
  int (*read_at)(tarn_store_reader *r, uint64_t off, uint64_t len, tarn_buf *out, tarn_error *err);
  void (*close)(tarn_store_reader *r);
} tarn_store_reader_ops;

/* The writer a backend returns from writer_open. */
typedef struct tarn_store_writer_ops {
  /* Appends bytes. A failed write makes the writer unusable: the caller aborts. */
  int (*write)(tarn_store_writer *w, const void *p, size_t n, tarn_error *err);
  /* Makes the object visible and durable, then frees the writer (also on failure, in
   * which case nothing is visible). */
  int (*commit)(tarn_store_writer *w, tarn_error *err);
  /* Discards everything written and frees the writer. */
  void (*abort)(tarn_store_writer *w);
} tarn_store_writer_ops;

/* Header every backend's store and writer structs start with. */
struct tarn_store {
  const tarn_store_ops *ops;
};
struct tarn_store_writer {
  const tarn_store_writer_ops *ops;
  uint64_t written; /* bytes accepted so far */
};
struct tarn_store_reader {
  const tarn_store_reader_ops *ops;
  tarn_store_stat stat; /* of the version opened */
};

/* Validates a key of `len` bytes (len lets callers catch embedded NULs). */
int tarn_store_key_check(const char *key, size_t len, tarn_error *err);

/* The operations callers use: validate the key, then call the backend. */
int tarn_store_writer_open(tarn_store *st, const char *key, unsigned flags, tarn_store_writer **out,
                           tarn_error *err);
int tarn_store_writer_write(tarn_store_writer *w, const void *p, size_t n, tarn_error *err);
int tarn_store_writer_commit(tarn_store_writer *w, tarn_error *err);
void tarn_store_writer_abort(tarn_store_writer *w); /* accepts NULL */

/* put = open + write + commit. With TARN_STORE_IF_ABSENT: TARN_EEXIST if present. */
int tarn_store_put(tarn_store *st, const char *key, const void *p, size_t n, unsigned flags,
                   tarn_error *err);
/* Reads the whole object into out (appending); out's cap bounds the size (TARN_ETOOBIG). */
int tarn_store_get(tarn_store *st, const char *key, tarn_buf *out, tarn_error *err);
int tarn_store_get_range(tarn_store *st, const char *key, uint64_t off, uint64_t len, tarn_buf *out,
                         tarn_error *err);
int tarn_store_head(tarn_store *st, const char *key, tarn_store_stat *out, tarn_error *err);
/*
 * Pins the object's current version for a streamed read (TARN_ENOTFOUND when absent).
 * r->stat is its size and mtime; tarn_store_reader_read returns only that version's
 * bytes (see tarn_store_reader_ops). The caller closes the reader (accepts NULL).
 */
int tarn_store_reader_open(tarn_store *st, const char *key, tarn_store_reader **out,
                           tarn_error *err);
int tarn_store_reader_read(tarn_store_reader *r, uint64_t off, uint64_t len, tarn_buf *out,
                           tarn_error *err);
void tarn_store_reader_close(tarn_store_reader *r);
/* prefix may be "" (everything) and need not end at a '/'. max_keys 0 means 1000.
 * out must be initialised; on success its previous page is released and replaced (so
 * start_after may be out->next_after), on failure it is left unchanged. */
int tarn_store_list(tarn_store *st, const char *prefix, const char *start_after, size_t max_keys,
                    tarn_store_listing *out, tarn_error *err);
int tarn_store_delete(tarn_store *st, const char *key, tarn_error *err);
/*
 * The temp files that puts leave while in flight, or for ever when their writer dies
 * (kill -9, power loss): never listed, never objects. Finds those whose path below the
 * store starts with `prefix` (a list prefix; "" for all) and that were last modified
 * before `before_ms` (Unix ms; INT64_MAX: all), reports each to `each` (may be NULL) and,
 * unless dry_run, removes it; *count (may be NULL) is how many were reported. A live
 * writer's temp file is modified at every write, so a cut-off well in the past (a grace
 * period) never takes it; a removed one makes that writer's commit fail, nothing else.
 * With dry_run nothing changes. Backends without temp files report none.
 */
int tarn_store_sweep(tarn_store *st, const char *prefix, int64_t before_ms, int dry_run,
                     tarn_store_temp_fn each, void *arg, size_t *count, tarn_error *err);
void tarn_store_destroy(tarn_store *st); /* accepts NULL */

void tarn_store_list_init(tarn_store_listing *l);
void tarn_store_list_free(tarn_store_listing *l);
/* For backends: appends an entry (copies key). */
int tarn_store_list_push(tarn_store_listing *l, const char *key, uint64_t size, int64_t mtime_us,
                         tarn_error *err);

/* ---- local disk ---- */

/*
 * A store rooted at directory `root` (created if missing, with parents). Objects are
 * files under root named by their key; a put writes "<dir>/.tarn-tmp-<name>.<random>",
 * fsyncs it, renames it into place (link-free RENAME_NOREPLACE for put-if-absent) and
 * fsyncs the directory. Listing skips in-flight temp files.
 */
int tarn_store_local_open(const char *root, tarn_store **out, tarn_error *err);

/* The store's directory, absolute and without symlinks, into buf; TARN_EINVAL when st is
 * not a local store. */
int tarn_store_local_root(tarn_store *st, char *buf, size_t n);

/* Removes temp files left by writers that died anywhere in the store, if older than
 * `older_than_ms` (0: all, for start-up when no writer runs). Returns the number removed
 * in *removed. Same as tarn_store_sweep with prefix "" and before_ms = now - older. */
int tarn_store_local_sweep(tarn_store *st, int64_t older_than_ms, size_t *removed, tarn_error *err);

/*
 * Test hook: called at each step of a local put ("open", "write", "fsync", "rename",
 * "dirsync") just before that step runs. A crash test forks, sets a hook that calls
 * _exit at step N, and checks what a reader sees afterwards. NULL clears. Process-wide.
 */
typedef void (*tarn_store_local_step_fn)(const char *step, void *arg);
void tarn_store_local_set_step_hook(tarn_store_local_step_fn fn, void *arg);

/* ---- S3 and S3-compatible servers ---- */

typedef struct tarn_store_s3_options {
  const char *endpoint; /* "https://s3.eu-west-1.amazonaws.com", "http://127.0.0.1:9000" */
  const char *region;   /* signing region, e.g. "us-east-1" */
  const char *bucket;
  const char *prefix;            /* prepended to every key ("" or e.g. "lake/"); NULL = "" */
  int virtual_hosted;            /* 1: https://BUCKET.host/KEY; 0: path-style host/BUCKET/KEY */
  const char *access_key_id;     /* required */
  const char *secret_access_key; /* required; never logged */
  const char *session_token;     /* optional (x-amz-security-token) */
  int insecure_skip_tls_verify;  /* 0 (default) verifies TLS certificates */
  const char *ca_file;           /* optional CA bundle */
  size_t multipart_threshold;    /* bodies at least this big use multipart; 0 = 16 MiB */
  size_t part_size;              /* multipart part size (>= 5 MiB); 0 = 8 MiB */
  unsigned max_attempts;         /* per request, with exponential backoff + jitter; 0 = 3 */
  unsigned connect_timeout_ms;   /* 0 = 5000 */
  unsigned request_timeout_ms;   /* 0 = 60000 */
} tarn_store_s3_options;

/*
 * A store on an S3 bucket (AWS or compatible), signed with AWS Signature V4. Options
 * are copied. Retriable failures (timeouts, connection errors, 429, 5xx) are retried;
 * errors carry the HTTP status in err->http_status, the attempts made in err->attempts,
 * and the S3 error code and request id in the detail. Secrets never appear in errors
 * or logs. put-if-absent sends `If-None-Match: *` and maps 412 to TARN_EEXIST.
 */
int tarn_store_s3_open(const tarn_store_s3_options *o, tarn_store **out, tarn_error *err);

/* ---- fault injection (tests) ---- */

typedef enum tarn_store_fault_op {
  TARN_FAULT_OPEN = 1, /* writer_open */
  TARN_FAULT_WRITE,    /* writer write */
  TARN_FAULT_COMMIT,   /* writer commit */
  TARN_FAULT_GET,      /* get and get_range */
  TARN_FAULT_HEAD,
  TARN_FAULT_LIST,
  TARN_FAULT_DELETE,
} tarn_store_fault_op;

typedef enum tarn_store_fault_kind {
  TARN_FAULT_ERROR = 1, /* the operation fails with `code` and does nothing */
  TARN_FAULT_SHORT,     /* WRITE only: half the bytes reach the inner writer, then failure */
  TARN_FAULT_FSYNC,     /* COMMIT only: fails as a failed fsync would; nothing visible */
} tarn_store_fault_kind;

/*
 * Wraps `inner` (taking ownership of it, also on failure). Faults are added as rules;
 * a rule fires on the `nth` matching call (1-based; 0 = every matching call), for keys
 * starting with `key_prefix` (NULL = any key), `times` times at most (0 = unlimited).
 */
int tarn_store_faulty_wrap(tarn_store *inner, tarn_store **out, tarn_error *err);
int tarn_store_faulty_add(tarn_store *st, tarn_store_fault_op op, tarn_store_fault_kind kind,
                          int code, const char *key_prefix, unsigned nth, unsigned times,
                          tarn_error *err);
void tarn_store_faulty_clear(tarn_store *st);
/* How many faults fired so far. */
unsigned tarn_store_faulty_fired(tarn_store *st);

#endif
