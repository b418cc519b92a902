/* rows.h - a batch of rows held by the sink until it commits them: typed cells in one
 * arena, sorted on demand, written as Parquet data files of a table. Internal to src/sink. */
#ifndef TARN_SINK_ROWS_H
#define TARN_SINK_ROWS_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/error.h"
#include "table/table.h"

/* One cell: an integer (long, int, timestamptz) in v, or bytes at arena offset v of len
 * bytes (string, binary). */
typedef struct tarn_sink_cell {
  int64_t v;
  uint32_t len;
  uint8_t null;
} tarn_sink_cell;

/* Rows of ncols cells each. Single-threaded. */
typedef struct tarn_sink_rows {
  size_t ncols;
  tarn_sink_cell *cells; /* nrows * ncols */
  size_t nrows, cap;     /* cap in rows */
  tarn_buf arena;        /* the bytes of every byte cell */
} tarn_sink_rows;

void tarn_sink_rows_init(tarn_sink_rows *r, size_t ncols);
void tarn_sink_rows_free(tarn_sink_rows *r);
/* Empties for the next batch; keeps the buffers when they are not oversized. */
void tarn_sink_rows_reset(tarn_sink_rows *r);
/* Appends a row (every cell null) and returns its cells, or NULL (TARN_ENOMEM). */
tarn_sink_cell *tarn_sink_rows_add(tarn_sink_rows *r, tarn_error *err);
/* Drops the last row (a record that turned out to be poison half-way). */
void tarn_sink_rows_drop_last(tarn_sink_rows *r);
/* Stores n bytes into cell c (copied into the arena). */
int tarn_sink_cell_bytes(tarn_sink_rows *r, tarn_sink_cell *c, const void *p, size_t n,
                         tarn_error *err);
static inline void tarn_sink_cell_int(tarn_sink_cell *c, int64_t v) {
  c->v = v;
  c->null = 0;
}
/* Bytes the rows hold (cells and arena), for the batch's byte cap. */
size_t tarn_sink_rows_bytes(const tarn_sink_rows *r);

/*
 * Writes the rows as data files of table t (cell i goes to the column of field id i + 1,
 * wherever the current schema has it; other columns must be optional and are written
 * null), in the order of column `sort_col` ascending (stable; -1: as
 * added), so each file is sorted when the table's sort order is on that column; files get
 * sort_order_id `sort_order_id` (-1: none). The caller owns *files (tarn_ice_data_files_free)
 * and commits them. On failure nothing becomes visible.
 */
int tarn_sink_rows_write(const tarn_sink_rows *r, tarn_table *t, int sort_col,
                         int32_t sort_order_id, tarn_ice_data_file **files, size_t *nfiles,
                         tarn_error *err);

/* Writes the rows, in the order added, into an open writer of a table whose schema is
 * `schema` (cells matched by field id as above): output built in parts. */
int tarn_sink_rows_write_to(const tarn_sink_rows *r, tarn_table_writer *w,
                            const tarn_ice_schema *schema, tarn_error *err);

#endif
