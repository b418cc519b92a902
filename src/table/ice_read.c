/* ice_read.c - the one read path: a scan plans a snapshot's data files, reads each with the
 * Parquet reader (columns by field id, the filter pushed down) and filters rows exactly. */
#include "scan.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "table_int.h"

#define DEFAULT_BATCH_ROWS 8192

/* One output column's buffers, reused from batch to batch. */
typedef struct obuf {
  uint8_t *validity;
  size_t validity_cap;
  uint8_t *values;
  size_t values_cap;
  int64_t *offsets;
  size_t offsets_cap;
  tarn_buf data;
} obuf;

struct tarn_table_scan {
  tarn_table_io io;
  char label[300];        /* "ns.name" for messages and log lines */
  tarn_ice_schema schema; /* the schema read with (a copy) */
  tarn_pq_schema want;    /* its Parquet layout: what each data file must match */
  size_t *outf;           /* projection: schema field indexes */
  size_t nout;
  tarn_ice_field *ofields; /* the projection's fields (names owned by schema) */
  tarn_pq_column *olayout;
  tarn_pq_array *ocols;
  obuf *obufs;
  const tarn_expr *filter;
  tarn__nnf nnf; /* the filter in negation normal form, for pushdown */
  int has_nnf;
  uint8_t *needed; /* per schema field: read it (output or filter) */
  tarn_ice_data_file *files;
  size_t nfiles, next_file;
  int64_t batch_rows;
  /* the data file being read */
  tarn_pq_reader *r;
  tarn_pq_scan *ps;
  tarn_pq_batch *pb;
  const char *cur_path;
  long *fcol; /* per schema field: column in the file, -1 when absent */
  long *pos;  /* per schema field: position in the file's projection, -1 */
  /* filtering */
  int8_t **truth; /* one array of batch_rows per level of the filter */
  size_t ntruth;
  int64_t *sel;
  uint8_t *zero; /* all-null columns: zeroed validity, values, offsets */
  size_t zero_cap;
  tarn_table_batch batch;
  tarn_table_scan_stats st;
  int failed;
};

/* ---- opening ---- */

static int expr_depth(const tarn_expr *e) {
  size_t i;
  int d = 0;
  for (i = 0; i < e->nchildren; i++) {
    int k = expr_depth(e->children[i]);
    if (k > d)
      d = k;
  }
  return d + 1;
}

static int mark_fields(tarn_table_scan *s, const tarn_expr *e, tarn_error *err) {
  size_t i;
  if (e->kind == TARN_EXPR_AND || e->kind == TARN_EXPR_OR || e->kind == TARN_EXPR_NOT) {
    if (e->nchildren == 0 || (e->kind == TARN_EXPR_NOT && e->nchildren != 1))
      return tarn_error_set(err, TARN_EINVAL, "%s: a predicate node has %zu operands", s->label,
                            e->nchildren);
    for (i = 0; i < e->nchildren; i++) {
      int rc = mark_fields(s, e->children[i], err);
      if (rc != 0)
        return rc;
    }
    return 0;
  }
  if ((e->kind == TARN_EXPR_CMP && e->nvalues != 1) ||
      (e->kind == TARN_EXPR_IN && e->values == NULL))
    return tarn_error_set(err, TARN_EINVAL, "%s: a predicate on field id %d has %zu values",
                          s->label, (int)e->field_id, e->nvalues);
  for (i = 0; i < s->schema.nfields; i++)
    if (s->schema.fields[i].id == e->field_id)
      s->needed[i] = 1;
  /* a field the schema read does not know reads as null in every row */
  return 0;
}

/* The snapshot and the schema to read it with. */
static int pick(tarn_table *t, const tarn_table_scan_spec *spec, const tarn_ice_snapshot **snap,
                const tarn_ice_schema **schema, tarn_error *err) {
  const tarn_ice_metadata *m = tarn_table_metadata(t);
  *snap = NULL;
  *schema = tarn_table_schema(t);
  if (spec->snapshot_id >= 0 && spec->as_of_ms >= 0)
    return tarn_error_set(err, TARN_EINVAL, "a snapshot id and a time exclude each other");
  if (spec->snapshot_id >= 0) {
    *snap = tarn_ice_metadata_snapshot(m, spec->snapshot_id);
    if (*snap == NULL)
      return tarn_error_set(err, TARN_ENOTFOUND, "no snapshot %lld (it may have expired)",
                            (long long)spec->snapshot_id);
  } else if (spec->as_of_ms != -1) {
    int64_t id = -1;
    size_t i;
    for (i = 0; i < m->nsnapshot_log; i++)
      if (m->snapshot_log[i].timestamp_ms <= spec->as_of_ms)
        id = m->snapshot_log[i].snapshot_id;
    *snap = id >= 0 ? tarn_ice_metadata_snapshot(m, id) : NULL;
    if (*snap == NULL)
      return tarn_error_set(err, TARN_ENOTFOUND, "no snapshot at or before %lld ms%s",
                            (long long)spec->as_of_ms, id >= 0 ? " (it has expired)" : "");
  } else if (m->current_snapshot_id >= 0) {
    *snap = tarn_ice_metadata_snapshot(m, m->current_snapshot_id);
  }
  if ((spec->snapshot_id >= 0 || spec->as_of_ms != -1) && (*snap)->schema_id >= 0 &&
      tarn_ice_metadata_schema(m, (*snap)->schema_id) != NULL)
    *schema = tarn_ice_metadata_schema(m, (*snap)->schema_id); /* time travel reads its schema */
  if (*schema == NULL)
    return tarn_error_set(err, TARN_ECORRUPT, "the table's schema is missing from its metadata");
  return 0;
}

