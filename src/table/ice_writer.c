/* ice_writer.c - writing a table's data files: partition routing and Parquet output. */
#include "table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "base/log.h"
#include "base/uuid.h"

/* Partitions one writer may hold open at once; more is an error (sort the input). */
#define MAX_OPEN_PARTITIONS 256

typedef struct part_out {
  tarn_buf key;           /* encoded partition tuple, for lookup */
  tarn_ice_value *values; /* the tuple (bytes point into vbuf) */
  tarn_buf vbuf;
  char *uri;
  tarn_pq_writer *pw;
  int64_t rows;
} part_out;

struct tarn_table_writer {
  tarn_table *t;
  const tarn_ice_schema *schema;
  const tarn_ice_spec *spec;
  tarn_pq_schema pq;
  tarn_pq_writer_options opts;
  tarn_ice_type *ptypes;
  part_out *parts;
  size_t nparts;
  int64_t *idx; /* row indexes of one partition (scratch) */
  size_t idx_cap;
  int failed;
  tarn_pq_column_options *colopts; /* from the table's per-column properties */
};

void tarn_ice_value_from_array(const tarn_ice_type *t, const tarn_pq_column *c,
                               const tarn_pq_array *a, int64_t i, tarn_ice_value *v) {
  memset(v, 0, sizeof(*v));
  if (a->validity != NULL && !(a->validity[i >> 3] & (1u << (i & 7)))) {
    v->is_null = 1;
    return;
  }
  switch (c->type) {
  case TARN_PQ_BOOLEAN: v->i64 = (((const uint8_t *)a->values)[i >> 3] >> (i & 7)) & 1; break;
  case TARN_PQ_INT32: v->i64 = ((const int32_t *)a->values)[i]; break;
  case TARN_PQ_INT64: v->i64 = ((const int64_t *)a->values)[i]; break;
  case TARN_PQ_FLOAT: v->f32 = ((const float *)a->values)[i]; break;
  case TARN_PQ_DOUBLE: v->f64 = ((const double *)a->values)[i]; break;
  case TARN_PQ_BYTE_ARRAY:
    v->bytes = a->data + a->offsets[i];
    v->len = (size_t)(a->offsets[i + 1] - a->offsets[i]);
    break;
  case TARN_PQ_FIXED_LEN_BYTE_ARRAY:
    v->bytes = (const uint8_t *)a->values + (size_t)i * (size_t)c->type_length;
    v->len = (size_t)c->type_length;
    v->wide = t->id == TARN_ICE_DECIMAL;
    break;
  default: v->is_null = 1; break;
  }
}

void tarn_table_writer_abort(tarn_table_writer *w) {
  size_t i;
  if (w == NULL)
    return;
  for (i = 0; i < w->nparts; i++) {
    tarn_pq_writer_abort(w->parts[i].pw);
    tarn_buf_free(&w->parts[i].key);
    tarn_buf_free(&w->parts[i].vbuf);
    tarn_free(w->parts[i].values);
    tarn_free(w->parts[i].uri);
  }
  tarn_free(w->parts);
  tarn_free(w->ptypes);
  tarn_free(w->idx);
  tarn_free(w->colopts);
  tarn_pq_schema_free(&w->pq);
  tarn_free(w);
}

/*
 * Iceberg's per-column write properties: write.parquet.bloom-filter-enabled.column.NAME
 * (true: a split-block bloom filter for the column, so readers skip row groups on
 * equality) and write.parquet.bloom-filter-fpp.column.NAME (its false-positive rate,
 * default 0.01). A value that is neither true nor false is an error naming the property.
 */
