/* test_http_ingest.c - POST /ingest and the /catalog/ routes on a live server (http/ingest_routes). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "http/http.h"
#include "ingest/ingest.h"

#define MAX_UPLOAD (4u << 20)

typedef struct fixture {
  char dir[64], lake[96], spool[128], db[128];
  char root_uri[PATH_MAX + 16];
  tarn_metrics *metrics;
  tarn_store *st; /* faulty wrapper around the lake's local store */
  tarn_http_server *srv;
  char base[64];
  /* catalog faults for the next handles the routes open: op, or 0 for none */
  int cat_fault_op;
  int cat_opened;
  const char *db_hosts; /* [ingest] db_hosts of the next start */
} fixture;

static int open_catalog(void *arg, tarn_catalog **out, tarn_error *err) {
  fixture *fx = arg;
  tarn_catalog *inner = NULL;
  int rc = tarn_catalog_sqlite_open(fx->db, NULL, &inner, err);
  if (rc != 0)
    return rc;
  fx->cat_opened++;
  if (fx->cat_fault_op == 0) {
    *out = inner;
    return 0;
  }
  rc = tarn_catalog_faulty_wrap(inner, out, err);
  if (rc == 0)
    rc = tarn_catalog_faulty_add(*out, (tarn_catalog_fault_op)fx->cat_fault_op,
                                 TARN_CATALOG_FAULT_BEFORE, TARN_EIO, 0, 0, err);
  return rc;
}

static void start(fixture *fx, uint64_t max_upload) {
  tarn_http_options o;
  tarn_http_ingest_options io;
  memset(&o, 0, sizeof(o));
  o.listen = "127.0.0.1:0";
  o.max_body = 1024;
  o.metrics = fx->metrics;
  assert_int_equal(tarn_http_server_create(&fx->srv, &o, NULL), 0);
  memset(&io, 0, sizeof(io));
  io.store = fx->st;
  io.root_uri = fx->root_uri;
  io.spool_dir = fx->spool;
  io.max_upload = max_upload;
  io.threads = 2; /* the library's tests cover one thread; here the pipeline */
  io.open_catalog = open_catalog;
  io.open_catalog_arg = fx;
  io.db_hosts = fx->db_hosts;
  assert_int_equal(tarn_http_add_ingest_routes(fx->srv, &io, NULL), 0);
  assert_int_equal(tarn_http_server_start(fx->srv, NULL), 0);
  snprintf(fx->base, sizeof(fx->base), "http://%s", tarn_http_server_address(fx->srv));
}

static int setup(void **state) {
  fixture *fx = calloc(1, sizeof(*fx));
  char real[PATH_MAX];
  tarn_store *local = NULL;
  snprintf(fx->dir, sizeof(fx->dir), "/tmp/tarn_test_hi_XXXXXX");
  assert_non_null(mkdtemp(fx->dir));
  snprintf(fx->lake, sizeof(fx->lake), "%s/lake", fx->dir);
  assert_int_equal(tarn_store_local_open(fx->lake, &local, NULL), 0);
  assert_non_null(realpath(fx->lake, real));
  snprintf(fx->root_uri, sizeof(fx->root_uri), "file://%s/", real);
  snprintf(fx->spool, sizeof(fx->spool), "%s/.spool", fx->lake);
  snprintf(fx->db, sizeof(fx->db), "%s/catalog.db", fx->lake);
  assert_int_equal(tarn_store_faulty_wrap(local, &fx->st, NULL), 0);
  assert_int_equal(tarn_metrics_create(&fx->metrics, NULL), 0);
  start(fx, MAX_UPLOAD);
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fixture *fx = *state;
  char cmd[128];
  tarn_http_server_destroy(fx->srv);
  tarn_store_destroy(fx->st);
  tarn_metrics_destroy(fx->metrics);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", fx->dir);
  assert_int_equal(system(cmd), 0);
  free(fx);
  return 0;
}

/* ---- a small curl client ---- */

typedef struct reply {
  long status;
  char *body;
  size_t len;
  json_t *json;
} reply;

typedef struct upload {
  const char *data;
  size_t size, sent;
  size_t abort_at; /* 0: never; else fail the transfer once this much is sent */
} upload;

