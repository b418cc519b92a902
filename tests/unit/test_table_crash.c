/* test_table_crash.c - a writer killed at every step of an append: the table stays readable
 * at its last committed snapshot and remove-orphans finds exactly what the writer left. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "catalog/catalog.h"
#include "parquet/parquet.h"
#include "store/store.h"
#include "table/table.h"

/*
 * How it works. A forked child opens its own store and catalog (handles are never used
 * across fork), writes a batch of rows through the table writer (two partitions: two
 * data files) and appends them. Every step of that work reports to the parent over a
 * pipe before it runs: each step of each store put ("open", "write", "fsync", "rename",
 * "dirsync": data files, manifest, manifest list, metadata file, version hint) and the
 * catalog swap ("swap" before the compare-and-swap, "swapped" after it, through a
 * catalog wrapper). The child _exits at step N. N runs from 1 until the child finishes
 * its append unharmed. After each death the parent checks:
 *   - a fresh tarn_table_load works and a scan returns exactly the rows of the last
 *     committed snapshot (the new rows only when the swap happened);
 *   - tarn_table_remove_orphans (dry run, no grace period) reports exactly the files
 *     that appeared since the child started, when the swap did not happen, and none
 *     when it did (v<N>.metadata.json and version-hint.text are not orphans by rule),
 *     plus, either way, the temp file of the put the child was killed in (found on disk);
 * then removes those orphans, which leaves no temp file for a sweep of the whole store.
 */

#define KILLED 77
#define ROWS 40
#define TABLE_PREFIX "warehouse/db/crash/"

typedef struct fx {
  char dir[64];
  char root_uri[PATH_MAX + 16];
  char db[128];
} fx;

/* ---- a catalog wrapper that reports the swap ---- */

typedef struct hooked_cat {
  tarn_catalog base;
  tarn_catalog *inner;
} hooked_cat;

static int step_fd = -1;
static int step_count, step_kill_at;

static void step_hook(const char *name, void *arg) {
  char line[32];
  int n = snprintf(line, sizeof(line), "%s\n", name);
  (void)arg;
  if (step_fd >= 0 && write(step_fd, line, (size_t)n) != n)
    _exit(3);
  if (++step_count == step_kill_at)
    _exit(KILLED);
}

static tarn_catalog *inner_of(tarn_catalog *c) { return ((hooked_cat *)c)->inner; }

static int h_list_namespaces(tarn_catalog *c, const char *parent, tarn_catalog_names *out,
                             tarn_error *err) {
  return tarn_catalog_list_namespaces(inner_of(c), parent, out, err);
}
static int h_create_namespace(tarn_catalog *c, const char *ns, const tarn_catalog_prop *props,
                              size_t n, tarn_error *err) {
  return tarn_catalog_create_namespace(inner_of(c), ns, props, n, err);
}
static int h_load_namespace(tarn_catalog *c, const char *ns, tarn_catalog_props *out,
                            tarn_error *err) {
  return tarn_catalog_load_namespace(inner_of(c), ns, out, err);
}
static int h_drop_namespace(tarn_catalog *c, const char *ns, tarn_error *err) {
  return tarn_catalog_drop_namespace(inner_of(c), ns, err);
}
static int h_list_tables(tarn_catalog *c, const char *ns, tarn_catalog_names *out,
                         tarn_error *err) {
  return tarn_catalog_list_tables(inner_of(c), ns, out, err);
}
static int h_create_table(tarn_catalog *c, const char *ns, const char *t, const char *loc,
                          tarn_error *err) {
  return tarn_catalog_create_table(inner_of(c), ns, t, loc, err);
}
static int h_load_table(tarn_catalog *c, const char *ns, const char *t, tarn_catalog_table *out,
                        tarn_error *err) {
  return tarn_catalog_load_table(inner_of(c), ns, t, out, err);
}
static int h_commit(tarn_catalog *c, const char *ns, const char *t, const char *expected,
                    const char *loc, tarn_error *err) {
  int rc;
  step_hook("swap", NULL);
  rc = tarn_catalog_commit(inner_of(c), ns, t, expected, loc, err);
  step_hook("swapped", NULL);
  return rc;
}
static int h_drop_table(tarn_catalog *c, const char *ns, const char *t, tarn_error *err) {
  return tarn_catalog_drop_table(inner_of(c), ns, t, err);
}
static void h_destroy(tarn_catalog *c) {
  tarn_catalog_destroy(inner_of(c));
  free(c);
}

