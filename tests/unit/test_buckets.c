/* test_buckets.c - bucket registry, rescue fallback, journaled faults, probes, secrets (store/buckets). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/settings.h"
#include "store/buckets.h"

typedef struct fixture {
  char dir[64];
  char p_dir[96], r_dir[96], x_dir[96], j_dir[96];
  tarn_metrics *metrics;
  tarn_store *jstore;
  tarn_errjournal *ej;
  tarn_buckets *bs;
  tarn_store *faulty; /* the primary's store when wrapped, else NULL */
} fixture;

static int setup(void **state) {
  fixture *fx = calloc(1, sizeof(*fx));
  snprintf(fx->dir, sizeof(fx->dir), "/tmp/tarn_test_buckets_XXXXXX");
  assert_non_null(mkdtemp(fx->dir));
  snprintf(fx->p_dir, sizeof(fx->p_dir), "%s/primary", fx->dir);
  snprintf(fx->r_dir, sizeof(fx->r_dir), "%s/rescue", fx->dir);
  snprintf(fx->x_dir, sizeof(fx->x_dir), "%s/extra", fx->dir);
  snprintf(fx->j_dir, sizeof(fx->j_dir), "%s/journal", fx->dir);
  assert_int_equal(tarn_metrics_create(&fx->metrics, NULL), 0);
  assert_int_equal(tarn_store_local_open(fx->j_dir, &fx->jstore, NULL), 0);
  assert_int_equal(tarn_errjournal_open(fx->jstore, NULL, &fx->ej, NULL), 0);
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fixture *fx = *state;
  char cmd[128];
  tarn_buckets_destroy(fx->bs);
  tarn_errjournal_close(fx->ej, NULL);
  tarn_store_destroy(fx->jstore);
  tarn_metrics_destroy(fx->metrics);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", fx->dir);
  assert_int_equal(system(cmd), 0);
  free(fx);
  tarn_log_set_stream(NULL);
  return 0;
}

/* primary (optionally behind the faulty wrapper), rescue, extra: all local. */
static void make_buckets(fixture *fx, int faulty_primary) {
  tarn_store *st = NULL;
  assert_int_equal(tarn_buckets_create(fx->metrics, &fx->bs, NULL), 0);
  assert_int_equal(tarn_store_local_open(fx->p_dir, &st, NULL), 0);
  if (faulty_primary) {
    assert_int_equal(tarn_store_faulty_wrap(st, &fx->faulty, NULL), 0);
    st = fx->faulty;
  }
  assert_int_equal(tarn_buckets_add(fx->bs, "main", "local", TARN_BUCKET_PRIMARY, st, NULL), 0);
  assert_int_equal(tarn_store_local_open(fx->r_dir, &st, NULL), 0);
  assert_int_equal(tarn_buckets_add(fx->bs, "spare", "local", TARN_BUCKET_RESCUE, st, NULL), 0);
  assert_int_equal(tarn_store_local_open(fx->x_dir, &st, NULL), 0);
  assert_int_equal(tarn_buckets_add(fx->bs, "misc", "local", TARN_BUCKET_EXTRA, st, NULL), 0);
  tarn_buckets_set_journal(fx->bs, fx->ej);
}

static double metric(fixture *fx, const char *name, const char *labels, const char *const *values) {
  tarn_metric *m = strcmp(name, "tarn_storage_probe_latency_seconds") == 0 ||
                           strcmp(name, "tarn_storage_bucket_reachable") == 0
                       ? tarn_metrics_gauge(fx->metrics, name, NULL, labels)
                       : tarn_metrics_counter(fx->metrics, name, NULL, labels);
  assert_non_null(m);
  return tarn_metric_value(m, values);
}

static json_t *events(fixture *fx, const char *bucket) {
  return tarn_errjournal_query(fx->ej, bucket, 0, 0);
}

static const char *ev_str(json_t *arr, size_t i, const char *field) {
  return json_string_value(json_object_get(json_array_get(arr, i), field));
}

/* ---- registry and configuration ---- */

static const tarn_cfg_def *const cfg_tables[] = {tarn_base_config, tarn_store_bucket_config, NULL};

static tarn_config *config_from(fixture *fx, const char *text) {
  char path[128];
  tarn_config *cfg = NULL;
  tarn_error err;
  FILE *f;
  snprintf(path, sizeof(path), "%s/tarn.ini", fx->dir);
  f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  assert_int_equal(tarn_config_create(&cfg, cfg_tables, NULL), 0);
  if (tarn_config_load_file(cfg, path, &err) != 0)
    fail_msg("config: %s", err.detail);
  return cfg;
}