static size_t on_body(char *p, size_t sz, size_t n, void *ud) {
  reply *r = ud;
  r->body = realloc(r->body, r->len + sz * n + 1);
  memcpy(r->body + r->len, p, sz * n);
  r->len += sz * n;
  r->body[r->len] = '\0';
  return sz * n;
}

static size_t on_read(char *p, size_t sz, size_t n, void *ud) {
  upload *u = ud;
  size_t k = sz * n;
  if (u->abort_at && u->sent >= u->abort_at)
    return CURL_READFUNC_ABORT;
  if (k > u->size - u->sent)
    k = u->size - u->sent;
  if (k > 16384)
    k = 16384;
  memcpy(p, u->data + u->sent, k);
  u->sent += k;
  return k;
}

enum { RAW_DECLARED, RAW_CHUNKED, MULTIPART, NOBODY };

/* POST (with a body as `how`) or GET `path`. content_type may be NULL (none sent). */
static reply *call(fixture *fx, const char *method, const char *path, int how, const char *body,
                   size_t len, const char *content_type, size_t abort_at) {
  reply *r = calloc(1, sizeof(*r));
  upload u = {body, len, 0, abort_at};
  struct curl_slist *h = NULL;
  curl_mime *mime = NULL;
  char url[2048], ct[256];
  CURL *c = curl_easy_init();
  snprintf(url, sizeof(url), "%s%s", fx->base, path);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
  /* A body refused before it is read (413 for its declared length) reaches a client that
   * is still sending only if it waits for 100 Continue, as curl does for large bodies:
   * keep that for declared lengths, skip the round trip otherwise. */
  if (how != RAW_DECLARED && how != MULTIPART)
    h = curl_slist_append(h, "Expect:");
  if (strcmp(method, "POST") == 0) {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    if (how == MULTIPART) {
      curl_mimepart *part;
      mime = curl_mime_init(c);
      part = curl_mime_addpart(mime);
      curl_mime_name(part, "comment");
      curl_mime_data(part, "ignored", CURL_ZERO_TERMINATED);
      part = curl_mime_addpart(mime);
      curl_mime_name(part, content_type ? content_type : "file"); /* the part's name */
      curl_mime_filename(part, "data.csv");
      curl_mime_type(part, "text/csv");
      curl_mime_data(part, body, len);
      curl_easy_setopt(c, CURLOPT_MIMEPOST, mime);
    } else if (how == NOBODY) {
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    } else {
      curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
      curl_easy_setopt(c, CURLOPT_READDATA, &u);
      if (how == RAW_DECLARED)
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
      else
        h = curl_slist_append(h, "Transfer-Encoding: chunked");
      snprintf(ct, sizeof(ct), "Content-Type: %s", content_type ? content_type : "");
      h = curl_slist_append(h, ct); /* "Content-Type:" alone removes the header */
    }
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
  curl_easy_cleanup(c);
  curl_mime_free(mime);
  curl_slist_free_all(h);
  if (r->body != NULL)
    r->json = json_loads(r->body, 0, NULL);
  return r;
}

static reply *post_csv(fixture *fx, const char *query, const char *csv) {
  return call(fx, "POST", query, RAW_DECLARED, csv, strlen(csv), "text/csv", 0);
}

static reply *get(fixture *fx, const char *path) {
  return call(fx, "GET", path, NOBODY, NULL, 0, NULL, 0);
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
  const char *m = json_string_value(json_object_get(json_object_get(r->json, "error"), "message"));
  return m ? m : "";
}

static const char *jstr(reply *r, const char *key) {
  return json_string_value(json_object_get(r->json, key));
}

static long long jint(const json_t *o, const char *key) {
  return (long long)json_integer_value(json_object_get(o, key));
}

/* Files in the lake (catalog.db and its WAL files aside), recursively. */
static size_t count_files(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  size_t n = 0;
  if (d == NULL)
    return 0;
  while ((e = readdir(d)) != NULL) {
    char path[1024];
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
        strncmp(e->d_name, "catalog.db", 10) == 0)
      continue;
    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
    if (e->d_type == DT_DIR)
      n += count_files(path);
    else
      n++;
  }
  closedir(d);
  return n;
}

static char *metrics_text(fixture *fx) {
  tarn_buf b;
  tarn_buf_init(&b, TARN_BUF_UNLIMITED);
  assert_int_equal(tarn_metrics_render(fx->metrics, &b, NULL), 0);
  tarn_buf_append_byte(&b, 0, NULL);
  return tarn_buf_detach(&b);
}

