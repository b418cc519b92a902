/* pq_meta_write.c - encodes Parquet's Thrift structs: FileMetaData, PageHeader,
 * ColumnIndex, OffsetIndex and BloomFilterHeader (field ids as in parquet.thrift). */
#include "pq_write_int.h"

#include <string.h>

/* ConvertedType values of parquet.thrift. */
enum {
  CT_UTF8 = 0,
  CT_DECIMAL = 5,
  CT_DATE = 6,
  CT_TIME_MILLIS = 7,
  CT_TIME_MICROS = 8,
  CT_TIMESTAMP_MILLIS = 9,
  CT_TIMESTAMP_MICROS = 10,
  CT_UINT_8 = 11,
  CT_INT_8 = 15,
};

int tarn__pq_converted_type(const tarn_pq_column *c) {
  int k;
  switch (c->logical) {
  case TARN_PQ_LT_STRING: return CT_UTF8;
  case TARN_PQ_LT_DATE: return CT_DATE;
  case TARN_PQ_LT_DECIMAL: return CT_DECIMAL;
  case TARN_PQ_LT_TIME:
    /* LogicalTypes.md: TIME_MILLIS / TIME_MICROS whatever isAdjustedToUTC says. */
    if (c->unit == TARN_PQ_MILLIS)
      return CT_TIME_MILLIS;
    return c->unit == TARN_PQ_MICROS ? CT_TIME_MICROS : -1;
  case TARN_PQ_LT_TIMESTAMP:
    /* The legacy TIMESTAMP_* types mean instants (UTC-normalised); a local timestamp
     * annotated so would be shifted by old readers, so it gets none. */
    if (!c->adjusted_to_utc)
      return -1;
    if (c->unit == TARN_PQ_MILLIS)
      return CT_TIMESTAMP_MILLIS;
    return c->unit == TARN_PQ_MICROS ? CT_TIMESTAMP_MICROS : -1;
  case TARN_PQ_LT_INTEGER:
    switch (c->bit_width) {
    case 8: k = 0; break;
    case 16: k = 1; break;
    case 32: k = 2; break;
    default: k = 3; break;
    }
    return (c->is_signed ? CT_INT_8 : CT_UINT_8) + k;
  case TARN_PQ_LT_JSON: return 19;
  case TARN_PQ_LT_ENUM: return 4;
  default: return -1;
  }
}

static void time_unit(tarn__pq_tw *tw, int16_t id, tarn_pq_unit u) {
  tarn__pq_tw_field_struct(tw, id);
  tarn__pq_tw_field_empty(tw, u == TARN_PQ_MILLIS ? 1 : u == TARN_PQ_MICROS ? 2 : 3);
  tarn__pq_tw_struct_end(tw);
}

/* LogicalType union (SchemaElement field 10). */
static void logical_type(tarn__pq_tw *tw, const tarn_pq_column *c) {
  if (c->logical == TARN_PQ_LT_NONE)
    return;
  tarn__pq_tw_field_struct(tw, 10);
  switch (c->logical) {
  case TARN_PQ_LT_STRING: tarn__pq_tw_field_empty(tw, 1); break;
  case TARN_PQ_LT_ENUM: tarn__pq_tw_field_empty(tw, 4); break;
  case TARN_PQ_LT_DECIMAL:
    tarn__pq_tw_field_struct(tw, 5);
    tarn__pq_tw_field_i32(tw, 1, c->scale);
    tarn__pq_tw_field_i32(tw, 2, c->precision);
    tarn__pq_tw_struct_end(tw);
    break;
  case TARN_PQ_LT_DATE: tarn__pq_tw_field_empty(tw, 6); break;
  case TARN_PQ_LT_TIME:
  case TARN_PQ_LT_TIMESTAMP:
    tarn__pq_tw_field_struct(tw, c->logical == TARN_PQ_LT_TIME ? 7 : 8);
    tarn__pq_tw_field_bool(tw, 1, c->adjusted_to_utc);
    time_unit(tw, 2, c->unit);
    tarn__pq_tw_struct_end(tw);
    break;
  case TARN_PQ_LT_INTEGER:
    tarn__pq_tw_field_struct(tw, 10);
    tarn__pq_tw_field_i8(tw, 1, (int8_t)c->bit_width);
    tarn__pq_tw_field_bool(tw, 2, c->is_signed);
    tarn__pq_tw_struct_end(tw);
    break;
  case TARN_PQ_LT_JSON: tarn__pq_tw_field_empty(tw, 12); break;
  case TARN_PQ_LT_UUID: tarn__pq_tw_field_empty(tw, 14); break;
  default: break;
  }
  tarn__pq_tw_struct_end(tw);
}

