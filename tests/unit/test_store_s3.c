/* test_store_s3.c - unit tests for the S3 backend: encoding, XML, backoff, errors, and
 * SigV4 signatures checked against an independent implementation of the AWS spec. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"
#include "store/s3_int.h"
#include "store/store.h"

#define SECRET "tEst/Secret+Key=abc123XYZ"
#define ACCESS "AKIDTESTEXAMPLE"
#define REGION "eu-test-1"

/* ======================================================================================
 * An independent SigV4 implementation, written from the AWS documentation (canonical
 * request -> string to sign -> HMAC chain). It shares no code with the backend: it has
 * its own URI encoder and works on the raw bytes a capture server received.
 * ====================================================================================== */

typedef struct raw_hdr {
  char name[64];
  char value[2048];
} raw_hdr;

typedef struct raw_req {
  char method[16];
  char path[8192];  /* as sent, before '?' */
  char query[8192]; /* as sent, after '?' */
  raw_hdr hdrs[32];
  int nhdrs;
  const unsigned char *body;
  size_t body_len;
} raw_req;

/* Parses "METHOD target HTTP/1.1\r\nName: value\r\n...\r\n\r\nbody". */
static int parse_raw(const char *raw, size_t len, raw_req *r) {
  const char *p = raw, *end = raw + len, *eol, *sp1, *sp2, *q, *colon;
  memset(r, 0, sizeof(*r));
  eol = strstr(p, "\r\n");
  if (eol == NULL)
    return -1;
  sp1 = memchr(p, ' ', (size_t)(eol - p));
  if (sp1 == NULL)
    return -1;
  sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
  if (sp2 == NULL)
    return -1;
  snprintf(r->method, sizeof(r->method), "%.*s", (int)(sp1 - p), p);
  q = memchr(sp1 + 1, '?', (size_t)(sp2 - sp1 - 1));
  if (q != NULL) {
    snprintf(r->path, sizeof(r->path), "%.*s", (int)(q - sp1 - 1), sp1 + 1);
    snprintf(r->query, sizeof(r->query), "%.*s", (int)(sp2 - q - 1), q + 1);
  } else {
    snprintf(r->path, sizeof(r->path), "%.*s", (int)(sp2 - sp1 - 1), sp1 + 1);
  }
  p = eol + 2;
  while (p < end && !(p[0] == '\r' && p[1] == '\n')) {
    eol = strstr(p, "\r\n");
    if (eol == NULL || r->nhdrs == 32)
      return -1;
    colon = memchr(p, ':', (size_t)(eol - p));
    if (colon == NULL)
      return -1;
    snprintf(r->hdrs[r->nhdrs].name, sizeof(r->hdrs[0].name), "%.*s", (int)(colon - p), p);
    colon++;
    snprintf(r->hdrs[r->nhdrs].value, sizeof(r->hdrs[0].value), "%.*s", (int)(eol - colon), colon);
    r->nhdrs++;
    p = eol + 2;
  }
  if (p + 2 > end)
    return -1;
  r->body = (const unsigned char *)p + 2;
  r->body_len = (size_t)(end - (p + 2));
  return 0;
}

static const char *raw_header(const raw_req *r, const char *name) {
  int i;
  for (i = 0; i < r->nhdrs; i++)
    if (strcasecmp(r->hdrs[i].name, name) == 0)
      return r->hdrs[i].value;
  return NULL;
}

/* Trims and collapses runs of spaces, as the spec's canonical header values require. */
static void trimall(const char *v, char *out, size_t outlen) {
  size_t o = 0;
  int space = 0;
  while (*v == ' ' || *v == '\t')
    v++;
  for (; *v && o + 1 < outlen; v++) {
    if (*v == ' ' || *v == '\t') {
      space = 1;
      continue;
    }
    if (space && o > 0)
      out[o++] = ' ';
    space = 0;
    out[o++] = *v;
  }
  out[o] = '\0';
}

/* The spec's UriEncode: everything but A-Za-z0-9-._~ as %XX (upper case); '/' kept in
 * paths. */
static void t_encode(const char *s, size_t n, int keep_slash, char *out) {
  size_t i, o = 0;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/'))
      out[o++] = (char)c;
    else
      o += (size_t)sprintf(out + o, "%%%02X", c);
  }
  out[o] = '\0';
}

static size_t t_decode(const char *s, size_t n, char *out) {
  size_t i, o = 0;
  for (i = 0; i < n; i++) {
    if (s[i] == '%' && i + 2 < n) {
      char hx[3] = {s[i + 1], s[i + 2], 0};
      out[o++] = (char)strtol(hx, NULL, 16);
      i += 2;
    } else {
      out[o++] = s[i];
    }
  }
  out[o] = '\0';
  return o;
}

typedef struct qpair {
  char name[512];
  char value[4096];
} qpair;

static int cmp_qpair(const void *a, const void *b) {
  const qpair *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  return c ? c : strcmp(x->value, y->value);
}

/* The spec's canonical query: each name and value decoded then encoded once, pairs sorted
 * by name then value, "name=value" joined by '&' ("name=" for a bare name). */
static void canonical_query(const char *query, char *out) {
  static qpair pairs[64];
  const char *q;
  size_t n, np = 0, i;
  out[0] = '\0';
  for (q = query; *q && np < 64;) {
    const char *amp = strchr(q, '&'), *eq;
    size_t len = amp ? (size_t)(amp - q) : strlen(q), nl;
    char raw_name[512], raw_val[4096];
    eq = memchr(q, '=', len);
    nl = eq ? (size_t)(eq - q) : len;
    n = t_decode(q, nl, raw_name);
    t_encode(raw_name, n, 0, pairs[np].name);
    if (eq) {
      n = t_decode(eq + 1, len - nl - 1, raw_val);
      t_encode(raw_val, n, 0, pairs[np].value);
    } else {
      pairs[np].value[0] = '\0';
    }
    np++;
    q += len;
    if (*q == '&')
      q++;
  }
  qsort(pairs, np, sizeof(pairs[0]), cmp_qpair);
  for (i = 0; i < np; i++)
    sprintf(out + strlen(out), "%s%s=%s", i ? "&" : "", pairs[i].name, pairs[i].value);
}

static void sha256_hex(const void *p, size_t n, char hex[65]) {
  unsigned char d[32];
  unsigned int dl = 0;
  int i;
  EVP_Digest(p, n, d, &dl, EVP_sha256(), NULL);
  for (i = 0; i < 32; i++)
    sprintf(hex + 2 * i, "%02x", d[i]);
}

static void hmac(const void *key, size_t kl, const char *msg, unsigned char out[32]) {
  unsigned int ol = 32;
  HMAC(EVP_sha256(), key, (int)kl, (const unsigned char *)msg, strlen(msg), out, &ol);
}

/*
 * Computes the signature of r per the spec: the canonical request from the method, the
 * URI-encoded path, the sorted encoded query, the named headers (lower-cased, trimmed),
 * the signed header list and the payload hash (x-amz-content-sha256); then the string to
 * sign and the HMAC chain "AWS4"+secret -> date -> region -> "s3" -> "aws4_request".
 */
static void sigv4(const raw_req *r, const char *signed_headers, const char *amz_date,
                  const char *region, const char *secret, char creq_hash[65], char sig[65]) {
  static char creq[65536], canon_path[16384], canon_query[16384], tmp[8192];
  char sts[1024], date[9], key[256], names[1024], *tok, *save = NULL;
  unsigned char k1[32], k2[32];
  const char *payload = raw_header(r, "x-amz-content-sha256");
  size_t n, i;

  /* canonical URI: decode, then encode each byte once ('/' kept) */
  n = t_decode(r->path, strlen(r->path), tmp);
  if (tmp[0] != '/') {
    canon_path[0] = '/';
    t_encode(tmp, n, 1, canon_path + 1);
  } else {
    t_encode(tmp, n, 1, canon_path);
  }
  canonical_query(r->query, canon_query);
  /* canonical request */
  n = (size_t)sprintf(creq, "%s\n%s\n%s\n", r->method, canon_path, canon_query);
  snprintf(names, sizeof(names), "%s", signed_headers);
  for (tok = strtok_r(names, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
    const char *v = raw_header(r, tok);
    trimall(v ? v : "", tmp, sizeof(tmp));
    n += (size_t)sprintf(creq + n, "%s:%s\n", tok, tmp);
  }
  trimall(payload ? payload : "UNSIGNED-PAYLOAD", tmp, sizeof(tmp));
  sprintf(creq + n, "\n%s\n%s", signed_headers, tmp);
  sha256_hex(creq, strlen(creq), creq_hash);
  if (getenv("SIGV4_DEBUG") != NULL) /* shows the canonical request when one differs */
    fprintf(stderr, "canonical request <<%s>>\n", creq);
  /* string to sign */
  memcpy(date, amz_date, 8);
  date[8] = '\0';
  snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256\n%s\n%s/%s/s3/aws4_request\n%s", amz_date, date,
           region, creq_hash);
  /* signing key and signature */
  snprintf(key, sizeof(key), "AWS4%s", secret);
  hmac(key, strlen(key), date, k1);
  hmac(k1, 32, region, k2);
  hmac(k2, 32, "s3", k1);
  hmac(k1, 32, "aws4_request", k2);
  hmac(k2, 32, sts, k1);
  for (i = 0; i < 32; i++)
    sprintf(sig + 2 * i, "%02x", k1[i]);
}

/* The AWS documentation's S3 examples (examplebucket, AKIAIOSFODNN7EXAMPLE, 20130524)
 * through the independent signer: this proves the test's own signer before it judges
 * ours. */