/* A CSV of n rows: id (int64), name (string), amount (float64), day (date). */
static char *make_csv(int n, int start) {
  size_t cap = 64 + (size_t)n * 64, len;
  char *s = malloc(cap);
  int i;
  len = (size_t)snprintf(s, cap, "id,name,amount,day\n");
  for (i = 0; i < n; i++)
    len += (size_t)snprintf(s + len, cap - len, "%d,\"name %d, the %dth\",%d.5,2024-01-%02d\n",
                            start + i, start + i, start + i, i, 1 + i % 28);
  return s;
}

/* ---- tests ---- */

static void test_raw_and_multipart(void **state) {
  fixture *fx = *state;
  char *csv = make_csv(1000, 0), *m;
  reply *r;
  const json_t *man;
  size_t files;
  /* raw body, declared length */
  r = post_csv(fx, "/ingest?name=trips", csv);
  assert_int_equal(r->status, 200);
  assert_false(json_is_true(json_object_get(r->json, "existing")));
  assert_string_equal(jstr(r, "outcome"), "created");
  assert_int_equal(jint(r->json, "row_count"), 1000);
  assert_true(jint(r->json, "parquet_size") > 0);
  assert_non_null(strstr(jstr(r, "parquet_key"), "warehouse/datasets/trips/data/"));
  man = json_object_get(r->json, "manifest");
  assert_string_equal(json_string_value(json_object_get(man, "name")), "trips");
  assert_string_equal(json_string_value(json_object_get(man, "source")), "upload");
  assert_int_equal(jint(man, "row_count"), 1000);
  assert_int_equal(json_array_size(json_object_get(man, "objects")), 1);
  assert_int_equal(json_array_size(json_object_get(man, "columns")), 4);
  assert_string_equal(json_string_value(json_object_get(
                          json_array_get(json_object_get(man, "columns"), 2), "type")),
                      "float64");
  assert_string_equal(json_string_value(json_object_get(
                          json_array_get(json_object_get(r->json, "columns"), 3), "type")),
                      "date");
  reply_free(r);
  files = count_files(fx->lake);
  /* the same bytes as multipart: identical, nothing new anywhere */
  r = call(fx, "POST", "/ingest?name=trips", MULTIPART, csv, strlen(csv), NULL, 0);
  assert_int_equal(r->status, 200);
  assert_true(json_is_true(json_object_get(r->json, "existing")));
  assert_string_equal(jstr(r, "outcome"), "existing");
  reply_free(r);
  assert_int_equal(count_files(fx->lake), files);
  /* multipart into a new dataset: the part's file name is the source */
  r = call(fx, "POST", "/ingest?name=trips_mp", MULTIPART, csv, strlen(csv), NULL, 0);
  assert_int_equal(r->status, 200);
  assert_string_equal(jstr(r, "outcome"), "created");
  assert_string_equal(
      json_string_value(json_object_get(json_object_get(r->json, "manifest"), "source")),
      "data.csv");
  reply_free(r);
  /* chunked raw body without a Content-Type, and with a charset parameter */
  free(csv);
  csv = make_csv(500, 5000);
  r = call(fx, "POST", "/ingest?name=trips&mode=append", RAW_CHUNKED, csv, strlen(csv), NULL, 0);
  assert_int_equal(r->status, 200);
  assert_string_equal(jstr(r, "outcome"), "appended");
  assert_int_equal(jint(json_object_get(r->json, "manifest"), "row_count"), 1500);
  assert_int_equal(
      json_array_size(json_object_get(json_object_get(r->json, "manifest"), "objects")), 2);
  reply_free(r);
  r = call(fx, "POST", "/ingest?name=trips&mode=replace", RAW_CHUNKED, csv, strlen(csv),
           "text/csv; charset=utf-8", 0);
  assert_int_equal(r->status, 200);
  assert_string_equal(jstr(r, "outcome"), "replaced");
  assert_int_equal(jint(json_object_get(r->json, "manifest"), "row_count"), 500);
  reply_free(r);
  free(csv);
  /* semicolons */
  r = post_csv(fx, "/ingest?name=semi&delimiter=%3B", "a;b\n1;x\n2;y\n");
  assert_int_equal(r->status, 200);
  assert_int_equal(jint(r->json, "row_count"), 2);
  reply_free(r);
  r = post_csv(fx, "/ingest?name=tabs&delimiter=tab", "a\tb\n1\tx\n");
  assert_int_equal(r->status, 200);
  reply_free(r);
  m = metrics_text(fx);
  assert_non_null(strstr(m, "tarn_ingest_total{outcome=\"created\"} 4"));
  assert_non_null(strstr(m, "tarn_ingest_total{outcome=\"existing\"} 1"));
  assert_non_null(strstr(m, "tarn_ingest_total{outcome=\"appended\"} 1"));
  assert_non_null(strstr(m, "tarn_ingest_total{outcome=\"replaced\"} 1"));
  assert_non_null(strstr(m, "tarn_ingest_rows_total 3003"));
  assert_non_null(strstr(m, "tarn_ingest_duration_seconds_count 7"));
  assert_non_null(strstr(m, "tarn_ingest_bytes_total "));
  tarn_free(m);
  /* nothing left in the spool directory */
  assert_int_equal(count_files(fx->spool), 0);
}