static void schema_element(tarn__pq_tw *tw, const tarn_pq_column *c) {
  int ct = tarn__pq_converted_type(c);
  tarn__pq_tw_struct_begin(tw);
  tarn__pq_tw_field_i32(tw, 1, (int32_t)c->type);
  if (c->type == TARN_PQ_FIXED_LEN_BYTE_ARRAY)
    tarn__pq_tw_field_i32(tw, 2, c->type_length);
  tarn__pq_tw_field_i32(tw, 3, c->optional ? 1 : 0);
  tarn__pq_tw_field_string(tw, 4, c->name);
  if (ct >= 0)
    tarn__pq_tw_field_i32(tw, 6, ct);
  if (c->logical == TARN_PQ_LT_DECIMAL) {
    tarn__pq_tw_field_i32(tw, 7, c->scale);
    tarn__pq_tw_field_i32(tw, 8, c->precision);
  }
  if (c->field_id > 0)
    tarn__pq_tw_field_i32(tw, 9, c->field_id);
  logical_type(tw, c);
  tarn__pq_tw_struct_end(tw);
}

/* Statistics struct as field `id`. */
static void statistics(tarn__pq_tw *tw, int16_t id, const tarn_pq_stats *s, int64_t nan_count) {
  tarn__pq_tw_field_struct(tw, id);
  if (s->has_null_count)
    tarn__pq_tw_field_i64(tw, 3, s->null_count);
  if (s->has_distinct_count)
    tarn__pq_tw_field_i64(tw, 4, s->distinct_count);
  if (s->has_min_max) {
    tarn__pq_tw_field_binary(tw, 5, s->max.data, s->max.len);
    tarn__pq_tw_field_binary(tw, 6, s->min.data, s->min.len);
    tarn__pq_tw_field_bool(tw, 7, s->max_exact);
    tarn__pq_tw_field_bool(tw, 8, s->min_exact);
  }
  if (nan_count >= 0)
    tarn__pq_tw_field_i64(tw, 9, nan_count);
  tarn__pq_tw_struct_end(tw);
}

int tarn__pq_encode_page_header(const tarn__pq_page_header *h, int64_t nan_count, tarn_buf *out,
                                tarn_error *err) {
  tarn__pq_tw tw;
  tarn__pq_tw_init(&tw, out, err);
  tarn__pq_tw_struct_begin(&tw);
  tarn__pq_tw_field_i32(&tw, 1, (int32_t)h->type);
  tarn__pq_tw_field_i32(&tw, 2, h->uncompressed_size);
  tarn__pq_tw_field_i32(&tw, 3, h->compressed_size);
  if (h->has_crc)
    tarn__pq_tw_field_i32(&tw, 4, (int32_t)h->crc);
  switch (h->type) {
  case TARN__PQ_DATA_PAGE:
    tarn__pq_tw_field_struct(&tw, 5);
    tarn__pq_tw_field_i32(&tw, 1, h->num_values);
    tarn__pq_tw_field_i32(&tw, 2, (int32_t)h->encoding);
    tarn__pq_tw_field_i32(&tw, 3, (int32_t)h->def_encoding);
    tarn__pq_tw_field_i32(&tw, 4, (int32_t)h->rep_encoding);
    if (h->has_stats)
      statistics(&tw, 5, &h->stats, nan_count);
    tarn__pq_tw_struct_end(&tw);
    break;
  case TARN__PQ_DICTIONARY_PAGE:
    tarn__pq_tw_field_struct(&tw, 7);
    tarn__pq_tw_field_i32(&tw, 1, h->dict_num_values);
    tarn__pq_tw_field_i32(&tw, 2, (int32_t)h->dict_encoding);
    if (h->dict_is_sorted)
      tarn__pq_tw_field_bool(&tw, 3, 1);
    tarn__pq_tw_struct_end(&tw);
    break;
  case TARN__PQ_DATA_PAGE_V2:
    tarn__pq_tw_field_struct(&tw, 8);
    tarn__pq_tw_field_i32(&tw, 1, h->num_values);
    tarn__pq_tw_field_i32(&tw, 2, h->num_nulls);
    tarn__pq_tw_field_i32(&tw, 3, h->num_rows);
    tarn__pq_tw_field_i32(&tw, 4, (int32_t)h->encoding);
    tarn__pq_tw_field_i32(&tw, 5, h->def_levels_len);
    tarn__pq_tw_field_i32(&tw, 6, h->rep_levels_len);
    tarn__pq_tw_field_bool(&tw, 7, h->is_compressed);
    if (h->has_stats)
      statistics(&tw, 8, &h->stats, nan_count);
    tarn__pq_tw_struct_end(&tw);
    break;
  default: break;
  }
  tarn__pq_tw_struct_end(&tw);
  return tarn__pq_tw_finish(&tw);
}