static void test_aws_documented_examples(void **state) {
  static const struct {
    const char *raw, *signed_headers, *creq_hash, *sig;
  } ex[] = {
      {"GET /test.txt HTTP/1.1\r\nHost: examplebucket.s3.amazonaws.com\r\n"
       "Range: bytes=0-9\r\n"
       "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\r\n"
       "x-amz-date: 20130524T000000Z\r\n\r\n",
       "host;range;x-amz-content-sha256;x-amz-date",
       "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
       "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"},
      {"PUT test$file.text HTTP/1.1\r\nHost: examplebucket.s3.amazonaws.com\r\n"
       "Date: Fri, 24 May 2013 00:00:00 GMT\r\nx-amz-date: 20130524T000000Z \r\n"
       "x-amz-storage-class: REDUCED_REDUNDANCY\r\n"
       "x-amz-content-sha256: 44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\r\n"
       "\r\nWelcome to Amazon S3.",
       "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
       "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d",
       "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"},
      {"GET ?lifecycle HTTP/1.1\r\nHost: examplebucket.s3.amazonaws.com\r\n"
       "x-amz-date: 20130524T000000Z \r\n"
       "x-amz-content-sha256:"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\r\n\r\n",
       "host;x-amz-content-sha256;x-amz-date",
       "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca",
       "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"},
      {"GET ?max-keys=2&prefix=J HTTP/1.1\r\nHost: examplebucket.s3.amazonaws.com\r\n"
       "x-amz-date: 20130524T000000Z \r\n"
       "x-amz-content-sha256:"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\r\n\r\n",
       "host;x-amz-content-sha256;x-amz-date",
       "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7",
       "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"},
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(ex) / sizeof(ex[0]); i++) {
    raw_req r;
    char h[65], s[65], bh[65];
    assert_int_equal(parse_raw(ex[i].raw, strlen(ex[i].raw), &r), 0);
    sha256_hex(r.body, r.body_len, bh);
    trimall(raw_header(&r, "x-amz-content-sha256"), h, sizeof(h));
    assert_string_equal(bh, h); /* the documented payload hash is the body's */
    sigv4(&r, ex[i].signed_headers, "20130524T000000Z", "us-east-1",
          "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", h, s);
    assert_string_equal(h, ex[i].creq_hash);
    assert_string_equal(s, ex[i].sig);
  }
}

/* ---- verifying what the backend sent ---- */

static FILE *dump_file; /* S3_SIGN_DUMP: captured requests for the node reference signer */

static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"' || *s == '\\')
      fprintf(f, "\\%c", *s);
    else if ((unsigned char)*s < 0x20)
      fprintf(f, "\\u%04x", *s);
    else
      fputc(*s, f);
  }
  fputc('"', f);
}

static void dump_request(const raw_req *r, const char *signed_headers, const char *amz_date,
                         const char *region, const char *secret, const char *token,
                         const char *sig) {
  char names[1024], *tok, *save = NULL;
  int first = 1;
  if (dump_file == NULL)
    return;
  fprintf(dump_file, "{\"method\":");
  json_str(dump_file, r->method);
  fprintf(dump_file, ",\"path\":");
  json_str(dump_file, r->path);
  fprintf(dump_file, ",\"query\":");
  json_str(dump_file, r->query);
  fprintf(dump_file, ",\"region\":");
  json_str(dump_file, region);
  fprintf(dump_file, ",\"access_key\":");
  json_str(dump_file, ACCESS);
  fprintf(dump_file, ",\"secret\":");
  json_str(dump_file, secret);
  if (token != NULL) {
    fprintf(dump_file, ",\"token\":");
    json_str(dump_file, token);
  }
  fprintf(dump_file, ",\"amz_date\":");
  json_str(dump_file, amz_date);
  fprintf(dump_file, ",\"signature\":");
  json_str(dump_file, sig);
  fprintf(dump_file, ",\"headers\":{");
  snprintf(names, sizeof(names), "%s", signed_headers);
  for (tok = strtok_r(names, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
    const char *v = raw_header(r, tok);
    char t[2048];
    trimall(v ? v : "", t, sizeof(t));
    fprintf(dump_file, "%s", first ? "" : ",");
    json_str(dump_file, tok);
    fputc(':', dump_file);
    json_str(dump_file, t);
    first = 0;
  }
  fprintf(dump_file, "}}\n");
  fflush(dump_file);
}

/*
 * Checks a captured request: an Authorization header for our key, date, region and s3;
 * signed headers that include host, x-amz-date and x-amz-content-sha256 (and
 * x-amz-security-token when there is one); a payload hash equal to the SHA-256 of the
 * body received; a path and query already in canonical form (so curl's verbatim signing
 * is right); and the signature the independent implementation computes.
 */
static void verify_signed(const char *raw, size_t len, const char *secret, const char *region,
                          const char *token, raw_req *out) {
  raw_req r;
  char sh[1024], sig[128], cred[512], want_h[65], want_s[65], body_hash[65], date8[9];
  char canon[16384], dec[16384], amz[64];
  const char *auth, *p, *e, *hash;
  size_t n;
  assert_int_equal(parse_raw(raw, len, &r), 0);
  auth = raw_header(&r, "Authorization");
  assert_non_null(auth);
  while (*auth == ' ')
    auth++;
  assert_int_equal(strncmp(auth, "AWS4-HMAC-SHA256 ", 17), 0);
  p = strstr(auth, "Credential=");
  assert_non_null(p);
  e = strchr(p, ',');
  assert_non_null(e);
  snprintf(cred, sizeof(cred), "%.*s", (int)(e - p - 11), p + 11);
  p = strstr(auth, "SignedHeaders=");
  assert_non_null(p);
  e = strchr(p, ',');
  assert_non_null(e);
  snprintf(sh, sizeof(sh), "%.*s", (int)(e - p - 14), p + 14);
  p = strstr(auth, "Signature=");
  assert_non_null(p);
  snprintf(sig, sizeof(sig), "%s", p + 10);
  trimall(raw_header(&r, "x-amz-date") ? raw_header(&r, "x-amz-date") : "", amz, sizeof(amz));
  assert_int_equal(strlen(amz), 16);
  memcpy(date8, amz, 8);
  date8[8] = '\0';
  {
    char want_cred[512];
    snprintf(want_cred, sizeof(want_cred), "%s/%s/%s/s3/aws4_request", ACCESS, date8, region);
    assert_string_equal(cred, want_cred);
  }
  /* the headers that must be covered */
  {
    char padded[1100];
    snprintf(padded, sizeof(padded), ";%s;", sh);
    assert_non_null(strstr(padded, ";host;"));
    assert_non_null(strstr(padded, ";x-amz-date;"));
    assert_non_null(strstr(padded, ";x-amz-content-sha256;"));
    if (token != NULL)
      assert_non_null(strstr(padded, ";x-amz-security-token;"));
  }
  /* and every header it claims to sign was really sent */
  {
    char names[1024], *tok, *save = NULL;
    snprintf(names, sizeof(names), "%s", sh);
    for (tok = strtok_r(names, ";", &save); tok; tok = strtok_r(NULL, ";", &save))
      if (raw_header(&r, tok) == NULL)
        fail_msg("signed header '%s' is not in the request", tok);
  }
  hash = raw_header(&r, "x-amz-content-sha256");
  assert_non_null(hash);
  while (*hash == ' ')
    hash++;
  sha256_hex(r.body, r.body_len, body_hash);
  assert_string_equal(hash, body_hash);
  /* the path was sent canonical (encoded once, exactly as the spec encodes it) */
  n = t_decode(r.path, strlen(r.path), dec);
  t_encode(dec, n, 1, canon);
  assert_string_equal(r.path, canon);
  /* and the query sorted and encoded */
  canonical_query(r.query, canon);
  assert_string_equal(r.query, canon);
  sigv4(&r, sh, amz, region, secret, want_h, want_s);
  assert_string_equal(sig, want_s);
  dump_request(&r, sh, amz, region, secret, token, sig);
  if (out != NULL)
    *out = r;
}

/* ---- a tiny HTTP capture server on 127.0.0.1 ---- */

typedef struct canned {
  int status;
  const char *headers; /* extra header lines, each ending in \r\n */
  const char *body;    /* NULL: no body */
  int hang;            /* never answer; wait for the client to give up */
  int head;            /* the response to a HEAD: Content-Length in headers, no body */
} canned;

#define CAP_MAX 64

typedef struct capture {
  int fd, port;
  pthread_t th;
  pthread_mutex_t mu;
  int stop;
  canned script[CAP_MAX];
  int nscript, next;
  char *req[CAP_MAX];
  size_t req_len[CAP_MAX];
  int nreq;
} capture;

static int cap_stopped(capture *c) {
  int s;
  pthread_mutex_lock(&c->mu);
  s = c->stop;
  pthread_mutex_unlock(&c->mu);
  return s;
}

/* Reads one request (head + Content-Length body) from fd into a malloc'd buffer. */
static char *read_request(capture *c, int fd, size_t *len) {
  size_t cap = 65536, n = 0, head_end = 0, want = 0;
  char *b = malloc(cap + 1);
  for (;;) {
    struct pollfd pfd = {fd, POLLIN, 0};
    ssize_t r;
    if (head_end != 0 && n >= want)
      break;
    if (poll(&pfd, 1, 50) == 0) {
      if (cap_stopped(c))
        break;
      continue;
    }
    if (n == cap) {
      cap *= 2;
      b = realloc(b, cap + 1);
    }
    r = read(fd, b + n, cap - n);
    if (r <= 0)
      break;
    n += (size_t)r;
    b[n] = '\0';
    if (head_end == 0) {
      char *e = strstr(b, "\r\n\r\n");
      if (e != NULL) {
        const char *cl = NULL;
        char *line;
        head_end = (size_t)(e - b) + 4;
        for (line = b; line < e; line = strstr(line, "\r\n") + 2) {
          if (strncasecmp(line, "Content-Length:", 15) == 0)
            cl = line + 15;
        }
        want = head_end + (cl ? strtoull(cl, NULL, 10) : 0);
      }
    }
  }
  b[n] = '\0';
  *len = n;
  return b;
}

static void *cap_main(void *arg) {
  capture *c = arg;
  while (!cap_stopped(c)) {
    struct pollfd pfd = {c->fd, POLLIN, 0};
    int cfd;
    size_t len;
    char *req;
    canned cn;
    if (poll(&pfd, 1, 50) <= 0)
      continue;
    cfd = accept(c->fd, NULL, NULL);
    if (cfd < 0)
      continue;
    req = read_request(c, cfd, &len);
    if (getenv("CAP_DEBUG") != NULL) /* request timing, for debugging timeouts */
      fprintf(stderr, "capture %llu ms: %zu bytes: %.40s\n",
              (unsigned long long)(tarn_clock_mono_ns() / 1000000 % 100000), len, req);
    pthread_mutex_lock(&c->mu);
    if (c->nreq < CAP_MAX) {
      c->req[c->nreq] = req;
      c->req_len[c->nreq++] = len;
      req = NULL;
    }
    cn = c->next < c->nscript ? c->script[c->next++]
                              : (canned){500, NULL, "<Error><Code>NoScript</Code></Error>", 0, 0};
    pthread_mutex_unlock(&c->mu);
    free(req);
    if (cn.hang) {
      char tmp[256];
      struct pollfd p2 = {cfd, POLLIN, 0};
      while (!cap_stopped(c)) { /* until the client closes */
        if (poll(&p2, 1, 50) > 0 && read(cfd, tmp, sizeof(tmp)) <= 0)
          break;
      }
    } else {
      char head[4096];
      size_t bl = cn.body ? strlen(cn.body) : 0;
      int hl;
      if (cn.head)
        hl = snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nConnection: close\r\n%s\r\n", cn.status,
                      cn.headers ? cn.headers : "");
      else
        hl = snprintf(head, sizeof(head),
                      "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n",
                      cn.status, bl, cn.headers ? cn.headers : "");
      /* MSG_NOSIGNAL: a client that gave up must not kill the test with SIGPIPE */
      if (send(cfd, head, (size_t)hl, MSG_NOSIGNAL) < 0 ||
          (!cn.head && bl && send(cfd, cn.body, bl, MSG_NOSIGNAL) < 0))
        fprintf(stderr, "capture: answer %d (status %d) not delivered: %s\n", c->next, cn.status,
                strerror(errno));
    }
    close(cfd);
  }
  return NULL;
}