static void test_default_is_the_lake(void **state) {
  fixture *fx = *state;
  char lake[128], text[256];
  tarn_config *cfg;
  tarn_bucket *b;
  snprintf(lake, sizeof(lake), "%s/lake", fx->dir);
  snprintf(text, sizeof(text), "[lake]\npath = %s\n", lake);
  cfg = config_from(fx, text);
  assert_int_equal(tarn_buckets_from_config(cfg, NULL, NULL, fx->metrics, &fx->bs, NULL), 0);
  assert_int_equal(tarn_buckets_count(fx->bs), 1);
  b = tarn_buckets_primary(fx->bs);
  assert_non_null(b);
  assert_string_equal(tarn_bucket_name(b), "lake");
  assert_string_equal(tarn_bucket_backend(b), "local");
  assert_null(tarn_buckets_rescue(fx->bs));
  assert_ptr_equal(tarn_buckets_find(fx->bs, "lake"), b);
  assert_int_equal(tarn_bucket_put(b, "x/y", "hi", 2, 0, NULL), 0);
  strcat(lake, "/x/y");
  assert_int_equal(access(lake, F_OK), 0);
  tarn_config_destroy(cfg);
}

static void test_buckets_from_config(void **state) {
  fixture *fx = *state;
  char text[1024];
  tarn_config *cfg;
  char *envp[] = {"AWS_ACCESS_KEY_ID=AKIDENV", "AWS_SECRET_ACCESS_KEY=env-secret", NULL};
  snprintf(text, sizeof(text),
           "[bucket.archive]\nbackend = local\nrole = extra\npath = %s\n"
           "[bucket.main]\nrole = primary\npath = %s\n"
           "[bucket.spare]\nrole = rescue\npath = %s\n"
           "[bucket.cloud]\nbackend = s3\nendpoint = http://127.0.0.1:9\nbucket = b1\n"
           "prefix = lake/\naddressing = path\n",
           fx->x_dir, fx->p_dir, fx->r_dir);
  cfg = config_from(fx, text);
  assert_int_equal(tarn_buckets_from_config(cfg, NULL, envp, fx->metrics, &fx->bs, NULL), 0);
  assert_int_equal(tarn_buckets_count(fx->bs), 4);
  assert_string_equal(tarn_bucket_name(tarn_buckets_at(fx->bs, 0)), "archive");
  assert_int_equal(tarn_bucket_role_of(tarn_buckets_at(fx->bs, 0)), TARN_BUCKET_EXTRA);
  assert_string_equal(tarn_bucket_name(tarn_buckets_primary(fx->bs)), "main");
  assert_string_equal(tarn_bucket_name(tarn_buckets_rescue(fx->bs)), "spare");
  assert_string_equal(tarn_bucket_backend(tarn_buckets_find(fx->bs, "cloud")), "s3");
  assert_null(tarn_buckets_at(fx->bs, 4));
  assert_null(tarn_buckets_find(fx->bs, "nope"));
  tarn_config_destroy(cfg);
}

static void test_config_validation(void **state) {
  fixture *fx = *state;
  static const struct {
    const char *text;
    const char *want;
  } cases[] = {
      {"[bucket.a]\nrole = primary\npath = /tmp/x\n[bucket.b]\nrole = primary\npath = /tmp/y\n",
       "[bucket.b] role = primary: [bucket.a] has that role already; exactly one bucket is the "
       "primary"},
      {"[bucket.a]\nrole = primary\npath = /tmp/x\n[bucket.r1]\nrole = rescue\npath = /tmp/y\n"
       "[bucket.r2]\nrole = rescue\npath = /tmp/z\n",
       "[bucket.r2] role = rescue: [bucket.r1] has that role already; at most one bucket is the "
       "rescue"},
      {"[bucket.a]\npath = /tmp/x\n[bucket.b]\nrole = rescue\npath = /tmp/y\n",
       "no bucket has role = primary: set it in exactly one of [bucket.a], [bucket.b]"},
      {"[bucket.a]\nrole = primary\n", "[bucket.a] path: required for backend = local"},
      {"[bucket.a]\nrole = primary\npath = /tmp/x\nendpoint = http://h\n",
       "[bucket.a] endpoint (file "},
      {"[bucket.a]\nrole = primary\nbackend = s3\nbucket = b\n",
       "[bucket.a] endpoint: required for backend = s3"},
      {"[bucket.a]\nrole = primary\nbackend = s3\nendpoint = http://h\n",
       "[bucket.a] bucket: required for backend = s3"},
      {"[bucket.a]\nrole = primary\nbackend = s3\nendpoint = http://h\nbucket = b\npath = /x\n",
       "[bucket.a] path (file "},
      {"[bucket.a]\nrole = primary\nbackend = s3\nendpoint = http://h\nbucket = b\n",
       "[bucket.a]: no credentials: put access_key_id and secret_access_key in section [bucket.a]"},
      {"[bucket.a]\nrole = primary\nbackend = s3\nendpoint = ftp://h\nbucket = b\n", "[bucket.a]"},
  };
  size_t i;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    tarn_config *cfg = config_from(fx, cases[i].text);
    tarn_buckets *bs = NULL;
    tarn_error err;
    char *envp[] = {NULL, NULL, NULL};
    if (i == sizeof(cases) / sizeof(cases[0]) - 1) {
      envp[0] = "AWS_ACCESS_KEY_ID=AKID";
      envp[1] = "AWS_SECRET_ACCESS_KEY=sk";
    }
    assert_int_equal(tarn_buckets_from_config(cfg, NULL, envp, fx->metrics, &bs, &err),
                     TARN_ECONFIG);
    assert_null(bs);
    assert_int_equal(err.code, TARN_ECONFIG);
    if (strstr(err.detail, cases[i].want) == NULL)
      fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.detail, cases[i].want);
    tarn_config_destroy(cfg);
  }
}