static void test_refusals(void **state) {
  fixture *fx = *state;
  reply *r;
  size_t files;
  r = post_csv(fx, "/ingest?name=base", "id,v\n1,a\n");
  assert_int_equal(r->status, 200);
  reply_free(r);
  files = count_files(fx->lake);
  /* names */
  r = post_csv(fx, "/ingest", "id\n1\n");
  assert_int_equal(r->status, 400);
  assert_string_equal(jerr_code(r), "invalid_name");
  assert_non_null(strstr(jerr_msg(r), "name is required"));
  reply_free(r);
  r = post_csv(fx, "/ingest?name=Bad-Name", "id\n1\n");
  assert_int_equal(r->status, 400);
  assert_string_equal(jerr_code(r), "invalid_name");
  assert_non_null(strstr(jerr_msg(r), "[a-z0-9_]"));
  reply_free(r);
  /* mode, delimiter, media type */
  r = post_csv(fx, "/ingest?name=x&mode=upsert", "id\n1\n");
  assert_int_equal(r->status, 400);
  assert_string_equal(jerr_code(r), "invalid_argument");
  assert_non_null(strstr(jerr_msg(r), "replace, append"));
  reply_free(r);
  r = post_csv(fx, "/ingest?name=x&delimiter=%3A", "id\n1\n");
  assert_int_equal(r->status, 400);
  assert_non_null(strstr(jerr_msg(r), "delimiter"));
  reply_free(r);
  r = call(fx, "POST", "/ingest?name=x", RAW_DECLARED, "id\n1\n", 5, "application/json", 0);
  assert_int_equal(r->status, 415);
  assert_string_equal(jerr_code(r), "unsupported_media_type");
  reply_free(r);
  /* bad CSV: line and column */
  r = post_csv(fx, "/ingest?name=x", "id,v\n1,a\n2,\"b\"c\n");
  assert_int_equal(r->status, 400);
  assert_string_equal(jerr_code(r), "invalid_csv");
  assert_non_null(strstr(jerr_msg(r), "line 3, column 6"));
  reply_free(r);
  r = post_csv(fx, "/ingest?name=x", "id,v\n1,a,b\n");
  assert_int_equal(r->status, 400);
  assert_non_null(strstr(jerr_msg(r), "line 2"));
  reply_free(r);
  r = post_csv(fx, "/ingest?name=x", "");
  assert_int_equal(r->status, 400);
  reply_free(r);
  /* multipart without "file", with two of them */
  r = call(fx, "POST", "/ingest?name=x", MULTIPART, "id\n1\n", 5, "upload", 0);
  assert_int_equal(r->status, 400);
  assert_string_equal(jerr_code(r), "invalid_multipart");
  assert_non_null(strstr(jerr_msg(r), "no part named \"file\""));
  reply_free(r);
  {
    const char *body = "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\""
                       "\r\n\r\nid\n1\n\r\n--XyZ\r\nContent-Disposition: form-data; "
                       "name=\"file\"; filename=\"b.csv\"\r\n\r\nid\n2\n\r\n--XyZ--\r\n";
    r = call(fx, "POST", "/ingest?name=x", RAW_DECLARED, body, strlen(body),
             "multipart/form-data; boundary=XyZ", 0);
    assert_int_equal(r->status, 400);
    assert_non_null(strstr(jerr_msg(r), "more than one part"));
    reply_free(r);
    /* cut short: no closing boundary */
    r = call(fx, "POST", "/ingest?name=x", RAW_DECLARED, body, 60,
             "multipart/form-data; boundary=XyZ", 0);
    assert_int_equal(r->status, 400);
    assert_string_equal(jerr_code(r), "invalid_multipart");
    reply_free(r);
  }
  r = call(fx, "POST", "/ingest?name=x", RAW_DECLARED, "id\n1\n", 5, "multipart/form-data", 0);
  assert_int_equal(r->status, 400);
  assert_non_null(strstr(jerr_msg(r), "boundary"));
  reply_free(r);
  /* drift: 409 with the diff, nothing written */
  r = post_csv(fx, "/ingest?name=base", "id,v,extra\n1.5,a,z\n");
  assert_int_equal(r->status, 409);
  assert_string_equal(jerr_code(r), "schema_mismatch");
  {
    const json_t *d = json_object_get(json_object_get(r->json, "error"), "drift");
    assert_int_equal(json_array_size(json_object_get(d, "added")), 1);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(d, "added"), 0), "name")),
        "extra");
    assert_int_equal(json_array_size(json_object_get(d, "retyped")), 1);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(d, "retyped"), 0), "to")),
        "float64");
    assert_int_equal(json_array_size(json_object_get(d, "removed")), 0);
  }
  reply_free(r);
  assert_int_equal(count_files(fx->lake), files);
  /* nothing of these made a dataset */
  r = get(fx, "/catalog/datasets/x");
  assert_int_equal(r->status, 404);
  reply_free(r);
  {
    char *m = metrics_text(fx);
    assert_non_null(strstr(m, "tarn_ingest_total{outcome=\"schema_mismatch\"} 1"));
    assert_non_null(strstr(m, "tarn_ingest_total{outcome=\"invalid\"} 12"));
    tarn_free(m);
  }
}

