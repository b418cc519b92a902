/* ingest.c - CSV → Parquet → Iceberg: inference pass, conversion pass, content-addressed commit. */
#include "ingest.h"

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
#include "base/log.h"
#include "ingest_int.h"

/*
 * Memory. An ingest works within its budget (tarn_ingest_options.memory_budget) whatever
 * the file's shape: each column costs a fixed amount (the Parquet writer's column state,
 * its dictionary table, statistics, inference), and what is left is shared between the
 * Parquet row group being built (and the slack of its growing buffers) and the batches of
 * typed values handed to the writer, whose row count shrinks as columns grow. A file
 * whose columns alone would not fit is refused up front (TARN_ETOOBIG).
 */
#define BATCH_ROWS 65536        /* at most, per batch */
#define BATCH_BYTES (32u << 20) /* string bytes per batch, at most */
#define BATCH_ROWS_MIN 16
#define COL_FIXED                                                                                  \
  12288 /* bytes a column costs whatever the rows (measured: about
                                          11 KB with the Parquet writer's state) */
#define ROW_GROUP_MAX ((size_t)64 << 20)

typedef struct plan {
  int64_t batch_rows;
  size_t batch_bytes, row_group;
  size_t need; /* what the conversion may use: the fixed part, and the rest as far as a
                  file of this size can fill it (values and pages are a few times the CSV) */
} plan;

static int make_plan(const tarn_ingest_options *o, const tarn_ingest_result *r, uint64_t csv_bytes,
                     plan *p, tarn_error *err) {
  size_t budget = o->memory_budget ? o->memory_budget : TARN_INGEST_MEMORY_BUDGET;
  size_t sets = o->threads >= 2 ? 2 : 1, per_row = 1, fixed, rest, share, i;
  fixed = r->ncols * COL_FIXED;
  for (i = 0; i < r->ncols; i++) /* a row's bytes in a batch, validity bits included */
    per_row += 1 + (r->cols[i].type == TARN_CSV_DATE      ? 4
                    : r->cols[i].type == TARN_CSV_BOOLEAN ? 1
                                                          : 8);
  rest = fixed < budget ? budget - fixed : 0;
  p->row_group = rest / 4 < ROW_GROUP_MAX ? rest / 4 : ROW_GROUP_MAX;
  share = rest / 4 / sets; /* values and string bytes of one batch set */
  p->batch_rows = (int64_t)(share / 2 / per_row);
  if (p->batch_rows > BATCH_ROWS)
    p->batch_rows = BATCH_ROWS;
  p->batch_bytes = share / 2 < BATCH_BYTES ? share / 2 : BATCH_BYTES;
  if (p->batch_rows < BATCH_ROWS_MIN || p->row_group < ((size_t)1 << 20))
    return tarn_error_set(err, TARN_ETOOBIG,
                          "the file's %zu columns need more memory than an ingest may use: "
                          "about %zu MiB at least, and [ingest] memory_budget is %zu MiB",
                          r->ncols,
                          (fixed + sets * 2 * BATCH_ROWS_MIN * per_row + (4u << 20)) * 4 / 3 >> 20,
                          budget >> 20);
  p->need = fixed + (csv_bytes < rest / 4 ? (size_t)csv_bytes * 4 + ((size_t)8 << 20) : rest);
  if (p->need > budget)
    p->need = budget;
  return 0;
}
#define COPY_CHUNK (1u << 20)

void tarn_ingest_options_init(tarn_ingest_options *o) {
  memset(o, 0, sizeof(*o));
  o->delimiter = 0; /* detect */
  o->codec = TARN_PQ_SNAPPY;
  o->source = "upload";
}

void tarn_ingest_result_init(tarn_ingest_result *r) {
  memset(r, 0, sizeof(*r));
  r->snapshot_id = -1;
}

void tarn_ingest_result_free(tarn_ingest_result *r) {
  size_t i;
  if (r == NULL)
    return;
  for (i = 0; r->names != NULL && i < r->ncols; i++)
    tarn_free(r->names[i]);
  tarn_free(r->names);
  tarn_free(r->cols);
  json_decref(r->drift);
  tarn_ingest_result_init(r);
}

int tarn_dataset_name_check(const char *name, tarn_error *err) {
  size_t i, n = name ? strlen(name) : 0;
  if (n == 0 || n > TARN_DATASET_NAME_MAX)
    return tarn_error_set(err, TARN_EINVAL,
                          "dataset name must be 1 to %d characters of "
                          "[a-z0-9_] (got %zu characters)",
                          TARN_DATASET_NAME_MAX, n);
  for (i = 0; i < n; i++) {
    char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
      return tarn_error_set(err, TARN_EINVAL,
                            "dataset name \"%.128s\": character %zu is not "
                            "one of [a-z0-9_]",
                            name, i + 1);
  }
  return 0;
}

/* ---- pass 1 source: reads the fd, hashes every byte, reports progress ---- */

typedef struct hashing_src {
  int fd;
  tarn_sha256 *sha; /* NULL in pass 2 */
  uint64_t bytes;
  const tarn_ingest_options *o;
  int phase;
} hashing_src;

static int src_read(void *ctx, void *dst, size_t n, size_t *got, tarn_error *err) {
  hashing_src *s = ctx;
  ssize_t r;
  do
    r = read(s->fd, dst, n);
  while (r < 0 && errno == EINTR);
  if (r < 0)
    return tarn_error_sys(err, TARN_EIO, errno, "reading the CSV");
  *got = (size_t)r;
  s->bytes += (uint64_t)r;
  if (s->sha != NULL && r > 0)
    return tarn_sha256_update(s->sha, dst, (size_t)r, err);
  return 0;
}

/* ---- type mapping ---- */

static tarn_ice_type_id ice_type_of(tarn_csv_type t) {
  switch (t) {
  case TARN_CSV_BOOLEAN: return TARN_ICE_BOOLEAN;
  case TARN_CSV_INT64: return TARN_ICE_LONG;
  case TARN_CSV_FLOAT64: return TARN_ICE_DOUBLE;
  case TARN_CSV_DATE: return TARN_ICE_DATE;
  case TARN_CSV_TIMESTAMP: return TARN_ICE_TIMESTAMP;
  case TARN_CSV_TIMESTAMPTZ: return TARN_ICE_TIMESTAMPTZ;
  default: return TARN_ICE_STRING;
  }
}

/* The CSV type name of an Iceberg column; NULL when none maps. */
const char *tarn__ingest_csv_type_of(const tarn_ice_type *t) {
  switch (t->id) {
  case TARN_ICE_BOOLEAN: return "boolean";
  case TARN_ICE_LONG: return "int64";
  case TARN_ICE_DOUBLE: return "float64";
  case TARN_ICE_DATE: return "date";
  case TARN_ICE_TIMESTAMP: return "timestamp";
  case TARN_ICE_TIMESTAMPTZ: return "timestamptz";
  case TARN_ICE_STRING: return "string";
  default: return NULL;
  }
}

