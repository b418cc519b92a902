/* test_http_storage.c - the /storage/ routes on a live server over local buckets (http/storage). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "http/http.h"
#include "store/buckets.h"

#define MAX_OBJECT (8u << 20)

typedef struct fixture {
  char dir[64], tmp[160];
  tarn_metrics *metrics;
  tarn_store *jstore;
  tarn_errjournal *ej;
  tarn_buckets *bs;
  tarn_store *faulty; /* the primary's store */
  tarn_http_server *srv;
  char base[64];
} fixture;

static int setup(void **state) {
  fixture *fx = calloc(1, sizeof(*fx));
  tarn_http_options o;
  tarn_store *st = NULL;
  char path[128];
  snprintf(fx->dir, sizeof(fx->dir), "/tmp/tarn_test_hs_XXXXXX");
  assert_non_null(mkdtemp(fx->dir));
  assert_int_equal(tarn_metrics_create(&fx->metrics, NULL), 0);
  snprintf(path, sizeof(path), "%s/lake", fx->dir);
  assert_int_equal(tarn_store_local_open(path, &fx->jstore, NULL), 0);
  assert_int_equal(tarn_errjournal_open(fx->jstore, NULL, &fx->ej, NULL), 0);
  assert_int_equal(tarn_buckets_create(fx->metrics, &fx->bs, NULL), 0);
  snprintf(path, sizeof(path), "%s/main", fx->dir);
  assert_int_equal(tarn_store_local_open(path, &st, NULL), 0);
  assert_int_equal(tarn_store_faulty_wrap(st, &fx->faulty, NULL), 0);
  assert_int_equal(tarn_buckets_add(fx->bs, "main", "local", TARN_BUCKET_PRIMARY, fx->faulty, NULL),
                   0);
  snprintf(path, sizeof(path), "%s/spare", fx->dir);
  assert_int_equal(tarn_store_local_open(path, &st, NULL), 0);
  assert_int_equal(tarn_buckets_add(fx->bs, "spare", "local", TARN_BUCKET_RESCUE, st, NULL), 0);
  snprintf(path, sizeof(path), "%s/misc", fx->dir);
  assert_int_equal(tarn_store_local_open(path, &st, NULL), 0);
  assert_int_equal(tarn_buckets_add(fx->bs, "misc", "local", TARN_BUCKET_EXTRA, st, NULL), 0);
  tarn_buckets_set_journal(fx->bs, fx->ej);
  memset(&o, 0, sizeof(o));
  o.listen = "127.0.0.1:0";
  o.max_body = 1024;
  o.metrics = fx->metrics;
  assert_int_equal(tarn_http_server_create(&fx->srv, &o, NULL), 0);
  assert_int_equal(tarn_http_add_storage_routes(fx->srv, fx->bs, fx->ej, MAX_OBJECT, NULL), 0);
  assert_int_equal(tarn_http_server_start(fx->srv, NULL), 0);
  snprintf(fx->base, sizeof(fx->base), "http://%s", tarn_http_server_address(fx->srv));
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fixture *fx = *state;
  char cmd[128];
  tarn_http_server_destroy(fx->srv);
  tarn_buckets_destroy(fx->bs);
  tarn_errjournal_close(fx->ej, NULL);
  tarn_store_destroy(fx->jstore);
  tarn_metrics_destroy(fx->metrics);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", fx->dir);
  assert_int_equal(system(cmd), 0);
  free(fx);
  return 0;
}

/* ---- a small curl client ---- */

typedef struct reply {
  long status;
  char *body; /* malloc'd, NUL-terminated */
  size_t len;
  char headers[4096];
  json_t *json; /* body parsed, when it is JSON */
} reply;

typedef struct upload {
  size_t size, sent;
  int pattern;
} upload;

static size_t on_body(char *p, size_t sz, size_t n, void *ud) {
  reply *r = ud;
  r->body = realloc(r->body, r->len + sz * n + 1);
  memcpy(r->body + r->len, p, sz * n);
  r->len += sz * n;
  r->body[r->len] = '\0';
  return sz * n;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud) {
  reply *r = ud;
  size_t have = strlen(r->headers), k = sz * n;
  if (have + k < sizeof(r->headers)) {
    memcpy(r->headers + have, p, k);
    r->headers[have + k] = '\0';
  }
  return k;
}

static unsigned char pattern_byte(size_t i, int pattern) {
  return (unsigned char)((i * 131 + (i >> 12) + (size_t)pattern) & 0xff);
}