int tarn__pq_encode_column_index(const tarn__pq_column_index *ci, tarn_buf *out, tarn_error *err) {
  tarn__pq_tw tw;
  size_t i;
  tarn__pq_tw_init(&tw, out, err);
  tarn__pq_tw_struct_begin(&tw);
  tarn__pq_tw_field_list(&tw, 1, TARN__TC_FALSE, ci->npages); /* element type BOOL */
  for (i = 0; i < ci->npages; i++)
    tarn__pq_tw_bool(&tw, ci->null_pages[i]);
  tarn__pq_tw_field_list(&tw, 2, TARN__TC_BINARY, ci->npages);
  for (i = 0; i < ci->npages; i++)
    tarn__pq_tw_binary(&tw, ci->min_values[i].data, ci->min_values[i].len);
  tarn__pq_tw_field_list(&tw, 3, TARN__TC_BINARY, ci->npages);
  for (i = 0; i < ci->npages; i++)
    tarn__pq_tw_binary(&tw, ci->max_values[i].data, ci->max_values[i].len);
  tarn__pq_tw_field_i32(&tw, 4, (int32_t)ci->boundary_order);
  if (ci->has_null_counts) {
    tarn__pq_tw_field_list(&tw, 5, TARN__TC_I64, ci->npages);
    for (i = 0; i < ci->npages; i++)
      tarn__pq_tw_i64(&tw, ci->null_counts[i]);
  }
  tarn__pq_tw_struct_end(&tw);
  return tarn__pq_tw_finish(&tw);
}

int tarn__pq_encode_offset_index(const tarn__pq_offset_index *oi, tarn_buf *out, tarn_error *err) {
  tarn__pq_tw tw;
  size_t i;
  tarn__pq_tw_init(&tw, out, err);
  tarn__pq_tw_struct_begin(&tw);
  tarn__pq_tw_field_list(&tw, 1, TARN__TC_STRUCT, oi->npages);
  for (i = 0; i < oi->npages; i++) {
    tarn__pq_tw_struct_begin(&tw);
    tarn__pq_tw_field_i64(&tw, 1, oi->pages[i].offset);
    tarn__pq_tw_field_i32(&tw, 2, oi->pages[i].compressed_page_size);
    tarn__pq_tw_field_i64(&tw, 3, oi->pages[i].first_row_index);
    tarn__pq_tw_struct_end(&tw);
  }
  tarn__pq_tw_struct_end(&tw);
  return tarn__pq_tw_finish(&tw);
}

