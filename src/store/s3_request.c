/* s3_request.c - one signed S3 request over libcurl: URLs, encoding, retries, errors. */
#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/hash.h"
#include "base/log.h"
#include "store/s3_int.h"

/*
 * Signing is libcurl's (CURLOPT_AWS_SIGV4). What curl 7.88 leaves to us: it does not
 * add x-amz-content-sha256 (we send the body's SHA-256 hex, and curl then signs it and
 * uses it as the payload hash), it signs the path and query exactly as sent (so we send
 * them canonical: keys URI-encoded once, '/' kept; query parameters sorted, every name
 * and value encoded, "name=" for an empty value), and it signs only Host, Content-Type
 * and x-amz-* headers. The protocol notes are in README.md beside this file.
 */

/* ---- encoding and URLs ---- */

static int unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

int tarn__s3_uri_encode(tarn_buf *out, const char *s, size_t n, int keep_slash, tarn_error *err) {
  static const char hex[] = "0123456789ABCDEF";
  size_t i;
  int rc = tarn_buf_reserve(out, n, err); /* at least; grows for escapes */
  for (i = 0; i < n && rc == 0; i++) {
    unsigned char c = (unsigned char)s[i];
    if (unreserved(c) || (keep_slash && c == '/')) {
      rc = tarn_buf_append_byte(out, c, err);
    } else {
      char e[3] = {'%', hex[c >> 4], hex[c & 15]};
      rc = tarn_buf_append(out, e, 3, err);
    }
  }
  return rc;
}

static int cmp_param(const void *a, const void *b) {
  const tarn__s3_param *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  return c != 0 ? c : strcmp(x->value ? x->value : "", y->value ? y->value : "");
}

int tarn__s3_query(tarn_buf *out, tarn__s3_param *params, size_t n, tarn_error *err) {
  size_t i;
  int rc = 0;
  /* Names we use are unreserved ASCII, so sorting the raw names sorts the encoded ones. */
  qsort(params, n, sizeof(*params), cmp_param);
  for (i = 0; i < n && rc == 0; i++) {
    const char *v = params[i].value ? params[i].value : "";
    if (i > 0)
      rc = tarn_buf_append_byte(out, '&', err);
    if (rc == 0)
      rc = tarn__s3_uri_encode(out, params[i].name, strlen(params[i].name), 0, err);
    if (rc == 0)
      rc = tarn_buf_append_byte(out, '=', err);
    if (rc == 0)
      rc = tarn__s3_uri_encode(out, v, strlen(v), 0, err);
  }
  return rc;
}

int tarn__s3_url(const tarn__s3_store *s3, const char *key, const char *query, tarn_buf *out,
                 tarn_error *err) {
  int rc;
  if (s3->virtual_hosted)
    rc = tarn_buf_appendf(out, err, "%s://%s.%s/", s3->scheme, s3->bucket, s3->host);
  else
    rc = tarn_buf_appendf(out, err, "%s://%s/%s%s", s3->scheme, s3->host, s3->bucket,
                          key != NULL ? "/" : "");
  if (rc == 0 && key != NULL)
    rc = tarn__s3_uri_encode(out, key, strlen(key), 1, err);
  if (rc == 0 && query != NULL && query[0] != '\0')
    rc = tarn_buf_appendf(out, err, "?%s", query);
  return rc;
}

void tarn__s3_scrub(const tarn__s3_store *s3, tarn_error *err) {
  static const char mark[] = "[redacted]";
  const char *secrets[2];
  size_t i;
  if (err == NULL)
    return;
  secrets[0] = s3->secret;
  secrets[1] = s3->token;
  for (i = 0; i < 2; i++) {
    const char *sec = secrets[i];
    size_t sl;
    char *hit;
    if (sec == NULL || (sl = strlen(sec)) == 0)
      continue;
    while ((hit = memmem(err->detail, strlen(err->detail), sec, sl)) != NULL) {
      size_t tail = strlen(hit + sl);
      size_t ml = sizeof(mark) - 1;
      /* replace in place; the mark may be longer than the secret, so cut at the end */
      size_t room = sizeof(err->detail) - (size_t)(hit - err->detail) - 1;
      if (ml > room)
        ml = room;
      if (ml + tail > room)
        tail = room - ml;
      memmove(hit + ml, hit + sl, tail);
      memcpy(hit, mark, ml);
      hit[ml + tail] = '\0';
    }
  }
}

