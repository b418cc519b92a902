/* test_base_config.c - table-driven settings: defaults, INI, env, flags, printing (base/config). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/config.h"
#include "base/error.h"

#define KIB 1024LL
#define MIB (1024LL * 1024)
#define GIB (1024LL * 1024 * 1024)

static const tarn_cfg_def server_tbl[] = {
    {"server", "listen", TARN_CFG_HOSTPORT, "127.0.0.1:8080", 0, 0, NULL, "TARN_LISTEN", "listen",
     NULL, 0, "address to listen on"},
    {"server", "name", TARN_CFG_STRING, "tarn", 0, 0, NULL, "TARN_NAME", "name", NULL, 0,
     "instance name"},
    {"server", "workers", TARN_CFG_INT, "4", 1, 64, NULL, "TARN_WORKERS", "workers", "serve", 0,
     "worker threads"},
    {"server", "read_only", TARN_CFG_BOOL, "false", 0, 0, NULL, "TARN_READ_ONLY", "read-only", NULL,
     0, "refuse writes"},
    {"server", "max_body", TARN_CFG_SIZE, "1MiB", 1 * KIB, 1 * GIB, NULL, "TARN_MAX_BODY",
     "max-body", "serve", 0, "largest request body"},
    {"server", "timeout", TARN_CFG_DURATION, "30s", 100, 3600 * 1000, NULL, "TARN_TIMEOUT",
     "timeout", NULL, 0, "request timeout"},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL, NULL, NULL, 0, NULL},
};

static const tarn_cfg_def other_tbl[] = {
    {"log", "level", TARN_CFG_ENUM, "info", 0, 0, "debug|info|warn|error", "TARN_LOG_LEVEL",
     "log-level", NULL, 0, "log level"},
    {"s3", "secret_key", TARN_CFG_STRING, NULL, 0, 0, NULL, "TARN_S3_SECRET_KEY", "s3-secret-key",
     NULL, 1, "S3 secret access key"},
    {"s3", "token", TARN_CFG_STRING, "built-in-token-xyzzy", 0, 0, NULL, "TARN_S3_TOKEN",
     "s3-token", NULL, 1, "S3 session token"},
    {"s3", "bucket", TARN_CFG_STRING, NULL, 0, 0, NULL, "TARN_S3_BUCKET", "bucket", "import", 0,
     "bucket to import from"},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL, NULL, NULL, 0, NULL},
};

static const tarn_cfg_def *const tables[] = {server_tbl, other_tbl, NULL};

static tarn_config *new_cfg(void) {
  tarn_config *cfg = NULL;
  tarn_error err;
  int rc = tarn_config_create(&cfg, tables, &err);
  if (rc != 0)
    fail_msg("tarn_config_create: %s", err.detail);
  assert_non_null(cfg);
  return cfg;
}

/* Writes text to a new temporary file; returns its path (one of four slots, removed
 * when the slot is reused or the test ends). */
static char tmp_paths[4][64];
static int ntmp;
static const char *write_tmp(const char *text) {
  char *path = tmp_paths[ntmp++ % 4];
  int fd;
  size_t n = strlen(text);
  if (path[0] != '\0')
    unlink(path); /* slot reused within one test */
  snprintf(path, 64, "/tmp/tarn_test_cfg_XXXXXX");
  fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, n), (ssize_t)n);
  close(fd);
  return path;
}

static int cleanup_tmp(void **state) {
  int i;
  (void)state;
  for (i = 0; i < 4; i++) {
    if (tmp_paths[i][0] != '\0')
      unlink(tmp_paths[i]);
    tmp_paths[i][0] = '\0';
  }
  tarn_alloc_fail_reset();
  return 0;
}

static char *source_of(const char *path, int line) {
  static char s[160];
  snprintf(s, sizeof(s), "file %s line %d", path, line);
  return s;
}

static void test_defaults(void **state) {
  tarn_config *cfg = new_cfg();
  (void)state;
  assert_string_equal(tarn_config_str(cfg, "server", "listen"), "127.0.0.1:8080");
  assert_int_equal(tarn_config_int(cfg, "server", "listen"), 8080);
  assert_string_equal(tarn_config_str(cfg, "server", "name"), "tarn");
  assert_int_equal(tarn_config_int(cfg, "server", "workers"), 4);
  assert_int_equal(tarn_config_bool(cfg, "server", "read_only"), 0);
  assert_int_equal(tarn_config_int(cfg, "server", "max_body"), 1048576);
  assert_int_equal(tarn_config_int(cfg, "server", "timeout"), 30000);
  assert_string_equal(tarn_config_str(cfg, "log", "level"), "info");
  assert_null(tarn_config_str(cfg, "s3", "secret_key"));
  assert_null(tarn_config_str(cfg, "s3", "bucket"));
  assert_string_equal(tarn_config_source(cfg, "server", "workers"), "default");
  assert_string_equal(tarn_config_source(cfg, "s3", "secret_key"), "default");
  tarn_config_destroy(cfg);
  tarn_config_destroy(NULL);
}

static void test_load_file(void **state) {
  tarn_config *cfg = new_cfg();
  tarn_error err;
  const char *path = write_tmp("; tarn test configuration\n" /* 1 */
                               "[server]\n"                  /* 2 */
                               "listen = 0.0.0.0:9000\n"     /* 3 */
                               "workers = 8\n"               /* 4 */
                               "\n"                          /* 5 */
                               "[log]\n"                     /* 6 */
                               "level = debug\n"             /* 7 */
                               "# another comment\n"         /* 8 */
                               "[server]\n"                  /* 9 */
                               "max_body = 64MiB\n"          /* 10 */
                               "timeout = 5m\n"              /* 11 */
                               "read_only = yes\n"           /* 12 */
                               "name = lake one\n"           /* 13 */
                               "[s3]\n"                      /* 14 */
                               "secret_key = hunter2");      /* 15, no newline */
  (void)state;
  assert_int_equal(tarn_config_load_file(cfg, path, &err), 0);
  assert_string_equal(tarn_config_str(cfg, "server", "listen"), "0.0.0.0:9000");
  assert_int_equal(tarn_config_int(cfg, "server", "listen"), 9000);
  assert_string_equal(tarn_config_source(cfg, "server", "listen"), source_of(path, 3));
  assert_int_equal(tarn_config_int(cfg, "server", "workers"), 8);
  assert_string_equal(tarn_config_source(cfg, "server", "workers"), source_of(path, 4));
  assert_string_equal(tarn_config_str(cfg, "log", "level"), "debug");
  assert_string_equal(tarn_config_source(cfg, "log", "level"), source_of(path, 7));
  assert_int_equal(tarn_config_int(cfg, "server", "max_body"), 64 * MIB);
  assert_string_equal(tarn_config_source(cfg, "server", "max_body"), source_of(path, 10));
  assert_int_equal(tarn_config_int(cfg, "server", "timeout"), 5 * 60 * 1000);
  assert_string_equal(tarn_config_source(cfg, "server", "timeout"), source_of(path, 11));
  assert_int_equal(tarn_config_bool(cfg, "server", "read_only"), 1);
  assert_string_equal(tarn_config_str(cfg, "server", "name"), "lake one");
  assert_string_equal(tarn_config_source(cfg, "server", "name"), source_of(path, 13));
  assert_string_equal(tarn_config_str(cfg, "s3", "secret_key"), "hunter2");
  assert_string_equal(tarn_config_source(cfg, "s3", "secret_key"), source_of(path, 15));
  /* Untouched settings keep their defaults. */
  assert_string_equal(tarn_config_source(cfg, "s3", "bucket"), "default");
  tarn_config_destroy(cfg);
}

static void test_load_file_missing(void **state) {
  tarn_config *cfg = new_cfg();
  tarn_error err;
  (void)state;
  assert_int_equal(tarn_config_load_file(cfg, "/nonexistent/dir/tarn.ini", &err), TARN_ENOTFOUND);
  assert_int_equal(err.code, TARN_ENOTFOUND);
  assert_non_null(strstr(err.detail, "/nonexistent/dir/tarn.ini"));
  tarn_config_destroy(cfg);
}

