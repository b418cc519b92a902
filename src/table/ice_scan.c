/* ice_scan.c - scan planning: snapshot selection, manifest and data-file pruning. */
#include "table.h"

#include <string.h>

#include "base/alloc.h"
#include "table_int.h"

void tarn_ice_data_files_free(tarn_ice_data_file *f, size_t n) {
  size_t i;
  for (i = 0; f != NULL && i < n; i++)
    tarn_ice_data_file_free(&f[i]);
  tarn_free(f);
}

/* The snapshot a scan reads: explicit id, the one current at as_of_ms, or current. */
static int pick_snapshot(const tarn_ice_metadata *m, const tarn_table_scan_options *o,
                         const tarn_ice_snapshot **out, tarn_error *err) {
  *out = NULL;
  if (o != NULL && o->snapshot_id >= 0) {
    *out = tarn_ice_metadata_snapshot(m, o->snapshot_id);
    if (*out == NULL)
      return tarn_error_set(err, TARN_ENOTFOUND, "snapshot %lld does not exist (or has expired)",
                            (long long)o->snapshot_id);
    return 0;
  }
  if (o != NULL && o->as_of_ms >= 0) {
    int64_t id = -1;
    size_t i;
    for (i = 0; i < m->nsnapshot_log; i++)
      if (m->snapshot_log[i].timestamp_ms <= o->as_of_ms)
        id = m->snapshot_log[i].snapshot_id;
    if (id < 0)
      return tarn_error_set(err, TARN_ENOTFOUND, "the table has no snapshot at or before %lld ms",
                            (long long)o->as_of_ms);
    *out = tarn_ice_metadata_snapshot(m, id);
    if (*out == NULL)
      return tarn_error_set(err, TARN_ENOTFOUND, "snapshot %lld (current at %lld ms) has expired",
                            (long long)id, (long long)o->as_of_ms);
    return 0;
  }
  if (m->current_snapshot_id >= 0)
    *out = tarn_ice_metadata_snapshot(m, m->current_snapshot_id);
  return 0;
}

static int is_nan(const tarn_ice_type *t, const tarn_ice_value *v) {
  return (t->id == TARN_ICE_FLOAT && v->f32 != v->f32) ||
         (t->id == TARN_ICE_DOUBLE && v->f64 != v->f64);
}

/*
 * May a value range [lo, hi] (either may be absent) hold a value satisfying `op v`?
 * Conservative: 1 unless the bounds prove otherwise.
 */
static int range_may_match(const tarn_ice_type *t, tarn_pq_op op, const tarn_ice_value *v,
                           const tarn_ice_value *lo, const tarn_ice_value *hi) {
  if (is_nan(t, v))
    return 1;
  switch (op) {
  case TARN_PQ_EQ:
    if (lo != NULL && tarn_ice_value_compare(t, v, lo) < 0)
      return 0;
    if (hi != NULL && tarn_ice_value_compare(t, v, hi) > 0)
      return 0;
    return 1;
  case TARN_PQ_LT: return lo == NULL || tarn_ice_value_compare(t, lo, v) < 0;
  case TARN_PQ_LE: return lo == NULL || tarn_ice_value_compare(t, lo, v) <= 0;
  case TARN_PQ_GT: return hi == NULL || tarn_ice_value_compare(t, hi, v) > 0;
  case TARN_PQ_GE: return hi == NULL || tarn_ice_value_compare(t, hi, v) >= 0;
  default: return 1;
  }
}

/*
 * Projects a predicate on a source column onto a partition field: the operator and the
 * literal to test against the partition value. 0 when the partition field says nothing
 * about the predicate (e.g. a range on a bucket).
 */
