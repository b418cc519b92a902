/* store_local.c - the local-disk backend: one file per key under a root directory. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/hash.h"
#include "store/store.h"

/*
 * Every path is resolved relative to root_fd with the *at() calls, so the process's
 * working directory never matters and validated keys (no leading '/', no "." or ".."
 * segments) cannot name anything outside the root. The on-disk layout and the put
 * protocol are described in README.md beside this file.
 */

#define TMP_MARK ".tarn-tmp-"
#define TMP_MARK_LEN (sizeof(TMP_MARK) - 1)
/* A temp name keeps at most this much of the object's name, so that it fits NAME_MAX
 * even for the longest allowed segment: 10 + 200 + 1 + 16 < 255. */
#define TMP_NAME_KEEP 200
#define TMP_RAND_BYTES 8

typedef struct local_store {
  tarn_store base;
  char *root;  /* as given to open; for messages only */
  int root_fd; /* O_DIRECTORY; every path below is relative to it */
} local_store;

typedef struct local_writer {
  tarn_store_writer base;
  local_store *ls;
  char *key;
  char *tmp;        /* temp file's name inside dir_fd */
  const char *name; /* final name inside dir_fd; points into key */
  int dir_fd;       /* directory that holds the object */
  int fd;           /* the temp file, -1 once closed */
  unsigned flags;
  int failed; /* sticky tarn_code of a failed write; commit then refuses */
} local_writer;

static const tarn_store_ops local_ops;
static const tarn_store_writer_ops local_writer_ops;

/* ---- step hook (tests) ---- */

static pthread_mutex_t hook_mu = PTHREAD_MUTEX_INITIALIZER;
static tarn_store_local_step_fn hook_fn;
static void *hook_arg;

void tarn_store_local_set_step_hook(tarn_store_local_step_fn fn, void *arg) {
  pthread_mutex_lock(&hook_mu);
  hook_fn = fn;
  hook_arg = arg;
  pthread_mutex_unlock(&hook_mu);
}

/* Runs the hook outside the lock so that it may do anything, even set another hook. */
static void step(const char *name) {
  tarn_store_local_step_fn fn;
  void *arg;
  pthread_mutex_lock(&hook_mu);
  fn = hook_fn;
  arg = hook_arg;
  pthread_mutex_unlock(&hook_mu);
  if (fn != NULL)
    fn(name, arg);
}

/* ---- small helpers ---- */

/* Modification time of a stat result in Unix microseconds. */
static int64_t stat_mtime_us(const struct stat *sb) {
  return (int64_t)sb->st_mtim.tv_sec * 1000000 + sb->st_mtim.tv_nsec / 1000;
}

/* fsync that retries only when interrupted before doing anything. Returns 0 or errno. */
static int fsync_retry(int fd) {
  while (fsync(fd) != 0) {
    if (errno != EINTR)
      return errno;
  }
  return 0;
}