/* The memory loader reads the same syntax and names its source like a file. */
static void test_load_mem(void **state) {
  tarn_config *cfg = new_cfg();
  tarn_error err;
  static const char text[] = "[server]\nworkers = 9\nname = mem";
  static const char bad[] = "[server]\nworkerz = 1\n";
  char buf[sizeof(text)];
  (void)state;
  /* not NUL-terminated: the length ends the text ("memo" would be read otherwise) */
  memcpy(buf, text, sizeof(text) - 1);
  buf[sizeof(text) - 1] = 'o';
  assert_int_equal(tarn_config_load_mem(cfg, "<mem>", buf, sizeof(text) - 1, &err), 0);
  assert_int_equal(tarn_config_int(cfg, "server", "workers"), 9);
  assert_string_equal(tarn_config_str(cfg, "server", "name"), "mem");
  assert_string_equal(tarn_config_source(cfg, "server", "workers"), "file <mem> line 2");
  assert_int_equal(tarn_config_load_mem(cfg, "<mem>", "", 0, &err), 0);
  tarn_error_clear(&err);
  assert_int_equal(tarn_config_load_mem(cfg, "<mem>", bad, strlen(bad), &err), TARN_ECONFIG);
  assert_non_null(strstr(err.detail, "<mem> line 2"));
  tarn_config_destroy(cfg);
}

/* Loads `text` and expects TARN_ECONFIG whose detail names every string in `want`. */
static void expect_file_error(const char *text, int line, const char *const *want) {
  tarn_config *cfg = new_cfg();
  tarn_error err;
  char at[32];
  const char *path = write_tmp(text);
  tarn_error_clear(&err);
  assert_int_equal(tarn_config_load_file(cfg, path, &err), TARN_ECONFIG);
  assert_int_equal(err.code, TARN_ECONFIG);
  if (strstr(err.detail, path) == NULL)
    fail_msg("detail does not name the file: %s", err.detail);
  snprintf(at, sizeof(at), "line %d", line);
  if (strstr(err.detail, at) == NULL)
    fail_msg("detail does not name %s: %s", at, err.detail);
  for (; want != NULL && *want != NULL; want++)
    if (strstr(err.detail, *want) == NULL)
      fail_msg("detail does not name \"%s\": %s", *want, err.detail);
  tarn_config_destroy(cfg);
}

static void test_file_unknown_section_and_key(void **state) {
  (void)state;
  {
    const char *const want[] = {"workerz", "[server]", "unknown key", NULL};
    expect_file_error("[server]\nworkers = 2\nworkerz = 3\n", 3, want);
  }
  {
    const char *const want[] = {"[serverr]", "unknown section", NULL};
    expect_file_error("[server]\nworkers = 2\n\n[serverr]\nworkers = 3\n", 5, want);
  }
  {
    /* A key that exists, but in another section. */
    const char *const want[] = {"level", "[server]", NULL};
    expect_file_error("[server]\nlevel = info\n", 2, want);
  }
  {
    const char *const want[] = {"workers", NULL};
    expect_file_error("workers = 2\n", 1, want);
  }
  {
    /* Not INI at all. */
    expect_file_error("[server]\nworkers = 2\nthis is not a setting\n", 3, NULL);
  }
}

/* A value longer than the INI reader's line buffer (libinih's is fixed when it is built)
 * is loaded whole or refused naming its line; never applied cut short. */
static void test_file_long_line(void **state) {
  static const size_t lens[] = {150, 198, 250, 1000, 5000};
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
    tarn_config *cfg = new_cfg();
    tarn_error err;
    char *text = malloc(lens[i] + 100), *val = malloc(lens[i] + 1);
    const char *path, *got;
    size_t k;
    int rc;
    assert_non_null(text);
    assert_non_null(val);
    for (k = 0; k < lens[i]; k++)
      val[k] = (char)('a' + k % 26);
    val[lens[i]] = '\0';
    snprintf(text, lens[i] + 100, "[s3]\nbucket = %s\n[server]\nworkers = 9\n", val);
    path = write_tmp(text);
    tarn_error_clear(&err);
    rc = tarn_config_load_file(cfg, path, &err);
    got = tarn_config_str(cfg, "s3", "bucket");
    if (rc == 0) {
      assert_non_null(got);
      assert_string_equal(got, val);
      assert_int_equal(tarn_config_int(cfg, "server", "workers"), 9);
    } else {
      assert_int_equal(rc, TARN_ECONFIG);
      if (strstr(err.detail, "line 2") == NULL || strstr(err.detail, path) == NULL)
        fail_msg("length %zu: detail does not name line 2 of the file: %s", lens[i], err.detail);
      assert_null(got); /* not a truncated value */
    }
    assert_true(lens[i] > 190 || rc == 0); /* short lines always load */
    free(text);
    free(val);
    tarn_config_destroy(cfg);
  }
}

static void test_file_out_of_range(void **state) {
  (void)state;
  {
    const char *const want[] = {"workers", "0", "out of range", NULL};
    expect_file_error("[server]\n\nworkers = 0\n", 3, want);
  }
  {
    const char *const want[] = {"workers", "65", NULL};
    expect_file_error("[server]\nworkers = 65\n", 2, want);
  }
  {
    const char *const want[] = {"workers", "99999999999999999999999", NULL};
    expect_file_error("[server]\nworkers = 99999999999999999999999\n", 2, want);
  }
  {
    const char *const want[] = {"workers", "four", NULL};
    expect_file_error("[server]\nworkers = four\n", 2, want);
  }
  {
    const char *const want[] = {"max_body", "2GiB", "out of range", NULL};
    expect_file_error("[server]\nmax_body = 2GiB\n", 2, want);
  }
  {
    const char *const want[] = {"max_body", "512", NULL};
    expect_file_error("[server]\nmax_body = 512\n", 2, want);
  }
  {
    const char *const want[] = {"max_body", "99999999999TiB", NULL};
    expect_file_error("[server]\nmax_body = 99999999999TiB\n", 2, want);
  }
  {
    const char *const want[] = {"timeout", "2h", "out of range", NULL};
    expect_file_error("[server]\ntimeout = 2h\n", 2, want);
  }
  {
    const char *const want[] = {"timeout", "50ms", NULL};
    expect_file_error("[server]\ntimeout = 50ms\n", 2, want);
  }
  {
    const char *const want[] = {"timeout", "10 parsecs", NULL};
    expect_file_error("[server]\ntimeout = 10 parsecs\n", 2, want);
  }
  {
    const char *const want[] = {"level", "loud", "debug|info|warn|error", NULL};
    expect_file_error("[log]\nlevel = loud\n", 2, want);
  }
  {
    const char *const want[] = {"read_only", "maybe", NULL};
    expect_file_error("[server]\nread_only = maybe\n", 2, want);
  }
  {
    const char *const want[] = {"listen", "localhost:65536", NULL};
    expect_file_error("[server]\nlisten = localhost:65536\n", 2, want);
  }
}

static void test_rejected_value_keeps_old(void **state) {
  tarn_config *cfg = new_cfg();
  tarn_error err;
  (void)state;
  assert_int_equal(tarn_config_set(cfg, "server", "workers", "100", "flag --workers", &err),
                   TARN_ECONFIG);
  assert_non_null(strstr(err.detail, "workers"));
  assert_non_null(strstr(err.detail, "flag --workers"));
  assert_int_equal(tarn_config_int(cfg, "server", "workers"), 4);
  assert_string_equal(tarn_config_source(cfg, "server", "workers"), "default");
  tarn_config_destroy(cfg);
}

static void test_env_beats_file(void **state) {
  tarn_config *cfg = new_cfg();
  tarn_error err;
  const char *path = write_tmp("[server]\nworkers = 8\ntimeout = 10s\n");
  char *envp[] = {
      "PATH=/usr/bin:/bin", "HOME=/root", "TARN_WORKERS=16", "TARN_LOG_LEVEL=warn", "TARNISH=1",
      "NOT_TARN_X=1",       NULL};
  (void)state;
  assert_int_equal(tarn_config_load_file(cfg, path, &err), 0);
  assert_int_equal(tarn_config_load_env(cfg, envp, NULL, &err), 0);
  assert_int_equal(tarn_config_int(cfg, "server", "workers"), 16);
  assert_string_equal(tarn_config_source(cfg, "server", "workers"), "env TARN_WORKERS");
  assert_string_equal(tarn_config_str(cfg, "log", "level"), "warn");
  assert_string_equal(tarn_config_source(cfg, "log", "level"), "env TARN_LOG_LEVEL");
  /* Settings the environment does not name keep the file's values. */
  assert_int_equal(tarn_config_int(cfg, "server", "timeout"), 10000);
  assert_string_equal(tarn_config_source(cfg, "server", "timeout"), source_of(path, 3));
  tarn_config_destroy(cfg);
}

