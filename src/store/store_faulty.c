/* store_faulty.c - a store wrapper that fails chosen operations on purpose, for tests. */
#include <pthread.h>
#include <string.h>

#include "base/alloc.h"
#include "store/store.h"

/*
 * Rule matching: a call matches a rule when the operation is the rule's and the key (the
 * list prefix for TARN_FAULT_LIST) starts with the rule's key_prefix. Every rule counts
 * its own matching calls. A rule with nth > 0 fires on exactly its nth matching call; a
 * rule with nth == 0 fires on every matching call; either way at most `times` times when
 * times > 0. When several rules would fire, the first added wins and the others do not
 * use up their `times`.
 */
typedef struct fault_rule {
  tarn_store_fault_op op;
  tarn_store_fault_kind kind;
  int code;
  char *prefix; /* NULL: any key */
  unsigned nth, times;
  unsigned matched, fired;
} fault_rule;

typedef struct faulty_store {
  tarn_store base;
  tarn_store *inner;  /* owned */
  pthread_mutex_t mu; /* guards rules and fired */
  fault_rule *rules;
  size_t count, cap;
  unsigned fired;
} faulty_store;

typedef struct faulty_writer {
  tarn_store_writer base;
  faulty_store *fs;
  tarn_store_writer *inner; /* owned until commit or abort */
  char *key;
  int failed; /* sticky code after an injected write failure */
} faulty_writer;

static const tarn_store_ops faulty_ops;
static const tarn_store_writer_ops faulty_writer_ops;

/* Finds the rule that fires for this call, counting the call against every matching rule.
 * Returns a copy of it in *hit (prefix not copied) and 1, or 0 when none fires. */
static int fault_check(faulty_store *fs, tarn_store_fault_op op, const char *key, fault_rule *hit) {
  size_t i;
  int found = 0;
  pthread_mutex_lock(&fs->mu);
  for (i = 0; i < fs->count; i++) {
    fault_rule *r = &fs->rules[i];
    if (r->op != op)
      continue;
    if (r->prefix != NULL && strncmp(key, r->prefix, strlen(r->prefix)) != 0)
      continue;
    r->matched++;
    if (found)
      continue;
    if (r->nth != 0 && r->matched != r->nth)
      continue;
    if (r->times != 0 && r->fired >= r->times)
      continue;
    r->fired++;
    fs->fired++;
    *hit = *r;
    hit->prefix = NULL;
    found = 1;
  }
  pthread_mutex_unlock(&fs->mu);
  return found;
}

/* Fills err for an injected failure of `what` on key; returns the rule's code, or dflt. */
static int fault_fail(const fault_rule *r, int dflt, const char *what, const char *key,
                      tarn_error *err) {
  int code = r->code != 0 ? r->code : dflt;
  return tarn_error_set(err, code, "injected fault: %s '%s' failed (%s)", what, key,
                        tarn_err_name(code));
}

/* ---- writer ---- */

/* Frees the wrapper only; the inner writer must already be committed or aborted. */
static void faulty_writer_free(faulty_writer *fw) {
  tarn_free(fw->key);
  tarn_free(fw);
}

/* An OPEN fault fails before the inner store sees the call. On success *out owns the
 * inner writer too. */
static int faulty_writer_open(tarn_store *st, const char *key, unsigned flags,
                              tarn_store_writer **out, tarn_error *err) {
  faulty_store *fs = (faulty_store *)st;
  faulty_writer *fw = NULL;
  fault_rule hit;
  int rc;
  *out = NULL;
  if (fault_check(fs, TARN_FAULT_OPEN, key, &hit))
    return fault_fail(&hit, TARN_EIO, "open of", key, err);
  fw = tarn_calloc(1, sizeof(*fw));
  if (fw == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "put '%s': cannot allocate writer", key);
  fw->base.ops = &faulty_writer_ops;
  fw->fs = fs;
  fw->key = tarn_strdup(key);
  if (fw->key == NULL) {
    rc = tarn_error_set(err, TARN_ENOMEM, "put '%s': cannot copy key", key);
    goto out;
  }
  rc = fs->inner->ops->writer_open(fs->inner, key, flags, &fw->inner, err);
  if (rc != 0)
    goto out;
  *out = &fw->base;
  fw = NULL;
out:
  if (fw != NULL)
    faulty_writer_free(fw);
  return rc;
}

