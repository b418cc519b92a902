/* cmd_table_maint.c - `tarn table` expire and remove-orphans: snapshot expiry and the
 * sweep of unreferenced files, with --older-than, --keep-last and --dry-run. */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/settings.h"
#include "cmd_table_int.h"
#include "cmds.h"
#include "csv/csv.h"

/* ---- maintenance ---- */

/* An age ("7d", "90m") before now, or an ISO-8601 time, as Unix milliseconds. */
static int parse_cutoff(const char *s, int64_t *ms) {
  int64_t d, us;
  int32_t day;
  int zone;
  if (tarn_parse_duration_ms(s, &d, NULL) == 0 && d >= 0) {
    *ms = tarn_clock_wall_us() / 1000 - d;
    return 0;
  }
  if (tarn_csv_parse_timestamp(s, strlen(s), &us, &zone) == 0) {
    *ms = us >= 0 ? us / 1000 : -((-us + 999) / 1000);
    return 0;
  }
  if (tarn_csv_parse_date(s, strlen(s), &day) == 0) {
    *ms = (int64_t)day * 86400000LL;
    return 0;
  }
  return -1;
}

static int prop_int(const tarn_ice_metadata *m, const char *key, int64_t def) {
  const char *v = tarn_ice_metadata_property(m, key);
  char *end;
  long long n;
  if (v == NULL)
    return (int)def;
  errno = 0;
  n = strtoll(v, &end, 10);
  return errno == 0 && end != v && *end == '\0' && n >= 0 && n <= INT_MAX ? (int)n : (int)def;
}

int table_expire(table_cx *x) {
  tarn_table *t = NULL;
  tarn_table_expire_result res;
  tarn_error err;
  const tarn_ice_metadata *m;
  int64_t cutoff;
  const char *v;
  char iso[TARN_TIME_ISO_MAX];
  int keep, rc = table_open(x, &t);
  if (rc != TARN_EXIT_OK)
    return rc;
  m = tarn_table_metadata(t);
  v = x->c.opt_values[TOPT_OLDER_THAN];
  if (v != NULL) {
    if (parse_cutoff(v, &cutoff) != 0) {
      cli_error("table", "--older-than \"%s\": expected an age (90m, 7d) or an ISO-8601 time", v);
      tarn_table_close(t);
      return TARN_EXIT_USAGE;
    }
  } else {
    const char *age = tarn_ice_metadata_property(m, "history.expire.max-snapshot-age-ms");
    long long a = age ? strtoll(age, NULL, 10) : 0;
    cutoff = tarn_clock_wall_us() / 1000 - (a > 0 ? a : 5LL * 86400000LL);
  }
  keep = prop_int(m, "history.expire.min-snapshots-to-keep", 1);
  v = x->c.opt_values[TOPT_KEEP_LAST];
  if (v != NULL) {
    char *end;
    long n;
    errno = 0;
    n = strtol(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || n < 1 || n > INT_MAX) {
      cli_error("table", "--keep-last \"%s\": expected a positive integer", v);
      tarn_table_close(t);
      return TARN_EXIT_USAGE;
    }
    keep = (int)n;
  }
  if (tarn_table_expire_snapshots(t, cutoff, keep, &res, &err) != 0) {
    cli_error("table", "expiring snapshots of %s.%s: %s", x->ns, x->name, tarn_error_message(&err));
    tarn_table_close(t);
    return TARN_EXIT_FAIL;
  }
  table_iso_ms(cutoff, iso, sizeof(iso));
  if (x->json) {
    json_t *o = json_object();
    json_object_set_new(o, "table", json_sprintf("%s.%s", x->ns, x->name));
    json_object_set_new(o, "older_than", json_string(iso));
    json_object_set_new(o, "keep_last", json_integer(keep));
    json_object_set_new(o, "snapshots_expired", json_integer((json_int_t)res.snapshots_expired));
    json_object_set_new(o, "files_deleted", json_integer((json_int_t)res.files_deleted));
    json_object_set_new(o, "snapshots_left",
                        json_integer((json_int_t)tarn_table_metadata(t)->nsnapshots));
    table_print_json(o);
    json_decref(o);
  } else {
    printf("%s.%s: expired %zu snapshot%s older than %s (keeping the newest %d), deleted %zu "
           "file%s; %zu snapshot%s left\n",
           x->ns, x->name, res.snapshots_expired, res.snapshots_expired == 1 ? "" : "s", iso, keep,
           res.files_deleted, res.files_deleted == 1 ? "" : "s", tarn_table_metadata(t)->nsnapshots,
           tarn_table_metadata(t)->nsnapshots == 1 ? "" : "s");
  }
  tarn_table_close(t);
  return TARN_EXIT_OK;
}

typedef struct orphan_cx {
  table_cx *x;
  json_t *arr;
  uint64_t bytes;
  int dry_run;
} orphan_cx;

static void each_orphan(const char *key, uint64_t size, void *arg) {
  orphan_cx *o = arg;
  o->bytes += size;
  if (o->arr != NULL) {
    json_t *e = json_object();
    json_object_set_new(e, "key", json_string(key));
    json_object_set_new(e, "uri", json_sprintf("%s%s", o->x->root_uri, key));
    json_object_set_new(e, "size", json_integer((json_int_t)size));
    json_array_append_new(o->arr, e);
  } else {
    printf("%s %s (%llu bytes)\n", o->dry_run ? "would remove" : "removing", key,
           (unsigned long long)size);
  }
}

int table_remove_orphans(table_cx *x) {
  tarn_table *t = NULL;
  tarn_error err;
  orphan_cx o;
  int64_t cutoff;
  size_t removed = 0;
  const char *v = x->c.opt_values[TOPT_OLDER_THAN];
  int rc;
  memset(&o, 0, sizeof(o));
  o.x = x;
  o.dry_run = x->c.opt_values[TOPT_DRY_RUN] != NULL;
  if (parse_cutoff(v != NULL ? v : "3d", &cutoff) != 0) {
    cli_error("table", "--older-than \"%s\": expected an age (90m, 3d) or an ISO-8601 time", v);
    return TARN_EXIT_USAGE;
  }
  rc = table_open(x, &t);
  if (rc != TARN_EXIT_OK)
    return rc;
  if (x->json)
    o.arr = json_array();
  if (tarn_table_remove_orphans(t, cutoff, o.dry_run, each_orphan, &o, &removed, &err) != 0) {
    cli_error("table", "removing orphan files of %s.%s: %s", x->ns, x->name,
              tarn_error_message(&err));
    json_decref(o.arr);
    tarn_table_close(t);
    return TARN_EXIT_FAIL;
  }
  if (x->json) {
    json_t *j = json_object();
    json_object_set_new(j, "table", json_sprintf("%s.%s", x->ns, x->name));
    json_object_set_new(j, "dry_run", json_boolean(o.dry_run));
    json_object_set_new(j, "count", json_integer((json_int_t)removed));
    json_object_set_new(j, "bytes", json_integer((json_int_t)o.bytes));
    json_object_set_new(j, "orphans", o.arr);
    table_print_json(j);
    json_decref(j);
  } else {
    printf("%s.%s: %zu orphan file%s, %llu bytes%s\n", x->ns, x->name, removed,
           removed == 1 ? "" : "s", (unsigned long long)o.bytes,
           o.dry_run ? " (dry run: nothing removed)" : " removed");
  }
  tarn_table_close(t);
  return TARN_EXIT_OK;
}