static char *write_secrets(fixture *fx, const char *text, mode_t mode) {
  static char path[128];
  FILE *f;
  snprintf(path, sizeof(path), "%s/secrets.ini", fx->dir);
  f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  assert_int_equal(chmod(path, mode), 0);
  return path;
}

static const tarn_cfg_def *const secret_tables[] = {tarn_store_bucket_secrets, NULL};

static void test_secrets_file(void **state) {
  fixture *fx = *state;
  tarn_secrets *sec = NULL;
  tarn_error err;
  char want[256], *path;
  tarn_config *cfg;
  const char *text = "[bucket.cloud]\naccess_key_id = AKIDFILE\nsecret_access_key = file-secret\n";
  path = write_secrets(fx, text, 0644);
  assert_int_equal(tarn_secrets_load(path, secret_tables, &sec, &err), TARN_EPERM);
  snprintf(want, sizeof(want),
           "secrets file %s has mode 0644; it must not be readable by group or others (chmod 600)",
           path);
  assert_string_equal(err.detail, want);
  path = write_secrets(fx, text, 0640);
  assert_int_equal(tarn_secrets_load(path, secret_tables, &sec, &err), TARN_EPERM);
  assert_non_null(strstr(err.detail, "has mode 0640"));
  path = write_secrets(fx, text, 0604);
  assert_int_equal(tarn_secrets_load(path, secret_tables, &sec, &err), TARN_EPERM);
  path = write_secrets(fx, text, 0600);
  assert_int_equal(tarn_secrets_load(path, secret_tables, &sec, &err), 0);
  assert_string_equal(tarn_secrets_path(sec), path);
  {
    char text2[512];
    snprintf(text2, sizeof(text2),
             "[bucket.main]\nrole = primary\npath = %s\n"
             "[bucket.cloud]\nbackend = s3\nendpoint = http://127.0.0.1:9\nbucket = b1\n",
             fx->p_dir);
    cfg = config_from(fx, text2);
  }
  /* with the file, the environment is not needed */
  assert_int_equal(tarn_buckets_from_config(cfg, sec, NULL, fx->metrics, &fx->bs, &err), 0);
  tarn_secrets_destroy(sec);
  tarn_secrets_destroy(NULL);
  /* a secrets section for a bucket that does not exist, or half a pair */
  path = write_secrets(fx, "[bucket.clod]\naccess_key_id = A\nsecret_access_key = B\n", 0600);
  assert_int_equal(tarn_secrets_load(path, secret_tables, &sec, &err), 0);
  tarn_buckets_destroy(fx->bs);
  fx->bs = NULL;
  assert_int_equal(tarn_buckets_from_config(cfg, sec, NULL, fx->metrics, &fx->bs, &err),
                   TARN_ECONFIG);
  assert_non_null(strstr(err.detail, "[bucket.clod] names no configured bucket"));
  tarn_secrets_destroy(sec);
  path = write_secrets(fx, "[bucket.cloud]\naccess_key_id = A\n", 0600);
  assert_int_equal(tarn_secrets_load(path, secret_tables, &sec, &err), 0);
  assert_int_equal(tarn_buckets_from_config(cfg, sec, NULL, fx->metrics, &fx->bs, &err),
                   TARN_ECONFIG);
  assert_non_null(strstr(err.detail, "[bucket.cloud] secret_access_key is missing"));
  tarn_secrets_destroy(sec);
  path = write_secrets(fx, "[bucket.main]\naccess_key_id = A\nsecret_access_key = B\n", 0600);
  assert_int_equal(tarn_secrets_load(path, secret_tables, &sec, &err), 0);
  assert_int_equal(tarn_buckets_from_config(cfg, sec, NULL, fx->metrics, &fx->bs, &err),
                   TARN_ECONFIG);
  assert_non_null(strstr(err.detail, "is a local bucket, which takes no credentials"));
  tarn_secrets_destroy(sec);
  /* unknown keys are refused without echoing values */
  path = write_secrets(fx, "[bucket.cloud]\nsecret_acess_key = topsecret\n", 0600);
  assert_int_equal(tarn_secrets_load(path, secret_tables, &sec, &err), TARN_ECONFIG);
  assert_non_null(strstr(err.detail, "unknown key \"secret_acess_key\""));
  assert_null(strstr(err.detail, "topsecret"));
  /* missing file */
  assert_int_equal(tarn_secrets_load("/nonexistent/secrets.ini", secret_tables, &sec, &err),
                   TARN_ENOTFOUND);
  assert_non_null(strstr(err.detail, "secrets file /nonexistent/secrets.ini"));
  tarn_config_destroy(cfg);
}