/* ---- status classification and backoff ---- */

int tarn__s3_status_code(long status, const char *c, int if_none_match) {
  if (c == NULL)
    c = "";
  if (status >= 200 && status < 300)
    return 0;
  if (status >= 300 && status < 400)
    return TARN_ECONFIG; /* a redirect: the bucket lives at another endpoint or region */
  switch (status) {
  case 400:
    if (strcmp(c, "RequestTimeout") == 0)
      return TARN_ETIMEDOUT;
    if (strcmp(c, "EntityTooLarge") == 0)
      return TARN_ETOOBIG;
    if (strcmp(c, "KeyTooLongError") == 0)
      return TARN_EBADKEY;
    return TARN_EINVAL;
  case 401:
  case 403: return TARN_EPERM;
  case 404: return TARN_ENOTFOUND;
  case 405:
  case 501: return TARN_EUNSUPPORTED;
  case 408:
  case 504: return TARN_ETIMEDOUT;
  case 409: return TARN_ECONFLICT;
  case 412: return if_none_match ? TARN_EEXIST : TARN_ECONFLICT;
  case 413: return TARN_ETOOBIG;
  case 416: return TARN_ERANGE;
  default: break;
  }
  if (status == 429 || status >= 500)
    return TARN_EIO;
  return TARN_EINVAL;
}

int tarn__s3_status_retriable(long status, const char *c) {
  if (status == 429 || status == 408 || (status >= 500 && status != 501))
    return 1;
  return status == 400 && c != NULL && strcmp(c, "RequestTimeout") == 0;
}

uint64_t tarn__s3_backoff_cap_ms(unsigned attempt) {
  uint64_t ms = TARN__S3_BACKOFF_BASE_MS;
  unsigned i;
  for (i = 1; i < attempt && ms < TARN__S3_BACKOFF_CAP_MS; i++)
    ms *= 2;
  return ms < TARN__S3_BACKOFF_CAP_MS ? ms : TARN__S3_BACKOFF_CAP_MS;
}

uint64_t tarn__s3_backoff_ms(unsigned attempt, uint64_t rnd) {
  return rnd % (tarn__s3_backoff_cap_ms(attempt) + 1);
}

/* ---- curl handles ---- */

static CURL *handle_get(tarn__s3_store *s3) {
  CURL *h = NULL;
  pthread_mutex_lock(&s3->mu);
  if (s3->idle_count > 0)
    h = s3->idle[--s3->idle_count];
  pthread_mutex_unlock(&s3->mu);
  if (h == NULL)
    return curl_easy_init();
  curl_easy_reset(h); /* options only; live connections stay for reuse */
  return h;
}

static void handle_put(tarn__s3_store *s3, CURL *h) {
  pthread_mutex_lock(&s3->mu);
  if (s3->idle_count < TARN__S3_POOL_MAX) {
    s3->idle[s3->idle_count++] = h;
    h = NULL;
  }
  pthread_mutex_unlock(&s3->mu);
  if (h != NULL)
    curl_easy_cleanup(h);
}

/* ---- one attempt's state, shared with curl's callbacks ---- */

typedef struct attempt {
  tarn__s3_req *rq;
  long status; /* from the last status line */
  int too_big; /* the 2xx body does not fit rq->out */
  int oom;
  uint64_t skipped; /* of rq->out_skip */
  uint64_t kept;    /* bytes given to rq->out this attempt */
  size_t body_off;  /* read cursor in rq->body */
  tarn_buf errbody; /* non-2xx body, capped; bytes past the cap are dropped */
} attempt;

static int is_2xx(long s) { return s >= 200 && s < 300; }

/* Bytes of a 2xx response body the caller will keep, given its Content-Length. */
static uint64_t kept_len(const attempt *at, uint64_t cl) {
  const tarn__s3_req *rq = at->rq;
  if (at->status == 200 && rq->range != NULL) { /* the server ignored Range */
    cl = cl > rq->out_skip ? cl - rq->out_skip : 0;
    if (rq->out_limit != 0 && cl > rq->out_limit)
      cl = rq->out_limit;
  }
  return cl;
}