static const tarn_catalog_ops hooked_ops = {
    "hooked",     h_list_namespaces, h_create_namespace, h_load_namespace,
    NULL,         h_drop_namespace,  h_list_tables,      h_create_table,
    h_load_table, h_commit,          h_drop_table,       NULL,
    h_destroy,
};

static tarn_catalog *hooked_wrap(tarn_catalog *inner) {
  hooked_cat *h = calloc(1, sizeof(*h));
  h->base.ops = &hooked_ops;
  h->base.name = inner->name;
  h->inner = inner;
  return &h->base;
}

/* ---- rows ---- */

#define DAY_US 86400000000LL

/* Schema: id long required, ts timestamptz (partitioned by day), name string. */
static void make_schema(tarn_ice_schema *s) {
  static tarn_ice_field fields[3];
  memset(fields, 0, sizeof(fields));
  fields[0].id = 1;
  fields[0].name = "id";
  fields[0].required = 1;
  tarn_ice_type_parse("long", &fields[0].type, NULL);
  fields[1].id = 2;
  fields[1].name = "ts";
  tarn_ice_type_parse("timestamptz", &fields[1].type, NULL);
  fields[2].id = 3;
  fields[2].name = "name";
  tarn_ice_type_parse("string", &fields[2].type, NULL);
  s->schema_id = 0;
  s->fields = fields;
  s->nfields = 3;
}

/* Writes and appends ids [first, first + ROWS) over two days. */
static int append_rows(tarn_table *t, int64_t first, tarn_error *err) {
  int64_t ids[ROWS], ts[ROWS], offs[ROWS + 1], i;
  char data[ROWS * 24];
  tarn_pq_array cols[3];
  tarn_pq_batch b;
  tarn_table_writer *w = NULL;
  tarn_ice_data_file *files = NULL;
  size_t nf = 0;
  int rc;
  memset(cols, 0, sizeof(cols));
  offs[0] = 0;
  for (i = 0; i < ROWS; i++) {
    ids[i] = first + i;
    ts[i] = (20000 + (first + i) % 2) * DAY_US + i;
    offs[i + 1] = offs[i] + sprintf(data + offs[i], "row-%lld", (long long)(first + i));
  }
  cols[0].length = cols[1].length = cols[2].length = ROWS;
  cols[0].values = ids;
  cols[1].values = ts;
  cols[2].offsets = offs;
  cols[2].data = (uint8_t *)data;
  cols[2].data_len = offs[ROWS];
  b.nrows = ROWS;
  b.ncols = 3;
  b.cols = cols;
  rc = tarn_table_writer_open(t, NULL, &w, err);
  if (rc == 0)
    rc = tarn_table_writer_write(w, &b, err);
  if (rc == 0) {
    rc = tarn_table_writer_close(w, &files, &nf, err);
    w = NULL;
  }
  if (rc == 0)
    rc = tarn_table_append(t, files, nf, NULL, 0, NULL, err);
  tarn_table_writer_abort(w);
  tarn_ice_data_files_free(files, nf);
  return rc;
}

/* ---- inspection ---- */

typedef struct keyset {
  char **keys;
  size_t n;
} keyset;

static void keyset_free(keyset *k) {
  size_t i;
  for (i = 0; i < k->n; i++)
    free(k->keys[i]);
  free(k->keys);
  memset(k, 0, sizeof(*k));
}

static void keyset_add(keyset *k, const char *key) {
  k->keys = realloc(k->keys, (k->n + 1) * sizeof(*k->keys));
  k->keys[k->n++] = strdup(key);
}

static int keyset_has(const keyset *k, const char *key) {
  size_t i;
  for (i = 0; i < k->n; i++)
    if (strcmp(k->keys[i], key) == 0)
      return 1;
  return 0;
}