/* A WRITE fault is sticky: the writer then refuses further writes and its commit. */
static int faulty_writer_write(tarn_store_writer *w, const void *p, size_t n, tarn_error *err) {
  faulty_writer *fw = (faulty_writer *)w;
  fault_rule hit;
  int rc;
  if (fw->failed)
    return tarn_error_set(err, fw->failed, "put '%s': writer failed earlier; abort it", fw->key);
  if (!fault_check(fw->fs, TARN_FAULT_WRITE, fw->key, &hit))
    return tarn_store_writer_write(fw->inner, p, n, err);
  if (hit.kind == TARN_FAULT_SHORT) {
    /* A torn write: the first half reaches the backend, then the failure. */
    rc = tarn_store_writer_write(fw->inner, p, n / 2, err);
    fw->failed = rc != 0 ? rc : (hit.code != 0 ? hit.code : TARN_ESHORTWRITE);
    if (rc != 0)
      return rc;
    return tarn_error_set(err, fw->failed,
                          "injected fault: short write to '%s': %zu of %zu bytes at offset "
                          "%llu (%s)",
                          fw->key, n / 2, n, (unsigned long long)w->written,
                          tarn_err_name(fw->failed));
  }
  fw->failed = hit.code != 0 ? hit.code : TARN_EIO;
  return fault_fail(&hit, TARN_EIO, "write to", fw->key, err);
}

/* Frees the writer in every case, like every backend's commit. */
static int faulty_writer_commit(tarn_store_writer *w, tarn_error *err) {
  faulty_writer *fw = (faulty_writer *)w;
  fault_rule hit;
  int rc;
  if (fw->failed) {
    /* Never publish what a failed write left half done. */
    tarn_store_writer_abort(fw->inner);
    rc = tarn_error_set(err, fw->failed, "put '%s': commit after a failed write; aborted", fw->key);
  } else if (fault_check(fw->fs, TARN_FAULT_COMMIT, fw->key, &hit)) {
    tarn_store_writer_abort(fw->inner);
    if (hit.kind == TARN_FAULT_FSYNC)
      rc = fault_fail(&hit, TARN_EFSYNC, "fsync of", fw->key, err);
    else
      rc = fault_fail(&hit, TARN_EIO, "commit of", fw->key, err);
  } else {
    rc = tarn_store_writer_commit(fw->inner, err);
  }
  faulty_writer_free(fw);
  return rc;
}

static void faulty_writer_abort(tarn_store_writer *w) {
  faulty_writer *fw = (faulty_writer *)w;
  tarn_store_writer_abort(fw->inner);
  faulty_writer_free(fw);
}

/* ---- store operations ---- */

static int faulty_get(tarn_store *st, const char *key, tarn_buf *out, tarn_error *err) {
  faulty_store *fs = (faulty_store *)st;
  fault_rule hit;
  if (fault_check(fs, TARN_FAULT_GET, key, &hit))
    return fault_fail(&hit, TARN_EIO, "get of", key, err);
  return fs->inner->ops->get(fs->inner, key, out, err);
}

static int faulty_get_range(tarn_store *st, const char *key, uint64_t off, uint64_t len,
                            tarn_buf *out, tarn_error *err) {
  faulty_store *fs = (faulty_store *)st;
  fault_rule hit;
  if (fault_check(fs, TARN_FAULT_GET, key, &hit))
    return fault_fail(&hit, TARN_EIO, "ranged get of", key, err);
  return fs->inner->ops->get_range(fs->inner, key, off, len, out, err);
}

/* A reader over the inner store's reader; GET faults fire at open and at every read. */
typedef struct faulty_reader {
  tarn_store_reader base;
  faulty_store *fs;
  tarn_store_reader *inner;
  char key[];
} faulty_reader;

static const tarn_store_reader_ops faulty_reader_ops;