int tarn_table_scan_target(tarn_table *t, int64_t snapshot_id, int64_t as_of_ms, int64_t *snap_id,
                           const tarn_ice_schema **schema, tarn_error *err) {
  tarn_table_scan_spec spec;
  const tarn_ice_snapshot *snap;
  int rc;
  memset(&spec, 0, sizeof(spec));
  spec.snapshot_id = snapshot_id;
  spec.as_of_ms = as_of_ms;
  rc = pick(t, &spec, &snap, schema, err);
  if (snap_id != NULL)
    *snap_id = rc == 0 && snap != NULL ? snap->snapshot_id : -1;
  return rc;
}

int tarn_table_scan_open(tarn_table *t, const tarn_table_scan_spec *spec, tarn_table_scan **out,
                         tarn_error *err) {
  tarn_table_scan *s;
  const tarn_ice_snapshot *snap;
  const tarn_ice_schema *schema;
  tarn_table_scan_options po;
  tarn_table_plan_stats ps;
  tarn_table_scan_spec dflt;
  size_t i, k;
  int rc;
  *out = NULL;
  if (spec == NULL) {
    memset(&dflt, 0, sizeof(dflt));
    dflt.snapshot_id = -1;
    dflt.as_of_ms = -1;
    spec = &dflt;
  }
  s = tarn_calloc(1, sizeof(*s));
  if (s == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory opening a scan");
  s->io = *tarn_table_io_of(t);
  s->st.snapshot_id = -1;
  s->filter = spec->filter;
  s->batch_rows = spec->batch_rows > 0 ? spec->batch_rows : DEFAULT_BATCH_ROWS;
  {
    const char *ns = NULL, *name = NULL;
    tarn_table_ident(t, &ns, &name);
    snprintf(s->label, sizeof(s->label), "%s.%s", ns ? ns : "?", name ? name : "?");
  }
  rc = pick(t, spec, &snap, &schema, err);
  if (rc != 0) {
    tarn_error_prefix(err, "%s", s->label);
    goto fail;
  }
  if ((rc = tarn_ice_schema_copy(&s->schema, schema, err)) != 0 ||
      (rc = tarn_ice_schema_to_parquet(&s->schema, &s->want, err)) != 0)
    goto fail;
  /* the projection */
  s->nout = spec->field_ids != NULL ? spec->nfield_ids : s->schema.nfields;
  s->outf = tarn_calloc(s->nout + 1, sizeof(*s->outf));
  s->ofields = tarn_calloc(s->nout + 1, sizeof(*s->ofields));
  s->olayout = tarn_calloc(s->nout + 1, sizeof(*s->olayout));
  s->ocols = tarn_calloc(s->nout + 1, sizeof(*s->ocols));
  s->obufs = tarn_calloc(s->nout + 1, sizeof(*s->obufs));
  s->needed = tarn_calloc(s->schema.nfields + 1, 1);
  s->fcol = tarn_calloc(s->schema.nfields + 1, sizeof(*s->fcol));
  s->pos = tarn_calloc(s->schema.nfields + 1, sizeof(*s->pos));
  s->sel = tarn_calloc((size_t)s->batch_rows, sizeof(*s->sel));
  if (s->outf == NULL || s->ofields == NULL || s->olayout == NULL || s->ocols == NULL ||
      s->obufs == NULL || s->needed == NULL || s->fcol == NULL || s->pos == NULL ||
      s->sel == NULL) {
    rc = tarn_error_set(err, TARN_ENOMEM, "out of memory opening a scan of %s", s->label);
    goto fail;
  }
  for (i = 0; i < s->nout; i++)
    tarn_buf_init(&s->obufs[i].data, TARN_BUF_UNLIMITED);
  for (i = 0; i < s->nout; i++) {
    if (spec->field_ids == NULL) {
      k = i;
    } else {
      for (k = 0; k < s->schema.nfields; k++)
        if (s->schema.fields[k].id == spec->field_ids[i])
          break;
      if (k == s->schema.nfields) {
        rc = tarn_error_set(err, TARN_EINVAL, "%s: schema %d has no field id %d", s->label,
                            (int)s->schema.schema_id, (int)spec->field_ids[i]);
        goto fail;
      }
    }
    s->outf[i] = k;
    s->needed[k] = 1;
    s->ofields[i] = s->schema.fields[k];
    s->olayout[i] = s->want.cols[k];
  }
  if (s->filter != NULL) {
    if (expr_depth(s->filter) > TARN_EXPR_MAX_DEPTH) {
      rc = tarn_error_set(err, TARN_EINVAL, "%s: the predicate is nested deeper than %d levels",
                          s->label, TARN_EXPR_MAX_DEPTH);
      goto fail;
    }
    if ((rc = mark_fields(s, s->filter, err)) != 0 ||
        (rc = tarn__expr_nnf(s->filter, &s->nnf, err)) != 0)
      goto fail;
    s->has_nnf = 1;
    s->ntruth = (size_t)expr_depth(s->filter) + 1;
    s->truth = tarn_calloc(s->ntruth, sizeof(*s->truth));
    if (s->truth == NULL) {
      rc = tarn_error_set(err, TARN_ENOMEM, "out of memory opening a scan of %s", s->label);
      goto fail;
    }
    for (i = 0; i < s->ntruth; i++)
      if ((s->truth[i] = tarn_malloc((size_t)s->batch_rows)) == NULL) {
        rc = tarn_error_set(err, TARN_ENOMEM, "out of memory opening a scan of %s", s->label);
        goto fail;
      }
  }
  if (snap == NULL) { /* an empty table */
    *out = s;
    return 0;
  }
  s->st.snapshot_id = snap->snapshot_id;
  memset(&po, 0, sizeof(po));
  po.snapshot_id = snap->snapshot_id;
  po.as_of_ms = -1;
  po.filter = s->filter;
  rc = tarn_table_plan(t, &po, &s->files, &s->nfiles, NULL, &ps, err);
  if (rc != 0) {
    tarn_error_prefix(err, "planning a scan of %s", s->label);
    goto fail;
  }
  if (spec->only_files != NULL) { /* keep the named ones */
    size_t kept = 0;
    for (i = 0; i < s->nfiles; i++) {
      for (k = 0; k < spec->nonly_files; k++)
        if (strcmp(s->files[i].file_path, spec->only_files[k]) == 0)
          break;
      if (k < spec->nonly_files)
        s->files[kept++] = s->files[i];
      else
        tarn_ice_data_file_free(&s->files[i]);
    }
    ps.files_pruned_metrics += (int64_t)(s->nfiles - kept);
    s->nfiles = kept;
  }
  s->st.manifests_total = ps.manifests_total;
  s->st.manifests_pruned = ps.manifests_pruned;
  s->st.files_total = ps.files_total;
  s->st.files_pruned_partition = ps.files_pruned_partition;
  s->st.files_pruned_metrics = ps.files_pruned_metrics;
  tarn_log_debug("scan pruned", "level=manifest table=%s snapshot=%lld skipped=%lld kept=%lld",
                 s->label, (long long)snap->snapshot_id, (long long)ps.manifests_pruned,
                 (long long)(ps.manifests_total - ps.manifests_pruned));
  tarn_log_debug("scan pruned", "level=partition table=%s skipped=%lld kept=%lld", s->label,
                 (long long)ps.files_pruned_partition,
                 (long long)(ps.files_total - ps.files_pruned_partition));
  tarn_log_debug("scan pruned", "level=metrics table=%s skipped=%lld kept=%zu", s->label,
                 (long long)ps.files_pruned_metrics, s->nfiles);
  *out = s;
  return 0;
fail:
  tarn_table_scan_close(s);
  return rc;
}

const tarn_ice_schema *tarn_table_scan_schema(const tarn_table_scan *s) { return &s->schema; }

const tarn_table_scan_stats *tarn_table_scan_stats_get(const tarn_table_scan *s) { return &s->st; }

/* ---- one data file ---- */

typedef struct idcol {
  int32_t id;
  size_t col;
} idcol;

static int cmp_idcol(const void *a, const void *b) {
  const idcol *x = a, *y = b;
  return x->id < y->id ? -1 : x->id > y->id;
}

static const tarn_pq_column *file_col(const tarn_table_scan *s, size_t fi) {
  return &tarn_pq_reader_meta(s->r)->schema.cols[s->fcol[fi]];
}

static long field_index(const tarn_table_scan *s, int32_t id) {
  size_t i;
  for (i = 0; i < s->schema.nfields; i++)
    if (s->schema.fields[i].id == id)
      return (long)i;
  return -1;
}

/*
 * The literal of leaf n in the physical form of file column fc, when the statistics of
 * that column can be compared with it; 0 otherwise (the leaf is then not pushed down).
 * Wide and FLBA decimals go to `lit` (16 bytes).
 */
static int pq_literal(const tarn__nnf *n, const tarn_pq_column *fc, tarn_pq_value *out,
                      uint8_t lit[16]) {
  const tarn_ice_value *v = &n->value;
  memset(out, 0, sizeof(*out));
  if ((fc->logical == TARN_PQ_LT_TIMESTAMP || fc->logical == TARN_PQ_LT_TIME) &&
      fc->unit != TARN_PQ_MICROS)
    return 0; /* not the unit tarn's values are in */
  if (fc->logical == TARN_PQ_LT_DECIMAL && fc->scale != n->type.scale)
    return 0;
  if (n->type.id == TARN_ICE_DECIMAL) {
    uint8_t be[16];
    int k, w;
    if (v->wide) {
      if (v->len == 0 || v->len > 16)
        return 0;
      memset(be, (v->bytes[0] & 0x80) ? 0xff : 0, 16);
      memcpy(be + 16 - v->len, v->bytes, v->len);
    } else {
      for (k = 0; k < 16; k++)
        be[k] = (uint8_t)(k < 8 ? (v->i64 < 0 ? 0xff : 0) : (uint64_t)v->i64 >> (8 * (15 - k)));
    }
    w = fc->type == TARN_PQ_INT32                  ? 4
        : fc->type == TARN_PQ_INT64                ? 8
        : fc->type == TARN_PQ_FIXED_LEN_BYTE_ARRAY ? (int)fc->type_length
                                                   : 0;
    if (w <= 0 || w > 16)
      return 0;
    for (k = 0; k < 16 - w; k++) /* the dropped bytes must only extend the sign */
      if (be[k] != ((be[16 - w] & 0x80) ? 0xff : 0))
        return 0;
    if (fc->type == TARN_PQ_FIXED_LEN_BYTE_ARRAY) {
      memcpy(lit, be + 16 - w, (size_t)w);
      out->bytes = lit;
      out->len = (size_t)w;
      return 1;
    }
    {
      uint64_t u = 0;
      for (k = 16 - w; k < 16; k++)
        u = u << 8 | be[k];
      if (w == 4)
        out->i32 = (int32_t)(uint32_t)u;
      else
        out->i64 = (int64_t)u;
    }
    return 1;
  }
  switch (fc->type) {
  case TARN_PQ_BOOLEAN: out->boolean = v->i64 != 0; return n->type.id == TARN_ICE_BOOLEAN;
  case TARN_PQ_INT32:
    if (fc->logical == TARN_PQ_LT_INTEGER && !fc->is_signed)
      return 0;
    out->i32 = (int32_t)v->i64;
    return v->i64 >= INT32_MIN && v->i64 <= INT32_MAX;
  case TARN_PQ_INT64:
    if (fc->logical == TARN_PQ_LT_INTEGER && !fc->is_signed)
      return 0;
    out->i64 = v->i64;
    return 1;
  case TARN_PQ_FLOAT: out->f32 = v->f32; return n->type.id == TARN_ICE_FLOAT;
  case TARN_PQ_DOUBLE: out->f64 = v->f64; return n->type.id == TARN_ICE_DOUBLE;
  case TARN_PQ_BYTE_ARRAY:
  case TARN_PQ_FIXED_LEN_BYTE_ARRAY:
    if (fc->type == TARN_PQ_FIXED_LEN_BYTE_ARRAY && v->len != (size_t)fc->type_length)
      return 0;
    out->bytes = v->bytes;
    out->len = v->len;
    return 1;
  default: return 0;
  }
}

/* The Parquet filter built for one file; nodes and literals live until the scan opens. */
typedef struct pqf {
  tarn_pq_filter **blocks; /* every children array allocated */
  size_t nblocks, cap;
  uint8_t (*lits)[16];
  size_t nlits, maxlits;
} pqf;

static size_t nnf_leaves(const tarn__nnf *n) {
  size_t i, k = n->kind == TARN__NNF_LEAF;
  for (i = 0; i < n->nkids; i++)
    k += nnf_leaves(&n->kids[i]);
  return k;
}

/* Builds the pushdown of n into *out: 1 built, 0 nothing to push (the node cannot prune:
 * treat as true), -1 out of memory. */
static int push_node(tarn_table_scan *s, pqf *q, const tarn__nnf *n, tarn_pq_filter *out) {
  size_t i;
  memset(out, 0, sizeof(*out));
  if (n->kind == TARN__NNF_LEAF) {
    long fi = field_index(s, n->field_id);
    const tarn_pq_column *fc;
    if (fi < 0 || s->fcol[fi] < 0) {
      /* the file lacks the column: every row holds null there. Only IS NULL holds for a
       * null, so every other leaf prunes the whole file: a predicate no row matches. */
      return 0; /* the exact filter drops those rows; nothing to push */
    }
    fc = file_col(s, (size_t)fi);
    out->kind = TARN_PQ_FILTER_PRED;
    out->pred.column = (size_t)s->fcol[fi];
    if (n->op == TARN__OP_IS_NULL || n->op == TARN__OP_NOT_NULL) {
      out->pred.op = (tarn_pq_op)n->op;
      return 1;
    }
    if (n->op > TARN__OP_NOT_NULL || q->nlits >= q->maxlits)
      return 0; /* !=, NaN tests: row-group statistics hold no NaN counts */
    if (!pq_literal(n, fc, &out->pred.value, q->lits[q->nlits]))
      return 0;
    q->nlits++;
    out->pred.op = (tarn_pq_op)n->op;
    return 1;
  }
  if (n->kind == TARN__NNF_AND || n->kind == TARN__NNF_OR) {
    tarn_pq_filter *kids;
    size_t nk = 0;
    if (TARN_GROW(q->blocks, q->cap, q->nblocks + 1, 16) != 0)
      return -1;
    kids = tarn_calloc(n->nkids ? n->nkids : 1, sizeof(*kids));
    if (kids == NULL)
      return -1;
    q->blocks[q->nblocks++] = kids;
    for (i = 0; i < n->nkids; i++) {
      int rc = push_node(s, q, &n->kids[i], &kids[nk]);
      if (rc < 0)
        return -1;
      if (rc == 1)
        nk++;
      else if (n->kind == TARN__NNF_OR)
        return 0; /* a branch that cannot prune: neither can the OR */
    }
    if (nk == 0)
      return 0;
    out->kind = n->kind == TARN__NNF_AND ? TARN_PQ_FILTER_AND : TARN_PQ_FILTER_OR;
    out->children = kids;
    out->nchildren = nk;
    return 1;
  }
  return 0;
}

/* May a row of the open file satisfy leaf n, knowing only which columns the file lacks
 * (null in every row, so only IS NULL can hold on them)? */
static int present_leaf(void *arg, const tarn__nnf *n) {
  const tarn_table_scan *s = arg;
  long fi = field_index(s, n->field_id);
  return n->op == TARN__OP_IS_NULL || (fi >= 0 && s->fcol[fi] >= 0);
}

static void pqf_free(pqf *q) {
  size_t i;
  for (i = 0; i < q->nblocks; i++)
    tarn_free(q->blocks[i]);
  tarn_free(q->blocks);
  tarn_free(q->lits);
}

static void close_file(tarn_table_scan *s) {
  if (s->ps != NULL) {
    const tarn_pq_scan_stats *ps = tarn_pq_scan_stats_get(s->ps);
    s->st.row_groups_total += ps->row_groups_total;
    s->st.row_groups_pruned_stats += ps->row_groups_pruned_stats;
    s->st.row_groups_pruned_bloom += ps->row_groups_pruned_bloom;
    s->st.pages_total += ps->pages_total;
    s->st.pages_pruned += ps->pages_pruned;
    if (s->has_nnf)
      tarn_log_debug("scan pruned",
                     "level=file table=%s file=%s row_groups=%lld "
                     "skipped_stats=%lld skipped_bloom=%lld pages=%lld skipped_pages=%lld",
                     s->label, s->cur_path, (long long)ps->row_groups_total,
                     (long long)ps->row_groups_pruned_stats, (long long)ps->row_groups_pruned_bloom,
                     (long long)ps->pages_total, (long long)ps->pages_pruned);
  }
  tarn_pq_batch_free(s->pb);
  s->pb = NULL;
  tarn_pq_scan_close(s->ps);
  s->ps = NULL;
  tarn_pq_reader_close(s->r);
  s->r = NULL;
}

/* Opens a data file for reading: 0, 1 when its footer proves no row can match (nothing
 * open then but the reader), or an error code. */
static int open_file(tarn_table_scan *s, const tarn_ice_data_file *df, tarn_error *err) {
  char key[TARN_STORE_KEY_MAX + 1];
  const tarn_pq_file_meta *fm;
  tarn_pq_scan_options o;
  tarn_pq_filter root;
  idcol *ids = NULL;
  size_t *proj = NULL, nproj = 0, i;
  pqf q;
  int rc, pushed = 0;
  memset(&q, 0, sizeof(q));
  s->cur_path = df->file_path;
  if ((rc = tarn_table_io_key(&s->io, df->file_path, key, sizeof(key), err)) != 0 ||
      (rc = tarn_pq_reader_open_store(s->io.store, key, &s->r, err)) != 0)
    goto out;
  fm = tarn_pq_reader_meta(s->r);
  /* columns BY FIELD ID: a file written before a column was added lacks it (null) */
  ids = tarn_calloc(fm->schema.ncols + 1, sizeof(*ids));
  proj = tarn_calloc(s->schema.nfields + 1, sizeof(*proj));
  if (ids == NULL || proj == NULL)
    goto nomem;
  for (i = 0; i < fm->schema.ncols; i++) {
    ids[i].id = fm->schema.cols[i].has_field_id ? fm->schema.cols[i].field_id : -1;
    ids[i].col = i;
  }
  qsort(ids, fm->schema.ncols, sizeof(*ids), cmp_idcol);
  for (i = 0; i < s->schema.nfields; i++) {
    idcol want = {s->schema.fields[i].id, 0}, *hit;
    s->fcol[i] = s->pos[i] = -1;
    hit = fm->schema.ncols > 0 ? bsearch(&want, ids, fm->schema.ncols, sizeof(*ids), cmp_idcol)
                               : NULL;
    if (hit == NULL)
      continue;
    {
      const tarn_pq_column *fc = &fm->schema.cols[hit->col];
      if (fc->type != s->want.cols[i].type || (fc->type == TARN_PQ_FIXED_LEN_BYTE_ARRAY &&
                                               fc->type_length != s->want.cols[i].type_length)) {
        char d1[160], d2[160];
        tarn_pq_column_describe(fc, d1, sizeof(d1));
        tarn_pq_column_describe(&s->want.cols[i], d2, sizeof(d2));
        rc = tarn_error_set(err, TARN_ECORRUPT,
                            "column %s (field id %d) is %s; the table "
                            "expects %s",
                            s->schema.fields[i].name, (int)s->schema.fields[i].id, d1, d2);
        goto out;
      }
    }
    s->fcol[i] = (long)hit->col;
    if (s->needed[i]) {
      s->pos[i] = (long)nproj;
      proj[nproj++] = hit->col;
    }
  }
  if (s->has_nnf && !tarn__nnf_may_match(&s->nnf, present_leaf, s)) {
    rc = 1; /* e.g. x > 5 on a file written before x was added */
    goto out;
  }
  if (nproj == 0 && fm->schema.ncols > 0)
    proj[nproj++] = 0; /* rows still have to be counted */
  memset(&o, 0, sizeof(o));
  o.columns = proj;
  o.ncolumns = nproj;
  o.batch_rows = s->batch_rows;
  o.row_group = -1;
  if (s->has_nnf) {
    q.maxlits = nnf_leaves(&s->nnf);
    q.lits = tarn_calloc(q.maxlits + 1, sizeof(*q.lits));
    if (q.lits == NULL)
      goto nomem;
    pushed = push_node(s, &q, &s->nnf, &root);
    if (pushed < 0)
      goto nomem;
    if (pushed)
      o.filter = &root;
  }
  rc = tarn_pq_scan_open(s->r, &o, &s->ps, err);
  goto out;
nomem:
  rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
out:
  pqf_free(&q);
  tarn_free(ids);
  tarn_free(proj);
  if (rc < 0 || rc > 1)
    tarn_error_prefix(err, "%s: data file %s", s->label, df->file_path);
  return rc;
}

/* ---- filtering ---- */

/* Truth of leaf e for rows [0, n) of the file batch into t (1, 0, -1 unknown). */
static void eval_leaf(tarn_table_scan *s, const tarn_expr *e, int64_t n, int8_t *t) {
  long fi = field_index(s, e->field_id);
  const tarn_pq_array *a;
  const tarn_pq_column *fc;
  int64_t i;
  tarn_ice_value v;
  if (fi < 0 || s->pos[fi] < 0) { /* the column is null in every row */
    memset(&v, 0, sizeof(v));
    v.is_null = 1;
    memset(t, tarn__expr_leaf_eval(e, &v), (size_t)n);
    return;
  }
  a = &s->pb->cols[s->pos[fi]];
  fc = file_col(s, (size_t)fi);
  /* the common case in a tight loop: a comparison of ints, longs, dates, timestamps */
  if (e->kind == TARN_EXPR_CMP && (fc->type == TARN_PQ_INT64 || fc->type == TARN_PQ_INT32) &&
      e->type.id != TARN_ICE_DECIMAL) {
    int64_t lit = e->values[0].i64;
    for (i = 0; i < n; i++) {
      int64_t x;
      if (a->validity != NULL && !(a->validity[i >> 3] & (1u << (i & 7)))) {
        t[i] = -1;
        continue;
      }
      x = fc->type == TARN_PQ_INT64 ? ((const int64_t *)a->values)[i]
                                    : ((const int32_t *)a->values)[i];
      t[i] = (int8_t)tarn__expr_cmp_holds(e->op, x < lit ? -1 : x > lit);
    }
    return;
  }
  for (i = 0; i < n; i++) {
    tarn_ice_value_from_array(&e->type, fc, a, i, &v);
    t[i] = (int8_t)tarn__expr_leaf_eval(e, &v);
  }
}

static void eval_node(tarn_table_scan *s, const tarn_expr *e, int64_t n, size_t level) {
  int8_t *t = s->truth[level];
  size_t c;
  int64_t i;
  if (e->kind == TARN_EXPR_NOT) {
    eval_node(s, e->children[0], n, level + 1);
    for (i = 0; i < n; i++) {
      int8_t x = s->truth[level + 1][i];
      t[i] = x < 0 ? -1 : !x;
    }
    return;
  }
  if (e->kind == TARN_EXPR_AND || e->kind == TARN_EXPR_OR) {
    int8_t decide = e->kind == TARN_EXPR_OR; /* true decides an OR, false an AND */
    memset(t, !decide, (size_t)n);
    for (c = 0; c < e->nchildren; c++) {
      const int8_t *k = s->truth[level + 1];
      eval_node(s, e->children[c], n, level + 1);
      for (i = 0; i < n; i++) {
        if (t[i] == decide)
          continue;
        if (k[i] == decide)
          t[i] = decide;
        else if (k[i] < 0)
          t[i] = -1;
      }
    }
    return;
  }
  eval_leaf(s, e, n, t);
}

/* ---- output ---- */

static int grow_to(void **p, size_t *cap, size_t need) {
  void *np;
  if (*cap >= need)
    return 0;
  np = tarn_realloc(*p, need);
  if (np == NULL)
    return -1;
  *p = np;
  *cap = need;
  return 0;
}

/* dst (grown as needed) = the bits of src at the nsel rows of sel. */
static int gather_bits(const void *src, const int64_t *sel, int64_t nsel, uint8_t **dst,
                       size_t *cap) {
  const uint8_t *in = src;
  size_t nb = (size_t)nsel / 8 + 1;
  int64_t i;
  if (grow_to((void **)dst, cap, nb) != 0)
    return -1;
  memset(*dst, 0, nb);
  for (i = 0; i < nsel; i++)
    if (in[sel[i] >> 3] & (1u << (sel[i] & 7)))
      (*dst)[i >> 3] |= (uint8_t)(1u << (i & 7));
  return 0;
}

/* Column k of the output for the nsel rows in s->sel of the file batch (all rows when sel
 * is NULL: the arrays are then shared with the file batch). */
static int fill_column(tarn_table_scan *s, size_t k, int64_t nrows, int64_t nsel, int all) {
  size_t fi = s->outf[k];
  tarn_pq_array *o = &s->ocols[k];
  const tarn_pq_column *lc = &s->olayout[k];
  obuf *b = &s->obufs[k];
  const tarn_pq_array *a;
  int w = tarn_pq_plain_width(lc); /* BOOLEAN: a bitmap, below */
  int64_t i;
  memset(o, 0, sizeof(*o));
  o->length = nsel;
  if (s->pos[fi] < 0) { /* absent from this file: null in every row */
    size_t need = (size_t)nsel * (size_t)(w > 8 ? w : 8) + 16; /* also bitmaps, offsets */
    if (grow_to((void **)&s->zero, &s->zero_cap, need) != 0)
      return -1;
    memset(s->zero, 0, need);
    o->validity = s->zero;
    o->values = s->zero;
    o->offsets = (int64_t *)(void *)s->zero;
    o->data = s->zero;
    o->null_count = nsel;
    if (lc->type != TARN_PQ_BYTE_ARRAY)
      o->offsets = NULL;
    else
      o->values = NULL;
    return 0;
  }
  a = &s->pb->cols[s->pos[fi]];
  if (all) {
    *o = *a;
    (void)nrows;
    return 0;
  }
  if (a->validity != NULL) {
    if (gather_bits(a->validity, s->sel, nsel, &b->validity, &b->validity_cap) != 0)
      return -1;
    o->validity = b->validity;
    for (i = 0; i < nsel; i++)
      o->null_count += !(b->validity[i >> 3] & (1u << (i & 7)));
  }
  if (lc->type == TARN_PQ_BOOLEAN) {
    if (gather_bits(a->values, s->sel, nsel, &b->values, &b->values_cap) != 0)
      return -1;
    o->values = b->values;
  } else if (w > 0) {
    if (grow_to((void **)&b->values, &b->values_cap, (size_t)nsel * (size_t)w + 1) != 0)
      return -1;
    for (i = 0; i < nsel; i++)
      memcpy(b->values + (size_t)i * (size_t)w,
             (const uint8_t *)a->values + (size_t)s->sel[i] * (size_t)w, (size_t)w);
    o->values = b->values;
  } else {
    if (grow_to((void **)&b->offsets, &b->offsets_cap, ((size_t)nsel + 1) * sizeof(int64_t)) != 0)
      return -1;
    tarn_buf_reset(&b->data);
    b->offsets[0] = 0;
    for (i = 0; i < nsel; i++) {
      int64_t r = s->sel[i], len = a->offsets[r + 1] - a->offsets[r];
      if (len > 0 && tarn_buf_append(&b->data, a->data + a->offsets[r], (size_t)len, NULL) != 0)
        return -1;
      b->offsets[i + 1] = (int64_t)b->data.len;
    }
    if (tarn_buf_reserve(&b->data, 1, NULL) != 0)
      return -1;
    o->offsets = b->offsets;
    o->data = (uint8_t *)b->data.data;
    o->data_len = (int64_t)b->data.len;
  }
  return 0;
}

int tarn_table_scan_next(tarn_table_scan *s, const tarn_table_batch **out, tarn_error *err) {
  int rc;
  *out = NULL;
  if (s->failed)
    return tarn_error_set(err, TARN_EINVAL, "%s: the scan failed before", s->label);
  for (;;) {
    int64_t n, nsel = 0, i;
    size_t k;
    if (s->pb != NULL) {
      tarn_pq_scan_recycle(s->ps, s->pb);
      s->pb = NULL;
    }
    if (s->ps == NULL) {
      if (s->next_file >= s->nfiles)
        return 0;
      rc = open_file(s, &s->files[s->next_file++], err);
      if (rc == 1) { /* the footer shows no row can match */
        s->st.files_pruned_metrics++;
        tarn_log_debug("scan pruned", "level=file_schema table=%s file=%s", s->label, s->cur_path);
        close_file(s);
        continue;
      }
      if (rc != 0)
        goto fail;
      s->st.files_read++;
    }
    rc = tarn_pq_scan_next(s->ps, &s->pb, err);
    if (rc != 0) {
      tarn_error_prefix(err, "%s: data file %s", s->label, s->cur_path);
      goto fail;
    }
    if (s->pb == NULL) {
      close_file(s);
      continue;
    }
    n = s->pb->nrows;
    s->st.rows_read += n;
    if (n == 0)
      continue;
    if (s->filter != NULL) {
      eval_node(s, s->filter, n, 0);
      for (i = 0; i < n; i++)
        if (s->truth[0][i] == 1)
          s->sel[nsel++] = i;
    } else {
      nsel = n;
    }
    if (nsel == 0)
      continue;
    for (k = 0; k < s->nout; k++)
      if (fill_column(s, k, n, nsel, nsel == n) != 0) {
        rc = tarn_error_set(err, TARN_ENOMEM, "%s: out of memory building a batch", s->label);
        goto fail;
      }
    s->batch.nrows = nsel;
    s->batch.ncols = s->nout;
    s->batch.fields = s->ofields;
    s->batch.layout = s->olayout;
    s->batch.cols = s->ocols;
    s->st.rows_returned += nsel;
    *out = &s->batch;
    return 0;
  }
fail:
  s->failed = 1;
  close_file(s);
  return rc;
}

void tarn_table_scan_close(tarn_table_scan *s) {
  size_t i;
  if (s == NULL)
    return;
  close_file(s);
  for (i = 0; s->obufs != NULL && i < s->nout; i++) {
    tarn_free(s->obufs[i].validity);
    tarn_free(s->obufs[i].values);
    tarn_free(s->obufs[i].offsets);
    tarn_buf_free(&s->obufs[i].data);
  }
  for (i = 0; s->truth != NULL && i < s->ntruth; i++)
    tarn_free(s->truth[i]);
  tarn_free(s->truth);
  if (s->has_nnf)
    tarn__nnf_free(&s->nnf);
  tarn_ice_data_files_free(s->files, s->nfiles);
  tarn_free(s->obufs);
  tarn_free(s->outf);
  tarn_free(s->ofields);
  tarn_free(s->olayout);
  tarn_free(s->ocols);
  tarn_free(s->needed);
  tarn_free(s->fcol);
  tarn_free(s->pos);
  tarn_free(s->sel);
  tarn_free(s->zero);
  tarn_pq_schema_free(&s->want);
  tarn_ice_schema_free(&s->schema);
  tarn_free(s);
}
