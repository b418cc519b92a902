/* ingest_routes.c - POST /ingest (a CSV upload streamed to a spool file, then ingested) and
 * the dataset catalog routes under /catalog/. */
#include "http_int.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "ingest/ingest.h"
#include "journal/journal.h"

/*
 * Every request runs on its connection's thread (the server is thread-per-connection)
 * and opens its own catalog handle, because catalog handles are single-threaded. The
 * store is shared: the lake's store is safe to use from many threads at once.
 */
typedef struct ingest_srv {
  tarn_store *store;
  tarn_table_io io;
  char *root_uri;
  char *spool_dir;
  uint64_t max_upload;
  int threads;
  uint64_t budget, max_memory, queue_ms;
  pthread_mutex_t mu;   /* guards reserved */
  pthread_cond_t freed; /* signalled when an ingest gives its memory back */
  uint64_t reserved;    /* what the conversions under way may use, together */
  int (*open_catalog)(void *arg, tarn_catalog **out, tarn_error *err);
  void *open_catalog_arg;
  tarn_journal *journal; /* records an ingest event per new commit; may be NULL */
  char *db_hosts;        /* POST /ingest/db: where it may connect; NULL: any TCP host */
  tarn_metric *m_total, *m_bytes, *m_rows, *m_duration;
} ingest_srv;

static const double duration_buckets[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1,   2.5,
                                          5,    10,   30,  60,   120, 300, 600};

static void ingest_srv_free(void *p) {
  ingest_srv *is = p;
  pthread_mutex_destroy(&is->mu);
  pthread_cond_destroy(&is->freed);
  tarn_free(is->root_uri);
  tarn_free(is->spool_dir);
  tarn_free(is->db_hosts);
  tarn_free(is);
}