static size_t on_read(char *p, size_t sz, size_t n, void *ud) {
  upload *u = ud;
  size_t k = sz * n, i;
  if (k > u->size - u->sent)
    k = u->size - u->sent;
  for (i = 0; i < k; i++)
    p[i] = (char)pattern_byte(u->sent + i, u->pattern);
  u->sent += k;
  return k;
}

/* method + path; body of `size` pattern bytes for PUT (chunked unless declared).
 * extra_header may be NULL. */
static reply *call(fixture *fx, const char *method, const char *path, size_t size, int pattern,
                   int declare_length, const char *extra_header) {
  reply *r = calloc(1, sizeof(*r));
  upload u = {size, 0, pattern};
  struct curl_slist *h = NULL;
  char url[2048];
  CURL *c = curl_easy_init();
  snprintf(url, sizeof(url), "%s%s", fx->base, path);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
  if (strcmp(method, "HEAD") == 0)
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  if (strcmp(method, "PUT") == 0) {
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(c, CURLOPT_READDATA, &u);
    if (declare_length)
      curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)size);
    else
      h = curl_slist_append(h, "Transfer-Encoding: chunked");
  }
  if (strcmp(method, "POST") == 0)
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
  if (extra_header == NULL || strncmp(extra_header, "Expect", 6) != 0)
    h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip, unless asked */
  if (extra_header != NULL)
    h = curl_slist_append(h, extra_header);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
  curl_easy_cleanup(c);
  curl_slist_free_all(h);
  if (r->body != NULL)
    r->json = json_loads(r->body, 0, NULL);
  return r;
}

static void reply_free(reply *r) {
  json_decref(r->json);
  free(r->body);
  free(r);
}

static const char *jerr_code(reply *r) {
  return json_string_value(json_object_get(json_object_get(r->json, "error"), "code"));
}

static const char *jerr_msg(reply *r) {
  return json_string_value(json_object_get(json_object_get(r->json, "error"), "message"));
}

static void check_pattern(reply *r, size_t size, int pattern) {
  size_t i;
  assert_int_equal(r->len, size);
  for (i = 0; i < size; i++)
    if ((unsigned char)r->body[i] != pattern_byte(i, pattern))
      fail_msg("byte %zu differs", i);
}

/* ---- tests ---- */

static void test_object_round_trip(void **state) {
  fixture *fx = *state;
  reply *r;
  /* a streamed, chunked upload of several MiB, then the same bytes back */
  r = call(fx, "PUT", "/storage/buckets/misc/objects/data/big.bin", 5u << 20, 1, 0, NULL);
  assert_int_equal(r->status, 201);

  assert_string_equal(json_string_value(json_object_get(r->json, "key")), "data/big.bin");
  assert_int_equal(json_integer_value(json_object_get(r->json, "size")), 5u << 20);
  reply_free(r);
  r = call(fx, "GET", "/storage/buckets/misc/objects/data/big.bin", 0, 0, 0, NULL);
  assert_int_equal(r->status, 200);
  assert_non_null(strstr(r->headers, "Content-Length: 5242880\r\n"));
  assert_non_null(strstr(r->headers, "Content-Type: application/octet-stream\r\n"));
  assert_null(strstr(r->headers, "X-Tarn-Rescue-Used"));
  check_pattern(r, 5u << 20, 1);
  reply_free(r);
  r = call(fx, "HEAD", "/storage/buckets/misc/objects/data/big.bin", 0, 0, 0, NULL);
  assert_int_equal(r->status, 200);
  assert_non_null(strstr(r->headers, "Content-Length: 5242880\r\n"));
  assert_int_equal(r->len, 0);
  reply_free(r);
  /* declared length, overwrite, empty object, encoded key */
  r = call(fx, "PUT", "/storage/buckets/misc/objects/data/big.bin", 1000, 2, 1, NULL);
  assert_int_equal(r->status, 201);
  reply_free(r);
  r = call(fx, "GET", "/storage/buckets/misc/objects/data/big.bin", 0, 0, 0, NULL);
  check_pattern(r, 1000, 2);
  reply_free(r);
  r = call(fx, "PUT", "/storage/buckets/misc/objects/empty", 0, 0, 1, NULL);
  assert_int_equal(r->status, 201);
  reply_free(r);
  r = call(fx, "GET", "/storage/buckets/misc/objects/empty", 0, 0, 0, NULL);
  assert_int_equal(r->status, 200);
  assert_int_equal(r->len, 0);
  reply_free(r);
  r = call(fx, "PUT", "/storage/buckets/misc/objects/a%20b/caf%C3%A9", 3, 0, 1, NULL);
  assert_int_equal(r->status, 201);
  assert_string_equal(json_string_value(json_object_get(r->json, "key")), "a b/caf\xc3\xa9");
  reply_free(r);
  /* listing */
  r = call(fx, "GET", "/storage/buckets/misc/objects?prefix=data/", 0, 0, 0, NULL);
  assert_int_equal(r->status, 200);
  assert_int_equal(json_array_size(json_object_get(r->json, "objects")), 1);
  reply_free(r);
  /* If-None-Match: * refuses to overwrite */
  r = call(fx, "PUT", "/storage/buckets/misc/objects/empty", 5, 0, 1, "If-None-Match: *");
  assert_int_equal(r->status, 412);
  assert_string_equal(jerr_code(r), "already_exists");
  reply_free(r);
  /* delete from an extra bucket */
  r = call(fx, "DELETE", "/storage/buckets/misc/objects/data/big.bin", 0, 0, 0, NULL);
  assert_int_equal(r->status, 204);
  reply_free(r);
  r = call(fx, "DELETE", "/storage/buckets/misc/objects/data/big.bin", 0, 0, 0, NULL);
  assert_int_equal(r->status, 404);
  reply_free(r);
  r = call(fx, "GET", "/storage/buckets/misc/objects/data/big.bin", 0, 0, 0, NULL);
  assert_int_equal(r->status, 404);
  assert_string_equal(jerr_code(r), "not_found");
  assert_non_null(strstr(jerr_msg(r), "no object \"data/big.bin\" in bucket misc"));
  reply_free(r);
}