static int project(const tarn_ice_partition_field *pf, const tarn_ice_type *src,
                   const tarn_table_pred *p, tarn_pq_op *op, tarn_ice_value *lit,
                   tarn_buf *scratch) {
  switch (pf->transform.kind) {
  case TARN_ICE_IDENTITY:
    *op = p->op;
    *lit = p->value;
    return 1;
  case TARN_ICE_BUCKET:
    if (p->op != TARN_PQ_EQ)
      return 0;
    *op = TARN_PQ_EQ;
    return tarn_ice_transform_apply(&pf->transform, src, &p->value, lit, scratch, NULL) == 0;
  case TARN_ICE_TRUNCATE:
  case TARN_ICE_YEAR:
  case TARN_ICE_MONTH:
  case TARN_ICE_DAY:
  case TARN_ICE_HOUR:
    /* order-preserving: compare transformed values, inclusively (a strict bound on the
     * source becomes inclusive on the coarser partition value) */
    if (tarn_ice_transform_apply(&pf->transform, src, &p->value, lit, scratch, NULL) != 0)
      return 0;
    *op = p->op == TARN_PQ_LT ? TARN_PQ_LE : p->op == TARN_PQ_GT ? TARN_PQ_GE : p->op;
    return p->op == TARN_PQ_EQ || p->op == TARN_PQ_LT || p->op == TARN_PQ_LE ||
           p->op == TARN_PQ_GT || p->op == TARN_PQ_GE;
  default: return 0;
  }
}

/*
 * May partition values in [lo, hi] (either may be absent) of field pf hold a row that
 * satisfies p? A range on an int or long under truncate(W) is answered on the source
 * values those partitions hold: Java's truncation wraps near the type's minimum, so the
 * partition values are not in the order of the rows they hold.
 */
static int partition_range_may_match(const tarn_ice_partition_field *pf, const tarn_ice_type *src,
                                     const tarn_ice_type *rt, const tarn_table_pred *p,
                                     const tarn_ice_value *lo, const tarn_ice_value *hi,
                                     tarn_buf *scratch) {
  tarn_ice_value lit;
  tarn_pq_op op;
  if (pf->transform.kind == TARN_ICE_TRUNCATE && p->op != TARN_PQ_EQ &&
      (src->id == TARN_ICE_INT || src->id == TARN_ICE_LONG)) {
    int is_long = src->id == TARN_ICE_LONG;
    tarn_ice_value slo, shi;
    memset(&slo, 0, sizeof(slo));
    memset(&shi, 0, sizeof(shi));
    tarn__ice_truncate_source_range(pf->transform.param, is_long,
                                    lo        ? lo->i64
                                    : is_long ? INT64_MIN
                                              : INT32_MIN,
                                    hi        ? hi->i64
                                    : is_long ? INT64_MAX
                                              : INT32_MAX,
                                    &slo.i64, &shi.i64);
    return range_may_match(src, p->op, &p->value, &slo, &shi);
  }
  if (!project(pf, src, p, &op, &lit, scratch))
    return 1;
  return range_may_match(rt, op, &lit, lo, hi);
}

/* ---- one leaf at each level: may some row of the region make it true? ---- */

/* A manifest, by its partition field summaries. */
static int manifest_leaf(const tarn_ice_schema *schema, const tarn_ice_spec *spec,
                         const tarn_ice_manifest_file *mf, const tarn_table_pred *p, int op,
                         tarn_buf *scratch) {
  const tarn_ice_field *src = tarn_ice_schema_field(schema, p->field_id);
  size_t j;
  if (src == NULL || mf->npartitions != spec->nfields)
    return 1;
  for (j = 0; j < spec->nfields; j++) {
    const tarn_ice_partition_field *pf = &spec->fields[j];
    const tarn_ice_field_summary *fs = &mf->partitions[j];
    tarn_ice_type rt;
    tarn_ice_value lit, lo, hi;
    tarn_pq_op pop;
    if (pf->source_id != p->field_id || pf->transform.kind == TARN_ICE_VOID ||
        tarn_ice_transform_result_type(&pf->transform, &src->type, &rt, NULL) != 0)
      continue;
    /* every transform maps null, and only null, to null */
    if (op == TARN__OP_IS_NULL) {
      if (!fs->contains_null)
        return 0;
      continue;
    }
    if (!fs->has_lower && !fs->has_upper && fs->contains_null && fs->contains_nan <= 0)
      return 0; /* every partition value is null: only IS NULL can hold */
    if (op > TARN__OP_NOT_NULL || op == TARN__OP_NOT_NULL)
      continue; /* !=, NaN tests: the summaries say nothing more */
    if (!project(pf, &src->type, p, &pop, &lit, scratch))
      continue; /* the partition field says nothing about this predicate */
    if (!fs->has_lower && !fs->has_upper)
      continue;
    if (fs->has_lower && tarn_ice_value_deserialize(&rt, (const uint8_t *)fs->lower.data,
                                                    fs->lower.len, &lo, NULL) != 0)
      continue;
    if (fs->has_upper && tarn_ice_value_deserialize(&rt, (const uint8_t *)fs->upper.data,
                                                    fs->upper.len, &hi, NULL) != 0)
      continue;
    if (!partition_range_may_match(pf, &src->type, &rt, p, fs->has_lower ? &lo : NULL,
                                   fs->has_upper ? &hi : NULL, scratch))
      return 0;
  }
  return 1;
}