static void test_env_unknown_rejected(void **state) {
  tarn_config *cfg = new_cfg();
  tarn_error err;
  char *envp[] = {"TARN_WORKERS=2", "TARN_WROKERS=3", NULL};
  char *envp_bad[] = {"TARN_WORKERS=lots", NULL};
  (void)state;
  assert_int_equal(tarn_config_load_env(cfg, envp, NULL, &err), TARN_ECONFIG);
  assert_non_null(strstr(err.detail, "TARN_WROKERS"));
  assert_int_equal(tarn_config_load_env(cfg, envp_bad, NULL, &err), TARN_ECONFIG);
  assert_non_null(strstr(err.detail, "workers"));
  assert_non_null(strstr(err.detail, "env TARN_WORKERS"));
  assert_non_null(strstr(err.detail, "lots"));
  tarn_config_destroy(cfg);
}

static void test_env_ignore_list(void **state) {
  tarn_config *cfg = new_cfg();
  tarn_error err;
  char *envp[] = {"TARN_CONFIG=/etc/tarn.ini", "TARN_TEST_BIN=/x/tarn", "TARN_NAME=env-name", NULL};
  const char *const ignore[] = {"TARN_CONFIG", "TARN_TEST_BIN", NULL};
  const char *const ignore_short[] = {"TARN_CONFIG", NULL};
  char *envp_empty[] = {NULL};
  (void)state;
  assert_int_equal(tarn_config_load_env(cfg, envp, ignore, &err), 0);
  assert_string_equal(tarn_config_str(cfg, "server", "name"), "env-name");
  assert_int_equal(tarn_config_load_env(cfg, envp, ignore_short, &err), TARN_ECONFIG);
  assert_non_null(strstr(err.detail, "TARN_TEST_BIN"));
  assert_int_equal(tarn_config_load_env(cfg, envp_empty, NULL, &err), 0);
  tarn_config_destroy(cfg);
}

static void test_flag_beats_env(void **state) {
  tarn_config *cfg = new_cfg();
  tarn_error err;
  const char *path = write_tmp("[server]\nworkers = 8\n");
  char *envp[] = {"TARN_WORKERS=16", NULL};
  const tarn_cfg_def *d;
  (void)state;
  assert_int_equal(tarn_config_load_file(cfg, path, &err), 0);
  assert_int_equal(tarn_config_load_env(cfg, envp, NULL, &err), 0);
  d = tarn_config_flag(cfg, "serve", "workers");
  assert_non_null(d);
  assert_int_equal(tarn_config_set(cfg, d->section, d->key, "32", "flag --workers", &err), 0);
  assert_int_equal(tarn_config_int(cfg, "server", "workers"), 32);
  assert_string_equal(tarn_config_source(cfg, "server", "workers"), "flag --workers");

  assert_int_equal(tarn_config_set(cfg, "server", "nope", "1", "flag --nope", &err), TARN_ECONFIG);
  assert_non_null(strstr(err.detail, "nope"));
  assert_non_null(strstr(err.detail, "flag --nope"));
  assert_int_equal(tarn_config_set(cfg, "nosuch", "workers", "1", "flag --x", &err), TARN_ECONFIG);
  assert_non_null(strstr(err.detail, "nosuch"));
  tarn_config_destroy(cfg);
}

static void test_flag_lookup(void **state) {
  tarn_config *cfg = new_cfg();
  const tarn_cfg_def *d;
  (void)state;
  d = tarn_config_flag(cfg, "serve", "listen");
  assert_non_null(d);
  assert_string_equal(d->key, "listen");
  d = tarn_config_flag(cfg, "import", "listen"); /* no flag_cmd: every command */
  assert_non_null(d);
  assert_string_equal(d->section, "server");
  assert_non_null(tarn_config_flag(cfg, NULL, "listen"));
  d = tarn_config_flag(cfg, "serve", "max-body");
  assert_non_null(d);
  assert_string_equal(d->key, "max_body");
  /* Scoped flags: only their command takes them. */
  assert_null(tarn_config_flag(cfg, "import", "workers"));
  assert_null(tarn_config_flag(cfg, NULL, "workers"));
  assert_non_null(tarn_config_flag(cfg, "import", "bucket"));
  assert_null(tarn_config_flag(cfg, "serve", "bucket"));
  /* Flags are looked up by flag name, not key. */
  assert_null(tarn_config_flag(cfg, "serve", "max_body"));
  assert_null(tarn_config_flag(cfg, "serve", "nope"));
  assert_null(tarn_config_flag(cfg, "serve", ""));
  tarn_config_destroy(cfg);
}

/* Captures a print function's output. Caller frees. */
static char *print_to_string(const tarn_config *cfg, const char *cmd, int flags) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  if (flags)
    tarn_config_print_flags(cfg, cmd, f);
  else
    tarn_config_print(cfg, f);
  fclose(f);
  return buf;
}

static void test_print_redacts_secrets(void **state) {
  tarn_config *cfg = new_cfg();
  tarn_error err;
  char *out;
  char *envp[] = {"TARN_S3_SECRET_KEY=hunter2-very-secret", NULL};
  (void)state;
  assert_int_equal(tarn_config_load_env(cfg, envp, NULL, &err), 0);
  assert_int_equal(tarn_config_set(cfg, "server", "name", "lake", "flag --name", &err), 0);
  assert_string_equal(tarn_config_str(cfg, "s3", "secret_key"), "hunter2-very-secret");
  out = print_to_string(cfg, NULL, 0);
  assert_non_null(strstr(out, "[server]\n"));
  assert_non_null(strstr(out, "[s3]\n"));
  assert_non_null(strstr(out, "workers = 4  ; default\n"));
  assert_non_null(strstr(out, "name = lake  ; flag --name\n"));
  assert_non_null(strstr(out, "secret_key = <redacted>  ; env TARN_S3_SECRET_KEY\n"));
  assert_non_null(strstr(out, "token = <redacted>  ; default\n"));
  assert_non_null(strstr(out, "bucket is unset"));
  assert_null(strstr(out, "hunter2"));
  assert_null(strstr(out, "xyzzy"));
  free(out);

  /* --help shows neither a secret's value nor its built-in default. */
  out = print_to_string(cfg, "serve", 1);
  assert_non_null(strstr(out, "--workers"));
  assert_non_null(strstr(out, "--s3-token"));
  assert_null(strstr(out, "--bucket")); /* import only */
  assert_null(strstr(out, "hunter2"));
  assert_null(strstr(out, "xyzzy"));
  free(out);
  out = print_to_string(cfg, "import", 1);
  assert_non_null(strstr(out, "--bucket"));
  assert_null(strstr(out, "--workers"));
  assert_non_null(strstr(out, "TARN_LOG_LEVEL"));
  free(out);
  tarn_config_destroy(cfg);
}

static void test_parse_size(void **state) {
  int64_t v = -1;
  (void)state;
  assert_int_equal(tarn_parse_size("0", &v, NULL), 0);
  assert_int_equal(v, 0);
  assert_int_equal(tarn_parse_size("1048576", &v, NULL), 0);
  assert_int_equal(v, 1048576);
  assert_int_equal(tarn_parse_size("512KiB", &v, NULL), 0);
  assert_int_equal(v, 512 * 1024);
  assert_int_equal(tarn_parse_size("64MiB", &v, NULL), 0);
  assert_int_equal(v, 64 * 1024 * 1024);
  assert_int_equal(tarn_parse_size("1GiB", &v, NULL), 0);
  assert_int_equal(v, 1073741824);
  assert_int_equal(tarn_parse_size("10MB", &v, NULL), 0);
  assert_int_equal(v, 10000000);
  assert_int_equal(tarn_parse_size("3KB", &v, NULL), 0);
  assert_int_equal(v, 3000);
  assert_int_equal(tarn_parse_size("2GB", &v, NULL), 0);
  assert_int_equal(v, 2000000000);
  assert_int_equal(tarn_parse_size("1TiB", &v, NULL), 0);
  assert_int_equal(v, 1099511627776LL);
  assert_int_equal(tarn_parse_size("7B", &v, NULL), 0);
  assert_int_equal(v, 7);
  assert_int_equal(tarn_parse_size("9223372036854775807", &v, NULL), 0);
  assert_int_equal(v, INT64_MAX);
  /* 2^33 - 1 GiB = 2^63 - 2^30 fits; 2^33 GiB = 2^63 does not. */
  assert_int_equal(tarn_parse_size("8589934591GiB", &v, NULL), 0);
  assert_int_equal(v, INT64_MAX - (GIB - 1));
  v = 123;
  assert_int_equal(tarn_parse_size("8589934592GiB", &v, NULL), TARN_ERANGE);
  assert_int_equal(tarn_parse_size("9223372036854775808", &v, NULL), TARN_ERANGE);
  assert_int_equal(tarn_parse_size("99999999999999999999999", &v, NULL), TARN_ERANGE);
  assert_int_equal(tarn_parse_size("16777216TiB", &v, NULL), TARN_ERANGE);
  assert_int_equal(v, 123); /* untouched on failure */
  assert_int_not_equal(tarn_parse_size("", &v, NULL), 0);
  assert_int_not_equal(tarn_parse_size("-1", &v, NULL), 0);
  assert_int_not_equal(tarn_parse_size("-1KiB", &v, NULL), 0);
  assert_int_not_equal(tarn_parse_size("1.5GiB", &v, NULL), 0);
  assert_int_not_equal(tarn_parse_size("MiB", &v, NULL), 0);
  assert_int_not_equal(tarn_parse_size("12XB", &v, NULL), 0);
  assert_int_not_equal(tarn_parse_size("12 KiB extra", &v, NULL), 0);
  assert_int_not_equal(tarn_parse_size("0x10", &v, NULL), 0);
  assert_int_equal(v, 123);
}