static capture *cap_start(const canned *script, int n) {
  capture *c = calloc(1, sizeof(*c));
  struct sockaddr_in a;
  socklen_t al = sizeof(a);
  int one = 1;
  assert_non_null(c);
  assert_true(n <= CAP_MAX);
  memcpy(c->script, script, (size_t)n * sizeof(*script));
  c->nscript = n;
  pthread_mutex_init(&c->mu, NULL);
  c->fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(c->fd >= 0);
  setsockopt(c->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(c->fd, (struct sockaddr *)&a, sizeof(a)), 0);
  assert_int_equal(listen(c->fd, 16), 0);
  getsockname(c->fd, (struct sockaddr *)&a, &al);
  c->port = ntohs(a.sin_port);
  assert_int_equal(pthread_create(&c->th, NULL, cap_main, c), 0);
  return c;
}

static void cap_stop(capture *c) {
  int i;
  pthread_mutex_lock(&c->mu);
  c->stop = 1;
  pthread_mutex_unlock(&c->mu);
  pthread_join(c->th, NULL);
  close(c->fd);
  for (i = 0; i < c->nreq; i++)
    free(c->req[i]);
  pthread_mutex_destroy(&c->mu);
  free(c);
}

static int cap_count(capture *c) {
  int n;
  pthread_mutex_lock(&c->mu);
  n = c->nreq;
  pthread_mutex_unlock(&c->mu);
  return n;
}

/* ---- store helpers ---- */

static tarn_store_s3_options base_opts(int port, char *endpoint, size_t eplen) {
  tarn_store_s3_options o;
  memset(&o, 0, sizeof(o));
  snprintf(endpoint, eplen, "http://127.0.0.1:%d", port);
  o.endpoint = endpoint;
  o.region = REGION;
  o.bucket = "bkt";
  o.prefix = "pre/";
  o.access_key_id = ACCESS;
  o.secret_access_key = SECRET;
  o.max_attempts = 3;
  o.connect_timeout_ms = 2000;
  o.request_timeout_ms = 5000;
  return o;
}

static tarn_store *open_s3(const tarn_store_s3_options *o) {
  tarn_store *st = NULL;
  tarn_error err;
  int rc = tarn_store_s3_open(o, &st, &err);
  if (rc != 0)
    fail_msg("s3 open: %s", tarn_error_message(&err));
  return st;
}

/* ======================================================================================
 * Pure functions
 * ====================================================================================== */

static void test_uri_encode(void **state) {
  static const struct {
    const char *in;
    int keep_slash;
    const char *out;
  } cases[] = {
      {"data/part-1.parquet", 1, "data/part-1.parquet"},
      {"data/part-1.parquet", 0, "data%2Fpart-1.parquet"},
      {"a b+c=d&e", 1, "a%20b%2Bc%3Dd%26e"},
      {"~_.-AZaz09", 1, "~_.-AZaz09"},
      {"100%/x*y", 1, "100%25/x%2Ay"},
      {"t\xc3\xa4st/\xe2\x82\xac", 1, "t%C3%A4st/%E2%82%AC"},
      {"$@:,;?#[]!'()", 1, "%24%40%3A%2C%3B%3F%23%5B%5D%21%27%28%29"},
      {"", 1, ""},
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    tarn_buf b;
    char indep[256];
    tarn_buf_init(&b, 1024);
    assert_int_equal(
        tarn__s3_uri_encode(&b, cases[i].in, strlen(cases[i].in), cases[i].keep_slash, NULL), 0);
    assert_string_equal(b.data, cases[i].out);
    t_encode(cases[i].in, strlen(cases[i].in), cases[i].keep_slash, indep);
    assert_string_equal(b.data, indep); /* agrees with the test's own encoder */
    tarn_buf_free(&b);
  }
}

static void test_query_sorted(void **state) {
  tarn__s3_param p[] = {{"uploadId", "a/b+c"},
                        {"partNumber", "12"},
                        {"list-type", "2"},
                        {"continuation-token", "1/x=="},
                        {"uploads", ""}};
  tarn_buf b;
  (void)state;
  tarn_buf_init(&b, 1024);
  assert_int_equal(tarn__s3_query(&b, p, 5, NULL), 0);
  assert_string_equal(b.data, "continuation-token=1%2Fx%3D%3D&list-type=2&partNumber=12&"
                              "uploadId=a%2Fb%2Bc&uploads=");
  tarn_buf_free(&b);
}

static void test_url_styles(void **state) {
  tarn_store_s3_options o;
  char ep[64];
  tarn_store *st;
  tarn_buf b;
  (void)state;
  o = base_opts(9000, ep, sizeof(ep));
  st = open_s3(&o);
  tarn_buf_init(&b, 4096);
  assert_int_equal(tarn__s3_url((tarn__s3_store *)st, "pre/a b/c", "x=1", &b, NULL), 0);
  assert_string_equal(b.data, "http://127.0.0.1:9000/bkt/pre/a%20b/c?x=1");
  tarn_buf_reset(&b);
  assert_int_equal(tarn__s3_url((tarn__s3_store *)st, NULL, "list-type=2", &b, NULL), 0);
  assert_string_equal(b.data, "http://127.0.0.1:9000/bkt?list-type=2");
  tarn_store_destroy(st);
  o.endpoint = "https://s3.eu-west-1.amazonaws.com/";
  o.virtual_hosted = 1;
  st = open_s3(&o);
  tarn_buf_reset(&b);
  assert_int_equal(tarn__s3_url((tarn__s3_store *)st, "pre/k", NULL, &b, NULL), 0);
  assert_string_equal(b.data, "https://bkt.s3.eu-west-1.amazonaws.com/pre/k");
  tarn_buf_reset(&b);
  assert_int_equal(tarn__s3_url((tarn__s3_store *)st, NULL, NULL, &b, NULL), 0);
  assert_string_equal(b.data, "https://bkt.s3.eu-west-1.amazonaws.com/");
  tarn_buf_free(&b);
  tarn_store_destroy(st);
}

static void test_open_validation(void **state) {
  static const struct {
    const char *endpoint, *bucket, *prefix, *region;
    int vh;
    size_t part;
  } bad[] = {
      {"ftp://x", "bkt", NULL, NULL, 0, 0},
      {"http://", "bkt", NULL, NULL, 0, 0},
      {"http://u:p@host", "bkt", NULL, NULL, 0, 0},
      {"http://host/path", "bkt", NULL, NULL, 0, 0},
      {"http://host", "", NULL, NULL, 0, 0},
      {"http://host", "Bad_Bucket", NULL, NULL, 1, 0},
      {"http://host", "b/x", NULL, NULL, 0, 0},
      {"http://host", "bkt", "/abs", NULL, 0, 0},
      {"http://host", "bkt", "a//b/", NULL, 0, 0},
      {"http://host", "bkt", "/", NULL, 0, 0},
      {"http://host", "bkt", NULL, "us:east", 0, 0},
      {"http://host", "bkt", NULL, NULL, 0, 1 << 20},
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    tarn_store_s3_options o;
    char ep[64];
    tarn_store *st = NULL;
    tarn_error err;
    o = base_opts(1, ep, sizeof(ep));
    o.endpoint = bad[i].endpoint;
    o.bucket = bad[i].bucket;
    o.prefix = bad[i].prefix;
    o.region = bad[i].region;
    o.virtual_hosted = bad[i].vh;
    o.part_size = bad[i].part;
    assert_int_equal(tarn_store_s3_open(&o, &st, &err), TARN_ECONFIG);
    assert_null(st);
    assert_null(strstr(err.detail, SECRET));
  }
  {
    tarn_store_s3_options o;
    char ep[64];
    tarn_store *st = NULL;
    tarn_error err;
    o = base_opts(1, ep, sizeof(ep));
    o.secret_access_key = "";
    assert_int_equal(tarn_store_s3_open(&o, &st, &err), TARN_ECONFIG);
    o = base_opts(1, ep, sizeof(ep));
    o.access_key_id = NULL;
    assert_int_equal(tarn_store_s3_open(&o, &st, &err), TARN_ECONFIG);
  }
}