/* A data file, by its partition values. */
static int partition_leaf(const tarn_ice_schema *schema, const tarn_ice_spec *spec,
                          const tarn_ice_data_file *f, const tarn_table_pred *p, int op,
                          tarn_buf *scratch) {
  const tarn_ice_field *src = tarn_ice_schema_field(schema, p->field_id);
  size_t j;
  if (src == NULL)
    return 1;
  for (j = 0; j < spec->nfields && j < f->npartition; j++) {
    const tarn_ice_partition_field *pf = &spec->fields[j];
    const tarn_ice_value *pv = &f->partition[j];
    tarn_ice_type rt;
    if (pf->source_id != p->field_id || pf->transform.kind == TARN_ICE_VOID ||
        tarn_ice_transform_result_type(&pf->transform, &src->type, &rt, NULL) != 0)
      continue;
    if (op == TARN__OP_IS_NULL) { /* every transform maps null, and only null, to null */
      if (!pv->is_null)
        return 0;
      continue;
    }
    if (pv->is_null)
      return 0; /* the source is null here: nothing but IS NULL holds */
    if (op == TARN__OP_NE) {
      if (pf->transform.kind == TARN_ICE_IDENTITY && !is_nan(&src->type, pv) &&
          tarn_ice_value_compare(&src->type, pv, &p->value) == 0)
        return 0;
      continue;
    }
    if (op > TARN__OP_NOT_NULL || op == TARN__OP_NOT_NULL)
      continue;
    if (!partition_range_may_match(pf, &src->type, &rt, p, pv, pv, scratch))
      return 0;
  }
  return 1;
}

/* A data file, by its column metrics (counts and bounds). */
static int metrics_leaf(const tarn_ice_schema *schema, const tarn_ice_data_file *f,
                        const tarn_table_pred *p, int op) {
  const tarn_ice_field *fld = tarn_ice_schema_field(schema, p->field_id);
  const tarn_ice_column_stats *s = NULL;
  tarn_ice_value lo, hi;
  int has_lo, has_hi, all_null, flt;
  size_t j;
  if (fld == NULL)
    return 1;
  for (j = 0; j < f->nstats; j++)
    if (f->stats[j].field_id == p->field_id)
      s = &f->stats[j];
  if (s == NULL)
    return 1; /* no metrics for this column (or it was added later): cannot prune */
  all_null = s->value_count >= 0 && s->null_count >= 0 && s->value_count == s->null_count;
  flt = fld->type.id == TARN_ICE_FLOAT || fld->type.id == TARN_ICE_DOUBLE;
  switch (op) {
  case TARN__OP_IS_NULL: return s->null_count != 0;
  case TARN__OP_NOT_NULL: return !all_null;
  case TARN__OP_IS_NAN: return !all_null && flt && s->nan_count != 0;
  case TARN__OP_NOT_NAN:
    return !all_null && !(flt && s->value_count >= 0 && s->null_count >= 0 && s->nan_count >= 0 &&
                          s->value_count == s->null_count + s->nan_count);
  default: break;
  }
  if (all_null)
    return 0; /* only nulls: no comparison can hold */
  has_lo = s->has_lower && tarn_ice_value_deserialize(&fld->type, (const uint8_t *)s->lower.data,
                                                      s->lower.len, &lo, NULL) == 0;
  has_hi = s->has_upper && tarn_ice_value_deserialize(&fld->type, (const uint8_t *)s->upper.data,
                                                      s->upper.len, &hi, NULL) == 0;
  if (op == TARN__OP_NE) /* prune only a file holding v alone (and no NaN, which != v) */
    return !(has_lo && has_hi && (!flt || s->nan_count == 0) &&
             tarn_ice_value_compare(&fld->type, &lo, &p->value) == 0 &&
             tarn_ice_value_compare(&fld->type, &hi, &p->value) == 0);
  return range_may_match(&fld->type, p->op, &p->value, has_lo ? &lo : NULL, has_hi ? &hi : NULL);
}