/* ---- rescue fallback ---- */

static void put_raw(fixture *fx, const char *bucket, const char *key, const char *text) {
  tarn_bucket *b = tarn_buckets_find(fx->bs, bucket);
  assert_int_equal(tarn_store_put(tarn_bucket_raw_store(b), key, text, strlen(text), 0, NULL), 0);
}

static void test_rescue_fallback(void **state) {
  fixture *fx = *state;
  tarn_bucket *main_b, *served = NULL;
  tarn_buf b;
  tarn_store_stat st;
  tarn_error err;
  json_t *arr;
  int rescued = 0;
  make_buckets(fx, 0);
  main_b = tarn_buckets_primary(fx->bs);
  put_raw(fx, "main", "both", "primary copy");
  put_raw(fx, "spare", "both", "rescue copy");
  put_raw(fx, "spare", "only/rescue", "saved by the rescue");
  tarn_buf_init(&b, TARN_BUF_UNLIMITED);
  /* found on the primary: no fallback */
  assert_int_equal(tarn_bucket_get(main_b, "both", &b, &rescued, NULL), 0);
  assert_string_equal(b.data, "primary copy");
  assert_int_equal(rescued, 0);
  /* missing on the primary, present on the rescue */
  tarn_buf_reset(&b);
  assert_int_equal(tarn_bucket_get(main_b, "only/rescue", &b, &rescued, NULL), 0);
  assert_string_equal(b.data, "saved by the rescue");
  assert_int_equal(rescued, 1);
  tarn_buf_reset(&b);
  assert_int_equal(tarn_bucket_get_range(main_b, "only/rescue", 9, 6, &b, &rescued, NULL), 0);
  assert_string_equal(b.data, "the re");
  assert_int_equal(rescued, 1);
  assert_int_equal(tarn_bucket_head(main_b, "only/rescue", &st, &served, NULL), 0);
  assert_int_equal(st.size, 19);
  assert_string_equal(tarn_bucket_name(served), "spare");
  /* the start of a streamed get: found on the rescue, then read from there only */
  served = NULL;
  {
    tarn_store_reader *r = NULL;
    assert_int_equal(tarn_bucket_open_get(main_b, "only/rescue", &r, &served, NULL), 0);
    assert_string_equal(tarn_bucket_name(served), "spare");
    assert_int_equal(r->stat.size, 19);
    tarn_buf_reset(&b);
    assert_int_equal(tarn_bucket_read_at(served, r, "only/rescue", 0, 5, &b, NULL), 0);
    assert_string_equal(b.data, "saved");
    /* the version is pinned: an overwrite and a delete do not change what it reads */
    assert_int_equal(tarn_bucket_put(served, "only/rescue", "a new version entirely", 22, 0, NULL),
                     0);
    tarn_buf_reset(&b);
    assert_int_equal(tarn_bucket_read_at(served, r, "only/rescue", 6, 13, &b, NULL), 0);
    assert_string_equal(b.data, "by the rescue");
    assert_int_equal(tarn_bucket_delete(served, "only/rescue", NULL), 0);
    tarn_buf_reset(&b);
    assert_int_equal(tarn_bucket_read_at(served, r, "only/rescue", 0, 100, &b, NULL), 0);
    assert_string_equal(b.data, "saved by the rescue");
    assert_int_equal(tarn_bucket_read_at(served, r, "only/rescue", 20, 1, &b, NULL), TARN_ERANGE);
    tarn_store_reader_close(r);
    assert_int_equal(tarn_bucket_put(served, "only/rescue", "saved by the rescue", 19, 0, NULL), 0);
  }
  /* through the tarn_store view too */
  tarn_buf_reset(&b);
  assert_int_equal(tarn_store_get(tarn_bucket_store(main_b), "only/rescue", &b, NULL), 0);
  assert_string_equal(b.data, "saved by the rescue");
  /* missing everywhere: not found, and no event (a miss is not a failure) */
  tarn_buf_reset(&b);
  assert_int_equal(tarn_bucket_get(main_b, "nowhere", &b, &rescued, &err), TARN_ENOTFOUND);
  assert_int_equal(rescued, 0);
  assert_int_equal(b.len, 0);
  /* extra and rescue buckets never fall back */
  assert_int_equal(
      tarn_bucket_get(tarn_buckets_find(fx->bs, "misc"), "only/rescue", &b, &rescued, NULL),
      TARN_ENOTFOUND);
  assert_int_equal(
      tarn_bucket_get(tarn_buckets_find(fx->bs, "spare"), "nowhere", &b, &rescued, NULL),
      TARN_ENOTFOUND);
  /* a bad key is a bad key everywhere */
  assert_int_equal(tarn_bucket_get(main_b, "../x", &b, &rescued, &err), TARN_EBADKEY);
  assert_int_equal(rescued, 0);
  tarn_buf_free(&b);

  arr = events(fx, NULL);
  assert_int_equal(json_array_size(arr), 5);
  assert_string_equal(ev_str(arr, 0, "bucket"), "main");
  assert_string_equal(ev_str(arr, 0, "op"), "get");
  assert_string_equal(ev_str(arr, 0, "key"), "only/rescue");
  assert_string_equal(ev_str(arr, 0, "code"), "not_found");
  assert_true(json_is_true(json_object_get(json_array_get(arr, 0), "rescued")));
  assert_non_null(strstr(ev_str(arr, 0, "message"), "served from rescue bucket spare"));
  assert_string_equal(ev_str(arr, 1, "op"), "get_range");
  assert_string_equal(ev_str(arr, 2, "op"), "head");
  assert_string_equal(ev_str(arr, 3, "op"), "get"); /* open_get */
  json_decref(arr);
  assert_int_equal(metric(fx, "tarn_storage_rescue_fallbacks_total", "bucket,op",
                          (const char *[]){"main", "get"}),
                   3);
  assert_int_equal(metric(fx, "tarn_storage_rescue_fallbacks_total", "bucket,op",
                          (const char *[]){"main", "head"}),
                   1);
  /* fallbacks are not errors of the primary */
  assert_int_equal(metric(fx, "tarn_storage_errors_total", "bucket,op,class",
                          (const char *[]){"main", "get", "fatal"}),
                   0);
  assert_true(metric(fx, "tarn_storage_operations_total", "bucket,op",
                     (const char *[]){"main", "get"}) >= 5);
  assert_true(metric(fx, "tarn_storage_operations_total", "bucket,op",
                     (const char *[]){"spare", "get"}) >= 3);
}

