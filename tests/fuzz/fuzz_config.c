/* fuzz_config.c - libFuzzer target: arbitrary bytes as a tarn INI config file and as a
 * secrets file, against the settings tables the tarn binary uses for each. A file that
 * loads must print (--print-config) as INI that loads again to the same values: the
 * printed form is a valid config file. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/config.h"
#include "base/error.h"
#include "base/settings.h"
#include "catalog/catalog.h"
#include "http/http.h"
#include "ingest/ingest.h"
#include "store/buckets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Known and left alone: print writes values as they are, and libinih reads ';' after
 * whitespace as the start of a comment. A file can still hold such a value: one that
 * starts with ';' ("path =;x", printed "path = ;x"), or a continuation line, which
 * Debian's libinih does not strip of comments. 1 when a printed setting line has a ';'
 * after whitespace before its source comment. */
static int lossy(const char *text) {
  const char *line = text;
  while (*line != '\0') {
    const char *end = strchr(line, '\n'), *p;
    int semis = 0;
    if (end == NULL)
      end = line + strlen(line);
    for (p = line + 1; p < end; p++)
      semis += *p == ';' && isspace((unsigned char)p[-1]);
    if (line[0] != ';' && semis > 1)
      return 1;
    line = *end == '\n' ? end + 1 : end;
  }
  return 0;
}

/* The config file's tables, in src/cmd/cli.c's order, and the secrets file's
 * (src/cmd/cmd_serve.c): every input is read as both. */
static const tarn_cfg_def *const config_tables[] = {tarn_base_config,         tarn_http_config,
                                                    tarn_store_bucket_config, tarn_catalog_config,
                                                    tarn_ingest_config,       NULL};
static const tarn_cfg_def *const secret_tables[] = {tarn_store_bucket_secrets,
                                                    tarn_http_token_secrets, NULL};

/* --print-config text of cfg (malloc'd), or NULL when out of memory. */
static char *print(const tarn_config *cfg, size_t *len) {
  char *text = NULL;
  FILE *f = open_memstream(&text, len);
  if (f == NULL)
    return NULL;
  tarn_config_print(cfg, f);
  if (fclose(f) != 0) {
    free(text);
    return NULL;
  }
  return text;
}

/* Cuts each line's trailing source ("  ; file X line 3", "  (default)"): a reload names
 * a different source for the same value. Works in place. */
static void drop_sources(char *text) {
  char *line = text;
  while (*line != '\0') {
    char *nl = strchr(line, '\n');
    char *end = nl != NULL ? nl : line + strlen(line);
    char *cut = NULL, *p;
    for (p = line; p + 3 <= end; p++)
      if (p[0] == ' ' && p[1] == ' ' && (p[2] == ';' || p[2] == '('))
        cut = p;
    if (cut != NULL) {
      memmove(cut, end, strlen(end) + 1);
      end = cut;
    }
    line = *end == '\n' ? end + 1 : end;
  }
}

/* Every instance of a section family ([bucket.NAME], [token.NAME]) the file created has
 * every key of its family, readable as the server reads it. */
static void instances(const tarn_config *cfg, const tarn_cfg_def *const *tables) {
  const tarn_cfg_def *const *t;
  const tarn_cfg_def *d;
  const char *section;
  size_t i;
  for (t = tables; *t != NULL; t++)
    for (d = *t; d->section != NULL; d++)
      for (i = 0; (section = tarn_config_instance(cfg, d->section, i)) != NULL; i++) {
        if (!tarn_config_has(cfg, section, d->key))
          abort();
        (void)tarn_config_str(cfg, section, d->key);
        (void)tarn_config_source(cfg, section, d->key);
      }
}

static void check(const tarn_cfg_def *const *tables, const uint8_t *data, size_t size) {
  tarn_config *cfg = NULL, *again = NULL;
  tarn_error err;
  char *first = NULL, *second = NULL;
  size_t first_len = 0, second_len = 0;
  if (tarn_config_create(&cfg, tables, &err) != 0)
    abort(); /* the tables are ours: they must build */
  if (tarn_config_load_mem(cfg, "fuzz.ini", (const char *)data, size, &err) != 0)
    goto out;
  instances(cfg, tables);
  first = print(cfg, &first_len);
  if (first == NULL)
    goto out;
  if (lossy(first))
    goto out;
  if (tarn_config_create(&again, tables, &err) != 0)
    abort();
  if (tarn_config_load_mem(again, "printed.ini", first, first_len, &err) != 0) {
    /* The one known exception: a value near libinih's line limit no longer fits once
     * print adds its "  ; file ... line N" comment. */
    if (err.code != TARN_ENOMEM && strstr(err.detail, "line longer than") == NULL)
      abort(); /* --print-config wrote something that is not a valid config file */
    goto out;
  }
  second = print(again, &second_len);
  if (second == NULL)
    goto out;
  drop_sources(first);
  drop_sources(second);
  if (strcmp(first, second) != 0)
    abort(); /* a value changed on the way through the printed file */
out:
  free(second);
  free(first);
  tarn_config_destroy(again);
  tarn_config_destroy(cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  check(config_tables, data, size);
  check(secret_tables, data, size);
  return 0;
}