/* Every visible object under the table location (temp files are never listed). */
static void list_table(tarn_store *st, keyset *out) {
  tarn_store_listing page;
  char *after = NULL;
  size_t i;
  tarn_store_list_init(&page);
  for (;;) {
    assert_int_equal(tarn_store_list(st, TABLE_PREFIX, after, 100, &page, NULL), 0);
    for (i = 0; i < page.count; i++)
      keyset_add(out, page.entries[i].key);
    free(after);
    after = NULL;
    if (!page.truncated)
      break;
    after = strdup(page.next_after);
  }
  tarn_store_list_free(&page);
}

/* Every temp file under the table location, as a path below the store root, found on
 * disk (not through the store). nftw takes no argument: the walk's state is static. */
static keyset *temps_out;
static size_t temps_root_len;
static int temps_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  if (flag == FTW_F && strncmp(path + ftw->base, ".tarn-tmp-", 10) == 0)
    keyset_add(temps_out, path + temps_root_len);
  return 0;
}

static void temp_files(const fx *f, keyset *out) {
  char dir[PATH_MAX];
  snprintf(dir, sizeof(dir), "%s/%s", f->dir, TABLE_PREFIX);
  temps_out = out;
  temps_root_len = strlen(f->dir) + 1;
  nftw(dir, temps_cb, 16, FTW_PHYS);
}

static int is_convention(const char *key) {
  const char *base = strrchr(key, '/') + 1;
  return strcmp(base, "version-hint.text") == 0 ||
         (base[0] == 'v' && strstr(base, ".metadata.json") != NULL);
}

/* Sum and count of the ids a scan of the current snapshot returns. */
static void scan_ids(tarn_table *t, tarn_store *st, int64_t *sum, int64_t *count) {
  const tarn_table_io *io = tarn_table_io_of(t);
  tarn_ice_data_file *files;
  size_t nf, i;
  tarn_error err;
  *sum = *count = 0;
  if (tarn_table_plan(t, NULL, &files, &nf, NULL, NULL, &err) != 0)
    fail_msg("plan: %s", tarn_error_message(&err));
  for (i = 0; i < nf; i++) {
    char key[TARN_STORE_KEY_MAX + 1];
    tarn_pq_reader *r;
    tarn_pq_scan *s;
    tarn_pq_batch *b;
    tarn_pq_scan_options so;
    size_t col0 = 0;
    int64_t k;
    memset(&so, 0, sizeof(so));
    so.columns = &col0;
    so.ncolumns = 1;
    so.row_group = -1;
    assert_int_equal(tarn_table_io_key(io, files[i].file_path, key, sizeof(key), NULL), 0);
    if (tarn_pq_reader_open_store(st, key, &r, &err) != 0)
      fail_msg("data file %s: %s", key, tarn_error_message(&err));
    assert_int_equal(tarn_pq_scan_open(r, &so, &s, &err), 0);
    while (tarn_pq_scan_next(s, &b, &err) == 0 && b != NULL) {
      for (k = 0; k < b->nrows; k++)
        *sum += ((int64_t *)b->cols[0].values)[k];
      *count += b->nrows;
      tarn_pq_batch_free(b);
    }
    tarn_pq_scan_close(s);
    tarn_pq_reader_close(r);
  }
  tarn_ice_data_files_free(files, nf);
}

static void collect_orphan(const char *key, uint64_t size, void *arg) {
  (void)size;
  keyset_add(arg, key);
}

static int64_t ids_sum(int64_t first, int64_t n) { return n * (2 * first + n - 1) / 2; }

/* ---- the test ---- */

static void open_handles(fx *f, tarn_store **st, tarn_catalog **cat, tarn_table_io *io) {
  tarn_error err;
  if (tarn_store_local_open(f->dir, st, &err) != 0)
    fail_msg("store: %s", tarn_error_message(&err));
  if (tarn_catalog_sqlite_open(f->db, NULL, cat, &err) != 0)
    fail_msg("catalog: %s", tarn_error_message(&err));
  io->store = *st;
  io->root_uri = f->root_uri;
}