static void test_parse_duration(void **state) {
  int64_t v = -1;
  (void)state;
  assert_int_equal(tarn_parse_duration_ms("250ms", &v, NULL), 0);
  assert_int_equal(v, 250);
  assert_int_equal(tarn_parse_duration_ms("30s", &v, NULL), 0);
  assert_int_equal(v, 30000);
  assert_int_equal(tarn_parse_duration_ms("5m", &v, NULL), 0);
  assert_int_equal(v, 300000);
  assert_int_equal(tarn_parse_duration_ms("1h", &v, NULL), 0);
  assert_int_equal(v, 3600000);
  assert_int_equal(tarn_parse_duration_ms("2d", &v, NULL), 0);
  assert_int_equal(v, 172800000);
  assert_int_equal(tarn_parse_duration_ms("1500", &v, NULL), 0); /* bare number: ms */
  assert_int_equal(v, 1500);
  assert_int_equal(tarn_parse_duration_ms("0s", &v, NULL), 0);
  assert_int_equal(v, 0);
  v = 7;
  assert_int_not_equal(tarn_parse_duration_ms("", &v, NULL), 0);
  assert_int_not_equal(tarn_parse_duration_ms("s", &v, NULL), 0);
  assert_int_not_equal(tarn_parse_duration_ms("-5s", &v, NULL), 0);
  assert_int_not_equal(tarn_parse_duration_ms("1.5s", &v, NULL), 0);
  assert_int_not_equal(tarn_parse_duration_ms("5M", &v, NULL), 0);
  assert_int_not_equal(tarn_parse_duration_ms("5 minutes", &v, NULL), 0);
  assert_int_not_equal(tarn_parse_duration_ms("1y", &v, NULL), 0);
  assert_int_equal(tarn_parse_duration_ms("3000000000000000h", &v, NULL), TARN_ERANGE);
  assert_int_equal(tarn_parse_duration_ms("99999999999999999999ms", &v, NULL), TARN_ERANGE);
  assert_int_equal(v, 7);
}

static void test_parse_bool(void **state) {
  static const char *const yes[] = {"true", "yes", "on", "1", "TRUE", "Yes", "ON"};
  static const char *const no[] = {"false", "no", "off", "0", "FALSE", "No", "Off"};
  static const char *const bad[] = {"", "2", "maybe", "truee", "t", "y", " true", "-1"};
  size_t i;
  int b;
  (void)state;
  for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
    b = -1;
    assert_int_equal(tarn_parse_bool(yes[i], &b, NULL), 0);
    assert_int_equal(b, 1);
  }
  for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
    b = -1;
    assert_int_equal(tarn_parse_bool(no[i], &b, NULL), 0);
    assert_int_equal(b, 0);
  }
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    b = -1;
    assert_int_not_equal(tarn_parse_bool(bad[i], &b, NULL), 0);
    assert_int_equal(b, -1);
  }
}

static void test_parse_hostport(void **state) {
  char host[64];
  int port = -1;
  size_t i;
  static const char *const bad[] = {
      "localhost:65536",
      "::1:80",
      "host",
      "",
      ":80",
      "host:",
      "host:-1",
      "host:+80",
      "host:80x",
      "host: 80",
      "[::1]",
      "[::1]80",
      "[::1:80",
      "[]:80",
      "[::1]:",
      "a:b:c",
      "host:99999999999999999999",
      "[::1]:65536",
  };
  (void)state;
  assert_int_equal(tarn_parse_hostport("127.0.0.1:0", host, sizeof(host), &port, NULL), 0);
  assert_string_equal(host, "127.0.0.1");
  assert_int_equal(port, 0);
  assert_int_equal(tarn_parse_hostport("[::1]:8080", host, sizeof(host), &port, NULL), 0);
  assert_string_equal(host, "::1");
  assert_int_equal(port, 8080);
  assert_int_equal(tarn_parse_hostport("localhost:65535", host, sizeof(host), &port, NULL), 0);
  assert_string_equal(host, "localhost");
  assert_int_equal(port, 65535);
  assert_int_equal(tarn_parse_hostport("[fe80::1%eth0]:443", host, sizeof(host), &port, NULL), 0);
  assert_string_equal(host, "fe80::1%eth0");
  assert_int_equal(port, 443);
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    strcpy(host, "unchanged");
    port = -7;
    if (tarn_parse_hostport(bad[i], host, sizeof(host), &port, NULL) == 0)
      fail_msg("accepted \"%s\"", bad[i]);
    assert_string_equal(host, "unchanged");
    assert_int_equal(port, -7);
  }
  /* A host longer than the caller's buffer is refused, not overflowed. */
  assert_int_not_equal(tarn_parse_hostport("abcdefgh:1", host, 8, &port, NULL), 0);
  assert_int_equal(tarn_parse_hostport("abcdefg:1", host, 8, &port, NULL), 0);
  assert_string_equal(host, "abcdefg");
}

/* A failed parse names the value and the form expected in err; a success leaves err clear. */
static void test_parse_error_detail(void **state) {
  tarn_error err;
  int64_t v = -1;
  int b = -1, port = -1;
  char host[16];
  (void)state;
  tarn_error_clear(&err);
  assert_int_equal(tarn_parse_size("12XB", &v, &err), TARN_EINVAL);
  assert_int_equal(err.code, TARN_EINVAL);
  assert_non_null(strstr(err.detail, "\"12XB\""));
  assert_non_null(strstr(err.detail, "size"));
  assert_int_equal(v, -1);
  tarn_error_clear(&err);
  assert_int_equal(tarn_parse_size("16777216TiB", &v, &err), TARN_ERANGE);
  assert_non_null(strstr(err.detail, "\"16777216TiB\""));
  assert_non_null(strstr(err.detail, "out of range"));
  tarn_error_clear(&err);
  assert_int_equal(tarn_parse_duration_ms("5 minutes", &v, &err), TARN_EINVAL);
  assert_non_null(strstr(err.detail, "\"5 minutes\""));
  assert_non_null(strstr(err.detail, "duration"));
  tarn_error_clear(&err);
  assert_int_equal(tarn_parse_bool("maybe", &b, &err), TARN_EINVAL);
  assert_non_null(strstr(err.detail, "\"maybe\""));
  assert_int_equal(b, -1);
  tarn_error_clear(&err);
  assert_int_equal(tarn_parse_hostport("host:99999", host, sizeof(host), &port, &err), TARN_ERANGE);
  assert_non_null(strstr(err.detail, "\"host:99999\""));
  assert_non_null(strstr(err.detail, "port"));
  tarn_error_clear(&err);
  assert_int_equal(tarn_parse_hostport("host", host, sizeof(host), &port, &err), TARN_EINVAL);
  assert_non_null(strstr(err.detail, "HOST:PORT"));
  tarn_error_clear(&err);
  assert_int_equal(tarn_parse_size("64MiB", &v, &err), 0);
  assert_int_equal(err.code, 0);
  assert_int_equal(v, 64 * 1024 * 1024);
}