static int count_tmp(fixture *fx) {
  char cmd[256];
  FILE *p;
  int n = -1;
  snprintf(cmd, sizeof(cmd), "find %s -name '.tarn-tmp-*' | wc -l", fx->dir);
  p = popen(cmd, "r");
  assert_non_null(p);
  assert_int_equal(fscanf(p, "%d", &n), 1);
  pclose(p);
  return n;
}

static void test_refusals(void **state) {
  fixture *fx = *state;
  reply *r;
  /* over the cap: declared, then chunked */
  r = call(fx, "PUT", "/storage/buckets/misc/objects/huge", MAX_OBJECT + 1, 0, 1,
           "Expect: 100-continue");
  assert_int_equal(r->status, 413);
  assert_string_equal(jerr_code(r), "payload_too_large");
  reply_free(r);
  r = call(fx, "PUT", "/storage/buckets/misc/objects/huge", MAX_OBJECT + 100000, 0, 0, NULL);
  assert_int_equal(r->status, 413);
  reply_free(r);
  r = call(fx, "GET", "/storage/buckets/misc/objects/huge", 0, 0, 0, NULL);
  assert_int_equal(r->status, 404);
  reply_free(r);
  assert_int_equal(count_tmp(fx), 0);
  /* exactly the cap is accepted */
  r = call(fx, "PUT", "/storage/buckets/misc/objects/huge", MAX_OBJECT, 0, 0, NULL);
  assert_int_equal(r->status, 201);
  reply_free(r);
  /* bad keys name the rule */
  r = call(fx, "PUT", "/storage/buckets/misc/objects/a//b", 3, 0, 1, NULL);
  assert_int_equal(r->status, 400);
  assert_string_equal(jerr_code(r), "invalid_key");
  assert_non_null(strstr(jerr_msg(r), "empty path segment at byte offset 2"));
  reply_free(r);
  r = call(fx, "GET", "/storage/buckets/misc/objects/a/%2E%2E/b", 0, 0, 0, NULL);
  assert_int_equal(r->status, 400);
  assert_non_null(strstr(jerr_msg(r), "segment \"..\""));
  reply_free(r);
  r = call(fx, "PUT", "/storage/buckets/misc/objects/x/.tarn-tmp-y", 3, 0, 1, NULL);
  assert_int_equal(r->status, 400);
  assert_non_null(strstr(jerr_msg(r), "reserved"));
  reply_free(r);
  r = call(fx, "PUT", "/storage/buckets/misc/objects/_tarn_probe/x", 3, 0, 1, NULL);
  assert_int_equal(r->status, 400);
  assert_non_null(strstr(jerr_msg(r), "reserved for reachability probes"));
  reply_free(r);
  /* unknown bucket */
  r = call(fx, "PUT", "/storage/buckets/nope/objects/x", 3, 0, 1, NULL);
  assert_int_equal(r->status, 404);
  assert_non_null(strstr(jerr_msg(r), "no bucket named \"nope\""));
  reply_free(r);
  r = call(fx, "GET", "/storage/buckets/nope/objects/x", 0, 0, 0, NULL);
  assert_int_equal(r->status, 404);
  reply_free(r);
  /* deletes only from extra buckets */
  r = call(fx, "PUT", "/storage/buckets/main/objects/keep", 3, 0, 1, NULL);
  assert_int_equal(r->status, 201);
  reply_free(r);
  r = call(fx, "DELETE", "/storage/buckets/main/objects/keep", 0, 0, 0, NULL);
  assert_int_equal(r->status, 403);
  assert_string_equal(jerr_code(r), "permission_denied");
  assert_non_null(strstr(jerr_msg(r), "bucket main is the primary bucket"));
  reply_free(r);
  r = call(fx, "DELETE", "/storage/buckets/spare/objects/keep", 0, 0, 0, NULL);
  assert_int_equal(r->status, 403);
  assert_non_null(strstr(jerr_msg(r), "rescue bucket"));
  reply_free(r);
  r = call(fx, "GET", "/storage/buckets/main/objects/keep", 0, 0, 0, NULL);
  assert_int_equal(r->status, 200);
  reply_free(r);
  /* query arguments */
  r = call(fx, "GET", "/storage/errors?since=yesterday", 0, 0, 0, NULL);
  assert_int_equal(r->status, 400);
  assert_non_null(strstr(jerr_msg(r), "since=\"yesterday\""));
  reply_free(r);
  r = call(fx, "GET", "/storage/errors?limit=0", 0, 0, 0, NULL);
  assert_int_equal(r->status, 400);
  reply_free(r);
  r = call(fx, "GET", "/storage/bucket-health?minutes=x", 0, 0, 0, NULL);
  assert_int_equal(r->status, 400);
  reply_free(r);
}

