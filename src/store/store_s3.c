/* store_s3.c - the S3 backend: objects in a bucket of AWS S3 or a compatible server. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "base/log.h"
#include "store/s3_int.h"

/*
 * Requests go through tarn__s3_do (s3_request.c), which signs, retries and maps errors.
 * This file turns the store interface into S3 calls: small puts are one PUT, big ones a
 * multipart upload whose parts are sent while the writer fills them; reads are GETs,
 * listing is ListObjectsV2. README.md beside this file has the details and the
 * differences between servers.
 */

#define DEFAULT_THRESHOLD ((size_t)16 << 20)
#define DEFAULT_PART ((size_t)8 << 20)
#define DEFAULT_ATTEMPTS 3u
#define DEFAULT_CONNECT_MS 5000u
#define DEFAULT_REQUEST_MS 60000u
#define LIST_PAGE_MAX 1000u /* S3 returns at most 1000 keys per ListObjectsV2 call */

static const tarn_store_ops s3_ops;
static const tarn_store_writer_ops s3_writer_ops;

/* ---- keys ---- */

/* Prepends the store prefix. S3 keys are at most 1024 bytes, prefix included. */
static int full_key(const tarn__s3_store *s3, const char *key, char *dst, const char *op,
                    tarn_error *err) {
  size_t pl = strlen(s3->prefix), kl = strlen(key);
  if (pl + kl > TARN__S3_KEY_MAX)
    return tarn_error_set(err, TARN_EBADKEY,
                          "%s: with the store prefix '%.64s' the S3 key is %zu bytes, over "
                          "S3's %d-byte limit (key starts '%.64s')",
                          op, s3->prefix, pl + kl, TARN__S3_KEY_MAX, key);
  memcpy(dst, s3->prefix, pl);
  memcpy(dst + pl, key, kl + 1);
  return 0;
}

static void req_init(tarn__s3_req *rq, const char *method, const char *op, const char *key) {
  memset(rq, 0, sizeof(*rq));
  rq->method = method;
  rq->op = op;
  rq->key = key;
}

/* HEAD of a full key; fills size and mtime. */
static int head_full(tarn__s3_store *s3, const char *fk, const char *op, tarn_store_stat *st,
                     tarn_error *err) {
  tarn__s3_req rq;
  int rc;
  req_init(&rq, "HEAD", op, fk);
  rc = tarn__s3_do(s3, &rq, err);
  if (rc != 0)
    return rc;
  if (rq.content_length < 0)
    return tarn_error_set(err, TARN_ECORRUPT, "%s s3://%s/%s: response has no Content-Length", op,
                          s3->bucket, fk);
  st->size = (uint64_t)rq.content_length;
  st->mtime_us = rq.mtime_us;
  return 0;
}

/* ---- writer ---- */

typedef struct s3_writer {
  tarn_store_writer base;
  tarn__s3_store *s3;
  char key[TARN__S3_KEY_MAX + 1]; /* full key */
  unsigned flags;
  tarn_buf buf;    /* the whole object below the threshold, then the part being filled */
  char *upload_id; /* NULL until a multipart upload starts */
  char **etags;    /* ETag of part i + 1 */
  unsigned nparts, cap;
  int failed; /* sticky tarn_code of a failed write */
} s3_writer;

static void writer_free(s3_writer *sw) {
  unsigned i;
  for (i = 0; i < sw->nparts; i++)
    tarn_free(sw->etags[i]);
  tarn_free(sw->etags);
  tarn_free(sw->upload_id);
  tarn_buf_free(&sw->buf);
  tarn_free(sw);
}

/* Query "uploadId=ID" (and "partNumber=N" first when part > 0) into q. */
static int upload_query(const s3_writer *sw, unsigned part, tarn_buf *q, tarn_error *err) {
  char num[16];
  tarn__s3_param p[2];
  size_t n = 0;
  if (part > 0) {
    snprintf(num, sizeof(num), "%u", part);
    p[n].name = "partNumber";
    p[n++].value = num;
  }
  p[n].name = "uploadId";
  p[n++].value = sw->upload_id;
  return tarn__s3_query(q, p, n, err);
}

/* AbortMultipartUpload, best effort: a failure is logged (the parts then stay until a
 * bucket lifecycle rule removes them). */
static void abort_upload(s3_writer *sw) {
  tarn__s3_req rq;
  tarn_buf q;
  tarn_error e;
  int rc;
  if (sw->upload_id == NULL)
    return;
  tarn_buf_init(&q, 4096);
  rc = upload_query(sw, 0, &q, &e);
  if (rc == 0) {
    req_init(&rq, "DELETE", "AbortMultipartUpload", sw->key);
    rq.query = q.data;
    rc = tarn__s3_do(sw->s3, &rq, &e);
    if (rc == TARN_ENOTFOUND)
      rc = 0; /* already gone */
  }
  if (rc != 0)
    tarn_log_warn("s3 multipart upload not aborted; its parts stay until removed",
                  "bucket=%s key=%s upload_id=%s error=%s", sw->s3->bucket, sw->key, sw->upload_id,
                  tarn_error_message(&e));
  tarn_buf_free(&q);
  tarn_free(sw->upload_id);
  sw->upload_id = NULL;
}