static void test_bad_default(void **state) {
  static const tarn_cfg_def bad_int[] = {
      {"a", "n", TARN_CFG_INT, "12x", 0, 100, NULL, NULL, NULL, NULL, 0, "n"},
      {NULL, NULL, 0, NULL, 0, 0, NULL, NULL, NULL, NULL, 0, NULL}};
  static const tarn_cfg_def bad_range[] = {
      {"a", "ok", TARN_CFG_STRING, "fine", 0, 0, NULL, NULL, NULL, NULL, 0, "s"},
      {"a", "n", TARN_CFG_SIZE, "2GiB", 0, 1024, NULL, NULL, NULL, NULL, 0, "n"},
      {NULL, NULL, 0, NULL, 0, 0, NULL, NULL, NULL, NULL, 0, NULL}};
  static const tarn_cfg_def bad_enum[] = {
      {"a", "e", TARN_CFG_ENUM, "blue", 0, 0, "red|green", NULL, NULL, NULL, 0, "e"},
      {NULL, NULL, 0, NULL, 0, 0, NULL, NULL, NULL, NULL, 0, NULL}};
  const tarn_cfg_def *const t1[] = {bad_int, NULL};
  const tarn_cfg_def *const t2[] = {server_tbl, bad_range, NULL};
  const tarn_cfg_def *const t3[] = {bad_enum, NULL};
  tarn_config *cfg = (tarn_config *)&cfg;
  tarn_error err;
  (void)state;
  assert_int_equal(tarn_config_create(&cfg, t1, &err), TARN_EINTERNAL);
  assert_null(cfg);
  assert_int_equal(err.code, TARN_EINTERNAL);
  assert_non_null(strstr(err.detail, "default"));
  assert_non_null(strstr(err.detail, "12x"));
  assert_int_equal(tarn_config_create(&cfg, t2, &err), TARN_EINTERNAL);
  assert_null(cfg);
  assert_int_equal(err.code, TARN_EINTERNAL);
  assert_non_null(strstr(err.detail, "2GiB"));
  assert_int_equal(tarn_config_create(&cfg, t3, &err), TARN_EINTERNAL);
  assert_null(cfg);
  /* Without an error struct the code is still right. */
  cfg = (tarn_config *)&cfg;
  assert_int_equal(tarn_config_create(&cfg, t1, NULL), TARN_EINTERNAL);
  assert_null(cfg);
}

static void test_duplicate_declaration(void **state) {
  static const tarn_cfg_def dup_inner[] = {
      {"x", "k", TARN_CFG_STRING, "a", 0, 0, NULL, NULL, NULL, NULL, 0, "k"},
      {"x", "j", TARN_CFG_STRING, "a", 0, 0, NULL, NULL, NULL, NULL, 0, "j"},
      {"x", "k", TARN_CFG_INT, "1", 0, 9, NULL, NULL, NULL, NULL, 0, "k again"},
      {NULL, NULL, 0, NULL, 0, 0, NULL, NULL, NULL, NULL, 0, NULL}};
  static const tarn_cfg_def dup_outer[] = {
      {"server", "workers", TARN_CFG_INT, "1", 0, 9, NULL, NULL, NULL, NULL, 0, "again"},
      {NULL, NULL, 0, NULL, 0, 0, NULL, NULL, NULL, NULL, 0, NULL}};
  const tarn_cfg_def *const t1[] = {dup_inner, NULL};
  const tarn_cfg_def *const t2[] = {server_tbl, other_tbl, dup_outer, NULL};
  tarn_config *cfg = NULL;
  tarn_error err;
  (void)state;
  assert_int_equal(tarn_config_create(&cfg, t1, &err), TARN_EINTERNAL);
  assert_null(cfg);
  assert_non_null(strstr(err.detail, "[x] k"));
  assert_int_equal(tarn_config_create(&cfg, t2, &err), TARN_EINTERNAL);
  assert_null(cfg);
  assert_non_null(strstr(err.detail, "[server] workers"));
}

static void test_empty_tables(void **state) {
  static const tarn_cfg_def none[] = {{NULL, NULL, 0, NULL, 0, 0, NULL, NULL, NULL, NULL, 0, NULL}};
  const tarn_cfg_def *const t[] = {none, NULL};
  const tarn_cfg_def *const t0[] = {NULL};
  tarn_config *cfg = NULL;
  char *envp[] = {"TARN_X=1", NULL};
  tarn_error err;
  (void)state;
  assert_int_equal(tarn_config_create(&cfg, t, &err), 0);
  assert_int_equal(tarn_config_load_env(cfg, envp, NULL, &err), TARN_ECONFIG);
  tarn_config_destroy(cfg);
  assert_int_equal(tarn_config_create(&cfg, t0, &err), 0);
  tarn_config_destroy(cfg);
}

/* Every allocation in create + load + env + set may fail: ENOMEM, no leak, no crash. */
static void test_allocation_failures(void **state) {
  const char *path = write_tmp("[server]\nworkers = 8\nname = n\n[s3]\nbucket = b\n");
  char *envp[] = {"TARN_TIMEOUT=1s", NULL};
  long total, i;
  (void)state;
  tarn_alloc_fail_reset();
  {
    tarn_config *cfg = new_cfg();
    assert_int_equal(tarn_config_load_file(cfg, path, NULL), 0);
    assert_int_equal(tarn_config_load_env(cfg, envp, NULL, NULL), 0);
    assert_int_equal(tarn_config_set(cfg, "server", "name", "m", "flag --name", NULL), 0);
    tarn_config_destroy(cfg);
  }
  total = tarn_alloc_count();
  assert_true(total > 5);
  for (i = 0; i < total; i++) {
    tarn_config *cfg = NULL;
    tarn_error err;
    int rc;
    tarn_alloc_fail_after(i);
    rc = tarn_config_create(&cfg, tables, &err);
    if (rc == 0)
      rc = tarn_config_load_file(cfg, path, &err);
    if (rc == 0)
      rc = tarn_config_load_env(cfg, envp, NULL, &err);
    if (rc == 0)
      rc = tarn_config_set(cfg, "server", "name", "m", "flag --name", &err);
    tarn_alloc_fail_reset();
    assert_int_equal(rc, TARN_ENOMEM);
    assert_int_equal(err.code, TARN_ENOMEM);
    tarn_config_destroy(cfg);
  }
}

/* ---- section families ---- */

static const tarn_cfg_def fam_tbl[] = {
    {"bucket.*", "backend", TARN_CFG_ENUM, "local", 0, 0, "local|s3", NULL, NULL, NULL, 0,
     "backend"},
    {"bucket.*", "path", TARN_CFG_STRING, NULL, 0, 0, NULL, NULL, NULL, NULL, 0, "directory"},
    {"bucket.*", "retries", TARN_CFG_INT, "3", 0, 10, NULL, NULL, NULL, NULL, 0, "retries"},
    {"bucket.*", "token", TARN_CFG_STRING, NULL, 0, 0, NULL, NULL, NULL, NULL, 1, "a secret"},
    {"store", "probe", TARN_CFG_DURATION, "1m", 0, 3600 * 1000, NULL, NULL, NULL, NULL, 0,
     "probe interval"},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL, NULL, NULL, 0, NULL},
};

static tarn_config *new_fam_cfg(void) {
  static const tarn_cfg_def *const fam_tables[] = {server_tbl, fam_tbl, NULL};
  tarn_config *cfg = NULL;
  tarn_error err;
  if (tarn_config_create(&cfg, fam_tables, &err) != 0)
    fail_msg("tarn_config_create: %s", err.detail);
  return cfg;
}

static void test_family_instances(void **state) {
  tarn_config *cfg = new_fam_cfg();
  tarn_error err;
  char *out;
  const char *path = write_tmp("[bucket.main]\n"             /* 1 */
                               "path = /srv/main\n"          /* 2 */
                               "[bucket.arch-2_b]\n"         /* 3 */
                               "backend = s3\n"              /* 4 */
                               "token = very-secret-token\n" /* 5 */
                               "[store]\n"                   /* 6 */
                               "probe = 10s\n"               /* 7 */
                               "[bucket.main]\n"             /* 8 */
                               "retries = 5\n");             /* 9 */
  (void)state;
  assert_null(tarn_config_instance(cfg, "bucket.*", 0));
  assert_int_equal(tarn_config_load_file(cfg, path, &err), 0);
  assert_string_equal(tarn_config_instance(cfg, "bucket.*", 0), "bucket.main");
  assert_string_equal(tarn_config_instance(cfg, "bucket.*", 1), "bucket.arch-2_b");
  assert_null(tarn_config_instance(cfg, "bucket.*", 2));
  assert_null(tarn_config_instance(cfg, "bucket", 0)); /* not a family pattern */
  assert_null(tarn_config_instance(cfg, "other.*", 0));
  /* every key of the family exists in every instance, at its default unless set */
  assert_string_equal(tarn_config_str(cfg, "bucket.main", "backend"), "local");
  assert_string_equal(tarn_config_str(cfg, "bucket.main", "path"), "/srv/main");
  assert_int_equal(tarn_config_int(cfg, "bucket.main", "retries"), 5);
  assert_string_equal(tarn_config_source(cfg, "bucket.main", "retries"), source_of(path, 9));
  assert_string_equal(tarn_config_source(cfg, "bucket.main", "backend"), "default");
  assert_string_equal(tarn_config_str(cfg, "bucket.arch-2_b", "backend"), "s3");
  assert_null(tarn_config_str(cfg, "bucket.arch-2_b", "path"));
  assert_int_equal(tarn_config_int(cfg, "bucket.arch-2_b", "retries"), 3);
  assert_int_equal(tarn_config_int(cfg, "store", "probe"), 10000);
  assert_true(tarn_config_has(cfg, "bucket.main", "path"));
  assert_false(tarn_config_has(cfg, "bucket.nope", "path"));
  assert_false(tarn_config_has(cfg, "bucket.*", "path"));
  /* set() reaches instances too, and creates them */
  assert_int_equal(tarn_config_set(cfg, "bucket.third", "path", "/x", "test", &err), 0);
  assert_string_equal(tarn_config_instance(cfg, "bucket.*", 2), "bucket.third");
  /* printing shows each instance as its own section, secrets redacted */
  out = print_to_string(cfg, NULL, 0);
  assert_non_null(strstr(out, "[bucket.main]\nbackend = local  ; default\npath = /srv/main"));
  assert_non_null(strstr(out, "[bucket.arch-2_b]\nbackend = s3"));
  assert_non_null(strstr(out, "token = <redacted>"));
  assert_null(strstr(out, "very-secret-token"));
  assert_null(strstr(out, "bucket.*"));
  free(out);
  /* --help lists no family settings (they have no flags) */
  out = print_to_string(cfg, "serve", 1);
  assert_null(strstr(out, "bucket"));
  free(out);
  tarn_config_destroy(cfg);
}