static void test_rescue_over_http(void **state) {
  fixture *fx = *state;
  tarn_store *spare = tarn_bucket_raw_store(tarn_buckets_find(fx->bs, "spare"));
  json_t *ev;
  reply *r;
  size_t i;
  assert_int_equal(tarn_store_put(spare, "only/in/rescue", "rescued bytes", 13, 0, NULL), 0);
  r = call(fx, "GET", "/storage/buckets/main/objects/only/in/rescue", 0, 0, 0, NULL);
  assert_int_equal(r->status, 200);
  assert_non_null(strstr(r->headers, "X-Tarn-Rescue-Used: true\r\n"));
  assert_non_null(strstr(r->headers, "X-Tarn-Bucket: spare\r\n"));
  assert_string_equal(r->body, "rescued bytes");
  reply_free(r);
  r = call(fx, "HEAD", "/storage/buckets/main/objects/only/in/rescue", 0, 0, 0, NULL);
  assert_int_equal(r->status, 200);
  assert_non_null(strstr(r->headers, "X-Tarn-Rescue-Used: true\r\n"));
  assert_non_null(strstr(r->headers, "Content-Length: 13\r\n"));
  reply_free(r);
  /* a broken primary: every read fails, the rescue still answers */
  assert_int_equal(tarn_store_faulty_add(fx->faulty, TARN_FAULT_HEAD, TARN_FAULT_ERROR, TARN_EIO,
                                         NULL, 0, 0, NULL),
                   0);
  assert_int_equal(tarn_store_faulty_add(fx->faulty, TARN_FAULT_GET, TARN_FAULT_ERROR, TARN_EIO,
                                         NULL, 0, 0, NULL),
                   0);
  r = call(fx, "GET", "/storage/buckets/main/objects/only/in/rescue", 0, 0, 0, NULL);
  assert_int_equal(r->status, 200);
  reply_free(r);
  r = call(fx, "GET", "/storage/buckets/main/objects/nowhere", 0, 0, 0, NULL);
  assert_int_equal(r->status, 502);
  assert_string_equal(jerr_code(r), "io_error");
  reply_free(r);
  tarn_store_faulty_clear(fx->faulty);
  /* the journal */
  r = call(fx, "GET", "/storage/errors?bucket=main", 0, 0, 0, NULL);
  assert_int_equal(r->status, 200);
  assert_int_equal(json_integer_value(json_object_get(r->json, "count")), 4);
  ev = json_array_get(json_object_get(r->json, "events"), 0);
  assert_string_equal(json_string_value(json_object_get(ev, "key")), "only/in/rescue");
  assert_true(json_is_true(json_object_get(ev, "rescued")));
  ev = json_array_get(json_object_get(r->json, "events"), 3);
  assert_string_equal(json_string_value(json_object_get(ev, "key")), "nowhere");
  assert_true(json_is_false(json_object_get(ev, "rescued")));
  assert_string_equal(json_string_value(json_object_get(ev, "error_class")), "retriable");
  reply_free(r);
  r = call(fx, "GET", "/storage/errors?bucket=main&limit=1", 0, 0, 0, NULL);
  assert_int_equal(json_integer_value(json_object_get(r->json, "count")), 1);
  reply_free(r);
  r = call(fx, "GET", "/storage/errors?since=2999-01-01T00:00:00Z", 0, 0, 0, NULL);
  assert_int_equal(json_integer_value(json_object_get(r->json, "count")), 0);
  reply_free(r);
  /* health: main has 4 events in the window and is unhealthy */
  r = call(fx, "GET", "/storage/bucket-health?minutes=5", 0, 0, 0, NULL);
  assert_int_equal(r->status, 200);
  assert_true(json_is_false(json_object_get(r->json, "ok")));
  assert_int_equal(json_integer_value(json_object_get(r->json, "total_errors")), 4);
  assert_int_equal(json_integer_value(json_object_get(r->json, "window_minutes")), 5);
  assert_string_equal(json_string_value(json_array_get(json_object_get(r->json, "unhealthy"), 0)),
                      "main");
  assert_int_equal(json_array_size(json_object_get(r->json, "unhealthy")), 1);
  for (i = 0; i < json_array_size(json_object_get(r->json, "buckets")); i++) {
    json_t *b = json_array_get(json_object_get(r->json, "buckets"), i);
    const char *name = json_string_value(json_object_get(b, "name"));
    assert_int_equal(json_integer_value(json_object_get(b, "errors")),
                     strcmp(name, "main") == 0 ? 4 : 0);
    assert_int_equal(json_is_true(json_object_get(b, "healthy")), strcmp(name, "main") != 0);
  }
  reply_free(r);
  /* flush, then compact what was flushed */
  r = call(fx, "POST", "/storage/errors/flush", 0, 0, 0, NULL);
  assert_int_equal(r->status, 200);
  assert_int_equal(json_integer_value(json_object_get(r->json, "flushed")), 4);
  reply_free(r);
  r = call(fx, "POST", "/storage/errors/compact", 0, 0, 0, NULL);
  assert_int_equal(r->status, 200);
  assert_int_equal(json_integer_value(json_object_get(r->json, "files_merged")), 0);
  assert_true(json_is_null(json_object_get(r->json, "file")));
  reply_free(r);
  tarn_buckets_find(fx->bs, "misc"); /* one more event, a second batch */
  r = call(fx, "GET", "/storage/buckets/main/objects/only/in/rescue", 0, 0, 0, NULL);
  reply_free(r);
  r = call(fx, "POST", "/storage/errors/flush", 0, 0, 0, NULL);
  reply_free(r);
  r = call(fx, "POST", "/storage/errors/compact", 0, 0, 0, NULL);
  assert_int_equal(r->status, 200);
  assert_int_equal(json_integer_value(json_object_get(r->json, "files_merged")), 2);
  assert_int_equal(json_integer_value(json_object_get(r->json, "records")), 5);
  assert_string_equal(json_string_value(json_object_get(r->json, "file")),
                      TARN_ERRJOURNAL_PREFIX "00000000000000000001-00000000000000000002.jsonl");
  reply_free(r);
  /* metrics */
  {
    tarn_metric *m =
        tarn_metrics_counter(fx->metrics, "tarn_storage_rescue_fallbacks_total", NULL, "bucket,op");
    assert_int_equal(tarn_metric_value(m, (const char *[]){"main", "get"}), 3);
    assert_int_equal(tarn_metric_value(m, (const char *[]){"main", "head"}), 1);
  }
}