void tarn__ingest_type_name(const tarn_ice_type *t, char *dst, size_t n) {
  const char *c = tarn__ingest_csv_type_of(t);
  if (c != NULL)
    snprintf(dst, n, "%s", c);
  else
    tarn_ice_type_format(t, dst, n);
}

static int build_schema(const tarn_ingest_result *r, tarn_ice_schema *s, tarn_error *err) {
  size_t i;
  s->schema_id = 0;
  s->nfields = 0;
  s->fields = tarn_calloc(r->ncols ? r->ncols : 1, sizeof(*s->fields));
  if (s->fields == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  for (i = 0; i < r->ncols; i++) {
    tarn_ice_field *f = &s->fields[i];
    f->id = (int32_t)i + 1;
    f->name = tarn_strdup(r->names[i]);
    s->nfields = i + 1;
    if (f->name == NULL)
      return tarn_error_set(err, TARN_ENOMEM, "out of memory");
    /* every column optional: a later upload with the same fingerprint may hold nulls
     * where this one has none (nullability is not part of the fingerprint) */
    f->required = 0;
    f->type.id = ice_type_of(r->cols[i].type);
  }
  return 0;
}

/* ---- drift ---- */

/* {"expected": fp, "actual": fp, "added": [{name,type}], "removed": [...],
 *  "retyped": [{name, from, to}], "reordered": bool} */
json_t *tarn__ingest_drift(const tarn_ice_schema *old, const char *old_fp,
                           const tarn__ingest_shape *sh) {
  json_t *d = json_pack("{s:s,s:s,s:[],s:[],s:[]}", "expected", old_fp ? old_fp : "", "actual",
                        sh->fingerprint, "added", "removed", "retyped");
  size_t i, j;
  int reordered = 0;
  char ot[48];
  if (d == NULL)
    return NULL;
  for (i = 0; i < sh->n; i++) {
    const tarn_ice_field *f = tarn_ice_schema_field_by_name(old, sh->names[i]);
    const char *nt = sh->types[i];
    if (f == NULL) {
      json_array_append_new(json_object_get(d, "added"),
                            json_pack("{s:s,s:s}", "name", sh->names[i], "type", nt));
      continue;
    }
    tarn__ingest_type_name(&f->type, ot, sizeof(ot));
    if (strcmp(ot, nt) != 0)
      json_array_append_new(json_object_get(d, "retyped"),
                            json_pack("{s:s,s:s,s:s}", "name", sh->names[i], "from", ot, "to", nt));
    if (i >= old->nfields || strcmp(old->fields[i].name, sh->names[i]) != 0)
      reordered = 1;
  }
  for (j = 0; j < old->nfields; j++) {
    int found = 0;
    for (i = 0; i < sh->n && !found; i++)
      found = strcmp(old->fields[j].name, sh->names[i]) == 0;
    if (!found) {
      tarn__ingest_type_name(&old->fields[j].type, ot, sizeof(ot));
      json_array_append_new(json_object_get(d, "removed"),
                            json_pack("{s:s,s:s}", "name", old->fields[j].name, "type", ot));
    }
  }
  json_object_set_new(d, "reordered", json_boolean(reordered));
  return d;
}

/* The CSV result's shape; types is an array of r->ncols the caller frees. */
static int csv_shape(const tarn_ingest_options *o, const tarn_ingest_result *r,
                     tarn__ingest_shape *sh, tarn_error *err) {
  const char **types = tarn_calloc(r->ncols ? r->ncols : 1, sizeof(*types));
  size_t i;
  if (types == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  for (i = 0; i < r->ncols; i++)
    types[i] = tarn_csv_type_name(r->cols[i].type);
  sh->name = o->name;
  sh->source = o->source ? o->source : "upload";
  sh->fingerprint = r->fingerprint;
  sh->n = r->ncols;
  sh->names = (const char *const *)r->names;
  sh->types = types;
  return 0;
}

static json_t *drift_report(const tarn_ice_schema *old, const char *old_fp,
                            const tarn_ingest_result *r) {
  tarn__ingest_shape sh;
  tarn_ingest_options o;
  json_t *d;
  memset(&sh, 0, sizeof(sh));
  tarn_ingest_options_init(&o);
  if (csv_shape(&o, r, &sh, NULL) != 0)
    return NULL;
  d = tarn__ingest_drift(old, old_fp, &sh);
  tarn_free((void *)sh.types);
  return d;
}

/* ---- pass 2: columns to Arrow arrays ---- */

/* One column of a batch: the CSV type its fields convert from, and the Parquet column
 * builder they land in. */
typedef struct colbuf {
  tarn_csv_type type;
  tarn_pq_builder b;
} colbuf;

static void colbufs_free(colbuf *c, size_t n) {
  size_t i;
  for (i = 0; c != NULL && i < n; i++)
    tarn_pq_builder_free(&c[i].b);
  tarn_free(c);
}

static int colbufs_alloc(colbuf **out, const tarn_ingest_result *r, const tarn_pq_schema *pq,
                         const plan *pl, tarn_error *err) {
  colbuf *c = tarn_calloc(r->ncols ? r->ncols : 1, sizeof(*c));
  /* a column whose strings took a big buffer once gives it back after its batch, so that
   * many columns each peaking once cannot add up past the budget */
  size_t i, keep = pl->batch_bytes / (r->ncols ? r->ncols : 1) + (64u << 10);
  *out = NULL;
  if (c == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  for (i = 0; i < r->ncols; i++) {
    c[i].type = r->cols[i].type;
    if (tarn_pq_builder_init(&c[i].b, &pq->cols[i], pl->batch_rows, keep, err) != 0) {
      colbufs_free(c, r->ncols);
      return TARN_ENOMEM;
    }
  }
  *out = c;
  return 0;
}

/* Puts field text of row `row` (within the batch) into column buffer c. */
static int put_field(colbuf *c, int64_t row, const tarn_csv_field *f, const tarn_csv_record *rec,
                     size_t col, const char *name, tarn_error *err) {
  tarn_csv_value v;
  if (tarn_csv_convert(c->type, f->ptr, f->len, &v) != 0)
    return tarn_error_set(err, TARN_EINVAL,
                          "line %llu, column %zu (\"%s\"): \"%.*s\" is not a %s; the file "
                          "changed between the two passes over it",
                          (unsigned long long)tarn_csv_field_line(rec, col), col + 1, name,
                          (int)(f->len > 64 ? 64 : f->len), f->ptr, tarn_csv_type_name(c->type));
  if (v.is_null) {
    tarn_pq_builder_null(&c->b, row);
    return 0;
  }
  switch (c->type) {
  case TARN_CSV_BOOLEAN: {
    uint8_t bv = (uint8_t)(v.v.b != 0);
    tarn_pq_builder_fixed(&c->b, row, &bv);
    return 0;
  }
  case TARN_CSV_DATE: tarn_pq_builder_fixed(&c->b, row, &v.v.day); return 0;
  case TARN_CSV_FLOAT64: tarn_pq_builder_fixed(&c->b, row, &v.v.d); return 0;
  case TARN_CSV_STRING: return tarn_pq_builder_bytes(&c->b, row, v.v.s.ptr, v.v.s.len, err);
  default: /* int64, timestamps */ tarn_pq_builder_fixed(&c->b, row, &v.v.i); return 0;
  }
}

static int flush_batch(tarn_pq_writer *pw, colbuf *c, size_t ncols, int64_t rows, tarn_error *err) {
  tarn_pq_array *arr = tarn_calloc(ncols ? ncols : 1, sizeof(*arr));
  tarn_pq_batch b;
  size_t i;
  int rc;
  if (arr == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  for (i = 0; i < ncols; i++)
    tarn_pq_builder_array(&c[i].b, rows, &arr[i]);
  b.nrows = rows;
  b.ncols = ncols;
  b.cols = arr;
  rc = tarn_pq_writer_write(pw, &b, err);
  tarn_free(arr);
  for (i = 0; i < ncols; i++) /* for the next batch */
    tarn_pq_builder_reset(&c[i].b);
  return rc;
}

/* Hashes bytes [h->done, end) of fd with pread (the descriptor's offset is not moved). */
static int hash_upto(int fd, tarn__ingest_hash *h, uint64_t end, char *buf, tarn_error *err) {
  while (h->done < end) {
    size_t want = end - h->done < COPY_CHUNK ? (size_t)(end - h->done) : COPY_CHUNK;
    ssize_t n = pread(fd, buf, want, (off_t)h->done);
    int rc;
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return tarn_error_sys(err, TARN_EIO, n < 0 ? errno : EIO,
                            "reading the spool file at offset %llu", (unsigned long long)h->done);
    if ((rc = tarn_sha256_update(h->sha, buf, (size_t)n, err)) != 0)
      return rc;
    h->done += (uint64_t)n;
  }
  return 0;
}

/*
 * With two threads (tarn_ingest_options.threads >= 2) pass 2 is a pipeline of two stages
 * over two sets of column buffers: the ingesting thread parses and converts rows into one
 * set while a writer thread encodes the other into Parquet (dictionaries, statistics,
 * compression, writes). A set goes back and forth under one mutex; the writer's first
 * failure stops both. Only the writer thread touches the Parquet writer between open and
 * close.
 */
typedef struct writer_pipe {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  tarn_pq_writer *pw;
  size_t ncols;
  colbuf *sets[2];
  int64_t rows[2]; /* > 0: the set is the writer's, with that many rows */
  int done;        /* the ingesting thread has handed over its last set */
  int rc;          /* the writer's failure, with err */
  tarn_error err;
  /* The writer also hashes what it has written so far, so that publishing only hashes
   * the last row group and the footer. */
  int spool_fd;
  tarn__ingest_hash *hash;
  char *hbuf;
} writer_pipe;

static void *writer_main(void *arg) {
  writer_pipe *wp = arg;
  int k = 0, rc = 0;
  for (;;) {
    int64_t rows;
    pthread_mutex_lock(&wp->mu);
    while (wp->rows[k] == 0 && !wp->done)
      pthread_cond_wait(&wp->cv, &wp->mu);
    rows = wp->rows[k];
    pthread_mutex_unlock(&wp->mu);
    if (rows == 0)
      break; /* done, and nothing left */
    rc = flush_batch(wp->pw, wp->sets[k], wp->ncols, rows, &wp->err);
    if (rc == 0) {
      struct stat st;
      if (fstat(wp->spool_fd, &st) != 0)
        rc = tarn_error_sys(&wp->err, TARN_EIO, errno, "the spool file");
      else
        rc = hash_upto(wp->spool_fd, wp->hash, (uint64_t)st.st_size, wp->hbuf, &wp->err);
    }
    pthread_mutex_lock(&wp->mu);
    wp->rows[k] = 0;
    if (rc != 0)
      wp->rc = rc;
    pthread_cond_broadcast(&wp->cv);
    pthread_mutex_unlock(&wp->mu);
    if (rc != 0)
      break;
    k ^= 1;
  }
  return NULL;
}

/* Hands set k (rows rows) to the writer and waits until set k^1 is free. Returns the
 * writer's failure, if any, with its detail in err. */
static int pipe_hand_over(writer_pipe *wp, int k, int64_t rows, tarn_error *err) {
  int rc;
  pthread_mutex_lock(&wp->mu);
  wp->rows[k] = rows;
  pthread_cond_broadcast(&wp->cv);
  while (wp->rows[k ^ 1] != 0 && wp->rc == 0)
    pthread_cond_wait(&wp->cv, &wp->mu);
  rc = wp->rc;
  pthread_mutex_unlock(&wp->mu);
  if (rc != 0 && err != NULL)
    *err = wp->err;
  return rc;
}

/* Pass 2: the CSV again, into a Parquet file written to spool_fd. */
static int convert(int fd, const tarn_ingest_options *o, const tarn_ingest_result *r,
                   const plan *plp, const tarn_ice_schema *schema, int spool_fd,
                   tarn__ingest_hash *hash, tarn_pq_file_info *info, tarn_error *err) {
  tarn_csv_options copt;
  tarn_csv_source src;
  hashing_src hs;
  tarn_csv_reader *rd = NULL;
  tarn_pq_writer *pw = NULL;
  tarn_pq_writer_options po;
  tarn_pq_schema pq;
  colbuf *sets[2] = {NULL, NULL}, *cb;
  writer_pipe wp;
  pthread_t writer;
  int started = 0, k = 0, piped = o->threads >= 2;
  const tarn_csv_record *rec;
  int64_t row = 0, total = 0;
  size_t i, data_bytes = 0;
  plan pl = *plp;
  int rc;
  memset(&pq, 0, sizeof(pq));
  memset(&wp, 0, sizeof(wp));
  if (lseek(fd, 0, SEEK_SET) < 0)
    return tarn_error_sys(err, TARN_EIO, errno, "rewinding the CSV");
  tarn_csv_options_init(&copt);
  copt.delimiter = r->delimiter;
  copt.max_columns = TARN_PQ_MAX_COLUMNS; /* a dataset is one Parquet file */
  if (o->max_field)
    copt.max_field = o->max_field;
  memset(&hs, 0, sizeof(hs));
  hs.fd = fd;
  hs.o = o;
  hs.phase = 2;
  src.read = src_read;
  src.ctx = &hs;
  rc = tarn_csv_reader_create(&rd, &src, &copt, err);
  if (rc == 0)
    rc = tarn_ice_schema_to_parquet(schema, &pq, err);
  if (rc != 0)
    goto out;
  memset(&po, 0, sizeof(po));
  po.codec = o->codec;
  po.row_group_size = pl.row_group; /* keeps a row group's pages, and so RSS, bounded */
  rc = tarn_pq_writer_open_fd(spool_fd, &pq, &po, &pw, err);
  if (rc == 0)
    rc = colbufs_alloc(&sets[0], r, &pq, &pl, err);
  if (rc == 0 && piped)
    rc = colbufs_alloc(&sets[1], r, &pq, &pl, err);
  if (rc == 0 && piped && (wp.hbuf = tarn_malloc(COPY_CHUNK)) == NULL)
    rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
  if (rc == 0 && piped) {
    wp.spool_fd = spool_fd;
    wp.hash = hash;
    pthread_mutex_init(&wp.mu, NULL);
    pthread_cond_init(&wp.cv, NULL);
    wp.pw = pw;
    wp.ncols = r->ncols;
    wp.sets[0] = sets[0];
    wp.sets[1] = sets[1];
    if (pthread_create(&writer, NULL, writer_main, &wp) != 0) {
      pthread_mutex_destroy(&wp.mu);
      pthread_cond_destroy(&wp.cv);
      rc = tarn_error_set(err, TARN_ENOMEM, "cannot start the Parquet writer thread");
    } else {
      started = 1;
    }
  }
  cb = sets[0];
  while (rc == 0) {
    rc = tarn_csv_next(rd, &rec, err);
    if (rc != 0 || rec == NULL)
      break;
    for (i = 0; i < r->ncols && rc == 0; i++)
      rc = put_field(&cb[i], row, &rec->fields[i], rec, i, r->names[i], err);
    if (rc != 0)
      break;
    row++;
    total++;
    for (i = 0; i < r->ncols; i++)
      if (cb[i].type == TARN_CSV_STRING)
        data_bytes += rec->fields[i].len;
    if (row == pl.batch_rows || data_bytes >= pl.batch_bytes) {
      if (piped) {
        rc = pipe_hand_over(&wp, k, row, err);
        k ^= 1;
        cb = sets[k];
      } else {
        rc = flush_batch(pw, cb, r->ncols, row, err);
      }
      row = 0;
      data_bytes = 0;
      if (o->progress != NULL)
        o->progress(2, hs.bytes, (uint64_t)total, o->progress_arg);
    }
  }
  if (rc == 0 && row > 0) {
    if (piped)
      rc = pipe_hand_over(&wp, k, row, err);
    else
      rc = flush_batch(pw, cb, r->ncols, row, err);
  }
  if (started) { /* the writer finishes what it holds, or stops at its failure */
    pthread_mutex_lock(&wp.mu);
    wp.done = 1;
    pthread_cond_broadcast(&wp.cv);
    pthread_mutex_unlock(&wp.mu);
    pthread_join(writer, NULL);
    pthread_mutex_destroy(&wp.mu);
    pthread_cond_destroy(&wp.cv);
    if (rc == 0 && wp.rc != 0) {
      rc = wp.rc;
      if (err != NULL)
        *err = wp.err;
    }
  }
  if (rc == 0) {
    rc = tarn_pq_writer_close(pw, info, err);
    pw = NULL;
  }
  if (rc == 0 && o->progress != NULL)
    o->progress(2, hs.bytes, (uint64_t)total, o->progress_arg);
out:
  tarn_pq_writer_abort(pw);
  colbufs_free(sets[0], r->ncols);
  colbufs_free(sets[1], r->ncols);
  tarn_free(wp.hbuf);
  tarn_pq_schema_free(&pq);
  tarn_csv_reader_destroy(rd);
  return rc;
}

/* Calls fn on the whole file at fd, COPY_CHUNK bytes at a time, from its start. */
static int each_chunk(int fd, char *buf,
                      int (*fn)(void *ctx, const char *p, size_t n, tarn_error *err), void *ctx,
                      tarn_error *err) {
  ssize_t n;
  int rc = 0;
  if (lseek(fd, 0, SEEK_SET) < 0)
    return tarn_error_sys(err, TARN_EIO, errno, "rewinding the spool file");
  while (rc == 0 && (n = read(fd, buf, COPY_CHUNK)) != 0) {
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return tarn_error_sys(err, TARN_EIO, errno, "reading the spool file");
    }
    rc = fn(ctx, buf, (size_t)n, err);
  }
  return rc;
}

static int write_chunk(void *ctx, const char *p, size_t n, tarn_error *err) {
  return tarn_store_writer_write(ctx, p, n, err);
}

/*
 * A put-if-absent of a content-addressed key said "exists": fine when the object there
 * has our size (its name is the SHA-256 of its bytes). Anything else, e.g. a store that
 * reports EEXIST because a file sits where a folder of the key must be, is an error: a
 * commit must never reference an object that is not there.
 */
static int check_existing(const tarn_ingest_env *env, const char *key, uint64_t size,
                          const tarn_error *cause, tarn_error *err) {
  tarn_store_stat st;
  tarn_error e, why; /* `cause` may be `err` itself: keep its text before overwriting */
  tarn_error_clear(&why);
  if (cause != NULL)
    why = *cause;
  if (tarn_store_head(env->io->store, key, &st, &e) != 0)
    return tarn_error_set(err, TARN_EIO, "storing %s: %s", key, tarn_error_message(&why));
  if (st.size != size)
    return tarn_error_set(err, TARN_ECORRUPT,
                          "storing %s: an object of %llu bytes is already there, not the "
                          "%llu bytes whose SHA-256 names it",
                          key, (unsigned long long)st.size, (unsigned long long)size);
  return 0;
}

/* Hashes the spooled Parquet file (`size` bytes; `hash` covers a prefix of it already)
 * and copies it to `key` in the store (put-if-absent; identical content already there is
 * fine). */
int tarn__ingest_publish(const tarn_ingest_env *env, int spool_fd, uint64_t size,
                         tarn__ingest_hash *hash, const char *table_data_key, char *key,
                         size_t keylen, tarn_error *err) {
  uint8_t digest[TARN_SHA256_LEN];
  char hex[TARN_SHA256_HEX_LEN];
  tarn_store_writer *w = NULL;
  char *buf = tarn_malloc(COPY_CHUNK);
  int rc;
  if (buf == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  rc = hash_upto(spool_fd, hash, size, buf, err);
  if (rc == 0)
    rc = tarn_sha256_final(hash->sha, digest, err);
  if (rc != 0)
    goto out;
  tarn_hex(digest, sizeof(digest), hex);
  {
    int kl = snprintf(key, keylen, "%s/%s.parquet", table_data_key, hex);
    if (kl < 0 || (size_t)kl >= keylen) {
      rc = tarn_error_set(err, TARN_ETOOBIG, "data file key under %s is too long", table_data_key);
      goto out;
    }
  }
  rc = tarn_store_writer_open(env->io->store, key, TARN_STORE_IF_ABSENT, &w, err);
  if (rc == TARN_EEXIST) { /* the same bytes are stored already: content addressing */
    rc = check_existing(env, key, size, err, err);
    goto out;
  }
  if (rc == 0)
    rc = each_chunk(spool_fd, buf, write_chunk, w, err);
  if (rc == 0) {
    rc = tarn_store_writer_commit(w, err);
    w = NULL;
    if (rc == TARN_EEXIST) /* the same bytes are stored already: content addressing */
      rc = check_existing(env, key, size, err, err);
  }
out:
  tarn_store_writer_abort(w);
  tarn_free(buf);
  return rc;
}

/* The columns property: [{"name","type","nullable"}], nullability OR-ed with `prev`. */
static char *columns_json(const tarn_ingest_result *r, const char *prev) {
  json_t *a = json_array(), *old = NULL;
  char *text;
  size_t i, j;
  if (prev != NULL)
    old = json_loads(prev, 0, NULL);
  for (i = 0; a != NULL && i < r->ncols; i++) {
    int nullable = r->cols[i].nullable;
    for (j = 0; json_is_array(old) && j < json_array_size(old); j++) {
      json_t *c = json_array_get(old, j);
      if (json_is_string(json_object_get(c, "name")) &&
          strcmp(json_string_value(json_object_get(c, "name")), r->names[i]) == 0 &&
          json_is_true(json_object_get(c, "nullable")))
        nullable = 1;
    }
    json_array_append_new(a, json_pack("{s:s,s:s,s:b}", "name", r->names[i], "type",
                                       tarn_csv_type_name(r->cols[i].type), "nullable", nullable));
  }
  json_decref(old);
  text = a ? json_dumps(a, JSON_COMPACT) : NULL;
  json_decref(a);
  return text;
}

/* An integer of the current snapshot's summary ("total-records"); -1 when absent. */
int64_t tarn__ingest_summary_int(const tarn_ice_metadata *m, const char *key) {
  const tarn_ice_snapshot *s = tarn_ice_metadata_snapshot(m, m->current_snapshot_id);
  size_t i;
  for (i = 0; s != NULL && i < s->nsummary; i++)
    if (strcmp(s->summary[i].key, key) == 0)
      return strtoll(s->summary[i].value, NULL, 10);
  return -1;
}

/*
 * Whether the dataset at metadata m already holds exactly what this ingest would commit:
 * the same CSV bytes as its last ingest, and for a replace, that file alone (after an
 * append of it, replacing with it still has to drop the earlier rows). A retried append
 * must not add the rows twice. On 1, r describes the existing data.
 */
static int already_ingested(const tarn_ice_metadata *m, const tarn_ingest_options *o,
                            tarn_ingest_result *r) {
  const char *sha = tarn_ice_metadata_property(m, "tarn.source-sha256");
  const char *k = tarn_ice_metadata_property(m, "tarn.parquet-key");
  const char *sz = tarn_ice_metadata_property(m, "tarn.parquet-size");
  if (sha == NULL || strcmp(sha, r->source_sha256) != 0 || k == NULL)
    return 0;
  if (!o->append && (tarn__ingest_summary_int(m, "total-data-files") != 1 ||
                     tarn__ingest_summary_int(m, "total-records") != r->row_count))
    return 0;
  r->existing = 1;
  snprintf(r->parquet_key, sizeof(r->parquet_key), "%s", k);
  r->parquet_size = sz ? strtoll(sz, NULL, 10) : 0;
  r->snapshot_id = m->current_snapshot_id;
  return 1;
}

/* What the commit check needs; see commit_check. */
typedef struct ingest_commit {
  const tarn_ingest_options *o;
  tarn_ingest_result *r;
  const char *name;
  int64_t file_size;
} ingest_commit;

/*
 * Runs inside every attempt of the dataset's commit, on the metadata the swap replaces:
 * the schema check, the "identical content" check and the properties that depend on
 * what is there (row total, columns' nullability) are decided there, never before, so
 * concurrent ingests get the answers they would get one after the other.
 */
static int commit_check(void *arg, const tarn_ice_metadata *base, tarn_ice_metadata *next,
                        tarn_error *err) {
  ingest_commit *ic = arg;
  const tarn_ingest_options *o = ic->o;
  tarn_ingest_result *r = ic->r;
  const char *fp = tarn_ice_metadata_property(base, "tarn.fingerprint");
  char rows_text[32], size_text[32], delim_text[2] = {r->delimiter, '\0'}, *cols_text;
  tarn_ice_kv props[18];
  int64_t total;
  int rc;
  if (fp == NULL || strcmp(fp, r->fingerprint) != 0) {
    json_decref(r->drift);
    r->drift = drift_report(tarn_ice_metadata_schema(base, base->current_schema_id), fp, r);
    return tarn_error_set(err, TARN_ESCHEMA,
                          "dataset %s has schema %s; this file has %s (nothing was written)",
                          ic->name, fp ? fp : "(none)", r->fingerprint);
  }
  if (already_ingested(base, o, r))
    return TARN_EALREADY;
  /* "created" is the commit that gives the dataset its first data, whichever request
   * made the empty table */
  r->created = base->current_snapshot_id < 0;
  cols_text = columns_json(r, o->append ? tarn_ice_metadata_property(base, "tarn.columns") : NULL);
  if (cols_text == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  total = r->row_count;
  if (o->append && tarn__ingest_summary_int(base, "total-records") > 0)
    total += tarn__ingest_summary_int(base, "total-records");
  snprintf(rows_text, sizeof(rows_text), "%lld", (long long)total);
  snprintf(size_text, sizeof(size_text), "%lld", (long long)ic->file_size);
  props[0] = (tarn_ice_kv){"tarn.fingerprint", r->fingerprint};
  props[1] = (tarn_ice_kv){"tarn.source", (char *)(o->source ? o->source : "upload")};
  props[2] = (tarn_ice_kv){"tarn.source-sha256", r->source_sha256};
  props[3] = (tarn_ice_kv){"tarn.columns", cols_text};
  props[4] = (tarn_ice_kv){"tarn.row-count", rows_text};
  props[5] = (tarn_ice_kv){"tarn.parquet-key", r->parquet_key};
  props[6] = (tarn_ice_kv){"tarn.parquet-size", size_text};
  props[7] = (tarn_ice_kv){"tarn.delimiter", delim_text};
  /* a Postgres ingest's lineage no longer describes the last ingest; its incremental mark
   * survives an append but not a replace of the rows it counted */
  props[8] = (tarn_ice_kv){"tarn.pg.host", NULL};
  props[9] = (tarn_ice_kv){"tarn.pg.port", NULL};
  props[10] = (tarn_ice_kv){"tarn.pg.database", NULL};
  props[11] = (tarn_ice_kv){"tarn.pg.user", NULL};
  props[12] = (tarn_ice_kv){"tarn.pg.table", NULL};
  props[13] = (tarn_ice_kv){"tarn.pg.query", NULL};
  props[14] = (tarn_ice_kv){"tarn.pg.snapshot-time", NULL};
  props[15] = (tarn_ice_kv){"tarn.pg.row-count", NULL};
  props[16] = (tarn_ice_kv){"tarn.pg.incremental-column", NULL};
  props[17] = (tarn_ice_kv){"tarn.pg.high-water-mark", NULL};
  rc = tarn_ice_metadata_set_properties(next, props, o->append ? 16 : 18, err);
  tarn_free(cols_text);
  return rc;
}

/* With two threads, pass 1 hashes the CSV on a helper thread that reads the file on its
 * own (pread, from the page cache) while the caller's thread parses and infers. */
typedef struct csv_hasher {
  int fd;
  tarn__ingest_hash h;
  int rc;
  tarn_error err;
} csv_hasher;

static void *csv_hasher_main(void *arg) {
  csv_hasher *ch = arg;
  char *buf = tarn_malloc(COPY_CHUNK);
  struct stat st;
  if (buf == NULL)
    ch->rc = tarn_error_set(&ch->err, TARN_ENOMEM, "out of memory");
  else if (fstat(ch->fd, &st) != 0)
    ch->rc = tarn_error_sys(&ch->err, TARN_EIO, errno, "the CSV");
  else
    ch->rc = hash_upto(ch->fd, &ch->h, (uint64_t)st.st_size, buf, &ch->err);
  tarn_free(buf);
  return NULL;
}

/* How a delimiter is named in messages. */
static const char *delim_name(char d) {
  return d == '\t' ? "tab" : d == ';' ? "';'" : d == '|' ? "'|'" : "','";
}

/*
 * Decides the delimiter from the file's first 64 KiB: detected when none was given; a
 * given one that leaves the header in one piece while another splits it is refused, since
 * a one-column dataset of whole lines is never what was meant.
 */
static int choose_delimiter(int fd, const tarn_ingest_options *o, tarn_ingest_result *r,
                            tarn_error *err) {
  char *buf = tarn_malloc(64 << 10);
  ssize_t n;
  size_t cols = 0;
  char best;
  if (buf == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  do
    n = pread(fd, buf, 64 << 10, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    tarn_free(buf);
    return tarn_error_sys(err, TARN_EIO, errno, "reading the CSV");
  }
  best = tarn_csv_sniff_delimiter(buf, (size_t)n, n < (64 << 10), &cols);
  if (o->delimiter == 0) {
    r->delimiter = best;
    r->delimiter_detected = 1;
  } else {
    r->delimiter = o->delimiter;
    if (best != o->delimiter && cols > 1 &&
        tarn_csv_header_columns(buf, (size_t)n, o->delimiter) <= 1) {
      tarn_free(buf);
      return tarn_error_set(err, TARN_EINVAL,
                            "line 1: the delimiter %s splits nothing in the header, while %s "
                            "splits it into %zu columns: try --delimiter %s (delimiter=%s over "
                            "HTTP), or leave it out to detect it",
                            delim_name(o->delimiter), delim_name(best), cols, delim_name(best),
                            best == '\t'  ? "tab"
                            : best == ';' ? "%3B"
                            : best == '|' ? "%7C"
                                          : "%2C");
    }
  }
  tarn_free(buf);
  return 0;
}

/* Pass 1: infers types and fingerprints. Fills r->names, r->cols, r->row_count, hashes. */
static int infer(int fd, const tarn_ingest_options *o, tarn_ingest_result *r, tarn_error *err) {
  tarn_csv_options copt;
  tarn_csv_source src;
  hashing_src hs;
  tarn_csv_reader *rd = NULL;
  tarn_csv_infer *inf = NULL;
  tarn_csv_type *types = NULL;
  const tarn_csv_record *rec;
  uint8_t digest[TARN_SHA256_LEN];
  const char *const *names;
  csv_hasher ch;
  pthread_t hasher;
  int hashing = 0;
  size_t i;
  int rc;
  memset(&hs, 0, sizeof(hs));
  memset(&ch, 0, sizeof(ch));
  hs.fd = fd;
  hs.o = o;
  hs.phase = 1;
  if (lseek(fd, 0, SEEK_SET) < 0)
    return tarn_error_sys(err, TARN_EIO, errno, "the CSV must be a seekable file");
  rc = choose_delimiter(fd, o, r, err);
  if (rc != 0)
    return rc;
  rc = tarn_sha256_create(&hs.sha, err);
  if (rc != 0)
    return rc;
  if (o->threads >= 2) { /* the helper owns the hash until it is joined */
    ch.fd = fd;
    ch.h.sha = hs.sha;
    hs.sha = NULL;
    if (pthread_create(&hasher, NULL, csv_hasher_main, &ch) == 0) {
      hashing = 1;
    } else { /* hash inline instead */
      hs.sha = ch.h.sha;
      ch.h.sha = NULL;
    }
  }
  tarn_csv_options_init(&copt);
  copt.delimiter = r->delimiter;
  copt.max_columns = TARN_PQ_MAX_COLUMNS; /* a dataset is one Parquet file */
  if (o->max_field)
    copt.max_field = o->max_field;
  src.read = src_read;
  src.ctx = &hs;
  rc = tarn_csv_reader_create(&rd, &src, &copt, err);
  if (rc == 0)
    rc = tarn_csv_infer_create(&inf, tarn_csv_reader_ncols(rd), err);
  while (rc == 0) {
    rc = tarn_csv_next(rd, &rec, err);
    if (rc != 0 || rec == NULL)
      break;
    tarn_csv_infer_record(inf, rec);
    r->row_count++;
    if (o->progress != NULL && (r->row_count & 0xffff) == 0)
      o->progress(1, hs.bytes, (uint64_t)r->row_count, o->progress_arg);
  }
  if (hashing) {
    pthread_join(hasher, NULL);
    hs.sha = ch.h.sha;
    if (rc == 0 && ch.rc != 0) {
      rc = ch.rc;
      if (err != NULL)
        *err = ch.err;
    }
  }
  if (rc != 0)
    goto out;
  if (o->progress != NULL)
    o->progress(1, hs.bytes, (uint64_t)r->row_count, o->progress_arg);
  /* the reader pulled every byte to the end of the file, so the hash covers it all */
  rc = tarn_sha256_final(hs.sha, digest, err);
  if (rc != 0)
    goto out;
  tarn_hex(digest, sizeof(digest), r->source_sha256);
  r->ncols = tarn_csv_reader_ncols(rd);
  names = tarn_csv_reader_names(rd);
  r->names = tarn_calloc(r->ncols, sizeof(*r->names));
  r->cols = tarn_calloc(r->ncols, sizeof(*r->cols));
  types = tarn_calloc(r->ncols, sizeof(*types));
  if (r->names == NULL || r->cols == NULL || types == NULL) {
    rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
    goto out;
  }
  for (i = 0; i < r->ncols; i++) {
    r->names[i] = tarn_strdup(names[i]);
    if (r->names[i] == NULL) {
      rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
      goto out;
    }
    tarn_csv_infer_column(inf, i, &r->cols[i]);
    types[i] = r->cols[i].type;
  }
  rc = tarn_csv_fingerprint((const char *const *)r->names, types, r->ncols, r->fingerprint, err);
out:
  tarn_free(types);
  tarn_csv_infer_destroy(inf);
  tarn_csv_reader_destroy(rd);
  tarn_sha256_destroy(hs.sha);
  return rc;
}

/* The folder's last component, for messages that may reach clients. */
static const char *base_name(const char *dir) {
  const char *slash = strrchr(dir, '/');
  return slash != NULL && slash[1] != '\0' ? slash + 1 : dir;
}

/* Makes `dir` a directory of ours: created when missing; a non-directory in the way is
 * renamed aside (and a directory of someone else's making is used as it is). */
static int spool_dir_ready(const char *dir, tarn_error *err) {
  struct stat sb;
  char aside[PATH_MAX];
  int e;
  if (mkdir(dir, 0700) == 0)
    return 0;
  e = errno;
  if (e != EEXIST)
    return tarn_error_sys(err, tarn_code_from_errno(e), e, "creating the spool folder %s",
                          base_name(dir));
  if (lstat(dir, &sb) == 0 && S_ISDIR(sb.st_mode))
    return 0;
  if (snprintf(aside, sizeof(aside), "%s.blocked-%lld", dir, (long long)tarn_clock_wall_us()) >=
          (int)sizeof(aside) ||
      rename(dir, aside) != 0)
    return tarn_error_sys(err, TARN_EIO, errno,
                          "the spool folder %s is not a folder and cannot "
                          "be moved aside",
                          base_name(dir));
  tarn_log_warn("something that was not a folder was in the way of the spool folder; moved "
                "aside",
                "spool=%s moved_to=%s", dir, aside);
  if (mkdir(dir, 0700) != 0 && errno != EEXIST)
    return tarn_error_sys(err, tarn_code_from_errno(errno), errno, "creating the spool folder %s",
                          base_name(dir));
  return 0;
}

int tarn_ingest_spool_open(const char *dir, tarn_error *err) {
  char path[PATH_MAX];
  int fd, rc = spool_dir_ready(dir, err);
  if (rc != 0)
    return -1;
  /* O_TMPFILE: a file without a name, so nothing is ever left behind */
  fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0)
    return fd;
  if (snprintf(path, sizeof(path), "%s/spool-XXXXXX", dir) >= (int)sizeof(path)) {
    tarn_error_set(err, TARN_EINVAL, "spool folder path too long");
    return -1;
  }
  fd = mkostemp(path, O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    tarn_error_sys(err, tarn_code_from_errno(e) == TARN_ENOSPC ? TARN_ENOSPC : TARN_EIO, e,
                   "creating a spool file in the spool folder %s", base_name(dir));
    return -1;
  }
  unlink(path);
  return fd;
}

/* A first ingest creates the table (and the namespace); when a concurrent first ingest
 * won that race, its table is loaded and must have this shape's fingerprint (else
 * TARN_ESCHEMA with *drift). */
int tarn__ingest_create_table(const tarn_ingest_env *env, const tarn__ingest_shape *sh,
                              const tarn_ice_schema *schema, tarn_table **t, json_t **drift,
                              tarn_error *err) {
  tarn_ice_kv props[2] = {{"tarn.fingerprint", (char *)sh->fingerprint},
                          {"tarn.source", (char *)sh->source}};
  const char *fp;
  int rc = tarn_catalog_create_namespace(env->cat, TARN_DATASETS_NAMESPACE, NULL, 0, err);
  if (rc == TARN_EEXIST)
    rc = 0;
  if (rc == 0)
    rc = tarn_table_create(env->cat, env->io, TARN_DATASETS_NAMESPACE, sh->name, schema, NULL, NULL,
                           props, 2, NULL, t, err);
  if (rc == TARN_EEXIST) /* a concurrent first ingest won: carry on as a re-ingest */
    rc = tarn_table_load(env->cat, env->io, TARN_DATASETS_NAMESPACE, sh->name, t, err);
  if (rc != 0)
    return rc;
  fp = tarn_ice_metadata_property(tarn_table_metadata(*t), "tarn.fingerprint");
  if (strcmp(fp ? fp : "", sh->fingerprint) != 0) {
    *drift = tarn__ingest_drift(tarn_table_schema(*t), fp, sh);
    return tarn_error_set(err, TARN_ESCHEMA,
                          "dataset %s was created concurrently with another schema (nothing "
                          "was written)",
                          sh->name);
  }
  return 0;
}

int tarn__ingest_data_prefix(const tarn_ingest_env *env, tarn_table *t, char *key, size_t n,
                             tarn_error *err) {
  int rc;
  if (n < 96)
    return tarn_error_set(err, TARN_EINVAL, "data key buffer too small");
  rc = tarn_table_io_key(env->io, tarn_table_metadata(t)->location, key, n - 80, err);
  if (rc == 0)
    memcpy(key + strlen(key), "/data", sizeof("/data")); /* 80 bytes were kept */
  return rc;
}

int tarn__ingest_commit(const tarn_ingest_env *env, tarn_table *t, int append, const char *key,
                        const tarn_pq_file_info *info, const tarn_ice_kv *summary, size_t nsummary,
                        tarn_table_commit_check check, void *arg, tarn_ice_data_file *df,
                        tarn_table_commit_result *cres, tarn_error *err) {
  size_t ul = strlen(env->io->root_uri) + strlen(key) + 1;
  int rc;
  df->file_path = tarn_malloc(ul);
  df->file_format = tarn_strdup("PARQUET");
  if (df->file_path == NULL || df->file_format == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  snprintf(df->file_path, ul, "%s%s", env->io->root_uri, key);
  df->content = TARN_ICE_CONTENT_DATA;
  df->sort_order_id = -1;
  df->record_count = info->record_count;
  df->file_size = info->file_size;
  rc = tarn_ice_stats_from_parquet(tarn_table_schema(t), info, 16, &df->stats, &df->nstats, err);
  if (rc != 0)
    return rc;
  memset(cres, 0, sizeof(*cres));
  /* On failure the data file stays: it is named by its content, so another ingest of the
   * same bytes may have committed a reference to it meanwhile. An unreferenced one is left
   * to the orphan sweep (tarn table remove-orphans). */
  return tarn_table_commit_files(t, !append, 0, NULL, df, 1, summary, nsummary, check, arg, cres,
                                 err);
}

/* The data-file entry and the commit: snapshot and properties together, decided inside
 * the compare-and-swap (commit_check). When a concurrent ingest of the same bytes
 * committed first, r->existing is set and nothing is committed. */
static int commit_data(const tarn_ingest_env *env, const tarn_ingest_options *o,
                       tarn_ingest_result *r, tarn_table *t, const tarn_pq_file_info *info,
                       tarn_ice_data_file *df, tarn_error *err) {
  tarn_ice_kv summary[2];
  tarn_table_commit_result cres;
  ingest_commit ic = {o, r, o->name, info->file_size};
  int rc;
  summary[0] = (tarn_ice_kv){"tarn.source", (char *)(o->source ? o->source : "upload")};
  summary[1] = (tarn_ice_kv){"tarn.source-sha256", r->source_sha256};
  rc = tarn__ingest_commit(env, t, o->append, r->parquet_key, info, summary, 2, commit_check, &ic,
                           df, &cres, err);
  if (rc != 0)
    return rc;
  if (!cres.committed) { /* a concurrent ingest of the same bytes committed first */
    tarn_log_info("dataset ingest found identical content", "name=%s snapshot_id=%lld", o->name,
                  (long long)r->snapshot_id);
    return 0;
  }
  r->snapshot_id = cres.snapshot_id;
  return 0;
}

int tarn_ingest_csv(const tarn_ingest_env *env, int fd, const tarn_ingest_options *o,
                    tarn_ingest_result *r, tarn_error *err) {
  tarn_table *t = NULL;
  tarn_ice_schema schema;
  tarn_pq_file_info info;
  tarn_ice_data_file df;
  char table_key[TARN_STORE_KEY_MAX + 1];
  plan pl;
  int spool_fd = -1, rc;
  tarn__ingest_hash ph = {NULL, 0}; /* of the Parquet spool file */
  memset(&schema, 0, sizeof(schema));
  memset(&info, 0, sizeof(info));
  memset(&df, 0, sizeof(df));
  tarn_buf_init(&df.partition_buf, TARN_BUF_UNLIMITED);
  rc = tarn_dataset_name_check(o->name, err);
  if (rc != 0)
    return rc;
  rc = infer(fd, o, r, err);
  if (rc != 0 || o->infer_only)
    return rc;

  /* The existing dataset decides: drift, identical content, or go. */
  rc = tarn_table_load(env->cat, env->io, TARN_DATASETS_NAMESPACE, o->name, &t, err);
  if (rc == TARN_ENOTFOUND) {
    rc = 0;
    t = NULL;
  }
  if (rc != 0)
    goto out;
  if (t != NULL) {
    const tarn_ice_metadata *m = tarn_table_metadata(t);
    const char *fp = tarn_ice_metadata_property(m, "tarn.fingerprint");
    if (fp == NULL || strcmp(fp, r->fingerprint) != 0) {
      r->drift = drift_report(tarn_table_schema(t), fp, r);
      rc = tarn_error_set(err, TARN_ESCHEMA,
                          "dataset %s has schema %s; this file has %s (nothing was written)",
                          o->name, fp ? fp : "(none)", r->fingerprint);
      goto out;
    }
    /* The same bytes as the last ingest: skip the conversion. This early answer only
     * saves work; the commit decides again on the state it replaces (commit_check). */
    if (already_ingested(m, o, r))
      goto out;
  }

  /* Pass 2 into a spool file, then into the store under its content hash, within the
   * memory the plan needs (which the caller may have to wait for). */
  {
    struct stat sb;
    rc = make_plan(o, r, fstat(fd, &sb) == 0 ? (uint64_t)sb.st_size : 0, &pl, err);
    if (rc == 0 && o->admit != NULL)
      rc = o->admit(o->admit_arg, pl.need, err);
  }
  if (rc == 0)
    rc = build_schema(r, &schema, err);
  if (rc != 0)
    goto out;
  spool_fd = tarn_ingest_spool_open(env->spool_dir, err);
  if (spool_fd < 0) {
    rc = err != NULL && err->code != 0 ? err->code : TARN_EIO;
    goto out;
  }
  rc = tarn_sha256_create(&ph.sha, err);
  if (rc == 0)
    rc = convert(fd, o, r, &pl, &schema, spool_fd, &ph, &info, err);
  if (rc == TARN_ENOSPC) /* the input was read; what could not be written is ours */
    tarn_error_prefix(err, "writing the Parquet spool file in the spool folder %s",
                      base_name(env->spool_dir));
  if (rc != 0)
    goto out;
  if (t == NULL) {
    tarn__ingest_shape sh;
    memset(&sh, 0, sizeof(sh));
    rc = csv_shape(o, r, &sh, err);
    if (rc == 0)
      rc = tarn__ingest_create_table(env, &sh, &schema, &t, &r->drift, err);
    tarn_free((void *)sh.types);
    if (rc != 0)
      goto out;
  }
  rc = tarn__ingest_data_prefix(env, t, table_key, sizeof(table_key), err);
  if (rc != 0)
    goto out;
  rc = tarn__ingest_publish(env, spool_fd, (uint64_t)info.file_size, &ph, table_key, r->parquet_key,
                            sizeof(r->parquet_key), err);
  if (rc != 0)
    goto out;
  r->parquet_size = info.file_size;

  rc = commit_data(env, o, r, t, &info, &df, err);
  if (rc != 0 || r->existing)
    goto out;
  tarn_log_info("dataset ingested", "name=%s rows=%lld parquet_bytes=%lld key=%s mode=%s", o->name,
                (long long)r->row_count, (long long)r->parquet_size, r->parquet_key,
                o->append ? "append" : "replace");
out:
  if (spool_fd >= 0)
    close(spool_fd);
  tarn_sha256_destroy(ph.sha);
  tarn_ice_data_file_free(&df);
  tarn_pq_file_info_free(&info);
  tarn_ice_schema_free(&schema);
  tarn_table_close(t);
  return rc;
}
