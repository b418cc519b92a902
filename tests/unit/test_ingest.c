/* test_ingest.c - CSV ingest into datasets: create, replace, append, identical, drift, views. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "ingest/ingest.h"

typedef struct fx {
  char dir[64];
  char root_uri[PATH_MAX + 16];
  char spool[128];
  tarn_store *st;
  tarn_catalog *cat;
  tarn_table_io io;
  tarn_ingest_env env;
} fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof(*f));
  char db[128], real[PATH_MAX];
  snprintf(f->dir, sizeof(f->dir), "/tmp/tarn-ingest-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  assert_non_null(realpath(f->dir, real));
  snprintf(f->root_uri, sizeof(f->root_uri), "file://%s/", real);
  snprintf(f->spool, sizeof(f->spool), "%s/.spool", f->dir);
  assert_int_equal(tarn_store_local_open(f->dir, &f->st, NULL), 0);
  snprintf(db, sizeof(db), "%s/catalog.db", f->dir);
  assert_int_equal(tarn_catalog_sqlite_open(db, NULL, &f->cat, NULL), 0);
  f->io.store = f->st;
  f->io.root_uri = f->root_uri;
  f->env.cat = f->cat;
  f->env.io = &f->io;
  f->env.spool_dir = f->spool;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  char cmd[128];
  tarn_catalog_destroy(f->cat);
  tarn_store_destroy(f->st);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
  assert_int_equal(system(cmd), 0);
  free(f);
  return 0;
}

/* A temp file holding text; returns its fd (positioned at 0). */
static int csv_fd(const char *text) {
  char path[] = "/tmp/tarn-csv-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  unlink(path);
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  lseek(fd, 0, SEEK_SET);
  return fd;
}

static int ingest(fx *f, const char *name, const char *text, int append, tarn_ingest_result *r,
                  tarn_error *err) {
  tarn_ingest_options o;
  int fd = csv_fd(text), rc;
  tarn_ingest_options_init(&o);
  o.name = name;
  o.append = append;
  o.source = "test.csv";
  tarn_ingest_result_init(r);
  rc = tarn_ingest_csv(&f->env, fd, &o, r, err);
  close(fd);
  return rc;
}

/* Rows of the dataset (sum of an int64 first column, and count). */
static int64_t dataset_rows(fx *f, const char *name, int64_t *sum) {
  tarn_table *t;
  tarn_ice_data_file *files;
  size_t n, i;
  int64_t rows = 0;
  *sum = 0;
  assert_int_equal(tarn_table_load(f->cat, &f->io, "datasets", name, &t, NULL), 0);
  assert_int_equal(tarn_table_plan(t, NULL, &files, &n, NULL, NULL, NULL), 0);
  for (i = 0; i < n; i++) {
    char key[TARN_STORE_KEY_MAX + 1];
    tarn_pq_reader *r;
    tarn_pq_scan *s;
    tarn_pq_batch *b;
    assert_int_equal(tarn_table_io_key(&f->io, files[i].file_path, key, sizeof(key), NULL), 0);
    assert_non_null(strstr(key, "/data/"));
    assert_int_equal(strlen(strrchr(key, '/') + 1), 64 + 8); /* <sha256>.parquet */
    assert_int_equal(tarn_pq_reader_open_store(f->st, key, &r, NULL), 0);
    assert_int_equal(tarn_pq_scan_open(r, NULL, &s, NULL), 0);
    while (tarn_pq_scan_next(s, &b, NULL) == 0 && b != NULL) {
      int64_t k;
      for (k = 0; k < b->nrows; k++)
        *sum += ((int64_t *)b->cols[0].values)[k];
      rows += b->nrows;
      tarn_pq_batch_free(b);
    }
    tarn_pq_scan_close(s);
    tarn_pq_reader_close(r);
  }
  tarn_ice_data_files_free(files, n);
  tarn_table_close(t);
  return rows;
}

static size_t count_files(fx *f) {
  tarn_store_listing l;
  size_t n = 0;
  char *after = NULL;
  tarn_store_list_init(&l);
  for (;;) {
    assert_int_equal(tarn_store_list(f->st, "warehouse/", after, 1000, &l, NULL), 0);
    n += l.count;
    free(after);
    after = l.truncated ? strdup(l.next_after) : NULL;
    if (!l.truncated)
      break;
  }
  tarn_store_list_free(&l);
  return n;
}

static const char *v1 = "id,when,amount,zip,ok,day\n"
                        "1,2024-01-02T03:04:05Z,1.5,007,true,2024-01-02\n"
                        "2,2024-01-03T03:04:05+01:00,2,02134,false,\n"
                        "3,,3.25,99999,TRUE,2024-02-29\n";