static void test_family_errors(void **state) {
  tarn_error err;
  const char *path;
  size_t i;
  static const struct {
    const char *text;
    const char *want[3];
  } cases[] = {
      {"[bucket.a]\nnope = 1\n", {"unknown key \"nope\" in section [bucket.a]", "line 2", NULL}},
      {"[bucket.a]\nretries = 11\n", {"[bucket.a] retries = \"11\"", "out of range", NULL}},
      {"[bucket.a]\nbackend = ftp\n", {"[bucket.a] backend", "must be one of local|s3", NULL}},
      {"[bucket.a b]\npath = x\n", {"invalid section name [bucket.a b]", "line 2", NULL}},
      {"[bucket.]\npath = x\n", {"unknown section [bucket.]", NULL, NULL}},
      {"[bucket.*]\npath = x\n", {"invalid section name [bucket.*]", NULL, NULL}},
      {"[buckets.a]\npath = x\n", {"unknown section [buckets.a]", NULL, NULL}},
      {"[bucket]\npath = x\n", {"unknown section [bucket]", NULL, NULL}},
      {"[bucket.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]\npath = x\n",
       {"line 1: section name longer than 49 characters", NULL, NULL}},
  };
  (void)state;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    tarn_config *cfg = new_fam_cfg();
    size_t j;
    path = write_tmp(cases[i].text);
    if (tarn_config_load_file(cfg, path, &err) != TARN_ECONFIG) {
      tarn_config_destroy(cfg);
      fail_msg("case %zu: not refused", i);
    }
    for (j = 0; j < 3 && cases[i].want[j] != NULL; j++)
      if (strstr(err.detail, cases[i].want[j]) == NULL)
        fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.detail, cases[i].want[j]);
    tarn_config_destroy(cfg);
  }
  {
    /* names longer than 63 bytes, through set() (files cap section names earlier) */
    tarn_config *cfg = new_fam_cfg();
    assert_int_equal(tarn_config_set(cfg,
                                     "bucket.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                                     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                                     "path", "x", "test", &err),
                     TARN_ECONFIG);
    assert_non_null(strstr(err.detail, "1 to 63"));
    assert_int_equal(tarn_config_set(cfg, "bucket.x", "path", "x", "test", &err), 0);
    tarn_config_destroy(cfg);
  }
}

static void test_family_bad_declarations(void **state) {
  static const tarn_cfg_def with_env[] = {
      {"bucket.*", "path", TARN_CFG_STRING, NULL, 0, 0, NULL, "TARN_BUCKET_PATH", NULL, NULL, 0,
       "x"},
      {NULL, NULL, 0, NULL, 0, 0, NULL, NULL, NULL, NULL, 0, NULL},
  };
  static const tarn_cfg_def twice[] = {
      {"bucket.*", "path", TARN_CFG_STRING, NULL, 0, 0, NULL, NULL, NULL, NULL, 0, "x"},
      {"bucket.*", "path", TARN_CFG_STRING, NULL, 0, 0, NULL, NULL, NULL, NULL, 0, "x"},
      {NULL, NULL, 0, NULL, 0, 0, NULL, NULL, NULL, NULL, 0, NULL},
  };
  static const tarn_cfg_def bad_def[] = {
      {"bucket.*", "n", TARN_CFG_INT, "99", 0, 10, NULL, NULL, NULL, NULL, 0, "x"},
      {NULL, NULL, 0, NULL, 0, 0, NULL, NULL, NULL, NULL, 0, NULL},
  };
  const tarn_cfg_def *const t1[] = {with_env, NULL};
  const tarn_cfg_def *const t2[] = {twice, NULL};
  const tarn_cfg_def *const t3[] = {bad_def, NULL};
  tarn_config *cfg = NULL;
  tarn_error err;
  (void)state;
  assert_int_equal(tarn_config_create(&cfg, t1, &err), TARN_EINTERNAL);
  assert_non_null(strstr(err.detail, "[bucket.*] path"));
  assert_null(cfg);
  assert_int_equal(tarn_config_create(&cfg, t2, &err), TARN_EINTERNAL);
  assert_non_null(strstr(err.detail, "declared twice"));
  assert_int_equal(tarn_config_create(&cfg, t3, &err), TARN_EINTERNAL);
  assert_non_null(strstr(err.detail, "bad built-in default"));
}

static void test_family_allocation_failures(void **state) {
  const char *path = write_tmp("[bucket.a]\npath = /a\n[bucket.b]\npath = /b\nretries = 1\n");
  long total, i;
  (void)state;
  {
    tarn_config *cfg = new_fam_cfg();
    tarn_alloc_fail_reset();
    assert_int_equal(tarn_config_load_file(cfg, path, NULL), 0);
    total = tarn_alloc_count();
    tarn_config_destroy(cfg);
  }
  assert_true(total > 0);
  for (i = 0; i < total; i++) {
    tarn_config *cfg = new_fam_cfg();
    tarn_error err;
    int rc;
    tarn_alloc_fail_after(i);
    rc = tarn_config_load_file(cfg, path, &err);
    tarn_alloc_fail_reset();
    /* fopen's own allocations may fail first as EIO/ENOMEM-from-errno; never a crash */
    assert_int_not_equal(rc, 0);
    tarn_config_destroy(cfg);
  }
}

/* ---- open sections, environment aliases, flags of several commands ---- */

static const tarn_cfg_def sink_tbl[] = {
    {"sink", "brokers", TARN_CFG_STRING, "localhost:9092", 0, 0, NULL, "TARN_SINK_BROKERS",
     "brokers", "sink", 0, "Kafka bootstrap servers"},
    {"sink", "batch_max_records", TARN_CFG_INT, "10000", 1, 1000000, NULL,
     "TARN_SINK_BATCH_MAX_RECORDS", "batch-max-records", "sink", 0, "records per batch"},
    {"sink", "batch_max_age", TARN_CFG_DURATION, "5s", 10, 3600 * 1000, NULL,
     "TARN_SINK_BATCH_MAX_AGE", "batch-max-age", "sink", 0, "oldest record of a batch"},
    {"sink", "metrics_listen", TARN_CFG_HOSTPORT, "127.0.0.1:9100", 0, 0, NULL,
     "TARN_SINK_METRICS_LISTEN", "metrics-listen", "serve|sink", 0, "where /metrics is"},
    {"kafka", "*", TARN_CFG_STRING, NULL, 0, 0, NULL, NULL, NULL, NULL, 0,
     "librdkafka consumer properties"},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL, NULL, NULL, 0, NULL},
};

static const tarn_cfg_alias sink_aliases[] = {
    {"KAFKA_BOOTSTRAP_SERVERS", "sink", "brokers", NULL},
    {"ACTION_LOG_SINK_BATCH_MAX_RECORDS", "sink", "batch_max_records", NULL},
    {"ACTION_LOG_SINK_BATCH_MAX_WAIT_SECONDS", "sink", "batch_max_age", "s"},
    {"SOME_OTHER_SERVICE_SETTING", "nowhere", "nothing", NULL}, /* cfg lacks it: skipped */
    {NULL, NULL, NULL, NULL},
};