/* The child: append ids [first, first + ROWS), dying at step kill_at. Never returns. */
static void child(fx *f, int fd, int kill_at, int64_t first) {
  tarn_store *st = NULL;
  tarn_catalog *inner = NULL, *cat;
  tarn_table_io io;
  tarn_table *t = NULL;
  tarn_error err;
  if (tarn_store_local_open(f->dir, &st, &err) != 0 ||
      tarn_catalog_sqlite_open(f->db, NULL, &inner, &err) != 0)
    _exit(2);
  cat = hooked_wrap(inner);
  io.store = st;
  io.root_uri = f->root_uri;
  if (tarn_table_load(cat, &io, "db", "crash", &t, &err) != 0)
    _exit(2);
  step_fd = fd;
  step_count = 0;
  step_kill_at = kill_at;
  tarn_store_local_set_step_hook(step_hook, NULL);
  if (append_rows(t, first, &err) != 0) {
    fprintf(stderr, "child append: %s\n", tarn_error_message(&err));
    _exit(1);
  }
  _exit(0); /* no cleanup: the parent's checks do not depend on it */
}

static void test_kill_at_every_step(void **state) {
  fx *f = *state;
  tarn_store *st;
  tarn_catalog *cat;
  tarn_table_io io;
  tarn_table *t;
  tarn_ice_schema s;
  tarn_ice_partition_field pf = {2, 0, "ts_day", {TARN_ICE_DAY, 0}};
  tarn_ice_spec spec = {0, &pf, 1};
  tarn_error err;
  int64_t committed_sum, committed_rows, next_id = 0, sum, rows;
  int n, finished = 0, kills = 0, kills_before_swap = 0, kills_after_swap = 0;
  int max_steps = 0, orphans_total = 0, temps_total = 0;
  char seen[64][16];
  int nseen = 0;

  open_handles(f, &st, &cat, &io);
  make_schema(&s);
  assert_int_equal(tarn_catalog_create_namespace(cat, "db", NULL, 0, NULL), 0);
  if (tarn_table_create(cat, &io, "db", "crash", &s, &spec, NULL, NULL, 0, NULL, &t, &err) != 0)
    fail_msg("create: %s", tarn_error_message(&err));
  assert_int_equal(append_rows(t, next_id, &err), 0);
  next_id += ROWS;
  committed_sum = ids_sum(0, ROWS);
  committed_rows = ROWS;
  tarn_table_close(t);
  tarn_catalog_destroy(cat);
  tarn_store_destroy(st);

  for (n = 1; !finished && n < 500; n++) {
    keyset before = {0}, after = {0}, orphans = {0}, want = {0};
    int pfd[2], status, swapped = 0, nsteps = 0;
    char buf[4096], last[16] = "";
    ssize_t got;
    size_t off = 0, i;
    pid_t pid;

    open_handles(f, &st, &cat, &io);
    list_table(st, &before);
    tarn_catalog_destroy(cat);
    tarn_store_destroy(st);
    assert_int_equal(pipe(pfd), 0);
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      close(pfd[0]);
      child(f, pfd[1], n, next_id);
    }
    close(pfd[1]);
    /* the steps the child reached, in order */
    while ((got = read(pfd[0], buf + off, sizeof(buf) - 1 - off)) > 0)
      off += (size_t)got;
    buf[off] = '\0';
    close(pfd[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    {
      char *line, *save = NULL;
      for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        nsteps++;
        swapped |= strcmp(line, "swapped") == 0;
        snprintf(last, sizeof(last), "%s", line);
      }
    }
    if (WEXITSTATUS(status) == 0) {
      finished = 1; /* ran past its last step: the append happened */
      max_steps = nsteps;
      swapped = 1;
    } else {
      assert_int_equal(WEXITSTATUS(status), KILLED);
      assert_int_equal(nsteps, n);
      kills++;
      if (swapped)
        kills_after_swap++;
      else
        kills_before_swap++;
      for (i = 0; i < (size_t)nseen && strcmp(seen[i], last) != 0; i++)
        ;
      if (i == (size_t)nseen && nseen < 64)
        snprintf(seen[nseen++], sizeof(seen[0]), "%s", last);
    }
    if (swapped) {
      committed_sum += ids_sum(next_id, ROWS);
      committed_rows += ROWS;
      next_id += ROWS;
    }

    /* a fresh reader sees the last committed snapshot, whole */
    open_handles(f, &st, &cat, &io);
    if (tarn_table_load(cat, &io, "db", "crash", &t, &err) != 0)
      fail_msg("step %d (%s): load after the kill: %s", n, last, tarn_error_message(&err));
    scan_ids(t, st, &sum, &rows);
    if (rows != committed_rows || sum != committed_sum)
      fail_msg("step %d (%s): scan returned %lld rows (id sum %lld), want %lld (%lld)", n, last,
               (long long)rows, (long long)sum, (long long)committed_rows,
               (long long)committed_sum);

    /* remove-orphans (dry run, no grace) reports exactly what the child left */
    list_table(st, &after);
    for (i = 0; !swapped && i < after.n; i++)
      if (!keyset_has(&before, after.keys[i]) && !is_convention(after.keys[i]))
        keyset_add(&want, after.keys[i]);
    {
      size_t n0 = want.n;
      temp_files(f, &want);
      temps_total += (int)(want.n - n0);
    }
    if (tarn_table_remove_orphans(t, INT64_MAX, 1, collect_orphan, &orphans, NULL, &err) != 0)
      fail_msg("step %d: remove-orphans: %s", n, tarn_error_message(&err));
    if (orphans.n != want.n)
      fail_msg("step %d (%s, %s the swap): remove-orphans found %zu files, the child left %zu", n,
               last, swapped ? "after" : "before", orphans.n, want.n);
    for (i = 0; i < want.n; i++)
      if (!keyset_has(&orphans, want.keys[i]))
        fail_msg("step %d (%s): %s was left by the child but not reported", n, last, want.keys[i]);
    orphans_total += (int)orphans.n;
    /* clean up for the next round: the orphans, temp files included, and nothing else */
    {
      size_t removed = 0, swept = 0;
      assert_int_equal(tarn_table_remove_orphans(t, INT64_MAX, 0, NULL, NULL, &removed, &err), 0);
      assert_int_equal(removed, want.n);
      assert_int_equal(tarn_store_local_sweep(st, 0, &swept, &err), 0);
      assert_int_equal(swept, 0);
    }
    tarn_table_close(t);
    tarn_catalog_destroy(cat);
    tarn_store_destroy(st);
    keyset_free(&before);
    keyset_free(&after);
    keyset_free(&orphans);
    keyset_free(&want);
  }
  assert_true(finished);
  /* every kind of step was a kill point, the swap included */
  {
    const char *kinds[] = {"open", "write", "fsync", "rename", "dirsync", "swap", "swapped"};
    size_t k, i;
    for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
      for (i = 0; i < (size_t)nseen && strcmp(seen[i], kinds[k]) != 0; i++)
        ;
      if (i == (size_t)nseen)
        fail_msg("no kill at a \"%s\" step", kinds[k]);
    }
  }
  assert_int_equal(kills, max_steps);
  assert_true(kills_before_swap > 0 && kills_after_swap > 0);
  assert_true(temps_total > 0);
  print_message("killed at each of %d steps (%d before the catalog swap, %d after); %d orphan "
                "files (%d of them temp files) found and removed; %lld rows committed\n",
                kills, kills_before_swap, kills_after_swap, orphans_total, temps_total,
                (long long)committed_rows);
}

static int setup(void **state) {
  fx *f = calloc(1, sizeof(*f));
  char real[PATH_MAX];
  snprintf(f->dir, sizeof(f->dir), "/tmp/tarn-crash-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  assert_non_null(realpath(f->dir, real));
  snprintf(f->root_uri, sizeof(f->root_uri), "file://%s/", real);
  snprintf(f->db, sizeof(f->db), "%s/catalog.db", f->dir);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
  assert_int_equal(system(cmd), 0);
  free(f);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_kill_at_every_step, setup, teardown),
  };
  tarn_log_set_level(TARN_LOG_ERROR);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