static void test_failed_upload_keeps_old_object(void **state) {
  fixture *fx = *state;
  reply *r;
  r = call(fx, "PUT", "/storage/buckets/main/objects/doc", 100000, 3, 0, NULL);
  assert_int_equal(r->status, 201);
  reply_free(r);
  assert_int_equal(
      tarn_store_faulty_add(fx->faulty, TARN_FAULT_WRITE, TARN_FAULT_SHORT, 0, NULL, 3, 1, NULL),
      0);
  r = call(fx, "PUT", "/storage/buckets/main/objects/doc", 300000, 4, 0, NULL);
  assert_int_equal(r->status, 502);
  assert_string_equal(jerr_code(r), "short_write");
  reply_free(r);
  assert_int_equal(
      tarn_store_faulty_add(fx->faulty, TARN_FAULT_COMMIT, TARN_FAULT_FSYNC, 0, NULL, 0, 1, NULL),
      0);
  r = call(fx, "PUT", "/storage/buckets/main/objects/doc", 300000, 4, 0, NULL);
  assert_int_equal(r->status, 502);
  assert_string_equal(jerr_code(r), "fsync_failed");
  reply_free(r);
  r = call(fx, "GET", "/storage/buckets/main/objects/doc", 0, 0, 0, NULL);
  assert_int_equal(r->status, 200);
  assert_null(strstr(r->headers, "X-Tarn-Rescue-Used"));
  check_pattern(r, 100000, 3);
  reply_free(r);
  assert_int_equal(count_tmp(fx), 0);
  r = call(fx, "GET", "/storage/errors?bucket=main", 0, 0, 0, NULL);
  assert_int_equal(json_integer_value(json_object_get(r->json, "count")), 2);
  reply_free(r);
  /* a download whose store fails midway is cut short, never padded */
  tarn_store_faulty_clear(fx->faulty);
  r = call(fx, "PUT", "/storage/buckets/main/objects/big", 3u << 20, 5, 0, NULL);
  assert_int_equal(r->status, 201);
  reply_free(r);
  assert_int_equal(tarn_store_faulty_add(fx->faulty, TARN_FAULT_GET, TARN_FAULT_ERROR, TARN_EIO,
                                         NULL, 2, 1, NULL),
                   0);
  r = call(fx, "GET", "/storage/buckets/main/objects/big", 0, 0, 0, NULL);
  assert_non_null(strstr(r->headers, "Content-Length: 3145728\r\n"));
  assert_true(r->len < (3u << 20));
  reply_free(r);
}

