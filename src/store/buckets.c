/* buckets.c - the bucket registry: configuration, rescue fallback, journaling, probes, secrets. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/uuid.h"
#include "store/buckets.h"

const tarn_cfg_def tarn_store_bucket_config[] = {
    {"bucket.*", "backend", TARN_CFG_ENUM, "local", 0, 0, "local|s3", NULL, NULL, NULL, 0,
     "where the bucket's objects live"},
    {"bucket.*", "role", TARN_CFG_ENUM, "extra", 0, 0, "primary|rescue|extra", NULL, NULL, NULL, 0,
     "primary: where tarn writes; rescue: read when the primary fails; extra: any other"},
    {"bucket.*", "path", TARN_CFG_STRING, NULL, 0, 0, NULL, NULL, NULL, NULL, 0,
     "local: the directory holding the objects (created if missing)"},
    {"bucket.*", "endpoint", TARN_CFG_STRING, NULL, 0, 0, NULL, NULL, NULL, NULL, 0,
     "s3: endpoint URL, e.g. https://s3.eu-west-1.amazonaws.com or http://127.0.0.1:9000"},
    {"bucket.*", "region", TARN_CFG_STRING, "us-east-1", 0, 0, NULL, NULL, NULL, NULL, 0,
     "s3: signing region"},
    {"bucket.*", "bucket", TARN_CFG_STRING, NULL, 0, 0, NULL, NULL, NULL, NULL, 0,
     "s3: bucket name"},
    {"bucket.*", "prefix", TARN_CFG_STRING, "", 0, 0, NULL, NULL, NULL, NULL, 0,
     "s3: prepended to every key, e.g. lake/"},
    {"bucket.*", "addressing", TARN_CFG_ENUM, "path", 0, 0, "path|virtual", NULL, NULL, NULL, 0,
     "s3: path-style (host/BUCKET/KEY) or virtual-hosted (BUCKET.host/KEY) URLs"},
    {"storage", "probe_interval", TARN_CFG_DURATION, "60s", 0, 24LL * 3600 * 1000, NULL,
     "TARN_PROBE_INTERVAL", NULL, NULL, 0,
     "serve: probe every bucket this often (put/head/delete under _tarn_probe/); 0 = never"},
    {"storage", "max_object_size", TARN_CFG_SIZE, "5GiB", 1, 5LL << 40, NULL,
     "TARN_MAX_OBJECT_SIZE", NULL, NULL, 0,
     "largest object accepted by PUT /storage/buckets/{bucket}/objects/{key} (413)"},
    {"storage", "journal_flush_records", TARN_CFG_INT, "100", 1, 100000, NULL, NULL, NULL, NULL, 0,
     "write the error journal's buffered events once this many are waiting"},
    {"storage", "journal_flush_age", TARN_CFG_DURATION, "5s", 10, 3600 * 1000, NULL, NULL, NULL,
     NULL, 0, "... or once the oldest has waited this long"},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL, NULL, NULL, 0, NULL},
};

/* ======================================================================== */
/* secrets                                                                   */
/* ======================================================================== */

const tarn_cfg_def tarn_store_bucket_secrets[] = {
    {"bucket.*", "access_key_id", TARN_CFG_STRING, NULL, 0, 0, NULL, NULL, NULL, NULL, 1,
     "access key id"},
    {"bucket.*", "secret_access_key", TARN_CFG_STRING, NULL, 0, 0, NULL, NULL, NULL, NULL, 1,
     "secret access key"},
    {"bucket.*", "session_token", TARN_CFG_STRING, NULL, 0, 0, NULL, NULL, NULL, NULL, 1,
     "session token (temporary credentials)"},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL, NULL, NULL, 0, NULL},
};

int tarn_bucket_secrets_has(const tarn_secrets *sec, const char *name) {
  const tarn_config *sc = sec != NULL ? tarn_secrets_config(sec) : NULL;
  char section[TARN_BUCKET_NAME_MAX + 16];
  snprintf(section, sizeof(section), "bucket.%s", name);
  return sc != NULL && tarn_config_has(sc, section, "access_key_id") &&
         tarn_config_str(sc, section, "access_key_id") != NULL;
}

/* ======================================================================== */
/* registry                                                                  */
/* ======================================================================== */

typedef struct bucket_view {
  tarn_store base;
  tarn_bucket *b;
} bucket_view;

struct tarn_bucket {
  tarn_buckets *bs;
  char name[TARN_BUCKET_NAME_MAX + 1];
  char backend[16];
  tarn_bucket_role role;
  tarn_store *st;
  bucket_view view;
  pthread_mutex_t mu; /* guards health */
  tarn_bucket_health health;
  /* keys that are files of tarn's own (the catalog, the warehouse ...), set before serving */
  struct {
    char *key;  /* "" protects every key of the bucket */
    int prefix; /* 1: any key starting with it ("catalog.db" covers catalog.db-wal) */
  } * prot;
  size_t nprot;
};

struct tarn_buckets {
  tarn_bucket **b;
  size_t n;
  tarn_errjournal *ej;
  tarn_metric *m_ops, *m_errors, *m_rescue, *m_latency, *m_reachable;
  /* prober */
  pthread_mutex_t mu;
  pthread_cond_t cond;
  pthread_t thread;
  int thread_on, stop;
  int64_t interval_ms;
};

static const tarn_store_ops view_ops;

