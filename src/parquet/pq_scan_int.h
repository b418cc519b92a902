/* pq_scan_int.h - what the scan's files share: the scan's state (cursors per column,
 * predicate tree, page-index cache) and the steps each file offers the others.
 * pq_scan.c: row groups, batches and the public calls; pq_scan_pages.c: reading and
 * decoding pages; pq_scan_prune.c: planning and pruning by statistics, bloom filters and
 * the page index. Single-threaded, like the scan. */
#ifndef TARN_PARQUET_PQ_SCAN_INT_H
#define TARN_PARQUET_PQ_SCAN_INT_H

#include "pq_read_int.h"

typedef struct rrange {
  int64_t start, end; /* rows [start, end) of the row group */
} rrange;

typedef struct rranges {
  rrange *r;
  size_t n, cap;
} rranges;

/* One projected column's reading state within the current row group. */
typedef struct colcur {
  size_t col;
  const tarn_pq_column *c;
  const tarn_pq_chunk_meta *cm;
  int w; /* bytes per value as held in a page; 0 for BYTE_ARRAY */
  int64_t rg_rows;
  tarn_buf chunk;    /* the chunk bytes that were read */
  int64_t chunk_off; /* file offset of chunk.data[0] */
  size_t pos;        /* next page header within chunk */
  int64_t next_row;  /* first row of the page at pos */
  tarn__pq_offset_index oi;
  int have_oi, dict_scanned;
  /* dictionary */
  uint8_t *dict_buf;
  uint8_t *dict_vals;
  tarn__pq_view *dict_views;
  size_t dict_n;
  int have_dict;
  /* current page, expanded to one slot per row */
  int pg_loaded;
  int64_t pg_first, pg_rows, pg_nulls;
  int pg_dict; /* values are dictionary indexes: pidx[row] (null rows: dict_n) */
  const uint32_t *pidx;
  uint32_t *xidx; /* indexes expanded to one per row when the page has nulls */
  size_t xidx_cap;
  const uint8_t *pv; /* fixed-width values (w bytes per row, null slots zero) */
  const tarn__pq_view *pviews;
  uint8_t *defs; /* 1 = present, per row (valid when pg_nulls > 0) */
  size_t defs_cap;
  uint8_t *page_buf;
  size_t page_cap;
  uint8_t *vals;
  size_t vals_cap;
  uint8_t *dense;
  size_t dense_cap;
  tarn__pq_view *views;
  size_t views_cap;
  tarn__pq_view *dviews;
  size_t dviews_cap;
  uint32_t *idx;
  size_t idx_cap;
  uint8_t *dba;
  int64_t pages_seen, pages_decoded;
} colcur;

/*
 * The scan's filter: the options' flat predicates and filter tree, copied into one tree
 * whose root is an AND. Each leaf owns its literal's bytes. Index structures a leaf needs
 * (column and offset index, bloom filter) are read once per row group and column and
 * kept in `cache`, so an IN list of many values reads each of them once.
 */
typedef struct fnode {
  tarn_pq_filter_kind kind;
  tarn_pq_predicate p;
  uint8_t *lit;
  struct fnode *kids;
  size_t nkids;
} fnode;

typedef struct pcache {
  size_t col;
  size_t rg_plus1; /* row group + 1 the entries below belong to; 0 = none */
  int idx_state;   /* 0 not read, 1 read, -1 absent */
  tarn__pq_column_index ci;
  tarn__pq_offset_index oi;
  int bloom_state; /* 0 not read, 1 read, -1 absent or unsupported */
  tarn_buf bloom;
} pcache;

struct tarn_pq_scan {
  tarn_pq_reader *r;
  const tarn_pq_file_meta *m;
  size_t *proj;
  size_t nproj;
  fnode root;    /* the filter: an AND of the options' preds and filter */
  pcache *cache; /* one per column the filter names */
  size_t ncache;
  int64_t batch_rows;
  size_t rg_next, rg_end;
  /* current row group */
  int in_rg;
  size_t rg;
  rranges ranges;
  size_t range_i;
  int64_t row; /* next row to return within ranges[range_i] */
  colcur *cur; /* nproj cursors */
  tarn_buf tmp;
  tarn__pq_codec_ctx codec; /* decompression state kept across pages */
  tarn_pq_scan_stats stats;
  /* buffers of batches given back by tarn_pq_scan_recycle, one set per projected column,
   * and the last such batch's shell (its struct and column array) */
  struct spare {
    void *values;
    size_t values_cap;
    uint8_t *validity;
    size_t validity_cap;
    int64_t *offsets;
    size_t offsets_cap;
    uint8_t *data;
    size_t data_cap;
  } * spare;
  tarn_pq_batch *spare_batch;
};

/* ---- errors ---- */

#define COL_ERR(err, s, cc, code, off, ...)                                                        \
  tarn__pqs_col_error((err), (s)->r->name, (cc)->c->name, (s)->rg, (code), (off), __VA_ARGS__)

/* ---- pq_scan.c ---- */

/* A corrupt or unreadable column: the detail names file, offset, row group and column. */
int tarn__pqs_col_error(tarn_error *err, const char *file, const char *col, size_t rg, int code,
                        int64_t off, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
int tarn__pqs_grow(void **p, size_t *cap, size_t need, size_t elem);
int tarn__pqs_ranges_push(rranges *rr, int64_t a, int64_t b);
int tarn__pqs_ranges_intersect(const rranges *a, const rranges *b, rranges *out);

/* ---- pq_scan_pages.c ---- */

void tarn__pqs_cur_free(colcur *cc);
void tarn__pqs_cur_reset(colcur *cc);
int tarn__pqs_cur_seek(tarn_pq_scan *s, colcur *cc, int64_t row, tarn_error *err);
int tarn__pqs_scan_dictionary(tarn_pq_scan *s, colcur *cc, tarn_error *err);

/* ---- pq_scan_prune.c ---- */

int tarn__pqs_filter_open(tarn_pq_scan *s, const tarn_pq_scan_options *opts, tarn_error *err);
void tarn__pqs_filter_close(tarn_pq_scan *s);
int tarn__pqs_node_excludes(tarn_pq_scan *s, const tarn_pq_row_group_meta *g, const fnode *n,
                            int use_bloom, tarn_error *err);
int tarn__pqs_load_offset_index(tarn_pq_scan *s, const tarn_pq_row_group_meta *g, size_t col,
                                tarn__pq_offset_index *oi, tarn_error *err);
int64_t tarn__pqs_page_end_row(const tarn__pq_offset_index *oi, size_t k, int64_t nrows);
int tarn__pqs_prune_by_page_index(tarn_pq_scan *s, const tarn_pq_row_group_meta *g,
                                  tarn_error *err);

#endif