static void test_caps(void **state) {
  fixture *fx = *state;
  char *csv = make_csv(60000, 0), *m; /* about 2.7 MB */
  size_t len = strlen(csv);
  reply *r;
  tarn_http_server_destroy(fx->srv);
  fx->srv = NULL;
  start(fx, len - 1);
  r = call(fx, "POST", "/ingest?name=big", RAW_DECLARED, csv, len, "text/csv", 0);
  assert_int_equal(r->status, 413);
  assert_string_equal(jerr_code(r), "payload_too_large");
  reply_free(r);
  r = call(fx, "POST", "/ingest?name=big", RAW_CHUNKED, csv, len, "text/csv", 0);
  assert_int_equal(r->status, 413);
  reply_free(r);
  r = call(fx, "POST", "/ingest?name=big", MULTIPART, csv, len - 200, NULL, 0);
  assert_int_equal(r->status, 413); /* the framing counts */
  reply_free(r);
  r = get(fx, "/catalog/datasets/big");
  assert_int_equal(r->status, 404);
  reply_free(r);
  m = metrics_text(fx);
  assert_non_null(strstr(m, "tarn_ingest_total{outcome=\"too_large\"} 1"));
  assert_non_null(strstr(m, "tarn_http_request_body_rejected_total{route=\"/ingest\"} 3"));
  tarn_free(m);
  /* exactly at the cap is fine, streamed in small chunks (all but the last newline) */
  r = call(fx, "POST", "/ingest?name=big", RAW_CHUNKED, csv, len - 1, "text/csv", 0);
  assert_int_equal(r->status, 200);
  assert_int_equal(jint(r->json, "row_count"), 60000);
  reply_free(r);
  /* a client that gives up midway: nothing stored, nothing spooled */
  r = call(fx, "POST", "/ingest?name=gone", RAW_CHUNKED, csv, len - 1, "text/csv", 100000);
  reply_free(r);
  for (int i = 0; i < 100; i++) {
    m = metrics_text(fx);
    if (strstr(m, "tarn_ingest_total{outcome=\"aborted\"} 1") != NULL)
      break;
    tarn_free(m);
    m = NULL;
    usleep(20000);
  }
  assert_non_null(m);
  tarn_free(m);
  r = get(fx, "/catalog/datasets/gone");
  assert_int_equal(r->status, 404);
  reply_free(r);
  assert_int_equal(count_files(fx->spool), 0);
  free(csv);
}