static int faulty_reader_open(tarn_store *st, const char *key, tarn_store_reader **out,
                              tarn_error *err) {
  faulty_store *fs = (faulty_store *)st;
  faulty_reader *fr;
  fault_rule hit;
  int rc;
  if (fault_check(fs, TARN_FAULT_GET, key, &hit))
    return fault_fail(&hit, TARN_EIO, "get of", key, err);
  fr = tarn_calloc(1, sizeof(*fr) + strlen(key) + 1);
  if (fr == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  rc = fs->inner->ops->reader_open(fs->inner, key, &fr->inner, err);
  if (rc != 0) {
    tarn_free(fr);
    return rc;
  }
  fr->base.ops = &faulty_reader_ops;
  fr->base.stat = fr->inner->stat;
  fr->fs = fs;
  memcpy(fr->key, key, strlen(key) + 1);
  *out = &fr->base;
  return 0;
}

static int faulty_reader_read(tarn_store_reader *r, uint64_t off, uint64_t len, tarn_buf *out,
                              tarn_error *err) {
  faulty_reader *fr = (faulty_reader *)r;
  fault_rule hit;
  if (fault_check(fr->fs, TARN_FAULT_GET, fr->key, &hit))
    return fault_fail(&hit, TARN_EIO, "ranged get of", fr->key, err);
  return fr->inner->ops->read_at(fr->inner, off, len, out, err);
}

static void faulty_reader_close(tarn_store_reader *r) {
  faulty_reader *fr = (faulty_reader *)r;
  fr->inner->ops->close(fr->inner);
  tarn_free(fr);
}

static const tarn_store_reader_ops faulty_reader_ops = {
    .read_at = faulty_reader_read,
    .close = faulty_reader_close,
};

static int faulty_head(tarn_store *st, const char *key, tarn_store_stat *out, tarn_error *err) {
  faulty_store *fs = (faulty_store *)st;
  fault_rule hit;
  if (fault_check(fs, TARN_FAULT_HEAD, key, &hit))
    return fault_fail(&hit, TARN_EIO, "head of", key, err);
  return fs->inner->ops->head(fs->inner, key, out, err);
}

static int faulty_list(tarn_store *st, const char *prefix, const char *start_after, size_t max_keys,
                       tarn_store_listing *out, tarn_error *err) {
  faulty_store *fs = (faulty_store *)st;
  fault_rule hit;
  if (fault_check(fs, TARN_FAULT_LIST, prefix, &hit))
    return fault_fail(&hit, TARN_EIO, "list of prefix", prefix, err);
  return fs->inner->ops->list(fs->inner, prefix, start_after, max_keys, out, err);
}

/* Temp files are the inner store's: no fault rules apply. */
static int faulty_sweep(tarn_store *st, const char *prefix, int64_t before_ms, int dry_run,
                        tarn_store_temp_fn each, void *arg, size_t *count, tarn_error *err) {
  faulty_store *fs = (faulty_store *)st;
  return tarn_store_sweep(fs->inner, prefix, before_ms, dry_run, each, arg, count, err);
}

static int faulty_del(tarn_store *st, const char *key, tarn_error *err) {
  faulty_store *fs = (faulty_store *)st;
  fault_rule hit;
  if (fault_check(fs, TARN_FAULT_DELETE, key, &hit))
    return fault_fail(&hit, TARN_EIO, "delete of", key, err);
  return fs->inner->ops->del(fs->inner, key, err);
}

/* Destroys the rules and the inner store. */
static void faulty_destroy(tarn_store *st) {
  faulty_store *fs = (faulty_store *)st;
  tarn_store_faulty_clear(st);
  pthread_mutex_destroy(&fs->mu);
  tarn_store_destroy(fs->inner);
  tarn_free(fs);
}

/* ---- public ---- */

/* Takes inner in every case: on failure it is destroyed. */
int tarn_store_faulty_wrap(tarn_store *inner, tarn_store **out, tarn_error *err) {
  faulty_store *fs = NULL;
  *out = NULL;
  if (inner == NULL)
    return tarn_error_set(err, TARN_EINVAL, "faulty store: no inner store");
  fs = tarn_calloc(1, sizeof(*fs));
  if (fs == NULL) {
    tarn_store_destroy(inner);
    return tarn_error_set(err, TARN_ENOMEM, "faulty store: out of memory");
  }
  if (pthread_mutex_init(&fs->mu, NULL) != 0) {
    tarn_free(fs);
    tarn_store_destroy(inner);
    return tarn_error_set(err, TARN_EINTERNAL, "faulty store: cannot create mutex");
  }
  fs->base.ops = &faulty_ops;
  fs->inner = inner;
  *out = &fs->base;
  return 0;
}

/* Copies key_prefix. SHORT is only for WRITE and FSYNC only for COMMIT (TARN_EINVAL). */
int tarn_store_faulty_add(tarn_store *st, tarn_store_fault_op op, tarn_store_fault_kind kind,
                          int code, const char *key_prefix, unsigned nth, unsigned times,
                          tarn_error *err) {
  faulty_store *fs = (faulty_store *)st;
  fault_rule r;
  if (st == NULL || st->ops != &faulty_ops)
    return tarn_error_set(err, TARN_EINVAL, "faulty_add: not a faulty store");
  if ((int)op < (int)TARN_FAULT_OPEN || (int)op > (int)TARN_FAULT_DELETE)
    return tarn_error_set(err, TARN_EINVAL, "faulty_add: unknown operation %d", (int)op);
  if (kind == TARN_FAULT_SHORT   ? op != TARN_FAULT_WRITE
      : kind == TARN_FAULT_FSYNC ? op != TARN_FAULT_COMMIT
                                 : kind != TARN_FAULT_ERROR)
    return tarn_error_set(err, TARN_EINVAL,
                          "faulty_add: fault kind %d does not apply to operation %d", (int)kind,
                          (int)op);
  memset(&r, 0, sizeof(r));
  r.op = op;
  r.kind = kind;
  r.code = code;
  r.nth = nth;
  r.times = times;
  if (key_prefix != NULL) {
    r.prefix = tarn_strdup(key_prefix);
    if (r.prefix == NULL)
      return tarn_error_set(err, TARN_ENOMEM, "faulty_add: out of memory");
  }
  pthread_mutex_lock(&fs->mu);
  if (TARN_GROW(fs->rules, fs->cap, fs->count + 1, 8) != 0) {
    pthread_mutex_unlock(&fs->mu);
    tarn_free(r.prefix);
    return tarn_error_set(err, TARN_ENOMEM, "faulty_add: out of memory");
  }
  fs->rules[fs->count++] = r;
  pthread_mutex_unlock(&fs->mu);
  return 0;
}

/* Removes every rule; the fired counter keeps counting. */
void tarn_store_faulty_clear(tarn_store *st) {
  faulty_store *fs = (faulty_store *)st;
  size_t i;
  if (st == NULL || st->ops != &faulty_ops)
    return;
  pthread_mutex_lock(&fs->mu);
  for (i = 0; i < fs->count; i++)
    tarn_free(fs->rules[i].prefix);
  tarn_free(fs->rules);
  fs->rules = NULL;
  fs->count = fs->cap = 0;
  pthread_mutex_unlock(&fs->mu);
}

unsigned tarn_store_faulty_fired(tarn_store *st) {
  faulty_store *fs = (faulty_store *)st;
  unsigned n;
  if (st == NULL || st->ops != &faulty_ops)
    return 0;
  pthread_mutex_lock(&fs->mu);
  n = fs->fired;
  pthread_mutex_unlock(&fs->mu);
  return n;
}

static const tarn_store_ops faulty_ops = {
    .name = "faulty",
    .writer_open = faulty_writer_open,
    .get = faulty_get,
    .get_range = faulty_get_range,
    .head = faulty_head,
    .list = faulty_list,
    .del = faulty_del,
    .destroy = faulty_destroy,
    .reader_open = faulty_reader_open,
    .sweep = faulty_sweep,
};

static const tarn_store_writer_ops faulty_writer_ops = {
    .write = faulty_writer_write,
    .commit = faulty_writer_commit,
    .abort = faulty_writer_abort,
};
