/* cmd_datasets.c - `tarn datasets list|show|resync|resync-missing`: the dataset catalog,
 * straight on the lake. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/settings.h"
#include "cli.h"
#include "cmds.h"
#include "ingest/ingest.h"
#include "rowfmt.h"
#include "table/lake.h"
#include "ingest/ingest.h"

static const cli_opt datasets_opts[] = {
    {"json", 0, NULL, "print JSON (the bodies the /catalog/ routes answer)"},
    {NULL, 0, NULL, NULL},
};
enum { OPT_JSON };

static void print_datasets_help(const cli *c) {
  printf("Usage: tarn datasets list [--json]\n"
         "       tarn datasets show NAME [--json]\n"
         "       tarn datasets resync NAME\n"
         "       tarn datasets resync-missing\n\n"
         "The dataset catalog: the Iceberg tables datasets.NAME that `tarn ingest` and\n"
         "POST /ingest create.\n"
         "  list            one line per dataset: rows, columns, data files, size, last update\n"
         "  show            the manifest view: id, fingerprint, source, columns, data objects,\n"
         "                  row count, times, current snapshot\n"
         "  resync          recompute the row count and columns of NAME from the footers of\n"
         "                  its Parquet files and store them as table properties\n"
         "  resync-missing  resync every dataset whose properties lack them\n"
         "Exit codes: 0 ok, 1 failed (no such dataset, storage or catalog failure), 2 usage.\n");
  cli_print_options(c, datasets_opts, stdout);
}

static void print_json(json_t *j) {
  char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
  if (text != NULL)
    printf("%s\n", text);
  tarn_free(text);
}

static const char *str_or(const json_t *o, const char *key, const char *dflt) {
  const char *s = json_string_value(json_object_get(o, key));
  return s ? s : dflt;
}

static long long int_or(const json_t *o, const char *key, long long dflt) {
  const json_t *v = json_object_get(o, key);
  return json_is_integer(v) ? (long long)json_integer_value(v) : dflt;
}

static int do_list(const tarn_ingest_env *env, int json, tarn_error *err) {
  tarn_catalog_names names;
  json_t *arr = json_array(), *out = NULL;
  size_t i;
  int rc;
  tarn_catalog_names_init(&names);
  rc = arr ? tarn_datasets_list(env, &names, err)
           : tarn_error_set(err, TARN_ENOMEM, "out of memory");
  for (i = 0; rc == 0 && i < names.count; i++) {
    json_t *s = NULL;
    tarn_error e;
    if (tarn_dataset_summary(env, names.items[i], &s, &e) != 0)
      s = json_pack("{s:s,s:{s:s,s:s}}", "name", names.items[i], "error", "code",
                    tarn_err_name(e.code), "message", tarn_error_message(&e));
    json_array_append_new(arr, s);
  }
  if (rc != 0)
    goto out;
  if (json) {
    out = json_pack("{s:I,s:O}", "count", (json_int_t)names.count, "datasets", arr);
    print_json(out);
    goto out;
  }
  if (names.count == 0) {
    printf("no datasets yet (tarn ingest FILE.csv --name NAME creates one)\n");
    goto out;
  }
  printf("%-32s %12s %7s %5s %10s  %-24s %s\n", "NAME", "ROWS", "COLUMNS", "FILES", "SIZE",
         "UPDATED", "FINGERPRINT");
  for (i = 0; i < json_array_size(arr); i++) {
    const json_t *s = json_array_get(arr, i);
    char size[24];
    if (json_object_get(s, "error") != NULL) {
      printf("%-32s error: %s\n", str_or(s, "name", "?"),
             str_or(json_object_get(s, "error"), "message", "?"));
      continue;
    }
    printf("%-32s %12lld %7lld %5lld %10s  %-24s %.19s\n", str_or(s, "name", "?"),
           int_or(s, "row_count", -1), int_or(s, "column_count", -1), int_or(s, "data_files", 0),
           rowfmt_bytes((double)int_or(s, "total_size", 0), size, sizeof(size)),
           str_or(s, "updated_at", "-"), str_or(s, "fingerprint", "-"));
  }
out:
  json_decref(out);
  json_decref(arr);
  tarn_catalog_names_free(&names);
  return rc;
}

static void print_manifest(const json_t *m) {
  const json_t *v;
  size_t i, w = 6;
  long long cs = int_or(m, "current_snapshot_id", -1);
  printf("dataset      datasets.%s\n", str_or(m, "name", "?"));
  printf("id           %s\n", str_or(m, "dataset_id", "-"));
  printf("fingerprint  %s\n", str_or(m, "fingerprint", "-"));
  printf("source       %s\n", str_or(m, "source", "-"));
  if (int_or(m, "row_count", -1) >= 0)
    printf("rows         %lld\n", int_or(m, "row_count", -1));
  else
    printf("rows         unknown (tarn datasets resync %s)\n", str_or(m, "name", "?"));
  printf("created      %s\n", str_or(m, "created_at", "-"));
  printf("updated      %s\n", str_or(m, "updated_at", "-"));
  if (cs >= 0)
    printf("snapshot     %lld\n", cs);
  else
    printf("snapshot     none\n");
  json_array_foreach(json_object_get(m, "columns"), i, v) if (strlen(str_or(v, "name", "")) > w) w =
      strlen(str_or(v, "name", ""));
  if (w > 40)
    w = 40;
  printf("columns (%zu):\n", json_array_size(json_object_get(m, "columns")));
  json_array_foreach(json_object_get(m, "columns"), i, v)
      /* every dataset column is optional in the table's schema (a later file may bring
     * nulls, as `tarn table show` says); "nullable" reports whether any null came yet */
      printf("  %-*s  %-11s  optional, %s\n", (int)w, str_or(v, "name", "?"),
             str_or(v, "type", "?"),
             json_is_true(json_object_get(v, "nullable")) ? "has nulls" : "no nulls so far");
  printf("objects (%zu):\n", json_array_size(json_object_get(m, "objects")));
  json_array_foreach(json_object_get(m, "objects"), i, v) {
    char size[24];
    printf("  %s  %s\n", str_or(v, "key", "?"),
           rowfmt_bytes((double)int_or(v, "size", 0), size, sizeof(size)));
  }
}