/* ---- the predicate tree at each level ---- */

enum { AT_MANIFEST, AT_PARTITION, AT_METRICS };

typedef struct prune_cx {
  int level;
  const tarn_ice_schema *schema;
  const tarn_ice_spec *spec;
  const tarn_ice_manifest_file *mf;
  const tarn_ice_data_file *f;
  tarn_buf scratch;
} prune_cx;

/* May some row of the region cx describes satisfy leaf n? */
static int leaf_may_match(void *arg, const tarn__nnf *n) {
  prune_cx *cx = arg;
  tarn_table_pred p;
  memset(&p, 0, sizeof(p));
  p.field_id = n->field_id;
  p.op = n->op <= TARN__OP_NOT_NULL ? (tarn_pq_op)n->op : TARN_PQ_EQ; /* n->op decides */
  p.value = n->value;
  switch (cx->level) {
  case AT_MANIFEST: return manifest_leaf(cx->schema, cx->spec, cx->mf, &p, n->op, &cx->scratch);
  case AT_PARTITION: return partition_leaf(cx->schema, cx->spec, cx->f, &p, n->op, &cx->scratch);
  default: return metrics_leaf(cx->schema, cx->f, &p, n->op);
  }
}

static int nnf_may_match(prune_cx *cx, const tarn__nnf *n) {
  return tarn__nnf_may_match(n, leaf_may_match, cx);
}