static void test_buckets_listing(void **state) {
  fixture *fx = *state;
  json_t *b;
  reply *r;
  r = call(fx, "GET", "/storage/buckets", 0, 0, 0, NULL);
  assert_int_equal(r->status, 200);
  assert_int_equal(json_array_size(r->json), 3);
  b = json_array_get(r->json, 0);
  assert_string_equal(json_string_value(json_object_get(b, "name")), "main");
  assert_string_equal(json_string_value(json_object_get(b, "backend")), "local");
  assert_string_equal(json_string_value(json_object_get(b, "role")), "primary");
  assert_true(json_is_null(json_object_get(b, "reachable")));
  assert_true(json_is_null(json_object_get(b, "last_probe")));
  reply_free(r);
  assert_int_equal(tarn_store_faulty_add(fx->faulty, TARN_FAULT_OPEN, TARN_FAULT_ERROR, TARN_EIO,
                                         NULL, 0, 0, NULL),
                   0);
  r = call(fx, "GET", "/storage/buckets?probe=true", 0, 0, 0, NULL);
  assert_int_equal(r->status, 200);
  b = json_array_get(r->json, 0);
  assert_true(json_is_false(json_object_get(b, "reachable")));
  assert_non_null(strstr(json_string_value(json_object_get(b, "last_error")), "put: "));
  assert_true(json_is_string(json_object_get(b, "last_probe")));
  b = json_array_get(r->json, 2);
  assert_string_equal(json_string_value(json_object_get(b, "role")), "extra");
  assert_true(json_is_true(json_object_get(b, "reachable")));
  assert_true(json_is_null(json_object_get(b, "last_error")));
  assert_true(json_real_value(json_object_get(b, "latency_ms")) > 0);
  assert_null(strstr(r->body, "secret"));
  reply_free(r);
  r = call(fx, "GET", "/storage/bucket-health", 0, 0, 0, NULL);
  assert_true(json_is_false(json_object_get(r->json, "ok")));
  assert_string_equal(json_string_value(json_array_get(json_object_get(r->json, "unreachable"), 0)),
                      "main");
  reply_free(r);
  r = call(fx, "GET", "/storage/buckets?probe=maybe", 0, 0, 0, NULL);
  assert_int_equal(r->status, 400);
  reply_free(r);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(test_object_round_trip), T(test_refusals),
      T(test_rescue_over_http),  T(test_failed_upload_keeps_old_object),
      T(test_buckets_listing),
  };
  int rc;
  tarn_log_set_level(TARN_LOG_ERROR);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  rc = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