int cmd_datasets(const tarn_command *self, int argc, char **argv) {
  cli c;
  tarn_lake *lake = NULL;
  tarn_ingest_env env;
  tarn_error err;
  const char *sub;
  int rc, json, need_name;
  memset(&env, 0, sizeof(env));
  tarn_error_clear(&err);
  rc = cli_parse(&c, self->name, argc, argv, datasets_opts, tarn_cmd_tables);
  if (rc != TARN_EXIT_OK)
    goto out;
  if (c.help) {
    print_datasets_help(&c);
    goto out;
  }
  rc = TARN_EXIT_USAGE;
  json = c.opt_values[OPT_JSON] != NULL;
  if (c.nargs == 0) {
    cli_error(self->name, "which subcommand? list, show NAME, resync NAME or resync-missing");
    goto out;
  }
  sub = c.args[0];
  if (strcmp(sub, "list") != 0 && strcmp(sub, "show") != 0 && strcmp(sub, "resync") != 0 &&
      strcmp(sub, "resync-missing") != 0) {
    cli_error(self->name, "unknown subcommand \"%s\" (list, show, resync, resync-missing)", sub);
    goto out;
  }
  need_name = strcmp(sub, "show") == 0 || strcmp(sub, "resync") == 0;
  if (c.nargs != 1 + need_name) {
    cli_error(self->name, need_name ? "%s takes one dataset NAME" : "%s takes no arguments", sub);
    goto out;
  }
  if (need_name && tarn_dataset_name_check(c.args[1], &err) != 0) {
    cli_error(self->name, "%s", tarn_error_message(&err));
    goto out;
  }
  tarn_settings_apply_log(c.cfg);
  rc = TARN_EXIT_FAIL;
  /* list and show only read: they never create a lake */
  if (tarn_lake_open(
          c.cfg, strcmp(sub, "list") == 0 || strcmp(sub, "show") == 0 ? TARN_LAKE_MUST_EXIST : 0,
          &lake, &err) != 0) {
    cli_error(self->name, "%s", tarn_error_message(&err));
    goto out;
  }
  env.cat = lake->cat;
  env.io = &lake->io;
  env.spool_dir = lake->spool_dir;
  if (strcmp(sub, "list") == 0) {
    if (do_list(&env, json, &err) != 0)
      goto fail;
  } else if (strcmp(sub, "show") == 0) {
    json_t *m = NULL;
    if (tarn_dataset_manifest(&env, c.args[1], &m, &err) != 0)
      goto fail;
    if (json)
      print_json(m);
    else
      print_manifest(m);
    json_decref(m);
  } else if (strcmp(sub, "resync") == 0) {
    int changed = 0;
    if (tarn_dataset_resync(&env, c.args[1], &changed, &err) != 0)
      goto fail;
    if (json) {
      json_t *j = json_pack("{s:s,s:b}", "name", c.args[1], "changed", changed);
      print_json(j);
      json_decref(j);
    } else {
      printf("datasets.%s: row count and columns recomputed from its Parquet footers; %s\n",
             c.args[1], changed ? "the stored properties were updated" : "they were right");
    }
  } else {
    json_t *report = NULL, *v;
    size_t i;
    int failed;
    if (tarn_datasets_resync_missing(&env, &report, &err) != 0)
      goto fail;
    failed = json_array_size(json_object_get(report, "failed")) > 0;
    if (json) {
      print_json(report);
    } else {
      json_array_foreach(json_object_get(report, "resynced"), i, v)
          printf("resynced datasets.%s\n", json_string_value(v));
      json_array_foreach(json_object_get(report, "failed"), i, v)
          fprintf(stderr, "tarn datasets: resync of datasets.%s failed: %s\n",
                  str_or(v, "name", "?"), str_or(v, "error", "?"));
      printf("%zu resynced, %zu failed\n", json_array_size(json_object_get(report, "resynced")),
             json_array_size(json_object_get(report, "failed")));
    }
    json_decref(report);
    if (failed)
      goto out;
  }
  rc = TARN_EXIT_OK;
  goto out;
fail:
  cli_error(self->name, "%s", tarn_error_message(&err));
out:
  tarn_lake_close(lake);
  cli_free(&c);
  return rc;
}
