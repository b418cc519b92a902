/* wal.c - the journal's write-ahead log: segments, framing, group commit, replay. The
 * format and the rules are in wal.h. */
#include "wal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/hash.h"
#include "base/log.h"

#define SEG_MAGIC "TARNWAL\x01"
#define SEG_MAGIC_LEN 8
#define SEG_DIGITS 20
#define SEG_SUFFIX ".wal"
#define SEG_NAME_LEN (SEG_DIGITS + sizeof(SEG_SUFFIX) - 1)
#define DEFAULT_SEGMENT_BYTES ((uint64_t)64 << 20)
#define DEFAULT_MAX_RECORD (16u << 20)

typedef struct seg {
  uint64_t first; /* sequence number of its first record (its name) */
  uint64_t last;  /* of its last record; first - 1 when it has none */
  uint64_t size;  /* bytes, header included */
} seg;

struct tarn_wal {
  char *dir;
  int dir_fd;
  int lock_fd; /* LOCK in the directory, flock()ed: one process per log */
  tarn_wal_io io;
  uint64_t seg_bytes;
  uint32_t max_record;
  pthread_mutex_t mu;
  pthread_cond_t cv; /* a running sync ended (close_current waits for it) */
  int cv_waiters;
  struct waiter *waiters; /* syncs waiting for a record to become durable */
  seg *segs;              /* oldest first; the last one is open for appends when fd >= 0 */
  size_t nsegs, cap;
  int fd;
  /* Appends are framed into `pend`; the sync leader writes them with one pwrite at
   * `written` (the current segment's bytes on file) and fsyncs. */
  tarn_buf pend, inflight;
  uint64_t written;
  uint64_t next_seq, durable;
  int syncing, failed;
  /* Group commit gathers: a leader whose previous fsync covered several records waits a
   * little for as many before it starts the next (see tarn_wal_sync). */
  pthread_cond_t gather_cv;
  int gathering;
  uint64_t last_group;    /* records the previous fsync made durable */
  uint64_t last_fsync_ns; /* how long it took */
  int fail_errno;
  const char *fail_what; /* "fsync" or "write" */
  uint64_t appended, syncs, truncated;
  tarn_buf frame; /* the bytes of one append */
};

/* ---- little-endian fields ---- */

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