const char *tarn_bucket_role_name(tarn_bucket_role role) {
  switch (role) {
  case TARN_BUCKET_PRIMARY: return "primary";
  case TARN_BUCKET_RESCUE: return "rescue";
  case TARN_BUCKET_EXTRA: return "extra";
  }
  return "unknown";
}

int tarn_buckets_create(tarn_metrics *metrics, tarn_buckets **out, tarn_error *err) {
  tarn_buckets *bs = tarn_calloc(1, sizeof(*bs));
  pthread_condattr_t ca;
  *out = NULL;
  if (bs == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory creating the bucket registry");
  pthread_mutex_init(&bs->mu, NULL);
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&bs->cond, &ca);
  pthread_condattr_destroy(&ca);
  if (metrics != NULL) {
    bs->m_ops = tarn_metrics_counter(metrics, "tarn_storage_operations_total",
                                     "Storage operations through the bucket layer, by bucket and "
                                     "operation.",
                                     "bucket,op");
    bs->m_errors = tarn_metrics_counter(metrics, "tarn_storage_errors_total",
                                        "Failed storage operations, by bucket, operation and error "
                                        "class (retriable or fatal).",
                                        "bucket,op,class");
    bs->m_rescue = tarn_metrics_counter(metrics, "tarn_storage_rescue_fallbacks_total",
                                        "Reads the primary bucket could not serve that the rescue "
                                        "bucket served, by primary bucket and operation.",
                                        "bucket,op");
    bs->m_latency = tarn_metrics_gauge(metrics, "tarn_storage_probe_latency_seconds",
                                       "Duration of the last reachability probe (put, head, "
                                       "delete), by bucket.",
                                       "bucket");
    bs->m_reachable =
        tarn_metrics_gauge(metrics, "tarn_storage_bucket_reachable",
                           "1 when the last probe of the bucket succeeded, else 0.", "bucket");
    if (!bs->m_ops || !bs->m_errors || !bs->m_rescue || !bs->m_latency || !bs->m_reachable) {
      tarn_buckets_destroy(bs);
      return tarn_error_set(err, TARN_ENOMEM, "cannot register the storage metrics");
    }
  }
  *out = bs;
  return 0;
}

void tarn_buckets_destroy(tarn_buckets *bs) {
  size_t i;
  if (bs == NULL)
    return;
  tarn_buckets_prober_stop(bs);
  for (i = 0; i < bs->n; i++) {
    size_t k;
    for (k = 0; k < bs->b[i]->nprot; k++)
      tarn_free(bs->b[i]->prot[k].key);
    tarn_free(bs->b[i]->prot);
    tarn_store_destroy(bs->b[i]->st);
    pthread_mutex_destroy(&bs->b[i]->mu);
    tarn_free(bs->b[i]);
  }
  tarn_free(bs->b);
  pthread_cond_destroy(&bs->cond);
  pthread_mutex_destroy(&bs->mu);
  tarn_free(bs);
}

void tarn_buckets_set_journal(tarn_buckets *bs, tarn_errjournal *ej) { bs->ej = ej; }
size_t tarn_buckets_count(const tarn_buckets *bs) { return bs->n; }
tarn_bucket *tarn_buckets_at(tarn_buckets *bs, size_t i) { return i < bs->n ? bs->b[i] : NULL; }

tarn_bucket *tarn_buckets_find(tarn_buckets *bs, const char *name) {
  size_t i;
  for (i = 0; i < bs->n; i++)
    if (strcmp(bs->b[i]->name, name) == 0)
      return bs->b[i];
  return NULL;
}

static tarn_bucket *find_role(tarn_buckets *bs, tarn_bucket_role role) {
  size_t i;
  for (i = 0; i < bs->n; i++)
    if (bs->b[i]->role == role)
      return bs->b[i];
  return NULL;
}

tarn_bucket *tarn_buckets_primary(tarn_buckets *bs) { return find_role(bs, TARN_BUCKET_PRIMARY); }
tarn_bucket *tarn_buckets_rescue(tarn_buckets *bs) { return find_role(bs, TARN_BUCKET_RESCUE); }

const char *tarn_bucket_name(const tarn_bucket *b) { return b->name; }
const char *tarn_bucket_backend(const tarn_bucket *b) { return b->backend; }
tarn_bucket_role tarn_bucket_role_of(const tarn_bucket *b) { return b->role; }
tarn_store *tarn_bucket_raw_store(tarn_bucket *b) { return b->st; }
tarn_store *tarn_bucket_store(tarn_bucket *b) { return &b->view.base; }