/* fsyncs directory `path` (relative to root_fd; "" is the root). Returns 0 or errno. */
static int fsync_dir(local_store *ls, const char *path) {
  int fd, e;
  if (path[0] == '\0')
    return fsync_retry(ls->root_fd);
  fd = openat(ls->root_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return errno;
  e = fsync_retry(fd);
  close(fd);
  return e;
}

/* Names reserved for in-flight writes; keys can never have such a segment. */
static int is_tmp_name(const char *name) { return strncmp(name, TMP_MARK, TMP_MARK_LEN) == 0; }

/* Offset of the first segment longer than NAME_MAX (which no directory entry can hold),
 * or -1 when every segment fits. */
static long long_segment(const char *key) {
  const char *seg = key, *slash;
  for (;;) {
    slash = strchr(seg, '/');
    size_t n = slash ? (size_t)(slash - seg) : strlen(seg);
    if (n > NAME_MAX)
      return (long)(seg - key);
    if (slash == NULL)
      return -1;
    seg = slash + 1;
  }
}

/* For reads: errno values meaning "there is no object under this key". */
static int errno_is_missing(int e) {
  return e == ENOENT || e == ENOTDIR || e == EISDIR || e == ENAMETOOLONG;
}

/*
 * mkdir -p of key[0, dir_len) below the root, fsyncing the parent of every directory it
 * creates so that a later fsync of the object's own directory is enough to make the whole
 * path durable. An existing component is fine. Returns 0 or a tarn_code.
 */
static int mkdirs(local_store *ls, const char *key, size_t dir_len, tarn_error *err) {
  char path[TARN_STORE_KEY_MAX + 1];
  size_t i;
  long last_slash = -1; /* end of the current component's parent; -1: the root */
  int e;
  memcpy(path, key, dir_len);
  path[dir_len] = '\0';
  for (i = 0; i <= dir_len; i++) {
    if (i < dir_len && path[i] != '/')
      continue;
    path[i] = '\0';
    if (mkdirat(ls->root_fd, path, 0755) == 0) {
      if (last_slash < 0) {
        e = fsync_retry(ls->root_fd);
      } else {
        path[last_slash] = '\0';
        e = fsync_dir(ls, path);
        path[last_slash] = '/';
      }
      if (e != 0)
        return tarn_error_sys(err, TARN_EFSYNC, e,
                              "put '%s': fsync of the parent of new directory '%s'", key, path);
    } else if (errno != EEXIST) {
      e = errno;
      if (e == ENOTDIR)
        return tarn_error_set(err, TARN_EEXIST,
                              "put '%s': an ancestor of directory '%s' is an object; the local "
                              "store cannot hold both 'x' and 'x/...'",
                              key, path);
      return tarn_error_sys(err, tarn_code_from_errno(e), e,
                            "put '%s': creating directory '%s' in '%s'", key, path, ls->root);
    }
    if (i < dir_len)
      path[i] = '/';
    last_slash = (long)i;
  }
  return 0;
}

/* Opens the directory that will hold `key` (creating it if missing) into *dir_fd. */
static int open_key_dir(local_store *ls, const char *key, size_t dir_len, int *dir_fd,
                        tarn_error *err) {
  char path[TARN_STORE_KEY_MAX + 1];
  int rc, e;
  if (dir_len == 0) {
    *dir_fd = openat(ls->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*dir_fd < 0)
      return tarn_error_sys(err, tarn_code_from_errno(errno), errno, "put '%s': opening root '%s'",
                            key, ls->root);
    return 0;
  }
  memcpy(path, key, dir_len);
  path[dir_len] = '\0';
  *dir_fd = openat(ls->root_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (*dir_fd >= 0)
    return 0;
  if (errno == ENOENT) {
    rc = mkdirs(ls, key, dir_len, err);
    if (rc != 0)
      return rc;
    *dir_fd = openat(ls->root_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*dir_fd >= 0)
      return 0;
  }
  e = errno;
  if (e == ENOTDIR)
    return tarn_error_set(err, TARN_EEXIST,
                          "put '%s': an ancestor '%s' is an object; the local store cannot "
                          "hold both 'x' and 'x/...'",
                          key, path);
  return tarn_error_sys(err, e == ENOENT ? TARN_ENOTFOUND : tarn_code_from_errno(e), e,
                        "put '%s': opening directory '%s' in '%s'", key, path, ls->root);
}

/* ---- writer ---- */

/* Closes and removes the temp file (best effort) and frees the writer. */
static void writer_discard(local_writer *lw) {
  if (lw->fd >= 0)
    close(lw->fd);
  if (lw->dir_fd >= 0) {
    if (lw->tmp != NULL)
      unlinkat(lw->dir_fd, lw->tmp, 0);
    close(lw->dir_fd);
  }
  tarn_free(lw->tmp);
  tarn_free(lw->key);
  tarn_free(lw);
}

/*
 * Opens "<dir>/.tarn-tmp-<name>.<16 hex>" for a put of `key`. On success *out owns the
 * writer until commit or abort. With TARN_STORE_IF_ABSENT an existing key fails early
 * with TARN_EEXIST (commit checks again, atomically).
 */
static int local_writer_open(tarn_store *st, const char *key, unsigned flags,
                             tarn_store_writer **out, tarn_error *err) {
  local_store *ls = (local_store *)st;
  local_writer *lw = NULL;
  uint8_t rnd[TMP_RAND_BYTES];
  char hex[2 * TMP_RAND_BYTES + 1];
  struct stat sb;
  const char *slash;
  size_t dir_len, name_len, tmp_len;
  long bad;
  int rc, attempt, e;

  *out = NULL;
  bad = long_segment(key);
  if (bad >= 0)
    return tarn_error_set(err, TARN_EBADKEY,
                          "put '%s': segment at byte offset %ld is longer than the local "
                          "store's %d-byte name limit",
                          key, bad, NAME_MAX);
  if ((flags & TARN_STORE_IF_ABSENT) && fstatat(ls->root_fd, key, &sb, AT_SYMLINK_NOFOLLOW) == 0)
    return tarn_error_set(err, TARN_EEXIST, "put-if-absent '%s': key already exists", key);

  lw = tarn_calloc(1, sizeof(*lw));
  if (lw == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "put '%s': cannot allocate writer", key);
  lw->base.ops = &local_writer_ops;
  lw->ls = ls;
  lw->fd = -1;
  lw->dir_fd = -1;
  lw->flags = flags;
  lw->key = tarn_strdup(key);
  if (lw->key == NULL) {
    rc = tarn_error_set(err, TARN_ENOMEM, "put '%s': cannot copy key", key);
    goto out;
  }
  slash = strrchr(lw->key, '/');
  dir_len = slash ? (size_t)(slash - lw->key) : 0;
  lw->name = slash ? slash + 1 : lw->key;

  rc = tarn_random_bytes(rnd, sizeof(rnd), err);
  if (rc != 0) {
    tarn_error_prefix(err, "put '%s': temp file name", key);
    goto out;
  }
  tarn_hex(rnd, sizeof(rnd), hex);
  name_len = strlen(lw->name);
  if (name_len > TMP_NAME_KEEP)
    name_len = TMP_NAME_KEEP;
  tmp_len = TMP_MARK_LEN + name_len + 1 + sizeof(hex);
  lw->tmp = tarn_malloc(tmp_len);
  if (lw->tmp == NULL) {
    rc = tarn_error_set(err, TARN_ENOMEM, "put '%s': cannot allocate temp name", key);
    goto out;
  }
  snprintf(lw->tmp, tmp_len, TMP_MARK "%.*s.%s", (int)name_len, lw->name, hex);

  /* A concurrent delete may rmdir our (still empty) directory between mkdir and the
   * temp file's creation; the temp file then fails with ENOENT and we try once more. */
  for (attempt = 0;; attempt++) {
    rc = open_key_dir(ls, key, dir_len, &lw->dir_fd, err);
    if (rc == TARN_ENOTFOUND && attempt == 0)
      continue;
    if (rc != 0)
      goto out;
    step("open");
    lw->fd = openat(lw->dir_fd, lw->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (lw->fd >= 0)
      break;
    e = errno;
    close(lw->dir_fd);
    lw->dir_fd = -1;
    if (e == ENOENT && attempt == 0)
      continue;
    rc = tarn_error_sys(err, tarn_code_from_errno(e), e,
                        "put '%s': creating temp file '%s' in '%s'", key, lw->tmp, ls->root);
    goto out;
  }
  *out = &lw->base;
  lw = NULL;
  rc = 0;
out:
  if (lw != NULL)
    writer_discard(lw);
  return rc;
}

/* Writes all n bytes (looping on partial writes and EINTR). A failure is sticky. */
static int local_writer_write(tarn_store_writer *w, const void *p, size_t n, tarn_error *err) {
  local_writer *lw = (local_writer *)w;
  const char *c = p;
  ssize_t r;
  int e;
  if (lw->failed)
    return tarn_error_set(err, lw->failed, "put '%s': writer failed earlier; abort it", lw->key);
  step("write");
  while (n > 0) {
    r = write(lw->fd, c, n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0) {
      e = r < 0 ? errno : EIO; /* 0 for n > 0 would loop forever */
      lw->failed = tarn_code_from_errno(e);
      return tarn_error_sys(err, lw->failed, e, "put '%s': writing temp file '%s' at offset %llu",
                            lw->key, lw->tmp,
                            (unsigned long long)(w->written + (uint64_t)(c - (const char *)p)));
    }
    c += r;
    n -= (size_t)r;
  }
  return 0;
}

/*
 * fsync the temp file, rename it into place (RENAME_NOREPLACE, or link+unlink where the
 * filesystem lacks it, for put-if-absent) and fsync the directory. Frees the writer in
 * every case. Until the rename, a failure removes the temp file and nothing is visible.
 * A failed directory fsync after the rename is TARN_EFSYNC with the object visible but
 * of unknown durability: as with any fsync failure, the caller must treat it as fatal.
 */
static int local_writer_commit(tarn_store_writer *w, tarn_error *err) {
  local_writer *lw = (local_writer *)w;
  int rc = 0, e, r;

  if (lw->failed) {
    rc = tarn_error_set(err, lw->failed, "put '%s': commit after a failed write; aborted", lw->key);
    goto out;
  }
  step("fsync");
  e = fsync_retry(lw->fd);
  if (e != 0) {
    rc = tarn_error_sys(err, TARN_EFSYNC, e, "put '%s': fsync of temp file '%s'", lw->key, lw->tmp);
    goto out;
  }
  r = close(lw->fd);
  lw->fd = -1;
  if (r != 0 && errno != EINTR) {
    e = errno;
    rc = tarn_error_sys(err, tarn_code_from_errno(e), e, "put '%s': closing temp file '%s'",
                        lw->key, lw->tmp);
    goto out;
  }

  step("rename");
  if (lw->flags & TARN_STORE_IF_ABSENT) {
    r = renameat2(lw->dir_fd, lw->tmp, lw->dir_fd, lw->name, RENAME_NOREPLACE);
    if (r != 0 && (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
      /* No RENAME_NOREPLACE here: link(2) also refuses to replace, atomically. */
      r = linkat(lw->dir_fd, lw->tmp, lw->dir_fd, lw->name, 0);
      if (r == 0)
        unlinkat(lw->dir_fd, lw->tmp, 0); /* a leftover is swept later */
    }
  } else {
    r = renameat(lw->dir_fd, lw->tmp, lw->dir_fd, lw->name);
  }
  if (r != 0) {
    e = errno;
    if (e == EEXIST || ((lw->flags & TARN_STORE_IF_ABSENT) && e == ENOTEMPTY))
      rc = tarn_error_set(err, TARN_EEXIST, "put-if-absent '%s': key already exists", lw->key);
    else if (e == EISDIR || e == ENOTEMPTY)
      rc = tarn_error_set(err, TARN_EEXIST,
                          "put '%s': other keys start with '%s/'; the local store cannot hold "
                          "both 'x' and 'x/...'",
                          lw->key, lw->key);
    else
      rc = tarn_error_sys(err, tarn_code_from_errno(e), e,
                          "put '%s': renaming temp file '%s' into place", lw->key, lw->tmp);
    goto out;
  }
  tarn_free(lw->tmp); /* renamed: nothing to remove any more */
  lw->tmp = NULL;

  step("dirsync");
  e = fsync_retry(lw->dir_fd);
  if (e != 0)
    rc = tarn_error_sys(err, TARN_EFSYNC, e,
                        "put '%s': fsync of its directory after rename; the object is "
                        "visible but may not be durable",
                        lw->key);
out:
  writer_discard(lw);
  return rc;
}

/* Removes the temp file and frees the writer; the key keeps its previous state. */
static void local_writer_abort(tarn_store_writer *w) { writer_discard((local_writer *)w); }

/* ---- reads ---- */

/* Opens the object under key for reading; TARN_ENOTFOUND when there is none (also when
 * the name is a directory of other keys). */
static int open_object(local_store *ls, const char *key, int *fd_out, struct stat *sb,
                       tarn_error *err) {
  int fd, e;
  *fd_out = -1;
  /* O_NONBLOCK: a FIFO someone left under the root must not hang a reader. */
  fd = openat(ls->root_fd, key, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    e = errno;
    if (errno_is_missing(e))
      return tarn_error_set(err, TARN_ENOTFOUND, "key '%s' not found", key);
    return tarn_error_sys(err, tarn_code_from_errno(e), e, "opening key '%s' in '%s'", key,
                          ls->root);
  }
  if (fstat(fd, sb) != 0) {
    e = errno;
    close(fd);
    return tarn_error_sys(err, tarn_code_from_errno(e), e, "stat of key '%s'", key);
  }
  if (!S_ISREG(sb->st_mode)) {
    close(fd);
    return tarn_error_set(err, TARN_ENOTFOUND, "key '%s' not found (not a regular file)", key);
  }
  *fd_out = fd;
  return 0;
}

/* Appends n bytes at off of fd to out, checking out's cap before reading anything. On
 * failure out's content is unchanged. */
static int read_into(int fd, const char *key, uint64_t off, uint64_t n, tarn_buf *out,
                     tarn_error *err) {
  size_t got = 0;
  ssize_t r;
  int rc, e;
  if (out->len > out->max || n > (uint64_t)(out->max - out->len))
    return tarn_error_set(err, TARN_ETOOBIG,
                          "key '%s': %llu bytes do not fit the buffer's limit of %zu bytes "
                          "(%zu in use)",
                          key, (unsigned long long)n, out->max, out->len);
  rc = tarn_buf_reserve(out, (size_t)n, err);
  if (rc != 0) {
    tarn_error_prefix(err, "reading key '%s'", key);
    return rc;
  }
  while (got < (size_t)n) {
    r = pread(fd, out->data + out->len + got, (size_t)n - got, (off_t)(off + got));
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0) {
      e = r < 0 ? errno : EIO;
      out->data[out->len] = '\0';
      if (r == 0)
        return tarn_error_set(err, TARN_EIO, "key '%s': object shrank while reading at offset %llu",
                              key, (unsigned long long)(off + got));
      return tarn_error_sys(err, tarn_code_from_errno(e), e, "reading key '%s' at offset %llu", key,
                            (unsigned long long)(off + got));
    }
    got += (size_t)r;
  }
  out->len += got;
  out->data[out->len] = '\0';
  return 0;
}

/* Appends the whole object to out; TARN_ETOOBIG (nothing read) when it cannot fit. */
static int local_get(tarn_store *st, const char *key, tarn_buf *out, tarn_error *err) {
  local_store *ls = (local_store *)st;
  struct stat sb;
  int fd = -1, rc;
  rc = open_object(ls, key, &fd, &sb, err);
  if (rc != 0)
    return rc;
  rc = read_into(fd, key, 0, (uint64_t)sb.st_size, out, err);
  close(fd);
  return rc;
}

/* Appends min(len, size - off) bytes from off; off past the end is TARN_ERANGE, off ==
 * size an empty read. */
static int local_get_range(tarn_store *st, const char *key, uint64_t off, uint64_t len,
                           tarn_buf *out, tarn_error *err) {
  local_store *ls = (local_store *)st;
  struct stat sb;
  uint64_t size, n;
  int fd = -1, rc;
  rc = open_object(ls, key, &fd, &sb, err);
  if (rc != 0)
    return rc;
  size = (uint64_t)sb.st_size;
  if (off > size) {
    rc = tarn_error_set(err, TARN_ERANGE, "key '%s': offset %llu is past the end (size %llu)", key,
                        (unsigned long long)off, (unsigned long long)size);
    goto out;
  }
  n = size - off < len ? size - off : len;
  rc = read_into(fd, key, off, n, out, err);
out:
  close(fd);
  return rc;
}

/* A reader keeps the object's file open: a rename over the key or an unlink leaves the
 * open file as it was, so every read returns the version that was opened. */
typedef struct local_reader {
  tarn_store_reader base;
  int fd;
  char key[];
} local_reader;

static const tarn_store_reader_ops local_reader_ops;

static int local_reader_open(tarn_store *st, const char *key, tarn_store_reader **out,
                             tarn_error *err) {
  local_store *ls = (local_store *)st;
  struct stat sb;
  local_reader *lr;
  int fd = -1, rc;
  rc = open_object(ls, key, &fd, &sb, err);
  if (rc != 0)
    return rc;
  lr = tarn_malloc(sizeof(*lr) + strlen(key) + 1);
  if (lr == NULL) {
    close(fd);
    return tarn_error_set(err, TARN_ENOMEM, "out of memory reading key '%s'", key);
  }
  lr->base.ops = &local_reader_ops;
  lr->base.stat.size = (uint64_t)sb.st_size;
  lr->base.stat.mtime_us = stat_mtime_us(&sb);
  lr->fd = fd;
  memcpy(lr->key, key, strlen(key) + 1);
  *out = &lr->base;
  return 0;
}

static int local_reader_read(tarn_store_reader *r, uint64_t off, uint64_t len, tarn_buf *out,
                             tarn_error *err) {
  local_reader *lr = (local_reader *)r;
  uint64_t size = r->stat.size;
  if (off > size)
    return tarn_error_set(err, TARN_ERANGE, "key '%s': offset %llu is past the end (size %llu)",
                          lr->key, (unsigned long long)off, (unsigned long long)size);
  return read_into(lr->fd, lr->key, off, size - off < len ? size - off : len, out, err);
}

static void local_reader_close(tarn_store_reader *r) {
  local_reader *lr = (local_reader *)r;
  close(lr->fd);
  tarn_free(lr);
}

static const tarn_store_reader_ops local_reader_ops = {
    .read_at = local_reader_read,
    .close = local_reader_close,
};

/* Size and mtime of the object (following a symlink, as get does). */
static int local_head(tarn_store *st, const char *key, tarn_store_stat *out, tarn_error *err) {
  local_store *ls = (local_store *)st;
  struct stat sb;
  int e;
  if (fstatat(ls->root_fd, key, &sb, 0) != 0) {
    e = errno;
    if (errno_is_missing(e))
      return tarn_error_set(err, TARN_ENOTFOUND, "key '%s' not found", key);
    return tarn_error_sys(err, tarn_code_from_errno(e), e, "stat of key '%s' in '%s'", key,
                          ls->root);
  }
  if (!S_ISREG(sb.st_mode))
    return tarn_error_set(err, TARN_ENOTFOUND, "key '%s' not found (not a regular file)", key);
  out->size = (uint64_t)sb.st_size;
  out->mtime_us = stat_mtime_us(&sb);
  return 0;
}

/* ---- list ---- */

/*
 * Listing walks the directory tree depth first, visiting each directory's entries in
 * strcmp order of "name" for files and "name/" for directories. Every key below a
 * directory starts with "dir/", and no other entry's name can be a prefix of "dir/", so
 * this visit order is exactly the strcmp order of the keys: the walk can stop after
 * max_keys + 1 keys and can skip whole directories that sort before start_after.
 */
typedef struct walker {
  local_store *ls;
  const char *prefix;
  size_t prefix_len;
  const char *after; /* NULL: from the start */
  size_t want;       /* max_keys + 1, to learn whether the page is truncated */
  tarn_store_listing *out;
  char path[TARN_STORE_KEY_MAX + 2]; /* current directory with its '/', "" for the root */
  size_t path_len;
  tarn_error *err;
} walker;

typedef struct name_vec {
  char **names; /* directory names carry a trailing '/' */
  size_t count, cap;
} name_vec;

/* Frees the names and the array; v is left empty. */
static void name_vec_free(name_vec *v) {
  size_t i;
  for (i = 0; i < v->count; i++)
    tarn_free(v->names[i]);
  tarn_free(v->names);
  v->names = NULL;
  v->count = v->cap = 0;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Is w->path + name (+ '/' for a directory) worth keeping? Uses w->path as scratch. */
static int walk_wants(walker *w, const char *name, int is_dir) {
  size_t n = strlen(name), full_len = w->path_len + n + (size_t)is_dir;
  const char *full = w->path;
  int keep;
  /* A directory path must leave room for at least one more byte of key. */
  if (full_len > TARN_STORE_KEY_MAX - (size_t)is_dir)
    return 0;
  memcpy(w->path + w->path_len, name, n);
  if (is_dir)
    w->path[w->path_len + n] = '/';
  w->path[full_len] = '\0';
  if (is_dir) {
    size_t m = full_len < w->prefix_len ? full_len : w->prefix_len;
    keep = strncmp(full, w->prefix, m) == 0 &&
           (w->after == NULL || strncmp(full, w->after, full_len) >= 0);
  } else {
    keep = full_len >= w->prefix_len && memcmp(full, w->prefix, w->prefix_len) == 0 &&
           (w->after == NULL || strcmp(full, w->after) > 0) &&
           tarn_store_key_check(full, full_len, NULL) == 0; /* skip names no key can have */
  }
  w->path[w->path_len] = '\0';
  return keep;
}

/* Decides about one entry of open directory dfd: -1 skips it, 0 keeps it as a file, 1 as
 * a directory. */
typedef int (*entry_fn)(void *arg, int dfd, const struct dirent *de);

/*
 * Reads the entries of directory `path` below the root ("" for the root) that `keep`
 * keeps into v, directories as "name/". A missing directory is empty. `op` names the
 * caller in messages ("listing", "sweep"). On failure v holds what was read so far.
 */
static int read_dir(local_store *ls, const char *path, const char *op, entry_fn keep, void *arg,
                    name_vec *v, tarn_error *err) {
  DIR *d = NULL;
  struct dirent *de;
  int fd, e, rc = 0, kind;
  fd = openat(ls->root_fd, path[0] ? path : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    e = errno;
    if (e == ENOENT || e == ENOTDIR || e == ELOOP)
      return 0;
    return tarn_error_sys(err, tarn_code_from_errno(e), e, "%s: opening '%s' in '%s'", op, path,
                          ls->root);
  }
  d = fdopendir(fd);
  if (d == NULL) {
    e = errno;
    close(fd);
    return tarn_error_sys(err, tarn_code_from_errno(e), e, "%s: reading '%s'", op, path);
  }
  for (;;) {
    size_t n;
    char *name;
    errno = 0;
    de = readdir(d);
    if (de == NULL) {
      if (errno != 0) {
        e = errno;
        rc = tarn_error_sys(err, tarn_code_from_errno(e), e, "%s: reading '%s'", op, path);
      }
      break;
    }
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
        (kind = keep(arg, dirfd(d), de)) < 0)
      continue;
    if (TARN_GROW(v->names, v->cap, v->count + 1, 32) != 0) {
      rc = tarn_error_set(err, TARN_ENOMEM, "%s: out of memory reading '%s'", op, path);
      break;
    }
    n = strlen(de->d_name);
    name = tarn_malloc(n + 2);
    if (name == NULL) {
      rc = tarn_error_set(err, TARN_ENOMEM, "%s: out of memory reading '%s'", op, path);
      break;
    }
    memcpy(name, de->d_name, n);
    name[n] = kind ? '/' : '\0';
    name[n + 1] = '\0';
    v->names[v->count++] = name;
  }
  closedir(d);
  return rc;
}

/* The listing's entries: objects (regular files, symlinks to them) and directories that
 * can hold wanted keys; never temp files. */
static int walk_entry(void *arg, int dfd, const struct dirent *de) {
  walker *w = arg;
  struct stat sb;
  int is_dir;
  if (is_tmp_name(de->d_name))
    return -1;
  if (de->d_type == DT_DIR) {
    is_dir = 1;
  } else if (de->d_type == DT_REG) {
    is_dir = 0;
  } else if (de->d_type == DT_LNK || de->d_type == DT_UNKNOWN) {
    /* Symlinks count as objects when they lead to a file; linked directories are
     * not descended (no loops, no walking out of the root). */
    if (fstatat(dfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
      return -1;
    if (S_ISLNK(sb.st_mode) && (fstatat(dfd, de->d_name, &sb, 0) != 0 || !S_ISREG(sb.st_mode)))
      return -1;
    if (S_ISDIR(sb.st_mode))
      is_dir = 1;
    else if (S_ISREG(sb.st_mode))
      is_dir = 0;
    else
      return -1;
  } else {
    return -1;
  }
  return walk_wants(w, de->d_name, is_dir) ? is_dir : -1;
}

/* Reads the wanted entries of directory w->path into v. A missing directory is empty. */
static int walk_read(walker *w, name_vec *v) {
  return read_dir(w->ls, w->path, "listing", walk_entry, w, v, w->err);
}

/* Visits directory w->path in key order, pushing keys until w->want are collected. Holds
 * no descriptor across recursion, so depth is bounded by the key length only. */
static int walk_dir(walker *w) {
  name_vec v = {NULL, 0, 0};
  struct stat sb;
  size_t i, saved = w->path_len, n;
  int rc;
  rc = walk_read(w, &v);
  if (rc != 0)
    goto out;
  if (v.count > 1)
    qsort(v.names, v.count, sizeof(*v.names), cmp_names);
  for (i = 0; i < v.count && w->out->count < w->want; i++) {
    n = strlen(v.names[i]);
    memcpy(w->path + saved, v.names[i], n + 1);
    w->path_len = saved + n;
    if (v.names[i][n - 1] == '/') {
      rc = walk_dir(w);
      if (rc != 0)
        goto out;
      continue;
    }
    if (fstatat(w->ls->root_fd, w->path, &sb, 0) != 0 || !S_ISREG(sb.st_mode))
      continue; /* deleted or replaced while we walked */
    rc = tarn_store_list_push(w->out, w->path, (uint64_t)sb.st_size, stat_mtime_us(&sb), w->err);
    if (rc != 0)
      goto out;
  }
out:
  w->path_len = saved;
  w->path[saved] = '\0';
  name_vec_free(&v);
  return rc;
}

/* Fills out (fresh, from the front function) with up to max_keys keys in strcmp order;
 * on failure the caller frees whatever out holds. */
static int local_list(tarn_store *st, const char *prefix, const char *start_after, size_t max_keys,
                      tarn_store_listing *out, tarn_error *err) {
  local_store *ls = (local_store *)st;
  walker *w = NULL;
  const char *slash = strrchr(prefix, '/');
  int rc;
  w = tarn_calloc(1, sizeof(*w));
  if (w == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "listing '%s': out of memory", prefix);
  w->ls = ls;
  w->prefix = prefix;
  w->prefix_len = strlen(prefix);
  w->after = start_after;
  w->want = max_keys < SIZE_MAX ? max_keys + 1 : max_keys;
  w->out = out;
  w->err = err;
  /* Start in the deepest directory the prefix names in full. */
  w->path_len = slash ? (size_t)(slash - prefix) + 1 : 0;
  memcpy(w->path, prefix, w->path_len);
  w->path[w->path_len] = '\0';
  if (w->after != NULL && w->path_len > 0 && strncmp(w->path, w->after, w->path_len) < 0) {
    rc = 0; /* every key under the start directory sorts before start_after */
    goto out;
  }
  rc = walk_dir(w);
  if (rc != 0)
    goto out;
  if (out->count > max_keys) {
    out->count--;
    tarn_free(out->entries[out->count].key);
    out->truncated = 1;
    out->next_after = tarn_strdup(out->entries[out->count - 1].key);
    if (out->next_after == NULL)
      rc = tarn_error_set(err, TARN_ENOMEM, "listing '%s': out of memory", prefix);
  }
out:
  tarn_free(w);
  return rc;
}

/* ---- delete ---- */

/* Unlinks the object, then removes parent directories it left empty (not the root) and
 * fsyncs the deepest directory that remains. */
static int local_del(tarn_store *st, const char *key, tarn_error *err) {
  local_store *ls = (local_store *)st;
  char dir[TARN_STORE_KEY_MAX + 1];
  char *slash;
  struct stat sb;
  int e;
  /* unlink(2) of a directory is EISDIR on Linux but EPERM elsewhere: check first. */
  if (fstatat(ls->root_fd, key, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(sb.st_mode))
    return tarn_error_set(err, TARN_ENOTFOUND, "delete '%s': key not found", key);
  if (unlinkat(ls->root_fd, key, 0) != 0) {
    e = errno;
    if (errno_is_missing(e))
      return tarn_error_set(err, TARN_ENOTFOUND, "delete '%s': key not found", key);
    return tarn_error_sys(err, tarn_code_from_errno(e), e, "delete '%s' in '%s'", key, ls->root);
  }
  memcpy(dir, key, strlen(key) + 1); /* validated: at most TARN_STORE_KEY_MAX bytes */
  slash = strrchr(dir, '/');
  while (slash != NULL) {
    *slash = '\0';
    if (unlinkat(ls->root_fd, dir, AT_REMOVEDIR) != 0)
      break; /* not empty (or busy): it stays, and is the one to fsync */
    slash = strrchr(dir, '/');
  }
  e = fsync_dir(ls, slash != NULL ? dir : "");
  if (e != 0 && e != ENOENT) /* ENOENT: a concurrent delete removed it, and synced */
    return tarn_error_sys(err, TARN_EFSYNC, e,
                          "delete '%s': fsync of its directory; the deletion may not be "
                          "durable",
                          key);
  return 0;
}

/* ---- lifecycle ---- */

/* Closes the root; objects stay on disk. Writers must be finished first. */
static void local_destroy(tarn_store *st) {
  local_store *ls = (local_store *)st;
  if (ls->root_fd >= 0)
    close(ls->root_fd);
  tarn_free(ls->root);
  tarn_free(ls);
}

/* mkdir -p of an ordinary path, fsyncing the parent of each directory it creates. */
static int mkdir_p(const char *root, tarn_error *err) {
  char *path = NULL, *p;
  int rc = 0, e, fd;
  path = tarn_strdup(root);
  if (path == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "store root '%s': out of memory", root);
  for (p = path + 1;; p++) {
    if (*p != '/' && *p != '\0')
      continue;
    if (p[-1] != '/') { /* skip "//" */
      char c = *p;
      *p = '\0';
      if (mkdir(path, 0755) == 0) {
        char *ps = strrchr(path, '/');
        const char *parent = ps == NULL ? "." : ps == path ? "/" : path;
        if (ps != NULL && ps != path)
          *ps = '\0';
        fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        e = fd < 0 ? errno : fsync_retry(fd);
        if (fd >= 0)
          close(fd);
        if (ps != NULL && ps != path)
          *ps = '/';
        if (e != 0) {
          rc = tarn_error_sys(err, TARN_EFSYNC, e, "store root '%s': fsync of the parent of '%s'",
                              root, path);
          goto out;
        }
      } else if (errno != EEXIST) {
        e = errno;
        rc = tarn_error_sys(err, tarn_code_from_errno(e), e, "store root '%s': creating '%s'", root,
                            path);
        goto out;
      }
      *p = c;
    }
    if (*p == '\0')
      break;
  }
out:
  tarn_free(path);
  return rc;
}

int tarn_store_local_open(const char *root, tarn_store **out, tarn_error *err) {
  local_store *ls = NULL;
  int rc, e;
  *out = NULL;
  if (root == NULL || root[0] == '\0')
    return tarn_error_set(err, TARN_EINVAL, "store root: empty path");
  rc = mkdir_p(root, err);
  if (rc != 0)
    return rc;
  ls = tarn_calloc(1, sizeof(*ls));
  if (ls == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "store root '%s': out of memory", root);
  ls->base.ops = &local_ops;
  ls->root_fd = -1;
  ls->root = tarn_strdup(root);
  if (ls->root == NULL) {
    rc = tarn_error_set(err, TARN_ENOMEM, "store root '%s': out of memory", root);
    goto out;
  }
  ls->root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (ls->root_fd < 0) {
    e = errno;
    rc = tarn_error_sys(err, e == ENOTDIR ? TARN_EINVAL : tarn_code_from_errno(e), e,
                        "store root '%s' is not a usable directory", root);
    goto out;
  }
  if (faccessat(ls->root_fd, ".", W_OK | X_OK, AT_EACCESS) != 0) {
    e = errno;
    rc = tarn_error_sys(err, TARN_EPERM, e, "store root '%s' is not writable", root);
    goto out;
  }
  *out = &ls->base;
  ls = NULL;
  rc = 0;
out:
  if (ls != NULL)
    local_destroy(&ls->base);
  return rc;
}

int tarn_store_local_root(tarn_store *st, char *buf, size_t n) {
  char real[PATH_MAX];
  if (st == NULL || st->ops != &local_ops || realpath(((local_store *)st)->root, real) == NULL ||
      snprintf(buf, n, "%s", real) >= (int)n)
    return TARN_EINVAL;
  return 0;
}

/* ---- sweep ---- */

/*
 * The walk of list, for temp files: from the deepest directory the prefix names in full,
 * each directory's entries in strcmp order of "name" and "name/" (so paths come in byte
 * order), directories only where the prefix allows, symlinks never followed.
 */
typedef struct sweeper {
  local_store *ls;
  const char *prefix;
  size_t prefix_len;
  int64_t before_ms;
  int dry_run;
  tarn_store_temp_fn each;
  void *arg;
  size_t count;
  char path[TARN_STORE_KEY_MAX + NAME_MAX + 2]; /* current directory with its '/', or "" */
  size_t path_len;
  tarn_error *err;
} sweeper;

/* The sweep's entries: temp files (checked to be regular files when reached) and real
 * directories that can hold paths with the prefix. */
static int sweep_entry(void *arg, int dfd, const struct dirent *de) {
  sweeper *s = arg;
  struct stat sb;
  size_t n = strlen(de->d_name), full, m;
  int is_dir, keep;
  if (is_tmp_name(de->d_name))
    is_dir = 0;
  else if (de->d_type == DT_DIR)
    is_dir = 1;
  else if (de->d_type == DT_UNKNOWN)
    is_dir = fstatat(dfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(sb.st_mode);
  else
    return -1;
  if (!is_dir && !is_tmp_name(de->d_name))
    return -1;
  if (s->path_len + n + 2 > sizeof(s->path))
    return -1; /* deeper than any key can be */
  /* s->path as scratch: the entry's path, '/' after a directory, against the prefix */
  full = s->path_len + n + (size_t)is_dir;
  memcpy(s->path + s->path_len, de->d_name, n);
  s->path[s->path_len + n] = '/';
  m = full < s->prefix_len ? full : s->prefix_len;
  keep = strncmp(s->path, s->prefix, m) == 0 && (is_dir || full >= s->prefix_len);
  s->path[s->path_len] = '\0';
  return keep ? is_dir : -1;
}

/* Reads directory s->path's subdirectories ("name/") and temp files ("name") into v. */
static int sweep_read(sweeper *s, name_vec *v) {
  return read_dir(s->ls, s->path, "sweep", sweep_entry, s, v, s->err);
}

/* One temp file at s->path: reported and (unless a dry run) removed when old enough. */
static int sweep_file(sweeper *s) {
  struct stat sb;
  int e;
  if (fstatat(s->ls->root_fd, s->path, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode))
    return 0; /* renamed into place (or removed) meanwhile, or not a file */
  if (stat_mtime_us(&sb) / 1000 >= s->before_ms)
    return 0; /* inside the grace period: maybe a live writer's */
  if (!s->dry_run && unlinkat(s->ls->root_fd, s->path, 0) != 0) {
    e = errno;
    if (e == ENOENT)
      return 0;
    return tarn_error_sys(s->err, tarn_code_from_errno(e), e, "sweep: removing '%s' in '%s'",
                          s->path, s->ls->root);
  }
  if (s->each != NULL)
    s->each(s->path, (uint64_t)sb.st_size, s->arg);
  s->count++;
  return 0;
}

/* Sweeps directory s->path in path order. Holds no descriptor across recursion. */
static int sweep_dir(sweeper *s) {
  name_vec v = {NULL, 0, 0};
  size_t i, saved = s->path_len, n;
  int rc = sweep_read(s, &v);
  if (rc == 0 && v.count > 1)
    qsort(v.names, v.count, sizeof(*v.names), cmp_names);
  for (i = 0; rc == 0 && i < v.count; i++) {
    n = strlen(v.names[i]);
    memcpy(s->path + saved, v.names[i], n + 1);
    s->path_len = saved + n;
    rc = v.names[i][n - 1] == '/' ? sweep_dir(s) : sweep_file(s);
  }
  s->path_len = saved;
  s->path[saved] = '\0';
  name_vec_free(&v);
  return rc;
}

static int local_sweep(tarn_store *st, const char *prefix, int64_t before_ms, int dry_run,
                       tarn_store_temp_fn each, void *arg, size_t *count, tarn_error *err) {
  sweeper *s = tarn_calloc(1, sizeof(*s));
  const char *slash = strrchr(prefix, '/');
  int rc;
  if (s == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "sweep of '%s': out of memory", prefix);
  s->ls = (local_store *)st;
  s->prefix = prefix;
  s->prefix_len = strlen(prefix);
  s->before_ms = before_ms;
  s->dry_run = dry_run;
  s->each = each;
  s->arg = arg;
  s->err = err;
  if (slash != NULL) { /* start in the deepest directory the prefix names in full */
    s->path_len = (size_t)(slash - prefix) + 1;
    memcpy(s->path, prefix, s->path_len);
  }
  s->path[s->path_len] = '\0';
  rc = sweep_dir(s);
  if (count != NULL)
    *count = s->count;
  tarn_free(s);
  return rc;
}

int tarn_store_local_sweep(tarn_store *st, int64_t older_than_ms, size_t *removed,
                           tarn_error *err) {
  int64_t now_ms = tarn_clock_wall_us() / 1000;
  if (removed != NULL)
    *removed = 0;
  if (st == NULL || st->ops != &local_ops)
    return tarn_error_set(err, TARN_EINVAL, "sweep: not a local store");
  return local_sweep(st, "", older_than_ms > 0 ? now_ms - older_than_ms : INT64_MAX, 0, NULL, NULL,
                     removed, err);
}

static const tarn_store_ops local_ops = {
    .name = "local",
    .writer_open = local_writer_open,
    .get = local_get,
    .get_range = local_get_range,
    .head = local_head,
    .list = local_list,
    .del = local_del,
    .destroy = local_destroy,
    .reader_open = local_reader_open,
    .sweep = local_sweep,
};

static const tarn_store_writer_ops local_writer_ops = {
    .write = local_writer_write,
    .commit = local_writer_commit,
    .abort = local_writer_abort,
};
