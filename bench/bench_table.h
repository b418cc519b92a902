/* bench_table.h - what table_bench and scan_bench share: clocks, medians, and the schema of
 * their 10,000-file table (id long, ts timestamptz, name string; day(ts) partitions). */
#ifndef TARN_BENCH_TABLE_H
#define TARN_BENCH_TABLE_H

#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "table/table.h"

#define BENCH_DAY_US 86400000000LL

static inline double bench_now_s(void) { return (double)tarn_clock_mono_ns() / 1e9; }

static inline int bench_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Sorts v. */
static inline double bench_median(double *v, int n) {
  qsort(v, (size_t)n, sizeof(*v), bench_cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* id long (required), ts timestamptz (required), name string; f holds 3 fields. File i of
 * the 10,000 holds ids [i*1000, i*1000 + 999] on day 20000 + i/100. */
static inline void bench_make_schema(tarn_ice_schema *s, tarn_ice_field *f) {
  memset(f, 0, 3 * sizeof(*f));
  f[0].id = 1;
  f[0].name = "id";
  f[0].required = 1;
  f[0].type.id = TARN_ICE_LONG;
  f[1].id = 2;
  f[1].name = "ts";
  f[1].required = 1;
  f[1].type.id = TARN_ICE_TIMESTAMPTZ;
  f[2].id = 3;
  f[2].name = "name";
  f[2].type.id = TARN_ICE_STRING;
  s->schema_id = 0;
  s->fields = f;
  s->nfields = 3;
}

#endif
