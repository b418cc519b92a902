/* s3_int.h - internals shared by the S3 backend's files (store_s3.c, s3_request.c,
 * s3_xml.c) and its unit tests. Not a public header: other modules use store.h. */
#ifndef TARN_STORE_S3_INT_H
#define TARN_STORE_S3_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/error.h"
#include "store/store.h"

#define TARN__S3_MIN_PART ((size_t)5 << 20)     /* S3's smallest non-final part */
#define TARN__S3_MAX_PART ((size_t)5 << 30)     /* and largest part (and single PUT) */
#define TARN__S3_MAX_PARTS 10000u               /* parts per multipart upload */
#define TARN__S3_KEY_MAX 1024                   /* S3's key limit, prefix included */
#define TARN__S3_ERRBODY_MAX ((size_t)64 << 10) /* error bodies kept for the detail */
#define TARN__S3_XMLBODY_MAX ((size_t)32 << 20) /* list / upload / complete responses */
#define TARN__S3_BACKOFF_BASE_MS 100u
#define TARN__S3_BACKOFF_CAP_MS 5000u
#define TARN__S3_POOL_MAX 16 /* idle curl handles kept per store */

/* The store. Every string is owned; the secret and token are never logged nor put in an
 * error detail (tarn__s3_scrub removes them should a server echo one back). */
typedef struct tarn__s3_store {
  tarn_store base;
  char *scheme; /* "http" or "https" */
  char *host;   /* host[:port] of the endpoint, without the bucket */
  char *region;
  char *bucket;
  char *prefix; /* "" or e.g. "lake/"; prepended to every key */
  char *access_key;
  char *secret;
  char *token;      /* NULL when no session token */
  char *ca_file;    /* NULL: the system's bundle */
  char *sigv4;      /* "aws:amz:<region>:s3" for CURLOPT_AWS_SIGV4 */
  char *connect_to; /* test hook (CURLOPT_CONNECT_TO entry), NULL normally */
  int virtual_hosted;
  int insecure;
  size_t threshold, part_size;
  unsigned max_attempts, connect_timeout_ms, request_timeout_ms;
  /* Idle curl handles: a request takes one (or makes one) and gives it back, so each
   * thread in flight has its own handle and finished handles keep their connections
   * open for the next request. */
  pthread_mutex_t mu;
  void *idle[TARN__S3_POOL_MAX];
  size_t idle_count;
} tarn__s3_store;

/* One S3 request, retried as a whole. The caller fills the inputs; tarn__s3_do fills
 * the outputs (also on failure, for the last attempt). */
typedef struct tarn__s3_req {
  /* inputs */
  const char *method; /* "GET", "HEAD", "PUT", "POST", "DELETE" */
  const char *op;     /* name in messages and logs ("PUT", "UploadPart", "LIST") */
  const char *key;    /* full key (store prefix included); NULL: the bucket itself */
  const char *query;  /* sorted, encoded query from tarn__s3_query, or NULL */
  const void *body;   /* PUT/POST body (borrowed; re-sent from the start on retry) */
  size_t body_len;
  const char *body_sha256;   /* lower-case hex of the body's SHA-256; NULL: computed here */
  const char *if_none_match; /* "*" for put-if-absent; a 412 is then TARN_EEXIST */
  const char *range;         /* "bytes=a-b", or NULL */
  const char *content_type;  /* or NULL */
  tarn_buf *out;             /* 2xx body is appended here (its cap enforced, also from
                               Content-Length before the body comes); on failure it is
                               restored to its length before the call. NULL: discarded */
  uint64_t out_skip;         /* bytes of a 200 body to drop first (server ignored Range) */
  uint64_t out_limit;        /* with out_skip: keep at most this many bytes; 0: no limit */
  int error_in_200;          /* a 200 may carry <Error> (CompleteMultipartUpload) */
  /* outputs */
  long status;            /* last HTTP status, 0 when none arrived */
  int64_t content_length; /* -1 when the response had none */
  int64_t mtime_us;       /* Last-Modified in Unix microseconds, 0 when absent */
  char etag[136];         /* ETag header as sent (quotes included), "" when absent */
  char request_id[128];   /* x-amz-request-id, or <RequestId> of the error body */
  char s3_code[64];       /* <Code> of the error body, "" when none */
  unsigned attempts;
} tarn__s3_req;

/* Runs rq with retries (timeouts, connection errors, 429, 5xx but 501) and exponential
 * backoff with full jitter. Returns 0 when a 2xx arrived; otherwise a tarn_code with
 * err naming the op, s3://bucket/key, status, S3 code, request id and message, and
 * err->http_status / err->attempts set. Thread-safe. */
int tarn__s3_do(tarn__s3_store *s3, tarn__s3_req *rq, tarn_error *err);

/* Maps a final HTTP status (and the S3 error code, may be "") to a tarn_code;
 * if_none_match says whether a 412 means "exists". */