static void put64(uint8_t *p, uint64_t v) {
  put32(p, (uint32_t)v);
  put32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p) {
  return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* The checksum covers the sequence number too: a whole record copied to the wrong place
 * does not pass for the one expected there. */
static uint32_t record_crc(uint64_t seq, const void *payload, size_t len) {
  uint8_t s[8];
  put64(s, seq);
  return tarn_crc32c(tarn_crc32c(0, s, 8), payload, len);
}

/* ---- files ---- */

static void seg_name(uint64_t first, char out[SEG_NAME_LEN + 1]) {
  snprintf(out, SEG_NAME_LEN + 1, "%020" PRIu64 SEG_SUFFIX, first);
}

/* The first sequence number a segment's name carries, or 0 if it is not a segment's. */
static uint64_t parse_seg_name(const char *name) {
  uint64_t v = 0;
  size_t i;
  if (strlen(name) != SEG_NAME_LEN || strcmp(name + SEG_DIGITS, SEG_SUFFIX) != 0)
    return 0;
  for (i = 0; i < SEG_DIGITS; i++) {
    if (name[i] < '0' || name[i] > '9' || v > (UINT64_MAX - 9) / 10)
      return 0;
    v = v * 10 + (uint64_t)(name[i] - '0');
  }
  return v;
}

static ssize_t io_pwrite(tarn_wal *w, int fd, const void *p, size_t n, off_t at) {
  return w->io.pwrite != NULL ? w->io.pwrite(fd, p, n, at, w->io.ctx) : pwrite(fd, p, n, at);
}

static int io_fsync(tarn_wal *w, int fd) {
  return w->io.fsync != NULL ? w->io.fsync(fd, w->io.ctx) : fdatasync(fd);
}

/* Writes all n bytes at `at`; 0 or an errno. */
static int write_all(tarn_wal *w, int fd, const uint8_t *p, size_t n, uint64_t at) {
  while (n > 0) {
    ssize_t k = io_pwrite(w, fd, p, n, (off_t)at);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      return k < 0 ? errno : EIO;
    p += k;
    n -= (size_t)k;
    at += (uint64_t)k;
  }
  return 0;
}

static int sync_dir(tarn_wal *w, tarn_error *err) {
  if (fsync(w->dir_fd) != 0)
    return tarn_error_sys(err, TARN_EFSYNC, errno, "wal: fsync of directory %s", w->dir);
  return 0;
}

/* mkdir -p */
static int make_dirs(const char *path, tarn_error *err) {
  char *p = tarn_strdup(path), *s;
  int rc = 0;
  if (p == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  for (s = p + 1;; s++) {
    if (*s != '/' && *s != '\0')
      continue;
    {
      char c = *s;
      *s = '\0';
      if (mkdir(p, 0755) != 0 && errno != EEXIST)
        rc = tarn_error_sys(err, tarn_code_from_errno(errno), errno, "wal: cannot create %s", p);
      *s = c;
    }
    if (rc != 0 || *s == '\0')
      break;
  }
  tarn_free(p);
  return rc;
}

static int segs_push(tarn_wal *w, uint64_t first, uint64_t size, tarn_error *err) {
  if (TARN_GROW(w->segs, w->cap, w->nsegs + 1, 8) != 0)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  w->segs[w->nsegs].first = first;
  w->segs[w->nsegs].last = first - 1;
  w->segs[w->nsegs].size = size;
  w->nsegs++;
  return 0;
}

/* A new segment for records from first on, durable (file and directory) before use. */
static int create_segment(tarn_wal *w, uint64_t first, tarn_error *err) {
  char name[SEG_NAME_LEN + 1];
  uint8_t h[TARN_WAL_SEGMENT_HEADER];
  int fd, e;
  seg_name(first, name);
  fd = openat(w->dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0)
    return tarn_error_sys(err, tarn_code_from_errno(errno), errno, "wal: cannot create %s/%s",
                          w->dir, name);
  memcpy(h, SEG_MAGIC, SEG_MAGIC_LEN);
  put64(h + SEG_MAGIC_LEN, first);
  e = write_all(w, fd, h, sizeof(h), 0);
  if (e == 0 && io_fsync(w, fd) != 0)
    e = errno ? errno : EIO;
  if (e != 0) {
    close(fd);
    unlinkat(w->dir_fd, name, 0);
    return tarn_error_sys(err, e == ENOSPC ? TARN_ENOSPC : TARN_EIO, e, "wal: cannot write %s/%s",
                          w->dir, name);
  }
  if (sync_dir(w, err) != 0 || segs_push(w, first, sizeof(h), err) != 0) {
    close(fd);
    return err != NULL ? err->code : TARN_EIO;
  }
  w->fd = fd;
  w->written = sizeof(h);
  return 0;
}

/* A sync waiting for record `seq`, on a condition of its own: an fsync wakes the
 * callers it made durable, not every waiter (on a few CPUs, waking dozens of threads
 * that go back to sleep costs more than the fsync). */
typedef struct waiter {
  uint64_t seq;
  int done; /* durable, or the log failed */
  int lead; /* no sync runs: this one is to lead the next */
  pthread_cond_t cv;
  struct waiter *next;
} waiter;

/* After durable, syncing or failed changed (w->mu held): wakes the waiters now durable
 * (all when the log failed), and when no sync runs the first one still waiting, to lead
 * the next. */
static void wake(tarn_wal *w) {
  waiter **pp = &w->waiters, *first = NULL;
  while (*pp != NULL) {
    waiter *x = *pp;
    if (w->failed || x->seq <= w->durable) {
      *pp = x->next;
      x->done = 1;
      pthread_cond_signal(&x->cv);
    } else {
      if (first == NULL)
        first = x;
      pp = &x->next;
    }
  }
  if (!w->syncing && first != NULL) {
    first->lead = 1;
    pthread_cond_signal(&first->cv);
  }
  if (w->cv_waiters > 0)
    pthread_cond_broadcast(&w->cv);
}

/* Waits (w->mu held) until seq is durable, the log failed, or this caller is to lead. */
static void wait_for(tarn_wal *w, uint64_t seq) {
  waiter me, **pp;
  me.seq = seq;
  me.done = 0;
  me.lead = 0;
  pthread_cond_init(&me.cv, NULL);
  me.next = w->waiters;
  w->waiters = &me;
  while (!me.done && !me.lead)
    pthread_cond_wait(&me.cv, &w->mu);
  for (pp = &w->waiters; !me.done && *pp != NULL; pp = &(*pp)->next)
    if (*pp == &me) { /* woken to lead: still listed */
      *pp = me.next;
      break;
    }
  pthread_cond_destroy(&me.cv);
}

/* The log refuses everything from now on (w->mu held). */
static void fail(tarn_wal *w, int e, const char *what) {
  w->failed = 1;
  w->fail_errno = e;
  w->fail_what = what;
  wake(w);
}

/* Writes buffered records at `at`; on failure cuts the file back to `at`, so that no part
 * of them stays before what a reopened log appends. 0 or an errno. */
static int write_pending(tarn_wal *w, int fd, const tarn_buf *b, uint64_t at) {
  int e = b->len > 0 ? write_all(w, fd, (const uint8_t *)b->data, b->len, at) : 0;
  if (e != 0 && ftruncate(fd, (off_t)at) != 0)
    tarn_log_error("wal: cannot cut back a failed write", "dir=%s offset=%llu", w->dir,
                   (unsigned long long)at);
  return e;
}

/* Closes the current segment after an fsync (so that everything before the next segment
 * is durable); waits for a running sync first, whose descriptor this is. */
static int close_current(tarn_wal *w, tarn_error *err) {
  int e;
  w->cv_waiters++;
  while (w->syncing)
    pthread_cond_wait(&w->cv, &w->mu);
  w->cv_waiters--;
  if (w->fd < 0)
    return 0;
  e = write_pending(w, w->fd, &w->pend, w->written);
  if (e == 0) {
    w->written += w->pend.len;
    tarn_buf_reset(&w->pend);
  }
  if (e != 0 || io_fsync(w, w->fd) != 0) {
    fail(w, e != 0 ? e : errno, e != 0 ? "write" : "fsync");
    return tarn_error_sys(err, w->fail_errno == ENOSPC ? TARN_ENOSPC : TARN_EFSYNC, w->fail_errno,
                          "wal: %s of a full segment in %s", w->fail_what, w->dir);
  }
  w->syncs++;
  close(w->fd);
  w->fd = -1;
  if (w->next_seq - 1 > w->durable)
    w->durable = w->next_seq - 1;
  wake(w);
  return 0;
}

/* ---- replay ---- */

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* The segments in the directory, by first sequence number. */
static int list_segments(tarn_wal *w, uint64_t **out, size_t *n, tarn_error *err) {
  int fd = dup(w->dir_fd);
  DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
  struct dirent *de;
  size_t cap = 0;
  *out = NULL;
  *n = 0;
  if (d == NULL) {
    if (fd >= 0)
      close(fd);
    return tarn_error_sys(err, TARN_EIO, errno, "wal: cannot list %s", w->dir);
  }
  rewinddir(d);
  while ((de = readdir(d)) != NULL) {
    uint64_t first = parse_seg_name(de->d_name);
    if (first == 0)
      continue;
    if (TARN_GROW(*out, cap, *n + 1, 16) != 0) {
      closedir(d);
      return tarn_error_set(err, TARN_ENOMEM, "out of memory");
    }
    (*out)[(*n)++] = first;
  }
  closedir(d);
  if (*n > 1)
    qsort(*out, *n, sizeof(**out), cmp_u64);
  return 0;
}

static int read_file(tarn_wal *w, const char *name, tarn_buf *b, tarn_error *err) {
  int fd = openat(w->dir_fd, name, O_RDONLY | O_CLOEXEC);
  struct stat st;
  size_t at = 0;
  tarn_buf_reset(b);
  if (fd < 0 || fstat(fd, &st) != 0) {
    int e = errno;
    if (fd >= 0)
      close(fd);
    return tarn_error_sys(err, TARN_EIO, e, "wal: cannot read %s/%s", w->dir, name);
  }
  if (tarn_buf_reserve(b, (size_t)st.st_size, err) != 0) {
    close(fd);
    return err != NULL ? err->code : TARN_ENOMEM;
  }
  while (at < (size_t)st.st_size) {
    ssize_t k = pread(fd, b->data + at, (size_t)st.st_size - at, (off_t)at);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      break;
    at += (size_t)k;
  }
  close(fd);
  b->len = at;
  return 0;
}

/* Whether a whole record numbered at least min_seq starts anywhere in [from, size): then
 * what is damaged before it is not a torn tail. */
static int record_follows(const tarn_wal *w, const uint8_t *p, size_t from, size_t size,
                          uint64_t min_seq) {
  size_t o;
  for (o = from; o + TARN_WAL_RECORD_HEADER <= size; o++) {
    uint32_t len = get32(p + o);
    uint64_t seq;
    if (len > w->max_record || len > size - o - TARN_WAL_RECORD_HEADER)
      continue;
    seq = get64(p + o + 8);
    if (seq >= min_seq && record_crc(seq, p + o + TARN_WAL_RECORD_HEADER, len) == get32(p + o + 4))
      return 1;
  }
  return 0;
}

typedef struct replay {
  tarn_wal_replay_fn fn;
  void *ctx;
  uint64_t skip_below; /* records below are held elsewhere: not replayed */
} replay;

/* Cuts the last segment back to `to` bytes (a torn tail), durably. */
static int cut_tail(tarn_wal *w, const char *name, size_t to, size_t size, const char *why,
                    tarn_error *err) {
  int fd = openat(w->dir_fd, name, O_WRONLY | O_CLOEXEC), e = 0;
  if (fd < 0 || ftruncate(fd, (off_t)to) != 0 || io_fsync(w, fd) != 0)
    e = errno ? errno : EIO;
  if (fd >= 0)
    close(fd);
  if (e != 0)
    return tarn_error_sys(err, TARN_EIO, e, "wal: cannot cut the torn tail of %s/%s", w->dir, name);
  w->truncated += size - to;
  tarn_log_warn("wal torn tail cut off", "segment=%s/%s offset=%zu bytes=%zu reason=%s", w->dir,
                name, to, size - to, why);
  return 0;
}

/* Replays one segment; *s gets what it holds. A record that is not whole and in order is
 * a torn tail when it is in the last segment and no whole record follows it. */
static int replay_segment(tarn_wal *w, const char *name, uint64_t first, uint64_t expect,
                          int is_last, const replay *r, seg *s, tarn_buf *b, tarn_error *err) {
  const uint8_t *p;
  size_t off = TARN_WAL_SEGMENT_HEADER, size;
  const char *why = NULL;
  int rc = read_file(w, name, b, err);
  if (rc != 0)
    return rc;
  p = (const uint8_t *)b->data;
  size = b->len;
  s->first = first;
  s->last = first - 1;
  s->size = size;
  if (size < TARN_WAL_SEGMENT_HEADER || memcmp(p, SEG_MAGIC, SEG_MAGIC_LEN) != 0 ||
      get64(p + SEG_MAGIC_LEN) != first) {
    /* The header is durable before any record is written, so a last segment with a bad
     * header and no whole record after it was being created: it never held one. */
    if (is_last && !record_follows(w, p, 0, size, 1)) {
      s->size = 0;
      return 0;
    }
    return tarn_error_set(err, TARN_ECORRUPT, "wal segment %s/%s offset 0: bad segment header",
                          w->dir, name);
  }
  if (expect != 0 && first != expect)
    return tarn_error_set(err, TARN_ECORRUPT,
                          "wal segment %s/%s offset 0: starts at record %" PRIu64
                          " but the segment before it ends at %" PRIu64 " (a segment is missing)",
                          w->dir, name, first, expect - 1);
  while (off < size) {
    uint32_t len;
    uint64_t seq;
    if (size - off < TARN_WAL_RECORD_HEADER) {
      why = "truncated record header";
      break;
    }
    len = get32(p + off);
    seq = get64(p + off + 8);
    if (len > w->max_record) {
      why = "record length beyond the maximum";
      break;
    }
    if (len > size - off - TARN_WAL_RECORD_HEADER) {
      why = "truncated record";
      break;
    }
    if (record_crc(seq, p + off + TARN_WAL_RECORD_HEADER, len) != get32(p + off + 4)) {
      why = "checksum mismatch";
      break;
    }
    if (seq != s->last + 1) {
      why = "record out of sequence";
      break;
    }
    if (r->fn != NULL && seq >= r->skip_below &&
        (rc = r->fn(seq, p + off + TARN_WAL_RECORD_HEADER, len, r->ctx, err)) != 0)
      return rc;
    s->last = seq;
    off += TARN_WAL_RECORD_HEADER + len;
  }
  if (why == NULL)
    return 0;
  if (!is_last || record_follows(w, p, off + 1, size, s->last + 1))
    return tarn_error_set(err, TARN_ECORRUPT,
                          "wal segment %s/%s offset %zu: %s (record %" PRIu64
                          " expected; whole records follow, so this is not a torn tail)",
                          w->dir, name, off, why, s->last + 1);
  rc = cut_tail(w, name, off, size, why, err);
  s->size = off;
  return rc;
}

static int replay_all(tarn_wal *w, const replay *r, tarn_error *err) {
  uint64_t *firsts = NULL, expect = 0;
  tarn_buf b;
  size_t i;
  int rc = list_segments(w, &firsts, &i, err);
  size_t n = i;
  tarn_buf_init(&b, TARN_BUF_UNLIMITED);
  for (i = 0; rc == 0 && i < n; i++) {
    char name[SEG_NAME_LEN + 1];
    seg s;
    seg_name(firsts[i], name);
    rc = replay_segment(w, name, firsts[i], expect, i + 1 == n, r, &s, &b, err);
    if (rc != 0)
      break;
    if (s.size == 0) { /* a segment whose creation did not finish: it never held a record */
      if (unlinkat(w->dir_fd, name, 0) != 0 || sync_dir(w, err) != 0)
        rc = tarn_error_sys(err, TARN_EIO, errno, "wal: cannot remove %s/%s", w->dir, name);
      continue;
    }
    rc = segs_push(w, s.first, s.size, err);
    if (rc == 0)
      w->segs[w->nsegs - 1].last = s.last;
    expect = s.last + 1;
  }
  tarn_buf_free(&b);
  tarn_free(firsts);
  if (rc == 0)
    w->next_seq = expect != 0 ? expect : 1;
  return rc;
}

/* ---- the log ---- */

/* One process per log: a second writer would interleave its records with ours. The
 * lock is the kernel's (flock), so a killed process never leaves it behind. */
static int lock_dir(tarn_wal *w, tarn_error *err) {
  w->lock_fd = openat(w->dir_fd, "LOCK", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (w->lock_fd < 0)
    return tarn_error_sys(err, tarn_code_from_errno(errno), errno, "wal: cannot open %s/LOCK",
                          w->dir);
  if (flock(w->lock_fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK)
      return tarn_error_set(err, TARN_EBUSY,
                            "wal %s is in use by another process (a tarn serve on the same "
                            "lake?); one process writes a journal",
                            w->dir);
    return tarn_error_sys(err, TARN_EIO, errno, "wal: cannot lock %s/LOCK", w->dir);
  }
  return 0;
}

static int release_locked(tarn_wal *w, uint64_t upto, tarn_error *err);

int tarn_wal_open(const tarn_wal_options *o, tarn_wal_replay_fn fn, void *ctx, tarn_wal **out,
                  tarn_error *err) {
  tarn_wal *w;
  replay r;
  int rc;
  *out = NULL;
  if (o->dir == NULL || o->dir[0] == '\0')
    return tarn_error_set(err, TARN_ECONFIG, "wal: no directory");
  w = tarn_calloc(1, sizeof(*w));
  if (w == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  w->fd = -1;
  w->dir_fd = -1;
  w->lock_fd = -1;
  w->seg_bytes = o->segment_bytes ? o->segment_bytes : DEFAULT_SEGMENT_BYTES;
  w->max_record = o->max_record ? o->max_record : DEFAULT_MAX_RECORD;
  if (o->io != NULL)
    w->io = *o->io;
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
  {
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->gather_cv, &ca);
    pthread_condattr_destroy(&ca);
  }
  tarn_buf_init(&w->frame, TARN_BUF_UNLIMITED);
  tarn_buf_init(&w->pend, TARN_BUF_UNLIMITED);
  tarn_buf_init(&w->inflight, TARN_BUF_UNLIMITED);
  w->dir = tarn_strdup(o->dir);
  rc = w->dir != NULL ? make_dirs(o->dir, err) : tarn_error_set(err, TARN_ENOMEM, "out of memory");
  if (rc == 0 && (w->dir_fd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
    rc = tarn_error_sys(err, tarn_code_from_errno(errno), errno, "wal: cannot open %s", o->dir);
  if (rc == 0)
    rc = lock_dir(w, err);
  r.fn = fn;
  r.ctx = ctx;
  r.skip_below = o->min_next_seq;
  if (rc == 0)
    rc = replay_all(w, &r, err);
  /* Records below min_next_seq are held elsewhere (the journal table): the segments that
   * hold nothing else go, and numbering goes on from there. */
  if (rc == 0 && o->min_next_seq > w->next_seq) {
    rc = release_locked(w, o->min_next_seq - 1, err);
    w->next_seq = o->min_next_seq;
  }
  /* What replay read may still be only in the page cache (the process died, not the
   * machine): made durable before anything is answered from it. */
  if (rc == 0 && w->nsegs > 0) {
    char name[SEG_NAME_LEN + 1];
    seg_name(w->segs[w->nsegs - 1].first, name);
    w->fd = openat(w->dir_fd, name, O_WRONLY | O_CLOEXEC);
    w->written = w->segs[w->nsegs - 1].size;
    if (w->fd < 0)
      rc = tarn_error_sys(err, TARN_EIO, errno, "wal: cannot open %s/%s", w->dir, name);
    else if (io_fsync(w, w->fd) != 0)
      rc = tarn_error_sys(err, TARN_EFSYNC, errno, "wal: fsync of %s/%s", w->dir, name);
  }
  if (rc != 0) {
    tarn_wal_close(w);
    return rc;
  }
  w->durable = w->next_seq - 1; /* what replay read is on disk */
  *out = w;
  return 0;
}

void tarn_wal_close(tarn_wal *w) {
  if (w == NULL)
    return;
  if (w->fd >= 0) {
    /* records appended but never synced were acknowledged to no one: written anyway,
     * for a caller that closes without syncing */
    if (!w->failed && write_pending(w, w->fd, &w->pend, w->written) == 0)
      (void)io_fsync(w, w->fd);
    close(w->fd);
  }
  if (w->dir_fd >= 0)
    close(w->dir_fd);
  if (w->lock_fd >= 0)
    close(w->lock_fd); /* releases the lock */
  tarn_buf_free(&w->frame);
  tarn_buf_free(&w->pend);
  tarn_buf_free(&w->inflight);
  tarn_free(w->segs);
  tarn_free(w->dir);
  pthread_cond_destroy(&w->cv);
  pthread_cond_destroy(&w->gather_cv);
  pthread_mutex_destroy(&w->mu);
  tarn_free(w);
}

static int failed_error(tarn_wal *w, tarn_error *err) {
  return tarn_error_sys(err, w->fail_errno == ENOSPC ? TARN_ENOSPC : TARN_EFSYNC, w->fail_errno,
                        "wal %s: a %s failed earlier, so what the log holds past its last "
                        "fsync cannot be trusted; nothing more is accepted until it is reopened",
                        w->dir, w->fail_what != NULL ? w->fail_what : "write");
}

/* The frame of n records numbered from first, into w->frame. */
static int build_frame(tarn_wal *w, const tarn_wal_rec *recs, size_t n, uint64_t first,
                       tarn_error *err) {
  size_t i;
  tarn_buf_reset(&w->frame);
  if (tarn_buf_reserve(&w->frame, n * TARN_WAL_RECORD_HEADER, err) != 0)
    return err != NULL ? err->code : TARN_ENOMEM;
  for (i = 0; i < n; i++) {
    uint8_t h[TARN_WAL_RECORD_HEADER];
    put32(h, (uint32_t)recs[i].len);
    put32(h + 4, record_crc(first + i, recs[i].p, recs[i].len));
    put64(h + 8, first + i);
    if (tarn_buf_append(&w->frame, h, sizeof(h), err) != 0 ||
        tarn_buf_append(&w->frame, recs[i].p, recs[i].len, err) != 0)
      return err != NULL ? err->code : TARN_ENOMEM;
  }
  return 0;
}

int tarn_wal_append(tarn_wal *w, const tarn_wal_rec *recs, size_t n, uint64_t *first_seq,
                    tarn_error *err) {
  seg *s;
  size_t i;
  int rc = 0;
  for (i = 0; i < n; i++)
    if (recs[i].len > w->max_record)
      return tarn_error_set(err, TARN_ETOOBIG,
                            "wal: record %zu of the append is %zu bytes (at most %u)", i,
                            recs[i].len, w->max_record);
  if (n == 0)
    return tarn_error_set(err, TARN_EINVAL, "wal: nothing to append");
  pthread_mutex_lock(&w->mu);
  if (w->failed) {
    rc = failed_error(w, err);
    goto out;
  }
  rc = build_frame(w, recs, n, w->next_seq, err);
  if (rc != 0)
    goto out;
  if (w->fd >= 0) { /* full: the next segment */
    s = &w->segs[w->nsegs - 1];
    if (s->size > TARN_WAL_SEGMENT_HEADER && s->size + w->frame.len > w->seg_bytes)
      rc = close_current(w, err);
  }
  if (rc == 0 && w->fd < 0)
    rc = create_segment(w, w->next_seq, err);
  if (rc == 0)
    rc = tarn_buf_append(&w->pend, w->frame.data, w->frame.len, err);
  if (rc != 0)
    goto out;
  s = &w->segs[w->nsegs - 1];
  s->size += w->frame.len;
  s->last = w->next_seq + n - 1;
  *first_seq = w->next_seq;
  w->next_seq += n;
  w->appended += n;
  if (w->gathering)
    pthread_cond_signal(&w->gather_cv);
out:
  pthread_mutex_unlock(&w->mu);
  return rc;
}

/*
 * The leader, before its fsync (w->mu held). When the previous fsync covered G > 1
 * records, writers are many: the ones it released are busy making their next records,
 * and an fsync started at once would cover one or two of them, the rest waiting for the
 * one after. So the leader waits until G records are pending, or for half the previous
 * fsync's time at most (1 ms at most): under load an fsync covers about as many records
 * as there are writers, and a lone writer (G = 1) never waits. PostgreSQL's commit_delay
 * does the same with fixed settings.
 */
static void gather(tarn_wal *w) {
  uint64_t wait_ns, deadline;
  struct timespec ts;
  if (w->last_group <= 1)
    return;
  wait_ns = w->last_fsync_ns / 2 < 1000000 ? w->last_fsync_ns / 2 : 1000000;
  deadline = tarn_clock_mono_ns() + wait_ns;
  ts.tv_sec = (time_t)(deadline / 1000000000);
  ts.tv_nsec = (long)(deadline % 1000000000);
  w->gathering = 1;
  while (w->next_seq - 1 - w->durable < w->last_group && tarn_clock_mono_ns() < deadline &&
         !w->failed)
    if (pthread_cond_timedwait(&w->gather_cv, &w->mu, &ts) != 0)
      break;
  w->gathering = 0;
}

int tarn_wal_sync(tarn_wal *w, uint64_t seq, tarn_error *err) {
  int rc = 0;
  pthread_mutex_lock(&w->mu);
  while (rc == 0 && w->durable < seq) {
    uint64_t target, t0, t1, at;
    tarn_buf tmp;
    const char *what;
    int fd, ok, e;
    if (w->failed) {
      rc = failed_error(w, err);
      break;
    }
    if (seq >= w->next_seq) {
      rc = tarn_error_set(err, TARN_EINVAL, "wal: record %" PRIu64 " was never appended", seq);
      break;
    }
    if (w->syncing) { /* an fsync is running: it or the next one covers seq */
      wait_for(w, seq);
      continue;
    }
    w->syncing = 1; /* this caller leads: one write and one fsync for all appended so far */
    gather(w);
    target = w->next_seq - 1;
    fd = w->fd;
    at = w->written;
    tmp = w->inflight; /* the pending records become this leader's; appends go on */
    w->inflight = w->pend;
    w->pend = tmp;
    tarn_buf_reset(&w->pend);
    pthread_mutex_unlock(&w->mu);
    t0 = tarn_clock_mono_ns();
    what = "write";
    e = write_pending(w, fd, &w->inflight, at);
    if (e == 0 && io_fsync(w, fd) != 0) {
      what = "fsync";
      e = errno != 0 ? errno : EIO;
    }
    ok = e == 0;
    t1 = tarn_clock_mono_ns();
    pthread_mutex_lock(&w->mu);
    w->syncing = 0;
    w->syncs++;
    if (ok)
      w->written += w->inflight.len;
    tarn_buf_reset(&w->inflight);
    if (!ok) {
      /* never retried: after a failed fsync the kernel may have dropped the pages it did
       * not write, and after a failed write these records' numbers are gone */
      fail(w, e, what);
    } else if (target > w->durable) {
      w->last_group = target - w->durable;
      w->last_fsync_ns = t1 - t0;
      w->durable = target;
    }
    wake(w);
  }
  pthread_mutex_unlock(&w->mu);
  return rc;
}

static int release_locked(tarn_wal *w, uint64_t upto, tarn_error *err) {
  size_t i, kept = 0;
  int rc = 0, removed = 0;
  if (w->nsegs > 0 && w->fd >= 0) {
    seg *cur = &w->segs[w->nsegs - 1];
    if (cur->last >= cur->first && cur->last <= upto)
      rc = close_current(w, err); /* appends go on in a new segment */
  }
  for (i = 0; rc == 0 && i < w->nsegs; i++) {
    seg *s = &w->segs[i];
    int open_one = i + 1 == w->nsegs && w->fd >= 0;
    if (!open_one && s->last <= upto) {
      char name[SEG_NAME_LEN + 1];
      seg_name(s->first, name);
      if (unlinkat(w->dir_fd, name, 0) != 0 && errno != ENOENT) {
        rc = tarn_error_sys(err, TARN_EIO, errno, "wal: cannot delete %s/%s", w->dir, name);
        w->segs[kept++] = *s;
        continue;
      }
      removed = 1;
      continue;
    }
    w->segs[kept++] = *s;
  }
  for (; i < w->nsegs; i++)
    w->segs[kept++] = w->segs[i];
  w->nsegs = kept;
  if (removed && rc == 0)
    rc = sync_dir(w, err);
  return rc;
}

int tarn_wal_release(tarn_wal *w, uint64_t upto, tarn_error *err) {
  int rc;
  pthread_mutex_lock(&w->mu);
  rc = w->failed ? failed_error(w, err) : release_locked(w, upto, err);
  pthread_mutex_unlock(&w->mu);
  return rc;
}

void tarn_wal_stats_get(tarn_wal *w, tarn_wal_stats *st) {
  size_t i;
  memset(st, 0, sizeof(*st));
  pthread_mutex_lock(&w->mu);
  st->next_seq = w->next_seq;
  st->durable_seq = w->durable;
  st->segments = w->nsegs;
  for (i = 0; i < w->nsegs; i++)
    st->bytes += w->segs[i].size;
  st->records_appended = w->appended;
  st->syncs = w->syncs;
  st->truncated_bytes = w->truncated;
  st->failed = w->failed;
  pthread_mutex_unlock(&w->mu);
}