int tarn_buckets_add(tarn_buckets *bs, const char *name, const char *backend, tarn_bucket_role role,
                     tarn_store *st, tarn_error *err) {
  tarn_bucket *b, **nb, *other;
  if (strlen(name) == 0 || strlen(name) > TARN_BUCKET_NAME_MAX) {
    tarn_store_destroy(st);
    return tarn_error_set(err, TARN_EINVAL, "bucket name \"%s\" must be 1 to %d bytes", name,
                          TARN_BUCKET_NAME_MAX);
  }
  if (tarn_buckets_find(bs, name) != NULL) {
    tarn_store_destroy(st);
    return tarn_error_set(err, TARN_EEXIST, "bucket \"%s\" is defined twice", name);
  }
  if (role != TARN_BUCKET_EXTRA && (other = find_role(bs, role)) != NULL) {
    tarn_store_destroy(st);
    return tarn_error_set(err, TARN_ECONFIG,
                          "[bucket.%s] role = %s: [bucket.%s] has that role already; %s", name,
                          tarn_bucket_role_name(role), other->name,
                          role == TARN_BUCKET_PRIMARY ? "exactly one bucket is the primary"
                                                      : "at most one bucket is the rescue");
  }
  b = tarn_calloc(1, sizeof(*b));
  nb = tarn_reallocarray(bs->b, bs->n + 1, sizeof(*nb));
  if (b == NULL || nb == NULL) {
    tarn_free(b);
    if (nb != NULL)
      bs->b = nb;
    tarn_store_destroy(st);
    return tarn_error_set(err, TARN_ENOMEM, "out of memory adding bucket %s", name);
  }
  bs->b = nb;
  b->bs = bs;
  snprintf(b->name, sizeof(b->name), "%s", name);
  snprintf(b->backend, sizeof(b->backend), "%s", backend);
  b->role = role;
  b->st = st;
  b->view.base.ops = &view_ops;
  b->view.b = b;
  pthread_mutex_init(&b->mu, NULL);
  bs->b[bs->n++] = b;
  return 0;
}

/* ======================================================================== */
/* journaling                                                                */
/* ======================================================================== */

/* Outcomes that answer the caller rather than report a broken store. */
static int is_failure(int code) {
  switch (code) {
  case TARN_OK:
  case TARN_ENOTFOUND:
  case TARN_EEXIST:
  case TARN_EBADKEY:
  case TARN_ERANGE:
  case TARN_ETOOBIG:
  case TARN_EINVAL: return 0;
  default: return 1;
  }
}

static void count_op(tarn_bucket *b, const char *op) {
  tarn_metric_add(b->bs->m_ops, (const char *[]){b->name, op}, 1);
}

static void journal(tarn_bucket *b, const char *op, const char *key, int code,
                    const tarn_error *err, int rescued, const char *message) {
  tarn_storage_event ev;
  memset(&ev, 0, sizeof(ev));
  ev.op = op;
  ev.bucket = b->name;
  ev.key = key;
  ev.code = code;
  if (err != NULL && err->code == code) {
    ev.http_status = err->http_status;
    ev.sys_errno = err->sys_errno;
    ev.attempt = err->attempts;
  }
  ev.rescued = rescued;
  ev.message = message ? message
                       : (err && err->code == code ? tarn_error_message(err) : tarn_strerror(code));
  if (!rescued)
    tarn_metric_add(b->bs->m_errors,
                    (const char *[]){b->name, op, tarn_err_retriable(code) ? "retriable" : "fatal"},
                    1);
  tarn_errjournal_record(b->bs->ej, &ev);
}

/* Records a failed operation (answers such as "not found" are not failures). */
static int done(tarn_bucket *b, const char *op, const char *key, int rc, const tarn_error *err) {
  if (is_failure(rc))
    journal(b, op, key, rc, err, 0, NULL);
  return rc;
}

/* ======================================================================== */
/* reads with rescue fallback                                                */
/* ======================================================================== */

/* R_OPEN is a head that starts a streamed get: it counts and journals as a "get". */
typedef enum read_kind { R_GET, R_RANGE, R_HEAD, R_OPEN } read_kind;

typedef struct read_args {
  read_kind kind;
  const char *key;
  uint64_t off, len;
  tarn_buf *out;
  tarn_store_stat *stat;
  tarn_store_reader **reader; /* R_OPEN */
} read_args;

static const char *read_op(read_kind k) {
  return k == R_GET || k == R_OPEN ? "get" : k == R_RANGE ? "get_range" : "head";
}

static int raw_read(tarn_bucket *b, const read_args *a, tarn_error *err) {
  count_op(b, read_op(a->kind));
  switch (a->kind) {
  case R_GET: return tarn_store_get(b->st, a->key, a->out, err);
  case R_RANGE: return tarn_store_get_range(b->st, a->key, a->off, a->len, a->out, err);
  case R_HEAD: return tarn_store_head(b->st, a->key, a->stat, err);
  case R_OPEN: return tarn_store_reader_open(b->st, a->key, a->reader, err);
  }
  return TARN_EINTERNAL;
}

/* Whether a failed read on the primary is worth trying on the rescue bucket: a miss or
 * a broken store, not a bad request that would fail the same way there. */
static int rescue_worthy(int code) {
  return code != TARN_EBADKEY && code != TARN_ERANGE && code != TARN_ETOOBIG && code != TARN_EINVAL;
}