static void copy_value(char *dst, size_t dstlen, const char *v, size_t n) {
  if (n >= dstlen)
    n = dstlen - 1;
  memcpy(dst, v, n);
  dst[n] = '\0';
}

static size_t on_header(char *p, size_t sz, size_t nm, void *ud) {
  attempt *at = ud;
  tarn__s3_req *rq = at->rq;
  size_t n = sz * nm, nl, vl;
  const char *colon, *v;
  if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
    /* a new response (after 100 Continue, say): forget the previous one's headers */
    const char *sp = memchr(p, ' ', n);
    at->status = sp != NULL ? strtol(sp + 1, NULL, 10) : 0;
    rq->content_length = -1;
    rq->mtime_us = 0;
    rq->etag[0] = '\0';
    return n;
  }
  colon = memchr(p, ':', n);
  if (colon == NULL)
    return n;
  nl = (size_t)(colon - p);
  v = colon + 1;
  vl = n - nl - 1;
  while (vl > 0 && (*v == ' ' || *v == '\t')) {
    v++;
    vl--;
  }
  while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
    vl--;
  if (nl == 14 && strncasecmp(p, "content-length", 14) == 0) {
    char num[32];
    char *end;
    unsigned long long cl;
    copy_value(num, sizeof(num), v, vl);
    cl = strtoull(num, &end, 10);
    if (end == num || *end != '\0')
      return n;
    rq->content_length = (int64_t)cl;
    if (is_2xx(at->status) && rq->out != NULL && strcmp(rq->method, "HEAD") != 0) {
      uint64_t want = kept_len(at, cl);
      tarn_buf *o = rq->out;
      if (o->len > o->max || want > (uint64_t)(o->max - o->len)) {
        at->too_big = 1;
        return 0; /* aborts the transfer before the body comes */
      }
      if (tarn_buf_reserve(o, (size_t)want, NULL) != 0) {
        at->oom = 1;
        return 0;
      }
    }
  } else if (nl == 13 && strncasecmp(p, "last-modified", 13) == 0) {
    char date[64];
    time_t t;
    copy_value(date, sizeof(date), v, vl);
    t = curl_getdate(date, NULL);
    if (t >= 0)
      rq->mtime_us = (int64_t)t * 1000000;
  } else if (nl == 4 && strncasecmp(p, "etag", 4) == 0) {
    copy_value(rq->etag, sizeof(rq->etag), v, vl);
  } else if (nl == 16 && strncasecmp(p, "x-amz-request-id", 16) == 0) {
    copy_value(rq->request_id, sizeof(rq->request_id), v, vl);
  }
  return n;
}

static size_t on_body(char *p, size_t sz, size_t nm, void *ud) {
  attempt *at = ud;
  tarn__s3_req *rq = at->rq;
  size_t n = sz * nm;
  int rc;
  if (!is_2xx(at->status)) {
    size_t room = at->errbody.max - at->errbody.len;
    if (tarn_buf_append(&at->errbody, p, n < room ? n : room, NULL) != 0)
      at->oom = 1;
    return at->oom ? 0 : n;
  }
  if (rq->out == NULL)
    return n;
  if (at->status == 200 && rq->range != NULL) {
    if (at->skipped < rq->out_skip) {
      uint64_t s = rq->out_skip - at->skipped;
      size_t drop = s < n ? (size_t)s : n;
      at->skipped += drop;
      p += drop;
      n -= drop;
    }
    if (rq->out_limit != 0 && at->kept + n > rq->out_limit)
      n = (size_t)(rq->out_limit - at->kept);
    if (n == 0)
      return sz * nm;
  }
  rc = tarn_buf_append(rq->out, p, n, NULL);
  if (rc == TARN_ETOOBIG)
    at->too_big = 1;
  else if (rc != 0)
    at->oom = 1;
  if (rc != 0)
    return 0;
  at->kept += n;
  return sz * nm;
}