static int start_upload(s3_writer *sw, tarn_error *err) {
  tarn__s3_req rq;
  tarn_buf body;
  int rc;
  tarn_buf_init(&body, TARN__S3_XMLBODY_MAX);
  req_init(&rq, "POST", "CreateMultipartUpload", sw->key);
  rq.query = "uploads="; /* not "uploads": curl 7.88 would sign it differently */
  rq.content_type = "application/octet-stream";
  rq.out = &body;
  rc = tarn__s3_do(sw->s3, &rq, err);
  if (rc == 0) {
    rc = tarn__s3_xml_text(body.data, body.len, "UploadId", 4096, &sw->upload_id, err);
    if (rc == 0 && (sw->upload_id == NULL || sw->upload_id[0] == '\0')) {
      tarn_free(sw->upload_id);
      sw->upload_id = NULL;
      rc = tarn_error_set(err, TARN_ECORRUPT,
                          "CreateMultipartUpload s3://%s/%s: response has no <UploadId>",
                          sw->s3->bucket, sw->key);
    }
  }
  tarn_buf_free(&body);
  return rc;
}

/* UploadPart of p[0,n) as the next part; keeps its ETag for the completion. */
static int upload_part(s3_writer *sw, const char *p, size_t n, tarn_error *err) {
  tarn__s3_req rq;
  tarn_buf q;
  unsigned part = sw->nparts + 1;
  int rc;
  if (part > TARN__S3_MAX_PARTS)
    return tarn_error_set(err, TARN_ETOOBIG,
                          "put s3://%s/%s: more than %u parts of %zu bytes; raise part_size",
                          sw->s3->bucket, sw->key, TARN__S3_MAX_PARTS, sw->s3->part_size);
  if (sw->nparts == sw->cap) {
    unsigned ncap = sw->cap ? sw->cap * 2 : 16;
    char **ne = tarn_reallocarray(sw->etags, ncap, sizeof(*ne));
    if (ne == NULL)
      return tarn_error_set(err, TARN_ENOMEM, "put s3://%s/%s: out of memory", sw->s3->bucket,
                            sw->key);
    sw->etags = ne;
    sw->cap = ncap;
  }
  tarn_buf_init(&q, 4096);
  rc = upload_query(sw, part, &q, err);
  if (rc == 0) {
    req_init(&rq, "PUT", "UploadPart", sw->key);
    rq.query = q.data;
    rq.body = p;
    rq.body_len = n;
    rc = tarn__s3_do(sw->s3, &rq, err);
  }
  if (rc == 0 && rq.etag[0] == '\0')
    rc = tarn_error_set(err, TARN_ECORRUPT,
                        "UploadPart s3://%s/%s: part %u came back without an ETag", sw->s3->bucket,
                        sw->key, part);
  if (rc == 0) {
    sw->etags[sw->nparts] = tarn_strdup(rq.etag);
    if (sw->etags[sw->nparts] == NULL)
      rc = tarn_error_set(err, TARN_ENOMEM, "put s3://%s/%s: out of memory", sw->s3->bucket,
                          sw->key);
    else
      sw->nparts++;
  }
  tarn_buf_free(&q);
  return rc;
}

/* Starts the multipart upload once the threshold is reached, then sends every full part
 * in the buffer and keeps the rest. */
static int flush_parts(s3_writer *sw, tarn_error *err) {
  size_t off = 0, ps = sw->s3->part_size;
  int rc;
  if (sw->upload_id == NULL) {
    if (sw->buf.len < sw->s3->threshold)
      return 0;
    rc = start_upload(sw, err);
    if (rc != 0)
      return rc;
  }
  while (sw->buf.len - off >= ps) {
    rc = upload_part(sw, sw->buf.data + off, ps, err);
    if (rc != 0)
      return rc;
    off += ps;
  }
  if (off > 0) {
    memmove(sw->buf.data, sw->buf.data + off, sw->buf.len - off);
    sw->buf.len -= off;
    sw->buf.data[sw->buf.len] = '\0';
  }
  return 0;
}

static int s3_writer_open(tarn_store *st, const char *key, unsigned flags, tarn_store_writer **out,
                          tarn_error *err) {
  tarn__s3_store *s3 = (tarn__s3_store *)st;
  s3_writer *sw = NULL;
  tarn_store_stat stat;
  int rc;
  *out = NULL;
  sw = tarn_calloc(1, sizeof(*sw));
  if (sw == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "put '%s': cannot allocate writer", key);
  sw->base.ops = &s3_writer_ops;
  sw->s3 = s3;
  sw->flags = flags;
  tarn_buf_init(&sw->buf, s3->threshold > s3->part_size ? s3->threshold : s3->part_size);
  rc = full_key(s3, key, sw->key, "put", err);
  if (rc != 0)
    goto fail;
  if (flags & TARN_STORE_IF_ABSENT) {
    /* early check, to save the upload; the conditional request at commit is what counts */
    rc = head_full(s3, sw->key, "HEAD", &stat, err);
    if (rc == 0) {
      rc = tarn_error_set(err, TARN_EEXIST, "put-if-absent s3://%s/%s: key already exists",
                          s3->bucket, sw->key);
      goto fail;
    }
    if (rc != TARN_ENOTFOUND)
      goto fail;
  }
  *out = &sw->base;
  return 0;
fail:
  writer_free(sw);
  return rc;
}

