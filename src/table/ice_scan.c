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
  case TARN_PQ_LT:
    return lo == NULL || tarn_ice_value_compare(t, lo, v) < 0;
  case TARN_PQ_LE:
    return lo == NULL || tarn_ice_value_compare(t, lo, v) <= 0;
  case TARN_PQ_GT:
    return hi == NULL || tarn_ice_value_compare(t, hi, v) > 0;
  case TARN_PQ_GE:
    return hi == NULL || tarn_ice_value_compare(t, hi, v) >= 0;
  default:
    return 1;
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
  default:
    return 0;
  }
}

/*
 * May partition values in [lo, hi] (either may be absent) of field pf hold a row that
 * satisfies p? A range on an int or long under truncate(W) is answered on the source
 * values those partitions hold: Java's truncation wraps near the type's minimum, so the
 * partition values are not in the order of the rows they hold.
 */
static int partition_range_may_match(const tarn_ice_partition_field *pf,
                                     const tarn_ice_type *src, const tarn_ice_type *rt,
                                     const tarn_table_pred *p, const tarn_ice_value *lo,
                                     const tarn_ice_value *hi, tarn_buf *scratch) {
  tarn_ice_value lit;
  tarn_pq_op op;
  if (pf->transform.kind == TARN_ICE_TRUNCATE && p->op != TARN_PQ_EQ &&
      (src->id == TARN_ICE_INT || src->id == TARN_ICE_LONG)) {
    int is_long = src->id == TARN_ICE_LONG;
    tarn_ice_value slo, shi;
    memset(&slo, 0, sizeof(slo));
    memset(&shi, 0, sizeof(shi));
    tarn__ice_truncate_source_range(pf->transform.param, is_long,
                                    lo ? lo->i64 : is_long ? INT64_MIN : INT32_MIN,
                                    hi ? hi->i64 : is_long ? INT64_MAX : INT32_MAX, &slo.i64,
                                    &shi.i64);
    return range_may_match(src, p->op, &p->value, &slo, &shi);
  }
  if (!project(pf, src, p, &op, &lit, scratch))
    return 1;
  return range_may_match(rt, op, &lit, lo, hi);
}

/* Do the manifest's partition summaries allow a match for every predicate? */
static int manifest_may_match(const tarn_ice_schema *schema, const tarn_ice_spec *spec,
                              const tarn_ice_manifest_file *mf, const tarn_table_pred *preds,
                              size_t npreds) {
  size_t i, j;
  tarn_buf scratch;
  int ok = 1;
  if (mf->npartitions != spec->nfields)
    return 1;
  tarn_buf_init(&scratch, 64);
  for (i = 0; ok && i < npreds; i++) {
    const tarn_table_pred *p = &preds[i];
    const tarn_ice_field *src = tarn_ice_schema_field(schema, p->field_id);
    if (src == NULL)
      continue;
    for (j = 0; ok && j < spec->nfields; j++) {
      const tarn_ice_partition_field *pf = &spec->fields[j];
      const tarn_ice_field_summary *fs = &mf->partitions[j];
      tarn_ice_type rt;
      tarn_ice_value lit, lo, hi;
      tarn_pq_op op;
      if (pf->source_id != p->field_id ||
          tarn_ice_transform_result_type(&pf->transform, &src->type, &rt, NULL) != 0)
        continue;
      if (p->op == TARN_PQ_IS_NULL) {
        if (pf->transform.kind != TARN_ICE_VOID && !fs->contains_null)
          ok = 0;
        continue;
      }
      if (p->op == TARN_PQ_NOT_NULL) {
        if (pf->transform.kind != TARN_ICE_VOID && !fs->has_lower && !fs->has_upper &&
            fs->contains_null && fs->contains_nan <= 0)
          ok = 0; /* every partition value is null */
        continue;
      }
      if (!project(pf, &src->type, p, &op, &lit, &scratch))
        continue; /* the partition field says nothing about this predicate */
      if (!fs->has_lower && !fs->has_upper) {
        if (fs->contains_nan <= 0 && fs->contains_null)
          ok = 0; /* only nulls: no comparison holds */
        continue;
      }
      if (fs->has_lower &&
          tarn_ice_value_deserialize(&rt, (const uint8_t *)fs->lower.data, fs->lower.len, &lo,
                                     NULL) != 0)
        continue;
      if (fs->has_upper &&
          tarn_ice_value_deserialize(&rt, (const uint8_t *)fs->upper.data, fs->upper.len, &hi,
                                     NULL) != 0)
        continue;
      if (!partition_range_may_match(pf, &src->type, &rt, p, fs->has_lower ? &lo : NULL,
                                     fs->has_upper ? &hi : NULL, &scratch))
        ok = 0;
    }
  }
  tarn_buf_free(&scratch);
  return ok;
}