static tarn_config *new_sink_cfg(void) {
  static const tarn_cfg_def *const sink_tables[] = {server_tbl, sink_tbl, NULL};
  tarn_config *cfg = NULL;
  tarn_error err;
  if (tarn_config_create(&cfg, sink_tables, &err) != 0)
    fail_msg("tarn_config_create: %s", err.detail);
  return cfg;
}

static void test_open_section(void **state) {
  tarn_config *cfg = new_sink_cfg();
  tarn_error err;
  const char *key, *value;
  char *out;
  const char *path = write_tmp("[kafka]\n"                                     /* 1 */
                               "session.timeout.ms = 6000\n"                   /* 2 */
                               "sasl.password = hunter2\n"                     /* 3 */
                               "ssl.key.password = pw-two\n"                   /* 4 */
                               "sasl.oauthbearer.client.secret = s3cr3t-val\n" /* 5 */
                               "auto.offset.reset = earliest\n"                /* 6 */
                               "[sink]\n"                                      /* 7 */
                               "brokers = b1:9092\n"                           /* 8 */
                               "[kafka]\n"                                     /* 9 */
                               "session.timeout.ms = 7000\n");                 /* 10 */
  (void)state;
  assert_int_equal(tarn_config_open_key(cfg, "kafka", 0, &key, &value), 0);
  if (tarn_config_load_file(cfg, path, &err) != 0)
    fail_msg("load: %s", err.detail);
  /* every key, in the order first set; a key set again keeps its place */
  {
    static const char *const want[][2] = {
        {"session.timeout.ms", "7000"},    {"sasl.password", "hunter2"},
        {"ssl.key.password", "pw-two"},    {"sasl.oauthbearer.client.secret", "s3cr3t-val"},
        {"auto.offset.reset", "earliest"},
    };
    size_t i;
    for (i = 0; i < 5; i++) {
      assert_int_equal(tarn_config_open_key(cfg, "kafka", i, &key, &value), 1);
      assert_string_equal(key, want[i][0]);
      assert_string_equal(value, want[i][1]);
    }
    assert_int_equal(tarn_config_open_key(cfg, "kafka", 5, &key, &value), 0);
    assert_int_equal(tarn_config_open_key(cfg, "kafka", 1000, &key, &value), 0);
  }
  assert_string_equal(tarn_config_source(cfg, "kafka", "session.timeout.ms"), source_of(path, 10));
  assert_string_equal(tarn_config_str(cfg, "kafka", "auto.offset.reset"), "earliest");
  assert_true(tarn_config_has(cfg, "kafka", "sasl.password"));
  assert_false(tarn_config_has(cfg, "kafka", "never.set"));
  /* a fixed section has no open keys, and still refuses unknown ones */
  assert_int_equal(tarn_config_open_key(cfg, "sink", 0, &key, &value), 0);
  assert_int_equal(tarn_config_open_key(cfg, "nosuch", 0, &key, &value), 0);
  assert_int_equal(tarn_config_set(cfg, "sink", "brokerz", "x", "test", &err), TARN_ECONFIG);
  assert_non_null(strstr(err.detail, "unknown key \"brokerz\""));
  /* set() adds keys too, after the file's */
  assert_int_equal(tarn_config_set(cfg, "kafka", "client.id", "sink-1", "flag --x", &err), 0);
  assert_int_equal(tarn_config_open_key(cfg, "kafka", 5, &key, &value), 1);
  assert_string_equal(key, "client.id");
  /* keys that are not keys */
  assert_int_equal(tarn_config_set(cfg, "kafka", "", "x", "test", &err), TARN_ECONFIG);
  {
    char longkey[260];
    memset(longkey, 'k', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = '\0';
    assert_int_equal(tarn_config_set(cfg, "kafka", longkey, "x", "test", &err), TARN_ECONFIG);
  }
  /* "*" names the declaration, not a key: setting it would be ignored silently */
  assert_int_equal(tarn_config_set(cfg, "kafka", "*", "x", "test", &err), TARN_ECONFIG);
  assert_non_null(strstr(err.detail, "kafka"));
  assert_int_equal(tarn_config_open_key(cfg, "kafka", 6, &key, &value), 0);

  /* printing: credentials by their names redacted, the rest shown */
  out = print_to_string(cfg, NULL, 0);
  assert_non_null(strstr(out, "[kafka]\n"));
  assert_non_null(strstr(out, "; any key: librdkafka consumer properties"));
  assert_non_null(strstr(out, "session.timeout.ms = 7000  ; "));
  assert_non_null(strstr(out, "auto.offset.reset = earliest  ; "));
  assert_non_null(strstr(out, "sasl.password = <redacted>  ; "));
  assert_non_null(strstr(out, "ssl.key.password = <redacted>  ; "));
  assert_non_null(strstr(out, "sasl.oauthbearer.client.secret = <redacted>  ; "));
  assert_non_null(strstr(out, "brokers = b1:9092  ; "));
  assert_null(strstr(out, "hunter2"));
  assert_null(strstr(out, "pw-two"));
  assert_null(strstr(out, "s3cr3t-val"));
  free(out);
  tarn_config_destroy(cfg);
}

/* Many keys: the values array grows while keys are added; everything stays in order. */
static void test_open_section_many_keys(void **state) {
  tarn_config *cfg = new_sink_cfg();
  tarn_error err;
  const char *key, *value, *first;
  char k[32], v[32];
  int i;
  (void)state;
  assert_int_equal(tarn_config_set(cfg, "kafka", "k0", "v0", "test", &err), 0);
  first = tarn_config_str(cfg, "kafka", "k0");
  for (i = 1; i < 300; i++) {
    snprintf(k, sizeof(k), "k%d", i);
    snprintf(v, sizeof(v), "v%d", i);
    assert_int_equal(tarn_config_set(cfg, "kafka", k, v, "test", &err), 0);
  }
  for (i = 0; i < 300; i++) {
    snprintf(k, sizeof(k), "k%d", i);
    snprintf(v, sizeof(v), "v%d", i);
    assert_int_equal(tarn_config_open_key(cfg, "kafka", (size_t)i, &key, &value), 1);
    assert_string_equal(key, k);
    assert_string_equal(value, v);
  }
  assert_string_equal(first, "v0"); /* values are not moved by the growth */
  assert_string_equal(tarn_config_str(cfg, "sink", "brokers"), "localhost:9092");
  tarn_config_destroy(cfg);
}

/* Every allocation of adding an open key fails in turn: TARN_ENOMEM, and the key is
 * either there with its value or not there at all (never listed with no value). */
static void test_open_section_allocation_failures(void **state) {
  long total, i;
  (void)state;
  {
    tarn_config *cfg = new_sink_cfg();
    tarn_alloc_fail_reset();
    assert_int_equal(tarn_config_set(cfg, "kafka", "a.key", "a-value", "test", NULL), 0);
    total = tarn_alloc_count();
    tarn_config_destroy(cfg);
  }
  assert_true(total > 0);
  for (i = 0; i < total; i++) {
    tarn_config *cfg = new_sink_cfg();
    tarn_error err;
    const char *key, *value;
    int rc;
    tarn_alloc_fail_after(i);
    rc = tarn_config_set(cfg, "kafka", "a.key", "a-value", "test", &err);
    tarn_alloc_fail_reset();
    assert_int_equal(rc, TARN_ENOMEM);
    if (tarn_config_open_key(cfg, "kafka", 0, &key, &value)) {
      assert_string_equal(key, "a.key");
      if (value == NULL)
        fail_msg("allocation %ld: the key is listed with no value", i);
    }
    /* and setting it again works */
    assert_int_equal(tarn_config_set(cfg, "kafka", "a.key", "a-value", "test", &err), 0);
    assert_int_equal(tarn_config_open_key(cfg, "kafka", 0, &key, &value), 1);
    assert_string_equal(value, "a-value");
    assert_int_equal(tarn_config_open_key(cfg, "kafka", 1, &key, &value), 0);
    tarn_config_destroy(cfg);
  }
}

static void test_env_aliases(void **state) {
  tarn_config *cfg;
  tarn_error err;
  (void)state;
  /* an alias alone */
  {
    char *envp[] = {"KAFKA_BOOTSTRAP_SERVERS=k1:9092,k2:9092",
                    "ACTION_LOG_SINK_BATCH_MAX_RECORDS=500",
                    "SOME_OTHER_SERVICE_SETTING=1",
                    "KAFKA_BOOTSTRAP_SERVERS_EXTRA=nope",
                    "KAFKA_BOOTSTRAP=nope",
                    NULL};
    cfg = new_sink_cfg();
    assert_int_equal(tarn_config_load_env_aliases(cfg, envp, sink_aliases, &err), 0);
    assert_string_equal(tarn_config_str(cfg, "sink", "brokers"), "k1:9092,k2:9092");
    assert_string_equal(tarn_config_source(cfg, "sink", "brokers"), "env KAFKA_BOOTSTRAP_SERVERS");
    assert_int_equal(tarn_config_int(cfg, "sink", "batch_max_records"), 500);
    assert_int_equal(tarn_config_int(cfg, "sink", "batch_max_age"), 5000); /* untouched */
    tarn_config_destroy(cfg);
  }
  /* the TARN_ variable wins, whichever comes first in the environment (aliases are
   * applied first, then TARN_*, as cli.c does) */
  {
    char *first[] = {"TARN_SINK_BROKERS=t:1", "KAFKA_BOOTSTRAP_SERVERS=k:2",
                     "ACTION_LOG_SINK_BATCH_MAX_WAIT_SECONDS=30", "TARN_SINK_BATCH_MAX_AGE=250ms",
                     NULL};
    char *last[] = {"ACTION_LOG_SINK_BATCH_MAX_WAIT_SECONDS=30", "KAFKA_BOOTSTRAP_SERVERS=k:2",
                    "TARN_SINK_BATCH_MAX_AGE=250ms", "TARN_SINK_BROKERS=t:1", NULL};
    char **envs[] = {first, last};
    int i;
    for (i = 0; i < 2; i++) {
      cfg = new_sink_cfg();
      assert_int_equal(tarn_config_load_env_aliases(cfg, envs[i], sink_aliases, &err), 0);
      assert_int_equal(tarn_config_load_env(cfg, envs[i], NULL, &err), 0);
      assert_string_equal(tarn_config_str(cfg, "sink", "brokers"), "t:1");
      assert_string_equal(tarn_config_source(cfg, "sink", "brokers"), "env TARN_SINK_BROKERS");
      assert_int_equal(tarn_config_int(cfg, "sink", "batch_max_age"), 250);
      assert_string_equal(tarn_config_source(cfg, "sink", "batch_max_age"),
                          "env TARN_SINK_BATCH_MAX_AGE");
      tarn_config_destroy(cfg);
    }
  }
  /* bare_unit: a bare number of ..._SECONDS is seconds; a unit given is kept */
  {
    static const struct {
      const char *env;
      int64_t ms;
    } cases[] = {
        {"ACTION_LOG_SINK_BATCH_MAX_WAIT_SECONDS=30", 30000},
        {"ACTION_LOG_SINK_BATCH_MAX_WAIT_SECONDS=1", 1000},
        {"ACTION_LOG_SINK_BATCH_MAX_WAIT_SECONDS=250ms", 250},
        {"ACTION_LOG_SINK_BATCH_MAX_WAIT_SECONDS=2m", 120000},
    };
    size_t i;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
      char *envp[2] = {(char *)cases[i].env, NULL};
      cfg = new_sink_cfg();
      if (tarn_config_load_env_aliases(cfg, envp, sink_aliases, &err) != 0)
        fail_msg("%s: %s", cases[i].env, err.detail);
      assert_int_equal(tarn_config_int(cfg, "sink", "batch_max_age"), cases[i].ms);
      assert_string_equal(tarn_config_source(cfg, "sink", "batch_max_age"),
                          "env ACTION_LOG_SINK_BATCH_MAX_WAIT_SECONDS");
      tarn_config_destroy(cfg);
    }
  }
  /* an invalid value names the alias variable */
  {
    static const struct {
      const char *env, *name, *value;
    } cases[] = {
        {"ACTION_LOG_SINK_BATCH_MAX_RECORDS=lots", "ACTION_LOG_SINK_BATCH_MAX_RECORDS", "lots"},
        {"ACTION_LOG_SINK_BATCH_MAX_RECORDS=0", "ACTION_LOG_SINK_BATCH_MAX_RECORDS", "0"},
        {"ACTION_LOG_SINK_BATCH_MAX_RECORDS=", "ACTION_LOG_SINK_BATCH_MAX_RECORDS", "\"\""},
        {"ACTION_LOG_SINK_BATCH_MAX_WAIT_SECONDS=soon", "ACTION_LOG_SINK_BATCH_MAX_WAIT_SECONDS",
         "soon"},
        {"ACTION_LOG_SINK_BATCH_MAX_WAIT_SECONDS=7200", "ACTION_LOG_SINK_BATCH_MAX_WAIT_SECONDS",
         "7200"},
    };
    size_t i;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
      char *envp[2] = {(char *)cases[i].env, NULL};
      int rc;
      cfg = new_sink_cfg();
      rc = tarn_config_load_env_aliases(cfg, envp, sink_aliases, &err);
      if (rc != TARN_ECONFIG)
        fail_msg("%s: rc %d, want TARN_ECONFIG", cases[i].env, rc);
      if (strstr(err.detail, cases[i].name) == NULL || strstr(err.detail, cases[i].value) == NULL)
        fail_msg("%s: \"%s\" does not name the variable and its value", cases[i].env, err.detail);
      tarn_config_destroy(cfg);
    }
  }
  /* aliases of settings the configuration lacks are skipped */
  {
    char *envp[] = {"KAFKA_BOOTSTRAP_SERVERS=x:1", NULL};
    cfg = new_cfg();
    assert_int_equal(tarn_config_load_env_aliases(cfg, envp, sink_aliases, &err), 0);
    tarn_config_destroy(cfg);
  }
}