static int column_options(tarn_table_writer *w, const tarn_ice_metadata *m, tarn_error *err) {
  char key[512];
  size_t i, n = 0;
  for (i = 0; i < w->schema->nfields; i++) {
    const char *name = w->schema->fields[i].name, *v, *fpp;
    tarn_pq_column_options *o;
    snprintf(key, sizeof(key), "write.parquet.bloom-filter-enabled.column.%s", name);
    v = tarn_ice_metadata_property(m, key);
    if (v == NULL || strcmp(v, "false") == 0)
      continue;
    if (strcmp(v, "true") != 0)
      return tarn_error_set(err, TARN_EINVAL,
                            "table property %s = \"%.32s\": expected true or false", key, v);
    if (w->colopts == NULL &&
        (w->colopts = tarn_calloc(w->schema->nfields, sizeof(*w->colopts))) == NULL)
      return tarn_error_set(err, TARN_ENOMEM, "out of memory opening a table writer");
    o = &w->colopts[n++];
    o->field_id = w->schema->fields[i].id;
    o->dictionary = -1;
    o->bloom_filter = 1;
    snprintf(key, sizeof(key), "write.parquet.bloom-filter-fpp.column.%s", name);
    fpp = tarn_ice_metadata_property(m, key);
    if (fpp != NULL) {
      char *end;
      o->bloom_fpp = strtod(fpp, &end);
      if (end == fpp || *end != '\0' || !(o->bloom_fpp > 0 && o->bloom_fpp < 1))
        return tarn_error_set(err, TARN_EINVAL,
                              "table property %s = \"%.32s\": expected a rate between 0 and 1", key,
                              fpp);
    }
  }
  w->opts.columns = w->colopts;
  w->opts.ncolumns = n;
  return 0;
}