static int file_partition_may_match(const tarn_ice_schema *schema, const tarn_ice_spec *spec,
                                    const tarn_ice_data_file *f, const tarn_table_pred *preds,
                                    size_t npreds) {
  size_t i, j;
  tarn_buf scratch;
  int ok = 1;
  tarn_buf_init(&scratch, 64);
  for (i = 0; ok && i < npreds; i++) {
    const tarn_table_pred *p = &preds[i];
    const tarn_ice_field *src = tarn_ice_schema_field(schema, p->field_id);
    if (src == NULL)
      continue;
    for (j = 0; ok && j < spec->nfields && j < f->npartition; j++) {
      const tarn_ice_partition_field *pf = &spec->fields[j];
      const tarn_ice_value *pv = &f->partition[j];
      tarn_ice_type rt;
      if (pf->source_id != p->field_id || pf->transform.kind == TARN_ICE_VOID ||
          tarn_ice_transform_result_type(&pf->transform, &src->type, &rt, NULL) != 0)
        continue;
      if (p->op == TARN_PQ_IS_NULL) {
        ok = pv->is_null; /* every transform maps null, and only null, to null */
        continue;
      }
      if (p->op == TARN_PQ_NOT_NULL) {
        ok = !pv->is_null;
        continue;
      }
      if (pv->is_null) {
        ok = 0;
        continue;
      }
      ok = partition_range_may_match(pf, &src->type, &rt, p, pv, pv, &scratch);
    }
  }
  tarn_buf_free(&scratch);
  return ok;
}

static int file_metrics_may_match(const tarn_ice_schema *schema, const tarn_ice_data_file *f,
                                  const tarn_table_pred *preds, size_t npreds) {
  size_t i, j;
  for (i = 0; i < npreds; i++) {
    const tarn_table_pred *p = &preds[i];
    const tarn_ice_field *fld = tarn_ice_schema_field(schema, p->field_id);
    const tarn_ice_column_stats *s = NULL;
    tarn_ice_value lo, hi;
    int has_lo, has_hi;
    if (fld == NULL)
      continue;
    for (j = 0; j < f->nstats; j++)
      if (f->stats[j].field_id == p->field_id)
        s = &f->stats[j];
    if (s == NULL)
      continue; /* no metrics for this column (or it was added later): cannot prune */
    if (p->op == TARN_PQ_IS_NULL) {
      if (s->null_count == 0)
        return 0;
      continue;
    }
    if (p->op == TARN_PQ_NOT_NULL) {
      if (s->value_count >= 0 && s->null_count >= 0 && s->value_count == s->null_count)
        return 0;
      continue;
    }
    if (s->value_count >= 0 && s->null_count >= 0 && s->value_count == s->null_count)
      return 0; /* only nulls: no comparison can hold */
    has_lo = s->has_lower && tarn_ice_value_deserialize(&fld->type, (const uint8_t *)s->lower.data,
                                                        s->lower.len, &lo, NULL) == 0;
    has_hi = s->has_upper && tarn_ice_value_deserialize(&fld->type, (const uint8_t *)s->upper.data,
                                                        s->upper.len, &hi, NULL) == 0;
    if (!range_may_match(&fld->type, p->op, &p->value, has_lo ? &lo : NULL, has_hi ? &hi : NULL))
      return 0;
  }
  return 1;
}

int tarn_table_plan(tarn_table *t, const tarn_table_scan_options *opts,
                    tarn_ice_data_file **files, size_t *nfiles, int64_t *snapshot_id,
                    tarn_table_plan_stats *stats, tarn_error *err) {
  const tarn_ice_metadata *m = tarn_table_metadata(t);
  const tarn_table_io *io = tarn_table_io_of(t);
  const tarn_ice_snapshot *snap;
  const tarn_ice_schema *schema = tarn_table_schema(t);
  const tarn_table_pred *preds = opts ? opts->preds : NULL;
  size_t npreds = opts ? opts->npreds : 0;
  tarn_ice_manifest_file *mfs = NULL;
  tarn_ice_data_file *out = NULL;
  size_t nmfs = 0, n = 0, cap = 0, i, k;
  tarn_table_plan_stats st;
  int rc;
  memset(&st, 0, sizeof(st));
  *files = NULL;
  *nfiles = 0;
  if (snapshot_id != NULL)
    *snapshot_id = -1;
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
      rc = tarn_error_set(err, TARN_EUNSUPPORTED, "table %s has delete files (%s); tarn reads "
                          "only tables without row-level deletes", m->location,
                          mfs[i].manifest_path);
      break;
    }
    if (mfs[i].added_files_count == 0 && mfs[i].existing_files_count == 0) {
      st.manifests_pruned++;
      continue;
    }
    if (!manifest_may_match(schema, spec, &mfs[i], preds, npreds)) {
      st.manifests_pruned++;
      continue;
    }
    rc = tarn_ice_manifest_read(io, &mfs[i], schema, spec, &es, &ne, err);
    for (k = 0; rc == 0 && k < ne; k++) {
      tarn_ice_data_file *f = &es[k].file;
      if (es[k].status == TARN_ICE_DELETED)
        continue;
      st.files_total++;
      if (!file_partition_may_match(schema, spec, f, preds, npreds)) {
        st.files_pruned_partition++;
        continue;
      }
      if (!file_metrics_may_match(schema, f, preds, npreds)) {
        st.files_pruned_metrics++;
        continue;
      }
      if (n == cap) {
        size_t ncap = cap ? cap * 2 : 64;
        tarn_ice_data_file *no = tarn_reallocarray(out, ncap, sizeof(*no));
        if (no == NULL) {
          rc = tarn_error_set(err, TARN_ENOMEM, "out of memory planning a scan");
          break;
        }
        out = no;
        cap = ncap;
      }
      out[n++] = *f; /* move */
      memset(f, 0, sizeof(*f));
    }
    tarn_ice_manifest_entries_free(es, ne);
  }
out:
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
