/* ingest_opts.c - the [ingest] settings and the parsers for what users write as options. */
#include "ingest.h"

#include <string.h>

const tarn_cfg_def tarn_ingest_config[] = {
    {"ingest", "max_upload", TARN_CFG_SIZE, "1GiB", 1, 1LL << 40, NULL, "TARN_MAX_UPLOAD",
     "max-upload", "serve", 0,
     "largest CSV upload POST /ingest accepts, multipart framing included (bigger: 413)"},
    {"ingest", "threads", TARN_CFG_INT, "1", 1, 2, NULL, "TARN_INGEST_THREADS", "threads", "ingest",
     0,
     "threads per ingest: 2 converts rows and writes Parquet at once (and hashes the CSV "
     "aside)"},
    {"ingest", "memory_budget", TARN_CFG_SIZE, "256MiB", 16LL << 20, 1LL << 40, NULL,
     "TARN_INGEST_MEMORY_BUDGET", NULL, NULL, 0,
     "the most one ingest may use; a file whose columns cannot fit it is refused (413)"},
    {"ingest", "max_memory", TARN_CFG_SIZE, "1GiB", 0, 1LL << 42, NULL, "TARN_INGEST_MAX_MEMORY",
     NULL, NULL, 0,
     "tarn serve: what the ingests converting at once may use together; one that would pass "
     "it waits for memory (0 = no cap)"},
    {"ingest", "queue_timeout", TARN_CFG_DURATION, "30s", 0, 3600 * 1000, NULL, NULL, NULL, NULL, 0,
     "tarn serve: how long an ingest waits for memory before 503 with Retry-After"},
    {"ingest", "db_hosts", TARN_CFG_STRING, NULL, 0, 0, NULL, "TARN_INGEST_DB_HOSTS", NULL, NULL, 0,
     "tarn serve: the PostgreSQL hosts POST /ingest/db may read from, comma-separated HOST or "
     "HOST:PORT (unset: any TCP host)"},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL, NULL, NULL, 0, NULL},
};

int tarn_ingest_parse_delimiter(const char *s, char *out, tarn_error *err) {
  static const struct {
    const char *text;
    char c;
  } names[] = {{",", ','},    {"comma", ','}, {";", ';'},    {"semicolon", ';'}, {"|", '|'},
               {"pipe", '|'}, {"\t", '\t'},   {"\\t", '\t'}, {"tab", '\t'}};
  size_t i;
  if (s == NULL || s[0] == '\0' || strcmp(s, "auto") == 0) {
    *out = 0; /* detect it from the file */
    return 0;
  }
  for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    if (strcmp(s, names[i].text) == 0) {
      *out = names[i].c;
      return 0;
    }
  }
  return tarn_error_set(err, TARN_EINVAL,
                        "delimiter \"%.32s\" is not supported: use ',' ';' '|', a tab "
                        "(written as a tab, \\t or tab), or auto (detect it)",
                        s);
}

int tarn_ingest_parse_mode(const char *s, int *append, tarn_error *err) {
  if (s == NULL || s[0] == '\0' || strcmp(s, "replace") == 0) {
    *append = 0;
    return 0;
  }
  if (strcmp(s, "append") == 0) {
    *append = 1;
    return 0;
  }
  return tarn_error_set(err, TARN_EINVAL, "mode \"%.32s\" is not one of replace, append", s);
}