static size_t on_read(char *dst, size_t sz, size_t nm, void *ud) {
  attempt *at = ud;
  size_t room = sz * nm, left = at->rq->body_len - at->body_off;
  size_t n = left < room ? left : room;
  if (n > 0)
    memcpy(dst, (const char *)at->rq->body + at->body_off, n);
  at->body_off += n;
  return n;
}

/* curl rewinds the body when it must send it again (a redirect, a reused connection
 * that turned out dead). */
static int on_seek(void *ud, curl_off_t off, int origin) {
  attempt *at = ud;
  if (origin != SEEK_SET || off < 0 || (uint64_t)off > at->rq->body_len)
    return CURL_SEEKFUNC_CANTSEEK;
  at->body_off = (size_t)off;
  return CURL_SEEKFUNC_OK;
}

/* ---- messages ---- */

/* Keeps what S3 error codes and request ids are made of (letters, digits, . _ - + = /);
 * anything else a server sends there becomes '?'. */
static void safe_token(char *s) {
  for (; *s != '\0'; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
          *s == '.' || *s == '_' || *s == '-' || *s == '+' || *s == '=' || *s == '/'))
      *s = '?';
}

static const char *reason(long status) {
  switch (status) {
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 409: return "Conflict";
  case 411: return "Length Required";
  case 412: return "Precondition Failed";
  case 416: return "Range Not Satisfiable";
  case 429: return "Too Many Requests";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  default: return "";
  }
}

/* "GET s3://bucket/key" into dst. */
static void target(const tarn__s3_store *s3, const tarn__s3_req *rq, char *dst, size_t dstlen) {
  snprintf(dst, dstlen, "%s s3://%s/%s", rq->op, s3->bucket, rq->key ? rq->key : "");
}

/* What a failed curl transfer means for us. */
static int curl_code(CURLcode res, int *retriable, const char **what) {
  *retriable = 0;
  switch (res) {
  case CURLE_OPERATION_TIMEDOUT:
    *retriable = 1;
    *what = "timed out";
    return TARN_ETIMEDOUT;
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
  case CURLE_COULDNT_CONNECT:
  case CURLE_SEND_ERROR:
  case CURLE_RECV_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_PARTIAL_FILE:
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
  case CURLE_WEIRD_SERVER_REPLY:
    *retriable = 1;
    *what = "network error";
    return TARN_ENETWORK;
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_ISSUER_ERROR:
    *what = "TLS verification failed (set ca_file, or insecure_skip_tls_verify for tests)";
    return TARN_ECONFIG;
  case CURLE_UNSUPPORTED_PROTOCOL:
  case CURLE_URL_MALFORMAT: *what = "bad endpoint"; return TARN_ECONFIG;
  case CURLE_OUT_OF_MEMORY: *what = "out of memory"; return TARN_ENOMEM;
  default: *what = "transfer failed"; return TARN_EIO;
  }
}

/* Does a 200 body (CompleteMultipartUpload) hold an <Error> instead of a result? */
static int body_is_error(const char *s, size_t n) {
  size_t pos = 0, il;
  const char *in;
  return s != NULL && tarn__s3_xml_next(s, n, &pos, "Error", &in, &il) == 1;
}

static int set_opt_failed(tarn__s3_store *s3, tarn__s3_req *rq, tarn_error *err) {
  char t[TARN_STORE_KEY_MAX + 64];
  target(s3, rq, t, sizeof(t));
  return tarn_error_set(err, TARN_EINTERNAL, "%s: cannot set up the curl request", t);
}

/* ---- the request ---- */

/* One call of tarn__s3_do: what its setup, attempts and cleanup share. */
typedef struct s3_call {
  tarn__s3_store *s3;
  tarn__s3_req *rq;
  CURL *h;
  struct curl_slist *hdrs, *connect;
  attempt at;
  char errbuf[CURL_ERROR_SIZE];
  char t[TARN_STORE_KEY_MAX + 64]; /* "GET s3://bucket/key", for messages */
  size_t out_base;                 /* rq->out's length before the call */
  int is_head, is_put, is_post, is_get_like;
  int maybe_applied; /* a write attempt reached the server and may have been applied */
} s3_call;