static void test_first_ingest_and_identical(void **state) {
  fx *f = *state;
  tarn_ingest_result r;
  tarn_error err;
  int64_t sum;
  size_t files_before;
  if (ingest(f, "sales", v1, 0, &r, &err) != 0)
    fail_msg("ingest: %s", tarn_error_message(&err));
  assert_int_equal(r.existing, 0);
  assert_int_equal(r.row_count, 3);
  assert_true(r.parquet_size > 0);
  assert_int_equal(r.ncols, 6);
  assert_int_equal(r.cols[0].type, TARN_CSV_INT64);
  assert_int_equal(r.cols[1].type, TARN_CSV_TIMESTAMPTZ);
  assert_int_equal(r.cols[2].type, TARN_CSV_FLOAT64);
  assert_int_equal(r.cols[3].type, TARN_CSV_STRING); /* leading zeros */
  assert_int_equal(r.cols[4].type, TARN_CSV_BOOLEAN);
  assert_int_equal(r.cols[5].type, TARN_CSV_DATE);
  assert_true(r.cols[5].nullable);
  assert_non_null(strstr(r.fingerprint, "sha256:"));
  assert_int_equal(dataset_rows(f, "sales", &sum), 3);
  assert_int_equal(sum, 6);
  tarn_ingest_result_free(&r);
  /* byte-identical content: nothing committed, existing reported */
  files_before = count_files(f);
  assert_int_equal(ingest(f, "sales", v1, 0, &r, &err), 0);
  assert_int_equal(r.existing, 1);
  assert_true(r.parquet_size > 0);
  assert_non_null(strstr(r.parquet_key, "warehouse/datasets/sales/data/"));
  assert_int_equal(count_files(f), files_before);
  tarn_ingest_result_free(&r);
}

static void test_replace_append_drift(void **state) {
  fx *f = *state;
  tarn_ingest_result r;
  tarn_error err;
  int64_t sum;
  size_t before;
  const char *v2 = "id,when,amount,zip,ok,day\n10,2024-05-01T00:00:00Z,1.5,0123,false,2024-05-01\n";
  const char *drifted = "id,when,amount,zip2,ok,day\n1,2024-05-01T00:00:00Z,x,1,true,2024-05-01\n";
  assert_int_equal(ingest(f, "s", v1, 0, &r, &err), 0);
  tarn_ingest_result_free(&r);
  /* replace: same fingerprint, different rows */
  assert_int_equal(ingest(f, "s", v2, 0, &r, &err), 0);
  tarn_ingest_result_free(&r);
  assert_int_equal(dataset_rows(f, "s", &sum), 1);
  assert_int_equal(sum, 10);
  /* append */
  assert_int_equal(ingest(f, "s", v1, 1, &r, &err), 0);
  tarn_ingest_result_free(&r);
  assert_int_equal(dataset_rows(f, "s", &sum), 4);
  assert_int_equal(sum, 16);
  /* drift: refused, with the diff, and nothing written */
  before = count_files(f);
  assert_int_equal(ingest(f, "s", drifted, 0, &r, &err), TARN_ESCHEMA);
  assert_non_null(r.drift);
  {
    char *d = json_dumps(r.drift, JSON_COMPACT | JSON_SORT_KEYS);
    assert_non_null(strstr(d, "\"added\":[{\"name\":\"zip2\",\"type\":\"int64\"}]"));
    assert_non_null(strstr(d, "\"removed\":[{\"name\":\"zip\",\"type\":\"string\"}]"));
    assert_non_null(strstr(d, "\"retyped\":[{\"from\":\"float64\",\"name\":\"amount\",\"to\":"
                              "\"string\"}]"));
    free(d);
  }
  assert_int_equal(count_files(f), before);
  assert_int_equal(dataset_rows(f, "s", &sum), 4);
  tarn_ingest_result_free(&r);
}

static void test_bad_input(void **state) {
  fx *f = *state;
  tarn_ingest_result r;
  tarn_error err;
  assert_int_equal(ingest(f, "Bad-Name", v1, 0, &r, &err), TARN_EINVAL);
  assert_non_null(strstr(err.detail, "[a-z0-9_]"));
  tarn_ingest_result_free(&r);
  assert_int_equal(ingest(f, "b", "a,b\n1,2\n3\n", 0, &r, &err), TARN_EINVAL);
  assert_non_null(strstr(err.detail, "line 3"));
  tarn_ingest_result_free(&r);
  assert_int_equal(count_files(f), 0);
}

/* Two threads write the very bytes one thread writes (the content-addressed keys are
 * equal, so the Parquet hash the writer thread keeps is right too) and hash the CSV alike.
 * Enough rows for several batches, with long strings in some. */