static const char LIST_DOC[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
    "<Name>bkt</Name><Prefix>pre/</Prefix><KeyCount>3</KeyCount><MaxKeys>3</MaxKeys>"
    "<IsTruncated>true</IsTruncated>"
    "<ContinuationToken>prev</ContinuationToken>"
    "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=&amp;x</"
    "NextContinuationToken>"
    "<Contents>\n  <Key>pre/a&amp;b &lt;c&gt; &quot;d&quot; &apos;e&apos;</Key>\n"
    "  <LastModified>2013-05-24T00:00:00.000Z</LastModified>"
    "<ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag><Size>434234</Size>"
    "<Owner><ID>x</ID><DisplayName/></Owner><StorageClass>STANDARD</StorageClass></Contents>"
    "<Contents><Key>pre/&#x41;&#66;&#xe4;&#x20AC;&#x1F600;</Key><Size>0</Size>"
    "<LastModified>2024-02-29T23:59:59.123456Z</LastModified></Contents>"
    "<Contents><Key><![CDATA[pre/raw <cdata> & stuff]]></Key><Size> 18446744073709551615 </Size>"
    "<LastModified>1970-01-01T00:00:01Z</LastModified></Contents>"
    "</ListBucketResult>";

static void test_xml_list(void **state) {
  tarn_store_listing l;
  char *tok = NULL;
  int trunc = -1;
  tarn_error err;
  (void)state;
  tarn_store_list_init(&l);
  assert_int_equal(tarn__s3_parse_list(LIST_DOC, strlen(LIST_DOC), &l, &trunc, &tok, &err), 0);
  assert_int_equal(trunc, 1);
  assert_string_equal(tok, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=&x");
  assert_int_equal(l.count, 3);
  assert_string_equal(l.entries[0].key, "pre/a&b <c> \"d\" 'e'");
  assert_int_equal(l.entries[0].size, 434234);
  assert_int_equal(l.entries[0].mtime_us, 1369353600LL * 1000000);
  assert_string_equal(l.entries[1].key, "pre/AB\xc3\xa4\xe2\x82\xac\xf0\x9f\x98\x80");
  assert_int_equal(l.entries[1].size, 0);
  assert_int_equal(l.entries[1].mtime_us, 1709251199LL * 1000000 + 123456);
  assert_string_equal(l.entries[2].key, "pre/raw <cdata> & stuff");
  assert_true(l.entries[2].size == UINT64_MAX);
  assert_int_equal(l.entries[2].mtime_us, 1000000);
  tarn_free(tok);
  tarn_store_list_free(&l);

  /* not truncated, no token, no contents */
  {
    const char *d = "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>";
    assert_int_equal(tarn__s3_parse_list(d, strlen(d), &l, &trunc, &tok, &err), 0);
    assert_int_equal(trunc, 0);
    assert_null(tok);
    assert_int_equal(l.count, 0);
  }
}

/* Every prefix of a valid document, and a set of hostile ones, must parse to an error
 * (or, where the cut leaves a complete document, to success) without reading out of
 * bounds: ASan checks the reads, since each prefix is copied into an exact-size buffer. */
static void test_xml_hostile(void **state) {
  static const char *bad[] = {
      "",
      "not xml at all",
      "<html><body>502 Bad Gateway</body></html>",
      "<ListBucketResult><Contents><Key>a</Key><Size>1</Size>",
      "<ListBucketResult><Contents><Key>a</Key><Size>-1</Size></Contents></ListBucketResult>",
      "<ListBucketResult><Contents><Key>a</Key><Size>18446744073709551616</Size></Contents></"
      "ListBucketResult>",
      "<ListBucketResult><Contents><Key>a</Key><Size>1x</Size></Contents></ListBucketResult>",
      "<ListBucketResult><Contents><Key>a</Key></Contents></ListBucketResult>",
      "<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>",
      "<ListBucketResult><Contents><Key></Key><Size>1</Size></Contents></ListBucketResult>",
      "<ListBucketResult><Contents><Key>a&bogus;</Key><Size>1</Size></Contents></ListBucketResult>",
      "<ListBucketResult><Contents><Key>a&amp</Key><Size>1</Size></Contents></ListBucketResult>",
      "<ListBucketResult><Contents><Key>a&#0;</Key><Size>1</Size></Contents></ListBucketResult>",
      "<ListBucketResult><Contents><Key>a&#xD800;</Key><Size>1</Size></Contents></"
      "ListBucketResult>",
      "<ListBucketResult><Contents><Key>a&#x110000;</Key><Size>1</Size></Contents></"
      "ListBucketResult>",
      "<ListBucketResult><Contents><Key>a&#99999999999999999999;</Key><Size>1</Size></Contents></"
      "ListBucketResult>",
      "<ListBucketResult><Contents><Key>a&#;</Key><Size>1</Size></Contents></ListBucketResult>",
      "<ListBucketResult><Contents><Key>a&#xZZ;</Key><Size>1</Size></Contents></ListBucketResult>",
      "<ListBucketResult><Contents><Key><Key>x</Key></Key><Size>1</Size></Contents></"
      "ListBucketResult>",
      "<ListBucketResult><Contents><Key><![CDATA[x</Key><Size>1</Size></Contents></"
      "ListBucketResult>",
      "<ListBucketResult><Contents><Key>a</Key><Size>1</Size><LastModified>yesterday</"
      "LastModified></Contents></ListBucketResult>",
      "<ListBucketResult><Contents><Key>a</Key><Size>1</Size><LastModified>2013-13-01T00:00:00Z</"
      "LastModified></Contents></ListBucketResult>",
      "<ListBucketResult><Contents",
      "<ListBucketResult",
      "<Error><Code>AccessDenied</Code></Error>",
  };
  size_t i, cut, n = strlen(LIST_DOC);
  (void)state;
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    tarn_store_listing l;
    char *tok = NULL, *copy;
    int trunc;
    tarn_error err;
    size_t bl = strlen(bad[i]);
    copy = malloc(bl ? bl : 1);
    memcpy(copy, bad[i], bl);
    tarn_store_list_init(&l);
    assert_int_equal(tarn__s3_parse_list(copy, bl, &l, &trunc, &tok, &err), TARN_ECORRUPT);
    assert_null(tok);
    tarn_store_list_free(&l);
    free(copy);
  }
  for (cut = 0; cut < n; cut++) {
    tarn_store_listing l;
    char *tok = NULL, *copy = malloc(cut ? cut : 1);
    int trunc, rc;
    memcpy(copy, LIST_DOC, cut);
    tarn_store_list_init(&l);
    rc = tarn__s3_parse_list(copy, cut, &l, &trunc, &tok, NULL);
    /* only the complete document parses: it is cut before </ListBucketResult> ends */
    assert_int_equal(rc, TARN_ECORRUPT);
    tarn_free(tok);
    tarn_store_list_free(&l);
    free(copy);
  }
  /* error bodies: every prefix is harmless too */
  {
    static const char E[] = "<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>";
    for (cut = 0; cut <= sizeof(E) - 1; cut++) {
      tarn__s3_errinfo ei;
      char *copy = malloc(cut ? cut : 1);
      memcpy(copy, E, cut);
      tarn__s3_parse_error(copy, cut, &ei);
      if (cut < sizeof(E) - 1)
        assert_string_equal(ei.request_id, "");
      free(copy);
    }
  }
}

static void test_xml_error(void **state) {
  tarn__s3_errinfo ei;
  static const char doc[] =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SignatureDoesNotMatch</Code>"
      "<Message>The request signature we calculated does not match &amp; so on\n"
      "next line</Message><StringToSign>AWS4-HMAC-SHA256...</StringToSign>"
      "<RequestId>tx000001-abc</RequestId><HostId>h</HostId></Error>";
  char big[2048];
  (void)state;
  tarn__s3_parse_error(doc, strlen(doc), &ei);
  assert_string_equal(ei.code, "SignatureDoesNotMatch");
  assert_string_equal(ei.message,
                      "The request signature we calculated does not match & so on next line");
  assert_string_equal(ei.request_id, "tx000001-abc");
  tarn__s3_parse_error(NULL, 0, &ei);
  assert_string_equal(ei.code, "");
  tarn__s3_parse_error("<Error><Code>X</Code>", 21, &ei);
  assert_string_equal(ei.code, "");
  /* a long message is cut to fit, still terminated */
  memset(big, 0, sizeof(big));
  strcpy(big, "<Error><Code>C</Code><Message>");
  memset(big + strlen(big), 'm', 1500);
  strcat(big, "</Message></Error>");
  tarn__s3_parse_error(big, strlen(big), &ei);
  assert_string_equal(ei.code, "C");
  assert_int_equal(strlen(ei.message), sizeof(ei.message) - 1);
  /* escape and decode round trip */
  {
    tarn_buf e, d;
    const char *s = "a&b<c>\"d\"'e'";
    tarn_buf_init(&e, 1024);
    tarn_buf_init(&d, 1024);
    assert_int_equal(tarn__s3_xml_escape(&e, s, NULL), 0);
    assert_string_equal(e.data, "a&amp;b&lt;c&gt;&quot;d&quot;&apos;e&apos;");
    assert_int_equal(tarn__s3_xml_decode(e.data, e.len, &d, NULL), 0);
    assert_string_equal(d.data, s);
    tarn_buf_free(&e);
    tarn_buf_free(&d);
  }
}

static void test_iso8601(void **state) {
  int64_t us;
  static const char *bad[] = {"",
                              "2013-05-24",
                              "2013-05-24T00:00:00",
                              "2013-05-24T00:00:00.Z",
                              "2013-05-24T24:00:00Z",
                              "2013-00-24T00:00:00Z",
                              "2013-05-24T00:00:00+01:00",
                              "2013-05-24T00:00:00Zjunk",
                              "20130524T000000Z"};
  size_t i;
  (void)state;
  assert_int_equal(tarn__s3_parse_iso8601("2013-05-24T00:00:00.000Z", 24, &us), 0);
  assert_int_equal(us, 1369353600LL * 1000000);
  assert_int_equal(tarn__s3_parse_iso8601("1970-01-01T00:00:00Z", 20, &us), 0);
  assert_int_equal(us, 0);
  assert_int_equal(tarn__s3_parse_iso8601("2000-03-01T12:34:56.7+00:00", 27, &us), 0);
  assert_int_equal(us, (951914096LL) * 1000000 + 700000);
  assert_int_equal(tarn__s3_parse_iso8601("1969-12-31T23:59:59Z", 20, &us), 0);
  assert_int_equal(us, -1000000);
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_int_equal(tarn__s3_parse_iso8601(bad[i], strlen(bad[i]), &us), -1);
}

static void test_backoff(void **state) {
  unsigned a;
  uint64_t r;
  (void)state;
  assert_int_equal(tarn__s3_backoff_cap_ms(1), 100);
  assert_int_equal(tarn__s3_backoff_cap_ms(2), 200);
  assert_int_equal(tarn__s3_backoff_cap_ms(3), 400);
  assert_int_equal(tarn__s3_backoff_cap_ms(6), 3200);
  assert_int_equal(tarn__s3_backoff_cap_ms(7), 5000);
  assert_int_equal(tarn__s3_backoff_cap_ms(1000), 5000);
  assert_int_equal(tarn__s3_backoff_cap_ms(UINT32_MAX), 5000);
  /* full jitter: uniform over [0, cap] */
  assert_int_equal(tarn__s3_backoff_ms(1, 0), 0);
  assert_int_equal(tarn__s3_backoff_ms(1, 100), 100);
  assert_int_equal(tarn__s3_backoff_ms(1, 101), 0);
  assert_int_equal(tarn__s3_backoff_ms(3, 399), 399);
  for (a = 1; a < 20; a++)
    for (r = UINT64_MAX - 50; r != 0 && r >= UINT64_MAX - 50; r++)
      assert_true(tarn__s3_backoff_ms(a, r) <= tarn__s3_backoff_cap_ms(a));
}

static void test_status_map(void **state) {
  (void)state;
  assert_int_equal(tarn__s3_status_code(200, "", 0), 0);
  assert_int_equal(tarn__s3_status_code(206, "", 0), 0);
  assert_int_equal(tarn__s3_status_code(404, "NoSuchKey", 0), TARN_ENOTFOUND);
  assert_int_equal(tarn__s3_status_code(403, "SignatureDoesNotMatch", 0), TARN_EPERM);
  assert_int_equal(tarn__s3_status_code(412, "PreconditionFailed", 1), TARN_EEXIST);
  assert_int_equal(tarn__s3_status_code(412, "PreconditionFailed", 0), TARN_ECONFLICT);
  assert_int_equal(tarn__s3_status_code(409, "OperationAborted", 0), TARN_ECONFLICT);
  assert_int_equal(tarn__s3_status_code(416, "InvalidRange", 0), TARN_ERANGE);
  assert_int_equal(tarn__s3_status_code(503, "SlowDown", 0), TARN_EIO);
  assert_int_equal(tarn__s3_status_code(429, "", 0), TARN_EIO);
  assert_int_equal(tarn__s3_status_code(504, "", 0), TARN_ETIMEDOUT);
  assert_int_equal(tarn__s3_status_code(400, "RequestTimeout", 0), TARN_ETIMEDOUT);
  assert_int_equal(tarn__s3_status_code(400, "InvalidArgument", 0), TARN_EINVAL);
  assert_int_equal(tarn__s3_status_code(501, "NotImplemented", 0), TARN_EUNSUPPORTED);
  assert_int_equal(tarn__s3_status_code(301, "PermanentRedirect", 0), TARN_ECONFIG);
  assert_true(tarn__s3_status_retriable(500, ""));
  assert_true(tarn__s3_status_retriable(503, "SlowDown"));
  assert_true(tarn__s3_status_retriable(429, ""));
  assert_true(tarn__s3_status_retriable(400, "RequestTimeout"));
  assert_false(tarn__s3_status_retriable(501, ""));
  assert_false(tarn__s3_status_retriable(403, ""));
  assert_false(tarn__s3_status_retriable(404, ""));
  assert_false(tarn__s3_status_retriable(412, ""));
  assert_true(tarn_err_retriable(tarn__s3_status_code(503, "", 0)));
  assert_false(tarn_err_retriable(tarn__s3_status_code(403, "", 0)));
}

static void test_scrub(void **state) {
  tarn_store_s3_options o;
  char ep[64];
  tarn_store *st;
  tarn_error err;
  (void)state;
  o = base_opts(1, ep, sizeof(ep));
  o.session_token = "SESSIONTOKEN123";
  st = open_s3(&o);
  tarn_error_set(&err, TARN_EPERM, "x " SECRET " y SESSIONTOKEN123 z " SECRET);
  tarn__s3_scrub((tarn__s3_store *)st, &err);
  assert_string_equal(err.detail, "x [redacted] y [redacted] z [redacted]");
  /* at the very end of a full detail: cut, still terminated */
  memset(err.detail, 'a', sizeof(err.detail) - 1);
  memcpy(err.detail + sizeof(err.detail) - 1 - 4, "SESS", 4);
  err.detail[sizeof(err.detail) - 1] = '\0';
  tarn__s3_scrub((tarn__s3_store *)st, &err);
  assert_int_equal(strlen(err.detail), sizeof(err.detail) - 1);
  tarn_store_destroy(st);
}

/* ======================================================================================
 * Requests through the capture server
 * ====================================================================================== */

static void test_sig_put_get_head(void **state) {
  canned script[] = {
      {200, "ETag: \"abc\"\r\n", NULL, 0, 0},                                         /* PUT */
      {200, "Last-Modified: Fri, 24 May 2013 00:00:00 GMT\r\n", "hello world", 0, 0}, /* GET */
      {200, "Content-Length: 11\r\nLast-Modified: Fri, 24 May 2013 00:00:00 GMT\r\n", NULL, 0, 1},
  };
  capture *c = cap_start(script, 3);
  tarn_store_s3_options o;
  char ep[64];
  tarn_store *st;
  tarn_buf b;
  tarn_store_stat ss;
  tarn_error err;
  raw_req r;
  (void)state;
  o = base_opts(c->port, ep, sizeof(ep));
  st = open_s3(&o);
  assert_int_equal(tarn_store_put(st, "data/one.bin", "hello world", 11, 0, &err), 0);
  tarn_buf_init(&b, 1024);
  assert_int_equal(tarn_store_get(st, "data/one.bin", &b, &err), 0);
  assert_int_equal(b.len, 11);
  assert_string_equal(b.data, "hello world");
  assert_int_equal(tarn_store_head(st, "data/one.bin", &ss, &err), 0);
  assert_int_equal(ss.size, 11);
  assert_int_equal(ss.mtime_us, 1369353600LL * 1000000);
  assert_int_equal(cap_count(c), 3);
  verify_signed(c->req[0], c->req_len[0], SECRET, REGION, NULL, &r);
  assert_string_equal(r.method, "PUT");
  assert_string_equal(r.path, "/bkt/pre/data/one.bin");
  assert_int_equal(r.body_len, 11);
  assert_memory_equal(r.body, "hello world", 11);
  assert_null(raw_header(&r, "If-None-Match"));
  verify_signed(c->req[1], c->req_len[1], SECRET, REGION, NULL, &r);
  assert_string_equal(r.method, "GET");
  verify_signed(c->req[2], c->req_len[2], SECRET, REGION, NULL, &r);
  assert_string_equal(r.method, "HEAD");
  /* the secret never travels */
  assert_null(memmem(c->req[0], c->req_len[0], SECRET, strlen(SECRET)));
  tarn_buf_free(&b);
  tarn_store_destroy(st);
  cap_stop(c);
}

static void test_sig_encoded_key_and_token(void **state) {
  canned script[] = {{200, "ETag: \"x\"\r\n", NULL, 0, 0}, {200, NULL, "z", 0, 0}};
  capture *c = cap_start(script, 2);
  tarn_store_s3_options o;
  char ep[64];
  tarn_store *st;
  tarn_buf b;
  tarn_error err;
  raw_req r;
  const char *key = "dir with space/a+b=c&d%e~f/\xc3\xbc\xe2\x82\xac$@!*'();:,?.txt";
  (void)state;
  o = base_opts(c->port, ep, sizeof(ep));
  o.session_token = "FQoGZXIvYXdzE//token+with/chars==";
  st = open_s3(&o);
  assert_int_equal(tarn_store_put(st, key, "", 0, 0, &err), 0);
  tarn_buf_init(&b, 16);
  assert_int_equal(tarn_store_get(st, key, &b, &err), 0);
  verify_signed(c->req[0], c->req_len[0], SECRET, REGION, o.session_token, &r);
  assert_string_equal(r.path, "/bkt/pre/dir%20with%20space/a%2Bb%3Dc%26d%25e~f/%C3%BC%E2%82%AC"
                              "%24%40%21%2A%27%28%29%3B%3A%2C%3F.txt");
  assert_int_equal(r.body_len, 0);
  verify_signed(c->req[1], c->req_len[1], SECRET, REGION, o.session_token, NULL);
  tarn_buf_free(&b);
  tarn_store_destroy(st);
  cap_stop(c);
}

static void test_sig_list_query(void **state) {
  static const char page1[] =
      "<ListBucketResult><IsTruncated>true</IsTruncated>"
      "<NextContinuationToken>tok/1+2=</NextContinuationToken>"
      "<Contents><Key>pre/logs/a</Key><Size>1</Size><LastModified>2020-01-01T00:00:00Z</"
      "LastModified></Contents>"
      "<Contents><Key>pre/logs/b//bad</Key><Size>2</Size></Contents>" /* not a tarn key */
      "</ListBucketResult>";
  static const char page2[] = "<ListBucketResult><IsTruncated>true</IsTruncated>"
                              "<NextContinuationToken>tok2</NextContinuationToken>"
                              "<Contents><Key>pre/logs/c</Key><Size>3</Size></Contents>"
                              "<Contents><Key>pre/logs/d</Key><Size>4</Size></Contents>"
                              "</ListBucketResult>";
  canned script[] = {{200, NULL, page1, 0, 0}, {200, NULL, page2, 0, 0}};
  capture *c = cap_start(script, 2);
  tarn_store_s3_options o;
  char ep[64];
  tarn_store *st;
  tarn_store_listing l;
  tarn_error err;
  raw_req r;
  (void)state;
  o = base_opts(c->port, ep, sizeof(ep));
  st = open_s3(&o);
  tarn_store_list_init(&l);
  assert_int_equal(tarn_store_list(st, "logs/", "logs/0 x", 3, &l, &err), 0);
  assert_int_equal(l.count, 3);
  assert_string_equal(l.entries[0].key, "logs/a");
  assert_int_equal(l.entries[0].mtime_us, 1577836800LL * 1000000);
  assert_string_equal(l.entries[1].key, "logs/c");
  assert_string_equal(l.entries[2].key, "logs/d");
  assert_true(l.truncated);
  assert_string_equal(l.next_after, "logs/d");
  verify_signed(c->req[0], c->req_len[0], SECRET, REGION, NULL, &r);
  assert_string_equal(r.path, "/bkt");
  assert_string_equal(r.query,
                      "list-type=2&max-keys=3&prefix=pre%2Flogs%2F&start-after=pre%2Flogs%2F0%20x");
  verify_signed(c->req[1], c->req_len[1], SECRET, REGION, NULL, &r);
  assert_string_equal(
      r.query, "continuation-token=tok%2F1%2B2%3D&list-type=2&max-keys=2&prefix=pre%2Flogs%2F");
  tarn_store_list_free(&l);
  tarn_store_destroy(st);
  cap_stop(c);
}

static void test_sig_virtual_hosted(void **state) {
  canned script[] = {{200, NULL, "v", 0, 0}};
  capture *c = cap_start(script, 1);
  tarn_store_s3_options o;
  char ep[64], ct[64];
  tarn_store *st;
  tarn_buf b;
  tarn_error err;
  raw_req r;
  (void)state;
  o = base_opts(c->port, ep, sizeof(ep));
  snprintf(ep, sizeof(ep), "http://s3.test.invalid:%d", c->port);
  o.virtual_hosted = 1;
  st = open_s3(&o);
  snprintf(ct, sizeof(ct), "::127.0.0.1:%d", c->port);
  assert_int_equal(tarn__s3_set_connect_to(st, ct, &err), 0);
  tarn_buf_init(&b, 16);
  assert_int_equal(tarn_store_get(st, "k", &b, &err), 0);
  verify_signed(c->req[0], c->req_len[0], SECRET, REGION, NULL, &r);
  assert_string_equal(r.path, "/pre/k");
  {
    char want[64], got[64];
    snprintf(want, sizeof(want), "bkt.s3.test.invalid:%d", c->port);
    trimall(raw_header(&r, "Host"), got, sizeof(got));
    assert_string_equal(got, want);
  }
  tarn_buf_free(&b);
  tarn_store_destroy(st);
  cap_stop(c);
}

static void test_put_if_absent(void **state) {
  static const char e412[] =
      "<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you "
      "specified did not hold</Message><RequestId>req-412</RequestId></Error>";
  canned script[] = {
      {404, "Content-Length: 0\r\n", NULL, 0, 1}, /* HEAD at open: absent */
      {412, NULL, e412, 0, 0},                    /* PUT: someone won the race */
      {200, "Content-Length: 5\r\n", NULL, 0, 1}, /* second put: HEAD finds it */
  };
  capture *c = cap_start(script, 3);
  tarn_store_s3_options o;
  char ep[64];
  tarn_store *st;
  tarn_error err;
  raw_req r;
  const char *inm;
  (void)state;
  o = base_opts(c->port, ep, sizeof(ep));
  st = open_s3(&o);
  assert_int_equal(tarn_store_put(st, "once", "hello", 5, TARN_STORE_IF_ABSENT, &err), TARN_EEXIST);
  assert_int_equal(err.http_status, 412);
  assert_int_equal(err.attempts, 1);
  assert_non_null(strstr(err.detail, "PreconditionFailed"));
  assert_non_null(strstr(err.detail, "req-412"));
  verify_signed(c->req[1], c->req_len[1], SECRET, REGION, NULL, &r);
  assert_string_equal(r.method, "PUT");
  inm = raw_header(&r, "If-None-Match");
  assert_non_null(inm);
  assert_string_equal(inm, " *");
  /* early check at open */
  assert_int_equal(tarn_store_put(st, "once", "hello", 5, TARN_STORE_IF_ABSENT, &err), TARN_EEXIST);
  assert_int_equal(cap_count(c), 3);
  tarn_store_destroy(st);
  cap_stop(c);
}

/* put-if-absent whose first attempt timed out after sending: a 412 on the retry may be
 * our own write, so the outcome is unknown, not "exists". Same for a completion retried
 * into NoSuchUpload. */
static void test_unknown_outcome(void **state) {
  canned script[] = {
      {404, "Content-Length: 0\r\n", NULL, 0, 1}, /* HEAD at open */
      {0, NULL, NULL, 1, 0},                      /* PUT: no answer */
      {412, NULL, "<Error><Code>PreconditionFailed</Code></Error>", 0, 0},
      {503, NULL, "<Error><Code>SlowDown</Code></Error>", 0, 0}, /* a plain PUT */
      {412, NULL, "<Error><Code>PreconditionFailed</Code></Error>", 0, 0},
  };
  capture *c = cap_start(script, 5);
  tarn_store_s3_options o;
  char ep[64];
  tarn_store *st;
  tarn_error err;
  FILE *devnull = fopen("/dev/null", "w");
  (void)state;
  o = base_opts(c->port, ep, sizeof(ep));
  o.request_timeout_ms = 300;
  st = open_s3(&o);
  tarn_log_set_stream(devnull);
  assert_int_equal(tarn_store_put(st, "cas", "v", 1, TARN_STORE_IF_ABSENT, &err),
                   TARN_EUNKNOWN_OUTCOME);
  assert_int_equal(err.attempts, 2);
  assert_int_equal(err.http_status, 412);
  assert_non_null(strstr(err.detail, "may have succeeded"));
  /* without If-None-Match a 412 after a retry is just a failed precondition */
  assert_int_equal(tarn_store_put(st, "plain", "v", 1, 0, &err), TARN_ECONFLICT);
  tarn_log_set_stream(stderr);
  fclose(devnull);
  assert_int_equal(cap_count(c), 5);
  tarn_store_destroy(st);
  cap_stop(c);
}

static void test_error_detail_no_secret(void **state) {
  /* a hostile server echoes the secret back; it must not reach the detail */
  static const char e403[] = "<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code>"
                             "<Message>bad signature for " SECRET "</Message>"
                             "<RequestId>tx00000abc-0065</RequestId></Error>";
  canned script[] = {{403, NULL, e403, 0, 0},
                     {403, "x-amz-request-id: hdr-id-9\r\nContent-Length: 0\r\n", NULL, 0, 1}};
  capture *c = cap_start(script, 2);
  tarn_store_s3_options o;
  char ep[64];
  tarn_store *st;
  tarn_error err;
  tarn_store_stat ss;
  (void)state;
  o = base_opts(c->port, ep, sizeof(ep));
  st = open_s3(&o);
  assert_int_equal(tarn_store_put(st, "k", "v", 1, 0, &err), TARN_EPERM);
  assert_int_equal(err.http_status, 403);
  assert_int_equal(err.attempts, 1);
  assert_false(tarn_err_retriable(err.code));
  /* status, S3 code and request id; the server's free text stays out of the detail,
   * which HTTP clients may see (it is logged, scrubbed) */
  assert_string_equal(err.detail, "PUT s3://bkt/pre/k: 403 SignatureDoesNotMatch (request id "
                                  "tx00000abc-0065)");
  /* HEAD has no body: the request id comes from the header */
  assert_int_equal(tarn_store_head(st, "k", &ss, &err), TARN_EPERM);
  assert_string_equal(err.detail, "HEAD s3://bkt/pre/k: 403 Forbidden (request id hdr-id-9)");
  tarn_store_destroy(st);
  cap_stop(c);
}

static void test_retry_then_success(void **state) {
  canned script[] = {
      {503, NULL, "<Error><Code>SlowDown</Code></Error>", 0, 0},
      {500, NULL, "<Error><Code>InternalError</Code></Error>", 0, 0},
      {200, "ETag: \"e\"\r\n", NULL, 0, 0},
  };
  capture *c = cap_start(script, 3);
  tarn_store_s3_options o;
  char ep[64], *logbuf = NULL;
  size_t loglen = 0;
  FILE *lf = open_memstream(&logbuf, &loglen);
  tarn_store *st;
  tarn_error err;
  raw_req r0, r2;
  int i;
  (void)state;
  o = base_opts(c->port, ep, sizeof(ep));
  st = open_s3(&o);
  tarn_log_set_stream(lf);
  assert_int_equal(tarn_store_put(st, "retry/me", "payload!", 8, 0, &err), 0);
  tarn_log_set_stream(stderr);
  fclose(lf);
  assert_int_equal(cap_count(c), 3);
  /* every attempt carries the whole body, validly signed */
  for (i = 0; i < 3; i++)
    verify_signed(c->req[i], c->req_len[i], SECRET, REGION, NULL, i == 0 ? &r0 : &r2);
  assert_int_equal(r2.body_len, 8);
  assert_memory_equal(r2.body, "payload!", 8);
  /* one warn line per retry, naming op, bucket, key, status and attempt */
  assert_non_null(strstr(logbuf, "level=warn"));
  assert_non_null(strstr(logbuf, "op=PUT bucket=bkt key=pre/retry/me status=503 error=SlowDown "
                                 "attempt=1 max_attempts=3"));
  assert_non_null(strstr(logbuf, "status=500 error=InternalError attempt=2"));
  {
    int lines = 0;
    char *p;
    for (p = logbuf; (p = strchr(p, '\n')) != NULL; p++)
      lines++;
    assert_int_equal(lines, 2);
  }
  assert_null(strstr(logbuf, SECRET));
  assert_null(strstr(logbuf, "Authorization"));
  free(logbuf);
  tarn_store_destroy(st);
  cap_stop(c);
}

static void test_retry_exhausted(void **state) {
  canned script[] = {
      {500, NULL, "<Error><Code>InternalError</Code><RequestId>r1</RequestId></Error>", 0, 0},
      {500, NULL, "<Error><Code>InternalError</Code><RequestId>r2</RequestId></Error>", 0, 0},
      {500, NULL, "<Error><Code>InternalError</Code><RequestId>r3</RequestId></Error>", 0, 0},
  };
  capture *c = cap_start(script, 3);
  tarn_store_s3_options o;
  char ep[64];
  tarn_store *st;
  tarn_buf b;
  tarn_error err;
  FILE *devnull = fopen("/dev/null", "w");
  (void)state;
  o = base_opts(c->port, ep, sizeof(ep));
  st = open_s3(&o);
  tarn_buf_init(&b, 1024);
  tarn_buf_append_str(&b, "keep", NULL);
  tarn_log_set_stream(devnull);
  assert_int_equal(tarn_store_get(st, "x", &b, &err), TARN_EIO);
  tarn_log_set_stream(stderr);
  fclose(devnull);
  assert_int_equal(err.attempts, 3);
  assert_int_equal(err.http_status, 500);
  assert_true(tarn_err_retriable(err.code));
  assert_non_null(strstr(err.detail, "GET s3://bkt/pre/x: 500 InternalError (request id r3)"));
  assert_string_equal(b.data, "keep"); /* untouched */
  assert_int_equal(cap_count(c), 3);
  tarn_buf_free(&b);
  tarn_store_destroy(st);
  cap_stop(c);
}

static void test_timeout_and_refused(void **state) {
  canned script[] = {{0, NULL, NULL, 1, 0}, {0, NULL, NULL, 1, 0}};
  capture *c = cap_start(script, 2);
  tarn_store_s3_options o;
  char ep[64];
  tarn_store *st;
  tarn_store_stat ss;
  tarn_error err;
  FILE *devnull = fopen("/dev/null", "w");
  int fd, port;
  struct sockaddr_in a;
  socklen_t al = sizeof(a);
  (void)state;
  o = base_opts(c->port, ep, sizeof(ep));
  o.request_timeout_ms = 300;
  o.max_attempts = 2;
  st = open_s3(&o);
  tarn_log_set_stream(devnull);
  assert_int_equal(tarn_store_head(st, "slow", &ss, &err), TARN_ETIMEDOUT);
  assert_int_equal(err.attempts, 2);
  assert_int_equal(err.http_status, 0);
  assert_non_null(strstr(err.detail, "HEAD s3://bkt/pre/slow: timed out"));
  tarn_store_destroy(st);
  cap_stop(c);

  /* a port nobody listens on */
  fd = socket(AF_INET, SOCK_STREAM, 0);
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, (struct sockaddr *)&a, sizeof(a));
  getsockname(fd, (struct sockaddr *)&a, &al);
  port = ntohs(a.sin_port);
  close(fd);
  o = base_opts(port, ep, sizeof(ep));
  st = open_s3(&o);
  assert_int_equal(tarn_store_put(st, "k", "v", 1, 0, &err), TARN_ENETWORK);
  assert_int_equal(err.attempts, 3);
  assert_true(tarn_err_retriable(err.code));
  assert_non_null(strstr(err.detail, "PUT s3://bkt/pre/k: network error"));
  tarn_log_set_stream(stderr);
  fclose(devnull);
  tarn_store_destroy(st);
}

