/* pq_writer_int.h - what the Parquet writer's files share: its state (one writer, one
 * column being written) and the steps each file offers the others. pq_writer.c: sinks,
 * schema and options, batches, open/close; pq_writer_values.c: appending values to pages;
 * pq_writer_pages.c: pages, dictionary and page-index entries; pq_writer_chunks.c: column
 * chunks, bloom filters, row groups and the footer. Single-threaded, like the writer. */
#ifndef TARN_PARQUET_PQ_WRITER_INT_H
#define TARN_PARQUET_PQ_WRITER_INT_H

#include "pq_write_int.h"

typedef struct colw {
  tarn_pq_column *col; /* in w->meta.schema */
  int width;           /* PLAIN bytes per value: 4, 8, FLBA n; 0 BYTE_ARRAY and BOOLEAN */
  int dict_on;         /* dictionary wanted for this column */
  int dict_active;     /* the current chunk still encodes with the dictionary */
  int dict_probed;     /* the chunk's dictionary was tested against PLAIN already */
  int bloom;
  double fpp;
  int64_t ndv;

  /* current page */
  tarn_buf defs; /* definition levels as a bitmap (OPTIONAL columns) */
  tarn_buf vals; /* PLAIN bytes, BOOLEAN bits, or uint32 dictionary indexes */
  int64_t page_rows;
  int64_t page_bits; /* BOOLEAN values in vals */
  tarn__pq_acc page_acc;

  /* current column chunk */
  tarn_buf chunk; /* encoded data pages (headers included) */
  int64_t chunk_rows;
  int64_t chunk_unc; /* uncompressed bytes of the data pages, headers included */
  int32_t dict_pages, plain_pages;
  tarn__pq_dict dict;
  tarn__pq_acc chunk_acc;
  tarn__pq_offset_index oi;
  size_t oi_cap;
  tarn__pq_column_index ci;
  size_t ci_cap;
  int ci_ok; /* 0 once a page had values but no bounds (all NaN) */
  uint8_t *bloom_bits;
  size_t bloom_alloc; /* bytes allocated (sized for a full row group) */

  /* whole file */
  tarn__pq_acc file_acc;
  int64_t file_values, file_compressed;
} colw;

struct tarn_pq_writer {
  tarn__pq_sink *sink;
  /* resolved options */
  tarn_pq_codec codec;
  int level;
  int v2;
  size_t page_size, row_group_size, dict_cap, truncate;
  int64_t rg_cap;
  int64_t page_rows_cap; /* rows per data page at most */
  int no_stats, no_index;

  tarn_pq_file_meta meta; /* the footer as built so far */
  tarn__pq_chunk_extra *extra;
  size_t rg_alloc;
  colw *cols;
  int64_t rg_rows; /* rows in the row group being built */

  int rc; /* sticky error */
  tarn_error err;

  /* scratch, reused across pages */
  tarn__pq_codec_ctx codec_ctx;
  tarn_buf lev, venc, asm_, cbuf, tmp;
  tarn_pq_stats pst;
  uint32_t *fresh;
  size_t fresh_cap;
  /* page indexes of every chunk, written after the last row group */
  tarn_buf pidx_ci, pidx_oi;
};

/* Keeps the first error (sticky); returns it. */
static inline int tarn__pqw_fail(tarn_pq_writer *w, int rc) {
  if (w->rc == 0)
    w->rc = rc != 0 ? rc : TARN_EINTERNAL;
  return w->rc;
}

static inline int tarn__pqw_bit_at(const uint8_t *b, int64_t i) {
  return (b[i >> 3] >> (i & 7)) & 1;
}

/* ---- pq_writer_pages.c ---- */

tarn__pq_boundary_order tarn__pqw_boundary_order(const tarn_pq_column *c,
                                                 const tarn__pq_column_index *ci);
size_t tarn__pqw_page_estimate(const colw *cw);
int tarn__pqw_is_float(const tarn_pq_column *c);
int tarn__pqw_flush_page(tarn_pq_writer *w, colw *cw);
int tarn__pqw_probe_early(tarn_pq_writer *w, colw *cw);

/* ---- pq_writer_values.c ---- */

int tarn__pqw_bloom_ensure(tarn_pq_writer *w, colw *cw);
int tarn__pqw_col_append(tarn_pq_writer *w, colw *cw, const tarn_pq_array *a, int64_t s, int64_t n);

/* ---- pq_writer_chunks.c ---- */

int tarn__pqw_flush_row_group(tarn_pq_writer *w);
size_t tarn__pqw_rg_bytes(const tarn_pq_writer *w);
int tarn__pqw_fill_info(tarn_pq_writer *w, tarn_pq_file_info *fi, int64_t size);
int tarn__pqw_finish_file(tarn_pq_writer *w);

#endif