/* Current snapshot id and metadata location of datasets.name, read through the catalog. */
static void dataset_state(fixture *fx, const char *name, long long *snap, char *loc, size_t n) {
  reply *r;
  char path[256];
  tarn_catalog *cat;
  tarn_catalog_table t;
  snprintf(path, sizeof(path), "/catalog/datasets/%s", name);
  r = get(fx, path);
  assert_int_equal(r->status, 200);
  *snap = jint(r->json, "current_snapshot_id");
  reply_free(r);
  assert_int_equal(tarn_catalog_sqlite_open(fx->db, NULL, &cat, NULL), 0);
  tarn_catalog_table_init(&t);
  assert_int_equal(tarn_catalog_load_table(cat, "datasets", name, &t, NULL), 0);
  snprintf(loc, n, "%s", t.metadata_location);
  tarn_catalog_table_free(&t);
  tarn_catalog_destroy(cat);
}

static void test_backend_failures(void **state) {
  fixture *fx = *state;
  char *csv1 = make_csv(100, 0), *csv2 = make_csv(100, 1000), *m;
  char loc1[1024], loc2[1024];
  long long snap1, snap2;
  size_t files;
  reply *r;
  r = post_csv(fx, "/ingest?name=d", csv1);
  assert_int_equal(r->status, 200);
  reply_free(r);
  dataset_state(fx, "d", &snap1, loc1, sizeof(loc1));
  files = count_files(fx->lake);
  /* the data file's write fails */
  assert_int_equal(tarn_store_faulty_add(fx->st, TARN_FAULT_WRITE, TARN_FAULT_ERROR, TARN_EIO,
                                         "warehouse/datasets/d/data/", 0, 0, NULL),
                   0);
  r = post_csv(fx, "/ingest?name=d", csv2);
  assert_int_equal(r->status, 502);
  assert_string_equal(jerr_code(r), "io_error");
  reply_free(r);
  tarn_store_faulty_clear(fx->st);
  dataset_state(fx, "d", &snap2, loc2, sizeof(loc2));
  assert_int_equal(snap1, snap2);
  assert_string_equal(loc1, loc2);
  assert_int_equal(count_files(fx->lake), files);
  /* the store says the content-addressed key exists, but nothing is there (a local store
   * says so when a file sits where a folder must be): never commit a missing file */
  assert_int_equal(tarn_store_faulty_add(fx->st, TARN_FAULT_OPEN, TARN_FAULT_ERROR, TARN_EEXIST,
                                         "warehouse/datasets/d/data/", 0, 0, NULL),
                   0);
  r = post_csv(fx, "/ingest?name=d", csv2);
  assert_int_equal(r->status, 502);
  reply_free(r);
  tarn_store_faulty_clear(fx->st);
  dataset_state(fx, "d", &snap2, loc2, sizeof(loc2));
  assert_int_equal(snap1, snap2);
  assert_string_equal(loc1, loc2);
  assert_int_equal(count_files(fx->lake), files);
  /* the new metadata file's commit fails: nothing is committed, the manifests written for
   * it are removed, and the data file stays: it is named by its content, so another
   * request may have committed it meanwhile (an unreferenced one is the orphan sweep's) */
  assert_int_equal(tarn_store_faulty_add(fx->st, TARN_FAULT_COMMIT, TARN_FAULT_FSYNC, TARN_EFSYNC,
                                         "warehouse/datasets/d/metadata/", 0, 0, NULL),
                   0);
  r = post_csv(fx, "/ingest?name=d", csv2);
  assert_int_equal(r->status, 502);
  reply_free(r);
  tarn_store_faulty_clear(fx->st);
  dataset_state(fx, "d", &snap2, loc2, sizeof(loc2));
  assert_int_equal(snap1, snap2);
  assert_string_equal(loc1, loc2);
  assert_int_equal(count_files(fx->lake), files + 1);
  /* the catalog's commit fails */
  fx->cat_fault_op = TARN_CATALOG_FAULT_COMMIT;
  r = post_csv(fx, "/ingest?name=d", csv2);
  assert_int_equal(r->status, 502);
  reply_free(r);
  assert_int_equal(count_files(fx->lake), files + 1); /* no orphan manifests either */
  /* ... and a catalog that cannot even load answers 502 on every route */
  fx->cat_fault_op = TARN_CATALOG_FAULT_LOAD_TABLE;
  r = get(fx, "/catalog/datasets/d");
  assert_int_equal(r->status, 502);
  reply_free(r);
  fx->cat_fault_op = 0;
  dataset_state(fx, "d", &snap2, loc2, sizeof(loc2));
  assert_int_equal(snap1, snap2);
  assert_string_equal(loc1, loc2);
  /* and it works again */
  r = post_csv(fx, "/ingest?name=d", csv2);
  assert_int_equal(r->status, 200);
  assert_string_equal(jstr(r, "outcome"), "replaced");
  reply_free(r);
  m = metrics_text(fx);
  assert_non_null(strstr(m, "tarn_ingest_total{outcome=\"failed\"} 4"));
  tarn_free(m);
  free(csv1);
  free(csv2);
}