static void test_get_cap_and_range(void **state) {
  canned script[] = {
      {200, NULL, "0123456789abcdef", 0, 0}, /* GET over the cap */
      {206, "Content-Range: bytes 2-5/16\r\n", "2345", 0, 0},
      {416, NULL, "<Error><Code>InvalidRange</Code></Error>", 0, 0},
      {200, "Content-Length: 16\r\n", NULL, 0, 1}, /* HEAD after 416: past the end */
      {416, NULL, "<Error><Code>InvalidRange</Code></Error>", 0, 0},
      {200, "Content-Length: 16\r\n", NULL, 0, 1}, /* HEAD after 416: exactly at the end */
      {200, NULL, "0123456789abcdef", 0, 0},       /* a server that ignores Range */
  };
  capture *c = cap_start(script, 7);
  tarn_store_s3_options o;
  char ep[64];
  tarn_store *st;
  tarn_buf b;
  tarn_error err;
  raw_req r;
  (void)state;
  o = base_opts(c->port, ep, sizeof(ep));
  st = open_s3(&o);
  tarn_buf_init(&b, 10);
  assert_int_equal(tarn_store_get(st, "big", &b, &err), TARN_ETOOBIG);
  assert_int_equal(b.len, 0);
  assert_non_null(strstr(err.detail, "16 bytes"));
  tarn_buf_free(&b);
  tarn_buf_init(&b, 100);
  assert_int_equal(tarn_store_get_range(st, "big", 2, 4, &b, &err), 0);
  assert_string_equal(b.data, "2345");
  verify_signed(c->req[1], c->req_len[1], SECRET, REGION, NULL, &r);
  {
    char rg[64];
    trimall(raw_header(&r, "Range"), rg, sizeof(rg));
    assert_string_equal(rg, "bytes=2-5");
  }
  tarn_buf_reset(&b);
  assert_int_equal(tarn_store_get_range(st, "big", 17, 4, &b, &err), TARN_ERANGE);
  assert_non_null(strstr(err.detail, "past the end (size 16)"));
  assert_int_equal(tarn_store_get_range(st, "big", 16, 4, &b, &err), 0);
  assert_int_equal(b.len, 0);
  assert_int_equal(tarn_store_get_range(st, "big", 3, 5, &b, &err), 0);
  assert_string_equal(b.data, "34567");
  tarn_buf_free(&b);
  tarn_store_destroy(st);
  cap_stop(c);
}