static void test_two_threads_same_bytes(void **state) {
  fx *f = *state;
  size_t cap = 40u << 20, len = 0;
  char *text = malloc(cap);
  tarn_ingest_result r1, r2;
  tarn_ingest_options o;
  tarn_error err;
  int i, fd;
  len += (size_t)snprintf(text + len, cap - len, "id,v,s,d\n");
  for (i = 0; i < 200000; i++)
    len += (size_t)snprintf(text + len, cap - len, "%d,%d.25,%s%d,2024-01-%02d\n", i, i % 977,
                            i % 5000 == 0 ? "a-rather-long-string-for-the-dictionary-" : "s",
                            i % 3000, 1 + i % 28);
  fd = csv_fd(text);
  free(text);
  tarn_ingest_options_init(&o);
  o.name = "one";
  tarn_ingest_result_init(&r1);
  assert_int_equal(tarn_ingest_csv(&f->env, fd, &o, &r1, &err), 0);
  o.name = "two";
  o.threads = 2;
  tarn_ingest_result_init(&r2);
  assert_int_equal(tarn_ingest_csv(&f->env, fd, &o, &r2, &err), 0);
  close(fd);
  assert_int_equal(r2.row_count, 200000);
  assert_int_equal(r1.parquet_size, r2.parquet_size);
  assert_string_equal(r1.source_sha256, r2.source_sha256); /* hashed on the helper thread */
  assert_string_equal(strrchr(r1.parquet_key, '/'), strrchr(r2.parquet_key, '/'));
  tarn_ingest_result_free(&r1);
  tarn_ingest_result_free(&r2);
}

static void test_views_and_resync(void **state) {
  fx *f = *state;
  tarn_ingest_result r;
  tarn_catalog_names names;
  json_t *m, *rep;
  tarn_table *t;
  tarn_error err;
  int changed;
  tarn_ice_kv drop[2] = {{"tarn.columns", NULL}, {"tarn.row-count", NULL}};
  assert_int_equal(ingest(f, "alpha", v1, 0, &r, &err), 0);
  tarn_ingest_result_free(&r);
  assert_int_equal(ingest(f, "beta", v1, 0, &r, &err), 0);
  tarn_ingest_result_free(&r);
  tarn_catalog_names_init(&names);
  assert_int_equal(tarn_datasets_list(&f->env, &names, &err), 0);
  assert_int_equal(names.count, 2);
  assert_string_equal(names.items[0], "alpha");
  tarn_catalog_names_free(&names);
  assert_int_equal(tarn_dataset_manifest(&f->env, "alpha", &m, &err), 0);
  assert_string_equal(json_string_value(json_object_get(m, "name")), "alpha");
  assert_int_equal(json_integer_value(json_object_get(m, "row_count")), 3);
  assert_int_equal(json_array_size(json_object_get(m, "columns")), 6);
  assert_int_equal(json_array_size(json_object_get(m, "objects")), 1);
  assert_string_equal(json_string_value(json_object_get(m, "source")), "test.csv");
  assert_int_equal(strlen(json_string_value(json_object_get(m, "dataset_id"))), 36);
  json_decref(m);
  assert_int_equal(tarn_dataset_manifest(&f->env, "nope", &m, &err), TARN_ENOTFOUND);
  /* resync agrees with what ingest recorded */
  assert_int_equal(tarn_dataset_resync(&f->env, "alpha", &changed, &err), 0);
  assert_int_equal(changed, 0);
  /* lose the metadata; resync-missing restores it from the footers */
  assert_int_equal(tarn_table_load(f->cat, &f->io, "datasets", "beta", &t, NULL), 0);
  assert_int_equal(tarn_table_set_properties(t, drop, 2, NULL), 0);
  tarn_table_close(t);
  assert_int_equal(tarn_datasets_resync_missing(&f->env, &rep, &err), 0);
  assert_int_equal(json_array_size(json_object_get(rep, "resynced")), 1);
  assert_string_equal(json_string_value(json_array_get(json_object_get(rep, "resynced"), 0)),
                      "beta");
  json_decref(rep);
  assert_int_equal(tarn_dataset_manifest(&f->env, "beta", &m, &err), 0);
  assert_int_equal(json_integer_value(json_object_get(m, "row_count")), 3);
  assert_int_equal(json_array_size(json_object_get(m, "columns")), 6);
  json_decref(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_first_ingest_and_identical, setup, teardown),
      cmocka_unit_test_setup_teardown(test_replace_append_drift, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
      cmocka_unit_test_setup_teardown(test_views_and_resync, setup, teardown),
      cmocka_unit_test_setup_teardown(test_two_threads_same_bytes, setup, teardown),
  };
  tarn_log_set_level(TARN_LOG_WARN);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