static void test_rescue_after_primary_failure(void **state) {
  fixture *fx = *state;
  tarn_bucket *main_b;
  tarn_buf b;
  tarn_error err;
  json_t *arr;
  int rescued = 0;
  make_buckets(fx, 1);
  main_b = tarn_buckets_primary(fx->bs);
  put_raw(fx, "main", "k", "primary copy");
  put_raw(fx, "spare", "k", "rescue copy");
  assert_int_equal(tarn_store_faulty_add(fx->faulty, TARN_FAULT_GET, TARN_FAULT_ERROR, TARN_EIO,
                                         NULL, 0, 0, NULL),
                   0);
  tarn_buf_init(&b, TARN_BUF_UNLIMITED);
  assert_int_equal(tarn_bucket_get(main_b, "k", &b, &rescued, &err), 0);
  assert_string_equal(b.data, "rescue copy");
  assert_int_equal(rescued, 1);
  /* a failing primary and a missing rescue copy: the primary's failure, journaled */
  tarn_buf_reset(&b);
  assert_int_equal(tarn_bucket_get(main_b, "absent", &b, &rescued, &err), TARN_EIO);
  assert_int_equal(rescued, 0);
  tarn_buf_free(&b);
  arr = events(fx, "main");
  assert_int_equal(json_array_size(arr), 2);
  assert_string_equal(ev_str(arr, 0, "code"), "io_error");
  assert_string_equal(ev_str(arr, 0, "error_class"), "retriable");
  assert_true(json_is_true(json_object_get(json_array_get(arr, 0), "rescued")));
  assert_string_equal(ev_str(arr, 1, "key"), "absent");
  assert_true(json_is_false(json_object_get(json_array_get(arr, 1), "rescued")));
  json_decref(arr);
  assert_int_equal(metric(fx, "tarn_storage_errors_total", "bucket,op,class",
                          (const char *[]){"main", "get", "retriable"}),
                   1);
}