int tarn__pq_encode_bloom_header(int32_t nbytes, tarn_buf *out, tarn_error *err) {
  tarn__pq_tw tw;
  tarn__pq_tw_init(&tw, out, err);
  tarn__pq_tw_struct_begin(&tw);
  tarn__pq_tw_field_i32(&tw, 1, nbytes);
  tarn__pq_tw_field_struct(&tw, 2); /* algorithm: BLOCK */
  tarn__pq_tw_field_empty(&tw, 1);
  tarn__pq_tw_struct_end(&tw);
  tarn__pq_tw_field_struct(&tw, 3); /* hash: XXHASH */
  tarn__pq_tw_field_empty(&tw, 1);
  tarn__pq_tw_struct_end(&tw);
  tarn__pq_tw_field_struct(&tw, 4); /* compression: UNCOMPRESSED */
  tarn__pq_tw_field_empty(&tw, 1);
  tarn__pq_tw_struct_end(&tw);
  tarn__pq_tw_struct_end(&tw);
  return tarn__pq_tw_finish(&tw);
}

static void encoding_stats(tarn__pq_tw *tw, const tarn__pq_chunk_extra *x) {
  size_t n = (x->dict_pages > 0) + (x->dict_data_pages > 0) + (x->plain_data_pages > 0);
  int32_t dtype = x->data_page_v2 ? TARN__PQ_DATA_PAGE_V2 : TARN__PQ_DATA_PAGE;
  tarn__pq_tw_field_list(tw, 13, TARN__TC_STRUCT, n);
  if (x->dict_pages > 0) {
    tarn__pq_tw_struct_begin(tw);
    tarn__pq_tw_field_i32(tw, 1, TARN__PQ_DICTIONARY_PAGE);
    tarn__pq_tw_field_i32(tw, 2, TARN_PQ_PLAIN);
    tarn__pq_tw_field_i32(tw, 3, x->dict_pages);
    tarn__pq_tw_struct_end(tw);
  }
  if (x->dict_data_pages > 0) {
    tarn__pq_tw_struct_begin(tw);
    tarn__pq_tw_field_i32(tw, 1, dtype);
    tarn__pq_tw_field_i32(tw, 2, TARN_PQ_RLE_DICTIONARY);
    tarn__pq_tw_field_i32(tw, 3, x->dict_data_pages);
    tarn__pq_tw_struct_end(tw);
  }
  if (x->plain_data_pages > 0) {
    tarn__pq_tw_struct_begin(tw);
    tarn__pq_tw_field_i32(tw, 1, dtype);
    tarn__pq_tw_field_i32(tw, 2, TARN_PQ_PLAIN);
    tarn__pq_tw_field_i32(tw, 3, x->plain_data_pages);
    tarn__pq_tw_struct_end(tw);
  }
}

static void column_chunk(tarn__pq_tw *tw, const tarn_pq_column *c, const tarn_pq_chunk_meta *cm,
                         const tarn__pq_chunk_extra *x) {
  size_t i;
  tarn__pq_tw_struct_begin(tw);
  tarn__pq_tw_field_i64(tw, 2, cm->file_offset);
  tarn__pq_tw_field_struct(tw, 3); /* ColumnMetaData */
  tarn__pq_tw_field_i32(tw, 1, (int32_t)cm->type);
  tarn__pq_tw_field_list(tw, 2, TARN__TC_I32, cm->nencodings);
  for (i = 0; i < cm->nencodings; i++)
    tarn__pq_tw_i32(tw, cm->encodings[i]);
  tarn__pq_tw_field_list(tw, 3, TARN__TC_BINARY, 1);
  tarn__pq_tw_binary(tw, c->name, strlen(c->name));
  tarn__pq_tw_field_i32(tw, 4, (int32_t)cm->codec);
  tarn__pq_tw_field_i64(tw, 5, cm->num_values);
  tarn__pq_tw_field_i64(tw, 6, cm->total_uncompressed_size);
  tarn__pq_tw_field_i64(tw, 7, cm->total_compressed_size);
  tarn__pq_tw_field_i64(tw, 9, cm->data_page_offset);
  if (cm->dictionary_page_offset >= 0)
    tarn__pq_tw_field_i64(tw, 11, cm->dictionary_page_offset);
  if (cm->stats.has_null_count || cm->stats.has_min_max)
    statistics(tw, 12, &cm->stats, x != NULL && x->has_nan_count ? x->nan_count : -1);
  if (x != NULL)
    encoding_stats(tw, x);
  if (cm->bloom_filter_offset >= 0) {
    tarn__pq_tw_field_i64(tw, 14, cm->bloom_filter_offset);
    if (cm->bloom_filter_length > 0)
      tarn__pq_tw_field_i32(tw, 15, cm->bloom_filter_length);
  }
  tarn__pq_tw_struct_end(tw);
  if (cm->offset_index_offset >= 0) {
    tarn__pq_tw_field_i64(tw, 4, cm->offset_index_offset);
    tarn__pq_tw_field_i32(tw, 5, cm->offset_index_length);
  }
  if (cm->column_index_offset >= 0) {
    tarn__pq_tw_field_i64(tw, 6, cm->column_index_offset);
    tarn__pq_tw_field_i32(tw, 7, cm->column_index_length);
  }
  tarn__pq_tw_struct_end(tw);
}