/* What one attempt came to. */
typedef struct outcome {
  CURLcode res;
  int done; /* no further attempt: rc is the answer */
  int rc;
  int code; /* when !done: the failure's tarn_code */
  int retriable;
  const char *what; /* a curl failure in words */
  tarn__s3_errinfo ei;
} outcome;

static int add_header(s3_call *c, tarn_buf *line, tarn_error *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int add_header(s3_call *c, tarn_buf *line, tarn_error *err, const char *fmt, ...) {
  struct curl_slist *nh;
  va_list ap;
  int rc;
  tarn_buf_reset(line);
  va_start(ap, fmt);
  rc = tarn_buf_vappendf(line, err, fmt, ap);
  va_end(ap);
  if (rc != 0)
    return rc;
  nh = curl_slist_append(c->hdrs, line->data);
  if (nh == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "%s: out of memory for headers", c->t);
  c->hdrs = nh;
  return 0;
}

/* The headers we send ourselves; curl adds Host, Authorization and x-amz-date. */
static int build_headers(s3_call *c, tarn_error *err) {
  const tarn__s3_req *rq = c->rq;
  char sha_hex[TARN_SHA256_HEX_LEN];
  tarn_buf line;
  int rc = 0;
  tarn_buf_init(&line, 8192);
  /* x-amz-content-sha256: the body's hash, computed once for every attempt. */
  if (rq->body_sha256 == NULL) {
    uint8_t d[TARN_SHA256_LEN];
    rc = tarn_sha256_digest(rq->body_len ? rq->body : "", rq->body_len, d, err);
    if (rc != 0)
      goto out;
    tarn_hex(d, sizeof(d), sha_hex);
  } else {
    snprintf(sha_hex, sizeof(sha_hex), "%s", rq->body_sha256);
  }
  rc = add_header(c, &line, err, "x-amz-content-sha256: %s", sha_hex);
  if (rc == 0 && c->s3->token != NULL)
    rc = add_header(c, &line, err, "x-amz-security-token: %s", c->s3->token);
  if (rc == 0 && rq->if_none_match != NULL)
    rc = add_header(c, &line, err, "If-None-Match: %s", rq->if_none_match);
  if (rc == 0 && rq->range != NULL)
    rc = add_header(c, &line, err, "Range: %s", rq->range);
  /* POSTs always name their type: curl would add a form-urlencoded one. (An empty
   * "Name:" line, curl's way to suppress a header, must not be used: curl 7.88 signs
   * it as an empty header that is then not sent.) */
  if (rc == 0 && rq->content_type != NULL)
    rc = add_header(c, &line, err, "Content-Type: %s", rq->content_type);
out:
  tarn_buf_free(&line);
  return rc;
}

/* Sets the handle's options for this request: URL, signing, limits, callbacks, method. */
static int set_options(s3_call *c, const char *url, tarn_error *err) {
  tarn__s3_store *s3 = c->s3;
  tarn__s3_req *rq = c->rq;
  CURL *h = c->h;
  /* The access key and secret go to curl's signer only; curl never prints them. */
  int ok =
      curl_easy_setopt(h, CURLOPT_URL, url) == CURLE_OK &&
      curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
      curl_easy_setopt(h, CURLOPT_AWS_SIGV4, s3->sigv4) == CURLE_OK &&
      curl_easy_setopt(h, CURLOPT_USERNAME, s3->access_key) == CURLE_OK &&
      curl_easy_setopt(h, CURLOPT_PASSWORD, s3->secret) == CURLE_OK &&
      curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->hdrs) == CURLE_OK &&
      curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
      curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L) == CURLE_OK &&
      /* curl 7.88 sends "Expect: 100-continue" with every PUT (unsigned: it is added
        * after signing). For a part that is worth it, so a server can refuse before the
        * body is sent; a server that never answers 100 then costs 300 ms. A small body
        * goes at once. (Suppressing the header with an empty "Expect:" would make curl
        * sign a header it does not send.) */
      curl_easy_setopt(h, CURLOPT_EXPECT_100_TIMEOUT_MS,
                       rq->body_len >= ((size_t)1 << 20) ? 300L : 0L) == CURLE_OK &&
      curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf) == CURLE_OK &&
      curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)s3->connect_timeout_ms) == CURLE_OK &&
      curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)s3->request_timeout_ms) == CURLE_OK &&
      curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, s3->insecure ? 0L : 1L) == CURLE_OK &&
      curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, s3->insecure ? 0L : 2L) == CURLE_OK &&
      curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK &&
      curl_easy_setopt(h, CURLOPT_HEADERDATA, &c->at) == CURLE_OK &&
      curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK &&
      curl_easy_setopt(h, CURLOPT_WRITEDATA, &c->at) == CURLE_OK;
  if (ok && s3->ca_file != NULL)
    ok = curl_easy_setopt(h, CURLOPT_CAINFO, s3->ca_file) == CURLE_OK;
  if (ok && s3->connect_to != NULL) { /* test hook */
    c->connect = curl_slist_append(NULL, s3->connect_to);
    ok = c->connect != NULL && curl_easy_setopt(h, CURLOPT_CONNECT_TO, c->connect) == CURLE_OK;
  }
  if (ok && c->is_head) {
    ok = curl_easy_setopt(h, CURLOPT_NOBODY, 1L) == CURLE_OK;
  } else if (ok && c->is_put) {
    ok = curl_easy_setopt(h, CURLOPT_UPLOAD, 1L) == CURLE_OK &&
         curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->body_len) == CURLE_OK;
  } else if (ok && c->is_post) {
    ok = curl_easy_setopt(h, CURLOPT_POST, 1L) == CURLE_OK &&
         curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len) == CURLE_OK;
  } else if (ok && strcmp(rq->method, "GET") != 0) {
    ok = curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method) == CURLE_OK;
  }
  if (ok && (c->is_put || c->is_post))
    ok = curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read) == CURLE_OK &&
         curl_easy_setopt(h, CURLOPT_READDATA, &c->at) == CURLE_OK &&
         curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek) == CURLE_OK &&
         curl_easy_setopt(h, CURLOPT_SEEKDATA, &c->at) == CURLE_OK;
  return ok ? 0 : set_opt_failed(s3, rq, err);
}