/* The options' predicates (ANDed) and filter as one tree; leaves borrow their values. */
static int plan_tree(const tarn_table_scan_options *o, tarn__nnf *root, tarn_error *err) {
  size_t i, n = o != NULL ? o->npreds : 0;
  memset(root, 0, sizeof(*root));
  root->kind = TARN__NNF_AND;
  root->kids = tarn_calloc(n + 1, sizeof(*root->kids));
  if (root->kids == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory planning a scan");
  for (i = 0; i < n; i++) {
    tarn__nnf *l = &root->kids[root->nkids++];
    l->kind = TARN__NNF_LEAF;
    l->field_id = o->preds[i].field_id;
    l->op = (int)o->preds[i].op;
    l->value = o->preds[i].value;
  }
  if (o != NULL && o->filter != NULL) {
    int rc = tarn__expr_nnf(o->filter, &root->kids[root->nkids], err);
    if (rc != 0) {
      tarn__nnf_free(root);
      return rc;
    }
    root->nkids++;
  }
  return 0;
}

int tarn_table_plan(tarn_table *t, const tarn_table_scan_options *opts, tarn_ice_data_file **files,
                    size_t *nfiles, int64_t *snapshot_id, tarn_table_plan_stats *stats,
                    tarn_error *err) {
  const tarn_ice_metadata *m = tarn_table_metadata(t);
  const tarn_table_io *io = tarn_table_io_of(t);
  const tarn_ice_snapshot *snap;
  const tarn_ice_schema *schema = tarn_table_schema(t);
  tarn_ice_manifest_file *mfs = NULL;
  tarn__nnf tree;
  prune_cx cx;
  tarn_ice_data_file *out = NULL;
  size_t nmfs = 0, n = 0, cap = 0, i, k;
  tarn_table_plan_stats st;
  int rc;
  memset(&st, 0, sizeof(st));
  memset(&cx, 0, sizeof(cx));
  tarn_buf_init(&cx.scratch, 64);
  *files = NULL;
  *nfiles = 0;
  if (snapshot_id != NULL)
    *snapshot_id = -1;
  rc = plan_tree(opts, &tree, err);
  if (rc != 0) {
    tarn_buf_free(&cx.scratch);
    return rc;
  }
  rc = pick_snapshot(m, opts, &snap, err);
  if (rc != 0 || snap == NULL)
    goto out;
  if (snapshot_id != NULL)
    *snapshot_id = snap->snapshot_id;
  if (snap->schema_id >= 0 && tarn_ice_metadata_schema(m, snap->schema_id) != NULL &&
      (opts == NULL || opts->snapshot_id >= 0 || opts->as_of_ms >= 0))
    schema = tarn_ice_metadata_schema(m, snap->schema_id); /* time travel reads its schema */
  rc = tarn_ice_manifest_list_read(io, snap->manifest_list, &mfs, &nmfs, err);
  if (rc != 0)
    goto out;
  for (i = 0; i < nmfs && rc == 0; i++) {
    const tarn_ice_spec *spec = tarn_ice_metadata_spec(m, mfs[i].partition_spec_id);
    tarn_ice_manifest_entry *es = NULL;
    size_t ne = 0;
    st.manifests_total++;
    if (spec == NULL) {
      rc = tarn_error_set(err, TARN_ECORRUPT, "manifest %s uses unknown partition spec %d",
                          mfs[i].manifest_path, (int)mfs[i].partition_spec_id);
      break;
    }
    if (mfs[i].content != TARN_ICE_CONTENT_DATA) {
      rc = tarn_error_set(err, TARN_EUNSUPPORTED,
                          "table %s has delete files (%s); tarn reads "
                          "only tables without row-level deletes",
                          m->location, mfs[i].manifest_path);
      break;
    }
    if (mfs[i].added_files_count == 0 && mfs[i].existing_files_count == 0) {
      st.manifests_pruned++;
      continue;
    }
    cx.level = AT_MANIFEST;
    cx.schema = schema;
    cx.spec = spec;
    cx.mf = &mfs[i];
    if (!nnf_may_match(&cx, &tree)) {
      st.manifests_pruned++;
      continue;
    }
    rc = tarn_ice_manifest_read(io, &mfs[i], schema, spec, &es, &ne, err);
    for (k = 0; rc == 0 && k < ne; k++) {
      tarn_ice_data_file *f = &es[k].file;
      if (es[k].status == TARN_ICE_DELETED)
        continue;
      st.files_total++;
      cx.f = f;
      cx.level = AT_PARTITION;
      if (!nnf_may_match(&cx, &tree)) {
        st.files_pruned_partition++;
        continue;
      }
      cx.level = AT_METRICS;
      if (!nnf_may_match(&cx, &tree)) {
        st.files_pruned_metrics++;
        continue;
      }
      if (TARN_GROW(out, cap, n + 1, 64) != 0) {
        rc = tarn_error_set(err, TARN_ENOMEM, "out of memory planning a scan");
        break;
      }
      out[n++] = *f; /* move */
      memset(f, 0, sizeof(*f));
    }
    tarn_ice_manifest_entries_free(es, ne);
  }
out:
  tarn__nnf_free(&tree);
  tarn_buf_free(&cx.scratch);
  tarn_ice_manifest_files_free(mfs, nmfs);
  if (rc != 0) {
    tarn_ice_data_files_free(out, n);
    return rc;
  }
  if (stats != NULL)
    *stats = st;
  *files = out;
  *nfiles = n;
  return 0;
}