static void test_delete(void **state) {
  canned script[] = {
      {404, "Content-Length: 0\r\n", NULL, 0, 1}, /* HEAD: missing */
      {200, "Content-Length: 3\r\n", NULL, 0, 1}, /* HEAD: present */
      {204, NULL, NULL, 0, 0},                    /* DELETE */
  };
  capture *c = cap_start(script, 3);
  tarn_store_s3_options o;
  char ep[64];
  tarn_store *st;
  tarn_error err;
  raw_req r;
  (void)state;
  o = base_opts(c->port, ep, sizeof(ep));
  st = open_s3(&o);
  assert_int_equal(tarn_store_delete(st, "gone", &err), TARN_ENOTFOUND);
  assert_int_equal(err.http_status, 404);
  assert_int_equal(cap_count(c), 1); /* no DELETE sent */
  assert_int_equal(tarn_store_delete(st, "here", &err), 0);
  verify_signed(c->req[2], c->req_len[2], SECRET, REGION, NULL, &r);
  assert_string_equal(r.method, "DELETE");
  assert_string_equal(r.path, "/bkt/pre/here");
  tarn_store_destroy(st);
  cap_stop(c);
}

#define MIB ((size_t)1 << 20)

static void test_multipart_flow(void **state) {
  static const char init[] = "<InitiateMultipartUploadResult><Bucket>bkt</Bucket><Key>pre/big</Key>"
                             "<UploadId>up/1+x=</UploadId></InitiateMultipartUploadResult>";
  static const char done[] =
      "<CompleteMultipartUploadResult><ETag>\"m-3\"</ETag></CompleteMultipartUploadResult>";
  canned script[] = {
      {200, NULL, init, 0, 0},
      {200, "ETag: \"p1\"\r\n", NULL, 0, 0},
      {200, "ETag: \"p2\"\r\n", NULL, 0, 0},
      {200, "ETag: \"p3&<\"\r\n", NULL, 0, 0},
      {200, NULL, done, 0, 0},
  };
  capture *c = cap_start(script, 5);
  tarn_store_s3_options o;
  char ep[64];
  tarn_store *st;
  tarn_store_writer *w;
  tarn_error err;
  raw_req r;
  char *data = malloc(11 * MIB), qs[256];
  size_t i, off;
  (void)state;
  for (i = 0; i < 11 * MIB; i++)
    data[i] = (char)(i * 7 + i / 4096);
  o = base_opts(c->port, ep, sizeof(ep));
  o.multipart_threshold = 5 * MIB;
  o.part_size = 5 * MIB;
  st = open_s3(&o);
  assert_int_equal(tarn_store_writer_open(st, "big", 0, &w, &err), 0);
  for (off = 0; off < 11 * MIB; off += 300000) {
    size_t n = 11 * MIB - off < 300000 ? 11 * MIB - off : 300000;
    assert_int_equal(tarn_store_writer_write(w, data + off, n, &err), 0);
  }
  assert_int_equal(cap_count(c), 3); /* create + two parts sent while writing */
  assert_int_equal(tarn_store_writer_commit(w, &err), 0);
  assert_int_equal(cap_count(c), 5);
  verify_signed(c->req[0], c->req_len[0], SECRET, REGION, NULL, &r);
  assert_string_equal(r.method, "POST");
  assert_string_equal(r.query, "uploads=");
  for (i = 1; i <= 3; i++) {
    verify_signed(c->req[i], c->req_len[i], SECRET, REGION, NULL, &r);
    assert_string_equal(r.method, "PUT");
    snprintf(qs, sizeof(qs), "partNumber=%zu&uploadId=up%%2F1%%2Bx%%3D", i);
    assert_string_equal(r.query, qs);
    assert_int_equal(r.body_len, i < 3 ? 5 * MIB : MIB);
    assert_memory_equal(r.body, data + (i - 1) * 5 * MIB, r.body_len);
  }
  verify_signed(c->req[4], c->req_len[4], SECRET, REGION, NULL, &r);
  assert_string_equal(r.method, "POST");
  assert_string_equal(r.query, "uploadId=up%2F1%2Bx%3D");
  assert_non_null(strstr((const char *)r.body,
                         "<Part><PartNumber>1</PartNumber><ETag>&quot;p1&quot;</ETag></Part>"
                         "<Part><PartNumber>2</PartNumber><ETag>&quot;p2&quot;</ETag></Part>"
                         "<Part><PartNumber>3</PartNumber><ETag>&quot;p3&amp;&lt;&quot;</ETag>"
                         "</Part></CompleteMultipartUpload>"));
  free(data);
  tarn_store_destroy(st);
  cap_stop(c);
}