/* ---- injected faults: nothing stored is damaged, every failure is journaled ---- */

static void expect_content(tarn_bucket *b, const char *key, const char *want) {
  tarn_buf buf;
  int rc;
  tarn_buf_init(&buf, TARN_BUF_UNLIMITED);
  rc = tarn_store_get(tarn_bucket_raw_store(b), key, &buf, NULL);
  if (want == NULL) {
    assert_int_equal(rc, TARN_ENOTFOUND);
  } else {
    assert_int_equal(rc, 0);
    assert_string_equal(buf.data, want);
  }
  tarn_buf_free(&buf);
}

static void test_faults_journaled_and_harmless(void **state) {
  fixture *fx = *state;
  static const struct {
    tarn_store_fault_op op;
    tarn_store_fault_kind kind;
    const char *code;
    const char *cls;
  } faults[] = {
      {TARN_FAULT_OPEN, TARN_FAULT_ERROR, "io_error", "retriable"},
      {TARN_FAULT_COMMIT, TARN_FAULT_FSYNC, "fsync_failed", "fatal"},
      {TARN_FAULT_WRITE, TARN_FAULT_SHORT, "short_write", "retriable"},
  };
  tarn_bucket *main_b;
  json_t *arr;
  size_t i, nev = 0;
  char big[8192];
  make_buckets(fx, 1);
  main_b = tarn_buckets_primary(fx->bs);
  assert_int_equal(tarn_bucket_put(main_b, "data/existing", "old bytes", 9, 0, NULL), 0);
  memset(big, 'z', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  for (i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
    tarn_store_writer *w = NULL;
    tarn_error err;
    int rc;
    tarn_store_faulty_clear(fx->faulty);
    assert_int_equal(
        tarn_store_faulty_add(fx->faulty, faults[i].op, faults[i].kind, 0, NULL, 0, 0, NULL), 0);
    /* overwrite of an existing object, and a new one, by put */
    assert_int_not_equal(tarn_bucket_put(main_b, "data/existing", big, strlen(big), 0, &err), 0);
    assert_int_not_equal(tarn_bucket_put(main_b, "data/new", big, strlen(big), 0, &err), 0);
    expect_content(main_b, "data/existing", "old bytes");
    expect_content(main_b, "data/new", NULL);
    /* and by a streaming writer: the failure is journaled once, whichever step fails */
    rc = tarn_bucket_writer_open(main_b, "data/existing", 0, &w, &err);
    if (rc == 0) {
      rc = tarn_store_writer_write(w, big, 4000, &err);
      if (rc == 0)
        rc = tarn_store_writer_write(w, big, 4000, &err);
      if (rc == 0)
        rc = tarn_store_writer_commit(w, &err);
      else
        assert_int_not_equal(tarn_store_writer_commit(w, &err), 0); /* refuses, frees */
    }
    assert_int_not_equal(rc, 0);
    expect_content(main_b, "data/existing", "old bytes");
    arr = events(fx, "main");
    assert_int_equal(json_array_size(arr), nev + 3);
    for (; nev < json_array_size(arr); nev++) {
      assert_string_equal(ev_str(arr, nev, "op"), "put");
      assert_string_equal(ev_str(arr, nev, "code"), faults[i].code);
      assert_string_equal(ev_str(arr, nev, "error_class"), faults[i].cls);
    }
    json_decref(arr);
    assert_true(metric(fx, "tarn_storage_errors_total", "bucket,op,class",
                       (const char *[]){"main", "put", faults[i].cls}) >= 3);
  }
  /* no temp files left behind anywhere */
  {
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "test -z \"$(find %s -name '.tarn-tmp-*')\"", fx->p_dir);
    assert_int_equal(system(cmd), 0);
  }
  /* deletes and listings that fail are journaled too; "not found" is not a failure */
  tarn_store_faulty_clear(fx->faulty);
  assert_int_equal(tarn_store_faulty_add(fx->faulty, TARN_FAULT_DELETE, TARN_FAULT_ERROR,
                                         TARN_ENETWORK, NULL, 0, 0, NULL),
                   0);
  assert_int_equal(tarn_bucket_delete(main_b, "data/existing", NULL), TARN_ENETWORK);
  tarn_store_faulty_clear(fx->faulty);
  assert_int_equal(tarn_bucket_delete(main_b, "data/nothing", NULL), TARN_ENOTFOUND);
  assert_int_equal(tarn_bucket_delete(main_b, "data/existing", NULL), 0);
  arr = events(fx, "main");
  assert_int_equal(json_array_size(arr), nev + 1);
  assert_string_equal(ev_str(arr, nev, "op"), "delete");
  assert_string_equal(ev_str(arr, nev, "code"), "network_error");
  json_decref(arr);
  /* the events reach the journal's batch files */
  assert_int_equal(tarn_errjournal_flush(fx->ej, NULL, NULL), 0);
  {
    tarn_store_listing l;
    tarn_store_list_init(&l);
    assert_int_equal(tarn_store_list(fx->jstore, TARN_ERRJOURNAL_PREFIX, NULL, 0, &l, NULL), 0);
    assert_int_equal(l.count, 1);
    tarn_store_list_free(&l);
  }
}