/* Buffers; whenever the buffer reaches the threshold (before the upload starts) or a part
 * (after), sends what is full. Memory stays at most max(threshold, part_size). */
static int s3_writer_write(tarn_store_writer *w, const void *p, size_t n, tarn_error *err) {
  s3_writer *sw = (s3_writer *)w;
  const char *c = p;
  int rc;
  if (sw->failed)
    return tarn_error_set(err, sw->failed, "put s3://%s/%s: writer failed earlier; abort it",
                          sw->s3->bucket, sw->key);
  while (n > 0) {
    size_t limit = sw->upload_id != NULL ? sw->s3->part_size : sw->s3->threshold;
    size_t room = limit > sw->buf.len ? limit - sw->buf.len : 0;
    size_t take = n < room ? n : room;
    rc = tarn_buf_append(&sw->buf, c, take, err);
    if (rc == 0 && sw->buf.len >= limit)
      rc = flush_parts(sw, err);
    if (rc != 0) {
      sw->failed = rc;
      return rc;
    }
    c += take;
    n -= take;
  }
  return 0;
}

static int complete_upload(s3_writer *sw, tarn_error *err) {
  tarn__s3_req rq;
  tarn_buf q, body, resp;
  unsigned i;
  int rc;
  tarn_buf_init(&q, 4096);
  tarn_buf_init(&body, TARN_BUF_UNLIMITED);
  tarn_buf_init(&resp, TARN__S3_XMLBODY_MAX);
  rc = upload_query(sw, 0, &q, err);
  if (rc == 0)
    rc = tarn_buf_append_str(
        &body, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">", err);
  for (i = 0; i < sw->nparts && rc == 0; i++) {
    rc = tarn_buf_appendf(&body, err, "<Part><PartNumber>%u</PartNumber><ETag>", i + 1);
    if (rc == 0)
      rc = tarn__s3_xml_escape(&body, sw->etags[i], err);
    if (rc == 0)
      rc = tarn_buf_append_str(&body, "</ETag></Part>", err);
  }
  if (rc == 0)
    rc = tarn_buf_append_str(&body, "</CompleteMultipartUpload>", err);
  if (rc == 0) {
    req_init(&rq, "POST", "CompleteMultipartUpload", sw->key);
    rq.query = q.data;
    rq.body = body.data;
    rq.body_len = body.len;
    rq.content_type = "application/xml";
    /* AWS makes the completion conditional; RGW ignores the header here (README.md) */
    rq.if_none_match = (sw->flags & TARN_STORE_IF_ABSENT) ? "*" : NULL;
    rq.out = &resp;
    rq.error_in_200 = 1;
    rc = tarn__s3_do(sw->s3, &rq, err);
    if (rc == TARN_EEXIST)
      tarn_error_prefix(err, "put-if-absent: key already exists");
  }
  tarn_buf_free(&resp);
  tarn_buf_free(&body);
  tarn_buf_free(&q);
  return rc;
}

/* Single PUT below the threshold; else the last part and CompleteMultipartUpload. Any
 * failure aborts the multipart upload, so no parts are left behind. Frees the writer. */
static int s3_writer_commit(tarn_store_writer *w, tarn_error *err) {
  s3_writer *sw = (s3_writer *)w;
  tarn__s3_store *s3 = sw->s3;
  tarn_store_stat stat;
  int rc;
  if (sw->failed) {
    rc = tarn_error_set(err, sw->failed, "put s3://%s/%s: commit after a failed write; aborted",
                        s3->bucket, sw->key);
    goto out;
  }
  if (sw->upload_id == NULL) {
    tarn__s3_req rq;
    req_init(&rq, "PUT", "PUT", sw->key);
    rq.body = sw->buf.data;
    rq.body_len = sw->buf.len;
    rq.content_type = "application/octet-stream";
    rq.if_none_match = (sw->flags & TARN_STORE_IF_ABSENT) ? "*" : NULL;
    rc = tarn__s3_do(s3, &rq, err);
    if (rc == TARN_EEXIST)
      tarn_error_prefix(err, "put-if-absent: key already exists");
    goto out;
  }
  if (sw->buf.len > 0 || sw->nparts == 0) {
    rc = upload_part(sw, sw->buf.data ? sw->buf.data : "", sw->buf.len, err);
    if (rc != 0)
      goto out;
  }
  if (sw->flags & TARN_STORE_IF_ABSENT) {
    rc = head_full(s3, sw->key, "HEAD", &stat, err);
    if (rc == 0) {
      rc = tarn_error_set(err, TARN_EEXIST, "put-if-absent s3://%s/%s: key already exists",
                          s3->bucket, sw->key);
      goto out;
    }
    if (rc != TARN_ENOTFOUND)
      goto out;
  }
  rc = complete_upload(sw, err);
  if (rc == 0) {
    tarn_free(sw->upload_id); /* completed: nothing to abort */
    sw->upload_id = NULL;
  }
out:
  abort_upload(sw); /* no-op unless a multipart upload is still open */
  writer_free(sw);
  return rc;
}

