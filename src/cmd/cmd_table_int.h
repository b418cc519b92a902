/* cmd_table_int.h - what the files of `tarn table` share (cmd_table.c: options, help and
 * dispatch; cmd_table_meta.c: create, list, show, snapshots, add-column, set-properties;
 * cmd_table_maint.c: expire, remove-orphans; cmd_table_rows.c: scan, append, overwrite). */
#ifndef TARN_CMD_TABLE_INT_H
#define TARN_CMD_TABLE_INT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "catalog/catalog.h"
#include "cli.h"
#include "store/store.h"
#include "table/lake.h"
#include "table/table.h"

/* Options of `tarn table`, in the order of table_opts[] in cmd_table.c. */
enum {
  TOPT_JSON,
  TOPT_CATALOG,
  TOPT_SCHEMA,
  TOPT_PARTITION,
  TOPT_SORT,
  TOPT_PROPERTY,
  TOPT_LOCATION,
  TOPT_SNAPSHOT,
  TOPT_AS_OF,
  TOPT_WHERE,
  TOPT_COLUMNS,
  TOPT_LIMIT,
  TOPT_FORMAT,
  TOPT_STATS,
  TOPT_JSONL,
  TOPT_DYNAMIC,
  TOPT_OLDER_THAN,
  TOPT_KEEP_LAST,
  TOPT_DRY_RUN,
  TOPT_DOC,
  TOPT_COMMIT_EACH,
  TOPT_COUNT
};

/* One run of a table subcommand: the parsed command line, the lake and the catalog. */
typedef struct table_cx {
  cli c;
  const char *sub; /* the subcommand name */
  char *ns, *name; /* from NS.NAME (owned) */
  tarn_lake *lake; /* the lake (tarn_lake_open); the four below are its */
  tarn_store *store;
  const char *root_uri; /* "file://" + realpath(lake) + "/" */
  tarn_table_io io;
  tarn_catalog *cat;
  int json; /* --json */
} table_cx;

/* Loads x->ns.x->name; on failure prints the error naming the table. */
int table_open(table_cx *x, tarn_table **out);

/* Prints j indented, in insertion order, with a newline. */
void table_print_json(json_t *j);
/* Unix milliseconds as ISO-8601 UTC with milliseconds. */
void table_iso_ms(int64_t ms, char *out, size_t n);

/* The subcommands; each returns a TARN_EXIT_* status and prints its own errors. */
/* cmd_table_meta.c */
int table_create(table_cx *x);
int table_list(table_cx *x);
int table_show(table_cx *x);
int table_snapshots(table_cx *x);
int table_add_column(table_cx *x);
int table_set_properties(table_cx *x);
/* cmd_table_maint.c */
int table_expire(table_cx *x);
int table_remove_orphans(table_cx *x);
/* cmd_table_rows.c */
int table_scan(table_cx *x);
int table_write(table_cx *x, int overwrite);

#endif