static void test_catalog_routes(void **state) {
  fixture *fx = *state;
  reply *r;
  const json_t *d;
  r = get(fx, "/catalog/datasets");
  assert_int_equal(r->status, 200);
  assert_int_equal(jint(r->json, "count"), 0);
  reply_free(r);
  r = post_csv(fx, "/ingest?name=b_set", "id,v\n1,x\n2,\n");
  assert_int_equal(r->status, 200);
  reply_free(r);
  r = post_csv(fx, "/ingest?name=a_set", "k,when\nz,2024-01-01T00:00:00Z\n");
  assert_int_equal(r->status, 200);
  reply_free(r);
  r = get(fx, "/catalog/datasets");
  assert_int_equal(r->status, 200);
  assert_int_equal(jint(r->json, "count"), 2);
  d = json_array_get(json_object_get(r->json, "datasets"), 0);
  assert_string_equal(json_string_value(json_object_get(d, "name")), "a_set");
  assert_int_equal(jint(d, "row_count"), 1);
  assert_int_equal(jint(d, "column_count"), 2);
  assert_int_equal(jint(d, "data_files"), 1);
  assert_true(jint(d, "total_size") > 0);
  assert_null(json_object_get(d, "objects"));
  assert_non_null(json_string_value(json_object_get(d, "fingerprint")));
  reply_free(r);
  r = get(fx, "/catalog/datasets/b_set");
  assert_int_equal(r->status, 200);
  assert_int_equal(jint(r->json, "row_count"), 2);
  assert_true(json_is_true(
      json_object_get(json_array_get(json_object_get(r->json, "columns"), 1), "nullable")));
  reply_free(r);
  r = get(fx, "/catalog/datasets/nope");
  assert_int_equal(r->status, 404);
  assert_non_null(strstr(jerr_msg(r), "no dataset named \"nope\""));
  reply_free(r);
  r = get(fx, "/catalog/datasets/No%20Way");
  assert_int_equal(r->status, 400);
  reply_free(r);
  r = call(fx, "POST", "/catalog/datasets/b_set/resync", NOBODY, NULL, 0, NULL, 0);
  assert_int_equal(r->status, 200);
  assert_false(json_is_true(json_object_get(r->json, "changed")));
  assert_int_equal(jint(json_object_get(r->json, "manifest"), "row_count"), 2);
  reply_free(r);
  r = call(fx, "POST", "/catalog/datasets/nope/resync", NOBODY, NULL, 0, NULL, 0);
  assert_int_equal(r->status, 404);
  reply_free(r);
  r = call(fx, "POST", "/catalog/resync-missing", NOBODY, NULL, 0, NULL, 0);
  assert_int_equal(r->status, 200);
  assert_int_equal(json_array_size(json_object_get(r->json, "resynced")), 0);
  assert_int_equal(json_array_size(json_object_get(r->json, "failed")), 0);
  reply_free(r);
  r = get(fx, "/ingest");
  assert_int_equal(r->status, 405);
  reply_free(r);
}

/* POST /ingest/db refuses before it connects anywhere: the body, the DSN a client may
 * give, the hosts it may reach; an unreachable server is 502 with its SQLSTATE; no answer
 * holds the password. (A real PostgreSQL: tests/e2e/test_ingest_pg.sh.) */