/* A failed part aborts the upload: the writer's write fails, and abort sends
 * AbortMultipartUpload. A 200 to Complete with an <Error> body is a failure too. */
static void test_multipart_failures(void **state) {
  static const char init[] =
      "<InitiateMultipartUploadResult><UploadId>U1</UploadId></InitiateMultipartUploadResult>";
  canned script[] = {
      {200, NULL, init, 0, 0},
      {403, NULL, "<Error><Code>AccessDenied</Code></Error>", 0, 0}, /* part 1 */
      {204, NULL, NULL, 0, 0},                                       /* abort */
      {200, NULL, init, 0, 0},
      {200, "ETag: \"p1\"\r\n", NULL, 0, 0},
      {200, "ETag: \"p2\"\r\n", NULL, 0, 0},
      {200, NULL, "<Error><Code>AccessDenied</Code><Message>nope</Message></Error>", 0, 0},
      {204, NULL, NULL, 0, 0}, /* abort after the failed completion */
  };
  capture *c = cap_start(script, 8);
  tarn_store_s3_options o;
  char ep[64];
  tarn_store *st;
  tarn_store_writer *w;
  tarn_error err;
  raw_req r;
  char *data = calloc(1, 6 * MIB);
  (void)state;
  o = base_opts(c->port, ep, sizeof(ep));
  o.multipart_threshold = 5 * MIB;
  o.part_size = 5 * MIB;
  st = open_s3(&o);
  assert_int_equal(tarn_store_writer_open(st, "m", 0, &w, &err), 0);
  assert_int_equal(tarn_store_writer_write(w, data, 6 * MIB, &err), TARN_EPERM);
  assert_int_equal(tarn_store_writer_write(w, data, 1, &err), TARN_EPERM); /* sticky */
  tarn_store_writer_abort(w);
  assert_int_equal(cap_count(c), 3);
  verify_signed(c->req[2], c->req_len[2], SECRET, REGION, NULL, &r);
  assert_string_equal(r.method, "DELETE");
  assert_string_equal(r.query, "uploadId=U1");

  assert_int_equal(tarn_store_writer_open(st, "m", 0, &w, &err), 0);
  assert_int_equal(tarn_store_writer_write(w, data, 6 * MIB, &err), 0);
  assert_int_equal(tarn_store_writer_commit(w, &err), TARN_EIO);
  assert_non_null(strstr(err.detail, "CompleteMultipartUpload s3://bkt/pre/m: 200 AccessDenied"));
  assert_int_equal(cap_count(c), 8);
  verify_signed(c->req[7], c->req_len[7], SECRET, REGION, NULL, &r);
  assert_string_equal(r.method, "DELETE");
  free(data);
  tarn_store_destroy(st);
  cap_stop(c);
}