/* Request setup, done once for all attempts: headers (with the body's hash), URL, a
 * pooled handle and its options. */
static int call_setup(s3_call *c, tarn_error *err) {
  tarn_buf url;
  int rc;
  tarn_buf_init(&url, 8 * TARN__S3_KEY_MAX);
  rc = build_headers(c, err);
  if (rc == 0)
    rc = tarn__s3_url(c->s3, c->rq->key, c->rq->query, &url, err);
  if (rc == 0) {
    c->h = handle_get(c->s3);
    if (c->h == NULL)
      rc = tarn_error_set(err, TARN_ENOMEM, "%s: cannot create a curl handle", c->t);
  }
  c->errbuf[0] = '\0';
  /* curl copies the URL (CURLOPT_URL strings are copied), so url may go */
  if (rc == 0)
    rc = set_options(c, url.data, err);
  tarn_buf_free(&url);
  return rc;
}

/* Cuts rq->out back to what it held before the call. */
static void restore_out(s3_call *c) {
  tarn_buf *o = c->rq->out;
  if (o != NULL && o->data != NULL) {
    o->len = c->out_base;
    o->data[c->out_base] = '\0';
  }
}

/* One attempt from a fresh state: the body is re-sent from its start, the output
 * restored. */
static CURLcode attempt_once(s3_call *c, unsigned attempt_no) {
  attempt *at = &c->at;
  CURLcode res;
  at->status = 0;
  at->too_big = at->oom = 0;
  at->skipped = at->kept = 0;
  at->body_off = 0;
  tarn_buf_reset(&at->errbody);
  restore_out(c);
  c->errbuf[0] = '\0';
  c->rq->attempts = attempt_no;
  c->rq->request_id[0] = c->rq->s3_code[0] = '\0';
  res = curl_easy_perform(c->h);
  if (res == CURLE_OK) {
    long st = 0;
    curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &st);
    at->status = st;
  }
  c->rq->status = at->status;
  return res;
}

/* What an attempt's result means: success, a failure that ends the call at once (the
 * response does not fit, no memory), or a failure with its code and retry class. */