static int read_with_fallback(tarn_bucket *b, const read_args *a, tarn_bucket **served,
                              int *rescued, tarn_error *err) {
  tarn_bucket *rescue;
  tarn_error perr, rerr;
  size_t keep = a->out ? a->out->len : 0;
  char msg[TARN_ERROR_DETAIL_MAX + 128];
  int rc, rc2;
  const char *op = read_op(a->kind);
  if (served != NULL)
    *served = b;
  if (rescued != NULL)
    *rescued = 0;
  tarn_error_clear(&perr);
  rc = raw_read(b, a, &perr);
  if (rc == 0)
    return 0;
  rescue = b->role == TARN_BUCKET_PRIMARY ? tarn_buckets_rescue(b->bs) : NULL;
  if (rescue == NULL || !rescue_worthy(rc)) {
    if (err != NULL)
      *err = perr;
    return done(b, op, a->key, rc, &perr);
  }
  if (a->out != NULL) /* drop whatever the failed read appended */
    a->out->len = keep;
  tarn_error_clear(&rerr);
  rc2 = raw_read(rescue, a, &rerr);
  if (rc2 == 0) {
    snprintf(msg, sizeof(msg), "%s failed on primary bucket %s (%s); served from rescue bucket %s",
             op, b->name, tarn_error_message(&perr), rescue->name);
    tarn_metric_add(b->bs->m_rescue, (const char *[]){b->name, op}, 1);
    journal(b, op, a->key, rc, &perr, 1, msg);
    tarn_log_warn("read served by the rescue bucket", "op=%s bucket=%s rescue=%s key=%s error=%s",
                  op, b->name, rescue->name, a->key, tarn_error_message(&perr));
    if (served != NULL)
      *served = rescue;
    if (rescued != NULL)
      *rescued = 1;
    return 0;
  }
  if (a->out != NULL)
    a->out->len = keep;
  done(b, op, a->key, rc, &perr);
  done(rescue, op, a->key, rc2, &rerr);
  /* A miss on the primary and a failure on the rescue: we cannot say it is missing. */
  if (rc == TARN_ENOTFOUND && is_failure(rc2)) {
    if (err != NULL)
      *err = rerr;
    return rc2;
  }
  if (err != NULL)
    *err = perr;
  return rc;
}

int tarn_bucket_get(tarn_bucket *b, const char *key, tarn_buf *out, int *rescued, tarn_error *err) {
  read_args a = {R_GET, key, 0, 0, out, NULL, NULL};
  return read_with_fallback(b, &a, NULL, rescued, err);
}

int tarn_bucket_get_range(tarn_bucket *b, const char *key, uint64_t off, uint64_t len,
                          tarn_buf *out, int *rescued, tarn_error *err) {
  read_args a = {R_RANGE, key, off, len, out, NULL, NULL};
  return read_with_fallback(b, &a, NULL, rescued, err);
}

int tarn_bucket_open_get(tarn_bucket *b, const char *key, tarn_store_reader **out,
                         tarn_bucket **served, tarn_error *err) {
  read_args a = {R_OPEN, key, 0, 0, NULL, NULL, out};
  *out = NULL;
  return read_with_fallback(b, &a, served, NULL, err);
}

int tarn_bucket_read_at(tarn_bucket *b, tarn_store_reader *r, const char *key, uint64_t off,
                        uint64_t len, tarn_buf *out, tarn_error *err) {
  tarn_error e;
  int rc;
  count_op(b, "get_range");
  tarn_error_clear(&e);
  rc = tarn_store_reader_read(r, off, len, out, &e);
  if (rc != 0 && err != NULL)
    *err = e;
  return done(b, "get_range", key, rc, &e);
}

int tarn_bucket_head(tarn_bucket *b, const char *key, tarn_store_stat *out, tarn_bucket **served,
                     tarn_error *err) {
  read_args a = {R_HEAD, key, 0, 0, NULL, out, NULL};
  return read_with_fallback(b, &a, served, NULL, err);
}

/* ======================================================================== */
/* writes, deletes, listings                                                 */
/* ======================================================================== */

int tarn_bucket_put(tarn_bucket *b, const char *key, const void *p, size_t n, unsigned flags,
                    tarn_error *err) {
  tarn_error e;
  int rc;
  count_op(b, "put");
  tarn_error_clear(&e);
  rc = tarn_store_put(b->st, key, p, n, flags, &e);
  if (rc != 0 && err != NULL)
    *err = e;
  return done(b, "put", key, rc, &e);
}

int tarn_bucket_delete(tarn_bucket *b, const char *key, tarn_error *err) {
  tarn_error e;
  int rc;
  count_op(b, "delete");
  tarn_error_clear(&e);
  rc = tarn_store_delete(b->st, key, &e);
  if (rc != 0 && err != NULL)
    *err = e;
  return done(b, "delete", key, rc, &e);
}

int tarn_bucket_list(tarn_bucket *b, const char *prefix, const char *start_after, size_t max_keys,
                     tarn_store_listing *out, tarn_error *err) {
  tarn_error e;
  int rc;
  count_op(b, "list");
  tarn_error_clear(&e);
  rc = tarn_store_list(b->st, prefix, start_after, max_keys, out, &e);
  if (rc != 0 && err != NULL)
    *err = e;
  return done(b, "list", prefix, rc, &e);
}

/* A writer that journals its failure once, whichever step fails. */
typedef struct bucket_writer {
  tarn_store_writer base;
  tarn_bucket *b;
  tarn_store_writer *inner;
  int failed; /* sticky code after a failed write */
  char key[];
} bucket_writer;

static const tarn_store_writer_ops bucket_writer_ops;