int tarn__s3_status_code(long status, const char *s3_code, int if_none_match);
/* Whether a response with this status and S3 code is worth another attempt. */
int tarn__s3_status_retriable(long status, const char *s3_code);

/* The ceiling of the backoff before attempt `attempt + 1` (attempt >= 1): base * 2^(attempt-1)
 * capped at TARN__S3_BACKOFF_CAP_MS; and the jittered delay for a random value: uniform in
 * [0, ceiling] (full jitter). */
uint64_t tarn__s3_backoff_cap_ms(unsigned attempt);
uint64_t tarn__s3_backoff_ms(unsigned attempt, uint64_t rnd);

/* Appends s[0,n) URI-encoded per S3's SigV4 rules: every byte but A-Z a-z 0-9 - _ . ~
 * becomes %XX (upper-case hex); '/' is kept when keep_slash (paths) and encoded
 * otherwise (query names and values). */
int tarn__s3_uri_encode(tarn_buf *out, const char *s, size_t n, int keep_slash, tarn_error *err);

/* A query parameter; value "" is sent as "name=" (signed the same way). */
typedef struct tarn__s3_param {
  const char *name;
  const char *value;
} tarn__s3_param;
/* Appends the canonical query: parameters sorted by name (then value), names and values
 * URI-encoded, joined by '&'. curl 7.88's signer signs the query as sent, so what we
 * send must already be canonical. Sorts params in place. */
int tarn__s3_query(tarn_buf *out, tarn__s3_param *params, size_t n, tarn_error *err);

/* Appends the request path for `key` (NULL: the bucket): "/bucket/enc(key)" path-style,
 * "/enc(key)" virtual-hosted. And the whole URL, query included. */
int tarn__s3_url(const tarn__s3_store *s3, const char *key, const char *query, tarn_buf *out,
                 tarn_error *err);

/* Replaces every occurrence of the store's secret and session token in err->detail. */
void tarn__s3_scrub(const tarn__s3_store *s3, tarn_error *err);

/* ---- XML (s3_xml.c): a small scanner for the few S3 responses we read ---- */

/*
 * Finds the next element <name ...>...</name> (or <name/>) at or after *pos in s[0,n).
 * Returns 1 and sets *inner and *inner_len to its content and *pos past its end; 0 when
 * there is none; -1 when one starts but never ends (truncated or hostile input).
 * Elements of one name must not nest (true of every S3 response we read).
 */
int tarn__s3_xml_next(const char *s, size_t n, size_t *pos, const char *name, const char **inner,
                      size_t *inner_len);
/* Appends the text s[0,n) with entities (&amp; &lt; &gt; &quot; &apos; &#N; &#xH;) and
 * CDATA sections decoded. A raw '<', a bad entity or a decoded NUL is TARN_ECORRUPT. */
int tarn__s3_xml_decode(const char *s, size_t n, tarn_buf *out, tarn_error *err);
/* Appends s with & < > " ' escaped. */
int tarn__s3_xml_escape(tarn_buf *out, const char *s, tarn_error *err);
/* Decodes the text of the first <name> element into a fresh string (*out, tarn_free).
 * Returns 0 (also when absent: *out NULL) or TARN_ECORRUPT / TARN_ENOMEM. */
int tarn__s3_xml_text(const char *s, size_t n, const char *name, size_t max, char **out,
                      tarn_error *err);

/* The fields of an S3 <Error> body, cut to fit; "" when absent. Never fails. */
typedef struct tarn__s3_errinfo {
  char code[64];
  char message[256];
  char request_id[128];
} tarn__s3_errinfo;
void tarn__s3_parse_error(const char *s, size_t n, tarn__s3_errinfo *ei);

/* A ListObjectsV2 page: full keys as S3 sent them (decoded), in out (appended),
 * IsTruncated and NextContinuationToken (*next_token: tarn_free; NULL when absent). */
int tarn__s3_parse_list(const char *s, size_t n, tarn_store_listing *out, int *truncated,
                        char **next_token, tarn_error *err);

/* "2013-05-24T00:00:00.000Z" (fraction optional, 'Z' or +00:00) to Unix microseconds. */
int tarn__s3_parse_iso8601(const char *s, size_t n, int64_t *us);

/* ---- test helpers (store_s3.c) ---- */

/* Counts the multipart uploads in progress under `prefix` (store prefix added), with
 * ListMultipartUploads, so tests can prove no parts were left behind. */
int tarn__s3_count_uploads(tarn_store *st, const char *prefix, size_t *count, tarn_error *err);
/* Test hook: every connection goes to `connect_to` (a CURLOPT_CONNECT_TO entry such as
 * "::127.0.0.1:8080"), so virtual-hosted names need no DNS. NULL clears. */
int tarn__s3_set_connect_to(tarn_store *st, const char *connect_to, tarn_error *err);

#endif
