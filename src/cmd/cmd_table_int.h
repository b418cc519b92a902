/* cmd_table_int.h - what the files of `tarn table` share (cmd_table.c: dispatch, catalog
 * and metadata subcommands; cmd_table_rows.c: scan, append, overwrite). */
#ifndef TARN_CMD_TABLE_INT_H
#define TARN_CMD_TABLE_INT_H

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
  const char *sub;      /* the subcommand name */
  char *ns, *name;      /* from NS.NAME (owned) */
  tarn_lake *lake;      /* the lake (tarn_lake_open); the four below are its */
  tarn_store *store;
  const char *root_uri; /* "file://" + realpath(lake) + "/" */
  tarn_table_io io;
  tarn_catalog *cat;
  int json;             /* --json */
} table_cx;

/* Loads x->ns.x->name; on failure prints the error naming the table. */
int table_open(table_cx *x, tarn_table **out);

/* The subcommands of cmd_table_rows.c. */
int table_scan(table_cx *x);
int table_write(table_cx *x, int overwrite);

#endif