int tarn__pq_encode_file_meta(const tarn_pq_file_meta *m, const tarn__pq_chunk_extra *extra,
                              tarn_buf *out, tarn_error *err) {
  tarn__pq_tw tw;
  size_t i, j, ncols = m->schema.ncols;
  tarn__pq_tw_init(&tw, out, err);
  tarn__pq_tw_struct_begin(&tw);
  tarn__pq_tw_field_i32(&tw, 1, m->version);
  /* schema: the root group, then one leaf per column */
  tarn__pq_tw_field_list(&tw, 2, TARN__TC_STRUCT, ncols + 1);
  tarn__pq_tw_struct_begin(&tw);
  tarn__pq_tw_field_string(&tw, 4, "schema");
  tarn__pq_tw_field_i32(&tw, 5, (int32_t)ncols);
  tarn__pq_tw_struct_end(&tw);
  for (i = 0; i < ncols; i++)
    schema_element(&tw, &m->schema.cols[i]);
  tarn__pq_tw_field_i64(&tw, 3, m->num_rows);
  tarn__pq_tw_field_list(&tw, 4, TARN__TC_STRUCT, m->nrow_groups);
  for (i = 0; i < m->nrow_groups; i++) {
    const tarn_pq_row_group_meta *rg = &m->row_groups[i];
    tarn__pq_tw_struct_begin(&tw);
    tarn__pq_tw_field_list(&tw, 1, TARN__TC_STRUCT, ncols);
    for (j = 0; j < ncols; j++)
      column_chunk(&tw, &m->schema.cols[j], &rg->chunks[j],
                   extra != NULL ? &extra[i * ncols + j] : NULL);
    tarn__pq_tw_field_i64(&tw, 2, rg->total_byte_size);
    tarn__pq_tw_field_i64(&tw, 3, rg->num_rows);
    tarn__pq_tw_field_i64(&tw, 5, rg->file_offset);
    tarn__pq_tw_field_i64(&tw, 6, rg->total_compressed_size);
    if (i <= INT16_MAX)
      tarn__pq_tw_field_i16(&tw, 7, (int16_t)i);
    tarn__pq_tw_struct_end(&tw);
  }
  if (m->nkv > 0) {
    tarn__pq_tw_field_list(&tw, 5, TARN__TC_STRUCT, m->nkv);
    for (i = 0; i < m->nkv; i++) {
      tarn__pq_tw_struct_begin(&tw);
      tarn__pq_tw_field_string(&tw, 1, m->kv[i].key);
      if (m->kv[i].value != NULL)
        tarn__pq_tw_field_string(&tw, 2, m->kv[i].value);
      tarn__pq_tw_struct_end(&tw);
    }
  }
  if (m->created_by != NULL)
    tarn__pq_tw_field_string(&tw, 6, m->created_by);
  if (m->type_defined_order) {
    tarn__pq_tw_field_list(&tw, 7, TARN__TC_STRUCT, ncols);
    for (i = 0; i < ncols; i++) {
      tarn__pq_tw_struct_begin(&tw);
      tarn__pq_tw_field_empty(&tw, 1); /* TYPE_ORDER */
      tarn__pq_tw_struct_end(&tw);
    }
  }
  tarn__pq_tw_struct_end(&tw);
  return tarn__pq_tw_finish(&tw);
}