static void classify(s3_call *c, CURLcode res, outcome *o, tarn_error *err) {
  tarn__s3_req *rq = c->rq;
  const attempt *at = &c->at;
  memset(o, 0, sizeof(*o));
  o->res = res;
  o->what = "";
  if (at->too_big) {
    o->done = 1;
    if (rq->content_length >= 0)
      o->rc = tarn_error_set(err, TARN_ETOOBIG,
                             "%s: the object (%lld bytes) does not fit the buffer's limit of "
                             "%zu bytes (%zu in use)",
                             c->t, (long long)rq->content_length, rq->out->max, c->out_base);
    else
      o->rc = tarn_error_set(err, TARN_ETOOBIG,
                             "%s: the response outgrew the buffer's limit of %zu bytes (%zu in "
                             "use)",
                             c->t, rq->out->max, c->out_base);
    return;
  }
  if (at->oom) {
    o->done = 1;
    o->rc = tarn_error_set(err, TARN_ENOMEM, "%s: out of memory for the response", c->t);
    return;
  }
  if (res != CURLE_OK) {
    o->code = curl_code(res, &o->retriable, &o->what);
  } else if (is_2xx(at->status)) {
    if (!(rq->error_in_200 && rq->out != NULL &&
          body_is_error(rq->out->data + c->out_base, rq->out->len - c->out_base))) {
      o->done = 1;
      return;
    }
    /* CompleteMultipartUpload may answer 200 and then report a failure in the body */
    tarn__s3_parse_error(rq->out->data + c->out_base, rq->out->len - c->out_base, &o->ei);
    o->code = TARN_EIO;
    o->retriable = strcmp(o->ei.code, "InternalError") == 0 ||
                   strcmp(o->ei.code, "SlowDown") == 0 ||
                   strcmp(o->ei.code, "ServiceUnavailable") == 0;
  } else {
    tarn__s3_parse_error(at->errbody.data, at->errbody.len, &o->ei);
    o->code = tarn__s3_status_code(at->status, o->ei.code, rq->if_none_match != NULL);
    o->retriable = tarn__s3_status_retriable(at->status, o->ei.code);
  }
  snprintf(rq->s3_code, sizeof(rq->s3_code), "%s", o->ei.code);
  if (o->ei.request_id[0] != '\0')
    snprintf(rq->request_id, sizeof(rq->request_id), "%s", o->ei.request_id);
  /* A conditional write retried after an attempt that may have been applied: its 412
   * (or a completion's NoSuchUpload) may be our own earlier success. */
  if (c->maybe_applied && res == CURLE_OK &&
      ((at->status == 412 && rq->if_none_match != NULL) ||
       (at->status == 404 && c->is_post && strcmp(o->ei.code, "NoSuchUpload") == 0))) {
    o->code = TARN_EUNKNOWN_OUTCOME;
    o->retriable = 0;
  }
  /* a write that reached the server and then failed may have been applied */
  if (o->retriable && !c->is_get_like && res != CURLE_COULDNT_CONNECT &&
      res != CURLE_COULDNT_RESOLVE_HOST)
    c->maybe_applied = 1;
}

/* The retry decision: a retriable failure with attempts left waits its backoff (logged)
 * and returns 1. */
static int retry_after(s3_call *c, const outcome *o, unsigned attempt_no) {
  uint64_t delay, rnd;
  if (!o->retriable || attempt_no >= c->s3->max_attempts)
    return 0;
  if (tarn_random_bytes(&rnd, sizeof(rnd), NULL) != 0)
    rnd = tarn_clock_mono_ns();
  delay = tarn__s3_backoff_ms(attempt_no, rnd);
  tarn_log_warn("s3 request failed; retrying",
                "op=%s bucket=%s key=%s status=%ld error=%s attempt=%u max_attempts=%u "
                "backoff_ms=%llu",
                c->rq->op, c->s3->bucket, c->rq->key ? c->rq->key : "", c->at.status,
                o->res != CURLE_OK ? curl_easy_strerror(o->res)
                : o->ei.code[0]    ? o->ei.code
                                   : reason(c->at.status),
                attempt_no, c->s3->max_attempts, (unsigned long long)delay);
  tarn_sleep_ms(delay);
  return 1;
}