static void test_db_route_refusals(void **state) {
  fixture *fx = *state;
  static const struct {
    const char *body;
    const char *code;
    const char *needle;
  } bad[] = {
      {"{\"dsn\": ", "invalid_argument", "not JSON"},
      {"[1]", "invalid_argument", "object"},
      {"{\"dsn\":\"host=h\",\"name\":\"a\",\"table\":\"t\",\"bogus\":1}", "invalid_argument",
       "bogus"},
      {"{\"name\":\"a\",\"table\":\"t\"}", "invalid_argument", "dsn"},
      {"{\"dsn\":\"host=h\",\"name\":\"a\",\"table\":\"t\",\"query\":\"SELECT 1\"}",
       "invalid_argument", "exactly one"},
      {"{\"dsn\":\"host=h\",\"name\":\"a\",\"table\":\"t\",\"readers\":\"2\"}", "invalid_argument",
       "integer"},
      {"{\"dsn\":\"host=h\",\"name\":\"a\",\"table\":\"t\",\"mode\":\"merge\"}", "invalid_argument",
       "merge"},
      {"{\"dsn\":\"host=/tmp dbname=x password=sekritpw\",\"name\":\"a\",\"table\":\"t\"}",
       "invalid_argument", "unix socket"},
      {"{\"dsn\":\"host=h passfile=/root/.pgpass\",\"name\":\"a\",\"table\":\"t\"}",
       "invalid_argument", "passfile"},
      {"{\"dsn\":\"host=h\",\"name\":\"Bad Name\",\"table\":\"t\"}", "invalid_argument", "name"},
  };
  const char *unreachable =
      "{\"dsn\":\"host=127.0.0.1 port=1 dbname=x user=u password=sekritpw connect_timeout=2\","
      "\"name\":\"a\",\"table\":\"t\"}";
  reply *r;
  size_t i;
  char *m;
  r = call(fx, "POST", "/ingest/db", RAW_DECLARED, "a,b\n", 4, "text/csv", 0);
  assert_int_equal(r->status, 415);
  reply_free(r);
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    r = call(fx, "POST", "/ingest/db", RAW_DECLARED, bad[i].body, strlen(bad[i].body),
             "application/json", 0);
    if (r->status != 400 || jerr_code(r) == NULL || strcmp(jerr_code(r), bad[i].code) != 0 ||
        strstr(jerr_msg(r), bad[i].needle) == NULL)
      fail_msg("%s: got %ld %s", bad[i].body, r->status, r->body ? r->body : "");
    assert_null(strstr(r->body, "sekritpw"));
    reply_free(r);
  }
  r = call(fx, "POST", "/ingest/db", RAW_DECLARED, unreachable, strlen(unreachable),
           "application/json; charset=utf-8", 0);
  assert_int_equal(r->status, 502);
  assert_string_equal(jerr_code(r), "postgres_unavailable");
  assert_string_equal(
      json_string_value(json_object_get(json_object_get(r->json, "error"), "sqlstate")), "08001");
  assert_null(strstr(r->body, "sekritpw"));
  reply_free(r);
  /* [ingest] db_hosts: anywhere else is 403 */
  tarn_http_server_destroy(fx->srv);
  fx->db_hosts = "db.internal:5432,127.0.0.2";
  start(fx, MAX_UPLOAD);
  r = call(fx, "POST", "/ingest/db", RAW_DECLARED, unreachable, strlen(unreachable),
           "application/json", 0);
  assert_int_equal(r->status, 403);
  assert_string_equal(jerr_code(r), "forbidden");
  assert_null(strstr(r->body, "sekritpw"));
  reply_free(r);
  m = metrics_text(fx);
  assert_non_null(strstr(m, "tarn_ingest_total{outcome=\"invalid\"}"));
  assert_null(strstr(m, "sekritpw"));
  tarn_free(m);
  assert_int_equal(count_files(fx->lake), 0); /* nothing written */
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(test_raw_and_multipart), T(test_refusals),       T(test_caps),
      T(test_backend_failures),  T(test_catalog_routes), T(test_db_route_refusals),
  };
  int rc;
  json_set_alloc_funcs(tarn_malloc, tarn_free);
  tarn_log_set_level(TARN_LOG_ERROR);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  rc = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