/* ---- probes ---- */

static void test_probe(void **state) {
  fixture *fx = *state;
  tarn_bucket_health h;
  tarn_store_listing l;
  json_t *arr;
  make_buckets(fx, 1);
  tarn_bucket_health_get(tarn_buckets_primary(fx->bs), &h);
  assert_int_equal(h.probed, 0);
  assert_int_equal(tarn_bucket_probe(tarn_buckets_primary(fx->bs), &h), 0);
  assert_int_equal(h.probed, 1);
  assert_int_equal(h.reachable, 1);
  assert_true(h.latency_ms > 0);
  assert_true(h.last_probe_us > 0);
  assert_string_equal(h.last_error, "");
  assert_int_equal(metric(fx, "tarn_storage_bucket_reachable", "bucket", (const char *[]){"main"}),
                   1);
  assert_true(metric(fx, "tarn_storage_probe_latency_seconds", "bucket", (const char *[]){"main"}) >
              0);
  /* nothing is left under the probe prefix */
  tarn_store_list_init(&l);
  assert_int_equal(
      tarn_store_list(tarn_bucket_raw_store(tarn_buckets_primary(fx->bs)), "", NULL, 0, &l, NULL),
      0);
  assert_int_equal(l.count, 0);
  tarn_store_list_free(&l);
  /* a broken store: unreachable, the failing step named, journaled as a probe */
  assert_int_equal(tarn_store_faulty_add(fx->faulty, TARN_FAULT_HEAD, TARN_FAULT_ERROR,
                                         TARN_ETIMEDOUT, NULL, 0, 0, NULL),
                   0);
  assert_int_equal(tarn_bucket_probe(tarn_buckets_primary(fx->bs), &h), TARN_ETIMEDOUT);
  assert_int_equal(h.reachable, 0);
  assert_non_null(strstr(h.last_error, "head: "));
  assert_int_equal(metric(fx, "tarn_storage_bucket_reachable", "bucket", (const char *[]){"main"}),
                   0);
  arr = events(fx, "main");
  assert_int_equal(json_array_size(arr), 1);
  assert_string_equal(ev_str(arr, 0, "op"), "probe");
  assert_string_equal(ev_str(arr, 0, "code"), "timed_out");
  json_decref(arr);
  /* the probe object was still removed */
  tarn_store_list_init(&l);
  assert_int_equal(
      tarn_store_list(tarn_bucket_raw_store(tarn_buckets_primary(fx->bs)), "", NULL, 0, &l, NULL),
      0);
  assert_int_equal(l.count, 0);
  tarn_store_list_free(&l);
}