static int reply_code(tarn_http_response *resp, int status, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Answers `status` with the stable name of `code`. */
static int reply_code(tarn_http_response *resp, int status, int code, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  return tarn_http_reply_error(resp, status, tarn_err_name(code), "%s", msg);
}

/* Storage and catalog failures are the server's upstream failing: 502, whatever the code
 * (a timeout or an unknown commit outcome included), so clients see one status for
 * "retry later or ask the operator". Out of memory stays 500; no space left is 507. */
static int reply_backend(tarn_http_response *resp, const tarn_error *err) {
  int status = err->code == TARN_ENOMEM ? 500 : err->code == TARN_ENOSPC ? 507 : 502;
  return reply_code(resp, status, err->code, "%s", tarn_error_message(err));
}

/* Opens this request's catalog handle; fills env. */
static int open_env(const ingest_srv *is, tarn_catalog **cat, tarn_ingest_env *env,
                    tarn_error *err) {
  int rc = is->open_catalog(is->open_catalog_arg, cat, err);
  if (rc != 0) {
    tarn_error_prefix(err, "opening the catalog");
    return rc;
  }
  env->cat = *cat;
  env->io = &is->io;
  env->spool_dir = is->spool_dir;
  return 0;
}

/* ---- POST /ingest ---- */

typedef struct upload_ctx {
  ingest_srv *is;
  int fd; /* the spool file (already unlinked) */
  int append;
  char delimiter;
  int multipart;       /* the body is multipart/form-data */
  tarn__mp *mp;        /* its parser */
  int file_parts;      /* parts named "file" seen */
  int in_file;         /* the current part is the "file" part */
  int bad_part;        /* a second "file" part */
  uint64_t file_bytes; /* CSV bytes spooled */
  uint64_t reserved;   /* bytes it holds in is->reserved */
  char source[256];    /* the part's file name, or "upload" */
  char actor[80];      /* the token that sent it, or "local" */
  tarn_error err;      /* of a failed spool write */
  char name[TARN_DATASET_NAME_MAX + 1];
} upload_ctx;

/*
 * Admission: a conversion starts only when what it may use fits [ingest] max_memory with
 * the conversions under way; it waits up to [ingest] queue_timeout for one to finish,
 * then gives up with TARN_EBUSY (503 with Retry-After). Called by the ingest after it has
 * read the file once and knows its shape.
 */
static int admit(void *arg, uint64_t bytes, tarn_error *err) {
  upload_ctx *uc = arg;
  ingest_srv *is = uc->is;
  struct timespec until;
  uint64_t end = tarn_clock_mono_ns() + is->queue_ms * 1000000ull;
  int waited = 0;
  until.tv_sec = (time_t)(end / 1000000000ull);
  until.tv_nsec = (long)(end % 1000000000ull);
  pthread_mutex_lock(&is->mu);
  while (is->max_memory > 0 && is->reserved + bytes > is->max_memory) {
    if (tarn_clock_mono_ns() >= end ||
        pthread_cond_timedwait(&is->freed, &is->mu, &until) == ETIMEDOUT) {
      if (is->reserved + bytes <= is->max_memory)
        break;
      pthread_mutex_unlock(&is->mu);
      return tarn_error_set(
          err, TARN_EBUSY,
          "the ingests under way use the memory [ingest] max_memory allows "
          "(%llu MiB); this one needs %llu MiB and waited %llu ms (queue_timeout)",
          (unsigned long long)(is->max_memory >> 20),
          (unsigned long long)((bytes + (1u << 20) - 1) >> 20), (unsigned long long)is->queue_ms);
    }
    waited = 1;
  }
  is->reserved += bytes;
  uc->reserved = bytes;
  pthread_mutex_unlock(&is->mu);
  if (waited)
    tarn_log_info("ingest admitted after waiting for memory", "name=%s need_mib=%llu", uc->name,
                  (unsigned long long)(bytes >> 20));
  return 0;
}

static void budget_give(upload_ctx *uc) {
  ingest_srv *is = uc->is;
  pthread_mutex_lock(&is->mu);
  is->reserved -= uc->reserved;
  uc->reserved = 0;
  pthread_cond_broadcast(&is->freed);
  pthread_mutex_unlock(&is->mu);
  /* an ingest of a wide or big file leaves free memory in this thread's malloc arena:
   * hand it back to the system rather than keep the peak for the process's life */
  malloc_trim(0);
}

static void upload_free(upload_ctx *uc) {
  if (uc->reserved)
    budget_give(uc);
  tarn_free(uc->mp);
  if (uc->fd >= 0)
    close(uc->fd);
  tarn_free(uc);
}

static int spool_write(upload_ctx *uc, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(uc->fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return tarn_error_sys(&uc->err,
                            tarn_code_from_errno(errno) == TARN_ENOSPC ? TARN_ENOSPC : TARN_EIO,
                            errno, "writing the upload to the spool folder");
    p += w;
    n -= (size_t)w;
    uc->file_bytes += (uint64_t)w;
  }
  return 0;
}

/* The multipart parser hands us each part; only the one named "file" goes to the spool
 * file. A second "file" part is refused, whatever the first held: which CSV was meant? */
static int part_begin(void *ud, const char *name, const char *filename, const char *ctype) {
  upload_ctx *uc = ud;
  uc->in_file = strcmp(name, "file") == 0;
  if (!uc->in_file)
    return 0; /* other form fields are ignored (parameters go in the query) */
  if (uc->file_parts++ > 0) {
    uc->bad_part = 1;
    return TARN_EINVAL;
  }
  if (filename != NULL && filename[0] != '\0')
    snprintf(uc->source, sizeof(uc->source), "%s", filename);
  return 0;
}

static int part_data(void *ud, const char *p, size_t n) {
  upload_ctx *uc = ud;
  return uc->in_file ? spool_write(uc, p, n) : 0;
}

static int part_end(void *ud) {
  ((upload_ctx *)ud)->in_file = 0;
  return 0;
}

static const tarn__mp_ops part_ops = {part_begin, part_data, part_end};

/* The media type of Content-Type without parameters, lower-cased, into out. */
static void media_type(const char *ct, char *out, size_t n) {
  size_t i = 0;
  while (ct != NULL && *ct == ' ')
    ct++;
  for (; ct != NULL && ct[i] != '\0' && ct[i] != ';' && ct[i] != ' ' && i + 1 < n; i++)
    out[i] = (char)(ct[i] >= 'A' && ct[i] <= 'Z' ? ct[i] + 32 : ct[i]);
  out[i] = '\0';
}

static int begin_upload(const tarn_http_request *req, tarn_http_response *resp, void **out,
                        void *ud) {
  ingest_srv *is = ud;
  const char *name = tarn_http_query(req, "name");
  const char *ct = tarn_http_header(req, "Content-Type");
  char mt[64];
  upload_ctx *uc;
  tarn_error err;
  int append = 0, multipart = 0;
  char delim = 0;
  *out = NULL;
  if (name == NULL)
    return tarn_http_reply_error(resp, 400, "invalid_name",
                                 "the query parameter name is required (POST /ingest?name=NAME; "
                                 "NAME is 1 to %d characters of [a-z0-9_])",
                                 TARN_DATASET_NAME_MAX);
  if (tarn_dataset_name_check(name, &err) != 0)
    return tarn_http_reply_error(resp, 400, "invalid_name", "%s", tarn_error_message(&err));
  if (tarn_ingest_parse_mode(tarn_http_query(req, "mode"), &append, &err) != 0 ||
      tarn_ingest_parse_delimiter(tarn_http_query(req, "delimiter"), &delim, &err) != 0)
    return tarn_http_reply_error(resp, 400, "invalid_argument", "%s", tarn_error_message(&err));
  media_type(ct, mt, sizeof(mt));
  if (strcmp(mt, "multipart/form-data") == 0)
    multipart = 1;
  else if (mt[0] != '\0' && strcmp(mt, "text/csv") != 0 &&
           strcmp(mt, "application/octet-stream") != 0)
    return tarn_http_reply_error(resp, 415, "unsupported_media_type",
                                 "Content-Type \"%s\" is not accepted: send the CSV as "
                                 "multipart/form-data (field \"file\"), text/csv or "
                                 "application/octet-stream",
                                 mt);
  uc = tarn_calloc(1, sizeof(*uc));
  if (uc == NULL)
    return TARN_ENOMEM;
  uc->is = is;
  snprintf(uc->actor, sizeof(uc->actor), "%s", req->token_name != NULL ? req->token_name : "local");
  uc->fd = -1;
  uc->append = append;
  uc->delimiter = delim;
  snprintf(uc->name, sizeof(uc->name), "%s", name);
  snprintf(uc->source, sizeof(uc->source), "upload");
  uc->fd = tarn_ingest_spool_open(is->spool_dir, &err); /* gone with the descriptor */
  if (uc->fd < 0) {
    upload_free(uc);
    return reply_backend(resp, &err);
  }
  uc->multipart = multipart;
  if (multipart) {
    char boundary[80];
    uc->mp = tarn_malloc(sizeof(*uc->mp));
    if (uc->mp == NULL) {
      upload_free(uc);
      return TARN_ENOMEM;
    }
    if (tarn__mp_boundary(ct, boundary, sizeof(boundary)) != 0 ||
        tarn__mp_init(uc->mp, boundary, &part_ops, uc) != 0) {
      upload_free(uc);
      return tarn_http_reply_error(resp, 400, "invalid_multipart",
                                   "Content-Type \"%.200s\" has no valid boundary parameter (1 "
                                   "to 70 printable characters)",
                                   ct);
    }
  }
  *out = uc;
  return 0;
}

/* Requests refused before their body is read count as ingests too. */
static int ingest_begin(const tarn_http_request *req, tarn_http_response *resp, void **out,
                        void *ud) {
  ingest_srv *is = ud;
  int rc = begin_upload(req, resp, out, ud);
  if (rc == 0 && *out == NULL)
    tarn_metric_add(is->m_total,
                    (const char *[]){resp->status == 503   ? "busy"
                                     : resp->status >= 500 ? "failed"
                                                           : "invalid"},
                    1);
  return rc;
}

static int ingest_chunk(void *ctx, const void *p, size_t n) {
  upload_ctx *uc = ctx;
  if (uc->mp == NULL)
    return spool_write(uc, p, n);
  return tarn__mp_feed(uc->mp, p, n);
}

static const char *outcome_of(const tarn_ingest_result *r, int append) {
  if (r->existing)
    return "existing";
  if (r->created)
    return "created";
  return append ? "appended" : "replaced";
}

/* The journal's record of a committed ingest (tarn_journal_record_ingest): entity_type the
 * dataset's name, entity_id its table, new_value the rows and where they came from. Its
 * event_id names the commit, so recording it twice stores it once. A failure is logged:
 * the data is committed. */
static void journal_ingest(upload_ctx *uc, const tarn_ingest_result *r, const char *outcome) {
  tarn_journal_ingest in;
  tarn_journal_ack ack;
  tarn_error err;
  if (uc->is->journal == NULL || r->existing)
    return;
  memset(&in, 0, sizeof(in));
  in.dataset = uc->name;
  in.snapshot_id = r->snapshot_id;
  in.rows = r->row_count;
  in.source = uc->source;
  in.sha256 = r->source_sha256;
  in.outcome = outcome;
  in.actor = uc->actor;
  if (tarn_journal_record_ingest(uc->is->journal, &in, &ack, &err) != 0)
    tarn_log_warn("ingest committed; its journal event was not recorded", "name=%s error=%s",
                  uc->name, tarn_error_message(&err));
}

static json_t *columns_json(const tarn_ingest_result *r) {
  json_t *a = json_array();
  size_t i;
  for (i = 0; a != NULL && i < r->ncols; i++) {
    if (json_array_append_new(a, json_pack("{s:s,s:s,s:b,s:s}", "name", r->names[i], "type",
                                           tarn_csv_type_name(r->cols[i].type), "nullable",
                                           r->cols[i].nullable, "reason", r->cols[i].reason)) !=
        0) {
      json_decref(a);
      return NULL;
    }
  }
  return a;
}

/* Runs the ingest on the spooled file and fills resp. Returns the outcome label. */
static const char *run_ingest(upload_ctx *uc, tarn_http_response *resp, int *rc_out) {
  ingest_srv *is = uc->is;
  tarn_catalog *cat = NULL;
  tarn_ingest_env env;
  tarn_ingest_options o;
  tarn_ingest_result r;
  tarn_error err;
  json_t *manifest = NULL;
  const char *outcome = "failed";
  uint64_t t0 = tarn_clock_mono_ns();
  int rc;
  tarn_ingest_result_init(&r);
  tarn_error_clear(&err);
  rc = open_env(is, &cat, &env, &err);
  if (rc != 0) {
    *rc_out = reply_backend(resp, &err);
    goto out;
  }
  tarn_ingest_options_init(&o);
  o.name = uc->name;
  o.append = uc->append;
  o.delimiter = uc->delimiter;
  o.source = uc->source;
  o.threads = is->threads;
  o.memory_budget = (size_t)is->budget;
  o.admit = admit;
  o.admit_arg = uc;
  rc = tarn_ingest_csv(&env, uc->fd, &o, &r, &err);
  tarn_metric_observe(is->m_duration, NULL, (double)(tarn_clock_mono_ns() - t0) / 1e9);
  if (rc == TARN_EINVAL) {
    /* the name was checked at begin, so this is the CSV (line and column in the detail) */
    outcome = "invalid";
    *rc_out = tarn_http_reply_error(resp, 400, "invalid_csv", "%s", tarn_error_message(&err));
    goto out;
  }
  if (rc == TARN_ETOOBIG) { /* a field, a record, or the file's shape for the memory budget */
    outcome = "too_large";
    *rc_out = tarn_http_reply_error(resp, 413, "too_large", "%s", tarn_error_message(&err));
    goto out;
  }
  if (rc == TARN_EBUSY) {
    outcome = "busy";
    tarn_http_add_header(resp, "Retry-After", "5", NULL);
    *rc_out = tarn_http_reply_error(resp, 503, "busy", "%s; retry later", tarn_error_message(&err));
    goto out;
  }
  if (rc == TARN_ESCHEMA) {
    outcome = "schema_mismatch";
    *rc_out = tarn_http_reply_json(resp, 409,
                                   json_pack("{s:{s:s,s:s,s:O}}", "error", "code",
                                             tarn_err_name(rc), "message", tarn_error_message(&err),
                                             "drift", r.drift ? r.drift : json_null()));
    goto out;
  }
  if (rc == TARN_ECONFLICT) {
    outcome = "conflict";
    *rc_out = reply_code(resp, 409, rc, "%s", tarn_error_message(&err));
    goto out;
  }
  if (rc != 0) {
    *rc_out = reply_backend(resp, &err);
    goto out;
  }
  outcome = outcome_of(&r, uc->append);
  journal_ingest(uc, &r, outcome);
  if (!r.existing) {
    tarn_metric_add(is->m_bytes, NULL, (double)uc->file_bytes);
    tarn_metric_add(is->m_rows, NULL, (double)r.row_count);
  }
  /* The commit is done: a failing view only leaves the manifest out of the answer. */
  if (tarn_dataset_manifest(&env, uc->name, &manifest, &err) != 0) {
    tarn_log_warn("ingest committed but its manifest view failed", "name=%s error=%s", uc->name,
                  tarn_error_message(&err));
    manifest = NULL;
  }
  {
    char d[2] = {r.delimiter, '\0'}; /* the delimiter the file was read with */
    *rc_out = tarn_http_reply_json(
        resp, 200,
        json_pack("{s:o,s:b,s:s,s:I,s:I,s:s,s:s,s:s,s:o,s:o,s:s,s:b}", "manifest",
                  manifest ? manifest : json_null(), "existing", r.existing, "outcome", outcome,
                  "row_count", (json_int_t)r.row_count, "parquet_size", (json_int_t)r.parquet_size,
                  "parquet_key", r.parquet_key, "fingerprint", r.fingerprint, "source_sha256",
                  r.source_sha256, "snapshot_id",
                  r.snapshot_id >= 0 ? json_integer(r.snapshot_id) : json_null(), "columns",
                  columns_json(&r), "delimiter", d, "delimiter_detected", r.delimiter_detected));
  }
out:
  if (rc != 0)
    tarn_log_warn("ingest refused", "name=%s outcome=%s error=%s detail=%s", uc->name, outcome,
                  tarn_err_name(rc), tarn_error_message(&err));
  tarn_ingest_result_free(&r);
  tarn_catalog_destroy(cat);
  return outcome;
}

static int ingest_end(void *ctx, const tarn_http_request *req, tarn_http_response *resp, int code) {
  upload_ctx *uc = ctx;
  ingest_srv *is = uc->is;
  const char *outcome = "failed";
  int rc = 0;
  if (resp == NULL) { /* the client went away; the spool file goes with the descriptor */
    outcome = "aborted";
    goto out;
  }
  if (code == TARN_ETOOBIG) { /* the server answers 413 itself */
    outcome = "too_large";
    goto out;
  }
  if (uc->mp != NULL && code == 0)
    code = tarn__mp_finish(uc->mp);
  if (code != 0 && uc->err.code != 0) { /* the spool file could not be written */
    rc = reply_backend(resp, &uc->err);
    goto out;
  }
  if (code != 0 || uc->bad_part) {
    outcome = "invalid";
    if (uc->bad_part)
      rc = tarn_http_reply_error(resp, 400, "invalid_multipart",
                                 "the multipart body has more than one part named \"file\": "
                                 "send one CSV per request");
    else
      rc = tarn_http_reply_error(resp, 400, "invalid_multipart",
                                 "the multipart/form-data body is malformed: %s",
                                 uc->mp ? tarn__mp_error(uc->mp) : "cut short");
    goto out;
  }
  if (uc->multipart && uc->file_parts == 0) {
    outcome = "invalid";
    rc = tarn_http_reply_error(resp, 400, "invalid_multipart",
                               "the multipart/form-data body has no part named \"file\" (send "
                               "the CSV as -F file=@data.csv)");
    goto out;
  }
  outcome = run_ingest(uc, resp, &rc);
out:
  tarn_metric_add(is->m_total, (const char *[]){outcome}, 1);
  upload_free(uc);
  return rc;
}

static const tarn_http_stream_ops ingest_ops = {ingest_begin, ingest_chunk, ingest_end};

/* ---- /catalog/ ---- */

static int on_list(const tarn_http_request *req, tarn_http_response *resp, void *ud) {
  ingest_srv *is = ud;
  tarn_catalog *cat = NULL;
  tarn_catalog_names names;
  tarn_ingest_env env;
  tarn_error err;
  json_t *arr = NULL;
  size_t i;
  int rc;
  tarn_catalog_names_init(&names);
  rc = open_env(is, &cat, &env, &err);
  if (rc == 0)
    rc = tarn_datasets_list(&env, &names, &err);
  if (rc != 0) {
    rc = reply_backend(resp, &err);
    goto out;
  }
  arr = json_array();
  for (i = 0; arr != NULL && i < names.count; i++) {
    json_t *s = NULL;
    tarn_error e;
    /* one unreadable dataset must not hide the others */
    if (tarn_dataset_summary(&env, names.items[i], &s, &e) != 0)
      s = json_pack("{s:s,s:{s:s,s:s}}", "name", names.items[i], "error", "code",
                    tarn_err_name(e.code), "message", tarn_error_message(&e));
    if (json_array_append_new(arr, s) != 0) {
      json_decref(arr);
      arr = NULL;
    }
  }
  rc = tarn_http_reply_json(
      resp, 200,
      arr ? json_pack("{s:I,s:o}", "count", (json_int_t)names.count, "datasets", arr) : NULL);
out:
  tarn_catalog_names_free(&names);
  tarn_catalog_destroy(cat);
  return rc;
}

/* Answers 400/404/502 for a failed dataset lookup. */
static int reply_lookup(tarn_http_response *resp, const tarn_error *err) {
  if (err->code == TARN_EINVAL)
    return tarn_http_reply_error(resp, 400, "invalid_name", "%s", tarn_error_message(err));
  if (err->code == TARN_ENOTFOUND)
    return tarn_http_reply_error(resp, 404, "not_found", "%s", tarn_error_message(err));
  return reply_backend(resp, err);
}

static int on_show(const tarn_http_request *req, tarn_http_response *resp, void *ud) {
  ingest_srv *is = ud;
  tarn_catalog *cat = NULL;
  tarn_ingest_env env;
  tarn_error err;
  json_t *m = NULL;
  int rc = open_env(is, &cat, &env, &err);
  if (rc != 0)
    rc = reply_backend(resp, &err);
  else if (tarn_dataset_manifest(&env, tarn_http_param(req, "name"), &m, &err) != 0)
    rc = reply_lookup(resp, &err);
  else
    rc = tarn_http_reply_json(resp, 200, m);
  tarn_catalog_destroy(cat);
  return rc;
}

static int on_resync(const tarn_http_request *req, tarn_http_response *resp, void *ud) {
  ingest_srv *is = ud;
  const char *name = tarn_http_param(req, "name");
  tarn_catalog *cat = NULL;
  tarn_ingest_env env;
  tarn_error err;
  json_t *m = NULL;
  int changed = 0;
  int rc = open_env(is, &cat, &env, &err);
  if (rc != 0)
    rc = reply_backend(resp, &err);
  else if (tarn_dataset_resync(&env, name, &changed, &err) != 0 ||
           tarn_dataset_manifest(&env, name, &m, &err) != 0)
    rc = reply_lookup(resp, &err);
  else
    rc = tarn_http_reply_json(
        resp, 200, json_pack("{s:s,s:b,s:o}", "name", name, "changed", changed, "manifest", m));
  tarn_catalog_destroy(cat);
  return rc;
}

static int on_resync_missing(const tarn_http_request *req, tarn_http_response *resp, void *ud) {
  ingest_srv *is = ud;
  tarn_catalog *cat = NULL;
  tarn_ingest_env env;
  tarn_error err;
  json_t *report = NULL;
  int rc = open_env(is, &cat, &env, &err);
  if (rc == 0)
    rc = tarn_datasets_resync_missing(&env, &report, &err);
  if (rc != 0)
    rc = reply_backend(resp, &err);
  else
    rc = tarn_http_reply_json(resp, 200, report);
  tarn_catalog_destroy(cat);
  return rc;
}

/* ---- POST /ingest/db ---- */

/* A string member of the body: NULL when absent or null; -1 when another type. */
static int body_str(const json_t *body, const char *key, const char **out) {
  const json_t *v = json_object_get(body, key);
  *out = NULL;
  if (v == NULL || json_is_null(v))
    return 0;
  if (!json_is_string(v))
    return -1;
  *out = json_string_value(v);
  return 0;
}

static int on_ingest_db(const tarn_http_request *req, tarn_http_response *resp, void *ud) {
  static const char *const known[] = {
      "dsn", "table", "query", "name", "mode", "incremental_column", "readers", "infinity", NULL};
  ingest_srv *is = ud;
  upload_ctx uc;
  tarn_catalog *cat = NULL;
  tarn_ingest_env env;
  tarn_pg_ingest_options o;
  tarn_pg_ingest_result r;
  tarn_error err;
  json_error_t jerr;
  json_t *body = NULL, *manifest = NULL, *answer;
  const char *ct = tarn_http_header(req, "Content-Type"), *mode, *inf, *key, *outcome = "invalid";
  char media[64];
  uint64_t t0 = tarn_clock_mono_ns();
  json_t *v;
  int rc, status;
  tarn_pg_ingest_options_init(&o);
  tarn_pg_ingest_result_init(&r);
  tarn_error_clear(&err);
  memset(&uc, 0, sizeof(uc));
  uc.is = is;
  uc.fd = -1;
  media_type(ct, media, sizeof(media));
  if (strcmp(media, "application/json") != 0) {
    rc = tarn_http_reply_error(resp, 415, "unsupported_media_type",
                               "POST /ingest/db takes a JSON body (Content-Type: "
                               "application/json), not %s",
                               ct ? ct : "none");
    goto out;
  }
  body = json_loadb(req->body && req->body->data ? req->body->data : "",
                    req->body ? req->body->len : 0, JSON_REJECT_DUPLICATES, &jerr);
  if (!json_is_object(body)) {
    rc = tarn_http_reply_error(resp, 400, "invalid_argument",
                               body ? "the body must be a JSON object"
                                    : "the body is not JSON: %s (line %d, column %d)",
                               jerr.text, jerr.line, jerr.column);
    goto out;
  }
  json_object_foreach(body, key, v) {
    size_t i;
    for (i = 0; known[i] != NULL && strcmp(known[i], key) != 0; i++)
      ;
    if (known[i] == NULL) {
      rc = tarn_http_reply_error(resp, 400, "invalid_argument",
                                 "unknown field \"%.64s\" (known: dsn, table, query, name, mode, "
                                 "incremental_column, readers, infinity)",
                                 key);
      goto out;
    }
  }
  if (body_str(body, "dsn", &o.dsn) || body_str(body, "table", &o.table) ||
      body_str(body, "query", &o.query) || body_str(body, "name", &o.name) ||
      body_str(body, "mode", &mode) ||
      body_str(body, "incremental_column", &o.incremental_column) ||
      body_str(body, "infinity", &inf) ||
      (json_object_get(body, "readers") && !json_is_integer(json_object_get(body, "readers")))) {
    rc = tarn_http_reply_error(resp, 400, "invalid_argument",
                               "dsn, table, query, name, mode, incremental_column and infinity are "
                               "strings; readers is an integer");
    goto out;
  }
  if (o.dsn == NULL || o.name == NULL) {
    rc = tarn_http_reply_error(resp, 400, "invalid_argument", "%s is required",
                               o.dsn == NULL ? "dsn" : "name");
    goto out;
  }
  if (tarn_ingest_parse_mode(mode, &o.append, &err) != 0 ||
      (inf != NULL && strcmp(inf, "null") != 0 && strcmp(inf, "error") != 0)) {
    rc = tarn_http_reply_error(resp, 400, "invalid_argument", "%s",
                               err.code ? tarn_error_message(&err)
                                        : "infinity is \"error\" or \"null\"");
    goto out;
  }
  o.infinity_null = inf != NULL && strcmp(inf, "null") == 0;
  if (json_object_get(body, "readers")) { /* absent: chosen by the table's size */
    json_int_t n = json_integer_value(json_object_get(body, "readers"));
    if (n < 1 || n > 16) {
      rc = tarn_http_reply_error(resp, 400, "invalid_argument",
                                 "readers is 1 to 16 (leave it out to let the table's size "
                                 "decide), not %lld",
                                 (long long)n);
      goto out;
    }
    o.readers = (int)n;
  }
  if (mode == NULL && o.incremental_column != NULL)
    o.append = 1; /* incremental runs append what is new; mode=replace starts again */
  snprintf(uc.name, sizeof(uc.name), "%s", o.name);
  snprintf(uc.actor, sizeof(uc.actor), "%s", req->token_name != NULL ? req->token_name : "local");
  o.restricted = 1; /* the DSN is the client's: never this server's sockets or credentials */
  o.allowed_hosts = is->db_hosts;
  o.memory_budget = (size_t)is->budget;
  o.admit = admit;
  o.admit_arg = &uc;
  rc = open_env(is, &cat, &env, &err);
  if (rc == 0)
    rc = tarn_ingest_pg(&env, &o, &r, &err);
  tarn_metric_observe(is->m_duration, NULL, (double)(tarn_clock_mono_ns() - t0) / 1e9);
  if (rc != 0) {
    json_t *e;
    const char *code = tarn_pg_ingest_error(rc, r.sqlstate, &status);
    outcome = rc == TARN_ESCHEMA               ? "schema_mismatch"
              : rc == TARN_ECONFLICT           ? "conflict"
              : rc == TARN_EBUSY               ? "busy"
              : rc == TARN_ETOOBIG             ? "too_large"
              : status == 400 || status == 403 ? "invalid"
                                               : "failed";
    if (rc == TARN_EBUSY)
      tarn_http_add_header(resp, "Retry-After", "5", NULL);
    if (status == 502 && r.sqlstate[0] == '\0' && rc != TARN_ECORRUPT) {
      rc = reply_backend(resp, &err); /* the store or the catalog */
      goto out;
    }
    e = json_pack("{s:s,s:s}", "code", code, "message", tarn_error_message(&err));
    if (e != NULL && r.sqlstate[0])
      json_object_set_new(e, "sqlstate", json_string(r.sqlstate));
    if (e != NULL && r.drift != NULL)
      json_object_set(e, "drift", r.drift);
    rc = tarn_http_reply_json(resp, status, json_pack("{s:o}", "error", e));
    tarn_log_warn("postgres ingest refused", "name=%s outcome=%s error=%s sqlstate=%s detail=%s",
                  uc.name, outcome, code, r.sqlstate[0] ? r.sqlstate : "-",
                  tarn_error_message(&err));
    goto out;
  }
  answer = tarn_pg_ingest_result_json(&r, o.append);
  outcome = r.existing ? "existing" : r.created ? "created" : o.append ? "appended" : "replaced";
  if (is->journal != NULL && !r.existing) {
    tarn_journal_ingest in;
    tarn_journal_ack ack;
    char source[300], sha[65];
    const char *base = strrchr(r.parquet_key, '/');
    snprintf(source, sizeof(source), "postgres:%s", o.table ? o.table : "query");
    snprintf(sha, sizeof(sha), "%.64s", base ? base + 1 : "");
    memset(&in, 0, sizeof(in));
    in.dataset = uc.name;
    in.snapshot_id = r.snapshot_id;
    in.rows = r.row_count;
    in.source = source;
    in.sha256 = sha;
    in.outcome = outcome;
    in.actor = uc.actor;
    if (tarn_journal_record_ingest(is->journal, &in, &ack, &err) != 0)
      tarn_log_warn("ingest committed; its journal event was not recorded", "name=%s error=%s",
                    uc.name, tarn_error_message(&err));
  }
  if (!r.existing) {
    tarn_metric_add(is->m_bytes, NULL, (double)r.bytes);
    tarn_metric_add(is->m_rows, NULL, (double)r.row_count);
  }
  if (tarn_dataset_manifest(&env, uc.name, &manifest, &err) != 0)
    manifest = NULL;
  json_object_set_new(answer, "manifest", manifest ? manifest : json_null());
  rc = tarn_http_reply_json(resp, 200, answer);
out:
  if (is->m_total != NULL)
    tarn_metric_add(is->m_total, (const char *[]){outcome}, 1);
  if (uc.reserved)
    budget_give(&uc);
  tarn_pg_ingest_result_free(&r);
  json_decref(body);
  tarn_catalog_destroy(cat);
  return rc;
}

/* ---- registration ---- */

int tarn_http_add_ingest_routes(tarn_http_server *srv, const tarn_http_ingest_options *o,
                                tarn_error *err) {
  tarn_http_route routes[] = {
      {"GET", "/catalog/datasets", on_list, NULL, 0, 0, TARN_HTTP_SCOPE_READ, NULL},
      {"GET", "/catalog/datasets/{name}", on_show, NULL, 0, 0, TARN_HTTP_SCOPE_READ, NULL},
      {"POST", "/catalog/datasets/{name}/resync", on_resync, NULL, 0, 0, TARN_HTTP_SCOPE_WRITE,
       NULL},
      {"POST", "/catalog/resync-missing", on_resync_missing, NULL, 0, 0, TARN_HTTP_SCOPE_WRITE,
       NULL},
      {"POST", "/ingest/db", on_ingest_db, NULL, 1u << 20, 0, TARN_HTTP_SCOPE_WRITE, NULL},
  };
  tarn_http_route up = {
      "POST", "/ingest", NULL, NULL, 0, 0, TARN_HTTP_SCOPE_WRITE, "name,mode,delimiter"};
  tarn_metrics *reg = srv->opts.metrics;
  ingest_srv *is;
  size_t i;
  int rc;
  if (o->store == NULL || o->root_uri == NULL || o->spool_dir == NULL || o->open_catalog == NULL ||
      o->max_upload == 0)
    return tarn_error_set(err, TARN_EINVAL,
                          "ingest routes need a store, a root URI, a spool "
                          "directory, a catalog opener and a non-zero upload cap");
  is = tarn_calloc(1, sizeof(*is));
  if (is == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory registering ingest routes");
  is->root_uri = tarn_strdup(o->root_uri);
  is->spool_dir = tarn_strdup(o->spool_dir);
  if (is->root_uri == NULL || is->spool_dir == NULL) {
    ingest_srv_free(is);
    return tarn_error_set(err, TARN_ENOMEM, "out of memory registering ingest routes");
  }
  rc = tarn__http_server_own(srv, is, ingest_srv_free, err);
  if (rc != 0) {
    ingest_srv_free(is);
    return rc;
  }
  is->store = o->store;
  is->io.store = o->store;
  is->io.root_uri = is->root_uri;
  is->max_upload = o->max_upload;
  is->threads = o->threads;
  is->budget = o->memory_budget ? o->memory_budget : TARN_INGEST_MEMORY_BUDGET;
  is->max_memory = o->max_memory;
  is->queue_ms = o->queue_timeout_ms;
  is->journal = o->journal;
  if (o->db_hosts != NULL && (is->db_hosts = tarn_strdup(o->db_hosts)) == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory registering ingest routes");
  pthread_mutex_init(&is->mu, NULL);
  {
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&is->freed, &ca);
    pthread_condattr_destroy(&ca);
  }
  is->open_catalog = o->open_catalog;
  is->open_catalog_arg = o->open_catalog_arg;
  if (reg != NULL) {
    is->m_total = tarn_metrics_counter(
        reg, "tarn_ingest_total",
        "CSV ingests by outcome: created, replaced, appended, existing, schema_mismatch, "
        "invalid, conflict, too_large, busy, failed, aborted.",
        "outcome");
    is->m_bytes = tarn_metrics_counter(reg, "tarn_ingest_bytes_total",
                                       "CSV bytes of ingests that committed data.", NULL);
    is->m_rows = tarn_metrics_counter(reg, "tarn_ingest_rows_total",
                                      "Rows of ingests that committed data.", NULL);
    is->m_duration = tarn_metrics_histogram(
        reg, "tarn_ingest_duration_seconds",
        "Time to ingest a spooled upload: both passes over the CSV and the commit.", NULL,
        duration_buckets, sizeof(duration_buckets) / sizeof(duration_buckets[0]));
    if (!is->m_total || !is->m_bytes || !is->m_rows || !is->m_duration)
      return tarn_error_set(err, TARN_ENOMEM, "cannot register ingest metrics");
  }
  for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
    routes[i].ud = is;
    if ((rc = tarn_http_server_route(srv, &routes[i], err)) != 0)
      return rc;
  }
  up.ud = is;
  up.max_body = o->max_upload > SIZE_MAX ? SIZE_MAX : (size_t)o->max_upload;
  return tarn_http_server_route_stream(srv, &up, &ingest_ops, err);
}