int tarn_table_writer_open(tarn_table *t, const tarn_pq_writer_options *pq, tarn_table_writer **out,
                           tarn_error *err) {
  const tarn_ice_metadata *m = tarn_table_metadata(t);
  tarn_table_writer *w;
  size_t i;
  int rc;
  *out = NULL;
  w = tarn_calloc(1, sizeof(*w));
  if (w == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory opening a table writer");
  w->t = t;
  w->schema = tarn_table_schema(t);
  w->spec = tarn_table_spec(t);
  if (w->schema == NULL || w->spec == NULL) {
    tarn_table_writer_abort(w);
    return tarn_error_set(err, TARN_ECORRUPT, "table %s: current schema or spec missing",
                          m->location);
  }
  rc = tarn_ice_schema_to_parquet(w->schema, &w->pq, err);
  if (rc != 0) {
    tarn_table_writer_abort(w);
    return rc;
  }
  if (pq != NULL) {
    w->opts = *pq;
  } else {
    const char *codec = tarn_ice_metadata_property(m, "write.parquet.compression-codec");
    int c = codec ? tarn_pq_codec_parse(codec) : TARN_PQ_ZSTD;
    int64_t level;
    memset(&w->opts, 0, sizeof(w->opts));
    if (c < 0) {
      tarn_table_writer_abort(w);
      return tarn_error_set(err, TARN_EINVAL,
                            "table property write.parquet.compression-codec = \"%.32s\": not a "
                            "codec tarn writes (uncompressed, snappy, gzip, zstd, lz4_raw)",
                            codec);
    }
    rc = tarn_ice_property_int(m, "write.parquet.compression-level", 0, -7, 22, &level, err);
    if (rc != 0) {
      tarn_table_writer_abort(w);
      return rc;
    }
    w->opts.codec = (tarn_pq_codec)c;
    w->opts.zstd_level = w->opts.gzip_level = (int)level;
    /* Iceberg's sizes (0: the Parquet writer's defaults); small pages make point lookups
     * through the page index cheap */
    rc = tarn_ice_property_int(m, "write.parquet.page-size-bytes", 0, 4096, INT32_MAX, &level, err);
    w->opts.page_size = (size_t)level;
    if (rc == 0)
      rc = tarn_ice_property_int(m, "write.parquet.row-group-size-bytes", 0, 65536, INT64_MAX,
                                 &level, err);
    w->opts.row_group_size = (size_t)level;
    if (rc == 0)
      rc = tarn_ice_property_int(m, "write.parquet.page-row-limit", 0, 1, 1000000, &level, err);
    w->opts.page_rows = level;
    if (rc != 0) {
      tarn_table_writer_abort(w);
      return rc;
    }
    rc = column_options(w, m, err);
    if (rc != 0) {
      tarn_table_writer_abort(w);
      return rc;
    }
  }
  w->ptypes = tarn_calloc(w->spec->nfields ? w->spec->nfields : 1, sizeof(*w->ptypes));
  if (w->ptypes == NULL) {
    tarn_table_writer_abort(w);
    return tarn_error_set(err, TARN_ENOMEM, "out of memory opening a table writer");
  }
  for (i = 0; i < w->spec->nfields; i++) {
    const tarn_ice_field *src = tarn_ice_schema_field(w->schema, w->spec->fields[i].source_id);
    if (src == NULL) {
      tarn_table_writer_abort(w);
      return tarn_error_set(err, TARN_ECORRUPT, "partition field %s: source column missing",
                            w->spec->fields[i].name);
    }
    rc = tarn_ice_transform_result_type(&w->spec->fields[i].transform, &src->type, &w->ptypes[i],
                                        err);
    if (rc != 0) {
      tarn_table_writer_abort(w);
      return rc;
    }
  }
  *out = w;
  return 0;
}

/* Column index of field id in the schema. */
static size_t col_of(const tarn_ice_schema *s, int32_t id) {
  size_t i;
  for (i = 0; i < s->nfields; i++)
    if (s->fields[i].id == id)
      return i;
  return (size_t)-1;
}

/* Computes row i's partition tuple into vals and its lookup key into key. */
static int row_partition(tarn_table_writer *w, const tarn_pq_batch *b, int64_t i,
                         tarn_ice_value *vals, tarn_buf *key, tarn_buf *scratch, tarn_error *err) {
  size_t j;
  int rc = 0;
  tarn_buf_reset(key);
  for (j = 0; j < w->spec->nfields && rc == 0; j++) {
    const tarn_ice_partition_field *pf = &w->spec->fields[j];
    size_t c = col_of(w->schema, pf->source_id);
    tarn_ice_value in;
    tarn_ice_value_from_array(&w->schema->fields[c].type, &w->pq.cols[c], &b->cols[c], i, &in);
    rc = tarn_ice_transform_apply(&pf->transform, &w->schema->fields[c].type, &in, &vals[j],
                                  &scratch[j], err);
    if (rc != 0)
      break;
    rc = tarn_buf_append_byte(key, vals[j].is_null ? 0 : 1, err);
    if (rc == 0 && !vals[j].is_null) {
      size_t before = key->len;
      rc = tarn_ice_value_serialize(&w->ptypes[j], &vals[j], key, err);
      if (rc == 0) { /* length-prefix variable parts so tuples never run together */
        uint32_t n = (uint32_t)(key->len - before);
        rc = tarn_buf_append(key, &n, sizeof(n), err);
      }
    }
  }
  return rc;
}

/* Opens the output of a new partition. */
static int open_part(tarn_table_writer *w, const tarn_ice_value *vals, const tarn_buf *key,
                     part_out **out, tarn_error *err) {
  const tarn_ice_metadata *m = tarn_table_metadata(w->t);
  const tarn_table_io *io = tarn_table_io_of(w->t);
  tarn_buf path;
  part_out *p, *np;
  char uuid[TARN_UUID_STR_LEN], k[TARN_STORE_KEY_MAX + 1];
  tarn_uuid u;
  size_t j;
  int rc;
  if (w->nparts == MAX_OPEN_PARTITIONS)
    return tarn_error_set(err, TARN_ETOOBIG,
                          "more than %d partitions in one write; split the input by partition",
                          MAX_OPEN_PARTITIONS);
  np = tarn_reallocarray(w->parts, w->nparts + 1, sizeof(*np));
  if (np == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  w->parts = np;
  p = &w->parts[w->nparts];
  memset(p, 0, sizeof(*p));
  tarn_buf_init(&p->key, TARN_BUF_UNLIMITED);
  tarn_buf_init(&p->vbuf, TARN_BUF_UNLIMITED);
  w->nparts++;
  rc = tarn_buf_append(&p->key, key->data, key->len, err);
  p->values = tarn_calloc(w->spec->nfields ? w->spec->nfields : 1, sizeof(*p->values));
  if (rc == 0 && p->values == NULL)
    rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
  /* own copies of the tuple's bytes: offsets first, pointers once vbuf stops moving */
  for (j = 0; rc == 0 && j < w->spec->nfields; j++) {
    p->values[j] = vals[j];
    if (vals[j].bytes != NULL) {
      p->values[j].bytes = (const uint8_t *)(uintptr_t)p->vbuf.len;
      rc = tarn_buf_append(&p->vbuf, vals[j].bytes, vals[j].len, err);
    }
  }
  for (j = 0; rc == 0 && j < w->spec->nfields; j++)
    if (vals[j].bytes != NULL)
      p->values[j].bytes = (const uint8_t *)p->vbuf.data + (uintptr_t)p->values[j].bytes;
  if (rc != 0)
    return rc;
  tarn_buf_init(&path, TARN_STORE_KEY_MAX * 2);
  rc = tarn_buf_appendf(&path, err, "%s/data/", m->location);
  for (j = 0; rc == 0 && j < w->spec->nfields; j++) {
    rc = tarn_buf_appendf(&path, err, "%s=", w->spec->fields[j].name);
    if (rc == 0)
      rc = tarn_ice_partition_human(&w->spec->fields[j].transform, &w->ptypes[j], &p->values[j], 1,
                                    &path, err);
    if (rc == 0)
      rc = tarn_buf_append(&path, "/", 1, err);
  }
  if (rc == 0)
    rc = tarn_uuid_v7(&u, err);
  if (rc == 0)
    rc = tarn_buf_appendf(&path, err, "00000-%zu-%s.parquet", w->nparts - 1,
                          tarn_uuid_format(&u, uuid));
  if (rc == 0) {
    p->uri = tarn_strdup(path.data);
    if (p->uri == NULL)
      rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
  }
  tarn_buf_free(&path);
  if (rc == 0)
    rc = tarn_table_io_key(io, p->uri, k, sizeof(k), err);
  if (rc == 0)
    rc = tarn_pq_writer_open_store(io->store, k, TARN_STORE_IF_ABSENT, &w->pq, &w->opts, &p->pw,
                                   err);
  if (rc == 0)
    *out = p;
  return rc;
}

/* Copies rows idx[0..n) of array a (column c) into dst (allocated). */
static int gather(const tarn_pq_column *c, const tarn_pq_array *a, const int64_t *idx, size_t n,
                  tarn_pq_array *dst, tarn_error *err) {
  size_t i, width = 0;
  memset(dst, 0, sizeof(*dst));
  dst->length = (int64_t)n;
  if (a->validity != NULL) {
    dst->validity = tarn_calloc((n + 7) / 8 + 1, 1);
    if (dst->validity == NULL)
      return tarn_error_set(err, TARN_ENOMEM, "out of memory");
    for (i = 0; i < n; i++) {
      if (a->validity[idx[i] >> 3] & (1u << (idx[i] & 7)))
        dst->validity[i >> 3] |= (uint8_t)(1u << (i & 7));
      else
        dst->null_count++;
    }
  }
  switch (c->type) {
  case TARN_PQ_BOOLEAN:
    dst->values = tarn_calloc((n + 7) / 8 + 1, 1);
    if (dst->values == NULL)
      return tarn_error_set(err, TARN_ENOMEM, "out of memory");
    for (i = 0; i < n; i++)
      if ((((const uint8_t *)a->values)[idx[i] >> 3] >> (idx[i] & 7)) & 1)
        ((uint8_t *)dst->values)[i >> 3] |= (uint8_t)(1u << (i & 7));
    return 0;
  case TARN_PQ_INT32:
  case TARN_PQ_FLOAT:
  case TARN_PQ_INT64:
  case TARN_PQ_DOUBLE:
  case TARN_PQ_FIXED_LEN_BYTE_ARRAY: width = (size_t)tarn_pq_array_width(c); break;
  case TARN_PQ_BYTE_ARRAY: {
    int64_t total = 0;
    for (i = 0; i < n; i++)
      total += a->offsets[idx[i] + 1] - a->offsets[idx[i]];
    dst->offsets = tarn_calloc(n + 1, sizeof(int64_t));
    dst->data = tarn_malloc((size_t)total + 1);
    if (dst->offsets == NULL || dst->data == NULL)
      return tarn_error_set(err, TARN_ENOMEM, "out of memory");
    total = 0;
    for (i = 0; i < n; i++) {
      int64_t len = a->offsets[idx[i] + 1] - a->offsets[idx[i]];
      if (len > 0) /* an all-null or all-empty column may have no data buffer at all */
        memcpy(dst->data + total, a->data + a->offsets[idx[i]], (size_t)len);
      total += len;
      dst->offsets[i + 1] = total;
    }
    dst->data_len = total;
    return 0;
  }
  default:
    return tarn_error_set(err, TARN_EUNSUPPORTED, "cannot write column type %s",
                          tarn_pq_type_name(c->type));
  }
  dst->values = tarn_malloc(n * width + 1);
  if (dst->values == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  for (i = 0; i < n; i++)
    memcpy((uint8_t *)dst->values + i * width, (const uint8_t *)a->values + (size_t)idx[i] * width,
           width);
  return 0;
}

static void free_arrays(tarn_pq_array *cols, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    tarn_free(cols[i].validity);
    tarn_free(cols[i].values);
    tarn_free(cols[i].offsets);
    tarn_free(cols[i].data);
  }
  tarn_free(cols);
}

int tarn_table_writer_write(tarn_table_writer *w, const tarn_pq_batch *b, tarn_error *err) {
  tarn_ice_value *vals = NULL;
  tarn_buf key, *scratch = NULL;
  int32_t *row_part = NULL;
  size_t j, np = w->spec->nfields;
  int64_t i;
  int rc = 0;
  if (w->failed)
    return tarn_error_set(err, TARN_EINVAL, "the table writer failed earlier; abort it");
  if (b->ncols != w->schema->nfields)
    return tarn_error_set(err, TARN_EINVAL, "batch has %zu columns; the table has %zu", b->ncols,
                          w->schema->nfields);
  if (np == 0) { /* unpartitioned: straight through */
    if (w->nparts == 0) {
      part_out *p;
      tarn_buf_init(&key, 16);
      rc = open_part(w, NULL, &key, &p, err);
      tarn_buf_free(&key);
    }
    if (rc == 0)
      rc = tarn_pq_writer_write(w->parts[0].pw, b, err);
    if (rc == 0)
      w->parts[0].rows += b->nrows;
    w->failed = rc != 0;
    return rc;
  }
  tarn_buf_init(&key, TARN_BUF_UNLIMITED);
  vals = tarn_calloc(np, sizeof(*vals));
  scratch = tarn_calloc(np, sizeof(*scratch));
  row_part = tarn_calloc(b->nrows ? (size_t)b->nrows : 1, sizeof(*row_part));
  if (vals == NULL || scratch == NULL || row_part == NULL) {
    rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
    goto out;
  }
  for (j = 0; j < np; j++)
    tarn_buf_init(&scratch[j], 64);
  /* 1. route every row to its partition's output */
  for (i = 0; i < b->nrows && rc == 0; i++) {
    size_t p;
    rc = row_partition(w, b, i, vals, &key, scratch, err);
    if (rc != 0)
      break;
    for (p = 0; p < w->nparts; p++)
      if (w->parts[p].key.len == key.len && memcmp(w->parts[p].key.data, key.data, key.len) == 0)
        break;
    if (p == w->nparts) {
      part_out *po;
      rc = open_part(w, vals, &key, &po, err);
    }
    row_part[i] = (int32_t)p;
  }
  /* 2. each partition's rows as one gathered batch */
  for (j = 0; rc == 0 && j < w->nparts; j++) {
    tarn_pq_batch sub;
    size_t n = 0, c;
    if ((size_t)b->nrows > w->idx_cap) {
      int64_t *ni = tarn_reallocarray(w->idx, (size_t)b->nrows, sizeof(*ni));
      if (ni == NULL) {
        rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
        break;
      }
      w->idx = ni;
      w->idx_cap = (size_t)b->nrows;
    }
    for (i = 0; i < b->nrows; i++)
      if (row_part[i] == (int32_t)j)
        w->idx[n++] = i;
    if (n == 0)
      continue;
    sub.nrows = (int64_t)n;
    sub.ncols = b->ncols;
    sub.cols = tarn_calloc(b->ncols, sizeof(*sub.cols));
    if (sub.cols == NULL) {
      rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
      break;
    }
    for (c = 0; rc == 0 && c < b->ncols; c++)
      rc = gather(&w->pq.cols[c], &b->cols[c], w->idx, n, &sub.cols[c], err);
    if (rc == 0)
      rc = tarn_pq_writer_write(w->parts[j].pw, &sub, err);
    if (rc == 0)
      w->parts[j].rows += (int64_t)n;
    free_arrays(sub.cols, b->ncols);
  }
out:
  for (j = 0; scratch != NULL && j < np; j++)
    tarn_buf_free(&scratch[j]);
  tarn_free(scratch);
  tarn_free(vals);
  tarn_free(row_part);
  tarn_buf_free(&key);
  w->failed = rc != 0;
  return rc;
}

int tarn_table_writer_close(tarn_table_writer *w, tarn_ice_data_file **files, size_t *n,
                            tarn_error *err) {
  tarn_ice_data_file *out = NULL;
  size_t i, j, nout = 0;
  int rc = 0;
  *files = NULL;
  *n = 0;
  if (w->failed) {
    tarn_table_writer_abort(w);
    return tarn_error_set(err, TARN_EINVAL, "the table writer failed earlier; nothing written");
  }
  out = tarn_calloc(w->nparts ? w->nparts : 1, sizeof(*out));
  if (out == NULL) {
    tarn_table_writer_abort(w);
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  }
  for (i = 0; i < w->nparts; i++) {
    part_out *p = &w->parts[i];
    tarn_ice_data_file *f = &out[nout];
    tarn_pq_file_info info;
    memset(&info, 0, sizeof(info));
    if (p->rows == 0) { /* an empty file is no data file: never publish it */
      tarn_pq_writer_abort(p->pw);
      p->pw = NULL;
      continue;
    }
    rc = tarn_pq_writer_close(p->pw, &info, err);
    p->pw = NULL;
    if (rc != 0)
      break;
    nout++;
    memset(f, 0, sizeof(*f));
    tarn_buf_init(&f->partition_buf, TARN_BUF_UNLIMITED);
    f->content = TARN_ICE_CONTENT_DATA;
    f->spec_id = w->spec->spec_id;
    f->sort_order_id = -1;
    f->record_count = info.record_count;
    f->file_size = info.file_size;
    f->file_path = p->uri;
    p->uri = NULL;
    f->file_format = tarn_strdup("PARQUET");
    if (f->file_format == NULL)
      rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
    if (rc == 0)
      rc = tarn_ice_stats_from_parquet(w->schema, &info, 16, &f->stats, &f->nstats, err);
    if (rc == 0 && info.nsplits > 0) {
      f->split_offsets = tarn_calloc(info.nsplits, sizeof(int64_t));
      if (f->split_offsets == NULL)
        rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
      else {
        memcpy(f->split_offsets, info.split_offsets, info.nsplits * sizeof(int64_t));
        f->nsplits = info.nsplits;
      }
    }
    if (rc == 0 && w->spec->nfields > 0) {
      f->partition = tarn_calloc(w->spec->nfields, sizeof(*f->partition));
      if (f->partition == NULL)
        rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
      else
        rc = tarn_buf_append(&f->partition_buf, p->vbuf.data ? p->vbuf.data : "", p->vbuf.len, err);
      for (j = 0; rc == 0 && j < w->spec->nfields; j++) {
        f->partition[j] = p->values[j];
        if (p->values[j].bytes != NULL)
          f->partition[j].bytes = (const uint8_t *)f->partition_buf.data +
                                  (p->values[j].bytes - (const uint8_t *)p->vbuf.data);
      }
      f->npartition = w->spec->nfields;
    }
    tarn_pq_file_info_free(&info);
    if (rc != 0)
      break;
  }
  if (rc != 0) {
    /* files already closed are visible: remove them, nothing will reference them */
    const tarn_table_io *io = tarn_table_io_of(w->t);
    for (i = 0; i < nout; i++) {
      char k[TARN_STORE_KEY_MAX + 1];
      if (out[i].file_path != NULL &&
          tarn_table_io_key(io, out[i].file_path, k, sizeof(k), NULL) == 0)
        tarn_store_delete(io->store, k, NULL);
    }
    tarn_ice_data_files_free(out, nout);
    tarn_table_writer_abort(w);
    return rc;
  }
  tarn_table_writer_abort(w); /* frees what is left; every writer is closed */
  *files = out;
  *n = nout;
  return 0;
}

void tarn_table_delete_files(tarn_table *t, const tarn_ice_data_file *files, size_t n,
                             const char *who) {
  char key[4096];
  tarn_error err;
  size_t i;
  for (i = 0; i < n; i++)
    if (tarn_table_io_key(tarn_table_io_of(t), files[i].file_path, key, sizeof(key), &err) != 0 ||
        tarn_store_delete(tarn_table_io_of(t)->store, key, &err) != 0)
      tarn_log_warn("could not delete an unreferenced data file", "who=%s file=%s error=%s", who,
                    files[i].file_path, tarn_error_message(&err));
}