static void test_prober_thread_stops_promptly(void **state) {
  fixture *fx = *state;
  tarn_bucket_health h;
  uint64_t t0;
  size_t i;
  make_buckets(fx, 0);
  /* an hour between rounds: only the first runs, and stop must not wait for the next */
  assert_int_equal(tarn_buckets_prober_start(fx->bs, 3600 * 1000, NULL), 0);
  assert_int_equal(tarn_buckets_prober_start(fx->bs, 1000, NULL), TARN_EINVAL);
  t0 = tarn_clock_mono_ns();
  for (;;) {
    tarn_bucket_health_get(tarn_buckets_at(fx->bs, 2), &h);
    if (h.probed || tarn_clock_mono_ns() - t0 > 5000000000ull)
      break;
    tarn_sleep_ms(5);
  }
  for (i = 0; i < tarn_buckets_count(fx->bs); i++) {
    tarn_bucket_health_get(tarn_buckets_at(fx->bs, i), &h);
    assert_int_equal(h.probed, 1);
    assert_int_equal(h.reachable, 1);
  }
  t0 = tarn_clock_mono_ns();
  tarn_buckets_prober_stop(fx->bs);
  assert_true(tarn_clock_mono_ns() - t0 < 1000000000ull);
  tarn_buckets_prober_stop(fx->bs); /* idempotent */
  /* a short interval probes again and again; destroy stops it */
  assert_int_equal(tarn_buckets_prober_start(fx->bs, 10, NULL), 0);
  tarn_sleep_ms(100);
}

static void test_registry_rules(void **state) {
  fixture *fx = *state;
  tarn_store *st = NULL;
  tarn_error err;
  make_buckets(fx, 0);
  assert_int_equal(tarn_store_local_open(fx->x_dir, &st, NULL), 0);
  assert_int_equal(tarn_buckets_add(fx->bs, "misc", "local", TARN_BUCKET_EXTRA, st, &err),
                   TARN_EEXIST);
  assert_int_equal(tarn_store_local_open(fx->x_dir, &st, NULL), 0);
  assert_int_equal(tarn_buckets_add(fx->bs, "p2", "local", TARN_BUCKET_PRIMARY, st, &err),
                   TARN_ECONFIG);
  assert_int_equal(tarn_store_local_open(fx->x_dir, &st, NULL), 0);
  assert_int_equal(tarn_buckets_add(fx->bs, "", "local", TARN_BUCKET_EXTRA, st, &err), TARN_EINVAL);
  assert_string_equal(tarn_bucket_role_name(TARN_BUCKET_RESCUE), "rescue");
  tarn_buckets_destroy(NULL);
}

static void bucket_session(fixture *fx, const tarn_config *cfg) {
  tarn_buckets *bs = NULL;
  tarn_bucket *b;
  tarn_buf buf;
  int rescued;
  if (tarn_buckets_from_config(cfg, NULL, NULL, fx->metrics, &bs, NULL) != 0)
    return;
  tarn_buckets_set_journal(bs, fx->ej);
  b = tarn_buckets_primary(bs);
  tarn_buf_init(&buf, TARN_BUF_UNLIMITED);
  tarn_bucket_get(b, "only/rescue", &buf, &rescued, NULL);
  tarn_bucket_put(b, "k", "v", 1, 0, NULL);
  tarn_bucket_probe(b, NULL);
  tarn_buf_free(&buf);
  tarn_buckets_destroy(bs);
}

static void test_allocation_failures(void **state) {
  fixture *fx = *state;
  FILE *devnull = fopen("/dev/null", "w");
  char text[512];
  tarn_config *cfg;
  long total, i;
  snprintf(text, sizeof(text),
           "[bucket.main]\nrole = primary\npath = %s\n[bucket.spare]\nrole = rescue\npath = %s\n",
           fx->p_dir, fx->r_dir);
  cfg = config_from(fx, text);
  {
    tarn_store *st = NULL;
    assert_int_equal(tarn_store_local_open(fx->r_dir, &st, NULL), 0);
    assert_int_equal(tarn_store_put(st, "only/rescue", "r", 1, 0, NULL), 0);
    tarn_store_destroy(st);
  }
  tarn_log_set_stream(devnull);
  json_set_alloc_funcs(tarn_malloc, tarn_free);
  tarn_alloc_fail_reset();
  bucket_session(fx, cfg);
  total = tarn_alloc_count();
  for (i = 0; i < total; i++) {
    tarn_alloc_fail_after(i);
    bucket_session(fx, cfg);
    tarn_alloc_fail_reset();
  }
  json_set_alloc_funcs(malloc, free);
  tarn_log_set_stream(NULL);
  fclose(devnull);
  tarn_config_destroy(cfg);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(test_default_is_the_lake),
      T(test_buckets_from_config),
      T(test_config_validation),
      T(test_secrets_file),
      T(test_rescue_fallback),
      T(test_rescue_after_primary_failure),
      T(test_faults_journaled_and_harmless),
      T(test_probe),
      T(test_prober_thread_stops_promptly),
      T(test_registry_rules),
      T(test_allocation_failures),
  };
  tarn_log_set_level(TARN_LOG_ERROR);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