static void s3_writer_abort(tarn_store_writer *w) {
  s3_writer *sw = (s3_writer *)w;
  abort_upload(sw);
  writer_free(sw);
}

/* ---- reads ---- */

static int s3_get(tarn_store *st, const char *key, tarn_buf *out, tarn_error *err) {
  tarn__s3_store *s3 = (tarn__s3_store *)st;
  char fk[TARN__S3_KEY_MAX + 1];
  tarn__s3_req rq;
  int rc = full_key(s3, key, fk, "get", err);
  if (rc != 0)
    return rc;
  req_init(&rq, "GET", "GET", fk);
  rq.out = out; /* the cap is checked against Content-Length before the body arrives */
  rc = tarn__s3_do(s3, &rq, err);
  return rc != 0 ? rc : tarn_buf_reserve(out, 0, err); /* terminated even when empty */
}

/* Appends min(len, size - off) bytes; off past the end is TARN_ERANGE and off == size an
 * empty read, as on local disk (S3 answers 416 to both; a HEAD tells them apart). */
static int s3_get_range(tarn_store *st, const char *key, uint64_t off, uint64_t len, tarn_buf *out,
                        tarn_error *err) {
  tarn__s3_store *s3 = (tarn__s3_store *)st;
  char fk[TARN__S3_KEY_MAX + 1];
  char range[64];
  tarn__s3_req rq;
  tarn_store_stat stat = {0}; /* (gcc -O2+ cannot see that a failed head_full returns non-zero) */
  uint64_t last;
  int rc = full_key(s3, key, fk, "get", err);
  if (rc != 0)
    return rc;
  if (len > 0) {
    last = len - 1 > UINT64_MAX - off ? UINT64_MAX : off + (len - 1);
    snprintf(range, sizeof(range), "bytes=%llu-%llu", (unsigned long long)off,
             (unsigned long long)last);
    req_init(&rq, "GET", "GET", fk);
    rq.range = range;
    rq.out = out;
    rq.out_skip = off; /* used only if a server ignores Range and sends 200 */
    rq.out_limit = len;
    rc = tarn__s3_do(s3, &rq, err);
    if (rc == 0)
      return tarn_buf_reserve(out, 0, err);
    if (rc != TARN_ERANGE)
      return rc;
  }
  rc = head_full(s3, fk, "HEAD", &stat, err);
  if (rc != 0)
    return rc;
  if (off > stat.size)
    return tarn_error_set(err, TARN_ERANGE,
                          "GET s3://%s/%s: offset %llu is past the end (size %llu)", s3->bucket, fk,
                          (unsigned long long)off, (unsigned long long)stat.size);
  return tarn_buf_reserve(out, 0, err); /* empty read at the end */
}

static int s3_head(tarn_store *st, const char *key, tarn_store_stat *out, tarn_error *err) {
  tarn__s3_store *s3 = (tarn__s3_store *)st;
  char fk[TARN__S3_KEY_MAX + 1];
  int rc = full_key(s3, key, fk, "head", err);
  if (rc != 0)
    return rc;
  return head_full(s3, fk, "HEAD", out, err);
}

/*
 * A reader pins the version by its ETag: every ranged GET must come back with the ETag
 * the HEAD saw, or the read fails with TARN_ECONFLICT rather than hand out bytes of
 * another version. (The ETag is compared, not sent as If-Match: Ceph RGW never matches
 * a quoted If-Match, and a comparison holds whatever the server does with the header.)
 */
typedef struct s3_reader {
  tarn_store_reader base;
  tarn__s3_store *s3;
  char etag[136];
  char key[TARN__S3_KEY_MAX + 1]; /* full key */
} s3_reader;

static const tarn_store_reader_ops s3_reader_ops;