static void test_multipart_if_absent(void **state) {
  static const char init[] =
      "<InitiateMultipartUploadResult><UploadId>U2</UploadId></InitiateMultipartUploadResult>";
  canned script[] = {
      {404, "Content-Length: 0\r\n", NULL, 0, 1}, /* HEAD at open */
      {200, NULL, init, 0, 0},
      {200, "ETag: \"p1\"\r\n", NULL, 0, 0},
      {200, "ETag: \"p2\"\r\n", NULL, 0, 0},
      {404, "Content-Length: 0\r\n", NULL, 0, 1}, /* HEAD before complete */
      {412, NULL, "<Error><Code>PreconditionFailed</Code></Error>", 0, 0},
      {204, NULL, NULL, 0, 0}, /* abort */
  };
  capture *c = cap_start(script, 7);
  tarn_store_s3_options o;
  char ep[64];
  tarn_store *st;
  tarn_error err;
  raw_req r;
  char *data = calloc(1, 6 * MIB);
  (void)state;
  o = base_opts(c->port, ep, sizeof(ep));
  o.multipart_threshold = 5 * MIB;
  o.part_size = 5 * MIB;
  st = open_s3(&o);
  assert_int_equal(tarn_store_put(st, "m", data, 6 * MIB, TARN_STORE_IF_ABSENT, &err), TARN_EEXIST);
  assert_int_equal(cap_count(c), 7);
  verify_signed(c->req[5], c->req_len[5], SECRET, REGION, NULL, &r);
  assert_string_equal(r.method, "POST");
  assert_non_null(raw_header(&r, "If-None-Match"));
  verify_signed(c->req[6], c->req_len[6], SECRET, REGION, NULL, &r);
  assert_string_equal(r.method, "DELETE");
  free(data);
  tarn_store_destroy(st);
  cap_stop(c);
}

static void test_key_too_long_with_prefix(void **state) {
  tarn_store_s3_options o;
  char ep[64], key[1025];
  tarn_store *st;
  tarn_error err;
  tarn_buf b;
  (void)state;
  o = base_opts(1, ep, sizeof(ep));
  st = open_s3(&o);
  memset(key, 'k', 1022);
  key[1022] = '\0';
  tarn_buf_init(&b, 16);
  assert_int_equal(tarn_store_get(st, key, &b, &err), TARN_EBADKEY);
  if (strstr(err.detail, "1026 bytes") == NULL)
    fail_msg("detail: %s", err.detail);
  tarn_buf_free(&b);
  tarn_store_destroy(st);
}

/* Allocation failures at every step of a small put and get: an error, never a crash or a
 * leak (ASan). curl's own allocations are not ours to fail. */
static void test_alloc_failures(void **state) {
  canned script[CAP_MAX];
  capture *c;
  tarn_store_s3_options o;
  char ep[64];
  tarn_store *st;
  tarn_error err;
  long n, total;
  int i;
  (void)state;
  for (i = 0; i < CAP_MAX; i++)
    script[i] = (canned){200, "ETag: \"e\"\r\n", "body", 0, 0};
  c = cap_start(script, CAP_MAX);
  o = base_opts(c->port, ep, sizeof(ep));
  st = open_s3(&o);
  tarn_alloc_fail_reset();
  assert_int_equal(tarn_store_put(st, "a/b", "xyz", 3, 0, &err), 0);
  total = tarn_alloc_count();
  for (n = 0; n < total && cap_count(c) < CAP_MAX - 2; n++) {
    int rc;
    tarn_alloc_fail_after(n);
    rc = tarn_store_put(st, "a/b", "xyz", 3, 0, &err);
    tarn_alloc_fail_reset();
    assert_true(rc == 0 || rc == TARN_ENOMEM);
  }
  tarn_store_destroy(st);
  cap_stop(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_aws_documented_examples),
      cmocka_unit_test(test_uri_encode),
      cmocka_unit_test(test_query_sorted),
      cmocka_unit_test(test_url_styles),
      cmocka_unit_test(test_open_validation),
      cmocka_unit_test(test_xml_list),
      cmocka_unit_test(test_xml_hostile),
      cmocka_unit_test(test_xml_error),
      cmocka_unit_test(test_iso8601),
      cmocka_unit_test(test_backoff),
      cmocka_unit_test(test_status_map),
      cmocka_unit_test(test_scrub),
      cmocka_unit_test(test_sig_put_get_head),
      cmocka_unit_test(test_sig_encoded_key_and_token),
      cmocka_unit_test(test_sig_list_query),
      cmocka_unit_test(test_sig_virtual_hosted),
      cmocka_unit_test(test_put_if_absent),
      cmocka_unit_test(test_unknown_outcome),
      cmocka_unit_test(test_error_detail_no_secret),
      cmocka_unit_test(test_retry_then_success),
      cmocka_unit_test(test_retry_exhausted),
      cmocka_unit_test(test_timeout_and_refused),
      cmocka_unit_test(test_get_cap_and_range),
      cmocka_unit_test(test_delete),
      cmocka_unit_test(test_multipart_flow),
      cmocka_unit_test(test_multipart_failures),
      cmocka_unit_test(test_multipart_if_absent),
      cmocka_unit_test(test_key_too_long_with_prefix),
      cmocka_unit_test(test_alloc_failures),
  };
  const char *dump = getenv("S3_SIGN_DUMP");
  int rc;
  if (dump != NULL && dump[0] != '\0')
    dump_file = fopen(dump, "w");
  rc = cmocka_run_group_tests(tests, NULL, NULL);
  if (dump_file != NULL)
    fclose(dump_file);
  return rc;
}