/* Giving up: one detail with everything a user needs. */
static int give_up(s3_call *c, outcome *o, unsigned attempt_no, tarn_error *err) {
  tarn__s3_req *rq = c->rq;
  char rid[160] = "";
  tarn_error lm;
  if (o->res != CURLE_OK)
    return tarn_error_set(err, o->code, "%s: %s (%s)%s", c->t, o->what,
                          c->errbuf[0] ? c->errbuf : curl_easy_strerror(o->res),
                          attempt_no > 1 ? "; gave up after retries" : "");
  /* The detail keeps the status, the S3 error code and the request id, which is what
   * an operator quotes to the provider. The server's free-text <Message> goes to the
   * log only: an error detail may be shown to HTTP clients, and upstream text is not
   * ours to pass on. Code and id are cut to the characters S3 uses for them. */
  safe_token(o->ei.code);
  safe_token(rq->request_id);
  if (rq->request_id[0] != '\0')
    snprintf(rid, sizeof(rid), " (request id %s)", rq->request_id);
  if (o->ei.message[0] != '\0') {
    tarn_error_set(&lm, o->code, "%s", o->ei.message);
    tarn__s3_scrub(c->s3, &lm);
    tarn_log_warn("s3 request failed",
                  "op=%s bucket=%s key=%s status=%ld code=%s "
                  "request_id=%s message=%s",
                  rq->op, c->s3->bucket, rq->key ? rq->key : "", c->at.status, o->ei.code,
                  rq->request_id, lm.detail);
  }
  return tarn_error_set(err, o->code, "%s: %ld %s%s%s", c->t, c->at.status,
                        o->ei.code[0] ? o->ei.code : reason(c->at.status), rid,
                        o->code == TARN_EUNKNOWN_OUTCOME
                            ? "; an earlier attempt was cut off after sending and may have "
                              "succeeded: check before retrying"
                        : attempt_no > 1 ? "; gave up after retries"
                                         : "");
}

static void call_free(s3_call *c) {
  if (c->h != NULL) {
    /* drop pointers into this frame before the handle idles in the pool */
    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c->h, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(c->h, CURLOPT_CONNECT_TO, NULL);
    handle_put(c->s3, c->h);
  }
  curl_slist_free_all(c->hdrs);
  curl_slist_free_all(c->connect);
  tarn_buf_free(&c->at.errbody);
}

int tarn__s3_do(tarn__s3_store *s3, tarn__s3_req *rq, tarn_error *err) {
  s3_call c;
  outcome o;
  unsigned attempt_no;
  int rc;

  memset(&c, 0, sizeof(c));
  c.s3 = s3;
  c.rq = rq;
  c.at.rq = rq;
  c.out_base = rq->out != NULL ? rq->out->len : 0;
  c.is_head = strcmp(rq->method, "HEAD") == 0;
  c.is_put = strcmp(rq->method, "PUT") == 0;
  c.is_post = strcmp(rq->method, "POST") == 0;
  c.is_get_like = c.is_head || strcmp(rq->method, "GET") == 0;
  tarn_buf_init(&c.at.errbody, TARN__S3_ERRBODY_MAX);
  rq->status = 0;
  rq->content_length = -1;
  rq->mtime_us = 0;
  rq->etag[0] = rq->request_id[0] = rq->s3_code[0] = '\0';
  rq->attempts = 0;
  target(s3, rq, c.t, sizeof(c.t));

  rc = call_setup(&c, err);
  if (rc != 0)
    goto out;
  for (attempt_no = 1;; attempt_no++) {
    classify(&c, attempt_once(&c, attempt_no), &o, err);
    if (o.done) {
      rc = o.rc;
      break;
    }
    if (!retry_after(&c, &o, attempt_no)) {
      rc = give_up(&c, &o, attempt_no, err);
      break;
    }
  }
  if (err != NULL && rc != 0) {
    err->http_status = (int)rq->status;
    err->attempts = (int)rq->attempts;
  }

out:
  if (rc != 0)
    restore_out(&c);
  if (rc != 0)
    tarn__s3_scrub(s3, err);
  call_free(&c);
  return rc;
}