static int s3_reader_open(tarn_store *st, const char *key, tarn_store_reader **out,
                          tarn_error *err) {
  tarn__s3_store *s3 = (tarn__s3_store *)st;
  s3_reader *sr = tarn_calloc(1, sizeof(*sr));
  tarn__s3_req rq;
  int rc;
  if (sr == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  rc = full_key(s3, key, sr->key, "get", err);
  if (rc == 0) {
    req_init(&rq, "HEAD", "HEAD", sr->key);
    rc = tarn__s3_do(s3, &rq, err);
  }
  if (rc == 0 && rq.content_length < 0)
    rc = tarn_error_set(err, TARN_ECORRUPT, "HEAD s3://%s/%s: response has no Content-Length",
                        s3->bucket, sr->key);
  if (rc != 0) {
    tarn_free(sr);
    return rc;
  }
  sr->base.ops = &s3_reader_ops;
  sr->base.stat.size = (uint64_t)rq.content_length;
  sr->base.stat.mtime_us = rq.mtime_us;
  sr->s3 = s3;
  memcpy(sr->etag, rq.etag, sizeof(sr->etag));
  *out = &sr->base;
  return 0;
}

static int s3_reader_read(tarn_store_reader *r, uint64_t off, uint64_t len, tarn_buf *out,
                          tarn_error *err) {
  s3_reader *sr = (s3_reader *)r;
  uint64_t size = r->stat.size;
  size_t keep = out->len;
  char range[64];
  tarn__s3_req rq;
  int rc;
  if (off > size)
    return tarn_error_set(err, TARN_ERANGE,
                          "GET s3://%s/%s: offset %llu is past the end (size %llu)", sr->s3->bucket,
                          sr->key, (unsigned long long)off, (unsigned long long)size);
  if (len > size - off)
    len = size - off;
  if (len == 0)
    return tarn_buf_reserve(out, 0, err);
  snprintf(range, sizeof(range), "bytes=%llu-%llu", (unsigned long long)off,
           (unsigned long long)(off + len - 1));
  req_init(&rq, "GET", "GET", sr->key);
  rq.range = range;
  rq.out = out;
  rq.out_skip = off; /* used only if a server ignores Range and sends 200 */
  rq.out_limit = len;
  rc = tarn__s3_do(sr->s3, &rq, err);
  if (rc == TARN_ENOTFOUND || rc == TARN_ERANGE || (rc == 0 && strcmp(rq.etag, sr->etag) != 0)) {
    out->len = keep;
    return tarn_error_set(err, TARN_ECONFLICT,
                          "GET s3://%s/%s: the object changed while it was being read (ETag "
                          "%s, now %s)",
                          sr->s3->bucket, sr->key, sr->etag[0] ? sr->etag : "none",
                          rc == 0 && rq.etag[0] ? rq.etag : "gone");
  }
  if (rc == 0 && out->len - keep != len) {
    size_t got = out->len - keep;
    out->len = keep;
    return tarn_error_set(err, TARN_ECONFLICT,
                          "GET s3://%s/%s: %zu bytes at offset %llu where %llu were expected "
                          "(the object changed while it was being read)",
                          sr->s3->bucket, sr->key, got, (unsigned long long)off,
                          (unsigned long long)len);
  }
  return rc != 0 ? rc : tarn_buf_reserve(out, 0, err);
}

static void s3_reader_close(tarn_store_reader *r) { tarn_free(r); }

static const tarn_store_reader_ops s3_reader_ops = {
    .read_at = s3_reader_read,
    .close = s3_reader_close,
};

/* ---- list ---- */

/*
 * ListObjectsV2 pages (at most 1000 keys each) until max_keys valid keys are collected or
 * the listing ends. Keys come back relative to the store prefix; keys that are not valid
 * tarn keys (written by other tools) are skipped, as the local store skips such names.
 */
static int s3_list(tarn_store *st, const char *prefix, const char *start_after, size_t max_keys,
                   tarn_store_listing *out, tarn_error *err) {
  tarn__s3_store *s3 = (tarn__s3_store *)st;
  size_t pl = strlen(s3->prefix);
  char fprefix[TARN__S3_KEY_MAX + 1];
  char *fafter = NULL, *token = NULL, *last_raw = NULL;
  tarn_buf q, body;
  tarn_store_listing page;
  int rc, truncated = 0;
  size_t i;

  tarn_buf_init(&q, 16384);
  tarn_buf_init(&body, TARN__S3_XMLBODY_MAX);
  tarn_store_list_init(&page);
  rc = full_key(s3, prefix, fprefix, "list", err);
  if (rc != 0)
    goto out;
  if (start_after != NULL) {
    fafter = tarn_malloc(pl + strlen(start_after) + 1);
    if (fafter == NULL) {
      rc = tarn_error_set(err, TARN_ENOMEM, "list: out of memory");
      goto out;
    }
    memcpy(fafter, s3->prefix, pl);
    memcpy(fafter + pl, start_after, strlen(start_after) + 1);
  }

  for (;;) {
    tarn__s3_param p[5];
    size_t np = 0, want = max_keys - out->count;
    char maxk[24];
    tarn__s3_req rq;
    snprintf(maxk, sizeof(maxk), "%zu", want < LIST_PAGE_MAX ? want : (size_t)LIST_PAGE_MAX);
    p[np].name = "list-type";
    p[np++].value = "2";
    p[np].name = "max-keys";
    p[np++].value = maxk;
    if (fprefix[0] != '\0') {
      p[np].name = "prefix";
      p[np++].value = fprefix;
    }
    if (token != NULL) {
      p[np].name = "continuation-token";
      p[np++].value = token;
    } else if (last_raw != NULL || fafter != NULL) {
      p[np].name = "start-after";
      p[np++].value = last_raw != NULL ? last_raw : fafter;
    }
    tarn_buf_reset(&q);
    rc = tarn__s3_query(&q, p, np, err);
    if (rc != 0)
      goto out;
    tarn_buf_reset(&body);
    req_init(&rq, "GET", "LIST", NULL);
    rq.query = q.data;
    rq.out = &body;
    rc = tarn__s3_do(s3, &rq, err);
    if (rc != 0)
      goto out;
    tarn_store_list_free(&page);
    tarn_free(token);
    token = NULL;
    rc = tarn__s3_parse_list(body.data, body.len, &page, &truncated, &token, err);
    if (rc != 0) {
      tarn_error_prefix(err, "LIST s3://%s/%s", s3->bucket, fprefix);
      goto out;
    }
    for (i = 0; i < page.count; i++) {
      const char *k = page.entries[i].key, *rel = k + pl;
      if (out->count == max_keys) { /* a server sent more than max-keys */
        truncated = 1;
        break;
      }
      if (strncmp(k, fprefix, strlen(fprefix)) != 0 ||
          tarn_store_key_check(rel, strlen(rel), NULL) != 0 ||
          (start_after != NULL && strcmp(rel, start_after) <= 0))
        continue;
      rc = tarn_store_list_push(out, rel, page.entries[i].size, page.entries[i].mtime_us, err);
      if (rc != 0)
        goto out;
    }
    if (page.count > 0) {
      tarn_free(last_raw);
      last_raw = tarn_strdup(page.entries[page.count - 1].key);
      if (last_raw == NULL) {
        rc = tarn_error_set(err, TARN_ENOMEM, "list: out of memory");
        goto out;
      }
    }
    if (!truncated)
      break;
    if (out->count >= max_keys) {
      out->truncated = 1;
      out->next_after = tarn_strdup(out->entries[out->count - 1].key);
      if (out->next_after == NULL)
        rc = tarn_error_set(err, TARN_ENOMEM, "list: out of memory");
      break;
    }
    if (token == NULL && page.count == 0) {
      rc = tarn_error_set(err, TARN_ECORRUPT,
                          "LIST s3://%s/%s: truncated page with no keys and no continuation "
                          "token",
                          s3->bucket, fprefix);
      break;
    }
  }
out:
  tarn_store_list_free(&page);
  tarn_free(token);
  tarn_free(last_raw);
  tarn_free(fafter);
  tarn_buf_free(&body);
  tarn_buf_free(&q);
  return rc;
}

/* ---- delete ---- */

/*
 * S3 answers 204 to a DELETE whether or not the key existed, but the store interface
 * promises TARN_ENOTFOUND for a missing key: a HEAD comes first. The pair is not atomic:
 * of two concurrent deletes of one key both may succeed.
 */
static int s3_del(tarn_store *st, const char *key, tarn_error *err) {
  tarn__s3_store *s3 = (tarn__s3_store *)st;
  char fk[TARN__S3_KEY_MAX + 1];
  tarn_store_stat stat;
  tarn__s3_req rq;
  int rc = full_key(s3, key, fk, "delete", err);
  if (rc != 0)
    return rc;
  rc = head_full(s3, fk, "HEAD", &stat, err);
  if (rc != 0)
    return rc;
  req_init(&rq, "DELETE", "DELETE", fk);
  return tarn__s3_do(s3, &rq, err);
}

/* ---- test helpers ---- */

int tarn__s3_count_uploads(tarn_store *st, const char *prefix, size_t *count, tarn_error *err) {
  tarn__s3_store *s3 = (tarn__s3_store *)st;
  char fprefix[TARN__S3_KEY_MAX + 1];
  tarn__s3_param p[2] = {{"uploads", ""}, {"prefix", NULL}};
  tarn__s3_req rq;
  tarn_buf q, body;
  size_t pos = 0, il;
  const char *in;
  int rc, r;
  *count = 0;
  if (st->ops != &s3_ops)
    return tarn_error_set(err, TARN_EINVAL, "not an S3 store");
  rc = full_key(s3, prefix, fprefix, "list uploads", err);
  if (rc != 0)
    return rc;
  p[1].value = fprefix;
  tarn_buf_init(&q, 8192);
  tarn_buf_init(&body, TARN__S3_XMLBODY_MAX);
  rc = tarn__s3_query(&q, p, fprefix[0] ? 2 : 1, err);
  if (rc == 0) {
    req_init(&rq, "GET", "ListMultipartUploads", NULL);
    rq.query = q.data;
    rq.out = &body;
    rc = tarn__s3_do(s3, &rq, err);
  }
  while (rc == 0 && (r = tarn__s3_xml_next(body.data, body.len, &pos, "Upload", &in, &il)) != 0) {
    if (r < 0)
      rc = tarn_error_set(err, TARN_ECORRUPT, "ListMultipartUploads: unterminated <Upload>");
    else
      (*count)++;
  }
  tarn_buf_free(&body);
  tarn_buf_free(&q);
  return rc;
}

int tarn__s3_set_connect_to(tarn_store *st, const char *connect_to, tarn_error *err) {
  tarn__s3_store *s3 = (tarn__s3_store *)st;
  char *c = NULL;
  if (st->ops != &s3_ops)
    return tarn_error_set(err, TARN_EINVAL, "not an S3 store");
  if (connect_to != NULL && (c = tarn_strdup(connect_to)) == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  tarn_free(s3->connect_to);
  s3->connect_to = c;
  return 0;
}

/* ---- lifecycle ---- */

static void s3_destroy(tarn_store *st) {
  tarn__s3_store *s3 = (tarn__s3_store *)st;
  size_t i;
  if (s3 == NULL)
    return;
  for (i = 0; i < s3->idle_count; i++)
    curl_easy_cleanup(s3->idle[i]);
  pthread_mutex_destroy(&s3->mu);
  tarn_free(s3->scheme);
  tarn_free(s3->host);
  tarn_free(s3->region);
  tarn_free(s3->bucket);
  tarn_free(s3->prefix);
  tarn_free(s3->access_key);
  if (s3->secret != NULL) /* do not leave the secret in freed memory */
    memset(s3->secret, 0, strlen(s3->secret));
  tarn_free(s3->secret);
  if (s3->token != NULL)
    memset(s3->token, 0, strlen(s3->token));
  tarn_free(s3->token);
  tarn_free(s3->ca_file);
  tarn_free(s3->sigv4);
  tarn_free(s3->connect_to);
  tarn_free(s3);
}

/* curl_global_init is not thread-safe and must run once per process: the first open
 * does it. curl_global_cleanup is left to process exit (main may call it). */
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

static int has_ctl(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f)
      return 1;
  return 0;
}

/* Splits "scheme://host[:port][/]" into s3->scheme and s3->host. */
static int parse_endpoint(tarn__s3_store *s3, const char *ep, tarn_error *err) {
  const char *rest, *slash;
  size_t hl;
  if (strncmp(ep, "https://", 8) == 0) {
    s3->scheme = tarn_strdup("https");
    rest = ep + 8;
  } else if (strncmp(ep, "http://", 7) == 0) {
    s3->scheme = tarn_strdup("http");
    rest = ep + 7;
  } else {
    return tarn_error_set(err, TARN_ECONFIG,
                          "s3 endpoint '%s': must start with http:// or https://", ep);
  }
  if (s3->scheme == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "s3 endpoint: out of memory");
  slash = strchr(rest, '/');
  hl = slash ? (size_t)(slash - rest) : strlen(rest);
  if (hl == 0 || memchr(rest, '@', hl) != NULL || memchr(rest, '?', hl) != NULL ||
      memchr(rest, '#', hl) != NULL || memchr(rest, ' ', hl) != NULL)
    return tarn_error_set(err, TARN_ECONFIG,
                          "s3 endpoint '%s': expected scheme://host[:port] with no user, query "
                          "or fragment",
                          ep);
  if (slash != NULL && strcmp(slash, "/") != 0)
    return tarn_error_set(err, TARN_ECONFIG,
                          "s3 endpoint '%s': a path after the host is not supported", ep);
  s3->host = tarn_strndup(rest, hl);
  if (s3->host == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "s3 endpoint: out of memory");
  return 0;
}

/* Bucket names: 3-63 of [a-z0-9.-] for virtual-hosted (they become a host name); path
 * style also takes the legacy upper case and '_' (up to 255). */
static int check_bucket(const char *b, int virtual_hosted, tarn_error *err) {
  size_t n = strlen(b), i;
  size_t max = virtual_hosted ? 63 : 255;
  if (n < (virtual_hosted ? 3u : 1u) || n > max)
    return tarn_error_set(err, TARN_ECONFIG, "s3 bucket '%s': must be %u to %zu characters", b,
                          virtual_hosted ? 3u : 1u, max);
  for (i = 0; i < n; i++) {
    char c = b[i];
    int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
             (!virtual_hosted && ((c >= 'A' && c <= 'Z') || c == '_'));
    if (!ok)
      return tarn_error_set(err, TARN_ECONFIG,
                            "s3 bucket '%s': character '%c' at offset %zu is not allowed%s", b, c,
                            i, virtual_hosted ? " in a virtual-hosted bucket" : "");
  }
  return 0;
}

static int dup_opt(char **dst, const char *src, tarn_error *err) {
  *dst = tarn_strdup(src);
  if (*dst == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "s3 store: out of memory");
  return 0;
}

int tarn_store_s3_open(const tarn_store_s3_options *o, tarn_store **out, tarn_error *err) {
  tarn__s3_store *s3 = NULL;
  const char *region, *prefix;
  int rc;
  size_t i;
  *out = NULL;
  if (o == NULL || o->endpoint == NULL || o->endpoint[0] == '\0')
    return tarn_error_set(err, TARN_ECONFIG, "s3 store: endpoint is required");
  if (o->bucket == NULL || o->bucket[0] == '\0')
    return tarn_error_set(err, TARN_ECONFIG, "s3 store: bucket is required");
  if (o->access_key_id == NULL || o->access_key_id[0] == '\0' || has_ctl(o->access_key_id) ||
      strchr(o->access_key_id, '/') != NULL)
    return tarn_error_set(err, TARN_ECONFIG,
                          "s3 store: access_key_id is required (printable, no '/')");
  if (o->secret_access_key == NULL || o->secret_access_key[0] == '\0' ||
      has_ctl(o->secret_access_key))
    return tarn_error_set(err, TARN_ECONFIG, "s3 store: secret_access_key is required");
  if (o->session_token != NULL && has_ctl(o->session_token))
    return tarn_error_set(err, TARN_ECONFIG, "s3 store: session_token has control characters");
  region = o->region != NULL && o->region[0] != '\0' ? o->region : "us-east-1";
  for (i = 0; region[i] != '\0'; i++) {
    char c = region[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
      return tarn_error_set(err, TARN_ECONFIG, "s3 region '%s': only a-z, 0-9 and '-' allowed",
                            region);
  }
  prefix = o->prefix != NULL ? o->prefix : "";
  if (prefix[0] != '\0') {
    size_t pl = strlen(prefix);
    size_t check = prefix[pl - 1] == '/' ? pl - 1 : pl;
    tarn_error ke;
    if (pl > TARN__S3_KEY_MAX / 2 || check == 0 || tarn_store_key_check(prefix, check, &ke) != 0)
      return tarn_error_set(err, TARN_ECONFIG, "s3 prefix '%s': must be a valid key%s (%s)", prefix,
                            " optionally ending in '/'",
                            pl > TARN__S3_KEY_MAX / 2 ? "too long"
                            : check == 0              ? "just '/'"
                                                      : ke.detail);
  }
  rc = check_bucket(o->bucket, o->virtual_hosted, err);
  if (rc != 0)
    return rc;
  if (o->part_size != 0 && (o->part_size < TARN__S3_MIN_PART || o->part_size > TARN__S3_MAX_PART))
    return tarn_error_set(err, TARN_ECONFIG,
                          "s3 part_size %zu: must be between 5 MiB and 5 GiB (S3's limits)",
                          o->part_size);
  if (o->multipart_threshold > TARN__S3_MAX_PART)
    return tarn_error_set(err, TARN_ECONFIG,
                          "s3 multipart_threshold %zu: a single PUT is at most 5 GiB",
                          o->multipart_threshold);
  if (o->ca_file != NULL && o->ca_file[0] == '\0')
    return tarn_error_set(err, TARN_ECONFIG, "s3 ca_file: empty path");

  pthread_once(&curl_once, curl_init);
  if (curl_init_rc != CURLE_OK)
    return tarn_error_set(err, TARN_EINTERNAL, "curl_global_init failed: %s",
                          curl_easy_strerror(curl_init_rc));

  s3 = tarn_calloc(1, sizeof(*s3));
  if (s3 == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "s3 store: out of memory");
  s3->base.ops = &s3_ops;
  if (pthread_mutex_init(&s3->mu, NULL) != 0) {
    tarn_free(s3);
    return tarn_error_set(err, TARN_EINTERNAL, "s3 store: pthread_mutex_init failed");
  }
  rc = parse_endpoint(s3, o->endpoint, err);
  if (rc == 0)
    rc = dup_opt(&s3->region, region, err);
  if (rc == 0)
    rc = dup_opt(&s3->bucket, o->bucket, err);
  if (rc == 0)
    rc = dup_opt(&s3->prefix, prefix, err);
  if (rc == 0)
    rc = dup_opt(&s3->access_key, o->access_key_id, err);
  if (rc == 0)
    rc = dup_opt(&s3->secret, o->secret_access_key, err);
  if (rc == 0 && o->session_token != NULL && o->session_token[0] != '\0')
    rc = dup_opt(&s3->token, o->session_token, err);
  if (rc == 0 && o->ca_file != NULL)
    rc = dup_opt(&s3->ca_file, o->ca_file, err);
  if (rc == 0) {
    size_t n = strlen("aws:amz::s3") + strlen(region) + 1;
    s3->sigv4 = tarn_malloc(n);
    if (s3->sigv4 == NULL)
      rc = tarn_error_set(err, TARN_ENOMEM, "s3 store: out of memory");
    else
      snprintf(s3->sigv4, n, "aws:amz:%s:s3", region);
  }
  if (rc != 0) {
    s3_destroy(&s3->base);
    return rc;
  }
  s3->virtual_hosted = o->virtual_hosted != 0;
  s3->insecure = o->insecure_skip_tls_verify != 0;
  s3->threshold = o->multipart_threshold ? o->multipart_threshold : DEFAULT_THRESHOLD;
  s3->part_size = o->part_size ? o->part_size : DEFAULT_PART;
  s3->max_attempts = o->max_attempts ? o->max_attempts : DEFAULT_ATTEMPTS;
  s3->connect_timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms : DEFAULT_CONNECT_MS;
  s3->request_timeout_ms = o->request_timeout_ms ? o->request_timeout_ms : DEFAULT_REQUEST_MS;
  *out = &s3->base;
  return 0;
}

static const tarn_store_ops s3_ops = {
    .name = "s3",
    .writer_open = s3_writer_open,
    .get = s3_get,
    .get_range = s3_get_range,
    .head = s3_head,
    .list = s3_list,
    .del = s3_del,
    .destroy = s3_destroy,
    .reader_open = s3_reader_open,
};

static const tarn_store_writer_ops s3_writer_ops = {
    .write = s3_writer_write,
    .commit = s3_writer_commit,
    .abort = s3_writer_abort,
};