static void test_flag_command_lists(void **state) {
  tarn_config *cfg = new_sink_cfg();
  const tarn_cfg_def *d;
  char *out;
  (void)state;
  d = tarn_config_flag(cfg, "serve", "metrics-listen");
  assert_non_null(d);
  assert_string_equal(d->key, "metrics_listen");
  assert_non_null(tarn_config_flag(cfg, "sink", "metrics-listen"));
  assert_null(tarn_config_flag(cfg, "ingest", "metrics-listen"));
  assert_null(tarn_config_flag(cfg, "ser", "metrics-listen"));
  assert_null(tarn_config_flag(cfg, "serves", "metrics-listen"));
  assert_null(tarn_config_flag(cfg, "sin", "metrics-listen"));
  assert_null(tarn_config_flag(cfg, "sinks", "metrics-listen"));
  assert_null(tarn_config_flag(cfg, "", "metrics-listen"));
  assert_null(tarn_config_flag(cfg, "erve", "metrics-listen"));
  assert_null(tarn_config_flag(cfg, NULL, "metrics-listen"));
  /* a single command is still matched whole */
  assert_non_null(tarn_config_flag(cfg, "sink", "brokers"));
  assert_null(tarn_config_flag(cfg, "serve", "brokers"));
  assert_null(tarn_config_flag(cfg, "sin", "brokers"));
  assert_null(tarn_config_flag(cfg, "sinks", "brokers"));
  assert_non_null(tarn_config_flag(cfg, "serve", "workers"));
  assert_null(tarn_config_flag(cfg, "serv", "workers"));
  assert_null(tarn_config_flag(cfg, "server", "workers"));
  /* --help of each command */
  out = print_to_string(cfg, "sink", 1);
  assert_non_null(strstr(out, "--metrics-listen"));
  assert_non_null(strstr(out, "--brokers"));
  assert_null(strstr(out, "--workers"));
  free(out);
  out = print_to_string(cfg, "serve", 1);
  assert_non_null(strstr(out, "--metrics-listen"));
  assert_null(strstr(out, "--brokers"));
  free(out);
  out = print_to_string(cfg, "ingest", 1);
  assert_null(strstr(out, "--metrics-listen"));
  free(out);
  tarn_config_destroy(cfg);
}

#define T(f) cmocka_unit_test_teardown(f, cleanup_tmp)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_defaults),
      T(test_load_file),
      T(test_load_file_missing),
      T(test_load_mem),
      T(test_file_unknown_section_and_key),
      T(test_file_long_line),
      T(test_file_out_of_range),
      T(test_rejected_value_keeps_old),
      T(test_env_beats_file),
      T(test_env_unknown_rejected),
      T(test_env_ignore_list),
      T(test_flag_beats_env),
      T(test_flag_lookup),
      T(test_print_redacts_secrets),
      T(test_parse_size),
      T(test_parse_duration),
      T(test_parse_bool),
      T(test_parse_hostport),
      T(test_parse_error_detail),
      T(test_bad_default),
      T(test_duplicate_declaration),
      T(test_empty_tables),
      T(test_allocation_failures),
      T(test_family_instances),
      T(test_family_errors),
      T(test_family_bad_declarations),
      T(test_family_allocation_failures),
      T(test_open_section),
      T(test_open_section_many_keys),
      T(test_open_section_allocation_failures),
      T(test_env_aliases),
      T(test_flag_command_lists),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