int tarn_bucket_writer_open(tarn_bucket *b, const char *key, unsigned flags,
                            tarn_store_writer **out, tarn_error *err) {
  bucket_writer *bw;
  tarn_error e;
  size_t klen = strlen(key);
  int rc;
  *out = NULL;
  count_op(b, "put");
  bw = tarn_malloc(sizeof(*bw) + klen + 1);
  if (bw == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory opening a write of %s", key);
  memset(bw, 0, sizeof(*bw));
  memcpy(bw->key, key, klen + 1);
  tarn_error_clear(&e);
  rc = tarn_store_writer_open(b->st, key, flags, &bw->inner, &e);
  if (rc != 0) {
    tarn_free(bw);
    if (err != NULL)
      *err = e;
    return done(b, "put", key, rc, &e);
  }
  bw->base.ops = &bucket_writer_ops;
  bw->b = b;
  *out = &bw->base;
  return 0;
}

static int bw_write(tarn_store_writer *w, const void *p, size_t n, tarn_error *err) {
  bucket_writer *bw = (bucket_writer *)w;
  tarn_error e;
  int rc;
  if (bw->failed)
    return tarn_error_set(err, bw->failed, "write of %s failed earlier", bw->key);
  tarn_error_clear(&e);
  rc = tarn_store_writer_write(bw->inner, p, n, &e); /* the front function counts written */
  if (rc != 0) {
    bw->failed = rc;
    if (err != NULL)
      *err = e;
    done(bw->b, "put", bw->key, rc, &e);
  }
  return rc;
}

static int bw_commit(tarn_store_writer *w, tarn_error *err) {
  bucket_writer *bw = (bucket_writer *)w;
  tarn_error e;
  int rc;
  if (bw->failed) { /* journaled when it happened */
    rc = bw->failed;
    tarn_store_writer_abort(bw->inner);
    tarn_error_set(err, rc, "write of %s failed earlier; nothing was stored", bw->key);
    tarn_free(bw);
    return rc;
  }
  tarn_error_clear(&e);
  rc = tarn_store_writer_commit(bw->inner, &e);
  if (rc != 0) {
    if (err != NULL)
      *err = e;
    done(bw->b, "put", bw->key, rc, &e);
  }
  tarn_free(bw);
  return rc;
}

static void bw_abort(tarn_store_writer *w) {
  bucket_writer *bw = (bucket_writer *)w;
  tarn_store_writer_abort(bw->inner);
  tarn_free(bw);
}

static const tarn_store_writer_ops bucket_writer_ops = {bw_write, bw_commit, bw_abort};

/* ---- tarn's own files ---- */

static int add_protected(tarn_bucket *b, const char *key, int prefix, tarn_error *err) {
  void *np = tarn_reallocarray(b->prot, b->nprot + 1, sizeof(*b->prot));
  if (np == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  b->prot = np;
  b->prot[b->nprot].key = tarn_strdup(key);
  if (b->prot[b->nprot].key == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  b->prot[b->nprot].prefix = prefix;
  b->nprot++;
  return 0;
}

/* The absolute, symlink-free form of `path`, which need not exist yet (its folder must). */
static int canonical(const char *path, char *out, size_t n) {
  char dir[PATH_MAX], real[PATH_MAX];
  const char *slash = strrchr(path, '/'), *base;
  if (realpath(path, real) != NULL)
    return snprintf(out, n, "%s", real) >= (int)n ? -1 : 0;
  if (slash == NULL) {
    snprintf(dir, sizeof(dir), ".");
    base = path;
  } else {
    snprintf(dir, sizeof(dir), "%.*s", (int)(slash == path ? 1 : slash - path), path);
    base = slash + 1;
  }
  if (realpath(dir, real) == NULL || base[0] == '\0')
    return -1;
  return snprintf(out, n, "%s/%s", strcmp(real, "/") == 0 ? "" : real, base) >= (int)n ? -1 : 0;
}

int tarn_buckets_protect_path(tarn_buckets *bs, const char *path, int prefix, tarn_error *err) {
  char p[PATH_MAX], root[PATH_MAX];
  size_t i;
  if (canonical(path, p, sizeof(p)) != 0)
    return 0; /* nothing there, nor a folder for it: no bucket can reach it */
  for (i = 0; i < bs->n; i++) {
    tarn_bucket *b = bs->b[i];
    size_t rl;
    int rc = 0;
    if (tarn_store_local_root(b->st, root, sizeof(root)) != 0)
      continue; /* not a local bucket */
    rl = strlen(root);
    if (strcmp(root, "/") == 0)
      rl = 0;
    if (strncmp(p, root, rl) == 0 && p[rl] == '/' && p[rl + 1] != '\0')
      rc = add_protected(b, p + rl + 1, prefix, err); /* the path is a key of the bucket */
    else if (strncmp(root, p, strlen(p)) == 0 &&
             (root[strlen(p)] == '/' || root[strlen(p)] == '\0'))
      rc = add_protected(b, "", 1, err); /* the whole bucket lies inside the path */
    if (rc != 0)
      return rc;
    if (rc == 0 && b->nprot > 0)
      tarn_log_debug("bucket keys protected", "bucket=%s key=%s prefix=%d", b->name,
                     b->prot[b->nprot - 1].key, b->prot[b->nprot - 1].prefix);
  }
  return 0;
}

int tarn_bucket_protected(const tarn_bucket *b, const char *key) {
  size_t i;
  for (i = 0; i < b->nprot; i++) {
    const char *k = b->prot[i].key;
    size_t kl = strlen(k);
    if (kl == 0 || strcmp(key, k) == 0)
      return 1;
    if (strncmp(key, k, kl) == 0 && (b->prot[i].prefix || key[kl] == '/'))
      return 1;
    /* a key naming a folder that holds protected files: writing it would need the folder */
    if (strncmp(k, key, strlen(key)) == 0 && k[strlen(key)] == '/')
      return 1;
  }
  return 0;
}

/* ---- the tarn_store view ---- */

static tarn_bucket *view_bucket(tarn_store *st) { return ((bucket_view *)st)->b; }

static int view_writer_open(tarn_store *st, const char *key, unsigned flags,
                            tarn_store_writer **out, tarn_error *err) {
  return tarn_bucket_writer_open(view_bucket(st), key, flags, out, err);
}
static int view_get(tarn_store *st, const char *key, tarn_buf *out, tarn_error *err) {
  return tarn_bucket_get(view_bucket(st), key, out, NULL, err);
}
static int view_get_range(tarn_store *st, const char *key, uint64_t off, uint64_t len,
                          tarn_buf *out, tarn_error *err) {
  return tarn_bucket_get_range(view_bucket(st), key, off, len, out, NULL, err);
}
static int view_head(tarn_store *st, const char *key, tarn_store_stat *out, tarn_error *err) {
  return tarn_bucket_head(view_bucket(st), key, out, NULL, err);
}
static int view_list(tarn_store *st, const char *prefix, const char *start_after, size_t max_keys,
                     tarn_store_listing *out, tarn_error *err) {
  return tarn_bucket_list(view_bucket(st), prefix, start_after, max_keys, out, err);
}
static int view_del(tarn_store *st, const char *key, tarn_error *err) {
  return tarn_bucket_delete(view_bucket(st), key, err);
}
static void view_destroy(tarn_store *st) { (void)st; /* the registry owns the bucket */ }
/* The reader comes from the bucket that serves the object (the rescue after a fallback). */
static int view_reader_open(tarn_store *st, const char *key, tarn_store_reader **out,
                            tarn_error *err) {
  return tarn_bucket_open_get(view_bucket(st), key, out, NULL, err);
}

/* Temp files of the bucket's own store (a sweep never falls back to the rescue). */
static int view_sweep(tarn_store *st, const char *prefix, int64_t before_ms, int dry_run,
                      tarn_store_temp_fn each, void *arg, size_t *count, tarn_error *err) {
  return tarn_store_sweep(tarn_bucket_raw_store(view_bucket(st)), prefix, before_ms, dry_run, each,
                          arg, count, err);
}

static const tarn_store_ops view_ops = {
    "bucket",  view_writer_open, view_get,     view_get_range,   view_head,
    view_list, view_del,         view_destroy, view_reader_open, view_sweep};

/* ======================================================================== */
/* probes                                                                    */
/* ======================================================================== */

void tarn_bucket_health_get(tarn_bucket *b, tarn_bucket_health *out) {
  pthread_mutex_lock(&b->mu);
  *out = b->health;
  pthread_mutex_unlock(&b->mu);
}

int tarn_bucket_probe(tarn_bucket *b, tarn_bucket_health *out) {
  char key[sizeof(TARN_BUCKET_PROBE_PREFIX) + TARN_UUID_STR_LEN], id[TARN_UUID_STR_LEN];
  char body[96];
  const char *step = "put";
  tarn_store_stat stt;
  tarn_error e;
  tarn_uuid u;
  tarn_bucket_health h;
  uint64_t t0 = tarn_clock_mono_ns();
  int rc, put_done = 0;
  memset(&h, 0, sizeof(h));
  tarn_error_clear(&e);
  rc = tarn_uuid_v7(&u, &e);
  if (rc == 0) {
    snprintf(key, sizeof(key), TARN_BUCKET_PROBE_PREFIX "%s", tarn_uuid_format(&u, id));
    snprintf(body, sizeof(body), "tarn reachability probe %s\n", id);
    rc = tarn_store_put(b->st, key, body, strlen(body), 0, &e);
  }
  if (rc == 0) {
    put_done = 1;
    step = "head";
    rc = tarn_store_head(b->st, key, &stt, &e);
    if (rc == 0 && stt.size != strlen(body))
      rc = tarn_error_set(&e, TARN_ECORRUPT, "probe object %s reads back as %llu bytes, not %zu",
                          key, (unsigned long long)stt.size, strlen(body));
  }
  if (rc == 0) {
    step = "delete";
    rc = tarn_store_delete(b->st, key, &e);
  } else if (put_done) {
    tarn_store_delete(b->st, key, NULL); /* best effort: leave no probe behind */
  }
  h.probed = 1;
  h.reachable = rc == 0;
  h.latency_ms = (double)(tarn_clock_mono_ns() - t0) / 1e6;
  h.last_probe_us = tarn_clock_wall_us();
  if (rc != 0)
    snprintf(h.last_error, sizeof(h.last_error), "%s: %s", step, tarn_error_message(&e));
  pthread_mutex_lock(&b->mu);
  if (b->health.reachable != h.reachable || !b->health.probed) {
    if (h.reachable)
      tarn_log_info("bucket reachable", "bucket=%s latency_ms=%.3f", b->name, h.latency_ms);
    else
      tarn_log_warn("bucket unreachable", "bucket=%s error=%s", b->name, h.last_error);
  }
  b->health = h;
  pthread_mutex_unlock(&b->mu);
  tarn_metric_set(b->bs->m_latency, (const char *[]){b->name}, h.latency_ms / 1000.0);
  tarn_metric_set(b->bs->m_reachable, (const char *[]){b->name}, h.reachable ? 1 : 0);
  if (rc != 0)
    journal(b, "probe", put_done ? key : TARN_BUCKET_PROBE_PREFIX, rc, &e, 0, h.last_error);
  if (out != NULL)
    *out = h;
  return rc;
}

void tarn_buckets_probe_all(tarn_buckets *bs) {
  size_t i;
  for (i = 0; i < bs->n; i++)
    tarn_bucket_probe(bs->b[i], NULL);
}

static void *prober_main(void *arg) {
  tarn_buckets *bs = arg;
  pthread_mutex_lock(&bs->mu);
  while (!bs->stop) {
    struct timespec ts;
    uint64_t abs_ns;
    pthread_mutex_unlock(&bs->mu);
    tarn_buckets_probe_all(bs);
    pthread_mutex_lock(&bs->mu);
    if (bs->stop)
      break;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    abs_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec +
             (uint64_t)bs->interval_ms * 1000000u;
    ts.tv_sec = (time_t)(abs_ns / 1000000000u);
    ts.tv_nsec = (long)(abs_ns % 1000000000u);
    while (!bs->stop && pthread_cond_timedwait(&bs->cond, &bs->mu, &ts) != ETIMEDOUT) {
    }
  }
  pthread_mutex_unlock(&bs->mu);
  return NULL;
}

int tarn_buckets_prober_start(tarn_buckets *bs, int64_t interval_ms, tarn_error *err) {
  if (bs->thread_on)
    return tarn_error_set(err, TARN_EINVAL, "the bucket prober is running already");
  if (interval_ms <= 0)
    return tarn_error_set(err, TARN_EINVAL, "probe interval must be positive");
  bs->interval_ms = interval_ms;
  bs->stop = 0;
  if (pthread_create(&bs->thread, NULL, prober_main, bs) != 0)
    return tarn_error_set(err, TARN_ENOMEM, "cannot start the bucket prober thread");
  bs->thread_on = 1;
  return 0;
}

void tarn_buckets_prober_stop(tarn_buckets *bs) {
  if (!bs->thread_on)
    return;
  pthread_mutex_lock(&bs->mu);
  bs->stop = 1;
  pthread_cond_broadcast(&bs->cond);
  pthread_mutex_unlock(&bs->mu);
  pthread_join(bs->thread, NULL); /* a probe under way finishes first */
  bs->thread_on = 0;
}

/* ======================================================================== */
/* from configuration                                                        */
/* ======================================================================== */

static const char *env_get(char *const *envp, const char *name) {
  size_t i, n = strlen(name);
  for (i = 0; envp != NULL && envp[i] != NULL; i++)
    if (strncmp(envp[i], name, n) == 0 && envp[i][n] == '=')
      return envp[i] + n + 1;
  return NULL;
}

/* A key set by the user (not at its default) that does not belong to the backend. */
static int reject_key(const tarn_config *cfg, const char *section, const char *key,
                      const char *backend, tarn_error *err) {
  if (strcmp(tarn_config_source(cfg, section, key), "default") == 0)
    return 0;
  return tarn_error_set(err, TARN_ECONFIG, "[%s] %s (%s): not a setting of backend = %s", section,
                        key, tarn_config_source(cfg, section, key), backend);
}

static int required(const tarn_config *cfg, const char *section, const char *key,
                    const char *backend, const char *what, tarn_error *err) {
  const char *v = tarn_config_str(cfg, section, key);
  if (v != NULL && v[0] != '\0')
    return 0;
  return tarn_error_set(err, TARN_ECONFIG, "[%s] %s: required for backend = %s (%s)", section, key,
                        backend, what);
}

static int open_s3(const tarn_config *cfg, const char *section, const tarn_secrets *sec,
                   char *const *envp, tarn_store **out, tarn_error *err) {
  static const char *const local_only[] = {"path", NULL};
  tarn_store_s3_options o;
  const char *ak = NULL, *sk = NULL, *tok = NULL, *src;
  size_t i;
  int rc;
  for (i = 0; local_only[i] != NULL; i++)
    if ((rc = reject_key(cfg, section, local_only[i], "s3", err)) != 0)
      return rc;
  if ((rc = required(cfg, section, "endpoint", "s3", "the S3 endpoint URL", err)) != 0 ||
      (rc = required(cfg, section, "bucket", "s3", "the S3 bucket name", err)) != 0)
    return rc;
  memset(&o, 0, sizeof(o));
  o.endpoint = tarn_config_str(cfg, section, "endpoint");
  o.region = tarn_config_str(cfg, section, "region");
  o.bucket = tarn_config_str(cfg, section, "bucket");
  o.prefix = tarn_config_str(cfg, section, "prefix");
  o.virtual_hosted = strcmp(tarn_config_str(cfg, section, "addressing"), "virtual") == 0;
  if (sec != NULL && tarn_config_has(tarn_secrets_config(sec), section, "access_key_id")) {
    const tarn_config *sc = tarn_secrets_config(sec);
    ak = tarn_config_str(sc, section, "access_key_id");
    sk = tarn_config_str(sc, section, "secret_access_key");
    tok = tarn_config_str(sc, section, "session_token");
    src = "secrets file";
  } else {
    ak = env_get(envp, "AWS_ACCESS_KEY_ID");
    sk = env_get(envp, "AWS_SECRET_ACCESS_KEY");
    tok = env_get(envp, "AWS_SESSION_TOKEN");
    src = "environment";
  }
  if (ak == NULL || ak[0] == '\0' || sk == NULL || sk[0] == '\0')
    return tarn_error_set(err, TARN_ECONFIG,
                          "[%s]: no credentials: put access_key_id and secret_access_key in "
                          "section [%s] of the secrets file (--secrets, TARN_SECRETS or [lake] "
                          "secrets), or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                          section, section);
  o.access_key_id = ak;
  o.secret_access_key = sk;
  o.session_token = tok != NULL && tok[0] != '\0' ? tok : NULL;
  rc = tarn_store_s3_open(&o, out, err);
  if (rc != 0)
    tarn_error_prefix(err, "[%s] (s3 %s, bucket %s)", section, o.endpoint, o.bucket);
  else
    tarn_log_debug("s3 bucket credentials", "section=%s source=%s", section, src);
  return rc;
}

static int open_local(const tarn_config *cfg, const char *section, tarn_store **out,
                      tarn_error *err) {
  static const char *const s3_only[] = {"endpoint", "region",     "bucket",
                                        "prefix",   "addressing", NULL};
  size_t i;
  int rc;
  for (i = 0; s3_only[i] != NULL; i++)
    if ((rc = reject_key(cfg, section, s3_only[i], "local", err)) != 0)
      return rc;
  if ((rc = required(cfg, section, "path", "local", "the directory holding the objects", err)) != 0)
    return rc;
  rc = tarn_store_local_open(tarn_config_str(cfg, section, "path"), out, err);
  if (rc != 0)
    tarn_error_prefix(err, "[%s] path = %s", section, tarn_config_str(cfg, section, "path"));
  return rc;
}

static tarn_bucket_role parse_role(const char *s) {
  return strcmp(s, "primary") == 0  ? TARN_BUCKET_PRIMARY
         : strcmp(s, "rescue") == 0 ? TARN_BUCKET_RESCUE
                                    : TARN_BUCKET_EXTRA;
}

/* Every [bucket.NAME] of the secrets file must name a configured s3 bucket, with both
 * keys: a typo there would otherwise silently fall back to the environment. */
static int check_secrets(const tarn_config *cfg, const tarn_secrets *sec, tarn_error *err) {
  const char *section;
  size_t i;
  const tarn_config *sc = tarn_secrets_config(sec);
  const char *path = tarn_secrets_path(sec);
  for (i = 0; (section = tarn_config_instance(sc, "bucket.*", i)) != NULL; i++) {
    const char *ak = tarn_config_str(sc, section, "access_key_id");
    const char *sk = tarn_config_str(sc, section, "secret_access_key");
    if (!tarn_config_has(cfg, section, "backend"))
      return tarn_error_set(err, TARN_ECONFIG, "secrets file %s: [%s] names no configured bucket",
                            path, section);
    if (strcmp(tarn_config_str(cfg, section, "backend"), "s3") != 0)
      return tarn_error_set(err, TARN_ECONFIG,
                            "secrets file %s: [%s] is a %s bucket, which takes no credentials",
                            path, section, tarn_config_str(cfg, section, "backend"));
    if (ak == NULL || sk == NULL)
      return tarn_error_set(err, TARN_ECONFIG, "secrets file %s: [%s] %s is missing", path, section,
                            ak == NULL ? "access_key_id" : "secret_access_key");
  }
  return 0;
}

int tarn_buckets_from_config(const tarn_config *cfg, const tarn_secrets *sec, char *const *envp,
                             tarn_metrics *metrics, tarn_buckets **out, tarn_error *err) {
  tarn_buckets *bs = NULL;
  const char *section;
  tarn_store *st = NULL;
  size_t i;
  int rc;
  *out = NULL;
  if (sec != NULL && (rc = check_secrets(cfg, sec, err)) != 0)
    return rc;
  rc = tarn_buckets_create(metrics, &bs, err);
  if (rc != 0)
    return rc;
  if (tarn_config_instance(cfg, "bucket.*", 0) == NULL) {
    /* The embedded default: the lake directory is the one bucket. */
    const char *lake = tarn_config_str(cfg, "lake", "path");
    rc = tarn_store_local_open(lake, &st, err);
    if (rc != 0) {
      tarn_error_prefix(err, "lake %s", lake);
      goto fail;
    }
    rc = tarn_buckets_add(bs, "lake", "local", TARN_BUCKET_PRIMARY, st, err);
    if (rc != 0)
      goto fail;
    *out = bs;
    return 0;
  }
  for (i = 0; (section = tarn_config_instance(cfg, "bucket.*", i)) != NULL; i++) {
    const char *backend = tarn_config_str(cfg, section, "backend");
    st = NULL;
    if (strcmp(backend, "s3") == 0)
      rc = open_s3(cfg, section, sec, envp, &st, err);
    else
      rc = open_local(cfg, section, &st, err);
    if (rc == 0)
      rc = tarn_buckets_add(bs, section + strlen("bucket."), backend,
                            parse_role(tarn_config_str(cfg, section, "role")), st, err);
    if (rc != 0)
      goto fail;
  }
  if (tarn_buckets_primary(bs) == NULL) {
    char names[256] = "";
    size_t len = 0;
    for (i = 0; (section = tarn_config_instance(cfg, "bucket.*", i)) != NULL && len < 200; i++)
      len += (size_t)snprintf(names + len, sizeof(names) - len, "%s[%s]", i ? ", " : "", section);
    rc = tarn_error_set(err, TARN_ECONFIG,
                        "no bucket has role = primary: set it in exactly one of %s", names);
    goto fail;
  }
  *out = bs;
  return 0;
fail:
  if (rc != TARN_ENOMEM && err != NULL)
    err->code = TARN_ECONFIG; /* every failure here means: fix the configuration */
  tarn_buckets_destroy(bs);
  return rc == TARN_ENOMEM ? rc : TARN_ECONFIG;
}
